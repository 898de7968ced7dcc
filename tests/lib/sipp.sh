# sipp.sh: run SIPp scenarios in the background and keep their message traces

SIPP=${SIPP:-$(command -v sipp || true)}

# sipp_media_port: a port for SIPp's -mp: SIPp binds it (audio) and the port 2 above it
# (video), and exits when either is taken, so 4 ports from an even one are claimed (free_port)
sipp_media_port() { free_port --block 4; }

# sipp_start NAME SCENARIO [SIPP ARGS...]: scenario path relative to tests/sipp/
# or absolute. Trace in $WORK/NAME.msg, errors in $WORK/NAME.err, screen in NAME.log.
sipp_start() {
	[ -n "$SIPP" ] || skip "sipp not installed (apt-get install sip-tester)"
	_name=$1
	_scn=$2
	shift 2
	case $_scn in
	/*) ;;
	*) _scn=$TOP/tests/sipp/$_scn ;;
	esac
	"$SIPP" -sf "$_scn" -nostdin -trace_msg -message_file "$WORK/$_name.msg" \
		-trace_err -error_file "$WORK/$_name.err" "$@" \
		>"$WORK/$_name.log" 2>&1 </dev/null &
	eval "SIPP_PID_$_name=\$!"
	dlr_track $!
}

# sipp_wait NAME [SECONDS]: waits for the scenario; returns sipp's exit status
# (0 all calls succeeded, 1 some failed, 97/99 aborted); 124 on timeout.
sipp_wait() {
	eval "_pid=\$SIPP_PID_$1"
	_deadline=$(( $(date +%s) + ${2:-30} ))
	while kill -0 "$_pid" 2>/dev/null; do
		if [ "$(date +%s)" -gt $_deadline ]; then
			kill -TERM "$_pid" 2>/dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$_pid"
}
