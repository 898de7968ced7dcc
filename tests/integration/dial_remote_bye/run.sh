#!/bin/sh
# dial_remote_bye: the far end hangs up; its BYE's Reason (Q.850) and X- header reach the ended event
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_remote_bye.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAb uri=sip:test@127.0.0.1:$UAS" 'expect answered:CAb 5000' 'expect ended:CAb 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: its BYE got 200"
assert_match "$(sipp_msg uas)" 'SIP/2.0 200 OK' "200 to the BYE on the wire"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])')" "completed/False" "ended completed by the far end"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["reason"]["protocol"]+"/"+str(e["reason"]["cause"])+"/"+e["reason"]["text"]')" "Q.850/16/Normal call clearing" "Reason parsed"
assert_eq "$(ev out first 'e["event"]=="ended"' 'hdr(e,"X-Hangup-Cause")')" far-end "BYE's X- header in the ended event"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["method"]=="BYE"')" 1 "BYE reported"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="BYE"')" 1 "our 200 to it reported"
