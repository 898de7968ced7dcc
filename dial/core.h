/* core.h: struct dial and struct leg, and the functions of layers 1-5 (see internal.h for the layers) */
#ifndef DIALERD_DIAL_CORE_H
#define DIALERD_DIAL_CORE_H

#include "dial/internal.h"

/* ---- the engine ---- */

/* What dial_leg_start copied for the SIP thread; owned by the leg. */
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

enum cmd_type {
	CMD_LEG_START = 1,
	CMD_HANGUP,
	CMD_REFRESH,
	CMD_RING,
	CMD_ANSWER,
	CMD_REJECT,
	CMD_BRIDGE,
	CMD_UNBRIDGE,
	CMD_BYE,
	CMD_ADOPT,
	CMD_ADOPT_DONE,
};

/* What dial_adopt copied for the SIP thread (one per leg). */
struct adopt_spec {
	char id[DIAL_ID_MAX];
	char *invite, *ok;
	char *local_sdp, *peer_sdp;
	uint32_t cseq;
	bool uac;
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
	char *invite, *ok;	/* CMD_BYE: the dialog's INVITE and 2xx */
	uint32_t cseq;
	bool uac;
	struct adopt_spec *adopt[2];	/* CMD_ADOPT: a, b (or NULL) */
};

struct dial {
	/* copied configuration, read-only once the thread runs */
	struct dial_conf conf;
	char *strs[16];		/* owned copies behind conf's strings */
	struct sa laddr;
	char media_addr[64];

	/* shared between threads, under lock (thread.c, cmd.c) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int start_state;	/* 0 starting, 1 ready, 2 failed/done */
	int start_err;
	struct cmd *cmd_head, *cmd_tail;
	bool wake_sent;
	bool quit;
	bool loop_gone;		/* mq is gone: no more wake-ups */
	struct mqueue *mq;	/* set before ready, then read-only */

	struct dial_ctr ctr;	/* any thread (atomic) */
	atomic_bool draining;	/* dial_draining_set: OPTIONS, INVITEs 503 */
	bool adopting;		/* SIP thread: conf.adopting until
				   dial_adopt_done (recv.c) */
	atomic_uint sid_instance;	/* 4 hex digits of inbound SIDs */
	struct dial_evq evq;	/* its own lock */

	/* SIP thread only */
	struct sip *sip;
	struct sipsess_sock *sock;
	struct sip_lsnr *lsnr_req;
	struct sip_lsnr *lsnr_resp;
	struct dnsc *dnsc;
	struct dial_tls *dtls;
	struct dial_load *load;
	struct dial_conns *conns;	/* accepted TCP/TLS caps */
	struct dial_media_pool *rtp_pool;	/* idle relay pairs (media.c) */
	struct hash *ht_id;	/* leg id -> struct leg */
	struct hash *ht_cid;	/* Call-ID -> struct cid */
	struct hash *ht_grp;	/* fork group -> struct group */
	struct leg *connecting;	/* leg inside sipsess_connect() */
	struct dial_event *stash;	/* last unmatched rx request */
	uint32_t nout, nin;
	struct list linger;	/* ended legs, oldest first */
	struct list byes;	/* bye.c's transactions in flight */
	struct tmr sweep;
	struct tmr quit_tmr;
	uint32_t next_port;
	bool closing;
	bool sip_exited;
	bool tls_warned;
	struct dial_dest deny;	/* conf.deny_destinations (+ listeners) */
};

/* ---- leg.c: the leg object (SIP thread) ---- */

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
	size_t len;		/* of callid: compared on every lookup */
	char callid[];
};

struct leg_refused {
	char peer[64];		/* "IP:PORT", "[V6]:PORT" */
	char tp[8];		/* "udp", "tcp", "tls" */
};

