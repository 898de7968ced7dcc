/* test_dial_sdp.c: SDP offers from codec lists, answers that match offers, header checks */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dial/internal.h"
#include "tests/tap.h"

static void test_offer(void)
{
	char buf[2048];
	enum dial_codec all[] = {DIAL_CODEC_G722, DIAL_CODEC_OPUS,
				 DIAL_CODEC_PCMA, DIAL_CODEC_G729,
				 DIAL_CODEC_PCMU};
	struct dial_sdp s;

	is_int(dial_sdp_offer(buf, sizeof(buf), "127.0.0.1", 20000, NULL, 0, 1),
	       0, "default offer");
	ok(strstr(buf, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL,
	   "default is PCMU, PCMA + telephone-event");
	ok(strstr(buf, "c=IN IP4 127.0.0.1\r\n") != NULL, "c= line");
	ok(strstr(buf, "a=fmtp:101 0-16\r\n") != NULL, "DTMF events 0-16");
	is_int(dial_sdp_offer(buf, sizeof(buf), "127.0.0.1", 20002, all, 5, 1),
	       0, "offer with all codecs");
	ok(strstr(buf, "m=audio 20002 RTP/AVP 9 111 8 18 0 101\r\n") != NULL,
	   "order kept");
	ok(strstr(buf, "a=rtpmap:111 opus/48000/2\r\n") != NULL,
	   "OPUS dynamic 48000/2");
	ok(strstr(buf, "a=fmtp:18 annexb=no\r\n") != NULL, "G729 annexb=no");
	ok(strstr(buf, "a=rtpmap:9 G722/8000\r\n") != NULL, "G722 clock 8000");
	dial_sdp_summary(&s, buf, strlen(buf));
	is_str(s.codec, "G722", "summary of our own offer");
	is_int(dial_sdp_offer(buf, sizeof(buf), "::1", 20000, NULL, 0, 1), 0,
	       "IPv6 offer");
	ok(strstr(buf, "c=IN IP6 ::1\r\n") != NULL, "IN IP6");
	is_int(dial_sdp_offer(buf, 40, "127.0.0.1", 1, NULL, 0, 1), ENOSPC,
	       "too small a buffer");
}

static const char offer[] =
	"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n"
	"t=0 0\r\n"
	"m=audio 30000 RTP/AVP 96 0 8 100\r\n"
	"a=rtpmap:96 opus/48000/2\r\n"
	"a=rtpmap:100 telephone-event/8000\r\n"
	"m=video 30002 RTP/AVP 97\r\n"
	"a=rtpmap:97 H264/90000\r\n";

static void test_answer(void)
{
	char buf[2048];
	struct dial_sdp ch;
	enum dial_codec pcma = DIAL_CODEC_PCMA, g729 = DIAL_CODEC_G729;

	is_int(dial_sdp_answer(buf, sizeof(buf), offer, strlen(offer),
			       "127.0.0.1", 20000, &pcma, 1, 5, &ch), 0,
	       "answer restricted to PCMA");
	ok(strstr(buf, "m=audio 20000 RTP/AVP 8 100\r\n") != NULL,
	   "PCMA plus the offer's telephone-event payload type");
	ok(strstr(buf, "a=rtpmap:100 telephone-event/8000\r\n") != NULL,
	   "telephone-event mapped");
	is_str(ch.codec, "PCMA", "chosen codec");
	is_int(ch.pt, 8, "chosen payload type");
	is_int(dial_sdp_answer(buf, sizeof(buf), offer, strlen(offer),
			       "127.0.0.1", 20000, NULL, 0, 5, &ch), 0,
	       "answer with any codec");
	ok(strstr(buf, "m=audio 20000 RTP/AVP 96 100\r\n") != NULL,
	   "the offer's first codec, its dynamic payload type");
	ok(strstr(buf, "a=rtpmap:96 opus/48000/2\r\n") != NULL,
	   "opus mapped on the offer's number");
	is_str(ch.codec, "OPUS", "chosen OPUS");
	is_int(dial_sdp_answer(buf, sizeof(buf), offer, strlen(offer),
			       "127.0.0.1", 20000, &g729, 1, 5, &ch), ENOTSUP,
	       "no common codec: ENOTSUP (488)");
	is_int(dial_sdp_answer(buf, sizeof(buf), "v=0\r\n", 5, "127.0.0.1",
			       1, NULL, 0, 5, &ch), EBADMSG,
	       "no audio stream: EBADMSG");
	{
		static const char stat[] =
			"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 18 0\r\n";

		is_int(dial_sdp_answer(buf, sizeof(buf), stat, strlen(stat),
				       "127.0.0.1", 2, NULL, 0, 5, &ch), 0,
		       "static payload types need no rtpmap");
		is_str(ch.codec, "G729", "G729 by its static number");
		ok(strstr(buf, "a=fmtp:18 annexb=no") != NULL,
		   "annexb=no in the answer");
		ok(strstr(buf, "telephone-event") == NULL,
		   "no telephone-event when not offered");
	}
	{
		/* a received body is not NUL-terminated: the parser must stop
		 * at olen (ASan reports a read past the block otherwise) */
		static const char cut[] = "v=0\r\nm=audio 1 RTP/AVP 0";
		char *body = malloc(sizeof(cut) - 1);

		memcpy(body, cut, sizeof(cut) - 1);
		is_int(dial_sdp_answer(buf, sizeof(buf), body, sizeof(cut) - 1,
				       "127.0.0.1", 2, NULL, 0, 5, &ch), 0,
		       "an unterminated offer ending inside the m= line");
		is_str(ch.codec, "PCMU", "its last payload type is read");
		free(body);
	}
}

static void test_headers(void)
{
	struct dial_hdr h[] = {
		{"X-One", "1"}, {"User-to-User", "abc;encoding=hex"},
	};
	struct dial_hdr bad[] = {{"X-Bad", "a\r\nVia: x"}};
	struct dial_hdr badn[] = {{"X Bad", "a"}};
	char *out = NULL;
	enum dial_codec c;

	is_int(dial_hdrs_encode(&out, h, 2), 0, "encode");
	is_str(out, "X-One: 1\r\nUser-to-User: abc;encoding=hex\r\n",
	       "in order, one line each");
	is_int(dial_hdrs_encode(&out, bad, 1), EINVAL, "CR/LF refused");
	is_int(dial_hdrs_encode(&out, badn, 1), EINVAL, "non-token name refused");
	{
		struct dial_hdr cl[] = {{"content-length", "0"}};
		struct dial_hdr via[] = {{"v", "SIP/2.0/UDP x"}};

		is_int(dial_hdrs_encode(&out, cl, 1), EINVAL,
		       "Content-Length refused (framing)");
		is_int(dial_hdrs_encode(&out, via, 1), EINVAL,
		       "compact Via refused");
	}
	is_str(out, "X-One: 1\r\nUser-to-User: abc;encoding=hex\r\n",
	       "unchanged after a refusal");
	free(out);
	is_int(dial_hdr_check("", "x"), EINVAL, "empty name refused");
	is_int(dial_hdr_check("X-A", NULL), EINVAL, "NULL value refused");
	is_int(dial_codec_parse("opus", &c), 0, "codec names are case-blind");
	is_int(c, DIAL_CODEC_OPUS, "opus");
	is_int(dial_codec_parse("GSM", &c), EINVAL, "unknown codec");
	is_str(dial_codec_name(DIAL_CODEC_G729), "G729", "codec name");
}

int main(void)
{
	test_offer();
	test_answer();
	test_headers();
	return tap_done();
}
