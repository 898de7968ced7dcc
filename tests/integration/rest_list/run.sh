#!/bin/sh
# rest_list: the call list, DELETE, the fetch of an old call and SipMessages, written against the
# contract before dialerd implements them (they answer 503 until then; this case fails until
# they land). tests/lib/rest_list.py creates four calls through python3-twilio: A answered
# (X-Customer=42, From +15550100), B busy (486, X-Customer=43, From +15550200), then two seconds
# later P, whose <Dial><Sip> makes C (X-Customer=45, ParentCallSid P). Every query of
# tests/lib/rest_list.json (To, From, Status, ParentCallSid, StartTime, StartTime<, StartTime>,
# EndTime, EndTime<, EndTime>, and the extensions SipResponseCode and SipHeader_<name>=<value>)
# must return exactly the calls it names, through python3-twilio, twilio-node 6.2.0 and
# SignalWire's RestClient 3.2.0 (standard filters with each library's list(), extensions with its
# request()); PageSize=1 walks four pages through next_page_uri. Then: SipMessages.json of A;
# DELETE of B (204, then 404, and out of the list); A fetched once it is over api_recent_seconds (5 s here) old (from the
# call log) reads as it did from memory; C from the call log names its parent. The rows of the
# call log agree. SipMessages.json?Bodies=true of A: the bodies of its INVITEs and of its 200 OK
# exactly as SIPp (uas1's message log) received and sent them; without Bodies every body is null;
# `dialerd trace --bodies A` prints them (tests/lib/sip_bodies.py). PageSize=1000 over 1001 calls
# (rows inserted) announces its next page, and python3-twilio's list(page_size=1000) gets all.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/rest.sh"
rest_node_libs
calls_init
echo '{"/child": {"status": 204, "body": ""}}' >"$WORK/routes.json"
# ended calls leave memory after 5 s instead of 60, so that the fetch of an old call reads
# the call log without the case waiting a minute
export DIALERD_API_RECENT_SECONDS=5
calls_start
rest_tls_proxy

UAS1=$(free_port)
UAS2=$(free_port)
UAS3=$(free_port)
sipp_start uas1 uas_rest.xml -i 127.0.0.1 -p "$UAS1" -m 2
sed -e 's/\[code\]/486/' -e 's/\[phrase\]/Busy Here/' -e 's/\[cause\]/busy/' \
	"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_486.xml"
sipp_start uas2 "$WORK/uas_486.xml" -i 127.0.0.1 -p "$UAS2" -m 1
sipp_start uas3 call_uas.xml -i 127.0.0.1 -p "$UAS3" -m 1
for p in $UAS1 $UAS2 $UAS3; do dial_wait_port udp "$p"; done

py() {
	timeout 180 /usr/bin/python3 "$TOP/tests/lib/rest_list.py" "$1" "$DIALERD_URL" \
		"$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" "$WORK" "$UAS1" "$UAS2" "$UAS3" "$WH" \
		>"$WORK/$1.out" 2>&1
	_rc=$?
	cat "$WORK/$1.out"
	[ $_rc = 0 ] || failed="$failed python3-twilio-$1"
}
failed=""
py setup
[ -z "$failed" ] || fail "the calls could not be made"
for s in uas1 uas2 uas3; do
	sipp_wait $s 20
	assert_eq "$?" 0 "far end $s: its calls went as planned"
done
py check
# SignalWire's client twice: with a plain space URL, as applications use it (its URLs are then
# /2010-04-01/...), and with /api/laml in it to reach dialerd's SignalWire routes
for run in twilio-node signalwire signalwire/api/laml; do
	case $run in
	twilio-node) lib=twilio-node base=$DIALERD_URL ;;
	signalwire) lib=signalwire base=127.0.0.1:$REST_TLS_PORT ;;
	*) lib=signalwire base=127.0.0.1:$REST_TLS_PORT/api/laml ;;
	esac
	timeout 120 node "$TOP/tests/lib/rest_list.js" $lib "$base" "$DIALERD_ACCOUNT_SID" \
		"$DIALERD_AUTH_TOKEN" "$WORK" >"$WORK/list.out" 2>&1
	_rc=$?
	cat "$WORK/list.out"
	[ $_rc = 0 ] || failed="$failed $run"
done
py after

# pages of the largest size (1000): 1001 calls of the account inserted as rows, listed by
# python3-twilio with page_size=1000, which follows next_page_uri
q() { psql -At "$DATABASE_URL" -c "$1"; }
q "insert into calls (sid, account_sid, instance, direction, from_addr, to_addr, status,
	created_at, updated_at, started_at, ended_at, root_sid)
	select 'CA' || lpad(to_hex(g), 32, '0'), '$DIALERD_ACCOUNT_SID', 'bulk', 'outbound-api',
	'+15550999', 'sip:bulk@paging.test', 'completed', now() - g * interval '1 ms', now(),
	now() - g * interval '1 ms', now(), 'CA' || lpad(to_hex(g), 32, '0')
	from generate_series(1, 1001) g" >/dev/null || fail "cannot insert the 1001 calls"
timeout 120 /usr/bin/python3 "$TOP/tests/lib/rest_list.py" paging "$DIALERD_URL" \
	"$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" "$WORK" 1001 >"$WORK/paging.out" 2>&1 ||
	failed="$failed python3-twilio-paging"
cat "$WORK/paging.out"

A=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["A"])' "$WORK/calls.json")
sipm() { # sipm QUERY FILE: A's SipMessages.json with QUERY into FILE, prints the status
	curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -o "$2" -w '%{http_code}' \
		"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls/$A/SipMessages.json$1"
}
assert_eq "$(sipm '?Bodies=true' "$WORK/sip_bodies.json")" 200 "SipMessages.json?Bodies=true of A"
assert_eq "$(sipm '' "$WORK/sip_plain.json")" 200 "SipMessages.json of A"

stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" trace --bodies "$A" >"$WORK/trace_a" 2>&1
assert_eq "$?" 0 "dialerd trace --bodies A: exit 0"
python3 "$TOP/tests/lib/sip_bodies.py" "$A" "$WORK/uas1.msg" "$WORK/sip_bodies.json" \
	"$WORK/sip_plain.json" "$WORK/trace_a"
assert_eq "$?" 0 "A's bodies in the call log are the bodies on the wire"
P=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["P"])' "$WORK/calls.json")
C=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["C"])' "$WORK/calls.json")
assert_eq "$(q "select status || ' ' || sip_response_code from calls where sid = '$A'")" "completed 200" "A's row"
assert_eq "$(q "select parent_call_sid || ' ' || direction from calls where sid = '$C'")" "$P outbound-dial" "C's row names P"
assert_eq "$failed" "" "every client's checks passed (failed: $failed)"
