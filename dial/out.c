/* out.c: outgoing legs: INVITE with headers and SDP, digest, 422, CANCEL with Reason, BYE, refresh, UPDATE, forking */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "dial/core.h"

enum {
	CANCEL_GUARD_MS = 64 * SIP_T1,	/* no final after our CANCEL */
	SDP_MAX = 2048,
	MIN_SE_MAX = 7200,	/* a 422 asking for more ends the leg */
	AUTH_MAX = 2,		/* challenges answered per leg */
};

#define ALLOW "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, OPTIONS, INFO\r\n"

static const struct dial_reason elsewhere = {
	true, "SIP", 200, "Call completed elsewhere"
};

static int invite_send(struct leg *leg);

/* libre frees what we return with mem_deref: hand it str_dup copies */
static int auth_h(char **username, char **password, const char *realm,
		  void *arg)
{
	struct leg *leg = arg;
	int err;

	leg->auth_tries++;
	if (!leg->spec || !leg->spec->username || !leg->spec->password) {
		dial_log(LOG_INFO, "leg=%s: challenge from realm %s, "
			 "no credentials", leg->id, realm);
		return EAUTH;
	}
	err = str_dup(username, leg->spec->username);
	if (!err)
		err = str_dup(password, leg->spec->password);
	return err;
}

/* "realm nonce" of a Digest challenge value ("" when neither). */
static void challenge_key(char *key, size_t size, const char *val)
{
	const char *names[] = {"realm=", "nonce="};
	size_t n = 0;

	key[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		const char *p = strcasestr(val, names[i]);
		size_t k;

		if (!p)
			continue;
		p += 6;
		if (*p == '"')
			p++;
		k = strcspn(p, "\",");
		n += (size_t)snprintf(key + n, n < size ? size - n : 0,
				      "%s%.*s", i ? " " : "", (int)k, p);
		if (n >= size)
			break;
	}
}

/* FNV-1a, 64 bits: a leg keeps the hash of a realm + nonce or of a
 * branch, not the text (two different ones colliding is a 2^-64 event) */
static uint64_t key_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* libre 1.1.0 answers a challenge again as long as it comes with
 * stale=true or names a new realm, up to 16 times per INVITE: a far end
 * that challenges forever holds the leg (and a new INVITE a round trip)
 * that long. We answer each realm/nonce at most once and AUTH_MAX
 * challenges in all; the trace sees the response before libre does, so
 * ending the session here stops the next INVITE. */
void dial_out_challenge(struct leg *leg, const struct dial_event *rx)
{
	const char *cseq = dial_event_hdr(rx, "CSeq");
	uint32_t n = cseq ? (uint32_t)strtoul(cseq, NULL, 10) : 0;
	const char *why = NULL;
	char key[160] = "";
	uint64_t kh = key_hash(key);

	if (leg->state == LEG_ENDED || leg->hangup_local || !leg->sess ||
	    (n && n <= leg->challenge_cseq))
		return;		/* a retransmission: counted already */
	leg->challenge_cseq = n;
	for (size_t i = 0; i < rx->hdrc && !why; i++) {
		const char *nm = rx->hdrv[i].name;

		if (strcasecmp(nm, "WWW-Authenticate") &&
		    strcasecmp(nm, "Proxy-Authenticate"))
			continue;
		challenge_key(key, sizeof(key), rx->hdrv[i].value);
		kh = key_hash(key);
		for (size_t k = 0; k < AUTH_MAX && k < leg->challenges; k++)
			if (kh == leg->challenge_keys[k])
				why = "the same realm and nonce again";
	}
	if (!why && ++leg->challenges > AUTH_MAX)
		why = "too many challenges";
	if (!why) {
		leg->challenge_keys[leg->challenges - 1] = kh;
		return;
	}
	dial_log(LOG_NOTICE, "leg=%s: %u challenge not answered: %s",
		 leg->id, rx->code, why);
	leg->sess = mem_deref(leg->sess);
	dial_leg_end(leg, dial_leg_event(leg, DIAL_EV_ENDED, true),
		     DIAL_END_FAILED, rx->code, 0, false);
}

static void cancel_guard_h(void *arg)
{
	struct leg *leg = arg;

	/* the far end never finished the INVITE after our CANCEL */
	dial_log(LOG_WARNING, "leg=%s: no final response after CANCEL",
		 leg->id);
	leg->sess = mem_deref(leg->sess);
	dial_leg_end(leg, NULL, DIAL_END_CANCELED, 0, ETIMEDOUT, true);
}

