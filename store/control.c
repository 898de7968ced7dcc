/* control.c: the control connection: registration in the instances registry, heartbeats, the registry state, and other modules' statements in order */
/*
 * One connection, one statement on the wire at a time, a FIFO of
 * operations. After every connect the registration goes first (it alone
 * may run before the instance is registered), then the up handler runs,
 * then whatever is queued. A heartbeat is queued every HEARTBEAT_MS while
 * registered. Losing the connection fails every user statement queued or
 * in flight with ENOTCONN (from store_process) and reconnects after the
 * store's backoff; the registration then writes the current state again.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

#define HEARTBEAT_MS 5000u
#define CTL_CONNECT_MS 10000u
#define CTL_STATEMENT_MS 5000u
/* no answer by then: a silent network, the connection is dropped */
#define CTL_ANSWER_MS (CTL_STATEMENT_MS + 3000u)
/* a row whose heartbeat is younger is alive (3 heartbeats) */
#define FRESH_S 15
/* pg_advisory_xact_lock key of the registration: "dlr-reg" */
#define REGISTRY_LOCK_KEY "28270652051498343"

enum op_kind {
	OP_REGISTER,
	OP_HEARTBEAT,
	OP_STATE,
	OP_USER,
};

struct store_exec {
	struct store_exec *next;
	struct store *s;
	enum op_kind kind;
	bool sent;
	bool cancelled;
	char *sql;
	int nparams;
	char **params;
	PGresult *res;		/* the first error, else the last result */
	store_exec_h *h;
	void *arg;
};

struct store_rows {
	const PGresult *res;
};

enum cphase {
	C_OFF,		/* handlers set, store_control_start not called yet */
	C_DOWN,		/* waiting for deadline to connect */
	C_CONNECTING,
	C_REGISTERING,	/* connected, the registration in flight */
	C_UP,		/* registered: ops run */
};

struct ctl {
	struct store_instance inst;	/* strings owned */
	char *state;			/* active, draining, stopped */
	store_registered_h *reg_h;
	void *reg_arg;
	store_control_up_h *up_h;
	void *up_arg;
	store_notify_h *notify_h;
	void *notify_arg;

	PGconn *conn;
	int poll;
	enum cphase phase;
	bool want_write;
	unsigned long long deadline;	/* connect, retry, or answer */
	unsigned backoff_ms;
	unsigned long long heartbeat_due;
	unsigned id;			/* registered id, 0: none yet */
	bool row_lost_logged;
	int reg_fd;
	unsigned reg_events;

	struct store_exec *ops, *ops_tail;
};

static void op_free(struct store_exec *x)
{
	if (!x)
		return;
	free(x->sql);
	for (int i = 0; i < x->nparams; i++)
		free(x->params[i]);
	free(x->params);
	PQclear(x->res);
	free(x);
}

static void op_unlink(struct ctl *c, struct store_exec *x)
{
	struct store_exec **pp = &c->ops, *prev = NULL;

	while (*pp && *pp != x) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = x->next;
	if (c->ops_tail == x)
		c->ops_tail = prev;
	x->next = NULL;
}

static void op_append(struct ctl *c, struct store_exec *x)
{
	if (c->ops_tail)
		c->ops_tail->next = x;
	else
		c->ops = x;
	c->ops_tail = x;
}

static void op_push_front(struct ctl *c, struct store_exec *x)
{
	x->next = c->ops;
	c->ops = x;
	if (!c->ops_tail)
		c->ops_tail = x;
}

/* sql and params copied */
static struct store_exec *op_new(struct store *s, enum op_kind kind,
				 const char *sql, int nparams,
				 const char *const *params)
{
	struct store_exec *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->s = s;
	x->kind = kind;
	x->sql = strdup(sql);
	if (!x->sql)
		goto fail;
	if (nparams > 0) {
		x->params = calloc((size_t)nparams, sizeof(char *));
		if (!x->params)
			goto fail;
		x->nparams = nparams;
		for (int i = 0; i < nparams; i++) {
			if (!params[i])
				continue;
			x->params[i] = strdup(params[i]);
			if (!x->params[i])
				goto fail;
		}
	}
	return x;
 fail:
	op_free(x);
	return NULL;
}

