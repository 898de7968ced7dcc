/* store.h: public interface of the store: the call log on PostgreSQL, its journal, the webhook outbox, migrations (libpq only, no event loop)
 *
 * The store never blocks its caller. It owns its PostgreSQL connections
 * (one or two for the writer, one for the REST API's reads) and tells the
 * caller which fd to watch and when to call back; the daemon's event loop
 * does the watching, because that loop must never wait on a socket itself.
 * Main thread only.
 *
 * Records handed to store_*_add() are copied and serialised at once; they
 * are queued in memory and written in batches (one transaction each), or
 * appended to a journal under data_dir while PostgreSQL is away and replayed
 * when it is back. Every row has a key, so a replayed batch never duplicates.
 */
#ifndef DIALERD_STORE_H
#define DIALERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_state {
	STORE_UNCONFIGURED,	/* no database URL */
	STORE_CONNECTING,
	STORE_UP,
	STORE_DOWN,		/* waiting to reconnect */
};

/* What the store wants from the event loop for its socket. */
enum store_io {
	STORE_IO_NONE = 0,
	STORE_IO_READ = 1,
	STORE_IO_WRITE = 2,
};

typedef void (store_log_h)(int level, const char *msg, void *arg);
/* Called (from inside store_*_add) when store_want()/store_timeout_ms()
 * may have changed outside store_process(): the loop must re-read them. */
typedef void (store_wake_h)(void *arg);

struct store_conf {
	const char *conninfo;		/* libpq URL or key=value string */
	unsigned reconnect_min_ms;	/* first retry delay, doubles */
	unsigned reconnect_max_ms;	/* retry delay cap */
	const char *instance;		/* calls.instance; default "local" */
	const char *data_dir;		/* journal directory; NULL: no journal */
	unsigned batch_rows;		/* flush at this many rows (default 2000) */
	unsigned flush_ms;		/* ... or this long after the first (100) */
	size_t queue_max_bytes;		/* memory bound; past it: journal (64 MiB) */
	unsigned connections;		/* batches in flight, one connection each:
					 * 1 or 2 (default 2) */
	unsigned long long journal_max_bytes;	/* journal file cap; past it
					 * rows wait in memory, then are
					 * dropped (default 1 GiB) */
	unsigned retention_days;	/* call log: daily partitions older
					 * than this are dropped; 0 keeps all */
	size_t mirror_bytes;		/* rows not yet committed are also
					 * copied to a file mapping of this
					 * size in data_dir, so that they
					 * outlive the process (0: 80 MiB;
					 * STORE_MIRROR_OFF: not at all) */
	store_wake_h *wake;		/* optional */
	void *wake_arg;
};


#define STORE_MIRROR_OFF ((size_t)-1)

struct store;

/* Route the store's log lines (syslog levels) to the daemon's handler. */
void store_log_handler_set(store_log_h *h, void *arg);

/* Allocates a store, opens (and checks) the journal, starts connecting;
 * conf is copied. ENOMEM, EINVAL, or the errno of opening the journal
 * (EBUSY: another process holds it). */
int store_alloc(struct store **sp, const struct store_conf *conf);
/* Writes whatever is still queued or in flight to the journal, closes the
 * connection and frees everything; NULL-safe, returns NULL. */
struct store *store_free(struct store *s);

/* The fd to watch (-1 when none) and the readiness wanted on it: an epoll
 * set of the store's connections, readable when any of them needs
 * store_process(). Re-read store_want() before every wait. */
int store_fd(const struct store *s);
enum store_io store_want(const struct store *s);
/* Milliseconds until store_process() must run even without I/O; -1: never. */
int store_timeout_ms(const struct store *s);
/* Does pending work: connect steps, reads, writes, flushes, retries. Call
 * it when the socket is ready or the timeout expired. The fd may change. */
void store_process(struct store *s);

enum store_state store_state(const struct store *s);
const char *store_state_name(enum store_state st);
/* Number of successful (re)connections since store_alloc. */
unsigned long store_connects(const struct store *s);

/* Version of libpq in use, e.g. 150020. */
int store_libpq_version(void);

/* ---- records ----
 * Times are microseconds since the Unix epoch (UTC); 0 means unknown.
 * Strings are NUL-terminated UTF-8 and may be NULL (SQL NULL) unless
 * marked required; invalid UTF-8 is stored escaped, never dropped.
 * All functions copy what they need and return at once: 0, EINVAL (a
 * required field missing), or ENOMEM. */

/* Microseconds since the epoch, now (CLOCK_REALTIME). */
int64_t store_now_us(void);

/* A full snapshot of a call or leg; the newest updated_at wins, and a NULL
 * field keeps what an earlier snapshot stored. */
