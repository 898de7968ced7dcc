/* test_store.c: unit tests of store/: records, COPY lines, text escaping, the journal, queue without a database */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/internal.h"
#include "tests/tap.h"

static char logbuf[4096];

static void on_log(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(logbuf + strlen(logbuf), sizeof(logbuf) - strlen(logbuf), "%s\n", msg);
}

static void test_escape(void)
{
	ok(!store_text_needs_escape((const unsigned char *)"plain", 5), "ascii is kept");
	ok(!store_text_needs_escape((const unsigned char *)"caf\xc3\xa9", 5), "UTF-8 is kept");
	ok(!store_text_needs_escape((const unsigned char *)"\xf0\x9f\x98\x80", 4), "4-byte UTF-8 is kept");
	ok(store_text_needs_escape((const unsigned char *)"a\0b", 3), "NUL needs escaping");
	ok(store_text_needs_escape((const unsigned char *)"\xff", 1), "0xff needs escaping");
	ok(store_text_needs_escape((const unsigned char *)"\xc0\x80", 2), "overlong NUL needs escaping");
	ok(store_text_needs_escape((const unsigned char *)"\xed\xa0\x80", 3), "surrogate needs escaping");
	ok(store_text_needs_escape((const unsigned char *)"\xe2\x82", 2), "truncated sequence needs escaping");

	struct sbuf b = {0};

	store_text_escape(&b, (const unsigned char *)"4\0" "2\\\xff", 5);
	is_mem(b.p, b.len, "4\\0002\\\\\\377", 12, "escape as encode(..., 'escape')");
	sbuf_free(&b);
}

/* The bit-at-a-time definition, to hold the sliced one to. */
static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void test_crc32(void)
{
	unsigned char buf[1100];
	unsigned bad = 0;

	ok(store_crc32("123456789", 9) == 0xcbf43926u, "crc32 check value");
	ok(store_crc32("", 0) == 0, "crc32 of nothing");
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	/* every length up to 64 at every alignment, then long ones */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 64; n++)
			bad += store_crc32(buf + off, n) != crc32_ref(buf + off, n);
	for (size_t n = 1000; n < 1024; n++)
		bad += store_crc32(buf + 3, n) != crc32_ref(buf + 3, n);
	ok(bad == 0, "crc32 equals the bitwise definition at every length and "
	   "alignment (%u differ)", bad);
}

static void test_records(void)
{
	struct sbuf q = {0}, line = {0};
	struct rec_builder rb;
	struct rec r;
	size_t flen;

	store_rec_begin(&rb, &q, T_HDRS);
	store_rec_text(&rb, "CA0123");
	store_rec_int(&rb, 7);
	store_rec_null(&rb);
	store_rec_time(&rb, 1764431484123456LL);	/* 2025-11-29 15:51:24.123456 */
	store_rec_textn(&rb, "a\tb\nc\\d", 7);
	store_rec_bytea(&rb, "\0\xff", 2);
	store_rec_json(&rb, "{\"a\":1}", 7);
	store_rec_text(&rb, "CA9");	/* root_sid */
	ok(store_rec_end(&rb) == 0, "record built");
	ok(store_rec_frame_check(q.p, q.len, &flen) == 0 && flen == q.len, "frame checks");
	ok(store_rec_frame_check(q.p, q.len - 1, &flen) == EAGAIN, "short frame: EAGAIN");
	q.p[q.len - 1] ^= 1;
	ok(store_rec_frame_check(q.p, q.len, &flen) == EBADMSG, "flipped bit: EBADMSG");
	q.p[q.len - 1] ^= 1;
	ok(store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0, "decodes");
	is_int(r.table, T_HDRS, "table");
	is_int(r.ncols, 8, "columns");
	is_int(r.col[1].i, 7, "int column");
	ok(store_rec_copy_line(&line, &r, 3) == 0, "copy line");
	sbuf_putc(&line, 0);
	is_str((char *)line.p,
	       "3\tCA0123\t7\t\\N\t2025-11-29 15:51:24.123456+00\ta\\tb\\nc\\\\d\t\\\\x00ff\t{\"a\":1}\tCA9\n",
	       "COPY text line");
	ok(store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR - 1) == EBADMSG, "truncated payload refused");

	/* the binary COPY form the writer sends */
	struct sbuf bin = {0};
	static const unsigned char want_hdr[] = "PGCOPY\n\377\r\n";

	ok(store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0, "decodes again");
	ok(store_rec_copy_binary_begin(&bin) == 0 && bin.len == 19 &&
	   memcmp(bin.p, want_hdr, 11) == 0, "binary COPY header");
	ok(store_rec_copy_binary(&bin, &r, 3) == 0, "binary tuple");
	ok(bin.p[19] == 0 && bin.p[20] == 9, "9 fields (ord + 8 columns)");
	/* ord: length 4, value 3 */
	is_mem(bin.p + 21, 8, "\0\0\0\4\0\0\0\3", 8, "ord as int4");
	/* CA0123: length 6 */
	is_mem(bin.p + 29, 10, "\0\0\0\6CA0123", 10, "text column");
	is_mem(bin.p + 39, 8, "\0\0\0\4\0\0\0\7", 8, "int column as int4");
	is_mem(bin.p + 47, 4, "\377\377\377\377", 4, "NULL is length -1");
	/* 1764431484123456 - 946684800000000 = 0x2e7bc7c9f9940 */
	is_mem(bin.p + 51, 12, "\0\0\0\10\0\2\xe7\xbc\x7c\x9f\x99\x40", 12,
	       "timestamptz as microseconds since 2000");
	ok(store_rec_copy_binary_end(&bin) == 0 && bin.p[bin.len - 1] == 0xff &&
	   bin.p[bin.len - 2] == 0xff, "trailer");
	sbuf_free(&bin);

	/* a builder error rolls the frame back */
	size_t before = q.len;

	store_rec_begin(&rb, &q, T_CALLS);
	store_rec_text(&rb, "x");
	store_rec_json(&rb, "a\0b", 3);
	ok(store_rec_end(&rb) == EINVAL && q.len == before, "bad column rolls back");
	sbuf_free(&q);
	sbuf_free(&line);
}

