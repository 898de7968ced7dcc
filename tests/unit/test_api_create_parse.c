/* test_api_create_parse.c: what POST .../Calls's form parses to, and what
 * each refusal answers (the codes and messages are the API's 400s) */
#include <stdio.h>
#include <string.h>

#include "cxml/cxml.h"
#include "daemon/api_create_parse.h"
#include "daemon/api_form.h"
#include "tests/tap.h"

#define TRUNK "sip:{number}@trunk.example.com;transport=tcp"
#define DOC "Url=https%3A%2F%2Fapp.example.com%2Fanswer"
#define BASE "To=sip%3Abob%40example.com&From=%2B15550001111&" DOC

static struct cxml_policy pol;
static struct api_form form;
static struct api_create K;

/* body parsed, then the create under number_uri tpl: true when taken */
static bool create_tpl(const char *body, const char *tpl)
{
	api_create_free(&K);
	api_form_free(&form);
	if (api_form_parse(&form, body, strlen(body))) {
		memset(&form, 0, sizeof(form));
		memset(&K, 0, sizeof(K));
		K.code = -1;
		return false;
	}
	return api_create_parse(&K, &form, tpl, &pol);
}

static bool create(const char *body)
{
	return create_tpl(body, TRUNK);
}

/* body refused with code and exactly msg */
static void refused(const char *body, int code, const char *msg, const char *what)
{
	ok(!create(body), "%s: refused", what);
	is_int(K.code, code, "%s: code %d", what, code);
	is_str(K.msg, msg, "%s: its message", what);
}

static void to(void)
{
	ok(create(BASE), "a sip: URI");
	is_str(K.p.to, "sip:bob@example.com", "its target");
	is_int((long long)K.p.nhdrs, 0, "no headers");
	ok(K.p.username == NULL && K.p.password == NULL, "no credentials");

	ok(create("To=sip%3Abob%40example.com%3FX-Customer%3D7%26X-Order%3Dab%2520c"
		  "&From=alice&" DOC), "a sip: URI with ?X- headers");
	is_str(K.p.to, "sip:bob@example.com", "headers not in the target");
	is_int((long long)K.p.nhdrs, 2, "two headers");
	is_str(K.p.hdr_names[0], "X-Customer", "the first's name");
	is_str(K.p.hdr_values[0], "7", "its value");
	is_str(K.p.hdr_names[1], "X-Order", "the second's name");
	is_str(K.p.hdr_values[1], "ab c", "its value %%-decoded");

	ok(create("To=sips%3Abob%3As3cret%40example.com&From=alice&" DOC),
	   "sips: with user:password");
	is_str(K.p.username, "bob", "the URI's user is the digest user");
	is_str(K.p.password, "s3cret", "its password the digest password");
	ok(strstr(K.p.to, "s3cret") == NULL, "never in the target");
	ok(create("To=sips%3Abob%3As3cret%40example.com&From=alice&SipAuthUsername=u"
		  "&SipAuthPassword=p&" DOC), "SipAuthUsername too");
	is_str(K.p.username, "u", "takes over the URI's user");
	is_str(K.p.password, "p", "and password");
	ok(create("To=SIP%3Abob%40example.com&From=alice&SipAuthUsername=u&" DOC),
	   "SIP: in capitals; a user without password");
	is_str(K.p.password, "", "an empty password");

	ok(create("To=%2B15551234567&From=alice&" DOC), "an E.164 number");
	is_str(K.p.to, "sip:+15551234567@trunk.example.com;transport=tcp",
	       "dialled through number_uri");
	ok(create("To=5551234&From=alice&" DOC), "digits without +");
	is_str(K.p.to, "sip:5551234@trunk.example.com;transport=tcp", "the same");
	ok(create("To=12&From=alice&" DOC), "two digits");
	ok(create("To=%2B123456789012345&From=alice&" DOC), "+ and 15 digits");

	refused("From=alice&" DOC, 21201, "No 'To' number is specified", "no To");
	refused("To=&From=alice&" DOC, 21201, "No 'To' number is specified", "an empty To");
}

