/* dial_test.c: helpers shared by the unit tests that drive dial/ engines through the public API */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/tap.h"
#include "tests/unit/dial_test.h"

uint64_t dial_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct dial_event *dial_test_wait_ev(struct dial *d, enum dial_ev_type type,
				     const char *leg, unsigned ms,
				     dial_test_ev_h *eh, void *arg)
{
	uint64_t end = dial_test_now_ms() + ms;
	bool debug = getenv("TEST_DEBUG") != NULL;

	for (;;) {
		struct dial_event *ev;
		struct pollfd p = {dial_event_fd(d), POLLIN, 0};
		uint64_t now;

		while ((ev = dial_event_next(d))) {
			if (debug)
				diag("%s %s %s", dial_ev_name(ev->type),
				     ev->leg_id, ev->start_line ?
				     ev->start_line : "");
			if (eh)
				eh(ev, arg);
			if (ev->type == type &&
			    (!leg || !strcmp(leg, ev->leg_id)))
				return ev;
			dial_event_free(ev);
		}
		now = dial_test_now_ms();
		if (now >= end)
			return NULL;
		(void)poll(&p, 1, (int)(end - now > 50 ? 50 : end - now));
	}
}

void dial_test_drain(struct dial *d)
{
	struct dial_event *ev;

	while ((ev = dial_event_next(d)))
		dial_event_free(ev);
}

int dial_test_alloc(struct dial **dp, const struct dial_conf *conf)
{
	int err = EADDRINUSE;

	for (int i = 0; i < 5 && err == EADDRINUSE; i++)
		err = dial_alloc(dp, conf);
	return err;
}
