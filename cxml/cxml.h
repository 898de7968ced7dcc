/* cxml.h: public interface of the cXML parser and sip: URI policy (libxml2 only; never logs) */
#ifndef DIALERD_CXML_H
#define DIALERD_CXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Version of the libxml2 the module was built against, for --version. */
const char *cxml_libxml_version(void);

/*
 * Diagnostics. Errors and warnings are values: every function that reads
 * outside input appends to a caller-owned struct cxml_diags, on success too.
 * Codes are Twilio/SignalWire error codes (12100, 12200, 13212, 32113...).
 */
enum cxml_severity {
	CXML_WARNING = 0,
	CXML_ERROR = 1,
};

struct cxml_diag {
	int code;                 /* Twilio/SignalWire code */
	enum cxml_severity sev;
	unsigned line, col;       /* 1-based; 0 when unknown (e.g. a bare URI) */
	char elem[24];            /* element name, "" when none */
	char attr[40];            /* attribute name, "" for the element's text */
	char msg[200];            /* one line of English, no trailing newline */
};

#define CXML_DIAGS_MAX 100        /* beyond this, only counted in dropped */

struct cxml_diags {
	struct cxml_diag *v;      /* in the order found */
	size_t n, cap;
	unsigned nerrors, nwarnings;  /* including dropped ones */
	unsigned dropped;
};

/* A zeroed struct is an empty list; clear empties it keeping the memory;
 * free releases it (the struct itself is the caller's). */
void cxml_diags_clear(struct cxml_diags *d);
void cxml_diags_free(struct cxml_diags *d);
/* First error (or NULL): its code is what a fallback request carries. */
const struct cxml_diag *cxml_diags_first_error(const struct cxml_diags *d);

/*
 * Policy for sip: URI headers and document limits. cxml_policy_default()
 * fills in Twilio's defaults (X- names plus User-to-User, Remote-Party-ID,
 * P-Preferred-Identity, P-Called-Party-ID, Diversion; 4096-byte values,
 * 8192 bytes in all); lists are borrowed and must outlive
 * every parser or call using the policy. Name patterns compare without
 * regard to case; a trailing '*' makes a pattern a prefix.
 */
struct cxml_policy {
	const char *const *std_allowed;   /* names allowed without X- */
	size_t n_std_allowed;
	const char *const *structural;    /* always refused (13252) */
	size_t n_structural;
	const char *const *reserved;      /* refused as platform-set (32113) */
	size_t n_reserved;
	size_t max_value;         /* bytes per decoded value (4096) */
	size_t max_total;         /* bytes of "Name: value\r\n" per INVITE (8192) */
	bool prefix_non_x;        /* send other names as X-<name> instead of refusing */
	bool oversize_is_error;   /* REST To=: over a limit is error 21227, not a warning */
	size_t max_doc;           /* document bytes (65536); larger is 11750 */
	unsigned max_depth;       /* element depth (32) */
	unsigned max_nodes;       /* elements + text nodes (10000) */
	size_t max_memory;        /* bytes the parser may hold for one
				   * document, its tree and its scratch
				   * tree each (8 MiB; 0 = that default);
				   * past it the document is refused with
				   * 12100 */
};
#define CXML_MEMORY_DEFAULT ((size_t)8 << 20)

/* Fills pol with the spec's defaults; the lists point at static arrays. */
void cxml_policy_default(struct cxml_policy *pol);

/* Header name class under a policy, for callers that check names elsewhere
 * (e.g. the REST API): returns 0 if allowed, else the refusal code
 * (13252, 32113, 21228) and, if reason is not NULL, a static text. */
int cxml_header_name_check(const struct cxml_policy *pol, const char *name,
			   const char **reason);

/*
 * sip:/sips: URIs: user@host[:port][;params][?headers]. The header part is
 * percent-decoded and passed through the policy; nothing is dropped silently:
 * each refused header is in refused[] and in the diagnostics.
 */
enum cxml_transport {
	CXML_TRANSPORT_DEFAULT = 0,   /* none given: the dialer's default */
	CXML_TRANSPORT_UDP,
	CXML_TRANSPORT_TCP,
	CXML_TRANSPORT_TLS,
};

