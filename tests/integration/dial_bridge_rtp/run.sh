#!/bin/sh
# dial_bridge_rtp: a SIPp caller (inbound leg A) calls dialtool; dialtool forks
# two outgoing legs with relay=1 (B to a SIPp UAS that answers, C to one that
# only rings); when B answers, C is cancelled, dialtool answers A with
# relay=1 and bridges A and B. Media goes through the engine's sockets:
# tests/lib/rtppeer.py at A's SDP address streams 100 RTP + 5 RTCP packets to
# A's relay socket, another at B's SDP address echoes them. Then the caller
# hangs up and dialtool hangs up B. Asserts: each SIPp side saw its own relay
# socket in our SDP; every packet crossed both ways byte-identical; the
# ENDED counters of A and B are exact per direction; the losing fork C had
# its own socket pair, which went idle into the engine's pool when C ended:
# while idle, a stranger on 127.0.0.1 (A's far end's address, which strict
# latching accepts) sends to it, and then A's answer takes that very pair
# (the only idle one): none of the stale packets is relayed to B's far end
# or latched on A, and nothing comes back to the stranger.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
command -v ss >/dev/null 2>&1 || skip "no ss (iproute2)"

cd "$WORK" || harness_error "no work dir"

# bound by our dialtool (the child of timeout in dial_start): the machine may
# run other tests whose ephemeral ports fall in the relay range
udp_bound() {
	ss -Hlunp "sport = :$1" 2>/dev/null | grep -q "pid=$(pgrep -P "$DIAL_PID_in" | head -n 1),"
}

LO=43100
HI=43199
N=100       # RTP packets of 172 bytes
M=5         # RTCP packets of 52 bytes
PA=$(pair_port)
PB=$(pair_port)
[ "$PA" != "$PB" ] || PB=$(pair_port)
UAS=$(free_port)
UASC=$(free_port)
UAC=$(free_port)
ME=$(free_port)
PS=$(pair_port)
while [ "$PS" = "$PA" ] || [ "$PS" = "$PB" ]; do PS=$(pair_port); done

python3 "$TOP/tests/lib/rtppeer.py" echo "$PB" echo.json --seconds 40 --idle 3 >echo.log 2>&1 &
ECHO_PID=$!
dlr_track $ECHO_PID
sipp_start uas uas_bridge_rtp.xml -i 127.0.0.1 -p "$UAS" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PB"
sipp_start uasc uas_ring_cancel.xml -i 127.0.0.1 -p "$UASC" -mp "$(sipp_media_port)" -m 1
dial_wait_port udp "$UAS"
dial_wait_port udp "$UASC"

dial_start in -l "127.0.0.1:$ME" -R "$LO-$HI" 'expect inbound 10000' \
	"start id=CAbrB group=CAbr uri=sip:b@127.0.0.1:$UAS relay=1" \
	"start id=CAbrC group=CAbr uri=sip:c@127.0.0.1:$UASC relay=1" \
	'expect answered:CAbrB 10000' 'expect ended:CAbrC 5000' \
	'wait 4000' 'answer id=@in relay=1' 'expect answered:@in 5000' \
	'bridge a=@in b=CAbrB' 'expect bridged:@in 2000' \
	'wait 1000' \
	'expect ended:@in 30000' 'hangup id=CAbrB' 'expect ended:CAbrB 5000' 'wait 200'
dial_wait_port udp "$ME"
sipp_start uac uac_bridge_rtp.xml "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" -mp "$(sipp_media_port)" -m 1 -key peer_port "$PA"

# C ended: dialtool waits 4 s before it answers A; meanwhile a stranger on
# 127.0.0.1:$PS sends 10 RTP + 2 RTCP to C's idle pair, notes when it was
# done (wall clock, us, as the events' t), then counts what reaches it
deadline=$(( $(date +%s) + 15 ))
until grep -q '^{"event":"ended","leg":"CAbrC"' in.json 2>/dev/null; do
	[ "$(date +%s)" -le $deadline ] || { cat in.log; fail "no ended event of C"; }
	sleep 0.05
