/* test_store_read.c: the store's reads for the REST API against a real PostgreSQL: read-your-writes, filters, paging, hiding, SIP messages, outages, cancel */
/*
 * The cluster is a throwaway one of tests/lib/pg_unit.sh (started, stopped
 * and restarted by this program). Rows go in through the store's own
 * writer, as the daemon writes them; a second, blocking connection only
 * looks at the tables or holds a lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/internal.h"
#include "tests/tap.h"
#include "tests/unit/store_control_harness.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static struct store *open_store(unsigned flush_ms, const char *name)
{
	char data[300];
	struct store_conf conf = {
		.conninfo = url,
		.reconnect_min_ms = 50,
		.reconnect_max_ms = 200,
		.flush_ms = flush_ms,
		.data_dir = data,
	};
	struct store *s = NULL;
	bool never = false;

	snprintf(data, sizeof(data), "%s/%s", dir, name);
	mkdir(data, 0700);
	if (store_alloc(&s, &conf))
		return NULL;
	for (int i = 0; i < 200 && store_state(s) != STORE_UP; i++)
		pump(s, &never, 25);
	return s;
}

static long long sql_num(const char *sql)
{
	PGresult *r = PQexec(db, sql);
	long long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		diag("%s: %s", sql, PQerrorMessage(db));
	PQclear(r);
	return v;
}

/* ---- what the handlers saw ---- */

#define MAXROWS 64
struct seen {
	bool done;
	int calls;		/* times the handler ran */
	int err;
	size_t n;
	char sids[MAXROWS][40];
	struct store_call first;	/* scalar fields of rows[0] */
	char status[32], to[64], parent[40];
	int64_t created[MAXROWS];
	/* SIP rows: "leg seq dir start|H1: v1|H2: v2" */
	char lines[MAXROWS][512];
	/* their bodies: "type length|body" ("-" when NULL) */
	char bodies[MAXROWS][512];
	/* each row's method or status code, space separated */
	char kinds[256];
};

static void on_calls(int err, const struct store_call *rows, size_t n, void *arg)
{
	struct seen *w = arg;

	w->done = true;
	w->calls++;
	w->err = err;
	w->n = n;
	for (size_t i = 0; i < n && i < MAXROWS; i++) {
		snprintf(w->sids[i], sizeof(w->sids[i]), "%s", rows[i].sid);
		w->created[i] = rows[i].created_at;
	}
	if (n) {
		w->first = rows[0];
		snprintf(w->status, sizeof(w->status), "%s", rows[0].status);
		snprintf(w->to, sizeof(w->to), "%s", rows[0].to ? rows[0].to : "(null)");
		snprintf(w->parent, sizeof(w->parent), "%s",
			 rows[0].parent_call_sid ? rows[0].parent_call_sid : "(null)");
		/* the pointers are lent for the call only */
		w->first.sid = w->first.account_sid = w->first.status = NULL;
		w->first.to = w->first.from = w->first.parent_call_sid = NULL;
		w->first.direction = w->first.caller_name = w->first.sip_call_id = NULL;
		w->first.reason_protocol = w->first.reason_text = NULL;
		w->first.codec = w->first.dial_call_status = NULL;
		w->first.forwarded_from = w->first.dial_group = NULL;
		w->first.hangup_by = NULL;
	}
}

static void on_done(int err, void *arg)
{
	struct seen *w = arg;

	w->done = true;
	w->calls++;
	w->err = err;
}

