/* bench_store.c: feeds the store complete synthetic call logs (or plain COPY of the same rows) and measures
 *
 * Calls look like the daemon's to the database: random SIDs and Call-IDs,
 * and (-H HOLD > 0) each call's rows handed over when they happen over its
 * life, so that its snapshots land in different batches. bench/store/run
 * drives it against a pre-filled call log. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* the COPY mode reuses the writer's own row encoding, so both modes send
 * byte-identical rows */
#include "store/internal.h"

static unsigned long long run_id;

/* the SDP of the four offer/answer messages of a bridged call, stored as
 * body with call_log_bodies = sdp (the default; migrations/0008): 278
 * bytes, a typical carrier offer. DIALERD_BENCH_BODIES=0
 * leaves them out (call_log_bodies = none) to measure their cost. */
static const char sdp_body[] =
	"v=0\r\n"
	"o=CarrierSBC 1733400000 1733400000 IN IP4 10.1.2.3\r\n"
	"s=CarrierSBC\r\n"
	"c=IN IP4 10.1.2.3\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n"
	"a=rtcp:40001 IN IP4 10.1.2.3\r\n";
static bool bodies = true;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* CPU of the whole cluster in ms, from /proc: the postmaster's own time,
 * the time of its children that exited (cutime/cstime, the postmaster
 * reaps them), and the time of the children alive now (backends,
 * walwriter, checkpointer, autovacuum workers). */
