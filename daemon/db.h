/* db.h: drives the store's PostgreSQL socket and timers from the libevent loop */
#ifndef DIALERD_DB_H
#define DIALERD_DB_H

struct event_base;
struct config;
struct store;
struct db;

/* Creates the store (connecting in the background when a database URL is
 * configured) and watches its socket on base. ENOMEM. Main thread only. */
int db_alloc(struct db **dp, struct event_base *base, const struct config *cfg);
struct db *db_free(struct db *db);

struct store *db_store(const struct db *db);
/* "unconfigured", "connecting", "up" or "down". */
const char *db_state_name(const struct db *db);

#endif
