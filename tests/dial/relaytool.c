/* relaytool.c: runs two bridged dial/ media endpoints (dial/media.c) on loopback for integration cases and prints its counters as JSON */

/*
 * Usage: relaytool [-a ADDR] [-p LO-HI] [-A IP:PORT] [-B IP:PORT] [-P]
 *                  [-t MS] [-i MS]
 *
 * Opens two bridged endpoints, side A and side B, on ADDR (default 127.0.0.1) with ports from LO-HI
 * (default 42000-42999) and prints
 *   {"event":"relay","a_rtp":N,"a_rtcp":N,"b_rtp":N,"b_rtcp":N}
 * -A / -B give a side's SDP address (RTCP on port + 1); -P pins both sides
 * to their SDP's IP. It runs libre's loop until SIGTERM/SIGINT, -t MS in
 * all (default 60000), or -i MS without a packet once one was forwarded
 * (default: never), then prints
 *   {"event":"stats","ab":{...},"ba":{...},"latched_a":B,"latched_b":B}
 * where ab counts what side A sent that left towards B (rtp_pkts,
 * rtp_bytes, rtcp_pkts, rtcp_bytes, dropped), and exits 0 (2 on bad usage
 * or set-up failure).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <re.h>

#include "dial/internal.h"

static struct dial_media *side[2];	/* [0]: A, [1]: B */
static struct tmr tick, limit;
static unsigned idle_ms;
static uint64_t last_total, last_change;

/* what left towards the peers, and what was dropped, on both sides */
static uint64_t total(void)
{
	struct dial_media_stats st;
	int k;
	uint64_t n = 0;

	for (k = 0; k < 2; k++) {
		dial_media_stats_get(side[k], &st);
		n += st.tx_rtp_pkts + st.tx_rtcp_pkts + st.dropped;
	}

	return n;
}

static void tick_h(void *arg)
{
	uint64_t n = total(), now = tmr_jiffies();

	(void)arg;
	if (n != last_total) {
		last_total = n;
		last_change = now;
	}
	else if (idle_ms && n && now - last_change >= idle_ms) {
		re_cancel();
		return;
	}
	tmr_start(&tick, 50, tick_h, NULL);
}

static void limit_h(void *arg)
{
	(void)arg;
	re_cancel();
}

static void signal_h(int sig)
{
	(void)sig;
	re_cancel();
}

/* one direction: what from's peer sent that left towards to's peer, and
 * what from's sockets dropped */
static void print_dir(const char *name, const struct dial_media_stats *from,
		      const struct dial_media_stats *to)
{
	printf("\"%s\":{\"rtp_pkts\":%llu,\"rtp_bytes\":%llu,"
	       "\"rtcp_pkts\":%llu,\"rtcp_bytes\":%llu,\"dropped\":%llu}",
	       name, (unsigned long long)to->tx_rtp_pkts,
	       (unsigned long long)to->tx_rtp_bytes,
	       (unsigned long long)to->tx_rtcp_pkts,
	       (unsigned long long)to->tx_rtcp_bytes,
	       (unsigned long long)from->dropped);
}

static int usage(void)
{
	fprintf(stderr, "usage: relaytool [-a ADDR] [-p LO-HI] [-A IP:PORT]"
		" [-B IP:PORT] [-P] [-t MS] [-i MS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *ra = NULL, *rb = NULL;
	unsigned lo = 42000, hi = 42999, total_ms = 60000;
	bool pin = false;
	struct dial_media_stats st[2];
	struct sa ip, a, b;
	int i, err;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "-P")) {
			pin = true;
			continue;
		}
		if (!v)
			return usage();
		if (!strcmp(argv[i], "-a"))
			addr = v;
		else if (!strcmp(argv[i], "-p")) {
			if (sscanf(v, "%u-%u", &lo, &hi) != 2 || lo >= hi ||
			    hi > 65535)
				return usage();
		}
		else if (!strcmp(argv[i], "-A"))
			ra = v;
		else if (!strcmp(argv[i], "-B"))
			rb = v;
		else if (!strcmp(argv[i], "-t"))
			total_ms = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "-i"))
			idle_ms = (unsigned)strtoul(v, NULL, 10);
		else
			return usage();
		++i;
	}

	if (sa_set_str(&ip, addr, 0) ||
	    (ra && sa_decode(&a, ra, strlen(ra))) ||
	    (rb && sa_decode(&b, rb, strlen(rb)))) {
		fprintf(stderr, "relaytool: bad address\n");
		return 2;
	}

	err = libre_init();
	if (err) {
		fprintf(stderr, "relaytool: libre_init: %s\n", strerror(err));
		return 2;
	}
	(void)fd_setsize(1024);

	err = dial_media_alloc(&side[0], &ip, (uint16_t)lo, (uint16_t)hi);
	if (!err)
		err = dial_media_alloc(&side[1], &ip, (uint16_t)lo,
				       (uint16_t)hi);
	if (!err)
		err = dial_media_bridge(side[0], side[1]);
	if (!err) {
		/* without -P a side with no SDP address latches any source */
		dial_media_latch_strict_set(side[0], pin);
		dial_media_latch_strict_set(side[1], pin);
	}
	if (!err && ra)
		err = dial_media_remote_set(side[0], &a, NULL, pin);
	if (!err && rb)
		err = dial_media_remote_set(side[1], &b, NULL, pin);
	if (err) {
		fprintf(stderr, "relaytool: relay: %s\n", strerror(err));
		side[0] = mem_deref(side[0]);
		side[1] = mem_deref(side[1]);
		libre_close();
		return 2;
	}

	printf("{\"event\":\"relay\",\"a_rtp\":%u,\"a_rtcp\":%u,"
	       "\"b_rtp\":%u,\"b_rtcp\":%u}\n",
	       sa_port(dial_media_local(side[0])),
	       sa_port(dial_media_local(side[0])) + 1,
	       sa_port(dial_media_local(side[1])),
	       sa_port(dial_media_local(side[1])) + 1);
	fflush(stdout);

	tmr_init(&tick);
	tmr_init(&limit);
	last_change = tmr_jiffies();
	tmr_start(&tick, 50, tick_h, NULL);
	tmr_start(&limit, total_ms, limit_h, NULL);

	(void)re_main(signal_h);

	tmr_cancel(&tick);
	tmr_cancel(&limit);

	dial_media_stats_get(side[0], &st[0]);
	dial_media_stats_get(side[1], &st[1]);
	printf("{\"event\":\"stats\",");
	print_dir("ab", &st[0], &st[1]);
	printf(",");
	print_dir("ba", &st[1], &st[0]);
	printf(",\"latched_a\":%s,\"latched_b\":%s}\n",
	       st[0].latched ? "true" : "false",
	       st[1].latched ? "true" : "false");
	fflush(stdout);

	side[0] = mem_deref(side[0]);
	side[1] = mem_deref(side[1]);
	libre_close();

	return 0;
}
