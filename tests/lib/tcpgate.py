#!/usr/bin/env python3
"""tcpgate.py: a TCP forwarder whose link can be black-holed, for the drills.

    tcpgate.py --listen 127.0.0.1:PORT --to 127.0.0.1:PGPORT --control FILE [--seconds N]

While FILE says "block", bytes stop moving both ways on every connection and
new connections are accepted but not forwarded: nothing is closed or reset,
as when a switch or a firewall drops a link's packets. "open" lets everything
through again (the bytes held meanwhile included). Exits after --seconds.
"""
import argparse
import selectors
import socket
import sys
import time


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, type=addr)
    ap.add_argument("--to", required=True, type=addr)
    ap.add_argument("--control", required=True)
    ap.add_argument("--seconds", type=float, default=120)
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(a.listen)
    lsock.listen(64)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    peer = {}      # socket -> its other end
    pending = {}   # socket -> bytes waiting to be written to it
    waiting = []   # accepted while blocked: connected upstream on open
    blocked = False
    end = time.time() + a.seconds
    last_check = 0.0

    def close(s):
        for x in (s, peer.get(s)):
            if x is None:
                continue
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()
            peer.pop(x, None)
            pending.pop(x, None)

    def connect(c):
        try:
            u = socket.create_connection(a.to, timeout=3)
        except OSError as e:
            print("tcpgate: upstream refused: %s" % e, file=sys.stderr, flush=True)
            c.close()
            return
        u.setblocking(False)
        c.setblocking(False)
        peer[c], peer[u] = u, c
        pending[c], pending[u] = b"", b""
        sel.register(c, selectors.EVENT_READ, "conn")
        sel.register(u, selectors.EVENT_READ, "conn")

    while time.time() < end:
        now = time.time()
        if now - last_check > 0.05:
            last_check = now
            try:
                want = open(a.control).read().strip() == "block"
            except OSError:
                want = False
            if want != blocked:
                blocked = want
                print("tcpgate: %s (%d connections)" % ("blocked" if blocked else "open",
                      len(peer) // 2), file=sys.stderr, flush=True)
                if not blocked:
                    for c in waiting:
                        connect(c)
                    waiting.clear()
        for key, _ in sel.select(timeout=0.02):
            s = key.fileobj
            if key.data is None:
                c, _ = lsock.accept()
                if blocked:
                    waiting.append(c)
                else:
                    connect(c)
                continue
            if blocked or s not in peer:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close(s)
                continue
            pending[peer[s]] += data
        if not blocked:
            for s, buf in list(pending.items()):
                if buf and s in peer:
                    try:
                        n = s.send(buf)
                    except BlockingIOError:
                        n = 0
                    except OSError:
                        close(s)
                        continue
                    pending[s] = buf[n:]
        elif peer:
            time.sleep(0.01)    # readable sockets are left unread while blocked
    return 0


if __name__ == "__main__":
    sys.exit(main())
