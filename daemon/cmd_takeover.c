/* cmd_takeover.c: dialerd takeover: close the calls of an instance gone for good and deliver its callbacks; the same for the daemon's own folder at a start after a crash
 *
 * Order: lock the folder (instance.id, then the journal and the outbox,
 * the daemon's own locks: a live daemon on it refuses us), claim the
 * instances row (lost, only with a stale heartbeat), replay the journal
 * through a store like the daemon's, append the terminal status callback
 * of every open call of the instance to the folder's outbox (the call's
 * next SequenceNumber), and once that is on disk end the calls through
 * the same store (row and event); deliver the whole outbox with the
 * daemon's delivery code, then retired. Every step is idempotent, so a
 * run cut short is simply run again.
 *
 * takeover_own() runs the same steps when the daemon starts on a folder
 * whose previous process did not stop (kill -9, a crash, the machine
 * lost): without it that process's calls would stay open in the call log
 * and their subscribers would never get a final callback. The folder's
 * lock is the proof that the process is gone, so no heartbeat has to
 * age; the reason is instance-restarted; delivery is left to the
 * daemon's outbox, which resumes once the daemon runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/call.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/restart_adopt.h"
#include "daemon/restart_bye.h"
#include "daemon/sip.h"
#include "daemon/smap.h"
#include "daemon/webhook.h"
#include "store/store.h"

/* a heartbeat older than this: the instance is gone (the registry's
 * split-brain rule uses the same 15 s, three missed 5 s heartbeats) */
#define STALE_S 15
#define TICK_MS 50
/* a start after a crash waits at most this long for the database (then
 * the calls stay open until the next start or `dialerd takeover`) and
 * for the whole run */
#define OWN_CONNECT_S 2
#define OWN_DEADLINE_S 10
/* a takeover of another instance waits this long for the BYEs' answers
 * once the rest is done: UDP retransmits at 0.5, 1.5 and 3.5 s, and a
 * far end that never answers (gone too) would hold it 32 s (timer F) */
#define BYE_WAIT_S 4

enum phase {
	P_REPLAY,	/* the journal goes to the database */
	P_APPENDED,	/* terminal callbacks appended, not yet on disk */
	P_DELIVER,	/* rows flushed and the outbox delivered */
	P_BYE,		/* another instance's dialogs: BYEs answered */
	P_DONE,
};

/* What the dead instance's outbox file says of a call: its callbacks,
 * delivered or not (a delivered one's webhook_requests row and the call's
 * final row may have been lost with the process, still in memory). */
struct seen {
	struct smap_node node;
	char sid[40];
	int64_t last_seq;
	const char *final;	/* a final CallStatus among them (static) */
};

struct takeover {
	struct smap seen;
	struct event_base *base;
	struct db *db;
	struct webhook *wh;
	struct webhook_outbox *ob;
	struct store_takeover *st;
	struct event *tick;
	struct store_lost_instance li;
	const char *dir;
	enum phase phase;
	bool own;		/* the daemon's own folder (takeover_own) */
	bool failed;
	size_t ended, callbacks, skipped;
	const struct store_open_call *calls;	/* lent by st */
	size_t ncalls;
	int64_t now;		/* the run's time (updated_at, the events) */
	struct timespec t0;
	struct restart_byes *byes;	/* the dialogs to end */
	struct restart_adopts *adopts;	/* own: the calls to go on with */
	const struct config *cfg;	/* run()'s, for the SIP engine */
	struct sip_server *sip;		/* not own: ends byes */
	struct timespec bye_t0;		/* when they were sent */
};

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The command reports on stdout (errors on stderr); the daemon's start in
 * its log. */
static void say(const struct takeover *t, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (t->own)
		log_msg(level, "takeover", "%s", line);
	else
		fprintf(level <= LOG_ERR ? stderr : stdout, "%s%s\n",
			level <= LOG_ERR ? "dialerd takeover: " : "", line);
}

static void usage(FILE *f)
{
	fputs("usage: dialerd [-c FILE] takeover --data-dir DIR [--config FILE]"
	      " [--deadline SECONDS]\n"
	      "  closes the calls of the instance that used DIR (gone for good:\n"
	      "  its heartbeat older than 15 s) and delivers its status callbacks;\n"
	      "  exit 0 done (or already retired), 1 refused or not finished,\n"
	      "  2 usage\n", f);
}

static const char *reason(const struct takeover *t)
{
	return t->own ? "instance-restarted" : "instance-lost";
}

static const char *final_status(const struct store_open_call *c)
{
	return c->answered_at ? "completed" : "failed";
}

struct params_ctx {
	struct call_params *p;
};

