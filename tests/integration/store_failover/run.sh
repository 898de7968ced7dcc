#!/bin/sh
# store_failover: rows written through a multi-host conninfo (primary,
# streaming standby; target_session_attrs=read-write) while the primary is
# killed with kill -9 and the standby promoted all land exactly once on the
# promoted standby; the writer notices the new timeline and re-sends the
# batches of the last 30 s.
. "$(dirname "$0")/../../lib/common.sh"
dlr_init
. "$TOP/tests/lib/pg.sh"
. "$TOP/tests/lib/store.sh"
. "$TOP/tests/lib/failover.sh"
failover_drill 0
exit 0
