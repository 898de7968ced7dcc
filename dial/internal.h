/* internal.h: private declarations of dial/'s bottom layer (no struct dial; libre types allowed) */
#ifndef DIALERD_DIAL_INTERNAL_H
#define DIALERD_DIAL_INTERNAL_H

/*
 * dial/ in layers: a file calls only files of lower layers (or of its own
 * layer listed before it), so the calls between files form a graph without
 * cycles; tests/unit/check_layers.py derives it and fails on a cycle.
 * Where a lower file must reach up, the upper one installs a handler.
 *  0  sdp.c, log.c (dial_log), media.c (a leg's RTP endpoint and relay),
 *     tmr_heap.c, rand_pool.c, tls.c, msg.c (SIP text into events),
 *     dest.c (the destination deny list); then
 *     evq.c (event FIFO, eventfd, counters), load.c (overload, opaque) and
 *     conn.c (caps and first-message deadline of accepted TCP/TLS)
 *  1  leg.c: the leg object: tables by id, Call-ID and group, its events,
 *     its end and linger, RTP ports; it frees its media endpoint
 *  2  sess.c: sipsess handlers both directions share; bridge.c: leg <-> media
 *  3  out.c: outgoing legs (INVITE, auth, 422, CANCEL, refresh, UPDATE,
 *     fork); in.c: inbound legs (admission, ring, answer, reject, CANCEL);
 *     bye.c: a BYE for a dialog a previous process left up; then
 *     adopt.c: such a dialog taken over (in-dialog requests, BYE, refresh)
 *  4  recv.c: libre's trace and request listeners, routed to the legs
 *  5  cmd.c (the daemon's commands), stack.c (the libre stack), thread.c
 *     (dial_alloc, dial_free, the SIP thread)
 * Layer 0 sees no struct dial (this header); layers 1-5 share core.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>

#include <re.h>

#include "dial/dial.h"

/* ---- msg.c: pure parsing of raw SIP text into events (no libre) ---- */

/* Builds a DIAL_EV_SIP event from one raw message (start line, headers,
 * body); ENOMEM or EBADMSG when there is no start line. */
int dial_msg_parse(struct dial_event **evp, const uint8_t *pkt, size_t len,
		   enum dial_dir dir, uint64_t time_us);
/* A deep copy with another type (pointers relocated). */
struct dial_event *dial_event_clone(const struct dial_event *ev,
				    enum dial_ev_type type);
/* A header-less event (ENDED without a message, errors). */
struct dial_event *dial_event_bare(enum dial_ev_type type, const char *id);
/* Parses a Reason header value; false when it is not one. */
bool dial_reason_parse(struct dial_reason *r, const char *val);
/* Writes "Reason: proto;cause=N[;text="..."]\r\n" into buf, or "" when r
 * is NULL or not present. */
void dial_reason_hdr(char *buf, size_t size, const struct dial_reason *r);
/* Parses Session-Expires "N;refresher=uac"; 0 when absent/bad. */
unsigned dial_se_parse(const char *val, char *refresher, size_t rsz);
/* Case-insensitive: does a comma list (Allow, Supported) hold tok? */
bool dial_list_has(const char *list, const char *tok);
/* Wall-clock time (CLOCK_REALTIME) in microseconds: event stamps, and the
 * kernel's receive stamps (SIOCGSTAMP) are on the same clock. */
uint64_t dial_now_us(void);

/* ---- dest.c: the destination deny list (pure) ---- */

/* One rule: an address prefix, IPv4 kept as ::ffff:a.b.c.d/(96 + n); an
 * exact rule (a listener of ours) matches that address, port and socket kind
 * only: a UDP peer may own the number of our TCP or TLS listener. */
struct dial_dest_rule {
	uint8_t a[16];
	uint8_t plen;
	uint16_t port;
	bool exact;
	bool stream;		/* exact: a TCP/TLS listener, else UDP */
};
struct dial_dest {
	struct dial_dest_rule *v;
	size_t n, cap;
	bool self;		/* the list named "self": our listeners */
};
/* Appends the rules of a list ("self", CIDRs, bare addresses; commas or
 * blanks between them). EINVAL with why ("'10.0.0.1/8': ...") or ENOMEM. */
int dial_dest_parse(struct dial_dest *dd, const char *list, char *why,
		    size_t size);
/* Appends an exact address:port rule (sockaddr_in or sockaddr_in6) of a
 * stream (TCP, TLS) or datagram (UDP) listener. */
int dial_dest_add_exact(struct dial_dest *dd, const struct sockaddr *sa,
			bool stream);
/* The first rule a request to sa over a stream or datagram transport falls
 * under, or NULL. IPv4-mapped IPv6 addresses meet the IPv4 rules. */
const struct dial_dest_rule *dial_dest_match(const struct dial_dest *dd,
					     const struct sockaddr *sa,
					     bool stream);
/* "169.254.0.0/16", "fe80::/10", "self 127.0.0.1:5060", "self tcp
 * 127.0.0.1:5061" */
void dial_dest_rule_print(char *buf, size_t size,
			  const struct dial_dest_rule *r);
