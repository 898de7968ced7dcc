/* call_inbound.c: the call layer's entry: the SIP engine's events in, an
 * inbound INVITE made a call that fetches voice_url, the rest routed to
 * the call each leg belongs to
 *
 * The voice webhook sees the INVITE as Twilio shows a SIP call: From is
 * the From URI (no display name, no tag), To the Request-URI, CallerName
 * the display name, ForwardedFrom the Diversion URI, SipCallId, SipSourceIp
 * (the address the INVITE came from), and one
 * SipHeader_<name> per policy header (X-*, User-to-User, Remote-Party-ID,
 * P-Preferred-Identity, P-Called-Party-ID, Diversion).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/cxml.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "dial/dial.h"
#include "store/store.h"

static char *dup_uri(const char *hdr)
{
	char buf[512];

	call_params_uri(hdr, buf, sizeof(buf));
	return strdup(buf);
}

/* The address part of "IP:PORT" or "[V6]:PORT". */
static void source_ip(const char *peer, char *out, size_t size)
{
	const char *end;

	if (*peer == '[') {
		end = strchr(peer, ']');
		peer++;
	} else {
		end = strrchr(peer, ':');
	}
	if (!end)
		end = peer + strlen(peer);
	snprintf(out, size, "%.*s", (int)(end - peer), peer);
}

/* The INVITE's facts the webhooks and the call log show. */
static int take_invite(struct call *c, const struct dial_event *ev)
{
	const struct config *cfg = c->cl->cfg;
	const char *div = dial_event_hdr(ev, "Diversion");
	char name[256];
	size_t npolicy = 0;

	c->from = dup_uri(ev->from);
	c->to = strdup(ev->ruri ? ev->ruri : "");
	call_params_display(ev->from, name, sizeof(name));
	c->caller_name = strdup(name);
	c->forwarded_from = div ? dup_uri(div) : NULL;
	c->sip_call_id = ev->call_id ? strdup(ev->call_id) : NULL;
	snprintf(c->codec, sizeof(c->codec), "%s",
		 ev->sdp.present ? ev->sdp.codec : "");
	source_ip(ev->peer, c->source_ip, sizeof(c->source_ip));
	if (!c->from || !c->to || !c->caller_name || (div && !c->forwarded_from) ||
	    (ev->call_id && !c->sip_call_id))
		return ENOMEM;
	/* sized for the policy headers only: the call keeps these arrays
	 * for its whole life, and most of an INVITE's headers are not */
	for (size_t i = 0; i < ev->hdrc; i++)
		npolicy += store_header_is_policy(ev->hdrv[i].name,
						  strlen(ev->hdrv[i].name));
	c->hdr_names = calloc(npolicy ? npolicy : 1, sizeof(char *));
	c->hdr_values = calloc(npolicy ? npolicy : 1, sizeof(char *));
	if (!c->hdr_names || !c->hdr_values)
		return ENOMEM;
	for (size_t i = 0; i < ev->hdrc; i++) {
		const struct dial_hdr *h = &ev->hdrv[i];

		if (!store_header_is_policy(h->name, strlen(h->name)))
			continue;
		c->hdr_names[c->nhdrs] = strdup(h->name);
		c->hdr_values[c->nhdrs] = strdup(h->value);
		if (!c->hdr_names[c->nhdrs] || !c->hdr_values[c->nhdrs])
			return ENOMEM;
		c->nhdrs++;
	}
	if (cfg->status_callback) {
		c->cb.url = strdup(cfg->status_callback);
		if (!c->cb.url)
			return ENOMEM;
		c->cb.get = strcmp(cfg->status_callback_method, "GET") == 0;
		c->cb.events = call_cb_events(cfg->status_callback_event, NULL, NULL);
	}
	return 0;
}

static void inbound(struct call_layer *cl, const struct dial_event *ev)
{
	const struct config *cfg = cl->cfg;
	struct call *c = NULL;
	int err;

	if (cl->draining) {
		struct dial_reason r = {true, "SIP", 503, "Shutting down"};

		dial_inbound_reject(cl->dial, ev->leg_id, 503, &r);
		return;
	}
	err = call_new(cl, ev->leg_id, CALL_INBOUND, NULL, &c);
	if (!err) {
		c->has_leg = true;
		c->started_us = ev->time_us ? (int64_t)ev->time_us : c->created_us;
		err = take_invite(c, ev);
	}
	if (!err) {
		/* the INVITE itself follows as the leg's first DIAL_EV_SIP:
		 * the engine emits INBOUND first so that the call exists */
		call_status_set(c, CALL_RINGING, 0);
		err = call_doc_fetch(c, "voice", cfg->voice_url,
				     strcmp(cfg->voice_method, "GET") == 0, NULL);
	}
	if (err) {
		struct dial_reason r = {true, "SIP", 500, "Internal error"};

		log_write(LOG_ERR, "call", ev->leg_id, "cannot take the call: %s",
			  strerror(err));
		dial_inbound_reject(cl->dial, ev->leg_id, 500, &r);
		if (c)
			call_status_set(c, CALL_FAILED, 500);
	}
}

