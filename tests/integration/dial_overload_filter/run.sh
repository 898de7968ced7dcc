#!/bin/sh
# dial_overload_filter: the same burst as dial_overload into a small SIP UDP
# buffer (256 KiB, dialtool -b): the buffer fills faster than even 503s can
# drain it, so past 3/4 of it the engine drops INVITEs in the kernel (a
# socket filter) rather than let a full buffer drop datagrams at random.
# Every INVITE is admitted, shed with 503 or dropped, never two of these;
# once the burst is gone the filter is off and a new INVITE is admitted.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
N=3000
# the kernel's count of datagrams dropped for full buffers (all sockets):
# what the filter does not drop shows up here
rcvbuf_errors() { awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp; }
e0=$(rcvbuf_errors)
dial_burst $N -b 262144
full=$(( $(rcvbuf_errors) - e0 ))

[ "$(burst_val filters)" -ge 1 ] || fail "the INVITE filter was never attached"
pass "INVITE filter attached $(burst_val filters) time(s)"
[ "$(burst_val dropped)" -gt 0 ] || fail "no INVITE was dropped"
pass "$(burst_val dropped) INVITEs dropped in the kernel (socket drops: $(burst_val udp_drops), of which $full for a full buffer, the rest by the filter)"
[ "$(burst_val admitted)" -gt 0 ] || fail "nothing was admitted"
pass "$(burst_val admitted) admitted, $(burst_val shed) shed with 503"
assert_eq "$(burst_val both)" 0 "no shed INVITE became a call"
assert_eq "$(burst_val probe_admitted)/$(burst_val probe_shed)" "True/False" "after the burst the filter is off: a new INVITE is admitted"
assert_match "$(cat "$WORK/in.log")" 'INVITEs dropped in the kernel' "level 2 is logged"
