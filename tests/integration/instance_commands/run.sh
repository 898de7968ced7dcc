#!/bin/sh
# instance_commands: REST across instances with Debian's python3-twilio. Instance alpha owns the
# calls (created there, dialled to a SIPp UAS that answers and waits for the BYE); instance beta,
# on the same PostgreSQL, is asked about them. beta sends each fetch, update and delete to alpha as
# a call_commands row with a NOTIFY, alpha applies it and beta answers with alpha's answer:
# Status=completed through beta ends the call on alpha (SIPp sees the BYE), a second one is the
# vendors' 21220, a DELETE through beta hides the finished call. Drills: alpha stopped (SIGSTOP):
# an update through beta answers 504 after 5 s while alpha's heartbeat is fresh, 503 at once once
# it is stale, and after SIGCONT the expired command is never applied (the call is still up);
# alpha's database connections terminated while it is stopped: a command sent meanwhile is found
# by alpha's scan after it reconnects and applied. Prints the cross-instance latency (p50, p99)
# of 200 fetches and 50 updates (Url redirects) through beta.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cat >"$WORK/routes.json" <<JSON
{"/long": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"120\"/><Hangup/></Response>"},
 "/again": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"120\"/><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
export DIALERD_SHUTDOWN_TIMEOUT=2
BASE_URL=$DIALERD_DATABASE_URL
DIALERD_INSTANCE=alpha DIALERD_DATABASE_URL="$BASE_URL?application_name=dialerd-alpha" calls_start
A_URL=$DIALERD_URL
A_PID=$DIALERD_PID
B_URL=http://127.0.0.1:$(free_port)
mkdir -p "$WORK/beta"
DIALERD_INSTANCE=beta DIALERD_DATA_DIR="$WORK/beta" DIALERD_HTTP_LISTEN="${B_URL#http://}" \
	DIALERD_SIP_LISTEN="127.0.0.1:$(free_port)" "$DIALERD" >>"$WORK/beta.log" 2>&1 &
B_PID=$!
dlr_track $B_PID
wait_http "$B_URL/health" 15 || fail "beta did not start: $(cat "$WORK/beta.log")"
UAS=$(free_port)
sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 10
dial_wait_port udp "$UAS"

# py SCRIPT: runs python3-twilio code with ca (alpha), cb (beta), create(), wait_status(), check()
py() {
	/usr/bin/python3 - "$A_URL" "$B_URL" "$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" "$UAS" "$WH" "$@" <<PY
import sys, time
from twilio.rest import Client
from twilio.base.exceptions import TwilioRestException
a_url, b_url, sid, token, uas, wh = sys.argv[1:7]
args = sys.argv[7:]
ca = Client(sid, token); ca.api.base_url = a_url
cb = Client(sid, token); cb.api.base_url = b_url
hook = "http://127.0.0.1:%s" % wh
def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)
def create():
    return ca.calls.create(to="sip:bob@127.0.0.1:%s" % uas, from_="+15550100", url=hook + "/long",
        status_callback=hook + "/status", timeout=20)
def wait_status(c, sid_, want, secs):
    end = time.time() + secs
    while time.time() < end:
        s = c.calls(sid_).fetch().status
        if s in want:
            return s
        time.sleep(0.05)
    return c.calls(sid_).fetch().status
$(cat)
PY
}

py >"$WORK/basic.out" 2>&1 <<'PY'
c = create()
check(c.sid[2:6] == "0001", "the call's SID names alpha (id 1): " + c.sid)
check(wait_status(ca, c.sid, ("in-progress",), 15) == "in-progress", "answered on alpha")
f = cb.calls(c.sid).fetch()
check(f.sid == c.sid and f.status == "in-progress", "fetch through beta: alpha's live view (%s)" % f.status)
u = cb.calls(c.sid).update(status="completed")
check(u.sid == c.sid, "Status=completed through beta: answered with the call (%s)" % u.status)
check(wait_status(ca, c.sid, ("completed",), 10) == "completed", "the call completed on alpha")
try:
    cb.calls(c.sid).update(status="completed")
    check(False, "a second update through beta: refused")
except TwilioRestException as e:
    check(e.status == 400 and e.code == 21220, "a second update through beta: 400 21220 (%s %s)" % (e.status, e.code))
check(cb.calls(c.sid).delete() is True, "DELETE through beta of the finished call: 204")
try:
    ca.calls(c.sid).fetch()
    check(False, "hidden on alpha too")
except TwilioRestException as e:
    check(e.status == 404, "hidden on alpha too: 404")
print("sid1=" + c.sid)

# latency: fetches and redirects of a live call of alpha through beta
c2 = create()
check(wait_status(ca, c2.sid, ("in-progress",), 15) == "in-progress", "second call answered on alpha")
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
ft = []
for i in range(200):
    t = time.time(); x = cb.calls(c2.sid).fetch(); ft.append((time.time() - t) * 1000)
    assert x.status == "in-progress"
lt = []
for i in range(200):
    t = time.time(); x = ca.calls(c2.sid).fetch(); lt.append((time.time() - t) * 1000)
ut = []
for i in range(50):
    t = time.time(); cb.calls(c2.sid).update(url=hook + "/again", method="POST"); ut.append((time.time() - t) * 1000)