static double pg_cpu_ms(long pm)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	double ticks = 0;

	if (!d || pm <= 0) {
		if (d)
			closedir(d);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[1024];
		FILE *f;
		long pid = strtol(e->d_name, NULL, 10), ppid;
		unsigned long ut, st;
		long cut, cst;
		char *p;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(buf, ')');
		if (!p)
			continue;
		/* after "comm)": state ppid pgrp session tty tpgid flags minflt
		 * cminflt majflt cmajflt utime stime cutime cstime */
		if (sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld",
			   &ppid, &ut, &st, &cut, &cst) != 5)
			continue;
		if (pid == pm)
			ticks += (double)(ut + st) + (double)(cut + cst);
		else if (ppid == pm)
			ticks += (double)(ut + st);
	}
	closedir(d);
	return ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static long long wal_lsn(PGconn *c)
{
	PGresult *r = PQexec(c, "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint");
	long long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* SIDs as the daemon makes them (daemon/call.c call_sid_new): "CA", 4 hex
 * digits of the instance id, 12 of the wall clock's milliseconds, 16
 * random hex digits. The daemon takes the 64 random bits from getrandom;
 * this takes them from xoshiro256**, seeded per run: both are uniform, so
 * the SIDs of one millisecond land in random order at the right edge of
 * every btree keyed by SID, as the daemon's do. Call-IDs stay wholly
 * random (a carrier's are). */
static uint64_t rng[4];
static unsigned sid_instance = 1;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;

	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return r;
}

static void rng_seed(uint64_t seed)
{
	/* splitmix64, the seeding xoshiro's authors recommend */
	for (int k = 0; k < 4; k++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		rng[k] = z ^ (z >> 31);
	}
}

static void sid_new(char sid[40])
{
	snprintf(sid, 40, "CA%04x%012llx%016llx", sid_instance,
		 (unsigned long long)(store_now_us() / 1000) & 0xffffffffffffull,
		 (unsigned long long)rng_next());
}

/* a call of the generator: its two legs' SIDs, its counter (the answer
 * id), the random part of its Call-IDs (a carrier's and the daemon's are
 * random: a counter would flatter calls_sip_call_id_idx as it would the
 * SID keys) and its times (wall clock, us) */
struct ocall {
	char p[40], c[40];
	unsigned long long i;
	uint64_t cid;
	int64_t t, answer_us, hold_us;
	unsigned stage;		/* the next stage to emit */
};

/* the stages of a call: when its rows happen, after its creation at t */
enum {
	ST_CREATED,	/* t: parent INVITE, 100, child INVITE, voice webhook */
	ST_RINGING,	/* t + 0.1 s: 180s, the child's first snapshot */
	ST_ANSWERED,	/* t + answer: 200s, ACKs, both legs in-progress */
	ST_COMPLETED,	/* answer + hold: BYEs, both legs completed */
	ST_COUNT
};

static int64_t stage_at(const struct ocall *o, unsigned st)
{
	switch (st) {
	case ST_CREATED:
		return o->t;
	case ST_RINGING:
		return o->t + 100000;
	case ST_ANSWERED:
		return o->t + o->answer_us;
	default:
		return o->t + o->answer_us + o->hold_us;
	}
}

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

/* the rows of one call's stages in [from, to): parent (inbound) + child
 * (outbound-dial) legs. The rows are those of the bench before the stages
 * (6 snapshots, 13 messages, 10 events, 4 webhook attempts); only their
 * times and the moment they reach the writer differ. */
static void call_rows(struct store *s, const struct ocall *o, unsigned from, unsigned to,
		      bool snapshots)
{
	const char *p = o->p, *c = o->c;
	char cid_p[64], cid_c[64], ans[24];
	int64_t t = o->t, at[ST_COUNT];
	unsigned long long i = o->i;
	struct store_header inv_in[] = {
		H("Via", "SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-524287-1---4d9e6f0d2c1a;rport"),
		H("Max-Forwards", "69"),
		H("From", "\"Alice Example\" <sip:+15551230001@carrier.example.net>;tag=as5f1e2d3c"),
		H("To", "<sip:+15557650002@dialer.example.com>"),
		{"Call-ID", 7, cid_p, 0},
		H("CSeq", "102 INVITE"),
		H("Contact", "<sip:+15551230001@10.1.2.3:5060>"),
		H("User-Agent", "CarrierSBC 4.2"),
		H("Allow", "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, UPDATE"),
		H("Supported", "replaces, timer"),
		H("X-Customer-Id", "cust-000417"),
		H("X-Campaign", "winter-2026"),
		H("Content-Type", "application/sdp"),
		H("Content-Length", "247"),
	};
	struct store_header resp_in[] = {
		H("Via", "SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-524287-1---4d9e6f0d2c1a;rport=5060"),
		H("From", "\"Alice Example\" <sip:+15551230001@carrier.example.net>;tag=as5f1e2d3c"),
		H("To", "<sip:+15557650002@dialer.example.com>;tag=dlr-8c1f"),
		{"Call-ID", 7, cid_p, 0},
		H("CSeq", "102 INVITE"),
		H("Contact", "<sip:dialer@10.9.8.7:5060>"),
		H("Server", "dialerd 0.1.0"),
		H("Content-Length", "0"),
	};
	struct store_header inv_out[] = {
		H("Via", "SIP/2.0/UDP 10.9.8.7:5060;branch=z9hG4bK-dlr-77a1c3e5;rport"),
		H("Max-Forwards", "70"),
		H("From", "<sip:+15551230001@dialer.example.com>;tag=dlr-3b7e"),
		H("To", "<sip:agent-17@pbx.example.org>"),
		{"Call-ID", 7, cid_c, 0},
		H("CSeq", "1 INVITE"),
		H("Contact", "<sip:dialer@10.9.8.7:5060>"),
		H("User-Agent", "dialerd 0.1.0"),
		H("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"),
		H("Supported", "timer"),
		H("Session-Expires", "600"),
		H("X-Twilio-CallSid", "CA0000000000000000000000000000000f"),
		H("X-Customer-Id", "cust-000417"),
		H("Content-Type", "application/sdp"),
		H("Content-Length", "231"),
	};
	struct store_header ok_in[] = {
		H("Via", "SIP/2.0/UDP 10.9.8.7:5060;branch=z9hG4bK-dlr-77a1c3e5;rport=5060"),
		H("From", "<sip:+15551230001@dialer.example.com>;tag=dlr-3b7e"),
		H("To", "<sip:agent-17@pbx.example.org>;tag=pbx-1a2b3c"),
		{"Call-ID", 7, cid_c, 0},
		H("CSeq", "1 INVITE"),
		H("Contact", "<sip:agent-17@10.5.5.5:5060>"),
		H("Server", "PBX 9.1"),
		{"X-Answer-Id", 11, ans, 0},
		H("Content-Type", "application/sdp"),
		H("Content-Length", "219"),
	};
	struct {
		const char *leg;
		uint32_t seq;
		enum store_dir dir;
		const char *line;
		struct store_header *h;
		size_t n;
		unsigned stage;
	} msgs[] = {
		{p, 1, STORE_DIR_IN, "INVITE sip:+15557650002@dialer.example.com SIP/2.0", inv_in, 14, ST_CREATED},
		{p, 2, STORE_DIR_OUT, "SIP/2.0 100 Trying", resp_in, 8, ST_CREATED},
		{c, 1, STORE_DIR_OUT, "INVITE sip:agent-17@pbx.example.org SIP/2.0", inv_out, 15, ST_CREATED},
		{c, 2, STORE_DIR_IN, "SIP/2.0 100 Trying", ok_in, 7, ST_CREATED},
		{c, 3, STORE_DIR_IN, "SIP/2.0 180 Ringing", ok_in, 7, ST_RINGING},
		{p, 3, STORE_DIR_OUT, "SIP/2.0 180 Ringing", resp_in, 8, ST_RINGING},
		{c, 4, STORE_DIR_IN, "SIP/2.0 200 OK", ok_in, 10, ST_ANSWERED},
		{c, 5, STORE_DIR_OUT, "ACK sip:agent-17@10.5.5.5:5060 SIP/2.0", inv_out, 8, ST_ANSWERED},
		{p, 4, STORE_DIR_OUT, "SIP/2.0 200 OK", resp_in, 8, ST_ANSWERED},
		{p, 5, STORE_DIR_IN, "ACK sip:dialer@10.9.8.7:5060 SIP/2.0", inv_in, 9, ST_ANSWERED},
		{c, 6, STORE_DIR_IN, "BYE sip:dialer@10.9.8.7:5060 SIP/2.0", ok_in, 7, ST_COMPLETED},
		{c, 7, STORE_DIR_OUT, "SIP/2.0 200 OK", inv_out, 8, ST_COMPLETED},
		{p, 6, STORE_DIR_OUT, "BYE sip:+15551230001@10.1.2.3:5060 SIP/2.0", resp_in, 8, ST_COMPLETED},
	};
	struct store_call pc = {
		.sid = p, .account_sid = "AC0123456789abcdef0123456789abcdef",
		.direction = "inbound", .from = "+15551230001", .to = "+15557650002",
		.caller_name = "Alice Example", .sip_call_id = cid_p, .created_at = t,
		.duration = -1, .status = "ringing", .updated_at = t,
	};
	struct store_call cc = {
		.sid = c, .account_sid = "AC0123456789abcdef0123456789abcdef",
		.parent_call_sid = p, .direction = "outbound-dial",
		.from = "+15551230001", .to = "sip:agent-17@pbx.example.org",
		.sip_call_id = cid_c, .created_at = t, .duration = -1,
		.status = "ringing", .updated_at = t,
	};
	/* events: initiated, ringing, answered, completed, bridged */
	static const char *const ev[] = {"initiated", "ringing", "answered", "completed", "bridged"};
	static const unsigned ev_stage[] = {ST_CREATED, ST_RINGING, ST_ANSWERED, ST_COMPLETED,
					    ST_ANSWERED};
	struct store_param prm[] = {
		{"CallSid", p}, {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
		{"From", "+15551230001"}, {"To", "+15557650002"},
		{"CallStatus", "ringing"}, {"ApiVersion", "2010-04-01"},
		{"Direction", "inbound"},
	};
	static const char *const kinds[] = {"voice", "status-callback", "action", "status-callback"};
	static const unsigned hook_stage[] = {ST_CREATED, ST_RINGING, ST_COMPLETED, ST_COMPLETED};

	for (unsigned st = 0; st < ST_COUNT; st++)
		at[st] = stage_at(o, st);
	/* every row of both legs carries the parent's SID as its root */
	pc.root_sid = cc.root_sid = p;
	snprintf(cid_p, sizeof(cid_p), "%016llx-%llx@10.1.2.3", (unsigned long long)o->cid, run_id);
	snprintf(cid_c, sizeof(cid_c), "dlr-%016llx-%llx@10.9.8.7", (unsigned long long)o->cid, run_id);
	snprintf(ans, sizeof(ans), "%llu", i);
	inv_in[4].value_len = strlen(cid_p);
	resp_in[3].value_len = strlen(cid_p);
	inv_out[4].value_len = strlen(cid_c);
	ok_in[3].value_len = strlen(cid_c);
	ok_in[7].value_len = strlen(ans);

	if (snapshots) {
		if (from <= ST_CREATED && ST_CREATED < to)
			store_call_upsert(s, &pc);
		if (from <= ST_RINGING && ST_RINGING < to) {
			cc.updated_at = at[ST_RINGING];
			store_call_upsert(s, &cc);
		}
		if (from <= ST_ANSWERED && ST_ANSWERED < to) {
			pc.status = cc.status = "in-progress";
			pc.answered_at = cc.answered_at = at[ST_ANSWERED];
			pc.updated_at = cc.updated_at = at[ST_ANSWERED];
			pc.codec = cc.codec = "PCMU";
			store_call_upsert(s, &pc);
			store_call_upsert(s, &cc);
		}
	}
	for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
		struct store_sip_message m = {
			.call_sid = msgs[k].leg, .seq = msgs[k].seq,
			.direction = msgs[k].dir, .at = at[msgs[k].stage] + (int64_t)k * 100,
			.start_line = msgs[k].line, .sip_call_id = msgs[k].leg == p ? cid_p : cid_c,
			.sdp = k == 0 || k == 6 ? "audio 10.1.2.3:40000 PCMU,PCMA" : NULL,
			.hdrs = msgs[k].h, .nhdrs = msgs[k].n, .root_sid = p,
		};

		if (msgs[k].stage < from || msgs[k].stage >= to)
			continue;
		if (bodies && (k == 0 || k == 2 || k == 6 || k == 8)) {
			m.body = sdp_body;
			m.body_len = sizeof(sdp_body) - 1;
			m.body_type = "application/sdp";
		}
		store_sip_message_add(s, &m);
	}
	for (uint32_t k = 0; k < 5; k++) {
		struct store_event e = {.call_sid = p, .sequence_number = k + 1,
					.event = ev[k], .at = at[ev_stage[k]] + k,
					.sip_code = k == 2 ? 200 : 0,
					.detail_json = k == 4 ? "{\"child\": 1}" : NULL,
					.root_sid = p};

		if (ev_stage[k] < from || ev_stage[k] >= to)
			continue;
		store_event_add(s, &e);
		e.call_sid = c;
		store_event_add(s, &e);
	}
	for (uint32_t k = 0; k < 4; k++) {
		struct store_webhook w = {
			.call_sid = p, .kind = kinds[k], .sequence_number = k, .attempt = 1,
			.method = "POST", .url = "https://app.example.com/voice/handler",
			.params = prm, .nparams = 7, .idempotency_token = ans,
			.response_status = 200, .latency_ms = 12, .at = at[hook_stage[k]] + k,
			.root_sid = p,
		};

		if (hook_stage[k] < from || hook_stage[k] >= to)
			continue;
		store_webhook_add(s, &w);
	}
	if (from <= ST_COMPLETED && ST_COMPLETED < to) {
		pc.status = cc.status = "completed";
		pc.answered_at = cc.answered_at = at[ST_ANSWERED];
		pc.ended_at = cc.ended_at = at[ST_COMPLETED];
		pc.duration = cc.duration = (int)((o->hold_us + 999999) / 1000000);
		pc.codec = cc.codec = "PCMU";
		pc.dial_call_status = "completed";
		cc.sip_response_code = 200;
		pc.updated_at = cc.updated_at = at[ST_COMPLETED];
		pc.reason_protocol = cc.reason_protocol = "Q.850";
		pc.reason_cause = cc.reason_cause = 16;
		pc.reason_text = cc.reason_text = "Normal call clearing";
		store_call_upsert(s, &pc);
		store_call_upsert(s, &cc);
	}
}

/* a new call created now: SIDs, an answer after 0.5-2 s, the hold */
static void call_open(struct ocall *o, unsigned long long i, int64_t hold_us)
{
	sid_new(o->p);
	sid_new(o->c);
	o->i = i;
	o->cid = rng_next();
	o->t = store_now_us();
	o->answer_us = 500000 + (int64_t)(rng_next() % 1500001);
	o->hold_us = hold_us;
	o->stage = ST_CREATED;
}

/* one complete call at once, every stage (the copy mode; -H 0) */
static void one_call(struct store *s, unsigned long long i, bool snapshots)
{
	struct ocall o;

	call_open(&o, i, 0);
	call_rows(s, &o, ST_CREATED, ST_COUNT, snapshots);
}

/* the open calls: a pool of slots and a min-heap of (when the next stage
 * is due, slot); bounded by the pool's size */
struct due {
	int64_t at;
	uint32_t slot;
};

struct calls_open {
	struct ocall *v;
	uint32_t *free;
	struct due *heap;
	size_t cap, nfree, nheap;
};

static int open_init(struct calls_open *q, size_t cap)
{
	q->v = calloc(cap, sizeof(*q->v));
	q->free = calloc(cap, sizeof(*q->free));
	q->heap = calloc(cap, sizeof(*q->heap));
	if (!q->v || !q->free || !q->heap)
		return ENOMEM;
	q->cap = q->nfree = cap;
	for (size_t k = 0; k < cap; k++)
		q->free[k] = (uint32_t)(cap - 1 - k);
	q->nheap = 0;
	return 0;
}

static void heap_push(struct calls_open *q, int64_t at, uint32_t slot)
{
	size_t k = q->nheap++;

	while (k > 0 && q->heap[(k - 1) / 2].at > at) {
		q->heap[k] = q->heap[(k - 1) / 2];
		k = (k - 1) / 2;
	}
	q->heap[k] = (struct due){at, slot};
}

static struct due heap_pop(struct calls_open *q)
{
	struct due top = q->heap[0], last = q->heap[--q->nheap];
	size_t k = 0, n = q->nheap;

	for (;;) {
		size_t l = 2 * k + 1, m = k;

		if (l < n && q->heap[l].at < last.at)
			m = l;
		if (l + 1 < n && q->heap[l + 1].at < (m == k ? last.at : q->heap[l].at))
			m = l + 1;
		if (m == k)
			break;
		q->heap[k] = q->heap[m];
		k = m;
	}
	if (n)
		q->heap[k] = last;
	return top;
}

/* emits the stage of an open call that is due; true when that finished it */
static bool open_step(struct store *s, struct calls_open *q, struct due d)
{
	struct ocall *o = &q->v[d.slot];

	call_rows(s, o, o->stage, o->stage + 1, true);
	if (++o->stage == ST_COUNT) {
		q->free[q->nfree++] = d.slot;
		return true;
	}
	heap_push(q, stage_at(o, o->stage), d.slot);
	return false;
}

static void drive(struct store *s, int ms)
{
	struct pollfd pfd = {.fd = store_fd(s), .events = 0};
	enum store_io want = store_want(s);
	int t = store_timeout_ms(s);

	if (t < 0 || t > ms)
		t = ms;
	if (want & STORE_IO_READ)
		pfd.events |= POLLIN;
	if (want & STORE_IO_WRITE)
		pfd.events |= POLLOUT;
	poll(&pfd, pfd.fd >= 0 && pfd.events ? 1 : 0, t);
	store_process(s);
}

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= 4)
		fprintf(stderr, "bench_store: %s\n", msg);
}

