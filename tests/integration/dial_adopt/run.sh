#!/bin/sh
# dial_adopt: a dialtool with answered calls is killed (kill -9); a second one on the same SIP
# address adopts their dialogs (dial_adopt) from the INVITE, 2xx and SDPs the first one
# printed, and asks each callee with an OPTIONS in the dialog whether it still holds it (the
# Call-ID, tags and the next CSeq; SIPp answers 200). (a) the callee hangs up after the
# restart: our 200 to its BYE, ended completed/remote. (b) two relayed legs bridged before
# the kill are adopted as a pair: RTP from one callee's media peer crosses the relay ports
# bound again to the other's echo and back, byte-identical and counted; then we hang up both
# at once (each ends when its BYE goes: B's end still names C as bridged). Each SIPp callee
# gets a BYE with the dialog's Call-ID, tags and the CSeq after the OPTIONS's, and the
# hang-up's Reason, and answers 200; the 200s are events of the ended legs.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
cd "$WORK" || harness_error "no work dir"

RANGE=$(port_block 40) || harness_error "no RTP range"
ME=$(free_port)
PROBE_MS=300	# the adopted legs' OPTIONS (the engine's 4.5-5.5 s would outlast the callees' holds)

# kill9 NAME: kill -9 the dialtool of dial_start NAME (the child of its timeout)
kill9() {
	eval "_tp=\$DIAL_PID_$1"
	_dt=$(pgrep -P "$_tp" | head -n 1)
	[ -n "$_dt" ] || harness_error "no dialtool process under $_tp"
	kill -9 "$_dt"
	wait "$_tp" 2>/dev/null
}

# until_ev NAME SECONDS 'CONDITION': waits for an event of dialtool NAME
until_ev() {
	_deadline=$(( $(date +%s) + $2 ))
	until [ "$(ev "$1" count "$3")" != 0 ]; do
		[ "$(date +%s)" -le $_deadline ] || fail "no event $3 of $1 within $2 s"
		sleep 0.1
	done
}

# dialog NAME LEG: the leg's INVITE and 2xx as they crossed the wire, our SDP and the peer's,
# from dialtool NAME's events, into LEG.inv, LEG.ok, LEG.lsdp, LEG.psdp; prints the CSeq of
# our next request (the INVITE's + 1)
dialog() {
	python3 - "$WORK/$1.json" "$2" <<'PY'
import json, sys
path, leg = sys.argv[1:3]
inv = ok = None
for line in open(path):
    if not line.startswith("{"):
        continue
    e = json.loads(line)
    if e.get("leg") != leg or e["event"] != "sip" or e["method"] != "INVITE":
        continue
    if inv is None and e["dir"] == "tx" and e["code"] == 0:
        inv = e
    if ok is None and e["dir"] == "rx" and 200 <= e["code"] < 300:
        ok = e
if not inv or not ok or "body" not in inv or "body" not in ok:
    sys.exit("no INVITE/2xx with SDP of " + leg)
for ext, s in (("inv", inv["raw"]), ("ok", ok["raw"]), ("lsdp", inv["body"]),
               ("psdp", ok["body"])):
    with open(leg + "." + ext, "wb") as f:
        f.write(s.encode("latin-1"))
cseq = [v for n, v in inv["headers"] if n.lower() == "cseq"][0]
print(int(cseq.split()[0]) + 1)
PY
}

# bye NAME: the BYE SIPp scenario NAME received, its header lines
bye() {
	python3 - "$WORK/$1.msg" <<'PY'
import re, sys
t = open(sys.argv[1], errors="replace").read()
m = re.search(r"^BYE sip:.*?(?=\r?\n\r?\n)", t, re.S | re.M)
print(m.group(0).replace("\r", "") if m else "")
PY
}
hval() { printf '%s\n' "$1" | sed -n "s/^$2: *//Ip" | head -n 1; }
tag() { printf '%s\n' "$1" | sed -n 's/.*;tag=\([^;>]*\).*/\1/p'; }

