/* http.h: the evhttp server: listener, routing by path, per-route request metrics */
#ifndef DIALERD_HTTP_H
#define DIALERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp_request;
struct config_addr;
struct http_server;

/* Handles one request; must eventually send a reply (http_respond). */
typedef void (http_route_h)(struct evhttp_request *req, void *arg);

/* Binds addr on base. EADDRINUSE when the port is taken; err gets one line. */
int http_server_alloc(struct http_server **sp, struct event_base *base,
		      const struct config_addr *addr, char *err, size_t errsz);
struct http_server *http_server_free(struct http_server *s);

/* Routes a path to h: the exact path, or with prefix true every path that
 * starts with it. label names the route in metrics (a string literal).
 * The first matching route wins. */
int http_route_add(struct http_server *s, const char *path, bool prefix,
		   const char *label, http_route_h *h, void *arg);

/* Connection caps and the request deadline (0 keeps the default: 512,
 * 64, 10000 ms). Past a cap a new connection is closed at once; one whose
 * request is not complete within request_timeout_ms of its accept (or of
 * the previous reply) is closed. Counted in dialerd_http_closed_total,
 * logged once per run of closes. */
void http_server_limits(struct http_server *s, unsigned max_conns,
			unsigned max_per_source, unsigned request_timeout_ms);
/* The bound port (a listen port of 0 picks one: tests). */
uint16_t http_server_port(const struct http_server *s);

/* Stops accepting new connections; open ones finish. */
void http_server_stop_accepting(struct http_server *s);
/* Requests received and not yet answered. */
unsigned http_server_inflight(const struct http_server *s);

void http_respond(struct evhttp_request *req, int code, const char *ctype,
		  const char *body, size_t len);

#endif
