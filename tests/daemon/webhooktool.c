/* webhooktool.c: drives the daemon's real webhook client from the command
 * line for the integration cases: signed fetches, or status callbacks
 * through the durable outbox (with the call log when a database is given)
 *
 *   webhooktool fetch [--method GET|POST] [--kind K] [--param N=V]...
 *                     [--timeout-ms N] [--connect-timeout-ms N] [--ca FILE]
 *                     [--insecure] [--database-url URL] [--call-sid SID]
 *                     [--repeat N] [--gap-ms G] URL
 *   webhooktool deliver --data-dir DIR --url URL [--method POST|GET]
 *                     [--calls N] [--per-call M] [--database-url URL]
 *                     [--exit-when-empty] [--max-seconds S]
 *                     [--max-connections N] [--fetch-url URL]
 *
 * fetch prints one JSON line per fetch. --repeat N fetches the URL N times
 * one after the other on the same client, so libcurl may reuse its
 * connection; --gap-ms G waits G ms on the event loop between the end of
 * one fetch and the start of the next. The exit status is 1 when any fetch
 * failed.
 *
 * deliver prints "appended N" once the callbacks are on disk, "delivered
 * N" as they go, and at the end "sending-peak N" (the most attempts in
 * flight at once). --fetch-url fetches a cXML document (kind voice) on
 * the same client right after "appended", while the callbacks' backlog
 * goes out, and prints "fetch CODE MS" with its time.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

#define MAX_PARAMS 64

struct tool {
	struct event_base *base;
	struct store *store;
	struct event *store_io, *store_timer, *tick;
	struct webhook *wh;
	struct webhook_outbox *ob;
	int rc;
	/* fetch: the request, copied by webhook_fetch each time */
	const struct webhook_req *req;
	struct event *next;
	unsigned repeat, done;
	struct timeval gap;
	bool failed;
	bool exit_when_empty;
	double deadline;
	unsigned long long delivered, given_up;
	double fetch_start;
};

static double now_s(void)	/* CLOCK_MONOTONIC */
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* ---- the store on the loop, as daemon/db.c does it ---- */

static void store_rearm(struct tool *t);

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;

	(void)fd;
	(void)what;
	store_process(t->store);
	store_rearm(t);
}

static void store_rearm(struct tool *t)
{
	int fd = store_fd(t->store), ms = store_timeout_ms(t->store);
	enum store_io want = store_want(t->store);
	struct timeval tv;

	if (t->store_io)
		event_free(t->store_io);
	t->store_io = NULL;
	if (fd >= 0 && want != STORE_IO_NONE) {
		t->store_io = event_new(t->base, fd,
					(want & STORE_IO_READ ? EV_READ : 0) |
					(want & STORE_IO_WRITE ? EV_WRITE : 0),
					on_store, t);
		event_add(t->store_io, NULL);
	}
	if (ms < 0 || ms > 50)
		ms = 50;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t->store_timer, &tv);
}

static void on_store_log(int level, const char *msg, void *arg)
{
	(void)arg;
	log_write(level, "store", NULL, "%s", msg);
}

static int store_start(struct tool *t, const char *url, const char *dir)
{
	struct store_conf sc = {
		.conninfo = url,
		.reconnect_min_ms = 100,
		.reconnect_max_ms = 1000,
		.data_dir = dir,
		.flush_ms = 20,
	};
	int err;

	store_log_handler_set(on_store_log, NULL);
	err = store_alloc(&t->store, &sc);
	if (err)
		return err;
	t->store_timer = evtimer_new(t->base, on_store, t);
	store_rearm(t);
	return 0;
}

/* Waits (up to 10 s) for the rows to land before exiting. */
static void store_drain(struct tool *t)
{
	double end = now_s() + 10;

	if (!t->store)
		return;
	store_flush(t->store);
	while (store_busy(t->store) && now_s() < end) {
		store_rearm(t);
		event_base_loop(t->base, EVLOOP_ONCE);
	}
}

/* ---- fetch ---- */

static void on_fetched(const struct webhook_result *r, void *arg);

/* Starts the next fetch; from a timer, so that it never runs inside the
 * client's done handler. */
static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;
	int err;

	(void)fd;
	(void)what;
	err = webhook_fetch(t->wh, t->req, NULL, on_fetched, t, NULL);
	if (err) {
		printf("{\"code\":-1,\"error\":\"%s\"}\n", strerror(err));
		fflush(stdout);
		t->rc = 1;
		event_base_loopbreak(t->base);
	}
}

static void on_fetched(const struct webhook_result *r, void *arg)
{
	struct tool *t = arg;

	printf("{\"code\":%d,\"http_status\":%d,\"content_type\":", (int)r->code,
	       r->http_status);
	json_str(r->content_type);
	printf(",\"body_len\":%zu,\"url\":", r->body_len);
	json_str(r->url);
	printf(",\"redirects\":%u,\"error\":", r->redirects);
	json_str(r->error);
	printf(",\"total_us\":%lld}\n", (long long)r->total_us);
	fflush(stdout);
	t->failed |= r->code != 0;
	t->rc = t->failed ? 1 : 0;
	if (++t->done < t->repeat)
		evtimer_add(t->next, &t->gap);
	else
		event_base_loopbreak(t->base);
}

