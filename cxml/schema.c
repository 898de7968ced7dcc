/* schema.c: the cXML vocabulary: every verb and noun, its attributes, types, ranges and defaults */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cxml/internal.h"

/* enums are stored through int pointers by the generic parser */
_Static_assert(sizeof(enum cxml_method) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cxml_record) == sizeof(int), "enum size");

static const char *const call_events[] = {
	"initiated", "ringing", "answered", "completed", NULL,
};
static const char *const rec_events[] = {
	"in-progress", "completed", "absent", NULL,
};
static const char *const conf_events[] = {
	"start", "end", "join", "leave", "mute", "hold", "modify", "speaker",
	"announcement", NULL,
};
static const char *const record_names[] = {
	"do-not-record", "record-from-answer", "record-from-ringing",
	"record-from-answer-dual", "record-from-ringing-dual", NULL,
};
static const char *const trim_names[] = {
	"do-not-trim", "trim-silence", NULL,
};
static const char *const track_names[] = {
	"both", "inbound", "outbound", NULL,
};
static const char *const amd_names[] = {
	"", "Enable", "DetectMessageEnd", NULL,
};
static const char *const beep_names[] = {
	"true", "false", "onEnter", "onExit", NULL,
};
static const char *const conf_record_names[] = {
	"do-not-record", "record-from-start", NULL,
};
static const char *const reject_names[] = {
	"rejected", "busy", NULL,
};
static const char *const input_names[] = {
	"dtmf", "speech", NULL,
};
static const char *const ring_tones[] = {
	"at", "au", "bg", "br", "be", "ch", "cl", "cn", "cz", "de", "dk", "ee",
	"es", "fi", "fr", "gr", "hu", "il", "in", "it", "lt", "jp", "mx", "my",
	"nl", "no", "nz", "ph", "pl", "pt", "ru", "se", "sg", "th", "uk", "us",
	"us-old", "tw", "ve", "za", NULL,
};

/* ---- custom value parsers ---- */

static int store_str(struct attr_ctx *c, void *field, const char *v)
{
	*(const char **)field = arena_strdup(c->a, v);
	return *(const char **)field ? 0 : ENOMEM;
}

bool cxml_digest_username_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* goes into the quoted username="..." of a digest Authorization header:
 * a quote or a backslash would end or bend it, a control byte split it */
static int fn_username(struct attr_ctx *c, const struct attr_spec *s,
		       void *field, const char *v)
{
	if (!cxml_digest_username_ok(v)) {
		attr_bad(c, s, CXML_ERROR, 12200, v,
			 "must not hold '\"', '\\' or a control character");
		return EBADMSG;
	}
	if (!*v) {
		*(const char **)field = NULL;
		return 0;
	}
	return store_str(c, field, v);
}

/* As Twilio does: 5-600; smaller positive raised to 5, larger lowered to
 * 600, non-integer or non-positive falls back to 30; each reported as
 * 13212 (a warning: the call goes on) */
static int fn_dial_timeout(struct attr_ctx *c, const struct attr_spec *s,
			   void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	char tmp[32];
	long l;

	if (n >= sizeof(tmp) - 1 && n) {
		/* a long digit string is still an integer: too large */
		size_t i;

		for (i = (*v == '+' ? 1 : 0); i < n; i++)
			if (v[i] < '0' || v[i] > '9')
				break;
		l = i == n && *v != '-' ? 1000000 : 0;
		if (i != n) {
			attr_bad(c, s, CXML_WARNING, 13212, raw,
				 "not an integer; using 30");
			*(int *)field = 30;
			return 0;
		}
	} else {
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		if (!cxml_parse_int(tmp, &l) || l <= 0) {
			attr_bad(c, s, CXML_WARNING, 13212, raw,
				 "not a positive integer; using 30");
			*(int *)field = 30;
			return 0;
		}
	}
	if (l < 5) {
		attr_bad(c, s, CXML_WARNING, 13212, raw,
			 "below the minimum of 5 seconds; using 5");
		l = 5;
	} else if (l > 600) {
		attr_bad(c, s, CXML_WARNING, 13212, raw,
			 "above the maximum of 600 seconds; using 600");
		l = 600;
	}
	*(int *)field = (int)l;
	return 0;
}

