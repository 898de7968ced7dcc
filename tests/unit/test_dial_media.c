/* test_dial_media.c: per-leg media endpoints, bridges and the pool of idle pairs (dial/media.c) on real loopback sockets inside a bounded libre loop; the udp_local_get cache (dial/udp_local.c) */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <re.h>
#define DEBUG_MODULE "test"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/libre_test.h"

enum { RTP = 172, RTCP = 52 };

struct phone {
	int fd[2];              /* RTP, RTCP */
	struct sa addr;         /* RTP address */
};

static unsigned fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		++n;
	closedir(d);
	return n;
}

static int phone_open(struct phone *ph)
{
	for (unsigned tries = 0; tries < 100; tries++) {
		struct sa a;
		int k;

		ph->fd[0] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		sa_set_str(&a, "127.0.0.1", 0);
		if (ph->fd[0] < 0 || bind(ph->fd[0], &a.u.sa, a.len))
			return errno;
		ph->addr.len = sizeof(ph->addr.u);
		(void)getsockname(ph->fd[0], &ph->addr.u.sa, &ph->addr.len);
		ph->fd[1] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		sa_set_port(&a, (uint16_t)(sa_port(&ph->addr) + 1));
		k = bind(ph->fd[1], &a.u.sa, a.len);
		if (!k)
			return 0;
		close(ph->fd[0]);
		close(ph->fd[1]);
	}
	return EADDRINUSE;
}

static void phone_close(struct phone *ph)
{
	if (ph->fd[0] > 0)
		close(ph->fd[0]);
	if (ph->fd[1] > 0)
		close(ph->fd[1]);
	ph->fd[0] = ph->fd[1] = -1;
}

/* n packets of len bytes from the phone's socket k to to (+k) */
static void send_n(struct phone *ph, int k, const struct sa *to, unsigned n,
		   size_t len)
{
	uint8_t buf[4096];
	struct sa dst = *to;

	sa_set_port(&dst, (uint16_t)(sa_port(to) + k));
	memset(buf, 0x80 + k, sizeof(buf));
	for (unsigned i = 0; i < n; i++) {
		buf[3] = (uint8_t)i;
		(void)sendto(ph->fd[k], buf, len, 0, &dst.u.sa, dst.len);
		if (i % 16 == 15)
			libre_test_run_ms(2);
	}
	libre_test_run_ms(20);
}

