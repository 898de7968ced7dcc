/* restart_bye.c: the dialogs of the answered calls a killed process left up, rebuilt from the call log's SIP messages, for the SIP engine to end with a BYE */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/call.h"
#include "daemon/log.h"
#include "daemon/restart_bye.h"

/*
 * The call log keeps every message as it crossed the wire (start line and
 * headers in wire order). A dialog is the leg's first 2xx to an INVITE and
 * the INVITE it answered: dial_bye() takes them as text. Content-Length is
 * left out: the body is not part of it.
 */

/* A dialog, and where its BYE's messages go in the call log. */
struct orphan {
	struct dial_bye b;
	char *root_sid;
	uint32_t next_seq;	/* after the leg's last message */
};

struct restart_byes {
	struct orphan *v;
	size_t n, cap;
	int bodies;		/* call_log_bodies */
};

/* method and status_code are the call log's columns, from the start
 * line as the writer parsed it */
static bool is_request(const struct store_sip_row *r, const char *method)
{
	return r->method && !strcmp(r->method, method);
}

static const struct store_header *hdr(const struct store_sip_row *r,
				      const char *name)
{
	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct store_header *h = &r->hdrs[i];

		if (h->name_len == strlen(name) &&
		    !strncasecmp(h->name, name, h->name_len))
			return h;
	}
	return NULL;
}

/* CSeq "N METHOD": N, and whether METHOD is method. */
static unsigned long cseq_of(const struct store_sip_row *r, const char *method,
			     bool *match)
{
	const struct store_header *h = hdr(r, "CSeq");
	char v[64], *end;
	unsigned long n;

	*match = false;
	if (!h || h->value_len >= sizeof(v))
		return 0;
	memcpy(v, h->value, h->value_len);
	v[h->value_len] = '\0';
	n = strtoul(v, &end, 10);
	end += strspn(end, " \t");
	*match = method && !strcasecmp(end, method);
	return n;
}

/* Start line and headers, CRLF ended, no Content-Length. */
static char *raw(const struct store_sip_row *r)
{
	size_t n = strlen(r->start_line) + 5, o;	/* 2 CRLF, NUL */
	char *s;

	for (size_t i = 0; i < r->nhdrs; i++)
		n += r->hdrs[i].name_len + r->hdrs[i].value_len + 4;
	s = malloc(n);
	if (!s)
		return NULL;
	o = (size_t)snprintf(s, n, "%s\r\n", r->start_line);
	for (size_t i = 0; i < r->nhdrs; i++) {
		const struct store_header *h = &r->hdrs[i];

		if ((h->name_len == 14 && !strncasecmp(h->name, "Content-Length", 14)) ||
		    (h->name_len == 1 && tolower((unsigned char)h->name[0]) == 'l'))
			continue;
		o += (size_t)snprintf(s + o, n - o, "%.*s: %.*s\r\n",
				      (int)h->name_len, h->name,
				      (int)h->value_len, h->value);
	}
	snprintf(s + o, n - o, "\r\n");
	return s;
}

int restart_bye_rows(const struct store_sip_row **invp,
		     const struct store_sip_row **okp, uint32_t *cseqp,
		     const char *sid, const struct store_sip_row *rows,
		     size_t n)
{
	const struct store_sip_row *inv = NULL, *ok = NULL;
	unsigned long ok_cseq = 0, top = 0;
	bool m;

	/* the first 2xx to an INVITE is the dialog's (later ones answer
	   refreshes); the requests this side sent: the BYE's CSeq goes
	   above them */
	for (size_t i = 0; i < n; i++) {
		const struct store_sip_row *r = &rows[i];
		int code = r->status_code;
		unsigned long cs;

		if (!r->call_sid || strcmp(r->call_sid, sid) || !r->start_line)
			continue;
		if (is_request(r, "BYE"))
			return EALREADY;	/* ended before the kill */
		cs = cseq_of(r, "INVITE", &m);
		if (!code && r->direction == STORE_DIR_OUT && cs > top)
			top = cs;
		if (!ok && code >= 200 && code < 300 && m) {
			ok = r;
			ok_cseq = cs;
		}
	}
	/* the INVITE it answered (after a challenge, not the first one) */
	for (size_t i = 0; ok && !inv && i < n; i++) {
		const struct store_sip_row *r = &rows[i];

		if (r->call_sid && !strcmp(r->call_sid, sid) &&
		    is_request(r, "INVITE") && r->direction != ok->direction &&
		    cseq_of(r, "INVITE", &m) == ok_cseq && m)
			inv = r;
	}
	if (!inv || !ok)
		return ENOENT;
	if (top >= 0x7fffffffUL)
		return ERANGE;
	*invp = inv;
	*okp = ok;
	*cseqp = (uint32_t)top + 1;
	return 0;
}

