/* api.h: the REST API: Twilio's and SignalWire's Calls resource on the
 * HTTP server, for their official client libraries */
#ifndef DIALERD_API_H
#define DIALERD_API_H

struct api;
struct call_layer;
struct config;
struct http_server;
struct store;

/* Routes /2010-04-01/Accounts/... and /api/laml/2010-04-01/Accounts/...
 * on http. store may be NULL (no call log: finished calls are answered
 * only while they are recent). ENOMEM. */
int api_alloc(struct api **ap, struct http_server *http,
	      const struct config *cfg, struct call_layer *cl,
	      struct store *store);
/* Requests still waiting for the store are answered 503 first. */
struct api *api_free(struct api *a);

#endif
