/* api_remote.c: a fetch, update or delete of a call another instance owns
 *
 * A call SID names its owner (CA + 4 hex digits of the instance id), and
 * only the owner holds a live call: its state, its SIP dialog. A request
 * that reaches another instance becomes a call_commands row for the owner,
 * inserted with its pg_notify in one statement. The owner applies it
 * (api_owner.c), stores the answer it would have given and notifies us
 * with the row's id; we answer the client with that status and body.
 * Without an acknowledgement in 5 s the row is read once more, then the
 * answer is 504; the row expires after 10 s, so an owner that wakes up
 * later (SIGSTOP, a frozen VM) never applies it late. An owner that cannot
 * answer (not active or draining, heartbeat older than 15 s, no row) is
 * not waited for: the call log answers at once (api_calls.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/json.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "store/store.h"

#define WAIT_S 5

struct api_remote {
	enum store_command_kind kind;
	void (*local)(struct api_req *r);
	struct store_exec *x;		/* the statement in flight */
	struct event *timer;		/* WAIT_S after the command was sent */
	unsigned long long id;		/* the command's row, once inserted */
	unsigned owner;
	char owner_name[64];		/* from the registry, else its id */
	bool timed_out;
	char owner_desc[192];		/* set when the owner cannot answer */
};

static const char *kind_name(enum store_command_kind k)
{
	return k == STORE_COMMAND_FETCH ? "fetch" :
	       k == STORE_COMMAND_UPDATE ? "update" : "delete";
}

static void count(const struct api_remote *rm, const char *result)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"",
		 kind_name(rm->kind), result);
	metrics_add("dialerd_remote_commands_total", labels, 1);
}

static void cleanup(struct api_req *r)
{
	struct api_remote *rm = r->remote;

	if (!rm)
		return;
	store_control_cancel(rm->x);
	if (rm->timer)
		event_free(rm->timer);
	free(rm);
	r->remote = NULL;
	r->cleanup = NULL;
}

bool api_remote_owned_elsewhere(const struct api_req *r)
{
	unsigned owner, self;

	if (r->done || !r->api->store)
		return false;
	owner = call_sid_instance(r->sid);
	self = store_control_id(r->api->store);
	return owner && self && owner != self;
}

const char *api_remote_owner(const struct api_req *r)
{
	return r->remote && r->remote->owner_desc[0] ? r->remote->owner_desc
						     : NULL;
}

/* The database cannot carry the command now: 503, as for a store read. */
static void unreachable(struct api_req *r, int err)
{
	unsigned owner = call_sid_instance(r->sid);

	count(r->remote, "unreachable");
	api_req_unwait(r);
	api_error(r, 503, 20503, "Call %s runs on dialerd instance %u, which "
		  "cannot be reached through the database now (%s)", r->sid,
		  owner, strerror(err));
}

static void on_result(int err, const struct store_rows *rows, void *arg)
{
	struct api_req *r = arg;
	struct api_remote *rm = r->remote;
	const char *state = rows ? store_rows_value(rows, 0, 0) : NULL;

	rm->x = NULL;
	if (!err && state && (!strcmp(state, "done") || !strcmp(state, "failed"))) {
		const char *st = store_rows_value(rows, 0, 1);

		count(rm, "answered");
		api_req_unwait(r);
		api_reply_text(r, st ? atoi(st) : 500, store_rows_value(rows, 0, 2));
		return;
	}
	if (!rm->timed_out)
		return;		/* an early wake-up: the timer asks again */
	count(rm, "timeout");
	log_msg(LOG_WARNING, "api", "%s of call %s: dialerd instance %s did not "
		"answer command %llu within %d s (%s)", kind_name(rm->kind),
		r->sid, rm->owner_name, rm->id, WAIT_S, err ? strerror(err) :
		state ? state : "no row");
	api_req_unwait(r);
	api_error(r, 504, 20504, "Call %s runs on dialerd instance %s, which did "
		  "not answer within %d s", r->sid, rm->owner_name, WAIT_S);
}

