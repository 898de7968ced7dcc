/* call_adopt.c: the two calls of a connected <Dial> that a killed process
 * left up, rebuilt from the call log by the restart, so that the caller
 * and the callee stay connected and the call ends as it would have
 *
 * The restart's takeover has not ended them: their rows stay in progress.
 * Here they become calls of the table again, numbering their events,
 * messages, fetches and callbacks after the dead process's, with a <Dial>
 * bridged to its child and a document that requests the <Dial>'s action
 * when it ends. Nothing is logged as a status change: the rows already
 * say in-progress, and the next snapshot is the call's end. A child that
 * ended before the kill (its callee hung up while the <Dial>'s action
 * was fetched) ends here, as the engine's event of its end would have
 * ended it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/call.h"
#include "daemon/log.h"
#include "dial/dial.h"
#include "store/store.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int headers(struct call *c, const struct call_adopt_call *a)
{
	if (!a->nhdrs)
		return 0;
	c->hdr_names = calloc(a->nhdrs, sizeof(char *));
	c->hdr_values = calloc(a->nhdrs, sizeof(char *));
	if (!c->hdr_names || !c->hdr_values)
		return ENOMEM;
	for (size_t i = 0; i < a->nhdrs; i++) {
		c->hdr_names[c->nhdrs] = strdup(a->hdr_names[i]);
		c->hdr_values[c->nhdrs] = strdup(a->hdr_values[i]);
		if (!c->hdr_names[c->nhdrs] || !c->hdr_values[c->nhdrs]) {
			free(c->hdr_names[c->nhdrs]);
			free(c->hdr_values[c->nhdrs]);
			return ENOMEM;
		}
		c->nhdrs++;
	}
	return 0;
}

/* A call of the table, in progress, as its row says. */
static int rebuild(struct call_layer *cl, const struct call_adopt_call *a,
		   enum call_direction dir, struct call *parent,
		   struct call **cp)
{
	struct call *c;
	int err;

	if (!a->sid || !a->answered_us)
		return EINVAL;
	err = call_new(cl, a->sid, dir, parent, &c);
	if (err)
		return err;
	*cp = c;
	c->status = CALL_IN_PROGRESS;
	c->from = dup_or_null(a->from);
	c->to = dup_or_null(a->to);
	c->caller_name = dup_or_null(a->caller_name);
	c->forwarded_from = dup_or_null(a->forwarded_from);
	c->sip_call_id = dup_or_null(a->sip_call_id);
	if ((a->from && !c->from) || (a->to && !c->to) ||
	    (a->caller_name && !c->caller_name) ||
	    (a->forwarded_from && !c->forwarded_from) ||
	    (a->sip_call_id && !c->sip_call_id))
		return ENOMEM;
	snprintf(c->codec, sizeof(c->codec), "%s", a->codec ? a->codec : "");
	if (a->source_ip)
		snprintf(c->source_ip, sizeof(c->source_ip), "%s", a->source_ip);
	c->sip_code = a->sip_code;
	c->created_us = a->created_us;
	c->ringing_us = a->ringing_us;
	c->answered_us = a->answered_us;
	c->started_us = a->started_us;
	c->ev_seq = a->next_event;
	c->msg_seq = a->next_msg;
	c->cb_seq = a->next_callback;
	c->fetch_seq = a->next_fetch;
	c->has_leg = c->leg_up = true;
	c->answer_sent = dir == CALL_INBOUND;
	/* the subscription's earlier events are past: only its end is due */
	c->cb_logged = true;
	if (a->cb_url && a->cb_completed) {
		c->cb.url = strdup(a->cb_url);
		if (!c->cb.url)
			return ENOMEM;
		c->cb.get = a->cb_get;
		c->cb.events = CALL_CB_COMPLETED;
	}
	/* a child's headers are its 200's: the <Dial>'s, not its own
	 * SipHeader_ (call_dial_adopt) */
	return dir == CALL_OUTBOUND_DIAL ? 0 : headers(c, a);
}

