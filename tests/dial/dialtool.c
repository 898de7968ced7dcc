/* dialtool.c: drives dial/ from a script and prints every engine event as one JSON line */

/*
 * Usage: dialtool [-l LISTEN] [-u USER_AGENT] [-m MAX_INBOUND] [-M MAX_LEGS]
 *                 [-q MAX_QUEUE_DELAY_MS] [-b UDP_RCVBUF]
 *                 [-T CERT.pem [-P TLS_PORT]] [-C CA.pem] [-I] [-r]
 *                 [-R RTP_LO-RTP_HI] [-o ADOPT_PROBE_MS]
 *                 [-a ACTION] [ACTION ...]
 *
 * Starts the SIP engine on LISTEN (default 127.0.0.1:5080; port 0 picks
 * one and prints {"event":"listening","port":N} first), runs the actions in
 * order, then stops the engine. Each ACTION is one argv word (quote it) or,
 * when no action is given, one line of standard input. Fields are
 * KEY=VALUE words; VALUE is %-decoded (%20 is a space, %3B a ';').
 *
 *   start id=ID uri=URI [from=USER] [name=DISPLAY] [host=FROMHOST]
 *         [hdr=NAME:VALUE]... [codecs=PCMU,PCMA,G722,G729,OPUS]
 *         [user=U pass=P] [se=SECONDS] [minse=SECONDS] [group=G]
 *         [callsid=SID] [account=SID] [addr=MEDIA_IP] [port=RTP_PORT]
 *         [insecure=1] [relay=1]
 *   hangup id=ID [reason=PROTO;cause=N;text=TEXT]   CANCEL or BYE
 *   refresh id=ID                                    UPDATE or re-INVITE
 *   ring id=ID [code=180|183]                        inbound leg
 *   answer id=ID [codecs=...] [hdr=NAME:VALUE]... [addr=IP] [port=N]
 *          [relay=1]
 *   adopt id=ID inv=FILE ok=FILE [uac=1] [cseq=N] [lsdp=FILE] [psdp=FILE]
 *         [id2=ID inv2=FILE ok2=FILE uac2=1 cseq2=N lsdp2=FILE psdp2=FILE]
 *                                  take up a dialog a killed process left
 *                                  (dial_adopt; the second leg bridged to
 *                                  the first): the INVITE and its 2xx
 *                                  (start line and headers), the SDPs we
 *                                  and the peer sent, each read from FILE
 *   bridge a=ID b=ID               join two relayed legs' media
 *   unbridge id=ID
 *   reject id=ID code=486 [reason=...]
 *   wait MS                        keep printing events for MS ms
 *   expect TYPE[:ID] [MS]          wait for an event (sip, progress,
 *                                  answered, ended, inbound, refreshed,
 *                                  bridged, adopted);
 *                                  exit status 1 if none within MS
 *                                  (default 10000)
 *   quit                           stop now
 * In every id=, a= and b=, "@in" names the latest inbound leg.
 *
 * -T  TLS listener with this certificate+key (port -P, default LISTEN+1)
 * -C  CA file for verifying TLS peers (default: the system store)
 * -I  no TLS verification at all (logged); per leg: insecure=1
 * -R  the engine's RTP port range (relayed legs' socket pairs)
 * -o  an adopted leg's OPTIONS this long after its adoption (default: the
 *     engine's, 4.5-5.5 s)
 * -r  behave like the daemon for RFC 4028: refresh at half the interval
 *     when we are the refresher; hang up when the interval passes
 *     without a refresh otherwise.
 * -q  overload bound: SIP datagrams waiting longer than this shed new calls
 *     (the last line of output is {"event":"stats",...} with the counts)
 * -b  SO_RCVBUF of the SIP UDP socket, bytes
 *
 * Output (stdout, one JSON object per line): event, leg, group, t (unix
 * µs), dir, outbound, code, method, phrase, start, call_id, from, to, ruri,
 * headers [[n,v]],
 * sdp {codec,pt,addr,port}, reason {protocol,cause,text}, end, local, err,
 * se, refresher_local; ended: media {relayed, latched, peer, local_port,
 * rx_rtp_pkts, rx_rtp_bytes, rx_rtcp_pkts, rx_rtcp_bytes, tx_rtp_pkts,
 * tx_rtp_bytes, tx_rtcp_pkts, tx_rtcp_bytes, dropped} and bridged;
 * bridged: bridged, err; adopted: err, se, refresher_local, bridged, media
 * {relayed, local_port}; raw (the header block as it crossed the wire)
 * and body, when the event has them (bytes: one over 0x7e as \\u00XX, so
 * that encoding the string as latin-1 gives them back). Diagnostics go to
 * standard error.
 * Exit status: 0,
 * 1 when an expect timed out, 2 on bad usage or start-up failure.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dial/dial.h"

enum { MAX_WORDS = 64, MAX_TIMERS = 64 };

struct timer {
	char id[DIAL_ID_MAX];
	uint64_t at_ms;
	bool refresh;	/* else hang up */
	bool used;
};

