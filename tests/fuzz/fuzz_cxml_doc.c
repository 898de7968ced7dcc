/* fuzz_cxml_doc.c: libFuzzer target for the cXML document parser and the tree printers */
#include <stddef.h>
#include <stdint.h>
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

static void on_attr(const struct cxml_attr_view *a, void *arg)
{
	(void)arg;
	sink += strlen(a->name) + (a->value ? strlen(a->value) : 0);
}

static void walk_noun(const struct cxml_noun *n)
{
	size_t i;

	cxml_noun_attrs(n, on_attr, NULL);
	if (n->type != CXML_NOUN_SIP)
		return;
	sink += strlen(n->u.sip.uri.target) + strlen(n->u.sip.uri.host);
	for (i = 0; i < n->u.sip.uri.nhdrs; i++)
		sink += strlen(n->u.sip.uri.hdrs[i].name) +
			strlen(n->u.sip.uri.hdrs[i].value);
	for (i = 0; i < n->u.sip.uri.nrefused; i++)
		sink += strlen(n->u.sip.uri.refused[i].name) +
			strlen(n->u.sip.uri.refused[i].value) +
			strlen(n->u.sip.uri.refused[i].reason);
}

static void walk(const struct cxml_verb *v, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		cxml_verb_attrs(&v[i], on_attr, NULL);
		if (v[i].type == CXML_VERB_DIAL)
			for (k = 0; k < v[i].u.dial.nnouns; k++)
				walk_noun(&v[i].u.dial.nouns[k]);
		else if (v[i].type == CXML_VERB_GATHER)
			walk(v[i].u.gather.verbs, v[i].u.gather.nverbs);
		else if (v[i].type == CXML_VERB_REFER && v[i].u.refer.sip)
			walk_noun(v[i].u.refer.sip);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cxml_parser *p;
	struct cxml_diags d = { 0 };
	struct cxml_doc *doc = NULL;
	size_t i;

	/* one parser for the whole run, as the daemon keeps one */
	trap_generic_errors();
	if (!p && cxml_parser_alloc(&p, NULL))
		return 0;
	if (!cxml_parse(p, (const char *)data, size, &doc, &d)) {
		walk(doc->verbs, doc->nverbs);
		cxml_doc_free(doc);
	}
	for (i = 0; i < d.n; i++)
		sink += strlen(d.v[i].msg) + strlen(d.v[i].elem) + strlen(d.v[i].attr);
	cxml_diags_free(&d);
	return 0;
}