/* datagrams waiting on the phone's socket k (consumed) */
static unsigned recv_n(struct phone *ph, int k, size_t *bytes)
{
	uint8_t buf[4096];
	unsigned n = 0;
	ssize_t r;

	if (bytes)
		*bytes = 0;
	while ((r = recv(ph->fd[k], buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		++n;
		if (bytes)
			*bytes += (size_t)r;
	}
	return n;
}

/* The pool: reuse, stale packets, the bound, the choice at random among
 * the idle pairs that fit, descriptors under pressure, close at the end. */
static void test_pool(const struct sa *ip, struct phone *pa,
		      struct phone *pb)
{
	struct dial_media_pool *pool = NULL;
	struct dial_media *a = NULL, *b = NULL, *v[16] = {NULL};
	struct dial_media_pool_stats ps;
	struct dial_media_stats st;
	struct sa la, ip2;
	unsigned fds0, i, j;
	uint16_t port[16];

	fds0 = fd_count();
	is_int(dial_media_pool_alloc(NULL, 4), EINVAL, "pool: NULL: EINVAL");
	if (!ok(dial_media_pool_alloc(&pool, 2) == 0, "a pool of 2 pairs"))
		return;
	ok(dial_media_pool_max_default() >= 1 &&
	   dial_media_pool_max_default() <= DIAL_MEDIA_POOL_MAX,
	   "default bound %u (at most %u)", dial_media_pool_max_default(),
	   DIAL_MEDIA_POOL_MAX);

	/* reuse: the ended endpoint's pair, the only idle one */
	if (!ok(dial_media_alloc_pooled(&a, pool, ip, 45000, 45099) == 0,
		"pooled endpoint"))
		goto out;
	la = *dial_media_local(a);
	(void)dial_media_remote_set(a, &pa->addr, NULL, true);
	send_n(pa, 0, &la, 3, RTP);      /* latches pa, counts 3 */
	a = mem_deref(a);
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.idle == 1 && ps.opened == 1 && ps.reused == 0,
	   "ended: its pair idle in the pool (idle %u)", ps.idle);
	is_int((int)fd_count(), (int)fds0 + 2, "the idle pair keeps its 2 "
	       "descriptors");

	/* stale packets: some read while idle (the loop runs), some still
	   queued when the pair is taken: neither reaches the new call */
	send_n(pa, 0, &la, 4, RTP);      /* runs the loop: drained idle */
	send_n(pa, 1, &la, 2, RTCP);
	dial_media_pool_stats_get(pool, &ps);
	is_int((int)ps.drained, 6, "6 stale packets read and dropped while "
	       "idle");
	{
		struct sa dst = la;
		uint8_t buf[RTP];

		/* queued, the loop not run: only the reuse's drain sees them */
		memset(buf, 0x80, sizeof(buf));
		for (i = 0; i < 40; i++)
			(void)sendto(pa->fd[0], buf, sizeof(buf), 0,
				     &dst.u.sa, dst.len);
		sa_set_port(&dst, (uint16_t)(sa_port(&la) + 1));
		(void)sendto(pa->fd[1], buf, RTCP, 0, &dst.u.sa, dst.len);
	}
	if (!ok(dial_media_alloc_pooled(&a, pool, ip, 45000, 45099) == 0 &&
		dial_media_alloc_pooled(&b, pool, ip, 45000, 45099) == 0,
		"two endpoints: one reused, one new"))
		goto out;
	is_int(sa_port(dial_media_local(a)), sa_port(&la), "the first takes "
	       "the idle pair (port %u)", sa_port(&la));
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.reused == 1 && ps.opened == 2 && ps.idle == 0 &&
	   ps.drained == 6 + 41, "reused 1, opened 2, 41 queued packets "
	   "drained on reuse (%llu in all)", (unsigned long long)ps.drained);
	dial_media_stats_get(a, &st);
	ok(!st.latched && !st.peer[0] && !st.rx_rtp_pkts && !st.dropped &&
	   !dial_media_bridged(a) && !dial_media_owner(a) &&
	   !dial_media_remote_is(a, &pa->addr),
	   "reused: no latch, peer, counters, bridge, owner or SDP address");
	/* the new call's far end is pb, on the old one's IP address: strict
	   latching would have taken the stale packets for pb's had they
	   been left queued. a is bridged to b, whose far end is pa: what
	   crosses must be the new call's 2 packets, none of the 41 */
	(void)recv_n(pa, 0, NULL);
	(void)dial_media_remote_set(a, &pb->addr, NULL, true);
	(void)dial_media_remote_set(b, &pa->addr, NULL, false);
	(void)dial_media_bridge(a, b);
	send_n(pb, 0, dial_media_local(a), 2, RTP);
	dial_media_stats_get(a, &st);
	{
		char want[64];

		re_snprintf(want, sizeof(want), "%J", &pb->addr);
		ok(st.latched && !strcmp(st.peer, want) &&
		   st.rx_rtp_pkts == 2 && !st.dropped,
		   "the new far end latches: %s, 2 received", st.peer);
	}
	is_int(recv_n(pa, 0, NULL), 2, "2 relayed to b's far end, no stale "
	       "one");
	a = mem_deref(a);
	b = mem_deref(b);
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.idle == 2 && ps.closed == 0, "both back: 2 idle");
	is_int((int)fd_count(), (int)fds0 + 4, "4 descriptors held");

	/* the bound: 5 ended with room for 2: 3 closed at once */
	for (i = 0; i < 5; i++)
		if (dial_media_alloc_pooled(&v[i], pool, ip, 45000, 45099))
			break;
	ok(i == 5, "5 endpoints");
	for (i = 0; i < 5; i++)
		v[i] = mem_deref(v[i]);
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.idle == 2 && ps.idle_max == 2 && ps.closed == 3 &&
	   ps.max == 2, "bound held: 2 idle, 3 closed");
	is_int((int)fd_count(), (int)fds0 + 4, "... 4 descriptors");

	/* expiry: pairs younger than the limit stay, older ones close */
	is_int((int)dial_media_pool_expire(pool, tmr_jiffies(), 60000), 0,
	       "expire: none idle a minute yet");
	is_int((int)dial_media_pool_expire(NULL, tmr_jiffies(), 0), 0,
	       "expire: no pool, nothing");
	is_int((int)dial_media_pool_expire(pool, tmr_jiffies() + 60000,
					   60000), 2,
	       "expire: both idle a minute closed");
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.idle == 0 && ps.expired == 2 && ps.closed == 5,
	   "expired counted (idle %u, expired %llu, closed %llu)", ps.idle,
	   (unsigned long long)ps.expired, (unsigned long long)ps.closed);
	is_int((int)fd_count(), (int)fds0, "... their descriptors closed");
	{
		struct dial_media_pool_stats before = ps;

		if (!ok(dial_media_alloc_pooled(&a, pool, ip, 45000, 45099) == 0,
			"an endpoint after expiry"))
			goto out;
		dial_media_pool_stats_get(pool, &ps);
		ok(ps.opened == before.opened + 1 &&
		   ps.reused == before.reused,
		   "... on a fresh pair, not a reused one");
		a = mem_deref(a);
	}
	pool = mem_deref(pool);
	is_int((int)fd_count(), (int)fds0, "pool freed: every descriptor "
	       "closed");

	/* at random among the idle pairs that fit: 16 ended in order are
	   not taken back in the reverse (LIFO) or the same order */
	(void)dial_media_pool_alloc(&pool, 16);
	for (i = 0; i < 16; i++)
		if (dial_media_alloc_pooled(&v[i], pool, ip, 45000, 45999))
			break;
	ok(i == 16, "16 endpoints");
	for (i = 0; i < 16; i++) {
		port[i] = sa_port(dial_media_local(v[i]));
		v[i] = mem_deref(v[i]);
	}
	{
		unsigned lifo = 0, fifo = 0, found = 0;

		for (i = 0; i < 16; i++) {
			uint16_t pt;

			if (dial_media_alloc_pooled(&v[i], pool, ip, 45000,
						    45999))
				break;
			pt = sa_port(dial_media_local(v[i]));
			lifo += pt == port[15 - i];
			fifo += pt == port[i];
			for (j = 0; j < 16; j++)
				found += pt == port[j];
		}
		ok(found == 16, "all 16 taken from the pool");
		ok(lifo < 16 && fifo < 16, "not in LIFO or FIFO order "
		   "(%u, %u of 16 in place)", lifo, fifo);
	}
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.reused == 16 && ps.opened == 16, "16 reused");
	for (i = 0; i < 16; i++)
		v[i] = mem_deref(v[i]);

	/* what does not fit is not taken: another range, another address */
	if (!ok(dial_media_alloc_pooled(&a, pool, ip, 46000, 46099) == 0,
		"another range"))
		goto out;
	ok(sa_port(dial_media_local(a)) >= 46000 &&
	   sa_port(dial_media_local(a)) <= 46098, "a port of that range (%u)",
	   sa_port(dial_media_local(a)));
	a = mem_deref(a);
	sa_set_str(&ip2, "127.0.0.2", 0);
	if (!ok(dial_media_alloc_pooled(&a, pool, &ip2, 45000, 45999) == 0,
		"another address"))
		goto out;
	ok(sa_cmp(dial_media_local(a), &ip2, SA_ADDR), "bound on 127.0.0.2");
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.reused == 16 && ps.opened == 18, "both opened anew");
	a = mem_deref(a);

	/* descriptors exhausted: the idle pairs that do not fit are closed
	   so that the new endpoint can open its pair */
	{
		struct rlimit rl0, rl;
		int lowest = dup(0);

		dial_media_pool_stats_get(pool, &ps);
		if (lowest >= 0)
			close(lowest);
		if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &rl0)) {
			tap_skip(1, "no descriptor to test with");
		}
		else {
			int err;

			rl = rl0;
			rl.rlim_cur = (rlim_t)lowest;
			if (setrlimit(RLIMIT_NOFILE, &rl)) {
				tap_skip(1, "setrlimit refused");
			}
			else {
				err = dial_media_alloc_pooled(&a, pool, &ip2,
							      45000, 45999);
				(void)setrlimit(RLIMIT_NOFILE, &rl0);
				ok(!err, "EMFILE with %u idle pairs: the new "
				   "pair opens (%s)", ps.idle, strerror(err));
				dial_media_pool_stats_get(pool, &ps);
				ok(ps.idle == 0 && ps.closed == 2 + 16,
				   "... after the 16 idle ones closed");
				a = mem_deref(a);
			}
		}
	}
 out:
	mem_deref(a);
	mem_deref(b);
	for (i = 0; i < 16; i++)
		mem_deref(v[i]);
	mem_deref(pool);
	is_int((int)fd_count(), (int)fds0, "every descriptor closed");
}