static struct dial *dial;
static char last_in[DIAL_ID_MAX];
static bool auto_refresh;
static struct timer timers[MAX_TIMERS];

/* every event seen, so that "expect" also matches one printed earlier */
struct seen {
	char type[16];
	char id[DIAL_ID_MAX];
	bool used;
};
static struct seen *seen;
static size_t nseen, seen_cap;

static void seen_add(const struct dial_event *ev)
{
	if (nseen == seen_cap) {
		size_t cap = seen_cap ? 2 * seen_cap : 256;
		struct seen *n = realloc(seen, cap * sizeof(*n));

		if (!n)
			return;
		seen = n;
		seen_cap = cap;
	}
	snprintf(seen[nseen].type, sizeof(seen[nseen].type), "%s",
		 dial_ev_name(ev->type));
	snprintf(seen[nseen].id, sizeof(seen[nseen].id), "%s", ev->leg_id);
	seen[nseen].used = false;
	nseen++;
}

/* consumes the oldest unconsumed event of that type (and leg) */
static bool seen_take(const char *type, const char *id)
{
	for (size_t i = 0; i < nseen; i++) {
		if (seen[i].used || strcmp(seen[i].type, type))
			continue;
		if (id && strcmp(id, seen[i].id) &&
		    !(!strcmp(id, "@in") && !strcmp(seen[i].id, last_in)))
			continue;
		seen[i].used = true;
		return true;
	}
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void jstrn(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void jstr(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_media(FILE *f, const struct dial_media_stats *m)
{
	fprintf(f, ",\"media\":{\"relayed\":%s,\"latched\":%s,\"peer\":",
		m->relayed ? "true" : "false", m->latched ? "true" : "false");
	jstr(f, m->peer);
	fprintf(f, ",\"local_port\":%u,\"rx_rtp_pkts\":%llu,"
		"\"rx_rtp_bytes\":%llu,\"rx_rtcp_pkts\":%llu,"
		"\"rx_rtcp_bytes\":%llu,\"tx_rtp_pkts\":%llu,"
		"\"tx_rtp_bytes\":%llu,\"tx_rtcp_pkts\":%llu,"
		"\"tx_rtcp_bytes\":%llu,\"dropped\":%llu}", m->local_port,
		(unsigned long long)m->rx_rtp_pkts,
		(unsigned long long)m->rx_rtp_bytes,
		(unsigned long long)m->rx_rtcp_pkts,
		(unsigned long long)m->rx_rtcp_bytes,
		(unsigned long long)m->tx_rtp_pkts,
		(unsigned long long)m->tx_rtp_bytes,
		(unsigned long long)m->tx_rtcp_pkts,
		(unsigned long long)m->tx_rtcp_bytes,
		(unsigned long long)m->dropped);
}

static void print_event(const struct dial_event *ev)
{
	FILE *f = stdout;

	fputs("{\"event\":", f);
	jstr(f, dial_ev_name(ev->type));
	fputs(",\"leg\":", f);
	jstr(f, ev->leg_id);
	fputs(",\"group\":", f);
	jstr(f, ev->group);
	fprintf(f, ",\"t\":%llu,\"dir\":\"%s\",\"outbound\":%s,\"code\":%u",
		(unsigned long long)ev->time_us,
		ev->dir == DIAL_DIR_TX ? "tx" : "rx",
		ev->outbound ? "true" : "false", ev->code);
	fputs(",\"method\":", f);
	jstr(f, ev->method);
	fputs(",\"phrase\":", f);
	jstr(f, ev->phrase);
	fputs(",\"start\":", f);
	jstr(f, ev->start_line);
	fputs(",\"call_id\":", f);
	jstr(f, ev->call_id);
	fputs(",\"from\":", f);
	jstr(f, ev->from);
	fputs(",\"to\":", f);
	jstr(f, ev->to);
	fputs(",\"ruri\":", f);
	jstr(f, ev->ruri);
	fputs(",\"headers\":[", f);
	for (size_t i = 0; i < ev->hdrc; i++) {
		fputs(i ? ",[" : "[", f);
		jstr(f, ev->hdrv[i].name);
		fputc(',', f);
		jstr(f, ev->hdrv[i].value);
		fputc(']', f);
	}
	fputc(']', f);
	if (ev->sdp.present) {
		fputs(",\"sdp\":{\"codec\":", f);
		jstr(f, ev->sdp.codec);
		fprintf(f, ",\"pt\":%d,\"addr\":", ev->sdp.pt);
		jstr(f, ev->sdp.addr);
		fprintf(f, ",\"port\":%u}", ev->sdp.port);
	}
	if (ev->reason.present) {
		fputs(",\"reason\":{\"protocol\":", f);
		jstr(f, ev->reason.protocol);
		fprintf(f, ",\"cause\":%d,\"text\":", ev->reason.cause);
		jstr(f, ev->reason.text);
		fputc('}', f);
	}
	if (ev->type == DIAL_EV_ENDED) {
		fputs(",\"end\":", f);
		jstr(f, dial_end_name(ev->end));
		fprintf(f, ",\"local\":%s,\"err\":%d", ev->local ? "true" :
			"false", ev->err);
		print_media(f, &ev->media);
		fputs(",\"bridged\":", f);
		jstr(f, ev->bridged);
	}
	if (ev->type == DIAL_EV_BRIDGED) {
		fputs(",\"bridged\":", f);
		jstr(f, ev->bridged);
		fprintf(f, ",\"err\":%d", ev->err);
	}
	if (ev->type == DIAL_EV_ADOPTED) {
		fprintf(f, ",\"err\":%d,\"se\":%u,\"refresher_local\":%s",
			ev->err, ev->session_expires,
			ev->refresher_local ? "true" : "false");
		fputs(",\"bridged\":", f);
		jstr(f, ev->bridged);
		fprintf(f, ",\"media\":{\"relayed\":%s,\"local_port\":%u}",
			ev->media.relayed ? "true" : "false",
			ev->media.local_port);
	}
	if (ev->raw) {
		fputs(",\"raw\":", f);
		jstrn(f, (const char *)ev->raw, ev->raw_len);
	}
	if (ev->body) {
		fputs(",\"body\":", f);
		jstrn(f, (const char *)ev->body, ev->body_len);
	}
	if (ev->type == DIAL_EV_ANSWERED || ev->type == DIAL_EV_REFRESHED ||
	    ev->type == DIAL_EV_INBOUND)
		fprintf(f, ",\"se\":%u,\"refresher_local\":%s",
			ev->session_expires,
			ev->refresher_local ? "true" : "false");
	fputs("}\n", f);
	fflush(f);
}

static void timer_set(const char *id, uint64_t at, bool refresh)
{
	struct timer *free_t = NULL;

	for (int i = 0; i < MAX_TIMERS; i++) {
		if (timers[i].used && !strcmp(timers[i].id, id)) {
			free_t = &timers[i];
			break;
		}
		if (!timers[i].used && !free_t)
			free_t = &timers[i];
	}
	if (!free_t)
		return;
	snprintf(free_t->id, sizeof(free_t->id), "%s", id);
	free_t->at_ms = at;
	free_t->refresh = refresh;
	free_t->used = true;
}

static void timer_clear(const char *id)
{
	for (int i = 0; i < MAX_TIMERS; i++)
		if (timers[i].used && !strcmp(timers[i].id, id))
			timers[i].used = false;
}

/* RFC 4028 §10: the refresher refreshes at half the interval; the other
 * side sends BYE when the interval passes (less min(32 s, interval/3)) */
static void session_timer(const struct dial_event *ev)
{
	unsigned se = ev->session_expires;

	if (!auto_refresh)
		return;
	if (ev->type == DIAL_EV_ENDED) {
		timer_clear(ev->leg_id);
		return;
	}
	if ((ev->type != DIAL_EV_ANSWERED && ev->type != DIAL_EV_REFRESHED) ||
	    !se)
		return;
	if (ev->refresher_local)
		timer_set(ev->leg_id, now_ms() + se * 500u, true);
	else
		timer_set(ev->leg_id, now_ms() + se * 1000u -
			  (se / 3 < 32 ? se / 3 : 32) * 1000u, false);
}

static void timers_run(void)
{
	uint64_t now = now_ms();

	for (int i = 0; i < MAX_TIMERS; i++) {
		if (!timers[i].used || timers[i].at_ms > now)
			continue;
		timers[i].used = false;
		if (timers[i].refresh)
			(void)dial_leg_refresh(dial, timers[i].id);
		else
			(void)dial_leg_hangup(dial, timers[i].id, NULL);
	}
}

static uint64_t timers_next(void)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < MAX_TIMERS; i++)
		if (timers[i].used && timers[i].at_ms < next)
			next = timers[i].at_ms;
	return next;
}

/* Prints events until deadline, or until one matches type/id (when type
 * is not NULL). Returns true when matched. */
static bool pump(uint64_t deadline, const char *type, const char *id)
{
	for (;;) {
		struct dial_event *ev;
		struct pollfd p;
		uint64_t now, until;

		while ((ev = dial_event_next(dial))) {
			print_event(ev);
			if (ev->type == DIAL_EV_INBOUND)
				snprintf(last_in, sizeof(last_in), "%s",
					 ev->leg_id);
			session_timer(ev);
			seen_add(ev);
			dial_event_free(ev);
		}
		if (type && seen_take(type, id))
			return true;
		timers_run();
		now = now_ms();
		if (now >= deadline)
			return false;
		until = deadline;
		if (timers_next() < until)
			until = timers_next();
		p.fd = dial_event_fd(dial);
		p.events = POLLIN;
		(void)poll(&p, 1, until > now ? (int)(until - now) : 0);
	}
}

static void pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			char hex[3] = {s[1], s[2], 0};

			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		}
		else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

