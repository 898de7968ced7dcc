/* load.c: overload detection: the SIP UDP socket's queueing delay and fill level, and the daemon's event backlog, decide when new calls are shed */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <syslog.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>

#include "dial/internal.h"

/*
 * Why queueing delay: past its capacity the SIP thread falls behind the
 * UDP socket, messages wait longer and longer in the kernel, the far ends
 * retransmit (T1 = 500 ms) and every admitted call times out: congestion
 * collapse. The time a datagram waited between its arrival (the kernel's
 * stamp, SIOCGSTAMP) and its parsing here measures exactly that backlog,
 * whatever the mix of messages.
 *
 * The daemon's loop can fall behind too (its webhooks, call log and
 * callbacks cost more than the SIP work): events then wait in the FIFO to
 * it while this thread keeps up. Admitted calls' state changes and their
 * post-dial delay wait as long (1.2 s median at 839 calls/s in the full
 * bench before this), and past the FIFO's bound the messages' copies for
 * the call log are shed. So the oldest event's wait counts as a delay too.
 *
 * Two levels:
 * 1. delay (of a datagram, or of an event) > bound, or the socket buffer
 *    half full (a buffer can fill before the bound: net.core.rmem_max
 *    without CAP_NET_ADMIN), for 20 ms of samples (a single late datagram
 *    is a stall, e.g. start-up under a sanitizer, not a backlog): new
 *    INVITEs get a stateless 503 until both delays are under half the
 *    bound and the buffer under a quarter; admitted calls keep being
 *    served, so their messages wait about the bound. A 503 also stops the
 *    far end's retransmissions. New legs are refused (EAGAIN) too while
 *    this thread's own socket is behind; not for the daemon's backlog
 *    alone: those legs are admitted calls' <Dial>s, and refusing them
 *    fails calls already taken (691 of 10,500 at 700 calls/s).
 * 2. the buffer three quarters full: even 503s cost more than the thread
 *    has (a flood), and a full buffer drops datagrams at random, ACKs and
 *    BYEs of admitted calls included. A socket filter then drops every
 *    INVITE in the kernel (far ends retransmit them: only worth it when
 *    the alternative is losing admitted calls' messages) until the buffer
 *    is back under a quarter.
 *
 * Other threads read the state, never this struct (the SIP thread's
 * alone): level 1 is published in ctr->shedding as it changes
 * (dial_overloaded, so that the daemon's REST creates stop while INVITEs
 * get 503, and while the oldest event has waited the whole bound, which
 * an INVITE would turn into level 1 but REST creates alone never do), and
 * "behind", the oldest event older than a quarter of the bound, is
 * computed from the FIFO's head stamp by the reader itself (dial_behind):
 * it is the daemon's cue to put off work that can wait (status callbacks)
 * and catch up well before level 1 sheds calls.
 */

enum {
	SAMPLE_US = 4000,		/* at most one sample per 4 ms: each is
					   an ioctl and a getsockopt, and at
					   1 ms those were 4 system calls per
					   call at 300 calls/s; 5 samples
					   still fall in CONFIRM_US */
	CONFIRM_US = 20000,		/* level 1 only past 20 ms of samples
					   over the mark ... */
	GAP_US = 10000,			/* ... none more than 10 ms apart */
	TICK_MS = 10,			/* re-check while overloaded */
	LOG_EVERY_US = 10000000,	/* one overload log line per 10 s */
};

/* Times are dial_now_us() (CLOCK_REALTIME), the clock of the kernel's
 * receive stamps. */
struct dial_load {
	int udp_fd;		/* the SIP UDP socket, -1: not found */
	const struct dial_evq *evq;	/* the events to the daemon */
	unsigned bound_ms;	/* max_queue_delay_ms */
	struct dial_ctr *ctr;
	uint64_t next_us;	/* next queueing-delay sample */
	uint64_t logged_us, filter_logged_us;
	uint64_t over_since, over_last;	/* samples over the mark */
	bool overloaded;	/* level 1: 503 to new INVITEs */
	bool sip_behind;	/* ... and this thread behind its socket:
				   new legs refused too */
	bool filtering;		/* level 2: INVITEs dropped in the kernel */
	struct tmr tmr;		/* re-checks while overloaded */
};

/* classic BPF on a UDP socket sees the UDP header first: drop datagrams
 * whose payload starts with "INVI" */
static struct sock_filter drop_invite[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x494e5649, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0),
	BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
};

