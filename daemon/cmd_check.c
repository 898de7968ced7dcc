/* cmd_check.c: dialerd check: validate a cXML document and print its tree or its errors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/cxml.h"
#include "daemon/commands.h"

/* read at most this much: anything over the policy's limit is refused
 * (11750) by the parser, which needs the true size only to report it */
#define CHECK_READ_MAX (16u << 20)

struct out {
	FILE *f;
	bool json;
	bool first;               /* JSON: no comma before the next member */
};

static int read_all(const char *path, char **bufp, size_t *lenp)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 65536, len = 0, n;
	char *buf, *nb;
	int err = 0;

	if (!f)
		return errno;
	buf = malloc(cap);
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= CHECK_READ_MAX)
				break;
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f))
		err = EIO;
 out:
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* ---- value printing ---- */

/* s double-quoted: '"' and '\' backslashed, CR and LF named (and TAB in
 * JSON), any other control byte as \u00XX (JSON) or \xXX (text) */
static void put_quoted(FILE *f, const char *s, bool json)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p == '\t' && json)
			fputs("\\t", f);
		else if ((*p < 0x20 || *p == 0x7f) && json)
			fprintf(f, "\\u%04x", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_str(FILE *f, const char *s)
{
	if (!s)
		fputs("null", f);
	else
		put_quoted(f, s, true);
}

/* text mode: bare if simple, else double-quoted with C escapes */
static void text_val(FILE *f, const char *s)
{
	const unsigned char *p;
	bool quote = !*s;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
			quote = true;
	if (quote)
		put_quoted(f, s, false);
	else
		fputs(s, f);
}

static void member(struct out *o, const char *name)
{
	if (!o->first)
		fputc(',', o->f);
	o->first = false;
	json_str(o->f, name);
	fputc(':', o->f);
}

/* one key=value: JSON member or text pair */
static void kv_str(struct out *o, const char *k, const char *v)
{
	if (o->json) {
		member(o, k);
		json_str(o->f, v);
	} else if (v) {
		fprintf(o->f, " %s=", k);
		text_val(o->f, v);
	}
}

static void kv_raw(struct out *o, const char *k, const char *v)
{
	if (o->json) {
		member(o, k);
		fputs(v, o->f);
	} else {
		fprintf(o->f, " %s=%s", k, v);
	}
}

static void kv_uint(struct out *o, const char *k, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	kv_raw(o, k, buf);
}

static void on_attr(const struct cxml_attr_view *a, void *arg)
{
	struct out *o = arg;
	const char *v = a->secret && a->value ? "***" : a->value;

	if (!v)
		return;     /* not given, no default: say nothing */
	if (o->json && (a->kind == CXML_ATTR_INT || a->kind == CXML_ATTR_BOOL))
		kv_raw(o, a->name, v);
	else
		kv_str(o, a->name, v);
}

static void attrs_open(struct out *o)
{
	if (o->json) {
		member(o, "attributes");
		fputc('{', o->f);
		o->first = true;
	}
}

static void attrs_close(struct out *o)
{
	if (o->json) {
		fputc('}', o->f);
		o->first = false;
	}
}

static const char *transport_name(enum cxml_transport t)
{
	switch (t) {
	case CXML_TRANSPORT_UDP:
		return "udp";
	case CXML_TRANSPORT_TCP:
		return "tcp";
	case CXML_TRANSPORT_TLS:
		return "tls";
	default:
		return "default";
	}
}

static const char *source_name(enum cxml_hdr_source s)
{
	switch (s) {
	case CXML_HDR_SIP_ATTR:
		return "sip-sipHeaders";
	case CXML_HDR_DIAL_ATTR:
		return "dial-sipHeaders";
	default:
		return "uri";
	}
}

static void indent(struct out *o, int depth)
{
	if (!o->json)
		fprintf(o->f, "%*s", depth * 2, "");
}

/* sipHeaders items not sent: a <Sip>'s, or those refused at the <Dial> */
static void print_refused(struct out *o, const struct cxml_sip_refusal *r,
			  size_t n, int depth)
{
	size_t i;

	if (o->json) {
		member(o, "refused");
		fputc('[', o->f);
		for (i = 0; i < n; i++) {
			fputs(i ? ",{" : "{", o->f);
			o->first = true;
			kv_str(o, "name", r[i].name);
			kv_str(o, "value", r[i].value);
			kv_raw(o, "truncated", r[i].truncated ? "true" : "false");
			kv_uint(o, "code", (unsigned long)r[i].code);
			kv_str(o, "reason", r[i].reason);
			kv_str(o, "source", source_name(r[i].source));
			fputc('}', o->f);
		}
		fputc(']', o->f);
		o->first = false;
		return;
	}
	for (i = 0; i < n; i++) {
		indent(o, depth);
		fputs("refused ", o->f);
		text_val(o->f, r[i].name);
		fputs(": ", o->f);
		text_val(o->f, r[i].value);
		fprintf(o->f, "%s (%d, %s: %s)\n", r[i].truncated ? "..." : "",
			r[i].code, source_name(r[i].source), r[i].reason);
	}
}

static void print_uri_lists(struct out *o, const struct cxml_sip_uri *u,
			    int depth)
{
	size_t i;

	if (o->json) {
		member(o, "headers");
		fputc('[', o->f);
		for (i = 0; i < u->nhdrs; i++) {
			fputs(i ? ",{" : "{", o->f);
			o->first = true;
			kv_str(o, "name", u->hdrs[i].name);
			kv_str(o, "value", u->hdrs[i].value);
			fputc('}', o->f);
		}
		fputc(']', o->f);
		o->first = false;
	} else {
		for (i = 0; i < u->nhdrs; i++) {
			indent(o, depth);
			fputs("header ", o->f);
			text_val(o->f, u->hdrs[i].name);
			fputs(": ", o->f);
			text_val(o->f, u->hdrs[i].value);
			fputc('\n', o->f);
		}
	}
	print_refused(o, u->refused, u->nrefused, depth);
}

static void print_noun(struct out *o, const struct cxml_noun *n, int depth,
		       bool inside_parsed_only)
{
	const struct cxml_sip_uri *u = &n->u.sip.uri;
	bool executed = cxml_noun_executed(n->type) && !inside_parsed_only;

	indent(o, depth);
	if (o->json) {
		fputc('{', o->f);
		o->first = true;
		kv_str(o, "noun", cxml_noun_name(n->type));
		kv_uint(o, "line", n->line);
		kv_raw(o, "executed", executed ? "true" : "false");
	} else {
		fputs(cxml_noun_name(n->type), o->f);
		if (!executed)
			fputs(" (parsed only)", o->f);
	}
	switch (n->type) {
	case CXML_NOUN_NUMBER:
		kv_str(o, "number", n->u.number.number);
		break;
	case CXML_NOUN_SIP:
		kv_str(o, "target", u->target);
		kv_str(o, "user", u->user);
		kv_str(o, "host", u->host);
		if (u->port)
			kv_uint(o, "port", u->port);
		kv_str(o, "transport", transport_name(u->transport));
		kv_raw(o, "srtp", u->srtp ? "true" : "false");
		break;
	case CXML_NOUN_CLIENT:
		kv_str(o, "identity", n->u.client.identity);
		break;
	case CXML_NOUN_CONFERENCE:
		kv_str(o, "name", n->u.conference.name);
		break;
	case CXML_NOUN_QUEUE:
		kv_str(o, "name", n->u.queue.name);
		break;
	}
	attrs_open(o);
	cxml_noun_attrs(n, on_attr, o);
	attrs_close(o);
	if (n->type == CXML_NOUN_SIP) {
		if (!o->json)
			fputc('\n', o->f);
		print_uri_lists(o, u, depth + 1);
	}
	if (o->json)
		fputc('}', o->f);
	else if (n->type != CXML_NOUN_SIP)
		fputc('\n', o->f);
}

static void print_verbs(struct out *o, const struct cxml_verb *v, size_t n,
			int depth, bool inside_parsed_only);

/* an element inside a parsed-only one is not executed either */
static void print_verb(struct out *o, const struct cxml_verb *v, int depth,
		       bool inside_parsed_only)
{
	bool executed = cxml_verb_executed(v->type) && !inside_parsed_only;
	size_t i;

	indent(o, depth);
	if (o->json) {
		fputc('{', o->f);
		o->first = true;
		kv_str(o, "verb", cxml_verb_name(v->type));
		kv_uint(o, "line", v->line);
		kv_raw(o, "executed", executed ? "true" : "false");
	} else {
		fputs(cxml_verb_name(v->type), o->f);
		if (!executed)
			fputs(" (parsed only)", o->f);
	}
	switch (v->type) {
	case CXML_VERB_SAY:
		kv_str(o, "text", v->u.say.text);
		break;
	case CXML_VERB_PLAY:
		kv_str(o, "url", v->u.play.url);
		break;
	case CXML_VERB_REDIRECT:
		kv_str(o, "url", v->u.redirect.url);
		break;
	case CXML_VERB_ENQUEUE:
		kv_str(o, "name", v->u.enqueue.name);
		break;
	default:
		break;
	}
	attrs_open(o);
	cxml_verb_attrs(v, on_attr, o);
	attrs_close(o);
	if (!o->json)
		fputc('\n', o->f);
	if (v->type == CXML_VERB_DIAL) {
		print_refused(o, v->u.dial.refused, v->u.dial.nrefused,
			      depth + 1);
		if (o->json) {
			member(o, "nouns");
			fputc('[', o->f);
		}
		for (i = 0; i < v->u.dial.nnouns; i++) {
			if (o->json && i)
				fputc(',', o->f);
			print_noun(o, &v->u.dial.nouns[i], depth + 1, !executed);
		}
		if (o->json) {
			fputc(']', o->f);
			o->first = false;
		}
	} else if (v->type == CXML_VERB_GATHER) {
		if (o->json)
			member(o, "verbs");
		print_verbs(o, v->u.gather.verbs, v->u.gather.nverbs, depth + 1,
			    !executed);
	} else if (v->type == CXML_VERB_REFER && v->u.refer.sip) {
		if (o->json)
			member(o, "sip");
		print_noun(o, v->u.refer.sip, depth + 1, !executed);
	}
	if (o->json) {
		fputc('}', o->f);
		o->first = false;
	}
}

static void print_verbs(struct out *o, const struct cxml_verb *v, size_t n,
			int depth, bool inside_parsed_only)
{
	size_t i;

	if (o->json)
		fputc('[', o->f);
	for (i = 0; i < n; i++) {
		if (o->json && i)
			fputc(',', o->f);
		print_verb(o, &v[i], depth, inside_parsed_only);
	}
	if (o->json) {
		fputc(']', o->f);
		o->first = false;
	}
}

static void print_diags(struct out *o, const struct cxml_diags *d)
{
	size_t i;

	if (o->json) {
		member(o, "diagnostics");
		fputc('[', o->f);
	}
	for (i = 0; i < d->n; i++) {
		const struct cxml_diag *g = &d->v[i];
		const char *sev = g->sev == CXML_ERROR ? "error" : "warning";

		if (o->json) {
			fputs(i ? ",{" : "{", o->f);
			o->first = true;
			kv_str(o, "severity", sev);
			kv_uint(o, "code", (unsigned long)g->code);
			kv_uint(o, "line", g->line);
			kv_uint(o, "col", g->col);
			kv_str(o, "element", g->elem);
			kv_str(o, "attribute", g->attr);
			kv_str(o, "message", g->msg);
			fputc('}', o->f);
			continue;
		}
		fprintf(o->f, "%u:%u: %s %d: %s\n", g->line, g->col, sev,
			g->code, g->msg);
	}
	if (o->json) {
		fputc(']', o->f);
		o->first = false;
		member(o, "errors");
		fprintf(o->f, "%u", d->nerrors);
		member(o, "warnings");
		fprintf(o->f, "%u", d->nwarnings);
	} else if (d->dropped) {
		fprintf(o->f, "(%u more diagnostics not shown)\n", d->dropped);
	}
}

static void usage(FILE *f)
{
	fputs("usage: dialerd check [--json] FILE.xml|-\n"
	      "  prints the parsed cXML tree and warnings, or the errors;\n"
	      "  exit 0 valid, 1 invalid, 2 usage or I/O error\n", f);
}

int cmd_check(int argc, char **argv)
{
	struct out o = { .f = stdout, .first = true };
	struct cxml_diags d = { 0 };
	struct cxml_doc *doc = NULL;
	const char *path = NULL;
	char *buf = NULL;
	size_t len = 0;
	int i, err, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "dialerd check: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		} else if (path) {
			fprintf(stderr, "dialerd check: one document at a time\n");
			usage(stderr);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	err = read_all(path, &buf, &len);
	if (err) {
		fprintf(stderr, "dialerd check: %s: %s\n",
			strcmp(path, "-") ? path : "stdin", strerror(err));
		return 2;
	}
	err = cxml_parse_once(buf, len, NULL, &doc, &d);
	if (err && err != EBADMSG) {
		fprintf(stderr, "dialerd check: %s\n", strerror(err));
		rc = 2;
		goto out;
	}
	rc = err ? 1 : 0;
	if (o.json) {
		fputc('{', o.f);
		kv_raw(&o, "valid", rc ? "false" : "true");
		if (doc) {
			member(&o, "verbs");
			print_verbs(&o, doc->verbs, doc->nverbs, 0, false);
		}
		print_diags(&o, &d);
		fputs("}\n", o.f);
	} else {
		if (doc) {
			fputs("Response\n", o.f);
			print_verbs(&o, doc->verbs, doc->nverbs, 1, false);
		}
		print_diags(&o, &d);
		if (rc)
			fprintf(o.f, "invalid: %u error%s, %u warning%s\n",
				d.nerrors, d.nerrors == 1 ? "" : "s",
				d.nwarnings, d.nwarnings == 1 ? "" : "s");
		else
			fprintf(o.f, "valid: %u warning%s\n", d.nwarnings,
				d.nwarnings == 1 ? "" : "s");
	}
	if (fflush(o.f) || ferror(o.f))
		rc = 2;
 out:
	cxml_doc_free(doc);
	cxml_diags_free(&d);
	free(buf);
	return rc;
}