done
PORT_C=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["leg"]=="CAbrC" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
python3 - "$PS" "$PORT_C" stale.json stale.t 14 <<'PY' >stale.log 2>&1 &
import json, os, select, socket, sys, time
ps, pc, out, tfile, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
socks = []
for p in (ps, ps + 1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", p))
    s.setblocking(False)
    socks.append(s)
end = time.monotonic() + secs
for i in range(10):
    socks[0].sendto(bytes([0x80, 0, 0, i]) + bytes(168), ("127.0.0.1", pc))
for i in range(2):
    socks[1].sendto(bytes([0x80, 200, 0, 12]) + bytes(48), ("127.0.0.1", pc + 1))
with open(tfile + ".tmp", "w") as f:
    f.write("%d\n" % (time.time_ns() // 1000))
os.rename(tfile + ".tmp", tfile)
rx = 0
while time.monotonic() < end:
    r, _, _ = select.select(socks, [], [], 0.1)
    for s in r:
        try:
            s.recvfrom(4096)
            rx += 1
        except BlockingIOError:
            pass
with open(out, "w") as f:
    json.dump({"tx": 12, "rx": rx}, f)
PY
STALE_PID=$!
dlr_track $STALE_PID

# the bridge is up: B's pair still there, C's now A's
deadline=$(( $(date +%s) + 15 ))
until [ -s in.json ] && ev in count 'e["event"]=="bridged"' | grep -qx 1; do
	[ "$(date +%s)" -le $deadline ] || { cat in.log; fail "no bridged event"; }
	sleep 0.1
done
# media first (the caller hangs up 6 s after its ACK; each query here
# starts a python of its own, slow on a loaded machine), then the checks
PORT_A=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE" and not e["outbound"]' 'e["sdp"]["port"]')
python3 "$TOP/tests/lib/rtppeer.py" send "$PA" send.json --to "127.0.0.1:$PORT_A" --rtp $N --rtcp $M --seconds 20 --idle 1.5 >send.log 2>&1 &
SEND_PID=$!
dlr_track $SEND_PID
assert_eq "$(ev in first 'e["event"]=="bridged"' 'str(e["err"])+"/"+e["bridged"]')" "0/CAbrB" "bridge A-B done, no error"
PORT_B=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["leg"]=="CAbrB" and e["method"]=="INVITE" and e["code"]==0' 'e["sdp"]["port"]')
printf '# relay ports: A %s, B %s, C %s; peers: A %s, B %s\n' "$PORT_A" "$PORT_B" "$PORT_C" "$PA" "$PB"
# C's pair went idle into the engine's pool when C ended, the only one
# there: the caller's leg, answered after that, took it back
assert_eq "$PORT_A" "$PORT_C" "caller's leg A reused the losing fork C's idle pair"
udp_bound "$PORT_B" && udp_bound "$((PORT_B + 1))" || fail "B's pair $PORT_B not bound"
pass "winner B: its pair $PORT_B/$((PORT_B + 1)) bound"

wait $SEND_PID
wait $STALE_PID
[ -s stale.json ] && [ -s stale.t ] || harness_error "the stranger wrote nothing: $(cat stale.log)"
T_STALE=$(cat stale.t)
T_ANSWER=$(ev in first 'e["event"]=="sip" and e["dir"]=="tx" and e["code"]==200 and e["method"]=="INVITE" and not e["outbound"]' 'e["t"]')
[ "$T_STALE" -lt "$T_ANSWER" ] || harness_error "the stale packets went out after A's answer ($T_STALE >= $T_ANSWER us): not a stale case"
T_ENDC=$(ev in first 'e["event"]=="ended" and e["leg"]=="CAbrC"' 'e["t"]')
printf '# stale packets done %s us after C ended, %s us before the pair was reused\n' "$((T_STALE - T_ENDC))" "$((T_ANSWER - T_STALE))"
sipp_wait uac 30
assert_eq "$?" 0 "SIPp caller: 200 with SDP, ACK, BYE answered"
dial_wait in
assert_eq "$DIAL_RC" 0 "dialtool: inbound, fork, answer, bridge, both ended"
sipp_wait uas 10
assert_eq "$?" 0 "SIPp callee B: answered, our BYE answered"
sipp_wait uasc 10
assert_eq "$?" 0 "SIPp callee C: rang, cancelled"
wait $ECHO_PID
[ -s send.json ] && [ -s echo.json ] || harness_error "media peers wrote no counters: $(cat send.log echo.log)"

# --- what crossed the SIP wire ---
for p in "$PORT_A" "$PORT_B" "$PORT_C"; do
	[ $((p % 2)) -eq 0 ] && [ "$p" -ge $LO ] && [ "$p" -le $HI ] ||
		fail "relay port $p: not an even port in $LO-$HI"
done
pass "relay ports are even and in the range $LO-$HI"
[ "$PORT_A" != "$PORT_B" ] && [ "$PORT_B" != "$PORT_C" ] ||
	fail "live legs share relay ports"
pass "each live leg has its own pair (A's is C's, after C ended)"
assert_match "$(sipp_msg uac)" "m=audio $PORT_A RTP/AVP" "caller's 200 names relay socket A"
assert_match "$(sipp_msg uas)" "m=audio $PORT_B RTP/AVP" "callee B's INVITE names relay socket B"
assert_match "$(sipp_msg uasc)" "m=audio $PORT_C RTP/AVP" "callee C's INVITE names relay socket C"
assert_match "$(sipp_msg uac)" "c=IN IP4 127.0.0.1" "caller's 200: c= the engine's address"

# --- what the far ends' media peers counted ---
js() { python3 -c "import json,sys; e=json.load(open('$1')); print(($2))"; }
printf '# sender %s\n# echo   %s\n' "$(cat send.json)" "$(cat echo.json)"
assert_eq "$(js send.json 'e["rtp_tx"],e["rtcp_tx"]')" "($N, $M)" "A's peer sent $N RTP + $M RTCP"
assert_eq "$(js echo.json 'e["rtp_rx"],e["rtp_rx_bytes"],e["rtcp_rx"],e["rtcp_rx_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "B's peer received all of them (A -> B)"
assert_eq "$(js echo.json 'e["sources"]')" "['127.0.0.1:$PORT_B', '127.0.0.1:$((PORT_B + 1))']" "... from relay socket B (RTP and RTCP)"
assert_eq "$(js send.json 'e["rtp_rx"],e["rtp_rx_bytes"],e["rtcp_rx"],e["rtcp_rx_bytes"],e["mismatch"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "A's peer got every echo back, byte-identical (B -> A)"
assert_eq "$(js send.json 'e["sources"]')" "['127.0.0.1:$PORT_A', '127.0.0.1:$((PORT_A + 1))']" "... from relay socket A"

# --- the ENDED counters ---
A=$(ev in first 'e["event"]=="inbound"' 'e["leg"]')
m() { ev in first "e['event']=='ended' and e['leg']=='$1'" "$2"; }
assert_eq "$(m "$A" 'e["media"]["relayed"],e["media"]["latched"],e["media"]["peer"],e["media"]["local_port"],e["bridged"]')" "(True, True, '127.0.0.1:$PA', $PORT_A, 'CAbrB')" "A ended: relayed, latched on its peer, bridged to B"
assert_eq "$(m "$A" 'e["media"]["rx_rtp_pkts"],e["media"]["rx_rtp_bytes"],e["media"]["rx_rtcp_pkts"],e["media"]["rx_rtcp_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "A ended: received from its peer $N RTP ($((N * 172)) B) + $M RTCP ($((M * 52)) B)"
assert_eq "$(m "$A" 'e["media"]["tx_rtp_pkts"],e["media"]["tx_rtp_bytes"],e["media"]["tx_rtcp_pkts"],e["media"]["tx_rtcp_bytes"],e["media"]["dropped"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "A ended: sent its peer the $N + $M echoes, nothing dropped"
assert_eq "$(m CAbrB 'e["media"]["relayed"],e["media"]["latched"],e["media"]["peer"],e["media"]["local_port"]')" "(True, True, '127.0.0.1:$PB', $PORT_B)" "B ended: relayed, latched on its peer"
assert_eq "$(m CAbrB 'e["media"]["tx_rtp_pkts"],e["media"]["tx_rtp_bytes"],e["media"]["tx_rtcp_pkts"],e["media"]["tx_rtcp_bytes"]')" "($N, $((N * 172)), $M, $((M * 52)))" "B ended: sent its peer what A's peer sent"
assert_eq "$(m CAbrB 'e["media"]["rx_rtp_pkts"],e["media"]["rx_rtp_bytes"],e["media"]["rx_rtcp_pkts"],e["media"]["rx_rtcp_bytes"],e["media"]["dropped"]')" "($N, $((N * 172)), $M, $((M * 52)), 0)" "B ended: received the echoes, nothing dropped"
assert_eq "$(m CAbrC 'e["media"]["relayed"],e["media"]["local_port"],e["media"]["rx_rtp_pkts"]+e["media"]["tx_rtp_pkts"],e["end"]')" "(True, $PORT_C, 0, 'canceled')" "C ended (cancelled): had its own pair, no media"

# --- the stale packets sent to C's idle pair: relayed nowhere ---
# (also above: B's peer received exactly $N + $M, A latched on its own peer
# with nothing dropped, so none reached A's or B's far end or A's latch)
assert_eq "$(js stale.json 'e["tx"],e["rx"]')" "(12, 0)" "stranger sent 12 to the idle pair, got nothing back"

