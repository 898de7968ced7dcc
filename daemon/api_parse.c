/* api_parse.c: the outside input of a REST request: the path, HTTP Basic
 * credentials, the call list's filters and paging
 *
 * Nothing here knows evhttp or the store: api.c and api_list.c hand in
 * strings and a parsed query and answer with what comes back, and the
 * unit test and fuzz target (tests/fuzz/fuzz_api_request) run the same
 * code on any input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/api_parse.h"

static const char twilio_prefix[] = "/" API_VERSION "/Accounts/";
static const char laml_prefix[] = "/api/laml/" API_VERSION "/Accounts/";

/* One path segment into out, ".json" dropped from the last one (a
 * trailing slash after it too: "Calls.json/" as "Calls/"). */
static const char *segment(const char *p, char *out, size_t size, bool *ok)
{
	size_t n = strcspn(p, "/");
	bool last = !p[n] || !p[n + 1];

	if (n == 0 || n >= size) {
		*ok = false;
		return p + n;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	if (last && n > 5 && strcmp(out + n - 5, ".json") == 0)
		out[n - 5] = '\0';
	return p[n] ? p + n + 1 : p + n;
}

/* {AccountSid}/Calls[/{Sid}[/SipMessages]] */
static enum api_target target(struct api_path *p, const char *rest)
{
	char calls[16], sub[32];
	bool ok = true;

	rest = segment(rest, p->account, sizeof(p->account), &ok);
	rest = segment(rest, calls, sizeof(calls), &ok);
	if (!ok || strcmp(calls, "Calls") != 0)
		return API_T_NONE;
	if (!*rest)
		return API_T_LIST;
	rest = segment(rest, p->sid, sizeof(p->sid), &ok);
	if (!ok)
		return API_T_NONE;
	if (!*rest)
		return API_T_CALL;
	rest = segment(rest, sub, sizeof(sub), &ok);
	return ok && !*rest && strcmp(sub, "SipMessages") == 0 ? API_T_SIP :
		API_T_NONE;
}

enum api_target api_parse_path(struct api_path *p, const char *path)
{
	memset(p, 0, sizeof(*p));
	p->prefix = "";
	if (strncmp(path, laml_prefix, sizeof(laml_prefix) - 1) == 0) {
		p->prefix = "/api/laml";
		p->target = target(p, path + sizeof(laml_prefix) - 1);
	} else if (strncmp(path, twilio_prefix, sizeof(twilio_prefix) - 1) == 0) {
		p->target = target(p, path + sizeof(twilio_prefix) - 1);
	}
	/* the prefix stays: the 401 or 404 is answered under it */
	if (p->target == API_T_NONE)
		p->account[0] = p->sid[0] = '\0';
	return p->target;
}

void api_basic_clear(struct api_basic *b)
{
	OPENSSL_cleanse(b, sizeof(*b));
}

bool api_parse_basic(struct api_basic *b, const char *h)
{
	const char *colon;
	size_t in, n;
	int len;

	memset(b, 0, sizeof(*b));
	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	h += 6;
	h += strspn(h, " ");
	in = strlen(h);
	if (in == 0 || in % 4 || in / 4 * 3 >= sizeof(b->dec))
		return false;
	len = EVP_DecodeBlock(b->dec, (const unsigned char *)h, (int)in);
	if (len < 0)
		return false;
	n = (size_t)len;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	for (size_t i = in; i > 0 && h[i - 1] == '=' && n > 0; i--)
		n--;
	b->dec[n] = '\0';
	colon = memchr(b->dec, ':', n);
	if (!colon)
		return false;
	b->user = (const char *)b->dec;
	b->user_len = (size_t)(colon - b->user);
	b->dec[b->user_len] = '\0';
	b->password = colon + 1;
	b->password_len = n - b->user_len - 1;
	return true;
}

/* Constant time over the expected value's length, whatever is given. */
static bool secret_eq(const char *given, size_t glen, const char *want)
{
	size_t wlen = strlen(want);
	unsigned char diff = glen != wlen;

	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned char)(want[i] ^ (i < glen ? given[i] : 0));
	return diff == 0;
}

bool api_parse_authorized(const char *h, const char *account_sid,
			  const char *auth_token)
{
	struct api_basic b;
	bool ok;

	if (!account_sid || !auth_token)
		return false;
	ok = api_parse_basic(&b, h);
	if (ok) {
		ok = secret_eq(b.user, b.user_len, account_sid);
		ok &= secret_eq(b.password, b.password_len, auth_token);
	}
	api_basic_clear(&b);
	return ok;
}

/* s holds digits where pat has 'd' and pat's other bytes as they are */
static bool shaped(const char *s, const char *pat)
{
	for (; *pat; s++, pat++)
		if (*pat == 'd' ? *s < '0' || *s > '9' : *s != *pat)
			return false;
	return true;
}

