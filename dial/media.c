/* media.c: per-leg RTP/RTCP media endpoints (socket pairs at random from a port range, or from a pool of idle ones; latching checked against the SDP and expiring, counters) and the bridge that relays between two of them with recvmmsg/sendmmsg */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <re.h>

#include "dial/internal.h"

#define DEBUG_MODULE "dial_media"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

/*
 * Why not libre's udp_listen: its read handler allocates an 8 KiB mbuf and
 * makes one recvfrom per readiness event. A bridge at 50 packets/s each way
 * is 100 packets/s per call, so 500 calls are 50,000 packets/s in and out;
 * here each readiness event takes up to BATCH packets with one recvmmsg
 * into a thread-local buffer and sends them with one sendmmsg from the
 * bridged endpoint's socket (every packet of one socket goes to the same
 * peer), with no allocation and no copy in user space.
 */

enum {
	BATCH = 32,
	PKT_MAX = 2048,   /* RTP over UDP stays under the path MTU */
	RAND_TRIES = 16,  /* random picks before a scan */
	SCAN_MAX = 256,   /* pairs the scan tries: a range held by another
			     process must not stall the SIP thread with
			     thousands of bind()s for every new leg */
	FULL_MS = 100,    /* a range found full is not scanned again for
			     this long (below) */
};

/*
 * Why a pool: opening a pair is socket, bind and getsockname twice, then
 * an epoll_ctl add for each socket; closing it is two epoll_ctl deletes
 * and two closes: 24 system calls per bridged call (two legs), a third of
 * the ~70 the SIP thread made per call (perf, 300 calls/s), on a thread
 * that spent about half its time in the kernel. An
 * ended endpoint's pair therefore stays open, bound and registered with
 * libre (fd_listen) in its engine's pool, and the next endpoint on the
 * same address and port range takes it back (picked at random among the
 * idle ones, like a fresh port). The sockets (struct pair) outlive the
 * endpoint (struct dial_media) that used them: libre's handler argument
 * is the pair's msock, whose owner pointer (m) is switched in memory, so
 * that taking a pair or giving it back costs no fd_listen (in libre 1.1.0
 * a second fd_listen on a registered descriptor is an epoll_ctl ADD that
 * fails with EEXIST and then a MOD: two system calls for nothing).
 */

struct pair;

struct msock {
	struct dial_media *m;    /* NULL while the pair is idle (pooled) */
	struct pair *p;
	int fd;
	bool rtcp;
	struct sa local;
	struct sa expect;        /* the address the leg's SDP named */
	struct sa peer;          /* where this leg's media goes */
	uint64_t seen;           /* ms: the latched source's last packet */
	bool latched;
	bool strict;             /* latch only the SDP's IP address */
};

/* an RTP socket and the RTCP one; an endpoint's, or idle in a pool */
struct pair {
	struct msock s[2];       /* [0]: RTP, [1]: RTCP */
	struct dial_media_pool *pool;   /* while idle: the pool holding it */
	uint64_t idle_since;     /* ms (tmr_jiffies) it went idle */
};

struct dial_media_pool {
	struct pair **v;         /* idle pairs, in no order */
	uint32_t n, max;
	/* the range whose last scan found no free pair, until when (ms) */
	uint16_t full_lo, full_hi;
	uint64_t full_until;
	struct dial_media_pool_stats st;
};

struct dial_media {
	struct msock *s;         /* its pair's sockets: s[0] RTP, s[1] RTCP */
	struct pair *p;
	struct dial_media_pool *pool;   /* where p goes back, or NULL */
	struct dial_media *other;    /* bridged endpoint, or NULL */
	void *owner;                 /* the caller's (a leg) */
	uint32_t idle_ms;            /* a latch unrefreshed this long ends */
	struct dial_media_stats st;
};

/* one batch of datagrams: reused by every socket of the thread */
struct batch {
	bool init;
	struct mmsghdr rx[BATCH];
	struct iovec rxiov[BATCH];
	struct sa src[BATCH];
	struct mmsghdr tx[BATCH];
	struct iovec txiov[BATCH];
	uint8_t buf[BATCH][PKT_MAX];
};

