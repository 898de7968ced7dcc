/* dial.h: public interface of the SIP engine (libre only; runs its own thread) */
#ifndef DIALERD_DIAL_H
#define DIALERD_DIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The engine runs libre's re_main() in a thread of its own (the SIP thread).
 * Every other thread talks to it through the functions below: commands are
 * copied and queued to the SIP thread; what happens on the wire comes back
 * as heap-allocated struct dial_event copies, read from a FIFO whose file
 * descriptor (dial_event_fd) becomes readable when events wait. No libre
 * object ever leaves the SIP thread, and no libre type appears here.
 */

struct dial;

enum {
	DIAL_ID_MAX = 64,	/* leg ids (call SIDs) incl. NUL */
	DIAL_MAX_CODECS = 8,
};

/* Engine configuration; strings are copied by dial_alloc. */
struct dial_conf {
	const char *listen;	/* "127.0.0.1:5060" or "[::1]:5060": UDP+TCP
				   (+TLS on port+1 when tls_cert is set) */
	uint16_t tls_port;	/* 0: listen port + 1 */
	const char *user_agent;	/* NULL: "dialerd" */
	unsigned max_inbound;	/* concurrent inbound calls; 503 past it
				   (0: 1000) */
	unsigned max_legs;	/* concurrent outgoing legs; more are refused
				   with DIAL_EV_ENDED err=EBUSY (0: 10000) */
	unsigned max_queue_delay_ms;	/* overload: while SIP datagrams wait
				   longer than this in the UDP socket (or fill
				   half its buffer), new INVITEs get a stateless
				   503 and new legs end with err=EAGAIN, until
				   the wait is under half that; while the buffer
				   is 3/4 full, INVITEs are dropped in the kernel
				   (0: 250) */
	unsigned hash_size;	/* buckets of libre's and our tables
				   (0: 16384) */
	unsigned udp_rcvbuf;	/* SO_RCVBUF of the SIP UDP socket, bytes
				   (0: 4 MiB) */
	unsigned linger_ms;	/* how long an ended leg still claims its
				   Call-ID for late messages (0: 32000) */
	unsigned quit_wait_ms;	/* dial_free: time given to BYE/CANCEL
				   transactions (0: 2000) */
	unsigned max_events;	/* events waiting for the reader; past it
				   DIAL_EV_SIP copies are dropped and counted
				   (never the others) (0: 1000000) */
	/* accepted SIP TCP/TLS connections: past a cap a new one is closed
	   at once; one that sends no complete SIP message within
	   tcp_first_msg_ms of its accept is closed (counted, logged once
	   per episode) */
	unsigned max_tcp_conns;	/* (0: 2048) */
	unsigned max_tcp_conns_per_source;	/* one address (0: 64) */
	unsigned tcp_first_msg_ms;	/* (0: 10000) */
	size_t max_event_bytes;	/* the same bound on their approximate heap
				   size, so that messages with large headers
				   cannot grow it without limit (0: 64 MiB) */
	const char *media_addr;	/* address put in SDP c= (NULL: listen host) */
	uint16_t rtp_port_min;	/* SDP ports handed out when a command names
				   none, and the range relayed legs bind
				   their RTP/RTCP pairs from (even RTP port,
				   RTCP + 1) (0: 20000..29999) */
	uint16_t rtp_port_max;
	bool rtp_latch_any;	/* relayed legs latch any source, not only the
				   far end's SDP address (NAT) */
	bool adopting;		/* a restart adopts dialogs right after the
				   start (dial_adopt): until dial_adopt_done,
				   a request inside a dialog the engine does
				   not know (a To tag) is not answered, so that
				   the peer's retransmission finds its adopted
				   leg instead of a 481 */
	unsigned adopt_probe_ms;	/* an adopted leg's OPTIONS (is the
				   dialog still there?) this long after the
				   adoption (0: T2 + 0.5 s, plus up to 1 s
				   per leg) */
	/* identity headers added to every outgoing INVITE (NULL: defaults
	   X-Twilio-CallSid, X-Twilio-AccountSid, X-Twilio-ApiVersion) */
	const char *hdr_call_sid;
	const char *hdr_account_sid;
	const char *hdr_api_version;
	/* TLS: always a verifying client (sips: or ;transport=tls targets);
	   a listener on tls_port too when tls_cert is set */
	const char *tls_cert;	/* PEM with certificate and key */
	const char *tls_ca_file;	/* NULL: the system store */
	bool tls_insecure;	/* no peer verification (logged each use) */
	/* requests of outgoing legs to these destinations are refused before
	   anything is sent (the leg ends failed, err EACCES): checked against
	   the address actually contacted, after DNS, for every request of the
	   leg (INVITE, its retries, a 3xx's new target, ACK, BYE...). Syntax:
	   dial_dest_check. NULL: DIAL_DENY_DEFAULT; "": nothing refused */
	const char *deny_destinations;
};