static bool route_h(const struct sip_hdr *hdr, const struct sip_msg *msg,
		    void *arg)
{
	(void)msg;
	return 0 != mbuf_printf(arg, "Route: %r\r\n", &hdr->val);
}

void dial_out_sent(struct leg *leg, const struct dial_event *ev,
		   const uint8_t *pkt, size_t len, const struct sa *dst,
		   enum sip_transp tp)
{
	/* keep the INVITE as sent: our CANCEL is built from it */
	const char *via = dial_event_hdr(ev, "Via");
	const char *br = via ? strstr(via, "branch=") : NULL;
	char branch[64] = "";

	if (br) {
		size_t n = strcspn(br + 7, ";, \t");

		if (n >= sizeof(branch))
			n = sizeof(branch) - 1;
		memcpy(branch, br + 7, n);
		branch[n] = '\0';
	}
	if (!leg->inv || key_hash(branch) != leg->inv_branch) {
		struct mbuf *mb = mbuf_alloc(len);

		if (mb) {
			(void)mbuf_write_mem(mb, pkt, len);
			mb->pos = 0;
			mem_deref(leg->inv);
			leg->inv = mb;
			leg->inv_dst = *dst;
			leg->inv_tp = tp;
			leg->provrecv = false;
			leg->inv_branch = key_hash(branch);
		}
	}
}

/* RFC 3261 §9.1 from the INVITE as sent; libre's own CANCEL cannot carry
 * a Reason (RFC 3326), which forking needs ("Call completed elsewhere"). */
static int cancel_send(struct leg *leg)
{
	struct dial *d = leg->d;
	struct sip_msg *m = NULL;
	struct mbuf *mb = NULL;
	char reason[256];
	int err;

	if (!leg->inv)
		return ENOENT;
	leg->inv->pos = 0;
	err = sip_msg_decode(&m, leg->inv);
	leg->inv->pos = 0;
	if (err)
		return err;
	mb = mbuf_alloc(512);
	if (!mb) {
		err = ENOMEM;
		goto out;
	}
	dial_reason_hdr(reason, sizeof(reason), leg->cancel_reason);
	err = mbuf_printf(mb, "CANCEL %r SIP/2.0\r\n"
			  "Via: %r\r\n"
			  "Max-Forwards: 70\r\n", &m->ruri, &m->via.val);
	if (sip_msg_hdr_apply(m, true, SIP_HDR_ROUTE, route_h, mb))
		err |= ENOMEM;
	err |= mbuf_printf(mb, "To: %r\r\n"
			   "From: %r\r\n"
			   "Call-ID: %r\r\n"
			   "CSeq: %u CANCEL\r\n"
			   "%s"
			   "User-Agent: %s\r\n"
			   "Content-Length: 0\r\n\r\n",
			   &m->to.val, &m->from.val, &m->callid, m->cseq.num,
			   reason, d->conf.user_agent);
	if (err)
		goto out;
	mb->pos = 0;
	err = sip_send(d->sip, NULL, leg->inv_tp, &leg->inv_dst, mb);
	if (!err) {
		leg->cancel_sent = true;
		tmr_start(&leg->tmr, CANCEL_GUARD_MS, cancel_guard_h, leg);
	}
 out:
	mem_deref(m);
	mem_deref(mb);
	return err;
}

static void progr_h(const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	leg->provrecv = true;
	if (msg->scode == 100)
		return;
	dial_bridge_msg(leg, msg);	/* early media's SDP */
	if (leg->state == LEG_CALLING)
		leg->state = LEG_EARLY;
	if (!leg->hangup_local)
		dial_leg_emit(leg, dial_leg_event(leg, DIAL_EV_PROGRESS, true));
}

/* A 2xx after our CANCEL, or a second 2xx of a fork: libre has ACKed it;
 * hang it up (RFC 3261 §15, §13.2.2.4). */
static void late_2xx(struct leg *leg, const struct sip_msg *msg)
{
	struct dial_event *end = dial_leg_event(leg, DIAL_EV_ENDED, true);
	const struct dial_reason *reason = leg->cancel_reason;

	if (leg->grp && leg->grp->won && !reason)
		reason = &elsewhere;
	if (reason) {
		char r[256];

		dial_reason_hdr(r, sizeof(r), reason);
		(void)sipsess_set_close_headers(leg->sess, "%s", r);
	}
	leg->sess = mem_deref(leg->sess);
	dial_leg_end(leg, end, DIAL_END_CANCELED, msg->scode, 0, true);
}