static void to_refused(void)
{
	const char *nonum = "'To' 5551234 is a number and no number_uri names a "
		"trunk to dial it";
	const char *bad = "Invalid 'To' Phone Number: a sip:/sips: URI or an "
		"E.164 number is expected";
	char body[512];

	ok(!create_tpl("To=5551234&From=alice&" DOC, NULL), "a number, no number_uri");
	is_int(K.code, 21215, "21215");
	is_str(K.msg, nonum, "its message");
	ok(!create_tpl("To=5551234&From=alice&" DOC, "sip:trunk.example.com"),
	   "a number_uri without {number}");
	is_int(K.code, 21215, "21215 too");
	refused("To=1&From=alice&" DOC, 21211, bad, "one digit");
	refused("To=%2B1234567890123456&From=alice&" DOC, 21211, bad, "+ and 16 digits");
	refused("To=%2B&From=alice&" DOC, 21211, bad, "a + alone");
	refused("To=555-1234&From=alice&" DOC, 21211, bad, "a dash");
	refused("To=%2B1555+1234&From=alice&" DOC, 21211, bad, "a space");
	refused("To=bob%40example.com&From=alice&" DOC, 21211, bad, "no scheme");
	refused("To=tel%3A%2B15551234567&From=alice&" DOC, 21211, bad, "tel:");
	/* Twilio's client: identities have no SIP meaning here */
	refused("To=client%3Aalice&From=bob&" DOC, 21211, bad, "client:");

	ok(!create("To=sip%3A&From=alice&" DOC), "sip: and nothing");
	ok(K.code != 0 && strncmp(K.msg, "Invalid 'To': ", 14) == 0,
	   "Invalid 'To': with the parser's reason (%d %s)", K.code, K.msg);
	ok(!create("To=sip%3Abob%40example.com%3FVia%3Dx&From=alice&" DOC),
	   "a header the policy refuses");
	ok(K.code != 0, "its policy code (%d)", K.code);
	/* the message carries the policy's reason: compare its start */
	snprintf(body, sizeof(body), "%.25s", K.msg);
	is_str(body, "'To' header Via refused: ", "'To' header Via refused: <reason>");
}

static void from(void)
{
	char body[1024], big[300];

	ok(create(BASE), "From as a number");
	is_str(K.p.from, "+15550001111", "the From user");
	is_str(K.p.from_display, "+15550001111", "displayed as given");
	ok(create("To=sip%3Ab%40h&From=sip%3Aalice%40example.com%3Bx%3Dy&" DOC),
	   "From as a SIP URI");
	is_str(K.p.from, "alice", "its user");
	is_str(K.p.from_display, "sip:alice@example.com;x=y", "displayed as given");
	ok(create("To=sip%3Ab%40h&From=alice&CallerId=sips%3Acarol%40x&" DOC),
	   "a CallerId");
	is_str(K.p.from, "carol", "the From user is the CallerId's");
	is_str(K.p.from_display, "alice", "From still displayed");
	ok(create("To=sip%3Ab%40h&From=alice&CallerId=&" DOC), "an empty CallerId");
	is_str(K.p.from, "alice", "From's user");

	refused("To=sip%3Ab%40h&" DOC, 21213, "No 'From' number is specified", "no From");
	refused("To=sip%3Ab%40h&From=&" DOC, 21213, "No 'From' number is specified",
		"an empty From");
	refused("To=sip%3Ab%40h&From=a%0Ab&" DOC, 21212, "Invalid 'From' (or CallerId): "
		"at most 255 characters, no control characters", "a LF in From");
	refused("To=sip%3Ab%40h&From=a&CallerId=x%7F&" DOC, 21212, "Invalid 'From' "
		"(or CallerId): at most 255 characters, no control characters",
		"DEL in CallerId");
	memset(big, 'a', sizeof(big));
	big[255] = '\0';
	snprintf(body, sizeof(body), "To=sip%%3Ab%%40h&From=%s&%s", big, DOC);
	ok(create(body), "a From of 255 characters");
	big[255] = 'a';
	big[256] = '\0';
	snprintf(body, sizeof(body), "To=sip%%3Ab%%40h&From=%s&%s", big, DOC);
	refused(body, 21212, "Invalid 'From' (or CallerId): at most 255 characters, "
		"no control characters", "256 characters");
	refused("To=sip%3Ab%40h&From=a+b&" DOC, 21212, "Invalid 'From': a b", "a space");
	refused("To=sip%3Ab%40h&From=%40example.com&" DOC, 21212,
		"Invalid 'From': @example.com", "no user");
	refused("To=sip%3Ab%40h&From=sip%3A&" DOC, 21212, "Invalid 'From': sip:",
		"sip: alone");
	refused("To=sip%3Ab%40h&From=a%3Cb&" DOC, 21212, "Invalid 'From': a<b", "a <");
	refused("To=sip%3Ab%40h&From=alice&CallerId=%22c%22&" DOC, 21212,
		"Invalid 'From': alice", "a quoted CallerId names From");
}