static void on_sip(int err, const struct store_sip_row *rows, size_t n, void *arg)
{
	struct seen *w = arg;

	w->done = true;
	w->calls++;
	w->err = err;
	w->n = n;
	w->kinds[0] = '\0';
	for (size_t i = 0; i < n && i < MAXROWS; i++) {
		char *l = w->lines[i];
		size_t len = strlen(w->kinds);

		if (rows[i].method)
			snprintf(w->kinds + len, sizeof(w->kinds) - len, "%s%s",
				 len ? " " : "", rows[i].method);
		else
			snprintf(w->kinds + len, sizeof(w->kinds) - len, "%s%d",
				 len ? " " : "", rows[i].status_code);

		snprintf(l, sizeof(w->lines[i]), "%s %u %s %s",
			 rows[i].call_sid + strlen(rows[i].call_sid) - 2, rows[i].seq,
			 rows[i].direction == STORE_DIR_IN ? "in" : "out",
			 rows[i].start_line);
		for (size_t k = 0; k < rows[i].nhdrs; k++) {
			const struct store_header *h = &rows[i].hdrs[k];

			len = strlen(l);
			snprintf(l + len, sizeof(w->lines[i]) - len, "|%.*s: ",
				 (int)h->name_len, h->name);
			/* a NUL in a value shows as \0 */
			for (size_t b = 0; b < h->value_len; b++) {
				len = strlen(l);
				if (len + 3 >= sizeof(w->lines[i]))
					break;
				if (h->value[b])
					l[len++] = h->value[b];
				else {
					l[len++] = '\\';
					l[len++] = '0';
				}
				l[len] = '\0';
			}
		}
		if (rows[i].body || rows[i].body_type || rows[i].body_length >= 0)
			snprintf(w->bodies[i], sizeof(w->bodies[i]), "%s %lld|%s",
				 rows[i].body_type ? rows[i].body_type : "-",
				 (long long)rows[i].body_length,
				 rows[i].body ? rows[i].body : "-");
		else
			snprintf(w->bodies[i], sizeof(w->bodies[i]), "-");
	}
}

/* ---- rows ---- */

#define T0 1764800000000000LL	/* 2025-12-03 22:13:20 UTC */

static char *sid_of(char *buf, int n)
{
	snprintf(buf, 40, "CA%032x", n);
	return buf;
}

static struct store_call call_at(const char *sid, int64_t created)
{
	struct store_call c = {
		.sid = sid,
		.account_sid = "ACtest",
		.direction = "outbound-api",
		.status = "queued",
		.created_at = created,
		.duration = -1,
		.branch = -1,
		.updated_at = created,
	};

	return c;
}

static int query(struct store *s, struct store_calls_filter *f, struct seen *w)
{
	int err;

	memset(w, 0, sizeof(*w));
	if (!f->limit)
		f->limit = 50;
	if (!f->account_sid)
		f->account_sid = "ACtest";
	err = store_calls_query(s, f, on_calls, w, NULL);
	if (err)
		return err;
	pump(s, &w->done, 8000);
	return w->done ? w->err : -1;
}

/* The SIDs a list returned, by their number: "5 3 1" */
static const char *nums(const struct seen *w)
{
	static char out[512];

	out[0] = '\0';
	for (size_t i = 0; i < w->n && i < MAXROWS; i++) {
		size_t len = strlen(out);

		snprintf(out + len, sizeof(out) - len, "%s%lu", i ? " " : "",
			 strtoul(w->sids[i] + 2, NULL, 16));
	}
	return out;
}

static void test_read_your_writes(struct store *s)
{
	char sid[40];
	struct store_calls_filter f = {.sid = sid_of(sid, 1)};
	struct store_call c = call_at(sid, T0);
	struct seen w;
	unsigned long long t;

	/* flush_ms is 10 s here: only the read makes the rows go now */
	ok(store_call_upsert(s, &c) == 0, "a call added");
	t = store_now_ms();
	is_int(query(s, &f, &w), 0, "fetched at once after the add");
	is_int((long long)w.n, 1, "the call just added is seen");
	ok(store_now_ms() - t < 3000, "well before the flush interval (%llu ms)",
	   store_now_ms() - t);
	is_str(w.status, "queued", "its status");
	is_int(w.first.created_at, T0, "created_at to the microsecond");
	is_int(w.first.duration, -1, "duration NULL: -1");
	is_int(w.first.branch, -1, "branch NULL: -1");
	is_int(w.first.ended_at, 0, "ended_at NULL: 0");
	is_str(w.parent, "(null)", "parent NULL");

	c.status = "completed";
	c.answered_at = T0 + 2000000;
	c.ended_at = T0 + 62000000;
	c.duration = 60;
	c.sip_response_code = 200;
	c.updated_at = T0 + 62000001;
	c.to = "+15550001";
	ok(store_call_upsert(s, &c) == 0, "a newer snapshot added");
	is_int(query(s, &f, &w), 0, "fetched again at once");
	is_str(w.status, "completed", "the change is seen");
	is_int(w.first.ended_at, T0 + 62000000, "ended_at");
	is_int(w.first.duration, 60, "duration");
	is_int(w.first.sip_response_code, 200, "sip_response_code");
	is_int(w.first.updated_at, T0 + 62000001, "updated_at");
	is_str(w.to, "+15550001", "to");

	f.sid = "CA00000000000000000000000000000fff";
	is_int(query(s, &f, &w), 0, "an unknown SID");
	is_int((long long)w.n, 0, "n is 0");
	f.sid = sid;
	f.account_sid = "ACother";
	is_int(query(s, &f, &w), 0, "another account's call");
	is_int((long long)w.n, 0, "is not seen");
}

