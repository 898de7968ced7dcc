/* adopt.c: dialogs a killed process left up, taken over: rebuilt from their INVITE and 2xx, relay ports bound again, probed, in-dialog requests answered, hang-up and refresh */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * After a kill -9 the next process on the same SIP address and relay
 * ports takes up the answered calls the dead one left (dial_adopt). Each
 * leg's dialog is rebuilt as bye.c rebuilds it for a BYE (dial_dlg_decode:
 * target, route set, To/From with tags, Call-ID, our Contact); its relay
 * pair is bound again at the port our SDP named, its far end's media
 * address taken from the peer's SDP.
 *
 * libre's sipsess cannot take up a dialog it did not set up (its struct is
 * opaque, sipsess_accept answers an INVITE), so an adopted leg has no
 * sipsess: this file is its dialog layer, on libre's transactions.
 * - Requests of the peer reach dial_adopt_req (recv.c's listener runs
 *   before sipsess's, which would answer 481). sip_treplyf answers through
 *   a server transaction: retransmitted requests are absorbed, a final
 *   response to a non-INVITE is sent again. A 2xx to an INVITE is not:
 *   libre's server transaction only waits in Accepted state (RFC 6026), the
 *   2xx is the core's to retransmit until the ACK (RFC 3261 13.3.1.4):
 *   ok_tmr does, and past 64*T1 the leg ends with a BYE.
 * - Our requests (OPTIONS, BYE, UPDATE, re-INVITE) are client
 *   transactions (sip_requestf), their messages events of the leg by
 *   Call-ID (trace), also once it ended: it lingers with its Call-ID.
 *   The ACK of a 2xx to our re-INVITE is ours to send (13.2.2.4), again
 *   for each copy of that 2xx: libre frees an INVITE's client transaction
 *   on its first 2xx, so the copies reach recv.c's response listener.
 * - A leg ends when its BYE goes, as a normal one (out.c): our handle of
 *   a request in flight may go (the lingering leg freed) while libre's
 *   transaction goes on sending it until answered; libre's destructor
 *   only drops our handler then.
 * - The dead process may have answered a BYE just before it died: one
 *   OPTIONS after the adoption asks the peer whether the dialog is still
 *   there (RFC 5057). It waits PROBE_MS: a peer's own request sent while
 *   no process held the dialog (its BYE) comes back within T2 as a
 *   retransmission and settles the leg without one, and a restart's
 *   probes do not all go in its busiest second.
 */

enum {
	SDP_MAX = 2048,
	ACK_WAIT_MS = 64 * SIP_T1,	/* no ACK to our 2xx: the leg ends */
	PROBE_MS = SIP_T2 + 500,	/* the probe after the adoption ... */
	PROBE_SPREAD_MS = 1000,		/* ... plus up to this, per leg */
};

#define ALLOW "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, OPTIONS, INFO\r\n"

struct adopted {
	struct dial_dlg *dlg;
	uint32_t lseq;		/* CSeq of our next request */
	uint32_t rseq;		/* the peer's latest request's (0: none) */
	int codec;		/* our SDP's (enum dial_codec), -1: unknown */
	char maddr[64];		/* our SDP's c= ("": we know no SDP of ours) */
	struct sip_request *req;	/* our refresh in flight */
	bool req_invite;	/* ... a re-INVITE */
	uint32_t ack_cseq;	/* the re-INVITE of ours whose 2xx we ACKed */
	struct sip_request *bye;	/* our BYE in flight */
	struct sip_request *probe;	/* our OPTIONS after the adoption */
	struct tmr probe_tmr;		/* ... until it goes */
	/* our 2xx to the peer's re-INVITE, until its ACK */
	struct mbuf *ok;
	struct sa ok_dst;
	enum sip_transp ok_tp;
	uint32_t ok_cseq;
	uint32_t ok_ms;		/* the next retransmission interval */
	struct tmr ok_tmr;
	struct tmr ok_end;
};

static void adopted_destructor(void *arg)
{
	struct adopted *ad = arg;

	tmr_cancel(&ad->ok_tmr);
	tmr_cancel(&ad->ok_end);
	tmr_cancel(&ad->probe_tmr);
	/* in flight: libre drops their handlers (and ends them quietly) */
	ad->req = mem_deref(ad->req);
	ad->bye = mem_deref(ad->bye);
	ad->probe = mem_deref(ad->probe);
	mem_deref(ad->ok);
	mem_deref(ad->dlg);
}

static void ack_wait_stop(struct adopted *ad)
{
	tmr_cancel(&ad->ok_tmr);
	tmr_cancel(&ad->ok_end);
	ad->ok = mem_deref(ad->ok);
}

/* The leg ends: no 2xx of ours is retransmitted past it. */
static void adopt_end(struct leg *leg, struct dial_event *ev,
		      enum dial_end end, uint16_t code, int err, bool local)
{
	ack_wait_stop(leg->adopt);
	tmr_cancel(&leg->adopt->probe_tmr);
	dial_leg_end(leg, ev, end, code, err, local);
}

/* ---- our requests ---- */

static int send_req(struct leg *leg, struct sip_request **reqp, bool stateful,
		    const char *met, sip_resp_h *resph, const char *hdrs)
{
	const struct dial_dlg *g = leg->adopt->dlg;
	struct uri route;
	struct pl pl;

	if (g->next_hop) {
		pl_set_str(&pl, g->next_hop);
		if (uri_decode(&route, &pl))
			return EBADMSG;
	}
	return sip_requestf(reqp, leg->d->sip, stateful, met, g->target,
			    g->next_hop ? &route : NULL, NULL, NULL, resph,
			    leg, "%s", hdrs);
}

/* Our Contact header: from the message this side sent in the set-up,
 * else our listener (a target refresh's request or 2xx needs one). */
static int contact_print(struct re_printf *pf, void *arg)
{
	const struct leg *leg = arg;
	const struct sa *l = &leg->d->laddr;

	if (leg->adopt->dlg->contact)
		return re_hprintf(pf, "Contact: %s\r\n",
				  leg->adopt->dlg->contact);
	if (sa_af(l) == AF_INET6)
		return re_hprintf(pf, "Contact: <sip:dialerd@[%j]:%u>\r\n", l,
				  sa_port(l));
	return re_hprintf(pf, "Contact: <sip:dialerd@%J>\r\n", l);
}

/* Session-Expires of our 2xx to a refresh (as out.c's UPDATE answer) */
static int timer_print(struct re_printf *pf, void *arg)
{
	const struct leg *leg = arg;

	if (!leg->se)
		return 0;
	return re_hprintf(pf, "Session-Expires: %u;refresher=%s\r\n"
			  "Require: timer\r\n", leg->se,
			  leg->se_local ? "uas" : "uac");
}

/* The leg ended when its BYE went: an answer only gets logged, by the
 * leg lingering until then (freed before, it took our handler along). */
static void bye_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	if (!err && msg && msg->scode < 200)
		return;
	if (err)
		dial_log(LOG_WARNING, "leg=%s: BYE not answered: %s", leg->id,
			 strerror(err));
	else if (msg->scode >= 300)
		dial_log(LOG_NOTICE, "leg=%s: BYE answered %u %r", leg->id,
			 msg->scode, &msg->reason);
}

