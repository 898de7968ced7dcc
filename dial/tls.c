/* tls.c: TLS client verification (CA chain + host name per connection) on libre 1.1.0's SIP transport */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <re.h>

#include "dial/internal.h"

#define DEBUG_MODULE "dial_tls"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

/*
 * How the host name reaches OpenSSL. libre 1.1.0 creates a client TLS
 * connection inside its SIP transport (conn_send -> tls_start_tcp) and
 * never exposes it, and the only per-connection checks it offers,
 * tls_set_verify_server() and tls_set_servername(), take that hidden
 * struct tls_conn. Both calls on the way are made through libre's PLT:
 *
 *   ctrans/sip_send -> sip_transp_send(..., dst, mb) -> conn_send
 *       -> tcp_connect -> tls_start_tcp(&conn->sc, tls, tcp, 0)
 *
 * so this file defines sip_transp_send and tls_start_tcp, each calling
 * libre's own (dlsym RTLD_NEXT). The first remembers, for the duration of
 * the call, which message is being sent; the second, when libre starts a
 * client connection on one of our contexts, reads the routing host from
 * that message and arms OpenSSL's per-connection check (SSL_set1_host via
 * tls_set_verify_server, SNI via tls_set_servername). Connections libre
 * accepts are started outside sip_transp_send and stay untouched.
 *
 * In libre 1.1.0 the SIP transport starts TLS in exactly two places:
 * conn_send (inside sip_transp_send: client) and its accept handler
 * (server). A client connection whose message names no host is refused:
 * fail closed.
 */

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* libre-private, stable in 1.1.x (configure pins the ABI) */
struct sip_connqent;
struct sip;
typedef void (sip_transp_h)(int err, void *arg);
int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    sip_transp_h *transph, void *arg);

typedef int (send_f)(struct sip_connqent **, struct sip *, void *,
		     enum sip_transp, const struct sa *, struct mbuf *,
		     sip_transp_h *, void *);
typedef int (start_f)(struct tls_conn **, struct tls *, struct tcp_conn *,
		      int);

struct dial_tls {
	struct le le;             /* in registry */
	struct tls *tls;
	bool insecure;
	dial_tls_insecure_h *insecureh;	/* per leg, by Call-ID */
	void *insecure_arg;
	struct dial_tls_stats st;
};

/* A client connection we started, as libre pools it: by the stack and
 * the peer's address. The socket's inode tells whether it still lives
 * (libre closes its descriptor with the connection; a reused number is
 * another socket). */
struct cconn {
	struct le le;
	const struct dial_tls *dt;
	const void *sip;
	struct sa dst;
	int fd;
	ino_t ino;
	bool verified;            /* chain and host checked (else insecure) */
	char host[256];           /* the name it was verified for */
};

/* per SIP thread, like libre's own connection table */
static _Thread_local struct list cconns;

/* contexts made here; read when libre starts a connection */
static struct list registry = LIST_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static send_f *real_send;
static start_f *real_start;
static int ex_idx = -1;

/* the message libre is sending right now (SIP thread, nested calls) */
struct sending {
	const void *sip;
	const struct sa *dst;
	const struct mbuf *mb;
};

/* What a message says about the TLS connection it needs. */
struct msginfo {
	char host[256];           /* routing host ("" when none) */
	char callid[128];
	bool initial;             /* a request outside a dialog (no To tag) */
	bool req;
};

static int msg_info(struct msginfo *mi, const struct mbuf *src);
static struct cconn *cconn_find(const void *sip, const struct sa *dst);
static bool leg_insecure(const struct dial_tls *dt, const struct msginfo *mi);
static _Thread_local const struct sending *cur;

/* the engine's destination guard (tls.h) */
static _Thread_local dial_send_guard_h *guard_h;
static _Thread_local void *guard_arg;


static void resolve(void)
{
	void *p;

	p = dlsym(RTLD_NEXT, "sip_transp_send");
	memcpy(&real_send, &p, sizeof(p));
	p = dlsym(RTLD_NEXT, "tls_start_tcp");
	memcpy(&real_start, &p, sizeof(p));

	ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);

	if (!real_send || !real_start)
		DEBUG_WARNING("libre's sip_transp_send/tls_start_tcp not found:"
			      " TLS cannot work (%s)\n", dlerror());
}


