#!/bin/sh
# call_log_queries: every ```sql block of docs/call-log.md runs against the rows of a real call
# (the SQL documented for reports cannot drift from the schema), and the answers that a call makes
# certain come out right.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip>sip:bob@127.0.0.1:$UAS?X-Customer=42</Sip></Dial></Response>"}}
JSON
calls_start
sipp_start uas call_uas.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start uac call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 300
sipp_wait uac 30
assert_eq "$?" 0 "a call went through"
_d=$(( $(date +%s) + 15 ))
until [ "$(q "select count(*) from calls where status = 'completed'")" = 2 ] &&
      [ "$(q "select count(*) from call_events where event = 'media'")" = 2 ]; do
	[ "$(date +%s)" -le $_d ] || fail "the call's rows did not land"
	sleep 0.2
done
stop_dialerd TERM

python3 - "$TOP/docs/call-log.md" "$WORK/q" <<'PY'
import re, sys
blocks = re.findall(r"```sql\n(.*?)```", open(sys.argv[1]).read(), re.S)
for i, b in enumerate(blocks, 1):
    open("%s%02d.sql" % (sys.argv[2], i), "w").write(b)
print("# %d sql blocks" % len(blocks))
PY
n=0
for f in "$WORK"/q*.sql; do
	n=$((n + 1))
	out=$(PGCONNECT_TIMEOUT=5 psql -X -v ON_ERROR_STOP=1 "$DATABASE_URL" -At -F '|' -f "$f" 2>&1) ||
		fail "docs/call-log.md block $n does not run: $out"
	printf '%s\n' "$out" >"$f.out"
done
[ "$n" -ge 10 ] || fail "only $n sql blocks in docs/call-log.md"
pass "all $n sql blocks of docs/call-log.md run"
assert_match "$(cat "$WORK/q02.sql.out")" 'spring\|1\|100.0$' "1: the campaign's answer rate"
assert_eq "$(cat "$WORK/q03.sql.out")" "1|1|1" "2: one Dial of one branch, answered"
assert_match "$(cat "$WORK/q06.sql.out")" '\|completed\|1$' "5: one completed Dial today"
assert_match "$(cat "$WORK/q08.sql.out")" '^X-Agent-Id\|42\|1' "7: the 200's X-Agent-Id"
assert_match "$(cat "$WORK/q12.sql.out")" 'event\|completed' "11: the story has the events"
assert_match "$(cat "$WORK/q12.sql.out")" 'sip out\|INVITE sip:bob@' "11: and the child's INVITE"
calls_signatures_ok
