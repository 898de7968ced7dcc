/* restart_adopt.c: the connected calls a killed process left up, rebuilt from the call log for the SIP engine (dial_adopt) and the call layer (call_adopt) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/call.h"
#include "daemon/log.h"
#include "daemon/restart_adopt.h"
#include "daemon/restart_bye.h"
#include "daemon/smap.h"
#include "dial/dial.h"
#include "util/memdupz.h"

/*
 * A process killed with calls up leaves each caller and callee holding a
 * dialog with a process that is gone. The next start on the same folder
 * has the same SIP address and media ports to offer, and the call log
 * holds every message of both legs as it crossed the wire: the INVITE and
 * 2xx that made each dialog, the SDP of each side (call_log_bodies sdp,
 * the default), and what the first status event of the <Dial>'s child
 * recorded (its action, timeLimit, the document that goes on after it
 * and the status callback). That is enough to go on with a call that was
 * connected: the legs are taken up again with their relay ports, and when
 * either side hangs up the call ends as it would have, with its callbacks
 * and the <Dial>'s action or the rest of its document.
 *
 * Only a connected <Dial> (an answered child of an answered parent) is
 * taken up: a call still ringing, or one between documents, has state
 * that is in no row. Those are ended as before (restart_bye.c).
 *
 * A <Dial> may end in the last moment of the dead process, most often by
 * the callee's BYE: the caller's leg is still up, the child's end is in
 * the call log (or only its callee's BYE is), and the <Dial>'s action
 * (or a <Redirect> after it) was being fetched. Such a call is taken up
 * too, its caller's leg alone: the child ends as the call log says, and
 * the action or the rest of the document runs, as it would have.
 * A BYE on the caller's leg, or one dialerd sent to a child still open,
 * means the call was being ended: it is ended as before.
 */

/* What call_adopt and dial_adopt are given, owned. */
struct side {
	struct smap_node node;		/* key: c.sid */
	struct call_adopt_call c;
	struct dial_bye dlg;		/* id, invite, ok, uac, cseq */
	char *local_sdp, *peer_sdp;
	char **names, **values;		/* c.hdr_names / c.hdr_values */
	char **bnames, **bvalues;	/* the BYE's, as c.bye_hdrs: */
	struct dial_hdr *bye;
	char *strs[8];			/* the strings c points at */
	char source_ip[64];
};

struct pair {
	struct side parent, child;
	struct call_dial_record dial;	/* its strings: */
	char *action, *then_doc, *then_url;
	bool engine;			/* dial_adopt queued */
};

struct restart_adopts {
	struct pair **v;
	size_t n, cap;
	struct smap sids;		/* both sides of every pair */
};

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void side_free(struct side *s)
{
	strv_free(s->names, s->c.nhdrs);
	strv_free(s->values, s->c.nhdrs);
	strv_free(s->bnames, s->c.nbye);
	strv_free(s->bvalues, s->c.nbye);
	free(s->bye);
	for (size_t i = 0; i < sizeof(s->strs) / sizeof(s->strs[0]); i++)
		free(s->strs[i]);
	free(s->local_sdp);
	free(s->peer_sdp);
	restart_bye_dialog_free(&s->dlg);
	memset(s, 0, sizeof(*s));
}

static struct pair *pair_free(struct pair *p)
{
	if (!p)
		return NULL;
	side_free(&p->parent);
	side_free(&p->child);
	free(p->action);
	free(p->then_doc);
	free(p->then_url);
	free(p);
	return NULL;
}

/* A copy kept in s->strs[*k]; false when out of memory. */
static bool keep(struct side *s, size_t *k, const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return true;
	s->strs[*k] = strdup(src);
	*dst = s->strs[*k];
	(*k)++;
	return *dst != NULL;
}

static bool is_sdp(const struct store_sip_row *r)
{
	return r->body && r->body_type &&
	       !strncasecmp(r->body_type, "application/sdp", 15);
}

