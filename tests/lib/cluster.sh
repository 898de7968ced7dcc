# cluster.sh: several dialerd instances behind Kamailio's dispatcher on one machine, for the
# cluster_* cases. Source after common.sh and dlr_init:
#   cluster_init                    PostgreSQL (pg.sh), the schema, the webhook recorder
#   cluster_instance_start a 127.0.0.2   dialerd "a": SIP and HTTP on 127.0.0.2, data_dir $WORK/var/a
#   cluster_kam_start               Kamailio (contrib/kamailio/dialerd-dispatcher.cfg) on
#                                   127.0.0.1:$KAM_PORT with every started instance in set 1
#   cluster_uac NAME RATE COUNT HOLD_MS   SIPp callers through Kamailio (background)
# Addresses: Kamailio and the recorder on 127.0.0.1, instance a on 127.0.0.2, b on 127.0.0.3
# (the whole 127.0.0.0/8 is local; no set-up), SIPp targets on 127.0.0.10. Every process is
# tracked by PID (dlr_track) and stopped at exit; nothing is stopped by name.
# Logs: $WORK/dialerd-NAME.log, $WORK/kamailio.log, $WORK/requests.log (the recorder's).

KAMAILIO=${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
KAMCMD=${KAMCMD:-$(command -v kamcmd || echo /usr/sbin/kamcmd)}
CLUSTER_NAMES=""

# cl_port ADDR: a port free for UDP and TCP on ADDR now, claimed for the case (free_port)
cl_port() { free_port --addr "$1"; }

# cl_wait_udp ADDR PORT [SECONDS]: until something listens on ADDR:PORT/udp
cl_wait_udp() {
	_d=$(( $(date +%s) + ${3:-10} ))
	until ss -Hlun "src $1 and sport = :$2" 2>/dev/null | grep -q .; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.05
	done
}

# cluster_init: the database, the schema and the webhook recorder (WH: its port; routes in
# $WORK/routes.json, re-read on every request; every request in $WORK/requests.log)
cluster_init() {
	[ -x "$KAMAILIO" ] || skip "kamailio not installed (apt-get install kamailio)"
	[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/dispatcher.so ] ||
		[ -n "$(find /usr/lib* -name dispatcher.so -path '*kamailio*' 2>/dev/null | head -n 1)" ] ||
		skip "Kamailio's dispatcher module is not installed"
	. "$TOP/tests/lib/pg.sh"
	. "$TOP/tests/lib/sipp.sh"
	[ -n "$SIPP" ] || skip "sipp not installed (apt-get install sip-tester)"
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	pg_start
	DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
	WH=$(free_port)
	echo '{}' >"$WORK/routes.json"
	: >"$WORK/requests.log"
	python3 "$TOP/tests/lib/webhook.py" --port "$WH" --routes "$WORK/routes.json" \
		--log "$WORK/requests.log" >"$WORK/webhook.log" 2>&1 &
	dlr_track $!
	_d=$(( $(date +%s) + 20 ))
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$WH/ping"; do
		[ "$(date +%s)" -le $_d ] || harness_error "webhook server did not start: $(tail -n 2 "$WORK/webhook.log")"
		sleep 0.05
	done
	export DIALERD_DATABASE_URL="$DATABASE_URL"
	export DIALERD_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
	export DIALERD_AUTH_TOKEN="test-token-$(basename "$(dirname "$0")")"
	export DIALERD_VOICE_URL="http://127.0.0.1:$WH/voice"
	export DIALERD_STATUS_CALLBACK="http://127.0.0.1:$WH/status"
	export DIALERD_AUTO_MIGRATE=false
	mkdir -p "$WORK/var"
}

# cluster_voice DOC: every /voice request is answered 200 with the cXML DOC; /status 204
cluster_voice() {
	printf '{"/voice": {"status": 200, "content_type": "text/xml", "body": "%s"}, "/status": {"status": 204, "body": ""}}\n' \
		"$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$WORK/routes.json"
}

# cluster_instance_start NAME ADDR: dialerd with instance=NAME, SIP and HTTP on ADDR (own
# ports), data_dir $WORK/var/NAME, RTP relay on ADDR (it binds relayed media on its SIP
# listen address, so instances on distinct addresses share the port range without a clash).
# Sets CL_PID_<NAME>, CL_SIP_<NAME> (ADDR:PORT), CL_HTTP_<NAME>.
cluster_instance_start() {
	_n=$1
	_a=$2
	eval "_sip=\${CL_SIP_$_n:-}"
	eval "_http=\${CL_HTTP_$_n:-}"
	[ -n "$_sip" ] || _sip=$_a:$(cl_port "$_a")
	[ -n "$_http" ] || _http=$_a:$(cl_port "$_a")
	mkdir -p "$WORK/var/$_n"
	DIALERD_INSTANCE=$_n DIALERD_SIP_LISTEN=$_sip DIALERD_HTTP_LISTEN=$_http \
		DIALERD_DATA_DIR=$WORK/var/$_n "$DIALERD" >>"$WORK/dialerd-$_n.log" 2>&1 </dev/null &
	_pid=$!
	dlr_track $_pid
	eval "CL_PID_$_n=$_pid CL_SIP_$_n=$_sip CL_HTTP_$_n=$_http CL_ADDR_$_n=$_a"
	case " $CLUSTER_NAMES " in *" $_n "*) ;; *) CLUSTER_NAMES="$CLUSTER_NAMES $_n" ;; esac
	wait_http "http://$_http/health" 20 ||
		harness_error "dialerd $_n did not answer /health on $_http"
	cl_wait_udp "$_a" "${_sip##*:}" || harness_error "dialerd $_n does not listen on $_sip"
}

