/* parse.c: the light XML tree to the typed cXML tree: vocabulary, nesting, values, limits */
/*
 * Why it is built this way:
 * - Two passes. xmlread.c turns the bytes into a light tree with
 *   libxml2's SAX interface (no DOM, no DTD, no entities); this file walks
 *   that tree into the typed one. The typed walk sees whole elements, so
 *   an attribute is checked with its siblings and a noun with its <Dial>.
 * - Strict and never guessing: an unknown verb, attribute or nesting is a
 *   warning or an error with the vendors' code and a line and column,
 *   because the code is what a fallback request reports to the customer.
 * - Bounded: the reader caps bytes, depth and nodes; here nouns past the
 *   limit are not parsed and the document's arena is capped
 *   (cxml_policy.max_memory), so no document of the allowed size can make
 *   the daemon, which parses on its main thread, hold much memory.
 * - One arena per document: the tree is freed in one call and lives on
 *   after the parser that made it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/internal.h"

#define DIAL_NOUNS_MAX 10

struct cxml_parser {
	struct cxml_policy pol;
	struct xreader *xr;
	size_t doc_mem, scratch_mem;  /* of the last document */
};

struct pstate {
	const struct cxml_policy *pol;
	struct cxml_arena *a;
	struct cxml_diags *d;
	struct loc_table loc;
	bool nomem;
};

int cxml_parser_alloc(struct cxml_parser **pp, const struct cxml_policy *pol)
{
	struct cxml_parser *p;
	int err;

	if (!pp)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	if (pol)
		p->pol = *pol;
	else
		cxml_policy_default(&p->pol);
	err = xreader_alloc(&p->xr);
	if (err) {
		free(p);
		return err;
	}
	*pp = p;
	return 0;
}

struct cxml_parser *cxml_parser_free(struct cxml_parser *p)
{
	if (!p)
		return NULL;
	xreader_free(p->xr);
	free(p);
	return NULL;
}

struct cxml_doc *cxml_doc_free(struct cxml_doc *doc)
{
	if (doc)
		arena_free(doc->arena);
	return NULL;
}

/* ---- tree helpers ---- */

static const char *lname(const struct xnode *n)
{
	return n->name;
}

static void at_node(struct pstate *st, struct diag_at *at, const struct xnode *n)
{
	at->elem = lname(n);
	at->attr = NULL;
	at->line = n->line;
	at->ordinal = n->ordinal;
	at->loc = &st->loc;
}

