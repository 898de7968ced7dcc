/* cmd.c: the daemon's commands: checked and copied on its thread, queued, run on the SIP thread; shutdown */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * Commands travel in a locked FIFO; a single mqueue message wakes the SIP
 * thread per batch (mqueue is a pipe of 4096 messages: pushing one per
 * command would fail with EAGAIN under load). A command carries copies,
 * never pointers into the daemon's objects.
 */

static void adopt_spec_free(struct adopt_spec *s)
{
	if (!s)
		return;
	free(s->invite);
	free(s->ok);
	free(s->local_sdp);
	free(s->peer_sdp);
	free(s);
}

static void cmd_free(struct cmd *c)
{
	if (!c)
		return;
	adopt_spec_free(c->adopt[0]);
	adopt_spec_free(c->adopt[1]);
	dial_leg_spec_free(c->spec);
	free(c->hdrs);
	free(c->invite);
	free(c->ok);
	free(c->media_addr);
	free(c);
}

static int cmd_push(struct dial *d, struct cmd *c)
{
	bool wake;
	int err = 0;

	pthread_mutex_lock(&d->lock);
	if (d->quit) {
		pthread_mutex_unlock(&d->lock);
		cmd_free(c);
		return ESHUTDOWN;
	}
	c->next = NULL;
	if (d->cmd_tail)
		d->cmd_tail->next = c;
	else
		d->cmd_head = c;
	d->cmd_tail = c;
	wake = !d->wake_sent && !d->loop_gone;
	if (wake) {
		/* under the lock: the SIP thread frees mq only after
		   setting loop_gone under it */
		err = mqueue_push(d->mq, 1, NULL);
		d->wake_sent = !err;
	}
	pthread_mutex_unlock(&d->lock);
	if (err)
		dial_log(LOG_ERR, "cannot wake the SIP thread: %s",
			 strerror(err));
	return 0;
}

static char *xstrdup(const char *s, int *err)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		*err = ENOMEM;
	return r;
}

static bool clean(const char *s)
{
	return !s || !strpbrk(s, "\r\n");
}

/* everything that is printed into the INVITE must stay one line */
static bool leg_params_ok(const struct dial_leg_params *p)
{
	if (!p->id || !p->id[0] || !p->uri || strlen(p->id) >= DIAL_ID_MAX ||
	    (p->group && strlen(p->group) >= DIAL_ID_MAX) ||
	    p->codecc > DIAL_MAX_CODECS)
		return false;
	if (strncasecmp(p->uri, "sip:", 4) && strncasecmp(p->uri, "sips:", 5))
		return false;
	if (!clean(p->uri) || !clean(p->from_user) || !clean(p->from_name) ||
	    !clean(p->from_host) || !clean(p->username) ||
	    !clean(p->password) || !clean(p->call_sid) ||
	    !clean(p->account_sid) || !clean(p->media_addr) ||
	    strpbrk(p->uri, " \t<>\"") ||
	    (p->from_name && strchr(p->from_name, '"')) ||
	    (p->from_user && strpbrk(p->from_user, " \t<>\"@:;")) ||
	    (p->from_host && strpbrk(p->from_host, " \t<>\"@;")))
		return false;
	for (size_t i = 0; i < p->codecc; i++)
		if ((unsigned)p->codecv[i] >= DIAL_CODEC_COUNT)
			return false;
	return true;
}

/* The extra headers, then the call's identity headers. */
static int spec_hdrs(const struct dial *d, struct leg_spec *s,
		     const struct dial_leg_params *p)
{
	struct dial_hdr id[3];
	size_t n = 0;
	int err;

	err = dial_hdrs_encode(&s->hdrs, p->hdrv, p->hdrc);
	if (err)
		return err;
	if (p->call_sid) {
		id[n].name = d->conf.hdr_call_sid;
		id[n++].value = p->call_sid;
	}
	if (p->account_sid) {
		id[n].name = d->conf.hdr_account_sid;
		id[n++].value = p->account_sid;
	}
	if (n) {
		id[n].name = d->conf.hdr_api_version;
		id[n++].value = "2010-04-01";
	}
	err = dial_hdrs_encode(&s->hdrs, id, n);
	if (err)
		return err;
	if (!s->hdrs) {
		s->hdrs = strdup("");
		if (!s->hdrs)
			return ENOMEM;
	}
	return 0;
}

