/* xmlread.c: libxml2 SAX2 into a light node tree: no DOM, no DTD, no entities, nothing printed */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>

#include "cxml/internal.h"

/*
 * Why SAX: building libxml2's DOM and freeing it again was a third of the
 * time for a typical 300-byte document; the light tree lives in a scratch
 * arena that is reset, not freed, between documents.
 *
 * A reused context keeps the names it saw in its dictionary; hostile
 * documents full of made-up names would grow it without end, so the
 * context is replaced once the dictionary passes DICT_MAX names.
 */
#define DICT_MAX 4000
#define CTXT_USES_MAX 100000

struct xreader {
	xmlParserCtxtPtr ctxt;
	unsigned long uses;
	struct cxml_arena *scratch;
};

struct xstate {
	struct cxml_arena *a;
	struct cxml_diags *d;
	const struct cxml_policy *pol;
	struct xnode *root, *cur;
	unsigned depth, nodes;
	long ordinal;
	bool doctype, limit, nomem;
};

/* no NOENT, no DTDLOAD, no HUGE: customer XML must not reach files, the
 * network or unbounded memory (NOBLANKS would do nothing without a DOM:
 * blank text is kept, and the walk ignores it between elements) */
static const int parse_opts = XML_PARSE_NONET | XML_PARSE_NOCDATA |
			      XML_PARSE_COMPACT | XML_PARSE_BIG_LINES;

/* libxml2's message as one line of a diagnostic: trailing blanks cut,
 * inner line breaks and tabs made spaces (some messages span lines:
 * "...UTF-8, indicate encoding !\nBytes: ..."). Returns its length. */
static size_t one_line(char *msg)
{
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t')
			msg[i] = ' ';
	return n;
}

static void on_error(void *ctx, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt ? ctxt->_private : NULL;
	struct diag_at at = { .ordinal = -1 };
	char msg[180];

	if (!st || !e)
		return;
	if (e->code == XML_ERR_USER_STOP && (st->doctype || st->limit || st->nomem))
		return;     /* reported where the parser was stopped */
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "XML error");
	one_line(msg);
	at.line = e->line > 0 ? (unsigned)e->line : 0;
	if (e->level == XML_ERR_WARNING)
		diag_add(st->d, CXML_WARNING, 12200, &at, "XML: %s", msg);
	else
		diag_add(st->d, CXML_ERROR, 12100, &at,
			 "document parse failure: %s", msg);
	if (diag_last(st->d) && e->int2 > 0 && at.line)
		diag_last(st->d)->col = (unsigned)e->int2;
}

static unsigned cur_line(xmlParserCtxtPtr ctxt);

/*
 * A few libxml2 paths (xmlParseChunk's "encoder error") print through the
 * generic error function directly; like the structured one it is per
 * thread, and is pointed here for the duration of a parse.
 */
static void on_generic(void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void on_generic(void *ctx, const char *fmt, ...)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt ? ctxt->_private : NULL;
	struct diag_at at = { .ordinal = -1 };
	char msg[180];
	va_list ap;

	if (!st)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!one_line(msg))
		return;
	at.line = cur_line(ctxt);
	diag_add(st->d, CXML_ERROR, 12100, &at, "document parse failure: %s", msg);
}

static unsigned cur_line(xmlParserCtxtPtr ctxt)
{
	return ctxt->input && ctxt->input->line > 0 ?
	       (unsigned)ctxt->input->line : 0;
}

/* a cap was hit: report once and stop reading */
static void stop(xmlParserCtxtPtr ctxt, struct xstate *st, const char *what,
		 unsigned n)
{
	struct diag_at at = { .ordinal = -1 };

	if (!st->limit) {
		st->limit = true;
		at.line = cur_line(ctxt);
		diag_add(st->d, CXML_ERROR, 12100, &at,
			 "document parse failure: %s %u", what, n);
	}
	xmlStopParser(ctxt);
}

static void out_of_memory(xmlParserCtxtPtr ctxt, struct xstate *st)
{
	if (arena_over(st->a)) {
		/* a document built to eat memory, not a failing malloc */
		stop(ctxt, st, "the document takes more memory than the limit of",
		     (unsigned)(st->pol->max_memory ? st->pol->max_memory
						    : CXML_MEMORY_DEFAULT));
		return;
	}
	st->nomem = true;
	xmlStopParser(ctxt);
}

/* any DOCTYPE: stop before the internal subset (entities) is read */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext,
		       const xmlChar *sys)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt->_private;
	struct diag_at at = { .ordinal = -1 };

	(void)name;
	(void)ext;
	(void)sys;
	if (st && !st->doctype) {
		st->doctype = true;
		at.line = cur_line(ctxt);
		diag_add(st->d, CXML_ERROR, 12100, &at,
			 "document parse failure: a DOCTYPE is not allowed (no DTDs, no entity declarations)");
	}
	xmlStopParser(ctxt);
}

