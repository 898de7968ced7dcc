/* test_call.c: the pure half of the calls layer: SIP result -> status (the
 * wire spec's table, forks included) and webhook parameters */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/call.h"
#include "tests/tap.h"

static enum call_status out(bool answered, uint16_t code, int err,
			    enum call_cause cause)
{
	struct call_result r = {answered, code, err, cause};

	return call_outcome(&r);
}

static void test_outcome(void)
{
	is_str(call_status_name(out(true, 200, 0, CALL_CAUSE_NONE)), "completed", "2xx: completed");
	is_str(call_status_name(out(false, 486, 0, CALL_CAUSE_NONE)), "busy", "486: busy");
	is_str(call_status_name(out(false, 600, 0, CALL_CAUSE_NONE)), "busy", "600: busy");
	is_str(call_status_name(out(false, 603, 0, CALL_CAUSE_NONE)), "busy", "603: busy");
	is_str(call_status_name(out(false, 408, 0, CALL_CAUSE_NONE)), "no-answer", "408: no-answer");
	is_str(call_status_name(out(false, 480, 0, CALL_CAUSE_NONE)), "no-answer", "480: no-answer");
	is_str(call_status_name(out(false, 487, 0, CALL_CAUSE_NONE)), "no-answer",
	       "487 the far end sent on its own: no-answer");
	is_str(call_status_name(out(false, 487, 0, CALL_CAUSE_TIMEOUT)), "no-answer",
	       "487 after our timeout CANCEL: no-answer");
	is_str(call_status_name(out(false, 487, 0, CALL_CAUSE_CANCELED)), "canceled",
	       "487 after the caller hung up: canceled");
	is_str(call_status_name(out(false, 0, 0, CALL_CAUSE_CANCELED)), "canceled",
	       "cancelled before any response: canceled");
	is_str(call_status_name(out(false, 487, 0, CALL_CAUSE_ELSEWHERE)), "canceled",
	       "a fork's loser: canceled");
	is_str(call_status_name(out(false, 401, 0, CALL_CAUSE_NONE)), "failed", "401 after the retry: failed");
	is_str(call_status_name(out(false, 407, 0, CALL_CAUSE_NONE)), "failed", "407: failed");
	is_str(call_status_name(out(false, 404, 0, CALL_CAUSE_NONE)), "failed", "404: failed");
	is_str(call_status_name(out(false, 503, 0, CALL_CAUSE_NONE)), "failed", "503: failed");
	is_str(call_status_name(out(false, 302, 0, CALL_CAUSE_NONE)), "failed", "3xx: failed");
	is_str(call_status_name(out(false, 0, 110, CALL_CAUSE_NONE)), "failed", "timer B: failed");
	ok(call_status_final(CALL_CANCELED) && !call_status_final(CALL_IN_PROGRESS), "final statuses");
}

static void test_dial_outcome(void)
{
	enum call_status a[] = {CALL_BUSY, CALL_COMPLETED, CALL_CANCELED};
	enum call_status b[] = {CALL_BUSY, CALL_BUSY};
	enum call_status c[] = {CALL_BUSY, CALL_NO_ANSWER, CALL_FAILED};
	enum call_status d[] = {CALL_FAILED, CALL_BUSY};

	is_str(call_status_name(call_outcome_dial(a, 3, false)), "completed", "a winner: completed");
	is_str(call_status_name(call_outcome_dial(a, 3, true)), "completed",
	       "a winner, then the caller hung up: completed");
	is_str(call_status_name(call_outcome_dial(b, 2, false)), "busy", "all busy: busy");
	is_str(call_status_name(call_outcome_dial(c, 3, false)), "no-answer", "any no-answer: no-answer");
	is_str(call_status_name(call_outcome_dial(d, 2, false)), "failed", "else failed");
	is_str(call_status_name(call_outcome_dial(b, 2, true)), "canceled", "caller gone before an answer: canceled");
	is_str(call_status_name(call_outcome_dial(NULL, 0, false)), "failed", "nothing dialled: failed");
}

static void test_uri(void)
{
	char buf[128];

	call_params_uri("\"Carol, C\" <sip:+1555@h:5060;transport=udp>;tag=1", buf, sizeof(buf));
	is_str(buf, "sip:+1555@h:5060;transport=udp", "name-addr: the URI with its own parameters");
	call_params_uri("<sip:a@h>", buf, sizeof(buf));
	is_str(buf, "sip:a@h", "bare name-addr");
	call_params_uri("sip:a@h;tag=77", buf, sizeof(buf));
	is_str(buf, "sip:a@h", "addr-spec: ;tag belongs to the header");
	call_params_uri("\"a <b>\" <sip:x@y>", buf, sizeof(buf));
	is_str(buf, "sip:x@y", "a < inside the quoted name is not the URI");
	call_params_uri("\"broken <sip:x@y", buf, sizeof(buf));
	is_str(buf, "", "unterminated: nothing");
	call_params_display("\"Carol \\\"CC\\\" C\" <sip:a@h>", buf, sizeof(buf));
	is_str(buf, "Carol \"CC\" C", "quoted display name unescaped");
	call_params_display("Bob Smith <sip:b@h>", buf, sizeof(buf));
	is_str(buf, "Bob Smith", "token display name");
	call_params_display("sip:b@h", buf, sizeof(buf));
	is_str(buf, "", "no display name");
	call_params_time(0, buf, sizeof(buf));
	is_str(buf, "Thu, 01 Jan 1970 00:00:00 +0000", "RFC 2822 time");
}