/* Our own listeners (every transport's address and port: a document must
 * not make us call ourselves in a loop) and link-local addresses, where
 * cloud metadata services live. Loopback and private ranges stay allowed
 * (local tests, private trunks) unless listed. */
#define DIAL_DENY_DEFAULT "self, 169.254.0.0/16, fe80::/10"

/* Checks a deny list: "self" (our listeners), CIDRs ("10.0.0.0/8",
 * "fe80::/10") and bare addresses, separated by commas or blanks. 0, or
 * EINVAL with a one-line reason naming the bad entry in why. */
int dial_dest_check(const char *list, char *why, size_t size);

enum dial_codec {
	DIAL_CODEC_PCMU = 0,
	DIAL_CODEC_PCMA,
	DIAL_CODEC_G722,
	DIAL_CODEC_G729,
	DIAL_CODEC_OPUS,
	DIAL_CODEC_COUNT
};

/* "PCMU" (case-insensitive) -> DIAL_CODEC_PCMU; EINVAL when unknown. */
int dial_codec_parse(const char *name, enum dial_codec *c);
const char *dial_codec_name(enum dial_codec c);

struct dial_hdr {
	const char *name;
	const char *value;
};

/* A Reason header (RFC 3326), e.g. Q.850;cause=16;text="Normal" */
struct dial_reason {
	bool present;
	char protocol[16];	/* "SIP", "Q.850" */
	int cause;
	char text[128];
};

/* What an SDP body says (first audio stream) */
struct dial_sdp {
	bool present;
	char codec[24];		/* first codec of the m= line, e.g. "PCMA" */
	int pt;			/* its payload type */
	char addr[64];		/* c= address */
	uint16_t port;		/* m= port */
};

/* A relayed leg's media (DIAL_EV_ENDED): what crossed its socket pair.
 * "Peer" is the far end of this leg; rx_* counts what it sent to us and
 * was accepted (from the latched source, not oversize), tx_* what we sent
 * to it (relayed from the bridged leg), bytes are UDP payload bytes. */
struct dial_media_stats {
	bool relayed;		/* the leg had media through the engine */
	bool latched;		/* the peer's RTP source was learnt from a
				   packet (symmetric RTP) */
	char peer[64];		/* the peer's RTP address ("IP:PORT",
				   "[V6]:PORT"): latched, else the SDP's;
				   "" when neither */
	uint16_t local_port;	/* our RTP port (RTCP: + 1) */
	uint64_t rx_rtp_pkts, rx_rtp_bytes, rx_rtcp_pkts, rx_rtcp_bytes;
	uint64_t tx_rtp_pkts, tx_rtp_bytes, tx_rtcp_pkts, tx_rtcp_bytes;
	uint64_t dropped;	/* arrived on our sockets, not forwarded
				   (foreign source, oversize, not bridged,
				   bridged leg's peer unknown, send error) */
};

