/* api.c: store_*_add(): copy what the call state machine reports into row records */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/internal.h"

/* the header block buffer is kept between messages up to this size */
#define HDR_BLOCK_KEEP (64u << 10)

static int64_t or_now(int64_t t)
{
	return t ? t : store_now_us();
}

int store_call_upsert(struct store *s, const struct store_call *c)
{
	struct rec_builder rb;

	if (!s || !c || !c->sid || !c->account_sid || !c->direction ||
	    !c->status || !c->created_at)
		return EINVAL;
	store_rec_begin(&rb, &s->queue, T_CALLS);
	store_rec_text(&rb, c->sid);
	store_rec_text(&rb, c->account_sid);
	store_rec_text(&rb, c->parent_call_sid);
	store_rec_text(&rb, s->instance);
	store_rec_text(&rb, c->direction);
	store_rec_text(&rb, c->from);
	store_rec_text(&rb, c->to);
	store_rec_text(&rb, c->caller_name);
	store_rec_text(&rb, c->status);
	store_rec_text(&rb, c->sip_call_id);
	store_rec_int_or_null(&rb, c->sip_response_code, 0);
	store_rec_text(&rb, c->reason_protocol);
	store_rec_int_or_null(&rb, c->reason_cause, 0);
	store_rec_text(&rb, c->reason_text);
	store_rec_text(&rb, c->codec);
	store_rec_time(&rb, c->created_at);
	store_rec_time(&rb, c->ringing_at);
	store_rec_time(&rb, c->answered_at);
	store_rec_time(&rb, c->ended_at);
	store_rec_int_or_null(&rb, c->duration, -1);
	store_rec_text(&rb, c->dial_call_status);
	store_rec_time(&rb, or_now(c->updated_at));
	/* 0003_calls */
	store_rec_time(&rb, c->started_at);
	store_rec_text(&rb, c->forwarded_from);
	store_rec_text(&rb, c->dial_group);
	store_rec_int_or_null(&rb, c->branch, -1);
	store_rec_text(&rb, c->hangup_by);
	store_rec_null(&rb);	/* 0004_api: api_deleted_at, never written */
	store_rec_text(&rb, c->root_sid);	/* 0007_root_sid */
	if (store_rec_end(&rb))
		return rb.err;
	return store_writer_enqueued(s, rb.start, 1);
}

int store_event_add(struct store *s, const struct store_event *e)
{
	struct rec_builder rb;

	if (!s || !e || !e->call_sid || !e->event)
		return EINVAL;
	store_rec_begin(&rb, &s->queue, T_EVENTS);
	store_rec_text(&rb, e->call_sid);
	store_rec_int(&rb, e->sequence_number);
	store_rec_text(&rb, e->event);
	store_rec_int_or_null(&rb, e->sip_code, 0);
	store_rec_time(&rb, or_now(e->at));
	store_rec_json(&rb, e->detail_json, e->detail_json ? strlen(e->detail_json) : 0);
	store_rec_text(&rb, e->root_sid);	/* 0007_root_sid */
	if (store_rec_end(&rb))
		return rb.err;
	return store_writer_enqueued(s, rb.start, 1);
}