int sip_transp_send(struct sip_connqent **qentp, struct sip *sip, void *sock,
		    enum sip_transp tp, const struct sa *dst, struct mbuf *mb,
		    sip_transp_h *transph, void *arg)
{
	const struct sending *prev;
	struct sending s;
	int err;

	(void)pthread_once(&once, resolve);
	if (!real_send)
		return ENOSYS;
	if (guard_h) {
		err = guard_h(tp, dst, mb, guard_arg);
		if (err)
			return err;
	}

	if (tp != SIP_TRANSP_TLS)
		return real_send(qentp, sip, sock, tp, dst, mb, transph, arg);

	/* libre reuses any connection to dst: a request that starts a leg
	   must not ride one verified for another name, nor an unverified
	   one unless the leg itself is insecure */
	{
		struct cconn *cc = cconn_find(sip, dst);
		struct msginfo mi;

		if (cc && !msg_info(&mi, mb) && mi.initial &&
		    !leg_insecure(cc->dt, &mi) &&
		    (!cc->verified || strcasecmp(cc->host, mi.host))) {
			struct dial_tls *dt = (struct dial_tls *)(uintptr_t)
				cc->dt;

			++dt->st.mismatch;
			DEBUG_WARNING("TLS to %s (%J) refused: the open "
				      "connection to that address was %s%s;"
				      " not reused for another host\n",
				      mi.host, dst, cc->verified ?
				      "verified for " : "not verified",
				      cc->verified ? cc->host : "");
			return EPROTO;
		}
	}

	s.sip = sip;
	s.dst = dst;
	s.mb = mb;
	prev = cur;
	cur = &s;
	err = real_send(qentp, sip, sock, tp, dst, mb, transph, arg);
	cur = prev;

	return err;
}


void dial_tls_send_guard(dial_send_guard_h *h, void *arg)
{
	guard_h = h;
	guard_arg = arg;
}


static struct dial_tls *registry_find(const struct tls *tls)
{
	struct dial_tls *dt = NULL;
	struct le *le;

	pthread_mutex_lock(&registry_lock);
	for (le = registry.head; le; le = le->next) {
		struct dial_tls *x = le->data;

		if (x->tls == tls) {
			dt = x;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);

	return dt;
}


static const char *ssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "unknown reason";
}


static bool is_ip(const char *host)
{
	struct sa sa;

	return 0 == sa_set_str(&sa, host, 0);
}


/* Which host must the peer's certificate name? The URI the request is
 * routed by (RFC 5922 §4): the top Route, else the Request-URI; for a
 * response, the host of the top Via's sent-by. Also the Call-ID (the
 * leg) and whether the request starts a dialog. */
static int msg_info(struct msginfo *mi, const struct mbuf *src)
{
	struct sip_msg *msg = NULL;
	struct mbuf *mb;
	struct pl h = PL_INIT;
	int err;

	memset(mi, 0, sizeof(*mi));
	mb = mbuf_alloc(src->end);
	if (!mb)
		return ENOMEM;

	err = mbuf_write_mem(mb, src->buf, src->end);
	if (err)
		goto out;
	mb->pos = 0;

	err = sip_msg_decode(&msg, mb);
	if (err)
		goto out;

	(void)pl_strcpy(&msg->callid, mi->callid, sizeof(mi->callid));
	mi->req = msg->req;
	mi->initial = msg->req && !pl_isset(&msg->to.tag);

	if (msg->req) {
		const struct sip_hdr *rt = sip_msg_hdr(msg, SIP_HDR_ROUTE);
		struct sip_addr addr;

		if (rt && !sip_addr_decode(&addr, &rt->val))
			h = addr.uri.host;
		else
			h = msg->uri.host;
	}
	else {
		struct pl sb = msg->via.sentby;

		/* "host:port", "[v6]:port", "host" */
		if (sb.l && sb.p[0] == '[') {
			const char *e = pl_strchr(&sb, ']');

			if (e) {
				h.p = sb.p + 1;
				h.l = (size_t)(e - h.p);
			}
		}
		else {
			const char *c = pl_strchr(&sb, ':');

			h.p = sb.p;
			h.l = c ? (size_t)(c - sb.p) : sb.l;
		}
	}

	if (!h.l || h.l >= sizeof(mi->host)) {
		err = EBADMSG;
		goto out;
	}

	err = pl_strcpy(&h, mi->host, sizeof(mi->host));

 out:
	mem_deref(msg);
	mem_deref(mb);

	return err;
}


