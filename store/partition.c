/* partition.c: the call log's daily partitions: created 7 days ahead and dropped past the retention, on a connection of its own, at connect and hourly */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

/*
 * migrations/0006 partitions calls, call_events, sip_messages, sip_headers,
 * webhook_requests and header_policy_events by UTC day, with no DEFAULT
 * partition. A run, on a short-lived connection of its own (a DETACH ...
 * CONCURRENTLY waits for every transaction that might use the partition,
 * and cannot run inside a transaction block, so neither the writer's
 * implicit transactions nor the reader's connection can carry it):
 *   1. pg_try_advisory_lock: another instance running it makes this run
 *      a no-op (call_log_create_partitions takes the same key as a
 *      transaction lock, so a manual call waits for us);
 *   2. select call_log_create_partitions(): today (UTC) through 7 days
 *      ahead, each partition created logged;
 *   3. with call_log_retention_days: call_log_expired_partitions(days),
 *      then for each, oldest first, ALTER TABLE ... DETACH PARTITION ...
 *      CONCURRENTLY (FINALIZE for one left pending by an interrupted run)
 *      and DROP TABLE, each its own statement, each logged.
 * A run starts when the writer's connections come up and then hourly; a
 * day of runs missed still leaves 6 days of partitions. lock_timeout (10 s)
 * bounds the wait for the parent table's lock when creating a partition;
 * the retention statements wait without one, up to the run's deadline
 * (10 minutes, then the connection is dropped and a detach left half-done
 * is finished by the next run's FINALIZE); a failed
 * run is logged, counted and tried again at the next hour. The connection
 * is polled from store_process() every POLL_MS while a run is in progress:
 * it is not part of the epoll set, and a run takes seconds once an hour.
 */

#define RUN_EVERY_MS (60u * 60 * 1000)
#define POLL_MS 50u
#define RUN_DEADLINE_MS (10u * 60 * 1000)	/* a run stuck past it is dropped */
#define LOCK_KEY "hashtext('dialerd call log partitions')"

static void pm_end(struct store *s, bool failed)
{
	struct pmaint *m = &s->pm;

	if (m->conn)
		PQfinish(m->conn);
	m->conn = NULL;
	PQclear(m->last);
	m->last = NULL;
	for (size_t i = 0; i < m->ntodo; i++)
		free(m->todo[i]);
	free(m->todo);
	m->todo = NULL;
	m->ntodo = m->itodo = 0;
	m->phase = PM_IDLE;
	m->next_ms = store_now_ms() + RUN_EVERY_MS;
	if (failed)
		s->stats.maintenance_failures++;
}

static bool pm_send(struct store *s, const char *sql)
{
	struct pmaint *m = &s->pm;

	m->failed = false;
	m->sqlstate[0] = m->errmsg[0] = '\0';
	if (!PQsendQuery(m->conn, sql)) {
		store_log(LOG_ERR, "partitions: cannot send a query: %s",
			  PQerrorMessage(m->conn));
		pm_end(s, true);
		return false;
	}
	m->phase = PM_BUSY;
	return true;
}

static int add_todo(struct pmaint *m, char *sql)
{
	char **t;

	if (!sql)
		return ENOMEM;
	t = realloc(m->todo, (m->ntodo + 1) * sizeof(*t));
	if (!t) {
		free(sql);
		return ENOMEM;
	}
	m->todo = t;
	m->todo[m->ntodo++] = sql;
	return 0;
}

/* head + "parent" + mid + "child" + tail, identifiers quoted */
static char *stmt(PGconn *c, const char *head, const char *a, const char *mid,
		  const char *b, const char *tail)
{
	char *qa = PQescapeIdentifier(c, a, strlen(a));
	char *qb = b ? PQescapeIdentifier(c, b, strlen(b)) : NULL;
	char *out = NULL;
	size_t n;

	if (qa && (qb || !b)) {
		n = strlen(head) + strlen(qa) + strlen(mid) +
		    (qb ? strlen(qb) : 0) + strlen(tail) + 1;
		out = malloc(n);
		if (out)
			snprintf(out, n, "%s%s%s%s%s", head, qa, mid, qb ? qb : "",
				 tail);
	}
	PQfreemem(qa);
	PQfreemem(qb);
	return out;
}

/* The expired partitions: two statements each. */
static int plan_retention(struct store *s, const PGresult *res)
{
	struct pmaint *m = &s->pm;
	int err = 0;

	for (int i = 0; i < PQntuples(res) && !err; i++) {
		const char *parent = PQgetvalue(res, i, 0);
		const char *child = PQgetvalue(res, i, 1);
		bool pending = strcmp(PQgetvalue(res, i, 2), "t") == 0;

		err = add_todo(m, stmt(m->conn, "alter table ", parent,
				       " detach partition ", child,
				       pending ? " finalize" : " concurrently"));
		if (!err)
			err = add_todo(m, stmt(m->conn, "drop table ", child, "",
					       NULL, ""));
	}
	return err;
}

