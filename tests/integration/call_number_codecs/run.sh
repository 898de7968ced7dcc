#!/bin/sh
# call_number_codecs: <Number> is dialled through number_uri (sip:{number}@trunk); a <Sip> whose
# codecs do not include the caller's is skipped (no transcoding), so a <Dial> left with no branch
# reports DialCallStatus=failed without sending an INVITE. Attributes that need a media engine
# (hangupOnStar, sendDigits) are reported as not executed.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": [
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial hangupOnStar=\"true\"><Number sendDigits=\"12w3\">+1 (555) 123-4567</Number></Dial></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/action\"><Sip codecs=\"G722\">sip:x@127.0.0.1:$UAS</Sip></Dial></Response>"}],
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"}}
JSON
export DIALERD_NUMBER_URI="sip:{number}@127.0.0.1:$UAS"
calls_start

sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start c1 call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 300
sipp_wait c1 30
assert_eq "$?" 0 "<Number>: the call went through"
sipp_wait uas 10
assert_eq "$?" 0 "the trunk answered"
assert_match "$(sipp_msg uas)" "INVITE sip:\\+15551234567@127.0.0.1:$UAS SIP/2.0" "the number, without separators, in number_uri"

sipp_start c2 call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait c2 30
assert_eq "$?" 0 "codec mismatch: answered, then hung up after the action"
/usr/bin/python3 - "$WORK/requests.log" <<'PY' || fail "action"
import json, sys
a = [dict(r["form"]) for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/action"][0]
ok = a["DialCallStatus"] == "failed" and "DialCallSid" not in a
print(("ok" if ok else "not ok") + " - action: failed, no child: %s" % a.get("DialCallStatus"))
sys.exit(0 if ok else 1)
PY
assert_eq "$(q "select count(*) from calls where direction = 'outbound-dial'")" 1 "only the <Number> made a child call"
assert_eq "$(q "select string_agg(detail->>'attribute', ',' order by sequence_number) from call_events where event = 'cxml-warning'")" \
	"hangupOnStar,sendDigits" "hangupOnStar and sendDigits reported as not executed (12200)"
assert_eq "$(q "select detail->>'reason' from call_events where event = 'dial-branch-skipped'")" \
	"no codec in common with the caller" "the skipped branch is a call event with its reason"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
calls_signatures_ok