/* Calls 10..19 of ACtest (and 30 of ACother), each created a second after
 * the last, with the fields the filters look at. */
static void add_filter_calls(struct store *s)
{
	char sid[20][40], parent[40];
	struct store_header h1[] = {
		{"Via", 3, "SIP/2.0/UDP 127.0.0.1", 21},
		{"X-Lead-Id", 9, "42", 2},
		{"X-Campaign", 10, "spring", 6},
	};
	struct store_header h2[] = {
		{"x-lead-id", 9, "43", 2},
	};

	sid_of(parent, 10);
	for (int i = 10; i < 20; i++) {
		struct store_call c = call_at(sid_of(sid[i - 10], i), T0 + (int64_t)i * 1000000);

		c.to = i % 2 ? "+15550002" : "+15550003";
		c.from = i < 15 ? "+14440001" : "+14440002";
		c.status = i == 19 ? "in-progress" : i % 3 ? "completed" : "busy";
		c.started_at = c.created_at + 100000;
		c.ended_at = i == 19 ? 0 : c.created_at + 30000000;
		c.sip_response_code = i % 3 ? 200 : 486;
		if (i == 12 || i == 13) {
			c.parent_call_sid = parent;
			c.direction = "outbound-dial";
		}
		if (store_call_upsert(s, &c))
			diag("upsert %d failed", i);
	}
	/* two calls created in the same microsecond: the SID breaks the tie */
	{
		char a[40], b[40];
		struct store_call c = call_at(sid_of(a, 20), T0 + 20000000);
		struct store_call d = call_at(sid_of(b, 21), T0 + 20000000);

		store_call_upsert(s, &c);
		store_call_upsert(s, &d);
	}
	{
		char o[40];
		struct store_call c = call_at(sid_of(o, 30), T0 + 30000000);

		c.account_sid = "ACother";
		c.to = "+15550002";
		store_call_upsert(s, &c);
	}
	/* X-Lead-Id 42 on call 14 (received), x-lead-id 43 on call 15 (sent) */
	{
		struct store_sip_message m = {
			.call_sid = sid[4], .seq = 1, .direction = STORE_DIR_IN,
			.at = T0 + 14000000, .start_line = "INVITE sip:a@b SIP/2.0",
			.hdrs = h1, .nhdrs = 3,
		};

		store_sip_message_add(s, &m);
		m.call_sid = sid[5];
		m.direction = STORE_DIR_OUT;
		m.hdrs = h2;
		m.nhdrs = 1;
		store_sip_message_add(s, &m);
	}
}

