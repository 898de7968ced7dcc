#!/bin/sh
# call_dial_sip: the product's thin path: an inbound INVITE with X- headers fetches the voice URL
# (SipHeader_* parameters), its <Dial action><Sip url statusCallback> dials a SIPp UAS with the
# URI's headers, the 200's X- headers reach the whisper (url, relative to the document) as
# SipHeader_* and the action as DialSipHeader_*, the bridge waits for the whisper, the caller's
# BYE ends both legs; every request is signed, and the call log holds both calls, their messages
# and requests. call_log_bodies = none: the messages' SDP is summarised, no body is stored.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"/action\" timeout=\"10\" sipHeaders=\"Foo=1\"><Sip url=\"whisper\" statusCallback=\"/status\" statusCallbackEvent=\"initiated ringing answered completed\">sip:bob@127.0.0.1:$UAS?X-Customer=42&amp;X-Note=a%20b&amp;Via=evil</Sip></Dial><Say>not reached</Say></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/whisper": {"status": 200, "content_type": "text/xml", "body": "<Response><Say>screening</Say><Pause length=\"1\"/></Response>"},
 "/status": {"status": 204, "body": ""},
 "/parent": {"status": 204, "body": ""}}
JSON

export DIALERD_STATUS_CALLBACK="http://127.0.0.1:$WH/parent"
export DIALERD_STATUS_CALLBACK_EVENT="ringing answered completed"
export DIALERD_LOG_LEVEL=debug
export DIALERD_CALL_LOG_BODIES=none
calls_start

sipp_start uas call_uas_hdrs.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
UAC=$(free_port)
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$UAC" -m 1 -d 3000
_d=$(( $(date +%s) + 10 ))
until curl -fsS "$DIALERD_URL/metrics" | grep -qx 'dialerd_calls_open 2'; do
	[ "$(date +%s)" -le $_d ] || fail "/metrics never showed the 2 open calls"
	sleep 0.1
done
pass "/metrics: 2 calls open while the caller talks"
sipp_wait uac 30
assert_eq "$?" 0 "caller: answered, talked, hung up"
sipp_wait uas 15
assert_eq "$?" 0 "dialled party: rang, answered, got the BYE"

uas=$(sipp_msg uas)
assert_match "$uas" 'X-Customer: 42' "the URI's header is on the outgoing INVITE"
assert_match "$uas" 'X-Note: a b' "percent-decoded"
assert_match "$uas" 'X-Twilio-CallSid: CA[0-9a-f]{32}' "with the child's SID"
printf '%s' "$uas" | grep -q '^Via: evil' && fail "a structural header from the URI reached the wire"
pass "Via from the URI refused"

# the requests, in order, and their parameters
calls_wait_requests /status 4 20 || fail "child status callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log") of 4"
calls_wait_requests /parent 2 20 || fail "parent status callbacks missing"
calls_wait_requests /action 1 20 || fail "no action request"
/usr/bin/python3 - "$WORK/requests.log" "$DIALERD_AUTH_TOKEN" "$WH" <<'PY' || fail "requests: see above"
import json, sys
log, token, port = sys.argv[1], sys.argv[2], sys.argv[3]
reqs = [r for r in map(json.loads, open(log)) if r["path"] != "/ping"]
def form(r): return dict(r["form"] or [])
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
voice = [r for r in reqs if r["path"] == "/voice"][0]
v = form(voice)
check(v["Direction"] == "inbound" and v["CallStatus"] == "ringing", "voice: inbound, ringing")
check(v["From"].startswith("sip:+15550199@127.0.0.1"), "voice: From is the From URI without display name or tag: " + v["From"])
check(v["To"].startswith("sip:+15550100@127.0.0.1"), "voice: To is the Request-URI")
check(v.get("CallerName") == "Carol Caller", "voice: CallerName from the display name")
check(v.get("ForwardedFrom") == "sip:+15550111@example.com", "voice: ForwardedFrom from Diversion")
check(v.get("SipHeader_X-Campaign") == "spring" and v.get("SipHeader_X-Lead-Id") == "4711", "voice: SipHeader_X-*")
check(v.get("SipCallId", "") != "", "voice: SipCallId")
check(v.get("SipSourceIp") == "127.0.0.1", "voice: SipSourceIp: %s" % v.get("SipSourceIp"))
st = [form(r) for r in reqs if r["path"] == "/status"]
check([s["CallStatus"] for s in st] == ["initiated", "ringing", "in-progress", "completed"],
      "child callbacks in order: %s" % [s["CallStatus"] for s in st])
check([s["SequenceNumber"] for s in st] == ["0", "1", "2", "3"], "SequenceNumber 0..3")
check(all(s["ParentCallSid"] == v["CallSid"] and s["Direction"] == "outbound-dial" for s in st), "child callbacks name the parent")
check(st[-1].get("SipResponseCode") is None or st[-1]["CallDuration"] != "", "completed carries CallDuration")
a = form([r for r in reqs if r["path"] == "/action"][0])
check(a["DialCallStatus"] == "completed", "action: DialCallStatus=completed (%s)" % a.get("DialCallStatus"))
check(a.get("DialSipHeader_X-Agent-Id") == "42" and a.get("DialSipHeader_X-Queue") == "sales", "action: DialSipHeader_* of the 200")
six = {"X-Agent-Id": "42", "X-Queue": "sales", "X-Skill": "billing", "X-Site": "lyon", "X-Team": "blue", "X-Priority": "7"}
check({k[len("DialSipHeader_"):]: v for k, v in a.items() if k.startswith("DialSipHeader_")} == six,
      "action: all six X- headers of the 200, no other: %s" % sorted(k for k in a if k.startswith("DialSipHeader_")))
