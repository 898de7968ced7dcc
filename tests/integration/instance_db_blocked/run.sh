#!/bin/sh
# instance_db_blocked: the database link of an instance black-holed for 10 s under load (a TCP
# gate between dialerd and PostgreSQL stops moving bytes both ways; nothing is closed or reset,
# as when a link drops packets). 20 calls/s from SIPp, each bridged by <Dial><Sip> to a SIPp
# target and held 1 s, with status callbacks. Calls never wait on the database: no caller sees a
# failure and /health keeps answering. Once the link is back every call has its row once, ended,
# with exactly one final call_events row, every call exactly one final status callback with
# SequenceNumber without gaps or duplicates, the registry row is active and heartbeating, and the
# journal is empty after the stop.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
GATE=$(free_port)
echo open >"$WORK/gate"
python3 "$TOP/tests/lib/tcpgate.py" --listen "127.0.0.1:$GATE" --to "127.0.0.1:$PGPORT" \
	--control "$WORK/gate" --seconds 200 2>"$WORK/gate.log" &
dlr_track $!
_d=$(( $(date +%s) + 10 ))
until ss -Hltn "sport = :$GATE" 2>/dev/null | grep -q .; do
	[ "$(date +%s)" -le $_d ] || harness_error "the TCP gate did not start"
	sleep 0.1
done
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip statusCallback=\"/status\">sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
export DIALERD_INSTANCE=alpha
export DIALERD_STATUS_CALLBACK="http://127.0.0.1:$WH/status"
export DIALERD_DATABASE_URL="postgresql://postgres@127.0.0.1:$GATE/dialerd?connect_timeout=3"
calls_start
sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS"
dial_wait_port udp "$UAS"

N=300
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -r 20 -m $N -d 1000 \
	-l 100 -trace_stat -stf "$WORK/uac.csv" -fd 1
sleep 3
echo block >"$WORK/gate"
BLOCK_T=$(date +%s)
slow=0
while [ $(( $(date +%s) - BLOCK_T )) -lt 10 ]; do
	t0=$(date +%s%N)
	c=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$DIALERD_URL/health")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$c" = 200 ] && [ "$ms" -lt 1000 ] || slow=$((slow + 1))
	sleep 0.5
done
held=$(curl -sS -m 5 "$DIALERD_URL/metrics" | sed -n 's/^dialerd_store_queue_rows //p')
echo open >"$WORK/gate"
grep -q "tcpgate: blocked ([1-9]" "$WORK/gate.log" || fail "the gate held no connection: $(cat "$WORK/gate.log")"
[ "${held%.*}" -gt 0 ] || fail "no row waited during the block (queue: $held)"
pass "the link was black-holed for 10 s; $held call-log rows waited in memory"
assert_eq "$slow" 0 "/health answered 200 within 1 s all through the block"
dlr_log "# while blocked: $(grep -cE 'database.*(lost|timed out|cannot|failed)' "$WORK/dialerd.log") database log lines, e.g. $(grep -E 'database.*(lost|timed out|cannot|failed)' "$WORK/dialerd.log" | head -n 1 | cut -c1-160)"
sipp_wait uac 120
assert_eq "$?" 0 "SIPp: every call answered and hung up normally"
m=$(curl -sS -m 5 "$DIALERD_URL/metrics")
dlr_log "# $(printf '%s\n' "$m" | grep -E '^dialerd_store_(rows_journaled_total|queue_rows|rows_written_total) ' | tr '\n' ' ')"

ended() { q "select count(*) from calls where direction = 'inbound' and status = 'completed'"; }
_d=$(( $(date +%s) + 60 ))
until [ "$(ended)" = "$N" ]; do
	[ "$(date +%s)" -le $_d ] || fail "after 60 s, $(ended) of $N inbound calls completed in the call log"
	sleep 0.5
done
pass "all $N inbound calls completed in the call log, $(( $(date +%s) - BLOCK_T - 10 )) s after the link came back"
assert_eq "$(q "select count(*) from calls where direction <> 'inbound' and status = 'completed'")" "$N" \
	"and their $N dialled legs"
assert_eq "$(q "select count(*) from calls where status not in ('completed','failed','busy','no-answer','canceled')")" 0 \
	"no call left open"
assert_eq "$(q "select count(*) - count(distinct sid) from calls")" 0 "no duplicate call rows"
assert_eq "$(q "select count(*) from (select c.sid from calls c left join call_events e on e.call_sid = c.sid
	and e.event in ('completed','failed','busy','no-answer','canceled')
	group by c.sid having count(e.call_sid) <> 1) x")" 0 "every call has exactly one final call_events row"
_d=$(( $(date +%s) + 30 ))
until [ "$(q "select state = 'active' and heartbeat_at > now() - interval '10 s' from instances where name = 'alpha'")" = t ]; do
	[ "$(date +%s)" -le $_d ] || fail "alpha does not heartbeat again"
	sleep 0.5
done
pass "alpha: active and heartbeating again"

final_callbacks_ok "$(q "select count(*) from calls")" 30
calls_signatures_ok
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "alpha stopped cleanly"
assert_eq "$(stat -c %s "$WORK/data/store.journal" 2>/dev/null || echo 0)" 0 "the journal is empty"
