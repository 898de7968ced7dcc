// gen.js LIB CASES OUTDIR: build each case with twilio (npm) or @signalwire/compatibility-api
const fs = require("fs");
const path = require("path");
const [lib, casesPath, out] = process.argv.slice(2);
const modules = path.join(__dirname, "..", "..", "helperlibs", "node_modules");
let VoiceResponse;
if (lib === "twilio-node")
	VoiceResponse = require(path.join(modules, "twilio")).twiml.VoiceResponse;
else
	VoiceResponse = require(path.join(modules, "@signalwire/compatibility-api")).RestClient.LaML.VoiceResponse;
for (const c of JSON.parse(fs.readFileSync(casesPath, "utf8"))) {
	const r = new VoiceResponse();
	for (const v of c.verbs) {
		if (v.verb === "dial") {
			const d = r.dial(v.attrs || {});
			for (const n of v.nouns) {
				if (n.noun === "sip")
					d.sip(n.attrs, n.body);
				else
					d.number(n.attrs, n.body);
			}
		} else if (v.verb === "say") {
			r.say({}, v.body);
		} else if (v.verb === "hangup") {
			r.hangup();
		}
	}
	fs.writeFileSync(path.join(out, c.name + ".xml"), r.toString());
}
