/* test_dial_adopt.c: dialogs of a killed process taken over (dial_adopt): bad input, EEXIST, a taken relay port, the OPTIONS probe and what its answer does, the peers' requests answered, our BYE and refreshes, media relayed again; the messages built */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dial/core.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

/*
 * The peers are UDP sockets of this test that speak SIP by hand: one per
 * leg (its signalling) plus one for its RTP. Leg A is one we called (uac,
 * the peer allows UPDATE), leg B one we answered (uas, no UPDATE): the two
 * legs of a bridged call.
 */

struct peer {
	int fd;
	uint16_t port;
	int rtp;
	uint16_t rtp_port;
	unsigned branch;
};

static struct dial *d;
static uint16_t ep;	/* the engine's SIP port */
/* the engine's notices that a probe over a connection ended nothing
 * (logged on the SIP thread) */
static atomic_int kept_over_conn;

/* a loopback socket of type (SOCK_DGRAM, SOCK_STREAM) bound to port (0:
 * any; *bound gets it) */
static int lo_bind(int type, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	if (bound)
		*bound = ntohs(a.sin_port);
	return fd;
}

static int udp_bind(uint16_t port, uint16_t *bound)
{
	return lo_bind(SOCK_DGRAM, port, bound);
}

/* an even port whose next one is free too (a relay pair to bind again) */
static uint16_t free_pair(void)
{
	for (int i = 0; i < 200; i++) {
		uint16_t p = (uint16_t)(40000 + 2 * (rand() % 9000));
		int a = udp_bind(p, NULL), b = udp_bind((uint16_t)(p + 1), NULL);

		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		if (a >= 0 && b >= 0)
			return p;
	}
	return 0;
}

static void peer_open(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = udp_bind(0, &p->port);
	p->rtp = udp_bind(0, &p->rtp_port);
}

static void peer_close(struct peer *p)
{
	close(p->fd);
	close(p->rtp);
}

