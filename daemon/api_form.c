/* api_form.c: application/x-www-form-urlencoded bodies and query strings
 *
 * libevent 2.1's evhttp_parse_query_str neither decodes keys nor accepts
 * empty pairs, and the vendors' clients send both: "StartTime%3E=..." for
 * StartTime>, and repeated StatusCallbackEvent fields. So this parser keeps
 * every field in order and decodes both halves the way the clients encode
 * them (Python's urlencode, Node's URLSearchParams).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api_form.h"
#include "util/hex.h"

/* Decodes n bytes into a new string: '+' is a space, %XX a byte; a cut or
 * non-hex escape and a NUL byte are refused (EBADMSG). */
static int decode(const char *s, size_t n, char **outp)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int h = i + 2 < n ? util_hexval((unsigned char)s[i + 1]) : -1;
			int l = i + 2 < n ? util_hexval((unsigned char)s[i + 2]) : -1;

			if (h < 0 || l < 0) {
				free(out);
				return EBADMSG;
			}
			c = h << 4 | l;
			i += 2;
		}
		if (c == 0) {
			free(out);
			return EBADMSG;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outp = out;
	return 0;
}

void api_form_free(struct api_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* One name[=value] field of n bytes. */
static int field(struct api_form *f, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t nl = eq ? (size_t)(eq - s) : n;
	struct api_field *fl = &f->v[f->n];
	int err;

	if (nl == 0)
		return EBADMSG;
	err = decode(s, nl, &fl->name);
	if (err)
		return err;
	err = eq ? decode(eq + 1, n - nl - 1, &fl->value) : decode("", 0, &fl->value);
	if (err) {
		free(fl->name);
		return err;
	}
	f->n++;
	return 0;
}

int api_form_parse(struct api_form *f, const char *s, size_t len)
{
	size_t pos = 0, nfields = 1;
	int err = 0;

	f->v = NULL;
	f->n = 0;
	if (len > API_FORM_MAX_LEN)
		return E2BIG;
	for (size_t i = 0; i < len; i++)
		nfields += s[i] == '&';
	if (nfields > API_FORM_MAX_FIELDS * 2)
		return E2BIG;	/* even counting empty fields, too many */
	f->v = calloc(nfields, sizeof(*f->v));
	if (!f->v)
		return ENOMEM;
	while (pos < len && !err) {
		const char *amp = memchr(s + pos, '&', len - pos);
		size_t n = amp ? (size_t)(amp - (s + pos)) : len - pos;

		if (n) {
			if (f->n == API_FORM_MAX_FIELDS)
				err = E2BIG;
			else
				err = field(f, s + pos, n);
		}
		pos += n + 1;
	}
	if (err)
		api_form_free(f);
	return err;
}

const char *api_form_get(const struct api_form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value;
	return NULL;
}

size_t api_form_count(const struct api_form *f, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->v[i].name, name) == 0;
	return n;
}
