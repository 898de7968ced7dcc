#!/bin/sh
# call_kill9_adopt_rest: the adoption of call_kill9_adopt for a parent made by the REST API
# (outbound-api: dialerd sent the INVITE, so the parent's dialog is one where it is the UAC).
# The REST call's callee answers, its Url's document <Dial>s a second callee that answers too;
# dialerd is killed with SIGKILL and started again at once on its folder and addresses. The new
# process adopts the call: it says so in its log, sends no BYE (dialerd_sip_restart_byes_total
# answered 0), both calls stay in-progress. The <Dial>'s callee hangs up after the restart: its
# BYE gets 200; the REST call's callee gets dialerd's BYE in its dialog (its Call-ID, From and To
# tags, Request-URI the callee's Contact, a CSeq above the INVITE's) without cause=41 and answers
# 200. Both calls end completed with no reason_text, the parent still outbound-api; the child's
# completed callback follows its initiated, ringing and answered ones (SequenceNumber 3,
# CallDuration); the action is requested (DialCallStatus=completed, DialCallSid the child's,
# DialSipHeader_X-Agent=7); the parent's completed callback goes to the create's StatusCallback
# with Direction outbound-api; both calls have their adopted event, no message number is taken
# twice and every webhook request's signature validates. The action's document pauses, and the
# create's TimeLimit, which counts from the REST call's answer and survives the restart (its first
# status event records it), ends the REST call: its callee gets dialerd's BYE with the time limit's
# Reason then.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

HOLD=8000	# the <Dial>'s callee hangs up this long after its ACK (the restart and its checks
		# are over ~3 s after it)
LIMIT=12	# the REST call's TimeLimit, s: after the <Dial> ended
UAS1=$(free_port)	# the REST call's callee
UAS2=$(free_port)	# the <Dial>'s callee
# the relay's ports must be free again for the new process: a range of the case's own
DIALERD_SIP_RTP_PORTS=$(port_block 16) || harness_error "no 16 free ports"
export DIALERD_SIP_RTP_PORTS

cat >routes.json <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"/action\"><Sip statusCallback=\"/status\" statusCallbackEvent=\"initiated ringing answered completed\">sip:bob@127.0.0.1:$UAS2?X-Customer=42</Sip></Dial></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Pause length=\"30\"/></Response>"},
 "/status": {"status": 204, "body": ""},
 "/parent_status": {"status": 204, "body": ""}}
JSON

# trace NAME 'PYTHON EXPRESSION': printed over the messages of SIPp's trace $WORK/NAME.msg
# (tests/lib/sipp_trace.py says what an expression can use)
trace() { python3 "$TOP/tests/lib/sipp_trace.py" "$WORK/$1.msg" "$2"; }

calls_start
sipp_start alice uas_adopt.xml -i 127.0.0.1 -p "$UAS1" -mp "$(sipp_media_port)" -m 1 \
	-key peer_port "$(pair_port)"
sipp_start bob uas_adopt_bye.xml -i 127.0.0.1 -p "$UAS2" -mp "$(sipp_media_port)" -m 1 \
	-d "$HOLD" -key peer_port "$(pair_port)"
dial_wait_port udp "$UAS1"
dial_wait_port udp "$UAS2"
PARENT=$(curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
	--data-urlencode "To=sip:alice@127.0.0.1:$UAS1" --data-urlencode "From=+15550100" \
	--data-urlencode "Url=http://127.0.0.1:$WH/voice" \
	--data-urlencode "StatusCallback=http://127.0.0.1:$WH/parent_status" \
	--data-urlencode "StatusCallbackEvent=completed" --data-urlencode "TimeLimit=$LIMIT" \
	"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json" |
	grep -o '"sid":"CA[0-9a-f]*"' | head -1 | cut -d'"' -f4)
[ -n "$PARENT" ] || harness_error "the REST create gave no call SID"
calls_wait_q 2 15 "select count(*) from calls where status = 'in-progress'"
calls_wait_q 2 15 "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.status = 'in-progress' and m.method = 'ACK'"
CHILD=$(q "select sid from calls where parent_call_sid = '$PARENT'")
assert_eq "$(q "select direction from calls where sid = '$PARENT'") $(trace bob 'req("INVITE", True)[0].h("X-Twilio-CallSid")')" \
	"outbound-api $CHILD" "the REST call ($PARENT) and its <Dial>'s child ($CHILD) are up, their ACKs in the call log"

