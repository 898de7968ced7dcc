/* memory.h: giving the allocator's free memory back to the system */
#ifndef DIALERD_MEMORY_H
#define DIALERD_MEMORY_H

#include <stddef.h>

/* Returns the allocator's free pages to the system (tcmalloc when the
 * daemon is linked with it, else glibc's malloc_trim) and logs the RSS
 * before and after. For the moments a burst is over: a few ms of work. */
void memory_release(const char *why);

/* The process's resident set in KiB, 0 when unreadable. */
size_t memory_rss_kib(void);

#endif
