/* frame_crc.h: lets a fuzzer's mutations past the CRC of the store's frames
 * (journal, outbox and mirror records: length, CRC-32, payload), so they
 * reach the decoding behind it */
#ifndef DIALERD_FRAME_CRC_H
#define DIALERD_FRAME_CRC_H

#include <stddef.h>
#include <stdint.h>

#include "store/internal.h"

/* Recomputes the CRC of each frame that fits, from the start of p. */
static inline void frame_crc_fix(unsigned char *p, size_t n)
{
	size_t pos = 0;

	while (n - pos >= REC_HDR) {
		uint32_t len = (uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 |
			       (uint32_t)p[pos + 2] << 16 | (uint32_t)p[pos + 3] << 24;
		uint32_t crc;

		if (len < 3 || len > n - pos - REC_HDR)
			break;
		crc = store_crc32(p + pos + REC_HDR, len);
		for (unsigned i = 0; i < 4; i++)
			p[pos + 4 + i] = (unsigned char)(crc >> (8 * i));
		pos += REC_HDR + len;
	}
}

#endif
