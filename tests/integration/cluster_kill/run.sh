#!/bin/sh
# cluster_kill: kill -9 of instance b under load (30 calls/s through Kamailio, each bridged to a
# SIPp target and held 2 s). Kamailio marks b down (a branch without any reply, then the OPTIONS
# probes); INVITEs b never answered are moved to a; once b is down every new INVITE goes to a.
# Only INVITEs b had taken (replied to) before it died may fail, all sent to b within the fr_timer
# window (2 s) before the kill. Calls a answered all complete with one final callback each. The
# calls b had answered are lost to the callers and stay open in the call log until `dialerd
# takeover` of b's folder (past b's 15 s heartbeat, with a still running) ends them: then every
# call of a and b has one final row and one final callback, SequenceNumber without gaps.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/cluster.sh"
cluster_init
cluster_uas_start
cluster_dial_doc
cluster_instance_start a 127.0.0.2
cluster_instance_start b 127.0.0.3
cluster_kam_start
A=$(cluster_sip a)
B=$(cluster_sip b)

N=600
cluster_uac uac 30 $N 2000 -trace_msg -message_file "$WORK/uac.msg"
sleep 6
[ "$(q "select count(*) from calls where instance = 'b' and direction = 'inbound'")" -gt 0 ] ||
	fail "b took no calls before the kill"
KILL_T=$(date +%s.%N)
cluster_kill b KILL
_d=$(( $(date +%s) + 15 ))
until grep -q "dst-down.* sip:$B" "$WORK/kamailio.log"; do
	[ "$(date +%s)" -le $_d ] || fail "Kamailio never marked b down: $(cluster_ds_list | tr '\n' ' ')"
	sleep 0.1
done
DOWN_T=$(sed -n "s/.*dialerd: \([0-9.]*\) dst-down.* sip:$B.*/\1/p" "$WORK/kamailio.log" | head -n 1)
pass "Kamailio marked b down $(awk -v d="$DOWN_T" -v k="$KILL_T" "BEGIN { printf \"%.1f\", d - k }") s after the kill"
assert_match "$(cluster_state b)" '^(IP|TP)$' "the dispatcher holds b inactive, probing"
sipp_wait uac 120
cluster_calls uac >"$WORK/calls.txt"
assert_eq "$(wc -l <"$WORK/calls.txt")" "$N" "every call of SIPp is in the trace"

# first dispatched to b after it was marked down: none
assert_eq "$(awk -v b="$B" -v t="$DOWN_T" '$2 == b && $3 > t' "$WORK/calls.txt" | wc -l)" 0 \
	"no INVITE went to b after it was marked down"
moved=$(awk '$7 > 0' "$WORK/calls.txt" | wc -l)
[ "$moved" -gt 0 ] || fail "no INVITE was moved from b to a"
assert_eq "$(awk -v a="$A" '$7 > 0 && !($4 == 200 && $5 == a && $6 == 200)' "$WORK/calls.txt" | wc -l)" 0 \
	"the $moved INVITEs b never answered were moved to a and completed there"
assert_eq "$(awk -v a="$A" '$5 == a && $6 != 200' "$WORK/calls.txt" | wc -l)" 0 \
	"every call a answered ended with a BYE answered 200"
lost_b=$(awk -v b="$B" '$5 == b && $6 != 200' "$WORK/calls.txt" | wc -l)
failed=$(awk '$4 != 200' "$WORK/calls.txt")
nfailed=$(printf '%s' "$failed" | grep -c . || true)
# a failed INVITE: sent to b before the kill, within the fr_timer window, and never moved
bad=$(printf '%s\n' "$failed" | awk -v b="$B" -v k="$KILL_T" \
	'NF && !($2 == b && $3 <= k && $3 > k - 2.5 && $7 == 0)')
assert_eq "$bad" "" "the only failed INVITEs were taken by b in the 2 s before it died"
pass "lost: $nfailed INVITEs b had taken, $lost_b answered calls of b (their BYEs failed); moved to a: $moved"

# the call log and the callbacks of a
_d=$(( $(date +%s) + 20 ))
open_a() { q "select count(*) from calls where instance = 'a' and status not in ('completed','failed','busy','no-answer','canceled')"; }
until [ "$(open_a)" = 0 ]; do
	[ "$(date +%s)" -le $_d ] || fail "calls of a still open: $(open_a)"
	sleep 0.2
done
pass "every call of a ended in the call log"
na=$(awk -v a="$A" '$5 == a' "$WORK/calls.txt" | wc -l)
assert_eq "$(q "select count(*) from calls where instance = 'a' and direction = 'inbound' and status = 'completed'")" "$na" \
	"each of the $na calls a answered is completed under a"
