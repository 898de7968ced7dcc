#!/usr/bin/python3
"""rest_bad.py: rest_bad_input's refused requests, sent raw (http.client) so that every byte is
the case's choice, not a client library's.

  rest_bad.py BASE SID TOKEN UAS WH

Each request must get its status and the vendors' error JSON {code, message, more_info,
status} (the four keys, status equal to the HTTP status, more_info naming the code); a 401 also
WWW-Authenticate. Every To names the SIPp UAS on UAS, which must never see an INVITE (the shell
checks). Prints "ok - ..." / "not ok - ..." and exits 1 when a check failed.
"""
import base64
import http.client
import json
import socket
import sys
import urllib.parse

base, sid, token, uas, wh = sys.argv[1:6]
host = urllib.parse.urlsplit(base).netloc
bad = 0


def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    bad += 0 if cond else 1


def auth(user=sid, pw=token):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def send(method, path, body=None, headers=None, authz=True):
    h = {"Host": host}
    if authz is True:
        h["Authorization"] = auth()
    elif authz:
        h["Authorization"] = authz
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(body, str):
            body = body.encode()
    h.update(headers or {})
    c = http.client.HTTPConnection(host, timeout=10)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def error(what, r, data, status, code=None):
    """The status, and the error JSON with exactly the four keys."""
    try:
        j = json.loads(data)
    except ValueError:
        check(False, "%s: %d with a JSON body (got %d %r)" % (what, status, r.status, data[:80]))
        return None
    ok = (r.status == status and isinstance(j, dict)
          and sorted(j) == ["code", "message", "more_info", "status"]
          and j["status"] == status and isinstance(j["code"], int)
          and (code is None or j["code"] == code)
          and j["more_info"].endswith("/%d" % j["code"]) and j["message"]
          and (r.getheader("Content-Type") or "").startswith("application/json"))
    check(ok, "%s: %d %s (%s)" % (what, status, code if code else j.get("code"), j.get("message")))
    return j


calls = "/2010-04-01/Accounts/%s/Calls.json" % sid
laml = "/api/laml/2010-04-01/Accounts/%s/Calls.json" % sid
one = "/2010-04-01/Accounts/%s/Calls/CA%s.json" % (sid, "0" * 32)
to = "sip:bob@127.0.0.1:%s" % uas
hook = "http://127.0.0.1:%s/answer" % wh


def create(what, status, code, path=calls, **over):
    p = {"To": to, "From": "+15550100", "Url": hook}
    p.update(over)
    p = {k: v for k, v in p.items() if v is not None}
    r, data = send("POST", path, urllib.parse.urlencode(p, doseq=True))
    return error(what, r, data, status, code)


# authentication
for what, authz, path in (
        ("no Authorization", False, calls),
        ("wrong token", auth(pw="wrong"), calls),
        ("token with a suffix", auth(pw=token + "x"), calls),
        ("token's prefix", auth(pw=token[:-1]), calls),
        ("another account's SID", auth(user="AC" + "f" * 32), calls),
        ("not Basic", "Bearer " + token, calls),
        ("base64 that does not decode", "Basic !!!!", calls),
        ("no colon", "Basic " + base64.b64encode(sid.encode()).decode(), calls),
        ("wrong token, /api/laml", auth(pw="wrong"), laml),
        ("wrong token, fetch", auth(pw="wrong"), one)):
    r, data = send("GET", path, authz=authz)
    error("401: " + what, r, data, 401, 20003)
    check((r.getheader("WWW-Authenticate") or "").startswith("Basic realm="),
          "401: %s: WWW-Authenticate Basic" % what)
r, data = send("POST", calls, urllib.parse.urlencode({"To": to, "From": "+1555", "Url": hook}),
               authz=auth(pw="wrong"))
error("401: create with a wrong token", r, data, 401, 20003)

# the path
other = "AC" + "e" * 32
r, data = send("GET", "/2010-04-01/Accounts/%s/Calls.json" % other)
error("another AccountSid in the path (list)", r, data, 404, 20404)
r, data = send("GET", "/2010-04-01/Accounts/%s/Calls/CA%s.json" % (other, "1" * 32))
error("another AccountSid in the path (fetch)", r, data, 404, 20404)
r, data = send("POST", "/2010-04-01/Accounts/%s/Calls.json" % other,
               urllib.parse.urlencode({"To": to, "From": "+1555", "Url": hook}))
error("another AccountSid in the path (create)", r, data, 404, 20404)
for m in ("GET", "POST", "DELETE"):
    r, data = send(m, one, "Status=completed" if m == "POST" else None)
    error("unknown SID: " + m, r, data, 404, 20404)
r, data = send("GET", "/2010-04-01/Accounts/%s/Calls/CA%s/SipMessages.json" % (sid, "0" * 32))
check(r.status in (404, 503), "SipMessages of an unknown SID: %d" % r.status)
r, data = send("GET", "/2010-04-01/Accounts/%s/Calls/../../x" % sid)
check(r.status in (400, 404), "a path with ..: %d" % r.status)
for m in ("PUT", "PATCH", "OPTIONS"):
    r, data = send(m, calls, "")
    error(m + " on the list", r, data, 405, 20004)
r, data = send("PUT", one, "Status=completed")
error("PUT on a call", r, data, 405, 20004)

