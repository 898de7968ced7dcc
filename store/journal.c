/* journal.c: an append-only file of CRC-framed records, fsync'd per append:
 * the rows held while PostgreSQL is away, and the webhook outbox */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
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
		while (store_rec_frame_check(b.p + pos, b.len - pos, &flen) == 0) {
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

			if (store_rec_frame_check(b.p, b.len, &flen) == EBADMSG)
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

/* The directory holds files that replay into the database: one writable by
 * another user could have rows slipped into the call log. */
static int check_dir(const char *dir)
{
	struct stat st;
	int err;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		err = errno;
		store_log(LOG_ERR, "journal: cannot create %s: %s", dir, strerror(err));
		return err;
	}
	if (stat(dir, &st) != 0) {
		err = errno;
		store_log(LOG_ERR, "journal: cannot stat %s: %s", dir, strerror(err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		store_log(LOG_ERR, "journal: %s is not a directory", dir);
		return ENOTDIR;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		store_log(LOG_ERR, "journal: %s is writable by group or others "
			  "(mode %04o); refused: chmod go-w it or pick another "
			  "data_dir", dir, (unsigned)(st.st_mode & 07777));
		return EPERM;
	}
	return 0;
}

/* O_NOFOLLOW and these checks: a symlink, a FIFO or a file planted by
 * another user in data_dir is never read as rows nor written through. */
int store_file_open(const char *path, const char *who, int *fdp)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		      O_NOCTTY | O_NONBLOCK, 0640);
	int err = 0;

	if (fd < 0) {
		err = errno;
		store_log(LOG_ERR, "%s: cannot open %s: %s%s", who, path,
			  strerror(err), err == ELOOP ? " (a symbolic link)" : "");
		return err;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
	} else if (!S_ISREG(st.st_mode)) {
		store_log(LOG_ERR, "%s: %s is not a regular file; refused", who, path);
		err = EPERM;
	} else if (st.st_uid != geteuid()) {
		store_log(LOG_ERR, "%s: %s belongs to uid %u, not to us (%u); "
			  "refused", who, path, (unsigned)st.st_uid,
			  (unsigned)geteuid());
		err = EPERM;
	} else if (fcntl(fd, F_SETFL, 0) != 0) {
		/* O_NONBLOCK was only for the open: a FIFO must not hang it */
		err = errno;
	}
	if (err)
		close(fd);
	else
		*fdp = fd;
	return err;
}

int store_aside_open(const char *path, char **bad)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t blen;
	int fd = -1;

	if (!gmtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	blen = strlen(path) + sizeof(stamp) + 16;
	*bad = malloc(blen);
	if (!*bad)
		return -ENOMEM;
	for (unsigned n = 0; fd < 0 && n < 100; n++) {
		if (n)
			snprintf(*bad, blen, "%s.bad-%s-%u", path, stamp, n);
		else
			snprintf(*bad, blen, "%s.bad-%s", path, stamp);
		fd = open(*bad, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
			  O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			fd = -errno;
		if (fd < -1)
			break;
	}
	if (fd == -1)
		fd = -EEXIST;
	if (fd < 0) {
		free(*bad);
		*bad = NULL;
	}
	return fd;
}

static int open_file(struct journal *j)
{
	return store_file_open(j->path, "journal", &j->fd);
}

/* Copies bytes [off, end of file) to "<path>.bad-<UTC time>" and syncs it,
 * so that whoever looks at a damaged journal later still has the bytes
 * that were cut. */
static int keep_aside(struct journal *j, uint64_t off, uint64_t size)
{
	char *bad = NULL;
	unsigned char buf[65536];
	int fd, err = 0;

	fd = store_aside_open(j->path, &bad);
	if (fd < 0) {
		err = -fd;
		goto out;
	}
	while (off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off)
						       : sizeof(buf);
		ssize_t n = pread(j->fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			goto out;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = errno;
				goto out;
			}
			done += w;
		}
		off += (uint64_t)n;
	}
	if (fsync(fd) != 0)
		err = errno;
 out:
	if (fd >= 0)
		close(fd);
	if (err) {
		store_log(LOG_ERR, "journal: cannot keep the damaged part of %s "
			  "aside: %s; not cut", j->path, strerror(err));
		if (fd >= 0)
			unlink(bad);
	} else {
		store_log(LOG_WARNING, "journal: the damaged part of %s is kept "
			  "in %s", j->path, bad);
	}
	free(bad);
	return err;
}

