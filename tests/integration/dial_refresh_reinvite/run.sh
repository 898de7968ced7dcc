#!/bin/sh
# dial_refresh_reinvite: granted a 4 s session timer as refresher by a peer without UPDATE, we re-INVITE
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_refresh_reinvite.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -r -l "127.0.0.1:$ME" "start id=CAg uri=sip:test@127.0.0.1:$UAS se=90" 'expect answered:CAg 5000' 'expect refreshed:CAg 4000' 'hangup id=CAg' 'expect ended:CAg 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answer, refresh and end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: re-INVITE with an SDP offer received within the interval"
assert_match "$(sipp_msg uas)" 'SIP/2.0 200 OK' "re-INVITE answered"
assert_eq "$(ev out first 'e["event"]=="answered"' 'str(e["se"])+"/"+str(e["refresher_local"])')" "4/True" "we are the refresher for 4 s"
t_ans=$(ev out first 'e["event"]=="answered"' 'e["t"]')
t_upd=$(ev out first 'e["event"]=="sip" and e["method"]=="INVITE" and e["dir"]=="tx" and e["code"]==0 and "tag=" in (e["to"] or "")' 'e["t"]')
dt=$(( (t_upd - t_ans) / 1000 ))
[ "$dt" -ge 1500 ] && [ "$dt" -le 3000 ] && pass "refresh at half the interval ($dt ms)" || fail "refresh after $dt ms, want ~2000"