/* The last SDP each side sent in the leg (an offer or answer, re-INVITEs
 * included). */
static int sdps(struct side *s, const char *sid,
		const struct store_sip_row *rows, size_t n)
{
	const char *mine = NULL, *theirs = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct store_sip_row *r = &rows[i];

		if (!r->call_sid || strcmp(r->call_sid, sid) || !is_sdp(r))
			continue;
		if (r->direction == STORE_DIR_OUT)
			mine = r->body;
		else
			theirs = r->body;
	}
	if (!mine || !theirs)
		return ENOENT;
	s->local_sdp = strdup(mine);
	s->peer_sdp = strdup(theirs);
	return s->local_sdp && s->peer_sdp ? 0 : ENOMEM;
}

/* The policy headers of a message (SipHeader_ of the INVITE,
 * DialSipHeader_ of the 200, and of a BYE that overlays them), first
 * value of a name kept by the parameter code; *np counts those copied. */
static int policy_headers(const struct store_sip_row *r, char ***namesp,
			  char ***valuesp, size_t *np)
{
	size_t n = 0;
	char **names, **values;

	for (size_t i = 0; i < r->nhdrs; i++)
		n += store_header_is_policy(r->hdrs[i].name, r->hdrs[i].name_len);
	if (!n)
		return 0;
	*namesp = names = calloc(n, sizeof(char *));
	*valuesp = values = calloc(n, sizeof(char *));
	if (!names || !values)
		return ENOMEM;
	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct store_header *h = &r->hdrs[i];
		size_t k = *np;

		if (!store_header_is_policy(h->name, h->name_len))
			continue;
		/* they point into the row's header block: no NUL after them */
		names[k] = util_memdupz(h->name, h->name_len);
		values[k] = util_memdupz(h->value, h->value_len);
		if (!names[k] || !values[k]) {
			free(names[k]);
			free(values[k]);
			return ENOMEM;
		}
		(*np)++;
	}
	return 0;
}

static int side_headers(struct side *s, const struct store_sip_row *r)
{
	int err = policy_headers(r, &s->names, &s->values, &s->c.nhdrs);

	s->c.hdr_names = (const char *const *)s->names;
	s->c.hdr_values = (const char *const *)s->values;
	return err;
}

/* The callee's BYE that ended the child before the kill: its policy
 * headers as the engine's event would carry them. */
static int side_bye(struct side *s, const struct store_sip_row *bye)
{
	int err = policy_headers(bye, &s->bnames, &s->bvalues, &s->c.nbye);

	if (err || !s->c.nbye)
		return err;
	s->bye = calloc(s->c.nbye, sizeof(*s->bye));
	if (!s->bye)
		return ENOMEM;
	for (size_t i = 0; i < s->c.nbye; i++) {
		s->bye[i].name = s->bnames[i];
		s->bye[i].value = s->bvalues[i];
	}
	s->c.bye_hdrs = s->bye;
	return 0;
}

/* The first BYE of leg sid among rows: its index, n when there is none. */
static size_t bye_of(const char *sid, const struct store_sip_row *rows,
		     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].call_sid && !strcmp(rows[i].call_sid, sid) &&
		    rows[i].method && !strcmp(rows[i].method, "BYE"))
			return i;
	return n;
}

/* The first value of header name (or its compact form) in r that fits
 * v, as a C string; false when there is none. */
static bool hdr_copy(const struct store_sip_row *r, const char *name,
		     char compact, char *v, size_t size)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct store_header *h = &r->hdrs[i];

		if (!((h->name_len == n && !strncasecmp(h->name, name, n)) ||
		      (h->name_len == 1 && (h->name[0] | 0x20) == compact)) ||
		    h->value_len >= size)
			continue;
		memcpy(v, h->value, h->value_len);
		v[h->value_len] = '\0';
		return true;
	}
	return false;
}

