/* store_control_harness.c: what the store's tests against PostgreSQL share (test_store_control,
 * test_store_command, test_store_read): a throwaway PostgreSQL of tests/lib/pg_unit.sh, instances
 * with control connections, their loops pumped */
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

char dir[256];
char url[512];
PGconn *db;

void on_log(int level, const char *msg, void *arg)
{
	(void)arg;
	(void)level;
	if (getenv("TEST_DEBUG"))
		diag("store: %.*s", (int)strcspn(msg, "\n"), msg);
}

int pgctl(const char *cmd, char *out, size_t size)
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

int pg_start(char *tmpl, void (*before)(void))
{
	int rc;

	/* the cluster runs as the postgres user when we are root */
	if (!mkdtemp(tmpl) || chmod(tmpl, 0755) != 0)
		return 99;
	snprintf(dir, sizeof(dir), "%s/pg", tmpl);
	if (before)
		before();
	rc = pgctl("start", url, sizeof(url));
	if (rc == 77 || !url[0]) {
		tap_skip(1, "no PostgreSQL cluster (pg_unit.sh start failed)");
		rmdir(tmpl);
		return 77;
	}
	db = PQconnectdb(url);
	return 0;
}

void pg_stop(const char *tmpl)
{
	char cmd[300];

	PQfinish(db);
	db = NULL;
	pgctl("destroy", NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpl);
}

/* Runs the loops of up to two stores until *flag is set or ms pass. */
void pump2(struct store *s, struct store *t, const bool *flag, int ms)
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
			else	/* no connection (an outage): wait, do not spin */
				usleep((useconds_t)tm * 1000);
			store_process(v[i]);
		}
	}
}

void pump(struct store *s, const bool *flag, int ms)
{
	pump2(s, NULL, flag, ms);
}


void on_reg(int err, unsigned id, const char *why, void *arg)
{
	struct reg *r = arg;

	r->done = true;
	r->calls++;
	r->err = err;
	r->id = id;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

void on_up(unsigned id, void *arg)
{
	struct reg *r = arg;

	(void)id;
	r->ups++;
}

struct store *open_inst(const char *data, const char *name, unsigned id,
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

char *sql_text(const char *sql)
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

int exec_seq;

void on_exec(int err, const struct store_rows *rows, void *arg)
{
	struct ex *e = arg;
	const char *v = store_rows_value(rows, 0, 0);

	e->done = true;
	e->err = err;
	e->order = ++exec_seq;
	e->affected = store_rows_affected(rows);
	snprintf(e->v, sizeof(e->v), "%s", v ? v : "(null)");
}


void on_note(const char *channel, const char *payload, void *arg)
{
	struct notes *nt = arg;

	nt->n++;
	snprintf(nt->channel, sizeof(nt->channel), "%s", channel);
	snprintf(nt->payload, sizeof(nt->payload), "%s", payload);
}

