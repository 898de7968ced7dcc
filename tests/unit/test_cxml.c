/* test_cxml.c: the cXML parser: every Dial/Sip/Number attribute, defaults, bad values, limits */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "cxml/cxml.h"
#include "cxml/internal.h"
#include "tests/tap.h"

static struct cxml_parser *P;
static struct cxml_diags D;
static struct cxml_doc *DOC;

/* parse a document; returns the errno-style result, keeps DOC and D */
static int parse(const char *xml)
{
	DOC = cxml_doc_free(DOC);
	cxml_diags_clear(&D);
	return cxml_parse(P, xml, strlen(xml), &DOC, &D);
}

/* wrap a <Dial> attribute list and body */
static int dial(const char *attrs, const char *body)
{
	static char buf[70000];

	snprintf(buf, sizeof(buf), "<?xml version=\"1.0\"?>\n<Response>\n"
		 "<Dial %s>%s</Dial>\n</Response>\n", attrs, body);
	return parse(buf);
}

static int sip(const char *attrs, const char *uri)
{
	static char body[66000];

	snprintf(body, sizeof(body), "<Sip %s>%s</Sip>", attrs, uri);
	return dial("", body);
}

static const struct cxml_dial *D0(void)
{
	return DOC && DOC->nverbs && DOC->verbs[0].type == CXML_VERB_DIAL ?
	       &DOC->verbs[0].u.dial : NULL;
}

static const struct cxml_sip *S0(void)
{
	const struct cxml_dial *d = D0();

	return d && d->nnouns && d->nouns[0].type == CXML_NOUN_SIP ?
	       &d->nouns[0].u.sip : NULL;
}

static const struct cxml_number *N0(void)
{
	const struct cxml_dial *d = D0();

	return d && d->nnouns && d->nouns[0].type == CXML_NOUN_NUMBER ?
	       &d->nouns[0].u.number : NULL;
}

/* the first diagnostic with this code, or NULL */
static const struct cxml_diag *has(int code)
{
	size_t i;

	for (i = 0; i < D.n; i++)
		if (D.v[i].code == code)
			return &D.v[i];
	return NULL;
}

static bool has_sev(int code, enum cxml_severity sev)
{
	const struct cxml_diag *g = has(code);

	return g && g->sev == sev;
}