# cluster_pid NAME / cluster_sip NAME / cluster_http NAME
cluster_pid() { eval "echo \$CL_PID_$1"; }
cluster_sip() { eval "echo \$CL_SIP_$1"; }
cluster_http() { eval "echo \$CL_HTTP_$1"; }

# cluster_kam_start [-A NAME=VALUE...]: Kamailio with contrib's configuration and test values
# (probe every second (CL_PING), 2 failures out, 2 successes in, 2 s without a reply fails a branch),
# every started instance in set 1; CL_ALG=10 selects by call load instead of round robin.
# KAM_PORT, KAM_PID, KAM_CTL (for kamcmd -s).
cluster_kam_start() {
	KAM_PORT=$(cl_port 127.0.0.1)
	mkdir -p "$WORK/kam"
	: >"$WORK/dispatcher.list"
	for _n in $CLUSTER_NAMES; do
		echo "1 sip:$(cluster_sip "$_n") 0 0 duid=$_n;maxload=1000" >>"$WORK/dispatcher.list"
	done
	KAM_CTL=unix:$WORK/kam/ctl
	"$KAMAILIO" -f "$TOP/contrib/kamailio/dialerd-dispatcher.cfg" -DD -E -m 64 -M 8 \
		-Y "$WORK/kam" -w "$WORK/kam" \
		-A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "DS_LIST=\"$WORK/dispatcher.list\"" \
		-A "CTL_SOCK=\"$KAM_CTL\"" -A "DS_PING_INTERVAL=${CL_PING:-1}" -A FR_TIMER=2000 \
		-A FR_INV_TIMER=30000 -A CHILDREN=2 ${CL_ALG:+-A "DS_ALG=\"$CL_ALG\""} "$@" \
		>>"$WORK/kamailio.log" 2>&1 </dev/null &
	KAM_PID=$!
	dlr_track $KAM_PID
	cl_wait_udp 127.0.0.1 "$KAM_PORT" || harness_error "Kamailio did not start (see kamailio.log)"
	# every destination active ("AP": active and probing; "AX" before its first probe)
	for _n in $CLUSTER_NAMES; do
		cluster_wait_state "$_n" 'A.' 15 || harness_error "Kamailio never saw $_n up: $(cluster_ds_list)"
	done
}

# cluster_ds_list: the dispatcher's view, one "URI FLAGS" line per destination
cluster_ds_list() {
	"$KAMCMD" -s "$KAM_CTL" dispatcher.list 2>/dev/null | awk '
		/URI:/ { u = $2 } /FLAGS:/ { print u, $2 }'
}

# cluster_state NAME: the dispatcher's flags of the instance (AP active, IP inactive, TP trying,
# DX disabled)
cluster_state() {
	cluster_ds_list | awk -v u="sip:$(cluster_sip "$1")" '$1 == u { print $2 }'
}

# cluster_wait_state NAME FLAGS-REGEX SECONDS
cluster_wait_state() {
	_d=$(( $(date +%s) + $3 ))
	until cluster_state "$1" | grep -Eq "^($2)\$"; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.2
	done
}

