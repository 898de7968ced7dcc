/* db.c: drives the store's PostgreSQL socket and timers from the libevent loop */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/metrics.h"
#include "store/store.h"

struct db {
	struct event_base *base;
	struct store *store;
	struct event *io;	/* the store's socket, when it has one */
	int io_fd;
	enum store_io io_want;
	struct event *timer;
	struct event *kick;	/* re-reads the store's wishes after an add */
	bool ring_held;		/* the failover ring held batches */
};

static void rearm(struct db *db);

static void on_store_log(int level, const char *msg, void *arg)
{
	(void)arg;
	log_write(level, "store", NULL, "%s", msg);
}

/* The failover ring empties 30 s after the last commit (the burst is
 * over) or when a failover moves it back to the queue: either way the
 * memory it and the calls of those 30 s used goes back. */
static void ring_check(struct db *db)
{
	struct store_stats st;

	store_stats(db->store, &st);
	if (db->ring_held && !st.resend_bytes)
		memory_release("the call log's failover ring emptied");
	db->ring_held = st.resend_bytes > 0;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	(void)what;
	store_process(db->store);
	ring_check(db);
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

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rearm(arg);
}

/* store_*_add() may start a batch or a flush timer outside store_process;
 * rearm from the loop, not from inside the caller */
static void on_store_wake(void *arg)
{
	struct db *db = arg;

	event_active(db->kick, EV_TIMEOUT, 0);
}

static void collect(void *arg)
{
	struct db *db = arg;
	struct store_stats st;
	unsigned long connects = store_connects(db->store);

	store_stats(db->store, &st);
	metrics_set("dialerd_database_up", NULL,
		    store_state(db->store) == STORE_UP ? 1 : 0);
	metrics_set("dialerd_database_connects_total", NULL, (double)connects);
	metrics_set("dialerd_store_reconnects_total", NULL,
		    connects ? (double)(connects - 1) : 0);
	metrics_set("dialerd_store_queue_rows", NULL, (double)st.queue_rows);
	metrics_set("dialerd_store_queue_bytes", NULL, (double)st.queue_bytes);
	metrics_set("dialerd_store_rows_written_total", NULL, (double)st.rows_written);
	metrics_set("dialerd_store_batches_total", NULL, (double)st.batches);
	metrics_set("dialerd_store_rows_rejected_total", NULL, (double)st.rows_rejected);
	metrics_set("dialerd_store_rows_journaled_total", NULL,
		    (double)st.rows_journaled);
	metrics_set("dialerd_store_journal_bytes", NULL, (double)st.journal_bytes);
	metrics_set("dialerd_store_rows_unmirrored_total", NULL,
		    (double)st.rows_unmirrored);
	metrics_set("dialerd_database_failovers_total", NULL, (double)st.failovers);
	metrics_set("dialerd_store_rows_resent_total", NULL, (double)st.rows_resent);
	metrics_set("dialerd_store_resend_dropped_total", NULL,
		    (double)st.resend_dropped);
	metrics_set("dialerd_store_resend_bytes", NULL, (double)st.resend_bytes);
	metrics_set("dialerd_store_rows_set_aside_total", NULL,
		    (double)st.rows_set_aside);
	metrics_set("dialerd_store_partitions_created_total", NULL,
		    (double)st.partitions_created);
	metrics_set("dialerd_store_partitions_dropped_total", NULL,
		    (double)st.partitions_dropped);
	metrics_set("dialerd_store_partition_maintenance_failures_total", NULL,
		    (double)st.maintenance_failures);
}