static void send_to(int fd, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in a = {0};

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	(void)sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* the next datagram within ms (NUL-terminated), its length or 0 */
static size_t recv_ms(int fd, char *buf, size_t size, unsigned ms)
{
	struct pollfd pf = {fd, POLLIN, 0};
	ssize_t n;

	if (poll(&pf, 1, (int)ms) != 1)
		return 0;
	n = recv(fd, buf, size - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* the next SIP message starting with start (others skipped) */
static bool recv_sip(struct peer *p, char *buf, size_t size, const char *start,
		     unsigned ms)
{
	uint64_t end = dial_test_now_ms() + ms;

	while (dial_test_now_ms() < end) {
		if (!recv_ms(p->fd, buf, size, (unsigned)(end - dial_test_now_ms())))
			return false;
		if (!strncmp(buf, start, strlen(start)))
			return true;
	}
	return false;
}

/* the value of the first header of that name, "" when none */
static const char *hdr(const char *msg, const char *name, char *out,
		       size_t size)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *l = strstr(msg, "\r\n"); l && l[2] != '\r';
	     l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2, *e;

		if (strncasecmp(v, name, n) || v[n] != ':')
			continue;
		v += n + 1;
		while (*v == ' ')
			v++;
		e = strstr(v, "\r\n");
		snprintf(out, size, "%.*s", (int)(e - v), v);
		break;
	}
	return out;
}

static const char *body_of(const char *msg)
{
	const char *b = strstr(msg, "\r\n\r\n");

	return b ? b + 4 : "";
}

/* answers a request of the engine: its Via, From, To, Call-ID, CSeq */
static void respond(struct peer *p, const char *req, const char *status,
		    const char *extra, const char *sdp)
{
	char out[4096], via[512], from[256], to[256], cid[128], cseq[64];

	snprintf(out, sizeof(out),
		 "SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: %s\r\n%s%s"
		 "Content-Length: %zu\r\n\r\n%s", status,
		 hdr(req, "Via", via, sizeof(via)),
		 hdr(req, "From", from, sizeof(from)),
		 hdr(req, "To", to, sizeof(to)),
		 hdr(req, "Call-ID", cid, sizeof(cid)),
		 hdr(req, "CSeq", cseq, sizeof(cseq)), extra ? extra : "",
		 sdp ? "Content-Type: application/sdp\r\n" : "",
		 sdp ? strlen(sdp) : 0, sdp ? sdp : "");
	send_to(p->fd, ep, out, strlen(out));
}

/* a request of the peer in the dialog (from/to: its tag, ours) */
static void request(struct peer *p, const char *met, unsigned cseq,
		    const char *from, const char *to, const char *cid,
		    const char *extra, const char *sdp)
{
	char out[4096];

	snprintf(out, sizeof(out),
		 "%s sip:dialerd@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKp%u%u;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
		 "CSeq: %u %s\r\nContact: <sip:peer@127.0.0.1:%u>\r\n%s%s"
		 "Content-Length: %zu\r\n\r\n%s", met, ep, p->port, p->port,
		 ++p->branch, from, to, cid, cseq,
		 !strcmp(met, "ACK") ? "ACK" : met, p->port, extra ? extra : "",
		 sdp ? "Content-Type: application/sdp\r\n" : "",
		 sdp ? strlen(sdp) : 0, sdp ? sdp : "");
	send_to(p->fd, ep, out, strlen(out));
}

static void sdp_of(char *buf, size_t size, uint16_t port)
{
	snprintf(buf, size, "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		 "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/AVP 0\r\n"
		 "a=rtpmap:0 PCMU/8000\r\n", port);
}

static struct dial_event *wait_ev(enum dial_ev_type t, const char *leg,
				  unsigned ms)
{
	return dial_test_wait_ev(d, t, leg, ms, NULL, NULL);
}

/* a SIP event of the leg: that direction, status (0: a request) and
 * (CSeq) method; the other events are freed */
static bool wait_sip(const char *leg, enum dial_dir dir, uint16_t code,
		     const char *met, unsigned ms)
{
	uint64_t end = dial_test_now_ms() + ms;
	struct dial_event *ev;
	bool found = false;

	while (!found && dial_test_now_ms() < end) {
		ev = wait_ev(DIAL_EV_SIP, leg,
			     (unsigned)(end - dial_test_now_ms()));
		if (!ev)
			break;
		found = ev->dir == dir && ev->code == code && ev->method &&
			!strcmp(ev->method, met);
		dial_event_free(ev);
	}
	return found;
}

/* ---- the messages of the dialogs ---- */

static struct peer pa, pb;
static uint16_t ra, rb;		/* our relay ports */
static char inv_a[1024], ok_a[1024], inv_b[1024], ok_b[1024];
static char lsdp_a[512], psdp_a[512], lsdp_b[512], psdp_b[512];

#define FROM_A "<sip:us@127.0.0.1>;tag=ourA"
#define TO_A "<sip:a@127.0.0.1>;tag=peerA"
#define FROM_B "<sip:b@127.0.0.1>;tag=peerB"
#define TO_B "<sip:us@127.0.0.1>;tag=ourB"

static void dialogs_make(void)
{
	/* A: we called, the 2xx agreed a timer we refresh, UPDATE allowed */
	snprintf(inv_a, sizeof(inv_a),
		 "INVITE sip:a@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKa1;rport\r\n"
		 "From: " FROM_A "\r\nTo: <sip:a@127.0.0.1>\r\n"
		 "Call-ID: adopt-a@test\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:dialerd@127.0.0.1:%u>\r\n"
		 "Max-Forwards: 70\r\n\r\n", pa.port, ep, ep);
	snprintf(ok_a, sizeof(ok_a),
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKa1;rport\r\n"
		 "From: " FROM_A "\r\nTo: " TO_A "\r\n"
		 "Call-ID: adopt-a@test\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:a@127.0.0.1:%u>\r\n"
		 "Session-Expires: 1800;refresher=uac\r\n"
		 "Allow: INVITE, ACK, BYE, UPDATE, OPTIONS\r\n", ep, pa.port);
	/* B: we answered (the closing empty line left out: accepted) */
	snprintf(inv_b, sizeof(inv_b),
		 "INVITE sip:us@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKb1;rport\r\n"
		 "From: " FROM_B "\r\nTo: <sip:us@127.0.0.1>\r\n"
		 "Call-ID: adopt-b@test\r\nCSeq: 5 INVITE\r\n"
		 "Contact: <sip:b@127.0.0.1:%u>\r\n"
		 "Allow: INVITE, ACK, BYE, OPTIONS\r\n"
		 "Session-Expires: 90\r\n\r\n", ep, pb.port, pb.port);
	snprintf(ok_b, sizeof(ok_b),
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKb1;rport\r\n"
		 "From: " FROM_B "\r\nTo: " TO_B "\r\n"
		 "Call-ID: adopt-b@test\r\nCSeq: 5 INVITE\r\n"
		 "Contact: <sip:dialerd@127.0.0.1:%u>\r\n"
		 "Session-Expires: 90;refresher=uas\r\nRequire: timer\r\n"
		 "\r\n", pb.port, ep);
	sdp_of(lsdp_a, sizeof(lsdp_a), ra);
	sdp_of(psdp_a, sizeof(psdp_a), pa.rtp_port);
	sdp_of(lsdp_b, sizeof(lsdp_b), rb);
	sdp_of(psdp_b, sizeof(psdp_b), pb.rtp_port);
}

/* ---- the message building (no engine) ---- */

static void test_build(void)
{
	struct sip_msg *inv = NULL, *rsp = NULL;
	struct dial_dlg *g = NULL;
	struct dial_reason r = {true, "Q.850", 16, "Normal call clearing"};
	char *h = NULL;

	is_int(dial_bye_decode(&inv, inv_b), 0, "an INVITE decoded");
	is_int(dial_bye_decode(&rsp, ok_b), 0, "its 2xx decoded");
	is_int(dial_dlg_decode(&g, inv, rsp, false), 0, "we answered: a dialog");
	if (g) {
		is_str(g->ltag, "ourB", "our tag: the 2xx's To tag");
		is_str(g->rtag, "peerB", "the peer's: the INVITE's From tag");
		char want[64];

		snprintf(want, sizeof(want), "sip:b@127.0.0.1:%u", pb.port);
		is_str(g->target, want, "target: the caller's Contact");
		ok(g->contact && strstr(g->contact, "sip:dialerd@127.0.0.1:"),
		   "our Contact: the 2xx's");
		is_int(dial_dlg_bye(&h, g, 7, &r, "ua"), 0, "a BYE");
		is_str(h, "To: " FROM_B "\r\nFrom: " TO_B "\r\n"
		       "Call-ID: adopt-b@test\r\nCSeq: 7 BYE\r\n"
		       "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"
		       "User-Agent: ua\r\nContent-Length: 0\r\n\r\n",
		       "the BYE of a hang-up: its own Reason, not \"process lost\"");
		h = mem_deref(h);
		is_int(dial_dlg_request(&h, g, "UPDATE", 8, "X: y\r\n", "v=0\r\n",
					NULL), 0, "a request with a body");
		ok(h && strstr(h, "CSeq: 8 UPDATE\r\nX: y\r\nUser-Agent: dialerd\r\n"
			       "Content-Type: application/sdp\r\n"
			       "Content-Length: 5\r\n\r\nv=0\r\n"),
		   "extra headers, then the SDP with its type and length");
		h = mem_deref(h);
		g = mem_deref(g);
	}
	is_int(dial_dlg_decode(&g, inv, rsp, true), 0, "the same read as ours");
	if (g)
		is_str(g->ltag, "peerB", "the tags swap with the side");
	g = mem_deref(g);
	inv = mem_deref(inv);
	rsp = mem_deref(rsp);
}

static void test_args(void)
{
	struct dial_adopt a = {"CAx", inv_a, ok_a, true, 11, NULL, NULL};
	struct dial_adopt bad = a;
	char longid[100];

	is_int(dial_adopt(NULL, &a, NULL), EINVAL, "no engine: EINVAL");
	is_int(dial_adopt(d, NULL, NULL), EINVAL, "no leg: EINVAL");
	bad.id = NULL;
	is_int(dial_adopt(d, &bad, NULL), EINVAL, "no id: EINVAL");
	bad.id = "";
	is_int(dial_adopt(d, &bad, NULL), EINVAL, "empty id: EINVAL");
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	bad.id = longid;
	is_int(dial_adopt(d, &bad, NULL), EINVAL, "over-long id: EINVAL");
	bad = a;
	bad.invite = NULL;
	is_int(dial_adopt(d, &bad, NULL), EINVAL, "no INVITE: EINVAL");
	bad = a;
	bad.ok = NULL;
	is_int(dial_adopt(d, &a, &bad), EINVAL, "b without its 2xx: EINVAL");
}

static void expect_adopted(const char *id, int err, const char *what)
{
	struct dial_event *ev = wait_ev(DIAL_EV_ADOPTED, id, 5000);

	ok(ev && ev->err == err, "%s: adopted err %d (%d)", what, err,
	   ev ? ev->err : -1);
	dial_event_free(ev);
}

static void test_bad(void)
{
	struct dial_adopt a = {"CAbad", "garbage", ok_a, true, 11, NULL, NULL};
	char other[1024];

	is_int(dial_adopt(d, &a, NULL), 0, "garbage queued");
	expect_adopted("CAbad", EBADMSG, "garbage for the INVITE");
	snprintf(other, sizeof(other), "%s", ok_a);
	memcpy(strstr(other, "adopt-a@"), "adopt-z@", 8);
	a.invite = inv_a;
	a.ok = other;
	dial_adopt(d, &a, NULL);
	expect_adopted("CAbad", EBADMSG, "another dialog's 2xx");
	a.ok = inv_a;
	dial_adopt(d, &a, NULL);
	expect_adopted("CAbad", EBADMSG, "a request for the 2xx");
	a.ok = ok_a;
	a.local_sdp = "v=0\r\ns=-\r\n";
	dial_adopt(d, &a, NULL);
	expect_adopted("CAbad", EBADMSG, "our SDP names no port");
	is_int(dial_leg_hangup(d, "CAbad", NULL), 0, "no leg was made");
}

/* started with conf.adopting: a request in a dialog not adopted yet
 * gets no answer (its retransmission will find the leg) */
static void test_hold(void)
{
	char m[4096];

	request(&pa, "BYE", 20, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(!recv_sip(&pa, m, sizeof(m), "SIP/2.0", 300),
	   "before the adoption: a request in its dialog is not answered");
}

/* dial_adopt_done: unknown dialogs get their 481 again */
static void test_hold_done(void)
{
	char m[4096];

	is_int(dial_adopt_done(d), 0, "adoptions done");
	request(&pa, "BYE", 1, TO_A, FROM_A, "nosuch@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 481", 3000),
	   "then a request in an unknown dialog: 481");
}

static void test_pair(void)
{
	struct dial_adopt a = {"CAa", inv_a, ok_a, true, 11, lsdp_a, psdp_a};
	struct dial_adopt b = {"CAb", inv_b, ok_b, false, 1, lsdp_b, psdp_b};
	struct dial_event *ev;
	char m[4096], v[256];

	is_int(dial_adopt(d, &a, &b), 0, "A and B queued");
	ev = wait_ev(DIAL_EV_ADOPTED, "CAa", 5000);
	ok(ev && !ev->err && ev->outbound && !strcmp(ev->bridged, "CAb"),
	   "A adopted, ours, bridged to B");
	ok(ev && ev->session_expires == 1800 && ev->refresher_local,
	   "A: the 2xx's timer, we refresh (refresher=uac)");
	dial_event_free(ev);
	ev = wait_ev(DIAL_EV_ADOPTED, "CAb", 5000);
	ok(ev && !ev->err && !ev->outbound && !strcmp(ev->bridged, "CAa"),
	   "B adopted, inbound, bridged to A");
	ok(ev && ev->session_expires == 90 && ev->refresher_local,
	   "B: our 2xx's timer, we refresh (refresher=uas)");
	dial_event_free(ev);

	/* RFC 5057: is the dialog still there at the far end? */
	ok(recv_sip(&pa, m, sizeof(m), "OPTIONS ", 3000),
	   "A's peer gets an OPTIONS after the adoption");
	ok(!strncmp(m, "OPTIONS sip:a@127.0.0.1:", 24), "to its Contact");
	is_str(hdr(m, "Call-ID", v, sizeof(v)), "adopt-a@test", "A's Call-ID");
	is_str(hdr(m, "From", v, sizeof(v)), FROM_A, "From: our tag");
	is_str(hdr(m, "To", v, sizeof(v)), TO_A, "To: the peer's tag");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "11 OPTIONS",
	       "CSeq: the one given, our next");
	is_str(hdr(m, "Accept", v, sizeof(v)), "application/sdp",
	       "Accept: application/sdp");
	respond(&pa, m, "200 OK", NULL, NULL);
	ok(recv_sip(&pb, m, sizeof(m), "OPTIONS ", 3000),
	   "B's peer gets one too");
	is_str(hdr(m, "From", v, sizeof(v)), TO_B, "From: us, our tag");
	is_str(hdr(m, "To", v, sizeof(v)), FROM_B, "To: the caller, its tag");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "1 OPTIONS", "CSeq 1");
	respond(&pb, m, "200 OK", NULL, NULL);
	ok(wait_sip("CAb", DIAL_DIR_RX, 200, "OPTIONS", 3000),
	   "the 200 is an event of the leg");
	ev = wait_ev(DIAL_EV_ENDED, NULL, 500);
	ok(!ev, "answered 200: both stay up");
	dial_event_free(ev);

	a.id = "CAa2";
	dial_adopt(d, &a, NULL);
	expect_adopted("CAa2", EEXIST, "A's Call-ID again");
	a.id = "CAa";
	a.invite = inv_b;
	a.ok = ok_b;
	a.local_sdp = NULL;
	dial_adopt(d, &a, NULL);
	expect_adopted("CAa", EEXIST, "A's id again");
}