struct args {
	char *w[MAX_WORDS];
	int n;
};

static const char *arg(const struct args *a, const char *key)
{
	size_t k = strlen(key);

	for (int i = 1; i < a->n; i++)
		if (!strncmp(a->w[i], key, k) && a->w[i][k] == '=')
			return a->w[i] + k + 1;
	return NULL;
}

static const char *leg_id_of(const struct args *a, const char *key)
{
	const char *id = arg(a, key);

	if (id && !strcmp(id, "@in"))
		return last_in;
	return id;
}

static const char *leg_id(const struct args *a)
{
	const char *id = arg(a, "id");

	if (id && !strcmp(id, "@in"))
		return last_in;
	return id;
}

static int parse_codecs(const char *s, enum dial_codec *v, size_t *n)
{
	char buf[128], *save = NULL, *t;

	*n = 0;
	if (!s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == DIAL_MAX_CODECS || dial_codec_parse(t, &v[*n]))
			return EINVAL;
		(*n)++;
	}
	return 0;
}

static size_t parse_hdrs(const struct args *a, struct dial_hdr *hv,
			 size_t max)
{
	size_t n = 0;

	for (int i = 1; i < a->n && n < max; i++) {
		char *c;

		if (strncmp(a->w[i], "hdr=", 4))
			continue;
		c = strchr(a->w[i] + 4, ':');
		if (!c)
			continue;
		*c = '\0';
		hv[n].name = a->w[i] + 4;
		hv[n].value = c + 1;
		while (*hv[n].value == ' ')
			hv[n].value++;
		n++;
	}
	return n;
}

