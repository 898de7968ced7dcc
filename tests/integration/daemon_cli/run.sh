#!/bin/sh
# daemon_cli: command line, configuration errors, port in use, SIGHUP log reopen, SIGUSR2 heap
# profile
. "$(dirname "$0")/../../lib/common.sh"
dlr_init

out=$("$DIALERD" --version)
assert_match "$out" '^dialerd [0-9]+\.[0-9]+\.[0-9]+' "--version prints the version"
"$DIALERD" --help | grep -q '^usage: dialerd' || fail "--help prints usage"
pass "--help prints usage on stdout"
"$DIALERD" --bogus >/dev/null 2>"$WORK/err.txt"
assert_eq "$?" 2 "unknown option: exit 2"
grep -q '^usage: dialerd' "$WORK/err.txt" || fail "unknown option: usage on stderr"
pass "unknown option: usage on stderr"
"$DIALERD" frobnicate >/dev/null 2>&1
assert_eq "$?" 2 "unknown command: exit 2"

printf 'http_listen = 127.0.0.1:1\n\nhtp_listen = 127.0.0.1:2\n' >"$WORK/bad.conf"
err=$("$DIALERD" -c "$WORK/bad.conf" 2>&1 >/dev/null)
assert_eq "$?" 2 "unknown key: exit 2"
assert_eq "$err" "dialerd: $WORK/bad.conf:3: unknown key \"htp_listen\"" "unknown key: one line naming the key and the line"
printf 'log_level = chatty\n' >"$WORK/bad2.conf"
err=$("$DIALERD" -c "$WORK/bad2.conf" 2>&1 >/dev/null)
assert_eq "$?" 2 "bad value: exit 2"
assert_match "$err" 'bad2.conf:1: log_level: bad level "chatty"' "bad value: names the key and the line"
err=$(DIALERD_HTTP_LISTEN=localhost:80 "$DIALERD" 2>&1 >/dev/null)
assert_eq "$?" 2 "bad address in the environment: exit 2"
assert_match "$err" 'DIALERD_HTTP_LISTEN: bad address "localhost:80"' "bad address: names the variable"

"$DIALERD" config >"$WORK/default.conf"
port=$(free_port)
DIALERD_HTTP_LISTEN=127.0.0.1:$port DIALERD_DATA_DIR=$WORK/data "$DIALERD" -c "$WORK/default.conf" >"$WORK/first.log" 2>&1 &
first=$!
dlr_track $first
wait_http "http://127.0.0.1:$port/health" 10 || harness_error "daemon with the printed default config did not start"
pass "the printed default configuration is valid"

DIALERD_HTTP_LISTEN=127.0.0.1:$port "$DIALERD" >"$WORK/second.log" 2>&1
assert_eq "$?" 1 "port in use: exit 1"
assert_match "$(cat "$WORK/second.log")" "cannot listen for HTTP on 127.0.0.1:$port: Address already in use" "port in use: clear error"

# SIGHUP reopens the log file after rotation
kill "$first"
wait "$first"
port=$(free_port)
DIALERD_HTTP_LISTEN=127.0.0.1:$port DIALERD_LOG_FILE=$WORK/d.log "$DIALERD" >/dev/null 2>"$WORK/d.err" &
pid=$!
dlr_track $pid
wait_http "http://127.0.0.1:$port/health" 10 || harness_error "daemon with a log file did not start"
mv "$WORK/d.log" "$WORK/d.log.1"
kill -HUP $pid
_d=$(( $(date +%s) + 5 ))
until [ -s "$WORK/d.log" ] || [ "$(date +%s)" -gt $_d ]; do sleep 0.05; done
grep -q 'log reopened' "$WORK/d.log" || fail "SIGHUP: log not reopened"
pass "SIGHUP: the log file is reopened after rotation"

# SIGUSR2: a sanitizer build prints its heap profile to standard error, any other says it cannot
kill -USR2 $pid
_d=$(( $(date +%s) + 10 ))
until grep -q 'Live Heap Allocations: [0-9]* bytes' "$WORK/d.err" ||
	grep -q 'SIGUSR2: a heap profile needs a sanitizer build' "$WORK/d.log" ||
	[ "$(date +%s)" -gt $_d ]; do sleep 0.05; done
if grep -q 'Live Heap Allocations' "$WORK/d.err"; then
	grep -q 'in [0-9]* allocation(s)' "$WORK/d.err" || fail "SIGUSR2: a profile without stacks"
	pass "SIGUSR2: the sanitizer's heap profile, by stack"
else
	grep -q 'SIGUSR2: a heap profile needs a sanitizer build' "$WORK/d.log" || fail "SIGUSR2: no profile and no notice"
	pass "SIGUSR2: without a sanitizer, a notice"
fi
wait_http "http://127.0.0.1:$port/health" 5 || fail "SIGUSR2: the daemon stopped answering"
kill -INT $pid
wait $pid
assert_eq "$?" 0 "SIGINT: exit status 0"
exit 0