bool store_header_is_policy(const char *name, size_t len)
{
	static const char *const names[] = {
		"User-to-User", "Remote-Party-ID", "P-Preferred-Identity",
		"P-Called-Party-ID", "Diversion",
	};

	if (!name)
		return false;
	if (len >= 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-')
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
			return true;
	return false;
}

/* Credentials never reach the call log: an Authorization or
 * Proxy-Authorization value keeps its scheme ("Digest <redacted>"); the
 * digest response, nonce echo and username stay out of sip_messages and
 * sip_headers. Returns the value to store and its length in *len. */
static const char *redact(const struct store_header *h, char *buf,
			  size_t size, size_t *len)
{
	static const char mark[] = "<redacted>";
	size_t scheme = 0;

	*len = h->value_len;
	if (!((h->name_len == 13 && !strncasecmp(h->name, "Authorization", 13)) ||
	      (h->name_len == 19 &&
	       !strncasecmp(h->name, "Proxy-Authorization", 19))))
		return h->value;
	while (scheme < h->value_len && scheme < 16 &&
	       ((h->value[scheme] >= 'A' && h->value[scheme] <= 'Z') ||
		(h->value[scheme] >= 'a' && h->value[scheme] <= 'z')))
		scheme++;
	if (scheme == h->value_len || h->value[scheme] != ' ')
		scheme = 0;	/* no "Scheme " in front: all of it goes */
	*len = (size_t)snprintf(buf, size, "%.*s%s%s", (int)scheme, h->value,
				scheme ? " " : "", mark);
	return buf;
}

/* "SIP/2.0 200 OK" -> status 200; "INVITE sip:... SIP/2.0" -> method */
static void parse_start_line(const char *p, size_t n, int *code,
			     const char **method, size_t *mlen)
{
	*code = 0;
	*method = NULL;
	*mlen = 0;
	if (n >= 11 && memcmp(p, "SIP/2.0 ", 8) == 0) {
		int v = 0;

		for (size_t i = 8; i < 11; i++) {
			if (p[i] < '0' || p[i] > '9')
				return;
			v = v * 10 + (p[i] - '0');
		}
		*code = v;
		return;
	}
	for (size_t i = 0; i < n && p[i] != ' '; i++)
		(*mlen)++;
	if (*mlen)
		*method = p;
}

int store_sip_message_add(struct store *s, const struct store_sip_message *m)
{
	struct rec_builder rb;
	struct sbuf *block;
	size_t start, sl_len, mlen, rows = 1;
	const char *method;
	int code, err = 0;
	int64_t at;

	if (!s || !m || !m->call_sid || !m->start_line || (m->nhdrs && !m->hdrs))
		return EINVAL;
	sl_len = m->start_line_len ? m->start_line_len : strlen(m->start_line);
	at = or_now(m->at);
	/* the store's buffer, not a fresh one grown by doubling per message */
	block = &s->hdr_block;
	sbuf_reset(block);
	for (size_t i = 0; i < m->nhdrs && !err; i++) {
		const struct store_header *h = &m->hdrs[i];
		char rbuf[32];
		const char *v;
		size_t vlen;

		if ((!h->name && h->name_len) || (!h->value && h->value_len)) {
			err = EINVAL;
			break;
		}
		v = redact(h, rbuf, sizeof(rbuf), &vlen);
		err = sbuf_put(block, h->name, h->name_len);
		if (!err)
			err = sbuf_put(block, ": ", 2);
		if (!err)
			err = sbuf_put(block, v, vlen);
		if (!err)
			err = sbuf_put(block, "\r\n", 2);
	}
	if (err)
		goto out;
	parse_start_line(m->start_line, sl_len, &code, &method, &mlen);
	start = s->queue.len;
	store_rec_begin(&rb, &s->queue, T_MSGS);
	store_rec_text(&rb, m->call_sid);
	store_rec_int(&rb, m->seq);
	store_rec_text(&rb, m->direction == STORE_DIR_IN ? "in" : "out");
	store_rec_time(&rb, at);
	store_rec_textn(&rb, method, mlen);
	store_rec_int_or_null(&rb, code, 0);
	store_rec_textn(&rb, m->start_line, sl_len);
	store_rec_text(&rb, m->sip_call_id);
	store_rec_text(&rb, m->sdp);
	store_rec_int(&rb, (int64_t)m->nhdrs);
	store_rec_bytea(&rb, block->p, block->len);
	store_rec_text(&rb, m->root_sid);	/* 0007_root_sid */
	/* 0008: body text (escaped when not valid text), body_raw bytea
	   (only then), body_type, body_length */
	store_rec_textn(&rb, m->body, m->body_len);
	if (m->body && store_text_needs_escape(m->body, m->body_len))
		store_rec_bytea(&rb, m->body, m->body_len);
	else
		store_rec_null(&rb);
	store_rec_text(&rb, m->body ? m->body_type : NULL);
	if (m->body)
		store_rec_int(&rb, (int64_t)(m->body_total > m->body_len ?
					     m->body_total : m->body_len));
	else
		store_rec_null(&rb);
	err = store_rec_end(&rb);
	for (size_t i = 0; i < m->nhdrs && !err; i++) {
		const struct store_header *h = &m->hdrs[i];
		char rbuf[32];
		const char *v;
		size_t vlen;
		bool esc;

		if (!store_header_is_policy(h->name, h->name_len))
			continue;
		v = redact(h, rbuf, sizeof(rbuf), &vlen);
		esc = store_text_needs_escape((const unsigned char *)v, vlen);
		store_rec_begin(&rb, &s->queue, T_HDRS);
		store_rec_text(&rb, m->call_sid);
		store_rec_int(&rb, m->seq);
		store_rec_int(&rb, (int64_t)i + 1);
		store_rec_time(&rb, at);
		store_rec_textn(&rb, h->name, h->name_len);
		store_rec_textn(&rb, v ? v : "", vlen);
		if (esc)
			store_rec_bytea(&rb, v, vlen);
		else
			store_rec_null(&rb);
		store_rec_text(&rb, m->root_sid);	/* 0007_root_sid */
		err = store_rec_end(&rb);
		rows++;
	}
	if (err)
		s->queue.len = start;	/* all of the message or nothing */
	else
		err = store_writer_enqueued(s, start, rows);
 out:
	/* a huge message's block is not kept */
	if (block->cap > HDR_BLOCK_KEEP)
		sbuf_free(block);
	return err;
}

/* JSON string body: ", \ and control characters escaped; the text was
 * sanitised to UTF-8 first. Runs of plain bytes are copied whole into room
 * reserved once (a status callback's params are about 1 KiB of JSON, and a
 * byte-by-byte append with its reallocations was 4 % of the daemon's CPU). */
static int json_str(struct sbuf *b, const char *s)
{
	struct sbuf tmp = {0};
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), run = 0;
	int err;

	if (store_text_needs_escape(p, n)) {
		if (store_text_escape(&tmp, p, n)) {
			sbuf_free(&tmp);
			return ENOMEM;
		}
		p = tmp.p;
		n = tmp.len;
	}
	err = sbuf_reserve(b, n + 2);
	if (!err)
		err = sbuf_putc(b, '"');
	for (size_t i = 0; i < n && !err; i++) {
		char e[8];

		if (p[i] != '"' && p[i] != '\\' && p[i] >= 0x20)
			continue;
		err = sbuf_put(b, p + run, i - run);
		run = i + 1;
		if (err)
			break;
		if (p[i] == '"' || p[i] == '\\') {
			e[0] = '\\';
			e[1] = (char)p[i];
			err = sbuf_put(b, e, 2);
		} else {
			snprintf(e, sizeof(e), "\\u%04x", p[i]);
			err = sbuf_put(b, e, 6);
		}
	}
	if (!err)
		err = sbuf_put(b, p + run, n - run);
	if (!err)
		err = sbuf_putc(b, '"');
	sbuf_free(&tmp);
	return err;
}