static void test_policy_names(void)
{
	ok(store_header_is_policy("X-Answer-Id", 11), "X- header");
	ok(store_header_is_policy("x-lower", 7), "x- header");
	ok(store_header_is_policy("user-to-user", 12), "User-to-User, any case");
	ok(store_header_is_policy("Diversion", 9), "Diversion");
	ok(!store_header_is_policy("Via", 3), "Via is not");
	ok(!store_header_is_policy("X", 1), "X alone is not");
	ok(!store_header_is_policy("Diversions", 10), "prefix is not enough");
}

/* How many times needle occurs in the log so far. */
static int log_count(const char *needle)
{
	int n = 0;

	for (const char *p = logbuf; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The one file dir/store.journal.bad-* holds exactly want (wlen bytes). */
static bool aside_holds(const char *dir, size_t nth, const void *want,
			size_t wlen)
{
	char pat[512], got[4096];
	glob_t g;
	bool same = false;

	snprintf(pat, sizeof(pat), "%s/store.journal.bad-*", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return false;
	if (g.gl_pathc > nth) {
		int fd = open(g.gl_pathv[g.gl_pathc - 1 - nth], O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, got, sizeof(got)) : -1;

		same = n == (ssize_t)wlen && memcmp(got, want, wlen) == 0;
		if (fd >= 0)
			close(fd);
	}
	globfree(&g);
	return same;
}

static size_t count_frames(const char *path)
{
	struct journal j;
	struct sbuf b = {0};
	size_t rows = 0, total = 0;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s", path);
	if (store_journal_open(&j, dir, STORE_JOURNAL_NAME))
		return (size_t)-1;
	while (store_journal_read(&j, &b, 1000, 1 << 20, &rows) == 0 && rows) {
		total += rows;
		sbuf_reset(&b);
	}
	store_journal_close(&j);
	sbuf_free(&b);
	return total;
}

static void test_journal(const char *dir)
{
	struct journal j, j2;
	struct sbuf q = {0};
	struct rec_builder rb;
	char path[512];
	struct stat st;
	int fd;

	ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0, "journal opens");
	is_int((long long)j.size, 0, "new journal is empty");
	is_int(store_journal_open(&j2, dir, STORE_JOURNAL_NAME), EBUSY, "second opener is refused (EBUSY)");
	for (int i = 0; i < 10; i++) {
		store_rec_begin(&rb, &q, T_EVENTS);
		store_rec_text(&rb, "CAabc");
		store_rec_int(&rb, i);
		store_rec_end(&rb);
	}
	ok(store_journal_append(&j, q.p, q.len, 10) == 0, "append 10 rows");
	ok(store_journal_pending(&j), "pending");
	{
		struct sbuf rb2 = {0};
		size_t rows = 0;

		/* max_bytes smaller than one frame: that frame is read alone */
		ok(store_journal_read(&j, &rb2, 100, 10, &rows) == 0 && rows == 1 &&
		   rb2.len == q.len / 10, "a frame larger than max_bytes is read alone");
		ok(store_journal_read(&j, &rb2, 3, 1 << 20, &rows) == 0 && rows == 3,
		   "max_rows bounds a read");
		is_int((long long)j.replay_off, (long long)(q.len / 10 * 4),
		       "replay offset after 4 rows");
		sbuf_free(&rb2);
	}
	store_journal_close(&j);
	is_int((long long)count_frames(dir), 10, "10 rows read back");

	/* tear the tail: half of a record */
	snprintf(path, sizeof(path), "%s/store.journal", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	ok(fd >= 0 && write(fd, q.p, q.len / 10 / 2) > 0, "append half a record");
	close(fd);
	logbuf[0] = '\0';
	ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0, "journal with a torn tail opens");
	ok(strstr(logbuf, "torn tail") != NULL, "torn tail logged: %s", logbuf);
	stat(path, &st);
	is_int((long long)st.st_size, (long long)q.len, "file cut to the whole records");
	ok(aside_holds(dir, 0, q.p, q.len / 10 / 2),
	   "the torn tail is kept in store.journal.bad-<time>");
	ok(store_journal_truncate(&j) == 0 && j.size == 0, "truncate empties");
	store_journal_close(&j);

	/* garbage in the middle: the rest from there is cut */
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(write(fd, q.p, q.len / 10) > 0 && write(fd, "garbage-garbage", 15) == 15 &&
	   write(fd, q.p, q.len / 10) > 0, "record, garbage, record");
	close(fd);
	is_int((long long)count_frames(dir), 1, "only the record before the damage survives");
	{
		/* what was cut: garbage, then a whole record */
		struct sbuf cutb = {0};

		sbuf_put(&cutb, "garbage-garbage", 15);
		sbuf_put(&cutb, q.p, q.len / 10);
		ok(aside_holds(dir, 0, cutb.p, cutb.len) ||
		   aside_holds(dir, 1, cutb.p, cutb.len),
		   "the damaged part is kept aside");
		sbuf_free(&cutb);
	}
	/* damage after open: found by a read, kept aside, then cut */
	ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0, "reopens");
	fd = open(path, O_WRONLY | O_APPEND);
	ok(write(fd, "damaged-after-open", 18) == 18, "damage after open");
	close(fd);
	j.size += 18;
	{
		struct sbuf rb2 = {0};
		size_t rows = 0;

		ok(store_journal_read(&j, &rb2, 100, 1 << 20, &rows) == 0 &&
		   rows == 1, "the good record reads");
		is_int(store_journal_read(&j, &rb2, 100, 1 << 20, &rows), EBADMSG,
		       "the damaged one is refused");
		is_int((long long)j.size, (long long)(q.len / 10), "and cut");
		sbuf_free(&rb2);
	}
	store_journal_close(&j);
	{
		char pat[512];
		glob_t g;

		snprintf(pat, sizeof(pat), "%s/store.journal.bad-*", dir);
		ok(glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 3,
		   "three parts kept aside (%zu)", (size_t)g.gl_pathc);
		globfree(&g);
	}
	sbuf_free(&q);
}

/* data_dir and the file itself: nothing another user could plant. */
static void test_journal_files(const char *base)
{
	struct journal j;
	char dir[400], path[512], other[512];
	int fd;

	snprintf(dir, sizeof(dir), "%s/jf", base);
	snprintf(path, sizeof(path), "%s/store.journal", dir);
	snprintf(other, sizeof(other), "%s/elsewhere", base);
	ok(mkdir(dir, 0770) == 0 && chmod(dir, 0770) == 0, "a group-writable dir");
	logbuf[0] = '\0';
	is_int(store_journal_open(&j, dir, STORE_JOURNAL_NAME), EPERM,
	       "a group-writable data_dir is refused");
	ok(strstr(logbuf, "writable by group or others") != NULL,
	   "and the reason logged: %s", logbuf);
	chmod(dir, 0757);
	is_int(store_journal_open(&j, dir, STORE_JOURNAL_NAME), EPERM,
	       "an other-writable data_dir is refused");
	chmod(dir, 0750);

	fd = open(other, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ok(symlink(other, path) == 0, "store.journal is a symbolic link");
	is_int(store_journal_open(&j, dir, STORE_JOURNAL_NAME), ELOOP,
	       "a symbolic link is not followed (ELOOP)");
	unlink(path);

	ok(mkfifo(path, 0600) == 0, "store.journal is a FIFO");
	logbuf[0] = '\0';
	is_int(store_journal_open(&j, dir, STORE_JOURNAL_NAME), EPERM,
	       "a FIFO is refused, without hanging");
	ok(strstr(logbuf, "not a regular file") != NULL, "logged: %s", logbuf);
	unlink(path);

	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	if (geteuid() == 0 && chown(path, 1, 1) == 0) {
		logbuf[0] = '\0';
		is_int(store_journal_open(&j, dir, STORE_JOURNAL_NAME), EPERM,
		       "a file of another user is refused");
		ok(strstr(logbuf, "belongs to uid 1") != NULL, "logged: %s",
		   logbuf);
	} else {
		tap_skip(2, "chown needs root");
	}
	unlink(path);
	ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0,
	   "a fresh file in a private dir opens");
	store_journal_close(&j);
}

/* A cap, and a failed write (EFBIG from RLIMIT_FSIZE, as ENOSPC would be):
 * one log line per episode and no write tried during the back-off. */
static void test_journal_full(const char *base)
{
	struct journal j;
	struct sbuf q = {0};
	struct rec_builder rb;
	struct rlimit rl, small;
	char dir[400];
	uint64_t one;

	snprintf(dir, sizeof(dir), "%s/jfull", base);
	for (int i = 0; i < 10; i++) {
		store_rec_begin(&rb, &q, T_EVENTS);
		store_rec_text(&rb, "CAfull");
		store_rec_int(&rb, i);
		store_rec_end(&rb);
	}
	one = q.len / 10;
	if (!ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0, "opens"))
		return;
	j.max_bytes = q.len + one;
	ok(store_journal_append(&j, q.p, q.len, 10) == 0, "10 rows under the cap");
	logbuf[0] = '\0';
	is_int(store_journal_append(&j, q.p, q.len, 10), EFBIG,
	       "past the cap: EFBIG");
	is_int(store_journal_append(&j, q.p, one, 1), EFBIG,
	       "a row that would fit waits for the back-off too");
	is_int((long long)j.size, (long long)q.len, "nothing written past the cap");
	is_int(log_count("reached its cap"), 1, "one log line for the episode");
	ok(store_journal_retry_ms(&j) > 0 &&
	   store_journal_retry_ms(&j) <= JOURNAL_BACKOFF_MIN_MS,
	   "a retry time is set (%u ms)", store_journal_retry_ms(&j));
	ok(store_journal_truncate(&j) == 0, "replayed and emptied");
	ok(store_journal_append(&j, q.p, one, 1) == 0,
	   "room again: a write goes at once");
	is_int(log_count("takes writes again"), 1, "the episode's end is logged");
	j.max_bytes = 0;

	/* a file size limit makes write() fail with EFBIG like a full disk
	 * makes it fail with ENOSPC */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	small = rl;
	small.rlim_cur = (rlim_t)(j.size + one / 2);
	logbuf[0] = '\0';
	ok(setrlimit(RLIMIT_FSIZE, &small) == 0, "RLIMIT_FSIZE lowered");
	is_int(store_journal_append(&j, q.p, q.len, 10), EFBIG,
	       "a write past the file size limit fails");
	is_int((long long)j.size, (long long)one, "the half-written rows are cut");
	ok(setrlimit(RLIMIT_FSIZE, &rl) == 0, "limit restored");
	is_int(store_journal_append(&j, q.p, q.len, 10), EFBIG,
	       "during the back-off no write is tried");
	is_int(store_journal_append(&j, q.p, q.len, 10), EFBIG, "nor now");
	is_int(log_count("cannot write"), 1, "one log line for the episode");
	j.retry_at = 0;		/* the back-off has run out */
	ok(store_journal_append(&j, q.p, q.len, 10) == 0,
	   "after the back-off the write goes");
	is_int((long long)j.size, (long long)(one + q.len), "and landed");
	store_journal_close(&j);
	sbuf_free(&q);
}

