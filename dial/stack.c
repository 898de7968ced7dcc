/* stack.c: the libre stack of the SIP thread: DNS, transports, listeners, tables, the command queue; its teardown */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "dial/core.h"

enum {
	FD_SETSIZE_SIP = 65536,
	SWEEP_MS = 1000,
};

static void exit_h(void *arg)
{
	struct dial *d = arg;

	d->sip_exited = true;
	re_cancel();
}

/* libre 1.1.0 has no accessor for the SIP transport's UDP socket (struct
 * sip_transp is private): find it among our descriptors by its local
 * address. -1: not found. */
static int sip_udp_fd(const struct sa *laddr)
{
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int type = 0;
		socklen_t tl = sizeof(type);
		struct sa a;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) ||
		    type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl))
			continue;
		sa_init(&a, AF_UNSPEC);
		if (sa_set_sa(&a, (struct sockaddr *)&ss))
			continue;
		if (!sa_cmp(&a, laddr, SA_ALL))
			continue;
		return fd;
	}
	return -1;
}

static void raise_rcvbuf(int fd, int bytes)
{
	if (fd < 0) {
		dial_log(LOG_WARNING, "SIP UDP socket not found: SO_RCVBUF "
			 "unchanged");
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)))
		dial_log(LOG_WARNING, "SO_RCVBUF: %s", strerror(errno));
}

/* Per-leg "insecure" (dial_leg_params.insecure): the leg of the message
 * that opens or reuses a TLS connection; inside sipsess_connect() its
 * Call-ID is not mapped yet. */
static bool tls_insecure_h(const char *callid, void *arg)
{
	struct dial *d = arg;
	struct leg *leg = dial_leg_cid_find(d, callid, strlen(callid));

	if (!leg)
		leg = d->connecting;
	return leg && leg->insecure_host;
}

/* TLS: a listener when a certificate is configured, else a client-only
 * transport on an ephemeral port (libre needs a transport to dial out). */
static int tls_build(struct dial *d)
{
	struct dial_tls_conf tc;
	struct sa tl = d->laddr;
	int err;

	memset(&tc, 0, sizeof(tc));
	tc.certfile = d->conf.tls_cert;
	tc.cafile = d->conf.tls_ca_file;
	tc.insecure = d->conf.tls_insecure;
	err = dial_tls_alloc(&d->dtls, &tc);
	if (err) {
		dial_log(LOG_ERR, "TLS set-up failed: %s", strerror(err));
		return err;
	}
	dial_tls_insecure_handler_set(d->dtls, tls_insecure_h, d);
	if (d->conf.tls_cert)
		sa_set_port(&tl, d->conf.tls_port ? d->conf.tls_port :
			    (uint16_t)(sa_port(&d->laddr) + 1));
	else
		sa_set_port(&tl, 0);
	err = sip_transp_add(d->sip, SIP_TRANSP_TLS, &tl,
			     dial_tls_ctx(d->dtls));
	if (err) {
		dial_log(LOG_ERR, "SIP TLS listen on %J: %s", &tl,
			 strerror(err));
		return err;
	}
	if (d->conf.tls_cert)
		dial_log(LOG_NOTICE, "SIP TLS on %J", &tl);
	if (d->conf.tls_insecure)
		dial_log(LOG_WARNING, "TLS peer verification is OFF "
			 "(tls_insecure)");
	return 0;
}

/* UDP then TCP on the same port. Port 0: TCP takes the port the UDP
 * socket got, which a TCP socket of another process may hold already
 * (tests run side by side); another pair is tried then. */
static int udp_tcp_add(struct dial *d)
{
	const bool any = !sa_port(&d->laddr);
	int err;

	for (int tries = 1;; tries++) {
		/* a whole datagram: SIP over UDP may reach 64 KiB (RFC 3261
		   §18.1.1 asks for TCP past the MTU, not every far end does) */
		dial_udp_rxsz_arm(65536);
		err = sip_transp_add(d->sip, SIP_TRANSP_UDP, &d->laddr);
		if (err) {
			dial_log(LOG_ERR, "SIP UDP listen on %J: %s",
				 &d->laddr, strerror(err));
			return err;
		}
		if (any) {
			struct sa a;

			err = sip_transp_laddr(d->sip, &a, SIP_TRANSP_UDP,
					       NULL);
			if (err)
				return err;
			sa_set_port(&d->laddr, sa_port(&a));
		}
		err = sip_transp_add(d->sip, SIP_TRANSP_TCP, &d->laddr);
		if (!err)
			return 0;
		if (!any || err != EADDRINUSE || tries == 8) {
			dial_log(LOG_ERR, "SIP TCP listen on %J: %s",
				 &d->laddr, strerror(err));
			return err;
		}
		sip_transp_flush(d->sip);
		dial_udp_local_forget();
		sa_set_port(&d->laddr, 0);
	}
}

/* UDP (its socket's buffer raised and watched for overload) and TCP, then
 * TLS. */
static int transports_add(struct dial *d)
{
	int fd, err;

	{
		struct dial_conn_conf cc = {
			d->conf.max_tcp_conns, d->conf.max_tcp_conns_per_source,
			d->conf.tcp_first_msg_ms
		};

		err = dial_conns_alloc(&d->conns, &cc, &d->ctr);
		if (err)
			return err;
	}
	err = udp_tcp_add(d);
	if (err)
		return err;
	fd = sip_udp_fd(&d->laddr);
	raise_rcvbuf(fd, (int)d->conf.udp_rcvbuf);
	err = dial_load_alloc(&d->load, fd, d->conf.max_queue_delay_ms,
			      &d->evq, &d->ctr);
	if (err)
		return err;
	return tls_build(d);
}

