#!/bin/sh
# webhook_failures: every failure code of the webhook client (spec §10.2,
# issue 10) produced by a real server that misbehaves that way, through
# webhooktool fetch: refused (11205), hang past --timeout-ms (11205), 500
# (11200), a connect that never completes (11205 after --connect-timeout-ms,
# and after the default 5 s), a hang past the default 15 s (11205), redirect loop (11215; three redirects still work, each hop signed
# for its own URL), 70 KiB body (11750; 64 KiB exactly is accepted),
# text/plain and no Content-Type (12300), a self-signed certificate (11220;
# accepted with --ca), an unresolvable name (11210), no HTTP at all (11206).
# Each attempt is a webhook_requests row with its code; no row, request or
# log line holds the auth token.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init db validators
HERE=$TOP/tests/integration/webhook_failures
TOKEN=fail-case-token-$$-8d3c1e
export DIALERD_AUTH_TOKEN=$TOKEN DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef

# the misbehaving servers, on $P
"$VALIDATE_PY" - "$WORK/hook.routes.json" "$B" <<'PY'
import json, sys
ok = {"status": 200, "content_type": "text/xml", "body": "<Response/>"}
def redirect(code, to):
    return {"status": code, "content_type": "text/html", "body": "", "headers": {"Location": to}}
routes = {
    "/ok": ok,
    "/hang": dict(ok, delay_ms=5000),
    "/hang16": dict(ok, delay_ms=16500),
    "/e500": dict(ok, status=500, body="<h1>oops</h1>"),
    "/loop": redirect(302, "/loop"),
    "/r1": redirect(302, "/r2?hop=2"),
    "/r2": redirect(307, sys.argv[2] + "/r3"),
    "/r3": redirect(303, "r4?final=1"),
    "/r4": ok,
    "/big": dict(ok, body="<Response>" + "x" * (70 * 1024) + "</Response>"),
    "/max": dict(ok, body="<Response>" + "x" * (65536 - 21) + "</Response>"),
    "/plain": dict(ok, content_type="text/plain", body="Hello"),
    "/noctype": dict(ok, content_type=None),
    "/charset": dict(ok, content_type="text/xml; charset=utf-8"),
    "/appxml": dict(ok, content_type="application/xml"),
    "/html": dict(ok, content_type="text/html"),
    "default": {"status": 404, "body": ""},
}
assert len(routes["/max"]["body"]) == 65536
json.dump(routes, open(sys.argv[1], "w"))
PY
webhook_serve hook "$P"

PT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" >"$WORK/openssl.log" 2>&1 ||
	harness_error "openssl could not make a certificate: $(tail -n 2 "$WORK/openssl.log")"
echo '{"default": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' >"$WORK/tls.routes.json"
webhook_serve tls "$PT" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"

PG=$(free_port)
python3 "$HERE/garbage.py" "$PG" >"$WORK/garbage-server.out" 2>&1 &
dlr_track $!
wait_for 10 grep -q listening "$WORK/garbage-server.out" || harness_error "garbage server did not start"

CLOSED=$(free_port)	# nothing listens there
PB=$(free_port)
python3 "$HERE/blackhole.py" "$PB" >"$WORK/blackhole-server.out" 2>&1 &
dlr_track $!
wait_for 10 grep -q listening "$WORK/blackhole-server.out" || harness_error "blackhole server did not start"

: >"$WORK/expect.txt"
n=0
# try NAME WANT-CODE URL [fetch ARGS...]: one fetch, its row expected with WANT-CODE
try() {
	_name=$1 _want=$2 _url=$3
	shift 3
	n=$((n + 1))
	_sid=$(printf 'CA%032x' $n)
	_t0=$(date +%s%N)
	"$WEBHOOKTOOL" fetch --kind voice --call-sid "$_sid" --database-url "$DATABASE_URL" \
		--param "CallSid=$_sid" --param "AccountSid=$DIALERD_ACCOUNT_SID" --param "CallStatus=ringing" \
		"$@" "$_url" >"$WORK/$_name.json" 2>>"$WORK/webhooktool.log"
	_rc=$?
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	_code=$(jfield "$WORK/$_name.json" code)
	if [ "$_code" != "$_want" ]; then
		fail "$_name: code '$_code', want $_want (exit $_rc, ${_ms} ms): $(cat "$WORK/$_name.json")"
	fi
	if [ "$_want" = 0 ]; then
		[ $_rc = 0 ] || fail "$_name: code 0 but exit $_rc"
	else
		[ $_rc = 1 ] || fail "$_name: code $_want but exit $_rc (want 1)"
	fi
	_method=POST
	case " $* " in *" GET "*) _method=GET ;; esac
	printf '%s %s %s %s %s\n' "$_sid" "$_want" "$_method" "$_url" "$_name" >>"$WORK/expect.txt"
	pass "$_name: code $_want, exit $_rc (${_ms} ms) $(jfield "$WORK/$_name.json" error)"
	LAST_MS=$_ms
}

