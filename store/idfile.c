/* idfile.c: data_dir/instance.id: the data_dir lock of a running daemon and the cache of its registered instance id */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <unistd.h>

#include "store/internal.h"

#define IDFILE_NAME "instance.id"

struct store_idfile {
	int fd;
	char *path;
};

struct store_idfile *store_idfile_close(struct store_idfile *f)
{
	if (!f)
		return NULL;
	if (f->fd >= 0)
		close(f->fd);	/* releases the lock */
	free(f->path);
	free(f);
	return NULL;
}

/* The id in the file: decimal 1..65535 and a newline; anything else: 0. */
static unsigned read_id(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long v;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtoul(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || v < 1 || v > 65535)
		return 0;
	return (unsigned)v;
}

int store_idfile_open(struct store_idfile **fp, const char *dir, unsigned *id)
{
	struct store_idfile *f;
	size_t len;
	int err = 0;

	if (!fp || !dir || !*dir || !id)
		return EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->fd = -1;
	len = strlen(dir) + sizeof(IDFILE_NAME) + 2;
	f->path = malloc(len);
	if (!f->path) {
		err = ENOMEM;
		goto out;
	}
	snprintf(f->path, len, "%s/%s", dir, IDFILE_NAME);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f->fd < 0) {
		err = errno;
		goto out;
	}
	if (flock(f->fd, LOCK_EX | LOCK_NB) != 0) {
		err = errno == EWOULDBLOCK ? EBUSY : errno;
		goto out;
	}
	*id = read_id(f->fd);
 out:
	if (err)
		f = store_idfile_close(f);
	else
		*fp = f;
	return err;
}

int store_idfile_write(struct store_idfile *f, unsigned id)
{
	char buf[16];
	int n;

	if (!f || id < 1 || id > 65535)
		return EINVAL;
	if (read_id(f->fd) == id)
		return 0;
	n = snprintf(buf, sizeof(buf), "%u\n", id);
	/* a short file: a torn write reads as no id, never as another */
	if (ftruncate(f->fd, 0) != 0 || pwrite(f->fd, buf, (size_t)n, 0) != n ||
	    fdatasync(f->fd) != 0) {
		int err = errno ? errno : EIO;

		store_log(LOG_ERR, "cannot write %s: %s", f->path, strerror(err));
		return err;
	}
	return 0;
}
