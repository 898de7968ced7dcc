/* cmd_trace.c: dialerd trace: a call's SIP messages and its legs' as a ladder, from the call log */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "dial/dial.h"
#include "store/store.h"

struct trace {
	const char *sid;
	bool bodies;
	bool unknown;
};

/* Bytes as they were on the wire, but safe for a terminal: control
 * characters and bytes past ASCII (a header may hold any) as \xNN. */
static void put_bytes(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void put_str(const char *s)
{
	if (s)
		put_bytes(s, strlen(s));
}

/* The body under its message, each line indented (CRLF as a line end);
 * a body the store cut (DIAL_BODY_MAX) says so. A body that was not valid
 * text comes as the store keeps it, escaped (\ooo). */
static void put_body(const struct store_sip_row *r)
{
	const char *p = r->body;

	printf("        (body%s%s)\n", r->body_type ? " " : "",
	       r->body_type ? r->body_type : "");
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		printf("          ");
		put_bytes(p, n && p[n - 1] == '\r' ? n - 1 : n);
		putchar('\n');
		p += n + (nl != NULL);
	}
	if (r->body_length > DIAL_BODY_MAX)
		printf("          (cut: the first %d of %lld bytes)\n",
		       DIAL_BODY_MAX, (long long)r->body_length);
}

/* "CA..1a2b3c": the SID's last six digits tell the legs of one call apart */
static void short_sid(char *buf, size_t size, const char *sid)
{
	size_t n = sid ? strlen(sid) : 0;

	if (n > 10)
		snprintf(buf, size, "%.2s..%s", sid, sid + n - 6);
	else
		snprintf(buf, size, "%s", sid ? sid : "?");
}

static void on_rows(int err, const struct store_sip_row *rows, size_t n,
		    void *arg)
{
	struct trace *t = arg;
	size_t legs = 0;

	if (err == ENOENT) {
		t->unknown = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(rows[k].call_sid, rows[i].call_sid) == 0;
		legs += !seen;
	}
	printf("call %s: %zu SIP message%s on %zu leg%s\n", t->sid, n,
	       n == 1 ? "" : "s", legs, legs == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		const struct store_sip_row *r = &rows[i];
		char leg[24];
		double ms = (double)(r->at - rows[0].at) / 1000.0;

		short_sid(leg, sizeof(leg), r->call_sid);
		/* --> sent by dialerd, <-- received */
		printf("%10.3f ms  %s  %s  ", ms, leg,
		       r->direction == STORE_DIR_OUT ? "-->" : "<--");
		put_str(r->start_line);
		putchar('\n');
		for (size_t k = 0; k < r->nhdrs; k++) {
			const struct store_header *h = &r->hdrs[k];

			printf("        ");
			put_bytes(h->name, h->name_len);
			printf(": ");
			put_bytes(h->value, h->value_len);
			putchar('\n');
		}
		if (r->sdp) {
			printf("        (sdp) ");
			put_str(r->sdp);
			putchar('\n');
		}
		if (t->bodies && r->body)
			put_body(r);
	}
}

int cmd_trace(const struct config *cfg, int argc, char **argv)
{
	struct trace t = {0};
	int first = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--bodies") == 0) {
			t.bodies = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: dialerd trace [--config FILE] [--bodies] CA...\n");
			return 2;
		} else if (!first) {
			first = i;
		}
	}
	if (!first) {
		fprintf(stderr, "usage: dialerd trace [--config FILE] [--bodies] CA...\n");
		return 2;
	}
	if (!cfg->database_url || !*cfg->database_url) {
		fprintf(stderr, "dialerd trace: no database_url configured "
				"(set it in the file or DIALERD_DATABASE_URL)\n");
		return 1;
	}
	for (int i = first; i < argc; i++) {
		char err[768];
		int e;

		if (argv[i][0] == '-')
			continue;
		t.sid = argv[i];
		t.unknown = false;
		if (i > first)
			putchar('\n');
		e = store_sip_messages_fetch(cfg->database_url, t.sid, t.bodies,
					     10, on_rows, &t, err, sizeof(err));
		fflush(stdout);
		if (e) {
			fprintf(stderr, "dialerd trace: %s\n",
				err[0] ? err : strerror(e));
			return 1;
		}
		if (t.unknown) {
			fprintf(stderr, "dialerd trace: no call %s in the call log\n",
				t.sid);
			rc = 1;
		}
	}
	return rc;
}
