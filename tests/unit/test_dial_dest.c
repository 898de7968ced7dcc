/* test_dial_dest.c: the destination deny list: parsing, IPv4/IPv6/mapped matching, bad entries; an engine refusing a name that resolves to 169.254.169.254 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	}
	else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return ss;
}

/* the rule that denies ip:port, printed, or "" */
static const char *match_kind(const struct dial_dest *dd, const char *ip,
			      uint16_t port, bool stream)
{
	static char buf[96];
	struct sockaddr_storage ss = addr(ip, port);
	const struct dial_dest_rule *r;

	r = dial_dest_match(dd, (struct sockaddr *)&ss, stream);
	buf[0] = '\0';
	if (r)
		dial_dest_rule_print(buf, sizeof(buf), r);
	return buf;
}

/* ... of a UDP request */
static const char *match(const struct dial_dest *dd, const char *ip,
			 uint16_t port)
{
	return match_kind(dd, ip, port, false);
}

static void test_match(void)
{
	struct dial_dest dd;
	struct sockaddr_storage self = addr("127.0.0.1", 5060);
	struct sockaddr_storage tls = addr("127.0.0.1", 41393);
	char why[160];

	memset(&dd, 0, sizeof(dd));
	is_int(dial_dest_parse(&dd, DIAL_DENY_DEFAULT, why, sizeof(why)), 0,
	       "the default parses");
	ok(dd.self && dd.n == 2, "the default: self and two ranges");
	is_int(dial_dest_add_exact(&dd, (struct sockaddr *)&self, false), 0,
	       "our UDP listener added");
	is_int(dial_dest_add_exact(&dd, (struct sockaddr *)&self, true), 0,
	       "our TCP listener on the same port added");
	is_int(dial_dest_add_exact(&dd, (struct sockaddr *)&tls, true), 0,
	       "our TLS listener on an ephemeral port added");
	is_str(match(&dd, "169.254.169.254", 80), "169.254.0.0/16",
	       "v4: the metadata address");
	is_str(match(&dd, "169.254.0.0", 5060), "169.254.0.0/16", "v4: first");
	is_str(match(&dd, "169.254.255.255", 5060), "169.254.0.0/16",
	       "v4: last");
	is_str(match(&dd, "169.253.255.255", 5060), "", "v4: just below");
	is_str(match(&dd, "169.255.0.0", 5060), "", "v4: just above");
	is_str(match(&dd, "::ffff:169.254.169.254", 5060), "169.254.0.0/16",
	       "IPv4-mapped IPv6 meets the IPv4 rule");
	is_str(match(&dd, "fe80::1", 5060), "fe80::/10", "v6: link-local");
	is_str(match(&dd, "febf:ffff::1", 5060), "fe80::/10",
	       "v6: last of fe80::/10");
	is_str(match(&dd, "fec0::1", 5060), "", "v6: past fe80::/10");
	is_str(match(&dd, "2001:db8::1", 5060), "", "v6: global allowed");
	is_str(match(&dd, "127.0.0.1", 5060), "self 127.0.0.1:5060",
	       "our own listener");
	is_str(match(&dd, "::ffff:127.0.0.1", 5060), "self 127.0.0.1:5060",
	       "our own listener, mapped");
	is_str(match(&dd, "127.0.0.1", 5070), "",
	       "loopback on another port allowed");
	is_str(match_kind(&dd, "127.0.0.1", 5060, true),
	       "self tcp 127.0.0.1:5060", "our TCP listener, over TCP");
	is_str(match_kind(&dd, "127.0.0.1", 41393, true),
	       "self tcp 127.0.0.1:41393", "our TLS listener, over TLS");
	is_str(match(&dd, "127.0.0.1", 41393), "",
	       "a UDP peer on our TLS listener's number is someone else");
	is_str(match(&dd, "10.1.2.3", 5060), "", "private allowed by default");
	is_str(match(&dd, "::1", 5060), "", "::1 allowed by default");
	dial_dest_reset(&dd);

	is_int(dial_dest_parse(&dd, " 127.0.0.64/26,10.0.0.0/8 ::1\t"
			       "192.0.2.7, 2001:db8::/32,0.0.0.0/0", why,
			       sizeof(why)), 0, "an operator's list parses");
	ok(!dd.self && dd.n == 6, "six rules, no self");
	is_str(match(&dd, "127.0.0.70", 1), "127.0.0.64/26", "127.0.0.64/26");
	is_str(match(&dd, "10.255.0.1", 1), "10.0.0.0/8", "10/8");
	is_str(match(&dd, "::1", 1), "::1/128", "a bare v6 address is /128");
	is_str(match(&dd, "192.0.2.7", 1), "192.0.2.7/32",
	       "a bare v4 address is /32");
	is_str(match(&dd, "2001:db8:ffff::1", 1), "2001:db8::/32", "v6 /32");
	is_str(match(&dd, "8.8.8.8", 1), "0.0.0.0/0", "0/0 holds every v4");
	is_str(match(&dd, "2001:4860::8888", 1), "",
	       "0.0.0.0/0 is IPv4 only");
	dial_dest_reset(&dd);

	is_int(dial_dest_parse(&dd, "", why, sizeof(why)), 0, "empty: none");
	is_str(match(&dd, "169.254.169.254", 80), "", "empty list denies none");
	dial_dest_reset(&dd);
}

