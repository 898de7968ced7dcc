# lib.sh: the pieces bench/run and bench/drills share: the PostgreSQL cluster, dialerd, Kamailio,
# the webhook server, SIPp steps, CPU and RSS readings, the wait for a drained daemon.
# Source after setting TOP and BUILD; call bf_init first. Every process started here is tracked
# (dlr_track) and stopped by PID at exit (tests/lib/common.sh's dlr_cleanup); nothing by name.

. "$TOP/tests/lib/common.sh"

SIPP=${SIPP:-$(command -v sipp || true)}
KAMAILIO=${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
DIALERD=$BUILD/daemon/dialerd
HOOKS=$BUILD/bench/full/bench_hooks
REPORT="python3 $TOP/bench/full/report.py"

# bf_free_port: a port free for UDP and TCP on 127.0.0.1 now, from 30000 up to the kernel's
# ephemeral range (32768 by default), never inside it: a connection's ephemeral port took a
# restarted daemon's SIP port once ("SIP TCP listen ...: Address already in use", bench/drills'
# dialerd_kill, after its takeover had opened hundreds of connections). They are away from the
# media ranges bench/run and bench/drills set, but inside bench/dial's (30000-39999): do not
# run bench/dial beside them; no Python start-up
# bf_free_port [N]: the first of N (default 1) consecutive free ports. SIPp's -mp binds more
# than the port given (its video socket is 2 above it); one already taken makes SIPp exit 254
# at start, which a drill then reports as every call of its run failed (seen once, 2026-12-07)
bf_free_port() {
	local lo hi n=${1:-1} i
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	hi=$(( ${lo:-32768} - n ))
	[ "$hi" -gt 30100 ] || hi=$(( 32768 - n ))
	while :; do
		_p=$(( 30000 + (RANDOM * 32768 + RANDOM) % (hi - 30000 + 1) ))
		i=0
		while [ "$i" -lt "$n" ]; do
			ss -Hanu "sport = :$(( _p + i ))" 2>/dev/null | grep -q . && break
			ss -Hant "sport = :$(( _p + i ))" 2>/dev/null | grep -q . && break
			i=$(( i + 1 ))
		done
		[ "$i" -eq "$n" ] || continue
		echo "$_p"
		return
	done
}

bf_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
bf_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bf_init NAME: the work folder, the trap, the binaries
bf_init() {
	[ -n "$SIPP" ] || { echo "$1: sipp not installed (apt-get install sip-tester)" >&2; exit 77; }
	make -C "$BUILD" daemon/dialerd bench/full/bench_hooks >/dev/null ||
		{ echo "$1: cannot build dialerd and bench_hooks in $BUILD" >&2; exit 99; }
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	chmod 755 "$WORK"
	[ -n "${KEEP:-}" ] && DIALERD_KEEP_WORK=1 && bf_log "$1: keeping $WORK"
	export WORK
	trap dlr_cleanup EXIT
	trap 'exit 130' INT TERM
	# SIPp and a relaying dialerd want many descriptors (4 a relayed call): the hard limit is
	# raised where the kernel lets us (root with CAP_SYS_RESOURCE), the soft one to it
	ulimit -Hn 200000 2>/dev/null
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	. "$TOP/tests/lib/pg.sh"
}

# bf_pg: one durable cluster (fsync on) for dialerd's call log and Kamailio's acc table
bf_pg() {
	pg_start fsync=on full_page_writes=on synchronous_commit=on shared_buffers=256MB \
		max_wal_size=4GB checkpoint_timeout=30min max_connections=200 ${BF_PG_EXTRA:-}
	DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null ||
		harness_error "dialerd migrate failed"
	pg_as "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres kamailio ||
		harness_error "createdb kamailio failed"
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d kamailio \
		-f "$TOP/bench/full/acc.sql" >/dev/null || harness_error "acc.sql failed"
	KAM_DB_URL="postgres://postgres@127.0.0.1:$PGPORT/kamailio"
}

bf_pg_pid() { head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null; }

# kq "SQL": a query in Kamailio's database
kq() {
	psql -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d kamailio -c "$1"
}

# bf_scenarios RING_MS HOLD_MS: the SIPp scenarios with their timings. The UAC waits for
# the 200 and for the BYE until ring + hold + BF_WAIT_MARGIN ms: a call that late has failed
# for any caller, and a failing step ends once its last calls time out (with 40 s, each
# failing Kamailio step took about 2 minutes and its rate search outran its time budget)
bf_scenarios() {
	BF_RING=$1
	BF_HOLD=$2
	BF_WAIT=$(( $1 + $2 + ${BF_WAIT_MARGIN:-10000} ))
	sed "s/@WAIT_MS@/$BF_WAIT/g" "$TOP/bench/full/uac.xml" >"$WORK/uac.xml"
	sed -e "s/@RING_MS@/$1/g" -e "s/@HOLD_MS@/$2/g" "$TOP/bench/full/uas.xml" >"$WORK/uas.xml"
}

# bf_uas_start NAME: a SIPp UAS on UAS_PORT (a free port when unset; UAS_PID)
bf_uas_start() {
	: "${UAS_PORT:=$(bf_free_port)}"
	# -mp: SIPp's own media sockets (6000 and up by default) collide with another SIPp's
	"$SIPP" -sf "$WORK/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -mp "$(bf_free_port 4)" -buff_size 8388608 -nostdin \
		-trace_stat -stf "$WORK/$1.uas.csv" -fd 1 -trace_err -error_file "$WORK/$1.uas.err" \
		-max_recv_loops 10000 -max_sched_loops 10000 \
		>"$WORK/$1.uas.out" 2>&1 </dev/null &
	UAS_PID=$!
	dlr_track $UAS_PID
	bf_wait_udp "$UAS_PORT" || harness_error "SIPp UAS did not bind $UAS_PORT"
}

# bf_wait_udp PORT: until something listens on that UDP port (5 s)
bf_wait_udp() {
	_d=$(( $(date +%s) + 5 ))
	until ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.05
	done
}

# bf_stop PID [SECONDS]: SIGTERM, wait, SIGKILL past the deadline
bf_stop() {
	kill -TERM "$1" 2>/dev/null
	_d=$(( $(date +%s) + ${2:-10} ))
	while kill -0 "$1" 2>/dev/null; do
		if [ "$(date +%s)" -gt $_d ]; then
			kill -KILL "$1" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$1" 2>/dev/null
}

# bf_uac_start NAME TARGET RATE SECONDS [LIMIT [CALLS]]: an open-loop SIPp UAC, RATE calls/s
# for SECONDS (RATE*SECONDS calls, or CALLS), at most LIMIT in flight (UAC_PID)
bf_uac_start() {
	_port=$(bf_free_port)
	_lim=${5:-$(( $3 * (BF_RING + BF_HOLD + 3000) / 1000 * 2 + 100 ))}
	"$SIPP" -sf "$WORK/uac.xml" "$2" -i 127.0.0.1 -p "$_port" -mp "$(bf_free_port 4)" -r "$3" -rp 1000 \
		-m "${6:-$(( $3 * $4 ))}" -l "$_lim" -buff_size 8388608 -nostdin \
		-max_recv_loops 10000 -max_sched_loops 10000 \
		-trace_logs -log_file "$WORK/$1.uac.log" -trace_stat -stf "$WORK/$1.uac.csv" -fd 1 \
		-trace_err -error_file "$WORK/$1.uac.err" \
		>"$WORK/$1.uac.out" 2>&1 </dev/null &
	UAC_PID=$!
	dlr_track $UAC_PID
	UAC_T0=$(date +%s.%N)
}

# bf_ticks VAR PID: utime + stime of a process, in clock ticks, into VAR (1: unreadable), and
# bf_nap SECONDS: a sleep without a fork (read's timeout on a FIFO nobody writes). Builtins
# only, for the loop that runs through every step: with date, awk and sleep it forked five
# processes ten times a second, which took about 13 % of the machine's two cores (perf, a
# dialerd step at 500 calls/s), CPU that the measured systems lost.
bf_ticks() {
	local _l _f
	read -r _l <"/proc/$2/stat" 2>/dev/null || return 1
	# shellcheck disable=SC2206
	_f=(${_l##*) })
	printf -v "$1" '%d' $(( _f[11] + _f[12] ))
}
bf_nap() {
	if [ -z "${BF_NAP_FD:-}" ]; then
		rm -f "$WORK/nap.fifo"
		mkfifo "$WORK/nap.fifo" && exec {BF_NAP_FD}<>"$WORK/nap.fifo"
	fi
	read -r -t "$1" -u "$BF_NAP_FD" _
}

# bf_uac_wait SECONDS: waits for the UAC, SIGUSR1 (stop new calls) then SIGKILL past the
# deadline; UAC_RC, UAC_TICKS (its CPU)
bf_uac_wait() {
	local _now _d _t
	printf -v _now '%(%s)T' -1
	_d=$(( _now + $1 ))
	UAC_TICKS=0
	while kill -0 "$UAC_PID" 2>/dev/null; do
		# its CPU, read while it lives (the last tenth of a second is lost)
		bf_ticks _t "$UAC_PID" && UAC_TICKS=$_t
		printf -v _now '%(%s)T' -1
		if [ "$_now" -gt $_d ]; then
			kill -USR1 "$UAC_PID" 2>/dev/null
			sleep 3
			kill -KILL "$UAC_PID" 2>/dev/null
			break
		fi
		bf_nap 0.1
	done
	wait "$UAC_PID" 2>/dev/null
	UAC_RC=$?
}

# bf_step NAME TARGET RATE SECONDS: one load step against TARGET with a fresh UAS already
# running (UAS_PID); the UAS is stopped afterwards. Writes $WORK/NAME.step (key=value) with
# the SIPp side of the verdict; the system-specific checks are added by the caller.
# BF_CPU: LABEL=PID of the long-lived processes whose CPU the step measures; the CPU snaps
# are $WORK/NAME.cpu0 and NAME.cpu1 (the UAC's and UAS's own in the second).
bf_step() {
	bf_cpu_snap "$WORK/$1.cpu0" $BF_CPU
	bf_uac_start "$1" "$2" "$3" "$4"
	bf_uac_wait $(( $4 * 3 + BF_WAIT / 1000 + 30 ))
	# the UAS's last call ends with its timewait, as the UAC's did
	sleep 0.5
	_ut=0
	bf_ticks _ut "$UAS_PID"
	bf_cpu_snap "$WORK/$1.cpu1" $BF_CPU "uac=ticks:$UAC_TICKS" "uas=ticks:${_ut:-0}"
	bf_stop "$UAS_PID" 5
}

# bf_sys_start FILE PID: count the system calls of each thread of PID until bf_sys_stop (perf
# stat on the raw_syscalls tracepoint, one "comm-TID,count,..." line a thread in FILE); nothing
# when perf is missing or may not trace
bf_sys_start() {
	BF_SYS_PID=
	command -v perf >/dev/null 2>&1 || { bf_log "perf not installed: no system call counts"; return 0; }
	perf stat --per-thread -x, -e raw_syscalls:sys_enter -p "$2" -o "$1" >/dev/null 2>&1 &
	BF_SYS_PID=$!
	dlr_track $BF_SYS_PID
}

bf_sys_stop() {
	[ -n "${BF_SYS_PID:-}" ] || return 0
	kill -INT "$BF_SYS_PID" 2>/dev/null
	wait "$BF_SYS_PID" 2>/dev/null
	BF_SYS_PID=
}

# bf_step_summary NAME RATE SECONDS: the SIPp verdict inputs and the CPU per completed call
# of a step as key=value lines in $WORK/NAME.step (see report.py step)
bf_step_summary() {
	$REPORT step --name "$1" --work "$WORK" --rate "$2" --seconds "$3" >"$WORK/$1.step" ||
		harness_error "report.py step failed"
}

# bf_tree PID: the process and its live descendants (from /proc/*/task/*/children)
bf_tree() {
	echo "$1"
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		bf_tree "$_c"
	done
}

# bf_cpu_snap FILE LABEL=PID|LABEL=ticks:N ...: CPU ticks of each process tree (utime + stime
# of the live processes plus what their reaped children used), one "LABEL TICKS" line each;
# for dialerd also one "thread TID TICKS" line per thread. Plain awk: Python costs seconds of
# start-up on a loaded machine.
bf_cpu_snap() {
	_f=$1
	shift
	{
		echo "t $(date +%s.%N)"
		for _a in "$@"; do
			_l=${_a%%=*}
			_p=${_a#*=}
			[ -n "$_p" ] || continue
			case $_p in
			ticks:*) echo "$_l ${_p#ticks:}"; continue ;;
			esac
			_files=""
			for _t in $(bf_tree "$_p"); do _files="$_files /proc/$_t/stat"; done
			# shellcheck disable=SC2086
			echo "$_l $(cat $_files 2>/dev/null | awk '{ sub(/.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }')"
			if [ "$_l" = dialerd ]; then
				echo "dialerd.pid $_p"
				for _s in /proc/"$_p"/task/*/stat; do
					_tid=${_s%/stat}; _tid=${_tid##*/}
					echo "thread $_tid $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$_s" 2>/dev/null)"
				done
			fi
		done
	} >"$_f"
}

# --- Kamailio ---------------------------------------------------------------------------

# bf_kam_start CHILDREN: Kamailio on a free port towards UAS_PORT (KAM_PORT, KAM_PID)
bf_kam_start() {
	KAM_PORT=$(bf_free_port)
	mkdir -p "$WORK/kam-run"
	sed -e "s#@LISTEN@#udp:127.0.0.1:$KAM_PORT#" -e "s#@CHILDREN@#$1#" \
		-e "s#@UAS@#127.0.0.1:$UAS_PORT#" -e "s#@DB_URL@#$KAM_DB_URL#" \
		"$TOP/bench/full/kamailio.cfg" >"$WORK/kamailio.cfg"
	# -DD: stays in the foreground, its children die with it; -E: log to stderr
	"$KAMAILIO" -f "$WORK/kamailio.cfg" -DD -E -m "${BF_KAM_SHM:-256}" -M 16 \
		-Y "$WORK/kam-run" -w "$WORK/kam-run" >>"$WORK/kamailio.log" 2>&1 </dev/null &
	KAM_PID=$!
	dlr_track $KAM_PID
	bf_wait_udp "$KAM_PORT" || harness_error "Kamailio did not start (see kamailio.log)"
	# the workers connect to PostgreSQL as they start
	sleep 0.5
}

# --- dialerd and its webhook server -------------------------------------------------------

# bf_hooks_start [PORT]: the webhook server (HOOKS_PORT, HOOKS_PID); its log is $WORK/hooks.log
bf_hooks_start() {
	HOOKS_PORT=${1:-${HOOKS_PORT:-$(bf_free_port)}}
	"$HOOKS" --listen "127.0.0.1:$HOOKS_PORT" --uas "127.0.0.1:$UAS_PORT" \
		--log "$WORK/hooks.log" >>"$WORK/hooks.out" 2>&1 </dev/null &
	HOOKS_PID=$!
	dlr_track $HOOKS_PID
	_d=$(( $(date +%s) + 5 ))
	until ss -Hltn "sport = :$HOOKS_PORT" 2>/dev/null | grep -q .; do
		[ "$(date +%s)" -le $_d ] || harness_error "bench_hooks did not start"
		sleep 0.05
	done
}

# what bf_dialerd_env sets whatever the caller gave
BF_DIALERD_OWN="DIALERD_DATABASE_URL DIALERD_ACCOUNT_SID DIALERD_AUTH_TOKEN DIALERD_VOICE_URL
	DIALERD_STATUS_CALLBACK DIALERD_SIP_MAX_INBOUND DIALERD_SIP_MAX_LEGS DIALERD_SIP_RTP_PORTS"

# bf_dialerd_outside: the daemon's settings from the caller's environment (the DIALERD_<KEY>
# names `dialerd config` lists, less BF_DIALERD_OWN) as JSON strings "NAME=value", secrets
# masked: a run with any did not measure the shipped defaults, and its results say so
bf_dialerd_outside() {
	local v o val out=""
	for v in $("$DIALERD" config | sed -n 's/.*(\(DIALERD_[A-Z0-9_]*\))$/\1/p'); do
		[ -n "${!v+x}" ] || continue
		for o in $BF_DIALERD_OWN; do [ "$o" = "$v" ] && continue 2; done
		case $v in *TOKEN*|*PASSWORD*|*DATABASE_URL*) val='***';; *) val=${!v//[\"\\]/_};; esac
		out="$out${out:+, }\"$v=$val\""
	done
	printf '%s' "$out"
}

