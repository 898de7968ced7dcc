/* uri.c: sip:/sips: URIs into a target, transport and a policed header list */
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
		*keep = false;    /* one site: accepted and ignored (§2.3) */
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
			ndl = pct_decode(nd, seg, nl);
			vdl = pct_decode(vd, eq + 1, sl - nl - 1);
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

int uri_parse(struct cxml_arena *a, const struct cxml_policy *pol,
	      const char *s, size_t len, struct cxml_sip_uri *u,
	      const char *sip_attr, const char *dial_attr,
	      struct cxml_diags *d, const struct diag_at *at)
{
	const char *q, *rest, *end, *atp, *host, *hend, *p, *semi;
	size_t slen, rl, i, tl = 0;
	bool seen_transport = false, keep, over_err = false;
	struct hdr_list l;
	char *target, *user, cb[16];
	long ul;
	int err;

	memset(u, 0, sizeof(*u));
	memset(&l, 0, sizeof(l));
	if (!len)
		return malformed(d, at, "empty SIP URI");
	q = memchr(s, '?', len);
	slen = q ? (size_t)(q - s) : len;
	if (slen >= 4 && !strncasecmp(s, "sip:", 4)) {
		rest = s + 4;
	} else if (slen >= 5 && !strncasecmp(s, "sips:", 5)) {
		rest = s + 5;
		u->sips = true;
	} else {
		return malformed(d, at, "not a sip: or sips: URI");
	}
	end = s + slen;
	rl = (size_t)(end - rest);
	if (slen > TARGET_MAX)
		return malformed(d, at, "SIP URI longer than %d bytes before its headers",
				 TARGET_MAX);
	for (i = 0; i < slen; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return malformed(d, at, "SIP URI holds a space or a %s",
					 show_char(cb, sizeof(cb),
						   (unsigned char)s[i]));
	/* user part */
	atp = memchr(rest, '@', rl);
	user = arena_zalloc(a, atp ? (size_t)(atp - rest) + 1 : 1);
	if (!user)
		return ENOMEM;
	host = rest;
	if (atp) {
		const char *colon = memchr(rest, ':', (size_t)(atp - rest));
		size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(atp - rest);

		if (!ulen)
			return malformed(d, at, "SIP URI has an empty user part before '@'");
		for (i = 0; i < (size_t)(atp - rest); i++) {
			unsigned char c = (unsigned char)rest[i];

			if (c == '%') {
				size_t left = (size_t)(atp - rest) - i;

				if (left < 3 || bad_char(rest + i, 3, user_char) != 3)
					return malformed(d, at,
							 "SIP URI user part has a bad percent escape");
				i += 2;
				continue;
			}
			if (c == ':' && rest + i == colon)
				continue;       /* user:password */
			if (!user_char(c))
				return malformed(d, at,
						 "SIP URI user part holds an unescaped %s",
						 show_char(cb, sizeof(cb), c));
		}
		ul = pct_decode(user, rest, ulen);
		if (ul < 0)
			return malformed(d, at, "SIP URI user part has a bad percent escape");
		user[ul] = '\0';
		if (memchr(user, '\0', (size_t)ul))
			return malformed(d, at, "SIP URI user part decodes to a NUL byte");
		host = atp + 1;
	}
	u->user = user;
	/* host[:port] */
	semi = memchr(host, ';', (size_t)(end - host));
	hend = semi ? semi : end;
	if (host < hend && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(hend - host));
		char v6[64];
		struct in6_addr in6;

		if (!rb || (size_t)(rb - host - 1) >= sizeof(v6))
			return malformed(d, at, "SIP URI has a bad IPv6 reference");
		memcpy(v6, host + 1, (size_t)(rb - host - 1));
		v6[rb - host - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &in6) != 1)
			return malformed(d, at, "SIP URI has a bad IPv6 address \"%s\"", v6);
		u->host = arena_strdup(a, v6);
		u->host_ipv6 = true;
		p = rb + 1;
	} else {
		const char *colon = memchr(host, ':', (size_t)(hend - host));

		p = colon ? colon : hend;
		if (!host_name_ok(host, (size_t)(p - host)))
			return malformed(d, at, "SIP URI has a bad or empty host");
		u->host = arena_strndup(a, host, (size_t)(p - host));
	}
	if (!u->host)
		return ENOMEM;
	if (p < hend) {
		unsigned long port = 0;

		if (*p != ':' || hend - p < 2 || hend - p > 6)
			return malformed(d, at, "SIP URI has a bad port");
		for (p++; p < hend; p++) {
			if (*p < '0' || *p > '9')
				return malformed(d, at, "SIP URI has a bad port");
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (!port || port > 65535)
			return malformed(d, at, "SIP URI port must be 1-65535");
		u->port = (uint16_t)port;
	}
	/* target = everything up to the params, then the kept params */
	target = arena_zalloc(a, slen + 1);
	if (!target)
		return ENOMEM;
	memcpy(target, u->sips ? "sips:" : "sip:", u->sips ? 5 : 4);
	tl = u->sips ? 5 : 4;
	memcpy(target + tl, rest, (size_t)(hend - rest));
	tl += (size_t)(hend - rest);
	for (p = semi; p && p < end; p = semi) {
		const char *pe;

		p++;
		semi = memchr(p, ';', (size_t)(end - p));
		pe = semi ? semi : end;
		err = uri_param(p, (size_t)(pe - p), u, &seen_transport, &keep,
				d, at);
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
			return malformed(d, at, "sips: URI cannot use transport=udp");
		u->transport = CXML_TRANSPORT_TLS;
	} else if (u->srtp && u->transport == CXML_TRANSPORT_DEFAULT) {
		u->transport = CXML_TRANSPORT_TLS;
	}
	/* headers: the URI's own, then <Sip sipHeaders>, then <Dial sipHeaders> */
	if (q) {
		err = uri_headers(a, pol, &l, q + 1, len - slen - 1, d, at,
				  &over_err);
		if (err)
			return err;
	}
	if (sip_attr) {
		err = hdr_parse_plivo(a, pol, &l, sip_attr, CXML_HDR_SIP_ATTR,
				      d, at);
		if (err)
			return err;
	}
	if (dial_attr) {
		err = hdr_parse_plivo(a, pol, &l, dial_attr, CXML_HDR_DIAL_ATTR,
				      d, at);
		if (err)
			return err;
	}
	err = hdr_finish(a, &l, d, at, pol->oversize_is_error);
	if (err)
		return err;
	for (i = 0; i < l.nr; i++)
		if (l.r[i].code == 21227 && pol->oversize_is_error)
			over_err = true;
	u->hdrs = l.v;
	u->nhdrs = l.n;
	u->refused = l.r;
	u->nrefused = l.nr;
	u->hdr_bytes = l.bytes;
	return over_err ? EBADMSG : 0;
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
	err = arena_alloc(&a);
	if (err)
		return err;
	box = arena_zalloc(a, sizeof(*box));
	if (!box) {
		err = ENOMEM;
		goto out;
	}
	box->a = a;
	err = uri_parse(a, pol, uri, strlen(uri), &box->u, NULL, NULL, d, &at);
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
