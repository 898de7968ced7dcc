/* api_sip.c: GET .../Calls/{Sid}/SipMessages: every SIP message of a call
 * and of its child legs, in order, from the call log
 *
 * dialerd's own extension for operators: a carrier's header problem is
 * read here (or with `dialerd trace`) instead of in a packet capture.
 * Headers are as they crossed the wire, in wire order (credentials
 * excepted: the log keeps their names only); Bodies=true adds bodies when
 * the log has them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/api_internal.h"
#include "daemon/json.h"
#include "store/store.h"

/* 2026-12-04T21:56:26.123456Z: messages a millisecond apart stay in order */
static void iso_time(int64_t us, char *buf, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char day[32];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06dZ", day, (int)(us % 1000000));
}

static void on_messages(int err, const struct store_sip_row *rows, size_t n,
			void *arg)
{
	struct api_req *r = arg;
	char uri[300], at[48];
	struct json j;

	r->read = NULL;
	api_req_unwait(r);
	if (err == ENOENT) {
		api_error(r, 404, 20404, "The requested resource %s/" API_VERSION
			  "/Accounts/%s/Calls/%s.json was not found", r->prefix,
			  r->account, r->sid);
		return;
	}
	if (err) {
		api_store_error(r, err);
		return;
	}
	snprintf(uri, sizeof(uri), "%s/" API_VERSION "/Accounts/%s/Calls/%s/"
		 "SipMessages.json", r->prefix, r->account, r->sid);
	json_init(&j);
	json_obj(&j);
	json_kstr(&j, "call_sid", r->sid);
	json_kstr(&j, "uri", uri);
	json_key(&j, "sip_messages");
	json_arr(&j);
	for (size_t i = 0; i < n; i++) {
		const struct store_sip_row *m = &rows[i];

		iso_time(m->at, at, sizeof(at));
		json_obj(&j);
		json_kstr(&j, "call_sid", m->call_sid);
		json_kint(&j, "seq", m->seq);
		json_kstr(&j, "direction", m->direction == STORE_DIR_IN ? "in" : "out");
		json_kstr(&j, "timestamp", at);
		json_kstr(&j, "start_line", m->start_line);
		json_kstr(&j, "sip_call_id", m->sip_call_id);
		json_kstr(&j, "sdp", m->sdp);
		json_key(&j, "headers");
		json_arr(&j);
		for (size_t h = 0; h < m->nhdrs; h++) {
			json_obj(&j);
			json_key(&j, "name");
			json_strn(&j, m->hdrs[h].name, m->hdrs[h].name_len);
			json_key(&j, "value");
			json_strn(&j, m->hdrs[h].value, m->hdrs[h].value_len);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_kstr(&j, "body", m->body);
		json_kstr(&j, "body_type", m->body_type);
		if (m->body_length >= 0)
			json_kint(&j, "body_length", m->body_length);
		else
			json_knull(&j, "body_length");
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	api_reply_json(r, 200, &j);
}

void api_calls_sip_messages(struct api_req *r)
{
	const char *b = api_form_get(&r->query, "Bodies");
	int err;

	if (!r->api->store) {
		api_error(r, 503, 20503, "SIP messages are read from the call log "
			  "database (database_url)");
		return;
	}
	err = store_sip_messages_query(r->api->store, r->account, r->sid,
				       b && strcmp(b, "true") == 0, on_messages,
				       r, &r->read);
	if (err) {
		api_store_error(r, err);
		return;
	}
	api_req_wait(r);
}
