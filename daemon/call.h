/* call.h: calls and legs (Twilio's model): the state machine that ties
 * cXML documents, SIP legs, webhooks and the call log together
 *
 * Every leg is a call with its own SID (CA + 32 hex): an inbound INVITE is
 * an "inbound" call, each <Sip> target of a <Dial> an "outbound-dial"
 * child whose parent is the call that ran the <Dial>. A SIP leg's id in
 * dial/ is its call's SID, so engine events find their call by id. The
 * files, bottom up (each calls only those below it):
 *   call_outcome.c  SIP result -> status (pure)
 *   call_params.c   webhook parameters (pure)
 *   call_log.c      rows for the store
 *   call.c          the call table, SIDs, status changes, callbacks
 *   call_dial.c     <Dial>: fork, timeout, answer, bridge, action
 *   call_doc.c      fetch -> parse -> run verbs one by one
 *   call_adopt.c    calls a killed process left up, taken up again
 *   call_api.c      calls the REST API starts, changes and ends
 *   call_inbound.c  the SIP engine's events in: new calls, routing
 * Main thread only.
 */
#ifndef DIALERD_CALL_H
#define DIALERD_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/smap.h"
#include "daemon/webhook.h"

struct config;
struct dial;
struct dial_event;
struct dial_hdr;
struct event;
struct event_base;
struct store;
struct cxml_doc;
struct cxml_policy;

/* ---- outcomes (call_outcome.c) ---- */

enum call_status {
	CALL_QUEUED = 0,
	CALL_INITIATED,
	CALL_RINGING,
	CALL_IN_PROGRESS,
	CALL_COMPLETED,
	CALL_BUSY,
	CALL_FAILED,
	CALL_NO_ANSWER,
	CALL_CANCELED,
};

/* Why dialerd itself ended a leg that had not answered. */
enum call_cause {
	CALL_CAUSE_NONE = 0,	/* the far end or the network decided */
	CALL_CAUSE_TIMEOUT,	/* <Dial timeout> ran out */
	CALL_CAUSE_CANCELED,	/* the caller hung up, or the API ended it */
	CALL_CAUSE_ELSEWHERE,	/* another branch of the fork answered */
};

struct call_result {
	bool answered;		/* a 2xx came */
	uint16_t code;		/* final SIP status; 0 none */
	int err;		/* errno when no response explains it */
	enum call_cause cause;
};

const char *call_status_name(enum call_status st);
bool call_status_final(enum call_status st);
/* A leg's final status from its result (the table of the wire spec). */
enum call_status call_outcome(const struct call_result *r);
/* A whole <Dial>'s DialCallStatus from its branches' statuses: the
 * winner's if one answered; else busy if all were busy; else no-answer if
 * any was; else failed. canceled when the caller or the API ended it. */
enum call_status call_outcome_dial(const enum call_status *branches, size_t n,
				   bool canceled);

/* ---- parameters (call_params.c) ---- */

#define CALL_PARAMS_MAX 96

/* Names and values are copies owned by the list. Names never repeat: a
 * second value for a name is dropped (the signature rule). */
