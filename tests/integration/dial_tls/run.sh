#!/bin/sh
# dial_tls: TLS legs with certificates made here, behind a socat TLS front
# before a SIPp UAS (this SIPp has no TLS): accepted with the right CA and
# host (IP literal, and a name routed by maddr), refused for a wrong host
# name, a wrong IP, an unknown CA and the system store; per-target insecure
# accepted with a warning logged for the connection.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
command -v socat >/dev/null 2>&1 || skip "socat not installed (apt-get install socat)"
command -v openssl >/dev/null 2>&1 || skip "openssl not installed"

# --- a CA, an unrelated CA, a server certificate for sip.test and 127.0.0.1
cd "$WORK" || harness_error "no work dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
	-subj /CN=dial-tls-test-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null &&
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca2.key -out ca2.pem -days 2 \
	-subj /CN=unrelated-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null &&
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=sip.test 2>/dev/null &&
printf 'subjectAltName=DNS:sip.test,IP:127.0.0.1\n' >ext &&
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.crt \
	-days 2 -extfile ext 2>/dev/null ||
	harness_error "could not make the certificates"
cd "$TOP" || harness_error "no source dir"

UAS=$(free_port)
TLS=$(free_port)
sipp_start uas tls_uas.xml -t t1 -i 127.0.0.1 -p "$UAS" -key tls_port "$TLS"
dial_wait_port tcp "$UAS"
socat -d "OPENSSL-LISTEN:$TLS,bind=127.0.0.1,reuseaddr,fork,cert=$WORK/srv.crt,key=$WORK/srv.key,verify=0" \
	"TCP:127.0.0.1:$UAS" 2>"$WORK/socat.log" &
dlr_track $!
dial_wait_port tcp "$TLS"

# call NAME ID URI [dialtool options...]: one leg; answered -> hang up
call() {
	_n=$1 _id=$2 _uri=$3
	shift 3
	dial_run "$_n" -l "127.0.0.1:$(free_port --pair)" "$@" "start id=$_id uri=$_uri" \
		"expect ended:$_id 8000" 'wait 100'
}
# an answered leg is hung up by dialtool only when told: answer, then BYE
call_ok() {
	_n=$1 _id=$2 _uri=$3
	shift 3
	dial_run "$_n" -l "127.0.0.1:$(free_port --pair)" "$@" "start id=$_id uri=$_uri" \
		"expect answered:$_id 8000" "hangup id=$_id" "expect ended:$_id 5000" 'wait 100'
}
invites() { grep -c '^INVITE sip:' "$WORK/uas.msg" 2>/dev/null || echo 0; }

# 1. the right CA, IP literal target: the certificate's IP SAN matches
call_ok ip CAtls1 "sip:test@127.0.0.1:$TLS;transport=tls" -C "$WORK/ca.pem"
assert_eq "$DIAL_RC" 0 "right CA, IP target: answered and hung up"
assert_eq "$(ev ip first 'e["event"]=="answered"' 'hdr(e,"X-Queue")')" tls "200's X- header read over TLS"
assert_eq "$(ev ip first 'e["event"]=="ended"' 'e["end"]')" completed "leg completed"
assert_match "$(sipp_msg uas)" 'Via: SIP/2.0/TLS' "SIPp saw the INVITE with a TLS Via"
assert_match "$(sipp_msg uas)" 'BYE sip:127.0.0.1' "SIPp saw the BYE (in-dialog, over the TLS front)"
n_ok=$(invites)

# 2. the right CA, a host name (routed to the front by maddr): SAN DNS matches
call_ok name CAtls2 "sip:test@sip.test:$TLS;transport=tls;maddr=127.0.0.1" -C "$WORK/ca.pem"
assert_eq "$DIAL_RC" 0 "right CA, host sip.test: answered"
assert_eq "$(invites)" $((n_ok + 1)) "SIPp got that INVITE"
n_ok=$(invites)

# 3. wrong host name: refused before any SIP crossed
call badname CAtls3 "sip:test@wrong.test:$TLS;transport=tls;maddr=127.0.0.1" -C "$WORK/ca.pem"
assert_eq "$(ev badname count 'e["event"]=="answered"')" 0 "wrong host name: not answered"
assert_eq "$(ev badname first 'e["event"]=="ended"' 'e["end"]')" failed "wrong host name: leg failed"
assert_eq "$(ev badname count 'e["event"]=="sip" and e.get("dir")=="tx"')" 0 "no SIP message left us"
assert_eq "$(invites)" "$n_ok" "SIPp never saw an INVITE for the wrong name"
assert_eq "$(ev badname first 'e["event"]=="ended"' 'e["err"]')" 71 "ended with EPROTO (handshake refused)"
assert_match "$(cat "$WORK/badname.log")" 'hostname mismatch' "the refusal names the cause"

# 4. wrong IP literal (the certificate says 127.0.0.1; 127.0.0.2 is asked)
call badip CAtls4 "sip:test@127.0.0.2:$TLS;transport=tls;maddr=127.0.0.1" -C "$WORK/ca.pem"
assert_eq "$(ev badip first 'e["event"]=="ended"' 'e["end"]')" failed "wrong IP: leg failed"
assert_match "$(cat "$WORK/badip.log")" 'IP address mismatch' "refused for the IP address"
assert_eq "$(invites)" "$n_ok" "SIPp saw nothing"

# 5. unknown CA, and the system store (which does not know our test CA)
call badca CAtls5 "sip:test@127.0.0.1:$TLS;transport=tls" -C "$WORK/ca2.pem"
assert_eq "$(ev badca first 'e["event"]=="ended"' 'e["end"]')" failed "unknown CA: leg failed"
call system CAtls6 "sip:test@127.0.0.1:$TLS;transport=tls"
assert_eq "$(ev system first 'e["event"]=="ended"' 'e["end"]')" failed "system CA store: test CA refused"
assert_match "$(cat "$WORK/system.log")" 'unable to get local issuer' "refused for the issuer"
assert_eq "$(invites)" "$n_ok" "SIPp saw none of them"

# 6. per-target insecure: accepted, with a warning for the connection
call_ok insecure CAtls7 "sip:test@wrong.test:$TLS;transport=tls;maddr=127.0.0.1 insecure=1" -C "$WORK/ca.pem"
assert_eq "$DIAL_RC" 0 "per-target insecure: answered"
assert_eq "$(invites)" $((n_ok + 1)) "SIPp got that INVITE"
n_ok=$(invites)
assert_match "$(cat "$WORK/insecure.log")" 'wrong.test.*NOT verified \(insecure\)' \
	"the unverified connection is logged as a warning"

# 7. global insecure (-I) with an unknown CA: accepted, warned
call_ok global CAtls8 "sip:test@127.0.0.1:$TLS;transport=tls" -C "$WORK/ca2.pem" -I
assert_eq "$DIAL_RC" 0 "global insecure: answered"
assert_match "$(cat "$WORK/global.log")" 'NOT verified \(insecure\)' "warned for the connection"
assert_eq "$(invites)" $((n_ok + 1)) "SIPp got that INVITE"

kill -TERM "$SIPP_PID_uas" 2>/dev/null
