#!/bin/sh
# cluster_db_failover: the database primary killed with kill -9 under load, its streaming standby
# promoted. Two instances behind Kamailio (20 calls/s, each bridged to a SIPp target and held 1 s)
# reach PostgreSQL through one multi-host database_url (primary, then standby;
# target_session_attrs=read-write). The callers see no failure (calls never wait on the
# database); both instances find the promoted standby on their own (writers, REST reader and
# control connection), re-send what they committed in the last 30 s, and heartbeat again. On the
# promoted database afterwards: every call SIPp made has its row, once, ended, with exactly one
# final call_events row; every call has exactly one final status callback with SequenceNumber
# without gaps or duplicates; the journals are empty.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/cluster.sh"
cluster_init
pg_standby_start
export DIALERD_DATABASE_URL="host=127.0.0.1,127.0.0.1 port=$PGPORT,$SBPORT user=postgres dbname=dialerd target_session_attrs=read-write connect_timeout=3"
cluster_uas_start
cluster_dial_doc
cluster_instance_start a 127.0.0.2
cluster_instance_start b 127.0.0.3
cluster_kam_start

N=400
cluster_uac uac 20 $N 1000 -trace_msg -message_file "$WORK/uac.msg"
sleep 6
[ "$(qs "select count(*) from calls")" -gt 0 ] || fail "no call reached the standby before the kill"
before=$(q "select count(*) from calls")
pg_kill9
dlr_log "# primary killed with $before calls rows committed; the standby had $(qs "select count(*) from calls")"
sleep 2
pg_standby_promote
PGPORT=$SBPORT
dlr_log "# standby promoted"
sipp_wait uac 120
assert_eq "$?" 0 "SIPp: every call answered and hung up normally"
assert_eq "$(cluster_uac_counts uac)" "$N 0" "$N successful calls, 0 failed"

ended() { q "select count(*) from calls where direction = 'inbound' and status = 'completed'"; }
_d=$(( $(date +%s) + 60 ))
until [ "$(ended)" = "$N" ]; do
	[ "$(date +%s)" -le $_d ] || fail "after 60 s, $(ended) of $N inbound calls completed on the promoted standby"
	sleep 0.5
done
pass "all $N inbound calls completed in the promoted database"
assert_eq "$(q "select count(*) from calls where status not in ('completed','failed','busy','no-answer','canceled')")" 0 \
	"no call left open (inbound or dialled)"
assert_eq "$(q "select count(*) - count(distinct sid) from calls")" 0 "no duplicate call rows"
assert_eq "$(q "select count(*) from (select c.sid from calls c left join call_events e on e.call_sid = c.sid
	and e.event in ('completed','failed','busy','no-answer','canceled')
	group by c.sid having count(e.call_sid) <> 1) x")" 0 "every call has exactly one final call_events row"
for n in a b; do
	_d=$(( $(date +%s) + 30 ))
	until [ "$(q "select state = 'active' and heartbeat_at > now() - interval '10 s' from instances where name = '$n'")" = t ]; do
		[ "$(date +%s)" -le $_d ] || fail "$n does not heartbeat on the promoted database"
		sleep 0.5
	done
	pass "$n: active, heartbeating on the promoted database"
	m=$(curl -sS -m 5 "http://$(cluster_http $n)/metrics")
	assert_match "$m" 'dialerd_database_failovers_total [1-9]' "$n counted the failover"
	dlr_log "# $n: $(printf '%s\n' "$m" | grep -E '^dialerd_store_rows_(resent|journaled)_total' | tr '\n' ' ')"
done

final_callbacks_ok "$(q "select count(*) from calls")" 30
for n in a b; do
	cluster_kill $n TERM
	cluster_wait_exit $n 30 || fail "$n did not exit after SIGTERM"
	assert_eq "$CL_RC" 0 "$n exited 0"
	assert_eq "$(stat -c %s "$WORK/var/$n/store.journal" 2>/dev/null || echo 0)" 0 "$n's journal is empty"
done