static void document(void)
{
	ok(create(BASE), "a Url");
	is_str(K.p.url, "https://app.example.com/answer", "absolute");
	ok(!K.p.url_get && K.p.twiml == NULL, "POST, no Twiml");
	is_int((long long)K.p.nwarnings, 0, "no warnings");
	ok(create(BASE "&Method=get"), "Method=get");
	ok(K.p.url_get, "GET in any case");
	ok(create(BASE "&Method=POST&FallbackUrl=http%3A%2F%2Ffb.example%2Fx"
		  "&FallbackMethod=GET"), "FallbackUrl and FallbackMethod");
	is_str(K.p.fallback_url, "http://fb.example/x", "the fallback");
	ok(!K.p.url_get && K.p.fallback_get, "POST and GET");
	ok(create(BASE "&Method="), "an empty Method: POST");
	ok(!K.p.url_get, "POST");

	ok(create("To=sip%3Ab%40h&From=a&Twiml=%3CResponse%3E%3CHangup%2F%3E%3C%2FResponse%3E"),
	   "an inline Twiml");
	is_str(K.p.twiml, "<Response><Hangup/></Response>", "lent as given");
	ok(K.p.url == NULL, "no Url");
	ok(create("To=sip%3Ab%40h&From=a&Laml=%3CResponse%2F%3E"), "Laml");
	is_str(K.p.twiml, "<Response/>", "Laml is Twiml");
	ok(create(BASE "&Twiml=%3CResponse%2F%3E"), "Url and Twiml");
	ok(K.p.url && !K.p.twiml, "the Url wins");
	is_int((long long)K.p.nwarnings, 1, "one warning");
	is_str(K.p.warnings[0], "Twiml (Url given: ignored)", "Twiml ignored");

	refused("To=sip%3Ab%40h&From=a", 21205, "Url parameter is required", "no document");
	refused("To=sip%3Ab%40h&From=a&Url=&Twiml=", 21205, "Url parameter is required",
		"empty Url and Twiml");
	refused("To=sip%3Ab%40h&From=a&ApplicationSid=AP1", 21205, "ApplicationSid is "
		"not supported by this dialerd: give Url or Twiml", "ApplicationSid");
	refused("To=sip%3Ab%40h&From=a&Url=ftp%3A%2F%2Fx%2Fy", 21205,
		"Url is not a valid http(s) URL", "an ftp Url");
	refused("To=sip%3Ab%40h&From=a&Url=%2Fanswer", 21205,
		"Url is not a valid http(s) URL", "a relative Url");
	refused(BASE "&Method=PUT", 21209, "Method must be GET or POST", "Method=PUT");
	refused(BASE "&FallbackUrl=nope", 21609, "FallbackUrl is not a valid http(s) URL",
		"a bad FallbackUrl");
	refused(BASE "&FallbackMethod=HEAD", 21209, "FallbackMethod must be GET or POST",
		"FallbackMethod=HEAD");
	ok(!create("To=sip%3Ab%40h&From=a&Twiml=%3CResponse%3E"), "an unclosed Twiml");
	ok(K.code != 0 && strncmp(K.msg, "Invalid Twiml: ", 15) == 0,
	   "Invalid Twiml: with its cXML code (%d %s)", K.code, K.msg);
	ok(!create("To=sip%3Ab%40h&From=a&Twiml=%3CNope%2F%3E"),
	   "another root element");
	ok(K.code != 0 && strncmp(K.msg, "Invalid Twiml: ", 15) == 0, "Invalid Twiml");
	{
		static char body[24576];
		size_t n = (size_t)snprintf(body, sizeof(body),
					    "To=sip%%3Ab%%40h&From=a&Twiml=%%3CResponse%%3E");

		/* 4000 characters: é is 2 bytes (%C3%A9), one character */
		memcpy(body + n, "%3CSay%3E", 9);
		n += 9;
		for (int i = 0; i < 4000 - 10 - 5 - 6 - 11; i++, n += 6)
			memcpy(body + n, "%C3%A9", 6);
		memcpy(body + n, "%3C%2FSay%3E%3C%2FResponse%3E", 29);
		body[n + 29] = '\0';
		ok(create(body), "a Twiml of 4000 characters (more bytes)");
		is_int((long long)strlen(K.p.twiml), 4000 + 3968, "in 7968 bytes");
		memmove(body + n + 6, body + n, 30);
		memcpy(body + n, "%C3%A9", 6);
		refused(body, 21205, "Twiml is longer than 4000 characters", "4001 characters");
	}
}