/* from the call's latest callback: what the calls row does not keep */
static void on_param(const char *name, const char *value, void *arg)
{
	struct params_ctx *x = arg;

	if (name && value && (strncmp(name, "SipHeader_", 10) == 0 ||
			      strcmp(name, "SipSourceIp") == 0))
		call_params_add(x->p, name, value);
}

/* The daemon's terminal callback (call.c callback()), from the row. */
static int callback(struct takeover *t, const struct store_open_call *c,
		    uint32_t seq, int64_t now, long secs)
{
	struct params_ctx x;
	struct call_params p;
	struct webhook_req req;
	char ts[64], e[256];
	int err;

	call_params_init(&p);
	x.p = &p;
	call_params_add(&p, "CallSid", c->sid);
	call_params_add(&p, "AccountSid", c->account_sid ? c->account_sid : "");
	call_params_add(&p, "From", c->from ? c->from : "");
	call_params_add(&p, "To", c->to ? c->to : "");
	call_params_add(&p, "Caller", c->from ? c->from : "");
	call_params_add(&p, "Called", c->to ? c->to : "");
	call_params_add(&p, "CallStatus", final_status(c));
	call_params_add(&p, "ApiVersion", "2010-04-01");
	call_params_add(&p, "Direction", c->direction);
	if (c->parent_call_sid)
		call_params_add(&p, "ParentCallSid", c->parent_call_sid);
	if (c->caller_name && *c->caller_name)
		call_params_add(&p, "CallerName", c->caller_name);
	if (c->forwarded_from && *c->forwarded_from)
		call_params_add(&p, "ForwardedFrom", c->forwarded_from);
	if (c->sip_call_id)
		call_params_add(&p, "SipCallId", c->sip_call_id);
	if (store_takeover_callback_params(t->st, c->sid, on_param, &x, e,
					   sizeof(e)))
		log_write(LOG_WARNING, "takeover", c->sid, "%s", e);
	call_params_add(&p, "CallbackSource", "call-progress-events");
	call_params_addf(&p, "SequenceNumber", "%u", seq);
	call_params_time(now, ts, sizeof(ts));
	call_params_add(&p, "Timestamp", ts);
	call_params_addf(&p, "CallDuration", "%ld", secs);
	call_params_addf(&p, "Duration", "%ld", (secs + 59) / 60);
	memset(&req, 0, sizeof(req));
	req.call_sid = c->sid;
	req.root_sid = c->root_sid;
	req.kind = "status-callback";
	req.sequence_number = seq;
	req.method = c->cb_get ? WEBHOOK_GET : WEBHOOK_POST;
	req.url = c->cb_url;
	req.params = p.v;
	req.nparams = p.n;
	err = webhook_outbox_add(t->ob, &req);
	call_params_free(&p);
	return err;
}

static const char *final_name(const char *st)
{
	static const char *const fin[] = {
		"completed", "busy", "failed", "no-answer", "canceled",
	};

	for (size_t k = 0; st && k < sizeof(fin) / sizeof(fin[0]); k++)
		if (strcmp(st, fin[k]) == 0)
			return fin[k];
	return NULL;
}

static void on_seen(const struct store_outbox_entry *e, bool done, void *arg)
{
	struct takeover *t = arg;
	struct seen *x = (struct seen *)smap_find(&t->seen, e->call_sid);
	const char *fin = NULL;

	(void)done;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x || strlen(e->call_sid) >= sizeof(x->sid)) {
			free(x);
			return;
		}
		snprintf(x->sid, sizeof(x->sid), "%s", e->call_sid);
		x->node.key = x->sid;
		x->last_seq = -1;
		if (smap_insert(&t->seen, &x->node)) {
			free(x);
			return;
		}
	}
	if ((int64_t)e->sequence_number > x->last_seq)
		x->last_seq = e->sequence_number;
	for (size_t i = 0; i < e->nparams; i++)
		if (strcmp(e->params[i].name, "CallStatus") == 0)
			fin = final_name(e->params[i].value);
	if (fin && !x->final)
		x->final = fin;
}

