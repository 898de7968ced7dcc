/* sdp.c: SDP offers from a codec list, answers that match an offer, the summary of a received SDP; header encoding */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dial/internal.h"
#include "util/memdupz.h"

enum { PT_TEL_EVENT = 101 };

static const struct codec {
	const char *name;	/* dial_codec_parse name */
	const char *enc;	/* rtpmap encoding name */
	int pt;			/* static or our dynamic payload type */
	unsigned rate;
	unsigned ch;
	const char *fmtp;
} codecs[DIAL_CODEC_COUNT] = {
	[DIAL_CODEC_PCMU] = {"PCMU", "PCMU", 0, 8000, 1, NULL},
	[DIAL_CODEC_PCMA] = {"PCMA", "PCMA", 8, 8000, 1, NULL},
	/* G.722's RTP clock is 8000 by RFC 3551's historical error */
	[DIAL_CODEC_G722] = {"G722", "G722", 9, 8000, 1, NULL},
	[DIAL_CODEC_G729] = {"G729", "G729", 18, 8000, 1, "annexb=no"},
	[DIAL_CODEC_OPUS] = {"OPUS", "opus", 111, 48000, 2,
			     "minptime=10;useinbandfec=1"},
};

int dial_codec_parse(const char *name, enum dial_codec *c)
{
	if (!name || !c)
		return EINVAL;
	for (int i = 0; i < DIAL_CODEC_COUNT; i++) {
		if (!strcasecmp(name, codecs[i].name)) {
			*c = (enum dial_codec)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *dial_codec_name(enum dial_codec c)
{
	return (unsigned)c < DIAL_CODEC_COUNT ? codecs[c].name : "?";
}

struct out {
	char *buf;
	size_t size, len;
	int err;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->err = ENOSPC;
		return;
	}
	o->len += (size_t)n;
}

static void put_head(struct out *o, const char *addr, uint16_t port,
		     uint64_t sess_id)
{
	const char *ipv = strchr(addr, ':') ? "IP6" : "IP4";

	put(o, "v=0\r\n"
	       "o=dialerd %llu %llu IN %s %s\r\n"
	       "s=dialerd\r\n"
	       "c=IN %s %s\r\n"
	       "t=0 0\r\n"
	       "m=audio %u RTP/AVP",
	    (unsigned long long)sess_id, (unsigned long long)sess_id, ipv,
	    addr, ipv, addr, port);
}

static void put_map(struct out *o, const struct codec *c, int pt)
{
	if (c->ch > 1)
		put(o, "a=rtpmap:%d %s/%u/%u\r\n", pt, c->enc, c->rate, c->ch);
	else
		put(o, "a=rtpmap:%d %s/%u\r\n", pt, c->enc, c->rate);
	if (c->fmtp)
		put(o, "a=fmtp:%d %s\r\n", pt, c->fmtp);
}

int dial_sdp_offer(char *buf, size_t size, const char *addr, uint16_t port,
		   const enum dial_codec *codecv, size_t codecc,
		   uint64_t sess_id)
{
	static const enum dial_codec dflt[] = {DIAL_CODEC_PCMU,
					       DIAL_CODEC_PCMA};
	struct out o = {buf, size, 0, 0};

	if (!buf || !size || !addr)
		return EINVAL;
	if (!codecc) {
		codecv = dflt;
		codecc = 2;
	}
	for (size_t i = 0; i < codecc; i++)
		if ((unsigned)codecv[i] >= DIAL_CODEC_COUNT)
			return EINVAL;
	put_head(&o, addr, port, sess_id);
	for (size_t i = 0; i < codecc; i++)
		put(&o, " %d", codecs[codecv[i]].pt);
	put(&o, " %d\r\n", PT_TEL_EVENT);
	for (size_t i = 0; i < codecc; i++)
		put_map(&o, &codecs[codecv[i]], codecs[codecv[i]].pt);
	put(&o, "a=rtpmap:%d telephone-event/8000\r\n"
		"a=fmtp:%d 0-16\r\n"
		"a=ptime:20\r\n"
		"a=sendrecv\r\n", PT_TEL_EVENT, PT_TEL_EVENT);
	return o.err;
}

/* The encoding of payload type pt in the offer's audio section. */
static bool rtpmap_of(const char *sec, size_t len, int pt, char *enc,
		      size_t esz, unsigned *rate)
{
	char key[24];
	int kn = snprintf(key, sizeof(key), "a=rtpmap:%d ", pt);
	const char *p = sec, *end = sec + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > (size_t)kn && !strncmp(p, key, (size_t)kn)) {
			const char *e = p + kn;
			size_t k = 0;

			while (k + 1 < esz && e + k < p + n && e[k] != '/')
				k++;
			memcpy(enc, e, k);
			enc[k] = '\0';
			*rate = e[k] == '/' ? (unsigned)atoi(e + k + 1) : 0;
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

static int codec_of(const char *sec, size_t len, int pt)
{
	char enc[32];
	unsigned rate = 0;

	if (rtpmap_of(sec, len, pt, enc, sizeof(enc), &rate)) {
		for (int i = 0; i < DIAL_CODEC_COUNT; i++)
			if (!strcasecmp(enc, codecs[i].enc) &&
			    (!rate || rate == codecs[i].rate))
				return i;
		if (!strcasecmp(enc, "telephone-event") && rate == 8000)
			return DIAL_CODEC_COUNT;	/* marker */
		return -1;
	}
	switch (pt) {
	case 0: return DIAL_CODEC_PCMU;
	case 8: return DIAL_CODEC_PCMA;
	case 9: return DIAL_CODEC_G722;
	case 18: return DIAL_CODEC_G729;
	default: return -1;
	}
}

/* The offer's first m=audio line and the end of its section (the next
 * m= line); EBADMSG without one. */
static int audio_section(const char *offer, const char *end,
			 const char **mp, const char **sec_endp)
{
	const char *m = NULL, *p, *nl = NULL;

	for (p = offer; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) > 8 && !strncmp(p, "m=audio ", 8)) {
			m = p;
			break;
		}
	}
	if (!m)
		return EBADMSG;
	*mp = m;
	*sec_endp = end;
	for (p = nl ? nl + 1 : end; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) > 2 && !strncmp(p, "m=", 2)) {
			*sec_endp = p;
			break;
		}
	}
	return 0;
}