static int bye_send(struct leg *leg, const struct dial_reason *reason)
{
	struct adopted *ad = leg->adopt;
	char *hdrs = NULL;
	int err;

	err = dial_dlg_bye(&hdrs, ad->dlg, ad->lseq++, reason,
			   leg->d->conf.user_agent);
	if (!err) {
		ad->bye = mem_deref(ad->bye);
		err = send_req(leg, &ad->bye, true, "BYE", bye_resp_h, hdrs);
	}
	mem_deref(hdrs);
	if (err)
		dial_log(LOG_WARNING, "leg=%s: BYE to %s: %s", leg->id,
			 ad->dlg->target, strerror(err));
	return err;
}

void dial_adopt_hangup(struct leg *leg, const struct dial_reason *reason)
{
	if (leg->state == LEG_ENDED)
		return;
	leg->hangup_local = true;
	/* the end now, as a normal leg's (out.c): a peer that is gone would
	   hold it for Timer F, and a bridged pair hung up together could see
	   the second leg's end first, which unbridges the first */
	(void)bye_send(leg, reason);
	adopt_end(leg, NULL, DIAL_END_COMPLETED, 0, 0, true);
}

/* The remote target moves with a target refresh (RFC 3261 12.2: re-INVITE,
 * UPDATE, their 2xx); a Contact that is no SIP URI leaves it. */
