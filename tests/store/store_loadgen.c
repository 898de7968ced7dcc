/* store_loadgen.c: writes N synthetic calls through store/ (its own poll loop) for the integration cases */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "store_loadgen: %s: %s\n",
		level >= 0 && level < 8 ? level_names[level] : "?", msg);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: store_loadgen -d CONNINFO [-j DATA_DIR] [-n CALLS] [-s FIRST]\n"
		"         [-r CALLS_PER_S] [-b BATCH_ROWS] [-f FLUSH_MS] [-B BAD_EVERY]\n"
		"         [-O DAYS [-L EVERY]] [-A UNIX_US] [--special]\n"
		"         [--hold | --wait SECONDS]\n"
		"Each call: 1 call row (2 snapshots), 2 events, 1 INVITE with 2 X-\n"
		"headers, 1 webhook attempt. --hold: after the last row is written or\n"
		"journaled, print HOLD and wait to be killed. --wait: until all rows\n"
		"landed (exit 0) or SECONDS passed (exit 1). -O: the calls' times are\n"
		"DAYS days off (negative: past), every EVERYth call only with -L.\n"
		"-A: every call at that time (microseconds since the epoch), so that\n"
		"two runs write the same rows (times are in the keys of the\n"
		"partitioned call log). Prints the rows set aside (no partition).\n");
	exit(2);
}

static long offset_days;	/* -O */
static int64_t fixed_at;	/* -A: every call at this time (µs), not now */
static unsigned long long offset_every;	/* -L: 0 every call */

static void one_call(struct store *s, unsigned long long i, unsigned bad_every)
{
	char sid[40], xseq[24], cid[64], detail[64];
	int64_t now = fixed_at ? fixed_at : store_now_us();

	if (offset_days && (!offset_every || i % offset_every == 0))
		now += (int64_t)offset_days * 86400 * 1000000;
	struct store_header hdrs[] = {
		{"Via", 3, "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1", 42},
		{"From", 4, "<sip:alice@127.0.0.1>;tag=1", 27},
		{"To", 2, "<sip:bob@127.0.0.1>", 19},
		{"Call-ID", 7, cid, 0},
		{"CSeq", 4, "1 INVITE", 8},
		{"X-Seq", 5, xseq, 0},
		{"X-Load", 6, "yes", 3},
	};

	snprintf(sid, sizeof(sid), "CA%032llx", i);
	snprintf(xseq, sizeof(xseq), "%llu", i);
	snprintf(cid, sizeof(cid), "load-%llu@127.0.0.1", i);
	hdrs[3].value_len = strlen(cid);
	hdrs[5].value_len = strlen(xseq);
	struct store_call c = {
		.sid = sid, .account_sid = "AC00000000000000000000000000000000",
		.direction = "inbound", .from = "sip:alice@127.0.0.1",
		.to = "sip:bob@127.0.0.1", .status = "ringing", .sip_call_id = cid,
		.created_at = now, .ringing_at = now, .duration = -1,
		.updated_at = now,
	};
	struct store_event e1 = {.call_sid = sid, .sequence_number = 1,
				 .event = "initiated", .at = now};
	struct store_event e2 = {.call_sid = sid, .sequence_number = 2,
				 .event = "ringing", .sip_code = 180, .at = now,
				 .detail_json = detail};
	struct store_sip_message m = {
		.call_sid = sid, .seq = 1, .direction = STORE_DIR_IN, .at = now,
		.start_line = "INVITE sip:bob@127.0.0.1 SIP/2.0", .sip_call_id = cid,
		.hdrs = hdrs, .nhdrs = sizeof(hdrs) / sizeof(hdrs[0]),
	};
	struct store_param params[] = {{"CallSid", sid}, {"CallStatus", "ringing"}};
	struct store_webhook w = {
		.call_sid = sid, .kind = "voice", .sequence_number = 0, .attempt = 1,
		.method = "POST", .url = "http://127.0.0.1/voice", .params = params,
		.nparams = 2, .response_status = 200, .latency_ms = 3, .at = now,
	};

	if (bad_every && i % bad_every == 0)
		snprintf(detail, sizeof(detail), "{\"broken\": ");	/* invalid JSON */
	else
		snprintf(detail, sizeof(detail), "{\"n\": %llu}", i);
	store_call_upsert(s, &c);
	store_event_add(s, &e1);
	store_event_add(s, &e2);
	store_sip_message_add(s, &m);
	store_webhook_add(s, &w);
	c.status = "completed";
	c.answered_at = now + 1000;
	c.ended_at = now + 2000;
	c.duration = 1;
	c.updated_at = now + 2000;
	store_call_upsert(s, &c);
}

