/* in.c: inbound legs: INVITEs: bounded admission, ring, answer with a matching SDP, reject, remote CANCEL */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * An inbound INVITE gets a stateless 100 and waits for the daemon. The
 * sipsess (and with it the server transaction) is created only when the
 * daemon rings or answers, because sipsess_accept() must send a 1xx or 2xx
 * at once. Until then INVITE retransmissions and CANCEL are handled in
 * dial_recv_req_h() (recv.c) and dial_in_cancel().
 */

static const char *phrase_of(uint16_t code)
{
	switch (code) {
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 404: return "Not Found";
	case 480: return "Temporarily Unavailable";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	default: return code < 300 ? "OK" : code < 400 ? "Redirect" :
		code < 500 ? "Client Error" : code < 600 ? "Server Error" :
		"Global Failure";
	}
}

enum { TRYING_MS = 100 };

static void trying_h(void *arg)
{
	struct leg *leg = arg;

	if (!leg->sess && leg->state < LEG_UP && leg->msg)
		(void)sip_reply(leg->d->sip, leg->msg, 100, "Trying");
}

void dial_in_conn_h(const struct sip_msg *msg, void *arg)
{
	struct dial *d = arg;
	struct dial_event *stash = d->stash, *ev;
	struct leg *leg;
	char id[DIAL_ID_MAX];
	int err;

	d->stash = NULL;
	if (atomic_load_explicit(&d->draining, memory_order_relaxed)) {
		/* new calls go to another instance (dial_draining_set) */
		(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 503,
				  "Service Unavailable",
				  "Retry-After: 30\r\nContent-Length: 0\r\n\r\n");
		dial_event_free(stash);
		return;
	}
	if (d->closing || d->nin >= d->conf.max_inbound) {
		/* bounded: shed past the limit rather than queue */
		(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 503,
				  "Service Unavailable",
				  "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");
		atomic_fetch_add_explicit(&d->ctr.st_inbound_busy, 1,
					  memory_order_relaxed);
		dial_event_free(stash);
		return;
	}
	if (!stash || !stash->call_id ||
	    pl_strcmp(&msg->callid, stash->call_id)) {
		/* cannot happen: the trace runs right before us */
		dial_event_free(stash);
		(void)sip_treply(NULL, d->sip, msg, 500,
				 "Server Internal Error");
		return;
	}
	dial_sid_format(id, atomic_load_explicit(&d->sid_instance,
						 memory_order_relaxed),
			dial_now_us() / 1000, rand_u64());
	err = dial_leg_alloc(&leg, d, id, false);
	if (err) {
		dial_event_free(stash);
		(void)sip_treply(NULL, d->sip, msg, 500,
				 "Server Internal Error");
		return;
	}
	leg->msg = mem_ref((void *)msg);
	if (mbuf_get_left(msg->mb)) {
		leg->offer_len = mbuf_get_left(msg->mb);
		leg->offer = malloc(leg->offer_len);
		if (leg->offer)
			memcpy(leg->offer, mbuf_buf(msg->mb), leg->offer_len);
		else
			leg->offer_len = 0;
	}
	(void)dial_leg_cid_add(leg, msg->callid.p, msg->callid.l);
	d->nin++;
	atomic_fetch_add_explicit(&d->ctr.st_inbound, 1, memory_order_relaxed);

	/* INBOUND first (the daemon creates the call), then the message */
	snprintf(stash->leg_id, sizeof(stash->leg_id), "%s", leg->id);
	stash->outbound = false;
	ev = dial_event_clone(stash, DIAL_EV_INBOUND);
	if (ev) {
		char refresher[8];
		const char *se = dial_event_hdr(ev, "Session-Expires");

		ev->session_expires = dial_se_parse(se, refresher,
						    sizeof(refresher));
		ev->refresher_local = !strcasecmp(refresher, "uas");
		ev->time_us = 0;
		dial_evq_emit(&d->evq, ev);
	}
	dial_evq_emit(&d->evq, stash);
	/* RFC 3261 §17.2.1: a 100 only if we do not answer within TRYING_MS;
	   a daemon that answers at once saves a message per call */
	tmr_start(&leg->tmr, TRYING_MS, trying_h, leg);
}

static int accept_sess(struct leg *leg, uint16_t code, struct mbuf *desc,
		       const char *hdrs)
{
	struct dial *d = leg->d;

	return sipsess_accept(&leg->sess, d->sock, leg->msg, code,
			      phrase_of(code), "dialerd", "application/sdp",
			      desc, NULL, NULL, false, dial_sess_offer,
			      dial_sess_answer, dial_sess_estab, NULL, NULL,
			      dial_sess_close, leg, "%s", hdrs ? hdrs : "");
}

void dial_in_ring(struct leg *leg, uint16_t code)
{
	int err;

	if (leg->state >= LEG_UP)
		return;
	tmr_cancel(&leg->tmr);
	if (!leg->sess)
		err = accept_sess(leg, code, NULL, "Allow: INVITE, ACK, "
				  "CANCEL, BYE, UPDATE, OPTIONS, INFO\r\n");
	else
		err = sipsess_progress(leg->sess, code, phrase_of(code), NULL,
				       "%s", "");
	if (err)
		dial_log(LOG_WARNING, "leg=%s: %u: %s", leg->id, code,
			 strerror(err));
	else
		leg->state = LEG_EARLY;
}

