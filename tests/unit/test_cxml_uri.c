/* test_cxml_uri.c: sip: URI parsing and the header policy (escapes, injection, limits, IPv6) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "cxml/cxml.h"
#include "tests/tap.h"

static struct cxml_sip_uri *U;
static struct cxml_diags D;

static int up(const char *s, const struct cxml_policy *pol)
{
	U = cxml_sip_uri_free(U);
	cxml_diags_clear(&D);
	return cxml_sip_uri_parse(s, pol, &U, &D);
}

static int u(const char *s)
{
	return up(s, NULL);
}

static const struct cxml_sip_refusal *refused(const char *name)
{
	size_t i;

	for (i = 0; U && i < U->nrefused; i++)
		if (!strcmp(U->refused[i].name, name))
			return &U->refused[i];
	return NULL;
}

static const char *hdr(const char *name)
{
	size_t i;

	for (i = 0; U && i < U->nhdrs; i++)
		if (!strcmp(U->hdrs[i].name, name))
			return U->hdrs[i].value;
	return NULL;
}

static void test_structure(void)
{
	is_int(u("sip:bob@example.com"), 0, "plain URI");
	is_str(U->target, "sip:bob@example.com", "target");
	is_str(U->user, "bob", "user");
	is_str(U->host, "example.com", "host");
	ok(U->port == 0 && U->transport == CXML_TRANSPORT_DEFAULT && !U->sips &&
	   !U->srtp, "no port, default transport");
	is_int(u("SIP:bob@example.com:5080"), 0, "scheme case-insensitive, port");
	is_int(U->port, 5080, "port 5080");
	is_str(U->target, "sip:bob@example.com:5080", "target normalized scheme");
	is_int(u("sips:bob@example.com"), 0, "sips");
	ok(U->sips && U->transport == CXML_TRANSPORT_TLS, "sips means TLS");
	is_int(u("sips:bob@example.com;transport=tcp"), 0, "sips over tcp");
	is_int(U->transport, CXML_TRANSPORT_TLS, "still TLS");
	is_int(u("sips:bob@example.com;transport=udp"), EBADMSG, "sips over udp refused");
	is_int(u("sip:bob@example.com;transport=udp"), 0, "transport=udp");
	is_int(U->transport, CXML_TRANSPORT_UDP, "udp");
	is_int(u("sip:bob@example.com;transport=TCP"), 0, "transport=TCP");
	is_int(U->transport, CXML_TRANSPORT_TCP, "tcp");
	is_int(u("sip:bob@example.com;transport=tls"), 0, "transport=tls");
	is_int(U->transport, CXML_TRANSPORT_TLS, "tls");
	is_int(u("sip:bob@example.com;transport=sctp"), EBADMSG, "sctp refused");
	ok(D.n && D.v[0].code == 32110 && D.v[0].sev == CXML_ERROR, "... 32110 error");
	is_int(u("sip:bob@example.com;transport=udp;transport=tcp"), EBADMSG,
	       "transport twice");
	is_int(u("sip:bob@example.com;secure=true;region=ie1;edge=dublin;lr;user=phone"), 0,
	       "secure, region, edge");
	ok(U->srtp && U->transport == CXML_TRANSPORT_TLS, "secure=true: SRTP and TLS");
	is_str(U->target, "sip:bob@example.com;lr;user=phone",
	       "secure/region/edge consumed, other params kept");
	is_int(u("sip:bob@example.com;secure=true;transport=tcp"), 0, "secure over tcp");
	is_int(U->transport, CXML_TRANSPORT_TCP, "explicit transport wins");
	is_int(u("sip:bob@example.com;secure=maybe"), EBADMSG, "secure=maybe");

	/* IPv6 */
	is_int(u("sip:alice@[2001:db8::1]:5061;transport=tls"), 0, "IPv6 with port");
	ok(U->host_ipv6 && !strcmp(U->host, "2001:db8::1") && U->port == 5061,
	   "IPv6 host and port");
	is_str(U->target, "sip:alice@[2001:db8::1]:5061;transport=tls", "IPv6 target");
	is_int(u("sip:[::1]"), 0, "IPv6 without user");
	is_str(U->user, "", "empty user");
	is_int(u("sip:alice@[2001:db8::zz]"), EBADMSG, "bad IPv6");
	is_int(u("sip:alice@[2001:db8::1"), EBADMSG, "unclosed IPv6");
	is_int(u("sip:alice@2001:db8::1"), EBADMSG, "unbracketed IPv6");

	/* malformed */
	is_int(u(""), EBADMSG, "empty");
	is_int(u("bob@example.com"), EBADMSG, "no scheme");
	is_int(u("tel:+15551234567"), EBADMSG, "tel:");
	is_int(u("sip:"), EBADMSG, "no host");
	is_int(u("sip:bob@"), EBADMSG, "empty host");
	is_int(u("sip:@example.com"), EBADMSG, "empty user before @");
	is_int(u("sip:bob@example.com:0"), EBADMSG, "port 0");
	is_int(u("sip:bob@example.com:65536"), EBADMSG, "port 65536");
	is_int(u("sip:bob@example.com:50x"), EBADMSG, "port 50x");
	is_int(u("sip:bob smith@example.com"), EBADMSG, "space in user");
	is_int(u("sip:bob@exa_mple.com"), EBADMSG, "underscore in host");
	is_int(u("sip:bob@example..com"), EBADMSG, "empty label");
	is_int(u("sip:b<o>b@example.com"), EBADMSG, "unescaped < in user");
	is_int(u("sip:b%4@example.com"), EBADMSG, "short escape in user");
	is_int(u("sip:%2B1555%20x@example.com"), 0, "escaped user");
	is_str(U->user, "+1555 x", "user percent-decoded");
	is_str(U->target, "sip:%2B1555%20x@example.com", "target keeps escapes");
	is_int(u("sip:+15551234567;npdi@gw.example;user=phone"), 0, "user params");
	is_str(U->user, "+15551234567;npdi", "user with ;");
	is_int(u("sip:bob:pw@example.com"), 0, "user:password");
	is_str(U->user, "bob", "user without password");
	is_str(U->target, "sip:bob@example.com", "target without the password");
	is_str(U->password, "pw", "the password apart");
	is_int(u("sip:bob@example.com"), 0, "no password");
	ok(U->password == NULL, "password NULL");
	is_int(u("sip:bob@example.com;=x"), EBADMSG, "empty param name");
	is_int(cxml_sip_uri_parse(NULL, NULL, &U, &D), EINVAL, "NULL is EINVAL");
}

