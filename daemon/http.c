/* http.c: the evhttp server: listener, routing by path, per-route request metrics, connection caps and request deadline */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

#define MAX_ROUTES 16

/*
 * Connection caps and the request deadline. libevent 2.1's evhttp has
 * neither: its timeout restarts on every byte (one byte every 29 s holds a
 * connection for ever) and it accepts without limit. It tells us of a new
 * connection only through the bufferevent callback, before the socket is
 * set: we make that bufferevent (as evhttp would), hold a reference, and
 * look at its socket once evhttp has set it (a zero-delay event). Each
 * admitted socket gets a record: its inode says whether it still lives
 * (evhttp closes it when it frees the connection; a reused number is
 * another socket). A connection over a cap, or whose request is not
 * complete (headers and body) within the deadline, is shut down: evhttp
 * then reads end-of-file and frees it on its own path. The deadline runs
 * from the accept, and again from each reply on a kept-alive connection;
 * it is off while a request is being handled.
 */
struct hconn {
	struct hconn *next;
	struct http_server *srv;
	int fd;
	ino_t ino;
	char peer[INET6_ADDRSTRLEN];
	struct event *deadline;
};

enum http_close { CLOSE_LIMIT, CLOSE_SOURCE, CLOSE_TIMEOUT, CLOSE_N };
static const char *const close_label[CLOSE_N] = {
	"reason=\"limit\"", "reason=\"source_limit\"",
	"reason=\"request_timeout\"",
};

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
	struct event_base *base;
	struct hconn *conns;		/* live (and some dead) connections */
	unsigned max_conns, max_per_src, timeout_ms;
	bool episode[CLOSE_N];		/* logged: a run of closes */
	unsigned long episode_n[CLOSE_N];
};

static const char *const metric_closed = "dialerd_http_closed_total";
static const char *const metric_conns = "dialerd_http_connections";

static const char *const metric_requests = "dialerd_http_requests_total";

struct inflight_ref {
	struct http_server *srv;
	const char *label;
	struct evhttp_request *req;
	struct inflight_ref *next, *prev;
};

/* Requests handed to a route and not yet answered (main thread only):
 * http_respond finds a request's entry when libevent will not report its
 * completion, because the client went away (reset) before the answer. */
static struct inflight_ref *inflight_list;

static void ref_unlink(struct inflight_ref *ref)
{
	if (ref->prev)
		ref->prev->next = ref->next;
	else
		inflight_list = ref->next;
	if (ref->next)
		ref->next->prev = ref->prev;
}

static void ref_done(struct inflight_ref *ref, int code)
{
	char labels[128];

	ref_unlink(ref);
	if (ref->srv->inflight)
		ref->srv->inflight--;
	snprintf(labels, sizeof(labels), "path=\"%s\",code=\"%d\"", ref->label,
		 code);
	metrics_add(metric_requests, labels, 1);
	free(ref);
}

static bool hconn_alive(const struct hconn *c)
{
	struct stat st;

	return fstat(c->fd, &st) == 0 && st.st_ino == c->ino;
}

static void hconn_free(struct hconn *c)
{
	if (c->deadline)
		event_free(c->deadline);
	free(c);
}

/* Drops the records of closed connections; counts the live ones, and
 * those from peer. */
static unsigned hconn_prune(struct http_server *s, const char *peer,
			    unsigned *from_peer)
{
	struct hconn **pp = &s->conns;
	unsigned n = 0;

	*from_peer = 0;
	while (*pp) {
		struct hconn *c = *pp;

		if (!hconn_alive(c)) {
			*pp = c->next;
			hconn_free(c);
			continue;
		}
		n++;
		if (peer && !strcmp(c->peer, peer))
			(*from_peer)++;
		pp = &c->next;
	}
	return n;
}

