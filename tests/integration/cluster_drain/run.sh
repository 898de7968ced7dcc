#!/bin/sh
# cluster_drain: SIGTERM to instance b under load (20 calls/s through Kamailio, each bridged to a
# SIPp target and held 4 s). b answers OPTIONS and new INVITEs 503 at once: Kamailio moves each
# such INVITE to a (failure_route on 503) and its probes take b out of the rotation; no caller
# sees a failure. The calls b had answered go on (their BYEs reach b through Record-Route while
# the dispatcher holds b inactive) and complete; b exits 0 with its registry row `stopped`; every
# call has exactly one final status callback.
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

N=300
cluster_uac uac 20 $N 4000 -trace_msg -message_file "$WORK/uac.msg"
sleep 5
[ "$(q "select count(*) from calls where instance = 'b' and direction = 'inbound'")" -gt 0 ] ||
	fail "b took no calls before the drain"
TERM_T=$(date +%s.%N)
cluster_kill b TERM
_d=$(( $(date +%s) + 15 ))
until grep -q "dst-down.* sip:$B" "$WORK/kamailio.log"; do
	[ "$(date +%s)" -le $_d ] || fail "Kamailio never took b out: $(cluster_ds_list | tr '\n' ' ')"
	sleep 0.1
done
DOWN_T=$(sed -n "s/.*dialerd: \([0-9.]*\) dst-down.* sip:$B.*/\1/p" "$WORK/kamailio.log" | head -n 1)
pass "Kamailio's probes took b out $(awk -v d="$DOWN_T" -v k="$TERM_T" "BEGIN { printf \"%.1f\", d - k }") s after SIGTERM"
assert_eq "$(grep -c "no reply from sip:$B" "$WORK/kamailio.log")" 0 "b kept answering (no branch timed out)"
assert_eq "$(q "select state from instances where name = 'b'")" draining "b's registry row says draining"
cluster_wait_exit b 40 || fail "b did not exit within 40 s of SIGTERM"
assert_eq "$CL_RC" 0 "b exited 0 once its calls had ended"
assert_eq "$(q "select state from instances where name = 'b'")" stopped "b's registry row says stopped"
sipp_wait uac 60
assert_eq "$(cluster_uac_counts uac)" "$N 0" "SIPp: every call answered, held and hung up (successful, failed)"
cluster_calls uac >"$WORK/calls.txt"
assert_eq "$(wc -l <"$WORK/calls.txt")" "$N" "every call of SIPp is in the trace"
assert_eq "$(awk -v b="$B" -v t="$DOWN_T" '$2 == b && $3 > t' "$WORK/calls.txt" | wc -l)" 0 \
	"no INVITE went to b after it was taken out"
moved=$(awk '$7 > 0' "$WORK/calls.txt" | wc -l)
assert_eq "$(awk -v a="$A" '$7 > 0 && $5 != a' "$WORK/calls.txt" | wc -l)" 0 \
	"the $moved INVITEs b refused with 503 during the drain were answered by a"
assert_eq "$(awk -v b="$B" -v t="$TERM_T" '$5 == b && $3 > t + 0.5' "$WORK/calls.txt" | wc -l)" 0 \
	"b answered no call sent to it after SIGTERM"
nb=$(awk -v b="$B" '$5 == b' "$WORK/calls.txt" | wc -l)
pass "b's $nb calls ended with the caller's BYE answered 200 (SIPp: no failed call); $moved INVITEs moved to a"
assert_eq "$(grep -c "moves to sip:$A (503)" "$WORK/kamailio.log")" "$moved" "every move followed a 503"
_d=$(( $(date +%s) + 20 ))
until [ "$(q "select count(*) from calls where status = 'completed'")" = $(( 2 * N )) ]; do
	[ "$(date +%s)" -le $_d ] || fail "completed calls: $(q "select count(*) from calls where status = 'completed'"), want $(( 2 * N ))"
	sleep 0.2
done
pass "every call and its dialled leg completed in the call log"
assert_eq "$(q "select count(*) from calls where instance = 'b' and direction = 'inbound'")" "$nb" \
	"calls.instance: b ran exactly the calls it answered"
assert_eq "$(q "select count(*) - count(distinct sid) from calls")" 0 "no duplicate call rows"
_d=$(( $(date +%s) + 20 ))
until [ "$(cluster_callbacks | cut -d' ' -f1)" = $(( 2 * N )) ]; do
	[ "$(date +%s)" -le $_d ] || fail "terminal status callbacks: $(cluster_callbacks)"
	sleep 0.2
done
assert_eq "$(cluster_callbacks)" "$(( 2 * N )) 0 0" "one terminal status callback per call, no repeated SequenceNumber"
assert_eq "$(find "$WORK/var/b" -name store.journal -size +0c | wc -l)" 0 "b's journal is empty"
cluster_kill a TERM
cluster_wait_exit a 20 || fail "a did not exit after SIGTERM"
assert_eq "$CL_RC" 0 "a exited 0"
