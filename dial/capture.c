/* capture.c: every SIP message on the wire becomes an event of its leg; legs by id and Call-ID */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/internal.h"
#include "dial/tls.h"

/*
 * libre's trace handler sees every message in both directions, raw, right
 * before it is sent or right after it is parsed and before any listener
 * runs. We map it to its leg by Call-ID. Two cases have no Call-ID yet:
 * - our INVITE is sent from inside sipsess_connect(), before we can read
 *   the dialog's Call-ID: d->connecting names the leg being started;
 * - a new inbound INVITE is traced before sipsess hands it to us: it is
 *   kept in d->stash until dial_in_conn_h() claims it.
 */

int dial_capture_init(struct dial *d)
{
	/* ended legs stay here for the 32 s linger: at 5,000 calls/s each way
	 * both tables hold ~10^5 entries, and with the stack's 16,384 buckets
	 * their lookups took 16 % of the SIP thread (bench/dial/run) */
	uint32_t legs = dial_linger_buckets(d);
	int err;

	err = hash_alloc(&d->ht_id, legs);
	if (!err)
		err = hash_alloc(&d->ht_cid, legs);
	if (!err)
		err = hash_alloc(&d->ht_grp, 1024);
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

	return strlen(c->callid) == pl->l && !memcmp(c->callid, pl->p, pl->l);
}

struct leg *dial_cid_find(struct dial *d, const char *callid, size_t len)
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

