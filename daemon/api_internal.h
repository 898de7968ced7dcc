/* api_internal.h: what the REST API's files share. Bottom up (each calls
 * only those below it):
 *   api_form.c      form bodies and query strings
 *   api_parse.c     paths, credentials, the list's query
 *   api_create_parse.c  the create's parameters: a call request or a 400
 *   json.c          the JSON writer
 *   api_reply.c     requests: replies, error JSON, the pending list
 *   api_render.c    the call resource and the list page as JSON
 *   api_create.c    POST .../Calls: parameters checked, the call started
 *   api_list.c      GET .../Calls: filters and pages
 *   api_sip.c       GET .../Calls/{Sid}/SipMessages
 *   api_remote.c    a call another instance owns: the command sent there
 *   api_calls.c     fetch, update, delete of one call
 *   api_owner.c     commands of other instances applied to our calls
 *   api.c           routes, authentication, dispatch
 */
#ifndef DIALERD_API_INTERNAL_H
#define DIALERD_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/api_create_parse.h"
#include "daemon/api_form.h"
#include "daemon/api_parse.h"
#include "daemon/api.h"

struct call;
struct evhttp_request;
struct json;
struct store_call;
struct store_read;

#define API_BODY_MAX (64u * 1024)

struct api_req;
struct api_remote;
struct event;
struct event_base;

struct api {
	const struct config *cfg;
	struct call_layer *cl;
	struct store *store;
	struct event_base *base;
	struct api_req *pending;	/* waiting for the store or an owner */
	struct event *housekeep;	/* api_owner.c: old commands deleted */
	unsigned long long applied[64];	/* api_owner.c: commands taken on */
	unsigned applied_pos;
};

/* Where an answer goes when no HTTP client waits for it: a command of
 * another instance (api_owner.c). body is lent for the call. */
typedef void (api_done_h)(struct api_req *r, int status, const char *body,
			  size_t len);

struct api_req {
	struct api *api;
	struct evhttp_request *req;
	const char *prefix;		/* "" or "/api/laml" */
	char account[64];
	char sid[64];			/* .../Calls/{Sid}; "" for the list */
	struct api_form query, body;
	struct store_read *read;	/* a store query in flight */
	void *ctx;			/* the handler's state, freed with r */
	struct api_req *next, *prev;	/* in api->pending while read */
	char *raw_body;			/* the form as received (api_remote.c) */
	api_done_h *done;		/* set: a command, not an HTTP request */
	unsigned long long cmd_id;	/* the command's id (api_owner.c) */
	struct api_remote *remote;	/* api_remote.c's state */
	void (*cleanup)(struct api_req *r);	/* frees such state with r */
};

/* ---- api_reply.c ---- */

/* Sends status with the JSON of j (freed) and frees r. */
void api_reply_json(struct api_req *r, int status, struct json *j);
/* 204 without a body; frees r. */
void api_reply_empty(struct api_req *r, int status);
/* The vendors' error JSON {code, message, more_info, status}; frees r. */
void api_error(struct api_req *r, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A JSON text as it is (an owner's answer); status 204 or json NULL:
 * no body; frees r. */
void api_reply_text(struct api_req *r, int status, const char *json);
/* A store read failed: 503 20503 while the database is away or slow
 * (ENOTCONN, ETIMEDOUT), 500 20500 for our own errors; frees r. */
void api_store_error(struct api_req *r, int err);
void api_req_free(struct api_req *r);
/* r waits for the store (api_free answers it 503 if it still waits). */
void api_req_wait(struct api_req *r);
void api_req_unwait(struct api_req *r);

/* ---- api_render.c ---- */

/* The call resource of a row (a live call's row from call_log_row). */
void api_render_call(struct json *j, const struct api_req *r,
		     const struct store_call *c);
/* RFC 2822 time, or NULL when us is 0. */
const char *api_render_time(int64_t us, char *buf, size_t size);

/* ---- api_remote.c ---- */

enum store_command_kind;
/* Not ours: r's SID carries another registered instance's id (never for
 * a command: it is applied where it arrives). */
bool api_remote_owned_elsewhere(const struct api_req *r);
/* Sends r to the call's owner as a command and answers with the owner's
 * answer (504 after 5 s). When the owner cannot answer (not active or
 * draining, heartbeat older than 15 s, no registry row) local(r) answers
 * at once instead, with r->remote set so it can name the owner. */
void api_remote(struct api_req *r, enum store_command_kind kind,
		void (*local)(struct api_req *r));
/* "instance b (state active, heartbeat 3 s ago)" of the owner, when
 * api_remote() fell back to local(r); else NULL. */
const char *api_remote_owner(const struct api_req *r);
/* The owner acknowledged command id (a notification): r gets its answer. */
void api_remote_ack(struct api *a, unsigned long long id);

/* ---- api_create.c ---- */

void api_calls_create(struct api_req *r);

/* ---- api_list.c, api_sip.c, api_calls.c ---- */

void api_calls_list(struct api_req *r);
void api_calls_sip_messages(struct api_req *r);
void api_calls_fetch(struct api_req *r);
void api_calls_update(struct api_req *r);
void api_calls_delete(struct api_req *r);

/* ---- api_owner.c ---- */

/* LISTEN for commands on every (re)registration, scan the pending ones,
 * apply them; hourly housekeeping. ENOMEM. */
int api_owner_start(struct api *a);
void api_owner_stop(struct api *a);

#endif