struct call_params {
	struct webhook_param v[CALL_PARAMS_MAX];
	size_t n;
	bool full;		/* something did not fit */
};
void call_params_init(struct call_params *p);
void call_params_free(struct call_params *p);
void call_params_add(struct call_params *p, const char *name, const char *value);
/* Every parameter of src (NULL: none) added to p, as by call_params_add. */
void call_params_append(struct call_params *p, const struct call_params *src);
void call_params_addf(struct call_params *p, const char *name,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One prefix+name parameter per policy header (X-*, User-to-User,
 * Remote-Party-ID, P-Preferred-Identity, P-Called-Party-ID, Diversion),
 * first value of a name wins. */
void call_params_sip_headers(struct call_params *p, const char *prefix,
			     const char *const *names, const char *const *values,
			     size_t n);
/* The URI of a From/To header value: no display name, no tag or other
 * header parameters ("Bob" <sip:b@h>;tag=1 -> sip:b@h). Writes "" when
 * there is none. */
void call_params_uri(const char *hdr, char *out, size_t size);
/* Its display name, unquoted ("" when none). */
void call_params_display(const char *hdr, char *out, size_t size);
/* CALL_CB_* bits of a space- or comma-separated list of status callback
 * events (initiated ringing answered completed); *bad (may be NULL) gets
 * the first unknown word and *badlen its length, or NULL. */
unsigned call_cb_events(const char *list, const char **bad, size_t *badlen);
/* RFC 2822 time of a CLOCK_REALTIME microsecond count. */
void call_params_time(int64_t us, char *out, size_t size);

/* ---- the call table (call.c) ---- */

enum call_direction {
	CALL_INBOUND,
	CALL_OUTBOUND_API,
	CALL_OUTBOUND_DIAL,
};

struct call;

/* Receives the engine's events of a call's leg. */
typedef void (call_leg_h)(struct call *c, const struct dial_event *ev,
			  void *arg);

/* A call's status callback (statusCallback, Event, Method). */
struct call_callback {
	char *url;		/* NULL: none */
	bool get;
	unsigned events;	/* CALL_CB_* bits */
};
enum {
	CALL_CB_INITIATED = 1 << 0,
	CALL_CB_RINGING = 1 << 1,
	CALL_CB_ANSWERED = 1 << 2,
	CALL_CB_COMPLETED = 1 << 3,
};

struct call_layer {
	struct event_base *base;
	const struct config *cfg;
	struct dial *dial;
	struct webhook *wh;
	struct webhook_outbox *ob;	/* NULL: no callbacks can be kept */
	struct store *store;		/* NULL: no call log */
	const struct cxml_policy *pol;
	struct smap calls;		/* SID -> struct call */
	size_t ncalls;
	/* calls that left the table in the last api_recent_seconds (at
	 * least CALL_LINGER_S; at most CALL_RECENT_MAX), oldest first: the
	 * REST API answers them from memory, late messages are logged */
	struct smap recent;
	struct call *recent_head, *recent_tail;
	size_t nrecent;
	bool draining;
	unsigned long long started, ended;
};

struct call {
	struct smap_node node;
	char sid[40];
	struct call_layer *cl;
	unsigned refs;
	struct call *parent;		/* outbound-dial: the <Dial>'s call */
	enum call_direction dir;
	enum call_status status;
	char *from, *to;		/* URIs as the webhooks show them */
	char *caller_name, *forwarded_from, *sip_call_id;
	char source_ip[48];		/* inbound: where the INVITE came from */
	/* the INVITE's policy headers (inbound), for SipHeader_ */
	char **hdr_names, **hdr_values;
	size_t nhdrs;
	uint16_t sip_code;		/* latest final response code */
	char codec[24];
	int64_t created_us, ringing_us, answered_us, ended_us;
	uint32_t cb_seq;		/* next SequenceNumber */
	uint32_t ev_seq;		/* next call_events key */
	uint32_t msg_seq;		/* next sip_messages key */
	uint32_t fetch_seq;		/* next webhook_requests key of fetches */
	uint32_t policy_seq;		/* next header_policy_events ordinal */
	int64_t started_us;		/* the leg's INVITE */
	char dial_group[40];		/* outbound-dial: its <Dial>'s id */
	int branch;			/* ... and its index there; -1: none */
	unsigned time_limit_s;		/* outbound-api: its TimeLimit, s (0:
					 * none), armed at the answer and
					 * recorded on its first status event */
	const char *hangup_by;		/* "local", "remote"; NULL: not yet */
	struct call_callback cb;
	bool has_leg;			/* a SIP leg was started or came in */
	bool answer_sent;		/* inbound: our 200 is on its way */
	bool cb_logged;			/* its first status event's detail
					 * (status callback, TimeLimit, <Dial>)
					 * is logged */
	bool leg_up;			/* the SIP leg answered and not ended */
	bool leg_ended;
	bool left;			/* out of the table */
	char *dial_status;		/* parent: last DialCallStatus */
	char *fallback_url;		/* the document's fallback (NULL: the
					 * inbound default, voice_fallback_url) */
	bool fallback_get;
	bool api_ended;			/* the REST API hung it up */
	bool api_hidden;		/* deleted through the REST API */
	struct call *recent_next;	/* in the layer's recent list */
	struct event *se_timer;		/* session refresh or expiry (RFC 4028) */
	struct event *limit_timer;	/* TimeLimit of a REST call */
	unsigned se;			/* negotiated interval, s; 0: none */
	bool se_local;			/* we refresh */
	call_leg_h *leg_h;		/* whoever drives the leg */
	void *leg_arg;
	void *doc;			/* the document run on this call */
	void *dial;			/* its <Dial> while one runs */
	/* a whisper document on this child is over (hangup: it said so);
	 * cleared by the <Dial> when it no longer waits for one */
	void (*whisper_done)(struct call *c, bool hangup, void *arg);
	void *whisper_arg;
	/* outbound-dial: what its <Dial> does next, for its first status
	 * event (a restart after a crash adopts the call with it:
	 * call_adopt). Borrowed from the <Dial>, cleared once logged. */
	const struct call_dial_record *dial_rec;
};

/* What a <Dial>'s child records of it on its first status event. */
struct call_dial_record {
	const char *action;		/* resolved; NULL: none */
	bool action_get;
	int time_limit;			/* s */
	/* without an action: the document, its URL and the index of the
	 * verb after the <Dial> (the document goes on there); NULL when
	 * nothing follows or the document is not at hand */
	const char *then_doc;
	const char *then_url;
	int then_verb;
};

/* A new call registered under a fresh SID (or sid, for an inbound leg
 * whose id the engine chose). It holds one reference for the table until
 * call_end. ENOMEM, EEXIST. */
int call_new(struct call_layer *cl, const char *sid, enum call_direction dir,
	     struct call *parent, struct call **cp);
/* CA + 32 lowercase hex: the one place SIDs are made. */
/* A new call SID: CA + 4 hex digits of the instance id + 12 of the wall
 * clock's milliseconds + 16 random hex digits (34 characters). */
void call_sid_new(char sid[40]);
/* The instance id new SIDs carry (1..65535; default 1). Main thread. */
void call_sid_instance_set(unsigned id);
/* The owner's instance id in a SID; 0 when sid is not CA + 32 hex digits
 * or carries id 0. */
unsigned call_sid_instance(const char *sid);
/* Takes a call that never started out of the table without a row or a
 * callback, and drops the table's reference (call_adopt's failures). */
void call_forget(struct call *c);
struct call *call_find(struct call_layer *cl, const char *sid);
/* A call in the table or one that left it recently (ended); NULL. */
#define CALL_RECENT_MAX 10000
#define CALL_LINGER_S 32		/* an ended leg's last messages */
struct call *call_lookup(struct call_layer *cl, const char *sid);
/* Lets go of every recent call (the layer is being freed). */
void call_layer_recent_clear(struct call_layer *cl);
/* Hangs the call up time_limit seconds from now (a REST TimeLimit). */
void call_time_limit(struct call *c, unsigned seconds);
/* References for timers, transfers and children that point at a call. */
struct call *call_ref(struct call *c);
struct call *call_unref(struct call *c);
/* Moves the call to st: a call_events row, a calls snapshot, and the
 * status callback when the call asked for that event. code: the SIP code
 * that caused it (0: none). A final status takes the call out of the
 * table once its SIP leg has ended too. */
void call_status_set(struct call *c, enum call_status st, uint16_t code);
/* Routes an engine event to the call's leg handler; SIP messages are
 * logged first. False when no call has that id. */
bool call_leg_event(struct call_layer *cl, const struct dial_event *ev);
/* Fills the standard parameters of a webhook about c: CallSid, AccountSid,
 * From, To, Caller, Called, CallStatus, ApiVersion, Direction, ParentCallSid,
 * CallerName, ForwardedFrom, SipCallId, SipSourceIp, SipHeader_*. */
void call_params_standard(const struct call *c, struct call_params *p);
/* The next fetch of c: a request for kind to url with params. */
int call_fetch(struct call *c, const char *kind, const char *url, bool get,
	       const struct call_params *p, webhook_done_h *done, void *arg,
	       struct webhook_fetch **fp);
/* Inbound: answers the caller's leg once (relayed media, the caller's
 * first codec). */
void call_answer(struct call *c);
/* The calls snapshot row now. */
void call_log_snapshot(struct call *c);

/* ---- rows (call_log.c) ---- */

struct store_call;
/* The calls row of c as of now_us; strings are borrowed from c. */
void call_log_row(const struct call *c, int64_t now_us, struct store_call *r);
void call_log_call(struct store *s, const struct call *c, int64_t now_us);
void call_log_event(struct store *s, const struct call *c, uint32_t seq,
		    const char *event, uint16_t code, const char *detail_json);
/* A SIP message; its body too as bodies (enum config_bodies) says. */
void call_log_sip(struct store *s, const struct call *c, uint32_t seq,
		  const struct dial_event *ev, int bodies);
/* The same for a leg known by its SID alone (a dead process's: its BYE). */
void call_log_sip_row(struct store *s, const char *sid, const char *root_sid,
		      uint32_t seq, const struct dial_event *ev, int bodies);
/* An event whose detail is {"<key>": "<text>"}, the text JSON-escaped and
 * cut at 4 KiB. */
void call_log_event_text(struct store *s, const struct call *c, uint32_t seq,
			 const char *event, uint16_t code, const char *key,
			 const char *text, size_t len);
/* A leg the engine refused to send to (sip_deny_destinations: its ENDED
 * has err EACCES and the destination in peer): a log line and a
 * "destination-refused" event, Twilio code CALL_CODE_DEST_REFUSED. */
enum { CALL_CODE_DEST_REFUSED = 13225 };	/* Dial: Forbidden phone number */
void call_log_dest_refused(struct store *s, const struct call *c,
			   uint32_t seq, const struct dial_event *ev);
struct cxml_sip_refusal;
/* A header the policy refused; ordinal: per call, from 0. */
void call_log_policy(struct store *s, const struct call *c, uint32_t ordinal,
		     const struct cxml_sip_refusal *r);
/* The SID of the call at the top of c's tree (c itself without a parent):
 * every row of c carries it (root_sid, migrations/0007). */
const char *call_root_sid(const struct call *c);

/* ---- <Dial> (call_dial.c) ---- */

struct cxml_dial;
/* A <Dial> is over: p holds its Dial* parameters (DialCallStatus,
 * DialCallSid, DialSipHeader_...) for the action request, which the
 * document layer makes; caller_gone: the parent's leg has ended. */
typedef void (call_dial_done_h)(struct call *parent,
				const struct call_params *p, bool caller_gone,
				void *arg);
/* Runs a <Sip url> document on an answered child before the bridge; ends
 * with child->whisper_done. */
typedef int (call_whisper_h)(struct call *child, const char *url, bool get,
			     const struct call_params *extra);
/* The document a <Dial> without an action belongs to, when the caller has
 * its text: the <Dial>'s children record it (call_dial_record) so that a
 * restart goes on with verb index verb after the <Dial>. */
struct call_dial_then {
	const char *doc;
	size_t len;
	int verb;
};
/* Starts a <Dial> on parent (answered or not); what is needed of d is
 * copied; relative URLs in it resolve against doc_url; then: NULL, or
 * the document (copied); whisper runs <Sip url> documents. done runs
 * once, from the loop. EINVAL (nothing to dial: the reason is logged and
 * recorded), ENOMEM. */
int call_dial_start(struct call *parent, const struct cxml_dial *d,
		    const char *doc_url, const struct call_dial_then *then,
		    call_whisper_h *whisper, call_dial_done_h *done, void *arg);
/* The action of the <Dial> parent runs, resolved against its document's
 * URL, until a branch answers; NULL: none (or none that resolved). */
const char *call_dial_action(const struct call *parent);
/* The caller hung up or the call is being ended: cancel every branch. */
void call_dial_abort(struct call *parent);
/* A <Dial> a killed process had connected, taken up by the restart
 * (call_adopt): its one branch, child (answered_us set), with its 200's
 * policy headers (the action's DialSipHeader_), bridged; time_left_s of
 * its timeLimit left. done as for call_dial_start. EINVAL, ENOMEM. */
struct call_dial_adopted {
	struct call *child;
	int time_limit_s, time_left_s;
	uint16_t code;
	const char *const *hdr_names;
	const char *const *hdr_values;
	size_t nhdrs;
};
int call_dial_adopt(struct call *parent, const struct call_dial_adopted *a,
		    call_dial_done_h *done, void *arg);

/* ---- documents (call_doc.c) ---- */

/* Fetches url (kind voice, action, redirect...) for c and runs what comes
 * back, verb by verb; the document then drives the call's leg. extra:
 * parameters besides the standard ones (may be NULL). */
int call_doc_fetch(struct call *c, const char *kind, const char *url,
		   bool get, const struct call_params *extra);
/* Runs an inline document (a REST Twiml parameter) on c's answered leg.
 * EBADMSG when it does not parse: *code gets its cXML error code. */
int call_doc_run(struct call *c, const char *body, size_t len, int *code);
/* The REST API's redirect of a live call: whatever runs now stops (a
 * <Dial> in progress hangs up its branches, its action is not requested)
 * and the call goes on with the document at url, or with twiml when url
 * is NULL. EBADMSG (twiml does not parse: *code), ENOMEM, EINVAL. */
int call_doc_redirect(struct call *c, const char *url, bool get,
		      const char *twiml, int *code);
/* The document of a call a restart adopted (call_adopt): its connected
 * <Dial> (call_dial_adopt) runs; when it ends, r's action is requested and
 * its document runs, or, without one, r's document goes on after the
 * <Dial>; neither: the call hangs up. EINVAL, ENOMEM. */
int call_doc_adopt(struct call *parent, const struct call_dial_record *r,
		   const struct call_dial_adopted *a);

/* ---- calls a killed process left up (call_adopt.c) ---- */

/* What the call log says of one of the two calls of a connected <Dial>;
 * every pointer borrowed. */
struct call_adopt_call {
	const char *sid, *from, *to, *caller_name, *forwarded_from;
	const char *sip_call_id, *codec;
	bool api;			/* parent: outbound-api, not inbound */
	unsigned time_limit_s;		/* ... its TimeLimit (0: none) */
	int64_t created_us, ringing_us, answered_us, started_us;
	uint32_t next_event, next_msg, next_callback, next_fetch;
	const char *cb_url;		/* NULL: no status callback */
	bool cb_get, cb_completed;
	uint16_t sip_code;
	const char *source_ip;		/* parent: SipSourceIp; NULL: none */
	/* the parent's INVITE's policy headers (SipHeader_), the child's
	 * 200's (DialSipHeader_) */
	const char *const *hdr_names;
	const char *const *hdr_values;
	size_t nhdrs;
	/* the child: when it ended before the kill (0: it is up), whether
	 * its end is in the call log already (else only its callee's BYE
	 * is), and its callee's BYE's policy headers */
	int64_t ended_us;
	bool end_logged;
	const struct dial_hdr *bye_hdrs;
	size_t nbye;
};
struct call_adopt {
	struct call_adopt_call parent, child;
	struct call_dial_record dial;	/* the child's record of its <Dial> */
};
/* Rebuilds the two calls of a connected <Dial> that a killed process of
 * this folder left up, in progress as the call log has them, numbering
 * their rows after the dead process's. The engine's part (dial_adopt) is
 * the caller's: from here their legs' events drive them as any call's.
 * A child with ended_us ends at once (the engine holds no leg of it), its
 * <Dial> with it. EEXIST (a call of that SID), EINVAL, ENOMEM. */
int call_adopt(struct call_layer *cl, const struct call_adopt *a);

/* ---- REST calls (call_api.c) ---- */

/* What a REST create asks for; every pointer borrowed for the call. The
 * API layer has checked the values; to is a sip:/sips: URI (a number
 * already turned into one through number_uri). */
struct call_api_params {
	const char *to;
	const char *from;		/* the From user (CallerId, else From) */
	const char *from_display;	/* the request's From as given */
	const char *url;		/* the document, fetched on answer ... */
	bool url_get;
	const char *twiml;		/* ... or this inline one (NULL: url) */
	const char *fallback_url;
	bool fallback_get;
	const char *status_callback;
	bool status_callback_get;
	unsigned events;		/* CALL_CB_* */
	const char *username, *password;	/* digest (NULL: none) */
	unsigned timeout_s;		/* ringing, then no-answer */
	unsigned time_limit_s;		/* answered, then hung up (0: none) */
	const char *const *hdr_names;	/* headers of the To URI */
	const char *const *hdr_values;
	size_t nhdrs;
	const char *const *warnings;	/* parameters accepted, not executed */
	size_t nwarnings;
};
/* Starts an outbound-api call: the SID is made, the leg dialled; on
 * answer it runs the document. *cp holds a reference for the caller
 * (call_unref). A leg the engine refuses at once is a call that failed
 * (still 0). ENOMEM, E2BIG (headers); ESHUTDOWN while draining; EAGAIN
 * when the calls in progress hold 3/4 of the relay port pairs (or of
 * sip_max_legs) or the SIP engine is over its queueing-delay bound. */
int call_api_start(struct call_layer *cl, const struct call_api_params *p,
		   struct call **cp);
/* Status=completed (any live call: CANCEL or BYE) or canceled (only one
 * not answered yet: true when it was ended). */
bool call_api_hangup(struct call *c, bool only_unanswered);

/* ---- the layer (call_inbound.c) ---- */

int call_layer_alloc(struct call_layer **clp, struct event_base *base,
		     const struct config *cfg, struct dial *dial,
		     struct webhook *wh, struct webhook_outbox *ob,
		     struct store *store);
struct call_layer *call_layer_free(struct call_layer *cl);
/* sip_event_h: every engine event; true when the event was taken. */
bool call_layer_event(const struct dial_event *ev, void *arg);
/* SIGTERM: new INVITEs get 503 from now on. NULL-safe. */
void call_layer_drain(struct call_layer *cl);
/* Hangs up every call whose leg is still up (BYE, CANCEL, or 487 to an
 * unanswered caller) with Reason "SIP;cause=503;text=\"Shutting down\"";
 * their ends arrive as usual. */
void call_layer_end_all(struct call_layer *cl);
/* The last step of a drain, some seconds after call_layer_end_all: every
 * leg whose end the engine has still not reported (a far end that never
 * answers our CANCEL holds it up to 32 s) is ended here as if that end
 * had come, local, with ETIMEDOUT: its call gets its final status, final
 * status callback and calls row, and a <Dial> waiting on it is over.
 * Returns how many were ended. NULL-safe. */
size_t call_layer_abandon(struct call_layer *cl);
/* server_busy_h: calls still up. */
bool call_layer_busy(void *arg);

#endif
