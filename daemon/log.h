/* log.h: the daemon's one log handler: timestamped lines, secrets masked, reopen on SIGHUP */
#ifndef DIALERD_LOG_H
#define DIALERD_LOG_H

#include <syslog.h>

/* Opens the log: path NULL means standard error. Any thread may log once
 * this returned 0; the handler serialises writes. Returns errno on failure. */
int log_open(int level, const char *path);
/* Reopens the file after rotation (SIGHUP); no-op on standard error. */
int log_reopen(void);
void log_close(void);
void log_set_level(int level);
/* The level's name as log lines show it ("err", "warning", "notice",
 * "info", "debug"; the levels above err are shown as err). */
const char *log_level_name(int level);

struct event_base;
/* From now on, lines below warning logged by this thread wait until the
 * loop of base has run its current pass's callbacks, and go out in one
 * write. The thread must run base's loop; log_defer_stop() (same thread,
 * after the loop) writes what waits. Returns errno on failure. */
int log_defer_start(struct event_base *base);
void log_defer_stop(void);

/* Registers a string that must never appear in a log line (auth token,
 * database password); occurrences print as "[redacted]". Copied. */
void log_add_secret(const char *secret);

/* Registers the password of a libpq URL or key=value string, if any. */
void log_add_conninfo_secret(const char *conninfo);

/* One line: time, level, module, call SID when not NULL, message.
 * Authorization header values are masked as well. */
void log_write(int level, const char *module, const char *call_sid,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_msg(level, module, ...) log_write((level), (module), NULL, __VA_ARGS__)

#endif
