#!/bin/sh
# dial_200_xhdr: an outgoing leg carries its X- and identity headers and the
# codec order; the 200's X- headers are captured; our BYE ends it.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init

UAS=$(free_port)
ME=$(free_port)
sipp_start uas uas_200_xhdr.xml -i 127.0.0.1 -p "$UAS" -m 1 -trace_logs -log_file "$WORK/uas_logs.log"
dial_wait_port udp "$UAS"
dial_run out -l "127.0.0.1:$ME" \
	"start id=CA1 uri=sip:test@127.0.0.1:$UAS from=alice name=Alice hdr=X-Customer:123 hdr=X-Other:bar%20baz callsid=CA1 account=AC9 codecs=PCMA,PCMU,G729" \
	'expect answered:CA1 5000' 'hangup id=CA1' 'expect ended:CA1 5000' 'wait 200'
assert_eq "$DIAL_RC" 0 "dialtool saw answered and ended"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp UAS: INVITE headers and codec order checked, call completed"

# what crossed the wire (SIPp's trace)
msg=$(sipp_msg uas)
assert_match "$msg" 'X-Customer: 123' "INVITE carries X-Customer"
assert_match "$msg" 'X-Other: bar baz' "INVITE carries X-Other with its space"
assert_match "$msg" 'X-Twilio-CallSid: CA1' "INVITE carries the call SID"
assert_match "$msg" 'X-Twilio-AccountSid: AC9' "INVITE carries the account SID"
assert_match "$msg" 'X-Twilio-ApiVersion: 2010-04-01' "INVITE carries the API version"
assert_match "$msg" 'm=audio [0-9]+ RTP/AVP 8 0 18 101' "SDP offer keeps the codec order"
assert_match "$msg" 'a=fmtp:18 annexb=no' "G729 offered without annex B"
assert_match "$msg" 'From: "Alice" <sip:alice@' "From user and display name"
assert_match "$msg" 'BYE sip:' "we sent BYE"

# what the engine saw (its events)
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE"')" 1 "one INVITE reported sent"
assert_eq "$(ev out first 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="INVITE"' 'hdr(e,"X-Customer")')" 123 "sent INVITE event has its X- header"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==180')" 1 "180 reported"
assert_eq "$(ev out count 'e["event"]=="progress" and e["code"]==180')" 1 "progress event"
assert_eq "$(ev out first 'e["event"]=="answered"' 'hdr(e,"X-Agent-Id")+"/"+hdr(e,"X-Queue")')" "42/sales" "200's X- headers captured"
assert_eq "$(ev out first 'e["event"]=="answered"' 'e["sdp"]["codec"]')" PCMA "answer's codec"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="ACK"')" 1 "ACK reported"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="BYE"')" 1 "BYE reported"
assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="rx" and e["code"]==200 and e["method"]=="BYE"')" 1 "200 to BYE reported"
assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["local"])')" "completed/True" "ended: completed by us"
cid=$(ev out first 'e["event"]=="answered"' 'e["call_id"]')
assert_match "$msg" "Call-ID: $cid" "Call-ID of the events is the one on the wire"
