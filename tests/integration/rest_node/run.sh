#!/bin/sh
# rest_node: npm twilio@6.2.0 (tests/helperlibs), pointed at dialerd by its Api domain's baseUrl
# only, runs tests/lib/rest_client.js's scenario: a call to a SIPp UAS with a sip: To carrying X-
# headers and digest credentials, fetched while it rings, once answered and after its end; a
# second live call hung up (Status=completed), a third redirected (Url); an unknown SID and an
# update of a finished call refused. Asserts on the returned objects, the INVITEs SIPp received,
# the webhooks (every one validated by python3-twilio, twilio-node and SignalWire's validator)
# and the call log's rows.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/rest.sh"
rest_node_libs
rest_init
rest_client_run twilio-node "$DIALERD_URL"
rest_check_wire
rest_check_webhooks
rest_check_db