/* The legacy boolean form: true = record-from-answer, false =
 * do-not-record; anything else: warning 12200, not recorded */
static int fn_dial_record(struct attr_ctx *c, const struct attr_spec *s,
			  void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	int i;

	if (n == 4 && !strncasecmp(v, "true", 4)) {
		*(int *)field = CXML_REC_FROM_ANSWER;
		return 0;
	}
	if (n == 5 && !strncasecmp(v, "false", 5)) {
		*(int *)field = CXML_REC_DO_NOT_RECORD;
		return 0;
	}
	for (i = 0; record_names[i]; i++)
		if (strlen(record_names[i]) == n &&
		    !strncasecmp(record_names[i], v, n)) {
			*(int *)field = i;
			return 0;
		}
	attr_bad(c, s, CXML_WARNING, 12200, raw,
		 "not a record mode; the call is not recorded");
	*(int *)field = CXML_REC_DO_NOT_RECORD;
	return 0;
}

/* Anything but true/false is warning 13218 and parallel ringing, as
 * SignalWire answers it */
static int fn_dial_sequential(struct attr_ctx *c, const struct attr_spec *s,
			      void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);

	if (n == 4 && !strncasecmp(v, "true", 4)) {
		*(bool *)field = true;
	} else if (n == 5 && !strncasecmp(v, "false", 5)) {
		*(bool *)field = false;
	} else {
		attr_bad(c, s, CXML_WARNING, 13218, raw,
			 "must be true or false; ringing in parallel");
		*(bool *)field = false;
	}
	return 0;
}

#define CALLER_ID_MAX 64

/* <Sip> dialing: alphanumerics plus + - _ . , and no whitespace */
static int fn_caller_id(struct attr_ctx *c, const struct attr_spec *s,
			void *field, const char *raw)
{
	const char *p;

	if (!*raw) {
		*(const char **)field = NULL;
		return 0;
	}
	if (strlen(raw) > CALLER_ID_MAX) {
		attr_bad(c, s, CXML_ERROR, 13248, raw,
			 "callerId longer than 64 characters");
		return EBADMSG;
	}
	for (p = raw; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || strchr("+-_.,", *p))) {
			attr_bad(c, s, CXML_ERROR, 13214, raw,
				 "callerId may hold letters, digits and + - _ . , only");
			return EBADMSG;
		}
	return store_str(c, field, raw);
}

/* SignalWire: up to 70 characters; it becomes a SIP display name */
static int fn_caller_name(struct attr_ctx *c, const struct attr_spec *s,
			  void *field, const char *raw)
{
	const unsigned char *p;

	if (!*raw) {
		*(const char **)field = NULL;
		return 0;
	}
	if (strlen(raw) > 70) {
		attr_bad(c, s, CXML_ERROR, 12200, raw,
			 "callerName longer than 70 characters");
		return EBADMSG;
	}
	for (p = (const unsigned char *)raw; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
			attr_bad(c, s, CXML_ERROR, 12200, raw,
				 "callerName may not hold quotes, backslashes or control characters");
			return EBADMSG;
		}
	return store_str(c, field, raw);
}

static int fn_ring_tone(struct attr_ctx *c, const struct attr_spec *s,
			void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	int i;

	for (i = 0; ring_tones[i]; i++)
		if (strlen(ring_tones[i]) == n && !strncmp(ring_tones[i], v, n))
			return store_str(c, field, ring_tones[i]);
	attr_bad(c, s, CXML_ERROR, 12200, raw,
		 "not a ringTone country code (at au ... us us-old ... za)");
	return EBADMSG;
}

