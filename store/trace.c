/* trace.c: the SIP messages of a call for dialerd trace, blocking (a command, never the daemon) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/internal.h"

int store_sip_messages_fetch(const char *conninfo, const char *sid,
			     bool bodies, unsigned connect_timeout,
			     store_sip_h *h, void *arg, char *err,
			     size_t errsz)
{
	const char *keys[] = {"dbname", "connect_timeout", NULL};
	char timeout[16];
	const char *vals[] = {conninfo, timeout, NULL};
	struct query q = {0};
	struct sip_rows sr = {0};
	PGconn *c = NULL;
	PGresult *res = NULL;
	int e;

	err[0] = '\0';
	if (!conninfo || !sid || !h)
		return EINVAL;
	snprintf(timeout, sizeof(timeout), "%u", connect_timeout);
	e = store_query_sip(&q, NULL, sid, bodies);
	if (e)
		goto out;
	/* expand_dbname: conninfo is a URL or key=value string */
	c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errsz, "cannot connect to the database: %s",
			 c ? PQerrorMessage(c) : "out of memory");
		e = ECONNREFUSED;
		goto out;
	}
	res = PQexecParams(c, q.sql, q.nparams, NULL,
			   (const char *const *)q.params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsz, "query failed: %s", PQerrorMessage(c));
		e = EIO;
		goto out;
	}
	e = store_sip_rows_parse(&sr, res);
	if (e == ENOMEM)
		goto out;
	h(e, sr.rows, sr.n, arg);
	e = 0;
 out:
	if (err[0])
		err[strcspn(err, "\n")] = '\0';
	store_sip_rows_free(&sr);
	store_query_clear(&q);
	PQclear(res);
	PQfinish(c);
	return e;
}