static int copy_table(PGconn *c, const char *table, const struct sbuf *b)
{
	char sql[128];
	PGresult *r;
	int ok;

	if (!b->len)
		return 0;
	snprintf(sql, sizeof(sql), "copy %s from stdin (format binary)", table);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COPY_IN;
	PQclear(r);
	if (!ok || PQputCopyData(c, (const char *)b->p, (int)b->len) != 1 ||
	    PQputCopyEnd(c, NULL) != 1)
		return EIO;
	r = PQgetResult(c);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bench_store: copy %s: %s", table, PQerrorMessage(c));
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	return ok ? 0 : EIO;
}

/* the same rows, written with plain COPY straight into the tables */
static int copy_batch(PGconn *c, struct store *q)
{
	struct sbuf lines[T_COUNT] = {{0}};
	size_t off = 0;
	int err = 0;
	PGresult *r;

	while (off < q->queue.len) {
		const unsigned char *f = q->queue.p + off;
		size_t flen = REC_HDR + ((size_t)f[0] | (size_t)f[1] << 8 |
					 (size_t)f[2] << 16 | (size_t)f[3] << 24);
		struct rec rec;

		if (store_rec_decode(&rec, f + REC_HDR, flen - REC_HDR) == 0) {
			if (!lines[rec.table].len)
				store_rec_copy_binary_begin(&lines[rec.table]);
			store_rec_copy_binary(&lines[rec.table], &rec, -1);
		}
		off += flen;
	}
	for (int t = 0; t < T_COUNT; t++)
		if (lines[t].len)
			store_rec_copy_binary_end(&lines[t]);
	r = PQexec(c, "begin");
	PQclear(r);
	for (int t = 0; t < T_COUNT && !err; t++)
		err = copy_table(c, store_rec_table_name((enum rec_table)t), &lines[t]);
	r = PQexec(c, err ? "rollback" : "commit");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		err = EIO;
	PQclear(r);
	for (int t = 0; t < T_COUNT; t++)
		sbuf_free(&lines[t]);
	sbuf_reset(&q->queue);
	q->queue_rows = 0;
	return err;
}

