/* headers.c: one header name/value through the policy; Plivo-style sipHeaders lists */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cxml/internal.h"
#include "util/hex.h"

#define REFUSED_NAME_MAX 128
#define REFUSED_VALUE_MAX 256
#define NAME_MAX_LEN 128

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

long cxml_pct_decode(char *out, const char *in, size_t n)
{
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (n - i < 3)
			return -1;
		h = util_hexval((unsigned char)in[i + 1]);
		l = util_hexval((unsigned char)in[i + 2]);
		if (h < 0 || l < 0)
			return -1;
		out[o++] = (char)(h << 4 | l);
		i += 2;
	}
	return (long)o;
}

/* printable copy for a diagnostic message */
static const char *printable(char *buf, size_t size, const char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n) {
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o] = '\0';
	return buf;
}

static const char *src_name(enum cxml_hdr_source src)
{
	switch (src) {
	case CXML_HDR_SIP_ATTR:
	case CXML_HDR_DIAL_ATTR:
		return "sipHeaders";
	default:
		return "";
	}
}

/* Appends r to l's refusals; the strings are shared with the source. */
static int keep_refusal(struct cxml_arena *a, struct hdr_list *l,
			const struct cxml_sip_refusal *r)
{
	if (l->nr == l->rcap) {
		size_t cap = l->rcap ? l->rcap * 2 : 4;
		struct cxml_sip_refusal *v = arena_zalloc(a, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		if (l->nr)
			memcpy(v, l->r, l->nr * sizeof(*v));
		l->r = v;
		l->rcap = cap;
	}
	l->r[l->nr++] = *r;
	return 0;
}

/* Appends an accepted header; name and value are the caller's (arena). */
static int keep_header(struct cxml_arena *a, struct hdr_list *l,
		       const char *name, const char *value, size_t wire)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct cxml_sip_header *v = arena_zalloc(a, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = name;
	l->v[l->n].value = value;
	l->n++;
	l->bytes += wire;
	return 0;
}

static int refuse(struct cxml_arena *a, struct hdr_list *l, const char *name,
		  size_t nlen, const char *val, size_t vlen, int code,
		  enum cxml_severity sev, enum cxml_hdr_source src,
		  struct cxml_diags *d, const struct diag_at *at,
		  const char *reason)
{
	struct cxml_sip_refusal r;
	char pn[72];
	struct diag_at at2;
	int err;

	r.truncated = nlen > REFUSED_NAME_MAX || vlen > REFUSED_VALUE_MAX;
	r.name = arena_strndup(a, name, nlen > REFUSED_NAME_MAX ?
			       REFUSED_NAME_MAX : nlen);
	r.value = arena_strndup(a, val, vlen > REFUSED_VALUE_MAX ?
				REFUSED_VALUE_MAX : vlen);
	r.reason = arena_strdup(a, reason);
	if (!r.name || !r.value || !r.reason)
		return ENOMEM;
	r.code = code;
	r.source = src;
	err = keep_refusal(a, l, &r);
	if (err)
		return err;
	if (at) {
		at2 = *at;
		if (src != CXML_HDR_URI)
			at2.attr = src_name(src);
		at = &at2;
	}
	diag_add(d, sev, code, at, "SIP header \"%s\" not sent: %s%s",
		 printable(pn, sizeof(pn), name, nlen), reason,
		 src == CXML_HDR_DIAL_ATTR ? " (from <Dial sipHeaders>)" : "");
	return 0;
}

/*
 * A hostile document can carry thousands of header items in one URI; each
 * refusal becomes a log line and a database row in the daemon, so only
 * the first HDR_ITEMS_MAX are read and the rest are reported as one.
 */
static bool over_items(struct hdr_list *l)
{
	if (l->items++ < HDR_ITEMS_MAX)
		return false;
	l->skipped++;
	return true;
}

int hdr_finish(struct cxml_arena *a, struct hdr_list *l,
	       struct cxml_diags *d, const struct diag_at *at, bool as_error)
{
	char reason[160];

	if (!l->skipped)
		return 0;
	snprintf(reason, sizeof(reason),
		 "%zu more header items after the first %d were not read",
		 l->skipped, HDR_ITEMS_MAX);
	return refuse(a, l, "*", 1, "", 0, 21227,
		      as_error ? CXML_ERROR : CXML_WARNING, CXML_HDR_URI, d, at,
		      reason);
}

int hdr_refuse(struct cxml_arena *a, struct hdr_list *l, const char *name,
	       size_t nlen, const char *val, size_t vlen, int code,
	       enum cxml_hdr_source src, struct cxml_diags *d,
	       const struct diag_at *at, const char *fmt, ...)
{
	char reason[160];
	va_list ap;

	if (over_items(l))
		return 0;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return refuse(a, l, name, nlen, val, vlen, code, CXML_WARNING, src, d,
		      at, reason);
}

/* The name as it would be sent (in cname, NUL-terminated): the policy's
 * class, and with prefix_non_x the X- prefix, checked again. 0, or the
 * refusal code with *why (static, or in reason). */
static int offer_name(const struct cxml_policy *pol, const char *name,
		      size_t nlen, char cname[NAME_MAX_LEN + 3],
		      const char **why, char *reason, size_t rsz)
{
	int code;

	if (nlen > NAME_MAX_LEN) {
		snprintf(reason, rsz, "header name longer than %d bytes",
			 NAME_MAX_LEN);
		*why = reason;
		return 21228;
	}
	if (memchr(name, '\0', nlen)) {
		*why = "header name holds a NUL byte";
		return 21228;
	}
	memcpy(cname, name, nlen);
	cname[nlen] = '\0';
	code = cxml_header_name_check(pol, cname, why);
	if (code)
		return code;
	if (strncasecmp(cname, "X-", 2) &&
	    !cxml_pattern_match(pol->std_allowed, pol->n_std_allowed, cname)) {
		/* prefix_non_x: send "Foo" as "X-Foo", then re-check */
		memmove(cname + 2, cname, nlen + 1);
		cname[0] = 'X';
		cname[1] = '-';
		if (cxml_pattern_match(pol->reserved, pol->n_reserved, cname)) {
			*why = "reserved for headers the platform sets (after the X- prefix)";
			return 32113;
		}
	}
	return 0;
}

/* NULL, or why the value cannot go into a header */
static const char *value_fault(const char *val, size_t vlen)
{
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)val[i];

		if (c == '\r' || c == '\n' || c == '\0')
			return "value holds CR, LF or NUL (header injection)";
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "value holds a control character";
	}
	return NULL;
}

