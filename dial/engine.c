/* engine.c: the SIP thread: start-up, the libre stack, commands in, events out, shutdown */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "dial/internal.h"
#include "dial/tls.h"

#define DEBUG_MODULE "dial"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

/*
 * Commands travel in a locked FIFO; a single mqueue message wakes the SIP
 * thread per batch (mqueue is a pipe of 4096 messages: pushing one per
 * command would fail with EAGAIN under load). Events travel back in a
 * locked FIFO whose eventfd is readable exactly while it is not empty, so
 * the daemon can watch it with libevent and dial/ needs no libevent.
 */

enum {
	DFLT_MAX_INBOUND = 1000,
	DFLT_MAX_LEGS = 10000,
	DFLT_HASH = 16384,
	DFLT_RCVBUF = 4 * 1024 * 1024,
	DFLT_LINGER_MS = 32000,
	DFLT_QUIT_MS = 2000,
	DFLT_MAX_EVENTS = 1000000,
	DFLT_QUEUE_DELAY_MS = 250,
	FD_SETSIZE_SIP = 65536,
	SWEEP_MS = 1000,
};

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned init_count;
static dial_log_h *log_h;
static void *log_arg;

static void dbg_print(int level, const char *p, size_t len, void *arg)
{
	char buf[512];

	(void)arg;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	dial_log(level, "libre: %s", buf);
}

void dial_log_handler_set(dial_log_h *h, void *arg)
{
	log_h = h;
	log_arg = arg;
	dbg_handler_set(dbg_print, NULL);
}

void dial_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	re_vsnprintf(buf, sizeof(buf), fmt, ap);	/* %J, %r, %m too */
	va_end(ap);
	if (log_h)
		log_h(level, buf, log_arg);
	else if (level <= LOG_WARNING)
		fprintf(stderr, "dial: %s\n", buf);
}

const char *dial_end_name(enum dial_end e)
{
	switch (e) {
	case DIAL_END_COMPLETED: return "completed";
	case DIAL_END_BUSY: return "busy";
	case DIAL_END_NO_ANSWER: return "no-answer";
	case DIAL_END_FAILED: return "failed";
	case DIAL_END_CANCELED: return "canceled";
	default: return "none";
	}
}

const char *dial_ev_name(enum dial_ev_type t)
{
	switch (t) {
	case DIAL_EV_SIP: return "sip";
	case DIAL_EV_PROGRESS: return "progress";
	case DIAL_EV_ANSWERED: return "answered";
	case DIAL_EV_ENDED: return "ended";
	case DIAL_EV_INBOUND: return "inbound";
	case DIAL_EV_REFRESHED: return "refreshed";
	case DIAL_EV_BRIDGED: return "bridged";
	default: return "?";
	}
}

const char *dial_timer_impl(void)
{
	return dial_tmr_active() ? dial_tmr_impl_name() :
		"libre sorted list (dial/tmr_heap.c NOT active)";
}

/* ---- events out ---- */

/* Moves the events gathered during one pass of the SIP loop to the shared
 * FIFO: one lock and at most one eventfd write per pass instead of one
 * per event (a delay-0 timer runs after the pass's descriptors). */