static void fill(struct store *s, int n)
{
	char sid[40];
	struct store_header hdrs[] = {
		{"Via", 3, "SIP/2.0/UDP 127.0.0.1", 21},
		{"X-Answer-Id", 11, "4\0" "2\xff", 4},
	};

	for (int i = 0; i < n; i++) {
		snprintf(sid, sizeof(sid), "CA%032x", i);
		struct store_call c = {.sid = sid, .account_sid = "AC1",
				       .direction = "inbound", .status = "ringing",
				       .created_at = store_now_us(), .duration = -1};
		struct store_sip_message m = {.call_sid = sid, .seq = 1,
					      .start_line = "SIP/2.0 200 OK",
					      .hdrs = hdrs, .nhdrs = 2};

		store_call_upsert(s, &c);
		store_sip_message_add(s, &m);
	}
}

/* Credentials in a message, either direction: the header stays, its value
 * does not (what reaches the journal is what reaches PostgreSQL). */
static void test_redaction(const char *base)
{
	char dir[300];
	struct store *s = NULL;
	struct store_conf conf = {
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.data_dir = dir, .batch_rows = 100, .flush_ms = 50,
	};
	static const char auth[] = "Digest username=\"alice\", realm=\"r\", "
		"nonce=\"n1\", uri=\"sip:b@h\", response=\"0123456789abcdef\", "
		"cnonce=\"c1\", qop=auth, nc=00000001";
	struct store_header hdrs[] = {
		{"authorization", 13, auth, sizeof(auth) - 1},
		{"Proxy-Authorization", 19, "Basic YWxpY2U6c2VjcmV0", 22},
		{"Authorization", 13, "token=s3cr3t", 12},
		{"X-Authorization", 15, "kept", 4},
		{"WWW-Authenticate", 16, "Digest realm=\"r\"", 17},
	};
	struct store_sip_message m = {.call_sid = "CAredact", .seq = 1,
				      .direction = STORE_DIR_IN,
				      .start_line = "INVITE sip:b@h SIP/2.0",
				      .hdrs = hdrs, .nhdrs = 5};
	struct store_sip_message out = m;
	struct journal j;
	struct sbuf b = {0};
	size_t rows = 0;

	snprintf(dir, sizeof(dir), "%s/redact", base);
	out.seq = 2;
	out.direction = STORE_DIR_OUT;
	if (!ok(store_alloc(&s, &conf) == 0, "redaction: a store (database down)"))
		return;
	is_int(store_sip_message_add(s, &m), 0, "an inbound message with credentials");
	is_int(store_sip_message_add(s, &out), 0, "an outbound one");
	s = store_free(s);
	if (!ok(store_journal_open(&j, dir, STORE_JOURNAL_NAME) == 0, "journal opens"))
		return;
	while (store_journal_read(&j, &b, 1000, 1 << 20, &rows) == 0 && rows)
		rows = 0;
	store_journal_close(&j);
	ok(b.len > 0, "rows journaled (%zu bytes)", b.len);
	ok(!memmem(b.p, b.len, "response=", 9) && !memmem(b.p, b.len, "cnonce", 6) &&
	   !memmem(b.p, b.len, "alice", 5) && !memmem(b.p, b.len, "YWxpY2U6c2VjcmV0", 16) &&
	   !memmem(b.p, b.len, "s3cr3t", 6), "no digest response, user or secret stored");
	ok(memmem(b.p, b.len, "authorization: Digest <redacted>\r\n", 34) != NULL,
	   "the name kept as sent, the scheme kept");
	ok(memmem(b.p, b.len, "Proxy-Authorization: Basic <redacted>\r\n", 39) != NULL,
	   "Proxy-Authorization too");
	ok(memmem(b.p, b.len, "Authorization: <redacted>\r\n", 27) != NULL,
	   "no scheme: all of the value goes");
	ok(memmem(b.p, b.len, "X-Authorization: kept", 21) != NULL &&
	   memmem(b.p, b.len, "WWW-Authenticate: Digest realm=\"r\"", 33) != NULL,
	   "other headers untouched (the challenge holds no secret)");
	sbuf_free(&b);
}