# To
create("no To", 400, 21201, To=None)
create("To that is not a URI", 400, 21211, To="hello world")
create("To a number without number_uri", 400, 21215, To="+15551234567")
create("To with %0d%0a in a header value", 400, 21229,
       To=to + "?X-Evil=a%0d%0aVia:%20SIP/2.0/UDP%20evil")
create("To with a raw CR LF", 400, 32110, To=to + "?X-Evil=a\r\nVia: SIP/2.0/UDP evil")
create("To with a Via header", 400, 13252, To=to + "?Via=SIP/2.0/UDP%20evil")
create("To with a Call-ID header", 400, 13252, To=to + "?Call-ID=fixed")
create("To with a CSeq header", 400, 13252, To=to + "?CSeq=1%20INVITE")
create("To with a Contact header", 400, 13252, To=to + "?Contact=%3Csip:evil%40h%3E")
create("To with an unescaped @ in a header value", 400, 32110, To=to + "?X-A=b@c")
create("To with a NUL", 400, 21229, To=to + "?X-A=%00")
create("To that is far too long", 400, 21227, To=to + "?X-Long=" + "a" * 5000)
create("no From", 400, 21213, From=None)
create("From with CR LF", 400, 21212, From="+1555\r\nX-Evil: 1")

# the body
r, data = send("POST", calls, "To=%zz&From=%2B1555&Url=" + urllib.parse.quote(hook, safe=""))
error("malformed form encoding (%zz)", r, data, 400, 20001)
r, data = send("POST", calls, "To=sip%3Abob%40h&From=%2B1555&Url=x%2")
error("a cut escape (%2 at the end)", r, data, 400, 20001)
r, data = send("POST", calls, "=nameless&From=1")
error("a field without a name", r, data, 400, 20001)
pad = "&X=" + "a" * (64 * 1024)
r, data = send("POST", calls, urllib.parse.urlencode({"To": to, "From": "+1555", "Url": hook}) + pad)
error("a body over 64 KiB", r, data, 413, 20413)
# over 1 MiB, the HTTP server refuses it from its Content-Length, before the body
s = socket.create_connection(host.rsplit(":", 1), timeout=10)
s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: "
           "application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
           % (calls, host, auth(), 2 << 20)).encode())
head = s.recv(4096).decode("latin-1")
s.close()
check(head.startswith("HTTP/1.1 413"), "a Content-Length over 1 MiB: 413 before the body (%r)"
      % head.split("\r\n")[0])
r, data = send("POST", calls, "&".join("P%d=1" % i for i in range(300)))
error("300 parameters", r, data, 400, 20001)
r, data = send("GET", calls[:-5] + "/CA%s.json?a=%%zz" % ("0" * 32))
error("malformed query string", r, data, 400, 20001)

# the document
create("no Url nor Twiml", 400, 21205, Url=None)
create("Url that is not http(s)", 400, 21205, Url="ftp://127.0.0.1/x")
create("Url that is relative", 400, 21205, Url="/answer")
create("Twiml of 4001 characters", 400, 21205, Url=None,
       Twiml="<Response><Hangup/></Response>" + " " * (4001 - 30))
# the 4000 are characters, not bytes: 3,000 two-byte characters are within it (the document's
# own error shows), 4,001 are not
create("Twiml of 3000 two-byte characters that does not parse: its parse error", 400, 12100,
       Url=None, Twiml="<Response><Hangup>" + "\u00e9" * 3000)
create("Twiml of 4001 two-byte characters", 400, 21205, Url=None,
       Twiml="<Response><Say>" + "\u00e9" * 4001 + "</Say></Response>")
create("invalid Twiml (not XML)", 400, 12100, Url=None, Twiml="<Response><Hangup></Response>")
create("invalid Twiml (not a Response)", 400, 12100, Url=None, Twiml="<Foo/>")
create("invalid Laml", 400, 12100, Url=None, Laml="<Response><Dial>")
create("Method PUT", 400, 21209, Method="PUT")
create("FallbackMethod DELETE", 400, 21209, FallbackUrl=hook, FallbackMethod="DELETE")
create("StatusCallbackMethod HEAD", 400, 21209, StatusCallback=hook, StatusCallbackMethod="HEAD")
create("FallbackUrl not a URL", 400, 21609, FallbackUrl="not a url")
create("StatusCallback not a URL", 400, 21609, StatusCallback="javascript:1")
for t in ("0", "601", "-1", "abc", "10s", "99999999999999999999"):
    create("Timeout=" + t, 400, 21208, Timeout=t)
create("TimeLimit=0", 400, 21208, TimeLimit="0")
create("StatusCallbackEvent=hangup", 400, 21626, StatusCallback=hook, StatusCallbackEvent="hangup")
create("StatusCallbackEvent list with one bad", 400, 21626, StatusCallback=hook,
       StatusCallbackEvent=["initiated", "ringing", "bogus"])
create("SipAuthUsername with a quote", 400, 21221, SipAuthUsername='a"b', SipAuthPassword="x")
create("SipAuthPassword of 256 characters", 400, 21223, SipAuthUsername="a",
       SipAuthPassword="p" * 256)
create("a bad To on /api/laml", 400, 13252, path=laml, To=to + "?Via=x")

# an update of an unknown call with a bad Status: 404 20404 or 400 21218
r, data = send("POST", one, "Status=bogus")
error("update of an unknown call with a bad Status", r, data, r.status,
      20404 if r.status == 404 else 21218)
check(r.status in (400, 404), "  (either check may come first: %d)" % r.status)
sys.exit(1 if bad else 0)