/* closed loop: keep about two batches queued; the writer sets the pace.
 * The generator runs on the writer's thread here (in the daemon, calls come
 * from other threads and events), so it lets the writer look at its
 * sockets every few calls, as the daemon's loop would, instead of leaving
 * finished connections idle. -H 0: each call's rows all at once (the bench
 * before the stages): its snapshots merge in one batch. */
static void run_together(struct store *s, unsigned batch_rows, double secs,
			 unsigned long long *calls, long long *wal0, double *pg0, double *cpu0,
			 double *t0, double *t1, double *pg1, PGconn *mon, long pm)
{
	struct store_stats st;

	*wal0 = wal_lsn(mon);
	*pg0 = pg_cpu_ms(pm);
	*cpu0 = self_cpu_ms();
	*t0 = now_s();
	while (now_s() - *t0 < secs) {
		store_stats(s, &st);
		while (st.queue_rows < 2 * (size_t)batch_rows) {
			one_call(s, (*calls)++, true);
			if (*calls % 8 == 0)
				drive(s, 0);
			store_stats(s, &st);
		}
		drive(s, 5);
	}
	while (store_busy(s))
		drive(s, 10);
	*t1 = now_s();
	*pg1 = pg_cpu_ms(pm);
}

/* Each call's rows at the times they happen in the daemon (the stages,
 * call_rows): its snapshots reach the writer seconds apart, so most land
 * in a later batch than the call's row and update a committed row. The
 * same closed loop opens new calls while fewer than two batches of rows
 * are queued and the pool has room; the stages of open calls are emitted
 * when due whatever the queue (they are calls already admitted). A
 * warm-up of answer + hold (up to 2 s + hold) fills the pipeline before
 * the measurement, so that it sees every stage at its steady rate; calls
 * counts the calls completed in the window. Afterwards the calls still
 * open are completed at once, outside the measurement, so that no live
 * call is left in the table. Returns the calls opened in the window. */
