#!/bin/sh
# rest_bad_input: what the REST API refuses, and that a refusal leaves nothing half-done.
# tests/lib/rest_bad.py sends, raw: wrong or missing credentials (401 20003 + WWW-Authenticate),
# another AccountSid in the path (404 20404), unknown SIDs (404), bad To (not a URI, CR LF
# injected through %0d%0a or raw, structural headers: Via, Call-ID, CSeq, Contact), malformed
# form encoding (%zz, a cut escape), bodies over 64 KiB (413) and over 1 MiB, a 4001-character
# Twiml, invalid Twiml (400 with its cXML code), bad Timeout/Method/StatusCallbackEvent/
# credentials; each answer is the error JSON {code, message, more_info, status}. Every To names
# a SIPp UAS that must see no INVITE; no call may have started (metrics) nor left a row.
# Then a flood: 10,000 refused requests (wrong token, unknown SID, invalid creates) over 200
# connections with wrk (tests/lib/rest_flood.lua: each connection pauses 100 ms between its
# requests, so the 10,000 take about 5 s and wrk stops at 20 s whatever happens), during which a real call (SIPp UAC -> dialerd
# -> <Dial><Sip> -> SIPp UAS) completes and /health answers; the flood's CPU and RSS are printed.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
command -v wrk >/dev/null || skip "wrk is missing (apt-get install wrk)"

UAS=$(free_port)
UAS2=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/answer": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial timeout=\"10\"><Sip>sip:bob@127.0.0.1:$UAS2?X-Customer=7</Sip></Dial></Response>"}}
JSON
# the flood's 200 connections come from one address, as clients behind a balancer or a NAT
# do: the per-source cap (64 by default, test_http covers it) is raised so that the flood
# measures the API itself; the global cap (512) still holds
export DIALERD_HTTP_MAX_CONNS_PER_SOURCE=256
calls_start
sipp_start uas uas_rest.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"

/usr/bin/python3 "$TOP/tests/lib/rest_bad.py" "$DIALERD_URL" "$DIALERD_ACCOUNT_SID" \
	"$DIALERD_AUTH_TOKEN" "$UAS" "$WH" >"$WORK/bad.out" 2>&1
rc=$?
cat "$WORK/bad.out"
assert_eq "$rc" 0 "every refused request got its status and error JSON"
sleep 1	# anything dialled would have reached SIPp by now
printf '%s' "$(sipp_msg uas)" | grep -q 'INVITE sip:' && fail "an INVITE reached the UAS"
pass "the UAS saw no INVITE"
started() { curl -fsS "$DIALERD_URL/metrics" | sed -n 's/^dialerd_calls_total{event="started"} //p'; }
assert_eq "$(started)" 0 "no call started (dialerd_calls_total{event=\"started\"} 0)"
grep -q '"path": "/answer"' "$WORK/requests.log" && fail "a refused create fetched its Url"
pass "no Url was fetched"

# the flood, with a real call and /health in the middle of it
cpu() { awk '{print $14 + $15}' "/proc/$DIALERD_PID/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DIALERD_PID/status"; }
rss0=$(rss)
cpu0=$(cpu)
t0=$(date +%s.%N)
good="Basic $(printf '%s:%s' "$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" | base64 -w0)"
wrong="Basic $(printf '%s:wrong' "$DIALERD_ACCOUNT_SID" | base64 -w0)"
SID=$DIALERD_ACCOUNT_SID GOOD=$good WRONG=$wrong UAS=$UAS WH=$WH \
	timeout 60 wrk -t2 -c200 -d20s --timeout 10s -s "$TOP/tests/lib/rest_flood.lua" \
	"$DIALERD_URL" -- 5000 100 >"$WORK/wrk.out" 2>&1 &
WRK=$!
dlr_track $WRK
sleep 0.3
sipp_start uas2 call_uas.xml -i 127.0.0.1 -p "$UAS2" -m 1
dial_wait_port udp "$UAS2"
UAC=$(free_port)
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$UAC" -m 1 -d 1000
health=0
health_bad=0
rssmax=$rss0
while kill -0 $WRK 2>/dev/null; do
	r=$(rss)
	[ "${r:-0}" -gt "$rssmax" ] && rssmax=$r
	if curl -fsS -o /dev/null --max-time 2 "$DIALERD_URL/health"; then
		health=$((health + 1))
	else
		health_bad=$((health_bad + 1))
	fi
	sleep 0.2
done
wait $WRK
wrc=$?
t1=$(date +%s.%N)
cpu1=$(cpu)
rss1=$(rss)
cat "$WORK/wrk.out"
assert_eq "$wrc" 0 "wrk ran to its end"
flood=$(grep '^flood:' "$WORK/wrk.out")
n=$(printf '%s' "$flood" | tr ' ' '\n' | sed -n 's/^responses=//p')
[ "${n:-0}" -ge 10000 ] || fail "the flood got ${n:-no} responses, 10,000 wanted"
pass "flood: $n responses"
assert_match "$flood" ' other=0 errors=0 ' "every flood request refused (400, 401, 404), no socket error"
assert_eq "$health_bad" 0 "/health answered during the flood ($health times)"
[ "$health" -ge 1 ] || fail "/health was never asked during the flood (it ended too fast)"
sipp_wait uac 20
assert_eq "$?" 0 "the real call during the flood: answered, talked, hung up by the caller"
sipp_wait uas2 10
assert_eq "$?" 0 "its dialled party rang, answered and got the BYE"
curl -fsS -o /dev/null --max-time 2 "$DIALERD_URL/health" || fail "/health after the flood"
pass "/health after the flood"
hz=$(getconf CLK_TCK)
python3 - "$n" "$t0" "$t1" "$cpu0" "$cpu1" "$hz" "$rss0" "$rss1" "$rssmax" <<'PY'
import sys
n, t0, t1, c0, c1, hz, r0, r1, rm = sys.argv[1:10]
n, secs, cpu = int(n), float(t1) - float(t0), (int(c1) - int(c0)) / int(hz)
print("# flood: %d requests in wrk's %.1f s window; dialerd CPU %.2f s (%.3f ms per request, "
      "the real call included); RSS %s KiB before, at most %s KiB during, %s KiB after (%+d KiB)"
      % (n, secs, cpu, cpu * 1000 / n, r0, rm, r1, int(r1) - int(r0)))
PY
# a sanitizer build keeps freed memory in quarantine: its RSS says nothing about dialerd's
if grep -q -- '--enable-sanitizers\|--enable-tsan' "$BUILD/config.status" 2>/dev/null; then
	pass "RSS grew by $((rss1 - rss0)) KiB (sanitizer build: not bounded)"
else
	[ $((rss1 - rss0)) -lt 65536 ] || fail "RSS grew by $((rss1 - rss0)) KiB during the flood"
	pass "RSS grew by less than 64 MiB during the flood"
fi
assert_eq "$(started)" 2 "the real call's two legs are the only calls started"

stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
assert_eq "$(psql -At "$DATABASE_URL" -c "select string_agg(direction || ' ' || status, ',' order by direction) from calls")" \
	"inbound completed,outbound-dial completed" "the call log holds the real call's two legs and nothing else"
assert_eq "$(psql -At "$DATABASE_URL" -c "select count(*) from sip_messages m join calls c on c.sid = m.call_sid
	where c.to_addr like 'sip:bob@127.0.0.1:$UAS%'")" 0 "no SIP message to the refused calls' UAS"
