-- 0009_hot_calls: the intermediate updates of a calls row become HOT
-- (heap-only tuple) updates.
-- A call's row is inserted with its first snapshot and updated on every
-- status change (initiated -> ringing -> in-progress -> final): about 4
-- updates per call of two rows (a call and its <Dial> leg). PostgreSQL
-- updates a row without touching its indexes (HOT) only when no indexed
-- column changed (a column of a partial index's predicate counts) and the
-- new version fits in the same page. Before this migration almost none
-- were (0.02-0.05 of 4 per call, bench/run at 300 calls/s), so
-- every update added an entry to each of the 12 indexes of the day's
-- partition (11 btrees and a BRIN):
--   * calls_account_live_idx (0004, 0006) was (account_sid, status,
--     created_at) where status in ('queued', 'initiated', 'ringing',
--     'in-progress'): status is a key and predicate column, and status is
--     exactly what those updates change. It is now (account_sid,
--     created_at) where ended_at is null: the same calls (dialerd sets
--     ended_at with the final status and only then, and the writer's
--     upsert keeps the newest snapshot's status, so a live status has no
--     ended_at), and ended_at changes only on the final update, which
--     stays non-HOT (calls_account_ended_idx indexes it too). The REST
--     list with a live Status filter adds "ended_at is null" to its
--     query (store/query.c), so the planner can use this index; the
--     status filter still applies, to the live calls of the account only.
--   * The other indexed columns (sid, created_at, root_sid, account_sid,
--     parent_call_sid, from_addr, to_addr, dial_group, started_at) are
--     set by the first snapshot and never change; sip_call_id too, except
--     for a REST call ("outbound-api"), which learns its Call-ID from the
--     engine after its first snapshot: its update that stores it is not
--     HOT. The writer's upsert sets every column, to the same value for
--     these: HOT compares the values, so that costs nothing.
--   * fillfactor: a HOT update needs room in the row's page, and that
--     room must take every update of the page's rows in one batch: a
--     version made dead by the batch's own transaction cannot be pruned
--     before it commits, and rows created together (one page) change
--     status together (one batch). At the default fillfactor 100 inserts
--     fill each page to the brim. The calls partitions keep 30 % of each
--     page for updates (fillfactor 70; 90, 80, 70 and 60 measured in
--     docs/call-log.md: HOT updates per call 1.0, 1.1, 1.35-1.75 and
--     1.7-2.2 of the about 2 before the final ones; a lower fillfactor
--     leaves more of each page empty once the day's calls are over).
--     PostgreSQL 15 refuses fillfactor on a partitioned
--     table, so call_log_create_partition (0006) sets it on every calls
--     partition it creates, and the existing ones get it here (ALTER
--     TABLE ... SET affects only pages written from now on; no row
--     moves). The other tables are insert-only and keep 100.
-- Building the new index reads every partition of calls once (it holds
-- only the live calls' entries); CREATE INDEX takes a SHARE lock on calls
-- for the build (CONCURRENTLY cannot run in a migration's transaction, nor
-- on a partitioned table), during which the writer journals.

-- calls partitions: fillfactor 70, the other tables as before
create or replace function call_log_create_partition(p_table text, p_day date)
returns text
language plpgsql as $$
declare
	part text := p_table || '_p' || to_char(p_day, 'YYYYMMDD');
begin
	if to_regclass(format('%I', part)) is not null then
		return null;
	end if;
	execute format('create table %I partition of %I for values from (%L) to (%L)%s',
		       part, p_table,
		       (p_day::timestamp at time zone 'UTC'),
		       ((p_day + 1)::timestamp at time zone 'UTC'),
		       case when p_table = 'calls' then ' with (fillfactor = 70)'
			    else '' end);
	return part;
end;
$$;

do $$
declare
	r record;
begin
	for r in select c.relname
		 from pg_inherits i
		 join pg_class c on c.oid = i.inhrelid
		 join pg_class p on p.oid = i.inhparent
		 join pg_namespace n on n.oid = p.relnamespace
		 where n.nspname = current_schema() and p.relname = 'calls' loop
		execute format('alter table %I set (fillfactor = 70)', r.relname);
	end loop;
end;
$$;

drop index calls_account_live_idx;
create index calls_account_live_idx on calls (account_sid, created_at)
	where ended_at is null;