# bf_dialerd_env: the daemon's settings: the shipped defaults (log level, batch size, timers)
# except what a bench needs: addresses, the call log, the webhooks, and the limits on
# concurrent calls and media ports (BF_MAX_CALLS, BF_RTP_PORTS)
bf_dialerd_env() {
	export DIALERD_DATABASE_URL=$DATABASE_URL
	export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
	export DIALERD_AUTH_TOKEN=bench-token-0123456789
	export DIALERD_VOICE_URL="http://127.0.0.1:$HOOKS_PORT/voice"
	export DIALERD_STATUS_CALLBACK="http://127.0.0.1:$HOOKS_PORT/parent"
	export DIALERD_SIP_MAX_INBOUND=${BF_MAX_CALLS:-20000}
	export DIALERD_SIP_MAX_LEGS=${BF_MAX_CALLS:-20000}
	[ -n "${BF_RTP_PORTS:-}" ] && export DIALERD_SIP_RTP_PORTS=$BF_RTP_PORTS
	: "${DIALERD_SIP_LISTEN:=127.0.0.1:$(bf_free_port)}"
	: "${DIALERD_HTTP_LISTEN:=127.0.0.1:$(bf_free_port)}"
	: "${DIALERD_DATA_DIR:=$WORK/data}"
	export DIALERD_SIP_LISTEN DIALERD_HTTP_LISTEN DIALERD_DATA_DIR
	DIALERD_URL=http://$DIALERD_HTTP_LISTEN
	DLR_SIP_PORT=${DIALERD_SIP_LISTEN##*:}
}

# bf_dialerd_start: the daemon in the background (DIALERD_PID), ready when /health answers
bf_dialerd_start() {
	mkdir -p "$DIALERD_DATA_DIR"
	# DIALERD_WRAP (bench/run): a profiler or env in front of the daemon
	${DIALERD_WRAP:-} "$DIALERD" >>"$WORK/dialerd.log" 2>&1 </dev/null &
	DIALERD_PID=$!
	dlr_track $DIALERD_PID
	wait_http "$DIALERD_URL/health" 20 || harness_error "dialerd did not answer /health"
	bf_wait_udp "$DLR_SIP_PORT" || harness_error "dialerd did not bind SIP"
}

# bf_metric NAME: a series' value on /metrics (summed over labels), empty when unreachable
bf_metric() {
	curl -fsS --max-time 2 "$DIALERD_URL/metrics" 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2; f = 1 } END { if (f) printf "%.0f\n", s }'
}

