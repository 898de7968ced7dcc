/* tap.h: a small Test Anything Protocol writer for the unit tests */
#ifndef DIALERD_TAP_H
#define DIALERD_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* Each check prints one "ok N - name" or "not ok N - name" line and returns
 * the condition, so a test may stop early on a failed precondition. */
bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool tap_is_int(long long got, long long want, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool tap_is_str(const char *got, const char *want, const char *file,
		int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
bool tap_is_mem(const void *got, size_t glen, const void *want, size_t wlen,
		const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(unsigned n, const char *why);

/* Prints the plan "1..N" and returns the exit status: 0 when all passed. */
int tap_done(void);

#define ok(c, ...) tap_ok((c), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(g, w, ...) tap_is_int((g), (w), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(g, w, ...) tap_is_str((g), (w), __FILE__, __LINE__, __VA_ARGS__)
#define is_mem(g, gl, w, wl, ...) \
	tap_is_mem((g), (gl), (w), (wl), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) tap_diag(__VA_ARGS__)

#endif
