/* webhook_outbox.c: status callbacks as deliveries: on disk before the
 * first attempt, in SequenceNumber order per call, retried with backoff
 *
 * A call's callbacks form a queue: only its head is in flight or waiting
 * for a retry, so a later event never overtakes an earlier one that is
 * still retrying, while the calls do not wait for each other. Every
 * attempt is preceded by a record on disk (the ADD for the first, an
 * ATTEMPT for each retry), so that a crash at any point leads to at least
 * one delivery and never to more attempts than WEBHOOK_MAX_ATTEMPTS.
 *
 * At most half of the client's connection pool carries callbacks at once;
 * heads past that wait here, oldest first. A backlog (the disk took no
 * appends for a while, the application was down) thus drains at the pace
 * of its answers instead of being handed to libcurl at once, where the
 * voice and action fetches that calls wait on would queue behind every
 * callback of the backlog and time out there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/smap.h"
#include "daemon/webhook.h"
#include "store/store.h"

#define COMMIT_RETRY_S 1

enum dstate {
	D_QUEUED,	/* behind an earlier callback of its call */
	D_WAIT_DISK,	/* its record is not yet on disk */
	D_READY,	/* on disk, waiting for a connection of its share */
	D_SENDING,
	D_BACKOFF,
};

struct callq;

struct delivery {
	struct webhook_outbox *ob;
	struct callq *q;
	struct delivery *next;		/* in the call's queue */
	struct delivery *wnext;		/* in the waiting-for-disk list, or
					 * the ready queue */
	uint64_t id, ticket;
	uint32_t attempts;		/* possibly started, as on disk */
	bool resumed;			/* found in the outbox at start-up */
	int64_t created_at;		/* microseconds since the epoch */
	enum dstate state;
	struct webhook_req req;
	struct webhook_param *params;
	struct event *retry;
	struct webhook_fetch *fetch;
};

struct callq {
	struct smap_node node;
	char sid[40];
	struct delivery *head, *tail;
};

struct webhook_outbox {
	struct webhook *wh;
	struct event_base *base;
	struct store_outbox *box;
	struct event *io;		/* a sync finished */
	struct event *commit;		/* write what this loop pass added */
	struct event *commit_retry;	/* after the disk refused a write */
	uint64_t durable;
	struct smap calls;
	struct delivery *waiting;
	struct delivery *ready, *ready_tail;	/* D_READY, oldest first */
	size_t max_sending;
	webhook_outbox_behind_h *behind;
	void *behind_arg;
	struct webhook_outbox_stats st;
};

static void head_ready(struct delivery *d);

static int64_t wall_us(void)	/* CLOCK_REALTIME */
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One write for everything this loop pass added (activating an active
 * event again is a no-op); none while the disk is refusing writes. */
static void schedule_commit(struct webhook_outbox *ob)
{
	if (!event_pending(ob->commit_retry, EV_TIMEOUT, NULL))
		event_active(ob->commit, EV_TIMEOUT, 0);
}

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_outbox *ob = arg;
	struct timeval tv = {COMMIT_RETRY_S, 0};

	(void)fd;
	(void)what;
	ob->st.write_failing = store_outbox_commit(ob->box) != 0;
	/* the store logged it once; try again later, never in a loop */
	if (ob->st.write_failing)
		evtimer_add(ob->commit_retry, &tv);
}

static void delivery_free(struct delivery *d)
{
	if (d->fetch)
		webhook_fetch_cancel(d->fetch);
	if (d->retry)
		event_free(d->retry);
	free(d->params);	/* the strings too (webhook_params_copy) */
	free((char *)d->req.call_sid);
	free((char *)d->req.root_sid);
	free((char *)d->req.kind);
	free((char *)d->req.url);
	free((char *)d->req.token);
	free(d);
}

/* The head is delivered or given up: the call's next callback goes. */
static void finish(struct delivery *d)
{
	struct webhook_outbox *ob = d->ob;
	struct callq *q = d->q;

	if (store_outbox_done(ob->box, d->id) == 0)
		schedule_commit(ob);
	q->head = d->next;
	if (!q->head) {
		q->tail = NULL;
		smap_remove(&ob->calls, &q->node);
		free(q);
		q = NULL;
	}
	delivery_free(d);
	ob->st.depth--;
	if (q)
		head_ready(q->head);
}

