/* store_control_harness.h: the shared harness of the store's tests against PostgreSQL (test_store_control, test_store_command, test_store_read) */
#ifndef DIALERD_TESTS_STORE_CONTROL_HARNESS_H
#define DIALERD_TESTS_STORE_CONTROL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "store/store.h"

extern char dir[256];	/* the cluster's folder (pg_unit.sh) */
extern char url[512];	/* its conninfo */
extern PGconn *db;	/* a blocking connection that checks and notifies */
extern int exec_seq;	/* the order on_exec handlers ran in */

/* An instance's registration: every call of its handlers. */
struct reg {
	bool done;
	int calls;
	int err;
	unsigned id;
	char why[512];
	int ups;
};

struct ex {
	bool done;
	int err;
	char v[128];
	unsigned long long affected;
	int order;
};

struct notes {
	int n;
	char channel[64], payload[64];
};

void on_log(int level, const char *msg, void *arg);
/* tests/lib/pg_unit.sh CMD on dir; its first output line in out. */
int pgctl(const char *cmd, char *out, size_t size);
/* mkdtemp(tmpl), dir = tmpl/pg, before() (may be NULL), the cluster
 * started and db connected: 0; 77 without a cluster (a TAP skip said, tmpl
 * removed); 99 without a folder. */
int pg_start(char *tmpl, void (*before)(void));
/* db closed, the cluster destroyed, tmpl removed. */
void pg_stop(const char *tmpl);
/* Runs the loops of up to two stores until *flag is set or ms pass. */
void pump2(struct store *s, struct store *t, const bool *flag, int ms);
void pump(struct store *s, const bool *flag, int ms);
void on_reg(int err, unsigned id, const char *why, void *arg);
void on_up(unsigned id, void *arg);
/* A store on dir/data registering instance name; pumped until answered. */
struct store *open_inst(const char *data, const char *name, unsigned id,
			unsigned preferred, int pid, struct reg *r);
/* The one value of sql on db ("" and a diagnostic otherwise). */
char *sql_text(const char *sql);
void on_exec(int err, const struct store_rows *rows, void *arg);
void on_note(const char *channel, const char *payload, void *arg);

#endif
