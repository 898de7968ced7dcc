-- 0008_bodies: SIP message bodies in the call log (issue 12: SipMessages.json
-- ?Bodies=true and `dialerd trace --bodies` without tcpdump).
-- sip_messages gains four columns, last (the writer's records append them in
-- this order; a record journaled by an older binary gets them as NULL):
--   body         the body as it crossed the wire, at most its first 8192
--                bytes (dialerd keeps no more of a message), NULL when the
--                message had none or call_log_bodies did not keep it. A
--                body that is not valid UTF-8 or holds a NUL byte is stored
--                escaped (a backslash as \\, NUL and bytes >= 0x80 as \ooo
--                octal), and then body_raw holds its exact bytes.
--   body_raw     the bytes of an escaped body, NULL otherwise (as
--                sip_headers.value_raw for header values).
--   body_type    its Content-Type value.
--   body_length  its length in bytes on the wire: more than the bytes kept
--                when it was cut.
-- sip_messages is partitioned (0006): ALTER on the parent adds the columns
-- to every partition; nullable columns without a default change no row, so
-- this takes the table's lock only for a catalog update.
alter table sip_messages
	add column body text,
	add column body_raw bytea,
	add column body_type text,
	add column body_length integer;
