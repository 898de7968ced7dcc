#!/bin/sh
# call_sigterm: SIGTERM during a bridged call: a new INVITE gets 503 at once; the call keeps going
# for shutdown_timeout, then both legs get a BYE with Reason "Shutting down"; both calls end
# completed in the call log and their final status callbacks are delivered before the exit.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip statusCallback=\"/status\">sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
export DIALERD_STATUS_CALLBACK="http://127.0.0.1:$WH/status"
# long enough for the late INVITE below to start and arrive on a loaded machine (ASan and two
# other suites beside it took over 3 s once): past it the daemon is gone and the INVITE unanswered
export DIALERD_SHUTDOWN_TIMEOUT=8
calls_start

sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start caller call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
_d=$(( $(date +%s) + 15 ))
until [ "$(q "select count(*) from calls where status = 'in-progress'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the call was not bridged: $(q "select direction, status from calls")"
	sleep 0.1
done
pass "the call is up"
kill -TERM "$DIALERD_PID"
_d=$(( $(date +%s) + 5 ))
until grep -q 'no new work accepted' "$WORK/dialerd.log"; do
	[ "$(date +%s)" -le $_d ] || fail "the daemon did not take SIGTERM"
	sleep 0.05
done
sipp_start late call_uac_rejected.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait late 10
assert_eq "$?" 0 "an INVITE during the drain was refused"
assert_match "$(sipp_msg late)" 'SIP/2.0 503 ' "with 503"
sipp_wait caller 20
assert_eq "$?" 0 "the caller got its BYE"
sipp_wait uas 20
assert_eq "$?" 0 "the callee got its BYE"
assert_match "$(sipp_msg caller | grep -A12 '^BYE ')" 'Reason: SIP;cause=503;text="Shutting down"' "the caller's BYE says why"
wait "$DIALERD_PID"
assert_eq "$?" 0 "the daemon exited cleanly"
assert_eq "$(q "select direction || ':' || status from calls order by direction")" "inbound:completed
outbound-dial:completed" "both calls completed in the call log"
assert_eq "$(grep -c '"CallStatus", "completed"' "$WORK/requests.log")" 2 "both final status callbacks were delivered"
calls_signatures_ok
