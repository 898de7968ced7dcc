/* uri.c: sip:/sips: URIs into a target, transport and a policed header list */
/*
 * Why it is built this way: a sip: URI comes from a customer's document
 * or REST request, and its parts go onto the wire. The target is written
 * into a SIP start line as it is, so it may hold no space or control
 * byte, and a password never enters it (kept apart, for digest auth).
 * The header part becomes INVITE headers, so every item goes through the
 * header policy (headers.c) and each refusal is recorded, never dropped
 * silently. The parse is a row of named steps over one cursor (scheme,
 * user info, host and port, target with parameters, header lists), each
 * returning at the first error with code 32110.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cxml/internal.h"

#define TARGET_MAX 2048

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 3261 character classes, one bit each: the header part is checked
 * byte by byte */
enum { C_UNRES = 1, C_USER = 2, C_PARAM = 4, C_HNV = 8 };

#define C_ALL (C_UNRES | C_USER | C_PARAM | C_HNV)

static inline unsigned cclass(unsigned char c)
{
	if (is_alnum(c))
		return C_ALL;
	switch (c) {
	case '-': case '_': case '.': case '!': case '~': case '*': case '\'':
	case '(': case ')':
		return C_ALL;
	case '+': case '$': case '/':
		return C_USER | C_PARAM | C_HNV;
	case '&':
		return C_USER | C_PARAM;
	case '?':
		return C_USER | C_HNV;
	case '=': case ',': case ';':
		return C_USER;
	case '[': case ']': case ':':
		return C_PARAM | C_HNV;
	default:
		return 0;
	}
}

static bool user_char(unsigned char c)
{
	return cclass(c) & C_USER;
}

static bool param_char(unsigned char c)
{
	return cclass(c) & C_PARAM;
}

static bool hnv_char(unsigned char c)
{
	return cclass(c) & C_HNV;
}

/* first byte of s[0..n) not accepted by ok (a '%' must start %XX); n if none */
static size_t bad_char(const char *s, size_t n, bool (*ok)(unsigned char))
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (n - i < 3 || !strchr("0123456789abcdefABCDEF", s[i + 1]) ||
			    !s[i + 1] || !strchr("0123456789abcdefABCDEF", s[i + 2]) ||
			    !s[i + 2])
				return i;
			i += 2;
			continue;
		}
		if (!ok(c))
			return i;
	}
	return n;
}

static const char *show_char(char *buf, size_t size, unsigned char c)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
	return buf;
}

static int malformed(struct cxml_diags *d, const struct diag_at *at,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int malformed(struct cxml_diags *d, const struct diag_at *at,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, CXML_ERROR, 32110, at, fmt, ap);
	va_end(ap);
	return EBADMSG;
}