int dial_stack_build(struct dial *d)
{
	struct sa srvv[4];
	uint32_t srvc = 4;
	char domain[64] = "";
	uint32_t hs = d->conf.hash_size;
	int err;

	err = fd_setsize(FD_SETSIZE_SIP);
	if (err)
		return err;
	/* ended legs' relay pairs, kept open for the next legs (media.c):
	   bounded by the open-file limit as well */
	err = dial_media_pool_alloc(&d->rtp_pool,
				    dial_media_pool_max_default());
	if (err)
		return err;
	err = dns_srv_get(domain, sizeof(domain), srvv, &srvc);
	if (err || !srvc) {
		sa_set_str(&srvv[0], "127.0.0.1", 53);
		srvc = 1;
	}
	err = dnsc_alloc(&d->dnsc, NULL, srvv, srvc);
	if (err)
		return err;
	/* client and server transactions outlive their call by up to 32 s
	   (timers B, F, H, J): at 6,000 calls/s ~2 x 10^5 of each; walking
	   16,384 buckets of them was ~15 % of the SIP thread (perf, inbound
	   bench). TCP connections stay few. */
	err = sip_alloc(&d->sip, d->dnsc, dial_leg_buckets(d),
			dial_leg_buckets(d), hs, d->conf.user_agent,
			exit_h, d);
	if (err)
		return err;
	err = transports_add(d);
	if (err)
		return err;
	/* our request listener runs before sipsess's: it sees BYE (Reason),
	   UPDATE and CANCEL of legs that sipsess does not know yet */
	err = sip_listen(&d->lsnr_req, d->sip, true, dial_recv_req_h, d);
	if (!err)
		err = sip_listen(&d->lsnr_resp, d->sip, false,
				 dial_recv_resp_h, d);
	if (!err)
		err = sipsess_listen(&d->sock, d->sip, (int)hs,
				     dial_in_conn_h, d);
	if (!err)
		err = dial_leg_tables_alloc(d);
	if (err)
		return err;
	sip_set_trace_handler(d->sip, dial_recv_trace_h);
	return mqueue_alloc(&d->mq, dial_cmd_mq_h, d);
}

/* the pool's figures where dial_stats_get() can read them */
static void pool_publish(struct dial *d)
{
	struct dial_media_pool_stats ps;

	dial_media_pool_stats_get(d->rtp_pool, &ps);
	atomic_store_explicit(&d->ctr.rtp_idle, ps.idle, memory_order_relaxed);
	atomic_store_explicit(&d->ctr.rtp_opened, ps.opened,
			      memory_order_relaxed);
	atomic_store_explicit(&d->ctr.rtp_reused, ps.reused,
			      memory_order_relaxed);
	atomic_store_explicit(&d->ctr.rtp_drained, ps.drained,
			      memory_order_relaxed);
	atomic_store_explicit(&d->ctr.rtp_refused_full, ps.refused_full,
			      memory_order_relaxed);
}

static void sweep_h(void *arg)
{
	struct dial *d = arg;

	dial_leg_sweep(d, false);
	dial_media_pool_expire(d->rtp_pool, tmr_jiffies(),
			       DIAL_MEDIA_POOL_IDLE_MS);
	pool_publish(d);
	tmr_start(&d->sweep, SWEEP_MS, sweep_h, d);
}

void dial_stack_sweep_start(struct dial *d)
{
	tmr_start(&d->sweep, SWEEP_MS, sweep_h, d);
}

void dial_stack_free(struct dial *d)
{
	tmr_cancel(&d->sweep);
	tmr_cancel(&d->quit_tmr);
	d->load = mem_deref(d->load);
	dial_leg_sweep(d, true);
	/* every leg's media is gone: the idle pairs close now, while the
	   thread's libre loop (its epoll descriptor) still exists */
	d->rtp_pool = mem_deref(d->rtp_pool);
	d->stash = dial_event_free(d->stash);
	dial_bye_flush(d);
	d->lsnr_req = mem_deref(d->lsnr_req);
	d->lsnr_resp = mem_deref(d->lsnr_resp);
	d->sock = mem_deref(d->sock);
	if (d->sip) {
		if (!d->closing) {
			/* start-up failed: nothing is in flight */
			sip_close(d->sip, true);
			mem_deref(d->sip);
		}
		else {
			/* sip_close(false) dropped our ref; the closing
			   destructor took one back when the last session
			   holding the stack went, and that one is ours to
			   drop. Past quit_wait_ms that happens here: the
			   sweep above or this forced close frees the last
			   sessions (held, it kept the whole stack, ~14 MB) */
			if (!d->sip_exited)
				sip_close(d->sip, true);
			if (d->sip_exited)
				mem_deref(d->sip);
			else
				dial_log(LOG_WARNING, "SIP stack still held "
					 "at shutdown");
		}
		d->sip = NULL;
	}
	d->conns = mem_deref(d->conns);	/* after the transports */
	d->ht_id = mem_deref(d->ht_id);
	d->ht_cid = mem_deref(d->ht_cid);
	d->ht_grp = mem_deref(d->ht_grp);
	d->mq = mem_deref(d->mq);
	d->dtls = mem_deref(d->dtls);
	d->dnsc = mem_deref(d->dnsc);
	dial_evq_flush(&d->evq);	/* dial_free frees what nobody took */
}

