#!/bin/sh
# instance_registry: the instances registry and the instance id in call SIDs: the row a daemon
# registers (name, addresses, data_dir, host, pid, state, version) and its heartbeat; ids
# distinct for two names and stable across a restart; REST-created and inbound calls carry the
# id in their SIDs and calls rows; a second daemon of the same name (another data_dir, another
# pid) is refused while the first is fresh, one on the same data_dir is refused by its lock;
# a restart while PostgreSQL is down mints SIDs with the id cached in data_dir; instance_id
# configured is the id.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
export DIALERD_INSTANCE=alpha
# the REST calls go to a closed TCP port: they fail at once; a stop never waits long
export DIALERD_SHUTDOWN_TIMEOUT=2
calls_voice '<Response><Reject reason="busy"/></Response>'
calls_start

create() { # create URL: POST Calls.json to a closed TCP port; prints the SID (or the answer)
	_o=$(curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
		--data-urlencode "To=sip:nobody@127.0.0.1:$DEAD;transport=tcp" --data-urlencode "From=+15550100" \
		--data-urlencode "Url=http://127.0.0.1:$WH/answer" -w ' %{http_code}' \
		"$1/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json")
	printf '%s' "$_o" | grep -o '"sid":"CA[0-9a-f]*"' | head -1 | cut -d'"' -f4 | grep . ||
		printf '%s\n' "$_o"
}
# other DAEMON_NAME INSTANCE DATA_DIR [ENV...]: a second daemon in the background on its own
# ports; sets OTHER_PID and OTHER_URL; its log in $WORK/DAEMON_NAME.log
other() {
	_n=$1 _i=$2 _d=$3
	shift 3
	mkdir -p "$_d"
	OTHER_URL=http://127.0.0.1:$(free_port)
	env DIALERD_INSTANCE="$_i" DIALERD_DATA_DIR="$_d" DIALERD_HTTP_LISTEN="${OTHER_URL#http://}" \
		DIALERD_SIP_LISTEN="127.0.0.1:$(free_port)" "$@" "$DIALERD" >>"$WORK/$_n.log" 2>&1 &
	OTHER_PID=$!
	dlr_track $OTHER_PID
}
DEAD=$(free_port)

