#!/bin/sh
# store_bytes: a SIP header value holding NUL and invalid UTF-8 round-trips
# byte for byte through sip_messages.headers, sip_headers and
# sip_message_headers(); valid UTF-8 stays plain, queryable text.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
pg_start
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
"$LOADGEN" -d "$DATABASE_URL" -j "$WORK/data" -n 1 --special --wait 30 >/dev/null 2>"$WORK/loadgen.log" ||
	fail "writer did not finish"
sid=CAffffffffffffffffffffffffffffffff

# X-Bin was a NUL b 0xff 0xfe c
assert_eq "$(q "select encode(value_raw, 'hex') from sip_headers where call_sid = '$sid' and name = 'X-Bin'")" \
	"610062fffe63" "sip_headers.value_raw holds the exact bytes"
assert_eq "$(q "select value from sip_headers where call_sid = '$sid' and name = 'X-Bin'")" \
	'a\000b\377\376c' "sip_headers.value holds them escaped as encode(..., 'escape')"
assert_eq "$(q "select encode(coalesce(value_raw, convert_to(value, 'UTF8')), 'hex') from sip_headers where call_sid = '$sid' and name = 'X-Plain'")" \
	"$(printf 'caf\303\251 \\ tab\there' | od -An -v -tx1 | tr -d ' \n')" "a valid UTF-8 value round-trips as text"
assert_eq "$(q "select value_raw is null from sip_headers where call_sid = '$sid' and name = 'X-Plain'")" t "valid UTF-8 needs no raw copy"
assert_eq "$(q "select count(*) from sip_headers where call_sid = '$sid'")" 2 "only the policy headers are in sip_headers"
assert_eq "$(q "select encode(headers, 'hex') from sip_messages where call_sid = '$sid' and seq = 1")" \
	"$(printf 'Via: SIP/2.0/UDP 127.0.0.1\r\nX-Bin: a\000b\377\376c\r\nX-Plain: caf\303\251 \\ tab\there\r\n' | od -An -v -tx1 | tr -d ' \n')" \
	"the whole header block is stored byte for byte"
assert_eq "$(q "select string_agg(ordinal || '=' || name || '=' || coalesce(encode(value_raw, 'hex'), value), ';' order by ordinal) from sip_message_headers('$sid', 1)")" \
	"$(printf '1=Via=SIP/2.0/UDP 127.0.0.1;2=X-Bin=610062fffe63;3=X-Plain=caf\303\251 \\ tab\there')" \
	"sip_message_headers() returns (ordinal, name, value) rows"
assert_eq "$(q "select status_code, start_line from sip_messages where call_sid = '$sid'")" "200|SIP/2.0 200 OK" "status code parsed from the start line"
exit 0
