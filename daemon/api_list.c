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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/api_internal.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/webhook.h"
#include "store/store.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

struct list {
	struct api_req *r;
	struct store_calls_filter f;
	unsigned page, page_size;
	char before_sid[64];
	char status[16];
};

/* A date or a UTC time: the first microsecond and the one after it. */
static bool parse_time(const char *s, int64_t *from, int64_t *next)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end)
		return false;
	if (*end == '\0') {
		t = timegm(&tm);
		*from = (int64_t)t * 1000000;
		*next = *from + (int64_t)86400 * 1000000;
		return true;
	}
	end = strptime(end, "T%H:%M:%S", &tm);
	if (!end || (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end))
		return false;
	t = timegm(&tm);
	*from = (int64_t)t * 1000000;
	*next = *from + 1000000;
	return true;
}

/* Name, Name< and Name> into [*min, *max). */
static bool time_filter(const struct api_form *q, const char *name,
			int64_t *min, int64_t *max)
{
	char key[32];
	const char *v;
	int64_t a, b;

	if ((v = api_form_get(q, name))) {
		if (!parse_time(v, &a, &b))
			return false;
		*min = a;
		*max = b;
	}
	snprintf(key, sizeof(key), "%s>", name);
	if ((v = api_form_get(q, key))) {
		if (!parse_time(v, &a, &b))
			return false;
		*min = a;
	}
	snprintf(key, sizeof(key), "%s<", name);
	if ((v = api_form_get(q, key))) {
		if (!parse_time(v, &a, &b))
			return false;
		*max = b;
	}
	return true;
}

static bool uint_of(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	long n;

	if (!v)
		return true;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || !*v || *end || n < (long)lo || n > (long)hi)
		return false;
	*out = (unsigned)n;
	return true;
}

/* PT<created µs in hex>_<SID> */
static bool parse_token(struct list *l, const char *tok)
{
	char *end;
	unsigned long long us;

	if (strncmp(tok, "PT", 2) != 0)
		return false;
	errno = 0;
	us = strtoull(tok + 2, &end, 16);
	if (errno || *end != '_' || !us || strlen(end + 1) >= sizeof(l->before_sid))
		return false;
	snprintf(l->before_sid, sizeof(l->before_sid), "%s", end + 1);
	l->f.before_created_us = (int64_t)us;
	l->f.before_sid = l->before_sid;
	return true;
}

static bool status_ok(const char *st)
{
	static const char *const names[] = {
		"queued", "ringing", "in-progress", "completed", "busy",
		"failed", "no-answer", "canceled",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(st, names[i]) == 0)
			return true;
	return false;
}

static bool filters(struct list *l)
{
	const struct api_form *q = &l->r->query;
	const char *st = api_form_get(q, "Status"), *v;

	l->f.to = api_form_get(q, "To");
	l->f.from = api_form_get(q, "From");
	l->f.parent_call_sid = api_form_get(q, "ParentCallSid");
	if (st && !status_ok(st)) {
		api_error(l->r, 400, 20001, "Status must be one of queued, ringing, "
			  "in-progress, completed, busy, failed, no-answer, canceled");
		return false;
	}
	/* until it rings, a REST call is stored as initiated */
	snprintf(l->status, sizeof(l->status), "%s",
		 st && strcmp(st, "queued") == 0 ? "initiated" : st ? st : "");
	l->f.status = st ? l->status : NULL;
	if (!time_filter(q, "StartTime", &l->f.started_min_us, &l->f.started_max_us) ||
	    !time_filter(q, "EndTime", &l->f.ended_min_us, &l->f.ended_max_us)) {
		api_error(l->r, 400, 20001, "StartTime and EndTime take YYYY-MM-DD "
			  "or YYYY-MM-DDTHH:MM:SSZ");
		return false;
	}
	if ((v = api_form_get(q, "SipResponseCode"))) {
		unsigned code = 0;

		if (!uint_of(v, 100, 699, &code)) {
			api_error(l->r, 400, 20001, "SipResponseCode must be 100..699");
			return false;
		}
		l->f.sip_response_code = (int)code;
	}
	for (size_t i = 0; i < q->n; i++)
		if (strncmp(q->v[i].name, "SipHeader_", 10) == 0 && q->v[i].name[10]) {
			l->f.header_name = q->v[i].name + 10;
			l->f.header_value = q->v[i].value;
			break;
		}
	return true;
}

static bool paging(struct list *l)
{
	const struct api_form *q = &l->r->query;
	const char *tok = api_form_get(q, "PageToken");

	l->page_size = PAGE_DEFAULT;
	if (!uint_of(api_form_get(q, "PageSize"), 1, PAGE_MAX, &l->page_size) ||
	    !uint_of(api_form_get(q, "Page"), 0, 1000000, &l->page)) {
		api_error(l->r, 400, 20001, "PageSize must be 1..%d and Page 0 or more",
			  PAGE_MAX);
		return false;
	}
	if (tok && *tok && !parse_token(l, tok)) {
		api_error(l->r, 400, 20001, "Invalid PageToken");
		return false;
	}
	if (!l->f.before_sid && (unsigned long long)l->page * l->page_size > 100000) {
		api_error(l->r, 400, 20001, "Page too deep without a PageToken: "
			  "follow next_page_uri");
		return false;
	}
	/* one row more than the page tells whether a next page exists */
	l->f.limit = l->page_size + 1 > PAGE_MAX ? PAGE_MAX : l->page_size + 1;
	l->f.offset = l->f.before_sid ? 0 : l->page * l->page_size;
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
	snprintf(size, sizeof(size), "%u", l->page_size);
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
	size_t shown = n > l->page_size ? l->page_size : n;
	char *self = NULL, *first = NULL, *next = NULL, *prev = NULL, tok[128];
	struct json j;

	r->read = NULL;
	api_req_unwait(r);
	if (err) {
		api_store_error(r, err);
		return;
	}
	self = page_uri(l, l->page, l->f.before_sid ?
			api_form_get(&r->query, "PageToken") : NULL);
	first = page_uri(l, 0, NULL);
	if (n > l->page_size) {
		snprintf(tok, sizeof(tok), "PT%llx_%s",
			 (unsigned long long)rows[shown - 1].created_at,
			 rows[shown - 1].sid);
		next = page_uri(l, l->page + 1, tok);
	}
	if (l->page > 0 && !l->f.before_sid)
		prev = page_uri(l, l->page - 1, NULL);
	json_init(&j);
	json_obj(&j);
	json_key(&j, "calls");
	json_arr(&j);
	for (size_t i = 0; i < shown; i++)
		api_render_call(&j, r, &rows[i]);
	json_arr_end(&j);
	json_kint(&j, "page", l->page);
	json_kint(&j, "page_size", l->page_size);
	json_kint(&j, "start", (long long)l->page * l->page_size);
	json_kint(&j, "end", (long long)l->page * l->page_size +
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
	if (!filters(l) || !paging(l))
		return;
	err = store_calls_query(r->api->store, &l->f, on_rows, l, &r->read);
	if (err) {
		api_store_error(r, err);
		return;
	}
	api_req_wait(r);
}
