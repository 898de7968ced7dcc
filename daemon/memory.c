/* memory.c: giving the allocator's free memory back to the system */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/memory.h"

/*
 * Neither allocator hands freed memory back on its own soon: tcmalloc
 * keeps freed spans in its page heap and releases them a little at a
 * time as later frees come, glibc keeps the top of each arena. After a
 * burst (the call log's failover ring alone holds up to 64 MiB of the
 * last 30 s of batches) an idle daemon kept its peak RSS for good. The
 * tcmalloc entry point is looked up at run time: the daemon links it only
 * when configure found it, and the sanitizer builds never.
 */
size_t memory_rss_kib(void)
{
	unsigned long pages_total, pages_rss;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &pages_total, &pages_rss);
	fclose(f);
	if (n != 2)
		return 0;
	return (size_t)pages_rss * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

void memory_release(const char *why)
{
	void (*tc_release)(void);
	void *p = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
	size_t before = memory_rss_kib(), after;

	memcpy(&tc_release, &p, sizeof(p));
	if (tc_release)
		tc_release();
	else
		(void)malloc_trim(0);
	after = memory_rss_kib();
	log_msg(LOG_INFO, "memory", "%s: free memory given back to the system "
		"(%s): RSS %zu -> %zu MiB", why, tc_release ? "tcmalloc" : "glibc",
		before / 1024, after / 1024);
}
