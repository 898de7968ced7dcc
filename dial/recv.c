/* recv.c: every SIP message on the wire becomes an event of its leg; requests routed to out.c, in.c, adopt.c and leg.c before sipsess; load sampling */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * libre's trace handler sees every message in both directions, raw, right
 * before it is sent or right after it is parsed and before any listener
 * runs. We map it to its leg by Call-ID. Two cases have no Call-ID yet:
 * - our INVITE is sent from inside sipsess_connect(), before we can read
 *   the dialog's Call-ID: d->connecting names the leg being started;
 * - a new inbound INVITE is traced before sipsess hands it to us: it is
 *   kept in d->stash until dial_in_conn_h() claims it.
 * Every datagram read over UDP is also a sample for overload detection.
 */

/* The far end of a traced message, for the daemon (SipSourceIp). */
static void peer_set(struct dial_event *ev, enum sip_transp tp,
		     const struct sa *sa)
{
	char ip[48] = "";

	if (sa && sa_isset(sa, SA_ADDR))
		(void)sa_ntop(sa, ip, sizeof(ip));
	if (ip[0] && sa_af(sa) == AF_INET6)
		snprintf(ev->peer, sizeof(ev->peer), "[%s]:%u", ip, sa_port(sa));
	else if (ip[0])
		snprintf(ev->peer, sizeof(ev->peer), "%s:%u", ip, sa_port(sa));
	snprintf(ev->transport, sizeof(ev->transport), "%s",
		 tp == SIP_TRANSP_TCP ? "tcp" : tp == SIP_TRANSP_TLS ? "tls" : "udp");
}

void dial_recv_trace_h(bool tx, enum sip_transp tp, const struct sa *src,
		       const struct sa *dst, const uint8_t *pkt, size_t len,
		       void *arg)
{
	struct dial *d = arg;
	struct dial_event *ev;
	struct leg *leg = NULL;
	bool challenge;
	size_t cl;

	atomic_fetch_add_explicit(tx ? &d->ctr.st_tx : &d->ctr.st_rx, 1,
				  memory_order_relaxed);
	if (!tx && tp == SIP_TRANSP_UDP)
		dial_load_sample(d->load);
	else if (!tx)
		dial_conns_msg(d->conns, src, dst);	/* a whole message */
	if (dial_msg_parse(&ev, pkt, len, tx ? DIAL_DIR_TX : DIAL_DIR_RX,
			   dial_now_us()))
		return;
	peer_set(ev, tp, tx ? dst : src);
	cl = ev->call_id ? strlen(ev->call_id) : 0;
	if (cl)
		leg = dial_leg_cid_find(d, ev->call_id, cl);
	if (!leg && tx && d->connecting) {
		leg = d->connecting;
		(void)dial_leg_cid_add(leg, ev->call_id, cl);
	}
	if (!leg) {
		const char *bye;

		if (!tx && !ev->code && ev->method &&
		    !strcmp(ev->method, "INVITE")) {
			dial_event_free(d->stash);
			d->stash = ev;
			return;
		}
		bye = cl ? dial_bye_find(d, ev->call_id, cl) : NULL;
		if (bye) {	/* an orphaned dialog's BYE and its answer */
			snprintf(ev->leg_id, sizeof(ev->leg_id), "%s", bye);
			dial_evq_emit(&d->evq, ev);
			return;
		}
		atomic_fetch_add_explicit(&d->ctr.st_unmatched, 1,
					  memory_order_relaxed);
		dial_event_free(ev);
		return;
	}
	dial_leg_stamp(leg, ev);
	if (tx && leg->outbound && !ev->code && ev->method &&
	    !strcmp(ev->method, "INVITE") && leg->state < LEG_UP)
		dial_out_sent(leg, ev, pkt, len, dst, tp);
	/* the far end's media moves only with messages libre matched to the
	   leg (sess.c, out.c: dial_bridge_msg), not with any Call-ID match */
	if (!tx && leg->state != LEG_ENDED) {
		/* keep a copy only of what a callback reports from next:
		   1xx (not 100) and finals of an INVITE, in-dialog requests */
		bool want = ev->code ?
			(ev->code > 100 && ev->method &&
			 (!strcmp(ev->method, "INVITE") ||
			  (leg->adopt && ev->code >= 200))) :
			(ev->method && (strcmp(ev->method, "ACK") ||
					(!leg->outbound && leg->state < LEG_UP)));

		dial_event_free(leg->last_rx);
		leg->last_rx = want ? dial_event_clone(ev, DIAL_EV_SIP) : NULL;
	}
	challenge = !tx && leg->outbound && (ev->code == 401 ||
					     ev->code == 407) &&
		ev->method && !strcmp(ev->method, "INVITE");
	dial_evq_emit(&d->evq, ev);	/* the 401 before the leg's end */
	if (challenge && leg->last_rx)
		dial_out_challenge(leg, leg->last_rx);
}

