/* responder.c: the webhook benchmark's server: answers every request with
 * 200, text/xml, "<Response/>" over HTTP/1.1 keep-alive (libevent's evhttp,
 * one thread); the same server is measured with wrk as the ceiling
 *
 *   responder [--listen ADDR:PORT]    (default 127.0.0.1:0: a free port)
 *
 * Prints "responder listening on ADDR:PORT" once it accepts connections,
 * and "responder: N requests" when SIGTERM or SIGINT stops it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const char body[] = "<Response/>";
static unsigned long long nreq;

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	(void)arg;
	nreq++;
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/xml");
	evbuffer_add_reference(out, body, sizeof(body) - 1, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:0";
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bs;
	struct event *sigterm, *sigint;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char host[64];
	const char *colon;
	int port;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else {
			fprintf(stderr, "usage: responder [--listen ADDR:PORT]\n");
			return 2;
		}
	}
	colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof(host)) {
		fprintf(stderr, "responder: bad --listen %s\n", listen);
		return 2;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	port = atoi(colon + 1);

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http) {
		fprintf(stderr, "responder: out of memory\n");
		return 1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(http, 1 << 20);
	evhttp_set_gencb(http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!bs) {
		fprintf(stderr, "responder: cannot listen on %s\n", listen);
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &slen) != 0) {
		perror("responder: getsockname");
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	printf("responder listening on %s:%u\n", host, (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	event_base_dispatch(base);

	printf("responder: %llu requests\n", nreq);
	event_free(sigterm);
	event_free(sigint);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
