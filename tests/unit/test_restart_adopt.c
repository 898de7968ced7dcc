/* test_restart_adopt.c: which connected calls the restart takes up again, from the call log's rows (restart_adopt.c) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/call.h"
#include "daemon/restart_adopt.h"
#include "dial/dial.h"
#include "tests/tap.h"

#define MAXH 12
struct msg {
	struct store_sip_row row;
	struct store_header h[MAXH];
	char method[16];
};

static void mk(struct msg *m, const char *sid, uint32_t seq, enum store_dir dir,
	       const char *start, const char *body, const char *const *hdrs)
{
	memset(m, 0, sizeof(*m));
	m->row.call_sid = sid;
	m->row.seq = seq;
	m->row.direction = dir;
	m->row.start_line = start;
	if (!strncmp(start, "SIP/2.0 ", 8)) {
		m->row.status_code = atoi(start + 8);
	} else {
		snprintf(m->method, sizeof(m->method), "%.*s",
			 (int)strcspn(start, " "), start);
		m->row.method = m->method;
	}
	if (body) {
		m->row.body = body;
		m->row.body_type = "application/sdp";
		m->row.body_length = (int64_t)strlen(body);
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

static void set_value(struct store_header *h, const char *v)
{
	h->value = v;
	h->value_len = strlen(v);
}

#define IN STORE_DIR_IN
#define OUT STORE_DIR_OUT
#define H(...) (const char *const[]){__VA_ARGS__, NULL}
#define HERE "10.0.0.1", 5060	/* sip_listen */

static const char caller_sdp[] = "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 4000 RTP/AVP 0\r\n";
static const char our_a_sdp[] = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 20000 RTP/AVP 0\r\n";
static const char our_b_sdp[] = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 20002 RTP/AVP 0\r\n";
static const char callee_sdp[] = "v=0\r\nc=IN IP4 10.0.0.3\r\nm=audio 6000 RTP/AVP 0\r\n";

/* A bridged call: the caller's leg CAp (inbound), the callee's CAc. */
static size_t call(struct msg *m, bool bye)
{
	size_t n = 0;

	mk(&m[n++], "CAp", 0, IN, "INVITE sip:+15550100@10.0.0.1 SIP/2.0", caller_sdp,
	   H("Via", "SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK1;received=192.0.2.7",
	     "From", "<sip:carol@10.0.0.2>;tag=c1", "To", "<sip:+15550100@10.0.0.1>",
	     "Call-ID", "a@10.0.0.2", "CSeq", "7 INVITE",
	     "Contact", "<sip:carol@10.0.0.2:5070>", "X-Customer", "42",
	     "Content-Type", "application/sdp"));
	mk(&m[n++], "CAc", 0, OUT, "INVITE sip:bob@10.0.0.3 SIP/2.0", our_b_sdp,
	   H("From", "<sip:carol@10.0.0.1>;tag=d2", "To", "<sip:bob@10.0.0.3>",
	     "Call-ID", "b@10.0.0.1", "CSeq", "1 INVITE",
	     "Contact", "<sip:10.0.0.1:5060>"));
	mk(&m[n++], "CAc", 1, IN, "SIP/2.0 200 OK", callee_sdp,
	   H("From", "<sip:carol@10.0.0.1>;tag=d2", "To", "<sip:bob@10.0.0.3>;tag=b1",
	     "Call-ID", "b@10.0.0.1", "CSeq", "1 INVITE",
	     "Contact", "<sip:bob@10.0.0.3:5080>", "X-Agent", "7",
	     "Server", "sipp"));
	mk(&m[n++], "CAc", 2, OUT, "ACK sip:bob@10.0.0.3:5080 SIP/2.0", NULL,
	   H("CSeq", "1 ACK"));
	mk(&m[n++], "CAp", 1, OUT, "SIP/2.0 200 OK", our_a_sdp,
	   H("From", "<sip:carol@10.0.0.2>;tag=c1", "To", "<sip:+15550100@10.0.0.1>;tag=d1",
	     "Call-ID", "a@10.0.0.2", "CSeq", "7 INVITE",
	     "Contact", "<sip:10.0.0.1:5060>"));
	mk(&m[n++], "CAp", 2, IN, "ACK sip:10.0.0.1:5060 SIP/2.0", NULL,
	   H("CSeq", "7 ACK"));
	if (bye) {	/* the callee hangs up */
		mk(&m[n++], "CAc", 3, IN, "BYE sip:10.0.0.1:5060 SIP/2.0", NULL,
		   H("CSeq", "2 BYE", "X-Disposition", "done", "Reason",
		     "Q.850;cause=16"));
		m[n - 1].row.at = 5000000;
	}
	return n;
}