/* ---- the connection ---- */

static unsigned conn_events(const struct ctl *c)
{
	if (!c->conn)
		return 0;
	if (c->phase == C_CONNECTING)
		return c->poll == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT;
	return EPOLLIN | (c->want_write ? EPOLLOUT : 0u);
}

bool store_control_want(const struct store *s)
{
	struct ctl *c = s->ctl;
	int fd;
	unsigned ev;
	struct epoll_event e;
	int r;

	if (!c || !s->ep)
		return false;
	fd = c->conn ? PQsocket(c->conn) : -1;
	if (c->reg_fd >= 0 && c->reg_fd != fd) {
		(void)epoll_ctl(s->ep->epfd, EPOLL_CTL_DEL, c->reg_fd, NULL);
		c->reg_fd = -1;
	}
	ev = conn_events(c);
	if (fd < 0)
		return false;
	if (c->reg_fd == fd && c->reg_events == ev && c->phase != C_CONNECTING)
		return ev != 0;
	e.events = ev;
	e.data.fd = fd;
	r = epoll_ctl(s->ep->epfd, c->reg_fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      fd, &e);
	if (r != 0 && errno == ENOENT)
		r = epoll_ctl(s->ep->epfd, EPOLL_CTL_ADD, fd, &e);
	else if (r != 0 && errno == EEXIST)
		r = epoll_ctl(s->ep->epfd, EPOLL_CTL_MOD, fd, &e);
	if (r == 0) {
		c->reg_fd = fd;
		c->reg_events = ev;
	} else {
		store_log(LOG_ERR, "database (control): cannot watch a socket: %s",
			  strerror(errno));
	}
	return ev != 0;
}

static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	store_log(LOG_WARNING, "database notice (control): %s", msg);
}

/* Calls x's handler (unless cancelled or internal) and frees it; x is
 * already unlinked. */
static void op_finish(struct store_exec *x, int err, const PGresult *res)
{
	struct store_rows rows = {res};

	if (x->kind == OP_USER && !x->cancelled && x->h)
		x->h(err, err ? NULL : &rows, x->arg);
	op_free(x);
}

/* Drops the connection and schedules the next attempt; every user
 * statement queued or on the wire fails with ENOTCONN, internal ones are
 * forgotten (the next registration writes the state again). */
static void drop(struct store *s, bool retry_now)
{
	struct ctl *c = s->ctl;

	if (c->conn)
		PQfinish(c->conn);	/* closing the socket leaves the epoll set */
	c->conn = NULL;
	c->reg_fd = -1;
	c->reg_events = 0;
	c->want_write = false;
	c->phase = C_DOWN;
	c->deadline = store_now_ms() + (retry_now ? 0 : c->backoff_ms);
	if (!retry_now) {
		store_log(LOG_NOTICE, "database (control): retrying in %u ms",
			  c->backoff_ms);
		c->backoff_ms *= 2;
		if (c->backoff_ms > s->reconnect_max_ms)
			c->backoff_ms = s->reconnect_max_ms;
	}
	while (c->ops) {
		struct store_exec *x = c->ops;

		op_unlink(c, x);
		op_finish(x, ENOTCONN, NULL);
	}
}

static void start_connect(struct store *s)
{
	struct ctl *c = s->ctl;

	c->conn = PQconnectStart(s->conninfo);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		store_log(LOG_ERR, "database (control): %s",
			  c->conn ? PQerrorMessage(c->conn) : "out of memory");
		drop(s, false);
		return;
	}
	PQsetNoticeProcessor(c->conn, on_notice, NULL);
	c->poll = PGRES_POLLING_WRITING;
	c->phase = C_CONNECTING;
	c->deadline = store_now_ms() + CTL_CONNECT_MS;
}