/* SipSourceIp: where the INVITE came from, as its top Via says (its
 * received parameter, else its host); the packet's address is not in
 * the call log. */
static void source_ip(struct side *s, const struct store_sip_row *inv)
{
	char v[512], *p, *e;

	if (!hdr_copy(inv, "Via", 'v', v, sizeof(v)))
		return;
	v[strcspn(v, ",")] = '\0';	/* the top one */
	p = strstr(v, ";received=");
	if (p) {
		p += 10;
		p[strcspn(p, "; \t")] = '\0';
	} else if ((p = strchr(v, ' '))) {
		p += strspn(p, " \t");
		if (*p == '[') {
			e = strchr(++p, ']');
			if (e)
				*e = '\0';
		} else {
			p[strcspn(p, ":; \t")] = '\0';
		}
	}
	if (p && *p)
		snprintf(s->source_ip, sizeof(s->source_ip), "%s", p);
	s->c.source_ip = s->source_ip[0] ? s->source_ip : NULL;
}

/* Does our message's Contact (where the peer sends its requests) name
 * the SIP address this process listens on? A restart on another address
 * could not hear the peers: it ends the calls instead. */
static bool contact_is(const struct store_sip_row *r, const char *host,
		       uint16_t port)
{
	char v[512], *p, *e;
	unsigned long cport;
	bool sips;

	if (!hdr_copy(r, "Contact", 'm', v, sizeof(v)))
		return false;
	sips = (p = strcasestr(v, "sips:")) != NULL;
	if (!p && !(p = strcasestr(v, "sip:")))
		return false;
	p += sips ? 5 : 4;
	e = p + strcspn(p, ";>?");
	*e = '\0';
	if (strchr(p, '@'))
		p = strchr(p, '@') + 1;
	if (*p == '[') {
		e = strchr(++p, ']');
		if (!e)
			return false;
		*e++ = '\0';
	} else {
		e = p + strcspn(p, ":");
		if (*e)
			*e++ = '\0';
		else
			e = NULL;
	}
	if (e && *e == ':')
		e++;
	cport = e && *e ? strtoul(e, NULL, 10) : (sips ? 5061 : 5060);
	return !strcasecmp(p, host) && cport == port;
}

/* The side of call oc: its dialog from the rows before upto (its peer's
 * BYE, if any), the rest of what the call log says of it from all n. */
static int side_fill(struct side *s, const struct store_open_call *oc,
		     int64_t last_cb, const struct store_sip_row *rows,
		     size_t upto, size_t n, bool parent, const char *host,
		     uint16_t port)
{
	const struct store_sip_row *inv, *ok;
	uint32_t cseq;
	size_t k = 0;
	int err;

	if (oc->cb_url && strstr(oc->cb_url, ":***@"))
		return EINVAL;	/* its terminal callback could not be sent */
	err = restart_bye_rows(&inv, &ok, &cseq, oc->sid, rows, upto);
	if (!err && !contact_is(inv->direction == STORE_DIR_OUT ? inv : ok,
				host, port))
		err = EADDRNOTAVAIL;
	if (!err)
		err = restart_bye_dialog(&s->dlg, oc->sid, rows, upto);
	if (!err)
		err = sdps(s, oc->sid, rows, upto);
	if (err)
		return err;
	if (!keep(s, &k, &s->c.sid, oc->sid) ||
	    !keep(s, &k, &s->c.from, oc->from) ||
	    !keep(s, &k, &s->c.to, oc->to) ||
	    !keep(s, &k, &s->c.caller_name, oc->caller_name) ||
	    !keep(s, &k, &s->c.forwarded_from, oc->forwarded_from) ||
	    !keep(s, &k, &s->c.sip_call_id, oc->sip_call_id) ||
	    !keep(s, &k, &s->c.codec, oc->codec) ||
	    !keep(s, &k, &s->c.cb_url, oc->cb_url))
		return ENOMEM;
	s->c.api = oc->direction && !strcmp(oc->direction, "outbound-api");
	s->c.time_limit_s = s->c.api && oc->time_limit > 0 ?
			    (unsigned)oc->time_limit : 0;
	s->c.created_us = oc->created_at;
	s->c.ringing_us = oc->ringing_at;
	s->c.answered_us = oc->answered_at;
	s->c.started_us = oc->started_at;
	s->c.next_event = oc->next_event;
	s->c.next_callback = (uint32_t)(last_cb + 1);
	s->c.next_fetch = oc->next_fetch;
	s->c.cb_get = oc->cb_get;
	s->c.cb_completed = oc->cb_completed;
	s->c.sip_code = oc->sip_response_code > 0 &&
			oc->sip_response_code < 700 ?
			(uint16_t)oc->sip_response_code : 0;
	/* after the leg's last message */
	for (size_t i = 0; i < n; i++)
		if (rows[i].call_sid && !strcmp(rows[i].call_sid, oc->sid) &&
		    rows[i].seq >= s->c.next_msg)
			s->c.next_msg = rows[i].seq + 1;
	if (!parent)
		err = side_headers(s, ok);
	if (!parent && !err && upto < n && rows[upto].direction == STORE_DIR_IN)
		err = side_bye(s, &rows[upto]);
	if (!parent || s->dlg.uac) /* a REST call: no INVITE of the caller's */
		return err;
	source_ip(s, inv);
	return side_headers(s, inv);
}

