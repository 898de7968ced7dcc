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
#include "tests/unit/store_control_harness.h"

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
	rc = pg_start(tmpl, NULL);
	if (rc)
		return rc == 77 ? tap_done() : rc;
	if (ok(PQstatus(db) == CONNECTION_OK, "a checking connection"))
		test_commands();
	pg_stop(tmpl);
	return tap_done();
}
