#!/bin/sh
# dial_bridge_rtp: a SIPp caller (inbound leg A) calls dialtool; dialtool forks
# two outgoing legs with relay=1 (B to a SIPp UAS that answers, C to one that
# only rings); when B answers, C is cancelled, dialtool answers A with
# relay=1 and bridges A and B. Media goes through the engine's sockets:
# tests/lib/rtppeer.py at A's SDP address streams 100 RTP + 5 RTCP packets to
# A's relay socket, another at B's SDP address echoes them. Then the caller
# hangs up and dialtool hangs up B. Asserts: each SIPp side saw its own relay
# socket in our SDP; every packet crossed both ways byte-identical; the
# ENDED counters of A and B are exact per direction; the losing fork C had
# its own socket pair, closed when it ended (while B's was still open).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
command -v ss >/dev/null 2>&1 || skip "no ss (iproute2)"

cd "$WORK" || harness_error "no work dir"

# bound by our dialtool (the child of timeout in dial_start): the machine may
# run other tests whose ephemeral ports fall in the relay range
udp_bound() {
	ss -Hlunp "sport = :$1" 2>/dev/null | grep -q "pid=$(pgrep -P "$DIAL_PID_in" | head -n 1),"
}

LO=43100
HI=43199
N=100       # RTP packets of 172 bytes
M=5         # RTCP packets of 52 bytes
PA=$(pair_port)
PB=$(pair_port)
[ "$PA" != "$PB" ] || PB=$(pair_port)
UAS=$(free_port)
UASC=$(free_port)
UAC=$(free_port)
ME=$(free_port)

python3 "$TOP/tests/lib/rtppeer.py" echo "$PB" echo.json --seconds 40 --idle 3 >echo.log 2>&1 &
ECHO_PID=$!
dlr_track $ECHO_PID
sipp_start uas uas_bridge_rtp.xml -i 127.0.0.1 -p "$UAS" -mp "$(free_port)" -m 1 -key peer_port "$PB"
sipp_start uasc uas_ring_cancel.xml -i 127.0.0.1 -p "$UASC" -mp "$(free_port)" -m 1
dial_wait_port udp "$UAS"
dial_wait_port udp "$UASC"

dial_start in -l "127.0.0.1:$ME" -R "$LO-$HI" 'expect inbound 10000' \
	"start id=CAbrB group=CAbr uri=sip:b@127.0.0.1:$UAS relay=1" \
	"start id=CAbrC group=CAbr uri=sip:c@127.0.0.1:$UASC relay=1" \
	'expect answered:CAbrB 10000' 'expect ended:CAbrC 5000' \
	'answer id=@in relay=1' 'expect answered:@in 5000' \
	'bridge a=@in b=CAbrB' 'expect bridged:@in 2000' \
	'wait 1000' \
	'expect ended:@in 30000' 'hangup id=CAbrB' 'expect ended:CAbrB 5000' 'wait 200'
dial_wait_port udp "$ME"
sipp_start uac uac_bridge_rtp.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -mp "$(free_port)" -m 1 -key peer_port "$PA"

# the bridge is up: C's socket pair must be gone already, B's still there
deadline=$(( $(date +%s) + 15 ))
until [ -s in.json ] && ev in count 'e["event"]=="bridged"' | grep -qx 1; do
	[ "$(date +%s)" -le $deadline ] || { cat in.log; fail "no bridged event"; }
	sleep 0.1
done
assert_eq "$(ev in first 'e["event"]=="bridged"' 'str(e["err"])+"/"+e["bridged"]')" "0/CAbrB" "bridge A-B done, no error"
PORT_A=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE" and not e["outbound"]' 'e["sdp"]["port"]')
PORT_B=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["leg"]=="CAbrB" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
PORT_C=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["leg"]=="CAbrC" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
printf '# relay ports: A %s, B %s, C %s; peers: A %s, B %s\n' "$PORT_A" "$PORT_B" "$PORT_C" "$PA" "$PB"
python3 "$TOP/tests/lib/rtppeer.py" send "$PA" send.json --to "127.0.0.1:$PORT_A" --rtp $N --rtcp $M --seconds 20 --idle 1.5 >send.log 2>&1 &
SEND_PID=$!
dlr_track $SEND_PID
# the caller's pair may be opened after C ended and take C's freed ports: then they are A's
if [ "$PORT_C" != "$PORT_A" ] && [ "$PORT_C" != "$PORT_B" ]; then
	udp_bound "$PORT_C" && fail "losing fork C's RTP port $PORT_C still bound after it ended"
	udp_bound "$((PORT_C + 1))" && fail "losing fork C's RTCP port still bound after it ended"
fi
pass "losing fork C: its pair $PORT_C/$((PORT_C + 1)) closed when it ended"
udp_bound "$PORT_B" && udp_bound "$((PORT_B + 1))" || fail "B's pair $PORT_B not bound"
pass "winner B: its pair $PORT_B/$((PORT_B + 1)) bound"

