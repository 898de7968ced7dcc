#!/bin/sh
# instance_drain: SIGTERM drains: the registry row says draining at once, SIP OPTIONS and a new
# INVITE get 503, /health 503 "draining", a REST create 503 with error JSON while a fetch of the
# live call still answers; the bridged call completes on its own before shutdown_timeout, then
# state stopped and exit 0. SIGUSR1 drains without a deadline: the daemon outlives
# shutdown_timeout and exits only when its last call ends (here through a REST update, which
# works while draining).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
export DIALERD_INSTANCE=drainer

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"}}
JSON
export DIALERD_SHUTDOWN_TIMEOUT=30
calls_start

# options: one out-of-dialog OPTIONS over UDP; prints the status line of the answer
options() {
	python3 - "$SIPPORT" <<'PY'
import socket, sys, random
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lp = s.getsockname()[1]
tag = "%08x" % random.getrandbits(32)
msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
       "Max-Forwards: 70\r\n"
       "From: <sip:probe@127.0.0.1>;tag=%s\r\n"
       "To: <sip:127.0.0.1:%d>\r\n"
       "Call-ID: probe-%s@127.0.0.1\r\n"
       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n") % (port, lp, tag, tag, port, tag)
s.settimeout(2)
s.sendto(msg.encode(), ("127.0.0.1", port))
try:
    print(s.recv(4096).decode(errors="replace").split("\r\n")[0])
except socket.timeout:
    print("no answer")
PY
}
health() { curl -sS -m 5 -o "$WORK/health.json" -w '%{http_code}' "$DIALERD_URL/health"; }
api() { # api METHOD PATH [FORM...]: prints "BODY STATUS"
	_m=$1 _p=$2
	shift 2
	curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -X "$_m" "$@" \
		-w ' %{http_code}' "$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/$_p"
}
# call SCENARIO [DELAY_MS]: a caller through dialerd to the SIPp target; both up when it returns
call() {
	sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
	dial_wait_port udp "$UAS"
	sipp_start uac "$1" "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 ${2:+-d "$2"}
	calls_wait_q 2 15 "select count(*) from calls where status = 'in-progress'"
}

assert_eq "$(options)" "SIP/2.0 200 OK" "OPTIONS before the drain: 200"
assert_eq "$(health)" 200 "/health before the drain: 200"
call call_uac.xml 8000
pass "a bridged call is up (the caller hangs up after 8 s)"
PARENT=$(q "select sid from calls where direction = 'inbound'")

t0=$(date +%s)
kill -TERM "$DIALERD_PID"
calls_wait_q draining 5 "select state from instances where name = 'drainer'"
pass "SIGTERM: the registry row says draining at once"
assert_eq "$(options)" "SIP/2.0 503 Service Unavailable" "OPTIONS while draining: 503"
sipp_start late call_uac_rejected.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait late 10
assert_eq "$?" 0 "a new INVITE is refused"
assert_match "$(sipp_msg late)" 'SIP/2.0 503 ' "with 503"
assert_eq "$(health)" 503 "/health while draining: 503"
assert_match "$(curl -sS -m 5 "$DIALERD_URL/metrics")" 'dialerd_instance_accepting 0' \
	"/metrics: dialerd_instance_accepting 0"
assert_match "$(cat "$WORK/health.json")" '"status":"draining"' "saying draining"
out=$(api POST Calls.json --data-urlencode "To=sip:bob@127.0.0.1:$UAS" \
	--data-urlencode "From=+15550100" --data-urlencode "Url=http://127.0.0.1:$WH/voice")
assert_match "$out" ' 503$' "a REST create while draining: 503"
assert_match "$out" '"code":20503' "with Twilio error JSON (20503)"
assert_match "$out" 'draining' "saying draining"
out=$(api GET "Calls/$PARENT.json")
assert_match "$out" '"status":"in-progress"' "a fetch of the live call still answers"
assert_match "$out" ' 200$' "with 200"

sipp_wait uac 30
assert_eq "$?" 0 "the caller hung up on its own"
sipp_wait uas 15
assert_eq "$?" 0 "the target got its BYE"
wait "$DIALERD_PID"
assert_eq "$?" 0 "the daemon exited 0"
el=$(( $(date +%s) - t0 ))
[ "$el" -lt 25 ] || fail "the drain took $el s: not ended by the call's own end"
pass "it exited when the call ended ($el s, shutdown_timeout 30 s)"
assert_eq "$(q "select direction || ':' || status from calls order by direction")" "inbound:completed
outbound-dial:completed" "both legs completed in the call log"
if sipp_msg uac | grep -q 'Shutting down'; then
	fail "the call was ended by the daemon, not by the caller"
fi
assert_eq "$(q "select state from instances where name = 'drainer'")" stopped "state stopped"
for step in 'no new work accepted' 'state draining' 'in-flight work done' 'state stopped' 'exiting'; do
	grep -q "$step" "$WORK/dialerd.log" || fail "the log lacks '$step'"
done
pass "each step is logged"

# SIGUSR1: no deadline; the call ends through a REST update during the drain
export DIALERD_SHUTDOWN_TIMEOUT=2
calls_start
assert_eq "$(options)" "SIP/2.0 200 OK" "restarted: OPTIONS 200 again"
call call_uac_hungup.xml
PARENT=$(q "select sid from calls where direction = 'inbound' and status = 'in-progress'")
kill -USR1 "$DIALERD_PID"
calls_wait_q draining 5 "select state from instances where name = 'drainer'"
pass "SIGUSR1: draining"
assert_eq "$(options)" "SIP/2.0 503 Service Unavailable" "OPTIONS 503"
sleep 4
kill -0 "$DIALERD_PID" 2>/dev/null || fail "the daemon exited before its call ended"
pass "still running past shutdown_timeout (2 s) with the call up"
out=$(api POST "Calls/$PARENT.json" --data-urlencode "Status=completed")
assert_match "$out" ' 200$' "a REST update while draining: 200"
sipp_wait uac 30
assert_eq "$?" 0 "the caller got its BYE"
sipp_wait uas 15
assert_eq "$?" 0 "the target got its BYE"
wait "$DIALERD_PID"
assert_eq "$?" 0 "then the daemon exited 0"
if sipp_msg uac | grep -q 'Shutting down'; then
	fail "the call was ended by the drain, not by the update"
fi
pass "the call ended by the update, not by the drain"
assert_eq "$(q "select count(*) from calls where status = 'completed'")" 4 "all four legs completed"
assert_eq "$(q "select state from instances where name = 'drainer'")" stopped "state stopped"
