/* fuzz_api_request.c: libFuzzer target for what a REST request brings
 * besides its body: the path, the Authorization header, the list query
 *
 * The input is "path\nheader\nquery" (a missing part is empty). Properties:
 * a path that parses renders back to a canonical path that parses the
 * same; credentials that decode authorize exactly themselves; a time that
 * parses is a day or a second, and its UTC rendering parses the same; a
 * list query that parses has its page and size in range, and the
 * PageToken dialerd would emit for its edge (through a query string, as
 * next_page_uri carries it) parses back to the same edge.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/api_form.h"
#include "daemon/api_parse.h"
#include "daemon/webhook.h"

/* The next '\n'-ended part of [*p, end) as a new string. */
static char *part(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

static bool ends_json(const char *s)
{
	size_t n = strlen(s);

	return n > 5 && strcmp(s + n - 5, ".json") == 0;
}

/* Renders p, ".json" after its last segment or not, and parses it again. */
static void path_again(const struct api_path *p, bool json)
{
	const char *last = p->target == API_T_LIST ? "Calls" :
		p->target == API_T_CALL ? p->sid : "SipMessages";
	char buf[256];
	struct api_path q;

	/* without .json, a last segment ending in .json would lose it; with
	   it, a 59-byte SID would be too long */
	if (json ? strlen(last) + 5 >= sizeof(p->sid) : ends_json(last))
		return;
	snprintf(buf, sizeof(buf), "%s/" API_VERSION "/Accounts/%s/Calls%s%s%s%s",
		 p->prefix, p->account, p->target != API_T_LIST ? "/" : "",
		 p->target != API_T_LIST ? p->sid : "",
		 p->target == API_T_SIP ? "/SipMessages" : "", json ? ".json" : "");
	if (api_parse_path(&q, buf) != p->target || strcmp(q.prefix, p->prefix) ||
	    strcmp(q.account, p->account) || strcmp(q.sid, p->sid))
		abort();
}

static void path(const char *s)
{
	struct api_path p;
	enum api_target t = api_parse_path(&p, s);

	if (t != p.target)
		abort();
	if (t == API_T_NONE) {
		if (p.account[0] || p.sid[0])
			abort();
		return;
	}
	if (!p.account[0] || strchr(p.account, '/') || strchr(p.sid, '/') ||
	    (t == API_T_LIST) != !p.sid[0])
		abort();
	path_again(&p, false);
	path_again(&p, true);
}

static void auth(const char *h)
{
	struct api_basic b;
	char *user, *pass;

	if (!api_parse_basic(&b, h)) {
		if (api_parse_authorized(h, "", "") || api_parse_authorized(h, "a", "b"))
			abort();	/* nothing decoded: nothing matches */
		api_basic_clear(&b);
		return;
	}
	if (b.user[b.user_len] || b.password[b.password_len])
		abort();
	if (memchr(b.user, '\0', b.user_len) || memchr(b.password, '\0', b.password_len)) {
		api_basic_clear(&b);
		return;		/* no C string can name these */
	}
	user = malloc(b.user_len + 2);
	memcpy(user, b.user, b.user_len + 1);
	pass = malloc(b.password_len + 2);
	memcpy(pass, b.password, b.password_len + 1);
	api_basic_clear(&b);
	if (!api_parse_authorized(h, user, pass) || api_parse_authorized(h, user, NULL))
		abort();
	strcat(pass, "x");
	if (api_parse_authorized(h, user, pass))
		abort();	/* the password and more */
	pass[strlen(pass) - 1] = '\0';
	strcat(user, "x");
	if (api_parse_authorized(h, user, pass))
		abort();	/* another user */
	free(user);
	free(pass);
}

/* A time that parses: a day or a second; rendered in UTC, the same. */
static void time_of(const char *v)
{
	int64_t from, next, f2, n2;
	time_t t;
	struct tm tm;
	char buf[64];

	if (!api_parse_time(v, &from, &next))
		return;
	if (next - from != 1000000 && next - from != 86400LL * 1000000)
		abort();
	t = (time_t)(from / 1000000);
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
		return;		/* normalised past what %Y reads */
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (!api_parse_time(buf, &f2, &n2) || f2 != from || n2 != from + 1000000)
		abort();
}

/* The edge of q as dialerd's next_page_uri would carry it: parses back. */
static void token_again(const struct api_list_query *q)
{
	struct webhook_param p = {.name = "PageToken"};
	struct api_list_query q2;
	struct api_form f;
	char tok[128], *enc = NULL;
	size_t len = 0;

	if (!q->token)
		return;
	if (!q->before_created_us || strlen(q->before_sid) >= sizeof(q->before_sid))
		abort();
	if (api_page_token(tok, sizeof(tok), q->before_created_us, q->before_sid) >=
	    (int)sizeof(tok))
		abort();
	p.value = tok;
	if (webhook_form_encode(&enc, &len, &p, 1))
		return;		/* ENOMEM */
	if (api_form_parse(&f, enc, len))
		abort();
	if (api_parse_list(&q2, &f) || !q2.token ||
	    q2.before_created_us != q->before_created_us ||
	    strcmp(q2.before_sid, q->before_sid))
		abort();
	api_form_free(&f);
	free(enc);
}

static void query(const char *s)
{
	static const char *const stored[] = {
		"", "initiated", "ringing", "in-progress", "completed", "busy",
		"failed", "no-answer", "canceled",
	};
	struct api_list_query q;
	struct api_form f;
	const char *err;
	bool known = false;

	if (api_form_parse(&f, s, strlen(s)))
		return;
	for (size_t i = 0; i < f.n; i++)
		time_of(f.v[i].value);
	err = api_parse_list(&q, &f);
	if (err) {
		if (!*err)
			abort();
		api_form_free(&f);
		return;
	}
	for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++)
		known |= strcmp(q.status, stored[i]) == 0;
	if (!known || q.page_size < 1 || q.page_size > API_PAGE_MAX || q.page > 1000000 ||
	    (!q.token && (unsigned long long)q.page * q.page_size > 100000) ||
	    (q.sip_response_code && (q.sip_response_code < 100 || q.sip_response_code > 699)) ||
	    !q.header_name != !q.header_value || (q.header_name && !*q.header_name))
		abort();
	/* StartTime alone is one day or second */
	if (api_form_get(&f, "StartTime") && !api_form_get(&f, "StartTime>") &&
	    !api_form_get(&f, "StartTime<") && q.started_min_us >= q.started_max_us)
		abort();
	token_again(&q);
	api_form_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *pa = part(&p, end), *h = part(&p, end), *qs;
	size_t n = (size_t)(end - p);

	/* the query is the rest, newlines and all */
	qs = malloc(n + 1);
	memcpy(qs, p, n);
	qs[n] = '\0';
	path(pa);
	auth(h);
	query(qs);
	free(pa);
	free(h);
	free(qs);
	return 0;
}
