#!/bin/sh
# dial_cancel: no answer until our CANCEL (ring timeout): CANCEL with our Reason, 200, 487, ACK
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_ring_cancel.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAc uri=sip:test@127.0.0.1:$UAS" 'expect progress:CAc 5000' 'wait 300' \
	'hangup id=CAc reason=SIP;cause=480;text=Ring%20timeout' 'expect ended:CAc 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw progress and the end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: CANCEL answered, 487 ACKed"
msg=$(sipp_msg uas)
assert_match "$msg" 'CANCEL sip:test@127.0.0.1' "CANCEL on the wire"
assert_match "$msg" 'Reason: SIP;cause=480;text="Ring timeout"' "CANCEL carries our Reason"
inv_branch=$(ev out first 'e["event"]=="sip" and e["method"]=="INVITE" and e["dir"]=="tx"' 'hdr(e,"Via").split("branch=")[1].split(";")[0]')
can_branch=$(ev out first 'e["event"]=="sip" and e["method"]=="CANCEL" and e["dir"]=="tx"' 'hdr(e,"Via").split("branch=")[1].split(";")[0]')
assert_eq "$can_branch" "$inv_branch" "CANCEL has the INVITE's branch"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==487')" 1 "487 reported"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])+"/"+str(e["local"])')" "canceled/487/True" "ended canceled by us"