/* n RTP packets from one peer to our port; how many the other got */
static int rtp_through(const struct peer *from, uint16_t to, int rx, int n)
{
	char pkt[172], buf[2048];
	int got = 0;

	for (int i = 0; i < n; i++) {
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = (char)0x80;
		pkt[3] = (char)i;
		send_to(from->rtp, to, pkt, sizeof(pkt));
	}
	while (got < n && recv_ms(rx, buf, sizeof(buf), 1000) == sizeof(pkt))
		got++;
	return got;
}

static void test_media(void)
{
	is_int(rtp_through(&pa, ra, pb.rtp, 5), 5,
	       "RTP from A's peer reaches B's through the ports bound again");
	is_int(rtp_through(&pb, rb, pa.rtp, 3), 3, "and back");
}

static void test_requests(void)
{
	char m[4096], v[256];
	struct dial_event *ev;

	request(&pa, "OPTIONS", 20, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 200", 3000) &&
	   strstr(hdr(m, "Allow", v, sizeof(v)), "UPDATE"),
	   "OPTIONS in the dialog: 200 with Allow");
	ok(!strcmp(hdr(m, "To", v, sizeof(v)), FROM_A), "with our To tag");
	request(&pa, "OPTIONS", 21, "<sip:a@127.0.0.1>;tag=other", FROM_A,
		"adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 481", 3000),
	   "another From tag: 481");
	request(&pa, "MESSAGE", 22, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 405", 3000) &&
	   strstr(hdr(m, "Allow", v, sizeof(v)), "INVITE"),
	   "MESSAGE: 405 with Allow");
	request(&pa, "INFO", 23, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 200", 3000), "INFO: 200");
	request(&pa, "OPTIONS", 19, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 500", 3000),
	   "a CSeq below the last one: 500");

	request(&pa, "UPDATE", 24, TO_A, FROM_A, "adopt-a@test",
		"Session-Expires: 600;refresher=uas\r\n", NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 200", 3000) &&
	   !strcmp(hdr(m, "Session-Expires", v, sizeof(v)), "600;refresher=uas"),
	   "UPDATE refresh: 200 with its Session-Expires");
	ok(strstr(hdr(m, "Contact", v, sizeof(v)), "sip:dialerd@127.0.0.1:") != NULL,
	   "and our Contact");
	ev = wait_ev(DIAL_EV_REFRESHED, "CAa", 3000);
	ok(ev && ev->session_expires == 600 && ev->refresher_local,
	   "REFRESHED: 600 s, ours to refresh");
	dial_event_free(ev);
}

