/* test_dial_relay.c: two bridged media endpoints (dial/media.c) relaying RTP/RTCP on real loopback sockets inside a bounded libre loop */
#include <string.h>

#include <re.h>
#define DEBUG_MODULE "test"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/libre_test.h"

enum { PAYLOAD = 172 };   /* 12-byte RTP header + 160 bytes of G.711 */

/* a call's two relayed legs: endpoints A and B, bridged */
enum { A = 0, B = 1 };

struct pair {
	struct dial_media *m[2];
};

/* what side i's peer sent that left towards the other side's peer, and
 * what side i's sockets dropped */
struct pair_dir {
	uint64_t rtp_pkts, rtp_bytes, rtcp_pkts, rtcp_bytes, dropped;
};

struct pair_stats {
	struct pair_dir dir[2];
	bool latched[2];
};

static void pair_free(struct pair *p)
{
	p->m[A] = mem_deref(p->m[A]);
	p->m[B] = mem_deref(p->m[B]);
}

static int pair_alloc(struct pair *p, const struct sa *ip, uint16_t lo,
		      uint16_t hi)
{
	int err;

	err = dial_media_alloc(&p->m[A], ip, lo, hi);
	if (!err)
		err = dial_media_alloc(&p->m[B], ip, lo, hi);
	if (!err)
		err = dial_media_bridge(p->m[A], p->m[B]);
	if (err) {
		pair_free(p);
		return err;
	}
	/* latch any source until an SDP says otherwise (NAT mode): side A
	   below has no SDP address */
	dial_media_latch_strict_set(p->m[A], false);
	dial_media_latch_strict_set(p->m[B], false);
	return 0;
}

static void pair_stats_get(const struct pair *p, struct pair_stats *st)
{
	struct dial_media_stats ms[2];

	dial_media_stats_get(p->m[A], &ms[A]);
	dial_media_stats_get(p->m[B], &ms[B]);
	for (int i = 0; i < 2; i++) {
		const struct dial_media_stats *to = &ms[!i];

		st->dir[i].rtp_pkts = to->tx_rtp_pkts;
		st->dir[i].rtp_bytes = to->tx_rtp_bytes;
		st->dir[i].rtcp_pkts = to->tx_rtcp_pkts;
		st->dir[i].rtcp_bytes = to->tx_rtcp_bytes;
		st->dir[i].dropped = ms[i].dropped;
		st->latched[i] = ms[i].latched;
	}
}

struct phone {
	struct udp_sock *us;
	struct sa addr;
	unsigned rx;
	unsigned bad;          /* payload not byte-identical / out of order */
	uint32_t next;         /* expected sequence */
	uint8_t tag;           /* who sent what we expect */
};

static void fill(uint8_t *p, size_t len, uint8_t tag, uint32_t seq)
{
	size_t i;

	p[0] = 0x80;
	p[1] = tag;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (i = 4; i < len; i++)
		p[i] = (uint8_t)(tag + seq + i);
}

static void phone_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct phone *ph = arg;
	uint8_t want[PAYLOAD];

	(void)src;
	fill(want, sizeof(want), ph->tag, ph->next);
	if (mbuf_get_left(mb) != PAYLOAD ||
	    memcmp(mbuf_buf(mb), want, PAYLOAD) != 0)
		++ph->bad;
	++ph->next;
	++ph->rx;
}

static int phone_open(struct phone *ph, const char *ip, uint8_t tag)
{
	struct sa a;
	int err;

	memset(ph, 0, sizeof(*ph));
	ph->tag = tag;
	sa_set_str(&a, ip, 0);
	err = udp_listen(&ph->us, &a, phone_recv, ph);
	if (err)
		return err;

	return udp_local_get(ph->us, &ph->addr);
}

/* n packets tagged tag, in bursts of 25; after each burst the loop runs
 * until dst (when given) has them all, at most a second: slow runs
 * (valgrind) must not overflow socket buffers */