static void flush_h(void *arg)
{
	struct dial *d = arg;
	bool was_empty;

	if (!d->pend_head)
		return;
	pthread_mutex_lock(&d->lock);
	was_empty = !d->evq_head;
	if (d->evq_tail)
		d->evq_tail->next = d->pend_head;
	else
		d->evq_head = d->pend_head;
	d->evq_tail = d->pend_tail;
	atomic_fetch_add_explicit(&d->evq_len, d->pend_len,
				  memory_order_relaxed);
	if (was_empty) {
		uint64_t one = 1;

		if (write(d->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at one per batch */
		}
	}
	pthread_mutex_unlock(&d->lock);
	d->pend_head = d->pend_tail = NULL;
	d->pend_len = 0;
}

void dial_emit(struct dial *d, struct dial_event *ev)
{
	if (!ev)
		return;
	/* a reader that stopped must not exhaust memory: past the bound,
	   wire copies are shed (counted); state changes never are */
	if (ev->type == DIAL_EV_SIP &&
	    atomic_load_explicit(&d->evq_len, memory_order_relaxed) +
	    d->pend_len >= d->conf.max_events) {
		if (!atomic_fetch_add_explicit(&d->st_dropped, 1,
					       memory_order_relaxed))
			dial_log(LOG_WARNING, "event queue full (%u): SIP "
				 "message events are dropped",
				 d->conf.max_events);
		dial_event_free(ev);
		return;
	}
	if (!ev->time_us)
		ev->time_us = dial_now_us();
	ev->next = NULL;
	d->pend_len++;
	if (d->pend_tail)
		d->pend_tail->next = ev;
	else
		d->pend_head = ev;
	d->pend_tail = ev;
	if (!tmr_isrunning(&d->flush_tmr))
		tmr_start(&d->flush_tmr, 0, flush_h, d);
	atomic_fetch_add_explicit(&d->st_events, 1, memory_order_relaxed);
}

int dial_event_fd(const struct dial *d)
{
	return d ? d->efd : -1;
}

struct dial_event *dial_event_next(struct dial *d)
{
	struct dial_event *ev;

	if (!d)
		return NULL;
	pthread_mutex_lock(&d->lock);
	ev = d->evq_head;
	if (ev) {
		d->evq_head = ev->next;
		if (!d->evq_head)
			d->evq_tail = NULL;
		ev->next = NULL;
		atomic_fetch_sub_explicit(&d->evq_len, 1, memory_order_relaxed);
	}
	if (!d->evq_head) {
		uint64_t n;

		if (read(d->efd, &n, sizeof(n)) < 0) {
			/* EAGAIN: already reset */
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ev;
}

void dial_stats_get(const struct dial *d, struct dial_stats *st)
{
	struct dial *m = (struct dial *)(uintptr_t)d;

	if (!d || !st)
		return;
	st->legs_started = atomic_load(&m->st_legs_started);
	st->legs_ended = atomic_load(&m->st_legs_ended);
	st->inbound = atomic_load(&m->st_inbound);
	st->inbound_rejected_busy = atomic_load(&m->st_inbound_busy);
	st->legs_refused = atomic_load(&m->st_legs_refused);
	st->msgs_rx = atomic_load(&m->st_rx);
	st->msgs_tx = atomic_load(&m->st_tx);
	st->msgs_unmatched = atomic_load(&m->st_unmatched);
	st->events = atomic_load(&m->st_events);
	st->events_dropped = atomic_load(&m->st_dropped);
	st->inbound_shed = atomic_load(&m->st_shed_in);
	st->legs_shed = atomic_load(&m->st_shed_out);
	st->overloads = atomic_load(&m->st_overloads);
	st->queue_delay_us = atomic_load(&m->qdelay_us);
	st->udp_drops = atomic_load(&m->st_udp_drops);
	st->overload_filters = atomic_load(&m->st_filtered);
}

uint32_t dial_linger_buckets(const struct dial *d)
{
	uint32_t hs = d->conf.hash_size;

	return hs <= (1u << 20) / 16 ? hs * 16 : hs;
}

uint16_t dial_next_port(struct dial *d)
{
	uint32_t lo = d->conf.rtp_port_min, hi = d->conf.rtp_port_max;
	uint32_t span = (hi - lo) / 2 + 1;
	uint16_t port = (uint16_t)(lo + 2 * (d->next_port % span));

	d->next_port++;
	return port;
}

/* ---- commands in ---- */

void dial_spec_free(struct leg_spec *s)
{
	if (!s)
		return;
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->uri);
	free(s->from_user);
	free(s->from_name);
	free(s->from_host);
	free(s->username);
	free(s->password);
	free(s->media_addr);
	free(s->hdrs);
	free(s);
}

static void cmd_free(struct cmd *c)
{
	if (!c)
		return;
	dial_spec_free(c->spec);
	free(c->hdrs);
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

int dial_leg_start(struct dial *d, const struct dial_leg_params *p)
{
	struct leg_spec *s;
	struct cmd *c;
	int err = 0;

	if (!d || !p || !p->id || !p->id[0] || !p->uri ||
	    strlen(p->id) >= DIAL_ID_MAX ||
	    (p->group && strlen(p->group) >= DIAL_ID_MAX) ||
	    p->codecc > DIAL_MAX_CODECS)
		return EINVAL;
	if (strncasecmp(p->uri, "sip:", 4) && strncasecmp(p->uri, "sips:", 5))
		return EINVAL;
	/* everything that is printed into the INVITE must stay one line */
	if (!clean(p->uri) || !clean(p->from_user) || !clean(p->from_name) ||
	    !clean(p->from_host) || !clean(p->username) ||
	    !clean(p->password) || !clean(p->call_sid) ||
	    !clean(p->account_sid) || !clean(p->media_addr) ||
	    strpbrk(p->uri, " \t<>\"") ||
	    (p->from_name && strchr(p->from_name, '"')) ||
	    (p->from_user && strpbrk(p->from_user, " \t<>\"@:;")) ||
	    (p->from_host && strpbrk(p->from_host, " \t<>\"@;")))
		return EINVAL;
	for (size_t i = 0; i < p->codecc; i++)
		if ((unsigned)p->codecv[i] >= DIAL_CODEC_COUNT)
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
	err = dial_hdrs_encode(&s->hdrs, p->hdrv, p->hdrc);
	if (err)
		goto out;
	{
		struct dial_hdr id[3];
		size_t n = 0;

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
			goto out;
	}
	if (!s->hdrs) {
		s->hdrs = strdup("");
		if (!s->hdrs) {
			err = ENOMEM;
			goto out;
		}
	}
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

	if (c->type == CMD_BRIDGE || c->type == CMD_UNBRIDGE) {
		dial_bridge_run(d, c);	/* media.c */
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
				dial_emit(d, ev);
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
		if (!leg->outbound)
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

static void exit_h(void *arg)
{
	struct dial *d = arg;

	d->sip_exited = true;
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
			if (leg->outbound || leg->state == LEG_UP)
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

static void mq_h(int id, void *data, void *arg)
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

/* ---- the stack ---- */

/* libre 1.1.0 has no accessor for the SIP transport's UDP socket: find it
 * among our descriptors by its local address (notes §8). -1: not found. */
static int sip_udp_fd(const struct sa *laddr)
{
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int type = 0;
		socklen_t tl = sizeof(type);
		struct sa a;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) ||
		    type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl))
			continue;
		sa_init(&a, AF_UNSPEC);
		if (sa_set_sa(&a, (struct sockaddr *)&ss))
			continue;
		if (!sa_cmp(&a, laddr, SA_ALL))
			continue;
		return fd;
	}
	return -1;
}

static void raise_rcvbuf(int fd, int bytes)
{
	if (fd < 0) {
		dial_log(LOG_WARNING, "SIP UDP socket not found: SO_RCVBUF "
			 "unchanged");
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)))
		dial_log(LOG_WARNING, "SO_RCVBUF: %s", strerror(errno));
}

