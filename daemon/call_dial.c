/* call_dial.c: <Dial> with <Sip> nouns: child legs rung in parallel (one
 * fork group: the engine CANCELs the losers) or one by one, the ring
 * timeout, the parent answered and bridged to the winner, the time limit,
 * and the Dial* parameters of the action request
 *
 * Media is relayed by the engine (no transcoding), so every child is
 * offered the caller's codec, when its <Sip codecs> allows it; a branch
 * that allows none is skipped with a warning. The Dial* headers come from
 * the final failure response of the branch that decides the outcome, else
 * from the winner's 200, overlaid by a BYE the winner sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "cxml/cxml.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "dial/dial.h"
#include "store/store.h"
#include "util/memdupz.h"

#define MAX_BRANCHES 10
#define MAX_HDRS 64

/* grown as headers come (a 200 carries a few): fixed arrays of
 * MAX_HDRS made every held call carry 3 KiB of empty slots */
struct hdrset {
	char **names, **values;	/* n of them, room for cap */
	size_t n, cap;
};

struct cdial;

/* What the children's first status event records of their <Dial>
 * (call_dial_record), with its strings: the action, resolved, or the
 * document that goes on after the <Dial>. Kept until a branch wins, so
 * that a held call does not carry it. */
struct cdial_rec {
	struct call_dial_record r;
	char *action, *then_doc, *then_url;
};

static struct cdial_rec *rec_free(struct cdial_rec *x)
{
	if (x) {
		free(x->action);
		free(x->then_doc);
		free(x->then_url);
		free(x);
	}
	return NULL;
}

/* The record of d (NULL when out of memory: the children then record
 * less, and a restart ends their calls rather than adopting them). */
static struct cdial_rec *rec_make(const struct cxml_dial *d,
				  const char *doc_url,
				  const struct call_dial_then *then)
{
	struct cdial_rec *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->r.action_get = d->method == CXML_GET;
	x->r.time_limit = d->time_limit;
	if (d->action && webhook_url_resolve(doc_url, d->action, &x->action))
		x->action = NULL;	/* call_doc.c reports it at the end */
	if (!d->action && then && then->doc && doc_url) {
		/* a body, not a C string: no NUL after it */
		x->then_doc = util_memdupz(then->doc, then->len);
		x->then_url = strdup(doc_url);
		if (!x->then_doc || !x->then_url)
			return rec_free(x);
		x->r.then_verb = then->verb;
	}
	x->r.action = x->action;
	x->r.then_doc = x->then_doc;
	x->r.then_url = x->then_url;
	return x;
}

struct branch {
	struct cdial *cd;
	struct call *child;		/* NULL: skipped or not started yet */
	char *target, *username, *password;
	struct dial_hdr *hdrs;		/* the URI's, until the leg starts */
	size_t nhdrs;
	enum dial_codec codec;
	bool codec_ok;
	struct call_callback cb;	/* the child's statusCallback */
	char *whisper_url;		/* <Sip url>, resolved */
	bool whisper_get;
	struct hdrset ok_hdrs;		/* the 200's headers, for the whisper */
	unsigned session_expires;
	enum call_cause cause;		/* why we ended it, if we did */
	enum call_status status;
	bool started, answered, ended;
	char sip_call_id[128];
	uint16_t code;
};

struct cdial {
	struct call *parent;
	size_t n, next;			/* next: sequential's next branch */
	size_t live;			/* started and not ended */
	char group[40];
	int timeout_s, time_limit_s;
	bool answer_on_bridge, sequential, caller_gone, bridged, over;
	char *caller_id;
	struct cdial_rec *rec;		/* until a branch wins; NULL: none */
	struct event *ring_timer, *limit_timer;
	struct branch *winner, *decider;	/* decider: gives Dial* */
	struct hdrset final_hdrs;	/* the decider's final message */
	int64_t answered_us, ended_us;
	call_whisper_h *whisper;
	call_dial_done_h *done;
	void *arg;
	size_t cap;
	/* a slot per noun (at most MAX_BRANCHES): nearly every <Dial> has
	 * one noun, and a fixed array of 10 cost a held call 22 KiB of
	 * zeroed, resident memory when a branch was 2.3 KiB */
	struct branch b[];
};

