/* bench_dial.c: load program for dial/: outgoing legs, inbound calls, RTP relay; measures the SIP thread */

/*
 * bench_dial out   --target HOST:PORT [--seconds S] [--rate R | --window W]
 *                  [--hash-size N]   (also for in: the engine's hash_size)
 * bench_dial in    [--listen HOST:PORT] [--seconds S] [--idle-ms MS]
 *                  [--max-inbound N]
 * bench_dial relay [--calls N] [--seconds S] [--ports LO-HI] [--legs]
 *
 * out: outgoing legs through the engine's public API (dial/dial.h), each
 *   INVITE with 3 X- headers; on the 200 the 2 X- headers are read from
 *   the event and the leg is hung up at once (ACK, BYE). Paced at R
 *   calls/s, or W calls kept in flight (closed loop) when no rate is given.
 * in: the engine answers every inbound INVITE (a SIPp UAC drives it); the
 *   caller hangs up. Ends S seconds after start, or idle-ms after the last
 *   event once calls have been seen.
 * relay: N bridged calls through dial/media.c on one libre thread, each
 *   leg sending 172-byte G.711 RTP every 20 ms (50 pps each way): pairs of
 *   media endpoints joined by dial_media_bridge; with --legs through real
 *   legs instead: one engine starts 2N outgoing legs with relay=1 to a
 *   second engine (which answers with the phones' addresses), bridges
 *   them in pairs with dial_bridge, and the counters are read from the
 *   legs' ENDED events after the run; CPU is the first engine's SIP
 *   thread.
 *
 * Every loop is bounded by --seconds plus a drain of at most 35 s (the
 * 32 s transaction horizon). The last line is machine-readable:
 *   bench-result mode=out calls=N ok=N failed=N seconds=X cps=X
 *     sip_cpu_ms=X cpu_ms_per_call=X captured=N
 * CPU is that of the engine's threads (all but ours), read from the
 * kernel's per-thread clocks. Exit status 0 when nothing failed.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <re.h>

#include "dial/dial.h"
#include "dial/internal.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_dial: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* --- CPU of other threads ------------------------------------------------ */

enum { MAX_TIDS = 64 };

struct cpu_snap {
	pid_t tid[MAX_TIDS];
	uint64_t ns[MAX_TIDS];
	size_t n;
};

/* the kernel's CPU clock of any thread of ours: what glibc's
 * pthread_getcpuclockid computes, from a tid */
static uint64_t thread_cpu_ns(pid_t tid)
{
	clockid_t cid = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;
	char path[64];
	unsigned long ut = 0, st = 0;
	FILE *f;

	if (clock_gettime(cid, &ts) == 0)
		return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;

	/* fallback: utime + stime in clock ticks */
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		   "%*u %lu %lu", &ut, &st) != 2)
		ut = st = 0;
	fclose(f);

	return (uint64_t)(ut + st) * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* CPU of every thread but the excluded ones (ours) */
static void cpu_take(struct cpu_snap *s, const pid_t *excl, size_t nexcl)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	s->n = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && s->n < MAX_TIDS) {
		pid_t tid = (pid_t)atoi(e->d_name);
		size_t i;
		bool skip = tid <= 0;

		for (i = 0; i < nexcl && !skip; i++)
			skip = tid == excl[i];
		if (skip)
			continue;
		s->tid[s->n] = tid;
		s->ns[s->n] = thread_cpu_ns(tid);
		s->n++;
	}
	closedir(d);
}

static double cpu_ms_between(const struct cpu_snap *a, const struct cpu_snap *b)
{
	uint64_t ns = 0;
	size_t i, j;

	for (i = 0; i < b->n; i++) {
		uint64_t base = 0;

		for (j = 0; j < a->n; j++)
			if (a->tid[j] == b->tid[i])
				base = a->ns[j];
		ns += b->ns[i] - base;
	}

	return (double)ns / 1e6;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* --- options -------------------------------------------------------------- */

struct opts {
	const char *mode;
	const char *target;
	const char *listen;
	double seconds;
	unsigned rate;
	unsigned window;
	unsigned idle_ms;
	unsigned calls;
	unsigned port_lo, port_hi;
	unsigned max_inbound;
	unsigned max_delay_ms;
	unsigned hash_size;
	bool verbose;
	bool legs;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_dial out --target HOST:PORT [--seconds S]"
		" [--rate R | --window W]\n"
		"       bench_dial in [--listen HOST:PORT] [--seconds S]"
		" [--idle-ms MS] [--max-inbound N] [--max-delay-ms MS]\n"
		"       bench_dial relay [--calls N] [--seconds S]"
		" [--ports LO-HI] [--legs]\n");
	exit(2);
}