static void load_destructor(void *arg)
{
	struct dial_load *l = arg;

	tmr_cancel(&l->tmr);
	atomic_store_explicit(&l->ctr->shedding, false, memory_order_relaxed);
}

/* level 1 on or off, published for other threads */
static void level1_set(struct dial_load *l, bool on)
{
	l->overloaded = on;
	if (!on)
		l->over_since = 0;
	atomic_store_explicit(&l->ctr->shedding, on, memory_order_relaxed);
}

int dial_load_alloc(struct dial_load **lp, int fd, unsigned bound_ms,
		    const struct dial_evq *evq, struct dial_ctr *ctr)
{
	struct dial_load *l;
	struct timeval tv;

	if (!lp || !evq || !ctr)
		return EINVAL;
	l = mem_zalloc(sizeof(*l), load_destructor);
	if (!l)
		return ENOMEM;
	l->udp_fd = fd;
	l->evq = evq;
	l->bound_ms = bound_ms;
	l->ctr = ctr;
	*lp = l;
	if (fd < 0)
		return 0;
	/* the first SIOCGSTAMP turns the socket's receive stamps on (and
	   fails: nothing stamped yet). Not SO_TIMESTAMP: with it the stamp
	   goes to a control message that libre's recvfrom never reads, and
	   SIOCGSTAMP stops seeing it. */
	if (!ioctl(fd, SIOCGSTAMP, &tv) || errno == ENOENT)
		return 0;
	dial_log(LOG_WARNING, "SIOCGSTAMP: %s: no overload detection",
		 strerror(errno));
	l->udp_fd = -1;
	return 0;
}

static void episode_log(struct dial_load *l, uint64_t now, uint64_t delay,
			uint64_t wait, uint32_t rmem, uint32_t rcvbuf)
{
	if (now < l->logged_us + LOG_EVERY_US)
		return;
	dial_log(LOG_WARNING, "overload: SIP messages waited %llu ms, events "
		 "for the daemon %llu ms (bound %u ms), UDP receive buffer %u%% "
		 "full: shedding new calls (%llu episodes, %llu INVITEs and %llu "
		 "legs shed so far)",
		 (unsigned long long)(delay / 1000),
		 (unsigned long long)(wait / 1000),
		 l->bound_ms,
		 rcvbuf ? (unsigned)((uint64_t)rmem * 100 / rcvbuf) : 0,
		 (unsigned long long)atomic_load(&l->ctr->st_overloads),
		 (unsigned long long)atomic_load(&l->ctr->st_shed_in),
		 (unsigned long long)atomic_load(&l->ctr->st_shed_out));
	l->logged_us = now;
}

static void tick_h(void *arg);

static void filter_set(struct dial_load *l, bool on)
{
	struct sock_fprog prog = {
		.len = sizeof(drop_invite) / sizeof(drop_invite[0]),
		.filter = drop_invite,
	};
	int err, zero = 0;

	if (on == l->filtering)
		return;
	err = on ? setsockopt(l->udp_fd, SOL_SOCKET, SO_ATTACH_FILTER,
			      &prog, sizeof(prog)) :
		setsockopt(l->udp_fd, SOL_SOCKET, SO_DETACH_FILTER, &zero,
			   sizeof(zero));
	if (err) {
		dial_log(LOG_WARNING, "overload: socket filter: %s",
			 strerror(errno));
		return;
	}
	l->filtering = on;
	if (!on)
		return;
	/* the filter can come before level 1 (which waits 20 ms): it needs
	   the re-check timer of its own */
	tmr_start(&l->tmr, TICK_MS, tick_h, l);
	atomic_fetch_add_explicit(&l->ctr->st_filtered, 1, memory_order_relaxed);
	if (dial_now_us() < l->filter_logged_us + LOG_EVERY_US)
		return;
	l->filter_logged_us = dial_now_us();
	dial_log(LOG_WARNING, "overload: SIP UDP receive buffer 3/4 full: "
		 "INVITEs dropped in the kernel until it drains (%llu times "
		 "so far)", (unsigned long long)atomic_load(&l->ctr->st_filtered));
}

/* bytes queued in the socket and its size (SO_MEMINFO); the drops are
 * the kernel's own count for this socket */
static bool meminfo(struct dial_load *l, uint32_t *rmem, uint32_t *rcvbuf)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	memset(mi, 0, sizeof(mi));
	if (getsockopt(l->udp_fd, SOL_SOCKET, SO_MEMINFO, mi, &len) ||
	    len < sizeof(mi))
		return false;
	*rmem = mi[SK_MEMINFO_RMEM_ALLOC];
	*rcvbuf = mi[SK_MEMINFO_RCVBUF];
	atomic_store_explicit(&l->ctr->st_udp_drops, mi[SK_MEMINFO_DROPS],
			      memory_order_relaxed);
	return true;
}