static void seen_free(struct takeover *t)
{
	for (size_t i = 0; i < t->seen.nb; i++) {
		struct smap_node *n = t->seen.b[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	smap_fini(&t->seen);
}

/* The call's highest SequenceNumber and final CallStatus so far, from
 * webhook_requests, the outbox file as the dead instance left it, and
 * the deliveries queued now. */
static void known(struct takeover *t, const struct store_open_call *c,
		  int64_t *last, const char **final)
{
	const struct seen *x = (const struct seen *)smap_find(&t->seen, c->sid);
	const char *qfinal = NULL;
	int64_t queued;

	*last = c->last_callback;
	*final = final_name(c->final_sent);
	if (x) {
		if (x->last_seq > *last)
			*last = x->last_seq;
		if (!*final)
			*final = x->final;
	}
	if (webhook_outbox_call(t->ob, c->sid, &queued, &qfinal)) {
		if (queued > *last)
			*last = queued;
		if (!*final)
			*final = qfinal;
	}
}

/* When the call ended, as well as the log can tell: the process took its
 * calls with it at some moment after its last heartbeat, which is the last
 * time it was known alive (a takeover may run hours later: its own time
 * would bill those hours), and never before what the call's row says
 * happened (answered after the last heartbeat: a duration of 0). */
static int64_t end_us(const struct takeover *t, const struct store_open_call *c)
{
	int64_t e = t->li.last_seen_us > 0 && t->li.last_seen_us < t->now ?
		    t->li.last_seen_us : t->now;

	if (c->created_at > e)
		e = c->created_at;
	if (c->ringing_at > e)
		e = c->ringing_at;
	if (c->answered_at > e)
		e = c->answered_at;
	return e;
}

static long duration_s(const struct store_open_call *c, int64_t end)
{
	return c->answered_at ?
	       (long)((end - c->answered_at + 999999) / 1000000) : 0;
}

/* Step 1: the terminal callback of a call that subscribed to completed,
 * unless a final one is known (known()): then the call had ended and only
 * its final row was lost with the process. Appended before any row is
 * written: a run killed after the rows landed would find no open call and
 * send nothing; killed before, the next run finds the callback in the
 * outbox and adds no second one. */
static int call_callback(struct takeover *t, const struct store_open_call *c)
{
	const char *final;
	int64_t last, end;
	int err;

	known(t, c, &last, &final);
	if (!c->cb_url || !c->cb_completed || final ||
	    restart_adopts_has(t->adopts, c->sid))
		return 0;
	if (strstr(c->cb_url, ":***@")) {
		log_write(LOG_WARNING, "takeover", c->sid, "the status callback "
			  "URL held a password, which the call log does not "
			  "keep: no terminal callback");
		t->skipped++;
		return 0;
	}
	end = end_us(t, c);
	err = callback(t, c, (uint32_t)(last + 1), end, duration_s(c, end));
	if (!err)
		t->callbacks++;
	return err;
}

/* Step 2, once the callbacks are on disk: the call's row and event, as
 * call_status_set() writes them; the status of a final callback already
 * sent or queued wins. */
static int call_row(struct takeover *t, const struct store_open_call *c)
{
	char detail[64];
	const char *final, *st;
	int64_t last, end = end_us(t, c);
	struct store_call r = {
		.sid = c->sid,
		.account_sid = c->account_sid,
		.direction = c->direction,
		.reason_text = reason(t),
		.created_at = c->created_at,
		.ended_at = end,
		.duration = (int)duration_s(c, end),
		/* now, not the end: the newest snapshot wins the upsert */
		.updated_at = t->now,
		.branch = -1,
		.root_sid = c->root_sid,
	};
	struct store_event ev = {
		.call_sid = c->sid,
		.sequence_number = c->next_event,
		.at = t->now,
		.detail_json = detail,
		.root_sid = c->root_sid,
	};
	int err;

	if (restart_adopts_has(t->adopts, c->sid))
		return 0;	/* it goes on */
	snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", reason(t));
	known(t, c, &last, &final);
	st = final ? final : final_status(c);
	r.status = ev.event = st;
	err = store_call_upsert(db_store(t->db), &r);
	if (!err)
		err = store_event_add(db_store(t->db), &ev);
	if (err)
		return err;
	t->ended++;
	log_write(LOG_NOTICE, "takeover", c->sid, "%s (was %s): %s", st,
		  c->status, reason(t));
	return 0;
}

/* A call answered and not known to have ended had its dialogs up when
 * the process died: they are ended with a BYE, by the daemon once its SIP
 * engine runs (own), or by a SIP engine of this command's on an ephemeral
 * port (another instance's folder: the far ends answer to the Via).
 * Best effort: failures are logged. Legs per query (a leg has about 6
 * messages): */
#define DIALOG_BATCH 256

struct batch {
	struct takeover *t;
	const struct store_open_call *v[DIALOG_BATCH];
	const char *sids[DIALOG_BATCH];
	size_t n;
};

static const char *root_of(const struct batch *b, const char *sid)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i]->sid, sid))
			return b->v[i]->root_sid;
	return NULL;
}

/* The rows come by leg: each leg's run of rows is one dialog. */
static void on_sip_rows(int err, const struct store_sip_row *rows, size_t n,
			void *arg)
{
	struct batch *b = arg;
	struct takeover *t = b->t;

	for (size_t i = 0, j; !err && i < n; i = j) {
		int e;

		for (j = i + 1; j < n && !strcmp(rows[j].call_sid,
						 rows[i].call_sid); j++)
			;
		e = restart_byes_add(&t->byes, rows[i].call_sid,
				     root_of(b, rows[i].call_sid), rows + i,
				     j - i);
		if (e && e != EALREADY)
			log_write(LOG_WARNING, "takeover", rows[i].call_sid,
				  "no BYE: %s", e == ENOENT ? "the call log "
				  "has no answered INVITE of it" : strerror(e));
	}
}