/* the caller re-INVITEs with media elsewhere; our 2xx is retransmitted
 * until its ACK */
static void test_reinvite(void)
{
	char m[4096], sdp[512];
	int rtp2 = -1, copies = 0;
	uint16_t p2 = 0;
	struct dial_event *ev;

	rtp2 = udp_bind(0, &p2);
	sdp_of(sdp, sizeof(sdp), p2);
	request(&pb, "INVITE", 6, FROM_B, TO_B, "adopt-b@test",
		"Session-Expires: 120;refresher=uac\r\n", sdp);
	ok(recv_sip(&pb, m, sizeof(m), "SIP/2.0 200", 3000), "re-INVITE: 200");
	{
		char want[64], v[256];

		snprintf(want, sizeof(want), "m=audio %u RTP/AVP 0", rb);
		ok(strstr(body_of(m), want) != NULL,
		   "its SDP answer names our relay port %u", rb);
		ok(!strcmp(hdr(m, "Session-Expires", v, sizeof(v)),
			   "120;refresher=uac"), "and the caller's timer");
	}
	ev = wait_ev(DIAL_EV_REFRESHED, "CAb", 3000);
	ok(ev && ev->session_expires == 120 && !ev->refresher_local,
	   "REFRESHED: 120 s, the caller's to refresh");
	dial_event_free(ev);
	/* T1 = 0.5 s: copies at 0.5 and 1.5 s */
	for (uint64_t end = dial_test_now_ms() + 2500; dial_test_now_ms() < end;)
		copies += recv_sip(&pb, m, sizeof(m), "SIP/2.0 200",
				   (unsigned)(end - dial_test_now_ms()));
	ok(copies >= 2, "no ACK: the 2xx sent again (%d copies in 2.5 s)",
	   copies);
	request(&pb, "ACK", 6, FROM_B, TO_B, "adopt-b@test", NULL, NULL);
	(void)poll(NULL, 0, 100);
	while (recv_ms(pb.fd, m, sizeof(m), 0))
		;
	ok(!recv_sip(&pb, m, sizeof(m), "SIP/2.0 200", 1800),
	   "the ACK stops it");
	is_int(rtp_through(&pa, ra, rtp2, 4), 4,
	       "A's RTP now goes where the re-INVITE said");
	close(rtp2);
}

