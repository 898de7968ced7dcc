/* api_create_parse.c: the parameters of POST .../Calls, checked
 *
 * Every parameter is checked before anything starts, with the vendors'
 * error codes, so a refused request leaves no call, no row and no SIP
 * message behind. To is a sip:/sips: URI whose ?headers go through the
 * same policy as a <Sip> noun (a refused header refuses the request: an
 * API caller gets the error at once instead of a warning in a report), or
 * a number dialled through number_uri. An inline Twiml is parsed here, so
 * an invalid one is a 400 with its cXML code. Parameters that need a
 * media engine (SendDigits, Record*, MachineDetection*) are accepted and
 * recorded as warnings, as <Dial> attributes are.
 *
 * Nothing here knows evhttp: api_create.c hands in the form and answers
 * with what comes back, and the unit test and fuzz target
 * (tests/fuzz/fuzz_api_create) run the same code on any input.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cxml/cxml.h"
#include "daemon/api_create_parse.h"
#include "daemon/api_parse.h"
#include "daemon/webhook.h"

#define FIELD_MAX API_CREATE_FIELD_MAX
#define NHDRS (sizeof(((struct api_create *)0)->names) / sizeof(const char *))

/* The 400 of a refusal: false, for the callers to return. */
static bool refuse(struct api_create *k, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool refuse(struct api_create *k, int code, const char *fmt, ...)
{
	va_list ap;

	k->code = code;
	va_start(ap, fmt);
	vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* GET or POST (absent or empty: *get kept): 0, or -1 for anything else. */
static int method(const struct api_form *f, const char *name, bool *get)
{
	const char *m = api_form_get(f, name);

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
static int url_param(const struct api_form *f, const char *name, char **out)
{
	const char *v = api_form_get(f, name);

	*out = NULL;
	if (!v || !*v)
		return 0;
	return webhook_url_resolve(NULL, v, out) ? -1 : 0;
}

/* Digits of an integer in [lo, hi]; def when absent or empty. */
static int uint_param(const struct api_form *f, const char *name, unsigned lo,
		      unsigned hi, unsigned def, unsigned *out)
{
	const char *v = api_form_get(f, name);

	*out = def;
	if (!v || !*v)
		return 0;
	return api_parse_uint(v, lo, hi, out) ? 0 : -1;
}

/* A number (+E.164 or digits) dialled through number_uri. */
static int number_to(struct api_create *k, const char *tpl, const char *to)
{
	const char *at;
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
static bool take_to(struct api_create *k, const struct api_form *f,
		    const char *number_uri, const struct cxml_policy *pol)
{
	const char *to = api_form_get(f, "To");
	struct cxml_diags diags = {0};
	int err;

	if (!to || !*to)
		return refuse(k, 21201, "No 'To' number is specified");
	if (strncasecmp(to, "sip:", 4) != 0 && strncasecmp(to, "sips:", 5) != 0) {
		err = number_to(k, number_uri, to);
		if (err == 21215)
			return refuse(k, 21215, "'To' %s is a number and no "
				      "number_uri names a trunk to dial it", to);
		if (err)
			return refuse(k, 21211, "Invalid 'To' Phone Number: "
				      "a sip:/sips: URI or an E.164 number is expected");
		to = k->to;
	}
	err = cxml_sip_uri_parse(to, pol, &k->uri, &diags);
	if (err) {
		const struct cxml_diag *e = cxml_diags_first_error(&diags);

		refuse(k, e && e->code ? e->code : 21211, "Invalid 'To': %s",
		       e ? e->msg : "not a SIP URI");
		cxml_diags_free(&diags);
		return false;
	}
	cxml_diags_free(&diags);
	if (k->uri->nrefused) {
		const struct cxml_sip_refusal *r = &k->uri->refused[0];

		return refuse(k, r->code, "'To' header %s refused: %s", r->name,
			      r->reason);
	}
	if (k->uri->nhdrs > NHDRS)
		return refuse(k, 21211, "'To' has more than %zu headers", NHDRS);
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
static bool take_from(struct api_create *k, const struct api_form *f)
{
	const char *from = api_form_get(f, "From");
	const char *cid = api_form_get(f, "CallerId");
	const char *user;

	if (!from || !*from)
		return refuse(k, 21213, "No 'From' number is specified");
	if (strlen(from) > FIELD_MAX || has_ctl(from) ||
	    (cid && (strlen(cid) > FIELD_MAX || has_ctl(cid))))
		return refuse(k, 21212, "Invalid 'From' (or CallerId): at most "
			      "%d characters, no control characters", FIELD_MAX);
	user = cid && *cid ? cid : from;
	if (strncasecmp(user, "sip:", 4) == 0)
		user += 4;
	else if (strncasecmp(user, "sips:", 5) == 0)
		user += 5;
	snprintf(k->from_user, sizeof(k->from_user), "%.*s",
		 (int)strcspn(user, "@;?"), user);
	if (!k->from_user[0] || strpbrk(k->from_user, " \"<>\\"))
		return refuse(k, 21212, "Invalid 'From': %s", from);
	k->p.from = k->from_user;
	k->p.from_display = from;
	return true;
}

/* Url (or Twiml/Laml) and Method, FallbackUrl and FallbackMethod. */
static bool take_document(struct api_create *k, const struct api_form *f,
			  const struct cxml_policy *pol)
{
	const char *twiml = api_form_get(f, "Twiml");

	if (!twiml)
		twiml = api_form_get(f, "Laml");
	if (url_param(f, "Url", &k->url))
		return refuse(k, 21205, "Url is not a valid http(s) URL");
	if (method(f, "Method", &k->p.url_get))
		return refuse(k, 21209, "Method must be GET or POST");
	if (k->url && twiml && *twiml && k->p.nwarnings < API_CREATE_WARNINGS_MAX)
		k->warnings[k->p.nwarnings++] = "Twiml (Url given: ignored)";
	if (!k->url && twiml && *twiml) {
		struct cxml_diags diags = {0};
		struct cxml_doc *doc = NULL;

		if (api_parse_chars(twiml) > API_TWIML_MAX)
			return refuse(k, 21205, "Twiml is longer than %d characters",
				      API_TWIML_MAX);
		if (cxml_parse_once(twiml, strlen(twiml), pol, &doc, &diags)) {
			const struct cxml_diag *e = cxml_diags_first_error(&diags);

			refuse(k, e ? e->code : 12100, "Invalid Twiml: %s",
			       e ? e->msg : "does not parse");
			cxml_diags_free(&diags);
			return false;
		}
		cxml_diags_free(&diags);
		cxml_doc_free(doc);
		k->p.twiml = twiml;
	}
	if (!k->url && !k->p.twiml)
		return refuse(k, 21205, "%s", api_form_get(f, "ApplicationSid") ?
			      "ApplicationSid is not supported by this dialerd: "
			      "give Url or Twiml" : "Url parameter is required");
	k->p.url = k->url;
	if (url_param(f, "FallbackUrl", &k->fallback))
		return refuse(k, 21609, "FallbackUrl is not a valid http(s) URL");
	if (method(f, "FallbackMethod", &k->p.fallback_get))
		return refuse(k, 21209, "FallbackMethod must be GET or POST");
	k->p.fallback_url = k->fallback;
	return true;
}

static bool take_callback(struct api_create *k, const struct api_form *f)
{
	if (url_param(f, "StatusCallback", &k->callback))
		return refuse(k, 21609, "StatusCallback is not a valid http(s) URL");
	if (method(f, "StatusCallbackMethod", &k->p.status_callback_get))
		return refuse(k, 21209, "StatusCallbackMethod must be GET or POST");
	/* repeated keys, each value may itself be a space-separated list */
	for (size_t i = 0; i < f->n; i++) {
		const char *bad;
		size_t n = 0;

		if (strcmp(f->v[i].name, "StatusCallbackEvent") != 0)
			continue;
		k->p.events |= call_cb_events(f->v[i].value, &bad, &n);
		if (bad)
			return refuse(k, 21626, "Invalid StatusCallbackEvent '%.*s': "
				      "initiated, ringing, answered or completed",
				      (int)(n > 64 ? 64 : n), bad);
	}
	if (!k->p.events)
		k->p.events = CALL_CB_COMPLETED;	/* the vendors' default */
	k->p.status_callback = k->callback;
	return true;
}

/* SipAuthUsername/Password (over URI credentials), Timeout, TimeLimit. */
static bool take_limits(struct api_create *k, const struct api_form *f)
{
	const char *user = api_form_get(f, "SipAuthUsername");
	const char *pass = api_form_get(f, "SipAuthPassword");

	if (user && (strlen(user) > FIELD_MAX || has_ctl(user) ||
		     strpbrk(user, "\"\\")))
		return refuse(k, 21221, "SipAuthUsername: at most %d characters, "
			      "no quotes, backslashes or control characters",
			      FIELD_MAX);
	if (pass && (strlen(pass) > FIELD_MAX || has_ctl(pass)))
		return refuse(k, 21223, "SipAuthPassword: at most %d characters, "
			      "no control characters", FIELD_MAX);
	if (user && *user) {
		k->p.username = user;
		k->p.password = pass ? pass : "";
	}
	if (uint_param(f, "Timeout", 1, API_CREATE_TIMEOUT_MAX,
		       API_CREATE_TIMEOUT_DEFAULT, &k->p.timeout_s))
		return refuse(k, 21208, "Timeout must be an integer from 1 to %d",
			      API_CREATE_TIMEOUT_MAX);
	if (uint_param(f, "TimeLimit", 1, API_CREATE_TIME_LIMIT_MAX,
		       API_CREATE_TIME_LIMIT_DEFAULT, &k->p.time_limit_s))
		return refuse(k, 21208, "TimeLimit must be an integer from 1 to %d",
			      API_CREATE_TIME_LIMIT_MAX);
	return true;
}

/* Accepted for compatibility, not executed: a warning each. */
static void take_warnings(struct api_create *k, const struct api_form *f)
{
	static const char *const prefixes[] = {
		"SendDigits", "Record", "RecordingChannels", "RecordingTrack",
		"RecordingStatusCallback", "Trim", "MachineDetection", "AsyncAmd",
	};

	for (size_t i = 0; i < f->n; i++)
		for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++)
			if (strncmp(f->v[i].name, prefixes[p],
				    strlen(prefixes[p])) == 0 &&
			    k->p.nwarnings < API_CREATE_WARNINGS_MAX) {
				k->warnings[k->p.nwarnings++] = f->v[i].name;
				break;
			}
	k->p.warnings = k->warnings;
}

bool api_create_parse(struct api_create *k, const struct api_form *f,
		      const char *number_uri, const struct cxml_policy *pol)
{
	memset(k, 0, sizeof(*k));
	if (!take_to(k, f, number_uri, pol) || !take_from(k, f) ||
	    !take_document(k, f, pol) || !take_callback(k, f) ||
	    !take_limits(k, f))
		return false;
	take_warnings(k, f);
	return true;
}

void api_create_free(struct api_create *k)
{
	cxml_sip_uri_free(k->uri);
	free(k->url);
	free(k->fallback);
	free(k->callback);
	free(k->to);
	k->uri = NULL;
	k->url = k->fallback = k->callback = k->to = NULL;
}
