-- 0002_webhooks: what the webhook client records of each attempt.
-- error_code is the Twilio code of a failed attempt (11200 non-2xx, 11205
-- connection, 11206 protocol, 11210 DNS, 11215 redirects, 11220 TLS, 11750
-- body too large, 12300 content type, 15003 status callback failed);
-- final_url and redirects show where redirects led; the *_us columns are
-- libcurl's phase times in microseconds since the attempt started (name
-- resolved, connected, TLS done, first response byte, whole transfer).
-- 'redirect' (a <Redirect> verb's fetch) joins the kinds. Columns are added
-- at the end so that journals written before this migration still replay.
alter table webhook_requests drop constraint webhook_requests_kind_check;
alter table webhook_requests add constraint webhook_requests_kind_check
	check (kind in ('voice', 'action', 'whisper', 'redirect', 'fallback',
			'status-callback'));
alter table webhook_requests
	add column error_code integer,
	add column final_url text,
	add column redirects integer,
	add column dns_us integer,
	add column connect_us integer,
	add column tls_us integer,
	add column first_byte_us integer,
	add column total_us integer;
-- failures by code over time; the primary key already serves by call
create index webhook_requests_error_idx on webhook_requests (error_code, at)
	where error_code is not null;
