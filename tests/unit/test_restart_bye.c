/* test_restart_bye.c: a leg's dialog rebuilt from the call log's SIP messages (restart_bye.c) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/restart_bye.h"
#include "tests/tap.h"

/* A message as store_sip_messages_query hands it: headers with lengths,
 * not NUL-terminated in general (the strings here happen to be). */
#define MAXH 12
struct msg {
	struct store_sip_row row;
	struct store_header h[MAXH];
	char method[16];
};

static void mk(struct msg *m, const char *sid, enum store_dir dir,
	       const char *start, const char *const *hdrs)
{
	memset(m, 0, sizeof(*m));
	m->row.call_sid = sid;
	m->row.direction = dir;
	m->row.start_line = start;
	/* the columns the writer fills from the start line */
	if (!strncmp(start, "SIP/2.0 ", 8))
		m->row.status_code = atoi(start + 8);
	else {
		snprintf(m->method, sizeof(m->method), "%.*s",
			 (int)strcspn(start, " "), start);
		m->row.method = m->method;
	}
	m->row.hdrs = m->h;
	for (size_t i = 0; hdrs[i] && i / 2 < MAXH; i += 2) {
		m->h[i / 2].name = hdrs[i];
		m->h[i / 2].name_len = strlen(hdrs[i]);
		m->h[i / 2].value = hdrs[i + 1];
		m->h[i / 2].value_len = strlen(hdrs[i + 1]);
		m->row.nhdrs++;
	}
}

static struct store_sip_row *rows_of(struct msg *m, size_t n)
{
	struct store_sip_row *r = calloc(n, sizeof(*r));

	for (size_t i = 0; r && i < n; i++)
		r[i] = m[i].row;
	return r;
}

#define IN STORE_DIR_IN
#define OUT STORE_DIR_OUT
#define H(...) (const char *const[]){__VA_ARGS__, NULL}

static void test_inbound(void)
{
	struct msg m[6];
	struct store_sip_row *r;
	struct dial_bye b;

	mk(&m[0], "CA1", IN, "INVITE sip:+15550100@10.0.0.1:5060 SIP/2.0",
	   H("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1",
	     "From", "<sip:carol@10.0.0.2>;tag=c1", "To", "<sip:+15550100@10.0.0.1>",
	     "Call-ID", "abc@10.0.0.2", "CSeq", "7 INVITE",
	     "Contact", "<sip:carol@10.0.0.2:5062>", "Content-Length", "238"));
	mk(&m[1], "CA2", OUT, "INVITE sip:bob@10.0.0.3 SIP/2.0",
	   H("CSeq", "1 INVITE", "Call-ID", "other"));
	mk(&m[2], "CA1", OUT, "SIP/2.0 180 Ringing",
	   H("CSeq", "7 INVITE", "To", "<sip:+15550100@10.0.0.1>;tag=d1"));
	mk(&m[3], "CA1", OUT, "SIP/2.0 200 OK",
	   H("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1",
	     "From", "<sip:carol@10.0.0.2>;tag=c1", "To", "<sip:+15550100@10.0.0.1>;tag=d1",
	     "Call-ID", "abc@10.0.0.2", "CSeq", "7 INVITE",
	     "Contact", "<sip:10.0.0.1:5060>", "l", "240"));
	mk(&m[4], "CA1", IN, "ACK sip:10.0.0.1:5060 SIP/2.0", H("CSeq", "7 ACK"));
	mk(&m[5], "CA2", OUT, "BYE sip:bob@10.0.0.3 SIP/2.0", H("CSeq", "2 BYE"));
	r = rows_of(m, 6);
	is_int(restart_bye_dialog(&b, "CA1", r, 6), 0, "inbound leg: a dialog");
	ok(!b.uac, "we answered it: not the UAC");
	is_int((int)b.cseq, 1, "no request of ours in it: CSeq 1");
	is_str(b.id, "CA1", "its SID");
	is_str(b.invite, "INVITE sip:+15550100@10.0.0.1:5060 SIP/2.0\r\n"
	       "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\n"
	       "From: <sip:carol@10.0.0.2>;tag=c1\r\nTo: <sip:+15550100@10.0.0.1>\r\n"
	       "Call-ID: abc@10.0.0.2\r\nCSeq: 7 INVITE\r\n"
	       "Contact: <sip:carol@10.0.0.2:5062>\r\n\r\n",
	       "the INVITE as it came, without its Content-Length");
	ok(strstr(b.ok, "SIP/2.0 200 OK\r\n") == b.ok &&
	   strstr(b.ok, ";tag=d1\r\n") && !strstr(b.ok, "l: 240") &&
	   !strstr(b.ok, "180"), "the 200, not the 180, without its compact l:");
	restart_bye_dialog_free(&b);
	is_int(restart_bye_dialog(&b, "CA2", r, 6), EALREADY,
	       "a leg with a BYE had ended before the kill");
	is_int(restart_bye_dialog(&b, "CA9", r, 6), ENOENT, "no messages: none");
	free(r);
}