static void callback(void)
{
	ok(create(BASE), "no StatusCallback");
	ok(K.p.status_callback == NULL, "none");
	is_int(K.p.events, CALL_CB_COMPLETED, "completed by default");
	ok(create(BASE "&StatusCallback=https%3A%2F%2Fcb.example%2Fs"
		  "&StatusCallbackMethod=GET&StatusCallbackEvent=initiated"
		  "&StatusCallbackEvent=ringing&StatusCallbackEvent=answered"),
	   "StatusCallbackEvent repeated");
	is_str(K.p.status_callback, "https://cb.example/s", "the callback");
	ok(K.p.status_callback_get, "GET");
	is_int(K.p.events, CALL_CB_INITIATED | CALL_CB_RINGING | CALL_CB_ANSWERED,
	       "three events (completed not added)");
	ok(create(BASE "&StatusCallback=https%3A%2F%2Fcb.example%2Fs"
		  "&StatusCallbackEvent=initiated+ringing&StatusCallbackEvent=completed"),
	   "space-separated and repeated");
	is_int(K.p.events, CALL_CB_INITIATED | CALL_CB_RINGING | CALL_CB_COMPLETED,
	       "three events");
	ok(!K.p.status_callback_get, "POST");
	ok(create(BASE "&StatusCallbackEvent=answered%2Ccompleted"), "comma-separated");
	is_int(K.p.events, CALL_CB_ANSWERED | CALL_CB_COMPLETED, "two events");
	ok(create(BASE "&StatusCallbackEvent="), "an empty event");
	is_int(K.p.events, CALL_CB_COMPLETED, "the default");

	refused(BASE "&StatusCallback=mailto%3Ax", 21609,
		"StatusCallback is not a valid http(s) URL", "a mailto StatusCallback");
	refused(BASE "&StatusCallbackMethod=DELETE", 21209,
		"StatusCallbackMethod must be GET or POST", "StatusCallbackMethod=DELETE");
	refused(BASE "&StatusCallbackEvent=initiated+queued", 21626,
		"Invalid StatusCallbackEvent 'queued': initiated, ringing, answered "
		"or completed", "queued");
	refused(BASE "&StatusCallbackEvent=ringing&StatusCallbackEvent=Ringing", 21626,
		"Invalid StatusCallbackEvent 'Ringing': initiated, ringing, answered "
		"or completed", "case-sensitive");
}

