#!/bin/sh
# call_kill9_adopt_gone: the callee hangs up in the last moment of a process that is then killed.
# A relayed <Dial action="/action"> is connected; the callee sends BYE (with X-Disposition) and the
# process answers it and requests the action, which takes 6 s; dialerd is killed with SIGKILL
# meanwhile, so the caller has not been hung up, and started again at once on its folder and
# addresses. The new process takes the caller's leg up alone and ends the child as its callee's
# BYE did: the action is requested again for the caller's call (DialCallStatus=completed, the
# child's SID, DialCallDuration the time talked before the BYE, not until the restart, DialBridged,
# DialSipHeader_ of the 200 with the BYE's over it), and its <Hangup/> sends the caller a BYE
# without cause=41. Before, the restart hung up the caller with cause=41 ("dialerd process lost")
# and never requested the action. Both calls end completed, the child's ended_at the BYE's time,
# hung up remotely; its completed callback is sent once; the restart sent no BYE of its own.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

HOLD=2000	# the callee hangs up this long after its ACK
UAS=$(free_port)
DIALERD_SIP_RTP_PORTS=$(port_block 16) || harness_error "no 16 free ports"
export DIALERD_SIP_RTP_PORTS
cat >routes.json <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"/action\"><Sip statusCallback=\"/status\" statusCallbackEvent=\"completed\">sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>",
  "delay_ms": 6000},
 "/status": {"status": 204, "body": ""}}
JSON

calls_start
sipp_start bob uas_adopt_bye.xml -i 127.0.0.1 -p "$UAS" -mp "$(sipp_media_port)" -m 1 \
	-d "$HOLD" -key peer_port "$(pair_port)"
dial_wait_port udp "$UAS"
sipp_start carol uac_adopt.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
	-mp "$(sipp_media_port)" -m 1 -key peer_port "$(pair_port)"
calls_wait_requests /action 1 20 || fail "the callee's BYE did not lead to the action request"
PARENT=$(q "select sid from calls where direction = 'inbound'")
CHILD=$(q "select sid from calls where parent_call_sid = '$PARENT'")
calls_wait_q 1 10 "select count(*) from sip_messages where call_sid = '$CHILD'
	and method = 'BYE' and direction = 'in'"
sipp_wait bob 10
assert_eq "$?" 0 "the callee hung up before the kill, its BYE answered 200"

kill -KILL "$DIALERD_PID"
wait "$DIALERD_PID" 2>/dev/null
assert_eq "$?" 137 "dialerd killed with SIGKILL while it waited for the action"
DIALERD_PID=
LINES=$(wc -l <dialerd.log)
calls_start
newlog() { tail -n +"$((LINES + 1))" dialerd.log; }
_d=$(( $(date +%s) + 10 ))
until newlog | grep "adopted after a restart" | grep -q "$PARENT"; do
	[ "$(date +%s)" -le $_d ] || fail "the new process did not adopt the call:
$(newlog | grep -e "$PARENT" -e "$CHILD" | sed 's/^/#   /')"
	sleep 0.1
done
assert_eq "$(newlog | grep "adopted after a restart" | grep -c "its <Dial> to $CHILD ended before the kill")" 1 \
	"the new process took the caller's leg up, its child ended by the callee's BYE"

sipp_wait carol 30
assert_eq "$?" 0 "the caller got dialerd's BYE and answered it 200"
assert_eq "$(grep -c 'cause=41' carol.msg)" 0 "no Reason cause=41 to the caller"
calls_wait_requests /action 2 15 || fail "the new process did not request the action"
assert_eq "$(python3 - requests.log "$PARENT" "$CHILD" "$HOLD" <<'PY'
import json, sys
parent, child, hold = sys.argv[2], sys.argv[3], int(sys.argv[4]) / 1000
acts = [dict(r["form"] or []) for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/action"]
out = []
for a in acts:
    d = int(a.get("DialCallDuration", -99))
    out.append("%s:%s:%s:%s:%s:%s:%s" % (a.get("CallSid") == parent, a.get("DialCallStatus"),
               a.get("DialCallSid") == child, abs(d - hold) <= 1, a.get("DialBridged"),
               a.get("DialSipHeader_X-Agent"), a.get("DialSipHeader_X-Disposition")))
print(" ".join(out))
PY
)" "True:completed:True:True:true:7:done True:completed:True:True:true:7:done" \
	"the action, before the kill and again after it: the parent's, completed, the child's SID, its time talked, bridged, the 200's X-Agent and the BYE's X-Disposition"
calls_wait_q 0 15 "select count(*) from calls where ended_at is null"
assert_eq "$(q "select string_agg(status || ' ' || coalesce(reason_text, '-') || ' ' || coalesce(hangup_by, '-'),
	' | ' order by parent_call_sid nulls first) from calls")" \
	"completed - local | completed - remote" \
	"both completed, no reason_text; the callee hung up, dialerd the caller"
assert_eq "$(q "select abs(extract(epoch from c.ended_at - m.at)) < 0.5
	from calls c join sip_messages m on m.call_sid = c.sid and m.method = 'BYE' and m.direction = 'in'
	where c.sid = '$CHILD'")" t "the child's ended_at is its callee's BYE's time"
assert_eq "$(q "select string_agg(event, ' ' order by sequence_number) from call_events
	where call_sid = '$PARENT' and event in ('adopted', 'completed')")" "adopted completed" \
	"the caller's call: adopted, then completed"
final_callbacks_ok 1 15 "the child's completed callback, once"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" 0 "no BYE to an orphaned dialog"
calls_signatures_ok