static bool conn_ready(const struct ctl *c)
{
	struct pollfd p = {.fd = PQsocket(c->conn)};

	if (p.fd < 0)
		return true;
	p.events = c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	return poll(&p, 1, 0) > 0;
}

static int send_op(struct store *s, struct store_exec *x)
{
	struct ctl *c = s->ctl;
	int ok;

	if (x->nparams > 0)
		ok = PQsendQueryParams(c->conn, x->sql, x->nparams, NULL,
				       (const char *const *)x->params, NULL,
				       NULL, 0);
	else
		ok = PQsendQuery(c->conn, x->sql);
	if (!ok) {
		store_log(LOG_ERR, "database (control): cannot send: %s",
			  PQerrorMessage(c->conn));
		return ENOTCONN;
	}
	x->sent = true;
	c->deadline = store_now_ms() + CTL_ANSWER_MS;
	c->want_write = PQflush(c->conn) == 1;
	return 0;
}

/* ---- the registration ---- */

static char *lit(PGconn *conn, const char *v)
{
	return PQescapeLiteral(conn, v ? v : "", strlen(v ? v : ""));
}

#define REGISTER_SQL \
	"set statement_timeout = %u; set client_encoding to 'UTF8';" \
	" select pg_advisory_xact_lock(" REGISTRY_LOCK_KEY ");" \
	" with me as (select id, host, pid, data_dir, state," \
	"  heartbeat_at > now() - interval '%d seconds' as fresh," \
	"  round(extract(epoch from now() - heartbeat_at))::bigint as age" \
	"  from instances where name = %s)," \
	" v as (select case" \
	"  when exists (select 1 from me where fresh" \
	"   and state in ('active', 'draining')" \
	"   and not (host = %s and (pid = %d or (%s <> '' and data_dir = %s))))" \
	"   then 'busy'" \
	"  when exists (select 1 from me where state = 'lost' and fresh)" \
	"   or (%s and exists (select 1 from me" \
	"    where state in ('lost', 'retired')))" \
	"   then 'taken-over'" \
	"  when %u > 0 and exists (select 1 from me where id <> %u)" \
	"   then 'id-mismatch'" \
	"  when %u > 0 and exists (select 1 from instances" \
	"   where id = %u and name <> %s) then 'id-taken'" \
	"  else 'ok' end as verdict," \
	"  coalesce(nullif(%u, 0), (select id from me)," \
	"   (select %u where %u > 0 and not exists" \
	"    (select 1 from instances where id = %u))," \
	"   (select min(i) from generate_series(1, 65535) i" \
	"    where not exists (select 1 from instances where id = i)))" \
	"   as id)," \
	" up as (insert into instances (id, name, sip_addr, http_addr," \
	"  data_dir, host, pid, state, started_at, heartbeat_at, version)" \
	"  select id, %s, %s, %s, %s, %s, %d, %s," \
	"   to_timestamp(%" PRId64 ".%06" PRId64 "), now(), %s" \
	"  from v where verdict = 'ok' and id is not null" \
	"  on conflict (name) do update set sip_addr = excluded.sip_addr," \
	"  http_addr = excluded.http_addr, data_dir = excluded.data_dir," \
	"  host = excluded.host, pid = excluded.pid, state = excluded.state," \
	"  started_at = excluded.started_at," \
	"  heartbeat_at = excluded.heartbeat_at, version = excluded.version" \
	"  returning id)" \
	" select v.verdict, (select id from up), (select id from me)," \
	"  (select host from me), (select pid from me), (select age from me)," \
	"  (select state from me) from v"

/* The SQL of the registration, literals escaped for this connection
 * (a simple query: several statements, one implicit transaction; the
 * advisory lock is held to its end, and in READ COMMITTED the upsert's
 * snapshot is taken after the lock is granted). */
