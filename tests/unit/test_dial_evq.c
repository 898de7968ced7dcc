/* test_dial_evq.c: the event FIFO is bounded in count and in bytes; past either bound SIP copies are dropped and counted; its eventfd is readable exactly while events wait */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <re.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/libre_test.h"

/* A 200 whose headers weigh about 8 KiB (the header policy's total). */
static char *big_msg(size_t *lenp)
{
	size_t cap = 16384, n;
	char *m = malloc(cap);

	if (!m)
		return NULL;
	n = (size_t)snprintf(m, cap,
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n"
		"From: <sip:a@127.0.0.1>;tag=1\r\n"
		"To: <sip:b@127.0.0.1>;tag=2\r\n"
		"Call-ID: evq@test\r\n"
		"CSeq: 1 INVITE\r\n");
	for (int i = 0; i < 2; i++) {
		n += (size_t)snprintf(m + n, cap - n, "X-Big-%d: ", i);
		memset(m + n, 'a' + i, 4000);
		n += 4000;
		n += (size_t)snprintf(m + n, cap - n, "\r\n");
	}
	n += (size_t)snprintf(m + n, cap - n, "Content-Length: 0\r\n\r\n");
	*lenp = n;
	return m;
}

static bool readable(const struct dial_evq *q)
{
	struct pollfd p = {.fd = q->efd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The loop reads until the FIFO is empty, then asks once more: the
 * eventfd is reset by the read that took the last event alone. */
static void test_wakeup(void)
{
	struct dial_ctr ctr;
	struct dial_evq q;
	struct dial_event *ev;
	bool got;

	memset(&ctr, 0, sizeof(ctr));
	if (!is_int(dial_evq_init(&q, 10, 0, &ctr), 0, "wakeup: queue opened"))
		return;
	ok(!readable(&q), "wakeup: empty, not readable");
	ok(dial_evq_next(&q) == NULL, "wakeup: nothing to take");
	for (int round = 0; round < 3; round++) {
		dial_evq_emit(&q, dial_event_bare(DIAL_EV_ENDED, "CA1"));
		dial_evq_emit(&q, dial_event_bare(DIAL_EV_ENDED, "CA2"));
		ok(!readable(&q), "wakeup %d: gathered, not flushed yet", round);
		dial_evq_flush(&q);
		ok(readable(&q), "wakeup %d: flushed, readable", round);
		ev = dial_evq_next(&q);
		got = ev != NULL;
		dial_event_free(ev);
		ok(got && readable(&q), "wakeup %d: one taken, one left: readable", round);
		ev = dial_evq_next(&q);
		got = ev != NULL;
		dial_event_free(ev);
		ok(got && !readable(&q), "wakeup %d: the last taken: reset", round);
		ok(dial_evq_next(&q) == NULL && !readable(&q),
		   "wakeup %d: asked once more: empty, still reset", round);
	}
	dial_evq_close(&q);
}

static unsigned drain(struct dial_evq *q)
{
	struct dial_event *ev;
	unsigned n = 0;

	while ((ev = dial_evq_next(q))) {
		dial_event_free(ev);
		n++;
	}
	return n;
}

int main(void)
{
	struct dial_ctr ctr;
	struct dial_evq q;
	struct dial_event *ev;
	size_t len = 0, one;
	char *m;
	unsigned n;

	memset(&ctr, 0, sizeof(ctr));
	m = big_msg(&len);
	if (!ok(m != NULL, "message built") ||
	    !is_int(libre_init(), 0, "libre_init"))
		return tap_done();

	if (!is_int(dial_msg_parse(&ev, (uint8_t *)m, len, DIAL_DIR_RX, 1), 0,
		    "an 8 KiB header block parses"))
		goto out;
	one = dial_evq_bytes(ev);
	ok(one > 2 * len, "its cost counts the copies (%zu bytes)", one);
	dial_event_free(ev);

	/* the count bound alone would let 1000 of them in (~17 MB): the
	   byte bound, 10 events' worth, must shed the rest */
	is_int(dial_evq_init(&q, 1000, 10 * one, &ctr), 0, "queue opened");
	for (int i = 0; i < 100; i++) {
		if (dial_msg_parse(&ev, (uint8_t *)m, len, DIAL_DIR_RX, 1))
			break;
		dial_evq_emit(&q, ev);
	}
	dial_evq_flush(&q);
	n = drain(&q);
	is_int(n, 10, "10 copies queued, the byte bound");
	is_int((long long)atomic_load(&ctr.st_dropped), 90,
	       "90 dropped and counted");

	/* state changes are never shed, and do not count against copies
	   taken since: reading frees the budget */
	ev = dial_event_bare(DIAL_EV_ENDED, "CA1");
	for (int i = 0; i < 12; i++) {
		struct dial_event *c = dial_event_clone(ev, DIAL_EV_ENDED);

		dial_evq_emit(&q, c);
	}
	dial_event_free(ev);
	if (!dial_msg_parse(&ev, (uint8_t *)m, len, DIAL_DIR_RX, 1))
		dial_evq_emit(&q, ev);
	dial_evq_flush(&q);
	n = drain(&q);
	is_int(n, 13, "12 ENDED and the copy after a read all queued");
	is_int((long long)atomic_load(&q.bytes), 0, "nothing left counted");

	/* the count bound still holds on its own */
	dial_evq_close(&q);
	memset(&ctr, 0, sizeof(ctr));
	dial_evq_init(&q, 3, 0, &ctr);
	for (int i = 0; i < 5; i++)
		if (!dial_msg_parse(&ev, (uint8_t *)m, len, DIAL_DIR_RX, 1))
			dial_evq_emit(&q, ev);
	dial_evq_flush(&q);
	is_int(drain(&q), 3, "count bound: 3 queued");
	is_int((long long)atomic_load(&ctr.st_dropped), 2, "2 dropped");
	dial_evq_close(&q);

	test_wakeup();
 out:
	free(m);
	libre_close();
	return tap_done();
}
