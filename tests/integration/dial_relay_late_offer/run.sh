#!/bin/sh
# dial_relay_late_offer: an INVITE without SDP answered with relay=1: our 200's offer names the
# leg's own relay socket, and the caller's ACK (its answer) tells the relay where its media goes
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAC=$(free_port)
ME=$(free_port)
MP=$(sipp_media_port)
LO=43200
HI=43299
dial_start in -l "127.0.0.1:$ME" -R "$LO-$HI" 'expect inbound 10000' 'ring id=@in' 'answer id=@in relay=1' \
	'expect answered:@in 5000' 'expect ended:@in 5000' 'wait 200'
dial_wait_port udp "$ME"
sipp_start uac uac_late_offer.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -mp "$MP" -m 1
sipp_wait uac 15
assert_eq "$?" 0 "SIPp UAC: 200 with our offer, ACK with its answer, BYE"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound, answered, ended"
PORT=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE"' 'e["sdp"]["port"]')
[ -n "$PORT" ] && [ $((PORT % 2)) -eq 0 ] && [ "$PORT" -ge $LO ] && [ "$PORT" -le $HI ] ||
	fail "our offer's port '$PORT' is not an even port of $LO-$HI"
pass "our offer in the 200 names relay port $PORT (even, in range)"
assert_match "$(sipp_msg uac)" "m=audio $PORT RTP/AVP" "the caller received that port"
assert_eq "$(ev in first 'e["event"]=="ended"' 'e["media"]["relayed"],e["media"]["local_port"],e["media"]["latched"],e["media"]["peer"]')" "(True, $PORT, False, '127.0.0.1:$MP')" "ENDED: relayed, its far end from the ACK's answer (no packet, not latched)"
