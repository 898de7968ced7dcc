/* status.h: GET /health and GET /metrics */
#ifndef DIALERD_STATUS_H
#define DIALERD_STATUS_H

struct http_server;
struct timespec;
struct db;

/* Adds the two routes and the build-info metric. started is when the
 * daemon started, on CLOCK_MONOTONIC (copied); db is borrowed for as
 * long as the routes live. Main thread. */
int status_init(struct http_server *http, const struct timespec *started,
		struct db *db);

#endif
