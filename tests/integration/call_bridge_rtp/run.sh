#!/bin/sh
# call_bridge_rtp: the media of a <Dial> crosses dialerd: the caller's peer streams 100 RTP and
# 5 RTCP packets to the relay socket named in dialerd's 200, the callee's peer (at the address of
# the callee's SDP) echoes them; every packet arrives both ways, and each leg's counters land in
# the call log as a "media" call event. Afterwards both pairs are idle (kept for the next calls)
# and /metrics counts what a stranger sends to one of them as dropped.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
cd "$WORK" || harness_error "no work dir"

N=100
M=5
PA=$(pair_port)
PB=$(pair_port)
[ "$PA" != "$PB" ] || PB=$(pair_port)
UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"}}
JSON
export DIALERD_SIP_RTP_PORTS=43200-43299
calls_start

python3 "$TOP/tests/lib/rtppeer.py" echo "$PB" echo.json --seconds 40 --idle 3 >echo.log 2>&1 &
ECHO_PID=$!
dlr_track $ECHO_PID
sipp_start uas uas_bridge_rtp.xml -i 127.0.0.1 -p "$UAS" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PB"
dial_wait_port udp "$UAS"
sipp_start uac uac_bridge_rtp.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -mp "$(sipp_media_port)" -m 1 \
	-key peer_port "$PA"
_d=$(( $(date +%s) + 15 ))
until grep -q '^m=audio' uac.msg 2>/dev/null && [ "$(q "select count(*) from calls where status = 'in-progress'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the call was not bridged"
	sleep 0.1
done
PORT_A=$(sed -n 's/^m=audio \([0-9]*\) .*/\1/p' uac.msg | tail -1)
python3 "$TOP/tests/lib/rtppeer.py" send "$PA" send.json --to "127.0.0.1:$PORT_A" --rtp $N --rtcp $M \
	--seconds 20 --idle 1.5 >send.log 2>&1 &
SEND_PID=$!
dlr_track $SEND_PID
wait $SEND_PID
sipp_wait uac 30
assert_eq "$?" 0 "caller: answered by the relay, hung up"
sipp_wait uas 10
assert_eq "$?" 0 "callee: answered, got our BYE"
wait $ECHO_PID
js() { python3 -c "import json,sys; e=json.load(open('$1')); print(($2))"; }
assert_eq "$(js echo.json 'e["rtp_rx"],e["rtcp_rx"]')" "($N, $M)" "the callee's peer got every packet"
assert_eq "$(js send.json 'e["rtp_rx"],e["rtcp_rx"],e["mismatch"]')" "($N, $M, 0)" "the caller's peer got every echo, byte-identical"
_d=$(( $(date +%s) + 10 ))
until [ "$(q "select count(*) from call_events where event = 'media'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "media events: $(q "select call_sid, detail from call_events where event = 'media'")"
	sleep 0.2
done
assert_eq "$(q "select (e.detail->>'rx_rtp_packets') || '/' || (e.detail->>'tx_rtp_packets') || '/' || (e.detail->>'rx_rtcp_packets')
	from call_events e join calls c on c.sid = e.call_sid where e.event = 'media' order by c.direction")" "$N/$N/$M
$N/$N/$M" "each leg's relay counters are in the call log"
# both legs' pairs stay open, idle, for the next calls; what reaches them now is dropped
_d=$(( $(date +%s) + 5 ))
until [ "$(metric dialerd_sip_rtp_pairs_idle)" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "idle pairs: $(metric dialerd_sip_rtp_pairs_idle)"
	sleep 0.2
done
assert_eq "$(metric 'dialerd_sip_rtp_pairs_total{how="opened"}')/$(metric 'dialerd_sip_rtp_pairs_total{how="reused"}')" \
	"2/0" "two pairs opened for the call, none reused"
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(bytes([0x80, 0, 0, i]) + bytes(168), ('127.0.0.1', $PORT_A))
"
_d=$(( $(date +%s) + 5 ))
until [ "$(metric dialerd_sip_rtp_idle_dropped_total)" = 3 ]; do
	[ "$(date +%s)" -le $_d ] || fail "dropped at idle pairs: $(metric dialerd_sip_rtp_idle_dropped_total)"
	sleep 0.2
done
pass "3 packets to the caller's idle relay port counted as dropped"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
calls_signatures_ok
