#!/usr/bin/env python3
"""webhook.py: a real HTTP server for the tests that answers configured
responses per path and records every request as one JSON line.

Each log line holds the request, the client's source port ("peer_port":
one port per connection, so a case can count connections) and the status it
was answered with ("status", null when the connection was dropped).
Routes file (JSON, re-read on every request so a case can change it):
  {"/voice": {"status": 200, "content_type": "text/xml",
              "body": "<Response/>", "delay_ms": 0, "headers": {}},
   "default": {"status": 404, "body": ""}}
A route value may also be a list: the n-th request to that path gets the
n-th entry (the last one repeats), for retry and fallback tests.
"content_type": null sends no Content-Type header. With --tls-cert and
--tls-key the server speaks HTTPS. With --idle-timeout-ms N it closes a
keep-alive connection that has been idle N ms, quietly.
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counts = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def route(self, path):
        try:
            with open(self.server.routes_file) as f:
                routes = json.load(f)
        except (OSError, ValueError):
            routes = {}
        r = routes.get(path, routes.get("default", {"status": 404, "body": ""}))
        if isinstance(r, list):
            with lock:
                n = counts.get(path, 0)
                counts[path] = n + 1
            r = r[min(n, len(r) - 1)]
        return r

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        ctype = self.headers.get("Content-Type", "")
        form = None
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                          keep_blank_values=True)
        rec = {
            "at": time.time(),
            "peer_port": self.client_address[1],
            "method": self.command,
            "path": parsed.path,
            "url": self.path,
            "query": urllib.parse.parse_qsl(parsed.query, keep_blank_values=True),
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(body).decode(),
            "form": form,
        }
        r = self.route(parsed.path)
        rec["status"] = None if r.get("drop") else int(r.get("status", 200))
        with lock:
            with open(self.server.log_file, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if r.get("delay_ms"):
            time.sleep(r["delay_ms"] / 1000.0)
        if r.get("drop"):
            self.close_connection = True
            return
        out = r.get("body", "").encode()
        self.send_response(int(r.get("status", 200)))
        ctype = r.get("content_type", "text/xml")
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        for k, v in r.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--idle-timeout-ms", type=int)
    a = ap.parse_args()
    if a.idle_timeout_ms:
        # the socket's timeout: handle_one_request takes a timed-out read of
        # the next request line as the end of the connection (and says so
        # through log_message, which is silent here)
        Handler.timeout = a.idle_timeout_ms / 1000.0
    # a burst of connections (retries of many callbacks at once) must not
    # overflow socketserver's default backlog of 5 and wait for SYN retries
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.daemon_threads = True
    srv.routes_file = a.routes
    srv.log_file = a.log
    open(a.log, "a").close()
    print("webhook listening on %s://127.0.0.1:%d" % ("https" if a.tls_cert else "http", a.port),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
