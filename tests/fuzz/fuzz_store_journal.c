/* fuzz_store_journal.c: libFuzzer target for the journal reader: any file
 * left in data_dir opens, keeps only whole checked frames, and reads back
 * as records that decode inside their frames and copy out */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "tests/fuzz/scratch_dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every frame decodes (or is refused) with its columns inside the frame,
 * and copies out in both COPY formats without reading past it. */
static void check_frames(const unsigned char *p, size_t n, size_t rows)
{
	struct sbuf out = { 0 };
	size_t pos = 0, seen = 0, flen;

	while (pos < n) {
		struct rec r;

		if (store_rec_frame_check(p + pos, n - pos, &flen) || flen < REC_HDR ||
		    flen > n - pos)
			__builtin_trap();	/* the reader handed out a bad frame */
		if (store_rec_decode(&r, p + pos + REC_HDR, flen - REC_HDR) == 0) {
			if (r.table >= T_COUNT || r.ncols > REC_MAX_COLS)
				__builtin_trap();
			for (unsigned i = 0; i < r.ncols; i++) {
				const struct rec_col *c = &r.col[i];

				if (c->p && (c->p < p + pos + REC_HDR ||
					     c->p + c->len > p + pos + flen))
					__builtin_trap();
			}
			sbuf_reset(&out);
			(void)store_rec_copy_line(&out, &r, 1);
			sbuf_reset(&out);
			if (store_rec_copy_binary_begin(&out) == 0 &&
			    store_rec_copy_binary(&out, &r, 1) == 0)
				(void)store_rec_copy_binary_end(&out);
		}
		pos += flen;
		seen++;
	}
	if (seen != rows)
		__builtin_trap();
	sbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j;
	struct sbuf buf = { 0 };
	char path[512];
	size_t rows, total = 0;
	uint64_t kept;
	int fd, err;

	fuzz_dir_get("journal");
	if (size > (1u << 20))
		return 0;
	/* the input also goes through the in-memory checks directly */
	for (size_t pos = 0, flen; pos < size &&
	     store_rec_frame_check(data + pos, size - pos, &flen) == 0; pos += flen) {
		struct rec r;

		if (flen < REC_HDR || flen > size - pos)
			__builtin_trap();
		(void)store_rec_decode(&r, data + pos + REC_HDR, flen - REC_HDR);
	}
	fuzz_dir_empty();
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, STORE_JOURNAL_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	memset(&j, 0, sizeof(j));
	j.fd = -1;
	err = store_journal_open(&j, fuzz_dir, STORE_JOURNAL_NAME);
	if (err)
		__builtin_trap();	/* a damaged file is cut, never refused */
	kept = j.size;
	/* what is kept is a prefix of the file as it was */
	if (kept > size)
		__builtin_trap();
	while (store_journal_pending(&j)) {
		sbuf_reset(&buf);
		err = store_journal_read(&j, &buf, 100, 4096, &rows);
		if (err)
			__builtin_trap();	/* frames were checked at open */
		if (!rows)
			break;
		check_frames(buf.p, buf.len, rows);
		if (memcmp(buf.p, data + total, buf.len))
			__builtin_trap();
		total += buf.len;
	}
	if (total != kept)
		__builtin_trap();	/* every kept byte reads back as frames */
	store_journal_close(&j);
	sbuf_free(&buf);
	return 0;
}
