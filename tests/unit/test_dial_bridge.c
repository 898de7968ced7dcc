/* test_dial_bridge.c: two engines on loopback: relayed legs, dial_bridge/dial_unbridge, media counters in ENDED, ended legs' pairs reused */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial/dial.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

enum { RTP = 172 };

/* what the test needs from the events of both engines */
struct seen {
	uint16_t port_x, port_y, port_w;	/* e1's SDP ports of X, Y, W */
	char in_x[DIAL_ID_MAX], in_y[DIAL_ID_MAX], in_w[DIAL_ID_MAX];
	bool up_x, up_y, up_w;	/* e1's ANSWERED of X, Y, W */
};

/* notes what struct seen wants from every event of both engines */
static void note_h(const struct dial_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->type == DIAL_EV_SIP && ev->dir == DIAL_DIR_TX &&
	    ev->outbound && ev->method && !ev->code &&
	    !strcmp(ev->method, "INVITE") && ev->sdp.present) {
		if (!strcmp(ev->leg_id, "CAX"))
			s->port_x = ev->sdp.port;
		if (!strcmp(ev->leg_id, "CAY"))
			s->port_y = ev->sdp.port;
		if (!strcmp(ev->leg_id, "CAW"))
			s->port_w = ev->sdp.port;
	}
	if (ev->type == DIAL_EV_INBOUND && ev->ruri) {
		if (!strncmp(ev->ruri, "sip:x@", 6))
			snprintf(s->in_x, sizeof(s->in_x), "%s", ev->leg_id);
		if (!strncmp(ev->ruri, "sip:y@", 6))
			snprintf(s->in_y, sizeof(s->in_y), "%s", ev->leg_id);
		if (!strncmp(ev->ruri, "sip:w@", 6))
			snprintf(s->in_w, sizeof(s->in_w), "%s", ev->leg_id);
	}
	if (ev->type == DIAL_EV_ANSWERED && !strcmp(ev->leg_id, "CAX"))
		s->up_x = true;
	if (ev->type == DIAL_EV_ANSWERED && !strcmp(ev->leg_id, "CAY"))
		s->up_y = true;
	if (ev->type == DIAL_EV_ANSWERED && !strcmp(ev->leg_id, "CAW"))
		s->up_w = true;
}

/* Waits up to ms for an event of that type and leg on d, noting what
 * struct seen wants from the others. Returns it (caller frees) or NULL. */
static struct dial_event *wait_ev(struct dial *d, struct seen *s,
				  enum dial_ev_type type, const char *leg,
				  unsigned ms)
{
	return dial_test_wait_ev(d, type, leg, ms, note_h, s);
}

/* a UDP socket on 127.0.0.host */
static int phone_open(uint16_t *port, uint8_t host)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + host);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static void send_n(int fd, uint16_t port, unsigned n)
{
	struct sockaddr_in a;
	uint8_t buf[RTP];

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	for (unsigned i = 0; i < n; i++) {
		buf[3] = (uint8_t)i;
		(void)sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&a,
			     sizeof(a));
	}
}

/* datagrams arriving within ms after the last one */
static unsigned recv_n(int fd, unsigned ms)
{
	uint8_t buf[2048];
	unsigned n = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, (int)ms) <= 0)
			return n;
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			++n;
	}
}

static bool port_free(uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (fd >= 0)
		close(fd);
	return ok;
}

static void answer(struct dial *e2, const char *id, uint16_t port)
{
	struct dial_answer_params ap;

	memset(&ap, 0, sizeof(ap));
	ap.media_addr = "127.0.0.1";
	ap.media_port = port;
	(void)dial_inbound_answer(e2, id, &ap);
}

static void check_bridged(struct dial *e1, struct seen *s, const char *a,
			  int err, const char *what)
{
	struct dial_event *ev = wait_ev(e1, s, DIAL_EV_BRIDGED, a, 3000);

	ok(ev && ev->err == err, "%s: BRIDGED err %d (got %d)", what, err,
	   ev ? ev->err : -1);
	dial_event_free(ev);
}

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= 4)
		diag("dial[%d]: %s", level, msg);
}

