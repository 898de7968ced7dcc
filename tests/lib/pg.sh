# pg.sh: a throwaway PostgreSQL 15 cluster per case, copied from a cached template
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# postgres user. The template (initdb + a "dialerd" database) is made once
# per machine and copied, which is several times faster than initdb.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_CACHE=${DIALERD_TEST_CACHE:-/tmp/dialerd-test-cache}

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_template() {
	tpl=$PG_CACHE/pg15-template
	[ -f "$tpl/ready" ] && return 0
	mkdir -p "$PG_CACHE"
	chmod 755 "$PG_CACHE"
	[ "$(id -u)" = 0 ] && chown postgres "$PG_CACHE"
	(
		flock 9
		[ -f "$tpl/ready" ] && exit 0
		rm -rf "$tpl.tmp"
		pg_as "$PG_BIN/initdb" -D "$tpl.tmp" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$PG_CACHE/initdb.log" 2>&1 ||
			exit 1
		port=$(free_port)
		pg_as "$PG_BIN/pg_ctl" -D "$tpl.tmp" -w -l "$PG_CACHE/template.log" \
			-o "-p $port -k $tpl.tmp -c listen_addresses=''" start >/dev/null || exit 1
		pg_as "$PG_BIN/createdb" -h "$tpl.tmp" -p "$port" -U postgres dialerd || exit 1
		pg_as "$PG_BIN/pg_ctl" -D "$tpl.tmp" -w -m fast stop >/dev/null || exit 1
		mv "$tpl.tmp" "$tpl"
		touch "$tpl/ready"
	) 9>"$PG_CACHE/.lock" || harness_error "cannot create the PostgreSQL template (see $PG_CACHE/initdb.log)"
}

# pg_start [EXTRA postgres -c SETTINGS...]: new cluster in $WORK/pg
pg_start() {
	[ -x "$PG_BIN/initdb" ] || skip "PostgreSQL server binaries not found (apt-get install postgresql-15)"
	pg_template
	PGDATA_DIR=$WORK/pg
	PGSOCK=$WORK/pgsock
	cp -a "$PG_CACHE/pg15-template" "$PGDATA_DIR"
	rm -f "$PGDATA_DIR/ready" "$PGDATA_DIR/postmaster.pid"
	mkdir -p "$PGSOCK"
	: >"$WORK/postgres.log"
	[ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR" "$PGSOCK" "$WORK/postgres.log"
	chmod 700 "$PGDATA_DIR"
	PGPORT=$(free_port)
	PG_OPTS="-p $PGPORT -k $PGSOCK -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
	for s in "$@"; do
		PG_OPTS="$PG_OPTS -c $s"
	done
	export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=dialerd
	export DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/dialerd"
	dlr_on_exit 'pg_stop_immediate >/dev/null 2>&1'
	pg_start_again
}

# pg_start_again: start the same cluster (after pg_stop or pg_stop_immediate)
pg_start_again() {
	pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/postgres.log" -o "$PG_OPTS" \
		start >/dev/null 2>&1 || harness_error "postgres did not start (see postgres.log)"
	_deadline=$(( $(date +%s) + 30 ))
	until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; do
		[ "$(date +%s)" -le $_deadline ] || harness_error "postgres not ready on port $PGPORT"
		sleep 0.05
	done
}

pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -m fast stop >/dev/null 2>&1
}

pg_stop_immediate() {
	[ -n "${PGDATA_DIR:-}" ] && [ -f "$PGDATA_DIR/postmaster.pid" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -m immediate stop >/dev/null 2>&1
}

# q "SQL": the result, unaligned, tuples only
q() {
	psql -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d dialerd -c "$1"
}

# pg_standby_start [EXTRA -c SETTINGS...]: a streaming standby of the case's
# cluster (pg_basebackup -R as the postgres user, hot_standby, own port) in
# $WORK/pg-standby; SBPORT is its port. Asynchronous unless the primary
# names it in synchronous_standby_names (its application_name is "standby").
pg_standby_start() {
	SBDATA_DIR=$WORK/pg-standby
	SBSOCK=$WORK/pgsock-standby
	mkdir -p "$SBSOCK" "$SBDATA_DIR"
	chmod 700 "$SBDATA_DIR"
	: >"$WORK/standby.log"
	[ "$(id -u)" = 0 ] && chown postgres "$SBSOCK" "$SBDATA_DIR" "$WORK/standby.log"
	pg_as "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres \
		-D "$SBDATA_DIR" -R -X stream -c fast -d "application_name=standby" \
		>>"$WORK/standby.log" 2>&1 || harness_error "pg_basebackup failed (see standby.log)"
	SBPORT=$(free_port)
	SB_OPTS="-p $SBPORT -k $SBSOCK -c listen_addresses=127.0.0.1 -c fsync=off -c hot_standby=on"
	for s in "$@"; do
		SB_OPTS="$SB_OPTS -c $s"
	done
	dlr_on_exit 'pg_standby_stop_immediate >/dev/null 2>&1'
	pg_as "$PG_BIN/pg_ctl" -D "$SBDATA_DIR" -l "$WORK/standby.log" -o "$SB_OPTS" \
		start >/dev/null 2>&1 || harness_error "the standby did not start (see standby.log)"
	_deadline=$(( $(date +%s) + 30 ))
	until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$SBPORT"; do
		[ "$(date +%s)" -le $_deadline ] || harness_error "standby not ready on port $SBPORT"
		sleep 0.05
	done
}

# pg_standby_promote: the standby becomes a primary (new timeline); waits
pg_standby_promote() {
	pg_as "$PG_BIN/pg_ctl" -D "$SBDATA_DIR" -w -t 30 promote >/dev/null 2>&1 ||
		harness_error "the standby was not promoted (see standby.log)"
}

# pg_standby_cut: the standby stops receiving WAL (primary_conninfo emptied
# and reloaded: its walreceiver exits); what the primary commits from now on
# is missing on it, as on an asynchronous standby that lagged
pg_standby_cut() {
	qs "alter system set primary_conninfo = ''" >/dev/null &&
		qs "select pg_reload_conf()" >/dev/null
}

# pg_kill9: kill -9 the primary's postmaster and its processes (by pid)
pg_kill9() {
	_pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) || return 0
	# shellcheck disable=SC2046
	kill -9 "$_pm" $(pgrep -P "$_pm") 2>/dev/null
	_d=$(( $(date +%s) + 10 ))
	while kill -0 "$_pm" 2>/dev/null; do
		[ "$(date +%s)" -le $_d ] || break
		sleep 0.05
	done
}

pg_standby_stop_immediate() {
	[ -n "${SBDATA_DIR:-}" ] && [ -f "$SBDATA_DIR/postmaster.pid" ] || return 0
	pg_as "$PG_BIN/pg_ctl" -D "$SBDATA_DIR" -w -m immediate stop >/dev/null 2>&1
}

# qs "SQL": like q, on the standby
qs() {
	psql -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SBPORT" -U postgres -d dialerd -c "$1"
}
