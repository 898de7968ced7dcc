/* test_store_outbox.c: the webhook outbox file: entries survive a reopen with
 * their attempts, done ones do not, a torn tail is cut, syncs are grouped and
 * a mostly delivered file is rewritten; a scan (dialerd takeover)
 * reads delivered entries too and changes nothing; a well-framed entry that
 * does not decode is refused, not a crash */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "store/store.h"
#include "tests/tap.h"

static char dir[] = "/tmp/dialerd-test-outbox-XXXXXX";

struct seen {
	unsigned n;
	uint32_t seq[8], attempts[8];
	char url[8][64], p1[8][32];
	size_t nparams[8];
};

static void on_entry(const struct store_outbox_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->seq[s->n] = e->sequence_number;
		s->attempts[s->n] = e->attempts;
		snprintf(s->url[s->n], sizeof(s->url[0]), "%s", e->url);
		s->nparams[s->n] = e->nparams;
		snprintf(s->p1[s->n], sizeof(s->p1[0]), "%s=%s",
			 e->nparams ? e->params[0].name : "",
			 e->nparams && e->params[0].value ? e->params[0].value : "(null)");
	}
	s->n++;
}

static int add(struct store_outbox *o, uint32_t seq, uint64_t *ticket)
{
	const struct store_param p[] = {{"CallStatus", "ringing"}, {"Empty", NULL}};
	struct store_outbox_entry e = {
		.call_sid = "CA0123456789abcdef0123456789abcdef",
		.kind = "status-callback", .method = "POST",
		.url = "http://127.0.0.1:1/cb", .token = "tok",
		.sequence_number = seq, .attempts = 1, .created_at = 1,
		.params = p, .nparams = 2,
	};
	int err = store_outbox_add(o, &e, ticket);

	return err ? -err : (int)e.id;
}

/* Commits and waits for the sync thread to make everything durable. */
static bool sync_all(struct store_outbox *o)
{
	uint64_t durable = 0;

	if (store_outbox_commit(o))
		return false;
	for (int i = 0; i < 100; i++) {
		struct pollfd pfd = {store_outbox_fd(o), POLLIN, 0};

		poll(&pfd, 1, 100);
		store_outbox_process(o, &durable);
		if (durable >= store_outbox_needed(o))
			return true;
	}
	return false;
}

static char *path(void)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/webhook.outbox", dir);
	return p;
}

static void test_reopen(void)
{
	struct store_outbox *o = NULL, *o2 = NULL;
	struct seen s = {0};
	struct store_outbox_stats st;
	unsigned long long syncs;
	uint64_t t1, t2, t3, tick;
	int a, b, c;

	ok(store_outbox_open(&o, dir, on_entry, &s) == 0, "opens an empty dir");
	is_int(s.n, 0, "nothing pending at first");
	a = add(o, 0, &t1);
	b = add(o, 1, &t2);
	c = add(o, 2, &t3);
	ok(a > 0 && b > a && c > b, "ids grow");
	ok(t1 < t2 && t2 < t3 && t3 == store_outbox_needed(o), "tickets grow");
	is_int(store_outbox_open(&o2, dir, on_entry, &s), EBUSY,
	       "a second opener is refused");
	ok(sync_all(o), "one commit, one sync: all durable");
	ok(store_outbox_attempt(o, (uint64_t)b, 3, &tick) == 0 && tick > t3,
	   "attempt recorded");
	ok(sync_all(o), "the attempt synced");
	store_outbox_stats(o, &st);
	syncs = st.syncs;
	ok(syncs >= 1, "syncs are counted");
	ok(store_outbox_done(o, (uint64_t)a) == 0, "first done");
	is_int(store_outbox_done(o, (uint64_t)a), ENOENT, "done twice: ENOENT");
	ok(sync_all(o), "a done alone is durable enough at once");
	usleep(50 * 1000);
	store_outbox_process(o, &tick);
	store_outbox_stats(o, &st);
	ok(st.syncs == syncs && st.buffered_bytes == 0,
	   "a done alone is written without a sync (it rides on the next)");
	o = store_outbox_close(o);
	ok(store_outbox_open(&o, dir, on_entry, &s) == 0, "reopens");
	is_int(s.n, 2, "two entries pending after the reopen");
	is_int(s.seq[0], 1, "in the order they were added");
	is_int(s.attempts[0], 3, "with their recorded attempts");
	is_int(s.attempts[1], 1, "and the others' attempt 1");
	is_str(s.url[1], "http://127.0.0.1:1/cb", "URL kept");
	is_int((long long)s.nparams[1], 2, "parameters kept");
	is_str(s.p1[1], "CallStatus=ringing", "parameter name and value kept");
	o = store_outbox_close(o);
}