int dial_leg_start(struct dial *d, const struct dial_leg_params *p)
{
	struct leg_spec *s;
	struct cmd *c;
	int err = 0;

	if (!d || !p || !leg_params_ok(p))
		return EINVAL;
	c = calloc(1, sizeof(*c));
	s = calloc(1, sizeof(*s));
	if (!c || !s) {
		free(c);
		free(s);
		return ENOMEM;
	}
	c->type = CMD_LEG_START;
	c->spec = s;
	snprintf(c->id, sizeof(c->id), "%s", p->id);
	snprintf(s->id, sizeof(s->id), "%s", p->id);
	if (p->group)
		snprintf(s->group, sizeof(s->group), "%s", p->group);
	s->uri = xstrdup(p->uri, &err);
	s->from_user = xstrdup(p->from_user ? p->from_user : "dialerd", &err);
	s->from_name = xstrdup(p->from_name, &err);
	s->from_host = xstrdup(p->from_host, &err);
	s->username = xstrdup(p->username, &err);
	s->password = xstrdup(p->password, &err);
	s->media_addr = xstrdup(p->media_addr, &err);
	if (err)
		goto out;
	err = spec_hdrs(d, s, p);
	if (err)
		goto out;
	if (p->codecc)
		memcpy(s->codecv, p->codecv, p->codecc * sizeof(p->codecv[0]));
	s->codecc = p->codecc;
	s->session_expires = p->session_expires;
	s->min_se = p->min_se ? p->min_se : 90;
	s->media_port = p->media_port;
	s->insecure = p->insecure;
	s->relay = p->relay;
 out:
	if (err) {
		cmd_free(c);
		return err;
	}
	return cmd_push(d, c);
}

static int cmd_simple(struct dial *d, enum cmd_type type, const char *id,
		      uint16_t code, const struct dial_reason *reason)
{
	struct cmd *c;

	if (!d || !id || strlen(id) >= DIAL_ID_MAX)
		return EINVAL;
	if (reason && reason->present &&
	    (!clean(reason->protocol) || strpbrk(reason->text, "\"\\\r\n") ||
	     strpbrk(reason->protocol, " ;\"")))
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = type;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->code = code;
	if (reason)
		c->reason = *reason;
	return cmd_push(d, c);
}

int dial_leg_hangup(struct dial *d, const char *id,
		    const struct dial_reason *reason)
{
	return cmd_simple(d, CMD_HANGUP, id, 0, reason);
}

int dial_bye(struct dial *d, const struct dial_bye *b)
{
	struct cmd *c;

	if (!d || !b || !b->id || !b->id[0] || strlen(b->id) >= DIAL_ID_MAX ||
	    !b->invite || !b->ok)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = CMD_BYE;
	snprintf(c->id, sizeof(c->id), "%s", b->id);
	c->invite = strdup(b->invite);
	c->ok = strdup(b->ok);
	c->uac = b->uac;
	c->cseq = b->cseq;
	if (!c->invite || !c->ok) {
		cmd_free(c);
		return ENOMEM;
	}
	return cmd_push(d, c);
}

static int adopt_spec(struct adopt_spec **sp, const struct dial_adopt *a)
{
	struct adopt_spec *s;
	int err = 0;

	*sp = NULL;
	if (!a)
		return 0;
	if (!a->id || !a->id[0] || strlen(a->id) >= DIAL_ID_MAX ||
	    !a->invite || !a->ok)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	snprintf(s->id, sizeof(s->id), "%s", a->id);
	s->invite = xstrdup(a->invite, &err);
	s->ok = xstrdup(a->ok, &err);
	s->local_sdp = xstrdup(a->local_sdp, &err);
	s->peer_sdp = xstrdup(a->peer_sdp, &err);
	s->cseq = a->cseq;
	s->uac = a->uac;
	if (err)
		adopt_spec_free(s);
	else
		*sp = s;
	return err;
}

