/* read.c: the REST API's queries: a reader connection of their own, read-your-writes against the writer, one query at a time */
/*
 * Reads queue in the order they were asked (a FIFO); only the head is
 * ever on the wire. A read is sent once every row added before it has
 * committed (store_writer_unsettled() past its number): asked in order,
 * their numbers only grow, so when the head may go every read behind it
 * could too, and one connection in order loses nothing. While a read waits
 * for its rows, the writer flushes them at once instead of after flush_ms
 * (flush_wanted_no). A read never waits on a database that is away: the
 * writer's state and the journal decide at once (ENOTCONN), and the
 * server's statement_timeout and our own deadlines bound the rest.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

/* the server cancels a statement running longer (SQLSTATE 57014) */
#define READ_STATEMENT_MS 5000u
/* our own bounds: waiting for the rows to commit, connecting, and an
 * answer that never comes (a silent network) */
#define READ_WAIT_MS 5000u
#define READ_CONNECT_MS 5000u
#define READ_ANSWER_MS (READ_STATEMENT_MS + 2000u)

enum read_kind {
	RK_CALLS,
	RK_HIDE,
	RK_SIP,
};

struct store_read {
	struct store_read *next;
	struct store *s;
	enum read_kind kind;
	bool sent;		/* on the wire: the head, reader R_BUSY */
	bool cancelled;		/* sent, then cancelled: its answer is dropped */
	uint64_t target;	/* the rows added before it */
	unsigned long long deadline;	/* to be sent by then */
	struct query q;
	PGresult *res;		/* the answer (or the first error) */
	union read_h {
		store_calls_h *calls;
		store_done_h *done;
		store_sip_h *sip;
	} h;
	void *arg;
};

static void read_free(struct store_read *r)
{
	if (!r)
		return;
	store_query_clear(&r->q);
	PQclear(r->res);
	free(r);
}

static void unlink_read(struct store *s, struct store_read *r)
{
	struct store_read **pp = &s->reads, *prev = NULL;

	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = r->next;
	if (s->reads_tail == r)
		s->reads_tail = prev;
	r->next = NULL;
}

/* Calls r's handler with err (no rows) and frees r. */
static void finish_err(struct store *s, struct store_read *r, int err)
{
	unlink_read(s, r);
	switch (r->kind) {
	case RK_CALLS:
		r->h.calls(err, NULL, 0, r->arg);
		break;
	case RK_HIDE:
		r->h.done(err, r->arg);
		break;
	case RK_SIP:
		r->h.sip(err, NULL, 0, r->arg);
		break;
	}
	read_free(r);
}

/* ---- the connection ---- */

static void set_events(struct store *s)
{
	struct rconn *c = &s->r;

	switch (c->phase) {
	case R_NONE:
		c->events = 0;
		break;
	case R_CONNECTING:
		c->events = c->poll == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT;
		break;
	case R_SETUP:
	case R_BUSY:
		c->events = EPOLLIN | (c->want_write ? EPOLLOUT : 0u);
		break;
	case R_IDLE:
		/* the server closing an idle connection */
		c->events = EPOLLIN;
		break;
	}
}

/* Drops the connection (closing the socket takes it out of the epoll
 * set); the read on the wire, if any, fails with err. */
static void drop(struct store *s, int err)
{
	struct store_read *r = s->reads;

	if (s->r.conn)
		PQfinish(s->r.conn);
	s->r.conn = NULL;
	s->r.phase = R_NONE;
	s->r.want_write = false;
	s->r.reg_fd = -1;
	s->r.reg_events = 0;
	set_events(s);
	if (r && r->sent) {
		if (r->cancelled) {
			unlink_read(s, r);
			read_free(r);
		} else {
			finish_err(s, r, err);
		}
	}
}

static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	store_log(LOG_WARNING, "database notice (reader): %s", msg);
}

static void start_connect(struct store *s)
{
	struct rconn *c = &s->r;

	c->conn = PQconnectStart(s->conninfo);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		store_log(LOG_ERR, "database (reader): %s",
			  c->conn ? PQerrorMessage(c->conn) : "out of memory");
		if (c->conn)
			PQfinish(c->conn);
		c->conn = NULL;
		return;
	}
	PQsetNoticeProcessor(c->conn, on_notice, NULL);
	c->poll = PGRES_POLLING_WRITING;
	c->phase = R_CONNECTING;
	c->deadline = store_now_ms() + READ_CONNECT_MS;
	set_events(s);
}

