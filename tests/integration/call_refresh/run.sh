#!/bin/sh
# call_refresh: session timers of <Sip> legs, kept by the call layer: granted a 4 s timer as
# refresher, dialerd refreshes at half the interval; when the far end is the refresher and stops
# refreshing, dialerd hangs up before the interval is over and the document goes on (here: the
# end, which hangs the caller up too).
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/calls.sh"
calls_init
UAS=$(free_port)
cat >"$WORK/routes.json" <<JSON
{"/voice": {"status": 200, "content_type": "text/xml",
  "body": "<Response><Dial><Sip sessionTimeout=\"90\">sip:bob@127.0.0.1:$UAS</Sip></Dial></Response>"}}
JSON
calls_start

sipp_start uas uas_refresh.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start caller call_uac.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1 -d 3000
sipp_wait caller 30
assert_eq "$?" 0 "caller: answered, talked 3 s, hung up"
sipp_wait uas 10
assert_eq "$?" 0 "callee: got our refresh within its 4 s timer"
assert_match "$(sipp_msg uas)" 'UPDATE sip:' "the refresh is an UPDATE"
assert_match "$(sipp_msg uas | grep -A20 '^INVITE ')" 'Session-Expires: 90' "the INVITE asked for sessionTimeout"

sipp_start uas2 uas_refresh_remote.xml -i 127.0.0.1 -p "$UAS" -m 1
dial_wait_port udp "$UAS"
sipp_start caller2 call_uac_hungup.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$(free_port)" -m 1
sipp_wait uas2 20
assert_eq "$?" 0 "callee that stopped refreshing got our BYE in time"
assert_match "$(sipp_msg uas2 | grep -A12 '^BYE ')" 'Reason: SIP;cause=408;text="Session timer expired"' "the BYE says why"
sipp_wait caller2 20
assert_eq "$?" 0 "the document ended and the caller was hung up"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly"
calls_signatures_ok
