/* test_store_command.c: cross-instance REST commands (store/command.c) against a real PostgreSQL: send + notify, LISTEN, scan, idempotent finish + ack, expiry never applied */
/*
 * The cluster is a throwaway one of tests/lib/pg_unit.sh. Each "instance"
 * is a store of its own with a control connection; a second, blocking
 * connection looks at the instances table and sends notifications.
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

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static char dir[256];
static char url[512];
static PGconn *db;

static void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	(void)level;
	if (getenv("TEST_DEBUG"))
		diag("store: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int pgctl(const char *cmd, char *out, size_t size)
{
	char line[1024];
	FILE *p;
	int st;

	snprintf(line, sizeof(line), "sh '%s/tests/lib/pg_unit.sh' %s '%s' 2>>'%s.log'",
		 TOP_SRCDIR, cmd, dir, dir);
	p = popen(line, "r");
	if (!p)
		return -1;
	if (out) {
		if (!fgets(out, (int)size, p))
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	while (fgets(line, sizeof(line), p))
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs the loops of up to two stores until *flag is set or ms pass. */
static void pump2(struct store *s, struct store *t, const bool *flag, int ms)
{
	unsigned long long end = store_now_ms() + (unsigned long long)ms;

	while (!(flag && *flag) && store_now_ms() < end) {
		struct store *v[2] = {s, t};

		for (int i = 0; i < 2; i++) {
			struct epoll_event ev;
			int tm, fd;

			if (!v[i])
				continue;
			(void)store_want(v[i]);
			tm = store_timeout_ms(v[i]);
			fd = store_fd(v[i]);
			if (tm < 0 || tm > 10)
				tm = 10;
			if (fd >= 0)
				(void)epoll_wait(fd, &ev, 1, tm);
			store_process(v[i]);
		}
	}
}

static void pump(struct store *s, const bool *flag, int ms)
{
	pump2(s, NULL, flag, ms);
}

struct reg {
	bool done;
	int calls;
	int err;
	unsigned id;
	char why[512];
	int ups;
};

static void on_reg(int err, unsigned id, const char *why, void *arg)
{
	struct reg *r = arg;

	r->done = true;
	r->calls++;
	r->err = err;
	r->id = id;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

static void on_up(unsigned id, void *arg)
{
	struct reg *r = arg;

	(void)id;
	r->ups++;
}

static struct store *open_inst(const char *data, const char *name, unsigned id,
			       unsigned preferred, int pid, struct reg *r)
{
	char path[300];
	struct store_conf conf = {
		.conninfo = url,
		.reconnect_min_ms = 50,
		.reconnect_max_ms = 200,
		.instance = name,
		.data_dir = path,
	};
	struct store_instance in = {
		.name = name, .id = id, .preferred_id = preferred,
		.sip_addr = "127.0.0.1:5060", .http_addr = "127.0.0.1:8080",
		.data_dir = path, .host = "testhost", .version = "test",
		.pid = pid, .started_at = store_now_us(),
	};
	struct store *s = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, data);
	mkdir(path, 0700);
	memset(r, 0, sizeof(*r));
	if (store_alloc(&s, &conf))
		return NULL;
	/* the hook is set first: it must survive the start */
	store_control_up_handler_set(s, on_up, r);
	if (store_control_start(s, &in, on_reg, r)) {
		store_free(s);
		return NULL;
	}
	pump(s, &r->done, 10000);
	return s;
}

static char *sql_text(const char *sql)
{
	static char buf[512];
	PGresult *res = PQexec(db, sql);

	buf[0] = '\0';
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(res, 0, 0));
	else
		diag("%s: %s", sql, PQerrorMessage(db));
	PQclear(res);
	return buf;
}

struct ex {
	bool done;
	int err;
	char v[128];
	unsigned long long affected;
	int order;
};
static int exec_seq;

static void on_exec(int err, const struct store_rows *rows, void *arg)
{
	struct ex *e = arg;
	const char *v = store_rows_value(rows, 0, 0);

	e->done = true;
	e->err = err;
	e->order = ++exec_seq;
	e->affected = store_rows_affected(rows);
	snprintf(e->v, sizeof(e->v), "%s", v ? v : "(null)");
}

struct notes {
	int n;
	char channel[64], payload[64];
};

static void on_note(const char *channel, const char *payload, void *arg)
{
	struct notes *nt = arg;

	nt->n++;
	snprintf(nt->channel, sizeof(nt->channel), "%s", channel);
	snprintf(nt->payload, sizeof(nt->payload), "%s", payload);
}