int dial_cid_add(struct leg *leg, const char *callid, size_t len)
{
	struct cid *c;

	if (!callid || !len)
		return EINVAL;
	if (dial_cid_find(leg->d, callid, len))
		return 0;
	c = mem_zalloc(sizeof(*c) + len + 1, cid_destructor);
	if (!c)
		return ENOMEM;
	memcpy(c->callid, callid, len);
	c->callid[len] = '\0';
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
	if (leg->insecure_host) {
		dial_tls_insecure_release(leg->d->dtls, leg->insecure_host);
		mem_deref(leg->insecure_host);
	}
	leg->media = mem_deref(leg->media);
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
	dial_spec_free(leg->spec);
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

static void stamp(const struct leg *leg, struct dial_event *ev)
{
	snprintf(ev->leg_id, sizeof(ev->leg_id), "%s", leg->id);
	if (leg->grp)
		snprintf(ev->group, sizeof(ev->group), "%s", leg->grp->name);
	ev->outbound = leg->outbound;
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
	if (!ev)
		return NULL;
	stamp(leg, ev);
	if (type != DIAL_EV_SIP)
		ev->dir = leg->outbound ? DIAL_DIR_TX : DIAL_DIR_RX;
	return ev;
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
		stamp(leg, ev);
		ev->dir = leg->outbound ? DIAL_DIR_TX : DIAL_DIR_RX;
		ev->end = end;
		ev->code = code;
		ev->err = err;
		ev->local = local;
		ev->time_us = 0;
	}
	dial_leg_media_end(leg, ev);	/* counters, sockets closed */
	if (ev)
		dial_emit(d, ev);
	dial_log(LOG_INFO, "leg=%s ended: %s code=%u err=%d %s", leg->id,
		 dial_end_name(end), code, err, local ? "local" : "remote");
	if (leg->outbound) {
		if (d->nout)
			d->nout--;
	}
	else if (d->nin) {
		d->nin--;
	}
	atomic_fetch_add_explicit(&d->st_legs_ended, 1, memory_order_relaxed);
	leg->state = LEG_ENDED;
	tmr_cancel(&leg->tmr);
	dial_spec_free(leg->spec);
	leg->spec = NULL;
	free(leg->offer);
	leg->offer = NULL;
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

void dial_trace_h(bool tx, enum sip_transp tp, const struct sa *src,
		  const struct sa *dst, const uint8_t *pkt, size_t len,
		  void *arg)
{
	struct dial *d = arg;
	struct dial_event *ev;
	struct leg *leg = NULL;
	size_t cl;

	atomic_fetch_add_explicit(tx ? &d->st_tx : &d->st_rx, 1,
				  memory_order_relaxed);
	if (!tx && tp == SIP_TRANSP_UDP)
		dial_load_sample(d);
	if (dial_msg_parse(&ev, pkt, len, tx ? DIAL_DIR_TX : DIAL_DIR_RX,
			   dial_now_us()))
		return;
	peer_set(ev, tp, tx ? dst : src);
	cl = ev->call_id ? strlen(ev->call_id) : 0;
	if (cl)
		leg = dial_cid_find(d, ev->call_id, cl);
	if (!leg && tx && d->connecting) {
		leg = d->connecting;
		(void)dial_cid_add(leg, ev->call_id, cl);
	}
	if (!leg) {
		if (!tx && !ev->code && ev->method &&
		    !strcmp(ev->method, "INVITE")) {
			dial_event_free(d->stash);
			d->stash = ev;
			return;
		}
		atomic_fetch_add_explicit(&d->st_unmatched, 1,
					  memory_order_relaxed);
		dial_event_free(ev);
		return;
	}
	stamp(leg, ev);
	if (tx && leg->outbound && !ev->code && ev->method &&
	    !strcmp(ev->method, "INVITE") && leg->state < LEG_UP) {
		/* keep the INVITE as sent: our CANCEL is built from it */
		const char *via = dial_event_hdr(ev, "Via");
		const char *br = via ? strstr(via, "branch=") : NULL;
		char branch[sizeof(leg->inv_branch)] = "";

		if (br) {
			size_t n = strcspn(br + 7, ";, \t");

			if (n >= sizeof(branch))
				n = sizeof(branch) - 1;
			memcpy(branch, br + 7, n);
			branch[n] = '\0';
		}
		if (!leg->inv || strcmp(branch, leg->inv_branch)) {
			struct mbuf *mb = mbuf_alloc(len);

			if (mb) {
				(void)mbuf_write_mem(mb, pkt, len);
				mb->pos = 0;
				mem_deref(leg->inv);
				leg->inv = mb;
				leg->inv_dst = *dst;
				leg->inv_tp = tp;
				leg->provrecv = false;
				memcpy(leg->inv_branch, branch,
				       sizeof(branch));
			}
		}
	}
	if (!tx && leg->media && ev->sdp.present)
		dial_leg_media_sdp(leg, &ev->sdp);	/* far end's media */
	if (!tx && leg->state != LEG_ENDED) {
		/* keep a copy only of what a callback reports from next:
		   1xx (not 100) and finals of an INVITE, in-dialog requests */
		bool want = ev->code ?
			(ev->code > 100 && ev->method &&
			 !strcmp(ev->method, "INVITE")) :
			(ev->method && (strcmp(ev->method, "ACK") ||
					(!leg->outbound && leg->state < LEG_UP)));

		dial_event_free(leg->last_rx);
		leg->last_rx = want ? dial_event_clone(ev, DIAL_EV_SIP) : NULL;
	}
	dial_emit(d, ev);
}

/* Runs before sipsess's listener; returns true when it consumed msg. */
bool dial_req_h(const struct sip_msg *msg, void *arg)
{
	struct dial *d = arg;
	struct leg *leg;

	leg = dial_cid_find(d, msg->callid.p, msg->callid.l);
	if (!leg && dial_load_shed(d) && !pl_strcmp(&msg->met, "INVITE") &&
	    !pl_isset(&msg->to.tag)) {
		/* overload: a stateless 503 costs no transaction and no timer;
		   a lost one is answered again on the INVITE's retransmission */
		d->stash = dial_event_free(d->stash);
		(void)sip_replyf(d->sip, msg, 503, "Service Unavailable",
				 "Retry-After: 1\r\nContent-Length: 0\r\n\r\n");
		atomic_fetch_add_explicit(&d->st_shed_in, 1,
					  memory_order_relaxed);
		return true;
	}
	if (!leg) {
		/* keep-alive probes from carriers and load balancers */
		if (!pl_strcmp(&msg->met, "OPTIONS") && !pl_isset(&msg->to.tag)) {
			(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 200, "OK",
					  "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, "
					  "OPTIONS, INFO\r\n"
					  "Accept: application/sdp\r\n"
					  "Content-Length: 0\r\n\r\n");
			return true;
		}
		return false;
	}
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
 * were captured by the trace; nothing else waits for them. */
bool dial_resp_h(const struct sip_msg *msg, void *arg)
{
	struct dial *d = arg;

	return !pl_strcmp(&msg->cseq.met, "CANCEL") &&
		dial_cid_find(d, msg->callid.p, msg->callid.l) != NULL;
}