/* Another header of that name is in l (Diversion may repeat). */
static bool duplicate(const struct hdr_list *l, const char *name)
{
	if (!strcasecmp(name, "Diversion"))
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (!strcasecmp(l->v[i].name, name))
			return true;
	return false;
}

int hdr_offer(struct cxml_arena *a, const struct cxml_policy *pol,
	      struct hdr_list *l, const char *name, size_t nlen,
	      const char *val, size_t vlen, enum cxml_hdr_source src,
	      struct cxml_diags *d, const struct diag_at *at, bool *over)
{
	const char *why = NULL, *hname, *hvalue;
	char reason[160];
	char cname[NAME_MAX_LEN + 3];
	size_t wire;
	int code;

	*over = false;
	if (over_items(l))
		return 0;
	/* a refusal records the name as given, not as it would be sent */
	code = offer_name(pol, name, nlen, cname, &why, reason, sizeof(reason));
	if (!code && (why = value_fault(val, vlen)) != NULL)
		code = 21229;
	if (!code && duplicate(l, cname)) {
		why = "duplicate header name; the first one is sent";
		code = 13252;
	}
	if (code)
		return refuse(a, l, name, nlen, val, vlen, code, CXML_WARNING,
			      src, d, at, why);
	wire = strlen(cname) + 2 + vlen + 2;
	if (vlen > pol->max_value || l->bytes + wire > pol->max_total) {
		*over = true;
		if (vlen > pol->max_value)
			snprintf(reason, sizeof(reason),
				 "value is %zu bytes, more than the limit of %zu",
				 vlen, pol->max_value);
		else
			snprintf(reason, sizeof(reason),
				 "headers would take %zu bytes, more than the limit of %zu",
				 l->bytes + wire, pol->max_total);
		return refuse(a, l, name, nlen, val, vlen, 21227,
			      pol->oversize_is_error ? CXML_ERROR : CXML_WARNING,
			      src, d, at, reason);
	}
	hname = arena_strdup(a, cname);
	hvalue = arena_strndup(a, val, vlen);
	if (!hname || !hvalue)
		return ENOMEM;
	return keep_header(a, l, hname, hvalue, wire);
}

