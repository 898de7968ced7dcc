#!/bin/sh
# store_partitions: the call log partitioned by day (migrations/0006). Rows written before the
# migration survive it, in partitions of their days, with their indexes, views and grants; the
# partitions run from today through 7 days ahead; a call through the daemon lands; a partition
# dropped by hand is created again when the daemon's connections come back; retention detaches
# and drops old days while a write load runs, with no writer error; rows no partition takes
# (30 days ago, 100 days ahead) are set aside in late_rows and counted, the rest of their
# batches landed.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
. "$TOP/tests/lib/store.sh"

# ---- a database at 0005 with rows, then 0006 ----
q "create database old" >/dev/null
OLD="postgresql://postgres@127.0.0.1:$PGPORT/old"
qo() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$OLD" -c "$1"; }
qo "create table schema_migrations (version integer primary key, name text not null,
	sha256 text not null, applied_at timestamptz not null default now())" >/dev/null
for f in "$TOP"/migrations/000[1-5]_*.sql; do
	psql -X -q -v ON_ERROR_STOP=1 -d "$OLD" -f "$f" >/dev/null || harness_error "applying $f"
	b=$(basename "$f" .sql)
	qo "insert into schema_migrations (version, name, sha256) values
		(${b%%_*}, '${b#*_}', '$(sha256sum "$f" | cut -d' ' -f1)')" >/dev/null
done
qo "set client_min_messages = warning; drop role if exists reporter; create role reporter;
    grant select on calls, call_dial_outcomes to reporter" >/dev/null
# 400 calls over the last 4 days (a tenth of them <Dial> children), a row in every table
qo "insert into calls (sid, account_sid, parent_call_sid, instance, direction, status,
	created_at, answered_at, updated_at)
    select 'CA' || lpad(to_hex(i), 32, '0'), 'AC1', case when i % 10 = 0 then 'CA' || lpad(to_hex(i - 1), 32, '0') end,
	'old', case when i % 10 = 0 then 'outbound-dial' else 'inbound' end, 'completed',
	now() - (i % 4) * interval '1 day', now() - (i % 4) * interval '1 day', now()
    from generate_series(1, 400) i;
    insert into call_events select 'CA' || lpad(to_hex(i), 32, '0'), 1, 'initiated', null,
	now() - (i % 4) * interval '1 day' from generate_series(1, 400) i;
    insert into sip_messages (call_sid, seq, direction, at, start_line, header_count, headers)
	select 'CA' || lpad(to_hex(i), 32, '0'), 1, 'in', now() - (i % 4) * interval '1 day',
	'INVITE sip:a@b SIP/2.0', 1, 'X-A: 1'::bytea from generate_series(1, 400) i;
    insert into sip_headers select 'CA' || lpad(to_hex(i), 32, '0'), 1, 1,
	now() - (i % 4) * interval '1 day', 'X-A', '1' from generate_series(1, 400) i;
    insert into webhook_requests (call_sid, kind, sequence_number, attempt, method, url, at)
	select 'CA' || lpad(to_hex(i), 32, '0'), 'voice', 0, 1, 'POST', 'http://x/',
	now() - (i % 4) * interval '1 day' from generate_series(1, 400) i;
    insert into header_policy_events (call_sid, at, name, action, reason)
	select 'CA' || lpad(to_hex(i), 32, '0'), now() - (i % 4) * interval '1 day', 'X-B',
	'dropped', 'policy' from generate_series(1, 400) i" >/dev/null || harness_error "old rows"