bool api_parse_time(const char *s, int64_t *from, int64_t *next)
{
	struct tm tm, back;
	const char *zone, *end;
	int64_t span;
	time_t t;

	/* exactly these shapes: strptime alone takes "2026-1-5", leading
	   spaces and 2026-02-31 (as 3 March) */
	if (!shaped(s, "dddd-dd-dd"))
		return false;
	memset(&tm, 0, sizeof(tm));
	if (s[10] == '\0') {
		end = strptime(s, "%Y-%m-%d", &tm);
		span = 86400;
	} else {
		if (!shaped(s + 10, "Tdd:dd:dd"))
			return false;
		zone = s + 19;
		if (*zone && strcmp(zone, "Z") && strcmp(zone, "+00:00"))
			return false;
		end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		span = 1;
	}
	if (!end)
		return false;
	/* a day or second that does not exist comes back as another one
	   (timegm normalises its argument: compare with a copy) */
	back = tm;
	t = timegm(&back);
	/* before 1970: no call is, and 0 means "no bound" to the store */
	if (t < 0 || !gmtime_r(&t, &back) ||
	    back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon ||
	    back.tm_mday != tm.tm_mday || back.tm_hour != tm.tm_hour ||
	    back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
		return false;
	*from = (int64_t)t * 1000000;
	*next = *from + span * 1000000;
	return true;
}

/* Name, Name< and Name> into [*min, *max): "<" and ">" include the day
 * or second named, as Twilio's StartTime<= and >= do. */
static bool time_filter(const struct api_form *q, const char *name,
			int64_t *min, int64_t *max)
{
	char key[32];
	const char *v;
	int64_t a, b;

	if ((v = api_form_get(q, name))) {
		if (!api_parse_time(v, &a, &b))
			return false;
		*min = a;
		*max = b;
	}
	snprintf(key, sizeof(key), "%s>", name);
	if ((v = api_form_get(q, key))) {
		if (!api_parse_time(v, &a, &b))
			return false;
		*min = a;
	}
	snprintf(key, sizeof(key), "%s<", name);
	if ((v = api_form_get(q, key))) {
		if (!api_parse_time(v, &a, &b))
			return false;
		*max = b;
	}
	return true;
}

size_t api_parse_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

bool api_parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	long n;

	if (!v)
		return true;
	/* digits only: strtol would take a sign and leading spaces */
	if (!*v || strspn(v, "0123456789") != strlen(v))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < (long)lo || n > (long)hi)
		return false;
	*out = (unsigned)n;
	return true;
}

bool api_parse_token(const char *tok, int64_t *created_us, char *sid,
		     size_t size)
{
	unsigned long long us;
	size_t hex, id;

	if (strncmp(tok, "PT", 2) != 0)
		return false;
	/* as api_page_token writes it: hex digits, "_", a SID of letters
	   and digits (strtoull would take a sign, "0x" and spaces). At most
	   15 digits: strtoull cannot overflow, and stops at the "_". */
	hex = strspn(tok + 2, "0123456789abcdefABCDEF");
	if (!hex || hex > 15 || tok[2 + hex] != '_')
		return false;
	id = strspn(tok + 3 + hex, "0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (!id || tok[3 + hex + id] != '\0' || id >= size)
		return false;
	us = strtoull(tok + 2, NULL, 16);
	if (!us)
		return false;
	memcpy(sid, tok + 3 + hex, id + 1);
	*created_us = (int64_t)us;
	return true;
}

int api_page_token(char *buf, size_t size, int64_t created_us,
		   const char *sid)
{
	return snprintf(buf, size, "PT%llx_%s", (unsigned long long)created_us,
			sid);
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

static const char *filters(struct api_list_query *l, const struct api_form *q)
{
	const char *st = api_form_get(q, "Status"), *v;

	l->to = api_form_get(q, "To");
	l->from = api_form_get(q, "From");
	l->parent_call_sid = api_form_get(q, "ParentCallSid");
	if (st && !status_ok(st))
		return "Status must be one of queued, ringing, in-progress, "
			"completed, busy, failed, no-answer, canceled";
	/* until it rings, a REST call is stored as initiated */
	snprintf(l->status, sizeof(l->status), "%s",
		 st && strcmp(st, "queued") == 0 ? "initiated" : st ? st : "");
	if (!time_filter(q, "StartTime", &l->started_min_us, &l->started_max_us) ||
	    !time_filter(q, "EndTime", &l->ended_min_us, &l->ended_max_us))
		return "StartTime and EndTime take YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
	if ((v = api_form_get(q, "SipResponseCode"))) {
		unsigned code = 0;

		if (!api_parse_uint(v, 100, 699, &code))
			return "SipResponseCode must be 100..699";
		l->sip_response_code = (int)code;
	}
	for (size_t i = 0; i < q->n; i++)
		if (strncmp(q->v[i].name, "SipHeader_", 10) == 0 && q->v[i].name[10]) {
			l->header_name = q->v[i].name + 10;
			l->header_value = q->v[i].value;
			break;
		}
	return NULL;
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *paging(struct api_list_query *l, const struct api_form *q)
{
	const char *tok = api_form_get(q, "PageToken");

	l->page_size = API_PAGE_DEFAULT;
	if (!api_parse_uint(api_form_get(q, "PageSize"), 1, API_PAGE_MAX, &l->page_size) ||
	    !api_parse_uint(api_form_get(q, "Page"), 0, 1000000, &l->page))
		return "PageSize must be 1.." STR(API_PAGE_MAX) " and Page 0 or more";
	if (tok && *tok) {
		if (!api_parse_token(tok, &l->before_created_us, l->before_sid,
				     sizeof(l->before_sid)))
			return "Invalid PageToken";
		l->token = true;
	}
	if (!l->token && (unsigned long long)l->page * l->page_size > 100000)
		return "Page too deep without a PageToken: follow next_page_uri";
	return NULL;
}

const char *api_parse_list(struct api_list_query *q, const struct api_form *f)
{
	const char *err;

	memset(q, 0, sizeof(*q));
	err = filters(q, f);
	return err ? err : paging(q, f);
}
