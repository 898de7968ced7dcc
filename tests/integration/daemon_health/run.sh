#!/bin/sh
# daemon_health: the daemon against a throwaway PostgreSQL; /health and /metrics
# report what is true, follow the database going away and coming back, and
# SIGTERM ends the daemon cleanly. realtime_priority puts the SIP thread and
# the event loop, and only those, on SCHED_RR; refused, the daemon runs on.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"

pg_start
export DIALERD_DATABASE_URL="$DATABASE_URL"
export DIALERD_AUTH_TOKEN="tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export DIALERD_LOG_LEVEL=debug
export DIALERD_REALTIME_PRIORITY=7
start_dialerd

# "PRIORITY POLICY" of each thread (/proc's stat fields 40 and 41; 2 is
# SCHED_RR), the main thread first and once more in the list
sched() {
	for t in /proc/$DIALERD_PID/task/$DIALERD_PID /proc/$DIALERD_PID/task/*; do
		sed 's/.*) //' "$t/stat" | cut -d' ' -f38,39
	done
}
s=$(sched)
assert_eq "$(printf '%s\n' "$s" | head -n 1)" "7 2" "realtime_priority: the event loop runs SCHED_RR at 7"
assert_eq "$(printf '%s\n' "$s" | grep -c '^7 2$')" 3 "realtime_priority: one other thread (SIP) runs SCHED_RR at 7"
assert_eq "$(printf '%s\n' "$s" | grep -v '^7 2$' | sort -u | tr '\n' ' ')" "0 0 " "realtime_priority: the other threads keep SCHED_OTHER"

# the connection is made in the background: poll until it is up
health_db() { curl -fsS "$DIALERD_URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["database"])'; }
wait_db() {
	_d=$(( $(date +%s) + 15 ))
	while [ "$(health_db)" != "$1" ]; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.1
	done
}
wait_db up || fail "database never reported up: $(curl -s "$DIALERD_URL/health")"
h=$(curl -fsS -D "$WORK/h.hdr" "$DIALERD_URL/health")
assert_match "$h" '"status":"ok"' "health status ok"
assert_match "$h" '"version":"[0-9]+\.[0-9]+\.[0-9]+"' "health carries the version"
assert_match "$h" '"uptime_seconds":[0-9]+' "health carries the uptime"
assert_match "$(grep -i '^content-type' "$WORK/h.hdr")" 'application/json' "health is JSON"
n=$(q "select count(*) from pg_stat_activity where datname = 'dialerd' and client_addr = '127.0.0.1'")
[ "$n" -ge 1 ] || fail "no connection from the daemon seen by PostgreSQL"
pass "PostgreSQL sees the daemon's connection"

curl -s -o /dev/null "$DIALERD_URL/no/such/path"
m=$(curl -fsS "$DIALERD_URL/metrics")
assert_match "$m" '^# TYPE dialerd_build_info gauge' "metrics: build info family"
assert_match "$m" 'dialerd_build_info\{version="[0-9.]+",libre="1\.1\.[0-9]+"' "metrics: build info names the version and libre"
assert_match "$m" 'dialerd_http_requests_total\{path="/health",code="200"\} [1-9]' "metrics: /health requests counted"
assert_match "$m" 'dialerd_http_requests_total\{path="other",code="404"\} 1' "metrics: unknown paths counted under one label"
assert_match "$m" 'dialerd_calls_open 0' "metrics: open calls"
assert_match "$m" 'dialerd_database_up 1' "metrics: database up"
assert_match "$m" 'dialerd_sip_shed_total\{direction="inbound",reason="overload"\} 0' "metrics: SIP overload shedding"
assert_match "$m" 'dialerd_sip_queue_delay_seconds [0-9]' "metrics: SIP queueing delay"
assert_match "$m" 'dialerd_memory_resident_bytes [1-9]' "metrics: resident memory"
assert_match "$m" 'dialerd_memory_allocated_bytes [1-9]' "metrics: allocated memory"
assert_match "$m" 'dialerd_memory_allocator_free_bytes [0-9]' "metrics: the allocator's free memory"
assert_match "$m" 'dialerd_sip_shedding 0' "metrics: not shedding calls at rest"
# the text format must parse: every sample line is NAME{labels} VALUE
bad=$(printf '%s\n' "$m" | grep -v '^#' | grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+$' || true)
assert_eq "$bad" "" "metrics: every sample line is well-formed"

# the database goes away: the daemon stays up and says so
pg_stop_immediate
wait_db down || wait_db connecting || fail "database loss not reported: $(curl -s "$DIALERD_URL/health")"
assert_match "$(curl -fsS "$DIALERD_URL/health")" '"status":"degraded"' "health degraded while the database is away"
pg_start_again
wait_db up || fail "daemon did not reconnect"
assert_match "$(curl -fsS "$DIALERD_URL/metrics")" 'dialerd_database_connects_total [2-9]' "reconnect counted"

if grep -q -- "$DIALERD_AUTH_TOKEN" "$WORK/dialerd.log"; then
	fail "the auth token appears in the log"
fi
pass "the auth token never appears in the log"

stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "SIGTERM: exit status 0"
grep -q 'finishing in-flight work' "$WORK/dialerd.log" || fail "no shutdown line in the log"
pass "SIGTERM logged an orderly shutdown"

# without CAP_SYS_NICE (and RLIMIT_RTPRIO 0) the priority is refused:
# warned, and the daemon runs
printf '#!/bin/sh\nexec setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice "%s" "$@"\n' \
	"$DIALERD" >"$WORK/nonice"
chmod +x "$WORK/nonice"
: >"$WORK/dialerd.log"
DIALERD="$WORK/nonice" start_dialerd
assert_match "$(curl -fsS "$DIALERD_URL/health")" '"status":"(ok|degraded)"' "refused priority: the daemon answers"
assert_eq "$(grep -c 'real-time priority 7 refused' "$WORK/dialerd.log")" 2 "refused priority: a warning for the SIP thread and one for the loop"
assert_eq "$(sched | sort -u | tr '\n' ' ')" "0 0 " "refused priority: every thread SCHED_OTHER"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "refused priority: SIGTERM exit status 0"
exit 0