static void open_calls(struct store_open_call *p, struct store_open_call *c)
{
	memset(p, 0, sizeof(*p));
	memset(c, 0, sizeof(*c));
	p->sid = "CAp";
	p->direction = "inbound";
	p->answered_at = 1000000;
	p->next_event = 4;
	p->time_limit = 300;	/* read from the row; an inbound call has none */
	c->sid = "CAc";
	c->parent_call_sid = "CAp";
	c->direction = "outbound-dial";
	c->answered_at = 2000000;
	c->dial_known = true;
	c->dial_action = "http://app.example/action";
	c->dial_time_limit = 600;
	c->cb_url = "http://app.example/status";
	c->cb_completed = true;
}

static struct store_sip_row *rows_of(struct msg *m, size_t n)
{
	struct store_sip_row *r = calloc(n, sizeof(*r));

	for (size_t i = 0; r && i < n; i++)
		r[i] = m[i].row;
	return r;
}

static void test_adopted(void)
{
	struct msg m[8];
	struct store_open_call p, c;
	struct store_sip_row *r;
	struct restart_adopts *a = NULL;
	struct call_adopt ca;
	struct dial_adopt pa, ch;
	size_t n = call(m, false);

	open_calls(&p, &c);
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), 0,
	       "a connected <Dial>: adopted");
	is_int((int)restart_adopts_count(a), 1, "one pair");
	ok(restart_adopts_has(a, "CAp") && restart_adopts_has(a, "CAc") &&
	   !restart_adopts_has(a, "CAx"), "both its calls, no other");
	restart_adopts_get(a, 0, &ca, &pa, &ch);
	ok(!strcmp(pa.id, "CAp") && !pa.uac && strstr(pa.invite, "CSeq: 7 INVITE") &&
	   strstr(pa.ok, "tag=d1"), "the caller's dialog: its INVITE and our 200");
	ok(!strcmp(ch.id, "CAc") && ch.uac && ch.cseq == 2 &&
	   strstr(ch.ok, "tag=b1"), "the callee's: our INVITE, its 200, our next CSeq");
	ok(pa.local_sdp && !strcmp(pa.local_sdp, our_a_sdp) &&
	   pa.peer_sdp && !strcmp(pa.peer_sdp, caller_sdp),
	   "the caller's leg: our SDP and the caller's");
	ok(ch.local_sdp && !strcmp(ch.local_sdp, our_b_sdp) &&
	   ch.peer_sdp && !strcmp(ch.peer_sdp, callee_sdp),
	   "the callee's leg: our SDP and the callee's");
	is_int((int)ca.parent.next_msg, 3, "the caller's next message number");
	is_int((int)ca.child.next_msg, 3, "the callee's");
	is_int((int)ca.parent.next_event, 4, "call_events numbers go on");
	is_int((int)ca.child.next_callback, 3, "SequenceNumber after the last callback");
	is_int((int)ca.parent.next_callback, 0, "none sent: from 0");
	ok(ca.parent.source_ip && !strcmp(ca.parent.source_ip, "192.0.2.7"),
	   "SipSourceIp from the Via's received");
	ok(ca.parent.nhdrs == 1 && !strcmp(ca.parent.hdr_names[0], "X-Customer") &&
	   !strcmp(ca.parent.hdr_values[0], "42"), "SipHeader_: the INVITE's X- header");
	ok(ca.child.nhdrs == 1 && !strcmp(ca.child.hdr_names[0], "X-Agent"),
	   "DialSipHeader_: the 200's X- header, not its Server");
	ok(ca.dial.action && !strcmp(ca.dial.action, "http://app.example/action") &&
	   ca.dial.time_limit == 600 && !ca.dial.then_doc,
	   "the <Dial>'s action and timeLimit");
	ok(ca.child.cb_url && ca.child.cb_completed, "the child's status callback");
	is_int((int)ca.parent.time_limit_s, 0,
	       "a TimeLimit only for a REST call, not an inbound caller");
	a = restart_adopts_free(a);
	ok(a == NULL, "freed");

	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, "10.0.0.1", 5062),
	       EADDRNOTAVAIL, "listening on another port than the Contact "
	       "the peers have: not adopted");
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, "10.0.0.9", 5060),
	       EADDRNOTAVAIL, "nor on another address");
	ok(a == NULL, "nothing kept");
	set_value(&m[4].h[4], "<sip:dialerd@[2001:db8::1]:5070;transport=udp>");
	set_value(&m[1].h[4], "<sips:dialerd@[2001:db8::1]:5070>");
	free(r);
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, "2001:DB8::1", 5070),
	       0, "an IPv6 Contact with a user and parameters: adopted");
	a = restart_adopts_free(a);
	set_value(&m[1].h[4], "<sips:dialerd@[2001:db8::1]>");
	free(r);
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, "2001:db8::1", 5070),
	       EADDRNOTAVAIL, "sips: without a port is 5061");
	free(r);
	n = call(m, false);
	r = rows_of(m, n);

	/* without its dial record (a process before this one wrote none) */
	c.dial_known = false;
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), ENOENT,
	       "a child without its <Dial>'s record: not adopted");
	c.dial_known = true;
	c.dial_action = "http://u:***@app.example/action";
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EINVAL,
	       "an action whose password the log does not keep: not adopted");
	c.dial_action = NULL;
	c.cb_url = "http://u:***@app.example/status";
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EINVAL,
	       "nor a status callback's");
	c.cb_url = NULL;
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), 0,
	       "no action and no callback: adopted (it ends with the <Dial>)");
	is_int((int)restart_adopts_count(a), 1, "counted");
	a = restart_adopts_free(a);
	c.dial_then_doc = "<Response><Dial>x</Dial><Hangup/></Response>";
	c.dial_then_url = "http://app.example/voice";
	c.dial_then_verb = 1;
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), 0,
	       "no action, a document after the <Dial>: adopted");
	restart_adopts_get(a, 0, &ca, &pa, &ch);
	ok(ca.dial.then_doc && !strcmp(ca.dial.then_doc, c.dial_then_doc) &&
	   ca.dial.then_url && !strcmp(ca.dial.then_url, c.dial_then_url) &&
	   ca.dial.then_verb == 1 && !ca.dial.action,
	   "with the document, its URL and where it goes on");
	a = restart_adopts_free(a);
	c.dial_then_url = "http://u:***@app.example/voice";
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EINVAL,
	       "a document URL with its password kept as ***: not adopted");
	c.dial_then_doc = c.dial_then_url = NULL;
	c.answered_at = 0;
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), ENOENT,
	       "a child not answered: not adopted");
	ok(a == NULL, "and no list made");
	free(r);
}

