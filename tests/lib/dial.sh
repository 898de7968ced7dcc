# dial.sh: helpers of the dial_* integration cases: run tests/dial/dialtool, query its JSON events
# Source after common.sh and sipp.sh, then call dial_init.

dial_init() {
	DIALTOOL=$BUILD/tests/dial/dialtool
	[ -x "$DIALTOOL" ] || harness_error "no dialtool at $DIALTOOL (run make first)"
	DIALEV="python3 $TOP/tests/lib/dialev.py"
	export DIALTOOL
}

# pair_port: an even port whose neighbour is free too (RTP + RTCP of a media peer), both
# claimed for the case (free_port)
pair_port() { free_port --pair; }

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

# dial_reject_case CODE PHRASE END: an outgoing leg to a SIPp UAS that rings,
# then answers CODE PHRASE with an X-Reject-Cause header
# (tests/sipp/uas_reject.xml, a template); asserts the ACK on the wire, the ringing, the
# end (END/CODE, not local), the response reported with its X- header.
dial_reject_case() {
	_code=$1
	_end=$3
	_uas=$(free_port)
	_me=$(free_port)
	# SIPp checks a response's status code when it loads the scenario: the
	# template's [code] is filled in here, not with -key
	sed -e "s/\[code\]/$_code/" -e "s/\[phrase\]/$2/" -e "s/\[cause\]/cause-$_code/" \
		"$TOP/tests/sipp/uas_reject.xml" >"$WORK/uas_$_code.xml"
	sipp_start uas "$WORK/uas_$_code.xml" -i 127.0.0.1 -p "$_uas" -m 1
	dial_wait_port udp "$_uas"
	dial_run out -l "127.0.0.1:$_me" "start id=CA$_code uri=sip:test@127.0.0.1:$_uas" \
		"expect ended:CA$_code 5000" 'wait 200'
	assert_eq "$DIAL_RC" 0 "dialtool saw the leg end"
	sipp_wait uas 10
	assert_eq "$?" 0 "SIPp: the $_code was ACKed"
	assert_match "$(sipp_msg uas)" "SIP/2.0 $_code $2" "$_code $2 on the wire"
	assert_match "$(sipp_msg uas)" 'ACK sip:' "ACK on the wire"
	assert_eq "$(ev out count 'e["event"]=="progress" and e["code"]==180')" 1 "ringing reported"
	assert_eq "$(ev out first 'e["event"]=="ended"' 'e["end"]+"/"+str(e["code"])+"/"+str(e["local"])')" \
		"$_end/$_code/False" "ended $_end with $_code"
	assert_eq "$(ev out count "e[\"event\"]==\"sip\" and e[\"dir\"]==\"rx\" and e[\"code\"]==$_code")" 1 \
		"the $_code reported as a received message"
	assert_eq "$(ev out count 'e["event"]=="sip" and e["dir"]=="tx" and e["method"]=="ACK"')" 1 "our ACK reported"
	assert_eq "$(ev out first 'e["event"]=="ended"' 'hdr(e,"X-Reject-Cause")')" "cause-$_code" \
		"X- header of the $_code in the ended event"
}

# dial_burst N [dialtool options...]: dialtool (events of leg "in" in
# $WORK/in.json; -q 20 -m 100000 before the options) takes a burst of N
# INVITEs from tests/lib/burst.py, then one more after it; the responses
# per Call-ID land in $WORK/burst.json, and what became of the INVITEs in
# burst_val. (Its variables are _b*: dial_start sets _n.)
dial_burst() {
	_bn=$1
	shift
	_bme=$(free_port)
	dial_start in -l "127.0.0.1:$_bme" -q 20 -m 100000 "$@" 'wait 4500'
	dial_wait_port udp "$_bme"
	python3 "$TOP/tests/lib/burst.py" "$_bme" "$_bn" "$WORK/burst.json" ||
		harness_error "burst.py failed"
	dial_wait in
	assert_eq "$DIAL_RC" 0 "dialtool ran its script"
	_bv=$(python3 "$TOP/tests/lib/overload_verdict.py" "$WORK/burst.json" \
		"$WORK/in.json") || harness_error "overload_verdict.py failed"
	printf '# %s\n' "$_bv"
}

# burst_val NAME: a value of the last dial_burst's verdict (names: top of
# tests/lib/overload_verdict.py)
burst_val() {
	printf '%s\n' "$_bv" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
