/* fuzz_dial_sip.c: libFuzzer target for dial/'s parsers of network input: SIP text, Reason, Session-Expires, SDP */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dial/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dial_event *ev = NULL, *cp;
	struct dial_reason r;
	struct dial_sdp s;
	char *str, out[4096], ref[8];
	enum dial_codec pcma = DIAL_CODEC_PCMA;

	if (size > 65536)
		return 0;
	if (!dial_msg_parse(&ev, data, size, DIAL_DIR_RX, 1)) {
		(void)dial_event_hdr(ev, "Call-ID");
		(void)dial_event_hdr(ev, "x");
		cp = dial_event_clone(ev, DIAL_EV_ENDED);
		/* what the daemon gets: names and values of one line each
		 * (a bare CR of a malformed message may stay in a value: the
		 * log escapes it, webhooks encode it, the store keeps bytes),
		 * non-empty names without a colon, a header block within the
		 * input, the rest of the input as body (cut at DIAL_BODY_MAX),
		 * and a clone equal to it */
		if (ev->raw_len > size || (ev->start_line &&
					   strchr(ev->start_line, '\n')))
			abort();
		if (ev->body_total != size - ev->raw_len ||
		    ev->body_len > DIAL_BODY_MAX ||
		    ev->body_len != (ev->body_total < DIAL_BODY_MAX ?
				     ev->body_total : DIAL_BODY_MAX) ||
		    (ev->body_len && (memcmp(ev->body, data + ev->raw_len,
					     ev->body_len) ||
				      ev->body[ev->body_len])))
			abort();
		for (size_t i = 0; i < ev->hdrc; i++)
			if (!ev->hdrv[i].name[0] ||
			    strpbrk(ev->hdrv[i].name, "\n:") ||
			    strchr(ev->hdrv[i].value, '\n'))
				abort();
		if (cp) {
			if (cp->hdrc != ev->hdrc || cp->type != DIAL_EV_ENDED ||
			    cp->body_len != ev->body_len ||
			    (cp->body_len && (cp->body == ev->body ||
					      memcmp(cp->body, ev->body,
						     cp->body_len))))
				abort();
			for (size_t i = 0; i < cp->hdrc; i++)
				if (strcmp(cp->hdrv[i].name, ev->hdrv[i].name) ||
				    strcmp(cp->hdrv[i].value, ev->hdrv[i].value))
					abort();
			dial_event_free(cp);
		}
		dial_event_free(ev);
	}
	/* the header-value parsers and the SDP answerer see C strings */
	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	(void)dial_reason_parse(&r, str);
	(void)dial_se_parse(str, ref, sizeof(ref));
	(void)dial_list_has(str, "UPDATE");
	dial_sdp_summary(&s, str, size);
	(void)dial_sdp_answer(out, sizeof(out), str, size, "127.0.0.1", 4000,
			      NULL, 0, 1, &s);
	(void)dial_sdp_answer(out, sizeof(out), str, size, "::1", 4000,
			      &pcma, 1, 1, NULL);
	free(str);
	return 0;
}
