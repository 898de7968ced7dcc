#!/usr/bin/env python3
# overload_verdict.py: what became of an INVITE burst (tests/lib/burst.py) at dialtool, as one line of name=value
#
#   overload_verdict.py BURST.json EVENTS.json
#
# BURST.json: burst.py's record (sent Call-IDs, responses per Call-ID, the
# probe sent after the burst); EVENTS.json: dialtool's events (inbound legs,
# the last stats line). Prints
#   sent send_ms answered shed admitted both dropped retry_after tagged
#   stats_shed overloads filters udp_drops probe_admitted probe_shed
# where shed counts the burst's INVITEs answered 503, admitted those that
# became inbound legs, both those that were both (must be none), dropped
# those that were neither (dropped in the kernel, or lost).
import json
import sys

b = json.load(open(sys.argv[1]))
evs = [json.loads(line) for line in open(sys.argv[2]) if line.startswith("{")]
inbound = {e["call_id"] for e in evs if e["event"] == "inbound"}
stats = [e for e in evs if e["event"] == "stats"][-1]
resp = b["responses"]
sent = set(b["sent"])
rejected = {c for c, rs in resp.items() if any(r["code"] == 503 for r in rs)}
shed = rejected & sent
answered = {c for c in sent if c in resp}
r503 = [r for c in rejected for r in resp[c] if r["code"] == 503]
retry_after = ",".join(sorted({r["retry_after"] or "-" for r in r503}))
tagged = all(";tag=" in r["to"] for r in r503)
print("sent=%d send_ms=%.0f answered=%d shed=%d admitted=%d both=%d"
      " dropped=%d retry_after=%s tagged=%s stats_shed=%d overloads=%d"
      " filters=%d udp_drops=%d probe_admitted=%s probe_shed=%s" % (
          len(sent), b["send_seconds"] * 1000, len(answered), len(shed),
          len(sent & inbound), len(rejected & inbound),
          len(sent - rejected - inbound), retry_after, tagged,
          stats["inbound_shed"], stats["overloads"], stats["filters"],
          stats["udp_drops"], b["probe"] in inbound, b["probe"] in rejected))
