/* bridge.c: relayed media of legs: a media endpoint per leg, its far end from the SDPs received, the bridge between two legs */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * A leg that asked for relayed media (dial_leg_params.relay,
 * dial_answer_params.relay) gets its endpoint (media.c) when its first SDP
 * is built: the INVITE's offer, or the inbound 200's answer (our offer for
 * a late-offer INVITE). Every forked leg has its own; the losers' close
 * when they end. The far end's address comes from every SDP received on
 * the leg (183, 200, re-INVITE, ACK of a late offer; the INVITE's offer
 * when we answer): the latch resets only when that address changes. Only
 * messages libre matched to the leg's dialog or transaction carry that
 * SDP (dial_bridge_msg() from the sipsess handlers): a request with the
 * right Call-ID but another tag, or an old CSeq, is answered 481/500 by
 * libre and must not move the media. The counters go into the leg's ENDED
 * event (leg.c), which closes it.
 */

/* The endpoint is the leg's: strict latching as configured */
static void attach(struct leg *leg)
{
	dial_media_owner_set(leg->media, leg);
	dial_media_latch_strict_set(leg->media, !leg->d->conf.rtp_latch_any);
	leg->port = sa_port(dial_media_local(leg->media));
}

int dial_bridge_open(struct leg *leg)
{
	struct dial *d = leg->d;
	int err;

	if (leg->media)
		return 0;
	/* bound on the listen address (always local), while the SDP may
	   advertise media_addr (e.g. a public address in front of a NAT) */
	err = dial_media_alloc_pooled(&leg->media, d->rtp_pool, &d->laddr,
				      d->conf.rtp_port_min,
				      d->conf.rtp_port_max);
	if (err) {
		dial_log(LOG_WARNING, "leg=%s: relay sockets from %u-%u on "
			 "%j: %s", leg->id, d->conf.rtp_port_min,
			 d->conf.rtp_port_max, &d->laddr, strerror(err));
		return err;
	}
	attach(leg);
	return 0;
}

int dial_bridge_open_at(struct leg *leg, uint16_t port)
{
	struct dial *d = leg->d;
	int err;

	if (leg->media)
		return 0;
	/* the port may lie outside today's range: the far end knows it */
	err = dial_media_alloc_at(&leg->media, d->rtp_pool, &d->laddr, port);
	if (err) {
		dial_log(LOG_WARNING, "leg=%s: relay sockets at %u/%u on %j: %s",
			 leg->id, port, port + 1, &d->laddr, strerror(err));
		return err;
	}
	attach(leg);
	return 0;
}

void dial_bridge_sdp(struct leg *leg, const struct dial_sdp *sdp)
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
	(void)dial_media_remote_set(leg->media, &a, NULL,
				    !leg->d->conf.rtp_latch_any);
	dial_log(LOG_DEBUG, "leg=%s: far end's media at %J", leg->id, &a);
}

void dial_bridge_msg(struct leg *leg, const struct sip_msg *msg)
{
	struct dial_sdp o;

	if (!leg->media || !msg || !msg->mb || !mbuf_get_left(msg->mb))
		return;
	dial_sdp_summary(&o, (const char *)mbuf_buf(msg->mb),
			 mbuf_get_left(msg->mb));
	dial_bridge_sdp(leg, &o);
}

static struct leg *live(struct dial *d, const char *id)
{
	struct leg *leg = dial_leg_find(d, id);

	return leg && leg->state != LEG_ENDED ? leg : NULL;
}

void dial_bridge_run(struct dial *d, const char *id_a, const char *id_b)
{
	struct leg *a = live(d, id_a);
	struct leg *b = id_b ? live(d, id_b) : NULL;
	struct dial_event *ev;
	int err = 0;

	if (!a || (id_b && !b))
		err = ENOENT;
	else if (!a->media || (id_b && !b->media))
		err = ENOTSUP;
	else if (id_b)
		err = dial_media_bridge(a->media, b->media);
	else
		dial_media_unbridge(a->media);

	if (err)
		dial_log(LOG_WARNING, "%s %s%s%s: %s", id_b ? "bridge" :
			 "unbridge", id_a, id_b ? " " : "", id_b ? id_b : "",
			 strerror(err));
	else
		dial_log(LOG_DEBUG, "leg=%s: %s%s", id_a, id_b ?
			 "media bridged to " : "media unbridged",
			 id_b ? id_b : "");

	ev = dial_event_bare(DIAL_EV_BRIDGED, id_a);
	if (!ev)
		return;
	if (a)
		ev->outbound = a->outbound;
	if (id_b)
		snprintf(ev->bridged, sizeof(ev->bridged), "%s", id_b);
	ev->err = err;
	dial_evq_emit(&d->evq, ev);
}
