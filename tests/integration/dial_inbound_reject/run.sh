#!/bin/sh
# dial_inbound_reject: with max_inbound=1 a second concurrent INVITE gets 503 at once; the first
# is rejected by us with 486 and a Reason header
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
inbound_init
dial_start in -m 1 -l "127.0.0.1:$ME" 'expect inbound 10000' 'wait 700' \
	'reject id=@in code=486 reason=Q.850;cause=17;text=User%20busy' 'expect ended:@in 5000' 'wait 300'
inbound_uac udp uac_reject.xml -m 2 -l 2 -r 10
assert_eq "$?" 0 "SIPp UAC: both calls ended with a failure and were ACKed"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw one inbound and its end"
msg=$(sipp_msg uac)
assert_match "$msg" 'SIP/2.0 503 Service Unavailable' "503 past the bound"
assert_match "$msg" 'SIP/2.0 486 Busy Here' "486 from our reject"
assert_match "$msg" 'Reason: Q.850;cause=17;text="User busy"' "486 carries our Reason"
assert_eq "$(ev in count 'e["event"]=="inbound"')" 1 "one inbound event (the other was shed)"
assert_eq "$(ev in first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])+"/"+str(e["local"])')" "busy/486/True" "ended busy by us"
