/* call_params.c: the parameters of webhook requests about a call (pure)
 *
 * Applications read these names with the vendors' helper libraries, so
 * they are spelled as Twilio and SignalWire spell them; a name never
 * appears twice, because the validators disagree on repeated names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/call.h"
#include "store/store.h"

void call_params_init(struct call_params *p)
{
	memset(p, 0, sizeof(*p));
}

void call_params_free(struct call_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free((char *)p->v[i].name);
		free((char *)p->v[i].value);
	}
	call_params_init(p);
}

static bool has(const struct call_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return true;
	return false;
}

void call_params_add(struct call_params *p, const char *name, const char *value)
{
	char *n, *v;

	if (!name || !value || has(p, name))
		return;
	if (p->n == CALL_PARAMS_MAX) {
		p->full = true;
		return;
	}
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		p->full = true;
		return;
	}
	p->v[p->n].name = n;
	p->v[p->n++].value = v;
}

void call_params_append(struct call_params *p, const struct call_params *src)
{
	for (size_t i = 0; src && i < src->n; i++)
		call_params_add(p, src->v[i].name, src->v[i].value);
}

void call_params_addf(struct call_params *p, const char *name,
		      const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	call_params_add(p, name, buf);
}

void call_params_sip_headers(struct call_params *p, const char *prefix,
			     const char *const *names, const char *const *values,
			     size_t n)
{
	char key[160];

	for (size_t i = 0; i < n; i++) {
		if (!store_header_is_policy(names[i], strlen(names[i])))
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
		call_params_add(p, key, values[i]);
	}
}

/* Skips a quoted display name; NULL when it never closes. */
static const char *after_quoted(const char *s)
{
	for (s++; *s && *s != '"'; s++)
		if (*s == '\\' && s[1])
			s++;
	return *s ? s + 1 : NULL;
}

void call_params_uri(const char *hdr, char *out, size_t size)
{
	const char *s = hdr, *lt = NULL, *end;

	out[0] = '\0';
	if (!hdr || !size)
		return;
	while (*s == ' ' || *s == '\t')
		s++;
	for (const char *q = s; *q; q++) {
		if (*q == '"') {
			q = after_quoted(q);
			if (!q)
				return;
			q--;
		} else if (*q == '<') {
			lt = q;
			break;
		}
	}
	if (lt) {
		/* name-addr: the URI is inside <> with its own parameters */
		end = strchr(lt + 1, '>');
		if (!end)
			return;
		s = lt + 1;
	} else {
		/* addr-spec: every ;param belongs to the header (RFC 3261
		 * §20.10), so the URI ends at the first ; */
		end = s + strcspn(s, "; \t");
	}
	snprintf(out, size, "%.*s", (int)(end - s), s);
}

void call_params_display(const char *hdr, char *out, size_t size)
{
	const char *s = hdr, *lt;
	size_t o = 0;

	if (!size)
		return;
	out[0] = '\0';
	if (!hdr)
		return;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"') {
		for (s++; *s && *s != '"' && o + 1 < size; s++) {
			if (*s == '\\' && s[1])
				s++;
			out[o++] = *s;
		}
		out[o] = '\0';
		return;
	}
	lt = strchr(s, '<');
	if (!lt)
		return;
	while (lt > s && (lt[-1] == ' ' || lt[-1] == '\t'))
		lt--;
	snprintf(out, size, "%.*s", (int)(lt - s), s);
}

void call_params_time(int64_t us, char *out, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

unsigned call_cb_events(const char *list, const char **bad, size_t *badlen)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ev[] = {
		{"initiated", CALL_CB_INITIATED}, {"ringing", CALL_CB_RINGING},
		{"answered", CALL_CB_ANSWERED}, {"completed", CALL_CB_COMPLETED},
	};
	unsigned bits = 0;

	if (bad)
		*bad = NULL;
	while (list && *list) {
		size_t n = strcspn(list, " ,"), e;

		for (e = 0; e < sizeof(ev) / sizeof(ev[0]); e++)
			if (n && strlen(ev[e].name) == n &&
			    strncmp(list, ev[e].name, n) == 0)
				break;
		if (n && e < sizeof(ev) / sizeof(ev[0]))
			bits |= ev[e].bit;
		else if (n && bad && !*bad) {
			*bad = list;
			*badlen = n;
		}
		list += n;
		list += strspn(list, " ,");
	}
	return bits;
}
