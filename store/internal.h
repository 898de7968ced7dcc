/* internal.h: store/ private declarations shared by its .c files */
#ifndef DIALERD_STORE_INTERNAL_H
#define DIALERD_STORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

void store_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Monotonic clock in milliseconds. */
unsigned long long store_now_ms(void);

/* ---- growable byte buffer (buf.c) ---- */
struct sbuf {
	unsigned char *p;
	size_t len, cap;
};
int sbuf_reserve(struct sbuf *b, size_t extra);
int sbuf_put(struct sbuf *b, const void *data, size_t n);
int sbuf_putc(struct sbuf *b, unsigned char c);
void sbuf_reset(struct sbuf *b);	/* keeps the memory */
void sbuf_free(struct sbuf *b);
/* Drops the first n bytes. */
void sbuf_consume(struct sbuf *b, size_t n);

uint32_t store_crc32(const void *data, size_t n);

/* ---- records (record.c) ----
 * A record is one row of one table. Its frame, identical in the memory
 * queue and in the journal, is:
 *   u32 payload length (LE) | u32 CRC32 of the payload (LE) | payload
 * payload: u8 table | u16 column count (LE) | columns, each
 *   u8 kind | NULL: nothing | INT/TIME: i64 LE | TEXT/BYTEA/JSON: u32 len + bytes
 * Columns are in the order of the table's columns in the schema.
 */
#define REC_HDR 8u
/* A batch (or the setup query) taking longer than this means a silent
 * network failure: the connection is dropped and the rows journaled. */
#define STORE_QUERY_TIMEOUT_MS 60000u
#define REC_MAX_PAYLOAD (16u << 20)

enum rec_table {
	T_CALLS,
	T_EVENTS,
	T_MSGS,
	T_HDRS,
	T_HOOKS,
	T_POLICY,
	T_COUNT
};

enum rec_kind {
	K_NULL,
	K_TEXT,		/* UTF-8 without NUL (sanitised on the way in) */
	K_INT,
	K_TIME,		/* microseconds since the epoch */
	K_BYTEA,
	K_JSON,		/* JSON text */
	K_BOOL,		/* stored as i64 0/1, sent as boolean */
};

struct rec_col {
	enum rec_kind kind;
	int64_t i;
	const unsigned char *p;
	uint32_t len;
};

#define REC_MAX_COLS 32
struct rec {
	enum rec_table table;
	unsigned ncols;
	struct rec_col col[REC_MAX_COLS];
};

/* Builder: store_rec_begin writes the frame header placeholder,
 * store_rec_end fills it. */
struct rec_builder {
	struct sbuf *b;
	size_t start;
	unsigned ncols;
	int err;
};
void store_rec_begin(struct rec_builder *rb, struct sbuf *b, enum rec_table t);
void store_rec_null(struct rec_builder *rb);
void store_rec_text(struct rec_builder *rb, const char *s);	/* NULL -> NULL */
void store_rec_textn(struct rec_builder *rb, const void *p, size_t n);
void store_rec_int(struct rec_builder *rb, int64_t v);
void store_rec_int_or_null(struct rec_builder *rb, int64_t v, int64_t null_value);
void store_rec_bool(struct rec_builder *rb, bool v);
void store_rec_time(struct rec_builder *rb, int64_t us);	/* 0 -> NULL */
void store_rec_bytea(struct rec_builder *rb, const void *p, size_t n);
void store_rec_json(struct rec_builder *rb, const char *s, size_t n);
/* 0, ENOMEM or EINVAL; rolls back on error */
int store_rec_end(struct rec_builder *rb);

/* Decodes one payload (without its 8-byte frame header). EBADMSG. */
int store_rec_decode(struct rec *r, const unsigned char *p, size_t n);

/* Checks one frame at p (avail bytes): 0 and its total size in *framelen,
 * EAGAIN when truncated, EBADMSG when the length or CRC is wrong. */
int store_rec_frame_check(const unsigned char *p, size_t avail, size_t *framelen);

/* Text as stored: valid UTF-8 without NUL is kept; anything else is
 * written as PostgreSQL's encode(bytes, 'escape') would (\\ and \ooo).
 * Returns true when escaping was needed. */
bool store_text_needs_escape(const unsigned char *p, size_t n);
int store_text_escape(struct sbuf *out, const unsigned char *p, size_t n);

/* Appends one COPY text-format line for r (with a leading "ord" column
 * when ord >= 0). ENOMEM. */