static void hdrset_clear(struct hdrset *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->names[i]);
		free(h->values[i]);
	}
	free(h->names);
	free(h->values);
	memset(h, 0, sizeof(*h));
}

static bool hdrset_room(struct hdrset *h)
{
	size_t cap = h->cap ? h->cap * 2 : 4;
	char **v;

	if (h->n < h->cap)
		return true;
	v = realloc(h->names, cap * sizeof(*v));
	if (!v)
		return false;
	h->names = v;
	v = realloc(h->values, cap * sizeof(*v));
	if (!v)
		return false;
	h->values = v;
	h->cap = cap;
	return true;
}

static void branch_hdrs_free(struct branch *b)
{
	for (size_t k = 0; k < b->nhdrs; k++) {
		free((char *)b->hdrs[k].name);
		free((char *)b->hdrs[k].value);
	}
	free(b->hdrs);
	b->hdrs = NULL;
	b->nhdrs = 0;
}

/* Keeps the headers of ev (replacing what was kept unless overlay). */
static void hdrset_take(struct hdrset *h, const struct dial_event *ev,
			bool overlay)
{
	if (!overlay)
		hdrset_clear(h);
	for (size_t i = 0; i < ev->hdrc; i++) {
		size_t k;

		/* only policy headers become DialSipHeader_ parameters */
		if (!store_header_is_policy(ev->hdrv[i].name,
					    strlen(ev->hdrv[i].name)))
			continue;
		for (k = 0; k < h->n; k++)
			if (strcasecmp(h->names[k], ev->hdrv[i].name) == 0)
				break;
		if (k < h->n) {
			if (!overlay)
				continue;	/* first value of a name */
			free(h->values[k]);
			h->values[k] = strdup(ev->hdrv[i].value);
			continue;
		}
		if (h->n == MAX_HDRS) {
			/* never silently: the call log has every header */
			log_write(LOG_WARNING, "call", ev->leg_id, "more than %d "
				  "policy headers: the rest are not passed as "
				  "DialSipHeader_ parameters", MAX_HDRS);
			break;
		}
		if (!hdrset_room(h))
			break;
		h->names[h->n] = strdup(ev->hdrv[i].name);
		h->values[h->n] = strdup(ev->hdrv[i].value);
		if (!h->names[h->n] || !h->values[h->n]) {
			free(h->names[h->n]);
			free(h->values[h->n]);
			break;
		}
		h->n++;
	}
}

static void cdial_free(struct cdial *cd)
{
	for (size_t i = 0; i < cd->n; i++) {
		struct branch *b = &cd->b[i];

		free(b->target);
		free(b->cb.url);
		free(b->whisper_url);
		hdrset_clear(&b->ok_hdrs);
		free(b->username);
		free(b->password);
		branch_hdrs_free(b);
		if (b->child) {
			b->child->leg_h = NULL;
			b->child->whisper_done = NULL;
			call_unref(b->child);
		}
	}
	hdrset_clear(&cd->final_hdrs);
	if (cd->ring_timer)
		event_free(cd->ring_timer);
	if (cd->limit_timer)
		event_free(cd->limit_timer);
	free(cd->caller_id);
	rec_free(cd->rec);
	call_unref(cd->parent);
	free(cd);
}

static long secs(int64_t from, int64_t to)
{
	return from && to > from ? (long)((to - from + 999999) / 1000000) : 0;
}

/* The <Dial> is over: its parameters go to the document layer. */
static void finish(struct cdial *cd)
{
	struct call *parent = cd->parent;
	enum call_status st[MAX_BRANCHES];
	struct branch *d = cd->winner ? cd->winner : cd->decider;
	struct call_params p;
	enum call_status ds;
	size_t ns = 0;

	if (cd->over)
		return;
	cd->over = true;
	for (size_t i = 0; i < cd->n; i++)
		if (cd->b[i].started)
			st[ns++] = cd->b[i].status;
	ds = call_outcome_dial(st, ns, cd->caller_gone);
	call_params_init(&p);
	call_params_add(&p, "DialCallStatus", call_status_name(ds));
	if (d && d->child) {
		call_params_add(&p, "DialCallSid", d->child->sid);
		call_params_addf(&p, "DialCallDuration", "%ld",
				 secs(cd->answered_us, cd->ended_us));
		if (d->sip_call_id[0])
			call_params_add(&p, "DialSipCallId", d->sip_call_id);
		if (d->code)
			call_params_addf(&p, "DialSipResponseCode", "%u", d->code);
	}
	call_params_add(&p, "DialBridged", cd->bridged ? "true" : "false");
	call_params_sip_headers(&p, "DialSipHeader_",
				(const char *const *)cd->final_hdrs.names,
				(const char *const *)cd->final_hdrs.values,
				cd->final_hdrs.n);
	free(parent->dial_status);
	parent->dial_status = strdup(call_status_name(ds));
	parent->dial = NULL;
	log_write(LOG_INFO, "call", parent->sid, "dial over: %s%s",
		  call_status_name(ds), cd->caller_gone ? " (caller gone)" : "");
	call_log_snapshot(parent);
	cd->done(parent, &p, cd->caller_gone, cd->arg);
	call_params_free(&p);
	cdial_free(cd);
}

