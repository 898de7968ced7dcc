/* json.c: the JSON writer
 *
 * REST answers carry what SIP peers and webhooks sent (From headers,
 * header values), so every string is escaped here: quotes, backslashes and
 * control characters, and bytes that are not UTF-8 become U+FFFD, so the
 * answer always parses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/json.h"

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_fini(struct json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

const char *json_text(const struct json *j, size_t *len)
{
	if (j->err || !j->buf)
		return NULL;
	if (len)
		*len = j->len;
	return j->buf;
}

static void put(struct json *j, const char *s, size_t n)
{
	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		char *nb;

		while (cap < j->len + n + 1)
			cap *= 2;
		nb = realloc(j->buf, cap);
		if (!nb) {
			j->err = ENOMEM;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

/* Before a value: the comma after a previous one, unless a key was just
 * written (it put its own). */
static void sep(struct json *j)
{
	if (j->keyed) {
		j->keyed = false;
		return;
	}
	if (j->more[j->depth])
		put(j, ",", 1);
	j->more[j->depth] = true;
}

static void open_(struct json *j, char c)
{
	sep(j);
	put(j, &c, 1);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->err = EINVAL;
		return;
	}
	j->more[++j->depth] = false;
}

static void close_(struct json *j, char c)
{
	if (j->depth == 0 || j->keyed) {
		j->err = EINVAL;
		return;
	}
	j->depth--;
	put(j, &c, 1);
}

void json_obj(struct json *j)
{
	open_(j, '{');
}

void json_obj_end(struct json *j)
{
	close_(j, '}');
}

void json_arr(struct json *j)
{
	open_(j, '[');
}

void json_arr_end(struct json *j)
{
	close_(j, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool json_text_exact(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, len; i < n; i += len) {
		len = utf8_len(p + i, n - i);
		if (!len || !p[i])
			return false;
	}
	return true;
}

static void put_escaped(struct json *j, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0;

	put(j, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(p + i, n - i);
		char esc[8];
		const char *e = NULL;

		if (len == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
			run++;
			i++;
			continue;
		}
		if (len > 1) {
			run += len;
			i += len;
			continue;
		}
		put(j, (const char *)p + i - run, run);
		run = 0;
		if (len == 0) {
			e = "\\ufffd";
		} else if (p[i] == '"') {
			e = "\\\"";
		} else if (p[i] == '\\') {
			e = "\\\\";
		} else if (p[i] == '\n') {
			e = "\\n";
		} else if (p[i] == '\r') {
			e = "\\r";
		} else if (p[i] == '\t') {
			e = "\\t";
		} else {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			e = esc;
		}
		put(j, e, strlen(e));
		i++;
	}
	put(j, (const char *)p + n - run, run);
	put(j, "\"", 1);
}

void json_key(struct json *j, const char *k)
{
	if (j->keyed || j->depth == 0) {
		j->err = EINVAL;
		return;
	}
	sep(j);
	put_escaped(j, k, strlen(k));
	put(j, ":", 1);
	j->keyed = true;
}

void json_strn(struct json *j, const char *s, size_t n)
{
	if (!s) {
		json_null(j);
		return;
	}
	sep(j);
	put_escaped(j, s, n);
}

void json_str(struct json *j, const char *s)
{
	json_strn(j, s, s ? strlen(s) : 0);
}

void json_int(struct json *j, long long v)
{
	char b[24];

	sep(j);
	put(j, b, (size_t)snprintf(b, sizeof(b), "%lld", v));
}

void json_bool(struct json *j, bool b)
{
	sep(j);
	put(j, b ? "true" : "false", b ? 4 : 5);
}

void json_null(struct json *j)
{
	sep(j);
	put(j, "null", 4);
}

void json_kstr(struct json *j, const char *k, const char *s)
{
	json_key(j, k);
	json_str(j, s);
}

void json_kint(struct json *j, const char *k, long long v)
{
	json_key(j, k);
	json_int(j, v);
}

void json_knull(struct json *j, const char *k)
{
	json_key(j, k);
	json_null(j);
}
