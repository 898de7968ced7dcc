/* conn.c: the store's one PostgreSQL connection: non-blocking connect, loss, reconnect with backoff */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <libpq-fe.h>

#include "store/internal.h"

/* libpq's connect_timeout is not enforced by PQconnectPoll: keep our own. */
#define CONNECT_TIMEOUT_MS 10000

static store_log_h *log_h;
static void *log_arg;

void store_log_handler_set(store_log_h *h, void *arg)
{
	log_h = h;
	log_arg = arg;
}

void store_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* libpq messages end in newlines; a log line must not */
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (log_h)
		log_h(level, buf, log_arg);
}

unsigned long long store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule_retry(struct store *s)
{
	if (s->state == STORE_UP)
		writer_on_lost(s);
	if (s->conn) {
		PQfinish(s->conn);
		s->conn = NULL;
	}
	s->state = STORE_DOWN;
	s->deadline = store_now_ms() + s->backoff_ms;
	store_log(LOG_NOTICE, "database: retrying in %u ms", s->backoff_ms);
	s->backoff_ms *= 2;
	if (s->backoff_ms > s->reconnect_max_ms)
		s->backoff_ms = s->reconnect_max_ms;
}

/* Server notices ("terminating connection due to immediate shutdown")
 * would otherwise go to stderr, past the daemon's log handler. */
static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	store_log(LOG_WARNING, "database notice: %s", msg);
}

static void start_connect(struct store *s)
{
	s->conn = PQconnectStart(s->conninfo);
	if (!s->conn) {
		store_log(LOG_ERR, "database: out of memory starting a connection");
		schedule_retry(s);
		return;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		store_log(LOG_ERR, "database: %s", PQerrorMessage(s->conn));
		schedule_retry(s);
		return;
	}
	PQsetNoticeProcessor(s->conn, on_notice, NULL);
	s->state = STORE_CONNECTING;
	s->poll = PGRES_POLLING_WRITING;
	s->deadline = store_now_ms() + CONNECT_TIMEOUT_MS;
}

void conn_fail(struct store *s)
{
	schedule_retry(s);
}

int store_alloc(struct store **sp, const struct store_conf *conf)
{
	struct store *s;
	int err;

	if (!sp || !conf)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->reconnect_min_ms = conf->reconnect_min_ms ? conf->reconnect_min_ms : 250;
	s->reconnect_max_ms = conf->reconnect_max_ms ? conf->reconnect_max_ms : 10000;
	s->backoff_ms = s->reconnect_min_ms;
	s->wake = conf->wake;
	s->wake_arg = conf->wake_arg;
	s->batch_rows = conf->batch_rows ? conf->batch_rows : 2000;
	s->flush_ms = conf->flush_ms ? conf->flush_ms : 100;
	s->queue_max_bytes = conf->queue_max_bytes ? conf->queue_max_bytes
						   : (size_t)64 << 20;
	s->instance = strdup(conf->instance && *conf->instance ? conf->instance
							       : "local");
	if (!s->instance) {
		err = ENOMEM;
		goto out;
	}
	if (!conf->conninfo || !*conf->conninfo) {
		s->state = STORE_UNCONFIGURED;
		err = 0;
		goto out;
	}
	s->conninfo = strdup(conf->conninfo);
	if (!s->conninfo) {
		err = ENOMEM;
		goto out;
	}
	if (conf->data_dir && *conf->data_dir) {
		err = journal_open(&s->journal, conf->data_dir);
		if (err)
			goto out;
		s->have_journal = true;
	}
	err = 0;
	start_connect(s);
 out:
	if (err)
		s = store_free(s);
	else
		*sp = s;
	return err;
}

struct store *store_free(struct store *s)
{
	if (!s)
		return NULL;
	writer_free(s);
	if (s->conn)
		PQfinish(s->conn);
	free(s->conninfo);
	free(s->instance);
	free(s);
	return NULL;
}

int store_fd(const struct store *s)
{
	return s && s->conn ? PQsocket(s->conn) : -1;
}

enum store_io store_want(const struct store *s)
{
	if (!s || !s->conn)
		return STORE_IO_NONE;
	switch (s->state) {
	case STORE_CONNECTING:
		return s->poll == PGRES_POLLING_READING ? STORE_IO_READ
							: STORE_IO_WRITE;
	case STORE_UP:
		/* results, notices, or the server going away; writes while a
		 * batch does not fit libpq's buffers */
		return writer_want_write(s) ? STORE_IO_READ | STORE_IO_WRITE
					    : STORE_IO_READ;
	default:
		return STORE_IO_NONE;
	}
}

int store_timeout_ms(const struct store *s)
{
	unsigned long long now;
	int conn = -1, w;

	if (!s)
		return -1;
	if (s->state == STORE_DOWN || s->state == STORE_CONNECTING) {
		now = store_now_ms();
		conn = s->deadline > now ? (int)(s->deadline - now) : 0;
	}
	w = writer_timeout_ms(s);
	if (conn < 0)
		return w;
	return w < 0 || conn < w ? conn : w;
}

static void on_connected(struct store *s)
{
	s->state = STORE_UP;
	s->backoff_ms = s->reconnect_min_ms;
	++s->connects;
	if (PQsetnonblocking(s->conn, 1) != 0)
		store_log(LOG_WARNING, "database: cannot set non-blocking: %s",
			  PQerrorMessage(s->conn));
	store_log(LOG_NOTICE, "database: connected (server %d, database %s)",
		  PQserverVersion(s->conn), PQdb(s->conn));
	writer_on_connected(s);
}

void store_process(struct store *s)
{
	if (!s)
		return;
	writer_tick(s);
	switch (s->state) {
	case STORE_UNCONFIGURED:
		return;
	case STORE_DOWN:
		if (store_now_ms() >= s->deadline)
			start_connect(s);
		return;
	case STORE_CONNECTING:
		if (store_now_ms() >= s->deadline) {
			store_log(LOG_ERR, "database: connect timed out after %d ms",
				  CONNECT_TIMEOUT_MS);
			schedule_retry(s);
			return;
		}
		s->poll = PQconnectPoll(s->conn);
		if (s->poll == PGRES_POLLING_OK) {
			on_connected(s);
		} else if (s->poll == PGRES_POLLING_FAILED) {
			store_log(LOG_ERR, "database: %s", PQerrorMessage(s->conn));
			schedule_retry(s);
		}
		return;
	case STORE_UP:
		if (!PQconsumeInput(s->conn) || PQstatus(s->conn) == CONNECTION_BAD) {
			store_log(LOG_ERR, "database: connection lost: %s",
				  PQerrorMessage(s->conn));
			schedule_retry(s);
			return;
		}
		for (PGnotify *n; (n = PQnotifies(s->conn)) != NULL;)
			PQfreemem(n);
		writer_process(s);
		return;
	}
}

enum store_state store_state(const struct store *s)
{
	return s ? s->state : STORE_UNCONFIGURED;
}

const char *store_state_name(enum store_state st)
{
	switch (st) {
	case STORE_UNCONFIGURED:
		return "unconfigured";
	case STORE_CONNECTING:
		return "connecting";
	case STORE_UP:
		return "up";
	case STORE_DOWN:
		return "down";
	}
	return "unknown";
}

unsigned long store_connects(const struct store *s)
{
	return s ? s->connects : 0;
}

int store_libpq_version(void)
{
	return PQlibVersion();
}
