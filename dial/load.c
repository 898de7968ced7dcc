/* load.c: overload detection: the SIP UDP socket's queueing delay, from the kernel's receive stamps, decides when new calls are shed */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <syslog.h>
#include <linux/sockios.h>

#include "dial/internal.h"

/*
 * Why queueing delay: past its capacity the SIP thread falls behind the
 * UDP socket, messages wait longer and longer in the kernel, the far ends
 * retransmit (T1 = 500 ms) and every admitted call times out: congestion
 * collapse. The time a datagram waited between its arrival (the kernel's
 * stamp, SIOCGSTAMP) and its parsing here measures exactly that backlog,
 * whatever the mix of messages. Past max_queue_delay_ms new INVITEs get a
 * stateless 503 and new legs are refused (EAGAIN) until the delay is back
 * under half the bound; calls already admitted keep being served, so
 * their messages never wait much longer than the bound.
 */

enum {
	SAMPLE_US = 1000,		/* at most one ioctl per millisecond */
	LOG_EVERY_US = 10000000,	/* one overload log line per 10 s */
};

void dial_load_init(struct dial *d, int fd)
{
	struct timeval tv;

	d->udp_fd = fd;
	if (fd < 0)
		return;
	/* the first SIOCGSTAMP turns the socket's receive stamps on (and
	   fails: nothing stamped yet). Not SO_TIMESTAMP: with it the stamp
	   goes to a control message that libre's recvfrom never reads, and
	   SIOCGSTAMP stops seeing it. */
	if (!ioctl(fd, SIOCGSTAMP, &tv) || errno == ENOENT)
		return;
	dial_log(LOG_WARNING, "SIOCGSTAMP: %s: no overload detection",
		 strerror(errno));
	d->udp_fd = -1;
}

static void episode_log(struct dial *d, uint64_t now, uint64_t delay)
{
	uint64_t n = atomic_load_explicit(&d->st_overloads,
					  memory_order_relaxed);

	if (now < d->load_logged_us + LOG_EVERY_US)
		return;
	dial_log(LOG_WARNING, "overload: SIP messages waited %llu ms (bound "
		 "%u ms): shedding new calls (%llu episodes, %llu INVITEs "
		 "and %llu legs shed so far)",
		 (unsigned long long)(delay / 1000),
		 d->conf.max_queue_delay_ms, (unsigned long long)n,
		 (unsigned long long)atomic_load(&d->st_shed_in),
		 (unsigned long long)atomic_load(&d->st_shed_out));
	d->load_logged_us = now;
}

void dial_load_sample(struct dial *d)
{
	uint64_t now, stamp, delay, bound;
	struct timeval tv;

	if (d->udp_fd < 0)
		return;
	now = dial_now_us();
	if (now < d->load_next_us)
		return;
	d->load_next_us = now + SAMPLE_US;
	/* the arrival time of the datagram read last, i.e. the one being
	   traced right now */
	if (ioctl(d->udp_fd, SIOCGSTAMP, &tv))
		return;
	stamp = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	delay = now > stamp ? now - stamp : 0;
	atomic_store_explicit(&d->qdelay_us, delay, memory_order_relaxed);
	bound = (uint64_t)d->conf.max_queue_delay_ms * 1000u;
	if (!d->overloaded && delay > bound) {
		d->overloaded = true;
		atomic_fetch_add_explicit(&d->st_overloads, 1,
					  memory_order_relaxed);
		episode_log(d, now, delay);
	}
	else if (d->overloaded && delay < bound / 2) {
		d->overloaded = false;
	}
}

bool dial_load_shed(const struct dial *d)
{
	return d->overloaded;
}