static int wakes;

static void on_wake(void *arg)
{
	(void)arg;
	wakes++;
}

static void test_store_journal(const char *dir)
{
	struct store *s = NULL;
	struct store_stats st;
	struct store_conf conf = {
		/* nothing listens on port 1: the store stays down */
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.data_dir = dir, .batch_rows = 100, .flush_ms = 50,
		.wake = on_wake,
	};
	struct store_call bad = {.sid = "CA1"};

	ok(store_alloc(&s, &conf) == 0, "store allocates while the database is down");
	is_int(store_call_upsert(s, &bad), EINVAL, "missing fields: EINVAL");
	fill(s, 60);	/* 60 calls + 60 messages + 60 headers = 180 rows */
	ok(wakes >= 2, "the loop is woken when rows start queueing (%d)", wakes);
	ok(store_timeout_ms(s) >= 0 && store_timeout_ms(s) <= 50,
	   "a flush timer runs while rows are queued (%d ms)", store_timeout_ms(s));
	store_stats(s, &st);
	ok(st.rows_journaled == 100 && st.queue_rows == 80,
	   "100 rows journaled at batch_rows, 80 queued (%llu, %zu)",
	   st.rows_journaled, st.queue_rows);
	ok(store_flush(s) == 0, "flush to the journal");
	store_stats(s, &st);
	is_int(st.queue_rows, 0, "queue empty after flush");
	ok(st.journal_bytes > 0, "journal holds bytes");
	fill(s, 5);	/* queued, journaled by store_free */
	s = store_free(s);
	ok(s == NULL, "free returns NULL");
	is_int((long long)count_frames(dir), 195, "all 195 rows in the journal");
}

/* The store with a full journal: no busy loop on the flush timer, one
 * log line, rows dropped past twice the memory bound and counted. */
static void test_store_journal_full(const char *base)
{
	struct store *s = NULL;
	struct store_stats st;
	char dir[400];
	struct store_conf conf = {
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.data_dir = dir, .batch_rows = 10, .flush_ms = 50,
		.journal_max_bytes = 4096, .queue_max_bytes = 8192,
	};

	snprintf(dir, sizeof(dir), "%s/jstore", base);
	logbuf[0] = '\0';
	if (!ok(store_alloc(&s, &conf) == 0, "store with a 4 KiB journal cap"))
		return;
	fill(s, 200);
	store_stats(s, &st);
	ok(st.journal_bytes <= 4096, "the journal stays under its cap (%llu)",
	   st.journal_bytes);
	is_int(log_count("reached its cap"), 1, "the cap is logged once");
	ok(st.rows_rejected > 0, "rows past twice the memory bound are counted "
	   "(%llu)", st.rows_rejected);
	is_int(log_count("rows dropped"), 1, "and the drop logged once");
	ok(st.queue_bytes <= 2 * 8192 + 1024, "memory stays bounded (%zu)",
	   st.queue_bytes);
	ok(store_timeout_ms(s) > 50, "no flush attempt before the journal's "
	   "back-off ends (%d ms)", store_timeout_ms(s));
	store_free(s);
}

/* ---- the queue's mirror: rows a killed process had not committed ---- */

static const char down_db[] =
	"postgresql://nobody@127.0.0.1:1/none?connect_timeout=1";

/* Runs work on a store in a child process that then dies by SIGKILL with
 * its queue unwritten (no flush for a minute); the child's count of
 * unmirrored rows comes back through a pipe. */
static bool killed_after(const char *dir, size_t mirror_bytes,
			 void (*work)(struct store *), unsigned long long *unmirrored)
{
	int fds[2], status = 0;
	unsigned long long got = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct store *s = NULL;
		struct store_stats st;
		struct store_conf conf = {
			.conninfo = down_db, .data_dir = dir,
			.batch_rows = 1000000, .flush_ms = 60000,
			.mirror_bytes = mirror_bytes,
		};

		close(fds[0]);
		if (store_alloc(&s, &conf) != 0)
			_exit(3);
		work(s);
		store_stats(s, &st);
		if (write(fds[1], &st.rows_unmirrored, sizeof(st.rows_unmirrored)) < 0)
			_exit(4);
		raise(SIGKILL);
		_exit(5);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &got, sizeof(got)) != (ssize_t)sizeof(got))
		got = ~0ull;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (unmirrored)
		*unmirrored = got;
	return pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	       got != ~0ull;
}

