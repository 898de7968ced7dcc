/* metrics.c: counters and gauges, rendered in the Prometheus text exposition format */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics.h"

/* Upper bounds of histogram buckets, in seconds: HTTP and SIP latencies
 * from a local answer to a timeout. */
static const double bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15,
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct series {
	char *labels;		/* NULL: no labels */
	double value;		/* histograms: the sum */
	unsigned long long *counts;	/* histograms: per bucket, then +Inf */
};

struct family {
	const char *name;
	const char *help;
	enum metrics_type type;
	struct series *series;
	size_t nseries;
};

struct collector {
	metrics_collect_h *h;
	void *arg;
};

static struct family *families;
static size_t nfamilies;
static struct collector *collectors;
static size_t ncollectors;

static struct family *find_family(const char *name)
{
	for (size_t i = 0; i < nfamilies; i++)
		if (strcmp(families[i].name, name) == 0)
			return &families[i];
	return NULL;
}

int metrics_family(const char *name, enum metrics_type type, const char *help)
{
	struct family *f;

	if (find_family(name))
		return 0;
	f = realloc(families, (nfamilies + 1) * sizeof(*f));
	if (!f)
		return ENOMEM;
	families = f;
	f = &families[nfamilies++];
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->help = help;
	f->type = type;
	return 0;
}

static struct series *find_series(struct family *f, const char *labels)
{
	struct series *s;

	for (size_t i = 0; i < f->nseries; i++) {
		s = &f->series[i];
		if ((!s->labels && !labels) ||
		    (s->labels && labels && strcmp(s->labels, labels) == 0))
			return s;
	}
	s = realloc(f->series, (f->nseries + 1) * sizeof(*s));
	if (!s)
		return NULL;
	f->series = s;
	s = &f->series[f->nseries];
	s->value = 0;
	s->labels = NULL;
	s->counts = NULL;
	if (labels && !(s->labels = strdup(labels)))
		return NULL;
	if (f->type == METRICS_HISTOGRAM &&
	    !(s->counts = calloc(NBOUNDS + 1, sizeof(*s->counts)))) {
		free(s->labels);
		return NULL;
	}
	f->nseries++;
	return s;
}

void metrics_add(const char *name, const char *labels, double v)
{
	struct family *f = find_family(name);
	struct series *s;

	if (f && (s = find_series(f, labels)))
		s->value += v;
}

void metrics_set(const char *name, const char *labels, double v)
{
	struct family *f = find_family(name);
	struct series *s;

	if (f && (s = find_series(f, labels)))
		s->value = v;
}

void metrics_observe(const char *name, const char *labels, double v)
{
	struct family *f = find_family(name);
	struct series *s;
	size_t i = 0;

	if (!f || f->type != METRICS_HISTOGRAM || !(s = find_series(f, labels)))
		return;
	while (i < NBOUNDS && v > bounds[i])
		i++;
	s->counts[i]++;
	s->value += v;
}

static const char *type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

/* name_bucket{labels,le="..."} cumulative, then name_sum and name_count */
static void render_histogram(FILE *f, const char *name, const struct series *s)
{
	const char *l = s->labels ? s->labels : "", *comma = s->labels ? "," : "";
	unsigned long long n = 0;

	for (size_t i = 0; i <= NBOUNDS; i++) {
		n += s->counts[i];
		if (i < NBOUNDS)
			fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l,
				comma, bounds[i], n);
		else
			fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l,
				comma, n);
	}
	fprintf(f, "%s_sum%s%s%s %.9g\n%s_count%s%s%s %llu\n", name,
		s->labels ? "{" : "", l, s->labels ? "}" : "", s->value, name,
		s->labels ? "{" : "", l, s->labels ? "}" : "", n);
}

int metrics_collector_add(metrics_collect_h *h, void *arg)
{
	struct collector *c;

	c = realloc(collectors, (ncollectors + 1) * sizeof(*c));
	if (!c)
		return ENOMEM;
	collectors = c;
	collectors[ncollectors].h = h;
	collectors[ncollectors].arg = arg;
	ncollectors++;
	return 0;
}

void metrics_collector_remove(metrics_collect_h *h, void *arg)
{
	for (size_t i = 0; i < ncollectors; i++) {
		if (collectors[i].h != h || collectors[i].arg != arg)
			continue;
		memmove(&collectors[i], &collectors[i + 1],
			(ncollectors - i - 1) * sizeof(*collectors));
		ncollectors--;
		return;
	}
}

void metrics_escape(char *buf, size_t size, const char *value)
{
	size_t n = 0;

	if (!size)
		return;
	for (; *value && n + 2 < size; value++) {
		switch (*value) {
		case '\\':
			buf[n++] = '\\';
			buf[n++] = '\\';
			break;
		case '"':
			buf[n++] = '\\';
			buf[n++] = '"';
			break;
		case '\n':
			buf[n++] = '\\';
			buf[n++] = 'n';
			break;
		default:
			buf[n++] = *value;
		}
	}
	buf[n] = '\0';
}

int metrics_render(char **bufp, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	for (size_t i = 0; i < ncollectors; i++)
		collectors[i].h(collectors[i].arg);
	f = open_memstream(&buf, &len);
	if (!f)
		return ENOMEM;
	for (size_t i = 0; i < nfamilies; i++) {
		const struct family *fam = &families[i];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
			fam->name, type_name(fam->type));
		for (size_t j = 0; j < fam->nseries; j++) {
			const struct series *s = &fam->series[j];

			if (fam->type == METRICS_HISTOGRAM) {
				render_histogram(f, fam->name, s);
				continue;
			}
			fprintf(f, "%s%s%s%s %.15g\n", fam->name,
				s->labels ? "{" : "", s->labels ? s->labels : "",
				s->labels ? "}" : "", s->value);
		}
	}
	if (fclose(f)) {
		free(buf);
		return ENOMEM;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

void metrics_reset(void)
{
	for (size_t i = 0; i < nfamilies; i++) {
		for (size_t j = 0; j < families[i].nseries; j++) {
			free(families[i].series[j].labels);
			free(families[i].series[j].counts);
		}
		free(families[i].series);
	}
	free(families);
	families = NULL;
	nfamilies = 0;
	free(collectors);
	collectors = NULL;
	ncollectors = 0;
}
