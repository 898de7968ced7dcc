/* webhook.h: the HTTP client for everything dialerd tells a customer's
 * application: signed cXML fetches and durable status-callback deliveries
 *
 * One client per daemon, driven by the libevent loop (libcurl multi-socket;
 * nothing blocks the loop, names are resolved by libcurl's threaded
 * resolver). Every request is signed (X-Twilio-Signature and
 * X-SignalWire-Signature, the same value), carries an
 * I-Twilio-Idempotency-Token that is the same on every retry of one event,
 * and is written to the call log as a webhook_requests row per attempt.
 * Main thread only.
 */
#ifndef DIALERD_WEBHOOK_H
#define DIALERD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct webhook;
struct webhook_fetch;
struct webhook_outbox;

/* Failure codes (Twilio's numbers), returned to callers and stored. */
enum webhook_code {
	WEBHOOK_OK = 0,
	WEBHOOK_HTTP_STATUS = 11200,	/* non-2xx answer */
	WEBHOOK_CONNECT = 11205,	/* connect failed or timed out, total timeout */
	WEBHOOK_PROTOCOL = 11206,	/* not HTTP, or broken HTTP */
	WEBHOOK_DNS = 11210,		/* host name did not resolve */
	WEBHOOK_REDIRECTS = 11215,	/* more than WEBHOOK_MAX_REDIRECTS */
	WEBHOOK_TLS = 11220,		/* handshake or certificate */
	WEBHOOK_TOO_BIG = 11750,	/* body over WEBHOOK_BODY_MAX */
	WEBHOOK_CONTENT_TYPE = 12300,	/* not text/xml, application/xml, text/html */
	WEBHOOK_CALLBACK = 15003,	/* a status callback failed (any cause) */
};

#define WEBHOOK_MAX_REDIRECTS 3
#define WEBHOOK_BODY_MAX (64u * 1024)
/* Retries of a status callback: after 1, 2, 4, 8 and 16 s. */
#define WEBHOOK_MAX_ATTEMPTS 6
/* Base64 of a 20-byte HMAC-SHA1 and its NUL. */
#define WEBHOOK_SIG_SIZE 29
#define WEBHOOK_TOKEN_SIZE 33	/* 32 hex digits and NUL */

struct webhook_conf {
	const char *account_sid;
	const char *auth_token;		/* signing key; never logged or stored */
	const char *user_agent;		/* NULL: "TwilioProxy/1.1 dialerd/<version>" */
	unsigned max_connections;	/* keep-alive pool, all hosts (256) */
	unsigned connect_timeout_ms;	/* 5000 */
	unsigned timeout_ms;		/* whole request, per hop (15000) */
	const char *tls_ca_file;	/* NULL: the system store */
	bool tls_insecure;		/* no peer verification (tests only) */
	struct store *store;		/* call log for attempts; may be NULL */
};

struct config;
/* The daemon's webhook_* settings and auth token (webhook_conf.c). */
void webhook_conf_from(struct webhook_conf *wc, const struct config *cfg,
		       struct store *store);

struct webhook_param {
	const char *name;
	const char *value;
};

enum webhook_method {
	WEBHOOK_POST,
	WEBHOOK_GET,
};

/* One request. Everything is copied by webhook_fetch/webhook_outbox_add. */
struct webhook_req {
	const char *call_sid;		/* required: the row's key */
	const char *kind;		/* voice, action, whisper, redirect,
					 * fallback, status-callback */
	uint32_t sequence_number;	/* per call and kind */
	enum webhook_method method;
	const char *url;		/* absolute http(s) URL */
	const struct webhook_param *params;	/* names never repeat */
	size_t nparams;
	const char *token;		/* idempotency token; NULL: a new one */
	const char *root_sid;		/* the root call's SID for the call log
					 * (migrations/0007); NULL: the store
					 * looks it up */
};

