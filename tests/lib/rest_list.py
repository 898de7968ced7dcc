#!/usr/bin/python3
"""rest_list.py: rest_list's calls and its python3-twilio checks of the call list (contract:
GET .../Calls.json with To, From, Status, ParentCallSid, StartTime, StartTime<, StartTime>,
EndTime, EndTime<, EndTime>, PageSize <= 1000, Page, PageToken, and dialerd's extensions
SipResponseCode and SipHeader_<name>=<value>; DELETE of a finished call, 404 afterwards; a
fetch of a call that ended over 60 s ago, from the call log; .../SipMessages.json).

  rest_list.py setup BASE SID TOKEN WORK UAS1 UAS2 UAS3 WH
      creates the calls (python3-twilio), writes WORK/calls.json:
        A  To sip:bob@UAS1?X-Customer=42, From +15550100, answered      -> completed, 200
        B  To sip:busy@UAS2?X-Customer=43, From +15550200, 486          -> busy, 486
           (then 2 s: "mid", between the first two calls and the rest)
        P  To sip:bob@UAS1?X-Customer=44, From +15550300, Twiml <Dial><Sip> sip:carol@UAS3
           ?X-Customer=45 -> C, its outbound-dial child (its SID from its status callback)
  rest_list.py check BASE SID TOKEN WORK      the list queries (tests/lib/rest_list.json)
  rest_list.py after BASE SID TOKEN WORK      DELETE, the fetch from the call log, SipMessages
  rest_list.py paging BASE SID TOKEN WORK N   N calls To sip:bulk@paging.test (rows the case
      inserted): list() with page_size=1000 walks every one of them through next_page_uri
Prints "ok - ..." / "not ok - ..."; exits 1 when a check failed.
"""
import datetime
import json, os
import sys
import time
import urllib.parse

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

bad = 0


def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + "python3-twilio: " + what, flush=True)
    bad += 0 if cond else 1


def client(base, sid, token):
    c = Client(sid, token)
    c.api.base_url = base
    return c


def wait_final(c, sid, secs):
    end = time.time() + secs
    while time.time() < end:
        x = c.calls(sid).fetch()
        if x.status not in ("queued", "ringing", "in-progress"):
            return x
        time.sleep(0.1)
    return c.calls(sid).fetch()


def raw(c, base, path, params=None, method="GET"):
    """The client's own request(): (status, parsed JSON or None)."""
    r = c.request(method, base + path, params=params or {})
    try:
        return r.status_code, json.loads(r.text) if r.text else None
    except ValueError:
        return r.status_code, None


def setup(base, sid, token, work, uas1, uas2, uas3, wh):
    c = client(base, sid, token)
    hook = "http://127.0.0.1:%s" % wh
    ids = {}
    a = c.calls.create(to="sip:bob@127.0.0.1:%s?X-Customer=42" % uas1, from_="+15550100",
                       twiml="<Response><Pause length=\"1\"/><Hangup/></Response>",
                       sip_auth_username="alice", sip_auth_password="secret", timeout=10)
    ids["A"] = a.sid
    b = c.calls.create(to="sip:busy@127.0.0.1:%s?X-Customer=43" % uas2, from_="+15550200",
                       twiml="<Response><Hangup/></Response>", timeout=10)
    ids["B"] = b.sid
    fa = wait_final(c, a.sid, 20)
    fb = wait_final(c, b.sid, 20)
    check(fa.status == "completed", "A completed (%s)" % fa.status)
    check(fb.status == "busy", "B busy (%s)" % fb.status)
    time.sleep(2)
    mid = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    time.sleep(2)
    p = c.calls.create(to="sip:bob@127.0.0.1:%s?X-Customer=44" % uas1, from_="+15550300",
                       twiml="<Response><Dial timeLimit=\"1\"><Sip statusCallback=\"%s/child\" "
                             "statusCallbackEvent=\"completed\">sip:carol@127.0.0.1:%s?X-Customer=45"
                             "</Sip></Dial></Response>" % (hook, uas3),
                       sip_auth_username="alice", sip_auth_password="secret", timeout=10)
    ids["P"] = p.sid
    fp = wait_final(c, p.sid, 30)
    check(fp.status == "completed", "P completed (%s)" % fp.status)
    child = None
    end = time.time() + 15
    while not child and time.time() < end:
        for line in open(work + "/requests.log"):
            r = json.loads(line)
            if r["path"] == "/child":
                f = dict(r["form"] or [])
                if f.get("ParentCallSid") == p.sid:
                    child = f["CallSid"]
        time.sleep(0.1)
    check(child is not None, "P's child reported its end: %s" % child)
    ids["C"] = child
    ids["mid"] = mid.strftime("%Y-%m-%dT%H:%M:%SZ")
    ids["day"] = mid.strftime("%Y-%m-%d")
    ids["uas2"] = uas2
    ids["A_end"] = fa.end_time.timestamp()
    # A as fetched from memory, to compare with the same call read from the call log later
    ids["A_json"] = raw(c, base, "/2010-04-01/Accounts/%s/Calls/%s.json" % (sid, a.sid))[1]
    json.dump(ids, open(work + "/calls.json", "w"))


