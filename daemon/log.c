/* log.c: the daemon's one log handler: timestamped lines, secrets masked, reopen on SIGHUP */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/log.h"

#define MAX_SECRETS 8
#define LINE_MAX_BYTES 8192

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char *log_path;
static int log_lvl = LOG_INFO;
static char *secrets[MAX_SECRETS];

int log_open(int level, const char *path)
{
	int fd = STDERR_FILENO;
	char *p = NULL;

	if (path && *path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return errno;
		p = strdup(path);
		if (!p) {
			close(fd);
			return ENOMEM;
		}
	}
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	free(log_path);
	log_fd = fd;
	log_path = p;
	log_lvl = level;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int log_reopen(void)
{
	int fd, err = 0;

	pthread_mutex_lock(&log_lock);
	if (log_path) {
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			err = errno;	/* keep writing to the old file */
		} else {
			close(log_fd);
			log_fd = fd;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return err;
}

void log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
	for (size_t i = 0; i < MAX_SECRETS; i++) {
		free(secrets[i]);
		secrets[i] = NULL;
	}
	pthread_mutex_unlock(&log_lock);
}

void log_set_level(int level)
{
	log_lvl = level;
}

int log_level(void)
{
	return log_lvl;
}

void log_add_secret(const char *secret)
{
	/* very short strings would mask ordinary words */
	if (!secret || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < MAX_SECRETS; i++) {
		if (secrets[i] && strcmp(secrets[i], secret) == 0)
			break;
		if (!secrets[i]) {
			secrets[i] = strdup(secret);
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
}

void log_add_conninfo_secret(const char *ci)
{
	const char *p, *at, *colon;
	char pw[256];
	size_t n;

	if (!ci)
		return;
	p = strstr(ci, "://");
	if (p) {
		/* scheme://user:password@host */
		p += 3;
		at = strchr(p, '@');
		colon = memchr(p, ':', at ? (size_t)(at - p) : 0);
		if (at && colon) {
			n = (size_t)(at - colon - 1);
			if (n < sizeof(pw)) {
				memcpy(pw, colon + 1, n);
				pw[n] = '\0';
				log_add_secret(pw);
			}
		}
	}
	p = strstr(ci, "password=");
	if (p) {
		p += 9;
		n = strcspn(p, " &");
		if (n < sizeof(pw)) {
			memcpy(pw, p, n);
			pw[n] = '\0';
			log_add_secret(pw);
		}
	}
}

/* Replaces registered secrets and Authorization values in place. */
static size_t scrub(char *buf, size_t len, size_t cap)
{
	static const char redacted[] = "[redacted]";
	static const char *const auth[] = {"Authorization:", "authorization="};

	for (size_t i = 0; i < MAX_SECRETS && secrets[i]; i++) {
		size_t slen = strlen(secrets[i]);
		char *p = buf;

		while ((p = memmem(p, len - (size_t)(p - buf), secrets[i], slen))) {
			size_t tail = len - (size_t)(p - buf) - slen;
			size_t rl = sizeof(redacted) - 1;

			if (len - slen + rl >= cap)
				break;
			memmove(p + rl, p + slen, tail);
			memcpy(p, redacted, rl);
			len = len - slen + rl;
			buf[len] = '\0';
			p += rl;
		}
	}
	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
		char *p = buf;

		while ((p = strcasestr(p, auth[i]))) {
			char *v = p + strlen(auth[i]);
			char *e = v + strcspn(v, "\r\n");
			size_t vlen = (size_t)(e - v);
			size_t rl = sizeof(redacted);	/* with a leading space */

			if (len - vlen + rl >= cap) {
				*v = '\0';
				len = (size_t)(v - buf);
				break;
			}
			memmove(v + rl, e, len - (size_t)(e - buf) + 1);
			v[0] = ' ';
			memcpy(v + 1, redacted, rl - 1);
			len = len - vlen + rl;
			p = v + rl;
		}
	}
	return len;
}

void log_write(int level, const char *module, const char *call_sid,
	       const char *fmt, ...)
{
	char buf[LINE_MAX_BYTES];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	if (level > log_lvl)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %-7s %-6s %s%s%s",
		     ts.tv_nsec / 1000000, config_level_name(level),
		     module ? module : "-", call_sid ? "call=" : "",
		     call_sid ? call_sid : "", call_sid ? " " : "");
	if (r > 0)
		n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
	/* one event a line: fold embedded line breaks */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	pthread_mutex_lock(&log_lock);
	n = scrub(buf, n, sizeof(buf) - 1);
	buf[n++] = '\n';
	/* one write per line keeps lines whole between threads and processes */
	if (write(log_fd, buf, n) < 0) {
		/* nowhere left to report it */
	}
	pthread_mutex_unlock(&log_lock);
}