/* Runs before sipsess's listener; returns true when it consumed msg. */
bool dial_recv_req_h(const struct sip_msg *msg, void *arg)
{
	struct dial *d = arg;
	struct leg *leg;

	leg = dial_leg_cid_find(d, msg->callid.p, msg->callid.l);
	if (!leg && dial_load_shed(d->load) && !pl_strcmp(&msg->met, "INVITE") &&
	    !pl_isset(&msg->to.tag)) {
		/* overload: a stateless 503 costs no transaction and no timer;
		   a lost one is answered again on the INVITE's retransmission */
		d->stash = dial_event_free(d->stash);
		(void)sip_replyf(d->sip, msg, 503, "Service Unavailable",
				 "Retry-After: 1\r\nContent-Length: 0\r\n\r\n");
		atomic_fetch_add_explicit(&d->ctr.st_shed_in, 1,
					  memory_order_relaxed);
		return true;
	}
	if (!leg && d->adopting && pl_isset(&msg->to.tag)) {
		/* perhaps a dialog a dial_adopt still queued takes up: its
		   retransmission will find it (a 481 would end the call) */
		atomic_fetch_add_explicit(&d->ctr.st_unmatched, 1,
					  memory_order_relaxed);
		return true;
	}
	if (!leg) {
		/* keep-alive probes from carriers and load balancers */
		if (!pl_strcmp(&msg->met, "OPTIONS") && !pl_isset(&msg->to.tag)) {
			if (dial_draining(d)) {
				/* out of the balancer's set while draining */
				(void)sip_treplyf(NULL, NULL, d->sip, msg, false,
						  503, "Service Unavailable",
						  "Retry-After: 30\r\n"
						  "Content-Length: 0\r\n\r\n");
				return true;
			}
			(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 200, "OK",
					  "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, "
					  "OPTIONS, INFO\r\n"
					  "Accept: application/sdp\r\n"
					  "Content-Length: 0\r\n\r\n");
			return true;
		}
		return false;
	}
	if (leg->adopt)		/* no sipsess: adopt.c is its dialog */
		return dial_adopt_req(leg, msg);
	if (!pl_strcmp(&msg->met, "BYE")) {
		/* sipsess reports a remote BYE as ECONNRESET without the
		   message: keep it for the ENDED event (Reason, headers) */
		if (leg->state != LEG_ENDED && leg->last_rx) {
			dial_event_free(leg->end_ev);
			leg->end_ev = dial_event_clone(leg->last_rx,
						       DIAL_EV_ENDED);
		}
		return false;
	}
	if (!pl_strcmp(&msg->met, "UPDATE"))
		return dial_out_update(leg, msg);
	if (!pl_strcmp(&msg->met, "CANCEL"))
		return dial_in_cancel(leg, msg);
	if (!pl_strcmp(&msg->met, "INVITE") && !pl_isset(&msg->to.tag) &&
	    !leg->outbound) {
		/* a retransmission while the daemon decides */
		if (!leg->sess && leg->state != LEG_ENDED)
			(void)sip_reply(d->sip, msg, 100, "Trying");
		return !leg->sess;
	}
	return false;
}

/* Responses to our own CANCEL (sent outside libre's transactions): they
 * were captured by the trace; nothing else waits for them. Copies of a
 * 2xx to an adopted leg's re-INVITE: adopt.c ACKs them. */
bool dial_recv_resp_h(const struct sip_msg *msg, void *arg)
{
	struct dial *d = arg;
	struct leg *leg = dial_leg_cid_find(d, msg->callid.p, msg->callid.l);

	if (leg && leg->adopt)
		return dial_adopt_resp(leg, msg);
	return !pl_strcmp(&msg->cseq.met, "CANCEL") && leg;
}

void dial_draining_set(struct dial *d, bool on)
{
	if (d)
		atomic_store_explicit(&d->draining, on, memory_order_relaxed);
}

bool dial_draining(const struct dial *d)
{
	return d && atomic_load_explicit(&((struct dial *)d)->draining,
					 memory_order_relaxed);
}

void dial_sid_instance_set(struct dial *d, unsigned id)
{
	if (d)
		atomic_store_explicit(&d->sid_instance, id & 0xffffu,
				      memory_order_relaxed);
}
