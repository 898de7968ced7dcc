/* api_owner.c: commands other instances send for the calls we own
 *
 * After every (re)registration of the control connection: LISTEN on
 * dialerd_cmd_<id> (commands for us) and dialerd_ack_<id> (answers to ours),
 * then scan the pending commands, since a notification sent while we were
 * disconnected is lost. A command runs through the same handlers as an
 * HTTP request (api_calls.c); its answer goes to call_commands instead of
 * a socket, and the requester is notified. The scan marks expired rows and
 * never returns them, and the state = 'pending' guard of the finish makes
 * a second delivery of one command change nothing; the ids taken on
 * recently keep a notification and a scan that see the same row from
 * applying it twice meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/api_internal.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "store/store.h"
#include "util/memdupz.h"

#define HOUSEKEEP_S 3600

static char what_finish[] = "finishing a command", what_listen[] = "LISTEN";

static void on_logged(int err, const struct store_rows *rows, void *arg)
{
	(void)rows;
	if (err)
		log_msg(LOG_WARNING, "api", "commands: %s failed: %s",
			(const char *)arg, strerror(err));
}

/* True the first time id is seen among the last 64. */
static bool take(struct api *a, unsigned long long id)
{
	size_t n = sizeof(a->applied) / sizeof(a->applied[0]);

	for (size_t i = 0; i < n; i++)
		if (a->applied[i] == id)
			return false;
	a->applied[a->applied_pos++ % n] = id;
	return true;
}

static void on_done(struct api_req *r, int status, const char *body,
		    size_t len)
{
	char *json = NULL;
	int err;

	if (body && len)
		json = util_memdupz(body, len);
	err = store_command_finish(r->api->store, r->cmd_id, status < 500,
				   (unsigned)status, json ? json : "null",
				   on_logged, what_finish);
	if (err)
		log_msg(LOG_WARNING, "api", "command %llu for call %s: its answer "
			"%d is not stored: %s", r->cmd_id, r->sid, status,
			strerror(err));
	metrics_add("dialerd_remote_commands_applied_total", NULL, 1);
	log_msg(LOG_DEBUG, "api", "command %llu for call %s answered %d",
		r->cmd_id, r->sid, status);
	free(json);
}

static void apply(struct api *a, const struct store_rows *rows, size_t i)
{
	const char *id = store_rows_value(rows, i, 0);
	const char *sid = store_rows_value(rows, i, 2);
	const char *account = store_rows_value(rows, i, 3);
	const char *kind = store_rows_value(rows, i, 4);
	const char *prefix = store_rows_value(rows, i, 6);
	const char *form = store_rows_value(rows, i, 7);
	struct api_req *r;

	if (!id || !sid || !account || !kind || !take(a, strtoull(id, NULL, 10)))
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		log_msg(LOG_ERR, "api", "command %s: out of memory", id);
		return;
	}
	r->api = a;
	r->done = on_done;
	r->cmd_id = strtoull(id, NULL, 10);
	r->prefix = prefix && !strcmp(prefix, "/api/laml") ? "/api/laml" : "";
	snprintf(r->account, sizeof(r->account), "%s", account);
	snprintf(r->sid, sizeof(r->sid), "%s", sid);
	if (strcmp(account, a->cfg->account_sid)) {
		api_error(r, 404, 20404, "Account %s is not this dialerd's",
			  account);
		return;
	}
	if (form && *form && api_form_parse(&r->body, form, strlen(form))) {
		api_error(r, 400, 20001, "Malformed form body");
		return;
	}
	if (!strcmp(kind, "fetch"))
		api_calls_fetch(r);
	else if (!strcmp(kind, "update"))
		api_calls_update(r);
	else if (!strcmp(kind, "delete"))
		api_calls_delete(r);
	else
		api_error(r, 400, 20001, "Unknown command %s", kind);
}

static void on_pending(int err, const struct store_rows *rows, void *arg)
{
	struct api *a = arg;

	if (err) {
		log_msg(LOG_WARNING, "api", "commands: the scan failed: %s",
			strerror(err));
		return;
	}
	for (size_t i = 0; i < store_rows_count(rows); i++)
		apply(a, rows, i);
}

static void on_up(unsigned id, void *arg)
{
	struct api *a = arg;

	(void)id;
	(void)store_command_listen(a->store, on_logged, what_listen);
	(void)store_command_pending(a->store, 0, on_pending, a);
}

static void on_notify(const char *channel, const char *payload, void *arg)
{
	struct api *a = arg;
	unsigned long long id = payload ? strtoull(payload, NULL, 10) : 0;

	if (!id)
		return;
	if (!strncmp(channel, "dialerd_cmd_", 12))
		(void)store_command_pending(a->store, id, on_pending, a);
	else if (!strncmp(channel, "dialerd_ack_", 12))
		api_remote_ack(a, id);
}

static void on_housekept(int err, const struct store_rows *rows, void *arg)
{
	struct api *a = arg;

	/* a full batch: there may be more */
	if (!err && store_rows_affected(rows) >= 1000)
		(void)store_command_housekeep(a->store, on_housekept, a);
}

static void on_housekeep(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;

	(void)fd;
	(void)what;
	if (store_control_up(a->store))
		(void)store_command_housekeep(a->store, on_housekept, a);
}

int api_owner_start(struct api *a)
{
	struct timeval tv = {HOUSEKEEP_S, 0};

	metrics_family("dialerd_remote_commands_total", METRICS_COUNTER,
		       "REST requests for calls of other instances, by kind and "
		       "result (answered, timeout, owner_down, unreachable)");
	metrics_family("dialerd_remote_commands_applied_total", METRICS_COUNTER,
		       "commands of other instances applied to our calls");
	a->housekeep = event_new(a->base, -1, EV_PERSIST, on_housekeep, a);
	if (!a->housekeep || event_add(a->housekeep, &tv))
		return ENOMEM;
	store_control_up_handler_set(a->store, on_up, a);
	store_control_notify_handler_set(a->store, on_notify, a);
	if (store_control_up(a->store))
		on_up(store_control_id(a->store), a);
	return 0;
}

void api_owner_stop(struct api *a)
{
	if (a->store) {
		store_control_up_handler_set(a->store, NULL, NULL);
		store_control_notify_handler_set(a->store, NULL, NULL);
	}
	if (a->housekeep)
		event_free(a->housekeep);
	a->housekeep = NULL;
}
