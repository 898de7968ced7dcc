#!/bin/sh
# dial_daemon: dialerd starts the SIP engine on DIALERD_SIP_LISTEN (timer implementation in the
# start-up log); with no call handler yet, an inbound INVITE is refused with 480 and a Reason;
# OPTIONS probes get 200
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
pg_start
export DIALERD_DATABASE_URL="$DATABASE_URL"
export DIALERD_LOG_LEVEL=debug
SIPPORT=$(free_port)
export DIALERD_SIP_LISTEN="127.0.0.1:$SIPPORT"
start_dialerd
dial_wait_port udp "$SIPPORT"
dial_wait_port tcp "$SIPPORT"
assert_match "$(cat "$WORK/dialerd.log")" "SIP engine on 127.0.0.1:$SIPPORT .*timers: binary heap" "start-up log names the SIP listener and the timer implementation"
UAC=$(free_port)
sipp_start uac uac_reject.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$UAC" -m 1
sipp_wait uac 15
assert_eq "$?" 0 "SIPp UAC: INVITE refused and ACKed"
msg=$(sipp_msg uac)
assert_match "$msg" 'SIP/2.0 480 Temporarily Unavailable' "480 on the wire"
assert_match "$msg" 'Reason: SIP;cause=480;text="No application"' "with a Reason"
assert_match "$(cat "$WORK/dialerd.log")" 'inbound call' "the daemon logged the inbound call"
OPT=$(free_port)
sipp_start opt uac_options.xml "127.0.0.1:$SIPPORT" -i 127.0.0.1 -p "$OPT" -m 1
sipp_wait opt 10
assert_eq "$?" 0 "OPTIONS keep-alive answered"
assert_match "$(sipp_msg opt)" 'Allow: INVITE, ACK, CANCEL, BYE, UPDATE, OPTIONS, INFO' "with Allow"
stop_dialerd TERM
assert_eq "$DIALERD_RC" 0 "daemon stopped cleanly with the SIP engine"