/* dial_leg_refresh: UPDATE to A (it allows it), re-INVITE to B */
static void test_refresh(void)
{
	char m[4096], v[256], sdp[512], want[64], inv[4096], contact[96];
	struct dial_event *ev;

	is_int(dial_leg_refresh(d, "CAa"), 0, "refresh A");
	ok(recv_sip(&pa, m, sizeof(m), "UPDATE ", 3000), "A's peer gets an UPDATE");
	ok(!strncmp(m, "UPDATE sip:peer@127.0.0.1:", 26),
	   "to the Contact of its own UPDATE (a target refresh)");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "12 UPDATE",
	       "CSeq: the one after the OPTIONS's");
	is_str(hdr(m, "To", v, sizeof(v)), TO_A, "To: the peer's tag");
	is_str(hdr(m, "From", v, sizeof(v)), FROM_A, "From: ours");
	is_str(hdr(m, "Content-Length", v, sizeof(v)), "0", "no body");
	respond(&pa, m, "200 OK", "Session-Expires: 1800;refresher=uac\r\n", NULL);
	ev = wait_ev(DIAL_EV_REFRESHED, "CAa", 3000);
	ok(ev && ev->session_expires == 1800 && ev->refresher_local,
	   "REFRESHED: 1800 s, ours");
	dial_event_free(ev);

	is_int(dial_leg_refresh(d, "CAb"), 0, "refresh B");
	ok(recv_sip(&pb, m, sizeof(m), "INVITE ", 3000), "B's peer gets a re-INVITE");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "2 INVITE", "CSeq 2");
	is_str(hdr(m, "To", v, sizeof(v)), FROM_B, "To: the caller, its tag");
	is_str(hdr(m, "From", v, sizeof(v)), TO_B, "From: us, our tag");
	snprintf(want, sizeof(want), "m=audio %u RTP/AVP 0 101\r\n", rb);
	ok(strstr(body_of(m), want) != NULL,
	   "our offer: our port, PCMU (our SDP's codec) and telephone-event");
	sdp_of(sdp, sizeof(sdp), pb.rtp_port);
	snprintf(inv, sizeof(inv), "%s", m);
	snprintf(contact, sizeof(contact), "Contact: <sip:b2@127.0.0.1:%u>\r\n",
		 pb.port);
	respond(&pb, inv, "200 OK", contact, sdp);
	ok(recv_sip(&pb, m, sizeof(m), "ACK ", 3000), "its 2xx ACKed");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "2 ACK", "with its CSeq");
	ok(!strncmp(m, "ACK sip:b2@", 11), "to the 2xx's Contact");
	ev = wait_ev(DIAL_EV_REFRESHED, "CAb", 3000);
	ok(ev != NULL, "REFRESHED");
	dial_event_free(ev);
	/* the same 2xx again (as if our ACK was lost): ACKed again */
	respond(&pb, inv, "200 OK", contact, sdp);
	ok(recv_sip(&pb, m, sizeof(m), "ACK ", 3000), "a copy of the 2xx: ACKed again");
	is_int(rtp_through(&pa, ra, pb.rtp, 2), 2, "media back at B's peer");
}

static void test_remote_bye(void)
{
	char m[4096];
	struct dial_event *ev;

	request(&pa, "BYE", 30, TO_A, FROM_A, "adopt-a@test",
		"Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"
		"X-Why: peer\r\n", NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 200", 3000), "the peer's BYE: 200");
	ev = wait_ev(DIAL_EV_ENDED, "CAa", 3000);
	ok(ev && ev->end == DIAL_END_COMPLETED && !ev->local, "A ended: completed, remote");
	ok(ev && ev->reason.present && ev->reason.cause == 16 &&
	   dial_event_hdr(ev, "X-Why"), "with the BYE's Reason and headers");
	ok(ev && ev->media.relayed && ev->media.local_port == ra &&
	   ev->media.rx_rtp_pkts == 5 + 4 + 2 && ev->media.tx_rtp_pkts == 3,
	   "and its media counters (rx %llu, tx %llu)",
	   ev ? (unsigned long long)ev->media.rx_rtp_pkts : 0,
	   ev ? (unsigned long long)ev->media.tx_rtp_pkts : 0);
	ok(ev && !strcmp(ev->bridged, "CAb"), "bridged to B at the end");
	dial_event_free(ev);
	request(&pa, "OPTIONS", 31, TO_A, FROM_A, "adopt-a@test", NULL, NULL);
	ok(recv_sip(&pa, m, sizeof(m), "SIP/2.0 481", 3000), "afterwards: 481");
}

/* the leg ends when its BYE goes, as a normal leg: libre's transaction
 * goes on sending the BYE until it is answered */
static void test_hangup(void)
{
	struct dial_reason r = {true, "Q.850", 16, "Normal call clearing"};
	char m[4096], again[4096], v[256], w[256];
	struct dial_event *ev;

	is_int(dial_leg_hangup(d, "CAb", &r), 0, "hang up B");
	ev = wait_ev(DIAL_EV_ENDED, "CAb", 3000);
	ok(ev && ev->end == DIAL_END_COMPLETED && ev->local,
	   "B ended at once, before any answer: completed, ours");
	ok(ev && ev->media.relayed && ev->media.local_port == rb &&
	   ev->media.rx_rtp_pkts == 3, "with its media counters (rx %llu)",
	   ev ? (unsigned long long)ev->media.rx_rtp_pkts : 0);
	dial_event_free(ev);
	ok(recv_sip(&pb, m, sizeof(m), "BYE ", 3000), "B's peer gets a BYE");
	ok(!strncmp(m, "BYE sip:b2@127.0.0.1:", 21),
	   "to the Contact of the 2xx to our re-INVITE (target refresh)");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "3 BYE", "CSeq 3");
	is_str(hdr(m, "Reason", v, sizeof(v)),
	       "Q.850;cause=16;text=\"Normal call clearing\"", "the hang-up's Reason");
	/* T1 = 0.5 s */
	ok(recv_sip(&pb, again, sizeof(again), "BYE ", 1500) &&
	   !strcmp(hdr(again, "Via", v, sizeof(v)),
		   hdr(m, "Via", w, sizeof(w))),
	   "unanswered, the same BYE is sent again");
	respond(&pb, m, "200 OK", NULL, NULL);
	ok(wait_sip("CAb", DIAL_DIR_RX, 200, "BYE", 3000),
	   "its 200 is an event of the ended leg");
	(void)poll(NULL, 0, 100);
	while (recv_ms(pb.fd, m, sizeof(m), 0))
		;
	ok(!recv_sip(&pb, m, sizeof(m), "BYE ", 2500), "the 200 stops it");
	ev = wait_ev(DIAL_EV_ENDED, "CAb", 300);
	ok(!ev, "and ends nothing again");
	dial_event_free(ev);
}