bool call_layer_event(const struct dial_event *ev, void *arg)
{
	struct call_layer *cl = arg;

	if (ev->type == DIAL_EV_INBOUND) {
		if (!cl->cfg->voice_url || !cl->wh)
			return false;	/* nothing to ask: 480 */
		inbound(cl, ev);
		return true;
	}
	return call_leg_event(cl, ev);
}

static void collect(void *arg)
{
	const struct call_layer *cl = arg;

	metrics_set("dialerd_calls_open", NULL, (double)cl->ncalls);
	metrics_set("dialerd_calls_total", "event=\"started\"", (double)cl->started);
	metrics_set("dialerd_calls_total", "event=\"ended\"", (double)cl->ended);
}

int call_layer_alloc(struct call_layer **clp, struct event_base *base,
		     const struct config *cfg, struct dial *dial,
		     struct webhook *wh, struct webhook_outbox *ob,
		     struct store *store)
{
	static struct cxml_policy pol;
	struct call_layer *cl;

	if (!clp || !base || !cfg || !dial)
		return EINVAL;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return ENOMEM;
	cxml_policy_default(&pol);
	cl->base = base;
	cl->cfg = cfg;
	cl->dial = dial;
	cl->wh = wh;
	cl->ob = ob;
	cl->store = store;
	cl->pol = &pol;
	smap_init(&cl->calls);
	smap_init(&cl->recent);
	metrics_family("dialerd_calls_open", METRICS_GAUGE,
		       "calls (every leg is a call) not yet ended");
	metrics_family("dialerd_calls_total", METRICS_COUNTER,
		       "calls (every leg is a call) started and ended");
	metrics_collector_add(collect, cl);
	*clp = cl;
	return 0;
}

struct call_layer *call_layer_free(struct call_layer *cl)
{
	if (!cl)
		return NULL;
	metrics_collector_remove(collect, cl);
	/* calls still in the table: their legs went with the engine */
	for (size_t i = 0; i < cl->calls.nb; i++) {
		struct smap_node *n = cl->calls.b[i], *next;

		for (; n; n = next) {
			next = n->next;
			call_unref((struct call *)n);
		}
	}
	smap_fini(&cl->calls);
	call_layer_recent_clear(cl);
	smap_fini(&cl->recent);
	free(cl);
	return NULL;
}

void call_layer_drain(struct call_layer *cl)
{
	if (cl)
		cl->draining = true;
}

void call_layer_end_all(struct call_layer *cl)
{
	struct dial_reason r = {true, "SIP", 503, "Shutting down"};

	if (!cl)
		return;
	for (size_t i = 0; i < cl->calls.nb; i++)
		for (struct smap_node *n = cl->calls.b[i]; n; n = n->next) {
			struct call *c = (struct call *)n;

			if (c->has_leg && !c->leg_ended)
				dial_leg_hangup(cl->dial, c->sid, &r);
		}
}

/* Ends the legs of list[0..n) that are still up (see call_layer_abandon);
 * the list holds a reference to each. */
static size_t abandon_list(struct call_layer *cl, struct call **list, size_t n)
{
	size_t ended = 0;

	for (size_t i = 0; i < n; i++) {
		struct call *c = list[i];
		struct dial_event ev;

		if (c->has_leg && !c->leg_ended && !c->left) {
			memset(&ev, 0, sizeof(ev));
			ev.type = DIAL_EV_ENDED;
			snprintf(ev.leg_id, sizeof(ev.leg_id), "%s", c->sid);
			ev.outbound = c->dir != CALL_INBOUND;
			ev.end = DIAL_END_CANCELED;
			ev.local = true;
			ev.err = ETIMEDOUT;
			log_write(LOG_WARNING, "call", c->sid, "the SIP engine did "
				  "not report the end of the leg after it was "
				  "hung up: ended without it");
			if (call_leg_event(cl, &ev))
				ended++;
		}
		call_unref(c);
	}
	return ended;
}

size_t call_layer_abandon(struct call_layer *cl)
{
	struct call **parents, **children;
	size_t np = 0, nc = 0, ended;

	if (!cl || !cl->ncalls)
		return 0;
	/* ending a call takes it out of the table: collect first. Calls
	 * without a parent go first: their end cancels their <Dial>'s
	 * branches (canceled, as when the caller hangs up), and the
	 * branches' ends then close the <Dial> (its action, "dial over") */
	parents = calloc(cl->ncalls, sizeof(*parents));
	children = calloc(cl->ncalls, sizeof(*children));
	if (!parents || !children) {
		free(parents);
		free(children);
		return 0;
	}
	for (size_t i = 0; i < cl->calls.nb; i++)
		for (struct smap_node *n = cl->calls.b[i]; n; n = n->next) {
			struct call *c = (struct call *)n;

			if (c->parent)
				children[nc++] = call_ref(c);
			else
				parents[np++] = call_ref(c);
		}
	ended = abandon_list(cl, parents, np);
	ended += abandon_list(cl, children, nc);
	free(parents);
	free(children);
	return ended;
}

bool call_layer_busy(void *arg)
{
	const struct call_layer *cl = arg;

	return cl && cl->ncalls > 0;
}