/* A UDP socket freed and another made in its place: after
 * dial_udp_local_forget the cache answers the new one's port (the listen
 * port 0 retry of dial/stack.c) */
/* A full range is not scanned again for 100 ms: the legs in that window
 * fail at once (counted), an idle pair of the pool still serves them, and
 * the range is tried again after the window. */
static void test_full(const struct sa *ip)
{
	struct dial_media_pool *pool = NULL, *none = NULL;
	struct dial_media *a = NULL, *b = NULL, *c = NULL;
	struct dial_media_pool_stats ps;

	if (!ok(dial_media_pool_alloc(&pool, 4) == 0 &&
		dial_media_pool_alloc(&none, 0) == 0, "pools of 4 and 0"))
		goto out;
	if (!ok(dial_media_alloc_pooled(&a, pool, ip, 46000, 46003) == 0 &&
		dial_media_alloc_pooled(&b, pool, ip, 46000, 46003) == 0,
		"both pairs of 46000-46003 taken"))
		goto out;
	is_int(dial_media_alloc_pooled(&c, pool, ip, 46000, 46003), EADDRINUSE,
	       "a third: the scan finds none");
	is_int(dial_media_alloc_pooled(&c, pool, ip, 46000, 46003), EADDRINUSE,
	       "a fourth: refused at once");
	dial_media_pool_stats_get(pool, &ps);
	ok(ps.refused_full == 1 && ps.opened == 2, "one refused without a scan "
	   "(%llu), 2 opened", (unsigned long long)ps.refused_full);
	a = mem_deref(a);
	ok(dial_media_alloc_pooled(&c, pool, ip, 46000, 46003) == 0,
	   "an ended leg's pair, idle in the pool, still serves in the window");
	c = mem_deref(c);
	b = mem_deref(b);
	mem_deref(pool);	/* its idle pairs close */
	pool = NULL;

	/* without a pool an ended leg's ports are free, but the window holds */
	ok(dial_media_alloc_pooled(&a, none, ip, 46000, 46001) == 0,
	   "the one pair of 46000-46001");
	is_int(dial_media_alloc_pooled(&b, none, ip, 46000, 46001), EADDRINUSE,
	       "full");
	a = mem_deref(a);
	is_int(dial_media_alloc_pooled(&b, none, ip, 46000, 46001), EADDRINUSE,
	       "freed, but within 100 ms of the scan: refused");
	is_int(dial_media_alloc_pooled(&b, none, ip, 46002, 46003), 0,
	       "another range is not held by the window");
	b = mem_deref(b);
	usleep(120 * 1000);
	ok(dial_media_alloc_pooled(&a, none, ip, 46000, 46001) == 0,
	   "after the window: scanned again, taken");
	a = mem_deref(a);
 out:
	mem_deref(a);
	mem_deref(b);
	mem_deref(c);
	mem_deref(pool);
	mem_deref(none);
}

