#!/bin/sh
# webhook_outbox_torn: the status-callback outbox after a crash in the middle
# of a write, and with a full disk.
# 1. 40 callbacks appended while their first attempts hang, the tool killed
#    with SIGKILL, the outbox file cut by 5 bytes (its last frame torn): the
#    tool restarted with --calls 0 starts, logs the torn tail, and delivers
#    the callbacks of every whole frame, in order per call.
# 2. A file size limit (RLIMIT_FSIZE; SIGXFSZ is ignored, write fails with
#    EFBIG) and a 16 KiB tmpfs (ENOSPC): the appends are refused with an
#    error line naming the cause, no "appended" line, a non-zero exit and
#    no crash (no signal, no sanitizer report); a restart without the limit
#    opens the same outbox.
# 3. Space coming back: a 1 MiB tmpfs filled by another file, 50 callbacks
#    refused, the file removed once the back-off has reached 8 s: the
#    appends land within 3 s (the store looks for room once a second on a
#    full disk instead of waiting out its back-off) and all 50 are delivered.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init
HERE=$TOP/tests/integration/webhook_outbox_torn

# no_crash NAME RC STDERR: exit status of a normal failure, no sanitizer report
no_crash() {
	[ "$2" -ge 1 ] && [ "$2" -lt 128 ] || fail "$1: exit status $2 (a signal or success)"
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$3"; then
		grep -E -A5 'AddressSanitizer|LeakSanitizer|runtime error:' "$3" | head -n 20
		fail "$1: sanitizer report"
	fi
}

# ---- 1. torn tail
echo '{"/status": {"status": 200, "content_type": "text/xml", "body": "<Response/>", "delay_ms": 30000}}' \
	>"$WORK/hang.routes.json"
webhook_serve hang "$P"
HANG=$WEBHOOK_PID
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data" --url "$B/status" --calls 10 --per-call 4 \
	--max-seconds 60 >"$WORK/deliver1.out" 2>"$WORK/deliver1.log" &
TOOL=$!
dlr_track $TOOL
wait_for 20 grep -q '^appended 40$' "$WORK/deliver1.out" ||
	fail "no 'appended 40' line: $(tail -n 3 "$WORK/deliver1.out" "$WORK/deliver1.log")"
hanging() { [ "$(wc -l <"$WORK/hang.jsonl")" -ge 10 ]; }
wait_for 20 hanging || fail "the 10 first callbacks were not sent"
kill -KILL $TOOL
wait $TOOL 2>/dev/null
webhook_stop $HANG
pass "40 callbacks appended, the tool killed while its first 10 attempts hang"

F=$WORK/data/webhook.outbox
python3 "$HERE/frames.py" "$F" >"$WORK/frames-before.txt" || fail "cannot read the outbox frames (format changed?)"
grep -q '^torn' "$WORK/frames-before.txt" && fail "torn tail before the cut: $(grep '^torn' "$WORK/frames-before.txt")"
assert_eq "$(grep -c '^A ' "$WORK/frames-before.txt")" 40 "the outbox holds 40 whole ADD frames"
last=$(tail -n 1 "$WORK/frames-before.txt")
size=$(stat -c %s "$F")
truncate -s $((size - 5)) "$F"
python3 "$HERE/frames.py" "$F" >"$WORK/frames-after.txt" || fail "cannot read the cut outbox"
grep -q '^torn' "$WORK/frames-after.txt" || fail "the cut did not tear the last frame"
pass "last frame ($(echo "$last" | cut -d' ' -f1,3) bytes) cut by 5 bytes: $(grep '^torn' "$WORK/frames-after.txt")"
# the callbacks still to deliver: ADD frames that are whole, without a DONE frame
awk '$1 == "D" { done[$4] = 1 } $1 == "A" { add[$4] = $5 " " $6 }
	END { for (id in add) if (!(id in done)) print add[id] }' "$WORK/frames-after.txt" | sort >"$WORK/expect.txt"
nexp=$(wc -l <"$WORK/expect.txt" | tr -d ' ')
case $last in
A*) assert_eq "$nexp" 39 "the torn frame was the last callback's ADD: 39 callbacks remain" ;;
*) assert_eq "$nexp" 40 "the torn frame was an attempt/done record: all 40 callbacks remain" ;;
esac

echo '{"/status": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' >"$WORK/hook.routes.json"
webhook_serve hook "$P"
"$WEBHOOKTOOL" deliver --data-dir "$WORK/data" --url "$B/status" --calls 0 \
	--exit-when-empty --max-seconds 40 >"$WORK/deliver2.out" 2>"$WORK/deliver2.log" &
TOOL=$!
dlr_track $TOOL
wait_for 50 sh -c "! kill -0 $TOOL 2>/dev/null" || fail "the restarted tool did not empty the outbox"
wait $TOOL
rc=$?
no_crash "restart on the torn outbox" $((rc == 0 ? 1 : rc)) "$WORK/deliver2.log"
assert_eq "$rc" 0 "restarted on the torn outbox: exit 0 once it is empty"
grep -Ei 'torn|cut' "$WORK/deliver2.log" >"$WORK/torn-line.txt" ||
	fail "no log line about the torn tail: $(head -n 5 "$WORK/deliver2.log")"
