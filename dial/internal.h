/* internal.h: private declarations shared by the files of dial/ (libre types allowed) */
#ifndef DIALERD_DIAL_INTERNAL_H
#define DIALERD_DIAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>

#include <re.h>

#include "dial/dial.h"

/* BEGIN core (engine, legs, capture, sdp) */

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
/* Parses Session-Expires "N;refresher=uac"; 0 when absent/bad. */
unsigned dial_se_parse(const char *val, char *refresher, size_t rsz);
/* First audio stream of an SDP body. */
void dial_sdp_summary(struct dial_sdp *s, const char *body, size_t len);
/* Case-insensitive: does a comma list (Allow, Supported) hold tok? */
bool dial_list_has(const char *list, const char *tok);
uint64_t dial_now_us(void);

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
/* Appends "Name: value\r\n" for each header after dial_hdr_check;
 * EINVAL for a header the stack writes itself (Via, Call-ID, Content-*...). */
int dial_hdrs_encode(char **out, const struct dial_hdr *hdrv, size_t hdrc);

/* ---- engine.c ---- */

enum cmd_type {
	CMD_LEG_START = 1,
	CMD_HANGUP,
	CMD_REFRESH,
	CMD_RING,
	CMD_ANSWER,
	CMD_REJECT,
	CMD_BRIDGE,	/* media.c */
	CMD_UNBRIDGE,
};

struct leg_spec {
	char id[DIAL_ID_MAX];
	char group[DIAL_ID_MAX];
	char *uri;
	char *from_user;
	char *from_name;
	char *from_host;
	char *username;
	char *password;
	char *media_addr;
	char *hdrs;		/* encoded extra + identity headers */
	enum dial_codec codecv[DIAL_MAX_CODECS];
	size_t codecc;
	unsigned session_expires;
	unsigned min_se;
	uint16_t media_port;
	bool insecure;
	bool relay;
};

struct cmd {
	struct cmd *next;
	enum cmd_type type;
	char id[DIAL_ID_MAX];
	uint16_t code;
	struct dial_reason reason;
	struct leg_spec *spec;	/* CMD_LEG_START */
	char *hdrs;		/* CMD_ANSWER */
	char *media_addr;
	uint16_t media_port;
	enum dial_codec codecv[DIAL_MAX_CODECS];
	size_t codecc;
	bool relay;		/* CMD_ANSWER */
	char id2[DIAL_ID_MAX];	/* CMD_BRIDGE */
};

struct dial {
	/* copied configuration, read-only once the thread runs */
	struct dial_conf conf;
	char *strs[16];		/* owned copies behind conf's strings */
	struct sa laddr;
	char media_addr[64];

	/* shared between threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started;
	int start_state;	/* 0 starting, 1 ready, 2 failed/done */
	int start_err;
	struct dial_event *evq_head, *evq_tail;
	int efd;
	struct cmd *cmd_head, *cmd_tail;
	bool wake_sent;
	bool quit;
	bool loop_gone;		/* mq is gone: no more wake-ups */
	struct mqueue *mq;	/* set before ready, then read-only */

	_Atomic uint64_t st_legs_started, st_legs_ended, st_inbound,
		st_inbound_busy, st_legs_refused, st_rx, st_tx, st_unmatched,
		st_events, st_dropped, st_shed_in, st_shed_out, st_overloads,
		st_filtered, st_udp_drops;
	_Atomic uint64_t qdelay_us;	/* last queueing delay measured */
	_Atomic size_t evq_len;	/* events in the shared FIFO */

