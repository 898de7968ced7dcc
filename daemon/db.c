/* db.c: drives the store's PostgreSQL socket and timers from the libevent loop */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "store/store.h"

struct db {
	struct event_base *base;
	struct store *store;
	struct event *io;	/* the store's socket, when it has one */
	int io_fd;
	enum store_io io_want;
	struct event *timer;
};

static void rearm(struct db *db);

static void on_store_log(int level, const char *msg, void *arg)
{
	(void)arg;
	log_write(level, "store", NULL, "%s", msg);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	(void)what;
	store_process(db->store);
	rearm(db);
}

/* The socket may change on every reconnect and the wanted readiness on
 * every step of a connect, so the event is rebuilt when either changes. */
static void rearm(struct db *db)
{
	int fd = store_fd(db->store);
	enum store_io want = store_want(db->store);
	int ms = store_timeout_ms(db->store);

	if (db->io && (fd != db->io_fd || want != db->io_want)) {
		event_free(db->io);
		db->io = NULL;
	}
	if (!db->io && fd >= 0 && want != STORE_IO_NONE) {
		short flags = EV_PERSIST;

		if (want & STORE_IO_READ)
			flags |= EV_READ;
		if (want & STORE_IO_WRITE)
			flags |= EV_WRITE;
		db->io = event_new(db->base, fd, flags, on_io, db);
		if (db->io && event_add(db->io, NULL) == 0) {
			db->io_fd = fd;
			db->io_want = want;
		} else {
			log_msg(LOG_ERR, "store", "cannot watch the database socket");
			if (db->io)
				event_free(db->io);
			db->io = NULL;
			ms = ms < 0 || ms > 100 ? 100 : ms;	/* poll instead */
		}
	}
	event_del(db->timer);
	if (ms >= 0) {
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		event_add(db->timer, &tv);
	}
}

static void collect(void *arg)
{
	struct db *db = arg;

	metrics_set("dialerd_database_up", NULL,
		    store_state(db->store) == STORE_UP ? 1 : 0);
	metrics_set("dialerd_database_connects_total", NULL,
		    (double)store_connects(db->store));
}

int db_alloc(struct db **dp, struct event_base *base, const struct config *cfg)
{
	struct store_conf conf = {.conninfo = cfg->database_url};
	struct db *db;
	int err;

	db = calloc(1, sizeof(*db));
	if (!db)
		return ENOMEM;
	db->base = base;
	db->io_fd = -1;
	store_log_handler_set(on_store_log, NULL);
	db->timer = evtimer_new(base, on_io, db);
	if (!db->timer) {
		err = ENOMEM;
		goto out;
	}
	err = store_alloc(&db->store, &conf);
	if (err)
		goto out;
	metrics_family("dialerd_database_up", METRICS_GAUGE,
		       "1 when the call-log database connection is up");
	metrics_family("dialerd_database_connects_total", METRICS_COUNTER,
		       "successful connections to the call-log database");
	metrics_collector_add(collect, db);
	rearm(db);
 out:
	if (err)
		db = db_free(db);
	else
		*dp = db;
	return err;
}

struct db *db_free(struct db *db)
{
	if (!db)
		return NULL;
	if (db->io)
		event_free(db->io);
	if (db->timer)
		event_free(db->timer);
	store_free(db->store);
	store_log_handler_set(NULL, NULL);
	free(db);
	return NULL;
}

struct store *db_store(const struct db *db)
{
	return db ? db->store : NULL;
}

const char *db_state_name(const struct db *db)
{
	return store_state_name(store_state(db ? db->store : NULL));
}
