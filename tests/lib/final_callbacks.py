#!/usr/bin/env python3
"""final_callbacks.py: the status callbacks a webhook recorder (webhook.py) answered 204 on
/status, per CallSid: how many calls, how many got exactly one final CallStatus, how many have a
SequenceNumber sequence that is not 0..n-1 (a gap or a duplicate).

    final_callbacks.py REQUESTS_LOG      prints "CALLS ONE_FINAL BAD_SEQUENCES"

The offending calls (up to all of them) go to stderr, one line each.
"""
import collections
import json
import sys

FINAL = ("completed", "failed", "busy", "no-answer", "canceled")
final = collections.Counter()
seq = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] != "/status" or r["status"] != 204:
        continue
    f = dict(r["form"] or [])
    seq[f["CallSid"]].append(int(f["SequenceNumber"]))
    final[f["CallSid"]] += f["CallStatus"] in FINAL
bad = [c for c, s in seq.items() if sorted(s) != list(range(len(s)))]
for c in bad + [c for c in seq if final[c] != 1]:
    print(" (", c, "SequenceNumber", sorted(seq[c]), "final", final[c], ")", file=sys.stderr)
print(len(seq), sum(1 for c in seq if final[c] == 1), len(bad))
