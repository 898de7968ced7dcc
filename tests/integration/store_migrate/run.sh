#!/bin/sh
# store_migrate: dialerd migrate applies once, twice is a no-op, two at once apply
# each migration once, and the daemon refuses an unknown migration, an edited
# checksum, or a pending migration with auto_migrate = false.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
pg_start
export DIALERD_DATABASE_URL="$DATABASE_URL"
n_mig=$(ls "$TOP"/migrations/[0-9]*.sql | wc -l)

out=$("$DIALERD" migrate --status)
assert_eq "$?" 0 "migrate --status on an empty database: exit 0"
assert_eq "$(printf '%s\n' "$out" | grep -c ' pending$')" "$n_mig" "--status lists every migration as pending"

# two at once: the advisory lock makes one wait, then it finds nothing to do
"$DIALERD" migrate >"$WORK/m1.out" 2>&1 &
p1=$!
"$DIALERD" migrate >"$WORK/m2.out" 2>&1 &
p2=$!
dlr_track $p1
dlr_track $p2
wait $p1; rc1=$?
wait $p2; rc2=$?
assert_eq "$rc1 $rc2" "0 0" "two concurrent migrate runs both succeed"
applied=$(cat "$WORK/m1.out" "$WORK/m2.out" | grep -c '^applied ')
assert_eq "$applied" "$n_mig" "each migration applied exactly once across both runs"
assert_eq "$(q 'select count(*) from schema_migrations')" "$n_mig" "schema_migrations has one row per migration"
assert_eq "$(q "select count(*) from pg_tables where tablename in ('calls','call_events','sip_messages','sip_headers','webhook_requests','header_policy_events')")" 6 "the six call-log tables exist"

before=$(q "select string_agg(version || applied_at::text, ',') from schema_migrations")
out=$("$DIALERD" migrate)
assert_eq "$?" 0 "migrate again: exit 0"
assert_match "$out" '^schema up to date' "migrate again says the schema is up to date"
assert_eq "$(q "select string_agg(version || applied_at::text, ',') from schema_migrations")" "$before" "migrate again changed nothing"
out=$("$DIALERD" migrate --status)
assert_eq "$(printf '%s\n' "$out" | grep -c ' applied ')" "$n_mig" "--status lists every migration as applied"

# the daemon starts against an up-to-date schema
start_dialerd
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon starts and stops against the current schema"

# edited checksum: refuse to start
q "update schema_migrations set sha256 = repeat('0', 64) where version = 1" >/dev/null
port=$(free_port)
DIALERD_HTTP_LISTEN=127.0.0.1:$port DIALERD_DATA_DIR=$WORK/data timeout 20 "$DIALERD" >"$WORK/refuse1.log" 2>&1
assert_eq "$?" 1 "checksum mismatch: daemon exits 1"
grep -q 'migration 0001_call_log was applied with checksum 000000000000..., but this dialerd has' "$WORK/refuse1.log" ||
	fail "checksum mismatch: no clear message: $(cat "$WORK/refuse1.log")"
pass "checksum mismatch: the log names the migration and both checksums"
"$DIALERD" migrate >/dev/null 2>"$WORK/m3.err"
assert_eq "$?" 1 "checksum mismatch: migrate exits 1 too"
q "update schema_migrations set sha256 = '$(sha256sum "$TOP/migrations/0001_call_log.sql" | cut -d' ' -f1)' where version = 1" >/dev/null

# a migration from a newer dialerd: refuse to start
q "insert into schema_migrations (version, name, sha256) values (9999, 'from_the_future', 'ab')" >/dev/null
DIALERD_HTTP_LISTEN=127.0.0.1:$port DIALERD_DATA_DIR=$WORK/data timeout 20 "$DIALERD" >"$WORK/refuse2.log" 2>&1
assert_eq "$?" 1 "unknown migration: daemon exits 1"
grep -q 'the database has migration 9999_from_the_future, which this dialerd .* does not know' "$WORK/refuse2.log" ||
	fail "unknown migration: no clear message: $(cat "$WORK/refuse2.log")"
pass "unknown migration: the log names it"
q "delete from schema_migrations where version = 9999" >/dev/null

# pending with auto_migrate = false: refuse; with the default: applied at start
q "set client_min_messages = warning; drop view sip_message_header_rows; drop table calls, call_events, sip_messages, sip_headers, webhook_requests, header_policy_events, call_commands, instances, late_rows cascade; drop function if exists sip_message_headers; drop function if exists call_log_create_partitions, call_log_create_partition, call_log_expired_partitions, call_log_partitioned_tables; delete from schema_migrations" >/dev/null
DIALERD_AUTO_MIGRATE=false DIALERD_HTTP_LISTEN=127.0.0.1:$port DIALERD_DATA_DIR=$WORK/data timeout 20 "$DIALERD" >"$WORK/refuse3.log" 2>&1
assert_eq "$?" 1 "pending migrations with auto_migrate = false: daemon exits 1"
grep -q 'pending: run "dialerd migrate"' "$WORK/refuse3.log" || fail "auto_migrate=false: no clear message: $(cat "$WORK/refuse3.log")"
pass "auto_migrate = false: the log says to run dialerd migrate"
start_dialerd
assert_eq "$(q 'select count(*) from schema_migrations')" "$n_mig" "the daemon applied the pending migrations at start-up"
grep -q 'applied 0001_call_log' "$WORK/dialerd.log" || fail "start-up migration not logged"
pass "start-up migration logged"
stop_dialerd TERM
exit 0
