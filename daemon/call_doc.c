/* call_doc.c: a call's cXML document: fetch, parse, run the verbs one by
 * one; the fallback URL when a fetch or the document fails; the caller's
 * leg (answer, hang-up) while the document runs
 *
 * A document runs on a call until a verb hands it on (<Redirect>, a
 * <Dial action>) or it ends, and then the call is hung up. Verbs that
 * need a media engine (<Say>, <Play>, <Gather>, <Record>) are parsed,
 * reported as warning 12200 "not executed" and skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cxml/cxml.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "dial/dial.h"

struct doc {
	struct call *c;
	struct cxml_doc *tree;
	size_t pc;			/* the verb running or next */
	char *url;			/* the document's URL: relative ones
					 * resolve against it */
	char *kind;			/* of the fetch in flight */
	bool get;
	/* the fetch's own parameters, for its fallback; NULL: none. Not
	 * in the struct: its 96 slots (1.6 KiB) would stay with every call
	 * for its whole life, and a voice fetch has none */
	struct call_params *extra;
	struct webhook_fetch *fetch;
	struct event *pause;
	bool fallback_tried;
	bool record_only;		/* the caller is gone: store, don't run */
	bool hangup_on_answer;		/* <Hangup> before the answer */
	bool dialing;
	/* the running <Dial>'s action, resolved: the tree is let go while
	 * it runs (below, release_tree) */
	char *action_url;
	bool action_get;
	bool whisper;			/* a <Sip url> document: ends with
					 * c->whisper_done, not a hang-up */
	/* a REST redirect waiting for the <Dial> to end: a URL or a tree */
	bool redirect;
	char *redirect_url;
	bool redirect_get;
	struct cxml_doc *redirect_tree;
};

static void run(struct doc *d);

/* The text of the document run() walks now, when it has it (a fetch's
 * answer, a REST Twiml): a <Dial> without an action records it so that a
 * restart can go on after the <Dial> (call_dial_then). Not kept in the
 * doc: a held call would carry its document for its whole life. */
static struct {
	const struct doc *d;
	const char *text;
	size_t len;
} walking;

/* The largest document a <Dial>'s child records (a call_events detail). */
#define THEN_DOC_MAX 16384

static void run_text(struct doc *d, const char *text, size_t len)
{
	const struct doc *pd = walking.d;
	const char *pt = walking.text;
	size_t pl = walking.len;

	walking.d = d;
	walking.text = text;
	walking.len = len;
	run(d);
	walking.d = pd;		/* a walk inside another's */
	walking.text = pt;
	walking.len = pl;
}
static int call_doc_whisper(struct call *child, const char *url, bool get,
			    const struct call_params *extra);

static void extra_drop(struct doc *d)
{
	if (d->extra)
		call_params_free(d->extra);
	free(d->extra);
	d->extra = NULL;
}

/* Keeps a copy of a fetch's own parameters; none: nothing kept. */
static int extra_keep(struct doc *d, const struct call_params *extra)
{
	if (extra == d->extra)
		return 0;
	extra_drop(d);
	if (!extra || !extra->n)
		return 0;
	d->extra = malloc(sizeof(*d->extra));
	if (!d->extra)
		return ENOMEM;
	call_params_init(d->extra);
	call_params_append(d->extra, extra);
	return 0;
}

static void doc_free(struct doc *d)
{
	if (d->fetch)
		webhook_fetch_cancel(d->fetch);
	if (d->pause)
		event_free(d->pause);
	d->tree = cxml_doc_free(d->tree);
	d->redirect_tree = cxml_doc_free(d->redirect_tree);
	extra_drop(d);
	free(d->url);
	free(d->kind);
	free(d->redirect_url);
	free(d->action_url);
	d->c->doc = NULL;
	call_unref(d->c);
	free(d);
}