static void target_refresh(struct adopted *ad, const struct sip_msg *msg)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	struct sip_addr a;
	struct uri u;
	char *t;

	if (!h || sip_addr_decode(&a, &h->val) || uri_decode(&u, &a.auri) ||
	    pl_strcasecmp(&u.scheme, "sip") || pl_strdup(&t, &a.auri))
		return;
	mem_deref(ad->dlg->target);
	ad->dlg->target = t;
}

/* RFC 4028 from a message of the dialog; an Allow-less one leaves what
 * we know of the peer's UPDATE (sess.c would read it as "no UPDATE"). */
static void timer_from(struct leg *leg, const struct sip_msg *msg, bool uac)
{
	bool upd = leg->peer_update;

	dial_sess_timer_from(leg, msg, uac);
	if (!sip_msg_hdr(msg, SIP_HDR_ALLOW))
		leg->peer_update = upd;
}

static void ack_send(struct leg *leg, uint32_t cseq)
{
	struct adopted *ad = leg->adopt;
	char *hdrs = NULL;
	int err;

	ad->ack_cseq = cseq;
	err = dial_dlg_request(&hdrs, ad->dlg, "ACK", cseq, NULL, NULL,
			       leg->d->conf.user_agent);
	if (!err)
		err = send_req(leg, NULL, false, "ACK", NULL, hdrs);
	mem_deref(hdrs);
	if (err)
		dial_log(LOG_WARNING, "leg=%s: ACK: %s", leg->id, strerror(err));
}

/* A refresh that failed as a normal leg's does (sipsess, sess.c): 481 and
 * 408 end the leg (a BYE after a 408), a timeout too. */
static void refresh_failed(struct leg *leg, int err,
			   const struct sip_msg *msg)
{
	uint16_t code = msg ? msg->scode : 0;

	if (code && code != 408 && code != 481) {
		dial_log(LOG_NOTICE, "leg=%s: refresh got %u %r", leg->id, code,
			 &msg->reason);
		return;
	}
	if (code)
		dial_log(LOG_NOTICE, "leg=%s: refresh got %u: the dialog ends",
			 leg->id, code);
	else
		dial_log(LOG_NOTICE, "leg=%s: refresh failed: %s: the dialog "
			 "ends", leg->id, strerror(err));
	if (code != 481)
		(void)bye_send(leg, NULL);
	if (code)
		adopt_end(leg, dial_leg_event(leg, DIAL_EV_ENDED, true),
			  code == 408 ? DIAL_END_NO_ANSWER : DIAL_END_FAILED,
			  code, 0, false);
	else
		adopt_end(leg, NULL, DIAL_END_COMPLETED, 0, err, false);
}

static void refresh_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	struct adopted *ad = leg->adopt;

	if (!err && msg && msg->scode < 200)
		return;
	if (!err && msg->scode < 300) {
		target_refresh(ad, msg);
		if (ad->req_invite)
			ack_send(leg, msg->cseq.num);
		if (leg->state == LEG_ENDED)
			return;
		if (ad->req_invite)
			dial_bridge_msg(leg, msg);	/* the answer */
		timer_from(leg, msg, true);
		dial_sess_refreshed(leg);
		return;
	}
	if (leg->state != LEG_ENDED)
		refresh_failed(leg, err, msg);
}

