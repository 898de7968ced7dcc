/* writer.c: the queue, batches on each connection (COPY into staging, then idempotent inserts), splits and the journal path */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

#define COPY_CHUNK (256u * 1024)

static const char *const staging[T_COUNT] = {
	"s_calls", "s_events", "s_msgs", "s_hdrs", "s_hooks", "s_policy",
};

/* A call row is a full snapshot: snapshots of one call in one batch are
 * merged before sending (calls_copy, merge_call), so s_calls holds one row
 * per SID. Across batches the upsert folds a snapshot into the stored row
 * the same way, whatever the order they arrive in: per column the value of
 * the newest snapshot that has one (a NULL keeps what was known), the
 * newest updated_at. created_at is in the key (calls is partitioned by it,
 * migrations/0006): a call's snapshots all carry the one it was created
 * with. The merge commutes, so two
 * batches in flight on two connections (or a journal replayed late) give
 * the row that applying every snapshot in order would. Rows go in SID
 * order so that two batches touching the same calls lock them in the same
 * order and cannot deadlock. */
#define CALL_COLS \
	" sid, account_sid," \
	" parent_call_sid, instance, direction, from_addr, to_addr, caller_name," \
	" status, sip_call_id, sip_response_code, reason_protocol, reason_cause," \
	" reason_text, codec, created_at, ringing_at, answered_at, ended_at," \
	" duration, dial_call_status, updated_at," \
	" started_at, forwarded_from, dial_group, branch, hangup_by, root_sid"
#define NEWER "excluded.updated_at >= calls.updated_at"
#define LATEST(c) " " c " = case when " NEWER " then excluded." c " else calls." c " end,"
#define KNOWN(c) " " c " = case when " NEWER " then coalesce(excluded." c ", calls." c ")" \
	" else coalesce(calls." c ", excluded." c ") end,"
/* every column but api_deleted_at (0004), which the writer never sets */
#define CALLS_UPSERT \
	"insert into calls (" CALL_COLS ") select" CALL_COLS \
	" from s_calls order by sid" \
	" on conflict (sid, created_at, root_sid) do update set" \
	LATEST("account_sid") \
	KNOWN("parent_call_sid") \
	LATEST("instance") \
	LATEST("direction") \
	KNOWN("from_addr") \
	KNOWN("to_addr") \
	KNOWN("caller_name") \
	LATEST("status") \
	KNOWN("sip_call_id") \
	KNOWN("sip_response_code") \
	KNOWN("reason_protocol") \
	KNOWN("reason_cause") \
	KNOWN("reason_text") \
	KNOWN("codec") \
	KNOWN("ringing_at") \
	KNOWN("answered_at") \
	KNOWN("ended_at") \
	KNOWN("duration") \
	KNOWN("dial_call_status") \
	KNOWN("started_at") \
	KNOWN("forwarded_from") \
	KNOWN("dial_group") \
	KNOWN("branch") \
	KNOWN("hangup_by") \
	" updated_at = greatest(excluded.updated_at, calls.updated_at)"
static const char *const insert_sql[T_COUNT] = {
	"execute calls_upsert;",
	"insert into call_events select * from s_events on conflict do nothing;",
	"insert into sip_messages select * from s_msgs on conflict do nothing;",
	"insert into sip_headers select * from s_hdrs on conflict do nothing;",
	"insert into webhook_requests select * from s_hooks on conflict do nothing;",
	"insert into header_policy_events select * from s_policy on conflict do nothing;",
};

/* Staging tables mirror the real ones (plus an arrival order for calls).
 * Temporary tables write no WAL, so the extra copy costs CPU only. Every
 * batch upserts calls through s_calls, made once per connection and
 * emptied by ON COMMIT DELETE ROWS. The others serve only the safe path
 * (conflict checks after a failure, journal replay, rows without a root):
 * that batch makes them and they go at its commit (ON COMMIT DROP),
 * because PostgreSQL empties every ON COMMIT DELETE ROWS table of the
 * session at each commit that touched a temporary one, which cost the
 * writer's backend 6 % of its CPU for the five tables the fast path never
 * uses.
 *
 * The upsert is prepared once per connection: parsing and planning its
 * merge expressions cost PostgreSQL 0.4-1.1 ms on every batch, at most
 * 0.2 ms prepared (docs/call-log.md). PostgreSQL plans it again by itself
 * when calls changes (a migration, a new day's partition). */
static const char setup_sql[] =
	"set client_encoding to 'UTF8';"
	"create temp table s_calls on commit delete rows as"
	" select 0::integer as ord, * from calls with no data;"
	"prepare calls_upsert as " CALLS_UPSERT ";";

static void start_next(struct store *s, bool force);
static void process_slot(struct store *s, struct wconn *w);
static int writer_enqueue_rows(struct store *s, size_t start, size_t rows);