int store_rec_copy_line(struct sbuf *out, const struct rec *r, long ord);

/* The same row in PostgreSQL's binary COPY format (what the writer
 * sends): a buffer is begin, tuples, end. ENOMEM. */
int store_rec_copy_binary_begin(struct sbuf *out);
int store_rec_copy_binary(struct sbuf *out, const struct rec *r, long ord);
int store_rec_copy_binary_end(struct sbuf *out);

const char *store_rec_table_name(enum rec_table t);
/* Position of root_sid (0007_root_sid) in a decoded record of table t;
 * migrations after 0007 add their columns behind it. */
unsigned store_rec_root_col(enum rec_table t);
/* call_sid of a record, for log lines ("?" when none). */
void store_rec_describe(const struct rec *r, char *buf, size_t size);

/* ---- journal (journal.c) ---- */
struct journal {
	int fd;
	char *path;
	uint64_t size;		/* bytes on disk */
	uint64_t replay_off;	/* bytes already replayed (in flight or landed) */
	uint64_t done_off;	/* bytes whose rows have landed */
	unsigned long long rows_appended;
	uint64_t max_bytes;	/* 0: no cap; the owner sets it after open */
	/* a write failed (ENOSPC, EFBIG past max_bytes or RLIMIT_FSIZE, EIO):
	 * writes are refused with fail_err, without touching the file,
	 * until retry_at (store_now_ms); on ENOSPC, at most once per
	 * JOURNAL_BACKOFF_MIN_MS, sooner when the file system has room again
	 * (probed_at: the last look) */
	int fail_err;
	unsigned long long retry_at, probed_at;
	unsigned backoff_ms;
	unsigned long long refused_writes;	/* in this episode */
};
#define JOURNAL_BACKOFF_MIN_MS 1000u
#define JOURNAL_BACKOFF_MAX_MS 30000u
/* Opens (creating) dir/name, locks it, cuts a torn tail after copying it
 * to dir/name.bad-<UTC time>. Refuses (EPERM, logged) a dir writable by
 * group or others, and a name that is not a regular file of our euid
 * (ELOOP for a symbolic link). */
int store_journal_open(struct journal *j, const char *dir, const char *name);
#define STORE_JOURNAL_NAME "store.journal"
#define STORE_JOURNAL_MAX_BYTES (1ull << 30)	/* store_conf default */
void store_journal_close(struct journal *j);
/* The files of data_dir, the journal's and the mirror's: opens (creating,
 * 0640) path read-write without following a symbolic link, and refuses
 * (EPERM) anything but a regular file of our euid; each refusal logged
 * with who as its prefix. 0 and *fdp, or an errno. */
int store_file_open(const char *path, const char *who, int *fdp);
/* Creates "<path>.bad-<UTC time>" (or "-N" after it when taken), never
 * replacing a file: its fd (write-only, 0600) and its name in *bad (to
 * free), or -errno. */
int store_aside_open(const char *path, char **bad);
/* Appends whole frames and fsyncs. A failure (logged once per episode)
 * or a write past max_bytes (EFBIG) makes later writes fail at once with
 * the same errno until store_journal_retry_ms() reaches 0. */
int store_journal_append(struct journal *j, const unsigned char *p, size_t n, size_t rows);
/* Appends whole frames without a sync: the outbox groups many appends
 * under one fdatasync of j->fd. A failed write is cut back. */
int store_journal_write(struct journal *j, const unsigned char *p, size_t n,
			size_t rows);
/* Reads up to max_rows frames / max_bytes from replay_off into out; sets
 * *rows. The frames were checked at open; a bad one now is cut. */
int store_journal_read(struct journal *j, struct sbuf *out, size_t max_rows,
		 size_t max_bytes, size_t *rows);
/* All replayed rows landed: empty the file. */
int store_journal_truncate(struct journal *j);
bool store_journal_pending(const struct journal *j);
/* Milliseconds until a write is tried again after a failure; 0: now. */
unsigned store_journal_retry_ms(const struct journal *j);

/* ---- the queue's mirror (mirror.c) ----
 * Every row added is copied, as it is queued, into a shared file mapping
 * in data_dir: rows not yet committed outlive the process (not the
 * machine). The next store on the folder moves them into the journal. */
struct mirror;
#define STORE_MIRROR_NAME "store.mirror"
/* store_conf default: the queue's default bound (64 MiB, past which it
 * goes to the journal) and two batches in flight, with room to spare */
