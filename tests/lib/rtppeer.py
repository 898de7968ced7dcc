#!/usr/bin/env python3
# rtppeer.py: an RTP/RTCP end point on loopback for the relay cases: sends a counted G.711 stream or echoes, and reports exactly what crossed its sockets
"""
usage: rtppeer.py echo PORT OUT.json [--seconds S] [--idle S]
       rtppeer.py send PORT OUT.json --to HOST:PORT [--rtp N] [--rtcp M]
                  [--seconds S] [--idle S]

Binds PORT (RTP) and PORT+1 (RTCP) on 127.0.0.1.
echo: sends every datagram back to its source from the socket it came in on.
send: sends N RTP packets (12-byte header + 160 bytes of PCMU, sequence
      0..N-1, 20 ms apart) to HOST:PORT and, after every N/M-th of them, an
      RTCP packet (52 bytes) to HOST:PORT+1; counts what comes back and
      checks it is byte-identical to what was sent (an echo at the far end).
Both stop after --idle seconds without traffic once some was seen (default
1.5) or --seconds in all (default 30), then write to OUT.json:
  {"rtp_rx":N,"rtp_rx_bytes":N,"rtcp_rx":N,"rtcp_rx_bytes":N,
   "rtp_tx":N,"rtp_tx_bytes":N,"rtcp_tx":N,"rtcp_tx_bytes":N,
   "sources":["ip:port",...],"mismatch":N}
"""
import json
import select
import socket
import sys
import time


def rtp(seq):
    hdr = bytes([0x80, 0x00, (seq >> 8) & 0xff, seq & 0xff]) + \
        (seq * 160).to_bytes(4, "big") + (0x5eed).to_bytes(4, "big")
    return hdr + bytes((seq + i) & 0xff for i in range(160))


def rtcp(n):
    # sender report, 52 bytes (RC=0 plus 24 bytes of padding-free filler)
    body = bytes([0x80, 200, 0x00, 12]) + (0x5eed).to_bytes(4, "big")
    return body + bytes((n + i) & 0xff for i in range(44))


def main():
    a = sys.argv[1:]
    if len(a) < 3 or a[0] not in ("echo", "send"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, port, out = a[0], int(a[1]), a[2]
    opt = {"--to": None, "--rtp": "100", "--rtcp": "0", "--seconds": "30",
           "--idle": "1.5"}
    i = 3
    while i < len(a):
        if a[i] not in opt or i + 1 >= len(a):
            print(__doc__, file=sys.stderr)
            return 2
        opt[a[i]] = a[i + 1]
        i += 2
    socks = []
    for p in (port, port + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", p))
        s.setblocking(False)
        socks.append(s)
    st = {"rtp_rx": 0, "rtp_rx_bytes": 0, "rtcp_rx": 0, "rtcp_rx_bytes": 0,
          "rtp_tx": 0, "rtp_tx_bytes": 0, "rtcp_tx": 0, "rtcp_tx_bytes": 0,
          "mismatch": 0}
    sources = set()
    sent = {}            # (kind, bytes) -> count, for the echo check
    plan = []            # (time, sock index, payload)
    t0 = time.monotonic()
    if mode == "send":
        host, tport = opt["--to"].rsplit(":", 1)
        dst = [(host, int(tport)), (host, int(tport) + 1)]
        n, m = int(opt["--rtp"]), int(opt["--rtcp"])
        every = n // m if m else 0
        k = 0
        for q in range(n):
            plan.append((t0 + 0.02 * q, 0, rtp(q)))
            if every and (q + 1) % every == 0 and k < m:
                plan.append((t0 + 0.02 * q + 0.005, 1, rtcp(k)))
                k += 1
    deadline = t0 + float(opt["--seconds"])
    idle = float(opt["--idle"])
    last = None
    while True:
        now = time.monotonic()
        while plan and plan[0][0] <= now:
            _, k, pkt = plan.pop(0)
            socks[k].sendto(pkt, dst[k])
            kind = "rtcp" if k else "rtp"
            st[kind + "_tx"] += 1
            st[kind + "_tx_bytes"] += len(pkt)
            sent[(k, pkt)] = sent.get((k, pkt), 0) + 1
            last = now
        if now >= deadline or (not plan and last and now - last >= idle):
            break
        wait = min(0.05, max(0.0, plan[0][0] - now)) if plan else 0.05
        r, _, _ = select.select(socks, [], [], wait)
        for s in r:
            k = socks.index(s)
            while True:
                try:
                    pkt, src = s.recvfrom(4096)
                except BlockingIOError:
                    break
                kind = "rtcp" if k else "rtp"
                st[kind + "_rx"] += 1
                st[kind + "_rx_bytes"] += len(pkt)
                sources.add("%s:%d" % src)
                last = time.monotonic()
                if mode == "echo":
                    s.sendto(pkt, src)
                    st[kind + "_tx"] += 1
                    st[kind + "_tx_bytes"] += len(pkt)
                elif sent.get((k, pkt), 0) > 0:
                    sent[(k, pkt)] -= 1
                else:
                    st["mismatch"] += 1
    st["sources"] = sorted(sources)
    with open(out + ".tmp", "w") as f:
        json.dump(st, f)
    import os
    os.rename(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