# trace NAME 'PYTHON EXPRESSION': printed over the messages of SIPp's trace $WORK/NAME.msg
# (tests/lib/sipp_trace.py says what an expression can use)
trace() { python3 "$TOP/tests/lib/sipp_trace.py" "$WORK/$1.msg" "$2"; }

# probed NAME LEG CSEQ: SIPp scenario NAME got one OPTIONS from the second dialtool in LEG's
# dialog (the INVITE's Call-ID, our From tag, the callee's To tag, CSeq CSEQ) and answered 200
probed() {
	assert_eq "$(trace "$1" '[(o.h("Call-ID") == i.h("Call-ID"), tag(o.h("From")) == tag(i.h("From")) != "",
		tag(o.h("To")) == tag(k.h("To")) != "", o.h("CSeq"), o.h("Accept"),
		[r.h("CSeq") for r in resp(200, "OPTIONS", False)])
		for i in req("INVITE", True)[:1] for k in resp(200, "INVITE", False)[:1]
		for o in req("OPTIONS", True)]')" \
		"[(True, True, True, '$3 OPTIONS', 'application/sdp', ['$3 OPTIONS'])]" \
		"$2's callee: one OPTIONS in the dialog after the restart (Call-ID, tags, CSeq $3), answered 200"
}

# ---- (a) the far end hangs up after the restart ----
UAS=$(free_port)
sipp_start uas "$TOP/tests/integration/dial_adopt/uas_pause_bye.xml" -i 127.0.0.1 -p "$UAS" \
	-mp "$(sipp_media_port)" -m 1
dial_wait_port udp "$UAS"
dial_start first -l "127.0.0.1:$ME" -R "$RANGE" \
	"start id=CAa uri=sip:a@127.0.0.1:$UAS relay=1" 'expect answered:CAa 10000' 'wait 30000'
until_ev first 10 'e["event"]=="sip" and e["leg"]=="CAa" and e["method"]=="ACK"'
kill9 first
pass "first dialtool killed (kill -9) with leg CAa up"
CSEQ_A=$(dialog first CAa) || harness_error "no dialog of CAa in first.json"
LPORT_A=$(ev first first 'e["event"]=="sip" and e["leg"]=="CAa" and e["dir"]=="tx" and e["method"]=="INVITE"' 'e["sdp"]["port"]')
dial_run second -l "127.0.0.1:$ME" -R "$RANGE" -o "$PROBE_MS" \
	"adopt id=CAa inv=CAa.inv ok=CAa.ok uac=1 cseq=$CSEQ_A lsdp=CAa.lsdp psdp=CAa.psdp" \
	'expect adopted:CAa 5000' 'expect ended:CAa 15000' 'wait 300'
assert_eq "$DIAL_RC" 0 "second dialtool: adopted, then ended"
assert_eq "$(ev second first 'e["event"]=="adopted"' 'str(e["err"])+"/"+str(e["outbound"])+"/"+str(e["media"]["relayed"])+"/"+str(e["media"]["local_port"])')" \
	"0/True/True/$LPORT_A" "CAa adopted: ours, its relay port $LPORT_A bound again"
sipp_wait uas 15
assert_eq "$?" 0 "SIPp: its BYE after the restart got a 200"
probed uas CAa "$CSEQ_A"
assert_eq "$(ev second count 'e["event"]=="sip" and e["leg"]=="CAa" and e["dir"]=="rx" and e["code"]==200 and e["method"]=="OPTIONS"')" 1 "the OPTIONS's 200 is an event of the leg"
assert_eq "$(ev second count 'e["event"]=="sip" and e["dir"]=="rx" and e["method"]=="BYE"')" 1 "the BYE is an event of the leg"
assert_eq "$(ev second count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="BYE"')" 1 "our 200 to it too"
assert_eq "$(ev second first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])+"/"+str(hdr(e,"X-Hangup-Cause"))')" \
	"completed/False/after-restart" "ended completed by the far end, the BYE's headers in the event"

