#!/bin/sh
# store_torn_tail: a journal whose last record was cut mid-write (a crash during
# the append) is cut back to its last whole record with a log line; the
# daemon starts and replays the rest.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
pg_start
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
pg_stop_immediate

N=500
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n $N --hold >"$WORK/hold.out" 2>"$WORK/loadgen.log" &
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
# cut 7 bytes: the last record (the last call's "completed" snapshot) is torn
truncate -s $((size - 7)) "$WORK/data/store.journal"
pg_start_again

export DIALERD_DATABASE_URL="$DATABASE_URL" DIALERD_DATA_DIR="$WORK/data"
start_dialerd
grep -q 'journal: torn tail in .*store.journal: [0-9]* bytes after offset [0-9]* are not a whole record; cut' "$WORK/dialerd.log" ||
	fail "no log line about the torn tail"
pass "torn tail cut with a log line"
kill -0 "$DIALERD_PID" || fail "daemon died"
store_wait_counts "$(store_expect $N)" 30 || fail "rows after replay: $(store_counts)"
pass "every whole record replayed"
assert_eq "$(q "select count(*) from calls where status = 'completed'")" $((N - 1)) \
	"only the torn record (the last call's final snapshot) is missing"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "SIGTERM: exit 0"
exit 0
