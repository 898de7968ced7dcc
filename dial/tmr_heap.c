/* tmr_heap.c: every libre timer (re_tmr.h) as one binary min-heap per thread, replacing 1.1.0's sorted list */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <re.h>

#include "dial/internal.h"

#define DEBUG_MODULE "tmr_heap"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

/*
 * Why: libre 1.1.0 keeps all timers of a thread in one sorted linked list and
 * every tmr_start() walks it from the tail. Each answered call leaves 32 s of
 * ACK and transaction timers behind, so at a few hundred calls/s every new
 * Timer A walks past thousands of nodes (measured on a 2-core VM: stock
 * libre collapsed at ~355 calls/s with 2.7 ms CPU per call; with this heap
 * and larger hash tables one thread carried 5,200-7,100 calls/s at 0.17 ms).
 *
 * How: libre.so.0 calls every tmr_* function through its PLT, so a program
 * that defines them replaces them for libre's own timers too (transactions,
 * sipsess, DNS, TCP, ...). This file defines the whole of re_tmr.h.
 *
 * Bookkeeping lives in the public struct tmr, which libre only reads through
 * tmr_isrunning() (th) and tmr_get_expire() (th, jfs):
 *   le.list  marker: the heap of the thread that started the timer
 *   le.prev  the timer's index in that heap, so cancel is O(log n)
 *   le.data  the timer itself, as libre set it
 * A timer is in a heap exactly when th != NULL.
 *
 * The heap array holds each timer's key (deadline, start sequence) next to
 * its pointer, so sifting compares contiguous memory instead of chasing
 * one pointer per comparison: at 5,000 calls/s the heap holds a few
 * hundred thousand timers, and every chased pointer was a cache miss.
 * Equal deadlines fire in start order, as they did in libre's list.
 *
 * The heap is thread-local: libre's loop state is per thread (re_main and
 * tmr_poll run in the thread that started the timers), so no locks.
 */

struct hent {
	uint64_t jfs;         /* deadline: a copy of t->jfs */
	uintptr_t seq;        /* start sequence: ties fire in start order */
	struct tmr *t;
};

struct theap {
	struct hent *v;       /* v[0] is the earliest deadline */
	size_t n;
	size_t cap;
	uintptr_t seq;        /* start counter, wraps harmlessly */
	uint64_t started;     /* timers started in this thread, ever */
	struct list empty;    /* what tmrl_get() hands out: always empty */
};

static _Thread_local struct theap heap;

/* link anchors: the other libre overrides, rand_pool.c and udp_local.c,
 * come into every program with the timers (the engine references this
 * file) */
__attribute__((used))
static const char *const rand_pool_link = &dial_rand_pool_anchor;
__attribute__((used))
static const char *const udp_local_link = &dial_udp_local_anchor;

/*
 * A/B switch for measurements only (bench/dial): with
 * DIAL_BENCH_STOCK_LIBRE_TIMERS=1 in the environment when the first timer
 * call is made, every function below forwards to libre's own sorted list,
 * so that one binary shows what the heap buys. All or nothing, decided
 * once: a timer is never in both.
 */
struct stock {
	void (*start)(struct tmr *, uint64_t, tmr_h *, void *);
	void (*poll)(struct list *);
	uint64_t (*next)(struct list *);
	struct list *(*tmrl)(void);
	int (*status)(struct re_printf *, void *);
};

static struct stock stock;
static _Atomic int use_stock = -1;   /* -1: not decided yet */
static pthread_once_t stock_once = PTHREAD_ONCE_INIT;

static void sym(void *dst, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	memcpy(dst, &p, sizeof(p));
}

static void stock_decide(void)
{
	const char *e = getenv("DIAL_BENCH_STOCK_LIBRE_TIMERS");

	if (e && !strcmp(e, "1")) {
		sym(&stock.start, "tmr_start");
		sym(&stock.poll, "tmr_poll");
		sym(&stock.next, "tmr_next_timeout");
		sym(&stock.tmrl, "tmrl_get");
		sym(&stock.status, "tmr_status");
		if (stock.start && stock.poll && stock.next && stock.tmrl &&
		    stock.status) {
			/* release: the pointers above are seen before the 1 */
			atomic_store_explicit(&use_stock, 1,
					      memory_order_release);
			return;
		}
	}

	atomic_store_explicit(&use_stock, 0, memory_order_release);
}

