/* test_dial_engine.c: two engines in one process call each other on loopback: threads, queues, events */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "dial/dial.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

/* A ends a leg that had no provisional response at once; B's side ends
 * when A's CANCEL follows B's (delayed) 100: wait for that, bounded. */
static void wait_idle(struct dial *b)
{
	for (uint64_t end = dial_test_now_ms() + 5000; dial_test_now_ms() < end;) {
		struct dial_stats st;

		dial_stats_get(b, &st);
		if (st.inbound == st.legs_ended)
			break;
		dial_test_drain(b);
		(void)poll(NULL, 0, 20);
	}
	dial_test_drain(b);
}

static void test_args(struct dial *d)
{
	struct dial_leg_params p;
	struct dial_hdr bad = {"X-Evil", "a\r\nVia: x"};
	char longid[100];

	memset(&p, 0, sizeof(p));
	p.id = "CA1";
	p.uri = "http://example.com";
	is_int(dial_leg_start(d, &p), EINVAL, "non-SIP URI refused");
	p.uri = "sip:a@127.0.0.1:9\r\nX: y";
	is_int(dial_leg_start(d, &p), EINVAL, "CR/LF in URI refused");
	p.uri = "sip:a@127.0.0.1:9";
	p.hdrv = &bad;
	p.hdrc = 1;
	is_int(dial_leg_start(d, &p), EINVAL, "CR/LF in a header refused");
	p.hdrc = 0;
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	p.id = longid;
	is_int(dial_leg_start(d, &p), EINVAL, "over-long id refused");
	p.id = NULL;
	is_int(dial_leg_start(d, &p), EINVAL, "no id refused");
	is_int(dial_inbound_ring(d, "CA1", 200), EINVAL, "ring with 200 refused");
	is_int(dial_inbound_reject(d, "CA1", 200, NULL), EINVAL,
	       "reject with 200 refused");
	is_int(dial_leg_hangup(d, "CAnone", NULL), 0, "hang-up of no leg is harmless");
}

static void test_call(struct dial *a, struct dial *b)
{
	struct dial_leg_params p;
	struct dial_hdr h[] = {{"X-Test", "engine"}};
	struct dial_event *ev;
	char uri[64], in_id[DIAL_ID_MAX] = "";
	struct dial_reason bye = {true, "Q.850", 16, "Normal call clearing"};

	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u", dial_listen_port(b));
	memset(&p, 0, sizeof(p));
	p.id = "CAtest1";
	p.uri = uri;
	p.hdrv = h;
	p.hdrc = 1;
	p.call_sid = "CAtest1";
	p.account_sid = "ACtest";
	is_int(dial_leg_start(a, &p), 0, "leg started");

	ev = dial_test_wait_ev(b, DIAL_EV_INBOUND, NULL, 5000, NULL, NULL);
	if (!ok(ev != NULL, "B saw an inbound INVITE"))
		return;
	snprintf(in_id, sizeof(in_id), "%s", ev->leg_id);
	is_str(dial_event_hdr(ev, "X-Test"), "engine", "with A's X- header");
	is_str(dial_event_hdr(ev, "X-Twilio-CallSid"), "CAtest1",
	       "with the identity header");
	is_str(ev->sdp.codec, "PCMU", "default offer starts with PCMU");
	dial_event_free(ev);
	is_int(dial_inbound_ring(b, in_id, 180), 0, "B rings");
	ev = dial_test_wait_ev(a, DIAL_EV_PROGRESS, "CAtest1", 5000, NULL, NULL);
	ok(ev && ev->code == 180, "A saw 180");
	dial_event_free(ev);
	is_int(dial_inbound_answer(b, in_id, NULL), 0, "B answers");
	ev = dial_test_wait_ev(a, DIAL_EV_ANSWERED, "CAtest1", 5000, NULL, NULL);
	ok(ev && ev->code == 200 && ev->sdp.present, "A answered with SDP");
	dial_event_free(ev);
	ev = dial_test_wait_ev(b, DIAL_EV_ANSWERED, in_id, 5000, NULL, NULL);
	ok(ev != NULL, "B saw the ACK");
	dial_event_free(ev);
	is_int(dial_leg_hangup(a, "CAtest1", &bye), 0, "A hangs up");
	ev = dial_test_wait_ev(a, DIAL_EV_ENDED, "CAtest1", 5000, NULL, NULL);
	ok(ev && ev->end == DIAL_END_COMPLETED && ev->local, "A: completed, local");
	dial_event_free(ev);
	ev = dial_test_wait_ev(b, DIAL_EV_ENDED, in_id, 5000, NULL, NULL);
	ok(ev && ev->end == DIAL_END_COMPLETED && !ev->local, "B: completed, remote");
	ok(ev && ev->reason.present && ev->reason.cause == 16,
	   "B got A's Reason");
	dial_event_free(ev);
}

