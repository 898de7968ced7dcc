/* fuzz_restart_bye.c: libFuzzer target for the orphaned dialogs: the call log's messages of a call's legs (from the wire, so hostile) into a leg's dialog (restart_bye.c) and that into a BYE (dial/bye.c, libre's parser), and into an adoption (restart_adopt.c) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/call.h"
#include "daemon/restart_adopt.h"
#include "daemon/restart_bye.h"
#include "dial/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXMSG 16
#define MAXHDR 32

/* Both legs of a connected <Dial>: CA1 the caller's, CA2 the callee's. */
static void adopt(const struct store_sip_row *rows, size_t n)
{
	struct store_open_call p = {
		.sid = "CA1", .direction = "inbound", .answered_at = 1,
	};
	struct store_open_call c = {
		.sid = "CA2", .parent_call_sid = "CA1",
		.direction = "outbound-dial", .answered_at = 2,
		.dial_known = true, .dial_action = "http://a.example/x",
	};
	struct restart_adopts *a = NULL;
	struct call_adopt ca;
	struct dial_adopt pa, ch;

	if (restart_adopts_add(&a, &p, -1, &c, 2, rows, n, "127.0.0.1", 5060))
		return;
	restart_adopts_get(a, 0, &ca, &pa, &ch);
	if (!pa.local_sdp || !pa.peer_sdp || !ch.local_sdp || !ch.peer_sdp ||
	    strcmp(ca.parent.sid, "CA1") || strcmp(ch.id, "CA2") ||
	    !restart_adopts_has(a, "CA2"))
		abort();
	for (size_t i = 0; i < ca.parent.nhdrs; i++)
		if (!ca.parent.hdr_names[i] || !ca.parent.hdr_values[i])
			abort();
	restart_adopts_free(a);
}

/* Input: messages separated by lines "--i" or "--o" (the direction; the
 * caller's leg CA1) or "--I" or "--O" (the callee's, CA2); in each, a
 * start line, "Name: value" header lines and "~" lines, the SDP body's. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_sip_row rows[MAXMSG];
	struct store_header hdrs[MAXMSG][MAXHDR];
	char methods[MAXMSG][32];
	char bodies[MAXMSG][512];
	struct dial_bye b;
	struct dial_bye_msg *m = NULL;
	char *text, *line, *save = NULL;
	size_t n = 0;

	if (size > 16384)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(rows, 0, sizeof(rows));
	memset(methods, 0, sizeof(methods));
	memset(bodies, 0, sizeof(bodies));
	for (line = strtok_r(text, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		struct store_sip_row *r = n ? &rows[n - 1] : NULL;
		char *colon;

		if (!strcmp(line, "--i") || !strcmp(line, "--o") ||
		    !strcmp(line, "--I") || !strcmp(line, "--O")) {
			if (n == MAXMSG)
				break;
			r = &rows[n];
			r->call_sid = line[2] == 'i' || line[2] == 'o' ? "CA1" :
				      "CA2";
			r->seq = (uint32_t)n;
			r->direction = line[2] == 'o' || line[2] == 'O' ?
				       STORE_DIR_OUT : STORE_DIR_IN;
			r->hdrs = hdrs[n++];
			continue;
		}
		if (!r)
			continue;
		if (line[0] == '~') {
			char *body = bodies[n - 1];
			size_t o = strlen(body);

			snprintf(body + o, sizeof(bodies[0]) - o, "%s\r\n",
				 line + 1);
			r->body = body;
			r->body_type = "application/sdp";
			continue;
		}
		if (!r->start_line) {
			/* the columns the writer fills from the start line */
			r->start_line = line;
			if (!strncmp(line, "SIP/2.0 ", 8))
				r->status_code = atoi(line + 8);
			else {
				snprintf(methods[n - 1], sizeof(methods[n - 1]),
					 "%.*s", (int)strcspn(line, " "), line);
				r->method = methods[n - 1];
			}
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || r->nhdrs == MAXHDR)
			continue;
		hdrs[n - 1][r->nhdrs] = (struct store_header){
			line, (size_t)(colon - line),
			colon + 1 + strspn(colon + 1, " "),
			strlen(colon + 1 + strspn(colon + 1, " ")),
		};
		r->nhdrs++;
	}
	if (!restart_bye_dialog(&b, "CA1", rows, n)) {
		size_t li = strlen(b.invite), lo = strlen(b.ok);

		/* whole messages: a start line, then CRLF CRLF at the end */
		if (li < 4 || lo < 4 || strcmp(b.invite + li - 4, "\r\n\r\n") ||
		    strcmp(b.ok + lo - 4, "\r\n\r\n") || !b.cseq)
			abort();
		if (!dial_bye_build(&m, b.invite, b.ok, b.uac, b.cseq, NULL)) {
			/* one header block: no empty line before its end */
			char *end = strstr(m->hdrs, "\r\n\r\n");

			if (!m->ruri || !end || end[4] != '\0')
				abort();
			mem_deref(m);
		}
		restart_bye_dialog_free(&b);
	}
	adopt(rows, n);
	free(text);
	return 0;
}
