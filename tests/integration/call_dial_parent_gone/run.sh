#!/bin/sh
# call_dial_parent_gone: a <Dial> child is ended whenever its parent ends while the child is being
# set up or rings. 1: 20 callers (5/s) give up 0-60 ms after our 180 (answerOnBridge), so the
# caller's CANCEL lands in every window: the voice answer not yet run, the child's INVITE queued to
# the SIP thread, sent without a provisional response back, ringing; each child that was dialled
# gets our CANCEL and ends canceled with its final status callback. 2: REST Status=completed on a
# ringing parent cancels its child. 3: SIGTERM while a child rings at a far end that answers our
# CANCEL only 4.5 s later (past the drain's 3 s grace after ending the calls; one that never answers
# keeps the INVITE open for 32 s): the daemon ends the child itself before it exits (canceled,
# ended_at, its final callback, the <Dial>'s action with DialCallStatus=canceled); before, the
# child stayed ringing in the call log and its <Dial> never ended.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
SLOW=$(free_port)
N=20
routes() { # routes TARGET_PORT: every caller dials sip:bob@127.0.0.1:TARGET_PORT
	cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"/action\" answerOnBridge=\"true\"><Sip statusCallback=\"/status\">sip:bob@127.0.0.1:$1</Sip></Dial></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
}
routes "$UAS"
export DIALERD_SHUTDOWN_TIMEOUT=1
calls_start
open_calls() { curl -fsS "$DIALERD_URL/metrics" | sed -n 's/^dialerd_calls_open //p'; }
# requests METHOD: the METHOD requests the target got, by Call-ID: a retransmission (our
# INVITE or CANCEL sent again when SIPp's answer is slower than T1 on a loaded machine) is the
# same request
requests() {
	python3 - "$1" "$WORK/uas.msg" <<'PY'
import re, sys
ids = set()
for m in re.split(r"\n(?=[A-Z]+ sips?:\S+ SIP/2\.0)", open(sys.argv[2], errors="replace").read()):
    if m.startswith(sys.argv[1] + " sip"):
        c = re.search(r"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", m, re.M | re.I)
        ids.add(c.group(1) if c else m)
print(len(ids))
PY
}
children() { q "select count(*) from calls where direction = 'outbound-dial' ${1:-}"; }

# 1: the caller's CANCEL in every window of the child's set-up
sipp_start uas uas_ring_cancel.xml -i 127.0.0.1 -p "$UAS"
dial_wait_port udp "$UAS"
sed 's|<recv response="180"/>|&<pause distribution="uniform" min="0" max="60"/>|' \
	"$TOP/tests/sipp/uac_cancel.xml" >"$WORK/uac_cancel.xml"
sipp_start callers "$WORK/uac_cancel.xml" "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" \
	-m $N -r 5
sipp_wait callers 60
assert_eq "$?" 0 "1: the $N callers gave up while it rang (180, CANCEL, 200, 487)"
calls_wait_q "$N" 15 "select count(*) from calls where direction = 'inbound' and status = 'canceled'"
# 45 s: a CANCEL that reaches SIPp between its 100 and its 180 gets SIPp's own 200 and never a 487
# (SIPp ends an unexpected CANCEL's call itself); our INVITE then ends after the 32 s (64*T1) of
# RFC 3261 section 9.1, canceled
calls_wait_q 0 45 "select count(*) from calls where direction = 'outbound-dial' and ended_at is null"
NC=$(children)
[ "$NC" -ge 1 ] || fail "1: no caller stayed long enough for a child to be dialled"
pass "1: $NC of the $N calls dialled their child before the caller gave up"
assert_eq "$(requests INVITE)" "$NC" "1: the target got one INVITE per child"
_d=$(( $(date +%s) + 10 ))
until [ "$(requests CANCEL)" -ge "$NC" ] || [ "$(date +%s)" -gt $_d ]; do
	sleep 0.2
