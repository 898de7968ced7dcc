/* status.c: GET /health and GET /metrics */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "autoconf.h"
#include "cxml/cxml.h"
#include "daemon/db.h"
#include "daemon/http.h"
#include "daemon/metrics.h"
#include "daemon/registry.h"
#include "daemon/status.h"
#include "dial/dial.h"
#include "store/store.h"

struct status {
	struct timespec started;	/* CLOCK_MONOTONIC */
	struct db *db;
};

static struct status status;

/* Seconds since the start, on the monotonic clock: a wall-clock step
 * (NTP, an operator) does not make the uptime jump. */
static double uptime(const struct status *st)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - st->started.tv_sec) +
	       (double)(now.tv_nsec - st->started.tv_nsec) / 1e9;
}

static void on_health(struct evhttp_request *req, void *arg)
{
	struct status *st = arg;
	const char *dbs = db_state_name(st->db);
	const char *gate = registry_gate();
	char body[256];
	int n;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_respond(req, 405, "text/plain", "GET only\n", 9);
		return;
	}
	/* the process answers: 200; whether the call log is reachable is
	 * data. 503 while it takes no new calls (draining, or registering at
	 * start-up), so that a load balancer sends them elsewhere. */
	n = snprintf(body, sizeof(body),
		     "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_seconds\":%.0f,"
		     "\"database\":\"%s\"}\n",
		     gate ? gate : strcmp(dbs, "up") == 0 ||
				   strcmp(dbs, "unconfigured") == 0
			     ? "ok" : "degraded",
		     PACKAGE_VERSION, uptime(st), dbs);
	http_respond(req, gate ? 503 : 200, "application/json", body, (size_t)n);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct status *st = arg;
	char *buf = NULL;
	size_t len = 0;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_respond(req, 405, "text/plain", "GET only\n", 9);
		return;
	}
	metrics_set("dialerd_uptime_seconds", NULL, uptime(st));
	if (metrics_render(&buf, &len)) {
		http_respond(req, 503, "text/plain", "out of memory\n", 14);
		return;
	}
	http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
	free(buf);
}

int status_init(struct http_server *http, const struct timespec *started,
		struct db *db)
{
	char labels[256];
	int err;

	status.started = *started;
	status.db = db;
	metrics_family("dialerd_build_info", METRICS_GAUGE,
		       "always 1; labels name the version and the libraries");
	snprintf(labels, sizeof(labels),
		 "version=\"%s\",libre=\"%s\",libpq=\"%d\",libxml2=\"%s\"",
		 PACKAGE_VERSION, dial_libre_version(), store_libpq_version(),
		 cxml_libxml_version());
	metrics_set("dialerd_build_info", labels, 1);
	metrics_family("dialerd_uptime_seconds", METRICS_GAUGE,
		       "seconds since the daemon started");
	err = http_route_add(http, "/health", false, "/health", on_health, &status);
	if (!err)
		err = http_route_add(http, "/metrics", false, "/metrics",
				     on_metrics, &status);
	return err;
}
