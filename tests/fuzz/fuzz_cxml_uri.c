/* fuzz_cxml_uri.c: libFuzzer target for sip: URIs, the header policy and Plivo-style sipHeaders */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlerror.h>

#include "cxml/cxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cxml must route every libxml2 message into its diagnostics: anything
 * reaching libxml2's generic (printing) handler is a bug, so crash on it */
static void generic_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
	__builtin_trap();
}

static void trap_generic_errors(void)
{
	static int done;

	if (!done) {
		done = 1;
		xmlSetGenericErrorFunc(NULL, generic_error);
	}
}

static size_t sink;

/* RFC 3261 token characters */
static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-.!%*_+`'~", *s)))
			return 0;
	return 1;
}

/* Every header the parser accepts obeys the policy it was given: a token
 * name the policy allows, a value without CR, LF (or NUL: it is a C string
 * of the length the sizes count), each value and the sum within the
 * limits; a URI password never in the target. A breach aborts. */
static void check_policy(const struct cxml_sip_uri *u, const struct cxml_policy *pol)
{
	const char *colon, *at;
	size_t i, total = 0;

	for (i = 0; i < u->nhdrs; i++) {
		const char *n = u->hdrs[i].name, *v = u->hdrs[i].value;

		if (!is_token(n) || cxml_header_name_check(pol, n, NULL) != 0 ||
		    strpbrk(v, "\r\n") || strlen(v) > pol->max_value)
			__builtin_trap();
		total += strlen(n) + 2 + strlen(v) + 2;
	}
	if (total != u->hdr_bytes || total > pol->max_total)
		__builtin_trap();
	/* the password became digest data: no user:password@ in the target */
	colon = strchr(u->target, ':');
	at = colon ? strchr(colon, '@') : NULL;
	if (u->password && at && memchr(colon + 1, ':', (size_t)(at - colon - 1)))
		__builtin_trap();
}

static void use(const struct cxml_sip_uri *u)
{
	size_t i;

	sink += strlen(u->target) + strlen(u->user) + strlen(u->host);
	for (i = 0; i < u->nhdrs; i++)
		sink += strlen(u->hdrs[i].name) + strlen(u->hdrs[i].value);
	for (i = 0; i < u->nrefused; i++)
		sink += strlen(u->refused[i].name) + strlen(u->refused[i].value) +
			strlen(u->refused[i].reason);
}

static struct cxml_policy pol_default;

/* "URI\nHEADERS": HEADERS becomes <Sip sipHeaders="..."> in a document */
static void as_document(const char *uri, size_t ulen, const char *hdrs, size_t hlen)
{
	struct cxml_diags d = { 0 };
	struct cxml_doc *doc = NULL;
	size_t cap = 128 + 6 * (ulen + hlen), o = 0, i;
	char *x = malloc(cap);

	if (!x)
		return;
	o += (size_t)snprintf(x, cap, "<Response><Dial><Sip sipHeaders=\"");
	for (i = 0; i < hlen; i++) {
		const char *esc = hdrs[i] == '"' ? "&quot;" : hdrs[i] == '&' ? "&amp;" :
				  hdrs[i] == '<' ? "&lt;" : NULL;

		if (esc) {
			memcpy(x + o, esc, strlen(esc));
			o += strlen(esc);
		} else {
			x[o++] = hdrs[i];
		}
	}
	o += (size_t)snprintf(x + o, cap - o, "\">");
	for (i = 0; i < ulen; i++) {
		const char *esc = uri[i] == '&' ? "&amp;" : uri[i] == '<' ? "&lt;" : NULL;

		if (esc) {
			memcpy(x + o, esc, strlen(esc));
			o += strlen(esc);
		} else {
			x[o++] = uri[i];
		}
	}
	o += (size_t)snprintf(x + o, cap - o, "</Sip></Dial></Response>");
	if (!cxml_parse_once(x, o, NULL, &doc, &d)) {
		if (doc->nverbs && doc->verbs[0].u.dial.nnouns &&
		    doc->verbs[0].u.dial.nouns[0].type == CXML_NOUN_SIP)
		{
			use(&doc->verbs[0].u.dial.nouns[0].u.sip.uri);
			check_policy(&doc->verbs[0].u.dial.nouns[0].u.sip.uri, &pol_default);
		}
		cxml_doc_free(doc);
	}
	cxml_diags_free(&d);
	free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cxml_policy pol;
	struct cxml_diags d = { 0 };
	struct cxml_sip_uri *u = NULL;
	const char *nl;
	char *s;

	trap_generic_errors();
	if (size > 20000)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* vary the policy with the input: small limits reach the size paths */
	cxml_policy_default(&pol);
	if (size && (data[0] & 1)) {
		pol.prefix_non_x = true;
		pol.oversize_is_error = true;
		pol.max_value = 16;
		pol.max_total = 64;
	}
	cxml_policy_default(&pol_default);
	if (!cxml_sip_uri_parse(s, &pol, &u, &d)) {
		use(u);
		check_policy(u, &pol);
		cxml_sip_uri_free(u);
	}
	cxml_diags_free(&d);
	nl = memchr(s, '\n', size);
	if (nl)
		as_document(s, (size_t)(nl - s), nl + 1, size - (size_t)(nl - s) - 1);
	free(s);
	return 0;
}
