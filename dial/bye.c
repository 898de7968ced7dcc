/* bye.c: a BYE for a dialog a previous process left up, rebuilt from the INVITE and the 2xx that set it up */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * A process killed with calls up takes their legs with it: the caller and
 * the callee keep a dialog open on silence until a session timer or a
 * human ends it, and the carrier bills it. The next process has the two
 * messages that made each dialog (the call log keeps them as they crossed
 * the wire) and ends it as RFC 3261 12.2.1.1 says the side that sent them
 * would have: To and From from the dialog's tags, the remote target from
 * the peer's Contact, the route set from Record-Route (reversed on the
 * side that sent the INVITE). The BYE is a plain client transaction; its
 * messages are events of the leg (by its Call-ID, recv.c), its answer is
 * logged and counted, nothing else waits for it.
 */

struct bye {
	struct le le;			/* d->byes */
	struct dial *d;
	struct sip_request *req;
	char *callid;			/* its messages' events: leg id */
	char id[DIAL_ID_MAX];
};

static void bye_destructor(void *arg)
{
	struct bye *b = arg;

	list_unlink(&b->le);
	b->req = mem_deref(b->req);
	b->callid = mem_deref(b->callid);
}

static void resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct bye *b = arg;

	if (!err && msg && msg->scode < 200)
		return;
	if (!err && msg && msg->scode < 300) {
		atomic_fetch_add_explicit(&b->d->ctr.st_byes_ok, 1,
					  memory_order_relaxed);
		dial_log(LOG_NOTICE, "leg=%s: BYE to the orphaned dialog: %u %r",
			 b->id, msg->scode, &msg->reason);
	}
	else {
		atomic_fetch_add_explicit(&b->d->ctr.st_byes_failed, 1,
					  memory_order_relaxed);
		if (err)
			dial_log(LOG_WARNING, "leg=%s: BYE to the orphaned "
				 "dialog not answered: %s", b->id, strerror(err));
		else
			dial_log(LOG_WARNING, "leg=%s: BYE to the orphaned "
				 "dialog: %u %r", b->id, msg->scode, &msg->reason);
	}
	b->req = NULL;	/* libre frees the request after this handler */
	mem_deref(b);
}

/* The message keeps a reference to its buffer: its pl point into it. A
 * header block without its closing empty line gets one. */
int dial_bye_decode(struct sip_msg **mp, const char *raw)
{
	size_t n = strlen(raw);
	bool closed = n >= 4 && !memcmp(raw + n - 4, "\r\n\r\n", 4);
	struct mbuf *mb = mbuf_alloc(n + 3);
	int err;

	if (!mb)
		return ENOMEM;
	err = mbuf_write_mem(mb, (const uint8_t *)raw, n);
	if (!err && !closed)
		err = mbuf_write_str(mb, n >= 2 && !memcmp(raw + n - 2, "\r\n", 2) ?
				     "\r\n" : "\r\n\r\n");
	mb->pos = 0;
	if (!err)
		err = sip_msg_decode(mp, mb);
	mem_deref(mb);
	return err;
}

struct routes {
	struct mbuf *mb;
	struct pl first;	/* the next hop's URI */
	int err;
};

/* One Route header per route-set entry, as Record-Route gave it, visited
 * in the route set's order: the first is the next hop. */
static bool route_h(const struct sip_hdr *hdr, const struct sip_msg *msg,
		    void *arg)
{
	struct routes *r = arg;
	struct sip_addr a;

	(void)msg;
	if (sip_addr_decode(&a, &hdr->val)) {
		r->err = EBADMSG;
		return true;
	}
	if (!pl_isset(&r->first))
		r->first = a.auri;
	r->err = mbuf_printf(r->mb, "Route: %r\r\n", &hdr->val);
	return r->err != 0;
}

/* The remote target: the first Contact's URI. */
static int target(struct pl *uri, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTACT);
	struct sip_addr a;

	if (!h || sip_addr_decode(&a, &h->val))
		return EBADMSG;
	*uri = a.auri;
	return 0;
}