/* sendDigits / Play digits: 0-9 A-D * # w W (SignalWire 13222) */
static int fn_digits(struct attr_ctx *c, const struct attr_spec *s,
		     void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	size_t i;

	if (!n) {
		*(const char **)field = NULL;
		return 0;
	}
	if (n > 32 && !strcmp(s->name, "sendDigits")) {
		attr_bad(c, s, CXML_ERROR, 13222, raw,
			 "at most 32 digits");
		return EBADMSG;
	}
	for (i = 0; i < n; i++)
		if (!strchr("0123456789ABCD*#wW", v[i]) || !v[i]) {
			attr_bad(c, s, CXML_ERROR, 13222, raw,
				 "digits may be 0-9 A-D * # w W only");
			return EBADMSG;
		}
	*(const char **)field = arena_strndup(c->a, v, n);
	return *(const char **)field ? 0 : ENOMEM;
}

static int finish_keys(struct attr_ctx *c, const struct attr_spec *s,
		       void *field, const char *raw, size_t max)
{
	const char *p;

	if (strlen(raw) > max) {
		attr_bad(c, s, CXML_ERROR, 12200, raw, max == 1 ?
			 "a single key 0-9, * or #, or empty for none" :
			 "keys 0-9, * and # only");
		return EBADMSG;
	}
	for (p = raw; *p; p++)
		if (!strchr("0123456789*#", *p)) {
			attr_bad(c, s, CXML_ERROR, 12200, raw,
				 "keys 0-9, * and # only");
			return EBADMSG;
		}
	return store_str(c, field, raw);
}

static int fn_finish_key_gather(struct attr_ctx *c, const struct attr_spec *s,
				void *field, const char *raw)
{
	return finish_keys(c, s, field, raw, 1);
}

static int fn_finish_key_record(struct attr_ctx *c, const struct attr_spec *s,
				void *field, const char *raw)
{
	return finish_keys(c, s, field, raw, 12);
}

static int fn_speech_timeout(struct attr_ctx *c, const struct attr_spec *s,
			     void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	char tmp[16];
	long l;

	if (n == 4 && !strncmp(v, "auto", 4))
		return store_str(c, field, "auto");
	if (n && n < sizeof(tmp)) {
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		if (cxml_parse_int(tmp, &l) && l >= 0 && l <= 600)
			return store_str(c, field, tmp);
	}
	attr_bad(c, s, CXML_ERROR, 12200, raw,
		 "expected \"auto\" or an integer 0-600");
	return EBADMSG;
}

/* RFC 4028: Session-Expires below Min-SE (90 s) would be refused with 422 */
static int fn_session_timeout(struct attr_ctx *c, const struct attr_spec *s,
			      void *field, const char *raw)
{
	size_t n;
	const char *v = cxml_trim_ws(raw, &n);
	char tmp[16];
	long l = -1;

	if (n && n < sizeof(tmp)) {
		memcpy(tmp, v, n);
		tmp[n] = '\0';
		if (!cxml_parse_int(tmp, &l))
			l = -1;
	}
	if (l < 0 || l > 86400) {
		attr_bad(c, s, CXML_ERROR, 12200, raw,
			 "expected an integer 0-86400 (seconds; 0 = default)");
		return EBADMSG;
	}
	if (l > 0 && l < 90) {
		attr_bad(c, s, CXML_WARNING, 12200, raw,
			 "below the RFC 4028 minimum of 90 seconds; using 90");
		l = 90;
	}
	*(int *)field = (int)l;
	return 0;
}

/* ---- tables ---- */

#define A(n, t, st, f) { .name = n, .type = t, .off = offsetof(st, f) }
#define AC(n, t, st, f, c) { .name = n, .type = t, .off = offsetof(st, f), .code = c }
#define AI(n, st, f, c, l, h) { .name = n, .type = AT_INT, \
	.off = offsetof(st, f), .code = c, .lo = l, .hi = h }
