/* call_api.c: calls the REST API starts ("outbound-api"), and its
 * hang-ups
 *
 * A REST call dials its To first; the document (Url, or the inline Twiml)
 * runs only once the far end answered, on that leg, as Twilio does. Until
 * then this file drives the leg: ringing, the Timeout (then no-answer),
 * and the end of a call that never answered (busy, failed, canceled...).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "dial/dial.h"

struct acall {
	struct call *c;
	char *url;
	bool url_get;
	char *twiml;
	struct event *ring_timer;
	bool timed_out;
	bool answered;
};

static void acall_free(struct acall *a)
{
	if (a->c->leg_arg == a) {
		a->c->leg_h = NULL;
		a->c->leg_arg = NULL;
	}
	if (a->ring_timer)
		event_free(a->ring_timer);
	free(a->url);
	free(a->twiml);
	call_unref(a->c);
	free(a);
}

static void on_ring_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct acall *a = arg;

	(void)fd;
	(void)what;
	if (a->c->leg_ended || a->answered)
		return;
	log_write(LOG_INFO, "call", a->c->sid, "no answer within Timeout: CANCEL");
	a->timed_out = true;
	dial_leg_hangup(a->c->cl->dial, a->c->sid, NULL);
}

/* Answered: the document takes the leg over. */
static void answered(struct acall *a, const struct dial_event *ev)
{
	struct call *c = a->c;
	int err, code = 0;

	a->answered = true;
	event_del(a->ring_timer);
	c->leg_up = true;
	snprintf(c->codec, sizeof(c->codec), "%s",
		 ev->sdp.present ? ev->sdp.codec : "");
	call_status_set(c, CALL_IN_PROGRESS, ev->code ? ev->code : 200);
	if (c->time_limit_s)
		call_time_limit(c, c->time_limit_s);
	if (a->twiml)
		err = call_doc_run(c, a->twiml, strlen(a->twiml), &code);
	else
		err = call_doc_fetch(c, "voice", a->url, a->url_get, NULL);
	if (!err) {
		acall_free(a);	/* the document drives the leg now */
		return;
	}
	log_write(LOG_ERR, "call", c->sid, "cannot run the call's document: %s",
		  strerror(err));
	dial_leg_hangup(c->cl->dial, c->sid, NULL);
}

static void on_leg(struct call *c, const struct dial_event *ev, void *arg)
{
	struct acall *a = arg;

	switch (ev->type) {
	case DIAL_EV_PROGRESS:
		call_status_set(c, CALL_RINGING, ev->code);
		break;
	case DIAL_EV_ANSWERED:
		answered(a, ev);
		break;
	case DIAL_EV_ENDED: {
		struct call_result r = {
			.answered = a->answered,
			.code = a->answered ? 0 : ev->code,
			.err = ev->err,
			.cause = a->timed_out ? CALL_CAUSE_TIMEOUT :
				 c->api_ended ? CALL_CAUSE_CANCELED : CALL_CAUSE_NONE,
		};

		c->leg_up = false;
		call_status_set(c, call_outcome(&r), a->answered ? 0 : ev->code);
		acall_free(a);
		break;
	}
	default:
		break;
	}
}

static int take(struct call *c, struct acall *a, const struct call_api_params *p)
{
	c->from = strdup(p->from_display ? p->from_display : p->from);
	c->to = strdup(p->to);
	if (!c->from || !c->to)
		return ENOMEM;
	if (p->fallback_url && !(c->fallback_url = strdup(p->fallback_url)))
		return ENOMEM;
	c->fallback_get = p->fallback_get;
	if (p->status_callback) {
		c->cb.url = strdup(p->status_callback);
		if (!c->cb.url)
			return ENOMEM;
		c->cb.get = p->status_callback_get;
		c->cb.events = p->events;
	}
	a->c = call_ref(c);
	a->url_get = p->url_get;
	c->time_limit_s = p->time_limit_s;
	if ((p->url && !(a->url = strdup(p->url))) ||
	    (p->twiml && !(a->twiml = strdup(p->twiml))))
		return ENOMEM;
	a->ring_timer = evtimer_new(c->cl->base, on_ring_timeout, a);
	return a->ring_timer ? 0 : ENOMEM;
}

/* Parameters accepted for compatibility but not executed: one warning
 * event each, so that reports show what the application asked for. */
