/* api.h: the REST API: Twilio's and SignalWire's Calls resource on the
 * HTTP server, for their official client libraries */
#ifndef DIALERD_API_H
#define DIALERD_API_H

struct api;
struct call_layer;
struct config;
struct event_base;
struct http_server;
struct store;

/* Routes /2010-04-01/Accounts/... and /api/laml/2010-04-01/Accounts/...
 * on http. store may be NULL (no call log: finished calls are answered
 * only while they are recent); with one, requests for calls of other
 * instances go to their owners and theirs for ours are applied here
 * (call_commands). ENOMEM. */
int api_alloc(struct api **ap, struct event_base *base,
	      struct http_server *http, const struct config *cfg,
	      struct call_layer *cl, struct store *store);
/* Requests still waiting for the store are answered 503 first. */
struct api *api_free(struct api *a);

#endif