static void parse_reason(struct dial_reason *r, const char *s)
{
	memset(r, 0, sizeof(*r));
	if (!s)
		return;
	(void)snprintf(r->protocol, sizeof(r->protocol), "%.*s",
		       (int)strcspn(s, ";"), s);
	r->present = true;
	if (strstr(s, "cause="))
		r->cause = atoi(strstr(s, "cause=") + 6);
	if (strstr(s, "text="))
		snprintf(r->text, sizeof(r->text), "%s", strstr(s, "text=") + 5);
}

/* A whole file as a string (NULL: no name given, or unreadable). */
static char *slurp(const char *path, int *err)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0, cap = 0, k;

	if (!path)
		return NULL;
	f = fopen(path, "rb");
	if (!f) {
		*err = errno;
		return NULL;
	}
	do {
		if (cap - n < 4096) {
			char *b = realloc(buf, cap + 8192);

			if (!b) {
				*err = ENOMEM;
				break;
			}
			buf = b;
			cap += 8192;
		}
		k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
	} while (k);
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* the fields of one leg of "adopt", their names ending in sfx */
static void adopt_leg(const struct args *a, const char *sfx,
		      struct dial_adopt *d, char **files, int *err)
{
	char k[16];

	snprintf(k, sizeof(k), "id%s", sfx);
	d->id = arg(a, k);
	snprintf(k, sizeof(k), "inv%s", sfx);
	d->invite = files[0] = slurp(arg(a, k), err);
	snprintf(k, sizeof(k), "ok%s", sfx);
	d->ok = files[1] = slurp(arg(a, k), err);
	snprintf(k, sizeof(k), "lsdp%s", sfx);
	d->local_sdp = files[2] = slurp(arg(a, k), err);
	snprintf(k, sizeof(k), "psdp%s", sfx);
	d->peer_sdp = files[3] = slurp(arg(a, k), err);
	snprintf(k, sizeof(k), "uac%s", sfx);
	d->uac = arg(a, k) && atoi(arg(a, k));
	snprintf(k, sizeof(k), "cseq%s", sfx);
	d->cseq = arg(a, k) ? (uint32_t)strtoul(arg(a, k), NULL, 10) : 1;
}