/* One query for the batch's legs; the batch is emptied. */
static void batch_flush(struct batch *b)
{
	char e[600];

	if (!b->n)
		return;
	if (store_takeover_sip(b->t->st, b->sids, b->n, on_sip_rows, b, e,
			       sizeof(e)))
		log_msg(LOG_WARNING, "takeover", "no BYE for %zu answered calls:"
			" %s", b->n, e[0] ? e : "cannot read their SIP messages");
	b->n = 0;
}

/* own: the connected <Dial>s, a parent and its answered child, whose
 * messages are read pair by pair (both legs in one query). */
struct adopt_batch {
	struct takeover *t;
	const struct store_open_call *parent[DIALOG_BATCH / 2];
	const struct store_open_call *child[DIALOG_BATCH / 2];
	const char *sids[DIALOG_BATCH];
	size_t n;			/* pairs */
};

static void on_pair_rows(int err, const struct store_sip_row *rows, size_t n,
			 void *arg)
{
	struct adopt_batch *b = arg;
	struct takeover *t = b->t;

	for (size_t i = 0; !err && i < b->n; i++) {
		const struct store_open_call *p = b->parent[i], *c = b->child[i];
		int64_t pcb, ccb;
		const char *final;
		int e;

		known(t, p, &pcb, &final);
		known(t, c, &ccb, &final);
		e = restart_adopts_add(&t->adopts, p, pcb, c, ccb, rows, n,
				       t->cfg->sip_listen.host,
				       t->cfg->sip_listen.port);
		if (e)
			log_write(LOG_WARNING, "takeover", p->sid, "not adopted "
				  "(the call ends): %s", e == ENOENT ? "a dialog or "
				  "an SDP of it is not in the call log" :
				  e == EALREADY ? "it was ending" : e == EINVAL ?
				  "a URL of it held a password, which the call "
				  "log does not keep" : e == EADDRNOTAVAIL ?
				  "its peers send to another SIP address than "
				  "sip_listen" : strerror(e));
	}
}

static void adopt_flush(struct adopt_batch *b)
{
	char e[600];

	if (!b->n)
		return;
	if (store_takeover_sip(b->t->st, b->sids, b->n * 2, on_pair_rows, b,
			       e, sizeof(e)))
		log_msg(LOG_WARNING, "takeover", "%zu connected calls not "
			"adopted (they end): %s", b->n, e[0] ? e :
			"cannot read their SIP messages");
	b->n = 0;
}

/* the open calls by SID: they come ordered by SID, but in the
 * database's collation */
struct by_sid {
	struct smap_node node;		/* first: smap_find's node is it */
	const struct store_open_call *c;
};

static bool open_and_up(struct takeover *t, const struct store_open_call *c)
{
	const char *final;
	int64_t last;

	known(t, c, &last, &final);
	return c->answered_at && !final;
}

/* The open parents whose <Dial> ended while what follows it was fetched:
 * each with its ended child, whose row is borrowed here only. */
struct ended_batch {
	struct takeover *t;
	const struct smap *open;	/* by_sid of the open calls */
	const char *sids[DIALOG_BATCH];
	size_t n;
};

static void on_dial_ends(const struct store_open_call *calls, size_t n,
			 void *arg)
{
	struct ended_batch *e = arg;
	struct adopt_batch b = {.t = e->t};

	for (size_t i = 0; i < n; i++) {
		const struct by_sid *x = (const struct by_sid *)
			smap_find(e->open, calls[i].parent_call_sid);

		if (!x)
			continue;
		b.parent[b.n] = x->c;
		b.child[b.n] = &calls[i];
		b.sids[2 * b.n] = x->c->sid;
		b.sids[2 * b.n + 1] = calls[i].sid;
		if (++b.n == DIALOG_BATCH / 2)
			adopt_flush(&b);
	}
	adopt_flush(&b);
}

static void ended_flush(struct ended_batch *e)
{
	char err[600];

	if (!e->n)
		return;
	if (store_takeover_dial_ends(e->t->st, e->sids, e->n, on_dial_ends, e,
				     err, sizeof(err)))
		log_msg(LOG_WARNING, "takeover", "%zu answered calls not looked "
			"at for a <Dial> that ended: %s", e->n, err[0] ? err :
			"cannot read their children");
	e->n = 0;
}

