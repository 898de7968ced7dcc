/* conn.c: libre's SIP sockets: caps and a first-message deadline for accepted TCP/TLS connections; the UDP receive size */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "dial/internal.h"

/*
 * libre 1.1.0 accepts every TCP/TLS connection on the SIP listeners and
 * keeps it for 32 s before a first message, 900 s after one, and resets
 * that timer on every CRLF keep-alive: one byte every 29 s (or a CRLF
 * every 14 minutes) holds a connection forever, and nothing bounds how
 * many. Its accept path calls two public functions through its PLT:
 *
 *   tcp_conn_handler (accept(2)) -> sip's tcp_connect_handler
 *       -> tcp_accept(&conn->tc, ...)       the connection is born
 *   tcp conn_close / destructor -> fd_close(fd); close(fd)   it ends
 *
 * so this file defines both, each calling libre's own (dlsym RTLD_NEXT).
 * tcp_accept refuses (frees the new connection: the peer sees it closed)
 * past the caps of the engine whose SIP thread accepts, and arms the
 * first-message deadline; fd_close forgets the connection. The deadline
 * ends a connection with shutdown(2): libre then reads end-of-file and
 * closes it on its own path. A complete first SIP message (seen by the
 * engine's trace handler, dial_conns_msg) disarms the deadline; CRLF
 * keep-alives do not. Threads without an engine pass straight through.
 */

typedef int (accept_f)(struct tcp_conn **, struct tcp_sock *, tcp_estab_h *,
		       tcp_recv_h *, tcp_close_h *, void *);
typedef void (fdclose_f)(int);
typedef int (udplisten_f)(struct udp_sock **, const struct sa *, udp_recv_h *,
			  void *);

struct src {
	struct le he;
	struct sa addr;
	unsigned n;
};

struct tconn {
	struct le he_fd;        /* by descriptor (fd_close) */
	struct le he_peer;      /* by peer address (dial_conns_msg) */
	struct dial_conns *c;
	struct src *src;
	struct sa peer, local;
	int fd;
	bool got_msg;
	struct tmr tmr;         /* first-message deadline */
};