/* Dial attributes that need a media engine are parsed, reported as
 * warning 12200 "not executed" (a log line and a call event), and the
 * <Dial> goes on without them. */
static void not_executed(struct call *parent, const struct cxml_dial *d)
{
	const char *what[4];
	size_t n = 0;

	if (d->hangup_on_star)
		what[n++] = "hangupOnStar";
	if (d->record != CXML_REC_DO_NOT_RECORD)
		what[n++] = "record";
	if (d->ring_tone)
		what[n++] = "ringTone";
	for (size_t i = 0; i < d->nnouns; i++)
		if (d->nouns[i].type == CXML_NOUN_NUMBER &&
		    d->nouns[i].u.number.send_digits && n < 4) {
			what[n++] = "sendDigits";
			break;
		}
	for (size_t i = 0; i < n; i++) {
		char detail[96];

		log_write(LOG_NOTICE, "call", parent->sid, "<Dial %s> is not "
			  "executed by this dialerd (12200)", what[i]);
		snprintf(detail, sizeof(detail),
			 "{\"code\":12200,\"attribute\":\"%s\"}", what[i]);
		call_log_event(parent->cl->store, parent, parent->ev_seq++,
			       "cxml-warning", 0, detail);
	}
}

/* A noun not dialled: a log line and a call event with its reason. */
static void skipped(struct call *parent, int code, const char *target,
		    const char *why)
{
	char detail[512], t[256];
	size_t o = 0;

	for (const char *p = target; *p && o + 2 < sizeof(t); p++) {
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			continue;	/* kept out of the JSON string */
		t[o++] = *p;
	}
	t[o] = '\0';
	log_write(LOG_WARNING, "call", parent->sid, "<Dial> %s: %s (%d); skipped",
		  target, why, code);
	snprintf(detail, sizeof(detail),
		 "{\"code\":%d,\"target\":\"%s\",\"reason\":\"%s\"}", code, t, why);
	call_log_event(parent->cl->store, parent, parent->ev_seq++,
		       "dial-branch-skipped", 0, detail);
}

static void hangup_branch(struct branch *b, enum call_cause cause)
{
	struct dial_reason r = {0};

	if (!b->started || b->ended)
		return;
	if (!b->answered && b->cause == CALL_CAUSE_NONE)
		b->cause = cause;
	if (cause == CALL_CAUSE_CANCELED) {
		r.present = true;
		snprintf(r.protocol, sizeof(r.protocol), "SIP");
		r.cause = 487;
		snprintf(r.text, sizeof(r.text), "Call cancelled by the caller");
	}
	dial_leg_hangup(b->cd->parent->cl->dial, b->child->sid,
			r.present ? &r : NULL);
}

static int start_branch(struct cdial *cd, struct branch *b);

/* Starts what is left to start: the next one of a sequential dial. */
static void start_more(struct cdial *cd)
{
	while (!cd->winner && !cd->caller_gone && cd->next < cd->n &&
	       (!cd->sequential || cd->live == 0)) {
		struct branch *b = &cd->b[cd->next++];

		if (start_branch(cd, b) == 0 && cd->sequential)
			break;
	}
	if (cd->live == 0)
		finish(cd);
}

static void on_ring_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cdial *cd = arg;

	(void)fd;
	(void)what;
	log_write(LOG_INFO, "call", cd->parent->sid, "dial timeout (%d s)",
		  cd->timeout_s);
	for (size_t i = 0; i < cd->n; i++)
		if (!cd->b[i].answered)
			hangup_branch(&cd->b[i], CALL_CAUSE_TIMEOUT);
}