struct store_call {
	const char *sid;		/* required: CA + 32 hex */
	const char *account_sid;	/* required */
	const char *parent_call_sid;
	const char *direction;		/* required: inbound, outbound-api, outbound-dial */
	const char *from;
	const char *to;
	const char *caller_name;
	const char *status;		/* required: queued ... canceled */
	const char *sip_call_id;
	int sip_response_code;		/* 0: none */
	const char *reason_protocol;	/* Reason header: "SIP", "Q.850" */
	int reason_cause;		/* 0: none */
	const char *reason_text;
	const char *codec;
	int64_t created_at;		/* required */
	int64_t ringing_at, answered_at, ended_at;
	int duration;			/* seconds; -1: none */
	const char *dial_call_status;	/* on parents after a <Dial> */
	int64_t updated_at;		/* 0: now */
	/* 0003_calls */
	int64_t started_at;		/* the leg's INVITE; 0: unknown */
	const char *forwarded_from;
	const char *dial_group;		/* a <Dial>'s children share it */
	int branch;			/* index in the <Dial>; -1: none */
	const char *hangup_by;		/* "local", "remote" or NULL */
	/* 0007_root_sid: the SID of the root of the call's tree (a <Dial>'s
	 * child legs: their parent's root; a call without a parent is its own
	 * root): every row of a call and its legs carries the same value.
	 * NULL: not known here; the writer looks it up (the root of the
	 * call's row, else for a call its parent's root or its parent, else
	 * the call itself), which costs a query per batch: pass it. */
	const char *root_sid;
	/* reads only (store_calls_query): the instance that wrote the row;
	 * writes take store_conf.instance */
	const char *instance;
};
int store_call_upsert(struct store *s, const struct store_call *c);

struct store_event {
	const char *call_sid;		/* required */
	uint32_t sequence_number;	/* per call, unique: the row's key */
	const char *event;		/* required: "ringing", "answered", ... */
	int sip_code;			/* 0: none */
	int64_t at;			/* 0: now */
	const char *detail_json;	/* a JSON document, or NULL */
	const char *root_sid;		/* 0007: the root call's SID; NULL:
					 * looked up (see store_call) */
};
int store_event_add(struct store *s, const struct store_event *e);

/* A header as it was on the wire: byte strings with lengths (a value may
 * hold NUL or invalid UTF-8 and is kept as is). */
struct store_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

enum store_dir {
	STORE_DIR_IN,
	STORE_DIR_OUT,
};

struct store_sip_message {
	const char *call_sid;		/* required: the leg */
	uint32_t seq;			/* per leg, unique: the row's key */
	enum store_dir direction;
	int64_t at;			/* 0: now */
	const char *start_line;		/* required, without CRLF */
	size_t start_line_len;		/* 0: strlen(start_line) */
	const char *sip_call_id;
	const char *sdp;		/* SDP summary, e.g. "audio 10.0.0.1:4000 PCMU" */
	const struct store_header *hdrs;	/* in wire order */
	size_t nhdrs;
	const char *root_sid;		/* 0007: the root call's SID, also on
					 * the sip_headers rows; NULL: looked
					 * up (see store_call) */
	/* the body, any bytes (sip_messages.body, body_raw, body_type,
	   body_length: migrations/0008); NULL: none stored */
	const void *body;
	size_t body_len;		/* bytes of body stored */
	size_t body_total;		/* its length on the wire (0: body_len;
					   more than body_len: it was cut) */
	const char *body_type;		/* its Content-Type */
};
/* Stores the whole header block once (sip_messages.headers), the body
 * when given (as text; one that is not valid UTF-8 or holds a NUL is
 * stored escaped, a backslash doubled and NUL and bytes >= 0x80 as \ooo,
 * with its bytes in body_raw), and one sip_headers row per policy header
 * (X-*, User-to-User, Remote-Party-ID, P-Preferred-Identity,
 * P-Called-Party-ID, Diversion). Authorization and
 * Proxy-Authorization values are stored as "<scheme> <redacted>". */
int store_sip_message_add(struct store *s, const struct store_sip_message *m);
/* True when name (case-insensitive) is a policy header kept in sip_headers. */
bool store_header_is_policy(const char *name, size_t len);

struct store_param {
	const char *name;
	const char *value;
};

struct store_webhook {
	const char *call_sid;		/* required */
	const char *kind;		/* required: voice, action, whisper, redirect,
					 * fallback, status-callback */
	uint32_t sequence_number;	/* with kind and attempt: the row's key */
	uint32_t attempt;		/* 1, 2, ... */
	const char *method;		/* required: GET or POST */
	const char *url;		/* required */
	const struct store_param *params;	/* stored as a JSON object */
	size_t nparams;
	const char *idempotency_token;
	int response_status;		/* 0: no response */
	int latency_ms;			/* -1: none */
	const char *error;
	int64_t at;			/* 0: now */
	int error_code;			/* Twilio code; 0: none */
	const char *final_url;		/* after redirects; NULL: url */
	int redirects;
	/* microseconds since the attempt started; 0: phase not reached */
	int dns_us, connect_us, tls_us, first_byte_us, total_us;
	const char *root_sid;		/* 0007: the root call's SID; NULL:
					 * looked up (see store_call) */
};
int store_webhook_add(struct store *s, const struct store_webhook *w);

