#!/bin/sh
# dial_480: the far end rings, then answers 480: the leg ends "no-answer" with that response's headers
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_480.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CA480 uri=sip:test@127.0.0.1:$UAS" 'expect ended:CA480 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw the leg end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: the 480 was ACKed"
assert_match "$(sipp_msg uas)" 'ACK sip:' "ACK on the wire"
assert_eq "$(ev out count 'e["event"]=="progress" and e["code"]==180')" 1 "ringing reported"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])+"/"+str(e["local"])')" "no-answer/480/False" "ended no-answer with 480"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==480')" 1 "the 480 reported as a received message"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="ACK"')" 1 "our ACK reported"
