#!/bin/sh
# instance_takeover: `dialerd takeover --data-dir DIR` after kill -9 of instance alpha, with
# instance beta running beside it. alpha holds REST-created calls in progress: answered ones
# and ringing ones, half subscribed to every status callback event, half to the default
# (completed only: nothing in the outbox or webhook_requests before the end). The takeover is
# refused while alpha runs (its folder is locked) and while its heartbeat is fresh after the
# kill. Before the kill PostgreSQL is stopped and two more calls are created: their rows are
# only in alpha's journal. Past 15 s the takeover replays alpha's journal, ends every open call (completed if answered, else
# failed, reason instance-lost, with an event) and appends one terminal callback per call
# with the next SequenceNumber; the callback server answers 500 until its 3 s deadline, so
# alpha stays lost; run again, it delivers them (valid signatures) and retires alpha. One more
# run changes nothing. beta's row and calls are untouched.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
export DIALERD_INSTANCE=alpha
NANS=${TAKEOVER_ANSWERED:-6}
NRING=${TAKEOVER_RINGING:-4}
NJ=2
UAS=$(free_port)
RING=$(free_port)
calls_hold_routes
calls_start
ALPHA_PID=$DIALERD_PID
ALPHA_DIR=$WORK/data

# beta: a second instance on its own folder and ports
mkdir -p "$WORK/beta"
BETA_URL=http://127.0.0.1:$(free_port)
env DIALERD_INSTANCE=beta DIALERD_DATA_DIR="$WORK/beta" DIALERD_HTTP_LISTEN="${BETA_URL#http://}" \
	DIALERD_SIP_LISTEN="127.0.0.1:$(free_port)" "$DIALERD" >>"$WORK/beta.log" 2>&1 &
BETA_PID=$!
dlr_track $BETA_PID
wait_http "$BETA_URL/health" 15 || fail "beta did not start: $(cat "$WORK/beta.log")"

# takeover [ARGS]: runs the command on alpha's folder; output in $WORK/takeover.out, status in TK
takeover() {
	"$DIALERD" takeover --data-dir "$ALPHA_DIR" "$@" >"$WORK/takeover.out" 2>&1
	TK=$?
	cat "$WORK/takeover.out" >>"$WORK/takeover.log"
}

sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m "$NANS"
sipp_start ring uas_ring_cancel.xml -i 127.0.0.1 -p "$RING" -m $((NRING + NJ))
dial_wait_port udp "$UAS"
dial_wait_port udp "$RING"
i=0
while [ $i -lt "$NANS" ]; do
	ev=""; [ $((i % 2)) = 0 ] && ev="initiated ringing answered completed"
	calls_create "$UAS" "$ev" >>"$WORK/sids" || fail "create $i"
	i=$((i + 1))
done
i=0
while [ $i -lt "$NRING" ]; do
	ev=""; [ $((i % 2)) = 0 ] && ev="initiated ringing answered completed"
	calls_create "$RING" "$ev" >>"$WORK/sids" || fail "create ringing $i"
	i=$((i + 1))
done
N=$((NANS + NRING))
assert_eq "$(wc -l <"$WORK/sids" | tr -d ' ')" "$N" "$N calls created on alpha"
calls_wait_q "$NANS $NRING" 20 "select count(*) filter (where status = 'in-progress') || ' ' ||
	count(*) filter (where status = 'ringing') from calls where instance = 'alpha'"
pass "$NANS answered and $NRING ringing calls in progress on alpha"
# the full subscriptions' progress callbacks are delivered before the kill
calls_wait_requests /status $((NANS / 2 * 3 + NRING / 2 * 2)) 15 ||
	fail "progress callbacks: $(grep -c '"path": "/status"' "$WORK/requests.log")"

takeover
assert_eq "$TK" 1 "takeover while alpha runs: refused (exit 1)"
assert_match "$(cat "$WORK/takeover.out")" "a live dialerd uses" "with the folder lock named"
assert_eq "$(q "select state from instances where name = 'alpha'")" active "alpha's row untouched"

# PostgreSQL goes away: NJ more calls exist only in alpha's journal when it dies
pg_stop_immediate >/dev/null 2>&1
i=0
while [ $i -lt "$NJ" ]; do
	ev=""; [ $((i % 2)) = 0 ] && ev="initiated ringing answered completed"
	calls_create "$RING" "$ev" >>"$WORK/sids" || fail "create while the database is down $i"
	i=$((i + 1))
