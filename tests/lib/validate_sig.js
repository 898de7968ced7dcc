// validate_sig.js: checks the signature of every request recorded by webhook.py
// with twilio-node 6.2.0 and @signalwire/compatibility-api 3.2.0 (installed in
// tests/helperlibs/node_modules by npm ci).
//
//   node validate_sig.js [--token T] [--base URL] [--path P]... LOG
//
// LOG is webhook.py's JSON-lines log. The URL given to the validators is BASE
// (default: http:// + the request's Host header) + the request target exactly
// as it crossed the wire. POST form parameters come from the recorded body; a
// GET has none. twilio-node: validateRequest(token, X-Twilio-Signature, url,
// params). SignalWire: RestClient.validateExpressRequest(request, token, {url})
// on a request object that offers the recorded headers, so the library picks
// X-SignalWire-Signature (or X-Twilio-Signature) itself, as in an Express app.
// Prints "ok - LIB: ..." / "not ok - LIB: ..." per request per library; exit 0
// when all validated, 1 when one did not, 2 when there was nothing to check.
"use strict";
const fs = require("fs");
const path = require("path");

const modules = path.join(__dirname, "..", "helperlibs", "node_modules");
const twilio = require(path.join(modules, "twilio"));
const signalwire = require(path.join(modules, "@signalwire/compatibility-api"));

let token = "12345";
let base = null;
const paths = [];
let log = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
	if (argv[i] === "--token") token = argv[++i];
	else if (argv[i] === "--base") base = argv[++i];
	else if (argv[i] === "--path") paths.push(argv[++i]);
	else log = argv[i];
}
if (!log) {
	console.error("usage: node validate_sig.js [--token T] [--base URL] [--path P]... LOG");
	process.exit(2);
}

function header(rec, name) {
	for (const [k, v] of rec.headers)
		if (k.toLowerCase() === name.toLowerCase()) return v;
	return undefined;
}

let n = 0, bad = 0;
const lines = fs.readFileSync(log, "utf8").split("\n").filter((l) => l.length);
lines.forEach((line, idx) => {
	const rec = JSON.parse(line);
	if (paths.length && !paths.includes(rec.path)) return;
	const url = (base || "http://" + (header(rec, "Host") || "")) + rec.url;
	const params = {};
	let repeated = false;
	if (rec.method === "POST") {
		for (const [k, v] of new URLSearchParams(rec.body)) {
			if (Object.prototype.hasOwnProperty.call(params, k)) repeated = true;
			params[k] = v;
		}
	}
	const what = `#${idx + 1} ${rec.method} ${url} (${Object.keys(params).length} params)`;
	const results = [];
	if (repeated) {
		results.push(["twilio-node", false, " repeats a parameter name"]);
		results.push(["signalwire-node", false, " repeats a parameter name"]);
	} else {
		results.push(["twilio-node",
			twilio.validateRequest(token, header(rec, "X-Twilio-Signature"), url, params), ""]);
		const req = {
			header: (name) => header(rec, name),
			headers: Object.fromEntries(rec.headers.map(([k, v]) => [k.toLowerCase(), v])),
			body: params,
			originalUrl: rec.url,
			protocol: url.split(":")[0],
		};
		results.push(["signalwire-node",
			signalwire.RestClient.validateExpressRequest(req, token, { url }), ""]);
	}
	for (const [lib, ok, why] of results) {
		n++;
		if (!ok) bad++;
		console.log(`${ok ? "ok" : "not ok"} - ${lib}: ${what}${why}`);
	}
});
if (n === 0) {
	console.log(`not ok - node validators: no request to check in ${log}`);
	process.exit(2);
}
process.exit(bad ? 1 : 0);
