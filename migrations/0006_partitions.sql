-- 0006_partitions: the call log partitioned by day (several instances on one
-- database, issue 16).
-- calls, call_events, sip_messages, sip_headers, webhook_requests and
-- header_policy_events become PARTITION BY RANGE on their time column
-- (calls.created_at, the others' at), one partition per UTC day named
-- <table>_pYYYYMMDD. Primary keys gain that column (PostgreSQL requires the
-- partition key in every unique index): calls (sid, created_at); the
-- writer's upsert key follows. A call's created_at never changes, so the key
-- still names one row per call. There is no DEFAULT partition: dialerd
-- creates partitions 7 days ahead (call_log_create_partitions, at connect
-- and hourly), and a row outside every partition (a very old journal
-- replayed, a clock far off) fails with SQLSTATE 23514; the writer then
-- stores it in late_rows instead of retrying it. Retention
-- (call_log_retention_days) detaches old days concurrently and drops them;
-- call_log_expired_partitions lists them.
-- Existing rows are moved: each table is rebuilt as a partitioned one with a
-- partition for every day that holds data, its indexes (0001-0004) and the
-- views are created again, and grants on the tables and views are copied.
-- The whole migration is one transaction holding the tables' locks: measured
-- on 1 M calls in docs/call-log.md.

-- Rows no partition would take, set aside by the writer. Not partitioned.
create table late_rows (
	id bigint generated always as identity primary key,
	table_name text not null,
	row_data jsonb not null,
	error text not null,
	set_aside_at timestamptz not null default now()
);
create index late_rows_at_idx on late_rows (set_aside_at);

-- The partitioned tables and their time columns.
create function call_log_partitioned_tables()
returns table (table_name text, time_column text)
language sql immutable as $$
	values ('calls', 'created_at'), ('call_events', 'at'),
	       ('sip_messages', 'at'), ('sip_headers', 'at'),
	       ('webhook_requests', 'at'), ('header_policy_events', 'at')
$$;

-- One day's partition of one table, [day 00:00 UTC, day + 1 00:00 UTC);
-- its name, or NULL when it existed.
create function call_log_create_partition(p_table text, p_day date)
returns text
language plpgsql as $$
declare
	part text := p_table || '_p' || to_char(p_day, 'YYYYMMDD');
begin
	if to_regclass(format('%I', part)) is not null then
		return null;
	end if;
	execute format('create table %I partition of %I for values from (%L) to (%L)',
		       part, p_table,
		       (p_day::timestamp at time zone 'UTC'),
		       ((p_day + 1)::timestamp at time zone 'UTC'));
	return part;
end;
$$;

-- Every table's partitions from p_now's UTC day through p_ahead days later;
-- returns the ones it created. Serialised by an advisory lock so that
-- several instances do not race. p_now is a test knob (default now()).
create function call_log_create_partitions(p_now timestamptz default now(),
					   p_ahead integer default 7)
returns setof text
language plpgsql as $$
declare
	d date := (p_now at time zone 'UTC')::date;
	t record;
	part text;
begin
	perform pg_advisory_xact_lock(hashtext('dialerd call log partitions'));
	for i in 0 .. p_ahead loop
		for t in select * from call_log_partitioned_tables() loop
			part := call_log_create_partition(t.table_name, d + i);
			if part is not null then
				return next part;
			end if;
		end loop;
	end loop;
end;
$$;

-- Partitions whose whole day is older than p_days days before p_now's UTC
-- day (p_days = 30 on Dec 31 keeps Dec 1 onwards), oldest first; pending is
-- true for one whose DETACH ... CONCURRENTLY was interrupted (it needs
-- DETACH ... FINALIZE).
create function call_log_expired_partitions(p_days integer,
					    p_now timestamptz default now())
returns table (parent text, child text, day date, pending boolean)
language sql stable as $$
	select p.relname::text, c.relname::text,
	       to_date(substring(c.relname from '_p([0-9]{8})$'), 'YYYYMMDD'),
	       i.inhdetachpending
	from pg_inherits i
	join pg_class c on c.oid = i.inhrelid
	join pg_class p on p.oid = i.inhparent
	join pg_namespace n on n.oid = p.relnamespace
	where n.nspname = current_schema()
	  and p.relname in (select table_name from call_log_partitioned_tables())
	  and c.relname ~ ('^' || p.relname || '_p[0-9]{8}$')
	  and p_days > 0
	  and to_date(substring(c.relname from '_p([0-9]{8})$'), 'YYYYMMDD')
	      < (p_now at time zone 'UTC')::date - p_days
	order by 3, 1
$$;

-- The grants on the tables and views this migration rebuilds, to copy back.
create temp table mig_grants on commit drop as
	select c.relname::text as rel, a.privilege_type, a.is_grantable,
	       pg_get_userbyid(a.grantee) as grantee, a.grantee = 0 as public
	from pg_class c
	join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
	cross join lateral aclexplode(c.relacl) a
	where c.relname in ('calls', 'call_events', 'sip_messages', 'sip_headers',
			    'webhook_requests', 'header_policy_events',
			    'call_dial_outcomes', 'dial_branches', 'call_header_values',
			    'sip_message_header_rows')
	  and a.grantee <> c.relowner;

-- Rebuilds one table as a partitioned one with the given primary key.
create function pg_temp.mig_partition(p_table text, p_col text, p_key text)
returns void
language plpgsql as $$
declare
	d date;
begin
	execute format('create table %I (like %I including defaults including constraints'
		       ' including storage including comments) partition by range (%I)',
		       p_table || '_new', p_table, p_col);
	for d in execute format('select distinct (%I at time zone ''UTC'')::date from %I',
				p_col, p_table) loop
		execute format('create table %I partition of %I for values from (%L) to (%L)',
			       p_table || '_p' || to_char(d, 'YYYYMMDD'), p_table || '_new',
			       (d::timestamp at time zone 'UTC'),
			       ((d + 1)::timestamp at time zone 'UTC'));
	end loop;
	execute format('insert into %I select * from %I', p_table || '_new', p_table);
	execute format('drop table %I cascade', p_table);
	execute format('alter table %I rename to %I', p_table || '_new', p_table);
	execute format('alter table %I add constraint %I primary key (%s)',
		       p_table, p_table || '_pkey', p_key);
end;
$$;

set local client_min_messages to warning;
select pg_temp.mig_partition('calls', 'created_at', 'sid, created_at');
select pg_temp.mig_partition('call_events', 'at', 'call_sid, sequence_number, at');
select pg_temp.mig_partition('sip_messages', 'at', 'call_sid, seq, at');
select pg_temp.mig_partition('sip_headers', 'at', 'call_sid, msg_seq, ordinal, at');
select pg_temp.mig_partition('webhook_requests', 'at',
			     'call_sid, kind, sequence_number, attempt, at');
select pg_temp.mig_partition('header_policy_events', 'at', 'call_sid, at, name, ordinal');
-- today through 7 days ahead
select count(*) from call_log_create_partitions();

-- the indexes of 0001-0004, now on every partition
create index calls_parent_idx on calls (parent_call_sid)
	where parent_call_sid is not null;
create index calls_created_idx on calls using brin (created_at);
create index calls_account_created_idx on calls (account_sid, created_at);
create index calls_sip_call_id_idx on calls (sip_call_id);
create index calls_dial_group_idx on calls (dial_group) where dial_group is not null;
create index calls_account_to_idx on calls (account_sid, to_addr, created_at);
create index calls_account_from_idx on calls (account_sid, from_addr, created_at);
create index calls_account_live_idx on calls (account_sid, status, created_at)
	where status in ('queued', 'initiated', 'ringing', 'in-progress');
create index calls_account_started_idx on calls (account_sid, started_at);
create index calls_account_ended_idx on calls (account_sid, ended_at);
create index call_events_at_idx on call_events using brin (at);
create index sip_messages_at_idx on sip_messages using brin (at);
create index sip_headers_name_value_idx on sip_headers (lower(name), value);
create index webhook_requests_at_idx on webhook_requests using brin (at);
create index webhook_requests_error_idx on webhook_requests (error_code, at)
	where error_code is not null;
create index header_policy_events_at_idx on header_policy_events using brin (at);

-- The views of 0001 and 0003, unchanged except call_dial_outcomes, which
-- groups by the whole key now that sid alone is not one.
create view sip_message_header_rows as
	select m.call_sid, m.seq as msg_seq, m.at, m.direction, m.method,
	       m.status_code, h.ordinal, h.name, h.value, h.value_raw
	from sip_messages m,
	     lateral sip_message_headers(m.call_sid, m.seq) h;

create view call_dial_outcomes as
select p.sid as call_sid, p.account_sid, p.created_at, p.from_addr, p.to_addr,
       p.dial_call_status,
       count(c.sid) as branches,
       count(c.sid) filter (where c.answered_at is not null) as answered_branches,
       min(c.sid) filter (where c.answered_at is not null) as winner_sid,
       max(c.duration) filter (where c.answered_at is not null) as winner_duration
from calls p
join calls c on c.parent_call_sid = p.sid and c.direction = 'outbound-dial'
group by p.sid, p.created_at;

create view dial_branches as
select c.parent_call_sid, c.dial_group, c.branch, c.sid as call_sid, c.to_addr as target,
       c.status, c.sip_response_code, c.hangup_by,
       c.started_at, c.ringing_at, c.answered_at, c.ended_at,
       c.ringing_at - c.started_at as post_dial_delay,
       c.duration
from calls c
where c.direction = 'outbound-dial';

create view call_header_values as
select h.call_sid, c.parent_call_sid, c.direction as call_direction,
       m.seq as msg_seq, m.direction, m.method, m.status_code, m.at,
       h.name, h.value
from sip_headers h
join sip_messages m on m.call_sid = h.call_sid and m.seq = h.msg_seq
join calls c on c.sid = h.call_sid;

-- the grants, back
do $$
declare
	g record;
begin
	for g in select * from mig_grants loop
		execute format('grant %s on %I to %s%s', g.privilege_type, g.rel,
			       case when g.public then 'public'
				    else quote_ident(g.grantee) end,
			       case when g.is_grantable then ' with grant option'
				    else '' end);
	end loop;
end;
$$;