/* Outcome of a fetch; lent to the done handler for the call. */
struct webhook_result {
	enum webhook_code code;
	int http_status;		/* of the last hop; 0: no answer */
	const char *content_type;	/* "" when none */
	const char *body;		/* NUL-terminated, body_len bytes */
	size_t body_len;
	const char *url;		/* the URL that answered (after redirects) */
	unsigned redirects;
	const char *error;		/* one line, "" on success */
	int64_t total_us;		/* all hops */
};

typedef void (webhook_done_h)(const struct webhook_result *r, void *arg);

/* Starts the client on base; conf is copied. ENOTSUP when libcurl lacks
 * an asynchronous resolver (a lookup would block the loop), ENOMEM. */
int webhook_alloc(struct webhook **whp, struct event_base *base,
		  const struct webhook_conf *conf);
/* Aborts fetches (their handlers are not called). NULL-safe; returns NULL. */
struct webhook *webhook_free(struct webhook *wh);

/* What kind of attempt a fetch is. */
struct webhook_attempt {
	uint32_t number;		/* the row's attempt number: 1, 2, ... */
	bool any_content_type;		/* status callbacks: the body is ignored */
};

/* Fetches a cXML document: one attempt, redirects followed (each hop
 * signed for its own URL), never retried. done runs later from the loop,
 * exactly once unless webhook_fetch_cancel() comes first. *fp (optional)
 * gets a handle for webhook_fetch_cancel. at: NULL for a document fetch.
 * EINVAL (URL not http(s), a repeated parameter name), ENOMEM. */
int webhook_fetch(struct webhook *wh, const struct webhook_req *req,
		  const struct webhook_attempt *at, webhook_done_h *done,
		  void *arg, struct webhook_fetch **fp);
/* The fetch ends without calling its handler. */
void webhook_fetch_cancel(struct webhook_fetch *f);

/* server_busy_h: fetches in flight. */
bool webhook_busy(void *arg);
/* The size of the connection pool (webhook_max_connections). */
unsigned webhook_max_connections(const struct webhook *wh);

struct webhook_stats {
	unsigned long long requests, failures;	/* attempts, failed ones */
	size_t in_flight;
};
void webhook_stats(const struct webhook *wh, struct webhook_stats *st);

/* A request can be sent: a call SID, a URL, named parameters whose names
 * do not repeat. */
bool webhook_req_ok(const struct webhook_req *req);

/* A fresh idempotency token: 32 random hex digits. */
void webhook_token_new(char tok[WEBHOOK_TOKEN_SIZE]);

/* ---- status callbacks (webhook_outbox.c) ----
 * Deliveries, not requests: each is appended to the durable outbox in
 * data_dir before its first attempt, sent once the append is on disk
 * (many share one fdatasync), after the call's earlier callbacks, and
 * retried after 1, 2, 4, 8 and 16 s until answered 2xx or
 * WEBHOOK_MAX_ATTEMPTS tries. At most half of the connection pool carries
 * callbacks at once (the rest stays for the fetches calls wait on). A
 * restart resumes the outbox with attempt counts and tokens kept: at
 * least once, never more than the attempts allow. */

/* Opens data_dir's outbox and resumes its deliveries through wh. EBUSY
 * (another process holds it), ENOMEM, or an errno of the file. */
int webhook_outbox_alloc(struct webhook_outbox **op, struct webhook *wh,
			 struct event_base *base, const char *data_dir);
/* Stops; undelivered callbacks stay in the file. NULL-safe. */
struct webhook_outbox *webhook_outbox_free(struct webhook_outbox *ob);
/* Accepts a status callback; it is copied. EINVAL, ENOMEM. */
int webhook_outbox_add(struct webhook_outbox *ob, const struct webhook_req *req);
/* True when everything accepted so far is on disk. */
bool webhook_outbox_durable(const struct webhook_outbox *ob);
/* h says whether the daemon's loop is behind (calls' events waiting for
 * it); while it is, at most WEBHOOK_OUTBOX_BEHIND_SENDING callbacks are
 * in flight, so that a backlog going out leaves the loop to the calls.
 * h runs before callbacks start; NULL: never behind. */
