#!/bin/sh
# dial_auth: 401 digest challenge, then 200: the retried INVITE's Authorization is valid (SIPp verifyauth)
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_auth.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAa uri=sip:test@127.0.0.1:$UAS user=alice pass=secret hdr=X-Customer:7" \
	'expect answered:CAa 5000' 'hangup id=CAa' 'expect ended:CAa 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw the answer"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: verifyauth accepted our digest, call completed"
msg=$(sipp_msg uas)
assert_match "$msg" 'Authorization: Digest username="alice", realm="dial.test"' "Authorization header on the wire"
assert_match "$msg" 'qop=auth' "qop=auth used"
assert_eq "$(printf '%s' "$msg" | grep -c 'X-Customer: 7')" 2 "both INVITEs carry the X- header"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE"')" 2 "two INVITEs reported"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==401')" 1 "the 401 reported"
assert_match "$(ev out first 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE" and hdr(e,"Authorization")' 'hdr(e,"Authorization")')" 'response="[0-9a-f]{32}"' "our Authorization reported"
assert_eq "$(grep -c secret "$WORK/out.log")" 0 "the password is in no log line"
