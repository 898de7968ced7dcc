#!/bin/sh
# cxml_helper_libs: documents built by the official helper libraries pass dialerd check
# python3-twilio (Debian) VoiceResponse, npm twilio@6.2.0 and @signalwire/compatibility-api@3.2.0
# (tests/helperlibs, installed with npm ci from the committed lockfile) build every case of
# cases.json; dialerd check --json must accept each and yield the expected effective tree.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
HERE=$TOP/tests/integration/cxml_helper_libs
LIBS=$TOP/tests/helperlibs
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$PY" -c 'import twilio.twiml.voice_response' 2>"$WORK/py.err" ||
	fail "python3-twilio is not importable by $PY (apt-get install python3-twilio): $(tail -1 "$WORK/py.err")"
command -v node >/dev/null || skip "node is missing, the npm helper libraries cannot run (apt-get install nodejs npm)"

installed() {
	(cd "$LIBS" && node -e '
		const t = require("./node_modules/twilio/package.json").version;
		const s = require("./node_modules/@signalwire/compatibility-api/package.json").version;
		process.exit(t === "6.2.0" && s === "3.2.0" ? 0 : 1);' 2>/dev/null)
}
if ! installed; then
	command -v npm >/dev/null || skip "npm is missing, cannot install twilio@6.2.0 and @signalwire/compatibility-api@3.2.0 (apt-get install npm)"
	if ! (cd "$LIBS" && timeout 600 npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1); then
		skip "npm ci in tests/helperlibs failed, npm packages cannot be installed: $(tail -3 "$WORK/npm.log" | tr '\n' ' ')"
	fi
	installed || skip "npm ci did not install twilio@6.2.0 and @signalwire/compatibility-api@3.2.0"
	pass "npm ci installed the helper libraries from the lockfile"
fi

ncases=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$HERE/cases.json")
rc=0
for lib in python3-twilio twilio-node signalwire-node; do
	mkdir -p "$WORK/$lib"
	if [ $lib = python3-twilio ]; then
		"$PY" "$HERE/gen.py" "$HERE/cases.json" "$WORK/$lib" 2>"$WORK/$lib.err"
	else
		node "$HERE/gen.js" $lib "$HERE/cases.json" "$WORK/$lib" 2>"$WORK/$lib.err"
	fi || fail "$lib generator failed: $(tail -3 "$WORK/$lib.err")"
	n=$(ls "$WORK/$lib" | wc -l | tr -d ' ')
	assert_eq "$n" "$ncases" "$lib built $ncases documents"
	"$PY" "$HERE/check.py" "$DIALERD" "$HERE/cases.json" "$WORK/$lib" "$lib" || rc=1
done
# the three libraries must agree on what dialerd parsed (attribute order differs between
# them, so diagnostics are compared as a sorted list and without line:column)
for c in $(ls "$WORK/python3-twilio"); do
	"$DIALERD" check --json "$WORK/python3-twilio/$c" >"$WORK/a.json"
	for lib in twilio-node signalwire-node; do
		"$DIALERD" check --json "$WORK/$lib/$c" >"$WORK/b.json"
		if "$PY" - "$WORK/a.json" "$WORK/b.json" <<'PYEOF'
import json, sys
def key(p):
    j = json.load(open(p))
    return (j["verbs"], sorted((d["severity"], d["code"], d["element"], d["attribute"], d["message"])
                               for d in j["diagnostics"]))
sys.exit(0 if key(sys.argv[1]) == key(sys.argv[2]) else 1)
PYEOF
		then
			pass "$c: $lib and python3-twilio parse to the same tree"
		else
			fail "$c: $lib and python3-twilio parse differently"
		fi
	done
done
[ $rc = 0 ] || fail "some generated documents did not check as expected"
