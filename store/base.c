/* base.c: what every file of the store uses: the log handler and the two clocks */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

static store_log_h *log_h;
static void *log_arg;

void store_log_handler_set(store_log_h *h, void *arg)
{
	log_h = h;
	log_arg = arg;
}

void store_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* libpq messages end in newlines; a log line must not */
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (log_h)
		log_h(level, buf, log_arg);
}

/* CLOCK_MONOTONIC: deadlines and back-offs must not move when the wall
 * clock is stepped. */
unsigned long long store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* CLOCK_REALTIME: row times are moments in the calendar (timestamptz). */
int64_t store_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