int restart_adopts_add(struct restart_adopts **ap,
		       const struct store_open_call *parent, int64_t parent_cb,
		       const struct store_open_call *child, int64_t child_cb,
		       const struct store_sip_row *rows, size_t n,
		       const char *sip_host, uint16_t sip_port)
{
	struct restart_adopts *a = *ap;
	size_t pbye = bye_of(parent->sid, rows, n);
	size_t cbye = bye_of(child->sid, rows, n);
	struct pair *p;
	int err = 0;

	if (!child->dial_known || !child->answered_at || !parent->answered_at)
		return ENOENT;
	if (pbye < n || (cbye < n && !child->ended_at &&
			 rows[cbye].direction != STORE_DIR_IN))
		return EALREADY;
	if ((child->dial_action && strstr(child->dial_action, ":***@")) ||
	    (child->dial_then_url && strstr(child->dial_then_url, ":***@")))
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	err = side_fill(&p->parent, parent, parent_cb, rows, n, n, true,
			sip_host, sip_port);
	if (!err)
		err = side_fill(&p->child, child, child_cb, rows, cbye, n,
				false, sip_host, sip_port);
	if (!err && ((child->dial_action &&
		      !(p->action = strdup(child->dial_action))) ||
		     (child->dial_then_doc && child->dial_then_url &&
		      (!(p->then_doc = strdup(child->dial_then_doc)) ||
		       !(p->then_url = strdup(child->dial_then_url))))))
		err = ENOMEM;
	if (!err && !a) {
		a = calloc(1, sizeof(*a));
		*ap = a;
		if (a)
			smap_init(&a->sids);
		else
			err = ENOMEM;
	}
	if (!err && a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct pair **v = realloc(a->v, cap * sizeof(*v));

		if (v) {
			a->v = v;
			a->cap = cap;
		} else {
			err = ENOMEM;
		}
	}
	p->parent.node.key = p->parent.c.sid;
	p->child.node.key = p->child.c.sid;
	if (!err && smap_insert(&a->sids, &p->parent.node))
		err = ENOMEM;
	if (!err && smap_insert(&a->sids, &p->child.node)) {
		smap_remove(&a->sids, &p->parent.node);
		err = ENOMEM;
	}
	if (err) {
		pair_free(p);
		return err;
	}
	/* the child's end: as its row has it, else its callee's BYE */
	p->child.c.end_logged = child->ended_at != 0;
	p->child.c.ended_us = child->ended_at ? child->ended_at :
			      cbye < n ? rows[cbye].at : 0;
	p->dial.action = p->action;
	p->dial.action_get = child->dial_get;
	p->dial.time_limit = child->dial_time_limit > 0 ?
			     child->dial_time_limit : 14400;	/* the default */
	p->dial.then_doc = p->then_doc;
	p->dial.then_url = p->then_url;
	p->dial.then_verb = child->dial_then_verb;
	a->v[a->n++] = p;
	return 0;
}

