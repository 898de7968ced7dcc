#!/bin/sh
# call_kill9_restart: dialerd killed with SIGKILL and started again on its folder (what a
# supervisor does after a crash). Three REST calls are up when it dies: A answered and
# subscribed to every status event, B answered with the default subscription (completed only:
# nothing was sent for it yet), C ringing and subscribed to every event. The new process ends
# them before it locks the folder (A and B completed, ended at its last heartbeat, C failed, reason
# instance-restarted, one final call_events row each) and its outbox delivers one terminal
# callback per call with the next SequenceNumber, signed. It then takes calls: D is created,
# answered, and survives a second SIGKILL only in the log: the next start ends D alone and
# sends nothing again for A, B and C.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
RING=$(free_port)
calls_hold_routes
calls_start
FIRST=$DIALERD_PID

status_of() { q "select status || ' ' || coalesce(reason_text, '-') from calls where sid = '$1'"; }
# restart: SIGKILL, then the same daemon on the same folder
restart() {
	KILLED=$(date -u '+%Y-%m-%d %H:%M:%S.%6N+00')
	kill -KILL "$DIALERD_PID"
	wait "$DIALERD_PID" 2>/dev/null
	calls_start
}

sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 3
sipp_start ring uas_ring_cancel.xml -i 127.0.0.1 -p "$RING" -m 1
dial_wait_port udp "$UAS"
dial_wait_port udp "$RING"
A=$(calls_create "$UAS" "initiated ringing answered completed")
B=$(calls_create "$UAS" "")
C=$(calls_create "$RING" "initiated ringing answered completed")
[ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] || fail "create: A=$A B=$B C=$C"
calls_wait_q "in-progress in-progress ringing" 20 "select string_agg(status, ' ' order by
	array_position(array['$A', '$B', '$C'], sid)) from calls where sid in ('$A', '$B', '$C')"
# A: initiated, ringing, answered; C: initiated, ringing
calls_wait_requests /status 5 15 || fail "progress callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log")"
pass "A and B answered, C ringing, 5 progress callbacks delivered"

restart
[ "$DIALERD_PID" != "$FIRST" ] || harness_error "no new process"
wait_log "the previous process of instance" 10 "the new process says the previous one did not stop"
calls_wait_q "completed instance-restarted|completed instance-restarted|failed instance-restarted" 15 \
	"select string_agg(status || ' ' || reason_text, '|' order by array_position(array['$A', '$B', '$C'], sid))
	from calls where sid in ('$A', '$B', '$C')"
pass "A and B completed, C failed, reason instance-restarted"
assert_eq "$(q "select count(*) from calls where sid in ('$A', '$B') and ended_at >= answered_at
	and ended_at <= '$KILLED' and duration = ceil(extract(epoch from ended_at - answered_at))")" 2 \
	"the answered calls end at the old process's last heartbeat (before the kill), duration to it"
assert_eq "$(q "select count(*) from call_events where call_sid in ('$A', '$B', '$C')
	and event in ('completed', 'failed') and detail->>'reason' = 'instance-restarted'")" 3 \
	"one final call_events row each"
calls_wait_requests /status 8 15 || fail "terminal callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log") of 8"
final_callbacks_ok 3 0 \
	"one final callback per call, SequenceNumber without gaps or duplicates"
assert_eq "$(python3 - "$WORK/requests.log" "$A" "$B" "$C" <<'PY'
import json, sys
last = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == "/status" and r["status"] == 204:
        f = dict(r["form"])
        last[f["CallSid"]] = f["CallStatus"] + ":" + f["SequenceNumber"]
print(" ".join(last.get(s, "-") for s in sys.argv[2:]))
PY
)" "completed:3 completed:0 failed:2" "A's is its 4th, B's its first, C's its 3rd"
calls_signatures_ok
assert_eq "$(q "select state || ' ' || (pid = $DIALERD_PID) from instances")" "active true" \
	"the registry row is the new process's, active"

# the new process takes calls; killed again, the next start ends only D
D=$(calls_create "$UAS" "")
[ -n "$D" ] || fail "create D after the restart"
calls_wait_q in-progress 20 "select status from calls where sid = '$D'"
pass "D answered on the new process"
restart
calls_wait_q "completed instance-restarted" 15 "select status || ' ' || reason_text from calls where sid = '$D'"
pass "after a second SIGKILL D completed, reason instance-restarted"
calls_wait_requests /status 9 15 || fail "D's terminal callback"
sleep 1
final_callbacks_ok 4 0 \
	"A, B and C got nothing more; D one final callback"
assert_eq "$(q "select count(*) from call_events where detail->>'reason' = 'instance-restarted'")" 4 \
	"4 final events in all"
assert_eq "$(stat -c %s "$WORK/data/store.journal" 2>/dev/null || echo 0)" 0 "the journal is empty"