static void test_filters(struct store *s)
{
	struct store_calls_filter f;
	struct seen w;

	add_filter_calls(s);
	memset(&f, 0, sizeof(f));
	is_int(query(s, &f, &w), 0, "list");
	is_str(nums(&w), "21 20 19 18 17 16 15 14 13 12 11 10 1",
	       "newest first; a tie in created_at by SID, descending");
	f = (struct store_calls_filter){.to = "+15550002"};
	query(s, &f, &w);
	is_str(nums(&w), "19 17 15 13 11", "To (not the other account's)");
	f = (struct store_calls_filter){.from = "+14440002"};
	query(s, &f, &w);
	is_str(nums(&w), "19 18 17 16 15", "From");
	f = (struct store_calls_filter){.parent_call_sid = "CA0000000000000000000000000000000a"};
	query(s, &f, &w);
	is_str(nums(&w), "13 12", "ParentCallSid");
	f = (struct store_calls_filter){.status = "busy"};
	query(s, &f, &w);
	is_str(nums(&w), "18 15 12", "Status busy");
	f = (struct store_calls_filter){.status = "in-progress"};
	query(s, &f, &w);
	is_str(nums(&w), "19", "Status in-progress");
	f = (struct store_calls_filter){.started_min_us = T0 + 12100000,
					.started_max_us = T0 + 15100000};
	query(s, &f, &w);
	is_str(nums(&w), "14 13 12", "StartTime in [min, max)");
	f = (struct store_calls_filter){.started_max_us = T0 + 11100000};
	query(s, &f, &w);
	is_str(nums(&w), "10", "StartTime before");
	f = (struct store_calls_filter){.ended_min_us = T0 + 47000000};
	query(s, &f, &w);
	is_str(nums(&w), "18 17 1", "EndTime from (a call without an end is not in)");
	f = (struct store_calls_filter){.ended_min_us = T0 + 40000000,
					.ended_max_us = T0 + 42000000};
	query(s, &f, &w);
	is_str(nums(&w), "11 10", "EndTime in [min, max)");
	f = (struct store_calls_filter){.sip_response_code = 486};
	query(s, &f, &w);
	is_str(nums(&w), "18 15 12", "SipResponseCode");
	f = (struct store_calls_filter){.header_name = "x-LEAD-id", .header_value = "42"};
	query(s, &f, &w);
	is_str(nums(&w), "14", "SipHeader: a received header, name in any case");
	f = (struct store_calls_filter){.header_name = "X-Lead-Id", .header_value = "43"};
	query(s, &f, &w);
	is_str(nums(&w), "15", "SipHeader: a sent header");
	f = (struct store_calls_filter){.header_name = "X-Lead-Id", .header_value = "4"};
	query(s, &f, &w);
	is_str(nums(&w), "", "SipHeader: the value exactly");
	f = (struct store_calls_filter){.header_name = "Via",
					.header_value = "SIP/2.0/UDP 127.0.0.1"};
	query(s, &f, &w);
	is_str(nums(&w), "", "SipHeader: only policy headers are searchable");
	f = (struct store_calls_filter){.to = "+15550002", .status = "completed",
					.from = "+14440002"};
	query(s, &f, &w);
	is_str(nums(&w), "17", "filters together");

	/* refused at once */
	f = (struct store_calls_filter){.account_sid = "ACtest", .limit = 1002};
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), EINVAL,
	       "limit over 1001 (a page of 1000 and the row past it): EINVAL");
	f.limit = 0;
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), EINVAL, "limit 0: EINVAL");
	f = (struct store_calls_filter){.limit = 5};
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), EINVAL, "no account: EINVAL");
	f = (struct store_calls_filter){.account_sid = "ACtest", .limit = 5,
					.header_name = "X-A"};
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), EINVAL,
	       "a header name without a value: EINVAL");
}

static void test_paging(struct store *s)
{
	struct store_calls_filter f;
	struct seen w;
	char last[40];
	int64_t last_created;
	char all[512] = "";

	f = (struct store_calls_filter){.limit = 3, .offset = 2};
	query(s, &f, &w);
	is_str(nums(&w), "19 18 17", "offset 2, limit 3");
	/* keyset: walk the list five at a time */
	f = (struct store_calls_filter){.limit = 5};
	for (int page = 0; page < 5; page++) {
		query(s, &f, &w);
		if (!w.n)
			break;
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
			 all[0] ? " " : "", nums(&w));
		snprintf(last, sizeof(last), "%s", w.sids[w.n - 1]);
		last_created = w.created[w.n - 1];
		f.before_created_us = last_created;
		f.before_sid = last;
	}
	is_str(all, "21 20 19 18 17 16 15 14 13 12 11 10 1",
	       "keyset pages: every call once, in order");
	/* a page boundary between the two calls of one microsecond */
	f = (struct store_calls_filter){.limit = 1};
	query(s, &f, &w);
	snprintf(last, sizeof(last), "%s", w.sids[0]);
	f.before_created_us = w.created[0];
	f.before_sid = last;
	f.limit = 2;
	query(s, &f, &w);
	is_str(nums(&w), "20 19", "keyset inside a tie of created_at");
	f = (struct store_calls_filter){.limit = 2, .before_created_us = T0 + 20000000};
	query(s, &f, &w);
	is_str(nums(&w), "19 18", "keyset by time alone: strictly older");
	f = (struct store_calls_filter){.account_sid = "ACtest", .limit = 2,
					.before_sid = "CA01"};
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), EINVAL,
	       "a SID without a time: EINVAL");
}

