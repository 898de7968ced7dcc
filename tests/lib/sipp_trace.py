#!/usr/bin/env python3
# sipp_trace.py FILE EXPRESSION: prints EXPRESSION evaluated over the messages M of a SIPp
# message trace (-trace_msg: FILE is $WORK/NAME.msg). A message m has m.t (seconds), m.rx
# (received), m.method or m.code, m.ruri, m.line, m.text, m.h("Header") and m.port() (its
# SDP's m=audio port); req(METHOD, RX) and resp(CODE, CSEQ_METHOD, RX) pick messages, tag(V)
# is the tag of a From/To value and cseq(m) its CSeq number. A missing file has no messages.
import datetime
import re
import sys


class Msg:
    def __init__(s, t, d, text):
        s.t, s.rx, s.text = t, d == "received", text.replace("\r\n", "\n")
        s.line = s.text.split("\n", 1)[0]
        s.code = int(s.line.split()[1]) if s.line.startswith("SIP/2.0 ") else 0
        s.method = "" if s.code else s.line.split(" ", 1)[0]
        s.ruri = "" if s.code else s.line.split(" ")[1]

    def h(s, name):
        m = re.search(r"^" + name + r"[ \t]*:[ \t]*(.*)$", s.text, re.M | re.I)
        return m.group(1).strip() if m else ""

    def port(s):
        m = re.search(r"^m=audio (\d+) ", s.text, re.M)
        return int(m.group(1)) if m else 0


try:
    text = open(sys.argv[1], errors="replace").read()
except OSError:
    text = ""
M = []
for m in re.finditer(r"^-{20,} (\S+ \S+)\n(?:UDP|TCP) message (sent|received)[^\n]*\n\n(.*?)(?=^-{20,} |\Z)",
                     text, re.S | re.M):
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    M.append(Msg(t, m.group(2), m.group(3)))


def req(method, rx):
    return [m for m in M if m.method == method and m.rx == rx]


def resp(code, cseq, rx):
    return [m for m in M if m.code == code and m.rx == rx and m.h("CSeq").endswith(" " + cseq)]


def tag(v):
    return (re.findall(r";\s*tag=([^;>\s]+)", v) or [""])[0]


def cseq(m):
    return int(m.h("CSeq").split()[0])


print(eval(sys.argv[2]))
