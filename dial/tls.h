/* tls.h: private to dial/: a libre TLS context that verifies the peer certificate and host name */
#ifndef DIALERD_DIAL_TLS_H
#define DIALERD_DIAL_TLS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * libre 1.1.0 verifies nothing on its TLS client connections: any
 * certificate, any name. dial_tls_alloc() makes a context for
 * sip_transp_add(sip, SIP_TRANSP_TLS, &laddr, dial_tls_ctx(dt)) whose
 * client connections verify the peer's chain against the CA file (default
 * the system store) and check the certificate against the host of the URI
 * the request is routed by: the top Route header, else the Request-URI
 * (for a response, the top Via's sent-by). An IP literal is checked
 * against the certificate's IP addresses. The check runs per connection, so
 * one context serves every host. Verification is the context's default;
 * the role comes from the SSL object at the handshake: a server asks for
 * no client certificate, a client connection without a host is refused.
 *
 * libre reuses a TLS connection for every request to the same address
 * and port. A request that starts a dialog (no To tag) is refused (EPROTO,
 * counted in mismatch) when the open connection was verified for another
 * host, or not verified at all, unless its own leg is insecure.
 *
 * All functions: SIP thread (the thread that runs the SIP stack).
 */

struct tls;
struct dial_tls;

struct dial_tls_conf {
	const char *certfile;   /* PEM: certificate chain and key for our
				   listener (NULL: an ephemeral self-signed
				   one, for peers that connect back to our
				   Contact without verifying) */
	const char *keyfile;    /* NULL: the key is in certfile */
	const char *cafile;     /* NULL: /etc/ssl/certs/ca-certificates.crt,
				   else OpenSSL's default paths */
	bool insecure;          /* verify nothing: a warning is logged for
				   every connection made so */
};

struct dial_tls_stats {
	uint64_t verified;      /* client connections started with checks */
	uint64_t insecure;      /* ... started without (logged each time) */
	uint64_t refused;       /* handshakes we refused (chain or name) */
	uint64_t nohost;        /* no host to check found: refused at once */
	uint64_t mismatch;      /* requests refused a pooled connection
				   verified for another host */
};

/* A mem object (mem_deref frees it). EINVAL: unreadable CA, certificate or
 * key file (logged with OpenSSL's reason); ENOMEM. */
int dial_tls_alloc(struct dial_tls **dtp, const struct dial_tls_conf *conf);

/* The libre context, for sip_transp_add; borrowed: lives as long as dt and
 * every transport holding it. */
struct tls *dial_tls_ctx(const struct dial_tls *dt);

/* Per-leg insecure: asked with the Call-ID of the message that opens a
 * connection (or wants to reuse one); true: no verification for it. */
typedef bool (dial_tls_insecure_h)(const char *callid, void *arg);
void dial_tls_insecure_handler_set(struct dial_tls *dt,
				   dial_tls_insecure_h *h, void *arg);

void dial_tls_stats_get(const struct dial_tls *dt, struct dial_tls_stats *st);

/* tls.c holds the program's one definition of libre's sip_transp_send,
 * through which every SIP message leaves, after DNS, with the address it
 * goes to. A guard set here (per thread: the SIP thread's engine) sees
 * each message first; a non-zero return refuses the send with that error
 * and nothing leaves (libre then tries the next DNS address, or fails the
 * request). NULL h: no guard. */
typedef int (dial_send_guard_h)(enum sip_transp tp, const struct sa *dst,
				const struct mbuf *mb, void *arg);
void dial_tls_send_guard(dial_send_guard_h *h, void *arg);

#endif