static char *register_sql(struct store *s)
{
	struct ctl *c = s->ctl;
	const struct store_instance *in = &c->inst;
	char *n = lit(c->conn, in->name), *sip = lit(c->conn, in->sip_addr),
	     *http = lit(c->conn, in->http_addr), *dd = lit(c->conn, in->data_dir),
	     *host = lit(c->conn, in->host), *ver = lit(c->conn, in->version),
	     *st = lit(c->conn, c->state);
	char *sql = NULL;
	int len;
	int64_t sec = in->started_at / 1000000, usec = in->started_at % 1000000;

	if (!n || !sip || !http || !dd || !host || !ver || !st)
		goto out;
	len = snprintf(NULL, 0, REGISTER_SQL, CTL_STATEMENT_MS, FRESH_S, n, host,
		       in->pid, dd, dd, c->id ? "true" : "false", in->id,
		       in->id, in->id, in->id, n, in->id,
		       in->preferred_id, in->preferred_id, in->preferred_id, n,
		       sip, http, dd, host, in->pid, st, sec, usec, ver);
	sql = malloc((size_t)len + 1);
	if (sql)
		snprintf(sql, (size_t)len + 1, REGISTER_SQL, CTL_STATEMENT_MS, FRESH_S, n,
			 host, in->pid, dd, dd, c->id ? "true" : "false", in->id, in->id,
			 in->id, in->id,
			 n, in->id, in->preferred_id, in->preferred_id,
			 in->preferred_id, n, sip, http, dd, host, in->pid, st,
			 sec, usec, ver);
 out:
	PQfreemem(n);
	PQfreemem(sip);
	PQfreemem(http);
	PQfreemem(dd);
	PQfreemem(host);
	PQfreemem(ver);
	PQfreemem(st);
	return sql;
}

static void send_register(struct store *s)
{
	struct ctl *c = s->ctl;
	char *sql = register_sql(s);
	struct store_exec *x = sql ? op_new(s, OP_REGISTER, sql, 0, NULL) : NULL;

	free(sql);
	if (!x) {
		store_log(LOG_ERR, "database (control): out of memory registering");
		drop(s, false);
		return;
	}
	op_push_front(c, x);
	c->phase = C_REGISTERING;
	if (send_op(s, x))
		drop(s, false);
}

static unsigned parse_id(const char *v)
{
	unsigned long n;
	char *end;

	if (!v || !*v)
		return 0;
	n = strtoul(v, &end, 10);
	return *end || n > 65535 ? 0 : (unsigned)n;
}