static void warn(struct call *c, const struct call_api_params *p)
{
	for (size_t i = 0; i < p->nwarnings; i++) {
		log_write(LOG_NOTICE, "call", c->sid, "REST parameter %s is "
			  "accepted but not executed by this dialerd",
			  p->warnings[i]);
		call_log_event_text(c->cl->store, c, c->ev_seq++, "api-warning",
				    0, "parameter", p->warnings[i],
				    strlen(p->warnings[i]));
	}
}

/* Room for one more REST call: every leg holds a relay port pair, and a
 * REST call soon dials children too, so creates stop at three quarters of
 * the pairs (or of sip_max_legs); and none while the SIP engine sheds new
 * calls for overload (its INVITEs get 503: dial_overloaded, the engine's
 * own decision). Without this an application's loop of creates outruns
 * the engine, and every call it accepted times out queued. */
static bool room(const struct call_layer *cl)
{
	const struct config *cfg = cl->cfg;
	size_t pairs = (cfg->sip_rtp_ports.max - cfg->sip_rtp_ports.min + 1) / 2;
	size_t cap = pairs * 3 / 4;

	if (cfg->sip_max_legs && cap > cfg->sip_max_legs)
		cap = cfg->sip_max_legs;
	return cl->ncalls < cap && !dial_overloaded(cl->dial);
}

int call_api_start(struct call_layer *cl, const struct call_api_params *p,
		   struct call **cp)
{
	const struct config *cfg = cl->cfg;
	struct dial_hdr hdrs[32];
	struct dial_leg_params lp;
	struct timeval tv = {(time_t)p->timeout_s, 0};
	struct call *c = NULL;
	struct acall *a;
	int err;

	if (cl->draining)
		return ESHUTDOWN;
	if (!room(cl))
		return EAGAIN;
	if (p->nhdrs > sizeof(hdrs) / sizeof(hdrs[0]))
		return E2BIG;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	err = call_new(cl, NULL, CALL_OUTBOUND_API, NULL, &c);
	if (err) {
		free(a);
		return err;
	}
	err = take(c, a, p);
	if (err) {
		/* the call never started: it leaves the table failed */
		if (a->c)
			acall_free(a);
		else
			free(a);
		call_status_set(c, CALL_FAILED, 0);
		return err;
	}
	c->has_leg = true;
	c->leg_h = on_leg;
	c->leg_arg = a;
	warn(c, p);
	for (size_t i = 0; i < p->nhdrs; i++) {
		hdrs[i].name = p->hdr_names[i];
		hdrs[i].value = p->hdr_values[i];
	}
	memset(&lp, 0, sizeof(lp));
	lp.id = c->sid;
	lp.uri = p->to;
	lp.from_user = p->from;
	lp.hdrv = hdrs;
	lp.hdrc = p->nhdrs;
	lp.username = p->username;
	lp.password = p->password;
	lp.session_expires = cfg->sip_session_expires;
	lp.call_sid = c->sid;
	lp.account_sid = cfg->account_sid;
	lp.relay = true;	/* a <Dial> on it bridges through the engine */
	c->started_us = c->created_us;
	call_status_set(c, CALL_INITIATED, 0);
	err = dial_leg_start(cl->dial, &lp);
	if (err) {
		/* refused before anything was sent: no leg, the call failed */
		log_write(LOG_WARNING, "call", c->sid, "cannot dial %s: %s",
			  p->to, strerror(err));
		c->leg_ended = true;
		acall_free(a);
		call_status_set(c, CALL_FAILED, 0);
		*cp = call_ref(c);
		return 0;
	}
	evtimer_add(a->ring_timer, &tv);
	*cp = call_ref(c);
	return 0;
}

bool call_api_hangup(struct call *c, bool only_unanswered)
{
	struct dial_reason r = {true, "SIP", 200, "Call completed via API"};

	if (c->leg_ended || !c->has_leg || call_status_final(c->status))
		return false;
	if (only_unanswered && c->answered_us)
		return false;
	c->api_ended = true;
	log_write(LOG_INFO, "call", c->sid, "hung up by the API (%s)",
		  only_unanswered ? "canceled" : "completed");
	call_log_event(c->cl->store, c, c->ev_seq++, "api-hangup", 0, NULL);
	dial_leg_hangup(c->cl->dial, c->sid, c->answered_us ? &r : NULL);
	return true;
}