/* TLS: a listener when a certificate is configured, else a client-only
 * transport on an ephemeral port (libre needs a transport to dial out). */
static int tls_build(struct dial *d)
{
	struct dial_tls_conf tc;
	struct sa tl = d->laddr;
	int err;

	memset(&tc, 0, sizeof(tc));
	tc.certfile = d->conf.tls_cert;
	tc.cafile = d->conf.tls_ca_file;
	tc.insecure = d->conf.tls_insecure;
	err = dial_tls_alloc(&d->dtls, &tc);
	if (err) {
		dial_log(LOG_ERR, "TLS set-up failed: %s", strerror(err));
		return err;
	}
	if (d->conf.tls_cert)
		sa_set_port(&tl, d->conf.tls_port ? d->conf.tls_port :
			    (uint16_t)(sa_port(&d->laddr) + 1));
	else
		sa_set_port(&tl, 0);
	err = sip_transp_add(d->sip, SIP_TRANSP_TLS, &tl,
			     dial_tls_ctx(d->dtls));
	if (err) {
		dial_log(LOG_ERR, "SIP TLS listen on %J: %s", &tl,
			 strerror(err));
		return err;
	}
	if (d->conf.tls_cert)
		dial_log(LOG_NOTICE, "SIP TLS on %J", &tl);
	if (d->conf.tls_insecure)
		dial_log(LOG_WARNING, "TLS peer verification is OFF "
			 "(tls_insecure)");
	return 0;
}

