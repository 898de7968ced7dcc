/* locate.c: line and column of an element or attribute, from the raw document bytes */
#include <stdlib.h>
#include <string.h>

#include "cxml/internal.h"

/*
 * libxml2's tree keeps a line per node but no column, and nothing for
 * attributes. The document was well-formed when we get here and has no
 * DTD, so the k-th start tag in the bytes is the k-th element of the tree
 * ('<' cannot appear raw in text or attribute values). Only the error path
 * pays for this.
 */

static bool name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void loc_init(struct loc_table *t, const char *buf, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->buf = buf;
	t->len = len;
}

void loc_fini(struct loc_table *t)
{
	free(t->off);
	free(t->line);
	memset(t, 0, sizeof(*t));
}

/* skip to the end of a "<!--", "<?", "<![CDATA[" or other "<!" construct */
static size_t skip_special(const char *b, size_t len, size_t i, unsigned *line)
{
	const char *end;
	size_t endlen;

	if (len - i >= 4 && !memcmp(b + i, "<!--", 4)) {
		end = "-->";
		endlen = 3;
	} else if (len - i >= 9 && !memcmp(b + i, "<![CDATA[", 9)) {
		end = "]]>";
		endlen = 3;
	} else if (b[i + 1] == '?') {
		end = "?>";
		endlen = 2;
	} else {
		end = ">";
		endlen = 1;
	}
	for (i += 2; i < len; i++) {
		if (b[i] == '\n')
			(*line)++;
		if (len - i >= endlen && !memcmp(b + i, end, endlen))
			return i + endlen;
	}
	return len;
}

static int add(struct loc_table *t, size_t off, unsigned line)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		size_t *o = realloc(t->off, cap * sizeof(*o));
		unsigned *l;

		if (!o)
			return -1;
		t->off = o;
		l = realloc(t->line, cap * sizeof(*l));
		if (!l)
			return -1;
		t->line = l;
		t->cap = cap;
	}
	t->off[t->n] = off;
	t->line[t->n] = line;
	t->n++;
	return 0;
}

static void build(struct loc_table *t)
{
	const char *b = t->buf;
	size_t len = t->len, i = 0;
	unsigned line = 1;
	char q;

	t->built = true;
	while (i < len) {
		if (b[i] == '\n') {
			line++;
			i++;
			continue;
		}
		if (b[i] != '<' || i + 1 >= len) {
			i++;
			continue;
		}
		if (b[i + 1] == '!' || b[i + 1] == '?') {
			i = skip_special(b, len, i, &line);
			continue;
		}
		if (!name_start((unsigned char)b[i + 1])) {
			i++;        /* end tag or stray byte */
			continue;
		}
		if (add(t, i, line)) {
			t->failed = true;
			return;
		}
		/* to the end of the tag; quoted values may hold '>' */
		for (i++, q = 0; i < len; i++) {
			if (b[i] == '\n')
				line++;
			if (q) {
				if (b[i] == q)
					q = 0;
			} else if (b[i] == '"' || b[i] == '\'') {
				q = b[i];
			} else if (b[i] == '>') {
				i++;
				break;
			}
		}
	}
}

/* does the name at p (length n) equal want, ignoring a namespace prefix? */
static bool same_name(const char *p, size_t n, const char *want)
{
	const char *colon = memchr(p, ':', n);
	size_t wl = strlen(want);

	if (colon && !strchr(want, ':')) {
		n -= (size_t)(colon + 1 - p);
		p = colon + 1;
	}
	return n == wl && !memcmp(p, want, n);
}

void loc_find(struct loc_table *t, long ordinal, const char *elem,
	      const char *attr, unsigned *linep, unsigned *colp)
{
	const char *b;
	size_t i, start, pos, n, ls;
	unsigned line;

	if (!t || !t->buf || ordinal < 0)
		return;
	if (!t->built)
		build(t);
	if (t->failed || (size_t)ordinal >= t->n)
		return;
	b = t->buf;
	start = t->off[ordinal];
	line = t->line[ordinal];
	for (i = start + 1; i < t->len && name_char((unsigned char)b[i]); i++)
		;
	if (elem && !same_name(b + start + 1, i - start - 1, elem))
		return;
	pos = start;
	if (attr && *attr) {
		/* walk the attributes of this tag */
		for (;;) {
			while (i < t->len && is_ws((unsigned char)b[i]))
				i++;
			if (i >= t->len || b[i] == '>' || b[i] == '/')
				break;
			n = i;
			while (i < t->len && name_char((unsigned char)b[i]))
				i++;
			if (i == n)
				break;
			if (same_name(b + n, i - n, attr)) {
				pos = n;
				break;
			}
			while (i < t->len && b[i] != '"' && b[i] != '\'')
				i++;
			if (i >= t->len)
				break;
			{
				char q = b[i++];

				while (i < t->len && b[i] != q)
					i++;
				i++;
			}
		}
	}
	for (i = start; i < pos; i++)
		if (b[i] == '\n')
			line++;
	for (ls = pos; ls > 0 && b[ls - 1] != '\n'; ls--)
		;
	*linep = line;
	*colp = (unsigned)(pos - ls + 1);
}