int main(void)
{
	struct dial *e1 = NULL, *e2 = NULL;
	struct dial_conf c;
	struct dial_leg_params p;
	struct dial_event *ev;
	struct seen s;
	char uri[96];
	uint16_t phx = 0, phy = 0, phh = 0;
	int fx, fy, fh;

	memset(&s, 0, sizeof(s));
	fx = phone_open(&phx, 1);
	fy = phone_open(&phy, 1);
	fh = phone_open(&phh, 2);	/* a stranger that can reach the ports */
	if (!ok(fx >= 0 && fy >= 0 && fh >= 0, "phone sockets"))
		return tap_done();

	dial_log_handler_set(log_h, NULL);
	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.quit_wait_ms = 500;
	c.rtp_port_min = 43500;
	c.rtp_port_max = 43599;
	if (!ok(dial_alloc(&e1, &c) == 0, "engine 1 (relay range "
		"43500-43599)"))
		return tap_done();
	c.rtp_port_min = 43600;
	c.rtp_port_max = 43699;
	if (!ok(dial_alloc(&e2, &c) == 0, "engine 2"))
		goto out;

	is_int(dial_bridge(e1, NULL, "x"), EINVAL, "dial_bridge: NULL id");
	is_int(dial_bridge(NULL, "a", "b"), EINVAL, "dial_bridge: NULL d");

	memset(&p, 0, sizeof(p));
	p.relay = true;
	p.id = "CAX";
	snprintf(uri, sizeof(uri), "sip:x@127.0.0.1:%u", dial_listen_port(e2));
	p.uri = uri;
	ok(dial_leg_start(e1, &p) == 0, "leg X (relay) started");
	p.id = "CAY";
	snprintf(uri, sizeof(uri), "sip:y@127.0.0.1:%u", dial_listen_port(e2));
	ok(dial_leg_start(e1, &p) == 0, "leg Y (relay) started");
	p.id = "CAZ";
	p.relay = false;
	snprintf(uri, sizeof(uri), "sip:z@127.0.0.1:%u", dial_listen_port(e2));
	ok(dial_leg_start(e1, &p) == 0, "leg Z (no relay) started");

	ok(dial_bridge(e1, "CAX", "CAZ") == 0, "bridge X-Z queued");
	check_bridged(e1, &s, "CAX", ENOTSUP, "Z has no relayed media");
	ok(dial_bridge(e1, "CAX", "CAnone") == 0, "bridge X-none queued");
	check_bridged(e1, &s, "CAX", ENOENT, "unknown leg");
	ok(dial_bridge(e1, "CAX", "CAX") == 0, "bridge X-X queued");
	check_bridged(e1, &s, "CAX", EINVAL, "the same leg twice");
	(void)dial_leg_hangup(e1, "CAZ", NULL);
	ok(s.port_x >= 43500 && s.port_x <= 43599 && !(s.port_x & 1) &&
	   s.port_y >= 43500 && s.port_y <= 43599 && !(s.port_y & 1) &&
	   s.port_x != s.port_y, "X and Y offer their own even relay ports "
	   "(%u, %u)", s.port_x, s.port_y);

	for (uint64_t end = dial_test_now_ms() + 5000;
	     (!s.in_x[0] || !s.in_y[0]) && dial_test_now_ms() < end;)
		dial_event_free(wait_ev(e2, &s, DIAL_EV_ENDED, "-", 50));
	if (!ok(s.in_x[0] && s.in_y[0], "engine 2 got X and Y"))
		goto out;
	answer(e2, s.in_x, phx);
	answer(e2, s.in_y, phy);
	for (uint64_t end = dial_test_now_ms() + 5000;
	     (!s.up_x || !s.up_y) && dial_test_now_ms() < end;)
		dial_event_free(wait_ev(e1, &s, DIAL_EV_ENDED, "-", 50));
	if (!ok(s.up_x && s.up_y, "X and Y answered"))
		goto out;

	ok(dial_bridge(e1, "CAX", "CAY") == 0, "bridge X-Y queued");
	check_bridged(e1, &s, "CAX", 0, "X-Y");

	/* a stranger on 127.0.0.2 is first on X's port: the SDP named
	   127.0.0.1, so it must not be latched (strict, the default) */
	send_n(fh, s.port_x, 6);
	is_int(recv_n(fy, 300), 0, "a stranger's packets to X: not relayed");

	/* the phones are the far ends of X and Y (their 200's SDP) */
	send_n(fx, s.port_x, 20);
	is_int(recv_n(fy, 300), 20, "X's far end -> Y's far end: 20");
	send_n(fy, s.port_y, 10);
	is_int(recv_n(fx, 300), 10, "Y's far end -> X's far end: 10");
	is_int(recv_n(fh, 50), 0, "... and none to the stranger");

	ok(dial_unbridge(e1, "CAY") == 0, "unbridge Y queued");
	check_bridged(e1, &s, "CAY", 0, "unbridge");
	send_n(fx, s.port_x, 5);
	is_int(recv_n(fy, 200), 0, "unbridged: nothing crosses");
	ok(dial_bridge(e1, "CAY", "CAX") == 0, "bridge Y-X queued");
	check_bridged(e1, &s, "CAY", 0, "re-bridge");
	send_n(fx, s.port_x, 3);
	is_int(recv_n(fy, 300), 3, "bridged again: 3 cross");

	(void)dial_leg_hangup(e1, "CAX", NULL);
	ev = wait_ev(e1, &s, DIAL_EV_ENDED, "CAX", 5000);
	ok(ev && ev->media.relayed && ev->media.latched &&
	   ev->media.local_port == s.port_x, "X ENDED: relayed, latched");
	if (ev) {
		is_int((int)ev->media.rx_rtp_pkts, 28, "X: rx 28 (20 + 5 + 3)");
		is_int((int)ev->media.rx_rtp_bytes, 28 * RTP, "X: rx bytes");
		is_int((int)ev->media.tx_rtp_pkts, 10, "X: tx 10");
		is_int((int)ev->media.tx_rtp_bytes, 10 * RTP, "X: tx bytes");
		is_int((int)ev->media.dropped, 11, "X: dropped 11 (6 from "
		       "the stranger, 5 unbridged)");
		is_str(ev->bridged, "CAY", "X was bridged to Y");
		ok(!strncmp(ev->media.peer, "127.0.0.1:", 10),
		   "X's peer %s", ev->media.peer);
	}
	dial_event_free(ev);
	/* X is gone: Y's far end now talks to nobody */
	send_n(fy, s.port_y, 4);
	(void)recv_n(fx, 200);
	/* X's pair stays bound, idle in e1's pool for the next leg: what
	   reaches it is dropped, nothing is relayed */
	ok(!port_free(s.port_x) && !port_free((uint16_t)(s.port_x + 1)),
	   "X's pair kept (idle) when X ended");
	send_n(fx, s.port_x, 5);
	is_int(recv_n(fy, 200), 0, "X's old port relays nothing to Y's far "
	       "end");
	(void)dial_leg_hangup(e1, "CAY", NULL);
	ev = wait_ev(e1, &s, DIAL_EV_ENDED, "CAY", 5000);
	ok(ev && ev->media.relayed, "Y ENDED: relayed");
	if (ev) {
		is_int((int)ev->media.rx_rtp_pkts, 14, "Y: rx 14 (10 + 4)");
		is_int((int)ev->media.tx_rtp_pkts, 23, "Y: tx 23 (20 + 3)");
		is_int((int)ev->media.dropped, 4, "Y: dropped 4 (X ended)");
		is_str(ev->bridged, "", "Y's bridge ended with X");
	}
	dial_event_free(ev);
	ok(!port_free(s.port_y), "Y's pair kept (idle)");
	ok(dial_bridge(e1, "CAX", "CAY") == 0, "bridge of ended legs queued");
	check_bridged(e1, &s, "CAX", ENOENT, "ended legs");

	/* a new relayed leg W takes one of the two idle pairs; the stale
	   packets its far end's address sends to both before W starts (the
	   old calls' peers) reach neither W's counters nor its latch */
	send_n(fx, s.port_x, 7);
	send_n(fy, s.port_y, 7);
	p.relay = true;
	p.id = "CAW";
	snprintf(uri, sizeof(uri), "sip:w@127.0.0.1:%u", dial_listen_port(e2));
	ok(dial_leg_start(e1, &p) == 0, "leg W (relay) started");
	for (uint64_t end = dial_test_now_ms() + 5000;
	     !s.in_w[0] && dial_test_now_ms() < end;)
		dial_event_free(wait_ev(e2, &s, DIAL_EV_ENDED, "-", 50));
	if (s.in_w[0])
		answer(e2, s.in_w, phx);
	for (uint64_t end = dial_test_now_ms() + 5000;
	     !s.up_w && dial_test_now_ms() < end;)
		dial_event_free(wait_ev(e1, &s, DIAL_EV_ENDED, "-", 50));
	ok(s.up_w, "W answered");
	ok(s.port_w == s.port_x || s.port_w == s.port_y, "W reuses an idle "
	   "pair: port %u (X %u, Y %u)", s.port_w, s.port_x, s.port_y);
	(void)dial_leg_hangup(e1, "CAW", NULL);
	ev = wait_ev(e1, &s, DIAL_EV_ENDED, "CAW", 5000);
	ok(ev && ev->media.relayed && ev->media.local_port == s.port_w &&
	   !ev->media.latched && !ev->media.rx_rtp_pkts &&
	   !ev->media.tx_rtp_pkts && !ev->media.dropped && !ev->bridged[0],
	   "W ENDED: nothing of X's or Y's call (no packet, no latch, no "
	   "bridge)");
	dial_event_free(ev);
	e1 = dial_free(e1);
	ok(port_free(s.port_x) && port_free((uint16_t)(s.port_x + 1)) &&
	   port_free(s.port_y) && port_free((uint16_t)(s.port_y + 1)),
	   "idle pairs closed with engine 1");
 out:
	e1 = dial_free(e1);
	e2 = dial_free(e2);
	close(fx);
	close(fy);
	close(fh);
	return tap_done();
}
