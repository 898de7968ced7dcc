/* test_store_control.c: the store's control connection against a real PostgreSQL: registration, ids, split brain, state, statements in order, notifications, reconnect; the data_dir id file */
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
#include "tests/unit/store_control_harness.h"

static void test_unconfigured(void)
{
	struct store_conf conf = {0};
	struct store_instance in = {.name = "x"};
	struct store *s = NULL;

	ok(store_alloc(&s, &conf) == 0, "a store without a database");
	ok(store_control_start(s, &in, NULL, NULL) == ENOTSUP,
	   "no control connection without a database (ENOTSUP)");
	ok(store_control_exec(s, "select 1", 0, NULL, NULL, NULL, NULL) == ENOTCONN,
	   "statements fail at once (ENOTCONN)");
	store_free(s);
}

static void test_idfile(void)
{
	struct store_idfile *f = NULL, *g = NULL;
	unsigned id = 99;
	char d[300];

	snprintf(d, sizeof(d), "%s.idf", dir);
	mkdir(d, 0700);
	ok(store_idfile_open(&f, d, &id) == 0 && id == 0, "a new id file: no id");
	ok(store_idfile_write(f, 4660) == 0, "id written");
	ok(store_idfile_open(&g, d, &id) == EBUSY, "a second open is refused (EBUSY)");
	f = store_idfile_close(f);
	ok(store_idfile_open(&g, d, &id) == 0 && id == 4660,
	   "reopened after the close: the id is cached (%u)", id);
	g = store_idfile_close(g);
}

