#!/bin/sh
# webhook_signatures: requests of the daemon's webhook client (webhooktool fetch)
# carry a signature that Debian's python3-twilio RequestValidator, twilio-node
# 6.2.0's validateRequest and @signalwire/compatibility-api 3.2.0's validator all
# accept: GET and POST, URLs with and without a query string, a host name
# instead of an address, parameter values with spaces, '+', '&', '=', '%',
# UTF-8 and empty ones. The headers of spec §8 and "Decisions beyond the
# anchors" are present; the parameters arrive exactly as given; a wrong token
# and a tampered parameter fail validation (the negative controls).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/webhook.sh"
webhook_init validators
"$VALIDATE_PY" -c 'import twilio.request_validator' 2>"$WORK/py.err" ||
	fail "python3-twilio is not importable by $VALIDATE_PY (apt-get install python3-twilio): $(tail -n 1 "$WORK/py.err")"

echo '{"default": {"status": 200, "content_type": "text/xml", "body": "<Response/>"}}' \
	>"$WORK/hook.routes.json"
webhook_serve hook "$P"
export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef

# the parameters of every request: NAME=VALUE, split at the first '='
cat >"$WORK/params.txt" <<'PARAMS'
AccountSid=AC0123456789abcdef0123456789abcdef
From=+14158675309
To=sip:alice@example.com;transport=tls
Caller=client:bob smith
Digits=1&2=3
Question=a+b = c?
Unicode=Zoë ☎ 😀 日本
Empty=
SipHeader_X-Route-Id=route 66/%41%zz
Marks=~!*'()$,;:@[]
Quote="x" <y>
PARAMS

# fetch METHOD URL CALLSID: one request, its JSON line in $WORK/fetch.jsonl
nfetch=0
fetch() {
	nfetch=$((nfetch + 1))
	# the parameters as --param arguments, built without word splitting
	set -- --method "$1" --kind voice --call-sid "$3" --param "CallSid=$3" "$2"
	while IFS= read -r p; do
		set -- --param "$p" "$@"
	done <"$WORK/params.txt"
	"$WEBHOOKTOOL" fetch "$@" >"$WORK/out.json" 2>>"$WORK/webhooktool.log"
	rc=$?
	cat "$WORK/out.json" >>"$WORK/fetch.jsonl"
	[ $rc = 0 ] && [ "$(jfield "$WORK/out.json" code)" = 0 ] ||
		fail "fetch $* failed (exit $rc): $(cat "$WORK/out.json")"
}

: >"$WORK/expect.txt"
# expect METHOD URL CALLSID: what the recorder must have seen, in order
expect() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$WORK/expect.txt"; }
i=0
for m in POST GET; do
	for u in "$B/voice" "$B/voice?foo=1&bar=2" "$B/voice?q=a%20b&plus=%2B1&empty=&t=x+y" \
		"http://localhost:$P/app/voice.php?host=name"; do
		i=$((i + 1))
		sid=$(printf 'CA%032x' $i)
		fetch $m "$u" "$sid"
		expect $m "$u" "$sid"
	done
done
pass "$nfetch fetches (GET and POST, 4 URL shapes) answered code 0"

# what crossed the wire: headers and parameters
"$VALIDATE_PY" - "$WORK/hook.jsonl" "$WORK/expect.txt" "$WORK/params.txt" <<'PY' || fail "requests on the wire differ from the contract"
import json, re, sys, urllib.parse
recs = [json.loads(l) for l in open(sys.argv[1])]
exp = [l.rstrip("\n").split(" ") for l in open(sys.argv[2])]
base = [tuple(l.rstrip("\n").split("=", 1)) for l in open(sys.argv[3], encoding="utf-8")]
bad = 0
def no(msg):
    global bad
    bad += 1
    print("not ok - " + msg)
if len(recs) != len(exp):
    no("%d requests recorded, %d fetched" % (len(recs), len(exp)))
    sys.exit(1)
tokens = set()
for rec, (method, url, sid) in zip(recs, exp):
    h = {}
    for k, v in rec["headers"]:
        h.setdefault(k.lower(), []).append(v)
    one = lambda n: (h.get(n) or [None])[0]
    what = "%s %s" % (method, url)
    for n in ("x-twilio-signature", "x-signalwire-signature", "i-twilio-idempotency-token", "user-agent"):
        if len(h.get(n, [])) != 1:
            no("%s: header %s present %d times" % (what, n, len(h.get(n, []))))
    if one("x-twilio-signature") != one("x-signalwire-signature") or not one("x-twilio-signature"):
        no("%s: X-Twilio-Signature %r != X-SignalWire-Signature %r" % (what, one("x-twilio-signature"), one("x-signalwire-signature")))
    if not re.fullmatch(r"TwilioProxy/1\.1 dialerd/\S+", one("user-agent") or ""):
        no("%s: User-Agent %r" % (what, one("user-agent")))
    t = one("i-twilio-idempotency-token")
    if not t or t in tokens:
        no("%s: idempotency token %r missing or not unique" % (what, t))
    tokens.add(t)
    if rec["method"] != method:
        no("%s: method %s on the wire" % (what, rec["method"]))
    params = sorted([("CallSid", sid)] + base)
    u = urllib.parse.urlsplit(url)
    target = u.path + ("?" + u.query if u.query else "")
    if method == "POST":
        if rec["url"] != target:
            no("%s: request target %r, want %r" % (what, rec["url"], target))
        if not (one("content-type") or "").startswith("application/x-www-form-urlencoded"):
            no("%s: Content-Type %r" % (what, one("content-type")))
        if sorted(map(tuple, rec["form"] or [])) != params:
            no("%s: form %r, want %r" % (what, rec["form"], params))
    else:
        sep = "&" if u.query else "?"
        if not rec["url"].startswith(target + sep):
            no("%s: request target %r does not extend %r" % (what, rec["url"], target + sep))
        else:
            extra = urllib.parse.parse_qsl(rec["url"][len(target) + 1:], keep_blank_values=True)
            if sorted(extra) != params:
                no("%s: query parameters %r, want %r" % (what, extra, params))
        if rec["body"]:
            no("%s: a GET with a body" % what)
