#!/bin/sh
# dial_inbound_cancel_match: a CANCEL is matched to the pending INVITE's transaction (RFC 3261
# §9.2: its top Via branch and From tag), not its Call-ID. Two CANCELs with the Call-ID of a
# pending inbound INVITE but another branch, or the INVITE's branch and another From tag, get
# 481 and the call goes on (answered, then the caller's BYE). A second caller's own CANCEL
# before any ring still ends its call: 200, 487, ended "canceled".
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'wait 1500' 'answer id=@in' \
	'expect answered:@in 5000' 'expect ended:@in 5000' \
	'expect inbound 10000' 'expect ended:@in 5000' 'wait 300'
inbound_uac udp uac_cancel_foreign.xml -m 1
assert_eq "$?" 0 "SIPp UAC 1: both foreign CANCELs got 481; then 200, ACK, BYE answered"
UAC=$(free_port)
sipp_start uac2 uac_cancel_early.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -m 1
sipp_wait uac2 15
assert_eq "$?" 0 "SIPp UAC 2: its own CANCEL got 200, the INVITE 487"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw both calls and their ends"
first=$(ev in first 'e["event"]=="inbound"' 'e["leg"]')
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==481 and e["method"]=="CANCEL" and e["leg"]=="'"$first"'"')" 2 "two 481s to the foreign CANCELs"
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==487 and e["leg"]=="'"$first"'"')" 0 "no 487 for the first call"
assert_eq "$(ev in first 'e["event"]=="ended" and e["leg"]=="'"$first"'"' 'e["end"]+"/"+str(e["local"])')" "completed/False" "first call answered and ended by the caller's BYE"
assert_eq "$(ev in count 'e["event"]=="ended" and e["leg"]!="'"$first"'" and e["end"]=="canceled"')" 1 "second call ended canceled by its own CANCEL"