static bool cconn_alive(const struct cconn *cc)
{
	struct stat st;

	return fstat(cc->fd, &st) == 0 && st.st_ino == cc->ino;
}


/* The live client connection libre would reuse for dst, if we made it;
 * dead entries are dropped on the way. */
static struct cconn *cconn_find(const void *sip, const struct sa *dst)
{
	struct le *le = cconns.head;

	while (le) {
		struct cconn *cc = le->data;

		le = le->next;
		if (!cconn_alive(cc)) {
			list_unlink(&cc->le);
			mem_deref(cc);
			continue;
		}
		if (cc->sip == sip && sa_cmp(&cc->dst, dst, SA_ALL))
			return cc;
	}

	return NULL;
}


static void cconn_add(const struct dial_tls *dt, const struct sending *s,
		      struct tcp_conn *tcp, bool verified, const char *host)
{
	struct cconn *cc, *old;
	struct stat st;
	int fd = tcp_conn_fd(tcp);

	if (fd < 0 || fstat(fd, &st))
		return;
	old = cconn_find(s->sip, s->dst);
	if (old) {
		/* libre replaces a connection it lost: the new one counts */
		list_unlink(&old->le);
		mem_deref(old);
	}
	cc = mem_zalloc(sizeof(*cc), NULL);
	if (!cc)
		return;
	cc->dt = dt;
	cc->sip = s->sip;
	cc->dst = *s->dst;
	cc->fd = fd;
	cc->ino = st.st_ino;
	cc->verified = verified;
	snprintf(cc->host, sizeof(cc->host), "%s", host);
	list_append(&cconns, &cc->le, cc);
}


static bool leg_insecure(const struct dial_tls *dt, const struct msginfo *mi)
{
	if (dt->insecure)
		return true;
	return dt->insecureh && mi->callid[0] &&
		dt->insecureh(mi->callid, dt->insecure_arg);
}


/* libre-private and stable in 1.1.x (configure pins the ABI): a struct
 * tls_conn starts with its SSL pointer (src/tls/openssl/tls_tcp.c). */
static SSL *conn_ssl(struct tls_conn *tc, const struct tls *tls)
{
	SSL *ssl;

	memcpy(&ssl, (void *)tc, sizeof(ssl));
	if (!ssl || SSL_get_SSL_CTX(ssl) != tls_openssl_context(tls))
		return NULL;
	return ssl;
}


int tls_start_tcp(struct tls_conn **ptc, struct tls *tls, struct tcp_conn *tcp,
		  int layer)
{
	struct dial_tls *dt;
	struct msginfo mi;
	SSL *ssl;
	int err;

	(void)pthread_once(&once, resolve);
	if (!real_start)
		return ENOSYS;

	err = real_start(ptc, tls, tcp, layer);
	if (err || !ptc || !*ptc)
		return err;

	dt = registry_find(tls);
	if (!dt)
		return 0;          /* a context not made here: libre's default */

	if (!cur)
		return 0;          /* accepted: the role is set at the handshake
				      (info_cb); a client started elsewhere
				      finds no host and is refused (verify_cb) */

	err = msg_info(&mi, cur->mb);
	if (err || leg_insecure(dt, &mi)) {
		if (!err || dt->insecure) {
			ssl = conn_ssl(*ptc, tls);
			if (!ssl) {
				err = EPROTO;
				goto out;
			}
			SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
			++dt->st.insecure;
			DEBUG_WARNING("TLS to %s (%J): peer certificate NOT "
				      "verified (insecure)\n",
				      mi.host[0] ? mi.host : "?", cur->dst);
			cconn_add(dt, cur, tcp, false, mi.host);
			return 0;
		}
		++dt->st.nohost;
		DEBUG_WARNING("TLS to %J refused: no host name to verify the"
			      " certificate against (%m)\n", cur->dst, err);
		err = EPROTO;
		goto out;
	}

	/* SNI only for names (RFC 6066 §3 forbids IP literals) */
	if (!is_ip(mi.host)) {
		err = tls_set_servername(*ptc, mi.host);
		if (err)
			goto out;
	}

	/* SSL_set1_host: OpenSSL 3 checks an IP literal against the
	 * certificate's IP addresses, a name against its DNS names */
	err = tls_set_verify_server(*ptc, mi.host);
	if (err) {
		DEBUG_WARNING("TLS to %s: cannot set the host check (%m)\n",
			      mi.host, err);
		goto out;
	}

	++dt->st.verified;
	cconn_add(dt, cur, tcp, true, mi.host);

 out:
	if (err)
		*ptc = mem_deref(*ptc);

	return err;
}