enum dial_ev_type {
	DIAL_EV_SIP = 1,	/* a SIP message crossed the wire on a leg */
	DIAL_EV_PROGRESS,	/* outgoing leg: 180/183 (not 100) */
	DIAL_EV_ANSWERED,	/* outgoing leg: 2xx; inbound: our 2xx ACKed */
	DIAL_EV_ENDED,		/* the leg is over (once per leg) */
	DIAL_EV_INBOUND,	/* a new inbound INVITE; the leg id is ours */
	DIAL_EV_REFRESHED,	/* session timer refreshed (either side) */
	DIAL_EV_BRIDGED,	/* dial_bridge/dial_unbridge done: leg_id is
				   id_a, bridged id_b, err 0 or why */
	DIAL_EV_ADOPTED,	/* dial_adopt done: err 0 or why (below) */
};

enum dial_dir {
	DIAL_DIR_RX = 0,	/* received */
	DIAL_DIR_TX,		/* sent */
};

/* Why a leg ended (DIAL_EV_ENDED), Twilio's vocabulary */
enum dial_end {
	DIAL_END_NONE = 0,
	DIAL_END_COMPLETED,	/* was answered, then hung up (either side) */
	DIAL_END_BUSY,		/* 486, 600 */
	DIAL_END_NO_ANSWER,	/* 408, 480, 487 from the far end, timeout */
	DIAL_END_FAILED,	/* any other failure */
	DIAL_END_CANCELED,	/* we cancelled it before an answer */
};

/* The most of a message body an event keeps. An SDP offer with a dozen
 * codecs, ICE candidates and SRTP keys is 1 to 3 KiB, a multipart
 * SDP+ISUP body a little more; over TCP a body may be up to 64 KiB, and a
 * peer sending such bodies at a high rate must not multiply the event
 * queue's memory (dial_conf.evq_max_bytes counts it). 8 KiB keeps every
 * real SDP whole while bounding each event to a few pages. */
#define DIAL_BODY_MAX 8192

struct dial_event {
	enum dial_ev_type type;
	char leg_id[DIAL_ID_MAX];
	char group[DIAL_ID_MAX];	/* fork group ("" when none) */
	uint64_t time_us;	/* CLOCK_REALTIME, microseconds */
	enum dial_dir dir;	/* SIP: direction; INBOUND/ANSWERED: leg's */
	bool outbound;		/* the leg is one we started */
	uint16_t code;		/* SIP status (0 for requests) */
	const char *method;	/* request method, or the CSeq method of a
				   response */
	const char *phrase;	/* reason phrase of a response */
	const char *start_line;
	const char *call_id;
	const char *from;	/* From / To header values */
	const char *to;
	const char *ruri;	/* request URI (requests only) */
	struct dial_hdr *hdrv;	/* every header in wire order, names as sent */
	size_t hdrc;
	const uint8_t *raw;	/* the whole header block, lossless */
	size_t raw_len;
	struct dial_sdp sdp;	/* the body's SDP, when there is one */
	/* The body as it crossed the wire, cut to DIAL_BODY_MAX bytes (it may
	   hold any byte, NUL included; body[body_len] is a NUL for
	   convenience), NULL when the message has none. body_total is its
	   length on the wire: more than body_len when cut. body_type is the
	   Content-Type value (NULL when absent). */
	const uint8_t *body;
	size_t body_len;
	size_t body_total;
	const char *body_type;
	/* SIP and INBOUND: the far end of the message: where a received one
	   came from, where a sent one went ("IP:PORT", "[V6]:PORT"), and its
	   transport ("udp", "tcp", "tls"); "" for events without a message */
	char peer[64];
	char transport[8];
	struct dial_reason reason;	/* its Reason header, when present */
	/* DIAL_EV_ENDED */
	enum dial_end end;
	bool local;		/* we ended it (CANCEL/BYE/reject) */
	int err;		/* errno when no final response explains it
				   (ETIMEDOUT, EBUSY, ECONNREFUSED, ...) */
	struct dial_media_stats media;	/* DIAL_EV_ENDED: relayed media */
	char bridged[DIAL_ID_MAX];	/* BRIDGED: the other leg ("": an
					   unbridge); ENDED: the leg it was
					   bridged to at the end, if any */
	/* DIAL_EV_ANSWERED / DIAL_EV_REFRESHED: session timer, 0 = none */
	unsigned session_expires;
	bool refresher_local;	/* we must refresh (dial_leg_refresh) */

