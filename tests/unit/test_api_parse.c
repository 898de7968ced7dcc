/* test_api_parse.c: what a REST request's path, Authorization header and
 * list query parse to, and what each refuses with (the messages are the
 * API's 400 answers) */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/api_parse.h"
#include "tests/tap.h"

#define SID "AC0123456789abcdef0123456789abcdef"
#define TOKEN "s3cret-t0ken"
#define DAY (86400LL * 1000000)
#define SEC 1000000LL
/* 2026-01-01T00:00:00Z */
#define JAN1 (1767225600LL * 1000000)

static const char *const tw = "/2010-04-01/Accounts/";
static const char *const laml = "/api/laml/2010-04-01/Accounts/";

static enum api_target path(struct api_path *p, const char *prefix, const char *rest)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s%s", prefix, rest);
	return api_parse_path(p, buf);
}

static void paths(void)
{
	struct api_path p;
	char long_sid[80];

	is_int(path(&p, tw, SID "/Calls"), API_T_LIST, "the list");
	is_str(p.account, SID, "its account");
	is_str(p.sid, "", "no call SID");
	is_str(p.prefix, "", "Twilio's prefix");
	is_int(path(&p, tw, SID "/Calls.json"), API_T_LIST, "the list, .json");
	is_int(path(&p, laml, SID "/Calls.json"), API_T_LIST, "the list under /api/laml");
	is_str(p.prefix, "/api/laml", "SignalWire's prefix");
	is_int(path(&p, tw, SID "/Calls/"), API_T_LIST, "a trailing slash");
	is_int(path(&p, tw, SID "/Calls.json/"), API_T_LIST, "a trailing slash after .json");
	is_int(path(&p, tw, SID "/Calls/CA1.json/"), API_T_CALL, "a call, .json and a trailing slash");
	is_str(p.sid, "CA1", ".json dropped before the trailing slash");
	is_int(path(&p, tw, SID "/Calls/CA1"), API_T_CALL, "a call");
	is_str(p.sid, "CA1", "its SID");
	is_int(path(&p, laml, SID "/Calls/CA1.json"), API_T_CALL, "a call, .json");
	is_str(p.sid, "CA1", ".json dropped from the SID");
	is_int(path(&p, tw, SID "/Calls/CA1.json/SipMessages.json"), API_T_SIP,
	       "SipMessages.json");
	is_str(p.sid, "CA1.json", ".json kept where it is not last");
	is_int(path(&p, tw, SID "/Calls/CA1/SipMessages"), API_T_SIP, "SipMessages");
	is_int(path(&p, tw, SID "/Calls/.json"), API_T_CALL, "a SID of .json alone");
	is_str(p.sid, ".json", "stays .json");

	is_int(path(&p, tw, ""), API_T_NONE, "no account");
	is_int(path(&p, tw, SID), API_T_NONE, "no Calls");
	is_int(path(&p, tw, SID "/"), API_T_NONE, "an empty Calls");
	is_int(path(&p, tw, SID "/calls"), API_T_NONE, "calls: case-sensitive");
	is_int(path(&p, tw, SID "/Calls.xml"), API_T_NONE, ".xml");
	is_int(path(&p, tw, SID "/Calls.json/CA1"), API_T_NONE, "Calls.json not last");
	is_int(path(&p, tw, SID "//Calls"), API_T_NONE, "an empty segment");
	is_int(path(&p, tw, "/" SID "/Calls"), API_T_NONE, "an empty account");
	is_int(path(&p, tw, SID "/Calls//"), API_T_NONE, "two trailing slashes");
	is_int(path(&p, tw, SID "/Calls/CA1/Sipmessages"), API_T_NONE, "Sipmessages");
	is_int(path(&p, tw, SID "/Calls/CA1/SipMessages/x"), API_T_NONE, "past SipMessages");
	is_int(path(&p, tw, SID "/Calls/CA1/x/SipMessages"), API_T_NONE, "a segment too many");
	is_int(path(&p, tw, SID "/Calls/CA1/Recordings"), API_T_NONE, "another resource");
	ok(p.account[0] == '\0' && p.sid[0] == '\0', "refused: no account, no SID");
	is_int(path(&p, laml, SID "/Nope"), API_T_NONE, "refused under /api/laml");
	is_str(p.prefix, "/api/laml", "keeps its prefix (the 404 is answered there)");
	is_int(api_parse_path(&p, "/2010-04-02/Accounts/" SID "/Calls"), API_T_NONE,
	       "another version");
	is_int(api_parse_path(&p, ""), API_T_NONE, "an empty path");

	memset(long_sid, 'a', sizeof(long_sid));
	long_sid[63] = '\0';
	{
		char rest[200];

		snprintf(rest, sizeof(rest), "%s/Calls/%s", SID, long_sid);
		is_int(path(&p, tw, rest), API_T_CALL, "a 63-byte SID");
		is_int((long long)strlen(p.sid), 63, "kept whole");
		long_sid[63] = 'a';
		long_sid[64] = '\0';
		snprintf(rest, sizeof(rest), "%s/Calls/%s", SID, long_sid);
		is_int(path(&p, tw, rest), API_T_NONE, "a 64-byte SID");
		snprintf(rest, sizeof(rest), "%s/Calls", long_sid);
		is_int(path(&p, tw, rest), API_T_NONE, "a 64-byte account");
		/* 68 bytes with .json: too long before .json is dropped */
		long_sid[59] = '\0';
		snprintf(rest, sizeof(rest), "%s/Calls/%s.json", SID, long_sid);
		is_int(path(&p, tw, rest), API_T_NONE, "a 59-byte SID with .json");
		long_sid[58] = '\0';
		snprintf(rest, sizeof(rest), "%s/Calls/%s.json", SID, long_sid);
		is_int(path(&p, tw, rest), API_T_CALL, "a 58-byte SID with .json");
	}
}

