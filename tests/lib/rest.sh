# rest.sh: what the rest_* cases share: the call set-up (calls.sh's PostgreSQL, webhook recorder
# and dialerd), the npm helper libraries, a TLS endpoint in front of dialerd for a client that
# only speaks https, and the checks of one REST call scenario on the wire, in the webhooks and in
# the call log. Source after common.sh and dlr_init.

. "$TOP/tests/lib/calls.sh"

# rest_init: calls_init, the routes of tests/lib/rest_client.js's scenario, dialerd started
rest_init() {
	calls_init
	cat >"$WORK/routes.json" <<'JSON'
{"/answer": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"2\"/><Hangup/></Response>"},
 "/long": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"30\"/><Hangup/></Response>"},
 "/moved": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
	calls_start
}

# rest_node_libs: node and tests/helperlibs' twilio@6.2.0 and @signalwire/compatibility-api@3.2.0
# (npm ci from the committed lockfile when missing), or the case is skipped
rest_node_libs() {
	command -v node >/dev/null || skip "node is missing (apt-get install nodejs npm)"
	_libs=$TOP/tests/helperlibs
	_ok() {
		(cd "$_libs" && node -e '
			const t = require("./node_modules/twilio/package.json").version;
			const s = require("./node_modules/@signalwire/compatibility-api/package.json").version;
			process.exit(t === "6.2.0" && s === "3.2.0" ? 0 : 1);' 2>/dev/null)
	}
	_ok && return 0
	command -v npm >/dev/null || skip "npm is missing: cannot install the helper libraries"
	(cd "$_libs" && timeout 600 npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) ||
		skip "npm ci in tests/helperlibs failed: $(tail -3 "$WORK/npm.log" | tr '\n' ' ')"
	_ok || skip "npm ci did not install twilio@6.2.0 and @signalwire/compatibility-api@3.2.0"
}

# rest_tls_proxy: a throwaway certificate for 127.0.0.1 and socat terminating TLS on
# REST_TLS_PORT in front of dialerd's HTTP listener; node trusts the certificate through
# NODE_EXTRA_CA_CERTS (node's own documented variable), nothing in the client is patched
rest_tls_proxy() {
	command -v socat >/dev/null || skip "socat is missing (apt-get install socat)"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" \
		>"$WORK/openssl.log" 2>&1 || harness_error "openssl could not make a certificate"
	REST_TLS_PORT=$(free_port)
	socat "OPENSSL-LISTEN:$REST_TLS_PORT,bind=127.0.0.1,reuseaddr,fork,cert=$WORK/tls.crt,key=$WORK/tls.key,verify=0" \
		"TCP:$DIALERD_HTTP_LISTEN" >"$WORK/socat.log" 2>&1 &
	dlr_track $!
	dial_wait_port tcp "$REST_TLS_PORT"
	NODE_EXTRA_CA_CERTS=$WORK/tls.crt
	export NODE_EXTRA_CA_CERTS REST_TLS_PORT
}

# rest_client_run LIB BASE: tests/lib/rest_client.js against a fresh SIPp UAS (three calls);
# sets REST_FIRST, REST_SECOND, REST_THIRD
rest_client_run() {
	_uas=$(free_port)
	sipp_start uas uas_rest.xml -i 127.0.0.1 -p "$_uas" -m 3
	dial_wait_port udp "$_uas"
	timeout 120 node "$TOP/tests/lib/rest_client.js" "$1" "$2" "$DIALERD_ACCOUNT_SID" \
		"$DIALERD_AUTH_TOKEN" "$_uas" "$WH" >"$WORK/client.out" 2>&1
	_rc=$?
	cat "$WORK/client.out"
	assert_eq "$_rc" 0 "$1: every check of the client passed"
	REST_FIRST=$(sed -n 's/^first //p' "$WORK/client.out")
	REST_SECOND=$(sed -n 's/^second //p' "$WORK/client.out")
	REST_THIRD=$(sed -n 's/^third //p' "$WORK/client.out")
	sipp_wait uas 20
	assert_eq "$?" 0 "far end: three calls challenged, authenticated, answered, hung up"
}

# rest_check_wire: the first call's INVITEs as SIPp saw them
rest_check_wire() {
	_m=$(sipp_msg uas)
	assert_eq "$(printf '%s' "$_m" | grep -c '^INVITE sip:bob@127.0.0.1')" 6 \
		"six INVITEs: three calls, each challenged once"
	assert_match "$_m" 'X-Customer: 42' "the To URI's header is on the INVITE"
	assert_match "$_m" 'X-Note: a b' "percent-decoded"
	assert_match "$_m" "X-Twilio-CallSid: $REST_FIRST" "the INVITE carries the call's SID"
	assert_match "$_m" "X-Twilio-AccountSid: $DIALERD_ACCOUNT_SID" "and the account"
	assert_match "$_m" 'From: <sip:\+15550100@' "From user from the From parameter"
	assert_match "$_m" 'Authorization: Digest username="alice"' "digest credentials answered the 401"
	assert_match "$_m" 'Reason: SIP;cause=200;text="Call completed via API"' \
		"the API hang-up's BYE says why"
	printf '%s' "$_m" | grep -q 'secret' && fail "the password crossed the wire"
	pass "the password never crossed the wire (digest only)"
}

# rest_check_webhooks: one voice request per call, callbacks in order, and every request
# validates with python3-twilio, twilio-node and SignalWire's validator
rest_check_webhooks() {
	_d=$(( $(date +%s) + 20 ))
	while [ "$(grep -c '"path": "/status"' "$WORK/requests.log")" -lt 12 ]; do
		[ "$(date +%s)" -le $_d ] ||
			fail "status callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log") of 12"
		sleep 0.1
	done
	/usr/bin/python3 - "$WORK/requests.log" "$REST_FIRST" "$REST_SECOND" "$REST_THIRD" <<'PY' ||
import json, sys
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] != "/ping"]
first, second, third = sys.argv[2:5]
def form(r): return dict(r["form"] or [])
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
ans = [form(r) for r in reqs if r["path"] == "/answer"]
check(len(ans) == 1 and ans[0]["CallSid"] == first and ans[0]["Direction"] == "outbound-api"
      and ans[0]["CallStatus"] == "in-progress", "answer: the first call, outbound-api, in-progress")
