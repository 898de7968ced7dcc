-- 0007_root_sid: every call-log row names its root call (several database
-- servers, issue 16).
-- calls, call_events, sip_messages, sip_headers, webhook_requests and
-- header_policy_events get root_sid: the SID of the call at the top of the
-- row's call tree (a <Dial>'s child legs have the inbound or REST call
-- that dialled them as parent; a call without a parent is its own root).
-- A call and all its legs then share one value, which a sharded database
-- (Citus, docs/call-log.md) can distribute by: it requires the distribution
-- column in every primary key and unique index, so every key of 0006 gains
-- root_sid at its end (calls (sid, created_at, root_sid)); keys still lead
-- with the SID, so lookups by SID keep their index. A call's root never
-- changes, so a key still names one row. Partitions created later
-- (call_log_create_partitions) take the keys and indexes of their parent.
-- Existing rows: calls take coalesce(parent_call_sid, sid), the other
-- tables their call's root, else their own call SID. Then NOT NULL.
-- One transaction, holding the tables' locks while every row is rewritten;
-- the keys and the other indexes of the six tables are dropped first and
-- built again after (an UPDATE of every row would otherwise add an entry
-- to every index for every row). Measured in docs/call-log.md.

set local client_min_messages to warning;

-- call_dial_outcomes groups by calls' key (0006), which changes: it is
-- dropped and created again below, its grants copied back
create temp table mig_grants on commit drop as
	select c.relname::text as rel, a.privilege_type, a.is_grantable,
	       pg_get_userbyid(a.grantee) as grantee, a.grantee = 0 as public
	from pg_class c
	join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
	cross join lateral aclexplode(c.relacl) a
	where c.relname = 'call_dial_outcomes' and a.grantee <> c.relowner;
drop view call_dial_outcomes;

-- every index of the six tables that is not a key (0006's, and any added
-- by hand), to build again once the rows are rewritten
create temp table mig_indexes on commit drop as
	select i.relname::text as name,
	       replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ') as def
	from pg_index x
	join pg_class i on i.oid = x.indexrelid
	join pg_class c on c.oid = x.indrelid
	join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
	where c.relname in ('calls', 'call_events', 'sip_messages', 'sip_headers',
			    'webhook_requests', 'header_policy_events')
	  and not exists (select 1 from pg_constraint k where k.conindid = x.indexrelid);
do $$
declare
	r record;
begin
	for r in select * from mig_indexes loop
		execute format('drop index %I', r.name);
	end loop;
end;
$$;
alter table calls drop constraint calls_pkey;
alter table call_events drop constraint call_events_pkey;
alter table sip_messages drop constraint sip_messages_pkey;
alter table sip_headers drop constraint sip_headers_pkey;
alter table webhook_requests drop constraint webhook_requests_pkey;
alter table header_policy_events drop constraint header_policy_events_pkey;

alter table calls add column root_sid text;
alter table call_events add column root_sid text;
alter table sip_messages add column root_sid text;
alter table sip_headers add column root_sid text;
alter table webhook_requests add column root_sid text;
alter table header_policy_events add column root_sid text;

-- One pass over each table, no join per partition: a call's root is in
-- its row (dialerd writes one level of legs: a <Dial>'s children, whose
-- parent is a root); a row of another table takes its call's root when
-- that call is a leg (looked up, by index, in the legs only), else its own
-- call SID.
update calls set root_sid = coalesce(parent_call_sid, sid);
create temp table mig_legs on commit drop as
	select distinct on (sid) sid, root_sid from calls where parent_call_sid is not null;
create unique index on mig_legs (sid);
analyze mig_legs;

create function pg_temp.mig_root(p_table text)
returns void
language plpgsql as $$
begin
	execute format('update %I t set root_sid = coalesce((select l.root_sid'
		       ' from mig_legs l where l.sid = t.call_sid), t.call_sid)', p_table);
	execute format('alter table %I alter column root_sid set not null', p_table);
end;
$$;

alter table calls alter column root_sid set not null;
select pg_temp.mig_root('call_events');
select pg_temp.mig_root('sip_messages');
select pg_temp.mig_root('sip_headers');
select pg_temp.mig_root('webhook_requests');
select pg_temp.mig_root('header_policy_events');

-- the keys of 0006 (the writer's ON CONFLICT targets) with root_sid
create function pg_temp.mig_key(p_table text, p_key text)
returns void
language plpgsql as $$
begin
	execute format('alter table %I add constraint %I primary key (%s)',
		       p_table, p_table || '_pkey', p_key);
end;
$$;

select pg_temp.mig_key('calls', 'sid, created_at, root_sid');
select pg_temp.mig_key('call_events', 'call_sid, sequence_number, at, root_sid');
select pg_temp.mig_key('sip_messages', 'call_sid, seq, at, root_sid');
select pg_temp.mig_key('sip_headers', 'call_sid, msg_seq, ordinal, at, root_sid');
select pg_temp.mig_key('webhook_requests',
		       'call_sid, kind, sequence_number, attempt, at, root_sid');
select pg_temp.mig_key('header_policy_events', 'call_sid, at, name, ordinal, root_sid');

-- the other indexes, as they were
do $$
declare
	r record;
begin
	for r in select * from mig_indexes loop
		execute r.def;
	end loop;
end;
$$;

-- every leg of a root call (a <Dial>'s outcome, the legs of a SIP ladder)
create index calls_root_idx on calls (root_sid);

-- call_dial_outcomes joins a parent to its branches on root_sid too (the
-- same rows: a branch's root is its parent's), a join on the distribution
-- column where the tables are sharded by it, and groups by the whole key
create view call_dial_outcomes as
select p.sid as call_sid, p.account_sid, p.created_at, p.from_addr, p.to_addr,
       p.dial_call_status,
       count(c.sid) as branches,
       count(c.sid) filter (where c.answered_at is not null) as answered_branches,
       min(c.sid) filter (where c.answered_at is not null) as winner_sid,
       max(c.duration) filter (where c.answered_at is not null) as winner_duration
from calls p
join calls c on c.parent_call_sid = p.sid and c.root_sid = p.root_sid
	and c.direction = 'outbound-dial'
group by p.sid, p.created_at, p.root_sid;

-- call_header_values joins on root_sid too (the same rows and columns)
create or replace view call_header_values as
select h.call_sid, c.parent_call_sid, c.direction as call_direction,
       m.seq as msg_seq, m.direction, m.method, m.status_code, m.at,
       h.name, h.value
from sip_headers h
join sip_messages m on m.call_sid = h.call_sid and m.seq = h.msg_seq
	and m.root_sid = h.root_sid
join calls c on c.sid = h.call_sid and c.root_sid = h.root_sid;

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
