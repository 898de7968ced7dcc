/* hex.h: the value of a hexadecimal digit; shared by cxml/ (URI escapes) and daemon/ (form bodies, secrets in URLs) */
#ifndef DIALERD_UTIL_HEX_H
#define DIALERD_UTIL_HEX_H

/*
 * util/ holds header-only helpers that more than one module needs and that
 * belong to none of them: libc only, no state, no other include of the
 * tree, so that every module may include them without an arrow between
 * modules (tests/unit/test_layers checks it).
 */

/* '0'-'9', 'a'-'f', 'A'-'F' -> 0..15; anything else -> -1 */
static inline int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
