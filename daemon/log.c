/* log.c: the daemon's one log handler: timestamped lines, secrets masked, reopen on SIGHUP, the loop thread's lines written once a pass */
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
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "util/hex.h"

#define MAX_SECRETS 8
#define LINE_MAX_BYTES 8192
/* A secret is registered by its first SECRET_MAX bytes; a line is formatted
 * with that much room past LINE_MAX_BYTES, masked, and only then cut, so a
 * secret that crosses the cut is still masked whole. */
#define SECRET_MAX 1024

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char *log_path;
static int log_lvl = LOG_INFO;
static char *secrets[MAX_SECRETS];

/*
 * A call logs about eight info lines from the event loop's thread, and a
 * write() each was 8 of its ~140 system calls (the kernel's share of the
 * daemon's CPU is about half on a VM). Lines of that thread below warning
 * wait here until the loop has run the callbacks of its current pass; an
 * event made active by the first one writes them all at once. Warnings and
 * errors, and lines of other threads, are written at once, after what waits
 * (order kept). What a kill -9 can lose is one pass's info lines.
 */
#define DEFER_MAX 65536
static _Thread_local bool defer_here;
static struct event *defer_ev;
static char *defer_buf;
static size_t defer_len;

/* Writes what waits and then line (either may be empty) in one call.
 * Called with log_lock held. */
static void put(const char *line, size_t n)
{
	struct iovec iov[2] = {{defer_buf, defer_len}, {(void *)line, n}};

	if (!defer_len && !n)
		return;
	if (writev(log_fd, defer_len ? iov : iov + 1, defer_len ? 2 : 1) < 0) {
		/* nowhere left to report it */
	}
	defer_len = 0;
}

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
	put(NULL, 0);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	free(log_path);
	log_fd = fd;
	log_path = p;
	log_lvl = level;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&log_lock);
	put(NULL, 0);
	pthread_mutex_unlock(&log_lock);
}

/* Writes what waits, then hands the deferral to ev and buf (NULL: none),
 * freeing the ones it had. */
static void defer_swap(struct event *ev, char *buf)
{
	pthread_mutex_lock(&log_lock);
	put(NULL, 0);
	if (defer_ev)
		event_free(defer_ev);
	free(defer_buf);
	defer_ev = ev;
	defer_buf = buf;
	defer_here = ev != NULL;
	pthread_mutex_unlock(&log_lock);
}

int log_defer_start(struct event_base *base)
{
	struct event *ev;
	char *buf;

	if (!base)
		return EINVAL;
	ev = event_new(base, -1, 0, on_defer, NULL);
	buf = malloc(DEFER_MAX);
	if (!ev || !buf) {
		if (ev)
			event_free(ev);
		free(buf);
		return ENOMEM;
	}
	defer_swap(ev, buf);
	return 0;
}

void log_defer_stop(void)
{
	defer_swap(NULL, NULL);
}

