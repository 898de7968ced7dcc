/* webhook_sock.c: libcurl's sockets and timer on the libevent loop
 *
 * libcurl says CURL_POLL_REMOVE for a keep-alive socket when its transfer
 * ends and asks for it again when the next transfer reuses the connection.
 * Freeing the event and adding it back cost two epoll_ctl calls and an
 * allocation per webhook, about six webhooks a call. A socket opened here
 * (CURLOPT_OPENSOCKETFUNCTION) is instead left registered for reading,
 * "parked", when libcurl removes it:
 *  - libcurl wants it again for reading: nothing to do (for other events,
 *    one epoll_ctl MOD);
 *  - libcurl closes it (CURLOPT_CLOSESOCKETFUNCTION): its event goes first;
 *  - it turns readable while parked (the peer closed the idle connection,
 *    or sent bytes nobody asked for): the socket is shut down and its event
 *    dropped, so the level-triggered wake-up does not repeat; libcurl
 *    checks a connection before it reuses it and closes a dead one.
 * Other sockets (the threaded resolver's socket pair, which libcurl closes
 * without the callback) lose their event on CURL_POLL_REMOVE: a socket may
 * stay registered only if its close is seen, or a new socket given the
 * same number would be taken for it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/webhook_sock.h"

struct wsock {
	struct event *ev;	/* NULL until libcurl first watches it */
	short flags;		/* EV_READ and EV_WRITE of ev */
	bool ours;		/* opened here: its close is seen */
	bool parked;		/* libcurl removed it, ev still reads */
};

struct webhook_socks {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	webhook_socks_ran_h *ran;
	void *arg;
	struct wsock **by_fd;
	size_t nfd;
};

static struct wsock **slot(struct webhook_socks *s, curl_socket_t fd,
			   bool grow)
{
	struct wsock **p;
	size_t n;

	if (fd < 0)
		return NULL;
	if ((size_t)fd >= s->nfd) {
		if (!grow)
			return NULL;
		for (n = s->nfd ? s->nfd : 64; n <= (size_t)fd; n *= 2)
			;
		p = realloc(s->by_fd, n * sizeof(*p));
		if (!p)
			return NULL;
		memset(p + s->nfd, 0, (n - s->nfd) * sizeof(*p));
		s->by_fd = p;
		s->nfd = n;
	}
	return &s->by_fd[fd];
}

static void sock_drop(struct webhook_socks *s, curl_socket_t fd)
{
	struct wsock **w = slot(s, fd, false);

	if (!w || !*w)
		return;
	if ((*w)->ev)
		event_free((*w)->ev);
	free(*w);
	*w = NULL;
}

/* An idle connection turned readable: the peer closed it or sent bytes no
 * request asked for. libcurl 7.88 checks a connection for a close before
 * reusing it, but takes waiting bytes for a live connection and would read
 * them as the next answer: they are read away here (bounded) and the socket
 * shut down, so that the check finds it closed. */
static void unusable(evutil_socket_t fd)
{
	char buf[4096];

	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	(void)shutdown(fd, SHUT_RDWR);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_socks *s = arg;
	struct wsock **w = slot(s, fd, false);
	int running, action = 0;

	if (w && *w && (*w)->parked) {
		unusable(fd);
		sock_drop(s, fd);
		return;
	}
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->multi, fd, action, &running);
	s->ran(s->arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_socks *s = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	s->ran(s->arg);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct webhook_socks *s = userp;
	struct wsock **w, *k;
	short flags = 0;

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		w = slot(s, fd, false);
		if (w && *w && (*w)->ours && (*w)->flags == EV_READ)
			(*w)->parked = true;
		else
			sock_drop(s, fd);
		return 0;
	}
	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	w = slot(s, fd, true);
	if (!w || (!*w && !(*w = calloc(1, sizeof(**w)))))
		return -1;
	k = *w;
	k->parked = false;
	if (k->ev && k->flags == flags)
		return 0;
	if (k->ev) {
		event_del(k->ev);
		event_assign(k->ev, s->base, fd, flags | EV_PERSIST, on_event, s);
	} else if (!(k->ev = event_new(s->base, fd, flags | EV_PERSIST,
				       on_event, s))) {
		return -1;
	}
	k->flags = flags;
	return event_add(k->ev, NULL) ? -1 : 0;
}

static int on_timer_change(CURLM *m, long ms, void *userp)
{
	struct webhook_socks *s = userp;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	(void)m;
	if (ms < 0)
		return event_del(s->timer);
	return evtimer_add(s->timer, &tv);
}

static curl_socket_t on_open(void *arg, curlsocktype purpose,
			     struct curl_sockaddr *a)
{
	struct webhook_socks *s = arg;
	struct wsock **w;
	curl_socket_t fd;

	(void)purpose;
	fd = socket(a->family, a->socktype, a->protocol);
	if (fd == CURL_SOCKET_BAD)
		return CURL_SOCKET_BAD;
	/* an entry at this number belonged to a socket closed behind our back */
	sock_drop(s, fd);
	w = slot(s, fd, true);
	if (!w || !(*w = calloc(1, sizeof(**w)))) {
		close(fd);
		errno = ENOMEM;
		return CURL_SOCKET_BAD;
	}
	(*w)->ours = true;
	return fd;
}

static int on_close(void *arg, curl_socket_t fd)
{
	sock_drop(arg, fd);	/* before the number can be given again */
	return close(fd);
}

int webhook_socks_alloc(struct webhook_socks **sp, struct event_base *base,
			CURLM *multi, webhook_socks_ran_h *ran, void *arg)
{
	struct webhook_socks *s;

	if (!sp || !base || !multi || !ran)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->base = base;
	s->multi = multi;
	s->ran = ran;
	s->arg = arg;
	s->timer = evtimer_new(base, on_timer, s);
	if (!s->timer) {
		free(s);
		return ENOMEM;
	}
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	curl_multi_setopt(multi, CURLMOPT_TIMERDATA, s);
	*sp = s;
	return 0;
}

void webhook_socks_easy(struct webhook_socks *s, CURL *easy)
{
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, s);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, s);
}

struct webhook_socks *webhook_socks_free(struct webhook_socks *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nfd; i++)
		sock_drop(s, (curl_socket_t)i);
	free(s->by_fd);
	event_free(s->timer);
	free(s);
	return NULL;
}
