# dial.sh: helpers of the dial_* integration cases: run tests/dial/dialtool, query its JSON events
# Source after common.sh and sipp.sh, then call dial_init.

dial_init() {
	DIALTOOL=$BUILD/tests/dial/dialtool
	[ -x "$DIALTOOL" ] || harness_error "no dialtool at $DIALTOOL (run make first)"
	DIALEV="python3 $TOP/tests/lib/dialev.py"
	export DIALTOOL
}

# dial_wait_port PROTO PORT [SECONDS]: until something listens there (udp|tcp)
dial_wait_port() {
	_deadline=$(( $(date +%s) + ${3:-5} ))
	while [ "$(date +%s)" -le $_deadline ]; do
		if [ "$1" = udp ]; then
			ss -Hlun "sport = :$2" 2>/dev/null | grep -q . && return 0
		else
			ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		fi
		sleep 0.05
	done
	harness_error "nothing listens on $1 port $2"
}

# dial_run NAME [dialtool args and actions...]: runs dialtool in the
# foreground (bounded by timeout 60); events in $WORK/NAME.json, stderr in
# $WORK/NAME.log; sets DIAL_RC.
dial_run() {
	_n=$1
	shift
	timeout 60 "$DIALTOOL" "$@" >"$WORK/$_n.json" 2>"$WORK/$_n.log"
	DIAL_RC=$?
}

# dial_start NAME [args...]: the same in the background (PID tracked), for
# a dialtool that must be up before SIPp starts; wait with dial_wait NAME.
dial_start() {
	_n=$1
	shift
	timeout 60 "$DIALTOOL" "$@" >"$WORK/$_n.json" 2>"$WORK/$_n.log" &
	eval "DIAL_PID_$_n=\$!"
	dlr_track $!
}

dial_wait() {
	eval "_pid=\$DIAL_PID_$1"
	wait "$_pid"
	DIAL_RC=$?
}

# ev NAME count|first|all 'PYTHON CONDITION' ['PYTHON EXPRESSION']
# over the events e of $WORK/NAME.json; hdr(e, "Name") reads a header.
ev() {
	_f=$WORK/$1.json
	shift
	$DIALEV "$_f" "$@"
}

# sipp_msg NAME: SIPp's message trace of that scenario
sipp_msg() { cat "$WORK/$1.msg" 2>/dev/null; }
