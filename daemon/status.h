/* status.h: GET /health and GET /metrics */
#ifndef DIALERD_STATUS_H
#define DIALERD_STATUS_H

struct http_server;
struct server;
struct db;

/* Adds the two routes and the build-info metric. */
int status_init(struct http_server *http, struct server *srv, struct db *db);

#endif