struct store_policy_event {
	const char *call_sid;		/* required */
	int64_t at;			/* 0: now; the key with call_sid, name, ordinal */
	const char *name;		/* required */
	const char *value;		/* bytes, may hold NUL */
	size_t value_len;
	bool refused;			/* refused (call failed) or dropped */
	const char *reason;		/* required */
	int code;			/* Twilio code; 0: none */
	const char *source;		/* "uri", "sip-attr", "dial-attr" or NULL */
	bool truncated;			/* name or value was cut for storage */
	uint32_t ordinal;		/* with call_sid, at and name: the key */
	const char *root_sid;		/* 0007: the root call's SID; NULL:
					 * looked up (see store_call) */
};
int store_header_policy_add(struct store *s, const struct store_policy_event *p);

/* Writes the queue now: to PostgreSQL when it is up and idle, otherwise
 * to the journal (fsync'd). 0 or the errno of the journal write. The
 * caller re-reads store_want()/store_timeout_ms() afterwards. */
int store_flush(struct store *s);
/* True while records are queued or a batch is in flight (shutdown waits). */
bool store_busy(const struct store *s);

struct store_stats {
	size_t queue_rows;		/* rows waiting in memory */
	size_t queue_bytes;
	unsigned long long rows_written;	/* rows committed */
	unsigned long long batches;		/* transactions committed */
	unsigned long long rows_rejected;	/* bad rows logged and dropped */
	unsigned long long rows_journaled;
	unsigned long long journal_bytes;	/* current journal file size */
	unsigned long long rows_discarded;	/* no database configured */
	/* failover (resend.c) */
	unsigned long long failovers;	/* reconnects that reached another server */
	unsigned long long rows_resent;	/* rows sent again after one */
	unsigned long long resend_dropped;	/* rows the 64 MiB bound pushed out */
	unsigned long long resend_bytes;	/* memory the ring holds now */
	/* call-log partitions (partition.c, migrations/0006): rows no
	 * partition takes (SQLSTATE 23514), stored in late_rows instead */
	unsigned long long rows_set_aside;
	unsigned long long partitions_created;
	unsigned long long partitions_dropped;
	unsigned long long maintenance_failures;
	/* the queue's mirror (store_conf.mirror_bytes) */
	unsigned long long rows_recovered;	/* left by a process that died,
						 * moved to the journal when this
						 * store opened (at a daemon's
						 * start, takeover's store does it) */
	unsigned long long rows_unmirrored;	/* not copied: the mirror was
						 * full of uncommitted rows */
};
void store_stats(const struct store *s, struct store_stats *st);

/* ---- reads for the REST API (read.c) ----
 * Queries run on a reader connection of the store's own (opened on first
 * use, non-blocking libpq, part of store_fd()'s epoll set). Read-your-writes:
 * a query is sent only once every row added before it was committed, so a
 * call the API just created or changed is seen. While PostgreSQL is down (or
 * rows added before it are in the journal, or no database is configured) a
 * query fails at once with ENOTCONN: the API answers 503, never waits long.
 * A query that runs over 5 s fails with ETIMEDOUT (statement_timeout).
 *
 * Each store_*_query/store_call_hide returns 0 and sets *rp (may be NULL)
 * to the query in flight, whose handler is then called exactly once, from
 * store_process(), never from inside the call that started it; or it
 * returns an errno (EINVAL, ENOMEM, ENOTCONN: "fails at once") and the
 * handler is never called. *rp is valid until its handler is called
 * (drop the pointer there: cancelling it from its own handler is a use
 * after free) or until store_read_cancel(). A handler may start queries
 * and cancel other ones; it must not free the store. Rows waiting for their commit
 * longer than 5 s fail the query with ETIMEDOUT as well. store_free() with
 * queries in flight calls none of their handlers. Main thread only. */
struct store_read;		/* a query in flight */

/* A list's largest page (1,000, as Twilio's) and the row past it, which
 * tells the API whether a next page exists */