# cluster_scenarios: the SIPp caller used by the cases, written to $WORK/cl_uac.xml. Like
# tests/sipp/call_uac.xml, but its ACK and BYE carry the Route set built from the Record-Route
# of the 200 ([routes]), so they go through Kamailio to the Contact of the instance that
# answered; the BYE waits for its 200
cluster_scenarios() {
	cat >"$WORK/cl_uac.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="cluster uac">
  <send retrans="500">
    <![CDATA[
INVITE sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Carol Caller" <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:carol@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
X-Lead-Id: [call_number]
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: "Carol Caller" <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: "Carol Caller" <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
  <recv response="200"/>
</scenario>
XML
}

# cluster_refused NAME: one INVITE through Kamailio that must be refused (408, 480, 500 or 503:
# SIPp fails on any other answer); waits for it; the code in $WORK/NAME.msg (cluster_final_code)
cluster_refused() {
	[ -f "$WORK/cl_uac.xml" ] || cluster_scenarios
	sed -e '/<recv response="200" rtd="true" rrs="true"\/>/,$d' "$WORK/cl_uac.xml" >"$WORK/cl_refused.xml"
	cat >>"$WORK/cl_refused.xml" <<'XML'
  <recv response="408" optional="true" next="ack"/>
  <recv response="480" optional="true" next="ack"/>
  <recv response="500" optional="true" next="ack"/>
  <recv response="503"/>
  <label id="ack"/>
  <send>
    <![CDATA[
ACK sip:+15550100@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: "Carol Caller" <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
To: <sip:+15550100@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]>
  </send>
</scenario>
XML
	sipp_start "$1" "$WORK/cl_refused.xml" "127.0.0.1:$KAM_PORT" -i 127.0.0.1 \
		-p "$(cl_port 127.0.0.1)" -m 1 -trace_msg -message_file "$WORK/$1.msg"
	sipp_wait "$1" 30
}

# cluster_final_code NAME: the status line of the final answer SIPp NAME got to its INVITE
cluster_final_code() {
	grep -E '^SIP/2.0 [2-6][0-9][0-9] ' "$WORK/$1.msg" | tail -n 1 | tr -d '\r'
}

# cluster_uac NAME RATE COUNT HOLD_MS [SIPP ARGS...]: COUNT calls at RATE calls/s through
# Kamailio, each held HOLD_MS after the answer, in the background (sipp_wait NAME). Message
# trace $WORK/NAME.msg, statistics $WORK/NAME.csv (cluster_uac_counts)
cluster_uac() {
	[ -f "$WORK/cl_uac.xml" ] || cluster_scenarios
	_n=$1
	_r=$2
	_m=$3
	_h=$4
	shift 4
	sipp_start "$_n" "$WORK/cl_uac.xml" "127.0.0.1:$KAM_PORT" -i 127.0.0.1 \
		-p "$(cl_port 127.0.0.1)" -r "$_r" -m "$_m" -d "$_h" -l $(( _r * 10 + 50 )) \
		-trace_stat -stf "$WORK/$_n.csv" -fd 1 -trace_screen -screen_file "$WORK/$_n.screen" \
		-max_recv_loops 2000 "$@"
}

# cluster_uac_counts NAME: "SUCCESSFUL FAILED" calls in SIPp's last statistics line
cluster_uac_counts() {
	python3 - "$WORK/$1.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
print(last[h.index("SuccessfulCall(C)")], last[h.index("FailedCall(C)")])
PY
}

# cluster_kill NAME [SIGNAL]: signal an instance by its PID
cluster_kill() { kill "-${2:-TERM}" "$(cluster_pid "$1")" 2>/dev/null; }

# cluster_wait_exit NAME SECONDS: waits for the instance to exit; its status in CL_RC
cluster_wait_exit() {
	_p=$(cluster_pid "$1")
	_d=$(( $(date +%s) + $2 ))
	while kill -0 "$_p" 2>/dev/null; do
		[ "$(date +%s)" -le $_d ] || return 1
		sleep 0.1
	done
	wait "$_p"
	CL_RC=$?
}

# cluster_callbacks_ok: every call in the call log has exactly one terminal status callback at
# the recorder and each callback's SequenceNumber is unique per call; prints "CALLS CALLBACKS"
cluster_callbacks() {
	python3 - "$WORK/requests.log" <<'PY'
import json, sys, collections
term = collections.Counter(); seq = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] != "/status":
        continue
    f = dict(r["form"] or [])
    if f.get("CallStatus") in ("completed", "failed", "busy", "no-answer", "canceled"):
        term[f["CallSid"]] += 1
    seq[f["CallSid"]].append(f.get("SequenceNumber"))
dups = sum(1 for s in seq.values() if len(s) != len(set(s)))
print(len(term), sum(1 for c in term.values() if c > 1), dups)
PY
}

# cluster_uas_start: the SIPp target every <Dial><Sip> of the cases calls (tests/sipp/call_uas.xml:
# rings 200 ms, answers, waits for the BYE), on 127.0.0.10:$UAS_PORT, any number of calls
cluster_uas_start() {
	UAS_PORT=$(cl_port 127.0.0.10)
	sipp_start uas call_uas.xml -i 127.0.0.10 -p "$UAS_PORT" -trace_stat -stf "$WORK/uas.csv" -fd 1
	cl_wait_udp 127.0.0.10 "$UAS_PORT" || harness_error "the SIPp target did not bind 127.0.0.10:$UAS_PORT"
	UAS_URI=sip:bob@127.0.0.10:$UAS_PORT
}

# cluster_dial_doc: the voice document of the cases: bridge the caller to the SIPp target, with
# status callbacks for the dialled leg too (the caller's come from status_callback)
cluster_dial_doc() {
	cluster_voice "<Response><Dial><Sip statusCallback=\"/status\">$UAS_URI</Sip></Dial></Response>"
}

# cluster_calls UACNAME: one line per call of a SIPp caller (its -trace_msg in $WORK/UACNAME.msg)
# joined with Kamailio's log: "CALLID FIRST_DST FIRST_TIME INVITE_FINAL ANSWERED_BY BYE_FINAL
# MOVED", where FIRST_DST is the ADDR:PORT Kamailio sent the INVITE to first (at FIRST_TIME, epoch
# seconds), INVITE_FINAL the final response to the INVITE (- if none), ANSWERED_BY the
# ADDR:PORT of the 200's Contact (-), BYE_FINAL the response to the BYE (-) and MOVED the
# number of times Kamailio moved the INVITE on to the next instance
cluster_calls() {
	python3 - "$WORK/$1.msg" "$WORK/kamailio.log" <<'PY'
import re, sys, collections
first = {}; moved = collections.Counter()
for line in open(sys.argv[2], errors="replace"):
    m = re.search(r"dialerd: ([0-9.]+) (\S+) (to|moves to) sip:(\S+)", line)
    if not m:
        continue
    t, ci, kind, dst = m.groups()
    if kind == "to":
        first.setdefault(ci, (dst, t))
    else:
        moved[ci] += 1
calls = collections.OrderedDict()
text = open(sys.argv[1], errors="replace").read()
for blk in re.split(r"\n-{20,} [^\n]*\n", text):
    if "message received" not in blk:
        continue
    lines = blk.split("\n")
    start = next((l for l in lines if l.startswith("SIP/2.0 ") or re.match(r"^[A-Z]+ sip:", l)), None)
    if not start or not start.startswith("SIP/2.0 "):
        continue
    hdr = {}
    for l in lines:
        if ":" in l and not l.startswith(" "):
            k, v = l.split(":", 1)
            hdr.setdefault(k.strip().lower(), v.strip())
    ci = hdr.get("call-id"); cseq = hdr.get("cseq", "")
    code = int(start.split()[1])
    c = calls.setdefault(ci, {"inv": "-", "by": "-", "bye": "-"})
    if cseq.endswith("INVITE") and code >= 200:
        c["inv"] = str(code)
        m = re.search(r"@([0-9.]+:[0-9]+)", hdr.get("contact", ""))
        if code == 200 and m:
            c["by"] = m.group(1)
    elif cseq.endswith("BYE") and code >= 200:
        c["bye"] = str(code)
for ci in list(first):
    calls.setdefault(ci, {"inv": "-", "by": "-", "bye": "-"})
for ci, c in calls.items():
    d, t = first.get(ci, ("-", "0"))
    print(ci, d, t, c["inv"], c["by"], c["bye"], moved[ci])
PY
}
