/* call.c: the call table, SIDs, status changes and their status callbacks
 *
 * A call lives in the table from call_new until its final status; timers,
 * transfers and children that point at it hold references, so it is
 * freed only when the last of them lets go. Status callbacks are
 * deliveries through the webhook outbox, numbered by SequenceNumber per
 * call from 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/random.h"
#include "dial/dial.h"
#include "store/store.h"

static int64_t wall_us(void)	/* CLOCK_REALTIME */
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The instance id of new SIDs (main thread; set before the first call) */
static unsigned sid_instance = 1;

void call_sid_instance_set(unsigned id)
{
	sid_instance = id & 0xffffu;
}

void call_sid_new(char sid[40])
{
	uint64_t rnd;

	/* the shape, and why in time order: dial_sid_format */
	random_bytes(&rnd, sizeof(rnd));
	dial_sid_format(sid, sid_instance, (uint64_t)wall_us() / 1000, rnd);
}

unsigned call_sid_instance(const char *sid)
{
	unsigned id = 0;

	if (!sid || sid[0] != 'C' || sid[1] != 'A' || strlen(sid) != 34)
		return 0;
	for (int i = 2; i < 34; i++) {
		char ch = sid[i];
		unsigned v;

		if (ch >= '0' && ch <= '9')
			v = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v = (unsigned)(ch - 'A' + 10);
		else
			return 0;
		if (i < 6)
			id = id * 16 + v;
	}
	return id;
}

static void call_free(struct call *c)
{
	free(c->from);
	free(c->to);
	free(c->caller_name);
	free(c->forwarded_from);
	free(c->sip_call_id);
	for (size_t i = 0; i < c->nhdrs; i++) {
		free(c->hdr_names[i]);
		free(c->hdr_values[i]);
	}
	free(c->hdr_names);
	free(c->hdr_values);
	free(c->cb.url);
	free(c->dial_status);
	free(c->fallback_url);
	if (c->se_timer)
		event_free(c->se_timer);
	if (c->limit_timer)
		event_free(c->limit_timer);
	if (c->parent)
		call_unref(c->parent);
	free(c);
}

struct call *call_ref(struct call *c)
{
	if (c)
		c->refs++;
	return c;
}

struct call *call_unref(struct call *c)
{
	if (c && --c->refs == 0)
		call_free(c);
	return NULL;
}

int call_new(struct call_layer *cl, const char *sid, enum call_direction dir,
	     struct call *parent, struct call **cp)
{
	struct call *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	if (sid)
		snprintf(c->sid, sizeof(c->sid), "%s", sid);
	else
		call_sid_new(c->sid);
	if (smap_find(&cl->calls, c->sid)) {
		free(c);
		return EEXIST;
	}
	c->node.key = c->sid;
	if (smap_insert(&cl->calls, &c->node)) {
		free(c);
		return ENOMEM;
	}
	c->cl = cl;
	c->refs = 1;
	c->dir = dir;
	c->parent = call_ref(parent);
	c->status = CALL_QUEUED;
	c->created_us = wall_us();
	c->branch = -1;
	cl->ncalls++;
	cl->started++;
	*cp = c;
	return 0;
}

struct call *call_find(struct call_layer *cl, const char *sid)
{
	return (struct call *)smap_find(&cl->calls, sid);
}

static void recent_pop(struct call_layer *cl)
{
	struct call *c = cl->recent_head;

	cl->recent_head = c->recent_next;
	if (!cl->recent_head)
		cl->recent_tail = NULL;
	smap_remove(&cl->recent, &c->node);
	cl->nrecent--;
	call_unref(c);
}

/* How long an ended call is kept: what the REST API answers from memory,
 * and at least the 32 s in which its leg's last messages may still come
 * (the 200 to our BYE, a retransmitted BYE: RFC 3261 timer F). */
static int64_t recent_us(const struct call_layer *cl)
{
	unsigned s = cl->cfg->api_recent_seconds;

	return (int64_t)(s > CALL_LINGER_S ? s : CALL_LINGER_S) * 1000000;
}

/* Lets go of recent calls past their time or over the count. */
static void recent_expire(struct call_layer *cl, int64_t now)
{
	while (cl->recent_head &&
	       (cl->nrecent > CALL_RECENT_MAX ||
		now - cl->recent_head->ended_us > recent_us(cl)))
		recent_pop(cl);
}