static const char *basic(char *buf, size_t size, const char *creds)
{
	int n = snprintf(buf, size, "Basic ");

	EVP_EncodeBlock((unsigned char *)buf + n, (const unsigned char *)creds,
			(int)strlen(creds));
	return buf;
}

static void auth(void)
{
	struct api_basic b;
	char h[1024], h2[1100], creds[700];

	ok(!api_parse_authorized(NULL, SID, TOKEN), "no header");
	ok(!api_parse_authorized("", SID, TOKEN), "an empty header");
	basic(h, sizeof(h), SID ":" TOKEN);
	ok(api_parse_authorized(h, SID, TOKEN), "the right credentials");
	ok(!api_parse_authorized(h, SID, NULL), "no auth_token configured: never");
	/* dialerd before api_parse.c crashed here (strlen(NULL)): an
	   auth_token without an account_sid is a valid configuration */
	ok(!api_parse_authorized(h, NULL, TOKEN), "no account_sid configured: never");
	memcpy(h, "bASIC", 5);
	ok(api_parse_authorized(h, SID, TOKEN), "the scheme in any case");
	snprintf(h2, sizeof(h2), "Basic    %s", h + 6);
	ok(api_parse_authorized(h2, SID, TOKEN), "spaces after the scheme");
	snprintf(h2, sizeof(h2), "Bearer %s", h + 6);
	ok(!api_parse_authorized(h2, SID, TOKEN), "another scheme");
	snprintf(h2, sizeof(h2), "Basic%s", h + 6);
	ok(!api_parse_authorized(h2, SID, TOKEN), "no space after Basic");
	snprintf(h2, sizeof(h2), "%s ", h);
	ok(!api_parse_authorized(h2, SID, TOKEN), "a trailing space");
	ok(!api_parse_authorized("Basic ", SID, TOKEN), "Basic and nothing");
	ok(!api_parse_authorized("Basic !!!!", SID, TOKEN), "bad base64");
	ok(!api_parse_authorized("Basic QUM6dA=", SID, TOKEN), "base64 cut (not 4n)");
	basic(h, sizeof(h), SID TOKEN);
	ok(!api_parse_authorized(h, SID, TOKEN), "no colon");
	ok(!api_parse_basic(&b, h), "no colon: no credentials");
	basic(h, sizeof(h), SID ":wrong");
	ok(!api_parse_authorized(h, SID, TOKEN), "a wrong token");
	basic(h, sizeof(h), SID ":" TOKEN "x");
	ok(!api_parse_authorized(h, SID, TOKEN), "the token and more");
	basic(h, sizeof(h), SID ":s3cret");
	ok(!api_parse_authorized(h, SID, TOKEN), "a prefix of the token");
	basic(h, sizeof(h), "AC0:" TOKEN);
	ok(!api_parse_authorized(h, SID, TOKEN), "another account");
	basic(h, sizeof(h), ":");
	ok(!api_parse_authorized(h, SID, TOKEN), "an empty user and password");
	ok(api_parse_authorized(h, "", ""), "which match empty ones");

	basic(h, sizeof(h), "user:pa:ss");
	ok(api_parse_basic(&b, h), "decodes");
	is_mem(b.user, b.user_len, "user", 4, "the user");
	is_mem(b.password, b.password_len, "pa:ss", 5, "the password after the first colon");
	ok(b.user[b.user_len] == '\0' && b.password[b.password_len] == '\0',
	   "both NUL-terminated");
	api_basic_clear(&b);
	ok(b.user == NULL && b.dec[0] == 0, "cleared");
	ok(api_parse_basic(&b, "Basic YTpiAA=="), "a NUL byte in the password");
	is_int((long long)b.password_len, 2, "counted");
	api_basic_clear(&b);
	ok(!api_parse_authorized("Basic YTpiAA==", "a", "b"), "which does not match b");

	/* the decoded credentials take at most 511 bytes (680 of base64) */
	memset(creds, 'x', sizeof(creds));
	creds[0] = ':';
	creds[510] = '\0';
	basic(h, sizeof(h), creds);
	is_int((long long)strlen(h + 6), 680, "510 bytes: 680 of base64");
	ok(api_parse_basic(&b, h), "taken");
	api_basic_clear(&b);
	creds[510] = 'x';
	creds[511] = '\0';
	basic(h, sizeof(h), creds);
	ok(!api_parse_basic(&b, h), "511 bytes (684 of base64): refused");
}