/* the relay port of the dead process is taken now: SIP only */
static void test_port_taken(void)
{
	struct peer pc;
	uint16_t rc = free_pair();
	int hold = udp_bind(rc, NULL);
	char inv[1024], okm[1024], lsdp[512], m[4096], v[256];
	struct dial_adopt c = {"CAc", inv, okm, true, 3, lsdp, NULL};
	struct dial_event *ev;

	peer_open(&pc);
	snprintf(inv, sizeof(inv), "%s", inv_a);
	snprintf(okm, sizeof(okm), "%s", ok_a);
	memcpy(strstr(inv, "adopt-a@"), "adopt-c@", 8);
	memcpy(strstr(okm, "adopt-a@"), "adopt-c@", 8);
	{
		/* its Contact at pc's port */
		char *p = strstr(okm, "Contact: <sip:a@127.0.0.1:");

		snprintf(p, sizeof(okm) - (size_t)(p - okm),
			 "Contact: <sip:a@127.0.0.1:%u>\r\n\r\n", pc.port);
	}
	sdp_of(lsdp, sizeof(lsdp), rc);
	ok(hold >= 0, "port %u held by another socket", rc);
	dial_adopt(d, &c, NULL);
	ev = wait_ev(DIAL_EV_ADOPTED, "CAc", 5000);
	ok(ev && ev->err == EADDRINUSE && !ev->media.relayed,
	   "adopted with EADDRINUSE: no media");
	ok(ev && ev->session_expires == 0, "no timer (the 2xx had none)");
	dial_event_free(ev);
	ok(recv_sip(&pc, m, sizeof(m), "OPTIONS ", 3000),
	   "probed all the same: C's peer gets an OPTIONS");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "11 OPTIONS",
	       "CSeq above the INVITE's though 3 was given");
	respond(&pc, m, "200 OK", NULL, NULL);
	request(&pc, "OPTIONS", 5, TO_A, FROM_A, "adopt-c@test", NULL, NULL);
	ok(recv_sip(&pc, m, sizeof(m), "SIP/2.0 200", 3000),
	   "the dialog is up all the same: OPTIONS 200");
	is_int(dial_leg_hangup(d, "CAc", NULL), 0, "hang up C");
	ev = wait_ev(DIAL_EV_ENDED, "CAc", 3000);
	ok(ev && ev->end == DIAL_END_COMPLETED && ev->local && !ev->media.relayed,
	   "C ended, no media counters");
	dial_event_free(ev);
	ok(recv_sip(&pc, m, sizeof(m), "BYE ", 3000), "C's peer gets a BYE");
	is_str(hdr(m, "CSeq", v, sizeof(v)), "12 BYE", "CSeq: the next");
	is_str(hdr(m, "Reason", v, sizeof(v)), "", "no Reason without one");
	respond(&pc, m, "200 OK", NULL, NULL);
	ok(wait_sip("CAc", DIAL_DIR_RX, 200, "BYE", 3000),
	   "its 200 is an event of the ended leg");
	close(hold);
	peer_close(&pc);
}

/* ---- the probe (RFC 5057): what the answer to our OPTIONS does ---- */

/* a dialog we called, as A's: Call-ID cid, the peer p's Contact */
static void dialog_to(char *inv, char *okm, size_t size, const char *cid,
		      const struct peer *p)
{
	snprintf(inv, size,
		 "INVITE sip:x@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKx1;rport\r\n"
		 "From: " FROM_A "\r\nTo: <sip:a@127.0.0.1>\r\n"
		 "Call-ID: %s\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:dialerd@127.0.0.1:%u>\r\n\r\n",
		 p->port, ep, cid, ep);
	snprintf(okm, size,
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKx1;rport\r\n"
		 "From: " FROM_A "\r\nTo: " TO_A "\r\n"
		 "Call-ID: %s\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:x@127.0.0.1:%u>\r\n\r\n", ep, cid, p->port);
}

/* the leg's OPTIONS at its peer (the next CSeq), answered with status */
static bool probe_answer(struct peer *p, const char *status)
{
	char m[4096], v[64];

	if (!recv_sip(p, m, sizeof(m), "OPTIONS ", 3000))
		return false;
	respond(p, m, status, NULL, NULL);
	return !strcmp(hdr(m, "CSeq", v, sizeof(v)), "11 OPTIONS");
}