moved = [form(r) for r in reqs if r["path"] == "/moved"]
check(len(moved) == 1 and moved[0]["CallSid"] == third, "/moved fetched once, for the third call")
for sid in (first, second, third):
    st = [form(r) for r in reqs if r["path"] == "/status" and form(r)["CallSid"] == sid]
    check([s["CallStatus"] for s in st] == ["initiated", "ringing", "in-progress", "completed"],
          "%s: callbacks in order: %s" % (sid, [s["CallStatus"] for s in st]))
    check([s["SequenceNumber"] for s in st] == ["0", "1", "2", "3"], "%s: SequenceNumber 0..3" % sid)
sys.exit(1 if bad else 0)
PY
		fail "webhooks: see above"
	pass "webhooks as expected"
	calls_signatures_ok
	node "$TOP/tests/lib/validate_sig.js" --token "$DIALERD_AUTH_TOKEN" --path /answer \
		--path /long --path /moved --path /status "$WORK/requests.log" \
		>"$WORK/sig_node.out" 2>&1
	_rc=$?
	grep -v '^ok' "$WORK/sig_node.out" | head -5
	assert_eq "$_rc" 0 "twilio-node and SignalWire validators accept all $(grep -c '^ok - twilio-node' "$WORK/sig_node.out") requests"
}

# rest_check_db [N]: once dialerd stopped, the rows of the N calls (default 3) of
# rest_client_run
rest_check_db() {
	_n=${1:-3}
	stop_dialerd TERM
	assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
	_q() { psql -At "$DATABASE_URL" -c "$1"; }
	assert_eq "$(_q "select count(*) from calls where direction = 'outbound-api'")" "$_n" \
		"$_n outbound-api calls in the log"
	assert_eq "$(_q "select count(*) from calls where status = 'completed'
		and to_addr ~ '^sip:bob@127[.]0[.]0[.]1:[0-9]+$' and from_addr = '+15550100'")" "$_n" \
		"rows: completed, To without headers, From as given"
	assert_eq "$(_q "select count(*) from calls where answered_at is not null and ended_at >= answered_at
		and duration between 0 and 4 and sip_call_id is not null")" "$_n" "answered, ended, timed"
	assert_eq "$(_q "select count(*) from call_events where call_sid = '$REST_SECOND' and event = 'api-hangup'")" 1 \
		"the hung-up call has an api-hangup event"
	assert_eq "$(_q "select count(*) from sip_headers h join sip_messages m on m.call_sid = h.call_sid
		and m.seq = h.msg_seq where h.call_sid = '$REST_FIRST' and m.direction = 'out'
		and m.method = 'INVITE' and h.name = 'X-Customer' and h.value = '42'")" 2 \
		"both INVITEs of the first call logged with X-Customer"
	assert_eq "$(_q "select count(*) from sip_headers h join sip_messages m on m.call_sid = h.call_sid
		and m.seq = h.msg_seq where h.call_sid = '$REST_FIRST' and m.direction = 'in'
		and h.name = 'X-Answer-Id'")" 1 "the 200's X- header is in the log"
	_q "select encode(headers, 'escape') from sip_messages" | grep -q secret &&
		fail "the password is in the call log"
	pass "no password in the call log"
	assert_eq "$(_q "select count(*) from webhook_requests where kind = 'status-callback'
		and response_status = 204")" $((_n * 4)) "$((_n * 4)) status callbacks logged as delivered"
}