static void test_headers(void)
{
	const struct cxml_sip_refusal *r;
	struct cxml_policy pol;
	char *big;
	size_t i, o;

	is_int(u("sip:bob@example.com?X-Foo=1&X-Bar=two"), 0, "two headers");
	is_int((long long)U->nhdrs, 2, "both allowed");
	is_str(U->hdrs[0].name, "X-Foo", "first in order");
	is_str(U->hdrs[1].value, "two", "second value");
	is_str(U->target, "sip:bob@example.com", "headers removed from target");
	is_int((long long)U->hdr_bytes, (long long)(strlen("X-Foo: 1\r\n") + strlen("X-Bar: two\r\n")),
	       "hdr_bytes counts the wire form");
	is_int(u("sip:bob@example.com?X-customName=Bob%2CShield%2BTitle%2DManager"), 0,
	       "Twilio escape example");
	is_str(hdr("X-customName"), "Bob,Shield+Title-Manager", "decoded");
	is_int(u("sip:bob@example.com?User-to-User=0A1B2C3D%3Bencoding%3Dhex"), 0, "UUI");
	is_str(hdr("User-to-User"), "0A1B2C3D;encoding=hex", "UUI decoded");
	is_int(u("sip:b@h?Remote-Party-ID=%3Csip%3A1%40h%3E&P-Preferred-Identity=x&"
		 "P-Called-Party-ID=y&Diversion=%3Csip%3A2%40h%3E&Diversion=z"), 0,
	       "standard names");
	is_int((long long)U->nhdrs, 5, "all five allowed (Diversion may repeat)");
	is_str(hdr("Remote-Party-ID"), "<sip:1@h>", "Remote-Party-ID decoded");

	/* injection */
	is_int(u("sip:b@h?X-A=1%0D%0AVia:%20evil&X-B=ok"), 0, "CRLF injection is a refusal");
	r = refused("X-A");
	ok(r && r->code == 21229 && !strcmp(r->value, "1\r\nVia: evil"),
	   "CRLF value refused with 21229, decoded value kept");
	is_str(hdr("X-B"), "ok", "the next header still goes");
	ok(D.n == 1 && D.v[0].sev == CXML_WARNING && D.v[0].code == 21229,
	   "reported as a warning");
	is_int(u("sip:b@h?X-A=a%0Ab"), 0, "bare LF");
	ok(refused("X-A") && refused("X-A")->code == 21229, "LF refused");
	is_int(u("sip:b@h?X-A=a%00b"), 0, "NUL");
	ok(refused("X-A") != NULL, "NUL refused");
	is_int(u("sip:b@h?X-A=a%07b"), 0, "BEL");
	ok(refused("X-A") && refused("X-A")->code == 21229, "control char refused");
	is_int(u("sip:b@h?X-A%0D%0AVia=1"), 0, "CRLF in name");
	ok(U->nhdrs == 0 && U->nrefused == 1 && U->refused[0].code == 21228,
	   "name with CRLF refused (21228)");
	is_int(u("sip:b@h?X-A:b=1"), 0, "colon in name");
	ok(refused("X-A:b") && refused("X-A:b")->code == 21228, "non-token name refused");

	/* names */
	is_int(u("sip:b@h?Via=1&Contact=2&Call-ID=3&i=4&Content-Type=5&CSeq=6&"
		 "Max-Forwards=7&Route=8&Authorization=9&From=a&To=b&t=c"), 0,
	       "structural headers");
	is_int((long long)U->nhdrs, 0, "none allowed");
	is_int((long long)U->nrefused, 12, "all refused");
	for (i = 0, o = 0; i < U->nrefused; i++)
		if (U->refused[i].code == 13252)
			o++;
	is_int((long long)o, 12, "all as 13252");
	is_int(u("sip:b@h?X-Twilio-CallSid=CA1&x-twilio-accountsid=AC&X-SignalWire-Foo=1&X-Twilioish=2"),
	       0, "reserved prefixes");
	is_int((long long)U->nhdrs, 0, "none allowed");
	ok(refused("X-Twilio-CallSid") && refused("X-Twilio-CallSid")->code == 32113 &&
	   refused("x-twilio-accountsid") && refused("X-SignalWire-Foo") &&
	   refused("X-Twilioish"), "all refused with 32113, any case");
	is_int(u("sip:b@h?Foo=1&x-lower=2"), 0, "non-X name");
	r = refused("Foo");
	ok(r && r->code == 13252 && r->source == CXML_HDR_URI && r->reason && *r->reason,
	   "Foo refused 13252 with a reason");
	is_str(hdr("x-lower"), "2", "lower-case x- allowed");

	/* duplicates, empty values, missing '=' and bad escapes */
	is_int(u("sip:b@h?X-A=1&x-a=2"), 0, "duplicate name");
	ok(U->nhdrs == 1 && !strcmp(U->hdrs[0].value, "1") && refused("x-a") &&
	   refused("x-a")->code == 13252, "first wins, repeat refused");
	is_int(u("sip:b@h?X-Empty=&X-B=1"), 0, "empty value");
	is_str(hdr("X-Empty"), "", "empty value allowed");
	is_int(u("sip:b@h?X-NoEq&X-B=1"), 0, "missing =");
	ok(refused("X-NoEq") && refused("X-NoEq")->code == 32110, "... refused 32110");
	is_int(u("sip:b@h?X-A=%G1&X-B=1"), 0, "bad escape");
	ok(refused("X-A") && refused("X-A")->code == 32110 && hdr("X-B"),
	   "bad escape refused 32110, rest kept");
	is_int(u("sip:b@h?X-A=a,b&X-B=c@d"), 0, "unescaped , and @");
	ok(refused("X-A") && refused("X-B") && U->nhdrs == 0, "both refused (32110)");
	is_int(u("sip:b@h?&&X-A=1&"), 0, "empty segments");
	is_int((long long)U->nhdrs, 1, "ignored");
	is_int(u("sip:b@h?=1"), 0, "empty name");
	ok(U->nrefused == 1 && U->refused[0].code == 21228, "empty name refused");
	is_int(u("sip:b@h?X-A=x%3Fy/z:[1]+$"), 0, "hnv-unreserved characters");
	is_str(hdr("X-A"), "x?y/z:[1]+$", "kept");

	/* sizes */
	big = malloc(20000);
	if (!big)
		return;
	o = (size_t)sprintf(big, "sip:b@h?X-Big=");
	memset(big + o, 'v', 4097);
	o += 4097;
	o += (size_t)sprintf(big + o, "&X-Ok=%0*d", 4096, 7);
	big[o] = '\0';
	is_int(u(big), 0, "4097-byte value is a refusal, not an error");
	r = refused("X-Big");
	ok(r && r->code == 21227 && r->truncated && strlen(r->value) == 256,
	   "21227, stored value truncated to 256 bytes");
	ok(hdr("X-Ok") && strlen(hdr("X-Ok")) == 4096, "4096-byte value allowed");
	/* total: three 4000-byte values do not fit in 8192 */
	o = (size_t)sprintf(big, "sip:b@h?");
	for (i = 0; i < 3; i++) {
		o += (size_t)sprintf(big + o, "%sX-%zu=", i ? "&" : "", i);
		memset(big + o, 'a', 4000);
		o += 4000;
	}
	o += (size_t)sprintf(big + o, "&X-Small=1");
	big[o] = '\0';
	is_int(u(big), 0, "over the total");
	ok(U->nhdrs == 3 && hdr("X-0") && hdr("X-1") && hdr("X-Small") &&
	   refused("X-2") && refused("X-2")->code == 21227,
	   "the one that does not fit is left out, later ones still go");
	ok(U->hdr_bytes <= 8192, "hdr_bytes within 8192");
	cxml_policy_default(&pol);
	pol.oversize_is_error = true;
	is_int(up(big, &pol), EBADMSG, "REST mode: over a limit is an error");
	ok(D.n && cxml_diags_first_error(&D) &&
	   cxml_diags_first_error(&D)->code == 21227, "error 21227");
	U = NULL;     /* not allocated on error */
	pol.oversize_is_error = false;
	pol.max_value = 10;
	is_int(up("sip:b@h?X-A=12345678901", &pol), 0, "configurable value limit");
	ok(refused("X-A") && refused("X-A")->code == 21227, "11 > 10 refused");
	free(big);

	/* item cap: thousands of items are read as 64 plus one summary */
	big = malloc(70000);
	if (!big)
		return;
	o = (size_t)sprintf(big, "sip:b@h?");
	for (i = 0; i < 3000; i++)
		o += (size_t)sprintf(big + o, "%sX-%zu=1", i ? "&" : "", i % 50);
	is_int(u(big), 0, "3000 header items");
	ok(U->nhdrs + U->nrefused == 65, "64 read, one summary refusal (got %zu + %zu)",
	   U->nhdrs, U->nrefused);
	r = refused("*");
	ok(r && r->code == 21227 && strstr(r->reason, "2936 more"), "summary counts the rest");
	cxml_policy_default(&pol);
	pol.oversize_is_error = true;
	is_int(up(big, &pol), EBADMSG, "REST mode: too many items is an error");
	U = NULL;
	free(big);

	/* the prefix option */
	cxml_policy_default(&pol);
	pol.prefix_non_x = true;
	is_int(up("sip:b@h?Foo=1&Twilio-Sid=2&Via=3&User-to-User=4", &pol), 0,
	       "prefix_non_x");
	is_str(hdr("X-Foo"), "1", "Foo sent as X-Foo");
	ok(refused("Twilio-Sid") && refused("Twilio-Sid")->code == 32113,
	   "X-Twilio-Sid after prefixing is reserved");
	ok(refused("Via") && refused("Via")->code == 13252, "structural still refused");
	is_str(hdr("User-to-User"), "4", "standard name unchanged");
	is_int(up("sip:b@h?Foo=a%0Db&Bar=1&Bar=2", &pol), 0,
	       "prefix_non_x with a bad value and a duplicate");
	ok(refused("Foo") && refused("Foo")->code == 21229,
	   "a prefixed name's refusal records the name as given");
	ok(refused("Bar") && refused("Bar")->code == 13252, "... and for a duplicate");
	ok(D.n && strstr(D.v[0].msg, "\"Foo\" not sent"),
	   "the message names it as given: %s", D.n ? D.v[0].msg : "");
	is_int(cxml_header_name_check(NULL, "X-Ok", NULL), 0, "name check X-Ok");
	is_int(cxml_header_name_check(NULL, "Contact", NULL), 13252, "name check Contact");
	is_int(cxml_header_name_check(NULL, "X-Twilio-X", NULL), 32113, "name check X-Twilio-X");
	is_int(cxml_header_name_check(NULL, "a b", NULL), 21228, "name check a b");
	is_int(cxml_header_name_check(NULL, "Diversion", NULL), 0, "name check Diversion");
}

int main(void)
{
	test_structure();
	test_headers();
	U = cxml_sip_uri_free(U);
	cxml_diags_free(&D);
	xmlCleanupParser();
	return tap_done();
}