static void test_not_adopted(void)
{
	struct msg m[8];
	struct store_open_call p, c;
	struct store_sip_row *r;
	struct restart_adopts *a = NULL;
	size_t n = call(m, true);

	open_calls(&p, &c);
	m[n - 1].row.direction = OUT;
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EALREADY,
	       "dialerd's BYE to the callee of a child still open: it was ending");
	free(r);
	n = call(m, true);
	m[n - 1].row.call_sid = "CAp";	/* the caller hangs up */
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EALREADY,
	       "the caller's BYE: it was ending");
	c.ended_at = 7000000;
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), EALREADY,
	       "... whether or not its child's end is logged");
	free(r);
	c.ended_at = 0;
	n = call(m, false);
	m[2].row.body = NULL;	/* call_log_bodies none */
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), ENOENT,
	       "the callee's SDP not in the log: not adopted");
	free(r);
	n = call(m, false);
	r = rows_of(m, n - 2);	/* no 200 to the caller yet */
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n - 2, HERE), ENOENT,
	       "the caller's dialog not in the log: not adopted");
	ok(a == NULL && restart_adopts_count(a) == 0, "nothing kept");
	restart_adopts_send(NULL, NULL);
	restart_adopts_calls(NULL, NULL, NULL);
	free(r);
}

