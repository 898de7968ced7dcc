/* call_log.c: a call's rows for the store: snapshots, status events, SIP
 * messages with their header sets, refused headers
 *
 * One row per event, queued without waiting (the store batches them and
 * journals them while PostgreSQL is away); a row that cannot be queued is
 * logged and the call goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cxml/cxml.h"
#include "daemon/call.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "dial/dial.h"
#include "store/store.h"

static const char *direction(enum call_direction d)
{
	switch (d) {
	case CALL_INBOUND:
		return "inbound";
	case CALL_OUTBOUND_API:
		return "outbound-api";
	default:
		return "outbound-dial";
	}
}

static void failed(const char *sid, const char *what, int err)
{
	log_write(LOG_ERR, "call", sid, "cannot queue the %s row: %s", what,
		  strerror(err));
}

const char *call_root_sid(const struct call *c)
{
	while (c->parent)
		c = c->parent;
	return c->sid;
}

void call_log_row(const struct call *c, int64_t now_us, struct store_call *r)
{
	memset(r, 0, sizeof(*r));
	r->sid = c->sid;
	r->account_sid = c->cl->cfg->account_sid ? c->cl->cfg->account_sid : "";
	r->parent_call_sid = c->parent ? c->parent->sid : NULL;
	r->direction = direction(c->dir);
	r->from = c->from;
	r->to = c->to;
	r->caller_name = c->caller_name && *c->caller_name ? c->caller_name : NULL;
	r->status = call_status_name(c->status);
	r->sip_call_id = c->sip_call_id;
	r->sip_response_code = c->sip_code;
	r->codec = c->codec[0] ? c->codec : NULL;
	r->created_at = c->created_us;
	r->ringing_at = c->ringing_us;
	r->answered_at = c->answered_us;
	r->ended_at = c->ended_us;
	r->duration = c->ended_us && c->answered_us ?
		      (int)((c->ended_us - c->answered_us + 999999) / 1000000) :
		      (c->ended_us ? 0 : -1);
	r->dial_call_status = c->dial_status;
	r->updated_at = now_us;
	r->started_at = c->started_us;
	r->forwarded_from = c->forwarded_from;
	r->dial_group = c->dial_group[0] ? c->dial_group : NULL;
	r->branch = c->branch;
	r->hangup_by = c->hangup_by;
	r->root_sid = call_root_sid(c);
}

void call_log_call(struct store *s, const struct call *c, int64_t now_us)
{
	struct store_call r;
	int err;

	if (!s)
		return;
	call_log_row(c, now_us, &r);
	err = store_call_upsert(s, &r);
	if (err)
		failed(c->sid, "calls", err);
}

void call_log_event(struct store *s, const struct call *c, uint32_t seq,
		    const char *event, uint16_t code, const char *detail_json)
{
	struct store_event e = {
		.call_sid = c->sid,
		.sequence_number = seq,
		.event = event,
		.sip_code = code,
		.detail_json = detail_json,
		.root_sid = call_root_sid(c),
	};
	int err;

	if (!s)
		return;
	err = store_event_add(s, &e);
	if (err)
		failed(c->sid, "call_events", err);
}

void call_log_event_text(struct store *s, const struct call *c, uint32_t seq,
			 const char *event, uint16_t code, const char *key,
			 const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char json[4096 * 6 + 64];
	size_t o;

	if (!s)
		return;
	if (len > 4096)
		len = 4096;
	o = (size_t)snprintf(json, sizeof(json), "{\"%s\":\"", key);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '"' || ch == '\\') {
			json[o++] = '\\';
			json[o++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(json + o, "\\u00", 4);
			json[o + 4] = hex[ch >> 4];
			json[o + 5] = hex[ch & 15];
			o += 6;
		} else {
			json[o++] = (char)ch;	/* invalid UTF-8 is escaped by the store */
		}
	}
	memcpy(json + o, "\"}", 3);
	call_log_event(s, c, seq, event, code, json);
}

/* Whether call_log_bodies keeps ev's body: sdp keeps application/sdp
 * ones (and an untyped one that starts as SDP does), not multipart. */