/* PQconnectPoll only when the socket is ready for what it asked. */
static bool conn_ready(const struct rconn *c)
{
	struct pollfd p = {.fd = PQsocket(c->conn)};

	if (p.fd < 0)
		return true;
	p.events = c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	return poll(&p, 1, 0) > 0;
}

/* Every read still waiting fails: the reader cannot connect. */
static void fail_waiting(struct store *s, int err)
{
	while (s->reads && !s->reads->sent)
		finish_err(s, s->reads, err);
}

static void connect_step(struct store *s)
{
	struct rconn *c = &s->r;
	char sql[96];

	if (store_now_ms() >= c->deadline) {
		store_log(LOG_ERR, "database (reader): connect timed out after %u ms",
			  READ_CONNECT_MS);
		drop(s, ENOTCONN);
		fail_waiting(s, ENOTCONN);
		return;
	}
	if (!conn_ready(c))
		return;
	c->poll = PQconnectPoll(c->conn);
	if (c->poll == PGRES_POLLING_FAILED) {
		store_log(LOG_ERR, "database (reader): %s", PQerrorMessage(c->conn));
		drop(s, ENOTCONN);
		fail_waiting(s, ENOTCONN);
		return;
	}
	if (c->poll != PGRES_POLLING_OK) {
		set_events(s);
		return;
	}
	if (PQsetnonblocking(c->conn, 1) != 0)
		store_log(LOG_WARNING, "database (reader): cannot set non-blocking: %s",
			  PQerrorMessage(c->conn));
	snprintf(sql, sizeof(sql), "set statement_timeout = %u;"
		 " set client_encoding to 'UTF8'", READ_STATEMENT_MS);
	if (!PQsendQuery(c->conn, sql)) {
		store_log(LOG_ERR, "database (reader): %s", PQerrorMessage(c->conn));
		drop(s, ENOTCONN);
		fail_waiting(s, ENOTCONN);
		return;
	}
	c->phase = R_SETUP;
	c->deadline = store_now_ms() + READ_CONNECT_MS;
	c->want_write = PQflush(c->conn) == 1;
	set_events(s);
}

static bool is_timeout(const PGresult *res)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return st && strcmp(st, "57014") == 0;
}

/* The head read's answer is complete: hand it over. */
static void send_head(struct store *s, struct store_read *r);

/* A fetch by SID found nothing in its recent days, or a list less than a
 * page: every day now. */
static bool widen(struct store *s, struct store_read *r)
{
	int w = r->q.window;
	char *lo, *hi;

	if (r->kind != RK_CALLS || !w || r->cancelled || !r->res ||
	    PQresultStatus(r->res) != PGRES_TUPLES_OK ||
	    PQntuples(r->res) >= r->q.window_rows)
		return false;
	lo = strdup("-infinity");
	hi = strdup("infinity");
	if (!lo || !hi) {
		free(lo);
		free(hi);
		return false;	/* answered as "no such call" */
	}
	free(r->q.params[w]);
	free(r->q.params[w + 1]);
	r->q.params[w] = lo;
	r->q.params[w + 1] = hi;
	r->q.window = 0;
	PQclear(r->res);
	r->res = NULL;
	r->sent = false;
	send_head(s, r);	/* still the head; the connection is idle */
	return true;
}

static void deliver(struct store *s, struct store_read *r)
{
	PGresult *res = r->res;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int err = 0;

	if (widen(s, r))
		return;
	unlink_read(s, r);
	if (r->cancelled) {
		read_free(r);
		return;
	}
	if (st != PGRES_TUPLES_OK) {
		const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
				      : NULL;
		const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				       : NULL;

		if (!res || PQstatus(s->r.conn) == CONNECTION_BAD ||
		    (code && (strncmp(code, "08", 2) == 0 ||
			      strncmp(code, "57P", 3) == 0))) {
			/* the server went away (shut down, restarted) */
			err = ENOTCONN;
			store_log(LOG_ERR, "store: a read lost its connection: %s",
				  msg ? msg : "no result");
		} else if (is_timeout(res)) {
			err = ETIMEDOUT;
			store_log(LOG_WARNING, "store: a read ran over %u ms: cancelled",
				  READ_STATEMENT_MS);
		} else {
			err = EIO;
			store_log(LOG_ERR, "store: a read failed (%s): %s",
				  code ? code : "?", msg ? msg : "no result");
		}
	}
	switch (r->kind) {
	case RK_CALLS: {
		struct calls_rows cr = {0};

		if (!err)
			err = store_calls_rows_parse(&cr, res);
		r->h.calls(err, cr.rows, cr.n, r->arg);
		store_calls_rows_free(&cr);
		break;
	}
	case RK_HIDE:
		r->h.done(err ? err : store_hide_result(res), r->arg);
		break;
	case RK_SIP: {
		struct sip_rows sr = {0};

		if (!err)
			err = store_sip_rows_parse(&sr, res);
		r->h.sip(err, sr.rows, sr.n, r->arg);
		store_sip_rows_free(&sr);
		break;
	}
	}
	read_free(r);
}

