/* media.h: private to dial/: a leg's RTP/RTCP media endpoint and the relay between two bridged endpoints, on the SIP thread */
#ifndef DIALERD_DIAL_MEDIA_H
#define DIALERD_DIAL_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "dial/dial.h"

/*
 * A media endpoint belongs to one leg: an RTP socket on an even port and
 * RTCP on the next, taken from a port range; the leg's SDP names its
 * address. Two endpoints can be bridged: what the leg's peer sends to
 * endpoint A leaves from endpoint B's socket (RTP from RTP, RTCP from
 * RTCP) towards B's peer, and the other way round.
 *
 * Ports are picked at random from the range (an even RTP port, RTCP on the
 * next), so one call's ports do not reveal the next call's.
 *
 * An endpoint's peer is latched from the first acceptable packet received
 * on that socket (symmetric RTP); until then, packets towards it go to the
 * address its SDP named, if given. Strict (the default): acceptable only
 * from the SDP's IP address; otherwise (NAT) from any source. After
 * latching, other sources are dropped and counted. A latch whose source
 * sent nothing for the idle time (DIAL_MEDIA_LATCH_IDLE_MS) ends: the
 * peer is the SDP's address again and the next acceptable source latches.
 * Packets are forwarded as received (no RTP parsing, no copy beyond the
 * kernel's): recvmmsg batches into a thread-local buffer and sendmmsg
 * sends the same buffers.
 *
 * Counters (struct dial_media_stats in dial.h) are per endpoint: rx_* what
 * its peer sent and was accepted (right source, not oversize), tx_* what
 * left towards its peer, dropped what arrived on its sockets and was not
 * forwarded (foreign source, oversize, not bridged, no address on the
 * other side yet, send error).
 *
 * A pool (struct dial_media_pool, one per engine) keeps the pairs of
 * ended endpoints open, bound and listened to, up to a bound; a new
 * endpoint on the same address whose range holds an idle pair's ports
 * takes one of those at random instead of opening a pair: no system call
 * but one recvmmsg per socket that drops what reached it while idle.
 * While idle, whatever arrives is read and dropped (counted as drained):
 * nothing of one call reaches the next.
 *
 * All functions: the thread whose libre loop runs the endpoints (the SIP
 * thread). mem_deref of an endpoint ends the bridge and gives its pair to
 * its pool, or closes it (no pool, pool full); mem_deref of the pool
 * closes every idle pair (each endpoint holds a reference to its pool, so
 * the last one's end frees it).
 */

struct sa;
struct dial_media;
struct dial_media_pool;

/* The pool's bound unless the open-file limit is lower (see
 * dial_media_pool_max_default): idle pairs, 2 descriptors each. */
#define DIAL_MEDIA_POOL_MAX 256

struct dial_media_pool_stats {
	uint32_t idle;        /* pairs idle now */
	uint32_t max;         /* the bound */
	uint32_t idle_max;    /* the most idle at once */
	uint64_t opened;      /* pairs opened for endpoints of this pool */
	uint64_t reused;      /* pairs taken from it */
	uint64_t closed;      /* ended pairs closed (pool full, expired), or flushed */
	uint64_t expired;     /* idle pairs closed by dial_media_pool_expire */
	uint64_t drained;     /* datagrams read and dropped while idle */
	uint64_t refused_full;  /* refused at once: the range was found full
				   less than 100 ms before */
};

/* An empty pool holding at most max idle pairs (0: none, every pair is
 * closed at its endpoint's end). EINVAL, ENOMEM. */
int dial_media_pool_alloc(struct dial_media_pool **poolp, uint32_t max);
/* DIAL_MEDIA_POOL_MAX, or 1/16 of RLIMIT_NOFILE's soft limit if lower. */
uint32_t dial_media_pool_max_default(void);
void dial_media_pool_stats_get(const struct dial_media_pool *pool,
			       struct dial_media_pool_stats *st);
/* Closes the idle pairs that went idle max_idle_ms or more before now
 * (ms, tmr_jiffies); returns how many. */
uint32_t dial_media_pool_expire(struct dial_media_pool *pool, uint64_t now,
				uint64_t max_idle_ms);
/* How long the SIP engine keeps an idle pair: a minute of quiet after a
 * burst gives its ports and descriptors back. */
#define DIAL_MEDIA_POOL_IDLE_MS 60000

/* A latch unrefreshed this long ends: RTP flows every 20-30 ms and RTCP
 * every 5 s, so only a far end that stopped (hold, gone) reaches it. */
#define DIAL_MEDIA_LATCH_IDLE_MS 10000

/* Takes a socket pair on ip (its port is ignored) at random from the even
 * ports in [port_min, port_max] (and the next); strict, nothing latched
 * until dial_media_remote_set(). EINVAL (bad range, ip unset), EADDRINUSE
 * (range exhausted), EMFILE, ENOMEM. Without a pool: the pair closes with
 * the endpoint. */
int dial_media_alloc(struct dial_media **mp, const struct sa *ip,
		     uint16_t port_min, uint16_t port_max);
/* The same with a pool (NULL: none): an idle pair of it at random among
 * those that fit (ip's address, ports in the range), else a new pair; the
 * endpoint keeps a reference to the pool and gives its pair back. */
int dial_media_alloc_pooled(struct dial_media **mp,
			    struct dial_media_pool *pool, const struct sa *ip,
			    uint16_t port_min, uint16_t port_max);

/* The pair at exactly port (RTP) and port + 1 (RTCP) on ip: an idle pair
 * of the pool (NULL: none) at that port, else both bound now (a leg taken
 * over from a killed process keeps the port its SDP named). EINVAL (port
 * 0 or 65535, ip unset), EADDRINUSE (either port taken), EMFILE, ENOMEM. */
int dial_media_alloc_at(struct dial_media **mp, struct dial_media_pool *pool,
			const struct sa *ip, uint16_t port);

/* The local RTP address (RTCP is port + 1), for the leg's SDP. */
const struct sa *dial_media_local(const struct dial_media *m);

/* The address the leg's SDP named (rtcp NULL: rtp port + 1); resets the
 * latch (re-INVITE). strict: latch only sources of that IP address;
 * false: any source (NAT). EINVAL. */
int dial_media_remote_set(struct dial_media *m, const struct sa *rtp,
			  const struct sa *rtcp, bool strict);
/* Strict or not before any SDP address is known (a new endpoint is
 * strict: it latches nothing until dial_media_remote_set()). */
void dial_media_latch_strict_set(struct dial_media *m, bool strict);
/* The idle time after which a latch ends (0: unchanged); for tests. */
void dial_media_latch_idle_set(struct dial_media *m, uint32_t ms);
/* Does the SDP address already in use equal rtp (address and port)? */
bool dial_media_remote_is(const struct dial_media *m, const struct sa *rtp);

/* Joins two endpoints (either one's previous bridge ends). EINVAL (NULL,
 * a == b). */
int dial_media_bridge(struct dial_media *a, struct dial_media *b);
void dial_media_unbridge(struct dial_media *m);
struct dial_media *dial_media_bridged(const struct dial_media *m);
/* An opaque pointer kept for the caller (the engine: the leg). */
void dial_media_owner_set(struct dial_media *m, void *owner);
void *dial_media_owner(const struct dial_media *m);

void dial_media_stats_get(const struct dial_media *m,
			  struct dial_media_stats *st);

#endif
