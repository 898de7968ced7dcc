/* test_dial_tmr.c: the timer heap (dial/tmr_heap.c) and proof that libre's own timers use it */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <re.h>
#define DEBUG_MODULE "test"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/libre_test.h"

/* --- (a) the heap itself, polled by hand --------------------------------- */

enum { NT = 2000 };

struct rec {
	struct tmr tmr;
	int id;
	uint64_t jfs;       /* deadline seen at fire time */
	int fired;
};

static struct rec recs[NT];
static int order[NT];
static int norder;

static void rec_h(void *arg)
{
	struct rec *r = arg;

	r->fired++;
	r->jfs = r->tmr.jfs;
	if (norder < NT)
		order[norder++] = r->id;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void test_order(void)
{
	uint64_t seen[NT];
	bool sorted = true, fifo = true;
	int i, ties = 0;

	srand(42);
	memset(recs, 0, sizeof(recs));
	norder = 0;

	/* random deadlines in a small range: many ties */
	for (i = 0; i < NT; i++) {
		recs[i].id = i;
		tmr_start(&recs[i].tmr, (uint64_t)(rand() % 20), rec_h,
			  &recs[i]);
		seen[i] = recs[i].tmr.jfs;
	}
	is_int((long long)dial_tmr_count(), NT, "heap holds %d timers", NT);
	ok(tmr_isrunning(&recs[7].tmr), "tmr_isrunning sees a queued timer");

	sleep_ms(40);
	tmr_poll(NULL);

	is_int(norder, NT, "every timer fired once poll was due");
	is_int((long long)dial_tmr_count(), 0, "heap is empty afterwards");

	for (i = 1; i < norder; i++) {
		uint64_t a = seen[order[i - 1]], b = seen[order[i]];

		if (a > b)
			sorted = false;
		if (a == b) {
			++ties;
			if (order[i - 1] > order[i])
				fifo = false;
		}
	}
	ok(sorted, "timers fired in deadline order");
	ok(ties > 100, "the run had equal deadlines (%d ties)", ties);
	ok(fifo, "equal deadlines fire in start order");
	ok(!tmr_isrunning(&recs[7].tmr), "a fired timer is not running");
}

static void test_equal_same_ms(void)
{
	int i;
	bool fifo = true;

	memset(recs, 0, sizeof(recs));
	norder = 0;

	/* delay 0 timers started back to back: deadlines equal or rising */
	for (i = 0; i < 64; i++) {
		recs[i].id = i;
		tmr_start(&recs[i].tmr, 0, rec_h, &recs[i]);
	}
	/* restarting one moves it behind the others (libre did the same) */
	tmr_start(&recs[0].tmr, 0, rec_h, &recs[0]);

	sleep_ms(2);
	tmr_poll(NULL);

	is_int(norder, 64, "64 delay-0 timers fired");
	for (i = 0; i < 63; i++)
		if (order[i] != i + 1)
			fifo = false;
	ok(fifo && order[63] == 0,
	   "delay-0 timers fire in start order, restarted one last");
}

static void test_cancel(void)
{
	int i, bad = 0, n = 0;

	memset(recs, 0, sizeof(recs));
	norder = 0;

	for (i = 0; i < NT; i++) {
		recs[i].id = i;
		tmr_start(&recs[i].tmr, (uint64_t)(i % 7), rec_h, &recs[i]);
	}
	/* cancel every third one, from the middle of the heap and its root */
	for (i = 0; i < NT; i += 3)
		tmr_cancel(&recs[i].tmr);
	is_int((long long)dial_tmr_count(), NT - (NT + 2) / 3,
	       "cancel removed them from the heap");
	tmr_cancel(&recs[0].tmr);   /* twice: harmless */
	tmr_cancel(NULL);

	sleep_ms(10);
	tmr_poll(NULL);

	for (i = 0; i < NT; i++) {
		if ((i % 3 == 0) != (recs[i].fired == 0))
			++bad;
		n += recs[i].fired;
	}
	is_int(bad, 0, "only the timers not cancelled fired");
	is_int(n, NT - (NT + 2) / 3, "each fired exactly once");
	is_int((long long)dial_tmr_count(), 0, "heap empty");
}

/* restart in handler, and cancel of another due timer from a handler */
static struct tmr t_a, t_b, t_c;
static int n_a, n_b, n_c, n_a_running;

static void a_h(void *arg)
{
	(void)arg;
	++n_a;
	if (tmr_isrunning(&t_a))
		++n_a_running;
	if (n_a < 5)
		tmr_start(&t_a, 0, a_h, NULL);
	tmr_cancel(&t_b);   /* b is due too, but must not fire */
}

static void b_h(void *arg)
{
	(void)arg;
	++n_b;
}

static void c_h(void *arg)
{
	(void)arg;
	++n_c;
	tmr_start(&t_c, 1000, c_h, NULL);   /* re-arm far away */
}

static void test_restart(void)
{
	int polls;

	tmr_init(&t_a);
	tmr_init(&t_b);
	tmr_init(&t_c);

	tmr_start(&t_a, 0, a_h, NULL);
	tmr_start(&t_b, 0, b_h, NULL);
	tmr_start(&t_c, 0, c_h, NULL);

	for (polls = 0; polls < 50 && n_a < 5; polls++) {
		sleep_ms(2);
		tmr_poll(NULL);
	}
	is_int(n_a, 5, "a handler restarted its own timer 4 times");
	is_int(n_a_running, 0, "th is cleared before the handler runs");
	is_int(n_b, 0, "a timer cancelled by an earlier handler did not fire");
	is_int(n_c, 1, "a handler re-armed itself 1 s away, fired once");
	ok(tmr_isrunning(&t_c), "the re-armed timer is running");
	ok(tmr_get_expire(&t_c) > 900 && tmr_get_expire(&t_c) <= 1000,
	   "tmr_get_expire of the re-armed timer in (900, 1000] ms");
	tmr_cancel(&t_c);
	ok(!tmr_isrunning(&t_c) && tmr_get_expire(&t_c) == 0,
	   "cancelled: not running, expire 0");
	is_int((long long)dial_tmr_count(), 0, "heap empty");
}

static void test_next_timeout(void)
{
	struct tmr t1, t2;
	uint64_t to;

	tmr_init(&t1);
	tmr_init(&t2);

	is_int((long long)tmr_next_timeout(NULL), 0,
	       "tmr_next_timeout: 0 when no timer runs");

	tmr_start(&t1, 200, b_h, NULL);
	to = tmr_next_timeout(NULL);
	ok(to > 190 && to <= 200, "200 ms timer: next timeout %llu in (190, 200]",
	   (unsigned long long)to);

	tmr_start(&t2, 50, b_h, NULL);
	to = tmr_next_timeout(NULL);
	ok(to > 40 && to <= 50, "the earlier of two wins: %llu in (40, 50]",
	   (unsigned long long)to);

	tmr_start(&t2, 0, b_h, NULL);
	sleep_ms(2);
	is_int((long long)tmr_next_timeout(NULL), 1,
	       "tmr_next_timeout: 1 when a timer is due");

	tmr_cancel(&t2);
	to = tmr_next_timeout(NULL);
	ok(to > 150 && to <= 200, "after cancel the 200 ms one rules: %llu",
	   (unsigned long long)to);
	tmr_cancel(&t1);
	is_int((long long)tmr_next_timeout(NULL), 0, "0 again when empty");
	ok(list_isempty(tmrl_get()), "tmrl_get() is the heap's empty list view");
}

/* random starts, restarts and cancels, checked against the invariants */
static void test_stress(void)
{
	enum { N = 5000, OPS = 200000 };
	static struct rec st[N];
	bool good = true;
	int i, fired = 0, running = 0;

	memset(st, 0, sizeof(st));
	norder = 0;
	srand(7);
	for (i = 0; i < OPS; i++) {
		struct rec *r = &st[rand() % N];

		if (rand() % 3)
			tmr_start(&r->tmr, (uint64_t)(rand() % 3000), rec_h,
				  r);
		else
			tmr_cancel(&r->tmr);
		if (i % 20000 == 0 && !dial_tmr_check())
			good = false;
	}
	for (i = 0; i < N; i++)
		running += tmr_isrunning(&st[i].tmr);
	ok(good && dial_tmr_check(), "heap invariants hold through %d random"
	   " starts and cancels", OPS);
	is_int((long long)dial_tmr_count(), running,
	       "count equals the timers running (%d)", running);

	/* cancel half, fire the rest early by polling after their time */
	for (i = 0; i < N; i += 2)
		tmr_cancel(&st[i].tmr);
	ok(dial_tmr_check(), "invariants hold after cancelling half");
	for (i = 1; i < N; i += 2)
		if (tmr_isrunning(&st[i].tmr))
			tmr_start(&st[i].tmr, (uint64_t)(i % 5), rec_h,
				  &st[i]);
	sleep_ms(10);
	tmr_poll(NULL);
	for (i = 0; i < N; i++)
		fired += st[i].fired;
	is_int((long long)dial_tmr_count(), 0, "all remaining timers fired");
	ok(fired > 0 && fired <= N / 2, "only restarted timers fired (%d)",
	   fired);
}

/* --- (b) libre's own timers land in the heap ----------------------------- */

struct silent {
	struct udp_sock *us;
	struct sa addr;
	unsigned pkts;
};

static void silent_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct silent *s = arg;

	(void)src;
	(void)mb;
	++s->pkts;
}