#define STORE_CALLS_LIMIT_MAX 1001
struct store_calls_filter {
	const char *account_sid;	/* required */
	const char *sid;		/* one call (fetch); NULL: a list */
	const char *to, *from;		/* exact to_addr / from_addr */
	const char *parent_call_sid;
	const char *status;		/* queued ... canceled */
	int64_t started_min_us;		/* started_at in [min, max); 0: open */
	int64_t started_max_us;
	int64_t ended_min_us;		/* ended_at in [min, max); 0: open */
	int64_t ended_max_us;
	int sip_response_code;		/* 0: any */
	/* SipHeader_<name>=<value>: any message of the leg, sent or received,
	 * carried a policy header (sip_headers rows) of that name
	 * (case-insensitive) and exactly that value */
	const char *header_name, *header_value;
	bool include_hidden;		/* false: calls deleted through the API
					 * (calls.api_deleted_at) are left out */
	/* newest first: created_at desc, sid desc */
	unsigned limit;			/* 1..STORE_CALLS_LIMIT_MAX */
	unsigned offset;		/* rows to skip (Page without a token) */
	int64_t before_created_us;	/* keyset paging: only rows strictly */
	const char *before_sid;		/* after (older than) this one; 0/NULL: none */
};

/* Rows are lent for the call only. n is 0 for an unknown SID. err: 0,
 * ENOTCONN, ETIMEDOUT, EIO (the query failed: logged with the server's
 * message), ENOMEM. Strings of a row may be NULL (SQL NULL); times 0;
 * duration, branch: -1 when NULL; sip_response_code, reason_cause: 0. */
typedef void (store_calls_h)(int err, const struct store_call *rows,
			     size_t n, void *arg);
/* EINVAL: account_sid missing, limit outside 1..STORE_CALLS_LIMIT_MAX, header_name without
 * header_value (or the reverse), before_sid without before_created_us. */
int store_calls_query(struct store *s, const struct store_calls_filter *f,
		      store_calls_h *h, void *arg, struct store_read **rp);

/* DELETE through the API: marks a finished call (status completed, busy,
 * failed, no-answer or canceled) hidden (api_deleted_at = now()); the rows
 * stay for SQL. err: 0, ENOENT (no such call of that account, already
 * hidden), EBUSY (the call is not finished), ENOTCONN, ETIMEDOUT, EIO. */
typedef void (store_done_h)(int err, void *arg);
int store_call_hide(struct store *s, const char *account_sid, const char *sid,
		    store_done_h *h, void *arg, struct store_read **rp);

/* Every SIP message of a call and of its child legs (parent_call_sid =
 * sid), in order (at, then leg: the call first, then its legs by SID, then
 * seq): the REST extension .../Calls/{Sid}/SipMessages.json and `dialerd
 * trace`. Headers as on the wire, in wire order; the body only when bodies
 * is true (NULL else): sip_messages.body, so escaped (a backslash
 * doubled, NUL and bytes >= 0x80 as \ooo) when it was not valid UTF-8 or
 * held a NUL byte, and at most its first 8192 bytes (the SIP engine keeps
 * no more); body_length tells its length on the wire. err: as
 * store_calls_h, plus ENOENT when the call is unknown (of that account); a
 * known call without messages is err 0, n 0. Hidden calls are included. */
struct store_sip_row {
	const char *call_sid;		/* the leg */
	uint32_t seq;
	enum store_dir direction;
	int64_t at;
	const char *start_line;
	const char *method;		/* a request's; NULL for a response */
	int status_code;		/* a response's; 0 for a request */
	const char *sip_call_id;
	const char *sdp;
	const struct store_header *hdrs;
	size_t nhdrs;
	const char *body;		/* NULL unless asked for and stored */
	const char *body_type;		/* its Content-Type; NULL likewise */
	int64_t body_length;		/* its length on the wire; -1: none */
};
typedef void (store_sip_h)(int err, const struct store_sip_row *rows,
			   size_t n, void *arg);
int store_sip_messages_query(struct store *s, const char *account_sid,
			     const char *sid, bool bodies, store_sip_h *h,
			     void *arg, struct store_read **rp);

/* The caller no longer wants the answer (its HTTP client went away): h is
 * never called. NULL-safe. */
void store_read_cancel(struct store_read *r);

/* The same messages for `dialerd trace`, blocking (a command, not the
 * daemon): connects (connect_timeout seconds), runs the query of
 * store_sip_messages_query for any account, calls h once with the rows,
 * and disconnects. 0 (h called with err 0 or ENOENT), ECONNREFUSED (the
 * database is unreachable), EIO (the query failed), ENOMEM; err gets one
 * line on failure. */
int store_sip_messages_fetch(const char *conninfo, const char *sid,
			     bool bodies, unsigned connect_timeout,
			     store_sip_h *h, void *arg, char *err,
			     size_t errsz);