static void test_udp_local(void)
{
	struct udp_sock *us = NULL;
	struct sa any, got, real;
	bool ok1 = true;

	sa_set_str(&any, "127.0.0.1", 0);
	for (int i = 0; i < 4 && ok1; i++) {
		ok1 = udp_listen(&us, &any, NULL, NULL) == 0 &&
		      udp_local_get(us, &got) == 0;
		if (!ok1)
			break;
		sa_init(&real, AF_INET);
		ok1 = getsockname(udp_sock_fd(us, AF_INET), &real.u.sa,
				  &real.len) == 0 &&
		      sa_port(&got) == sa_port(&real);
		us = mem_deref(us);
		dial_udp_local_forget();
	}
	ok(ok1, "udp_local_get answers each new socket's own port");
	mem_deref(us);
}

int main(void)
{
	struct dial_media *a = NULL, *b = NULL, *c = NULL;
	struct phone pa, pb, pc;
	struct dial_media_stats st;
	struct sa ip, la, lb, lc;
	unsigned fds0;
	size_t bytes;
	int leg_a = 1, leg_b = 2;
	char want[64];

	memset(&pa, -1, sizeof(pa));
	pb = pc = pa;
	dbg_handler_set(libre_test_dbg_h, NULL);
	if (!ok(libre_init() == 0, "libre_init"))
		return tap_done();
	(void)fd_setsize(4096);
	test_udp_local();
	sa_set_str(&ip, "127.0.0.1", 0);
	if (phone_open(&pa) || phone_open(&pb) || phone_open(&pc)) {
		ok(0, "phone sockets");
		goto out;
	}
	/* libre opens its epoll descriptor with the first listener */
	if (!dial_media_alloc(&a, &ip, 43301, 43399))
		a = mem_deref(a);
	fds0 = fd_count();

	is_int(dial_media_alloc(&a, &ip, 43300, 43300), EINVAL,
	       "empty range: EINVAL");
	is_int(dial_media_alloc(&a, NULL, 43300, 43399), EINVAL,
	       "no address: EINVAL");
	if (!ok(dial_media_alloc(&a, &ip, 43301, 43399) == 0 &&
		dial_media_alloc(&b, &ip, 43301, 43399) == 0,
		"two endpoints from 43301-43399"))
		goto out;
	la = *dial_media_local(a);
	lb = *dial_media_local(b);
	ok(sa_port(&la) % 2 == 0 && sa_port(&lb) % 2 == 0 &&
	   sa_port(&la) >= 43302 && sa_port(&lb) <= 43398 &&
	   sa_port(&la) != sa_port(&lb), "even RTP ports in range (%u, %u)",
	   sa_port(&la), sa_port(&lb));
	is_int((int)fd_count(), (int)fds0 + 4, "4 descriptors: 2 pairs");
	dial_media_owner_set(a, &leg_a);
	dial_media_owner_set(b, &leg_b);
	ok(dial_media_owner(a) == &leg_a && dial_media_owner(b) == &leg_b,
	   "owners kept");
	dial_media_stats_get(a, &st);
	ok(st.relayed && !st.latched && !st.peer[0] &&
	   st.local_port == sa_port(&la), "fresh endpoint: relayed, no peer");

	/* not bridged: accepted (rx) but dropped */
	ok(dial_media_remote_set(a, &pa.addr, NULL, false) == 0 &&
	   dial_media_remote_set(b, &pb.addr, NULL, false) == 0,
	   "both SDP addresses known");
	ok(dial_media_remote_is(a, &pa.addr) && !dial_media_remote_is(a,
								   &pb.addr),
	   "remote_is compares the SDP address");
	send_n(&pa, 0, &la, 10, RTP);
	dial_media_stats_get(a, &st);
	ok(st.rx_rtp_pkts == 10 && st.rx_rtp_bytes == 10 * RTP &&
	   st.dropped == 10 && st.latched, "unbridged: 10 received, 10 dropped,"
	   " peer latched");
	re_snprintf(want, sizeof(want), "%J", &pa.addr);
	is_str(st.peer, want, "peer is the phone's address");
	is_int(recv_n(&pb, 0, NULL), 0, "nothing reached B's phone");

	/* bridged: both ways, RTP and RTCP, counted per endpoint */
	ok(dial_media_bridge(a, b) == 0 && dial_media_bridged(a) == b &&
	   dial_media_bridged(b) == a, "a and b bridged");
	is_int(dial_media_bridge(a, a), EINVAL, "bridge to itself: EINVAL");
	is_int(dial_media_bridge(a, NULL), EINVAL, "bridge to NULL: EINVAL");
	send_n(&pa, 0, &la, 50, RTP);
	send_n(&pa, 1, &la, 3, RTCP);
	send_n(&pb, 0, &lb, 40, RTP);
	send_n(&pb, 1, &lb, 2, RTCP);
	is_int(recv_n(&pb, 0, &bytes), 50, "A -> B: 50 RTP at B's phone");
	is_int((int)bytes, 50 * RTP, "... 8600 bytes");
	is_int(recv_n(&pb, 1, NULL), 3, "A -> B: 3 RTCP on port + 1");
	is_int(recv_n(&pa, 0, NULL), 40, "B -> A: 40 RTP at A's phone");
	is_int(recv_n(&pa, 1, NULL), 2, "B -> A: 2 RTCP");
	dial_media_stats_get(a, &st);
	ok(st.rx_rtp_pkts == 60 && st.rx_rtcp_pkts == 3 &&
	   st.rx_rtcp_bytes == 3 * RTCP && st.tx_rtp_pkts == 40 &&
	   st.tx_rtp_bytes == 40 * RTP && st.tx_rtcp_pkts == 2 &&
	   st.tx_rtcp_bytes == 2 * RTCP && st.dropped == 10,
	   "A: rx 60 RTP (10 before the bridge) + 3 RTCP, tx 40 + 2, "
	   "dropped 10");
	dial_media_stats_get(b, &st);
	ok(st.rx_rtp_pkts == 40 && st.rx_rtcp_pkts == 2 &&
	   st.tx_rtp_pkts == 50 && st.tx_rtp_bytes == 50 * RTP &&
	   st.tx_rtcp_pkts == 3 && st.dropped == 0 && st.latched,
	   "B: rx 40 + 2, tx 50 + 3, nothing dropped");

	/* a foreign source after the latch, an oversize datagram */
	send_n(&pc, 0, &la, 4, RTP);
	send_n(&pa, 0, &la, 1, 3000);
	dial_media_stats_get(a, &st);
	ok(st.rx_rtp_pkts == 60 && st.dropped == 15 &&
	   recv_n(&pb, 0, NULL) == 0, "foreign source and oversize: dropped,"
	   " not received");

	/* re-bridge A to C: B's bridge ends */
	if (!ok(dial_media_alloc(&c, &ip, 43301, 43399) == 0, "third "
		"endpoint"))
		goto out;
	lc = *dial_media_local(c);
	(void)dial_media_remote_set(c, &pc.addr, NULL, false);
	ok(dial_media_bridge(a, c) == 0 && dial_media_bridged(a) == c &&
	   dial_media_bridged(b) == NULL, "a re-bridged to c: b alone");
	send_n(&pa, 0, &la, 5, RTP);
	is_int(recv_n(&pc, 0, NULL), 5, "A -> C: 5 RTP");
	is_int(recv_n(&pb, 0, NULL), 0, "B gets nothing");
	send_n(&pb, 0, &lb, 3, RTP);
	dial_media_stats_get(b, &st);
	ok(st.dropped == 3 && recv_n(&pa, 0, NULL) == 0,
	   "B unbridged: its peer's packets dropped");

	/* freeing C ends the bridge and closes its pair */
	c = mem_deref(c);
	ok(dial_media_bridged(a) == NULL, "freeing c unbridges a");
	send_n(&pa, 0, &la, 2, RTP);
	dial_media_stats_get(a, &st);
	is_int((int)st.dropped, 17, "a alone: dropped");
	(void)lc;

	/* re-target: a new SDP address resets the latch */
	ok(dial_media_bridge(a, b) == 0, "a and b bridged again");
	ok(dial_media_remote_set(b, &pc.addr, NULL, false) == 0,
	   "b re-targeted to C's phone (re-INVITE)");
	send_n(&pa, 0, &la, 6, RTP);
	is_int(recv_n(&pc, 0, NULL), 6, "A -> the new address before a "
	       "packet from it");
	send_n(&pc, 0, &lb, 4, RTP);
	is_int(recv_n(&pa, 0, NULL), 4, "new source latched on b");
	dial_media_unbridge(b);
	ok(!dial_media_bridged(a) && !dial_media_bridged(b), "unbridge ends "
	   "both sides");
	dial_media_unbridge(b);
	dial_media_unbridge(NULL);

	/* pin: only the SDP's IP may send */
	{
		struct sa other;

		sa_set_str(&other, "127.0.0.2", sa_port(&pa.addr));
		(void)dial_media_remote_set(a, &other, NULL, true);
		(void)dial_media_bridge(a, b);
		send_n(&pa, 0, &la, 3, RTP);
		dial_media_stats_get(a, &st);
		ok(!st.latched && recv_n(&pc, 0, NULL) == 0, "pinned to "
		   "127.0.0.2: 127.0.0.1 refused");
	}

	a = mem_deref(a);
	b = mem_deref(b);
	is_int((int)fd_count(), (int)fds0, "every descriptor closed");
	dial_media_stats_get(NULL, &st);
	ok(!st.relayed && !st.rx_rtp_pkts, "stats of NULL: zero");

	/* ports at random: 24 endpoints from 500 pairs. In sequence every
	   step would be +2; at random a step is +-2 with p = 2/500, so more
	   than 3 such steps among 23 has p < 1e-6 */
	{
		struct dial_media *v[24] = {NULL};
		unsigned seq = 0, odd = 0, out = 0, same = 0;
		int i, j;

		for (i = 0; i < 24; i++) {
			uint16_t pt;

			if (dial_media_alloc(&v[i], &ip, 44000, 44999))
				break;
			pt = sa_port(dial_media_local(v[i]));
			odd += pt & 1;
			out += pt < 44000 || pt > 44998;
			for (j = 0; j < i; j++)
				same += pt == sa_port(dial_media_local(v[j]));
			if (i && abs((int)pt - (int)sa_port(
				dial_media_local(v[i - 1]))) == 2)
				++seq;
		}
		ok(i == 24 && !odd && !out && !same, "24 endpoints: even, in "
		   "range, distinct");
		ok(seq <= 3, "ports of consecutive endpoints not sequential "
		   "(%u of 23 steps of 2)", seq);
		for (i = 0; i < 24; i++)
			mem_deref(v[i]);
	}

	/* exhaustion: 2 ports are one endpoint */
	ok(dial_media_alloc(&a, &ip, 43400, 43401) == 0, "a 2-port range");
	is_int(dial_media_alloc(&b, &ip, 43400, 43401), EADDRINUSE,
	       "range exhausted: EADDRINUSE");
	a = mem_deref(a);
	ok(dial_media_alloc(&b, &ip, 43400, 43401) == 0, "its ports are "
	   "reusable once freed");
	b = mem_deref(b);

	test_pool(&ip, &pa, &pb);
	test_full(&ip);
 out:
	mem_deref(a);
	mem_deref(b);
	mem_deref(c);
	phone_close(&pa);
	phone_close(&pb);
	phone_close(&pc);
	libre_close();
	return tap_done();
}