/* A whisper is over: the <Dial> goes on (bridge, or not on hangup). */
static void whisper_end(struct doc *d, bool hangup)
{
	struct call *c = d->c;

	if (c->whisper_done)
		c->whisper_done(c, hangup, c->whisper_arg);
	doc_free(d);
}

/* Nothing more can happen on this document. */
static void doc_maybe_free(struct doc *d)
{
	if (!d->fetch && !d->dialing && (d->c->leg_ended || !d->c->has_leg))
		doc_free(d);
}

static void leg_hangup(struct call *c, uint16_t code, int cxml_code)
{
	struct dial_reason r = {.present = cxml_code != 0, .cause = 500};

	snprintf(r.protocol, sizeof(r.protocol), "SIP");
	snprintf(r.text, sizeof(r.text), "cXML error %d", cxml_code);
	if (c->leg_up)
		dial_leg_hangup(c->cl->dial, c->sid, r.present ? &r : NULL);
	else if (code)
		dial_inbound_reject(c->cl->dial, c->sid, code, r.present ? &r : NULL);
	else
		dial_leg_hangup(c->cl->dial, c->sid, NULL);
}

/* The document cannot go on: 500 before the answer, BYE after, with the
 * code in a Reason header; the call ends failed. */
static void fail(struct doc *d, int code, const char *why)
{
	struct call *c = d->c;
	char detail[300];

	log_write(LOG_WARNING, "call", c->sid, "cXML error %d: %s", code, why);
	snprintf(detail, sizeof(detail), "{\"code\":%d}", code);
	call_log_event(c->cl->store, c, c->ev_seq++, "cxml-error",
		       (uint16_t)0, detail);
	if (!c->leg_ended)
		leg_hangup(c, 500, code);
	call_status_set(c, CALL_FAILED, 500);
}

static void on_fetched(const struct webhook_result *r, void *arg);

static int fetch(struct doc *d, const char *kind, const char *url, bool get,
		 const struct call_params *extra)
{
	struct call_params p;
	char *abs = NULL;
	int err;

	err = webhook_url_resolve(d->url, url, &abs);
	if (err)
		return err;
	call_params_init(&p);
	/* an action requested after the caller hung up reports the call
	 * over, whether it had been answered or not */
	if (d->record_only)
		call_params_add(&p, "CallStatus", "completed");
	call_params_standard(d->c, &p);
	call_params_append(&p, extra);
	err = call_fetch(d->c, kind, abs, get, &p, on_fetched, d, &d->fetch);
	call_params_free(&p);
	if (!err) {
		free(d->kind);
		d->kind = strdup(kind);
		d->get = get;
		/* without them a fallback would go without the action's
		 * Dial* parameters: logged, the fetch itself stands */
		if (extra_keep(d, extra))
			log_write(LOG_WARNING, "call", d->c->sid, "out of memory: "
				  "a fallback of this %s would lack its "
				  "parameters", kind);
		free(d->url);
		d->url = abs;
		abs = NULL;
	}
	free(abs);
	return err;
}

/* The fallback, once per call, with ErrorCode and ErrorUrl. */
static bool fallback(struct doc *d, int code)
{
	const struct config *cfg = d->c->cl->cfg;
	const char *url = d->c->fallback_url;
	bool get = d->c->fallback_get;
	struct call_params p;
	bool ok;

	if (!url && d->c->dir == CALL_INBOUND) {
		url = cfg->voice_fallback_url;
		get = strcmp(cfg->voice_method, "GET") == 0;
	}
	if (d->fallback_tried || !url || d->record_only)
		return false;
	d->fallback_tried = true;
	call_params_init(&p);
	call_params_append(&p, d->extra);
	call_params_addf(&p, "ErrorCode", "%d", code);
	call_params_add(&p, "ErrorUrl", d->url ? d->url : "");
	ok = fetch(d, "fallback", url, get, &p) == 0;
	call_params_free(&p);
	return ok;
}

