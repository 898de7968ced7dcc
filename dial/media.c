/* media.c: per-leg RTP/RTCP media endpoints (socket pairs from a port range, symmetric latching, counters) and the bridge that relays between two of them with recvmmsg/sendmmsg */
#include <errno.h>
#include <string.h>
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
};

struct msock {
	struct dial_media *m;
	int fd;
	bool rtcp;
	struct sa local;
	struct sa expect;        /* the address the leg's SDP named */
	struct sa peer;          /* where this leg's media goes */
	bool latched;
	bool pin;
};

struct dial_media {
	struct msock s[2];       /* [0]: RTP, [1]: RTCP */
	struct dial_media *other;    /* bridged endpoint, or NULL */
	void *owner;                 /* the caller's (a leg) */
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
static _Thread_local uint16_t cursor;   /* next even port to try */


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


/* Symmetric latching: the first acceptable source becomes the peer. */
static bool source_ok(struct msock *s, const struct sa *src)
{
	if (s->latched)
		return sa_cmp(src, &s->peer, SA_ALL);

	if (s->pin && !sa_cmp(src, &s->expect, SA_ADDR))
		return false;

	s->peer = *src;
	s->latched = true;

	return true;
}


static void recv_h(int flags, void *arg)
{
	struct msock *s = arg;
	struct dial_media *m = s->m;
	struct dial_media_stats *st = &m->st;
	struct msock *o = m->other ? &m->other->s[s->rtcp] : NULL;
	uint64_t bytes[BATCH];
	uint64_t okp = 0, okb = 0;
	int n, k = 0, sent, i;

	(void)flags;

	if (!bt.init)
		batch_init();

	for (i = 0; i < BATCH; i++)
		bt.rx[i].msg_hdr.msg_namelen = sizeof(bt.src[i].u);

	n = recvmmsg(s->fd, bt.rx, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;   /* EAGAIN, or an ICMP error reported: nothing */

	for (i = 0; i < n; i++) {
		struct msghdr *h = &bt.rx[i].msg_hdr;

		bt.src[i].len = h->msg_namelen;

		if ((h->msg_flags & MSG_TRUNC) || !source_ok(s, &bt.src[i])) {
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

	/* the kernel's view of the bound address: fully initialised (IPv6
	 * flowinfo and scope id included) and with the port it gave */
	memset(&s->local, 0, sizeof(s->local));
	s->local.len = sizeof(s->local.u);
	if (getsockname(fd, &s->local.u.sa, &s->local.len) < 0)
		s->local = a;
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


/* An even port and the next one, both free, from the range. */
static int pair_open(struct msock *pair, const struct sa *ip,
		     uint16_t lo, uint16_t hi)
{
	unsigned tries = (unsigned)(hi - lo) / 2 + 1;
	int err = EADDRINUSE;

	while (tries--) {
		uint16_t p = cursor;

		if (p < lo || p > hi - 1 || (p & 1))
			p = lo;
		cursor = (uint16_t)(p + 2 > hi - 1 ? lo : p + 2);

		err = sock_open(&pair[0], ip, p);
		if (err == EADDRINUSE)
			continue;
		if (err)
			return err;

		err = sock_open(&pair[1], ip, (uint16_t)(p + 1));
		if (!err)
			return 0;

		sock_close(&pair[0]);
		if (err != EADDRINUSE)
			return err;
	}

	return EADDRINUSE;
}


static void media_destructor(void *arg)
{
	struct dial_media *m = arg;

	dial_media_unbridge(m);
	sock_close(&m->s[0]);
	sock_close(&m->s[1]);
}


int dial_media_alloc(struct dial_media **mp, const struct sa *ip,
		     uint16_t port_min, uint16_t port_max)
{
	struct dial_media *m;
	uint16_t lo, hi;
	int err, k;

	if (!mp || !ip || !sa_isset(ip, SA_ADDR))
		return EINVAL;

	lo = (uint16_t)(port_min + (port_min & 1));
	hi = port_max;
	if (lo == 0 || lo >= hi)
		return EINVAL;

	m = mem_zalloc(sizeof(*m), media_destructor);
	if (!m)
		return ENOMEM;

	for (k = 0; k < 2; k++) {
		m->s[k].m = m;
		m->s[k].fd = -1;
		m->s[k].rtcp = k == 1;
	}

	err = pair_open(m->s, ip, lo, hi);
	for (k = 0; k < 2 && !err; k++)
		err = fd_listen(m->s[k].fd, FD_READ, recv_h, &m->s[k]);

	if (err) {
		mem_deref(m);
		return err;
	}

	m->st.relayed = true;
	m->st.local_port = sa_port(&m->s[0].local);
	*mp = m;

	return 0;
}


const struct sa *dial_media_local(const struct dial_media *m)
{
	return m ? &m->s[0].local : NULL;
}


int dial_media_remote_set(struct dial_media *m, const struct sa *rtp,
			  const struct sa *rtcp, bool pin)
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
		m->s[k].peer = m->s[k].expect;
		m->s[k].latched = false;
		m->s[k].pin = pin;
	}

	return 0;
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
	if (!st)
		return;

	if (!m) {
		memset(st, 0, sizeof(*st));
		return;
	}

	*st = m->st;
	st->latched = m->s[0].latched;
	st->peer[0] = '\0';
	if (sa_isset(&m->s[0].peer, SA_ALL)) {
		if (sa_af(&m->s[0].peer) == AF_INET6)
			(void)re_snprintf(st->peer, sizeof(st->peer),
					  "[%j]:%u", &m->s[0].peer,
					  sa_port(&m->s[0].peer));
		else
			(void)re_snprintf(st->peer, sizeof(st->peer), "%J",
					  &m->s[0].peer);
	}
}
