#!/bin/sh
# store_failover_daemon: dialerd with a multi-host database_url (primary, streaming standby,
# target_session_attrs=read-write): after the primary's kill -9 and the standby's promotion,
# every store connection is on the new primary: the writer (failover logged and counted in
# /metrics), the REST reader (Calls.json answers 200 again) and the control connection (the
# instance's heartbeat lands on the promoted server).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
pg_start
pg_standby_start
export DIALERD_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT,127.0.0.1:$SBPORT/dialerd?target_session_attrs=read-write&connect_timeout=3"
export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
export DIALERD_AUTH_TOKEN=test-token-store-failover-daemon
export DIALERD_INSTANCE=alpha DIALERD_SHUTDOWN_TIMEOUT=2
start_dialerd
calls() { curl -sS -m 5 -o /dev/null -w '%{http_code}' -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" \
	"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json"; }
assert_eq "$(calls)" 200 "REST read through the multi-host URL"
grep -q 'is a name: libpq resolves it' "$WORK/dialerd.log" && fail "IP addresses taken for names"
pass "no host-name warning for IP addresses"
_d=$(( $(date +%s) + 15 ))
until [ "$(qs "select count(*) from instances where name = 'alpha'" 2>/dev/null)" = 1 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the instance row never reached the standby"
	sleep 0.2
done

pg_kill9
sleep 1
pg_standby_promote
promoted=$(qs "select now()")
_d=$(( $(date +%s) + 30 ))
until [ "$(metric dialerd_database_failovers_total)" = 1 ] && [ "$(metric dialerd_database_up)" = 1 ]; do
	[ "$(date +%s)" -le $_d ] || fail "no failover in /metrics after 30 s: $(metric dialerd_database_failovers_total)"
	sleep 0.2
done
pass "/metrics: dialerd_database_failovers_total 1, dialerd_database_up 1"
grep -q 'database: failover: now on server [0-9]* timeline 2' "$WORK/dialerd.log" || fail "failover not logged"
pass "failover to timeline 2 logged"
_d=$(( $(date +%s) + 30 ))
until [ "$(calls)" = 200 ]; do
	[ "$(date +%s)" -le $_d ] || fail "REST reads never came back after the failover"
	sleep 0.5
done
pass "REST reads answered by the promoted server"
_d=$(( $(date +%s) + 30 ))
until [ "$(qs "select count(*) from instances where name = 'alpha' and heartbeat_at > '$promoted'")" = 1 ]; do
	[ "$(date +%s)" -le $_d ] || fail "no heartbeat on the promoted server after 30 s"
	sleep 0.5
done
pass "the control connection's heartbeat lands on the promoted server"
stop_dialerd
assert_eq "$DIALERD_RC" 0 "dialerd stops cleanly"
exit 0
