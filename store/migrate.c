/* migrate.c: apply and check the migrations built into the binary (blocking libpq; CLI and start-up only) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libpq-fe.h>

#include "store/internal.h"

/* pg_advisory_lock key: the bytes of "dialerd" as a big-endian integer */
#define MIGRATE_LOCK_KEY "28263364822397540"

size_t store_migrations_count(void)
{
	size_t n = 0;

	while (store_migrations[n].name)
		n++;
	return n;
}

unsigned store_migrations_latest(void)
{
	size_t n = store_migrations_count();

	return n ? store_migrations[n - 1].version : 0;
}

static const struct store_migration *find(unsigned version)
{
	for (size_t i = 0; store_migrations[i].name; i++)
		if (store_migrations[i].version == version)
			return &store_migrations[i];
	return NULL;
}

static void say(store_migrate_out_h *out, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(store_migrate_out_h *out, void *arg, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!out)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	out(line, arg);
}

/* Runs sql; on failure writes "what: message" into err. */
static int run(PGconn *c, const char *sql, const char *what, char *err,
	       size_t errsz)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int e = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "%s: %s", what, PQerrorMessage(c));
		err[strcspn(err, "\n")] = '\0';
		e = EIO;
	}
	PQclear(r);
	return e;
}

struct applied {
	unsigned version;
	char name[128];
	char sha[65];
	char at[64];
};

static int load_applied(PGconn *c, struct applied **ap, size_t *np, char *err,
			size_t errsz)
{
	PGresult *r;
	size_t n;

	r = PQexec(c, "select version, name, sha256, applied_at::text"
		      " from schema_migrations order by version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "reading schema_migrations: %s",
			 PQerrorMessage(c));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		return EIO;
	}
	n = (size_t)PQntuples(r);
	*ap = calloc(n ? n : 1, sizeof(**ap));
	if (!*ap) {
		PQclear(r);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		(*ap)[i].version = (unsigned)strtoul(PQgetvalue(r, (int)i, 0), NULL, 10);
		snprintf((*ap)[i].name, sizeof((*ap)[i].name), "%s", PQgetvalue(r, (int)i, 1));
		snprintf((*ap)[i].sha, sizeof((*ap)[i].sha), "%s", PQgetvalue(r, (int)i, 2));
		snprintf((*ap)[i].at, sizeof((*ap)[i].at), "%s", PQgetvalue(r, (int)i, 3));
	}
	*np = n;
	PQclear(r);
	return 0;
}

static const struct applied *find_applied(const struct applied *a, size_t n,
					  unsigned version)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].version == version)
			return &a[i];
	return NULL;
}

static int apply_one(PGconn *c, const struct store_migration *m, char *err,
		     size_t errsz)
{
	char ver[16];
	const char *params[3];
	PGresult *r;
	char what[160];
	int e;

	snprintf(what, sizeof(what), "migration %04u_%s", m->version, m->name);
	e = run(c, "begin", what, err, errsz);
	if (e)
		return e;
	/* the file may hold many statements: the simple protocol runs them */
	e = run(c, m->sql, what, err, errsz);
	if (!e) {
		snprintf(ver, sizeof(ver), "%u", m->version);
		params[0] = ver;
		params[1] = m->name;
		params[2] = m->sha256;
		r = PQexecParams(c, "insert into schema_migrations (version, name, sha256)"
				    " values ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errsz, "%s: recording it: %s", what, PQerrorMessage(c));
			err[strcspn(err, "\n")] = '\0';
			e = EIO;
		}
		PQclear(r);
	}
	if (!e)
		e = run(c, "commit", what, err, errsz);
	if (e) {
		PGresult *rb = PQexec(c, "rollback");

		PQclear(rb);
	}
	return e;
}

/* Blocking connect; *cp only on success. ENOMEM, ECONNREFUSED (err says
 * libpq's reason). */
static int connect_db(const char *conninfo, unsigned connect_timeout,
		      PGconn **cp, char *err, size_t errsz)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[4];
	char tmo[16];
	PGconn *c;

	snprintf(tmo, sizeof(tmo), "%u", connect_timeout ? connect_timeout : 10);
	vals[0] = conninfo;
	vals[1] = tmo;
	vals[2] = "dialerd-migrate";
	vals[3] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return ENOMEM;
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errsz, "cannot connect to the database: %s",
			 PQerrorMessage(c));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(c);
		return ECONNREFUSED;
	}
	*cp = c;
	return 0;
}