static int stack_build(struct dial *d)
{
	struct sa srvv[4];
	uint32_t srvc = 4;
	char domain[64] = "";
	uint32_t hs = d->conf.hash_size;
	int err;

	err = fd_setsize(FD_SETSIZE_SIP);
	if (err)
		return err;
	err = dns_srv_get(domain, sizeof(domain), srvv, &srvc);
	if (err || !srvc) {
		sa_set_str(&srvv[0], "127.0.0.1", 53);
		srvc = 1;
	}
	err = dnsc_alloc(&d->dnsc, NULL, srvv, srvc);
	if (err)
		return err;
	/* client and server transactions outlive their call by up to 32 s
	   (timers B, F, H, J): at 6,000 calls/s ~2 x 10^5 of each; walking
	   16,384 buckets of them was ~15 % of the SIP thread (perf, inbound
	   bench). TCP connections stay few. */
	err = sip_alloc(&d->sip, d->dnsc, dial_linger_buckets(d),
			dial_linger_buckets(d), hs, d->conf.user_agent,
			exit_h, d);
	if (err)
		return err;
	err = sip_transp_add(d->sip, SIP_TRANSP_UDP, &d->laddr);
	if (err) {
		dial_log(LOG_ERR, "SIP UDP listen on %J: %s", &d->laddr,
			 strerror(err));
		return err;
	}
	if (!sa_port(&d->laddr)) {
		/* port 0: TCP takes the port the UDP socket got */
		struct sa a;

		err = sip_transp_laddr(d->sip, &a, SIP_TRANSP_UDP, NULL);
		if (err)
			return err;
		sa_set_port(&d->laddr, sa_port(&a));
	}
	{
		int fd = sip_udp_fd(&d->laddr);

		raise_rcvbuf(fd, (int)d->conf.udp_rcvbuf);
		dial_load_init(d, fd);
	}
	err = sip_transp_add(d->sip, SIP_TRANSP_TCP, &d->laddr);
	if (err) {
		dial_log(LOG_ERR, "SIP TCP listen on %J: %s", &d->laddr,
			 strerror(err));
		return err;
	}
	err = tls_build(d);
	if (err)
		return err;
	/* our request listener runs before sipsess's: it sees BYE (Reason),
	   UPDATE and CANCEL of legs that sipsess does not know yet */
	err = sip_listen(&d->lsnr_req, d->sip, true, dial_req_h, d);
	if (!err)
		err = sip_listen(&d->lsnr_resp, d->sip, false, dial_resp_h, d);
	if (err)
		return err;
	err = sipsess_listen(&d->sock, d->sip, (int)hs, dial_in_conn_h, d);
	if (err)
		return err;
	err = dial_capture_init(d);
	if (err)
		return err;
	sip_set_trace_handler(d->sip, dial_trace_h);
	err = mqueue_alloc(&d->mq, mq_h, d);
	if (err)
		return err;
	return 0;
}

static void sweep_h(void *arg)
{
	struct dial *d = arg;

	dial_leg_sweep(d, false);
	tmr_start(&d->sweep, SWEEP_MS, sweep_h, d);
}