before=$(qo "select (select count(*) from calls) || ' ' || (select count(*) from call_events) || ' ' ||
	(select count(*) from sip_messages) || ' ' || (select count(*) from sip_headers) || ' ' ||
	(select count(*) from webhook_requests) || ' ' || (select count(*) from header_policy_events) || ' ' ||
	(select count(*) from call_dial_outcomes)")
out=$(DIALERD_DATABASE_URL=$OLD "$DIALERD" migrate 2>&1)
assert_eq "$?" 0 "0006 applies to a database with rows: $out"
assert_match "$out" 'applied 0006_partitions' "0006 applied"
after=$(qo "select (select count(*) from calls) || ' ' || (select count(*) from call_events) || ' ' ||
	(select count(*) from sip_messages) || ' ' || (select count(*) from sip_headers) || ' ' ||
	(select count(*) from webhook_requests) || ' ' || (select count(*) from header_policy_events) || ' ' ||
	(select count(*) from call_dial_outcomes)")
assert_eq "$after" "$before" "every row survived the migration (calls events messages headers hooks policy outcomes)"
# 0007 on the same rows: a tenth of the calls are legs (parent: the call before), whose rows of
# every table take their parent's SID as root_sid; the others their own
assert_eq "$(qo "select (select count(*) from calls where root_sid = coalesce(parent_call_sid, sid))
	|| ' ' || (select count(*) from calls where root_sid <> sid)
	|| ' ' || (select count(*) from call_events e join calls c on c.sid = e.call_sid
		   where e.root_sid = c.root_sid)
	|| ' ' || (select count(*) from sip_headers e join calls c on c.sid = e.call_sid
		   where e.root_sid = c.root_sid)
	|| ' ' || (select count(*) from header_policy_events where root_sid <> call_sid)")" \
	"400 40 400 400 40" "0007: root_sid of the 400 calls (40 legs) and of their rows"
assert_eq "$(qo "select count(*) from pg_partitioned_table pt join pg_class c on c.oid = pt.partrelid
	where c.relname in ('calls','call_events','sip_messages','sip_headers','webhook_requests','header_policy_events')")" 6 \
	"the six call-log tables are partitioned"
assert_eq "$(qo "select count(distinct c.relname) from pg_inherits i join pg_class c on c.oid = i.inhrelid
	join pg_class p on p.oid = i.inhparent where p.relname = 'calls'")" 11 \
	"calls: a partition for each of the 3 past days with data, today and 7 days ahead"
assert_eq "$(qo "select count(*) from calls_p$(date -u -d '-3 days' +%Y%m%d)")" 100 "the rows of 3 days ago are in that day's partition"
assert_eq "$(qo "select pg_get_constraintdef(oid) from pg_constraint where conname = 'calls_pkey'")" \
	"PRIMARY KEY (sid, created_at, root_sid)" "calls' primary key is (sid, created_at), root_sid at its end since 0007"
assert_eq "$(qo "select count(*) from pg_indexes where tablename = 'calls' and indexname in
	('calls_account_to_idx','calls_account_from_idx','calls_account_live_idx','calls_account_started_idx',
	 'calls_account_ended_idx','calls_parent_idx','calls_created_idx','calls_account_created_idx',
	 'calls_sip_call_id_idx','calls_dial_group_idx')")" 10 "calls' ten indexes of 0001-0004 are back"
assert_eq "$(qo "select has_table_privilege('reporter', 'calls', 'select') and
	has_table_privilege('reporter', 'call_dial_outcomes', 'select')")" t "grants on the table and the view copied"
assert_eq "$(qo "select count(*) from sip_message_header_rows where call_sid = 'CA' || lpad(to_hex(5), 32, '0')")" 1 \
	"sip_message_header_rows works"

# ---- the daemon's database (migrated by calls_init) ----
today=$(date -u +%Y%m%d)
for d in 0 1 2 3 4 5 6 7; do
	day=$(date -u -d "+$d days" +%Y%m%d)
	assert_eq "$(q "select count(*) from pg_class where relname in ('calls_p$day','call_events_p$day',
		'sip_messages_p$day','sip_headers_p$day','webhook_requests_p$day','header_policy_events_p$day')")" 6 \
		"every table has the partition of today+$d ($day)"
done
assert_eq "$(q "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent
	where p.relname = 'calls' and i.inhrelid::regclass::text like '%default%'")" 0 "no DEFAULT partition"

export DIALERD_CALL_LOG_RETENTION_DAYS=20
calls_voice '<Response><Reject reason="busy"/></Response>'
calls_start
sipp_start c1 call_uac_rejected.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait c1 40
assert_eq "$?" 0 "a call through the daemon: refused busy"
calls_wait_q "busy 1" 15 "select status || ' ' || count(*) from calls where direction = 'inbound' group by status"
calls_wait_q t 15 "select count(*) > 0 from call_events e join calls c on c.sid = e.call_sid where c.direction = 'inbound'"
pass "the call landed in calls_p$today with its events"

# ---- a partition dropped by hand is back once the connections are ----
last=$(date -u -d '+7 days' +%Y%m%d)
q "drop table calls_p$last, sip_headers_p$last" >/dev/null
q "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'dialerd' and pid <> pg_backend_pid()
	and application_name not like 'psql%'" >/dev/null
calls_wait_q 2 30 "select count(*) from pg_class where relname in ('calls_p$last', 'sip_headers_p$last')"
pass "maintenance at reconnect created calls_p$last and sip_headers_p$last again"
wait_log "partitions: created calls_p$last" 10 "the creation is logged"

# ---- rows no partition takes: set aside, the rest of the batch landed ----
"$LOADGEN" -d "$DATABASE_URL" -n 500 -s 100000 -b 500 -O -30 -L 100 --wait 60 >"$WORK/late1.out" 2>"$WORK/late1.log"
assert_eq "$?" 0 "a batch with 5 calls dated 30 days ago: the writer finished"
"$LOADGEN" -d "$DATABASE_URL" -n 500 -s 200000 -b 500 -O 100 -L 100 --wait 60 >"$WORK/late2.out" 2>"$WORK/late2.log"
assert_eq "$?" 0 "a batch with 5 calls dated 100 days ahead: the writer finished"
# per call 8 rows, each set aside alone: 2 call snapshots, 2 events, 1 message, 2 headers, 1 webhook
assert_match "$(cat "$WORK/late1.out")" 'rejected=0 .*set_aside=40' "past: 40 rows set aside, none rejected"
assert_match "$(cat "$WORK/late2.out")" 'rejected=0 .*set_aside=40' "future: 40 rows set aside, none rejected"
assert_eq "$(q "select count(*) from late_rows")" 80 "80 rows in late_rows"
assert_eq "$(q "select table_name || ' ' || count(*) from late_rows group by table_name order by table_name" | tr '\n' ,)" \
	"call_events 20,calls 20,sip_headers 20,sip_messages 10,webhook_requests 10," "by table"
assert_match "$(q "select error from late_rows limit 1")" 'no partition of relation' "with the error"
assert_eq "$(q "select string_agg(row_data->>'status', ',' order by row_data->>'updated_at') from late_rows
	where table_name = 'calls' and row_data->>'sid' = 'CA' || lpad(to_hex(100000), 32, '0')")" \
	ringing,completed "the call's two snapshots are kept as jsonb"
assert_eq "$(q "select count(*) from calls where sid >= 'CA' || lpad(to_hex(100000), 32, '0') and sid < 'CA' || lpad(to_hex(300000), 32, '0')")" 990 \
	"the other 990 calls of those batches landed"
grep -q 'failed with 23514 (no partition for it): set aside in late_rows' "$WORK/late1.log" || fail "set-aside rows not logged"
pass "each set-aside row logged"

# ---- retention under load ----
# days 40..25 ago hold rows (partitions made with the function's test knob p_now)
q "select count(*) from call_log_create_partitions(now() - interval '40 days', 15)" >/dev/null
"$LOADGEN" -d "$DATABASE_URL" -n 300 -s 300000 -b 100 -O -35 --wait 60 >"$WORK/old.out" 2>"$WORK/old.log" ||
	fail "old rows: $(cat "$WORK/old.out")"
old_day=$(date -u -d '-35 days' +%Y%m%d)
assert_eq "$(q "select count(*) from calls_p$old_day")" 300 "300 calls in the partition of 35 days ago"
expired=$(q "select count(*) from call_log_expired_partitions(20)")
[ "$expired" -ge 90 ] || fail "expired partitions: $expired"
pass "$expired partitions older than 20 days"
# a write load of 20 s at 200 calls/s while the daemon, restarted, runs retention at connect
"$LOADGEN" -d "$DATABASE_URL" -n 4000 -s 400000 -r 200 -b 200 --wait 60 >"$WORK/load.out" 2>"$WORK/load.log" &
lg=$!
dlr_track $lg
sleep 2
stop_dialerd TERM
start_dialerd
wait $lg
assert_eq "$?" 0 "the write load finished, every row landed: $(cat "$WORK/load.out")"
assert_match "$(cat "$WORK/load.out")" 'rejected=0 ' "no row rejected"
grep -E 'store_loadgen: (err|warning)' "$WORK/load.log" && fail "writer errors during retention"
pass "no writer error or warning during retention"
calls_wait_q 0 60 "select count(*) from call_log_expired_partitions(20)"
pass "retention detached and dropped every day older than 20 days"
assert_eq "$(q "select count(*) from pg_class where relname = 'calls_p$old_day'")" 0 "calls_p$old_day is gone"
assert_eq "$(q "select count(*) from calls where sid >= 'CA' || lpad(to_hex(400000), 32, '0') and sid < 'CA' || lpad(to_hex(500000), 32, '0')")" 4000 "the load's 4000 calls are there"
wait_log "partitions: retention of 20 days: alter table \"calls\" detach partition \"calls_p$old_day\" concurrently" 10 \
	"the detach is logged"
wait_log "partitions: retention of 20 days: drop table \"calls_p$old_day\"" 10 "the drop is logged"
m=$(curl -fsS "$DIALERD_URL/metrics")
assert_match "$m" 'dialerd_store_partitions_dropped_total [1-9]' "metrics: partitions dropped"
assert_match "$m" 'dialerd_store_partition_maintenance_failures_total 0' "metrics: no maintenance failure"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