def queries(ids):
    """(name, params, expected set of names): the same for every client."""
    q = json.load(open(__file__.replace(".py", ".json")))
    out = []
    for name, params, want in q:
        params = {k: v.format(**ids) for k, v in params.items()}
        out.append((name, params, want))
    return out


def check_lists(base, sid, token, work):
    ids = json.load(open(work + "/calls.json"))
    c = client(base, sid, token)
    names = {ids[k]: k for k in ("A", "B", "P", "C")}
    path = "/2010-04-01/Accounts/%s/Calls.json" % sid
    typed = {"To": "to", "From": "from_", "Status": "status", "ParentCallSid": "parent_call_sid",
             "StartTime": "start_time", "StartTime<": "start_time_before",
             "StartTime>": "start_time_after", "EndTime": "end_time",
             "EndTime<": "end_time_before", "EndTime>": "end_time_after"}
    for name, params, want in queries(ids):
        got = None
        try:
            if all(k in typed for k in params):
                kw = {typed[k]: v for k, v in params.items()}
                got = [x.sid for x in c.calls.list(**kw)]
                how = "list()"
            else:
                st, j = raw(c, base, path, params)
                got = [x["sid"] for x in (j or {}).get("calls", [])] if st == 200 else None
                how = "request() %s" % st
        except TwilioRestException as x:
            how = "%s %s" % (x.status, x.code)
        except TwilioException as x:
            how = str(x)[:120]
        got_names = sorted(names.get(s, s) for s in got) if got is not None else None
        check(got_names == sorted(want), "%s: %s -> %s (%s, want %s)"
              % (name, urllib.parse.urlencode(params), got_names, how, sorted(want)))

    # paging, on the wire: PageSize=1 walks the four calls through next_page_uri
    st, j = raw(c, base, path, {"PageSize": "1"})
    seen, pages = [], 0
    while st == 200 and j and pages < 10:
        pages += 1
        check(sorted(j) == sorted(["calls", "uri", "first_page_uri", "next_page_uri",
                                   "previous_page_uri", "page", "page_size", "start", "end"]),
              "page %d: the envelope's keys %s" % (pages, sorted(j)))
        check(j.get("page") == pages - 1 and j.get("page_size") == 1 and len(j["calls"]) == 1,
              "page %d: page %s, page_size %s, %d call" % (pages, j.get("page"),
                                                          j.get("page_size"), len(j["calls"])))
        seen += [x["sid"] for x in j["calls"]]
        if not j.get("next_page_uri"):
            break
        st, j = raw(c, base, j["next_page_uri"])
    check(sorted(names.get(s, s) for s in seen) == ["A", "B", "C", "P"] and pages == 4,
          "PageSize=1: four pages, each call once (%s)" % [names.get(s, s) for s in seen])
    # the client's own paging gives the same
    try:
        got = [x.sid for x in c.calls.list(page_size=1)]
    except TwilioException as x:
        got = [str(x)[:120]]
    check(sorted(names.get(s, s) for s in got) == ["A", "B", "C", "P"],
          "list(page_size=1) follows the pages: %s" % [names.get(s, s) for s in got])
    st, j = raw(c, base, path, {"PageSize": "1001"})
    check(st == 400 and j and j.get("status") == 400,
          "PageSize=1001: 400 (%s %s)" % (st, j and j.get("code")))
    st, j = raw(c, base, path, {"Status": "bogus"})
    check(st == 400 or (st == 200 and j and j["calls"] == []),
          "Status=bogus: refused or empty (%s)" % st)


