/* server.h: the running daemon: event loop, listeners, signals, orderly shutdown */
#ifndef DIALERD_SERVER_H
#define DIALERD_SERVER_H

#include <stdbool.h>

struct config;
struct server;

/* Tells whether a subsystem still has in-flight work at shutdown. */
typedef bool (server_busy_h)(void *arg);

/* Runs the daemon until SIGINT/SIGTERM and returns the process exit
 * status: 0 after an orderly stop, 1 when start-up failed. */
int server_run(const struct config *cfg);

/* Registers work that shutdown waits for (up to shutdown_timeout). */
int server_busy_add(struct server *srv, server_busy_h *h, void *arg);

#endif
