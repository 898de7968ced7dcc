/* api_create_parse.h: the parameters of POST .../Calls checked without
 * libevent: a form in, the call request or the API's 400 out */
#ifndef DIALERD_API_CREATE_PARSE_H
#define DIALERD_API_CREATE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/api_form.h"
#include "daemon/call.h"

struct cxml_policy;
struct cxml_sip_uri;

#define API_TWIML_MAX 4000		/* characters, as the vendors count */
#define API_CREATE_FIELD_MAX 255	/* From, CallerId, SipAuth* */
#define API_CREATE_HEADERS_MAX 32	/* ?headers of the To URI */
#define API_CREATE_WARNINGS_MAX 16
#define API_CREATE_TIMEOUT_MAX 600
#define API_CREATE_TIMEOUT_DEFAULT 60
#define API_CREATE_TIME_LIMIT_MAX 86400
#define API_CREATE_TIME_LIMIT_DEFAULT 14400

/* A checked create. p is what call_api_start() takes: its strings are
 * lent from the form it was parsed from and from the fields below, so
 * both must outlive p. On a refusal code and msg hold the 400's error
 * code and message. */
struct api_create {
	struct call_api_params p;
	struct cxml_sip_uri *uri;	/* To, parsed */
	char *url, *fallback, *callback;	/* absolute */
	char *to;			/* a number turned into a URI */
	char from_user[API_CREATE_FIELD_MAX + 1];
	const char *names[API_CREATE_HEADERS_MAX];
	const char *values[API_CREATE_HEADERS_MAX];
	const char *warnings[API_CREATE_WARNINGS_MAX];
	int code;			/* the 400's code; 0 when parsed */
	char msg[512];			/* its message, as api_error cuts it */
};

/* The create's form f into k (zeroed first), checked in this order: To
 * (sip:/sips: URI whose ?headers pass pol, or a number dialled through
 * number_uri, NULL when none is configured), From and CallerId, Url or
 * Twiml/Laml (parsed with pol) with Method, FallbackUrl, FallbackMethod,
 * StatusCallback, StatusCallbackMethod and StatusCallbackEvent (repeated,
 * each a space-separated list), SipAuthUsername/Password, Timeout and
 * TimeLimit (digits only); then the parameters accepted but not
 * executed, as warnings. true: k->p is the call request. false: k->code
 * and k->msg are the 400. api_create_free(k) afterwards either way. */
bool api_create_parse(struct api_create *k, const struct api_form *f,
		      const char *number_uri, const struct cxml_policy *pol);
void api_create_free(struct api_create *k);

#endif
