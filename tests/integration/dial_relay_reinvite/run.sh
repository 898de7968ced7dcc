#!/bin/sh
# dial_relay_reinvite: a relayed outgoing leg whose far end moves its media with a re-INVITE:
# our answer keeps naming the leg's relay socket, and the relay's far-end address follows the offer
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
P1=$(free_port)
P2=$(free_port)
LO=43400
HI=43499
sipp_start uas uas_reinvite_media.xml -i 127.0.0.1 -p "$UAS" -mp "$(sipp_media_port)" -m 1 -key peer1 "$P1" -key peer2 "$P2"
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" -R "$LO-$HI" "start id=CArv uri=sip:b@127.0.0.1:$UAS relay=1" \
	'expect answered:CArv 5000' 'expect refreshed:CArv 5000' 'wait 300' 'hangup id=CArv' \
	'expect ended:CArv 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer, the re-INVITE and the end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: re-INVITE answered with SDP, BYE received"
PORT=$(ev out first 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
[ -n "$PORT" ] && [ $((PORT % 2)) -eq 0 ] && [ "$PORT" -ge $LO ] && [ "$PORT" -le $HI ] ||
	fail "offer's port '$PORT' is not an even port of $LO-$HI"
pass "INVITE offers relay port $PORT"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE" and e.get("sdp",{}).get("port")=='"$PORT"'')" 1 "our answer to the re-INVITE names the same relay port"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["media"]["relayed"],e["media"]["local_port"],e["media"]["peer"]')" "(True, $PORT, '127.0.0.1:$P2')" "ENDED: the far end's address followed the re-INVITE ($P1 -> $P2)"
assert_eq "$(grep -o "leg=CArv: far end's media at [0-9.:]*" "$WORK/out.log" | sed 's/.* at //' | tr '\n' ' ')" "127.0.0.1:$P1 127.0.0.1:$P2 " "the relay took the 200's address, then the re-INVITE's (engine log)"