static void test_commands(void)
{
	struct reg ra, rb;
	struct store *a, *b;
	struct ex e = {0}, f = {0};
	struct notes na = {0}, nb = {0};
	char id[128];

	a = open_inst("a", "alpha", 0, 0, 1001, &ra);
	b = open_inst("b", "beta", 0, 0, 1002, &rb);
	if (!ok(a && b && ra.err == 0 && rb.err == 0, "two instances (%u, %u)",
		ra.id, rb.id))
		return;
	store_control_notify_handler_set(a, on_note, &na);
	store_control_notify_handler_set(b, on_note, &nb);
	ok(store_command_listen(a, on_exec, &e) == 0 &&
	   store_command_listen(b, on_exec, &f) == 0, "both LISTEN");
	pump2(a, b, &f.done, 5000);
	pump2(a, b, &e.done, 5000);
	ok(e.err == 0 && f.err == 0, "LISTEN ran");

	memset(&e, 0, sizeof(e));
	e.done = false;
	ok(store_command_instance(b, ra.id, on_exec, &e, NULL) == 0, "instance query");
	pump(b, &e.done, 5000);
	ok(e.err == 0 && !strcmp(e.v, "alpha"), "instance row of a: %s", e.v);

	memset(&e, 0, sizeof(e));
	ok(store_command_send(b, ra.id, "CA0001aa", "AC1", STORE_COMMAND_UPDATE,
			      "{\"Status\":\"completed\"}", on_exec, &e, NULL) == 0,
	   "b sends an update to a");
	pump(b, &e.done, 5000);
	snprintf(id, sizeof(id), "%s", e.v);
	ok(e.err == 0 && atoi(id) > 0, "row id %s", id);
	pump(a, NULL, 300);
	ok(na.n == 1 && !strncmp(na.channel, "dialerd_cmd_", 12) &&
	   !strcmp(na.payload, id), "a is notified: %s %s", na.channel, na.payload);

	memset(&e, 0, sizeof(e));
	store_command_pending(a, 0, on_exec, &e);
	pump(a, &e.done, 5000);
	ok(e.err == 0 && !strcmp(e.v, id), "a's scan returns it (%s)", e.v);

	memset(&e, 0, sizeof(e));
	store_command_finish(a, strtoull(id, NULL, 10), true, 200,
			     "{\"sid\":\"CA0001aa\"}", on_exec, &e);
	pump(a, &e.done, 5000);
	ok(e.err == 0 && e.affected == 1, "finished: %llu row", e.affected);
	memset(&e, 0, sizeof(e));
	store_command_finish(a, strtoull(id, NULL, 10), false, 500, "{}",
			     on_exec, &e);
	pump(a, &e.done, 5000);
	ok(e.err == 0 && e.affected == 0, "a second finish changes nothing");
	pump(b, NULL, 300);
	ok(nb.n == 1 && !strcmp(nb.payload, id), "b got exactly one ack (%d)", nb.n);
	memset(&e, 0, sizeof(e));
	store_command_result(b, strtoull(id, NULL, 10), on_exec, &e, NULL);
	pump(b, &e.done, 5000);
	ok(!strcmp(e.v, "done") && !strcmp(sql_text("select result_status || ' ' || "
		"result_body::text from call_commands where id = 1"),
		"200 {\"sid\": \"CA0001aa\"}"), "done, with the answer");

	/* an expired command is marked, never returned */
	memset(&e, 0, sizeof(e));
	store_command_send(b, ra.id, "CA0001bb", "AC1", STORE_COMMAND_FETCH, NULL,
			   on_exec, &e, NULL);
	pump(b, &e.done, 5000);
	PQclear(PQexec(db, "update call_commands set expires_at = now() - "
			   "interval '1 s' where call_sid = 'CA0001bb'"));
	memset(&e, 0, sizeof(e));
	store_command_pending(a, 0, on_exec, &e);
	pump(a, &e.done, 5000);
	ok(e.err == 0 && !strcmp(e.v, "(null)"), "the scan skips it");
	ok(!strcmp(sql_text("select state from call_commands where call_sid = "
			    "'CA0001bb'"), "expired"), "and marks it expired");
	memset(&e, 0, sizeof(e));
	store_command_housekeep(a, on_exec, &e);
	pump(a, &e.done, 5000);
	ok(e.err == 0 && e.affected == 0, "housekeeping keeps young rows");
	store_free(a);
	store_free(b);
}

int main(void)
{
	char tmpl[] = "/tmp/test_store_command.XXXXXX";
	int rc;

	store_log_handler_set(on_log, NULL);
	if (!mkdtemp(tmpl) || chmod(tmpl, 0755) != 0)
		return 99;
	snprintf(dir, sizeof(dir), "%s/pg", tmpl);
	rc = pgctl("start", url, sizeof(url));
	if (rc == 77 || !url[0]) {
		tap_skip(1, "no PostgreSQL cluster (pg_unit.sh start failed)");
		return tap_done();
	}
	db = PQconnectdb(url);
	if (ok(PQstatus(db) == CONNECTION_OK, "a checking connection"))
		test_commands();
	PQfinish(db);
	pgctl("destroy", NULL, 0);
	snprintf(url, sizeof(url), "rm -rf '%s'", tmpl);
	if (system(url) != 0)
		diag("cannot remove %s", tmpl);
	return tap_done();
}