/* "m=audio PORT PROTO pt pt pt": the payload types, at most ptc. */
static int payload_types(const char *m, const char *end, int *pts, int ptc)
{
	const char *q = m + 8, *le = memchr(m, '\n', (size_t)(end - m));
	int field = 0, npts = 0;

	if (!le)
		le = end;
	while (q < le && npts < ptc) {
		char *e;
		long v;

		while (q < le && *q == ' ')
			q++;
		if (q >= le || *q == '\r')
			break;
		if (field < 2) {
			q += strcspn(q, " \r\n");
			field++;
			continue;
		}
		v = strtol(q, &e, 10);
		if (e == q)
			break;
		if (v >= 0 && v <= 127)
			pts[npts++] = (int)v;
		q = e;
	}
	return npts;
}

/* The first offered codec that codecv allows (any when codecc is 0), its
 * payload type in *ptp, and telephone-event's in *tevp (-1: none); -1
 * when none matches. */
static int codec_pick(const char *m, const char *sec_end, const int *pts,
		      int npts, const enum dial_codec *codecv, size_t codecc,
		      int *ptp, int *tevp)
{
	int pick = -1;

	*tevp = -1;
	for (int i = 0; i < npts; i++) {
		int c = codec_of(m, (size_t)(sec_end - m), pts[i]);

		if (c == DIAL_CODEC_COUNT) {
			if (*tevp < 0)
				*tevp = pts[i];
			continue;
		}
		if (c < 0 || pick >= 0)
			continue;
		if (codecc) {
			bool allowed = false;

			for (size_t k = 0; k < codecc; k++)
				allowed = allowed || (int)codecv[k] == c;
			if (!allowed)
				continue;
		}
		pick = c;
		*ptp = pts[i];
	}
	return pick;
}

/* The offer must be NUL-terminated at offer[olen]: the line scanners below
 * (strcspn, strtol, atoi) stop at that NUL. */
static int sdp_answer(char *buf, size_t size, const char *offer, size_t olen,
		      const char *addr, uint16_t port,
		      const enum dial_codec *codecv, size_t codecc,
		      uint64_t sess_id, struct dial_sdp *chosen)
{
	const char *m, *sec_end;
	int pts[32], npts, pick, pick_pt = -1, tev;
	struct out o = {buf, size, 0, 0};
	int err;

	if (!buf || !size || !offer || !addr)
		return EINVAL;
	err = audio_section(offer, offer + olen, &m, &sec_end);
	if (err)
		return err;
	npts = payload_types(m, offer + olen, pts, 32);
	pick = codec_pick(m, sec_end, pts, npts, codecv, codecc, &pick_pt,
			  &tev);
	if (pick < 0)
		return ENOTSUP;

	put_head(&o, addr, port, sess_id);
	put(&o, " %d", pick_pt);
	if (tev >= 0)
		put(&o, " %d", tev);
	put(&o, "\r\n");
	put_map(&o, &codecs[pick], pick_pt);
	if (tev >= 0)
		put(&o, "a=rtpmap:%d telephone-event/8000\r\n"
			"a=fmtp:%d 0-16\r\n", tev, tev);
	put(&o, "a=ptime:20\r\na=sendrecv\r\n");
	if (!o.err && chosen) {
		memset(chosen, 0, sizeof(*chosen));
		chosen->present = true;
		snprintf(chosen->codec, sizeof(chosen->codec), "%s",
			 codecs[pick].name);
		chosen->pt = pick_pt;
		snprintf(chosen->addr, sizeof(chosen->addr), "%s", addr);
		chosen->port = port;
	}
	return o.err;
}

