/* dial_test.h: helpers shared by the unit tests that drive dial/ engines through the public API */
#ifndef DIALERD_TESTS_DIAL_TEST_H
#define DIALERD_TESTS_DIAL_TEST_H

#include <stdint.h>

#include "dial/dial.h"

/* The monotonic clock (CLOCK_MONOTONIC) in milliseconds: test deadlines. */
uint64_t dial_test_now_ms(void);

/* Sees every event dial_test_wait_ev takes from the engine, the one it
 * returns included, before that one is matched. */
typedef void (dial_test_ev_h)(const struct dial_event *ev, void *arg);

/* Waits up to ms for an event of that type (and leg, unless NULL) on d;
 * every other event is freed (after eh, which may be NULL, saw it).
 * Returns the event (the caller frees it) or NULL. TEST_DEBUG=1 prints
 * every event as a TAP comment. */
struct dial_event *dial_test_wait_ev(struct dial *d, enum dial_ev_type type,
				     const char *leg, unsigned ms,
				     dial_test_ev_h *eh, void *arg);

/* Frees every event waiting on d now (the reader catches up). */
void dial_test_drain(struct dial *d);

/* dial_alloc with conf, tried 5 times while the port is taken: port 0
 * gives UDP a free port, then TCP asks for the same one, which another
 * socket of the machine may hold. */
int dial_test_alloc(struct dial **dp, const struct dial_conf *conf);

#endif
