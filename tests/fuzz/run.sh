#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS: build the libFuzzer targets with clang (ASan+UBSan) and run each
#
# Configures and builds $FUZZ_BUILD (default $TOP/build-fuzz) with
# CC=clang --enable-fuzzers, then runs every tests/fuzz/fuzz_* program for
# SECONDS each, starting from tests/fuzz/corpus/<target>/ (new inputs go to a
# scratch copy, the committed seeds stay as they are). One line per target;
# exit 1 if any target crashed, leaked or timed out, 2 if the build failed.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
FB=${FUZZ_BUILD:-$TOP/build-fuzz}
SECS=${1:-}
case "$SECS" in
''|*[!0-9]*) echo "usage: tests/fuzz/run.sh SECONDS" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "fuzz: clang missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -x "$TOP/configure" ]; then
	(cd "$TOP" && ./autogen.sh >/dev/null 2>&1) || { echo "fuzz: autogen failed" >&2; exit 2; }
fi
mkdir -p "$FB"
# (re)configure unless this tree was configured for fuzzing with clang
if [ ! -f "$FB/Makefile" ] || ! grep -q -- '--enable-fuzzers' "$FB/config.status" 2>/dev/null ||
   ! grep -q 'CC=clang' "$FB/config.status" 2>/dev/null; then
	(cd "$FB" && CC=clang "$TOP/configure" -q --enable-fuzzers) ||
		{ echo "fuzz: configure failed (see $FB/config.log)" >&2; exit 2; }
fi
# every fuzz target any module declares, as make knows them
targets=$(grep -o 'tests/fuzz/fuzz_[A-Za-z0-9_]*' "$FB/Makefile" | sort -u | grep -v '\.[co]$' || true)
targets=$(printf '%s\n' $targets | grep -v '_SOURCES\|_OBJECTS\|_LDADD\|_DEPENDENCIES\|_LINK\|_CPPFLAGS\|_LDFLAGS' | sort -u)
[ -n "$targets" ] || { echo "fuzz: no targets in $FB/Makefile" >&2; exit 2; }
if ! make -s -C "$FB" -j2 $targets >"$FB/fuzz-build.log" 2>&1; then
	echo "fuzz: build failed:" >&2
	tail -20 "$FB/fuzz-build.log" >&2
	exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dialerd-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${FUZZ_UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# one fuzzer per core at a time: the phase takes SECONDS x targets / cores
fuzz_one() {
	t=$1
	name=${t##*/}
	bin=$FB/$t
	seeds=$TOP/tests/fuzz/corpus/$name
	scratch=$WORK/corpus-$name
	mkdir -p "$scratch" "$WORK/artifacts"
	dict=()
	[ -f "$TOP/tests/fuzz/$name.dict" ] && dict=(-dict="$TOP/tests/fuzz/$name.dict")
	[ -d "$seeds" ] || seeds=
	log=$WORK/$name.log
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
		-print_final_stats=1 -artifact_prefix="$WORK/artifacts/$name-" "${dict[@]}" \
		"$scratch" $seeds >"$log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{ print $2 }')
	if [ $rc -eq 0 ]; then
		echo "$name: ok, ${SECS} s, ${runs:-?} runs, coverage ${cov:-?} edges" >"$WORK/$name.result"
	else
		keep=$FB/fuzz-artifacts
		mkdir -p "$keep"
		cp "$WORK"/artifacts/"$name"-* "$keep"/ 2>/dev/null
		cp "$log" "$keep/$name.log"
		{
			echo "$name: FAILED (exit $rc); log and crashing input in $keep/"
			grep -m3 -E 'ERROR: |SUMMARY: |runtime error' "$log" | sed 's/^/  /'
		} >"$WORK/$name.result"
	fi
	return $rc
}

jobs_max=${FUZZ_JOBS:-$(nproc)}
running=0
for t in $targets; do
	fuzz_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$jobs_max" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
failed=0
for t in $targets; do
	name=${t##*/}
	cat "$WORK/$name.result"
	grep -q ': ok,' "$WORK/$name.result" || failed=1
done
exit $failed