# ---- (b) a bridged pair adopted: RTP through the ports bound again, then our BYEs ----
N=50
M=2
PB=$(pair_port)
PC=$(pair_port)
UASB=$(free_port)
UASC=$(free_port)
python3 "$TOP/tests/lib/rtppeer.py" echo "$PC" echo.json --seconds 40 --idle 3 >echo.log 2>&1 &
ECHO_PID=$!
dlr_track $ECHO_PID
sipp_start uasb uas_bridge_rtp.xml -i 127.0.0.1 -p "$UASB" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PB"
sipp_start uasc uas_bridge_rtp.xml -i 127.0.0.1 -p "$UASC" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PC"
dial_wait_port udp "$UASB"
dial_wait_port udp "$UASC"
dial_start first2 -l "127.0.0.1:$ME" -R "$RANGE" \
	"start id=CAb uri=sip:b@127.0.0.1:$UASB relay=1" "start id=CAc uri=sip:c@127.0.0.1:$UASC relay=1" \
	'expect answered:CAb 10000' 'expect answered:CAc 10000' 'bridge a=CAb b=CAc' \
	'expect bridged:CAb 3000' 'wait 30000'
until_ev first2 10 'e["event"]=="bridged"'
until_ev first2 5 'e["event"]=="sip" and e["leg"]=="CAc" and e["method"]=="ACK"'
until_ev first2 5 'e["event"]=="sip" and e["leg"]=="CAb" and e["method"]=="ACK"'
kill9 first2
pass "first dialtool killed (kill -9) with CAb and CAc up and bridged"
CSEQ_B=$(dialog first2 CAb) || harness_error "no dialog of CAb"
CSEQ_C=$(dialog first2 CAc) || harness_error "no dialog of CAc"
RB=$(ev first2 first 'e["event"]=="sip" and e["leg"]=="CAb" and e["dir"]=="tx" and e["method"]=="INVITE"' 'e["sdp"]["port"]')
RC=$(ev first2 first 'e["event"]=="sip" and e["leg"]=="CAc" and e["dir"]=="tx" and e["method"]=="INVITE"' 'e["sdp"]["port"]')
dial_start second2 -l "127.0.0.1:$ME" -R "$RANGE" -o "$PROBE_MS" \
	"adopt id=CAb inv=CAb.inv ok=CAb.ok uac=1 cseq=$CSEQ_B lsdp=CAb.lsdp psdp=CAb.psdp id2=CAc inv2=CAc.inv ok2=CAc.ok uac2=1 cseq2=$CSEQ_C lsdp2=CAc.lsdp psdp2=CAc.psdp" \
	'expect adopted:CAb 5000' 'expect adopted:CAc 5000' 'wait 5000' \
	'hangup id=CAb reason=Q.850;cause=16;text=Normal%20call%20clearing' 'hangup id=CAc' \
	'expect ended:CAb 10000' 'expect ended:CAc 10000' 'wait 500'
until_ev second2 10 'e["event"]=="adopted" and e["leg"]=="CAc"'
python3 "$TOP/tests/lib/rtppeer.py" send "$PB" send.json --to "127.0.0.1:$RB" --rtp $N --rtcp $M \
	--seconds 4 --idle 1 >send.log 2>&1 ||
	harness_error "rtppeer send failed: $(cat send.log)"
dial_wait second2
assert_eq "$DIAL_RC" 0 "second dialtool: both adopted, both hung up"
assert_eq "$(ev second2 first 'e["event"]=="adopted" and e["leg"]=="CAb"' 'str(e["err"])+"/"+e["bridged"]+"/"+str(e["media"]["local_port"])')" \
	"0/CAc/$RB" "CAb adopted on its port $RB, bridged to CAc"