struct dial_conns {
	struct dial_conn_conf conf;
	struct dial_ctr *ctr;
	struct hash *by_fd, *by_peer, *srcs;
	unsigned n;
	bool capped;            /* refusing: logged at the episode's start */
	uint64_t capped_n;
	bool slow;              /* closing slow ones: likewise */
	uint64_t slow_n;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static accept_f *real_accept;
static fdclose_f *real_fd_close;
static udplisten_f *real_udp_listen;
static _Thread_local struct dial_conns *tl;
static _Thread_local size_t udp_rxsz;	/* armed for the next udp_listen */

static void resolve(void)
{
	void *p;

	p = dlsym(RTLD_NEXT, "tcp_accept");
	memcpy(&real_accept, &p, sizeof(p));
	p = dlsym(RTLD_NEXT, "fd_close");
	memcpy(&real_fd_close, &p, sizeof(p));
	p = dlsym(RTLD_NEXT, "udp_listen");
	memcpy(&real_udp_listen, &p, sizeof(p));
}

/*
 * libre reads each datagram into an 8 KiB buffer (UDP_RXSZ_DEFAULT) and
 * does not check for truncation: a SIP message over 8 KiB (a 200 whose
 * headers reach the header policy's 8 KiB) arrived cut, failed to parse
 * and was dropped, retransmission after retransmission. sip_transp_add
 * opens its socket with udp_listen (through the PLT) and keeps it
 * private, so the size is set here, for the one call armed by
 * dial_udp_rxsz_arm().
 */
int udp_listen(struct udp_sock **usp, const struct sa *local, udp_recv_h *rh,
	       void *arg)
{
	size_t sz = udp_rxsz;
	int err;

	(void)pthread_once(&once, resolve);
	if (!real_udp_listen)
		return ENOSYS;
	udp_rxsz = 0;
	err = real_udp_listen(usp, local, rh, arg);
	if (!err && sz && usp && *usp)
		udp_rxsz_set(*usp, sz);
	return err;
}

void dial_udp_rxsz_arm(size_t size)
{
	udp_rxsz = size;
}

static bool fd_cmp(struct le *le, void *arg)
{
	const struct tconn *tc = le->data;

	return tc->fd == *(const int *)arg;
}

static bool src_cmp(struct le *le, void *arg)
{
	const struct src *s = le->data;

	return sa_cmp(&s->addr, arg, SA_ADDR);
}

static void src_destructor(void *arg)
{
	struct src *s = arg;

	hash_unlink(&s->he);
}

static void tconn_destructor(void *arg)
{
	struct tconn *tc = arg;

	tmr_cancel(&tc->tmr);
	hash_unlink(&tc->he_fd);
	hash_unlink(&tc->he_peer);
	if (tc->c && tc->c->n)
		tc->c->n--;
	if (tc->src && tc->src->n && !--tc->src->n)
		mem_deref(tc->src);
}

static void deadline_h(void *arg)
{
	struct tconn *tc = arg;
	struct dial_conns *c = tc->c;

	atomic_fetch_add_explicit(&c->ctr->st_tcp_slow, 1,
				  memory_order_relaxed);
	if (!c->slow) {
		c->slow = true;
		c->slow_n = 0;
		dial_log(LOG_WARNING, "SIP TCP/TLS connection from %J sent no "
			 "complete message within %u ms: closed (and any "
			 "others like it, until one is in time)", &tc->peer,
			 c->conf.first_msg_ms);
	}
	c->slow_n++;
	/* libre reads end-of-file and closes it (fd_close forgets it) */
	(void)shutdown(tc->fd, SHUT_RDWR);
}

static void refused(struct dial_conns *c, const struct sa *peer,
		    bool per_src)
{
	atomic_fetch_add_explicit(per_src ? &c->ctr->st_tcp_src_refused :
				  &c->ctr->st_tcp_refused, 1,
				  memory_order_relaxed);
	if (!c->capped) {
		c->capped = true;
		c->capped_n = 0;
		dial_log(LOG_WARNING, "SIP TCP/TLS connection from %J refused: "
			 "%s (%u); further refusals are logged when it ends",
			 peer, per_src ? "too many from that address" :
			 "too many connections", per_src ?
			 c->conf.max_per_src : c->conf.max);
	}
	c->capped_n++;
}

/* libre's tcp_accept, then the caps of this thread's engine. */
int tcp_accept(struct tcp_conn **tcp, struct tcp_sock *ts, tcp_estab_h *eh,
	       tcp_recv_h *rh, tcp_close_h *ch, void *arg)
{
	struct dial_conns *c = tl;
	struct tconn *tc;
	struct sa peer;
	struct src *s;
	int err;

	(void)pthread_once(&once, resolve);
	if (!real_accept)
		return ENOSYS;
	err = real_accept(tcp, ts, eh, rh, ch, arg);
	if (err || !c || !tcp || !*tcp)
		return err;

	if (tcp_conn_peer_get(*tcp, &peer))
		sa_init(&peer, AF_UNSPEC);
	s = list_ledata(hash_lookup(c->srcs, sa_hash(&peer, SA_ADDR),
				    src_cmp, &peer));
	if (c->n >= c->conf.max ||
	    (s && s->n >= c->conf.max_per_src)) {
		refused(c, &peer, c->n < c->conf.max);
		*tcp = mem_deref(*tcp);		/* closes it */
		return EMFILE;
	}
	if (c->capped) {
		c->capped = false;
		dial_log(LOG_NOTICE, "SIP TCP/TLS connections admitted again "
			 "(%llu refused meanwhile)",
			 (unsigned long long)c->capped_n);
	}

	tc = mem_zalloc(sizeof(*tc), tconn_destructor);
	if (!s)
		s = mem_zalloc(sizeof(*s), src_destructor);
	if (!tc || !s) {
		mem_deref(tc);
		if (s && !s->n)
			mem_deref(s);
		*tcp = mem_deref(*tcp);
		return ENOMEM;
	}
	if (!s->n) {
		s->addr = peer;
		hash_append(c->srcs, sa_hash(&peer, SA_ADDR), &s->he, s);
	}
	s->n++;
	tc->src = s;
	tc->c = c;
	tc->peer = peer;
	(void)tcp_conn_local_get(*tcp, &tc->local);
	tc->fd = tcp_conn_fd(*tcp);
	c->n++;
	atomic_store_explicit(&c->ctr->tcp_open, c->n, memory_order_relaxed);
	hash_append(c->by_fd, (uint32_t)tc->fd, &tc->he_fd, tc);
	hash_append(c->by_peer, sa_hash(&peer, SA_ALL), &tc->he_peer, tc);
	tmr_start(&tc->tmr, c->conf.first_msg_ms, deadline_h, tc);

	return 0;
}

void fd_close(int fd)
{
	struct dial_conns *c = tl;

	(void)pthread_once(&once, resolve);
	if (c && fd >= 0) {
		struct tconn *tc = list_ledata(hash_lookup(c->by_fd,
							   (uint32_t)fd,
							   fd_cmp, &fd));

		if (tc) {
			mem_deref(tc);
			atomic_store_explicit(&c->ctr->tcp_open, c->n,
					      memory_order_relaxed);
		}
	}
	if (real_fd_close)
		real_fd_close(fd);
}

void dial_conns_msg(struct dial_conns *c, const struct sa *src,
		    const struct sa *dst)
{
	struct le *le;

	if (!c || !src)
		return;
	le = list_head(hash_list(c->by_peer, sa_hash(src, SA_ALL)));
	for (; le; le = le->next) {
		struct tconn *tc = le->data;

		if (tc->got_msg || !sa_cmp(&tc->peer, src, SA_ALL) ||
		    (dst && sa_isset(&tc->local, SA_ALL) &&
		     !sa_cmp(&tc->local, dst, SA_ALL)))
			continue;
		tc->got_msg = true;
		tmr_cancel(&tc->tmr);
		if (c->slow) {
			c->slow = false;
			dial_log(LOG_NOTICE, "SIP TCP/TLS first messages in time "
				 "again (%llu connections closed meanwhile)",
				 (unsigned long long)c->slow_n);
		}
		return;
	}
}

static void conns_destructor(void *arg)
{
	struct dial_conns *c = arg;

	if (tl == c)
		tl = NULL;
	/* connections libre still holds are forgotten, not closed */
	hash_flush(c->by_fd);
	hash_clear(c->by_peer);
	hash_flush(c->srcs);
	mem_deref(c->by_fd);
	mem_deref(c->by_peer);
	mem_deref(c->srcs);
}

int dial_conns_alloc(struct dial_conns **cp, const struct dial_conn_conf *conf,
		     struct dial_ctr *ctr)
{
	struct dial_conns *c;
	int err;

	if (!cp || !conf || !ctr)
		return EINVAL;
	(void)pthread_once(&once, resolve);
	if (!real_accept || !real_fd_close)
		return ENOSYS;
	c = mem_zalloc(sizeof(*c), conns_destructor);
	if (!c)
		return ENOMEM;
	c->conf = *conf;
	c->ctr = ctr;
	err = hash_alloc(&c->by_fd, 256);
	if (!err)
		err = hash_alloc(&c->by_peer, 256);
	if (!err)
		err = hash_alloc(&c->srcs, 256);
	if (err) {
		mem_deref(c);
		return err;
	}
	tl = c;		/* this thread's accepts from now on */
	*cp = c;
	return 0;
}