calls_kill9 "while the call is up"
_d=$(( $(date +%s) + 10 ))
until calls_newlog | grep "adopted after a restart" | grep "$PARENT" | grep -q "$CHILD"; do
	[ "$(date +%s)" -le $_d ] || fail "no line of the new process says it adopted the call; about it it says:
$(calls_newlog | grep -e "$PARENT" -e "$CHILD" | sed 's/^/#   /')"
	sleep 0.1
done
pass "the new process says it adopted the REST call and its child"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')/$(metric 'dialerd_sip_restart_byes_total{result="failed"}')" \
	"0/0" "no BYE to an orphaned dialog, answered or failed"
assert_eq "$(q "select count(*) from calls where status = 'in-progress' and ended_at is null
	and reason_text is null")" 2 "both calls are still in-progress in the call log"
assert_eq "$(trace alice 'len(req("BYE", True))') $(trace bob 'len(req("BYE", True))')" "0 0" \
	"no callee got a BYE from the restart"
[ "$(trace bob 'len(req("BYE", False))')" = 0 ] ||
	harness_error "the <Dial>'s callee hung up before the restart's checks: HOLD too short for this machine"

sipp_wait bob 30
assert_eq "$?" 0 "the <Dial>'s callee hung up after the restart, its BYE got 200"
sipp_wait alice 20
assert_eq "$?" 0 "the REST call's callee got dialerd's BYE and answered it 200"
assert_eq "$(trace bob '(len(req("BYE", False)), len(resp(200, "BYE", True)), len(req("BYE", True)))')" \
	"(1, 1, 0)" "the <Dial>'s callee: its BYE, its 200, no BYE from dialerd"
assert_eq "$(trace alice '(len(req("BYE", True)), [m.h("Reason") for m in req("BYE", True) if "cause=41" in m.h("Reason")])')" \
	"(1, [])" "the REST call's callee: one BYE from dialerd, without cause=41"
# the BYE in the dialog dialerd made as the UAC: its own From tag, the callee's To tag and
# Contact, the INVITE's Call-ID, the next CSeq
assert_eq "$(trace alice '[(b.h("Call-ID") == i.h("Call-ID"), tag(b.h("From")) == tag(i.h("From")) != "",
	tag(b.h("To")) == tag(o.h("To")) != "", "<" + b.ruri + ">" == o.h("Contact"), cseq(b) > cseq(i))
	for i in req("INVITE", True)[:1] for o in resp(200, "INVITE", False)[:1] for b in req("BYE", True)]')" \
	"[(True, True, True, True, True)]" "dialerd's BYE is in its dialog as the UAC: Call-ID, tags, Request-URI, CSeq"
DUR_P=$(trace alice 'round(req("BYE", True)[0].t - resp(200, "INVITE", False)[0].t, 1)')
DUR_C=$(trace bob 'round(req("BYE", False)[0].t - resp(200, "INVITE", False)[0].t, 1)')
dlr_log "# the parent talked $DUR_P s, the child $DUR_C s"
assert_eq "$(trace alice '(abs(req("BYE", True)[0].t - resp(200, "INVITE", False)[0].t - '"$LIMIT"') < 1.5,
	req("BYE", True)[0].h("Reason"))')" "(True, 'SIP;cause=200;text=\"Time limit reached\"')" \
	"the REST call's TimeLimit ($LIMIT s from its answer) ended it after the restart, the BYE says so"
assert_eq "$(q "select detail->>'time_limit' from call_events where call_sid = '$PARENT'
	and detail ? 'time_limit' order by sequence_number limit 1")" "$LIMIT" \
	"the REST call's first status event records its TimeLimit"

calls_wait_q 0 15 "select count(*) from calls where ended_at is null"
assert_eq "$(q "select string_agg(direction || ' ' || status || ' ' || coalesce(reason_text, '-') || ' ' ||
	coalesce(hangup_by, '-') || ' ' || (abs(duration - case sid when '$PARENT' then $DUR_P else $DUR_C end) <= 2),
	' | ' order by sid = '$CHILD') from calls")" \
	"outbound-api completed - local true | outbound-dial completed - remote true" \
	"both completed, no reason_text, the parent outbound-api; the callee of the <Dial> hung up, dialerd the REST call's; durations from answer to BYE"
