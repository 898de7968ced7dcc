#!/bin/sh
# dial_refresh: granted a 4 s session timer as refresher, we send an UPDATE with Session-Expires within it
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_refresh.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -r -l "127.0.0.1:$ME" "start id=CAf uri=sip:test@127.0.0.1:$UAS se=90" 'expect answered:CAf 5000' 'expect refreshed:CAf 4000' 'hangup id=CAf' 'expect ended:CAf 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer, refresh and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: UPDATE with Session-Expires received within the interval"
assert_match "$(sipp_msg uas)" 'UPDATE sip:' "UPDATE on the wire"
assert_eq "$(ev out first 'e["event"]=="answered"' 'str(e["se"])+"/"+str(e["refresher_local"])')" "4/True" "we are the refresher for 4 s"
t_ans=$(ev out first 'e["event"]=="answered"' 'e["t"]')
t_upd=$(ev out first 'e["event"]=="sip" and e["method"]=="UPDATE" and e["dir"]=="tx"' 'e["t"]')
dt=$(( (t_upd - t_ans) / 1000 ))
[ "$dt" -ge 1500 ] && [ "$dt" -le 3000 ] && pass "refresh at half the interval ($dt ms)" || fail "refresh after $dt ms, want ~2000"