void dial_adopt_refresh(struct leg *leg)
{
	struct adopted *ad = leg->adopt;
	const char *met = leg->peer_update ? "UPDATE" : "INVITE";
	enum dial_codec c = (enum dial_codec)ad->codec;
	char sdp[SDP_MAX], *extra = NULL, *hdrs = NULL;
	int err = 0;

	if (leg->state != LEG_UP || ad->req)
		return;
	if (!leg->peer_update && !ad->maddr[0]) {
		dial_log(LOG_WARNING, "leg=%s: no refresh: the peer has no "
			 "UPDATE and our SDP is unknown", leg->id);
		return;
	}
	/* RFC 4028 §9: UPDATE without a body refreshes cheaply */
	if (!leg->peer_update)
		err = dial_sdp_offer(sdp, sizeof(sdp), ad->maddr, leg->port,
				     &c, ad->codec < 0 ? 0 : 1,
				     rand_u64() >> 1);
	if (!err)
		err = re_sdprintf(&extra, "%H"
				  "Session-Expires: %u;refresher=uac\r\n"
				  "Supported: timer\r\n"
				  ALLOW, contact_print, leg,
				  leg->se ? leg->se : 1800);
	if (!err)
		err = dial_dlg_request(&hdrs, ad->dlg, met, ad->lseq++, extra,
				       leg->peer_update ? NULL : sdp,
				       leg->d->conf.user_agent);
	if (!err) {
		ad->req_invite = !leg->peer_update;
		err = send_req(leg, &ad->req, true, met, refresh_resp_h, hdrs);
	}
	mem_deref(extra);
	mem_deref(hdrs);
	if (err)
		dial_log(LOG_WARNING, "leg=%s: session refresh: %s", leg->id,
			 strerror(err));
}

/* ---- the peer's requests ---- */

static bool tag_is(const struct pl *pl, const char *s)
{
	size_t n = strlen(s);

	return pl->l == n && (!n || !memcmp(pl->p, s, n));
}

/* A 2xx to a target refresh (re-INVITE, UPDATE) names our Contact and
 * the session timer as agreed now. */
static int reply(struct leg *leg, const struct sip_msg *msg, bool refresh,
		 const char *sdp, struct mbuf **mbp)
{
	return sip_treplyf(NULL, mbp, leg->d->sip, msg, false, 200, "OK",
			   "%H%H%s%s"
			   "Supported: timer\r\n"
			   ALLOW
			   "Content-Length: %zu\r\n"
			   "\r\n"
			   "%s",
			   refresh ? contact_print : NULL, leg,
			   refresh ? timer_print : NULL, leg,
			   refresh ? "" : "Accept: application/sdp\r\n",
			   sdp ? "Content-Type: application/sdp\r\n" : "",
			   sdp ? strlen(sdp) : (size_t)0, sdp ? sdp : "");
}

/* Our SDP for an offer's answer (or our offer when the request has
 * none): our relay port, the codec our first SDP chose. */
static int sdp_of(char *sdp, size_t size, const struct leg *leg,
		  const struct sip_msg *msg)
{
	const struct adopted *ad = leg->adopt;
	enum dial_codec c = (enum dial_codec)ad->codec;
	size_t cc = ad->codec < 0 ? 0 : 1;

	if (!ad->maddr[0])
		return ENOTSUP;	/* no SDP of ours known: nothing to say */
	if (mbuf_get_left(msg->mb))
		return dial_sdp_answer(sdp, size,
				       (const char *)mbuf_buf(msg->mb),
				       mbuf_get_left(msg->mb), ad->maddr,
				       leg->port, &c, cc, rand_u64() >> 1,
				       NULL);
	return dial_sdp_offer(sdp, size, ad->maddr, leg->port, &c, cc,
			      rand_u64() >> 1);
}

static void ok_retransmit_h(void *arg)
{
	struct leg *leg = arg;
	struct adopted *ad = leg->adopt;

	if (!ad->ok)
		return;
	ad->ok->pos = 0;
	(void)sip_send(leg->d->sip, NULL, ad->ok_tp, &ad->ok_dst, ad->ok);
	ad->ok_ms = ad->ok_ms * 2 < SIP_T2 ? ad->ok_ms * 2 : SIP_T2;
	tmr_start(&ad->ok_tmr, ad->ok_ms, ok_retransmit_h, leg);
}

