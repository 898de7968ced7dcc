#!/bin/sh
# call_kill9_adopt_gone: callees hang up in the last moment of a process that is then killed.
# Two relayed <Dial>s are connected, one after the other: A's has action="/action", B's has no
# action and a <Redirect>/after</Redirect> after it. Each callee sends BYE (with X-Disposition),
# the process answers it, logs the child's end and fetches what comes next (A: /action, B:
# /after), which takes 8 s; dialerd is killed with SIGKILL meanwhile, so neither caller has been
# hung up, and started again at once on its folder and addresses (the webhook now answers at
# once). The new process takes each caller's leg up alone and ends its <Dial> as the call log
# has it: A's action is requested again (DialCallStatus=completed, the child's SID,
# DialCallDuration the time talked before the BYE, not until the restart, DialBridged,
# DialSipHeader_ of the 200 with the BYE's over it), B's document goes on with its <Redirect>;
# both answers' <Hangup/> send the caller a BYE without cause=41.
# Before, the restart hung up both callers with cause=41 ("dialerd process lost") and fetched
# nothing. All calls end completed, each child's ended_at its BYE's time, hung up remotely, and
# nothing of the children is logged twice: one completed callback each, no second end.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

HOLD=2000	# each callee hangs up this long after its ACK
WAIT=8000	# /action and /after answer this late before the kill (B is set up while A's
		# action waits), at once after it
UAS_A=$(free_port)
UAS_B=$(free_port)
DIALERD_SIP_RTP_PORTS=$(port_block 16) || harness_error "no 16 free ports"
export DIALERD_SIP_RTP_PORTS

# routes UAS_PORT DIAL_ATTRS AFTER: the voice document dials the SIPp target on UAS_PORT, with
# DIAL_ATTRS on its <Dial> and the verbs AFTER after it (the document is read at each call)
routes() {
	cat >routes.json <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial$2><Sip statusCallback=\"/status\" statusCallbackEvent=\"completed\">sip:bob@127.0.0.1:$1</Sip></Dial>$3</Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>",
  "delay_ms": $WAIT},
 "/after": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>",
  "delay_ms": $WAIT},
 "/status": {"status": 204, "body": ""}}
JSON
}

# call NAME UAS_PORT PATH: a call whose callee hangs up HOLD after its ACK; returns once the
# callee's BYE is in the call log and PATH was requested for it
call() {
	sipp_start "bob_$1" uas_adopt_bye.xml -i 127.0.0.1 -p "$2" -mp "$(sipp_media_port)" -m 1 \
		-d "$HOLD" -key peer_port "$(pair_port)"
	dial_wait_port udp "$2"
	sipp_start "carol_$1" uac_adopt.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
		-mp "$(sipp_media_port)" -m 1 -key peer_port "$(pair_port)"
	calls_wait_requests "$3" 1 20 || fail "$1: the callee's BYE did not lead to a request of $3"
	sipp_wait "bob_$1" 10
	assert_eq "$?" 0 "$1: the callee hung up, its BYE answered 200, and $3 was requested"
}

routes "$UAS_A" ' action=\"/action\"' ''
calls_start
call A "$UAS_A" /action
routes "$UAS_B" '' '<Redirect>/after</Redirect>'
call B "$UAS_B" /after
[ "$(grep -c '"path": "/action"' requests.log)" = 1 ] ||
	harness_error "A's action was requested again before the kill: WAIT too short for this machine"
PARENT_A=$(q "select sid from calls where direction = 'inbound' order by created_at limit 1")
PARENT_B=$(q "select sid from calls where direction = 'inbound' order by created_at desc limit 1")
CHILD_A=$(q "select sid from calls where parent_call_sid = '$PARENT_A'")
CHILD_B=$(q "select sid from calls where parent_call_sid = '$PARENT_B'")
calls_wait_q 2 10 "select count(*) from sip_messages where call_sid in ('$CHILD_A', '$CHILD_B')
	and method = 'BYE' and direction = 'in'"

