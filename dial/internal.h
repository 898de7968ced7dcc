/* internal.h: private declarations shared by the files of dial/ (libre types allowed) */
#ifndef DIALERD_DIAL_INTERNAL_H
#define DIALERD_DIAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BEGIN perf (tmr_heap, relay, tls) */

/* tmr_heap.c: defines libre's whole re_tmr.h (tmr_start, tmr_cancel,
 * tmr_poll, tmr_next_timeout, tmrl_get, ...) as one binary min-heap per
 * thread. The engine must reference dial_tmr_impl_name() (and log it at
 * start-up) so that the archive member is linked into every program. */
const char *dial_tmr_impl_name(void);   /* "binary heap (dial/tmr_heap.c)" */
bool dial_tmr_active(void);    /* libre's PLT resolves tmr_start to ours */
size_t dial_tmr_count(void);   /* running timers of the calling thread */
uint64_t dial_tmr_started(void); /* timers ever started in this thread */
struct list;
struct list *tmrl_get(void);  /* libre-internal, not in re_tmr.h: empty */

/* tls.c: dial_tls_alloc() -> sip_transp_add(..., dial_tls_ctx(dt)); client
 * connections then verify CA chain and host name (see tls.h) */
#include "dial/tls.h"

/* relay.c: RTP/RTCP relay between two bridged legs (see relay.h); needs
 * fd_setsize() large enough for 4 descriptors per relay */
#include "dial/relay.h"

/* END perf */

#endif