static unsigned num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 10000000)
		die("bad %s: %s", what, s);

	return (unsigned)v;
}

static void parse(struct opts *o, int argc, char **argv)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->seconds = 10;
	o->window = 64;
	o->idle_ms = 3000;
	o->calls = 500;
	o->port_lo = 30000;
	o->port_hi = 39999;
	o->listen = "127.0.0.1:0";

	if (argc < 2)
		usage();
	o->mode = argv[1];

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(a, "--legs")) {
			o->legs = true;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--target"))
			o->target = v;
		else if (!strcmp(a, "--listen"))
			o->listen = v;
		else if (!strcmp(a, "--seconds")) {
			o->seconds = atof(v);
			if (o->seconds <= 0 || o->seconds > 3600)
				die("bad --seconds %s", v);
		}
		else if (!strcmp(a, "--rate"))
			o->rate = num(v, "--rate");
		else if (!strcmp(a, "--window"))
			o->window = num(v, "--window");
		else if (!strcmp(a, "--idle-ms"))
			o->idle_ms = num(v, "--idle-ms");
		else if (!strcmp(a, "--hash-size"))
			o->hash_size = num(v, "--hash-size");
		else if (!strcmp(a, "--max-inbound"))
			o->max_inbound = num(v, "--max-inbound");
		else if (!strcmp(a, "--max-delay-ms"))
			o->max_delay_ms = num(v, "--max-delay-ms");
		else if (!strcmp(a, "--calls"))
			o->calls = num(v, "--calls");
		else if (!strcmp(a, "--ports")) {
			if (sscanf(v, "%u-%u", &o->port_lo, &o->port_hi) != 2 ||
			    o->port_lo >= o->port_hi || o->port_hi > 65535)
				die("bad --ports %s", v);
		}
		else
			usage();
		++i;
	}
	if (!o->window)
		die("--window must be > 0");
}

/* --- SIP: the engine under load -------------------------------------------- */

struct sipstat {
	uint64_t started, ok, failed, captured, answered, inbound, refused;
	uint64_t first_us, last_end_us;
	unsigned reported;
};

static void log_h(int level, const char *msg, void *arg)
{
	const struct opts *o = arg;

	if (level <= 4 || o->verbose)   /* LOG_WARNING and worse */
		fprintf(stderr, "dial[%d]: %s\n", level, msg);
}

/* failures by kind, printed at the end */
enum { KINDS = 16 };
static struct kind {
	enum dial_end end;
	uint16_t code;
	int err;
	bool local;
	uint64_t n;
} kinds[KINDS];

static void report_failure(struct sipstat *s, const struct dial_event *ev)
{
	size_t i;

	if (s->reported++ < 5)
		fprintf(stderr, "failed leg %s: end=%s code=%u err=%d (%s)"
			" %s\n", ev->leg_id, dial_end_name(ev->end), ev->code,
			ev->err, ev->err ? strerror(ev->err) : "-",
			ev->local ? "local" : "remote");

	for (i = 0; i < KINDS; i++) {
		struct kind *k = &kinds[i];

		if (k->n && (k->end != ev->end || k->code != ev->code ||
			     k->err != ev->err || k->local != ev->local))
			continue;
		k->end = ev->end;
		k->code = ev->code;
		k->err = ev->err;
		k->local = ev->local;
		k->n++;
		return;
	}
}

static void report_kinds(void)
{
	size_t i;

	for (i = 0; i < KINDS && kinds[i].n; i++)
		fprintf(stderr, "failures: %" PRIu64 " x end=%s code=%u"
			" err=%d %s\n", kinds[i].n,
			dial_end_name(kinds[i].end), kinds[i].code,
			kinds[i].err, kinds[i].local ? "local" : "remote");
}

static struct dial *engine_start(const struct opts *o, const char *listen)
{
	struct dial_conf conf;
	struct dial *d = NULL;
	int err;

	memset(&conf, 0, sizeof(conf));
	conf.listen = listen;
	conf.user_agent = "bench_dial";
	conf.max_inbound = o->max_inbound ? o->max_inbound : 100000;
	conf.hash_size = o->hash_size;   /* 0: the engine's default */
	conf.max_legs = 100000;
	conf.max_queue_delay_ms = o->max_delay_ms;   /* 0: the default */

	dial_log_handler_set(log_h, (void *)o);
	err = dial_alloc(&d, &conf);
	if (err)
		die("dial_alloc(%s): %s", listen, strerror(err));

	return d;
}

