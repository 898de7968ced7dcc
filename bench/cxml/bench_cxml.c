/* bench_cxml.c: cXML documents parsed per second on one core (one reused parser) */
/*
 * Rates are given per second of wall time and per second of this thread's
 * CPU time: on a shared machine the second is what "one core" means, the
 * first also counts the time other processes held the core.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "cxml/cxml.h"

static int cmp_double(const void *a, const void *b);

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*lenp = (size_t)n;
	}
	return buf;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_cxml [-r RUNS] [-t SECONDS] [-n MAXDOCS] [-1] FILE.xml\n"
		"  parses FILE RUNS times for at most SECONDS or MAXDOCS each and\n"
		"  prints docs/s per run and the median; -1 uses a new parser per document\n");
}

int main(int argc, char **argv)
{
	struct cxml_parser *p = NULL;
	struct cxml_diags d = { 0 };
	struct cxml_doc *doc = NULL;
	double secs = 1.0, rates[64], cpu_rates[64], t0, c0, t, ct;
	unsigned long maxdocs = 5000000, n;
	int runs = 5, c, r, once = 0, err;
	size_t len;
	char *buf;

	while ((c = getopt(argc, argv, "r:t:n:1h")) != -1) {
		switch (c) {
		case 'r':
			runs = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			maxdocs = strtoul(optarg, NULL, 10);
			break;
		case '1':
			once = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || runs < 1 || runs > 64 || secs <= 0 || secs > 60 ||
	    !maxdocs) {
		usage();
		return 2;
	}
	buf = slurp(argv[optind], &len);
	if (!buf) {
		fprintf(stderr, "bench_cxml: %s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	if (cxml_parser_alloc(&p, NULL))
		return 2;
	/* the input must be a valid document, or we would time the error path */
	err = cxml_parse(p, buf, len, &doc, &d);
	if (err) {
		fprintf(stderr, "bench_cxml: %s is not valid (%s)\n", argv[optind],
			d.n ? d.v[0].msg : strerror(err));
		return 1;
	}
	doc = cxml_doc_free(doc);
	for (r = 0; r < runs; r++) {
		t0 = now();
		c0 = cpu_now();
		for (n = 0; n < maxdocs;) {
			if (once)
				err = cxml_parse_once(buf, len, NULL, &doc, &d);
			else
				err = cxml_parse(p, buf, len, &doc, &d);
			if (err) {
				fprintf(stderr, "bench_cxml: parse failed in run %d\n", r);
				return 1;
			}
			doc = cxml_doc_free(doc);
			cxml_diags_clear(&d);
			if (++n % 1000 == 0 && now() - t0 >= secs)
				break;
		}
		t = now() - t0;
		ct = cpu_now() - c0;
		rates[r] = (double)n / t;
		cpu_rates[r] = (double)n / (ct > 0 ? ct : t);
		printf("run %d: %lu docs in %.3f s wall, %.3f s CPU = %.0f docs/s wall, %.0f docs/CPU-s\n",
		       r + 1, n, t, ct, rates[r], cpu_rates[r]);
	}
	printf("bench_cxml: bytes=%zu runs=%d median_docs_per_s=%.0f median_docs_per_cpu_s=%.0f\n",
	       len, runs, median(rates, runs), median(cpu_rates, runs));
	cxml_diags_free(&d);
	cxml_parser_free(p);
	free(buf);
	xmlCleanupParser();
	return 0;
}