static unsigned long long run_spread(struct store *s, struct calls_open *q, unsigned batch_rows,
				     double hold_s, double secs, unsigned long long *calls,
				     unsigned long long *open_left, long long *wal0, double *pg0,
				     double *cpu0, double *t0, double *t1, double *pg1, PGconn *mon,
				     long pm)
{
	int64_t hold_us = (int64_t)(hold_s * 1e6);
	double warm = 2.2 + hold_s, start = now_s(), end = start + warm + secs;
	unsigned long long n = 0, opened = 0, done = 0, steps = 0;
	bool measuring = false;
	struct store_stats st;

	for (;;) {
		double now = now_s();
		int64_t now_us = store_now_us();

		if (!measuring && now - start >= warm) {
			measuring = true;
			opened = done = 0;
			*wal0 = wal_lsn(mon);
			*pg0 = pg_cpu_ms(pm);
			*cpu0 = self_cpu_ms();
			*t0 = now_s();
		}
		if (now >= end)
			break;
		while (q->nheap && q->heap[0].at <= now_us) {
			done += open_step(s, q, heap_pop(q));
			if (++steps % 32 == 0)	/* a stage is about a quarter of a call */
				drive(s, 0);
		}
		store_stats(s, &st);
		while (st.queue_rows < 2 * (size_t)batch_rows && q->nfree) {
			uint32_t slot = q->free[--q->nfree];
			struct ocall *o = &q->v[slot];

			call_open(o, n++, hold_us);
			opened++;
			open_step(s, q, (struct due){o->t, slot});
			if (n % 8 == 0)
				drive(s, 0);
			store_stats(s, &st);
		}
		drive(s, 2);
	}
	while (store_busy(s))
		drive(s, 10);
	*t1 = now_s();
	*pg1 = pg_cpu_ms(pm);
	*calls = done;
	*open_left = q->nheap;
	while (q->nheap) {
		struct due d = heap_pop(q);
		struct ocall *o = &q->v[d.slot];

		call_rows(s, o, o->stage, ST_COUNT, true);
		q->free[q->nfree++] = d.slot;
		if (q->nheap % 8 == 0)
			drive(s, 0);
	}
	while (store_busy(s))
		drive(s, 10);
	return opened;
}