# the default limits (connect 5 s, total 15 s) run meanwhile, in the background
n=2
for d in 1:"http://127.0.0.1:$PB/voice" 2:"$B/hang16"; do
	_sid=$(printf 'CA%032x' "${d%%:*}")
	"$WEBHOOKTOOL" fetch --kind voice --call-sid "$_sid" --database-url "$DATABASE_URL" \
		--param "CallSid=$_sid" "${d#*:}" >"$WORK/default${d%%:*}.json" 2>>"$WORK/webhooktool-bg.log" &
	eval "BG${d%%:*}=\$!"
	dlr_track $!
	printf '%s 11205 POST %s default_%s\n' "$_sid" "${d#*:}" "$([ "${d%%:*}" = 1 ] && echo connect || echo total)" >>"$WORK/expect.txt"
done

try refused 11205 "http://127.0.0.1:$CLOSED/voice"
try connect_timeout 11205 "http://127.0.0.1:$PB/voice" --connect-timeout-ms 700
us=$(jfield "$WORK/connect_timeout.json" total_us)
[ "${us:-0}" -ge 650000 ] && [ "$us" -lt 3000000 ] || fail "connect_timeout: total_us $us, want about 0.7 s"
pass "connect_timeout: gave up after ${us} us (--connect-timeout-ms 700)"
try hang 11205 "$B/hang" --timeout-ms 1000
us=$(jfield "$WORK/hang.json" total_us)
[ "${us:-0}" -ge 900000 ] && [ "$us" -lt 4000000 ] || fail "hang: total_us $us, want about 1 s (--timeout-ms 1000)"
pass "hang: gave up after ${us} us (--timeout-ms 1000)"
try e500 11200 "$B/e500"
assert_eq "$(jfield "$WORK/e500.json" http_status)" 500 "e500: http_status 500 reported"
try e500get 11200 "$B/e500?x=1" --method GET
try loop 11215 "$B/loop"
try redirects3 0 "$B/r1?start=1"
assert_eq "$(jfield "$WORK/redirects3.json" redirects)" 3 "three redirects followed"
assert_eq "$(jfield "$WORK/redirects3.json" url)" "$B/r4?final=1" "final URL after relative and absolute Locations"
try big 11750 "$B/big"
try max 0 "$B/max"
assert_eq "$(jfield "$WORK/max.json" body_len)" 65536 "a body of exactly 64 KiB is read whole"
try plain 12300 "$B/plain"
try noctype 12300 "$B/noctype"
try charset 0 "$B/charset"
try appxml 0 "$B/appxml"
try html 0 "$B/html"
try tls_selfsigned 11220 "https://127.0.0.1:$PT/voice"
try tls_ca 0 "https://127.0.0.1:$PT/voice" --ca "$WORK/cert.pem"
try dns 11210 "http://nonexistent.invalid/voice"
[ "$LAST_MS" -lt 10000 ] || fail "dns: 11210 after $LAST_MS ms"
try garbage 11206 "http://127.0.0.1:$PG/voice"

# the defaults: connect 5 s, total 15 s
wait $BG1
wait $BG2
for d in 1:connect:11205:4500000:7500000 2:total:11205:14500000:18000000; do
	set -- $(echo "$d" | tr ':' ' ')
	code=$(jfield "$WORK/default$1.json" code)
	us=$(jfield "$WORK/default$1.json" total_us)
	[ "$code" = "$3" ] || fail "default $2 timeout: code '$code', want $3: $(cat "$WORK/default$1.json")"
	[ "${us:-0}" -ge "$4" ] && [ "$us" -le "$5" ] ||
		fail "default $2 timeout: gave up after $us us, want $4-$5"
	pass "default $2 timeout: code $code after $us us"
done
cat "$WORK/webhooktool-bg.log" >>"$WORK/webhooktool.log"

# the redirect hops, each signed for its own URL
assert_eq "$(grep -c '"path": "/loop"' "$WORK/hook.jsonl")" 4 "redirect loop: the first request and 3 redirects, no 4th"
for h in /r1 /r2 /r3 /r4; do
	assert_eq "$(grep -c "\"path\": \"$h\"" "$WORK/hook.jsonl")" 1 "redirect chain: $h requested once"
done
validate_all "$WORK/hook.jsonl" --token "$TOKEN" --path /r1 --path /r2 --path /r3 --path /r4 --path /loop \
	>"$WORK/hops.out" 2>&1
vrc=$?
cat "$WORK/hops.out"
[ $vrc = 0 ] && [ "$(grep -c '^ok - ' "$WORK/hops.out")" = 24 ] ||
	fail "redirect hops: not every hop's signature validated for its own URL"
