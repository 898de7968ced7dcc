/* webhook_url.c: the URLs and form bodies of webhook requests, and copies
 * of the parameter lists they are made from
 *
 * Relative URLs (a <Redirect> or Dial action of "next.xml") resolve
 * against the URL of the document that named them, as a browser would;
 * libcurl's URL API does the RFC 3986 work. Fragments are dropped: they
 * are never sent, so they must not be signed either.
 *
 * Every fetch resolves its URL again, and most are absolute URLs that an
 * earlier resolution printed (status callbacks go to the same URL again
 * and again). A strict check recognises a URL that curl would print back
 * unchanged and copies it without building a CURLU handle; anything it is
 * not sure of goes to curl. The unit test and the URL fuzzer compare the
 * two answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "daemon/webhook.h"

#define FAST_MAX 8192	/* longer URLs are left to curl */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static size_t encoded_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += unreserved((unsigned char)*s) || *s == ' ' ? 1 : 3;
	return n;
}

static char *encode(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c)) {
			*o++ = (char)c;
		} else if (c == ' ') {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	return o;
}

int webhook_form_encode(char **buf, size_t *len,
			const struct webhook_param *p, size_t n)
{
	size_t need = *len, off = *len;
	char *b, *o;

	for (size_t i = 0; i < n; i++)
		need += encoded_len(p[i].name) + 2 +
			(p[i].value ? encoded_len(p[i].value) : 0);
	b = realloc(*buf, need + 1);
	if (!b)
		return ENOMEM;
	o = b + off;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = '&';
		o = encode(o, p[i].name);
		*o++ = '=';
		if (p[i].value)
			o = encode(o, p[i].value);
	}
	*o = '\0';
	*buf = b;
	*len = (size_t)(o - b);
	return 0;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* A byte of a path or query that curl keeps as it is: RFC 3986's pchar
 * (a '%' only as the start of an escape) and '/'; '?' in the query. */
static size_t url_char(const char *s, bool query)
{
	unsigned char c = (unsigned char)*s;

	if (unreserved(c) || strchr("!$&'()*+,;=:@/", c) ||
	    (query && c == '?'))
		return c ? 1 : 0;
	if (c == '%' && is_hex(s[1]) && is_hex(s[2]))
		return 3;
	return 0;
}

/* curl rewrites every spelling of an IPv4 address (127.1, 0x7f.0.0.1,
 * 2130706433, 010.0.0.1) as a dotted quad: a host of digits, dots and hex
 * letters passes only as the quad in curl's own spelling. A letter past
 * 'f' (not 'x') makes it a name, which curl leaves as it is. */
static bool host_kept(const char *h, size_t len)
{
	unsigned parts = 0;

	for (size_t i = 0; i < len; i++)
		if (h[i] >= 'g' && h[i] <= 'z' && h[i] != 'x')
			return true;
	for (size_t i = 0; i < len; parts++) {
		unsigned v = 0;
		size_t d = 0;

		while (i + d < len && h[i + d] >= '0' && h[i + d] <= '9' && d < 4)
			v = v * 10 + (unsigned)(h[i + d++] - '0');
		if (d == 0 || d > 3 || v > 255 || (d > 1 && h[i] == '0'))
			return false;
		i += d;
		if (i < len && (h[i] != '.' || ++i == len))
			return false;
	}
	return parts == 4;
}