	struct dial_event *next;	/* FIFO link, NULL once taken */
};

/* One line for an errno-style code of this module. */
const char *dial_end_name(enum dial_end e);
const char *dial_ev_name(enum dial_ev_type t);

/* Starts the engine: copies conf, starts the SIP thread, binds the
 * listeners and returns once they are up (or with the error of binding).
 * Call from one thread; dial_free from the same. Errors: EINVAL (bad
 * listen address), EADDRINUSE, ENOMEM, ... */
int dial_alloc(struct dial **dp, const struct dial_conf *conf);

/* Ends every leg (BYE/CANCEL/487), gives their transactions up to
 * conf.quit_wait_ms, stops the thread, frees the queued events. NULL-safe;
 * returns NULL. */
struct dial *dial_free(struct dial *d);

/* The SIP port actually bound (listen port 0 picks one; tests). */
uint16_t dial_listen_port(const struct dial *d);

/* The SIP thread on SCHED_RR at prio (1-99), so that its wake-ups for a
 * datagram, a timer or relayed media do not wait for a core other
 * processes hold. Needs CAP_SYS_NICE or an RLIMIT_RTPRIO of prio. Any
 * thread; 0 or pthread_setschedparam's error (EPERM, EINVAL). */
int dial_rt_priority_set(struct dial *d, unsigned prio);

/* Draining (the daemon's SIGTERM/SIGUSR1, or no instance id yet): while
 * on, out-of-dialog OPTIONS (a load balancer's probe) and new INVITEs are
 * answered 503 with Retry-After, so that a balancer sends new calls
 * elsewhere; calls in progress go on. Any thread. */
void dial_draining_set(struct dial *d, bool on);
bool dial_draining(const struct dial *d);
/* Load as the engine sees it, for the daemon's own admission and pacing;
 * any thread, an atomic load or two (cheap enough for every request).
 * dial_overloaded: a new call now would be shed for overload
 * (max_queue_delay_ms): the SIP thread's own decision as it last took it
 * (on while new INVITEs get a stateless 503), or the oldest event the
 * reader has not taken has waited the whole bound (the next INVITE
 * would turn that decision on), so that a caller that admits calls of its
 * own (REST creates) refuses then too. Draining is not overload
 * (dial_draining).
 * dial_behind: the oldest event the reader has not taken has waited more
 * than a quarter of max_queue_delay_ms: the reader's loop is falling
 * behind, well before that wait counts towards overload; its cue to put
 * off work that can wait. Both false for NULL. */
bool dial_overloaded(const struct dial *d);
bool dial_behind(const struct dial *d);
/* Inbound legs' ids are call SIDs (dial_sid_format) of instance id
 * (0..65535). Any thread. */
void dial_sid_instance_set(struct dial *d, unsigned id);

/* A call SID, the one shape for every call whichever thread makes it:
 * CA + 4 hex digits of the instance id + 12 of the wall clock's
 * milliseconds + 16 of rnd (64 random bits), 34 characters. Every
 * call-log key starts with a SID: in time order, one instance's new rows
 * go to the right edge of each btree instead of a random leaf, which cost
 * the call log's PostgreSQL two thirds more CPU per call (bench/store,
 * random against ordered SIDs); the instance can be read back from it. */
#define DIAL_SID_LEN 34
void dial_sid_format(char out[DIAL_SID_LEN + 1], unsigned instance,
		     uint64_t wall_ms, uint64_t rnd);

/* Routes the engine's and libre's diagnostics (level: syslog numbers).
 * Process-wide; may be called from any thread before dial_alloc. */
typedef void (dial_log_h)(int level, const char *msg, void *arg);
void dial_log_handler_set(dial_log_h *h, void *arg);