/* The <Dial> ended in the dead process's last moment, the caller up: the
 * caller's leg is taken up alone and the child ends as the log says. */
static void test_dial_ended(void)
{
	struct msg m[8];
	struct store_open_call p, c;
	struct store_sip_row *r;
	struct restart_adopts *a = NULL;
	struct call_adopt ca;
	struct dial_adopt pa, ch;
	size_t n = call(m, true);

	open_calls(&p, &c);
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), 0,
	       "the callee's BYE logged, the child still open: adopted");
	restart_adopts_get(a, 0, &ca, &pa, &ch);
	ok(ca.child.ended_us == 5000000 && !ca.child.end_logged,
	   "the child ends at its callee's BYE, its end not logged yet");
	ok(ca.child.nbye == 1 && !strcmp(ca.child.bye_hdrs[0].name, "X-Disposition") &&
	   !strcmp(ca.child.bye_hdrs[0].value, "done"),
	   "the BYE's policy headers, for DialSipHeader_ (its Reason is not one)");
	ok(ca.child.nhdrs == 1 && !strcmp(ca.child.hdr_values[0], "7"),
	   "the 200's as before");
	is_int((int)ca.child.next_msg, 4, "the child's messages go on after its BYE");
	ok(ca.parent.ended_us == 0 && pa.id && !strcmp(pa.id, "CAp"),
	   "the caller's leg is up, to take up");
	a = restart_adopts_free(a);

	c.ended_at = 7000000;	/* its end logged: a time limit's BYE */
	m[n - 1].row.direction = OUT;
	free(r);
	r = rows_of(m, n);
	is_int(restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE), 0,
	       "the child's end logged, dialerd's BYE to it: adopted");
	restart_adopts_get(a, 0, &ca, &pa, &ch);
	ok(ca.child.ended_us == 7000000 && ca.child.end_logged &&
	   ca.child.nbye == 0,
	   "the child ends as its row says; a BYE dialerd sent overlays nothing");
	a = restart_adopts_free(a);
	free(r);
}

static void test_many(void)
{
	struct msg m[8];
	struct store_open_call p, c;
	struct store_sip_row *r;
	struct restart_adopts *a = NULL;
	size_t n = call(m, false);
	char ps[40][8], cs[40][8];

	open_calls(&p, &c);
	for (int i = 0; i < 40; i++) {
		snprintf(ps[i], sizeof(ps[i]), "CAp%d", i);
		snprintf(cs[i], sizeof(cs[i]), "CAc%d", i);
		for (size_t k = 0; k < n; k++)
			m[k].row.call_sid = !strncmp(m[k].row.call_sid,
						     "CAp", 3) ? ps[i] : cs[i];
		p.sid = ps[i];
		c.sid = cs[i];
		c.parent_call_sid = ps[i];
		r = rows_of(m, n);
		(void)restart_adopts_add(&a, &p, -1, &c, 2, r, n, HERE);
		free(r);
	}
	is_int((int)restart_adopts_count(a), 40, "40 pairs kept (the list grows)");
	ok(restart_adopts_has(a, "CAp17") && restart_adopts_has(a, "CAc39"),
	   "each found by SID");
	a = restart_adopts_free(a);
}

int main(void)
{
	test_adopted();
	test_not_adopted();
	test_dial_ended();
	test_many();
	return tap_done();
}
