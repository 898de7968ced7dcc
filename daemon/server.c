/* server.c: the running daemon: event loop, listeners, signals, orderly shutdown */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "autoconf.h"
#include "daemon/api.h"
#include "daemon/call.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/memory.h"
#include "daemon/metrics.h"
#include "daemon/registry.h"
#include "daemon/restart_adopt.h"
#include "daemon/restart_bye.h"
#include "daemon/server.h"
#include "daemon/sip.h"
#include "daemon/status.h"
#include "daemon/webhook.h"
#include "dial/dial.h"

#define MAX_BUSY 8
#define DRAIN_POLL_MS 50
#define END_GRACE_S 3
/* after the drain: how long the exit waits for state stopped to be
 * written in the registry */
#define STOPPED_WAIT_S 2
#define DRAIN_LOG_S 10

struct busy {
	server_busy_h *h;
	void *arg;
};

struct server {
	const struct config *cfg;
	struct event_base *base;
	struct http_server *http;
	struct db *db;
	struct sip_server *sip;
	struct webhook *webhook;
	struct webhook_outbox *outbox;
	struct call_layer *calls;
	struct api *api;
	struct event *sig_int, *sig_term, *sig_hup, *sig_usr1, *sig_usr2;
	struct registry *reg;
	struct restart_byes *byes;	/* takeover_own's, while their BYEs run */
	struct restart_adopts *adopts;	/* takeover_own's, until the call layer
					 * runs */
	struct event *byes_done;	/* frees byes */
	struct event *drain;
	struct timespec started;
	struct timespec stop_deadline;
	bool stopping;
	bool ending;		/* past shutdown_timeout: calls being ended */
	bool abandoned;		/* legs still not ended were given up */
	bool no_deadline;	/* SIGUSR1: drain until the last call ends */
	bool stopped;		/* state stopped sent to the registry */
	struct timespec next_log;	/* the drain's progress lines */
	struct busy busy[MAX_BUSY];
	size_t nbusy;
};

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

int server_busy_add(struct server *srv, server_busy_h *h, void *arg)
{
	if (srv->nbusy == MAX_BUSY)
		return ENOSPC;
	srv->busy[srv->nbusy].h = h;
	srv->busy[srv->nbusy].arg = arg;
	srv->nbusy++;
	return 0;
}

static bool http_busy(void *arg)
{
	return http_server_inflight(arg) > 0;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	bool busy = false;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < srv->nbusy; i++)
		busy = busy || srv->busy[i].h(srv->busy[i].arg);
	if (!busy && !srv->stopped) {
		log_msg(LOG_NOTICE, "daemon", "in-flight work done: calls ended, "
			"call log and outbox flushed");
		srv->stopped = true;
		registry_stop(srv->reg);
		clock_gettime(CLOCK_MONOTONIC, &srv->stop_deadline);
		srv->stop_deadline.tv_sec += STOPPED_WAIT_S;
	}
	if (srv->stopped) {
		if (!registry_busy(srv->reg) || since(&srv->stop_deadline) >= 0) {
			log_msg(LOG_NOTICE, "daemon", "exiting");
			event_base_loopexit(srv->base, NULL);
			return;
		}
	} else if (since(&srv->next_log) >= 0) {
		log_msg(LOG_NOTICE, "daemon", "draining: %zu calls in progress%s",
			srv->calls ? srv->calls->ncalls : 0,
			srv->no_deadline ? " (no deadline: SIGUSR1)" : "");
		clock_gettime(CLOCK_MONOTONIC, &srv->next_log);
		srv->next_log.tv_sec += DRAIN_LOG_S;
	}
	if (srv->stopped || srv->no_deadline) {
		/* waiting for the last call, or for state stopped */
	} else if (since(&srv->stop_deadline) >= 0 && !srv->ending) {
		/* calls still up get BYE/CANCEL now, and a few seconds for
		 * their last messages, rows and callbacks to be taken */
		srv->ending = true;
		log_msg(LOG_WARNING, "daemon",
			"shutdown_timeout (%u s) passed with work in flight: "
			"ending the calls", srv->cfg->shutdown_timeout);
		call_layer_end_all(srv->calls);
		clock_gettime(CLOCK_MONOTONIC, &srv->stop_deadline);
		srv->stop_deadline.tv_sec += END_GRACE_S;
	} else if (since(&srv->stop_deadline) >= 0 && !srv->abandoned &&
		   call_layer_abandon(srv->calls) > 0) {
		/* legs whose end never came (a far end that does not answer
		 * our CANCEL keeps the INVITE open for 32 s) were ended in
		 * the call layer: without it their rows stayed ringing and
		 * the <Dial>s waiting on them never ended. Their rows and
		 * final callbacks get END_GRACE_S more to be taken */
		srv->abandoned = true;
		log_msg(LOG_WARNING, "daemon", "legs still not ended %d s "
			"after ending the calls: ended without the SIP engine",
			END_GRACE_S);
		clock_gettime(CLOCK_MONOTONIC, &srv->stop_deadline);
		srv->stop_deadline.tv_sec += END_GRACE_S;
	} else if (since(&srv->stop_deadline) >= 0) {
		log_msg(LOG_WARNING, "daemon",
			"work still in flight after ending the calls, exiting");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	struct timeval tv = {0, DRAIN_POLL_MS * 1000};

	event_add(srv->drain, &tv);
}