struct cxml_sip_header {
	const char *name;         /* as sent, e.g. "X-Foo" (after X- prefixing) */
	const char *value;        /* percent-decoded, no CR/LF/NUL */
};

enum cxml_hdr_source {
	CXML_HDR_URI = 0,         /* ?name=value in the URI */
	CXML_HDR_SIP_ATTR,        /* sipHeaders on <Sip> */
	CXML_HDR_DIAL_ATTR,       /* sipHeaders on <Dial> */
};

struct cxml_sip_refusal {
	const char *name;         /* decoded name as given (at most 128 bytes) */
	const char *value;        /* decoded value, at most 256 bytes */
	bool truncated;           /* name or value was cut for storage */
	int code;                 /* 13252, 32113, 21227, 21228, 21229, 32110 */
	const char *reason;       /* English text */
	enum cxml_hdr_source source;
};

struct cxml_sip_uri {
	const char *target;       /* scheme:user@host:port;params, no headers,
				   * without the consumed secure/region/edge */
	bool sips;                /* sips: scheme */
	const char *user;         /* percent-decoded user part, "" if none */
	const char *password;     /* user:password@ (decoded), NULL if none:
				   * a secret, never in target; in a <Sip>
				   * it becomes the digest password */
	const char *host;         /* hostname, IPv4, or IPv6 without brackets */
	bool host_ipv6;
	uint16_t port;            /* 0 = not given */
	enum cxml_transport transport;  /* TLS for sips: or ;secure=true */
	bool srtp;                /* ;secure=true */
	const struct cxml_sip_header *hdrs;  /* allowed, in order */
	size_t nhdrs;
	const struct cxml_sip_refusal *refused;  /* in order */
	size_t nrefused;
	size_t hdr_bytes;         /* sum of "Name: value\r\n" of hdrs */
};

/* Parse one URI (a C string) under pol (NULL = defaults). On 0, *up holds
 * a URI to free with cxml_sip_uri_free(); refusals are warnings. EBADMSG:
 * the URI is malformed, or a header exceeded a limit with
 * pol->oversize_is_error; EINVAL bad arguments; ENOMEM. */
int cxml_sip_uri_parse(const char *uri, const struct cxml_policy *pol,
		       struct cxml_sip_uri **up, struct cxml_diags *d);
/* Only for URIs from cxml_sip_uri_parse(), never for one inside a document.
 * NULL-safe, returns NULL. */
struct cxml_sip_uri *cxml_sip_uri_free(struct cxml_sip_uri *u);

/*
 * The typed document tree. Strings are UTF-8, NUL-terminated, owned by the
 * document; NULL means "not given". Defaults are filled in.
 */
enum cxml_method {
	CXML_POST = 0,
	CXML_GET,
	CXML_PUT,                 /* recordingStorageUrlMethod only */
};

/* statusCallbackEvent on nouns */
enum cxml_call_event {
	CXML_EV_INITIATED = 1 << 0,
	CXML_EV_RINGING = 1 << 1,
	CXML_EV_ANSWERED = 1 << 2,
	CXML_EV_COMPLETED = 1 << 3,
};

/* recordingStatusCallbackEvent */
enum cxml_rec_event {
	CXML_REC_EV_IN_PROGRESS = 1 << 0,
	CXML_REC_EV_COMPLETED = 1 << 1,
	CXML_REC_EV_ABSENT = 1 << 2,
};

/* <Conference statusCallbackEvent> */
enum cxml_conf_event {
	CXML_CONF_EV_START = 1 << 0,
	CXML_CONF_EV_END = 1 << 1,
	CXML_CONF_EV_JOIN = 1 << 2,
	CXML_CONF_EV_LEAVE = 1 << 3,
	CXML_CONF_EV_MUTE = 1 << 4,
	CXML_CONF_EV_HOLD = 1 << 5,
	CXML_CONF_EV_MODIFY = 1 << 6,
	CXML_CONF_EV_SPEAKER = 1 << 7,
	CXML_CONF_EV_ANNOUNCEMENT = 1 << 8,
};

