/* api_calls.c: GET, POST and DELETE of .../Calls/{Sid}
 *
 * A live call, or one that ended in the last minute, is answered from
 * memory: its state there is newer than any row. Everything else comes
 * from the call log through the store's read API, which runs a query only
 * after the rows queued before it are committed, so a call is never seen
 * older than an answer dialerd already gave about it. A call whose SID
 * names another instance is that instance's to answer while it is live
 * (api_remote.c); an owner that cannot answer leaves the log's view: a
 * finished call is shown as it is, a live one is 503.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

enum op { OP_FETCH, OP_UPDATE, OP_DELETE };

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
	api_error(r, 404, 20404, "The requested resource %s/" API_VERSION
		  "/Accounts/%s/Calls/%s.json was not found", r->prefix,
		  r->account, r->sid);
}

/* The call as memory knows it: NULL when it is not there (or deleted). */
static struct call *live(struct api_req *r)
{
	struct call *c = call_lookup(r->api->cl, r->sid);

	return c && !c->api_hidden ? c : NULL;
}

/* ---- a call only the log knows ---- */

static void from_log(struct api_req *r, enum op op);

static void fetch_local(struct api_req *r)
{
	from_log(r, OP_FETCH);
}

static void on_row(int err, const struct store_call *rows, size_t n, void *arg)
{
	struct api_req *r = arg;
	enum op op = *(enum op *)r->ctx;
	const char *owner = api_remote_owner(r);
	struct json j;

	r->read = NULL;
	api_req_unwait(r);
	if (err) {
		api_store_error(r, err);
		return;
	}
	/* not finished in the log (or not there yet: rows queue at the
	   owner): the owner knows better */
	if (op == OP_FETCH && !r->remote && (n == 0 || !rows[0].ended_at) &&
	    api_remote_owned_elsewhere(r)) {
		api_remote(r, STORE_COMMAND_FETCH, fetch_local);
		return;
	}
	if (n == 0) {
		not_found(r);
		return;
	}
	if (op == OP_UPDATE && rows[0].ended_at) {
		api_error(r, 400, 21220, "Call is not in-progress. Cannot redirect.");
		return;
	}
	if (op == OP_UPDATE) {
		api_error(r, 503, 20503, "Call %s runs on dialerd %s%s, which "
			  "cannot answer now: try again", r->sid,
			  owner ? "" : "instance ", owner ? owner :
			  rows[0].instance ? rows[0].instance : "(unknown)");
		return;
	}
	json_init(&j);
	api_render_call(&j, r, &rows[0]);
	api_reply_json(r, 200, &j);
}

static void from_log(struct api_req *r, enum op op)
{
	struct store_calls_filter f;
	enum op *ctx;
	int err;

	if (!r->api->store) {
		not_found(r);
		return;
	}
	ctx = malloc(sizeof(*ctx));
	if (!ctx) {
		api_store_error(r, ENOMEM);
		return;
	}
	*ctx = op;
	r->ctx = ctx;
	memset(&f, 0, sizeof(f));
	f.account_sid = r->account;
	f.sid = r->sid;
	f.limit = 1;
	err = store_calls_query(r->api->store, &f, on_row, r, &r->read);
	if (err) {
		api_store_error(r, err);
		return;
	}
	api_req_wait(r);
}

void api_calls_fetch(struct api_req *r)
{
	struct call *c = live(r);

	if (c)
		reply_call(r, 200, c);
	else
		from_log(r, OP_FETCH);
}

/* ---- update ---- */

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
	if (!abs && api_parse_chars(twiml) > API_TWIML_MAX) {
		api_error(r, 400, 21205, "Twiml is longer than %d characters",
			  API_TWIML_MAX);
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

static void update_local(struct api_req *r)
{
	from_log(r, OP_UPDATE);
}

void api_calls_update(struct api_req *r)
{
	struct call *c = live(r);
	const char *st = api_form_get(&r->body, "Status");

	/* an unknown call is a 404 whatever was asked of it */
	if (!c) {
		if (api_remote_owned_elsewhere(r))
			api_remote(r, STORE_COMMAND_UPDATE, update_local);
		else
			from_log(r, OP_UPDATE);
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

/* ---- delete ---- */

static void on_hidden(int err, void *arg)
{
	struct api_req *r = arg;
	struct call *c = call_lookup(r->api->cl, r->sid);

	r->read = NULL;
	api_req_unwait(r);
	if (!err && c)
		c->api_hidden = true;
	if (!err)
		api_reply_empty(r, 204);
	else if (err == ENOENT)
		not_found(r);
	else if (err == EBUSY)
		api_error(r, 400, 20009, "Cannot delete a call that is in progress");
	else
		api_store_error(r, err);
}

static void delete_local(struct api_req *r)
{
	struct call *c = live(r);
	int err;

	if (!r->api->store) {
		if (!c) {
			not_found(r);
			return;
		}
		c->api_hidden = true;
		api_reply_empty(r, 204);
		return;
	}
	err = store_call_hide(r->api->store, r->account, r->sid, on_hidden, r,
			      &r->read);
	if (err) {
		api_store_error(r, err);
		return;
	}
	api_req_wait(r);
}

void api_calls_delete(struct api_req *r)
{
	struct call *c = live(r);

	if (c && !call_status_final(c->status)) {
		api_error(r, 400, 20009, "Cannot delete a call that is in progress");
		return;
	}
	if (!c && api_remote_owned_elsewhere(r))
		api_remote(r, STORE_COMMAND_DELETE, delete_local);
	else
		delete_local(r);
}