/* Parses a document for c, its diagnostics logged; *code: the first
 * error's cXML code when it does not parse. */
static int parse(struct call *c, const char *body, size_t len,
		 struct cxml_doc **tree, int *code)
{
	struct cxml_diags diags = {0};
	int err;

	err = cxml_parse_once(body, len, c->cl->pol, tree, &diags);
	for (size_t i = 0; i < diags.n; i++)
		log_write(diags.v[i].sev == CXML_ERROR ? LOG_WARNING : LOG_INFO,
			  "call", c->sid, "cXML %s %d line %u: %s",
			  diags.v[i].sev == CXML_ERROR ? "error" : "warning",
			  diags.v[i].code, diags.v[i].line, diags.v[i].msg);
	if (err) {
		const struct cxml_diag *e = cxml_diags_first_error(&diags);

		*code = e ? e->code : 12100;
		err = EBADMSG;
	}
	cxml_diags_free(&diags);
	return err;
}

static void on_fetched(const struct webhook_result *r, void *arg)
{
	struct doc *d = arg;
	struct cxml_doc *tree = NULL;
	int err, code = 0;

	d->fetch = NULL;
	if (d->record_only || d->c->leg_ended) {
		/* an action after the caller hung up: its answer is stored
		 * (the request itself is a webhook_requests row), not run */
		call_log_event_text(d->c->cl->store, d->c, d->c->ev_seq++,
				    "document-not-run", (uint16_t)0, "body",
				    r->body, r->body_len);
		doc_maybe_free(d);
		return;
	}
	if (r->code && d->whisper) {
		/* a screening document that cannot be had does not stop the
		 * call: recorded, and the bridge goes ahead */
		char detail[64];

		snprintf(detail, sizeof(detail), "{\"code\":%d}", (int)r->code);
		call_log_event(d->c->cl->store, d->c, d->c->ev_seq++,
			       "cxml-error", 0, detail);
		whisper_end(d, false);
		return;
	}
	if (r->code) {
		if (!fallback(d, r->code)) {
			fail(d, r->code, r->error);
			doc_maybe_free(d);
		}
		return;
	}
	err = parse(d->c, r->body, r->body_len, &tree, &code);
	if (err && d->whisper) {
		whisper_end(d, false);
		return;
	}
	if (err) {
		if (!fallback(d, code)) {
			fail(d, code, "invalid document");
			doc_maybe_free(d);
		}
		return;
	}
	cxml_doc_free(d->tree);
	d->tree = tree;
	d->pc = 0;
	run_text(d, r->body, r->body_len);
}

/* The REST redirect takes over: its tree runs now, or its URL is
 * fetched. */
static void redirect_start(struct doc *d)
{
	d->redirect = false;
	d->record_only = false;
	d->fallback_tried = false;
	if (d->redirect_tree) {
		cxml_doc_free(d->tree);
		d->tree = d->redirect_tree;
		d->redirect_tree = NULL;
		d->pc = 0;
		run(d);
		return;
	}
	d->tree = cxml_doc_free(d->tree);
	if (fetch(d, "redirect", d->redirect_url, d->redirect_get, NULL) != 0)
		fail(d, 11200, "bad redirect URL");
	free(d->redirect_url);
	d->redirect_url = NULL;
}

/*
 * A <Dial action> hands the call to the action's document: no verb after
 * it can run. While the <Dial> runs (a held call's whole life) the call
 * keeps the action's URL, not the tree, the largest piece of the daemon's
 * memory per held call (1.6 KiB for a typical document). The <Dial>'s
 * state copied what it needs from the tree. Only when the <Dial> is still
 * running: one that ended at once has already moved the document on.
 */
static void release_tree(struct doc *d, const struct cxml_dial *dv)
{
	/* resolved once, by the <Dial> (call_dial.c) */
	const char *action = d->dialing ? call_dial_action(d->c) : NULL;
	char *abs;

	if (!action || !(abs = strdup(action)))
		return;		/* the tree stays, as it did */
	free(d->action_url);
	d->action_url = abs;
	d->action_get = dv->method == CXML_GET;
	d->tree = cxml_doc_free(d->tree);
}