static int adopt(const struct args *a)
{
	struct dial_adopt l[2];
	char *files[8] = {0};
	int err = 0;

	memset(l, 0, sizeof(l));
	adopt_leg(a, "", &l[0], files, &err);
	if (arg(a, "id2"))
		adopt_leg(a, "2", &l[1], files + 4, &err);
	if (!err)
		err = dial_adopt(dial, &l[0], arg(a, "id2") ? &l[1] : NULL);
	for (int i = 0; i < 8; i++)
		free(files[i]);
	return err;
}

/* Returns 0, 1 (expect timed out), 2 (bad action), 3 (quit). */
static int run_action(char *line)
{
	struct args a = {{0}, 0};
	char *save = NULL, *t;
	int err = 0;

	for (t = strtok_r(line, " \t\r\n", &save); t && a.n < MAX_WORDS;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		pct_decode(t);
		a.w[a.n++] = t;
	}
	if (!a.n || a.w[0][0] == '#')
		return 0;
	if (!strcmp(a.w[0], "start")) {
		struct dial_leg_params p;
		struct dial_hdr hv[32];
		enum dial_codec cv[DIAL_MAX_CODECS];

		memset(&p, 0, sizeof(p));
		p.id = arg(&a, "id");
		p.uri = arg(&a, "uri");
		p.from_user = arg(&a, "from");
		p.from_name = arg(&a, "name");
		p.from_host = arg(&a, "host");
		p.group = arg(&a, "group");
		p.username = arg(&a, "user");
		p.password = arg(&a, "pass");
		p.call_sid = arg(&a, "callsid");
		p.account_sid = arg(&a, "account");
		p.media_addr = arg(&a, "addr");
		p.media_port = arg(&a, "port") ?
			(uint16_t)atoi(arg(&a, "port")) : 0;
		p.session_expires = arg(&a, "se") ?
			(unsigned)atoi(arg(&a, "se")) : 0;
		p.min_se = arg(&a, "minse") ? (unsigned)atoi(arg(&a, "minse")) :
			0;
		p.insecure = arg(&a, "insecure") != NULL;
		p.relay = arg(&a, "relay") && atoi(arg(&a, "relay"));
		err = parse_codecs(arg(&a, "codecs"), cv, &p.codecc);
		p.codecv = cv;
		p.hdrc = parse_hdrs(&a, hv, 32);
		p.hdrv = hv;
		if (!err)
			err = dial_leg_start(dial, &p);
	}
	else if (!strcmp(a.w[0], "hangup")) {
		struct dial_reason r;

		parse_reason(&r, arg(&a, "reason"));
		err = dial_leg_hangup(dial, leg_id(&a), r.present ? &r : NULL);
	}
	else if (!strcmp(a.w[0], "refresh")) {
		err = dial_leg_refresh(dial, leg_id(&a));
	}
	else if (!strcmp(a.w[0], "ring")) {
		err = dial_inbound_ring(dial, leg_id(&a), arg(&a, "code") ?
					(uint16_t)atoi(arg(&a, "code")) : 180);
	}
	else if (!strcmp(a.w[0], "answer")) {
		struct dial_answer_params p;
		struct dial_hdr hv[32];
		enum dial_codec cv[DIAL_MAX_CODECS];

		memset(&p, 0, sizeof(p));
		err = parse_codecs(arg(&a, "codecs"), cv, &p.codecc);
		p.codecv = cv;
		p.hdrc = parse_hdrs(&a, hv, 32);
		p.hdrv = hv;
		p.media_addr = arg(&a, "addr");
		p.media_port = arg(&a, "port") ?
			(uint16_t)atoi(arg(&a, "port")) : 0;
		p.relay = arg(&a, "relay") && atoi(arg(&a, "relay"));
		if (!err)
			err = dial_inbound_answer(dial, leg_id(&a), &p);
	}
	else if (!strcmp(a.w[0], "adopt")) {
		err = adopt(&a);
	}
	else if (!strcmp(a.w[0], "bridge")) {
		err = dial_bridge(dial, leg_id_of(&a, "a"), leg_id_of(&a, "b"));
	}
	else if (!strcmp(a.w[0], "unbridge")) {
		err = dial_unbridge(dial, leg_id(&a));
	}
	else if (!strcmp(a.w[0], "reject")) {
		struct dial_reason r;

		parse_reason(&r, arg(&a, "reason"));
		err = dial_inbound_reject(dial, leg_id(&a), arg(&a, "code") ?
					  (uint16_t)atoi(arg(&a, "code")) : 486,
					  r.present ? &r : NULL);
	}
	else if (!strcmp(a.w[0], "wait")) {
		pump(now_ms() + (a.n > 1 ? (uint64_t)atoll(a.w[1]) : 1000),
		     NULL, NULL);
	}
	else if (!strcmp(a.w[0], "expect")) {
		char type[32];
		const char *id = NULL;
		uint64_t ms = a.n > 2 ? (uint64_t)atoll(a.w[2]) : 10000;

		if (a.n < 2)
			return 2;
		snprintf(type, sizeof(type), "%s", a.w[1]);
		if (strchr(type, ':')) {
			id = strchr(a.w[1], ':') + 1;
			*strchr(type, ':') = '\0';
		}
		if (!pump(now_ms() + ms, type, id)) {
			fprintf(stderr, "dialtool: no %s event%s%s within "
				"%llu ms\n", type, id ? " for " : "",
				id ? id : "", (unsigned long long)ms);
			return 1;
		}
	}
	else if (!strcmp(a.w[0], "quit")) {
		return 3;
	}
	else {
		fprintf(stderr, "dialtool: unknown action %s\n", a.w[0]);
		return 2;
	}
	if (err) {
		fprintf(stderr, "dialtool: %s: %s\n", a.w[0], strerror(err));
		return 2;
	}
	pump(now_ms(), NULL, NULL);
	return 0;
}

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "dial[%d]: %s\n", level, msg);
}

