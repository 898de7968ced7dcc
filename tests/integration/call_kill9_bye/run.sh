#!/bin/sh
# call_kill9_bye: dialerd killed with SIGKILL while a relayed call is up, and started again on
# its folder. The killed process took the call's legs with it; the new one ends the call in the
# log (instance-restarted) and ends both dialogs with a BYE rebuilt from the call log's INVITE and
# 200 of each leg: the caller and the callee are not left on silence. Each BYE is checked as the
# SIPp peer received it: its dialog's tags the right way round (From is dialerd's side), its
# Call-ID, a CSeq above dialerd's requests, no Route (no Record-Route), a Reason; both answered
# 200, so both SIPp scenarios end well, and both BYEs and 200s are in the call log after each
# leg's last message. A call that ended before the kill gets no BYE.
# The call log keeps no message bodies here (call_log_bodies none): without the SDPs the restart
# cannot take the call up again (call_kill9_adopt), so it ends it; that fallback is what this
# case checks.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
export DIALERD_CALL_LOG_BODIES=none

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip statusCallback=\"/status\" statusCallbackEvent=\"initiated ringing answered completed\">sip:bob@127.0.0.1:$UAS?X-Customer=42</Sip></Dial></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
calls_start

# a whole call first: it ended before the kill, so no BYE for it
calls_call call_uas.xml 300
calls_wait_q "completed completed" 15 "select string_agg(status, ' ') from calls"

sipp_start uas2 call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start uac2 call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
calls_wait_q 2 15 "select count(*) from calls where status = 'in-progress'"
calls_wait_q 2 15 "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.status = 'in-progress' and m.method = 'ACK'"
pass "the second call is up, both legs and their messages in the call log"

kill -KILL "$DIALERD_PID"
wait "$DIALERD_PID" 2>/dev/null
# the same addresses, as a supervisor restarts it: the peers answer the BYE where their dialog is
DIALERD_PID=
calls_start
wait_log "2 BYEs to the dialogs of the answered calls the dead process left up" 15 \
	"the new process sent a BYE on each leg of the call that was up"
sipp_wait uac2 15
assert_eq "$?" 0 "the caller got a BYE and answered it 200"
sipp_wait uas2 15
assert_eq "$?" 0 "the callee got a BYE and answered it 200"
_d=$(( $(date +%s) + 10 ))
until [ "$(metric 'dialerd_sip_restart_byes_total{result="answered"}')" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "BYEs answered: $(metric 'dialerd_sip_restart_byes_total{result="answered"}')"
	sleep 0.1
done
pass "dialerd counted both BYEs answered"
assert_eq "$(metric 'dialerd_sip_restart_byes_total{result="failed"}')" 0 "and none failed"
assert_eq "$(grep -c 'BYE to the orphaned dialog: 200 OK' "$WORK/dialerd.log")" 2 "both answers logged"
calls_wait_q "completed instance-restarted completed instance-restarted" 15 "select
	string_agg(status || ' ' || reason_text, ' ' order by parent_call_sid nulls first) from calls
	where reason_text is not null"
# and in the call log: each leg's BYE and its 200, after the leg's last message
calls_wait_q "out:BYE in:200 out:BYE in:200" 15 "select string_agg(m.direction || ':' ||
	coalesce(m.method, m.status_code::text), ' ' order by c.parent_call_sid nulls first, m.seq)
	from sip_messages m join calls c on c.sid = m.call_sid where c.reason_text is not null
	and m.seq >= (select max(seq) - 1 from sip_messages where call_sid = c.sid)"
pass "each leg's BYE and its 200 are its last two messages in the call log"
assert_eq "$(q "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.reason_text is not null and m.method = 'BYE'
	and convert_from(m.headers, 'UTF8') like '%cause=41%'")" 2 "with the Reason the peers got"
assert_eq "$(q "select count(*) - count(distinct (call_sid, seq)) from sip_messages")" 0 \
	"no message number taken twice"

# what crossed the wire: the dialog of each leg from the peer's own trace
check_bye() {	# check_bye MSGFILE ROLE: ROLE uac (the peer called dialerd) or uas
	python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
msgs = []
for part in re.split(r"\n-{20,}[^\n]*\n", "\n" + text):
    m = re.match(r"\s*(UDP|TCP) message (sent|received)[^\n]*\n\n(.*)", part, re.S)
    if m:
        msgs.append((m.group(2), m.group(3).replace("\r\n", "\n")))
def hdr(msg, name):
    m = re.search(r"^" + name + r"\s*:\s*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else ""
def tag(v):
    m = re.search(r";\s*tag=([^;>\s]+)", v)
    return m.group(1) if m else ""
byes = [m for d, m in msgs if d == "received" and m.startswith("BYE ")]
if len(byes) != 1:
    print("BYEs received: %d" % len(byes)); sys.exit(1)
bye = byes[0]
if sys.argv[2] == "uac":	# the peer sent the INVITE, dialerd answered 200
    inv = [m for d, m in msgs if d == "sent" and m.startswith("INVITE ")][0]
    ok = [m for d, m in msgs if d == "received" and m.startswith("SIP/2.0 200") and "INVITE" in hdr(m, "CSeq")][0]
    want_from, want_to = tag(hdr(ok, "To")), tag(hdr(inv, "From"))
    theirs = 0
else:			# dialerd sent the INVITE, the peer answered 200
    inv = [m for d, m in msgs if d == "received" and m.startswith("INVITE ")][0]
    ok = [m for d, m in msgs if d == "sent" and m.startswith("SIP/2.0 200")][0]
    want_from, want_to = tag(hdr(inv, "From")), tag(hdr(ok, "To"))
    theirs = int(hdr(inv, "CSeq").split()[0])
errs = []
if tag(hdr(bye, "From")) != want_from or not want_from:
    errs.append("From tag %r, want %r" % (tag(hdr(bye, "From")), want_from))
if tag(hdr(bye, "To")) != want_to or not want_to:
    errs.append("To tag %r, want %r" % (tag(hdr(bye, "To")), want_to))
if hdr(bye, "Call-ID") != hdr(inv, "Call-ID"):
    errs.append("Call-ID %r" % hdr(bye, "Call-ID"))
cseq = hdr(bye, "CSeq").split()
if len(cseq) != 2 or cseq[1] != "BYE" or int(cseq[0]) <= theirs:
    errs.append("CSeq %r" % hdr(bye, "CSeq"))
if hdr(bye, "Route"):
    errs.append("a Route: %r" % hdr(bye, "Route"))
if "cause=41" not in hdr(bye, "Reason"):
    errs.append("Reason %r" % hdr(bye, "Reason"))
contact = re.search(r"<([^>]+)>", hdr(ok if sys.argv[2] == "uas" else inv, "Contact")).group(1)
if bye.split()[1] != contact:
    errs.append("Request-URI %r, want the peer's Contact %r" % (bye.split()[1], contact))
print("; ".join(errs) if errs else "ok " + hdr(bye, "CSeq"))
PY
}
r=$(check_bye "$WORK/uac2.msg" uac)
assert_match "$r" "^ok " "the caller's BYE: dialerd's tag in From, the caller's in To, its Call-ID, its Contact as Request-URI, a Reason ($r)"
r=$(check_bye "$WORK/uas2.msg" uas)
assert_match "$r" "^ok " "the callee's BYE: dialerd's tag in From, the callee's in To, CSeq above dialerd's INVITE ($r)"
assert_eq "$(grep -c '^BYE ' "$WORK/uas.msg")" 1 "the call that had ended got no second BYE"
