/* msg.c: raw SIP text into event copies (start line, headers in order, Reason); event copies and clones; the Reason header written back */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dial/internal.h"

/*
 * An event is one malloc: the struct, its header array, a lossless copy of
 * the header block (raw), a tokenised copy that the string pointers
 * point into, and the body (at most DIAL_BODY_MAX bytes of it). One
 * allocation per message keeps the SIP thread's cost flat under load and
 * lets the receiver free it with one call; dial_event_clone relocates the
 * pointers.
 */

struct blob {
	size_t size;		/* total bytes of the allocation */
	struct dial_event ev;
};

/* CLOCK_REALTIME: event times are wall-clock, and load.c compares it with
 * the kernel's receive stamps, which are on that clock too */
uint64_t dial_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct blob *blob_of(const struct dial_event *ev)
{
	return (struct blob *)(void *)((char *)(uintptr_t)ev -
				       offsetof(struct blob, ev));
}

struct dial_event *dial_event_free(struct dial_event *ev)
{
	if (ev)
		free(blob_of(ev));
	return NULL;
}

struct dial_event *dial_event_bare(enum dial_ev_type type, const char *id)
{
	struct blob *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->size = sizeof(*b);
	b->ev.type = type;
	b->ev.time_us = dial_now_us();
	if (id)
		snprintf(b->ev.leg_id, sizeof(b->ev.leg_id), "%s", id);
	return &b->ev;
}

#define RELOC(p) ((p) ? (void *)((char *)(uintptr_t)(p) + delta) : NULL)

struct dial_event *dial_event_clone(const struct dial_event *ev,
				    enum dial_ev_type type)
{
	const struct blob *ob;
	struct blob *b;
	ptrdiff_t delta;

	if (!ev)
		return NULL;
	ob = blob_of(ev);
	b = malloc(ob->size);
	if (!b)
		return NULL;
	memcpy(b, ob, ob->size);
	delta = (char *)b - (const char *)ob;
	b->ev.method = RELOC(ev->method);
	b->ev.phrase = RELOC(ev->phrase);
	b->ev.start_line = RELOC(ev->start_line);
	b->ev.call_id = RELOC(ev->call_id);
	b->ev.from = RELOC(ev->from);
	b->ev.to = RELOC(ev->to);
	b->ev.ruri = RELOC(ev->ruri);
	b->ev.raw = RELOC(ev->raw);
	b->ev.body = RELOC(ev->body);
	b->ev.body_type = RELOC(ev->body_type);
	b->ev.hdrv = RELOC(ev->hdrv);
	for (size_t i = 0; i < b->ev.hdrc; i++) {
		b->ev.hdrv[i].name = RELOC(ob->ev.hdrv[i].name);
		b->ev.hdrv[i].value = RELOC(ob->ev.hdrv[i].value);
	}
	b->ev.next = NULL;
	b->ev.type = type;
	return &b->ev;
}

/* compact forms (RFC 3261 §7.3.3 and extensions) */
static const struct {
	char c;
	const char *name;
} compact[] = {
	{'i', "Call-ID"}, {'f', "From"}, {'t', "To"}, {'v', "Via"},
	{'m', "Contact"}, {'l', "Content-Length"}, {'c', "Content-Type"},
	{'k', "Supported"}, {'s', "Subject"}, {'e', "Content-Encoding"},
	{'o', "Event"}, {'u', "Allow-Events"}, {'r', "Refer-To"},
	{'b', "Referred-By"}, {'x', "Session-Expires"},
};

static bool name_is(const char *have, const char *want)
{
	if (!strcasecmp(have, want))
		return true;
	if (have[0] && !have[1]) {
		for (size_t i = 0; i < sizeof(compact) / sizeof(compact[0]); i++)
			if (tolower((unsigned char)have[0]) == compact[i].c)
				return !strcasecmp(want, compact[i].name);
	}
	return false;
}

const char *dial_event_hdr(const struct dial_event *ev, const char *name)
{
	if (!ev || !name)
		return NULL;
	for (size_t i = 0; i < ev->hdrc; i++)
		if (name_is(ev->hdrv[i].name, name))
			return ev->hdrv[i].value;
	return NULL;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	return s;
}

static bool is_sdp(const struct dial_event *ev, const uint8_t *body,
		   size_t blen)
{
	const char *ct = dial_event_hdr(ev, "Content-Type");

	if (!blen)
		return false;
	if (ct)
		return !strncasecmp(ct, "application/sdp", 15);
	return blen >= 3 && !memcmp(body, "v=0", 3);
}

