/* test_http.c: the HTTP server's connection caps (in all, per source address) and request deadline, over loopback */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "daemon/config.h"
#include "daemon/http.h"
#include "daemon/metrics.h"
#include "tests/tap.h"

static struct event_base *base;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the server's loop for about ms. */
static void pump(unsigned ms)
{
	uint64_t end = now_ms() + ms;

	do {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		(void)poll(NULL, 0, 2);
	} while (now_ms() < end);
}

static void ping_h(struct evhttp_request *req, void *arg)
{
	(void)arg;
	http_respond(req, 200, "text/plain", "pong", 4);
}

/* Answers 100 ms later, as a handler that waits for the store does. */
static struct evhttp_request *late_req;

static void on_late(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	http_respond(late_req, 200, "text/plain", "late", 4);
	late_req = NULL;
}

static void late_h(struct evhttp_request *req, void *arg)
{
	struct timeval tv = {0, 100000};

	late_req = req;
	event_base_once(base, -1, EV_TIMEOUT, on_late, arg, &tv);
}

static int cli_open(const char *src, uint16_t port)
{
	struct sockaddr_in a, b;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.sin_family = AF_INET;
	inet_pton(AF_INET, src, &b.sin_addr);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pump(20);	/* accepted */
	return fd;
}

/* Reads what is there: 1 data, 0 nothing yet, -1 closed. */
static int cli_read(int fd, char *buf, size_t size, size_t *got)
{
	ssize_t n = recv(fd, buf + *got, size - 1 - *got, 0);

	if (n > 0) {
		*got += (size_t)n;
		buf[*got] = '\0';
		return 1;
	}
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return -1;
	return 0;
}

/* A keep-alive GET /ping answered "pong" within ms. */
static bool ping(int fd, unsigned ms)
{
	static const char rq[] = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
	char buf[1024];
	size_t got = 0;
	uint64_t end = now_ms() + ms;

	if (send(fd, rq, sizeof(rq) - 1, MSG_NOSIGNAL) != sizeof(rq) - 1)
		return false;
	while (now_ms() < end) {
		pump(5);
		if (cli_read(fd, buf, sizeof(buf), &got) < 0)
			return false;
		if (strstr(buf, "\r\n\r\n") && strstr(buf, "pong"))
			return !strncmp(buf, "HTTP/1.1 200", 12);
	}
	return false;
}

static bool closed_within(int fd, unsigned ms)
{
	char buf[1024];
	size_t got = 0;
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		pump(5);
		if (cli_read(fd, buf, sizeof(buf), &got) < 0)
			return true;
		got = 0;
	}
	return false;
}

static double metric(const char *series)
{
	char *buf = NULL, *p;
	size_t len;
	double v = -1;

	if (metrics_render(&buf, &len))
		return -1;
	p = strstr(buf, series);
	if (p)
		v = strtod(p + strlen(series), NULL);
	free(buf);
	return v;
}

static struct http_server *server(unsigned max, unsigned per_src,
				  unsigned timeout_ms)
{
	struct config_addr a;
	struct http_server *s = NULL;
	char err[128] = "";

	memset(&a, 0, sizeof(a));
	snprintf(a.host, sizeof(a.host), "127.0.0.1");
	a.port = 0;
	a.family = AF_INET;
	if (http_server_alloc(&s, base, &a, err, sizeof(err)) ||
	    http_route_add(s, "/ping", false, "ping", ping_h, NULL) ||
	    http_route_add(s, "/late", false, "late", late_h, NULL)) {
		diag("server: %s", err);
		return http_server_free(s);
	}
	http_server_limits(s, max, per_src, timeout_ms);
	return s;
}

