#!/bin/sh
# dial_session_expiry: the far end refreshes (refresher=uas) once with UPDATE, which we answer,
# then goes silent: we send BYE before the 4 s interval passes (RFC 4028 §10)
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_refresh_remote.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -r -l "127.0.0.1:$ME" "start id=CAx uri=sip:test@127.0.0.1:$UAS se=90" \
	'expect answered:CAx 5000' 'expect refreshed:CAx 4000' 'expect ended:CAx 6000' 'wait 300'
assert_eq "$DIAL_RC" 0 "dialtool saw answer, the far end's refresh, and the end"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: UPDATE answered with Session-Expires, then our BYE"
assert_eq "$(ev out first 'e["event"]=="answered"' 'str(e["se"])+"/"+str(e["refresher_local"])')" "4/False" "the far end refreshes every 4 s"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["method"]=="UPDATE" and e["code"]==0')" 1 "their UPDATE reported"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="UPDATE" and e["code"]==200')" 1 "our 200 to it reported"
t_ref=$(ev out first 'e["event"]=="refreshed"' 'e["t"]')
t_bye=$(ev out first 'e["event"]=="sip" and e["method"]=="BYE" and e["dir"]=="tx"' 'e["t"]')
dt=$(( (t_bye - t_ref) / 1000 ))
[ "$dt" -ge 2500 ] && [ "$dt" -le 4000 ] && pass "BYE ${dt} ms after the refresh, before expiry" || fail "BYE after $dt ms, want 2.5-4 s"