void dial_in_answer(struct leg *leg, const struct cmd *c)
{
	struct dial *d = leg->d;
	char sdp[2048], hdrs[2048], se[128] = "";
	const char *addr = c->media_addr ? c->media_addr : d->media_addr;
	struct mbuf *mb;
	int err;

	if (leg->state >= LEG_UP)
		return;
	tmr_cancel(&leg->tmr);
	if (!leg->port && c->relay) {
		struct dial_sdp o;

		if (dial_bridge_open(leg)) {	/* sets leg->port */
			dial_in_reject(leg, 500, NULL);
			return;
		}
		dial_sdp_summary(&o, leg->offer, leg->offer_len);
		dial_bridge_sdp(leg, &o);
	}
	if (!leg->port)
		leg->port = c->media_port ? c->media_port : dial_leg_port_next(d);
	if (leg->offer)
		err = dial_sdp_answer(sdp, sizeof(sdp), leg->offer,
				      leg->offer_len, addr, leg->port,
				      c->codecv, c->codecc, rand_u64() >> 1,
				      NULL);
	else	/* late offer: ours goes in the 200, theirs in the ACK */
		err = dial_sdp_offer(sdp, sizeof(sdp), addr, leg->port,
				     c->codecv, c->codecc, rand_u64() >> 1);
	if (err == ENOTSUP || err == EBADMSG) {
		dial_in_reject(leg, 488, NULL);
		return;
	}
	if (err)
		goto fail;
	/* RFC 4028 §9: answer the caller's session timer */
	{
		const struct sip_hdr *h = sip_msg_hdr(leg->msg,
						      SIP_HDR_SESSION_EXPIRES);
		char val[64], refresher[8];

		if (h) {
			pl_strcpy(&h->val, val, sizeof(val));
			leg->se = dial_se_parse(val, refresher,
						sizeof(refresher));
			if (leg->se) {
				leg->se_local = !strcasecmp(refresher, "uas");
				snprintf(se, sizeof(se),
					 "Session-Expires: %u;refresher=%s\r\n"
					 "Require: timer\r\n", leg->se,
					 leg->se_local ? "uas" : "uac");
			}
		}
	}
	snprintf(hdrs, sizeof(hdrs), "%s%s"
		 "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, OPTIONS, INFO\r\n",
		 c->hdrs ? c->hdrs : "", se);
	mb = mbuf_alloc(strlen(sdp));
	if (!mb) {
		err = ENOMEM;
		goto fail;
	}
	(void)mbuf_write_str(mb, sdp);
	mb->pos = 0;
	if (!leg->sess)
		err = accept_sess(leg, 200, mb, hdrs);
	else
		err = sipsess_answer(leg->sess, 200, "OK", mb, "%s", hdrs);
	mem_deref(mb);
	if (!err)
		return;	/* ANSWERED when the ACK arrives (estab) */
 fail:
	dial_log(LOG_WARNING, "leg=%s: answer: %s", leg->id, strerror(err));
	dial_in_reject(leg, 500, NULL);
}

void dial_in_reject(struct leg *leg, uint16_t code,
		    const struct dial_reason *reason)
{
	struct dial *d = leg->d;
	char r[256] = "";
	enum dial_end end;

	if (leg->state >= LEG_UP)
		return;
	tmr_cancel(&leg->tmr);
	dial_reason_hdr(r, sizeof(r), reason);
	if (leg->sess) {
		(void)sipsess_reject(leg->sess, code, phrase_of(code),
				     "%sContent-Length: 0\r\n\r\n", r);
		leg->sess = mem_deref(leg->sess);
	}
	else {
		(void)sip_treplyf(NULL, NULL, d->sip, leg->msg, false, code,
				  phrase_of(code),
				  "%sContent-Length: 0\r\n\r\n", r);
	}
	leg->hangup_local = true;
	end = code == 487 ? DIAL_END_CANCELED :
		(code == 486 || code == 600 || code == 603) ? DIAL_END_BUSY :
		DIAL_END_FAILED;
	dial_leg_end(leg, NULL, end, code, 0, true);
}

/* RFC 3261 §9.2: a CANCEL names the INVITE's transaction by its top Via
 * (branch, sent-by), From tag and CSeq number. The Call-ID alone would let
 * anyone who saw it end a pending call. */
static bool cancel_matches(const struct sip_msg *inv,
			   const struct sip_msg *msg)
{
	return pl_isset(&msg->via.branch) &&
		!pl_cmp(&inv->via.branch, &msg->via.branch) &&
		!pl_cmp(&inv->via.sentby, &msg->via.sentby) &&
		!pl_cmp(&inv->from.tag, &msg->from.tag) &&
		inv->cseq.num == msg->cseq.num;
}

/* CANCEL of an inbound INVITE that has no transaction of ours yet (once
 * it has, libre matches the CANCEL to it the same way) */
bool dial_in_cancel(struct leg *leg, const struct sip_msg *msg)
{
	struct dial *d = leg->d;
	struct dial_event *ev;

	if (leg->outbound || leg->sess || leg->state == LEG_ENDED)
		return false;
	if (!leg->msg || !cancel_matches(leg->msg, msg)) {
		(void)sip_reply(d->sip, msg, 481, "Transaction Does Not Exist");
		return true;
	}
	(void)sip_reply(d->sip, msg, 200, "OK");
	(void)sip_treply(NULL, d->sip, leg->msg, 487, "Request Terminated");
	ev = dial_leg_event(leg, DIAL_EV_ENDED, true);
	dial_leg_end(leg, ev, DIAL_END_CANCELED, 0, 0, false);
	return true;
}