pass "8 redirect hops: each signature valid for the hop's URL in all three validators"
validate_all "$WORK/tls.jsonl" --token "$TOKEN" --base "https://127.0.0.1:$PT" >"$WORK/tlsv.out" 2>&1 ||
	{ cat "$WORK/tlsv.out"; fail "the https request's signature did not validate"; }
pass "the https request's signature validates with the https:// URL"

# one row per attempt, carrying the code
rows() {
	q "select call_sid, coalesce(error_code, 0), method, url, coalesce(response_status, 0),
		coalesce(total_us, -1), kind, attempt, coalesce(redirects, -1), coalesce(final_url, '')
		from webhook_requests order by call_sid, attempt" 2>"$WORK/q.err"
}
have_all_rows() { [ "$(q 'select count(distinct call_sid) from webhook_requests' 2>/dev/null)" = "$n" ]; }
wait_for 15 have_all_rows ||
	fail "webhook_requests rows for $(q 'select count(distinct call_sid) from webhook_requests') of $n fetches $(cat "$WORK/q.err" 2>/dev/null)"
rows >"$WORK/rows.txt" || fail "cannot read webhook_requests: $(cat "$WORK/q.err")"
"$VALIDATE_PY" - "$WORK/expect.txt" "$WORK/rows.txt" <<'PY' || fail "webhook_requests rows do not match the attempts"
import sys
exp = [l.split() for l in open(sys.argv[1])]
rows = {}
for l in open(sys.argv[2]):
    sid, code, method, url, status, total, kind, attempt, redirects, final = l.rstrip("\n").split("|")
    rows.setdefault(sid, []).append((int(code), method, url, int(status), int(total), kind, int(attempt),
                                     int(redirects), final))
bad = 0
for sid, want, method, url, name in exp:
    r = rows.get(sid, [])
    if len(r) != 1:
        print("not ok - %s: %d rows, want 1 (one attempt)" % (name, len(r))); bad += 1; continue
    code, m, u, status, total, kind, attempt, redirects, final = r[0]
    problems = []
    if code != int(want): problems.append("error_code %d, want %s" % (code, want))
    # the 303 of the chain turns its POST into a GET: the row keeps the last hop's method
    if m != method and not (name == "redirects3" and m == "GET"):
        problems.append("method %s, want %s" % (m, method))
    if name == "redirects3":
        if redirects != 3 or not final.endswith("/r4?final=1"):
            problems.append("redirects %d final_url %r, want 3 and .../r4?final=1" % (redirects, final))
    elif name == "loop":
        # final_url NULL means "the url" (store.h), which is where the loop ended
        if redirects != 3 or final not in ("", url):
            problems.append("redirects %d final_url %r, want 3 and the url" % (redirects, final))
    elif redirects > 0:
        problems.append("redirects %d, want 0" % redirects)
    if u != url and not (method == "GET" and u.startswith(url + ("&" if "?" in url else "?"))):
        problems.append("url %r, want %r" % (u, url))
    if kind != "voice" or attempt != 1: problems.append("kind %s attempt %d" % (kind, attempt))
    if total < 0: problems.append("no total_us")
    want_status = {"e500": 500, "e500get": 500, "big": 200, "plain": 200, "noctype": 200,
                   "refused": 0, "hang": 0, "dns": 0, "tls_selfsigned": 0, "garbage": 0}
    if name in want_status and status != want_status[name]:
        problems.append("response_status %d, want %d" % (status, want_status[name]))
    if name == "loop" and status not in (0, 302):
        problems.append("response_status %d, want 302 (the last answer) or none" % status)
    if want == "0" and status != 200:
        problems.append("response_status %d, want 200" % status)
    if problems:
        print("not ok - %s: %s" % (name, "; ".join(problems))); bad += 1
    else:
        print("ok - %s: row with error_code %s, %s %s, response_status %d, total_us %d" % (name, want, m, u, status, total))
sys.exit(1 if bad else 0)
PY
pass "every attempt is a webhook_requests row with its code, method, url, status and total_us"

# no secret anywhere
"$PG_BIN/pg_dump" -a -h 127.0.0.1 -p "$PGPORT" -U postgres dialerd >"$WORK/dump.sql" 2>"$WORK/dump.err" ||
	harness_error "pg_dump failed: $(tail -n 1 "$WORK/dump.err")"
for f in "$WORK/dump.sql" "$WORK/hook.jsonl" "$WORK/tls.jsonl" "$WORK/webhooktool.log" "$WORK"/*.json; do
	grep -qF "$TOKEN" "$f" && fail "the auth token appears in ${f##*/}"
done
pass "the auth token is in no row, request, tool output or log line"
exit 0