/* Takes over the table's reference of a call that left it. */
static void recent_add(struct call_layer *cl, struct call *c)
{
	c->recent_next = NULL;
	if (smap_insert(&cl->recent, &c->node)) {
		call_unref(c);
		return;
	}
	if (cl->recent_tail)
		cl->recent_tail->recent_next = c;
	else
		cl->recent_head = c;
	cl->recent_tail = c;
	cl->nrecent++;
	recent_expire(cl, wall_us());
}

struct call *call_lookup(struct call_layer *cl, const char *sid)
{
	struct call *c = call_find(cl, sid);
	int64_t now = wall_us();

	if (c)
		return c;
	recent_expire(cl, now);
	c = (struct call *)smap_find(&cl->recent, sid);
	return c && now - c->ended_us <=
		(int64_t)cl->cfg->api_recent_seconds * 1000000 ? c : NULL;
}

void call_layer_recent_clear(struct call_layer *cl)
{
	while (cl->recent_head)
		recent_pop(cl);
}

void call_params_standard(const struct call *c, struct call_params *p)
{
	const struct config *cfg = c->cl->cfg;

	call_params_add(p, "CallSid", c->sid);
	call_params_add(p, "AccountSid", cfg->account_sid ? cfg->account_sid : "");
	call_params_add(p, "From", c->from ? c->from : "");
	call_params_add(p, "To", c->to ? c->to : "");
	call_params_add(p, "Caller", c->from ? c->from : "");
	call_params_add(p, "Called", c->to ? c->to : "");
	call_params_add(p, "CallStatus", call_status_name(c->status));
	call_params_add(p, "ApiVersion", "2010-04-01");
	call_params_add(p, "Direction", c->dir == CALL_INBOUND ? "inbound" :
			c->dir == CALL_OUTBOUND_API ? "outbound-api" : "outbound-dial");
	if (c->parent)
		call_params_add(p, "ParentCallSid", c->parent->sid);
	if (c->caller_name && *c->caller_name)
		call_params_add(p, "CallerName", c->caller_name);
	if (c->forwarded_from && *c->forwarded_from)
		call_params_add(p, "ForwardedFrom", c->forwarded_from);
	if (c->sip_call_id)
		call_params_add(p, "SipCallId", c->sip_call_id);
	if (c->source_ip[0])
		call_params_add(p, "SipSourceIp", c->source_ip);
	call_params_sip_headers(p, "SipHeader_", (const char *const *)c->hdr_names,
				(const char *const *)c->hdr_values, c->nhdrs);
}

int call_fetch(struct call *c, const char *kind, const char *url, bool get,
	       const struct call_params *p, webhook_done_h *done, void *arg,
	       struct webhook_fetch **fp)
{
	struct webhook_req req = {
		.call_sid = c->sid,
		.root_sid = call_root_sid(c),
		.kind = kind,
		.sequence_number = c->fetch_seq++,
		.method = get ? WEBHOOK_GET : WEBHOOK_POST,
		.url = url,
		.params = p->v,
		.nparams = p->n,
	};

	if (!c->cl->wh)
		return ENODEV;
	return webhook_fetch(c->cl->wh, &req, NULL, done, arg, fp);
}

void call_answer(struct call *c)
{
	struct dial_answer_params ap = {.relay = true};
	enum dial_codec codec;

	if (c->answer_sent || c->leg_ended || c->dir != CALL_INBOUND)
		return;
	if (dial_codec_parse(c->codec, &codec) == 0) {
		ap.codecv = &codec;
		ap.codecc = 1;
	}
	c->answer_sent = true;
	if (dial_inbound_answer(c->cl->dial, c->sid, &ap))
		log_write(LOG_ERR, "call", c->sid, "cannot answer");
}

void call_log_snapshot(struct call *c)
{
	call_log_call(c->cl->store, c, wall_us());
}

static unsigned cb_event_of(enum call_status st)
{
	switch (st) {
	case CALL_INITIATED:
		return CALL_CB_INITIATED;
	case CALL_RINGING:
		return CALL_CB_RINGING;
	case CALL_IN_PROGRESS:
		return CALL_CB_ANSWERED;
	case CALL_QUEUED:
		return 0;
	default:
		return CALL_CB_COMPLETED;
	}
}

