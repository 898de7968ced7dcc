#!/bin/sh
# dial_auth_loop: a far end that challenges forever (stale=true, fresh nonces) or repeats a nonce: the leg ends failed with the 401
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
UAS2=$(free_port)
ME=$(free_port)
sipp_start uas uas_401_loop.xml -i 127.0.0.1 -p "$UAS" -m 1
sipp_start uas2 uas_401_same_nonce.xml -i 127.0.0.1 -p "$UAS2" -m 1
dial_wait_port udp "$UAS"
dial_wait_port udp "$UAS2"
dial_run out -l "127.0.0.1:$ME" \
	"start id=CAl uri=sip:test@127.0.0.1:$UAS user=bob pass=secret" 'expect ended:CAl 5000' \
	"start id=CAn uri=sip:test@127.0.0.1:$UAS2 user=bob pass=secret" 'expect ended:CAn 5000' 'wait 700'
assert_eq "$DIAL_RC" 0 "dialtool saw both legs end"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE" and e["leg"]=="CAl"')" 3 "fresh nonces: two challenges answered, three INVITEs in all"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAl"' 'e["end"]+"/"+str(e["code"])')" "failed/401" "ended failed with the third 401"
assert_eq "$(ev out count 'e["event"]=="answered"')" 0 "no leg answered"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE" and e["leg"]=="CAn"')" 2 "a repeated nonce is not answered again: two INVITEs"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAn"' 'e["end"]+"/"+str(e["code"])')" "failed/401" "ended failed with the repeated 401"
assert_eq "$(sipp_msg uas | grep -c '^INVITE ')" 3 "SIPp saw three INVITEs"
