/* conn.c: the store's PostgreSQL connections: non-blocking connect, one epoll fd for the loop, loss, reconnect with backoff */
#include <arpa/inet.h>
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

/* Any failure drops every connection and all reconnect together (the
 * writer has put their batches back first: see store_conn_fail). */
static void schedule_retry(struct store *s)
{
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

void store_conn_fail(struct store *s)
{
	schedule_retry(s);
}

/* libpq resolves a host name with getaddrinfo() inside PQconnectPoll, which
 * blocks the loop; with several hosts (a primary and its standbys, tried in
 * turn for target_session_attrs=read-write) it does so at every failover.
 * IP addresses (host=, or hostaddr= next to names for TLS) never block. */
static void check_hosts(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL, *hostaddr = NULL;

	if (!opts)
		return;	/* the connect reports it */
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	if (host && strchr(host, ',') && !(hostaddr && *hostaddr)) {
		const char *p = host;

		while (*p) {
			size_t n = strcspn(p, ",");
			char h[256];
			unsigned char a[16];

			snprintf(h, sizeof(h), "%.*s", (int)(n < 255 ? n : 255), p);
			if (*h && h[0] != '/' && inet_pton(AF_INET, h, a) != 1 &&
			    inet_pton(AF_INET6, h, a) != 1)
				store_log(LOG_WARNING, "database: host \"%s\" in a multi-host "
					  "database_url is a name: libpq resolves it "
					  "synchronously and stalls the daemon while DNS "
					  "answers; give IP addresses (host= or hostaddr=)", h);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	PQconninfoFree(opts);
}

int store_conn_init(struct store *s, const char *conninfo)
{
	check_hosts(conninfo);
	for (int i = 0; i < STORE_NCONN; i++)
		s->w[i].reg_fd = -1;
	s->r.reg_fd = -1;
	s->conninfo = strdup(conninfo);
	if (!s->conninfo)
		return ENOMEM;
	s->ep = calloc(1, sizeof(*s->ep));
	if (!s->ep)
		return ENOMEM;
	s->ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep->epfd < 0) {
		int err = errno;

		free(s->ep);
		s->ep = NULL;
		return err;
	}
	return 0;
}

void store_conn_start(struct store *s)
{
	start_connect(s);
}

void store_conn_close(struct store *s)
{
	for (int i = 0; i < s->nconn; i++)
		drop_conn(&s->w[i]);
	if (s->ep) {
		close(s->ep->epfd);
		free(s->ep);
		s->ep = NULL;
	}
	free(s->conninfo);
	s->conninfo = NULL;
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
		return store_wconn_wants_write(w) ? EPOLLIN | EPOLLOUT : EPOLLIN;
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

/* Keeps one socket's registration in the epoll set current. */
static void watch(const struct store *s, int fd, unsigned ev, int *reg_fd,
		  unsigned *reg_events, bool again)
{
	struct epoll_event e = {.events = ev, .data.fd = fd};
	int r;

	if (fd < 0 || (*reg_fd == fd && *reg_events == ev && !again))
		return;
	r = epoll_ctl(s->ep->epfd, *reg_fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      fd, &e);
	if (r != 0 && errno == ENOENT)
		r = epoll_ctl(s->ep->epfd, EPOLL_CTL_ADD, fd, &e);
	else if (r != 0 && errno == EEXIST)
		r = epoll_ctl(s->ep->epfd, EPOLL_CTL_MOD, fd, &e);
	if (r == 0) {
		*reg_fd = fd;
		*reg_events = ev;
	} else {
		store_log(LOG_ERR, "database: cannot watch a socket: %s",
			  strerror(errno));
	}
}

static void unwatch_stale(const struct store *s, void *conn, int *reg_fd)
{
	int fd = conn ? PQsocket(conn) : -1;

	if (*reg_fd >= 0 && *reg_fd != fd) {
		(void)epoll_ctl(s->ep->epfd, EPOLL_CTL_DEL, *reg_fd, NULL);
		*reg_fd = -1;
	}
}

enum store_io store_want(const struct store *s)
{
	/* The registrations are bookkeeping of the epoll set, not state of
	 * the store: kept current here, where every loop looks before it
	 * waits. */
	struct store *m = (struct store *)s;
	bool any = false;

	if (!s || !s->ep)
		return STORE_IO_NONE;
	/* Stale sockets first (libpq may close one and open another while
	 * connecting), so that a reused number is registered afresh. */
	for (int i = 0; i < s->nconn; i++)
		unwatch_stale(s, m->w[i].conn, &m->w[i].reg_fd);
	unwatch_stale(s, m->r.conn, &m->r.reg_fd);
	for (int i = 0; i < s->nconn; i++) {
		struct wconn *w = &m->w[i];
		unsigned ev = conn_events(s, w);

		if (ev)
			any = true;
		watch(s, w->conn ? PQsocket(w->conn) : -1, ev, &w->reg_fd,
		      &w->reg_events, s->state == STORE_CONNECTING);
	}
	/* the reader (read.c) says what it waits for in r.events */
	if (m->r.conn) {
		if (m->r.events)
			any = true;
		watch(s, PQsocket(m->r.conn), m->r.events, &m->r.reg_fd,
		      &m->r.reg_events, m->r.phase == R_CONNECTING);
	}
	/* the control connection (control.c) keeps its own */
	if (store_control_want(s))
		any = true;
	return any ? STORE_IO_READ : STORE_IO_NONE;
}

int store_conn_timeout_ms(const struct store *s)
{
	unsigned long long now;

	if (s->state != STORE_DOWN && s->state != STORE_CONNECTING)
		return -1;
	now = store_now_ms();
	return s->deadline > now ? (int)(s->deadline - now) : 0;
}

static void on_connected(struct store *s)
{
	s->state = STORE_UP;
	s->backoff_ms = s->reconnect_min_ms;
	++s->connects;
	/* before non-blocking: one bounded query on the first connection */
	store_resend_on_connected(s, s->w[0].conn);
	for (int i = 0; i < s->nconn; i++)
		if (PQsetnonblocking(s->w[i].conn, 1) != 0)
			store_log(LOG_WARNING, "database: cannot set non-blocking: %s",
				  PQerrorMessage(s->w[i].conn));
	store_log(LOG_NOTICE, "database: connected (server %d, database %s, %d connections)",
		  PQserverVersion(s->w[0].conn), PQdb(s->w[0].conn), s->nconn);
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

/* One connect step: every connection polled; all of them up is
 * STORE_CONN_UP, a failure schedules the retry. */
static enum store_conn_ev connect_step(struct store *s)
{
	bool all = true;

	if (store_now_ms() >= s->deadline) {
		store_log(LOG_ERR, "database: connect timed out after %d ms",
			  CONNECT_TIMEOUT_MS);
		schedule_retry(s);
		return STORE_CONN_NONE;
	}
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
				return STORE_CONN_NONE;
			}
		}
		if (!w->connected)
			all = false;
	}
	if (!all)
		return STORE_CONN_NONE;
	on_connected(s);
	return STORE_CONN_UP;
}

enum store_conn_ev store_conn_process(struct store *s)
{
	switch (s->state) {
	case STORE_UNCONFIGURED:
		return STORE_CONN_NONE;
	case STORE_DOWN:
		if (store_now_ms() >= s->deadline)
			start_connect(s);
		return STORE_CONN_NONE;
	case STORE_CONNECTING:
		return connect_step(s);
	case STORE_UP:
		for (int i = 0; i < s->nconn; i++) {
			PGconn *c = s->w[i].conn;

			if (!PQconsumeInput(c) || PQstatus(c) == CONNECTION_BAD) {
				store_log(LOG_ERR, "database: connection lost: %s",
					  PQerrorMessage(c));
				schedule_retry(s);
				return STORE_CONN_LOST;
			}
			for (PGnotify *n; (n = PQnotifies(c)) != NULL;)
				PQfreemem(n);
		}
		return STORE_CONN_READY;
	}
	return STORE_CONN_NONE;
}

int store_libpq_version(void)
{
	return PQlibVersion();
}
