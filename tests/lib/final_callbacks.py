#!/usr/bin/env python3
"""final_callbacks.py: the status callbacks a webhook recorder (webhook.py) answered 204 on
/status, per CallSid: how many calls, how many got exactly one final CallStatus, how many have a
SequenceNumber sequence that is not 0..n-1 (a gap or a duplicate).

    final_callbacks.py REQUESTS_LOG      prints "CALLS ONE_FINAL BAD_SEQUENCES"

A callback is counted once per I-Twilio-Idempotency-Token: the outbox delivers at least once, so
a delivery that a killed process made but had not yet recorded is made again after the restart
or the takeover, with the same token and the same body (a consumer drops it by the token). Such
a repeat with another body is a second callback and counts. The redeliveries and the offending
calls go to stderr, one line each.
"""
import collections
import json
import sys

FINAL = ("completed", "failed", "busy", "no-answer", "canceled")
final = collections.Counter()
seq = collections.defaultdict(list)
seen = {}
again = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] != "/status" or r["status"] != 204:
        continue
    token = dict((k.lower(), v) for k, v in r["headers"]).get("i-twilio-idempotency-token")
    if token and seen.get(token) == r["body"]:
        again += 1
        continue
    if token:
        seen[token] = r["body"]
    f = dict(r["form"] or [])
    seq[f["CallSid"]].append(int(f["SequenceNumber"]))
    final[f["CallSid"]] += f["CallStatus"] in FINAL
bad = [c for c, s in seq.items() if sorted(s) != list(range(len(s)))]
if again:
    print(" (", again, "redeliveries: same token, same body )", file=sys.stderr)
for c in bad + [c for c in seq if final[c] != 1]:
    print(" (", c, "SequenceNumber", sorted(seq[c]), "final", final[c], ")", file=sys.stderr)
print(len(seq), sum(1 for c in seq if final[c] == 1), len(bad))