static void ok_end_h(void *arg)
{
	struct leg *leg = arg;

	dial_log(LOG_NOTICE, "leg=%s: no ACK to our 2xx of the re-INVITE: "
		 "the dialog ends", leg->id);
	ack_wait_stop(leg->adopt);
	(void)bye_send(leg, NULL);
	adopt_end(leg, NULL, DIAL_END_COMPLETED, 0, ETIMEDOUT, false);
}

/* Where libre sent our answer (sip_treplyf's reply address). */
static void reply_dst(struct sa *dst, const struct sip_msg *msg)
{
	struct pl rp;

	sip_reply_addr(dst, msg, msg_param_exists(&msg->via.params, "rport",
						  &rp) != 0);
}

static void reinvite(struct leg *leg, const struct sip_msg *msg)
{
	struct adopted *ad = leg->adopt;
	char sdp[SDP_MAX];
	struct mbuf *mb = NULL;
	int err;

	if (ad->ok) {
		/* RFC 3261 14.2: our 2xx to the last one awaits its ACK */
		(void)sip_treplyf(NULL, NULL, leg->d->sip, msg, false, 500,
				  "Server Internal Error",
				  "Retry-After: %u\r\nContent-Length: 0\r\n\r\n",
				  rand_u32() % 10);
		return;
	}
	if (ad->req && ad->req_invite) {
		(void)sip_treply(NULL, leg->d->sip, msg, 491, "Request Pending");
		return;
	}
	err = sdp_of(sdp, sizeof(sdp), leg, msg);
	if (err) {
		dial_log(LOG_NOTICE, "leg=%s: re-INVITE not taken: %s",
			 leg->id, strerror(err));
		(void)sip_treply(NULL, leg->d->sip, msg, 488,
				 "Not Acceptable Here");
		return;
	}
	dial_bridge_msg(leg, msg);	/* its offer moves the far end */
	target_refresh(ad, msg);
	timer_from(leg, msg, false);
	err = reply(leg, msg, true, sdp, &mb);
	if (err) {
		dial_log(LOG_WARNING, "leg=%s: 200 to the re-INVITE: %s",
			 leg->id, strerror(err));
		return;
	}
	ad->ok = mb;
	ad->ok_cseq = msg->cseq.num;
	ad->ok_tp = msg->tp;
	reply_dst(&ad->ok_dst, msg);
	ad->ok_ms = SIP_T1;
	/* a reliable transport carries it: only the wait for the ACK */
	if (msg->tp == SIP_TRANSP_UDP)
		tmr_start(&ad->ok_tmr, ad->ok_ms, ok_retransmit_h, leg);
	tmr_start(&ad->ok_end, ACK_WAIT_MS, ok_end_h, leg);
	dial_sess_refreshed(leg);
}

static void ack(struct leg *leg, const struct sip_msg *msg)
{
	struct adopted *ad = leg->adopt;

	if (!ad->ok || msg->cseq.num != ad->ok_cseq)
		return;
	ack_wait_stop(ad);
	dial_bridge_msg(leg, msg);	/* the answer to an offer in our 2xx */
}

static void update(struct leg *leg, const struct sip_msg *msg)
{
	char sdp[SDP_MAX];
	bool offer = mbuf_get_left(msg->mb) > 0;
	int err = 0;

	if (offer)
		err = sdp_of(sdp, sizeof(sdp), leg, msg);
	if (err) {
		dial_log(LOG_NOTICE, "leg=%s: UPDATE's offer not taken: %s",
			 leg->id, strerror(err));
		(void)sip_treply(NULL, leg->d->sip, msg, 488,
				 "Not Acceptable Here");
		return;
	}
	if (offer)
		dial_bridge_msg(leg, msg);
	target_refresh(leg->adopt, msg);
	timer_from(leg, msg, false);
	(void)reply(leg, msg, true, offer ? sdp : NULL, NULL);
	dial_sess_refreshed(leg);
}

