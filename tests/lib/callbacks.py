#!/usr/bin/env python3
"""callbacks.py: checks status-callback deliveries (webhooktool deliver) from
what crossed the wire (webhook.py's log) and, when given, the
webhook_requests rows.

  callbacks.py --log LOG --calls N --per-call M [--rows ROWS] [--max-attempts 6]
               [--min-retried K] [--events FILE]

ROWS: "call_sid|sequence_number|attempt|idempotency_token|response_status|
error_code|kind" lines (psql -tA). --events FILE: the (CallSid SequenceNumber)
pairs that must be delivered, one per line, instead of N x M.
Checks, per call: every callback answered 2xx exactly once, in SequenceNumber
order (no request for a later one before the earlier one was answered 2xx);
one idempotency token per event on all its requests, distinct between
events; at most --max-attempts requests per event. With rows: attempts
1..k without gaps, k <= max, only the last one answered 2xx, the same token
as on the wire. Prints ok/not ok lines; exit 0 when all hold.
"""
import argparse
import json
import sys
import urllib.parse
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--log", required=True)
ap.add_argument("--calls", type=int, required=True)
ap.add_argument("--per-call", type=int, required=True)
ap.add_argument("--rows")
ap.add_argument("--max-attempts", type=int, default=6)
ap.add_argument("--min-retried", type=int, default=0)
ap.add_argument("--events")
a = ap.parse_args()

bad = 0


def ok(msg):
    print("ok - " + msg)


def no(msg):
    global bad
    bad += 1
    print("not ok - " + msg)


def header(rec, name):
    for k, v in rec["headers"]:
        if k.lower() == name.lower():
            return v
    return None


reqs = []
for line in open(a.log):
    rec = json.loads(line)
    params = dict(rec["form"] or [])
    if rec["method"] == "GET":
        params = dict(rec["query"])
    reqs.append((rec, params))

by_call = defaultdict(list)         # CallSid -> [(seq, status, token)] in arrival order
tokens = defaultdict(set)           # (sid, seq) -> tokens
wire_attempts = defaultdict(int)
for rec, p in reqs:
    sid, seq = p.get("CallSid"), p.get("SequenceNumber")
    if sid is None or seq is None:
        no("request %s without CallSid or SequenceNumber" % rec["url"])
        continue
    seq = int(seq)
    tok = header(rec, "I-Twilio-Idempotency-Token")
    by_call[sid].append((seq, rec["status"], tok))
    tokens[(sid, seq)].add(tok)
    wire_attempts[(sid, seq)] += 1
    for k, v in (("CallbackSource", "call-progress-events"), ("ApiVersion", "2010-04-01")):
        if p.get(k) != v:
            no("%s #%d: %s=%r" % (sid, seq, k, p.get(k)))
    if not p.get("Timestamp") or not p.get("CallStatus") or not p.get("AccountSid"):
        no("%s #%d: Timestamp, CallStatus or AccountSid missing" % (sid, seq))

if a.events:
    want = set()
    for l in open(a.events):
        if l.strip():
            s, q = l.split()
            want.add((s, int(q)))
else:
    want = None

delivered = set()
order_bad = 0
for sid, lst in by_call.items():
    answered = [seq for seq, st, _ in lst if st is not None and 200 <= st < 300]
    for seq in answered:
        delivered.add((sid, seq))
    if len(answered) != len(set(answered)):
        no("%s: an event answered 2xx twice: %s" % (sid, answered))
    if answered != sorted(answered):
        no("%s: delivered out of SequenceNumber order: %s" % (sid, answered))
        order_bad += 1
    # nothing of a later event before every earlier one (to deliver) was delivered
    got = set()
    for seq, st, _ in lst:
        need = [q for q in range(seq) if want is None or (sid, q) in want]
        if any(q not in got for q in need):
            no("%s: #%d requested before #%s were delivered (arrival order %s)"
               % (sid, seq, [q for q in need if q not in got], [s for s, _, _ in lst]))
            order_bad += 1
            break
        if st is not None and 200 <= st < 300:
            got.add(seq)

