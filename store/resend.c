/* resend.c: failover to a standby: which server the writer reached, and the batches of the last 30 s sent again after a change */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

/*
 * An asynchronous standby lags its primary by up to a few hundred ms of WAL
 * (more under load, or when its receiver stalls): a batch the primary
 * committed may be missing on the promoted standby. After each connect the
 * writer asks the server who it is (system identifier, timeline); when that
 * changed since the last connect, the committed batches still in the ring
 * (the last RESEND_MS, at most RESEND_MAX_BYTES) go back to the head of the
 * queue. The writes are idempotent (calls: an upsert where the newest
 * updated_at wins per column; every other table: on conflict do nothing),
 * so rows that did reach the standby are harmless.
 */
#define RESEND_MS 30000ULL
#define RESEND_MAX_BYTES (64u << 20)
#define IDENTIFY_TIMEOUT_MS 2000

struct rs_entry {
	struct rs_entry *next;
	unsigned long long at;	/* ms of the commit */
	size_t nrec;
	struct sbuf frames;	/* the batch's own buffer, taken over */
};

struct store_resend {
	struct rs_entry *head, *tail;
	struct sbuf spare;	/* an expired entry's buffer, for the next batch */
	size_t bytes, rows;
	bool known;		/* sysid/tli hold the last server's identity */
	char sysid[32];
	unsigned tli;
	bool warned;		/* identity not readable: logged once */
};

static struct store_resend *ring(struct store *s)
{
	if (!s->resend)
		s->resend = calloc(1, sizeof(*s->resend));
	return s->resend;
}

static void drop_head(struct store *s, struct store_resend *r, bool count)
{
	struct rs_entry *e = r->head;

	r->head = e->next;
	if (!r->head)
		r->tail = NULL;
	r->bytes -= e->frames.cap;
	r->rows -= e->nrec;
	if (count)
		s->stats.resend_dropped += e->nrec;
	/* the biggest buffer seen lately is kept for a batch to fill */
	if (e->frames.cap > r->spare.cap) {
		sbuf_free(&r->spare);
		r->spare = e->frames;
	} else {
		sbuf_free(&e->frames);
	}
	free(e);
}

/* Expired entries leave uncounted (their time is over); entries pushed out
 * by the byte bound are counted in resend_dropped. */
static void trim(struct store *s, struct store_resend *r, unsigned long long now)
{
	while (r->head && r->head->at + RESEND_MS < now)
		drop_head(s, r, false);
	while (r->head && r->bytes > RESEND_MAX_BYTES)
		drop_head(s, r, true);
}

/* The batch's buffer moves into the ring instead of being copied: a copy
 * of every committed batch, into memory the allocator had just handed
 * back to the system, was 8 % of the event loop's CPU under REST creates
 * (the memcpy and its page faults). The batch gets the spare buffer of an
 * expired entry, or an empty one. */
void store_resend_keep(struct store *s, struct sbuf *frames, size_t nrec)
{
	struct store_resend *r = ring(s);
	struct rs_entry *e;
	unsigned long long now = store_now_ms();

	if (!r || !nrec || !frames->len)
		return;
	if (frames->len > RESEND_MAX_BYTES) {
		s->stats.resend_dropped += nrec;
		return;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		s->stats.resend_dropped += nrec;
		return;
	}
	e->next = NULL;
	e->at = now;
	e->nrec = nrec;
	e->frames = *frames;
	*frames = r->spare;
	r->spare = (struct sbuf){0};
	sbuf_reset(frames);
	if (r->tail)
		r->tail->next = e;
	else
		r->head = e;
	r->tail = e;
	r->bytes += e->frames.cap;	/* memory held, not rows' bytes */
	r->rows += nrec;
	trim(s, r, now);
}

size_t store_resend_bytes(const struct store *s)
{
	return s->resend ? s->resend->bytes : 0;
}

/* Only a commit trimmed the ring, so a daemon gone idle kept its last
 * 30 s of batches (up to 64 MiB) for good; the store's timeout now
 * expires them, and the spare buffer with the last one. */
int store_resend_timeout_ms(const struct store *s, unsigned long long now)
{
	const struct store_resend *r = s->resend;
	unsigned long long at;

	if (!r || !r->head)
		return -1;
	at = r->head->at + RESEND_MS;
	return at < now ? 0 : (int)(at - now + 1);
}

void store_resend_expire(struct store *s, unsigned long long now)
{
	struct store_resend *r = s->resend;

	if (!r || !r->head)
		return;
	trim(s, r, now);
	if (!r->head)
		sbuf_free(&r->spare);
}

/* The ring to the journal (replayed before the queue, on the safe path) or,
 * without one, to the head of the queue (ahead of newer rows); emptied: the
 * rows come back to it when they commit again. */