/* A descriptor that is readable while events wait (level-triggered). */
int dial_event_fd(const struct dial *d);

/* Takes the oldest event off the FIFO (NULL when empty). The caller owns
 * it and frees it with dial_event_free. Any thread; thread-safe. */
struct dial_event *dial_event_next(struct dial *d);
struct dial_event *dial_event_free(struct dial_event *ev);

/* Case-insensitive look-up of the first header of that name; NULL if none. */
const char *dial_event_hdr(const struct dial_event *ev, const char *name);

/* Outgoing leg. Every pointer is borrowed for the call only. */
struct dial_leg_params {
	const char *id;		/* leg id (the child call SID), required */
	const char *group;	/* fork group: the first 2xx of a group wins,
				   the others are cancelled (NULL: none) */
	const char *uri;	/* sip:/sips: target; ;transport=udp|tcp|tls */
	const char *from_user;	/* From user part (NULL: "dialerd") */
	const char *from_name;	/* From display name (NULL: none) */
	const char *from_host;	/* NULL: our listen address */
	const struct dial_hdr *hdrv;	/* extra headers, sent in this order */
	size_t hdrc;
	const enum dial_codec *codecv;	/* offer order; 0 codecs: PCMU,PCMA */
	size_t codecc;
	const char *username;	/* digest credentials (NULL: none); the */
	const char *password;	/* password is kept in memory only */
	unsigned session_expires;	/* seconds (RFC 4028), 0: none */
	unsigned min_se;	/* Min-SE (0: 90) */
	const char *call_sid;	/* identity headers (NULL: not sent) */
	const char *account_sid;
	const char *media_addr;	/* SDP c= (NULL: conf) */
	uint16_t media_port;	/* SDP m= port (0: from conf range) */
	bool insecure;		/* TLS: skip verification for this target */
	bool relay;		/* media through the engine: the leg gets its
				   own RTP/RTCP socket pair from conf's port
				   range, bound on the listen address, named
				   in the offer (c=: media_addr, else conf's;
				   media_port is ignored); see dial_bridge */
};

/* Queues the start of a leg. Checks the parameters here (EINVAL: missing
 * id/uri, header name not a token or one the stack writes itself (Via,
 * From, To, Call-ID, CSeq, Contact, Max-Forwards, Content-*, Route), CR/LF
 * in a value, id too long;
 * ENOMEM); everything later is reported as events, ending with exactly
 * one DIAL_EV_ENDED (err EBUSY past max_legs, EAGAIN while overloaded
 * (max_queue_delay_ms), EEXIST while a live leg has that id). */
int dial_leg_start(struct dial *d, const struct dial_leg_params *p);

/* Ends a leg: CANCEL before an answer, BYE after, a final response
 * (code, 0: 487) on an unanswered inbound leg. reason (may be NULL) is sent
 * as a Reason header. Unknown ids are ignored. */
int dial_leg_hangup(struct dial *d, const char *id,
		    const struct dial_reason *reason);

/* Sends a session refresh (UPDATE when the peer allows it, else
 * re-INVITE). The daemon calls it at half the interval when
 * refresher_local, and hangs up when the interval passes otherwise. */
int dial_leg_refresh(struct dial *d, const char *id);

/* Inbound leg: 180 or 183 (without SDP). */
int dial_inbound_ring(struct dial *d, const char *id, uint16_t code);

/* Inbound leg: 200 with an SDP answer matching the offer, using the first
 * offered codec that is in codecv (0 codecs: any we support). */
struct dial_answer_params {
	const enum dial_codec *codecv;
	size_t codecc;
	const struct dial_hdr *hdrv;	/* extra headers on the 200 */
	size_t hdrc;
	const char *media_addr;	/* SDP c= (NULL: conf) */
	uint16_t media_port;	/* SDP m= port (0: from conf range) */
	bool relay;		/* as in dial_leg_params: a socket pair of the
				   leg, named in the answer (media_port is
				   ignored); the caller's offer names where
				   its media goes (late offer: the ACK's) */
};
int dial_inbound_answer(struct dial *d, const char *id,
			const struct dial_answer_params *p);

