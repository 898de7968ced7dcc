/* api_create.c: POST .../Calls: a new outbound-api call
 *
 * Every parameter is checked before anything starts (api_create_parse.c:
 * the vendors' error codes, a 400 for any refusal), so a refused request
 * leaves no call, no row and no SIP message behind; then the call layer
 * starts the call, or answers that it cannot (503, 429, 500).
 * Parameters accepted but not executed become warning events.
 */
#include <errno.h>
#include <string.h>

#include <event2/http.h>

#include "daemon/api_create_parse.h"
#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "store/store.h"

void api_calls_create(struct api_req *r)
{
	struct api_create k;
	struct store_call row;
	struct call *c = NULL;
	struct json j;
	int err;

	if (registry_gate()) {
		/* draining or registering: the HTTP balancer retries elsewhere */
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "Retry-After", "5");
		api_error(r, 503, 20503, "dialerd is %s: no new calls here; "
			  "retry on another instance", registry_gate());
		return;
	}
	if (!api_create_parse(&k, &r->body, r->api->cfg->number_uri,
			      r->api->cl->pol)) {
		api_error(r, 400, k.code, "%s", k.msg);
		api_create_free(&k);
		return;
	}
	err = call_api_start(r->api->cl, &k.p, &c);
	api_create_free(&k);
	if (err == ESHUTDOWN) {
		api_error(r, 503, 20503, "dialerd is shutting down: no new calls");
		return;
	}
	if (err == EAGAIN) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "Retry-After", "1");
		api_error(r, 429, 20429, "Too Many Requests: dialerd is at its "
			  "capacity of calls in progress; retry later");
		return;
	}
	if (err) {
		log_write(LOG_ERR, "api", NULL, "cannot start a call: %s",
			  strerror(err));
		api_error(r, 500, 20500, "Cannot start the call: %s", strerror(err));
		return;
	}
	call_log_row(c, store_now_us(), &row);
	json_init(&j);
	api_render_call(&j, r, &row);
	call_unref(c);
	api_reply_json(r, 201, &j);
}
