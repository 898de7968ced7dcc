/* outbox.c: status callbacks kept on local disk until they are delivered
 *
 * A callback must survive a crash of the daemon from the moment it was
 * accepted, and the database may be away exactly then, so the outbox is a
 * file in data_dir with the journal's framing (CRC per record, torn tail
 * cut at open). It is a log of three kinds of records: ADD (the whole
 * request), ATTEMPT (attempts possibly started, written before each retry
 * so that a crash never grants more than the allowed attempts) and DONE.
 * Opening it replays the log; what was added and not done is pending.
 *
 * fdatasync is the expensive part: appends are buffered and written by
 * store_outbox_commit(), and one thread of the outbox syncs everything
 * written so far while the main thread goes on, so many callbacks share
 * one sync and the event loop never waits for the disk. A logical byte
 * count ("ticket") says how far the log is durable. Only ADD and ATTEMPT
 * take a ticket and ask for a sync: a DONE rides on the next one (lost in
 * a crash, it costs one redelivery, which the idempotency token allows),
 * and syncs start at most every SYNC_GAP_US, so that a steady stream of
 * callbacks pays one fdatasync per gap, not one per loop pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "store/internal.h"
#include "util/memdupz.h"

#define OUTBOX_NAME "webhook.outbox"
#define OUTBOX_TMP "webhook.outbox.new"
/* rewrite the file when it is this big and mostly dead records */
#define COMPACT_MIN_BYTES (16u << 20)
#define READ_CHUNK (1u << 20)
#define MAX_STR (1u << 20)
#define MAX_PARAMS 4096u
/* 10 ms: at most 100 syncs a second (each is a disk flush of the VM, about
 * a fifth of a millisecond of CPU here), and a callback waits at most that
 * much longer for its first attempt */
#define SYNC_GAP_US 10000

enum { R_ADD = 'A', R_ATTEMPT = 'T', R_DONE = 'D' };

struct slot {
	uint64_t id;
	uint64_t off;		/* of its ADD frame in the file; UINT64_MAX: buffered */
	uint32_t len;		/* of the ADD frame */
	uint32_t attempts;
	bool live;
};

struct store_outbox {
	struct journal j;
	char *dir;
	struct sbuf buf;		/* records not yet written */
	uint64_t next_id;
	struct slot *slots;		/* by id, ascending */
	size_t nslots, cap, nlive, ndead;
	uint64_t live_bytes;
	uint64_t logical;		/* bytes ever buffered: the tickets */
	uint64_t written;		/* ... of which written to the file */
	uint64_t needed;		/* the last ticket: what must be synced */
	/* the sync thread */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	uint64_t sync_target;		/* written bytes to make durable */
	uint64_t durable;
	struct timespec last_sync;	/* when the last sync started */
	unsigned long long syncs;	/* fdatasyncs done */
	int sync_err;
	bool syncing, stop;
};

/* ---- record encoding ---- */

static int put_u32(struct sbuf *b, uint32_t v)
{
	unsigned char p[4] = {v, v >> 8, v >> 16, v >> 24};

	return sbuf_put(b, p, 4);
}

static int put_u64(struct sbuf *b, uint64_t v)
{
	int err = put_u32(b, (uint32_t)v);

	return err ? err : put_u32(b, (uint32_t)(v >> 32));
}

static int put_str(struct sbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int err;

	if (n > MAX_STR)
		return EINVAL;
	err = put_u32(b, s ? (uint32_t)n : UINT32_MAX);
	return err ? err : sbuf_put(b, s, n);
}

/* Fills in the header reserved at start once the payload is complete. */
static void frame_close(struct sbuf *b, size_t start)
{
	uint32_t plen = (uint32_t)(b->len - start - REC_HDR);
	uint32_t crc = store_crc32(b->p + start + REC_HDR, plen);
	unsigned char *h = b->p + start;

	for (int i = 0; i < 4; i++) {
		h[i] = (unsigned char)(plen >> (8 * i));
		h[4 + i] = (unsigned char)(crc >> (8 * i));
	}
}

struct cur {
	const unsigned char *p;
	size_t n, off;
	bool bad;
};

