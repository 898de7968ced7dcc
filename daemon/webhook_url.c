/* webhook_url.c: the URLs and form bodies of webhook requests
 *
 * Relative URLs (a <Redirect> or Dial action of "next.xml") resolve
 * against the URL of the document that named them, as a browser would;
 * libcurl's URL API does the RFC 3986 work. Fragments are dropped: they
 * are never sent, so they must not be signed either.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "daemon/webhook.h"

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

int webhook_url_resolve(const char *base, const char *ref, char **out)
{
	CURLU *u;
	char *url = NULL, *scheme = NULL;
	int err = EINVAL;

	if (!ref || !*ref)
		return EINVAL;
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
