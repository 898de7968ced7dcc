/* bench_sign.c: nanoseconds per request signature and per URL resolution
 *
 *   bench_sign [--iterations N] [--runs R]
 *       R runs (default 7) of N calls each (default 100000) of:
 *         sign        webhook_sign of a status callback (15 parameters,
 *                     a 32-digit token, POST form)
 *         resolve     webhook_url_resolve(NULL, URL) of an absolute URL as
 *                     a previous resolution printed it (every fetch)
 *         resolve-rel webhook_url_resolve(document URL, "next.xml")
 *       and prints, per case, the median ns per call and the spread.
 *   One thread, no I/O; bounded by N * R calls per case.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/webhook.h"

#define MAX_RUNS 50
#define MAX_ITER 10000000L

static const struct webhook_param params[] = {
	{"AccountSid", "AC0123456789abcdef0123456789abcdef"},
	{"ApiVersion", "2010-04-01"},
	{"CallSid", "CA0123456789abcdef0123456789abcdef"},
	{"CallStatus", "completed"},
	{"Called", "+15005550006"},
	{"Caller", "+15005550001"},
	{"Direction", "outbound-api"},
	{"From", "+15005550001"},
	{"To", "+15005550006"},
	{"Timestamp", "Sat, 05 Dec 2026 21:00:00 +0000"},
	{"CallbackSource", "call-progress-events"},
	{"SequenceNumber", "3"},
	{"CallDuration", "12"},
	{"Duration", "1"},
	{"SipResponseCode", "200"},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const char *token = "0123456789abcdef0123456789abcdef";
static const char *abs_url = "https://app.example.com:8443/dialer/status?account=AC01";
static const char *doc_url = "https://app.example.com/dialer/voice.xml";

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per call of one case, one run; -1 when a call failed */
static double run(int which, long n)
{
	char sig[WEBHOOK_SIG_SIZE], *out;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		int err;

		switch (which) {
		case 0:
			err = webhook_sign(token, abs_url, params, NPARAMS, true, sig);
			break;
		case 1:
			err = webhook_url_resolve(NULL, abs_url, &out);
			if (!err)
				free(out);
			break;
		default:
			err = webhook_url_resolve(doc_url, "next.xml", &out);
			if (!err)
				free(out);
			break;
		}
		if (err)
			return -1;
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	static const char *names[] = {"sign", "resolve", "resolve-rel"};
	static const struct option opts[] = {
		{"iterations", required_argument, NULL, 'n'},
		{"runs", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	double t[MAX_RUNS];
	long n = 100000;
	int runs = 7, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_sign [--iterations N] [--runs R]\n");
			return 2;
		}
	}
	if (n < 1 || n > MAX_ITER || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "bench_sign: 1 <= N <= %ld, 1 <= R <= %d\n",
			MAX_ITER, MAX_RUNS);
		return 2;
	}
	for (int w = 0; w < 3; w++) {
		run(w, n / 10 + 1);	/* warm up: first key, caches */
		for (int r = 0; r < runs; r++) {
			t[r] = run(w, n);
			if (t[r] < 0) {
				fprintf(stderr, "bench_sign: %s failed\n", names[w]);
				return 1;
			}
		}
		qsort(t, (size_t)runs, sizeof(t[0]), by_value);
		printf("%-12s median %7.0f ns  (min %7.0f, max %7.0f; %d runs of %ld)\n",
		       names[w], t[runs / 2], t[0], t[runs - 1], runs, n);
	}
	return 0;
}