static void group_won(struct leg *winner)
{
	struct le *le;

	winner->grp->won = true;
	for (le = winner->grp->legs.head; le; le = le->next) {
		struct leg *o = le->data;

		if (o != winner && o->state < LEG_UP)
			dial_out_hangup(o, &elsewhere);
	}
}

static void estab_h(const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	if (leg->state == LEG_ENDED)
		return;
	tmr_cancel(&leg->tmr);
	leg->state = LEG_UP;
	if (leg->hangup_local || (leg->grp && leg->grp->won)) {
		late_2xx(leg, msg);
		return;
	}
	dial_sess_estab(msg, arg);
	if (leg->grp && !leg->grp->won)
		group_won(leg);
}

/* Min-SE's delta-seconds; 0 when malformed. pl_u32 would wrap past
 * 2^32 (and a wrapped value could look acceptable). */
static unsigned min_se_parse(const struct pl *val)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < val->l && val->p[i] >= '0' && val->p[i] <= '9'; i++) {
		v = v * 10 + (unsigned long)(val->p[i] - '0');
		if (v > 86400 * 365UL)
			return UINT32_MAX;	/* absurd: refused below */
	}
	return i ? (unsigned)v : 0;
}

/* RFC 4028 §7.4: a 422 carries the smallest interval the far end
 * accepts; one new INVITE with it. True when the leg goes on. An
 * interval over MIN_SE_MAX (2 h) is refused: the leg ends with the 422,
 * it does not hold a session timer of a day or more. */
static bool retry_422(struct leg *leg, const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	unsigned min;
	int err;

	if (!msg || msg->scode != 422 || leg->hangup_local || !leg->se_try ||
	    !leg->spec)
		return false;
	h = sip_msg_hdr(msg, SIP_HDR_MIN_SE);
	min = h ? min_se_parse(&h->val) : 0;
	if (min <= leg->se_try || leg->min_se_retry)
		return false;
	if (min > MIN_SE_MAX) {
		dial_log(LOG_NOTICE, "leg=%s: 422 asks for Min-SE %r, over "
			 "%u s: not retried", leg->id, &h->val, MIN_SE_MAX);
		return false;
	}
	leg->min_se_retry = true;
	leg->se_try = min;
	leg->min_se = min;
	leg->sess = mem_deref(leg->sess);
	leg->state = LEG_CALLING;
	err = invite_send(leg);
	if (err)
		dial_leg_end(leg, NULL, DIAL_END_FAILED, msg->scode, err,
			     false);
	return true;
}

static void close_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	if (leg->state != LEG_ENDED && retry_422(leg, msg))
		return;
	dial_sess_close(err, msg, arg);
}

static int invite_send(struct leg *leg)
{
	struct dial *d = leg->d;
	struct leg_spec *s = leg->spec;
	char sdp[SDP_MAX], from[256], host[80], timers[160];
	struct mbuf *mb;
	int err;

	if (!leg->port && s->relay) {
		err = dial_bridge_open(leg);	/* sets leg->port */
		if (err)
			return err;
	}
	if (!leg->port)
		leg->port = s->media_port ? s->media_port : dial_leg_port_next(d);
	err = dial_sdp_offer(sdp, sizeof(sdp),
			     s->media_addr ? s->media_addr : d->media_addr,
			     leg->port, s->codecv, s->codecc, rand_u64() >> 1);
	if (err)
		return err;
	if (s->from_host)
		snprintf(host, sizeof(host), "%s", s->from_host);
	else if (strchr(d->media_addr, ':'))
		snprintf(host, sizeof(host), "[%s]", d->media_addr);
	else
		snprintf(host, sizeof(host), "%s", d->media_addr);
	snprintf(from, sizeof(from), "sip:%s@%s", s->from_user, host);
	timers[0] = '\0';
	if (leg->se_try)
		snprintf(timers, sizeof(timers),
			 "Session-Expires: %u\r\nMin-SE: %u\r\n"
			 "Supported: timer\r\n", leg->se_try, leg->min_se);
	mb = mbuf_alloc(strlen(sdp));
	if (!mb)
		return ENOMEM;
	(void)mbuf_write_str(mb, sdp);
	mb->pos = 0;
	d->connecting = leg;
	err = sipsess_connect(&leg->sess, d->sock, s->uri, s->from_name, from,
			      s->from_user, NULL, 0, "application/sdp", mb,
			      auth_h, leg, false, dial_sess_offer,
			      dial_sess_answer, progr_h, estab_h,
			      NULL, NULL, close_h, leg,
			      "%s%s" ALLOW, s->hdrs, timers);
	d->connecting = NULL;
	mem_deref(mb);
	if (err)
		return err;
	{
		const char *cid = sip_dialog_callid(sipsess_dialog(leg->sess));

		if (cid)
			(void)dial_leg_cid_add(leg, cid, strlen(cid));
	}
	return 0;
}