static void leg_start(struct dial *d, const struct opts *o, struct sipstat *s)
{
	static char n1[] = "X-Bench-Id", n2[] = "X-Bench-Account",
		n3[] = "X-Bench-Campaign";
	static char v2[] = "AC0123456789abcdef0123456789abcdef", v3[] = "perf";
	struct dial_hdr h[3];
	struct dial_leg_params p;
	char id[40], seq[24], uri[128];
	int err;

	snprintf(id, sizeof(id), "CAbench%016" PRIx64, s->started);
	snprintf(seq, sizeof(seq), "%" PRIu64, s->started);
	h[0].name = n1;
	h[0].value = seq;
	h[1].name = n2;
	h[1].value = v2;
	h[2].name = n3;
	h[2].value = v3;
	snprintf(uri, sizeof(uri), "sip:bench@%s", o->target);

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.uri = uri;
	p.from_user = "bench";
	p.hdrv = h;
	p.hdrc = 3;

	err = dial_leg_start(d, &p);
	if (err)
		die("dial_leg_start: %s", strerror(err));

	if (!s->started)
		s->first_us = now_us();
	++s->started;
}

static void on_event(struct dial *d, struct sipstat *s, struct dial_event *ev,
		     bool inbound_mode)
{
	switch (ev->type) {

	case DIAL_EV_ANSWERED:
		++s->answered;
		if (ev->outbound) {
			if (dial_event_hdr(ev, "X-Agent-Id") &&
			    dial_event_hdr(ev, "X-Queue"))
				++s->captured;
			(void)dial_leg_hangup(d, ev->leg_id, NULL);
		}
		break;

	case DIAL_EV_INBOUND: {
		struct dial_answer_params ap;
		enum dial_codec c = DIAL_CODEC_PCMU;

		++s->inbound;
		if (dial_event_hdr(ev, "X-Bench-Id") &&
		    dial_event_hdr(ev, "X-Bench-Account") &&
		    dial_event_hdr(ev, "X-Bench-Campaign"))
			++s->captured;
		if (!s->first_us)
			s->first_us = now_us();
		memset(&ap, 0, sizeof(ap));
		ap.codecv = &c;
		ap.codecc = 1;
		ap.media_addr = "127.0.0.1";
		ap.media_port = 40000;
		(void)dial_inbound_answer(d, ev->leg_id, &ap);
		break;
	}

	case DIAL_EV_ENDED:
		s->last_end_us = now_us();
		if (ev->end == DIAL_END_COMPLETED &&
		    (inbound_mode ? !ev->local : ev->local))
			++s->ok;
		else {
			++s->failed;
			report_failure(s, ev);
		}
		break;

	default:
		break;
	}
}

/* takes every waiting event; returns how many */
static unsigned drain(struct dial *d, struct sipstat *s, bool inbound_mode)
{
	struct dial_event *ev;
	unsigned n = 0;

	while ((ev = dial_event_next(d))) {
		on_event(d, s, ev, inbound_mode);
		dial_event_free(ev);
		++n;
	}

	return n;
}

static void wait_events(struct dial *d, int ms)
{
	struct pollfd pfd = { .fd = dial_event_fd(d), .events = POLLIN };

	(void)poll(&pfd, 1, ms);
}

static size_t engine_threads;
static uint64_t shed, shed_load;   /* inbound INVITEs answered 503: all, overload */

static void result(const char *mode, const struct sipstat *s, double secs,
		   double cpu_ms, uint64_t calls)
{
	double cps = secs > 0 ? (double)s->ok / secs : 0;

	report_kinds();
	double main_ms = (double)thread_cpu_ns((pid_t)syscall(SYS_gettid)) /
		1e6;

	printf("bench-result mode=%s calls=%" PRIu64 " ok=%" PRIu64
	       " failed=%" PRIu64 " seconds=%.2f cps=%.0f sip_cpu_ms=%.0f"
	       " cpu_ms_per_call=%.4f captured=%" PRIu64
	       " main_cpu_ms=%.0f engine_threads=%zu shed=%" PRIu64
	       " shed_load=%" PRIu64 "\n",
	       mode, calls, s->ok, s->failed, secs, cps, cpu_ms,
	       s->ok ? cpu_ms / (double)s->ok : 0.0, s->captured, main_ms,
	       engine_threads, shed, shed_load);
	fflush(stdout);
}

