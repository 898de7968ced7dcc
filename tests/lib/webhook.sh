# webhook.sh: start the recording webhook server (tests/lib/webhook.py)

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
	_deadline=$(( $(date +%s) + 10 ))
	until curl -s -o /dev/null --max-time 1 "$WEBHOOK_URL/__ready"; do
		[ "$(date +%s)" -le $_deadline ] || harness_error "webhook server did not start"
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
