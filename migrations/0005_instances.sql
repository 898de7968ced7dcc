-- 0005_instances: several dialerd instances on one database.
-- instances: the registry. id is part of every call SID (CA + 4 hex digits
-- of id + 28 random hex digits), so any instance knows a call's owner
-- without reading a row that may still be queued or journaled; name is the
-- configuration's `instance`, the value of calls.instance. An instance
-- upserts its row at start-up and refreshes heartbeat_at every 5 s; a row
-- of the same name with a fresh heartbeat from another host or process
-- refuses the start (split brain). state: active, draining (SIGTERM or
-- SIGUSR1: OPTIONS, INVITEs and REST creates answered 503), stopped (clean
-- exit), lost (`dialerd takeover` found its heartbeat stale), retired
-- (takeover closed its calls and delivered its outbox).
create table instances (
	id integer primary key check (id between 1 and 65535),
	name text not null unique,
	sip_addr text not null,
	http_addr text not null,
	data_dir text not null,
	host text not null,
	pid integer not null,
	state text not null
		check (state in ('active', 'draining', 'stopped', 'lost', 'retired')),
	started_at timestamptz not null,
	heartbeat_at timestamptz not null,
	version text
);

-- call_commands: a REST fetch, update or delete that reached an instance
-- other than the call's owner. The requester inserts the row and pg_notify()s
-- 'dialerd_cmd_<target>' in the same transaction; the owner applies it
-- once (state pending -> done|failed, guarded by state = 'pending'), stores
-- the answer it would have given (result_status, result_body) and
-- notifies 'dialerd_ack_<requested_by>' with the id. NOTIFY only wakes: the
-- owner scans its pending rows after every (re)connect, because a
-- notification sent while it was disconnected is lost. A command past
-- expires_at is never applied (state expired).
create table call_commands (
	id bigint generated always as identity primary key,
	target_instance integer not null references instances (id),
	requested_by integer not null references instances (id),
	call_sid text not null,
	account_sid text not null,
	kind text not null check (kind in ('fetch', 'update', 'delete')),
	body jsonb not null,
	created_at timestamptz not null default now(),
	expires_at timestamptz not null,
	state text not null default 'pending'
		check (state in ('pending', 'done', 'failed', 'expired')),
	result_status integer,
	result_body jsonb,
	done_at timestamptz
);
create index call_commands_pending_idx on call_commands (target_instance, id)
	where state = 'pending';
create index call_commands_created_idx on call_commands using brin (created_at);