static void adoptions(struct takeover *t)
{
	struct ended_batch e = {.t = t};
	struct adopt_batch b = {.t = t};
	struct by_sid *v = calloc(t->ncalls ? t->ncalls : 1, sizeof(*v));
	struct smap m;

	smap_init(&m);
	for (size_t i = 0; v && i < t->ncalls; i++) {
		v[i].c = &t->calls[i];
		v[i].node.key = t->calls[i].sid;
		(void)smap_insert(&m, &v[i].node);
	}
	for (size_t i = 0; v && i < t->ncalls; i++) {
		const struct store_open_call *c = &t->calls[i], *p;
		const struct by_sid *x;

		if (!c->parent_call_sid || !c->dial_known ||
		    strcmp(c->direction, "outbound-dial"))
			continue;
		x = (const struct by_sid *)smap_find(&m, c->parent_call_sid);
		p = x ? x->c : NULL;
		if (!p || p->parent_call_sid || !open_and_up(t, p) ||
		    !open_and_up(t, c))
			continue;
		b.parent[b.n] = p;
		b.child[b.n] = c;
		b.sids[2 * b.n] = p->sid;
		b.sids[2 * b.n + 1] = c->sid;
		if (++b.n == DIALOG_BATCH / 2)
			adopt_flush(&b);
	}
	adopt_flush(&b);
	/* the answered callers left: a <Dial> of theirs may have just ended */
	e.open = &m;
	for (size_t i = 0; v && i < t->ncalls; i++) {
		const struct store_open_call *c = &t->calls[i];

		if (c->parent_call_sid || !open_and_up(t, c) ||
		    restart_adopts_has(t->adopts, c->sid))
			continue;
		e.sids[e.n++] = c->sid;
		if (e.n == DIALOG_BATCH)
			ended_flush(&e);
	}
	ended_flush(&e);
	smap_fini(&m);
	free(v);
	if (restart_adopts_count(t->adopts))
		log_msg(LOG_INFO, "takeover", "%zu connected calls to adopt "
			"(%.1f s)", restart_adopts_count(t->adopts), since(&t->t0));
}

static void dialogs(struct takeover *t)
{
	struct batch b = {.t = t};
	size_t answered = 0;

	for (size_t i = 0; i < t->ncalls; i++) {
		const struct store_open_call *c = &t->calls[i];
		const char *final;
		int64_t last;

		known(t, c, &last, &final);
		if (!c->answered_at || final ||
		    restart_adopts_has(t->adopts, c->sid))
			continue;
		b.v[b.n] = c;
		b.sids[b.n++] = c->sid;
		answered++;
		if (b.n == DIALOG_BATCH)
			batch_flush(&b);
	}
	batch_flush(&b);
	restart_byes_bodies_set(t->byes, t->cfg->call_log_bodies);
	if (answered)
		log_msg(LOG_INFO, "takeover", "%zu answered calls: %zu dialogs "
			"to end (%.1f s)", answered, restart_byes_count(t->byes),
			since(&t->t0));
}

/* The BYEs and their answers go into the call log. */
static bool on_bye_event(const struct dial_event *ev, void *arg)
{
	struct takeover *t = arg;

	return restart_byes_event(t->byes, db_store(t->db), ev);
}

/* The SIP engine of the command: the instance's SIP address, port 0. */
static int start_byes(struct takeover *t)
{
	struct config c = *t->cfg;
	int err;

	c.sip_listen.port = 0;
	err = sip_server_start(&t->sip, t->base, &c, false);
	if (!err)
		sip_server_handler_set(t->sip, on_bye_event, t);
	if (err) {
		say(t, LOG_WARNING, "no SIP engine for the BYEs of the %zu "
		    "answered calls: %s", restart_byes_count(t->byes),
		    strerror(err));
		return err;
	}
	restart_byes_send(t->byes, sip_server_dial(t->sip));
	clock_gettime(CLOCK_MONOTONIC, &t->bye_t0);
	return 0;
}

/* Every BYE answered or failed, or BYE_WAIT_S since they were sent. */
static bool byes_done(const struct takeover *t)
{
	struct dial_stats st;

	dial_stats_get(sip_server_dial(t->sip), &st);
	return st.byes_answered + st.byes_failed >=
	       restart_byes_count(t->byes) || since(&t->bye_t0) >= BYE_WAIT_S;
}

