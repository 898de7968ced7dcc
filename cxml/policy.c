/* policy.c: the default sip: URI header policy (Twilio's: X- names and a few standard ones) and name classes */
#include <string.h>
#include <strings.h>

#include "cxml/internal.h"

static const char *const std_allowed[] = {
	"User-to-User", "Remote-Party-ID", "P-Preferred-Identity",
	"P-Called-Party-ID", "Diversion",
};

/* headers the dialer builds itself; the one-letter names are RFC 3261
 * compact forms, which would otherwise smuggle Via, From, To... */
static const char *const structural[] = {
	"Via", "From", "To", "Call-ID", "CSeq", "Contact", "Route",
	"Record-Route", "Max-Forwards", "Content-*", "Authorization",
	"Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
	"Proxy-Require", "Require", "Supported", "Unsupported", "Allow",
	"Allow-Events", "Expires", "Session-Expires", "Min-SE", "Event",
	"Refer-To", "Referred-By", "Replaces", "RSeq", "RAck", "Path",
	"Service-Route", "Security-*", "Accept", "Accept-*", "MIME-Version",
	"Identity", "Identity-Info", "P-Asserted-Identity", "Privacy", "Reason",
	"v", "f", "t", "i", "m", "l", "c", "e", "k", "s", "o", "r", "b", "x",
	"u", "a", "y", "j", "d", "n",
};

/* platform-set headers: X-Twilio-CallSid, X-Twilio-AccountSid... */
static const char *const reserved[] = {
	"X-Twilio*", "X-SignalWire*",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void cxml_policy_default(struct cxml_policy *pol)
{
	if (!pol)
		return;
	memset(pol, 0, sizeof(*pol));
	pol->std_allowed = std_allowed;
	pol->n_std_allowed = COUNT(std_allowed);
	pol->structural = structural;
	pol->n_structural = COUNT(structural);
	pol->reserved = reserved;
	pol->n_reserved = COUNT(reserved);
	pol->max_value = 4096;
	pol->max_total = 8192;
	pol->prefix_non_x = false;
	pol->oversize_is_error = false;
	pol->max_doc = 65536;
	pol->max_depth = 32;
	pol->max_nodes = 10000;
	pol->max_memory = CXML_MEMORY_DEFAULT;
}

static int lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool cxml_pattern_match(const char *const *pats, size_t n, const char *name)
{
	size_t i, pl;
	int c0 = lower((unsigned char)name[0]);

	for (i = 0; i < n; i++) {
		/* most names differ in the first byte: skip the full compare */
		if (pats[i][0] != '*' && lower((unsigned char)pats[i][0]) != c0)
			continue;
		pl = strlen(pats[i]);
		if (pl && pats[i][pl - 1] == '*') {
			if (!strncasecmp(name, pats[i], pl - 1))
				return true;
		} else if (!strcasecmp(name, pats[i])) {
			return true;
		}
	}
	return false;
}

/* RFC 3261 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" /
 * "`" / "'" / "~" */
bool cxml_sip_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-')
		return true;
	return c && strchr(".!%*_+`'~", c) != NULL;
}

/* does any pattern start with "X-" (or is "*")? The default list has none. */
static bool x_patterns(const char *const *pats, size_t n)
{
	size_t i;

	if (pats == structural)
		return false;
	for (i = 0; i < n; i++)
		if (pats[i][0] == '*' || ((pats[i][0] == 'X' || pats[i][0] == 'x') &&
					  (pats[i][1] == '-' || pats[i][1] == '*')))
			return true;
	return false;
}

int cxml_header_name_check(const struct cxml_policy *pol, const char *name,
			   const char **reason)
{
	struct cxml_policy def;
	const char *why = NULL;
	const unsigned char *p;
	bool is_x;
	int code = 0;

	if (!pol) {
		cxml_policy_default(&def);
		pol = &def;
	}
	if (!name || !*name) {
		code = 21228;
		why = "empty header name";
		goto out;
	}
	is_x = (name[0] == 'X' || name[0] == 'x') && name[1] == '-';
	for (p = (const unsigned char *)name; *p; p++)
		if (!cxml_sip_token_char(*p)) {
			code = 21228;
			why = "header name holds a character that is not allowed in a SIP token";
			goto out;
		}
	if (is_x && !x_patterns(pol->structural, pol->n_structural)) {
		/* fast path: an X- name cannot be on a list with no X- entry */
		if (cxml_pattern_match(pol->reserved, pol->n_reserved, name)) {
			code = 32113;
			why = "reserved for headers the platform sets";
		}
	} else if (cxml_pattern_match(pol->structural, pol->n_structural, name)) {
		code = 13252;
		why = "structural SIP header, set by the dialer only";
	} else if (cxml_pattern_match(pol->reserved, pol->n_reserved, name)) {
		code = 32113;
		why = "reserved for headers the platform sets";
	} else if (!strncasecmp(name, "X-", 2)) {
		code = 0;
	} else if (cxml_pattern_match(pol->std_allowed, pol->n_std_allowed, name)) {
		code = 0;
	} else if (!pol->prefix_non_x) {
		code = 13252;
		why = "not an X- header and not on the allowed standard list";
	}
 out:
	if (reason)
		*reason = why;
	return code;
}