static void test_registry(void)
{
	struct reg ra, rb, rc, rd;
	struct store *a, *b, *c, *d;
	struct ex e1 = {0}, e2 = {0}, e3 = {0};
	struct notes nt = {0};
	char q[256];
	PGresult *res;

	a = open_inst("a", "alpha", 0, 0, 1001, &ra);
	ok(a && ra.err == 0 && ra.id == 1 && ra.ups == 1,
	   "first name gets id 1 (err %d, id %u): %s", ra.err, ra.id, ra.why);
	ok(!strcmp(sql_text("select name || ',' || host || ',' || pid || ',' || "
			    "state || ',' || sip_addr || ',' || http_addr || ',' "
			    "|| version from instances where id = 1"),
		   "alpha,testhost,1001,active,127.0.0.1:5060,127.0.0.1:8080,test"),
	   "its row: %s", sql_text("select row(i.*)::text from instances i where id = 1"));
	b = open_inst("b", "beta", 0, 0, 1002, &rb);
	ok(b && rb.err == 0 && rb.id == 2, "second name gets id 2 (%u)", rb.id);
	c = open_inst("c", "alpha", 0, 0, 1003, &rc);
	ok(c && rc.err == EEXIST && strstr(rc.why, "already running"),
	   "same name, other pid and data_dir, fresh heartbeat: refused: %s", rc.why);
	store_free(c);
	c = open_inst("c", "gamma", 7, 0, 1004, &rc);
	ok(c && rc.err == 0 && rc.id == 7, "instance_id 7 taken as configured");
	store_free(c);
	c = open_inst("c", "delta", 7, 0, 1005, &rc);
	ok(c && rc.err == EADDRINUSE, "instance_id of another name: refused: %s", rc.why);
	store_free(c);
	c = open_inst("c", "gamma", 8, 0, 1006, &rc);
	ok(c && rc.err == EADDRINUSE, "a name registered with another id: refused: %s",
	   rc.why);
	store_free(c);
	c = open_inst("c", "eps", 0, 9, 1007, &rc);
	ok(c && rc.err == 0 && rc.id == 9, "a preferred (cached) free id is kept (%u)",
	   rc.id);
	store_free(c);
	c = open_inst("c", "zeta", 0, 2, 1008, &rc);
	ok(c && rc.err == 0 && rc.id == 3, "a preferred id in use: the lowest free (%u)",
	   rc.id);
	store_free(c);
	/* the same data_dir and host: the other process is dead (the lock) */
	b = store_free(b);
	c = open_inst("b", "beta", 0, 0, 2002, &rc);
	ok(c && rc.err == 0 && rc.id == 2,
	   "same name and data_dir from another pid: the id is kept (%u)", rc.id);
	store_free(c);

	/* statements in order, rows, affected counts */
	ok(store_control_exec(a, "select $1::int + 1", 1, (const char *[]){"41"},
			      on_exec, &e1, NULL) == 0 &&
	   store_control_exec(a, "update instances set version = 'x' where id = 0",
			      0, NULL, on_exec, &e2, NULL) == 0 &&
	   store_control_exec(a, "select nosuchcolumn", 0, NULL, on_exec, &e3,
			      NULL) == 0, "three statements queued");
	pump(a, &e3.done, 5000);
	ok(e1.done && e1.err == 0 && !strcmp(e1.v, "42") && e1.order == 1,
	   "the first answers 42 first");
	ok(e2.done && e2.err == 0 && e2.affected == 0 && e2.order == 2,
	   "the second: 0 rows affected");
	ok(e3.done && e3.err == EIO && e3.order == 3, "the third fails: EIO");

	/* notifications */
	store_control_notify_handler_set(a, on_note, &nt);
	memset(&e1, 0, sizeof(e1));
	store_control_exec(a, "listen dialerd_test", 0, NULL, on_exec, &e1, NULL);
	pump(a, &e1.done, 5000);
	PQclear(PQexec(db, "notify dialerd_test, 'hello'"));
	{
		bool never = false;

		for (int i = 0; i < 100 && !nt.n; i++)
			pump(a, &never, 20);
	}
	ok(nt.n == 1 && !strcmp(nt.channel, "dialerd_test") &&
	   !strcmp(nt.payload, "hello"), "a notification is delivered");

	/* the state */
	ok(store_control_state(a, "draining") == 0, "state draining queued");
	{
		bool never = false;

		for (int i = 0; i < 100 && !store_control_busy(a); i++)
			;
		for (int i = 0; i < 200 && store_control_busy(a); i++)
			pump(a, &never, 10);
	}
	ok(!strcmp(sql_text("select state from instances where id = 1"), "draining"),
	   "the row says draining");

	/* the server restarts: statements fail, registration again */
	ok(pgctl("stop", NULL, 0) == 0, "PostgreSQL stopped");
	memset(&e1, 0, sizeof(e1));
	store_control_exec(a, "select 1", 0, NULL, on_exec, &e1, NULL);
	pump(a, &e1.done, 10000);
	ok(e1.done && e1.err == ENOTCONN, "a statement fails: ENOTCONN (%d)", e1.err);
	ok(store_control_exec(a, "select 1", 0, NULL, on_exec, &e1, NULL) == ENOTCONN,
	   "while down, statements fail at once");
	ok(pgctl("again", NULL, 0) == 0, "PostgreSQL started again");
	PQreset(db);
	ra.done = false;
	pump(a, &ra.done, 15000);
	ok(ra.done && ra.err == 0 && ra.id == 1 && ra.ups == 2,
	   "registered again with id 1, up handler again (%d)", ra.ups);
	ok(!strcmp(sql_text("select state from instances where id = 1"), "draining"),
	   "the state survived the reconnect");
	snprintf(q, sizeof(q), "select count(*) from instances");
	res = PQexec(db, q);
	diag("instances: %s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	store_free(a);

	/* two new names at once: the advisory lock gives distinct ids */
	{
		struct store_conf conf = {.conninfo = url, .reconnect_min_ms = 50,
					  .reconnect_max_ms = 200};
		struct store_instance in = {.host = "testhost", .pid = 3001,
					    .started_at = store_now_us()};
		bool never = false;

		memset(&rc, 0, sizeof(rc));
		memset(&rd, 0, sizeof(rd));
		c = d = NULL;
		store_alloc(&c, &conf);
		store_alloc(&d, &conf);
		in.name = "race1";
		store_control_start(c, &in, on_reg, &rc);
		in.name = "race2";
		in.pid = 3002;
		store_control_start(d, &in, on_reg, &rd);
		for (int i = 0; i < 500 && !(rc.done && rd.done); i++)
			pump2(c, d, &never, 20);
		ok(rc.err == 0 && rd.err == 0 && rc.id && rd.id && rc.id != rd.id,
		   "two names registering at once get distinct ids (%u, %u)",
		   rc.id, rd.id);
		store_free(c);
		store_free(d);
	}
}

int main(void)
{
	char tmpl[] = "/tmp/test_store_control.XXXXXX";
	int rc;

	store_log_handler_set(on_log, NULL);
	test_unconfigured();
	rc = pg_start(tmpl, test_idfile);
	if (rc)
		return rc == 77 ? tap_done() : rc;
	if (ok(PQstatus(db) == CONNECTION_OK, "a checking connection"))
		test_registry();
	pg_stop(tmpl);
	return tap_done();
}