static void dlg_destructor(void *arg)
{
	struct dial_dlg *g = arg;

	mem_deref(g->target);
	mem_deref(g->next_hop);
	mem_deref(g->routes);
	mem_deref(g->to);
	mem_deref(g->from);
	mem_deref(g->callid);
	mem_deref(g->ltag);
	mem_deref(g->rtag);
	mem_deref(g->contact);
}

static int pl_dup_or_empty(char **s, const struct pl *pl)
{
	return pl_isset(pl) ? pl_strdup(s, pl) : str_dup(s, "");
}

int dial_dlg_decode(struct dial_dlg **gp, const struct sip_msg *inv,
		    const struct sip_msg *rsp, bool uac)
{
	const struct sip_taddr *from, *to;
	const struct sip_hdr *ours;
	struct routes r = {0};
	struct dial_dlg *g = NULL;
	struct pl ruri;
	int err;

	*gp = NULL;
	if (!inv->req || pl_strcmp(&inv->met, "INVITE") || rsp->req ||
	    rsp->scode < 200 || rsp->scode > 299 ||
	    !pl_isset(&rsp->to.tag) || pl_cmp(&inv->callid, &rsp->callid) ||
	    !pl_isset(&inv->callid))
		return EBADMSG;
	/* RFC 3261 12.1.1 (we answered) and 12.1.2 (we called) */
	from = uac ? &inv->from : &rsp->to;
	to = uac ? &rsp->to : &inv->from;
	err = target(&ruri, uac ? rsp : inv);
	if (err)
		return err;
	g = mem_zalloc(sizeof(*g), dlg_destructor);
	r.mb = mbuf_alloc(512);
	if (!g || !r.mb) {
		err = ENOMEM;
		goto out;
	}
	(void)sip_msg_hdr_apply(uac ? rsp : inv, !uac, SIP_HDR_RECORD_ROUTE,
				route_h, &r);
	err = r.err;
	if (!err)
		err = pl_strdup(&g->target, &ruri);
	if (!err && pl_isset(&r.first))
		err = pl_strdup(&g->next_hop, &r.first);
	if (!err)
		err = re_sdprintf(&g->routes, "%b", (const char *)r.mb->buf,
				  r.mb->end);
	if (!err)
		err = pl_strdup(&g->to, &to->val);
	if (!err)
		err = pl_strdup(&g->from, &from->val);
	if (!err)
		err = pl_strdup(&g->callid, &inv->callid);
	if (!err)
		err = pl_dup_or_empty(&g->ltag, &from->tag);
	if (!err)
		err = pl_dup_or_empty(&g->rtag, &to->tag);
	/* ours: the Contact of the message this side sent */
	ours = sip_msg_hdr(uac ? inv : rsp, SIP_HDR_CONTACT);
	if (!err && ours)
		err = pl_strdup(&g->contact, &ours->val);
 out:
	if (err)
		g = mem_deref(g);
	*gp = g;
	mem_deref(r.mb);
	return err;
}

int dial_dlg_request(char **hdrsp, const struct dial_dlg *g, const char *met,
		     uint32_t cseq, const char *extra, const char *sdp,
		     const char *user_agent)
{
	char body[96] = "Content-Length: 0\r\n\r\n";

	if (sdp)
		snprintf(body, sizeof(body), "Content-Type: application/sdp\r\n"
			 "Content-Length: %zu\r\n\r\n", strlen(sdp));
	return re_sdprintf(hdrsp,
			   "To: %s\r\n"
			   "From: %s\r\n"
			   "Call-ID: %s\r\n"
			   "CSeq: %u %s\r\n"
			   "%s"
			   "%s"
			   "User-Agent: %s\r\n"
			   "%s%s",
			   g->to, g->from, g->callid, cseq, met, g->routes,
			   extra ? extra : "", user_agent ? user_agent : "dialerd",
			   body, sdp ? sdp : "");
}

