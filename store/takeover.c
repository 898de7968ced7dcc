/* takeover.c: the registry and call-log reads of `dialerd takeover` and of the daemon's start after a crash, blocking (before the loop runs) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/internal.h"

#define US(c) "(extract(epoch from " c ") * 1000000)::int8"

struct store_takeover {
	PGconn *c;
	PGresult *res;		/* of the last store_takeover_calls */
	struct store_open_call *calls;
};

static void one_line(char *err, size_t errsz, const char *what, PGconn *c)
{
	snprintf(err, errsz, "%s: %s", what, c ? PQerrorMessage(c) :
		 "out of memory");
	err[strcspn(err, "\n")] = '\0';
}

int store_takeover_open(struct store_takeover **tp, const char *conninfo,
			unsigned connect_timeout, char *err, size_t errsz)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name",
			      NULL};
	char tmo[16];
	const char *vals[] = {conninfo, tmo, "dialerd-takeover", NULL};
	struct store_takeover *t;

	err[0] = '\0';
	if (!tp || !conninfo)
		return EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	snprintf(tmo, sizeof(tmo), "%u", connect_timeout ? connect_timeout : 10);
	t->c = PQconnectdbParams(keys, vals, 1);
	if (!t->c || PQstatus(t->c) != CONNECTION_OK) {
		one_line(err, errsz, "cannot connect to the database", t->c);
		store_takeover_close(t);
		return ECONNREFUSED;
	}
	*tp = t;
	return 0;
}

struct store_takeover *store_takeover_close(struct store_takeover *t)
{
	if (!t)
		return NULL;
	PQclear(t->res);
	free(t->calls);
	PQfinish(t->c);
	free(t);
	return NULL;
}