void dial_dest_reset(struct dial_dest *dd);

/* ---- sdp.c: offers and answers as text ---- */

/* Writes an SDP offer for the codecs in order (+telephone-event). */
int dial_sdp_offer(char *buf, size_t size, const char *addr, uint16_t port,
		   const enum dial_codec *codecv, size_t codecc,
		   uint64_t sess_id);
/* Writes an SDP answer to an offer: the first offered codec that is in
 * codecv (any supported when codecc is 0) plus telephone-event when offered.
 * ENOTSUP (488) when nothing matches, EBADMSG when the offer has no audio. */
int dial_sdp_answer(char *buf, size_t size, const char *offer, size_t olen,
		    const char *addr, uint16_t port,
		    const enum dial_codec *codecv, size_t codecc,
		    uint64_t sess_id, struct dial_sdp *chosen);
/* First audio stream of an SDP body: address, port, first codec. */
void dial_sdp_summary(struct dial_sdp *s, const char *body, size_t len);
/* Appends "Name: value\r\n" for each header after dial_hdr_check;
 * EINVAL for a header the stack writes itself (Via, Call-ID, Content-*...). */
int dial_hdrs_encode(char **out, const struct dial_hdr *hdrv, size_t hdrc);

/* ---- log.c ---- */

/* Engine log, through the handler set with dial_log_handler_set (libre's
 * re_vsnprintf: %J, %r, %m work). Any thread. */
void dial_log(int level, const char *fmt, ...);

/* ---- evq.c: the counters and the event FIFO to the daemon ---- */

/* What dial_stats_get reports, updated by any file of the SIP thread and
 * read by any thread. */
struct dial_ctr {
	_Atomic uint64_t st_legs_started, st_legs_ended, st_inbound,
		st_inbound_busy, st_legs_refused, st_rx, st_tx, st_unmatched,
		st_events, st_dropped, st_shed_in, st_shed_out, st_overloads,
		st_filtered, st_udp_drops, st_tcp_refused, st_tcp_src_refused,
		st_tcp_slow, st_byes_ok, st_byes_failed;
	_Atomic uint64_t qdelay_us;	/* last queueing delay measured */
	_Atomic uint64_t tcp_open;	/* accepted TCP/TLS connections open */
	/* load.c's level 1 as it stands (new INVITEs get 503): written by
	   the SIP thread only, read by any (dial_overloaded) */
	atomic_bool shedding;
	/* the RTP pair pool's figures, copied by the SIP thread's sweep
	   (stack.c) once a second: the pool itself is that thread's only */
	_Atomic uint64_t rtp_idle, rtp_opened, rtp_reused, rtp_drained;
	_Atomic uint64_t rtp_refused_full;
};

/* Events of one pass of the SIP loop gather in pend (SIP thread only) and
 * move to the shared FIFO in one locked step; the eventfd is readable
 * exactly while the FIFO is not empty. */
struct dial_evq {
	pthread_mutex_t lock;	/* head, tail; the eventfd's state */
	struct dial_event *head, *tail;
	_Atomic size_t len;	/* events in the shared FIFO */
	_Atomic size_t bytes;	/* their approximate heap size */
	int efd;
	unsigned max;		/* past it, DIAL_EV_SIP events are shed */
	size_t max_bytes;	/* ... and past this many bytes queued */
	struct dial_ctr *ctr;
	_Atomic uint64_t head_us;	/* time_us of head, 0: empty */
	/* SIP thread only */
	struct dial_event *pend_head, *pend_tail;
	size_t pend_len;
	size_t pend_bytes;
	struct tmr flush_tmr;	/* delay 0: pending events to the FIFO */
};

/* Opens the eventfd; errno. max bounds the events queued, max_bytes their
 * approximate size (dial_evq_bytes); past either, DIAL_EV_SIP copies are
 * dropped and counted in ctr->st_dropped, other events always queued. */
int dial_evq_init(struct dial_evq *q, unsigned max, size_t max_bytes,
		  struct dial_ctr *ctr);
/* What an event costs in the bound: its heap copy, approximately. */
size_t dial_evq_bytes(const struct dial_event *ev);
/* Frees what nobody took and closes the eventfd (after the SIP thread). */
void dial_evq_close(struct dial_evq *q);
/* Appends an event (takes it) and wakes the reader. SIP thread. */
void dial_evq_emit(struct dial_evq *q, struct dial_event *ev);
/* Moves the pending events to the FIFO now (shutdown). SIP thread. */
void dial_evq_flush(struct dial_evq *q);
/* The next event, or NULL; any one reader thread. */
struct dial_event *dial_evq_next(struct dial_evq *q);
/* How long the oldest event the reader has not taken has waited at
 * now_us (0: none waits): how far the daemon's loop is behind. Any
 * thread. */
uint64_t dial_evq_wait_us(const struct dial_evq *q, uint64_t now_us);
/* dial_stats_get: the counters of q's ctr and the events' wait now. */
void dial_evq_stats_get(const struct dial_evq *q, struct dial_stats *st);

/* ---- load.c: overload detection (SIP thread) ---- */