/* The role is the SSL object's own, known once the handshake starts
 * (SSL_connect/SSL_accept set it): a server does not ask for client
 * certificates; a client keeps the context's default, verification. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;

	if ((where & SSL_CB_HANDSHAKE_START) && SSL_is_server(ssl))
		SSL_set_verify((SSL *)(uintptr_t)ssl, SSL_VERIFY_NONE, NULL);
}


/* Inherited by every connection of the context; libre's client check
 * (tls_set_verify_server) keeps it. Logs why a handshake is refused. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
					SSL_get_ex_data_X509_STORE_CTX_idx());
	struct dial_tls *dt;
	X509 *cert;
	char subj[256] = "?";
	const char *host;
	char *ip;

	if (!ssl)
		return ok;

	if (SSL_get_verify_mode(ssl) == SSL_VERIFY_NONE)
		return 1;

	if (ok) {
		/* fail closed: a client connection nobody armed with a host
		   (started outside sip_transp_send) is not accepted on its
		   chain alone */
		if (SSL_is_server(ssl) ||
		    X509_STORE_CTX_get_error_depth(xs) != 0 ||
		    X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0))
			return 1;
		ip = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl));
		if (ip) {
			OPENSSL_free(ip);
			return 1;
		}
		DEBUG_WARNING("TLS client connection without a host to "
			      "check: refused\n");
	}

	dt = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_idx);
	if (dt)
		++dt->st.refused;

	cert = X509_STORE_CTX_get_current_cert(xs);
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subj,
				  sizeof(subj));

	host = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
	ip = host ? NULL : X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl));

	DEBUG_WARNING("TLS peer certificate refused (expected %s):"
		      " %s at depth %d, subject %s\n",
		      host ? host : ip ? ip : "?",
		      X509_verify_cert_error_string(
			      X509_STORE_CTX_get_error(xs)),
		      X509_STORE_CTX_get_error_depth(xs), subj);
	OPENSSL_free(ip);

	return 0;
}


static void destructor(void *arg)
{
	struct dial_tls *dt = arg;
	SSL_CTX *ctx;

	pthread_mutex_lock(&registry_lock);
	list_unlink(&dt->le);
	pthread_mutex_unlock(&registry_lock);

	ctx = dt->tls ? tls_openssl_context(dt->tls) : NULL;
	if (ctx && ex_idx >= 0)
		SSL_CTX_set_ex_data(ctx, ex_idx, NULL);

	{
		struct le *le = cconns.head;

		while (le) {
			struct cconn *cc = le->data;

			le = le->next;
			if (cc->dt == dt) {
				list_unlink(&cc->le);
				mem_deref(cc);
			}
		}
	}
	mem_deref(dt->tls);
}


/* Without a configured certificate libre still listens for TLS (it needs
 * a TLS transport to dial out) and names that listener in our Contact: a
 * far end that opens a new connection for its BYE would find a server
 * with no certificate at all and fail the handshake. An ephemeral
 * self-signed P-256 certificate lets peers that do not verify it in
 * (those that do need sip_tls_cert). ~1 ms at start-up. */
