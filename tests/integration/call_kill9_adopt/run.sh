#!/bin/sh
# call_kill9_adopt: dialerd killed with SIGKILL while two relayed <Dial> calls are up, and started
# again at once on its folder and addresses. The new process adopts both calls instead of ending
# them: it says so in its log, sends no BYE with Reason cause=41 to any leg, leaves the calls
# in-progress in the call log, and binds the media relay again on the same ports: RTP and RTCP
# that the caller's side sends to the port of dialerd's 200 after the restart reach the callee's
# side from the port of dialerd's INVITE, and its echo comes back. A: the callee hangs up after the
# restart: its BYE gets 200, the <Dial>'s action is requested (DialCallStatus=completed, the
# child's SID and duration, DialSipHeader_X-Agent of the 200, X-Disposition of the callee's BYE)
# and its <Hangup/> sends the caller a BYE without cause=41. B: the caller hangs up after the
# restart: its BYE gets 200, the callee gets dialerd's BYE without cause=41, and the action is
# still requested but its answer is not run. Both children send their completed status callback after initiated, ringing and answered
# (SequenceNumber 3, CallDuration); all four calls end completed with no reason_text, durations
# from answer to hang-up, who hung up; each leg's BYE and its 200 are its last messages in
# sip_messages, no message number is taken twice, and the restart sent no BYE at all.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

HOLD_A=14000	# A's callee hangs up this long after its ACK (the restart comes ~5 s after
		# it, the media check after the restart is over ~8 s after it)
HOLD_B=12000	# B's caller hangs up this long after its ACK
N=25		# RTP packets a round (0.5 s), and one RTCP packet
UAS_A=$(free_port)
UAS_B=$(free_port)
CALLER_A=$(pair_port)	# the media peers named in the SIPp peers' SDP
CALLEE_A=$(pair_port)
CALLER_B=$(pair_port)
CALLEE_B=$(pair_port)
# the relay's ports must be free again for the new process: a range of the case's own
DIALERD_SIP_RTP_PORTS=$(port_block 16) || harness_error "no 16 free ports"
export DIALERD_SIP_RTP_PORTS

# routes UAS_PORT ACTION: the voice document dials the SIPp target on UAS_PORT, and its <Dial>'s
# action is ACTION: /action hangs up (A), /action_b would redirect to /after_b (B: never run)
routes() {
	cat >routes.json <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"$2\"><Sip statusCallback=\"/status\" statusCallbackEvent=\"initiated ringing answered completed\">sip:bob@127.0.0.1:$1?X-Customer=42</Sip></Dial></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/action_b": {"status": 200, "content_type": "text/xml", "body": "<Response><Redirect>/after_b</Redirect></Response>"},
 "/after_b": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
}

# trace NAME 'PYTHON EXPRESSION': printed over the messages of SIPp's trace $WORK/NAME.msg
# (tests/lib/sipp_trace.py says what an expression can use)
trace() { python3 "$TOP/tests/lib/sipp_trace.py" "$WORK/$1.msg" "$2"; }

# rtp_start ROUND CALLER_PEER CALLEE_PEER RELAY_PORT: an echo at CALLEE_PEER (the callee's SDP),
# then N RTP packets and one RTCP from CALLER_PEER (the caller's SDP) to the relay's RELAY_PORT
# (dialerd's 200 to the caller); results in send_ROUND.json and echo_ROUND.json
rtp_start() {
	python3 "$TOP/tests/lib/rtppeer.py" echo "$3" "echo_$1.json" --seconds 10 --idle 0.5 \
		>"echo_$1.log" 2>&1 &
	eval "ECHO_$1=\$!"
	dlr_track $!
	dial_wait_port udp "$3"
	python3 "$TOP/tests/lib/rtppeer.py" send "$2" "send_$1.json" --to "127.0.0.1:$4" \
		--rtp $N --rtcp 1 --seconds 10 --idle 0.5 >"send_$1.log" 2>&1 &
	eval "SEND_$1=\$!"
	dlr_track $!
}

# rtp_check ROUND RELAY_PORT WHAT: every packet of rtp_start ROUND reached the callee's peer from
# the relay's RELAY_PORT (and the next, RTCP; dialerd's INVITE to the callee names RELAY_PORT),
# and every echo came back to the caller's peer, byte-identical
rtp_check() {
	eval "_e=\$ECHO_$1 _s=\$SEND_$1"
	wait "$_s"
	wait "$_e"
	[ -f "echo_$1.json" ] && [ -f "send_$1.json" ] || harness_error "rtppeer.py wrote no result ($1)"
	js() { python3 -c "import json; e=json.load(open('$1')); print($2)"; }
	assert_eq "$(js "echo_$1.json" '(e["rtp_rx"], e["rtcp_rx"], e["sources"])')" \
		"($N, 1, ['127.0.0.1:$2', '127.0.0.1:$(($2 + 1))'])" \
		"$3: the callee's media peer got all $N RTP packets and the RTCP, from the relay's ports $2/$(($2 + 1))"
	assert_eq "$(js "send_$1.json" '(e["rtp_rx"], e["rtcp_rx"], e["mismatch"])')" "($N, 1, 0)" \
		"$3: the caller's media peer got every echo back, byte-identical"
}