static void special(struct store *s)
{
	static const char bin[] = {'a', 0, 'b', (char)0xff, (char)0xfe, 'c'};
	struct store_header hdrs[] = {
		{"Via", 3, "SIP/2.0/UDP 127.0.0.1", 21},
		{"X-Bin", 5, bin, sizeof(bin)},
		{"X-Plain", 7, "caf\xc3\xa9 \\ tab\there", 16},
	};
	struct store_sip_message m = {
		.call_sid = "CAffffffffffffffffffffffffffffffff", .seq = 1,
		.direction = STORE_DIR_OUT, .start_line = "SIP/2.0 200 OK",
		.hdrs = hdrs, .nhdrs = 3,
	};

	store_sip_message_add(s, &m);
}

static int run_loop(struct store *s, int ms)
{
	struct pollfd pfd = {.fd = store_fd(s), .events = 0};
	enum store_io want = store_want(s);
	int t = store_timeout_ms(s);
	int n;

	if (t < 0 || t > ms)
		t = ms;
	if (want & STORE_IO_READ)
		pfd.events |= POLLIN;
	if (want & STORE_IO_WRITE)
		pfd.events |= POLLOUT;
	n = poll(&pfd, pfd.fd >= 0 && pfd.events ? 1 : 0, t);
	if (n < 0 && errno != EINTR)
		return errno;
	store_process(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"hold", no_argument, NULL, 'H'},
		{"wait", required_argument, NULL, 'W'},
		{"special", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct store_conf conf = {.reconnect_min_ms = 100, .reconnect_max_ms = 1000};
	unsigned long long n = 1000, first = 0, sent = 0;
	unsigned rate = 0, bad_every = 0, wait_s = 0;
	bool hold = false, spec = false;
	struct store *s = NULL;
	struct store_stats st;
	unsigned long long t0, deadline = 0;
	int c, err;

	while ((c = getopt_long(argc, argv, "d:j:n:s:r:b:f:B:O:L:A:", lo, NULL)) != -1) {
		switch (c) {
		case 'd': conf.conninfo = optarg; break;
		case 'j': conf.data_dir = optarg; break;
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 's': first = strtoull(optarg, NULL, 10); break;
		case 'r': rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': conf.batch_rows = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': conf.flush_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'B': bad_every = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'H': hold = true; break;
		case 'W': wait_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': spec = true; break;
		case 'O': offset_days = strtol(optarg, NULL, 10); break;
		case 'L': offset_every = strtoull(optarg, NULL, 10); break;
		case 'A': fixed_at = strtoll(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!conf.conninfo)
		usage();
	store_log_handler_set(on_log, NULL);
	err = store_alloc(&s, &conf);
	if (err) {
		fprintf(stderr, "store_loadgen: store_alloc: %s\n", strerror(err));
		return 1;
	}
	if (spec)
		special(s);
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	while (sent < n) {
		struct timespec ts;
		unsigned long long now, due;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		due = rate ? (now - t0) * rate / 1000 + 1 : n;
		while (sent < n && sent < due)
			one_call(s, first + sent++, bad_every);
		run_loop(s, rate ? 10 : 0);
	}
	store_flush(s);
	if (hold) {
		/* until every row is in PostgreSQL or the journal */
		while (store_stats(s, &st), st.queue_rows) {
			store_flush(s);
			run_loop(s, 10);
		}
		printf("HOLD calls=%llu journal_bytes=%llu written=%llu\n", n,
		       st.journal_bytes, st.rows_written);
		fflush(stdout);
		for (;;)
			pause();
	}
	if (wait_s) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		deadline = (unsigned long long)ts.tv_sec * 1000 +
			   ts.tv_nsec / 1000000 + wait_s * 1000ull;
		for (;;) {
			unsigned long long now;

			store_stats(s, &st);
			if (store_state(s) == STORE_UP && !store_busy(s) &&
			    !st.journal_bytes)
				break;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
			if (now >= deadline) {
				fprintf(stderr, "store_loadgen: not all rows landed in %u s\n",
					wait_s);
				break;
			}
			store_flush(s);
			run_loop(s, 20);
		}
	}
	store_stats(s, &st);
	printf("calls=%llu written=%llu batches=%llu rejected=%llu journaled=%llu "
	       "journal_bytes=%llu queue=%zu connects=%lu failovers=%llu resent=%llu "
	       "set_aside=%llu\n",
	       n, st.rows_written, st.batches, st.rows_rejected, st.rows_journaled,
	       st.journal_bytes, st.queue_rows, store_connects(s), st.failovers,
	       st.rows_resent, st.rows_set_aside);
	err = wait_s && (store_busy(s) || st.journal_bytes) ? 1 : 0;
	store_free(s);
	return err;
}
