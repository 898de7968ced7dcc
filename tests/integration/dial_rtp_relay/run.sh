#!/bin/sh
# dial_rtp_relay: dial/'s RTP relay (tests/dial/relaytool) between two SIPp
# legs on loopback. Leg A (rtp_uac.xml) streams 100 PCMU packets to relay
# side A; the relay latches A and forwards them to leg B's SDP address,
# where SIPp echoes them (-rtp_echo); the echoes come back through side B
# (latched on B's SDP address) to A. Half a second later leg B also plays a
# G.711 pcap from another source port: after the latch that stream is not
# relayed, only counted. Asserts the per-direction counters.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"

RELAYTOOL=$BUILD/tests/dial/relaytool
[ -x "$RELAYTOOL" ] || harness_error "no relaytool at $RELAYTOOL (run make first)"
PCAP=/usr/share/sip-tester/g711a.pcap
[ -r "$PCAP" ] || skip "no $PCAP (sip-tester's sample pcap)"
command -v sipp >/dev/null 2>&1 || skip "sipp not installed (apt-get install sip-tester)"

cd "$WORK" || harness_error "no work dir"
# 100 packets of PCMU silence (160 bytes each, 20 ms) for rtp_stream
head -c 16000 /dev/zero | tr '\0' '\377' >rtp100.raw
cp "$PCAP" g711a.pcap
pcap_pkts=$(python3 -c '
import struct, sys
d = open("g711a.pcap", "rb").read(); off = 24; n = 0
while off + 16 <= len(d):
    off += 16 + struct.unpack("<I", d[off + 8:off + 12])[0]; n += 1
print(n)')

UAS=$(free_port)
ECHO=$(sipp_media_port)
"$RELAYTOOL" -p 42000-42999 -B "127.0.0.1:$ECHO" -i 3000 -t 40000 >relay.json 2>relay.log &
RELAY_PID=$!
dlr_track $RELAY_PID
for _ in $(seq 50); do [ -s relay.json ] && break; sleep 0.1; done
RA=$(python3 -c 'import json; print(json.loads(open("relay.json").readline())["a_rtp"])') ||
	harness_error "relaytool did not start: $(cat relay.log)"
RB=$(python3 -c 'import json; print(json.loads(open("relay.json").readline())["b_rtp"])')
pass "relay up: side A on $RA, side B on $RB"

sipp_start uas rtp_uas.xml -i 127.0.0.1 -p "$UAS" -m 1 -rtp_echo -mp "$ECHO" -key relay_a "$RA"
dial_wait_port udp "$UAS"
sipp_start uac rtp_uac.xml 127.0.0.1:"$UAS" -i 127.0.0.1 -p "$(free_port)" -m 1 -key relay_b "$RB"
sipp_wait uac 30
assert_eq "$?" 0 "SIPp leg A: call completed"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp leg B: call completed"
assert_match "$(sipp_msg uas)" "m=audio $RB RTP/AVP" "B was offered the relay's side B"
assert_match "$(sipp_msg uac)" "m=audio $RA RTP/AVP" "A was answered with the relay's side A"

wait $RELAY_PID
stats=$(grep '"event":"stats"' relay.json)
[ -n "$stats" ] || harness_error "relaytool printed no counters"
printf '# %s\n' "$stats"
get() { printf '%s' "$stats" | python3 -c "import json,sys; e=json.load(sys.stdin); print($1)"; }

assert_eq "$(get 'e["ab"]["rtp_pkts"]')" 100 "A -> B: the 100 packets A streamed"
assert_eq "$(get 'e["ab"]["rtp_bytes"]')" 17200 "A -> B: 17,200 bytes (12 + 160 each)"
assert_eq "$(get 'e["ab"]["dropped"]')" 0 "A -> B: nothing dropped"
assert_eq "$(get 'e["ba"]["rtp_pkts"]')" 100 "B -> A: B echoed all 100 back (each reached SIPp B)"
assert_eq "$(get 'e["ba"]["rtp_bytes"]')" 17200 "B -> A: 17,200 bytes"
assert_eq "$(get 'e["ba"]["dropped"]')" "$pcap_pkts" "B's second stream (another source port) not relayed after the latch"
assert_eq "$(get 'e["latched_a"] and e["latched_b"]')" True "both sides latched"
