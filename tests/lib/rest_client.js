// rest_client.js: the REST cases' call scenario through an npm helper library, unchanged
//
//   node rest_client.js twilio-node|signalwire BASE SID TOKEN UAS WH
//
// twilio-node 6.2.0: Twilio(SID, TOKEN) with client.api.baseUrl = BASE (an http:// URL: the
// library takes its domain's base URL as given, as python3-twilio's base_url).
// signalwire: @signalwire/compatibility-api 3.2.0's RestClient(SID, TOKEN, {signalwireSpaceUrl:
// BASE}); the library always prefixes https:// to the space URL, so BASE is host:port[/path] of
// a TLS endpoint the caller trusts through NODE_EXTRA_CA_CERTS (see tests/lib/rest.sh).
//
// Creates a call to the SIPp UAS on UAS with a sip: To carrying X- headers and digest
// credentials, fetches it while it rings, once answered and after its end; hangs up a second
// live call (Status=completed) and redirects a third (Url=WH/moved); asks for an unknown SID.
// Prints "ok - ..." / "not ok - ..." per check, "first|second|third SID" for the shell, and
// exits 1 when a check failed.
"use strict";
const path = require("path");

const modules = path.join(__dirname, "..", "helperlibs", "node_modules");
const [lib, base, sid, token, uas, wh] = process.argv.slice(2);

let client, prefix;
if (lib === "twilio-node") {
	const twilio = require(path.join(modules, "twilio"));
	client = twilio(sid, token);
	client.api.baseUrl = base;
	prefix = "";
} else if (lib === "signalwire") {
	const { RestClient } = require(path.join(modules, "@signalwire/compatibility-api"));
	client = RestClient(sid, token, { signalwireSpaceUrl: base });
	prefix = base.includes("/api/laml") ? "/api/laml" : "";
} else {
	console.error("usage: node rest_client.js twilio-node|signalwire BASE SID TOKEN UAS WH");
	process.exit(2);
}

let bad = 0;
function check(cond, what) {
	console.log((cond ? "ok - " : "not ok - ") + lib + ": " + what);
	if (!cond) bad++;
}
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const hook = "http://127.0.0.1:" + wh;
const to = `sip:bob@127.0.0.1:${uas}?X-Customer=42&X-Note=a%20b`;

function create(url) {
	return client.calls.create({
		to, from: "+15550100", url: hook + url,
		statusCallback: hook + "/status",
		statusCallbackEvent: ["initiated", "ringing", "answered", "completed"],
		sipAuthUsername: "alice", sipAuthPassword: "secret", timeout: 20,
	});
}

async function wait(callSid, want, secs) {
	const end = Date.now() + secs * 1000;
	let c;
	do {
		c = await client.calls(callSid).fetch();
		if (want.includes(c.status)) return c;
		await sleep(50);
	} while (Date.now() < end);
	return c;
}

async function main() {
	const c = await create("/answer");
	check(/^CA[0-9a-f]{32}$/.test(c.sid), "create: a call SID " + c.sid);
	check(c.status === "queued", `create: status queued (${c.status})`);
	check(c.direction === "outbound-api", "create: direction outbound-api");
	check(c.to === `sip:bob@127.0.0.1:${uas}`, "create: to is the URI without its headers: " + c.to);
	check(c.from === "+15550100", "create: from as given");
	check(c.apiVersion === "2010-04-01", "create: apiVersion");
	check(c.accountSid === sid, "create: accountSid");
	check(c.uri === `${prefix}/2010-04-01/Accounts/${sid}/Calls/${c.sid}.json`,
		"create: uri under the prefix the client used: " + c.uri);
	check(c.price === null && c.endTime === null && c.duration === null,
		"create: unknown fields are null");
	check(c.dateCreated instanceof Date && !isNaN(c.dateCreated), "create: dateCreated parses as a date");

	const r = await wait(c.sid, ["ringing"], 10);
	check(r.status === "ringing", "fetch while ringing: ringing");
	check(r.startTime instanceof Date && !isNaN(r.startTime), "fetch while ringing: startTime set");
	check(r.endTime === null, "fetch while ringing: no endTime");
	const a = await wait(c.sid, ["in-progress"], 10);
	check(a.status === "in-progress", "fetch after the answer: in-progress");
	const e = await wait(c.sid, ["completed"], 15);
	check(e.status === "completed", "fetch after the end: completed");
	check(e.duration !== null && +e.duration >= 1 && +e.duration <= 4, `duration ${e.duration} s`);
	check(e.endTime instanceof Date && e.endTime >= e.startTime, "endTime after startTime");
	check(e.sid === c.sid && e.to === c.to, "the fetched call is the created one");
	console.log("first " + c.sid);

	const c2 = await create("/long");
	await wait(c2.sid, ["in-progress"], 10);
	const u = await client.calls(c2.sid).update({ status: "completed" });
	check(u.sid === c2.sid, "update Status=completed answers with the call");
	const e2 = await wait(c2.sid, ["completed"], 10);
	check(e2.status === "completed", "the hung-up call is completed");
	console.log("second " + c2.sid);

	const c3 = await create("/long");
	await wait(c3.sid, ["in-progress"], 10);
	const u3 = await client.calls(c3.sid).update({ url: hook + "/moved", method: "POST" });
	check(u3.sid === c3.sid && u3.status === "in-progress", "update Url answers with the live call");
	const e3 = await wait(c3.sid, ["completed"], 10);
	check(e3.status === "completed", "the redirected call ran /moved and hung up");
	console.log("third " + c3.sid);

	try {
		await client.calls("CA" + "0".repeat(32)).fetch();
		check(false, "unknown SID: refused");
	} catch (x) {
		check(x.status === 404 && x.code === 20404, `unknown SID: 404 20404 (${x.status} ${x.code})`);
	}
	try {
		await client.calls(c.sid).update({ status: "completed" });
		check(false, "update of a finished call: refused");
	} catch (x) {
		check(x.status === 400 && x.code === 21220, `update of a finished call: 400 21220 (${x.status} ${x.code})`);
	}
}

main().then(() => process.exit(bad ? 1 : 0), (err) => {
	console.log(`not ok - ${lib}: unexpected error: ${err && err.stack ? err.stack : err}`);
	process.exit(1);
});
