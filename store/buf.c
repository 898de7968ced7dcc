/* buf.c: growable byte buffers and CRC32 for the store's records */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

int sbuf_reserve(struct sbuf *b, size_t extra)
{
	size_t cap;
	unsigned char *p;

	if (b->cap - b->len >= extra)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int sbuf_put(struct sbuf *b, const void *data, size_t n)
{
	if (!n)
		return 0;
	if (sbuf_reserve(b, n))
		return ENOMEM;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int sbuf_putc(struct sbuf *b, unsigned char c)
{
	if (b->len == b->cap && sbuf_reserve(b, 1))
		return ENOMEM;
	b->p[b->len++] = c;
	return 0;
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* CRC-32 (IEEE 802.3, as zlib's crc32), table-driven */
uint32_t store_crc32(const void *data, size_t n)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = 1;
	}
	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