print("ok - %d requests: both signature headers equal, one idempotency token each (all distinct), "
      "User-Agent TwilioProxy/1.1 dialerd/<version>, parameters exactly as given" % len(recs)) if not bad else None
sys.exit(1 if bad else 0)
PY

validate_all "$WORK/hook.jsonl" >"$WORK/validate.out" 2>&1
vrc=$?
cat "$WORK/validate.out"
nok=$(grep -c '^ok - ' "$WORK/validate.out")
[ $vrc = 0 ] && [ "$nok" = $((nfetch * 3)) ] ||
	fail "the validators accepted $nok of $((nfetch * 3)) (request, library) pairs"
pass "python3-twilio, twilio-node and signalwire-node accepted all $nfetch requests"

# negative controls: a wrong token, then one tampered parameter
validate_all "$WORK/hook.jsonl" --token 54321 >"$WORK/neg.out" 2>&1 && fail "a wrong token validated"
assert_eq "$(grep -c '^ok - ' "$WORK/neg.out")" 0 "wrong token: every validator refused every request"
"$VALIDATE_PY" - "$WORK/hook.jsonl" "$WORK/tampered.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["method"] == "POST":
        r["body"] = r["body"].replace("Digits=1", "Digits=9", 1)
        out.write(json.dumps(r) + "\n")
PY
validate_all "$WORK/tampered.jsonl" >"$WORK/tamper.out" 2>&1 && fail "a tampered POST validated"
assert_eq "$(grep -c '^ok - ' "$WORK/tamper.out")" 0 "tampered POST parameter: every validator refused it"

# a token from the environment
: >"$WORK/hook.jsonl"
export DIALERD_AUTH_TOKEN='t0k3n with spaces/+='
sid=$(printf 'CA%032x' 99)
fetch POST "$B/voice?env=1" "$sid"
fetch GET "$B/voice?env=1" "$sid"
validate_all "$WORK/hook.jsonl" --token "$DIALERD_AUTH_TOKEN" >"$WORK/env.out" 2>&1 ||
	{ cat "$WORK/env.out"; fail "DIALERD_AUTH_TOKEN signatures not accepted"; }
validate_all "$WORK/hook.jsonl" >/dev/null 2>&1 && fail "signed with the default token although DIALERD_AUTH_TOKEN is set"
pass "DIALERD_AUTH_TOKEN is the signing key (all three validators, GET and POST)"
if grep -qF "$DIALERD_AUTH_TOKEN" "$WORK/hook.jsonl" "$WORK/fetch.jsonl" "$WORK/webhooktool.log"; then
	fail "the auth token appears on the wire or in the tool's output"
fi
pass "the auth token is neither on the wire nor in the tool's output"

# status callbacks through the outbox, GET and POST, to a URL with a query
# string, answered 204 without a Content-Type (a success for a callback)
unset DIALERD_AUTH_TOKEN
echo '{"default": {"status": 204, "content_type": null, "body": ""}}' >"$WORK/cb.routes.json"
CP=$(free_port)
webhook_serve cb "$CP"
for m in GET POST; do
	"$WEBHOOKTOOL" deliver --data-dir "$WORK/outbox-$m" --method $m --url "http://127.0.0.1:$CP/cb/$m?acct=7&x=a%20b" \
		--calls 3 --per-call 2 --exit-when-empty --max-seconds 20 >"$WORK/deliver-$m.out" 2>>"$WORK/webhooktool.log" ||
		fail "deliver --method $m failed: $(tail -n 2 "$WORK/deliver-$m.out")"
done
python3 "$TOP/tests/lib/callbacks.py" --log "$WORK/cb.jsonl" --calls 6 --per-call 2 ||
	fail "status callbacks (GET and POST, 204) not delivered as they should"
validate_all "$WORK/cb.jsonl" >"$WORK/cb-validate.out" 2>&1 ||
	{ grep '^not ok' "$WORK/cb-validate.out"; fail "a status callback's signature did not validate"; }
pass "12 status callbacks (GET and POST, URL with a query) validate with all three validators"
assert_eq "$(python3 -c 'import json, sys
print(sorted({json.loads(l)["method"] + " " + json.loads(l)["path"] for l in open(sys.argv[1])}))' "$WORK/cb.jsonl")" \
	"['GET /cb/GET', 'POST /cb/POST']" "--method GET sends GETs, POST sends POSTs"

# a URL without a path: the request target is "/", and a receiver can only
# rebuild http://host:port/ from it; the signature must cover that URL
: >"$WORK/hook.jsonl"
"$WEBHOOKTOOL" fetch --method POST --param CallSid=CA1 "$B" >"$WORK/out.json" 2>>"$WORK/webhooktool.log" ||
	fail "fetch of $B failed: $(cat "$WORK/out.json")"
validate_all "$WORK/hook.jsonl" >"$WORK/nopath.out" 2>&1 ||
	{ cat "$WORK/nopath.out"; fail "URL without a path: the signature does not cover the URL the receiver sees ($B/)"; }
pass "URL without a path: signed as $B/, the URL that was requested"
exit 0
