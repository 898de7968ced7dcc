/* api_reply.c: the REST API's replies: JSON bodies, the vendors' error
 * JSON, and the list of requests waiting for the store */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "daemon/api_internal.h"
#include "daemon/http.h"
#include "daemon/json.h"
#include "store/store.h"

void api_req_free(struct api_req *r)
{
	if (!r)
		return;
	api_req_unwait(r);
	store_read_cancel(r->read);
	if (r->cleanup)
		r->cleanup(r);
	free(r->raw_body);
	free(r->ctx);
	api_form_free(&r->query);
	api_form_free(&r->body);
	free(r);
}

void api_req_wait(struct api_req *r)
{
	struct api *a = r->api;

	r->prev = NULL;
	r->next = a->pending;
	if (a->pending)
		a->pending->prev = r;
	a->pending = r;
}

void api_req_unwait(struct api_req *r)
{
	struct api *a = r->api;

	if (r->prev)
		r->prev->next = r->next;
	else if (a->pending == r)
		a->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

/* To the HTTP client, or to the command's done handler. */
static void respond(struct api_req *r, int status, const char *ctype,
		    const char *body, size_t len)
{
	if (r->done)
		r->done(r, status, body, len);
	else
		http_respond(r->req, status, ctype, body, len);
}

void api_reply_json(struct api_req *r, int status, struct json *j)
{
	size_t len = 0;
	const char *text = json_text(j, &len);

	if (!text) {
		json_fini(j);
		api_error(r, 500, 20500, "Internal error");
		return;
	}
	respond(r, status, "application/json", text, len);
	json_fini(j);
	api_req_free(r);
}

void api_reply_text(struct api_req *r, int status, const char *json)
{
	if (status == 204 || !json || !strcmp(json, "null"))
		respond(r, status, NULL, NULL, 0);
	else
		respond(r, status, "application/json", json, strlen(json));
	api_req_free(r);
}

void api_reply_empty(struct api_req *r, int status)
{
	respond(r, status, NULL, NULL, 0);
	api_req_free(r);
}

void api_store_error(struct api_req *r, int err)
{
	bool ours = err == EIO || err == ENOMEM || err == EINVAL;

	api_error(r, ours ? 500 : 503, ours ? 20500 : 20503,
		  "The call log cannot be read now (%s)", strerror(err));
}

void api_error(struct api_req *r, int status, int code, const char *fmt, ...)
{
	struct json j;
	char msg[512], more[96];
	const char *text;
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
	json_init(&j);
	json_obj(&j);
	json_kint(&j, "code", code);
	json_kstr(&j, "message", msg);
	json_kstr(&j, "more_info", more);
	json_kint(&j, "status", status);
	json_obj_end(&j);
	text = json_text(&j, &len);
	if (status == 401 && r->req)
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "WWW-Authenticate", "Basic realm=\"dialerd\"");
	respond(r, status, "application/json", text ? text : "{}",
		text ? len : 2);
	json_fini(&j);
	api_req_free(r);
}
