/* memory.h: the daemon's memory: what the allocator holds, and giving its free memory back */
#ifndef DIALERD_MEMORY_H
#define DIALERD_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the allocator's free pages to the system (tcmalloc when the
 * daemon is linked with it, else glibc's malloc_trim) and logs the RSS
 * before and after. For the moments a burst is over: a few ms of work. */
void memory_release(const char *why);

/* The process's resident set in KiB, 0 when unreadable. */
size_t memory_rss_kib(void);

/* What the allocator reports (tcmalloc's properties, glibc's mallinfo2
 * over all arenas, or the sanitizer's allocator in those builds; under
 * valgrind its own allocator, which none of them sees). false when it
 * cannot tell. */
struct memory_use {
	size_t allocated;	/* bytes the daemon's allocations hold */
	size_t kept_free;	/* mapped by the allocator, free: its free
				   lists and caches, resident until released */
};
bool memory_use(struct memory_use *u);

/* Prints what the daemon's live allocations hold, by allocating stack,
 * to standard error (SIGUSR2). Only an AddressSanitizer build keeps the
 * stacks: false elsewhere. The moment of one's choosing, e.g. with thousands of
 * calls held, is what a profiler attached from outside cannot give. */
bool memory_profile(void);

/* Registers the /metrics gauges dialerd_memory_resident_bytes,
 * dialerd_memory_allocated_bytes and dialerd_memory_allocator_free_bytes. */
void memory_metrics_init(void);

#endif