static int hide(struct store *s, const char *account, const char *sid)
{
	struct seen w = {0};
	int err = store_call_hide(s, account, sid, on_done, &w, NULL);

	if (err)
		return err;
	pump(s, &w.done, 8000);
	return w.done ? w.err : -1;
}

static void test_hide(struct store *s)
{
	struct store_calls_filter f;
	struct seen w;
	char sid[40];

	is_int(hide(s, "ACtest", sid_of(sid, 18)), 0, "a finished (busy) call hidden");
	is_int(sql_num("select count(*) from calls where sid = 'CA00000000000000000000000000000012'"
		       " and api_deleted_at is not null"), 1, "api_deleted_at set in the table");
	is_int(hide(s, "ACtest", sid), ENOENT, "hidden twice: ENOENT");
	is_int(hide(s, "ACtest", sid_of(sid, 19)), EBUSY, "an in-progress call: EBUSY");
	is_int(hide(s, "ACother", sid_of(sid, 17)), ENOENT, "another account's call: ENOENT");
	is_int(hide(s, "ACtest", "CA000000000000000000000000000000ff"), ENOENT,
	       "an unknown call: ENOENT");
	f = (struct store_calls_filter){.limit = 3};
	query(s, &f, &w);
	is_str(nums(&w), "21 20 19", "hidden calls are not listed...");
	f.offset = 3;
	query(s, &f, &w);
	is_str(nums(&w), "17 16 15", "... nor counted by offset");
	f = (struct store_calls_filter){.sid = sid_of(sid, 18)};
	query(s, &f, &w);
	is_int((long long)w.n, 0, "nor fetched");
	f.include_hidden = true;
	query(s, &f, &w);
	is_int((long long)w.n, 1, "unless include_hidden");

	/* a later snapshot of the call leaves the mark alone */
	{
		struct store_call c = call_at(sid, T0 + 18000000);

		c.status = "busy";
		c.updated_at = T0 + 99000000;
		c.caller_name = "late";
		store_call_upsert(s, &c);
		f.include_hidden = false;
		query(s, &f, &w);
		is_int((long long)w.n, 0, "a later snapshot does not unhide it");
		is_int(sql_num("select count(*) from calls where sid = 'CA00000000000000000000000000000012'"
			       " and caller_name = 'late' and api_deleted_at is not null"), 1,
		       "the snapshot landed and the mark stayed");
	}
}