int dial_dlg_bye(char **hdrsp, const struct dial_dlg *g, uint32_t cseq,
		 const struct dial_reason *reason, const char *user_agent)
{
	char r[256];

	dial_reason_hdr(r, sizeof(r), reason);
	return dial_dlg_request(hdrsp, g, "BYE", cseq, r, NULL, user_agent);
}

static void msg_destructor(void *arg)
{
	struct dial_bye_msg *m = arg;

	mem_deref(m->ruri);
	mem_deref(m->next_hop);
	mem_deref(m->hdrs);
	mem_deref(m->callid);
}

int dial_bye_build(struct dial_bye_msg **mp, const char *invite,
		   const char *ok, bool uac, uint32_t cseq,
		   const char *user_agent)
{
	static const struct dial_reason lost = {true, "Q.850", 41,
						"dialerd process lost"};
	struct sip_msg *inv = NULL, *rsp = NULL;
	struct dial_bye_msg *m = NULL;
	struct dial_dlg *g = NULL;
	int err;

	*mp = NULL;
	if (!invite || !ok)
		return EINVAL;
	err = dial_bye_decode(&inv, invite);
	if (!err)
		err = dial_bye_decode(&rsp, ok);
	if (!err)
		err = dial_dlg_decode(&g, inv, rsp, uac);
	if (err)
		goto out;
	m = mem_zalloc(sizeof(*m), msg_destructor);
	if (!m) {
		err = ENOMEM;
		goto out;
	}
	m->ruri = mem_ref(g->target);
	m->next_hop = mem_ref(g->next_hop);
	m->callid = mem_ref(g->callid);
	err = dial_dlg_bye(&m->hdrs, g, cseq, &lost, user_agent);
 out:
	if (err)
		m = mem_deref(m);
	*mp = m;
	mem_deref(g);
	mem_deref(inv);
	mem_deref(rsp);
	return err;
}

int dial_bye_run(struct dial *d, const char *id, const char *invite,
		 const char *ok, bool uac, uint32_t cseq)
{
	struct dial_bye_msg *m = NULL;
	struct uri route;
	struct pl hop;
	struct bye *b = NULL;
	int err;

	err = dial_bye_build(&m, invite, ok, uac, cseq, d->conf.user_agent);
	if (!err && m->next_hop) {
		pl_set_str(&hop, m->next_hop);
		err = uri_decode(&route, &hop);
		if (err)
			err = EBADMSG;
	}
	if (err)
		goto out;
	b = mem_zalloc(sizeof(*b), bye_destructor);
	if (!b) {
		err = ENOMEM;
		goto out;
	}
	b->d = d;
	b->callid = mem_ref(m->callid);
	snprintf(b->id, sizeof(b->id), "%s", id);
	list_append(&d->byes, &b->le, b);
	err = sip_requestf(&b->req, d->sip, true, "BYE", m->ruri,
			   m->next_hop ? &route : NULL, NULL, NULL, resp_h, b,
			   "%s", m->hdrs);
	if (err)
		b = mem_deref(b);
	else
		dial_log(LOG_INFO, "leg=%s: BYE to the orphaned dialog at %s",
			 id, m->ruri);
 out:
	if (err) {
		atomic_fetch_add_explicit(&d->ctr.st_byes_failed, 1,
					  memory_order_relaxed);
		dial_log(LOG_WARNING, "leg=%s: no BYE to the orphaned dialog: %s",
			 id, err == EBADMSG ? "the dialog's messages do not "
			 "make one" : strerror(err));
	}
	mem_deref(m);
	return err;
}

const char *dial_bye_find(const struct dial *d, const char *callid,
			  size_t len)
{
	for (struct le *le = d->byes.head; le; le = le->next) {
		const struct bye *b = le->data;

		if (strlen(b->callid) == len && !memcmp(b->callid, callid, len))
			return b->id;
	}
	return NULL;
}

void dial_bye_flush(struct dial *d)
{
	size_t n = list_count(&d->byes);

	if (n)
		dial_log(LOG_WARNING, "%zu BYE%s to orphaned dialogs "
			 "still unanswered at shutdown", n, n == 1 ? "" : "s");
	list_flush(&d->byes);
}
