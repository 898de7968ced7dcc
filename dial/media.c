/* media.c: relayed media of legs: a socket pair per leg, its far end from the SDPs received, the bridge command, counters at the end */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "dial/internal.h"

/*
 * A leg that asked for relayed media (dial_leg_params.relay,
 * dial_answer_params.relay) gets its endpoint (relay.c) when its first SDP
 * is built: the INVITE's offer, or the inbound 200's answer (our offer for
 * a late-offer INVITE). Every forked leg has its own; the losers' close
 * when they end. The far end's address comes from every SDP received on
 * the leg (183, 200, re-INVITE, ACK of a late offer; the INVITE's offer
 * when we answer): the latch resets only when that address changes.
 */

int dial_leg_media_open(struct leg *leg)
{
	struct dial *d = leg->d;
	int err;

	if (leg->media)
		return 0;
	/* bound on the listen address (always local), while the SDP may
	   advertise media_addr (e.g. a public address in front of a NAT) */
	err = dial_media_alloc(&leg->media, &d->laddr, d->conf.rtp_port_min,
			       d->conf.rtp_port_max);
	if (err) {
		dial_log(LOG_WARNING, "leg=%s: relay sockets from %u-%u on "
			 "%j: %s", leg->id, d->conf.rtp_port_min,
			 d->conf.rtp_port_max, &d->laddr, strerror(err));
		return err;
	}
	dial_media_owner_set(leg->media, leg);
	leg->port = sa_port(dial_media_local(leg->media));
	return 0;
}

void dial_leg_media_sdp(struct leg *leg, const struct dial_sdp *sdp)
{
	struct sa a;

	if (!leg->media || !sdp || !sdp->present || !sdp->port ||
	    !sdp->addr[0])
		return;
	sa_init(&a, AF_UNSPEC);
	if (sa_set_str(&a, sdp->addr, sdp->port) || sa_is_any(&a)) {
		/* a host name, or 0.0.0.0 (hold): keep what we have */
		return;
	}
	if (dial_media_remote_is(leg->media, &a))
		return;
	(void)dial_media_remote_set(leg->media, &a, NULL, false);
	dial_log(LOG_DEBUG, "leg=%s: far end's media at %J", leg->id, &a);
}

void dial_leg_media_end(struct leg *leg, struct dial_event *ev)
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
	leg->media = mem_deref(leg->media);	/* ends the bridge */
}

static struct leg *live(struct dial *d, const char *id)
{
	struct leg *leg = dial_leg_find(d, id);

	return leg && leg->state != LEG_ENDED ? leg : NULL;
}

void dial_bridge_run(struct dial *d, const struct cmd *c)
{
	struct leg *a = live(d, c->id);
	struct leg *b = c->type == CMD_BRIDGE ? live(d, c->id2) : NULL;
	struct dial_event *ev;
	int err = 0;

	if (!a || (c->type == CMD_BRIDGE && !b))
		err = ENOENT;
	else if (!a->media || (c->type == CMD_BRIDGE && !b->media))
		err = ENOTSUP;
	else if (c->type == CMD_BRIDGE)
		err = dial_media_bridge(a->media, b->media);
	else
		dial_media_unbridge(a->media);

	if (err)
		dial_log(LOG_WARNING, "%s %s%s%s: %s", c->type == CMD_BRIDGE ?
			 "bridge" : "unbridge", c->id, c->type == CMD_BRIDGE ?
			 " " : "", c->type == CMD_BRIDGE ? c->id2 : "",
			 strerror(err));
	else
		dial_log(LOG_INFO, "leg=%s: %s%s", c->id, c->type ==
			 CMD_BRIDGE ? "media bridged to " : "media unbridged",
			 c->type == CMD_BRIDGE ? c->id2 : "");

	ev = dial_event_bare(DIAL_EV_BRIDGED, c->id);
	if (!ev)
		return;
	if (a)
		ev->outbound = a->outbound;
	if (c->type == CMD_BRIDGE)
		snprintf(ev->bridged, sizeof(ev->bridged), "%s", c->id2);
	ev->err = err;
	dial_emit(d, ev);
}