bool restart_adopts_has(const struct restart_adopts *a, const char *sid)
{
	return a && sid && smap_find(&a->sids, sid) != NULL;
}

size_t restart_adopts_count(const struct restart_adopts *a)
{
	return a ? a->n : 0;
}

static void leg_of(struct dial_adopt *l, const struct side *s);

void restart_adopts_get(const struct restart_adopts *a, size_t i,
			struct call_adopt *ca, struct dial_adopt *parent,
			struct dial_adopt *child)
{
	const struct pair *p = a->v[i];

	memset(ca, 0, sizeof(*ca));
	ca->parent = p->parent.c;
	ca->child = p->child.c;
	ca->dial = p->dial;
	leg_of(parent, &p->parent);
	leg_of(child, &p->child);
}

static void leg_of(struct dial_adopt *l, const struct side *s)
{
	memset(l, 0, sizeof(*l));
	l->id = s->dlg.id;
	l->invite = s->dlg.invite;
	l->ok = s->dlg.ok;
	l->uac = s->dlg.uac;
	l->cseq = s->dlg.cseq;
	l->local_sdp = s->local_sdp;
	l->peer_sdp = s->peer_sdp;
}

void restart_adopts_send(struct restart_adopts *a, struct dial *d)
{
	for (size_t i = 0; a && i < a->n; i++) {
		struct call_adopt ca;
		struct dial_adopt pa, ch;
		int err;

		restart_adopts_get(a, i, &ca, &pa, &ch);
		/* a child its callee hung up has no dialog left to take up */
		err = dial_adopt(d, &pa, ca.child.ended_us ? NULL : &ch);
		a->v[i]->engine = err == 0;
		if (err)
			log_write(LOG_ERR, "takeover", pa.id, "cannot take the "
				  "call up again: %s; it stays open until the "
				  "next takeover", strerror(err));
	}
	if (a && a->n && dial_adopt_done(d))
		log_msg(LOG_ERR, "takeover", "cannot tell the SIP engine the "
			"adoptions are queued");
}

void restart_adopts_calls(struct restart_adopts *a, struct call_layer *cl,
			  struct dial *d)
{
	static const struct dial_reason lost = {true, "Q.850", 41,
						"dialerd process lost"};
	size_t ok = 0;

	for (size_t i = 0; a && i < a->n; i++) {
		struct call_adopt ca;
		struct dial_adopt pa, ch;
		int err;

		if (!a->v[i]->engine)
			continue;
		restart_adopts_get(a, i, &ca, &pa, &ch);
		err = call_adopt(cl, &ca);
		if (!err) {
			ok++;
			continue;
		}
		/* the engine holds the legs: they are ended, not left on
		   silence (their rows stay open for the next takeover) */
		log_write(LOG_ERR, "takeover", pa.id, "cannot take the call up "
			  "again: %s; hanging up", strerror(err));
		(void)dial_leg_hangup(d, pa.id, &lost);
		if (!ca.child.ended_us)
			(void)dial_leg_hangup(d, ch.id, &lost);
	}
	if (a && a->n)
		log_msg(LOG_NOTICE, "takeover", "%zu of %zu connected calls the "
			"dead process left up adopted", ok, a->n);
}

struct restart_adopts *restart_adopts_free(struct restart_adopts *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n; i++)
		pair_free(a->v[i]);
	smap_fini(&a->sids);
	free(a->v);
	free(a);
	return NULL;
}