static int run_out(const struct opts *o)
{
	struct sipstat s;
	struct cpu_snap c0, c1;
	struct dial *d;
	pid_t self = (pid_t)syscall(SYS_gettid);
	uint64_t t0, t_end, t_drain, calls;
	double secs;

	if (!o->target)
		die("out: --target HOST:PORT is required");

	memset(&s, 0, sizeof(s));
	d = engine_start(o, o->listen);
	printf("bench-ready mode=out sip_port=%u timers=\"%s\"\n",
	       dial_listen_port(d), dial_timer_impl());
	fflush(stdout);

	cpu_take(&c0, &self, 1);
	t0 = now_us();
	t_end = t0 + (uint64_t)(o->seconds * 1e6);

	while (!stop_flag) {
		uint64_t t = now_us();
		uint64_t inflight = s.started - s.ok - s.failed;

		if (t >= t_end)
			break;

		if (o->rate) {
			uint64_t due = (t - t0) * o->rate / 1000000u;

			/* bounded: a stuck engine cannot make us queue
			   more than 2 s worth of calls */
			while (s.started < due && inflight < 2u * o->rate) {
				leg_start(d, o, &s);
				++inflight;
			}
		}
		else {
			while (inflight < o->window) {
				leg_start(d, o, &s);
				++inflight;
			}
		}

		if (!drain(d, &s, false))
			wait_events(d, 1);
	}

	/* drain: every started leg ends with exactly one ENDED */
	t_drain = now_us() + 35000000u;
	while (s.ok + s.failed < s.started && now_us() < t_drain && !stop_flag) {
		if (!drain(d, &s, false))
			wait_events(d, 10);
	}
	cpu_take(&c1, &self, 1);
	engine_threads = c1.n;

	calls = s.started;
	if (s.ok + s.failed < s.started) {
		fprintf(stderr, "%" PRIu64 " legs never ended\n",
			s.started - s.ok - s.failed);
		s.failed = s.started - s.ok;
	}
	secs = (double)((s.last_end_us ? s.last_end_us : now_us()) -
			s.first_us) / 1e6;
	result("out", &s, secs, cpu_ms_between(&c0, &c1), calls);

	d = dial_free(d);

	return s.failed ? 1 : 0;
}

static int run_in(const struct opts *o)
{
	struct dial_stats dst;
	struct sipstat s;
	struct cpu_snap c0, c1;
	struct dial *d;
	pid_t self = (pid_t)syscall(SYS_gettid);
	uint64_t t0, t_end, last = 0, calls;
	double secs;

	memset(&s, 0, sizeof(s));
	d = engine_start(o, o->listen);
	printf("bench-ready mode=in sip_port=%u timers=\"%s\"\n",
	       dial_listen_port(d), dial_timer_impl());
	fflush(stdout);

	cpu_take(&c0, &self, 1);
	t0 = now_us();
	t_end = t0 + (uint64_t)(o->seconds * 1e6);

	while (!stop_flag && now_us() < t_end) {
		unsigned n = drain(d, &s, true);

		if (n)
			last = now_us();
		else if (s.inbound && s.ok + s.failed >= s.inbound &&
			 now_us() - last > (uint64_t)o->idle_ms * 1000u)
			break;
		else
			wait_events(d, 10);
	}
	cpu_take(&c1, &self, 1);
	engine_threads = c1.n;
	dial_stats_get(d, &dst);
	shed = dst.inbound_rejected_busy + dst.inbound_shed;
	shed_load = dst.inbound_shed;

	calls = s.inbound;
	if (s.ok + s.failed < s.inbound) {
		fprintf(stderr, "%" PRIu64 " inbound legs never ended\n",
			s.inbound - s.ok - s.failed);
		s.failed = s.inbound - s.ok;
	}
	secs = s.first_us ? (double)(s.last_end_us - s.first_us) / 1e6 : 0;
	result("in", &s, secs, cpu_ms_between(&c0, &c1), calls);

	d = dial_free(d);

	return s.failed ? 1 : 0;
}

/* --- RTP relay -------------------------------------------------------------- */

enum { RTP_LEN = 172, PTIME_MS = 20 };

/* per direction ([0]: A -> B, [1]: B -> A): forwarded, and dropped by
 * the receiving side */
struct relay_total {
	struct {
		uint64_t rtp_pkts, rtp_bytes, dropped;
	} dir[2];
};

struct relay_bench {
	const struct opts *o;
	struct dial_media **rv;      /* per call: [2i] side A, [2i+1] B */
	struct sa *la, *lb;          /* relay side addresses per call */
	struct sa pa, pb;            /* the two phone sockets */
	struct mqueue *mq;
	pid_t tid;
	int err;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;                   /* 0 starting, 1 ready, 2 failed */
	struct relay_total total;
};