/* The live record of a request's connection, or NULL. */
static struct hconn *hconn_of(struct http_server *s,
			      struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ?
		evhttp_connection_get_bufferevent(evcon) : NULL;
	int fd = bev ? (int)bufferevent_getfd(bev) : -1;

	for (struct hconn *c = s->conns; c && fd >= 0; c = c->next)
		if (c->fd == fd && hconn_alive(c))
			return c;
	return NULL;
}

/* Closes by shutdown(2): evhttp reads end-of-file and frees the
 * connection itself. Logged once per run of closes of that reason. */
static void hclose(struct http_server *s, int fd, const char *peer,
		   enum http_close why)
{
	static const char *const what[CLOSE_N] = {
		"too many HTTP connections", "too many HTTP connections from "
		"that address", "no complete HTTP request in time",
	};

	(void)shutdown(fd, SHUT_RDWR);
	metrics_add(metric_closed, close_label[why], 1);
	if (!s->episode[why]) {
		s->episode[why] = true;
		s->episode_n[why] = 0;
		log_msg(LOG_WARNING, "http", "connection from %s closed: %s "
			"(further ones are counted in %s)", peer, what[why],
			metric_closed);
	}
	s->episode_n[why]++;
}

static void episode_end(struct http_server *s, enum http_close why)
{
	if (!s->episode[why])
		return;
	s->episode[why] = false;
	log_msg(LOG_NOTICE, "http", "%lu connections closed (%s); none now",
		s->episode_n[why], close_label[why]);
}

static void deadline_h(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;

	(void)fd;
	(void)what;
	if (hconn_alive(c))
		hclose(c->srv, c->fd, c->peer, CLOSE_TIMEOUT);
}

static void deadline_arm(struct http_server *s, struct hconn *c)
{
	struct timeval tv = { (time_t)(s->timeout_ms / 1000),
			      (suseconds_t)(s->timeout_ms % 1000) * 1000 };

	if (c->deadline)
		evtimer_add(c->deadline, &tv);
}

struct pending {
	struct http_server *srv;
	struct bufferevent *bev;	/* a reference of ours */
};

/* The socket evhttp set on a new connection's bufferevent: admit it
 * (a record, the deadline) or close it. */
static void new_conn_h(evutil_socket_t unused, short what, void *arg)
{
	struct pending *p = arg;
	struct http_server *s = p->srv;
	int fd = (int)bufferevent_getfd(p->bev);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[INET6_ADDRSTRLEN] = "?";
	struct hconn *c = NULL;
	struct stat st;
	unsigned n, from;

	(void)unused;
	(void)what;
	if (fd < 0 || fstat(fd, &st) ||
	    getpeername(fd, (struct sockaddr *)&ss, &sl))
		goto out;	/* gone already */
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  peer, sizeof(peer));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  peer, sizeof(peer));
	n = hconn_prune(s, peer, &from);
	if (n >= s->max_conns) {
		hclose(s, fd, peer, CLOSE_LIMIT);
		goto out;
	}
	if (from >= s->max_per_src) {
		hclose(s, fd, peer, CLOSE_SOURCE);
		goto out;
	}
	episode_end(s, CLOSE_LIMIT);
	episode_end(s, CLOSE_SOURCE);
	c = calloc(1, sizeof(*c));
	if (c)
		c->deadline = evtimer_new(s->base, deadline_h, c);
	if (!c || !c->deadline) {
		if (c)
			hconn_free(c);
		goto out;	/* not tracked: evhttp's own timeout */
	}
	c->srv = s;
	c->fd = fd;
	c->ino = st.st_ino;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->next = s->conns;
	s->conns = c;
	deadline_arm(s, c);
	metrics_set(metric_conns, NULL, n + 1);
 out:
	bufferevent_decref(p->bev);
	free(p);
}

/* evhttp asks for the bufferevent of each accepted connection (the
 * socket is set on it afterwards): the same one it would make. */