/* Inbound leg: a final failure (e.g. 486, 603) with an optional Reason. */
int dial_inbound_reject(struct dial *d, const char *id, uint16_t code,
			const struct dial_reason *reason);

/* Joins the media of two relayed legs (dial_leg_params.relay or
 * dial_answer_params.relay, in any state once their SDP went out): RTP and
 * RTCP from A's far end leave from B's socket pair towards B's far end and
 * vice versa. A leg's far end is latched from its first packet; before
 * that its SDP's address is used (the 183/200 of an outgoing leg, the
 * INVITE or ACK of an inbound one, later re-INVITEs). Bridging a leg that
 * is already bridged ends its previous bridge; either leg ending ends the
 * bridge (the other leg's peer packets are then dropped and counted).
 * Queued: the result comes back as DIAL_EV_BRIDGED (leg_id id_a, bridged
 * id_b) with err 0, ENOENT (no live leg of that id), ENOTSUP (a leg
 * without relayed media) or EINVAL (the same leg twice). EINVAL/ENOMEM
 * here for bad arguments. Counters arrive with each leg's DIAL_EV_ENDED. */
int dial_bridge(struct dial *d, const char *id_a, const char *id_b);
/* Ends the bridge of a leg (its media is then dropped and counted, the
 * sockets stay until the leg ends). DIAL_EV_BRIDGED with bridged "" and err
 * 0, ENOENT or ENOTSUP. */
int dial_unbridge(struct dial *d, const char *id);

/* After a crash (the next start, or a takeover): ends a dialog the dead
 * process left up (its legs died with it) with a BYE built from the two
 * messages that set it up, as they crossed the wire: the INVITE and its
 * 2xx, each a start line and headers (CRLF line ends, no body). uac: this
 * side sent the INVITE; cseq: the BYE's CSeq number (above every request
 * this side sent in the dialog). Its answer is logged (leg=id) and counted
 * (byes_answered, byes_failed). EINVAL (missing or over-long fields),
 * ENOMEM, ESHUTDOWN. */
struct dial_bye {
	const char *id;
	const char *invite;
	const char *ok;
	bool uac;
	uint32_t cseq;
};
int dial_bye(struct dial *d, const struct dial_bye *b);

/* After a kill -9, the next start on the same folder and addresses takes
 * up the answered, bridged calls the dead process left, instead of ending
 * them: each leg's dialog is rebuilt from the INVITE and 2xx that made it
 * (as for dial_bye), its relay port bound again and bridged to the other
 * leg's. From then on an adopted leg is a leg like any other: its messages
 * are DIAL_EV_SIP events, the peer's BYE is answered 200 and ends it
 * (DIAL_EV_ENDED, completed, remote), dial_leg_hangup ends it at once with
 * a BYE (DIAL_EV_ENDED, completed, local; the BYE is sent until answered),
 * dial_leg_refresh refreshes its session timer, re-INVITEs, UPDATEs and
 * OPTIONS in its dialog are answered, dial_bridge/dial_unbridge apply.
 * Some seconds after its DIAL_EV_ADOPTED (dial_conf.adopt_probe_ms) a leg
 * still up sends an OPTIONS in its dialog: the dead process may have ended
 * it just before it died. An answer that
 * says the peer holds no such dialog (RFC 5057: 481, 404, 408, 480...) or
 * none ends the leg (DIAL_EV_ENDED, completed, remote, code: that answer's,
 * err when none; a BYE first unless 481); its bridged leg stays up. */
