# store.sh: helpers of the store_* integration cases (source after common.sh and pg.sh)
LOADGEN=$BUILD/tests/store/store_loadgen
[ -x "$LOADGEN" ] || harness_error "no $LOADGEN (run make in $BUILD)"

# store_counts: "calls events messages headers webhooks" as one line
store_counts() {
	q "select (select count(*) from calls) || ' ' || (select count(*) from call_events)
	   || ' ' || (select count(*) from sip_messages) || ' ' || (select count(*) from sip_headers)
	   || ' ' || (select count(*) from webhook_requests)"
}

# store_expect N: the counts store_loadgen writes for N calls
store_expect() {
	echo "$1 $(($1 * 2)) $1 $(($1 * 2)) $1"
}

# store_wait_counts WANT SECONDS: until store_counts prints WANT
store_wait_counts() {
	_d=$(( $(date +%s) + $2 ))
	while [ "$(store_counts 2>/dev/null)" != "$1" ]; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.2
	done
}

# store_journal_size DIR: bytes in DIR/store.journal (0 when absent)
store_journal_size() {
	if [ -f "$1/store.journal" ]; then stat -c %s "$1/store.journal"; else echo 0; fi
}