static void bad(const char *list, const char *want)
{
	char why[160] = "";

	is_int(dial_dest_check(list, why, sizeof(why)), EINVAL, "refused: %s",
	       list);
	is_str(why, want, "why: %s", want);
}

static void test_bad(void)
{
	bad("10.0.0.1/8", "'10.0.0.1/8': address bits set past the prefix "
	    "length (write the network address)");
	bad("fe80::1/10", "'fe80::1/10': address bits set past the prefix "
	    "length (write the network address)");
	bad("10.0.0.0/33", "'10.0.0.0/33': an IPv4 prefix length is 0 to 32");
	bad("fe80::/129", "'fe80::/129': an IPv6 prefix length is 0 to 128");
	bad("10.0.0.0/", "'10.0.0.0/': the prefix length after '/' must be a "
	    "number");
	bad("10.0.0.0/-1", "'10.0.0.0/-1': the prefix length after '/' must be "
	    "a number");
	bad("10.0.0.0/8x", "'10.0.0.0/8x': an IPv4 prefix length is 0 to 32");
	bad("self, 10.0.0/8", "'10.0.0/8': not an IPv4 or IPv6 address");
	bad("example.com", "'example.com': not an IPv4 or IPv6 address");
	bad("[::1]", "'[::1]': not an IPv4 or IPv6 address");
	bad("127.0.0.1:5060", "'127.0.0.1:5060': not an IPv4 or IPv6 address");
	is_int(dial_dest_check("SELF", NULL, 0), 0, "self in any case");
	is_int(dial_dest_check(NULL, NULL, 0), 0, "NULL: nothing");
}

/* ---- an engine whose DNS server is ours: meta.test A 169.254.169.254 ---- */

static int dns_fd = -1;
static uint16_t dns_port;
static atomic_bool dns_stop;
static atomic_int dns_queries;

/* libre's resolver set-up, called by the engine: our server instead of
 * /etc/resolv.conf's */
int dns_srv_get(char *domain, size_t dsize, struct sa *srvv, uint32_t *n);
int dns_srv_get(char *domain, size_t dsize, struct sa *srvv, uint32_t *n)
{
	(void)domain;
	(void)dsize;
	sa_set_str(&srvv[0], "127.0.0.1", dns_port);
	*n = 1;
	return 0;
}

/* A net under the guard: every UDP datagram libre sends goes through
 * udp_send (its PLT); one to a non-loopback address is counted and never
 * sent, so a broken guard cannot make this test send off the machine. */
