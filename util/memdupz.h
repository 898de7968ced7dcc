/* memdupz.h: a NUL-terminated heap copy of n bytes; shared by dial/ (SDP bodies), store/ (the outbox's records) and daemon/ */
#ifndef DIALERD_UTIL_MEMDUPZ_H
#define DIALERD_UTIL_MEMDUPZ_H

#include <stdlib.h>
#include <string.h>

/*
 * For bytes that do not end in a NUL: a received body, a header value
 * inside its block, an evbuffer. Not strndup(), which stops at an inner
 * NUL and, under ASan's strict_string_checks, reads its source up to a
 * NUL that may lie past the n bytes. NULL when out of memory; free() it.
 */
static inline char *util_memdupz(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

#endif
