/* test_dial_msg.c: raw SIP text into events: start line, headers in order, Reason, SDP summary, copies; the SID text */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dial/internal.h"
#include "tests/tap.h"

static const char resp[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1;rport=5080\r\n"
	"f: <sip:a@127.0.0.1>;tag=1\r\n"
	"To: <sip:b@127.0.0.1>;tag=2\r\n"
	"i: abc123@host\r\n"
	"CSeq: 7 INVITE\r\n"
	"X-Folded: first\r\n"
	" second\r\n"
	"X-Empty:\r\n"
	"Reason: Q.850 ;cause=16;text=\"Normal; call clearing\"\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 120\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 1 1 IN IP4 10.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.2\r\n"
	"t=0 0\r\n"
	"m=audio 4000 RTP/AVP 96 0 101\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n";

static void test_response(void)
{
	struct dial_event *ev = NULL, *cp;
	const char *body_at = strstr(resp, "\r\n\r\n") + 4;
	int err;

	err = dial_msg_parse(&ev, (const uint8_t *)resp, strlen(resp),
			     DIAL_DIR_RX, 42);
	if (!is_int(err, 0, "a response parses"))
		return;
	is_int(ev->type, DIAL_EV_SIP, "type sip");
	is_int(ev->code, 200, "status code");
	is_str(ev->phrase, "OK", "reason phrase");
	is_str(ev->start_line, "SIP/2.0 200 OK", "start line");
	is_str(ev->method, "INVITE", "method from CSeq");
	is_str(ev->call_id, "abc123@host", "Call-ID from compact i:");
	is_str(ev->from, "<sip:a@127.0.0.1>;tag=1", "From from compact f:");
	is_int((long long)ev->hdrc, 10, "ten headers");
	is_str(ev->hdrv[1].name, "f", "names as sent");
	is_str(ev->hdrv[5].name, "X-Folded", "order kept");
	is_str(ev->hdrv[5].value, "first   second", "folded line joined");
	is_str(ev->hdrv[6].value, "", "empty value");
	is_str(dial_event_hdr(ev, "x-folded"), "first   second",
	       "case-insensitive look-up");
	is_str(dial_event_hdr(ev, "From"), "<sip:a@127.0.0.1>;tag=1",
	       "look-up by full name finds the compact form");
	ok(dial_event_hdr(ev, "X-None") == NULL, "missing header is NULL");
	is_int((long long)ev->raw_len, (long long)(body_at - resp),
	       "raw is the header block");
	is_mem(ev->raw, ev->raw_len, resp, (size_t)(body_at - resp),
	       "raw is lossless");
	ok(ev->reason.present, "Reason parsed");
	is_str(ev->reason.protocol, "Q.850", "Reason protocol");
	is_int(ev->reason.cause, 16, "Reason cause");
	is_str(ev->reason.text, "Normal; call clearing",
	       "Reason text with ';' in quotes");
	ok(ev->sdp.present, "SDP summarised");
	is_str(ev->sdp.codec, "opus", "first codec from its rtpmap");
	is_int(ev->sdp.pt, 96, "its payload type");
	is_str(ev->sdp.addr, "10.0.0.2", "connection address");
	is_int(ev->sdp.port, 4000, "media port");
	is_int((long long)ev->time_us, 42, "time kept");
	is_int((long long)ev->body_len, (long long)strlen(body_at),
	       "body length");
	is_int((long long)ev->body_total, (long long)strlen(body_at),
	       "nothing cut");
	is_mem(ev->body, ev->body_len, body_at, strlen(body_at),
	       "body as on the wire");
	ok(ev->body[ev->body_len] == '\0', "body NUL-terminated");
	is_str(ev->body_type, "application/sdp", "body type");
	ok(dial_evq_bytes(ev) >= ev->body_len + 2 * ev->raw_len,
	   "the event queue counts the body");

	cp = dial_event_clone(ev, DIAL_EV_ENDED);
	dial_event_free(ev);
	if (!ok(cp != NULL, "clone"))
		return;
	is_int(cp->type, DIAL_EV_ENDED, "clone has the new type");
	is_str(cp->call_id, "abc123@host", "clone's strings are its own");
	is_str(cp->hdrv[9].name, "Content-Length", "clone's headers");
	is_str(dial_event_hdr(cp, "Reason"),
	       "Q.850 ;cause=16;text=\"Normal; call clearing\"",
	       "clone's look-up");
	is_mem(cp->body, cp->body_len, body_at, strlen(body_at),
	       "clone's body");
	is_str(cp->body_type, "application/sdp", "clone's body type");
	dial_event_free(cp);
}

/* A body past DIAL_BODY_MAX is cut, its length on the wire kept; any
 * byte, NUL included, is copied. */
static void test_body(void)
{
	static const char head[] =
		"MESSAGE sip:b@127.0.0.1 SIP/2.0\r\n"
		"Call-ID: big\r\n"
		"CSeq: 1 MESSAGE\r\n"
		"c: application/octet-stream\r\n"
		"\r\n";
	size_t hl = sizeof(head) - 1, bl = DIAL_BODY_MAX + 1000;
	uint8_t *pkt = malloc(hl + bl);
	struct dial_event *ev = NULL, *cp;

	if (!ok(pkt != NULL, "a message with a 9 KiB body"))
		return;
	memcpy(pkt, head, hl);
	for (size_t i = 0; i < bl; i++)
		pkt[hl + i] = (uint8_t)(i * 7);
	if (is_int(dial_msg_parse(&ev, pkt, hl + bl, DIAL_DIR_RX, 1), 0,
		   "it parses")) {
		is_int((long long)ev->body_len, DIAL_BODY_MAX,
		       "DIAL_BODY_MAX bytes kept");
		is_int((long long)ev->body_total, (long long)bl,
		       "its length on the wire");
		is_mem(ev->body, ev->body_len, pkt + hl, DIAL_BODY_MAX,
		       "the first bytes, NULs and all");
		is_str(ev->body_type, "application/octet-stream",
		       "type from the compact c:");
		ok(!ev->sdp.present, "not SDP");
		cp = dial_event_clone(ev, DIAL_EV_SIP);
		dial_event_free(ev);
		ok(cp && cp->body_len == DIAL_BODY_MAX &&
		   !memcmp(cp->body, pkt + hl, DIAL_BODY_MAX),
		   "a clone carries the body");
		dial_event_free(cp);
	}
	free(pkt);
}

static void test_request(void)
{
	static const char req[] =
		"BYE sip:b@127.0.0.1:5070;transport=tcp SIP/2.0\n"
		"Call-ID: x\n"
		"CSeq: 2 BYE\n"
		"\n";
	struct dial_event *ev = NULL;

	if (!is_int(dial_msg_parse(&ev, (const uint8_t *)req, strlen(req),
				   DIAL_DIR_TX, 1), 0,
		    "a request with bare LF parses"))
		return;
	is_str(ev->method, "BYE", "method");
	is_str(ev->ruri, "sip:b@127.0.0.1:5070;transport=tcp", "request URI");
	is_int(ev->code, 0, "no status code");
	is_int((long long)ev->hdrc, 2, "two headers");
	ok(!ev->sdp.present && !ev->reason.present, "no SDP, no Reason");
	ok(!ev->body && !ev->body_len && !ev->body_total && !ev->body_type,
	   "no body");
	dial_event_free(ev);
}

static void test_bad(void)
{
	struct dial_event *ev = NULL;
	static const char nul[] = "SIP/2.0 200 OK\r\nX-A: a\0b\r\n\r\n";

	is_int(dial_msg_parse(&ev, (const uint8_t *)"garbage", 7,
			      DIAL_DIR_RX, 0), EBADMSG, "garbage refused");
	is_int(dial_msg_parse(&ev, (const uint8_t *)"SIP/2.0 99 X\r\n\r\n",
			      16, DIAL_DIR_RX, 0), EBADMSG,
	       "status code out of range refused");
	is_int(dial_msg_parse(&ev, (const uint8_t *)nul, sizeof(nul) - 1,
			      DIAL_DIR_RX, 0), EBADMSG, "NUL in headers refused");
	is_int(dial_msg_parse(&ev, NULL, 0, DIAL_DIR_RX, 0), EINVAL,
	       "nothing refused");
	ok(ev == NULL, "no event on errors");
}

static void test_helpers(void)
{
	struct dial_reason r;
	char ref[8];

	ok(dial_reason_parse(&r, "SIP;cause=200;text=\"Call completed elsewhere\""),
	   "SIP Reason");
	is_str(r.protocol, "SIP", "protocol");
	is_int(r.cause, 200, "cause");
	is_str(r.text, "Call completed elsewhere", "text");
	ok(dial_reason_parse(&r, "Q.850") && r.cause == 0 && !r.text[0],
	   "Reason without parameters");
	ok(!dial_reason_parse(&r, ";cause=1"), "no protocol: not a Reason");
	is_int(dial_se_parse("1800;refresher=uas", ref, sizeof(ref)), 1800,
	       "Session-Expires value");
	is_str(ref, "uas", "refresher");
	is_int(dial_se_parse("90", ref, sizeof(ref)), 90, "no refresher");
	is_str(ref, "", "refresher empty");
	is_int(dial_se_parse("abc", ref, sizeof(ref)), 0, "bad value is 0");
	ok(dial_list_has("INVITE, ACK,UPDATE", "update"), "Allow has UPDATE");
	ok(!dial_list_has("INVITE, UPDATES", "UPDATE"), "no prefix match");
}

static void test_sid(void)
{
	char sid[DIAL_SID_LEN + 1];

	dial_sid_format(sid, 0x1a2b, 0x0123456789abull, 0xfedcba9876543210ull);
	is_str(sid, "CA1a2b0123456789abfedcba9876543210",
	       "SID: instance, clock ms, random bits");
	dial_sid_format(sid, 0x11a2b, 0xff0123456789abull, 0);
	is_str(sid, "CA1a2b0123456789ab0000000000000000",
	       "SID: instance and clock keep their widths");
}

int main(void)
{
	test_response();
	test_request();
	test_body();
	test_bad();
	test_helpers();
	test_sid();
	return tap_done();
}
