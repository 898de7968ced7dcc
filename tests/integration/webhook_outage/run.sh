#!/bin/sh
# webhook_outage: 50 calls x 3 status callbacks through the durable outbox
# (webhooktool deliver) while the webhook server is down for 20 s: the first
# 10 s nothing listens (connections refused), the next 10 s it answers 503,
# then 200. Every callback is delivered, once, in SequenceNumber order per
# call; each attempt is a webhook_requests row (attempt 1..k); an event keeps
# its idempotency token on every attempt; every request validates with the
# three signature validators.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init db validators

CALLS=50
PER=3
URL="http://127.0.0.1:$P/status?tenant=7&t=a%20b"
mkdir -p "$WORK/data"

"$WEBHOOKTOOL" deliver --data-dir "$WORK/data" --url "$URL" --calls $CALLS --per-call $PER \
	--database-url "$DATABASE_URL" --exit-when-empty --max-seconds 80 \
	>"$WORK/deliver.out" 2>"$WORK/deliver.log" &
TOOL=$!
dlr_track $TOOL
wait_for 20 grep -q "^appended $((CALLS * PER))\$" "$WORK/deliver.out" ||
	fail "no 'appended $((CALLS * PER))' line: $(tail -n 3 "$WORK/deliver.out" "$WORK/deliver.log")"
t0=$(date +%s)
pass "$((CALLS * PER)) callbacks appended (durable) while the server is down"

# the outage's clock: retries leave at +1, +3, +7, +15, +31 s
sleep_until() { while [ "$(date +%s)" -lt "$1" ]; do sleep 0.1; done; }
sleep_until $((t0 + 10))
kill -0 $TOOL 2>/dev/null || fail "the tool exited during the outage: $(tail -n 3 "$WORK/deliver.out")"
echo '{"/status": {"status": 503, "content_type": "text/plain", "body": "down"}}' >"$WORK/hook.routes.json"
webhook_serve hook "$P"
pass "server listening again at +$(( $(date +%s) - t0 )) s, answering 503"
sleep_until $((t0 + 20))
echo '{"/status": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' >"$WORK/hook.routes.json.new"
mv "$WORK/hook.routes.json.new" "$WORK/hook.routes.json"
pass "server answering 200 from +$(( $(date +%s) - t0 )) s"

wait_for 60 sh -c "! kill -0 $TOOL 2>/dev/null" || fail "the tool did not empty its outbox within 80 s"
wait $TOOL
rc=$?
assert_eq "$rc" 0 "the tool exited 0 after 'empty' (+$(( $(date +%s) - t0 )) s)"
grep -q '^empty$' "$WORK/deliver.out" || fail "no 'empty' line"
grep -q '^gave-up' "$WORK/deliver.out" && fail "callbacks given up: $(grep '^gave-up' "$WORK/deliver.out" | tail -n 1)"
pass "nothing given up"

have_rows() { [ "$(q "select count(*) from webhook_requests where response_status between 200 and 299" 2>/dev/null)" = $((CALLS * PER)) ]; }
wait_for 15 have_rows || fail "2xx rows: $(q "select count(*) from webhook_requests where response_status between 200 and 299"), want $((CALLS * PER))"
q "select call_sid, sequence_number, attempt, coalesce(idempotency_token, ''), coalesce(response_status, 0),
	coalesce(error_code, 0), kind from webhook_requests order by 1, 2, 3" >"$WORK/rows.txt" ||
	fail "cannot read webhook_requests"
python3 "$TOP/tests/lib/callbacks.py" --log "$WORK/hook.jsonl" --calls $CALLS --per-call $PER \
	--rows "$WORK/rows.txt" --min-retried $CALLS || fail "deliveries do not hold"
# the retry schedule: attempt n+1 leaves 2^(n-1) s after attempt n (1, 2, 4, 8, 16 s)
off=$(q "select count(*) from (select attempt, extract(epoch from at - lag(at) over
	(partition by call_sid, sequence_number order by attempt)) as gap from webhook_requests) g
	where attempt > 1 and (gap < 2 ^ (attempt - 2) - 0.05 or gap > 2 ^ (attempt - 2) + 2)")
assert_eq "$off" 0 "retries left 1, 2, 4, 8 and 16 s after the attempt before (none early, none over 2 s late)"
n503=$(grep -c '"status": 503' "$WORK/hook.jsonl")
[ "$n503" -ge 1 ] || fail "no attempt reached the server while it answered 503"
pass "$n503 attempts answered 503 then retried with the same token"
assert_eq "$(q "select count(*) from webhook_requests where response_status = 503 and error_code = 15003")" "$n503" \
	"each 503 attempt is a row with warning 15003"

validate_all "$WORK/hook.jsonl" >"$WORK/validate.out" 2>&1 ||
	{ grep '^not ok' "$WORK/validate.out" | head; fail "a callback's signature did not validate"; }
pass "all $(wc -l <"$WORK/hook.jsonl") requests validate with python3-twilio, twilio-node and signalwire-node"
exit 0
