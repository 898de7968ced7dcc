/* test_memory.c: the allocator's figures follow what is allocated, and freed heap memory goes back to the system on memory_release() */
#include <stdbool.h>
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
	struct memory_use u0, u1, u2;
	bool readable;

	idle = memory_rss_kib();
	ok(idle > 0, "RSS readable (%zu KiB)", idle);
	/* called first: the arguments of ok() are evaluated in any order */
	readable = memory_use(&u0);
	ok(readable, "allocator figures readable (%zu bytes allocated)",
	   u0.allocated);
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
	(void)memory_use(&u1);
	for (int i = 0; i < CHUNKS; i++)
		free(v[i]);
	(void)memory_use(&u2);
	if (foreign) {
		tap_skip(2, foreign);
	} else {
		ok(u1.allocated >= u0.allocated + (size_t)CHUNKS * CHUNK,
		   "allocated follows malloc: %zu -> %zu bytes", u0.allocated,
		   u1.allocated);
		ok(u2.allocated + (size_t)CHUNKS * CHUNK <= u1.allocated + 4096 &&
		   u2.kept_free >= (size_t)CHUNKS * CHUNK / 2,
		   "freed: allocated %zu bytes, the allocator keeps %zu free",
		   u2.allocated, u2.kept_free);
	}
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
