#!/bin/sh
# webhook_keepalive: the webhook client's keep-alive connections between
# fetches (webhooktool fetch --repeat N --gap-ms G: N fetches of one URL on
# one client, G ms apart on the event loop), against real servers:
# a) reuse: 20 fetches 20 ms apart are 20 requests on ONE connection, and
#    the client makes at most 6 epoll_ctl calls for them (strace; a client
#    that takes each idle socket out of epoll and puts it back makes about
#    2 per fetch);
# b) the server closes each idle connection after 100 ms: 8 fetches 300 ms
#    apart all succeed on 8 connections, the tool idles between them (under
#    1 s of CPU and at most 25 event loop wake-ups a fetch, strace: a client
#    spinning on a closed idle socket burns the gaps), no traceback in the
#    server's output;
# c) the server writes bytes nobody asked for on each idle connection
#    (junk.py): 4 fetches 300 ms apart all get the real answer (never the
#    junk read as the next response), no request goes out on a connection
#    that carried junk, and the tool idles between them as in b).
# Where strace cannot trace (ptrace refused), the system call counts are
# left out, and said so in the pass lines.
# The parts use their own servers: a part that fails does not stop the
# others, the case fails at the end.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init
HERE=$TOP/tests/integration/webhook_keepalive
URL_PATH=/voice
OK='{"default": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}'

echo "$OK" >"$WORK/reuse.routes.json"
webhook_serve reuse "$P"
PI=$(free_port)
echo "$OK" >"$WORK/idle.routes.json"
webhook_serve idle "$PI" --idle-timeout-ms 100
PJ=$(free_port)
python3 "$HERE/junk.py" "$PJ" "$WORK/junk.jsonl" >"$WORK/junk-server.log" 2>&1 &
dlr_track $!
wait_for 10 grep -q listening "$WORK/junk-server.log" || harness_error "junk server did not start"

FAILED=""
# fail_part MESSAGE: a failed check of one part; the case goes on with the next part
fail_part() {
	printf 'not ok - %s\n' "$*"
	FAILED="$FAILED${FAILED:+; }$1"
}

# fetches NAME N GAP-MS URL [WRAPPER...]: webhooktool fetch --repeat N --gap-ms GAP-MS URL,
# each fetch at most 3 s and all of it at most 60 s; its lines in $WORK/NAME.json, its
# exit status in RC and its CPU time (user + sys, s, of it and its children) in CPU
fetches() {
	_n=$1 _n_rep=$2 _gap=$3 _url=$4
	shift 4
	python3 - "$WORK/$_n.cpu" timeout -k 5 60 "$@" "$WEBHOOKTOOL" fetch --timeout-ms 3000 \
		--repeat "$_n_rep" --gap-ms "$_gap" "$_url" >"$WORK/$_n.json" 2>"$WORK/$_n.log" <<'PY'
import resource, subprocess, sys
# what this process's children used before (a pyenv shim's scripts, reaped before
# it became this interpreter) is not the tool's
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
before = cpu()
rc = subprocess.call(sys.argv[2:], stdin=subprocess.DEVNULL)
open(sys.argv[1], "w").write("%.3f\n" % (cpu() - before))
sys.exit(rc)
PY
	RC=$?
	CPU=$(cat "$WORK/$_n.cpu" 2>/dev/null)
}

# results_ok NAME N: N result lines, each a 200 text/xml "<Response/>" (code 0, 11 bytes);
# prints what is wrong otherwise
results_ok() {
	python3 - "$WORK/$1.json" "$2" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
bad = []
if len(lines) != int(sys.argv[2]):
    bad.append("%d result lines, want %s" % (len(lines), sys.argv[2]))
for i, l in enumerate(lines):
    try:
        r = json.loads(l)
    except ValueError:
        bad.append("fetch %d: not JSON: %r" % (i + 1, l[:120])); continue
    got = (r.get("code"), r.get("http_status"), r.get("content_type"), r.get("body_len"))
    if got != (0, 200, "text/xml", 11):
        bad.append("fetch %d: code %s status %s type %r body_len %s: %s"
                   % ((i + 1,) + got + (r.get("error"),)))
print("; ".join(bad[:4]))
sys.exit(1 if bad else 0)
PY
}

# conns LOG: "REQUESTS CONNECTIONS JUNKED SKIPPED" of a server's JSON log (a connection is
# a client source port; JUNKED: requests sent on a connection that had carried junk;
# SKIPPED: junk not sent because the next request came first)
conns() {
	python3 - "$1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [r for r in recs if not r.get("junk_skipped")]
print(len(reqs), len({r["peer_port"] for r in reqs}),
      sum(1 for r in reqs if r.get("after_junk")), sum(1 for r in recs if r.get("junk_skipped")))
PY
}

cpu_under_1s() { awk -v c="$1" 'BEGIN { exit !(c != "" && c + 0 < 1.0) }'; }

# STRACE: strace when it can trace here (a container may refuse ptrace), else
# empty and the system call counts are not checked
STRACE=""
NOTRACE=""
if ! command -v strace >/dev/null; then
	NOTRACE="not counted: no strace (apt-get install strace)"
elif ! strace -qq -e trace=epoll_ctl -o /dev/null true 2>"$WORK/strace-probe.out"; then
	NOTRACE="not counted: strace cannot trace here ($(head -n 1 "$WORK/strace-probe.out"))"
else
	# LeakSanitizer cannot run under ptrace: a sanitizer build's leak check is
	# left to the untraced cases (webhook_failures and the others)
	STRACE="strace -E ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi

# traced_fetches NAME N GAP-MS URL: fetches, with its event loop's waits
# counted (WAKEUPS) when strace can
traced_fetches() {
	if [ -n "$STRACE" ]; then
		fetches "$@" $STRACE -f -qq -c -e trace=epoll_wait,epoll_pwait,epoll_pwait2 -o "$WORK/$1.wakeups"
		WAKEUPS=$(awk '$NF ~ /^epoll_p?wait2?$/ { n += $4 } END { print n + 0 }' "$WORK/$1.wakeups")
	else
		fetches "$@"
		WAKEUPS=""
	fi
}

# quiet_ok PART N: the tool idled between its N fetches: under 1 s of CPU and, when
# counted, at most 25 loop wake-ups a fetch (one that spins on an idle socket wakes
# thousands of times; on a shared machine its CPU time alone can stay under 1 s)
quiet_ok() {
	_seen="$CPU s of CPU, ${WAKEUPS:-uncounted} loop wake-ups for $2 fetches"
	cpu_under_1s "$CPU" || { fail_part "$1: the tool did not idle between fetches: $_seen; want under 1.0 s"; return 1; }
	if [ -n "$WAKEUPS" ]; then
		[ "$WAKEUPS" -le $(($2 * 25)) ] ||
			{ fail_part "$1: the tool did not idle between fetches: $_seen; want at most $(($2 * 25)) (epoll_wait)"; return 1; }
		pass "$1: the tool idled between fetches: $_seen"
	else
		pass "$1: the tool used $CPU s of CPU (loop wake-ups $NOTRACE)"
	fi
}

# ---- a) reuse, and what the idle sockets cost in epoll_ctl calls ----
part_a() {
	if [ -n "$STRACE" ]; then
		fetches reuse 20 20 "$B$URL_PATH" $STRACE -f -qq -e trace=epoll_ctl -o "$WORK/reuse.strace"
	else
		fetches reuse 20 20 "$B$URL_PATH"
	fi
	why=$(results_ok reuse 20) || { fail_part "a) reuse: $why (exit $RC)"; return; }
	[ "$RC" = 0 ] || { fail_part "a) reuse: 20 good fetches but exit $RC"; return; }
	set -- $(conns "$WORK/reuse.jsonl")
	[ "$1" = 20 ] && [ "$2" = 1 ] ||
		{ fail_part "a) reuse: the server saw $1 requests on $2 connections, want 20 on 1"; return; }
	pass "a) reuse: 20 fetches 20 ms apart, all 200, 20 requests on one connection"
	if [ -z "$STRACE" ]; then
		pass "a) epoll_ctl calls $NOTRACE"
		return
	fi
	n=$(grep -c 'epoll_ctl(' "$WORK/reuse.strace")
	split=$(for op in ADD MOD DEL; do printf '%s %s, ' "$op" "$(grep -c "EPOLL_CTL_$op" "$WORK/reuse.strace")"; done)
	if [ "$n" -le 6 ]; then
		pass "a) $n epoll_ctl calls for 20 fetches on one connection (${split%, }), at most 6"
	else
		fail_part "a) $n epoll_ctl calls for 20 fetches on one connection (${split%, }), want at most 6"
	fi
}

# ---- b) the server closes idle connections ----
part_b() {
	traced_fetches idle 8 300 "http://127.0.0.1:$PI$URL_PATH"
	why=$(results_ok idle 8) || { fail_part "b) idle close: $why (exit $RC)"; return; }
	[ "$RC" = 0 ] || { fail_part "b) idle close: 8 good fetches but exit $RC"; return; }
	set -- $(conns "$WORK/idle.jsonl")
	[ "$1" = 8 ] && [ "$2" = 8 ] ||
		{ fail_part "b) idle close: the server saw $1 requests on $2 connections, want 8 on 8"; return; }
	pass "b) idle close: 8 fetches 300 ms apart, all 200, 8 requests on 8 connections (each closed idle after 100 ms)"
	quiet_ok "b) idle close" 8 || return
	! grep -q Traceback "$WORK/idle-server.out" ||
		{ fail_part "b) idle close: the server printed a traceback: $(grep -m 1 -A 3 Traceback "$WORK/idle-server.out" | tr '\n' ' ')"; return; }
	pass "b) idle close: no traceback from the server"
}

# ---- c) bytes nobody asked for on idle connections ----
part_c() {
	traced_fetches junk 4 300 "http://127.0.0.1:$PJ$URL_PATH"
	set -- $(conns "$WORK/junk.jsonl")
	[ "$4" = 0 ] || harness_error "c) a request came before the junk was due (100 ms after each answer, 300 ms gaps): the machine is too slow for this timing"
	why=$(results_ok junk 4) ||
		{ fail_part "c) junk: $why (exit $RC; $1 requests on $2 connections, $3 sent on a connection that had carried junk, which answers with the junk)"; return; }
	[ "$RC" = 0 ] || { fail_part "c) junk: 4 good fetches but exit $RC"; return; }
	# a connection that carried junk is not used again (libcurl may send a
	# fetch again on a new connection, once)
	[ "$3" = 0 ] && [ "$2" = "$1" ] && [ "$1" -ge 4 ] && [ "$1" -le 8 ] ||
		{ fail_part "c) junk: the server saw $1 requests on $2 connections, $3 of them on a connection that had carried junk; want 4 to 8 requests, each on a new connection"; return; }
	pass "c) junk: 4 fetches 300 ms apart, all the real 200 answer; $1 requests, each on a new connection"
	quiet_ok "c) junk" 4
}

part_a
part_b
part_c
[ -z "$FAILED" ] || fail "failed: $FAILED"
exit 0
