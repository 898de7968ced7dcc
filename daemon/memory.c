/* memory.c: the daemon's memory: what the allocator holds, and giving its free memory back */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* the sanitizers' allocator interface (gcc ships no header for it) */
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_free_bytes(void);
#define SANITIZER_HEAP 1
#endif
#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer's alone (ThreadSanitizer's runtime has none) */
void __sanitizer_print_memory_profile(size_t top_percent,
				      size_t max_contexts);
#define SANITIZER_PROFILE 1
#endif

#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/metrics.h"

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

bool memory_profile(void)
{
#ifdef SANITIZER_PROFILE
	/* all of it, in at most 200 stacks */
	__sanitizer_print_memory_profile(100, 200);
	return true;
#else
	return false;
#endif
}

#ifndef SANITIZER_HEAP
/* tcmalloc's C entry point, looked up like the release above */
typedef int (tc_property_h)(const char *property, size_t *value);

static tc_property_h *tc_property(void)
{
	tc_property_h *h;
	void *p = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");

	memcpy(&h, &p, sizeof(p));
	return h;
}
#endif

/*
 * The gap between RSS and what the daemon allocated is the allocator's:
 * size classes, per-thread caches, free spans it has not released. It is
 * read apart from RSS so that a figure per held call can tell the
 * daemon's own cost from the allocator's.
 */
bool memory_use(struct memory_use *u)
{
	memset(u, 0, sizeof(*u));
#ifdef SANITIZER_HEAP
	/* malloc is the sanitizer's: glibc's arenas hold nothing */
	u->allocated = __sanitizer_get_current_allocated_bytes();
	u->kept_free = __sanitizer_get_free_bytes();
	return true;
#else
	tc_property_h *prop = tc_property();

	if (prop) {
		size_t heap = 0, unmapped = 0;

		if (!prop("generic.current_allocated_bytes", &u->allocated) ||
		    !prop("generic.heap_size", &heap))
			return false;
		(void)prop("tcmalloc.pageheap_unmapped_bytes", &unmapped);
		/* heap_size counts released (unmapped) pages too */
		if (heap > u->allocated + unmapped)
			u->kept_free = heap - u->allocated - unmapped;
	} else {
		struct mallinfo2 mi = mallinfo2();

		/* uordblks: in use in the arenas; hblkhd: big blocks mapped
		   one by one (all in use); fordblks: free in the arenas */
		u->allocated = mi.uordblks + mi.hblkhd;
		u->kept_free = mi.fordblks;
	}
	return true;
#endif
}

static void collect(void *arg)
{
	struct memory_use u;

	(void)arg;
	metrics_set("dialerd_memory_resident_bytes", NULL,
		    (double)memory_rss_kib() * 1024);
	if (!memory_use(&u))
		return;
	metrics_set("dialerd_memory_allocated_bytes", NULL, (double)u.allocated);
	metrics_set("dialerd_memory_allocator_free_bytes", NULL,
		    (double)u.kept_free);
}

void memory_metrics_init(void)
{
	metrics_family("dialerd_memory_resident_bytes", METRICS_GAUGE,
		       "resident set of the process");
	metrics_family("dialerd_memory_allocated_bytes", METRICS_GAUGE,
		       "bytes held by the daemon's allocations (as the "
		       "allocator, tcmalloc or glibc, counts them)");
	metrics_family("dialerd_memory_allocator_free_bytes", METRICS_GAUGE,
		       "bytes the allocator keeps mapped but free (its free "
		       "lists and caches), resident until given back");
	metrics_collector_add(collect, NULL);
}