static PGresult *run(struct store_takeover *t, const char *sql, int n,
		     const char *const *p, char *err, size_t errsz)
{
	PGresult *res = PQexecParams(t->c, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	one_line(err, errsz, "query failed", t->c);
	PQclear(res);
	return NULL;
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* Runs one of the claims' UPDATEs: $1 id, $2 host, $3 pid, $4 what the
 * claim compares (staleness or folder), $5 the lease. 0 (li: name,
 * data_dir, the heartbeat before the claim), ENOENT (no row matched), EIO.
 * The self-join o is read with the statement's snapshot: the heartbeat
 * before the claim, the last time the instance was known alive. */
static int claim(struct store_takeover *t, const char *sql, unsigned id,
		 const char *host, int pid, const char *p4, unsigned lease_s,
		 struct store_lost_instance *li, char *err, size_t errsz)
{
	char sid[16], spid[16], slease[16];
	const char *p[] = {sid, host, spid, p4, slease};
	PGresult *res;
	int e;

	err[0] = '\0';
	memset(li, 0, sizeof(*li));
	li->id = id;
	snprintf(sid, sizeof(sid), "%u", id);
	snprintf(spid, sizeof(spid), "%d", pid);
	snprintf(slease, sizeof(slease), "%u", lease_s);
	res = run(t, sql, 5, p, err, errsz);
	if (!res)
		return EIO;
	e = PQntuples(res) == 1 ? 0 : ENOENT;
	if (!e) {
		copy(li->name, sizeof(li->name), PQgetvalue(res, 0, 0));
		copy(li->data_dir, sizeof(li->data_dir), PQgetvalue(res, 0, 1));
		copy(li->state, sizeof(li->state), "lost");
		copy(li->host, sizeof(li->host), host);
		li->pid = pid;
		li->last_seen_us = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	}
	PQclear(res);
	return e;
}

/* The claim is one UPDATE whose WHERE holds the staleness test: two
 * takeovers that read the same stale row both try it, PostgreSQL
 * re-checks the WHERE on the row the first one changed, and the second
 * updates nothing. The lease (a heartbeat in the future) keeps a third
 * one and a restarted daemon of that name (split brain) away meanwhile. */
int store_takeover_claim(struct store_takeover *t, unsigned id,
			 unsigned stale_s, unsigned lease_s, const char *host,
			 int pid, struct store_lost_instance *li, char *err,
			 size_t errsz)
{
	static const char sql[] =
		"update instances i set state = 'lost', host = $2, pid = $3,"
		" heartbeat_at = now() + make_interval(secs => $5)"
		" from instances o where o.id = i.id and i.id = $1"
		" and i.state <> 'retired'"
		" and i.heartbeat_at < now() - make_interval(secs => $4)"
		" returning i.name, i.data_dir, " US("o.heartbeat_at");
	static const char look[] =
		"select name, state, host, pid, data_dir,"
		" extract(epoch from now() - heartbeat_at)::float8"
		" from instances where id = $1";
	char sid[16], sstale[16];
	const char *p[] = {sid};
	PGresult *res;
	int e;

	snprintf(sstale, sizeof(sstale), "%u", stale_s);
	e = claim(t, sql, id, host, pid, sstale, lease_s, li, err, errsz);
	if (e != ENOENT)
		return e;
	memset(li, 0, sizeof(*li));
	li->id = id;
	snprintf(sid, sizeof(sid), "%u", id);
	res = run(t, look, 1, p, err, errsz);
	if (!res)
		return EIO;
	if (PQntuples(res) != 1) {
		e = ENOENT;
		goto out;
	}
	copy(li->name, sizeof(li->name), PQgetvalue(res, 0, 0));
	copy(li->state, sizeof(li->state), PQgetvalue(res, 0, 1));
	copy(li->host, sizeof(li->host), PQgetvalue(res, 0, 2));
	li->pid = atoi(PQgetvalue(res, 0, 3));
	copy(li->data_dir, sizeof(li->data_dir), PQgetvalue(res, 0, 4));
	li->heartbeat_age_s = strtod(PQgetvalue(res, 0, 5), NULL);
	e = strcmp(li->state, "retired") == 0 ? EALREADY : EBUSY;
 out:
	PQclear(res);
	return e;
}

/* The daemon's own folder after a crash: holding the folder's lock proves
 * that the process of the row's last registration from this host and
 * folder is gone, whatever the age of its heartbeat. A row another
 * takeover holds (its lease: a heartbeat in the future) is left alone. */
int store_takeover_claim_own(struct store_takeover *t, unsigned id,
			     const char *host, const char *data_dir, int pid,
			     unsigned lease_s, struct store_lost_instance *li,
			     char *err, size_t errsz)
{
	static const char sql[] =
		"update instances i set state = 'lost', pid = $3,"
		" heartbeat_at = now() + make_interval(secs => $5)"
		" from instances o where o.id = i.id and i.id = $1"
		" and i.state in ('active', 'draining', 'lost')"
		" and i.host = $2 and i.data_dir = $4 and i.heartbeat_at <= now()"
		" returning i.name, i.data_dir, " US("o.heartbeat_at");

	return claim(t, sql, id, host, pid, data_dir, lease_s, li, err, errsz);
}

int store_takeover_release(struct store_takeover *t, unsigned id,
			   bool retired, unsigned stale_s, char *err,
			   size_t errsz)
{
	static const char retire[] =
		"update instances set state = 'retired', heartbeat_at = now()"
		" where id = $1 and state = 'lost'";
	/* not done: the lease ends now, so that a new run may go at once */
	static const char give_back[] =
		"update instances set heartbeat_at = now() -"
		" make_interval(secs => $2) where id = $1 and state = 'lost'";
	char sid[16], sstale[16];
	const char *p[] = {sid, sstale};
	PGresult *res;

	err[0] = '\0';
	snprintf(sid, sizeof(sid), "%u", id);
	snprintf(sstale, sizeof(sstale), "%u", stale_s + 1);
	res = run(t, retired ? retire : give_back, retired ? 1 : 2, p, err,
		  errsz);
	if (!res)
		return EIO;
	PQclear(res);
	return 0;
}

/* Open calls: rows of the instance without a final status. Per call, the
 * next call_events number, the highest status-callback SequenceNumber in
 * webhook_requests, a final CallStatus already sent (the final row was
 * lost with the process, its callback was not), what the daemon wrote on
 * the call's first status event (the status callback's subscription, a
 * REST call's TimeLimit, a <Dial> child's action and timeLimit, or the
 * document that goes on after it) and the next fetch's number. */
#define CALL_SELECT \
	"select c.sid, c.account_sid, c.parent_call_sid, c.direction," \
	" c.from_addr, c.to_addr, c.caller_name, c.status, c.sip_call_id," \
	" c.forwarded_from, " US("c.created_at") ", " US("c.ringing_at") ", " \
	US("c.answered_at") ", " US("c.started_at") "," \
	" coalesce((select max(e.sequence_number) + 1 from call_events e" \
	"  where e.call_sid = c.sid and e.root_sid = c.root_sid), 0)," \
	" (select max(w.sequence_number) from webhook_requests w" \
	"  where w.call_sid = c.sid and w.root_sid = c.root_sid" \
	"  and w.kind = 'status-callback')," \
	" (select w.parameters->>'CallStatus' from webhook_requests w" \
	"  where w.call_sid = c.sid and w.root_sid = c.root_sid" \
	"  and w.kind = 'status-callback'" \
	"  and w.parameters->>'CallStatus' in" \
	"   ('completed', 'busy', 'failed', 'no-answer', 'canceled') limit 1)," \
	" s.d->'status_callback'->>'url', s.d->'status_callback'->>'method'," \
	" coalesce((s.d->'status_callback'->'events') ? 'completed', false)," \
	" c.root_sid," \
	" coalesce(s.d ? 'dial', false), s.d->'dial'->>'action'," \
	" s.d->'dial'->>'method', s.d->'dial'->>'time_limit'," \
	" coalesce((select max(w.sequence_number) + 1 from webhook_requests w" \
	"  where w.call_sid = c.sid and w.root_sid = c.root_sid" \
	"  and w.kind <> 'status-callback'), 0)," \
	" c.codec, c.sip_response_code," \
	" s.d->'dial'->'then'->>'doc', s.d->'dial'->'then'->>'url'," \
	" s.d->'dial'->'then'->>'verb', s.d->>'time_limit', " US("c.ended_at") \
	" from calls c left join lateral (select e.detail d" \
	"  from call_events e where e.call_sid = c.sid and e.root_sid = c.root_sid" \
	"  and (e.detail ? 'status_callback' or e.detail ? 'dial'" \
	"   or e.detail ? 'time_limit')" \
	"  order by e.sequence_number limit 1) s on true"
#define LIVE "('queued', 'initiated', 'ringing', 'in-progress')"
static const char open_sql[] =
	CALL_SELECT
	" where c.instance = $1 and c.status in " LIVE
	" order by c.sid";

/* The <Dial>s over while their parent is not: per parent SID, its
 * newest child when that one has ended after an answer and recorded its
 * <Dial>'s action or the document after it, and no fetch of the parent
 * is logged since the child was created (the document did not move on;
 * a fetch's row is written when it is over). */
static const char ended_sql[] =
	CALL_SELECT
	" join (select distinct on (k.parent_call_sid) k.sid, k.root_sid"
	"  from calls k where k.parent_call_sid = any($1::text[])"
	"  order by k.parent_call_sid, k.created_at desc, k.sid desc) n"
	"  on n.sid = c.sid and n.root_sid = c.root_sid"
	" where c.status not in " LIVE " and c.answered_at is not null"
	" and c.ended_at is not null and (s.d->'dial'->>'action' is not null"
	"  or s.d->'dial'->'then'->>'doc' is not null)"
	" and not exists (select 1 from webhook_requests w"
	"  where w.call_sid = c.parent_call_sid and w.root_sid = c.root_sid"
	"  and w.kind <> 'status-callback'"
	"  and w.at >= c.created_at)"
	" order by c.sid";

static const char *val(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t num(PGresult *r, int row, int col, int64_t none)
{
	return PQgetisnull(r, row, col) ? none :
	       strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Row i of a CALL_SELECT result, its strings borrowed from r. */
static void call_row(PGresult *r, int i, struct store_open_call *c)
{
	c->sid = val(r, i, 0);
	c->account_sid = val(r, i, 1);
	c->parent_call_sid = val(r, i, 2);
	c->direction = val(r, i, 3);
	c->from = val(r, i, 4);
	c->to = val(r, i, 5);
	c->caller_name = val(r, i, 6);
	c->status = val(r, i, 7);
	c->sip_call_id = val(r, i, 8);
	c->forwarded_from = val(r, i, 9);
	c->created_at = num(r, i, 10, 0);
	c->ringing_at = num(r, i, 11, 0);
	c->answered_at = num(r, i, 12, 0);
	c->started_at = num(r, i, 13, 0);
	c->next_event = (uint32_t)num(r, i, 14, 0);
	c->last_callback = num(r, i, 15, -1);
	c->final_sent = val(r, i, 16);
	c->cb_url = val(r, i, 17);
	c->cb_get = val(r, i, 18) && strcmp(val(r, i, 18), "GET") == 0;
	c->cb_completed = val(r, i, 19) && strcmp(val(r, i, 19), "t") == 0;
	c->root_sid = val(r, i, 20);
	c->dial_known = val(r, i, 21) && strcmp(val(r, i, 21), "t") == 0;
	c->dial_action = val(r, i, 22);
	c->dial_get = val(r, i, 23) && strcmp(val(r, i, 23), "GET") == 0;
	c->dial_time_limit = (int)num(r, i, 24, 0);
	c->next_fetch = (uint32_t)num(r, i, 25, 0);
	c->codec = val(r, i, 26);
	c->sip_response_code = (int)num(r, i, 27, 0);
	c->dial_then_doc = val(r, i, 28);
	c->dial_then_url = val(r, i, 29);
	c->dial_then_verb = (int)num(r, i, 30, 0);
	c->time_limit = (int)num(r, i, 31, 0);
	c->ended_at = num(r, i, 32, 0);
}

int store_takeover_calls(struct store_takeover *t, const char *instance,
			 const struct store_open_call **callsp, size_t *np,
			 char *err, size_t errsz)
{
	const char *p[] = {instance};
	int n;

	err[0] = '\0';
	PQclear(t->res);
	free(t->calls);
	t->calls = NULL;
	t->res = run(t, open_sql, 1, p, err, errsz);
	if (!t->res)
		return EIO;
	n = PQntuples(t->res);
	t->calls = calloc(n ? (size_t)n : 1, sizeof(*t->calls));
	if (!t->calls)
		return ENOMEM;
	for (int i = 0; i < n; i++)
		call_row(t->res, i, &t->calls[i]);
	*callsp = t->calls;
	*np = (size_t)n;
	return 0;
}

int store_takeover_callback_params(struct store_takeover *t, const char *sid,
				   store_takeover_param_h *h, void *arg,
				   char *err, size_t errsz)
{
	static const char sql[] =
		"select p.key, p.value from (select parameters"
		" from webhook_requests where call_sid = $1"
		" and kind = 'status-callback'"
		" order by sequence_number desc, attempt desc limit 1) w,"
		" jsonb_each_text(w.parameters) p";
	const char *p[] = {sid};
	PGresult *res;

	err[0] = '\0';
	res = run(t, sql, 1, p, err, errsz);
	if (!res)
		return EIO;
	for (int i = 0; i < PQntuples(res); i++)
		h(val(res, i, 0), val(res, i, 1), arg);
	PQclear(res);
	return 0;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* sids as a text[] literal, NUL-terminated. SIDs are letters and digits:
 * no quoting. 0, EINVAL (another character), ENOMEM. */
static int sid_array(struct sbuf *arr, const char *const *sids, size_t n)
{
	int e = sbuf_putc(arr, '{');

	for (size_t i = 0; !e && i < n; i++) {
		size_t len = strlen(sids[i]);

		if (!len || strspn(sids[i], ALNUM) != len)
			return EINVAL;
		if (i)
			e = sbuf_putc(arr, ',');
		if (!e)
			e = sbuf_put(arr, sids[i], len);
	}
	return e ? e : sbuf_put(arr, "}", 2);	/* with its NUL */
}

int store_takeover_dial_ends(struct store_takeover *t,
			     const char *const *parents, size_t n,
			     store_open_call_h *h, void *arg, char *err,
			     size_t errsz)
{
	struct store_open_call *calls = NULL;
	struct sbuf arr = {0};
	const char *p[1];
	PGresult *res;
	int e, rows;

	err[0] = '\0';
	if (!t || !parents || !h)
		return EINVAL;
	e = sid_array(&arr, parents, n);
	if (e) {
		sbuf_free(&arr);
		return e;
	}
	p[0] = (const char *)arr.p;
	res = run(t, ended_sql, 1, p, err, errsz);
	sbuf_free(&arr);
	if (!res)
		return EIO;
	rows = PQntuples(res);
	calls = calloc(rows ? (size_t)rows : 1, sizeof(*calls));
	e = calls ? 0 : ENOMEM;
	for (int i = 0; calls && i < rows; i++)
		call_row(res, i, &calls[i]);
	if (calls)
		h(calls, (size_t)rows, arg);
	free(calls);
	PQclear(res);
	return e;
}

int store_takeover_sip(struct store_takeover *t, const char *const *sids,
		       size_t n, store_sip_h *h, void *arg, char *err,
		       size_t errsz)
{
	/* the primary key (call_sid, seq, ...) of each partition: one
	   index probe per leg and day */
	static const char sql[] =
		"select m.call_sid, m.seq, m.direction, " US("m.at") ","
		" m.start_line, m.sip_call_id, m.sdp, m.headers,"
		" m.body, m.body_type, m.body_length, m.method, m.status_code"
		" from sip_messages m where m.call_sid = any($1::text[])"
		" order by m.call_sid, m.seq";
	struct sip_rows sr = {0};
	struct sbuf arr = {0};
	const char *p[1];
	PGresult *res;
	int e = 0;

	err[0] = '\0';
	if (!t || !sids || !h)
		return EINVAL;
	e = sid_array(&arr, sids, n);
	if (e) {
		sbuf_free(&arr);
		return e;
	}
	p[0] = (const char *)arr.p;
	res = run(t, sql, 1, p, err, errsz);
	sbuf_free(&arr);
	if (!res)
		return EIO;
	e = store_sip_rows_parse(&sr, res);
	if (!e || e == ENOENT) {
		h(0, sr.rows, sr.n, arg);
		e = 0;
	}
	store_sip_rows_free(&sr);
	PQclear(res);
	return e;
}