done
assert_eq "$(requests CANCEL)" "$NC" "1: and one CANCEL per child"
assert_eq "$(children "and status = 'canceled'")" "$NC" "1: every child canceled"
final_callbacks_ok "$NC" 15 "1: every child: exactly one final status callback"
assert_eq "$(grep -c 'dial over: canceled (caller gone)' "$WORK/dialerd.log")" "$NC" \
	"1: every <Dial> over, canceled"
_d=$(( $(date +%s) + 10 ))
until [ "$(open_calls)" = 0 ] || [ "$(date +%s)" -gt $_d ]; do sleep 0.2; done
assert_eq "$(open_calls)" 0 "1: /metrics: no call open"

# 2: REST Status=completed on a ringing parent
sed 's|<recv response="180"/>|&<pause milliseconds="20000"/>|' \
	"$TOP/tests/sipp/uac_cancel.xml" >"$WORK/uac_wait.xml"
sipp_start c2 "$WORK/uac_wait.xml" "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
calls_wait_q 1 15 "select count(*) from calls where direction = 'outbound-dial' and status = 'ringing'"
PARENT=$(q "select sid from calls where direction = 'inbound' and status = 'ringing'")
out=$(curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -X POST -o /dev/null \
	-w '%{http_code}' --data-urlencode "Status=completed" \
	"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls/$PARENT.json")
assert_eq "$out" 200 "2: Status=completed on the ringing parent"
calls_wait_q 0 15 "select count(*) from calls where direction = 'outbound-dial' and ended_at is null"
assert_eq "$(requests CANCEL)" "$((NC + 1))" "2: the child got our CANCEL"
assert_eq "$(children "and status = 'canceled'")" "$((NC + 1))" "2: and ended canceled"
final_callbacks_ok "$((NC + 1))" 15 "2: with its final status callback"
sipp_wait c2 5 >/dev/null	# refused with 487 while it waited: not asserted

# 3: SIGTERM while a child rings at a far end slow to answer our CANCEL
routes "$SLOW"
sipp_start slow uas_ring_cancel_slow.xml -i 127.0.0.1 -p "$SLOW" -m 1
dial_wait_port udp "$SLOW"
sipp_start c3 "$WORK/uac_wait.xml" "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
calls_wait_q 1 15 "select count(*) from calls where direction = 'outbound-dial' and status = 'ringing'"
kill -TERM "$DIALERD_PID"
sipp_wait slow 20
assert_eq "$?" 0 "3: the slow target got our CANCEL (and answered it 4.5 s later)"
wait "$DIALERD_PID"
assert_eq "$?" 0 "3: the daemon exited 0"
assert_eq "$(children "and ended_at is null")" 0 "3: every child has ended_at"
assert_eq "$(children "and status = 'canceled'")" "$((NC + 2))" "3: the slow target's child canceled"
assert_eq "$(q "select count(*) from calls where ended_at is null")" 0 "3: no call left open"
assert_eq "$(grep -c 'dial over: canceled (caller gone)' "$WORK/dialerd.log")" "$((NC + 2))" \
	"3: its <Dial> over, canceled"
final_callbacks_ok "$((NC + 2))" 5 "3: the child's final status callback went out before the exit"
grep -q 'legs still not ended' "$WORK/dialerd.log" || fail "3: the daemon did not say it ended a leg itself"
pass "3: the daemon ended the leg the engine still held"
python3 - "$WORK/requests.log" <<'PY' || fail "3: see above"
import json, sys
acts = [dict(r["form"] or []) for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/action"]
ok = acts and acts[-1].get("DialCallStatus") == "canceled"
print(("ok" if ok else "not ok") + " - 3: the action was requested with DialCallStatus=canceled: %s"
      % (acts[-1].get("DialCallStatus") if acts else None))
sys.exit(0 if ok else 1)
PY
sipp_wait c3 5 >/dev/null
calls_signatures_ok