static void relay_mq_h(int id, void *data, void *arg)
{
	struct relay_bench *rb = arg;
	unsigned i;

	(void)data;
	if (id != 1)
		return;

	memset(&rb->total, 0, sizeof(rb->total));
	for (i = 0; i < rb->o->calls; i++) {
		struct dial_media_stats st[2];
		int k;

		dial_media_stats_get(rb->rv[2 * i], &st[0]);
		dial_media_stats_get(rb->rv[2 * i + 1], &st[1]);
		for (k = 0; k < 2; k++) {
			/* what side k's phone sent left from the other side */
			rb->total.dir[k].rtp_pkts += st[!k].tx_rtp_pkts;
			rb->total.dir[k].rtp_bytes += st[!k].tx_rtp_bytes;
			rb->total.dir[k].dropped += st[k].dropped;
		}
	}
	re_cancel();
}

static void relay_ready(struct relay_bench *rb, int state)
{
	pthread_mutex_lock(&rb->lock);
	rb->state = state;
	pthread_cond_broadcast(&rb->cond);
	pthread_mutex_unlock(&rb->lock);
}

/* the relay thread: one libre context, like the SIP thread */
static void *relay_thread(void *arg)
{
	struct relay_bench *rb = arg;
	struct sa ip;
	unsigned i;
	int err;

	rb->tid = (pid_t)syscall(SYS_gettid);

	err = re_thread_init();
	if (!err)
		err = fd_setsize(65536);
	if (!err)
		err = mqueue_alloc(&rb->mq, relay_mq_h, rb);

	sa_set_str(&ip, "127.0.0.1", 0);
	for (i = 0; i < rb->o->calls && !err; i++) {
		struct dial_media **m = &rb->rv[2 * i];

		err = dial_media_alloc(&m[0], &ip, (uint16_t)rb->o->port_lo,
				       (uint16_t)rb->o->port_hi);
		if (!err)
			err = dial_media_alloc(&m[1], &ip,
					       (uint16_t)rb->o->port_lo,
					       (uint16_t)rb->o->port_hi);
		if (!err)
			err = dial_media_bridge(m[0], m[1]);
		if (err)
			break;
		rb->la[i] = *dial_media_local(m[0]);
		rb->lb[i] = *dial_media_local(m[1]);
		/* both SDPs known, as after an answered bridge */
		err = dial_media_remote_set(m[0], &rb->pa, NULL, false);
		if (!err)
			err = dial_media_remote_set(m[1], &rb->pb, NULL, false);
	}

	rb->err = err;
	relay_ready(rb, err ? 2 : 1);
	if (!err)
		(void)re_main(NULL);

	for (i = 0; i < 2 * rb->o->calls; i++)
		rb->rv[i] = mem_deref(rb->rv[i]);
	rb->mq = mem_deref(rb->mq);
	re_thread_close();

	return NULL;
}

static int udp_sock_open(struct sa *addr)
{
	struct sa a;
	int fd, sz = 4 << 20;

	sa_set_str(&a, "127.0.0.1", 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, &a.u.sa, a.len) < 0)
		die("phone socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	addr->len = sizeof(addr->u);
	if (getsockname(fd, &addr->u.sa, &addr->len) < 0)
		die("getsockname: %s", strerror(errno));

	return fd;
}

/* receive everything waiting on a phone socket; counts per call by SSRC */
static uint64_t phone_rx(int fd, uint32_t *percall, unsigned calls)
{
	enum { B = 64 };
	static uint8_t buf[B][RTP_LEN + 64];
	struct mmsghdr m[B];
	struct iovec iov[B];
	uint64_t n = 0;
	int r, i;

	for (;;) {
		for (i = 0; i < B; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			uint32_t ssrc = (uint32_t)buf[i][8] << 24 |
				(uint32_t)buf[i][9] << 16 |
				(uint32_t)buf[i][10] << 8 | buf[i][11];

			if (m[i].msg_len == RTP_LEN && ssrc < calls)
				percall[ssrc]++;
		}
		n += (uint64_t)r;
	}

	return n;
}

/* --legs: the relay through real legs of an engine ----------------------- */

struct legs_bench {
	struct dial *e1, *e2;        /* e1 relays; e2 answers */
	unsigned calls;
	unsigned up, bridged, ended; /* e1's legs */
	uint16_t *port;              /* e1's SDP port per leg (2 per call) */
	uint16_t pa, pb;             /* phone ports: e2 answers with them */
	struct relay_total total;
};

/* leg ids: "A<i>" and "B<i>"; index 2i and 2i+1 */
static int leg_index(const char *id, unsigned calls)
{
	unsigned i;

	if ((id[0] != 'A' && id[0] != 'B') || sscanf(id + 1, "%u", &i) != 1 ||
	    i >= calls)
		return -1;
	return (int)(2 * i + (id[0] == 'B'));
}