bool dial_adopt_req(struct leg *leg, const struct sip_msg *msg)
{
	struct adopted *ad = leg->adopt;
	struct dial *d = leg->d;
	const struct pl *met = &msg->met;
	bool ours;

	ours = tag_is(&msg->from.tag, ad->dlg->rtag) &&
		tag_is(&msg->to.tag, ad->dlg->ltag);
	if (!pl_strcmp(met, "ACK")) {
		if (ours && leg->state != LEG_ENDED)
			ack(leg, msg);
		return true;	/* an ACK is never answered */
	}
	if (!ours || leg->state == LEG_ENDED || !pl_strcmp(met, "CANCEL")) {
		/* a CANCEL of a transaction libre no longer knows */
		(void)sip_treply(NULL, d->sip, msg, 481,
				 "Call/Transaction Does Not Exist");
		return true;
	}
	if (msg->cseq.num < ad->rseq) {
		/* RFC 3261 12.2.2: out of order */
		(void)sip_treply(NULL, d->sip, msg, 500,
				 "Server Internal Error");
		return true;
	}
	ad->rseq = msg->cseq.num;
	if (!pl_strcmp(met, "BYE")) {
		(void)sip_treply(NULL, d->sip, msg, 200, "OK");
		/* recv.c's trace kept the BYE: its headers and Reason */
		adopt_end(leg, dial_leg_event(leg, DIAL_EV_ENDED, true),
			  DIAL_END_COMPLETED, 0, 0, false);
	}
	else if (!pl_strcmp(met, "INVITE")) {
		reinvite(leg, msg);
	}
	else if (!pl_strcmp(met, "UPDATE")) {
		update(leg, msg);
	}
	else if (!pl_strcmp(met, "OPTIONS") || !pl_strcmp(met, "INFO")) {
		(void)reply(leg, msg, false, NULL, NULL);
	}
	else {
		(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 405,
				  "Method Not Allowed",
				  ALLOW "Content-Length: 0\r\n\r\n");
	}
	return true;
}

bool dial_adopt_resp(struct leg *leg, const struct sip_msg *msg)
{
	struct adopted *ad = leg->adopt;

	if (msg->scode < 200 || msg->scode > 299 ||
	    pl_strcmp(&msg->cseq.met, "INVITE"))
		return false;
	/* a copy of the 2xx to our re-INVITE: our ACK was lost */
	if (ad->ack_cseq && msg->cseq.num == ad->ack_cseq)
		ack_send(leg, ad->ack_cseq);
	return true;
}

/* ---- the probe after adoption ---- */

/* RFC 5057 5.1: an answer after which the peer holds no such dialog;
 * 408 as a timeout (RFC 3261 12.2.1.2). Any other (405, 501, 400, 415,
 * 420...) is about the OPTIONS alone. */
static bool dialog_gone(uint16_t code)
{
	switch (code) {
	case 404: case 408: case 410: case 416:
	case 480: case 481: case 482: case 483: case 484: case 485:
	case 489: case 502: case 604:
		return true;
	default:
		return false;
	}
}

/* Does a request in the dialog go over a connection (TCP, TLS)? As libre
 * decides it: the next hop's URI, else the target's. */
static bool dlg_stream(const struct dial_dlg *g)
{
	struct pl pl, tp;
	struct uri u;

	pl_set_str(&pl, g->next_hop ? g->next_hop : g->target);
	if (uri_decode(&u, &pl))
		return false;
	if (!pl_strcasecmp(&u.scheme, "sips"))
		return true;
	return !msg_param_decode(&u.params, "transport", &tp) &&
	       pl_strcasecmp(&tp, "udp");
}

static void probe_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;
	uint16_t code = !err && msg ? msg->scode : 0;

	if (code && code < 200)
		return;
	/* ended meanwhile (hang-up, the peer's BYE): the answer is late */
	if (leg->state == LEG_ENDED || (code && !dialog_gone(code)))
		return;
	/* no answer over a connection says nothing of the dialog: the
	   peer's connection went with the dead process, a peer behind NAT
	   takes no new one, and it connects again for its next request */
	if (!code && dlg_stream(leg->adopt->dlg)) {
		dial_log(LOG_NOTICE, "leg=%s: the OPTIONS after the adoption "
			 "went unanswered over a connection (%s): the leg "
			 "stays up", leg->id, strerror(err));
		return;
	}
	if (code)
		dial_log(LOG_NOTICE, "leg=%s: adopted dialog gone at the far "
			 "end (OPTIONS answered %u)", leg->id, code);
	else
		dial_log(LOG_NOTICE, "leg=%s: adopted dialog gone at the far "
			 "end (OPTIONS not answered: %s)", leg->id,
			 strerror(err));
	/* a 481 says there is nothing to end; else best effort */
	if (code != 481)
		(void)bye_send(leg, NULL);
	adopt_end(leg, code ? dial_leg_event(leg, DIAL_EV_ENDED, true) : NULL,
		  DIAL_END_COMPLETED, code, code ? 0 : err, false);
}