/* The status callback of this change: standard parameters plus
 * CallbackSource, SequenceNumber, Timestamp, and the SIP code and
 * durations on the final one. */
static void callback(struct call *c, enum call_status st, uint16_t code)
{
	struct call_params p;
	struct webhook_req req;
	char ts[64];
	int64_t now = wall_us();
	int err;

	if (!c->cb.url || !(c->cb.events & cb_event_of(st)) || !c->cl->ob)
		return;
	call_params_init(&p);
	call_params_standard(c, &p);
	call_params_add(&p, "CallbackSource", "call-progress-events");
	call_params_addf(&p, "SequenceNumber", "%u", c->cb_seq);
	call_params_time(now, ts, sizeof(ts));
	call_params_add(&p, "Timestamp", ts);
	if (code) {
		call_params_addf(&p, "SipResponseCode", "%u", code);
		call_params_addf(&p, "SipResultCode", "%u", code);
	}
	if (call_status_final(st)) {
		long secs = c->answered_us ?
			    (long)((c->ended_us - c->answered_us + 999999) / 1000000) : 0;

		call_params_addf(&p, "CallDuration", "%ld", secs);
		call_params_addf(&p, "Duration", "%ld", (secs + 59) / 60);
	}
	memset(&req, 0, sizeof(req));
	req.call_sid = c->sid;
	req.root_sid = call_root_sid(c);
	req.kind = "status-callback";
	req.sequence_number = c->cb_seq++;
	req.method = c->cb.get ? WEBHOOK_GET : WEBHOOK_POST;
	req.url = c->cb.url;
	req.params = p.v;
	req.nparams = p.n;
	err = webhook_outbox_add(c->cl->ob, &req);
	if (err)
		log_write(LOG_ERR, "call", c->sid,
			  "status callback %s not accepted: %s",
			  call_status_name(st), strerror(err));
	call_params_free(&p);
}

/* {"status_callback":{"url":..,"method":..,"events":[..]},
 *  "time_limit":N,
 *  "dial":{"action":..,"method":..,"time_limit":N,
 *          "then":{"url":..,"verb":N,"doc":..}}}: the first status event
 * of a call carries what survives a crash: the status callback's
 * subscription (`dialerd takeover` sends the terminal callback) and what
 * the restart that adopts the call goes on with: a REST call's TimeLimit,
 * a <Dial> child's <Dial> (a password in a URL is kept as ***, like
 * webhook_requests.url). malloc'd, or NULL. */