wait $SEND_PID
sipp_wait uac 30
assert_eq "$?" 0 "SIPp caller: 200 with SDP, ACK, BYE answered"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool: inbound, fork, answer, bridge, both ended"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp callee B: answered, our BYE answered"
sipp_wait uasc 10
assert_eq "$?" 0 "SIPp callee C: rang, cancelled"
wait $ECHO_PID
[ -s send.json ] && [ -s echo.json ] || harness_error "media peers wrote no counters: $(cat send.log echo.log)"

# --- what crossed the SIP wire ---
for p in "$PORT_A" "$PORT_B" "$PORT_C"; do
	[ $((p % 2)) -eq 0 ] && [ "$p" -ge $LO ] && [ "$p" -le $HI ] ||
		fail "relay port $p: not an even port in $LO-$HI"
done
pass "relay ports are even and in the range $LO-$HI"
[ "$PORT_A" != "$PORT_B" ] && [ "$PORT_B" != "$PORT_C" ] && [ "$PORT_A" != "$PORT_C" ] ||
	fail "legs share relay ports"
pass "each leg has its own pair"
assert_match "$(sipp_msg uac)" "m=audio $PORT_A RTP/AVP" "caller's 200 names relay socket A"
assert_match "$(sipp_msg uas)" "m=audio $PORT_B RTP/AVP" "callee B's INVITE names relay socket B"
assert_match "$(sipp_msg uasc)" "m=audio $PORT_C RTP/AVP" "callee C's INVITE names relay socket C"
assert_match "$(sipp_msg uac)" "c=IN IP4 127.0.0.1" "caller's 200: c= the engine's address"

# --- what the far ends' media peers counted ---
js() { python3 -c "import json,sys; e=json.load(open('$1')); print(($2))"; }
printf '# sender %s\n# echo   %s\n' "$(cat send.json)" "$(cat echo.json)"
assert_eq "$(js send.json 'e["rtp_tx"],e["rtcp_tx"]')" "($N, $M)" "A's peer sent $N RTP + $M RTCP"
assert_eq "$(js echo.json 'e["rtp_rx"],e["rtp_rx_bytes"],e["rtcp_rx"],e["rtcp_rx_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "B's peer received all of them (A -> B)"
assert_eq "$(js echo.json 'e["sources"]')" "['127.0.0.1:$PORT_B', '127.0.0.1:$((PORT_B + 1))']" "... from relay socket B (RTP and RTCP)"
assert_eq "$(js send.json 'e["rtp_rx"],e["rtp_rx_bytes"],e["rtcp_rx"],e["rtcp_rx_bytes"],e["mismatch"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "A's peer got every echo back, byte-identical (B -> A)"
assert_eq "$(js send.json 'e["sources"]')" "['127.0.0.1:$PORT_A', '127.0.0.1:$((PORT_A + 1))']" "... from relay socket A"

# --- the ENDED counters ---
A=$(ev in first 'e["event"]=="inbound"' 'e["leg"]')
m() { ev in first "e['event']=='ended' and e['leg']=='$1'" "$2"; }
assert_eq "$(m "$A" 'e["media"]["relayed"],e["media"]["latched"],e["media"]["peer"],e["media"]["local_port"],e["bridged"]')" "(True, True, '127.0.0.1:$PA', $PORT_A, 'CAbrB')" "A ended: relayed, latched on its peer, bridged to B"
assert_eq "$(m "$A" 'e["media"]["rx_rtp_pkts"],e["media"]["rx_rtp_bytes"],e["media"]["rx_rtcp_pkts"],e["media"]["rx_rtcp_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "A ended: received from its peer $N RTP ($((N * 172)) B) + $M RTCP ($((M * 52)) B)"
assert_eq "$(m "$A" 'e["media"]["tx_rtp_pkts"],e["media"]["tx_rtp_bytes"],e["media"]["tx_rtcp_pkts"],e["media"]["tx_rtcp_bytes"],e["media"]["dropped"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "A ended: sent its peer the $N + $M echoes, nothing dropped"
assert_eq "$(m CAbrB 'e["media"]["relayed"],e["media"]["latched"],e["media"]["peer"],e["media"]["local_port"]')" "(True, True, '127.0.0.1:$PB', $PORT_B)" "B ended: relayed, latched on its peer"
assert_eq "$(m CAbrB 'e["media"]["tx_rtp_pkts"],e["media"]["tx_rtp_bytes"],e["media"]["tx_rtcp_pkts"],e["media"]["tx_rtcp_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "B ended: sent its peer what A's peer sent"
assert_eq "$(m CAbrB 'e["media"]["rx_rtp_pkts"],e["media"]["rx_rtp_bytes"],e["media"]["rx_rtcp_pkts"],e["media"]["rx_rtcp_bytes"],e["media"]["dropped"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "B ended: received the echoes, nothing dropped"
assert_eq "$(m CAbrC 'e["media"]["relayed"],e["media"]["local_port"],e["media"]["rx_rtp_pkts"]+e["media"]["tx_rtp_pkts"],e["end"]')" "(True, $PORT_C, 0, 'canceled')" "C ended (cancelled): had its own pair, no media"