static uint64_t get_n(struct cur *c, unsigned bytes)
{
	uint64_t v = 0;

	if (c->bad || c->n - c->off < bytes) {
		c->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)c->p[c->off + i] << (8 * i);
	c->off += bytes;
	return v;
}

/* A string of the record as a malloc'd copy (NULL stays NULL). */
static char *get_str(struct cur *c)
{
	uint32_t n = (uint32_t)get_n(c, 4);
	char *s;

	if (c->bad || n == UINT32_MAX)
		return NULL;
	if (n > MAX_STR || c->n - c->off < n) {
		c->bad = true;
		return NULL;
	}
	s = util_memdupz(c->p + c->off, n);
	if (!s) {
		c->bad = true;
		return NULL;
	}
	c->off += n;
	return s;
}

static void entry_clear(struct store_outbox_entry *e)
{
	free((char *)e->call_sid);
	free((char *)e->kind);
	free((char *)e->method);
	free((char *)e->url);
	free((char *)e->token);
	/* params is NULL when decoding stopped before them */
	for (size_t i = 0; e->params && i < e->nparams; i++) {
		free((char *)e->params[i].name);
		free((char *)e->params[i].value);
	}
	free((void *)e->params);
	memset(e, 0, sizeof(*e));
}

/* Decodes an ADD payload (after its type byte) into e (owning copies). */
static int entry_decode(struct store_outbox_entry *e, const unsigned char *p,
			size_t n)
{
	struct cur c = {p, n, 0, false};
	struct store_param *params;

	memset(e, 0, sizeof(*e));
	e->id = get_n(&c, 8);
	e->sequence_number = (uint32_t)get_n(&c, 4);
	e->attempts = (uint32_t)get_n(&c, 4);
	e->created_at = (int64_t)get_n(&c, 8);
	e->call_sid = get_str(&c);
	e->kind = get_str(&c);
	e->method = get_str(&c);
	e->url = get_str(&c);
	e->token = get_str(&c);
	e->nparams = (size_t)get_n(&c, 2);
	if (c.bad || e->nparams > MAX_PARAMS || !e->call_sid || !e->url)
		goto bad;
	params = calloc(e->nparams ? e->nparams : 1, sizeof(*params));
	if (!params)
		goto bad;
	e->params = params;
	for (size_t i = 0; i < e->nparams && !c.bad; i++) {
		params[i].name = get_str(&c);
		params[i].value = get_str(&c);
		if (!params[i].name)
			c.bad = true;
	}
	if (!c.bad)
		return 0;
 bad:
	entry_clear(e);
	return EBADMSG;
}

/* ---- the index of entries ---- */

