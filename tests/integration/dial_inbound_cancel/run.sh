#!/bin/sh
# dial_inbound_cancel: the caller gives up while we ring: 200 to its CANCEL, 487 to the INVITE,
# and the leg ends "canceled" by the far end with the CANCEL's Reason
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'ring id=@in' 'expect ended:@in 5000' 'wait 300'
inbound_uac udp uac_cancel.xml -m 1
assert_eq "$?" 0 "SIPp UAC: 180, CANCEL answered 200, INVITE 487, ACK"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound and its end"
assert_eq "$(ev in first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])+"/"+e["reason"]["protocol"]')" "canceled/False/Q.850" "ended canceled by the caller, Reason kept"
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="rx" and e["method"]=="CANCEL"')" 1 "CANCEL reported"
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==487')" 1 "our 487 reported"