static void times(void)
{
	int64_t from = 0, next = 0;

	ok(api_parse_time("2026-01-01", &from, &next), "a date");
	is_int(from, JAN1, "its first microsecond");
	is_int(next, JAN1 + DAY, "the next day's");
	ok(api_parse_time("2026-01-01T10:20:30Z", &from, &next), "a time");
	is_int(from, JAN1 + (10 * 3600 + 20 * 60 + 30) * SEC, "its first microsecond");
	is_int(next, from + SEC, "the next second's");
	ok(api_parse_time("2026-01-01T10:20:30+00:00", &from, &next), "+00:00");
	ok(api_parse_time("2026-01-01T10:20:30", &from, &next), "no zone: UTC");
	ok(api_parse_time("1970-01-01", &from, &next) && from == 0, "the epoch");
	ok(!api_parse_time("", &from, &next), "empty");
	ok(!api_parse_time("2026", &from, &next), "a year");
	ok(!api_parse_time("2026-13-01", &from, &next), "month 13");
	ok(!api_parse_time("2026-01-32", &from, &next), "day 32");
	ok(!api_parse_time("2026-01-01Z", &from, &next), "a date with a zone");
	ok(!api_parse_time("2026-01-01T10:20", &from, &next), "no seconds");
	ok(!api_parse_time("2026-01-01T10:20:30+01:00", &from, &next), "another zone");
	ok(!api_parse_time("2026-01-01T10:20:30Zx", &from, &next), "after the Z");
	ok(!api_parse_time("2026-01-01 10:20:30", &from, &next), "a space for the T");
	ok(!api_parse_time("01/01/2026", &from, &next), "another format");
	ok(!api_parse_time("2026-02-31", &from, &next), "31 February (not 3 March)");
	ok(!api_parse_time("1969-12-31", &from, &next), "before 1970");
	ok(api_parse_time("2028-02-29", &from, &next), "29 February of a leap year");
	ok(!api_parse_time("2026-02-29", &from, &next), "29 February of another");
	ok(!api_parse_time("2026-1-05", &from, &next), "a one-digit month");
	ok(!api_parse_time(" 2026-01-05", &from, &next), "a space before it");
	ok(!api_parse_time("2026-01-05T24:00:00Z", &from, &next), "hour 24");
	ok(!api_parse_time("2026-01-05T10:20:60Z", &from, &next), "second 60");
	ok(!api_parse_time("2026-01-05T10:60:00Z", &from, &next), "minute 60");
}

