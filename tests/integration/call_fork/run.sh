#!/bin/sh
# call_fork: a <Dial> of three <Sip> rings them at once: one answers 486, one answers 200, the
# third is cancelled with "Call completed elsewhere"; each branch is a child call with its own
# row and outcome, the action names the winner. Then answerOnBridge: the caller hears 180 and
# is answered only once the dialled party is. Then sequential with timeLimit: the first target
# refuses, the second is rung only then, answers, and both legs get BYE after 2 s.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

A=$(free_port)
B=$(free_port)
C=$(free_port)
D=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": [
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/action\"><Sip>sip:a@127.0.0.1:$A</Sip><Sip>sip:b@127.0.0.1:$B?X-Branch=b</Sip><Sip>sip:c@127.0.0.1:$C</Sip></Dial></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial answerOnBridge=\"true\"><Sip>sip:d@127.0.0.1:$D</Sip></Dial></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial sequential=\"true\" timeLimit=\"2\"><Sip>sip:e@127.0.0.1:$A</Sip><Sip>sip:f@127.0.0.1:$B</Sip></Dial></Response>"}],
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}
JSON
calls_start

# sipp_after A PAT_A B PAT_B WHAT: the first message matching PAT_B in SIPp trace B is stamped
# no more than 20 ms before the first matching PAT_A in trace A. Two SIPp processes' stamps are
# taken each at its own point of its loop pass, so under load they can disagree by a few ms;
# every order checked here would be about 200 ms the other way if it were wrong
sipp_after() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys, datetime
def first(path, pat):
    for block in open(path).read().split("----------------------------------------------- "):
        if re.search(pat, block):
            m = re.match(r"(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)", block)
            return datetime.datetime.fromisoformat(m.group(1) + " " + m.group(2)) if m else None
a, b = first(sys.argv[1], sys.argv[2]), first(sys.argv[3], sys.argv[4])
ok = bool(a and b and (b - a).total_seconds() >= -0.020)
print(("ok" if ok else "not ok") + " - %s (%s, %s)" % (sys.argv[5], a, b))
sys.exit(0 if ok else 1)
PY
}

# at once, before the winner's 200 (which comes 200 ms after its 180)
sed -e 's/\[code\]/486/' -e 's/\[phrase\]/Busy Here/' -e 's/\[cause\]/a-busy/' -e '/<pause/d' \
	"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_486.xml"
sipp_start a "$WORK/uas_486.xml" -i 127.0.0.1 -p "$A" -m 1
sipp_start b call_uas.xml -i 127.0.0.1 -p "$B" -m 1
sipp_start c uas_ring_cancel.xml -i 127.0.0.1 -p "$C" -m 1
dial_wait_port udp "$A"
dial_wait_port udp "$B"
dial_wait_port udp "$C"
sipp_start caller call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 500
sipp_wait caller 30
assert_eq "$?" 0 "caller: answered, talked, hung up"
for s in a b c; do
	sipp_wait $s 10
	assert_eq "$?" 0 "branch $s: its scenario completed"
done
assert_match "$(sipp_msg c)" 'Reason: SIP;cause=200;text="Call completed elsewhere"' "the loser's CANCEL says why"
_d=$(( $(date +%s) + 15 ))
until [ "$(q "select count(*) from calls where direction = 'outbound-dial' and status in ('busy', 'completed', 'canceled')")" = 3 ]; do
	[ "$(date +%s)" -le $_d ] || fail "branches: $(q "select to_addr, status from calls")"
	sleep 0.2
done
assert_eq "$(q "select split_part(to_addr, '@', 1) || ':' || status || ':' || coalesce(sip_response_code::text, '-')
	from calls where direction = 'outbound-dial' order by to_addr")" "sip:a:busy:486