int main(int argc, char **argv)
{
	const char *dsn = NULL, *dir = NULL, *mode = "writer";
	double secs = 10, t0 = 0, t1 = 0, cpu0 = 0, cpu1, pg0 = 0, pg1 = 0;
	unsigned batch_rows = 2000, flush_ms = 100;
	long pm = 0;
	unsigned long long calls = 0, opened = 0, open_left = 0;
	double hold_s = 5;
	size_t open_max = (size_t)1 << 19;
	struct calls_open q = {0};
	const char *nb = getenv("DIALERD_BENCH_BODIES");
	long long wal0 = 0, wal1;
	struct store *s = NULL;
	struct store_stats st;
	PGconn *mon;
	int c;

	bodies = !(nb && strcmp(nb, "0") == 0);

	while ((c = getopt(argc, argv, "d:j:m:t:b:f:P:H:I:O:")) != -1) {
		switch (c) {
		case 'd': dsn = optarg; break;
		case 'j': dir = optarg; break;
		case 'm': mode = optarg; break;
		case 't': secs = atof(optarg); break;
		case 'b': batch_rows = (unsigned)atoi(optarg); break;
		case 'f': flush_ms = (unsigned)atoi(optarg); break;
		case 'P': pm = atol(optarg); break;
		case 'H': hold_s = atof(optarg); break;
		case 'I': sid_instance = (unsigned)strtoul(optarg, NULL, 16) & 0xffffu; break;
		case 'O': open_max = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: bench_store -d CONNINFO [-j DATA_DIR] [-m writer|writer1|copy] "
					"[-t SECONDS] [-b BATCH_ROWS] [-f FLUSH_MS] [-P POSTMASTER_PID]\n"
					"  [-H HOLD_SECONDS (0: each call's rows at once)] [-I INSTANCE_HEX]"
					" [-O MAX_OPEN_CALLS]\n");
			return 2;
		}
	}
	if (!dsn)
		return 2;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		run_id = ((unsigned long long)ts.tv_sec << 20) ^ (unsigned long long)ts.tv_nsec ^
			 ((unsigned long long)getpid() << 40);
		rng_seed(run_id);
	}
	if (hold_s > 0 && strcmp(mode, "copy") != 0 && (!open_max || open_init(&q, open_max)))
		return 1;
	store_log_handler_set(on_log, NULL);
	mon = PQconnectdb(dsn);
	if (PQstatus(mon) != CONNECTION_OK) {
		fprintf(stderr, "bench_store: %s", PQerrorMessage(mon));
		return 1;
	}
	if (strcmp(mode, "copy") == 0) {
		/* a store that never connects: its queue only collects frames */
		struct store_conf qc = {.conninfo = "host=127.0.0.1 port=1",
					.queue_max_bytes = (size_t)1 << 30};
		PGconn *w = PQconnectdb(dsn);
		unsigned long long per_batch;

		if (PQstatus(w) != CONNECTION_OK || store_alloc(&s, &qc))
			return 1;
		wal0 = wal_lsn(mon);
		pg0 = pg_cpu_ms(pm);
		cpu0 = self_cpu_ms();
		t0 = now_s();
		per_batch = batch_rows / 34 ? batch_rows / 34 : 1;	/* ~34 rows a call */
		while (now_s() - t0 < secs) {
			for (unsigned long long k = 0; k < per_batch; k++)
				one_call(s, calls++, false);
			if (copy_batch(w, s))
				return 1;
		}
		t1 = now_s();
		pg1 = pg_cpu_ms(pm);	/* before its backend exits */
		PQfinish(w);
	} else {
		/* writer1: the writer with one connection (one batch in flight) */
		struct store_conf wc = {.conninfo = dsn, .data_dir = dir,
					.batch_rows = batch_rows, .flush_ms = flush_ms,
					.queue_max_bytes = (size_t)256 << 20,
					.connections = strcmp(mode, "writer1") == 0 ? 1 : 0};

		if (store_alloc(&s, &wc))
			return 1;
		while (store_state(s) != STORE_UP || store_busy(s))
			drive(s, 10);
		if (hold_s > 0)
			opened = run_spread(s, &q, batch_rows, hold_s, secs, &calls, &open_left,
					    &wal0, &pg0, &cpu0, &t0, &t1, &pg1, mon, pm);
		else
			run_together(s, batch_rows, secs, &calls, &wal0, &pg0, &cpu0, &t0, &t1,
				     &pg1, mon, pm);
		store_stats(s, &st);
		if (st.rows_journaled || st.rows_rejected)
			fprintf(stderr, "bench_store: %llu rows journaled, %llu rejected\n",
				st.rows_journaled, st.rows_rejected);
	}
	cpu1 = self_cpu_ms();
	wal1 = wal_lsn(mon);
	/* copy writes each call at once; the writer's hold says how */
	if (strcmp(mode, "copy") == 0)
		hold_s = 0;
	printf("mode=%s calls=%llu seconds=%.2f calls_per_s=%.0f pg_cpu_ms_per_call=%.4f "
	       "wal_bytes_per_call=%.0f client_cpu_ms_per_call=%.4f hold_s=%g opened=%llu open_left=%llu\n",
	       mode, calls, t1 - t0, (double)calls / (t1 - t0),
	       pm ? (pg1 - pg0) / (double)calls : -1.0,
	       (double)(wal1 - wal0) / (double)calls, (cpu1 - cpu0) / (double)calls,
	       hold_s, hold_s > 0 ? opened : calls, open_left);
	store_free(s);
	PQfinish(mon);
	free(q.v);
	free(q.free);
	free(q.heap);
	return 0;
}
