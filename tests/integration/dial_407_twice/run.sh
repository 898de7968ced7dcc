#!/bin/sh
# dial_407_twice: a second 407 after our credentials ends the leg with 407 (no third INVITE)
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_407_twice.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAp uri=sip:test@127.0.0.1:$UAS user=bob pass=wrong" 'expect ended:CAp 5000' 'wait 700'
assert_eq "$DIAL_RC" 0 "dialtool saw the end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: both 407 ACKed"
assert_match "$(sipp_msg uas)" 'Proxy-Authorization: Digest username="bob", realm="proxy.test"' "Proxy-Authorization sent once"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE"')" 2 "exactly two INVITEs"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])')" "failed/407" "ended failed with 407"
