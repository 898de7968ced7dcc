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

# shellcheck disable=SC2016
python3 - "$WORK/burst.json" "$WORK/in.json" >"$WORK/verdict.txt" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
evs = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
inbound = {e["call_id"] for e in evs if e["event"] == "inbound"}
stats = [e for e in evs if e["event"] == "stats"][-1]
resp = b["responses"]
shed = {c for c, rs in resp.items() if any(r["code"] == 503 for r in rs)}
answered = {c for c in b["sent"] if c in resp}
ra = {r["retry_after"] for c in shed for r in resp[c] if r["code"] == 503}
tagged = all(";tag=" in r["to"] for c in shed for r in resp[c] if r["code"] == 503)
admitted = set(b["sent"]) & inbound
print("sent=%d send_ms=%.0f answered=%d shed=%d admitted=%d both=%d neither=%d"
      " retry_after=%s tagged=%s stats_shed=%d overloads=%d probe_admitted=%s"
      " probe_shed=%s" % (
      len(b["sent"]), b["send_seconds"] * 1000, len(answered),
      len(shed & set(b["sent"])), len(admitted),
      len(shed & inbound), len(set(b["sent"]) - shed - inbound),
      ",".join(sorted(x or "-" for x in ra)), tagged, stats["inbound_shed"],
      stats["overloads"], b["probe"] in inbound, b["probe"] in shed))
PY
v=$(cat "$WORK/verdict.txt")
printf '# %s\n' "$v"
val() { printf '%s\n' "$v" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
assert_eq "$(val answered)" $N "every INVITE of the burst was answered (503 or 100)"
assert_eq "$(val neither)" 0 "every INVITE was either admitted or shed"
assert_eq "$(val both)" 0 "no shed INVITE became a call"
[ "$(val shed)" -gt 0 ] || fail "nothing was shed: the burst never made INVITEs wait 20 ms"
pass "$(val shed) INVITEs shed with 503"
[ "$(val admitted)" -gt 0 ] || fail "nothing was admitted"
pass "$(val admitted) INVITEs admitted as calls"
assert_eq "$(val retry_after)" 1 "every 503 carries Retry-After: 1"
assert_eq "$(val tagged)" True "every 503 has a To tag"
assert_eq "$(val stats_shed)" "$(val shed)" "the engine counted every 503 it sent"
[ "$(val overloads)" -ge 1 ] || fail "no overload episode counted"
pass "$(val overloads) overload episode(s)"
assert_eq "$(val probe_admitted)/$(val probe_shed)" "True/False" "after the burst a new INVITE is admitted"
assert_match "$(cat "$WORK/in.log")" 'overload: SIP messages waited [0-9]+ ms \(bound 20 ms\), UDP receive buffer [0-9]+% full' "the overload is logged"
