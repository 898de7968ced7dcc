/* registry.c: this instance in the instances registry: its id in call SIDs, the data_dir lock, start-up gate, drain state */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "autoconf.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/registry.h"
#include "dial/dial.h"
#include "store/store.h"

/* how long the start waits for the registry's answer before taking calls
 * anyway (the database may be away) */
#define START_WAIT_S 3

struct registry {
	const struct config *cfg;
	struct event_base *base;
	struct store_idfile *idfile;
	struct store *store;	/* NULL: no registry */
	struct dial *dial;
	struct event *wait;	/* START_WAIT_S */
	unsigned id;		/* in new SIDs; 0: none yet */
	unsigned cached;	/* data_dir/instance.id at start */
	bool registering;	/* the start-up gate is closed */
	bool draining;
	bool registered;	/* once, in this process */
	bool taken_over;	/* dialerd takeover claimed our name */
	bool fatal;
};

/* the one registry of the process: /health and REST creates look at it */
static struct registry *current;

static void apply_gate(struct registry *r)
{
	if (r->dial)
		dial_draining_set(r->dial, r->registering || r->draining ||
				  r->taken_over);
}

static void set_id(struct registry *r, unsigned id)
{
	r->id = id;
	call_sid_instance_set(id);
	if (r->dial)
		dial_sid_instance_set(r->dial, id);
	if (r->idfile && id)
		(void)store_idfile_write(r->idfile, id);
}

static void open_gate(struct registry *r, const char *why)
{
	if (!r->registering)
		return;
	r->registering = false;
	apply_gate(r);
	log_msg(LOG_NOTICE, "registry", "taking calls with instance id %u (%s)",
		r->id, why);
}

static void on_registered(int err, unsigned id, const char *why, void *arg)
{
	struct registry *r = arg;

	if (!err) {
		if (r->id && id != r->id)
			log_msg(LOG_WARNING, "registry", "the registry gave id %u, "
				"new SIDs carry it instead of %u (calls minted "
				"before keep theirs)", id, r->id);
		if (id != r->id)
			set_id(r, id);
		else if (r->idfile)
			(void)store_idfile_write(r->idfile, id);
		r->registered = true;
		open_gate(r, "registered");
		if (r->draining)
			log_msg(LOG_NOTICE, "registry", "registered again while "
				"draining: state draining written");
		return;
	}
	if (err != EEXIST && err != EADDRINUSE && err != ENOSPC &&
	    err != ESTALE)
		return;	/* the statement failed: tried again on reconnect */
	if (r->registering) {
		/* nothing taken yet: refuse the start */
		log_msg(LOG_ERR, "registry", "cannot start: %s", why);
		r->fatal = true;
		event_base_loopbreak(r->base);
		return;
	}
	if (err == ESTALE) {
		/* cut off from the database long enough for a takeover to
		 * close our calls: new calls here would have no owner */
		if (!r->taken_over)
			log_msg(LOG_CRIT, "registry", "%s: new calls are refused "
				"from now on (503), the calls in progress go on; "
				"stop this instance", why);
		r->taken_over = true;
		apply_gate(r);
		return;
	}
	log_msg(LOG_CRIT, "registry", "%s (this instance keeps running; "
		"retrying the registration)", why);
}

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct registry *r = arg;

	(void)fd;
	(void)what;
	if (!r->registering)
		return;
	if (!r->id) {
		log_msg(LOG_WARNING, "registry", "no instance id yet (the registry "
			"did not answer in %d s, no instance_id, none cached in "
			"data_dir): new SIDs carry id 0 (owner unknown to other "
			"instances) until the registration succeeds", START_WAIT_S);
		open_gate(r, "unregistered");
		return;
	}
	open_gate(r, r->cfg->instance_id ? "configured; the registry did not "
		  "answer yet" : "cached in data_dir; the registry did not answer "
		  "yet");
}

static void collect(void *arg)
{
	struct registry *r = arg;

	if (current != r)
		return;
	metrics_set("dialerd_instance_id", NULL, r->id);
	metrics_set("dialerd_instance_accepting", NULL,
		    r->registering || r->draining || r->taken_over ? 0 : 1);
}

