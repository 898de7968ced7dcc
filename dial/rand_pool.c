/* rand_pool.c: libre's rand_* (re_sys.h) served from a per-thread pool of OpenSSL random bytes */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/rand.h>

#include <re.h>

#include "dial/internal.h"

/*
 * Why: libre 1.1.0 built with OpenSSL calls RAND_bytes() for every
 * rand_u32() (a rand_u64() is two calls), and every SIP request takes
 * several (branch, tag, Call-ID, CSeq). OpenSSL 3's RAND_bytes locks,
 * looks up its DRBG parameters and checks getpid() on each call: 12-15 %
 * of the SIP thread's CPU under load (perf, bench/dial). libre calls these
 * through its PLT, so defining them here serves them from a 4 KiB pool per
 * thread, refilled by one RAND_bytes() call: the same generator, the same
 * output quality, one lock per 4 KiB instead of per 4 bytes. Bytes are
 * wiped once handed out; a forked child starts with an empty pool.
 */

enum {
	POOL = 4096,
	DIRECT = 256,   /* larger requests bypass the pool */
};

struct pool {
	uint8_t buf[POOL];
	size_t pos;     /* bytes already handed out */
	bool filled;
};

static _Thread_local struct pool pool;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* links this file into every program that links the timers (tmr_heap.c) */
const char dial_rand_pool_anchor = 1;

static const char alphanum[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	"abcdefghijklmnopqrstuvwxyz"
	"0123456789";

static void child_after_fork(void)
{
	/* the only thread of the child: its pool must not repeat the
	 * parent's bytes */
	memset(&pool, 0, sizeof(pool));
}

static void init_once(void)
{
	(void)pthread_atfork(NULL, NULL, child_after_fork);
}

static void fill(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) == 1)
		return;

	/* OpenSSL failed (should not happen): the kernel's CSPRNG */
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += r;
		n -= (size_t)r;
	}
}

static void take(void *dst, size_t n)
{
	uint8_t *p = dst;

	if (n > DIRECT) {
		fill(p, n);
		return;
	}

	if (!pool.filled || POOL - pool.pos < n) {
		(void)pthread_once(&once, init_once);
		fill(pool.buf, POOL);
		pool.pos = 0;
		pool.filled = true;
	}

	memcpy(p, pool.buf + pool.pos, n);
	memset(pool.buf + pool.pos, 0, n);
	pool.pos += n;
}


uint16_t rand_u16(void)
{
	uint16_t v;

	take(&v, sizeof(v));
	return v;
}


uint32_t rand_u32(void)
{
	uint32_t v;

	take(&v, sizeof(v));
	return v;
}


uint64_t rand_u64(void)
{
	uint64_t v;

	take(&v, sizeof(v));
	return v;
}


void rand_bytes(uint8_t *p, size_t size)
{
	if (!p || !size)
		return;

	take(p, size);
}


/* as libre's: size - 1 characters of [A-Za-z0-9] and a NUL */
void rand_str(char *str, size_t size)
{
	size_t i;

	if (!str || !size)
		return;

	--size;
	take(str, size);

	for (i = 0; i < size; i++)
		str[i] = alphanum[((uint8_t)str[i]) % (sizeof(alphanum) - 1)];

	str[size] = '\0';
}


char rand_char(void)
{
	char s[2];

	rand_str(s, sizeof(s));

	return s[0];
}