static void stack_free(struct dial *d, bool exited)
{
	tmr_cancel(&d->sweep);
	tmr_cancel(&d->quit_tmr);
	tmr_cancel(&d->load_tmr);
	dial_leg_sweep(d, true);
	d->stash = dial_event_free(d->stash);
	d->lsnr_req = mem_deref(d->lsnr_req);
	d->lsnr_resp = mem_deref(d->lsnr_resp);
	d->sock = mem_deref(d->sock);
	if (d->sip) {
		if (!d->closing) {
			/* start-up failed: nothing is in flight */
			sip_close(d->sip, true);
			mem_deref(d->sip);
		}
		else if (exited) {
			mem_deref(d->sip);	/* the closing destructor's ref */
		}
		else {
			/* quit_wait_ms passed: drop what is still pending */
			sip_close(d->sip, true);
		}
		d->sip = NULL;
	}
	d->ht_id = mem_deref(d->ht_id);
	d->ht_cid = mem_deref(d->ht_cid);
	d->ht_grp = mem_deref(d->ht_grp);
	d->mq = mem_deref(d->mq);
	d->dtls = mem_deref(d->dtls);
	d->dnsc = mem_deref(d->dnsc);
	tmr_cancel(&d->flush_tmr);
	flush_h(d);	/* dial_free frees what nobody took */
}

