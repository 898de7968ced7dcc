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

python3 - "$WORK/burst.json" "$WORK/in.json" >"$WORK/verdict.txt" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
evs = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
inbound = {e["call_id"] for e in evs if e["event"] == "inbound"}
stats = [e for e in evs if e["event"] == "stats"][-1]
resp = b["responses"]
sent = set(b["sent"])
shed = {c for c, rs in resp.items() if any(r["code"] == 503 for r in rs)} & sent
admitted = sent & inbound
print("sent=%d shed=%d admitted=%d dropped=%d both=%d filters=%d udp_drops=%d"
      " probe_admitted=%s probe_shed=%s" % (
      len(sent), len(shed), len(admitted), len(sent - shed - inbound),
      len(shed & inbound), stats["filters"], stats["udp_drops"],
      b["probe"] in inbound, b["probe"] in resp and
      any(r["code"] == 503 for r in resp[b["probe"]])))
PY
v=$(cat "$WORK/verdict.txt")
printf '# %s\n' "$v"
val() { printf '%s\n' "$v" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(val filters)" -ge 1 ] || fail "the INVITE filter was never attached"
pass "INVITE filter attached $(val filters) time(s)"
[ "$(val dropped)" -gt 0 ] || fail "no INVITE was dropped"
pass "$(val dropped) INVITEs dropped in the kernel (socket drops: $(val udp_drops), of which $full for a full buffer, the rest by the filter)"
[ "$(val admitted)" -gt 0 ] || fail "nothing was admitted"
pass "$(val admitted) admitted, $(val shed) shed with 503"
assert_eq "$(val both)" 0 "no shed INVITE became a call"
assert_eq "$(val probe_admitted)/$(val probe_shed)" "True/False" "after the burst the filter is off: a new INVITE is admitted"
assert_match "$(cat "$WORK/in.log")" 'INVITEs dropped in the kernel' "level 2 is logged"