/* Every 10 ms while either level is on: a drained socket ends level 2
 * and the refusal of new legs, and level 1 too once the daemon's events
 * wait less than half the bound. Datagrams are sampled only as they are
 * read: with every INVITE dropped in the kernel and the admitted calls
 * over, nothing would be read again. */
static void recheck(struct dial_load *l)
{
	uint32_t rmem = 0, rcvbuf = 0;
	uint64_t wait = dial_evq_wait_us(l->evq, dial_now_us());
	int queued = 0;

	if (!ioctl(l->udp_fd, SIOCINQ, &queued) && queued == 0) {
		filter_set(l, false);
		l->sip_behind = false;
		atomic_store_explicit(&l->ctr->qdelay_us, 0, memory_order_relaxed);
		if (wait < (uint64_t)l->bound_ms * 500u)
			level1_set(l, false);
		return;
	}
	if (l->filtering && meminfo(l, &rmem, &rcvbuf) && rmem < rcvbuf / 4)
		filter_set(l, false);
}

static void tick_h(void *arg)
{
	struct dial_load *l = arg;

	recheck(l);
	if (l->overloaded || l->filtering)
		tmr_start(&l->tmr, TICK_MS, tick_h, l);
}

void dial_load_sample(struct dial_load *l)
{
	uint64_t now, stamp, delay, wait, bound;
	uint32_t rmem = 0, rcvbuf = 0;
	struct timeval tv;

	if (!l || l->udp_fd < 0)
		return;
	now = dial_now_us();
	if (now < l->next_us)
		return;
	l->next_us = now + SAMPLE_US;
	/* the arrival time of the datagram read last, i.e. the one being
	   traced right now */
	if (ioctl(l->udp_fd, SIOCGSTAMP, &tv) || !meminfo(l, &rmem, &rcvbuf))
		return;
	stamp = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	delay = now > stamp ? now - stamp : 0;
	wait = dial_evq_wait_us(l->evq, now);
	atomic_store_explicit(&l->ctr->qdelay_us, delay, memory_order_relaxed);
	bound = (uint64_t)l->bound_ms * 1000u;
	/* the SIP thread's own backlog, with level 1's exit marks: only
	   then are new legs refused too. A backlog of the daemon's alone
	   sheds new calls only: a leg is an admitted call's <Dial> (REST
	   creates are refused by the daemon itself) */
	l->sip_behind = delay > bound / 2 || rmem > rcvbuf / 4;
	if (rmem > rcvbuf / 4 * 3)
		filter_set(l, true);
	else if (rmem < rcvbuf / 4)
		filter_set(l, false);
	if (!l->overloaded && (delay > bound || wait > bound ||
			       rmem > rcvbuf / 2)) {
		/* one late datagram is a stall (start-up, a slow moment), not
		   overload: it takes a backlog that persists */
		if (!l->over_since || now - l->over_last > GAP_US)
			l->over_since = now;
		l->over_last = now;
		if (now - l->over_since < CONFIRM_US)
			return;
		level1_set(l, true);
		atomic_fetch_add_explicit(&l->ctr->st_overloads, 1,
					  memory_order_relaxed);
		episode_log(l, now, delay, wait, rmem, rcvbuf);
		tmr_start(&l->tmr, TICK_MS, tick_h, l);
	}
	else if (l->overloaded && delay < bound / 2 && wait < bound / 2 &&
		 rmem < rcvbuf / 4) {
		level1_set(l, false);
	}
	else if (!l->overloaded) {
		l->over_since = 0;
	}
}

bool dial_load_shed(const struct dial_load *l)
{
	return l && l->overloaded;
}

bool dial_load_shed_legs(const struct dial_load *l)
{
	return l && l->overloaded && l->sip_behind;
}

bool dial_load_shedding(const struct dial_ctr *ctr)
{
	return atomic_load_explicit(&ctr->shedding, memory_order_relaxed);
}

bool dial_load_behind(const struct dial_evq *q, unsigned bound_ms,
		      uint64_t now_us)
{
	return dial_evq_wait_us(q, now_us) > (uint64_t)bound_ms * 250u;
}

bool dial_load_stalled(const struct dial_evq *q, unsigned bound_ms,
		       uint64_t now_us)
{
	return dial_evq_wait_us(q, now_us) > (uint64_t)bound_ms * 1000u;
}