routes "$UAS_A" /action
calls_start

# A: the callee hangs up HOLD_A after its ACK
sipp_start uas_a uas_adopt_bye.xml -i 127.0.0.1 -p "$UAS_A" -mp "$(sipp_media_port)" -m 1 \
	-d "$HOLD_A" -key peer_port "$CALLEE_A"
dial_wait_port udp "$UAS_A"
sipp_start uac_a uac_adopt.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
	-mp "$(sipp_media_port)" -m 1 -key peer_port "$CALLER_A"
calls_wait_q 2 15 "select count(*) from calls where status = 'in-progress'"
calls_wait_q 2 15 "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.status = 'in-progress' and m.method = 'ACK'"
pass "A is up: both legs answered, their ACKs in the call log"

# B: the caller hangs up HOLD_B after its ACK (the voice document is read at each call)
routes "$UAS_B" /action_b
sipp_start uas_b uas_adopt.xml -i 127.0.0.1 -p "$UAS_B" -mp "$(sipp_media_port)" -m 1 \
	-key peer_port "$CALLEE_B"
dial_wait_port udp "$UAS_B"
sipp_start uac_b uac_adopt_bye.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
	-mp "$(sipp_media_port)" -m 1 -d "$HOLD_B" -key peer_port "$CALLER_B"
calls_wait_q 4 15 "select count(*) from calls where status = 'in-progress'"
calls_wait_q 4 15 "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.status = 'in-progress' and m.method = 'ACK'"
pass "B is up too"

CHILD_A=$(trace uas_a 'req("INVITE", True)[0].h("X-Twilio-CallSid")')
CHILD_B=$(trace uas_b 'req("INVITE", True)[0].h("X-Twilio-CallSid")')
PARENT_A=$(q "select parent_call_sid from calls where sid = '$CHILD_A'")
PARENT_B=$(q "select parent_call_sid from calls where sid = '$CHILD_B'")
[ -n "$PARENT_A" ] && [ -n "$PARENT_B" ] ||
	harness_error "children $CHILD_A $CHILD_B, parents '$PARENT_A' '$PARENT_B'"
# the relay's ports: in dialerd's 200 to the caller, in its INVITE to the callee
RELAY_A=$(trace uac_a 'resp(200, "INVITE", True)[0].port()')
RELAY_A2=$(trace uas_a 'req("INVITE", True)[0].port()')
RELAY_B=$(trace uac_b 'resp(200, "INVITE", True)[0].port()')
RELAY_B2=$(trace uas_b 'req("INVITE", True)[0].port()')
dlr_log "# A: $PARENT_A -> $CHILD_A, relay $RELAY_A/$RELAY_A2; B: $PARENT_B -> $CHILD_B, relay $RELAY_B/$RELAY_B2"

# the media peers before the kill: the harness's relay path works
rtp_start a1 "$CALLER_A" "$CALLEE_A" "$RELAY_A"
rtp_start b1 "$CALLER_B" "$CALLEE_B" "$RELAY_B"
rtp_check a1 "$RELAY_A2" "A before the kill"
rtp_check b1 "$RELAY_B2" "B before the kill"

calls_kill9 "while both calls are up"
pass "dialerd started again on its folder and addresses"

# adopt_line PARENT CHILD: a line of the new process that names the call and says it adopted it
adopt_line() { calls_newlog | grep -i adopt | grep -q -e "$1" -e "$2"; }
_d=$(( $(date +%s) + 10 ))
until adopt_line "$PARENT_A" "$CHILD_A" && adopt_line "$PARENT_B" "$CHILD_B"; do
	[ "$(date +%s)" -le $_d ] || fail "no line of the new process says it adopted both calls; about them it says:
$(calls_newlog | grep -e "$PARENT_A" -e "$CHILD_A" -e "$PARENT_B" -e "$CHILD_B" | sed 's/^/#   /')"
	sleep 0.1
done
pass "the new process says it adopted both calls"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')/$(metric 'dialerd_sip_restart_byes_total{result="failed"}')" \
	"0/0" "no BYE to an orphaned dialog, answered or failed"
assert_eq "$(q "select count(*) from calls where status = 'in-progress' and ended_at is null
	and reason_text is null")" 4 "the four calls are still in-progress in the call log"
