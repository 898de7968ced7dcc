/* query.c: the SQL of the REST API's reads and of dialerd trace, and the parsing of their results (no I/O) */
/*
 * One place builds each statement, so the daemon's asynchronous reads
 * (read.c) and the blocking trace command (trace.c) cannot drift apart.
 * Values always travel as bind parameters; only the shape of the WHERE
 * clause (which filters are present) is assembled here, from fixed text.
 * Times go both ways as microseconds since the epoch: in as timestamptz
 * text, out as extract(epoch) * 1e6, which is numeric and exact in
 * PostgreSQL 14 and later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/internal.h"
#include "util/hex.h"

#define US(c) "(extract(epoch from " c ") * 1000000)::int8"

/* the columns of a calls row, in the order calls_rows_parse reads them */
static const char calls_cols[] =
	"select sid, account_sid, parent_call_sid, direction, from_addr,"
	" to_addr, caller_name, status, sip_call_id, sip_response_code,"
	" reason_protocol, reason_cause, reason_text, codec, "
	US("created_at") ", " US("ringing_at") ", " US("answered_at") ", "
	US("ended_at") ", duration, dial_call_status, " US("updated_at") ", "
	US("started_at") ", forwarded_from, dial_group, branch, hangup_by,"
	" instance"
	" from calls c where account_sid = $1";

static const char *const finished =
	"('completed', 'busy', 'failed', 'no-answer', 'canceled')";

/* A status of a call still going, which calls_account_live_idx serves. */
static bool live(const char *status)
{
	static const char *const names[] = {
		"queued", "initiated", "ringing", "in-progress",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(status, names[i]) == 0)
			return true;
	return false;
}

void store_query_clear(struct query *q)
{
	free(q->sql);
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	memset(q, 0, sizeof(*q));
}

/* Adds a parameter (NULL: SQL NULL) and writes its "$n" into sql. */
static int param(struct query *q, struct sbuf *sql, const char *v)
{
	char num[16];

	if (q->nparams == QUERY_MAX_PARAMS)
		return EINVAL;
	if (v) {
		q->params[q->nparams] = strdup(v);
		if (!q->params[q->nparams])
			return ENOMEM;
	}
	q->nparams++;
	snprintf(num, sizeof(num), "$%d", q->nparams);
	return sbuf_put(sql, num, strlen(num));
}

static int param_time(struct query *q, struct sbuf *sql, int64_t us)
{
	char t[48];
	int err = store_time_text(t, sizeof(t), us);

	if (!err)
		err = param(q, sql, t);
	if (!err)
		err = sbuf_put(sql, "::timestamptz", 13);
	return err;
}

static int param_int(struct query *q, struct sbuf *sql, long long v)
{
	char t[32];

	snprintf(t, sizeof(t), "%lld", v);
	return param(q, sql, t);
}

static int put(struct sbuf *sql, const char *s)
{
	return sbuf_put(sql, s, strlen(s));
}

/* " and <col> = $n" when v is set */
static int eq(struct query *q, struct sbuf *sql, const char *col, const char *v)
{
	int err;

	if (!v)
		return 0;
	err = put(sql, " and ");
	if (!err)
		err = put(sql, col);
	if (!err)
		err = put(sql, " = ");
	if (!err)
		err = param(q, sql, v);
	return err;
}

/* " and <col> >= $min and <col> < $max", each bound when set */
static int range(struct query *q, struct sbuf *sql, const char *col,
		 int64_t min, int64_t max)
{
	int err = 0;

	if (min) {
		err = put(sql, " and ");
		if (!err)
			err = put(sql, col);
		if (!err)
			err = put(sql, " >= ");
		if (!err)
			err = param_time(q, sql, min);
	}
	if (max && !err) {
		err = put(sql, " and ");
		if (!err)
			err = put(sql, col);
		if (!err)
			err = put(sql, " < ");
		if (!err)
			err = param_time(q, sql, max);
	}
	return err;
}

static int take_sql(struct query *q, struct sbuf *sql)
{
	int err = sbuf_putc(sql, '\0');

	if (err)
		return err;
	q->sql = (char *)sql->p;
	*sql = (struct sbuf){0};
	return 0;
}

