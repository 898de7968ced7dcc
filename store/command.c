/**
 * @file command.c  Cross-instance REST commands (table call_commands)
 *
 * A REST fetch, update or delete that reaches an instance other than the
 * call's owner becomes a call_commands row. The requester inserts it and
 * pg_notify()s 'dialerd_cmd_<target>' in the same statement (one
 * transaction); the owner applies it once, stores the answer it would have
 * given and notifies 'dialerd_ack_<requested_by>' with the id. NOTIFY only
 * wakes: after every (re)connect the owner LISTENs and then scans its
 * pending rows, since a notification sent while it was disconnected is
 * lost. A row past expires_at is never applied (state expired).
 *
 * Every statement runs on the control connection (store_control_exec), in
 * the order queued; results go to the caller's store_exec_h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

/* The requester waits 5 s for the acknowledgement; the row lives 10 s so
 * an owner that wakes later still sees it expired, never applies it. */
#define COMMAND_TTL "10 seconds"

static const char *kind_ok(enum store_command_kind k)
{
	switch (k) {
	case STORE_COMMAND_FETCH:  return "fetch";
	case STORE_COMMAND_UPDATE: return "update";
	case STORE_COMMAND_DELETE: return "delete";
	}
	return NULL;
}

int store_command_instance(struct store *s, unsigned id, store_exec_h *h,
			   void *arg, struct store_exec **xp)
{
	char ids[16];
	const char *p[1] = {ids};

	if (!s || !id || id > 65535)
		return EINVAL;
	snprintf(ids, sizeof(ids), "%u", id);
	return store_control_exec(s,
		"SELECT name, state,"
		" (state IN ('active','draining')"
		"  AND heartbeat_at > now() - interval '15 seconds'),"
		" round(extract(epoch from now() - heartbeat_at))::bigint"
		" FROM instances WHERE id = $1",
		1, p, h, arg, xp);
}

int store_command_send(struct store *s, unsigned target, const char *sid,
		       const char *account, enum store_command_kind kind,
		       const char *body, store_exec_h *h, void *arg,
		       struct store_exec **xp)
{
	char ts[16], rs[16];
	const char *p[6];
	unsigned self = store_control_id(s);

	if (!s || !target || target > 65535 || !sid || !account ||
	    !kind_ok(kind) || !self)
		return EINVAL;
	snprintf(ts, sizeof(ts), "%u", target);
	snprintf(rs, sizeof(rs), "%u", self);
	p[0] = ts;
	p[1] = rs;
	p[2] = sid;
	p[3] = account;
	p[4] = kind_ok(kind);
	p[5] = body ? body : "{}";
	/* One statement: the insert and the notification commit together. */
	return store_control_exec(s,
		"WITH c AS (INSERT INTO call_commands (target_instance,"
		" requested_by, call_sid, account_sid, kind, body, expires_at)"
		" VALUES ($1, $2, $3, $4, $5, $6::jsonb,"
		" now() + interval '" COMMAND_TTL "')"
		" RETURNING id, target_instance)"
		" SELECT id, pg_notify('dialerd_cmd_' || target_instance, id::text)"
		" FROM c",
		6, p, h, arg, xp);
}

int store_command_listen(struct store *s, store_exec_h *h, void *arg)
{
	char sql[96];
	unsigned self = store_control_id(s);

	if (!self)
		return ENOTCONN;
	snprintf(sql, sizeof(sql),
		 "LISTEN dialerd_cmd_%u; LISTEN dialerd_ack_%u", self, self);
	return store_control_exec(s, sql, 0, NULL, h, arg, NULL);
}

/* Columns of the pending scans: id, requested_by, call_sid, account_sid,
 * kind, body, and the body's prefix and form. */
int store_command_pending(struct store *s, unsigned long long id,
			  store_exec_h *h, void *arg)
{
	char ss[16], is[24];
	const char *p[2] = {ss, is};
	unsigned self = store_control_id(s);

	if (!self)
		return ENOTCONN;
	snprintf(ss, sizeof(ss), "%u", self);
	snprintf(is, sizeof(is), "%llu", id);
	/* Expired rows are marked first and never returned; the SELECT sees
	 * the statement's snapshot, so it filters on expires_at itself. */
	return store_control_exec(s,
		"WITH e AS (UPDATE call_commands SET state = 'expired',"
		" done_at = now() WHERE target_instance = $1"
		" AND state = 'pending' AND expires_at <= now()"
		" AND ($2::bigint = 0 OR id = $2::bigint) RETURNING id)"
		" SELECT id, requested_by, call_sid, account_sid, kind, body,"
		" body->>'prefix', body->>'form'"
		" FROM call_commands WHERE target_instance = $1"
		" AND state = 'pending' AND expires_at > now()"
		" AND ($2::bigint = 0 OR id = $2::bigint)"
		" AND (SELECT count(*) FROM e) >= 0 ORDER BY id",
		2, p, h, arg, NULL);
}

int store_command_finish(struct store *s, unsigned long long id, bool done,
			 unsigned status, const char *body, store_exec_h *h,
			 void *arg)
{
	char is[24], st[16];
	const char *p[4];

	if (!s || !id)
		return EINVAL;
	snprintf(is, sizeof(is), "%llu", id);
	snprintf(st, sizeof(st), "%u", status);
	p[0] = is;
	p[1] = done ? "done" : "failed";
	p[2] = st;
	p[3] = body;
	/* Guarded by state = 'pending': a second delivery changes nothing
	 * and notifies nobody. */
	return store_control_exec(s,
		"WITH u AS (UPDATE call_commands SET state = $2,"
		" result_status = $3, result_body = $4::jsonb, done_at = now()"
		" WHERE id = $1 AND state = 'pending' RETURNING id, requested_by)"
		" SELECT pg_notify('dialerd_ack_' || requested_by, id::text)"
		" FROM u",
		4, p, h, arg, NULL);
}

int store_command_result(struct store *s, unsigned long long id,
			 store_exec_h *h, void *arg, struct store_exec **xp)
{
	char is[24];
	const char *p[1] = {is};

	if (!s || !id)
		return EINVAL;
	snprintf(is, sizeof(is), "%llu", id);
	return store_control_exec(s,
		"SELECT state, result_status, result_body::text"
		" FROM call_commands WHERE id = $1",
		1, p, h, arg, xp);
}

int store_command_housekeep(struct store *s, store_exec_h *h, void *arg)
{
	/* Bounded batch: the caller repeats while rows were deleted. */
	return store_control_exec(s,
		"DELETE FROM call_commands WHERE id IN (SELECT id"
		" FROM call_commands WHERE created_at < now() - interval '1 day'"
		" ORDER BY id LIMIT 1000)",
		0, NULL, h, arg, NULL);
}
