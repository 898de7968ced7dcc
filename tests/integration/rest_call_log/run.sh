#!/bin/sh
# rest_call_log: what the REST API answers from the call log when memory does not have the call:
# a call another instance runs (a live row with calls.instance 'other', its SID without an
# instance id, so no owner to ask) is shown, an update of it answers 503 naming that instance and
# a DELETE 400 20009; while PostgreSQL is down the list
# and the fetch of a call not in memory answer 503 with error JSON at once, and the list works
# again once the database is back.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
calls_start

OTHER=CA$(printf '%032x' 48879)
q "insert into calls (sid, account_sid, instance, direction, from_addr, to_addr, status,
	created_at, started_at, updated_at, root_sid)
	values ('$OTHER', '$DIALERD_ACCOUNT_SID', 'other', 'outbound-api', '+15550100',
	'sip:bob@10.0.0.9', 'in-progress', now(), now(), now(), '$OTHER')" >/dev/null

api() { # api METHOD PATH [FORM]: prints "STATUS BODY"
	curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -X "$1" \
		${3:+--data "$3"} -w ' %{http_code}' "$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/$2"
}
out=$(api GET "Calls/$OTHER.json")
assert_match "$out" '"status":"in-progress"' "another instance's live call is shown from the log"
assert_match "$out" ' 200$' "with 200"
out=$(api POST "Calls/$OTHER.json" "Status=completed")
assert_match "$out" '"code":20503' "an update of it: 20503"
assert_match "$out" 'instance other' "naming the instance that runs it"
assert_match "$out" ' 503$' "with 503"
out=$(api DELETE "Calls/$OTHER.json")
assert_match "$out" '"code":20009' "a DELETE of it: 20009 (not finished)"

pg_stop
t0=$(date +%s%N)
out=$(api GET "Calls.json")
t1=$(date +%s%N)
assert_match "$out" '"code":20503' "the list while PostgreSQL is down: 20503"
assert_match "$out" ' 503$' "with 503"
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || fail "the 503 took $(( (t1 - t0) / 1000000 )) ms"
pass "at once ($(( (t1 - t0) / 1000000 )) ms)"
out=$(api GET "Calls/CA$(printf '%032x' 1).json")
assert_match "$out" ' 503$' "the fetch of a call not in memory: 503"
out=$(api GET "Calls/$OTHER/SipMessages.json")
assert_match "$out" ' 503$' "SipMessages: 503"

pg_start_again
_d=$(( $(date +%s) + 20 ))
until out=$(api GET "Calls.json?To=sip%3Abob%4010.0.0.9") && printf '%s' "$out" | grep -q ' 200$'; do
	[ "$(date +%s)" -le $_d ] || fail "the list did not come back after PostgreSQL did: $out"
	sleep 0.5
done
assert_match "$out" "\"sid\":\"$OTHER\"" "the list is back with the database"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