/* ---- the webhook outbox (outbox.c) ----
 * Status callbacks on local disk (data_dir/webhook.outbox) from the moment
 * they are accepted until they are delivered: it works while PostgreSQL is
 * away and survives kill -9. Appends are buffered; store_outbox_commit()
 * writes them and a thread of the outbox makes them durable with one
 * fdatasync for many. Each append returns a ticket; it is on disk once
 * store_outbox_process() reports a durable count >= the ticket. Main
 * thread only (the sync thread is internal). */
struct store_outbox;

struct store_outbox_entry {
	uint64_t id;			/* set by store_outbox_add */
	const char *call_sid;		/* required */
	const char *kind;
	const char *method;
	const char *url;		/* required */
	const char *token;		/* idempotency token */
	uint32_t sequence_number;
	uint32_t attempts;		/* attempts possibly started */
	int64_t created_at;		/* microseconds since the epoch */
	const struct store_param *params;
	size_t nparams;
};

/* An entry still to deliver, found at open; lent for the call. */
typedef void (store_outbox_entry_h)(const struct store_outbox_entry *e,
				    void *arg);

/* Opens (creating) dir/webhook.outbox, locks it, cuts a torn tail, and
 * calls h (unless NULL) for every pending entry in the order they were
 * added. EBUSY
 * (another process holds it), EBADMSG, ENOMEM, or an errno of the file. */
int store_outbox_open(struct store_outbox **op, const char *dir,
		      store_outbox_entry_h *h, void *arg);
/* Writes what is buffered (best effort) and closes; NULL-safe. */
struct store_outbox *store_outbox_close(struct store_outbox *o);
/* Every entry still in dir/webhook.outbox, delivered (done) or not, in
 * the order added, without changing the file: the callbacks of an
 * instance that is gone (`dialerd takeover`, before store_outbox_open,
 * which empties a file whose entries are all delivered; the daemon also
 * empties or compacts it past 1 MiB of delivered entries). Takes the
 * file's lock for the call: EBUSY, EBADMSG, ENOMEM, or an errno. */
typedef void (store_outbox_seen_h)(const struct store_outbox_entry *e,
				   bool done, void *arg);
int store_outbox_scan(const char *dir, store_outbox_seen_h *h, void *arg);

/* Buffers an entry (e->id is set). EINVAL, ENOMEM. */
int store_outbox_add(struct store_outbox *o, struct store_outbox_entry *e,
		     uint64_t *ticket);
/* Records that attempt number `attempts` may start. ENOENT, ENOMEM. */
int store_outbox_attempt(struct store_outbox *o, uint64_t id,
			 uint32_t attempts, uint64_t *ticket);
/* The entry is delivered or given up. ENOENT, ENOMEM. */
int store_outbox_done(struct store_outbox *o, uint64_t id);
/* Writes the buffered records and, when a ticket is not yet durable,
 * asks for a sync (it starts at most every 4 ms: what is written before
 * it starts joins it). A DONE alone is written, not synced. The errno of
 * the write (ENOSPC, EFBIG...): the records stay buffered for the next
 * call, logged once per episode. */
int store_outbox_commit(struct store_outbox *o);
/* Readable when a sync finished. */
int store_outbox_fd(const struct store_outbox *o);
/* Call when store_outbox_fd() is readable: *durable gets the tickets now
 * on disk; starts the next sync if more was written meanwhile, and
 * rewrites the file when it is mostly delivered entries. 0 or the errno
 * of a failed fdatasync (logged; retried by the next commit). */
int store_outbox_process(struct store_outbox *o, uint64_t *durable);
/* The last ticket issued (by an add or an attempt): the durable count
 * reaches it when every entry and attempt is on disk. */
uint64_t store_outbox_needed(const struct store_outbox *o);

struct store_outbox_stats {
	size_t pending;			/* entries added and not done */
	unsigned long long file_bytes;
	size_t buffered_bytes;		/* not yet written */
	unsigned long long syncs;	/* fdatasyncs done since the open */
};
void store_outbox_stats(struct store_outbox *o,
			struct store_outbox_stats *st);

/* ---- the control connection and the instance registry (control.c) ----
 * One more connection of the store, apart from the writer's and the
 * reader's: same conninfo, same reconnect backoff, non-blocking, part of
 * store_fd()'s epoll set, driven by store_process(). Started by
 * store_control_start(); without a database URL it never runs.
 *
 * After every connect it first registers the instance: in one transaction
 * under an advisory lock (so two instances starting at once get distinct
 * ids) it upserts the instances row of store_instance.name (addresses,
 * data_dir, host, pid, state, started_at, heartbeat_at = now(), version).
 * A row of the same name whose heartbeat is fresher than 15 s, in state
 * active or draining, of another host, or of another pid of this host
 * with another data_dir (one with this data_dir is dead: the caller holds
 * its lock), refuses the registration (split brain). Then heartbeat_at =
 * now() every 5 s (no NOTIFY). The connection sets statement_timeout = 5 s.
 *
 * Statements of other modules (cross-instance commands) run on the same
 * connection through store_control_exec(), strictly in the order queued,
 * one at a time, only while registered. Every handler runs from
 * store_process(), never from inside the call that queued the work.
 * Main thread only. */