struct dial_adopt {
	const char *id;		/* the leg's id (its call's SID) */
	const char *invite;	/* start line and headers, CRLF, no body */
	const char *ok;		/* the 2xx that answered it, the same */
	bool uac;		/* this side sent the INVITE */
	uint32_t cseq;		/* CSeq of this side's next request (when
				   uac, at least the INVITE's + 1) */
	const char *local_sdp;	/* the SDP this side sent (its offer or
				   answer): the relay port to bind again;
				   NULL: the leg was not relayed */
	const char *peer_sdp;	/* the SDP the peer sent: where its media
				   goes until a packet latches it */
};
/* Queued: adopts a, and b if not NULL, bridged to each other. Each leg
 * gets one DIAL_EV_ADOPTED (leg_id: its id, outbound: uac) with err 0 (up,
 * media relayed again), or: EADDRINUSE (its relay port could not be bound
 * again, logged: the dialog is up without media; end it with
 * dial_leg_hangup), EBADMSG (the messages make no dialog, or local_sdp
 * names no audio port: no leg), EEXIST (a live leg of that id, or any leg
 * of that Call-ID: no leg), ESHUTDOWN, ENOMEM. With err 0 or EADDRINUSE the
 * event carries the session timer the 2xx agreed (session_expires,
 * refresher_local), media.relayed and media.local_port, and in bridged
 * the other leg's id when their media were bridged. EINVAL (missing or
 * over-long fields), ENOMEM, ESHUTDOWN here. */
int dial_adopt(struct dial *d, const struct dial_adopt *a,
	       const struct dial_adopt *b);
/* Queued after the last dial_adopt of a start with dial_conf.adopting:
 * from then on requests in unknown dialogs are answered (481) again.
 * ENOMEM, ESHUTDOWN. */
int dial_adopt_done(struct dial *d);

/* Counters (any thread, approximate while running). */
struct dial_stats {
	uint64_t legs_started, legs_ended, inbound, inbound_rejected_busy,
		 legs_refused, msgs_rx, msgs_tx, msgs_unmatched, events,
		 events_dropped;
	uint64_t inbound_shed;	/* INVITEs answered 503 under overload */
	uint64_t legs_shed;	/* legs refused (EAGAIN) under overload */
	uint64_t overloads;	/* times the delay bound was crossed */
	uint64_t overload_filters;	/* times INVITEs were dropped in the
				   kernel (socket buffer 3/4 full) */
	bool shedding;		/* overloaded now (dial_overloaded) */
	uint64_t queue_delay_us;	/* latest measured queueing delay */
	uint64_t event_wait_us;	/* ... and wait of the oldest event the
				   reader had not taken (its loop behind) */
	uint64_t udp_drops;	/* datagrams the kernel dropped on the SIP UDP
				   socket (full receive buffer) */
	uint64_t tcp_conns;	/* accepted TCP/TLS connections open now */
	uint64_t tcp_refused;	/* ... closed at once: max_tcp_conns */
	uint64_t tcp_src_refused;	/* ... max_tcp_conns_per_source */
	uint64_t tcp_slow;	/* ... closed: no complete first message
				   within tcp_first_msg_ms */
	/* relay pairs (as of the SIP thread's last sweep, at most 1 s ago) */
	uint64_t rtp_pairs_idle;	/* open, idle, kept for the next legs */
	uint64_t rtp_pairs_opened;	/* pairs opened (none idle fitted) */
	uint64_t rtp_pairs_reused;	/* pairs an ended leg left, taken again */
	uint64_t rtp_idle_dropped;	/* datagrams to idle pairs, dropped */
	uint64_t rtp_refused_full;	/* legs refused a pair without a scan:
					   the range was found full < 100 ms
					   before */
	/* dial_bye: answered 2xx; failed (no answer, an error answer, a
	   dialog that could not be rebuilt) */
	uint64_t byes_answered, byes_failed;
};
void dial_stats_get(const struct dial *d, struct dial_stats *st);

/* Header checks shared with callers: a SIP token name, a value without
 * CR, LF or NUL. 0 or EINVAL. */
int dial_hdr_check(const char *name, const char *value);

/* Version of the libre the process runs with, for --version. */
const char *dial_libre_version(void);

/* The active libre timer implementation, for the start-up log. */
const char *dial_timer_impl(void);

#endif