pass "log line: $(head -n 1 "$WORK/torn-line.txt" | cut -c1-200)"
python3 "$TOP/tests/lib/callbacks.py" --log "$WORK/hook.jsonl" --calls 10 --per-call 4 \
	--events "$WORK/expect.txt" || fail "the whole frames' callbacks were not delivered as they should"
python3 "$HERE/frames.py" "$F" >"$WORK/frames-end.txt" || fail "cannot read the outbox after the restart"
grep -q '^torn' "$WORK/frames-end.txt" && fail "the outbox still has a torn tail after the restart"
pass "the outbox is whole again after the restart"

# ---- 2. disk full
echo '{"/full": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' >"$WORK/hook.routes.json"
# full DIR NAME PATTERN [COMMAND ARGS]: 100 callbacks into DIR under a limit; the
# error line must match PATTERN
full() {
	_dir=$1 _name=$2 _pat=$3
	shift 3
	mkdir -p "$_dir"
	"$@" "$WEBHOOKTOOL" deliver --data-dir "$_dir" --url "$B/full" --calls 100 --per-call 1 \
		--max-seconds 5 >"$WORK/$_name.out" 2>"$WORK/$_name.log"
	_rc=$?
	no_crash "$_name" $_rc "$WORK/$_name.log"
	grep -q '^appended' "$WORK/$_name.out" && fail "$_name: 'appended' printed although the disk is full"
	grep -Eiq "$_pat" "$WORK/$_name.log" ||
		fail "$_name: no error line naming the cause: $(head -n 3 "$WORK/$_name.log")"
	pass "$_name: exit $_rc, no 'appended' line, $(grep -Ei "$_pat" "$WORK/$_name.log" | head -n 1 | cut -c1-160)"
	# the same outbox opens without the limit
	"$WEBHOOKTOOL" deliver --data-dir "$_dir" --url "$B/full" --calls 0 --exit-when-empty \
		--max-seconds 20 >"$WORK/$_name-again.out" 2>"$WORK/$_name-again.log"
	_rc=$?
	no_crash "$_name, reopened" $((_rc == 0 ? 1 : _rc)) "$WORK/$_name-again.log"
	[ $_rc = 0 ] || fail "$_name: reopening the outbox without the limit failed (exit $_rc): $(tail -n 2 "$WORK/$_name-again.log")"
	pass "$_name: the outbox opens and empties without the limit"
}
# 8 KiB: less than the 100 callbacks' frames
full "$WORK/fsize" fsize 'File too large|EFBIG' prlimit --fsize=8192
[ "$(stat -c %s "$WORK/fsize/webhook.outbox")" -le 8192 ] || fail "fsize: the outbox grew past the limit"

mkdir -p "$WORK/small"
# mode 0750: a tmpfs root is 1777 by default, and the store refuses a data_dir
# that group or others may write
if mount -t tmpfs -o size=16k,mode=0750 tmpfs "$WORK/small" 2>"$WORK/mount.err"; then
	dlr_on_exit "umount '$WORK/small'"
	full "$WORK/small" tmpfs 'No space left|ENOSPC' env
else
	pass "# no tmpfs here ($(head -n 1 "$WORK/mount.err")): ENOSPC part not run"
fi

# ---- 3. space comes back
mkdir -p "$WORK/refill"
if mount -t tmpfs -o size=1m,mode=0750 tmpfs "$WORK/refill" 2>"$WORK/mount.err"; then
	dlr_on_exit "umount '$WORK/refill'"
	dd if=/dev/zero of="$WORK/refill/filler" bs=4k 2>/dev/null
	"$WEBHOOKTOOL" deliver --data-dir "$WORK/refill" --url "$B/full" --calls 50 --per-call 1 \
		--exit-when-empty --max-seconds 40 >"$WORK/refill.out" 2>"$WORK/refill.log" &
	TOOL=$!
	dlr_track $TOOL
	wait_for 10 grep -Eq 'No space left' "$WORK/refill.log" ||
		fail "refill: no ENOSPC line: $(head -n 3 "$WORK/refill.log")"
	# attempts after 1, 2 and 4 s of back-off: the next one would be 8 s later
	sleep 7.5
	grep -q '^appended' "$WORK/refill.out" && fail "refill: appended while the disk was full"
	rm -f "$WORK/refill/filler"
	t0=$(date +%s.%N)
	wait_for 10 grep -q '^appended 50$' "$WORK/refill.out" ||
		fail "refill: no 'appended 50' 10 s after space came back: $(tail -n 3 "$WORK/refill.log")"
	took=$(echo "$(date +%s.%N) - $t0" | bc)
	[ "$(echo "$took < 3" | bc)" = 1 ] ||
		fail "refill: the appends landed $took s after space came back (at most 3: the back-off was waited out)"
	pass "refill: the appends landed $(printf '%.1f' "$took") s after space came back"
	wait_for 30 sh -c "! kill -0 $TOOL 2>/dev/null" || fail "refill: the outbox did not empty"
	wait $TOOL
	assert_eq "$?" 0 "refill: the 50 callbacks delivered, the outbox empty"
else
	pass "# no tmpfs here ($(head -n 1 "$WORK/mount.err")): part 3 not run"
fi
exit 0