static bool count_node(xmlParserCtxtPtr ctxt, struct xstate *st)
{
	if (++st->nodes > st->pol->max_nodes) {
		stop(ctxt, st, "more nodes than", st->pol->max_nodes);
		return false;
	}
	return true;
}

static void append_child(struct xnode *parent, struct xnode *n)
{
	n->parent = parent;
	if (parent->last)
		parent->last->next = n;
	else
		parent->children = n;
	parent->last = n;
}

/* A node counted against the node cap (and an element against the depth
 * cap), zeroed, in the scratch arena; NULL when a cap or the memory ran
 * out, and the parser is then stopped. */
static struct xnode *new_node(xmlParserCtxtPtr ctxt, struct xstate *st,
			      enum xnode_type type)
{
	struct xnode *n;

	if (!count_node(ctxt, st))
		return NULL;
	if (type == XN_ELEM && ++st->depth > st->pol->max_depth) {
		stop(ctxt, st, "elements nest deeper than", st->pol->max_depth);
		return NULL;
	}
	n = arena_zalloc(st->a, sizeof(*n));
	if (!n) {
		out_of_memory(ctxt, st);
		return NULL;
	}
	n->type = type;
	n->line = cur_line(ctxt);
	n->ordinal = type == XN_ELEM ? st->ordinal++ : -1;
	return n;
}

/*
 * Without entity substitution libxml2 hands '&' inside attribute values
 * over as "&#38;" (the other predefined entities and character references
 * arrive decoded); undo that one.
 */
static const char *attr_dup(struct xstate *st, const xmlChar *v,
			    const xmlChar *end)
{
	size_t n = (size_t)(end - v), i, o = 0;
	char *out = arena_zalloc(st->a, n + 1);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (v[i] == '&' && n - i >= 5 && !memcmp(v + i, "&#38;", 5)) {
			out[o++] = '&';
			i += 4;
		} else {
			out[o++] = (char)v[i];
		}
	}
	out[o] = '\0';
	return out;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		     const xmlChar *uri, int nb_ns, const xmlChar **ns,
		     int nb_attr, int nb_def, const xmlChar **attrs)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt->_private;
	struct xnode *n;
	struct xattr *at, **tail;
	int i;

	(void)uri;
	(void)nb_ns;
	(void)ns;
	(void)nb_def;
	if (!st || st->limit || st->nomem)
		return;
	n = new_node(ctxt, st, XN_ELEM);
	if (!n)
		return;
	n->name = (const char *)localname;   /* dictionary: lives with ctxt */
	n->prefix = (const char *)prefix;
	tail = &n->properties;
	for (i = 0; i < nb_attr; i++) {
		const xmlChar **a = attrs + 5 * i;

		at = arena_zalloc(st->a, sizeof(*at));
		if (!at || !(at->value = attr_dup(st, a[3], a[4]))) {
			out_of_memory(ctxt, st);
			return;
		}
		at->name = (const char *)a[0];
		at->prefix = (const char *)a[1];
		*tail = at;
		tail = &at->next;
	}
	if (st->cur)
		append_child(st->cur, n);
	else if (!st->root)
		st->root = n;
	st->cur = n;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		   const xmlChar *uri)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt->_private;

	(void)localname;
	(void)prefix;
	(void)uri;
	if (!st || st->limit || st->nomem || !st->cur)
		return;
	st->depth--;
	st->cur = st->cur->parent;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xstate *st = ctxt->_private;
	struct xnode *t;
	size_t need;
	char *nc;

	if (!st || st->limit || st->nomem || !st->cur || len <= 0)
		return;
	t = st->cur->last;
	if (!t || t->type != XN_TEXT) {
		t = new_node(ctxt, st, XN_TEXT);
		if (!t)
			return;
		append_child(st->cur, t);
	}
	need = t->len + (size_t)len + 1;
	if (need > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;

		while (cap < need)
			cap *= 2;
		nc = arena_zalloc(st->a, cap);
		if (!nc) {
			out_of_memory(ctxt, st);
			return;
		}
		if (t->len)
			memcpy(nc, t->content, t->len);
		t->content = nc;
		t->cap = cap;
	}
	memcpy(t->content + t->len, ch, (size_t)len);
	t->len += (size_t)len;
	t->content[t->len] = '\0';
}