static void send_pkts(struct phone *from, const struct sa *to, unsigned n,
		      uint8_t tag, size_t len, const struct phone *dst)
{
	struct mbuf *mb = mbuf_alloc(4096);
	unsigned i, base = dst ? dst->rx : 0;

	for (i = 0; i < n; i++) {
		mbuf_rewind(mb);
		mb->end = len;
		fill(mb->buf, len, tag, i);
		mb->pos = 0;
		(void)udp_send(from->us, to, mb);
		if (i % 25 == 24 || i == n - 1) {
			unsigned w;

			for (w = 0; w < 1000; w++) {
				libre_test_run_ms(1);
				if (!dst || dst->rx >= base + i + 1)
					break;
			}
		}
	}
	libre_test_run_ms(dst ? 5 : 20);
	mem_deref(mb);
}

static struct sa port_plus(const struct sa *a, int d)
{
	struct sa r = *a;

	sa_set_port(&r, (uint16_t)(sa_port(a) + d));
	return r;
}

int main(void)
{
	struct pair r = {{NULL}}, r2 = {{NULL}}, r3 = {{NULL}}, r5 = {{NULL}};
	struct phone pa, pac, pb, pbc, px, pp;
	struct pair_stats st;
	struct sa ip, la, lb, pin_addr;
	int err;

	memset(&pa, 0, sizeof(pa));
	pac = pb = pbc = px = pp = pa;

	dbg_handler_set(libre_test_dbg_h, NULL);
	err = libre_init();
	if (!ok(err == 0, "libre_init"))
		return tap_done();
	(void)fd_setsize(4096);

	sa_set_str(&ip, "127.0.0.1", 0);

	is_int(pair_alloc(&r, &ip, 40000, 40000), EINVAL,
	       "empty port range: EINVAL");

	err = pair_alloc(&r, &ip, 41001, 41099);
	if (!ok(err == 0, "relay on 127.0.0.1, ports 41001-41099"))
		goto out;
	la = *dial_media_local(r.m[A]);
	lb = *dial_media_local(r.m[B]);
	ok(sa_port(&la) % 2 == 0 && sa_port(&lb) % 2 == 0 &&
	   sa_port(&la) >= 41002 && sa_port(&lb) <= 41098 &&
	   sa_port(&la) != sa_port(&lb),
	   "two even RTP ports in range (%u, %u)", sa_port(&la),
	   sa_port(&lb));

	if (phone_open(&pa, "127.0.0.1", 0xa0) ||
	    phone_open(&pac, "127.0.0.1", 0xa1) ||
	    phone_open(&pb, "127.0.0.1", 0xb0) ||
	    phone_open(&pbc, "127.0.0.1", 0xb1) ||
	    phone_open(&px, "127.0.0.1", 0xee)) {
		ok(0, "phone sockets");
		goto out;
	}
	/* the phones expect what the other side sends */
	pa.tag = 0xb0;
	pb.tag = 0xa0;
	pac.tag = 0xb1;
	pbc.tag = 0xa1;

	/* B's SDP is known; A's is not (A will be latched) */
	ok(dial_media_remote_set(r.m[B], &pb.addr, &pbc.addr, false)
	   == 0, "side B remote from SDP");

	send_pkts(&pb, &lb, 5, 0xb0, PAYLOAD, NULL);
	pair_stats_get(&r, &st);
	is_int((long long)st.dir[B].dropped, 5,
	       "B -> A before A is known: dropped");
	ok(st.latched[B] && !st.latched[A],
	   "B latched, A not yet");

	send_pkts(&pa, &la, 300, 0xa0, PAYLOAD, &pb);
	is_int(pb.rx, 300, "A -> B: 300 packets arrived");
	is_int(pb.bad, 0, "byte-identical and in order");

	pa.next = 0;
	send_pkts(&pb, &lb, 200, 0xb0, PAYLOAD, &pa);
	is_int(pa.rx, 200, "B -> A to the latched address: 200 packets");
	is_int(pa.bad, 0, "byte-identical and in order");

	{
		struct sa lac = port_plus(&la, 1);

		send_pkts(&pac, &lac, 10, 0xa1, PAYLOAD, &pbc);
		is_int(pbc.rx, 10, "RTCP A -> B on port + 1: 10 packets");
		is_int(pbc.bad, 0, "RTCP byte-identical");
	}

	/* a stranger on A's port after the latch */
	send_pkts(&px, &la, 7, 0xa0, PAYLOAD, NULL);
	is_int(pb.rx, 300, "foreign source after latching: not forwarded");

	/* oversize datagram */
	send_pkts(&pa, &la, 1, 0xa0, 3000, NULL);
	is_int(pb.rx, 300, "oversize datagram not forwarded");

	pair_stats_get(&r, &st);
	is_int((long long)st.dir[A].rtp_pkts, 300, "A->B rtp_pkts");
	is_int((long long)st.dir[A].rtp_bytes, 300 * PAYLOAD,
	       "A->B rtp_bytes");
	is_int((long long)st.dir[A].rtcp_pkts, 10, "A->B rtcp_pkts");
	is_int((long long)st.dir[A].rtcp_bytes, 10 * PAYLOAD,
	       "A->B rtcp_bytes");
	is_int((long long)st.dir[A].dropped, 8,
	       "A->B dropped: 7 foreign + 1 oversize");
	is_int((long long)st.dir[B].rtp_pkts, 200, "B->A rtp_pkts");
	is_int((long long)st.dir[B].rtp_bytes, 200 * PAYLOAD,
	       "B->A rtp_bytes");
	is_int((long long)st.dir[B].dropped, 5, "B->A dropped");

	/* re-INVITE: a new SDP address for A resets its latch */
	ok(dial_media_remote_set(r.m[A], &px.addr, NULL, false) == 0,
	   "side A re-targeted");
	px.tag = 0xb0;
	pb.tag = 0xee;
	pb.next = 0;
	pb.rx = 0;
	send_pkts(&px, &la, 20, 0xee, PAYLOAD, &pb);
	is_int(pb.rx, 20, "new source latched after the re-target");
	is_int(pb.bad, 0, "and forwarded intact");

	/* pin: only the SDP's IP may send */
	if (!ok(phone_open(&pp, "127.0.0.2", 0xb0) == 0,
		"phone on 127.0.0.2"))
		goto out;
	err = pair_alloc(&r2, &ip, 41001, 41099);
	ok(err == 0, "second relay from the same range");
	if (err)
		goto out;
	pin_addr = pp.addr;
	(void)dial_media_remote_set(r2.m[A], &pin_addr, NULL, true);
	(void)dial_media_remote_set(r2.m[B], &pb.addr, NULL, false);
	pb.rx = 0;
	pb.next = 0;
	pb.tag = 0xa0;
	send_pkts(&pa, dial_media_local(r2.m[A]), 10, 0xa0, PAYLOAD,
		  NULL);
	pair_stats_get(&r2, &st);
	ok(pb.rx == 0 && st.dir[A].dropped == 10 &&
	   !st.latched[A], "pinned: 127.0.0.1 refused");
	send_pkts(&pp, dial_media_local(r2.m[A]), 10, 0xa0, PAYLOAD,
		  &pb);
	pair_stats_get(&r2, &st);
	ok(pb.rx == 10 && st.latched[A],
	   "pinned: the SDP's address 127.0.0.2 accepted and latched");

	/* latch expiry, strict: the latched source goes quiet; after the
	   idle time another port of the SDP's address takes over, and media
	   towards A follows it (a far end that moved without re-INVITE) */
	if (!ok(pair_alloc(&r5, &ip, 41001, 41099) == 0, "relay for expiry"))
		goto out;
	(void)dial_media_remote_set(r5.m[A], &pa.addr, NULL, true);
	(void)dial_media_remote_set(r5.m[B], &pb.addr, NULL, false);
	dial_media_latch_idle_set(r5.m[A], 200);
	pb.rx = pa.rx = px.rx = pp.rx = 0;
	send_pkts(&pa, dial_media_local(r5.m[A]), 10, 0xa0, PAYLOAD, &pb);
	send_pkts(&px, dial_media_local(r5.m[A]), 5, 0xa0, PAYLOAD, NULL);
	pair_stats_get(&r5, &st);
	ok(pb.rx == 10 && st.latched[A] && st.dir[A].dropped == 5,
	   "latched A; another port of the same IP dropped while it is fresh");
	libre_test_run_ms(300);
	pair_stats_get(&r5, &st);
	ok(!st.latched[A], "no packet for the idle time: latch ended");
	send_pkts(&px, dial_media_local(r5.m[A]), 10, 0xa0, PAYLOAD, &pb);
	is_int(pb.rx, 20, "the new source of the SDP's IP latched and relayed");
	send_pkts(&pb, dial_media_local(r5.m[B]), 5, 0xb0, PAYLOAD, &px);
	ok(px.rx == 5 && pa.rx == 0, "B -> A goes to the new source (%u), "
	   "not the old one (%u)", px.rx, pa.rx);
	pair_free(&r5);

	/* latch expiry, any source (NAT): a stranger latched first and went
	   quiet; after the idle time media towards A is back at the SDP's
	   address, and the far end latches */
	if (!ok(pair_alloc(&r5, &ip, 41001, 41099) == 0, "relay, any source"))
		goto out;
	(void)dial_media_remote_set(r5.m[A], &pa.addr, NULL, false);
	(void)dial_media_remote_set(r5.m[B], &pb.addr, NULL, false);
	dial_media_latch_idle_set(r5.m[A], 200);
	dial_media_latch_idle_set(r5.m[B], 200);
	pb.rx = pa.rx = pp.rx = 0;
	send_pkts(&pp, dial_media_local(r5.m[A]), 3, 0xa0, PAYLOAD, &pb);
	send_pkts(&pb, dial_media_local(r5.m[B]), 4, 0xb0, PAYLOAD, &pp);
	ok(pp.rx == 4 && pa.rx == 0, "any: the stranger on 127.0.0.2 "
	   "latched (%u)", pp.rx);
	libre_test_run_ms(300);
	send_pkts(&pb, dial_media_local(r5.m[B]), 6, 0xb0, PAYLOAD, &pa);
	ok(pa.rx == 6 && pp.rx == 4, "the stale latch ended: B -> A back "
	   "at the SDP's address (%u), none to the stranger", pa.rx);
	send_pkts(&pa, dial_media_local(r5.m[A]), 5, 0xa0, PAYLOAD, &pb);
	pair_stats_get(&r5, &st);
	ok(st.latched[A] && pb.rx == 8, "the far end latched (3 + 5 relayed)");
	pair_free(&r5);

	/* IPv6: the same path on ::1 */
	{
		struct pair r6 = {{NULL}};
		struct phone a6, b6;
		struct sa ip6;

		memset(&a6, 0, sizeof(a6));
		memset(&b6, 0, sizeof(b6));
		sa_set_str(&ip6, "::1", 0);
		if (pair_alloc(&r6, &ip6, 41100, 41199) == 0 &&
		    phone_open(&a6, "::1", 0xb0) == 0 &&
		    phone_open(&b6, "::1", 0xa0) == 0) {
			(void)dial_media_remote_set(r6.m[B], &b6.addr,
						    NULL, false);
			send_pkts(&a6, dial_media_local(r6.m[A]), 10,
				  0xa0, PAYLOAD, &b6);
			ok(b6.rx == 10 && b6.bad == 0,
			   "IPv6: 10 packets relayed on ::1");
		}
		else
			ok(0, "IPv6 relay and phones on ::1");
		pair_free(&r6);
		a6.us = mem_deref(a6.us);
		b6.us = mem_deref(b6.us);
	}

	/* exhaustion: 4 ports are one relay */
	pair_free(&r3);
	err = pair_alloc(&r3, &ip, 41200, 41203);
	ok(err == 0, "relay from a 4-port range");
	{
		struct pair r4 = {{NULL}};

		is_int(pair_alloc(&r4, &ip, 41200, 41203), EADDRINUSE,
		       "range exhausted: EADDRINUSE");
		pair_free(&r4);
	}

 out:
	pair_free(&r);
	pair_free(&r2);
	pair_free(&r3);
	pair_free(&r5);
	pa.us = mem_deref(pa.us);
	pac.us = mem_deref(pac.us);
	pb.us = mem_deref(pb.us);
	pbc.us = mem_deref(pbc.us);
	px.us = mem_deref(px.us);
	pp.us = mem_deref(pp.us);
	libre_close();

	return tap_done();
}
