-- 0003_calls: what the calls layer records beyond 0001, and views for reports.
-- calls: started_at (the leg's INVITE: received, or sent for a child),
-- forwarded_from (the INVITE's Diversion URI), dial_group and branch (a
-- <Dial>'s children share dial_group; branch is the <Sip>/<Number>'s index in
-- it, from 0), hangup_by ('local': dialerd ended the leg with BYE, CANCEL or
-- a final response; 'remote': the far end did).
-- header_policy_events: the refusal's Twilio code, where the header came
-- from ('uri', 'sip-attr', 'dial-attr'), whether the stored name or value was
-- cut, and an ordinal in the key, so that two refusals of one name in the
-- same microsecond are both kept. Columns go at the end of their tables, so
-- that journals written before this migration still replay (the writer fills
-- the new columns of an old row with NULL, the ordinal with 0).
alter table calls
	add column started_at timestamptz,
	add column forwarded_from text,
	add column dial_group text,
	add column branch integer,
	add column hangup_by text check (hangup_by in ('local', 'remote'));
create index calls_dial_group_idx on calls (dial_group) where dial_group is not null;

alter table header_policy_events
	add column code integer,
	add column source text check (source in ('uri', 'sip-attr', 'dial-attr')),
	add column truncated boolean,
	add column ordinal integer not null default 0;
alter table header_policy_events drop constraint header_policy_events_pkey;
alter table header_policy_events add primary key (call_sid, at, name, ordinal);

-- A <Dial>'s result per caller: how many branches it rang, which one won.
create view call_dial_outcomes as
select p.sid as call_sid, p.account_sid, p.created_at, p.from_addr, p.to_addr,
       p.dial_call_status,
       count(c.sid) as branches,
       count(c.sid) filter (where c.answered_at is not null) as answered_branches,
       min(c.sid) filter (where c.answered_at is not null) as winner_sid,
       max(c.duration) filter (where c.answered_at is not null) as winner_duration
from calls p
join calls c on c.parent_call_sid = p.sid and c.direction = 'outbound-dial'
group by p.sid;

-- Every branch of every <Dial>: target, outcome, SIP code, post-dial delay
-- (INVITE sent to first ringing) and talk time.
create view dial_branches as
select c.parent_call_sid, c.dial_group, c.branch, c.sid as call_sid, c.to_addr as target,
       c.status, c.sip_response_code, c.hangup_by,
       c.started_at, c.ringing_at, c.answered_at, c.ended_at,
       c.ringing_at - c.started_at as post_dial_delay,
       c.duration
from calls c
where c.direction = 'outbound-dial';

-- Policy headers (X-*, User-to-User, Diversion...) of every SIP message, with
-- the message and its call: one row per header value.
create view call_header_values as
select h.call_sid, c.parent_call_sid, c.direction as call_direction,
       m.seq as msg_seq, m.direction, m.method, m.status_code, m.at,
       h.name, h.value
from sip_headers h
join sip_messages m on m.call_sid = h.call_sid and m.seq = h.msg_seq
join calls c on c.sid = h.call_sid;
