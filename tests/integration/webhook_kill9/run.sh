#!/bin/sh
# webhook_kill9: the status-callback outbox survives kill -9 of its process.
# 1. 25 calls x 4 callbacks appended ("appended 100") while the server is
#    down; the server comes back answering 500; once every call's first
#    callback has been refused or answered 500 three times the tool is
#    killed with SIGKILL. The server answers 200; the tool restarted with
#    --calls 0 delivers all 100, in order per call, each event with the same
#    idempotency token as before the kill, its attempts numbered on from
#    where they stopped, and no event requested more than 6 times in total.
# 2. 5 callbacks the server always refuses with 500, killed after their 5th
#    attempt: after the restart each gets exactly one more attempt (the 6th)
#    and is given up; none is requested a 7th time.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init db

# wire_counts PATH: "token count" of the requests to PATH, one line per token
wire_counts() {
	python3 - "$WORK/hook.jsonl" "$1" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == sys.argv[2]:
        c[dict((k.lower(), v) for k, v in r["headers"]).get("i-twilio-idempotency-token")] += 1
for t, n in c.items():
    print(t, n)
PY
}
# tokens_at_least PATH N K: K distinct tokens were each requested N times or more
tokens_at_least() { [ "$(wire_counts "$1" | awk -v n="$2" '$2 >= n' | wc -l)" -ge "$3" ]; }

# ---- 1. killed while retrying, restarted with the server back
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data1" --url "$B/status" --calls 25 --per-call 4 \
	--database-url "$DATABASE_URL" --max-seconds 80 >"$WORK/deliver1.out" 2>"$WORK/deliver1.log" &
TOOL=$!
dlr_track $TOOL
wait_for 20 grep -q '^appended 100$' "$WORK/deliver1.out" ||
	fail "no 'appended 100' line: $(tail -n 3 "$WORK/deliver1.out" "$WORK/deliver1.log")"
pass "100 callbacks appended while the server is down"
echo '{"/status": {"status": 500, "content_type": "text/plain", "body": "busy"}, "/limit": {"status": 500, "body": ""}}' \
	>"$WORK/hook.routes.json"
webhook_serve hook "$P"
HOOK=$WEBHOOK_PID
# every call's first callback attempted 3 times (refusals count): 2 on the wire at least
wait_for 20 tokens_at_least /status 2 25 || fail "the first callbacks were not retried against the 500s"
kill -KILL $TOOL
wait $TOOL 2>/dev/null
pass "tool killed with SIGKILL while 25 callbacks were retrying"
[ -s "$WORK/data1/webhook.outbox" ] || fail "no outbox file after the kill"
wire_counts /status >"$WORK/before.txt"
assert_eq "$(wc -l <"$WORK/before.txt" | tr -d ' ')" 25 "only the first callback of each call was requested before the kill"
# rows carry the time their attempt started: those before this are the dead process's
q "select now()" >"$WORK/killed-at.txt"

echo '{"/status": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}, "/limit": {"status": 500, "body": ""}}' \
	>"$WORK/hook.routes.json.new"
mv "$WORK/hook.routes.json.new" "$WORK/hook.routes.json"
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data1" --url "$B/status" --calls 0 \
	--database-url "$DATABASE_URL" --exit-when-empty --max-seconds 60 >"$WORK/deliver1b.out" 2>"$WORK/deliver1b.log" &
TOOL=$!
dlr_track $TOOL
wait_for 70 sh -c "! kill -0 $TOOL 2>/dev/null" || fail "the restarted tool did not empty the outbox"
wait $TOOL
assert_eq "$?" 0 "restarted with --calls 0: exit 0 with the outbox empty"
grep -q '^empty$' "$WORK/deliver1b.out" || fail "no 'empty' line after the restart"
grep -q '^gave-up' "$WORK/deliver1b.out" && fail "callbacks given up after the restart"

have_rows() { [ "$(q "select count(*) from webhook_requests where response_status = 200" 2>/dev/null)" = 100 ]; }
wait_for 15 have_rows || fail "200 rows: $(q "select count(*) from webhook_requests where response_status = 200"), want 100"
python3 - "$WORK/hook.jsonl" <<'PY' >"$WORK/status.jsonl"
import json, sys
for l in open(sys.argv[1]):
    if json.loads(l)["path"] == "/status":
        print(l, end="")
PY
python3 "$TOP/tests/lib/callbacks.py" --log "$WORK/status.jsonl" --calls 25 --per-call 4 ||
	fail "deliveries after the restart do not hold"
# attempts on from where they stopped: every row written after the restart has a
# higher attempt number than any row of its event before the kill, and at most 6
bad=$(q "select count(*) from webhook_requests a join webhook_requests b
	using (call_sid, kind, sequence_number)
	where a.at < '$(cat "$WORK/killed-at.txt")' and b.at >= '$(cat "$WORK/killed-at.txt")'
	and b.attempt <= a.attempt")
assert_eq "$bad" 0 "attempt numbers continue after the restart (none reused)"
assert_eq "$(q "select count(*) from webhook_requests where attempt > 6")" 0 "no attempt number above 6"
n3=$(q "select count(*) from (select call_sid from webhook_requests where sequence_number = 0
	group by call_sid, sequence_number having max(attempt) >= 3 and count(distinct idempotency_token) = 1) x")
assert_eq "$n3" 25 "each first callback: attempts before and after the kill, one token"

# ---- 2. killed after the 5th attempt: one more, then given up
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data2" --url "$B/limit" --calls 5 --per-call 1 \
	--database-url "$DATABASE_URL" --max-seconds 80 >"$WORK/deliver2.out" 2>"$WORK/deliver2.log" &
TOOL=$!
dlr_track $TOOL
wait_for 20 grep -q '^appended 5$' "$WORK/deliver2.out" || fail "no 'appended 5' line"
wait_for 30 tokens_at_least /limit 5 5 || fail "the 5 callbacks did not reach their 5th attempt"
kill -KILL $TOOL
wait $TOOL 2>/dev/null
pass "tool killed after the 5th attempt of 5 callbacks"
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data2" --url "$B/limit" --calls 0 \
	--database-url "$DATABASE_URL" --exit-when-empty --max-seconds 40 >"$WORK/deliver2b.out" 2>"$WORK/deliver2b.log" &
TOOL=$!
dlr_track $TOOL
wait_for 50 sh -c "! kill -0 $TOOL 2>/dev/null" || fail "the restarted tool did not give up"
wait $TOOL
assert_eq "$?" 0 "restarted: exit 0 once the outbox is empty"
assert_eq "$(grep '^gave-up' "$WORK/deliver2b.out" | tail -n 1)" "gave-up 5" "the 5 callbacks given up after their 6th attempt"
assert_eq "$(wire_counts /limit | awk '{ print $2 }' | sort -u | tr '\n' ' ')" "6 " \
	"each of the 5 requested exactly 6 times in total across the kill"
assert_eq "$(q "select count(*) from webhook_requests where url like '%/limit' and attempt = 6 and error_code = 15003")" 5 \
	"their 6th attempts are rows with warning 15003"
exit 0