/* ---- deliver ---- */

static void on_doc(const struct webhook_result *r, void *arg)
{
	struct tool *t = arg;

	printf("fetch %d %.0f\n", (int)r->code, (now_s() - t->fetch_start) * 1000);
	fflush(stdout);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tool *t = arg;
	struct webhook_outbox_stats st;

	(void)fd;
	(void)what;
	webhook_outbox_stats(t->ob, &st);
	if (st.delivered > t->delivered) {
		printf("delivered %llu\n", st.delivered);
		t->delivered = st.delivered;
	}
	if (st.given_up > t->given_up) {
		printf("gave-up %llu\n", st.given_up);
		t->given_up = st.given_up;
	}
	fflush(stdout);
	if (!st.depth && t->exit_when_empty) {
		printf("empty\n");
		fflush(stdout);
		t->rc = 0;
		event_base_loopbreak(t->base);
	} else if (t->deadline && now_s() > t->deadline) {
		printf("timeout with %zu callbacks left\n", st.depth);
		t->rc = 1;
		event_base_loopbreak(t->base);
	}
}

static int deliver_add(struct tool *t, const char *url, enum webhook_method m,
		       unsigned calls, unsigned per_call)
{
	char sid[40], seq[16], ts[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	for (unsigned c = 0; c < calls; c++) {
		char tok[WEBHOOK_TOKEN_SIZE];

		webhook_token_new(tok);
		snprintf(sid, sizeof(sid), "CA%s", tok);
		for (unsigned i = 0; i < per_call; i++) {
			struct webhook_param p[] = {
				{"CallSid", sid},
				{"AccountSid", "AC00000000000000000000000000000000"},
				{"CallStatus", i + 1 == per_call ? "completed" : "ringing"},
				{"SequenceNumber", seq},
				{"CallbackSource", "call-progress-events"},
				{"Timestamp", ts},
				{"ApiVersion", "2010-04-01"},
			};
			struct webhook_req req = {
				.call_sid = sid,
				.kind = "status-callback",
				.sequence_number = i,
				.method = m,
				.url = url,
				.params = p,
				.nparams = sizeof(p) / sizeof(p[0]),
			};
			int err;

			snprintf(seq, sizeof(seq), "%u", i);
			err = webhook_outbox_add(t->ob, &req);
			if (err) {
				fprintf(stderr, "webhooktool: add: %s\n", strerror(err));
				return err;
			}
		}
	}
	return 0;
}

/* Waits until everything appended is on disk, then says so; at most 30 s
 * and never past --max-seconds. */
static int deliver_wait_durable(struct tool *t, unsigned n)
{
	struct webhook_outbox_stats st;
	double start = now_s(), end = start + 30;

	if (t->deadline && t->deadline < end)
		end = t->deadline;
	for (;;) {
		webhook_outbox_stats(t->ob, &st);
		if (!st.write_failing && webhook_outbox_durable(t->ob))
			break;
		if (now_s() > end) {
			fprintf(stderr, "webhooktool: appends not durable after %.0f s\n",
				now_s() - start);
			return EIO;
		}
		event_base_loop(t->base, EVLOOP_ONCE);
	}
	printf("appended %u\n", n);
	fflush(stdout);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: webhooktool fetch [options] URL\n"
		"       webhooktool deliver --data-dir DIR --url URL [options]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"method", required_argument, NULL, 'm'},
		{"kind", required_argument, NULL, 'k'},
		{"param", required_argument, NULL, 'p'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"connect-timeout-ms", required_argument, NULL, 'T'},
		{"ca", required_argument, NULL, 'C'},
		{"insecure", no_argument, NULL, 'i'},
		{"database-url", required_argument, NULL, 'd'},
		{"call-sid", required_argument, NULL, 's'},
		{"data-dir", required_argument, NULL, 'D'},
		{"url", required_argument, NULL, 'u'},
		{"calls", required_argument, NULL, 'n'},
		{"per-call", required_argument, NULL, 'M'},
		{"exit-when-empty", no_argument, NULL, 'e'},
		{"max-seconds", required_argument, NULL, 'S'},
		{"repeat", required_argument, NULL, 'r'},
		{"gap-ms", required_argument, NULL, 'g'},
		{"max-connections", required_argument, NULL, 'c'},
		{"fetch-url", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct webhook_param params[MAX_PARAMS];
	size_t nparams = 0;
	const char *kind = "voice", *db = NULL, *sid = NULL, *dir = NULL;
	const char *url = NULL, *token = getenv("DIALERD_AUTH_TOKEN");
	const char *fetch_url = NULL;
	enum webhook_method method = WEBHOOK_POST;
	unsigned calls = 1, per_call = 1, repeat = 1, gap_ms = 0;
	double max_s = 0;
	struct webhook_conf wc = {0};
	struct tool t = {0};
	bool deliver;
	int c, err;

	if (argc < 2) {
		usage();
		return 2;
	}
	deliver = strcmp(argv[1], "deliver") == 0;
	if (!deliver && strcmp(argv[1], "fetch") != 0) {
		usage();
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			method = strcmp(optarg, "GET") == 0 ? WEBHOOK_GET : WEBHOOK_POST;
			break;
		case 'k':
			kind = optarg;
			break;
		case 'p': {
			char *eq = strchr(optarg, '=');

			if (!eq || nparams == MAX_PARAMS) {
				usage();
				return 2;
			}
			*eq = '\0';
			params[nparams].name = optarg;
			params[nparams++].value = eq + 1;
			break;
		}
		case 't':
			wc.timeout_ms = (unsigned)atoi(optarg);
			break;
		case 'T':
			wc.connect_timeout_ms = (unsigned)atoi(optarg);
			break;
		case 'C':
			wc.tls_ca_file = optarg;
			break;
		case 'i':
			wc.tls_insecure = true;
			break;
		case 'd':
			db = optarg;
			break;
		case 's':
			sid = optarg;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'n':
			calls = (unsigned)atoi(optarg);
			break;
		case 'M':
			per_call = (unsigned)atoi(optarg);
			break;
		case 'e':
			t.exit_when_empty = true;
			break;
		case 'S':
			max_s = atof(optarg);
			break;
		case 'r':
			repeat = (unsigned)atoi(optarg);
			break;
		case 'g':
			gap_ms = (unsigned)atoi(optarg);
			break;
		case 'c':
			wc.max_connections = (unsigned)atoi(optarg);
			break;
		case 'f':
			fetch_url = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!deliver && optind < argc)
		url = argv[optind];
	if (!url || (deliver && !dir) || !repeat) {
		usage();
		return 2;
	}
	/* a full disk must show as EFBIG from write, not kill the tool */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	log_open(LOG_INFO, NULL);
	log_add_secret(token ? token : "12345");
	/* the outbox logs through the store's handler, with or without a database */
	store_log_handler_set(on_store_log, NULL);
	t.base = event_base_new();
	if (!t.base)
		return 99;
	if (db && (err = store_start(&t, db, NULL))) {
		fprintf(stderr, "webhooktool: store: %s\n", strerror(err));
		return 99;
	}
	wc.account_sid = getenv("DIALERD_ACCOUNT_SID");
	wc.auth_token = token ? token : "12345";
	wc.store = t.store;
	err = webhook_alloc(&t.wh, t.base, &wc);
	if (err) {
		fprintf(stderr, "webhooktool: webhook_alloc: %s\n", strerror(err));
		return 99;
	}
	t.rc = 1;
	if (!deliver) {
		struct webhook_req req = {
			.call_sid = sid ? sid : "CA00000000000000000000000000000000",
			.kind = kind,
			.method = method,
			.url = url,
			.params = params,
			.nparams = nparams,
		};

		t.req = &req;
		t.repeat = repeat;
		t.gap.tv_sec = gap_ms / 1000;
		t.gap.tv_usec = (long)(gap_ms % 1000) * 1000;
		t.next = evtimer_new(t.base, on_next, &t);
		if (!t.next)
			return 99;
		err = webhook_fetch(t.wh, &req, NULL, on_fetched, &t, NULL);
		if (err) {
			printf("{\"code\":-1,\"error\":\"%s\"}\n", strerror(err));
			return 1;
		}
		event_base_dispatch(t.base);
		event_free(t.next);
	} else {
		struct timeval tv = {0, 50000};

		err = webhook_outbox_alloc(&t.ob, t.wh, t.base, dir);
		if (err) {
			fprintf(stderr, "webhooktool: outbox: %s\n", strerror(err));
			goto out;
		}
		if (max_s > 0)
			t.deadline = now_s() + max_s;
		if (calls && per_call) {
			err = deliver_add(&t, url, method, calls, per_call);
			if (!err)
				err = deliver_wait_durable(&t, calls * per_call);
			if (err)
				goto out;
		}
		if (fetch_url) {
			struct webhook_req doc = {
				.call_sid = "CA00000000000000000000000000000000",
				.kind = "voice",
				.method = WEBHOOK_POST,
				.url = fetch_url,
			};

			t.fetch_start = now_s();
			err = webhook_fetch(t.wh, &doc, NULL, on_doc, &t, NULL);
			if (err) {
				fprintf(stderr, "webhooktool: fetch: %s\n", strerror(err));
				goto out;
			}
		}
		t.tick = event_new(t.base, -1, EV_PERSIST, on_tick, &t);
		event_add(t.tick, &tv);
		event_base_dispatch(t.base);
		event_free(t.tick);
		{
			struct webhook_outbox_stats st;

			webhook_outbox_stats(t.ob, &st);
			printf("sending-peak %zu\n", st.sending_peak);
			fflush(stdout);
		}
	}
 out:	/* t.rc is still 1 on the error paths */
	store_drain(&t);
	t.ob = webhook_outbox_free(t.ob);
	t.wh = webhook_free(t.wh);
	if (t.store_io)
		event_free(t.store_io);
	if (t.store_timer)
		event_free(t.store_timer);
	t.store = store_free(t.store);
	event_base_free(t.base);
	log_close();
	return t.rc;
}