bool webhook_url_is_resolved(const char *url)
{
	const char *s = url, *seg;
	size_t n, len;

	if (strncmp(s, "http://", 7) == 0)
		s += 7;
	else if (strncmp(s, "https://", 8) == 0)
		s += 8;
	else
		return false;
	/* host: lowercase name or dotted quad (no userinfo, no [IPv6]) */
	len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-");
	if (!len || !host_kept(s, len))
		return false;
	s += len;
	if (*s == ':') {	/* port 1-65535 as curl prints it */
		unsigned long port;

		len = strspn(++s, "0123456789");
		if (len < 1 || len > 5 || *s == '0')
			return false;
		port = strtoul(s, NULL, 10);
		if (port > 65535)
			return false;
		s += len;
	}
	/* path: curl adds a missing '/' and removes "." and ".." segments */
	if (*s != '/')
		return false;
	for (seg = ++s;; s += n) {
		if (*s == '/' || *s == '?' || !*s) {
			len = (size_t)(s - seg);
			if ((len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			seg = s + 1;
			if (*s != '/')
				break;
		}
		if (!(n = url_char(s, false)))
			return false;
	}
	/* query: curl drops a '?' with nothing after it */
	if (*s == '?') {
		if (!*++s)
			return false;
		while ((n = url_char(s, true)))
			s += n;
	}
	/* no fragment, nothing curl would refuse; long ones are rare */
	return *s == '\0' && (size_t)(s - url) <= FAST_MAX;
}

int webhook_url_resolve(const char *base, const char *ref, char **out)
{
	CURLU *u;
	char *url = NULL, *scheme = NULL;
	int err = EINVAL;

	if (!ref || !*ref)
		return EINVAL;
	/* an absolute ref replaces the base, which must still be a URL */
	if (webhook_url_is_resolved(ref) &&
	    (!base || webhook_url_is_resolved(base))) {
		*out = strdup(ref);
		return *out ? 0 : ENOMEM;
	}
	u = curl_url();
	if (!u)
		return ENOMEM;
	/* setting a relative URL on a handle that holds one resolves it */
	if (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
		goto out;
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
		goto out;
	*out = strdup(url);
	err = *out ? 0 : ENOMEM;
 out:
	curl_free(url);
	curl_free(scheme);
	curl_url_cleanup(u);
	return err;
}

int webhook_url_with_query(const char *url, const struct webhook_param *p,
			   size_t n, char **out)
{
	size_t ulen = strcspn(url, "#"), len;
	char *b;
	int err;

	b = malloc(ulen + 2);
	if (!b)
		return ENOMEM;
	memcpy(b, url, ulen);
	len = ulen;
	if (n) {
		const char *q = memchr(url, '?', ulen);

		/* "?" alone or a query ending in "&" needs no separator */
		if (!q)
			b[len++] = '?';
		else if (len > 0 && b[len - 1] != '?' && b[len - 1] != '&')
			b[len++] = '&';
	}
	b[len] = '\0';
	err = webhook_form_encode(&b, &len, p, n);
	if (err) {
		free(b);
		return err;
	}
	*out = b;
	return 0;
}

void webhook_url_redact(const char *url, char *buf, size_t size)
{
	const char *scheme_end = strstr(url, "://");
	const char *auth, *at, *colon;
	size_t host_start;

	if (!size)
		return;
	if (!scheme_end) {
		snprintf(buf, size, "%s", url);
		return;
	}
	auth = scheme_end + 3;
	host_start = strcspn(auth, "/?#");
	at = memchr(auth, '@', host_start);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon) {
		snprintf(buf, size, "%s", url);
		return;
	}
	snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
}

struct webhook_param *webhook_params_copy(const struct webhook_param *p,
					  size_t n)
{
	struct webhook_param *c;
	size_t size = sizeof(*c) * (n ? n : 1);
	char *str;

	for (size_t i = 0; i < n; i++)
		size += strlen(p[i].name) + 1 +
			(p[i].value ? strlen(p[i].value) : 0) + 1;
	c = malloc(size);
	if (!c)
		return NULL;
	str = (char *)(c + (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		const char *v = p[i].value ? p[i].value : "";
		size_t nl = strlen(p[i].name) + 1, vl = strlen(v) + 1;

		c[i].name = memcpy(str, p[i].name, nl);
		str += nl;
		c[i].value = memcpy(str, v, vl);
		str += vl;
	}
	return c;
}
