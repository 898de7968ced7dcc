/* db.h: drives the store's PostgreSQL socket and timers from the libevent loop */
#ifndef DIALERD_DB_H
#define DIALERD_DB_H

#include <stdbool.h>

struct event_base;
struct config;
struct store;
struct db;

/* Creates the store (connecting in the background when a database URL is
 * configured) and watches its socket on base. ENOMEM. Main thread only. */
int db_alloc(struct db **dp, struct event_base *base, const struct config *cfg);
struct db *db_free(struct db *db);

struct store *db_store(const struct db *db);

/* Before the loop: checks the schema (and applies pending migrations unless
 * auto_migrate is false). 0: go on (also when the database is unreachable);
 * otherwise the daemon must not start (unknown migration, checksum, or
 * pending with auto_migrate off); the reason is logged. Blocking. */
int db_migrate_startup(const struct config *cfg);

/* server_busy_h: true while call-log rows still wait to be written. */
bool db_busy(void *arg);
/* "unconfigured", "connecting", "up" or "down". */
const char *db_state_name(const struct db *db);

#endif