/* per-leg "insecure": no TLS verification for this leg's connections
 * (dial/tls.c asks by Call-ID, stack.c answers from insecure_host) */
static int insecure_hold(struct leg *leg)
{
	struct uri u;
	struct pl pl;
	int err;

	pl_set_str(&pl, leg->spec->uri);
	err = uri_decode(&u, &pl);
	if (err)
		return err;
	err = pl_strdup(&leg->insecure_host, &u.host);
	if (err)
		return err;
	dial_log(LOG_WARNING, "leg=%s: TLS verification off for %s "
		 "(insecure target)", leg->id, leg->insecure_host);
	return 0;
}

void dial_out_start(struct dial *d, struct leg_spec *spec)
{
	struct leg *leg;
	int err;

	leg = dial_leg_find(d, spec->id);
	if (leg && leg->state == LEG_ENDED) {
		/* an ended leg of that id lingers for late messages: it keeps
		   its Call-IDs, the new leg takes the id */
		hash_unlink(&leg->he);
		leg = NULL;
	}
	/* shed explicitly instead of collapsing */
	err = leg ? EEXIST : d->nout >= d->conf.max_legs ? EBUSY :
		dial_load_shed_legs(d->load) ? EAGAIN : 0;
	if (err) {
		struct dial_event *ev = dial_event_bare(DIAL_EV_ENDED, spec->id);

		if (ev) {
			ev->end = DIAL_END_FAILED;
			ev->err = err;
			ev->outbound = true;
			snprintf(ev->group, sizeof(ev->group), "%s",
				 spec->group);
			dial_evq_emit(&d->evq, ev);
		}
		atomic_fetch_add_explicit(err == EAGAIN ? &d->ctr.st_shed_out :
					  &d->ctr.st_legs_refused, 1,
					  memory_order_relaxed);
		dial_leg_spec_free(spec);
		return;
	}
	err = dial_leg_alloc(&leg, d, spec->id, true);
	if (err) {
		dial_leg_spec_free(spec);
		return;
	}
	leg->spec = spec;
	leg->se_try = spec->session_expires;
	leg->min_se = spec->min_se;
	if (leg->se_try && leg->se_try < leg->min_se)
		leg->se_try = leg->min_se;
	d->nout++;
	atomic_fetch_add_explicit(&d->ctr.st_legs_started, 1, memory_order_relaxed);
	if (!d->conf.tls_cert && !d->tls_warned &&
	    (!strncasecmp(spec->uri, "sips:", 5) ||
	     strstr(spec->uri, "transport=tls"))) {
		/* libre 1.1.0 puts its TLS listener in the Contact of
		   a TLS INVITE; without tls_cert that listener has a
		   self-signed certificate */
		d->tls_warned = true;
		dial_log(LOG_WARNING, "leg=%s: TLS call without tls_cert: a "
			 "far end that opens a new connection for in-dialog "
			 "requests (BYE) gets a self-signed certificate; set "
			 "sip_tls_cert for one it can verify", leg->id);
	}
	err = dial_leg_group(leg, spec->group);
	if (!err && spec->insecure)
		err = insecure_hold(leg);
	if (!err)
		err = invite_send(leg);
	if (err) {
		dial_log(LOG_NOTICE, "leg=%s: INVITE to %s: %s", leg->id,
			 spec->uri, strerror(err));
		dial_leg_end(leg, NULL, DIAL_END_FAILED, 0, err, false);
	}
}

