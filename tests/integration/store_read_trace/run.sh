#!/bin/sh
# store_read_trace: dialerd trace prints a call's and its child legs' SIP
# messages from the call log as a ladder (offset, leg, arrow, start line,
# headers in wire order, redacted values as stored, unprintable bytes
# escaped), in the order of store_sip_messages_query; with --bodies each
# stored body (migrations/0008) under its message, line by line, a cut one
# saying so; an unknown SID and an unreachable database exit 1 with one
# clear line.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/case.sh"
store_case_init
export DIALERD_DATABASE_URL="$DATABASE_URL"

P=CA000000000000000000000000000000a1
C1=CA000000000000000000000000000000b2
C2=CA000000000000000000000000000000b3
# the call log is partitioned by day (migrations/0006): the fixed day of these rows needs its own
q "select count(*) from call_log_create_partitions('2026-12-04 10:00:00+00', 0)" >/dev/null
q "insert into calls (sid, account_sid, parent_call_sid, instance, direction, status, created_at, updated_at, root_sid) values
   ('$P', 'AC1', null, 'local', 'inbound', 'completed', '2026-12-04 10:00:00+00', now(), '$P'),
   ('$C1', 'AC1', '$P', 'local', 'outbound-dial', 'completed', '2026-12-04 10:00:00+00', now(), '$P'),
   ('$C2', 'AC1', '$P', 'local', 'outbound-dial', 'canceled', '2026-12-04 10:00:00+00', now(), '$P'),
   ('CA000000000000000000000000000000c4', 'AC1', null, 'local', 'inbound', 'queued', now(), now(),
    'CA000000000000000000000000000000c4')" >/dev/null ||
	harness_error "calls rows"
# header blocks as the writer stores them: Name: value CRLF, in wire order
q "insert into sip_messages (call_sid, seq, direction, at, method, status_code, start_line, sip_call_id, sdp, header_count, headers, root_sid) values
   ('$P', 1, 'in', '2026-12-04 10:00:00.000000+00', 'INVITE', null, 'INVITE sip:+15550001@127.0.0.1 SIP/2.0', 'cid-p', 'audio 127.0.0.1:4000 PCMU', 3,
    convert_to(E'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nX-Lead-Id: 42\r\nAuthorization: [redacted]\r\n', 'UTF8'), '$P'),
   ('$C1', 1, 'out', '2026-12-04 10:00:00.001500+00', 'INVITE', null, 'INVITE sip:agent1@127.0.0.1 SIP/2.0', 'cid-c1', null, 1,
    convert_to(E'X-Campaign: spring\r\n', 'UTF8'), '$P'),
   ('$C2', 1, 'out', '2026-12-04 10:00:00.001500+00', 'INVITE', null, 'INVITE sip:agent2@127.0.0.1 SIP/2.0', 'cid-c2', null, 1,
    '\\x582d4e756c3a20610062ff0d0a'::bytea, '$P'),
   ('$P', 2, 'out', '2026-12-04 10:00:00.002000+00', null, 100, 'SIP/2.0 100 Trying', 'cid-p', null, 0, ''::bytea, '$P'),
   ('$C1', 2, 'in', '2026-12-04 10:00:01.250000+00', null, 200, 'SIP/2.0 200 OK', 'cid-c1', null, 1,
    convert_to(E'Contact: <sip:agent1@127.0.0.1>\r\n', 'UTF8'), '$P')" >/dev/null ||
	harness_error "sip_messages rows"
# bodies as the writer stores them: text as sent; not valid UTF-8 escaped
# (\ooo) with its bytes in body_raw; body_length on the wire (9000: cut)
cat >"$WORK/bodies.sql" <<'SQL'
update sip_messages set body = E'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n',
	body_type = 'application/sdp', body_length = 75
	where call_sid = 'CA000000000000000000000000000000a1' and seq = 1;
update sip_messages set body = E'x\\000\\377y', body_raw = '\x7800ff79'::bytea,
	body_type = 'application/octet-stream', body_length = 9000
	where call_sid = 'CA000000000000000000000000000000b2' and seq = 2;
SQL
q "$(cat "$WORK/bodies.sql")" >/dev/null || harness_error "bodies"