static void on_dial_done(struct call *c, const struct call_params *p,
			 bool caller_gone, void *arg)
{
	struct doc *d = arg;
	char *kept = d->action_url;	/* the tree let go: its action */
	const char *action = kept;
	bool get = d->action_get;

	(void)c;
	d->action_url = NULL;
	if (!kept && d->tree) {
		const struct cxml_dial *dv = &d->tree->verbs[d->pc].u.dial;

		action = dv->action;
		get = dv->method == CXML_GET;
	}
	d->dialing = false;
	d->pc++;
	if (d->redirect && !c->leg_ended) {
		/* the API moved the call on: no action request */
		free(kept);
		redirect_start(d);
		return;
	}
	if (action) {
		d->record_only = caller_gone;
		if (fetch(d, "action", action, get, p) == 0) {
			free(kept);
			return;
		}
		/* with the tree let go, nothing follows: the call hangs up */
		log_write(LOG_WARNING, "call", d->c->sid,
			  "Dial action %s cannot be requested", action);
	}
	free(kept);
	if (caller_gone)
		doc_maybe_free(d);
	else
		run(d);
}

static void on_pause(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run(arg);
}

/* <Hangup> and the end of a document: an unanswered caller is answered
 * first (BYE may follow only the ACK of our 200: RFC 3261 §15). */
static void hangup(struct doc *d)
{
	struct call *c = d->c;

	if (c->leg_ended)
		return;
	if (c->leg_up) {
		dial_leg_hangup(c->cl->dial, c->sid, NULL);
		return;
	}
	d->hangup_on_answer = true;
	call_answer(c);
}

static void reject(struct doc *d, const struct cxml_reject *r)
{
	struct call *c = d->c;
	uint16_t code = r->reason == CXML_REJECT_BUSY ? 486 : 603;

	if (c->leg_up) {
		hangup(d);
		return;
	}
	dial_inbound_reject(c->cl->dial, c->sid, code, NULL);
	call_status_set(c, CALL_BUSY, code);
}

static void not_executed(struct doc *d, const struct cxml_verb *v)
{
	char detail[128];

	log_write(LOG_NOTICE, "call", d->c->sid, "<%s> (line %u) is not "
		  "executed by this dialerd (12200); skipped",
		  cxml_verb_name(v->type), v->line);
	snprintf(detail, sizeof(detail), "{\"code\":12200,\"verb\":\"%s\"}",
		 cxml_verb_name(v->type));
	call_log_event(d->c->cl->store, d->c, d->c->ev_seq++, "cxml-warning",
		       0, detail);
}

/* What a <Dial> at d->pc without an action records of the document: its
 * text, when run() walks it with it, whole in a call_events detail, and
 * verbs follow. */
static const struct call_dial_then *then_of(const struct doc *d)
{
	static struct call_dial_then t;

	if (walking.d != d || !walking.text || walking.len > THEN_DOC_MAX ||
	    d->tree->verbs[d->pc].u.dial.action ||
	    d->pc + 1 >= d->tree->nverbs ||
	    !json_text_exact(walking.text, walking.len))
		return NULL;
	t.doc = walking.text;
	t.len = walking.len;
	t.verb = (int)d->pc + 1;
	return &t;
}

