/* api_calls.c: GET, POST and DELETE of .../Calls/{Sid}, and the list
 *
 * A live call, or one that ended in the last minute, is answered from
 * memory: its state there is newer than any row. Everything else comes
 * from the call log through the store's read API, which runs a query only
 * after the rows queued before it are committed, so a call is never seen
 * older than an answer dialerd already gave about it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

static void reply_call(struct api_req *r, int status, const struct call *c)
{
	struct store_call row;
	struct json j;

	call_log_row(c, store_now_us(), &row);
	json_init(&j);
	api_render_call(&j, r, &row);
	api_reply_json(r, status, &j);
}

static void not_found(struct api_req *r)
{
	api_error(r, 404, 20404, "The requested resource /%s/Accounts/%s/Calls/%s.json "
		  "was not found", API_VERSION, r->account, r->sid);
}

void api_calls_fetch(struct api_req *r)
{
	struct call *c = call_lookup(r->api->cl, r->sid);

	if (c) {
		reply_call(r, 200, c);
		return;
	}
	not_found(r);
}

/* Url/Method or Twiml on a live call: it goes on with that document. */
static bool redirect(struct api_req *r, struct call *c)
{
	const char *url = api_form_get(&r->body, "Url");
	const char *twiml = api_form_get(&r->body, "Twiml");
	const char *m = api_form_get(&r->body, "Method");
	char *abs = NULL;
	int err, code = 0;

	if (!twiml)
		twiml = api_form_get(&r->body, "Laml");
	if ((!url || !*url) && (!twiml || !*twiml))
		return true;
	if (m && *m && strcasecmp(m, "GET") && strcasecmp(m, "POST")) {
		api_error(r, 400, 21209, "Method must be GET or POST");
		return false;
	}
	if (url && *url && webhook_url_resolve(NULL, url, &abs)) {
		api_error(r, 400, 21205, "Url is not a valid http(s) URL");
		return false;
	}
	if (!abs && strlen(twiml) > 4000) {
		api_error(r, 400, 21205, "Twiml is longer than 4000 characters");
		return false;
	}
	err = call_doc_redirect(c, abs, m && strcasecmp(m, "GET") == 0,
				abs ? NULL : twiml, &code);
	free(abs);
	if (err == EBADMSG) {
		api_error(r, 400, code, "Invalid Twiml (cXML error %d)", code);
		return false;
	}
	if (err) {
		api_error(r, 400, 21220, "Call is not in-progress. Cannot redirect.");
		return false;
	}
	return true;
}

void api_calls_update(struct api_req *r)
{
	struct call *c = call_lookup(r->api->cl, r->sid);
	const char *st = api_form_get(&r->body, "Status");

	if (!c) {
		not_found(r);
		return;
	}
	if (st && strcmp(st, "completed") && strcmp(st, "canceled")) {
		api_error(r, 400, 21218, "Status must be completed or canceled");
		return;
	}
	if (call_status_final(c->status) || c->leg_ended) {
		api_error(r, 400, 21220, "Call is not in-progress. Cannot redirect.");
		return;
	}
	call_ref(c);
	if (st)
		call_api_hangup(c, strcmp(st, "canceled") == 0);
	else if (!redirect(r, c)) {
		call_unref(c);
		return;
	}
	reply_call(r, 200, c);
	call_unref(c);
}

void api_calls_delete(struct api_req *r)
{
	struct call *c = call_lookup(r->api->cl, r->sid);

	if (c && !call_status_final(c->status)) {
		api_error(r, 400, 20009, "Cannot delete a call that is in progress");
		return;
	}
	not_found(r);
}

void api_calls_list(struct api_req *r)
{
	api_error(r, 503, 20503, "The call list needs the call log database");
}

void api_calls_sip_messages(struct api_req *r)
{
	api_error(r, 503, 20503, "SIP messages need the call log database");
}