static void test_sip(struct store *s)
{
	char p[40], c1[40], c2[40];
	struct seen w;
	struct store_header inv[] = {
		{"Via", 3, "SIP/2.0/UDP 10.0.0.1", 20},
		{"X-B", 3, "2", 1},
		{"X-A", 3, "1", 1},
		{"Contact", 7, "<sip:a@10.0.0.1>", 16},
	};
	struct store_header ok200[] = {{"X-Answer", 8, "n\0l", 3}};
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"
		"s=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=x:\\tab\there\r\n";
	/* not UTF-8, a NUL, a backslash: stored escaped, bytes in body_raw */
	static const char bin[] = "\x01\x02\0\xff\\z";
	struct store_sip_message m[] = {
		{.call_sid = sid_of(p, 40), .seq = 1, .direction = STORE_DIR_IN,
		 .at = T0 + 100, .start_line = "INVITE sip:p@x SIP/2.0", .hdrs = inv, .nhdrs = 4,
		 .body = sdp, .body_len = sizeof(sdp) - 1, .body_type = "application/sdp"},
		/* a child's message in the same microsecond: the parent first */
		{.call_sid = sid_of(c2, 42), .seq = 1, .direction = STORE_DIR_OUT,
		 .at = T0 + 100, .start_line = "INVITE sip:c2@x SIP/2.0"},
		{.call_sid = sid_of(c1, 41), .seq = 1, .direction = STORE_DIR_OUT,
		 .at = T0 + 100, .start_line = "INVITE sip:c1@x SIP/2.0"},
		{.call_sid = c1, .seq = 2, .direction = STORE_DIR_IN,
		 .at = T0 + 300, .start_line = "SIP/2.0 200 OK", .hdrs = ok200, .nhdrs = 1,
		 .body = bin, .body_len = sizeof(bin) - 1, .body_total = 9000,
		 .body_type = "application/octet-stream"},
		{.call_sid = p, .seq = 2, .direction = STORE_DIR_OUT,
		 .at = T0 + 200, .start_line = "SIP/2.0 100 Trying"},
		/* not a leg of this call */
		{.call_sid = "CA000000000000000000000000000000aa", .seq = 1,
		 .at = T0 + 150, .start_line = "OPTIONS sip:x SIP/2.0"},
	};
	struct store_call pc = call_at(p, T0), k1 = call_at(c1, T0), k2 = call_at(c2, T0);
	struct store_call silent = call_at("CA000000000000000000000000000000bb", T0);

	k1.parent_call_sid = k2.parent_call_sid = p;
	k1.direction = k2.direction = "outbound-dial";
	store_call_upsert(s, &pc);
	store_call_upsert(s, &k1);
	store_call_upsert(s, &k2);
	store_call_upsert(s, &silent);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		store_sip_message_add(s, &m[i]);
	memset(&w, 0, sizeof(w));
	ok(store_sip_messages_query(s, "ACtest", p, true, on_sip, &w, NULL) == 0,
	   "SIP messages asked at once after the adds");
	pump(s, &w.done, 8000);
	is_int(w.err, 0, "answered");
	is_int((long long)w.n, 5, "the call's and its legs' messages, no other");
	is_str(w.lines[0], "28 1 in INVITE sip:p@x SIP/2.0|Via: SIP/2.0/UDP 10.0.0.1"
			   "|X-B: 2|X-A: 1|Contact: <sip:a@10.0.0.1>",
	       "the call first in a tie; headers as on the wire, in wire order");
	is_str(w.lines[1], "29 1 out INVITE sip:c1@x SIP/2.0", "then its legs by SID");
	is_str(w.lines[2], "2a 1 out INVITE sip:c2@x SIP/2.0", "second leg");
	is_str(w.lines[3], "28 2 out SIP/2.0 100 Trying", "by time");
	is_str(w.lines[4], "29 2 in SIP/2.0 200 OK|X-Answer: n\\0l",
	       "a value holding NUL comes back whole");
	is_str(w.kinds, "INVITE INVITE INVITE 100 200",
	       "each row's method or status code, as the writer parsed them");
	ok(strncmp(w.bodies[0], "application/sdp 100|", 20) == 0 &&
	   strcmp(w.bodies[0] + 20, sdp) == 0,
	   "Bodies: the SDP body byte for byte, its type and length (%s)",
	   w.bodies[0]);
	is_str(w.bodies[1], "-", "a message without a body: NULL");
	is_str(w.bodies[4], "application/octet-stream 9000|\x01\x02\\000\\377\\\\z",
	       "a body not valid as text comes escaped (NUL, >= 0x80, \\), "
	       "its wire length kept");
	is_int(sql_num("select count(*) from sip_messages where body_raw ="
		       " '\\x010200ff5c7a'::bytea and body_length = 9000"), 1,
	       "its exact bytes in body_raw");
	is_int(sql_num("select count(*) from sip_messages where body is not null"
		       " and body_raw is null and body_length = 100"), 1,
	       "a text body has no body_raw");

	memset(&w, 0, sizeof(w));
	store_sip_messages_query(s, "ACtest", p, false, on_sip, &w, NULL);
	pump(s, &w.done, 8000);
	ok(w.err == 0 && w.n == 5 && !strcmp(w.bodies[0], "-") &&
	   !strcmp(w.bodies[4], "-"), "without Bodies: no body, type or length");

	memset(&w, 0, sizeof(w));
	store_sip_messages_query(s, "ACtest", "CA000000000000000000000000000000bb",
				 false, on_sip, &w, NULL);
	pump(s, &w.done, 8000);
	ok(w.err == 0 && w.n == 0, "a call without messages: 0 rows");
	memset(&w, 0, sizeof(w));
	store_sip_messages_query(s, "ACtest", "CA000000000000000000000000000000cc",
				 false, on_sip, &w, NULL);
	pump(s, &w.done, 8000);
	is_int(w.err, ENOENT, "an unknown call: ENOENT");
	memset(&w, 0, sizeof(w));
	store_sip_messages_query(s, "ACother", p, false, on_sip, &w, NULL);
	pump(s, &w.done, 8000);
	is_int(w.err, ENOENT, "another account's call: ENOENT");
}