enum cxml_record {
	CXML_REC_DO_NOT_RECORD = 0,
	CXML_REC_FROM_ANSWER,
	CXML_REC_FROM_RINGING,
	CXML_REC_FROM_ANSWER_DUAL,
	CXML_REC_FROM_RINGING_DUAL,
};

enum cxml_trim {
	CXML_TRIM_DO_NOT_TRIM = 0,
	CXML_TRIM_SILENCE,
};

enum cxml_rec_track {
	CXML_TRACK_BOTH = 0,
	CXML_TRACK_INBOUND,
	CXML_TRACK_OUTBOUND,
};

enum cxml_codec {
	CXML_CODEC_PCMU = 0,
	CXML_CODEC_PCMA,
	CXML_CODEC_G722,
	CXML_CODEC_G729,
	CXML_CODEC_OPUS,
};
#define CXML_CODECS_MAX 5

struct cxml_codecs {
	enum cxml_codec v[CXML_CODECS_MAX];  /* offer order, no repeats */
	unsigned n;
};

const char *cxml_codec_name(enum cxml_codec c);   /* "PCMU"... */
const char *cxml_method_name(enum cxml_method m); /* "GET"... */

enum cxml_amd {
	CXML_AMD_NONE = 0,
	CXML_AMD_ENABLE,
	CXML_AMD_DETECT_MESSAGE_END,
};

/* answering machine detection (parsed; Twilio helper-library attributes) */
struct cxml_amd_opts {
	enum cxml_amd mode;
	const char *status_callback;
	enum cxml_method status_callback_method;
	int timeout;              /* s, 3..60, default 30 */
	int speech_threshold;     /* ms, 1000..6000, default 2400 */
	int speech_end_threshold; /* ms, 500..5000, default 1200 */
	int silence_timeout;      /* ms, 2000..10000, default 5000 */
};

/* <Sip>: the target of a SIP child leg */
struct cxml_sip {
	struct cxml_sip_uri uri;  /* target, allowed headers (URI, then
				   * <Sip sipHeaders>, then <Dial sipHeaders>),
				   * refusals (those of <Dial sipHeaders> as
				   * such are in struct cxml_dial) */
	const char *username;     /* digest credentials */
	const char *password;
	const char *url;          /* whisper/screening document */
	enum cxml_method method;
	const char *status_callback;
	enum cxml_method status_callback_method;
	unsigned status_callback_event;   /* enum cxml_call_event bits */
	struct cxml_codecs codecs;  /* default PCMU,PCMA */
	int session_timeout;      /* s; 0 = platform default */
	struct cxml_amd_opts amd;
};

struct cxml_number {
	const char *number;       /* digits with an optional leading +, separators removed */
	const char *send_digits;
	const char *url;
	enum cxml_method method;
	const char *status_callback;
	enum cxml_method status_callback_method;
	unsigned status_callback_event;
	const char *byoc;
	struct cxml_amd_opts amd;
};

struct cxml_client {
	const char *identity;
	const char *url;
	enum cxml_method method;
	const char *status_callback;
	enum cxml_method status_callback_method;
	unsigned status_callback_event;
};

enum cxml_beep {
	CXML_BEEP_TRUE = 0,
	CXML_BEEP_FALSE,
	CXML_BEEP_ON_ENTER,
	CXML_BEEP_ON_EXIT,
};

enum cxml_conf_record {
	CXML_CONF_REC_NONE = 0,   /* do-not-record */
	CXML_CONF_REC_FROM_START,
};

struct cxml_conference {
	const char *name;
	bool muted;
	enum cxml_beep beep;
	bool start_on_enter;
	bool end_on_exit;
	const char *wait_url;
	enum cxml_method wait_method;
	int max_participants;     /* 2..250, default 250 */
	enum cxml_conf_record record;
	const char *region;
	enum cxml_trim trim;
	const char *coach;
	const char *status_callback;
	enum cxml_method status_callback_method;
	unsigned status_callback_event;   /* enum cxml_conf_event bits */
	const char *recording_status_callback;
	enum cxml_method recording_status_callback_method;
	unsigned recording_status_callback_event;
	const char *event_callback_url;
	const char *jitter_buffer_size;
	const char *participant_label;
};

