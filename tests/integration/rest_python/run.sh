#!/bin/sh
# rest_python: Debian's python3-twilio, pointed at dialerd by base URL only, creates a call to a
# SIPp UAS with a sip: To carrying X- headers and digest credentials, fetches it while it rings
# and after it ended, hangs up a second live call (Status=completed) and redirects a third (Url);
# asserts on the returned objects, the INVITE on the wire, the webhooks and the call log.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/answer": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"2\"/><Hangup/></Response>"},
 "/long": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"30\"/><Hangup/></Response>"},
 "/moved": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
calls_start
sipp_start uas uas_rest.xml -i 127.0.0.1 -p "$UAS" -m 3
dial_wait_port udp "$UAS"

/usr/bin/python3 - "$DIALERD_URL" "$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" "$UAS" "$WH" \
	>"$WORK/client.out" 2>&1 <<'PY'
import sys, time
from twilio.rest import Client
from twilio.base.exceptions import TwilioRestException
base, sid, token, uas, wh = sys.argv[1:6]
client = Client(sid, token)
client.api.base_url = base
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    bad += 0 if cond else 1
to = "sip:bob@127.0.0.1:%s?X-Customer=42&X-Note=a%%20b" % uas
hook = "http://127.0.0.1:%s" % wh
def create(url):
    return client.calls.create(to=to, from_="+15550100", url=hook + url,
        status_callback=hook + "/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        sip_auth_username="alice", sip_auth_password="secret", timeout=20)
def wait(call_sid, want, secs):
    end = time.time() + secs
    while time.time() < end:
        c = client.calls(call_sid).fetch()
        if c.status in want:
            return c
        time.sleep(0.05)
    return client.calls(call_sid).fetch()

c = create("/answer")
check(c.sid.startswith("CA") and len(c.sid) == 34, "create: a call SID " + c.sid)
check(c.status == "queued", "create: status queued (%s)" % c.status)
check(c.direction == "outbound-api", "create: direction outbound-api")
check(c.to == "sip:bob@127.0.0.1:%s" % uas, "create: to is the URI without its headers: %s" % c.to)
check(c.from_ == "+15550100", "create: from as given")
check(c.api_version == "2010-04-01", "create: api_version")
check(c.uri == "/2010-04-01/Accounts/%s/Calls/%s.json" % (sid, c.sid), "create: uri")
check(c.price is None and c.end_time is None and c.duration is None, "create: unknown fields are null")
r = wait(c.sid, ("ringing",), 10)
check(r.status == "ringing", "fetch while ringing: ringing")
check(r.start_time is not None, "fetch while ringing: start_time set")
a = wait(c.sid, ("in-progress",), 10)
check(a.status == "in-progress", "fetch after answer: in-progress")
e = wait(c.sid, ("completed",), 15)
check(e.status == "completed", "fetch after the end: completed")
check(e.duration is not None and 1 <= int(e.duration) <= 4, "duration %s s" % e.duration)
check(e.end_time is not None and e.end_time >= e.start_time, "end_time after start_time")
print("first %s" % c.sid, flush=True)

# a second call hung up through the API while it talks
c2 = create("/long")
wait(c2.sid, ("in-progress",), 10)
u = client.calls(c2.sid).update(status="completed")
check(u.sid == c2.sid, "update Status=completed answers the call")
e2 = wait(c2.sid, ("completed",), 10)
check(e2.status == "completed", "the hung-up call is completed")
print("second %s" % c2.sid, flush=True)

# a third one redirected to another document, which hangs up
c3 = create("/long")
wait(c3.sid, ("in-progress",), 10)
client.calls(c3.sid).update(url=hook + "/moved", method="POST")
e3 = wait(c3.sid, ("completed",), 10)
check(e3.status == "completed", "the redirected call ran /moved and hung up")
print("third %s" % c3.sid, flush=True)

# errors, as the client raises them
try:
    client.calls("CA" + "0" * 32).fetch()
    check(False, "unknown SID: 404")
except TwilioRestException as x:
    check(x.status == 404 and x.code == 20404, "unknown SID: 404 20404 (%s %s)" % (x.status, x.code))
try:
    client.calls.create(to="sip:bob@127.0.0.1?Via=evil", from_="+1555", url=hook + "/answer")
    check(False, "a structural header in To: refused")
except TwilioRestException as x:
    check(x.status == 400, "a structural header in To: 400 %s: %s" % (x.code, x.msg))
try:
    client.calls.create(to="sip:bob@127.0.0.1", from_="+1555")
    check(False, "no Url: refused")
except TwilioRestException as x:
    check(x.status == 400 and x.code == 21205, "no Url: 400 21205")
try:
    Client(sid, "wrong-token").api.base_url = base
    cl2 = Client(sid, "wrong-token"); cl2.api.base_url = base
    cl2.calls(c.sid).fetch()
    check(False, "wrong credentials: refused")
except TwilioRestException as x:
    check(x.status == 401 and x.code == 20003, "wrong credentials: 401 20003")
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$WORK/client.out"
grep '^ok -' "$WORK/client.out" | while read -r _ _ what; do pass "client: $what"; done
assert_eq "$rc" 0 "python3-twilio: every check passed"
first=$(sed -n 's/^first //p' "$WORK/client.out")
second=$(sed -n 's/^second //p' "$WORK/client.out")

sipp_wait uas 20
assert_eq "$?" 0 "far end: three calls challenged, authenticated, answered, hung up by dialerd"
uas=$(sipp_msg uas)
assert_match "$uas" 'X-Customer: 42' "the To URI's header is on the INVITE"
assert_match "$uas" 'X-Note: a b' "percent-decoded"
assert_match "$uas" "X-Twilio-CallSid: $first" "the INVITE carries the call's SID"
assert_match "$uas" 'From: <sip:\+15550100@' "From user from the From parameter"
printf '%s' "$uas" | grep -q 'secret' && fail "the password crossed the wire"
pass "the password never crossed the wire (digest only)"

# webhooks: the answer document was fetched as an outbound-api call, the status callbacks
# came in order, and every request is signed
calls_wait_requests /status 12 20 || fail "status callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log") of 12"
/usr/bin/python3 - "$WORK/requests.log" "$first" <<'PY' || fail "webhooks: see above"
import json, sys
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] != "/ping"]
first = sys.argv[2]
def form(r): return dict(r["form"] or [])
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
ans = [form(r) for r in reqs if r["path"] == "/answer"]
check(len(ans) == 1, "one /answer request")
a = ans[0]
check(a["CallSid"] == first and a["Direction"] == "outbound-api" and a["CallStatus"] == "in-progress",
      "answer: the call, outbound-api, in-progress")