int dial_adopt(struct dial *d, const struct dial_adopt *a,
	       const struct dial_adopt *b)
{
	struct cmd *c;
	int err;

	if (!d || !a)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = CMD_ADOPT;
	snprintf(c->id, sizeof(c->id), "%s", a->id ? a->id : "");
	err = adopt_spec(&c->adopt[0], a);
	if (!err)
		err = adopt_spec(&c->adopt[1], b);
	if (err) {
		cmd_free(c);
		return err;
	}
	return cmd_push(d, c);
}

int dial_adopt_done(struct dial *d)
{
	struct cmd *c;

	if (!d)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = CMD_ADOPT_DONE;
	return cmd_push(d, c);
}

int dial_leg_refresh(struct dial *d, const char *id)
{
	return cmd_simple(d, CMD_REFRESH, id, 0, NULL);
}

int dial_inbound_ring(struct dial *d, const char *id, uint16_t code)
{
	if (code != 180 && code != 183)
		return EINVAL;
	return cmd_simple(d, CMD_RING, id, code, NULL);
}

int dial_inbound_reject(struct dial *d, const char *id, uint16_t code,
			const struct dial_reason *reason)
{
	if (code < 300 || code > 699)
		return EINVAL;
	return cmd_simple(d, CMD_REJECT, id, code, reason);
}

int dial_inbound_answer(struct dial *d, const char *id,
			const struct dial_answer_params *p)
{
	struct cmd *c;
	int err = 0;

	if (!d || !id || strlen(id) >= DIAL_ID_MAX ||
	    (p && p->codecc > DIAL_MAX_CODECS) ||
	    (p && !clean(p->media_addr)))
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = CMD_ANSWER;
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (p) {
		for (size_t i = 0; i < p->codecc; i++)
			if ((unsigned)p->codecv[i] >= DIAL_CODEC_COUNT)
				err = EINVAL;
		if (p->codecc)
			memcpy(c->codecv, p->codecv,
			       p->codecc * sizeof(p->codecv[0]));
		c->codecc = p->codecc;
		c->media_addr = xstrdup(p->media_addr, &err);
		c->media_port = p->media_port;
		c->relay = p->relay;
		if (!err)
			err = dial_hdrs_encode(&c->hdrs, p->hdrv, p->hdrc);
	}
	if (err) {
		cmd_free(c);
		return err;
	}
	return cmd_push(d, c);
}

int dial_bridge(struct dial *d, const char *id_a, const char *id_b)
{
	struct cmd *c;

	if (!d || !id_a || !id_b || strlen(id_a) >= DIAL_ID_MAX ||
	    strlen(id_b) >= DIAL_ID_MAX)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->type = CMD_BRIDGE;
	snprintf(c->id, sizeof(c->id), "%s", id_a);
	snprintf(c->id2, sizeof(c->id2), "%s", id_b);
	return cmd_push(d, c);
}

int dial_unbridge(struct dial *d, const char *id)
{
	return cmd_simple(d, CMD_UNBRIDGE, id, 0, NULL);
}