/* SIGTERM/SIGINT: drain with shutdown_timeout; SIGUSR1: drain until
 * the last call ends (calls may last hours). The HTTP listener stays open
 * during the drain: /health says draining, REST creates get 503, fetches,
 * lists and updates of the calls still up work. */
static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	bool usr1 = sig == SIGUSR1;

	(void)what;
	if (srv->stopping && usr1) {
		log_msg(LOG_NOTICE, "daemon", "SIGUSR1 while draining: ignored");
		return;
	}
	if (srv->stopping && srv->no_deadline && !srv->stopped) {
		/* SIGUSR1 first: the deadline starts now */
		srv->no_deadline = false;
		log_msg(LOG_NOTICE, "daemon", "%s while draining: calls still up "
			"are ended in %u s (shutdown_timeout)", strsignal((int)sig),
			srv->cfg->shutdown_timeout);
		clock_gettime(CLOCK_MONOTONIC, &srv->stop_deadline);
		srv->stop_deadline.tv_sec += srv->cfg->shutdown_timeout;
		return;
	}
	if (srv->stopping) {
		log_msg(LOG_WARNING, "daemon", "second %s: exiting now",
			strsignal((int)sig));
		event_base_loopbreak(srv->base);
		return;
	}
	srv->stopping = true;
	srv->no_deadline = usr1;
	log_msg(LOG_NOTICE, "daemon", "%s: no new work accepted; finishing in-flight work%s",
		strsignal((int)sig), usr1 ? " without a deadline" : "");
	registry_drain(srv->reg);
	call_layer_drain(srv->calls);
	clock_gettime(CLOCK_MONOTONIC, &srv->stop_deadline);
	srv->stop_deadline.tv_sec += srv->cfg->shutdown_timeout;
	clock_gettime(CLOCK_MONOTONIC, &srv->next_log);
	on_drain(-1, 0, srv);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	int err;

	(void)sig;
	(void)what;
	(void)arg;
	err = log_reopen();
	if (err)
		log_msg(LOG_ERR, "daemon", "cannot reopen the log file: %s",
			strerror(err));
	else
		log_msg(LOG_NOTICE, "daemon", "log reopened");
}

/* SIGUSR2: a heap profile, in an AddressSanitizer build */
static void on_usr2(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (!memory_profile())
		log_msg(LOG_NOTICE, "daemon", "SIGUSR2: a heap profile needs "
			"a sanitizer build (configure --enable-sanitizers)");
}

/* A BYE's transaction ends within 32 s (SIP's timer F): no message of
 * theirs comes later, and the dialogs' copies go. */
#define BYES_KEEP_S 40

