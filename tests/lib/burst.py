#!/usr/bin/env python3
"""burst.py PORT N OUT.json: N INVITEs to 127.0.0.1:PORT as fast as one socket
sends them, then one more after the burst; records every response per Call-ID.
Run by dial_burst in tests/lib/dial.sh."""
import json
import socket
import sys
import time

port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
me = s.getsockname()[1]
SDP = ("v=0\r\no=burst 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:8 PCMA/8000\r\n")


def invite(cid):
    return ("INVITE sip:burst@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s\r\n"
            "From: <sip:caller@127.0.0.1:%d>;tag=t-%s\r\n"
            "To: <sip:burst@127.0.0.1:%d>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:caller@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n"
            "X-Burst: %s\r\nContent-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s"
            % (port, me, cid, me, cid, port, cid, me, cid, len(SDP), SDP)).encode()


def collect(seconds, got):
    end = time.time() + seconds
    s.settimeout(0.05)
    while time.time() < end:
        try:
            data = s.recv(65535).decode("utf-8", "replace")
        except socket.timeout:
            continue
        head = data.split("\r\n\r\n", 1)[0].split("\r\n")
        code = int(head[0].split()[1])
        hdrs = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), v.strip())
        got.setdefault(hdrs.get("call-id", "?"), []).append(
            {"code": code, "retry_after": hdrs.get("retry-after"),
             "to": hdrs.get("to", "")})


got = {}
cids = ["burst-%05d@127.0.0.1" % i for i in range(n)]
t0 = time.time()
for c in cids:
    s.sendto(invite(c), ("127.0.0.1", port))
sent_s = time.time() - t0
collect(1.5, got)
probe = "probe@127.0.0.1"
s.sendto(invite(probe), ("127.0.0.1", port))
collect(0.7, got)
json.dump({"sent": cids, "probe": probe, "send_seconds": sent_s,
           "responses": got}, open(out, "w"))
