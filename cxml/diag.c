/* diag.c: the caller-owned list of errors and warnings */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/internal.h"

void cxml_diags_clear(struct cxml_diags *d)
{
	if (!d)
		return;
	d->n = 0;
	d->nerrors = d->nwarnings = d->dropped = 0;
}

void cxml_diags_free(struct cxml_diags *d)
{
	if (!d)
		return;
	free(d->v);
	memset(d, 0, sizeof(*d));
}

const struct cxml_diag *cxml_diags_first_error(const struct cxml_diags *d)
{
	size_t i;

	if (!d)
		return NULL;
	for (i = 0; i < d->n; i++)
		if (d->v[i].sev == CXML_ERROR)
			return &d->v[i];
	return NULL;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void diag_vadd(struct cxml_diags *d, enum cxml_severity sev, int code,
	       const struct diag_at *at, const char *fmt, va_list ap)
{
	struct cxml_diag *g;

	if (!d)
		return;
	if (sev == CXML_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n >= CXML_DIAGS_MAX) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		/* allocation failure loses the entry but keeps the counts */
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct cxml_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->dropped++;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	g = &d->v[d->n++];
	g->code = code;
	g->sev = sev;
	g->line = at ? at->line : 0;
	g->col = 0;
	copy_name(g->elem, sizeof(g->elem), at ? at->elem : NULL);
	copy_name(g->attr, sizeof(g->attr), at ? at->attr : NULL);
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
	if (at && at->loc && at->ordinal >= 0)
		loc_find(at->loc, at->ordinal, at->elem, at->attr, &g->line,
			 &g->col);
}

void diag_add(struct cxml_diags *d, enum cxml_severity sev, int code,
	      const struct diag_at *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, sev, code, at, fmt, ap);
	va_end(ap);
}

struct cxml_diag *diag_last(struct cxml_diags *d)
{
	return d && d->n ? &d->v[d->n - 1] : NULL;
}