assert_eq "$(q "select count(*) - count(distinct sid) from calls")" 0 "no duplicate call rows"
q "select sid from calls where instance = 'a'" | sort >"$WORK/a.sids"
_d=$(( $(date +%s) + 20 ))
cb_a() {
	python3 - "$WORK/requests.log" "$WORK/a.sids" <<'PY'
import json, sys, collections
sids = set(open(sys.argv[2]).read().split())
n = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    f = dict(r["form"] or [])
    if r["path"] == "/status" and f.get("CallSid") in sids and f.get("CallStatus") in ("completed", "failed", "busy", "no-answer", "canceled"):
        n[f["CallSid"]] += 1
print(len(sids) - len(n), sum(1 for v in n.values() if v != 1))
PY
}
until [ "$(cb_a)" = "0 0" ]; do
	[ "$(date +%s)" -le $_d ] || fail "calls of a without exactly one final callback (missing, repeated): $(cb_a)"
	sleep 0.2
done
pass "every call of a has exactly one final status callback"
open_b=$(q "select count(*) from calls where instance = 'b' and status not in ('completed','failed','busy','no-answer','canceled')")
pass "left for takeover: $open_b calls of b open in the call log ($(q "select count(*) from calls where instance = 'b'") rows of b)"

# dialerd takeover of b's folder while a runs: past b's 15 s heartbeat, it ends b's open calls
# and delivers their final callbacks (and whatever b's outbox held)
_d=$(( $(date +%s) + 30 ))
until [ "$(q "select heartbeat_at < now() - interval '16 s' from instances where name = 'b'")" = t ]; do
	[ "$(date +%s)" -le $_d ] || fail "b's heartbeat is not stale"
	sleep 0.5
done
TK0=$(date +%s%N)
"$DIALERD" takeover --data-dir "$WORK/var/b" --deadline 60 >"$WORK/takeover.out" 2>"$WORK/takeover.log"
assert_eq "$?" 0 "dialerd takeover of b: exit 0 ($(head -n 1 "$WORK/takeover.out"))"
pass "takeover of b took $(( ($(date +%s%N) - TK0) / 1000000 )) ms"
assert_match "$(cat "$WORK/takeover.out")" "^instance b \(id [0-9]+\): [0-9]+ calls? ended, .* 0 undelivered" \
	"it left nothing undelivered"
# b's last rows, queued but not committed when it died, come back from its
# mirror first: among them calls that started (open now) or ended (not open)
ended=$(sed -n 's/^instance b (id [0-9]*): \([0-9]*\) calls\{0,1\} ended,.*/\1/p' "$WORK/takeover.out")
recovered=$(sed -n 's/.*store: \([0-9]*\) rows .* moved from .*store\.mirror.*/\1/p' "$WORK/takeover.log")
if [ "${ended:-x}" = "$open_b" ]; then
	pass "it ended the $open_b open calls of b"
elif [ -n "$ended" ] && [ -n "$recovered" ]; then
	pass "it ended $ended calls of b: $open_b were open in the call log, and the $recovered rows b had not committed (from its mirror) started or ended the others"
else
	fail "it ended ${ended:-?} calls of b, $open_b were open (rows from the mirror: ${recovered:-none})"
fi
open_b=$ended
# the dialogs of b's answered calls got a BYE each, in the call log as sent, retransmissions
# included (their far ends are gone by now: Kamailio answers 408 or nothing comes in 4 s)
nbye=$(sed -n 's/^BYEs for the dialogs of the \([0-9]*\) answered calls:.*/\1/p' "$WORK/takeover.out")
[ -n "$nbye" ] || fail "no BYE line in the takeover's summary: $(cat "$WORK/takeover.out")"
assert_eq "$(q "select count(distinct call_sid) from sip_messages where direction = 'out'
	and method = 'BYE' and convert_from(headers, 'UTF8') like '%cause=41%'")" "$nbye" \
	"the $nbye BYEs to b's orphaned dialogs are in the call log (with their retransmissions)"
assert_eq "$(q "select state from instances where name = 'b'")" retired "b is retired"
assert_eq "$(q "select state from instances where name = 'a'")" active "a is still active"
assert_eq "$(q "select count(*) from calls where status not in ('completed','failed','busy','no-answer','canceled')")" 0 \
	"no call of a or b is open"
assert_eq "$(q "select count(*) from calls where instance = 'b' and reason_text = 'instance-lost'")" "$open_b" \
	"b's open calls ended with reason instance-lost"
assert_eq "$(q "select count(*) from (select c.sid from calls c left join call_events e on e.call_sid = c.sid
	and e.event in ('completed','failed','busy','no-answer','canceled')
	group by c.sid having count(e.call_sid) <> 1) x")" 0 "every call has exactly one final call_events row"
assert_eq "$(stat -c %s "$WORK/var/b/store.journal" 2>/dev/null || echo 0)" 0 "b's journal is empty"
ncalls=$(q "select count(*) from calls")
final_callbacks_ok "$ncalls" 0
"$DIALERD" takeover --data-dir "$WORK/var/b" >"$WORK/takeover2.out" 2>&1
assert_eq "$?" 0 "a second takeover: exit 0, nothing to do"
final_callbacks_ok "$ncalls" 0 "and no new callback"
cluster_kill a TERM
cluster_wait_exit a 20 || fail "a did not exit after SIGTERM"
assert_eq "$CL_RC" 0 "a exited 0"
