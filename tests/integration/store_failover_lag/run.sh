#!/bin/sh
# store_failover_lag: as store_failover, but the standby stops receiving WAL
# 1.5 s before the primary's kill -9: the rows committed in that window are
# missing on it and only the writer's re-send ring brings them back.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
. "$TOP/tests/lib/failover.sh"
failover_drill 1
exit 0