int dial_sdp_answer(char *buf, size_t size, const char *offer, size_t olen,
		    const char *addr, uint16_t port,
		    const enum dial_codec *codecv, size_t codecc,
		    uint64_t sess_id, struct dial_sdp *chosen)
{
	char *copy;
	int err;

	if (!buf || !size || !offer || !addr)
		return EINVAL;
	/* a received body is not NUL-terminated: parse a terminated copy */
	copy = util_memdupz(offer, olen);
	if (!copy)
		return ENOMEM;
	err = sdp_answer(buf, size, copy, olen, addr, port, codecv, codecc,
			 sess_id, chosen);
	free(copy);
	return err;
}

/* RFC 3261 token characters */
static bool is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!isalnum(ch) && !strchr("-.!%*_+`'~", ch))
			return false;
	}
	return true;
}

int dial_hdr_check(const char *name, const char *value)
{
	if (!is_token(name) || strlen(name) > 128)
		return EINVAL;
	if (!value || strpbrk(value, "\r\n") || strlen(value) > 4096)
		return EINVAL;
	return 0;
}

/* Headers the stack writes itself: a second copy would corrupt the
 * message (framing, dialog identity). cxml's policy refuses them first;
 * this is the defence in depth. */
static bool structural(const char *name)
{
	static const char *const names[] = {
		"Via", "From", "To", "Call-ID", "CSeq", "Contact",
		"Max-Forwards", "Content-Length", "Content-Type", "Route",
		"Record-Route", "v", "f", "t", "i", "m", "l", "c",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

int dial_hdrs_encode(char **out, const struct dial_hdr *hdrv, size_t hdrc)
{
	size_t len = 0, have;
	char *s, *n;

	if (!out)
		return EINVAL;
	have = *out ? strlen(*out) : 0;
	for (size_t i = 0; i < hdrc; i++) {
		if (dial_hdr_check(hdrv[i].name, hdrv[i].value) ||
		    structural(hdrv[i].name))
			return EINVAL;
		len += strlen(hdrv[i].name) + strlen(hdrv[i].value) + 4;
	}
	n = realloc(*out, have + len + 1);
	if (!n)
		return ENOMEM;
	s = n + have;
	for (size_t i = 0; i < hdrc; i++)
		s += sprintf(s, "%s: %s\r\n", hdrv[i].name, hdrv[i].value);
	*s = '\0';
	*out = n;
	return 0;
}

static void scopy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Reads the first audio m= line, its connection address and the rtpmap
 * of its first payload type. */
void dial_sdp_summary(struct dial_sdp *s, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	bool in_audio = false, seen_audio = false;
	char sess_addr[64] = "";

	memset(s, 0, sizeof(*s));
	s->pt = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256];

		if (n && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;

		if (!strncmp(line, "m=", 2)) {
			if (seen_audio)
				break;
			in_audio = !strncmp(line, "m=audio ", 8);
			if (in_audio) {
				unsigned port = 0;
				int pt = -1;
				char proto[32];

				seen_audio = true;
				s->present = true;
				if (sscanf(line + 8, "%u %31s %d", &port, proto,
					   &pt) >= 2) {
					s->port = (uint16_t)port;
					s->pt = pt;
				}
				/* static payload types need no rtpmap */
				if (pt == 0)
					strcpy(s->codec, "PCMU");
				else if (pt == 8)
					strcpy(s->codec, "PCMA");
				else if (pt == 9)
					strcpy(s->codec, "G722");
				else if (pt == 18)
					strcpy(s->codec, "G729");
				else if (pt == 3)
					strcpy(s->codec, "GSM");
			}
		}
		else if (!strncmp(line, "c=IN IP", 7) && strlen(line) > 9) {
			char *a = line + 9;

			a[strcspn(a, "/ ")] = '\0';
			if (seen_audio && in_audio)
				scopy(s->addr, sizeof(s->addr), a);
			else if (!seen_audio)
				scopy(sess_addr, sizeof(sess_addr), a);
		}
		else if (in_audio && !strncmp(line, "a=rtpmap:", 9)) {
			char *e;
			long pt = strtol(line + 9, &e, 10);

			if (pt == s->pt && *e == ' ') {
				e++;
				e[strcspn(e, "/")] = '\0';
				scopy(s->codec, sizeof(s->codec), e);
			}
		}
	}
	if (s->present && !s->addr[0])
		scopy(s->addr, sizeof(s->addr), sess_addr);
}
