#!/bin/sh
# call_outcomes: one daemon, one call after another, each document answering differently:
# <Reject reason="busy"> first (486, busy); a dead voice URL whose fallback fails too (500 with
# Reason "cXML error 11200", failed); a dead voice URL with a working fallback (ErrorCode,
# ErrorUrl; its <Reject/> is 603); a <Dial> whose target answers 486 with an X- header (action:
# busy, 486, DialSipHeader_X-Reject-Cause; its <Hangup/> BYEs the caller); a <Dial timeout="5">
# nobody answers (our CANCEL; no-answer); <Hangup/> first (answered, then BYE); a document that
# does not parse (its fallback gets ErrorCode=12100); a caller who gives up while the <Dial>
# rings (canceled: the child gets our CANCEL; the action is requested, its answer stored, not
# run); a target that answers 404 (failed); a <Dial> whose action fails (its fallback gets the
# Dial's parameters with ErrorCode and ErrorUrl).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
dial_doc() { # dial_doc TIMEOUT: a Dial of the UAS with an action
	printf '<Response><Dial action=\\"/action\\" timeout=\\"%s\\"><Sip>sip:bob@127.0.0.1:%s</Sip></Dial></Response>' "$1" "$UAS"
}
cat >"$WORK/routes.json" <<JSON
{"/voice": [
  {"status": 200, "content_type": "text/xml", "body": "<Response><Reject reason=\"busy\"/></Response>"},
  {"status": 500, "body": "oops"},
  {"status": 503, "body": "down"},
  {"status": 200, "content_type": "text/xml", "body": "$(dial_doc 30)"},
  {"status": 200, "content_type": "text/xml", "body": "$(dial_doc 5)"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial>not closed</Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/action\" answerOnBridge=\"true\"><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "$(dial_doc 30)"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/gone\"><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"}],
 "/gone": {"status": 500, "body": "down"},
 "/fallback": [
  {"status": 404, "body": ""},
  {"status": 200, "content_type": "application/xml", "body": "<Response><Reject/></Response>"}],
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"}}
JSON

export DIALERD_VOICE_FALLBACK_URL="http://127.0.0.1:$WH/fallback"
calls_start

call() { # call NAME SCENARIO: one call from a fresh SIPp caller
	sipp_start "$1" "$2" "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
	sipp_wait "$1" 40
}
status_of() { # status_of N: status of the N-th inbound call, once final
	_d=$(( $(date +%s) + 15 ))
	while :; do
		_s=$(q "select status || '/' || coalesce(sip_response_code::text, '-') from calls
			where direction = 'inbound' order by created_at offset $(($1 - 1)) limit 1")
		case $_s in completed/*|busy/*|failed/*|no-answer/*|canceled/*) break ;; esac
		[ "$(date +%s)" -le $_d ] || break
		sleep 0.2
	done
	printf '%s' "$_s"
}

call c1 call_uac_rejected.xml
assert_eq "$?" 0 "1: <Reject reason=busy> refused the caller"
assert_match "$(sipp_msg c1)" 'SIP/2.0 486 Busy Here' "1: 486 on the wire"
assert_eq "$(status_of 1)" "busy/486" "1: busy"

call c2 call_uac_rejected.xml
assert_eq "$?" 0 "2: refused"
assert_match "$(sipp_msg c2)" 'SIP/2.0 500 ' "2: 500 when voice URL and fallback fail"
assert_match "$(sipp_msg c2)" 'Reason: SIP;cause=500;text="cXML error 11200"' "2: the code in a Reason header"
assert_eq "$(status_of 2)" "failed/500" "2: failed"

call c3 call_uac_rejected.xml
assert_eq "$?" 0 "3: refused"
assert_match "$(sipp_msg c3)" 'SIP/2.0 603 ' "3: the fallback's <Reject/> is 603"
assert_eq "$(status_of 3)" "busy/603" "3: busy (603 reads busy)"

sed -e 's/\[code\]/486/' -e 's/\[phrase\]/Busy Here/' -e 's/\[cause\]/agent-busy/' \
	"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_486.xml"
sipp_start uas4 "$WORK/uas_486.xml" -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
call c4 call_uac_hungup.xml
assert_eq "$?" 0 "4: answered, then hung up on after the action"
sipp_wait uas4 10
assert_eq "$?" 0 "4: the target's 486 was ACKed"
assert_eq "$(status_of 4)" "completed/200" "4: the caller's call completed"

sipp_start uas5 uas_ring_cancel.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
start5=$(date +%s)
call c5 call_uac_hungup.xml
assert_eq "$?" 0 "5: answered, then hung up on after the no-answer"
sipp_wait uas5 10
assert_eq "$?" 0 "5: the target got our CANCEL"
el=$(( $(date +%s) - start5 ))
[ $el -ge 5 ] && [ $el -le 9 ] || fail "5: the ring timeout took $el s, want about 5"
pass "5: CANCEL after the 5 s timeout"

call c6 call_uac_hungup.xml
assert_eq "$?" 0 "6: <Hangup/> answers, then BYE"
assert_eq "$(status_of 6)" "completed/200" "6: completed"

call c7 call_uac_rejected.xml
assert_eq "$?" 0 "7: refused"
assert_match "$(sipp_msg c7)" 'SIP/2.0 603 ' "7: a broken document goes to the fallback (its <Reject/>)"

sipp_start uas8 uas_ring_cancel.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
# the caller hears our 180 at once (answerOnBridge): it waits for the target to ring too
sed 's|<recv response="180"/>|&<pause milliseconds="500"/>|' "$TOP/tests/sipp/uac_cancel.xml" >"$WORK/uac_cancel.xml"
call c8 "$WORK/uac_cancel.xml"
assert_eq "$?" 0 "8: the caller gave up while it rang (answerOnBridge: 180, then CANCEL, 487)"
sipp_wait uas8 10
assert_eq "$?" 0 "8: the target got our CANCEL"
assert_eq "$(status_of 8)" "canceled/487" "8: the caller's call canceled"

sed -e 's/\[code\]/404/' -e 's/\[phrase\]/Not Found/' -e 's/\[cause\]/no-such-user/' \
	"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_404.xml"
sipp_start uas9 "$WORK/uas_404.xml" -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
call c9 call_uac_hungup.xml
assert_eq "$?" 0 "9: answered, hung up after the action"
sipp_wait uas9 10
assert_eq "$?" 0 "9: the 404 was ACKed"

sipp_start uas10 "$WORK/uas_486.xml" -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
call c10 call_uac_hungup.xml
assert_eq "$?" 0 "10: answered, hung up after the action's fallback"
sipp_wait uas10 10
assert_eq "$?" 0 "10: the 486 was ACKed"

/usr/bin/python3 - "$WORK/requests.log" "$DIALERD_AUTH_TOKEN" "$WH" <<'PY' || fail "requests: see above"
import json, sys
from twilio.request_validator import RequestValidator
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] != "/ping"]
val = RequestValidator(sys.argv[2])
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
def form(r): return dict(r["form"] or [])
fb = [form(r) for r in reqs if r["path"] == "/fallback"]
check(len(fb) == 4 and all(f.get("ErrorCode") == "11200" for f in fb[:2]), "fallbacks carry ErrorCode=11200")
check(fb[2].get("ErrorCode") == "12100", "a parse failure's fallback carries 12100: %s" % fb[2].get("ErrorCode"))
check(all(f.get("ErrorUrl", "").endswith("/voice") for f in fb[:3]), "and ErrorUrl")
f10 = fb[3] if len(fb) == 4 else {}
check(f10.get("ErrorCode") == "11200" and f10.get("ErrorUrl", "").endswith("/gone"),
      "10: the failed action's fallback: ErrorCode=11200, ErrorUrl .../gone: %s %s" % (f10.get("ErrorCode"), f10.get("ErrorUrl")))
check(f10.get("DialCallStatus") == "busy" and f10.get("DialSipResponseCode") == "486" and
      f10.get("DialSipHeader_X-Reject-Cause") == "agent-busy",
      "10: ... and the action's own parameters: %s" % {k: v for k, v in f10.items() if k.startswith("Dial")})
acts = [form(r) for r in reqs if r["path"] == "/action"]
check(len(acts) == 4, "four actions")
a4, a5, a8, a9 = acts
check(a8["DialCallStatus"] == "canceled" and a8["CallStatus"] == "completed",
      "8: the caller hung up: DialCallStatus=canceled, CallStatus=completed: %s/%s" % (a8.get("DialCallStatus"), a8.get("CallStatus")))
check(a9["DialCallStatus"] == "failed" and a9.get("DialSipResponseCode") == "404", "9: failed, 404: %s" % a9.get("DialCallStatus"))
check(a4["DialCallStatus"] == "busy" and a4.get("DialSipResponseCode") == "486", "4: busy, 486: %s" % a4.get("DialCallStatus"))
check(a4.get("DialSipHeader_X-Reject-Cause") == "agent-busy", "4: the 486's X- header")
check(a4.get("DialBridged") == "false", "4: not bridged")
check(a5["DialCallStatus"] == "no-answer", "5: no-answer: %s" % a5.get("DialCallStatus"))
check(all(val.validate("http://127.0.0.1:%s%s" % (sys.argv[3], r["url"]), form(r),
                       dict(r["headers"]).get("X-Twilio-Signature")) for r in reqs),
      "python3-twilio validates all %d requests" % len(reqs))
sys.exit(1 if bad else 0)
PY
pass "webhook requests"
assert_eq "$(q "select status from calls where direction = 'outbound-dial' order by created_at")" "busy
no-answer
canceled
failed
busy" "the children: busy, no-answer, canceled, failed, busy"
assert_eq "$(q "select count(*) from call_events where event = 'document-not-run' and detail->>'body' like '%<Hangup/>%'")" 1 \
	"the action answered after the caller hung up is stored, not run"
assert_eq "$(q "select count(*) from webhook_requests where kind = 'fallback' and attempt = 1")" 4 "fallback requests stored"
assert_eq "$(q "select count(*) from webhook_requests where kind = 'action' and error_code = 11200")" 1 "the failed action stored with its code"
assert_eq "$(q "select count(*) from webhook_requests where kind = 'voice' and error_code = 11200")" 2 "failed voice requests stored with their code"
assert_eq "$(q "select count(*) from call_events where event = 'cxml-error'")" 1 "the cXML error is a call event"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
