/* internal.h: store/ private declarations shared by its .c files */
#ifndef DIALERD_STORE_INTERNAL_H
#define DIALERD_STORE_INTERNAL_H

#include <stdarg.h>

#include "store/store.h"

void store_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Monotonic clock in milliseconds. */
unsigned long long store_now_ms(void);

#endif