#define STORE_MIRROR_BYTES (80u << 20)
/* Opens dir/store.mirror (the journal's lock held): appends what a
 * previous process left unsettled in it to j, fsync'd (*recovered rows; a
 * file that cannot be read back is renamed aside), then with bytes > 0
 * starts a new one of about that size. *mp stays NULL when bytes is 0 or
 * the file cannot be prepared (logged: the store runs without). EINVAL
 * (bytes too small), ENOMEM, or the errno of a file that cannot be used. */
int store_mirror_open(struct mirror **mp, const char *dir, size_t bytes,
		      struct journal *j, unsigned long long *recovered);
void store_mirror_close(struct mirror *m);	/* NULL-safe */
/* Copies the frames of rows [first_no, first_no + rows) (len bytes at p).
 * Rows numbered below unsettled are settled (store_writer_unsettled) and
 * their space may be taken. EFBIG (larger than a segment) or ENOSPC (the
 * mirror is full of unsettled rows): not copied, logged once. */
int store_mirror_add(struct mirror *m, const unsigned char *p, size_t len,
		     uint64_t first_no, size_t rows, uint64_t unsettled);
/* Records that every row numbered below unsettled is settled; NULL-safe. */
void store_mirror_settle(struct mirror *m, uint64_t unsettled);

/* ---- the store ---- */
enum wphase {
	W_IDLE,
	W_SETUP,	/* temp staging tables being created */
	W_BATCH,	/* a batch query in flight */
};

struct range {
	size_t lo, hi;	/* record indexes in the batch */
	bool safe;	/* through staging tables with ON CONFLICT */
	bool aside;	/* one row no partition takes (23514): to late_rows */
};

struct batch {
	struct sbuf frames;	/* the records, as frames */
	uint64_t no_lo;		/* the lowest row number in it (0: journal) */
	size_t *offs;		/* frame offsets, nrec + 1 entries */
	size_t nrec, offs_cap;
	bool from_journal;
	uint64_t journal_end;	/* replay position after this batch */
	struct range *ranges;	/* still to write; top = last */
	size_t nranges, ranges_cap;
	struct range cur;	/* the range in flight */
	struct sbuf copy[T_COUNT];	/* COPY data of cur, per table */
	int copy_order[T_COUNT];
	int ncopy, copy_next;	/* copies sent so far */
	size_t copy_sent;	/* bytes of copy[copy_order[copy_next]] sent */
	bool copying;		/* in COPY IN, data not all sent */
	bool safe;		/* cur goes through the staging tables */
	bool failed;
	char sqlstate[6];
	char errmsg[256];
	bool want_write;
};

/* The writer keeps this many connections, each with one batch in flight:
 * while one backend waits for its commit's WAL fsync (or the client
 * serialises the next batch), the other works. */
#define STORE_NCONN 2	/* the most; store_conf.connections picks 1 or 2 */

/* One connection and the batch it carries. */
struct wconn {
	void *conn;		/* PGconn */
	int poll;		/* PostgresPollingStatusType while connecting */
	bool connected;		/* PQconnectPoll said OK */
	enum wphase phase;
	unsigned long long query_deadline;	/* ms: a query in flight past it: lost */
	struct batch batch;
	bool in_batch;
	int reg_fd;		/* registered with the store's epoll fd (-1: none) */
	unsigned reg_events;
};

/* epoll registrations change in store_want(), which takes a const store */
struct store_poll {
	int epfd;
};

/* The reader connection of read.c (REST API queries), apart from the
 * writer's so that a query never waits behind a batch. */
enum rphase {
	R_NONE,		/* no connection: opened on the next query */
	R_CONNECTING,
	R_SETUP,	/* statement_timeout being set */
	R_IDLE,
	R_BUSY,		/* the head read is in flight */
};

struct rconn {
	void *conn;		/* PGconn */
	int poll;		/* PostgresPollingStatusType while connecting */
	enum rphase phase;
	bool want_write;	/* libpq has output it could not send */
	unsigned long long deadline;	/* connect, or the query in flight */
	unsigned events;	/* what read.c waits for (EPOLLIN/OUT) */
	int reg_fd;		/* registered with the epoll fd (-1: none) */
	unsigned reg_events;
};

/* partition.c: daily partitions created ahead and dropped past the
 * retention, on a connection of its own opened for each run */
enum pm_phase {
	PM_IDLE,
	PM_CONNECTING,
	PM_BUSY,	/* a statement in flight */
};