/* ---- cancel, chains, timeouts, outages ---- */

struct chain {
	struct store *s;
	struct seen first, second;
};

static void on_first(int err, const struct store_call *rows, size_t n, void *arg)
{
	struct chain *c = arg;
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 1};

	on_calls(err, rows, n, &c->first);
	/* a query started by the handler of another */
	if (store_calls_query(c->s, &f, on_calls, &c->second, NULL))
		c->second.done = true;
}

static void test_cancel_and_chain(struct store *s)
{
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 5};
	struct seen a = {0}, b = {0}, c = {0};
	struct store_read *ra = NULL, *rb = NULL;
	struct chain ch = {.s = s};

	ok(store_calls_query(s, &f, on_calls, &a, &ra) == 0 && ra, "a query started");
	store_read_cancel(ra);
	ok(store_calls_query(s, &f, on_calls, &c, NULL) == 0, "another behind it");
	pump(s, &c.done, 8000);
	ok(c.done && c.err == 0, "the next query is answered");
	pump(s, NULL, 200);
	is_int(a.calls, 0, "a query cancelled before it was sent: no handler");

	/* cancelled while on the wire: a lock holds it there */
	PQclear(PQexec(db, "begin; lock table calls in access exclusive mode"));
	ok(store_calls_query(s, &f, on_calls, &b, &rb) == 0, "a query started");
	for (int i = 0; i < 400 && s->r.phase != R_BUSY && !b.done; i++)
		pump(s, NULL, 5);
	pump(s, NULL, 100);
	ok(s->r.phase == R_BUSY && !b.done, "it is on the wire");
	store_read_cancel(rb);
	PQclear(PQexec(db, "rollback"));
	memset(&c, 0, sizeof(c));
	store_calls_query(s, &f, on_calls, &c, NULL);
	pump(s, &c.done, 8000);
	ok(c.done && c.err == 0 && c.n == 5, "the connection stays in step");
	is_int(b.calls, 0, "a query cancelled on the wire: no handler");
	store_read_cancel(NULL);

	ok(store_calls_query(s, &f, on_first, &ch, NULL) == 0, "a query whose handler asks again");
	pump(s, &ch.second.done, 8000);
	ok(ch.first.done && ch.first.err == 0 && ch.second.done &&
	   ch.second.err == 0 && ch.second.n == 1, "the second query is answered too");
}

static void test_timeout(struct store *s)
{
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 5};
	struct seen w = {0};
	PGresult *r = PQexec(db, "begin; lock table calls in access exclusive mode");
	unsigned long long t;

	ok(PQresultStatus(r) == PGRES_COMMAND_OK, "calls locked by another session");
	PQclear(r);
	t = store_now_ms();
	store_calls_query(s, &f, on_calls, &w, NULL);
	pump(s, &w.done, 12000);
	is_int(w.err, ETIMEDOUT, "a query over 5 s: ETIMEDOUT");
	ok(store_now_ms() - t >= 4900 && store_now_ms() - t < 9000,
	   "after the statement timeout (%llu ms)", store_now_ms() - t);
	PQclear(PQexec(db, "rollback"));
	memset(&w, 0, sizeof(w));
	store_calls_query(s, &f, on_calls, &w, NULL);
	pump(s, &w.done, 8000);
	ok(w.done && w.err == 0 && w.n == 5, "the next query works");
}

