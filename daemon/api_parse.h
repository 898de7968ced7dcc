/* api_parse.h: the outside input of a REST request, parsed without
 * libevent: the path, HTTP Basic credentials, the call list's query */
#ifndef DIALERD_API_PARSE_H
#define DIALERD_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/api_form.h"

#define API_VERSION "2010-04-01"

/* v (NULL: not given, *out kept) a decimal in lo..hi: digits only (no
 * sign, spaces or "0x", which strtol would take; "" is not a number). */
bool api_parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out);
/* Characters of a UTF-8 string (continuation bytes are not characters):
 * Twilio's limits count these, not bytes. */
size_t api_parse_chars(const char *s);

/* ---- the path ---- */

enum api_target {
	API_T_NONE,		/* not a resource of ours: 404 */
	API_T_LIST,		/* .../Calls */
	API_T_CALL,		/* .../Calls/{Sid} */
	API_T_SIP,		/* .../Calls/{Sid}/SipMessages */
};

struct api_path {
	enum api_target target;
	const char *prefix;		/* "" or "/api/laml" */
	char account[64];
	char sid[64];			/* "" for the list */
};

/* A path as evhttp gives it (not %-decoded): /2010-04-01/Accounts/ or
 * /api/laml/2010-04-01/Accounts/, then {AccountSid}/Calls[/{Sid}
 * [/SipMessages]], ".json" dropped from the last segment (not when a
 * "/" ends the path: one is allowed). Segments are not empty and at most
 * 63 bytes. The target,
 * also in p->target; p is zeroed (prefix "") for API_T_NONE. */
enum api_target api_parse_path(struct api_path *p, const char *path);

/* ---- HTTP Basic ---- */

/* The decoded credentials: user and password are NUL-terminated in dec
 * (either may hold a NUL byte of its own: the lengths count it). */
struct api_basic {
	unsigned char dec[512];
	const char *user, *password;
	size_t user_len, password_len;
};

/* An Authorization value "Basic <base64 of user:password>" (the scheme
 * in any case, spaces after it; h NULL: none); the password is what
 * follows the first colon. false: no such value, and b holds nothing.
 * api_basic_clear() wipes b afterwards either way. */
bool api_parse_basic(struct api_basic *b, const char *h);
void api_basic_clear(struct api_basic *b);
/* h names account_sid:auth_token, compared in constant time over their
 * lengths (either NULL, as configured without it: never). */
bool api_parse_authorized(const char *h, const char *account_sid,
			  const char *auth_token);

/* ---- the call list's query (GET .../Calls) ---- */

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 1000

/* 0, NULL and "" mean the filter is not given. Strings not in the
 * struct are lent from the form it was parsed from. */
struct api_list_query {
	const char *to, *from, *parent_call_sid;
	char status[16];		/* as stored: "initiated" for queued */
	int64_t started_min_us;		/* started_at in [min, max) */
	int64_t started_max_us;
	int64_t ended_min_us;		/* ended_at in [min, max) */
	int64_t ended_max_us;
	int sip_response_code;
	const char *header_name, *header_value;	/* SipHeader_<name>=<value> */
	unsigned page, page_size;
	bool token;			/* a PageToken: the two below */
	int64_t before_created_us;
	char before_sid[64];
};

/* A date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SSZ (or +00:00, or no
 * zone): its first microsecond and the one after it. */
bool api_parse_time(const char *s, int64_t *from, int64_t *next);
/* PT<created µs in hex>_<SID>, as api_page_token() writes it. */
bool api_parse_token(const char *tok, int64_t *created_us, char *sid,
		     size_t size);
/* The PageToken of a page's last row into buf; snprintf's result. */
int api_page_token(char *buf, size_t size, int64_t created_us,
		   const char *sid);
/* The filters and paging of a list query (checked in this order: Status,
 * StartTime, EndTime, SipResponseCode, PageSize and Page, PageToken, the
 * depth), into q. NULL, or the 400 20001 message naming what is wrong. */
const char *api_parse_list(struct api_list_query *q, const struct api_form *f);

#endif