/* The registration's answer: registered, or refused (dropped, retried). */
static void on_registered(struct store *s, const PGresult *res)
{
	struct ctl *c = s->ctl;
	char why[512];
	int err = 0;
	unsigned id = 0;
	const char *verdict;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) < 7) {
		const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
				      : NULL;

		err = EIO;
		snprintf(why, sizeof(why), "registration of instance \"%s\" failed: %s",
			 c->inst.name, msg ? msg : res ? PQresStatus(PQresultStatus(res))
						 : "no result");
		goto out;
	}
	verdict = PQgetvalue(res, 0, 0);
	if (!strcmp(verdict, "busy")) {
		err = EEXIST;
		snprintf(why, sizeof(why), "instance \"%s\" is already running: its "
			 "registry row (id %s, state %s) is held by host %s pid %s, "
			 "heartbeat %s s ago (under %d s): refusing a second "
			 "instance of the same name", c->inst.name,
			 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 6),
			 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),
			 PQgetvalue(res, 0, 5), FRESH_S);
	} else if (!strcmp(verdict, "taken-over")) {
		/* dialerd takeover closed (or is closing) this name's calls:
		 * registering as active again would reopen them */
		err = ESTALE;
		snprintf(why, sizeof(why), "instance \"%s\" was taken over: its "
			 "registry row (id %s) is %s, held by host %s pid %s",
			 c->inst.name, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 6),
			 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	} else if (!strcmp(verdict, "id-mismatch")) {
		err = EADDRINUSE;
		snprintf(why, sizeof(why), "instance \"%s\" is registered with id %s, "
			 "instance_id is %u: SIDs already carry the old id (set "
			 "instance_id = %s or 0)", c->inst.name, PQgetvalue(res, 0, 2),
			 c->inst.id, PQgetvalue(res, 0, 2));
	} else if (!strcmp(verdict, "id-taken")) {
		err = EADDRINUSE;
		snprintf(why, sizeof(why), "instance_id %u belongs to another "
			 "instance name in the registry", c->inst.id);
	} else if ((id = parse_id(PQgetvalue(res, 0, 1))) == 0) {
		err = ENOSPC;
		snprintf(why, sizeof(why), "no free instance id (1..65535) for "
			 "instance \"%s\"", c->inst.name);
	} else {
		snprintf(why, sizeof(why), "instance \"%s\" registered with id %u "
			 "(state %s)", c->inst.name, id, c->state);
	}
 out:
	if (err) {
		store_log(LOG_ERR, "database (control): %s", why);
		if (c->reg_h)
			c->reg_h(err, 0, why, c->reg_arg);
		if (s->ctl && c->conn)
			drop(s, false);
		return;
	}
	c->id = id;
	c->phase = C_UP;
	c->backoff_ms = s->reconnect_min_ms;
	c->heartbeat_due = store_now_ms() + HEARTBEAT_MS;
	c->row_lost_logged = false;
	store_log(LOG_NOTICE, "database (control): %s", why);
	if (c->reg_h)
		c->reg_h(0, id, why, c->reg_arg);
	if (c->up_h && c->phase == C_UP)
		c->up_h(id, c->up_arg);
}

static void on_internal(struct store *s, struct store_exec *x,
			const PGresult *res)
{
	struct ctl *c = s->ctl;
	bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok) {
		store_log(LOG_ERR, "database (control): %s failed: %s",
			  x->kind == OP_HEARTBEAT ? "the heartbeat"
						  : "the state update",
			  res ? PQresultErrorMessage(res) : "no result");
		return;
	}
	if (strcmp(PQcmdTuples((PGresult *)res), "0") == 0) {
		/* the row is no longer this process's: register again (which
		 * finds out whether another one holds the name now) */
		if (!c->row_lost_logged)
			store_log(LOG_ERR, "database (control): the registry row "
				  "of instance \"%s\" (id %u) is no longer this "
				  "process's: registering again", c->inst.name,
				  c->id);
		c->row_lost_logged = true;
		drop(s, false);
	}
}

/* The head operation's answer is complete. */
static void complete_head(struct store *s)
{
	struct ctl *c = s->ctl;
	struct store_exec *x = c->ops;
	PGresult *res;
	int err = 0;

	op_unlink(c, x);
	res = x->res;
	x->res = NULL;
	switch (x->kind) {
	case OP_REGISTER:
		op_free(x);
		on_registered(s, res);
		PQclear(res);
		return;
	case OP_HEARTBEAT:
	case OP_STATE:
		on_internal(s, x, res);
		op_free(x);
		PQclear(res);
		return;
	case OP_USER:
		break;
	}
	if (!res) {
		err = ENOTCONN;
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		   PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (code && !strcmp(code, "57014"))
			err = ETIMEDOUT;
		else if (code && (!strncmp(code, "08", 2) || !strncmp(code, "57P", 3)))
			err = ENOTCONN;
		else
			err = EIO;
		store_log(err == ETIMEDOUT ? LOG_WARNING : LOG_ERR,
			  "database (control): a statement failed (%s): %s",
			  code ? code : "?", PQresultErrorMessage(res));
	}
	op_finish(x, err, res);
	PQclear(res);
}