assert_eq "$(trace uac_a 'len(req("BYE", True))') $(trace uas_a 'len(req("BYE", True))') $(trace uac_b 'len(req("BYE", True))') $(trace uas_b 'len(req("BYE", True))')" \
	"0 0 0 0" "no peer got a BYE from the restart"
# the hang-ups come HOLD_A and HOLD_B after the ACKs: the media check must be over by then
[ "$(trace uas_a 'len(req("BYE", False))') $(trace uac_b 'len(req("BYE", False))')" = "0 0" ] ||
	harness_error "a peer hung up before the media check: HOLD_A and HOLD_B too short for this machine"

# the relay after the restart: the same ports, both ways
rtp_start a2 "$CALLER_A" "$CALLEE_A" "$RELAY_A"
rtp_start b2 "$CALLER_B" "$CALLEE_B" "$RELAY_B"
rtp_check a2 "$RELAY_A2" "A after the restart"
rtp_check b2 "$RELAY_B2" "B after the restart"

# the hang-ups
sipp_wait uas_a 40
assert_eq "$?" 0 "A: the callee hung up, its BYE got 200"
sipp_wait uac_a 20
assert_eq "$?" 0 "A: the caller got dialerd's BYE and answered it 200"
sipp_wait uac_b 40
assert_eq "$?" 0 "B: the caller hung up, its BYE got 200"
sipp_wait uas_b 20
assert_eq "$?" 0 "B: the callee got dialerd's BYE and answered it 200"
# what crossed the wire: each hang-up's BYE and 200; one BYE from dialerd a leg, no Reason cause=41
assert_eq "$(trace uas_a '(len(req("BYE", False)), len(resp(200, "BYE", True)), len(req("BYE", True)))')" \
	"(1, 1, 0)" "A's callee: its BYE, its 200, no BYE from dialerd"
assert_eq "$(trace uac_a '(len(req("BYE", True)), [m.h("Reason") for m in req("BYE", True) if "cause=41" in m.h("Reason")])')" \
	"(1, [])" "A's caller: one BYE from dialerd, without cause=41"
assert_eq "$(trace uac_b '(len(req("BYE", False)), len(resp(200, "BYE", True)), len(req("BYE", True)))')" \
	"(1, 1, 0)" "B's caller: its BYE, its 200, no BYE from dialerd"
assert_eq "$(trace uas_b '(len(req("BYE", True)), [m.h("Reason") for m in req("BYE", True) if "cause=41" in m.h("Reason")])')" \
	"(1, [])" "B's callee: one BYE from dialerd, without cause=41"
# the children's talk time as the callees saw it: from their 200 to the BYE
DUR_A=$(trace uas_a 'round(req("BYE", False)[0].t - resp(200, "INVITE", False)[0].t, 1)')
DUR_B=$(trace uas_b 'round(req("BYE", True)[0].t - resp(200, "INVITE", False)[0].t, 1)')
dlr_log "# A's child talked $DUR_A s, B's $DUR_B s"

# the call log
calls_wait_q 0 15 "select count(*) from calls where ended_at is null"
pass "no call left without ended_at"
assert_eq "$(q "select count(*) from call_events where event = 'adopted'
	and (detail->>'seconds_up')::int between 2 and 12 and sequence_number > 0")" 4 \
	"each of the four calls has its adopted event, how long it had been up, numbered after the dead process's"
assert_eq "$(q "select count(*) - count(distinct (call_sid, sequence_number)) from call_events")" 0 \
	"no call_events number taken twice"
assert_eq "$(q "select string_agg(status || ' ' || coalesce(reason_text, '-') || ' ' || coalesce(hangup_by, '-'),
	' | ' order by array_position(array['$PARENT_A', '$CHILD_A', '$PARENT_B', '$CHILD_B'], sid)) from calls")" \
	"completed - local | completed - remote | completed - remote | completed - local" \
	"all four completed, no reason_text; A's callee and B's caller hung up, dialerd the other legs"
assert_eq "$(q "select string_agg((abs(duration - $DUR_A) <= 2)::text, ' ') from calls where sid = '$CHILD_A'")" \
	true "A's child: duration $(q "select duration from calls where sid = '$CHILD_A'") s, answer to the callee's BYE ($DUR_A s)"
assert_eq "$(q "select string_agg((abs(duration - $DUR_B) <= 2)::text, ' ') from calls where sid = '$CHILD_B'")" \
	true "B's child: duration $(q "select duration from calls where sid = '$CHILD_B'") s, answer to dialerd's BYE ($DUR_B s)"