print("# fetch through beta (owner alpha): p50 %.1f ms, p99 %.1f ms (200)" % (pct(ft, .5), pct(ft, .99)))
print("# fetch on alpha itself:            p50 %.1f ms, p99 %.1f ms (200)" % (pct(lt, .5), pct(lt, .99)))
print("# update (Url) through beta:        p50 %.1f ms, p99 %.1f ms (50)" % (pct(ut, .5), pct(ut, .99)))
check(cb.calls(c2.sid).update(status="completed").sid == c2.sid, "second call ended through beta")
PY
cat "$WORK/basic.out"
grep -q '^not ok' "$WORK/basic.out" && fail "python3-twilio across instances"
grep -q '^ok - DELETE through beta' "$WORK/basic.out" || fail "the client did not finish: $(tail -n 5 "$WORK/basic.out")"
assert_eq "$(q "select count(*) from call_commands where state = 'done'")" \
	"$(q "select count(*) from call_commands")" "every command was applied once (state done)"
assert_eq "$(q "select count(distinct requested_by || '>' || target_instance) from call_commands")" 1 \
	"all of them from beta to alpha"

# SIGSTOP of alpha: 504 after 5 s while its heartbeat is fresh, 503 at once once it is stale;
# the expired command is never applied
py >"$WORK/c3.out" 2>&1 <<'PY'
c = create()
check(wait_status(ca, c.sid, ("in-progress",), 15) == "in-progress", "third call answered on alpha")
print("sid3=" + c.sid)
PY
cat "$WORK/c3.out"
SID3=$(sed -n 's/^sid3=//p' "$WORK/c3.out")
[ -n "$SID3" ] || fail "no third call"
upd() { # upd SID FORM: through beta; prints "STATUS MS"
	_t0=$(date +%s%N)
	_c=$(curl -sS -m 20 -o "$WORK/upd.json" -w '%{http_code}' -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
		--data "$2" "$B_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls/$1.json")
	echo "$_c $(( ($(date +%s%N) - _t0) / 1000000 ))"
}
kill -STOP $A_PID
STOP_T=$(date +%s)
set -- $(upd "$SID3" "Status=completed")
assert_eq "$1" 504 "update through beta while alpha is stopped: 504 ($(cat "$WORK/upd.json"))"
[ "$2" -ge 4500 ] && [ "$2" -le 9000 ] || fail "the 504 came after $2 ms, not after about 5 s"
pass "after $2 ms"
while [ "$(q "select heartbeat_at < now() - interval '16 s' from instances where name = 'alpha'")" != t ]; do
	[ $(( $(date +%s) - STOP_T )) -le 40 ] || fail "alpha's heartbeat never went stale"
	sleep 0.5
done
set -- $(upd "$SID3" "Status=completed")
assert_eq "$1" 503 "once alpha's heartbeat is stale: 503 ($(cat "$WORK/upd.json"))"
[ "$2" -le 1500 ] || fail "the 503 took $2 ms"
pass "at once ($2 ms), naming alpha: $(grep -o 'instance alpha[^,]*' "$WORK/upd.json" | head -n 1)"
kill -CONT $A_PID
sleep 3
assert_eq "$(q "select state from call_commands where call_sid = '$SID3'")" expired \
	"the command of the 504 is expired, not applied late"
assert_eq "$(curl -sS -m 5 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
	"$A_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls/$SID3.json" | grep -o '"status":"[a-z-]*"')" \
	'"status":"in-progress"' "the call is still up on alpha after SIGCONT"

# alpha's connections terminated while it is stopped: the command beta sends meanwhile reaches
# it only through the scan after its reconnect
_d=$(( $(date +%s) + 20 ))
until [ "$(q "select heartbeat_at > now() - interval '6 s' from instances where name = 'alpha'")" = t ]; do
	[ "$(date +%s)" -le $_d ] || fail "alpha does not heartbeat after SIGCONT"
	sleep 0.2
done
kill -STOP $A_PID
n=$(q "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'dialerd-alpha'")
[ "$n" -ge 1 ] || fail "no connection of alpha to terminate"
pass "terminated $n connections of alpha"
upd "$SID3" "Status=completed" >"$WORK/upd4" &
UPD=$!
sleep 1.5
kill -CONT $A_PID
wait $UPD
set -- $(cat "$WORK/upd4")
assert_eq "$1" 200 "the update sent while alpha was disconnected: 200 after its reconnect and scan ($2 ms)"
calls_wait_q completed 10 "select status from calls where sid = '$SID3'"
pass "the third call completed"
assert_eq "$(q "select count(*) from call_commands where call_sid = '$SID3' and state = 'done'")" 1 \
	"its command applied once"
grep -q "LISTEN" "$WORK/dialerd.log" && fail "a LISTEN failed: $(grep LISTEN "$WORK/dialerd.log" | head -n 1)"
m=$(curl -sS -m 5 "$B_URL/metrics")
assert_match "$m" 'dialerd_remote_commands_total\{kind="update",result="timeout"\} 1' "beta counted the 504"
assert_match "$m" 'dialerd_remote_commands_total\{kind="update",result="owner_down"\} 1' "and the 503"
kill -TERM $B_PID; wait $B_PID
assert_eq "$?" 0 "beta stopped cleanly"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "alpha stopped cleanly"
