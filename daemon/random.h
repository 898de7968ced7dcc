/* random.h: random bytes for the main thread's identifiers (webhook
 * tokens, SID random bits) */
#ifndef DAEMON_RANDOM_H
#define DAEMON_RANDOM_H

#include <stddef.h>

/* n (at most 64) random bytes from a pool refilled by getrandom: one
 * system call per 4 KiB, not one per identifier. Main thread only. */
void random_bytes(void *out, size_t n);

#endif