/* One OPTIONS in the dialog (RFC 5057): the dead process may have
 * answered the peer's BYE just before it died, or the peer may have
 * ended the dialog while no process held it. Its own handle: a refresh
 * or BYE may be in flight at the same time. */
static void probe_send(struct leg *leg)
{
	struct adopted *ad = leg->adopt;
	char *hdrs = NULL;
	int err;

	err = dial_dlg_request(&hdrs, ad->dlg, "OPTIONS", ad->lseq++,
			       "Accept: application/sdp\r\n", NULL,
			       leg->d->conf.user_agent);
	if (!err)
		err = send_req(leg, &ad->probe, true, "OPTIONS", probe_resp_h,
			       hdrs);
	mem_deref(hdrs);
	if (err)
		dial_log(LOG_WARNING, "leg=%s: OPTIONS to %s: %s", leg->id,
			 ad->dlg->target, strerror(err));
}

static void probe_h(void *arg)
{
	struct leg *leg = arg;

	if (leg->state == LEG_UP)
		probe_send(leg);
}

static void probe_arm(struct leg *leg)
{
	const struct dial_conf *c = &leg->d->conf;
	uint32_t ms = c->adopt_probe_ms ? c->adopt_probe_ms :
		      PROBE_MS + rand_u32() % PROBE_SPREAD_MS;

	tmr_start(&leg->adopt->probe_tmr, ms, probe_h, leg);
}

/* ---- adoption ---- */

static int media_set(struct leg *leg, const struct adopt_spec *s)
{
	struct adopted *ad = leg->adopt;
	struct dial_sdp ls, ps;
	enum dial_codec c;

	if (!s->local_sdp)
		return 0;
	dial_sdp_summary(&ls, s->local_sdp, strlen(s->local_sdp));
	if (!ls.present || !ls.port)
		return EBADMSG;
	leg->port = ls.port;
	snprintf(ad->maddr, sizeof(ad->maddr), "%s",
		 ls.addr[0] ? ls.addr : leg->d->media_addr);
	if (!dial_codec_parse(ls.codec, &c))
		ad->codec = (int)c;
	/* any failure to bind is the port's: the dialog goes on without */
	if (dial_bridge_open_at(leg, ls.port))
		return EADDRINUSE;
	if (s->peer_sdp) {
		dial_sdp_summary(&ps, s->peer_sdp, strlen(s->peer_sdp));
		dial_bridge_sdp(leg, &ps);
	}
	return 0;
}

static int decode(struct sip_msg **inv, struct sip_msg **rsp,
		  struct dial_dlg **g, const struct adopt_spec *s)
{
	int err;

	err = dial_bye_decode(inv, s->invite);
	if (!err)
		err = dial_bye_decode(rsp, s->ok);
	if (err)
		return err == ENOMEM ? ENOMEM : EBADMSG;
	return dial_dlg_decode(g, *inv, *rsp, s->uac);
}

/* A leg up in the dialog s describes; EADDRINUSE leaves it up without
 * media, any other error makes none. */
