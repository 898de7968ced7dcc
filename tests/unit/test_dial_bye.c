/* test_dial_bye.c: the BYE of an orphaned dialog, built from its INVITE and 2xx (RFC 3261 12.1, 12.2.1.1): both sides, the route set's order, bad input */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dial/core.h"
#include "tests/tap.h"

/* dialerd called (UAC): through two proxies that Record-Route */
static const char out_inv[] =
	"INVITE sip:bob@10.0.0.3 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
	"From: \"Carol\" <sip:+15550199@10.0.0.1>;tag=ours\r\n"
	"To: <sip:bob@10.0.0.3>\r\n"
	"Call-ID: out-1@10.0.0.1\r\n"
	"CSeq: 102 INVITE\r\n"
	"Contact: <sip:10.0.0.1:5060>\r\n"
	"\r\n";
static const char out_ok[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
	"Record-Route: <sip:p2.example.net;lr>, <sip:p1b.example.net;lr>\r\n"
	"Record-Route: <sip:p1.example.net;lr;ftag=ours>\r\n"
	"From: \"Carol\" <sip:+15550199@10.0.0.1>;tag=ours\r\n"
	"To: <sip:bob@10.0.0.3>;tag=theirs\r\n"
	"Call-ID: out-1@10.0.0.1\r\n"
	"CSeq: 102 INVITE\r\n"
	"Contact: <sip:bob@10.0.0.3:5070;transport=tcp>\r\n"
	"\r\n";

/* dialerd answered (UAS): the caller's INVITE came through one proxy */
static const char in_inv[] =
	"INVITE sip:+15550100@10.0.0.1 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp\r\n"
	"Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKc\r\n"
	"Record-Route: <sip:10.0.0.9;lr>\r\n"
	"f: <sip:carol@10.0.0.2>;tag=c1\r\n"
	"t: <sip:+15550100@10.0.0.1>\r\n"
	"i: in-1@10.0.0.2\r\n"
	"CSeq: 7 INVITE\r\n"
	"m: <sip:carol@10.0.0.2:5062>\r\n"
	"\r\n";
static const char in_ok[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp\r\n"
	"Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKc\r\n"
	"Record-Route: <sip:10.0.0.9;lr>\r\n"
	"From: <sip:carol@10.0.0.2>;tag=c1\r\n"
	"To: <sip:+15550100@10.0.0.1>;tag=d1\r\n"
	"Call-ID: in-1@10.0.0.2\r\n"
	"CSeq: 7 INVITE\r\n"
	"Contact: <sip:10.0.0.1:5060>\r\n"
	"\r\n";

static void test_uac(void)
{
	struct dial_bye_msg *m = NULL;

	is_int(dial_bye_build(&m, out_inv, out_ok, true, 103, "dialerd"), 0,
	       "we called: a BYE");
	if (!m)
		return;
	is_str(m->ruri, "sip:bob@10.0.0.3:5070;transport=tcp",
	       "Request-URI: the callee's Contact");
	is_str(m->next_hop, "sip:p1.example.net;lr;ftag=ours",
	       "next hop: the last Record-Route (the route set reversed)");
	is_str(m->hdrs,
	       "To: <sip:bob@10.0.0.3>;tag=theirs\r\n"
	       "From: \"Carol\" <sip:+15550199@10.0.0.1>;tag=ours\r\n"
	       "Call-ID: out-1@10.0.0.1\r\n"
	       "CSeq: 103 BYE\r\n"
	       "Route: <sip:p1.example.net;lr;ftag=ours>\r\n"
	       "Route: <sip:p1b.example.net;lr>\r\n"
	       "Route: <sip:p2.example.net;lr>\r\n"
	       "Reason: Q.850;cause=41;text=\"dialerd process lost\"\r\n"
	       "User-Agent: dialerd\r\n"
	       "Content-Length: 0\r\n"
	       "\r\n",
	       "From: ours with our tag, To: with theirs, the routes reversed "
	       "(a comma list split), our CSeq, a Reason");
	mem_deref(m);
}

static void test_uas(void)
{
	struct dial_bye_msg *m = NULL;

	is_int(dial_bye_build(&m, in_inv, in_ok, false, 1, NULL), 0,
	       "we answered: a BYE (compact headers in the INVITE)");
	if (!m)
		return;
	is_str(m->ruri, "sip:carol@10.0.0.2:5062", "Request-URI: the caller's Contact");
	is_str(m->next_hop, "sip:10.0.0.9;lr", "next hop: the first Record-Route");
	ok(strstr(m->hdrs, "To: <sip:carol@10.0.0.2>;tag=c1\r\n") == m->hdrs,
	   "To: the caller's From, its tag");
	ok(strstr(m->hdrs, "From: <sip:+15550100@10.0.0.1>;tag=d1\r\n") != NULL,
	   "From: our To of the 200, our tag");
	ok(strstr(m->hdrs, "CSeq: 1 BYE\r\nRoute: <sip:10.0.0.9;lr>\r\nReason:") != NULL,
	   "CSeq 1 (we sent nothing in it), the route set in order");
	mem_deref(m);
	is_int(dial_bye_build(&m, out_inv, "SIP/2.0 200 OK\r\nTo: <sip:b>;tag=x\r\n"
			      "Call-ID: out-1@10.0.0.1\r\nCSeq: 102 INVITE\r\n"
			      "Contact: <sip:b@h>\r\n\r\n", true, 103, NULL), 0,
	       "no Record-Route: a BYE");
	ok(m && !m->next_hop && !strstr(m->hdrs, "Route:"), "with no Route and no next hop");
	mem_deref(m);
}

static void test_bad(void)
{
	struct dial_bye_msg *m = (void *)1;
	char *s;

	is_int(dial_bye_build(&m, NULL, out_ok, true, 1, NULL), EINVAL, "no INVITE: EINVAL");
	ok(m == NULL, "and nothing made");
	is_int(dial_bye_build(&m, out_ok, out_ok, true, 1, NULL), EBADMSG,
	       "a response for the INVITE: EBADMSG");
	is_int(dial_bye_build(&m, out_inv, out_inv, true, 1, NULL), EBADMSG,
	       "a request for the 2xx: EBADMSG");
	is_int(dial_bye_build(&m, out_inv, in_ok, true, 1, NULL), EBADMSG,
	       "another dialog's 2xx (Call-ID): EBADMSG");
	s = strdup(out_ok);
	memcpy(strstr(s, "200 OK"), "183 OK", 6);
	is_int(dial_bye_build(&m, out_inv, s, true, 1, NULL), EBADMSG, "a 183: EBADMSG");
	free(s);
	s = strdup(out_ok);
	memcpy(strstr(s, "Contact"), "Xontact", 7);
	is_int(dial_bye_build(&m, out_inv, s, true, 1, NULL), EBADMSG,
	       "no Contact in the 2xx of our INVITE: EBADMSG");
	free(s);
	s = strdup(out_ok);
	memcpy(strstr(s, ";tag=theirs"), ";tog=theirs", 11);
	is_int(dial_bye_build(&m, out_inv, s, true, 1, NULL), EBADMSG,
	       "no To tag: EBADMSG");
	free(s);
	is_int(dial_bye_build(&m, "garbage", out_ok, true, 1, NULL) != 0, 1,
	       "garbage: an error");
	ok(m == NULL, "nothing made on errors");
}

int main(void)
{
	test_uac();
	test_uas();
	test_bad();
	return tap_done();
}