static void ready(struct dial *d, int state, int err)
{
	pthread_mutex_lock(&d->lock);
	d->start_state = state;
	d->start_err = err;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void *sip_thread(void *arg)
{
	struct dial *d = arg;
	int err;

	err = re_thread_init();
	if (err) {
		ready(d, 2, err);
		return NULL;
	}
	err = stack_build(d);
	if (err) {
		stack_free(d, false);
		re_thread_close();
		ready(d, 2, err);
		return NULL;
	}
	tmr_start(&d->sweep, SWEEP_MS, sweep_h, d);
	dial_log(LOG_NOTICE, "SIP engine on %J (udp, tcp), timers: %s",
		 &d->laddr, dial_timer_impl());
	ready(d, 1, 0);
	err = re_main(NULL);
	if (err)
		dial_log(LOG_ERR, "SIP loop ended: %s", strerror(err));
	pthread_mutex_lock(&d->lock);
	d->loop_gone = true;
	pthread_mutex_unlock(&d->lock);
	stack_free(d, d->sip_exited);
	re_thread_close();
	return NULL;
}

static void conf_copy(struct dial *d, const char **dst, const char *src,
		      const char *dflt, int *err)
{
	if (!src)
		src = dflt;
	if (!src) {
		*dst = NULL;
		return;
	}
	for (size_t i = 0; i < sizeof(d->strs) / sizeof(d->strs[0]); i++) {
		if (!d->strs[i]) {
			d->strs[i] = strdup(src);
			if (!d->strs[i])
				*err = ENOMEM;
			*dst = d->strs[i];
			return;
		}
	}
	*err = ENOSPC;
}

uint16_t dial_listen_port(const struct dial *d)
{
	return d ? sa_port(&d->laddr) : 0;
}

int dial_alloc(struct dial **dp, const struct dial_conf *conf)
{
	struct dial *d;
	sigset_t all, old;
	int err = 0;

	if (!dp || !conf || !conf->listen)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->efd = -1;
	d->udp_fd = -1;
	d->conf = *conf;
	conf_copy(d, &d->conf.listen, conf->listen, NULL, &err);
	conf_copy(d, &d->conf.user_agent, conf->user_agent, "dialerd", &err);
	conf_copy(d, &d->conf.media_addr, conf->media_addr, NULL, &err);
	conf_copy(d, &d->conf.hdr_call_sid, conf->hdr_call_sid,
		  "X-Twilio-CallSid", &err);
	conf_copy(d, &d->conf.hdr_account_sid, conf->hdr_account_sid,
		  "X-Twilio-AccountSid", &err);
	conf_copy(d, &d->conf.hdr_api_version, conf->hdr_api_version,
		  "X-Twilio-ApiVersion", &err);
	conf_copy(d, &d->conf.tls_cert, conf->tls_cert, NULL, &err);
	conf_copy(d, &d->conf.tls_ca_file, conf->tls_ca_file, NULL, &err);
	if (err) {
		free(d);
		return err;
	}
	if (dial_hdr_check(d->conf.hdr_call_sid, "") ||
	    dial_hdr_check(d->conf.hdr_account_sid, "") ||
	    dial_hdr_check(d->conf.hdr_api_version, "") ||
	    !clean(d->conf.user_agent)) {
		err = EINVAL;
		goto fail;
	}
	if (!d->conf.max_inbound)
		d->conf.max_inbound = DFLT_MAX_INBOUND;
	if (!d->conf.max_legs)
		d->conf.max_legs = DFLT_MAX_LEGS;
	if (!d->conf.hash_size)
		d->conf.hash_size = DFLT_HASH;
	if (!d->conf.udp_rcvbuf)
		d->conf.udp_rcvbuf = DFLT_RCVBUF;
	if (!d->conf.linger_ms)
		d->conf.linger_ms = DFLT_LINGER_MS;
	if (!d->conf.quit_wait_ms)
		d->conf.quit_wait_ms = DFLT_QUIT_MS;
	if (!d->conf.max_events)
		d->conf.max_events = DFLT_MAX_EVENTS;
	if (!d->conf.max_queue_delay_ms)
		d->conf.max_queue_delay_ms = DFLT_QUEUE_DELAY_MS;
	if (!d->conf.rtp_port_min || d->conf.rtp_port_max < d->conf.rtp_port_min) {
		d->conf.rtp_port_min = 20000;
		d->conf.rtp_port_max = 29999;
	}
	if (sa_decode(&d->laddr, d->conf.listen, strlen(d->conf.listen))) {
		err = EINVAL;
		goto fail;
	}
	if (sa_is_any(&d->laddr)) {
		/* libre 1.1.0's transports need one address, and it goes
		   into Via, Contact, From and SDP */
		dial_log(LOG_ERR, "SIP listen address %s: give a specific "
			 "address, not the wildcard", d->conf.listen);
		err = EINVAL;
		goto fail;
	}
	if (d->conf.media_addr) {
		snprintf(d->media_addr, sizeof(d->media_addr), "%s",
			 d->conf.media_addr);
	}
	else {
		sa_ntop(&d->laddr, d->media_addr, sizeof(d->media_addr));
	}

	pthread_mutex_lock(&init_lock);
	if (!init_count)
		err = libre_init();
	if (!err)
		init_count++;
	pthread_mutex_unlock(&init_lock);
	if (err)
		goto fail_nolibre;

	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		err = errno;
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	/* signals belong to the daemon's loop, never to the SIP thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&d->thread, NULL, sip_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail_locks;
	d->thread_started = true;
	pthread_mutex_lock(&d->lock);
	while (!d->start_state)
		pthread_cond_wait(&d->cond, &d->lock);
	err = d->start_state == 1 ? 0 : d->start_err;
	pthread_mutex_unlock(&d->lock);
	if (err) {
		pthread_join(d->thread, NULL);
		d->thread_started = false;
		goto fail_locks;
	}
	*dp = d;
	return 0;

 fail_locks:
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
 fail:
	pthread_mutex_lock(&init_lock);
	if (init_count && !--init_count)
		libre_close();
	pthread_mutex_unlock(&init_lock);
 fail_nolibre:
	if (d->efd >= 0)
		close(d->efd);
	for (size_t i = 0; i < sizeof(d->strs) / sizeof(d->strs[0]); i++)
		free(d->strs[i]);
	free(d);
	return err;
}

struct dial *dial_free(struct dial *d)
{
	struct dial_event *ev;
	struct cmd *c;
	bool wake;

	if (!d)
		return NULL;
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	wake = !d->wake_sent && !d->loop_gone;
	if (wake)
		(void)mqueue_push(d->mq, 1, NULL);
	d->wake_sent = true;
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	while ((c = d->cmd_head)) {
		d->cmd_head = c->next;
		cmd_free(c);
	}
	while ((ev = d->evq_head)) {
		d->evq_head = ev->next;
		dial_event_free(ev);
	}
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	close(d->efd);
	for (size_t i = 0; i < sizeof(d->strs) / sizeof(d->strs[0]); i++)
		free(d->strs[i]);
	free(d);
	pthread_mutex_lock(&init_lock);
	if (init_count && !--init_count)
		libre_close();
	pthread_mutex_unlock(&init_lock);
	return NULL;
}