static void limits(void)
{
	const char *to = "Timeout must be an integer from 1 to 600";
	const char *tl = "TimeLimit must be an integer from 1 to 86400";
	char big[300], body[1024];

	ok(create(BASE), "no Timeout, no TimeLimit");
	is_int(K.p.timeout_s, 60, "60 s ringing");
	is_int(K.p.time_limit_s, 14400, "4 h answered");
	ok(create(BASE "&Timeout=1&TimeLimit=1"), "the lower bounds");
	ok(K.p.timeout_s == 1 && K.p.time_limit_s == 1, "1 and 1");
	ok(create(BASE "&Timeout=600&TimeLimit=86400"), "the upper bounds");
	ok(K.p.timeout_s == 600 && K.p.time_limit_s == 86400, "600 and 86400");
	ok(create(BASE "&Timeout=030"), "a leading zero");
	is_int(K.p.timeout_s, 30, "decimal");
	ok(create(BASE "&Timeout=&TimeLimit="), "empty: the defaults");
	ok(K.p.timeout_s == 60 && K.p.time_limit_s == 14400, "60 and 14400");

	refused(BASE "&Timeout=0", 21208, to, "Timeout=0");
	refused(BASE "&Timeout=601", 21208, to, "Timeout=601");
	refused(BASE "&Timeout=%2B30", 21208, to, "Timeout=+30 (digits only)");
	refused(BASE "&Timeout=-0", 21208, to, "Timeout=-0");
	refused(BASE "&Timeout=+30", 21208, to, "Timeout=' 30' (a leading space)");
	refused(BASE "&Timeout=30+", 21208, to, "Timeout='30 '");
	refused(BASE "&Timeout=0x1e", 21208, to, "Timeout=0x1e");
	refused(BASE "&Timeout=99999999999999999999", 21208, to, "an overflow");
	refused(BASE "&TimeLimit=0", 21208, tl, "TimeLimit=0");
	refused(BASE "&TimeLimit=86401", 21208, tl, "TimeLimit=86401");
	refused(BASE "&TimeLimit=1.5", 21208, tl, "TimeLimit=1.5");

	refused(BASE "&SipAuthUsername=a%22b", 21221, "SipAuthUsername: at most 255 "
		"characters, no quotes, backslashes or control characters", "a quote");
	refused(BASE "&SipAuthUsername=a%5Cb", 21221, "SipAuthUsername: at most 255 "
		"characters, no quotes, backslashes or control characters", "a backslash");
	refused(BASE "&SipAuthUsername=u&SipAuthPassword=a%0Db", 21223,
		"SipAuthPassword: at most 255 characters, no control characters",
		"a CR in the password");
	memset(big, 'p', sizeof(big));
	big[256] = '\0';
	snprintf(body, sizeof(body), "%s&SipAuthUsername=u&SipAuthPassword=%s", BASE, big);
	refused(body, 21223, "SipAuthPassword: at most 255 characters, no control "
		"characters", "a 256-character password");
	ok(create(BASE "&SipAuthPassword=p"), "a password without user");
	ok(K.p.username == NULL, "no credentials");
}

static void warnings(void)
{
	char body[2048];
	size_t n;

	ok(create(BASE "&SendDigits=1234&Record=true&RecordingStatusCallback=x"
		  "&MachineDetection=Enable&AsyncAmd=true&Trim=do-not-trim&Other=1"),
	   "media parameters taken");
	is_int((long long)K.p.nwarnings, 6, "a warning each, none for Other");
	is_str(K.p.warnings[0], "SendDigits", "named");
	is_str(K.p.warnings[5], "Trim", "in order");
	n = (size_t)snprintf(body, sizeof(body), "%s&Twiml=%%3CResponse%%2F%%3E", BASE);
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "&Record%d=x", i);
	ok(create(body), "20 of them and the ignored Twiml");
	is_int((long long)K.p.nwarnings, 16, "at most 16");
	is_str(K.p.warnings[0], "Twiml (Url given: ignored)", "the Twiml first");
}

/* the first refusal in the documented order answers */
static void order(void)
{
	refused("Timeout=0&Method=PUT&From=", 21201, "No 'To' number is specified",
		"To before everything");
	refused("To=sip%3Ab%40h&Timeout=0&Method=PUT", 21213,
		"No 'From' number is specified", "From before the document");
	refused("To=sip%3Ab%40h&From=a&Timeout=0&Method=PUT&" DOC, 21209,
		"Method must be GET or POST", "the document before the limits");
	refused("To=sip%3Ab%40h&From=a&Timeout=0&StatusCallbackEvent=x&" DOC, 21626,
		"Invalid StatusCallbackEvent 'x': initiated, ringing, answered or "
		"completed", "the callback before the limits");
}

int main(void)
{
	cxml_policy_default(&pol);
	to();
	to_refused();
	from();
	document();
	callback();
	limits();
	warnings();
	order();
	api_create_free(&K);
	api_form_free(&form);
	return tap_done();
}