static bool body_kept(const struct dial_event *ev, int bodies)
{
	if (!ev->body || bodies == CONFIG_BODIES_NONE)
		return false;
	if (bodies == CONFIG_BODIES_ALL)
		return true;
	if (ev->body_type)
		return strncasecmp(ev->body_type, "application/sdp", 15) == 0;
	return ev->body_len >= 3 && memcmp(ev->body, "v=0", 3) == 0;
}

void call_log_sip(struct store *s, const struct call *c, uint32_t seq,
		  const struct dial_event *ev, int bodies)
{
	call_log_sip_row(s, c->sid, call_root_sid(c), seq, ev, bodies);
}

void call_log_sip_row(struct store *s, const char *sid, const char *root_sid,
		      uint32_t seq, const struct dial_event *ev, int bodies)
{
	struct store_header h[128];
	struct store_sip_message m;
	char sdp[128] = "";
	size_t n = ev->hdrc < 128 ? ev->hdrc : 128;
	int err;

	if (!s || !ev->start_line)
		return;
	for (size_t i = 0; i < n; i++) {
		h[i].name = ev->hdrv[i].name;
		h[i].name_len = strlen(ev->hdrv[i].name);
		h[i].value = ev->hdrv[i].value;
		h[i].value_len = strlen(ev->hdrv[i].value);
	}
	if (ev->sdp.present)
		snprintf(sdp, sizeof(sdp), "audio %s:%u %s", ev->sdp.addr,
			 ev->sdp.port, ev->sdp.codec);
	memset(&m, 0, sizeof(m));
	m.call_sid = sid;
	m.seq = seq;
	m.direction = ev->dir == DIAL_DIR_TX ? STORE_DIR_OUT : STORE_DIR_IN;
	m.at = (int64_t)ev->time_us;
	m.start_line = ev->start_line;
	m.sip_call_id = ev->call_id;
	m.sdp = sdp[0] ? sdp : NULL;
	m.hdrs = h;
	m.nhdrs = n;
	m.root_sid = root_sid;
	if (body_kept(ev, bodies)) {
		m.body = ev->body;
		m.body_len = ev->body_len;
		m.body_total = ev->body_total;
		m.body_type = ev->body_type;
	}
	err = store_sip_message_add(s, &m);
	if (err)
		failed(sid, "sip_messages", err);
}

void call_log_dest_refused(struct store *s, const struct call *c,
			   uint32_t seq, const struct dial_event *ev)
{
	char json[256], dst[64];
	size_t o = 0;

	for (const char *p = ev->peer; *p && o + 1 < sizeof(dst); p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			dst[o++] = *p;
	dst[o] = '\0';
	log_write(LOG_WARNING, "call", c->sid, "destination %s refused: "
		  "denied by sip_deny_destinations (%d)", dst[0] ? dst : "?",
		  CALL_CODE_DEST_REFUSED);
	snprintf(json, sizeof(json), "{\"code\":%d,\"destination\":\"%s\","
		 "\"transport\":\"%s\",\"reason\":\"destination denied by "
		 "sip_deny_destinations\"}", CALL_CODE_DEST_REFUSED, dst,
		 ev->transport[0] ? ev->transport : "udp");
	call_log_event(s, c, seq, "destination-refused", 0, json);
}

void call_log_policy(struct store *s, const struct call *c, uint32_t ordinal,
		     const struct cxml_sip_refusal *r)
{
	static const char *const sources[] = {
		[CXML_HDR_URI] = "uri",
		[CXML_HDR_SIP_ATTR] = "sip-attr",
		[CXML_HDR_DIAL_ATTR] = "dial-attr",
	};
	struct store_policy_event p;
	int err;

	if (!s)
		return;
	memset(&p, 0, sizeof(p));
	p.call_sid = c->sid;
	p.root_sid = call_root_sid(c);
	p.name = r->name;
	p.value = r->value;
	p.value_len = r->value ? strlen(r->value) : 0;
	p.refused = false;	/* the header is left out, the call goes on */
	p.reason = r->reason ? r->reason : "";
	p.code = r->code;
	p.source = (size_t)r->source < sizeof(sources) / sizeof(sources[0]) ?
		   sources[r->source] : NULL;
	p.truncated = r->truncated;
	p.ordinal = ordinal;
	err = store_header_policy_add(s, &p);
	if (err)
		failed(c->sid, "header_policy_events", err);
}