static void test_outage(struct store *s)
{
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 50};
	struct seen w;
	char sid[40];
	struct store_call c = call_at(sid_of(sid, 50), T0 + 50000000);
	struct { struct store_stats st; } x;

	/* a read held on the wire by a lock when the server goes away */
	struct seen held = {0};

	PQclear(PQexec(db, "begin; lock table calls in access exclusive mode"));
	store_calls_query(s, &f, on_calls, &held, NULL);
	for (int i = 0; i < 400 && s->r.phase != R_BUSY && !held.done; i++)
		pump(s, NULL, 5);
	ok(s->r.phase == R_BUSY && !held.done, "a read on the wire");
	/* stopped while the lock is held: the read cannot finish first */
	is_int(pgctl("stop", NULL, 0), 0, "PostgreSQL stopped");
	PQfinish(db);
	db = NULL;
	pump(s, &held.done, 3000);
	is_int(held.err, ENOTCONN, "the read on the wire fails with ENOTCONN");
	for (int i = 0; i < 100 && store_state(s) == STORE_UP; i++) {
		/* the writer notices on its next batch */
		store_event_add(s, &(struct store_event){.call_sid = sid, .event = "ping",
							 .sequence_number = (uint32_t)i});
		store_flush(s);
		pump(s, NULL, 50);
	}
	ok(store_state(s) != STORE_UP, "the store knows (%s)", store_state_name(store_state(s)));
	memset(&w, 0, sizeof(w));
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), ENOTCONN,
	       "a query fails at once with ENOTCONN");
	ok(store_call_upsert(s, &c) == 0, "a call added during the outage");
	store_flush(s);
	store_stats(s, &x.st);
	ok(x.st.journal_bytes > 0, "its rows went to the journal");

	is_int(pgctl("again", NULL, 0), 0, "PostgreSQL started again");
	db = PQconnectdb(url);
	for (int i = 0; i < 400 && store_state(s) != STORE_UP; i++)
		pump(s, NULL, 25);
	ok(store_state(s) == STORE_UP, "the store is back");
	for (int i = 0; i < 400; i++) {
		store_stats(s, &x.st);
		if (!x.st.journal_bytes)
			break;
		pump(s, NULL, 25);
	}
	is_int((long long)x.st.journal_bytes, 0, "the journal replayed");
	f.sid = sid;
	is_int(query(s, &f, &w), 0, "queries work again");
	is_int((long long)w.n, 1, "the call added during the outage is seen");
}

static void test_free_in_flight(void)
{
	struct store *s = open_store(100, "data2");
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 5};
	struct seen a = {0}, b = {0};

	if (!ok(s && store_state(s) == STORE_UP, "a second store"))
		return;
	store_calls_query(s, &f, on_calls, &a, NULL);
	store_call_upsert(s, &(struct store_call){.sid = "CA000000000000000000000000000000dd",
		.account_sid = "ACtest", .direction = "inbound", .status = "queued",
		.created_at = T0});
	store_calls_query(s, &f, on_calls, &b, NULL);
	pump(s, NULL, 3);
	s = store_free(s);
	ok(a.calls == 0 && b.calls == 0, "store_free with queries in flight: no handler");
}

static void test_unconfigured(void)
{
	struct store_conf conf = {0};
	struct store *s = NULL;
	struct store_calls_filter f = {.account_sid = "ACtest", .limit = 5};
	struct seen w = {0};

	ok(store_alloc(&s, &conf) == 0, "a store without a database");
	is_int(store_calls_query(s, &f, on_calls, &w, NULL), ENOTCONN,
	       "no database configured: ENOTCONN at once");
	is_int(store_call_hide(s, "ACtest", "CA01", on_done, &w, NULL), ENOTCONN,
	       "hide too");
	store_free(s);
}

int main(void)
{
	char tmpl[] = "/tmp/test_store_read.XXXXXX";
	struct store *s;
	int rc;

	store_log_handler_set(on_log, NULL);
	test_unconfigured();
	rc = pg_start(tmpl, NULL);
	if (rc)
		return rc == 77 ? tap_done() : rc;
	/* the call log is partitioned by day (migrations/0006) and T0 is a
	 * fixed day in the past: its partitions, else rows go to late_rows */
	sql_num("select count(*) from call_log_create_partitions('2025-12-03', 1)");
	s = open_store(10000, "data");
	if (ok(s && store_state(s) == STORE_UP && PQstatus(db) == CONNECTION_OK,
	       "store and a checking connection up")) {
		test_read_your_writes(s);
		test_filters(s);
		test_paging(s);
		test_hide(s);
		test_sip(s);
		test_cancel_and_chain(s);
		test_timeout(s);
		test_outage(s);
		test_free_in_flight();
	}
	store_free(s);
	pg_stop(tmpl);
	return tap_done();
}