/* our BYE at the peer (CSeq 12, after the OPTIONS's), answered 200 */
static bool bye_answer(struct peer *p)
{
	char m[4096], v[64];

	if (!recv_sip(p, m, sizeof(m), "BYE ", 3000))
		return false;
	respond(p, m, "200 OK", NULL, NULL);
	return !strcmp(hdr(m, "CSeq", v, sizeof(v)), "12 BYE");
}

/* 481: the peer has no such dialog; its bridged partner stays up */
static void test_probe_481(void)
{
	struct peer px, py;
	uint16_t rx = free_pair(), ry;
	char ix[1024], ox[1024], iy[1024], oy[1024], m[4096];
	char lx[512], px_sdp[512], ly[512], py_sdp[512];
	struct dial_adopt x = {"CAx", ix, ox, true, 2, lx, px_sdp};
	struct dial_adopt y = {"CAy", iy, oy, true, 2, ly, py_sdp};
	struct dial_event *ev;

	peer_open(&px);
	peer_open(&py);
	do
		ry = free_pair();
	while (ry == rx);
	dialog_to(ix, ox, sizeof(ix), "probe-x@test", &px);
	dialog_to(iy, oy, sizeof(iy), "probe-y@test", &py);
	sdp_of(lx, sizeof(lx), rx);
	sdp_of(px_sdp, sizeof(px_sdp), px.rtp_port);
	sdp_of(ly, sizeof(ly), ry);
	sdp_of(py_sdp, sizeof(py_sdp), py.rtp_port);
	dial_adopt(d, &x, &y);
	expect_adopted("CAx", 0, "X");
	expect_adopted("CAy", 0, "Y, bridged to X");
	ok(probe_answer(&px, "481 Call/Transaction Does Not Exist"),
	   "X's peer gets the OPTIONS, CSeq 11: answers 481");
	ok(probe_answer(&py, "200 OK"), "Y's peer answers 200");
	ev = wait_ev(DIAL_EV_ENDED, "CAx", 3000);
	ok(ev && ev->end == DIAL_END_COMPLETED && !ev->local && ev->code == 481,
	   "X ended: completed, remote, code 481 (%u)", ev ? ev->code : 0);
	ok(ev && ev->media.relayed && ev->media.local_port == rx &&
	   !strcmp(ev->bridged, "CAy"),
	   "with its media counters, bridged to Y at the end");
	dial_event_free(ev);
	ok(!recv_sip(&px, m, sizeof(m), "BYE ", 1000),
	   "no BYE: the peer has no dialog to end");
	ev = wait_ev(DIAL_EV_ENDED, "CAy", 300);
	ok(!ev, "Y stays up: ending it is the daemon's choice");
	dial_event_free(ev);
	is_int(dial_leg_hangup(d, "CAy", NULL), 0, "hang up Y");
	ev = wait_ev(DIAL_EV_ENDED, "CAy", 3000);
	ok(ev && ev->local, "Y ended, ours");
	dial_event_free(ev);
	ok(bye_answer(&py), "Y's BYE, CSeq 12");
	peer_close(&px);
	peer_close(&py);
}

/* 408, 480: the dialog is over at the far end too: a BYE all the same;
 * 405: the peer has no OPTIONS, the dialog goes on */