assert_eq "$(q "select count(*) from call_events where event = 'adopted' and call_sid in ('$PARENT', '$CHILD')
	and (detail->>'seconds_up')::int between 0 and 10 and sequence_number > 0")" 2 \
	"both calls have their adopted event, numbered after the dead process's"
calls_wait_q "in:BYE out:200 | out:BYE in:200" 15 "select string_agg(l, ' | ' order by p) from
	(select m.call_sid = '$PARENT' as p, string_agg(m.direction || ':' ||
	coalesce(m.method, m.status_code::text), ' ' order by m.seq) as l from sip_messages m
	where m.call_sid in ('$CHILD', '$PARENT')
	and m.seq >= (select max(seq) - 1 from sip_messages where call_sid = m.call_sid)
	group by m.call_sid) x"
pass "each leg's BYE and its 200 are its last two messages in the call log"
assert_eq "$(q "select count(*) - count(distinct (call_sid, seq)) from sip_messages")/$(q "select
	count(*) - count(distinct (call_sid, sequence_number)) from call_events")" "0/0" \
	"no message or call_events number taken twice"

calls_wait_requests /action 1 15 || fail "no action request"
calls_wait_requests /parent_status 1 15 || fail "no status callback of the parent"
final_callbacks_ok 1 15 "the child: one final status callback, SequenceNumber without gaps"
python3 - "$WORK/requests.log" "$PARENT" "$CHILD" "$DUR_P" "$DUR_C" <<'PY' ||
import json, sys
log, parent, child, dur_p, dur_c = sys.argv[1:]
reqs = [r for r in map(json.loads, open(log)) if r["path"] != "/ping"]
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
def near(v, want): return v not in (None, "") and abs(int(v) - float(want)) <= 2
def forms(path):	# a callback redelivered after the kill (same token, same body) once
    seen, out = set(), []
    for r in reqs:
        key = (dict((k.lower(), v) for k, v in r["headers"]).get("i-twilio-idempotency-token"), r["body"])
        if r["path"] != path or (key[0] and key in seen):
            continue
        seen.add(key)
        out.append(dict(r["form"] or []))
    return out
st = [f for f in forms("/status") if f.get("CallSid") == child]
got = [(s.get("SequenceNumber"), s.get("CallStatus")) for s in st]
print("# the child's callbacks: %s" % got)
check(got == [("0", "initiated"), ("1", "ringing"), ("2", "in-progress"), ("3", "completed")],
      "the child: initiated 0, ringing 1, answered (in-progress) 2, then completed 3 and nothing else")
fin = st[-1] if st else {}
check(near(fin.get("CallDuration"), dur_c) and fin.get("ParentCallSid") == parent,
      "its completed callback: CallDuration %s (%s s talked), its parent" % (fin.get("CallDuration"), dur_c))
acts = forms("/action")
a = acts[0] if acts else {}
check(len(acts) == 1 and a.get("CallSid") == parent and a.get("DialCallStatus") == "completed" and
      a.get("DialCallSid") == child and near(a.get("DialCallDuration"), dur_c),
      "one action request for the parent: DialCallStatus=%s, DialCallSid the child's, DialCallDuration %s" %
      (a.get("DialCallStatus"), a.get("DialCallDuration")))
check(a.get("DialSipHeader_X-Agent") == "7", "DialSipHeader_X-Agent=%s" % a.get("DialSipHeader_X-Agent"))
ps = forms("/parent_status")
print("# the parent's callbacks: %s" % [(s.get("SequenceNumber"), s.get("CallStatus")) for s in ps])
p = ps[0] if ps else {}
check(len(ps) == 1 and p.get("CallSid") == parent and p.get("CallStatus") == "completed" and
      p.get("SequenceNumber") == "0" and p.get("Direction") == "outbound-api" and near(p.get("CallDuration"), dur_p),
      "the parent: one callback to the create's StatusCallback, completed 0, Direction %s, CallDuration %s (%s s talked)" %
      (p.get("Direction"), p.get("CallDuration"), dur_p))
sys.exit(1 if bad else 0)
PY
	fail "webhook requests: see above"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" 0 \
	"dialerd_sip_restart_byes_total{result=\"answered\"} is still 0"
calls_signatures_ok