#define AE(n, t, st, f, c, nm) { .name = n, .type = t, .off = offsetof(st, f), \
	.code = c, .names = nm }
#define AF(n, t, st, f, fun) { .name = n, .type = t, .off = offsetof(st, f), .fn = fun }
#define AFE(n, t, st, f, fun, nm) { .name = n, .type = t, \
	.off = offsetof(st, f), .fn = fun, .names = nm }
#define AX(n) { .name = n, .type = AT_IGNORED }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define AMD_ATTRS(st) \
	AE("machineDetection", AT_ENUM, st, amd.mode, 12200, amd_names), \
	A("amdStatusCallback", AT_URL, st, amd.status_callback), \
	A("amdStatusCallbackMethod", AT_METHOD, st, amd.status_callback_method), \
	AI("machineDetectionTimeout", st, amd.timeout, 12200, 3, 60), \
	AI("machineDetectionSpeechThreshold", st, amd.speech_threshold, 12200, 1000, 6000), \
	AI("machineDetectionSpeechEndThreshold", st, amd.speech_end_threshold, 12200, 500, 5000), \
	AI("machineDetectionSilenceTimeout", st, amd.silence_timeout, 12200, 2000, 10000)

#define AMD_DEFAULTS { .mode = CXML_AMD_NONE, .timeout = 30, \
	.speech_threshold = 2400, .speech_end_threshold = 1200, \
	.silence_timeout = 5000 }

static const struct attr_spec dial_attrs[] = {
	A("action", AT_URL, struct cxml_dial, action),
	A("method", AT_METHOD, struct cxml_dial, method),
	AF("timeout", AT_INT, struct cxml_dial, timeout, fn_dial_timeout),
	AC("hangupOnStar", AT_BOOL, struct cxml_dial, hangup_on_star, 13213),
	AI("timeLimit", struct cxml_dial, time_limit, 13216, 1, 86400),
	AF("callerId", AT_STR, struct cxml_dial, caller_id, fn_caller_id),
	AF("callerName", AT_STR, struct cxml_dial, caller_name, fn_caller_name),
	AFE("record", AT_ENUM, struct cxml_dial, record, fn_dial_record, record_names),
	AE("trim", AT_ENUM, struct cxml_dial, trim, 13699, trim_names),
	A("recordingStatusCallback", AT_URL, struct cxml_dial, recording_status_callback),
	A("recordingStatusCallbackMethod", AT_METHOD, struct cxml_dial, recording_status_callback_method),
	AE("recordingStatusCallbackEvent", AT_EVENTS, struct cxml_dial, recording_status_callback_event, 13621, rec_events),
	AE("recordingTrack", AT_ENUM, struct cxml_dial, recording_track, 12200, track_names),
	A("recordingStorageUrl", AT_URL, struct cxml_dial, recording_storage_url),
	A("recordingStorageUrlMethod", AT_METHOD_PUT, struct cxml_dial, recording_storage_url_method),
	AC("answerOnBridge", AT_BOOL, struct cxml_dial, answer_on_bridge, 12200),
	AF("ringTone", AT_STR, struct cxml_dial, ring_tone, fn_ring_tone),
	AF("sequential", AT_BOOL, struct cxml_dial, sequential, fn_dial_sequential),
	AX("referUrl"), AX("referMethod"), AX("events"),
	AX("recordingConfigurationId"), AX("passports"), AX("recordingChannels"),
};

static const struct cxml_dial dial_def = {
	.method = CXML_POST, .timeout = 30, .time_limit = 14400,
	.record = CXML_REC_DO_NOT_RECORD, .trim = CXML_TRIM_DO_NOT_TRIM,
	.recording_status_callback_event = CXML_REC_EV_COMPLETED,
	.recording_track = CXML_TRACK_BOTH,
	.recording_storage_url_method = CXML_POST,
};