/* A start on the folder: what it took from the mirror. */
static unsigned long long restart(const char *dir, size_t mirror_bytes)
{
	struct store *s = NULL;
	struct store_stats st = {0};
	struct store_conf conf = {
		.conninfo = down_db, .data_dir = dir, .mirror_bytes = mirror_bytes,
	};

	if (store_alloc(&s, &conf) != 0)
		return ~0ull;
	store_stats(s, &st);
	store_free(s);
	return st.rows_recovered;
}

static void fill10(struct store *s) { fill(s, 10); }

static void flush_then_fill5(struct store *s)
{
	fill(s, 10);
	store_flush(s);	/* the database is down: to the journal */
	fill(s, 5);
}

/* many turns of a small mirror, every turn settled but the last rows */
static void wrap(struct store *s)
{
	for (int i = 0; i < 50; i++) {
		fill(s, 20);
		store_flush(s);
	}
	fill(s, 10);
}

static void fill2000(struct store *s) { fill(s, 2000); }

#define MIRROR_MIN (4096 + 16 * 4096)

/* Flips the last byte of the last entry of the first segment (the layout
 * of store/mirror.c: a 4096-byte header, then segments whose 16-byte
 * header is followed by entries: u64 tag, u64 number, u32 rows, u32
 * bytes, frames, padded to 8). */
static bool cut_last_entry(const char *dir)
{
	char path[512];
	unsigned char seg[16384];
	uint64_t tag;
	size_t off = 16, last = 0;
	uint32_t len = 0;
	int fd;
	bool done;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_MIRROR_NAME);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, seg, sizeof(seg), 4096) != (ssize_t)sizeof(seg)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(&tag, seg, 8);
	while (off + 24 <= sizeof(seg) && memcmp(seg + off, &tag, 8) == 0) {
		memcpy(&len, seg + off + 20, 4);
		last = off;
		off += (24 + len + 7) & ~(size_t)7;
	}
	memcpy(&len, seg + last + 20, 4);
	seg[last + 24 + len - 1] ^= 0xff;
	done = last && pwrite(fd, seg, sizeof(seg), 4096) == (ssize_t)sizeof(seg);
	close(fd);
	return done;
}

static void test_mirror(const char *base)
{
	char dir[400], path[500], cmd[1000];
	unsigned long long unm = 0, got;
	struct stat st;
	bool killed;

	snprintf(dir, sizeof(dir), "%s/mirror1", base);
	logbuf[0] = '\0';
	ok(killed_after(dir, 0, fill10, &unm), "a store with 30 rows queued is killed");
	is_int((long long)count_frames(dir), 0, "nothing of it reached the journal");
	is_int((long long)restart(dir, 0), 30, "the next start takes its 30 rows "
	       "from the mirror");
	is_int((long long)count_frames(dir), 30, "and they are in the journal, once");
	is_int(log_count("store: 30 rows ("), 1,
	       "which it logs");
	is_int((long long)restart(dir, 0), 0, "a start after a clean stop takes nothing");

	snprintf(dir, sizeof(dir), "%s/mirror2", base);
	ok(killed_after(dir, 0, flush_then_fill5, &unm),
	   "killed after 30 rows went to the journal and 15 more were queued");
	is_int((long long)restart(dir, STORE_MIRROR_OFF), 15,
	   "only the 15 unsettled rows are taken back, even with the mirror "
	   "turned off");
	is_int((long long)count_frames(dir), 45, "45 rows in the journal");
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_MIRROR_NAME);
	ok(stat(path, &st) != 0 && errno == ENOENT, "a mirror turned off leaves no file");

	snprintf(dir, sizeof(dir), "%s/mirror3", base);
	/* the count is read before ok()'s arguments: their order is unspecified */
	killed = killed_after(dir, MIRROR_MIN, wrap, &unm);
	ok(killed && unm == 0,
	   "a 68 KiB mirror goes round many times as rows settle (%llu unmirrored)",
	   unm);
	is_int((long long)restart(dir, 0), 30, "only the last 30 rows come back");
	is_int((long long)count_frames(dir), 50 * 60 + 30, "every row once in the journal");

	snprintf(dir, sizeof(dir), "%s/mirror4", base);
	logbuf[0] = '\0';
	killed = killed_after(dir, MIRROR_MIN, fill2000, &unm);
	ok(killed && unm > 0 && unm < 6000,
	   "6,000 rows queued in a 68 KiB mirror: %llu not mirrored", unm);
	got = restart(dir, 0);
	ok(got > 0 && got + unm == 6000, "the mirrored ones come back (%llu)", got);

	snprintf(dir, sizeof(dir), "%s/mirror5", base);
	logbuf[0] = '\0';
	ok(killed_after(dir, 0, fill10, &unm), "killed again with 30 rows");
	ok(cut_last_entry(dir), "the last row's bytes are cut (a kill mid-copy)");
	is_int((long long)restart(dir, 0), 29, "the 29 whole rows come back");
	is_int(log_count("row cut short"), 1, "the cut one is logged");

	snprintf(dir, sizeof(dir), "%s/mirror6", base);
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 -p '%s' && head -c 100000 /dev/urandom "
		 "> '%s/%s'", dir, dir, STORE_MIRROR_NAME);
	logbuf[0] = '\0';
	if (system(cmd) != 0)
		diag("cannot write %s", dir);
	is_int((long long)restart(dir, 0), 0, "a mirror that is not one gives nothing");
	ok(log_count("cannot recover") == 1 && log_count(".bad-") == 1,
	   "it is logged and set aside, not overwritten");
	if (system(cmd) != 0)
		diag("cannot write %s", dir);
	restart(dir, 0);
	snprintf(path, sizeof(path), "%s/%s.bad-*", dir, STORE_MIRROR_NAME);
	{
		glob_t g;

		is_int(glob(path, 0, NULL, &g) == 0 ? (long long)g.gl_pathc : 0, 2,
		       "a second one in the same second is kept beside the first");
		globfree(&g);
	}

	/* a link could have the daemon write its rows through it */
	snprintf(dir, sizeof(dir), "%s/mirror7", base);
	snprintf(cmd, sizeof(cmd), "mkdir -m 700 -p '%s' && ln -s '%s/mirror-target' '%s/%s'",
		 dir, base, dir, STORE_MIRROR_NAME);
	logbuf[0] = '\0';
	if (system(cmd) != 0)
		diag("cannot link in %s", dir);
	ok(restart(dir, 0) == ~0ull && log_count("cannot open") == 1,
	   "a symbolic link in the mirror's place: the store refuses to open");
	snprintf(path, sizeof(path), "%s/mirror-target", base);
	ok(stat(path, &st) != 0, "and nothing was created through it");
}