void dial_out_hangup(struct leg *leg, const struct dial_reason *reason)
{
	char r[256];

	if (leg->state == LEG_ENDED)
		return;
	if (leg->state == LEG_UP) {
		dial_reason_hdr(r, sizeof(r), reason);
		if (r[0] && leg->sess)
			(void)sipsess_set_close_headers(leg->sess, "%s", r);
		leg->hangup_local = true;
		leg->sess = mem_deref(leg->sess);	/* BYE */
		dial_leg_end(leg, NULL, DIAL_END_COMPLETED, 0, 0, true);
		return;
	}
	if (leg->hangup_local)
		return;
	leg->hangup_local = true;
	if (reason && reason->present && !leg->cancel_reason) {
		/* on ENOMEM the CANCEL goes without a Reason */
		leg->cancel_reason = malloc(sizeof(*reason));
		if (leg->cancel_reason)
			*leg->cancel_reason = *reason;
	}
	if (!leg->sess) {
		dial_leg_end(leg, NULL, DIAL_END_CANCELED, 0, 0, true);
		return;
	}
	if (leg->provrecv) {
		int err = cancel_send(leg);

		if (!err)
			return;	/* ENDED comes with the 487 */
		dial_log(LOG_WARNING, "leg=%s: CANCEL: %s", leg->id,
			 strerror(err));
	}
	else {
		/* RFC 3261 §9.1: no CANCEL before a provisional response.
		   libre keeps that rule once we let go of the session (it
		   CANCELs on a later 1xx, ACKs and BYEs a later 2xx), so
		   the daemon learns the end now, not after Timer B */
		dial_log(LOG_INFO, "leg=%s: no provisional response yet; "
			 "CANCEL (without Reason) follows one", leg->id);
	}
	leg->sess = mem_deref(leg->sess);
	dial_leg_end(leg, NULL, DIAL_END_CANCELED, 0, 0, true);
}

static int upd_send_h(enum sip_transp tp, const struct sa *src,
		      const struct sa *dst, struct mbuf *mb, void *arg)
{
	struct leg *leg = arg;
	struct sip_contact contact;

	(void)dst;
	sip_contact_set(&contact, leg->outbound && leg->spec ?
			leg->spec->from_user : "dialerd", src, tp);
	return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}

static void upd_resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *leg = arg;

	if (err || !msg || msg->scode < 200)
		return;
	if (msg->scode >= 300) {
		dial_log(LOG_NOTICE, "leg=%s: UPDATE refresh got %u", leg->id,
			 msg->scode);
		return;
	}
	dial_sess_timer_from(leg, msg, true);
	dial_sess_refreshed(leg);
}

void dial_out_refresh(struct leg *leg)
{
	struct dial *d = leg->d;
	char sdp[SDP_MAX];
	struct mbuf *mb;
	int err;

	if (leg->state != LEG_UP || !leg->sess)
		return;
	if (leg->peer_update) {
		/* RFC 4028 §9: UPDATE without a body refreshes cheaply */
		leg->upd = mem_deref(leg->upd);
		err = sip_drequestf(&leg->upd, d->sip, true, "UPDATE",
				    sipsess_dialog(leg->sess), 0, NULL,
				    upd_send_h, upd_resp_h, leg,
				    "Session-Expires: %u;refresher=uac\r\n"
				    "Supported: timer\r\n"
				    "Content-Length: 0\r\n\r\n",
				    leg->se ? leg->se : 1800);
	}
	else {
		err = dial_sdp_offer(sdp, sizeof(sdp), d->media_addr,
				     leg->port,
				     leg->spec ? leg->spec->codecv : NULL,
				     leg->spec ? leg->spec->codecc : 0,
				     rand_u64() >> 1);
		if (err)
			goto out;
		mb = mbuf_alloc(strlen(sdp));
		if (!mb) {
			err = ENOMEM;
			goto out;
		}
		(void)mbuf_write_str(mb, sdp);
		mb->pos = 0;
		err = sipsess_modify(leg->sess, mb);	/* re-INVITE */
		mem_deref(mb);
	}
 out:
	if (err)
		dial_log(LOG_WARNING, "leg=%s: session refresh: %s", leg->id,
			 strerror(err));
}

/* the far end refreshes with UPDATE (sipsess 1.1.0 would answer 501) */
bool dial_out_update(struct leg *leg, const struct sip_msg *msg)
{
	struct dial *d = leg->d;
	char contact[160];

	if (leg->state != LEG_UP || !leg->sess ||
	    !sip_dialog_cmp(sipsess_dialog(leg->sess), msg)) {
		(void)sip_reply(d->sip, msg, 481, "Call Does Not Exist");
		return true;
	}
	dial_sess_timer_from(leg, msg, false);
	if (sa_af(&msg->dst) == AF_INET6)
		re_snprintf(contact, sizeof(contact), "<sip:dialerd@[%j]:%u%s>",
			    &msg->dst, sa_port(&msg->dst),
			    msg->tp == SIP_TRANSP_TCP ? ";transport=tcp" : "");
	else
		re_snprintf(contact, sizeof(contact), "<sip:dialerd@%J%s>",
			    &msg->dst,
			    msg->tp == SIP_TRANSP_TCP ? ";transport=tcp" :
			    msg->tp == SIP_TRANSP_TLS ? ";transport=tls" : "");
	if (leg->se)
		(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 200, "OK",
				  "Contact: %s\r\n"
				  "Session-Expires: %u;refresher=%s\r\n"
				  "Require: timer\r\n"
				  "Content-Length: 0\r\n\r\n", contact,
				  leg->se, leg->se_local ? "uas" : "uac");
	else
		(void)sip_treplyf(NULL, NULL, d->sip, msg, false, 200, "OK",
				  "Contact: %s\r\nContent-Length: 0\r\n\r\n",
				  contact);
	dial_sess_refreshed(leg);
	return true;
}

