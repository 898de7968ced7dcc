/* fuzz_store_mirror.c: libFuzzer target for the reader of the queue's
 * mirror (store/mirror.c, store_mirror_open at start-up): any file left in
 * data_dir as store.mirror is recovered or set aside, never refused; what
 * it moves to the journal is whole checked frames, as many as it reports,
 * that decode inside their frames and are bytes of the file; a second
 * start on the same file moves the same bytes; and the new mirror it
 * starts takes a row that the next start gives back.
 *
 * The first input byte is a mode, the rest the file. Bit 0: the file is
 * zero-extended to the size its header claims (the writer's files are
 * mostly zeros past their last entry: seeds leave them out). Bit 1: the
 * frames inside entries tagged like their segment get their CRCs
 * recomputed first, so that mutated frames are read as frames. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "tests/fuzz/frame_crc.h"
#include "tests/fuzz/scratch_dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the layout of store/mirror.c */
#define HDR_SIZE 4096u
#define NSEG 16u
#define SEG_HDR 16u
#define ENT_HDR 24u
#define SEG_MIN 4096u
#define MIRROR_MIN (HDR_SIZE + NSEG * SEG_MIN)
#define MAX_FILE (4u << 20)

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Recomputes the CRCs of the frames of every entry tagged like its
 * segment (the segment's own tag is left as it is). */
static void fix_crcs(unsigned char *f, size_t size)
{
	uint32_t nseg;
	uint64_t seg_size;

	if (size < 32)
		return;
	nseg = get32(f + 12);
	seg_size = get64(f + 16);
	if (!nseg || nseg > NSEG || seg_size < SEG_MIN || seg_size > size)
		return;
	for (uint32_t i = 0; i < nseg; i++) {
		size_t at = HDR_SIZE + (size_t)i * seg_size, off = SEG_HDR;
		unsigned char *s = f + at;

		if (at > size || size - at < seg_size)
			break;
		while (off + ENT_HDR <= seg_size && get64(s + off) == get64(s)) {
			uint32_t len = get32(s + off + 20);

			if (len > seg_size - off - ENT_HDR)
				break;
			frame_crc_fix(s + off + ENT_HDR, len);
			off += (ENT_HDR + (size_t)len + 7u) & ~(size_t)7;
		}
	}
}

/* The file the input makes (see the top); *size its length. */
static unsigned char *make_file(const uint8_t *data, size_t in, size_t *size)
{
	size_t n = in - 1, want = n;
	unsigned char *f;

	if ((data[0] & 1) && n >= 32) {
		uint32_t nseg = get32(data + 1 + 12);
		uint64_t seg_size = get64(data + 1 + 16);

		if (nseg && nseg <= NSEG && seg_size >= SEG_MIN &&
		    seg_size <= (MAX_FILE - HDR_SIZE) / nseg &&
		    HDR_SIZE + nseg * seg_size > n)
			want = HDR_SIZE + nseg * seg_size;
	}
	f = calloc(1, want ? want : 1);
	if (!f)
		abort();
	memcpy(f, data + 1, n);
	if (data[0] & 2)
		fix_crcs(f, want);
	*size = want;
	return f;
}

static void write_file(const unsigned char *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, STORE_MIRROR_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void journal_open(struct journal *j)
{
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	if (store_journal_open(j, fuzz_dir, STORE_JOURNAL_NAME) || j->size)
		__builtin_trap();
}

/* The journal's bytes from off to its end. */
static void journal_bytes(struct journal *j, uint64_t off, struct sbuf *out)
{
	size_t n = (size_t)(j->size - off);

	sbuf_reset(out);
	if (j->size < off || sbuf_reserve(out, n ? n : 1))
		__builtin_trap();
	if (pread(j->fd, out->p, n, (off_t)off) != (ssize_t)n)
		abort();
	out->len = n;
}

/* What a start moved to the journal: whole checked frames, rows of them,
 * that decode inside their frames and (the first ones) are in the file. */
static void check_moved(const struct sbuf *b, unsigned long long rows,
			const unsigned char *file, size_t fsize)
{
	size_t pos = 0, flen;
	unsigned long long seen = 0;

	while (pos < b->len) {
		struct rec r;

		if (store_rec_frame_check(b->p + pos, b->len - pos, &flen) ||
		    flen < REC_HDR || flen > b->len - pos)
			__builtin_trap();	/* a frame not whole or not checked */
		if (store_rec_decode(&r, b->p + pos + REC_HDR, flen - REC_HDR) == 0) {
			if (r.table >= T_COUNT || r.ncols > REC_MAX_COLS)
				__builtin_trap();
			for (unsigned i = 0; i < r.ncols; i++) {
				const struct rec_col *c = &r.col[i];

				if (c->p && (c->p < b->p + pos + REC_HDR ||
					     c->p + c->len > b->p + pos + flen))
					__builtin_trap();
			}
		}
		if (seen < 32 && !memmem(file, fsize, b->p + pos, flen))
			__builtin_trap();	/* not bytes of the file */
		pos += flen;
		seen++;
	}
	if (seen != rows)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a row for the new mirror: a frame of 13 bytes */
	unsigned char row[REC_HDR + 13] = {13, 0, 0, 0};
	struct journal j;
	struct mirror *m = NULL;
	struct sbuf first = {0}, again = {0};
	unsigned long long rec = 0, rec2 = 0, rec3 = 0;
	unsigned char *file;
	size_t fsize;
	uint64_t before;
	char path[512];
	struct stat st;
	uint32_t crc;

	fuzz_dir_get("mirror");
	if (size < 1 || size > (1u << 20))
		return 0;
	file = make_file(data, size, &fsize);
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, STORE_MIRROR_NAME);

	/* a start with mirroring turned off: the rows move, the file goes
	 * (or is set aside when it cannot be read back) */
	fuzz_dir_empty();
	write_file(file, fsize);
	journal_open(&j);
	if (store_mirror_open(&m, fuzz_dir, 0, &j, &rec) || m)
		__builtin_trap();	/* a damaged file is set aside, never refused */
	if (stat(path, &st) == 0)
		__builtin_trap();
	journal_bytes(&j, 0, &first);
	check_moved(&first, rec, file, fsize);
	store_journal_close(&j);

	/* the same file again, with a new mirror started after it: the same
	 * rows; then a row in the new mirror, left unsettled, comes back */
	fuzz_dir_empty();
	write_file(file, fsize);
	journal_open(&j);
	if (store_mirror_open(&m, fuzz_dir, MIRROR_MIN, &j, &rec2))
		__builtin_trap();
	journal_bytes(&j, 0, &again);
	if (rec2 != rec || again.len != first.len ||
	    (first.len && memcmp(first.p, again.p, first.len)))
		__builtin_trap();
	if (m) {	/* NULL: it could not be prepared (a full disk) */
		memcpy(row + REC_HDR, "fuzz-mirror!!", 13);
		crc = store_crc32(row + REC_HDR, 13);
		for (int i = 0; i < 4; i++)
			row[4 + i] = (unsigned char)(crc >> (8 * i));
		if (store_mirror_add(m, row, sizeof(row), 5, 1, 5))
			__builtin_trap();
		store_mirror_close(m);
		m = NULL;
		before = j.size;
		if (store_mirror_open(&m, fuzz_dir, 0, &j, &rec3) || m || rec3 != 1)
			__builtin_trap();
		journal_bytes(&j, before, &again);
		if (again.len != sizeof(row) || memcmp(again.p, row, sizeof(row)))
			__builtin_trap();
	}
	store_journal_close(&j);
	sbuf_free(&first);
	sbuf_free(&again);
	free(file);
	return 0;
}