static void test_unconfigured(void)
{
	struct store *s = NULL;
	struct store_stats st;
	struct store_conf conf = {0};

	ok(store_alloc(&s, &conf) == 0, "store without a database");
	is_int(store_state(s), STORE_UNCONFIGURED, "unconfigured");
	fill(s, 3);
	store_stats(s, &st);
	ok(st.rows_discarded == 9 && st.queue_rows == 0, "rows discarded, nothing queued");
	ok(!store_busy(s), "not busy");
	is_int(store_fd(s), -1, "no socket");
	store_free(s);
}

/* The failover ring gives its memory back 30 s after the last commit, with
 * no commit after it to trim it (an idle daemon), through the timeout. */
static void test_resend_expiry(void)
{
	struct store *s = NULL;
	struct store_stats st;
	struct store_conf conf = {0};
	struct sbuf f = {0};
	unsigned long long now;

	if (!ok(store_alloc(&s, &conf) == 0, "resend: a store"))
		return;
	is_int(store_resend_timeout_ms(s, store_now_ms()), -1, "resend: empty, no timeout");
	ok(sbuf_put(&f, "0123456789", 10) == 0, "resend: a batch's frames");
	store_resend_keep(s, &f, 3);
	now = store_now_ms();
	store_stats(s, &st);
	ok(st.resend_bytes >= 10, "resend: the ring holds the batch's buffer");
	ok(f.len == 0, "resend: the batch gets an empty buffer back");
	ok(store_resend_timeout_ms(s, now) > 29000 &&
	   store_resend_timeout_ms(s, now) <= 30001, "resend: expires in 30 s");
	ok(store_timeout_ms(s) >= 0 && store_timeout_ms(s) <= 30001,
	   "resend: the store's timeout includes it");
	store_resend_expire(s, now + 1000);
	store_stats(s, &st);
	ok(st.resend_bytes >= 10, "resend: kept before its 30 s");
	store_resend_expire(s, now + 30002);
	store_stats(s, &st);
	is_int((int)st.resend_bytes, 0, "resend: given back after 30 s");
	is_int(store_resend_timeout_ms(s, now + 30002), -1, "resend: no timeout once empty");
	is_int((int)st.resend_dropped, 0, "resend: expiry is not counted as dropped");
	sbuf_free(&f);
	store_free(s);
}

static void test_migrations(void)
{
	ok(store_migrations_count() >= 1, "migrations embedded");
	is_int(store_migrations[0].version, 1, "first is 0001");
	is_int((long long)strlen(store_migrations[0].sha256), 64, "sha256 hex");
	ok(strstr(store_migrations[0].sql, "create table calls") != NULL, "SQL embedded");
	is_int(store_migrations_latest(),
	       store_migrations[store_migrations_count() - 1].version, "latest");
}

/* Rows journaled by a binary before 0002/0003 replay: the columns those
 * migrations added come out NULL, or 0 for a NOT NULL one in the key. */
static void test_old_rows(void)
{
	struct sbuf q = {0};
	struct rec_builder rb;
	struct rec r;

	store_rec_begin(&rb, &q, T_POLICY);	/* 0001's six columns */
	store_rec_text(&rb, "CA01");
	store_rec_time(&rb, 1764431484123456LL);
	store_rec_text(&rb, "Via");
	store_rec_text(&rb, "x");
	store_rec_text(&rb, "dropped");
	store_rec_text(&rb, "structural");
	ok(store_rec_end(&rb) == 0, "an 0001 policy row");
	ok(store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0, "decodes");
	is_int(r.ncols, 11, "padded to 0003's ten columns and 0007's root_sid");
	ok(r.col[6].kind == K_NULL && r.col[7].kind == K_NULL &&
	   r.col[8].kind == K_NULL, "code, source, truncated: NULL");
	ok(r.col[9].kind == K_INT && r.col[9].i == 0, "ordinal (in the key): 0");
	ok(r.col[10].kind == K_NULL, "root_sid: NULL (the writer looks it up)");
	sbuf_reset(&q);
	store_rec_begin(&rb, &q, T_CALLS);
	for (int i = 0; i < 22; i++)
		store_rec_null(&rb);
	ok(store_rec_end(&rb) == 0 &&
	   store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0 && r.ncols == 29 &&
	   r.col[27].kind == K_NULL && r.col[28].kind == K_NULL,
	   "an 0001 calls row gets 0003's five columns, 0004's one and 0007's (NULL)");
	sbuf_reset(&q);
	store_rec_begin(&rb, &q, T_EVENTS);
	for (int i = 0; i < 6; i++)
		store_rec_null(&rb);
	ok(store_rec_end(&rb) == 0 &&
	   store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0 && r.ncols == 7 &&
	   r.col[6].kind == K_NULL, "an 0001 event gets root_sid (NULL)");
	/* a sip_messages row journaled before 0007 and 0008 */
	sbuf_reset(&q);
	store_rec_begin(&rb, &q, T_MSGS);
	store_rec_text(&rb, "CA01");
	store_rec_int(&rb, 1);
	store_rec_text(&rb, "in");
	store_rec_time(&rb, 1764431484123456LL);
	store_rec_text(&rb, "INVITE");
	store_rec_null(&rb);
	store_rec_text(&rb, "INVITE sip:a@b SIP/2.0");
	store_rec_text(&rb, "c1");
	store_rec_text(&rb, "audio 10.0.0.1:4000 PCMU");
	store_rec_int(&rb, 0);
	store_rec_bytea(&rb, "", 0);
	ok(store_rec_end(&rb) == 0 &&
	   store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0,
	   "an 0001 sip_messages row (11 columns) decodes");
	is_int(r.ncols, 16, "padded to 0007's root_sid and 0008's four body columns");
	ok(r.col[10].kind == K_BYTEA && r.col[11].kind == K_NULL &&
	   r.col[12].kind == K_NULL && r.col[13].kind == K_NULL &&
	   r.col[14].kind == K_NULL && r.col[15].kind == K_NULL,
	   "headers kept; root_sid, body, body_raw, body_type, body_length: NULL");
	sbuf_free(&q);
}