/* The header block ends at the first empty line: its length (len when
 * there is none) and an upper bound of its header count. */
static size_t head_len(const uint8_t *pkt, size_t len, size_t *nlines)
{
	*nlines = 0;
	for (size_t i = 0; i < len; i++) {
		if (pkt[i] != '\n')
			continue;
		(*nlines)++;
		if (i + 1 < len && pkt[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && pkt[i + 1] == '\r' && pkt[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* One allocation for the event, its header array, the raw header block,
 * two working copies (the tokenised block, the start line) and the kept
 * part of the body (blen bytes and a NUL). */
static struct blob *blob_alloc(const uint8_t *pkt, size_t hlen,
			       size_t nlines, size_t sl_len, size_t blen)
{
	size_t size = sizeof(struct blob) +
		(nlines + 1) * sizeof(struct dial_hdr) + hlen + (hlen + 1) +
		(sl_len + 1) + (blen + 1);
	struct blob *b = malloc(size);
	struct dial_event *ev;
	char *tok;

	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->size = size;
	ev = &b->ev;
	ev->hdrv = (struct dial_hdr *)(void *)(b + 1);
	ev->raw = (uint8_t *)(ev->hdrv + nlines + 1);
	memcpy((uint8_t *)(uintptr_t)ev->raw, pkt, hlen);
	ev->raw_len = hlen;
	tok = (char *)(uintptr_t)ev->raw + hlen;
	memcpy(tok, pkt, hlen);
	tok[hlen] = '\0';
	if (blen) {
		uint8_t *body = (uint8_t *)tok + hlen + 1 + sl_len + 1;

		memcpy(body, pkt + hlen, blen);
		body[blen] = '\0';
		ev->body = body;
		ev->body_len = blen;
	}
	return b;
}

/* "SIP/2.0 200 OK" or "INVITE sip:x SIP/2.0"; sl is a working copy of
 * the start line, tok the tokenised block that starts with it. */
static int start_line_parse(struct dial_event *ev, char *sl, char *tok)
{
	ev->start_line = tok;
	if (!strncmp(sl, "SIP/2.0 ", 8)) {
		char *c = sl + 8;

		ev->code = (uint16_t)strtoul(c, &c, 10);
		if (ev->code < 100 || ev->code > 699)
			return EBADMSG;
		ev->phrase = tok + (c - sl) + (*c == ' ');
	}
	else {
		char *sp = strchr(sl, ' '), *sp2;

		if (!sp)
			return EBADMSG;
		*sp = '\0';
		ev->method = sl;
		sp2 = strchr(sp + 1, ' ');
		if (!sp2)
			return EBADMSG;
		*sp2 = '\0';
		ev->ruri = sp + 1;
	}
	return 0;
}

/* The end of the header line at p; continuation lines are folded into
 * its value. */
static char *line_end(char *p, char *end)
{
	char *le = p, *nl;

	for (;;) {
		nl = memchr(le, '\n', (size_t)(end - le));
		if (!nl)
			return end;
		if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			*nl = ' ';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = ' ';
			le = nl + 1;
			continue;
		}
		return nl;
	}
}

/* The headers of the tokenised block [p, end), in order. */
static void headers_parse(struct dial_event *ev, char *p, char *end)
{
	if (*p == '\n')
		p++;
	while (p < end) {
		char *colon, *name, *val, *le;

		if (*p == '\r' || *p == '\n')
			break;	/* the empty line */
		le = line_end(p, end);
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			name = trim(p, colon);
			val = trim(colon + 1, le);
			if (*name) {
				ev->hdrv[ev->hdrc].name = name;
				ev->hdrv[ev->hdrc].value = val;
				ev->hdrc++;
			}
		}
		p = le + 1;
	}
}

/* The fields an event names: Call-ID, From, To, a response's method
 * (from CSeq), Reason. */
static void fields_set(struct dial_event *ev)
{
	const char *r;

	ev->call_id = dial_event_hdr(ev, "Call-ID");
	ev->from = dial_event_hdr(ev, "From");
	ev->to = dial_event_hdr(ev, "To");
	if (ev->code) {
		const char *cseq = dial_event_hdr(ev, "CSeq");

		if (cseq) {
			while (*cseq && (isdigit((unsigned char)*cseq) ||
					 *cseq == ' ' || *cseq == '\t'))
				cseq++;
			ev->method = cseq;
		}
	}
	r = dial_event_hdr(ev, "Reason");
	if (r)
		(void)dial_reason_parse(&ev->reason, r);
}

int dial_msg_parse(struct dial_event **evp, const uint8_t *pkt, size_t len,
		   enum dial_dir dir, uint64_t time_us)
{
	size_t hlen, nlines, sl_len, blen;
	struct blob *b;
	struct dial_event *ev = NULL;
	char *tok, *sl;
	int err;

	if (!evp || !pkt || !len)
		return EINVAL;
	hlen = head_len(pkt, len, &nlines);
	for (sl_len = 0; sl_len < hlen && pkt[sl_len] != '\r' &&
	     pkt[sl_len] != '\n'; sl_len++)
		;
	if (sl_len < 8 || memchr(pkt, '\0', hlen))
		return EBADMSG;
	blen = len - hlen < DIAL_BODY_MAX ? len - hlen : DIAL_BODY_MAX;
	b = blob_alloc(pkt, hlen, nlines, sl_len, blen);
	if (!b)
		return ENOMEM;
	ev = &b->ev;
	ev->type = DIAL_EV_SIP;
	ev->dir = dir;
	ev->time_us = time_us;
	tok = (char *)(uintptr_t)ev->raw + hlen;
	sl = tok + hlen + 1;
	memcpy(sl, pkt, sl_len);
	sl[sl_len] = '\0';
	tok[sl_len] = '\0';
	err = start_line_parse(ev, sl, tok);
	if (err)
		goto out;
	headers_parse(ev, tok + sl_len + 1, tok + hlen);
	fields_set(ev);
	ev->body_total = len - hlen;
	if (ev->body_total)
		ev->body_type = dial_event_hdr(ev, "Content-Type");
	if (hlen < len && is_sdp(ev, pkt + hlen, len - hlen))
		dial_sdp_summary(&ev->sdp, (const char *)pkt + hlen,
				 len - hlen);
 out:
	if (err)
		dial_event_free(ev);
	else
		*evp = ev;
	return err;
}

bool dial_reason_parse(struct dial_reason *r, const char *val)
{
	const char *p, *semi;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!val)
		return false;
	while (*val == ' ')
		val++;
	semi = strchr(val, ';');
	n = semi ? (size_t)(semi - val) : strlen(val);
	while (n && val[n - 1] == ' ')
		n--;
	if (!n || n >= sizeof(r->protocol))
		return false;
	memcpy(r->protocol, val, n);
	r->protocol[n] = '\0';
	r->present = true;
	for (p = semi; p && *p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;

		while (*q == ' ')
			q++;
		if (!strncasecmp(q, "cause=", 6)) {
			r->cause = atoi(q + 6);
		}
		else if (!strncasecmp(q, "text=", 5)) {
			const char *t = q + 5, *e;
			bool quoted = (*t == '"');

			if (quoted) {
				t++;
				e = t;
				while (*e && *e != '"') {
					if (*e == '\\' && e[1])
						e++;
					e++;
				}
			}
			else {
				e = t + strcspn(t, ";");
			}
			n = (size_t)(e - t);
			if (n >= sizeof(r->text))
				n = sizeof(r->text) - 1;
			memcpy(r->text, t, n);
			r->text[n] = '\0';
			if (quoted && *e == '"')
				p = e;	/* a ';' inside the quotes is text */
		}
	}
	return true;
}

void dial_reason_hdr(char *buf, size_t size, const struct dial_reason *r)
{
	buf[0] = '\0';
	if (!r || !r->present || !r->protocol[0])
		return;
	if (r->text[0])
		snprintf(buf, size, "Reason: %s;cause=%d;text=\"%s\"\r\n",
			 r->protocol, r->cause, r->text);
	else
		snprintf(buf, size, "Reason: %s;cause=%d\r\n", r->protocol,
			 r->cause);
}

unsigned dial_se_parse(const char *val, char *refresher, size_t rsz)
{
	unsigned long n;
	char *end;
	const char *r;

	if (refresher && rsz)
		refresher[0] = '\0';
	if (!val)
		return 0;
	n = strtoul(val, &end, 10);
	if (end == val || n == 0 || n > 86400)
		return 0;
	r = strstr(val, "refresher=");
	if (r && refresher && rsz) {
		size_t k = strcspn(r + 10, "; \t");

		if (k >= rsz)
			k = rsz - 1;
		memcpy(refresher, r + 10, k);
		refresher[k] = '\0';
	}
	return (unsigned)n;
}

bool dial_list_has(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	if (!list)
		return false;
	while (*list) {
		size_t k;

		while (*list == ' ' || *list == ',' || *list == '\t')
			list++;
		k = strcspn(list, ", \t");
		if (k == n && !strncasecmp(list, tok, n))
			return true;
		list += k;
	}
	return false;
}