static void requeue(struct store *s, struct store_resend *r)
{
	struct sbuf q = {0};
	size_t rows = 0;

	trim(s, r, store_now_ms());
	for (struct rs_entry *e = r->head; e; e = e->next) {
		if (sbuf_put(&q, e->frames.p, e->frames.len)) {
			sbuf_free(&q);
			store_log(LOG_ERR, "store: out of memory: %zu rows not re-sent",
				  r->rows);
			s->stats.resend_dropped += r->rows;
			goto out;
		}
		rows += e->nrec;
	}
	if (s->have_journal &&
	    store_journal_append(&s->journal, q.p, q.len, rows) == 0) {
		/* replayed first, alone, with conflict checks from the start
		 * (most of these rows are there already) */
		sbuf_free(&q);
		s->stats.rows_journaled += rows;
		goto sent;
	}
	if (sbuf_put(&q, s->queue.p, s->queue.len)) {
		sbuf_free(&q);
		store_log(LOG_ERR, "store: out of memory: %zu rows not re-sent", rows);
		s->stats.resend_dropped += rows;
		goto out;
	}
	sbuf_free(&s->queue);
	s->queue = q;
	/* committed rows: their numbers are settled; queue_no stays at the
	 * lowest unsettled number (the queue's, or the next one) */
	if (!s->queue_rows) {
		s->queue_no = s->rows_added + 1;
		s->queue_since = store_now_ms();
	}
	s->queue_mixed = true;
	s->queue_rows += rows;
 sent:
	s->stats.rows_resent += rows;
	store_log(LOG_NOTICE, "store: re-sending %zu rows committed in the last %llu s "
		  "(an asynchronous standby may have missed them)", rows,
		  RESEND_MS / 1000);
 out:
	while (r->head)
		drop_head(s, r, false);
}

/* One query with a bounded wait, on a connection not yet non-blocking. */
static PGresult *ask(PGconn *c, const char *sql)
{
	unsigned long long deadline = store_now_ms() + IDENTIFY_TIMEOUT_MS;
	PGresult *res, *last = NULL;

	if (!PQsendQuery(c, sql))
		return NULL;
	for (;;) {
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		unsigned long long now;

		if (!PQconsumeInput(c))
			break;
		if (!PQisBusy(c)) {
			res = PQgetResult(c);
			if (!res)
				return last;
			PQclear(last);
			last = res;
			continue;
		}
		now = store_now_ms();
		if (now >= deadline || p.fd < 0)
			break;
		(void)poll(&p, 1, (int)(deadline - now));
	}
	PQclear(last);
	return NULL;	/* the writer's setup query finds the connection bad */
}

/*
 * pg_control_system() and pg_control_checkpoint() are executable by any
 * user on PostgreSQL 15 (checked with a plain login role); older or locked
 * down servers may refuse them, and then only the timeline is read. The
 * checkpoint's timeline lags a promotion until the first checkpoint after
 * it, so the timeline of the current WAL file
 * (pg_walfile_name(pg_current_wal_lsn())) counts too; a server answering
 * neither is "unknown", and every reconnect to it re-sends the ring.
 */
static const char identify_sql[] =
	"select (select system_identifier::text from pg_control_system()),"
	" greatest((select timeline_id from pg_control_checkpoint()),"
	" ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int)";
static const char identify_tli_sql[] =
	"select null::text, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()),"
	" 1, 8))::bit(32)::int";

void store_resend_on_connected(struct store *s, void *pgconn)
{
	PGconn *c = pgconn;
	struct store_resend *r = ring(s);
	PGresult *res;
	char sysid[32] = "";
	unsigned tli = 0;
	bool have = false, changed;

	if (!r)
		return;
	res = ask(c, identify_sql);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (!r->warned)
			store_log(LOG_WARNING, "database: cannot read the server's identity "
				  "(%s); reading the timeline only",
				  res ? PQresultErrorMessage(res) : PQerrorMessage(c));
		PQclear(res);
		res = ask(c, identify_tli_sql);
	}
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		snprintf(sysid, sizeof(sysid), "%s", PQgetvalue(res, 0, 0));
		tli = (unsigned)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
		have = tli != 0;
	} else if (!r->warned) {
		store_log(LOG_WARNING, "database: cannot read the server's timeline (%s); "
			  "every reconnect re-sends the rows of the last %llu s",
			  res ? PQresultErrorMessage(res) : PQerrorMessage(c),
			  RESEND_MS / 1000);
	}
	r->warned = r->warned || !have || !*sysid;
	PQclear(res);

	/* unknown identity: a reconnect may be a failover; idempotent writes
	 * make re-sending the safe guess */
	changed = s->connects > 1 &&
		  (!have || !r->known || r->tli != tli || strcmp(r->sysid, sysid) != 0);
	if (s->connects > 1 && changed) {
		s->stats.failovers++;
		store_log(LOG_WARNING, "database: failover: now on server %s timeline %u "
			  "(was %s timeline %u)", *sysid ? sysid : "?", tli,
			  r->known && *r->sysid ? r->sysid : "?", r->known ? r->tli : 0);
		requeue(s, r);
	} else if (have) {
		store_log(LOG_INFO, "database: server %s timeline %u",
			  *sysid ? sysid : "?", tli);
	}
	r->known = have;
	memcpy(r->sysid, sysid, sizeof(sysid));
	r->tli = tli;
}

void store_resend_free(struct store *s)
{
	if (!s->resend)
		return;
	while (s->resend->head)
		drop_head(s, s->resend, false);
	sbuf_free(&s->resend->spare);
	free(s->resend);
	s->resend = NULL;
}