static struct slot *slot_find(struct store_outbox *o, uint64_t id)
{
	size_t lo = 0, hi = o->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->slots[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < o->nslots && o->slots[lo].id == id ? &o->slots[lo] : NULL;
}

static int slot_add(struct store_outbox *o, uint64_t id, uint64_t off,
		    uint32_t len, uint32_t attempts)
{
	struct slot *s;

	if (o->nslots && id <= o->slots[o->nslots - 1].id)
		return EBADMSG;	/* ids only grow */
	if (o->nslots == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;

		s = realloc(o->slots, cap * sizeof(*s));
		if (!s)
			return ENOMEM;
		o->slots = s;
		o->cap = cap;
	}
	s = &o->slots[o->nslots++];
	*s = (struct slot){id, off, len, attempts, true};
	o->nlive++;
	o->live_bytes += len;
	if (id >= o->next_id)
		o->next_id = id + 1;
	return 0;
}

static void slot_kill(struct store_outbox *o, struct slot *s)
{
	if (!s->live)
		return;
	s->live = false;
	o->nlive--;
	o->ndead++;
	o->live_bytes -= s->len;
}

/* Drops dead slots from the index once they are the majority. */
static void slots_pack(struct store_outbox *o)
{
	size_t k = 0;

	if (o->ndead < 64 || o->ndead < o->nslots / 2)
		return;
	for (size_t i = 0; i < o->nslots; i++)
		if (o->slots[i].live)
			o->slots[k++] = o->slots[i];
	o->nslots = k;
	o->ndead = 0;
}

/* ---- opening: replay the log ---- */

static int replay_frame(struct store_outbox *o, const unsigned char *f,
			uint64_t off, uint32_t flen)
{
	const unsigned char *p = f + REC_HDR;
	struct cur c = {p, flen - REC_HDR, 1, false};
	uint64_t id = get_n(&c, 8);
	struct slot *s;

	if (c.bad)
		return EBADMSG;
	switch (p[0]) {
	case R_ADD:
		(void)get_n(&c, 4);	/* sequence number (not past the frame) */
		return slot_add(o, id, off, flen, (uint32_t)get_n(&c, 4));
	case R_ATTEMPT:
		s = slot_find(o, id);
		if (s)
			s->attempts = (uint32_t)get_n(&c, 4);
		return 0;
	case R_DONE:
		s = slot_find(o, id);
		if (s)
			slot_kill(o, s);
		return 0;
	}
	return EBADMSG;
}

static int replay(struct store_outbox *o)
{
	struct sbuf b = {0};
	uint64_t off = 0;
	int err = 0;

	o->j.replay_off = 0;
	for (;;) {
		size_t rows = 0, pos = 0;

		sbuf_reset(&b);
		err = store_journal_read(&o->j, &b, SIZE_MAX, READ_CHUNK, &rows);
		if (err || !rows)
			break;
		while (pos < b.len) {
			size_t flen = 0;

			if (store_rec_frame_check(b.p + pos, b.len - pos, &flen))
				break;
			err = replay_frame(o, b.p + pos, off, (uint32_t)flen);
			if (err)
				goto out;
			pos += flen;
			off += flen;
		}
	}
 out:
	sbuf_free(&b);
	return err;
}

static int read_entry(struct store_outbox *o, const struct slot *s,
		      struct store_outbox_entry *e)
{
	unsigned char *f = malloc(s->len);
	int err = 0;

	if (!f)
		return ENOMEM;
	if (pread(o->j.fd, f, s->len, (off_t)s->off) != (ssize_t)s->len)
		err = EIO;
	if (!err)
		err = entry_decode(e, f + REC_HDR + 1, s->len - REC_HDR - 1);
	if (!err)
		e->attempts = s->attempts;
	free(f);
	return err;
}

/* The gap is timed on the monotonic clock (a wall-clock step must not
 * stall the syncs). */
static void cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

/* Waits (unlocking) until SYNC_GAP_US after the last sync started; what
 * the main thread writes meanwhile joins this sync. False: stopping. */
static bool gap_wait(struct store_outbox *o)
{
	struct timespec due = o->last_sync, now;

	due.tv_nsec += SYNC_GAP_US * 1000L;
	if (due.tv_nsec >= 1000000000L) {
		due.tv_sec++;
		due.tv_nsec -= 1000000000L;
	}
	while (!o->stop && pthread_cond_timedwait(&o->cv, &o->mu, &due) != ETIMEDOUT)
		;
	clock_gettime(CLOCK_MONOTONIC, &now);
	o->last_sync = now;
	return !o->stop;
}

static void *sync_main(void *arg)
{
	struct store_outbox *o = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		uint64_t target;
		int fd, err;

		while (!o->stop && !o->syncing)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->stop || !gap_wait(o))
			break;
		target = o->sync_target;
		fd = o->j.fd;
		pthread_mutex_unlock(&o->mu);
		err = fdatasync(fd) ? errno : 0;
		pthread_mutex_lock(&o->mu);
		if (err)
			o->sync_err = err;
		else if (target > o->durable)
			o->durable = target;
		o->syncs++;
		o->syncing = false;
		if (write(o->efd, &one, sizeof(one)) < 0) {
			/* the counter is full: the main thread is behind and
			 * will read the state anyway */
		}
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

int store_outbox_open(struct store_outbox **op, const char *dir,
		      store_outbox_entry_h *h, void *arg)
{
	struct store_outbox *o;
	bool thread = false;
	int err;

	if (!op || !dir)
		return EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	o->j.fd = o->efd = -1;
	o->next_id = 1;
	pthread_mutex_init(&o->mu, NULL);
	cond_init(&o->cv);
	o->dir = strdup(dir);
	err = o->dir ? store_journal_open(&o->j, dir, OUTBOX_NAME) : ENOMEM;
	if (!err)
		err = replay(o);
	if (err) {
		store_log(LOG_ERR, "outbox: cannot read %s/%s: %s", dir,
			  OUTBOX_NAME, strerror(err));
		goto out;
	}
	for (size_t i = 0; h && i < o->nslots && !err; i++) {
		struct store_outbox_entry e;

		if (!o->slots[i].live)
			continue;
		err = read_entry(o, &o->slots[i], &e);
		if (!err) {
			h(&e, arg);
			entry_clear(&e);
		}
	}
	if (!err && !o->nlive && o->j.size)
		err = store_journal_truncate(&o->j);
	o->written = o->logical = o->needed = o->durable = o->j.size;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!err && o->efd < 0)
		err = errno;
	if (!err)
		err = pthread_create(&o->thread, NULL, sync_main, o);
	thread = !err;
	if (!err && o->nlive)
		store_log(LOG_NOTICE, "outbox: %zu callbacks to deliver from %s",
			  o->nlive, o->j.path);
 out:
	if (err) {
		if (!thread)
			o->stop = true;
		*op = NULL;
		store_outbox_close(o);
	} else {
		*op = o;
	}
	return err;
}