/* a reject that reaches an answered inbound leg (the daemon saw the failure
 * before the ACK's event) ends it with a BYE instead of leaving it up */
static void test_reject_up(struct dial *a, struct dial *b)
{
	struct dial_leg_params p;
	struct dial_event *ev;
	char uri[64], in_id[DIAL_ID_MAX] = "";
	struct dial_reason why = {true, "SIP", 500, "Server Internal Error"};

	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u", dial_listen_port(b));
	memset(&p, 0, sizeof(p));
	p.id = "CAtest2";
	p.uri = uri;
	p.call_sid = "CAtest2";
	p.account_sid = "ACtest";
	is_int(dial_leg_start(a, &p), 0, "second leg started");
	ev = dial_test_wait_ev(b, DIAL_EV_INBOUND, NULL, 5000, NULL, NULL);
	if (!ok(ev != NULL, "B saw the second INVITE"))
		return;
	snprintf(in_id, sizeof(in_id), "%s", ev->leg_id);
	dial_event_free(ev);
	is_int(dial_inbound_answer(b, in_id, NULL), 0, "B answers it");
	ev = dial_test_wait_ev(b, DIAL_EV_ANSWERED, in_id, 5000, NULL, NULL);
	ok(ev != NULL, "B saw the ACK");
	dial_event_free(ev);
	is_int(dial_inbound_reject(b, in_id, 500, &why), 0,
	       "B rejects the answered leg");
	ev = dial_test_wait_ev(b, DIAL_EV_ENDED, in_id, 5000, NULL, NULL);
	ok(ev && ev->end == DIAL_END_COMPLETED && ev->local,
	   "B: ended, completed by us");
	dial_event_free(ev);
	ev = dial_test_wait_ev(a, DIAL_EV_ENDED, "CAtest2", 5000, NULL, NULL);
	ok(ev && ev->end == DIAL_END_COMPLETED && !ev->local,
	   "A got B's BYE");
	ok(ev && ev->reason.present && ev->reason.cause == 500,
	   "with the reject's Reason");
	dial_event_free(ev);
}

static void test_shed(struct dial *a, struct dial *b)
{
	struct dial_leg_params p;
	struct dial_event *ev;
	struct dial_stats st;
	char uri[64];

	/* a has max_legs 2: the third concurrent leg is refused at once */
	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u", dial_listen_port(b));
	memset(&p, 0, sizeof(p));
	p.uri = uri;
	p.id = "CAs1";
	dial_leg_start(a, &p);
	p.id = "CAs2";
	dial_leg_start(a, &p);
	p.id = "CAs3";
	dial_leg_start(a, &p);
	ev = dial_test_wait_ev(a, DIAL_EV_ENDED, "CAs3", 5000, NULL, NULL);
	ok(ev && ev->err == EBUSY && ev->end == DIAL_END_FAILED,
	   "third leg shed with EBUSY");
	dial_event_free(ev);
	/* b has max_inbound 2: it rejected nothing yet */
	ev = dial_test_wait_ev(b, DIAL_EV_INBOUND, NULL, 5000, NULL, NULL);
	ok(ev != NULL, "first inbound");
	dial_event_free(ev);
	ev = dial_test_wait_ev(b, DIAL_EV_INBOUND, NULL, 5000, NULL, NULL);
	ok(ev != NULL, "second inbound");
	dial_event_free(ev);
	dial_leg_hangup(a, "CAs1", NULL);
	dial_leg_hangup(a, "CAs2", NULL);
	{
		int n = 0, canceled = 0;

		while (n < 2 && (ev = dial_test_wait_ev(a, DIAL_EV_ENDED, NULL, 5000, NULL, NULL))) {
			n++;
			canceled += ev->end == DIAL_END_CANCELED;
			dial_event_free(ev);
		}
		is_int(canceled, 2, "both pending legs cancelled");
	}
	wait_idle(b);
	/* the id of an ended leg can be used again at once */
	p.id = "CAs1";
	dial_leg_start(a, &p);
	p.id = "CAs1";
	dial_leg_start(a, &p);
	ev = dial_test_wait_ev(a, DIAL_EV_ENDED, "CAs1", 5000, NULL, NULL);
	ok(ev && ev->err == EEXIST, "a second live leg of one id is refused");
	dial_event_free(ev);
	dial_leg_hangup(a, "CAs1", NULL);
	ev = dial_test_wait_ev(a, DIAL_EV_ENDED, "CAs1", 5000, NULL, NULL);
	ok(ev && ev->end == DIAL_END_CANCELED, "the reused id's leg ran and ended");
	dial_event_free(ev);
	dial_stats_get(a, &st);
	is_int((long long)st.legs_refused, 2, "two legs refused");
	ok(st.msgs_tx > 0 && st.msgs_rx > 0, "messages counted");
}

