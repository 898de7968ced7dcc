#!/bin/sh
# dial_tcp: the same call over TCP (transport=tcp): Via/Contact say TCP, ACK and BYE go over TCP
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_200_xhdr.xml -t t1 -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port tcp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAt uri=sip:test@127.0.0.1:$UAS;transport=tcp hdr=X-Customer:tcp callsid=CAt" \
	'expect answered:CAt 5000' 'hangup id=CAt' 'expect ended:CAt 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp (TCP): call completed"
msg=$(sipp_msg uas)
assert_match "$msg" 'Via: SIP/2.0/TCP' "Via over TCP"
assert_match "$msg" 'transport=tcp' "Contact says TCP"
assert_match "$msg" 'BYE sip:' "BYE over TCP"
assert_eq "$(ev out first 'e["event"]=="answered"' 'hdr(e,"X-Agent-Id")')" 42 "200's X- header captured over TCP"
