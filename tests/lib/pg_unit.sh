#!/bin/sh
# pg_unit.sh: a throwaway PostgreSQL for a unit test program that needs one
#   pg_unit.sh start DIR    new cluster under DIR, every migration applied;
#                           prints its URL (postgresql://...) on standard output
#   pg_unit.sh stop DIR     stops it at once (immediate: as a crash would)
#   pg_unit.sh again DIR    starts it again, ready when this returns
#   pg_unit.sh destroy DIR  stops it and removes DIR
# The cluster is pg.sh's (a copy of the cached template, a free port);
# DIR keeps what "again" and "destroy" need. Exit 77 when PostgreSQL's
# server binaries are missing, 99 on a harness error.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib/common.sh"
. "$TOP/tests/lib/pg.sh"
cmd=$1
WORK=$2
case $cmd in
start)
	mkdir -p "$WORK" && chmod 755 "$WORK"
	# the cluster's port stays claimed (free_port) while the test program runs: this
	# script ends at once, and popen's "sh -c" may stand between the two
	DIALERD_PORT_OWNER=$PPID
	case $(cat "/proc/$PPID/comm" 2>/dev/null) in
	sh|dash|bash) DIALERD_PORT_OWNER=$(cut -d' ' -f4 "/proc/$PPID/stat") ;;
	esac
	export DIALERD_PORT_OWNER
	pg_start >&2
	echo "$PG_OPTS" >"$WORK/pg_opts"
	echo "$PGPORT" >"$WORK/pg_port"
	# the build the test program runs from (its working directory)
	BUILD=${DIALERD_BUILD:-}
	[ -n "$BUILD" ] || { [ -x ./daemon/dialerd ] && BUILD=$PWD; } || BUILD=$TOP/build
	DIALERD_DATABASE_URL=$DATABASE_URL "$BUILD/daemon/dialerd" migrate >&2 ||
		harness_error "migrate failed" >&2
	echo "$DATABASE_URL"
	;;
stop)
	PGDATA_DIR=$WORK/pg
	pg_stop_immediate
	;;
again)
	PGDATA_DIR=$WORK/pg
	PG_OPTS=$(cat "$WORK/pg_opts")
	PGPORT=$(cat "$WORK/pg_port")
	pg_start_again >&2
	;;
destroy)
	PGDATA_DIR=$WORK/pg
	pg_stop_immediate
	rm -rf "$WORK"
	;;
*)
	echo "usage: $0 start|stop|again|destroy DIR" >&2
	exit 2
	;;
esac