static void on_retry(evutil_socket_t fd, short what, void *arg);

/* What follows an attempt's result (or a retry that could not be
 * recorded): done, given up, or a retry timer. */
static void outcome(struct delivery *d, const struct webhook_result *r)
{
	struct webhook_outbox *ob = d->ob;
	struct timeval tv = {0, 0};

	if (r->code == WEBHOOK_OK) {
		ob->st.delivered++;
		finish(d);
		return;
	}
	if (d->attempts >= WEBHOOK_MAX_ATTEMPTS) {
		ob->st.given_up++;
		log_write(LOG_WARNING, "webhook", d->req.call_sid,
			  "status callback %u given up after %u attempts: %s",
			  d->req.sequence_number, d->attempts, r->error);
		finish(d);
		return;
	}
	/* 1, 2, 4, 8, 16 s after the 1st .. 5th attempt */
	tv.tv_sec = 1L << (d->attempts - 1);
	if (!d->retry)
		d->retry = evtimer_new(ob->base, on_retry, d);
	if (!d->retry || evtimer_add(d->retry, &tv)) {
		log_write(LOG_ERR, "webhook", d->req.call_sid,
			  "cannot schedule a callback retry");
		return;
	}
	d->state = D_BACKOFF;
}

static void on_done(const struct webhook_result *r, void *arg);

static void start_fetch(struct delivery *d)
{
	struct webhook_outbox *ob = d->ob;
	struct webhook_attempt at = {d->attempts, true};
	int err;

	d->state = D_SENDING;
	ob->st.attempts++;
	err = webhook_fetch(ob->wh, &d->req, &at, on_done, d, &d->fetch);
	if (err) {
		/* a URL that cannot be requested never will be */
		log_write(LOG_ERR, "webhook", d->req.call_sid,
			  "status callback %u cannot be sent (%s): dropped",
			  d->req.sequence_number, strerror(err));
		ob->st.given_up++;
		finish(d);
		return;
	}
	if (++ob->st.sending > ob->st.sending_peak)
		ob->st.sending_peak = ob->st.sending;
}

/* How many callbacks may be in flight now: the share of the pool, or a
 * few while the loop is behind. */
static size_t sending_cap(const struct webhook_outbox *ob)
{
	if (ob->behind && ob->behind(ob->behind_arg) &&
	    ob->max_sending > WEBHOOK_OUTBOX_BEHIND_SENDING)
		return WEBHOOK_OUTBOX_BEHIND_SENDING;
	return ob->max_sending;
}

/* The attempt goes now if the share has room, else after the ready ones
 * queued before it. */
static void send_attempt(struct delivery *d)
{
	struct webhook_outbox *ob = d->ob;

	if (!ob->ready && ob->st.sending < sending_cap(ob)) {
		start_fetch(d);
		return;
	}
	d->state = D_READY;
	d->wnext = NULL;
	if (ob->ready_tail)
		ob->ready_tail->wnext = d;
	else
		ob->ready = d;
	ob->ready_tail = d;
	ob->st.ready++;
}

/* Ready deliveries take the connections their share has free. */
static void pump(struct webhook_outbox *ob)
{
	size_t cap = ob->ready ? sending_cap(ob) : 0;

	while (ob->ready && ob->st.sending < cap) {
		struct delivery *d = ob->ready;

		ob->ready = d->wnext;
		if (!ob->ready)
			ob->ready_tail = NULL;
		d->wnext = NULL;
		ob->st.ready--;
		start_fetch(d);
	}
}

static void on_done(const struct webhook_result *r, void *arg)
{
	struct delivery *d = arg;
	struct webhook_outbox *ob = d->ob;

	d->fetch = NULL;
	ob->st.sending--;
	outcome(d, r);
	pump(ob);
}