static bool host_name_ok(const char *h, size_t n)
{
	size_t i;

	if (!n || h[0] == '.' || h[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!is_alnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return false;
		if (h[i] == '.' && i + 1 < n && h[i + 1] == '.')
			return false;
	}
	return true;
}

/* one ";name[=value]" URI parameter; consumed ones return *keep = false */
static int uri_param(const char *p, size_t n, struct cxml_sip_uri *u,
		     bool *seen_transport, bool *keep, struct cxml_diags *d,
		     const struct diag_at *at)
{
	const char *eq = memchr(p, '=', n);
	size_t nl = eq ? (size_t)(eq - p) : n;
	const char *v = eq ? eq + 1 : "";
	size_t vl = eq ? n - nl - 1 : 0;
	char cb[16];
	size_t bad = bad_char(p, nl, param_char);

	if (bad == nl && eq)
		bad = nl + 1 + bad_char(v, vl, param_char);
	*keep = true;
	if (bad < n)
		return malformed(d, at, "SIP URI parameter holds an unescaped %s",
				 show_char(cb, sizeof(cb), (unsigned char)p[bad]));
	if (!nl)
		return malformed(d, at, "SIP URI has an empty parameter name");
	if (nl == 9 && !strncasecmp(p, "transport", 9)) {
		if (*seen_transport)
			return malformed(d, at, "SIP URI gives transport twice");
		*seen_transport = true;
		if (vl == 3 && !strncasecmp(v, "udp", 3))
			u->transport = CXML_TRANSPORT_UDP;
		else if (vl == 3 && !strncasecmp(v, "tcp", 3))
			u->transport = CXML_TRANSPORT_TCP;
		else if (vl == 3 && !strncasecmp(v, "tls", 3))
			u->transport = CXML_TRANSPORT_TLS;
		else
			return malformed(d, at,
					 "SIP URI transport must be udp, tcp or tls");
	} else if (nl == 6 && !strncasecmp(p, "secure", 6)) {
		*keep = false;
		if (vl == 4 && !strncasecmp(v, "true", 4))
			u->srtp = true;
		else if (!(vl == 5 && !strncasecmp(v, "false", 5)))
			return malformed(d, at,
					 "SIP URI parameter secure must be true or false");
	} else if ((nl == 6 && !strncasecmp(p, "region", 6)) ||
		   (nl == 4 && !strncasecmp(p, "edge", 4))) {
		*keep = false;    /* routing hints of the vendors' own networks:
				   * dialerd is one site, so accepted and ignored */
	}
	return 0;
}

static int uri_headers(struct cxml_arena *a, const struct cxml_policy *pol,
		       struct hdr_list *l, const char *s, size_t n,
		       struct cxml_diags *d, const struct diag_at *at,
		       bool *over_err)
{
	const char *seg = s, *end = s + n, *amp, *eq;
	size_t sl, nl, bad;
	char *nd, *vd, cb[16];
	long ndl, vdl;
	bool over;
	int err;

	while (seg < end) {
		amp = memchr(seg, '&', (size_t)(end - seg));
		if (!amp)
			amp = end;
		sl = (size_t)(amp - seg);
		if (!sl) {
			seg = amp + 1;
			continue;
		}
		eq = memchr(seg, '=', sl);
		nl = eq ? (size_t)(eq - seg) : sl;
		bad = bad_char(seg, nl, hnv_char);
		if (bad == nl && eq)
			bad = nl + 1 + bad_char(eq + 1, sl - nl - 1, hnv_char);
		if (bad == nl && !eq)
			bad = sl;
		if (!eq) {
			err = hdr_refuse(a, l, seg, sl, "", 0, 32110, CXML_HDR_URI,
					 d, at, "no '=' after the header name");
		} else if (bad < sl) {
			err = hdr_refuse(a, l, seg, nl, eq + 1, sl - nl - 1, 32110,
					 CXML_HDR_URI, d, at,
					 "unescaped %s in the URI header part (percent-encode it)",
					 show_char(cb, sizeof(cb),
						   (unsigned char)seg[bad]));
		} else {
			nd = arena_zalloc(a, nl + 1);
			vd = arena_zalloc(a, sl - nl);
			if (!nd || !vd)
				return ENOMEM;
			ndl = cxml_pct_decode(nd, seg, nl);
			vdl = cxml_pct_decode(vd, eq + 1, sl - nl - 1);
			if (ndl < 0 || vdl < 0)
				return ENOMEM;  /* bad_char already vetted escapes */
			err = hdr_offer(a, pol, l, nd, (size_t)ndl, vd,
					(size_t)vdl, CXML_HDR_URI, d, at, &over);
			if (over && pol->oversize_is_error)
				*over_err = true;
		}
		if (err)
			return err;
		seg = amp + 1;
	}
	return 0;
}

/* One URI being read: the parts found so far. */
struct uri_cur {
	struct cxml_arena *a;
	struct cxml_diags *d;
	const struct diag_at *at;
	struct cxml_sip_uri *u;
	const char *rest;         /* after the scheme */
	const char *end;          /* before '?' (or the end) */
	const char *user_end;     /* end of the user, before ':' or '@' */
	const char *host, *hend;  /* host[:port] */
	const char *semi;         /* first ';' after the host, or NULL */
};

/* sip: or sips:, a bounded length, and no space or control byte: the
 * target goes into a SIP start line as it is. */
static int uri_scheme(struct uri_cur *c, const char *s, size_t slen)
{
	char cb[16];
	size_t i;

	if (slen >= 4 && !strncasecmp(s, "sip:", 4)) {
		c->rest = s + 4;
	} else if (slen >= 5 && !strncasecmp(s, "sips:", 5)) {
		c->rest = s + 5;
		c->u->sips = true;
	} else {
		return malformed(c->d, c->at, "not a sip: or sips: URI");
	}
	c->end = s + slen;
	if (slen > TARGET_MAX)
		return malformed(c->d, c->at,
				 "SIP URI longer than %d bytes before its headers",
				 TARGET_MAX);
	for (i = 0; i < slen; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return malformed(c->d, c->at, "SIP URI holds a space or a %s",
					 show_char(cb, sizeof(cb),
						   (unsigned char)s[i]));
	return 0;
}

/* Percent-decodes [p, e) into the arena: EBADMSG on a bad escape or a
 * NUL; what says which part, for the message. The bytes are not shown:
 * one of the parts is a password. */
static int uri_decode(struct uri_cur *c, const char *p, const char *e,
		      const char *what, const char **out)
{
	char *dec = arena_zalloc(c->a, (size_t)(e - p) + 1);
	long n;

	if (!dec)
		return ENOMEM;
	for (const char *q = p; q < e; q++) {
		if (*q == '%') {
			if (e - q < 3 || bad_char(q, 3, user_char) != 3)
				return malformed(c->d, c->at,
						 "SIP URI %s has a bad percent escape",
						 what);
			q += 2;
		} else if (!user_char((unsigned char)*q)) {
			return malformed(c->d, c->at,
					 "SIP URI %s holds an unescaped character "
					 "that must be percent-encoded", what);
		}
	}
	n = cxml_pct_decode(dec, p, (size_t)(e - p));
	if (n < 0)
		return malformed(c->d, c->at, "SIP URI %s has a bad percent escape",
				 what);
	dec[n] = '\0';
	if (memchr(dec, '\0', (size_t)n))
		return malformed(c->d, c->at, "SIP URI %s decodes to a NUL byte",
				 what);
	*out = dec;
	return 0;
}

/* user[:password]@: the password is kept apart (u->password), never in
 * the target, so it cannot reach a Request-URI, a log line or a printout
 * (RFC 3261 §19.1.1 advises against it in URIs for that reason). */
static int uri_userinfo(struct uri_cur *c)
{
	const char *atp = memchr(c->rest, '@', (size_t)(c->end - c->rest));
	const char *colon;
	int err;

	c->u->user = "";
	c->user_end = c->rest;
	c->host = c->rest;
	if (!atp)
		return 0;
	colon = memchr(c->rest, ':', (size_t)(atp - c->rest));
	c->user_end = colon ? colon : atp;
	if (c->user_end == c->rest)
		return malformed(c->d, c->at,
				 "SIP URI has an empty user part before '@'");
	err = uri_decode(c, c->rest, c->user_end, "user part", &c->u->user);
	if (!err && colon)
		err = uri_decode(c, colon + 1, atp, "password", &c->u->password);
	c->host = atp + 1;
	return err;
}

static int uri_port(struct uri_cur *c, const char *p)
{
	unsigned long port = 0;

	if (p == c->hend)
		return 0;
	if (*p != ':' || c->hend - p < 2 || c->hend - p > 6)
		return malformed(c->d, c->at, "SIP URI has a bad port");
	for (p++; p < c->hend; p++) {
		if (*p < '0' || *p > '9')
			return malformed(c->d, c->at, "SIP URI has a bad port");
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (!port || port > 65535)
		return malformed(c->d, c->at, "SIP URI port must be 1-65535");
	c->u->port = (uint16_t)port;
	return 0;
}

/* host[:port]: a name, an IPv4 address or a bracketed IPv6 reference */
static int uri_hostport(struct uri_cur *c)
{
	const char *p;

	c->semi = memchr(c->host, ';', (size_t)(c->end - c->host));
	c->hend = c->semi ? c->semi : c->end;
	if (c->host < c->hend && *c->host == '[') {
		const char *rb = memchr(c->host, ']', (size_t)(c->hend - c->host));
		char v6[64];
		struct in6_addr in6;

		if (!rb || (size_t)(rb - c->host - 1) >= sizeof(v6))
			return malformed(c->d, c->at, "SIP URI has a bad IPv6 reference");
		memcpy(v6, c->host + 1, (size_t)(rb - c->host - 1));
		v6[rb - c->host - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &in6) != 1)
			return malformed(c->d, c->at,
					 "SIP URI has a bad IPv6 address \"%s\"", v6);
		c->u->host = arena_strdup(c->a, v6);
		c->u->host_ipv6 = true;
		p = rb + 1;
	} else {
		const char *colon = memchr(c->host, ':',
					   (size_t)(c->hend - c->host));

		p = colon ? colon : c->hend;
		if (!host_name_ok(c->host, (size_t)(p - c->host)))
			return malformed(c->d, c->at, "SIP URI has a bad or empty host");
		c->u->host = arena_strndup(c->a, c->host, (size_t)(p - c->host));
	}
	if (!c->u->host)
		return ENOMEM;
	return uri_port(c, p);
}

/* The target: scheme, user (without a password), host, port, then the
 * parameters that are not consumed here (secure, region, edge). */
static int uri_target(struct uri_cur *c)
{
	struct cxml_sip_uri *u = c->u;
	bool seen_transport = false, keep;
	size_t tl, ul = (size_t)(c->user_end - c->rest);
	const char *p, *semi;
	char *target;
	int err;

	target = arena_zalloc(c->a, (size_t)(c->end - c->rest) + 6);
	if (!target)
		return ENOMEM;
	tl = u->sips ? 5 : 4;
	memcpy(target, u->sips ? "sips:" : "sip:", tl);
	if (ul) {
		memcpy(target + tl, c->rest, ul);
		tl += ul;
		target[tl++] = '@';
	}
	memcpy(target + tl, c->host, (size_t)(c->hend - c->host));
	tl += (size_t)(c->hend - c->host);
	for (p = c->semi; p && p < c->end; p = semi) {
		const char *pe;

		p++;
		semi = memchr(p, ';', (size_t)(c->end - p));
		pe = semi ? semi : c->end;
		err = uri_param(p, (size_t)(pe - p), u, &seen_transport, &keep,
				c->d, c->at);
		if (err)
			return err;
		if (keep) {
			target[tl++] = ';';
			memcpy(target + tl, p, (size_t)(pe - p));
			tl += (size_t)(pe - p);
		}
	}
	target[tl] = '\0';
	u->target = target;
	if (u->sips) {
		if (u->transport == CXML_TRANSPORT_UDP)
			return malformed(c->d, c->at,
					 "sips: URI cannot use transport=udp");
		u->transport = CXML_TRANSPORT_TLS;
	} else if (u->srtp && u->transport == CXML_TRANSPORT_DEFAULT) {
		u->transport = CXML_TRANSPORT_TLS;
	}
	return 0;
}

/* The headers: the URI's own, then <Sip sipHeaders>, then <Dial
 * sipHeaders> (already through the policy once, at the <Dial>). */
static int uri_header_lists(struct uri_cur *c, const struct cxml_policy *pol,
			    const char *q, size_t qlen, const char *sip_attr,
			    const struct hdr_list *dial)
{
	struct cxml_sip_uri *u = c->u;
	struct hdr_list l;
	bool over_err = false;
	int err = 0;

	memset(&l, 0, sizeof(l));
	if (q)
		err = uri_headers(c->a, pol, &l, q, qlen, c->d, c->at, &over_err);
	if (!err && sip_attr)
		err = hdr_parse_plivo(c->a, pol, &l, sip_attr, CXML_HDR_SIP_ATTR,
				      c->d, c->at);
	if (!err && dial)
		err = hdr_merge(c->a, pol, &l, dial, c->d, c->at);
	if (!err)
		err = hdr_finish(c->a, &l, c->d, c->at, pol->oversize_is_error);
	if (err)
		return err;
	for (size_t i = 0; i < l.nr; i++)
		if (l.r[i].code == 21227 && pol->oversize_is_error)
			over_err = true;
	u->hdrs = l.v;
	u->nhdrs = l.n;
	u->refused = l.r;
	u->nrefused = l.nr;
	u->hdr_bytes = l.bytes;
	return over_err ? EBADMSG : 0;
}

int cxml_uri_parse(struct cxml_arena *a, const struct cxml_policy *pol,
		   const char *s, size_t len, struct cxml_sip_uri *u,
		   const char *sip_attr, const struct hdr_list *dial,
		   struct cxml_diags *d, const struct diag_at *at)
{
	struct uri_cur c = { .a = a, .d = d, .at = at, .u = u };
	const char *q;
	size_t slen;
	int err;

	memset(u, 0, sizeof(*u));
	if (!len)
		return malformed(d, at, "empty SIP URI");
	q = memchr(s, '?', len);
	slen = q ? (size_t)(q - s) : len;
	err = uri_scheme(&c, s, slen);
	if (!err)
		err = uri_userinfo(&c);
	if (!err)
		err = uri_hostport(&c);
	if (!err)
		err = uri_target(&c);
	if (!err)
		err = uri_header_lists(&c, pol, q ? q + 1 : NULL,
				       q ? len - slen - 1 : 0, sip_attr, dial);
	return err;
}

struct uri_box {
	struct cxml_sip_uri u;
	struct cxml_arena *a;
};

int cxml_sip_uri_parse(const char *uri, const struct cxml_policy *pol,
		       struct cxml_sip_uri **up, struct cxml_diags *d)
{
	struct cxml_policy def;
	struct cxml_arena *a = NULL;
	struct uri_box *box;
	struct diag_at at = { .ordinal = -1 };
	int err;

	if (!uri || !up)
		return EINVAL;
	if (!pol) {
		cxml_policy_default(&def);
		pol = &def;
	}
	err = arena_alloc(&a, ARENA_FIRST_URI);
	if (err)
		return err;
	box = arena_zalloc(a, sizeof(*box));
	if (!box) {
		err = ENOMEM;
		goto out;
	}
	box->a = a;
	err = cxml_uri_parse(a, pol, uri, strlen(uri), &box->u, NULL, NULL, d,
			     &at);
 out:
	if (err)
		arena_free(a);
	else
		*up = &box->u;
	return err;
}

struct cxml_sip_uri *cxml_sip_uri_free(struct cxml_sip_uri *u)
{
	struct uri_box *box = (struct uri_box *)(void *)u;

	if (u)
		arena_free(box->a);
	return NULL;
}
