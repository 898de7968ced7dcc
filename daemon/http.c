/* http.c: the evhttp server: listener, routing by path, per-route request metrics */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

#define MAX_ROUTES 16

struct route {
	char *path;
	bool prefix;
	const char *label;
	http_route_h *h;
	void *arg;
};

struct http_server {
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct route routes[MAX_ROUTES];
	size_t nroutes;
	unsigned inflight;
};

static const char *const metric_requests = "dialerd_http_requests_total";

static void on_complete(struct evhttp_request *req, void *arg)
{
	const char *label = arg;
	char labels[128];

	snprintf(labels, sizeof(labels), "path=\"%s\",code=\"%d\"", label,
		 evhttp_request_get_response_code(req));
	metrics_add(metric_requests, labels, 1);
}

struct inflight_ref {
	struct http_server *srv;
	const char *label;
};

static void on_complete_counted(struct evhttp_request *req, void *arg)
{
	struct inflight_ref *ref = arg;

	if (ref->srv->inflight)
		ref->srv->inflight--;
	on_complete(req, (void *)ref->label);
	free(ref);
}

static const struct route *match(const struct http_server *s, const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];

		if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
			      : strcmp(path, r->path) == 0)
			return r;
	}
	return NULL;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct http_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct route *r;
	struct inflight_ref *ref;

	r = path ? match(s, path) : NULL;
	ref = malloc(sizeof(*ref));
	if (ref) {
		ref->srv = s;
		/* unknown paths share one label: a scanner must not grow the metrics */
		ref->label = r ? r->label : "other";
		s->inflight++;
		evhttp_request_set_on_complete_cb(req, on_complete_counted, ref);
	}
	if (!r) {
		static const char body[] =
			"{\"code\":20404,\"message\":\"The requested resource was not found\","
			"\"more_info\":\"https://www.twilio.com/docs/errors/20404\",\"status\":404}";

		http_respond(req, 404, "application/json", body, sizeof(body) - 1);
		return;
	}
	r->h(req, r->arg);
}

int http_server_alloc(struct http_server **sp, struct event_base *base,
		      const struct config_addr *addr, char *err, size_t errsz)
{
	struct http_server *s;
	char where[96];
	int e = 0;

	config_addr_str(addr, where, sizeof(where));
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->http = evhttp_new(base);
	if (!s->http) {
		e = ENOMEM;
		goto out;
	}
	evhttp_set_gencb(s->http, dispatch, s);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_max_body_size(s->http, 1 << 20);
	evhttp_set_max_headers_size(s->http, 64 << 10);
	evhttp_set_timeout(s->http, 30);
	errno = 0;
	s->sock = evhttp_bind_socket_with_handle(s->http, addr->host, addr->port);
	if (!s->sock) {
		e = errno ? errno : EADDRNOTAVAIL;
		snprintf(err, errsz, "cannot listen for HTTP on %s: %s", where,
			 strerror(e));
		goto out;
	}
	metrics_family(metric_requests, METRICS_COUNTER,
		       "HTTP requests answered, by route and status code");
 out:
	if (e)
		s = http_server_free(s);
	else
		*sp = s;
	return e;
}

struct http_server *http_server_free(struct http_server *s)
{
	if (!s)
		return NULL;
	if (s->http)
		evhttp_free(s->http);
	for (size_t i = 0; i < s->nroutes; i++)
		free(s->routes[i].path);
	free(s);
	return NULL;
}

int http_route_add(struct http_server *s, const char *path, bool prefix,
		   const char *label, http_route_h *h, void *arg)
{
	struct route *r;

	if (!s || !path || !h || s->nroutes == MAX_ROUTES)
		return EINVAL;
	r = &s->routes[s->nroutes];
	r->path = strdup(path);
	if (!r->path)
		return ENOMEM;
	r->prefix = prefix;
	r->label = label;
	r->h = h;
	r->arg = arg;
	s->nroutes++;
	return 0;
}

void http_server_stop_accepting(struct http_server *s)
{
	if (!s || !s->sock)
		return;
	evhttp_del_accept_socket(s->http, s->sock);
	s->sock = NULL;
}

unsigned http_server_inflight(const struct http_server *s)
{
	return s ? s->inflight : 0;
}

void http_respond(struct evhttp_request *req, int code, const char *ctype,
		  const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *reason;

	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out && body && len)
		evbuffer_add(out, body, len);
	switch (code) {
	case 200: reason = "OK"; break;
	case 201: reason = "Created"; break;
	case 204: reason = "No Content"; break;
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = NULL; break;
	}
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}