static int open_calls(struct takeover *t)
{
	char e[600];
	int err;

	err = store_takeover_calls(t->st, t->li.name, &t->calls, &t->ncalls, e,
				   sizeof(e));
	if (err)
		log_msg(LOG_ERR, "takeover", "%s", e[0] ? e : strerror(err));
	t->now = store_now_us();
	if (!err && t->own)
		adoptions(t);
	if (!err)
		dialogs(t);
	/* sent now: a run cut short by its deadline has sent them (the
	   next run finds the calls ended) */
	if (!err && !t->own && restart_byes_count(t->byes))
		(void)start_byes(t);
	for (size_t i = 0; !err && i < t->ncalls; i++)
		err = call_callback(t, &t->calls[i]);
	if (err)
		log_msg(LOG_ERR, "takeover", "cannot add the callbacks: %s",
			strerror(err));
	return err;
}

static int end_rows(struct takeover *t)
{
	int err = 0;

	for (size_t i = 0; !err && i < t->ncalls; i++)
		err = call_row(t, &t->calls[i]);
	if (err)
		log_msg(LOG_ERR, "takeover", "cannot end the calls: %s",
			strerror(err));
	(void)store_flush(db_store(t->db));
	return err;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;
	struct store *s = db_store(t->db);
	struct store_stats ss;
	struct timeval tv = {0, TICK_MS * 1000};

	(void)fd;
	(void)what;
	store_stats(s, &ss);
	switch (t->phase) {
	case P_REPLAY:
		if (store_state(s) != STORE_UP || store_busy(s) ||
		    ss.journal_bytes)
			break;
		log_msg(LOG_INFO, "takeover", "journal replayed (%.1f s)",
			since(&t->t0));
		if (open_calls(t))
			goto failed;
		t->phase = P_APPENDED;
		break;
	case P_APPENDED:
		if (!webhook_outbox_durable(t->ob))
			break;
		if (end_rows(t))
			goto failed;
		t->phase = P_DELIVER;
		break;
	case P_DELIVER:
		if (store_busy(s) || ss.journal_bytes ||
		    store_state(s) != STORE_UP || !webhook_outbox_durable(t->ob) ||
		    (!t->own && webhook_outbox_busy(t->ob)))
			break;
		if (t->sip) {
			t->phase = P_BYE;
			break;
		}
		t->phase = P_DONE;
		event_base_loopbreak(t->base);
		return;
	case P_BYE:
		/* and the rows of their messages written */
		if (!byes_done(t) || store_busy(s) || ss.journal_bytes)
			break;
		t->phase = P_DONE;
		event_base_loopbreak(t->base);
		return;
	case P_DONE:
		return;
	}
	evtimer_add(t->tick, &tv);
	return;
 failed:
	t->failed = true;
	event_base_loopbreak(t->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(t->base);
}

static int start_webhooks(struct takeover *t, const struct config *cfg)
{
	struct webhook_conf wc;
	int err;

	webhook_conf_from(&wc, cfg, db_store(t->db));
	err = webhook_alloc(&t->wh, t->base, &wc);
	if (!err)
		err = webhook_outbox_alloc(&t->ob, t->wh, t->base, t->dir);
	if (err == EBUSY)
		fprintf(stderr, "dialerd takeover: %s/webhook.outbox is locked: "
			"a live dialerd uses this folder\n", t->dir);
	else if (err)
		fprintf(stderr, "dialerd takeover: cannot open the outbox in %s:"
			" %s\n", t->dir, strerror(err));
	return err;
}

/* The loop: replay, end the calls, deliver; at most deadline seconds. */
static int run(struct takeover *t, const struct config *cfg, unsigned deadline)
{
	struct config c2 = *cfg;
	struct timeval tv = {0, 0}, dl = {(time_t)deadline, 0};
	struct event *dev = NULL;
	struct webhook_outbox_stats os;
	int err;

	c2.data_dir = (char *)t->dir;
	c2.instance = t->li.name;
	t->cfg = cfg;
	c2.call_log_retention_days = 0;	/* the live instances do that */
	t->base = event_base_new();
	if (!t->base)
		return ENOMEM;
	err = db_alloc(&t->db, t->base, &c2);
	if (err == EBUSY)
		fprintf(stderr, "dialerd takeover: the journal in %s is locked: a "
			"live dialerd uses this folder\n", t->dir);
	if (!err) {
		/* before the outbox is opened: opening empties a file whose
		 * entries are all delivered */
		err = store_outbox_scan(t->dir, on_seen, t);
		if (err)
			fprintf(stderr, "dialerd takeover: cannot read %s/"
				"webhook.outbox: %s\n", t->dir, strerror(err));
	}
	if (!err)
		err = start_webhooks(t, cfg);
	if (err)
		return err;
	t->tick = evtimer_new(t->base, on_tick, t);
	dev = evtimer_new(t->base, on_deadline, t);
	if (!t->tick || !dev) {
		err = ENOMEM;
		goto out;
	}
	evtimer_add(t->tick, &tv);
	evtimer_add(dev, &dl);
	event_base_dispatch(t->base);
	webhook_outbox_stats(t->ob, &os);
	if (t->sip) {
		/* the calls are ended and their callbacks delivered: BYEs
		   still unanswered at the deadline do not fail the run */
		struct dial_stats st;

		dial_stats_get(sip_server_dial(t->sip), &st);
		say(t, LOG_NOTICE, "BYEs for the dialogs of the %zu answered "
		    "calls: %llu answered, %llu failed, %llu not answered "
		    "within %d s", restart_byes_count(t->byes),
		    (unsigned long long)st.byes_answered,
		    (unsigned long long)st.byes_failed,
		    (unsigned long long)(restart_byes_count(t->byes) -
					 st.byes_answered - st.byes_failed), BYE_WAIT_S);
		if (t->phase == P_BYE)
			t->phase = P_DONE;
	}
	if (t->phase != P_DONE && !t->failed)
		say(t, LOG_ERR, "deadline of %u s reached %s; %zu callback%s "
		    "undelivered (kept in %s/webhook.outbox)", deadline,
		    t->phase == P_REPLAY ? "before the journal was replayed" :
		    "", os.depth, os.depth == 1 ? "" : "s", t->dir);
	if (t->phase != P_DONE)
		err = t->failed ? EIO : ETIMEDOUT;
	say(t, LOG_NOTICE, "instance %s (id %u): %zu call%s ended, %zu terminal "
	    "callback%s added (%zu not: a password in the URL), %llu "
	    "delivered, %llu given up, %zu %s, %.2f s", t->li.name, t->li.id,
	    t->ended, t->ended == 1 ? "" : "s", t->callbacks,
	    t->callbacks == 1 ? "" : "s", t->skipped, os.delivered,
	    os.given_up, os.depth, t->own ? "left to the daemon's outbox" :
	    "undelivered", since(&t->t0));
 out:
	if (dev)
		event_free(dev);
	return err;
}

static void cleanup(struct takeover *t)
{
	t->sip = sip_server_stop(t->sip);
	if (t->tick)
		event_free(t->tick);
	t->ob = webhook_outbox_free(t->ob);
	t->wh = webhook_free(t->wh);
	t->db = db_free(t->db);
	if (t->base)
		event_base_free(t->base);
	t->st = store_takeover_close(t->st);
	t->byes = restart_byes_free(t->byes);
	t->adopts = restart_adopts_free(t->adopts);
	seen_free(t);
}

static int parse(int argc, char **argv, const char **dir, unsigned *deadline)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--data-dir") == 0 && i + 1 < argc) {
			*dir = argv[++i];
		} else if (strncmp(a, "--data-dir=", 11) == 0) {
			*dir = a + 11;
		} else if (strcmp(a, "--deadline") == 0 && i + 1 < argc) {
			*deadline = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strncmp(a, "--deadline=", 11) == 0) {
			*deadline = (unsigned)strtoul(a + 11, NULL, 10);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!*dir || !**dir || !*deadline) {
		usage(stderr);
		return 2;
	}
	return 0;
}