static uint32_t frame_len(const unsigned char *p)
{
	return REC_HDR + ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			  (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* ---- journal spills ---- */

static int spill_queue(struct store *s)
{
	int err;

	if (!s->queue_rows)
		return 0;
	if (!s->have_journal)
		return ENODEV;
	/* a failure is logged by the journal, once per episode: the rows
	 * stay queued (up to twice queue_max_bytes) for its next attempt */
	err = store_journal_append(&s->journal, s->queue.p, s->queue.len, s->queue_rows);
	if (err)
		return err;
	s->drop_logged = false;
	s->stats.rows_journaled += s->queue_rows;
	sbuf_reset(&s->queue);
	s->queue_rows = 0;
	store_mirror_settle(s->mirror, store_writer_unsettled(s));
	return 0;
}

static void batch_clear(struct batch *b)
{
	sbuf_reset(&b->frames);
	for (int t = 0; t < T_COUNT; t++)
		sbuf_reset(&b->copy[t]);
	b->nrec = 0;
	b->no_lo = 0;
	b->nranges = 0;
	b->ncopy = b->copy_next = 0;
	b->copy_sent = 0;
	b->copying = b->failed = b->from_journal = b->want_write = false;
	b->sqlstate[0] = b->errmsg[0] = '\0';
}

/* The batch did not land (connection lost, or the store is closing):
 * journal rows first taken from the queue; rows read from the journal are
 * still there and are read again. Rows of the batch that did land come
 * back too, which the keys make harmless. */
static void batch_abandon(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;
	bool settled = false;
	int err = 0;

	if (!w->in_batch)
		return;
	if (b->from_journal) {
		s->journal.replay_off = s->journal.done_off;
	} else if (b->nrec) {
		if (s->have_journal)
			err = store_journal_append(&s->journal, b->frames.p, b->frames.len,
					     b->nrec);
		if (s->have_journal && !err) {
			s->stats.rows_journaled += b->nrec;
			settled = true;
		} else {
			/* no journal (or it failed): back to the head of the queue */
			struct sbuf q = {0};

			if (sbuf_put(&q, b->frames.p, b->frames.len) == 0 &&
			    sbuf_put(&q, s->queue.p, s->queue.len) == 0) {
				sbuf_free(&s->queue);
				s->queue = q;
				/* its numbers now come before newer ones */
				if (!s->queue_rows || b->no_lo < s->queue_no)
					s->queue_no = b->no_lo;
				s->queue_mixed = true;
				s->queue_rows += b->nrec;
				if (!s->queue_since)
					s->queue_since = store_now_ms();
			} else {
				sbuf_free(&q);
				store_log(LOG_ERR, "store: out of memory: %zu rows lost",
					  b->nrec);
			}
		}
	}
	batch_clear(b);
	w->in_batch = false;
	if (settled)
		store_mirror_settle(s->mirror, store_writer_unsettled(s));
}

/* ---- batches ---- */

/* A query failed or went unanswered: every batch is taken back, then
 * conn.c drops the connections and schedules the retry. */
static void lost(struct store *s)
{
	store_writer_on_lost(s);
	store_conn_fail(s);
}

static int batch_index(struct batch *b)
{
	size_t off = 0, n = 0;

	while (off < b->frames.len) {
		off += frame_len(b->frames.p + off);
		n++;
	}
	if (n + 1 > b->offs_cap) {
		size_t *o = realloc(b->offs, (n + 1) * sizeof(*o));

		if (!o)
			return ENOMEM;
		b->offs = o;
		b->offs_cap = n + 1;
	}
	off = 0;
	for (size_t i = 0; i <= n; i++) {
		b->offs[i] = off;
		if (i < n)
			off += frame_len(b->frames.p + off);
	}
	b->nrec = n;
	if (!b->ranges_cap) {
		b->ranges = calloc(64, sizeof(*b->ranges));
		if (!b->ranges)
			return ENOMEM;
		b->ranges_cap = 64;
	}
	b->ranges[0].lo = 0;
	b->ranges[0].hi = n;
	/* a replayed journal may hold rows that already landed */
	b->ranges[0].safe = b->from_journal;
	b->ranges[0].aside = false;
	b->nranges = n ? 1 : 0;
	return 0;
}

static int push_range(struct batch *b, size_t lo, size_t hi, bool safe)
{
	if (b->nranges == b->ranges_cap) {
		struct range *r = realloc(b->ranges, 2 * b->ranges_cap * sizeof(*r));

		if (!r)
			return ENOMEM;
		b->ranges = r;
		b->ranges_cap *= 2;
	}
	b->ranges[b->nranges].lo = lo;
	b->ranges[b->nranges].hi = hi;
	b->ranges[b->nranges].safe = safe;
	b->ranges[b->nranges].aside = false;
	b->nranges++;
	return 0;
}

/* Column positions in a calls record (the order of migrations/0001). */
#define CALL_PARENT 2
#define CALL_CREATED_AT 15
#define CALL_UPDATED_AT 21

/* Folds snapshot nw of a call into cur the way the upsert would: the
 * newest updated_at wins, a NULL keeps the other snapshot's value, and
 * created_at is the earliest. */
static void merge_call(struct rec *cur, const struct rec *nw)
{
	bool newer = nw->col[CALL_UPDATED_AT].i >= cur->col[CALL_UPDATED_AT].i;

	for (unsigned i = 0; i < cur->ncols && i < nw->ncols; i++) {
		const struct rec_col *n = &nw->col[i];
		struct rec_col *c = &cur->col[i];

		if (i == CALL_CREATED_AT) {
			if (n->kind != K_NULL && (c->kind == K_NULL || n->i < c->i))
				*c = *n;
		} else if (newer ? n->kind != K_NULL : c->kind == K_NULL) {
			*c = *n;
		}
	}
}

struct callslot {
	struct rec r;
	long ord;
};

static uint32_t sid_hash(const unsigned char *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* ---- root_sid looked up (0007_root_sid) ----
 * Every row carries its root call's SID, in every key. The daemon passes
 * it; a row without one (a journal frame written before 0007, a status
 * callback resumed from the outbox after a restart, dialerd takeover's
 * rows) gets it in the batch's transaction, in the staging tables: the
 * root of the call's row if there is one (so a key never splits a call
 * in two), else for a call its parent's root, its parent, itself; for the
 * other tables their call's root (stored, or in this batch), else their
 * own call SID. The stored rows are read by SID with a constant list (one
 * index probe per partition, and on a sharded database a query the
 * coordinator can route), never joined, and only for batches that need
 * it. */

/* Appends c (a SID) to the list of SIDs whose root is looked up, as a
 * quoted SQL literal. */
static int root_want(struct sbuf *l, const struct rec_col *c)
{
	int err;

	if (c->kind != K_TEXT)
		return 0;
	err = sbuf_put(l, l->len ? ",'" : "'", l->len ? 2 : 1);
	for (uint32_t i = 0; i < c->len && !err; i++)
		err = c->p[i] == '\'' ? sbuf_put(l, "''", 2) : sbuf_putc(l, c->p[i]);
	if (!err)
		err = sbuf_putc(l, '\'');
	return err;
}

static bool root_missing(const struct rec *r)
{
	unsigned k = store_rec_root_col(r->table);

	return k >= r->ncols || r->col[k].kind == K_NULL;
}

static int put_str(struct sbuf *q, const char *s)
{
	return sbuf_put(q, s, strlen(s));
}

/* A safe-path staging table for table t, gone at the batch's commit */
static int staging_sql(struct sbuf *q, int t)
{
	int err = put_str(q, "create temp table ");

	if (!err)
		err = put_str(q, staging[t]);
	if (!err)
		err = put_str(q, " on commit drop as select * from ");
	if (!err)
		err = put_str(q, store_rec_table_name(t));
	if (!err)
		err = put_str(q, " with no data;");
	return err;
}

/* The statements that fill the missing roots of the staging tables, run
 * after the COPYs and before the inserts; sids: root_want's list. */
static int roots_sql(struct sbuf *q, const struct batch *b, const struct sbuf *sids)
{
	int err = put_str(q, "create temp table s_roots (sid text, root_sid text)"
			  " on commit drop;"
			  "insert into s_roots select sid, root_sid from calls"
			  " where sid = any(array[");

	if (!err)
		err = sbuf_put(q, sids->p, sids->len);
	if (!err)
		err = put_str(q, "]::text[]);");
	if (!err && b->copy[T_CALLS].len)
		err = put_str(q,
			"insert into s_roots select sid, root_sid from s_calls"
			" where root_sid is not null;"
			"update s_calls s set root_sid = r.root_sid from s_roots r"
			" where s.root_sid is null and r.sid = s.sid;"
			"update s_calls s set root_sid = r.root_sid from s_roots r"
			" where s.root_sid is null and r.sid = s.parent_call_sid;"
			"update s_calls set root_sid = coalesce(parent_call_sid, sid)"
			" where root_sid is null;"
			"insert into s_roots select sid, root_sid from s_calls;");
	for (int i = 0; i < b->ncopy && !err; i++) {
		const char *st = staging[b->copy_order[i]];

		if (b->copy_order[i] == T_CALLS)
			continue;
		err = put_str(q, "update ");
		if (!err)
			err = put_str(q, st);
		if (!err)
			err = put_str(q, " s set root_sid = r.root_sid from s_roots r"
				      " where s.root_sid is null and r.sid = s.call_sid;"
				      "update ");
		if (!err)
			err = put_str(q, st);
		if (!err)
			err = put_str(q, " set root_sid = call_sid where root_sid is null;");
	}
	return err;
}

/* The calls of a range, one row per SID: snapshots of one call in one
 * batch are merged here, because ON CONFLICT DO UPDATE cannot touch a row
 * twice in one statement, and PostgreSQL then sorts fewer rows. A merged
 * row still without a root adds its SID and parent to sids. */
static int calls_copy(struct batch *b, struct sbuf *sids)
{
	size_t n = 0, m = 0, cap;
	struct callslot *slots;
	uint32_t *tab;	/* open addressing: 0 empty, else index into slots + 1 */
	struct rec r;
	int err = 0;

	for (size_t i = b->cur.lo; i < b->cur.hi; i++)
		if (b->frames.p[b->offs[i] + REC_HDR] == T_CALLS)
			n++;
	if (!n)
		return 0;
	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	/* a slot is half a kilobyte: zeroing a slot per table entry cost the
	 * event loop more than merging, so only the small table is cleared */
	slots = malloc(n * sizeof(*slots));
	tab = calloc(cap, sizeof(*tab));
	if (!slots || !tab) {
		free(slots);
		free(tab);
		return ENOMEM;
	}
	for (size_t i = b->cur.lo; i < b->cur.hi; i++) {
		const unsigned char *p = b->frames.p + b->offs[i];
		uint32_t h;

		if (p[REC_HDR] != T_CALLS ||
		    store_rec_decode(&r, p + REC_HDR, frame_len(p) - REC_HDR) ||
		    r.ncols <= CALL_UPDATED_AT || r.col[0].kind != K_TEXT)
			continue;
		h = sid_hash(r.col[0].p, r.col[0].len) & (uint32_t)(cap - 1);
		while (tab[h] &&
		       (slots[tab[h] - 1].r.col[0].len != r.col[0].len ||
			memcmp(slots[tab[h] - 1].r.col[0].p, r.col[0].p, r.col[0].len) != 0))
			h = (h + 1) & (uint32_t)(cap - 1);
		if (!tab[h]) {
			tab[h] = (uint32_t)++m;
			slots[m - 1].r = r;
		} else {
			merge_call(&slots[tab[h] - 1].r, &r);
		}
		slots[tab[h] - 1].ord = (long)i;
	}
	free(tab);
	err = store_rec_copy_binary_begin(&b->copy[T_CALLS]);
	for (size_t k = 0; k < m && !err; k++) {
		if (root_missing(&slots[k].r)) {
			err = root_want(sids, &slots[k].r.col[0]);
			if (!err)
				err = root_want(sids, &slots[k].r.col[CALL_PARENT]);
		}
		if (!err)
			err = store_rec_copy_binary(&b->copy[T_CALLS], &slots[k].r,
						    slots[k].ord);
	}
	free(slots);
	return err;
}

/* A row no partition takes (23514, migrations/0006) goes to late_rows as
 * jsonb with the error, from the staging table it was copied into. */
static int aside_sql(struct sbuf *q, int t, const char *errmsg)
{
	const char *name = store_rec_table_name(t);
	int err = sbuf_put(q, "insert into late_rows (table_name, row_data, error)"
			   " select '", 60);

	if (!err)
		err = sbuf_put(q, name, strlen(name));
	if (!err)
		err = t == T_CALLS ? sbuf_put(q, "', to_jsonb(s) - 'ord', '", 25)
				   : sbuf_put(q, "', to_jsonb(s), '", 17);
	for (const char *c = errmsg; *c && !err; c++)
		err = *c == '\'' ? sbuf_put(q, "''", 2) : sbuf_putc(q, (unsigned char)*c);
	if (!err)
		err = sbuf_put(q, "' from ", 7);
	if (!err)
		err = sbuf_put(q, staging[t], strlen(staging[t]));
	if (!err)
		err = sbuf_put(q, " s;", 3);
	return err;
}

/* Sends the top range as one simple-protocol query: the COPYs, then the
 * inserts. Without BEGIN the whole string is one implicit transaction, so
 * a failure anywhere rolls all of it back and leaves the connection clean.
 * Fast path: rows COPY straight into their tables (a duplicate key fails
 * the batch, which is then sent again the safe way); safe path (replays,
 * retries): COPY into the staging tables, then INSERT ... ON CONFLICT.
 * Calls always take the safe path: they are upserts. */
static int send_range(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;
	struct sbuf q = {0}, sids = {0};
	struct rec r;
	int err = 0;

	b->cur = b->ranges[--b->nranges];
	b->safe = b->cur.safe;
	for (int t = 0; t < T_COUNT; t++)
		sbuf_reset(&b->copy[t]);
	err = calls_copy(b, &sids);
	for (size_t i = b->cur.lo; i < b->cur.hi && !err; i++) {
		const unsigned char *p = b->frames.p + b->offs[i];

		if (p[REC_HDR] == T_CALLS)
			continue;
		if (store_rec_decode(&r, p + REC_HDR, frame_len(p) - REC_HDR)) {
			store_log(LOG_ERR, "store: undecodable record skipped");
			continue;
		}
		if (root_missing(&r))
			err = root_want(&sids, &r.col[0]);
		if (!err && !b->copy[r.table].len)
			err = store_rec_copy_binary_begin(&b->copy[r.table]);
		if (!err)
			err = store_rec_copy_binary(&b->copy[r.table], &r, -1);
	}
	/* rows without a root take the staging tables, where it is filled */
	if (sids.len)
		b->safe = true;
	for (int t = 0; t < T_COUNT && !err; t++)
		if (b->copy[t].len)
			err = store_rec_copy_binary_end(&b->copy[t]);
	b->ncopy = 0;
	for (int t = 0; t < T_COUNT && !err; t++) {
		const char *target = t == T_CALLS || b->safe ? staging[t]
							     : store_rec_table_name(t);

		if (!b->copy[t].len)
			continue;
		b->copy_order[b->ncopy++] = t;
		if (t != T_CALLS && b->safe)
			err = staging_sql(&q, t);
		if (!err)
			err = sbuf_put(&q, "copy ", 5);
		if (!err)
			err = sbuf_put(&q, target, strlen(target));
		if (!err)
			err = sbuf_put(&q, " from stdin (format binary);", 28);
	}
	if (!err && sids.len)
		err = roots_sql(&q, b, &sids);
	for (int i = 0; i < b->ncopy && !err && b->cur.aside; i++)
		err = aside_sql(&q, b->copy_order[i], b->errmsg);
	for (int i = 0; i < b->ncopy && !err && !b->cur.aside; i++) {
		int t = b->copy_order[i];

		if (t == T_CALLS || b->safe)
			err = sbuf_put(&q, insert_sql[t], strlen(insert_sql[t]));
	}
	if (!err)
		err = sbuf_putc(&q, '\0');
	if (err)
		goto out;
	b->copy_next = 0;
	b->copy_sent = 0;
	b->copying = false;
	b->failed = false;
	b->sqlstate[0] = b->errmsg[0] = '\0';
	if (!b->ncopy) {
		/* nothing decodable: count the range as done */
		sbuf_free(&q);
		sbuf_free(&sids);
		return EAGAIN;
	}
	if (!PQsendQuery(w->conn, (const char *)q.p)) {
		store_log(LOG_ERR, "database: cannot send a batch: %s",
			  PQerrorMessage(w->conn));
		err = EIO;
		goto out;
	}
	w->phase = W_BATCH;
	w->query_deadline = store_now_ms() + STORE_QUERY_TIMEOUT_MS;
 out:
	sbuf_free(&q);
	sbuf_free(&sids);
	if (err && err != EAGAIN)
		b->nranges++;	/* put the range back */
	return err;
}

static void load_from_queue(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;
	size_t off = 0, rows = 0;

	while (off < s->queue.len && rows < s->batch_rows) {
		off += frame_len(s->queue.p + off);
		rows++;
	}
	batch_clear(b);
	if (off == s->queue.len) {
		/* the usual case, the whole queue: the buffers trade places
		 * rather than every record being copied once more */
		struct sbuf t = b->frames;

		b->frames = s->queue;
		s->queue = t;
		/* an empty buffer (the committed batches' ones stay in the
		 * resend ring) is given the last batch's size at once: grown by
		 * doubling, each step copied the queue into fresh memory */
		if (!s->queue.cap)
			(void)sbuf_reserve(&s->queue, b->frames.len);
	} else {
		if (sbuf_put(&b->frames, s->queue.p, off))
			return;
		sbuf_consume(&s->queue, off);
	}
	b->no_lo = s->queue_no;
	if (!s->queue_mixed)
		s->queue_no += rows;
	s->queue_rows -= rows;
	s->queue_since = s->queue_rows ? store_now_ms() : 0;
	w->in_batch = true;	/* before batch_index: a failure abandons it */
	if (batch_index(b))
		batch_abandon(s, w);
}

static void load_from_journal(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;
	size_t rows = 0;
	int err;

	batch_clear(b);
	/* catching up: larger transactions than live batches, but a bounded
	 * read (a bigger frame is read alone) */
	err = store_journal_read(&s->journal, &b->frames,
			   s->batch_rows > 10000 ? s->batch_rows : 10000,
			   8u << 20, &rows);
	if (err || !rows)
		return;
	b->from_journal = true;
	b->journal_end = s->journal.replay_off;
	if (batch_index(b)) {
		batch_clear(b);
		s->journal.replay_off = s->journal.done_off;
		return;
	}
	w->in_batch = true;
}

/* A read waits for rows still queued (read-your-writes): they go now. */
static bool read_waits(const struct store *s)
{
	return s->queue_rows && s->flush_wanted_no >= s->queue_no;
}

static bool flush_due(const struct store *s)
{
	return s->queue_rows &&
	       (s->queue_rows >= s->batch_rows || read_waits(s) ||
		store_now_ms() >= s->queue_since + s->flush_ms);
}

static bool any_in_batch(const struct store *s)
{
	for (int i = 0; i < s->nconn; i++)
		if (s->w[i].in_batch)
			return true;
	return false;
}

static bool journal_in_flight(const struct store *s)
{
	for (int i = 0; i < s->nconn; i++)
		if (s->w[i].in_batch && s->w[i].batch.from_journal)
			return true;
	return false;
}

static bool replay_waiting(const struct store *s)
{
	return s->have_journal && s->journal.replay_off < s->journal.size;
}

/* Can an idle connection start something from the queue now? The journal
 * goes first and alone: its batches are replayed one at a time, in order,
 * with no other batch in flight (start_slot falls back to the queue only
 * when the journal cannot be read). */
static bool queue_can_start(const struct store *s)
{
	if (s->state != STORE_UP || journal_in_flight(s) ||
	    (replay_waiting(s) && any_in_batch(s)))
		return false;
	for (int i = 0; i < s->nconn; i++)
		if (s->w[i].phase == W_IDLE && !s->w[i].in_batch)
			return true;
	return false;
}

/* Picks the next thing to send on connection w when it is idle: the rest
 * of its split batch, then the journal (oldest first, alone), then the
 * queue. */
static void start_slot(struct store *s, struct wconn *w, bool force)
{
	for (;;) {
		int err;

		if (s->state != STORE_UP || w->phase != W_IDLE)
			return;
		if (!w->in_batch) {
			if (journal_in_flight(s))
				return;
			if (replay_waiting(s)) {
				if (any_in_batch(s))
					return;	/* their completion starts the replay */
				load_from_journal(s, w);
			} else if (s->have_journal && store_journal_pending(&s->journal)) {
				err = store_journal_truncate(&s->journal);
				if (err)
					store_log(LOG_ERR, "journal: cannot truncate: %s",
						  strerror(err));
				else
					store_log(LOG_NOTICE, "journal: replayed; emptied");
			}
			if (!w->in_batch && s->queue_rows && (force || flush_due(s)))
				load_from_queue(s, w);
			if (!w->in_batch)
				return;
		}
		if (!w->batch.nranges) {
			/* every range landed or was rejected */
			if (w->batch.from_journal)
				s->journal.done_off = w->batch.journal_end;
			store_resend_keep(s, &w->batch.frames, w->batch.nrec);
			batch_clear(&w->batch);
			w->in_batch = false;
			store_mirror_settle(s->mirror, store_writer_unsettled(s));
			continue;
		}
		err = send_range(s, w);
		if (err == EAGAIN)
			continue;
		if (err) {
			lost(s);
			return;
		}
		return;
	}
}

static void start_next(struct store *s, bool force)
{
	for (int i = 0; i < s->nconn && s->state == STORE_UP; i++)
		start_slot(s, &s->w[i], force);
}

static bool is_data_error(const char *st)
{
	return (st[0] == '2' && (st[1] == '2' || st[1] == '3'));
}

static void log_row(int level, const struct batch *b, const char *what)
{
	const unsigned char *p = b->frames.p + b->offs[b->cur.lo];
	struct rec r;
	char desc[128] = "?";

	if (store_rec_decode(&r, p + REC_HDR, frame_len(p) - REC_HDR) == 0)
		store_rec_describe(&r, desc, sizeof(desc));
	if (b->failed)
		store_log(level, "store: row %s (%s) %s: %s", what, b->sqlstate,
			  desc, b->errmsg);
	else
		store_log(level, "store: row %s: %s", what, desc);
}

/* A query finished (all results read). */
static void finish_query(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;

	if (w->phase == W_SETUP) {
		w->phase = W_IDLE;
		if (b->failed) {
			store_log(LOG_ERR, "database: cannot prepare the writer (%s): %s%s",
				  b->sqlstate, b->errmsg,
				  strcmp(b->sqlstate, "42P01") == 0 ?
					  "; run \"dialerd migrate\"" : "");
			b->failed = false;
			lost(s);
		}
		return;
	}
	w->phase = W_IDLE;
	if (!b->failed && b->cur.aside) {
		log_row(LOG_WARNING, b, "failed with 23514 (no partition for it): "
			"set aside in late_rows");
		s->stats.rows_set_aside++;
		return;
	}
	if (!b->failed) {
		s->stats.rows_written += b->cur.hi - b->cur.lo;
		s->stats.batches++;
		return;
	}
	if (PQstatus(w->conn) != CONNECTION_BAD && b->sqlstate[0] == '4' &&
	    b->sqlstate[1] == '0') {
		/* deadlock or serialization failure (class 40): the whole
		 * implicit transaction rolled back and the connection is
		 * clean; the same range again */
		store_log(LOG_WARNING, "store: batch of %zu rows rolled back (%s: %s); "
			  "retrying", b->cur.hi - b->cur.lo, b->sqlstate, b->errmsg);
		b->nranges++;	/* b->ranges[nranges] is still cur */
		return;
	}
	if (PQstatus(w->conn) == CONNECTION_BAD || !is_data_error(b->sqlstate)) {
		store_log(LOG_ERR, "database: batch of %zu rows failed (%s): %s",
			  b->cur.hi - b->cur.lo, b->sqlstate[0] ? b->sqlstate : "connection",
			  b->errmsg);
		b->nranges++;	/* b->ranges[nranges] is still cur */
		lost(s);
		return;
	}
	if (!b->safe) {
		/* most likely rows that already landed: again, the safe way */
		store_log(LOG_INFO, "store: batch of %zu rows failed (%s: %s); "
			  "retrying with conflict checks", b->cur.hi - b->cur.lo,
			  b->sqlstate, b->errmsg);
		if (push_range(b, b->cur.lo, b->cur.hi, true)) {
			store_log(LOG_ERR, "store: out of memory retrying a batch");
			lost(s);
		}
		return;
	}
	if (b->cur.hi - b->cur.lo == 1 && !b->cur.aside &&
	    strcmp(b->sqlstate, "23514") == 0) {
		/* no partition for it (or a check constraint): retrying can
		 * only fail again; the row goes to late_rows */
		if (push_range(b, b->cur.lo, b->cur.hi, true)) {
			store_log(LOG_ERR, "store: out of memory setting a row aside");
			lost(s);
			return;
		}
		b->ranges[b->nranges - 1].aside = true;
		return;
	}
	if (b->cur.hi - b->cur.lo == 1) {
		log_row(LOG_ERR, b, "rejected");
		s->stats.rows_rejected++;
		return;
	}
	/* halve until the bad rows are alone; the good ones still land */
	{
		size_t mid = b->cur.lo + (b->cur.hi - b->cur.lo) / 2;

		if (push_range(b, mid, b->cur.hi, true) ||
		    push_range(b, b->cur.lo, mid, true)) {
			store_log(LOG_ERR, "store: out of memory splitting a batch");
			lost(s);
		}
	}
}

static void note_error(struct batch *b, const PGresult *res)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (b->failed)
		return;
	b->failed = true;
	snprintf(b->sqlstate, sizeof(b->sqlstate), "%s", st ? st : "");
	snprintf(b->errmsg, sizeof(b->errmsg), "%s",
		 msg ? msg : PQresultErrorMessage(res));
	/* one line: PQresultErrorMessage ends in a newline */
	b->errmsg[strcspn(b->errmsg, "\r\n")] = '\0';
}

/* 1: all copy data of the current COPY sent; 0: wait to write; -1: lost */
static int push_copy(struct wconn *w)
{
	struct batch *b = &w->batch;
	const struct sbuf *d;
	int r;

	if (b->copy_next >= b->ncopy) {
		r = PQputCopyEnd(w->conn, "unexpected COPY");
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		b->copying = false;
		return 1;
	}
	d = &b->copy[b->copy_order[b->copy_next]];
	while (b->copy_sent < d->len) {
		size_t n = d->len - b->copy_sent;

		if (n > COPY_CHUNK)
			n = COPY_CHUNK;
		r = PQputCopyData(w->conn, (const char *)d->p + b->copy_sent, (int)n);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		b->copy_sent += n;
	}
	r = PQputCopyEnd(w->conn, NULL);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	b->copying = false;
	b->copy_next++;
	b->copy_sent = 0;
	return 1;
}

/* Drives one connection: sends, reads results, starts the next batch. */
static void process_slot(struct store *s, struct wconn *w)
{
	struct batch *b = &w->batch;

	for (;;) {
		PGresult *res;
		int f;

		if (s->state != STORE_UP)
			return;
		if (w->phase == W_IDLE) {
			start_slot(s, w, false);
			if (s->state != STORE_UP || w->phase == W_IDLE)
				return;
		}
		if (b->copying) {
			f = push_copy(w);
			if (f < 0)
				goto lost;
			if (f == 0) {
				b->want_write = true;
				(void)PQflush(w->conn);
				return;
			}
		}
		f = PQflush(w->conn);
		if (f < 0)
			goto lost;
		b->want_write = f == 1;
		if (!PQconsumeInput(w->conn))
			goto lost;
		if (PQisBusy(w->conn))
			return;
		res = PQgetResult(w->conn);
		if (!res) {
			finish_query(s, w);
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN:
			b->copying = true;
			break;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			break;
		default:
			note_error(b, res);
			break;
		}
		PQclear(res);
	}
 lost:
	store_log(LOG_ERR, "database: connection lost while writing: %s",
		  PQerrorMessage(w->conn));
	lost(s);
}

/* Then the idle ones again: a connection that finished may have let an
 * earlier one start (the journal replays alone). */
void store_writer_process(struct store *s)
{
	for (int i = 0; i < s->nconn && s->state == STORE_UP; i++)
		process_slot(s, &s->w[i]);
	for (int i = 0; i < s->nconn && s->state == STORE_UP; i++)
		if (s->w[i].phase == W_IDLE)
			process_slot(s, &s->w[i]);
}

void store_writer_on_connected(struct store *s, struct wconn *w)
{
	s->drop_logged = false;	/* the queue drains to the database again */
	batch_clear(&w->batch);
	w->in_batch = false;
	if (!PQsendQuery(w->conn, setup_sql)) {
		store_log(LOG_ERR, "database: cannot prepare the writer: %s",
			  PQerrorMessage(w->conn));
		lost(s);
		return;
	}
	w->phase = W_SETUP;
	w->query_deadline = store_now_ms() + STORE_QUERY_TIMEOUT_MS;
}

void store_writer_on_lost(struct store *s)
{
	for (int i = 0; i < s->nconn; i++) {
		batch_abandon(s, &s->w[i]);
		s->w[i].phase = W_IDLE;
	}
}

int store_writer_timeout_ms(const struct store *s)
{
	unsigned long long now = store_now_ms(), due = 0;
	bool have = false;

	if (s->state == STORE_UP) {
		/* a batch's completion starts the next; only its deadline */
		for (int i = 0; i < s->nconn; i++) {
			if (s->w[i].phase == W_IDLE)
				continue;
			if (!have || s->w[i].query_deadline < due)
				due = s->w[i].query_deadline;
			have = true;
		}
	}
	if (s->queue_rows &&
	    (s->state == STORE_UP ? queue_can_start(s)
				  : s->have_journal)) {	/* else nowhere to put it */
		unsigned long long q = read_waits(s) && s->state == STORE_UP
					       ? now : s->queue_since + s->flush_ms;

		/* a journal backing off after a failure is not tried sooner */
		if (s->state != STORE_UP &&
		    now + store_journal_retry_ms(&s->journal) > q)
			q = now + store_journal_retry_ms(&s->journal);

		if (!have || q < due)
			due = q;
		have = true;
	}
	if (!have)
		return -1;
	return due > now ? (int)(due - now) : 0;
}

void store_writer_tick(struct store *s)
{
	if (s->state == STORE_UP) {
		unsigned long long now = store_now_ms();

		for (int i = 0; i < s->nconn; i++) {
			struct wconn *w = &s->w[i];

			if (w->phase == W_IDLE || now < w->query_deadline)
				continue;
			store_log(LOG_ERR, "database: no answer to a %s in %u ms; reconnecting",
				  w->phase == W_SETUP ? "setup query" : "batch",
				  STORE_QUERY_TIMEOUT_MS);
			lost(s);
			return;
		}
	}
	if (!s->queue_rows)
		return;
	if (s->state == STORE_UP) {
		if (queue_can_start(s) && flush_due(s))
			store_writer_process(s);
		return;
	}
	if (flush_due(s) && s->have_journal)
		spill_queue(s);
}

/* What the loop watches, in short: a change means it must look again. */
static unsigned wants(const struct store *s)
{
	unsigned v = 0;

	for (int i = 0; i < s->nconn; i++)
		v = v << 3 | (unsigned)s->w[i].phase << 1 |
		    (s->w[i].batch.want_write ? 1u : 0u);
	return v;
}

int store_writer_enqueued(struct store *s, size_t start, size_t rows)
{
	bool first = s->queue_rows == 0;
	unsigned before = wants(s);
	int err = writer_enqueue_rows(s, start, rows);

	/* the first queued row starts the flush timer; a batch may have
	 * started or the queue gone to the journal: the loop must look again */
	if (s->wake && (first || wants(s) != before || !s->queue_rows))
		s->wake(s->wake_arg);
	return err;
}

static int writer_enqueue_rows(struct store *s, size_t start, size_t rows)
{
	if (!s->queue_rows) {
		s->queue_since = store_now_ms();
		s->queue_no = s->rows_added + 1;
		s->queue_mixed = false;
	}
	s->rows_added += rows;
	s->queue_rows += rows;
	if (s->mirror &&
	    store_mirror_add(s->mirror, s->queue.p + start, s->queue.len - start,
			     s->rows_added - rows + 1, rows, store_writer_unsettled(s)))
		s->stats.rows_unmirrored += rows;
	if (s->state == STORE_UNCONFIGURED) {
		/* no call log configured */
		s->stats.rows_discarded += s->queue_rows;
		sbuf_reset(&s->queue);
		s->queue_rows = 0;
		return 0;
	}
	if (s->queue.len > s->queue_max_bytes) {
		int err = spill_queue(s);

		if (err && s->queue.len > 2 * s->queue_max_bytes) {
			if (!s->drop_logged)
				store_log(LOG_ERR, "store: queue over %zu bytes and %s: "
					  "%zu rows dropped, and more until it "
					  "takes rows again (counted in rows_rejected)",
					  s->queue_max_bytes,
					  err == ENODEV ? "no journal"
							: "the journal refuses them",
					  s->queue_rows);
			s->drop_logged = true;
			s->stats.rows_rejected += s->queue_rows;
			sbuf_reset(&s->queue);
			s->queue_rows = 0;
		}
		return 0;
	}
	if (s->queue_rows >= s->batch_rows) {
		if (s->state == STORE_UP) {
			/* busy connections start the next batch when they finish */
			if (queue_can_start(s))
				store_writer_process(s);
		} else if (s->have_journal) {
			spill_queue(s);
		}
	}
	return 0;
}

int store_flush(struct store *s)
{
	if (!s)
		return EINVAL;
	if (s->state == STORE_UP) {
		start_next(s, true);
		return 0;
	}
	if (s->state == STORE_UNCONFIGURED)
		return 0;
	return s->have_journal ? spill_queue(s) : 0;
}

uint64_t store_writer_unsettled(const struct store *s)
{
	uint64_t lo = s->rows_added + 1;

	if (s->queue_rows && s->queue_no < lo)
		lo = s->queue_no;
	/* a split batch holds its lowest number until every range is done:
	 * its rows are committed together as far as a reader can tell */
	for (int i = 0; i < s->nconn; i++) {
		const struct batch *b = &s->w[i].batch;

		if (s->w[i].in_batch && b->no_lo && b->no_lo < lo)
			lo = b->no_lo;
	}
	return lo;
}

bool store_busy(const struct store *s)
{
	return s && (s->queue_rows || any_in_batch(s));
}

void store_stats(const struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	*st = s->stats;
	st->queue_rows = s->queue_rows;
	st->queue_bytes = s->queue.len;
	st->journal_bytes = s->have_journal ? s->journal.size : 0;
	st->resend_bytes = store_resend_bytes(s);
}

void store_writer_free(struct store *s)
{
	/* one last attempt whatever the journal's back-off says: what is not
	 * written now is lost */
	s->journal.retry_at = 0;
	for (int i = 0; i < s->nconn; i++)
		batch_abandon(s, &s->w[i]);
	if (s->queue_rows && s->have_journal)
		spill_queue(s);
	if (s->queue_rows)
		store_log(LOG_ERR, "store: closing with %zu rows not written and no journal",
			  s->queue_rows);
	/* rows the journal refused stay unsettled: the next start takes them
	 * from the mirror */
	store_mirror_settle(s->mirror, store_writer_unsettled(s));
	store_mirror_close(s->mirror);
	s->mirror = NULL;
	sbuf_free(&s->queue);
	sbuf_free(&s->hdr_block);
	for (int i = 0; i < s->nconn; i++) {
		struct batch *b = &s->w[i].batch;

		sbuf_free(&b->frames);
		for (int t = 0; t < T_COUNT; t++)
			sbuf_free(&b->copy[t]);
		free(b->offs);
		free(b->ranges);
	}
	if (s->have_journal)
		store_journal_close(&s->journal);
}