int store_query_calls(struct query *q, const struct store_calls_filter *f)
{
	struct sbuf sql = {0};
	int err;

	memset(q, 0, sizeof(*q));
	if (!f || !f->account_sid || f->limit < 1 || f->limit > STORE_CALLS_LIMIT_MAX ||
	    !f->header_name != !f->header_value ||
	    (f->before_sid && !f->before_created_us))
		return EINVAL;
	err = put(&sql, calls_cols);
	if (!err) {
		q->params[0] = strdup(f->account_sid);
		q->nparams = 1;
		err = q->params[0] ? 0 : ENOMEM;
	}
	if (!err)
		err = eq(q, &sql, "sid", f->sid);
	if (!err && !f->before_created_us) {
		/* calls is partitioned by day (migrations/0006): unbounded,
		 * the planner opens every partition (~5 ms at 48 days). A SID
		 * does not tell the day, but most fetched calls are recent,
		 * and a list's first page is the newest calls: bound
		 * parameters let a custom plan prune to the last days. Rows
		 * outside the window are all older than those inside, so a
		 * full page (or the call found) is the answer; else read.c
		 * opens the bounds and sends it again. The upper bound is
		 * tomorrow, not infinity: the 6 empty partitions further
		 * ahead cost the planner of every list about 1 ms (each
		 * index of each is opened) for rows that only an instance
		 * with its clock days ahead could write. */
		int64_t now = store_now_us();

		q->window = q->nparams;
		q->window_rows = f->sid ? 1 : (int)(f->offset + f->limit);
		err = put(&sql, " and created_at >= ");
		if (!err)
			err = param_time(q, &sql, now - 2 * 86400 * 1000000LL);
		if (!err)
			err = put(&sql, " and created_at < ");
		if (!err)
			err = param_time(q, &sql, now + 86400 * 1000000LL);
	}
	if (!err)
		err = eq(q, &sql, "to_addr", f->to);
	if (!err)
		err = eq(q, &sql, "from_addr", f->from);
	if (!err)
		err = eq(q, &sql, "parent_call_sid", f->parent_call_sid);
	if (!err)
		err = eq(q, &sql, "status", f->status);
	if (!err && f->status && live(f->status))
		/* calls_account_live_idx (migrations/0009) is partial on
		 * "ended_at is null", not on status: the planner uses it only
		 * when the query says so. The same rows: a live status never
		 * has an ended_at (dialerd sets it with the final status). */
		err = put(&sql, " and ended_at is null");
	if (!err)
		err = range(q, &sql, "started_at", f->started_min_us,
			    f->started_max_us);
	if (!err)
		err = range(q, &sql, "ended_at", f->ended_min_us, f->ended_max_us);
	if (!err && f->sip_response_code) {
		err = put(&sql, " and sip_response_code = ");
		if (!err)
			err = param_int(q, &sql, f->sip_response_code);
	}
	if (!err && f->header_name) {
		/* sip_headers_name_value_idx (lower(name), value); root_sid:
		 * a join on the column a sharded call log is distributed by
		 * (docs/call-log.md, Citus), free here */
		err = put(&sql, " and exists (select 1 from sip_headers h"
				" where h.call_sid = c.sid and h.root_sid = c.root_sid"
				" and lower(h.name) = lower(");
		if (!err)
			err = param(q, &sql, f->header_name);
		if (!err)
			err = put(&sql, ") and h.value = ");
		if (!err)
			err = param(q, &sql, f->header_value);
		if (!err)
			err = put(&sql, ")");
	}
	if (!err && !f->include_hidden)
		err = put(&sql, " and api_deleted_at is null");
	if (!err && f->before_created_us) {
		/* the first bound alone lets the (account_sid, ...,
		 * created_at) indexes start at the page's edge */
		int t;

		err = put(&sql, " and created_at <= ");
		if (!err)
			err = param_time(q, &sql, f->before_created_us);
		t = q->nparams;
		if (!err && f->before_sid) {
			char ref[64];

			snprintf(ref, sizeof(ref), " and (created_at < $%d::timestamptz"
				 " or sid < ", t);
			err = put(&sql, ref);
			if (!err)
				err = param(q, &sql, f->before_sid);
			if (!err)
				err = put(&sql, ")");
		} else if (!err) {
			char ref[64];

			snprintf(ref, sizeof(ref), " and created_at < $%d::timestamptz", t);
			err = put(&sql, ref);
		}
	}
	if (!err)
		err = put(&sql, " order by created_at desc, sid desc limit ");
	if (!err)
		err = param_int(q, &sql, f->limit);
	if (!err && f->offset) {
		err = put(&sql, " offset ");
		if (!err)
			err = param_int(q, &sql, f->offset);
	}
	if (!err)
		err = take_sql(q, &sql);
	sbuf_free(&sql);
	if (err)
		store_query_clear(q);
	return err;
}

/* One statement: the update, and the row as it was before it (a
 * data-modifying WITH is not seen by the rest of its statement), which
 * tells an unknown call from an unfinished one. */