struct cxml_queue {
	const char *name;
	const char *url;
	enum cxml_method method;
	const char *reservation_sid;
	const char *post_work_activity_sid;
};

enum cxml_noun_type {
	CXML_NOUN_NUMBER = 0,
	CXML_NOUN_SIP,
	CXML_NOUN_CLIENT,
	CXML_NOUN_CONFERENCE,
	CXML_NOUN_QUEUE,
};

struct cxml_noun {
	enum cxml_noun_type type;
	unsigned line;
	union {
		struct cxml_number number;
		struct cxml_sip sip;
		struct cxml_client client;
		struct cxml_conference conference;
		struct cxml_queue queue;
	} u;
};

struct cxml_dial {
	const char *action;
	enum cxml_method method;
	int timeout;              /* s, 5..600 (clamped, warning 13212), default 30 */
	bool hangup_on_star;
	int time_limit;           /* s, 1..86400, default 14400 */
	const char *caller_id;
	const char *caller_name;
	enum cxml_record record;  /* legacy "true" = from-answer, "false" = do-not */
	enum cxml_trim trim;
	const char *recording_status_callback;
	enum cxml_method recording_status_callback_method;
	unsigned recording_status_callback_event;  /* enum cxml_rec_event bits */
	enum cxml_rec_track recording_track;
	const char *recording_storage_url;
	enum cxml_method recording_storage_url_method;  /* POST or PUT */
	bool answer_on_bridge;
	const char *ring_tone;    /* validated country code, NULL = carrier's */
	bool sequential;          /* ring nouns one at a time, in order */
	const struct cxml_noun *nouns;  /* in document order, at most 10 */
	size_t nnouns;
	size_t nsip;              /* how many of nouns are <Sip> */
	/* sipHeaders items refused at the <Dial> itself (policy, syntax):
	 * they concern every <Sip> leg but are listed (and reported) once,
	 * here; a leg's own list has only what clashed with its headers */
	const struct cxml_sip_refusal *refused;
	size_t nrefused;
};

struct cxml_say {
	const char *text;         /* SSML children flattened to their text */
	const char *voice;
	const char *language;
	int loop;                 /* >= 0, default 1; 0 = until hangup */
};

struct cxml_play {
	const char *url;          /* NULL when only digits */
	int loop;
	const char *digits;       /* 0-9 * # w W */
};

struct cxml_pause {
	int length;               /* s, 0..3600, default 1 */
};

enum cxml_input {
	CXML_INPUT_DTMF = 1 << 0,
	CXML_INPUT_SPEECH = 1 << 1,
};

struct cxml_verb;

struct cxml_gather {
	const char *action;
	enum cxml_method method;
	int timeout;              /* s, default 5 */
	const char *finish_on_key;  /* "" = none, default "#" */
	int num_digits;           /* 0 = unlimited */
	unsigned input;           /* enum cxml_input bits, default dtmf */
	const char *speech_timeout;  /* "auto" or seconds */
	const char *language;
	const char *hints;
	bool profanity_filter;
	const char *partial_result_callback;
	enum cxml_method partial_result_callback_method;
	bool action_on_empty_result;
	const char *speech_model;
	bool enhanced;
	const struct cxml_verb *verbs;  /* nested <Say>, <Play>, <Pause> */
	size_t nverbs;
};

struct cxml_record_verb {
	const char *action;
	enum cxml_method method;
	int timeout;              /* s of silence, default 5 */
	const char *finish_on_key;  /* default "1234567890*#" */
	int max_length;           /* s, default 3600 */
	bool play_beep;
	enum cxml_trim trim;      /* default trim-silence */
	const char *recording_status_callback;
	enum cxml_method recording_status_callback_method;
	unsigned recording_status_callback_event;
	bool transcribe;
	const char *transcribe_callback;
	const char *storage_url;
	enum cxml_method storage_url_method;
};

struct cxml_redirect {
	const char *url;
	enum cxml_method method;
};

enum cxml_reject_reason {
	CXML_REJECT_REJECTED = 0,
	CXML_REJECT_BUSY,
};

struct cxml_reject {
	enum cxml_reject_reason reason;
};

