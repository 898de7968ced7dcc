/* tap.c: a small Test Anything Protocol writer for the unit tests */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/tap.h"

static unsigned tap_n;
static unsigned tap_failed;

static void tap_vreport(bool cond, const char *file, int line,
			const char *fmt, va_list ap)
{
	++tap_n;
	printf("%sok %u - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	if (!cond) {
		++tap_failed;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vreport(cond, file, line, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is_int(long long got, long long want, const char *file, int line,
		const char *fmt, ...)
{
	va_list ap;
	bool cond = got == want;

	va_start(ap, fmt);
	tap_vreport(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got %lld, want %lld\n", got, want);
	return cond;
}

bool tap_is_str(const char *got, const char *want, const char *file, int line,
		const char *fmt, ...)
{
	va_list ap;
	bool cond = (got && want) ? strcmp(got, want) == 0 : got == want;

	va_start(ap, fmt);
	tap_vreport(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got \"%s\", want \"%s\"\n", got ? got : "(null)",
		       want ? want : "(null)");
	return cond;
}

bool tap_is_mem(const void *got, size_t glen, const void *want, size_t wlen,
		const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	bool cond = glen == wlen && (glen == 0 || memcmp(got, want, glen) == 0);

	va_start(ap, fmt);
	tap_vreport(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got %zu bytes, want %zu bytes\n", glen, wlen);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void tap_skip(unsigned n, const char *why)
{
	while (n--)
		printf("ok %u # SKIP %s\n", ++tap_n, why);
}

int tap_done(void)
{
	printf("1..%u\n", tap_n);
	return tap_failed ? 1 : 0;
}
