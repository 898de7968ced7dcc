#!/bin/sh
# webhook_outbox_backlog: a backlog of status callbacks released at once (as
# when the disk takes appends again after it was full) must not hold up the
# cXML fetches that calls wait on.
# 300 callbacks (one per call) are appended and made durable together, and
# every answer to them takes 200 ms; right then a voice fetch goes out on the
# same client, whose pool holds 16 connections (webhooktool deliver
# --max-connections 16 --fetch-url):
# - at most 8 callbacks (half the pool) are in flight at any time;
# - the voice fetch is answered within 1 s (handed to libcurl behind the
#   whole backlog, it waited for 300 / 16 x 200 ms, about 4 s);
# - every callback is delivered exactly once, none given up.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init

echo '{"/status": {"status": 200, "content_type": "text/xml", "body": "<Response/>", "delay_ms": 200}}' \
	>"$WORK/hook.routes.json"
webhook_serve hook "$P"
# the application's voice URL on a server of its own, so that the callbacks' log holds callbacks
PD=$(free_port)
echo '{"/voice": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' >"$WORK/doc.routes.json"
webhook_serve doc "$PD"
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data" --url "$B/status" --calls 300 --per-call 1 \
	--max-connections 16 --fetch-url "http://127.0.0.1:$PD/voice" --exit-when-empty --max-seconds 60 \
	>"$WORK/deliver.out" 2>"$WORK/deliver.log"
rc=$?
assert_eq "$rc" 0 "the outbox emptied (exit 0): $(grep -E '^(empty|timeout)' "$WORK/deliver.out")"
grep -q '^appended 300$' "$WORK/deliver.out" || fail "no 'appended 300' line: $(head -n 3 "$WORK/deliver.out")"

peak=$(sed -n 's/^sending-peak //p' "$WORK/deliver.out")
[ -n "$peak" ] || fail "no sending-peak line: $(tail -n 3 "$WORK/deliver.out")"
[ "$peak" -ge 1 ] && [ "$peak" -le 8 ] || fail "$peak callbacks in flight at once (at most 8: half the pool of 16)"
pass "at most $peak callbacks in flight at once (half the pool of 16)"

set -- $(sed -n 's/^fetch //p' "$WORK/deliver.out")
[ $# = 2 ] || fail "no fetch line: $(cat "$WORK/deliver.out" | head -n 5)"
assert_eq "$1" 0 "the voice fetch succeeded"
[ "$2" -lt 1000 ] || fail "the voice fetch took $2 ms behind the callbacks' backlog (at most 1000)"
pass "the voice fetch took $2 ms while the backlog went out"

grep -q '^gave-up' "$WORK/deliver.out" && fail "callbacks given up: $(grep '^gave-up' "$WORK/deliver.out")"
python3 "$TOP/tests/lib/callbacks.py" --log "$WORK/hook.jsonl" --calls 300 --per-call 1 ||
	fail "the callbacks were not delivered as they should"
pass "300 callbacks delivered once each"
exit 0
