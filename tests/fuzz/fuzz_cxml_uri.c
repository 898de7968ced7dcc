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

/* What an accepted URI promises the dialer: every header it passes obeys
 * the policy (an allowed name, a value without CR/LF within the limits),
 * and a password never stays in the target (it becomes digest data). */
static void check(const struct cxml_sip_uri *u, const struct cxml_policy *pol)
{
	const char *colon = strchr(u->target, ':'), *at;
	size_t total = 0;

	for (size_t i = 0; i < u->nhdrs; i++) {
		const char *n = u->hdrs[i].name, *v = u->hdrs[i].value;

		if (!*n || cxml_header_name_check(pol, n, NULL) != 0 ||
		    strpbrk(v, "\r\n") || strlen(v) > pol->max_value)
			abort();
		total += strlen(n) + strlen(v) + 4;
	}
	if (total > pol->max_total)
		abort();
	at = colon ? strchr(colon, '@') : NULL;
	if (u->password && at && memchr(colon + 1, ':', (size_t)(at - colon - 1)))
		abort();
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
			use(&doc->verbs[0].u.dial.nouns[0].u.sip.uri);
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
	if (!cxml_sip_uri_parse(s, &pol, &u, &d)) {
		check(u, &pol);
		use(u);
		cxml_sip_uri_free(u);
	}
	cxml_diags_free(&d);
	nl = memchr(s, '\n', size);
	if (nl)
		as_document(s, (size_t)(nl - s), nl + 1, size - (size_t)(nl - s) - 1);
	free(s);
	return 0;
}
