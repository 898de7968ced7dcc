#!/bin/sh
# dial_ack_after_bye: the caller sends BYE before the ACK of our 200; the BYE gets 200, the late ACK
# is absorbed, and the leg ends once, completed by the far end
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
UAC=$(free_port)
ME=$(free_port)
dial_start in -l "127.0.0.1:$ME" 'expect inbound 10000' 'answer id=@in codecs=PCMA' 'expect ended:@in 5000' 'wait 1000'
dial_wait_port udp "$ME"
sipp_start uac uac_ack_after_bye.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -m 1
sipp_wait uac 15
assert_eq "$?" 0 "SIPp UAC: 200, BYE answered, late ACK sent"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool saw inbound and its end"
assert_eq "$(ev in count 'e["event"]=="ended"')" 1 "one ended event"
assert_eq "$(ev in first 'e["event"]=="ended"' 'str(e["local"])')" False "ended by the caller"
assert_eq "$(ev in count 'e["event"]=="sip" and e["dir"]=="rx" and e["method"]=="ACK"')" 1 "the late ACK captured"