static void test_outbound(void)
{
	struct msg m[9];
	struct store_sip_row *r;
	struct dial_bye b;

	mk(&m[0], "CA2", OUT, "INVITE sip:bob@10.0.0.3 SIP/2.0",
	   H("From", "<sip:+15550199@10.0.0.1>;tag=o1", "To", "<sip:bob@10.0.0.3>",
	     "Call-ID", "x1", "CSeq", "101 INVITE"));
	mk(&m[1], "CA2", IN, "SIP/2.0 407 Proxy Authentication Required",
	   H("To", "<sip:bob@10.0.0.3>;tag=p", "CSeq", "101 INVITE"));
	mk(&m[2], "CA2", OUT, "ACK sip:bob@10.0.0.3 SIP/2.0", H("CSeq", "101 ACK"));
	mk(&m[3], "CA2", OUT, "INVITE sip:bob@10.0.0.3 SIP/2.0",
	   H("From", "<sip:+15550199@10.0.0.1>;tag=o1", "To", "<sip:bob@10.0.0.3>",
	     "Call-ID", "x1", "CSeq", "102 INVITE", "Proxy-Authorization", "Digest x"));
	mk(&m[4], "CA2", IN, "SIP/2.0 200 OK",
	   H("From", "<sip:+15550199@10.0.0.1>;tag=o1", "To", "<sip:bob@10.0.0.3>;tag=b1",
	     "Call-ID", "x1", "CSeq", "102 INVITE", "Record-Route", "<sip:10.0.0.9;lr>",
	     "Contact", "<sip:bob@10.0.0.3:5070>"));
	mk(&m[5], "CA2", OUT, "ACK sip:bob@10.0.0.3:5070 SIP/2.0", H("CSeq", "102 ACK"));
	/* a session refresh of ours and its 200: the dialog's 2xx stays
	   the first one, the BYE's CSeq goes above the refresh */
	mk(&m[6], "CA2", OUT, "INVITE sip:bob@10.0.0.3:5070 SIP/2.0",
	   H("CSeq", "103 INVITE", "To", "<sip:bob@10.0.0.3>;tag=b1"));
	mk(&m[7], "CA2", IN, "SIP/2.0 200 OK",
	   H("CSeq", "103 INVITE", "To", "<sip:bob@10.0.0.3>;tag=b1", "Contact", "<sip:moved>"));
	/* their refresh: its CSeq is theirs, not ours */
	mk(&m[8], "CA2", IN, "UPDATE sip:10.0.0.1 SIP/2.0", H("CSeq", "900 UPDATE"));
	r = rows_of(m, 9);
	is_int(restart_bye_dialog(&b, "CA2", r, 9), 0, "outbound leg: a dialog");
	ok(b.uac, "we sent the INVITE: the UAC");
	is_int((int)b.cseq, 104, "CSeq above our requests (103), not theirs (900)");
	ok(strstr(b.invite, "CSeq: 102 INVITE\r\n") &&
	   strstr(b.invite, "Proxy-Authorization"),
	   "the INVITE the 200 answered, after the challenge");
	ok(strstr(b.ok, "CSeq: 102 INVITE\r\n") &&
	   strstr(b.ok, "Record-Route: <sip:10.0.0.9;lr>\r\n"),
	   "the first 200, with its Record-Route");
	restart_bye_dialog_free(&b);
	/* only the 407: never answered */
	is_int(restart_bye_dialog(&b, "CA2", r, 2), ENOENT,
	       "no 2xx: no dialog");
	free(r);
}

static void test_list(void)
{
	struct msg m[2];
	struct store_sip_row *r;
	struct restart_byes *l = NULL;

	mk(&m[0], "CA1", IN, "INVITE sip:a SIP/2.0", H("CSeq", "1 INVITE"));
	mk(&m[1], "CA1", OUT, "SIP/2.0 200 OK", H("CSeq", "1 INVITE"));
	r = rows_of(m, 2);
	is_int(restart_byes_add(&l, "CA1", "CA1", r, 1), ENOENT, "nothing added without a 2xx");
	ok(l == NULL && restart_byes_count(l) == 0, "and no list made");
	for (int i = 0; i < 40; i++)
		(void)restart_byes_add(&l, "CA1", NULL, r, 2);
	is_int((int)restart_byes_count(l), 40, "40 dialogs kept (the list grows)");
	restart_byes_send(NULL, NULL);
	l = restart_byes_free(l);
	ok(l == NULL, "freed");
	free(r);
}

int main(void)
{
	test_inbound();
	test_outbound();
	test_list();
	return tap_done();
}
