# calls.sh: the set-up of the call_* cases: a throwaway PostgreSQL with the schema, the webhook
# recorder (tests/lib/webhook.py, routes in $WORK/routes.json, requests in $WORK/requests.log),
# SIPp, and dialerd with its voice URL on the recorder's /voice.
# Source after common.sh; calls_init, write $WORK/routes.json (re-read on every request), then
# calls_start. Sets WH (the recorder's port), SIPPORT (dialerd's), DATABASE_URL.

calls_init() {
	. "$TOP/tests/lib/pg.sh"
	. "$TOP/tests/lib/sipp.sh"
	. "$TOP/tests/lib/dial.sh"
	dial_init
	pg_start
	export DIALERD_DATABASE_URL="$DATABASE_URL"
	"$DIALERD" migrate >/dev/null || harness_error "migrate failed"
	WH=$(free_port)
	SIPPORT=$(free_port)
	echo '{}' >"$WORK/routes.json"
	python3 "$TOP/tests/lib/webhook.py" --port "$WH" --routes "$WORK/routes.json" \
		--log "$WORK/requests.log" >"$WORK/webhook.log" 2>&1 &
	dlr_track $!
	# any answer, even the 404 of this probe, means it is up (cases skip /ping)
	_d=$(( $(date +%s) + 20 ))
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$WH/ping"; do
		[ "$(date +%s)" -le $_d ] || harness_error "webhook server did not start: $(tail -n 2 "$WORK/webhook.log")"
		sleep 0.05
	done
	export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
	export DIALERD_AUTH_TOKEN="test-token-$(basename "$(dirname "$0")")"
	export DIALERD_VOICE_URL="http://127.0.0.1:$WH/voice"
	export DIALERD_SIP_LISTEN="127.0.0.1:$SIPPORT"
}

calls_start() {
	start_dialerd
	SIPPORT=${DIALERD_SIP_LISTEN##*:}	# a restart takes new ports
	dial_wait_port udp "$SIPPORT"
}

# calls_voice DOC: every /voice request is answered 200 with the cXML DOC
calls_voice() {
	printf '{"/voice": {"status": 200, "content_type": "text/xml", "body": "%s"}}\n' \
		"$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$WORK/routes.json"
}

# calls_call UAS_SCENARIO DELAY_MS: the one call of a case: a SIPp target "uas" on $UAS (chosen
# by the case, named in its document) running UAS_SCENARIO once, then a SIPp caller "uac"
# (call_uac.xml) that talks DELAY_MS and hangs up; both must end as their scenarios say
calls_call() {
	sipp_start uas "$1" -i 127.0.0.1 -p "$UAS" -m 1
	dial_wait_port udp "$UAS"
	sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d "$2"
	sipp_wait uac 30
	assert_eq "$?" 0 "caller: answered, talked, hung up"
	sipp_wait uas 15
	assert_eq "$?" 0 "target: the call went as $1 says"
}

# calls_wait_q WANT SECONDS SQL: polls the call log until SQL answers WANT; fails with the
# last answer after SECONDS
calls_wait_q() {
	_d=$(( $(date +%s) + $2 ))
	until [ "$(q "$3")" = "$1" ]; do
		[ "$(date +%s)" -le $_d ] || fail "after ${2} s, $3: got '$(q "$3")', want '$1'"
		sleep 0.2
	done
}

# calls_kill9 WHEN: dialerd killed with SIGKILL (asserted; WHEN says what was up) and started
# again at once on its folder and addresses, as a supervisor restarts it: the peers' dialogs and
# media point there. calls_newlog prints what the new process logged since.
calls_kill9() {
	_first=$DIALERD_PID
	kill -KILL "$DIALERD_PID"
	wait "$DIALERD_PID" 2>/dev/null
	assert_eq "$?" 137 "dialerd killed with SIGKILL $1"
	DIALERD_PID=
	CALLS_LINES=$(wc -l <"$WORK/dialerd.log")
	calls_start
	[ "$DIALERD_PID" != "$_first" ] || harness_error "no new process"
}
calls_newlog() { tail -n +"$((CALLS_LINES + 1))" "$WORK/dialerd.log"; }

# calls_wait_requests PATH COUNT SECONDS: waits until the recorder got COUNT requests for PATH;
# false after SECONDS
calls_wait_requests() {
	_d=$(( $(date +%s) + $3 ))
	while [ "$(grep -c "\"path\": \"$1\"" "$WORK/requests.log")" -lt "$2" ]; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.1
	done
}

# calls_signatures_ok: Debian's python3-twilio validates the signature of
# every request the recorder got (the /ping probe aside)
calls_signatures_ok() {
	/usr/bin/python3 - "$WORK/requests.log" "$DIALERD_AUTH_TOKEN" "$WH" <<'PY' ||
import json, sys
from twilio.request_validator import RequestValidator
val = RequestValidator(sys.argv[2])
reqs = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] != "/ping"]
bad = [r["url"] for r in reqs
       if not val.validate("http://127.0.0.1:%s%s" % (sys.argv[3], r["url"]),
                           dict(r["form"] or []), dict(r["headers"]).get("X-Twilio-Signature"))]
print("# %d requests, %d with a bad signature %s" % (len(reqs), len(bad), bad[:3]))
sys.exit(1 if bad or not reqs else 0)
PY
		fail "a webhook request's signature does not validate"
	pass "python3-twilio validates every webhook request's signature"
}

# calls_hold_routes: the recorder's routes for calls_create: /answer holds the call for 120 s,
# /status answers 204
calls_hold_routes() {
	cat >"$WORK/routes.json" <<JSON
{"/answer": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Pause length=\"120\"/><Hangup/></Response>"},
 "/status": {"status": 204, "body": ""}}
JSON
}

# calls_create TARGET_PORT EVENTS: a REST call to the SIPp target on TARGET_PORT whose Url is
# the recorder's /answer and StatusCallback its /status, subscribed to EVENTS (space-separated,
# "" for the default: completed only); prints its SID
calls_create() {
	_ev=""
	# StatusCallbackEvent repeated, one event each (as the helper libraries send it)
	for _e in $2; do _ev="$_ev --data-urlencode StatusCallbackEvent=$_e"; done
	# shellcheck disable=SC2086
	curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
		--data-urlencode "To=sip:bob@127.0.0.1:$1" --data-urlencode "From=+15550100" \
		--data-urlencode "Url=http://127.0.0.1:$WH/answer" --data-urlencode "Timeout=120" \
		--data-urlencode "StatusCallback=http://127.0.0.1:$WH/status" $_ev \
		"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json" |
		grep -o '"sid":"CA[0-9a-f]*"' | head -1 | cut -d'"' -f4
}
