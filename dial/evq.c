/* evq.c: events from the SIP thread to the daemon: a locked FIFO whose eventfd is readable while it holds any; the counters */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "dial/internal.h"

/*
 * The daemon watches the eventfd with libevent, so dial/ needs no libevent.
 * Events of one pass of the SIP loop are gathered first and moved to the
 * FIFO by a delay-0 timer, which runs after the pass's descriptors: one
 * lock and at most one eventfd write per pass instead of one per event.
 */

int dial_evq_init(struct dial_evq *q, unsigned max, size_t max_bytes,
		  struct dial_ctr *ctr)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
	q->max_bytes = max_bytes;
	q->ctr = ctr;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0)
		return errno;
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void dial_evq_close(struct dial_evq *q)
{
	struct dial_event *ev;

	if (q->efd < 0)
		return;
	while ((ev = q->head)) {
		q->head = ev->next;
		dial_event_free(ev);
	}
	q->tail = NULL;
	pthread_mutex_destroy(&q->lock);
	close(q->efd);
	q->efd = -1;
}

static void flush_h(void *arg)
{
	struct dial_evq *q = arg;
	bool was_empty;

	if (!q->pend_head)
		return;
	pthread_mutex_lock(&q->lock);
	was_empty = !q->head;
	if (q->tail)
		q->tail->next = q->pend_head;
	else
		q->head = q->pend_head;
	if (was_empty)
		atomic_store_explicit(&q->head_us, q->head->time_us,
				      memory_order_relaxed);
	q->tail = q->pend_tail;
	atomic_fetch_add_explicit(&q->len, q->pend_len, memory_order_relaxed);
	atomic_fetch_add_explicit(&q->bytes, q->pend_bytes,
				  memory_order_relaxed);
	if (was_empty) {
		uint64_t one = 1;

		if (write(q->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at one per batch */
		}
	}
	pthread_mutex_unlock(&q->lock);
	q->pend_head = q->pend_tail = NULL;
	q->pend_len = 0;
	q->pend_bytes = 0;
}

void dial_evq_flush(struct dial_evq *q)
{
	tmr_cancel(&q->flush_tmr);
	flush_h(q);
}

/* The event's one allocation (msg.c's blob): the struct, its header
 * array, the raw block and its tokenised copy, the kept body. Strings of
 * events made elsewhere are small and covered by the slack. */
size_t dial_evq_bytes(const struct dial_event *ev)
{
	return sizeof(*ev) + (ev->hdrc + 1) * sizeof(struct dial_hdr) +
		2 * ev->raw_len + ev->body_len + 64;
}

void dial_evq_emit(struct dial_evq *q, struct dial_event *ev)
{
	size_t sz;

	if (!ev)
		return;
	sz = dial_evq_bytes(ev);
	/* a reader that stopped, or a flood of messages with large headers,
	   must not exhaust memory: past either bound, wire copies are shed
	   (counted), never waited for; state changes never are shed */
	if (ev->type == DIAL_EV_SIP &&
	    (atomic_load_explicit(&q->len, memory_order_relaxed) +
	     q->pend_len >= q->max ||
	     (q->max_bytes &&
	      atomic_load_explicit(&q->bytes, memory_order_relaxed) +
	      q->pend_bytes + sz > q->max_bytes))) {
		if (!atomic_fetch_add_explicit(&q->ctr->st_dropped, 1,
					       memory_order_relaxed))
			dial_log(LOG_WARNING, "event queue full (%u events or "
				 "%zu bytes): SIP message events are dropped",
				 q->max, q->max_bytes);
		dial_event_free(ev);
		return;
	}
	if (!ev->time_us)
		ev->time_us = dial_now_us();
	ev->next = NULL;
	q->pend_len++;
	q->pend_bytes += sz;
	if (q->pend_tail)
		q->pend_tail->next = ev;
	else
		q->pend_head = ev;
	q->pend_tail = ev;
	if (!tmr_isrunning(&q->flush_tmr))
		tmr_start(&q->flush_tmr, 0, flush_h, q);
	atomic_fetch_add_explicit(&q->ctr->st_events, 1, memory_order_relaxed);
}

struct dial_event *dial_evq_next(struct dial_evq *q)
{
	struct dial_event *ev;

	pthread_mutex_lock(&q->lock);
	ev = q->head;
	if (ev) {
		q->head = ev->next;
		if (!q->head)
			q->tail = NULL;
		ev->next = NULL;
		atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(&q->bytes, dial_evq_bytes(ev),
					  memory_order_relaxed);
		atomic_store_explicit(&q->head_us,
				      q->head ? q->head->time_us : 0,
				      memory_order_relaxed);
	}
	/* only when this call took the last one: the counter was set by the
	 * write that filled the queue and is reset once here, under the lock
	 * the write is made under; a call on an empty queue (the reader's
	 * last, to see it empty) finds it reset already, and its read failed
	 * with EAGAIN: 2 of the event loop's ~60 system calls a call at
	 * 300 calls/s */
	if (ev && !q->head) {
		uint64_t n;

		if (read(q->efd, &n, sizeof(n)) < 0) {
			/* not expected: the write that filled it is not undone */
		}
	}
	pthread_mutex_unlock(&q->lock);
	return ev;
}

uint64_t dial_evq_wait_us(const struct dial_evq *q, uint64_t now_us)
{
	uint64_t t = atomic_load_explicit(&q->head_us, memory_order_relaxed);

	return t && now_us > t ? now_us - t : 0;
}

void dial_evq_stats_get(const struct dial_evq *q, struct dial_stats *st)
{
	struct dial_ctr *m = q->ctr;

	st->legs_started = atomic_load(&m->st_legs_started);
	st->legs_ended = atomic_load(&m->st_legs_ended);
	st->inbound = atomic_load(&m->st_inbound);
	st->inbound_rejected_busy = atomic_load(&m->st_inbound_busy);
	st->legs_refused = atomic_load(&m->st_legs_refused);
	st->msgs_rx = atomic_load(&m->st_rx);
	st->msgs_tx = atomic_load(&m->st_tx);
	st->msgs_unmatched = atomic_load(&m->st_unmatched);
	st->events = atomic_load(&m->st_events);
	st->events_dropped = atomic_load(&m->st_dropped);
	st->inbound_shed = atomic_load(&m->st_shed_in);
	st->legs_shed = atomic_load(&m->st_shed_out);
	st->overloads = atomic_load(&m->st_overloads);
	st->shedding = atomic_load(&m->shedding);
	st->queue_delay_us = atomic_load(&m->qdelay_us);
	/* now, not at the SIP thread's last sample: a reader that caught
	   up sees 0 at once */
	st->event_wait_us = dial_evq_wait_us(q, dial_now_us());
	st->udp_drops = atomic_load(&m->st_udp_drops);
	st->overload_filters = atomic_load(&m->st_filtered);
	st->tcp_conns = atomic_load(&m->tcp_open);
	st->tcp_refused = atomic_load(&m->st_tcp_refused);
	st->tcp_src_refused = atomic_load(&m->st_tcp_src_refused);
	st->tcp_slow = atomic_load(&m->st_tcp_slow);
	st->rtp_pairs_idle = atomic_load(&m->rtp_idle);
	st->rtp_pairs_opened = atomic_load(&m->rtp_opened);
	st->rtp_pairs_reused = atomic_load(&m->rtp_reused);
	st->rtp_idle_dropped = atomic_load(&m->rtp_drained);
	st->rtp_refused_full = atomic_load(&m->rtp_refused_full);
	st->byes_answered = atomic_load(&m->st_byes_ok);
	st->byes_failed = atomic_load(&m->st_byes_failed);
}
