// rest_list.js: rest_list's list queries (tests/lib/rest_list.json) through an npm library
//
//   node rest_list.js twilio-node|signalwire BASE SID TOKEN WORK
//
// BASE as in rest_client.js (twilio-node: an http:// base URL; signalwire: the space URL of a
// TLS endpoint). WORK/calls.json names the calls (rest_list.py setup). Standard filters go
// through calls.list() with the library's own parameter names (Dates serialised by the
// library), dialerd's extensions (SipResponseCode, SipHeader_*) through the client's request().
"use strict";
const fs = require("fs");
const path = require("path");

const modules = path.join(__dirname, "..", "helperlibs", "node_modules");
const [lib, base, sid, token, work] = process.argv.slice(2);
let client, url;
if (lib === "twilio-node") {
	client = require(path.join(modules, "twilio"))(sid, token);
	client.api.baseUrl = base;
	url = base;
} else {
	const { RestClient } = require(path.join(modules, "@signalwire/compatibility-api"));
	client = RestClient(sid, token, { signalwireSpaceUrl: base });
	url = "https://" + base;
}
const ids = JSON.parse(fs.readFileSync(path.join(work, "calls.json"), "utf8"));
const queries = JSON.parse(fs.readFileSync(path.join(__dirname, "rest_list.json"), "utf8"));
const names = {};
for (const k of ["A", "B", "P", "C"]) names[ids[k]] = k;
const typed = {
	To: "to", From: "from", Status: "status", ParentCallSid: "parentCallSid",
	StartTime: "startTime", "StartTime<": "startTimeBefore", "StartTime>": "startTimeAfter",
	EndTime: "endTime", "EndTime<": "endTimeBefore", "EndTime>": "endTimeAfter",
};
const dates = /^\d{4}-\d\d-\d\dT/;
let bad = 0;
function check(cond, what) {
	console.log((cond ? "ok - " : "not ok - ") + lib + ": " + what);
	if (!cond) bad++;
}
const fill = (v) => v.replace(/\{(\w+)\}/g, (_, k) => String(ids[k]));
const show = (sids) => sids.map((s) => names[s] || s).sort();

async function main() {
	const listPath = `/2010-04-01/Accounts/${sid}/Calls.json`;
	for (const [name, p, want] of queries) {
		const params = {};
		for (const [k, v] of Object.entries(p)) params[k] = fill(v);
		let got = null, how;
		try {
			if (Object.keys(params).every((k) => k in typed)) {
				const opts = {};
				for (const [k, v] of Object.entries(params))
					opts[typed[k]] = dates.test(v) ? new Date(v) : v;
				got = (await client.calls.list(opts)).map((c) => c.sid);
				how = "list()";
			} else {
				const r = await client.request({ method: "get", uri: url + listPath, params });
				const body = typeof r.body === "string" ? JSON.parse(r.body) : r.body;
				got = r.statusCode === 200 ? body.calls.map((c) => c.sid) : null;
				how = "request() " + r.statusCode;
			}
		} catch (x) {
			how = `${x.status} ${x.code} ${x.message}`;
		}
		const g = got ? show(got) : null;
		check(JSON.stringify(g) === JSON.stringify([...want].sort()),
			`${name}: ${new URLSearchParams(params)} -> ${JSON.stringify(g)} (${how}, want ${JSON.stringify([...want].sort())})`);
	}
	try {
		// page URIs start at /2010-04-01 on both prefixes: the library appends them to its
		// base URL, which with /api/laml in the space URL already ends in it
		const all = await client.calls.list({ pageSize: 1 });
		check(JSON.stringify(show(all.map((c) => c.sid))) === '["A","B","C","P"]',
			"list({pageSize: 1}) follows the pages: " + JSON.stringify(show(all.map((c) => c.sid))));
		const a = all.find((c) => c.sid === ids.A);
		check(a && a.status === "completed" && a.to === `sip:bob@127.0.0.1:${a.to.split(":")[2]}` &&
			a.from === "+15550100" && a.direction === "outbound-api" && a.endTime instanceof Date,
			"the listed A has its fields");
		const c = all.find((x) => x.sid === ids.C);
		check(c && c.parentCallSid === ids.P && c.direction === "outbound-dial",
			"the listed C is P's outbound-dial child");
	} catch (x) {
		check(false, `list({pageSize: 1}): ${x.status} ${x.code} ${x.message}`);
	}
}

main().then(() => process.exit(bad ? 1 : 0), (err) => {
	console.log(`not ok - ${lib}: unexpected error: ${err && err.stack ? err.stack : err}`);
	process.exit(1);
});