struct cxml_enqueue {
	const char *name;
	const char *action;
	enum cxml_method method;
	const char *wait_url;
	enum cxml_method wait_url_method;
	const char *workflow_sid;
};

struct cxml_refer {
	const char *action;
	enum cxml_method method;
	const struct cxml_noun *sip;  /* the <Sip> child (type CXML_NOUN_SIP) */
};

enum cxml_verb_type {
	CXML_VERB_DIAL = 0,
	CXML_VERB_SAY,
	CXML_VERB_PLAY,
	CXML_VERB_PAUSE,
	CXML_VERB_GATHER,
	CXML_VERB_RECORD,
	CXML_VERB_REDIRECT,
	CXML_VERB_REJECT,
	CXML_VERB_HANGUP,
	CXML_VERB_ENQUEUE,
	CXML_VERB_LEAVE,
	CXML_VERB_REFER,
};

struct cxml_verb {
	enum cxml_verb_type type;
	unsigned line;
	union {
		struct cxml_dial dial;
		struct cxml_say say;
		struct cxml_play play;
		struct cxml_pause pause;
		struct cxml_gather gather;
		struct cxml_record_verb record;
		struct cxml_redirect redirect;
		struct cxml_reject reject;
		struct cxml_enqueue enqueue;
		struct cxml_refer refer;
	} u;
};

struct cxml_arena;

struct cxml_doc {
	const struct cxml_verb *verbs;  /* top to bottom */
	size_t nverbs;
	struct cxml_arena *arena;       /* private: owns everything above */
};

/* Frees the whole tree (every string and list in it); NULL-safe, returns
 * NULL. Documents are independent of the parser that made them. */
struct cxml_doc *cxml_doc_free(struct cxml_doc *doc);

/* Element names ("Dial", "Sip"...) and whether this dialerd executes the
 * element (true) or only parses and validates it (false, skipped with a
 * warning by the call state machine). */
const char *cxml_verb_name(enum cxml_verb_type t);
const char *cxml_noun_name(enum cxml_noun_type t);
bool cxml_verb_executed(enum cxml_verb_type t);
bool cxml_noun_executed(enum cxml_noun_type t);

/*
 * A parser keeps a libxml2 context and a scratch arena between documents
 * (faster). Use one parser per thread; parsers share nothing. pol is
 * copied (NULL = defaults); the lists it points at are borrowed and must
 * outlive the parser. alloc: 0, EINVAL, ENOMEM.
 */
struct cxml_parser;

int cxml_parser_alloc(struct cxml_parser **pp, const struct cxml_policy *pol);
struct cxml_parser *cxml_parser_free(struct cxml_parser *p);

/* Parse len bytes. 0: *docp is the tree (warnings may be in d). EBADMSG:
 * the document is invalid, the errors are in d, *docp untouched. EINVAL,
 * ENOMEM. Never prints, never aborts. */
int cxml_parse(struct cxml_parser *p, const char *buf, size_t len,
	       struct cxml_doc **docp, struct cxml_diags *d);

/* One-shot form with a temporary parser. */
int cxml_parse_once(const char *buf, size_t len, const struct cxml_policy *pol,
		    struct cxml_doc **docp, struct cxml_diags *d);

/*
 * Effective attributes of an element (defaults included), in table order,
 * as text: for printers such as dialerd check. list values are space- or
 * comma-separated as written in cXML.
 */
enum cxml_attr_kind {
	CXML_ATTR_STR = 0,
	CXML_ATTR_INT,
	CXML_ATTR_BOOL,
	CXML_ATTR_LIST,
};

struct cxml_attr_view {
	const char *name;         /* cXML spelling, e.g. "statusCallbackEvent" */
	const char *value;        /* text; NULL when not set and no default */
	enum cxml_attr_kind kind;
	bool secret;              /* e.g. password: print masked */
};

typedef void (cxml_attr_h)(const struct cxml_attr_view *a, void *arg);

void cxml_verb_attrs(const struct cxml_verb *v, cxml_attr_h *h, void *arg);
void cxml_noun_attrs(const struct cxml_noun *n, cxml_attr_h *h, void *arg);

#endif