struct dial_load;

/* Turns on the kernel's receive stamps on the SIP UDP socket fd (-1: no
 * overload detection; logged); bound_ms is the queueing delay, of a
 * datagram in the socket or of an event in evq, that overloads. Writes
 * the overload counters of ctr. mem_deref stops it. */
int dial_load_alloc(struct dial_load **lp, int fd, unsigned bound_ms,
		    const struct dial_evq *evq, struct dial_ctr *ctr);
/* After a datagram was read: samples its queueing delay, the socket's
 * fill level and the events' wait (every 4 ms at most); enters or leaves
 * the overloaded state and attaches or detaches the kernel's INVITE
 * filter (see load.c). */
void dial_load_sample(struct dial_load *l);
/* New calls are to be shed (503 to INVITEs); false for NULL. */
bool dial_load_shed(const struct dial_load *l);
/* ... and new legs too (EAGAIN): only while this thread's own socket is
 * behind, not for the daemon's event backlog alone. */
bool dial_load_shed_legs(const struct dial_load *l);
/* dial_load_shed as seen from any thread: the state the SIP thread
 * published in ctr (one atomic load). dial_overloaded. */
bool dial_load_shedding(const struct dial_ctr *ctr);
/* The reader's loop is behind: the oldest event in q has waited more
 * than a quarter of bound_ms at now_us (one atomic load). Any thread.
 * dial_behind. */
bool dial_load_behind(const struct dial_evq *q, unsigned bound_ms,
		      uint64_t now_us);
/* ... more than the whole bound: the next INVITE, once sampled, is shed
 * (one atomic load). Any thread. dial_overloaded. */
bool dial_load_stalled(const struct dial_evq *q, unsigned bound_ms,
		       uint64_t now_us);

/* ---- conn.c: accepted SIP TCP/TLS connections (SIP thread) ---- */

struct dial_conns;

struct dial_conn_conf {
	unsigned max;		/* open at once, all sources */
	unsigned max_per_src;	/* ... from one source address */
	unsigned first_msg_ms;	/* from accept to a complete first message */
};

/* Caps the connections accepted in the calling thread from now on (the
 * SIP thread: conn.c defines libre's tcp_accept and fd_close). Past a cap
 * a new connection is closed at once (st_tcp_refused, st_tcp_src_refused);
 * one without a complete message by first_msg_ms is shut down
 * (st_tcp_slow); each logged once per episode. mem_deref stops it (same
 * thread). EINVAL, ENOMEM, ENOSYS (libre's symbols not found). */
int dial_conns_alloc(struct dial_conns **cp, const struct dial_conn_conf *conf,
		     struct dial_ctr *ctr);
/* A complete SIP message arrived on the connection src -> dst (the
 * trace handler): its deadline is disarmed. */
void dial_conns_msg(struct dial_conns *c, const struct sa *src,
		    const struct sa *dst);
/* The next udp_listen of the calling thread (sip_transp_add's) reads
 * datagrams of up to size bytes instead of libre's 8 KiB. */
void dial_udp_rxsz_arm(size_t size);

/* ---- libre replacements (tmr_heap.c, rand_pool.c, tls.c) ---- */

/* tmr_heap.c: defines libre's whole re_tmr.h (tmr_start, tmr_cancel,
 * tmr_poll, tmr_next_timeout, tmrl_get, ...) as one binary min-heap per
 * thread. The engine must reference dial_tmr_impl_name() (and log it at
 * start-up) so that the archive member is linked into every program. */
const char *dial_tmr_impl_name(void);   /* "binary heap (dial/tmr_heap.c)" */
bool dial_tmr_active(void);    /* libre's PLT resolves tmr_start to ours */
size_t dial_tmr_count(void);   /* running timers of the calling thread */
uint64_t dial_tmr_started(void); /* timers ever started in this thread */
bool dial_tmr_check(void);     /* tests: heap order and indexes hold */
struct list;
struct list *tmrl_get(void);  /* libre-internal, not in re_tmr.h: empty */

/* rand_pool.c: defines libre's rand_u16/u32/u64/bytes/str/char, served from
 * a per-thread pool of RAND_bytes output (one OpenSSL call per 4 KiB);
 * linked along with tmr_heap.c through this anchor */
extern const char dial_rand_pool_anchor;

/* udp_local.c: defines libre's udp_local_get(), answered from a per-thread
 * cache (one getsockname per socket, not per message traced); linked along
 * with tmr_heap.c through this anchor */
extern const char dial_udp_local_anchor;
/* Forgets this thread's cached addresses: called after the thread frees
 * a UDP socket, since the next one may get its address and descriptor
 * and would be answered the old port. */
void dial_udp_local_forget(void);

/* tls.c: dial_tls_alloc() -> sip_transp_add(..., dial_tls_ctx(dt)); client
 * connections then verify CA chain and host name (see tls.h) */
#include "dial/tls.h"

/* media.c: a leg's RTP/RTCP endpoint and the relay between two bridged
 * endpoints (see media.h); needs fd_setsize() large enough for 2
 * descriptors per endpoint */
#include "dial/media.h"

#endif
