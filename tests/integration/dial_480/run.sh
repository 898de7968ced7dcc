#!/bin/sh
# dial_480: the far end rings, then answers 480: the leg ends "no-answer" with that response's headers
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
dial_reject_case 480 "Temporarily Unavailable" no-answer
