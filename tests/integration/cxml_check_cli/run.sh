#!/bin/sh
# cxml_check_cli: dialerd check prints the tree, warnings or errors, JSON, and exits 0/1/2
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# run_check OUTFILE ERRFILE ARGS...: prints the exit status
run_check() {
	o=$1; e=$2; shift 2
	"$DIALERD" check "$@" >"$o" 2>"$e"
	echo $?
}

cat >"$WORK/valid.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Dial action="https://app.example.com/done" timeout="25" callerId="+15551230000" answerOnBridge="true" sipHeaders="X-From-Dial=d1">
    <Sip username="alice" password="topsecret" codecs="OPUS,PCMU">sip:bob@pbx.example.com:5070;transport=tcp?X-Account=42&amp;User-to-User=0A1B%3Bencoding%3Dhex</Sip>
  </Dial>
  <Say>Goodbye</Say>
  <Hangup/>
</Response>
XML
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/valid.xml")
assert_eq "$rc" 0 "valid document: exit 0"
out=$(cat "$WORK/out")
assert_match "$out" '^  Dial action=https://app.example.com/done method=POST timeout=25 ' "Dial line with effective attributes"
assert_match "$out" 'Sip target=sip:bob@pbx.example.com:5070;transport=tcp user=bob host=pbx.example.com port=5070 transport=tcp' "Sip target without the header part"
assert_match "$out" 'codecs=OPUS,PCMU' "codecs in the given order"
assert_match "$out" 'header X-Account: 42' "URI header listed"
assert_match "$out" 'header User-to-User: 0A1B;encoding=hex' "percent-decoded UUI"
assert_match "$out" 'header X-From-Dial: d1' "Dial sipHeaders applied to the Sip"
assert_match "$out" 'Say \(parsed only\) text=Goodbye' "parsed-only verbs are marked"
assert_match "$out" 'valid: 0 warnings$' "summary line"
assert_match "$out" 'password=\*\*\*' "password masked"
if grep -q topsecret "$WORK/out"; then fail "password printed in clear"; else pass "password never printed"; fi
assert_eq "$(wc -c <"$WORK/err" | tr -d ' ')" 0 "nothing on stderr"

rc=$(run_check "$WORK/out" "$WORK/err" - <"$WORK/valid.xml")
assert_eq "$rc" 0 "stdin (-): exit 0"
assert_match "$(cat "$WORK/out")" 'header X-Account: 42' "stdin parsed the same"

cat >"$WORK/warn.xml" <<'XML'
<Response>
  <Dial timeout="3" sequential="maybe">
    <Sip>sip:bob@example.com?X-Twilio-CallSid=CA1&amp;X-Inj=a%0D%0AVia:x&amp;Foo=1&amp;X-Ok=1</Sip>
  </Dial>
  <Fly/>
</Response>
XML
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/warn.xml")
assert_eq "$rc" 0 "warnings only: exit 0"
out=$(cat "$WORK/out")
assert_match "$out" '^2:9: warning 13212: <Dial timeout="3">: below the minimum of 5 seconds; using 5$' "timeout clamped, 13212 at line:col"
assert_match "$out" 'timeout=5 ' "effective timeout 5"
assert_match "$out" '^2:21: warning 13218: ' "sequential warning 13218"
assert_match "$out" 'refused X-Twilio-CallSid: CA1 \(32113, uri: ' "reserved name refused (32113)"
assert_match "$out" 'refused X-Inj: "a\\r\\nVia:x" \(21229' "CRLF injection refused (21229), shown escaped"
assert_match "$out" 'refused Foo: 1 \(13252' "non-X name refused (13252)"
assert_match "$out" 'header X-Ok: 1' "the good header still goes"
assert_match "$out" 'warning 12200: unknown verb <Fly>; skipped' "unknown verb warning"
assert_match "$out" 'valid: 6 warnings$' "six warnings"

cat >"$WORK/bad.xml" <<'XML'
<Response>
  <Dial hangupOnStar="perhaps" timeLimit="0">
    <Sip>sip:bob@example.com</Sip>
  </Dial>
  <Say>unclosed
</Response>
XML
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/bad.xml")
assert_eq "$rc" 1 "malformed document: exit 1"
out=$(cat "$WORK/out")
assert_match "$out" '^6:12: error 12100: document parse failure: Opening and ending tag mismatch: Say line 5 and Response$' "12100 with line:col"
assert_match "$out" 'invalid: [0-9]+ errors?, 0 warnings$' "summary says invalid"
assert_eq "$(wc -c <"$WORK/err" | tr -d ' ')" 0 "libxml2 printed nothing"

sed 's/<Say>unclosed/<Say>closed<\/Say>/' "$WORK/bad.xml" >"$WORK/bad2.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/bad2.xml")
assert_eq "$rc" 1 "bad attribute values: exit 1"
out=$(cat "$WORK/out")
assert_match "$out" '^2:9: error 13213: <Dial hangupOnStar="perhaps">: must be true or false$' "hangupOnStar 13213 at 2:9"
assert_match "$out" '^2:32: error 13216: <Dial timeLimit="0">: expected an integer 1-86400$' "timeLimit 13216 at 2:32"

