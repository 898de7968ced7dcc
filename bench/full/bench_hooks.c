/* bench_hooks.c: the full-flow bench's webhook server: the voice document
 * that dials the SIPp UAS, the Dial action, the status callbacks, each
 * request logged one line
 *
 *   bench_hooks --uas ADDR:PORT --log FILE [--listen ADDR:PORT]
 *
 * The same server shape as bench/webhook/responder.c (libevent's evhttp,
 * one thread, HTTP/1.1 keep-alive), so its own rate is comparable; it adds
 * routing and the log the bench reconciles against:
 *   POST /voice   200 text/xml: <Dial action="/action" answerOnBridge="true">
 *                 <Sip statusCallback="/status" ...>sip:uas@ADDR:PORT?X-A=..
 *                 &X-B=..&X-C=..</Sip></Dial>, the X- values copied from the
 *                 caller's SipHeader_X-A/B/C (so the UAS sees the caller's)
 *   POST /action  200 text/xml <Response/> (the caller is hung up)
 *   anything else 204 (status callbacks: /status for the child, /parent)
 * Log line (appended, flushed at exit and every second):
 *   T PATH CALLSID SEQ STATUS TOKEN
 * T in microseconds since the epoch, "-" for a parameter not present.
 * Prints "hooks listening on ADDR:PORT"; "hooks: N requests" at SIGTERM.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static unsigned long long nreq;
static const char *uas;
static FILE *reqlog;

/* only token characters go into the URI unencoded; anything else is replaced */
static const char *safe(const char *v)
{
	if (!v || !*v || strlen(v) > 64)
		return "x";
	for (const char *p = v; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return "x";
	}
	return v;
}

static const char *param(struct evkeyvalq *q, const char *name)
{
	const char *v = evhttp_find_header(q, name);

	return v && *v ? v : "-";
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq form;
	struct timeval tv;
	char path[64];
	size_t len = evbuffer_get_length(in), n;
	char *body;

	(void)arg;
	nreq++;
	n = strcspn(uri, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri, n);
	path[n] = '\0';

	form.tqh_first = NULL;
	form.tqh_last = &form.tqh_first;
	body = malloc(len + 1);
	if (body) {
		evbuffer_copyout(in, body, len);
		body[len] = '\0';
		/* keys here are plain ASCII: libevent's parser is enough */
		evhttp_parse_query_str(body, &form);
		free(body);
	}
	gettimeofday(&tv, NULL);
	fprintf(reqlog, "%lld %s %s %s %s %s\n",
		(long long)tv.tv_sec * 1000000 + tv.tv_usec, path,
		param(&form, "CallSid"), param(&form, "SequenceNumber"),
		param(&form, "CallStatus"),
		param(evhttp_request_get_input_headers(req),
		      "I-Twilio-Idempotency-Token"));

	if (strcmp(path, "/voice") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Type", "text/xml");
		evbuffer_add_printf(out,
			"<Response><Dial action=\"/action\" answerOnBridge=\"true\">"
			"<Sip statusCallback=\"/status\" statusCallbackEvent="
			"\"initiated ringing answered completed\">"
			"sip:uas@%s?X-A=%s&amp;X-B=%s&amp;X-C=%s</Sip></Dial>"
			"</Response>", uas,
			safe(evhttp_find_header(&form, "SipHeader_X-A")),
			safe(evhttp_find_header(&form, "SipHeader_X-B")),
			safe(evhttp_find_header(&form, "SipHeader_X-C")));
		evhttp_send_reply(req, 200, "OK", NULL);
	} else if (strcmp(path, "/action") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Type", "text/xml");
		evbuffer_add_printf(out, "<Response/>");
		evhttp_send_reply(req, 200, "OK", NULL);
	} else {
		evhttp_send_reply(req, 204, "No Content", NULL);
	}
	evhttp_clear_headers(&form);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fflush(reqlog);
}

int main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:0", *logpath = NULL;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bs;
	struct event *sigterm, *sigint, *tick;
	struct timeval sec = {1, 0};
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char host[64];
	const char *colon;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else if (strcmp(argv[i], "--uas") == 0 && i + 1 < argc) {
			uas = argv[++i];
		} else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			logpath = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_hooks --uas ADDR:PORT --log FILE [--listen ADDR:PORT]\n");
			return 2;
		}
	}
	colon = strrchr(listen, ':');
	if (!uas || !logpath || !colon || (size_t)(colon - listen) >= sizeof(host)) {
		fprintf(stderr, "bench_hooks: --uas and --log are required, --listen is ADDR:PORT\n");
		return 2;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	reqlog = fopen(logpath, "a");
	if (!reqlog) {
		perror(logpath);
		return 1;
	}
	setvbuf(reqlog, NULL, _IOFBF, 1 << 20);

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http) {
		fprintf(stderr, "bench_hooks: out of memory\n");
		return 1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_max_body_size(http, 1 << 20);
	evhttp_set_gencb(http, on_request, NULL);
	bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)atoi(colon + 1));
	if (!bs) {
		fprintf(stderr, "bench_hooks: cannot listen on %s\n", listen);
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &slen) != 0) {
		perror("bench_hooks: getsockname");
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_add(tick, &sec);
	printf("hooks listening on %s:%u\n", host, (unsigned)ntohs(sin.sin_port));
	fflush(stdout);

	event_base_dispatch(base);

	fclose(reqlog);
	printf("hooks: %llu requests\n", nreq);
	event_free(sigterm);
	event_free(sigint);
	event_free(tick);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
