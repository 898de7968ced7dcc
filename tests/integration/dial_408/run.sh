#!/bin/sh
# dial_408: the far end rings, then answers 408: the leg ends "no-answer" with that response's headers
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
dial_reject_case 408 "Request Timeout" no-answer