int store_webhook_add(struct store *s, const struct store_webhook *w)
{
	struct rec_builder rb;
	struct sbuf json = {0};
	int err = 0;

	if (!s || !w || !w->call_sid || !w->kind || !w->method || !w->url ||
	    (w->nparams && !w->params))
		return EINVAL;
	if (w->params) {
		size_t need = 2;

		for (size_t i = 0; i < w->nparams; i++) {
			need += w->params[i].name ? strlen(w->params[i].name) : 0;
			need += w->params[i].value ? strlen(w->params[i].value) : 0;
			need += 6;	/* two pairs of quotes, a colon, a comma */
		}
		err = sbuf_reserve(&json, need);
		if (!err)
			err = sbuf_putc(&json, '{');
		for (size_t i = 0; i < w->nparams && !err; i++) {
			if (!w->params[i].name)
				err = EINVAL;
			if (!err && i)
				err = sbuf_putc(&json, ',');
			if (!err)
				err = json_str(&json, w->params[i].name);
			if (!err)
				err = sbuf_putc(&json, ':');
			if (!err)
				err = json_str(&json, w->params[i].value ?
							      w->params[i].value : "");
		}
		if (!err)
			err = sbuf_putc(&json, '}');
		if (err)
			goto out;
	}
	store_rec_begin(&rb, &s->queue, T_HOOKS);
	store_rec_text(&rb, w->call_sid);
	store_rec_text(&rb, w->kind);
	store_rec_int(&rb, w->sequence_number);
	store_rec_int(&rb, w->attempt);
	store_rec_text(&rb, w->method);
	store_rec_text(&rb, w->url);
	store_rec_json(&rb, w->params ? (const char *)json.p : NULL, json.len);
	store_rec_text(&rb, w->idempotency_token);
	store_rec_int_or_null(&rb, w->response_status, 0);
	store_rec_int_or_null(&rb, w->latency_ms, -1);
	store_rec_text(&rb, w->error);
	store_rec_time(&rb, or_now(w->at));
	/* 0002_webhooks */
	store_rec_int_or_null(&rb, w->error_code, 0);
	store_rec_text(&rb, w->final_url);
	store_rec_int(&rb, w->redirects);
	store_rec_int_or_null(&rb, w->dns_us, 0);
	store_rec_int_or_null(&rb, w->connect_us, 0);
	store_rec_int_or_null(&rb, w->tls_us, 0);
	store_rec_int_or_null(&rb, w->first_byte_us, 0);
	store_rec_int_or_null(&rb, w->total_us, 0);
	store_rec_text(&rb, w->root_sid);	/* 0007_root_sid */
	err = store_rec_end(&rb);
	if (!err)
		err = store_writer_enqueued(s, rb.start, 1);
 out:
	sbuf_free(&json);
	return err;
}

int store_header_policy_add(struct store *s, const struct store_policy_event *p)
{
	struct rec_builder rb;

	if (!s || !p || !p->call_sid || !p->name || !p->reason ||
	    (!p->value && p->value_len))
		return EINVAL;
	store_rec_begin(&rb, &s->queue, T_POLICY);
	store_rec_text(&rb, p->call_sid);
	store_rec_time(&rb, or_now(p->at));
	store_rec_text(&rb, p->name);
	store_rec_textn(&rb, p->value, p->value_len);
	store_rec_text(&rb, p->refused ? "refused" : "dropped");
	store_rec_text(&rb, p->reason);
	/* 0003_calls */
	store_rec_int_or_null(&rb, p->code, 0);
	store_rec_text(&rb, p->source);
	store_rec_bool(&rb, p->truncated);
	store_rec_int(&rb, p->ordinal);
	store_rec_text(&rb, p->root_sid);	/* 0007_root_sid */
	if (store_rec_end(&rb))
		return rb.err;
	return store_writer_enqueued(s, rb.start, 1);
}
