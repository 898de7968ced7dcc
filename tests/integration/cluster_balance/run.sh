#!/bin/sh
# cluster_balance: Kamailio's dispatcher (contrib/kamailio) in front of two instances on one
# database: 200 calls at 20 calls/s, each bridged by <Dial><Sip> to a SIPp target, spread over
# a (127.0.0.2) and b (127.0.0.3); every answer's
# Contact is the answering instance's own address and the in-dialog BYE reaches it through
# Kamailio's Record-Route; every call is completed in the call log under the instance that ran
# it, and every call has exactly one final status callback.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/cluster.sh"
cluster_init
cluster_uas_start
cluster_dial_doc
cluster_instance_start a 127.0.0.2
cluster_instance_start b 127.0.0.3
cluster_kam_start
pass "Kamailio sees both instances up: $(cluster_ds_list | tr '\n' ' ')"

N=200
cluster_uac uac 20 $N 1000 -trace_msg -message_file "$WORK/uac.msg"
sipp_wait uac 60
assert_eq "$(cluster_uac_counts uac)" "$N 0" "SIPp: every call answered, held and hung up (successful, failed)"

A=$(cluster_sip a)
B=$(cluster_sip b)
na=$(grep -c "^Contact: <sip:[^>]*@$A[;>]" "$WORK/uac.msg")
nb=$(grep -c "^Contact: <sip:[^>]*@$B[;>]" "$WORK/uac.msg")
[ "$na" -ge $(( N / 4 )) ] && [ "$nb" -ge $(( N / 4 )) ] ||
	fail "answers are not spread: $na from a, $nb from b"
pass "answers spread over both instances: $na from a, $nb from b"
assert_eq "$(grep -cE "^c=IN IP4 ${A%:*}[[:space:]]*$" "$WORK/uac.msg") $(grep -cE "^c=IN IP4 ${B%:*}[[:space:]]*$" "$WORK/uac.msg")" "$na $nb" \
	"each answer's media (the relay) is on the answering instance's own address"
assert_eq "$(grep -c "^Record-Route: <sip:127.0.0.1:$KAM_PORT;" "$WORK/uac.msg")" "$N" \
	"every 200 carries Kamailio's Record-Route"
assert_eq "$(grep -c "^BYE sip:[^ ]*@$A[; ]" "$WORK/uac.msg")" "$na" \
	"every BYE of a call a answered is addressed to a"
assert_eq "$(grep -c "^BYE sip:[^ ]*@$B[; ]" "$WORK/uac.msg")" "$nb" \
	"every BYE of a call b answered is addressed to b"
assert_eq "$(grep -c "^Route: <sip:127.0.0.1:$KAM_PORT;" "$WORK/uac.msg")" "$(( 2 * N ))" \
	"ACK and BYE go through Kamailio (Route)"

calls_done() { q "select count(*) from calls where status = 'completed'"; }
_d=$(( $(date +%s) + 20 ))
until [ "$(calls_done)" = $(( 2 * N )) ]; do
	[ "$(date +%s)" -le $_d ] || fail "completed calls in the log: $(calls_done), want $(( 2 * N ))"
	sleep 0.2
done
pass "every call and its dialled leg completed in the call log"
assert_eq "$(q "select count(*) from calls")" "$(( 2 * N ))" "no other or duplicate call rows"
assert_eq "$(q "select instance || '=' || count(*) from calls where direction = 'inbound' group by instance order by instance")" \
	"a=$na
b=$nb" "calls.instance names the instance that answered each call"
assert_eq "$(q "select count(*) from calls c join calls p on p.sid = c.parent_call_sid where c.instance <> p.instance")" 0 \
	"each dialled leg ran on its caller's instance"
_d=$(( $(date +%s) + 20 ))
until [ "$(cluster_callbacks | cut -d' ' -f1)" = $(( 2 * N )) ]; do
	[ "$(date +%s)" -le $_d ] || fail "terminal status callbacks: $(cluster_callbacks)"
	sleep 0.2
done
assert_eq "$(cluster_callbacks)" "$(( 2 * N )) 0 0" "one terminal status callback per call, no repeated SequenceNumber"
assert_eq "$(grep -c 'dst-down' "$WORK/kamailio.log")" 0 "no instance was marked down"
for n in a b; do
	cluster_kill $n TERM
	cluster_wait_exit $n 20 || fail "$n did not exit after SIGTERM"
	assert_eq "$CL_RC" 0 "$n exited 0"
done