WAIT=0
routes "$UAS_B" '' '<Redirect>/after</Redirect>'
calls_kill9 "while it waited for /action and /after"
_d=$(( $(date +%s) + 10 ))
until [ "$(calls_newlog | grep -c "adopted after a restart")" -ge 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the new process did not adopt both calls:
$(calls_newlog | grep -e "$PARENT_A" -e "$PARENT_B" | sed 's/^/#   /')"
	sleep 0.1
done
assert_eq "$(calls_newlog | grep "adopted after a restart" | grep -c -e "its <Dial> to $CHILD_A ended before the kill" \
	-e "its <Dial> to $CHILD_B ended before the kill")" 2 \
	"the new process took each caller's leg up, its child ended before the kill"

sipp_wait carol_A 30
assert_eq "$?" 0 "A: the caller got dialerd's BYE and answered it 200"
sipp_wait carol_B 30
assert_eq "$?" 0 "B: the caller got dialerd's BYE and answered it 200"
assert_eq "$(cat carol_A.msg carol_B.msg | grep -c 'cause=41')" 0 "no Reason cause=41 to either caller"
calls_wait_requests /action 2 5 || fail "the new process did not request A's action"
calls_wait_requests /after 2 5 || fail "the new process did not go on with B's document"
assert_eq "$(python3 - requests.log "$PARENT_A" "$CHILD_A" "$PARENT_B" "$HOLD" <<'PY'
import json, sys
pa, ca, pb, hold = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) / 1000
reqs = list(map(json.loads, open(sys.argv[1])))
out = []
for a in (dict(r["form"] or []) for r in reqs if r["path"] == "/action"):
    d = int(a.get("DialCallDuration", -99))
    out.append("%s:%s:%s:%s:%s:%s:%s" % (a.get("CallSid") == pa, a.get("DialCallStatus"),
               a.get("DialCallSid") == ca, abs(d - hold) <= 1, a.get("DialBridged"),
               a.get("DialSipHeader_X-Agent"), a.get("DialSipHeader_X-Disposition")))
out += ["after:%s:%s" % (f.get("CallSid") == pb, f.get("CallStatus"))
        for f in (dict(r["form"] or []) for r in reqs if r["path"] == "/after")]
print(" ".join(out))
PY
)" "True:completed:True:True:true:7:done True:completed:True:True:true:7:done after:True:in-progress after:True:in-progress" \
	"A's action before the kill and again after it (the parent's, completed, the child's SID, its time talked, bridged, the 200's X-Agent, the BYE's X-Disposition); B's /after twice, for its caller"
calls_wait_q 0 15 "select count(*) from calls where ended_at is null"
assert_eq "$(q "select string_agg(status || ' ' || coalesce(reason_text, '-') || ' ' || coalesce(hangup_by, '-'),
	' | ' order by created_at) from calls")" \
	"completed - local | completed - remote | completed - local | completed - remote" \
	"all completed, no reason_text; the callees hung up, dialerd the callers"
assert_eq "$(q "select string_agg((abs(extract(epoch from c.ended_at - m.at)) < 0.5)::text, ' ')
	from calls c join sip_messages m on m.call_sid = c.sid and m.method = 'BYE' and m.direction = 'in'
	where c.parent_call_sid is not null")" "true true" "each child's ended_at is its callee's BYE's time"
assert_eq "$(q "select string_agg(event, ' ' order by sequence_number) from call_events
	where call_sid = '$PARENT_A' and event in ('adopted', 'completed')")" "adopted completed" \
	"the caller's call: adopted, then completed"
assert_eq "$(q "select count(*) from call_events where call_sid in ('$CHILD_A', '$CHILD_B')
	and event in ('completed', 'adopted')")" 2 "each child's end logged once, no adoption of it"
final_callbacks_ok 2 15 "each child's completed callback, once"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" 0 "no BYE to an orphaned dialog"
calls_signatures_ok
