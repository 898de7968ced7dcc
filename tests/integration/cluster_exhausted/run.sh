#!/bin/sh
# cluster_exhausted: what a caller gets from Kamailio when no instance takes the call. Probes are
# slowed down (one an hour) so the dispatcher keeps both instances active while they refuse:
# both draining (SIGUSR1, one live call each keeps them up): a 503 from the first moves the
# INVITE to the second, whose 503 ends it; the caller gets 500, never 503 (RFC 3261 16.7). Both
# killed: each branch times out without a reply (fr_timer 2 s), both are marked down, the caller
# gets 480; the next INVITE finds no instance and gets 480 at once.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/cluster.sh"
cluster_init
cluster_uas_start
cluster_dial_doc
cluster_instance_start a 127.0.0.2
cluster_instance_start b 127.0.0.3
CL_PING=3600 cluster_kam_start
A=$(cluster_sip a)
B=$(cluster_sip b)

cluster_uac live 10 2 30000
_d=$(( $(date +%s) + 15 ))
up() { q "select string_agg(instance, ',' order by instance) from calls where direction = 'inbound' and status = 'in-progress'"; }
until [ "$(up)" = "a,b" ]; do
	[ "$(date +%s)" -le $_d ] || fail "one live call on each instance: got '$(up)'"
	sleep 0.1
done
pass "one live call on each instance"
cluster_kill a USR1
cluster_kill b USR1
_d=$(( $(date +%s) + 10 ))
until [ "$(q "select string_agg(state, ',' order by name) from instances where name in ('a','b')")" = "draining,draining" ]; do
	[ "$(date +%s)" -le $_d ] || fail "both instances draining: $(q "select name, state from instances")"
	sleep 0.1
done
cluster_refused r503
assert_eq "$?" 0 "an INVITE while both drain is refused"
assert_eq "$(cluster_final_code r503)" "SIP/2.0 500 No dialerd instance accepted the call" \
	"with 500 from Kamailio, not 503"
assert_eq "$(grep -c 'moves to sip:.* (503)' "$WORK/kamailio.log")" 1 "after one move on the first 503"
assert_match "$(cluster_state a) $(cluster_state b)" '^A. A.$' "the dispatcher still holds both active (no probe yet)"

cluster_kill a KILL
cluster_kill b KILL
cluster_refused r408
assert_eq "$?" 0 "an INVITE when both are dead is refused"
assert_eq "$(cluster_final_code r408)" "SIP/2.0 480 No dialerd instance answered" "with 480"
assert_eq "$(grep -c "no reply from sip:\($A\|$B\)" "$WORK/kamailio.log")" 2 "after a time-out on each instance"
assert_match "$(cluster_state a) $(cluster_state b)" '^(IP|TP) (IP|TP)$' "both marked inactive"
cluster_refused rnone
assert_eq "$(cluster_final_code rnone)" "SIP/2.0 480 No dialerd instance available" \
	"the next INVITE gets 480 at once"
