#!/bin/sh
# dial_422: 422 Session Interval Too Small (Min-SE 1800): one retry asking for 1800, then 200
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_422.xml -i 127.0.0.1 -p "$UAS" -m 2
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAs uri=sip:test@127.0.0.1:$UAS se=300" 'expect answered:CAs 5000' 'hangup id=CAs' 'expect ended:CAs 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: 422 ACKed, retry answered, BYE"
msg=$(sipp_msg uas)
assert_match "$msg" 'Session-Expires: 300' "first INVITE asks for 300"
assert_match "$msg" 'Session-Expires: 1800' "retry asks for 1800"
assert_match "$msg" 'Supported: timer' "Supported: timer sent"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==422')" 1 "422 reported"
assert_eq "$(ev out first 'e["event"]=="answered"' 'str(e["se"])+"/"+str(e["refresher_local"])')" "1800/False" "session timer 1800, the far end refreshes"
assert_eq "$(ev out count 'e["event"]=="ended"')" 1 "one ended event for the leg"
