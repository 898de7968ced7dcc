#!/bin/sh
# cluster_kill: kill -9 of instance b under load (30 calls/s through Kamailio, each bridged to a
# SIPp target and held 2 s). Kamailio marks b down (a branch without any reply, then the OPTIONS
# probes); INVITEs b never answered are moved to a; once b is down every new INVITE goes to a.
# Only INVITEs b had taken (replied to) before it died may fail, all sent to b within the fr_timer
# window (2 s) before the kill. Calls a answered all complete with one final callback each. The
# calls b had answered are lost to the callers and stay open in the call log: they are counted
# here and left for `dialerd takeover`.
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
cluster_kill a TERM
cluster_wait_exit a 20 || fail "a did not exit after SIGTERM"
assert_eq "$CL_RC" 0 "a exited 0"