int main(int argc, char **argv)
{
	struct dial_conf conf;
	const char **actions;
	int nact = 0, opt, rc = 0;

	memset(&conf, 0, sizeof(conf));
	conf.listen = "127.0.0.1:5080";
	conf.quit_wait_ms = 1000;
	actions = calloc((size_t)argc + 1, sizeof(*actions));
	if (!actions)
		return 2;
	while ((opt = getopt(argc, argv, "l:u:m:M:q:b:ra:T:P:C:IR:o:")) != -1) {
		switch (opt) {
		case 'l': conf.listen = optarg; break;
		case 'u': conf.user_agent = optarg; break;
		case 'm': conf.max_inbound = (unsigned)atoi(optarg); break;
		case 'M': conf.max_legs = (unsigned)atoi(optarg); break;
		case 'q': conf.max_queue_delay_ms = (unsigned)atoi(optarg);
			break;
		case 'b': conf.udp_rcvbuf = (unsigned)atoi(optarg); break;
		case 'o': conf.adopt_probe_ms = (unsigned)atoi(optarg); break;
		case 'r': auto_refresh = true; break;
		case 'T': conf.tls_cert = optarg; break;
		case 'P': conf.tls_port = (uint16_t)atoi(optarg); break;
		case 'C': conf.tls_ca_file = optarg; break;
		case 'I': conf.tls_insecure = true; break;
		case 'R': {
			unsigned lo, hi;

			if (sscanf(optarg, "%u-%u", &lo, &hi) != 2 || !lo ||
			    lo >= hi || hi > 65535) {
				fprintf(stderr, "dialtool: -R LO-HI\n");
				free(actions);
				return 2;
			}
			conf.rtp_port_min = (uint16_t)lo;
			conf.rtp_port_max = (uint16_t)hi;
			break;
		}
		case 'a': actions[nact++] = optarg; break;
		default:
			fprintf(stderr, "usage: dialtool [-l LISTEN] [-r] "
				"[ACTION ...] (see the top of dialtool.c)\n");
			free(actions);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		actions[nact++] = argv[i];
	dial_log_handler_set(log_h, NULL);
	if (dial_alloc(&dial, &conf)) {
		fprintf(stderr, "dialtool: cannot start on %s\n", conf.listen);
		free(actions);
		return 2;
	}
	printf("{\"event\":\"listening\",\"port\":%u}\n",
	       dial_listen_port(dial));
	fflush(stdout);
	if (nact) {
		for (int i = 0; i < nact && !rc; i++) {
			char *line = strdup(actions[i]);

			rc = line ? run_action(line) : 2;
			free(line);
		}
	}
	else {
		char buf[4096];

		while (!rc && fgets(buf, sizeof(buf), stdin))
			rc = run_action(buf);
	}
	if (rc == 3)
		rc = 0;
	pump(now_ms() + 50, NULL, NULL);
	{
		struct dial_stats st;

		dial_stats_get(dial, &st);
		printf("{\"event\":\"stats\",\"inbound\":%llu,"
		       "\"inbound_busy\":%llu,\"inbound_shed\":%llu,"
		       "\"legs_shed\":%llu,\"overloads\":%llu,"
		       "\"filters\":%llu,\"udp_drops\":%llu}\n",
		       (unsigned long long)st.inbound,
		       (unsigned long long)st.inbound_rejected_busy,
		       (unsigned long long)st.inbound_shed,
		       (unsigned long long)st.legs_shed,
		       (unsigned long long)st.overloads,
		       (unsigned long long)st.overload_filters,
		       (unsigned long long)st.udp_drops);
		fflush(stdout);
	}
	dial = dial_free(dial);
	free(actions);
	free(seen);
	return rc;
}