/* a reader that does not read: wire copies are shed, state changes kept */
static void test_bound(struct dial *b)
{
	struct dial_conf cc;
	struct dial *c = NULL;
	struct dial_leg_params p;
	struct dial_event *ev;
	struct dial_stats st;
	char uri[64], in_id[DIAL_ID_MAX] = "";
	int answered = 0, ended = 0, sip = 0;

	memset(&cc, 0, sizeof(cc));
	cc.listen = "127.0.0.1:0";
	cc.max_events = 3;
	cc.quit_wait_ms = 500;
	if (!is_int(dial_alloc(&c, &cc), 0, "engine C (max_events 3) up"))
		return;
	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u", dial_listen_port(b));
	memset(&p, 0, sizeof(p));
	p.id = "CAbound";
	p.uri = uri;
	p.from_user = "bound";
	dial_leg_start(c, &p);
	/* B may still hold events of the previous case's legs (an INBOUND
	   among them): take the INBOUND of this leg, known by its From */
	for (uint64_t end = dial_test_now_ms() + 5000; !in_id[0] && dial_test_now_ms() < end;) {
		ev = dial_test_wait_ev(b, DIAL_EV_INBOUND, NULL, 1000, NULL, NULL);
		if (ev && ev->from && strstr(ev->from, "sip:bound@"))
			snprintf(in_id, sizeof(in_id), "%s", ev->leg_id);
		dial_event_free(ev);
	}
	ok(in_id[0] != '\0', "B saw C's INVITE");
	dial_inbound_answer(b, in_id, NULL);
	/* generous: a hang-up sent before C saw the 200 would be a CANCEL,
	   and no ANSWERED to count (seen once on a loaded machine) */
	dial_event_free(dial_test_wait_ev(b, DIAL_EV_ANSWERED, in_id, 20000, NULL, NULL));
	dial_leg_hangup(c, "CAbound", NULL);
	dial_event_free(dial_test_wait_ev(b, DIAL_EV_ENDED, in_id, 20000, NULL, NULL));
	/* read nothing before C is done: its leg ended and no message for
	   300 ms (the 200 to its BYE comes after its ENDED). Reading while C
	   still emits frees room for more copies (4 seen under valgrind) */
	for (uint64_t end = dial_test_now_ms() + 5000, last = 0, since = 0;
	     dial_test_now_ms() < end; (void)poll(NULL, 0, 20)) {
		uint64_t n;

		dial_stats_get(c, &st);
		n = st.msgs_rx + st.msgs_tx;
		if (!st.legs_ended || n != last) {
			last = n;
			since = dial_test_now_ms();
		} else if (dial_test_now_ms() - since >= 300) {
			break;
		}
	}
	/* C's ENDED may still be on its way (its thread hands events over
	   once per loop pass): read until it is there, bounded */
	for (uint64_t end = dial_test_now_ms() + 5000; !ended && dial_test_now_ms() < end;) {
		struct pollfd pf = {dial_event_fd(c), POLLIN, 0};

		while ((ev = dial_event_next(c))) {
			answered += ev->type == DIAL_EV_ANSWERED;
			ended += ev->type == DIAL_EV_ENDED;
			sip += ev->type == DIAL_EV_SIP;
			dial_event_free(ev);
		}
		if (!ended)
			(void)poll(&pf, 1, 100);
	}
	dial_stats_get(c, &st);
	is_int(answered, 1, "answered kept");
	is_int(ended, 1, "ended kept");
	ok(sip <= 3, "at most 3 SIP copies queued (%d)", sip);
	ok(st.events_dropped > 0, "drops counted (%llu)",
	   (unsigned long long)st.events_dropped);
	dial_free(c);
}