/* About 500 bytes: every field set only in rare cases is allocated
 * then, so that held calls (two legs each) stay small. */
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
	unsigned auth_tries;	/* credentials handed to libre */
	unsigned challenges;	/* 401/407 to our INVITE (new CSeq) */
	uint32_t challenge_cseq;	/* of the latest one counted */
	uint64_t challenge_keys[2];	/* hashes of the realm + nonce answered
					   (every leg carries them: 8 bytes, not
					   the text) */
	unsigned se_try;	/* Session-Expires sent (after 422) */
	unsigned min_se;
	bool min_se_retry;
	/* CANCEL built from the INVITE as sent (libre's has no Reason) */
	struct mbuf *inv;
	struct sa inv_dst;
	enum sip_transp inv_tp;
	uint64_t inv_branch;	/* its Via branch, hashed */
	bool provrecv;
	bool cancel_sent;
	bool hangup_local;
	struct dial_reason *cancel_reason;	/* the hang-up's, NULL: none
						   (rare: allocated then) */
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
	char *insecure_host;	/* insecure leg: no TLS verification */
	/* the destination the deny list refused (rare: allocated then) */
	struct leg_refused *refused;
	/* events */
	struct dial_event *last_rx;	/* latest message received */
	struct dial_event *end_ev;	/* prepared ENDED (remote BYE) */
	uint64_t ended_ms;	/* tmr_jiffies(): CLOCK_MONOTONIC */
	struct dial_media *media;	/* relayed media (bridge.c) */
	/* taken over from a killed process (adopt.c; rare: allocated then,
	   freed with the leg): it has no sipsess, this is its dialog */
	struct adopted *adopt;
};

/* Buckets of a table whose entries live for the 32 s transaction/linger
 * horizon (legs, Call-IDs, libre's transactions): 16 x hash_size. */
uint32_t dial_leg_buckets(const struct dial *d);
/* The tables by id, Call-ID and group (freed by the stack). */
int  dial_leg_tables_alloc(struct dial *d);
int  dial_leg_alloc(struct leg **legp, struct dial *d, const char *id,
		    bool outbound);
struct leg *dial_leg_find(struct dial *d, const char *id);
int  dial_leg_cid_add(struct leg *leg, const char *callid, size_t len);
struct leg *dial_leg_cid_find(struct dial *d, const char *callid,
			      size_t len);
int  dial_leg_group(struct leg *leg, const char *name);
/* Names the leg (id, group, direction) in an event of it. */
void dial_leg_stamp(const struct leg *leg, struct dial_event *ev);
/* A new event of the leg: a copy of the last received message (headers,
 * SDP, Reason) when from_last_rx and there is one, else header-less. */
struct dial_event *dial_leg_event(struct leg *leg, enum dial_ev_type type,
				  bool from_last_rx);
/* The same from the latest message, moved out of the leg instead of
 * copied: nothing reports from it again (ANSWERED). */
struct dial_event *dial_leg_event_take(struct leg *leg, enum dial_ev_type type);
void dial_leg_emit(struct leg *leg, struct dial_event *ev);
/* Emits ENDED (clone of ev when given) with the media counters, closes
 * the media, moves the leg to the linger list. */
void dial_leg_end(struct leg *leg, struct dial_event *ev, enum dial_end end,
		  uint16_t code, int err, bool local);
/* Frees the legs that lingered past linger_ms (all: every leg). */
void dial_leg_sweep(struct dial *d, bool all);
/* The next RTP port of the configured range (not relayed legs). */
uint16_t dial_leg_port_next(struct dial *d);
void dial_leg_spec_free(struct leg_spec *s);
/* Once the leg is answered: only what in-dialog requests use stays (the
 * credentials, the Contact's user, the codecs, the session timer). */
void dial_leg_spec_trim(struct leg_spec *s);

/* ---- sess.c: sipsess handlers of every leg (arg: struct leg) ---- */

int  dial_sess_offer(struct mbuf **descp, const struct sip_msg *msg,
		     void *arg);
int  dial_sess_answer(const struct sip_msg *msg, void *arg);
void dial_sess_estab(const struct sip_msg *msg, void *arg);
void dial_sess_close(int err, const struct sip_msg *msg, void *arg);
/* The session timer a message states (Session-Expires, Allow: UPDATE). */
void dial_sess_timer_from(struct leg *leg, const struct sip_msg *msg,
			  bool we_are_uac);
