/* api.c: the REST API's routes: both vendors' prefixes, HTTP Basic
 * authentication, the account in the path, the body, dispatch
 *
 *   /2010-04-01/Accounts/{AccountSid}/Calls[.json]             GET, POST
 *   /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}[.json]       GET, POST, DELETE
 *   /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}/SipMessages[.json]   GET
 * and the same under /api/laml (SignalWire's compatibility API). Answers
 * are JSON with or without .json (dialerd has no XML representation).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/api_internal.h"
#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/log.h"

static const char twilio_prefix[] = "/" API_VERSION "/Accounts/";
static const char laml_prefix[] = "/api/laml/" API_VERSION "/Accounts/";

/* Constant time over the expected value's length, whatever is given. */
static bool secret_eq(const char *given, size_t glen, const char *want)
{
	size_t wlen = strlen(want);
	unsigned char diff = glen != wlen;

	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned char)(want[i] ^ (i < glen ? given[i] : 0));
	return diff == 0;
}

/* HTTP Basic AccountSid:AuthToken. */
static bool authorized(const struct api *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization");
	unsigned char dec[512];
	const char *colon;
	size_t in, n;
	int len;
	bool ok;

	if (!h || strncasecmp(h, "Basic ", 6) != 0 || !a->cfg->auth_token)
		return false;
	h += 6;
	h += strspn(h, " ");
	in = strlen(h);
	if (in == 0 || in % 4 || in / 4 * 3 >= sizeof(dec))
		return false;
	len = EVP_DecodeBlock(dec, (const unsigned char *)h, (int)in);
	if (len < 0)
		return false;
	n = (size_t)len;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	for (size_t i = in; i > 0 && h[i - 1] == '=' && n > 0; i--)
		n--;
	dec[n] = '\0';
	colon = memchr(dec, ':', n);
	if (!colon)
		return false;
	ok = secret_eq((const char *)dec, (size_t)(colon - (const char *)dec),
		       a->cfg->account_sid);
	ok &= secret_eq(colon + 1, n - (size_t)(colon + 1 - (const char *)dec),
			a->cfg->auth_token);
	OPENSSL_cleanse(dec, sizeof(dec));
	return ok;
}

/* One path segment into out, ".json" dropped from the last one. */
static const char *segment(const char *p, char *out, size_t size, bool *ok)
{
	size_t n = strcspn(p, "/");

	if (n == 0 || n >= size) {
		*ok = false;
		return p + n;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	if (!p[n] && n > 5 && strcmp(out + n - 5, ".json") == 0)
		out[n - 5] = '\0';
	return p[n] ? p + n + 1 : p + n;
}

enum target { T_NONE, T_LIST, T_CALL, T_SIP };

/* {AccountSid}/Calls[/{Sid}[/SipMessages]] */
static enum target parse_path(struct api_req *r, const char *rest)
{
	char calls[16], sub[32];
	bool ok = true;

	rest = segment(rest, r->account, sizeof(r->account), &ok);
	rest = segment(rest, calls, sizeof(calls), &ok);
	if (!ok || strcmp(calls, "Calls") != 0)
		return T_NONE;
	if (!*rest)
		return T_LIST;
	rest = segment(rest, r->sid, sizeof(r->sid), &ok);
	if (!ok)
		return T_NONE;
	if (!*rest)
		return T_CALL;
	rest = segment(rest, sub, sizeof(sub), &ok);
	return ok && !*rest && strcmp(sub, "SipMessages") == 0 ? T_SIP : T_NONE;
}

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
	/* as received: a command to another instance carries it (memcpy:
	   the evbuffer holds no terminating NUL for strndup to find) */
	r->raw_body = malloc(len + 1);
	if (r->raw_body) {
		memcpy(r->raw_body, evbuffer_pullup(in, -1), len);
		r->raw_body[len] = '\0';
	}
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

static void dispatch(struct api_req *r, enum target t,
		     enum evhttp_cmd_type m)
{
	if (t == T_LIST && m == EVHTTP_REQ_POST)
		api_calls_create(r);
	else if (t == T_LIST && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_list(r);
	else if (t == T_CALL && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_fetch(r);
	else if (t == T_CALL && m == EVHTTP_REQ_POST)
		api_calls_update(r);
	else if (t == T_CALL && m == EVHTTP_REQ_DELETE)
		api_calls_delete(r);
	else if (t == T_SIP && (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD))
		api_calls_sip_messages(r);
	else
		api_error(r, 405, 20004, "Method not allowed");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : "";
	struct api_req *r;
	enum target t;

	r = calloc(1, sizeof(*r));
	if (!r) {
		http_respond(req, 503, NULL, NULL, 0);
		return;
	}
	r->api = a;
	r->req = req;
	if (strncmp(path, laml_prefix, sizeof(laml_prefix) - 1) == 0) {
		r->prefix = "/api/laml";
		path += sizeof(laml_prefix) - 1;
	} else {
		r->prefix = "";
		path += sizeof(twilio_prefix) - 1;
	}
	if (!authorized(a, req)) {
		api_error(r, 401, 20003, "Authenticate");
		return;
	}
	t = parse_path(r, path);
	if (t == T_NONE || strcmp(r->account, a->cfg->account_sid) != 0) {
		api_error(r, 404, 20404, "The requested resource %s was not found",
			  uri ? evhttp_uri_get_path(uri) : "");
		return;
	}
	if (read_input(r))
		dispatch(r, t, evhttp_request_get_command(req));
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