static char *first_detail(const struct call *c)
{
	static const char *const names[] = {
		"initiated", "ringing", "answered", "completed",
	};
	char url[2048];
	struct json j;
	const char *t;
	char *out = NULL;
	size_t len;

	json_init(&j);
	json_obj(&j);
	if (c->cb.url) {
		webhook_url_redact(c->cb.url, url, sizeof(url));
		json_key(&j, "status_callback");
		json_obj(&j);
		json_kstr(&j, "url", url);
		json_kstr(&j, "method", c->cb.get ? "GET" : "POST");
		json_key(&j, "events");
		json_arr(&j);
		for (unsigned i = 0; i < 4; i++)
			if (c->cb.events & (1u << i))
				json_str(&j, names[i]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	if (c->time_limit_s)
		json_kint(&j, "time_limit", c->time_limit_s);
	if (c->dial_rec) {
		const struct call_dial_record *r = c->dial_rec;

		json_key(&j, "dial");
		json_obj(&j);
		if (r->action) {
			webhook_url_redact(r->action, url, sizeof(url));
			json_kstr(&j, "action", url);
		}
		json_kstr(&j, "method", r->action_get ? "GET" : "POST");
		json_kint(&j, "time_limit", r->time_limit);
		if (r->then_doc && r->then_url) {
			json_key(&j, "then");
			json_obj(&j);
			webhook_url_redact(r->then_url, url, sizeof(url));
			json_kstr(&j, "url", url);
			json_kint(&j, "verb", r->then_verb);
			json_kstr(&j, "doc", r->then_doc);
			json_obj_end(&j);
		}
		json_obj_end(&j);
	}
	json_obj_end(&j);
	t = json_text(&j, &len);
	if (t)
		out = strndup(t, len);
	json_fini(&j);
	return out;
}

/* A call leaves the table once its status is final and its SIP leg (if
 * it had one) has ended: the leg's last messages (the 200 to our BYE)
 * still find it and are logged. */
static void leave(struct call *c)
{
	struct call_layer *cl = c->cl;

	if (!call_status_final(c->status) || (c->has_leg && !c->leg_ended) ||
	    c->left)
		return;
	c->left = true;
	smap_remove(&cl->calls, &c->node);
	cl->ncalls--;
	cl->ended++;
	if (c->limit_timer)
		event_del(c->limit_timer);
	recent_add(cl, c);
}

void call_forget(struct call *c)
{
	struct call_layer *cl = c->cl;

	if (c->left)
		return;
	c->left = true;
	smap_remove(&cl->calls, &c->node);
	cl->ncalls--;
	cl->started--;
	call_unref(c);
}

void call_status_set(struct call *c, enum call_status st, uint16_t code)
{
	struct call_layer *cl = c->cl;
	int64_t now = wall_us();

	if (call_status_final(c->status) || st == c->status)
		return;
	c->status = st;
	if (code)
		c->sip_code = code;
	if (st == CALL_RINGING && !c->ringing_us)
		c->ringing_us = now;
	if (st == CALL_IN_PROGRESS && !c->answered_us)
		c->answered_us = now;
	if (call_status_final(st) && !c->ended_us)	/* set: call_adopt's */
		c->ended_us = now;
	/* every status is a call_events row; the text log keeps the final
	 * one at info, the others at debug (log lines were 5 % of the
	 * daemon's CPU in the full-flow profile, most of them progress) */
	log_write(call_status_final(st) ? LOG_INFO : LOG_DEBUG, "call", c->sid,
		  code ? "%s code=%u" : "%s", call_status_name(st), code);
	if ((c->cb.url || c->dial_rec || c->time_limit_s) && !c->cb_logged) {
		/* durable only here (first_detail) */
		char *detail = first_detail(c);

		c->cb_logged = detail != NULL;
		c->dial_rec = NULL;
		call_log_event(cl->store, c, c->ev_seq++, call_status_name(st),
			       code, detail);
		free(detail);
	} else {
		call_log_event(cl->store, c, c->ev_seq++, call_status_name(st),
			       code, NULL);
	}
	call_log_call(cl->store, c, now);
	callback(c, st, code);
	if (call_status_final(st))
		leave(c);
}

/* A relayed leg's media counters, as a call event with a JSON detail. */
static void log_media(struct call *c, const struct dial_event *ev)
{
	const struct dial_media_stats *m = &ev->media;
	char json[640];

	snprintf(json, sizeof(json),
		 "{\"peer\":\"%s\",\"latched\":%s,\"local_port\":%u,"
		 "\"rx_rtp_packets\":%llu,\"rx_rtp_bytes\":%llu,"
		 "\"rx_rtcp_packets\":%llu,\"rx_rtcp_bytes\":%llu,"
		 "\"tx_rtp_packets\":%llu,\"tx_rtp_bytes\":%llu,"
		 "\"tx_rtcp_packets\":%llu,\"tx_rtcp_bytes\":%llu,"
		 "\"dropped\":%llu,\"bridged_to\":\"%s\"}",
		 m->peer, m->latched ? "true" : "false", m->local_port,
		 (unsigned long long)m->rx_rtp_pkts, (unsigned long long)m->rx_rtp_bytes,
		 (unsigned long long)m->rx_rtcp_pkts, (unsigned long long)m->rx_rtcp_bytes,
		 (unsigned long long)m->tx_rtp_pkts, (unsigned long long)m->tx_rtp_bytes,
		 (unsigned long long)m->tx_rtcp_pkts, (unsigned long long)m->tx_rtcp_bytes,
		 (unsigned long long)m->dropped, ev->bridged);
	call_log_event(c->cl->store, c, c->ev_seq++, "media", 0, json);
}

static void on_time_limit(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	struct dial_reason r = {true, "SIP", 200, "Time limit reached"};

	(void)fd;
	(void)what;
	if (c->leg_ended)
		return;
	log_write(LOG_INFO, "call", c->sid, "TimeLimit reached: hanging up");
	dial_leg_hangup(c->cl->dial, c->sid, &r);
}

void call_time_limit(struct call *c, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};

	if (!c->limit_timer)
		c->limit_timer = evtimer_new(c->cl->base, on_time_limit, c);
	if (!c->limit_timer || evtimer_add(c->limit_timer, &tv))
		log_write(LOG_ERR, "call", c->sid, "cannot arm the time limit");
}

/* RFC 4028: the refresher sends a refresh at half the interval; the
 * other side ends the session when none came before the interval is
 * over, minus min(32 s, interval / 3) (§10). */
static void on_session_timer(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	struct dial_reason r = {true, "SIP", 408, "Session timer expired"};

	(void)fd;
	(void)what;
	if (c->leg_ended)
		return;
	if (c->se_local) {
		if (dial_leg_refresh(c->cl->dial, c->sid))
			log_write(LOG_ERR, "call", c->sid, "cannot refresh the session");
		return;
	}
	log_write(LOG_NOTICE, "call", c->sid, "no session refresh within %u s: "
		  "hanging up", c->se);
	dial_leg_hangup(c->cl->dial, c->sid, &r);
}

static void session_arm(struct call *c, const struct dial_event *ev)
{
	struct timeval tv = {0, 0};
	unsigned s;

	if (!ev->session_expires)
		return;
	c->se = ev->session_expires;
	c->se_local = ev->refresher_local;
	s = c->se_local ? c->se / 2 : c->se - (c->se / 3 < 32 ? c->se / 3 : 32);
	/* adopted after a crash: when the last refresh was is not known, so
	 * the refresher refreshes at once */
	if (ev->type == DIAL_EV_ADOPTED && c->se_local)
		s = 1;
	tv.tv_sec = s ? s : 1;
	if (!c->se_timer)
		c->se_timer = evtimer_new(c->cl->base, on_session_timer, c);
	if (c->se_timer)
		evtimer_add(c->se_timer, &tv);
}

bool call_leg_event(struct call_layer *cl, const struct dial_event *ev)
{
	struct call *c = call_find(cl, ev->leg_id);
	struct dial_event gone;

	if (c && ev->type == DIAL_EV_ADOPTED && ev->err && ev->err != EADDRINUSE) {
		/* the engine made no leg of it: the call is over now */
		log_write(LOG_ERR, "call", c->sid, "the restart cannot take its "
			  "leg up again: %s", strerror(ev->err));
		gone = *ev;
		gone.type = DIAL_EV_ENDED;
		gone.local = true;
		gone.end = DIAL_END_FAILED;
		ev = &gone;
	}

	if (!c && ev->type == DIAL_EV_SIP) {
		/* a message after the leg ended (the 200 to our BYE) still
		 * belongs to the call's log */
		c = (struct call *)smap_find(&cl->recent, ev->leg_id);
		if (c) {
			call_log_sip(cl->store, c, c->msg_seq++, ev,
				     cl->cfg->call_log_bodies);
			return true;
		}
	}
	if (!c)
		return false;
	/* an outbound leg's Call-ID is libre's, known from its INVITE's
	 * copy on: the next snapshot stores it (most often the first, as
	 * the INVITE goes out in the batch that inserts the row, so the
	 * update that stores it is rarely one that rewrites every index) */
	if (!c->sip_call_id && ev->call_id)
		c->sip_call_id = strdup(ev->call_id);
	if (ev->type == DIAL_EV_SIP) {
		call_log_sip(cl->store, c, c->msg_seq++, ev,
			     cl->cfg->call_log_bodies);
		return true;
	}
	call_ref(c);
	if (ev->type == DIAL_EV_ANSWERED || ev->type == DIAL_EV_REFRESHED ||
	    ev->type == DIAL_EV_ADOPTED)
		session_arm(c, ev);
	if (ev->type == DIAL_EV_ENDED) {
		c->leg_ended = true;
		c->hangup_by = ev->local ? "local" : "remote";
		if (c->se_timer)
			event_del(c->se_timer);
		if (c->limit_timer)
			event_del(c->limit_timer);
		if (ev->media.relayed)
			log_media(c, ev);
		if (ev->err == EACCES)
			call_log_dest_refused(cl->store, c, c->ev_seq++, ev);
	}
	if (c->leg_h)
		c->leg_h(c, ev, c->leg_arg);
	if (ev->type == DIAL_EV_ENDED)
		leave(c);
	call_unref(c);
	return true;
}
