/* fuzz_store_outbox.c: libFuzzer target for the webhook outbox reader: any
 * file left in data_dir as webhook.outbox scans and opens (or is refused
 * with EBADMSG), hands back only whole entries (required strings present,
 * every string NUL-terminated and inside the file, ids ascending), the
 * open's pending entries are the scan's entries not done, and afterwards an
 * add + done + commit + reopen gives the pending entries but the done one,
 * then the new one.
 *
 * The first input byte is a mode, the rest the file: with bit 0 set, the
 * frames from the start of the file get their CRCs recomputed first, so
 * that mutated payloads (what the replay and entry_decode read) are
 * reached. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "tests/fuzz/frame_crc.h"
#include "tests/fuzz/scratch_dir.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTBOX_NAME "webhook.outbox"	/* store/outbox.c */

static void write_file(const unsigned char *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, OUTBOX_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void put_bytes(struct sbuf *b, const void *p, size_t n)
{
	if (sbuf_put(b, p, n))
		abort();
}

/* A string into an entry's image (NULL apart from ""). Its length comes
 * from strlen: a string without its NUL reads past its copy (ASan). */
static void put_string(struct sbuf *b, const char *s, size_t limit)
{
	uint64_t n = s ? strlen(s) : UINT64_MAX;

	if (s && n > limit)
		__builtin_trap();	/* longer than the file it came from */
	put_bytes(b, &n, sizeof(n));
	if (s)
		put_bytes(b, s, (size_t)n);
}

/* The entries handed back, as one image to compare. */
struct seen {
	struct sbuf img;
	size_t n, ndone, limit;
	size_t second;		/* where the second entry's image starts */
	uint64_t last_id, max_id;
};

static void seen_init(struct seen *s, size_t limit)
{
	memset(s, 0, sizeof(*s));
	s->limit = limit;
}

/* Checks an entry handed back and appends its image. */
static void take(struct seen *s, const struct store_outbox_entry *e, bool done)
{
	if (!e->call_sid || !e->url)
		__builtin_trap();	/* required */
	if (e->nparams && !e->params)
		__builtin_trap();
	if (e->nparams > s->limit)
		__builtin_trap();	/* each one takes bytes of the file */
	if (s->n && e->id <= s->last_id)
		__builtin_trap();	/* in the order added: ids only grow */
	s->last_id = e->id;
	if (e->id > s->max_id)
		s->max_id = e->id;
	put_bytes(&s->img, &e->id, sizeof(e->id));
	put_bytes(&s->img, &e->sequence_number, sizeof(e->sequence_number));
	put_bytes(&s->img, &e->attempts, sizeof(e->attempts));
	put_bytes(&s->img, &e->created_at, sizeof(e->created_at));
	put_string(&s->img, e->call_sid, s->limit);
	put_string(&s->img, e->kind, s->limit);
	put_string(&s->img, e->method, s->limit);
	put_string(&s->img, e->url, s->limit);
	put_string(&s->img, e->token, s->limit);
	put_bytes(&s->img, &e->nparams, sizeof(e->nparams));
	for (size_t i = 0; i < e->nparams; i++) {
		if (!e->params[i].name)
			__builtin_trap();
		put_string(&s->img, e->params[i].name, s->limit);
		put_string(&s->img, e->params[i].value, s->limit);
	}
	s->n++;
	s->ndone += done;
	if (s->n == 1)
		s->second = s->img.len;
}

struct scan_seen {
	struct seen all, live;	/* every entry; those not done */
};

static void on_seen(const struct store_outbox_entry *e, bool done, void *arg)
{
	struct scan_seen *s = arg;

	take(&s->all, e, done);
	if (!done)
		take(&s->live, e, false);
}

static void on_entry(const struct store_outbox_entry *e, void *arg)
{
	take(arg, e, false);
}

static bool same(const struct seen *a, const struct seen *b)
{
	return a->n == b->n && a->img.len == b->img.len &&
	       (!a->img.len || memcmp(a->img.p, b->img.p, a->img.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct store_param np[] = {{"CallStatus", "completed"},
						{"Empty", NULL}};
	struct store_outbox_entry ne = {
		.call_sid = "CAffffffffffffffffffffffffffffffff",
		.kind = "status-callback", .method = "POST",
		.url = "http://127.0.0.1:1/fuzz", .token = NULL,
		.sequence_number = 7, .attempts = 2, .created_at = -1,
		.params = np, .nparams = 2,
	};
	struct store_outbox *o = NULL;
	struct scan_seen sc;
	struct seen op, re, one;
	unsigned char *file;
	size_t n;
	uint64_t ticket = 0;
	int serr, oerr, err;

	fuzz_dir_get("outbox");
	if (size < 1 || size > (1u << 20))
		return 0;
	n = size - 1;
	file = malloc(n ? n : 1);
	if (!file)
		abort();
	memcpy(file, data + 1, n);
	if (data[0] & 1)
		frame_crc_fix(file, n);
	seen_init(&sc.all, n);
	seen_init(&sc.live, n);
	seen_init(&op, n);
	seen_init(&re, n + 4096);
	seen_init(&one, 4096);

	/* a scan (dialerd takeover) sees every entry, done or not */
	fuzz_dir_empty();
	write_file(file, n);
	serr = store_outbox_scan(fuzz_dir, on_seen, &sc);
	if (serr && serr != EBADMSG)
		__builtin_trap();
	if (!serr && sc.live.n + sc.all.ndone != sc.all.n)
		__builtin_trap();
	/* the open, on the file as it was, hands back the pending ones */
	fuzz_dir_empty();
	write_file(file, n);
	oerr = store_outbox_open(&o, fuzz_dir, on_entry, &op);
	if (oerr && oerr != EBADMSG)
		__builtin_trap();
	if (oerr ? o != NULL : o == NULL)
		__builtin_trap();
	/* the scan reads every entry the open reads: where it succeeds, the
	 * open does too, with the same pending entries */
	if (!serr && (oerr || !same(&sc.live, &op)))
		__builtin_trap();
	if (oerr)
		goto out;

	/* afterwards the outbox takes an entry, and the first pending one is
	 * done: a reopen hands back the others, then the new one */
	err = store_outbox_add(o, &ne, &ticket);
	if (err) {
		/* the ids only grow: a file that holds the largest id cannot
		 * take another one */
		if (err != EBADMSG || (!serr && sc.all.max_id != UINT64_MAX))
			__builtin_trap();
		goto out;
	}
	if (!ticket || (op.n && ne.id <= op.max_id))
		__builtin_trap();
	if (op.n) {
		uint64_t id;

		memcpy(&id, op.img.p, sizeof(id));
		if (store_outbox_done(o, id))
			__builtin_trap();
	}
	if (store_outbox_commit(o))
		__builtin_trap();
	o = store_outbox_close(o);
	if (store_outbox_open(&o, fuzz_dir, on_entry, &re))
		__builtin_trap();
	take(&one, &ne, false);
	if (re.n != (op.n ? op.n : 1) ||
	    re.img.len != op.img.len - op.second + one.img.len ||
	    (op.n > 1 && memcmp(re.img.p, op.img.p + op.second,
				op.img.len - op.second)) ||
	    memcmp(re.img.p + op.img.len - op.second, one.img.p, one.img.len))
		__builtin_trap();
 out:
	o = store_outbox_close(o);
	sbuf_free(&sc.all.img);
	sbuf_free(&sc.live.img);
	sbuf_free(&op.img);
	sbuf_free(&re.img);
	sbuf_free(&one.img);
	free(file);
	return 0;
}
