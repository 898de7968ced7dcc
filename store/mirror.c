/* mirror.c: the writer's queue copied into a shared file mapping as rows are
 * added, so that rows not yet committed outlive the process (kill -9, a
 * crash of dialerd alone): the next store on the folder moves them into the
 * journal before it writes anything.
 *
 * A store write is a memcpy into the page cache: no system call, no fsync.
 * What it covers is the death of the process, not of the machine (the
 * journal, fsync'd, covers PostgreSQL being away). Without it a kill -9
 * lost the rows of the last flush interval and of the batches in flight.
 *
 * The file (native byte order; it never leaves the machine that wrote it):
 *   header, 4096 bytes: magic, byte-order mark, segment count and size,
 *     salt (random, new at every start), watermark (every row numbered
 *     below it is committed, journaled or given up: store_writer_unsettled)
 *   nseg segments of seg_size bytes, used in turn; each starts with
 *     u64 tag | u64 seq   (tag = mix(salt, seq): a segment of an earlier
 *     turn or an earlier process fails it)
 *   and holds entries, 8-byte aligned, one per store_*_add:
 *     u64 tag | u64 first row number | u32 rows | u32 bytes | the frames
 *   (the frames as in the queue and the journal: CRC'd, so an entry cut by
 *   the kill is found out at recovery).
 * A segment is written again only when every row in it is settled; when
 * the next one is not, rows go unmirrored (counted, logged once) until it
 * is. Pages written are dropped from the mapping every DROP_STEP bytes
 * (MADV_DONTNEED on a shared file mapping keeps them in the page cache):
 * the daemon's resident memory holds at most DROP_STEP of the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "store/internal.h"

#define MAGIC "DLRMIRR1"
#define BOM 0x01020304u
#define HDR_SIZE 4096u
#define NSEG 16u
#define SEG_HDR 16u
#define ENT_HDR 24u
#define SEG_MIN 4096u
#define DROP_STEP (256u << 10)

struct mirror_hdr {
	char magic[8];
	uint32_t bom;
	uint32_t nseg;
	uint64_t seg_size;
	uint64_t salt;
	uint64_t watermark;
};

struct mirror {
	int fd;
	char *path;
	unsigned char *map;
	size_t size, seg_size;
	unsigned nseg;
	uint64_t salt;
	uint64_t seq;		/* of the current segment */
	unsigned cur;		/* the current segment */
	size_t off;		/* where its next entry goes */
	size_t kept;		/* from here to off: pages still mapped */
	uint64_t hi[NSEG];	/* each segment's highest row number (0: none) */
	bool full_logged;
};

static uint64_t tag_of(uint64_t salt, uint64_t seq)
{
	uint64_t x = salt ^ (seq * 0x9e3779b97f4a7c15ull);

	/* splitmix64's finaliser: neighbouring seqs give unrelated tags */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) | 1;	/* never 0, a zeroed page's value */
}

static uint64_t new_salt(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		v ^= (uint64_t)getpid() << 32;
	}
	return v;
}