check(a.get("DialSipResponseCode") == "200" and a.get("DialCallSid") == st[0]["CallSid"], "action: code and child SID")
check(a.get("DialBridged") == "true" and a.get("DialSipCallId", "") != "", "action: bridged, Call-ID")
p = [form(r)["CallStatus"] for r in reqs if r["path"] == "/parent"]
check(p[-1] == "completed", "parent's own callbacks end completed: %s" % p)
check(not any(r["path"] == "/say" for r in reqs), "verbs after an action Dial are not reached")
w = [r for r in reqs if r["path"] == "/whisper"]
check(len(w) == 1, "one whisper request")
wf = form(w[0])
check(wf["CallSid"] == st[0]["CallSid"] and wf["Direction"] == "outbound-dial", "whisper: about the child")
check(wf.get("SipHeader_X-Agent-Id") == "42" and wf.get("SipCallId", "") == a.get("DialSipCallId"), "whisper: the 200's X- headers and its Call-ID")
check(all(wf.get("SipHeader_" + k) == v for k, v in six.items()), "whisper: all six X- headers of the 200")
check(w[0]["at"] < [r for r in reqs if r["path"] == "/action"][0]["at"], "whisper before the action")
from twilio.request_validator import RequestValidator
val = RequestValidator(token)
ok = all(val.validate("http://127.0.0.1:%s%s" % (port, r["url"]), form(r),
                      dict(r["headers"]).get("X-Twilio-Signature")) for r in reqs)
check(ok, "python3-twilio validates all %d requests" % len(reqs))
sys.exit(1 if bad else 0)
PY
pass "webhook requests as Twilio sends them"

# the call log
_d=$(( $(date +%s) + 15 ))
until [ "$(q "select count(*) from calls where status = 'completed'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "calls: $(q "select sid, direction, status from calls")"
	sleep 0.2
done
pass "both calls completed in the call log"
parent=$(q "select sid from calls where direction = 'inbound'")
assert_eq "$(q "select count(*) from calls where parent_call_sid = '$parent' and direction = 'outbound-dial' and sip_response_code = 200")" 1 "the child names its parent"
assert_eq "$(q "select dial_call_status from calls where sid = '$parent'")" completed "dial_call_status stored"
child_cid=$(q "select sip_call_id from calls where parent_call_sid = '$parent'")
assert_eq "$child_cid" "$(q "select m.sip_call_id from sip_messages m join calls c on c.sid = m.call_sid where c.parent_call_sid = '$parent' and m.method = 'INVITE' and m.direction = 'out'")" "the child's row has its INVITE's Call-ID"
[ -n "$child_cid" ] || fail "the child's row has no Call-ID"
n=$(q "select count(*) from sip_messages where call_sid = '$parent'")
[ "$n" -ge 5 ] || fail "parent messages: $n"
pass "parent leg: $n SIP messages"
n=$(q "select count(*) from sip_messages where sdp is not null")
[ "$n" -ge 2 ] || fail "messages with SDP: $n"
assert_eq "$(q "select count(*) from sip_messages where body is not null or body_raw is not null or body_type is not null or body_length is not null")" 0 "call_log_bodies = none: no body stored ($n messages had SDP)"
assert_eq "$(q "select count(*) from sip_headers h join calls c on c.sid = h.call_sid where c.parent_call_sid = '$parent' and h.name = 'X-Agent-Id' and h.value = '42'")" 1 "the 200's X- header is in sip_headers"
assert_eq "$(q "select count(*) from webhook_requests where kind = 'status-callback' and response_status = 204")" 7 "7 status-callback attempts stored"
assert_eq "$(q "select count(*) from webhook_requests where call_sid = '$parent' and kind in ('voice', 'action')")" 2 "voice and action requests stored"
assert_eq "$(q "select count(*) from webhook_requests where kind = 'whisper' and response_status = 200")" 1 "the whisper request stored"
assert_eq "$(q "select count(*) from call_events where event = 'cxml-warning' and detail->>'verb' = 'Say'")" 1 "the whisper's <Say> is reported as not executed"
assert_eq "$(q "select code || '/' || source || '/' || ordinal from header_policy_events where call_sid = '$parent' and name = 'Via'")" "13252/uri/1" "the refused Via is recorded with its code, source and ordinal (after the <Dial>'s Foo)"
assert_eq "$(q "select source || '/' || ordinal from header_policy_events where call_sid = '$parent' and name = 'Foo'")" "dial-attr/0" "the <Dial sipHeaders> refusal's source"
assert_eq "$(q "select count(*) from call_header_values where parent_call_sid = '$parent' and name = 'X-Customer' and value = '42' and direction = 'out'")" 1 "call_header_values: the child INVITE's X-Customer"
assert_eq "$(q "select forwarded_from from calls where sid = '$parent'")" "sip:+15550111@example.com" "forwarded_from stored"
assert_eq "$(q "select count(*) from header_policy_events where call_sid = '$parent' and name = 'Foo'")" 1 "the <Dial sipHeaders> refusal is recorded, once"
grep -q "$DIALERD_AUTH_TOKEN" "$WORK/dialerd.log" && fail "the auth token reached the log"
pass "no token in the log"
m=$(curl -fsS "$DIALERD_URL/metrics")
assert_match "$m" 'dialerd_calls_open 0' "/metrics: none open afterwards"
assert_match "$m" 'dialerd_calls_total\{event="ended"\} 2' "/metrics: 2 ended"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
