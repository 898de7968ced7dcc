# webhook.sh: start the recording webhook server (tests/lib/webhook.py); the set-up of the
# webhook_* cases (webhook_init)

# webhook_init [db] [validators]: what every webhook_* case starts with, after dlr_init:
# webhooktool and python3-twilio (webhooktool_init), no auth token inherited from the caller's
# environment, a free port P for the case's recorder (webhook_serve NAME "$P") and its base URL
# B; with db, a throwaway PostgreSQL with the schema (DATABASE_URL, tests/lib/pg.sh); with
# validators, the npm validators validate_all runs (helperlibs_ready: installed, or the case
# is skipped), so that a case does not depend on another having installed them
webhook_init() {
	webhooktool_init
	unset DIALERD_AUTH_TOKEN
	for _w in "$@"; do
		case $_w in
		db)
			. "$TOP/tests/lib/pg.sh"
			pg_start
			DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >"$WORK/migrate.log" 2>&1 ||
				harness_error "migrate failed: $(tail -n 3 "$WORK/migrate.log")"
			;;
		validators) helperlibs_ready ;;
		*) harness_error "webhook_init: unknown word $_w" ;;
		esac
	done
	P=$(free_port)
	B=http://127.0.0.1:$P
}

# webhook_start ROUTES.json: sets WEBHOOK_URL (no trailing slash) and WEBHOOK_LOG
webhook_start() {
	WEBHOOK_ROUTES=$1
	WEBHOOK_PORT=$(free_port)
	WEBHOOK_LOG=$WORK/webhook.jsonl
	WEBHOOK_URL=http://127.0.0.1:$WEBHOOK_PORT
	export WEBHOOK_ROUTES WEBHOOK_PORT WEBHOOK_LOG WEBHOOK_URL
	python3 "$TOP/tests/lib/webhook.py" --port "$WEBHOOK_PORT" \
		--routes "$WEBHOOK_ROUTES" --log "$WEBHOOK_LOG" >"$WORK/webhook.log" 2>&1 &
	dlr_track $!
	# any answer, even the 404 of an unknown path, means it is up
	_deadline=$(( $(date +%s) + 20 ))
	until curl -s -o /dev/null --max-time 1 "$WEBHOOK_URL/__ready"; do
		[ "$(date +%s)" -le $_deadline ] || harness_error "webhook server did not start: $(tail -n 2 "$WORK/webhook.log")"
		sleep 0.05
	done
}

# webhook_requests PATH: the recorded requests to PATH as JSON lines
webhook_requests() {
	python3 - "$WEBHOOK_LOG" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] == sys.argv[2]:
        print(line, end="")
PY
}

# webhook_param PATH N NAME: form (or query) parameter NAME of the N-th (0-based) request to PATH
webhook_param() {
	python3 - "$WEBHOOK_LOG" "$1" "$2" "$3" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [r for r in reqs if r["path"] == sys.argv[2]]
n = int(sys.argv[3])
if n < len(reqs):
    r = reqs[n]
    for k, v in (r["form"] or []) + r["query"]:
        if k == sys.argv[4]:
            print(v)
            break
PY
}

# webhook_serve NAME PORT [webhook.py ARGS...]: a recorder on PORT with the
# routes $WORK/NAME.routes.json and the log $WORK/NAME.jsonl (appended to, so
# it can be stopped and started again on the same port); ready when it says
# it listens, so no probe request lands in its log. Sets WEBHOOK_PID.
webhook_serve() {
	_name=$1
	_port=$2
	shift 2
	[ -f "$WORK/$_name.routes.json" ] || echo '{}' >"$WORK/$_name.routes.json"
	: >"$WORK/$_name-server.out"
	python3 "$TOP/tests/lib/webhook.py" --port "$_port" --routes "$WORK/$_name.routes.json" \
		--log "$WORK/$_name.jsonl" "$@" >"$WORK/$_name-server.out" 2>&1 &
	WEBHOOK_PID=$!
	dlr_track $WEBHOOK_PID
	_deadline=$(( $(date +%s) + 10 ))
	until grep -q '^webhook listening' "$WORK/$_name-server.out"; do
		kill -0 $WEBHOOK_PID 2>/dev/null ||
			harness_error "webhook server $_name did not start: $(tail -n 1 "$WORK/$_name-server.out")"
		[ "$(date +%s)" -le $_deadline ] || harness_error "webhook server $_name did not start"
		sleep 0.05
	done
}

# webhook_stop PID: stops a recorder started by webhook_serve and waits for it
webhook_stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds;
# 1 when the deadline passed
wait_for() {
	_deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		[ "$(date +%s)" -le $_deadline ] || return 1
		sleep 0.1
	done
}

# webhooktool_init: WEBHOOKTOOL, the client's test driver (built with the
# unit tests: make check TESTS=), and VALIDATE_PY, the python3-twilio
# interpreter (Debian's /usr/bin/python3)
webhooktool_init() {
	WEBHOOKTOOL=$BUILD/tests/daemon/webhooktool
	[ -x "$WEBHOOKTOOL" ] ||
		harness_error "no $WEBHOOKTOOL (make -C $BUILD check TESTS= builds it)"
	VALIDATE_PY=/usr/bin/python3
	[ -x "$VALIDATE_PY" ] || VALIDATE_PY=python3
	export WEBHOOKTOOL VALIDATE_PY
}

# jfield FILE NAME: field NAME of the JSON object on the last line of FILE
jfield() {
	python3 -c 'import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
v = json.loads(lines[-1]).get(sys.argv[2]) if lines else None
print("" if v is None else v)' "$1" "$2" 2>/dev/null
}

# helperlibs_ready: twilio@6.2.0 and @signalwire/compatibility-api@3.2.0 in
# tests/helperlibs/node_modules (npm ci from the committed lockfile when
# missing); skips the case when node or npm cannot provide them
helperlibs_ready() {
	command -v node >/dev/null || skip "node is missing, the npm validators cannot run (apt-get install nodejs npm)"
	_libs=$TOP/tests/helperlibs
	_installed() {
		(cd "$_libs" && node -e '
			const t = require("./node_modules/twilio/package.json").version;
			const s = require("./node_modules/@signalwire/compatibility-api/package.json").version;
			process.exit(t === "6.2.0" && s === "3.2.0" ? 0 : 1);' 2>/dev/null)
	}
	_installed && return 0
	command -v npm >/dev/null || skip "npm is missing, cannot install twilio@6.2.0 and @signalwire/compatibility-api@3.2.0 (apt-get install npm)"
	(cd "$_libs" && flock 9 && { _installed || timeout 600 npm ci --no-audit --no-fund; }) \
		9>"$_libs/.npm-lock" >"$WORK/npm.log" 2>&1 ||
		skip "npm ci in tests/helperlibs failed: $(tail -n 3 "$WORK/npm.log" | tr '\n' ' ')"
	_installed || skip "npm ci did not install twilio@6.2.0 and @signalwire/compatibility-api@3.2.0"
}

# validate_all LOG [validate_sig ARGS...]: every request of LOG checked by the
# three validators; prints their ok/not ok lines; 0 when all accepted it
validate_all() {
	_log=$1
	shift
	_rc=0
	"$VALIDATE_PY" "$TOP/tests/lib/validate_sig.py" "$@" "$_log" || _rc=1
	node "$TOP/tests/lib/validate_sig.js" "$@" "$_log" || _rc=1
	return $_rc
}