static void on_time_limit(evutil_socket_t fd, short what, void *arg)
{
	struct cdial *cd = arg;

	(void)fd;
	(void)what;
	log_write(LOG_INFO, "call", cd->parent->sid, "dial timeLimit (%d s)",
		  cd->time_limit_s);
	if (cd->winner)
		hangup_branch(cd->winner, CALL_CAUSE_NONE);
	/* the time limit ends the call, not just the bridge */
	dial_leg_hangup(cd->parent->cl->dial, cd->parent->sid, NULL);
}

static void arm(struct event *ev, int s)
{
	struct timeval tv = {s, 0};

	if (!ev)
		return;
	event_del(ev);
	evtimer_add(ev, &tv);
}

/* The winner is through its whisper (if any): answer the caller if not
 * yet, bridge the media. */
static void connect_winner(struct cdial *cd, struct branch *b)
{
	struct call *parent = cd->parent;

	call_answer(parent);
	if (dial_bridge(parent->cl->dial, parent->sid, b->child->sid) == 0)
		cd->bridged = true;
	arm(cd->limit_timer, cd->time_limit_s);
	/* no branch rings once one is connected: the ring timer goes now
	 * rather than stay with the call for its whole life */
	if (cd->ring_timer)
		event_free(cd->ring_timer);
	cd->ring_timer = NULL;
}

static void on_whispered(struct call *child, bool hangup, void *arg)
{
	struct branch *b = arg;

	child->whisper_done = NULL;
	if (b->ended || b->cd->caller_gone)
		return;
	if (hangup) {
		/* the screening document refused the call: no bridge */
		hangup_branch(b, CALL_CAUSE_NONE);
		return;
	}
	connect_winner(b->cd, b);
}

/* The first 2xx: the others are cancelled by the engine; a <Sip url>
 * document runs on the winner before the bridge, with its 200's X-
 * headers as SipHeader_* (the caller keeps hearing ringing). */
static void won(struct cdial *cd, struct branch *b)
{
	struct call_params p;

	cd->winner = b;
	cd->answered_us = b->child->answered_us;
	cd->rec = rec_free(cd->rec);	/* no branch starts after this one */
	if (cd->ring_timer)
		event_del(cd->ring_timer);
	for (size_t i = 0; i < cd->n; i++)
		if (&cd->b[i] != b && !cd->b[i].answered)
			cd->b[i].cause = CALL_CAUSE_ELSEWHERE;
	if (!b->whisper_url || !cd->whisper) {
		connect_winner(cd, b);
		return;
	}
	call_params_init(&p);
	if (b->sip_call_id[0])
		call_params_add(&p, "SipCallId", b->sip_call_id);
	call_params_sip_headers(&p, "SipHeader_",
				(const char *const *)b->ok_hdrs.names,
				(const char *const *)b->ok_hdrs.values, b->ok_hdrs.n);
	b->child->whisper_done = on_whispered;
	b->child->whisper_arg = b;
	if (cd->whisper(b->child, b->whisper_url, b->whisper_get, &p)) {
		log_write(LOG_WARNING, "call", b->child->sid,
			  "whisper %s cannot be requested; bridging", b->whisper_url);
		b->child->whisper_done = NULL;
		connect_winner(cd, b);
	}
	call_params_free(&p);
}

