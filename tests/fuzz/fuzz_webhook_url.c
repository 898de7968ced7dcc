/* fuzz_webhook_url.c: libFuzzer target for the webhook client's URL
 * resolution and form encoding (URLs come from customers' documents)
 *
 * Input: BASE \0 REF \0 then NAME=VALUE pairs separated by \0.
 * Properties: a resolved URL is absolute http(s) without a fragment, with
 * no byte below 0x21, and exactly what curl's URL API answers (the fast
 * path for URLs resolved before changes nothing); a URL the fast path
 * takes as resolved is one curl prints back unchanged; the form body
 * decodes back to exactly the names and values given (what the vendors'
 * validators sign); the GET URL keeps the resolved URL as its prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "daemon/webhook.h"

#define MAXP 16

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of one form field into out. */
static size_t decode(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			int h, l;

			if (i + 2 >= n)
				abort();	/* a cut escape */
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				abort();	/* the encoder wrote a bad escape */
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* curl's own answer for base + ref (NULL when it refuses) */
static char *curl_answer(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *url = NULL, *scheme = NULL, *r = NULL;

	if (!u || !*ref ||
	    (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK) ||
	    curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")))
		goto out;
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
		r = strdup(url);
 out:
	curl_free(url);
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

static void check_resolve(const char *base, const char *ref)
{
	char *url = NULL, *want = curl_answer(base, ref);
	int err = webhook_url_resolve(base, ref, &url);

	if ((err == 0) != (want != NULL) || (want && strcmp(url, want)))
		abort();	/* the fast path answered otherwise than curl */
	free(url);
	free(want);
	if (webhook_url_is_resolved(ref)) {
		want = curl_answer(NULL, ref);
		if (!want || strcmp(want, ref))
			abort();	/* taken as resolved, but curl rewrites it */
		free(want);
	}
}

static void check_form(const struct webhook_param *p, size_t n)
{
	char *b = NULL, *field;
	size_t len = 0, i = 0;
	const char *s;

	if (webhook_form_encode(&b, &len, p, n))
		return;
	if (strlen(b) != len)
		abort();
	field = malloc(len + 1);
	for (s = b; n && i < n; i++) {
		size_t flen = strcspn(s, "&"), nlen = strcspn(s, "=");

		if (nlen > flen)
			abort();	/* every field has its = */
		decode(s, nlen, field);
		if (strcmp(field, p[i].name))
			abort();
		decode(s + nlen + 1, flen - nlen - 1, field);
		if (strcmp(field, p[i].value ? p[i].value : ""))
			abort();
		s += flen + (s[flen] == '&');
	}
	if (*s)
		abort();	/* nothing beyond the fields */
	free(field);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *parts[2 + MAXP], *url = NULL, *get = NULL;
	struct webhook_param p[MAXP];
	size_t np = 0, nparts = 0, off = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	while (off <= size && nparts < 2 + MAXP) {
		parts[nparts++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	for (size_t i = 2; i < nparts; i++) {
		char *eq = strchr(parts[i], '=');

		if (!eq || eq == parts[i])
			continue;
		*eq = '\0';
		p[np].name = parts[i];
		p[np++].value = eq + 1;
	}
	check_form(p, np);
	if (nparts >= 2)
		check_resolve(*parts[0] ? parts[0] : NULL, parts[1]);
	if (nparts >= 2 &&
	    webhook_url_resolve(*parts[0] ? parts[0] : NULL, parts[1], &url) == 0) {
		if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
			abort();
		if (strchr(url, '#'))
			abort();
		for (const char *c = url; *c; c++)
			if ((unsigned char)*c < 0x21)
				abort();
		if (webhook_url_with_query(url, p, np, &get) == 0 &&
		    strncmp(get, url, strlen(url)))
			abort();
		free(get);
		free(url);
	}
	free(buf);
	return 0;
}
