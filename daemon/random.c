/* random.c: the main thread's pool of random bytes */
#include <string.h>
#include <sys/random.h>

#include "daemon/random.h"

void random_bytes(void *out, size_t n)
{
	static unsigned char pool[4096];
	static size_t left;

	if (n > 64)
		n = 64;
	if (left < n) {
		size_t got = 0;

		while (got < sizeof(pool)) {
			ssize_t r = getrandom(pool + got, sizeof(pool) - got, 0);

			if (r > 0)
				got += (size_t)r;
		}
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	left -= n;
}
