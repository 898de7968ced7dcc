#!/usr/bin/env python3
"""sip_bodies.py: a leg's SIP bodies in the call log against what crossed the wire.

  sip_bodies.py LEG SIPP_MSG BODIES_JSON PLAIN_JSON TRACE_OUT

SIPP_MSG is the far end's SIPp -trace_msg log (exact bytes of every message it
received and sent), BODIES_JSON the reply of .../Calls/LEG/SipMessages.json?Bodies=true,
PLAIN_JSON the same without Bodies, TRACE_OUT the output of `dialerd trace --bodies LEG`.
Checks: the INVITEs dialerd sent and the 200 OK to INVITE it received carry in the JSON
exactly the bodies SIPp logged for that Call-ID, with body_type and body_length; messages
without a body have body null; without Bodies every body, body_type and body_length is
null; the trace prints each SDP under its message, every line indented.
Prints "ok - ..." / "not ok - ..."; exits 1 when a check failed.
"""
import json
import re
import sys

bad = 0


def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    bad += 0 if cond else 1


def sipp_messages(path):
    """(direction seen by SIPp, bytes) of every message in a -trace_msg log"""
    data = open(path, "rb").read()
    out = []
    for part in re.split(rb"-{47} [0-9: .-]+\n", data)[1:]:
        m = re.match(rb"(?:UDP|TCP) message (?:received \[(\d+)\] bytes :|sent \((\d+) bytes\):)\n\n",
                     part)
        if not m:
            continue
        n = int(m.group(1) or m.group(2))
        out.append(("received" if m.group(1) else "sent", part[m.end():m.end() + n]))
    return out


def split(msg):
    head, _, body = msg.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs.setdefault(k.strip().lower(), v.strip())
    return lines[0], hdrs, body


def main():
    leg, msgfile, with_b, without_b, trace = sys.argv[1:6]
    rows = [m for m in json.load(open(with_b))["sip_messages"] if m["call_sid"] == leg]
    plain = json.load(open(without_b))["sip_messages"]
    check(len(rows) >= 6, "SipMessages.json?Bodies=true: the leg's messages (%d)" % len(rows))
    call_id = rows[0]["sip_call_id"] if rows else None
    wire_inv, wire_ok = [], []
    for d, msg in sipp_messages(msgfile):
        start, hdrs, body = split(msg)
        if hdrs.get("call-id", hdrs.get("i")) != call_id:
            continue
        if d == "received" and start.startswith("INVITE "):
            wire_inv.append(body)
        elif d == "sent" and start.startswith("SIP/2.0 200 ") and "INVITE" in hdrs.get("cseq", ""):
            wire_ok.append(body)
    inv = [m for m in rows if m["direction"] == "out" and m["start_line"].startswith("INVITE ")]
    ok200 = [m for m in rows if m["direction"] == "in" and m["start_line"].startswith("SIP/2.0 200 ")
             and any(h["name"] == "CSeq" and "INVITE" in h["value"] for h in m["headers"])]
    check(len(wire_inv) == 2 and len(inv) == 2,
          "two INVITEs (the first challenged) on the wire (%d) and in the log (%d)"
          % (len(wire_inv), len(inv)))
    for i, (w, m) in enumerate(zip(wire_inv, inv)):
        got = (m["body"] or "").encode()
        check(len(w) > 100 and got == w,
              "INVITE %d: body as SIPp received it, %d bytes%s" %
              (i + 1, len(w), "" if got == w else " (got %r, wire %r)" % (got, w)))
        check(m["body_type"] == "application/sdp" and m["body_length"] == len(w),
              "INVITE %d: body_type and body_length (%s, %s)" % (i + 1, m["body_type"], m["body_length"]))
    check(len(wire_ok) >= 1 and len(ok200) >= 1, "the 200 OK to INVITE on the wire and in the log")
    if wire_ok and ok200:
        got = (ok200[0]["body"] or "").encode()
        check(len(wire_ok[0]) > 50 and got == wire_ok[0],
              "200 OK: body as SIPp sent it, %d bytes%s" %
              (len(wire_ok[0]), "" if got == wire_ok[0] else " (got %r, wire %r)" % (got, wire_ok[0])))
        check(ok200[0]["body_type"] == "application/sdp" and ok200[0]["body_length"] == len(wire_ok[0]),
              "200 OK: body_type and body_length")
    empty = [m for m in rows if m["start_line"].startswith(("ACK ", "BYE ", "SIP/2.0 401 ", "SIP/2.0 180 "))]
    check(empty and all(m["body"] is None and m["body_type"] is None and m["body_length"] is None
                        for m in empty),
          "ACK, BYE, 401, 180 (no body): body null (%d messages)" % len(empty))
    check(plain and all(m["body"] is None and m["body_type"] is None and m["body_length"] is None
                        for m in plain),
          "without Bodies: every body null (%d messages)" % len(plain))
    # the ladder: the message's line, then "(body application/sdp)", then the SDP indented
    text = open(trace, encoding="utf-8", errors="replace").read()
    for what, body in (("INVITE", wire_inv[0] if wire_inv else b""),
                       ("200 OK", wire_ok[0] if wire_ok else b"")):
        block = "        (body application/sdp)\n" + "".join(
            "          " + l + "\n" for l in body.decode().split("\r\n")[:-1])
        check(body and block in text, "dialerd trace --bodies: the %s's SDP under it, indented" % what)
    sys.exit(1 if bad else 0)


main()