/* The query in flight finished: the next step. */
static void pm_step(struct store *s, PGresult *last)
{
	struct pmaint *m = &s->pm;
	char sql[160];

	if (m->failed) {
		store_log(LOG_ERR, "partitions: %s failed (%s): %s",
			  m->step == PM_S_TODO && m->itodo ? m->todo[m->itodo - 1]
							   : "maintenance",
			  m->sqlstate, m->errmsg);
		pm_end(s, true);
		return;
	}
	switch (m->step) {
	case PM_S_LOCK:
		if (!last || PQntuples(last) != 1 ||
		    strcmp(PQgetvalue(last, 0, 0), "t") != 0) {
			store_log(LOG_INFO, "partitions: another instance is "
				  "maintaining them; skipped");
			pm_end(s, false);
			return;
		}
		m->step = PM_S_CREATE;
		pm_send(s, "select call_log_create_partitions()");
		return;
	case PM_S_CREATE:
		for (int i = 0; last && i < PQntuples(last); i++) {
			store_log(LOG_NOTICE, "partitions: created %s",
				  PQgetvalue(last, i, 0));
			s->stats.partitions_created++;
		}
		if (!m->retention_days) {
			pm_end(s, false);
			return;
		}
		m->step = PM_S_LIST;
		/* a concurrent detach waits for every transaction that
		 * may use the partition (a long report): no lock_timeout,
		 * the run's deadline bounds it */
		snprintf(sql, sizeof(sql), "set lock_timeout to 0;"
			 "select parent, child, pending from "
			 "call_log_expired_partitions(%u)", m->retention_days);
		pm_send(s, sql);
		return;
	case PM_S_LIST:
		if (!last || plan_retention(s, last)) {
			store_log(LOG_ERR, "partitions: out of memory planning retention");
			pm_end(s, true);
			return;
		}
		m->step = PM_S_TODO;
		break;
	case PM_S_TODO:
		if (m->itodo) {
			const char *done = m->todo[m->itodo - 1];

			store_log(LOG_NOTICE, "partitions: retention of %u days: %s",
				  m->retention_days, done);
			if (strncmp(done, "drop ", 5) == 0)
				s->stats.partitions_dropped++;
		}
		break;
	}
	if (m->itodo >= m->ntodo) {
		pm_end(s, false);
		return;
	}
	pm_send(s, m->todo[m->itodo++]);
}

static bool sock_ready(PGconn *c, int poll_status)
{
	struct pollfd p = {.fd = PQsocket(c)};

	if (p.fd < 0)
		return true;
	p.events = poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	return poll(&p, 1, 0) > 0;
}

static void pm_connect_step(struct store *s)
{
	struct pmaint *m = &s->pm;

	if (!sock_ready(m->conn, m->poll))
		return;
	m->poll = PQconnectPoll(m->conn);
	if (m->poll == PGRES_POLLING_FAILED) {
		store_log(LOG_ERR, "partitions: cannot connect: %s",
			  PQerrorMessage(m->conn));
		pm_end(s, true);
		return;
	}
	if (m->poll != PGRES_POLLING_OK)
		return;
	if (PQsetnonblocking(m->conn, 1) != 0) {
		pm_end(s, true);
		return;
	}
	m->step = PM_S_LOCK;
	pm_send(s, "set client_min_messages to warning;"
		   "set lock_timeout to '10s';"
		   "select pg_try_advisory_lock(" LOCK_KEY ")");
}

static void pm_read(struct store *s)
{
	struct pmaint *m = &s->pm;
	PGresult *res;

	if (PQflush(m->conn) < 0 || !PQconsumeInput(m->conn)) {
		store_log(LOG_ERR, "partitions: connection lost: %s",
			  PQerrorMessage(m->conn));
		pm_end(s, true);
		return;
	}
	while (!PQisBusy(m->conn)) {
		res = PQgetResult(m->conn);
		if (!res) {
			PGresult *last = m->last;

			m->last = NULL;
			pm_step(s, last);
			PQclear(last);
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			PQclear(m->last);
			m->last = res;
			continue;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !m->failed) {
			const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

			m->failed = true;
			snprintf(m->sqlstate, sizeof(m->sqlstate), "%s", st ? st : "");
			snprintf(m->errmsg, sizeof(m->errmsg), "%s", msg ? msg : "?");
		}
		PQclear(res);
	}
}

void store_partition_kick(struct store *s)
{
	if (s->pm.phase == PM_IDLE)
		s->pm.next_ms = store_now_ms();
}

void store_partition_process(struct store *s)
{
	struct pmaint *m = &s->pm;
	unsigned long long now = store_now_ms();

	if (m->phase == PM_IDLE) {
		if (s->state != STORE_UP || !m->next_ms || now < m->next_ms)
			return;
		m->conn = PQconnectStart(s->conninfo);
		if (!m->conn || PQstatus(m->conn) == CONNECTION_BAD) {
			store_log(LOG_ERR, "partitions: cannot connect: %s",
				  m->conn ? PQerrorMessage(m->conn) : "out of memory");
			pm_end(s, true);
			return;
		}
		m->poll = PGRES_POLLING_WRITING;
		m->phase = PM_CONNECTING;
		m->deadline = now + RUN_DEADLINE_MS;
	}
	if (now >= m->deadline) {
		store_log(LOG_ERR, "partitions: maintenance took over %u s; dropped",
			  RUN_DEADLINE_MS / 1000);
		pm_end(s, true);
		return;
	}
	if (m->phase == PM_CONNECTING)
		pm_connect_step(s);
	else if (m->phase == PM_BUSY)
		pm_read(s);
}

int store_partition_timeout_ms(const struct store *s)
{
	unsigned long long now = store_now_ms();

	if (s->pm.phase != PM_IDLE)
		return POLL_MS;
	if (s->state != STORE_UP || !s->pm.next_ms)
		return -1;
	return s->pm.next_ms > now ? (int)(s->pm.next_ms - now) : 0;
}

void store_partition_free(struct store *s)
{
	struct pmaint *m = &s->pm;

	if (m->conn)
		PQfinish(m->conn);
	m->conn = NULL;
	PQclear(m->last);
	m->last = NULL;
	for (size_t i = 0; i < m->ntodo; i++)
		free(m->todo[i]);
	free(m->todo);
	m->todo = NULL;
	m->ntodo = 0;
}
