/* test_dial_backlog.c: an engine whose reader falls behind sheds new calls (503) rather than let their events wait; dial_overloaded says so exactly then */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "dial/dial.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

enum { BOUND_MS = 50, STREAM = 40 };

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= 4)
		diag("dial: %s", msg);
}

static void start(struct dial *a, const char *uri, const char *id,
		  const char *user)
{
	struct dial_leg_params p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.uri = uri;
	p.from_user = user;
	(void)dial_leg_start(a, &p);
}

/* d's INBOUND event of a call from sip:user@, within 5 s, or NULL */
static struct dial_event *inbound_from(struct dial *d, const char *user)
{
	struct dial_event *ev = NULL;
	char from[32];

	snprintf(from, sizeof(from), "sip:%s@", user);
	for (uint64_t end = dial_test_now_ms() + 5000; !ev && dial_test_now_ms() < end;) {
		ev = dial_test_wait_ev(d, DIAL_EV_INBOUND, NULL, 1000, NULL, NULL);
		if (ev && !(ev->from && strstr(ev->from, from)))
			ev = dial_event_free(ev);
	}
	return ev;
}

/* Takes A's events (its reader keeps up), counting the legs that ended
 * with a 503, and those 503s seen while dial_overloaded(b) said no (B's
 * reader is stopped meanwhile, so B cannot have left the state since) */
static void take(struct dial *a, struct dial *b, int *shed, int *unsaid)
{
	struct dial_event *ev;

	while ((ev = dial_event_next(a))) {
		if (ev->type == DIAL_EV_ENDED && ev->code == 503) {
			(*shed)++;
			*unsaid += !dial_overloaded(b);
		}
		dial_event_free(ev);
	}
}

int main(void)
{
	struct dial_conf ca, cb;
	struct dial *a = NULL, *b = NULL;
	struct dial_stats st;
	struct dial_event *ev = NULL;
	char uri[64], id[32];
	int shed = 0, unsaid = 0;

	dial_log_handler_set(log_h, NULL);
	memset(&ca, 0, sizeof(ca));
	ca.listen = "127.0.0.1:0";
	ca.quit_wait_ms = 300;
	cb = ca;
	cb.max_queue_delay_ms = BOUND_MS;
	if (!is_int(dial_test_alloc(&a, &ca), 0, "engine A up") ||
	    !is_int(dial_test_alloc(&b, &cb), 0, "engine B up (bound 50 ms)"))
		return tap_done();
	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u", dial_listen_port(b));
	ok(!dial_overloaded(b) && !dial_behind(b), "idle B: neither overloaded nor behind");

	/* B's reader stops: the first INVITE's events wait, nobody takes them */
	start(a, uri, "CAfirst", "first");
	for (uint64_t end = dial_test_now_ms() + 5000; dial_test_now_ms() < end;) {
		dial_stats_get(b, &st);
		if (st.inbound >= 1)
			break;
		(void)poll(NULL, 0, 10);
	}
	is_int((long long)st.inbound, 1, "B admitted the first INVITE");
	for (int i = 0; i < 4; i++) {
		take(a, b, &shed, &unsaid);
		(void)poll(NULL, 0, BOUND_MS);
	}
	/* shedding is decided as datagrams are read: a backlog alone, with
	   no new INVITE since, sheds nothing yet; but a call made now would
	   wait behind it, so B already says overloaded (REST creates stop) */
	ok(dial_behind(b), "B's events unread for 4 bounds: behind");
	dial_stats_get(b, &st);
	ok(dial_overloaded(b) && !st.shedding,
	   "overloaded (a new call would wait past the bound), nothing shed yet");

	/* INVITEs every 3 ms: each is a sample, and past 20 ms of samples
	   over the bound B sheds */
	for (int i = 0; i < STREAM; i++) {
		snprintf(id, sizeof(id), "CAs%d", i);
		start(a, uri, id, "stream");
		take(a, b, &shed, &unsaid);
		(void)poll(NULL, 0, 3);
	}
	/* the shed legs have ended by now; the admitted ones ring on */
	for (uint64_t end = dial_test_now_ms() + 500; dial_test_now_ms() < end;) {
		struct pollfd pf = {dial_event_fd(a), POLLIN, 0};

		take(a, b, &shed, &unsaid);
		(void)poll(&pf, 1, 50);
	}
	dial_stats_get(b, &st);
	ok(dial_overloaded(b) && st.shedding, "B says it is overloaded (stats too)");
	is_int(unsaid, 0, "no 503 came while dial_overloaded said no");
	ok(shed > 0, "A's legs refused with 503 while B's events waited (%d of %d)",
	   shed, STREAM);
	ok(st.inbound_shed >= (uint64_t)shed, "B counted them as shed (%llu)",
	   (unsigned long long)st.inbound_shed);
	ok(st.overloads >= 1, "an overload episode (%llu)",
	   (unsigned long long)st.overloads);
	ok(st.event_wait_us >= BOUND_MS * 1000u, "the events' wait reported (%llu us)",
	   (unsigned long long)st.event_wait_us);
	ok(st.events_dropped == 0, "no event dropped: the bound shed calls first");

	/* a leg B starts now is an admitted call's <Dial>: dialled */
	{
		char back[64];

		snprintf(back, sizeof(back), "sip:a@127.0.0.1:%u", dial_listen_port(a));
		start(b, back, "CAback", "back");
		ev = inbound_from(a, "back");
		ok(ev != NULL, "B, overloaded by its events alone, still dials a new leg");
		ev = dial_event_free(ev);
		dial_stats_get(b, &st);
		is_int((long long)st.legs_shed, 0, "no leg refused");
		(void)dial_leg_hangup(b, "CAback", NULL);
	}

	/* the reader catches up: B admits again */
	for (int i = 0; i < STREAM; i++) {
		snprintf(id, sizeof(id), "CAs%d", i);
		(void)dial_leg_hangup(a, id, NULL);
	}
	(void)dial_leg_hangup(a, "CAfirst", NULL);
	for (uint64_t end = dial_test_now_ms() + 300; dial_test_now_ms() < end;) {
		dial_test_drain(b);
		dial_test_drain(a);
		(void)poll(NULL, 0, 10);
	}
	/* the SIP thread re-checks every 10 ms while overloaded: with its
	   events read it leaves the state (bounded wait: a loaded machine) */
	for (uint64_t end = dial_test_now_ms() + 3000;
	     (dial_overloaded(b) || dial_behind(b)) && dial_test_now_ms() < end;) {
		dial_test_drain(b);
		dial_test_drain(a);
		(void)poll(NULL, 0, 10);
	}
	ok(!dial_overloaded(b), "B's reader caught up: no longer overloaded");
	ok(!dial_behind(b), "nor behind");
	start(a, uri, "CAafter", "after");
	ev = inbound_from(b, "after");
	ok(ev != NULL, "B, read again, admits a new INVITE");
	dial_event_free(ev);
	dial_stats_get(b, &st);
	ok(st.event_wait_us < BOUND_MS * 1000u, "and its events' wait is back under the bound (%llu us)",
	   (unsigned long long)st.event_wait_us);
	(void)dial_leg_hangup(a, "CAafter", NULL);
	a = dial_free(a);
	b = dial_free(b);
	return tap_done();
}