printf '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n<Response><Say>&b;</Say></Response>\n' >"$WORK/laughs.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/laughs.xml")
assert_eq "$rc" 1 "entity expansion document: exit 1"
assert_match "$(cat "$WORK/out")" 'error 12100: document parse failure: a DOCTYPE is not allowed' "DOCTYPE refused"

"$PY" -c 'import sys; sys.stdout.write("<Response>" + " " * 70000 + "</Response>")' >"$WORK/big.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/big.xml")
assert_eq "$rc" 1 "70 kB document: exit 1"
assert_match "$(cat "$WORK/out")" 'error 11750: document is 70021 bytes, more than the limit of 65536' "oversize is 11750"

for n in 1 2 3 4 5 6 7 8 9 10 11; do printf '<Sip>sip:u%s@h.example</Sip>' $n; done >"$WORK/nouns"
printf '<Response><Dial>%s</Dial></Response>' "$(cat "$WORK/nouns")" >"$WORK/eleven.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/eleven.xml")
assert_eq "$rc" 1 "eleven <Sip>: exit 1"
assert_match "$(cat "$WORK/out")" 'error 12200: <Dial> has 11 <Sip> nouns; at most 10 are allowed' "more than 10 Sip is an error"

# sip:user:password@host: the password is digest credentials, never printed
cat >"$WORK/userpw.xml" <<'XML'
<Response>
  <Dial sipHeaders="Foo=1,X-D=2">
    <Sip>sip:alice:s3cr%65t@pbx.example.com;transport=tcp</Sip>
  </Dial>
</Response>
XML
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/userpw.xml")
assert_eq "$rc" 0 "user:password URI: exit 0"
out=$(cat "$WORK/out")
assert_match "$out" 'Sip target=sip:alice@pbx.example.com;transport=tcp user=alice ' "the target has no password"
assert_match "$out" 'username=alice password=\*\*\*' "taken as digest credentials, masked"
assert_match "$out" '^    refused Foo: 1 \(13252, dial-sipHeaders: ' "Dial sipHeaders refusal listed once, under the Dial"
assert_eq "$(grep -c 'refused Foo' "$WORK/out")" 1 "... once"
rc=$(run_check "$WORK/out.json" "$WORK/err" --json "$WORK/userpw.xml")
assert_eq "$rc" 0 "--json user:password: exit 0"
if grep -q 's3cr' "$WORK/out" "$WORK/out.json" "$WORK/err"; then
	fail "the URI password was printed"
else
	pass "the URI password is never printed (text, JSON)"
fi
sed 's/<Sip>/<Sip username="bob">/' "$WORK/userpw.xml" >"$WORK/userpw2.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/userpw2.xml")
assert_eq "$rc" 1 "a URI password and a username attribute: exit 1"
assert_match "$(cat "$WORK/out")" 'error 32110: SIP URI holds a password and <Sip> has username or password attributes' "refused with 32110"
if grep -q 's3cr' "$WORK/out" "$WORK/err"; then fail "password printed in the error"; else pass "nor in the error"; fi
printf '<Response><Dial><Sip username="a&quot;b">sip:a@b</Sip></Dial></Response>' >"$WORK/quote.xml"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/quote.xml")
assert_eq "$rc" 1 "a username with a quote: exit 1"

# JSON: the same content, parseable
rc=$(run_check "$WORK/out.json" "$WORK/err" --json "$WORK/warn.xml")
assert_eq "$rc" 0 "--json valid: exit 0"
got=$("$PY" - "$WORK/out.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
d = j["verbs"][0]
s = d["nouns"][0]
print(j["valid"], d["verb"], d["attributes"]["timeout"], s["target"],
      [h["name"] for h in s["headers"]], [(r["name"], r["code"]) for r in s["refused"]],
      [(x["severity"], x["code"], x["line"], x["col"], x["attribute"]) for x in j["diagnostics"]][:2],
      j["warnings"], j["errors"])
PYEOF
)
assert_eq "$got" "True Dial 5 sip:bob@example.com ['X-Ok'] [('X-Twilio-CallSid', 32113), ('X-Inj', 21229), ('Foo', 13252)] [('warning', 13212, 2, 9, 'timeout'), ('warning', 13218, 2, 21, 'sequential')] 6 0" "--json tree, refusals and diagnostics"
rc=$(run_check "$WORK/out.json" "$WORK/err" --json "$WORK/bad.xml")
assert_eq "$rc" 1 "--json invalid: exit 1"
got=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["valid"], "verbs" in j, j["diagnostics"][0]["code"], j["errors"] > 0)' "$WORK/out.json")
assert_eq "$got" "False False 12100 True" "--json errors"

# usage and I/O errors
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/missing.xml")
assert_eq "$rc" 2 "missing file: exit 2"
assert_match "$(cat "$WORK/err")" 'missing.xml: No such file or directory' "missing file named on stderr"
rc=$(run_check "$WORK/out" "$WORK/err")
assert_eq "$rc" 2 "no file: exit 2"
assert_match "$(cat "$WORK/err")" '^usage: dialerd check' "usage printed"
rc=$(run_check "$WORK/out" "$WORK/err" --xml "$WORK/valid.xml")
assert_eq "$rc" 2 "unknown option: exit 2"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK/valid.xml" "$WORK/valid.xml")
assert_eq "$rc" 2 "two files: exit 2"
rc=$(run_check "$WORK/out" "$WORK/err" "$WORK")
assert_eq "$rc" 2 "a directory: exit 2"