static atomic_int offbox;
typedef int (udp_send_f)(struct udp_sock *, const struct sa *, struct mbuf *);
int udp_send(struct udp_sock *us, const struct sa *dst, struct mbuf *mb)
{
	static udp_send_f *real;

	if (!sa_is_loopback(dst)) {
		atomic_fetch_add(&offbox, 1);
		return EPERM;
	}
	if (!real) {
		void *p = dlsym(RTLD_NEXT, "udp_send");

		memcpy(&real, &p, sizeof(p));
	}
	return real ? real(us, dst, mb) : ENOSYS;
}

/* answers every A query with 169.254.169.254, anything else with none */
static void *dns_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&dns_stop)) {
		struct pollfd p = {dns_fd, POLLIN, 0};
		uint8_t q[512], r[600];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t len;
		size_t qend = 12;
		uint16_t qtype;

		if (poll(&p, 1, 50) <= 0)
			continue;
		len = recvfrom(dns_fd, q, sizeof(q), 0,
			       (struct sockaddr *)&from, &fl);
		if (len < 17)
			continue;
		while (qend < (size_t)len && q[qend])
			qend += q[qend] + 1;
		if (qend + 5 > (size_t)len)
			continue;
		qend += 5;	/* root label, type, class */
		qtype = (uint16_t)(q[qend - 4] << 8 | q[qend - 3]);
		atomic_fetch_add(&dns_queries, 1);
		memcpy(r, q, qend);
		r[2] = 0x81;	/* response, recursion desired */
		r[3] = 0x80;	/* recursion available, NOERROR */
		r[6] = 0;
		r[7] = qtype == 1;	/* answers */
		memset(r + 8, 0, 4);
		if (qtype == 1) {
			static const uint8_t an[] = {
				0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
				169, 254, 169, 254
			};

			memcpy(r + qend, an, sizeof(an));
			qend += sizeof(an);
		}
		(void)sendto(dns_fd, r, qend, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void test_dns(void)
{
	struct dial_conf conf;
	struct dial_leg_params lp;
	struct dial *d = NULL;
	struct dial_event *ev;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	pthread_t th;

	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!ok(dns_fd >= 0 && !bind(dns_fd, (struct sockaddr *)&sin,
				    sizeof(sin)) &&
		!getsockname(dns_fd, (struct sockaddr *)&sin, &sl),
		"a DNS server on loopback"))
		return;
	dns_port = ntohs(sin.sin_port);
	pthread_create(&th, NULL, dns_thread, NULL);

	memset(&conf, 0, sizeof(conf));
	conf.listen = "127.0.0.1:0";
	if (!is_int(dial_alloc(&d, &conf), 0, "engine with the default list"))
		goto out;
	memset(&lp, 0, sizeof(lp));
	lp.id = "CAmeta";
	lp.uri = "sip:x@meta.test:5060";
	is_int(dial_leg_start(d, &lp), 0, "a leg to meta.test");
	ev = dial_test_wait_ev(d, DIAL_EV_ENDED, "CAmeta", 10000, NULL, NULL);
	if (ok(ev != NULL, "it ended")) {
		is_int(ev->end, DIAL_END_FAILED, "failed");
		is_int(ev->err, EACCES, "err EACCES: refused by the deny list");
		is_str(ev->peer, "169.254.169.254:5060",
		       "the event names the address DNS gave");
		dial_event_free(ev);
	}
	ok(atomic_load(&dns_queries) >= 1, "the name was resolved (%d "
	   "queries)", atomic_load(&dns_queries));
	is_int(atomic_load(&offbox), 0, "nothing was sent to it");
	d = dial_free(d);
 out:
	atomic_store(&dns_stop, true);
	pthread_join(th, NULL);
	close(dns_fd);
}

int main(void)
{
	test_match();
	test_bad();
	test_dns();
	return tap_done();
}
