/* api_create.c: POST .../Calls: a new outbound-api call
 *
 * Every parameter is checked before anything starts, with the vendors'
 * error codes, so a refused request leaves no call, no row and no SIP
 * message behind. To is a sip:/sips: URI whose ?headers go through the
 * same policy as a <Sip> noun (a refused header refuses the request: an
 * API caller gets the error at once instead of a warning in a report), or
 * a number dialled through number_uri. An inline Twiml is parsed here, so
 * an invalid one is a 400 with its cXML code. Parameters that need a
 * media engine (SendDigits, Record*, MachineDetection*) are accepted and
 * recorded as warning events, as <Dial> attributes are.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "cxml/cxml.h"
#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "daemon/webhook.h"
#include "store/store.h"

#define FIELD_MAX 255
#define MAX_WARNINGS 16

struct create {
	struct call_api_params p;
	struct cxml_sip_uri *uri;
	char *url, *fallback, *callback;	/* absolute */
	char *to;			/* a number turned into a URI */
	char from_user[FIELD_MAX + 1];
	const char *names[32], *values[32];
	const char *warnings[MAX_WARNINGS];
};

static void create_free(struct create *k)
{
	cxml_sip_uri_free(k->uri);
	free(k->url);
	free(k->fallback);
	free(k->callback);
	free(k->to);
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* GET or POST (default def): 0, or -1 for anything else. */
static int method(const struct api_req *r, const char *name, bool *get)
{
	const char *m = api_form_get(&r->body, name);

	if (!m || !*m)
		return 0;
	if (strcasecmp(m, "GET") == 0)
		*get = true;
	else if (strcasecmp(m, "POST") == 0)
		*get = false;
	else
		return -1;
	return 0;
}

/* An absolute http(s) URL; NULL when the parameter is absent. */
static int url_param(const struct api_req *r, const char *name, char **out)
{
	const char *v = api_form_get(&r->body, name);

	*out = NULL;
	if (!v || !*v)
		return 0;
	return webhook_url_resolve(NULL, v, out) ? -1 : 0;
}

/* An integer in [lo, hi]; def when absent. -1 when it is not. */
static int uint_param(const struct api_req *r, const char *name, unsigned lo,
		      unsigned hi, unsigned def, unsigned *out)
{
	const char *v = api_form_get(&r->body, name);
	char *end;
	long n;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < (long)lo || n > (long)hi)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* A number (+E.164 or digits) dialled through number_uri. */
static int number_to(struct api_req *r, struct create *k, const char *to)
{
	const char *tpl = r->api->cfg->number_uri, *at;
	size_t n = strlen(to);

	for (size_t i = to[0] == '+'; i < n; i++)
		if (!isdigit((unsigned char)to[i]))
			return 21211;
	if (n < 2 || n > 16)
		return 21211;
	if (!tpl || !(at = strstr(tpl, "{number}")))
		return 21215;
	n = strlen(tpl) + strlen(to) + 1;
	k->to = malloc(n);
	if (!k->to)
		return ENOMEM;
	snprintf(k->to, n, "%.*s%s%s", (int)(at - tpl), tpl, to,
		 at + strlen("{number}"));
	return 0;
}

/* To as a parsed URI with its headers; a refused header refuses all. */
static bool take_to(struct api_req *r, struct create *k)
{
	const char *to = api_form_get(&r->body, "To");
	struct cxml_diags diags = {0};
	int err;

	if (!to || !*to) {
		api_error(r, 400, 21201, "No 'To' number is specified");
		return false;
	}
	if (strncasecmp(to, "sip:", 4) != 0 && strncasecmp(to, "sips:", 5) != 0) {
		err = number_to(r, k, to);
		if (err == 21215) {
			api_error(r, 400, 21215, "'To' %s is a number and no "
				  "number_uri names a trunk to dial it", to);
			return false;
		}
		if (err) {
			api_error(r, 400, 21211, "Invalid 'To' Phone Number: "
				  "a sip:/sips: URI or an E.164 number is expected");
			return false;
		}
		to = k->to;
	}
	err = cxml_sip_uri_parse(to, r->api->cl->pol, &k->uri, &diags);
	if (err) {
		const struct cxml_diag *e = cxml_diags_first_error(&diags);

		api_error(r, 400, e && e->code ? e->code : 21211,
			  "Invalid 'To': %s", e ? e->msg : "not a SIP URI");
		cxml_diags_free(&diags);
		return false;
	}
	cxml_diags_free(&diags);
	if (k->uri->nrefused) {
		const struct cxml_sip_refusal *f = &k->uri->refused[0];

		api_error(r, 400, f->code, "'To' header %s refused: %s",
			  f->name, f->reason);
		return false;
	}
	if (k->uri->nhdrs > sizeof(k->names) / sizeof(k->names[0])) {
		api_error(r, 400, 21211, "'To' has more than %zu headers",
			  sizeof(k->names) / sizeof(k->names[0]));
		return false;
	}
	for (size_t i = 0; i < k->uri->nhdrs; i++) {
		k->names[i] = k->uri->hdrs[i].name;
		k->values[i] = k->uri->hdrs[i].value;
	}
	k->p.to = k->uri->target;
	k->p.hdr_names = k->names;
	k->p.hdr_values = k->values;
	k->p.nhdrs = k->uri->nhdrs;
	/* sip:user:password@host: the digest credentials, never the URI */
	if (k->uri->password) {
		k->p.username = k->uri->user;
		k->p.password = k->uri->password;
	}
	return true;
}

/* From (required) and CallerId: the From user of the INVITE. */
static bool take_from(struct api_req *r, struct create *k)
{
	const char *from = api_form_get(&r->body, "From");
	const char *cid = api_form_get(&r->body, "CallerId");
	const char *user;

	if (!from || !*from) {
		api_error(r, 400, 21213, "No 'From' number is specified");
		return false;
	}
	if (strlen(from) > FIELD_MAX || has_ctl(from) ||
	    (cid && (strlen(cid) > FIELD_MAX || has_ctl(cid)))) {
		api_error(r, 400, 21212, "Invalid 'From' (or CallerId): at most "
			  "%d characters, no control characters", FIELD_MAX);
		return false;
	}
	user = cid && *cid ? cid : from;
	if (strncasecmp(user, "sip:", 4) == 0)
		user += 4;
	else if (strncasecmp(user, "sips:", 5) == 0)
		user += 5;
	snprintf(k->from_user, sizeof(k->from_user), "%.*s",
		 (int)strcspn(user, "@;?"), user);
	if (!k->from_user[0] || strpbrk(k->from_user, " \"<>\\")) {
		api_error(r, 400, 21212, "Invalid 'From': %s", from);
		return false;
	}
	k->p.from = k->from_user;
	k->p.from_display = from;
	return true;
}

/* Url (or Twiml/Laml) and Method, FallbackUrl and FallbackMethod. */
static bool take_document(struct api_req *r, struct create *k)
{
	const char *twiml = api_form_get(&r->body, "Twiml");

	if (!twiml)
		twiml = api_form_get(&r->body, "Laml");
	if (url_param(r, "Url", &k->url)) {
		api_error(r, 400, 21205, "Url is not a valid http(s) URL");
		return false;
	}
	if (method(r, "Method", &k->p.url_get)) {
		api_error(r, 400, 21209, "Method must be GET or POST");
		return false;
	}
	if (k->url && twiml && *twiml && k->p.nwarnings < MAX_WARNINGS)
		k->warnings[k->p.nwarnings++] = "Twiml (Url given: ignored)";
	if (!k->url && twiml && *twiml) {
		struct cxml_diags diags = {0};
		struct cxml_doc *doc = NULL;

		if (api_chars(twiml) > API_TWIML_MAX) {
			api_error(r, 400, 21205, "Twiml is longer than %d characters",
				  API_TWIML_MAX);
			return false;
		}
		if (cxml_parse_once(twiml, strlen(twiml), r->api->cl->pol, &doc,
				    &diags)) {
			const struct cxml_diag *e = cxml_diags_first_error(&diags);

			api_error(r, 400, e ? e->code : 12100, "Invalid Twiml: %s",
				  e ? e->msg : "does not parse");
			cxml_diags_free(&diags);
			return false;
		}
		cxml_diags_free(&diags);
		cxml_doc_free(doc);
		k->p.twiml = twiml;
	}
	if (!k->url && !k->p.twiml) {
		api_error(r, 400, 21205, api_form_get(&r->body, "ApplicationSid") ?
			  "ApplicationSid is not supported by this dialerd: give Url or Twiml" :
			  "Url parameter is required");
		return false;
	}
	k->p.url = k->url;
	if (url_param(r, "FallbackUrl", &k->fallback)) {
		api_error(r, 400, 21609, "FallbackUrl is not a valid http(s) URL");
		return false;
	}
	if (method(r, "FallbackMethod", &k->p.fallback_get)) {
		api_error(r, 400, 21209, "FallbackMethod must be GET or POST");
		return false;
	}
	k->p.fallback_url = k->fallback;
	return true;
}

static bool take_callback(struct api_req *r, struct create *k)
{
	if (url_param(r, "StatusCallback", &k->callback)) {
		api_error(r, 400, 21609, "StatusCallback is not a valid http(s) URL");
		return false;
	}
	if (method(r, "StatusCallbackMethod", &k->p.status_callback_get)) {
		api_error(r, 400, 21209, "StatusCallbackMethod must be GET or POST");
		return false;
	}
	/* repeated keys, each value may itself be a space-separated list */
	for (size_t i = 0; i < r->body.n; i++) {
		const char *bad;
		size_t n = 0;

		if (strcmp(r->body.v[i].name, "StatusCallbackEvent") != 0)
			continue;
		k->p.events |= call_cb_events(r->body.v[i].value, &bad, &n);
		if (bad) {
			api_error(r, 400, 21626, "Invalid StatusCallbackEvent '%.*s': "
				  "initiated, ringing, answered or completed",
				  (int)(n > 64 ? 64 : n), bad);
			return false;
		}
	}
	if (!k->p.events)
		k->p.events = CALL_CB_COMPLETED;	/* the vendors' default */
	k->p.status_callback = k->callback;
	return true;
}

/* SipAuthUsername/Password (over URI credentials), Timeout, TimeLimit. */
static bool take_limits(struct api_req *r, struct create *k)
{
	const char *user = api_form_get(&r->body, "SipAuthUsername");
	const char *pass = api_form_get(&r->body, "SipAuthPassword");

	if (user && (strlen(user) > FIELD_MAX || has_ctl(user) ||
		     strpbrk(user, "\"\\"))) {
		api_error(r, 400, 21221, "SipAuthUsername: at most %d characters, "
			  "no quotes, backslashes or control characters", FIELD_MAX);
		return false;
	}
	if (pass && (strlen(pass) > FIELD_MAX || has_ctl(pass))) {
		api_error(r, 400, 21223, "SipAuthPassword: at most %d characters, "
			  "no control characters", FIELD_MAX);
		return false;
	}
	if (user && *user) {
		k->p.username = user;
		k->p.password = pass ? pass : "";
	}
	if (uint_param(r, "Timeout", 1, 600, 60, &k->p.timeout_s)) {
		api_error(r, 400, 21208, "Timeout must be an integer from 1 to 600");
		return false;
	}
	if (uint_param(r, "TimeLimit", 1, 86400, 14400, &k->p.time_limit_s)) {
		api_error(r, 400, 21208, "TimeLimit must be an integer from 1 to 86400");
		return false;
	}
	return true;
}

/* Accepted for compatibility, not executed: a warning event each. */
static void take_warnings(struct api_req *r, struct create *k)
{
	static const char *const prefixes[] = {
		"SendDigits", "Record", "RecordingChannels", "RecordingTrack",
		"RecordingStatusCallback", "Trim", "MachineDetection", "AsyncAmd",
	};

	for (size_t i = 0; i < r->body.n; i++)
		for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++)
			if (strncmp(r->body.v[i].name, prefixes[p],
				    strlen(prefixes[p])) == 0 &&
			    k->p.nwarnings < MAX_WARNINGS) {
				k->warnings[k->p.nwarnings++] = r->body.v[i].name;
				break;
			}
	k->p.warnings = k->warnings;
}

void api_calls_create(struct api_req *r)
{
	struct create k;
	struct store_call row;
	struct call *c = NULL;
	struct json j;
	int err;

	memset(&k, 0, sizeof(k));
	if (registry_gate()) {
		/* draining or registering: the HTTP balancer retries elsewhere */
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "Retry-After", "5");
		api_error(r, 503, 20503, "dialerd is %s: no new calls here; "
			  "retry on another instance", registry_gate());
		return;
	}
	if (!take_to(r, &k) || !take_from(r, &k) || !take_document(r, &k) ||
	    !take_callback(r, &k) || !take_limits(r, &k)) {
		create_free(&k);
		return;
	}
	take_warnings(r, &k);
	err = call_api_start(r->api->cl, &k.p, &c);
	create_free(&k);
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
