/* record.c: the store's row records: binary frames, decoding, COPY text lines */
/*
 * Why it is built this way: a row is serialised once, when the caller
 * reports it, into a frame that is the same in the memory queue and in
 * the journal, so spilling the queue to disk is one write of bytes
 * already built and replaying is reading them back. Each frame has its
 * length and a CRC32, so a crash that cut the last write is found and cut
 * at start-up (journal.c) instead of replaying garbage. Columns are typed,
 * so the writer builds PostgreSQL's binary COPY from them without parsing
 * text again. Text that is not valid UTF-8 (a SIP header may hold any
 * byte) is escaped rather than dropped, because PostgreSQL refuses it in a
 * text column and one such row would otherwise fail a whole batch.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_i64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(u >> (8 * i));
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u |= (uint64_t)p[i] << (8 * i);
	return (int64_t)u;
}

void store_rec_begin(struct rec_builder *rb, struct sbuf *b, enum rec_table t)
{
	unsigned char hdr[REC_HDR + 3] = {0};

	rb->b = b;
	rb->start = b->len;
	rb->ncols = 0;
	hdr[REC_HDR] = (unsigned char)t;
	rb->err = sbuf_put(b, hdr, sizeof(hdr));
}

static void col_head(struct rec_builder *rb, enum rec_kind k)
{
	if (rb->err)
		return;
	if (rb->ncols == REC_MAX_COLS) {
		rb->err = EINVAL;
		return;
	}
	rb->ncols++;
	rb->err = sbuf_putc(rb->b, (unsigned char)k);
}

void store_rec_null(struct rec_builder *rb)
{
	col_head(rb, K_NULL);
}

static void col_bytes(struct rec_builder *rb, enum rec_kind k, const void *p,
		      size_t n)
{
	unsigned char len[4];

	if (n > REC_MAX_PAYLOAD) {
		rb->err = rb->err ? rb->err : EINVAL;
		return;
	}
	col_head(rb, k);
	if (rb->err)
		return;
	put_u32(len, (uint32_t)n);
	rb->err = sbuf_put(rb->b, len, 4);
	if (!rb->err)
		rb->err = sbuf_put(rb->b, p, n);
}

void store_rec_textn(struct rec_builder *rb, const void *p, size_t n)
{
	struct sbuf tmp = {0};

	if (!p) {
		store_rec_null(rb);
		return;
	}
	if (!store_text_needs_escape(p, n)) {
		col_bytes(rb, K_TEXT, p, n);
		return;
	}
	if (store_text_escape(&tmp, p, n)) {
		rb->err = rb->err ? rb->err : ENOMEM;
		return;
	}
	col_bytes(rb, K_TEXT, tmp.p, tmp.len);
	sbuf_free(&tmp);
}

void store_rec_text(struct rec_builder *rb, const char *s)
{
	store_rec_textn(rb, s, s ? strlen(s) : 0);
}

void store_rec_int(struct rec_builder *rb, int64_t v)
{
	unsigned char b[8];

	col_head(rb, K_INT);
	if (rb->err)
		return;
	put_i64(b, v);
	rb->err = sbuf_put(rb->b, b, 8);
}

void store_rec_bool(struct rec_builder *rb, bool v)
{
	unsigned char b[8];

	col_head(rb, K_BOOL);
	if (rb->err)
		return;
	put_i64(b, v ? 1 : 0);
	rb->err = sbuf_put(rb->b, b, 8);
}

void store_rec_int_or_null(struct rec_builder *rb, int64_t v, int64_t null_value)
{
	if (v == null_value)
		store_rec_null(rb);
	else
		store_rec_int(rb, v);
}

void store_rec_time(struct rec_builder *rb, int64_t us)
{
	unsigned char b[8];

	if (!us) {
		store_rec_null(rb);
		return;
	}
	col_head(rb, K_TIME);
	if (rb->err)
		return;
	put_i64(b, us);
	rb->err = sbuf_put(rb->b, b, 8);
}

void store_rec_bytea(struct rec_builder *rb, const void *p, size_t n)
{
	if (!p && n) {
		rb->err = rb->err ? rb->err : EINVAL;
		return;
	}
	col_bytes(rb, K_BYTEA, p ? p : "", n);
}

void store_rec_json(struct rec_builder *rb, const char *s, size_t n)
{
	if (!s) {
		store_rec_null(rb);
		return;
	}
	/* JSON is text: bad bytes are left for PostgreSQL to refuse, and the
	 * batch split then isolates and logs this one row */
	if (memchr(s, '\0', n)) {
		rb->err = rb->err ? rb->err : EINVAL;
		return;
	}
	col_bytes(rb, K_JSON, s, n);
}