int log_reopen(void)
{
	int fd, err = 0;

	pthread_mutex_lock(&log_lock);
	put(NULL, 0);
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
	put(NULL, 0);
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

const char *log_level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "err";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_set_level(int level)
{
	log_lvl = level;
}

void log_add_secret(const char *secret)
{
	/* very short strings would mask ordinary words */
	if (!secret || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < MAX_SECRETS; i++) {
		if (secrets[i] && strncmp(secrets[i], secret, SECRET_MAX) == 0)
			break;
		if (!secrets[i]) {
			secrets[i] = strndup(secret, SECRET_MAX);
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
}

/* Registers a password as written and, if it has %XX escapes, decoded:
 * libpq and the daemon may print either. */
static void add_password(const char *p, size_t n, bool url)
{
	char pw[SECRET_MAX + 1], dec[SECRET_MAX + 1];
	size_t o = 0;

	if (n > SECRET_MAX)
		n = SECRET_MAX;
	memcpy(pw, p, n);
	pw[n] = '\0';
	log_add_secret(pw);
	if (!url || !memchr(pw, '%', n))
		return;
	for (size_t i = 0; i < n; i++) {
		int h = i + 2 < n ? util_hexval((unsigned char)pw[i + 1]) : -1;
		int l = i + 2 < n ? util_hexval((unsigned char)pw[i + 2]) : -1;

		if (pw[i] == '%' && h >= 0 && l >= 0) {
			dec[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			dec[o++] = pw[i];
		}
	}
	dec[o] = '\0';
	log_add_secret(dec);
}

void log_add_conninfo_secret(const char *ci)
{
	const char *p, *at, *colon;

	if (!ci)
		return;
	p = strstr(ci, "://");
	if (p) {
		/* scheme://user:password@host, percent-encoded */
		p += 3;
		at = strchr(p, '@');
		colon = memchr(p, ':', at ? (size_t)(at - p) : 0);
		if (at && colon)
			add_password(colon + 1, (size_t)(at - colon - 1), true);
	}
	p = strstr(ci, "password=");
	if (p) {
		char q[SECRET_MAX + 1];
		size_t n = 0;

		p += 9;
		if (*p == '\'') {
			/* key='value' with \' and \\ escapes (libpq's syntax) */
			for (p++; *p && *p != '\'' && n < SECRET_MAX; p++) {
				if (*p == '\\' && p[1])
					p++;
				q[n++] = *p;
			}
			add_password(q, n, false);
		} else {
			/* a URL query (&) or key=value (space) */
			add_password(p, strcspn(p, " &"), strstr(ci, "://") != NULL);
		}
	}
}

/* Masks the value after every "authorization" that is followed (past
 * spaces, tabs, quotes and backslashes) by ':' or '=': headers ("Proxy-Authorization :"),
 * query strings and JSON ("\"Authorization\": ..."). The rest of the line
 * goes: a value's end is not certain in every one of these forms. */
static size_t scrub_auth(char *buf, size_t len, size_t cap)
{
	static const char redacted[] = " [redacted]";
	const size_t rl = sizeof(redacted) - 1;
	char *p = buf;

	while ((p = strcasestr(p, "authorization"))) {
		char *v = p + 13;

		/* SIP allows tabs before the colon (HCOLON); JSON inside a
		 * string escapes its quotes */
		while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'' || *v == '\\')
			v++;
		if (*v != ':' && *v != '=') {
			p += 13;
			continue;
		}
		/* the value is the rest of the line */
		len = (size_t)(v + 1 - buf);
		if (len + rl < cap) {
			memcpy(buf + len, redacted, rl);
			len += rl;
		}
		buf[len] = '\0';
		break;
	}
	return len;
}

/* Masks the password of every "scheme://user:password@" and
 * "sip:user:password@" (sips: too) in the line, registered or not: a
 * database URL given at run time, a webhook URL with Basic credentials or a
 * dialled URI must not leave one in a log. The userinfo ends at '@'; a
 * space, quote, bracket, '/', '?' or '#' first means there is none. */
static size_t scrub_userinfo(char *buf, size_t len, size_t cap)
{
	static const char redacted[] = "[redacted]";
	const size_t rl = sizeof(redacted) - 1;
	char *p = buf;

	while (p < buf + len) {
		char *u = NULL, *q = p, *colon = NULL, *at;

		/* the next URL's userinfo start */
		for (; q < buf + len; q++) {
			if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
				u = q + 3;
				break;
			}
			if ((q == buf || !((q[-1] | 0x20) >= 'a' && (q[-1] | 0x20) <= 'z')) &&
			    (!strncasecmp(q, "sip:", 4) || !strncasecmp(q, "sips:", 5))) {
				u = q + ((q[3] | 0x20) == 's' ? 5 : 4);
				break;
			}
		}
		if (!u)
			break;
		for (at = u; at < buf + len && !strchr(" \t\"'<>[]/?#@", *at); at++)
			if (*at == ':' && !colon)
				colon = at;
		p = at;
		if (at >= buf + len || *at != '@' || !colon || at == colon + 1)
			continue;
		/* "user:" + redacted + "@...": shrink or grow within cap */
		{
			size_t slen = (size_t)(at - colon - 1);
			size_t tail = len - (size_t)(at - buf);

			if (len - slen + rl >= cap) {
				len = (size_t)(colon + 1 - buf);
				buf[len] = '\0';
				break;
			}
			memmove(colon + 1 + rl, at, tail);
			memcpy(colon + 1, redacted, rl);
			len = len - slen + rl;
			buf[len] = '\0';
			p = colon + 1 + rl;
		}
	}
	return len;
}

/* Replaces registered secrets and Authorization values in place. */
static size_t scrub(char *buf, size_t len, size_t cap)
{
	static const char redacted[] = "[redacted]";

	for (size_t i = 0; i < MAX_SECRETS && secrets[i]; i++) {
		size_t slen = strlen(secrets[i]);
		char *p = buf;

		while ((p = memmem(p, len - (size_t)(p - buf), secrets[i], slen))) {
			size_t tail = len - (size_t)(p - buf) - slen;
			size_t rl = sizeof(redacted) - 1;

			if (len - slen + rl >= cap) {
				/* no room to grow: cut the line here */
				len = (size_t)(p - buf);
				buf[len] = '\0';
				break;
			}
			memmove(p + rl, p + slen, tail);
			memcpy(p, redacted, rl);
			len = len - slen + rl;
			buf[len] = '\0';
			p += rl;
		}
	}
	len = scrub_userinfo(buf, len, cap);
	return scrub_auth(buf, len, cap);
}

/* A line vsnprintf cut at the end of raw may end in the first part of a
 * secret, or of a URL password with its '@' cut away. Masking shrinks what
 * precedes it (a 1 KiB token becomes "[redacted]"), which can pull that
 * tail inside the cut a reader sees, so it goes. */
static size_t trim_partial(char *buf, size_t len)
{
	for (size_t i = 0; i < MAX_SECRETS && secrets[i]; i++) {
		size_t slen = strlen(secrets[i]);

		for (size_t k = slen - 1 < len ? slen - 1 : len; k > 0; k--)
			if (memcmp(buf + len - k, secrets[i], k) == 0) {
				len -= k;
				break;
			}
	}
	/* "scheme://user:pa" or "sip:user:pa" with no '@' before the end */
	for (size_t i = len; i > 0; i--) {
		char c = buf[i - 1];

		if (strchr(" \t\"'<>[]/?#@", c))
			break;
		if (c == ':') {
			/* the colon after a user: is there a scheme before it? */
			size_t j = i - 1;

			while (j > 0 && !strchr(" \t\"'<>[]/?#@:", buf[j - 1]))
				j--;
			if ((j >= 3 && !memcmp(buf + j - 3, "://", 3)) ||
			    (j >= 4 && !strncasecmp(buf + j - 4, "sip:", 4)) ||
			    (j >= 5 && !strncasecmp(buf + j - 5, "sips:", 5))) {
				len = i;
				break;
			}
		}
	}
	buf[len] = '\0';
	return len;
}

/* Copies src into dst (at most cap - 1 bytes and a NUL) with control
 * bytes as \xNN, never cutting an escape: a log line is one line of
 * printable text whatever a peer sent. Returns the length. */
static size_t escape_controls(char *dst, size_t cap, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
			continue;
		}
		if (o + 4 >= cap)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	dst[o] = '\0';
	return o;
}

void log_write(int level, const char *module, const char *call_sid,
	       const char *fmt, ...)
{
	char raw[LINE_MAX_BYTES + SECRET_MAX + 64], buf[LINE_MAX_BYTES + 1];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;
	bool cut;
	va_list ap;

	if (level > log_lvl)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(raw, sizeof(raw), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(raw + n, sizeof(raw) - n, ".%03ldZ %-7s %-6s %s%s%s",
		     ts.tv_nsec / 1000000, log_level_name(level),
		     module ? module : "-", call_sid ? "call=" : "",
		     call_sid ? call_sid : "", call_sid ? " " : "");
	if (r > 0)
		n += (size_t)r < sizeof(raw) - n ? (size_t)r : sizeof(raw) - n - 1;
	va_start(ap, fmt);
	r = vsnprintf(raw + n, sizeof(raw) - n, fmt, ap);
	va_end(ap);
	cut = r > 0 && (size_t)r >= sizeof(raw) - n;
	if (r > 0)
		n += (size_t)r < sizeof(raw) - n ? (size_t)r : sizeof(raw) - n - 1;
	/* one event a line: fold embedded line breaks */
	for (size_t i = 0; i < n; i++)
		if (raw[i] == '\n' || raw[i] == '\r')
			raw[i] = ' ';
	pthread_mutex_lock(&log_lock);
	/* masked before the cut, so that no cut leaves half a secret */
	n = scrub(raw, n, sizeof(raw) - 1);
	if (cut)
		n = trim_partial(raw, n);
	n = escape_controls(buf, sizeof(buf) - 1, raw, n);
	buf[n++] = '\n';
	if (defer_here && defer_ev && level > LOG_WARNING &&
	    defer_len + n <= DEFER_MAX) {
		if (!defer_len)
			event_active(defer_ev, EV_TIMEOUT, 0);
		memcpy(defer_buf + defer_len, buf, n);
		defer_len += n;
	} else {
		/* one write per line (or batch) keeps lines whole between
		   threads and processes */
		put(buf, n);
	}
	pthread_mutex_unlock(&log_lock);
}