/* Reads what the server sent: the setup's results or the head read's. */
static void io_step(struct store *s)
{
	struct rconn *c = &s->r;

	if (c->want_write) {
		int f = PQflush(c->conn);

		if (f < 0)
			goto lost;
		c->want_write = f == 1;
	}
	if (!PQconsumeInput(c->conn))
		goto lost;
	for (PGnotify *n; (n = PQnotifies(c->conn)) != NULL;)
		PQfreemem(n);
	while (c->phase != R_IDLE && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		struct store_read *r = s->reads;

		if (!res) {
			/* the query is done: the connection is free before
			 * any handler runs, so a handler may ask again */
			if (c->phase == R_SETUP) {
				c->phase = R_IDLE;
				break;
			}
			c->phase = R_IDLE;
			set_events(s);
			if (r && r->sent)
				deliver(s, r);
			return;
		}
		if (c->phase == R_SETUP) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				store_log(LOG_ERR, "database (reader): cannot prepare: %s",
					  PQresultErrorMessage(res));
				PQclear(res);
				drop(s, ENOTCONN);
				fail_waiting(s, ENOTCONN);
				return;
			}
			PQclear(res);
			continue;
		}
		/* one statement: keep its result, or the first error */
		if (r && r->sent && !r->res)
			r->res = res;
		else
			PQclear(res);
	}
	if (PQstatus(c->conn) == CONNECTION_BAD)
		goto lost;
	set_events(s);
	return;
 lost:
	if (c->phase != R_IDLE)
		store_log(LOG_ERR, "database (reader): connection lost: %s",
			  PQerrorMessage(c->conn));
	drop(s, ENOTCONN);
}

/* ---- the queue of reads ---- */

static bool journal_holds_rows(const struct store *s)
{
	return s->have_journal && store_journal_pending(&s->journal);
}

static void send_head(struct store *s, struct store_read *r)
{
	struct rconn *c = &s->r;

	if (!PQsendQueryParams(c->conn, r->q.sql, r->q.nparams, NULL,
			       (const char *const *)r->q.params, NULL, NULL, 0)) {
		store_log(LOG_ERR, "database (reader): cannot send a query: %s",
			  PQerrorMessage(c->conn));
		/* the read is not on the wire: it fails alone */
		drop(s, ENOTCONN);
		finish_err(s, r, ENOTCONN);
		return;
	}
	r->sent = true;
	c->phase = R_BUSY;
	c->deadline = store_now_ms() + READ_ANSWER_MS;
	c->want_write = PQflush(c->conn) == 1;
	set_events(s);
}

/* Moves the head on: fails it, waits, or sends it; then the next. */
static void advance(struct store *s)
{
	for (;;) {
		struct store_read *r = s->reads;

		if (!r || r->sent)
			return;
		if (s->state != STORE_UP || journal_holds_rows(s)) {
			finish_err(s, r, ENOTCONN);
			continue;
		}
		if (store_now_ms() >= r->deadline) {
			store_log(LOG_WARNING, "store: a read waited %u ms for its "
				  "rows to commit: given up", READ_WAIT_MS);
			finish_err(s, r, ETIMEDOUT);
			continue;
		}
		if (store_writer_unsettled(s) <= r->target) {
			if (s->flush_wanted_no < r->target) {
				s->flush_wanted_no = r->target;
				store_flush(s);
			}
			return;
		}
		if (s->r.phase == R_NONE) {
			start_connect(s);
			if (s->r.phase == R_NONE) {
				fail_waiting(s, ENOTCONN);
				return;
			}
		}
		if (s->r.phase != R_IDLE)
			return;
		send_head(s, r);
		/* sent, or failed and the next may go */
	}
}