/* Frames written before 0007 (without root_sid) of every table: root_sid
 * comes out NULL at its place, right after the columns they had (later
 * migrations add theirs behind it). */
static void test_old_frames_root(void)
{
	static const unsigned old[T_COUNT] = {
		[T_CALLS] = 28, [T_EVENTS] = 6, [T_MSGS] = 11, [T_HDRS] = 7,
		[T_HOOKS] = 20, [T_POLICY] = 10,
	};
	struct sbuf q = {0};
	struct rec_builder rb;
	struct rec r;

	for (int t = 0; t < T_COUNT; t++) {
		unsigned k = store_rec_root_col((enum rec_table)t);

		sbuf_reset(&q);
		store_rec_begin(&rb, &q, (enum rec_table)t);
		store_rec_text(&rb, "CA0123");
		for (unsigned i = 1; i < old[t]; i++)
			store_rec_int(&rb, 1);
		ok(store_rec_end(&rb) == 0 &&
		   store_rec_decode(&r, q.p + REC_HDR, q.len - REC_HDR) == 0 &&
		   k == old[t] && r.ncols > k && r.col[k].kind == K_NULL &&
		   r.col[k - 1].kind == K_INT,
		   "%s: a frame of %u columns decodes with root_sid NULL at %u",
		   store_rec_table_name((enum rec_table)t), old[t], k);
	}
	sbuf_free(&q);
}

/* Every store_*_add() writes root_sid at store_rec_root_col(), as given,
 * or NULL (looked up by the writer) when not. */
static unsigned next_frame(const struct sbuf *q, size_t *off, struct rec *r)
{
	size_t flen;

	if (*off >= q->len || store_rec_frame_check(q->p + *off, q->len - *off, &flen) ||
	    store_rec_decode(r, q->p + *off + REC_HDR, flen - REC_HDR))
		return 0;
	*off += flen;
	return 1;
}

static bool root_is(const struct rec *r, const char *want)
{
	unsigned k = store_rec_root_col(r->table);

	if (k >= r->ncols)
		return false;
	if (!want)
		return r->col[k].kind == K_NULL;
	return r->col[k].kind == K_TEXT && r->col[k].len == strlen(want) &&
	       !memcmp(r->col[k].p, want, r->col[k].len);
}

static void test_root_columns(void)
{
	struct store *s = NULL;
	struct store_conf conf = {
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.batch_rows = 1000, .flush_ms = 10000,
	};
	const char *root = "CAroot", *leg = "CAleg";
	struct store_call c = {
		.sid = leg, .account_sid = "AC1", .parent_call_sid = root,
		.direction = "outbound-dial", .status = "ringing",
		.created_at = 1764431484123456LL, .duration = -1, .branch = -1,
		.root_sid = root,
	};
	struct store_event e = {.call_sid = leg, .event = "ringing", .root_sid = root};
	struct store_header h[] = {
		{"X-One", 5, "1", 1}, {"Via", 3, "v", 1}, {"X-Two", 5, "2", 1},
	};
	struct store_sip_message m = {
		.call_sid = leg, .seq = 1, .start_line = "INVITE sip:a@b SIP/2.0",
		.hdrs = h, .nhdrs = 3, .root_sid = root,
	};
	struct store_webhook w = {
		.call_sid = leg, .kind = "status-callback", .attempt = 1,
		.method = "POST", .url = "http://127.0.0.1/cb", .latency_ms = -1,
		.root_sid = root,
	};
	struct store_policy_event p = {
		.call_sid = leg, .name = "X-Bad", .reason = "r", .root_sid = root,
	};
	struct rec r;
	size_t off = 0;
	unsigned n = 0, good = 0;

	if (!ok(store_alloc(&s, &conf) == 0, "store for root_sid rows"))
		return;
	ok(store_call_upsert(s, &c) == 0 && store_event_add(s, &e) == 0 &&
	   store_sip_message_add(s, &m) == 0 && store_webhook_add(s, &w) == 0 &&
	   store_header_policy_add(s, &p) == 0, "one row of each kind queued");
	while (next_frame(&s->queue, &off, &r)) {
		n++;
		good += root_is(&r, root) && r.ncols > store_rec_root_col(r.table);
		if (r.table == T_CALLS)
			ok(r.col[27].kind == K_NULL, "calls: api_deleted_at NULL before it");
	}
	is_int(n, 7, "7 frames (a call, an event, a message and its 2 policy "
	       "headers, a webhook, a policy event)");
	is_int(good, 7, "each has root_sid as given, where 0007 put it");

	/* not given: NULL, for the writer to look up */
	c.root_sid = e.root_sid = m.root_sid = w.root_sid = p.root_sid = NULL;
	sbuf_reset(&s->queue);
	s->queue_rows = 0;
	ok(store_call_upsert(s, &c) == 0 && store_event_add(s, &e) == 0 &&
	   store_sip_message_add(s, &m) == 0 && store_webhook_add(s, &w) == 0 &&
	   store_header_policy_add(s, &p) == 0, "again without root_sid");
	off = 0;
	n = good = 0;
	while (next_frame(&s->queue, &off, &r)) {
		n++;
		good += root_is(&r, NULL);
	}
	ok(n == 7 && good == 7, "root_sid NULL in all 7");
	store_free(s);
}

/* A message's body: the last four columns of its sip_messages record,
 * behind root_sid. */