static const struct attr_spec say_attrs[] = {
	A("voice", AT_STR, struct cxml_say, voice),
	A("language", AT_STR, struct cxml_say, language),
	AI("loop", struct cxml_say, loop, 12200, 0, 1000),
};
static const struct cxml_say say_def = { .language = "en-US", .loop = 1 };

static const struct attr_spec play_attrs[] = {
	AI("loop", struct cxml_play, loop, 12200, 0, 1000),
	AF("digits", AT_STR, struct cxml_play, digits, fn_digits),
};
static const struct cxml_play play_def = { .loop = 1 };

static const struct attr_spec pause_attrs[] = {
	AI("length", struct cxml_pause, length, 12200, 0, 3600),
};
static const struct cxml_pause pause_def = { .length = 1 };

static const struct attr_spec gather_attrs[] = {
	A("action", AT_URL, struct cxml_gather, action),
	A("method", AT_METHOD, struct cxml_gather, method),
	AI("timeout", struct cxml_gather, timeout, 12200, 0, 600),
	AF("finishOnKey", AT_STR, struct cxml_gather, finish_on_key, fn_finish_key_gather),
	AI("numDigits", struct cxml_gather, num_digits, 12200, 1, 255),
	AE("input", AT_EVENTS, struct cxml_gather, input, 12200, input_names),
	AF("speechTimeout", AT_STR, struct cxml_gather, speech_timeout, fn_speech_timeout),
	A("language", AT_STR, struct cxml_gather, language),
	A("hints", AT_STR, struct cxml_gather, hints),
	AC("profanityFilter", AT_BOOL, struct cxml_gather, profanity_filter, 12200),
	A("partialResultCallback", AT_URL, struct cxml_gather, partial_result_callback),
	A("partialResultCallbackMethod", AT_METHOD, struct cxml_gather, partial_result_callback_method),
	AC("actionOnEmptyResult", AT_BOOL, struct cxml_gather, action_on_empty_result, 12200),
	A("speechModel", AT_STR, struct cxml_gather, speech_model),
	AC("enhanced", AT_BOOL, struct cxml_gather, enhanced, 12200),
	AX("bargeIn"), AX("debug"),
};
static const struct cxml_gather gather_def = {
	.timeout = 5, .finish_on_key = "#", .input = CXML_INPUT_DTMF,
	.language = "en-US", .profanity_filter = true,
};

static const struct attr_spec record_attrs[] = {
	A("action", AT_URL, struct cxml_record_verb, action),
	A("method", AT_METHOD, struct cxml_record_verb, method),
	AI("timeout", struct cxml_record_verb, timeout, 12200, 0, 600),
	AF("finishOnKey", AT_STR, struct cxml_record_verb, finish_on_key, fn_finish_key_record),
	AI("maxLength", struct cxml_record_verb, max_length, 12200, 1, 86400),
	AC("playBeep", AT_BOOL, struct cxml_record_verb, play_beep, 12200),
	AE("trim", AT_ENUM, struct cxml_record_verb, trim, 13699, trim_names),
	A("recordingStatusCallback", AT_URL, struct cxml_record_verb, recording_status_callback),
	A("recordingStatusCallbackMethod", AT_METHOD, struct cxml_record_verb, recording_status_callback_method),
	AE("recordingStatusCallbackEvent", AT_EVENTS, struct cxml_record_verb, recording_status_callback_event, 13621, rec_events),
	AC("transcribe", AT_BOOL, struct cxml_record_verb, transcribe, 12200),
	A("transcribeCallback", AT_URL, struct cxml_record_verb, transcribe_callback),
	A("storageUrl", AT_URL, struct cxml_record_verb, storage_url),
	A("storageUrlMethod", AT_METHOD_PUT, struct cxml_record_verb, storage_url_method),
	AX("recordingChannels"),
};
static const struct cxml_record_verb record_def = {
	.timeout = 5, .finish_on_key = "1234567890*#", .max_length = 3600,
	.play_beep = true, .trim = CXML_TRIM_SILENCE,
	.recording_status_callback_event = CXML_REC_EV_COMPLETED,
};