static void test_caps(void)
{
	struct http_server *s = server(4, 2, 5000);
	int a1, a2, a3, b1, b2, x;
	uint16_t port;

	if (!ok(s != NULL, "server up (4 connections, 2 per source)"))
		return;
	port = http_server_port(s);
	a1 = cli_open("127.0.0.1", port);
	a2 = cli_open("127.0.0.1", port);
	ok(ping(a1, 2000) && ping(a2, 2000), "two from 127.0.0.1 served");
	a3 = cli_open("127.0.0.1", port);
	ok(closed_within(a3, 1000), "a third from 127.0.0.1 is closed");
	b1 = cli_open("127.0.0.2", port);
	b2 = cli_open("127.0.0.2", port);
	ok(ping(b1, 2000) && ping(b2, 2000), "two from 127.0.0.2 served");
	x = cli_open("127.0.0.3", port);
	ok(closed_within(x, 1000), "a fifth, from a new source, is closed");
	ok(ping(a1, 2000), "the admitted ones keep working");
	is_int((long long)metric("dialerd_http_closed_total{reason=\"source_limit\"} "),
	       1, "counted: source_limit");
	is_int((long long)metric("dialerd_http_closed_total{reason=\"limit\"} "),
	       1, "counted: limit");
	close(a2);
	pump(50);
	a2 = cli_open("127.0.0.1", port);
	ok(ping(a2, 2000), "a closed one frees its place");
	close(a1);
	close(a2);
	close(a3);
	close(b1);
	close(b2);
	close(x);
	http_server_free(s);
}

static void test_deadline(void)
{
	static const char head[] = "GET /ping HTTP/1.1\r\nX-Slow: ";
	struct http_server *s = server(100, 100, 800);
	uint64_t t0, slow_at = 0;
	int slow, good, served = 0, rounds = 0;
	uint16_t port;

	if (!ok(s != NULL, "server up (request deadline 800 ms)"))
		return;
	port = http_server_port(s);
	slow = cli_open("127.0.0.1", port);
	good = cli_open("127.0.0.1", port);
	t0 = now_ms();
	ok(send(slow, head, sizeof(head) - 1, MSG_NOSIGNAL) > 0,
	   "slow: a request line, then a header byte every 100 ms");
	/* bounded: 3 s */
	while (now_ms() < t0 + 3000) {
		char buf[256];
		size_t got = 0;

		if (!slow_at && (send(slow, "a", 1, MSG_NOSIGNAL) < 0 ||
				 cli_read(slow, buf, sizeof(buf), &got) < 0))
			slow_at = now_ms();
		rounds++;
		served += ping(good, 1000);
		pump(100);
	}
	ok(slow_at && slow_at - t0 >= 600 && slow_at - t0 < 2500,
	   "the slow client is closed by the deadline (%llu ms)",
	   (unsigned long long)(slow_at ? slow_at - t0 : 0));
	is_int(served, rounds, "the normal client got every answer "
	       "meanwhile (%d)", rounds);
	is_int((long long)metric("dialerd_http_closed_total{reason=\"request_timeout\"} "),
	       1, "counted: request_timeout");
	close(slow);
	close(good);
	http_server_free(s);
}

/* A client that leaves before its answer: the request is answered into
 * the void and no longer counted in flight (shutdown waits for those). */
static void test_gone(void)
{
	static const char rq[] = "GET /late HTTP/1.1\r\nHost: t\r\n\r\n";
	struct http_server *s = server(8, 8, 5000);
	int fd;

	if (!ok(s != NULL, "gone: server"))
		return;
	fd = cli_open("127.0.0.1", http_server_port(s));
	ok(fd >= 0 && send(fd, rq, sizeof(rq) - 1, MSG_NOSIGNAL) == sizeof(rq) - 1,
	   "gone: a request that is answered late");
	pump(30);
	is_int(http_server_inflight(s), 1, "gone: in flight while it waits");
	{
		/* a reset, as a load generator that stops mid-request sends */
		struct linger l = {1, 0};

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(fd);
	pump(300);
	ok(late_req == NULL, "gone: the late answer was given");
	is_int(http_server_inflight(s), 0, "gone: nothing in flight once answered");
	ok(metric("dialerd_http_requests_total{path=\"late\",code=\"0\"} ") == 1,
	   "gone: the request is counted with code 0 (no answer reached the client)");
	http_server_free(s);
}

int main(void)
{
	base = event_base_new();
	if (!ok(base != NULL, "event base"))
		return tap_done();
	test_caps();
	test_deadline();
	test_gone();
	event_base_free(base);
	metrics_reset();
	return tap_done();
}
