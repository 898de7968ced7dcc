/* leg.c: the leg object: life, tables by id, Call-ID and fork group, its events and end, the linger of ended legs, RTP ports */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * A leg is one SIP dialog of ours, outgoing (out.c) or inbound (in.c). It
 * is found by its id (the daemon's commands) and by every Call-ID it used
 * (the messages: a 422 or a 401 retry gets a new one). An ended leg
 * lingers for linger_ms so that late messages (retransmitted 200s, BYEs
 * that crossed ours) still map to it. It owns its media endpoint: the
 * destructor closes it.
 */

uint32_t dial_leg_buckets(const struct dial *d)
{
	uint32_t hs = d->conf.hash_size;

	return hs <= (1u << 20) / 16 ? hs * 16 : hs;
}

uint16_t dial_leg_port_next(struct dial *d)
{
	uint32_t lo = d->conf.rtp_port_min, hi = d->conf.rtp_port_max;
	uint32_t span = (hi - lo) / 2 + 1;
	uint16_t port = (uint16_t)(lo + 2 * (d->next_port % span));

	d->next_port++;
	return port;
}

int dial_leg_tables_alloc(struct dial *d)
{
	/* ended legs stay here for the 32 s linger: at 5,000 calls/s each way
	 * both tables hold ~10^5 entries, and with the stack's 16,384 buckets
	 * their lookups took 16 % of the SIP thread (bench/dial/run). A fork
	 * group lives as long as its last leg, so there is one a <Dial> of the
	 * last 32 s: ~32,000 at 1,000 calls/s, 31 a chain in the 1,024
	 * buckets it had (0.6 % of dialerd's CPU, string compares) */
	uint32_t legs = dial_leg_buckets(d);
	int err;

	err = hash_alloc(&d->ht_id, legs);
	if (!err)
		err = hash_alloc(&d->ht_cid, legs);
	if (!err)
		err = hash_alloc(&d->ht_grp, legs / 4 > 1024 ? legs / 4 : 1024);
	return err;
}

static void cid_destructor(void *arg)
{
	struct cid *c = arg;

	hash_unlink(&c->he);
	list_unlink(&c->le);
}

static bool cid_cmp(struct le *le, void *arg)
{
	const struct cid *c = le->data;
	const struct pl *pl = arg;

	return c->len == pl->l && !memcmp(c->callid, pl->p, pl->l);
}

struct leg *dial_leg_cid_find(struct dial *d, const char *callid, size_t len)
{
	struct pl pl;
	struct cid *c;

	if (!callid || !len)
		return NULL;
	pl.p = callid;
	pl.l = len;
	c = list_ledata(hash_lookup(d->ht_cid, hash_joaat((const uint8_t *)callid,
							 len),
				    cid_cmp, &pl));
	return c ? c->leg : NULL;
}

int dial_leg_cid_add(struct leg *leg, const char *callid, size_t len)
{
	struct cid *c;

	if (!callid || !len)
		return EINVAL;
	if (dial_leg_cid_find(leg->d, callid, len))
		return 0;
	c = mem_zalloc(sizeof(*c) + len + 1, cid_destructor);
	if (!c)
		return ENOMEM;
	memcpy(c->callid, callid, len);
	c->callid[len] = '\0';
	c->len = len;
	c->leg = leg;
	hash_append(leg->d->ht_cid, hash_joaat((const uint8_t *)callid, len),
		    &c->he, c);
	list_append(&leg->cids, &c->le, c);
	return 0;
}

static bool id_cmp(struct le *le, void *arg)
{
	const struct leg *leg = le->data;

	return !strcmp(leg->id, arg);
}

struct leg *dial_leg_find(struct dial *d, const char *id)
{
	return list_ledata(hash_lookup(d->ht_id, hash_joaat_str(id), id_cmp,
				       (void *)(uintptr_t)id));
}

static void group_destructor(void *arg)
{
	struct group *g = arg;

	hash_unlink(&g->he);
}

static void leg_destructor(void *arg)
{
	struct leg *leg = arg;

	tmr_cancel(&leg->tmr);
	mem_deref(leg->insecure_host);
	leg->media = mem_deref(leg->media);
	leg->adopt = mem_deref(leg->adopt);
	hash_unlink(&leg->he);
	list_unlink(&leg->le_linger);
	if (leg->grp) {
		list_unlink(&leg->le_grp);
		if (!leg->grp->legs.head)
			mem_deref(leg->grp);
	}
	list_flush(&leg->cids);
	leg->upd = mem_deref(leg->upd);
	leg->sess = mem_deref(leg->sess);
	mem_deref(leg->inv);
	mem_deref((void *)leg->msg);
	free(leg->offer);
	free(leg->cancel_reason);
	free(leg->refused);
	dial_leg_spec_free(leg->spec);
	dial_event_free(leg->last_rx);
	dial_event_free(leg->end_ev);
}

static bool grp_cmp(struct le *le, void *arg)
{
	const struct group *g = le->data;

	return !strcmp(g->name, arg);
}

int dial_leg_alloc(struct leg **legp, struct dial *d, const char *id,
		   bool outbound)
{
	struct leg *leg;

	leg = mem_zalloc(sizeof(*leg), leg_destructor);
	if (!leg)
		return ENOMEM;
	leg->d = d;
	leg->outbound = outbound;
	snprintf(leg->id, sizeof(leg->id), "%s", id);
	hash_append(d->ht_id, hash_joaat_str(leg->id), &leg->he, leg);
	*legp = leg;
	return 0;
}

int dial_leg_group(struct leg *leg, const char *name)
{
	struct dial *d = leg->d;
	struct group *g;

	if (!name || !name[0])
		return 0;
	g = list_ledata(hash_lookup(d->ht_grp, hash_joaat_str(name), grp_cmp,
				    (void *)(uintptr_t)name));
	if (!g) {
		g = mem_zalloc(sizeof(*g), group_destructor);
		if (!g)
			return ENOMEM;
		snprintf(g->name, sizeof(g->name), "%s", name);
		hash_append(d->ht_grp, hash_joaat_str(g->name), &g->he, g);
	}
	else {
		/* a group whose legs all ended is a new Dial's group */
		bool live = false;

		for (struct le *le = g->legs.head; le && !live; le = le->next)
			live = ((struct leg *)le->data)->state != LEG_ENDED;
		if (!live)
			g->won = false;
	}
	leg->grp = g;
	list_append(&g->legs, &leg->le_grp, leg);
	return 0;
}

void dial_leg_stamp(const struct leg *leg, struct dial_event *ev)
{
	snprintf(ev->leg_id, sizeof(ev->leg_id), "%s", leg->id);
	if (leg->grp)
		snprintf(ev->group, sizeof(ev->group), "%s", leg->grp->name);
	ev->outbound = leg->outbound;
}

static struct dial_event *leg_event_finish(const struct leg *leg,
					    struct dial_event *ev,
					    enum dial_ev_type type)
{
	if (!ev)
		return NULL;
	dial_leg_stamp(leg, ev);
	if (type != DIAL_EV_SIP)
		ev->dir = leg->outbound ? DIAL_DIR_TX : DIAL_DIR_RX;
	return ev;
}

struct dial_event *dial_leg_event(struct leg *leg, enum dial_ev_type type,
				  bool from_last_rx)
{
	struct dial_event *ev;

	if (from_last_rx && leg->last_rx) {
		ev = dial_event_clone(leg->last_rx, type);
		if (ev)
			ev->time_us = 0;	/* now, not the message's time */
	}
	else {
		ev = dial_event_bare(type, leg->id);
	}
	return leg_event_finish(leg, ev, type);
}

struct dial_event *dial_leg_event_take(struct leg *leg, enum dial_ev_type type)
{
	struct dial_event *ev = leg->last_rx;

	if (!ev)
		return dial_leg_event(leg, type, false);
	leg->last_rx = NULL;
	ev->type = type;
	ev->time_us = 0;	/* now, not the message's time */
	ev->next = NULL;
	return leg_event_finish(leg, ev, type);
}

/* The media counters (and the bridged leg) into the ENDED event; the
 * sockets close, which ends the bridge. */
static void media_end(struct leg *leg, struct dial_event *ev)
{
	if (!leg->media)
		return;
	if (ev) {
		struct dial_media *o = dial_media_bridged(leg->media);
		struct leg *ol = dial_media_owner(o);

		dial_media_stats_get(leg->media, &ev->media);
		if (ol)
			snprintf(ev->bridged, sizeof(ev->bridged), "%s",
				 ol->id);
	}
	leg->media = mem_deref(leg->media);
}

void dial_leg_emit(struct leg *leg, struct dial_event *ev)
{
	dial_evq_emit(&leg->d->evq, ev);
}

void dial_leg_end(struct leg *leg, struct dial_event *ev, enum dial_end end,
		  uint16_t code, int err, bool local)
{
	struct dial *d = leg->d;

	if (leg->state == LEG_ENDED) {
		dial_event_free(ev);
		return;
	}
	if (!ev)
		ev = dial_event_bare(DIAL_EV_ENDED, leg->id);
	if (ev) {
		ev->type = DIAL_EV_ENDED;
		dial_leg_stamp(leg, ev);
		ev->dir = leg->outbound ? DIAL_DIR_TX : DIAL_DIR_RX;
		ev->end = end;
		ev->code = code;
		ev->err = err;
		ev->local = local;
		ev->time_us = 0;
		if (leg->refused) {
			snprintf(ev->peer, sizeof(ev->peer), "%s",
				 leg->refused->peer);
			snprintf(ev->transport, sizeof(ev->transport), "%s",
				 leg->refused->tp);
		}
	}
	media_end(leg, ev);	/* counters, sockets closed */
	if (ev)
		dial_evq_emit(&d->evq, ev);
	/* the daemon logs the DIAL_EV_ENDED event at info */
	dial_log(LOG_DEBUG, "leg=%s ended: %s code=%u err=%d %s", leg->id,
		 dial_end_name(end), code, err, local ? "local" : "remote");
	if (leg->outbound) {
		if (d->nout)
			d->nout--;
	}
	else if (d->nin) {
		d->nin--;
	}
	atomic_fetch_add_explicit(&d->ctr.st_legs_ended, 1, memory_order_relaxed);
	leg->state = LEG_ENDED;
	tmr_cancel(&leg->tmr);
	dial_leg_spec_free(leg->spec);
	leg->spec = NULL;
	free(leg->offer);
	leg->offer = NULL;
	free(leg->cancel_reason);
	leg->cancel_reason = NULL;
	free(leg->refused);
	leg->refused = NULL;
	leg->end_ev = dial_event_free(leg->end_ev);
	/* a lingering leg only maps late messages: keep it small */
	leg->last_rx = dial_event_free(leg->last_rx);
	leg->inv = mem_deref(leg->inv);
	leg->ended_ms = tmr_jiffies();
	list_append(&d->linger, &leg->le_linger, leg);
}

void dial_leg_sweep(struct dial *d, bool all)
{
	uint64_t now = tmr_jiffies();
	struct le *le;

	while ((le = d->linger.head)) {
		struct leg *leg = le->data;

		if (!all && leg->ended_ms + d->conf.linger_ms > now)
			break;
		list_unlink(&leg->le_linger);
		/* last_rx etc. go; the session (if still held) ends now */
		mem_deref(leg);
	}
	if (!all)
		return;
	hash_flush(d->ht_id);
}

void dial_leg_spec_trim(struct leg_spec *s)
{
	if (!s)
		return;
	free(s->uri);
	free(s->from_name);
	free(s->from_host);
	free(s->media_addr);
	free(s->hdrs);
	s->uri = s->from_name = s->from_host = s->media_addr = s->hdrs = NULL;
}

void dial_leg_spec_free(struct leg_spec *s)
{
	if (!s)
		return;
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->uri);
	free(s->from_user);
	free(s->from_name);
	free(s->from_host);
	free(s->username);
	free(s->password);
	free(s->media_addr);
	free(s->hdrs);
	free(s);
}