static const struct attr_spec redirect_attrs[] = {
	A("method", AT_METHOD, struct cxml_redirect, method),
};

static const struct attr_spec reject_attrs[] = {
	AE("reason", AT_ENUM, struct cxml_reject, reason, 12200, reject_names),
};

static const struct attr_spec enqueue_attrs[] = {
	A("action", AT_URL, struct cxml_enqueue, action),
	A("method", AT_METHOD, struct cxml_enqueue, method),
	A("waitUrl", AT_URL, struct cxml_enqueue, wait_url),
	A("waitUrlMethod", AT_METHOD, struct cxml_enqueue, wait_url_method),
	A("workflowSid", AT_STR, struct cxml_enqueue, workflow_sid),
	AX("maxQueueSize"),
};

static const struct attr_spec refer_attrs[] = {
	A("action", AT_URL, struct cxml_refer, action),
	A("method", AT_METHOD, struct cxml_refer, method),
};

const struct elem_spec schema_verbs[ELEM_NVERBS] = {
	[ELEM_V_DIAL] = { "Dial", dial_attrs, COUNT(dial_attrs),
			  sizeof(struct cxml_dial), &dial_def },
	[ELEM_V_SAY] = { "Say", say_attrs, COUNT(say_attrs),
			 sizeof(struct cxml_say), &say_def },
	[ELEM_V_PLAY] = { "Play", play_attrs, COUNT(play_attrs),
			  sizeof(struct cxml_play), &play_def },
	[ELEM_V_PAUSE] = { "Pause", pause_attrs, COUNT(pause_attrs),
			   sizeof(struct cxml_pause), &pause_def },
	[ELEM_V_GATHER] = { "Gather", gather_attrs, COUNT(gather_attrs),
			    sizeof(struct cxml_gather), &gather_def },
	[ELEM_V_RECORD] = { "Record", record_attrs, COUNT(record_attrs),
			    sizeof(struct cxml_record_verb), &record_def },
	[ELEM_V_REDIRECT] = { "Redirect", redirect_attrs, COUNT(redirect_attrs),
			      sizeof(struct cxml_redirect), NULL },
	[ELEM_V_REJECT] = { "Reject", reject_attrs, COUNT(reject_attrs),
			    sizeof(struct cxml_reject), NULL },
	[ELEM_V_HANGUP] = { "Hangup", NULL, 0, 0, NULL },
	[ELEM_V_ENQUEUE] = { "Enqueue", enqueue_attrs, COUNT(enqueue_attrs),
			     sizeof(struct cxml_enqueue), NULL },
	[ELEM_V_LEAVE] = { "Leave", NULL, 0, 0, NULL },
	[ELEM_V_REFER] = { "Refer", refer_attrs, COUNT(refer_attrs),
			   sizeof(struct cxml_refer), NULL },
};

static const struct attr_spec number_attrs[] = {
	AF("sendDigits", AT_STR, struct cxml_number, send_digits, fn_digits),
	A("url", AT_URL, struct cxml_number, url),
	A("method", AT_METHOD, struct cxml_number, method),
	A("statusCallback", AT_URL, struct cxml_number, status_callback),
	A("statusCallbackMethod", AT_METHOD, struct cxml_number, status_callback_method),
	AE("statusCallbackEvent", AT_EVENTS, struct cxml_number, status_callback_event, 12200, call_events),
	A("byoc", AT_STR, struct cxml_number, byoc),
	AMD_ATTRS(struct cxml_number),
};
static const struct cxml_number number_def = {
	.status_callback_event = CXML_EV_COMPLETED, .amd = AMD_DEFAULTS,
};

