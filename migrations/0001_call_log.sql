-- 0001_call_log: the first call-log schema (design.md §6, issue 4).
-- Reporting users write SQL against these tables: every column is documented
-- in README.md. No foreign keys between the tables: the writer lands rows in
-- batches and replays its journal after an outage, so a child row may arrive
-- before its call; every big table has a time column for monthly partitioning.
-- Time columns of the append-only tables get BRIN indexes: rows arrive in
-- time order, so a few pages of summary serve time-range reports at a
-- fraction of a btree's cost per insert.

create table calls (
	sid text primary key,
	account_sid text not null,
	parent_call_sid text,
	instance text not null,
	direction text not null
		check (direction in ('inbound', 'outbound-api', 'outbound-dial')),
	from_addr text,
	to_addr text,
	caller_name text,
	status text not null,
	sip_call_id text,
	sip_response_code integer,
	reason_protocol text,
	reason_cause integer,
	reason_text text,
	codec text,
	created_at timestamptz not null,
	ringing_at timestamptz,
	answered_at timestamptz,
	ended_at timestamptz,
	duration integer,
	dial_call_status text,
	updated_at timestamptz not null
);
create index calls_parent_idx on calls (parent_call_sid)
	where parent_call_sid is not null;
create index calls_created_idx on calls using brin (created_at);
create index calls_account_created_idx on calls (account_sid, created_at);
create index calls_sip_call_id_idx on calls (sip_call_id);

create table call_events (
	call_sid text not null,
	sequence_number integer not null,
	event text not null,
	sip_code integer,
	at timestamptz not null,
	detail jsonb,
	primary key (call_sid, sequence_number)
);
create index call_events_at_idx on call_events using brin (at);

create table sip_messages (
	call_sid text not null,
	seq integer not null,
	direction text not null check (direction in ('in', 'out')),
	at timestamptz not null,
	method text,
	status_code integer,
	start_line text not null,
	sip_call_id text,
	sdp text,
	header_count integer not null,
	headers bytea not null,
	primary key (call_sid, seq)
);
create index sip_messages_at_idx on sip_messages using brin (at);

create table sip_headers (
	call_sid text not null,
	msg_seq integer not null,
	ordinal integer not null,
	at timestamptz not null,
	name text not null,
	value text not null,
	value_raw bytea,
	primary key (call_sid, msg_seq, ordinal)
);
create index sip_headers_name_value_idx on sip_headers (lower(name), value);

create table webhook_requests (
	call_sid text not null,
	kind text not null check (kind in
		('voice', 'action', 'whisper', 'status-callback', 'fallback')),
	sequence_number integer not null,
	attempt integer not null,
	method text not null,
	url text not null,
	parameters jsonb,
	idempotency_token text,
	response_status integer,
	latency_ms integer,
	error text,
	at timestamptz not null,
	primary key (call_sid, kind, sequence_number, attempt)
);
create index webhook_requests_at_idx on webhook_requests using brin (at);

create table header_policy_events (
	call_sid text not null,
	at timestamptz not null,
	name text not null,
	value text,
	action text not null check (action in ('dropped', 'refused')),
	reason text not null,
	primary key (call_sid, at, name)
);
create index header_policy_events_at_idx on header_policy_events using brin (at);

-- A message's whole header block as (ordinal, name, value, value_raw) rows.
-- The block is "Name: value\r\n" lines; value is text when the bytes are
-- valid UTF-8 without NUL, otherwise the bytes escaped by
-- encode(..., 'escape') and value_raw holds them exactly.
create function sip_message_headers(p_call_sid text, p_seq integer)
returns table (ordinal integer, name text, value text, value_raw bytea)
language plpgsql stable as $$
declare
	b bytea;
	p integer;
	c integer;
	line bytea;
	raw bytea;
begin
	select m.headers into b from sip_messages m
		where m.call_sid = p_call_sid and m.seq = p_seq;
	if b is null then
		return;
	end if;
	ordinal := 0;
	while length(b) > 0 loop
		p := position('\x0d0a'::bytea in b);
		if p = 0 then
			line := b;
			b := ''::bytea;
		else
			line := substring(b from 1 for p - 1);
			b := substring(b from p + 2);
		end if;
		c := position(':'::bytea in line);
		if c = 0 then
			continue;
		end if;
		ordinal := ordinal + 1;
		name := convert_from(substring(line from 1 for c - 1), 'SQL_ASCII');
		raw := substring(line from c + 1);
		while length(raw) > 0 and get_byte(raw, 0) in (32, 9) loop
			raw := substring(raw from 2);
		end loop;
		begin
			value := convert_from(raw, 'UTF8');
			value_raw := null;
		exception when others then
			value := encode(raw, 'escape');
			value_raw := raw;
		end;
		return next;
	end loop;
end;
$$;

-- Every header of every message, for ad-hoc queries on one call
-- (where call_sid = ...); it parses the blocks, so filter on call_sid.
create view sip_message_header_rows as
	select m.call_sid, m.seq as msg_seq, m.at, m.direction, m.method,
	       m.status_code, h.ordinal, h.name, h.value, h.value_raw
	from sip_messages m,
	     lateral sip_message_headers(m.call_sid, m.seq) h;