static void test_torn_tail(void)
{
	struct store_outbox *o = NULL;
	struct seen s = {0};
	struct stat st;
	uint64_t t;

	ok(store_outbox_open(&o, dir, on_entry, &s) == 0, "reopens (2 pending)");
	add(o, 7, &t);
	ok(sync_all(o), "third entry durable");
	o = store_outbox_close(o);
	stat(path(), &st);
	ok(truncate(path(), st.st_size - 5) == 0, "tail cut by 5 bytes");
	memset(&s, 0, sizeof(s));
	ok(store_outbox_open(&o, dir, on_entry, &s) == 0, "opens with a torn tail");
	is_int(s.n, 2, "the torn entry is gone, the whole ones are kept");
	o = store_outbox_close(o);
}

static void test_all_done_truncates(void)
{
	struct store_outbox *o = NULL;
	struct seen s = {0};
	struct stat st;
	uint64_t t;

	store_outbox_open(&o, dir, on_entry, &s);
	/* ids of the entries found: 2 and 3 (1 was done) */
	ok(store_outbox_done(o, 2) == 0 && store_outbox_done(o, 3) == 0,
	   "both found entries done");
	add(o, 9, &t);
	ok(sync_all(o), "synced");
	o = store_outbox_close(o);
	memset(&s, 0, sizeof(s));
	store_outbox_open(&o, dir, on_entry, &s);
	is_int(s.n, 1, "one left");
	store_outbox_done(o, 4);
	sync_all(o);
	o = store_outbox_close(o);
	memset(&s, 0, sizeof(s));
	store_outbox_open(&o, dir, on_entry, &s);
	stat(path(), &st);
	is_int(s.n, 0, "none left");
	is_int((long long)st.st_size, 0, "an outbox with nothing pending is emptied at open");
	o = store_outbox_close(o);
}

struct scanned {
	unsigned n;
	uint32_t seq[8];
	bool done[8];
};

static void on_scan(const struct store_outbox_entry *e, bool done, void *arg)
{
	struct scanned *s = arg;

	if (s->n < 8) {
		s->seq[s->n] = e->sequence_number;
		s->done[s->n] = done;
	}
	s->n++;
}

/* dialerd takeover reads delivered entries too, and changes nothing */
static void test_scan(void)
{
	struct store_outbox *o = NULL;
	struct scanned sc = {0};
	struct seen s = {0};
	struct stat st, st2;
	uint64_t t;
	int a, b, c;

	store_outbox_open(&o, dir, on_entry, &s);
	a = add(o, 0, &t);
	b = add(o, 1, &t);
	c = add(o, 2, &t);
	store_outbox_done(o, (uint64_t)a);
	store_outbox_done(o, (uint64_t)b);
	ok(sync_all(o), "3 added, 2 done, synced");
	is_int(store_outbox_scan(dir, on_scan, &sc), EBUSY,
	       "scan while the outbox is open: EBUSY");
	o = store_outbox_close(o);
	stat(path(), &st);
	ok(store_outbox_scan(dir, on_scan, &sc) == 0, "scan");
	is_int(sc.n, 3, "every entry, delivered or not");
	ok(sc.seq[0] == 0 && sc.seq[1] == 1 && sc.seq[2] == 2, "in order");
	ok(sc.done[0] && sc.done[1] && !sc.done[2], "done ones flagged");
	stat(path(), &st2);
	is_int((long long)st2.st_size, (long long)st.st_size, "the file is unchanged");
	memset(&s, 0, sizeof(s));
	store_outbox_open(&o, dir, on_entry, &s);
	is_int(s.n, 1, "the pending one is still pending");
	store_outbox_done(o, (uint64_t)c);
	sync_all(o);
	o = store_outbox_close(o);
}

