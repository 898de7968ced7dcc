/* journal.c: an append-only file of CRC-framed records, fsync'd per append:
 * the rows held while PostgreSQL is away, and the webhook outbox */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "store/internal.h"


/* Walks every frame from the start; the first one that is short or fails
 * its CRC ends the valid part: a crash cut a write in the middle. */
static int scan(struct journal *j, uint64_t *valid, unsigned long long *rows)
{
	struct sbuf b = {0};
	uint64_t off = 0;
	int err = 0;

	*rows = 0;
	if (sbuf_reserve(&b, 1 << 20))
		return ENOMEM;
	for (;;) {
		ssize_t n;
		size_t pos = 0, flen;

		n = pread(j->fd, b.p + b.len, b.cap - b.len, (off_t)(off + b.len));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		b.len += (size_t)n;
		while (rec_frame_check(b.p + pos, b.len - pos, &flen) == 0) {
			pos += flen;
			++*rows;
		}
		off += pos;
		sbuf_consume(&b, pos);
		if (n == 0)
			break;	/* EOF: whatever is left is torn */
		if (b.len == b.cap) {
			/* a frame larger than the buffer, or garbage */
			size_t need;

			if (rec_frame_check(b.p, b.len, &flen) == EBADMSG)
				break;
			need = REC_HDR + ((size_t)b.p[0] | (size_t)b.p[1] << 8 |
					  (size_t)b.p[2] << 16 | (size_t)b.p[3] << 24);
			if (sbuf_reserve(&b, need - b.len)) {
				err = ENOMEM;
				break;
			}
		}
	}
	*valid = off;
	sbuf_free(&b);
	return err;
}

int store_journal_open(struct journal *j, const char *dir, const char *name)
{
	struct stat st;
	uint64_t valid = 0;
	unsigned long long rows;
	size_t plen;
	int err;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	plen = strlen(dir) + strlen(name) + 2;
	j->path = malloc(plen);
	if (!j->path)
		return ENOMEM;
	snprintf(j->path, plen, "%s/%s", dir, name);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		err = errno;
		store_log(LOG_ERR, "journal: cannot create %s: %s", dir, strerror(err));
		goto out;
	}
	j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (j->fd < 0) {
		err = errno;
		store_log(LOG_ERR, "journal: cannot open %s: %s", j->path,
			  strerror(err));
		goto out;
	}
	if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
		err = errno == EWOULDBLOCK ? EBUSY : errno;
		store_log(LOG_ERR, "journal: %s is in use by another process",
			  j->path);
		goto out;
	}
	if (fstat(j->fd, &st) != 0) {
		err = errno;
		goto out;
	}
	err = scan(j, &valid, &rows);
	if (err) {
		store_log(LOG_ERR, "journal: cannot read %s: %s", j->path,
			  strerror(err));
		goto out;
	}
	if (valid < (uint64_t)st.st_size) {
		store_log(LOG_WARNING,
			  "journal: torn tail in %s: %llu bytes after offset %llu "
			  "are not a whole record; cut",
			  j->path, (unsigned long long)((uint64_t)st.st_size - valid),
			  (unsigned long long)valid);
		if (ftruncate(j->fd, (off_t)valid) != 0 || fsync(j->fd) != 0) {
			err = errno;
			store_log(LOG_ERR, "journal: cannot cut %s: %s", j->path,
				  strerror(err));
			goto out;
		}
	}
	j->size = valid;
	if (rows)
		store_log(LOG_NOTICE, "journal: %llu rows (%llu bytes) to replay from %s",
			  rows, (unsigned long long)valid, j->path);
 out:
	if (err)
		store_journal_close(j);
	return err;
}

void store_journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	free(j->path);
	j->path = NULL;
}

int store_journal_write(struct journal *j, const unsigned char *p, size_t n,
			size_t rows)
{
	size_t done = 0;

	if (j->fd < 0)
		return EBADF;
	while (done < n) {
		ssize_t w = pwrite(j->fd, p + done, n - done,
				   (off_t)(j->size + done));

		if (w < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			/* leave no half record behind */
			if (ftruncate(j->fd, (off_t)j->size) != 0)
				store_log(LOG_ERR, "journal: cannot undo a short write: %s",
					  strerror(errno));
			return err;
		}
		done += (size_t)w;
	}
	j->size += n;
	j->rows_appended += rows;
	return 0;
}

int store_journal_append(struct journal *j, const unsigned char *p, size_t n,
			 size_t rows)
{
	uint64_t before = j->size;
	int err = store_journal_write(j, p, n, rows);

	if (err)
		return err;
	if (fdatasync(j->fd) != 0) {
		err = errno;
		if (ftruncate(j->fd, (off_t)before) == 0) {
			j->size = before;
			j->rows_appended -= rows;
		}
	}
	return err;
}

int store_journal_read(struct journal *j, struct sbuf *out, size_t max_rows,
		 size_t max_bytes, size_t *rows)
{
	size_t start = out->len, pos, flen;
	uint64_t avail = j->size - j->replay_off;
	size_t want = avail > max_bytes ? max_bytes : (size_t)avail;
	int err;

	*rows = 0;
	if (!want)
		return 0;
	if (sbuf_reserve(out, want))
		return ENOMEM;
	for (size_t got = 0; got < want;) {
		ssize_t n = pread(j->fd, out->p + start + got, want - got,
				  (off_t)(j->replay_off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		got += (size_t)n;
	}
	out->len = start + want;
	pos = start;
	while (*rows < max_rows &&
	       (err = rec_frame_check(out->p + pos, out->len - pos, &flen)) == 0) {
		pos += flen;
		++*rows;
	}
	if (pos == start && want == avail) {
		/* checked at open, so this is damage since: cut it */
		store_log(LOG_ERR, "journal: bad record at offset %llu; cutting %llu bytes",
			  (unsigned long long)j->replay_off,
			  (unsigned long long)avail);
		out->len = start;
		if (ftruncate(j->fd, (off_t)j->replay_off) == 0)
			j->size = j->replay_off;
		return EBADMSG;
	}
	if (pos == start && want < avail) {
		/* one frame larger than max_bytes: read it alone */
		size_t need = REC_HDR + ((size_t)out->p[start] |
					 (size_t)out->p[start + 1] << 8 |
					 (size_t)out->p[start + 2] << 16 |
					 (size_t)out->p[start + 3] << 24);

		out->len = start;
		if (need > REC_HDR + REC_MAX_PAYLOAD || need <= max_bytes)
			return EBADMSG;
		return store_journal_read(j, out, max_rows, need, rows);
	}
	out->len = pos;
	j->replay_off += pos - start;
	return 0;
}

int store_journal_truncate(struct journal *j)
{
	if (j->fd < 0)
		return EBADF;
	if (ftruncate(j->fd, 0) != 0 || fsync(j->fd) != 0)
		return errno;
	j->size = 0;
	j->replay_off = 0;
	j->done_off = 0;
	return 0;
}

bool store_journal_pending(const struct journal *j)
{
	return j->fd >= 0 && j->size > 0;
}
