#!/bin/sh
# dial_bench_quick: bench/dial/run --quick on this build: 10 s at 2,000 calls/s
# each way through dial/ against SIPp with no failure, and the relay without
# loss. Stock libre 1.1.0 (its sorted timer list) fails this; so would a
# regression in the timer heap or the hash sizes.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
command -v sipp >/dev/null 2>&1 || skip "sipp not installed (apt-get install sip-tester)"
# a rate target means nothing under ASan or TSan: scripts/test runs this
# case on the normal build as well
if grep -q -- '--enable-sanitizers\|--enable-tsan\|--enable-coverage' "$BUILD/config.status" 2>/dev/null; then
	skip "load target not measured on an instrumented build"
fi

BIN=$BUILD/bench/dial/bench_dial
if [ ! -x "$BIN" ]; then
	make -C "$BUILD" bench/dial/bench_dial >"$WORK/make.log" 2>&1 ||
		harness_error "cannot build bench/dial/bench_dial"
fi

DIALERD_BUILD=$BUILD "$TOP/bench/dial/run" --quick >"$WORK/bench.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/bench.log"
[ $rc -eq 77 ] && skip "bench skipped"
line=$(grep '^dial-bench: out_cps=' "$WORK/bench.log")
[ -n "$line" ] || harness_error "no summary line from bench/dial/run"

assert_match "$(grep 'timers:' "$WORK/bench.log")" 'binary heap \(dial/tmr_heap\.c\)' \
	"the engine ran with the timer heap"
failed=$(printf '%s' "$line" | sed -n 's/.* failed=\([0-9]*\).*/\1/p')
assert_eq "$failed" 0 "no call failed at 2,000 calls/s each way"
out=$(printf '%s' "$line" | sed -n 's/.*out_cps=\([0-9]*\).*/\1/p')
in=$(printf '%s' "$line" | sed -n 's/.* in_cps=\([0-9]*\).*/\1/p')
[ "${out:-0}" -ge 1900 ] || fail "outgoing fell behind: $out calls/s"
pass "outgoing kept the pace ($out calls/s)"
[ "${in:-0}" -ge 1900 ] || fail "inbound fell behind: $in calls/s"
pass "inbound kept the pace ($in calls/s)"
assert_match "$(grep '^relay:' "$WORK/bench.log")" 'lost 0$' "relay lost no packet"
assert_eq "$rc" 0 "bench/dial/run --quick passed"