static void on_byes_done(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->byes = restart_byes_free(srv->byes);
}

/* The SIP engine's events: the calls', then the orphaned dialogs' BYEs. */
static bool on_sip_event(const struct dial_event *ev, void *arg)
{
	struct server *srv = arg;

	return call_layer_event(ev, srv->calls) ||
	       restart_byes_event(srv->byes, db_store(srv->db), ev);
}

static void teardown(struct server *srv)
{
	srv->byes = restart_byes_free(srv->byes);
	srv->adopts = restart_adopts_free(srv->adopts);
	if (srv->byes_done)
		event_free(srv->byes_done);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_hup)
		event_free(srv->sig_hup);
	if (srv->sig_usr1)
		event_free(srv->sig_usr1);
	if (srv->sig_usr2)
		event_free(srv->sig_usr2);
	if (srv->drain)
		event_free(srv->drain);
	srv->api = api_free(srv->api);
	srv->sip = sip_server_stop(srv->sip);
	srv->calls = call_layer_free(srv->calls);
	srv->outbox = webhook_outbox_free(srv->outbox);
	srv->webhook = webhook_free(srv->webhook);
	srv->http = http_server_free(srv->http);
	srv->db = db_free(srv->db);
	/* last: it holds the data_dir lock */
	srv->reg = registry_free(srv->reg);
	if (srv->base)
		event_base_free(srv->base);
	metrics_reset();
}

/* Every relayed call holds 4 descriptors (RTP+RTCP per leg) besides its
 * SIP and HTTP ones, and the SIP engine keeps up to 1/16 of the limit in
 * idle pairs for reuse: the usual soft limit of 1,024 would cap the daemon
 * at ~250 bridged calls, so take the hard limit. */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_msg(LOG_WARNING, "daemon", "cannot raise the open-file limit: %s",
			strerror(errno));
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4096)
		log_msg(LOG_WARNING, "daemon", "open-file limit %llu: about %llu "
			"bridged calls at most (raise LimitNOFILE / ulimit -n)",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)rl.rlim_cur / 4);
}

/* The webhook client signs with the auth token: without one there is
 * nothing it may send. The outbox resumes what the last run left. */
static int webhooks_start(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct webhook_conf wc;
	int err;

	if (!cfg->auth_token) {
		log_msg(LOG_NOTICE, "webhook", "no auth_token: webhooks are off");
		return 0;
	}
	webhook_conf_from(&wc, cfg, db_store(srv->db));
	err = webhook_alloc(&srv->webhook, srv->base, &wc);
	if (err == ENOTSUP) {
		log_msg(LOG_ERR, "webhook", "libcurl was built without an "
			"asynchronous resolver: a DNS lookup would stall every call");
		return err;
	}
	if (!err && cfg->webhook_tls_insecure)
		log_msg(LOG_WARNING, "webhook", "webhook_tls_insecure: https "
			"webhook servers are not verified");
	if (!err)
		err = webhook_outbox_alloc(&srv->outbox, srv->webhook, srv->base,
					   cfg->data_dir);
	if (err)
		log_msg(LOG_ERR, "webhook", "cannot start the webhook client: %s",
			err == EBUSY ? "another process holds the outbox in data_dir" :
			strerror(err));
	return err;
}

/* The loop is behind while the SIP engine says so (dial_behind: its
 * oldest event waited a quarter of the bound past which new calls get
 * 503): status callbacks then yield the loop to the calls
 * (webhook_outbox_behind_set). Asked for every callback started: an
 * atomic load and a clock read. */
static bool loop_behind(void *arg)
{
	struct server *srv = arg;

	return dial_behind(sip_server_dial(srv->sip));
}

/* The main loop batches its epoll changes: evhttp turns a connection's
 * read and write interest off and on around every request, and libcurl
 * removes and adds a reused connection's socket around every transfer;
 * applied at the next epoll_wait these cost about a third fewer
 * epoll_ctl calls under REST creates. libevent warns that this is
 * unsafe with dup()ed descriptors; nothing in this loop dups one (a
 * descriptor closed and reused within one pass is handled: libevent
 * retries a MOD that finds nothing as an ADD). */