static void legs_pump(struct legs_bench *lb)
{
	struct dial_event *ev;

	while ((ev = dial_event_next(lb->e2))) {
		if (ev->type == DIAL_EV_INBOUND && ev->ruri) {
			struct dial_answer_params ap;

			memset(&ap, 0, sizeof(ap));
			ap.media_addr = "127.0.0.1";
			ap.media_port = !strncmp(ev->ruri, "sip:a", 5) ?
				lb->pa : lb->pb;
			(void)dial_inbound_answer(lb->e2, ev->leg_id, &ap);
		}
		dial_event_free(ev);
	}
	while ((ev = dial_event_next(lb->e1))) {
		int k = leg_index(ev->leg_id, lb->calls);

		if (k >= 0 && ev->type == DIAL_EV_SIP &&
		    ev->dir == DIAL_DIR_TX && !ev->code && ev->sdp.present &&
		    ev->method && !strcmp(ev->method, "INVITE"))
			lb->port[k] = ev->sdp.port;
		else if (k >= 0 && ev->type == DIAL_EV_ANSWERED)
			++lb->up;
		else if (ev->type == DIAL_EV_BRIDGED && !ev->err)
			++lb->bridged;
		else if (ev->type == DIAL_EV_BRIDGED)
			die("bridge %s-%s: %s", ev->leg_id, ev->bridged,
			    strerror(ev->err));
		else if (k >= 0 && ev->type == DIAL_EV_ENDED) {
			/* A's counters: what left towards A's phone came
			   from B's (B -> A), and the other way round */
			int dir = k & 1 ? 0 : 1;

			++lb->ended;
			lb->total.dir[dir].rtp_pkts += ev->media.tx_rtp_pkts;
			lb->total.dir[dir].rtp_bytes += ev->media.tx_rtp_bytes;
			lb->total.dir[!dir].dropped += ev->media.dropped;
		}
		dial_event_free(ev);
	}
}

static void legs_wait(struct legs_bench *lb, unsigned *count, unsigned want,
		      const char *what)
{
	uint64_t end = now_us() + 30000000u;

	while (*count < want) {
		struct pollfd p[2] = {
			{ dial_event_fd(lb->e1), POLLIN, 0 },
			{ dial_event_fd(lb->e2), POLLIN, 0 },
		};

		if (now_us() > end || stop_flag)
			die("relay --legs: %u of %u legs %s", *count, want, what);
		(void)poll(p, 2, 50);
		legs_pump(lb);
	}
}

/* 2N relayed legs from e1 to e2, answered, bridged in pairs; la/lb get
 * e1's relay address of each call's legs; tid its SIP thread */
static void legs_setup(struct legs_bench *lb, const struct opts *o,
		       const struct sa *pa, const struct sa *pb,
		       struct sa *la, struct sa *lbv, pid_t *tid)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	struct cpu_snap before, after;
	struct dial_conf c;
	char uri[96], id[32];
	unsigned i;

	memset(lb, 0, sizeof(*lb));
	lb->calls = o->calls;
	lb->pa = sa_port(pa);
	lb->pb = sa_port(pb);
	lb->port = calloc(2 * (size_t)o->calls, sizeof(*lb->port));
	if (!lb->port)
		die("out of memory");
	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.rtp_port_min = (uint16_t)o->port_lo;
	c.rtp_port_max = (uint16_t)o->port_hi;
	c.max_legs = 2 * o->calls + 16;
	c.max_inbound = 2 * o->calls + 16;
	cpu_take(&before, &self, 1);
	if (dial_alloc(&lb->e1, &c))
		die("engine 1");
	cpu_take(&after, &self, 1);
	*tid = 0;
	for (size_t k = 0; k < after.n; k++) {
		bool old = false;

		for (size_t j = 0; j < before.n; j++)
			old |= before.tid[j] == after.tid[k];
		if (!old)
			*tid = after.tid[k];
	}
	if (!*tid)
		die("engine 1's thread not found");
	if (dial_alloc(&lb->e2, &c))
		die("engine 2");

	for (i = 0; i < o->calls; i++) {
		for (int side = 0; side < 2; side++) {
			struct dial_leg_params p;

			memset(&p, 0, sizeof(p));
			snprintf(id, sizeof(id), "%c%u", side ? 'B' : 'A', i);
			snprintf(uri, sizeof(uri), "sip:%c%u@127.0.0.1:%u",
				 side ? 'b' : 'a', i, dial_listen_port(lb->e2));
			p.id = id;
			p.uri = uri;
			p.relay = true;
			if (dial_leg_start(lb->e1, &p))
				die("leg start");
		}
		if (i % 50 == 49)
			legs_pump(lb);
	}
	legs_wait(lb, &lb->up, 2 * o->calls, "answered");
	for (i = 0; i < o->calls; i++) {
		char a[32], b[32];

		snprintf(a, sizeof(a), "A%u", i);
		snprintf(b, sizeof(b), "B%u", i);
		if (dial_bridge(lb->e1, a, b))
			die("dial_bridge");
	}
	legs_wait(lb, &lb->bridged, o->calls, "bridged");
	for (i = 0; i < o->calls; i++) {
		if (!lb->port[2 * i] || !lb->port[2 * i + 1])
			die("no SDP port of call %u", i);
		sa_set_str(&la[i], "127.0.0.1", lb->port[2 * i]);
		sa_set_str(&lbv[i], "127.0.0.1", lb->port[2 * i + 1]);
	}
}

