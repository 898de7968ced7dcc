#!/bin/sh
# dial_200_after_cancel: our CANCEL crosses the far end's 200: we ACK the 200, then send BYE
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_200_after_cancel.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAr uri=sip:test@127.0.0.1:$UAS" 'expect progress:CAr 5000' \
	'hangup id=CAr' 'expect ended:CAr 5000' 'wait 500'
assert_eq "$DIAL_RC" 0 "dialtool saw progress and the end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: the late 200 was ACKed and the call ended with BYE"
msg=$(sipp_msg uas)
assert_match "$msg" 'CANCEL sip:' "CANCEL on the wire"
assert_match "$msg" 'ACK sip:' "200 ACKed"
assert_match "$msg" 'BYE sip:' "then BYE"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])+"/"+str(e["local"])')" "canceled/200/True" "ended canceled (answered after our CANCEL)"
assert_eq "$(ev out count 'e["event"]=="answered"')" 0 "no answered event for a cancelled leg"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==200 and e["method"]=="BYE"')" 1 "200 to our BYE reported"
