/* udp_local.c: libre's udp_local_get() answered from a per-thread cache instead of a getsockname() per SIP message sent */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include <re.h>

#include "dial/internal.h"

/*
 * Why: with a trace handler set (the call log records every message),
 * libre 1.1.0's trace_send() asks udp_local_get() for the source address
 * of every UDP message it sends, and that is a getsockname() each time:
 * about 5 of the SIP thread's ~60 system calls per relayed call, and the
 * kernel is about half of the daemon's CPU on a VM. A bound socket's
 * address never changes, so it is asked once.
 *
 * How: libre.so.0 calls udp_local_get through its PLT (as it does the
 * timers, tmr_heap.c), so this definition serves libre too; the first call
 * for a socket goes to libre's own (dlsym RTLD_NEXT). Entries are
 * per thread: each engine runs its own SIP thread, whose listening
 * sockets live as long as the thread. The one exception, the listen
 * port 0 retry (stack.c) that frees its UDP socket, calls
 * dial_udp_local_forget: the next socket came back at the same address
 * and descriptor and was answered the freed one's port (a CI run's
 * engine retried one taken TCP port 8 times). The descriptor is kept
 * with the pointer and compared as well, and the small table falls back
 * to libre's function when full.
 */

enum { SLOTS = 8 };

struct slot {
	const struct udp_sock *us;
	int fd;
	struct sa local;
};

static _Thread_local struct slot slots[SLOTS];
static _Thread_local unsigned nslots;

typedef int (local_get_f)(const struct udp_sock *, struct sa *);
static local_get_f *stock;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* links this file into every program that links the timers (tmr_heap.c) */
const char dial_udp_local_anchor = 1;

static void stock_find(void)
{
	void *p = dlsym(RTLD_NEXT, "udp_local_get");

	/* a static libre would have no RTLD_NEXT: then nothing is cached
	   and the answer comes from getsockname() directly */
	stock = (local_get_f *)p;
}

static int real_get(const struct udp_sock *us, struct sa *local)
{
	int fd;

	(void)pthread_once(&once, stock_find);
	if (stock)
		return stock(us, local);
	fd = udp_sock_fd(us, AF_UNSPEC);
	if (fd < 0)
		return EINVAL;
	sa_init(local, AF_UNSPEC);
	if (getsockname(fd, &local->u.sa, &local->len) < 0)
		return errno;
	return 0;
}

int udp_local_get(const struct udp_sock *us, struct sa *local)
{
	int fd, err;

	if (!us || !local)
		return EINVAL;
	fd = udp_sock_fd(us, AF_UNSPEC);
	for (unsigned i = 0; i < nslots; i++) {
		if (slots[i].us == us && slots[i].fd == fd) {
			*local = slots[i].local;
			return 0;
		}
	}
	err = real_get(us, local);
	if (!err && fd >= 0 && nslots < SLOTS) {
		slots[nslots].us = us;
		slots[nslots].fd = fd;
		slots[nslots].local = *local;
		nslots++;
	}
	return err;
}

void dial_udp_local_forget(void)
{
	nslots = 0;
}