if want is None:
    if len(by_call) != a.calls:
        no("%d calls on the wire, want %d" % (len(by_call), a.calls))
    for sid in by_call:
        for seq in range(a.per_call):
            if (sid, seq) not in delivered:
                no("%s #%d never answered 2xx" % (sid, seq))
    nwant = a.calls * a.per_call
else:
    nwant = len(want)
    missing = want - delivered
    extra = delivered - want
    if missing:
        no("%d events never delivered: %s" % (len(missing), sorted(missing)[:5]))
    if extra:
        no("%d delivered events were not expected: %s" % (len(extra), sorted(extra)[:5]))
if len(delivered) == nwant and not bad:
    ok("all %d callbacks delivered (2xx), once each" % nwant)
if not order_bad:
    ok("in SequenceNumber order per call (%d calls)" % len(by_call))

tok_bad = [(k, v) for k, v in tokens.items() if len(v) != 1 or None in v]
all_tokens = [next(iter(v)) for v in tokens.values() if len(v) == 1]
if tok_bad:
    no("%d events carried more than one idempotency token: %s" % (len(tok_bad), tok_bad[:3]))
elif len(set(all_tokens)) != len(all_tokens):
    no("two events share an idempotency token")
else:
    multi = sum(1 for k in wire_attempts if wire_attempts[k] > 1)
    ok("one idempotency token per event, distinct between events (%d events requested more than once on the wire)" % multi)
over = [(k, n) for k, n in wire_attempts.items() if n > a.max_attempts]
if over:
    no("%d events requested more than %d times: %s" % (len(over), a.max_attempts, over[:3]))
else:
    ok("no event requested more than %d times (most: %d)" % (a.max_attempts, max(wire_attempts.values() or [0])))

if a.rows:
    rows = defaultdict(list)
    for l in open(a.rows):
        if not l.strip():
            continue
        sid, seq, att, tok, st, code, kind = l.rstrip("\n").split("|")
        rows[(sid, int(seq))].append((int(att), tok, int(st or 0), int(code or 0), kind))
    rbad = 0
    dist = defaultdict(int)
    for ev in (want if want is not None else [(s, q) for s in by_call for q in range(a.per_call)]):
        r = sorted(rows.get(ev, []))
        atts = [x[0] for x in r]
        dist[len(r)] += 1
        if not r:
            no("%s #%d: no webhook_requests row" % ev); rbad += 1; continue
        if atts != list(range(1, len(r) + 1)) or len(r) > a.max_attempts:
            no("%s #%d: attempts %s" % (ev[0], ev[1], atts)); rbad += 1; continue
        if any(x[4] != "status-callback" for x in r):
            no("%s #%d: kind %s" % (ev[0], ev[1], r[0][4])); rbad += 1
        last = r[-1]
        if not (200 <= last[2] < 300) or last[3] != 0:
            no("%s #%d: last attempt status %d code %d" % (ev[0], ev[1], last[2], last[3])); rbad += 1
        for x in r[:-1]:
            if 200 <= x[2] < 300 or x[3] == 0:
                no("%s #%d: attempt %d: status %d code %d although retried" % (ev[0], ev[1], x[0], x[2], x[3])); rbad += 1
        wt = tokens.get(ev, set())
        if len({x[1] for x in r} | wt) != 1:
            no("%s #%d: tokens rows %s wire %s" % (ev[0], ev[1], {x[1] for x in r}, wt)); rbad += 1
    if not rbad:
        ok("rows: attempts 1..k per event, only the last answered 2xx, the wire's token on every row "
           "(events by attempts: %s)" % dict(sorted(dist.items())))
    retried = sum(n for k, n in dist.items() if k > 1)
    if retried < a.min_retried:
        no("only %d events were retried, want at least %d" % (retried, a.min_retried))
sys.exit(1 if bad else 0)
