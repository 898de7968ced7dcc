/* store.h: public interface of the call-log store (libpq only, no event loop)
 *
 * The store never blocks its caller. It owns one PostgreSQL connection and
 * tells the caller which socket to watch and when to call back; the daemon's
 * event loop does the watching (design.md §2). Main thread only.
 */
#ifndef DIALERD_STORE_H
#define DIALERD_STORE_H

#include <stdbool.h>
#include <stddef.h>

enum store_state {
	STORE_UNCONFIGURED,	/* no database URL */
	STORE_CONNECTING,
	STORE_UP,
	STORE_DOWN,		/* waiting to reconnect */
};

/* What the store wants from the event loop for its socket. */
enum store_io {
	STORE_IO_NONE = 0,
	STORE_IO_READ = 1,
	STORE_IO_WRITE = 2,
};

struct store_conf {
	const char *conninfo;		/* libpq URL or key=value string */
	unsigned reconnect_min_ms;	/* first retry delay, doubles */
	unsigned reconnect_max_ms;	/* retry delay cap */
};

typedef void (store_log_h)(int level, const char *msg, void *arg);

struct store;

/* Route the store's log lines (syslog levels) to the daemon's handler. */
void store_log_handler_set(store_log_h *h, void *arg);

/* Allocates a store and starts connecting; conf is copied. ENOMEM, EINVAL. */
int store_alloc(struct store **sp, const struct store_conf *conf);
/* Closes the connection and frees everything; NULL-safe, returns NULL. */
struct store *store_free(struct store *s);

/* The socket to watch (-1 when none) and the readiness wanted on it. */
int store_fd(const struct store *s);
enum store_io store_want(const struct store *s);
/* Milliseconds until store_process() must run even without I/O; -1: never. */
int store_timeout_ms(const struct store *s);
/* Does pending work: connect steps, reads, writes, retries. Call it when
 * the socket is ready or the timeout expired. The fd may change after it. */
void store_process(struct store *s);

enum store_state store_state(const struct store *s);
const char *store_state_name(enum store_state st);
/* Number of successful (re)connections since store_alloc. */
unsigned long store_connects(const struct store *s);

/* Version of libpq in use, e.g. 150020. */
int store_libpq_version(void);

#endif