int store_query_hide(struct query *q, const char *account_sid, const char *sid)
{
	static const char fmt[] =
		"with u as (update calls set api_deleted_at = now()"
		" where sid = $2 and account_sid = $1 and api_deleted_at is null"
		" and status in %s returning sid)"
		" select (select count(*) from u), status in %s,"
		" api_deleted_at is not null"
		" from calls where sid = $2 and account_sid = $1";
	char sql[sizeof(fmt) + 128];

	memset(q, 0, sizeof(*q));
	if (!account_sid || !sid)
		return EINVAL;
	snprintf(sql, sizeof(sql), fmt, finished, finished);
	q->sql = strdup(sql);
	q->params[0] = strdup(account_sid);
	q->params[1] = strdup(sid);
	q->nparams = 2;
	if (!q->sql || !q->params[0] || !q->params[1]) {
		store_query_clear(q);
		return ENOMEM;
	}
	return 0;
}

/* The legs first (the call and its children, of the account unless $1 is
 * NULL), then their messages: a leg without any still comes back as one
 * row with a NULL seq, so an unknown call (no row at all) differs from a
 * call without messages. The legs come from calls_pkey and
 * calls_parent_idx, the messages from sip_messages_pkey. The join also on
 * root_sid (a leg's messages share its root) is free here and, on a call
 * log sharded by root_sid (docs/call-log.md, Citus), a join on the
 * distribution column that each shard does alone. */
int store_query_sip(struct query *q, const char *account_sid, const char *sid,
		    bool bodies)
{
	/* the body columns only when asked: a body is TOASTed past ~2 KiB,
	   and a ladder without bodies must not read them */
	static const char head[] =
		"with legs as (select sid, root_sid from calls"
		" where ($1::text is null or account_sid = $1)"
		" and (sid = $2 or parent_call_sid = $2))"
		" select l.sid, m.seq, m.direction, " US("m.at") ","
		" m.start_line, m.sip_call_id, m.sdp, m.headers,";
	static const char with[] =
		" m.body, m.body_type, m.body_length, m.method, m.status_code";
	static const char without[] =
		" null::text, null::text, null::integer, m.method, m.status_code";
	static const char tail[] =
		" from legs l left join sip_messages m"
		" on m.call_sid = l.sid and m.root_sid = l.root_sid"
		" order by m.at, l.sid <> $2, l.sid, m.seq";
	const char *cols = bodies ? with : without;
	size_t n = sizeof(head) + strlen(cols) + sizeof(tail);

	memset(q, 0, sizeof(*q));
	if (!sid)
		return EINVAL;
	q->sql = malloc(n);
	if (q->sql)
		snprintf(q->sql, n, "%s%s%s", head, cols, tail);
	q->params[0] = account_sid ? strdup(account_sid) : NULL;
	q->params[1] = strdup(sid);
	q->nparams = 2;
	if (!q->sql || (account_sid && !q->params[0]) || !q->params[1]) {
		store_query_clear(q);
		return ENOMEM;
	}
	return 0;
}

/* ---- results ---- */

