#!/bin/sh
# call_dial_denied: sip_deny_destinations. A <Dial> of three <Sip> targets the policy refuses:
# our own SIP listener (the default's "self"), 169.254.169.254 (the default's link-local
# range, where cloud metadata lives) and 127.0.0.70 (in 127.0.0.64/26, denied by this
# configuration). Each leg ends failed before anything is sent: no INVITE reaches a listener
# on 127.0.0.70, no inbound call is created by a loop, no SIP message of those legs is in the
# call log, which holds a "destination-refused" event naming each destination, and the <Dial>
# reads failed. A second call to an allowed loopback target (127.0.0.1) is answered as usual.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
SINK=$(free_port)
# a UDP listener at the denied 127.0.0.70: counts what it gets
python3 - "$SINK" "$WORK/sink.count" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.70", int(sys.argv[1])))
n = 0
open(sys.argv[2], "w").write("0\n")
while True:
    s.recv(65536)
    n += 1
    open(sys.argv[2], "w").write("%d\n" % n)
PY
dlr_track $!
dial_wait_port udp "$SINK" 15

cat >"$WORK/routes.json" <<JSON
{"/voice": [
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/action\" timeout=\"5\"><Sip>sip:loop@127.0.0.1:$SIPPORT</Sip><Sip>sip:meta@169.254.169.254</Sip><Sip>sip:lan@127.0.0.70:$SINK</Sip></Dial></Response>"},
  {"status": 200, "content_type": "text/xml", "body": "<Response><Dial action=\"/action\" timeout=\"10\"><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"}],
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"}}
JSON
export DIALERD_SIP_DENY_DESTINATIONS="self, 169.254.0.0/16, fe80::/10, 127.0.0.64/26"
calls_start

# 1: every target refused
sipp_start c1 call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait c1 30
assert_eq "$?" 0 "1: the caller was answered and hung up on after the action"
calls_wait_q 3 15 "select count(*) from calls where direction = 'outbound-dial' and status = 'failed'"
pass "1: the three legs failed"
parent=$(q "select sid from calls where direction = 'inbound' order by created_at limit 1")
assert_eq "$(q "select dial_call_status from calls where sid = '$parent'")" failed "1: the <Dial> reads failed"
assert_eq "$(q "select string_agg(e.detail->>'destination' || ' ' || (e.detail->>'code'), ',' order by e.detail->>'destination')
	from call_events e join calls c on c.sid = e.call_sid
	where c.parent_call_sid = '$parent' and e.event = 'destination-refused'")" \
	"127.0.0.1:$SIPPORT 13225,127.0.0.70:$SINK 13225,169.254.169.254:5060 13225" \
	"1: call_events: each child's destination-refused names the address contacted, code 13225"
assert_eq "$(q "select count(*) from calls c where c.parent_call_sid = '$parent' and not exists
	(select 1 from call_events e where e.call_sid = c.sid and e.event = 'failed')")" 0 \
	"1: call_events: each child ends failed"
assert_eq "$(q "select count(*) from sip_messages m join calls c on c.sid = m.call_sid where c.parent_call_sid = '$parent'")" 0 \
	"1: no SIP message of a refused leg was sent (the engine traces every one it sends)"
assert_eq "$(cat "$WORK/sink.count")" 0 "1: nothing reached the listener at the denied 127.0.0.70"
assert_eq "$(q "select count(*) from calls where direction = 'inbound'")" 1 "1: no call to ourselves arrived (no loop)"
for dst in "127.0.0.1:$SIPPORT|self 127.0.0.1:$SIPPORT" "169.254.169.254:5060|169.254.0.0/16" "127.0.0.70:$SINK|127.0.0.64/26"; do
	grep -F "request to ${dst%%|*} refused" "$WORK/dialerd.log" | grep -qF "(${dst##*|})" ||
		fail "1: no log line for ${dst%%|*} and its rule ${dst##*|}"
done
pass "1: the log names each refused destination and the rule"
grep -q "a=.*meta@169\|INVITE sip:meta" "$WORK/dialerd.log" && fail "1: an INVITE to 169.254.169.254 was traced"
pass "1: no INVITE to 169.254.169.254 traced"

# 2: an allowed loopback target still answers
calls_call call_uas.xml 1000
calls_wait_q 1 15 "select count(*) from calls where direction = 'outbound-dial' and status = 'completed'"
pass "2: the allowed child (127.0.0.1) completed"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
