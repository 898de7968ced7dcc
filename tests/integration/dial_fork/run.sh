#!/bin/sh
# dial_fork: three legs of one group ring at once; the first 2xx wins; the ringing leg gets CANCEL
# with Reason "Call completed elsewhere"; a 2xx that crosses that CANCEL is ACKed and BYEd
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
A=$(free_port)
B=$(free_port)
C=$(free_port)
ME=$(free_port)
sipp_start ua uas_200_xhdr.xml -i 127.0.0.1 -p "$A" -m 1
sipp_start ub uas_ring_cancel.xml -i 127.0.0.1 -p "$B" -m 1
sipp_start uc uas_200_after_cancel.xml -i 127.0.0.1 -p "$C" -m 1
dial_wait_port udp "$A"
dial_wait_port udp "$B"
dial_wait_port udp "$C"
dial_run out -l "127.0.0.1:$ME" \
	"start id=CAf2 group=CApar uri=sip:b@127.0.0.1:$B" \
	"start id=CAf3 group=CApar uri=sip:c@127.0.0.1:$C" \
	'expect progress:CAf2 5000' 'expect progress:CAf3 5000' \
	"start id=CAf1 group=CApar uri=sip:a@127.0.0.1:$A hdr=X-Customer:1 callsid=CAf1" \
	'expect answered:CAf1 5000' 'expect ended:CAf2 5000' 'expect ended:CAf3 5000' \
	'hangup id=CAf1' 'expect ended:CAf1 5000' 'wait 300'
assert_eq "$DIAL_RC" 0 "dialtool saw the winner answer and every leg end"
sipp_wait ua 10; assert_eq "$?" 0 "winner: call completed"
sipp_wait ub 10; assert_eq "$?" 0 "ringing leg: CANCEL answered, 487 ACKed"
sipp_wait uc 10; assert_eq "$?" 0 "crossing 200: ACKed and BYEd"
assert_match "$(sipp_msg ub)" 'Reason: SIP;cause=200;text="Call completed elsewhere"' "CANCEL says completed elsewhere"
assert_match "$(sipp_msg uc)" 'Reason: SIP;cause=200;text="Call completed elsewhere"' "late 2xx leg told too"
assert_match "$(sipp_msg uc)" 'BYE sip:' "late 2xx leg got BYE"
assert_eq "$(ev out count 'e["event"]=="answered"')" 1 "one answered event"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAf2"' 'e["end"]+"/"+str(e["code"])+"/"+e["group"]')" "canceled/487/CApar" "ringing leg canceled"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAf3"' 'e["end"]+"/"+str(e["code"])')" "canceled/200" "late 2xx leg canceled after its 200"
assert_eq "$(ev out first 'e["event"]=="ended" and e["leg"]=="CAf1"' 'e["end"]')" completed "winner completed"
