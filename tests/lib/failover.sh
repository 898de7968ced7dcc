# failover.sh: the store_failover* drills (source after common.sh, pg.sh, store.sh)

# failover_drill LAG: store_loadgen writes N calls (1,000 calls/s) through a
# multi-host conninfo (primary, then the standby) with
# target_session_attrs=read-write; the primary is killed with kill -9 mid-load
# and the standby promoted. LAG=1 cuts the standby's WAL stream 1.5 s before
# the kill, so the rows committed in that window exist only in the writer's
# re-send ring. Afterwards every row is in the promoted database exactly once.
failover_drill() {
	lag=$1
	pg_start
	DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
	pg_standby_start
	url="host=127.0.0.1,127.0.0.1 port=$PGPORT,$SBPORT user=postgres dbname=dialerd target_session_attrs=read-write connect_timeout=3"

	N=12000
	"$LOADGEN" -d "$url" -j "$WORK/data" -n $N -r 1000 -b 200 -f 50 --wait 90 \
		>"$WORK/loadgen.out" 2>"$WORK/loadgen.log" &
	lg=$!
	dlr_track $lg
	_d=$(( $(date +%s) + 15 ))
	until [ "$(qs "select count(*) from calls" 2>/dev/null || echo 0)" -gt 0 ]; do
		[ "$(date +%s)" -le $_d ] || fail "no row reached the standby"
		sleep 0.05
	done
	sleep 1
	if [ "$lag" = 1 ]; then
		pg_standby_cut || harness_error "cannot cut the standby's WAL stream"
		sleep 1.5
	fi
	before=$(q "select count(*) from calls")
	on_standby=$(qs "select count(*) from calls")
	pg_kill9
	dlr_log "# primary killed with $before calls committed; the standby had $on_standby"
	[ "$lag" = 1 ] && { [ "$on_standby" -lt "$before" ] || fail "the standby did not lag ($on_standby >= $before)"; }
	sleep 1	# the writer retries, finds no read-write server
	pg_standby_promote
	wait $lg
	rc=$?
	cat "$WORK/loadgen.out"
	assert_eq "$rc" 0 "the writer reports every row landed"
	PGPORT=$SBPORT
	assert_eq "$(store_counts)" "$(store_expect $N)" "calls, events, messages, headers, webhooks on the promoted standby: each exactly once"
	assert_eq "$(q "select count(*) from calls where status = 'completed'")" $N "every call's newest snapshot won"
	assert_eq "$(q "select count(*) from (select sid from calls group by sid having count(*) > 1) d")" 0 "no duplicate call rows"
	assert_eq "$(store_journal_size "$WORK/data")" 0 "journal empty afterwards"
	grep -q 'database: failover: now on server' "$WORK/loadgen.log" || fail "failover not logged"
	pass "failover to the promoted standby logged"
	assert_match "$(cat "$WORK/loadgen.out")" 'failovers=1 ' "one failover counted (dialerd_database_failovers_total)"
	assert_match "$(cat "$WORK/loadgen.out")" 'resent=[1-9]' "committed rows re-sent (dialerd_store_rows_resent_total)"
}
