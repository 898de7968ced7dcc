/* api.c: the REST API's routes: both vendors' prefixes, HTTP Basic
 * authentication, the account in the path, the body, dispatch
 *
 *   /2010-04-01/Accounts/{AccountSid}/Calls[.json]             GET, POST
 *   /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}[.json]       GET, POST, DELETE
 *   /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}/SipMessages[.json]   GET
 * and the same under /api/laml (SignalWire's compatibility API). Answers
 * are JSON with or without .json (dialerd has no XML representation).
 * The path and the credentials are parsed by api_parse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "daemon/api_internal.h"
#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "util/memdupz.h"

static const char twilio_prefix[] = "/" API_VERSION "/Accounts/";
static const char laml_prefix[] = "/api/laml/" API_VERSION "/Accounts/";

/* The query string and a form body; false when answered already. */
static bool read_input(struct api_req *r)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	int err;

	if (q && api_form_parse(&r->query, q, strlen(q))) {
		api_error(r, 400, 20001, "Malformed query string");
		return false;
	}
	if (len > API_BODY_MAX) {
		api_error(r, 413, 20413, "The body is larger than %u bytes",
			  API_BODY_MAX);
		return false;
	}
	if (!len)
		return true;
	/* as received: a command to another instance carries it (the
	   evbuffer holds no terminating NUL) */
	r->raw_body = util_memdupz(evbuffer_pullup(in, -1), len);
	err = r->raw_body ? api_form_parse(&r->body, r->raw_body, len) : ENOMEM;
	if (err == ENOMEM) {
		api_error(r, 500, 20500, "Out of memory");
		return false;
	}
	if (err) {
		api_error(r, 400, 20001, "Malformed form body: %s",
			  err == E2BIG ? "too many or too long parameters" :
			  "application/x-www-form-urlencoded expected");
		return false;
	}
	return true;
}

static void dispatch(struct api_req *r, enum api_target t,
		     enum evhttp_cmd_type m)
{
	if (t == API_T_LIST && m == EVHTTP_REQ_POST)
		api_calls_create(r);
	else if (t == API_T_LIST && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_list(r);
	else if (t == API_T_CALL && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_fetch(r);
	else if (t == API_T_CALL && m == EVHTTP_REQ_POST)
		api_calls_update(r);
	else if (t == API_T_CALL && m == EVHTTP_REQ_DELETE)
		api_calls_delete(r);
	else if (t == API_T_SIP && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_sip_messages(r);
	else
		api_error(r, 405, 20004, "Method not allowed");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : "";
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	struct api_req *r;
	struct api_path p;

	r = calloc(1, sizeof(*r));
	if (!r) {
		http_respond(req, 503, NULL, NULL, 0);
		return;
	}
	r->api = a;
	r->req = req;
	api_parse_path(&p, path);
	r->prefix = p.prefix;
	/* HTTP Basic AccountSid:AuthToken */
	if (!api_parse_authorized(evhttp_find_header(headers, "Authorization"),
				  a->cfg->account_sid, a->cfg->auth_token)) {
		api_error(r, 401, 20003, "Authenticate");
		return;
	}
	if (p.target == API_T_NONE || strcmp(p.account, a->cfg->account_sid) != 0) {
		api_error(r, 404, 20404, "The requested resource %s was not found",
			  uri ? evhttp_uri_get_path(uri) : "");
		return;
	}
	snprintf(r->account, sizeof(r->account), "%s", p.account);
	snprintf(r->sid, sizeof(r->sid), "%s", p.sid);
	if (read_input(r))
		dispatch(r, p.target, evhttp_request_get_command(req));
}

int api_alloc(struct api **ap, struct event_base *base,
	      struct http_server *http, const struct config *cfg,
	      struct call_layer *cl, struct store *store)
{
	struct api *a;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	a->cfg = cfg;
	a->cl = cl;
	a->store = store;
	a->base = base;
	err = http_route_add(http, twilio_prefix, true, "api", on_request, a);
	if (!err)
		err = http_route_add(http, laml_prefix, true, "api", on_request, a);
	if (!err && store)
		err = api_owner_start(a);
	if (err) {
		api_owner_stop(a);
		free(a);
		return err;
	}
	*ap = a;
	return 0;
}

struct api *api_free(struct api *a)
{
	if (!a)
		return NULL;
	api_owner_stop(a);
	while (a->pending)
		api_error(a->pending, 503, 20503, "dialerd is shutting down");
	free(a);
	return NULL;
}