static void test_probe_codes(void)
{
	static const struct {
		const char *id, *cid, *status;
		uint16_t code;
	} t[] = {
		{"CA408", "probe-408@test", "408 Request Timeout", 408},
		{"CA480", "probe-480@test", "480 Temporarily Unavailable", 480},
		{"CA405", "probe-405@test", "405 Method Not Allowed", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct peer p;
		char inv[1024], okm[1024], m[4096];
		struct dial_adopt a = {t[i].id, inv, okm, true, 2, NULL, NULL};
		struct dial_event *ev;

		peer_open(&p);
		dialog_to(inv, okm, sizeof(inv), t[i].cid, &p);
		dial_adopt(d, &a, NULL);
		expect_adopted(t[i].id, 0, t[i].id);
		ok(probe_answer(&p, t[i].status), "%s: the OPTIONS answered %s",
		   t[i].id, t[i].status);
		ev = wait_ev(DIAL_EV_ENDED, t[i].id, t[i].code ? 3000 : 500);
		if (t[i].code) {
			ok(ev && ev->end == DIAL_END_COMPLETED && !ev->local &&
			   ev->code == t[i].code,
			   "%s ended: completed, remote, its code", t[i].id);
			ok(bye_answer(&p), "a BYE all the same, CSeq 12");
		}
		else {
			ok(!ev, "%s stays up", t[i].id);
			request(&p, "OPTIONS", 1, TO_A, FROM_A, t[i].cid, NULL,
				NULL);
			ok(recv_sip(&p, m, sizeof(m), "SIP/2.0 200", 3000),
			   "the peer's OPTIONS gets 200");
			dial_leg_hangup(d, t[i].id, NULL);
			ok(bye_answer(&p), "hung up: the BYE, CSeq 12");
		}
		dial_event_free(ev);
		peer_close(&p);
	}
}

/* a TCP port nothing listens on */
static uint16_t closed_tcp_port(void)
{
	uint16_t port = 0;
	int fd = lo_bind(SOCK_STREAM, 0, &port);

	if (fd >= 0)
		close(fd);
	return port;
}

/* a peer reached over TCP: its connection went with the dead process, and
 * one behind NAT takes no new one; an OPTIONS that finds no way to it
 * says nothing of the dialog, and ends nothing */
static void test_probe_tcp(void)
{
	char inv[1024], okm[1024];
	struct dial_adopt a = {"CAtcp", inv, okm, true, 2, NULL, NULL};
	struct dial_event *ev;
	uint16_t port = closed_tcp_port();

	snprintf(inv, sizeof(inv),
		 "INVITE sip:x@127.0.0.1:%u;transport=tcp SIP/2.0\r\n"
		 "Via: SIP/2.0/TCP 127.0.0.1:%u;branch=z9hG4bKt1\r\n"
		 "From: " FROM_A "\r\nTo: <sip:a@127.0.0.1>\r\n"
		 "Call-ID: probe-tcp@test\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:dialerd@127.0.0.1:%u;transport=tcp>\r\n\r\n",
		 port, ep, ep);
	snprintf(okm, sizeof(okm),
		 "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/TCP 127.0.0.1:%u;branch=z9hG4bKt1\r\n"
		 "From: " FROM_A "\r\nTo: " TO_A "\r\n"
		 "Call-ID: probe-tcp@test\r\nCSeq: 10 INVITE\r\n"
		 "Contact: <sip:x@127.0.0.1:%u;transport=tcp>\r\n\r\n",
		 ep, port);
	atomic_store(&kept_over_conn, 0);
	dial_adopt(d, &a, NULL);
	expect_adopted("CAtcp", 0, "a leg whose peer is reached over TCP");
	ev = wait_ev(DIAL_EV_ENDED, "CAtcp", 1500);
	ok(!ev, "its OPTIONS finds the peer's port closed: the leg stays up");
	dial_event_free(ev);
	is_int(atomic_load(&kept_over_conn), 1, "and says so, once");
	is_int(dial_leg_hangup(d, "CAtcp", NULL), 0, "hang it up");
	ev = wait_ev(DIAL_EV_ENDED, "CAtcp", 3000);
	ok(ev && ev->local, "ended, ours");
	dial_event_free(ev);
}

/* the leg ends before the OPTIONS is answered: its answer does nothing */
static void test_probe_late(void)
{
	struct peer p;
	char inv[1024], okm[1024], m[4096], opt[4096];
	struct dial_adopt a = {"CAlate", inv, okm, true, 2, NULL, NULL};
	struct dial_event *ev;

	peer_open(&p);
	dialog_to(inv, okm, sizeof(inv), "probe-late@test", &p);
	dial_adopt(d, &a, NULL);
	expect_adopted("CAlate", 0, "late");
	ok(recv_sip(&p, opt, sizeof(opt), "OPTIONS ", 3000), "the OPTIONS");
	dial_leg_hangup(d, "CAlate", NULL);
	ev = wait_ev(DIAL_EV_ENDED, "CAlate", 3000);
	ok(ev && ev->local, "hung up before its answer: ended, ours");
	dial_event_free(ev);
	ok(bye_answer(&p), "the BYE, CSeq 12");
	respond(&p, opt, "481 Call/Transaction Does Not Exist", NULL, NULL);
	ok(wait_sip("CAlate", DIAL_DIR_RX, 481, "OPTIONS", 3000),
	   "then the OPTIONS's 481: an event of the ended leg");
	ev = wait_ev(DIAL_EV_ENDED, "CAlate", 300);
	ok(!ev, "no second end");
	dial_event_free(ev);
	ok(!recv_sip(&p, m, sizeof(m), "BYE ", 300), "no second BYE");
	peer_close(&p);
}

/* a leg left up when the engine stops: a BYE, freed (valgrind, ASan) */
static void test_shutdown(void)
{
	struct dial_adopt a = {"CAd", inv_a, ok_a, true, 40, lsdp_a, psdp_a};
	char m[4096];

	/* A's dialog ended: its Call-ID lingers (EEXIST): another one */
	memcpy(strstr(inv_a, "adopt-a@"), "adopt-d@", 8);
	memcpy(strstr(ok_a, "adopt-a@"), "adopt-d@", 8);
	dial_adopt(d, &a, NULL);
	expect_adopted("CAd", 0, "D (A's relay port again, idle in the pool)");
	d = dial_free(d);
	ok(recv_sip(&pa, m, sizeof(m), "BYE ", 3000),
	   "stopping the engine: D's peer gets a BYE");
}

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	if (strstr(msg, "went unanswered over a connection"))
		atomic_fetch_add(&kept_over_conn, 1);
	if (level <= 4)
		diag("dial: %s", msg);
}

int main(void)
{
	struct dial_conf conf;

	dial_log_handler_set(log_h, NULL);
	srand((unsigned)dial_test_now_ms());
	memset(&conf, 0, sizeof(conf));
	conf.listen = "127.0.0.1:0";
	conf.quit_wait_ms = 300;
	conf.rtp_port_min = 30000;
	conf.rtp_port_max = 30099;
	conf.adopting = true;
	conf.adopt_probe_ms = 50;	/* not the shipped 4.5-5.5 s */
	if (!is_int(dial_test_alloc(&d, &conf), 0, "engine up"))
		return tap_done();
	ep = dial_listen_port(d);
	peer_open(&pa);
	peer_open(&pb);
	ra = free_pair();
	do
		rb = free_pair();
	while (rb == ra);
	dialogs_make();
	test_build();
	test_args();
	test_hold();
	test_bad();
	test_pair();
	test_hold_done();
	test_media();
	test_requests();
	test_reinvite();
	test_refresh();
	test_remote_bye();
	test_hangup();
	test_port_taken();
	test_probe_481();
	test_probe_codes();
	test_probe_tcp();
	test_probe_late();
	test_shutdown();
	peer_close(&pa);
	peer_close(&pb);
	return tap_done();
}