done
# each of them in the journal (a SID is plain text in its frames): the file growing at all is not
# enough, the second call's rows may still wait in memory (a loaded run lost it with the kill)
_d=$(( $(date +%s) + 10 ))
for sid in $(tail -n "$NJ" "$WORK/sids"); do
	until grep -aqF "$sid" "$ALPHA_DIR/store.journal" 2>/dev/null; do
		[ "$(date +%s)" -le $_d ] || fail "alpha did not journal $sid"
		sleep 0.1
	done
done
pass "$NJ calls created while PostgreSQL is down: their rows are in alpha's journal"
KILLED=$(date -u '+%Y-%m-%d %H:%M:%S.%6N+00')
kill -KILL "$ALPHA_PID"
wait "$ALPHA_PID" 2>/dev/null
pass "alpha killed with SIGKILL"
pg_start_again
N=$((N + NJ))
NRING=$((NRING + NJ))
takeover
assert_eq "$TK" 1 "takeover with a fresh heartbeat: refused (exit 1)"
assert_match "$(cat "$WORK/takeover.out")" "instance alpha is alive \(heartbeat [0-9]+ s ago" \
	"it says: instance alpha is alive (heartbeat N s ago)"
assert_eq "$(q "select state from instances where name = 'alpha'")" active "alpha's row still active"

# past 15 s (a loaded machine: poll the database's clock, not ours)
calls_wait_q t 30 "select heartbeat_at < now() - interval '16 s' from instances where name = 'alpha'"
before=$(grep -c '"path": "/status"' "$WORK/requests.log")
# cut short: the callback server answers 500 until the 3 s deadline; the calls are ended, the
# terminal callbacks stay in the outbox, alpha stays lost and its lease is given back
sed 's/"status": 204/"status": 500/' "$WORK/routes.json" >"$WORK/routes.500" && mv "$WORK/routes.500" "$WORK/routes.json"
takeover --deadline 3
assert_eq "$TK" 1 "takeover cut short by its deadline: exit 1"
assert_match "$(cat "$WORK/takeover.out")" "$N calls ended, $N terminal callbacks added.* $N undelivered" \
	"it ended $N calls and reports $N callbacks undelivered"
assert_eq "$(q "select state || ' ' || (heartbeat_at < now() - interval '15 s') from instances
	where name = 'alpha'")" "lost true" "alpha lost, the lease given back"
# the answered calls' dialogs got their BYEs from that run all the same (sent once the open
# calls were known), each with the Reason of a lost process; the SIPp target answers them at
# the address the call came from, alpha's, so the takeover hears no answer and retransmits
# (the BYEs are counted by Call-ID)
assert_eq "$(grep -A 12 '^BYE ' "$WORK/uas.msg" | grep '^Call-ID:' | sort -u | wc -l | tr -d ' ') $(
	grep -A 12 '^BYE ' "$WORK/uas.msg" | grep -c '^Reason: Q.850;cause=41')" "$NANS $(
	grep -c '^BYE ' "$WORK/uas.msg")" "the target got a BYE for each of the $NANS answered calls, each with the Reason"
sed 's/"status": 500/"status": 204/' "$WORK/routes.json" >"$WORK/routes.204" && mv "$WORK/routes.204" "$WORK/routes.json"
t0=$(date +%s%N)
takeover --deadline 60
t1=$(date +%s%N)
assert_eq "$TK" 0 "run again: exit 0 ($(tail -n 2 "$WORK/takeover.out" | tr '\n' ' '))"
echo "# takeover of $N calls: $(( (t1 - t0) / 1000000 )) ms" >&2
assert_eq "$(q "select state from instances where name = 'alpha'")" retired "alpha retired"
assert_eq "$(q "select state from instances where name = 'beta'")" active "beta still active"

assert_match "$(cat "$WORK/takeover.log")" "journal: [0-9]+ rows .*store.journal" "alpha's journal was replayed"
assert_match "$(cat "$WORK/takeover.out")" " 0 calls ended, 0 terminal callbacks added" \
	"the second run found no open call: it delivered what the first one left"
# the call log: every call of alpha has exactly one final status, its event, the reason
assert_eq "$(q "select count(*) from calls where instance = 'alpha' and status in
	('completed', 'failed') and reason_text = 'instance-lost' and ended_at is not null")" "$N" \
	"every call of alpha ended with reason instance-lost"
# the end is alpha's last heartbeat (its last moment known alive), not the takeover's time
assert_eq "$(q "select count(*) from calls where instance = 'alpha' and status = 'completed'
	and answered_at is not null and ended_at >= answered_at and ended_at <= '$KILLED'
	and duration = ceil(extract(epoch from ended_at - answered_at))")" "$NANS" \
	"the answered ones: completed, ended at alpha's last heartbeat (before the kill), duration to it"