row=$(q "select id || ' ' || name || ' ' || pid || ' ' || state || ' ' || sip_addr || ' ' ||
	http_addr || ' ' || data_dir || ' ' || host || ' ' || (version is not null)
	from instances")
assert_eq "$row" "1 alpha $DIALERD_PID active 127.0.0.1:$SIPPORT ${DIALERD_URL#http://} $WORK/data $(hostname) true" \
	"the registry row: id 1, name, pid, state, addresses, data_dir, host, version"
assert_eq "$(cat "$WORK/data/instance.id")" 1 "the id is cached in data_dir/instance.id"
m=$(curl -sS -m 5 "$DIALERD_URL/metrics")
assert_match "$m" 'dialerd_instance_id 1' "/metrics: dialerd_instance_id 1"
assert_match "$m" 'dialerd_instance_accepting 1' "/metrics: dialerd_instance_accepting 1"
hb1=$(q "select extract(epoch from heartbeat_at) from instances where name = 'alpha'")
# the next heartbeat, at most 5 s away (7 s allowed before, 15 s here on a loaded machine)
_d=$(( $(date +%s) + 15 ))
until hb2=$(q "select extract(epoch from heartbeat_at) from instances where name = 'alpha'") &&
	[ "$(q "select $hb2 - $hb1 >= 4")" = t ]; do
	[ "$(date +%s)" -le $_d ] || fail "heartbeat did not advance: $hb1 -> $hb2"
	sleep 0.2
done
pass "the heartbeat advances (every 5 s)"

sid=$(create "$DIALERD_URL")
assert_match "$sid" '^CA0001[0-9a-f]{28}$' "a REST-created call's SID carries id 0001"
calls_wait_q 1 10 "select count(*) from calls where sid = '$sid'"
pass "its calls row has that SID"
sipp_start in call_uac_rejected.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait in 15
assert_eq "$?" 0 "an inbound call (rejected busy)"
calls_wait_q 1 10 "select count(*) from calls where direction = 'inbound'"
assert_match "$(q "select sid from calls where direction = 'inbound'")" '^CA0001[0-9a-f]{28}$' \
	"the inbound call's SID (minted in the SIP engine) carries id 0001"
assert_match "$(grep -o 'CallSid=CA[0-9a-f]*' "$WORK/requests.log" | head -1)" 'CallSid=CA0001' \
	"and so does its webhook's CallSid"

# a second name: the next id; stable across a restart
other beta beta "$WORK/beta"
wait_http "$OTHER_URL/health" 15 || fail "beta did not start: $(cat "$WORK/beta.log")"
assert_eq "$(q "select id from instances where name = 'beta'")" 2 "a second name gets id 2"
assert_match "$(create "$OTHER_URL")" '^CA0002' "its SIDs carry 0002"
kill -TERM $OTHER_PID; wait $OTHER_PID
assert_eq "$?" 0 "beta stopped"
assert_eq "$(q "select state from instances where name = 'beta'")" stopped "its row: stopped"
other beta2 beta "$WORK/beta"
wait_http "$OTHER_URL/health" 15 || fail "beta did not restart"
assert_eq "$(q "select id || ' ' || pid || ' ' || state from instances where name = 'beta'")" \
	"2 $OTHER_PID active" "restarted: the same id 2, its new pid, active"
kill -TERM $OTHER_PID; wait $OTHER_PID

# the same name from another process and data_dir while alpha is fresh: refused
other twin alpha "$WORK/twin"
wait $OTHER_PID
assert_eq "$?" 1 "a second alpha exits 1"
assert_match "$(cat "$WORK/twin.log")" 'instance "alpha" is already running: .* pid '"$DIALERD_PID" \
	"saying which process holds the name"
assert_eq "$(q "select pid || ' ' || state from instances where name = 'alpha'")" "$DIALERD_PID active" \
	"alpha's row is untouched"
# the same data_dir: refused by its lock
other samedir gamma "$WORK/data"
wait $OTHER_PID
assert_eq "$?" 1 "a daemon on alpha's data_dir exits 1"
assert_match "$(cat "$WORK/samedir.log")" "another dialerd runs on data_dir $WORK/data" "saying why"
assert_eq "$(q "select count(*) from instances where name = 'gamma'")" 0 "and registers nothing"

# instance_id configured
other delta delta "$WORK/delta" DIALERD_INSTANCE_ID=4660
wait_http "$OTHER_URL/health" 15 || fail "delta did not start: $(cat "$WORK/delta.log")"
assert_eq "$(q "select id from instances where name = 'delta'")" 4660 "instance_id 4660 is the row's id"
assert_match "$(create "$OTHER_URL")" '^CA1234[0-9a-f]{28}$' "and SIDs carry 1234 (hex)"
kill -TERM $OTHER_PID; wait $OTHER_PID

# alpha restarted while PostgreSQL is down: the cached id
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "alpha stopped"
assert_eq "$(q "select state from instances where name = 'alpha'")" stopped "its row: stopped"
pg_stop
start_dialerd
grep -q 'registering instance "alpha" (id 1 cached in data_dir)' "$WORK/dialerd.log" ||
	fail "the cached id was not used: $(grep registry "$WORK/dialerd.log")"
pass "restarted during the outage with the id cached in data_dir"
sid=$(create "$DIALERD_URL")
assert_match "$sid" '^CA0001[0-9a-f]{28}$' "a REST create during the outage: the SID carries 0001"
pg_start_again
calls_wait_q "$DIALERD_PID active" 30 "select pid || ' ' || state from instances where name = 'alpha'"
pass "registered again once PostgreSQL is back"
calls_wait_q 1 30 "select count(*) from calls where sid = '$sid'"
pass "the call created during the outage reached the call log under its SID"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "alpha stopped cleanly"