/* Keeps [off, size) aside, then cuts the file there. */
static int cut(struct journal *j, uint64_t off, uint64_t size)
{
	int err = keep_aside(j, off, size);

	if (err)
		return err;
	if (ftruncate(j->fd, (off_t)off) != 0 || fsync(j->fd) != 0) {
		err = errno;
		store_log(LOG_ERR, "journal: cannot cut %s: %s", j->path,
			  strerror(err));
		return err;
	}
	j->size = off;
	return 0;
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
	err = check_dir(dir);
	if (err)
		goto out;
	err = open_file(j);
	if (err)
		goto out;
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
	j->size = (uint64_t)st.st_size;
	if (valid < (uint64_t)st.st_size) {
		store_log(LOG_WARNING,
			  "journal: torn tail in %s: %llu bytes after offset %llu "
			  "are not a whole record; cut",
			  j->path, (unsigned long long)((uint64_t)st.st_size - valid),
			  (unsigned long long)valid);
		err = cut(j, valid, (uint64_t)st.st_size);
		if (err)
			goto out;
	}
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

/* A failed write starts an episode: one line now, and no write is tried
 * again before retry_at (doubling up to JOURNAL_BACKOFF_MAX_MS), so a full
 * disk costs one attempt per back-off, not a large write per row. */
static int write_failed(struct journal *j, int err, size_t n)
{
	unsigned long long now = store_now_ms();

	if (!j->fail_err) {
		j->backoff_ms = JOURNAL_BACKOFF_MIN_MS;
		if (err == EFBIG && j->max_bytes &&
		    j->size + n > j->max_bytes)
			store_log(LOG_ERR, "journal: %s has reached its cap of %llu "
				  "bytes; refusing writes until it is replayed "
				  "(retried every %u s at most)", j->path,
				  (unsigned long long)j->max_bytes,
				  JOURNAL_BACKOFF_MAX_MS / 1000);
		else
			store_log(LOG_ERR, "journal: cannot write %s: %s; "
				  "retrying in %u ms, then backing off", j->path,
				  strerror(err), j->backoff_ms);
	} else if (j->backoff_ms < JOURNAL_BACKOFF_MAX_MS) {
		j->backoff_ms *= 2;
		if (j->backoff_ms > JOURNAL_BACKOFF_MAX_MS)
			j->backoff_ms = JOURNAL_BACKOFF_MAX_MS;
	}
	j->fail_err = err;
	j->retry_at = now + j->backoff_ms;
	j->probed_at = now;
	j->refused_writes++;
	return err;
}

static void write_worked(struct journal *j)
{
	if (!j->fail_err)
		return;
	store_log(LOG_NOTICE, "journal: %s takes writes again (%llu refused "
		  "meanwhile)", j->path, j->refused_writes);
	j->fail_err = 0;
	j->retry_at = 0;
	j->refused_writes = 0;
}

unsigned store_journal_retry_ms(const struct journal *j)
{
	unsigned long long now;

	if (!j->fail_err)
		return 0;
	now = store_now_ms();
	return j->retry_at > now ? (unsigned)(j->retry_at - now) : 0;
}

/* A full disk need not wait out the back-off: once the file system has
 * room for the write (and some slack for its blocks), it is tried. One
 * fstatvfs a second at most, so writes resume about a second after space
 * comes back, not up to JOURNAL_BACKOFF_MAX_MS later, and a file system
 * that reports room it does not give costs one attempt a second. */
static bool room_again(struct journal *j, size_t n)
{
	unsigned long long now = store_now_ms();
	struct statvfs sv;

	if (j->fail_err != ENOSPC || now < j->probed_at + JOURNAL_BACKOFF_MIN_MS)
		return false;
	j->probed_at = now;
	if (fstatvfs(j->fd, &sv) != 0)
		return false;
	return (uint64_t)sv.f_bavail * sv.f_frsize >= (uint64_t)n + (64u << 10);
}

int store_journal_write(struct journal *j, const unsigned char *p, size_t n,
			size_t rows)
{
	size_t done = 0;

	if (j->fd < 0)
		return EBADF;
	if (j->fail_err && store_now_ms() < j->retry_at && !room_again(j, n)) {
		j->refused_writes++;
		return j->fail_err;
	}
	if (j->max_bytes && j->size + n > j->max_bytes)
		return write_failed(j, EFBIG, n);
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
			return write_failed(j, err, n);
		}
		done += (size_t)w;
	}
	j->size += n;
	j->rows_appended += rows;
	write_worked(j);
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
		write_failed(j, err, n);
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
	       (err = store_rec_frame_check(out->p + pos, out->len - pos, &flen)) == 0) {
		pos += flen;
		++*rows;
	}
	if (pos == start && want == avail) {
		/* checked at open, so this is damage since: cut it */
		store_log(LOG_ERR, "journal: bad record at offset %llu; cutting %llu bytes",
			  (unsigned long long)j->replay_off,
			  (unsigned long long)avail);
		out->len = start;
		cut(j, j->replay_off, j->size);
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
	/* room again: the next write need not wait for its back-off */
	j->retry_at = 0;
	j->size = 0;
	j->replay_off = 0;
	j->done_off = 0;
	return 0;
}

bool store_journal_pending(const struct journal *j)
{
	return j->fd >= 0 && j->size > 0;
}