struct store_instance {
	const char *name;		/* required: the configuration's instance */
	unsigned id;			/* instance_id 1..65535; 0: automatic: the
					 * row of this name keeps its id, a new name
					 * gets preferred_id if free, else the lowest
					 * free id */
	unsigned preferred_id;		/* automatic only: e.g. the id cached in
					 * data_dir; 0: none */
	const char *sip_addr, *http_addr, *data_dir, *host, *version;
	int pid;
	int64_t started_at;		/* microseconds since the epoch */
};

/* After every registration attempt. err 0: registered, id is this
 * instance's; EEXIST: split brain (why: the other row's host, pid and
 * heartbeat age); EADDRINUSE: instance_id is another name's, or this name
 * is registered with another id; ENOSPC: no free id; EIO: the statement
 * failed. On an error the connection is dropped and registration is tried
 * again after the backoff. why is a log-ready line (never NULL). */
typedef void (store_registered_h)(int err, unsigned id, const char *why,
				  void *arg);
/* Copies inst; starts connecting. EINVAL (no name, id > 65535), EALREADY,
 * ENOTSUP (no database configured), ENOMEM. */
int store_control_start(struct store *s, const struct store_instance *inst,
			store_registered_h *h, void *arg);
/* The registry state: "active", "draining" or "stopped". Written at once
 * when registered (queued behind the statements before it), and by every
 * later registration. EINVAL, ENOMEM. */
int store_control_state(struct store *s, const char *state);
/* The id registered in this process (0: none yet). */
unsigned store_control_id(const struct store *s);
/* Registered on the current connection: store_control_exec() may run. */
bool store_control_up(const struct store *s);
/* Statements queued or in flight (shutdown waits for "stopped"). */
bool store_control_busy(const struct store *s);

/* Hook (a): called after every successful (re)connect + registration,
 * before any statement queued later: LISTEN here, then scan what may
 * have been missed while disconnected (a notification sent meanwhile is
 * lost). One handler; NULL removes it. Both handler setters may be called
 * before or after store_control_start(). */
typedef void (store_control_up_h)(unsigned id, void *arg);
void store_control_up_handler_set(struct store *s, store_control_up_h *h,
				  void *arg);
/* Hook (c): every notification (LISTEN/NOTIFY) received on the control
 * connection; strings are lent for the call. */
typedef void (store_notify_h)(const char *channel, const char *payload,
			      void *arg);
void store_control_notify_handler_set(struct store *s, store_notify_h *h,
				      void *arg);

/* A statement's result, lent to its handler for the call only. */
struct store_rows;
size_t store_rows_count(const struct store_rows *r);
unsigned store_rows_columns(const struct store_rows *r);
/* A value as text; NULL for SQL NULL or past the end. */
const char *store_rows_value(const struct store_rows *r, size_t row,
			     unsigned col);
/* Rows an INSERT/UPDATE/DELETE touched (PQcmdTuples). */
unsigned long long store_rows_affected(const struct store_rows *r);

/* err: 0 (rows valid), EIO (the server refused: logged with its message;
 * rows still carry no data), ETIMEDOUT (statement_timeout), ENOTCONN (the
 * connection was lost before the answer: the statement may or may not
 * have run). */
typedef void (store_exec_h)(int err, const struct store_rows *rows,
			    void *arg);
struct store_exec;		/* a statement queued or in flight */
/* Hook (b): queues sql on the control connection, after everything queued
 * before it. nparams 0: sent as a simple query (several statements
 * separated by ';' are allowed and run as one transaction; rows are the
 * last statement's); else one statement with $1..$n text parameters
 * (NULL: SQL NULL). Everything is copied. h (may be NULL) is called once,
 * from store_process(). *xp (may be NULL) is valid until h runs or
 * store_control_cancel(). EINVAL, ENOMEM, ENOTCONN (not registered now:
 * h is never called). */
int store_control_exec(struct store *s, const char *sql, int nparams,
		       const char *const *params, store_exec_h *h, void *arg,
		       struct store_exec **xp);
/* h is never called; a statement already sent still runs. NULL-safe. */
void store_control_cancel(struct store_exec *x);

/* The data_dir lock and the instance id cache (idfile.c): data_dir/
 * instance.id, locked with flock(LOCK_EX|LOCK_NB) for the life of the
 * process, so a second daemon on the same data_dir is refused; it holds
 * the id last registered, so that a restart while PostgreSQL is away
 * still mints SIDs with the right id. */