sip:b:completed:200
sip:c:canceled:487" "one row per branch with its target, outcome and code"
parent=$(q "select sid from calls where direction = 'inbound' order by created_at limit 1")
assert_eq "$(q "select count(distinct dial_group) || '/' || string_agg(branch::text || coalesce(hangup_by, '-'), ',' order by branch)
	from calls where parent_call_sid = '$parent'")" "1/0remote,1local,2local" \
	"one dial_group; branches 0-2; the 486 ended remotely, the winner (our BYE) and the loser (our CANCEL) locally"
assert_eq "$(q "select winner_sid = (select sid from calls where to_addr like 'sip:b@%') and branches = 3 and answered_branches = 1
	from call_dial_outcomes where call_sid = '$parent'")" t "call_dial_outcomes: 3 branches, b won"
assert_eq "$(q "select count(*) from dial_branches where parent_call_sid = '$parent' and post_dial_delay is not null")" 3 \
	"dial_branches: post-dial delay of the three, which all rang"
assert_eq "$(q "select count(distinct parent_call_sid) from calls where direction = 'outbound-dial' and to_addr not like 'sip:d@%'")" 1 "all three are children of the caller's call"
/usr/bin/python3 - "$WORK/requests.log" <<PY || fail "action"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
a = [dict(r["form"]) for r in reqs if r["path"] == "/action"][0]
ok = a["DialCallStatus"] == "completed" and a.get("DialSipHeader_X-Agent-Id") == "42"
print(("ok" if ok else "not ok") + " - action: completed with the winner's headers: %s" % a)
sys.exit(0 if ok else 1)
PY
winner=$(q "select sid from calls where to_addr like 'sip:b@%'")
assert_match "$(grep -o 'DialCallSid=CA[0-9a-f]*' "$WORK/requests.log")" "$winner" "DialCallSid is the winner"

# answerOnBridge
sipp_start d call_uas.xml -i 127.0.0.1 -p "$D" -m 1
dial_wait_port udp "$D"
sipp_start caller2 call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 300
sipp_wait caller2 30
assert_eq "$?" 0 "answerOnBridge: the caller was answered and hung up"
sipp_wait d 10
assert_eq "$?" 0 "answerOnBridge: the dialled party answered and got the BYE"
assert_match "$(sipp_msg caller2 | grep -E '^SIP/2.0 (180|200)' | tr '\n' ' ')" '^SIP/2.0 180 [^ ]+ SIP/2.0 200' \
	"the caller heard 180 before the 200"
# the caller's 200 left after the child's 200 arrived (the callee waits 200 ms between its 180
# and its 200, so a caller answered early would be about 200 ms ahead)
sipp_after "$WORK/d.msg" "message sent .*\n+SIP/2.0 200 OK" \
	"$WORK/caller2.msg" "message received .*\n+SIP/2.0 200 OK" \
	"the caller's 200 follows the callee's" || fail "answer order"
# sequential, timeLimit. The first target rings 200 ms before its 486, so a parallel dial would
# ring the second about 200 ms before that 486
sed -e 's/\[code\]/486/' -e 's/\[phrase\]/Busy Here/' -e 's/\[cause\]/e-busy/' \
	"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_486_slow.xml"
sipp_start e "$WORK/uas_486_slow.xml" -i 127.0.0.1 -p "$A" -m 1
sipp_start f call_uas.xml -i 127.0.0.1 -p "$B" -m 1
dial_wait_port udp "$A"
dial_wait_port udp "$B"
t0=$(date +%s)
sipp_start caller3 call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait caller3 30
assert_eq "$?" 0 "timeLimit: the caller got a BYE"
sipp_wait e 10
assert_eq "$?" 0 "sequential: the first target refused"
sipp_wait f 10
assert_eq "$?" 0 "sequential: the second answered and got a BYE"
el=$(( $(date +%s) - t0 ))
[ $el -ge 2 ] && [ $el -le 6 ] || fail "the call lasted $el s, want about 2 (timeLimit)"
pass "timeLimit ended the call after about 2 s"
sipp_after "$WORK/e.msg" "message sent .*\n+SIP/2.0 486" \
	"$WORK/f.msg" "message received .*\n+INVITE " \
	"the second target was rung after the first refused" || fail "sequential order"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
calls_signatures_ok