int store_rec_end(struct rec_builder *rb)
{
	struct sbuf *b = rb->b;
	size_t plen;
	unsigned char *payload;

	if (!rb->err && b->len - rb->start - REC_HDR > REC_MAX_PAYLOAD)
		rb->err = EINVAL;
	if (rb->err) {
		b->len = rb->start;
		return rb->err;
	}
	payload = b->p + rb->start + REC_HDR;
	plen = b->len - rb->start - REC_HDR;
	payload[1] = (unsigned char)rb->ncols;
	payload[2] = (unsigned char)(rb->ncols >> 8);
	put_u32(b->p + rb->start, (uint32_t)plen);
	put_u32(b->p + rb->start + 4, store_crc32(payload, plen));
	return 0;
}

int store_rec_frame_check(const unsigned char *p, size_t avail, size_t *framelen)
{
	uint32_t len;

	if (avail < REC_HDR)
		return EAGAIN;
	len = get_u32(p);
	if (len < 3 || len > REC_MAX_PAYLOAD)
		return EBADMSG;
	if (avail - REC_HDR < len)
		return EAGAIN;
	if (store_crc32(p + REC_HDR, len) != get_u32(p + 4))
		return EBADMSG;
	*framelen = REC_HDR + len;
	return 0;
}

/* Columns of each table in the newest schema (migrations/), in staging
 * order. A row journaled by an older binary gets the newer columns as
 * NULL, or as pad_zero's 0 for a NOT NULL one. A NULL root_sid (0007,
 * after each table's columns of 0001-0006; sip_messages' body columns of
 * 0008 follow it) is looked up by the writer (writer.c). */
static const unsigned table_cols[T_COUNT] = {
	[T_CALLS] = 29,		/* 22 of 0001_call_log + 5 of 0003_calls
				 * + api_deleted_at of 0004_api (never
				 * written by the writer: NULL, and the
				 * upsert leaves it alone) + root_sid */
	[T_EVENTS] = 7,		/* 6 of 0001_call_log + root_sid */
	[T_MSGS] = 16,		/* 11 of 0001_call_log + root_sid + body,
				 * body_raw, body_type, body_length of
				 * 0008_bodies */
	[T_HDRS] = 8,		/* 7 of 0001_call_log + root_sid */
	[T_HOOKS] = 21,		/* 12 of 0001_call_log + 8 of 0002_webhooks
				 * + root_sid */
	[T_POLICY] = 11,	/* 6 of 0001_call_log + 4 of 0003_calls
				 * + root_sid */
};
static const unsigned pad_zero[T_COUNT] = {
	[T_POLICY] = 9,		/* header_policy_events.ordinal, in the key */
};

