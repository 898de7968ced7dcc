#!/bin/sh
# dial_inbound_tcp: an inbound call over TCP: ring and answer go back on the caller's connection,
# the caller's ACK and BYE arrive over it
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'wait 300' 'ring id=@in' 'wait 200' \
	'answer id=@in codecs=PCMA' 'expect answered:@in 5000' 'expect ended:@in 5000' 'wait 200'
inbound_uac tcp uac_xhdr.xml -t t1 -m 1
assert_eq "$?" 0 "SIPp UAC (TCP): 180, 200 with PCMA, BYE answered"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound, answered, ended"
msg=$(sipp_msg uac)
assert_match "$msg" 'Via: SIP/2.0/TCP' "the call ran over TCP"
assert_match "$msg" 'SIP/2.0 100 Trying' "100 Trying when we take more than 100 ms"
assert_eq "$(ev in first 'e["event"]=="inbound"' 'hdr(e,"X-Campaign")')" spring "X- header over TCP"
assert_eq "$(ev in first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])')" "completed/False" "caller's BYE ended it"