int restart_bye_dialog(struct dial_bye *b, const char *sid,
		       const struct store_sip_row *rows, size_t n)
{
	const struct store_sip_row *inv, *ok;
	uint32_t cseq;
	int err;

	memset(b, 0, sizeof(*b));
	err = restart_bye_rows(&inv, &ok, &cseq, sid, rows, n);
	if (err)
		return err;
	b->id = strdup(sid);
	b->invite = raw(inv);
	b->ok = raw(ok);
	b->uac = inv->direction == STORE_DIR_OUT;
	b->cseq = cseq;
	if (!b->id || !b->invite || !b->ok) {
		restart_bye_dialog_free(b);
		return ENOMEM;
	}
	return 0;
}

void restart_bye_dialog_free(struct dial_bye *b)
{
	free((char *)b->id);
	free((char *)b->invite);
	free((char *)b->ok);
	memset(b, 0, sizeof(*b));
}

int restart_byes_add(struct restart_byes **bp, const char *sid,
		     const char *root_sid, const struct store_sip_row *rows,
		     size_t n)
{
	struct restart_byes *b = *bp;
	struct orphan o = {0};
	int err;

	err = restart_bye_dialog(&o.b, sid, rows, n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (rows[i].call_sid && !strcmp(rows[i].call_sid, sid) &&
		    rows[i].seq >= o.next_seq)
			o.next_seq = rows[i].seq + 1;
	o.root_sid = strdup(root_sid ? root_sid : sid);
	if (!b && o.root_sid) {
		b = calloc(1, sizeof(*b));
		*bp = b;
	}
	if (b && b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct orphan *v = realloc(b->v, cap * sizeof(*v));

		if (v) {
			b->v = v;
			b->cap = cap;
		}
	}
	if (!o.root_sid || !b || b->n == b->cap) {
		restart_bye_dialog_free(&o.b);
		free(o.root_sid);
		return ENOMEM;
	}
	b->v[b->n++] = o;
	return 0;
}

void restart_byes_bodies_set(struct restart_byes *b, int bodies)
{
	if (b)
		b->bodies = bodies;
}

bool restart_byes_event(struct restart_byes *b, struct store *s,
			const struct dial_event *ev)
{
	if (!b || ev->type != DIAL_EV_SIP)
		return false;
	for (size_t i = 0; i < b->n; i++) {
		struct orphan *o = &b->v[i];

		if (strcmp(o->b.id, ev->leg_id))
			continue;
		call_log_sip_row(s, o->b.id, o->root_sid, o->next_seq++, ev,
				 b->bodies);
		return true;
	}
	return false;
}

size_t restart_byes_count(const struct restart_byes *b)
{
	return b ? b->n : 0;
}

void restart_byes_send(struct restart_byes *b, struct dial *d)
{
	size_t sent = 0;

	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		int err = dial_bye(d, &b->v[i].b);

		if (err)
			log_write(LOG_WARNING, "takeover", b->v[i].b.id,
				  "no BYE: %s", strerror(err));
		else
			sent++;
	}
	log_msg(LOG_NOTICE, "takeover", "%zu BYE%s to the dialogs of the answered "
		"calls the dead process left up", sent, sent == 1 ? "" : "s");
}

struct restart_byes *restart_byes_free(struct restart_byes *b)
{
	if (!b)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		restart_bye_dialog_free(&b->v[i].b);
		free(b->v[i].root_sid);
	}
	free(b->v);
	free(b);
	return NULL;
}