assert_eq "$(q "select count(*) from calls where instance = 'alpha' and status = 'failed'
	and answered_at is null and duration = 0")" "$NRING" "the ringing ones: failed"
assert_eq "$(q "select count(*) from (select c.sid from calls c join call_events e on e.call_sid = c.sid
	and e.event in ('completed', 'busy', 'failed', 'no-answer', 'canceled')
	where c.instance = 'alpha' group by c.sid
	having count(*) = 1 and bool_and(e.detail->>'reason' = 'instance-lost')) x")" "$N" \
	"every call: exactly one final call_events row, reason instance-lost"
assert_eq "$(q "select count(*) from (select call_sid from call_events group by call_sid
	having count(*) <> max(sequence_number) + 1) x")" 0 "call_events numbered without gaps"

# the callbacks: one terminal per SID, SequenceNumber 0..n-1 per call, signatures valid
python3 - "$WORK/requests.log" "$WORK/sids" "$NANS" <<'PY' || fail "callbacks do not hold"
import json, sys
sids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
nans = int(sys.argv[3])
final = ("completed", "busy", "failed", "no-answer", "canceled")
per = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] != "/status" or r["status"] != 204:
        continue
    f = dict(r["form"] or [])
    per.setdefault(f["CallSid"], []).append(f)
bad = []
for i, sid in enumerate(sids):
    cbs = per.get(sid, [])
    seqs = sorted(int(f["SequenceNumber"]) for f in cbs)
    fin = [f for f in cbs if f["CallStatus"] in final]
    want = "completed" if i < nans else "failed"
    full = (i if i < nans else i - nans) % 2 == 0
    if seqs != list(range(len(seqs))):
        bad.append((sid, "seq", seqs))
    if len(fin) != 1 or fin[0]["CallStatus"] != want:
        bad.append((sid, "final", [f["CallStatus"] for f in fin]))
    elif int(fin[0]["SequenceNumber"]) != len(seqs) - 1:
        bad.append((sid, "final not last", seqs))
    if full and len(cbs) < 2:
        bad.append((sid, "no progress callbacks", len(cbs)))
    if not full and len(cbs) != 1:
        bad.append((sid, "completed-only got", len(cbs)))
print("# %d calls, %d callbacks, %d problems %s" % (len(sids), sum(map(len, per.values())), len(bad), bad[:4]))
sys.exit(1 if bad else 0)
PY
pass "one terminal callback per call, SequenceNumber without gaps or duplicates"
calls_signatures_ok
assert_eq "$(q "select count(*) from webhook_requests where kind = 'status-callback'
	and parameters->>'CallStatus' in ('completed', 'failed') and response_status = 204")" "$N" \
	"the takeover's deliveries are webhook_requests rows"
assert_eq "$(stat -c %s "$ALPHA_DIR/store.journal" 2>/dev/null || echo 0)" 0 "alpha's journal is empty"
assert_match "$(cat "$WORK/takeover.out")" " 0 undelivered" "alpha's outbox is delivered"

# a second run changes nothing
rows=$(q "select (select count(*) from calls) || ' ' || (select count(*) from call_events) || ' ' ||
	(select count(*) from webhook_requests) || ' ' || (select max(updated_at) from calls)")
cbs=$(grep -c '"path": "/status"' "$WORK/requests.log")
takeover
assert_eq "$TK" 0 "a second takeover: exit 0"
assert_match "$(cat "$WORK/takeover.out")" "already retired" "it says alpha is already retired"
sleep 1
assert_eq "$(q "select (select count(*) from calls) || ' ' || (select count(*) from call_events) || ' ' ||
	(select count(*) from webhook_requests) || ' ' || (select max(updated_at) from calls)")" "$rows" \
	"no new or changed rows"
assert_eq "$(grep -c '"path": "/status"' "$WORK/requests.log")" "$cbs" "no new callbacks"
[ "$cbs" -gt "$before" ] || fail "the takeover delivered nothing"

# beta is alive: a takeover of its folder is refused by the lock
"$DIALERD" takeover --data-dir "$WORK/beta" >"$WORK/takeover-beta.out" 2>&1
assert_eq "$?" 1 "takeover of beta's folder while it runs: refused"
kill -TERM "$BETA_PID"; wait "$BETA_PID"
assert_eq "$?" 0 "beta stopped cleanly"
cat "$WORK/takeover.log" >&2
exit 0