static void on_child(struct call *child, const struct dial_event *ev, void *arg)
{
	struct branch *b = arg;
	struct cdial *cd = b->cd;

	switch (ev->type) {
	case DIAL_EV_PROGRESS:
		call_status_set(child, CALL_RINGING, ev->code);
		if (cd->answer_on_bridge && cd->parent->status < CALL_RINGING) {
			(void)dial_inbound_ring(cd->parent->cl->dial,
						cd->parent->sid, 180);
			call_status_set(cd->parent, CALL_RINGING, 0);
		}
		break;
	case DIAL_EV_ANSWERED:
		b->answered = true;
		b->code = ev->code ? ev->code : 200;
		if (ev->call_id)
			snprintf(b->sip_call_id, sizeof(b->sip_call_id), "%s",
				 ev->call_id);
		child->leg_up = true;
		snprintf(child->codec, sizeof(child->codec), "%s",
			 ev->sdp.present ? ev->sdp.codec : "");
		call_status_set(child, CALL_IN_PROGRESS, b->code);
		if (!cd->winner && !cd->caller_gone) {
			cd->decider = b;
			hdrset_take(&cd->final_hdrs, ev, false);
			hdrset_take(&b->ok_hdrs, ev, false);
			won(cd, b);
		}
		break;
	case DIAL_EV_ADOPTED:
		/* a restart took the leg up without its relay port: a call
		 * without media ends (the parent's leg is told the same) */
		if (ev->err == EADDRINUSE) {
			cd->bridged = false;
			hangup_branch(b, CALL_CAUSE_NONE);
		}
		break;
	case DIAL_EV_BRIDGED:
		if (ev->err) {
			cd->bridged = false;
			log_write(LOG_ERR, "call", cd->parent->sid,
				  "cannot bridge to %s: %s", child->sid,
				  strerror(ev->err));
		}
		break;
	case DIAL_EV_ENDED: {
		struct call_result r = {
			.answered = b->answered,
			.code = b->answered ? 0 : ev->code,
			.err = ev->err,
			.cause = b->cause,
		};

		b->ended = true;
		child->leg_up = false;
		cd->live--;
		if (!b->answered && ev->code)
			b->code = ev->code;
		b->status = call_outcome(&r);
		if (b == cd->winner) {
			cd->ended_us = ev->time_us ? (int64_t)ev->time_us : 0;
			/* a BYE from the far end overlays the 200's headers */
			if (!ev->local && ev->hdrc && ev->method &&
			    strcmp(ev->method, "BYE") == 0)
				hdrset_take(&cd->final_hdrs, ev, true);
		} else if (!cd->winner && ev->code >= 300 && ev->hdrc) {
			cd->decider = b;
			hdrset_take(&cd->final_hdrs, ev, false);
		} else if (!cd->winner && !cd->decider) {
			cd->decider = b;
		}
		call_status_set(child, b->status, b->answered ? 0 : ev->code);
		if (b == cd->winner && !cd->caller_gone)
			event_del(cd->limit_timer);
		if (!cd->ended_us && b == cd->winner)
			cd->ended_us = child->ended_us;
		start_more(cd);
		break;
	}
	default:
		break;
	}
}

/* The codecs a child may be offered: the caller's, if <Sip codecs>
 * allows it (relayed media cannot transcode). */
static bool pick_codec(const struct cxml_sip *s, const char *caller,
		       enum dial_codec *out)
{
	enum dial_codec c;

	if (!caller || !*caller || dial_codec_parse(caller, &c)) {
		/* no offer to follow (late offer): the noun's first codec */
		const char *n = cxml_codec_name(s->codecs.n ? s->codecs.v[0] :
						CXML_CODEC_PCMU);

		return dial_codec_parse(n, out) == 0;
	}
	for (unsigned i = 0; i < s->codecs.n; i++)
		if (strcasecmp(cxml_codec_name(s->codecs.v[i]), caller) == 0) {
			*out = c;
			return true;
		}
	return false;
}

static unsigned cb_events(unsigned cxml_events)
{
	return (cxml_events & CXML_EV_INITIATED ? CALL_CB_INITIATED : 0) |
	       (cxml_events & CXML_EV_RINGING ? CALL_CB_RINGING : 0) |
	       (cxml_events & CXML_EV_ANSWERED ? CALL_CB_ANSWERED : 0) |
	       (cxml_events & CXML_EV_COMPLETED ? CALL_CB_COMPLETED : 0);
}

