/* fuzz_restart_bye.c: libFuzzer target for the orphaned dialogs: the call log's messages of a leg (from the wire, so hostile) into the dialog (restart_bye.c), and that into a BYE (dial/bye.c, libre's parser) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/restart_bye.h"
#include "dial/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXMSG 16
#define MAXHDR 32

/* Input: messages separated by lines "--i" or "--o" (the direction);
 * in each, a start line and "Name: value" header lines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_sip_row rows[MAXMSG];
	struct store_header hdrs[MAXMSG][MAXHDR];
	char methods[MAXMSG][32];
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
	for (line = strtok_r(text, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		struct store_sip_row *r = n ? &rows[n - 1] : NULL;
		char *colon;

		if (!strcmp(line, "--i") || !strcmp(line, "--o")) {
			if (n == MAXMSG)
				break;
			r = &rows[n];
			r->call_sid = "CA1";
			r->direction = line[2] == 'o' ? STORE_DIR_OUT : STORE_DIR_IN;
			r->hdrs = hdrs[n++];
			continue;
		}
		if (!r)
			continue;
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
	free(text);
	return 0;
}