static void test_dial_attrs(void)
{
	const struct cxml_dial *d;

	is_int(dial("", "<Sip>sip:a@b.example</Sip>"), 0, "plain Dial parses");
	d = D0();
	if (!ok(d != NULL, "Dial tree present"))
		return;
	ok(d->action == NULL && d->method == CXML_POST, "defaults: no action, POST");
	is_int(d->timeout, 30, "default timeout 30");
	ok(!d->hangup_on_star, "default hangupOnStar false");
	is_int(d->time_limit, 14400, "default timeLimit 14400");
	ok(d->caller_id == NULL && d->caller_name == NULL, "no callerId/callerName");
	is_int(d->record, CXML_REC_DO_NOT_RECORD, "default record do-not-record");
	is_int(d->trim, CXML_TRIM_DO_NOT_TRIM, "default trim do-not-trim");
	is_int(d->recording_status_callback_event, CXML_REC_EV_COMPLETED,
	       "default recordingStatusCallbackEvent completed");
	is_int(d->recording_track, CXML_TRACK_BOTH, "default recordingTrack both");
	is_int(d->recording_storage_url_method, CXML_POST,
	       "default recordingStorageUrlMethod POST");
	ok(!d->answer_on_bridge && !d->sequential && !d->ring_tone,
	   "defaults answerOnBridge/sequential false, no ringTone");
	is_int((long long)D.n, 0, "no diagnostics");

	/* action / method */
	is_int(dial("action=\"https://x.example/a?b=1\" method=\"GET\"",
		    "<Sip>sip:a@b</Sip>"), 0, "action + GET");
	is_str(D0()->action, "https://x.example/a?b=1", "action kept");
	is_int(D0()->method, CXML_GET, "method GET");
	is_int(dial("action=\"/relative/path\" method=\"post\"", "<Sip>sip:a@b</Sip>"),
	       0, "relative action, lowercase post");
	is_int(dial("action=\"ftp://x/\"", "<Sip>sip:a@b</Sip>"), EBADMSG,
	       "ftp action refused");
	ok(has_sev(11100, CXML_ERROR), "bad URL is error 11100");
	is_int(dial("method=\"PUT\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "method PUT refused");
	ok(has_sev(13221, CXML_ERROR), "bad method is error 13221");

	/* timeout: spec's decision */
	is_int(dial("timeout=\"20\"", "<Sip>sip:a@b</Sip>"), 0, "timeout 20");
	is_int(D0()->timeout, 20, "timeout 20 kept");
	is_int(dial("timeout=\"3\"", "<Sip>sip:a@b</Sip>"), 0, "timeout 3 valid");
	is_int(D0()->timeout, 5, "timeout 3 raised to 5");
	ok(has_sev(13212, CXML_WARNING), "... with warning 13212");
	is_int(dial("timeout=\"601\"", "<Sip>sip:a@b</Sip>"), 0, "timeout 601 valid");
	is_int(D0()->timeout, 600, "timeout 601 lowered to 600");
	ok(has_sev(13212, CXML_WARNING), "... with warning 13212");
	is_int(dial("timeout=\"99999999999999999999999999999999999\"", "<Sip>sip:a@b</Sip>"),
	       0, "huge timeout valid");
	is_int(D0()->timeout, 600, "huge timeout lowered to 600");
	is_int(dial("timeout=\"abc\"", "<Sip>sip:a@b</Sip>"), 0, "timeout abc valid");
	is_int(D0()->timeout, 30, "timeout abc falls back to 30");
	ok(has_sev(13212, CXML_WARNING), "... with warning 13212");
	is_int(dial("timeout=\"0\"", "<Sip>sip:a@b</Sip>"), 0, "timeout 0 valid");
	is_int(D0()->timeout, 30, "timeout 0 falls back to 30");
	is_int(dial("timeout=\"-7\"", "<Sip>sip:a@b</Sip>"), 0, "timeout -7 valid");
	is_int(D0()->timeout, 30, "timeout -7 falls back to 30");
	is_int(dial("timeout=\"12.5\"", "<Sip>sip:a@b</Sip>"), 0, "timeout 12.5 valid");
	is_int(D0()->timeout, 30, "timeout 12.5 falls back to 30");

	/* hangupOnStar */
	is_int(dial("hangupOnStar=\"true\"", "<Sip>sip:a@b</Sip>"), 0, "hangupOnStar true");
	ok(D0()->hangup_on_star, "hangupOnStar set");
	is_int(dial("hangupOnStar=\"yes\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "hangupOnStar yes");
	ok(has_sev(13213, CXML_ERROR), "bad hangupOnStar is error 13213");

	/* timeLimit */
	is_int(dial("timeLimit=\"60\"", "<Sip>sip:a@b</Sip>"), 0, "timeLimit 60");
	is_int(D0()->time_limit, 60, "timeLimit 60 kept");
	is_int(dial("timeLimit=\"0\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "timeLimit 0");
	ok(has_sev(13216, CXML_ERROR), "timeLimit 0 is error 13216");
	is_int(dial("timeLimit=\"86401\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "timeLimit 86401");
	is_int(dial("timeLimit=\"1h\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "timeLimit 1h");
	ok(has_sev(13216, CXML_ERROR), "timeLimit 1h is error 13216");

	/* callerId / callerName */
	is_int(dial("callerId=\"+15551234567\"", "<Sip>sip:a@b</Sip>"), 0, "E.164 callerId");
	is_str(D0()->caller_id, "+15551234567", "callerId kept");
	is_int(dial("callerId=\"alice_1.x-y,z\"", "<Sip>sip:a@b</Sip>"), 0,
	       "SIP callerId with + - _ . ,");
	is_int(dial("callerId=\"a b\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "callerId with space");
	ok(has_sev(13214, CXML_ERROR), "bad callerId is error 13214");
	is_int(dial("callerId=\"12345678901234567890123456789012345678901234567890123456789012345\"",
		    "<Sip>sip:a@b</Sip>"), EBADMSG, "65-char callerId");
	ok(has_sev(13248, CXML_ERROR), "too long callerId is error 13248");
	is_int(dial("callerName=\"Jane Doe\"", "<Sip>sip:a@b</Sip>"), 0, "callerName");
	is_str(D0()->caller_name, "Jane Doe", "callerName kept");
	is_int(dial("callerName=\"a&quot;b\"", "<Sip>sip:a@b</Sip>"), EBADMSG,
	       "callerName with a quote");
	is_int(dial("callerName=\"12345678901234567890123456789012345678901234567890123456789012345678901\"",
		    "<Sip>sip:a@b</Sip>"), EBADMSG, "71-char callerName");

	/* record */
	{
		static const struct { const char *v; int want; } r[] = {
			{ "do-not-record", CXML_REC_DO_NOT_RECORD },
			{ "record-from-answer", CXML_REC_FROM_ANSWER },
			{ "record-from-ringing", CXML_REC_FROM_RINGING },
			{ "record-from-answer-dual", CXML_REC_FROM_ANSWER_DUAL },
			{ "record-from-ringing-dual", CXML_REC_FROM_RINGING_DUAL },
			{ "true", CXML_REC_FROM_ANSWER },
			{ "false", CXML_REC_DO_NOT_RECORD },
		};
		char a[64];
		size_t i;

		for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
			snprintf(a, sizeof(a), "record=\"%s\"", r[i].v);
			dial(a, "<Sip>sip:a@b</Sip>");
			ok(D0() && (int)D0()->record == r[i].want && D.n == 0,
			   "record=%s", r[i].v);
		}
	}
	is_int(dial("record=\"always\"", "<Sip>sip:a@b</Sip>"), 0, "record=always valid");
	is_int(D0()->record, CXML_REC_DO_NOT_RECORD, "record=always: not recorded");
	ok(has_sev(12200, CXML_WARNING), "record=always: warning 12200");

	/* trim */
	is_int(dial("trim=\"trim-silence\"", "<Sip>sip:a@b</Sip>"), 0, "trim-silence");
	is_int(D0()->trim, CXML_TRIM_SILENCE, "trim set");
	is_int(dial("trim=\"cut\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "trim=cut");
	ok(has_sev(13699, CXML_ERROR), "bad trim is error 13699");

	/* recording callbacks */
	is_int(dial("recordingStatusCallback=\"https://r.example/cb\" "
		    "recordingStatusCallbackMethod=\"GET\" "
		    "recordingStatusCallbackEvent=\"in-progress completed absent\" "
		    "recordingTrack=\"inbound\" recordingStorageUrl=\"https://s.example/\" "
		    "recordingStorageUrlMethod=\"PUT\"", "<Sip>sip:a@b</Sip>"), 0,
	       "recording attributes");
	d = D0();
	is_str(d->recording_status_callback, "https://r.example/cb", "recordingStatusCallback");
	is_int(d->recording_status_callback_method, CXML_GET, "recordingStatusCallbackMethod");
	is_int(d->recording_status_callback_event,
	       CXML_REC_EV_IN_PROGRESS | CXML_REC_EV_COMPLETED | CXML_REC_EV_ABSENT,
	       "recordingStatusCallbackEvent bits");
	is_int(d->recording_track, CXML_TRACK_INBOUND, "recordingTrack inbound");
	is_str(d->recording_storage_url, "https://s.example/", "recordingStorageUrl");
	is_int(d->recording_storage_url_method, CXML_PUT, "recordingStorageUrlMethod PUT");
	is_int(dial("recordingStatusCallbackEvent=\"completed started\"", "<Sip>sip:a@b</Sip>"),
	       EBADMSG, "bad recording event");
	ok(has_sev(13621, CXML_ERROR), "bad recording event is error 13621");
	is_int(dial("recordingTrack=\"left\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "bad recordingTrack");
	is_int(dial("recordingStorageUrlMethod=\"GET\"", "<Sip>sip:a@b</Sip>"), EBADMSG,
	       "recordingStorageUrlMethod GET");
	ok(has_sev(13221, CXML_ERROR), "... error 13221");

	/* answerOnBridge, ringTone, sequential */
	is_int(dial("answerOnBridge=\"true\" ringTone=\"uk\" sequential=\"true\"",
		    "<Sip>sip:a@b</Sip><Sip>sip:c@d</Sip>"), 0, "answerOnBridge, ringTone, sequential");
	ok(D0()->answer_on_bridge && D0()->sequential, "answerOnBridge and sequential set");
	is_str(D0()->ring_tone, "uk", "ringTone uk");
	is_int((long long)D0()->nnouns, 2, "two nouns");
	is_int(dial("answerOnBridge=\"1\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "answerOnBridge=1");
	is_int(dial("ringTone=\"xx\"", "<Sip>sip:a@b</Sip>"), EBADMSG, "ringTone xx");
	is_int(dial("ringTone=\"us-old\"", "<Sip>sip:a@b</Sip>"), 0, "ringTone us-old");
	is_int(dial("sequential=\"maybe\"", "<Sip>sip:a@b</Sip>"), 0, "sequential=maybe valid");
	ok(!D0()->sequential && has_sev(13218, CXML_WARNING),
	   "sequential=maybe: parallel, warning 13218");

	/* unknown and unsupported attributes */
	is_int(dial("fooBar=\"1\" referUrl=\"https://x/\"", "<Sip>sip:a@b</Sip>"), 0,
	       "unknown attributes are not errors");
	is_int((long long)D.nwarnings, 2, "two warnings");
	ok(has_sev(12200, CXML_WARNING), "warning 12200");
	is_str(D.v[0].attr, "fooBar", "warning names the attribute");
	is_int(D.v[0].line, 3, "warning line");
	is_int(D.v[0].col, 7, "warning column points at the attribute");
}

static void test_sip_attrs(void)
{
	const struct cxml_sip *s;

	is_int(sip("", "sip:bob@example.com"), 0, "bare Sip");
	s = S0();
	if (!ok(s != NULL, "Sip present"))
		return;
	is_str(s->uri.target, "sip:bob@example.com", "target");
	ok(!s->username && !s->password && !s->url, "no credentials, no url");
	is_int(s->method, CXML_POST, "default method POST");
	is_int(s->status_callback_method, CXML_POST, "default statusCallbackMethod POST");
	is_int(s->status_callback_event, CXML_EV_COMPLETED, "default event completed");
	is_int(s->codecs.n, 2, "default two codecs");
	ok(s->codecs.v[0] == CXML_CODEC_PCMU && s->codecs.v[1] == CXML_CODEC_PCMA,
	   "default PCMU,PCMA");
	is_int(s->session_timeout, 0, "default sessionTimeout 0");
	is_int(s->amd.mode, CXML_AMD_NONE, "no machine detection");

	is_int(sip("username=\"alice\" password=\"s3cret\" url=\"https://w.example/whisper\" "
		   "method=\"GET\" statusCallback=\"https://s.example/cb\" "
		   "statusCallbackMethod=\"GET\" "
		   "statusCallbackEvent=\"initiated ringing answered completed\" "
		   "codecs=\"OPUS,G722,g729,PCMA,PCMU\" sessionTimeout=\"1800\" "
		   "machineDetection=\"DetectMessageEnd\" machineDetectionTimeout=\"45\"",
		   "sip:bob@example.com"), 0, "every Sip attribute");
	s = S0();
	is_str(s->username, "alice", "username");
	is_str(s->password, "s3cret", "password");
	is_str(s->url, "https://w.example/whisper", "url");
	is_int(s->method, CXML_GET, "method");
	is_str(s->status_callback, "https://s.example/cb", "statusCallback");
	is_int(s->status_callback_method, CXML_GET, "statusCallbackMethod");
	is_int(s->status_callback_event, CXML_EV_INITIATED | CXML_EV_RINGING |
	       CXML_EV_ANSWERED | CXML_EV_COMPLETED, "all four events");
	is_int(s->codecs.n, 5, "five codecs");
	ok(s->codecs.v[0] == CXML_CODEC_OPUS && s->codecs.v[1] == CXML_CODEC_G722 &&
	   s->codecs.v[2] == CXML_CODEC_G729 && s->codecs.v[3] == CXML_CODEC_PCMA &&
	   s->codecs.v[4] == CXML_CODEC_PCMU, "codecs in the given order");
	is_int(s->session_timeout, 1800, "sessionTimeout");
	is_int(s->amd.mode, CXML_AMD_DETECT_MESSAGE_END, "machineDetection");
	is_int(s->amd.timeout, 45, "machineDetectionTimeout");
	is_int((long long)D.n, 0, "no diagnostics");

	is_int(sip("statusCallbackEvent=\"initiated,ringing\"", "sip:a@b"), 0,
	       "comma-separated events accepted");
	is_int(S0()->status_callback_event, CXML_EV_INITIATED | CXML_EV_RINGING, "events");
	is_int(sip("statusCallbackEvent=\"ringing busy\"", "sip:a@b"), EBADMSG, "bad event");
	is_int(sip("codecs=\"SPEEX\"", "sip:a@b"), EBADMSG, "unknown codec");
	is_int(sip("codecs=\"PCMU,PCMU\"", "sip:a@b"), 0, "repeated codec valid");
	is_int(S0()->codecs.n, 1, "repeat dropped");
	ok(has_sev(12200, CXML_WARNING), "repeat warned");
	is_int(sip("sessionTimeout=\"30\"", "sip:a@b"), 0, "sessionTimeout 30 valid");
	is_int(S0()->session_timeout, 90, "raised to RFC 4028 minimum 90");
	is_int(sip("sessionTimeout=\"-1\"", "sip:a@b"), EBADMSG, "sessionTimeout -1");
	is_int(sip("sessionTimeout=\"x\"", "sip:a@b"), EBADMSG, "sessionTimeout x");
	is_int(sip("method=\"DELETE\"", "sip:a@b"), EBADMSG, "method DELETE");
	is_int(sip("url=\"not a url\"", "sip:a@b"), EBADMSG, "url with spaces");
	is_int(sip("machineDetection=\"Maybe\"", "sip:a@b"), EBADMSG, "bad machineDetection");
	is_int(sip("machineDetectionTimeout=\"2\"", "sip:a@b"), EBADMSG,
	       "machineDetectionTimeout below 3");
	is_int(sip("", ""), EBADMSG, "empty Sip body");
	ok(has_sev(32110, CXML_ERROR), "empty URI is error 32110");
	is_int(sip("", "tel:+15551234567"), EBADMSG, "tel: URI in Sip");

	/* the Plivo-style attribute through the same policy */
	is_int(dial("sipHeaders=\"X-Dial=1,Foo=bar\"",
		    "<Sip sipHeaders=\"X-Sip=2,X-Enc=a%2Cb\">sip:a@b?X-Uri=0</Sip>"), 0,
	       "sipHeaders on Dial and Sip");
	s = S0();
	is_int((long long)s->uri.nhdrs, 4, "four headers");
	is_str(s->uri.hdrs[0].name, "X-Uri", "URI headers first");
	is_str(s->uri.hdrs[1].name, "X-Sip", "then <Sip sipHeaders>");
	is_str(s->uri.hdrs[2].value, "a,b", "sipHeaders values percent-decoded");
	is_str(s->uri.hdrs[3].name, "X-Dial", "then <Dial sipHeaders>");
	is_int((long long)s->uri.nrefused, 0, "none refused on the leg");
	is_int((long long)D0()->nrefused, 1, "one refused at the Dial");
	is_str(D0()->refused[0].name, "Foo", "non-X name refused (no X-PH- prefix)");
	is_int(D0()->refused[0].code, 13252, "... 13252");
	is_int(D0()->refused[0].source, CXML_HDR_DIAL_ATTR, "... from Dial");
	is_int(dial("sipHeaders=\"novalue\"", "<Sip>sip:a@b</Sip>"), 0, "item without =");
	ok(D0()->nrefused == 1 && D0()->refused[0].code == 32110,
	   "refused as 32110");
}

static void test_number(void)
{
	const struct cxml_number *n;

	is_int(dial("", "<Number>+1 (415) 555-1212</Number>"), 0, "Number");
	n = N0();
	if (!ok(n != NULL, "Number present"))
		return;
	is_str(n->number, "+14155551212", "number normalized");
	is_int(n->status_callback_event, CXML_EV_COMPLETED, "default event");
	is_int(n->amd.timeout, 30, "AMD defaults");
	is_int(n->amd.speech_threshold, 2400, "speech threshold default");
	is_int(dial("", "<Number sendDigits=\"ww1234#\" url=\"/screen\" method=\"GET\" "
		    "statusCallback=\"https://cb/\" statusCallbackMethod=\"GET\" "
		    "statusCallbackEvent=\"answered\" byoc=\"BYxx\" "
		    "machineDetection=\"Enable\" amdStatusCallback=\"https://amd/\" "
		    "amdStatusCallbackMethod=\"GET\" machineDetectionTimeout=\"60\" "
		    "machineDetectionSpeechThreshold=\"1000\" "
		    "machineDetectionSpeechEndThreshold=\"5000\" "
		    "machineDetectionSilenceTimeout=\"2000\">+15551234567</Number>"), 0,
	       "every Number attribute");
	n = N0();
	is_str(n->send_digits, "ww1234#", "sendDigits");
	is_str(n->url, "/screen", "url");
	is_int(n->method, CXML_GET, "method");
	is_str(n->status_callback, "https://cb/", "statusCallback");
	is_int(n->status_callback_method, CXML_GET, "statusCallbackMethod");
	is_int(n->status_callback_event, CXML_EV_ANSWERED, "statusCallbackEvent");
	is_str(n->byoc, "BYxx", "byoc");
	is_int(n->amd.mode, CXML_AMD_ENABLE, "machineDetection");
	is_str(n->amd.status_callback, "https://amd/", "amdStatusCallback");
	is_int(n->amd.status_callback_method, CXML_GET, "amdStatusCallbackMethod");
	ok(n->amd.timeout == 60 && n->amd.speech_threshold == 1000 &&
	   n->amd.speech_end_threshold == 5000 && n->amd.silence_timeout == 2000,
	   "AMD ranges at their bounds");
	is_int(dial("", "<Number sendDigits=\"12x\">+1555</Number>"), EBADMSG, "bad sendDigits");
	ok(has_sev(13222, CXML_ERROR), "... 13222");
	is_int(dial("", "<Number machineDetectionSpeechThreshold=\"999\">+1555</Number>"),
	       EBADMSG, "speech threshold below range");
	is_int(dial("", "<Number>call me</Number>"), EBADMSG, "not a number");
	ok(has_sev(13223, CXML_ERROR), "... 13223");
	is_int(dial("", "+15551234567"), 0, "Dial text body is a number");
	ok(N0() && !strcmp(N0()->number, "+15551234567"), "text number");
	is_int(dial("", "12345678901234567"), EBADMSG, "more than 15 digits");
}

static void test_dial_nouns(void)
{
	char body[4096];
	size_t o = 0;
	int i;

	for (i = 0; i < 10; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o,
				      "<Sip>sip:u%d@h.example</Sip>", i);
	is_int(dial("", body), 0, "10 Sip nouns");
	is_int((long long)D0()->nsip, 10, "nsip 10");
	snprintf(body + o, sizeof(body) - o, "<Sip>sip:u10@h.example</Sip>");
	is_int(dial("", body), EBADMSG, "11 Sip nouns are an error");
	ok(has_sev(12200, CXML_ERROR), "... 12200 error");
	is_int(dial("", "<Conference>room</Conference><Sip>sip:a@b</Sip>"), EBADMSG,
	       "Conference with another noun");
	is_int(dial("", ""), EBADMSG, "empty Dial");
	is_int(dial("", "<Sip>sip:a@b</Sip><Number>+1555</Number>"), 0, "Sip + Number");
	ok(has_sev(12200, CXML_WARNING), "mixing warned");
	is_int(dial("", "<Client>alice</Client>"), 0, "Client");
	is_str(D0()->nouns[0].u.client.identity, "alice", "identity");
	is_int(dial("", "<Client><Identity>bob</Identity><Parameter name=\"a\" value=\"b\"/></Client>"),
	       0, "Client with Identity");
	is_str(D0()->nouns[0].u.client.identity, "bob", "Identity child");
	is_int(dial("", "<Conference beep=\"onEnter\" maxParticipants=\"10\" record=\"record-from-start\">room</Conference>"),
	       0, "Conference");
	ok(D0()->nouns[0].u.conference.beep == CXML_BEEP_ON_ENTER &&
	   D0()->nouns[0].u.conference.max_participants == 10 &&
	   D0()->nouns[0].u.conference.record == CXML_CONF_REC_FROM_START,
	   "Conference attributes");
	is_int(dial("", "<Conference maxParticipants=\"251\">room</Conference>"), EBADMSG,
	       "maxParticipants 251");
	is_int(dial("", "<Queue url=\"/about\">support</Queue>"), 0, "Queue");
	is_str(D0()->nouns[0].u.queue.name, "support", "queue name");
	is_int(dial("", "<Sim>DE123</Sim><Sip>sip:a@b</Sip>"), 0, "Sim skipped");
	ok(has_sev(12200, CXML_WARNING), "Sim warned");
}

static void test_verbs(void)
{
	const struct cxml_verb *v;

	is_int(parse("<Response><Say voice=\"alice\" language=\"de-DE\" loop=\"2\">Hallo <break time=\"1s\"/>Welt</Say>"
		     "<Play loop=\"0\">https://a.example/x.mp3</Play><Play digits=\"ww12\"/>"
		     "<Pause length=\"3\"/>"
		     "<Gather input=\"dtmf speech\" numDigits=\"4\" finishOnKey=\"*\" timeout=\"7\" speechTimeout=\"auto\" action=\"/g\">"
		     "<Say>Press</Say><Pause/><Hangup/></Gather>"
		     "<Record maxLength=\"20\" playBeep=\"false\" trim=\"do-not-trim\" finishOnKey=\"#*\"/>"
		     "<Redirect method=\"GET\">/next</Redirect>"
		     "<Reject reason=\"busy\"/><Hangup/><Enqueue waitUrl=\"/w\">q1</Enqueue><Leave/>"
		     "<Refer action=\"/r\"><Sip>sip:transfer@example.com?X-Ref=1</Sip></Refer>"
		     "</Response>"), 0, "every verb");
	if (!ok(DOC && DOC->nverbs == 12, "12 verbs"))
		return;
	v = DOC->verbs;
	ok(v[0].type == CXML_VERB_SAY && !strcmp(v[0].u.say.text, "Hallo Welt") &&
	   v[0].u.say.loop == 2 && !strcmp(v[0].u.say.language, "de-DE"), "Say");
	ok(v[1].type == CXML_VERB_PLAY && v[1].u.play.loop == 0 &&
	   !strcmp(v[1].u.play.url, "https://a.example/x.mp3"), "Play url");
	ok(v[2].type == CXML_VERB_PLAY && !v[2].u.play.url &&
	   !strcmp(v[2].u.play.digits, "ww12"), "Play digits");
	ok(v[3].type == CXML_VERB_PAUSE && v[3].u.pause.length == 3, "Pause");
	ok(v[4].type == CXML_VERB_GATHER && v[4].u.gather.input ==
	   (CXML_INPUT_DTMF | CXML_INPUT_SPEECH) && v[4].u.gather.num_digits == 4 &&
	   !strcmp(v[4].u.gather.finish_on_key, "*") && v[4].u.gather.nverbs == 2,
	   "Gather with two nested verbs");
	ok(has_sev(12200, CXML_WARNING), "Hangup inside Gather warned");
	ok(v[5].type == CXML_VERB_RECORD && v[5].u.record.max_length == 20 &&
	   !v[5].u.record.play_beep && v[5].u.record.trim == CXML_TRIM_DO_NOT_TRIM,
	   "Record");
	ok(v[6].type == CXML_VERB_REDIRECT && !strcmp(v[6].u.redirect.url, "/next") &&
	   v[6].u.redirect.method == CXML_GET, "Redirect");
	ok(v[7].type == CXML_VERB_REJECT && v[7].u.reject.reason == CXML_REJECT_BUSY, "Reject");
	ok(v[8].type == CXML_VERB_HANGUP, "Hangup");
	ok(v[9].type == CXML_VERB_ENQUEUE && !strcmp(v[9].u.enqueue.name, "q1"), "Enqueue");
	ok(v[10].type == CXML_VERB_LEAVE, "Leave");
	ok(v[11].type == CXML_VERB_REFER && v[11].u.refer.sip &&
	   v[11].u.refer.sip->u.sip.uri.nhdrs == 1, "Refer with Sip");
	ok(cxml_verb_executed(CXML_VERB_DIAL) && !cxml_verb_executed(CXML_VERB_SAY) &&
	   cxml_noun_executed(CXML_NOUN_SIP) && !cxml_noun_executed(CXML_NOUN_NUMBER),
	   "executed vs parsed-only");

	is_int(parse("<Response><Redirect/></Response>"), EBADMSG, "Redirect without URL");
	is_int(parse("<Response><Play/></Response>"), EBADMSG, "Play without URL");
	is_int(parse("<Response><Reject reason=\"nope\"/></Response>"), EBADMSG, "bad Reject reason");
	is_int(parse("<Response><Refer/></Response>"), EBADMSG, "Refer without Sip");
	is_int(parse("<Response><Gather finishOnKey=\"12\"/></Response>"), EBADMSG,
	       "Gather finishOnKey two keys");
	is_int(parse("<Response><Connect/><say>x</say><Hangup/></Response>"), 0,
	       "unknown and unsupported verbs are warnings");
	is_int((long long)DOC->nverbs, 1, "only Hangup kept");
	is_int((long long)D.nwarnings, 2, "two warnings");
	is_int(parse("<Response version=\"2010-04-01\"><Hangup/></Response>"), 0,
	       "version 2010-04-01");
	is_int(parse("<Response version=\"1999\"><Hangup/></Response>"), EBADMSG,
	       "bad version");
	ok(has_sev(12101, CXML_ERROR), "... 12101");
	is_int(parse("<Response/>"), 0, "empty Response is valid");
	is_int((long long)DOC->nverbs, 0, "no verbs");
}

static void test_document(void)
{
	const struct cxml_diag *g;
	char *big;
	size_t i, o;
	int r;

	is_int(parse("<Response><Dial><Sip>sip:a@b</Sip></Response>"), EBADMSG,
	       "mis-nested");
	g = has(12100);
	ok(g && g->sev == CXML_ERROR && g->line == 1 && g->col > 0,
	   "12100 with line and column");
	is_int(parse("  <?xml version=\"1.0\"?><Response/>"), EBADMSG,
	       "whitespace before the XML declaration");
	ok(has(12100) != NULL, "... 12100");
	is_int(parse("<Response><Say>a & b</Say></Response>"), EBADMSG, "raw &");
	is_int(parse("<Response><Dial timeout=30/></Response>"), EBADMSG, "unquoted attribute");
	is_int(parse("<Other/>"), EBADMSG, "root not Response");
	ok(has(12100) != NULL, "... 12100");
	is_int(parse("<response/>"), EBADMSG, "names are case-sensitive");
	is_int(parse(""), EBADMSG, "empty document");
	is_int(parse("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		     "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		     "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
		     "<Response><Say>&lol3;</Say></Response>"), EBADMSG, "billion laughs refused");
	g = has(12100);
	ok(g && strstr(g->msg, "DOCTYPE"), "... because of the DOCTYPE");
	is_int(parse("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		     "<Response><Say>&x;</Say></Response>"), EBADMSG, "external entity refused");
	is_int(parse("<!DOCTYPE Response SYSTEM \"http://127.0.0.1:1/x.dtd\"><Response/>"),
	       EBADMSG, "DTD fetch refused");
	is_int(parse("<Response><Say>&xxe;</Say></Response>"), EBADMSG, "undefined entity");
	is_int(parse("<Response><Say>&lt;&amp;&#65;</Say></Response>"), 0,
	       "predefined and character references");
	is_str(DOC->verbs[0].u.say.text, "<&A", "... decoded");
	is_int(parse("<Response><Say><![CDATA[a < b]]></Say></Response>"), 0, "CDATA");
	is_str(DOC->verbs[0].u.say.text, "a < b", "... as text");
	is_int(parse("<Response><!-- c --><Hangup/><?pi x?></Response>"), 0, "comments and PIs");
	/* encoding errors are raised outside the parser context in libxml2 */
	/* US-ASCII is converted by libxml2 itself (iconv would dlopen a module,
	 * which valgrind reports against ld.so) */
	is_int(parse("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><Response><Say>caf\xe9</Say></Response>"),
	       EBADMSG, "a byte that US-ASCII does not have");
	ok(has(12100) != NULL, "... 12100 (and nothing printed, checked at the end)");
	is_int(parse("<Response><Say>\xff\xfe\xc3</Say></Response>"), EBADMSG, "bad UTF-8");
	{
		/* UTF-16LE with broken surrogates: libxml2 reports it through
		 * its generic (printing) error function (found by the fuzzer) */
		static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Response><Say>hi";
		char u16[256];
		size_t k, w = 0;

		u16[w++] = '\xff';
		u16[w++] = '\xfe';
		for (k = 0; head[k]; k++) {
			u16[w++] = head[k];
			u16[w++] = '\0';
		}
		for (k = 0; k < 16; k++)
			u16[w++] = '\xd8';
		DOC = cxml_doc_free(DOC);
		cxml_diags_clear(&D);
		is_int(cxml_parse(P, u16, w, &DOC, &D), EBADMSG, "UTF-16 with broken surrogates");
		ok(D.n >= 1 && D.v[0].code == 12100, "... 12100");
	}
	g = has(12100);
	ok(g && !strchr(g->msg, '\n'), "one-line message");
	is_int(parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Response><Say>caf\xe9</Say></Response>"),
	       0, "ISO-8859-1");
	is_str(DOC->verbs[0].u.say.text, "caf\xc3\xa9", "... converted to UTF-8");

	/* size: 64 KiB + 1 is 11750 before libxml2 sees it */
	big = malloc(65537 + 1);
	if (!big)
		return;
	memset(big, ' ', 65537);
	memcpy(big, "<Response>", 10);
	memcpy(big + 65537 - 11, "</Response>", 11);
	big[65537] = '\0';
	is_int(parse(big), EBADMSG, "65537 bytes refused");
	g = has(11750);
	ok(g && g->sev == CXML_ERROR, "... 11750");
	big[65536 - 11] = '\0';
	memcpy(big + 65536 - 11 - 11, "</Response>", 11);
	is_int(parse(big), 0, "65525 bytes accepted");
	/* depth */
	o = 0;
	o += (size_t)sprintf(big + o, "<Response>");
	for (i = 0; i < 40; i++)
		o += (size_t)sprintf(big + o, "<a>");
	for (i = 0; i < 40; i++)
		o += (size_t)sprintf(big + o, "</a>");
	sprintf(big + o, "</Response>");
	is_int(parse(big), EBADMSG, "41 levels deep refused");
	/* node count */
	o = (size_t)sprintf(big, "<Response>");
	for (i = 0; i < 10001 && o < 60000; i++)
		o += (size_t)sprintf(big + o, "<p/>");
	sprintf(big + o, "</Response>");
	r = parse(big);
	is_int(r, EBADMSG, "more than 10000 nodes refused");
	free(big);
}

/* larger documents: every byte must be read (a static input buffer once
 * misread documents past a few hundred bytes) */
static void test_large(void)
{
	static char buf[60000];
	size_t o, i;

	o = (size_t)sprintf(buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n");
	for (i = 0; i < 400; i++)
		o += (size_t)sprintf(buf + o,
				     "  <Pause length=\"%zu\"/><Say voice=\"alice\">line %zu &amp; more</Say>\n",
				     i % 60, i);
	o += (size_t)sprintf(buf + o, "  <Dial timeout=\"2\"><Sip>sip:last@example.com?X-N=%zu</Sip></Dial>\n</Response>\n", i);
	is_int(parse(buf), 0, "%zu-byte document parses", o);
	if (!ok(DOC && DOC->nverbs == 801, "801 verbs"))
		return;
	ok(DOC->verbs[799].u.say.text && !strcmp(DOC->verbs[799].u.say.text, "line 399 & more"),
	   "last Say text");
	ok(DOC->verbs[800].u.dial.nouns[0].u.sip.uri.nhdrs == 1 &&
	   !strcmp(DOC->verbs[800].u.dial.nouns[0].u.sip.uri.hdrs[0].value, "400"),
	   "last Sip header");
	ok(has(13212) && has(13212)->line == 403 && has(13212)->col == 9,
	   "warning located at 403:9");
	is_int(parse("<Response><Dial callerName=\"A &amp; B &lt;&#65;&gt;\"><Sip>sip:a@b</Sip></Dial></Response>"),
	       0, "references in attribute values");
	is_str(D0()->caller_name, "A & B <A>", "... decoded");
	is_int(parse("<Response><Dial action=\"/x?a=1&amp;b=&#38;c\"><Sip>sip:a@b</Sip></Dial></Response>"),
	       0, "entity-escaped & in a URL");
	is_str(D0()->action, "/x?a=1&b=&c", "... decoded");
}

/* ---- memory: crafted worst cases of 64 KiB ---- */

#define DOC_MAX 65536
static char big[DOC_MAX + 1];
static size_t big_len;

static void big_start(void)
{
	big_len = (size_t)sprintf(big, "<Response>");
}

/* appends s unless the document would pass 64 KiB with "</Response>" */
static bool big_add(const char *s)
{
	size_t n = strlen(s);

	if (big_len + n + 11 > DOC_MAX)
		return false;
	memcpy(big + big_len, s, n);
	big_len += n;
	big[big_len] = '\0';
	return true;
}

static void big_end(void)
{
	memcpy(big + big_len, "</Response>", 12);	/* room kept by big_add */
	big_len += 11;
}

static size_t worst_doc, worst_scratch;

/* Parses big, reports and records the memory both arenas took. */
static int big_parse(const char *what)
{
	size_t dm, sm;
	int err;

	DOC = cxml_doc_free(DOC);
	cxml_diags_clear(&D);
	err = cxml_parse(P, big, big_len, &DOC, &D);
	cxml_parser_mem(P, &dm, &sm);
	diag("%s: %zu bytes, result %d, document arena %zu bytes, scratch %zu bytes",
	     what, big_len, err, dm, sm);
	ok(dm <= CXML_MEMORY_DEFAULT && sm <= CXML_MEMORY_DEFAULT,
	   "%s: within 8 MiB (%zu + %zu bytes)", what, dm, sm);
	if (dm > worst_doc)
		worst_doc = dm;
	if (sm > worst_scratch)
		worst_scratch = sm;
	return err;
}

static size_t count_code(int code)
{
	size_t i, n = 0;

	for (i = 0; i < D.n; i++)
		n += D.v[i].code == code;
	return n;
}

static void test_memory(void)
{
	char item[512];
	size_t dm, sm, i;

	/* a call keeps its document: a typical <Dial> takes one small block */
	is_int(parse("<Response><Dial action=\"/action\" answerOnBridge=\"true\">"
		     "<Sip statusCallback=\"/status\" statusCallbackEvent="
		     "\"initiated ringing answered completed\">"
		     "sip:uas@127.0.0.1:5090?X-A=0123456789&amp;X-B=abcdefgh"
		     "&amp;X-C=42</Sip></Dial></Response>"), 0,
	       "typical <Dial>: parsed");
	cxml_parser_mem(P, &dm, &sm);
	ok(dm <= 1700, "typical <Dial>: its document holds %zu bytes", dm);

	/* one long <Dial sipHeaders> value and as many <Sip> as fit: parsed
	 * once, not once per <Sip> */
	big_start();
	big_add("<Dial sipHeaders=\"X-Big=");
	for (i = 0; i < 30000; i++)
		big_add("v");
	big_add("\">");
	while (big_add("<Sip>sip:a</Sip>"))
		if (big_len > DOC_MAX - 40)
			break;
	big_add("</Dial>");
	big_end();
	is_int(big_parse("long Dial sipHeaders, many Sip"), EBADMSG,
	       "too many <Sip>: refused");
	cxml_parser_mem(P, &dm, &sm);
	ok(dm < 512 * 1024, "nouns past the limit take no memory (%zu bytes)", dm);
	ok(D.nerrors == 1, "one error for the count, none per extra noun (%u)",
	   D.nerrors);

	/* ten <Sip> per <Dial>, each Dial with 64 bad sipHeaders items */
	big_start();
	for (;;) {
		char dialbuf[8192];
		size_t o = (size_t)sprintf(dialbuf, "<Dial sipHeaders=\"");

		for (i = 0; i < 64; i++)
			o += (size_t)sprintf(dialbuf + o, "%sa=", i ? "," : "");
		o += (size_t)sprintf(dialbuf + o, "\">");
		for (i = 0; i < 10; i++)
			o += (size_t)sprintf(dialbuf + o, "<Sip>sip:a</Sip>");
		sprintf(dialbuf + o, "</Dial>");
		if (!big_add(dialbuf))
			break;
	}
	big_end();
	big_parse("64 refused Dial sipHeaders x 10 Sip per Dial");

	/* every <Sip> with 64 refused URI headers */
	big_start();
	for (;;) {
		char dialbuf[8192];
		size_t o = (size_t)sprintf(dialbuf, "<Dial>");

		for (i = 0; i < 10; i++) {
			o += (size_t)sprintf(dialbuf + o, "<Sip>sip:a?");
			for (size_t k = 0; k < 64; k++)
				o += (size_t)sprintf(dialbuf + o, "%sa", k ? "&amp;" : "");
			o += (size_t)sprintf(dialbuf + o, "</Sip>");
		}
		sprintf(dialbuf + o, "</Dial>");
		if (!big_add(dialbuf))
			break;
	}
	big_end();
	big_parse("64 refused URI headers per Sip");

	/* ... and 64 refused items of <Sip sipHeaders>, two bytes each */
	big_start();
	for (;;) {
		char dialbuf[8192];
		size_t o = (size_t)sprintf(dialbuf, "<Dial>");

		for (i = 0; i < 10; i++) {
			o += (size_t)sprintf(dialbuf + o, "<Sip sipHeaders=\"");
			for (size_t k = 0; k < 64; k++)
				o += (size_t)sprintf(dialbuf + o, "%sa", k ? "," : "");
			o += (size_t)sprintf(dialbuf + o, "\">sip:a</Sip>");
		}
		sprintf(dialbuf + o, "</Dial>");
		if (!big_add(dialbuf))
			break;
	}
	big_end();
	big_parse("64 refused Sip sipHeaders per Sip");

	/* every <Sip> with the most accepted headers the policy lets by */
	big_start();
	for (;;) {
		char dialbuf[8192];
		size_t o = (size_t)sprintf(dialbuf, "<Dial sipHeaders=\"");

		for (i = 0; i < 60; i++)
			o += (size_t)sprintf(dialbuf + o, "%sX-%zu=v", i ? "," : "", i);
		o += (size_t)sprintf(dialbuf + o, "\">");
		for (i = 0; i < 10; i++)
			o += (size_t)sprintf(dialbuf + o, "<Sip>sip:a</Sip>");
		sprintf(dialbuf + o, "</Dial>");
		if (!big_add(dialbuf))
			break;
	}
	big_end();
	big_parse("60 accepted Dial sipHeaders x 10 Sip per Dial");

	/* the same with a header of each <Sip>'s own: the lists merge */
	big_start();
	for (;;) {
		char dialbuf[8192];
		size_t o = (size_t)sprintf(dialbuf, "<Dial sipHeaders=\"");

		for (i = 0; i < 64; i++)
			o += (size_t)sprintf(dialbuf + o, "%sa", i ? "," : "");
		o += (size_t)sprintf(dialbuf + o, "\">");
		for (i = 0; i < 10; i++)
			o += (size_t)sprintf(dialbuf + o, "<Sip>sip:a?a</Sip>");
		sprintf(dialbuf + o, "</Dial>");
		if (!big_add(dialbuf))
			break;
	}
	big_end();
	big_parse("64 refused Dial sipHeaders merged into 10 Sip with their own");

	/* the most elements: empty verbs up to the node cap */
	big_start();
	while (big_add("<Hangup/>"))
		;
	big_end();
	big_parse("Hangup x max");
	big_start();
	while (big_add("<Dial><Sip>sip:a</Sip></Dial>"))
		;
	big_end();
	big_parse("Dial/Sip x max");
	big_start();
	while (big_add("<Gather><Say>a</Say><Pause/></Gather>"))
		;
	big_end();
	big_parse("Gather x max");

	/* many attributes, each kept */
	big_start();
	for (i = 0; big_len < DOC_MAX - 100; i++) {
		snprintf(item, sizeof(item), "<Dial callerName=\"%0200zu\" action=\"/%0200zu\">1</Dial>", i, i);
		if (!big_add(item))
			break;
	}
	big_end();
	big_parse("long attributes");
	diag("worst case: document arena %zu bytes, scratch arena %zu bytes",
	     worst_doc, worst_scratch);

	/* the cap itself: a small one refuses the document, with 12100 */
	{
		struct cxml_policy pol;
		struct cxml_parser *p2 = NULL;
		struct cxml_doc *doc = NULL;

		cxml_policy_default(&pol);
		pol.max_memory = 64 * 1024;
		if (ok(cxml_parser_alloc(&p2, &pol) == 0, "parser with a 64 KiB cap")) {
			cxml_diags_clear(&D);
			is_int(cxml_parse(p2, big, big_len, &doc, &D), EBADMSG,
			       "a document needing more is refused");
			ok(has(12100) && strstr(has(12100)->msg, "more memory than"),
			   "with 12100: %s", has(12100) ? has(12100)->msg : "none");
			cxml_parser_mem(p2, &dm, &sm);
			ok(dm <= pol.max_memory && sm <= pol.max_memory,
			   "and stays under it (%zu + %zu)", dm, sm);
			cxml_diags_clear(&D);
			is_int(cxml_parse(p2, "<Response><Hangup/></Response>", 30,
					  &doc, &D), 0, "a small document still parses");
			doc = cxml_doc_free(doc);
			p2 = cxml_parser_free(p2);
		}
	}

	/* <Dial sipHeaders> is read once: its refusals are reported and
	 * listed once, at the <Dial> */
	is_int(dial("sipHeaders=\"Foo=1,X-A=2\"",
		    "<Sip>sip:a@b</Sip><Sip>sip:c@d</Sip><Sip>sip:e@f</Sip>"), 0,
	       "three Sip under one Dial sipHeaders");
	is_int((long long)count_code(13252), 1, "the refusal is reported once");
	is_int((long long)D0()->nrefused, 1, "and listed once, at the Dial");
	for (i = 0; i < 3; i++)
		ok(D0()->nouns[i].u.sip.uri.nrefused == 0 &&
		   D0()->nouns[i].u.sip.uri.nhdrs == 1 &&
		   !strcmp(D0()->nouns[i].u.sip.uri.hdrs[0].name, "X-A"),
		   "Sip %zu sends X-A", i);
	is_int(dial("sipHeaders=\"X-A=dial\"",
		    "<Sip sipHeaders=\"X-A=sip\">sip:a@b</Sip>"), 0,
	       "same name on Sip and Dial");
	ok(S0()->uri.nhdrs == 1 && !strcmp(S0()->uri.hdrs[0].value, "sip") &&
	   S0()->uri.nrefused == 1 && S0()->uri.refused[0].code == 13252,
	   "the Sip's wins, the Dial's is refused as a duplicate");
}

/* ---- credentials ---- */

static void test_credentials(void)
{
	const struct cxml_sip *s;

	is_int(sip("username=\"al&quot;ice\"", "sip:a@b"), EBADMSG,
	       "username with '\"' is refused");
	ok(has_sev(12200, CXML_ERROR), "as an error");
	is_int(sip("username=\"al\\\\ice\"", "sip:a@b"), EBADMSG,
	       "username with '\\\\' is refused");
	is_int(sip("username=\"al&#9;ice\"", "sip:a@b"), EBADMSG,
	       "username with a tab is refused");
	is_int(sip("username=\"al&#127;ice\"", "sip:a@b"), EBADMSG,
	       "username with DEL is refused");
	is_int(sip("username=\"alice.o'neil+1\"", "sip:a@b"), 0,
	       "an ordinary username");

	is_int(sip("", "sip:alice:s3cret@pbx.example.com;transport=tcp"), 0,
	       "user:password in a Sip URI");
	s = S0();
	is_str(s->uri.target, "sip:alice@pbx.example.com;transport=tcp",
	       "the password is not in the target (Request-URI)");
	is_str(s->username, "alice", "the user becomes the digest username");
	is_str(s->password, "s3cret", "the password the digest password");
	is_int(sip("", "sip:alice:s%33cret@pbx.example.com"), 0, "escaped password");
	is_str(S0()->password, "s3cret", "decoded");
	is_int(sip("", "sip:alice:@pbx.example.com"), 0, "empty password");
	ok(S0()->password && !*S0()->password, "given as empty");
	is_int(sip("username=\"bob\"", "sip:alice:s3cret@pbx.example.com"), EBADMSG,
	       "a password in the URI and a username attribute");
	ok(has_sev(32110, CXML_ERROR), "is error 32110");
	for (size_t i = 0; i < D.n; i++)
		ok(!strstr(D.v[i].msg, "s3cret"), "no diagnostic shows the password");
	is_int(sip("password=\"x\"", "sip:alice:s3cret@pbx.example.com"), EBADMSG,
	       "a password in the URI and a password attribute");
	is_int(sip("", "sip:al%22ice:pw@pbx.example.com"), EBADMSG,
	       "a URI user with '\"' cannot be a digest username");
	ok(has_sev(32110, CXML_ERROR), "32110");
	is_int(sip("", "sip:alice:s3c<ret@pbx.example.com"), EBADMSG,
	       "an unescaped '<' in the password");
	ok(D.n && !strstr(D.v[0].msg, "<"), "the message does not show it: %s",
	   D.n ? D.v[0].msg : "");
}

static void test_locations(void)
{
	const struct cxml_diag *g;

	is_int(parse("<Response>\n  <Dial\n     timeout=\"2\"\n     hangupOnStar=\"x\">\n"
		     "<Sip>sip:a@b</Sip></Dial>\n</Response>"), EBADMSG, "multi-line tag");
	g = has(13212);
	ok(g && g->line == 3 && g->col == 6 && !strcmp(g->attr, "timeout") &&
	   !strcmp(g->elem, "Dial"), "timeout warning at 3:6");
	g = has(13213);
	ok(g && g->line == 4 && g->col == 6, "hangupOnStar error at 4:6");
	ok(cxml_diags_first_error(&D) == g, "first error is the hangupOnStar one");
	is_int(parse("<Response><!-- <Dial> --><Pause/><![CDATA[<x>]]>\n<Pause length=\"a\"/></Response>"),
	       EBADMSG, "comments and CDATA before the element");
	g = cxml_diags_first_error(&D);
	ok(g && g->code == 12200 && !strcmp(g->attr, "length") && g->line == 2 &&
	   g->col == 8, "located after a comment (2:8)");
}

static void test_parser_reuse(void)
{
	char buf[256];
	int i, fails = 0;

	for (i = 0; i < 6000; i++) {
		snprintf(buf, sizeof(buf),
			 "<Response><x%d/><Dial><Sip>sip:u%d@h</Sip></Dial></Response>",
			 i, i);
		if (parse(buf) || DOC->nverbs != 1)
			fails++;
	}
	is_int(fails, 0, "6000 documents with made-up names through one parser");
	DOC = cxml_doc_free(DOC);
	is_int(cxml_parse_once("<Response><Hangup/></Response>", 30, NULL, &DOC, NULL),
	       0, "one-shot parse with no diagnostics list");
	DOC = cxml_doc_free(DOC);
	is_int(cxml_parse(P, NULL, 5, &DOC, &D), EINVAL, "NULL buffer is EINVAL");
}

/* one parser per thread: no shared state between parsers */
static void *parse_thread(void *arg)
{
	static const char doc[] = "<Response><Dial timeout=\"3\"><Sip>sip:a@b?X-T=1&amp;Via=x</Sip></Dial>"
				  "<Bad a=\"1\"/></Response>";
	struct cxml_parser *p = NULL;
	struct cxml_diags d = { 0 };
	struct cxml_doc *doc_ = NULL;
	long bad = 0;
	int i;

	(void)arg;
	if (cxml_parser_alloc(&p, NULL))
		return (void *)1;
	for (i = 0; i < 3000; i++) {
		cxml_diags_clear(&d);
		if (cxml_parse(p, doc, sizeof(doc) - 1, &doc_, &d) || d.n != 3 ||
		    doc_->verbs[0].u.dial.timeout != 5 || d.v[0].col != 17)
			bad++;
		doc_ = cxml_doc_free(doc_);
	}
	cxml_diags_free(&d);
	cxml_parser_free(p);
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[2];
	void *r[2] = { (void *)1, (void *)1 };
	int i;

	for (i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, parse_thread, NULL))
			t[i] = 0;
	for (i = 0; i < 2; i++)
		if (t[i])
			pthread_join(t[i], &r[i]);
	ok(r[0] == NULL && r[1] == NULL, "two threads, a parser each, 3000 documents each");
}

static int nviews, nsecret;
static char codecs_seen[64];

static void on_view(const struct cxml_attr_view *a, void *arg)
{
	(void)arg;
	nviews++;
	if (a->secret)
		nsecret++;
	if (!strcmp(a->name, "codecs") && a->value)
		snprintf(codecs_seen, sizeof(codecs_seen), "%s", a->value);
}

static void test_views(void)
{
	is_int(sip("password=\"pw\" codecs=\"G722,PCMU\"", "sip:a@b"), 0, "Sip for views");
	cxml_noun_attrs(&D0()->nouns[0], on_view, NULL);
	ok(nviews >= 9, "noun attributes listed (no AMD settings without machineDetection)");
	is_int(nsecret, 1, "password marked secret");
	is_str(codecs_seen, "G722,PCMU", "codecs formatted in order");
	nviews = 0;
	cxml_verb_attrs(&DOC->verbs[0], on_view, NULL);
	ok(nviews >= 18, "Dial attributes listed");
}

int main(void)
{
	char errpath[] = "/tmp/dialerd-test-cxml-XXXXXX";
	int fd = mkstemp(errpath), saved = dup(2);
	off_t errsize;

	if (fd < 0 || saved < 0 || cxml_parser_alloc(&P, NULL))
		return 99;
	/* libxml2 must never print: capture stderr while parsing */
	dup2(fd, 2);
	test_dial_attrs();
	test_sip_attrs();
	test_number();
	test_dial_nouns();
	test_verbs();
	test_document();
	test_large();
	test_memory();
	test_credentials();
	test_locations();
	test_views();
	test_parser_reuse();
	test_threads();
	fflush(stderr);
	errsize = lseek(fd, 0, SEEK_END);
	dup2(saved, 2);
	close(saved);
	close(fd);
	unlink(errpath);
	is_int((long long)errsize, 0, "nothing printed on stderr");
	DOC = cxml_doc_free(DOC);
	cxml_diags_free(&D);
	P = cxml_parser_free(P);
	xmlCleanupParser();
	return tap_done();
}