static void test_params(void)
{
	const char *names[] = {"X-A", "Via", "x-b", "X-A", "User-to-User", "Contact"};
	const char *values[] = {"1", "v", "2", "again", "00ff;encoding=hex", "c"};
	struct call_params p;

	call_params_init(&p);
	call_params_add(&p, "CallSid", "CA1");
	call_params_add(&p, "CallSid", "CA2");
	call_params_addf(&p, "SequenceNumber", "%u", 7u);
	call_params_sip_headers(&p, "SipHeader_", names, values, 6);
	is_int((long long)p.n, 5, "names never repeat; structural headers left out");
	is_str(p.v[0].value, "CA1", "the first value of a name wins");
	is_str(p.v[1].value, "7", "formatted value");
	is_str(p.v[2].name, "SipHeader_X-A", "X- header with its prefix");
	is_str(p.v[2].value, "1", "first X-A kept");
	is_str(p.v[3].name, "SipHeader_x-b", "lowercase x- is an X- header, name kept as sent");
	is_str(p.v[4].name, "SipHeader_User-to-User", "UUI passes");
	call_params_free(&p);
	is_int((long long)p.n, 0, "freed");
	for (int i = 0; i < CALL_PARAMS_MAX + 5; i++) {
		call_params_addf(&p, "N", "%d", i);
		call_params_addf(&p, names[0], "%d", i);
	}
	ok(!p.full && p.n == 2, "repeats do not fill the list");
	{
		struct call_params q;

		call_params_init(&q);
		call_params_add(&q, "N", "other");
		call_params_add(&q, "ErrorCode", "11200");
		call_params_append(&p, &q);
		call_params_append(&p, NULL);
		ok(p.n == 3 && strcmp(p.v[0].value, "0") == 0 &&
		   strcmp(p.v[2].name, "ErrorCode") == 0,
		   "append: new names added, a name already there kept, NULL adds none");
		call_params_free(&q);
	}
	call_params_free(&p);
}

/* SIDs: CA + 4 hex digits of the instance id + 12 of the wall clock's ms +
 * 16 random hex digits */
static void test_sid(void)
{
	char sid[40], other[40];
	bool hex = true;

	call_sid_instance_set(0x1a2b);
	call_sid_new(sid);
	call_sid_new(other);
	is_int((int)strlen(sid), 34, "a SID is 34 characters");
	ok(strncmp(sid, "CA1a2b", 6) == 0, "CA + the instance id in 4 hex digits (%s)", sid);
	for (int i = 2; i < 34; i++)
		hex = hex && strchr("0123456789abcdef", sid[i]);
	ok(hex, "then lower-case hex digits");
	ok(strcmp(sid, other) != 0, "two SIDs differ");
	is_int((int)call_sid_instance(sid), 0x1a2b, "call_sid_instance reads the id back");
	{
		struct timespec ts, pause = {0, 2000000};
		unsigned long long ms;
		char later[40];

		clock_gettime(CLOCK_REALTIME, &ts);
		ms = strtoull((char[13]){sid[6], sid[7], sid[8], sid[9], sid[10],
			sid[11], sid[12], sid[13], sid[14], sid[15], sid[16],
			sid[17], 0}, NULL, 16);
		ok(ms <= (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 &&
		   ms + 5000 > (unsigned long long)ts.tv_sec * 1000,
		   "then the wall clock's milliseconds (%llu)", ms);
		nanosleep(&pause, NULL);
		call_sid_new(later);
		ok(strcmp(sid, later) < 0 && strcmp(other, later) < 0,
		   "a SID made 2 ms later sorts after (%s, %s)", sid, later);
	}
	call_sid_instance_set(1);
	call_sid_new(sid);
	is_int((int)call_sid_instance(sid), 1, "id 1: CA0001...");
	is_int((int)call_sid_instance("CAffff0123456789abcdef0123456789ab"), 65535, "id ffff");
	is_int((int)call_sid_instance("CA00000123456789abcdef0123456789ab"), 0, "id 0: none");
	is_int((int)call_sid_instance("CA0001"), 0, "too short: 0");
	is_int((int)call_sid_instance("CA0001zz23456789abcdef0123456789ab"), 0, "not hex: 0");
	is_int((int)call_sid_instance("XX00010123456789abcdef0123456789ab"), 0, "not CA: 0");
	is_int((int)call_sid_instance(NULL), 0, "NULL: 0");
}

int main(void)
{
	test_sid();
	test_outcome();
	test_dial_outcome();
	test_uri();
	test_params();
	{
		const char *bad;
		size_t n = 0;

		is_int(call_cb_events("initiated ringing,answered  completed", &bad, &n),
		       CALL_CB_INITIATED | CALL_CB_RINGING | CALL_CB_ANSWERED |
		       CALL_CB_COMPLETED, "status callback events: spaces and commas");
		ok(bad == NULL, "status callback events: nothing unknown");
		is_int(call_cb_events("ringing bogus completed", &bad, &n),
		       CALL_CB_RINGING | CALL_CB_COMPLETED, "an unknown word is skipped");
		ok(bad && n == 5 && strncmp(bad, "bogus", 5) == 0, "and named");
		is_int(call_cb_events("", NULL, NULL), 0, "an empty list: none");
	}
	return tap_done();
}