static void test_compaction(void)
{
	struct store_outbox *o = NULL;
	struct seen s = {0};
	struct stat st;
	uint64_t t;
	int keep = 0, id = 0;

	store_outbox_open(&o, dir, on_entry, &s);
	/* ~17 MiB of frames, all delivered but one */
	for (int i = 0; i < 200000; i++) {
		id = add(o, (uint32_t)i, &t);
		if (i == 100)
			keep = id;
		else
			store_outbox_done(o, (uint64_t)id);
		if (i % 5000 == 0)
			store_outbox_commit(o);
	}
	ok(sync_all(o), "synced");
	/* the next processing pass sees a durable, mostly dead file */
	ok(sync_all(o), "idle pass");
	stat(path(), &st);
	ok(st.st_size < 4096, "rewritten to the live entry (%lld bytes)",
	   (long long)st.st_size);
	o = store_outbox_close(o);
	memset(&s, 0, sizeof(s));
	store_outbox_open(&o, dir, on_entry, &s);
	is_int(s.n, 1, "the live entry survives the rewrite");
	is_int(s.seq[0], 100, "it is the right one");
	ok(store_outbox_done(o, (uint64_t)keep) == 0, "its id is kept too");
	o = store_outbox_close(o);
}

/* Writes one ADD frame (CRC'd) holding an entry: call_sid "CA1", url as
 * given (NULL: the NULL mark), then nparams and one parameter "a=b". */
static bool write_add(const char *url, uint16_t nparams, size_t cut)
{
	unsigned char f[256], *p = f + 8;
	uint32_t n, crc;
	FILE *fp;

	*p++ = 'A';
	memcpy(p, "\1\0\0\0\0\0\0\0" "\0\0\0\0" "\1\0\0\0" "\0\0\0\0\0\0\0\0", 24);
	p += 24;
	memcpy(p, "\3\0\0\0CA1", 7);
	p += 7;
	for (int i = 0; i < 4; i++) {	/* kind, method, url, token */
		n = i == 2 && url ? (uint32_t)strlen(url) : UINT32_MAX;
		memcpy(p, &n, 4);
		p += 4;
		if (n != UINT32_MAX) {
			memcpy(p, url, n);
			p += n;
		}
	}
	memcpy(p, &nparams, 2);
	p += 2;
	memcpy(p, "\1\0\0\0a\1\0\0\0b", 10);
	p += 10;
	n = (uint32_t)(p - f - 8 - cut);
	crc = store_crc32(f + 8, n);
	memcpy(f, &n, 4);
	memcpy(f + 4, &crc, 4);
	fp = fopen(path(), "wb");
	if (!fp)
		return false;
	n = (uint32_t)fwrite(f, 1, 8 + n, fp) == 8 + n;
	return fclose(fp) == 0 && n;
}

/* Found by fuzz_store_outbox: an entry whose url is missing (or with more
 * than 4096 parameters) freed its parameters before they existed: a NULL
 * dereference at start-up and in dialerd takeover. */
static void test_bad_entry(void)
{
	struct store_outbox *o = NULL;
	struct scanned sc = {0};
	struct seen s = {0};

	ok(write_add("http://127.0.0.1:1/cb", 1, 0), "a hand-made entry");
	ok(store_outbox_open(&o, dir, on_entry, &s) == 0 && s.n == 1 &&
	   strcmp(s.p1[0], "a=b") == 0, "which opens");
	o = store_outbox_close(o);
	ok(write_add(NULL, 1, 0), "an entry without its url, one parameter");
	is_int(store_outbox_scan(dir, on_scan, &sc), EBADMSG, "scan: EBADMSG");
	is_int(store_outbox_open(&o, dir, on_entry, &s), EBADMSG, "open: EBADMSG");
	ok(write_add("http://127.0.0.1:1/cb", 5000, 0), "an entry with 5000 parameters");
	is_int(store_outbox_open(&o, dir, on_entry, &s), EBADMSG, "open: EBADMSG");
	ok(write_add("http://127.0.0.1:1/cb", 1, 70), "an entry of 11 bytes");
	is_int(store_outbox_open(&o, dir, on_entry, &s), EBADMSG, "open: EBADMSG");
	ok(o == NULL && sc.n == 0, "nothing handed out");
	unlink(path());
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	test_reopen();
	test_torn_tail();
	test_all_done_truncates();
	test_scan();
	test_compaction();
	test_bad_entry();
	unlink(path());
	rmdir(dir);
	return tap_done();
}