/* The child's end, at the time the call log has it: the <Dial> ends
 * completed, the callee's BYE's headers over the 200's, and its action
 * or the rest of the document runs. A child whose end is logged already
 * logs nothing again (its final status makes call_status_set a no-op). */
static void child_end(struct call_layer *cl, struct call *child,
		      const struct call *parent,
		      const struct call_adopt_call *a)
{
	struct dial_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = DIAL_EV_ENDED;
	snprintf(ev.leg_id, sizeof(ev.leg_id), "%s", child->sid);
	snprintf(ev.bridged, sizeof(ev.bridged), "%s", parent->sid);
	ev.time_us = (uint64_t)a->ended_us;
	ev.dir = DIAL_DIR_RX;
	ev.outbound = true;
	ev.method = "BYE";
	ev.hdrv = (struct dial_hdr *)a->bye_hdrs;	/* read, not written */
	ev.hdrc = a->nbye;
	ev.end = DIAL_END_COMPLETED;
	child->ended_us = a->ended_us;	/* not the restart's time */
	if (a->end_logged)
		child->status = CALL_COMPLETED;	/* an answered call's end */
	(void)call_leg_event(cl, &ev);
}

/* A call that could not be rebuilt leaves the table unlogged: its row
 * stays in progress for the next takeover. */
static void drop(struct call *c)
{
	if (!c)
		return;
	c->status = CALL_FAILED;
	c->has_leg = false;
	c->leg_h = NULL;
	call_forget(c);
}

int call_adopt(struct call_layer *cl, const struct call_adopt *a)
{
	struct call *parent = NULL, *child = NULL;
	struct call_dial_adopted da;
	char detail[48];
	long long up;
	int err;

	err = rebuild(cl, &a->parent, a->parent.api ? CALL_OUTBOUND_API :
		      CALL_INBOUND, NULL, &parent);
	if (!err)
		err = rebuild(cl, &a->child, CALL_OUTBOUND_DIAL, parent, &child);
	if (err)
		goto fail;
	memset(&da, 0, sizeof(da));
	da.child = child;
	da.time_limit_s = a->dial.time_limit;
	/* the time limit counts from the answer, not from the restart */
	da.time_left_s = a->dial.time_limit -
		(int)((store_now_us() - child->answered_us) / 1000000);
	da.code = child->sip_code;
	da.hdr_names = a->child.hdr_names;
	da.hdr_values = a->child.hdr_values;
	da.nhdrs = a->child.nhdrs;
	err = call_doc_adopt(parent, &a->dial, &da);
	if (err)
		goto fail;
	/* a REST call's TimeLimit counts from its own answer, as before */
	if (a->parent.time_limit_s) {
		long long left = (long long)a->parent.time_limit_s -
			(store_now_us() - parent->answered_us) / 1000000;

		parent->time_limit_s = a->parent.time_limit_s;
		call_time_limit(parent, left > 0 ? (unsigned)left : 0);
	}
	up = (long long)((store_now_us() - child->answered_us) / 1000000);
	if (a->child.ended_us)
		log_write(LOG_NOTICE, "call", parent->sid, "adopted after a "
			  "restart: its <Dial> to %s ended before the kill; it "
			  "ends now%s", child->sid,
			  a->dial.action || a->dial.then_doc ? "" : " (no <Dial "
			  "action> and no document after it: so does the call)");
	else
		log_write(LOG_NOTICE, "call", parent->sid, "adopted after a "
			  "restart: connected to %s since %lld s%s", child->sid,
			  up, a->dial.action || a->dial.then_doc ? "" : "; no "
			  "<Dial action> and no document after it: the call ends "
			  "with the <Dial>");
	/* which calls outlived a process, for SQL */
	snprintf(detail, sizeof(detail), "{\"seconds_up\":%lld}", up);
	call_log_event(cl->store, parent, parent->ev_seq++, "adopted", 0, detail);
	if (a->child.ended_us)
		child_end(cl, child, parent, &a->child);
	else
		call_log_event(cl->store, child, child->ev_seq++, "adopted", 0,
			       detail);
	return 0;
 fail:
	drop(child);
	drop(parent);
	return err;
}
