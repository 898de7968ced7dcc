#!/bin/sh
# dial_relay_foreign_sdp: SDP moves relayed media only in messages libre matched to the leg's
# dialog. Two relayed outgoing legs X and Y, bridged. X's far end (SIPp) answers with media at
# P1, then sends a re-INVITE, an UPDATE and an ACK that carry X's Call-ID but another From tag
# and name P2: the re-INVITE and the UPDATE get 481. Then tests/lib/rtppeer.py at Y's SDP
# address streams RTP to Y's relay socket: every packet must reach P1 (which echoes it back to
# the sender through the relay), none P2.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
cd "$WORK" || harness_error "no work dir"

N=50
LO=43700
HI=43799
P1=$(pair_port)
P2=$(pair_port)
PY=$(pair_port)
[ "$P1" != "$P2" ] && [ "$P2" != "$PY" ] && [ "$P1" != "$PY" ] || harness_error "pair_port gave one port twice"
UASX=$(free_port)
UASY=$(free_port)
ME=$(free_port)

python3 "$TOP/tests/lib/rtppeer.py" echo "$P1" p1.json --seconds 40 --idle 3 >p1.log 2>&1 &
P1_PID=$!
dlr_track $P1_PID
python3 "$TOP/tests/lib/rtppeer.py" echo "$P2" p2.json --seconds 25 --idle 3 >p2.log 2>&1 &
P2_PID=$!
dlr_track $P2_PID
sipp_start uasx uas_reinvite_foreign.xml -i 127.0.0.1 -p "$UASX" -mp "$(sipp_media_port)" -m 1 \
	-key peer1 "$P1" -key peer2 "$P2"
sipp_start uasy uas_bridge_rtp.xml -i 127.0.0.1 -p "$UASY" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PY"
dial_wait_port udp "$UASX"
dial_wait_port udp "$UASY"

dial_start out -l "127.0.0.1:$ME" -R "$LO-$HI" \
	"start id=CAX uri=sip:x@127.0.0.1:$UASX relay=1" \
	"start id=CAY uri=sip:y@127.0.0.1:$UASY relay=1" \
	'expect answered:CAX 10000' 'expect answered:CAY 10000' 'wait 1500' \
	'bridge a=CAX b=CAY' 'expect bridged:CAX 2000' 'wait 12000' \
	'hangup id=CAX' 'hangup id=CAY' 'expect ended:CAX 5000' 'expect ended:CAY 5000' 'wait 200'

deadline=$(( $(date +%s) + 20 ))
until [ -s out.json ] && ev out count 'e["event"]=="bridged"' | grep -qx 1; do
	[ "$(date +%s)" -le $deadline ] || fail "no bridged event"
	sleep 0.2
done
PORT_Y=$(ev out first 'e["event"]=="sip" and e["dir"]=="tx" and e["leg"]=="CAY" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
python3 "$TOP/tests/lib/rtppeer.py" send "$PY" send.json --to "127.0.0.1:$PORT_Y" --rtp $N --rtcp 1 \
	--seconds 15 --idle 2 >send.log 2>&1 &
SEND_PID=$!
dlr_track $SEND_PID
wait $SEND_PID
dial_wait out
assert_eq "$DIAL_RC" 0 "dialtool: both legs answered, bridged, ended"
sipp_wait uasx 15
assert_eq "$?" 0 "SIPp X: the re-INVITE and the UPDATE of another From tag got 481"
sipp_wait uasy 10
assert_eq "$?" 0 "SIPp Y: answered, BYE"
wait $P1_PID
wait $P2_PID
[ -s send.json ] && [ -s p1.json ] && [ -s p2.json ] || harness_error "media peers wrote no counters"

js() { python3 -c "import json,sys; e=json.load(open('$1')); print(($2))"; }
printf '# sender %s\n# P1 %s\n# P2 %s\n' "$(cat send.json)" "$(cat p1.json)" "$(cat p2.json)"
for m in INVITE UPDATE; do
	[ "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==481 and e["leg"]=="CAX" and e["method"]=="'$m'"')" -ge 1 ] ||
		fail "no 481 to the foreign $m"
	pass "our 481 to the foreign $m"
done
assert_eq "$(js p2.json 'e["rtp_rx"]+e["rtcp_rx"]')" 0 "nothing reached P2, the foreign requests' address"
assert_eq "$(js p1.json 'e["rtp_rx"]')" "$N" "all $N RTP packets reached P1, X's far end from its 200"
assert_eq "$(js send.json 'e["rtp_rx"],e["mismatch"]')" "($N, 0)" "P1's echoes came back to Y's far end, byte-identical"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAX"' 'e["media"]["peer"]')" "127.0.0.1:$P1" "X ENDED: its peer is still P1"