st = [form(r) for r in reqs if r["path"] == "/status" and form(r)["CallSid"] == first]
check([s["CallStatus"] for s in st] == ["initiated", "ringing", "in-progress", "completed"],
      "status callbacks in order: %s" % [s["CallStatus"] for s in st])
check([s["SequenceNumber"] for s in st] == ["0", "1", "2", "3"], "SequenceNumber 0..3")
sys.exit(1 if bad else 0)
PY
pass "webhooks as expected"
calls_signatures_ok

# the call log, once the daemon stopped (rows are batched)
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
n=$(psql -At "$DATABASE_URL" -c "select count(*) from calls where direction = 'outbound-api'")
assert_eq "$n" 3 "three outbound-api calls in the log"
st=$(psql -At "$DATABASE_URL" -c "select status from calls where sid = '$second'")
assert_eq "$st" completed "the hung-up call: completed"
ev=$(psql -At "$DATABASE_URL" -c "select count(*) from call_events where call_sid = '$second' and event = 'api-hangup'")
assert_eq "$ev" 1 "an api-hangup event"
n=$(psql -At "$DATABASE_URL" -c "select count(*) from sip_headers h join sip_messages m on m.call_sid = h.call_sid and m.seq = h.msg_seq
	where h.call_sid = '$first' and m.direction = 'in' and h.name = 'X-Answer-Id'")
assert_eq "$n" 1 "the 200's X- header is in the log"
# the last message of the leg, the 200 to dialerd's BYE, comes after the leg ended: logged too
n=$(psql -At "$DATABASE_URL" -c "select count(*) from sip_messages where call_sid = '$first'
	and direction = 'in' and status_code = 200 and seq > (select seq from sip_messages
	where call_sid = '$first' and direction = 'out' and method = 'BYE')")
assert_eq "$n" 1 "the 200 to our BYE is in the call log"
psql -At "$DATABASE_URL" -c "select encode(headers, 'escape') from sip_messages where call_sid = '$first'" |
	grep -q secret && fail "the password is in the call log"
pass "no password in the call log"
grep -q 'secret' "$WORK/dialerd.log" && fail "the password is in dialerd's log"
pass "no password in dialerd's log"