/* hangs every leg up; the counters come with the ENDED events */
static void legs_finish(struct legs_bench *lb)
{
	char id[32];

	for (unsigned i = 0; i < 2 * lb->calls; i++) {
		snprintf(id, sizeof(id), "%c%u", i & 1 ? 'B' : 'A', i / 2);
		(void)dial_leg_hangup(lb->e1, id, NULL);
	}
	legs_wait(lb, &lb->ended, 2 * lb->calls, "ended");
	lb->e1 = dial_free(lb->e1);
	lb->e2 = dial_free(lb->e2);
	free(lb->port);
}

static int run_relay(const struct opts *o)
{
	struct legs_bench legs;
	struct relay_bench rb;
	pthread_t th;
	int fa, fb;
	unsigned calls = o->calls, i, tick = 0;
	uint64_t sent[2] = { 0, 0 }, recvd[2] = { 0, 0 };
	uint32_t *rxa, *rxb;
	uint64_t t0, t_end, t_meas0 = 0, cpu0 = 0, cpu1;
	uint8_t pkt[RTP_LEN];
	struct mmsghdr *mm;
	struct iovec *iov;
	uint8_t (*bufs)[RTP_LEN];
	double secs, cpu_pct;
	unsigned short_calls = 0;

	raise_nofile();
	memset(&rb, 0, sizeof(rb));
	rb.o = o;
	rb.rv = calloc(2 * (size_t)calls, sizeof(*rb.rv));
	rb.la = calloc(calls, sizeof(*rb.la));
	rb.lb = calloc(calls, sizeof(*rb.lb));
	rxa = calloc(calls, sizeof(*rxa));
	rxb = calloc(calls, sizeof(*rxb));
	mm = calloc(calls, sizeof(*mm));
	iov = calloc(calls, sizeof(*iov));
	bufs = calloc(calls, sizeof(*bufs));
	if (!rb.rv || !rb.la || !rb.lb || !rxa || !rxb || !mm || !iov || !bufs)
		die("out of memory");
	pthread_mutex_init(&rb.lock, NULL);
	pthread_cond_init(&rb.cond, NULL);

	/* one socket per side plays every phone: the relay latches per call
	   on its own sockets, and the generator stays cheap */
	fa = udp_sock_open(&rb.pa);
	fb = udp_sock_open(&rb.pb);

	if (o->legs) {
		legs_setup(&legs, o, &rb.pa, &rb.pb, rb.la, rb.lb, &rb.tid);
	}
	else {
		if (libre_init())
			die("libre_init");
		if (pthread_create(&th, NULL, relay_thread, &rb))
			die("pthread_create");
		pthread_mutex_lock(&rb.lock);
		while (!rb.state)
			pthread_cond_wait(&rb.cond, &rb.lock);
		pthread_mutex_unlock(&rb.lock);
		if (rb.state != 1)
			die("relay set-up (%u calls, ports %u-%u): %s", calls,
			    o->port_lo, o->port_hi, strerror(rb.err));
	}

	printf("bench-ready mode=relay calls=%u legs=%d\n", calls, o->legs);
	fflush(stdout);

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x80;
	t0 = now_us();
	t_end = t0 + (uint64_t)(o->seconds * 1e6);

	/* each 1 ms tick sends for the calls whose 20 ms phase it is, one
	   sendmmsg per side; 1 s of warm-up before CPU is measured */
	while (!stop_flag) {
		uint64_t t = now_us(), next;
		int side;

		if (t >= t_end)
			break;
		if (!t_meas0 && t - t0 >= 1000000u) {
			t_meas0 = t;
			cpu0 = thread_cpu_ns(rb.tid);
		}

		for (side = 0; side < 2; side++) {
			unsigned n = 0;
			int r;

			for (i = tick % PTIME_MS; i < calls; i += PTIME_MS) {
				uint8_t *b = bufs[n];
				uint16_t seq = (uint16_t)(tick / PTIME_MS);

				memcpy(b, pkt, RTP_LEN);
				b[1] = 0;   /* PCMU */
				b[2] = (uint8_t)(seq >> 8);
				b[3] = (uint8_t)seq;
				b[8] = (uint8_t)(i >> 24);
				b[9] = (uint8_t)(i >> 16);
				b[10] = (uint8_t)(i >> 8);
				b[11] = (uint8_t)i;
				iov[n].iov_base = b;
				iov[n].iov_len = RTP_LEN;
				memset(&mm[n].msg_hdr, 0, sizeof(mm[n].msg_hdr));
				mm[n].msg_hdr.msg_iov = &iov[n];
				mm[n].msg_hdr.msg_iovlen = 1;
				mm[n].msg_hdr.msg_name = side ? &rb.lb[i].u
							      : &rb.la[i].u;
				mm[n].msg_hdr.msg_namelen = side ? rb.lb[i].len
								 : rb.la[i].len;
				++n;
			}
			if (n) {
				r = sendmmsg(side ? fb : fa, mm, n, 0);
				if (r > 0)
					sent[side] += (uint64_t)r;
			}
		}
		++tick;

		recvd[1] += phone_rx(fa, rxa, calls);  /* B -> A arrives at A */
		recvd[0] += phone_rx(fb, rxb, calls);

		next = t0 + (uint64_t)tick * 1000u;
		t = now_us();
		if (next > t) {
			struct timespec ts = { 0, (long)(next - t) * 1000L };

			nanosleep(&ts, NULL);
		}
	}

	cpu1 = thread_cpu_ns(rb.tid);
	secs = (double)(now_us() - t_meas0) / 1e6;

	/* let the last packets through */
	for (i = 0; i < 200; i++) {
		struct timespec ts = { 0, 1000000L };

		recvd[1] += phone_rx(fa, rxa, calls);
		recvd[0] += phone_rx(fb, rxb, calls);
		nanosleep(&ts, NULL);
	}

	if (o->legs) {
		legs_finish(&legs);
		rb.total = legs.total;
	}
	else {
		(void)mqueue_push(rb.mq, 1, NULL);
		pthread_join(th, NULL);
	}

	for (i = 0; i < calls; i++)
		if (rxa[i] == 0 || rxb[i] == 0)
			++short_calls;

	cpu_pct = t_meas0 ? (double)(cpu1 - cpu0) / 1e7 / secs : 0;
	printf("bench-result mode=relay legs=%d calls=%u seconds=%.1f"
	       " pps_in=%.0f sent_ab=%" PRIu64 " sent_ba=%" PRIu64
	       " fwd_ab=%" PRIu64 " fwd_ba=%" PRIu64 " rcvd_ab=%" PRIu64
	       " rcvd_ba=%" PRIu64 " lost=%" PRIu64 " dropped=%" PRIu64
	       " silent_calls=%u relay_cpu_pct=%.1f us_per_pkt=%.2f\n",
	       o->legs, calls, o->seconds,
	       (double)(sent[0] + sent[1]) / o->seconds,
	       sent[0], sent[1], rb.total.dir[0].rtp_pkts,
	       rb.total.dir[1].rtp_pkts, recvd[0], recvd[1],
	       (sent[0] + sent[1]) - (recvd[0] + recvd[1]),
	       rb.total.dir[0].dropped + rb.total.dir[1].dropped, short_calls,
	       cpu_pct,
	       (sent[0] + sent[1]) ? (double)(cpu1 - cpu0) / 1e3 /
	       ((double)(sent[0] + sent[1]) * secs / o->seconds) : 0.0);

	if (!o->legs)
		libre_close();
	close(fa);
	close(fb);
	free(rb.rv);
	free(rb.la);
	free(rb.lb);
	free(rxa);
	free(rxb);
	free(mm);
	free(iov);
	free(bufs);

	return (sent[0] + sent[1]) == (recvd[0] + recvd[1]) && !short_calls ?
		0 : 1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sigaction sa;

	parse(&o, argc, argv);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (!strcmp(o.mode, "out"))
		return run_out(&o);
	if (!strcmp(o.mode, "in"))
		return run_in(&o);
	if (!strcmp(o.mode, "relay"))
		return run_relay(&o);

	usage();
	return 2;
}