static void ask(struct api_req *r)
{
	struct api_remote *rm = r->remote;
	int err;

	if (rm->x || !rm->id)
		return;
	err = store_command_result(r->api->store, rm->id, on_result, r, &rm->x);
	if (err && rm->timed_out)
		unreachable(r, err);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct api_req *r = arg;
	struct api_remote *rm = r->remote;

	(void)fd;
	(void)what;
	rm->timed_out = true;
	if (!rm->id) {
		/* not even inserted in 5 s: the database is slow or away */
		unreachable(r, ETIMEDOUT);
		return;
	}
	/* the acknowledgement may have been lost with a reconnect */
	ask(r);
}

void api_remote_ack(struct api *a, unsigned long long id)
{
	for (struct api_req *r = a->pending; r; r = r->next) {
		if (r->remote && r->remote->id == id) {
			ask(r);
			return;
		}
	}
}

static void on_sent(int err, const struct store_rows *rows, void *arg)
{
	struct api_req *r = arg;
	struct api_remote *rm = r->remote;
	const char *id = rows ? store_rows_value(rows, 0, 0) : NULL;

	rm->x = NULL;
	if (err || !id) {
		unreachable(r, err ? err : EIO);
		return;
	}
	rm->id = strtoull(id, NULL, 10);
	if (rm->timed_out)
		ask(r);
}

static void send_command(struct api_req *r)
{
	struct api_remote *rm = r->remote;
	struct timeval tv = {WAIT_S, 0};
	struct json j;
	const char *body;
	int err;

	json_init(&j);
	json_obj(&j);
	json_kstr(&j, "prefix", r->prefix);
	json_kstr(&j, "form", r->raw_body ? r->raw_body : "");
	json_obj_end(&j);
	body = json_text(&j, NULL);
	err = body ? store_command_send(r->api->store, rm->owner, r->sid,
					r->account, rm->kind, body, on_sent, r,
					&rm->x)
		   : ENOMEM;
	json_fini(&j);
	if (!err) {
		rm->timer = evtimer_new(r->api->base, on_timer, r);
		if (!rm->timer || evtimer_add(rm->timer, &tv))
			err = ENOMEM;
	}
	if (err)
		unreachable(r, err);
}

static void on_owner(int err, const struct store_rows *rows, void *arg)
{
	struct api_req *r = arg;
	struct api_remote *rm = r->remote;
	const char *name, *state, *may, *age;

	rm->x = NULL;
	if (err) {
		unreachable(r, err);
		return;
	}
	if (!store_rows_count(rows)) {
		snprintf(rm->owner_desc, sizeof(rm->owner_desc),
			 "instance id %u (not in the registry)", rm->owner);
		goto local;
	}
	name = store_rows_value(rows, 0, 0);
	state = store_rows_value(rows, 0, 1);
	may = store_rows_value(rows, 0, 2);
	age = store_rows_value(rows, 0, 3);
	snprintf(rm->owner_name, sizeof(rm->owner_name), "%s", name ? name : "?");
	if (may && !strcmp(may, "t")) {
		send_command(r);
		return;
	}
	snprintf(rm->owner_desc, sizeof(rm->owner_desc),
		 "instance %s (state %s, heartbeat %s s ago)", name ? name : "?",
		 state ? state : "?", age ? age : "?");
 local:
	count(rm, "owner_down");
	api_req_unwait(r);
	rm->local(r);
}

void api_remote(struct api_req *r, enum store_command_kind kind,
		void (*local)(struct api_req *r))
{
	struct api_remote *rm = calloc(1, sizeof(*rm));
	int err;

	if (!rm) {
		api_error(r, 500, 20500, "Out of memory");
		return;
	}
	rm->kind = kind;
	rm->local = local;
	rm->owner = call_sid_instance(r->sid);
	snprintf(rm->owner_name, sizeof(rm->owner_name), "%u", rm->owner);
	r->remote = rm;
	r->cleanup = cleanup;
	api_req_wait(r);
	err = store_command_instance(r->api->store, rm->owner, on_owner, r,
				     &rm->x);
	if (err)
		unreachable(r, err);
}