static _Thread_local struct batch bt;


static void batch_init(void)
{
	int i;

	for (i = 0; i < BATCH; i++) {
		bt.rxiov[i].iov_base = bt.buf[i];
		bt.rxiov[i].iov_len = PKT_MAX;
		bt.rx[i].msg_hdr.msg_iov = &bt.rxiov[i];
		bt.rx[i].msg_hdr.msg_iovlen = 1;
		bt.rx[i].msg_hdr.msg_name = &bt.src[i].u;
		bt.tx[i].msg_hdr.msg_iov = &bt.txiov[i];
		bt.tx[i].msg_hdr.msg_iovlen = 1;
		bt.txiov[i].iov_base = bt.buf[i];
	}

	bt.init = true;
}


/* Back to the SDP's address: the far end is reached there until a source
 * is latched again. */
static void unlatch(struct msock *s)
{
	s->peer = s->expect;
	s->latched = false;
}


/* A latch that nothing refreshed for idle_ms is stale: it must not keep a
 * hijacker's address, nor block the far end's new one. */
static bool stale(const struct msock *s, uint64_t now)
{
	return s->latched && now - s->seen >= s->m->idle_ms;
}


/*
 * Symmetric latching: the first acceptable source becomes the peer and
 * stays it while it keeps sending. Strict: acceptable only from the IP
 * address the far end's SDP named (its c= line), so a host that merely
 * reaches the port cannot take the media; without an SDP address nothing
 * is. Otherwise (NAT: the SDP names a private address) any source is.
 */
static bool source_ok(struct msock *s, const struct sa *src, uint64_t now)
{
	if (s->latched) {
		if (sa_cmp(src, &s->peer, SA_ALL)) {
			s->seen = now;
			return true;
		}
		if (!stale(s, now))
			return false;
		unlatch(s);
	}

	if (s->strict && !sa_cmp(src, &s->expect, SA_ADDR))
		return false;

	s->peer = *src;
	s->latched = true;
	s->seen = now;

	return true;
}


/* Reads and drops what waits on a socket: one batch, or with all until
 * the queue is empty (EAGAIN, or a short batch). The datagrams read. */
static uint64_t drain(int fd, bool all)
{
	uint64_t got = 0;
	int n, i;

	if (!bt.init)
		batch_init();

	do {
		for (i = 0; i < BATCH; i++)
			bt.rx[i].msg_hdr.msg_namelen = sizeof(bt.src[i].u);
		n = recvmmsg(fd, bt.rx, BATCH, MSG_DONTWAIT, NULL);
		if (n > 0)
			got += (uint64_t)n;
	} while (all && n == BATCH);

	return got;
}