struct store_idfile;
/* Opens (creating) dir/instance.id and locks it; *id gets the cached id
 * (0: none or unreadable). EBUSY (another process holds it), or the
 * errno of the file. */
int store_idfile_open(struct store_idfile **fp, const char *dir,
		      unsigned *id);
/* Rewrites the cached id (fsync'd). 0 or an errno. */
int store_idfile_write(struct store_idfile *f, unsigned id);
/* Unlocks and closes; NULL-safe, returns NULL. */
struct store_idfile *store_idfile_close(struct store_idfile *f);
/* ---- end of the control connection and the instance registry ---- */

/* ---- `dialerd takeover` (takeover.c): blocking, a command or the
 * daemon's start before its loop runs ----
 * One connection (connect_timeout seconds) for the registry and call-log
 * reads of taking over an instance that is gone. Rows written by the
 * takeover go through a struct store like the daemon's. err gets one
 * line on failure. */
struct store_takeover;
/* 0, ECONNREFUSED, ENOMEM, EINVAL. */
int store_takeover_open(struct store_takeover **tp, const char *conninfo,
			unsigned connect_timeout, char *err, size_t errsz);
struct store_takeover *store_takeover_close(struct store_takeover *t);

struct store_lost_instance {
	unsigned id;
	char name[128], state[16], host[256], data_dir[512];
	int pid;
	double heartbeat_age_s;		/* negative: a takeover's lease */
	int64_t last_seen_us;		/* claimed: its heartbeat before the
					 * claim, when it was last known alive */
};
/* Compare-and-set: the instances row of id becomes state lost, with host
 * and pid of the caller and heartbeat_at = now() + lease_s (a lease), only
 * if it is not retired and its heartbeat is older than stale_s. 0
 * (claimed; li->name), ENOENT (no such id), EALREADY (retired), EBUSY
 * (heartbeat fresh or another takeover's lease: li says whose and how
 * old), EIO. */
int store_takeover_claim(struct store_takeover *t, unsigned id,
			 unsigned stale_s, unsigned lease_s, const char *host,
			 int pid, struct store_lost_instance *li, char *err,
			 size_t errsz);
/* The same claim for the caller's own folder (whose instance.id lock it
 * holds, so the row's process is gone): only a row of this host and
 * data_dir, active, draining or lost, under no other takeover's lease.
 * 0 (claimed), ENOENT (nothing to take: a clean stop, another host or
 * folder, a lease), EIO. */
int store_takeover_claim_own(struct store_takeover *t, unsigned id,
			     const char *host, const char *data_dir, int pid,
			     unsigned lease_s, struct store_lost_instance *li,
			     char *err, size_t errsz);
/* retired: state retired; else the lease ends (heartbeat stale_s + 1 s
 * old) so that another run may claim it at once. 0 or EIO. */
int store_takeover_release(struct store_takeover *t, unsigned id,
			   bool retired, unsigned stale_s, char *err,
			   size_t errsz);

/* A calls row of the instance without a final status; strings lent until
 * the next store_takeover_calls or close (NULL: SQL NULL). */
struct store_open_call {
	const char *sid, *account_sid, *parent_call_sid, *direction;
	const char *from, *to, *caller_name, *status, *sip_call_id;
	const char *forwarded_from;
	const char *root_sid;		/* its rows' root_sid (0007) */
	int64_t created_at, ringing_at, answered_at, started_at;
	uint32_t next_event;		/* call_events sequence_number */
	int64_t last_callback;		/* highest status-callback SequenceNumber
					 * in webhook_requests; -1: none */
	const char *final_sent;		/* a final CallStatus already sent */
	const char *cb_url;		/* the subscription (first status event's
					 * detail); NULL: no status callback */
	bool cb_get;
	bool cb_completed;		/* completed is among its events */
	/* a <Dial>'s child: what its first status event says of the <Dial>
	 * (a restart adopts the call with it) */
	bool dial_known;
	const char *dial_action;	/* NULL: none */
	bool dial_get;
	int dial_time_limit;		/* s */
	const char *dial_then_doc;	/* without an action: the document */
	const char *dial_then_url;	/* ... its URL */
	int dial_then_verb;		/* ... where it goes on */
	int time_limit;			/* a REST call's TimeLimit, s; 0: none */
	uint32_t next_fetch;		/* webhook_requests sequence_number of
					 * the call's next fetch */
	const char *codec;
	int sip_response_code;		/* 0: none */
	int64_t ended_at;		/* 0: none (an open call) */
};
/* Open calls of calls.instance = instance, by SID. 0, EIO, ENOMEM. */
int store_takeover_calls(struct store_takeover *t, const char *instance,
			 const struct store_open_call **callsp, size_t *np,
			 char *err, size_t errsz);
