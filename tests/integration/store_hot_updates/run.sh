#!/bin/sh
# store_hot_updates: the updates of a calls row before its final one are HOT (migrations/0009).
# The calls partitions have fillfactor 70 (the existing ones and those call_log_create_partition
# makes; the other tables' partitions keep the default); calls_account_live_idx is (account_sid,
# created_at) where ended_at is null. Five calls through the daemon (inbound, <Dial><Sip> to a
# SIPp UAS that rings 200 ms then answers, the caller hangs up after 1 s): 10 rows inserted into
# today's partition, HOT updates, and no update other than a row's final
# one (which sets ended_at) that is not HOT. Then a REST list with a live Status, over 20,000
# finished calls and 2,000 live ones of the account, returns a page of live ones and is planned
# (its plan logged by auto_explain on the reader's connection) on calls_account_live_idx, whose
# created_at order ends the scan at the page's last row. (calls_account_ended_idx serves "ended_at
# is null" too, unordered: the planner takes it when an account has few live calls.)
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init

today=$(date -u +%Y%m%d)
N=5

# ---- the schema ----
assert_eq "$(q "select count(*) || ' ' || count(*) filter (where c.reloptions @> array['fillfactor=70'])
	from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
	where p.relname = 'calls'")" "8 8" "every calls partition (today and 7 days ahead) has fillfactor 70"
assert_eq "$(q "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid
	join pg_class p on p.oid = i.inhparent
	where p.relname in ('call_events', 'sip_messages', 'sip_headers', 'webhook_requests',
			    'header_policy_events') and c.reloptions is not null")" 0 \
	"the other tables' partitions keep the default fillfactor"
later=$(date -u -d '+30 days' +%Y%m%d)
assert_eq "$(q "select call_log_create_partition('calls', (now() at time zone 'UTC')::date + 30) || ' ' ||
	call_log_create_partition('call_events', (now() at time zone 'UTC')::date + 30)")" \
	"calls_p$later call_events_p$later" "call_log_create_partition still names what it made"
assert_eq "$(q "select coalesce(array_to_string(reloptions, ','), '-') from pg_class
	where relname in ('calls_p$later', 'call_events_p$later') order by relname")" \
	"$(printf -- '-\nfillfactor=70')" "a calls partition made later has fillfactor 70, call_events' none"
q "drop table calls_p$later, call_events_p$later" >/dev/null
assert_eq "$(q "select pg_get_indexdef('calls_account_live_idx'::regclass)")" \
	"CREATE INDEX calls_account_live_idx ON ONLY public.calls USING btree (account_sid, created_at) WHERE (ended_at IS NULL)" \
	"calls_account_live_idx: (account_sid, created_at) where ended_at is null"

# ---- calls through the daemon ----
UAS=$(free_port)
calls_voice "<Response><Dial><Sip>sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"
calls_start
sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m $N
dial_wait_port udp "$UAS"
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m $N -r 2 -d 1000
sipp_wait uac 40
assert_eq "$?" 0 "caller: $N calls answered, talked, hung up"
sipp_wait uas 15
assert_eq "$?" 0 "target: $N calls rang, answered, got the BYE"
calls_wait_q "$((2 * N))" 20 "select count(*) from calls_p$today where status = 'completed' and ended_at is not null"
pass "$N calls and their $N legs completed in calls_p$today"
# backends send their table counters at most once a second, and when idle soon after
sleep 2
set -- $(q "select n_tup_ins, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables
	where relname = 'calls_p$today'" | tr '|' ' ')
ins=$1 upd=$2 hot=$3
dlr_log "calls_p$today: $ins inserts, $upd updates, $hot HOT"
assert_eq "$ins" "$((2 * N))" "one insert per row"
# at least one: a busy writer may merge a call's snapshots into fewer updates
[ "$hot" -ge 1 ] || fail "HOT updates: $hot of $upd, want some"
pass "HOT updates: $hot of $upd"
[ "$((upd - hot))" -le "$((2 * N))" ] ||
	fail "updates that were not HOT: $((upd - hot)) of $upd, want at most $((2 * N)) (each row's final one)"
pass "only the final updates (ended_at set) were not HOT: $((upd - hot))"

# ---- the REST list by live status, planned on calls_account_live_idx ----
q "insert into calls (sid, account_sid, instance, direction, from_addr, to_addr, status,
	created_at, started_at, ended_at, updated_at, root_sid)
    select 'CA' || lpad(to_hex(1000000 + i), 32, '0'), '$DIALERD_ACCOUNT_SID', 'other', 'outbound-api',
	'+15550100', 'sip:bob@10.0.0.9', case when i <= 2000 then 'ringing' else 'completed' end, t, t,
	case when i <= 2000 then null else t end, t, 'CA' || lpad(to_hex(1000000 + i), 32, '0')
    from generate_series(1, 20000) i,
	lateral (select greatest(date_trunc('day', now(), 'UTC'), now() - i * interval '10 ms') t) x;
    analyze calls" >/dev/null || harness_error "synthetic calls"
live_idx=$(q "select x.indexrelid::regclass from pg_index x join pg_inherits i on i.inhrelid = x.indexrelid
	where i.inhparent = 'calls_account_live_idx'::regclass and x.indrelid = 'calls_p$today'::regclass")
[ -n "$live_idx" ] || harness_error "no partition index of calls_account_live_idx on calls_p$today"
# the reader's connection opens on the first read: it loads auto_explain, which logs its plans
q "alter database dialerd set session_preload_libraries = 'auto_explain';
   alter database dialerd set auto_explain.log_min_duration = 0" >/dev/null
out=$(curl -sS -m 10 -u "$DIALERD_ACCOUNT_SID:$DIALERD_AUTH_TOKEN" -w ' %{http_code}' \
	"$DIALERD_URL/2010-04-01/Accounts/$DIALERD_ACCOUNT_SID/Calls.json?Status=ringing&PageSize=100")
assert_match "$out" ' 200$' "Calls.json?Status=ringing answers 200"
assert_eq "$(printf '%s' "${out% *}" | python3 -c 'import json, sys
calls = json.load(sys.stdin)["calls"]
print(len(calls), len({c["status"] for c in calls}), calls[0]["status"])')" "100 1 ringing" \
	"it lists a page of 100 ringing calls, nothing else"
_d=$(( $(date +%s) + 10 ))
until grep -q "status = \$[0-9]* and ended_at is null" "$WORK/postgres.log"; do
	[ "$(date +%s)" -le $_d ] || fail "auto_explain logged no plan of the list query"
	sleep 0.2
done
plan=$(sed -n "/status = \$[0-9]* and ended_at is null/,/^[0-9-]* [0-9:.]* UTC/p" "$WORK/postgres.log")
dlr_log "$plan"
assert_match "$plan" "Index Scan[ A-Za-z]* using $live_idx on calls_p$today" \
	"the list by live status is planned on calls_account_live_idx ($live_idx)"
printf '%s' "$plan" | grep -q "Seq Scan on calls_p$today" && fail "a plan of the list scans calls_p$today"
pass "no plan of the list scans calls_p$today"