static void deliver_notifies(struct store *s)
{
	struct ctl *c = s->ctl;

	for (PGnotify *n; c->conn && (n = PQnotifies(c->conn)) != NULL;) {
		if (c->notify_h)
			c->notify_h(n->relname, n->extra ? n->extra : "",
				    c->notify_arg);
		PQfreemem(n);
	}
}

/* Reads what came: notifications and the head's results. */
static void io_step(struct store *s)
{
	struct ctl *c = s->ctl;

	if (c->want_write) {
		int f = PQflush(c->conn);

		if (f < 0)
			goto lost;
		c->want_write = f == 1;
	}
	if (!PQconsumeInput(c->conn))
		goto lost;
	while (c->conn && c->ops && c->ops->sent && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		struct store_exec *x = c->ops;

		if (!res) {
			complete_head(s);
			continue;
		}
		/* several statements: keep the first error, else the last */
		if (!x->res || (PQresultStatus(x->res) != PGRES_FATAL_ERROR &&
				PQresultStatus(x->res) != PGRES_NONFATAL_ERROR)) {
			PQclear(x->res);
			x->res = res;
		} else {
			PQclear(res);
		}
	}
	if (!c->conn)
		return;
	deliver_notifies(s);
	if (c->conn && PQstatus(c->conn) == CONNECTION_BAD)
		goto lost;
	return;
 lost:
	store_log(LOG_ERR, "database (control): connection lost: %s",
		  PQerrorMessage(c->conn));
	drop(s, false);
}

static void connect_step(struct store *s)
{
	struct ctl *c = s->ctl;

	if (store_now_ms() >= c->deadline) {
		store_log(LOG_ERR, "database (control): connect timed out after %u ms",
			  CTL_CONNECT_MS);
		drop(s, false);
		return;
	}
	if (!conn_ready(c))
		return;
	c->poll = PQconnectPoll(c->conn);
	if (c->poll == PGRES_POLLING_FAILED) {
		store_log(LOG_ERR, "database (control): %s", PQerrorMessage(c->conn));
		drop(s, false);
		return;
	}
	if (c->poll != PGRES_POLLING_OK)
		return;
	if (PQsetnonblocking(c->conn, 1) != 0)
		store_log(LOG_WARNING, "database (control): cannot set non-blocking: %s",
			  PQerrorMessage(c->conn));
	send_register(s);
}

static int queue_internal(struct store *s, enum op_kind kind, const char *sql,
			  int nparams, const char *const *params)
{
	struct store_exec *x = op_new(s, kind, sql, nparams, params);

	if (!x)
		return ENOMEM;
	op_append(s->ctl, x);
	return 0;
}

static void queue_heartbeat(struct store *s)
{
	struct ctl *c = s->ctl;
	char id[16], pid[16];
	const char *p[3] = {id, pid, c->inst.host};

	snprintf(id, sizeof(id), "%u", c->id);
	snprintf(pid, sizeof(pid), "%d", c->inst.pid);
	for (struct store_exec *x = c->ops; x; x = x->next)
		if (x->kind == OP_HEARTBEAT)
			return;	/* one is enough */
	if (queue_internal(s, OP_HEARTBEAT, "update instances set heartbeat_at = "
			   "now() where id = $1 and pid = $2 and host = $3",
			   3, p))
		store_log(LOG_ERR, "database (control): out of memory (heartbeat)");
}

/* Sends the head when the connection is free. */
static void advance(struct store *s)
{
	struct ctl *c = s->ctl;

	if (c->phase != C_UP || !c->conn)
		return;
	if (store_now_ms() >= c->heartbeat_due) {
		queue_heartbeat(s);
		c->heartbeat_due = store_now_ms() + HEARTBEAT_MS;
	}
	while (c->ops && !c->ops->sent) {
		struct store_exec *x = c->ops;

		if (x->cancelled) {
			op_unlink(c, x);
			op_free(x);
			continue;
		}
		if (send_op(s, x))
			drop(s, false);
		return;
	}
}