static void stop_h(void *arg)
{
	(void)arg;
	re_cancel();
}

static void resp_h(int err, const struct sip_msg *msg, void *arg)
{
	(void)err;
	(void)msg;
	(void)arg;
}

typedef struct list *(tmrl_get_f)(void);

static void test_libre_uses_heap(void)
{
	struct sip *sip = NULL;
	struct sip_request *req = NULL;
	struct silent s;
	struct sa laddr;
	struct tmr stop;
	struct memstat before, after;
	int stat_err;
	void *lib;
	tmrl_get_f *libre_tmrl_get = NULL;
	size_t n0, n1;
	uint64_t started0;
	char uri[64];
	int err;

	memset(&s, 0, sizeof(s));
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	tmr_init(&stop);
	/* ENOSYS when libre was built without MEM_DEBUG (Debian's is) */
	stat_err = mem_get_stat(&before);

	ok(dial_tmr_active(), "the dynamic linker resolves tmr_start to dial/");
	is_str(dial_tmr_impl_name(), "binary heap (dial/tmr_heap.c)",
	       "implementation name for the start-up log");

	/* libre's own tmrl_get, looked up inside libre.so.0: its real list */
	lib = dlopen("libre.so.0", RTLD_LAZY | RTLD_NOLOAD);
	if (lib) {
		void *sym = dlsym(lib, "tmrl_get");

		memcpy(&libre_tmrl_get, &sym, sizeof(sym));
	}
	ok(libre_tmrl_get != NULL && libre_tmrl_get != tmrl_get,
	   "found libre's own tmrl_get for comparison");

	sa_set_str(&laddr, "127.0.0.1", 0);
	err = udp_listen(&s.us, &laddr, silent_recv, &s);
	if (!ok(err == 0, "silent UDP port on loopback"))
		goto out;
	udp_local_get(s.us, &s.addr);

	err = sip_alloc(&sip, NULL, 16, 16, 16, "test_dial_tmr", NULL, NULL);
	if (!ok(err == 0, "sip_alloc"))
		goto out;
	err = sip_transp_add(sip, SIP_TRANSP_UDP, &laddr);
	if (!ok(err == 0, "sip_transp_add udp"))
		goto out;

	n0 = dial_tmr_count();
	started0 = dial_tmr_started();
	re_snprintf(uri, sizeof(uri), "sip:nobody@%J", &s.addr);
	err = sip_requestf(&req, sip, true, "OPTIONS", uri, NULL, NULL,
			   NULL, resp_h, NULL,
			   "To: <%s>\r\n"
			   "From: <sip:test@127.0.0.1>;tag=t1\r\n"
			   "Call-ID: tmrheap-1\r\n"
			   "CSeq: 1 OPTIONS\r\n"
			   "Max-Forwards: 70\r\n"
			   "Content-Length: 0\r\n"
			   "\r\n", uri);
	if (!ok(err == 0, "client transaction started (OPTIONS to %s)", uri))
		goto out;

	n1 = dial_tmr_count();
	ok(n1 >= n0 + 2, "libre's Timer E and F are in the heap (%zu -> %zu)",
	   n0, n1);
	ok(dial_tmr_started() >= started0 + 2,
	   "libre started its timers through dial/");
	if (libre_tmrl_get)
		is_int((long long)list_count(libre_tmrl_get()), 0,
		       "libre's own timer list stays empty");

	/* run libre's loop: Timer E retransmits at 500 ms via our poll */
	tmr_start(&stop, 1200, stop_h, NULL);
	err = re_main(NULL);
	ok(err == 0, "bounded re_main returned");
	ok(s.pkts >= 2, "OPTIONS sent and retransmitted by heap timers "
	   "(%u packets)", s.pkts);

 out:
	tmr_cancel(&stop);
	req = mem_deref(req);
	if (sip)
		sip_close(sip, true);
	sip = mem_deref(sip);
	s.us = mem_deref(s.us);
	if (lib)
		dlclose(lib);

	is_int((long long)dial_tmr_count(), 0, "no timer left after teardown");
	if (!stat_err && !mem_get_stat(&after))
		is_int((long long)after.blocks_cur,
		       (long long)before.blocks_cur,
		       "libre memory blocks unchanged");
}

int main(void)
{
	int err;

	dbg_handler_set(libre_test_dbg_h, NULL);
	err = libre_init();
	if (!ok(err == 0, "libre_init"))
		return tap_done();
	/* everything below assumes the heap; stop here if libre's own list
	 * is in use (e.g. DIAL_BENCH_STOCK_LIBRE_TIMERS=1) */
	if (!ok(dial_tmr_active(), "dial/tmr_heap.c is the active timer "
		"implementation: %s", dial_tmr_impl_name()))
		return tap_done();

	test_order();
	test_equal_same_ms();
	test_cancel();
	test_restart();
	test_next_timeout();
	test_stress();
	test_libre_uses_heap();

	libre_close();

	return tap_done();
}