/* Records the next attempt on disk; it starts once that is durable. */
static void next_attempt(struct delivery *d)
{
	struct webhook_outbox *ob = d->ob;

	if (d->attempts >= WEBHOOK_MAX_ATTEMPTS) {
		ob->st.given_up++;
		log_write(LOG_WARNING, "webhook", d->req.call_sid,
			  "status callback %u: its %u attempts were used before "
			  "a restart; given up", d->req.sequence_number,
			  d->attempts);
		finish(d);
		return;
	}
	d->attempts++;
	if (store_outbox_attempt(ob->box, d->id, d->attempts, &d->ticket)) {
		log_write(LOG_ERR, "webhook", d->req.call_sid,
			  "cannot record a callback attempt; retrying later");
		d->attempts--;
		outcome(d, &(struct webhook_result){.code = WEBHOOK_CALLBACK,
						    .error = "outbox full"});
		return;
	}
	schedule_commit(ob);
	head_ready(d);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	next_attempt(arg);
}

static void head_ready(struct delivery *d)
{
	struct webhook_outbox *ob = d->ob;

	if (d->resumed) {
		d->resumed = false;
		next_attempt(d);
		return;
	}
	if (d->ticket <= ob->durable) {
		send_attempt(d);
		return;
	}
	d->state = D_WAIT_DISK;
	d->wnext = ob->waiting;
	ob->waiting = d;
}

static void on_synced(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_outbox *ob = arg;
	struct delivery **p, *ready = NULL;

	(void)fd;
	(void)what;
	store_outbox_process(ob->box, &ob->durable);
	for (p = &ob->waiting; *p;) {
		struct delivery *d = *p;

		if (d->ticket <= ob->durable) {
			*p = d->wnext;
			d->wnext = ready;
			ready = d;
		} else {
			p = &d->wnext;
		}
	}
	while (ready) {
		struct delivery *d = ready;

		ready = d->wnext;
		d->wnext = NULL;
		send_attempt(d);
	}
}

/* ---- building deliveries ---- */

static struct delivery *delivery_new(struct webhook_outbox *ob,
				     const struct store_outbox_entry *e)
{
	struct delivery *d = calloc(1, sizeof(*d));
	struct webhook_param *view;
	bool ok;

	if (!d)
		return NULL;
	d->ob = ob;
	d->id = e->id;
	d->attempts = e->attempts;
	d->created_at = e->created_at;
	d->req.sequence_number = e->sequence_number;
	d->req.method = e->method && strcmp(e->method, "GET") == 0 ?
			WEBHOOK_GET : WEBHOOK_POST;
	d->req.call_sid = strdup(e->call_sid);
	d->req.kind = strdup(e->kind ? e->kind : "status-callback");
	d->req.url = strdup(e->url);
	d->req.token = e->token ? strdup(e->token) : NULL;
	/* the entry's pairs seen as webhook parameters, copied in one block */
	view = malloc((e->nparams ? e->nparams : 1) * sizeof(*view));
	for (size_t i = 0; view && i < e->nparams; i++)
		view[i] = (struct webhook_param){e->params[i].name, e->params[i].value};
	d->params = view ? webhook_params_copy(view, e->nparams) : NULL;
	free(view);
	ok = d->req.call_sid && d->req.kind && d->req.url && d->params &&
	     (!e->token || d->req.token);
	if (d->params)
		d->req.nparams = e->nparams;
	d->req.params = d->params;
	if (!ok) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

/* Appends d to its call's queue; it goes at once if it is the head. */
static int enqueue(struct webhook_outbox *ob, struct delivery *d, bool start)
{
	struct callq *q = (struct callq *)smap_find(&ob->calls, d->req.call_sid);

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return ENOMEM;
		snprintf(q->sid, sizeof(q->sid), "%s", d->req.call_sid);
		q->node.key = q->sid;
		if (smap_insert(&ob->calls, &q->node)) {
			free(q);
			return ENOMEM;
		}
	}
	d->q = q;
	ob->st.depth++;
	if (q->tail) {
		q->tail->next = d;
		q->tail = d;
		return 0;
	}
	q->head = q->tail = d;
	if (start)
		head_ready(d);
	return 0;
}

static void on_resumed(const struct store_outbox_entry *e, void *arg)
{
	struct webhook_outbox *ob = arg;
	struct delivery *d = delivery_new(ob, e);

	if (!d || enqueue(ob, d, false)) {
		log_write(LOG_ERR, "webhook", e->call_sid,
			  "out of memory resuming a status callback");
		if (d)
			delivery_free(d);
		return;
	}
	d->resumed = true;
}

