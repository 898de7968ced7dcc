#!/usr/bin/env python3
"""garbage.py PORT: a TCP server that answers every connection with
"HELLO\\r\\n\\r\\n" instead of HTTP (once the request has arrived) and closes."""
import socket
import sys
import threading


def serve(c):
    try:
        c.settimeout(5)
        c.recv(65536)
        c.sendall(b"HELLO\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("garbage listening on 127.0.0.1:%s" % sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