static unsigned char *seg_at(const struct mirror *m, unsigned i)
{
	return m->map + HDR_SIZE + (size_t)i * m->seg_size;
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

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

/* ---- recovery: what a previous process left ---- */

struct seg_ref {
	unsigned i;
	uint64_t seq;
};

static int by_seq(const void *a, const void *b)
{
	const struct seg_ref *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends to out the frames of segment p numbered at or above watermark;
 * counts them in *rows; *torn when an entry ends in a bad frame. */
static int scan_segment(const unsigned char *p, size_t seg_size, uint64_t tag,
			uint64_t watermark, struct sbuf *out, size_t *rows,
			bool *torn)
{
	size_t off = SEG_HDR;

	while (off + ENT_HDR <= seg_size) {
		const unsigned char *e = p + off;
		uint64_t no = get64(e + 8);
		uint32_t n = get32(e + 16), len = get32(e + 20), pos = 0;

		if (get64(e) != tag)
			break;	/* the end: an earlier turn's bytes, or nothing */
		if (len > seg_size - off - ENT_HDR) {
			*torn = true;
			break;
		}
		for (uint32_t k = 0; k < n; k++, no++) {
			size_t flen;

			if (store_rec_frame_check(e + ENT_HDR + pos, len - pos, &flen)) {
				*torn = true;
				return 0;
			}
			if (no >= watermark) {
				if (sbuf_put(out, e + ENT_HDR + pos, flen))
					return ENOMEM;
				++*rows;
			}
			pos += (uint32_t)flen;
		}
		off += (ENT_HDR + len + 7u) & ~(size_t)7;
	}
	return 0;
}

/* The rows of a mapped file not yet settled, oldest first. */
static int recover_rows(const unsigned char *map, size_t size, struct sbuf *out,
			size_t *rows, bool *torn)
{
	struct mirror_hdr h;
	struct seg_ref refs[NSEG];
	unsigned nref = 0;
	int err = 0;

	memcpy(&h, map, sizeof(h));
	if (!h.magic[0] && !h.bom)
		return 0;	/* sized, never started: a kill during start() */
	if (memcmp(h.magic, MAGIC, 8) || h.bom != BOM || !h.nseg || h.nseg > NSEG ||
	    h.seg_size < SEG_MIN || h.seg_size > (size - HDR_SIZE) / h.nseg)
		return EBADMSG;
	for (unsigned i = 0; i < h.nseg; i++) {
		const unsigned char *p = map + HDR_SIZE + (size_t)i * h.seg_size;
		uint64_t seq = get64(p + 8);

		if (seq && get64(p) == tag_of(h.salt, seq))
			refs[nref++] = (struct seg_ref){i, seq};
	}
	qsort(refs, nref, sizeof(*refs), by_seq);
	for (unsigned k = 0; k < nref && !err; k++)
		err = scan_segment(map + HDR_SIZE + (size_t)refs[k].i * h.seg_size,
				   h.seg_size, tag_of(h.salt, refs[k].seq),
				   h.watermark, out, rows, torn);
	return err;
}

/* Moves what the file at m->path holds into the journal. */
static int recover(struct mirror *m, struct journal *j, unsigned long long *moved)
{
	struct stat st;
	struct sbuf out = {0};
	size_t rows = 0;
	bool torn = false;
	void *map;
	int err;

	if (fstat(m->fd, &st) != 0)
		return errno;
	if (st.st_size == 0)
		return 0;	/* new */
	if (st.st_size < HDR_SIZE + SEG_MIN)
		return EBADMSG;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, m->fd, 0);
	if (map == MAP_FAILED)
		return errno;
	err = recover_rows(map, (size_t)st.st_size, &out, &rows, &torn);
	munmap(map, (size_t)st.st_size);
	if (!err && rows)
		err = store_journal_append(j, out.p, out.len, rows);
	if (!err && rows) {
		*moved = rows;
		store_log(LOG_WARNING, "store: %zu rows (%zu bytes) the previous process "
			  "had not committed (it did not stop cleanly) moved from %s to the "
			  "journal", rows, out.len, m->path);
	}
	if (!err && torn)
		store_log(LOG_WARNING, "store: %s ends in a row cut short (the process "
			  "died writing it); the rows before it are kept", m->path);
	sbuf_free(&out);
	return err;
}

/* Renames the file onto a fresh "<path>.bad-<time>" (the journal's
 * names), so that no earlier one is replaced. */
static void set_aside(struct mirror *m, int err)
{
	char *bad = NULL;
	int fd = store_aside_open(m->path, &bad), why;

	if (fd < 0) {
		why = -fd;
	} else {
		close(fd);
		why = rename(m->path, bad) == 0 ? 0 : errno;
		if (why)
			unlink(bad);	/* the empty name taken for it */
	}
	if (!why)
		store_log(LOG_ERR, "store: cannot recover %s (%s): kept as %s",
			  m->path, strerror(err), bad);
	else
		store_log(LOG_ERR, "store: cannot recover %s (%s), nor set it aside: %s",
			  m->path, strerror(err), strerror(why));
	free(bad);
}

/* ---- the mirror of this process ---- */

/* Sizes the file (its blocks reserved: a store into a hole of a full file
 * system would kill the process with SIGBUS), maps it and starts afresh. */
static int start(struct mirror *m, size_t bytes)
{
	struct mirror_hdr h = {.bom = BOM, .nseg = NSEG};
	int err;

	m->seg_size = (bytes - HDR_SIZE) / NSEG & ~(size_t)4095;
	m->nseg = NSEG;
	m->size = HDR_SIZE + m->nseg * m->seg_size;
	if (ftruncate(m->fd, (off_t)m->size) != 0)
		return errno;
	err = posix_fallocate(m->fd, 0, (off_t)m->size);
	if (err)
		return err;
	m->map = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return errno;
	}
	m->salt = new_salt();
	memcpy(h.magic, MAGIC, 8);
	h.seg_size = m->seg_size;
	h.salt = m->salt;
	h.watermark = 1;
	/* the earlier process's segments fail the new salt's tags */
	memcpy(m->map, &h, sizeof(h));
	m->cur = 0;
	m->seq = 1;
	put64(seg_at(m, 0), tag_of(m->salt, 1));
	put64(seg_at(m, 0) + 8, 1);
	m->off = SEG_HDR;
	m->kept = 0;
	return 0;
}