static void recv_h(int flags, void *arg)
{
	struct msock *s = arg;
	struct dial_media *m = s->m;
	struct dial_media_stats *st;
	struct msock *o;
	uint64_t bytes[BATCH];
	uint64_t okp = 0, okb = 0, now;
	int n, k = 0, sent, i;

	(void)flags;

	if (!m) {
		/* idle in a pool: a late packet of the last call, or a
		   stranger's; one batch per wake-up (libre's poll is level
		   triggered: it calls again while more waits) */
		uint64_t got = drain(s->fd, false);

		if (s->p->pool)
			s->p->pool->st.drained += got;
		return;
	}

	st = &m->st;
	o = m->other ? &m->other->s[s->rtcp] : NULL;

	if (!bt.init)
		batch_init();

	for (i = 0; i < BATCH; i++)
		bt.rx[i].msg_hdr.msg_namelen = sizeof(bt.src[i].u);

	n = recvmmsg(s->fd, bt.rx, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;   /* EAGAIN, or an ICMP error reported: nothing */

	/* one clock read per batch (vDSO, no system call) */
	now = tmr_jiffies();
	if (o && stale(o, now))
		unlatch(o);

	for (i = 0; i < n; i++) {
		struct msghdr *h = &bt.rx[i].msg_hdr;

		bt.src[i].len = h->msg_namelen;

		if ((h->msg_flags & MSG_TRUNC) || !source_ok(s, &bt.src[i], now)) {
			++st->dropped;
			continue;
		}

		++okp;
		okb += bt.rx[i].msg_len;

		if (!o || !sa_isset(&o->peer, SA_ALL)) {
			++st->dropped;   /* not bridged, or nowhere to go yet */
			continue;
		}

		bt.txiov[k].iov_base = bt.buf[i];
		bt.txiov[k].iov_len = bt.rx[i].msg_len;
		bt.tx[k].msg_hdr.msg_name = &o->peer.u;
		bt.tx[k].msg_hdr.msg_namelen = o->peer.len;
		bytes[k] = bt.rx[i].msg_len;
		++k;
	}

	if (s->rtcp) {
		st->rx_rtcp_pkts += okp;
		st->rx_rtcp_bytes += okb;
	}
	else {
		st->rx_rtp_pkts += okp;
		st->rx_rtp_bytes += okb;
	}

	if (!k)
		return;

	sent = sendmmsg(o->fd, bt.tx, (unsigned)k, MSG_DONTWAIT);
	if (sent < 0)
		sent = 0;

	for (i = 0; i < sent; i++) {
		struct dial_media_stats *ot = &o->m->st;

		if (s->rtcp) {
			++ot->tx_rtcp_pkts;
			ot->tx_rtcp_bytes += bytes[i];
		}
		else {
			++ot->tx_rtp_pkts;
			ot->tx_rtp_bytes += bytes[i];
		}
	}

	st->dropped += (uint64_t)(k - sent);
}


/* Rebuilt from the address alone: a caller's struct sa filled by
 * sa_set_str() leaves padding, IPv6 flowinfo and scope id uninitialised,
 * and the kernel reads all of it. */
static void sa_clean(struct sa *a, const struct sa *ip, uint16_t port)
{
	sa_init(a, sa_af(ip));
	if (sa_af(ip) == AF_INET6) {
		uint8_t in6[16];

		sa_in6(ip, in6);
		sa_set_in6(a, in6, port);
	} else {
		sa_set_in(a, sa_in(ip), port);
	}
}


static int sock_open(struct msock *s, const struct sa *ip, uint16_t port)
{
	struct sa a;
	int fd;

	sa_clean(&a, ip, port);

	fd = socket(sa_af(&a), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;

	if (bind(fd, &a.u.sa, a.len) < 0) {
		int err = errno;

		(void)close(fd);
		return err;
	}

	/*
	 * With the port given (always, from the range), the kernel's view of
	 * the bound address is what we bound: sa_clean() built it from zeros
	 * (sa_init), so IPv4 padding, IPv6 flowinfo and scope id are 0, and
	 * getsockname would report the same bytes: a scope id comes back only
	 * for a link-local address, which binds only with one, and sa_clean
	 * never passes one (such a bind fails above). Only port 0 (the kernel
	 * picks) needs to ask: one system call less per socket.
	 */
	if (port) {
		s->local = a;
	}
	else {
		memset(&s->local, 0, sizeof(s->local));
		s->local.len = sizeof(s->local.u);
		if (getsockname(fd, &s->local.u.sa, &s->local.len) < 0)
			s->local = a;
	}
	s->fd = fd;

	return 0;
}


static void sock_close(struct msock *s)
{
	if (s->fd < 0)
		return;

	fd_close(s->fd);
	(void)close(s->fd);
	s->fd = -1;
}


/* Binds the pair at even port p; EADDRINUSE when either is taken. */
static int pair_try(struct msock *pair, const struct sa *ip, uint16_t p)
{
	int err;

	err = sock_open(&pair[0], ip, p);
	if (err)
		return err;

	err = sock_open(&pair[1], ip, (uint16_t)(p + 1));
	if (err)
		sock_close(&pair[0]);

	return err;
}


/*
 * An even port and the next one, both free, from the range. Picked at
 * random, not in sequence: a port that follows from the last call's must
 * not tell a stranger where the next call's media is. A few random picks
 * find a free pair unless the range is nearly full; then a scan of up to
 * SCAN_MAX pairs from a random one (a range that full counts as
 * exhausted). Ports in use fail bind() (no SO_REUSEADDR),
 * so a pair in use is never shared.
 */
static int pair_bind(struct msock *pair, const struct sa *ip,
		     uint16_t lo, uint16_t hi)
{
	uint32_t n = (uint32_t)(hi - 1 - lo) / 2 + 1;   /* pairs in range */
	uint32_t i, start;
	int err;

	for (i = 0; i < RAND_TRIES && i < n; i++) {
		err = pair_try(pair, ip, (uint16_t)(lo + 2 * (rand_u32() % n)));
		if (err != EADDRINUSE)
			return err;
	}

	start = rand_u32() % n;
	for (i = 0; i < n && i < SCAN_MAX; i++) {
		err = pair_try(pair, ip, (uint16_t)(lo + 2 * ((start + i) % n)));
		if (err != EADDRINUSE)
			return err;
	}

	return EADDRINUSE;
}


static void pair_destructor(void *arg)
{
	struct pair *p = arg;

	sock_close(&p->s[0]);
	sock_close(&p->s[1]);
}


/* A new pair: bound at random in [lo, hi] (lo even), or at lo itself when
 * hi is 0, and listened to. */
static int pair_open(struct pair **pp, const struct sa *ip, uint16_t lo,
		     uint16_t hi)
{
	struct pair *p;
	int err, k;

	p = mem_zalloc(sizeof(*p), pair_destructor);
	if (!p)
		return ENOMEM;

	for (k = 0; k < 2; k++) {
		p->s[k].p = p;
		p->s[k].fd = -1;
		p->s[k].rtcp = k == 1;
	}

	err = hi ? pair_bind(p->s, ip, lo, hi) : pair_try(p->s, ip, lo);
	for (k = 0; k < 2 && !err; k++)
		err = fd_listen(p->s[k].fd, FD_READ, recv_h, &p->s[k]);

	if (err)
		mem_deref(p);
	else
		*pp = p;

	return err;
}


static bool pair_fits(const struct pair *p, const struct sa *ip,
		      uint16_t lo, uint16_t hi)
{
	uint16_t port = sa_port(&p->s[0].local);

	return port >= lo && port < hi && sa_cmp(&p->s[0].local, ip, SA_ADDR);
}


/* Takes pool->v[i] out (the last one moves into its place). */
static struct pair *pool_take(struct dial_media_pool *pool, uint32_t i)
{
	struct pair *p = pool->v[i];

	pool->v[i] = pool->v[--pool->n];
	pool->v[pool->n] = NULL;
	p->pool = NULL;

	return p;
}


/*
 * An idle pair on ip with its ports in [lo, hi], uniformly at random
 * among those that fit (the reason ports are random at all holds for
 * reuse too): random picks among all, the first that fits taken (each
 * fitting one equally likely); when they all miss (most idle pairs are of
 * another address or range), the fitting ones counted and one of them
 * chosen. One engine uses one address and range: the first pick fits.
 */
static struct pair *pool_get(struct dial_media_pool *pool,
			     const struct sa *ip, uint16_t lo, uint16_t hi)
{
	uint32_t i, fit = 0, k;

	if (!pool || !pool->n)
		return NULL;

	for (i = 0; i < RAND_TRIES; i++) {
		k = rand_u32() % pool->n;
		if (pair_fits(pool->v[k], ip, lo, hi))
			return pool_take(pool, k);
	}

	for (i = 0; i < pool->n; i++)
		fit += pair_fits(pool->v[i], ip, lo, hi);
	if (!fit)
		return NULL;

	k = rand_u32() % fit;
	for (i = 0; i < pool->n; i++) {
		if (pair_fits(pool->v[i], ip, lo, hi) && !k--)
			return pool_take(pool, i);
	}

	return NULL;
}


/* Closes every idle pair (their descriptors back to the system). */
static void pool_flush(struct dial_media_pool *pool)
{
	while (pool->n) {
		++pool->st.closed;
		mem_deref(pool_take(pool, pool->n - 1));
	}
}


/*
 * After a burst the pool would hold up to its bound of pairs (ports and
 * descriptors) for as long as the engine runs; a pair idle longer than
 * max_idle_ms is closed instead. Reuse picks at random, so under a steady
 * load the pairs beyond what the load needs age out one by one.
 */
uint32_t dial_media_pool_expire(struct dial_media_pool *pool, uint64_t now,
				uint64_t max_idle_ms)
{
	uint32_t i = 0, n = 0;

	if (!pool)
		return 0;
	while (i < pool->n) {
		if (now - pool->v[i]->idle_since < max_idle_ms) {
			i++;
			continue;
		}
		/* pool_take moves the last one into i: look at i again */
		++pool->st.closed;
		++pool->st.expired;
		mem_deref(pool_take(pool, i));
		n++;
	}
	return n;
}


/*
 * Ends an endpoint's use of its pair: the pair goes idle into the pool,
 * or is closed when there is no pool or it is full. Nothing of the call
 * may survive into the next: the endpoint (counters, bridge, owner, idle
 * time) is freed with it, and the sockets' latch and addresses are reset
 * here. What still arrives is read and dropped by recv_h, and what is
 * still queued when the pair is taken again is drained then (pool_reuse).
 * The kernel keeps no state of the call in the socket either: it was never
 * connect()ed, and ICMP errors of an unconnected UDP socket are not
 * queued on it without IP_RECVERR, which is not set.
 */
static void pair_release(struct pair *p, struct dial_media_pool *pool)
{
	int k;

	for (k = 0; k < 2; k++) {
		struct msock *s = &p->s[k];

		s->m = NULL;
		memset(&s->expect, 0, sizeof(s->expect));
		memset(&s->peer, 0, sizeof(s->peer));
		s->seen = 0;
		s->latched = false;
		s->strict = true;
	}

	if (!pool || pool->n >= pool->max) {
		if (pool)
			++pool->st.closed;
		mem_deref(p);
		return;
	}

	p->pool = pool;
	p->idle_since = tmr_jiffies();
	pool->v[pool->n++] = p;
	if (pool->n > pool->st.idle_max)
		pool->st.idle_max = pool->n;
}


static void media_destructor(void *arg)
{
	struct dial_media *m = arg;

	dial_media_unbridge(m);
	if (m->p)
		pair_release(m->p, m->pool);
	mem_deref(m->pool);
}


static void pool_destructor(void *arg)
{
	struct dial_media_pool *pool = arg;

	pool_flush(pool);
	mem_deref(pool->v);
}


/*
 * The default bound: DIAL_MEDIA_POOL_MAX pairs, but at most a sixteenth
 * of the open-file limit in descriptors (2 a pair), so that idle pairs
 * never hold more than 1/8 of what the process may open: at the common
 * soft limit of 1,024 that is 64 pairs; the daemon raises its soft limit
 * to the hard one at start-up (daemon/server.c), and with 4,096 or more
 * the bound is the full 256.
 */
uint32_t dial_media_pool_max_default(void)
{
	struct rlimit rl;
	uint32_t max = DIAL_MEDIA_POOL_MAX;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 16 < max)
		max = (uint32_t)(rl.rlim_cur / 16);

	return max;
}


int dial_media_pool_alloc(struct dial_media_pool **poolp, uint32_t max)
{
	struct dial_media_pool *pool;

	if (!poolp)
		return EINVAL;

	pool = mem_zalloc(sizeof(*pool), pool_destructor);
	if (!pool)
		return ENOMEM;

	pool->max = max;
	if (max) {
		pool->v = mem_zalloc(max * sizeof(*pool->v), NULL);
		if (!pool->v) {
			mem_deref(pool);
			return ENOMEM;
		}
	}

	*poolp = pool;

	return 0;
}


void dial_media_pool_stats_get(const struct dial_media_pool *pool,
			       struct dial_media_pool_stats *st)
{
	if (!st)
		return;

	if (!pool) {
		memset(st, 0, sizeof(*st));
		return;
	}

	*st = pool->st;
	st->idle = pool->n;
	st->max = pool->max;
}


/* A pair taken from the pool: whatever reached it after its last
 * wake-up (the loop has not read it yet) is the last call's or a
 * stranger's: read and dropped before the new endpoint can see it, one
 * recvmmsg per socket (EAGAIN, the usual case) */
static void pool_reuse(struct dial_media_pool *pool, struct pair *p)
{
	pool->st.drained += drain(p->s[0].fd, true);
	pool->st.drained += drain(p->s[1].fd, true);
	++pool->st.reused;
}


/* The pool's idle pair whose RTP port is exactly port on ip, or NULL. */
static struct pair *pool_get_at(struct dial_media_pool *pool,
				const struct sa *ip, uint16_t port)
{
	uint32_t i;

	for (i = 0; pool && i < pool->n; i++) {
		const struct sa *l = &pool->v[i]->s[0].local;

		if (sa_port(l) == port && sa_cmp(l, ip, SA_ADDR))
			return pool_take(pool, i);
	}

	return NULL;
}


/* The endpoint around a pair, which it now owns; ENOMEM gives the pair
 * back to its pool. */
static int media_wrap(struct dial_media **mp, struct pair *p,
		      struct dial_media_pool *pool)
{
	struct dial_media *m;
	int k;

	m = mem_zalloc(sizeof(*m), media_destructor);
	if (!m) {
		pair_release(p, pool);
		return ENOMEM;
	}

	m->p = p;
	m->s = p->s;
	m->pool = mem_ref(pool);
	for (k = 0; k < 2; k++) {
		p->s[k].m = m;
		p->s[k].strict = true;
	}
	m->idle_ms = DIAL_MEDIA_LATCH_IDLE_MS;
	m->st.relayed = true;
	m->st.local_port = sa_port(&m->s[0].local);
	*mp = m;

	return 0;
}


/*
 * A range found full stays full for FULL_MS without another scan: its
 * pairs are this engine's live legs (their ends give pairs back through
 * the pool, which comes first) or another process's. A scan of a full
 * range is up to RAND_TRIES + SCAN_MAX failed bind()s; when a burst of
 * new legs meets a full range (the calls retried at once after a restart,
 * with the adopted ones still up), scanning for each of them stalled the
 * SIP thread for 400 ms, and the overload control shed new calls.
 */
static bool full(struct dial_media_pool *pool, uint16_t lo, uint16_t hi)
{
	if (!pool || !pool->full_until || lo != pool->full_lo ||
	    hi != pool->full_hi)
		return false;
	if (tmr_jiffies() < pool->full_until) {
		++pool->st.refused_full;
		return true;
	}
	pool->full_until = 0;
	return false;
}


int dial_media_alloc_pooled(struct dial_media **mp,
			    struct dial_media_pool *pool, const struct sa *ip,
			    uint16_t port_min, uint16_t port_max)
{
	struct pair *p;
	uint16_t lo, hi;
	int err = 0;

	if (!mp || !ip || !sa_isset(ip, SA_ADDR))
		return EINVAL;

	lo = (uint16_t)(port_min + (port_min & 1));
	hi = port_max;
	if (lo == 0 || lo >= hi)
		return EINVAL;

	p = pool_get(pool, ip, lo, hi);
	if (p) {
		pool_reuse(pool, p);
	}
	else if (full(pool, lo, hi)) {
		return EADDRINUSE;
	}
	else {
		err = pair_open(&p, ip, lo, hi);
		if ((err == EMFILE || err == ENFILE) && pool && pool->n) {
			/* idle pairs of another address or range hold the
			   descriptors a live call needs */
			pool_flush(pool);
			err = pair_open(&p, ip, lo, hi);
		}
		if (err == EADDRINUSE && pool) {
			pool->full_lo = lo;
			pool->full_hi = hi;
			pool->full_until = tmr_jiffies() + FULL_MS;
		}
		if (err)
			return err;
		if (pool)
			++pool->st.opened;
	}

	return media_wrap(mp, p, pool);
}


int dial_media_alloc_at(struct dial_media **mp, struct dial_media_pool *pool,
			const struct sa *ip, uint16_t port)
{
	struct pair *p;
	int err;

	if (!mp || !ip || !sa_isset(ip, SA_ADDR) || !port || port == 65535)
		return EINVAL;

	p = pool_get_at(pool, ip, port);
	if (p) {
		pool_reuse(pool, p);
	}
	else {
		err = pair_open(&p, ip, port, 0);
		if (err)
			return err;
		if (pool)
			++pool->st.opened;
	}

	return media_wrap(mp, p, pool);
}


int dial_media_alloc(struct dial_media **mp, const struct sa *ip,
		     uint16_t port_min, uint16_t port_max)
{
	return dial_media_alloc_pooled(mp, NULL, ip, port_min, port_max);
}


const struct sa *dial_media_local(const struct dial_media *m)
{
	return m ? &m->s[0].local : NULL;
}


int dial_media_remote_set(struct dial_media *m, const struct sa *rtp,
			  const struct sa *rtcp, bool strict)
{
	struct sa c;
	int k;

	if (!m || !rtp || !sa_isset(rtp, SA_ALL))
		return EINVAL;

	if (rtcp && !sa_isset(rtcp, SA_ALL))
		return EINVAL;
	if (rtcp)
		sa_clean(&c, rtcp, sa_port(rtcp));
	else
		sa_clean(&c, rtp, (uint16_t)(sa_port(rtp) + 1));

	sa_clean(&m->s[0].expect, rtp, sa_port(rtp));
	m->s[1].expect = c;

	for (k = 0; k < 2; k++) {
		m->s[k].strict = strict;
		unlatch(&m->s[k]);
	}

	return 0;
}


void dial_media_latch_strict_set(struct dial_media *m, bool strict)
{
	if (m)
		m->s[0].strict = m->s[1].strict = strict;
}


void dial_media_latch_idle_set(struct dial_media *m, uint32_t ms)
{
	if (m && ms)
		m->idle_ms = ms;
}


bool dial_media_remote_is(const struct dial_media *m, const struct sa *rtp)
{
	/* sa_cmp compares address and port only */
	return m && rtp && sa_cmp(&m->s[0].expect, rtp, SA_ALL);
}


int dial_media_bridge(struct dial_media *a, struct dial_media *b)
{
	if (!a || !b || a == b)
		return EINVAL;

	if (a->other == b)
		return 0;

	dial_media_unbridge(a);
	dial_media_unbridge(b);
	a->other = b;
	b->other = a;

	return 0;
}


void dial_media_unbridge(struct dial_media *m)
{
	if (!m || !m->other)
		return;

	m->other->other = NULL;
	m->other = NULL;
}


struct dial_media *dial_media_bridged(const struct dial_media *m)
{
	return m ? m->other : NULL;
}


void dial_media_owner_set(struct dial_media *m, void *owner)
{
	if (m)
		m->owner = owner;
}


void *dial_media_owner(const struct dial_media *m)
{
	return m ? m->owner : NULL;
}


void dial_media_stats_get(const struct dial_media *m,
			  struct dial_media_stats *st)
{
	const struct sa *peer;

	if (!st)
		return;

	if (!m) {
		memset(st, 0, sizeof(*st));
		return;
	}

	*st = m->st;
	st->latched = m->s[0].latched && !stale(&m->s[0], tmr_jiffies());
	/* a stale latch reads as ended (its peer is the SDP's again) */
	peer = m->s[0].latched && !st->latched ? &m->s[0].expect :
		&m->s[0].peer;
	st->peer[0] = '\0';
	if (sa_isset(peer, SA_ALL)) {
		if (sa_af(peer) == AF_INET6)
			(void)re_snprintf(st->peer, sizeof(st->peer),
					  "[%j]:%u", peer, sa_port(peer));
		else
			(void)re_snprintf(st->peer, sizeof(st->peer), "%J",
					  peer);
	}
}