# each leg's BYE and its 200 are its last two messages
calls_wait_q "in:BYE out:200 | out:BYE in:200 | out:BYE in:200 | in:BYE out:200" 15 "select
	string_agg(l, ' | ' order by p) from (select array_position(array['$CHILD_A', '$PARENT_A',
	'$CHILD_B', '$PARENT_B'], m.call_sid) as p, string_agg(m.direction || ':' ||
	coalesce(m.method, m.status_code::text), ' ' order by m.seq) as l from sip_messages m
	where m.call_sid in ('$CHILD_A', '$PARENT_A', '$CHILD_B', '$PARENT_B')
	and m.seq >= (select max(seq) - 1 from sip_messages where call_sid = m.call_sid)
	group by m.call_sid) x"
pass "each leg's BYE and its 200 are its last two messages in the call log"
assert_eq "$(q "select count(*) from sip_messages where method = 'BYE'
	and convert_from(headers, 'UTF8') like '%cause=41%'")" 0 "no BYE with cause=41 in the call log"
assert_eq "$(q "select count(*) - count(distinct (call_sid, seq)) from sip_messages")" 0 \
	"no message number taken twice"

# the webhooks: the children's callbacks and the <Dial>s' actions
calls_wait_requests /action 1 15 || fail "A: no action request"
calls_wait_requests /action_b 1 15 || fail "B: no action request"
final_callbacks_ok 2 15 "both children: one final status callback, SequenceNumber without gaps"
python3 - "$WORK/requests.log" "$PARENT_A" "$CHILD_A" "$DUR_A" "$PARENT_B" "$CHILD_B" "$DUR_B" <<'PY' ||
import json, sys
log, pa, ca, da, pb, cb, db = sys.argv[1:]
reqs = [r for r in map(json.loads, open(log)) if r["path"] != "/ping"]
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what)
    bad += 0 if cond else 1
def near(v, want): return v not in (None, "") and abs(int(v) - float(want)) <= 2
seen = set()	# a callback redelivered after the kill: the same token, the same body
for name, parent, child, dur, action in (("A", pa, ca, da, "/action"), ("B", pb, cb, db, "/action_b")):
    st = []
    for r in reqs:
        f = dict(r["form"] or [])
        if r["path"] != "/status" or f.get("CallSid") != child:
            continue
        key = (dict((k.lower(), v) for k, v in r["headers"]).get("i-twilio-idempotency-token"), r["body"])
        if key[0] and key in seen:
            continue
        seen.add(key)
        st.append(f)
    got = [(s.get("SequenceNumber"), s.get("CallStatus")) for s in st]
    print("# %s's child %s: callbacks %s" % (name, child, got))
    check(got[:3] == [("0", "initiated"), ("1", "ringing"), ("2", "in-progress")],
          "%s: the child's first three callbacks: initiated 0, ringing 1, answered (in-progress) 2" % name)
    check(got[3:] == [("3", "completed")], "%s: then completed, SequenceNumber 3, and nothing else" % name)
    fin = [s for s in st if s.get("CallStatus") == "completed"]
    check(len(fin) == 1 and near(fin[0].get("CallDuration"), dur) and fin[0].get("ParentCallSid") == parent,
          "%s: the completed callback's CallDuration %s (%s s talked), its parent" %
          (name, fin[0].get("CallDuration") if fin else None, dur))
    acts = [dict(r["form"] or []) for r in reqs if r["path"] == action]
    check(len(acts) == 1, "%s: one %s request (%d)" % (name, action, len(acts)))
    a = acts[0] if acts else {}
    check(a.get("CallSid") == parent and a.get("DialCallStatus") == "completed" and a.get("DialCallSid") == child,
          "%s: action for the parent, DialCallStatus=%s, DialCallSid the child's" % (name, a.get("DialCallStatus")))
    check(near(a.get("DialCallDuration"), dur),
          "%s: DialCallDuration %s (%s s talked)" % (name, a.get("DialCallDuration"), dur))
    check(a.get("DialSipHeader_X-Agent") == "7", "%s: DialSipHeader_X-Agent=%s" % (name, a.get("DialSipHeader_X-Agent")))
    want = "done" if name == "A" else None	# A's callee hangs up with X-Disposition in its BYE
    check(a.get("DialSipHeader_X-Disposition") == want,
          "%s: DialSipHeader_X-Disposition=%s" % (name, a.get("DialSipHeader_X-Disposition")))
check(not any(r["path"] == "/after_b" for r in reqs),
      "B: the answer of the action of a call whose caller is gone was not run (no /after_b)")
sys.exit(1 if bad else 0)
PY
	fail "webhook requests: see above"
pass "the children's callbacks and the actions, after the restart as before it"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" 0 \
	"dialerd_sip_restart_byes_total{result=\"answered\"} is still 0"
calls_signatures_ok