static struct event_base *loop_new(void)
{
	struct event_config *c = event_config_new();
	struct event_base *b;

	if (!c)
		return NULL;
	event_config_set_flag(c, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	b = event_base_new_with_config(c);
	event_config_free(c);
	return b;
}

/* realtime_priority: the SIP thread and the event loop on SCHED_RR, set
 * last, so that the threads started before (the outbox's sync thread)
 * keep the default policy; libcurl's resolver threads, started later for
 * webhook host names, inherit the loop's and mostly wait on DNS. At
 * 300 calls/s on 2 shared cores this cut the p99 post-dial delay from
 * 2.55 to 0.64 ms (docs/benchmarks.md): the tail was CFS wake-up
 * latency, not the threads' work. Refused, each runs as before. */
static void realtime(struct server *srv, unsigned prio)
{
	struct sched_param sp = {.sched_priority = (int)prio};
	const char *who[2] = {"SIP thread", "event loop"};
	int err[2];

	if (!prio)
		return;
	err[0] = dial_rt_priority_set(sip_server_dial(srv->sip), prio);
	err[1] = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
	for (int i = 0; i < 2; i++) {
		if (err[i])
			log_msg(LOG_WARNING, "daemon", "%s: real-time priority %u "
				"refused (%s): it runs at the default priority",
				who[i], prio, strerror(err[i]));
		else
			log_msg(LOG_INFO, "daemon", "%s: SCHED_RR priority %u",
				who[i], prio);
	}
}

int server_run(const struct config *cfg)
{
	struct server srv;
	char err[512], where[96];
	int e;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	clock_gettime(CLOCK_MONOTONIC, &srv.started);
	nofile_raise();
	/* the SIP thread posts events into this loop from its own thread:
	 * libevent must take locks for that */
	if (evthread_use_pthreads() != 0) {
		log_msg(LOG_ERR, "daemon", "libevent has no pthreads support");
		return 1;
	}
	srv.base = loop_new();
	if (!srv.base) {
		log_msg(LOG_ERR, "daemon", "cannot create the event loop");
		return 1;
	}
	err[0] = '\0';
	e = http_server_alloc(&srv.http, srv.base, &cfg->http_listen, err, sizeof(err));
	if (e) {
		log_msg(LOG_ERR, "daemon", "%s", err[0] ? err : strerror(e));
		teardown(&srv);
		return 1;
	}
	http_server_limits(srv.http, cfg->http_max_conns,
			   cfg->http_max_conns_per_source,
			   cfg->http_request_timeout_ms);
	memory_metrics_init();
	/* the schema is checked (and migrated) before anything is written */
	if (db_migrate_startup(cfg) != 0) {
		teardown(&srv);
		return 1;
	}
	/* calls a crashed process of this folder left open: ended before the
	 * folder is locked again (it takes the same locks, then frees them) */
	takeover_own(cfg, &srv.byes, &srv.adopts);
	/* the data_dir lock and the instance id, before anything mints a SID */
	if (registry_alloc(&srv.reg, srv.base, cfg)) {
		teardown(&srv);
		return 1;
	}
	e = db_alloc(&srv.db, srv.base, cfg);
	if (!e)
		e = status_init(srv.http, &srv.started, srv.db);
	if (e) {
		log_msg(LOG_ERR, "daemon", "start-up failed: %s", strerror(e));
		teardown(&srv);
		return 1;
	}
	if (webhooks_start(&srv)) {
		teardown(&srv);
		return 1;
	}
	/* the SIP thread: its events are read in this loop */
	e = sip_server_start(&srv.sip, srv.base, cfg,
			     restart_adopts_count(srv.adopts) > 0);
	if (e) {
		teardown(&srv);
		return 1;
	}
	/* the connected calls the killed process left up, before a peer's
	   request in one of their dialogs could be answered 481 */
	restart_adopts_send(srv.adopts, sip_server_dial(srv.sip));
	/* the dialogs the killed process left up, from this SIP address
	   (the list stays: their messages are logged as they come) */
	if (srv.byes) {
		struct timeval keep = {BYES_KEEP_S, 0};

		restart_byes_bodies_set(srv.byes, cfg->call_log_bodies);
		restart_byes_send(srv.byes, sip_server_dial(srv.sip));
		srv.byes_done = evtimer_new(srv.base, on_byes_done, &srv);
		if (!srv.byes_done || evtimer_add(srv.byes_done, &keep))
			srv.byes = restart_byes_free(srv.byes);
	}
	/* the id of inbound SIDs and the start-up gate, then registration */
	if (registry_start(srv.reg, db_store(srv.db), sip_server_dial(srv.sip))) {
		teardown(&srv);
		return 1;
	}
	/* the call layer answers the engine's events from here on */
	e = call_layer_alloc(&srv.calls, srv.base, cfg, sip_server_dial(srv.sip),
			     srv.webhook, srv.outbox, db_store(srv.db));
	if (e) {
		log_msg(LOG_ERR, "daemon", "cannot start the call layer: %s",
			strerror(e));
		teardown(&srv);
		return 1;
	}
	restart_adopts_calls(srv.adopts, srv.calls, sip_server_dial(srv.sip));
	srv.adopts = restart_adopts_free(srv.adopts);
	sip_server_handler_set(srv.sip, on_sip_event, &srv);
	if (srv.outbox)
		webhook_outbox_behind_set(srv.outbox, loop_behind, &srv);
	/* the REST API authenticates with the auth token, as webhooks sign */
	if (cfg->auth_token &&
	    api_alloc(&srv.api, srv.base, srv.http, cfg, srv.calls,
		      db_store(srv.db))) {
		log_msg(LOG_ERR, "daemon", "cannot start the REST API");
		teardown(&srv);
		return 1;
	}
	server_busy_add(&srv, call_layer_busy, srv.calls);
	server_busy_add(&srv, http_busy, srv.http);
	server_busy_add(&srv, sip_server_busy, srv.sip);
	server_busy_add(&srv, webhook_busy, srv.webhook);
	server_busy_add(&srv, webhook_outbox_busy, srv.outbox);
	server_busy_add(&srv, db_busy, srv.db);
	srv.sig_int = evsignal_new(srv.base, SIGINT, on_stop_signal, &srv);
	srv.sig_term = evsignal_new(srv.base, SIGTERM, on_stop_signal, &srv);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
	srv.sig_usr1 = evsignal_new(srv.base, SIGUSR1, on_stop_signal, &srv);
	srv.sig_usr2 = evsignal_new(srv.base, SIGUSR2, on_usr2, &srv);
	srv.drain = evtimer_new(srv.base, on_drain, &srv);
	if (!srv.sig_int || !srv.sig_term || !srv.sig_hup || !srv.sig_usr1 ||
	    !srv.sig_usr2 || !srv.drain || event_add(srv.sig_int, NULL) ||
	    event_add(srv.sig_term, NULL) || event_add(srv.sig_hup, NULL) ||
	    event_add(srv.sig_usr1, NULL) || event_add(srv.sig_usr2, NULL)) {
		log_msg(LOG_ERR, "daemon", "cannot install signal handlers");
		teardown(&srv);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	config_addr_str(&cfg->http_listen, where, sizeof(where));
	log_msg(LOG_NOTICE, "daemon",
		"dialerd %s listening: http=%s instance=%s database=%s",
		PACKAGE_VERSION, where, cfg->instance, db_state_name(srv.db));
	if (log_defer_start(srv.base))
		log_msg(LOG_WARNING, "daemon", "log lines are written one by one");
	realtime(&srv, cfg->realtime_priority);
	event_base_loop(srv.base, EVLOOP_NO_EXIT_ON_EMPTY);
	log_defer_stop();
	e = registry_fatal(srv.reg);
	teardown(&srv);
	log_msg(LOG_NOTICE, "daemon", e ? "not started" : "stopped");
	return e ? 1 : 0;
}
