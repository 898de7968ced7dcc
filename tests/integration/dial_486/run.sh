#!/bin/sh
# dial_486: the far end rings, then answers 486: the leg ends "busy" with that response's headers
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/sipp.sh"
. "$TOP/tests/lib/dial.sh"
dial_init
dial_reject_case 486 "Busy Here" busy
