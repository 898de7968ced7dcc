#!/bin/sh
# store_order: a call's snapshots fold into one row whatever order they land
# in. The writer keeps two batches in flight on two connections, so a newer
# snapshot may commit before an older one: the row must still be what
# applying them in order gives (per column the newest value known, the
# newest updated_at; created_at is in the key, migrations/0006).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
pg_start
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"

# 1. a newer snapshot landed first (no from/to, no ringing_at); store_loadgen
#    then writes call 0's older snapshots
SID=CA00000000000000000000000000000000
AT=$(($(date +%s) * 1000000))
q "insert into calls (sid, account_sid, instance, direction, status, created_at, updated_at, root_sid)
   values ('$SID', 'AC00000000000000000000000000000000', 'other', 'inbound', 'canceled',
   timestamptz 'epoch' + $AT * interval '1 microsecond', '2100-01-01', '$SID')" >/dev/null ||
	harness_error "cannot insert the newer snapshot"
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data1" -n 1 -s 0 -A $AT --wait 30 >"$WORK/one.out" 2>"$WORK/one.log" ||
	fail "store_loadgen: $(cat "$WORK/one.log")"
assert_eq "$(q "select status || ' ' || instance || ' ' || updated_at::date from calls where sid = '$SID'")" \
	"canceled other 2100-01-01" "the newer snapshot's values and updated_at stay"
assert_eq "$(q "select from_addr || ' ' || to_addr || ' ' || (ringing_at is not null) || ' ' || (created_at < '2100-01-01')
   || ' ' || duration from calls where sid = '$SID'")" \
	"sip:alice@127.0.0.1 sip:bob@127.0.0.1 true true 1" "the older snapshots fill what the newer did not know"

# 2. batches of 3 rows at 500 calls/s: a call's two snapshots always land
#    in different batches, in flight at once on the two connections
N=600
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data2" -n $N -s 1 -r 500 -b 3 -f 5 --wait 90 >"$WORK/many.out" 2>"$WORK/many.log" ||
	fail "store_loadgen: $(tail -n 3 "$WORK/many.log")"
cat "$WORK/many.out"
grep -q '2 connections' "$WORK/many.log" || fail "the writer did not use two connections"
pass "the writer used two connections"
b=$(sed -n 's/.* batches=\([0-9]*\).*/\1/p' "$WORK/many.out")
[ "${b:-0}" -ge $N ] || fail "only ${b:-0} batches: the snapshots did not go in separate live batches"
pass "$b batches"
assert_eq "$(q "select count(*) from calls where sid <> '$SID'")" $N "one row per call"
assert_eq "$(q "select count(*) from calls where sid <> '$SID' and status = 'completed'
   and ringing_at is not null and answered_at is not null and duration = 1 and created_at < updated_at")" \
	$N "every call: the newest snapshot won, the older one's values kept"
assert_eq "$(q "select count(*) from call_events")" $((N * 2 + 2)) "events exactly once"