	/* SIP thread only */
	struct sip *sip;
	struct sipsess_sock *sock;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_resp;
	struct dnsc *dnsc;
	struct dial_tls *dtls;
	struct hash *ht_id;	/* leg id -> struct leg */
	struct hash *ht_cid;	/* Call-ID -> struct cid */
	struct hash *ht_grp;	/* fork group -> struct group */
	struct leg *connecting;	/* leg inside sipsess_connect() */
	struct dial_event *stash;	/* last unmatched rx request */
	uint32_t nout, nin;
	struct list linger;	/* ended legs, oldest first */
	struct tmr sweep;
	struct tmr flush_tmr;	/* delay 0: pending events to the FIFO */
	struct dial_event *pend_head, *pend_tail;
	size_t pend_len;
	struct tmr quit_tmr;
	uint32_t next_port;
	bool closing;
	bool sip_exited;
	bool tls_warned;
	/* overload (load.c) */
	int udp_fd;		/* the SIP UDP socket, -1: not found */
	uint64_t load_next_us;	/* next queueing-delay sample */
	uint64_t load_logged_us, filter_logged_us;
	uint64_t over_since, over_last;	/* samples over the mark */
	bool overloaded;	/* level 1: 503 to new INVITEs */
	bool filtering;		/* level 2: INVITEs dropped in the kernel */
	struct tmr load_tmr;	/* re-checks while overloaded */
};

/* Appends an event to the FIFO (takes it) and wakes the reader. */
void dial_emit(struct dial *d, struct dial_event *ev);
/* Engine log, through the handler set with dial_log_handler_set. */
void dial_log(int level, const char *fmt, ...);
uint16_t dial_next_port(struct dial *d);
/* Buckets of a table whose entries live for the 32 s transaction/linger
 * horizon (legs, Call-IDs, libre's transactions): 16 x hash_size. */
uint32_t dial_linger_buckets(const struct dial *d);

/* ---- load.c: overload detection (SIP thread) ---- */

/* Turns on the kernel's receive stamps on the SIP UDP socket (fd -1: no
 * overload detection; logged). */
void dial_load_init(struct dial *d, int fd);
/* After a datagram was read: samples its queueing delay and the socket's
 * fill level (once per ms); enters or leaves the overloaded state and
 * attaches or detaches the kernel's INVITE filter (see load.c). */
void dial_load_sample(struct dial *d);
/* New calls are to be shed (503 to INVITEs, EAGAIN to new legs). */
bool dial_load_shed(const struct dial *d);

/* ---- leg.c / inbound.c / capture.c (SIP thread) ---- */

enum leg_state {
	LEG_CALLING = 0,	/* INVITE out / INVITE in, nothing final */
	LEG_EARLY,		/* 1xx seen or sent */
	LEG_UP,			/* 2xx */
	LEG_ENDED,		/* ENDED emitted; lingers for late messages */
};

struct group {
	struct le he;
	char name[DIAL_ID_MAX];
	struct list legs;
	bool won;
};

struct cid {
	struct le he;		/* in d->ht_cid */
	struct le le;		/* in leg->cids */
	struct leg *leg;
	char callid[];
};

struct leg {
	struct le he;		/* d->ht_id */
	struct le le_linger;
	struct le le_grp;
	struct dial *d;
	struct group *grp;
	char id[DIAL_ID_MAX];
	bool outbound;
	enum leg_state state;
	struct sipsess *sess;
	struct list cids;
	struct leg_spec *spec;	/* outbound: kept for auth and 422 */
	unsigned auth_tries;
	unsigned se_try;	/* Session-Expires sent (after 422) */
	unsigned min_se;
	bool min_se_retry;
	/* CANCEL built from the INVITE as sent (libre's has no Reason) */
	struct mbuf *inv;
	struct sa inv_dst;
	enum sip_transp inv_tp;
	char inv_branch[64];
	bool provrecv;
	bool cancel_sent;
	bool hangup_local;
	struct dial_reason cancel_reason;
	struct tmr tmr;		/* CANCEL guard */
	/* session timer as agreed */
	unsigned se;
	bool se_local;
	bool peer_update;	/* Allow: UPDATE from the peer */
	struct sip_request *upd;	/* our UPDATE in flight */
	/* inbound */
	const struct sip_msg *msg;	/* the INVITE (held) */
	char *offer;		/* its SDP */
	size_t offer_len;
	uint16_t port;
	char *insecure_host;	/* held in dtls while the leg lives */
	/* events */
	struct dial_event *last_rx;	/* latest message received */
	struct dial_event *end_ev;	/* prepared ENDED (remote BYE) */
	uint64_t ended_ms;
	struct dial_media *media;	/* relayed media (media.c) */
};