int registry_alloc(struct registry **rp, struct event_base *base,
		   const struct config *cfg)
{
	struct registry *r;
	bool db = cfg->database_url && *cfg->database_url;
	int err = 0;

	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->cfg = cfg;
	r->base = base;
	if (cfg->data_dir && *cfg->data_dir) {
		err = store_idfile_open(&r->idfile, cfg->data_dir, &r->cached);
		if (err == EBUSY) {
			log_msg(LOG_ERR, "registry", "cannot start: another dialerd "
				"runs on data_dir %s (%s/instance.id is locked)",
				cfg->data_dir, cfg->data_dir);
			goto out;
		}
		if (err) {
			/* nothing of data_dir is needed without a database
			 * and webhooks; the journal and outbox say more */
			log_msg(db ? LOG_WARNING : LOG_INFO, "registry",
				"no id cache in data_dir %s: %s", cfg->data_dir,
				strerror(err));
			err = 0;
		}
	}
	if (cfg->instance_id)
		r->id = cfg->instance_id;
	else if (!db)
		r->id = 1;
	else
		r->id = r->cached;
	call_sid_instance_set(r->id);
	r->registering = db;
	if (db) {
		r->wait = evtimer_new(base, on_wait, r);
		if (!r->wait) {
			err = ENOMEM;
			goto out;
		}
	}
 out:
	if (err) {
		r = registry_free(r);
	} else {
		*rp = current = r;
		metrics_family("dialerd_instance_id", METRICS_GAUGE, "this "
			       "instance's id in call SIDs (0: none yet)");
		metrics_family("dialerd_instance_accepting", METRICS_GAUGE, "1 "
			       "while new calls are taken; 0 while registering "
			       "or draining");
		metrics_collector_add(collect, r);
	}
	return err;
}

int registry_start(struct registry *r, struct store *store, struct dial *dial)
{
	const struct config *cfg = r->cfg;
	char host[256], sip[96], http[96];
	struct store_instance in = {
		.name = cfg->instance,
		.id = cfg->instance_id,
		.preferred_id = r->cached,
		.sip_addr = sip,
		.http_addr = http,
		.data_dir = cfg->data_dir,
		.host = host,
		.version = PACKAGE_VERSION,
		.pid = (int)getpid(),
		.started_at = store_now_us(),
	};
	int err;

	r->dial = dial;
	if (dial)
		dial_sid_instance_set(dial, r->id);
	apply_gate(r);
	if (!r->registering) {
		log_msg(LOG_INFO, "registry", "instance id %u (%s)", r->id,
			cfg->instance_id ? "instance_id" : "no database: 1");
		return 0;
	}
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	config_addr_str(&cfg->sip_listen, sip, sizeof(sip));
	config_addr_str(&cfg->http_listen, http, sizeof(http));
	r->store = store;
	err = store_control_start(store, &in, on_registered, r);
	if (err) {
		log_msg(LOG_ERR, "registry", "cannot start the registration: %s",
			strerror(err));
		return err;
	}
	{
		struct timeval tv = {START_WAIT_S, 0};

		event_add(r->wait, &tv);
	}
	if (r->id)
		log_msg(LOG_INFO, "registry", "registering instance \"%s\" (id %u "
			"%s)", cfg->instance, r->id, cfg->instance_id ?
			"configured" : "cached in data_dir");
	else
		log_msg(LOG_INFO, "registry", "registering instance \"%s\" (no id "
			"configured or cached yet)", cfg->instance);
	return 0;
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	metrics_collector_remove(collect, r);
	if (current == r)
		current = NULL;
	if (r->wait)
		event_free(r->wait);
	r->idfile = store_idfile_close(r->idfile);
	free(r);
	return NULL;
}

const char *registry_gate(void)
{
	if (!current)
		return NULL;
	if (current->taken_over)
		return "taken-over";
	if (current->draining)
		return "draining";
	if (current->registering)
		return "registering";
	return NULL;
}

unsigned registry_id(const struct registry *r)
{
	return r ? r->id : 0;
}

void registry_drain(struct registry *r)
{
	if (!r || r->draining)
		return;
	r->draining = true;
	apply_gate(r);
	if (r->store)
		(void)store_control_state(r->store, "draining");
	log_msg(LOG_NOTICE, "registry", "state draining: OPTIONS, new INVITEs, "
		"REST creates and /health answer 503");
}

void registry_stop(struct registry *r)
{
	if (!r || !r->store)
		return;
	(void)store_control_state(r->store, "stopped");
	log_msg(LOG_NOTICE, "registry", "state stopped%s",
		store_control_up(r->store) ? "" : " (database away: not written)");
}

bool registry_busy(const struct registry *r)
{
	return r && r->store && store_control_up(r->store) &&
	       store_control_busy(r->store);
}

bool registry_fatal(const struct registry *r)
{
	return r && r->fatal;
}
