/* buf.c: growable byte buffers and CRC32 for the store's records */
#include <errno.h>
#include <pthread.h>
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

/* CRC-32 (IEEE 802.3, as zlib's crc32), slicing by 8: every call-log
 * record and outbox entry is summed once, and the byte-at-a-time loop
 * showed in profiles of the full call flow. The tables are built once,
 * under pthread_once: the outbox's sync thread may be the first caller. */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t v = i;

		for (int k = 0; k < 8; k++)
			v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
		crc_tab[0][i] = v;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = crc_tab[0][crc_tab[t - 1][i] & 0xff] ^
					(crc_tab[t - 1][i] >> 8);
}

uint32_t store_crc32(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	for (; n >= 8; n -= 8, p += 8) {
		/* little-endian byte order of the input, whatever the host's */
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
	}
	while (n--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