int store_outbox_scan(const char *dir, store_outbox_seen_h *h, void *arg)
{
	struct store_outbox *o;
	int err;

	if (!dir || !h)
		return EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	o->j.fd = o->efd = -1;
	o->next_id = 1;
	o->stop = true;		/* no sync thread: closed without one */
	pthread_mutex_init(&o->mu, NULL);
	cond_init(&o->cv);
	err = store_journal_open(&o->j, dir, OUTBOX_NAME);
	if (!err)
		err = replay(o);
	for (size_t i = 0; !err && i < o->nslots; i++) {
		struct store_outbox_entry e;

		err = read_entry(o, &o->slots[i], &e);
		if (!err) {
			h(&e, !o->slots[i].live, arg);
			entry_clear(&e);
		}
	}
	store_outbox_close(o);
	return err;
}

struct store_outbox *store_outbox_close(struct store_outbox *o)
{
	if (!o)
		return NULL;
	if (!o->stop) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_signal(&o->cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	/* what is buffered is written and synced (DONEs and a sync waiting
	 * for its gap included), so a clean stop keeps it */
	if (o->j.fd >= 0 && (o->buf.len ? store_journal_write(&o->j, o->buf.p, o->buf.len, 0) == 0
				      : o->written > o->durable))
		(void)fdatasync(o->j.fd);
	store_journal_close(&o->j);
	if (o->efd >= 0)
		close(o->efd);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	sbuf_free(&o->buf);
	free(o->slots);
	free(o->dir);
	free(o);
	return NULL;
}

/* ---- appending ---- */

static int rec_small(struct store_outbox *o, unsigned char type, uint64_t id,
		     const uint32_t *attempts, uint64_t *ticket)
{
	size_t start = o->buf.len;
	int err = sbuf_reserve(&o->buf, REC_HDR + 13);

	if (err)
		return err;
	o->buf.len += REC_HDR;
	sbuf_putc(&o->buf, type);
	put_u64(&o->buf, id);
	if (attempts)
		put_u32(&o->buf, *attempts);
	frame_close(&o->buf, start);
	o->logical += o->buf.len - start;
	if (ticket)
		*ticket = o->needed = o->logical;
	return 0;
}

int store_outbox_add(struct store_outbox *o, struct store_outbox_entry *e,
		     uint64_t *ticket)
{
	size_t start;
	int err;

	if (!o || !e || !e->call_sid || !e->url || (e->nparams && !e->params) ||
	    e->nparams > MAX_PARAMS)
		return EINVAL;
	start = o->buf.len;
	e->id = o->next_id;
	err = sbuf_reserve(&o->buf, REC_HDR + 1);
	if (err)
		return err;
	o->buf.len += REC_HDR;
	sbuf_putc(&o->buf, R_ADD);
	err = put_u64(&o->buf, e->id);
	if (!err)
		err = put_u32(&o->buf, e->sequence_number);
	if (!err)
		err = put_u32(&o->buf, e->attempts);
	if (!err)
		err = put_u64(&o->buf, (uint64_t)e->created_at);
	if (!err)
		err = put_str(&o->buf, e->call_sid);
	if (!err)
		err = put_str(&o->buf, e->kind);
	if (!err)
		err = put_str(&o->buf, e->method);
	if (!err)
		err = put_str(&o->buf, e->url);
	if (!err)
		err = put_str(&o->buf, e->token);
	if (!err) {
		unsigned char n[2] = {(unsigned char)e->nparams,
				      (unsigned char)(e->nparams >> 8)};

		err = sbuf_put(&o->buf, n, 2);
	}
	for (size_t i = 0; i < e->nparams && !err; i++) {
		err = e->params[i].name ? put_str(&o->buf, e->params[i].name) : EINVAL;
		if (!err)
			err = put_str(&o->buf, e->params[i].value);
	}
	if (!err && o->buf.len - start - REC_HDR > REC_MAX_PAYLOAD)
		err = EINVAL;
	if (!err)
		err = slot_add(o, e->id, UINT64_MAX,
			       (uint32_t)(o->buf.len - start), e->attempts);
	if (err) {
		o->buf.len = start;
		return err;
	}
	frame_close(&o->buf, start);
	o->logical += o->buf.len - start;
	*ticket = o->needed = o->logical;
	return 0;
}

int store_outbox_attempt(struct store_outbox *o, uint64_t id,
			 uint32_t attempts, uint64_t *ticket)
{
	struct slot *s = o ? slot_find(o, id) : NULL;

	if (!s || !s->live)
		return ENOENT;
	s->attempts = attempts;
	return rec_small(o, R_ATTEMPT, id, &attempts, ticket);
}

int store_outbox_done(struct store_outbox *o, uint64_t id)
{
	struct slot *s = o ? slot_find(o, id) : NULL;
	int err;

	if (!s || !s->live)
		return ENOENT;
	err = rec_small(o, R_DONE, id, NULL, NULL);
	if (err)
		return err;
	slot_kill(o, s);
	slots_pack(o);
	return 0;
}

/* Records the file offsets of ADD frames that were only buffered. */
static void slots_written(struct store_outbox *o, uint64_t file_start)
{
	size_t pos = 0;

	/* walk the written frames: ADD frames take their offsets */
	while (pos + REC_HDR < o->buf.len) {
		uint32_t flen = REC_HDR + ((uint32_t)o->buf.p[pos] |
					   (uint32_t)o->buf.p[pos + 1] << 8 |
					   (uint32_t)o->buf.p[pos + 2] << 16 |
					   (uint32_t)o->buf.p[pos + 3] << 24);

		if (o->buf.p[pos + REC_HDR] == R_ADD) {
			struct cur c = {o->buf.p + pos + REC_HDR,
					flen - REC_HDR, 1, false};
			struct slot *s = slot_find(o, get_n(&c, 8));

			if (s)
				s->off = file_start + pos;
		}
		pos += flen;
	}
}

static bool compact_due(const struct store_outbox *o)
{
	if (!o->nlive)	/* everything delivered: just empty it */
		return o->j.size >= (1u << 20);
	return o->j.size >= COMPACT_MIN_BYTES && o->live_bytes * 4 <= o->j.size;
}

/* Writes what is buffered (no sync) and notes where its ADD frames went.
 * A failed write keeps the buffer for the next try; the journal logs the
 * episode once. */
static int flush_buffer(struct store_outbox *o)
{
	uint64_t file_start = o->j.size;
	int err;

	if (!o->buf.len)
		return 0;
	err = store_journal_write(&o->j, o->buf.p, o->buf.len, 0);
	if (err)
		return err;
	slots_written(o, file_start);
	o->written += o->buf.len;
	sbuf_reset(&o->buf);
	return 0;
}

/* The live entries into nj: each ADD frame as it is, then an ATTEMPT
 * frame with its attempt count. */
static int write_live(struct store_outbox *o, struct journal *nj)
{
	struct sbuf b = {0};
	int err = 0;

	for (size_t i = 0; i < o->nslots && !err; i++) {
		struct slot *s = &o->slots[i];
		size_t start;

		if (!s->live)
			continue;
		sbuf_reset(&b);
		err = sbuf_reserve(&b, s->len + REC_HDR + 13);
		if (err)
			break;
		if (pread(o->j.fd, b.p, s->len, (off_t)s->off) != (ssize_t)s->len) {
			err = EIO;
			break;
		}
		b.len = s->len;
		start = b.len;
		b.len += REC_HDR;
		sbuf_putc(&b, R_ATTEMPT);
		put_u64(&b, s->id);
		put_u32(&b, s->attempts);
		frame_close(&b, start);
		s->off = nj->size;
		err = store_journal_write(nj, b.p, b.len, 1);
	}
	sbuf_free(&b);
	return err;
}

/* nj, synced, takes the outbox's name and place (rename, then the
 * directory synced so the rename survives a crash). */
static int swap_in(struct store_outbox *o, struct journal *nj)
{
	size_t plen = strlen(o->dir) + sizeof(OUTBOX_NAME) + 1;
	char *path;
	int dfd;

	if (fdatasync(nj->fd) != 0)
		return errno;
	path = malloc(plen);
	if (!path)
		return ENOMEM;
	snprintf(path, plen, "%s/%s", o->dir, OUTBOX_NAME);
	if (rename(nj->path, path) != 0) {
		int err = errno;

		free(path);
		return err;
	}
	dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	store_journal_close(&o->j);
	free(nj->path);
	nj->path = path;
	o->j = *nj;
	return 0;
}

/* Rewrites the file with only the live entries when it is mostly
 * delivered ones; what is buffered goes along, so everything issued is
 * durable afterwards. Runs in the main thread with no sync in flight and
 * costs one rewrite of the live entries and one fdatasync: under a steady
 * stream, every COMPACT_MIN_BYTES of appends. */
static int compact(struct store_outbox *o)
{
	struct journal nj;
	int err = flush_buffer(o);

	if (err)
		return err;
	if (!o->nlive) {
		err = store_journal_truncate(&o->j);
	} else {
		err = store_journal_open(&nj, o->dir, OUTBOX_TMP);
		if (!err && nj.size)
			err = store_journal_truncate(&nj);
		if (!err)
			err = write_live(o, &nj);
		if (!err)
			err = swap_in(o, &nj);
		if (err && nj.fd >= 0)
			store_journal_close(&nj);
	}
	if (err) {
		store_log(LOG_ERR, "outbox: cannot compact %s: %s", o->j.path,
			  strerror(err));
		return err;
	}
	o->ndead = 0;
	slots_pack(o);
	pthread_mutex_lock(&o->mu);
	o->durable = o->logical;
	pthread_mutex_unlock(&o->mu);
	return 0;
}

int store_outbox_commit(struct store_outbox *o)
{
	int err = flush_buffer(o);

	if (err)
		return err;
	pthread_mutex_lock(&o->mu);
	if (o->durable < o->needed) {
		/* a sync waiting for its gap takes this write too */
		o->sync_target = o->written;
		if (!o->syncing) {
			o->syncing = true;
			pthread_cond_signal(&o->cv);
		}
	}
	pthread_mutex_unlock(&o->mu);
	return 0;
}

int store_outbox_fd(const struct store_outbox *o)
{
	return o->efd;
}

int store_outbox_process(struct store_outbox *o, uint64_t *durable)
{
	uint64_t v;
	bool idle;
	int err;

	while (read(o->efd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&o->mu);
	*durable = o->durable;
	err = o->sync_err;
	o->sync_err = 0;
	idle = !o->syncing;
	pthread_mutex_unlock(&o->mu);
	if (err)
		store_log(LOG_ERR, "outbox: fdatasync of %s failed: %s",
			  o->j.path, strerror(err));
	/* what was added since the last sync started goes now (after a
	 * failure the caller's next commit retries) */
	if (idle && !err && compact_due(o) && compact(o) == 0)
		*durable = o->logical;
	else if (idle && !err && *durable < o->needed)
		store_outbox_commit(o);
	return err;
}

uint64_t store_outbox_needed(const struct store_outbox *o)
{
	return o->needed;
}

void store_outbox_stats(struct store_outbox *o,
			struct store_outbox_stats *st)
{
	st->pending = o->nlive;
	st->file_bytes = o->j.size;
	st->buffered_bytes = o->buf.len;
	pthread_mutex_lock(&o->mu);
	st->syncs = o->syncs;
	pthread_mutex_unlock(&o->mu);
}