/* REFRESHED with the session timer as agreed now. */
void dial_sess_refreshed(struct leg *leg);

/* ---- bridge.c: relayed media of legs (SIP thread) ---- */

/* The leg's RTP/RTCP pair (once; sets leg->port). Logged on error. */
int  dial_bridge_open(struct leg *leg);
/* The same at exactly that RTP port (adoption: the port a previous
 * process named in its SDP); EADDRINUSE when taken. Logged on error. */
int  dial_bridge_open_at(struct leg *leg, uint16_t port);
/* Far end's SDP (a received message's summary): its media address. */
void dial_bridge_sdp(struct leg *leg, const struct dial_sdp *sdp);
/* The same from a message libre matched to the leg's dialog or INVITE
 * transaction (sipsess handlers): only those may move the media. */
void dial_bridge_msg(struct leg *leg, const struct sip_msg *msg);
/* Bridges legs a and b, or unbridges a when b is NULL; BRIDGED event. */
void dial_bridge_run(struct dial *d, const char *a, const char *b);

/* ---- out.c: outgoing legs ---- */

void dial_out_start(struct dial *d, struct leg_spec *spec);
/* BYE when up, else CANCEL (with Reason) or an end without one. */
void dial_out_hangup(struct leg *leg, const struct dial_reason *reason);
void dial_out_refresh(struct leg *leg);
/* Our INVITE as traced on its way out: kept for the CANCEL. */
void dial_out_sent(struct leg *leg, const struct dial_event *ev,
		   const uint8_t *pkt, size_t len, const struct sa *dst,
		   enum sip_transp tp);
/* A 401/407 to our INVITE, as received (rx: its event copy): past the
 * retry bound, or a realm/nonce answered before, the leg ends failed with
 * it instead of libre answering again. */
void dial_out_challenge(struct leg *leg, const struct dial_event *rx);
/* An UPDATE from the far end (refresh); true: answered. */
bool dial_out_update(struct leg *leg, const struct sip_msg *msg);
/* The deny list gets our listeners (when it says "self") and guards every
 * request libre sends from this thread (after dial_stack_build). */
void dial_out_policy_init(struct dial *d);

/* ---- in.c: inbound legs ---- */

void dial_in_conn_h(const struct sip_msg *msg, void *arg);
void dial_in_ring(struct leg *leg, uint16_t code);
void dial_in_answer(struct leg *leg, const struct cmd *c);
void dial_in_reject(struct leg *leg, uint16_t code,
		    const struct dial_reason *reason);
bool dial_in_cancel(struct leg *leg, const struct sip_msg *msg);

/* ---- bye.c: a dialog of a previous process ended ---- */

/* A message as text (start line and headers, CRLF; the closing empty line
 * may be missing) decoded by libre; EBADMSG-ish errors from libre, ENOMEM. */
int dial_bye_decode(struct sip_msg **mp, const char *raw);
/* The dialog an INVITE and its 2xx set up, as this side sends requests in
 * it (RFC 3261 12.1.1, 12.1.2): remote target (the peer's Contact), next
 * hop (the route set's first URI; NULL without Record-Route), the route set
 * as Route lines ("" without), To and From values with the tags, our tag
 * and the peer's (ltag, rtag; "" when absent) and our Contact's value
 * (NULL when our message had none). */
struct dial_dlg {
	char *target;
	char *next_hop;
	char *routes;
	char *to, *from;
	char *callid;
	char *ltag, *rtag;
	char *contact;
};
/* EBADMSG when the two messages do not make a dialog (not an INVITE and
 * its 2xx, no To tag, Call-IDs that differ, no Contact of the peer, a bad
 * Record-Route), ENOMEM. Pure: no stack. */
int dial_dlg_decode(struct dial_dlg **gp, const struct sip_msg *inv,
		    const struct sip_msg *rsp, bool uac);
