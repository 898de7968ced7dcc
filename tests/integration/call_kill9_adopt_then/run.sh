#!/bin/sh
# call_kill9_adopt_then: the adoption of call_kill9_adopt for a <Dial> without an action, whose
# document goes on after it: <Dial><Sip>...</Sip></Dial><Redirect>/after</Redirect>. The child's
# first status event records the document, its URL and the index of the verb after the <Dial>;
# dialerd is killed with SIGKILL while the call is connected and started again at once on its
# folder and addresses. The new process adopts the call, and when the callee hangs up the
# document goes on where it would have: /after (a URL relative to the voice URL) is requested for
# the caller's call with the caller's SipHeader_ and SipSourceIp rebuilt from the call log, and its
# <Hangup/> sends the caller a BYE without cause=41. Both calls end completed with no reason_text;
# nothing else is fetched; the child's callback carries no SipHeader_, as before the kill.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

HOLD=8000	# the callee hangs up this long after its ACK (the restart is over ~3 s after it)
UAS=$(free_port)
DIALERD_SIP_RTP_PORTS=$(port_block 16) || harness_error "no 16 free ports"
export DIALERD_SIP_RTP_PORTS
cat >routes.json <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip statusCallback=\"/status\" statusCallbackEvent=\"completed\">sip:bob@127.0.0.1:$UAS</Sip></Dial><Redirect>/after</Redirect></Response>"},
 "/after": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON

calls_start
sipp_start bob uas_adopt_bye.xml -i 127.0.0.1 -p "$UAS" -mp "$(sipp_media_port)" -m 1 \
	-d "$HOLD" -key peer_port "$(pair_port)"
dial_wait_port udp "$UAS"
sipp_start carol uac_adopt.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
	-mp "$(sipp_media_port)" -m 1 -key peer_port "$(pair_port)"
calls_wait_q 2 15 "select count(*) from calls where status = 'in-progress'"
calls_wait_q 2 15 "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.status = 'in-progress' and m.method = 'ACK'"
PARENT=$(q "select sid from calls where direction = 'inbound'")
CHILD=$(q "select sid from calls where parent_call_sid = '$PARENT'")
assert_eq "$(q "select (detail->'dial'->'then'->>'verb') || ' ' || (detail->'dial'->'then'->>'url')
	|| ' ' || (detail->'dial'->'then'->>'doc' like '%<Redirect>/after</Redirect>%')
	|| ' ' || coalesce(detail->'dial'->>'action', '-')
	from call_events where call_sid = '$CHILD' and event = 'initiated'")" \
	"1 http://127.0.0.1:$WH/voice true -" \
	"the child's first event records its document, its URL and the verb after the <Dial>"

calls_kill9 "while the call is up"
_d=$(( $(date +%s) + 10 ))
until calls_newlog | grep "adopted after a restart" | grep -q "$PARENT"; do
	[ "$(date +%s)" -le $_d ] || fail "the new process did not adopt the call:
$(calls_newlog | grep -e "$PARENT" -e "$CHILD" | sed 's/^/#   /')"
	sleep 0.1
done
assert_eq "$(calls_newlog | grep "adopted after a restart" | grep -c "no <Dial action>")" 0 \
	"the new process adopted the call, with the document after its <Dial>"
[ "$(grep -c '"path": "/after"' requests.log)" = 0 ] ||
	harness_error "/after requested before the callee hung up: HOLD too short for this machine"

sipp_wait bob 30
assert_eq "$?" 0 "the callee hung up after the restart, its BYE got 200"
sipp_wait carol 20
assert_eq "$?" 0 "the caller got dialerd's BYE and answered it 200"
assert_eq "$(grep -c 'cause=41' carol.msg)" 0 "no Reason cause=41 to the caller"
calls_wait_requests /after 1 15 || fail "/after was not requested"
assert_eq "$(python3 - requests.log "$PARENT" <<'PY'
import json, sys
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] not in ("/ping", "/status")]
print(" ".join("%s:%s:%s:%s:%s" % (r["path"], f.get("CallSid") == sys.argv[2], f.get("CallStatus"),
                                   f.get("SipHeader_X-Campaign"), f.get("SipSourceIp"))
               for r in reqs for f in [dict(r["form"] or [])]))
PY
)" "/voice:True:ringing:spring:127.0.0.1 /after:True:in-progress:spring:127.0.0.1" \
	"the document went on after the <Dial>: /after (relative to the voice URL) for the caller's call, in progress, with the caller's SipHeader_ and SipSourceIp as before the kill"
assert_eq "$(python3 - requests.log <<'PY'
import json, sys
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/status"]
print(sorted(set(k for r in reqs for k, v in (r["form"] or []) if k.startswith("SipHeader_"))))
PY
)" "[]" "the child's callback carries no SipHeader_ (its 200's headers are the <Dial>'s, as before)"
calls_wait_q 0 15 "select count(*) from calls where ended_at is null"
assert_eq "$(q "select string_agg(status || ' ' || coalesce(reason_text, '-') || ' ' || coalesce(hangup_by, '-'),
	' | ' order by parent_call_sid nulls first) from calls")" \
	"completed - local | completed - remote" \
	"both completed, no reason_text; the callee hung up, dialerd the caller"
final_callbacks_ok 1 15 "the child's completed callback"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" 0 "no BYE to an orphaned dialog"
calls_signatures_ok
