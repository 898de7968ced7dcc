#!/bin/sh
# rest_signalwire: @signalwire/compatibility-api 3.2.0's RestClient runs tests/lib/rest_client.js's
# scenario (see rest_node) twice: once with the space URL 127.0.0.1:PORT, as the library builds its
# URLs (https://SPACE/2010-04-01/Accounts/...: version 3.2.0 puts no /api/laml in them), once
# with 127.0.0.1:PORT/api/laml, the path SignalWire documents for its compatibility REST API,
# so that dialerd's /api/laml routes answer the same client (uri fields then start /api/laml).
#
# The library always writes https:// before the space URL (RestClient sets
# client.api.baseUrl = `https://${host}`) and has no option for plain http. Rather than patch
# it, the case puts a TLS endpoint in front of dialerd: socat with a throwaway certificate for
# 127.0.0.1, which node trusts through NODE_EXTRA_CA_CERTS (node's documented variable for an
# extra CA). The client's code and options are those an application would use.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/rest.sh"
rest_node_libs
rest_init
rest_tls_proxy
rest_client_run signalwire "127.0.0.1:$REST_TLS_PORT"
rest_check_wire
rest_check_webhooks
first=$REST_FIRST
: >"$WORK/requests.log"
rest_client_run signalwire "127.0.0.1:$REST_TLS_PORT/api/laml"
[ "$REST_FIRST" != "$first" ] || fail "the second run made new calls"
rest_check_wire
rest_check_webhooks
rest_check_db 6
