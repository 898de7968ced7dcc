/* attrs.c: generic attribute value types: parse text into typed fields and back */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cxml/internal.h"

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *cxml_trim_ws(const char *s, size_t *len)
{
	size_t n;

	while (is_ws((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && is_ws((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

/* URL attribute: absolute http(s) or relative; no spaces or control bytes */
bool cxml_url_valid(const char *v)
{
	const unsigned char *p;
	const char *colon = strchr(v, ':');
	const char *slash = strchr(v, '/');

	for (p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	if (colon && (!slash || colon < slash)) {
		/* has a scheme: only http and https are fetched */
		if (!strncasecmp(v, "http://", 7))
			return v[7] != '\0' && v[7] != '/';
		if (!strncasecmp(v, "https://", 8))
			return v[8] != '\0' && v[8] != '/';
		return false;
	}
	return *v != '\0';
}

const char *cxml_method_name(enum cxml_method m)
{
	switch (m) {
	case CXML_GET:
		return "GET";
	case CXML_PUT:
		return "PUT";
	default:
		return "POST";
	}
}

static const char *const codec_names[] = {
	"PCMU", "PCMA", "G722", "G729", "OPUS", NULL,
};

const char *cxml_codec_name(enum cxml_codec c)
{
	return (unsigned)c < CXML_CODECS_MAX ? codec_names[c] : "?";
}

/* strict integer: optional sign, digits, nothing else; huge values
 * saturate so that range checks still see "too large" */
bool cxml_parse_int(const char *v, long *out)
{
	const char *p = v;
	bool neg = false;
	long n = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (n < INT_MAX)
			n = n * 10 + (*p - '0');
	}
	*out = neg ? -n : n;
	return true;
}

void attr_bad(struct attr_ctx *c, const struct attr_spec *s,
	      enum cxml_severity sev, int code, const char *v,
	      const char *expect)
{
	char shown[48];
	size_t i, n = 0;

	for (i = 0; v[i] && n + 4 < sizeof(shown); i++)
		shown[n++] = ((unsigned char)v[i] < 0x20 || v[i] == '"') ?
			     '?' : v[i];
	if (v[i]) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	c->at.attr = s->name;
	diag_add(c->d, sev, code, &c->at, "<%s %s=\"%s\">: %s",
		 c->at.elem ? c->at.elem : "", s->name, shown, expect);
	c->at.attr = NULL;
}

static int find_name(const char *const *names, const char *v, size_t n)
{
	int i;

	for (i = 0; names[i]; i++)
		if (*names[i] && strlen(names[i]) == n &&
		    !strncasecmp(names[i], v, n))
			return i;
	return -1;
}

static void expect_list(char *buf, size_t size, const char *lead,
			const char *const *names)
{
	size_t o;
	int i;

	o = (size_t)snprintf(buf, size, "%s", lead);
	for (i = 0; names[i] && o < size; i++) {
		if (!*names[i])
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%s",
				      o > strlen(lead) ? ", " : "", names[i]);
	}
}

const struct attr_spec *attr_find(const struct elem_spec *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->nattrs; i++)
		if (e->attrs[i].name[0] == name[0] && !strcmp(e->attrs[i].name, name))
			return &e->attrs[i];
	return NULL;
}

/* The next word of [*p, e): words are separated by blanks or commas.
 * false at the end. */
static bool next_word(const char **p, const char *e, const char **w,
		      size_t *wlen)
{
	const char *q = *p, *end;

	while (q < e && (is_ws((unsigned char)*q) || *q == ','))
		q++;
	for (end = q; end < e && !is_ws((unsigned char)*end) && *end != ',';
	     end++)
		;
	*p = end;
	*w = q;
	*wlen = (size_t)(end - q);
	return end > q;
}

/* AT_STR, AT_SECRET: as given (the empty string is "not given") */
static int parse_str(struct attr_ctx *c, const struct attr_spec *s,
		     void *field, const char *raw)
{
	char expect[64];

	if (!*raw) {
		*(const char **)field = NULL;
		return 0;
	}
	if (s->hi && strlen(raw) > (size_t)s->hi) {
		snprintf(expect, sizeof(expect), "longer than %d characters",
			 s->hi);
		attr_bad(c, s, CXML_ERROR, s->code ? s->code : 12200, raw,
			 expect);
		return EBADMSG;
	}
	*(const char **)field = arena_strdup(c->a, raw);
	return *(const char **)field ? 0 : ENOMEM;
}

static int parse_url(struct attr_ctx *c, const struct attr_spec *s,
		     void *field, const char *raw, const char *v, size_t n)
{
	if (v[n] != '\0' || !cxml_url_valid(v)) {
		attr_bad(c, s, CXML_ERROR, 11100, raw,
			 "not a valid http(s) or relative URL");
		return EBADMSG;
	}
	*(const char **)field = arena_strndup(c->a, v, n);
	return *(const char **)field ? 0 : ENOMEM;
}

/* AT_METHOD (GET | POST), AT_METHOD_PUT (POST | PUT) */
static int parse_method(struct attr_ctx *c, const struct attr_spec *s,
			void *field, const char *raw, const char *v, size_t n)
{
	bool put = s->type == AT_METHOD_PUT;

	if (n == 4 && !strncasecmp(v, "POST", 4)) {
		*(enum cxml_method *)field = CXML_POST;
	} else if (!put && n == 3 && !strncasecmp(v, "GET", 3)) {
		*(enum cxml_method *)field = CXML_GET;
	} else if (put && n == 3 && !strncasecmp(v, "PUT", 3)) {
		*(enum cxml_method *)field = CXML_PUT;
	} else {
		attr_bad(c, s, CXML_ERROR, 13221, raw,
			 put ? "method must be POST or PUT" :
			       "method must be GET or POST");
		return EBADMSG;
	}
	return 0;
}

static int parse_bool(struct attr_ctx *c, const struct attr_spec *s,
		      void *field, const char *raw, const char *v, size_t n)
{
	if (n == 4 && !strncasecmp(v, "true", 4)) {
		*(bool *)field = true;
	} else if (n == 5 && !strncasecmp(v, "false", 5)) {
		*(bool *)field = false;
	} else {
		attr_bad(c, s, CXML_ERROR, s->code ? s->code : 12200, raw,
			 "must be true or false");
		return EBADMSG;
	}
	return 0;
}

/* AT_INT: lo..hi, an error outside */
static int parse_int_attr(struct attr_ctx *c, const struct attr_spec *s,
			  void *field, const char *raw, const char *v,
			  size_t n)
{
	char tmp[32], expect[64];
	long l;

	if (n >= sizeof(tmp)) {
		memcpy(tmp, v, sizeof(tmp) - 1);
		tmp[sizeof(tmp) - 1] = '\0';
	} else {
		memcpy(tmp, v, n);
		tmp[n] = '\0';
	}
	if (n >= sizeof(tmp) || !cxml_parse_int(tmp, &l) || l < s->lo ||
	    l > s->hi) {
		snprintf(expect, sizeof(expect), "expected an integer %d-%d",
			 s->lo, s->hi);
		attr_bad(c, s, CXML_ERROR, s->code ? s->code : 12200, raw,
			 expect);
		return EBADMSG;
	}
	*(int *)field = (int)l;
	return 0;
}

static int parse_enum(struct attr_ctx *c, const struct attr_spec *s,
		      void *field, const char *raw, const char *v, size_t n)
{
	char expect[200];
	int i = find_name(s->names, v, n);

	if (i < 0) {
		expect_list(expect, sizeof(expect), "expected one of: ",
			    s->names);
		attr_bad(c, s, CXML_ERROR, s->code ? s->code : 12200, raw,
			 expect);
		return EBADMSG;
	}
	*(int *)field = i;
	return 0;
}

/* AT_EVENTS: names[] as bits, separated by blanks or commas */
static int parse_events(struct attr_ctx *c, const struct attr_spec *s,
			void *field, const char *raw, const char *v, size_t n)
{
	const char *p = v, *w;
	char expect[200];
	unsigned bits = 0;
	size_t wl;
	int i;

	while (next_word(&p, v + n, &w, &wl)) {
		i = find_name(s->names, w, wl);
		if (i < 0) {
			expect_list(expect, sizeof(expect),
				    "expected a space-separated list of: ",
				    s->names);
			attr_bad(c, s, CXML_ERROR, s->code ? s->code : 12200,
				 raw, expect);
			return EBADMSG;
		}
		bits |= 1u << i;
	}
	*(unsigned *)field = bits;
	return 0;
}

/* AT_CODECS: the offer order; a repeat is a warning and dropped */
static int parse_codecs(struct attr_ctx *c, const struct attr_spec *s,
			void *field, const char *raw, const char *v, size_t n)
{
	struct cxml_codecs *cl = field, out = { .n = 0 };
	const char *p = v, *w;
	size_t wl;
	unsigned k;
	int i;

	while (next_word(&p, v + n, &w, &wl)) {
		i = find_name(codec_names, w, wl);
		if (i < 0) {
			attr_bad(c, s, CXML_ERROR, 12200, raw,
				 "codecs are a comma list of PCMU, PCMA, G722, G729, OPUS");
			return EBADMSG;
		}
		for (k = 0; k < out.n; k++)
			if (out.v[k] == (enum cxml_codec)i)
				break;
		if (k < out.n)
			attr_bad(c, s, CXML_WARNING, 12200, raw,
				 "a codec is listed twice; the repeat is ignored");
		else
			out.v[out.n++] = (enum cxml_codec)i;
	}
	*cl = out;
	return 0;
}

int attr_parse(struct attr_ctx *c, const struct attr_spec *s, void *elem,
	       const char *raw)
{
	void *field = (char *)elem + s->off;
	const char *v;
	size_t n;

	if (s->fn)
		return s->fn(c, s, field, raw);
	if (s->type == AT_IGNORED) {
		c->at.attr = s->name;
		diag_add(c->d, CXML_WARNING, 12200, &c->at,
			 "<%s %s>: attribute not supported by dialerd, ignored",
			 c->at.elem, s->name);
		c->at.attr = NULL;
		return 0;
	}
	if (s->type == AT_STR || s->type == AT_SECRET)
		return parse_str(c, s, field, raw);
	v = cxml_trim_ws(raw, &n);
	if (!n) {
		attr_bad(c, s, CXML_WARNING, 12200, raw,
			 "empty value ignored, the default applies");
		return 0;
	}
	switch (s->type) {
	case AT_URL:
		return parse_url(c, s, field, raw, v, n);
	case AT_METHOD:
	case AT_METHOD_PUT:
		return parse_method(c, s, field, raw, v, n);
	case AT_BOOL:
		return parse_bool(c, s, field, raw, v, n);
	case AT_INT:
		return parse_int_attr(c, s, field, raw, v, n);
	case AT_ENUM:
		return parse_enum(c, s, field, raw, v, n);
	case AT_EVENTS:
		return parse_events(c, s, field, raw, v, n);
	case AT_CODECS:
		return parse_codecs(c, s, field, raw, v, n);
	default:
		return 0;
	}
}

void attr_format(const struct attr_spec *s, const void *elem, char *buf,
		 size_t size, struct cxml_attr_view *out)
{
	const void *field = (const char *)elem + s->off;
	size_t o = 0;
	unsigned bits, k;
	int i;

	out->name = s->name;
	out->value = NULL;
	out->kind = CXML_ATTR_STR;
	out->secret = s->type == AT_SECRET;
	buf[0] = '\0';
	switch (s->type) {
	case AT_STR:
	case AT_URL:
	case AT_SECRET:
		out->value = *(const char *const *)field;
		break;
	case AT_METHOD:
	case AT_METHOD_PUT:
		out->value = cxml_method_name(*(const enum cxml_method *)field);
		break;
	case AT_BOOL:
		out->kind = CXML_ATTR_BOOL;
		out->value = *(const bool *)field ? "true" : "false";
		break;
	case AT_INT:
		out->kind = CXML_ATTR_INT;
		snprintf(buf, size, "%d", *(const int *)field);
		out->value = buf;
		break;
	case AT_ENUM:
		i = *(const int *)field;
		out->value = *s->names[i] ? s->names[i] : NULL;
		break;
	case AT_EVENTS:
		out->kind = CXML_ATTR_LIST;
		bits = *(const unsigned *)field;
		for (i = 0; s->names[i] && o < size; i++)
			if (bits & (1u << i))
				o += (size_t)snprintf(buf + o, size - o, "%s%s",
						      o ? " " : "", s->names[i]);
		out->value = buf;
		break;
	case AT_CODECS: {
		const struct cxml_codecs *cl = field;

		out->kind = CXML_ATTR_LIST;
		for (k = 0; k < cl->n && o < size; k++)
			o += (size_t)snprintf(buf + o, size - o, "%s%s",
					      o ? "," : "",
					      cxml_codec_name(cl->v[k]));
		out->value = buf;
		break;
	}
	default:
		out->name = NULL;  /* AT_IGNORED: nothing to show */
		break;
	}
}
