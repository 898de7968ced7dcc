/* libre_test.h: helpers shared by the unit tests that drive libre's loop themselves */
#ifndef DIALERD_TESTS_LIBRE_TEST_H
#define DIALERD_TESTS_LIBRE_TEST_H

#include <stddef.h>

/* Runs libre's loop of the calling thread for ms milliseconds. */
void libre_test_run_ms(unsigned ms);

/* A dbg_handler_set() handler: libre's warnings become TAP comments
 * instead of coloured stderr. */
void libre_test_dbg_h(int level, const char *p, size_t len, void *arg);

#endif