/* Runs verbs until one has to wait for something. */
static void run(struct doc *d)
{
	struct call *c = d->c;

	while (!c->leg_ended && d->tree && d->pc < d->tree->nverbs) {
		const struct cxml_verb *v = &d->tree->verbs[d->pc];
		struct timeval tv = {0, 0};

		if (d->whisper && (v->type == CXML_VERB_HANGUP ||
				   v->type == CXML_VERB_REJECT)) {
			whisper_end(d, true);
			return;
		}
		switch (v->type) {
		case CXML_VERB_DIAL:
			if (d->whisper) {	/* not allowed in a whisper */
				not_executed(d, v);
				break;
			}
			d->dialing = true;
			if (call_dial_start(c, &v->u.dial, d->url, then_of(d),
					    call_doc_whisper, on_dial_done,
					    d) == 0) {
				release_tree(d, &v->u.dial);
				return;
			}
			d->dialing = false;
			break;
		case CXML_VERB_HANGUP:
			d->pc = d->tree->nverbs;
			hangup(d);
			return;
		case CXML_VERB_REJECT:
			d->pc = d->tree->nverbs;
			reject(d, &v->u.reject);
			return;
		case CXML_VERB_PAUSE:
			d->pc++;
			tv.tv_sec = v->u.pause.length;
			if (!d->pause)
				d->pause = evtimer_new(c->cl->base, on_pause, d);
			if (d->pause && evtimer_add(d->pause, &tv) == 0)
				return;
			continue;
		case CXML_VERB_REDIRECT:
			d->pc = d->tree->nverbs;
			if (fetch(d, "redirect", v->u.redirect.url,
				  v->u.redirect.method == CXML_GET, NULL) == 0)
				return;
			fail(d, 11200, "bad Redirect URL");
			return;
		default:
			not_executed(d, v);
			break;
		}
		d->pc++;
	}
	if (d->whisper) {
		whisper_end(d, false);
		return;
	}
	/* the end of the document hangs up */
	hangup(d);
}

/* The caller's leg while a document runs on it. */
static void on_leg(struct call *c, const struct dial_event *ev, void *arg)
{
	struct doc *d = arg;

	switch (ev->type) {
	case DIAL_EV_ANSWERED:
		c->leg_up = true;
		call_status_set(c, CALL_IN_PROGRESS, 200);
		if (d->hangup_on_answer)
			dial_leg_hangup(c->cl->dial, c->sid, NULL);
		break;
	case DIAL_EV_ADOPTED:
		if (ev->err == EADDRINUSE)	/* no media: see call_dial.c */
			dial_leg_hangup(c->cl->dial, c->sid, NULL);
		break;
	case DIAL_EV_ENDED:
		c->leg_up = false;
		if (ev->code && ev->code >= 300 && !c->sip_code)
			c->sip_code = ev->code;
		/* a caller who gives up before the answer got our 487
		 * (RFC 3261 §9.2) */
		if (c->answered_us)
			call_status_set(c, CALL_COMPLETED, 0);
		else if (c->api_ended)
			call_status_set(c, CALL_CANCELED, 0);
		else if (ev->local)
			call_status_set(c, CALL_FAILED, 0);
		else
			call_status_set(c, CALL_CANCELED, 487);
		if (d->pause)
			event_del(d->pause);
		call_dial_abort(c);
		doc_maybe_free(d);
		break;
	default:
		break;
	}
}

/* The document of a call, made when it has none yet; its leg is driven
 * by the document from now on. */
static struct doc *doc_of(struct call *c)
{
	struct doc *d = c->doc;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->c = call_ref(c);
	c->doc = d;
	c->leg_h = on_leg;
	c->leg_arg = d;
	return d;
}

int call_doc_fetch(struct call *c, const char *kind, const char *url,
		   bool get, const struct call_params *extra)
{
	struct doc *d = doc_of(c);
	int err;

	if (!d)
		return ENOMEM;
	err = fetch(d, kind, url, get, extra);
	if (err)
		doc_maybe_free(d);
	return err;
}

/* call_whisper_h: the <Sip url> document on an answered child; the
 * <Dial> keeps driving the child's leg. */