/* dial_behind: the oldest unread event older than a quarter of the bound.
 * D's only event is the end of a leg its deny list refuses (nothing on
 * the wire, so nothing for overload to sample); it waits unread while
 * the wait the stats report is read on either side of each dial_behind. */
static void test_behind(void)
{
	enum { BOUND_MS = 800, QUARTER_US = BOUND_MS * 250 };
	struct dial_conf cd;
	struct dial *d = NULL;
	struct dial_leg_params p;
	struct dial_stats st;
	struct pollfd pf;
	uint64_t w1, w2, flipped = 0;
	int wrong = 0, before = 0, after = 0;

	ok(!dial_behind(NULL) && !dial_overloaded(NULL), "NULL: neither");
	memset(&cd, 0, sizeof(cd));
	cd.listen = "127.0.0.1:0";
	cd.max_queue_delay_ms = BOUND_MS;
	cd.quit_wait_ms = 300;
	if (!is_int(dial_test_alloc(&d, &cd), 0, "engine D (bound 800 ms) up"))
		return;
	ok(!dial_behind(d) && !dial_overloaded(d), "idle D: neither behind nor overloaded");
	memset(&p, 0, sizeof(p));
	p.id = "CAbehind";
	p.uri = "sip:x@169.254.1.1:5060";
	is_int(dial_leg_start(d, &p), 0, "a leg to a denied address");
	pf = (struct pollfd){dial_event_fd(d), POLLIN, 0};
	ok(poll(&pf, 1, 5000) == 1, "its end waits, unread");
	for (uint64_t end = dial_test_now_ms() + 3000; dial_test_now_ms() < end;) {
		bool behind;

		dial_stats_get(d, &st);
		w1 = st.event_wait_us;
		behind = dial_behind(d);
		dial_stats_get(d, &st);
		w2 = st.event_wait_us;
		/* the wait only grows while nobody reads: w1 <= wait <= w2 */
		wrong += (behind && w2 <= QUARTER_US) || (!behind && w1 > QUARTER_US);
		before += !behind && w1 > 0;
		after += behind;
		if (behind && !flipped)
			flipped = w2;
		if (after >= 5)
			break;
		(void)poll(NULL, 0, 5);
	}
	ok(before > 0, "not behind while the event waited less (%d samples)", before);
	ok(after > 0, "behind once it waited a quarter of the bound (%llu us)",
	   (unsigned long long)flipped);
	is_int(wrong, 0, "never against the wait on either side of it");
	ok(!dial_overloaded(d), "behind is not overloaded: no call was shed");
	dial_test_drain(d);
	ok(!dial_behind(d), "the reader caught up: no longer behind");
	dial_free(d);
}

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= 4)
		diag("dial: %s", msg);
}

int main(void)
{
	struct dial_conf ca, cb;
	struct dial *a = NULL, *b = NULL;

	dial_log_handler_set(log_h, NULL);
	memset(&ca, 0, sizeof(ca));
	ca.listen = "127.0.0.1:0";
	ca.max_legs = 2;
	ca.quit_wait_ms = 500;
	ca.user_agent = "test-a";
	cb = ca;
	cb.max_inbound = 2;
	cb.user_agent = "test-b";
	{
		struct dial_conf bad = ca;

		bad.listen = "not an address";
		ok(dial_alloc(&a, &bad) == EINVAL && !a, "bad listen address");
	}
	if (!is_int(dial_alloc(&a, &ca), 0, "engine A up") ||
	    !is_int(dial_alloc(&b, &cb), 0, "engine B up"))
		return tap_done();
	ok(dial_listen_port(a) && dial_listen_port(a) != dial_listen_port(b),
	   "port 0 picks a port");
	ok(strstr(dial_timer_impl(), "heap") != NULL,
	   "libre's timers run on the heap");
	{
		struct dial_conf clash = ca;
		char where[32];
		struct dial *c = NULL;

		snprintf(where, sizeof(where), "127.0.0.1:%u",
			 dial_listen_port(a));
		clash.listen = where;
		ok(dial_alloc(&c, &clash) != 0 && !c, "a port in use is an error");
	}
	test_args(a);
	test_call(a, b);
	dial_test_drain(a);
	dial_test_drain(b);
	test_reject_up(a, b);
	dial_test_drain(a);
	dial_test_drain(b);
	test_shed(a, b);
	wait_idle(b);
	test_bound(b);
	test_behind();
	a = dial_free(a);
	b = dial_free(b);
	ok(a == NULL && b == NULL, "engines stopped");
	return tap_done();
}