static void test_msg_body(void)
{
	struct store *s = NULL;
	struct store_conf conf = {
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.batch_rows = 1000, .flush_ms = 10000,
	};
	static const char sdp[] = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n";
	static const char bin[] = "a\0\xc3(\\";
	struct store_sip_message m = {
		.call_sid = "CAbody", .seq = 1, .start_line = "INVITE sip:a@b SIP/2.0",
		.body = sdp, .body_len = sizeof(sdp) - 1,
		.body_type = "application/sdp",
	};
	struct rec r;
	size_t flen, off = 0;

	if (!ok(store_alloc(&s, &conf) == 0, "store for the body rows"))
		return;
	ok(store_sip_message_add(s, &m) == 0, "a message with an SDP body");
	m.seq = 2;
	m.body = bin;
	m.body_len = sizeof(bin) - 1;
	m.body_total = 20000;
	m.body_type = NULL;
	ok(store_sip_message_add(s, &m) == 0, "one with a binary body, cut");
	m.seq = 3;
	m.body = NULL;
	m.body_type = "ignored";
	ok(store_sip_message_add(s, &m) == 0, "one without a body");

	if (ok(store_rec_frame_check(s->queue.p, s->queue.len, &flen) == 0 &&
	       store_rec_decode(&r, s->queue.p + REC_HDR, flen - REC_HDR) == 0 &&
	       r.ncols == 16, "the SDP message: 16 columns")) {
		ok(r.col[12].kind == K_TEXT && r.col[12].len == sizeof(sdp) - 1 &&
		   !memcmp(r.col[12].p, sdp, sizeof(sdp) - 1), "body as sent");
		ok(r.col[13].kind == K_NULL, "valid text: no body_raw");
		ok(r.col[14].kind == K_TEXT && r.col[14].len == 15 &&
		   !memcmp(r.col[14].p, "application/sdp", 15), "body_type");
		ok(r.col[15].kind == K_INT && r.col[15].i == (int64_t)sizeof(sdp) - 1,
		   "body_length: its length (body_total 0)");
	}
	off += flen;
	if (ok(store_rec_frame_check(s->queue.p + off, s->queue.len - off, &flen) == 0 &&
	       store_rec_decode(&r, s->queue.p + off + REC_HDR, flen - REC_HDR) == 0 &&
	       r.ncols == 16, "the binary message: 16 columns")) {
		ok(r.col[12].kind == K_TEXT && r.col[12].len == 12 &&
		   !memcmp(r.col[12].p, "a\\000\\303(\\\\", 12),
		   "NUL, a byte past ASCII and \\ escaped in body (%.*s)",
		   (int)r.col[12].len, (const char *)r.col[12].p);
		ok(r.col[13].kind == K_BYTEA && r.col[13].len == sizeof(bin) - 1 &&
		   !memcmp(r.col[13].p, bin, sizeof(bin) - 1), "its bytes in body_raw");
		ok(r.col[14].kind == K_NULL, "no Content-Type: NULL");
		ok(r.col[15].kind == K_INT && r.col[15].i == 20000,
		   "body_length: the length on the wire");
	}
	off += flen;
	if (ok(store_rec_frame_check(s->queue.p + off, s->queue.len - off, &flen) == 0 &&
	       store_rec_decode(&r, s->queue.p + off + REC_HDR, flen - REC_HDR) == 0 &&
	       r.ncols == 16, "the message without a body: 16 columns"))
		ok(r.col[12].kind == K_NULL && r.col[13].kind == K_NULL &&
		   r.col[14].kind == K_NULL && r.col[15].kind == K_NULL,
		   "no body: four NULLs (a type without a body is not stored)");
	store_free(s);
}

/* A webhook row's params go into one JSON object: quotes, backslashes and
 * control characters escaped, plain runs as they are, a NULL value empty. */
static void test_webhook_json(void)
{
	struct store *s = NULL;
	struct store_conf conf = {
		.conninfo = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
		.batch_rows = 1000, .flush_ms = 10000,
	};
	char big[3001];
	struct store_param params[] = {
		{"CallSid", "CA0123"},
		{"q\"uo\\te", "a\"b\\c\td\x01" "e\n"},
		{"Empty", NULL},
		{"Big", big},
		{"", "\"\""},
	};
	struct store_webhook w = {
		.call_sid = "CA0123", .kind = "status-callback", .sequence_number = 1,
		.attempt = 1, .method = "POST", .url = "http://127.0.0.1/cb",
		.params = params, .nparams = 5, .latency_ms = -1,
	};
	const char *want_head = "{\"CallSid\":\"CA0123\",\"q\\\"uo\\\\te\":"
		"\"a\\\"b\\\\c\\u0009d\\u0001e\\u000a\",\"Empty\":\"\",\"Big\":\"";
	const char *want_tail = "\",\"\":\"\\\"\\\"\"}";
	struct rec r;
	size_t flen, hl = strlen(want_head), tl = strlen(want_tail);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	if (!ok(store_alloc(&s, &conf) == 0, "store for the webhook row"))
		return;
	ok(store_webhook_add(s, &w) == 0, "webhook row queued");
	if (ok(store_rec_frame_check(s->queue.p, s->queue.len, &flen) == 0 &&
	       store_rec_decode(&r, s->queue.p + REC_HDR, flen - REC_HDR) == 0 &&
	       r.ncols > 6, "webhook row decodes")) {
		const struct rec_col *c = &r.col[6];

		is_int(c->len, (long long)(hl + 3000 + tl), "params JSON length");
		ok(c->len == hl + 3000 + tl && !memcmp(c->p, want_head, hl) &&
		   !memcmp((const char *)c->p + hl, big, 3000) &&
		   !memcmp((const char *)c->p + hl + 3000, want_tail, tl),
		   "params JSON escaped byte for byte");
	}
	store_free(s);
}

int main(void)
{
	char tmpl[] = "/tmp/test_store.XXXXXX";
	char dir1[300], dir2[300], cmd[400];
	char *base = mkdtemp(tmpl);

	store_log_handler_set(on_log, NULL);
	if (!ok(base != NULL, "temp dir"))
		return tap_done();
	snprintf(dir1, sizeof(dir1), "%s/j1", base);
	snprintf(dir2, sizeof(dir2), "%s/j2", base);
	test_crc32();
	test_escape();
	test_records();
	test_webhook_json();
	test_old_rows();
	test_msg_body();
	test_old_frames_root();
	test_root_columns();
	test_policy_names();
	test_journal(dir1);
	test_store_journal(dir2);
	test_redaction(base);
	test_journal_files(base);
	test_journal_full(base);
	test_store_journal_full(base);
	test_mirror(base);
	test_unconfigured();
	test_resend_expiry();
	test_migrations();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("cannot remove %s", base);
	return tap_done();
}
