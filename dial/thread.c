/* thread.c: the engine object: dial_alloc and dial_free, the SIP thread's life, the public accessors */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "dial/core.h"

/*
 * dial_alloc copies the configuration, starts the SIP thread and waits
 * until its stack is built (or failed); dial_free asks it to end, joins it
 * and frees what the queues still hold. libre is initialised once per
 * process for all engines: the last engine freed closes it.
 */

enum {
	DFLT_MAX_INBOUND = 1000,
	DFLT_MAX_LEGS = 10000,
	DFLT_HASH = 16384,
	DFLT_RCVBUF = 4 * 1024 * 1024,
	DFLT_LINGER_MS = 32000,
	DFLT_QUIT_MS = 2000,
	DFLT_MAX_EVENTS = 1000000,
	DFLT_MAX_EVENT_BYTES = 64 << 20,
	DFLT_MAX_TCP = 2048,
	DFLT_MAX_TCP_SRC = 64,
	DFLT_TCP_FIRST_MS = 10000,
	DFLT_QUEUE_DELAY_MS = 250,
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned lib_users;

static int lib_hold(void)
{
	int err = 0;

	pthread_mutex_lock(&lib_lock);
	if (!lib_users)
		err = libre_init();
	if (!err)
		lib_users++;
	pthread_mutex_unlock(&lib_lock);
	return err;
}

static void lib_release(void)
{
	pthread_mutex_lock(&lib_lock);
	if (lib_users && !--lib_users)
		libre_close();
	pthread_mutex_unlock(&lib_lock);
}

unsigned dial_thread_lib_users(void)
{
	unsigned n;

	pthread_mutex_lock(&lib_lock);
	n = lib_users;
	pthread_mutex_unlock(&lib_lock);
	return n;
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
	err = dial_stack_build(d);
	if (err) {
		dial_stack_free(d);
		re_thread_close();
		ready(d, 2, err);
		return NULL;
	}
	dial_out_policy_init(d);
	dial_stack_sweep_start(d);
	dial_log(LOG_NOTICE, "SIP engine on %J (udp, tcp), timers: %s",
		 &d->laddr, dial_timer_impl());
	ready(d, 1, 0);
	err = re_main(NULL);
	if (err)
		dial_log(LOG_ERR, "SIP loop ended: %s", strerror(err));
	pthread_mutex_lock(&d->lock);
	d->loop_gone = true;
	pthread_mutex_unlock(&d->lock);
	dial_stack_free(d);
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

static void strs_free(struct dial *d)
{
	for (size_t i = 0; i < sizeof(d->strs) / sizeof(d->strs[0]); i++)
		free(d->strs[i]);
	dial_dest_reset(&d->deny);
}

/* Copies conf's strings (defaults filled in) into d->strs. */
static int conf_strings(struct dial *d, const struct dial_conf *conf)
{
	int err = 0;

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
	conf_copy(d, &d->conf.deny_destinations, conf->deny_destinations,
		  DIAL_DENY_DEFAULT, &err);
	return err;
}

static void conf_defaults(struct dial_conf *c)
{
	if (!c->max_inbound)
		c->max_inbound = DFLT_MAX_INBOUND;
	if (!c->max_legs)
		c->max_legs = DFLT_MAX_LEGS;
	if (!c->hash_size)
		c->hash_size = DFLT_HASH;
	if (!c->udp_rcvbuf)
		c->udp_rcvbuf = DFLT_RCVBUF;
	if (!c->linger_ms)
		c->linger_ms = DFLT_LINGER_MS;
	if (!c->quit_wait_ms)
		c->quit_wait_ms = DFLT_QUIT_MS;
	if (!c->max_events)
		c->max_events = DFLT_MAX_EVENTS;
	if (!c->max_event_bytes)
		c->max_event_bytes = DFLT_MAX_EVENT_BYTES;
	if (!c->max_tcp_conns)
		c->max_tcp_conns = DFLT_MAX_TCP;
	if (!c->max_tcp_conns_per_source)
		c->max_tcp_conns_per_source = DFLT_MAX_TCP_SRC;
	if (!c->tcp_first_msg_ms)
		c->tcp_first_msg_ms = DFLT_TCP_FIRST_MS;
	if (!c->max_queue_delay_ms)
		c->max_queue_delay_ms = DFLT_QUEUE_DELAY_MS;
	if (!c->rtp_port_min || c->rtp_port_max < c->rtp_port_min) {
		c->rtp_port_min = 20000;
		c->rtp_port_max = 29999;
	}
}

/* The configuration copied, checked and completed; the addresses. */
static int conf_set(struct dial *d, const struct dial_conf *conf)
{
	int err;

	d->conf = *conf;
	d->adopting = conf->adopting;
	err = conf_strings(d, conf);
	if (err)
		return err;
	if (dial_hdr_check(d->conf.hdr_call_sid, "") ||
	    dial_hdr_check(d->conf.hdr_account_sid, "") ||
	    dial_hdr_check(d->conf.hdr_api_version, "") ||
	    strpbrk(d->conf.user_agent, "\r\n"))
		return EINVAL;
	conf_defaults(&d->conf);
	{
		char why[160];

		if (dial_dest_parse(&d->deny, d->conf.deny_destinations, why,
				    sizeof(why))) {
			dial_log(LOG_ERR, "deny_destinations: %s", why);
			return EINVAL;
		}
	}
	if (sa_decode(&d->laddr, d->conf.listen, strlen(d->conf.listen)))
		return EINVAL;
	if (sa_is_any(&d->laddr)) {
		/* libre 1.1.0's transports need one address, and it goes
		   into Via, Contact, From and SDP */
		dial_log(LOG_ERR, "SIP listen address %s: give a specific "
			 "address, not the wildcard", d->conf.listen);
		return EINVAL;
	}
	if (d->conf.media_addr)
		snprintf(d->media_addr, sizeof(d->media_addr), "%s",
			 d->conf.media_addr);
	else
		sa_ntop(&d->laddr, d->media_addr, sizeof(d->media_addr));
	return 0;
}

/* The SIP thread, with every signal blocked (they belong to the daemon's
 * loop); waits until its stack is built. On failure it is joined. */
static int thread_start(struct dial *d)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&d->thread, NULL, sip_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	pthread_mutex_lock(&d->lock);
	while (!d->start_state)
		pthread_cond_wait(&d->cond, &d->lock);
	err = d->start_state == 1 ? 0 : d->start_err;
	pthread_mutex_unlock(&d->lock);
	if (err)
		pthread_join(d->thread, NULL);
	return err;
}

int dial_alloc(struct dial **dp, const struct dial_conf *conf)
{
	struct dial *d;
	bool lib = false, locks = false;
	int err;

	if (!dp || !conf || !conf->listen)
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->evq.efd = -1;
	err = conf_set(d, conf);
	if (err)
		goto out;
	err = lib_hold();
	if (err)
		goto out;
	lib = true;
	err = dial_evq_init(&d->evq, d->conf.max_events,
			    d->conf.max_event_bytes, &d->ctr);
	if (err)
		goto out;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	locks = true;
	err = thread_start(d);
 out:
	if (err) {
		if (locks) {
			pthread_mutex_destroy(&d->lock);
			pthread_cond_destroy(&d->cond);
		}
		dial_evq_close(&d->evq);
		if (lib)
			lib_release();
		strs_free(d);
		free(d);
	}
	else {
		*dp = d;
	}
	return err;
}

struct dial *dial_free(struct dial *d)
{
	if (!d)
		return NULL;
	dial_cmd_quit(d);
	pthread_join(d->thread, NULL);
	dial_cmd_flush(d);
	dial_evq_close(&d->evq);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	strs_free(d);
	free(d);
	lib_release();
	return NULL;
}

/* ---- public accessors ---- */

int dial_event_fd(const struct dial *d)
{
	return d ? d->evq.efd : -1;
}

struct dial_event *dial_event_next(struct dial *d)
{
	return d ? dial_evq_next(&d->evq) : NULL;
}

void dial_stats_get(const struct dial *d, struct dial_stats *st)
{
	if (!d || !st)
		return;
	dial_evq_stats_get(&d->evq, st);
}

bool dial_overloaded(const struct dial *d)
{
	/* the published state is decided as datagrams are read: with no
	   INVITE coming in (REST creates only) a reader stalled past the
	   bound would never turn it on, and its new calls would queue */
	return d && (dial_load_shedding(&d->ctr) ||
		     dial_load_stalled(&d->evq, d->conf.max_queue_delay_ms,
				       dial_now_us()));
}

bool dial_behind(const struct dial *d)
{
	return d && dial_load_behind(&d->evq, d->conf.max_queue_delay_ms,
				     dial_now_us());
}

uint16_t dial_listen_port(const struct dial *d)
{
	return d ? sa_port(&d->laddr) : 0;
}

int dial_rt_priority_set(struct dial *d, unsigned prio)
{
	struct sched_param sp = {.sched_priority = (int)prio};

	if (!d)
		return EINVAL;
	return pthread_setschedparam(d->thread, SCHED_RR, &sp);
}

const char *dial_timer_impl(void)
{
	return dial_tmr_active() ? dial_tmr_impl_name() :
		"libre sorted list (dial/tmr_heap.c NOT active)";
}
