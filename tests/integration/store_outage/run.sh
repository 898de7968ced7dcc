#!/bin/sh
# store_outage: 10,000 calls written while PostgreSQL is stopped with
# "pg_ctl stop -m immediate" mid-load and started again all land exactly once,
# through the journal; a row PostgreSQL refuses is isolated and the rest lands.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
pg_start
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"

N=10000
# 2,000 calls/s for 5 s: PostgreSQL goes away after ~1 s for ~2 s
# one time for every row, so that the second run below writes the same rows (the call log
# is partitioned by time, which is in every key)
AT=$(($(date +%s) * 1000000))
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n $N -A $AT -r 2000 -b 500 -f 50 --wait 60 \
	>"$WORK/loadgen.out" 2>"$WORK/loadgen.log" &
lg=$!
dlr_track $lg
# the outage starts once rows are landing
_d=$(( $(date +%s) + 15 ))
until [ "$(q "select count(*) from calls" 2>/dev/null || echo 0)" -gt 0 ]; do
	[ "$(date +%s)" -le $_d ] || fail "no row landed before the outage"
	sleep 0.05
done
pg_stop_immediate
sleep 2	# the outage's length, not a wait for anything
pg_start_again
wait $lg
rc=$?
cat "$WORK/loadgen.out"
assert_eq "$rc" 0 "the writer reports every row landed"
assert_eq "$(store_counts)" "$(store_expect $N)" "calls, events, messages, headers, webhooks: each exactly once"
assert_eq "$(q "select count(*) from calls where status = 'completed'")" $N "every call's newest snapshot won"
grep -q 'journaled=[1-9]' "$WORK/loadgen.out" || fail "no row went through the journal: the outage was not exercised"
pass "rows went through the journal during the outage"
grep -q 'journal: replayed; emptied' "$WORK/loadgen.log" || fail "journal replay not logged"
pass "journal replayed and emptied"
assert_eq "$(store_journal_size "$WORK/data")" 0 "journal file empty afterwards"
grep -q 'database: connection lost' "$WORK/loadgen.log" || fail "connection loss not logged"
pass "connection loss logged"

# the same rows again (a replay after a crash): nothing duplicates
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n 100 -A $AT --wait 30 >/dev/null 2>&1 || fail "second run failed"
assert_eq "$(store_counts)" "$(store_expect $N)" "writing the first 100 calls again adds no row"

# data errors: every 100th event has invalid JSON; only those are refused
q "truncate calls, call_events, sip_messages, sip_headers, webhook_requests" >/dev/null
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n 1000 -B 100 --wait 30 >"$WORK/bad.out" 2>"$WORK/bad.log" ||
	fail "run with bad rows did not finish"
assert_match "$(cat "$WORK/bad.out")" 'rejected=10 ' "10 bad rows rejected"
assert_eq "$(q 'select count(*) from call_events')" 1990 "all other events landed"
assert_eq "$(q 'select count(*) from calls')" 1000 "all calls landed despite bad rows in their batches"
assert_eq "$(grep -c 'row rejected (22P02) call_events call=CA' "$WORK/bad.log")" 10 "each bad row logged once with its call SID and SQLSTATE"
exit 0
