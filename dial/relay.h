/* relay.h: private to dial/: RTP+RTCP relay between the two legs of a bridge, on the SIP thread */
#ifndef DIALERD_DIAL_RELAY_H
#define DIALERD_DIAL_RELAY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A relay joins two legs, side A and side B. Each side has its own socket
 * pair (RTP on an even port, RTCP on the next) taken from a port range;
 * put a side's local address in the SDP sent to that side's leg. What
 * arrives on A's RTP socket leaves from B's RTP socket towards B's peer,
 * and the other way round (RTCP likewise).
 *
 * A side's peer is latched from the first packet received on that socket
 * (symmetric RTP, so NAT works); until then, packets towards it go to the
 * address its SDP named, if given. With pin, only packets from the SDP's IP
 * address are accepted. After latching, other sources are dropped and
 * counted. Packets are forwarded as received (no RTP parsing, no copy
 * beyond the kernel's): recvmmsg batches into a thread-local buffer and
 * sendmmsg sends the same buffers.
 *
 * All functions: the thread whose libre loop runs the relay (SIP thread).
 */

struct sa;
struct dial_relay;

enum dial_relay_side {
	DIAL_RELAY_A = 0,
	DIAL_RELAY_B = 1,
};

/* traffic received on one side and forwarded to the other */
struct dial_relay_dir {
	uint64_t rtp_pkts, rtp_bytes;    /* forwarded (UDP payload bytes) */
	uint64_t rtcp_pkts, rtcp_bytes;
	uint64_t dropped;   /* not forwarded: foreign source, no peer on the
			       other side yet, oversize, send error */
};

struct dial_relay_stats {
	struct dial_relay_dir dir[2];   /* [A]: A -> B, [B]: B -> A */
	bool latched[2];                /* the side's RTP peer is learnt */
};

/* Takes two socket pairs on ip (its port is ignored) from the even ports in
 * [port_min, port_max]; the search continues where the last one ended.
 * EINVAL (bad range, ip unset), EADDRINUSE (range exhausted), EMFILE,
 * ENOMEM. A mem object: mem_deref closes the sockets. */
int dial_relay_alloc(struct dial_relay **rp, const struct sa *ip,
		     uint16_t port_min, uint16_t port_max);

/* The side's local RTP address (RTCP is port + 1): for the SDP sent to
 * that side's leg. */
const struct sa *dial_relay_local(const struct dial_relay *r,
				  enum dial_relay_side side);

/* The address the side's SDP named (rtcp NULL: rtp port + 1); resets the
 * latch (re-INVITE). pin: accept only packets from that IP. EINVAL. */
int dial_relay_remote_set(struct dial_relay *r, enum dial_relay_side side,
			  const struct sa *rtp, const struct sa *rtcp,
			  bool pin);

void dial_relay_stats_get(const struct dial_relay *r,
			  struct dial_relay_stats *st);

#endif