static const struct attr_spec sip_attrs[] = {
	AF("username", AT_STR, struct cxml_sip, username, fn_username),
	A("password", AT_SECRET, struct cxml_sip, password),
	A("url", AT_URL, struct cxml_sip, url),
	A("method", AT_METHOD, struct cxml_sip, method),
	A("statusCallback", AT_URL, struct cxml_sip, status_callback),
	A("statusCallbackMethod", AT_METHOD, struct cxml_sip, status_callback_method),
	AE("statusCallbackEvent", AT_EVENTS, struct cxml_sip, status_callback_event, 12200, call_events),
	A("codecs", AT_CODECS, struct cxml_sip, codecs),
	AF("sessionTimeout", AT_INT, struct cxml_sip, session_timeout, fn_session_timeout),
	AMD_ATTRS(struct cxml_sip),
};
static const struct cxml_sip sip_def = {
	.status_callback_event = CXML_EV_COMPLETED,
	.codecs = { .v = { CXML_CODEC_PCMU, CXML_CODEC_PCMA }, .n = 2 },
	.amd = AMD_DEFAULTS,
};

static const struct attr_spec client_attrs[] = {
	A("url", AT_URL, struct cxml_client, url),
	A("method", AT_METHOD, struct cxml_client, method),
	A("statusCallback", AT_URL, struct cxml_client, status_callback),
	A("statusCallbackMethod", AT_METHOD, struct cxml_client, status_callback_method),
	AE("statusCallbackEvent", AT_EVENTS, struct cxml_client, status_callback_event, 12200, call_events),
};
static const struct cxml_client client_def = {
	.status_callback_event = CXML_EV_COMPLETED,
};

static const struct attr_spec conference_attrs[] = {
	AC("muted", AT_BOOL, struct cxml_conference, muted, 12200),
	AE("beep", AT_ENUM, struct cxml_conference, beep, 12200, beep_names),
	AC("startConferenceOnEnter", AT_BOOL, struct cxml_conference, start_on_enter, 12200),
	AC("endConferenceOnExit", AT_BOOL, struct cxml_conference, end_on_exit, 12200),
	A("waitUrl", AT_URL, struct cxml_conference, wait_url),
	A("waitMethod", AT_METHOD, struct cxml_conference, wait_method),
	AI("maxParticipants", struct cxml_conference, max_participants, 12200, 2, 250),
	AE("record", AT_ENUM, struct cxml_conference, record, 12200, conf_record_names),
	A("region", AT_STR, struct cxml_conference, region),
	AE("trim", AT_ENUM, struct cxml_conference, trim, 13699, trim_names),
	A("coach", AT_STR, struct cxml_conference, coach),
	A("statusCallback", AT_URL, struct cxml_conference, status_callback),
	A("statusCallbackMethod", AT_METHOD, struct cxml_conference, status_callback_method),
	AE("statusCallbackEvent", AT_EVENTS, struct cxml_conference, status_callback_event, 12200, conf_events),
	A("recordingStatusCallback", AT_URL, struct cxml_conference, recording_status_callback),
	A("recordingStatusCallbackMethod", AT_METHOD, struct cxml_conference, recording_status_callback_method),
	AE("recordingStatusCallbackEvent", AT_EVENTS, struct cxml_conference, recording_status_callback_event, 13621, rec_events),
	A("eventCallbackUrl", AT_URL, struct cxml_conference, event_callback_url),
	A("jitterBufferSize", AT_STR, struct cxml_conference, jitter_buffer_size),
	A("participantLabel", AT_STR, struct cxml_conference, participant_label),
	AX("callSidToCoach"), AX("beepOnCustomerEntrance"),
};
static const struct cxml_conference conference_def = {
	.beep = CXML_BEEP_TRUE, .start_on_enter = true, .max_participants = 250,
	.trim = CXML_TRIM_SILENCE,
	.recording_status_callback_event = CXML_REC_EV_COMPLETED,
};