void store_read_process(struct store *s)
{
	struct rconn *c = &s->r;

	if (c->phase == R_CONNECTING)
		connect_step(s);
	else if (c->phase != R_NONE)
		io_step(s);
	if (c->phase == R_BUSY && store_now_ms() >= c->deadline) {
		store_log(LOG_ERR, "database (reader): no answer in %u ms; "
			  "dropping the connection", READ_ANSWER_MS);
		drop(s, ETIMEDOUT);
	} else if (c->phase == R_SETUP && store_now_ms() >= c->deadline) {
		store_log(LOG_ERR, "database (reader): no answer to the set-up");
		drop(s, ENOTCONN);
		fail_waiting(s, ENOTCONN);
	}
	advance(s);
}

int store_read_timeout_ms(const struct store *s)
{
	unsigned long long now = store_now_ms(), due = 0;
	bool have = false;
	const struct store_read *r = s->reads;

	if (s->r.phase == R_CONNECTING || s->r.phase == R_SETUP ||
	    s->r.phase == R_BUSY) {
		due = s->r.deadline;
		have = true;
	}
	if (r && !r->sent) {
		/* a head that could go now (asked outside store_process):
		 * at once; one waiting for its rows: the writer's I/O wakes
		 * the loop before its deadline */
		bool ready = (s->r.phase == R_NONE || s->r.phase == R_IDLE) &&
			     store_writer_unsettled(s) > r->target;

		if (ready || s->state != STORE_UP)
			due = now;
		else if (!have || r->deadline < due)
			due = r->deadline;
		have = true;
	}
	if (!have)
		return -1;
	return due > now ? (int)(due - now) : 0;
}

void store_read_free(struct store *s)
{
	while (s->reads) {
		struct store_read *r = s->reads;

		s->reads = r->next;
		read_free(r);
	}
	s->reads_tail = NULL;
	if (s->r.conn)
		PQfinish(s->r.conn);
	s->r.conn = NULL;
	s->r.phase = R_NONE;
}

/* ---- the entry points ---- */

/* Queues a read of query q (taken over); ENOTCONN when it could only fail. */
static int start(struct store *s, enum read_kind kind, struct query *q,
		 union read_h h, void *arg, struct store_read **rp)
{
	struct store_read *r;

	if (s->state != STORE_UP || journal_holds_rows(s)) {
		store_query_clear(q);
		return ENOTCONN;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		store_query_clear(q);
		return ENOMEM;
	}
	r->s = s;
	r->kind = kind;
	r->q = *q;
	memset(q, 0, sizeof(*q));
	r->target = s->rows_added;
	r->deadline = store_now_ms() + READ_WAIT_MS;
	r->arg = arg;
	r->h = h;
	if (s->reads_tail)
		s->reads_tail->next = r;
	else
		s->reads = r;
	s->reads_tail = r;
	if (rp)
		*rp = r;
	/* its rows flushed now, the connection opened: the handler runs
	 * from store_process(), and the loop must look at the store again */
	if (store_writer_unsettled(s) <= r->target &&
	    s->flush_wanted_no < r->target) {
		s->flush_wanted_no = r->target;
		store_flush(s);
	}
	if (s->r.phase == R_NONE && s->reads == r)
		start_connect(s);
	if (s->wake)
		s->wake(s->wake_arg);
	return 0;
}

int store_calls_query(struct store *s, const struct store_calls_filter *f,
		      store_calls_h *h, void *arg, struct store_read **rp)
{
	struct query q;
	int err;

	if (!s || !h)
		return EINVAL;
	err = store_query_calls(&q, f);
	if (err)
		return err;
	return start(s, RK_CALLS, &q, (union read_h){.calls = h}, arg, rp);
}

int store_call_hide(struct store *s, const char *account_sid, const char *sid,
		    store_done_h *h, void *arg, struct store_read **rp)
{
	struct query q;
	int err;

	if (!s || !h)
		return EINVAL;
	err = store_query_hide(&q, account_sid, sid);
	if (err)
		return err;
	return start(s, RK_HIDE, &q, (union read_h){.done = h}, arg, rp);
}

int store_sip_messages_query(struct store *s, const char *account_sid,
			     const char *sid, bool bodies, store_sip_h *h,
			     void *arg, struct store_read **rp)
{
	struct query q;
	int err;

	if (!s || !h || !account_sid)
		return EINVAL;
	err = store_query_sip(&q, account_sid, sid, bodies);
	if (err)
		return err;
	return start(s, RK_SIP, &q, (union read_h){.sip = h}, arg, rp);
}

void store_read_cancel(struct store_read *r)
{
	if (!r)
		return;
	if (r->sent) {
		/* on the wire: its answer is read and dropped, which keeps
		 * the connection in step */
		r->cancelled = true;
		return;
	}
	unlink_read(r->s, r);
	read_free(r);
}