static int call_doc_whisper(struct call *child, const char *url, bool get,
			    const struct call_params *extra)
{
	struct doc *d;
	int err;

	if (child->doc)
		return EBUSY;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->c = call_ref(child);
	d->whisper = true;
	child->doc = d;
	err = fetch(d, "whisper", url, get, extra);
	if (err)
		doc_free(d);
	return err;
}

int call_doc_run(struct call *c, const char *body, size_t len, int *code)
{
	struct cxml_doc *tree = NULL;
	struct doc *d;

	if (parse(c, body, len, &tree, code))
		return EBADMSG;
	d = doc_of(c);
	if (!d) {
		cxml_doc_free(tree);
		return ENOMEM;
	}
	cxml_doc_free(d->tree);
	d->tree = tree;
	d->pc = 0;
	run_text(d, body, len);
	return 0;
}

/* The document after an adopted <Dial> without an action, as its child
 * recorded it: the tree at the <Dial> (on_dial_done steps past it). Any
 * doubt: nothing (the call hangs up when the <Dial> ends). */
static void then_take(struct doc *d, const struct call_dial_record *r)
{
	struct cxml_doc *tree = NULL;
	struct cxml_diags diags = {0};
	int err;

	if (!r->then_doc || !r->then_url || r->then_verb < 1)
		return;
	/* not parse(): its warnings were logged when the dead process ran
	 * it, and the log would have them twice */
	err = cxml_parse_once(r->then_doc, strlen(r->then_doc), d->c->cl->pol,
			      &tree, &diags);
	cxml_diags_free(&diags);
	if (err || (size_t)r->then_verb > tree->nverbs ||
	    tree->verbs[r->then_verb - 1].type != CXML_VERB_DIAL ||
	    !(d->url = strdup(r->then_url))) {
		log_write(LOG_WARNING, "call", d->c->sid, "the document after "
			  "the adopted <Dial> cannot be taken up: the call "
			  "ends with the <Dial>");
		cxml_doc_free(tree);
		return;
	}
	d->tree = tree;
	d->pc = (size_t)r->then_verb - 1;
}

int call_doc_adopt(struct call *parent, const struct call_dial_record *r,
		   const struct call_dial_adopted *a)
{
	struct doc *d = doc_of(parent);
	int err;

	if (!d)
		return ENOMEM;
	if (r->action && !(d->action_url = strdup(r->action))) {
		doc_free(d);
		return ENOMEM;
	}
	d->action_get = r->action_get;
	if (!r->action)
		then_take(d, r);
	d->dialing = true;
	err = call_dial_adopt(parent, a, on_dial_done, d);
	if (err) {
		d->dialing = false;
		doc_free(d);
	}
	return err;
}

int call_doc_redirect(struct call *c, const char *url, bool get,
		      const char *twiml, int *code)
{
	struct cxml_doc *tree = NULL;
	char *u = NULL;
	struct doc *d = c->doc;

	if (!d || d->whisper || c->leg_ended || (!url && !twiml))
		return EINVAL;
	if (!url && parse(c, twiml, strlen(twiml), &tree, code))
		return EBADMSG;
	if (url && !(u = strdup(url)))
		return ENOMEM;
	log_write(LOG_INFO, "call", c->sid, "redirected by the API to %s",
		  url ? url : "an inline document");
	call_log_event_text(c->cl->store, c, c->ev_seq++, "api-redirect", 0,
			    "url", url ? url : "", url ? strlen(url) : 0);
	cxml_doc_free(d->redirect_tree);
	free(d->redirect_url);
	d->redirect_tree = tree;
	d->redirect_url = u;
	d->redirect_get = get;
	d->redirect = true;
	d->hangup_on_answer = false;
	if (d->fetch) {
		webhook_fetch_cancel(d->fetch);
		d->fetch = NULL;
	}
	if (d->pause)
		event_del(d->pause);
	if (d->dialing) {
		/* its branches hang up; on_dial_done starts the redirect */
		call_dial_abort(c);
		return 0;
	}
	redirect_start(d);
	return 0;
}