int webhook_outbox_add(struct webhook_outbox *ob, const struct webhook_req *req)
{
	struct store_param *sp = NULL;
	struct store_outbox_entry e;
	struct delivery *d = NULL;
	char tok[WEBHOOK_TOKEN_SIZE];
	uint64_t ticket;
	int err;

	if (!ob || !req || !webhook_req_ok(req) ||
	    strlen(req->call_sid) >= sizeof(((struct callq *)0)->sid))
		return EINVAL;
	if (!req->token)
		webhook_token_new(tok);
	sp = malloc((req->nparams ? req->nparams : 1) * sizeof(*sp));
	if (!sp)
		return ENOMEM;
	for (size_t i = 0; i < req->nparams; i++) {
		sp[i].name = req->params[i].name;
		sp[i].value = req->params[i].value;
	}
	memset(&e, 0, sizeof(e));
	e.call_sid = req->call_sid;
	e.kind = req->kind ? req->kind : "status-callback";
	e.method = req->method == WEBHOOK_GET ? "GET" : "POST";
	e.url = req->url;
	e.token = req->token ? req->token : tok;
	e.sequence_number = req->sequence_number;
	e.attempts = 1;		/* the first may start once this is on disk */
	e.created_at = wall_us();
	e.params = sp;
	e.nparams = req->nparams;
	err = store_outbox_add(ob->box, &e, &ticket);
	if (!err) {
		d = delivery_new(ob, &e);
		err = d ? 0 : ENOMEM;
	}
	if (!err) {
		d->ticket = ticket;
		/* not in the outbox file: a delivery resumed after a restart
		 * has none, and the store looks it up */
		d->req.root_sid = req->root_sid ? strdup(req->root_sid) : NULL;
		err = enqueue(ob, d, true);
	}
	if (err) {
		/* added to the log but not queued: it is delivered after a
		 * restart; say so rather than lose it silently */
		if (d)
			delivery_free(d);
		log_write(LOG_ERR, "webhook", req->call_sid,
			  "status callback %u not queued: %s",
			  req->sequence_number, strerror(err));
	} else {
		ob->st.added++;
		schedule_commit(ob);
	}
	free(sp);
	return err;
}

static void collect(void *arg)
{
	struct webhook_outbox_stats st;

	webhook_outbox_stats(arg, &st);
	metrics_set("dialerd_webhook_outbox_depth", NULL, (double)st.depth);
	metrics_set("dialerd_webhook_outbox_oldest_seconds", NULL, st.oldest_s);
	metrics_set("dialerd_webhook_outbox_sending", NULL, (double)st.sending);
	metrics_set("dialerd_webhook_outbox_ready", NULL, (double)st.ready);
	metrics_set("dialerd_webhook_callbacks_total", "outcome=\"delivered\"",
		    (double)st.delivered);
	metrics_set("dialerd_webhook_callbacks_total", "outcome=\"given_up\"",
		    (double)st.given_up);
}

int webhook_outbox_alloc(struct webhook_outbox **op, struct webhook *wh,
			 struct event_base *base, const char *data_dir)
{
	struct webhook_outbox *ob;
	int err;