# bf_alloc_per_call BASE_BYTES CALLS: KiB per call that the daemon's allocations grew by since
# BASE_BYTES (dialerd_memory_allocated_bytes), "null" when the allocator does not tell
bf_alloc_per_call() {
	_a=$(bf_metric dialerd_memory_allocated_bytes)
	if [ -n "$_a" ] && [ -n "$1" ]; then
		awk -v a="$_a" -v b="$1" -v l="$2" 'BEGIN { printf "%.2f", (a - b) / 1024 / l }'
	else
		echo null
	fi
}

# bf_dialerd_idle SECONDS: until no call is open and the call log queue, the journal and the
# outbox are empty; 1 past the deadline
bf_dialerd_idle() {
	_d=$(( $(date +%s) + $1 ))
	while [ "$(date +%s)" -le $_d ]; do
		m=$(curl -fsS --max-time 2 "$DIALERD_URL/metrics" 2>/dev/null)
		if [ -n "$m" ] && printf '%s\n' "$m" | awk '
			$1 == "dialerd_calls_open" || $1 == "dialerd_store_queue_rows" ||
			$1 == "dialerd_store_journal_bytes" || $1 == "dialerd_webhook_outbox_depth" { if ($2 + 0 != 0) bad = 1; n++ }
			END { exit (bad || n < 4) }'; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

bf_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# bf_truncate: empties the call log and the acc table between steps
bf_truncate() {
	q "truncate calls, call_events, sip_messages, sip_headers, webhook_requests, header_policy_events" >/dev/null
	kq "truncate acc" >/dev/null
}