void store_control_process(struct store *s)
{
	struct ctl *c = s->ctl;

	if (!c)
		return;
	switch (c->phase) {
	case C_OFF:
		break;
	case C_DOWN:
		if (store_now_ms() >= c->deadline)
			start_connect(s);
		break;
	case C_CONNECTING:
		connect_step(s);
		break;
	case C_REGISTERING:
	case C_UP:
		io_step(s);
		if (c->conn && c->ops && c->ops->sent &&
		    store_now_ms() >= c->deadline) {
			store_log(LOG_ERR, "database (control): no answer in %u ms; "
				  "dropping the connection", CTL_ANSWER_MS);
			drop(s, false);
		}
		break;
	}
	advance(s);
}

int store_control_timeout_ms(const struct store *s)
{
	const struct ctl *c = s->ctl;
	unsigned long long now = store_now_ms(), due;

	if (!c || c->phase == C_OFF)
		return -1;
	switch (c->phase) {
	case C_OFF:
	case C_DOWN:
	case C_CONNECTING:
	case C_REGISTERING:
		due = c->deadline;
		break;
	case C_UP:
	default:
		if (c->ops && c->ops->sent)
			due = c->deadline < c->heartbeat_due ? c->deadline
							     : c->heartbeat_due;
		else if (c->ops)
			due = now;	/* queued outside store_process */
		else
			due = c->heartbeat_due;
		break;
	}
	return due > now ? (int)(due - now) : 0;
}

void store_control_free(struct store *s)
{
	struct ctl *c = s->ctl;

	if (!c)
		return;
	while (c->ops) {
		struct store_exec *x = c->ops;

		c->ops = x->next;
		op_free(x);
	}
	if (c->conn)
		PQfinish(c->conn);
	free((char *)c->inst.name);
	free((char *)c->inst.sip_addr);
	free((char *)c->inst.http_addr);
	free((char *)c->inst.data_dir);
	free((char *)c->inst.host);
	free((char *)c->inst.version);
	free(c->state);
	free(c);
	s->ctl = NULL;
}

/* ---- the entry points ---- */

static void wake(struct store *s)
{
	if (s->wake)
		s->wake(s->wake_arg);
}

static int dup_str(const char **dst, const char *src)
{
	*dst = strdup(src ? src : "");
	return *dst ? 0 : ENOMEM;
}

static bool valid_state(const char *st)
{
	return st && (!strcmp(st, "active") || !strcmp(st, "draining") ||
		      !strcmp(st, "stopped"));
}

/* The control block, made by the first setter or by the start. */
static struct ctl *ctl_get(struct store *s)
{
	if (!s->ctl) {
		s->ctl = calloc(1, sizeof(*s->ctl));
		if (s->ctl) {
			s->ctl->phase = C_OFF;
			s->ctl->reg_fd = -1;
		}
	}
	return s->ctl;
}

int store_control_start(struct store *s, const struct store_instance *inst,
			store_registered_h *h, void *arg)
{
	struct ctl *c;
	int err = 0;

	if (!s || !inst || !inst->name || !*inst->name || inst->id > 65535 ||
	    inst->preferred_id > 65535)
		return EINVAL;
	if (s->ctl && s->ctl->phase != C_OFF)
		return EALREADY;
	if (s->state == STORE_UNCONFIGURED || !s->conninfo)
		return ENOTSUP;
	c = ctl_get(s);
	if (!c)
		return ENOMEM;
	c->inst = *inst;
	err = dup_str(&c->inst.name, inst->name);
	err = err ? err : dup_str(&c->inst.sip_addr, inst->sip_addr);
	err = err ? err : dup_str(&c->inst.http_addr, inst->http_addr);
	err = err ? err : dup_str(&c->inst.data_dir, inst->data_dir);
	err = err ? err : dup_str(&c->inst.host, inst->host);
	err = err ? err : dup_str(&c->inst.version, inst->version);
	if (!err && !c->state) {
		c->state = strdup("active");
		if (!c->state)
			err = ENOMEM;
	}
	c->reg_h = h;
	c->reg_arg = arg;
	c->backoff_ms = s->reconnect_min_ms;
	c->deadline = 0;	/* connect on the next store_process */
	if (err) {
		store_control_free(s);
		return err;
	}
	c->phase = C_DOWN;
	wake(s);
	return 0;
}

