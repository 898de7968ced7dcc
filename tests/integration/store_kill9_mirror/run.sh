#!/bin/sh
# store_kill9_mirror: rows the writer had queued but not committed outlive a kill -9. The call
# log is held in memory (store_flush_ms 60 s) while one call runs to its end and a second one is
# answered and held; dialerd is killed and started again on its folder. The new process takes
# the queued rows from the mirror (data_dir/store.mirror) into the journal before anything else,
# so the finished call lands whole (both calls rows completed, its SIP messages with the URI's
# X- header, its webhook requests, its events) and the held one is found open and ended
# (instance-restarted) with its final callback, as if its rows had been committed before the
# kill. The log counts exactly the rows that were queued.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial action=\"/action\"><Sip statusCallback=\"/status\" statusCallbackEvent=\"initiated ringing answered completed\">sip:bob@127.0.0.1:$UAS?X-Customer=42</Sip></Dial></Response>"},
 "/action": {"status": 200, "content_type": "text/xml", "body": "<Response><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
export DIALERD_STORE_FLUSH_MS=60000 DIALERD_STORE_BATCH_ROWS=1000000
calls_start

# 1: a whole call
calls_call call_uas_hdrs.xml 500
calls_wait_requests /action 1 15 || fail "no action request"
calls_wait_requests /status 4 15 || fail "child callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log") of 4"
FIRST_PARENT=$(sed -n 's/.*"CallSid", "\(CA[0-9a-f]*\)".*/\1/p' "$WORK/requests.log" | head -n 1)
[ -n "$FIRST_PARENT" ] || harness_error "no CallSid in the voice request"

# 2: a call answered and held through the kill
sipp_start uas2 call_uas_hdrs.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start uac2 call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 60000
_d=$(( $(date +%s) + 10 ))
until [ "$(metric dialerd_calls_open)" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the second call never had its 2 legs up"
	sleep 0.1
done
calls_wait_requests /status 7 15 || fail "second child's progress callbacks missing"
assert_eq "$(q "select count(*) from calls") $(q "select count(*) from sip_messages")" "0 0" \
	"nothing committed: the rows are all in the writer's queue"
QUEUED=$(metric dialerd_store_queue_rows)
[ "${QUEUED:-0}" -ge 40 ] || fail "queued rows: '$QUEUED'"
pass "$QUEUED rows queued"

kill -KILL "$DIALERD_PID"
wait "$DIALERD_PID" 2>/dev/null
export DIALERD_STORE_FLUSH_MS=100 DIALERD_STORE_BATCH_ROWS=2000
calls_start
wait_log "store: $QUEUED rows (" 10 \
	"the new process took the $QUEUED queued rows from the mirror"

calls_wait_q "4" 20 "select count(*) from calls"
calls_wait_q "completed - completed -" 20 "select string_agg(status || ' ' ||
	coalesce(reason_text, '-'), ' ' order by parent_call_sid nulls first) from calls
	where root_sid = '$FIRST_PARENT'"
pass "the first call: both legs completed, not ended by the restart"
calls_wait_q "completed instance-restarted completed instance-restarted" 20 "select
	string_agg(status || ' ' || reason_text, ' ' order by parent_call_sid nulls first) from calls
	where root_sid <> '$FIRST_PARENT'"
pass "the held call was found open and ended by the restart"
assert_eq "$(q "select string_agg(x, ' ' order by x collate \"C\") from (select m.direction ||
	':' || coalesce(m.method, m.status_code::text) as x from sip_messages m join calls c
	on c.sid = m.call_sid where c.root_sid = '$FIRST_PARENT') l")" \
	"in:180 in:200 in:200 in:ACK in:BYE in:INVITE out:200 out:200 out:ACK out:BYE out:INVITE" \
	"the first call's SIP messages, both legs, are all there"
assert_eq "$(q "select count(*) from call_header_values v join calls c on c.sid = v.call_sid
	where c.root_sid = '$FIRST_PARENT' and v.direction = 'out' and v.method = 'INVITE'
	and v.name = 'X-Customer' and v.value = '42'")" 1 "with the URI's X- header on the INVITE"
assert_eq "$(q "select count(*) from webhook_requests w join calls c on c.sid = w.call_sid
	where c.root_sid = '$FIRST_PARENT'")" 6 \
	"and its 6 webhook requests (voice, 4 callbacks, action)"
assert_eq "$(q "select count(*) from (select call_sid, sequence_number from call_events
	group by 1, 2 having count(*) > 1) d")" 0 "no event twice"
calls_wait_requests /status 8 20 || fail "the held call's final callback: $(grep -c '"path": "/status"' "$WORK/requests.log") of 8"
pass "the held call's completed callback delivered"
assert_eq "$(metric dialerd_store_rows_unmirrored_total)" 0 "no row went unmirrored"
