#!/usr/bin/env python3
"""blackhole.py PORT: a listening socket that never accepts, its accept queue
filled by connections of its own, so that the kernel drops every further
SYN: a connect() to PORT neither succeeds nor is refused (a connect timeout)."""
import socket
import sys
import time

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
print("blackhole listening on 127.0.0.1:%d" % port, flush=True)
while True:
    time.sleep(3600)