def after(base, sid, token, work):
    ids = json.load(open(work + "/calls.json"))
    c = client(base, sid, token)
    one = "/2010-04-01/Accounts/%s/Calls/%s.json"
    # SipMessages of A: its INVITEs (the first challenged), with the To URI's header
    st, j = raw(c, base, "/2010-04-01/Accounts/%s/Calls/%s/SipMessages.json" % (sid, ids["A"]))
    text = json.dumps(j) if j else ""
    check(st == 200 and "INVITE" in text and "X-Customer" in text and "secret" not in text,
          "SipMessages.json of A: 200, its INVITE with X-Customer, no password (%s)" % st)
    # DELETE: a finished call goes, then is 404 and out of the list
    try:
        ok = c.calls(ids["B"]).delete()
        check(ok is True, "DELETE B: 204")
    except TwilioRestException as x:
        check(False, "DELETE B: 204 (%s %s)" % (x.status, x.code))
    for what, f in (("fetch", lambda: c.calls(ids["B"]).fetch()),
                    ("DELETE again", lambda: c.calls(ids["B"]).delete())):
        try:
            f()
            check(False, "%s of the deleted call: 404" % what)
        except TwilioRestException as x:
            check(x.status == 404 and x.code == 20404, "%s of the deleted call: 404 20404 (%s %s)"
                  % (what, x.status, x.code))
    try:
        got = [x.sid for x in c.calls.list()]
        check(ids["B"] not in got and ids["A"] in got, "the list no longer has B")
        got = [x.sid for x in c.calls.list(to="sip:busy@127.0.0.1:%s" % ids["uas2"])]
        check(got == [], "To=B's To: nothing")
    except TwilioException as x:
        check(False, "the list after DELETE: %s" % str(x)[:120])
    # a call that ended over api_recent_seconds ago is read from the call log, and reads the same
    recent = int(os.environ.get("DIALERD_API_RECENT_SECONDS", "60"))
    wait = ids["A_end"] + recent + 2 - time.time()
    if wait > 0:
        print("# waiting %.0f s for A to be over %d s old" % (wait, recent), flush=True)
        time.sleep(wait)
    st, j = raw(c, base, one % (sid, ids["A"]))
    old = ids["A_json"] or {}
    keys = ["sid", "account_sid", "parent_call_sid", "to", "from", "status", "direction",
            "start_time", "end_time", "duration", "date_created", "uri", "api_version"]
    diff = [k for k in keys if (j or {}).get(k) != old.get(k)]
    check(st == 200 and not diff, "A after api_recent_seconds (from the call log) reads as it did from memory"
          " (%s; differs: %s)" % (st, ["%s: %r != %r" % (k, (j or {}).get(k), old.get(k))
                                        for k in diff]))
    try:
        x = c.calls(ids["C"]).fetch()
        check(x.parent_call_sid == ids["P"] and x.direction == "outbound-dial",
              "C from the call log: P's outbound-dial child")
    except TwilioRestException as x:
        check(False, "C from the call log: %s %s" % (x.status, x.code))


def paging(base, sid, token, work, n):
    """Pages of the largest size: the page past a full one must be announced."""
    c = client(base, sid, token)
    to = "sip:bulk@paging.test"
    path = "/2010-04-01/Accounts/%s/Calls.json" % sid
    st, j = raw(c, base, path, {"To": to, "PageSize": "1000"})
    got = len((j or {}).get("calls") or [])
    check(st == 200 and got == 1000 and (j or {}).get("next_page_uri"),
          "PageSize=1000 of %d calls: 1000 of them and a next_page_uri (%s, %d, %r)"
          % (n, st, got, (j or {}).get("next_page_uri")))
    if (j or {}).get("next_page_uri"):
        st, k = raw(c, base, j["next_page_uri"])
        rest = len((k or {}).get("calls") or [])
        check(st == 200 and rest == n - 1000 and not (k or {}).get("next_page_uri"),
              "its next page: the other %d, and no next_page_uri (%s, %d)" % (n - 1000, st, rest))
    calls = c.calls.list(to=to, page_size=1000)
    sids = [x.sid for x in calls]
    check(len(sids) == n and len(set(sids)) == n,
          "list(page_size=1000): all %d calls, each once (%d, %d distinct)"
          % (n, len(sids), len(set(sids))))
    created = [x.date_created for x in calls]
    check(created == sorted(created, reverse=True), "newest first across the pages")


def main():
    cmd, base, sid, token, work = sys.argv[1:6]
    if cmd == "setup":
        setup(base, sid, token, work, *sys.argv[6:10])
    elif cmd == "check":
        check_lists(base, sid, token, work)
    elif cmd == "after":
        after(base, sid, token, work)
    elif cmd == "paging":
        paging(base, sid, token, work, int(sys.argv[6]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