/* The headers of a request in that dialog after Via and Max-Forwards
 * (libre writes those): To, From, Call-ID, CSeq, the Route lines, extra
 * (NULL: none; CRLF-ended lines), User-Agent, then an SDP body (NULL:
 * none) with its Content-Type and Content-Length. ENOMEM. */
int dial_dlg_request(char **hdrsp, const struct dial_dlg *g, const char *met,
		     uint32_t cseq, const char *extra, const char *sdp,
		     const char *user_agent);
/* A BYE's, with a Reason header when reason is present. */
int dial_dlg_bye(char **hdrsp, const struct dial_dlg *g, uint32_t cseq,
		 const struct dial_reason *reason, const char *user_agent);
/* The BYE of the dialog an INVITE and its 2xx set up (see dial_bye), with
 * Reason "dialerd process lost": its Request-URI, next hop and headers
 * (dial_dlg_bye). EBADMSG (dial_dlg_decode), EINVAL, ENOMEM. */
struct dial_bye_msg {
	char *ruri;
	char *next_hop;
	char *hdrs;
	char *callid;
};
int dial_bye_build(struct dial_bye_msg **mp, const char *invite,
		   const char *ok, bool uac, uint32_t cseq,
		   const char *user_agent);
/* Sends the BYE (see dial_bye); its transaction is in d->byes until it
 * ends; every failure is logged and counted. */
int dial_bye_run(struct dial *d, const char *id, const char *invite,
		 const char *ok, bool uac, uint32_t cseq);
/* The leg id of the BYE in flight with that Call-ID (its messages are
 * that leg's events), or NULL. */
const char *dial_bye_find(const struct dial *d, const char *callid,
			  size_t len);
/* The transactions still in flight are dropped (shutdown). */
void dial_bye_flush(struct dial *d);

/* ---- adopt.c: dialogs a killed process left up, taken over ---- */

/* Adopts the legs of a CMD_ADOPT (a, and b when not NULL; see dial_adopt):
 * one DIAL_EV_ADOPTED each, then (after adopt_probe_ms) an OPTIONS in
 * each leg's dialog. */
void dial_adopt_run(struct dial *d, const struct adopt_spec *a,
		    const struct adopt_spec *b);
/* An in-dialog request of an adopted leg (recv.c, before sipsess): always
 * consumed (answered, or an ACK taken). */
bool dial_adopt_req(struct leg *leg, const struct sip_msg *msg);
/* A response libre's transactions did not take (a retransmitted 2xx to our
 * re-INVITE: ACKed again); true when consumed. */
bool dial_adopt_resp(struct leg *leg, const struct sip_msg *msg);
/* BYE with the hang-up's Reason (may be NULL); the leg ends now, libre
 * sends the BYE until it is answered. */
void dial_adopt_hangup(struct leg *leg, const struct dial_reason *reason);
/* UPDATE when the peer allows it, else a re-INVITE (ACKed here). */
void dial_adopt_refresh(struct leg *leg);

/* ---- recv.c: libre's trace and listeners (arg: struct dial) ---- */

void dial_recv_trace_h(bool tx, enum sip_transp tp, const struct sa *src,
		       const struct sa *dst, const uint8_t *pkt, size_t len,
		       void *arg);
bool dial_recv_req_h(const struct sip_msg *msg, void *arg);
bool dial_recv_resp_h(const struct sip_msg *msg, void *arg);

/* ---- cmd.c, stack.c (SIP thread unless said) ---- */

/* Runs the commands queued by the daemon (libre's mqueue handler). */
void dial_cmd_mq_h(int id, void *data, void *arg);
/* Frees the commands nobody ran (after the SIP thread). */
void dial_cmd_flush(struct dial *d);
/* Asks the SIP thread to end (any thread; under d->lock). */
void dial_cmd_quit(struct dial *d);

int  dial_stack_build(struct dial *d);
void dial_stack_free(struct dial *d);
void dial_stack_sweep_start(struct dial *d);

/* ---- thread.c ---- */

/* Engines that hold libre's process-wide initialisation (tests). */
unsigned dial_thread_lib_users(void);

#endif
