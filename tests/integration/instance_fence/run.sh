#!/bin/sh
# instance_fence: an instance that was only cut off (SIGSTOP until its heartbeat went stale)
# while `dialerd takeover` ran on a copy of its folder comes back to a registry row that is
# `retired`. It must not register as active again (that would reopen the calls takeover closed):
# it refuses new calls from then on (/health 503 "taken-over", REST create 503 with error JSON,
# dialerd_instance_accepting 0), logs why, and the row stays retired. A fresh start of that name
# later is a new instance and is allowed.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
export DIALERD_INSTANCE=alpha
export DIALERD_SHUTDOWN_TIMEOUT=2
calls_voice '<Response><Reject reason="busy"/></Response>'
calls_start

health() { curl -sS -m 5 -o "$WORK/health.json" -w '%{http_code}' "$DIALERD_URL/health"; }
assert_eq "$(health)" 200 "alpha runs: /health 200"
assert_eq "$(q "select state from instances where name = 'alpha'")" active "its row: active"

kill -STOP "$DIALERD_PID"
# until its last heartbeat is past 15 s old (11 to 16 s from now: it beats every 5 s), on the
# database's clock, which the takeover reads too
calls_wait_q t 30 "select heartbeat_at < now() - interval '16 s' from instances where name = 'alpha'"
mkdir -p "$WORK/copy"
cp "$WORK/data/instance.id" "$WORK/copy/"
"$DIALERD" takeover --data-dir "$WORK/copy" >"$WORK/takeover.out" 2>&1
assert_eq "$?" 0 "takeover on a copy of the stopped instance's folder: exit 0 ($(tail -n 1 "$WORK/takeover.out"))"
assert_eq "$(q "select state from instances where name = 'alpha'")" retired "the row: retired"
kill -CONT "$DIALERD_PID"

deadline=$(( $(date +%s) + 20 ))
until [ "$(health)" = 503 ]; do
	[ "$(date +%s)" -le $deadline ] || fail "alpha still takes calls 20 s after SIGCONT: $(cat "$WORK/health.json")"
	sleep 0.5
done
assert_match "$(cat "$WORK/health.json")" '"status":"taken-over"' "/health 503 taken-over"
o=$(curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -w ' %{http_code}' \
	--data-urlencode "To=sip:nobody@127.0.0.1:$(free_port)" --data-urlencode "From=+15550100" \
	--data-urlencode "Url=http://127.0.0.1:$WH/answer" \
	"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json")
assert_match "$o" ' 503$' "a REST create: 503"
assert_match "$o" '"code":' "with error JSON"
assert_match "$(curl -sS -m 5 "$DIALERD_URL/metrics")" 'dialerd_instance_accepting 0' \
	"/metrics: dialerd_instance_accepting 0"
assert_match "$(cat "$WORK/dialerd.log")" 'instance "alpha" was taken over' "the log says why"
sleep 6
assert_eq "$(q "select state from instances where name = 'alpha'")" retired \
	"a heartbeat later the row is still retired"

stop_dialerd TERM
pass "alpha stopped (exit $DIALERD_RC)"
assert_eq "$(q "select state from instances where name = 'alpha'")" retired "and its stop did not touch the row"
calls_start
assert_eq "$(health)" 200 "a fresh start of alpha: a new instance, /health 200"
assert_eq "$(q "select state from instances where name = 'alpha'")" active "the row: active again"