static const struct attr_spec queue_attrs[] = {
	A("url", AT_URL, struct cxml_queue, url),
	A("method", AT_METHOD, struct cxml_queue, method),
	A("reservationSid", AT_STR, struct cxml_queue, reservation_sid),
	A("postWorkActivitySid", AT_STR, struct cxml_queue, post_work_activity_sid),
};

const struct elem_spec schema_nouns[5] = {
	[CXML_NOUN_NUMBER] = { "Number", number_attrs, COUNT(number_attrs),
			       sizeof(struct cxml_number), &number_def },
	[CXML_NOUN_SIP] = { "Sip", sip_attrs, COUNT(sip_attrs),
			    sizeof(struct cxml_sip), &sip_def },
	[CXML_NOUN_CLIENT] = { "Client", client_attrs, COUNT(client_attrs),
			       sizeof(struct cxml_client), &client_def },
	[CXML_NOUN_CONFERENCE] = { "Conference", conference_attrs,
				   COUNT(conference_attrs),
				   sizeof(struct cxml_conference),
				   &conference_def },
	[CXML_NOUN_QUEUE] = { "Queue", queue_attrs, COUNT(queue_attrs),
			      sizeof(struct cxml_queue), NULL },
};

const char *cxml_verb_name(enum cxml_verb_type t)
{
	return (unsigned)t < ELEM_NVERBS ? schema_verbs[t].name : "?";
}

const char *cxml_noun_name(enum cxml_noun_type t)
{
	return (unsigned)t < COUNT(schema_nouns) ? schema_nouns[t].name : "?";
}

/* What this dialerd runs: SIP dialing and call flow. Media verbs need a
 * media engine (TTS, playback, DTMF, recording) that is not built yet. */
bool cxml_verb_executed(enum cxml_verb_type t)
{
	switch (t) {
	case CXML_VERB_DIAL:
	case CXML_VERB_PAUSE:
	case CXML_VERB_REDIRECT:
	case CXML_VERB_REJECT:
	case CXML_VERB_HANGUP:
		return true;
	default:
		return false;
	}
}

bool cxml_noun_executed(enum cxml_noun_type t)
{
	return t == CXML_NOUN_SIP;
}

/* the machineDetection* and amd* settings mean nothing without detection */
static bool amd_attr(const char *name)
{
	return !strncmp(name, "machineDetection", 16) ||
	       !strncmp(name, "amdStatusCallback", 17);
}

static void elem_attrs(const struct elem_spec *e, const void *obj,
		       bool amd_off, cxml_attr_h *h, void *arg)
{
	struct cxml_attr_view view;
	char buf[160];
	size_t i;

	for (i = 0; i < e->nattrs; i++) {
		if (amd_off && amd_attr(e->attrs[i].name))
			continue;
		attr_format(&e->attrs[i], obj, buf, sizeof(buf), &view);
		if (view.name)
			h(&view, arg);
	}
}

void cxml_verb_attrs(const struct cxml_verb *v, cxml_attr_h *h, void *arg)
{
	if (!v || !h || (unsigned)v->type >= ELEM_NVERBS)
		return;
	elem_attrs(&schema_verbs[v->type], &v->u, false, h, arg);
}

void cxml_noun_attrs(const struct cxml_noun *n, cxml_attr_h *h, void *arg)
{
	if (!n || !h || (unsigned)n->type >= COUNT(schema_nouns))
		return;
	bool amd_off = (n->type == CXML_NOUN_SIP &&
			n->u.sip.amd.mode == CXML_AMD_NONE) ||
		       (n->type == CXML_NOUN_NUMBER &&
			n->u.number.amd.mode == CXML_AMD_NONE);

	elem_attrs(&schema_nouns[n->type], &n->u, amd_off, h, arg);
}