int hdr_merge(struct cxml_arena *a, const struct cxml_policy *pol,
	      struct hdr_list *l, const struct hdr_list *from,
	      struct cxml_diags *d, const struct diag_at *at)
{
	char reason[160];
	size_t i, nlen, vlen, wire;
	int err = 0;

	/* what the <Dial> refused stays in its own list (struct cxml_dial):
	 * copied onto every leg it would cost a hostile document memory in
	 * proportion to legs x items */
	if (!l->n) {
		/* nothing before: the <Dial>'s headers are the <Sip>'s, shared
		 * (cap = n, so a later append copies instead of writing
		 * into them) */
		l->v = from->v;
		l->n = l->cap = from->n;
		l->bytes = from->bytes;
		l->items += from->n;
		return 0;
	}
	for (i = 0; i < from->n && !err; i++) {
		const struct cxml_sip_header *h = &from->v[i];

		if (over_items(l))
			continue;
		nlen = strlen(h->name);
		vlen = strlen(h->value);
		wire = nlen + 2 + vlen + 2;
		if (duplicate(l, h->name)) {
			err = refuse(a, l, h->name, nlen, h->value, vlen, 13252,
				     CXML_WARNING, CXML_HDR_DIAL_ATTR, d, at,
				     "duplicate header name; the first one is sent");
		} else if (l->bytes + wire > pol->max_total) {
			snprintf(reason, sizeof(reason),
				 "headers would take %zu bytes, more than the limit of %zu",
				 l->bytes + wire, pol->max_total);
			err = refuse(a, l, h->name, nlen, h->value, vlen, 21227,
				     pol->oversize_is_error ? CXML_ERROR
							    : CXML_WARNING,
				     CXML_HDR_DIAL_ATTR, d, at, reason);
		} else {
			err = keep_header(a, l, h->name, h->value, wire);
		}
	}
	return err;
}

int hdr_parse_plivo(struct cxml_arena *a, const struct cxml_policy *pol,
		    struct hdr_list *l, const char *s, enum cxml_hdr_source src,
		    struct cxml_diags *d, const struct diag_at *at)
{
	const char *item, *end, *eq;
	size_t ilen, nlen;
	char *dec;
	long dlen;
	bool over;
	int err;

	for (item = s; *item; item = *end ? end + 1 : end) {
		end = strchr(item, ',');
		if (!end)
			end = item + strlen(item);
		while (item < end && is_ws((unsigned char)*item))
			item++;
		ilen = (size_t)(end - item);
		while (ilen && is_ws((unsigned char)item[ilen - 1]))
			ilen--;
		if (!ilen)
			continue;
		eq = memchr(item, '=', ilen);
		if (!eq) {
			err = hdr_refuse(a, l, item, ilen, "", 0, 32110, src, d,
					 at, "no '=' between name and value");
			if (err)
				return err;
			continue;
		}
		nlen = (size_t)(eq - item);
		dec = arena_zalloc(a, ilen - nlen);
		if (!dec)
			return ENOMEM;
		dlen = cxml_pct_decode(dec, eq + 1, ilen - nlen - 1);
		if (dlen < 0) {
			err = hdr_refuse(a, l, item, nlen, eq + 1,
					 ilen - nlen - 1, 32110, src, d, at,
					 "bad percent escape in the value");
		} else {
			err = hdr_offer(a, pol, l, item, nlen, dec,
					(size_t)dlen, src, d, at, &over);
		}
		if (err)
			return err;
	}
	return 0;
}
