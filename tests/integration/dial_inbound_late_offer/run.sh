#!/bin/sh
# dial_inbound_late_offer: an INVITE without SDP: our 200 carries an offer, the caller's ACK the answer
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAC=$(free_port)
ME=$(free_port)
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'ring id=@in' 'answer id=@in' \
	'expect answered:@in 5000' 'expect ended:@in 5000' 'wait 200'
dial_wait_port udp "$ME"
sipp_start uac uac_late_offer.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -m 1
sipp_wait uac 15
assert_eq "$?" 0 "SIPp UAC: 200 with our offer, ACK with its answer, BYE"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound, answered, ended"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'str("sdp" in e)')" False "no offer in the INVITE"
assert_eq "$(ev in first 'e["event"]=="answered"' 'e["sdp"]["codec"]')" PCMU "answered event carries the ACK's SDP answer"
