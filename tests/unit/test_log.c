/* test_log.c: log line shape and masking of secrets */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/log.h"
#include "tests/tap.h"

static char path[] = "/tmp/dialerd-test-log-XXXXXX";

static char *slurp(void)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

int main(void)
{
	char *text, moved[64];
	int fd = mkstemp(path);

	if (fd < 0)
		return 99;
	close(fd);
	is_int(log_open(LOG_INFO, path), 0, "log opens a file");
	log_add_secret("s3cr3t-token-value");
	log_add_conninfo_secret("postgresql://dialer:pgpass123@127.0.0.1:5432/db");
	log_add_conninfo_secret("host=x password=kvpass99 dbname=y");
	log_write(LOG_NOTICE, "daemon", "CA0123456789abcdef0123456789abcdef",
		  "leg answered %d", 200);
	log_msg(LOG_ERR, "api", "token was s3cr3t-token-value, twice s3cr3t-token-value");
	log_msg(LOG_ERR, "store", "url postgresql://dialer:pgpass123@h/db and kvpass99");
	log_msg(LOG_INFO, "dial", "INVITE\r\nAuthorization: Digest username=\"a\", response=\"abc\"\r\nX-A: 1");
	log_msg(LOG_DEBUG, "daemon", "not shown at info");
	text = slurp();
	ok(strstr(text, "notice  daemon call=CA0123456789abcdef0123456789abcdef leg answered 200\n") != NULL,
	   "line has level, module, call SID and message");
	ok(text[4] == '-' && text[10] == 'T' && strstr(text, "Z notice") != NULL,
	   "line starts with an ISO 8601 UTC time");
	ok(strstr(text, "s3cr3t") == NULL, "auth token never appears");
	ok(strstr(text, "token was [redacted], twice [redacted]") != NULL,
	   "every occurrence masked");
	ok(strstr(text, "pgpass123") == NULL && strstr(text, "kvpass99") == NULL,
	   "database passwords never appear");
	ok(strstr(text, "response=") == NULL && strstr(text, "Authorization: [redacted]"),
	   "Authorization header value masked");
	ok(strstr(text, "INVITE  Authorization") != NULL, "line breaks folded");
	ok(strstr(text, "not shown") == NULL, "level filter");

	/* masking holds at the edges (issue 14) */
	{
		char longmsg[9000];

		log_add_conninfo_secret("host=x password='q u\\'ote' dbname=y");
		log_add_conninfo_secret("postgresql://u:p%40ssw0rd@127.0.0.1/db");
		/* the token crosses the 8 KiB cut */
		memset(longmsg, 'a', sizeof(longmsg));
		memcpy(longmsg + 8140, "s3cr3t-token-value", 18);
		longmsg[8200] = '\0';
		log_msg(LOG_ERR, "api", "%s", longmsg);
		log_msg(LOG_ERR, "sip", "Proxy-Authorization : Digest response=\"deadbeef\"");
		log_msg(LOG_ERR, "api", "{\"Authorization\": \"Basic QUM6dG9r\", \"x\": 1}");
		log_msg(LOG_ERR, "store", "quoted q u'ote, encoded p%%40ssw0rd, decoded p@ssw0rd");
		log_msg(LOG_ERR, "sip", "bell\a esc\033[31m del\177 end");
		text = slurp();
		ok(strstr(text, "s3cr3t-tok") == NULL && strstr(text, "s3cr3t") == NULL,
		   "a secret that crosses the line cut is still masked");
		ok(strstr(text, "deadbeef") == NULL, "Proxy-Authorization with a space before the colon");
		ok(strstr(text, "QUM6dG9r") == NULL, "JSON \"Authorization\": masked");
		ok(strstr(text, "q u'ote") == NULL, "quoted key=value database password masked");
		ok(strstr(text, "p%40ssw0rd") == NULL && strstr(text, "p@ssw0rd") == NULL,
		   "URL-encoded database password masked, encoded and decoded");
		ok(strstr(text, "bell\\x07 esc\\x1b[31m del\\x7f end") != NULL,
		   "control characters escaped");
		ok(strchr(text, '\033') == NULL && strchr(text, '\a') == NULL, "no raw control bytes");
	}

	/* more forms: HCOLON with a tab, JSON escaped inside a string,
	 * passwords in URLs nobody registered */
	log_msg(LOG_ERR, "sip", "Authorization\t: Digest response=\"tabbed0001\"");
	log_msg(LOG_ERR, "api", "body \"{\\\"Authorization\\\": \\\"Basic escaped0002\\\"}\"");
	log_msg(LOG_ERR, "webhook", "GET https://alice:webpw0003@example.com/x failed");
	log_msg(LOG_ERR, "store", "url postgres://bob:dbpw0004@[::1]:5432/db");
	log_msg(LOG_ERR, "dial", "target <sip:carol:sippw0005@10.0.0.1:5060;transport=tcp>");
	log_msg(LOG_ERR, "dial", "plain sip:dave@h:5060 and http://h:8080/p?a=b@c stay");
	text = slurp();
	ok(strstr(text, "tabbed0001") == NULL, "Authorization with a tab before the colon");
	ok(strstr(text, "escaped0002") == NULL, "JSON \\\"Authorization\\\": inside a string");
	ok(strstr(text, "webpw0003") == NULL && strstr(text, "https://alice:[redacted]@example.com/x"),
	   "password in an http(s) URL masked, user and host kept");
	ok(strstr(text, "dbpw0004") == NULL && strstr(text, "postgres://bob:[redacted]@[::1]"),
	   "password in an unregistered database URL masked");
	ok(strstr(text, "sippw0005") == NULL && strstr(text, "sip:carol:[redacted]@10.0.0.1"),
	   "password in a sip: URI masked");
	ok(strstr(text, "plain sip:dave@h:5060 and http://h:8080/p?a=b@c stay") != NULL,
	   "URIs without a password untouched");

	/* a line cut at the end of its format buffer: 8 copies of a 1000-byte
	 * token shrink to "[redacted]" and pull the tail in, which holds the
	 * first part of the token, or a URL password without its '@' */
	{
		static char tok[1001], msg[12000];
		size_t o = 0;

		for (size_t i = 0; i < 1000; i++)
			tok[i] = "Qz0123456789ABCDEFGHIJKLMNOPQRSTUVWXY"[i % 37];
		tok[1000] = '\0';
		log_add_secret(tok);
		for (int c = 0; c < 2; c++) {
			o = 0;
			for (int i = 0; i < 8; i++) {
				memcpy(msg + o, tok, 1000);
				o += 1000;
				msg[o++] = ' ';
			}
			memset(msg + o, 'b', 9150 - o);
			o = 9150;
			if (c == 0)
				memcpy(msg + o, tok, 1000), o += 1000;
			else
				o += (size_t)sprintf(msg + o, " https://u:Pw%0400d@h", 7);
			msg[o] = '\0';
			log_msg(LOG_ERR, "api", "%s", msg);
		}
		text = slurp();
		ok(strstr(text, "Qz0123456789ABCDEFGHIJ") == NULL,
		   "the start of a secret cut at the format buffer's end is not shown");
		ok(strstr(text, "Pw0000000000") == NULL,
		   "a URL password cut before its '@' is not shown");
	}

	/* the loop thread's info lines wait for the end of the loop's pass;
	 * a warning goes out at once, after them */
	{
		struct event_base *base = event_base_new();

		is_int(log_defer_start(base), 0, "deferred lines start");
		log_msg(LOG_INFO, "call", "deferred one");
		log_msg(LOG_NOTICE, "call", "deferred two");
		ok(strstr(slurp(), "deferred one") == NULL,
		   "an info line waits while the pass runs");
		event_base_loop(base, EVLOOP_NONBLOCK);
		text = slurp();
		ok(strstr(text, "deferred one") && strstr(text, "deferred two") &&
		   strstr(text, "deferred one") < strstr(text, "deferred two"),
		   "the end of the pass writes them, in order");
		log_msg(LOG_INFO, "call", "deferred three");
		log_msg(LOG_WARNING, "call", "urgent four");
		text = slurp();
		ok(strstr(text, "deferred three") && strstr(text, "urgent four") &&
		   strstr(text, "deferred three") < strstr(text, "urgent four"),
		   "a warning writes what waits and itself at once");
		log_msg(LOG_INFO, "call", "deferred five");
		log_defer_stop();
		ok(strstr(slurp(), "deferred five") != NULL, "stop writes what waits");
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}

	/* SIGHUP after rotation: the old name is moved, reopen creates it anew */
	snprintf(moved, sizeof(moved), "%s.1", path);
	rename(path, moved);
	is_int(log_reopen(), 0, "reopen");
	log_msg(LOG_NOTICE, "daemon", "after rotation");
	text = slurp();
	ok(strstr(text, "after rotation") && !strstr(text, "leg answered"),
	   "reopen writes to a new file");
	log_close();
	unlink(path);
	unlink(moved);
	return tap_done();
}
