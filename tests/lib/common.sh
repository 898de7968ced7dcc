# common.sh: shared helpers of the integration cases; source it, then call dlr_init
# Every process a case starts is registered with dlr_track and stopped by PID
# at exit; nothing is ever killed by name.

dlr_pids=""
dlr_exit_hooks=""

dlr_log() { printf '%s\n' "$*"; }
pass() { printf 'ok - %s\n' "$*"; }
fail() { printf 'not ok - %s\n' "$*"; dlr_dump_logs; exit 1; }
skip() { printf 'skip - %s\n' "$*"; exit 77; }
harness_error() { printf 'harness error - %s\n' "$*"; dlr_dump_logs; exit 99; }

# assert_eq GOT WANT MESSAGE
assert_eq() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3: got '$1', want '$2'"
	fi
}

# assert_match TEXT EXTENDED-REGEX MESSAGE
assert_match() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		pass "$3"
	else
		fail "$3: '$1' does not match /$2/"
	fi
}

# wait_log FIXED-STRING SECONDS MESSAGE: waits for a line of the daemon's log
# (it is written by the logging path after the fact it reports, so a test that
# saw the fact in the database may still be ahead of the line)
wait_log() {
	local until=$(( $(date +%s) + $2 ))
	until grep -qF -- "$1" "$WORK/dialerd.log" 2>/dev/null; do
		[ "$(date +%s)" -le $until ] || fail "$3"
		sleep 0.1
	done
	pass "$3"
}

dlr_track() { dlr_pids="$dlr_pids $1"; }

# dlr_on_exit "COMMAND": runs at exit, before tracked PIDs are stopped.
dlr_on_exit() { dlr_exit_hooks="$dlr_exit_hooks
$1"; }

# On failure, show the tail of the logs a case produced.
dlr_dump_logs() {
	[ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
	for f in "$WORK"/*.log; do
		[ -f "$f" ] || continue
		printf '# --- %s (last 30 lines)\n' "${f##*/}"
		tail -n 30 "$f" | sed 's/^/# /'
	done
}

dlr_cleanup() {
	set +e
	eval "$dlr_exit_hooks"
	for pid in $dlr_pids; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $dlr_pids; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	if [ -n "${WORK:-}" ] && [ -z "${DIALERD_KEEP_WORK:-}" ]; then
		rm -rf "$WORK"
	fi
}

dlr_init() {
	set -u
	TOP=$(cd "$(dirname "$0")/../../.." && pwd)
	BUILD=${DIALERD_BUILD:-$TOP/build}
	DIALERD=$BUILD/daemon/dialerd
	[ -x "$DIALERD" ] || harness_error "no dialerd binary at $DIALERD (build first, or set DIALERD_BUILD)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/dialerd-it.XXXXXX")
	chmod 755 "$WORK"
	trap dlr_cleanup EXIT
	trap 'exit 130' INT TERM
	export TOP BUILD DIALERD WORK
}

# free_port [--addr ADDR] [--pair | --block N]: a port free for TCP and UDP on 127.0.0.1 (or
# ADDR) right now, claimed for this case (its shell, $$, or DIALERD_PORT_OWNER) until it ends:
# no other case, and no tests/run of the same user, gets it meanwhile. It comes from outside
# the kernel's ephemeral range and every media range of the tests, so no other process's
# client socket can take it before the case binds it (tests/lib/ports.py says why). --pair:
# an even port whose neighbour is claimed too (RTP + RTCP); --block N: N consecutive ones.
free_port() {
	python3 "$TOP/tests/lib/ports.py" "${DIALERD_PORT_OWNER:-$$}" "$@" ||
		printf 'harness error - free_port %s: no port\n' "$*" >&2
}

# port_block N: "LO-HI", N free consecutive ports claimed for this case (a daemon's RTP range)
port_block() {
	_pb=$(free_port --block "$1") && [ -n "$_pb" ] && echo "$_pb-$((_pb + $1 - 1))"
}

# metric SERIES: the value of one series (name and labels as printed) on the daemon's
# /metrics, empty when absent or unreachable
metric() { curl -fsS --max-time 5 "$DIALERD_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }

# wait_http URL [SECONDS]: until the URL answers 2xx
wait_http() {
	_deadline=$(( $(date +%s) + ${2:-10} ))
	while [ "$(date +%s)" -le $_deadline ]; do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_dialerd [ARGS...]: runs the daemon in the background with the
# DIALERD_* variables already exported; picks free ports where unset.
start_dialerd() {
	[ -z "${DIALERD_PID:-}" ] || fresh_ports
	: "${DIALERD_HTTP_LISTEN:=127.0.0.1:$(free_port)}"
	: "${DIALERD_SIP_LISTEN:=127.0.0.1:$(free_port)}"
	: "${DIALERD_DATA_DIR:=$WORK/data}"
	export DIALERD_HTTP_LISTEN DIALERD_SIP_LISTEN DIALERD_DATA_DIR
	mkdir -p "$DIALERD_DATA_DIR"
	DIALERD_URL=http://$DIALERD_HTTP_LISTEN
	export DIALERD_URL
	"$DIALERD" "$@" >>"$WORK/dialerd.log" 2>&1 &
	DIALERD_PID=$!
	dlr_track "$DIALERD_PID"
	if ! wait_http "$DIALERD_URL/health" 15; then
		harness_error "dialerd did not answer /health on $DIALERD_URL"
	fi
}

# final_callbacks_ok CALLS SECONDS [MESSAGE]: within SECONDS, each of CALLS calls has exactly one
# final status callback in the recorder's $WORK/requests.log and SequenceNumbers 0..n-1
# (tests/lib/final_callbacks.py); a failure names the offending calls
final_callbacks_ok() {
	_d=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -lt $_d ] &&
	      [ "$(python3 "$TOP/tests/lib/final_callbacks.py" "$WORK/requests.log" 2>/dev/null)" != "$1 $1 0" ]; do
		sleep 0.5
	done
	assert_eq "$(python3 "$TOP/tests/lib/final_callbacks.py" "$WORK/requests.log" 2>"$WORK/cb_bad.txt")" "$1 $1 0" \
		"${3:-each of the $1 calls: exactly one final callback, SequenceNumber without gaps or duplicates}$(head -n 4 "$WORK/cb_bad.txt")"
}

# fresh_ports: new SIP and HTTP ports for start_dialerd, which takes them for every start after
# a case's first: a restart on the old ones can fail, since between the stop and the start
# another process's socket may take them (an ephemeral port on a busy machine; it happened)
fresh_ports() {
	DIALERD_SIP_LISTEN="127.0.0.1:$(free_port)"
	DIALERD_HTTP_LISTEN="127.0.0.1:$(free_port)"
	export DIALERD_SIP_LISTEN DIALERD_HTTP_LISTEN
}

# stop_dialerd [SIGNAL]: signal the daemon, wait, set DIALERD_RC to its exit status
stop_dialerd() {
	kill "-${1:-TERM}" "$DIALERD_PID" 2>/dev/null
	wait "$DIALERD_PID"
	DIALERD_RC=$?
}
