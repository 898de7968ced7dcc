#!/usr/bin/python3
"""validate_sig.py: checks the signature of every request recorded by
webhook.py with Debian's python3-twilio RequestValidator.

  /usr/bin/python3 validate_sig.py [--token T] [--base URL] [--path P]... LOG

LOG is webhook.py's JSON-lines log. The URL given to the validator is BASE
(default: http:// + the request's Host header) + the request target exactly
as it crossed the wire (path and query). POST form parameters come from the
recorded body; a GET has none (they are in the URL). --path keeps only the
requests to that path (repeatable).

Prints "ok - python3-twilio: ..." or "not ok - python3-twilio: ..." per
request and exits 0 when every request validated, 1 when one did not, 2
when there was nothing to check.
"""
import argparse
import json
import sys
import urllib.parse

from twilio.request_validator import RequestValidator

LIB = "python3-twilio"


def header(rec, name):
    for k, v in rec["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", default="12345")
    ap.add_argument("--base")
    ap.add_argument("--path", action="append")
    ap.add_argument("log")
    a = ap.parse_args()
    v = RequestValidator(a.token)
    n = bad = 0
    with open(a.log) as f:
        for i, line in enumerate(f, 1):
            rec = json.loads(line)
            if a.path and rec["path"] not in a.path:
                continue
            base = a.base or "http://" + (header(rec, "Host") or "")
            url = base + rec["url"]
            params = {}
            if rec["method"] == "POST":
                pairs = urllib.parse.parse_qsl(rec["body"], keep_blank_values=True)
                names = [k for k, _ in pairs]
                if len(set(names)) != len(names):
                    print("not ok - %s: #%d %s %s repeats a parameter name" % (LIB, i, rec["method"], url))
                    bad += 1
                    n += 1
                    continue
                params = dict(pairs)
            sig = header(rec, "X-Twilio-Signature")
            ok = sig is not None and v.validate(url, params, sig)
            n += 1
            if not ok:
                bad += 1
            print("%s - %s: #%d %s %s (%d params)" % ("ok" if ok else "not ok", LIB, i,
                                                     rec["method"], url, len(params)))
    if n == 0:
        print("not ok - %s: no request to check in %s" % (LIB, a.log))
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