int  dial_capture_init(struct dial *d);
void dial_trace_h(bool tx, enum sip_transp tp, const struct sa *src,
		  const struct sa *dst, const uint8_t *pkt, size_t len,
		  void *arg);
int  dial_cid_add(struct leg *leg, const char *callid, size_t len);
struct leg *dial_cid_find(struct dial *d, const char *callid, size_t len);
struct leg *dial_leg_find(struct dial *d, const char *id);
int  dial_leg_alloc(struct leg **legp, struct dial *d, const char *id,
		    bool outbound);
int  dial_leg_group(struct leg *leg, const char *name);
/* A new event of the leg: a copy of the last received message (headers,
 * SDP, Reason) when from_last_rx and there is one, else header-less. */
struct dial_event *dial_leg_event(struct leg *leg, enum dial_ev_type type,
				  bool from_last_rx);
void dial_spec_free(struct leg_spec *s);
/* Emits ENDED (clone of ev when given), moves the leg to the linger list. */
void dial_leg_end(struct leg *leg, struct dial_event *ev, enum dial_end end,
		  uint16_t code, int err, bool local);
void dial_leg_sweep(struct dial *d, bool all);
bool dial_req_h(const struct sip_msg *msg, void *arg);
bool dial_resp_h(const struct sip_msg *msg, void *arg);

void dial_out_start(struct dial *d, struct leg_spec *spec);
void dial_out_hangup(struct leg *leg, const struct dial_reason *reason);
void dial_out_refresh(struct leg *leg);
bool dial_out_update(struct leg *leg, const struct sip_msg *msg);
void dial_out_group_won(struct leg *winner);

/* sipsess handlers of every leg (arg: struct leg) */
int  dial_sess_offer(struct mbuf **descp, const struct sip_msg *msg,
		     void *arg);
int  dial_sess_answer(const struct sip_msg *msg, void *arg);
void dial_sess_estab(const struct sip_msg *msg, void *arg);
void dial_sess_close(int err, const struct sip_msg *msg, void *arg);

void dial_in_conn_h(const struct sip_msg *msg, void *arg);
void dial_in_ring(struct leg *leg, uint16_t code);
void dial_in_answer(struct leg *leg, const struct cmd *c);
void dial_in_reject(struct leg *leg, uint16_t code,
		    const struct dial_reason *reason);
bool dial_in_cancel(struct leg *leg, const struct sip_msg *msg);

/* ---- media.c: relayed media of legs (SIP thread) ---- */

/* The leg's RTP/RTCP pair (once; sets leg->port). Logged on error. */
int  dial_leg_media_open(struct leg *leg);
/* Far end's SDP (a received message's summary): its media address. */
void dial_leg_media_sdp(struct leg *leg, const struct dial_sdp *sdp);
/* Counters into the ENDED event (may be NULL), sockets closed. */
void dial_leg_media_end(struct leg *leg, struct dial_event *ev);
void dial_bridge_run(struct dial *d, const struct cmd *c);

/* END core */

/* BEGIN perf (tmr_heap, relay, tls) */

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

/* tls.c: dial_tls_alloc() -> sip_transp_add(..., dial_tls_ctx(dt)); client
 * connections then verify CA chain and host name (see tls.h) */
#include "dial/tls.h"

/* relay.c: RTP/RTCP relay between two bridged legs (see relay.h); needs
 * fd_setsize() large enough for 4 descriptors per relay */
#include "dial/relay.h"

/* END perf */

#endif
