/* relay.c: RTP/RTCP relay between two legs: socket pairs from a port range, symmetric latching, recvmmsg/sendmmsg forwarding */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <re.h>

#include "dial/internal.h"

#define DEBUG_MODULE "dial_relay"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

/*
 * Why not libre's udp_listen: its read handler allocates an 8 KiB mbuf and
 * makes one recvfrom per readiness event. A bridge at 50 packets/s each way
 * is 100 packets/s per call, so 500 calls are 50,000 packets/s in and out;
 * here each readiness event takes up to BATCH packets with one recvmmsg
 * into a thread-local buffer and sends them with one sendmmsg from the
 * other side's socket (every packet of one socket goes to the same peer),
 * with no allocation and no copy in user space.
 */

enum {
	BATCH = 32,
	PKT_MAX = 2048,   /* RTP over UDP stays under the path MTU */
};

struct rsock {
	struct dial_relay *r;
	struct rsock *other;     /* same kind (RTP/RTCP), other side */
	int fd;
	bool rtcp;
	enum dial_relay_side side;
	struct sa local;
	struct sa expect;        /* the address the side's SDP named */
	struct sa peer;          /* where this side's media goes */
	bool latched;
	bool pin;
};

struct dial_relay {
	struct rsock s[2][2];    /* [side][0: RTP, 1: RTCP] */
	struct dial_relay_stats st;
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
static bool source_ok(struct rsock *s, const struct sa *src)
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
	struct rsock *s = arg;
	struct rsock *o = s->other;
	struct dial_relay_dir *d = &s->r->st.dir[s->side];
	uint64_t bytes[BATCH];
	int n, m = 0, sent, i;

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

		if ((h->msg_flags & MSG_TRUNC) ||
		    !source_ok(s, &bt.src[i]) || !sa_isset(&o->peer, SA_ALL)) {
			++d->dropped;
			continue;
		}

		bt.txiov[m].iov_base = bt.buf[i];
		bt.txiov[m].iov_len = bt.rx[i].msg_len;
		bt.tx[m].msg_hdr.msg_name = &o->peer.u;
		bt.tx[m].msg_hdr.msg_namelen = o->peer.len;
		bytes[m] = bt.rx[i].msg_len;
		++m;
	}

	if (!m)
		return;

	sent = sendmmsg(o->fd, bt.tx, (unsigned)m, MSG_DONTWAIT);
	if (sent < 0)
		sent = 0;

	for (i = 0; i < sent; i++) {
		if (s->rtcp) {
			++d->rtcp_pkts;
			d->rtcp_bytes += bytes[i];
		}
		else {
			++d->rtp_pkts;
			d->rtp_bytes += bytes[i];
		}
	}

	d->dropped += (uint64_t)(m - sent);
}


static int sock_open(struct rsock *s, const struct sa *ip, uint16_t port)
{
	struct sa a;
	int fd;

	/* rebuilt from the address alone: a caller's struct sa filled by
	 * sa_set_str() leaves IPv6 flowinfo and scope id uninitialised */
	sa_init(&a, sa_af(ip));
	if (sa_af(ip) == AF_INET6) {
		uint8_t in6[16];

		sa_in6(ip, in6);
		sa_set_in6(&a, in6, port);
	} else {
		sa_set_in(&a, sa_in(ip), port);
	}

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


static void sock_close(struct rsock *s)
{
	if (s->fd < 0)
		return;

	fd_close(s->fd);
	(void)close(s->fd);
	s->fd = -1;
}


/* An even port and the next one, both free, from the range. */
static int pair_open(struct rsock *pair, const struct sa *ip,
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


static void destructor(void *arg)
{
	struct dial_relay *r = arg;
	int i, k;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			sock_close(&r->s[i][k]);
}


int dial_relay_alloc(struct dial_relay **rp, const struct sa *ip,
		     uint16_t port_min, uint16_t port_max)
{
	struct dial_relay *r;
	uint16_t lo, hi;
	int err = 0, i, k;

	if (!rp || !ip || !sa_isset(ip, SA_ADDR))
		return EINVAL;

	lo = (uint16_t)(port_min + (port_min & 1));
	hi = port_max;
	if (lo == 0 || lo >= hi)
		return EINVAL;

	r = mem_zalloc(sizeof(*r), destructor);
	if (!r)
		return ENOMEM;

	for (i = 0; i < 2; i++) {
		for (k = 0; k < 2; k++) {
			struct rsock *s = &r->s[i][k];

			s->r = r;
			s->fd = -1;
			s->rtcp = k == 1;
			s->side = (enum dial_relay_side)i;
			s->other = &r->s[!i][k];
		}
	}

	for (i = 0; i < 2 && !err; i++)
		err = pair_open(r->s[i], ip, lo, hi);

	for (i = 0; i < 2 && !err; i++)
		for (k = 0; k < 2 && !err; k++)
			err = fd_listen(r->s[i][k].fd, FD_READ, recv_h,
					&r->s[i][k]);

	if (err)
		mem_deref(r);
	else
		*rp = r;

	return err;
}


const struct sa *dial_relay_local(const struct dial_relay *r,
				  enum dial_relay_side side)
{
	if (!r || (side != DIAL_RELAY_A && side != DIAL_RELAY_B))
		return NULL;

	return &r->s[side][0].local;
}


int dial_relay_remote_set(struct dial_relay *r, enum dial_relay_side side,
			  const struct sa *rtp, const struct sa *rtcp,
			  bool pin)
{
	struct rsock *s;
	struct sa c;

	if (!r || (side != DIAL_RELAY_A && side != DIAL_RELAY_B) || !rtp ||
	    !sa_isset(rtp, SA_ALL))
		return EINVAL;

	if (rtcp) {
		if (!sa_isset(rtcp, SA_ALL))
			return EINVAL;
		c = *rtcp;
	}
	else {
		c = *rtp;
		sa_set_port(&c, (uint16_t)(sa_port(rtp) + 1));
	}

	s = r->s[side];

	s[0].expect = *rtp;
	s[1].expect = c;

	for (int k = 0; k < 2; k++) {
		s[k].peer = s[k].expect;
		s[k].latched = false;
		s[k].pin = pin;
	}

	r->st.latched[side] = false;

	return 0;
}


void dial_relay_stats_get(const struct dial_relay *r,
			  struct dial_relay_stats *st)
{
	if (!st)
		return;

	if (!r) {
		memset(st, 0, sizeof(*st));
		return;
	}

	*st = r->st;
	st->latched[0] = r->s[0][0].latched;
	st->latched[1] = r->s[1][0].latched;
}
