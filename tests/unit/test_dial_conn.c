/* test_dial_conn.c: accepted SIP TCP connections: caps in all and per source address, the first-message deadline */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dial/dial.h"
#include "tests/tap.h"
#include "tests/unit/dial_test.h"

/* A TCP connection to the engine from the loopback address src. */
static int conn_open(const char *src, uint16_t port)
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
	return fd;
}

/* Reads until the peer closes (true) or ms pass (false); data is read
 * and dropped. */
static bool closed_within(int fd, unsigned ms)
{
	uint64_t end = dial_test_now_ms() + ms;

	for (;;) {
		struct pollfd pf = {fd, POLLIN, 0};
		uint64_t now = dial_test_now_ms();
		char buf[512];
		ssize_t n;

		if (now >= end)
			return false;
		if (poll(&pf, 1, (int)(end - now)) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/* Sends an OPTIONS over fd and waits up to ms for a 200 to it. */
static bool options_ok(int fd, const char *tag, unsigned ms)
{
	char msg[512], buf[2048];
	size_t got = 0;
	uint64_t end = dial_test_now_ms() + ms;
	int n;

	n = snprintf(msg, sizeof(msg),
		     "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
		     "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-%s\r\n"
		     "From: <sip:t@127.0.0.1>;tag=%s\r\n"
		     "To: <sip:probe@127.0.0.1>\r\n"
		     "Call-ID: conn-%s\r\n"
		     "CSeq: 1 OPTIONS\r\n"
		     "Max-Forwards: 70\r\n"
		     "Content-Length: 0\r\n\r\n", tag, tag, tag);
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL) != n)
		return false;
	while (dial_test_now_ms() < end && got < sizeof(buf) - 1) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return !strncmp(buf, "SIP/2.0 200", 11);
	}
	return false;
}

static void test_caps(void)
{
	struct dial_conf c;
	struct dial *d = NULL;
	struct dial_stats st;
	int a1, a2, a3, b1, b2, x;
	uint16_t port;

	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.quit_wait_ms = 200;
	c.max_tcp_conns = 4;
	c.max_tcp_conns_per_source = 2;
	c.tcp_first_msg_ms = 5000;
	if (!is_int(dial_alloc(&d, &c), 0, "engine up (4 TCP, 2 per source)"))
		return;
	port = dial_listen_port(d);

	a1 = conn_open("127.0.0.1", port);
	a2 = conn_open("127.0.0.1", port);
	ok(options_ok(a1, "a1", 3000) && options_ok(a2, "a2", 3000),
	   "two connections from 127.0.0.1 served");
	a3 = conn_open("127.0.0.1", port);
	ok(a3 >= 0 && closed_within(a3, 2000),
	   "a third from 127.0.0.1 is closed at once");
	b1 = conn_open("127.0.0.2", port);
	b2 = conn_open("127.0.0.2", port);
	ok(options_ok(b1, "b1", 3000) && options_ok(b2, "b2", 3000),
	   "two from 127.0.0.2 served (per source)");
	x = conn_open("127.0.0.3", port);
	ok(x >= 0 && closed_within(x, 2000),
	   "a fifth, from a new source, is closed: the global cap");
	ok(options_ok(a1, "a1b", 3000), "the admitted ones keep working");
	dial_stats_get(d, &st);
	is_int((long long)st.tcp_src_refused, 1, "one refused per source");
	is_int((long long)st.tcp_refused, 1, "one refused in all");
	is_int((long long)st.tcp_conns, 4, "four open");

	close(a2);
	close(x);
	close(a3);
	/* a closed one frees its place (libre sees the end first) */
	for (uint64_t end = dial_test_now_ms() + 3000;
	     dial_test_now_ms() < end;) {
		dial_stats_get(d, &st);
		if (st.tcp_conns == 3)
			break;
		(void)poll(NULL, 0, 20);
	}
	is_int((long long)st.tcp_conns, 3, "closing one frees its place");
	a2 = conn_open("127.0.0.1", port);
	ok(options_ok(a2, "a2b", 3000), "and a new one is served");

	close(a1);
	close(a2);
	close(b1);
	close(b2);
	dial_free(d);
}

static void test_deadline(void)
{
	struct dial_conf c;
	struct dial *d = NULL;
	struct dial_stats st;
	int slow, crlf, good;
	uint64_t t0, slow_at = 0, crlf_at = 0;
	uint16_t port;
	const char *head = "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
		"X-Slow: ";

	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.quit_wait_ms = 200;
	c.tcp_first_msg_ms = 800;
	if (!is_int(dial_alloc(&d, &c), 0, "engine up (first message 800 ms)"))
		return;
	port = dial_listen_port(d);

	slow = conn_open("127.0.0.1", port);
	crlf = conn_open("127.0.0.1", port);
	good = conn_open("127.0.0.1", port);
	t0 = dial_test_now_ms();
	/* a start line, then a header value that never ends */
	ok(send(slow, head, strlen(head), MSG_NOSIGNAL) > 0, "slow: started");
	ok(options_ok(good, "g1", 3000), "a normal client is served");
	/* one byte every 100 ms, and CRLF keep-alives: neither completes
	   a message; bounded at 4 s */
	while (dial_test_now_ms() < t0 + 4000 && (!slow_at || !crlf_at)) {
		struct pollfd pf[2] = {{slow, POLLIN, 0}, {crlf, POLLIN, 0}};
		char b[64];

		if (!slow_at &&
		    send(slow, "a", 1, MSG_NOSIGNAL) < 0)
			slow_at = dial_test_now_ms();
		if (!crlf_at && send(crlf, "\r\n\r\n", 4, MSG_NOSIGNAL) < 0)
			crlf_at = dial_test_now_ms();
		(void)poll(pf, 2, 100);
		if (!slow_at && (pf[0].revents & (POLLIN | POLLHUP))) {
			ssize_t n = recv(slow, b, sizeof(b), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				slow_at = dial_test_now_ms();
		}
		if (!crlf_at && (pf[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = recv(crlf, b, sizeof(b), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN))
				crlf_at = dial_test_now_ms();
		}
	}
	ok(slow_at && slow_at - t0 >= 600 && slow_at - t0 < 3000,
	   "a byte-by-byte client is closed by the deadline (%llu ms)",
	   (unsigned long long)(slow_at ? slow_at - t0 : 0));
	ok(crlf_at && crlf_at - t0 >= 600 && crlf_at - t0 < 3000,
	   "CRLF keep-alives do not count as a message (%llu ms)",
	   (unsigned long long)(crlf_at ? crlf_at - t0 : 0));
	ok(options_ok(good, "g2", 3000),
	   "the normal client still works past the deadline");
	dial_stats_get(d, &st);
	is_int((long long)st.tcp_slow, 2, "two closed by the deadline");
	close(slow);
	close(crlf);
	close(good);
	dial_free(d);
}

static void log_h(int level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= 5)
		diag("dial: %s", msg);
}

int main(void)
{
	dial_log_handler_set(log_h, NULL);
	test_caps();
	test_deadline();
	return tap_done();
}