int store_control_state(struct store *s, const char *state)
{
	struct ctl *c;
	char *st;
	char id[16], pid[16];
	const char *p[4];

	if (!s || !s->ctl || !valid_state(state))
		return EINVAL;
	c = s->ctl;
	st = strdup(state);
	if (!st)
		return ENOMEM;
	free(c->state);
	c->state = st;
	if (c->phase != C_UP)
		return 0;	/* the next registration writes it */
	snprintf(id, sizeof(id), "%u", c->id);
	snprintf(pid, sizeof(pid), "%d", c->inst.pid);
	p[0] = state;
	p[1] = id;
	p[2] = pid;
	p[3] = c->inst.host;
	if (queue_internal(s, OP_STATE, "update instances set state = $1, "
			   "heartbeat_at = now() where id = $2 and pid = $3 "
			   "and host = $4", 4, p))
		return ENOMEM;
	wake(s);
	return 0;
}

unsigned store_control_id(const struct store *s)
{
	return s && s->ctl ? s->ctl->id : 0;
}

bool store_control_up(const struct store *s)
{
	return s && s->ctl && s->ctl->phase == C_UP;
}

bool store_control_busy(const struct store *s)
{
	return s && s->ctl && s->ctl->ops;
}

void store_control_up_handler_set(struct store *s, store_control_up_h *h,
				  void *arg)
{
	if (!s || !ctl_get(s)) {
		store_log(LOG_ERR, "database (control): out of memory");
		return;
	}
	s->ctl->up_h = h;
	s->ctl->up_arg = arg;
}

void store_control_notify_handler_set(struct store *s, store_notify_h *h,
				      void *arg)
{
	if (!s || !ctl_get(s)) {
		store_log(LOG_ERR, "database (control): out of memory");
		return;
	}
	s->ctl->notify_h = h;
	s->ctl->notify_arg = arg;
}

int store_control_exec(struct store *s, const char *sql, int nparams,
		       const char *const *params, store_exec_h *h, void *arg,
		       struct store_exec **xp)
{
	struct store_exec *x;

	if (!s || !sql || nparams < 0 || (nparams > 0 && !params))
		return EINVAL;
	if (!store_control_up(s))
		return ENOTCONN;
	x = op_new(s, OP_USER, sql, nparams, params);
	if (!x)
		return ENOMEM;
	x->h = h;
	x->arg = arg;
	op_append(s->ctl, x);
	if (xp)
		*xp = x;
	wake(s);
	return 0;
}

void store_control_cancel(struct store_exec *x)
{
	if (!x)
		return;
	x->cancelled = true;	/* unsent ones are dropped by advance() */
}

size_t store_rows_count(const struct store_rows *r)
{
	return r && r->res ? (size_t)PQntuples(r->res) : 0;
}

unsigned store_rows_columns(const struct store_rows *r)
{
	return r && r->res ? (unsigned)PQnfields(r->res) : 0;
}

const char *store_rows_value(const struct store_rows *r, size_t row,
			     unsigned col)
{
	if (!r || !r->res || row >= (size_t)PQntuples(r->res) ||
	    col >= (unsigned)PQnfields(r->res) ||
	    PQgetisnull(r->res, (int)row, (int)col))
		return NULL;
	return PQgetvalue(r->res, (int)row, (int)col);
}

unsigned long long store_rows_affected(const struct store_rows *r)
{
	const char *n = r && r->res ? PQcmdTuples((PGresult *)r->res) : NULL;

	return n && *n ? strtoull(n, NULL, 10) : 0;
}