/* The list query of a query string; the error message or NULL. */
static const char *list(struct api_list_query *q, struct api_form *f, const char *qs)
{
	api_form_free(f);
	if (api_form_parse(f, qs, strlen(qs))) {
		memset(q, 0, sizeof(*q));
		return "(form)";
	}
	return api_parse_list(q, f);
}

#define TIME_ERR "StartTime and EndTime take YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
#define PAGE_ERR "PageSize must be 1..1000 and Page 0 or more"
#define STATUS_ERR "Status must be one of queued, ringing, in-progress, completed, " \
	"busy, failed, no-answer, canceled"

static void list_filters(void)
{
	struct api_list_query q;
	struct api_form f = {0};

	ok(list(&q, &f, "") == NULL, "no query");
	ok(!q.to && !q.from && !q.parent_call_sid && !q.status[0] &&
	   !q.started_min_us && !q.started_max_us && !q.ended_min_us && !q.ended_max_us &&
	   !q.sip_response_code && !q.header_name && !q.token, "no filter");
	is_int(q.page_size, 50, "PageSize 50");
	is_int(q.page, 0, "Page 0");

	ok(list(&q, &f, "To=sip%3Abob%40example.com&From=%2B1555&ParentCallSid=CA9") == NULL,
	   "To, From, ParentCallSid");
	is_str(q.to, "sip:bob@example.com", "To");
	is_str(q.from, "+1555", "From");
	is_str(q.parent_call_sid, "CA9", "ParentCallSid");

	ok(list(&q, &f, "Status=queued") == NULL, "Status=queued");
	is_str(q.status, "initiated", "is stored as initiated");
	ok(list(&q, &f, "Status=no-answer") == NULL, "Status=no-answer");
	is_str(q.status, "no-answer", "as it is");
	is_str(list(&q, &f, "Status=answered"), STATUS_ERR, "Status=answered");
	is_str(list(&q, &f, "Status="), STATUS_ERR, "an empty Status");
	is_str(list(&q, &f, "Status=Completed"), STATUS_ERR, "Status is case-sensitive");

	ok(list(&q, &f, "StartTime=2026-01-01") == NULL, "StartTime, a date");
	ok(q.started_min_us == JAN1 && q.started_max_us == JAN1 + DAY, "that day");
	ok(list(&q, &f, "StartTime%3E=2026-01-01") == NULL, "StartTime>, a date");
	ok(q.started_min_us == JAN1 && q.started_max_us == 0, "from the day on, open");
	ok(list(&q, &f, "StartTime%3C=2026-01-01") == NULL, "StartTime<, a date");
	ok(q.started_min_us == 0 && q.started_max_us == JAN1 + DAY,
	   "up to the day, that day included");
	ok(list(&q, &f, "StartTime>=2026-01-01T10:00:00Z") == NULL, "StartTime>, a time");
	is_int(q.started_min_us, JAN1 + 10 * 3600 * SEC, "from that second on");
	ok(list(&q, &f, "StartTime<=2026-01-01T10:00:00Z") == NULL, "StartTime<, a time");
	is_int(q.started_max_us, JAN1 + 10 * 3600 * SEC + SEC, "that second included");
	ok(list(&q, &f, "StartTime>=2026-01-01&StartTime<=2026-01-31") == NULL, "a range");
	ok(q.started_min_us == JAN1 && q.started_max_us == JAN1 + 31 * DAY,
	   "January, the 31st included");
	ok(list(&q, &f, "StartTime=2026-01-05&StartTime>=2026-01-03") == NULL,
	   "StartTime and StartTime>");
	ok(q.started_min_us == JAN1 + 2 * DAY && q.started_max_us == JAN1 + 5 * DAY,
	   "> moves the start, the day's end stays");
	ok(list(&q, &f, "EndTime=2026-01-01T00:00:59Z") == NULL, "EndTime, a time");
	ok(q.ended_min_us == JAN1 + 59 * SEC && q.ended_max_us == JAN1 + 60 * SEC &&
	   !q.started_min_us, "that second, of ended_at");
	ok(list(&q, &f, "EndTime%3E=2026-01-02&EndTime%3C=2026-01-02") == NULL,
	   "EndTime> and EndTime<");
	ok(q.ended_min_us == JAN1 + DAY && q.ended_max_us == JAN1 + 2 * DAY, "one day");
	is_str(list(&q, &f, "StartTime=yesterday"), TIME_ERR, "StartTime=yesterday");
	is_str(list(&q, &f, "StartTime%3E=2026-01-01T10:00"), TIME_ERR, "StartTime> cut");
	is_str(list(&q, &f, "EndTime%3C=2026-02-30x"), TIME_ERR, "EndTime< with junk");
	is_str(list(&q, &f, "EndTime="), TIME_ERR, "an empty EndTime");

	ok(list(&q, &f, "SipResponseCode=486") == NULL, "SipResponseCode=486");
	is_int(q.sip_response_code, 486, "486");
	ok(list(&q, &f, "SipResponseCode=100") == NULL && q.sip_response_code == 100, "100");
	ok(list(&q, &f, "SipResponseCode=699") == NULL && q.sip_response_code == 699, "699");
	is_str(list(&q, &f, "SipResponseCode=99"), "SipResponseCode must be 100..699", "99");
	is_str(list(&q, &f, "SipResponseCode=700"), "SipResponseCode must be 100..699", "700");
	is_str(list(&q, &f, "SipResponseCode=4xx"), "SipResponseCode must be 100..699", "4xx");

	ok(list(&q, &f, "SipHeader_=a&SipHeader_X-Customer=7&SipHeader_X-B=8") == NULL,
	   "SipHeader_");
	is_str(q.header_name, "X-Customer", "the first named one");
	is_str(q.header_value, "7", "its value");
	ok(list(&q, &f, "SipHeader_X-Empty") == NULL, "SipHeader_ without a value");
	is_str(q.header_value, "", "an empty value");

	is_str(list(&q, &f, "Status=bad&StartTime=bad&PageSize=0"), STATUS_ERR,
	       "Status is checked first");
	is_str(list(&q, &f, "EndTime=bad&SipResponseCode=1&PageSize=0"), TIME_ERR,
	       "then the times");
	is_str(list(&q, &f, "SipResponseCode=1&PageSize=0"), "SipResponseCode must be 100..699",
	       "then SipResponseCode");
	is_str(list(&q, &f, "PageToken=bad&PageSize=0"), PAGE_ERR, "then the paging");
	api_form_free(&f);
}

