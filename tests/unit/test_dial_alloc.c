/* test_dial_alloc.c: dial_alloc's failures leave a live engine and libre's process-wide set-up alone */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial/core.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

static void log_h(int level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	diag("dial: %s", msg);
}

/* d calls callee, which must see the INVITE */
static void check_call(struct dial *d, struct dial *callee, const char *what)
{
	struct dial_leg_params p;
	struct dial_event *ev;
	char uri[64];

	snprintf(uri, sizeof(uri), "sip:b@127.0.0.1:%u",
		 dial_listen_port(callee));
	memset(&p, 0, sizeof(p));
	p.id = "CAself";
	p.uri = uri;
	is_int(dial_leg_start(d, &p), 0, "%s: a leg starts", what);
	ev = dial_test_wait_ev(callee, DIAL_EV_INBOUND, NULL, 5000, NULL,
			       NULL);
	ok(ev != NULL, "%s: its INVITE arrives", what);
	dial_event_free(ev);
	(void)dial_leg_hangup(d, "CAself", NULL);
	dial_event_free(dial_test_wait_ev(d, DIAL_EV_ENDED, "CAself", 5000,
					  NULL, NULL));
}

/* A far end that never answers keeps the INVITE's transaction open for
 * 32 s: the engine freed past quit_wait_ms drops it, and frees its whole
 * stack (valgrind and the sanitizer build see what it leaks). */
static void check_free_pending(const struct dial_conf *conf)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct dial_leg_params p;
	struct dial *d = NULL;
	char uri[64], buf[2048];
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (!ok(fd >= 0 && !bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
		!getsockname(fd, (struct sockaddr *)&sin, &sl),
		"a silent far end"))
		goto out;
	if (!is_int(dial_alloc(&d, conf), 0, "engine up"))
		goto out;
	snprintf(uri, sizeof(uri), "sip:silent@127.0.0.1:%u",
		 ntohs(sin.sin_port));
	memset(&p, 0, sizeof(p));
	p.id = "CAsilent";
	p.uri = uri;
	is_int(dial_leg_start(d, &p), 0, "a leg to it starts");
	{
		struct pollfd pf = {fd, POLLIN, 0};

		ok(poll(&pf, 1, 5000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0,
		   "its INVITE arrives, never answered");
	}
	d = dial_free(d);
	ok(d == NULL, "engine freed with the INVITE pending");
 out:
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	struct dial_conf ca, bad;
	struct dial *a = NULL, *b = NULL;
	char where[32];

	dial_log_handler_set(log_h, NULL);
	memset(&ca, 0, sizeof(ca));
	ca.listen = "127.0.0.1:0";
	ca.quit_wait_ms = 300;
	if (!is_int(dial_test_alloc(&a, &ca), 0, "engine A up"))
		return tap_done();
	is_int(dial_thread_lib_users(), 1, "A holds libre");

	/* failures before libre is set up must not release A's hold */
	bad = ca;
	bad.listen = "0.0.0.0:0";
	ok(dial_alloc(&b, &bad) == EINVAL && !b, "wildcard address refused");
	is_int(dial_thread_lib_users(), 1, "A still holds libre");
	bad = ca;
	bad.hdr_call_sid = "Bad Name";
	ok(dial_alloc(&b, &bad) == EINVAL && !b, "bad header name refused");
	is_int(dial_thread_lib_users(), 1, "A still holds libre");
	bad = ca;
	bad.listen = "no address";
	ok(dial_alloc(&b, &bad) == EINVAL && !b, "bad address refused");
	is_int(dial_thread_lib_users(), 1, "A still holds libre");

	/* a failure after it (the SIP thread cannot listen) neither */
	bad = ca;
	snprintf(where, sizeof(where), "127.0.0.1:%u", dial_listen_port(a));
	bad.listen = where;
	ok(dial_alloc(&b, &bad) != 0 && !b, "a port in use is an error");
	is_int(dial_thread_lib_users(), 1, "A still holds libre");

	if (is_int(dial_test_alloc(&b, &ca), 0, "engine B up"))
		check_call(a, b, "A after the failures");
	is_int(dial_thread_lib_users(), 2, "A and B hold libre");
	a = dial_free(a);
	b = dial_free(b);
	is_int(dial_thread_lib_users(), 0, "libre released with A and B");

	/* and new engines set libre up again */
	if (is_int(dial_test_alloc(&a, &ca), 0, "engine A again") &&
	    is_int(dial_test_alloc(&b, &ca), 0, "engine B again"))
		check_call(a, b, "A again");
	a = dial_free(a);
	b = dial_free(b);
	check_free_pending(&ca);
	is_int(dial_thread_lib_users(), 0, "libre released");
	return tap_done();
}