int cmd_takeover(const struct config *cfg, int argc, char **argv)
{
	struct takeover t;
	struct store_idfile *idf = NULL;
	const char *dir = NULL;
	unsigned deadline = 60, id = 0;
	char host[256], e[768];
	int err, rc = 1;

	memset(&t, 0, sizeof(t));
	smap_init(&t.seen);
	clock_gettime(CLOCK_MONOTONIC, &t.t0);
	err = parse(argc, argv, &dir, &deadline);
	if (err)
		return err == 1 ? 0 : 2;
	t.dir = dir;
	if (!cfg->database_url || !*cfg->database_url) {
		fprintf(stderr, "dialerd takeover: no database_url configured "
				"(set it in the file or DIALERD_DATABASE_URL)\n");
		return 2;
	}
	if (!cfg->auth_token || !*cfg->auth_token) {
		/* the callbacks are signed with it, as the daemon signs them */
		fprintf(stderr, "dialerd takeover: no auth_token configured: give "
			"the dead instance's configuration (--config FILE or "
			"DIALERD_AUTH_TOKEN)\n");
		return 2;
	}
	/* a folder that never held an instance: say so, create nothing */
	snprintf(e, sizeof(e), "%s/instance.id", dir);
	if (access(e, R_OK | W_OK) != 0) {
		fprintf(stderr, "dialerd takeover: %s: %s (not a dialerd "
			"data_dir?)\n", e, strerror(errno));
		return 1;
	}
	err = store_idfile_open(&idf, dir, &id);
	if (err == EBUSY) {
		fprintf(stderr, "dialerd takeover: refused: a live dialerd uses "
			"%s (%s/instance.id is locked)\n", dir, dir);
		return 1;
	}
	if (err || !id) {
		fprintf(stderr, "dialerd takeover: no instance id in %s/"
			"instance.id%s%s\n", dir, err ? ": " : "",
			err ? strerror(err) : "");
		goto out;
	}
	err = store_takeover_open(&t.st, cfg->database_url, 10, e, sizeof(e));
	if (err) {
		fprintf(stderr, "dialerd takeover: %s\n", e[0] ? e : strerror(err));
		goto out;
	}
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	/* the lease outlasts the run: nobody else claims it meanwhile */
	err = store_takeover_claim(t.st, id, STALE_S, deadline + STALE_S, host,
				   (int)getpid(), &t.li, e, sizeof(e));
	switch (err) {
	case 0:
		break;
	case EALREADY:
		printf("instance %s (id %u) is already retired: nothing to do\n",
		       t.li.name, id);
		rc = 0;
		goto out;
	case EBUSY:
		if (strcmp(t.li.state, "lost") == 0 && t.li.heartbeat_age_s < 0)
			fprintf(stderr, "dialerd takeover: refused: instance %s is "
				"being taken over by pid %d on %s (lease ends in "
				"%.0f s)\n", t.li.name, t.li.pid, t.li.host,
				-t.li.heartbeat_age_s);
		else
			fprintf(stderr, "dialerd takeover: refused: instance %s is "
				"alive (heartbeat %.0f s ago, state %s, pid %d on "
				"%s); a heartbeat older than %d s is needed\n",
				t.li.name, t.li.heartbeat_age_s, t.li.state,
				t.li.pid, t.li.host, STALE_S);
		goto out;
	case ENOENT:
		fprintf(stderr, "dialerd takeover: no instance with id %u in the "
			"registry\n", id);
		goto out;
	default:
		fprintf(stderr, "dialerd takeover: %s\n", e[0] ? e : strerror(err));
		goto out;
	}
	log_msg(LOG_NOTICE, "takeover", "instance %s (id %u) marked lost",
		t.li.name, id);
	err = run(&t, cfg, deadline);
	if (store_takeover_release(t.st, id, err == 0, STALE_S, e, sizeof(e))) {
		fprintf(stderr, "dialerd takeover: %s\n", e);
		err = EIO;
	} else if (!err) {
		printf("instance %s (id %u) retired\n", t.li.name, id);
	}
	rc = err ? 1 : 0;
 out:
	cleanup(&t);
	store_idfile_close(idf);
	return rc;
}

