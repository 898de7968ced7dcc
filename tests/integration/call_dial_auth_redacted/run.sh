#!/bin/sh
# call_dial_auth_redacted: a <Sip username password> target challenges with 401 (SIPp verifyauth);
# the retried INVITE's digest crosses the wire and is accepted, yet the call log holds every
# Authorization header of the leg (INVITE, ACK, BYE) as "Digest <redacted>": no response=,
# cnonce or password anywhere in the database (all of it dumped, bytea in hex too) or the log.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
calls_voice "<Response><Dial timeout='10'><Sip username='alice' password='secret'>sip:test@127.0.0.1:$UAS?X-Customer=7</Sip></Dial></Response>"
calls_start

calls_call uas_auth.xml 1000	# verifyauth accepts the digest or answers 403
uas=$(sipp_msg uas)
assert_match "$uas" 'Authorization: Digest username="alice", realm="dial.test"' "the digest crossed the wire"
assert_match "$uas" 'response="[0-9a-f]{32}"' "with its response="

calls_wait_q 2 15 "select count(*) from calls where status = 'completed'"
pass "both calls completed in the call log"
child=$(q "select sid from calls where direction = 'outbound-dial'")
# the rows are there, the credentials are not
n=$(q "select count(*) from sip_messages where call_sid = '$child' and direction = 'out'
	and convert_from(headers, 'UTF8') like '%Authorization: Digest <redacted>%'")
[ "$n" -ge 2 ] || fail "sent messages with a redacted Authorization: $n"
pass "$n sent messages keep the header, value redacted (the INVITE's retry, ACK, BYE)"
assert_eq "$(q "select count(*) from sip_messages where call_sid = '$child' and method = 'INVITE' and direction = 'out'")" 2 \
	"both INVITEs are in sip_messages"
assert_eq "$(q "select count(*) from sip_messages where convert_from(headers, 'UTF8') ~* 'response=|cnonce|secret|username=\"alice\"'")" 0 \
	"sip_messages: no digest response, cnonce, username or password"
assert_eq "$(q "select count(*) from sip_headers where value ~* 'response=|cnonce|secret'")" 0 "sip_headers: none either"
pg_dump -h 127.0.0.1 -p "$PGPORT" -U postgres -d dialerd --data-only >"$WORK/dump.sql" ||
	harness_error "pg_dump failed"
# bytea columns are dumped in hex: look for "response=" and "secret" both ways
hex_resp=$(printf 'response=' | od -An -tx1 | tr -d ' \n')
hex_secret=$(printf 'secret' | od -An -tx1 | tr -d ' \n')
assert_eq "$(grep -ciE "response=|cnonce=|secret|$hex_resp|$hex_secret" "$WORK/dump.sql")" 0 \
	"the whole database: no response=, cnonce= or password (text or hex)"
assert_eq "$(grep -c secret "$WORK/dialerd.log")" 0 "the password is in no log line"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
