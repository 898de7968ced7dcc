-- 0004_api: what the REST Calls API (Calls.json) needs of the call log.
-- calls.api_deleted_at: DELETE .../Calls/{Sid}.json hides a finished call
-- from the API instead of removing its rows, which stay for SQL reports.
-- The column goes at the end of the table and the writer never sets it, so
-- journals written before this migration still replay (a snapshot's upsert
-- leaves it alone).
-- The indexes serve the list's filters, newest first within an account
-- (checked with EXPLAIN on 1 M calls; docs/call-log.md): To, From, a Status
-- of a live call (the finished ones are common enough for
-- calls_account_created_idx), StartTime and EndTime ranges. ParentCallSid
-- uses calls_parent_idx, SipHeader_* sip_headers_name_value_idx.
alter table calls add column api_deleted_at timestamptz;
create index calls_account_to_idx on calls (account_sid, to_addr, created_at);
create index calls_account_from_idx on calls (account_sid, from_addr, created_at);
create index calls_account_live_idx on calls (account_sid, status, created_at)
	where status in ('queued', 'initiated', 'ringing', 'in-progress');
create index calls_account_started_idx on calls (account_sid, started_at);
create index calls_account_ended_idx on calls (account_sid, ended_at);