typedef bool (webhook_outbox_behind_h)(void *arg);
#define WEBHOOK_OUTBOX_BEHIND_SENDING 8
void webhook_outbox_behind_set(struct webhook_outbox *ob,
			       webhook_outbox_behind_h *h, void *arg);
/* server_busy_h: callbacks not yet delivered or given up. */
bool webhook_outbox_busy(void *arg);
/* The call's callbacks not yet delivered: true when there are some;
 * *last_seq gets their highest SequenceNumber (-1: none), *final the
 * final CallStatus one of them carries (a static string), or NULL
 * (`dialerd takeover`). */
bool webhook_outbox_call(const struct webhook_outbox *ob, const char *sid,
			 int64_t *last_seq, const char **final);

struct webhook_outbox_stats {
	unsigned long long added, delivered, given_up, attempts;
	size_t depth;			/* not yet delivered */
	size_t sending, sending_peak;	/* attempts in flight: now, at most */
	size_t ready;			/* on disk, waiting for a connection */
	double oldest_s;		/* age of the oldest one */
	bool write_failing;		/* the disk refuses appends */
};
void webhook_outbox_stats(const struct webhook_outbox *ob,
			  struct webhook_outbox_stats *st);

/* ---- pure helpers (webhook_sign.c, webhook_url.c) ---- */

/* X-Twilio-Signature of a request: base64(HMAC-SHA1(token, url + for form
 * bodies every name immediately followed by its value, names sorted
 * bytewise)). 0, EINVAL (repeated name) or ENOMEM. */
int webhook_sign(const char *token, const char *url,
		 const struct webhook_param *p, size_t n, bool form,
		 char sig[WEBHOOK_SIG_SIZE]);

/* webhook_sign keeps the HMAC states of the last few tokens it signed
 * with (not locked: main thread only). Cleanup drops them and wipes the
 * copies of the tokens (webhook_free does it); keys says how many are
 * kept. */
void webhook_sign_cleanup(void);
size_t webhook_sign_keys(void);

/* application/x-www-form-urlencoded: unreserved bytes as they are, space
 * as '+', everything else %XX (what Python's urlencode and the vendors'
 * validators decode back to the same string). Appends to *buf (malloc'd,
 * NUL-terminated, may start NULL) of length *len. 0 or ENOMEM. */
int webhook_form_encode(char **buf, size_t *len,
			const struct webhook_param *p, size_t n);

/* Resolves ref (absolute, or relative to base) into a malloc'd absolute
 * http(s) URL without a fragment. base may be NULL when ref is absolute.
 * 0, EINVAL (not a URL, or another scheme), ENOMEM. */
int webhook_url_resolve(const char *base, const char *ref, char **out);

/* True when url is one that webhook_url_resolve(NULL, url) returns
 * unchanged, by a strict check that needs no parsing by curl (a false
 * answer only means "ask curl"). */
bool webhook_url_is_resolved(const char *url);

/* url with the form-encoded params added to its query string (GET). */
int webhook_url_with_query(const char *url, const struct webhook_param *p,
			   size_t n, char **out);

/* Writes url into buf with any user:password@ reduced to user:***@, for
 * rows and log lines. */
void webhook_url_redact(const char *url, char *buf, size_t size);

/* The n parameters and their strings in one block, a NULL value copied
 * as ""; free() releases it all (a request's 15 or so pairs were 30
 * allocations). NULL: out of memory. */
struct webhook_param *webhook_params_copy(const struct webhook_param *p,
					  size_t n);

/* True when a parameter name appears twice (requests must not: the
 * vendors' validators disagree on repeated names). */
bool webhook_params_repeat(const struct webhook_param *p, size_t n);

#endif