/* one acquire load per call (a plain load on x86) once decided */
static inline bool stock_on(void)
{
	int v = atomic_load_explicit(&use_stock, memory_order_acquire);

	if (v < 0) {
		(void)pthread_once(&stock_once, stock_decide);
		v = atomic_load_explicit(&use_stock, memory_order_acquire);
	}

	return v == 1;
}

enum { HEAP_MIN_CAP = 256 };

static inline size_t idx_get(const struct tmr *t)
{
	return (size_t)(uintptr_t)t->le.prev;
}

static inline void idx_set(struct tmr *t, size_t i)
{
	t->le.prev = (struct le *)(uintptr_t)i;
}

/* a fires before b: earlier deadline, or same deadline and started first */
static inline bool before(const struct hent *a, const struct hent *b)
{
	if (a->jfs != b->jfs)
		return a->jfs < b->jfs;

	return (intptr_t)(a->seq - b->seq) < 0;
}

static inline void place(const struct hent *e, size_t i)
{
	heap.v[i] = *e;
	idx_set(e->t, i);
}

static void sift_up(size_t i)
{
	struct hent e = heap.v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(&e, &heap.v[parent]))
			break;

		place(&heap.v[parent], i);
		i = parent;
	}

	place(&e, i);
}

static void sift_down(size_t i)
{
	struct hent e = heap.v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= heap.n)
			break;

		if (c + 1 < heap.n && before(&heap.v[c + 1], &heap.v[c]))
			++c;

		if (!before(&heap.v[c], &e))
			break;

		place(&heap.v[c], i);
		i = c;
	}

	place(&e, i);
}

static bool in_heap(const struct tmr *t)
{
	size_t i;

	if (!t->th || t->le.list != &heap.empty)
		return false;

	i = idx_get(t);

	return i < heap.n && heap.v[i].t == t;
}

static void unmark(struct tmr *t)
{
	t->le.list = NULL;
	t->le.prev = NULL;
	t->le.next = NULL;
}

static void heap_remove(struct tmr *t)
{
	size_t i = idx_get(t);
	struct hent last = heap.v[--heap.n];

	unmark(t);

	if (last.t != t) {
		place(&last, i);
		if (i > 0 && before(&last, &heap.v[(i - 1) / 2]))
			sift_up(i);
		else
			sift_down(i);
	}

	/* an idle thread holds no memory, so a thread that ends leaks none */
	if (heap.n == 0) {
		free(heap.v);
		heap.v = NULL;
		heap.cap = 0;
	}
}

static int heap_grow(void)
{
	size_t cap = heap.cap ? heap.cap * 2 : HEAP_MIN_CAP;
	struct hent *v;

	if (cap > SIZE_MAX / sizeof(*v))
		return ENOMEM;

	v = realloc(heap.v, cap * sizeof(*v));
	if (!v)
		return ENOMEM;

	heap.v = v;
	heap.cap = cap;

	return 0;
}