/* ---- the destination deny list (conf.deny_destinations) ---- */

/* The leg a request we send belongs to: the one inside sipsess_connect(),
 * else by Call-ID (a DNS answer or a 3xx sends later). Refused path only. */
static struct leg *request_leg(struct dial *d, const struct mbuf *mb)
{
	struct sip_msg *m = NULL;
	struct mbuf *copy;
	struct leg *leg = NULL;

	if (d->connecting)
		return d->connecting;
	copy = mbuf_alloc(mbuf_get_left(mb));
	if (!copy)
		return NULL;
	(void)mbuf_write_mem(copy, mbuf_buf(mb), mbuf_get_left(mb));
	copy->pos = 0;
	if (!sip_msg_decode(&m, copy))
		leg = dial_leg_cid_find(d, m->callid.p, m->callid.l);
	mem_deref(m);
	mem_deref(copy);
	return leg;
}

/* Runs in libre's sip_transp_send (tls.h) with the address actually
 * contacted: after DNS, for the INVITE, its auth and 422 retries, a 3xx's
 * new target, and the in-dialog requests of the leg. Responses, and
 * requests of inbound legs (BYE to a caller), are not ours to refuse. */
static int dest_guard_h(enum sip_transp tp, const struct sa *dst,
			const struct mbuf *mb, void *arg)
{
	struct dial *d = arg;
	const struct dial_dest_rule *r;
	struct leg *leg;
	char rule[80], peer[sizeof(leg->refused->peer)];

	if (!dst || !mb)
		return 0;
	r = dial_dest_match(&d->deny, &dst->u.sa, tp != SIP_TRANSP_UDP);
	if (!r)
		return 0;
	if (mbuf_get_left(mb) >= 8 && !memcmp(mbuf_buf(mb), "SIP/2.0 ", 8))
		return 0;
	leg = request_leg(d, mb);
	if (leg && !leg->outbound)
		return 0;
	dial_dest_rule_print(rule, sizeof(rule), r);
	/* as the events name a far end: "IP:PORT", "[V6]:PORT" */
	if (sa_af(dst) == AF_INET6)
		re_snprintf(peer, sizeof(peer), "[%j]:%u", dst, sa_port(dst));
	else
		re_snprintf(peer, sizeof(peer), "%J", dst);
	if (leg && !leg->refused)
		leg->refused = malloc(sizeof(*leg->refused));
	if (leg && leg->refused) {
		snprintf(leg->refused->peer, sizeof(leg->refused->peer), "%s",
			 peer);
		snprintf(leg->refused->tp, sizeof(leg->refused->tp), "%s",
			 tp == SIP_TRANSP_TCP ? "tcp" :
			 tp == SIP_TRANSP_TLS ? "tls" : "udp");
	}
	dial_log(LOG_WARNING, "leg=%s: request to %s refused: destination "
		 "denied by deny_destinations (%s)", leg ? leg->id : "?",
		 peer, rule);
	return EACCES;
}

void dial_out_policy_init(struct dial *d)
{
	static const enum sip_transp tps[] = {
		SIP_TRANSP_UDP, SIP_TRANSP_TCP, SIP_TRANSP_TLS
	};

	if (d->deny.self) {
		/* a document must not make us call ourselves in a loop */
		for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
			struct sa a;

			if (sip_transp_laddr(d->sip, &a, tps[i], NULL) ||
			    dial_dest_add_exact(&d->deny, &a.u.sa,
						tps[i] != SIP_TRANSP_UDP))
				dial_log(LOG_WARNING, "deny_destinations: our "
					 "%s listener not found",
					 sip_transp_name(tps[i]));
		}
	}
	dial_tls_send_guard(d->deny.n ? dest_guard_h : NULL, d);
}
