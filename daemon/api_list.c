/* api_list.c: GET .../Calls: the call list, newest first, with the
 * filters the vendors' clients send and our two extensions
 *
 * Filters: To, From, Status, ParentCallSid, StartTime, StartTime<,
 * StartTime>, EndTime, EndTime<, EndTime> (a date YYYY-MM-DD or a time
 * YYYY-MM-DDTHH:MM:SSZ; "<" and ">" include the day or second named, as
 * Twilio's StartTime<= and >= do), SipResponseCode, and
 * SipHeader_<name>=<value> (a policy header any message of the leg
 * carried, sent or received). Paging: PageSize (50; at most 1000), Page,
 * and PageToken, which next_page_uri carries: the last row's creation time
 * and SID, so a page never repeats or skips a row while calls are added.
 * The query itself is parsed by api_parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api_internal.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

_Static_assert(API_PAGE_MAX + 1 <= STORE_CALLS_LIMIT_MAX,
	       "a full page needs the row past it from the store");

struct list {
	struct api_req *r;
	struct api_list_query q;
	struct store_calls_filter f;
};

/* The query parsed (api_parse.c) into the store's filter; false when
 * answered already. */
static bool filter(struct list *l)
{
	const struct api_list_query *q = &l->q;
	const char *err = api_parse_list(&l->q, &l->r->query);

	if (err) {
		api_error(l->r, 400, 20001, "%s", err);
		return false;
	}
	l->f.to = q->to;
	l->f.from = q->from;
	l->f.parent_call_sid = q->parent_call_sid;
	l->f.status = q->status[0] ? q->status : NULL;
	l->f.started_min_us = q->started_min_us;
	l->f.started_max_us = q->started_max_us;
	l->f.ended_min_us = q->ended_min_us;
	l->f.ended_max_us = q->ended_max_us;
	l->f.sip_response_code = q->sip_response_code;
	l->f.header_name = q->header_name;
	l->f.header_value = q->header_value;
	l->f.before_created_us = q->before_created_us;
	l->f.before_sid = q->token ? q->before_sid : NULL;
	/* one row more than the page tells whether a next page exists (also
	   past a page of API_PAGE_MAX: the store takes one more) */
	l->f.limit = q->page_size + 1;
	l->f.offset = q->token ? 0 : q->page * q->page_size;
	return true;
}

/* The list's path with its filters and the paging given. Without the
 * /api/laml prefix: every client library appends a page URI to its base
 * URL, which for SignalWire's already ends in /api/laml (or is the bare
 * host, which answers /2010-04-01 too). */
static char *page_uri(const struct list *l, unsigned page, const char *token)
{
	const struct api_form *q = &l->r->query;
	struct webhook_param p[API_FORM_MAX_FIELDS + 3];
	char base[256], size[16], pg[16];
	char *out = NULL;
	size_t n = 0;

	snprintf(base, sizeof(base), "/" API_VERSION "/Accounts/%s/Calls.json",
		 l->r->account);
	for (size_t i = 0; i < q->n && n < API_FORM_MAX_FIELDS; i++)
		if (strcmp(q->v[i].name, "Page") && strcmp(q->v[i].name, "PageSize") &&
		    strcmp(q->v[i].name, "PageToken")) {
			p[n].name = q->v[i].name;
			p[n++].value = q->v[i].value;
		}
	snprintf(size, sizeof(size), "%u", l->q.page_size);
	snprintf(pg, sizeof(pg), "%u", page);
	p[n].name = "PageSize";
	p[n++].value = size;
	p[n].name = "Page";
	p[n++].value = pg;
	if (token) {
		p[n].name = "PageToken";
		p[n++].value = token;
	}
	if (webhook_url_with_query(base, p, n, &out))
		return NULL;
	return out;
}

static void on_rows(int err, const struct store_call *rows, size_t n, void *arg)
{
	struct list *l = arg;
	struct api_req *r = l->r;
	size_t shown = n > l->q.page_size ? l->q.page_size : n;
	char *self = NULL, *first = NULL, *next = NULL, *prev = NULL, tok[128];
	struct json j;

	r->read = NULL;
	api_req_unwait(r);
	if (err) {
		api_store_error(r, err);
		return;
	}
	self = page_uri(l, l->q.page, l->f.before_sid ?
			api_form_get(&r->query, "PageToken") : NULL);
	first = page_uri(l, 0, NULL);
	if (n > l->q.page_size) {
		api_page_token(tok, sizeof(tok), rows[shown - 1].created_at,
			       rows[shown - 1].sid);
		next = page_uri(l, l->q.page + 1, tok);
	}
	if (l->q.page > 0 && !l->f.before_sid)
		prev = page_uri(l, l->q.page - 1, NULL);
	json_init(&j);
	json_obj(&j);
	json_key(&j, "calls");
	json_arr(&j);
	for (size_t i = 0; i < shown; i++)
		api_render_call(&j, r, &rows[i]);
	json_arr_end(&j);
	json_kint(&j, "page", l->q.page);
	json_kint(&j, "page_size", l->q.page_size);
	json_kint(&j, "start", (long long)l->q.page * l->q.page_size);
	json_kint(&j, "end", (long long)l->q.page * l->q.page_size +
		  (shown ? (long long)shown - 1 : 0));
	json_kstr(&j, "uri", self);
	json_kstr(&j, "first_page_uri", first);
	json_kstr(&j, "next_page_uri", next);
	json_kstr(&j, "previous_page_uri", prev);
	json_obj_end(&j);
	free(self);
	free(first);
	free(next);
	free(prev);
	api_reply_json(r, 200, &j);	/* frees l with r */
}

void api_calls_list(struct api_req *r)
{
	struct list *l;
	int err;

	if (!r->api->store) {
		api_error(r, 503, 20503, "The call list needs the call log database "
			  "(database_url)");
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		api_error(r, 500, 20500, "Out of memory");
		return;
	}
	l->r = r;
	r->ctx = l;
	l->f.account_sid = r->account;
	if (!filter(l))
		return;
	err = store_calls_query(r->api->store, &l->f, on_rows, l, &r->read);
	if (err) {
		api_store_error(r, err);
		return;
	}
	api_req_wait(r);
}
