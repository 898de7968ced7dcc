/* test_memory.c: freed heap memory goes back to the system on memory_release() */
#include <stdlib.h>
#include <string.h>

#include "daemon/memory.h"
#include "tests/tap.h"

enum { CHUNKS = 400, CHUNK = 64 * 1024 };	/* 25 MiB below mmap's threshold */

/* Under a sanitizer or valgrind malloc is theirs, with a quarantine of freed
 * blocks: what memory_release() trims is glibc's heap, which they leave
 * unused, so the release has nothing to give back there. */
static const char *foreign_heap(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "a sanitizer's allocator";
#else
	const char *pre = getenv("LD_PRELOAD");

	return pre && strstr(pre, "vgpreload") ? "valgrind's allocator" : NULL;
#endif
}

int main(void)
{
	static char *v[CHUNKS + 1];
	size_t idle, full, freed, released;
	const char *foreign = foreign_heap();

	idle = memory_rss_kib();
	ok(idle > 0, "RSS readable (%zu KiB)", idle);
	for (int i = 0; i < CHUNKS; i++) {
		v[i] = malloc(CHUNK);
		if (!v[i])
			return tap_done();
		memset(v[i], 0x5a, CHUNK);
	}
	/* one block kept above them: the heap's top cannot shrink by itself */
	v[CHUNKS] = malloc(CHUNK);
	full = memory_rss_kib();
	ok(full > idle + 20 * 1024, "touched: RSS %zu -> %zu KiB", idle, full);
	for (int i = 0; i < CHUNKS; i++)
		free(v[i]);
	freed = memory_rss_kib();
	memory_release("test");
	released = memory_rss_kib();
	if (foreign)
		tap_skip(1, foreign);
	else
		ok(released + 20 * 1024 < freed, "released: RSS %zu -> %zu KiB",
		   freed, released);
	free(v[CHUNKS]);
	return tap_done();
}