	if (!op || !wh || !base || !data_dir)
		return EINVAL;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return ENOMEM;
	ob->wh = wh;
	ob->base = base;
	ob->max_sending = webhook_max_connections(wh) / 2;
	if (!ob->max_sending)
		ob->max_sending = 1;
	smap_init(&ob->calls);
	ob->commit = event_new(base, -1, 0, on_commit, ob);
	ob->commit_retry = evtimer_new(base, on_commit, ob);
	if (!ob->commit || !ob->commit_retry) {
		err = ENOMEM;
		goto out;
	}
	err = store_outbox_open(&ob->box, data_dir, on_resumed, ob);
	if (err)
		goto out;
	ob->durable = store_outbox_needed(ob->box);
	ob->io = event_new(base, store_outbox_fd(ob->box), EV_READ | EV_PERSIST,
			   on_synced, ob);
	if (!ob->io || event_add(ob->io, NULL)) {
		err = ENOMEM;
		goto out;
	}
	metrics_family("dialerd_webhook_outbox_depth", METRICS_GAUGE,
		       "Status callbacks accepted and not yet delivered or given up");
	metrics_family("dialerd_webhook_outbox_oldest_seconds", METRICS_GAUGE,
		       "Age of the oldest status callback in the outbox");
	metrics_family("dialerd_webhook_outbox_sending", METRICS_GAUGE,
		       "Status callback attempts in flight (at most half the connection pool)");
	metrics_family("dialerd_webhook_outbox_ready", METRICS_GAUGE,
		       "Status callbacks on disk, waiting for their share of the connection pool");
	metrics_family("dialerd_webhook_callbacks_total", METRICS_COUNTER,
		       "Status callbacks delivered or given up");
	metrics_collector_add(collect, ob);
	/* what the last run left: each call's head goes now (a head whose
	 * attempts are used up ends, and frees its queue if it was alone) */
	for (size_t i = 0; i < ob->calls.nb; i++) {
		struct smap_node *n = ob->calls.b[i], *next;

		for (; n; n = next) {
			next = n->next;
			head_ready(((struct callq *)n)->head);
		}
	}
 out:
	if (err)
		ob = webhook_outbox_free(ob);
	*op = ob;
	return err;
}

struct webhook_outbox *webhook_outbox_free(struct webhook_outbox *ob)
{
	if (!ob)
		return NULL;
	metrics_collector_remove(collect, ob);
	for (size_t i = 0; i < ob->calls.nb; i++) {
		struct smap_node *n = ob->calls.b[i], *next;

		for (; n; n = next) {
			struct callq *q = (struct callq *)n;

			next = n->next;
			while (q->head) {
				struct delivery *d = q->head;

				q->head = d->next;
				delivery_free(d);
			}
			free(q);
		}
	}
	smap_fini(&ob->calls);
	if (ob->io)
		event_free(ob->io);
	if (ob->commit)
		event_free(ob->commit);
	if (ob->commit_retry)
		event_free(ob->commit_retry);
	ob->box = store_outbox_close(ob->box);
	free(ob);
	return NULL;
}

bool webhook_outbox_durable(const struct webhook_outbox *ob)
{
	return ob->durable >= store_outbox_needed(ob->box);
}

void webhook_outbox_behind_set(struct webhook_outbox *ob,
			       webhook_outbox_behind_h *h, void *arg)
{
	ob->behind = h;
	ob->behind_arg = arg;
}

bool webhook_outbox_busy(void *arg)
{
	const struct webhook_outbox *ob = arg;

	return ob && ob->st.depth > 0;
}

void webhook_outbox_stats(const struct webhook_outbox *ob,
			  struct webhook_outbox_stats *st)
{
	int64_t oldest = 0;

	*st = ob->st;
	for (size_t i = 0; i < ob->calls.nb; i++)
		for (struct smap_node *n = ob->calls.b[i]; n; n = n->next) {
			const struct callq *q = (const struct callq *)n;

			if (!oldest || q->head->created_at < oldest)
				oldest = q->head->created_at;
		}
	st->oldest_s = oldest ? (double)(wall_us() - oldest) / 1e6 : 0;
}

/* a final CallStatus carried by d (lent), or NULL */
static const char *final_status(const struct delivery *d)
{
	static const char *const fin[] = {
		"completed", "busy", "failed", "no-answer", "canceled",
	};

	for (size_t i = 0; i < d->req.nparams; i++) {
		if (strcmp(d->params[i].name, "CallStatus") != 0)
			continue;
		for (size_t k = 0; k < sizeof(fin) / sizeof(fin[0]); k++)
			if (strcmp(d->params[i].value, fin[k]) == 0)
				return fin[k];
	}
	return NULL;
}

bool webhook_outbox_call(const struct webhook_outbox *ob, const char *sid,
			 int64_t *last_seq, const char **final)
{
	const struct callq *q = ob ?
		(const struct callq *)smap_find(&ob->calls, sid) : NULL;

	*last_seq = -1;
	*final = NULL;
	if (!q)
		return false;
	for (const struct delivery *d = q->head; d; d = d->next) {
		if ((int64_t)d->req.sequence_number > *last_seq)
			*last_seq = d->req.sequence_number;
		if (!*final)
			*final = final_status(d);
	}
	return true;
}
