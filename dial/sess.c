/* sess.c: the sipsess handlers that outgoing and inbound legs share: re-INVITEs, answers, establishment, close */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * out.c and in.c hand these to sipsess with the leg as argument. What only
 * an outgoing leg does (a 2xx after our CANCEL or after another fork won,
 * the retry after a 422) is done by out.c's own handlers, which call these
 * for the rest: a handler never reaches up into out.c.
 */

enum { SDP_MAX = 2048 };

static enum dial_end end_of(uint16_t code)
{
	switch (code) {
	case 486:
	case 600:
		return DIAL_END_BUSY;
	case 408:
	case 480:
	case 487:
		return DIAL_END_NO_ANSWER;
	default:
		return code >= 200 && code < 300 ? DIAL_END_COMPLETED :
			DIAL_END_FAILED;
	}
}

void dial_sess_timer_from(struct leg *leg, const struct sip_msg *msg,
			  bool we_are_uac)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
	char val[64], refresher[8];

	leg->peer_update = sip_msg_hdr_has_value(msg, SIP_HDR_ALLOW,
						 "UPDATE");
	if (!h) {
		if (!we_are_uac)
			return;	/* an in-dialog request may omit it */
		leg->se = 0;
		return;
	}
	pl_strcpy(&h->val, val, sizeof(val));
	leg->se = dial_se_parse(val, refresher, sizeof(refresher));
	if (!refresher[0])
		strcpy(refresher, "uac");
	leg->se_local = we_are_uac == !strcasecmp(refresher, "uac");
}

void dial_sess_refreshed(struct leg *leg)
{
	struct dial_event *ev = dial_leg_event(leg, DIAL_EV_REFRESHED, true);

	if (!ev)
		return;
	ev->session_expires = leg->se;
	ev->refresher_local = leg->se_local;
	dial_leg_emit(leg, ev);
}

/* the answer to our offer: a 2xx to our INVITE or re-INVITE, or the ACK
 * to our offer in a 200 (late offer) */
int dial_sess_answer(const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	dial_bridge_msg(leg, msg);	/* libre matched it to the dialog */
	if (leg->state == LEG_UP && msg->scode >= 200 && msg->scode < 300) {
		/* our re-INVITE refresh was answered */
		dial_sess_timer_from(leg, msg, true);
		if (!leg->se && leg->spec)
			leg->se = leg->spec->session_expires;
		dial_sess_refreshed(leg);
	}
	return 0;
}

/* a re-INVITE from the far end (refresh or media change), or the 2xx
 * offer to our late-offer INVITE: answer it */
int dial_sess_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	struct dial *d = leg->d;
	char sdp[SDP_MAX];
	const enum dial_codec *cv = leg->spec ? leg->spec->codecv : NULL;
	size_t cc = leg->spec ? leg->spec->codecc : 0;
	struct mbuf *mb;
	int err;

	/* a re-INVITE libre matched to the dialog (tags, CSeq in order) */
	dial_bridge_msg(leg, msg);
	if (mbuf_get_left(msg->mb))
		err = dial_sdp_answer(sdp, sizeof(sdp),
				      (const char *)mbuf_buf(msg->mb),
				      mbuf_get_left(msg->mb), d->media_addr,
				      leg->port, cv, cc, rand_u64() >> 1,
				      NULL);
	else
		err = dial_sdp_offer(sdp, sizeof(sdp), d->media_addr,
				     leg->port, cv, cc, rand_u64() >> 1);
	if (err)
		return err;
	mb = mbuf_alloc(strlen(sdp));
	if (!mb)
		return ENOMEM;
	(void)mbuf_write_str(mb, sdp);
	mb->pos = 0;
	*descp = mb;
	if (msg->req) {
		dial_sess_timer_from(leg, msg, false);
		dial_sess_refreshed(leg);
	}
	return 0;
}

void dial_sess_estab(const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	struct dial_event *ev;

	if (leg->state == LEG_ENDED)
		return;
	tmr_cancel(&leg->tmr);
	leg->state = LEG_UP;
	if (leg->outbound)
		dial_sess_timer_from(leg, msg, true);
	/* A held call keeps none of what only the set-up needed (about 3 KiB
	 * a call): the INVITE as sent (a CANCEL's source), the caller's
	 * offer (our answer's), the INVITE's parameters (URI, headers), and
	 * the copy of the 200 (or of the caller's ACK), which moves into the
	 * event. */
	leg->inv = mem_deref(leg->inv);
	dial_leg_spec_trim(leg->spec);
	free(leg->offer);
	leg->offer = NULL;
	leg->offer_len = 0;
	ev = dial_leg_event_take(leg, DIAL_EV_ANSWERED);
	if (ev) {
		ev->session_expires = leg->se;
		ev->refresher_local = leg->se_local;
		if (!leg->outbound)
			ev->code = 200;
		dial_leg_emit(leg, ev);
	}
}

void dial_sess_close(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	struct dial_event *ev = NULL;
	enum dial_end end;
	uint16_t code = msg ? msg->scode : 0;

	if (leg->state == LEG_ENDED) {
		leg->sess = mem_deref(leg->sess);
		return;
	}
	if (leg->end_ev && err == ECONNRESET) {
		/* the far end's BYE */
		ev = leg->end_ev;
		leg->end_ev = NULL;
		end = DIAL_END_COMPLETED;
		code = 0;
	}
	else if (msg) {
		ev = dial_leg_event(leg, DIAL_EV_ENDED, true);
		end = leg->hangup_local && code == 487 ? DIAL_END_CANCELED :
			end_of(code);
	}
	else if (leg->state == LEG_UP) {
		end = DIAL_END_COMPLETED;
	}
	else if (leg->hangup_local) {
		end = DIAL_END_CANCELED;
	}
	else if (!leg->outbound) {
		ev = dial_leg_event(leg, DIAL_EV_ENDED, true);
		end = DIAL_END_CANCELED;	/* the caller gave up */
	}
	else {
		end = err == ETIMEDOUT ? DIAL_END_NO_ANSWER : DIAL_END_FAILED;
	}
	leg->sess = mem_deref(leg->sess);
	dial_leg_end(leg, ev, end, code, msg ? 0 : err,
		     leg->hangup_local && end == DIAL_END_CANCELED);
}
