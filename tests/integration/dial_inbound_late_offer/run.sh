#!/bin/sh
# dial_inbound_late_offer: an INVITE without SDP: our 200 carries an offer, the caller's ACK the answer
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'ring id=@in' 'answer id=@in' \
	'expect answered:@in 5000' 'expect ended:@in 5000' 'wait 200'
inbound_uac udp uac_late_offer.xml -m 1
assert_eq "$?" 0 "SIPp UAC: 200 with our offer, ACK with its answer, BYE"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound, answered, ended"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'str("sdp" in e)')" False "no offer in the INVITE"
assert_eq "$(ev in first 'e["event"]=="answered"' 'e["sdp"]["codec"]')" PCMU "answered event carries the ACK's SDP answer"
