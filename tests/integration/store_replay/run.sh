#!/bin/sh
# store_replay: a writer SIGKILLed while PostgreSQL is away leaves its rows in
# the journal; a daemon started on the same data_dir during the outage keeps
# them through its own SIGKILL; restarted after PostgreSQL is back, it replays
# them: nothing lost and nothing twice.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
pg_start
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
pg_stop_immediate

N=3000
mkfifo "$WORK/hold"
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n $N -b 500 --hold >"$WORK/hold.out" 2>"$WORK/loadgen.log" &
lg=$!
dlr_track $lg
_d=$(( $(date +%s) + 30 ))
until grep -q '^HOLD' "$WORK/hold.out"; do
	[ "$(date +%s)" -le $_d ] || fail "writer never journaled its rows"
	sleep 0.1
done
kill -KILL $lg
wait $lg 2>/dev/null
size=$(store_journal_size "$WORK/data")
[ "$size" -gt 0 ] || fail "journal empty after the outage"
pass "the killed writer left $size bytes in the journal"

# the daemon starts during the outage, holds the journal, and is SIGKILLed
export DIALERD_DATABASE_URL="$DATABASE_URL"
export DIALERD_DATA_DIR="$WORK/data"
start_dialerd
grep -q 'journal: [0-9]* rows .* to replay' "$WORK/dialerd.log" || fail "daemon did not find the journal"
pass "the daemon started during the outage found the journal"
assert_eq "$(store_journal_size "$WORK/data")" "$size" "the journal is intact while PostgreSQL is away"
kill -KILL "$DIALERD_PID"
wait "$DIALERD_PID" 2>/dev/null
assert_eq "$(store_journal_size "$WORK/data")" "$size" "the journal survives the daemon's SIGKILL"

pg_start_again
start_dialerd
store_wait_counts "$(store_expect $N)" 30 || fail "rows after replay: $(store_counts), want $(store_expect $N)"
pass "the daemon replayed the journal: every row landed once ($(store_expect $N))"
assert_eq "$(q "select count(*) from calls where status = 'completed'")" $N "newest snapshots won"
_d=$(( $(date +%s) + 10 ))
until [ "$(store_journal_size "$WORK/data")" = 0 ]; do
	[ "$(date +%s)" -le $_d ] || fail "journal not emptied after replay"
	sleep 0.1
done
pass "journal emptied after replay"
m=$(curl -fsS "$DIALERD_URL/metrics")
assert_match "$m" "dialerd_store_rows_written_total $((N * 8))" "metrics: rows written"
assert_match "$m" 'dialerd_store_journal_bytes 0' "metrics: journal bytes"
assert_match "$m" 'dialerd_store_batches_total [1-9]' "metrics: batches"
assert_match "$m" 'dialerd_store_queue_rows 0' "metrics: queue depth"
assert_match "$m" 'dialerd_store_reconnects_total 0' "metrics: reconnects"

# the daemon itself SIGKILLed: restart on the same journal is harmless
kill -KILL "$DIALERD_PID"
wait "$DIALERD_PID" 2>/dev/null
start_dialerd
# connected, and its journal and queue empty: anything it would replay has landed
_d=$(( $(date +%s) + 15 ))
until curl -fsS "$DIALERD_URL/metrics" | grep -qx 'dialerd_database_up 1' &&
      curl -fsS "$DIALERD_URL/metrics" | grep -qx 'dialerd_store_queue_rows 0' &&
      [ "$(store_journal_size "$WORK/data")" = 0 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the restarted daemon never settled"
	sleep 0.1
done
assert_eq "$(store_counts)" "$(store_expect $N)" "restart after SIGKILL: still exactly once"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "SIGTERM: exit 0"
exit 0
