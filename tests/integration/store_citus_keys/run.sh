#!/bin/sh
# store_citus_keys: what a call log distributed by root call SID needs (docs/call-log.md, "Past
# one database server: Citus"), on a plain PostgreSQL after a real call with a <Dial> child leg:
# every row of the six call-log tables carries its root call's SID; every primary key and unique
# index of the tables and their partitions (those made later too) holds root_sid and the partition
# column; snapshots written again land once; a journal written before migration 0007 (frames
# without root_sid) replays with the right roots, twice without a duplicate.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
# Via in the URI is refused by the header policy: a header_policy_events row on the parent; the
# child legs' status callbacks are webhook_requests rows of the children
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip statusCallback=\\"/status\\" statusCallbackEvent=\\"initiated answered completed\\">sip:bob@127.0.0.1:$UAS?X-Customer=42&amp;Via=evil</Sip></Dial></Response>"},
 "/status": {"status": 204}}
JSON
calls_start
sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 300
sipp_wait uac 30
assert_eq "$?" 0 "a call went through"
_d=$(( $(date +%s) + 20 ))
until [ "$(q "select count(*) from calls where status = 'completed'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "after 20 s, calls: $(q "select sid, parent_call_sid, status from calls" | tr '\n' ' ')"
	sleep 0.2
done
calls_wait_q 2 15 "select count(*) from call_events where event = 'media'"
calls_wait_q 3 15 "select count(*) from webhook_requests where kind = 'status-callback'"
stop_dialerd TERM

TABLES="calls call_events sip_messages sip_headers webhook_requests header_policy_events"
# root_of TABLE: rows of TABLE whose root_sid is not their root call's SID, then all its rows
root_check() {
	for t in $TABLES; do
		if [ $t = calls ]; then
			bad=$(q "select count(*) from calls where root_sid <> coalesce(parent_call_sid, sid)")
		else
			bad=$(q "select count(*) from $t x left join calls c on c.sid = x.call_sid
				 where x.root_sid <> coalesce(c.parent_call_sid, x.call_sid)")
		fi
		echo "$t $bad $(q "select count(*) from $t")"
	done
}
root_check >"$WORK/roots"
while read -r t bad all; do
	assert_eq "$bad" 0 "$t: every row's root_sid is its root call's SID ($all rows)"
	[ $t = header_policy_events ] || [ "$all" -gt 0 ] || fail "$t: no rows"
done <"$WORK/roots"
assert_eq "$(q "select count(*) from calls where parent_call_sid is not null")" 1 "one child leg"
assert_eq "$(q "select count(distinct x.call_sid) from sip_messages x join calls c on c.sid = x.call_sid
		where c.parent_call_sid is not null and x.root_sid = c.parent_call_sid")" 1 \
	"the child leg's SIP messages carry its parent's SID"
assert_eq "$(q "select count(*) from sip_headers x join calls c on c.sid = x.call_sid
		where c.parent_call_sid is not null and x.root_sid = c.parent_call_sid
		and x.name = 'X-Customer'")" 1 "and the X-Customer header row of its INVITE"
assert_eq "$(q "select count(*) from webhook_requests x join calls c on c.sid = x.call_sid
		where c.parent_call_sid is not null and x.root_sid = c.parent_call_sid
		and x.kind = 'status-callback'")" 3 "and its 3 status callbacks"
pol=$(q "select count(*) from header_policy_events")
[ "$pol" -gt 0 ] && pass "header_policy_events: $pol row (the refused Via)"
assert_eq "$(q "select count(*) from calls where root_sid is null")" 0 "root_sid NOT NULL"

# every key: root_sid and the partition column, on the tables and every partition, including
# partitions made after the migration (30 days ahead)
q "select count(*) from call_log_create_partitions(now() + interval '30 days', 1)" >/dev/null
keys_sql="
with t(name, col) as (select * from call_log_partitioned_tables()),
rel as (select c.oid, t.name, t.col from pg_class c join t on c.relname = t.name
		or (c.relname ~ ('^' || t.name || '_p[0-9]{8}$')))
select count(*),
       count(*) filter (where not exists (select 1 from pg_attribute a where a.attrelid = r.oid
			 and a.attname = 'root_sid' and a.attnum = any (i.indkey))),
       count(*) filter (where not exists (select 1 from pg_attribute a where a.attrelid = r.oid
			 and a.attname = r.col and a.attnum = any (i.indkey))),
       count(distinct r.oid)
from rel r join pg_index i on i.indrelid = r.oid and i.indisunique"
set -- $(q "$keys_sql" | tr '|' ' ')
[ "$1" -ge 60 ] || fail "only $1 unique indexes on $4 tables and partitions"
assert_eq "$2" 0 "all $1 unique indexes of $4 tables and partitions hold root_sid"
assert_eq "$3" 0 "and the partition column"
assert_eq "$(q "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid
		where c.relname ~ '_p[0-9]{8}$'
		and not exists (select 1 from pg_index x where x.indrelid = c.oid and x.indisunique)")" 0 \
	"every partition has its unique key (those made later too)"
set -- $(q "select count(*), count(*) filter (where not exists (select 1 from pg_attribute a
		where a.attrelid = c.conrelid and a.attname = 'root_sid' and a.attnum = any (c.conkey)))
	 from pg_constraint c join pg_class r on r.oid = c.conrelid
	 where c.contype in ('p', 'u') and r.relname in ('calls', 'call_events', 'sip_messages',
	 'sip_headers', 'webhook_requests', 'header_policy_events')" | tr '|' ' ')
assert_eq "$1 $2" "6 0" "the 6 tables' primary keys (pg_constraint) hold root_sid"
# 0007 drops the other indexes while it rewrites the rows and builds them again: all there, on
# every partition, valid
assert_eq "$(q "select string_agg(t.table_name || '=' || (select count(*) from pg_index x
		join pg_class i on i.oid = x.indexrelid where x.indrelid = t.table_name::regclass), ' '
		order by t.table_name) from call_log_partitioned_tables() t")" \
	"call_events=2 calls=12 header_policy_events=2 sip_headers=2 sip_messages=2 webhook_requests=3" \
	"the tables keep the indexes of 0006, with calls_root_idx"
assert_eq "$(q "select count(*) from pg_inherits h join pg_class c on c.oid = h.inhrelid
		where (select count(*) from pg_index x where x.indrelid = c.oid and x.indisvalid)
		<> (select count(*) from pg_index x where x.indrelid = h.inhparent)")" 0 \
	"every partition has each of its table's indexes, valid"
assert_match "$(q "select pg_get_constraintdef(oid) from pg_constraint where conname = 'calls_pkey'")" \
	'PRIMARY KEY \(sid, created_at, root_sid\)' "calls (sid, created_at, root_sid): lookups by sid keep their index"

# the writer's ON CONFLICT targets: the same calls written twice land once (times fixed: they
# are in the keys), the second time as conflicts
. "$TOP/tests/lib/store.sh"
at=$(q "select (extract(epoch from now()) * 1000000)::bigint")
before=$(store_counts)
for run in 1 2; do
	"$LOADGEN" -d "$DATABASE_URL" -n 300 -s 5000 -b 200 -A "$at" --wait 30 >/dev/null 2>"$WORK/loadgen$run.log" ||
		fail "loadgen run $run: $(tail -3 "$WORK/loadgen$run.log")"
done
set -- $before
assert_eq "$(store_counts)" "$(($1 + 300)) $(($2 + 600)) $(($3 + 300)) $(($4 + 600)) $(($5 + 300))" \
	"300 calls written twice: each row once"
assert_eq "$(q "select count(*) from calls where status = 'completed' and root_sid = sid
		and sid like 'CA0000%'")" 300 "their newest snapshots won, each call its own root"

# a journal of an older dialerd (frames without root_sid) replays with the right roots
parent=$(q "select parent_call_sid from calls where parent_call_sid is not null order by sid limit 1")
child=$(q "select sid from calls where parent_call_sid = '$parent'")
cat >"$WORK/oldjournal.py" <<'PY'
# pre-0007 frames: u32 length | u32 CRC32 | table, u16 column count, typed columns
import struct, sys, time, zlib
NULL, TEXT, INT, TIME, BYTEA, JSON, BOOL = range(7)
def col(k, v=None):
    if k == NULL: return bytes([k])
    if k in (INT, TIME, BOOL): return bytes([k]) + struct.pack("<q", v)
    b = v.encode() if isinstance(v, str) else v
    return bytes([k]) + struct.pack("<I", len(b)) + b
def frame(table, cols):
    p = bytes([table]) + struct.pack("<H", len(cols)) + b"".join(cols)
    return struct.pack("<II", len(p), zlib.crc32(p) & 0xffffffff) + p
now = int(time.time() * 1e6)
def call(sid, parent, status, upd):
    # 27 columns: 0001's 22 and 0003's 5
    c = [col(TEXT, sid), col(TEXT, "AC0123456789abcdef0123456789abcdef"),
         col(TEXT, parent) if parent else col(NULL), col(TEXT, "old"),
         col(TEXT, "outbound-dial" if parent else "inbound"), col(TEXT, "sip:a@127.0.0.1"),
         col(TEXT, "sip:b@127.0.0.1"), col(NULL), col(TEXT, status)] + [col(NULL)] * 6 + [
         col(TIME, now)] + [col(NULL)] * 5 + [col(TIME, upd)] + [col(NULL)] * 3 + [
         col(INT, 0) if parent else col(NULL), col(NULL)]
    assert len(c) == 27
    return frame(0, c)
def event(sid, seq):
    return frame(1, [col(TEXT, sid), col(INT, seq), col(TEXT, "old-journal"), col(NULL),
                     col(TIME, now), col(NULL)])
def msg(sid, seq):
    return frame(2, [col(TEXT, sid), col(INT, seq), col(TEXT, "in"), col(TIME, now),
                     col(TEXT, "BYE"), col(NULL), col(TEXT, "BYE sip:a@b SIP/2.0"), col(NULL),
                     col(NULL), col(INT, 1), col(BYTEA, b"X-Old: 1\r\n")])
def hdr(sid, seq):
    return frame(3, [col(TEXT, sid), col(INT, seq), col(INT, 1), col(TIME, now),
                     col(TEXT, "X-Old"), col(TEXT, "1"), col(NULL)])
def hook(sid):
    return frame(4, [col(TEXT, sid), col(TEXT, "status-callback"), col(INT, 77), col(INT, 1),
                     col(TEXT, "POST"), col(TEXT, "http://127.0.0.1/cb"), col(JSON, "{}"),
                     col(NULL), col(INT, 200), col(INT, 1), col(NULL), col(TIME, now)] +
                 [col(NULL), col(NULL), col(INT, 0)] + [col(NULL)] * 5)
def policy(sid):
    return frame(5, [col(TEXT, sid), col(TIME, now), col(TEXT, "Via"), col(TEXT, "x"),
                     col(TEXT, "dropped"), col(TEXT, "structural"), col(NULL), col(NULL),
                     col(BOOL, 0), col(INT, 1)])
parent, child, out = sys.argv[1], sys.argv[2], sys.argv[3]
P, C = "CA" + "0" * 28 + "0d01", "CA" + "0" * 28 + "0d02"    # a new root call and its leg
U = "CA" + "0" * 28 + "0d09"                                 # a call with no calls row
rows = [call(P, None, "in-progress", now), call(C, P, "ringing", now),
        call(C, P, "completed", now + 5), call(P, None, "completed", now + 6)]
for sid in (P, C, U, child):             # child: a leg the daemon wrote, its row stored
    rows += [event(sid, 900), msg(sid, 900), hdr(sid, 900), hook(sid), policy(sid)]
open(out, "wb").write(b"".join(rows))
PY
python3 "$WORK/oldjournal.py" "$parent" "$child" "$WORK/old.journal" || harness_error "cannot write the old journal"
P=CA00000000000000000000000000000d01
C=CA00000000000000000000000000000d02
U=CA00000000000000000000000000000d09
old_rows() {
	# the journal's rows: their numbers (or the policy value) are not the daemon's
	for tw in "call_events sequence_number = 900" "sip_messages seq = 900" \
		  "sip_headers msg_seq = 900" "webhook_requests sequence_number = 77" \
		  "header_policy_events value = 'x'"; do
		t=${tw%% *}
		q "select '$t', call_sid, root_sid from $t where call_sid in ('$P', '$C', '$U', '$child')
		   and ${tw#* } order by call_sid" | tr '|' ' '
	done
	q "select 'calls', sid, root_sid, status from calls where sid in ('$P', '$C') order by sid" | tr '|' ' '
}
want_rows() {
	for t in call_events sip_messages sip_headers webhook_requests header_policy_events; do
		for s in $P $C $U $child; do
			case $s in $P|$C) r=$P ;; $U) r=$U ;; *) r=$parent ;; esac
			echo "$t $s $r"
		done | sort -k2
	done
	echo "calls $P $P completed"
	echo "calls $C $P completed"
}
for run in 1 2; do
	n0=$(grep -c 'journal: replayed; emptied' "$WORK/dialerd.log")
	cp "$WORK/old.journal" "$WORK/data/store.journal"
	start_dialerd
	_d=$(( $(date +%s) + 20 ))
	until [ "$(grep -c 'journal: replayed; emptied' "$WORK/dialerd.log")" -gt "$n0" ]; do
		[ "$(date +%s)" -le $_d ] || fail "replay $run: the old journal was not replayed"
		sleep 0.1
	done
	stop_dialerd TERM
	old_rows >"$WORK/got$run"
	want_rows >"$WORK/want"
	diff "$WORK/want" "$WORK/got$run" >"$WORK/diff$run" ||
		fail "replay $run: rows and roots differ: $(cat "$WORK/diff$run")"
	pass "old journal, replay $run: 22 rows, each once, root_sid from the journal's parent, the stored call or the row's own call"
done
grep -q 'row rejected' "$WORK/dialerd.log" && fail "a row was rejected: $(grep 'row rejected' "$WORK/dialerd.log" | head -3)"
exit 0
