#!/bin/sh
# dial_422_huge: a 422 asking for Min-SE 86400 (over the 7200 s cap) ends the leg with the 422: no retry
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_422_huge.xml -i 127.0.0.1 -p "$UAS" -m 2
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAh uri=sip:test@127.0.0.1:$UAS se=300" 'expect ended:CAh 5000' 'wait 1000'
assert_eq "$DIAL_RC" 0 "dialtool saw the end"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e.get("method")=="INVITE" and not e.get("code")')" 1 "one INVITE: the 422 was not retried"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])')" "failed/422" "leg failed with the 422"
msg=$(sipp_msg uas)
assert_eq "$(printf "%s" "$msg" | grep -c "Session-Expires: 86400")" 0 "no INVITE asks for a day"