static const struct {
	const char *name;
	enum metrics_type type;
	const char *help;
} families[] = {
	{"dialerd_database_up", METRICS_GAUGE,
	 "1 when the call-log database connection is up"},
	{"dialerd_database_connects_total", METRICS_COUNTER,
	 "successful connections to the call-log database"},
	{"dialerd_store_reconnects_total", METRICS_COUNTER,
	 "connections to the call-log database after the first"},
	{"dialerd_store_queue_rows", METRICS_GAUGE,
	 "call-log rows queued in memory"},
	{"dialerd_store_queue_bytes", METRICS_GAUGE,
	 "bytes of call-log rows queued in memory"},
	{"dialerd_store_rows_written_total", METRICS_COUNTER,
	 "call-log rows committed to PostgreSQL"},
	{"dialerd_store_batches_total", METRICS_COUNTER,
	 "call-log batches (transactions) committed"},
	{"dialerd_store_rows_rejected_total", METRICS_COUNTER,
	 "call-log rows PostgreSQL refused (logged and dropped)"},
	{"dialerd_store_rows_journaled_total", METRICS_COUNTER,
	 "call-log rows written to the journal"},
	{"dialerd_store_journal_bytes", METRICS_GAUGE,
	 "size of the journal waiting to be replayed"},
	{"dialerd_store_rows_unmirrored_total", METRICS_COUNTER,
	 "call-log rows not copied to the mirror (full of uncommitted rows): lost if the process dies before they commit"},
	{"dialerd_database_failovers_total", METRICS_COUNTER,
	 "reconnects that reached another database server (system id or timeline changed)"},
	{"dialerd_store_rows_resent_total", METRICS_COUNTER,
	 "committed call-log rows sent again after a failover"},
	{"dialerd_store_resend_dropped_total", METRICS_COUNTER,
	 "committed call-log rows pushed out of the 64 MiB re-send ring"},
	{"dialerd_store_resend_bytes", METRICS_GAUGE,
	 "memory of the re-send ring: the batches committed in the last 30 s"},
	{"dialerd_store_rows_set_aside_total", METRICS_COUNTER,
	 "call-log rows no daily partition takes, stored in late_rows"},
	{"dialerd_store_partitions_created_total", METRICS_COUNTER,
	 "daily call-log partitions this instance created"},
	{"dialerd_store_partitions_dropped_total", METRICS_COUNTER,
	 "daily call-log partitions detached and dropped by retention"},
	{"dialerd_store_partition_maintenance_failures_total", METRICS_COUNTER,
	 "partition maintenance runs that failed (retried at the next run)"},
};

/* Shutdown waits while rows are queued or a batch is in flight and the
 * database is up; when it is not, the rows go to the journal now. */
bool db_busy(void *arg)
{
	struct db *db = arg;

	if (store_state(db->store) != STORE_UP) {
		store_flush(db->store);
		return false;
	}
	store_flush(db->store);
	rearm(db);
	return store_busy(db->store);
}

static void print_migration(const char *line, void *arg)
{
	(void)arg;
	log_msg(LOG_NOTICE, "store", "%s", line);
}

int db_migrate_startup(const struct config *cfg)
{
	char err[768];
	int e;

	if (!cfg->database_url || !*cfg->database_url)
		return 0;
	e = store_migrate(cfg->database_url,
			  cfg->auto_migrate ? STORE_MIGRATE_APPLY : STORE_MIGRATE_CHECK,
			  5, print_migration, NULL, err, sizeof(err));
	switch (e) {
	case 0:
		return 0;
	case ECONNREFUSED:
		/* not fatal: rows are journaled until it is back */
		log_msg(LOG_WARNING, "store",
			"%s; migrations not checked, the call log is journaled meanwhile",
			err);
		return 0;
	default:
		log_msg(LOG_ERR, "store", "cannot start: %s", err[0] ? err : strerror(e));
		return e;
	}
}

int db_alloc(struct db **dp, struct event_base *base, const struct config *cfg)
{
	struct store_conf conf = {
		.conninfo = cfg->database_url,
		.instance = cfg->instance,
		.data_dir = cfg->data_dir,
		.batch_rows = cfg->store_batch_rows,
		.flush_ms = cfg->store_flush_ms,
		.queue_max_bytes = cfg->store_queue_max_bytes,
		.journal_max_bytes = (unsigned long long)cfg->store_journal_max_mb << 20,
		.mirror_bytes = cfg->store_mirror_mb ? (size_t)cfg->store_mirror_mb << 20
						     : STORE_MIRROR_OFF,
		.retention_days = cfg->call_log_retention_days,
		.wake = on_store_wake,
	};
	struct db *db;
	int err;

	db = calloc(1, sizeof(*db));
	if (!db)
		return ENOMEM;
	db->base = base;
	db->io_fd = -1;
	conf.wake_arg = db;
	store_log_handler_set(on_store_log, NULL);
	db->timer = evtimer_new(base, on_io, db);
	db->kick = event_new(base, -1, 0, on_kick, db);
	if (!db->timer || !db->kick) {
		err = ENOMEM;
		goto out;
	}
	err = store_alloc(&db->store, &conf);
	if (err) {
		log_msg(LOG_ERR, "store", "cannot open the call log: %s", strerror(err));
		goto out;
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		metrics_family(families[i].name, families[i].type, families[i].help);
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
	metrics_collector_remove(collect, db);
	if (db->io)
		event_free(db->io);
	if (db->timer)
		event_free(db->timer);
	if (db->kick)
		event_free(db->kick);
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
