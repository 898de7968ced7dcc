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
	_d=$(( $(date +%s) + 10 ))
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$WH/ping"; do
		[ "$(date +%s)" -le $_d ] || harness_error "webhook server did not start"
		sleep 0.05
	done
	export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
	export DIALERD_AUTH_TOKEN="test-token-$(basename "$(dirname "$0")")"
	export DIALERD_VOICE_URL="http://127.0.0.1:$WH/voice"
	export DIALERD_SIP_LISTEN="127.0.0.1:$SIPPORT"
}

calls_start() {
	start_dialerd
	dial_wait_port udp "$SIPPORT"
}