static void warn(struct pstate *st, const struct xnode *n, int code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err_at(struct pstate *st, const struct xnode *n, int code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void warn(struct pstate *st, const struct xnode *n, int code,
		 const char *fmt, ...)
{
	struct diag_at at;
	va_list ap;

	at_node(st, &at, n);
	va_start(ap, fmt);
	diag_vadd(st->d, CXML_WARNING, code, &at, fmt, ap);
	va_end(ap);
}

static void err_at(struct pstate *st, const struct xnode *n, int code,
		   const char *fmt, ...)
{
	struct diag_at at;
	va_list ap;

	at_node(st, &at, n);
	va_start(ap, fmt);
	diag_vadd(st->d, CXML_ERROR, code, &at, fmt, ap);
	va_end(ap);
}

static bool is_text(const struct xnode *n)
{
	return n->type == XN_TEXT;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/* direct text of an element, trimmed, in the arena ("" if none) */
static const char *direct_text(struct pstate *st, const struct xnode *e)
{
	const struct xnode *c;
	size_t total = 0, n, o = 0;
	const char *t;
	char *buf;

	for (c = e->children; c; c = c->next)
		if (is_text(c) && c->content)
			total += strlen((const char *)c->content);
	buf = arena_zalloc(st->a, total + 1);
	if (!buf) {
		st->nomem = true;
		return "";
	}
	for (c = e->children; c; c = c->next)
		if (is_text(c) && c->content) {
			n = strlen((const char *)c->content);
			memcpy(buf + o, c->content, n);
			o += n;
		}
	t = cxml_trim_ws(buf, &n);
	memmove(buf, t, n);
	buf[n] = '\0';
	return buf;
}

/* true if e has text that is not blank; warns about child elements */
static void no_children(struct pstate *st, const struct xnode *e, bool text_ok)
{
	const struct xnode *c;

	for (c = e->children; c; c = c->next) {
		if (c->type == XN_ELEM)
			warn(st, c, 12200, "<%s> inside <%s> is not allowed; ignored",
			     lname(c), lname(e));
		else if (!text_ok && is_text(c) && c->content &&
			 !blank((const char *)c->content))
			warn(st, e, 12200, "text inside <%s> is ignored", lname(e));
	}
}

/*
 * Defaults, then every attribute through the element's table. Unknown
 * attributes are warnings; sipHeaders (Plivo style) is handed back raw.
 */
static void parse_attrs(struct pstate *st, const struct elem_spec *spec,
			const struct xnode *e, void *obj, const char **siphdrs)
{
	struct attr_ctx c = { .a = st->a, .d = st->d };
	const struct attr_spec *s;
	const struct xattr *at;
	const char *v;
	int err;

	if (spec->defaults)
		memcpy(obj, spec->defaults, spec->size);
	at_node(st, &c.at, e);
	for (at = e->properties; at; at = at->next) {
		v = at->value;
		if (at->prefix) {
			c.at.attr = (const char *)at->name;
			diag_add(st->d, CXML_WARNING, 12200, &c.at,
				 "<%s>: unknown attribute %s:%s ignored",
				 lname(e), at->prefix, at->name);
			c.at.attr = NULL;
		} else if (siphdrs && !strcmp((const char *)at->name, "sipHeaders")) {
			*siphdrs = v;	/* read during this parse only */
		} else if ((s = attr_find(spec, (const char *)at->name))) {
			err = attr_parse(&c, s, obj, v);
			if (err == ENOMEM)
				st->nomem = true;
		} else {
			c.at.attr = (const char *)at->name;
			diag_add(st->d, CXML_WARNING, 12200, &c.at,
				 "<%s>: unknown attribute %s ignored",
				 lname(e), (const char *)at->name);
			c.at.attr = NULL;
		}
	}
}

/* ---- nouns ---- */

static const char *const ignored_nouns[] = {
	"Sim", "Verto", "Application", "WhatsApp", NULL,
};

static int noun_type(const char *name)
{
	int i;

	for (i = 0; i < 5; i++)
		if (!strcmp(schema_nouns[i].name, name))
			return i;
	return -1;
}

/* E.164-ish: "+1 (415) 555-1212" -> "+14155551212" */
static const char *normalize_number(struct pstate *st, const char *t)
{
	char *out = arena_zalloc(st->a, strlen(t) + 1);
	size_t o = 0, digits = 0;
	const char *p;

	if (!out) {
		st->nomem = true;
		return NULL;
	}
	for (p = t; *p; p++) {
		if (*p == '+' && o == 0) {
			out[o++] = '+';
		} else if (*p >= '0' && *p <= '9') {
			out[o++] = *p;
			digits++;
		} else if (!strchr(" -().", *p)) {
			return NULL;
		}
	}
	if (!digits || digits > 15)
		return NULL;
	out[o] = '\0';
	return out;
}

/*
 * sip:user:password@host: the password never goes into the Request-URI
 * (uri.c leaves it out of the target); it is taken, with the user, as the
 * digest credentials, unless the <Sip> gives username or password too:
 * two sets of credentials is an error, not a guess.
 */
static bool sip_credentials(struct pstate *st, const struct xnode *e,
			    struct cxml_sip *s)
{
	struct diag_at at;

	if (!s->uri.password)
		return true;
	at_node(st, &at, e);
	if (s->username || s->password) {
		diag_add(st->d, CXML_ERROR, 32110, &at,
			 "SIP URI holds a password and <Sip> has username or "
			 "password attributes: give the credentials once");
		return false;
	}
	if (!cxml_digest_username_ok(s->uri.user)) {
		diag_add(st->d, CXML_ERROR, 32110, &at,
			 "SIP URI user part, used as the digest username, holds "
			 "a '\"', a '\\' or a control character");
		return false;
	}
	s->username = s->uri.user;
	s->password = s->uri.password;
	return true;
}

static bool parse_noun(struct pstate *st, const struct xnode *e, int type,
		       struct cxml_noun *n, const struct hdr_list *dial_hdrs)
{
	const char *text, *sip_hdrs = NULL;
	struct diag_at at;
	int err;

	memset(n, 0, sizeof(*n));
	n->type = (enum cxml_noun_type)type;
	n->line = e->line;
	parse_attrs(st, &schema_nouns[type], e, &n->u,
		    type == CXML_NOUN_SIP ? &sip_hdrs : NULL);
	switch (type) {
	case CXML_NOUN_NUMBER:
		no_children(st, e, true);
		text = direct_text(st, e);
		n->u.number.number = normalize_number(st, text);
		if (!n->u.number.number) {
			err_at(st, e, 13223, "<Number> \"%.40s\" is not a phone number (E.164 expected)",
			       text);
			return false;
		}
		break;
	case CXML_NOUN_SIP:
		no_children(st, e, true);
		text = direct_text(st, e);
		at_node(st, &at, e);
		err = cxml_uri_parse(st->a, st->pol, text, strlen(text), &n->u.sip.uri,
				sip_hdrs, dial_hdrs, st->d, &at);
		if (err == ENOMEM)
			st->nomem = true;
		if (err || !sip_credentials(st, e, &n->u.sip))
			return false;
		break;
	case CXML_NOUN_CLIENT: {
		const struct xnode *c;

		text = direct_text(st, e);
		for (c = e->children; c; c = c->next) {
			if (c->type != XN_ELEM)
				continue;
			if (!strcmp(lname(c), "Identity"))
				text = direct_text(st, c);
			else if (strcmp(lname(c), "Parameter"))
				warn(st, c, 12200, "<%s> inside <Client> is not allowed; ignored",
				     lname(c));
		}
		if (!*text) {
			err_at(st, e, 12200, "<Client> needs an identity");
			return false;
		}
		n->u.client.identity = text;
		break;
	}
	case CXML_NOUN_CONFERENCE:
	case CXML_NOUN_QUEUE:
		no_children(st, e, true);
		text = direct_text(st, e);
		if (!*text) {
			err_at(st, e, 12200, "<%s> needs a name", lname(e));
			return false;
		}
		if (type == CXML_NOUN_CONFERENCE)
			n->u.conference.name = text;
		else
			n->u.queue.name = text;
		break;
	}
	return true;
}

/* <Dial sipHeaders> goes through the policy once, at the <Dial>; each
 * <Sip> then merges the result instead of parsing the text again. */
static const struct hdr_list *dial_headers(struct pstate *st,
					   const struct xnode *e,
					   const char *text,
					   struct hdr_list *l)
{
	struct diag_at at;
	int err;

	if (!text)
		return NULL;
	memset(l, 0, sizeof(*l));
	at_node(st, &at, e);
	err = hdr_parse_plivo(st->a, st->pol, l, text, CXML_HDR_DIAL_ATTR,
			      st->d, &at);
	if (!err)
		err = hdr_finish(st->a, l, st->d, &at, st->pol->oversize_is_error);
	if (err == ENOMEM)
		st->nomem = true;
	return err ? NULL : l;
}

/* Known nouns among e's children, and how many are <Sip>. */
static size_t count_nouns(const struct xnode *e, size_t *nsip)
{
	const struct xnode *c;
	size_t n = 0;
	int t;

	*nsip = 0;
	for (c = e->children; c; c = c->next) {
		if (c->type != XN_ELEM || (t = noun_type(lname(c))) < 0)
			continue;
		n++;
		if (t == CXML_NOUN_SIP)
			++*nsip;
	}
	return n;
}

/* Plain text as the body of <Dial>: one number. */
static size_t dial_text_number(struct pstate *st, const struct xnode *e,
			       const char *text, struct cxml_noun *noun)
{
	const char *num = normalize_number(st, text);

	if (!num) {
		err_at(st, e, 13223, "<Dial> \"%.40s\" is not a phone number (E.164 expected)",
		       text);
		return 0;
	}
	noun->type = CXML_NOUN_NUMBER;
	noun->line = e->line;
	memcpy(&noun->u.number, schema_nouns[CXML_NOUN_NUMBER].defaults,
	       sizeof(struct cxml_number));
	noun->u.number.number = num;
	return 1;
}

/* How many nouns of each kind a <Dial> holds once parsed. */
struct noun_counts {
	size_t n, sip, other, conf;
};

/* Known nouns, reported when past the limit: the document is refused
 * then, and nouns past it are not parsed (nor take memory). */
static size_t check_noun_count(struct pstate *st, const struct xnode *e)
{
	size_t sip, known = count_nouns(e, &sip);

	if (sip > DIAL_NOUNS_MAX)
		err_at(st, e, 12200, "<Dial> has %zu <Sip> nouns; at most %d are allowed",
		       sip, DIAL_NOUNS_MAX);
	else if (known > DIAL_NOUNS_MAX)
		err_at(st, e, 12200, "<Dial> has %zu nouns; at most %d are allowed",
		       known, DIAL_NOUNS_MAX);
	return known < DIAL_NOUNS_MAX ? known : DIAL_NOUNS_MAX;
}

/* The first DIAL_NOUNS_MAX known nouns into nouns[]; the others are
 * warned about and skipped. */
static void dial_nouns(struct pstate *st, const struct xnode *e,
		       struct cxml_noun *nouns, const struct hdr_list *dial_hdrs,
		       struct noun_counts *k)
{
	const struct xnode *c;
	size_t seen = 0;
	int t, i;

	for (c = e->children; c && seen < DIAL_NOUNS_MAX && !st->nomem;
	     c = c->next) {
		if (c->type != XN_ELEM)
			continue;
		t = noun_type(lname(c));
		if (t < 0) {
			for (i = 0; ignored_nouns[i]; i++)
				if (!strcmp(ignored_nouns[i], lname(c)))
					break;
			warn(st, c, 12200, ignored_nouns[i] ?
			     "<%s> is not supported by dialerd; skipped" :
			     "unknown noun <%s> inside <Dial>; skipped", lname(c));
			continue;
		}
		seen++;
		if (!parse_noun(st, c, t, &nouns[k->n], dial_hdrs))
			continue;
		if (t == CXML_NOUN_SIP)
			k->sip++;
		else if (t == CXML_NOUN_CONFERENCE || t == CXML_NOUN_QUEUE)
			k->conf++;
		else
			k->other++;
		k->n++;
	}
}

static void parse_dial(struct pstate *st, const struct xnode *e, struct cxml_dial *dl)
{
	const char *dial_text = NULL, *text;
	const struct hdr_list *dial_hdrs;
	struct hdr_list dial_list;
	struct noun_counts k = { 0 };
	struct cxml_noun *nouns;
	const struct xnode *c;
	bool elems = false;
	size_t room;

	parse_attrs(st, &schema_verbs[ELEM_V_DIAL], e, dl, &dial_text);
	for (c = e->children; c && !elems; c = c->next)
		elems = c->type == XN_ELEM;
	room = check_noun_count(st, e);
	text = direct_text(st, e);
	nouns = arena_zalloc(st->a, (room ? room : 1) * sizeof(*nouns));
	if (!nouns) {
		st->nomem = true;
		return;
	}
	dial_hdrs = dial_headers(st, e, dial_text, &dial_list);
	if (dial_hdrs) {
		dl->refused = dial_list.r;
		dl->nrefused = dial_list.nr;
	}
	dial_nouns(st, e, nouns, dial_hdrs, &k);
	if (*text && elems) {
		warn(st, e, 12200, "text inside <Dial> next to nouns is ignored");
	} else if (*text) {
		k.n = dial_text_number(st, e, text, &nouns[0]);
		k.other = k.n;
	}
	if (k.conf && k.n > 1)
		err_at(st, e, 12200, "<Conference> or <Queue> must be the only noun in its <Dial>");
	else if (k.sip && k.other)
		warn(st, e, 12200, "<Sip> mixed with <Number>/<Client> in one <Dial>; the vendors refuse this");
	if (!k.n && !elems && !*text)
		err_at(st, e, 12200, "<Dial> has nothing to dial");
	dl->nouns = nouns;
	dl->nnouns = k.n;
	dl->nsip = k.sip;
}

/* ---- verbs ---- */

static const char *const ssml_tags[] = {
	"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as",
	"sub", "w", "effect", "domain", NULL,
};

static const char *const ignored_verbs[] = {
	"Connect", "Start", "Stop", "Pay", "Prompt", "Echo", "Sms", "Message",
	"Stream", "Siprec", "Denoise", "Autopilot", "Queue", NULL,
};

static int verb_type(const char *name)
{
	int i;

	for (i = 0; i < ELEM_NVERBS; i++)
		if (!strcmp(schema_verbs[i].name, name))
			return i;
	return -1;
}

/* all descendant text, in document order (depth is capped by the reader) */
static size_t deep_len(const struct xnode *e)
{
	const struct xnode *c;
	size_t n = 0;

	for (c = e->children; c; c = c->next)
		n += c->type == XN_TEXT ? c->len : deep_len(c);
	return n;
}

static size_t deep_copy(const struct xnode *e, char *out)
{
	const struct xnode *c;
	size_t n = 0;

	for (c = e->children; c; c = c->next) {
		if (c->type == XN_TEXT) {
			memcpy(out + n, c->content, c->len);
			n += c->len;
		} else {
			n += deep_copy(c, out + n);
		}
	}
	return n;
}

/* all descendant text of <Say> (SSML flattened) */
static const char *say_text(struct pstate *st, const struct xnode *e)
{
	const struct xnode *c;
	const char *t;
	size_t n;
	char *out;
	int i;

	for (c = e->children; c; c = c->next) {
		if (c->type != XN_ELEM)
			continue;
		for (i = 0; ssml_tags[i]; i++)
			if (!strcmp(ssml_tags[i], lname(c)))
				break;
		if (!ssml_tags[i])
			warn(st, c, 12200, "<%s> inside <Say> is not SSML; its text is spoken",
			     lname(c));
	}
	out = arena_zalloc(st->a, deep_len(e) + 1);
	if (!out) {
		st->nomem = true;
		return "";
	}
	out[deep_copy(e, out)] = '\0';
	t = cxml_trim_ws(out, &n);
	memmove(out, t, n);
	out[n] = '\0';
	return out;
}

static bool parse_verb(struct pstate *st, const struct xnode *e, int type,
		       struct cxml_verb *v, bool nested);

static void parse_gather(struct pstate *st, const struct xnode *e,
			 struct cxml_gather *g)
{
	struct cxml_verb *vs;
	const struct xnode *c;
	size_t cap = 0, n = 0;
	int t;

	for (c = e->children; c; c = c->next)
		if (c->type == XN_ELEM)
			cap++;
	vs = arena_zalloc(st->a, (cap ? cap : 1) * sizeof(*vs));
	if (!vs) {
		st->nomem = true;
		return;
	}
	for (c = e->children; c; c = c->next) {
		if (c->type != XN_ELEM) {
			if (is_text(c) && c->content && !blank((const char *)c->content))
				warn(st, e, 12200, "text inside <Gather> is ignored");
			continue;
		}
		t = verb_type(lname(c));
		if (t != CXML_VERB_SAY && t != CXML_VERB_PLAY &&
		    t != CXML_VERB_PAUSE) {
			warn(st, c, 12200, "<%s> inside <Gather> is not allowed (only Say, Play, Pause); skipped",
			     lname(c));
			continue;
		}
		if (parse_verb(st, c, t, &vs[n], true))
			n++;
	}
	g->verbs = vs;
	g->nverbs = n;
}

static bool parse_play(struct pstate *st, const struct xnode *e,
		       struct cxml_play *p)
{
	const char *text;

	no_children(st, e, true);
	text = direct_text(st, e);
	if (*text && !cxml_url_valid(text)) {
		err_at(st, e, 11100, "<Play> \"%.60s\" is not a valid http(s) or relative URL",
		       text);
		return false;
	}
	p->url = *text ? text : NULL;
	if (!*text && !p->digits) {
		err_at(st, e, 12200, "<Play> needs a URL or digits");
		return false;
	}
	return true;
}

static bool parse_redirect(struct pstate *st, const struct xnode *e,
			   struct cxml_redirect *r)
{
	const char *text;

	no_children(st, e, true);
	text = direct_text(st, e);
	if (!*text) {
		err_at(st, e, 12200, "<Redirect> needs a URL");
		return false;
	}
	if (!cxml_url_valid(text)) {
		err_at(st, e, 11100, "<Redirect> \"%.60s\" is not a valid http(s) or relative URL",
		       text);
		return false;
	}
	r->url = text;
	return true;
}

static bool parse_enqueue(struct pstate *st, const struct xnode *e,
			  struct cxml_enqueue *q)
{
	const struct xnode *c;
	const char *text;

	for (c = e->children; c; c = c->next)
		if (c->type == XN_ELEM && strcmp(lname(c), "Task"))
			warn(st, c, 12200, "<%s> inside <Enqueue> is not allowed; ignored",
			     lname(c));
	text = direct_text(st, e);
	if (!*text && !q->workflow_sid) {
		err_at(st, e, 12200, "<Enqueue> needs a queue name or workflowSid");
		return false;
	}
	q->name = *text ? text : NULL;
	return true;
}

/* <Refer>: exactly one <Sip> */
static bool parse_refer(struct pstate *st, const struct xnode *e,
			struct cxml_refer *r)
{
	const struct xnode *c;
	struct cxml_noun *sip = NULL;

	for (c = e->children; c; c = c->next) {
		if (c->type != XN_ELEM)
			continue;
		if (strcmp(lname(c), "Sip") || sip) {
			warn(st, c, 12200, "<%s> inside <Refer> is not allowed (one <Sip>); ignored",
			     lname(c));
			continue;
		}
		sip = arena_zalloc(st->a, sizeof(*sip));
		if (!sip) {
			st->nomem = true;
			return false;
		}
		if (!parse_noun(st, c, CXML_NOUN_SIP, sip, NULL))
			return false;
	}
	if (!sip) {
		err_at(st, e, 12200, "<Refer> needs a <Sip> target");
		return false;
	}
	r->sip = sip;
	return true;
}

static bool parse_verb(struct pstate *st, const struct xnode *e, int type,
		       struct cxml_verb *v, bool nested)
{
	(void)nested;
	memset(v, 0, sizeof(*v));
	v->type = (enum cxml_verb_type)type;
	v->line = e->line;
	if (type == CXML_VERB_DIAL) {
		parse_dial(st, e, &v->u.dial);
		return true;
	}
	parse_attrs(st, &schema_verbs[type], e, &v->u, NULL);
	switch (type) {
	case CXML_VERB_SAY:
		v->u.say.text = say_text(st, e);
		if (!*v->u.say.text)
			warn(st, e, 12200, "<Say> has no text");
		return true;
	case CXML_VERB_PLAY:
		return parse_play(st, e, &v->u.play);
	case CXML_VERB_GATHER:
		parse_gather(st, e, &v->u.gather);
		return true;
	case CXML_VERB_REDIRECT:
		return parse_redirect(st, e, &v->u.redirect);
	case CXML_VERB_ENQUEUE:
		return parse_enqueue(st, e, &v->u.enqueue);
	case CXML_VERB_REFER:
		return parse_refer(st, e, &v->u.refer);
	default:
		no_children(st, e, false);
		return true;
	}
}

static void parse_response(struct pstate *st, struct xnode *root,
			   struct cxml_doc *doc)
{
	struct cxml_verb *verbs;
	const struct xattr *at;
	struct xnode *c;
	size_t cap = 0, n = 0;
	int t, i;

	for (at = root->properties; at; at = at->next) {
		const char *v = at->value;
		struct diag_at dat;

		at_node(st, &dat, root);
		dat.attr = (const char *)at->name;
		if (!at->prefix && !strcmp(at->name, "version")) {
			if (strcmp(v, "2010-04-01") && strcmp(v, "2008-08-01"))
				diag_add(st->d, CXML_ERROR, 12101, &dat,
					 "<Response version=\"%.20s\">: invalid version (2010-04-01 or 2008-08-01)",
					 v);
		} else {
			diag_add(st->d, CXML_WARNING, 12200, &dat,
				 "<Response>: unknown attribute %s ignored",
				 at->name);
		}
	}
	for (c = root->children; c; c = c->next)
		if (c->type == XN_ELEM)
			cap++;
	verbs = arena_zalloc(st->a, (cap ? cap : 1) * sizeof(*verbs));
	if (!verbs) {
		st->nomem = true;
		return;
	}
	for (c = root->children; c && !st->nomem; c = c->next) {
		if (c->type != XN_ELEM) {
			if (is_text(c) && c->content && !blank((const char *)c->content))
				warn(st, root, 12200, "text outside a verb is ignored");
			continue;
		}
		t = verb_type(lname(c));
		if (t < 0) {
			for (i = 0; ignored_verbs[i]; i++)
				if (!strcmp(ignored_verbs[i], lname(c)))
					break;
			warn(st, c, 12200, ignored_verbs[i] ?
			     "<%s> is not supported by dialerd; skipped" :
			     "unknown verb <%s>; skipped", lname(c));
			continue;
		}
		if (parse_verb(st, c, t, &verbs[n], false))
			n++;
	}
	doc->verbs = verbs;
	doc->nverbs = n;
}

/* The size is checked before libxml2 sees a byte. 0 or EBADMSG. */
static int check_size(const struct cxml_policy *pol, size_t len,
		      struct cxml_diags *d)
{
	struct diag_at at = { .ordinal = -1 };

	if (len > pol->max_doc || len > INT_MAX) {
		diag_add(d, CXML_ERROR, 11750, &at,
			 "document is %zu bytes, more than the limit of %zu",
			 len, pol->max_doc);
		return EBADMSG;
	}
	if (!len) {
		diag_add(d, CXML_ERROR, 12100, &at,
			 "document parse failure: the document is empty");
		return EBADMSG;
	}
	return 0;
}

/* The root is <Response>; the typed tree in the document's arena. */
static int typed_tree(struct pstate *st, struct xnode *root,
		      struct cxml_doc **docp)
{
	struct diag_at at = { .ordinal = -1, .line = root->line };
	struct cxml_doc *doc;

	if (strcmp(lname(root), "Response")) {
		diag_add(st->d, CXML_ERROR, 12100, &at,
			 "document parse failure: the root element must be <Response>, not <%.40s>",
			 lname(root));
		return EBADMSG;
	}
	doc = arena_zalloc(st->a, sizeof(*doc));
	if (!doc)
		return ENOMEM;
	doc->arena = st->a;
	parse_response(st, root, doc);
	*docp = doc;
	return 0;
}

/* What the walk left: out of memory is the document's fault when the
 * arena's cap refused it, ours otherwise; errors make it invalid. */
static int verdict(const struct pstate *st, unsigned errors0)
{
	struct diag_at at = { .ordinal = -1 };

	if (st->nomem && arena_over(st->a)) {
		diag_add(st->d, CXML_ERROR, 12100, &at,
			 "document parse failure: the document takes more memory "
			 "than the limit of %zu bytes", st->pol->max_memory
			 ? st->pol->max_memory : CXML_MEMORY_DEFAULT);
		return EBADMSG;
	}
	if (st->nomem)
		return ENOMEM;
	return st->d->nerrors != errors0 ? EBADMSG : 0;
}

int cxml_parse(struct cxml_parser *p, const char *buf, size_t len,
	       struct cxml_doc **docp, struct cxml_diags *d)
{
	struct pstate st;
	struct cxml_diags local = { 0 };
	struct cxml_doc *doc = NULL;
	struct xnode *root = NULL;
	unsigned errors0;
	int err;

	if (!p || !docp || (!buf && len))
		return EINVAL;
	p->doc_mem = p->scratch_mem = 0;
	if (!d)
		d = &local;     /* the verdict needs the error count */
	memset(&st, 0, sizeof(st));
	st.pol = &p->pol;
	st.d = d;
	errors0 = d->nerrors;
	err = check_size(&p->pol, len, d);
	if (!err)
		err = arena_alloc(&st.a, ARENA_FIRST_DOC);
	if (err)
		goto out;
	arena_limit(st.a, p->pol.max_memory ? p->pol.max_memory
					    : CXML_MEMORY_DEFAULT);
	loc_init(&st.loc, buf, len);
	err = xreader_read(p->xr, buf, len, &p->pol, d, &root);
	p->scratch_mem = xreader_mem(p->xr);
	if (!err)
		err = typed_tree(&st, root, &doc);
	if (!err)
		err = verdict(&st, errors0);
	p->doc_mem = arena_total(st.a);
 out:
	loc_fini(&st.loc);
	if (err)
		arena_free(st.a);
	else
		*docp = doc;
	cxml_diags_free(&local);
	return err;
}

void cxml_parser_mem(const struct cxml_parser *p, size_t *doc,
		     size_t *scratch)
{
	*doc = p->doc_mem;
	*scratch = p->scratch_mem;
}

int cxml_parse_once(const char *buf, size_t len, const struct cxml_policy *pol,
		    struct cxml_doc **docp, struct cxml_diags *d)
{
	struct cxml_parser *p = NULL;
	int err;

	err = cxml_parser_alloc(&p, pol);
	if (err)
		return err;
	err = cxml_parse(p, buf, len, docp, d);
	cxml_parser_free(p);
	return err;
}