uint64_t tmr_jiffies(void)
{
	struct timespec ts;

	/* monotonic: libre's list used gettimeofday(), so a clock step
	 * fired or froze every timer; libre only ever uses differences */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;

	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


void tmr_init(struct tmr *tmr)
{
	if (!tmr)
		return;

	memset(tmr, 0, sizeof(*tmr));
}


void tmr_start(struct tmr *tmr, uint64_t delay, tmr_h *th, void *arg)
{
	if (stock_on()) {
		stock.start(tmr, delay, th, arg);
		return;
	}

	if (!tmr)
		return;

	if (in_heap(tmr))
		heap_remove(tmr);
	else if (tmr->th)
		DEBUG_WARNING("tmr_start: timer %p runs in another thread\n",
			      (void *)tmr);

	tmr->th  = th;
	tmr->arg = arg;

	if (!th) {
		unmark(tmr);
		return;
	}

	if (heap.n == heap.cap && heap_grow()) {
		/* cannot queue it: report it as not running rather than
		 * pretend it will fire */
		DEBUG_WARNING("tmr_start: out of memory, timer dropped\n");
		tmr->th = NULL;
		unmark(tmr);
		return;
	}

	tmr->jfs = delay + tmr_jiffies();
	tmr->le.list = &heap.empty;
	tmr->le.data = tmr;
	++heap.started;

	heap.v[heap.n].jfs = tmr->jfs;
	heap.v[heap.n].seq = ++heap.seq;
	heap.v[heap.n].t = tmr;
	++heap.n;
	sift_up(heap.n - 1);
}


void tmr_cancel(struct tmr *tmr)
{
	tmr_start(tmr, 0, NULL, NULL);
}


/* The list argument is libre's own (empty) timer list: ignored. */
void tmr_poll(struct list *tmrl)
{
	uint64_t jfs;

	if (stock_on()) {
		stock.poll(tmrl);
		return;
	}

	jfs = tmr_jiffies();

	/* same bound as libre: deadline <= the time read on entry, so a
	 * handler that restarts its timer with delay 0 cannot spin here */
	while (heap.n > 0 && heap.v[0].jfs <= jfs) {
		struct tmr *t = heap.v[0].t;
		tmr_h *th = t->th;
		void *arg = t->arg;

		heap_remove(t);
		t->th = NULL;   /* before the call: handlers restart timers */

		th(arg);
	}
}


uint64_t tmr_next_timeout(struct list *tmrl)
{
	uint64_t jif;

	if (stock_on())
		return stock.next(tmrl);

	if (heap.n == 0)
		return 0;

	jif = tmr_jiffies();

	if (heap.v[0].jfs <= jif)
		return 1;

	return heap.v[0].jfs - jif;
}


uint64_t tmr_get_expire(const struct tmr *tmr)
{
	uint64_t jfs;

	if (!tmr || !tmr->th)
		return 0;

	jfs = tmr_jiffies();

	return (tmr->jfs > jfs) ? (tmr->jfs - jfs) : 0;
}


/* libre reaches its list only through tmr_* and this; keep it empty so any
 * list walker (libre's own tmr_status) sees nothing rather than our fields */
struct list *tmrl_get(void)
{
	if (stock_on())
		return stock.tmrl();

	return &heap.empty;
}


int tmr_status(struct re_printf *pf, void *unused)
{
	int err = 0;
	size_t i;

	if (stock_on())
		return stock.status(pf, unused);

	if (heap.n == 0)
		return 0;

	err = re_hprintf(pf, "Timers (%zu, binary heap):\n", heap.n);

	for (i = 0; i < heap.n && i < 100; i++) {
		const struct tmr *t = heap.v[i].t;

		err |= re_hprintf(pf, "  %p: th=%p expire=%llums\n",
				  (const void *)t, (void *)t->th,
				  (unsigned long long)tmr_get_expire(t));
	}

	if (heap.n > 100)
		err |= re_hprintf(pf, "    (Dumped Timers: %zu)\n", heap.n);

	return err;
}


void tmr_debug(void)
{
	if (stock_on() || heap.n > 0)
		(void)re_fprintf(stderr, "%H", tmr_status, NULL);
}


/* Our definition wins only if the dynamic linker resolves libre's PLT
 * entries to it: the executable exports tmr_start and the global scope
 * finds it first. Ask the dynamic linker the same question libre's PLT
 * asks. */
bool dial_tmr_active(void)
{
	void (*mine)(struct tmr *, uint64_t, tmr_h *, void *) = tmr_start;
	void *found = dlsym(RTLD_DEFAULT, "tmr_start");
	void *want;

	memcpy(&want, &mine, sizeof(want));

	return found == want && !stock_on();
}


const char *dial_tmr_impl_name(void)
{
	if (stock_on())
		return "libre sorted list (stock: DIAL_BENCH_STOCK_LIBRE_TIMERS=1)";
	if (!dial_tmr_active())
		return "libre sorted list (dial/tmr_heap.c NOT active)";

	return "binary heap (dial/tmr_heap.c)";
}


/* For tests: the heap property, every index and every key hold. */
bool dial_tmr_check(void)
{
	size_t i;

	for (i = 0; i < heap.n; i++) {
		const struct hent *e = &heap.v[i];

		if (!e->t || !e->t->th || e->t->le.list != &heap.empty ||
		    idx_get(e->t) != i || e->t->jfs != e->jfs)
			return false;
		if (i > 0 && before(e, &heap.v[(i - 1) / 2]))
			return false;
	}

	return true;
}


size_t dial_tmr_count(void)
{
	return heap.n;
}


uint64_t dial_tmr_started(void)
{
	return heap.started;
}