static int selfsigned(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	int ok = 0;

	if (!key || !x)
		goto out;
	name = X509_get_subject_name(x);
	ok = X509_set_version(x, 2) == 1 &&
		ASN1_INTEGER_set(X509_get_serialNumber(x),
				 (long)(rand_u32() >> 1)) == 1 &&
		X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
		X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) &&
		X509_set_pubkey(x, key) == 1 &&
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
			(const unsigned char *)"dialerd", -1, -1, 0) == 1 &&
		X509_set_issuer_name(x, name) == 1 &&
		X509_sign(x, key, EVP_sha256()) > 0 &&
		SSL_CTX_use_certificate(ctx, x) == 1 &&
		SSL_CTX_use_PrivateKey(ctx, key) == 1;
 out:
	X509_free(x);
	EVP_PKEY_free(key);
	if (ok)
		return 0;
	DEBUG_WARNING("self-signed certificate: %s\n", ssl_reason());
	ERR_clear_error();
	return ENOMEM;
}

static int load_ca(SSL_CTX *ctx, const char *cafile)
{
	if (!cafile && access(SYSTEM_CA_FILE, R_OK) == 0)
		cafile = SYSTEM_CA_FILE;

	if (cafile) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			DEBUG_WARNING("cannot read CA file %s: %s\n", cafile,
				      access(cafile, R_OK) ? strerror(errno)
							   : ssl_reason());
			ERR_clear_error();
			return EINVAL;
		}
		return 0;
	}

	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		DEBUG_WARNING("no CA store: %s\n", ssl_reason());
		ERR_clear_error();
		return EINVAL;
	}

	return 0;
}


int dial_tls_alloc(struct dial_tls **dtp, const struct dial_tls_conf *conf)
{
	struct dial_tls *dt;
	SSL_CTX *ctx;
	int err;

	if (!dtp || !conf)
		return EINVAL;

	(void)pthread_once(&once, resolve);
	if (!real_send || !real_start || ex_idx < 0)
		return ENOSYS;

	dt = mem_zalloc(sizeof(*dt), destructor);
	if (!dt)
		return ENOMEM;

	dt->insecure = conf->insecure;

	err = tls_alloc(&dt->tls, TLS_METHOD_SSLV23, NULL, NULL);
	if (err)
		goto out;

	ctx = tls_openssl_context(dt->tls);
	if (!ctx) {
		err = ENOMEM;
		goto out;
	}

	if (conf->certfile) {
		const char *key = conf->keyfile ? conf->keyfile
						: conf->certfile;

		if (SSL_CTX_use_certificate_chain_file(ctx,
						conf->certfile) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			DEBUG_WARNING("cannot use certificate %s / key %s:"
				      " %s\n", conf->certfile, key,
				      ssl_reason());
			ERR_clear_error();
			err = EINVAL;
			goto out;
		}
	}
	else {
		(void)selfsigned(ctx);	/* best effort: logged */
	}

	err = load_ca(ctx, conf->cafile);
	if (err)
		goto out;

	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);

	/* verification is the default; info_cb lifts it for the server
	 * role, tls_start_tcp for an insecure leg, and each client
	 * connection gets its host there */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_info_callback(ctx, info_cb);
	SSL_CTX_set_ex_data(ctx, ex_idx, dt);

	pthread_mutex_lock(&registry_lock);
	list_append(&registry, &dt->le, dt);
	pthread_mutex_unlock(&registry_lock);

	if (dt->insecure)
		DEBUG_WARNING("TLS peer verification is OFF (insecure):"
			      " every connection will be logged\n");

 out:
	if (err)
		mem_deref(dt);
	else
		*dtp = dt;

	return err;
}


struct tls *dial_tls_ctx(const struct dial_tls *dt)
{
	return dt ? dt->tls : NULL;
}


void dial_tls_insecure_handler_set(struct dial_tls *dt,
				   dial_tls_insecure_h *h, void *arg)
{
	if (!dt)
		return;
	dt->insecureh = h;
	dt->insecure_arg = arg;
}


void dial_tls_stats_get(const struct dial_tls *dt, struct dial_tls_stats *st)
{
	if (!st)
		return;

	if (dt)
		*st = dt->st;
	else
		memset(st, 0, sizeof(*st));
}
