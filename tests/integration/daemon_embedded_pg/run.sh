#!/bin/sh
# daemon_embedded_pg: scripts/run's embedded PostgreSQL trusts nobody: no
# trust line in pg_hba.conf, scram-sha-256 for host and local, a connection
# without the generated password is refused on TCP and on the socket, the
# password sits only in 0600 files; the daemon reaches the database with it.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
PGB=/usr/lib/postgresql/15/bin
[ -x "$PGB/initdb" ] || skip "PostgreSQL 15 server binaries not found"
command -v psql >/dev/null || skip "psql not found"
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || skip "no postgres user to own the cluster"
fi

VAR=$WORK/var
PGPORT=$(free_port)
HTTP=127.0.0.1:$(free_port)
mkdir -p "$VAR"
# the folder stays as scripts/run sees it in a checkout: 0755
chmod 755 "$VAR"
dlr_on_exit "[ -f '$VAR/pg/postmaster.pid' ] && if [ \$(id -u) = 0 ]; then runuser -u postgres -- '$PGB/pg_ctl' -D '$VAR/pg' -m immediate stop; else '$PGB/pg_ctl' -D '$VAR/pg' -m immediate stop; fi >/dev/null 2>&1"
env -u DIALERD_DATABASE_URL -u DIALERD_DATA_DIR DIALERD_VAR="$VAR" DIALERD_BUILD="$BUILD" \
	DIALERD_PG_PORT="$PGPORT" DIALERD_HTTP_LISTEN="$HTTP" DIALERD_SIP_LISTEN="127.0.0.1:$(free_port)" \
	"$TOP/scripts/run" >"$WORK/run.log" 2>&1 &
runpid=$!
dlr_track $runpid

# up when /health says the database is up (initdb takes a few seconds)
_d=$(( $(date +%s) + 90 ))
until curl -fsS --max-time 1 "http://$HTTP/health" 2>/dev/null | grep -q '"database":"up"'; do
	kill -0 $runpid 2>/dev/null || fail "scripts/run exited: $(tail -n 5 "$WORK/run.log")"
	[ "$(date +%s)" -le $_d ] || fail "the daemon never reported its database up"
	sleep 0.2
done
pass "scripts/run: the daemon reaches the embedded database with the generated password"

hba=$VAR/pg/pg_hba.conf
rules=$(grep -Ev '^[[:space:]]*(#|$)' "$hba")
[ -n "$rules" ] || fail "pg_hba.conf has no rule"
if printf '%s\n' "$rules" | grep -qw trust; then
	fail "pg_hba.conf has a trust rule: $(printf '%s\n' "$rules" | grep -w trust | head -n 1)"
fi
pass "pg_hba.conf: no trust rule"
bad=$(printf '%s\n' "$rules" | awk '$1 ~ /^(local|host|hostssl|hostnossl)$/ && $NF != "scram-sha-256"')
assert_eq "$bad" "" "pg_hba.conf: every local and host rule is scram-sha-256"

# without the password: refused on TCP and on the private socket directory
nopw() { env -u PGPASSWORD PGPASSFILE=/dev/null psql -X -w -tAc 'select 1' "$@" 2>&1; }
out=$(nopw -h 127.0.0.1 -p "$PGPORT" -U dialerd -d dialerd)
assert_match "$out" 'password|authentication' "TCP without the password: refused ($(printf '%s' "$out" | head -n 1 | cut -c1-60))"
out=$(nopw -h 127.0.0.1 -p "$PGPORT" -U postgres -d dialerd)
assert_match "$out" 'password|authentication' "TCP as another role without a password: refused"
out=$(nopw -h "$VAR/pg-run" -p "$PGPORT" -U dialerd -d dialerd)
assert_match "$out" 'password|authentication' "socket without the password: refused"
# with it: let in
out=$(env -u PGPASSWORD PGPASSFILE="$VAR/pgpass" psql -X -w -tAc 'select 1' -h 127.0.0.1 -p "$PGPORT" -U dialerd -d dialerd 2>&1)
assert_eq "$out" 1 "TCP with the generated password (pgpass): let in"

for f in dialerd.conf pg.password pgpass; do
	assert_eq "$(stat -c %a "$VAR/$f")" 600 "$f is 0600"
done
pw=$(cat "$VAR/pg.password")
[ ${#pw} -ge 32 ] || fail "generated password too short: ${#pw} characters"
pass "the generated password has ${#pw} hex characters"
grep -q "^database_url = postgresql://dialerd:$pw@127.0.0.1:$PGPORT/dialerd\$" "$VAR/dialerd.conf" ||
	fail "dialerd.conf does not hold the database URL"
pass "dialerd.conf holds the database URL with the password"
grep -q "$pw" "$WORK/run.log" && fail "scripts/run printed the password"
pass "scripts/run never printed the password"
grep -q 'readable by' "$WORK/run.log" && fail "the daemon warned that its configuration is readable"
pass "no readable-configuration warning"

# Ctrl-C's path: one SIGTERM to scripts/run stops the daemon and the database
kill -TERM $runpid
wait $runpid
rc=$?
assert_eq "$rc" 0 "scripts/run exits 0 after SIGTERM"
[ -f "$VAR/pg/postmaster.pid" ] && fail "the embedded PostgreSQL still runs"
pass "the embedded PostgreSQL stopped with it"
exit 0
