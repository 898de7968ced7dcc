/* fuzz_api_create.c: libFuzzer target for POST .../Calls: the form body
 * any HTTP client sends, parsed and checked into a call request
 *
 * The input is the body. Properties: a refusal has a code and a message;
 * a create that is taken has a To target and a From user that are not
 * empty (the user without the characters it is refused for), exactly one
 * of Url (absolute http(s)) and Twiml (the form's, at most API_TWIML_MAX
 * characters), the callback URL only when StatusCallback was given,
 * events among CALL_CB_*, Timeout and TimeLimit inside their bounds and
 * given as digits only, credentials in pairs, at most
 * API_CREATE_WARNINGS_MAX warnings and API_CREATE_HEADERS_MAX headers;
 * parsed again, the same form answers the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/cxml.h"
#include "daemon/api_create_parse.h"
#include "daemon/api_form.h"

#define TRUNK "sip:{number}@trunk.example.com"
#define CB_ALL (CALL_CB_INITIATED | CALL_CB_RINGING | CALL_CB_ANSWERED | \
		CALL_CB_COMPLETED)

static bool given(const struct api_form *f, const char *name)
{
	const char *v = api_form_get(f, name);

	return v && *v;
}

static bool http_url(const char *u)
{
	return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static size_t chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* v absent or empty (the default), or digits only */
static bool digits(const struct api_form *f, const char *name)
{
	const char *v = api_form_get(f, name);

	return !v || strspn(v, "0123456789") == strlen(v);
}

static void taken(const struct api_create *k, const struct api_form *f)
{
	const struct call_api_params *p = &k->p;
	const char *tw = api_form_get(f, "Twiml");

	if (!tw)
		tw = api_form_get(f, "Laml");
	if (k->code || !p->to || !*p->to || !p->from || !*p->from ||
	    strpbrk(p->from, " \"<>\\@;?") || strlen(p->from) > API_CREATE_FIELD_MAX ||
	    !p->from_display || strcmp(p->from_display, api_form_get(f, "From")))
		abort();
	/* exactly one document */
	if (!p->url == !p->twiml)
		abort();
	if (p->url && !http_url(p->url))
		abort();
	if (p->twiml && (p->twiml != tw || chars(p->twiml) > API_TWIML_MAX))
		abort();
	if ((p->fallback_url && !http_url(p->fallback_url)) ||
	    !p->fallback_url != !given(f, "FallbackUrl"))
		abort();
	if ((p->status_callback && !http_url(p->status_callback)) ||
	    !p->status_callback != !given(f, "StatusCallback"))
		abort();
	if (!p->events || (p->events & ~(unsigned)CB_ALL))
		abort();
	if (p->timeout_s < 1 || p->timeout_s > API_CREATE_TIMEOUT_MAX ||
	    p->time_limit_s < 1 || p->time_limit_s > API_CREATE_TIME_LIMIT_MAX ||
	    !digits(f, "Timeout") || !digits(f, "TimeLimit"))
		abort();
	if (!p->username != !p->password)
		abort();
	if (p->nwarnings > API_CREATE_WARNINGS_MAX || (p->nwarnings && !p->warnings))
		abort();
	for (size_t i = 0; i < p->nwarnings; i++)
		if (!p->warnings[i] || !*p->warnings[i])
			abort();
	if (p->nhdrs > API_CREATE_HEADERS_MAX || (p->nhdrs && (!p->hdr_names ||
							      !p->hdr_values)))
		abort();
	for (size_t i = 0; i < p->nhdrs; i++)
		if (!p->hdr_names[i] || !*p->hdr_names[i] || !p->hdr_values[i] ||
		    strpbrk(p->hdr_values[i], "\r\n"))
			abort();
}

/* The same form again: the same answer. */
static void again(const struct api_create *k, bool ok, const struct api_form *f,
		  const struct cxml_policy *pol)
{
	struct api_create k2;

	if (api_create_parse(&k2, f, TRUNK, pol) != ok || k2.code != k->code ||
	    strcmp(k2.msg, k->msg))
		abort();
	if (ok && (strcmp(k2.p.to, k->p.to) || strcmp(k2.p.from, k->p.from) ||
		   k2.p.events != k->p.events || k2.p.timeout_s != k->p.timeout_s ||
		   k2.p.time_limit_s != k->p.time_limit_s ||
		   k2.p.nhdrs != k->p.nhdrs || k2.p.nwarnings != k->p.nwarnings))
		abort();
	api_create_free(&k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cxml_policy pol;
	static bool init;
	struct api_create k;
	struct api_form f;
	bool ok;

	if (!init) {
		cxml_policy_default(&pol);
		init = true;
	}
	if (api_form_parse(&f, (const char *)data, size))
		return 0;
	ok = api_create_parse(&k, &f, TRUNK, &pol);
	if (ok)
		taken(&k, &f);
	else if (k.code <= 0 || !k.msg[0])
		abort();	/* a 400 with a code and a message */
	again(&k, ok, &f, &pol);
	api_create_free(&k);
	api_form_free(&f);
	return 0;
}