enum pm_step {
	PM_S_LOCK,	/* pg_try_advisory_lock */
	PM_S_CREATE,	/* call_log_create_partitions() */
	PM_S_LIST,	/* call_log_expired_partitions(days) */
	PM_S_TODO,	/* the detach and drop statements, one at a time */
};

struct pmaint {
	void *conn;		/* PGconn, during a run only */
	void *last;		/* PGresult: the statement's last rows */
	int poll;		/* PostgresPollingStatusType while connecting */
	enum pm_phase phase;
	enum pm_step step;
	unsigned retention_days;	/* 0: keep every day */
	unsigned long long next_ms;	/* next run (0: not before a connect) */
	unsigned long long deadline;	/* the run in progress is dropped past it */
	char **todo;		/* retention statements */
	size_t ntodo, itodo;
	bool failed;
	char sqlstate[6];
	char errmsg[256];
};

void store_partition_kick(struct store *s);	/* a run now (writer connected) */
void store_partition_process(struct store *s);
int store_partition_timeout_ms(const struct store *s);
void store_partition_free(struct store *s);

struct store {
	char *conninfo;
	char *instance;
	unsigned reconnect_min_ms;
	unsigned reconnect_max_ms;
	struct wconn w[STORE_NCONN];
	int nconn;		/* connections in use */
	struct store_poll *ep;	/* one fd for the loop: an epoll set of the sockets */
	enum store_state state;
	unsigned long long deadline;	/* connect timeout or next retry */
	unsigned backoff_ms;
	unsigned long connects;

	/* writer */
	unsigned batch_rows;
	unsigned flush_ms;
	size_t queue_max_bytes;
	struct sbuf queue;	/* frames */
	struct sbuf hdr_block;	/* a SIP message's header block, reused */
	size_t queue_rows;
	unsigned long long queue_since;	/* ms when the oldest queued row came */
	bool have_journal;
	struct journal journal;
	struct mirror *mirror;	/* NULL: none (no journal, or turned off) */
	bool drop_logged;	/* rows dropped: logged once per episode */
	struct store_stats stats;
	store_wake_h *wake;
	void *wake_arg;

	/* read-your-writes: every row added gets the next number; the writer
	 * knows the lowest number not yet committed (store_writer_unsettled) */
	uint64_t rows_added;	/* numbers given so far (the last one) */
	uint64_t queue_no;	/* the lowest number in the queue (queue_rows > 0) */
	bool queue_mixed;	/* a batch came back to the queue's head: the
				 * numbers there are no longer in order and
				 * queue_no stays put until the queue empties */
	uint64_t flush_wanted_no;	/* a read waits for rows up to this one:
					 * flush them without waiting flush_ms */

	struct pmaint pm;	/* partition.c */

	/* reads (read.c) */
	struct rconn r;
	struct store_read *reads;	/* FIFO: only the head is ever in flight */
	struct store_read *reads_tail;

	/* the control connection and the registry (control.c) */
	struct ctl *ctl;	/* NULL until store_control_start */

	/* failover (resend.c): the server's identity, committed batches */
	struct store_resend *resend;
};

/*
 * The files call one way: store.c (the public entry points) calls
 * read.c, writer.c, conn.c and control.c; read.c calls writer.c and
 * query.c; writer.c calls conn.c and journal.c; trace.c calls query.c;
 * conn.c calls control.c (its socket in the epoll set) and resend.c;
 * writer.c calls resend.c and mirror.c; store.c calls mirror.c to open
 * it; mirror.c calls journal.c; control.c,
 * idfile.c, journal.c and query.c call only base.c, buf.c and record.c.
 */

/* A connection with a batch that has more to send wants POLLOUT. */
static inline bool store_wconn_wants_write(const struct wconn *w)
{
	return w->phase != W_IDLE && w->batch.want_write;
}

/* writer.c, driven by store.c */
void store_writer_on_connected(struct store *s, struct wconn *w);
void store_writer_on_lost(struct store *s);	/* the connections are gone */
void store_writer_process(struct store *s);	/* connections are up */
int store_writer_timeout_ms(const struct store *s);
void store_writer_tick(struct store *s);	/* flush timers, any state */
void store_writer_free(struct store *s);

/* resend.c: the batches committed in the last 30 s (at most 64 MiB), sent
 * again when a connect reaches another server (system identifier or
 * timeline changed: a promoted standby may have missed them) */
void store_resend_keep(struct store *s, struct sbuf *frames, size_t nrec);
		/* a batch committed: its frames move into the ring, and
		   *frames becomes an empty buffer to reuse */
