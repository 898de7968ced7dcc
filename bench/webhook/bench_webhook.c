/* bench_webhook.c: the real webhook client in a closed loop, and the outbox
 *
 *   bench_webhook --url URL [--seconds S] [--concurrency C] [--params N]
 *       C signed POSTs of N parameters in flight at all times for S seconds;
 *       last line: req_per_s=N cpu_ms_per_req=X main_cpu_ms_per_req=X failed=N
 *   bench_webhook --outbox DIR [--seconds S]
 *       status callbacks appended as fast as they become durable (grouped
 *       fdatasync), none sent; last line: outbox_per_s=N syncs=N
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

#define MAX_PARAMS 64

struct bench {
	struct event_base *base;
	struct webhook *wh;
	struct webhook_req req;
	double end;
	unsigned long long done, failed;
	unsigned inflight;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_one(struct bench *b);

static void on_done(const struct webhook_result *r, void *arg)
{
	struct bench *b = arg;

	b->inflight--;
	b->done++;
	if (r->code)
		b->failed++;
	if (mono() < b->end)
		start_one(b);
	else if (!b->inflight)
		event_base_loopbreak(b->base);
}

static void start_one(struct bench *b)
{
	b->req.sequence_number++;
	if (webhook_fetch(b->wh, &b->req, NULL, on_done, b, NULL) == 0)
		b->inflight++;
	else
		b->failed++;
}

static int run_http(const char *url, double seconds, unsigned conc,
		    unsigned nparams)
{
	static char names[MAX_PARAMS][24], values[MAX_PARAMS][40];
	struct webhook_param p[MAX_PARAMS];
	struct webhook_conf wc = {.auth_token = "bench-token-0123456789abcdef",
				  .account_sid = "AC00000000000000000000000000000000"};
	struct bench b = {0};
	struct rusage ru;
	double t0, c0, m0, t1, c1, m1;

	for (unsigned i = 0; i < nparams && i < MAX_PARAMS; i++) {
		snprintf(names[i], sizeof(names[i]), "Param%02u", i);
		snprintf(values[i], sizeof(values[i]), "value %u of a typical request", i);
		p[i].name = names[i];
		p[i].value = values[i];
	}
	b.base = event_base_new();
	if (!b.base || webhook_alloc(&b.wh, b.base, &wc))
		return 1;
	b.req = (struct webhook_req){
		.call_sid = "CA00000000000000000000000000000000",
		.kind = "voice", .method = WEBHOOK_POST, .url = url,
		.params = p, .nparams = nparams,
	};
	getrusage(RUSAGE_SELF, &ru);
	c0 = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	m0 = cpu(CLOCK_THREAD_CPUTIME_ID);
	t0 = mono();
	b.end = t0 + seconds;
	for (unsigned i = 0; i < conc; i++)
		start_one(&b);
	event_base_dispatch(b.base);
	t1 = mono();
	m1 = cpu(CLOCK_THREAD_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &ru);
	c1 = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("req_per_s=%.0f cpu_ms_per_req=%.4f main_cpu_ms_per_req=%.4f failed=%llu\n",
	       (double)b.done / (t1 - t0),
	       b.done ? (c1 - c0) * 1e3 / (double)b.done : 0,
	       b.done ? (m1 - m0) * 1e3 / (double)b.done : 0, b.failed);
	b.wh = webhook_free(b.wh);
	event_base_free(b.base);
	return b.failed ? 1 : 0;
}

/* The outbox alone: how many callbacks per second become durable. */
static int run_outbox(const char *dir, double seconds)
{
	const struct store_param p[] = {
		{"CallSid", "CA0123456789abcdef0123456789abcdef"},
		{"AccountSid", "AC0123456789abcdef0123456789abcdef"},
		{"From", "sip:alice@example.com"}, {"To", "sip:bob@example.com"},
		{"CallStatus", "ringing"}, {"ApiVersion", "2010-04-01"},
		{"Direction", "outbound-dial"}, {"SequenceNumber", "1"},
		{"CallbackSource", "call-progress-events"},
		{"Timestamp", "Fri, 04 Dec 2026 19:00:00 +0000"},
		{"ParentCallSid", "CA00000000000000000000000000000001"},
		{"SipResponseCode", "180"},
	};
	struct store_outbox *o = NULL;
	unsigned long long added = 0, durable_n = 0, syncs = 0;
	uint64_t durable = 0, *tickets;
	size_t cap = 1 << 20, head = 0, tail = 0;
	double t0, end;
	int err;

	err = store_outbox_open(&o, dir, NULL, NULL);
	if (err) {
		fprintf(stderr, "bench_webhook: outbox: %s\n", strerror(err));
		return 1;
	}
	tickets = malloc(cap * sizeof(*tickets));
	t0 = mono();
	end = t0 + seconds;
	while (mono() < end) {
		struct pollfd pfd = {store_outbox_fd(o), POLLIN, 0};

		/* a daemon's loop pass: the callbacks of many calls, one commit */
		for (int i = 0; i < 100 && tail - head < cap; i++) {
			struct store_outbox_entry e = {
				.call_sid = p[0].value, .kind = "status-callback",
				.method = "POST", .url = "https://app.example.com/status",
				.token = "0123456789abcdef0123456789abcdef",
				.attempts = 1, .params = p,
				.nparams = sizeof(p) / sizeof(p[0]),
			};

			if (store_outbox_add(o, &e, &tickets[tail % cap]))
				break;
			store_outbox_done(o, e.id);	/* delivered at once */
			tail++;
			added++;
		}
		store_outbox_commit(o);
		/* a pass at most every 1 ms: 100 callbacks a pass offer up to
		 * 100,000/s, so the bench's own waits do not set the rate (a sync
		 * starts at most every 10 ms and takes what came meanwhile) */
		if (poll(&pfd, 1, 1) > 0) {
			store_outbox_process(o, &durable);
			syncs++;
			while (head < tail && tickets[head % cap] <= durable) {
				head++;
				durable_n++;
			}
		}
	}
	printf("outbox_per_s=%.0f syncs=%llu added=%llu\n",
	       (double)durable_n / (mono() - t0), syncs, added);
	free(tickets);
	store_outbox_close(o);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"outbox", required_argument, NULL, 'o'},
		{"seconds", required_argument, NULL, 's'},
		{"concurrency", required_argument, NULL, 'c'},
		{"params", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *url = NULL, *dir = NULL;
	double seconds = 10;
	unsigned conc = 32, nparams = 15;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'o':
			dir = optarg;
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'c':
			conc = (unsigned)atoi(optarg);
			break;
		case 'p':
			nparams = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	log_open(LOG_ERR, NULL);
	if (dir)
		return run_outbox(dir, seconds);
	if (!url || !conc || nparams > MAX_PARAMS) {
		fprintf(stderr, "usage: bench_webhook --url URL | --outbox DIR [--seconds S]\n");
		return 2;
	}
	return run_http(url, seconds, conc, nparams);
}