cat >"$WORK/want" <<'OUT'
call CA000000000000000000000000000000a1: 5 SIP messages on 3 legs
     0.000 ms  CA..0000a1  <--  INVITE sip:+15550001@127.0.0.1 SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1
        X-Lead-Id: 42
        Authorization: [redacted]
        (sdp) audio 127.0.0.1:4000 PCMU
     1.500 ms  CA..0000b2  -->  INVITE sip:agent1@127.0.0.1 SIP/2.0
        X-Campaign: spring
     1.500 ms  CA..0000b3  -->  INVITE sip:agent2@127.0.0.1 SIP/2.0
        X-Nul: a\x00b\xff
     2.000 ms  CA..0000a1  -->  SIP/2.0 100 Trying
  1250.000 ms  CA..0000b2  <--  SIP/2.0 200 OK
        Contact: <sip:agent1@127.0.0.1>
OUT
"$DIALERD" trace "$P" >"$WORK/got" 2>"$WORK/trace.err"
assert_eq "$?" 0 "trace of a known call: exit 0"
if diff -u "$WORK/want" "$WORK/got" >"$WORK/diff"; then
	pass "the ladder: legs interleaved in time, headers in wire order, bytes escaped"
else
	cat "$WORK/diff"
	fail "the ladder differs"
fi

cat >"$WORK/want-bodies" <<'OUT'
call CA000000000000000000000000000000a1: 5 SIP messages on 3 legs
     0.000 ms  CA..0000a1  <--  INVITE sip:+15550001@127.0.0.1 SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1
        X-Lead-Id: 42
        Authorization: [redacted]
        (sdp) audio 127.0.0.1:4000 PCMU
        (body application/sdp)
          v=0
          o=- 1 1 IN IP4 127.0.0.1
          c=IN IP4 127.0.0.1
          m=audio 4000 RTP/AVP 0
     1.500 ms  CA..0000b2  -->  INVITE sip:agent1@127.0.0.1 SIP/2.0
        X-Campaign: spring
     1.500 ms  CA..0000b3  -->  INVITE sip:agent2@127.0.0.1 SIP/2.0
        X-Nul: a\x00b\xff
     2.000 ms  CA..0000a1  -->  SIP/2.0 100 Trying
  1250.000 ms  CA..0000b2  <--  SIP/2.0 200 OK
        Contact: <sip:agent1@127.0.0.1>
        (body application/octet-stream)
          x\\000\\377y
          (cut: the first 8192 of 9000 bytes)
OUT
"$DIALERD" trace --bodies "$P" >"$WORK/got-bodies" 2>"$WORK/trace.err"
assert_eq "$?" 0 "trace --bodies: exit 0"
if diff -u "$WORK/want-bodies" "$WORK/got-bodies" >"$WORK/diff"; then
	pass "--bodies: each body under its message, indented, escaped, a cut one said"
else
	cat "$WORK/diff"
	fail "the ladder with bodies differs"
fi

# the SID of a child leg: that leg alone; --config after the command's name
printf 'database_url = %s\n' "$DATABASE_URL" >"$WORK/dialerd.conf"
chmod 600 "$WORK/dialerd.conf"
out=$(env -u DIALERD_DATABASE_URL "$DIALERD" trace --config "$WORK/dialerd.conf" "$C1")
assert_eq "$?" 0 "trace --config FILE: exit 0"
assert_eq "$(printf '%s\n' "$out" | head -n 1)" "call $C1: 2 SIP messages on 1 leg" "a leg's own trace"

out=$("$DIALERD" trace CA000000000000000000000000000000c4)
assert_eq "$?" 0 "a call without messages: exit 0"
assert_eq "$out" "call CA000000000000000000000000000000c4: 0 SIP messages on 0 legs" "and says so"

err=$("$DIALERD" trace CA00000000000000000000000000000fff 2>&1 >/dev/null)
assert_eq "$?" 1 "an unknown SID: exit 1"
assert_eq "$err" "dialerd trace: no call CA00000000000000000000000000000fff in the call log" "an unknown SID: one clear line"

"$DIALERD" trace >/dev/null 2>&1
assert_eq "$?" 2 "no SID: usage, exit 2"

pg_stop
err=$("$DIALERD" trace "$P" 2>&1 >/dev/null)
assert_eq "$?" 1 "an unreachable database: exit 1"
assert_match "$err" '^dialerd trace: cannot connect to the database: .*refused' "an unreachable database: one clear line"
exit 0