int store_rec_decode(struct rec *r, const unsigned char *p, size_t n)
{
	size_t off = 3;
	unsigned ncols;

	if (n < 3 || p[0] >= T_COUNT)
		return EBADMSG;
	r->table = p[0];
	ncols = (unsigned)p[1] | (unsigned)p[2] << 8;
	if (ncols > REC_MAX_COLS)
		return EBADMSG;
	r->ncols = ncols;
	for (unsigned i = 0; i < ncols; i++) {
		struct rec_col *c = &r->col[i];

		if (off >= n)
			return EBADMSG;
		c->kind = p[off++];
		c->p = NULL;
		c->len = 0;
		c->i = 0;
		switch (c->kind) {
		case K_NULL:
			break;
		case K_INT:
		case K_BOOL:
		case K_TIME:
			if (n - off < 8)
				return EBADMSG;
			c->i = get_i64(p + off);
			off += 8;
			break;
		case K_TEXT:
		case K_BYTEA:
		case K_JSON:
			if (n - off < 4)
				return EBADMSG;
			c->len = get_u32(p + off);
			off += 4;
			if (n - off < c->len)
				return EBADMSG;
			c->p = p + off;
			off += c->len;
			break;
		default:
			return EBADMSG;
		}
	}
	if (off != n)
		return EBADMSG;
	/* a record journaled by an older binary lacks the columns that later
	 * migrations added at the end of its table: they are NULL */
	while (r->ncols < table_cols[r->table]) {
		bool zero = pad_zero[r->table] && r->ncols == pad_zero[r->table];

		r->col[r->ncols++] = (struct rec_col){.kind = zero ? K_INT : K_NULL};
	}
	return 0;
}

bool store_text_needs_escape(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t need;
		uint32_t cp;

		if (c == 0)
			return true;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return true;
		}
		if (n - i - 1 < need)
			return true;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return true;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return true;
		i += need + 1;
	}
	return false;
}

int store_text_escape(struct sbuf *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		char oct[5];

		if (c == '\\') {
			if (sbuf_put(out, "\\\\", 2))
				return ENOMEM;
		} else if (c == 0 || c >= 0x80) {
			snprintf(oct, sizeof(oct), "\\%03o", c);
			if (sbuf_put(out, oct, 4))
				return ENOMEM;
		} else if (sbuf_putc(out, c)) {
			return ENOMEM;
		}
	}
	return 0;
}

/* COPY text format: backslash, tab, newline and CR must be escaped */
static int copy_text(struct sbuf *out, const unsigned char *p, size_t n)
{
	size_t run = 0;

	if (sbuf_reserve(out, n + 16))
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *esc;

		switch (p[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			continue;
		}
		if (sbuf_put(out, p + run, i - run) || sbuf_put(out, esc, 2))
			return ENOMEM;
		run = i + 1;
	}
	return sbuf_put(out, p + run, n - run);
}

int store_time_text(char *buf, size_t size, int64_t us)
{
	int64_t sec = us / 1000000, frac = us % 1000000;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		return EINVAL;
	snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)frac);
	return 0;
}

static int copy_time(struct sbuf *out, int64_t us)
{
	char buf[48];

	if (store_time_text(buf, sizeof(buf), us))
		return EINVAL;
	return sbuf_put(out, buf, strlen(buf));
}

