#!/usr/bin/env python3
"""junk.py PORT LOG: an HTTP/1.1 server that answers every request with a
keep-alive 200 text/xml "<Response/>" and then, 100 ms later, writes bytes
nobody asked for ("HTTP/1.1 200 OK\\r\\n\\r\\n") on the idle connection and
keeps it open. LOG gets one JSON line per request: the client's source port
("peer_port") and whether that connection had already carried junk
("after_junk": a client that sends there reads the junk as its answer);
"junk_skipped" when the next request came before the junk was due (the
case's timing did not hold)."""
import json
import select
import socket
import sys
import threading
import time

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 11\r\n\r\n<Response/>")
JUNK = b"HTTP/1.1 200 OK\r\n\r\n"
lock = threading.Lock()


def log(rec):
    with lock:
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps(rec) + "\n")


def read_request(c, buf):
    """One request (head and Content-Length body) from buf + c; None at EOF."""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(buf) < length:
        d = c.recv(65536)
        if not d:
            return None, b""
        buf += d
    return head.split(b"\r\n")[0].decode("latin-1"), buf[length:]


def serve(c, port):
    buf, junked = b"", False
    try:
        c.settimeout(30)	# a connection nobody closes ends with the case
        while True:
            line, buf = read_request(c, buf)
            if line is None:
                return
            log({"at": time.time(), "peer_port": port, "request": line,
                 "after_junk": junked})
            c.sendall(RESPONSE)
            time.sleep(0.1)
            r, _, _ = select.select([c], [], [], 0)
            if r and not buf and not c.recv(1, socket.MSG_PEEK):
                return	# the client closed it (the tool exits after its last fetch)
            if r or buf:
                log({"at": time.time(), "peer_port": port, "junk_skipped": True})
                continue
            c.sendall(JUNK)
            junked = True
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2], "a").close()
print("junk listening on 127.0.0.1:%s" % sys.argv[1], flush=True)
while True:
    c, addr = s.accept()
    threading.Thread(target=serve, args=(c, addr[1]), daemon=True).start()
