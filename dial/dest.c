/* dest.c: the destination deny list: CIDRs and exact addresses matched against the address a SIP request goes to */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dial/internal.h"

/*
 * Every rule is kept as IPv6: an IPv4 rule a.b.c.d/n is ::ffff:a.b.c.d/
 * (96 + n), and an IPv4 destination is compared in that form too, so an
 * IPv4-mapped IPv6 destination (::ffff:169.254.169.254) meets the IPv4
 * rules. Pure: no libre, no engine state.
 */

enum { TOKEN_MAX = 64 };

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void why_set(char *why, size_t size, const char *tok, const char *what)
{
	if (why && size)
		snprintf(why, size, "'%s': %s", tok, what);
}

static int rule_push(struct dial_dest *dd, const struct dial_dest_rule *r)
{
	if (dd->n == dd->cap) {
		size_t cap = dd->cap ? 2 * dd->cap : 8;
		struct dial_dest_rule *v = realloc(dd->v, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		dd->v = v;
		dd->cap = cap;
	}
	dd->v[dd->n++] = *r;
	return 0;
}

/* "10.0.0.0/8", "fe80::/10", "192.0.2.7" (a /32), "::1" (a /128) */
static int cidr_parse(struct dial_dest_rule *r, const char *tok, char *why,
		      size_t size)
{
	char addr[TOKEN_MAX];
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);
	struct in_addr a4;
	bool v4;
	unsigned max, plen;

	memset(r, 0, sizeof(*r));
	if (alen >= sizeof(addr)) {
		why_set(why, size, tok, "not an IPv4 or IPv6 address");
		return EINVAL;
	}
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		v4 = true;
		memcpy(r->a, v4mapped, sizeof(v4mapped));
		memcpy(r->a + 12, &a4, 4);
	}
	else if (inet_pton(AF_INET6, addr, r->a) == 1) {
		v4 = false;
	}
	else {
		why_set(why, size, tok, "not an IPv4 or IPv6 address");
		return EINVAL;
	}
	max = v4 ? 32 : 128;
	plen = max;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		unsigned long n;

		if (!isdigit((unsigned char)*p) || strlen(p) > 3) {
			why_set(why, size, tok, "the prefix length after '/' "
				"must be a number");
			return EINVAL;
		}
		n = strtoul(p, &end, 10);
		if (*end || n > max) {
			why_set(why, size, tok, v4 ? "an IPv4 prefix length "
				"is 0 to 32" : "an IPv6 prefix length is 0 to "
				"128");
			return EINVAL;
		}
		plen = (unsigned)n;
	}
	r->plen = (uint8_t)(v4 ? plen + 96 : plen);
	/* 10.0.0.1/8 is a typo for 10.0.0.0/8 or for 10.0.0.1: refuse it */
	for (unsigned bit = r->plen; bit < 128; bit++) {
		if (r->a[bit / 8] & (0x80 >> (bit % 8))) {
			why_set(why, size, tok, "address bits set past the "
				"prefix length (write the network address)");
			return EINVAL;
		}
	}
	return 0;
}

int dial_dest_parse(struct dial_dest *dd, const char *list, char *why,
		    size_t size)
{
	const char *p = list ? list : "";
	int err = 0;

	if (why && size)
		why[0] = '\0';
	while (!err) {
		char tok[TOKEN_MAX];
		struct dial_dest_rule r;
		size_t n;

		p += strspn(p, ", \t");
		if (!*p)
			break;
		n = strcspn(p, ", \t");
		if (n >= sizeof(tok)) {
			snprintf(tok, sizeof(tok), "%.*s...", (int)sizeof(tok) - 4, p);
			why_set(why, size, tok, "not an IPv4 or IPv6 address");
			return EINVAL;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		if (!strcasecmp(tok, "self")) {
			dd->self = true;
			continue;
		}
		err = cidr_parse(&r, tok, why, size);
		if (!err)
			err = rule_push(dd, &r);
	}
	return err;
}

/* dst as a 16-byte address (IPv4 mapped) and its port; false: no IP */
static bool sa_key(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(a, v4mapped, sizeof(v4mapped));
		memcpy(a + 12, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

int dial_dest_add_exact(struct dial_dest *dd, const struct sockaddr *sa,
			bool stream)
{
	struct dial_dest_rule r;

	memset(&r, 0, sizeof(r));
	if (!sa_key(sa, r.a, &r.port))
		return EINVAL;
	r.plen = 128;
	r.exact = true;
	r.stream = stream;
	return rule_push(dd, &r);
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned bytes = plen / 8, rest = plen % 8;

	if (memcmp(a, b, bytes))
		return false;
	if (!rest)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xff00 >> rest)) == 0;
}

const struct dial_dest_rule *dial_dest_match(const struct dial_dest *dd,
					     const struct sockaddr *sa,
					     bool stream)
{
	uint8_t a[16];
	uint16_t port;

	if (!dd || !dd->n || !sa_key(sa, a, &port))
		return NULL;
	for (size_t i = 0; i < dd->n; i++) {
		const struct dial_dest_rule *r = &dd->v[i];

		if (r->exact && (r->port != port || r->stream != stream))
			continue;
		if (prefix_eq(r->a, a, r->plen))
			return r;
	}
	return NULL;
}

void dial_dest_rule_print(char *buf, size_t size,
			  const struct dial_dest_rule *r)
{
	char host[INET6_ADDRSTRLEN];
	bool v4 = r->plen >= 96 && !memcmp(r->a, v4mapped, sizeof(v4mapped));

	if (v4)
		inet_ntop(AF_INET, r->a + 12, host, sizeof(host));
	else
		inet_ntop(AF_INET6, r->a, host, sizeof(host));
	if (r->exact)
		snprintf(buf, size, v4 ? "self %s%s:%u" : "self %s[%s]:%u",
			 r->stream ? "tcp " : "", host, r->port);
	else
		snprintf(buf, size, "%s/%u", host, v4 ? r->plen - 96 : r->plen);
}

void dial_dest_reset(struct dial_dest *dd)
{
	free(dd->v);
	memset(dd, 0, sizeof(*dd));
}

int dial_dest_check(const char *list, char *why, size_t size)
{
	struct dial_dest dd;
	int err;

	memset(&dd, 0, sizeof(dd));
	err = dial_dest_parse(&dd, list, why, size);
	dial_dest_reset(&dd);
	return err;
}