static void list_paging(void)
{
	struct api_list_query q;
	struct api_form f = {0};
	char tok[128], qs[200], sid[64];
	int64_t created;
	int n;

	ok(list(&q, &f, "PageSize=1") == NULL && q.page_size == 1, "PageSize=1");
	ok(list(&q, &f, "PageSize=1000") == NULL && q.page_size == 1000, "PageSize=1000");
	is_str(list(&q, &f, "PageSize=1001"), PAGE_ERR, "PageSize=1001");
	is_str(list(&q, &f, "PageSize=0"), PAGE_ERR, "PageSize=0");
	is_str(list(&q, &f, "PageSize=-5"), PAGE_ERR, "PageSize=-5");
	is_str(list(&q, &f, "PageSize="), PAGE_ERR, "an empty PageSize");
	is_str(list(&q, &f, "PageSize=10x"), PAGE_ERR, "PageSize=10x");
	is_str(list(&q, &f, "PageSize=%2B10"), PAGE_ERR, "PageSize=+10");
	is_str(list(&q, &f, "PageSize=%2010"), PAGE_ERR, "a space before the PageSize");
	is_str(list(&q, &f, "Page=%2B1"), PAGE_ERR, "Page=+1");
	is_str(list(&q, &f, "PageSize=99999999999999999999"), PAGE_ERR, "an overflowing PageSize");
	ok(list(&q, &f, "Page=3&PageSize=20") == NULL && q.page == 3 && q.page_size == 20,
	   "Page=3");
	is_str(list(&q, &f, "Page=-1"), PAGE_ERR, "Page=-1");
	is_str(list(&q, &f, "Page=1000001&PageToken=PT1_CA1"), PAGE_ERR, "Page=1000001");
	ok(list(&q, &f, "Page=2000&PageSize=50") == NULL, "Page 2000 of 50: 100,000 rows deep");
	is_str(list(&q, &f, "Page=2001&PageSize=50"),
	       "Page too deep without a PageToken: follow next_page_uri", "one page more");
	ok(list(&q, &f, "Page=2001&PageSize=50&PageToken=PT1_CA1") == NULL,
	   "as deep as wanted with a PageToken");

	n = api_page_token(tok, sizeof(tok), JAN1 + 123456, "CA0123456789abcdef0123456789abcdef");
	is_int(n, (long long)strlen(tok), "a PageToken: snprintf's count");
	is_str(tok, "PT6474846222240_CA0123456789abcdef0123456789abcdef", "as next_page_uri has it");
	ok(api_parse_token(tok, &created, sid, sizeof(sid)), "parses");
	ok(created == JAN1 + 123456 && strcmp(sid, "CA0123456789abcdef0123456789abcdef") == 0,
	   "back to the same row");
	ok(!api_parse_token(tok, &created, sid, 34) &&
	   api_parse_token(tok, &created, sid, 35) && strlen(sid) == 34,
	   "a SID longer than the buffer is refused, one that fits is whole");
	snprintf(qs, sizeof(qs), "PageSize=20&Page=4&PageToken=%s", tok);
	ok(list(&q, &f, qs) == NULL, "in a query");
	ok(q.token && q.before_created_us == JAN1 + 123456 &&
	   strcmp(q.before_sid, "CA0123456789abcdef0123456789abcdef") == 0, "the page's edge");
	ok(list(&q, &f, "PageToken=") == NULL && !q.token, "an empty PageToken: none");
	is_str(list(&q, &f, "PageToken=PT10_"), "Invalid PageToken", "an empty SID");
	is_str(list(&q, &f, "PageToken=PT-1_CA1"), "Invalid PageToken", "a sign");
	is_str(list(&q, &f, "PageToken=PT%2B10_CA1"), "Invalid PageToken", "a plus sign");
	is_str(list(&q, &f, "PageToken=PT0x10_CA1"), "Invalid PageToken", "0x");
	is_str(list(&q, &f, "PageToken=PT%2010_CA1"), "Invalid PageToken", "a space");
	is_str(list(&q, &f, "PageToken=PT10_CA1%27"), "Invalid PageToken", "a quote in the SID");
	is_str(list(&q, &f, "PageToken=XX10_CA1"), "Invalid PageToken", "not PT");
	is_str(list(&q, &f, "PageToken=PT_CA1"), "Invalid PageToken", "no time");
	is_str(list(&q, &f, "PageToken=PT0_CA1"), "Invalid PageToken", "time 0");
	is_str(list(&q, &f, "PageToken=PT10CA1"), "Invalid PageToken", "no underscore");
	is_str(list(&q, &f, "PageToken=PTzz_CA1"), "Invalid PageToken", "not hex");
	is_str(list(&q, &f, "PageToken=PT10000000000000000_CA1"), "Invalid PageToken",
	       "over 64 bits");
	is_str(list(&q, &f, "PageToken=garbage"), "Invalid PageToken", "garbage");
	memset(sid, 'a', sizeof(sid));
	sid[63] = '\0';
	snprintf(qs, sizeof(qs), "PageToken=PT1_%s", sid);
	ok(list(&q, &f, qs) == NULL && strlen(q.before_sid) == 63, "a 63-byte SID");
	snprintf(qs, sizeof(qs), "PageToken=PT1_%sa", sid);
	is_str(list(&q, &f, qs), "Invalid PageToken", "a 64-byte SID");
	ok(!q.token && !q.before_created_us, "refused: no edge");
	api_form_free(&f);
}

int main(void)
{
	paths();
	auth();
	times();
	list_filters();
	list_paging();
	return tap_done();
}