static int ctxt_new(struct xreader *r)
{
	xmlParserCtxtPtr c = xmlNewParserCtxt();
	xmlSAXHandlerPtr s;

	if (!c)
		return ENOMEM;
	s = c->sax;
	/* keep only what the light tree needs; nothing builds a DOM */
	s->internalSubset = on_doctype;
	s->externalSubset = on_doctype;
	s->isStandalone = NULL;
	s->hasInternalSubset = NULL;
	s->hasExternalSubset = NULL;
	s->resolveEntity = NULL;
	s->getEntity = NULL;
	s->entityDecl = NULL;
	s->notationDecl = NULL;
	s->attributeDecl = NULL;
	s->elementDecl = NULL;
	s->unparsedEntityDecl = NULL;
	s->setDocumentLocator = NULL;
	s->startDocument = NULL;
	s->endDocument = NULL;
	s->startElement = NULL;
	s->endElement = NULL;
	s->reference = NULL;
	s->characters = on_text;
	s->cdataBlock = on_text;
	s->ignorableWhitespace = NULL;
	s->processingInstruction = NULL;
	s->comment = NULL;
	s->warning = NULL;
	s->error = NULL;
	s->fatalError = NULL;
	s->getParameterEntity = NULL;
	s->startElementNs = on_start;
	s->endElementNs = on_end;
	s->serror = on_error;
	c->vctxt.error = NULL;
	c->vctxt.warning = NULL;
	r->ctxt = c;
	r->uses = 0;
	return 0;
}

int xreader_alloc(struct xreader **rp)
{
	struct xreader *r;
	int err;

	xmlInitParser();
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	err = arena_alloc(&r->scratch, ARENA_FIRST_SCRATCH);
	if (!err)
		err = ctxt_new(r);
	if (err) {
		xreader_free(r);
		return err;
	}
	*rp = r;
	return 0;
}

size_t xreader_mem(const struct xreader *r)
{
	return arena_total(r->scratch);
}

struct xreader *xreader_free(struct xreader *r)
{
	if (!r)
		return NULL;
	if (r->ctxt)
		xmlFreeParserCtxt(r->ctxt);
	arena_free(r->scratch);
	free(r);
	return NULL;
}

int xreader_read(struct xreader *r, const char *buf, size_t len,
		 const struct cxml_policy *pol, struct cxml_diags *d,
		 struct xnode **rootp)
{
	struct xstate st;
	struct diag_at at = { .ordinal = -1 };
	xmlStructuredErrorFunc saved_fn;
	xmlGenericErrorFunc saved_gfn;
	void *saved_ctx, *saved_gctx;
	unsigned errors0 = d->nerrors;
	int err;

	if (!r->ctxt || r->uses >= CTXT_USES_MAX ||
	    (r->ctxt->dict && xmlDictSize(r->ctxt->dict) > DICT_MAX)) {
		if (r->ctxt)
			xmlFreeParserCtxt(r->ctxt);
		r->ctxt = NULL;
		err = ctxt_new(r);
		if (err)
			return err;
	}
	r->uses++;
	arena_reset(r->scratch);
	arena_limit(r->scratch, pol->max_memory ? pol->max_memory
						: CXML_MEMORY_DEFAULT);
	memset(&st, 0, sizeof(st));
	st.a = r->scratch;
	st.d = d;
	st.pol = pol;
	/*
	 * Push mode with the whole document as one chunk: the pull reader
	 * (xmlCtxtReadMemory) checks for more input all through a small
	 * document, which cost a fifth of the parse; a progressive context
	 * never does. (libxml2 2.9's static input buffer, which would avoid
	 * the copy, misreads documents past a few hundred bytes.)
	 */
	/*
	 * Encoding conversion and I/O errors are raised without the parser
	 * context and would reach libxml2's default handler, which prints.
	 * The structured handler is per thread in libxml2: route those to
	 * this parse for its duration, then put back whatever was there.
	 */
	saved_fn = xmlStructuredError;
	saved_ctx = xmlStructuredErrorContext;
	saved_gfn = xmlGenericError;
	saved_gctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(r->ctxt, on_error);
	xmlSetGenericErrorFunc(r->ctxt, on_generic);
	if (xmlCtxtResetPush(r->ctxt, buf, (int)len, NULL, NULL)) {
		xmlSetStructuredErrorFunc(saved_ctx, saved_fn);
		xmlSetGenericErrorFunc(saved_gctx, saved_gfn);
		return ENOMEM;
	}
	xmlCtxtUseOptions(r->ctxt, parse_opts);
	r->ctxt->_private = &st;
	xmlParseChunk(r->ctxt, NULL, 0, 1);
	r->ctxt->_private = NULL;
	xmlSetStructuredErrorFunc(saved_ctx, saved_fn);
	xmlSetGenericErrorFunc(saved_gctx, saved_gfn);
	if (st.nomem)
		return ENOMEM;
	if (st.doctype || st.limit || !r->ctxt->wellFormed || !st.root ||
	    d->nerrors != errors0) {
		if (d->nerrors == errors0)
			diag_add(d, CXML_ERROR, 12100, &at, "document parse failure");
		return EBADMSG;
	}
	*rootp = st.root;
	return 0;
}