/* The lock, then the table of what was applied. One migrator at a time:
 * a second daemon waits for the lock, then finds everything applied. */
static int prepare(PGconn *c, char *err, size_t errsz)
{
	PGresult *r = PQexec(c, "set client_min_messages to warning");
	int e;

	PQclear(r);
	e = run(c, "select pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
		"taking the migration lock", err, errsz);
	if (!e)
		e = run(c, "create table if not exists schema_migrations ("
			   " version integer primary key,"
			   " name text not null,"
			   " sha256 text not null,"
			   " applied_at timestamptz not null default now())",
			"creating schema_migrations", err, errsz);
	return e;
}

/* Every applied migration must be one of ours, unchanged. EPROTO. */
static int check_applied(const struct applied *ap, size_t nap, char *err,
			 size_t errsz)
{
	for (size_t i = 0; i < nap; i++) {
		const struct store_migration *m = find(ap[i].version);

		if (!m) {
			snprintf(err, errsz,
				 "the database has migration %04u_%s, which this dialerd "
				 "(newest %04u) does not know: refusing to run against a newer "
				 "schema; upgrade dialerd",
				 ap[i].version, ap[i].name, store_migrations_latest());
			return EPROTO;
		}
		if (strcmp(m->sha256, ap[i].sha) != 0) {
			snprintf(err, errsz,
				 "migration %04u_%s was applied with checksum %.12s..., "
				 "but this dialerd has %.12s...: a released migration was "
				 "edited; refusing to run",
				 ap[i].version, m->name, ap[i].sha, m->sha256);
			return EPROTO;
		}
	}
	return 0;
}

/* Each migration in order: listed (STATUS), counted when pending (CHECK)
 * or applied (APPLY). *pending gets the count of those not applied
 * before. 0 or the errno of a migration that failed. */
static int walk(PGconn *c, enum store_migrate_mode mode,
		const struct applied *ap, size_t nap, store_migrate_out_h *out,
		void *arg, size_t *pending, char *err, size_t errsz)
{
	int e;

	*pending = 0;
	for (size_t i = 0; store_migrations[i].name; i++) {
		const struct store_migration *m = &store_migrations[i];
		const struct applied *a = find_applied(ap, nap, m->version);

		if (mode == STORE_MIGRATE_STATUS) {
			if (a)
				say(out, arg, "%04u_%s  applied %s  sha256 %.12s",
				    m->version, m->name, a->at, m->sha256);
			else
				say(out, arg, "%04u_%s  pending", m->version, m->name);
			continue;
		}
		if (a)
			continue;
		++*pending;
		if (mode == STORE_MIGRATE_CHECK)
			continue;
		e = apply_one(c, m, err, errsz);
		if (e)
			return e;
		say(out, arg, "applied %04u_%s", m->version, m->name);
	}
	return 0;
}

int store_migrate(const char *conninfo, enum store_migrate_mode mode,
		  unsigned connect_timeout, store_migrate_out_h *out, void *arg,
		  char *err, size_t errsz)
{
	struct applied *ap = NULL;
	size_t nap = 0, pending = 0;
	PGconn *c = NULL;
	int e;

	if (!conninfo || !*conninfo || !err || !errsz)
		return EINVAL;
	err[0] = '\0';
	e = connect_db(conninfo, connect_timeout, &c, err, errsz);
	if (!e)
		e = prepare(c, err, errsz);
	if (!e)
		e = load_applied(c, &ap, &nap, err, errsz);
	if (!e)
		e = check_applied(ap, nap, err, errsz);
	if (!e)
		e = walk(c, mode, ap, nap, out, arg, &pending, err, errsz);
	if (e)
		goto out;
	if (mode == STORE_MIGRATE_CHECK && pending) {
		snprintf(err, errsz, "%zu migration(s) pending: run \"dialerd migrate\"",
			 pending);
		e = ESTALE;
	} else if (mode == STORE_MIGRATE_APPLY && !pending) {
		say(out, arg, "schema up to date (%04u)", store_migrations_latest());
	}
 out:
	if (c && PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "select pg_advisory_unlock_all()");

		PQclear(r);
	}
	free(ap);
	if (c)
		PQfinish(c);
	return e;
}
