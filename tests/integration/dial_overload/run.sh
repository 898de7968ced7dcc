#!/bin/sh
# dial_overload: a burst of INVITEs far past what the SIP thread can take at
# once. With a 20 ms queueing-delay bound (dialtool -q), INVITEs that waited
# longer get an immediate stateless 503 with Retry-After and never become
# calls; the others become inbound legs; every INVITE gets an answer; once
# the burst is gone, a new INVITE is admitted again.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
N=3000
dial_burst $N

assert_eq "$(burst_val answered)" $N "every INVITE of the burst was answered (503 or 100)"
assert_eq "$(burst_val dropped)" 0 "every INVITE was either admitted or shed"
assert_eq "$(burst_val both)" 0 "no shed INVITE became a call"
[ "$(burst_val shed)" -gt 0 ] || fail "nothing was shed: the burst never made INVITEs wait 20 ms"
pass "$(burst_val shed) INVITEs shed with 503"
[ "$(burst_val admitted)" -gt 0 ] || fail "nothing was admitted"
pass "$(burst_val admitted) INVITEs admitted as calls"
assert_eq "$(burst_val retry_after)" 1 "every 503 carries Retry-After: 1"
assert_eq "$(burst_val tagged)" True "every 503 has a To tag"
assert_eq "$(burst_val stats_shed)" "$(burst_val shed)" "the engine counted every 503 it sent"
[ "$(burst_val overloads)" -ge 1 ] || fail "no overload episode counted"
pass "$(burst_val overloads) overload episode(s)"
assert_eq "$(burst_val probe_admitted)/$(burst_val probe_shed)" "True/False" "after the burst a new INVITE is admitted"
assert_match "$(cat "$WORK/in.log")" 'overload: SIP messages waited [0-9]+ ms, events for the daemon [0-9]+ ms \(bound 20 ms\), UDP receive buffer [0-9]+% full' "the overload is logged"