int takeover_own(const struct config *cfg, struct restart_byes **byes,
		 struct restart_adopts **adopts)
{
	struct takeover t;
	struct store_idfile *idf = NULL;
	unsigned id = 0;
	char host[256], e[768];
	int err;

	/* without an auth token the daemon had no webhooks: no calls */
	if (!cfg->database_url || !*cfg->database_url || !cfg->data_dir ||
	    !*cfg->data_dir || !cfg->auth_token || !*cfg->auth_token)
		return 0;
	memset(&t, 0, sizeof(t));
	smap_init(&t.seen);
	clock_gettime(CLOCK_MONOTONIC, &t.t0);
	t.dir = cfg->data_dir;
	t.own = true;
	/* no id yet: a first start; locked: the registry says whose */
	snprintf(e, sizeof(e), "%s/instance.id", cfg->data_dir);
	if (access(e, R_OK | W_OK) != 0 ||
	    store_idfile_open(&idf, cfg->data_dir, &id) || !id)
		goto out;
	err = store_takeover_open(&t.st, cfg->database_url, OWN_CONNECT_S, e,
				  sizeof(e));
	if (err) {
		log_msg(LOG_WARNING, "takeover", "cannot look for calls a crashed "
			"process left open (%s): they stay open until the next "
			"start or `dialerd takeover`", e[0] ? e : strerror(err));
		goto out;
	}
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	err = store_takeover_claim_own(t.st, id, host, cfg->data_dir,
				       (int)getpid(),
				       OWN_DEADLINE_S + STALE_S, &t.li, e,
				       sizeof(e));
	if (err == ENOENT)	/* stopped cleanly, or never registered here */
		goto out;
	if (err) {
		log_msg(LOG_WARNING, "takeover", "%s", e[0] ? e : strerror(err));
		goto out;
	}
	log_msg(LOG_WARNING, "takeover", "the previous process of instance %s "
		"did not stop: taking over the calls it left open", t.li.name);
	err = run(&t, cfg, OWN_DEADLINE_S);
	if (store_takeover_release(t.st, id, err == 0, STALE_S, e, sizeof(e)))
		log_msg(LOG_WARNING, "takeover", "%s", e);
	*byes = t.byes;
	t.byes = NULL;
	*adopts = t.adopts;
	t.adopts = NULL;
 out:
	cleanup(&t);
	store_idfile_close(idf);
	return 0;
}