static void cmd_run(struct dial *d, struct cmd *c)
{
	struct leg *leg;

	if (c->type == CMD_BYE) {
		if (!d->closing)
			(void)dial_bye_run(d, c->id, c->invite, c->ok, c->uac,
					   c->cseq);
		return;
	}
	if (c->type == CMD_ADOPT) {
		dial_adopt_run(d, c->adopt[0], c->adopt[1]);
		return;
	}
	if (c->type == CMD_ADOPT_DONE) {
		d->adopting = false;
		return;
	}
	if (c->type == CMD_BRIDGE || c->type == CMD_UNBRIDGE) {
		dial_bridge_run(d, c->id, c->type == CMD_BRIDGE ? c->id2 :
				NULL);
		return;
	}

	if (c->type == CMD_LEG_START) {
		if (d->closing) {
			struct dial_event *ev;

			ev = dial_event_bare(DIAL_EV_ENDED, c->id);
			if (ev) {
				ev->end = DIAL_END_FAILED;
				ev->err = ESHUTDOWN;
				ev->outbound = true;
				dial_evq_emit(&d->evq, ev);
			}
			return;
		}
		dial_out_start(d, c->spec);	/* takes the spec */
		c->spec = NULL;
		return;
	}
	leg = dial_leg_find(d, c->id);
	if (!leg || leg->state == LEG_ENDED) {
		dial_log(LOG_INFO, "leg=%s: command %d for no live leg",
			 c->id, (int)c->type);
		return;
	}
	if (leg->adopt) {
		/* no sipsess: adopt.c is its dialog (ring, answer: it is up) */
		if (c->type == CMD_HANGUP || (c->type == CMD_REJECT &&
					      !leg->outbound))
			dial_adopt_hangup(leg, &c->reason);
		else if (c->type == CMD_REFRESH)
			dial_adopt_refresh(leg);
		return;
	}
	switch (c->type) {
	case CMD_HANGUP:
		if (leg->outbound)
			dial_out_hangup(leg, &c->reason);
		else if (leg->state == LEG_UP)
			dial_out_hangup(leg, &c->reason);
		else
			dial_in_reject(leg, 487, &c->reason);
		break;
	case CMD_REFRESH:
		dial_out_refresh(leg);
		break;
	case CMD_RING:
		if (!leg->outbound)
			dial_in_ring(leg, c->code);
		break;
	case CMD_ANSWER:
		if (!leg->outbound)
			dial_in_answer(leg, c);
		break;
	case CMD_REJECT:
		/* the daemon rejects by its own view of the leg, which lags:
		   a fetch that failed while the ACK's event was on its way
		   rejects a leg that is up, and that leg gets a BYE */
		if (leg->outbound)
			break;
		if (leg->state == LEG_UP)
			dial_out_hangup(leg, &c->reason);
		else
			dial_in_reject(leg, c->code, &c->reason);
		break;
	default:
		break;
	}
}

static void quit_timeout(void *arg)
{
	(void)arg;
	dial_log(LOG_WARNING, "transactions still pending at shutdown");
	re_cancel();
}

static void start_close(struct dial *d)
{
	struct le *le;

	if (d->closing)
		return;
	d->closing = true;
	/* end every live leg: BYE, CANCEL or 487 */
	for (uint32_t i = 0; i < hash_bsize(d->ht_id); i++) {
		le = hash_list(d->ht_id, i)->head;
		while (le) {
			struct leg *leg = le->data;

			le = le->next;
			if (leg->state == LEG_ENDED)
				continue;
			if (leg->adopt)
				dial_adopt_hangup(leg, NULL);
			else if (leg->outbound || leg->state == LEG_UP)
				dial_out_hangup(leg, NULL);
			else
				dial_in_reject(leg, 503, NULL);
		}
	}
	tmr_start(&d->quit_tmr, d->conf.quit_wait_ms, quit_timeout, d);
	d->lsnr_req = mem_deref(d->lsnr_req);
	d->lsnr_resp = mem_deref(d->lsnr_resp);
	sip_close(d->sip, false);	/* exit handler when the last ref goes */
}

void dial_cmd_mq_h(int id, void *data, void *arg)
{
	struct dial *d = arg;
	struct cmd *list, *c;
	bool quit;

	(void)id;
	(void)data;
	pthread_mutex_lock(&d->lock);
	list = d->cmd_head;
	d->cmd_head = d->cmd_tail = NULL;
	d->wake_sent = false;
	quit = d->quit;
	pthread_mutex_unlock(&d->lock);
	while ((c = list)) {
		list = c->next;
		cmd_run(d, c);
		cmd_free(c);
	}
	if (quit)
		start_close(d);
}

void dial_cmd_flush(struct dial *d)
{
	struct cmd *c;

	while ((c = d->cmd_head)) {
		d->cmd_head = c->next;
		cmd_free(c);
	}
	d->cmd_tail = NULL;
}

void dial_cmd_quit(struct dial *d)
{
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	if (!d->wake_sent && !d->loop_gone)
		(void)mqueue_push(d->mq, 1, NULL);
	d->wake_sent = true;
	pthread_mutex_unlock(&d->lock);
}
