/* api_render.c: the call resource as the vendors' clients read it
 *
 * Every key of Twilio's Call resource is present, null when dialerd has
 * no value (price, phone_number_sid...), plus SignalWire's formatted_* and
 * sip_result_code, so both client libraries fill every attribute. Times
 * are RFC 2822 in UTC, duration a string of seconds, as Twilio sends them.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/api_internal.h"
#include "daemon/call.h"
#include "daemon/json.h"
#include "store/store.h"

const char *api_render_time(int64_t us, char *buf, size_t size)
{
	if (!us)
		return NULL;
	call_params_time(us, buf, size);
	return buf;
}

/* "initiated" is a status callback event, not a REST status: until the
 * far end rings, a REST call reads queued. */
static const char *rest_status(const char *st)
{
	return st && strcmp(st, "initiated") == 0 ? "queued" : st;
}

static void subresources(struct json *j, const char *base)
{
	static const char *const names[][2] = {
		{"notifications", "Notifications"},
		{"recordings", "Recordings"},
		{"payments", "Payments"},
		{"events", "Events"},
		{"siprec", "Siprec"},
		{"streams", "Streams"},
		{"user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"},
		{"user_defined_messages", "UserDefinedMessages"},
		{"sip_messages", "SipMessages"},
	};
	char uri[320];

	json_key(j, "subresource_uris");
	json_obj(j);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(uri, sizeof(uri), "%s/%s.json", base, names[i][1]);
		json_kstr(j, names[i][0], uri);
	}
	json_obj_end(j);
}

void api_render_call(struct json *j, const struct api_req *r,
		     const struct store_call *c)
{
	char t[4][64], base[256], uri[300], dur[16];
	bool final = c->ended_at != 0;

	snprintf(base, sizeof(base), "%s/" API_VERSION "/Accounts/%s/Calls/%s",
		 r->prefix, c->account_sid, c->sid);
	snprintf(uri, sizeof(uri), "%s.json", base);
	snprintf(dur, sizeof(dur), "%d", c->duration > 0 ? c->duration : 0);
	json_obj(j);
	json_kstr(j, "sid", c->sid);
	json_kstr(j, "account_sid", c->account_sid);
	json_kstr(j, "parent_call_sid", c->parent_call_sid);
	json_kstr(j, "date_created", api_render_time(c->created_at, t[0], sizeof(t[0])));
	json_kstr(j, "date_updated", api_render_time(c->updated_at ? c->updated_at :
						       c->created_at, t[1], sizeof(t[1])));
	json_kstr(j, "to", c->to);
	json_kstr(j, "to_formatted", c->to);
	json_kstr(j, "formatted_to", c->to);
	json_kstr(j, "from", c->from);
	json_kstr(j, "from_formatted", c->from);
	json_kstr(j, "formatted_from", c->from);
	json_knull(j, "phone_number_sid");
	json_kstr(j, "status", rest_status(c->status));
	json_kstr(j, "start_time", api_render_time(c->started_at, t[2], sizeof(t[2])));
	json_kstr(j, "end_time", final ? api_render_time(c->ended_at, t[3], sizeof(t[3])) : NULL);
	json_kstr(j, "duration", final ? dur : NULL);
	json_knull(j, "price");
	json_kstr(j, "price_unit", "USD");
	json_kstr(j, "direction", c->direction);
	json_knull(j, "answered_by");
	json_kstr(j, "api_version", API_VERSION);
	json_kstr(j, "forwarded_from", c->forwarded_from);
	json_knull(j, "group_sid");
	json_kstr(j, "caller_name", c->caller_name);
	json_kstr(j, "queue_time", "0");
	json_knull(j, "trunk_sid");
	json_knull(j, "annotation");
	if (c->sip_response_code)
		json_kint(j, "sip_result_code", c->sip_response_code);
	else
		json_knull(j, "sip_result_code");
	json_kstr(j, "uri", uri);
	subresources(j, base);
	json_obj_end(j);
}
