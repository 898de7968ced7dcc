#!/bin/sh
# dial_inbound: an INVITE from a SIPp UAC becomes an inbound event with all its headers; we ring,
# answer with PCMA (an SDP answer matching the offer), and the caller's BYE (Reason) ends it
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'ring id=@in' 'wait 200' \
	'answer id=@in codecs=PCMA hdr=X-Answered-By:dialtool' 'expect answered:@in 5000' 'expect ended:@in 5000' 'wait 200'
inbound_uac udp uac_xhdr.xml -m 1
assert_eq "$?" 0 "SIPp UAC: 180, 200 with a PCMA answer and our session timer, BYE answered"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound, answered, ended"
msg=$(sipp_msg uac)
assert_match "$msg" 'SIP/2.0 180 Ringing' "180 on the wire"
assert_match "$msg" 'X-Answered-By: dialtool' "our header on the 200"
assert_match "$msg" 'a=rtpmap:101 telephone-event/8000' "telephone-event answered"
id=$(ev in first 'e["event"]=="inbound"' 'e["leg"]')
assert_match "$id" '^CA[0-9a-f]{32}$' "inbound leg id is a call SID"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'hdr(e,"X-Campaign")+"/"+hdr(e,"X-Lead-Id")')" "spring/4711" "inbound event carries the X- headers"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'e["sdp"]["codec"]')" PCMU "offer summary: first codec"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'str(e["se"])')" 1800 "caller's session timer seen"
assert_eq "$(ev in first 'e["event"]=="inbound"' '",".join(n for n,v in e["headers"])')" "Via,From,To,Call-ID,CSeq,Contact,Max-Forwards,X-Campaign,X-Lead-Id,Session-Expires,Supported,Content-Type,Content-Length" "every header of the INVITE, in order"
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE"')" 1 "our 200 reported"
assert_eq "$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE"' 'e["sdp"]["codec"]')" PCMA "our answer's codec"
assert_eq "$(ev in first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])+"/"+e["reason"]["protocol"]+"/"+str(e["reason"]["cause"])')" "completed/False/Q.850/16" "caller's BYE ended it, Reason parsed"
