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