void store_resend_on_connected(struct store *s, void *pgconn);	/* blocks <= 2 s */
/* ms until the oldest batch leaves the ring (-1: empty), and its leaving */
int store_resend_timeout_ms(const struct store *s, unsigned long long now);
void store_resend_expire(struct store *s, unsigned long long now);
void store_resend_free(struct store *s);
size_t store_resend_bytes(const struct store *s);	/* memory the ring holds */

/* conn.c: the connections and their state (s->state) */
enum store_conn_ev {
	STORE_CONN_NONE,	/* nothing for the writer */
	STORE_CONN_UP,		/* every connection just came up */
	STORE_CONN_READY,	/* up, input read: the writer may go on */
	STORE_CONN_LOST,	/* they were up and are dropped: the writer
				 * must take its batches back */
};
/* conninfo is copied; makes the epoll set. ENOMEM or an errno. */
int store_conn_init(struct store *s, const char *conninfo);
void store_conn_start(struct store *s);
enum store_conn_ev store_conn_process(struct store *s);
/* ms until store_conn_process() must run (connect timeout, retry); -1 */
int store_conn_timeout_ms(const struct store *s);
/* Drops every connection and schedules a retry (the caller has taken
 * back what was in flight). */
void store_conn_fail(struct store *s);
void store_conn_close(struct store *s);

/* Queue the records built at s->queue's offset start and after it
 * (called by the store_*_add functions). */
int store_writer_enqueued(struct store *s, size_t start, size_t rows);
/* The number of the oldest row added and not yet committed (nor given
 * up: rejected, dropped, or moved to the journal, which readers check
 * apart); rows_added + 1 when every row is. */
uint64_t store_writer_unsettled(const struct store *s);

/* read.c, driven by store.c */
void store_read_process(struct store *s);
int store_read_timeout_ms(const struct store *s);
void store_read_free(struct store *s);	/* no handler is called */

/* control.c, driven by store.c (and store_want in conn.c) */
void store_control_process(struct store *s);
int store_control_timeout_ms(const struct store *s);
/* Keeps the control socket's epoll registration current; true when it
 * waits for something. */
bool store_control_want(const struct store *s);
void store_control_free(struct store *s);	/* no handler is called */

/* query.c: the SQL of the reads and the parsing of their results (no
 * I/O), shared by read.c and trace.c. A query is its text and its
 * parameters (text format; NULL: SQL NULL), all owned. */
#define QUERY_MAX_PARAMS 20
struct query {
	char *sql;
	int nparams;
	char *params[QUERY_MAX_PARAMS];
	/* a fetch by SID or a list's first page looks in recent days
	 * first: params[window] and [window + 1] bound created_at; fewer
	 * than window_rows rows: read.c sends it again with them at
	 * -infinity and infinity (window 0: none) */
	int window;
	int window_rows;
};
void store_query_clear(struct query *q);
/* EINVAL (a bad filter) or ENOMEM */
int store_query_calls(struct query *q, const struct store_calls_filter *f);
int store_query_hide(struct query *q, const char *account_sid, const char *sid);
/* account_sid NULL: any account (dialerd trace) */
int store_query_sip(struct query *q, const char *account_sid, const char *sid,
		    bool bodies);

/* Results, from a PGresult (void *: libpq stays out of this header). */
struct calls_rows {
	struct store_call *rows;
	size_t n;
};
int store_calls_rows_parse(struct calls_rows *cr, const void *res);
void store_calls_rows_free(struct calls_rows *cr);
/* 0, ENOENT (no such call: no leg at all), EBUSY (not finished: hide) */
int store_hide_result(const void *res);
struct sip_rows {
	struct store_sip_row *rows;
	size_t n;
	struct store_header *hdrs;
	unsigned char *blocks;	/* the header blocks, decoded */
};
/* ENOENT: the call is unknown (of that account) */
int store_sip_rows_parse(struct sip_rows *sr, const void *res);
void store_sip_rows_free(struct sip_rows *sr);

/* "2026-12-04 22:00:00.123456+00" (PostgreSQL timestamptz input); EINVAL
 * for a time gmtime cannot represent */
int store_time_text(char *buf, size_t size, int64_t us);

/* migrations_embedded.c (generated) */
struct store_migration {
	unsigned version;
	const char *name;
	const char *sha256;	/* hex */
	const char *sql;
	size_t len;
};
extern const struct store_migration store_migrations[];

#endif