static void mirror_free(struct mirror *m)
{
	if (!m)
		return;
	if (m->map)
		munmap(m->map, m->size);
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	free(m);
}

int store_mirror_open(struct mirror **mp, const char *dir, size_t bytes,
		      struct journal *j, unsigned long long *recovered)
{
	struct mirror *m;
	size_t plen;
	int err;

	*mp = NULL;
	*recovered = 0;
	if (bytes && bytes < HDR_SIZE + NSEG * SEG_MIN)
		return EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->fd = -1;
	plen = strlen(dir) + sizeof("/" STORE_MIRROR_NAME);
	m->path = malloc(plen);
	if (!m->path) {
		free(m);
		return ENOMEM;
	}
	snprintf(m->path, plen, "%s/%s", dir, STORE_MIRROR_NAME);
	/* the journal's lock, taken before, covers this file too */
	err = store_file_open(m->path, "store", &m->fd);
	if (err) {
		mirror_free(m);
		return err;
	}
	err = recover(m, j, recovered);
	if (err) {
		/* never overwritten: whoever looks later has the bytes */
		set_aside(m, err);
		close(m->fd);
		m->fd = -1;
		err = store_file_open(m->path, "store", &m->fd);
		if (err) {
			mirror_free(m);
			return err;
		}
	}
	if (!bytes) {
		/* mirroring turned off: nothing is left to recover */
		unlink(m->path);
		mirror_free(m);
		return 0;
	}
	err = start(m, bytes);
	if (err) {
		store_log(LOG_ERR, "store: cannot prepare %s (%zu bytes): %s; rows "
			  "not yet committed die with the process", m->path, bytes,
			  strerror(err));
		unlink(m->path);
		mirror_free(m);
		return 0;
	}
	*mp = m;
	return 0;
}

void store_mirror_close(struct mirror *m)
{
	mirror_free(m);
}

void store_mirror_settle(struct mirror *m, uint64_t unsettled)
{
	if (m)
		put64(m->map + offsetof(struct mirror_hdr, watermark), unsettled);
}

/* Unmaps the current segment's pages written below its offset end (the
 * page cache keeps them): they are not read again by this process. */
static void drop_behind(struct mirror *m, size_t end)
{
	size_t lo = m->kept & ~(size_t)4095, hi = end & ~(size_t)4095;

	if (hi > lo)
		madvise(seg_at(m, m->cur) + lo, hi - lo, MADV_DONTNEED);
	m->kept = hi;
}

/* Moves to the next segment if its rows are all settled. */
static bool next_segment(struct mirror *m, uint64_t unsettled)
{
	unsigned next = (m->cur + 1) % m->nseg;
	unsigned char *p;

	if (m->hi[next] && m->hi[next] >= unsettled)
		return false;
	drop_behind(m, m->seg_size);
	m->kept = 0;
	m->cur = next;
	m->seq++;
	m->hi[next] = 0;
	p = seg_at(m, next);
	/* the new tag first: the turn before is gone at once */
	put64(p, tag_of(m->salt, m->seq));
	put64(p + 8, m->seq);
	m->off = SEG_HDR;
	return true;
}

int store_mirror_add(struct mirror *m, const unsigned char *p, size_t len,
		     uint64_t first_no, size_t rows, uint64_t unsettled)
{
	size_t need = (ENT_HDR + len + 7u) & ~(size_t)7;
	unsigned char *e;
	uint32_t n32 = (uint32_t)rows, len32 = (uint32_t)len;
	bool big = need > m->seg_size - SEG_HDR;

	if (big || (m->off + need > m->seg_size && !next_segment(m, unsettled))) {
		if (!m->full_logged)
			store_log(LOG_WARNING, "store: %s", big
				  ? "a row set larger than a segment of the mirror is not "
				    "mirrored: it dies with the process until committed"
				  : "the mirror is full of rows not yet committed: rows past "
				    "it die with the process until committed");
		m->full_logged = true;
		return big ? EFBIG : ENOSPC;
	}
	m->full_logged = false;
	e = seg_at(m, m->cur) + m->off;
	put64(e, tag_of(m->salt, m->seq));
	put64(e + 8, first_no);
	memcpy(e + 16, &n32, 4);
	memcpy(e + 20, &len32, 4);
	memcpy(e + ENT_HDR, p, len);
	m->off += need;
	m->hi[m->cur] = first_no + rows - 1;
	if (m->off - m->kept >= DROP_STEP)
		drop_behind(m, m->off);
	return 0;
}
