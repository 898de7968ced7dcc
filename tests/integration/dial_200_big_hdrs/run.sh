#!/bin/sh
# dial_200_big_hdrs: a 200 over UDP with X- headers at the policy limits (a 4000-byte value, ~8 KiB in all) is answered, every header whole in the event
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_200_big_hdrs.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" "start id=CAb uri=sip:test@127.0.0.1:$UAS" \
	'expect answered:CAb 5000' 'hangup id=CAb' 'expect ended:CAb 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answered and ended"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp: 200 ACKed, BYE answered"
assert_eq "$(ev out first 'e["event"]=="answered"' 'len(hdr(e,"X-Big-A"))')" 4000 "the 4000-byte value arrives whole"
assert_eq "$(ev out first 'e["event"]=="answered"' 'len(hdr(e,"X-Big-B"))')" 3900 "the second one too"
assert_eq "$(ev out first 'e["event"]=="answered"' 'hdr(e,"X-After")')" end "and the header after them"