static int branch_copy(struct cdial *cd, struct branch *b,
		       const struct cxml_sip *s, const char *caller_codec,
		       const char *doc_url)
{
	const struct config *cfg = cd->parent->cl->cfg;

	if (s->status_callback &&
	    webhook_url_resolve(doc_url, s->status_callback, &b->cb.url))
		log_write(LOG_WARNING, "call", cd->parent->sid,
			  "<Sip statusCallback> %s is not a URL; no callbacks",
			  s->status_callback);
	b->cb.get = s->status_callback_method == CXML_GET;
	if (s->url && webhook_url_resolve(doc_url, s->url, &b->whisper_url))
		log_write(LOG_WARNING, "call", cd->parent->sid,
			  "<Sip url> %s is not a URL; no whisper", s->url);
	b->whisper_get = s->method == CXML_GET;
	b->cb.events = cb_events(s->status_callback_event);

	b->cd = cd;
	b->target = strdup(s->uri.target);
	b->username = s->username ? strdup(s->username) : NULL;
	b->password = s->password ? strdup(s->password) : NULL;
	if (!b->target || (s->username && !b->username) ||
	    (s->password && !b->password))
		return ENOMEM;
	if (s->uri.nhdrs) {
		b->hdrs = calloc(s->uri.nhdrs < MAX_HDRS ? s->uri.nhdrs : MAX_HDRS,
				 sizeof(*b->hdrs));
		if (!b->hdrs)
			return ENOMEM;
	}
	for (size_t i = 0; i < s->uri.nhdrs && b->nhdrs < MAX_HDRS; i++) {
		b->hdrs[b->nhdrs].name = strdup(s->uri.hdrs[i].name);
		b->hdrs[b->nhdrs].value = strdup(s->uri.hdrs[i].value);
		if (!b->hdrs[b->nhdrs].name || !b->hdrs[b->nhdrs].value) {
			free((char *)b->hdrs[b->nhdrs].name);
			free((char *)b->hdrs[b->nhdrs].value);
			return ENOMEM;
		}
		b->nhdrs++;
	}
	b->codec_ok = pick_codec(s, caller_codec, &b->codec);
	b->session_expires = s->session_timeout > 0 ?
			     (unsigned)s->session_timeout : cfg->sip_session_expires;
	return 0;
}

/* A child call for the branch, its status callback, and its leg. */
static int start_branch(struct cdial *cd, struct branch *b)
{
	struct call *parent = cd->parent, *child = NULL;
	struct call_layer *cl = parent->cl;
	const struct config *cfg = cl->cfg;
	struct dial_leg_params lp;
	char from_user[128];
	int err;

	if (!b->codec_ok) {
		skipped(parent, 12200, b->target, "no codec in common with the caller");
		return EINVAL;
	}
	err = call_new(cl, NULL, CALL_OUTBOUND_DIAL, parent, &child);
	if (err)
		return err;
	b->child = call_ref(child);
	b->started = true;
	b->status = CALL_QUEUED;
	child->has_leg = true;
	child->from = strdup(cd->caller_id ? cd->caller_id :
			     parent->from ? parent->from : "");
	child->to = strdup(b->target);
	child->leg_h = on_child;
	child->leg_arg = b;
	snprintf(child->dial_group, sizeof(child->dial_group), "%s", cd->group);
	child->branch = (int)(b - cd->b);
	child->cb = b->cb;	/* the child owns the copy from here */
	b->cb.url = NULL;
	call_params_uri(child->from, from_user, sizeof(from_user));
	memset(&lp, 0, sizeof(lp));
	lp.id = child->sid;
	lp.group = cd->sequential ? NULL : cd->group;
	lp.uri = b->target;
	/* the caller's user part, or callerId as given */
	if (cd->caller_id)
		lp.from_user = cd->caller_id;
	else if (strncmp(from_user, "sip:", 4) == 0 && strchr(from_user, '@'))
		lp.from_user = strndup(from_user + 4,
				       (size_t)(strchr(from_user, '@') - from_user - 4));
	lp.hdrv = b->hdrs;
	lp.hdrc = b->nhdrs;
	lp.codecv = &b->codec;
	lp.codecc = 1;
	lp.username = b->username;
	lp.password = b->password;
	lp.session_expires = b->session_expires;
	lp.call_sid = child->sid;
	lp.account_sid = cfg->account_sid;
	lp.relay = true;
	cd->live++;
	child->started_us = child->created_us;
	/* logged and cleared right here */
	child->dial_rec = cd->rec ? &cd->rec->r : NULL;
	call_status_set(child, CALL_INITIATED, 0);
	err = dial_leg_start(cl->dial, &lp);
	if (lp.from_user && lp.from_user != cd->caller_id)
		free((char *)lp.from_user);
	branch_hdrs_free(b);	/* the engine keeps its own copy */
	if (err) {
		/* refused at once (a bad URI): the branch failed; start_more
		 * goes on with the others */
		log_write(LOG_WARNING, "call", child->sid,
			  "cannot dial %s: %s", b->target, strerror(err));
		b->ended = true;
		b->status = CALL_FAILED;
		cd->live--;
		if (!cd->decider)
			cd->decider = b;
		child->leg_ended = true;
		call_status_set(child, CALL_FAILED, 0);
		return err;
	}
	if (cd->sequential)
		arm(cd->ring_timer, cd->timeout_s);
	return 0;
}