int store_rec_copy_line(struct sbuf *out, const struct rec *r, long ord)
{
	static const char hex[] = "0123456789abcdef";
	char num[32];
	int err = 0;

	if (ord >= 0) {
		int n = snprintf(num, sizeof(num), "%ld\t", ord);

		err = sbuf_put(out, num, (size_t)n);
	}
	for (unsigned i = 0; i < r->ncols && !err; i++) {
		const struct rec_col *c = &r->col[i];

		if (i)
			err = sbuf_putc(out, '\t');
		if (err)
			break;
		switch (c->kind) {
		case K_NULL:
			err = sbuf_put(out, "\\N", 2);
			break;
		case K_INT: {
			int n = snprintf(num, sizeof(num), "%lld", (long long)c->i);

			err = sbuf_put(out, num, (size_t)n);
			break;
		}
		case K_BOOL:
			err = sbuf_putc(out, c->i ? 't' : 'f');
			break;
		case K_TIME:
			err = copy_time(out, c->i);
			break;
		case K_TEXT:
		case K_JSON:
			err = copy_text(out, c->p, c->len);
			break;
		case K_BYTEA:
			/* "\x" hex input, its backslash escaped for COPY */
			err = sbuf_reserve(out, 3 + 2 * (size_t)c->len);
			if (err)
				break;
			memcpy(out->p + out->len, "\\\\x", 3);
			out->len += 3;
			for (uint32_t k = 0; k < c->len; k++) {
				out->p[out->len++] = (unsigned char)hex[c->p[k] >> 4];
				out->p[out->len++] = (unsigned char)hex[c->p[k] & 15];
			}
			break;
		}
	}
	if (!err)
		err = sbuf_putc(out, '\n');
	return err;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void be64(unsigned char *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

/* PostgreSQL's binary COPY: "PGCOPY\n\377\r\n\0", flags, extension length */
int store_rec_copy_binary_begin(struct sbuf *out)
{
	static const unsigned char hdr[19] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
		0, 0, 0, 0, 0, 0, 0, 0,
	};

	return sbuf_put(out, hdr, sizeof(hdr));
}

int store_rec_copy_binary_end(struct sbuf *out)
{
	static const unsigned char trailer[2] = {0xff, 0xff};

	return sbuf_put(out, trailer, 2);
}

/* 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in Unix microseconds */
#define PG_EPOCH_US 946684800000000LL

/* Every integer column of the schema is an int4; times are timestamptz
 * (int8 microseconds since 2000); jsonb is a version byte and the text. */
int store_rec_copy_binary(struct sbuf *out, const struct rec *r, long ord)
{
	unsigned n = r->ncols + (ord >= 0 ? 1 : 0);
	size_t need = 2 + (size_t)n * 13;
	unsigned char *p;

	for (unsigned i = 0; i < r->ncols; i++)
		need += r->col[i].len;
	if (sbuf_reserve(out, need))
		return ENOMEM;
	p = out->p + out->len;
	p[0] = (unsigned char)(n >> 8);
	p[1] = (unsigned char)n;
	p += 2;
	if (ord >= 0) {
		be32(p, 4);
		be32(p + 4, (uint32_t)ord);
		p += 8;
	}
	for (unsigned i = 0; i < r->ncols; i++) {
		const struct rec_col *c = &r->col[i];

		switch (c->kind) {
		case K_NULL:
			be32(p, 0xffffffffu);
			p += 4;
			break;
		case K_INT:
			be32(p, 4);
			be32(p + 4, (uint32_t)(int32_t)c->i);
			p += 8;
			break;
		case K_BOOL:
			be32(p, 1);
			p[4] = c->i ? 1 : 0;
			p += 5;
			break;
		case K_TIME:
			be32(p, 8);
			be64(p + 4, (uint64_t)(c->i - PG_EPOCH_US));
			p += 12;
			break;
		case K_JSON:
			be32(p, c->len + 1);
			p[4] = 1;
			memcpy(p + 5, c->p, c->len);
			p += 5 + c->len;
			break;
		case K_TEXT:
		case K_BYTEA:
			be32(p, c->len);
			memcpy(p + 4, c->p, c->len);
			p += 4 + c->len;
			break;
		}
	}
	out->len = (size_t)(p - out->p);
	return 0;
}

const char *store_rec_table_name(enum rec_table t)
{
	static const char *const names[T_COUNT] = {
		"calls", "call_events", "sip_messages", "sip_headers",
		"webhook_requests", "header_policy_events",
	};

	return t < T_COUNT ? names[t] : "?";
}

unsigned store_rec_root_col(enum rec_table t)
{
	static const unsigned col[T_COUNT] = {
		[T_CALLS] = 28, [T_EVENTS] = 6, [T_MSGS] = 11, [T_HDRS] = 7,
		[T_HOOKS] = 20, [T_POLICY] = 10,
	};

	return t < T_COUNT ? col[t] : 0;
}

void store_rec_describe(const struct rec *r, char *buf, size_t size)
{
	const struct rec_col *c = r->ncols ? &r->col[0] : NULL;

	/* the first column of every table is the call SID */
	if (c && c->kind == K_TEXT)
		snprintf(buf, size, "%s call=%.*s", store_rec_table_name(r->table),
			 (int)(c->len > 64 ? 64 : c->len), (const char *)c->p);
	else
		snprintf(buf, size, "%s call=?", store_rec_table_name(r->table));
}