static const char *str(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static long long num(const PGresult *res, int row, int col, long long null)
{
	return PQgetisnull(res, row, col) ? null
					  : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int store_calls_rows_parse(struct calls_rows *cr, const void *r)
{
	const PGresult *res = r;
	int n = PQntuples(res);

	memset(cr, 0, sizeof(*cr));
	if (PQnfields(res) != 27)
		return EIO;
	if (!n)
		return 0;
	cr->rows = calloc((size_t)n, sizeof(*cr->rows));
	if (!cr->rows)
		return ENOMEM;
	for (int i = 0; i < n; i++) {
		struct store_call *c = &cr->rows[i];

		c->sid = str(res, i, 0);
		c->account_sid = str(res, i, 1);
		c->parent_call_sid = str(res, i, 2);
		c->direction = str(res, i, 3);
		c->from = str(res, i, 4);
		c->to = str(res, i, 5);
		c->caller_name = str(res, i, 6);
		c->status = str(res, i, 7);
		c->sip_call_id = str(res, i, 8);
		c->sip_response_code = (int)num(res, i, 9, 0);
		c->reason_protocol = str(res, i, 10);
		c->reason_cause = (int)num(res, i, 11, 0);
		c->reason_text = str(res, i, 12);
		c->codec = str(res, i, 13);
		c->created_at = num(res, i, 14, 0);
		c->ringing_at = num(res, i, 15, 0);
		c->answered_at = num(res, i, 16, 0);
		c->ended_at = num(res, i, 17, 0);
		c->duration = (int)num(res, i, 18, -1);
		c->dial_call_status = str(res, i, 19);
		c->updated_at = num(res, i, 20, 0);
		c->started_at = num(res, i, 21, 0);
		c->forwarded_from = str(res, i, 22);
		c->dial_group = str(res, i, 23);
		c->branch = (int)num(res, i, 24, -1);
		c->hangup_by = str(res, i, 25);
		c->instance = str(res, i, 26);
	}
	cr->n = (size_t)n;
	return 0;
}

void store_calls_rows_free(struct calls_rows *cr)
{
	free(cr->rows);
	memset(cr, 0, sizeof(*cr));
}

int store_hide_result(const void *r)
{
	const PGresult *res = r;

	if (PQntuples(res) != 1 || PQnfields(res) != 3)
		return ENOENT;
	if (strcmp(PQgetvalue(res, 0, 0), "1") == 0)
		return 0;
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		return ENOENT;	/* already hidden */
	return EBUSY;
}

/* A bytea in text output ("\x" hex) into out; its length. */
static size_t unhex(unsigned char *out, const char *in, size_t len)
{
	size_t n = 0;

	if (len < 2 || in[0] != '\\' || in[1] != 'x')
		return 0;
	for (size_t i = 2; i + 1 < len; i += 2) {
		int hi = util_hexval((unsigned char)in[i]), lo = util_hexval((unsigned char)in[i + 1]);

		if (hi < 0 || lo < 0)
			break;
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return n;
}

/* Splits a "Name: value\r\n" block the way sip_message_headers() does:
 * the name is everything before the first colon, the value follows it
 * without its leading blanks; a line without a colon is skipped. */
static size_t split_block(struct store_header *h, const unsigned char *p,
			  size_t len)
{
	size_t n = 0, i = 0;

	while (i < len) {
		const unsigned char *line = p + i, *colon;
		size_t j = i, ll;
		bool crlf;

		while (j + 1 < len && !(p[j] == '\r' && p[j + 1] == '\n'))
			j++;
		crlf = j + 1 < len;
		ll = crlf ? j - i : len - i;
		i += ll + (crlf ? 2 : 0);
		colon = memchr(line, ':', ll);
		if (!colon)
			continue;
		if (h) {
			const unsigned char *v = colon + 1;

			while (v < line + ll && (*v == ' ' || *v == '\t'))
				v++;
			h[n].name = (const char *)line;
			h[n].name_len = (size_t)(colon - line);
			h[n].value = (const char *)v;
			h[n].value_len = (size_t)(line + ll - v);
		}
		n++;
	}
	return n;
}

int store_sip_rows_parse(struct sip_rows *sr, const void *r)
{
	const PGresult *res = r;
	int n = PQntuples(res);
	size_t bytes = 0, nh = 0, off = 0, k = 0, hk = 0;

	memset(sr, 0, sizeof(*sr));
	if (PQnfields(res) != 13)
		return EIO;
	if (!n)
		return ENOENT;
	for (int i = 0; i < n; i++)
		if (!PQgetisnull(res, i, 1))
			bytes += (size_t)PQgetlength(res, i, 7) / 2 + 1;
	sr->rows = calloc((size_t)n, sizeof(*sr->rows));
	sr->blocks = malloc(bytes + 1);
	if (!sr->rows || !sr->blocks)
		goto nomem;
	/* decode every block, then count and split its headers */
	for (int i = 0; i < n; i++) {
		struct store_sip_row *row = &sr->rows[k];
		size_t len;

		if (PQgetisnull(res, i, 1))
			continue;	/* a leg without messages */
		len = unhex(sr->blocks + off, PQgetvalue(res, i, 7),
			    (size_t)PQgetlength(res, i, 7));
		row->call_sid = str(res, i, 0);
		row->seq = (uint32_t)num(res, i, 1, 0);
		row->direction = strcmp(PQgetvalue(res, i, 2), "in") == 0
					 ? STORE_DIR_IN : STORE_DIR_OUT;
		row->at = num(res, i, 3, 0);
		row->start_line = str(res, i, 4);
		row->sip_call_id = str(res, i, 5);
		row->sdp = str(res, i, 6);
		row->body = str(res, i, 8);
		row->body_type = str(res, i, 9);
		row->body_length = num(res, i, 10, -1);
		row->method = str(res, i, 11);
		row->status_code = (int)num(res, i, 12, 0);
		/* nhdrs holds the block's length until the headers are split */
		row->hdrs = (const struct store_header *)(sr->blocks + off);
		row->nhdrs = len;
		nh += split_block(NULL, sr->blocks + off, len);
		off += len;
		k++;
	}
	sr->n = k;
	if (nh) {
		sr->hdrs = calloc(nh, sizeof(*sr->hdrs));
		if (!sr->hdrs)
			goto nomem;
	}
	for (size_t i = 0; i < k; i++) {
		struct store_sip_row *row = &sr->rows[i];
		const unsigned char *blk = (const unsigned char *)row->hdrs;
		size_t cnt = split_block(sr->hdrs + hk, blk, row->nhdrs);

		row->hdrs = cnt ? sr->hdrs + hk : NULL;
		row->nhdrs = cnt;
		hk += cnt;
	}
	return 0;
 nomem:
	store_sip_rows_free(sr);
	return ENOMEM;
}

void store_sip_rows_free(struct sip_rows *sr)
{
	free(sr->rows);
	free(sr->hdrs);
	free(sr->blocks);
	memset(sr, 0, sizeof(*sr));
}
