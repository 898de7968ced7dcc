#!/bin/sh
# rest_capacity: REST creates stop at dialerd's capacity instead of piling up calls the SIP
# engine cannot start: with sip_rtp_ports holding 4 port pairs, 3 calls ring (3/4 of the pairs)
# and the 4th create answers 429 20429 with Retry-After, leaving no call, row or INVITE; once
# the API hangs one up, a create is taken again.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
# 4 pairs claimed for this case: no other process holds one of them
DIALERD_SIP_RTP_PORTS=$(port_block 8) || harness_error "no 8 free ports"
export DIALERD_SIP_RTP_PORTS
echo '{}' >"$WORK/routes.json"
calls_start
UAS=$(free_port)
sipp_start uas uas_ring_cancel.xml -i 127.0.0.1 -p "$UAS" -m 4
dial_wait_port udp "$UAS"

/usr/bin/python3 - "$DIALERD_URL" "$DIALERD_ACCOUNT_SID" "$DIALERD_AUTH_TOKEN" "$UAS" "$WH" <<'PY' ||
import sys, time, base64, json, urllib.request, urllib.parse, urllib.error
base, sid, token, uas, wh = sys.argv[1:6]
auth = "Basic " + base64.b64encode(("%s:%s" % (sid, token)).encode()).decode()
bad = 0
def check(cond, what):
    global bad
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    bad += 0 if cond else 1
def req(method, path, form=None):
    data = urllib.parse.urlencode(form).encode() if form else None
    r = urllib.request.Request(base + "/2010-04-01/Accounts/%s/%s" % (sid, path), data=data,
                               method=method, headers={"Authorization": auth})
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status, f.headers, json.loads(f.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")
form = {"To": "sip:bob@127.0.0.1:%s" % uas, "From": "+15550100",
        "Url": "http://127.0.0.1:%s/answer" % wh, "Timeout": "60"}
sids = []
for i in range(3):
    st, _, body = req("POST", "Calls.json", form)
    check(st == 201, "create %d of 3: 201 (%s)" % (i + 1, st))
    sids.append(body["sid"])
st, hdrs, body = req("POST", "Calls.json", form)
check(st == 429 and body["code"] == 20429 and hdrs.get("Retry-After") == "1",
      "the 4th create: 429 20429 with Retry-After: 1 (%s %s)" % (st, body))
st, _, body = req("POST", "Calls/%s.json" % sids[0], {"Status": "canceled"})
check(st == 200, "cancel the first ringing call: 200")
end = time.time() + 10
while time.time() < end:
    st, _, body = req("GET", "Calls/%s.json" % sids[0])
    if body["status"] == "canceled":
        break
    time.sleep(0.1)
check(body["status"] == "canceled", "the first call: canceled")
time.sleep(0.5)
st, _, body = req("POST", "Calls.json", form)
check(st == 201, "a create after it: 201 (%s)" % st)
sids.append(body.get("sid"))
for s in sids[1:]:
    req("POST", "Calls/%s.json" % s, {"Status": "completed"})
print("sids %s" % " ".join(sids[:3]), flush=True)
sys.exit(1 if bad else 0)
PY
	fail "the REST checks above"
sipp_wait uas 20
assert_eq "$?" 0 "far end: four INVITEs rang and were cancelled, no fifth"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
n=$(psql -At "$DATABASE_URL" -c "select count(*) from calls where direction = 'outbound-api'")
assert_eq "$n" 4 "four calls in the log: the refused create left none"
n=$(psql -At "$DATABASE_URL" -c "select count(*) from calls where status = 'canceled'")
assert_eq "$n" 4 "each ended canceled"