/* Refused headers are recorded, never dropped silently: a <Sip>'s own,
 * and those of <Dial sipHeaders> once for the <Dial> (cxml lists them
 * there, not on every leg). */
static void log_refusals(struct call *parent, const char *elem,
			 const struct cxml_sip_refusal *rv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct cxml_sip_refusal *r = &rv[i];

		log_write(LOG_WARNING, "call", parent->sid,
			  "<%s> header %s refused: %d %s", elem, r->name, r->code,
			  r->reason);
		call_log_policy(parent->cl->store, parent, parent->policy_seq++, r);
	}
}

/* <Number> is dialled as a <Sip> to the trunk named by number_uri
 * ("sip:{number}@trunk.example"); without one, warning 13224. */
static int number_branch(struct cdial *cd, const struct cxml_number *num,
			 const char *doc_url)
{
	struct call *parent = cd->parent;
	const char *tpl = parent->cl->cfg->number_uri, *at;
	struct cxml_diags diags = {0};
	struct cxml_sip_uri *u = NULL;
	struct cxml_sip s;
	char uri[512];
	int err;

	if (!tpl || !(at = strstr(tpl, "{number}"))) {
		skipped(parent, 13224, num->number, "no number_uri names a trunk");
		return 0;
	}
	snprintf(uri, sizeof(uri), "%.*s%s%s", (int)(at - tpl), tpl, num->number,
		 at + strlen("{number}"));
	err = cxml_sip_uri_parse(uri, parent->cl->pol, &u, &diags);
	cxml_diags_free(&diags);
	if (err) {
		skipped(parent, 13224, uri, "number_uri gives a bad URI");
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.uri = *u;
	/* a trunk's user:password@ is its digest credentials, as in <Sip>;
	 * the target never holds the password */
	if (u->password) {
		s.username = u->user;
		s.password = u->password;
	}
	s.status_callback = num->status_callback;
	s.status_callback_method = num->status_callback_method;
	s.status_callback_event = num->status_callback_event;
	s.codecs.v[0] = CXML_CODEC_PCMU;
	s.codecs.v[1] = CXML_CODEC_PCMA;
	s.codecs.n = 2;
	err = branch_copy(cd, &cd->b[cd->n++], &s, parent->codec, doc_url);
	cxml_sip_uri_free(u);
	return err;
}

int call_dial_start(struct call *parent, const struct cxml_dial *d,
		    const char *doc_url, const struct call_dial_then *then,
		    call_whisper_h *whisper, call_dial_done_h *done, void *arg)
{
	struct cdial *cd;
	size_t cap;
	int err = 0;

	if (!parent || !d || !done)
		return EINVAL;
	cap = d->nnouns < MAX_BRANCHES ? d->nnouns : MAX_BRANCHES;
	cd = calloc(1, sizeof(*cd) + cap * sizeof(cd->b[0]));
	if (!cd)
		return ENOMEM;
	cd->cap = cap;
	cd->parent = call_ref(parent);
	cd->whisper = whisper;
	cd->done = done;
	cd->arg = arg;
	cd->timeout_s = d->timeout;
	cd->time_limit_s = d->time_limit;
	cd->answer_on_bridge = d->answer_on_bridge;
	cd->sequential = d->sequential;
	call_sid_new(cd->group);
	cd->caller_id = d->caller_id ? strdup(d->caller_id) : NULL;
	cd->rec = rec_make(d, doc_url, then);
	cd->ring_timer = evtimer_new(parent->cl->base, on_ring_timeout, cd);
	cd->limit_timer = evtimer_new(parent->cl->base, on_time_limit, cd);
	if (!cd->ring_timer || !cd->limit_timer || (d->caller_id && !cd->caller_id)) {
		cdial_free(cd);
		return ENOMEM;
	}
	log_refusals(parent, "Dial", d->refused, d->nrefused);
	not_executed(parent, d);
	for (size_t i = 0; i < d->nnouns && cd->n < cd->cap && !err; i++) {
		const struct cxml_noun *n = &d->nouns[i];

		if (n->type == CXML_NOUN_NUMBER) {
			err = number_branch(cd, &n->u.number, doc_url);
			continue;
		}
		if (n->type != CXML_NOUN_SIP) {
			skipped(parent, 13224, cxml_noun_name(n->type),
				"not dialled by this dialerd");
			continue;
		}
		log_refusals(parent, "Sip", n->u.sip.uri.refused,
			     n->u.sip.uri.nrefused);
		if (n->u.sip.uri.srtp) {
			skipped(parent, 12200, n->u.sip.uri.target,
				"SRTP (;secure=true) is not offered by this dialerd");
			continue;
		}
		err = branch_copy(cd, &cd->b[cd->n++], &n->u.sip,
				  parent->codec, doc_url);
	}
	if (err) {
		cdial_free(cd);
		return err;
	}
	/* the caller hears ringing while the children ring (answerOnBridge),
	 * else is answered now: the media is relayed from the start */
	if (parent->dir == CALL_INBOUND && !parent->answer_sent) {
		if (cd->answer_on_bridge)
			(void)dial_inbound_ring(parent->cl->dial, parent->sid, 180);
		else
			call_answer(parent);
	}
	if (!cd->sequential)
		arm(cd->ring_timer, cd->timeout_s);
	parent->dial = cd;
	start_more(cd);
	return 0;
}

int call_dial_adopt(struct call *parent, const struct call_dial_adopted *a,
		    call_dial_done_h *done, void *arg)
{
	struct call *child = a->child;
	struct hdrset *h;
	struct cdial *cd;
	struct branch *b;
	int err = 0;

	if (!parent || !child || !done)
		return EINVAL;
	cd = calloc(1, sizeof(*cd) + sizeof(cd->b[0]));
	if (!cd)
		return ENOMEM;
	cd->cap = cd->n = cd->next = cd->live = 1;
	cd->parent = call_ref(parent);
	cd->done = done;
	cd->arg = arg;
	cd->time_limit_s = a->time_limit_s;
	cd->limit_timer = evtimer_new(parent->cl->base, on_time_limit, cd);
	if (!cd->limit_timer)
		err = ENOMEM;
	snprintf(cd->group, sizeof(cd->group), "%s", child->dial_group);
	b = &cd->b[0];
	b->cd = cd;
	b->child = call_ref(child);
	b->started = b->answered = true;
	b->status = CALL_IN_PROGRESS;
	b->code = a->code ? a->code : 200;
	if (child->sip_call_id)
		snprintf(b->sip_call_id, sizeof(b->sip_call_id), "%s",
			 child->sip_call_id);
	h = &cd->final_hdrs;
	for (size_t i = 0; !err && i < a->nhdrs && i < MAX_HDRS; i++) {
		if (!hdrset_room(h)) {
			err = ENOMEM;
			break;
		}
		h->names[h->n] = strdup(a->hdr_names[i]);
		h->values[h->n] = strdup(a->hdr_values[i]);
		if (!h->names[h->n] || !h->values[h->n]) {
			free(h->names[h->n]);
			free(h->values[h->n]);
			err = ENOMEM;
			break;
		}
		h->n++;
	}
	if (err) {
		cdial_free(cd);
		return err;
	}
	cd->winner = cd->decider = b;
	cd->answered_us = child->answered_us;
	cd->bridged = true;	/* the engine binds the relay again */
	child->leg_h = on_child;
	child->leg_arg = b;
	child->branch = 0;
	arm(cd->limit_timer, a->time_left_s > 0 ? a->time_left_s : 1);
	parent->dial = cd;
	return 0;
}

const char *call_dial_action(const struct call *parent)
{
	const struct cdial *cd = parent->dial;

	return cd && cd->rec ? cd->rec->action : NULL;
}

void call_dial_abort(struct call *parent)
{
	struct cdial *cd = parent->dial;

	if (!cd || cd->over)
		return;
	cd->caller_gone = true;
	if (cd->ring_timer)
		event_del(cd->ring_timer);
	event_del(cd->limit_timer);
	if (!cd->live) {
		finish(cd);
		return;
	}
	for (size_t i = 0; i < cd->n; i++)
		hangup_branch(&cd->b[i], CALL_CAUSE_CANCELED);
}
