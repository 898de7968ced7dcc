/* conn.c: the store's PostgreSQL connections: non-blocking connect, one epoll fd for the loop, loss, reconnect with backoff */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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

static void drop_conn(struct wconn *w)
{
	if (w->conn) {
		/* closing the socket takes it out of the epoll set */
		PQfinish(w->conn);
		w->conn = NULL;
	}
	w->connected = false;
	w->reg_fd = -1;
	w->reg_events = 0;
}

/* Any failure drops every connection: the batches in flight go to the
 * journal (or back to the queue) and all reconnect together. */
static void schedule_retry(struct store *s)
{
	if (s->state == STORE_UP)
		writer_on_lost(s);
	for (int i = 0; i < s->nconn; i++)
		drop_conn(&s->w[i]);
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
	for (int i = 0; i < s->nconn; i++) {
		struct wconn *w = &s->w[i];

		w->conn = PQconnectStart(s->conninfo);
		if (!w->conn) {
			store_log(LOG_ERR, "database: out of memory starting a connection");
			schedule_retry(s);
			return;
		}
		if (PQstatus(w->conn) == CONNECTION_BAD) {
			store_log(LOG_ERR, "database: %s", PQerrorMessage(w->conn));
			schedule_retry(s);
			return;
		}
		PQsetNoticeProcessor(w->conn, on_notice, NULL);
		w->poll = PGRES_POLLING_WRITING;
		w->connected = false;
	}
	s->state = STORE_CONNECTING;
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
	for (int i = 0; i < STORE_NCONN; i++)
		s->w[i].reg_fd = -1;
	if (conf->connections > STORE_NCONN) {
		free(s);
		return EINVAL;
	}
	s->nconn = conf->connections ? (int)conf->connections : STORE_NCONN;
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
	s->ep = calloc(1, sizeof(*s->ep));
	if (!s->ep) {
		err = ENOMEM;
		goto out;
	}
	s->ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep->epfd < 0) {
		err = errno;
		free(s->ep);
		s->ep = NULL;
		goto out;
	}
	if (conf->data_dir && *conf->data_dir) {
		err = store_journal_open(&s->journal, conf->data_dir,
					 STORE_JOURNAL_NAME);
		if (err)
			goto out;
		s->journal.max_bytes = conf->journal_max_bytes
					       ? conf->journal_max_bytes
					       : STORE_JOURNAL_MAX_BYTES;
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
	for (int i = 0; i < s->nconn; i++)
		drop_conn(&s->w[i]);
	if (s->ep) {
		close(s->ep->epfd);
		free(s->ep);
	}
	free(s->conninfo);
	free(s->instance);
	free(s);
	return NULL;
}

/* What one connection waits for. */
static unsigned conn_events(const struct store *s, const struct wconn *w)
{
	if (!w->conn)
		return 0;
	switch (s->state) {
	case STORE_CONNECTING:
		if (w->connected)
			return 0;
		return w->poll == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT;
	case STORE_UP:
		/* results, notices, or the server going away; writes while a
		 * batch does not fit libpq's buffers */
		return writer_want_write(w) ? EPOLLIN | EPOLLOUT : EPOLLIN;
	default:
		return 0;
	}
}

/* The loop watches one fd: an epoll set holding every connection's socket
 * with what it waits for (level-triggered, so it stays readable while any
 * socket is ready). */
int store_fd(const struct store *s)
{
	return s && s->ep ? s->ep->epfd : -1;
}

enum store_io store_want(const struct store *s)
{
	bool any = false;

	if (!s || !s->ep)
		return STORE_IO_NONE;
	/* The registrations are bookkeeping of the epoll set, not state of
	 * the store: kept current here, where every loop looks before it
	 * waits. Stale sockets first (libpq may close one and open another
	 * while connecting), so that a reused number is registered afresh. */
	for (int i = 0; i < s->nconn; i++) {
		struct wconn *w = (struct wconn *)&s->w[i];
		int fd = w->conn ? PQsocket(w->conn) : -1;

		if (w->reg_fd >= 0 && w->reg_fd != fd) {
			(void)epoll_ctl(s->ep->epfd, EPOLL_CTL_DEL, w->reg_fd, NULL);
			w->reg_fd = -1;
		}
	}
	for (int i = 0; i < s->nconn; i++) {
		struct wconn *w = (struct wconn *)&s->w[i];
		int fd = w->conn ? PQsocket(w->conn) : -1;
		unsigned ev = conn_events(s, w);
		struct epoll_event e = {.events = ev, .data.fd = fd};
		int r;

		if (ev)
			any = true;
		if (fd < 0 || (w->reg_fd == fd && w->reg_events == ev &&
			       s->state != STORE_CONNECTING))
			continue;
		r = epoll_ctl(s->ep->epfd, w->reg_fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
			      fd, &e);
		if (r != 0 && errno == ENOENT)
			r = epoll_ctl(s->ep->epfd, EPOLL_CTL_ADD, fd, &e);
		else if (r != 0 && errno == EEXIST)
			r = epoll_ctl(s->ep->epfd, EPOLL_CTL_MOD, fd, &e);
		if (r == 0) {
			w->reg_fd = fd;
			w->reg_events = ev;
		} else {
			store_log(LOG_ERR, "database: cannot watch a socket: %s",
				  strerror(errno));
		}
	}
	return any ? STORE_IO_READ : STORE_IO_NONE;
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
	for (int i = 0; i < s->nconn; i++)
		if (PQsetnonblocking(s->w[i].conn, 1) != 0)
			store_log(LOG_WARNING, "database: cannot set non-blocking: %s",
				  PQerrorMessage(s->w[i].conn));
	store_log(LOG_NOTICE, "database: connected (server %d, database %s, %d connections)",
		  PQserverVersion(s->w[0].conn), PQdb(s->w[0].conn), s->nconn);
	for (int i = 0; i < s->nconn && s->state == STORE_UP; i++)
		writer_on_connected(s, &s->w[i]);
	if (s->state == STORE_UP)
		writer_process(s);
}

/* PQconnectPoll only when the socket is ready for what it asked: called
 * early, it may take a connect() still in progress for done. */
static bool conn_ready(const struct wconn *w)
{
	struct pollfd p = {.fd = PQsocket(w->conn)};

	if (p.fd < 0)
		return true;	/* let PQconnectPoll report it */
	p.events = w->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	return poll(&p, 1, 0) > 0;
}

void store_process(struct store *s)
{
	bool all;

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
		all = true;
		for (int i = 0; i < s->nconn; i++) {
			struct wconn *w = &s->w[i];

			if (w->connected)
				continue;
			if (conn_ready(w)) {
				w->poll = PQconnectPoll(w->conn);
				if (w->poll == PGRES_POLLING_OK) {
					w->connected = true;
				} else if (w->poll == PGRES_POLLING_FAILED) {
					store_log(LOG_ERR, "database: %s",
						  PQerrorMessage(w->conn));
					schedule_retry(s);
					return;
				}
			}
			if (!w->connected)
				all = false;
		}
		if (all)
			on_connected(s);
		return;
	case STORE_UP:
		for (int i = 0; i < s->nconn; i++) {
			PGconn *c = s->w[i].conn;

			if (!PQconsumeInput(c) || PQstatus(c) == CONNECTION_BAD) {
				store_log(LOG_ERR, "database: connection lost: %s",
					  PQerrorMessage(c));
				schedule_retry(s);
				return;
			}
			for (PGnotify *n; (n = PQnotifies(c)) != NULL;)
				PQfreemem(n);
		}
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