static int adopt_one(struct leg **legp, struct dial *d,
		     const struct adopt_spec *s)
{
	struct sip_msg *inv = NULL, *rsp = NULL;
	struct dial_dlg *g = NULL;
	struct leg *leg = NULL, *old;
	struct dial_sdp ls;
	int err;

	*legp = NULL;
	if (d->closing)
		return ESHUTDOWN;
	err = decode(&inv, &rsp, &g, s);
	if (err)
		goto out;
	if (s->local_sdp) {
		dial_sdp_summary(&ls, s->local_sdp, strlen(s->local_sdp));
		if (!ls.present || !ls.port) {
			err = EBADMSG;
			goto out;
		}
	}
	old = dial_leg_find(d, s->id);
	if ((old && old->state != LEG_ENDED) ||
	    dial_leg_cid_find(d, g->callid, strlen(g->callid))) {
		err = EEXIST;
		goto out;
	}
	if (old)	/* it lingers with its Call-IDs; the id is the new leg's */
		hash_unlink(&old->he);
	err = dial_leg_alloc(&leg, d, s->id, s->uac);
	if (err)
		goto out;
	leg->adopt = mem_zalloc(sizeof(*leg->adopt), adopted_destructor);
	if (!leg->adopt) {
		err = ENOMEM;
		goto out;
	}
	err = dial_leg_cid_add(leg, g->callid, strlen(g->callid));
	if (err)
		goto out;
	leg->adopt->dlg = g;
	g = NULL;
	leg->adopt->codec = -1;
	/* our next request's CSeq is above the INVITE's when we sent it */
	leg->adopt->lseq = s->uac && s->cseq <= inv->cseq.num ?
		inv->cseq.num + 1 : s->cseq;
	leg->adopt->rseq = s->uac ? 0 : inv->cseq.num;
	leg->state = LEG_UP;
	if (s->uac) {
		d->nout++;
		atomic_fetch_add_explicit(&d->ctr.st_legs_started, 1,
					  memory_order_relaxed);
	}
	else {
		d->nin++;
		atomic_fetch_add_explicit(&d->ctr.st_inbound, 1,
					  memory_order_relaxed);
	}
	/* the session timer the 2xx agreed; the peer's Allow */
	dial_sess_timer_from(leg, rsp, s->uac);
	leg->peer_update = sip_msg_hdr_has_value(s->uac ? rsp : inv,
						 SIP_HDR_ALLOW, "UPDATE");
	err = media_set(leg, s);
 out:
	if (err && err != EADDRINUSE)
		leg = mem_deref(leg);
	*legp = leg;
	mem_deref(g);
	mem_deref(inv);
	mem_deref(rsp);
	return err;
}

static void adopted_ev(struct dial *d, const struct adopt_spec *s,
		       struct leg *leg, int err)
{
	struct dial_event *ev;

	if (leg)
		dial_log(LOG_NOTICE, "leg=%s: adopted (Call-ID %s, %s)%s%s",
			 leg->id, leg->adopt->dlg->callid, s->uac ? "we called" :
			 "we answered", err ? ": " : "",
			 err ? strerror(err) : "");
	else
		dial_log(LOG_WARNING, "leg=%s: not adopted: %s", s->id,
			 err == EBADMSG ? "its messages make no dialog" :
			 strerror(err));
	ev = leg ? dial_leg_event(leg, DIAL_EV_ADOPTED, false) :
		dial_event_bare(DIAL_EV_ADOPTED, s->id);
	if (!ev)
		return;
	ev->outbound = s->uac;
	ev->err = err;
	if (leg) {
		struct leg *o = dial_media_owner(dial_media_bridged(leg->media));

		ev->session_expires = leg->se;
		ev->refresher_local = leg->se_local;
		if (o)
			snprintf(ev->bridged, sizeof(ev->bridged), "%s", o->id);
		if (leg->media)
			ev->media.local_port = leg->port;
		ev->media.relayed = leg->media != NULL;
	}
	dial_evq_emit(&d->evq, ev);
}

void dial_adopt_run(struct dial *d, const struct adopt_spec *a,
		    const struct adopt_spec *b)
{
	struct leg *la = NULL, *lb = NULL;
	int ea, eb = 0;

	ea = adopt_one(&la, d, a);
	if (b)
		eb = adopt_one(&lb, d, b);
	if (la && lb && la->media && lb->media)
		(void)dial_media_bridge(la->media, lb->media);
	adopted_ev(d, a, la, ea);
	if (b)
		adopted_ev(d, b, lb, eb);
	/* after the events: the daemon knows the legs when they may end */
	if (la)
		probe_arm(la);
	if (lb)
		probe_arm(lb);
}