/* The <Dial>s that ended while their parent, one of parents, stays open:
 * per parent its newest child, when that one was answered, has ended,
 * recorded an action or the document after its <Dial>, and no fetch of
 * the parent (an action, a <Redirect>) is logged since the child was
 * created: the <Dial>'s end had not moved the document on yet. h is
 * called once (rows by SID, borrowed), before it returns. 0, EINVAL (a SID
 * of other characters than letters and digits), EIO, ENOMEM. */
typedef void (store_open_call_h)(const struct store_open_call *calls,
				 size_t n, void *arg);
int store_takeover_dial_ends(struct store_takeover *t,
			     const char *const *parents, size_t n,
			     store_open_call_h *h, void *arg, char *err,
			     size_t errsz);
/* The parameters of the call's latest status callback in webhook_requests
 * (none: h is not called). 0 or EIO. */
typedef void (store_takeover_param_h)(const char *name, const char *value,
				      void *arg);
int store_takeover_callback_params(struct store_takeover *t, const char *sid,
				   store_takeover_param_h *h, void *arg,
				   char *err, size_t errsz);
/* The SIP messages of the legs sids (bodies as stored), by leg, each leg's in
 * order: h is called once, before it returns. 0, EINVAL (a SID of other
 * characters than letters and digits), EIO, ENOMEM. */
int store_takeover_sip(struct store_takeover *t, const char *const *sids,
		       size_t n, store_sip_h *h, void *arg, char *err,
		       size_t errsz);

/* ---- cross-instance REST commands (command.c) ----
 * Table call_commands; every statement runs on the control connection
 * (store_control_exec: ENOTCONN when it is not registered). */
enum store_command_kind {
	STORE_COMMAND_FETCH,
	STORE_COMMAND_UPDATE,
	STORE_COMMAND_DELETE,
};
/* Row of instance id: name, state, 't' when it may answer (active or
 * draining with a heartbeat younger than 15 s), heartbeat age in seconds;
 * no row: unknown. */
int store_command_instance(struct store *s, unsigned id, store_exec_h *h,
			   void *arg, struct store_exec **xp);
/* Inserts a command for target (expires in 10 s) and notifies
 * dialerd_cmd_<target> in the same transaction; rows: id. body: JSON. */
int store_command_send(struct store *s, unsigned target, const char *sid,
		       const char *account, enum store_command_kind kind,
		       const char *body, store_exec_h *h, void *arg,
		       struct store_exec **xp);
/* LISTEN dialerd_cmd_<self> and dialerd_ack_<self>: from the up handler,
 * before store_command_pending(s, 0, ...). */
int store_command_listen(struct store *s, store_exec_h *h, void *arg);
/* Marks expired commands to self (id 0: all, else that one) and returns
 * the pending unexpired ones in id order: id, requested_by, call_sid,
 * account_sid, kind, body, body->>'prefix', body->>'form'. */
int store_command_pending(struct store *s, unsigned long long id,
			  store_exec_h *h, void *arg);
/* pending -> done|failed with the answer (status, JSON body) and notifies
 * dialerd_ack_<requested_by>; idempotent (affects no row the 2nd time). */
int store_command_finish(struct store *s, unsigned long long id, bool done,
			 unsigned status, const char *body, store_exec_h *h,
			 void *arg);
/* Rows: state, result_status, result_body. */
int store_command_result(struct store *s, unsigned long long id,
			 store_exec_h *h, void *arg, struct store_exec **xp);
/* Deletes up to 1000 commands older than a day; repeat while affected. */
int store_command_housekeep(struct store *s, store_exec_h *h, void *arg);
/* ---- end of cross-instance REST commands ---- */

/* ---- migrations (blocking: for "dialerd migrate" and start-up) ---- */

enum store_migrate_mode {
	STORE_MIGRATE_CHECK,	/* only verify: nothing unknown, checksums equal */
	STORE_MIGRATE_APPLY,	/* verify, then apply pending ones */
	STORE_MIGRATE_STATUS,	/* print every migration's state */
};

/* Receives one human-readable line per migration applied or listed. */
typedef void (store_migrate_out_h)(const char *line, void *arg);

/* Connects (blocking, connect_timeout seconds), takes an advisory lock,
 * and checks/applies. Returns 0; EPROTO when the database holds a
 * migration this binary does not know or a checksum differs; ESTALE
 * (CHECK mode) when migrations are pending; ECONNREFUSED when the
 * database is unreachable; EIO when a statement failed. err gets one
 * line on failure. */
int store_migrate(const char *conninfo, enum store_migrate_mode mode,
		  unsigned connect_timeout, store_migrate_out_h *out, void *arg,
		  char *err, size_t errsz);
/* Number of migrations built into this binary and the newest version. */
size_t store_migrations_count(void);
unsigned store_migrations_latest(void);

#endif