assert_eq "$(ev second2 first 'e["event"]=="adopted" and e["leg"]=="CAc"' 'str(e["err"])+"/"+e["bridged"]+"/"+str(e["media"]["local_port"])')" \
	"0/CAb/$RC" "CAc adopted on its port $RC, bridged to CAb"
sipp_wait uasb 10
assert_eq "$?" 0 "SIPp callee B: our BYE answered"
sipp_wait uasc 10
assert_eq "$?" 0 "SIPp callee C: our BYE answered"
probed uasb CAb "$CSEQ_B"
probed uasc CAc "$CSEQ_C"
for leg in CAb CAc; do
	assert_eq "$(ev second2 count "e['event']=='sip' and e['leg']=='$leg' and e['dir']=='rx' and e['code']==200 and e['method']=='BYE'")" 1 \
		"$leg: our BYE's 200 is an event of the leg, which ended when the BYE went"
done
wait $ECHO_PID

# what the media peers counted
js() { python3 -c "import json,sys; e=json.load(open('$1')); print(($2))"; }
[ -s send.json ] && [ -s echo.json ] || harness_error "media peers wrote no counters: $(cat send.log echo.log)"
assert_eq "$(js echo.json 'e["rtp_rx"],e["rtcp_rx"]')" "($N, $M)" "C's peer got the $N RTP + $M RTCP B's peer sent"
assert_eq "$(js echo.json 'e["sources"]')" "['127.0.0.1:$RC', '127.0.0.1:$((RC + 1))']" "... from the relay pair of C bound again"
assert_eq "$(js send.json 'e["rtp_rx"],e["rtcp_rx"],e["mismatch"]')" "($N, $M, 0)" "B's peer got every echo back, byte-identical"
m() { ev second2 first "e['event']=='ended' and e['leg']=='$1'" "$2"; }
assert_eq "$(m CAb 'e["end"],e["local"],e["bridged"],e["media"]["rx_rtp_pkts"],e["media"]["tx_rtp_pkts"]')" \
	"('completed', True, 'CAc', $N, $N)" "CAb ended: completed by us, counted $N RTP each way"
assert_eq "$(m CAc 'e["end"],e["local"],e["media"]["rx_rtp_pkts"],e["media"]["tx_rtp_pkts"]')" \
	"('completed', True, $N, $N)" "CAc ended: completed by us, counted $N RTP each way"

# the BYEs as the callees received them
for leg in CAb CAc; do
	case $leg in CAb) s=uasb; cs=$CSEQ_B ;; *) s=uasc; cs=$CSEQ_C ;; esac
	b=$(bye $s)
	[ -n "$b" ] || fail "$s received no BYE"
	inv=$(tr -d '\r' <$leg.inv)
	ok=$(tr -d '\r' <$leg.ok)
	[ -n "$(tag "$(hval "$inv" From)")" ] && [ -n "$(tag "$(hval "$ok" To)")" ] ||
		harness_error "$leg: no tags in its INVITE/2xx"
	assert_eq "$(hval "$b" Call-ID)" "$(hval "$inv" Call-ID)" "$leg's BYE: the dialog's Call-ID"
	assert_eq "$(tag "$(hval "$b" From)")" "$(tag "$(hval "$inv" From)")" "$leg's BYE: From with our tag"
	assert_eq "$(tag "$(hval "$b" To)")" "$(tag "$(hval "$ok" To)")" "$leg's BYE: To with the callee's tag"
	assert_eq "$(hval "$b" CSeq)" "$((cs + 1)) BYE" "$leg's BYE: CSeq $((cs + 1)), the one after the OPTIONS's"
done
assert_eq "$(hval "$(bye uasb)" Reason)" 'Q.850;cause=16;text="Normal call clearing"' "CAb's BYE: the hang-up's Reason"
assert_eq "$(hval "$(bye uasc)" Reason)" "" "CAc's BYE: no Reason (none given), not \"process lost\""