static struct bufferevent *bev_h(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1,
							 BEV_OPT_CLOSE_ON_FREE);
	struct pending *p;

	if (!bev)
		return NULL;
	p = malloc(sizeof(*p));
	if (!p)
		return bev;	/* not tracked */
	p->srv = arg;
	p->bev = bev;
	bufferevent_incref(bev);
	if (event_base_once(base, -1, EV_TIMEOUT, new_conn_h, p, NULL)) {
		bufferevent_decref(bev);
		free(p);
	}
	return bev;
}

static void on_complete_counted(struct evhttp_request *req, void *arg)
{
	struct inflight_ref *ref = arg;
	struct hconn *c = hconn_of(ref->srv, req);

	if (c)
		deadline_arm(ref->srv, c);	/* the next request's */
	ref_done(ref, evhttp_request_get_response_code(req));
}

/* A connection is being freed: a request on it that libevent will not
 * complete (its answer failed to go out: the client reset the
 * connection) is no longer in flight; counted with code "0", the client
 * never saw an answer. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	(void)arg;
	for (struct inflight_ref *ref = inflight_list, *next; ref; ref = next) {
		next = ref->next;
		if (evhttp_request_get_connection(ref->req) == evcon)
			ref_done(ref, 0);
	}
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

	{
		struct hconn *c = hconn_of(s, req);

		if (c) {
			evtimer_del(c->deadline);	/* complete in time */
			episode_end(s, CLOSE_TIMEOUT);
		}
	}
	r = path ? match(s, path) : NULL;
	ref = malloc(sizeof(*ref));
	if (ref) {
		ref->srv = s;
		/* unknown paths share one label: a scanner must not grow the metrics */
		ref->label = r ? r->label : "other";
		ref->req = req;
		ref->prev = NULL;
		ref->next = inflight_list;
		if (inflight_list)
			inflight_list->prev = ref;
		inflight_list = ref;
		s->inflight++;
		if (evhttp_request_get_connection(req))
			evhttp_connection_set_closecb(
				evhttp_request_get_connection(req),
				on_conn_close, NULL);
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
	s->base = base;
	s->max_conns = 512;
	s->max_per_src = 64;
	s->timeout_ms = 10000;
	evhttp_set_gencb(s->http, dispatch, s);
	evhttp_set_bevcb(s->http, bev_h, s);
	/* every method a client may try reaches the routes, which answer
	 * 405 in their own format (the REST API's error JSON); evhttp's own
	 * answer to the others would be a bare 501 page */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
				   EVHTTP_REQ_OPTIONS);
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
	metrics_family(metric_closed, METRICS_COUNTER,
		       "HTTP connections closed by us, by reason: limit "
		       "(http_max_conns), source_limit (per address), "
		       "request_timeout (http_request_timeout_ms)");
	metrics_family(metric_conns, METRICS_GAUGE,
		       "open HTTP connections (at the latest accept)");
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
	/* requests evhttp_free dropped unanswered */
	for (struct inflight_ref *ref = inflight_list, *next; ref; ref = next) {
		next = ref->next;
		if (ref->srv == s) {
			ref_unlink(ref);
			free(ref);
		}
	}
	while (s->conns) {
		struct hconn *c = s->conns;

		s->conns = c->next;
		hconn_free(c);
	}
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

void http_server_limits(struct http_server *s, unsigned max_conns,
			unsigned max_per_source, unsigned request_timeout_ms)
{
	if (!s)
		return;
	if (max_conns)
		s->max_conns = max_conns;
	if (max_per_source)
		s->max_per_src = max_per_source;
	if (request_timeout_ms)
		s->timeout_ms = request_timeout_ms;
}

uint16_t http_server_port(const struct http_server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd;

	if (!s || !s->sock)
		return 0;
	fd = evhttp_bound_socket_get_fd(s->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
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
	if (!evhttp_request_get_connection(req)) {
		/* the client reset the connection while we worked: libevent
		 * frees the request without completing it */
		for (struct inflight_ref *ref = inflight_list; ref; ref = ref->next)
			if (ref->req == req) {
				ref_done(ref, code);
				break;
			}
	}
	evhttp_send_reply(req, code, reason, out);
	if (out)
		evbuffer_free(out);
}
