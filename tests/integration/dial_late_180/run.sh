#!/bin/sh
# dial_late_180: a 180 that arrives after the 200 is tolerated: captured, no second progress, call goes on
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_late_180.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAl uri=sip:test@127.0.0.1:$UAS" 'expect answered:CAl 5000' 'wait 300' 'hangup id=CAl' 'expect ended:CAl 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: call completed"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==180')" 1 "late 180 captured"
assert_eq "$(ev out count 'e["event"]=="progress"')" 0 "no progress after the answer"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]')" completed "ended completed"
