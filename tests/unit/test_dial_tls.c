/* test_dial_tls.c: dial/tls.c refuses wrong CAs and host names on real loopback TLS, per connection */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <re.h>
#define DEBUG_MODULE "test"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

#include "dial/internal.h"
#include "tests/tap.h"
#include "tests/unit/libre_test.h"

static char dir[] = "/tmp/test_dial_tls.XXXXXX";
static char path_ca[128], path_ca2[128], path_srv[128];

/* A CA, a second unrelated CA, and a server certificate from the first CA
 * for DNS:good.test and IP:127.0.0.1, made with the openssl command. */
static int make_certs(void)
{
	char cmd[2048];

	if (!mkdtemp(dir))
		return -1;

	snprintf(path_ca, sizeof(path_ca), "%s/ca.pem", dir);
	snprintf(path_ca2, sizeof(path_ca2), "%s/ca2.pem", dir);
	snprintf(path_srv, sizeof(path_srv), "%s/srv.pem", dir);

	snprintf(cmd, sizeof(cmd),
		 "cd %s && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
		 " -out ca.pem -days 2 -subj /CN=dial-test-ca "
		 " -addext basicConstraints=critical,CA:TRUE 2>/dev/null && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca2.key "
		 " -out ca2.pem -days 2 -subj /CN=other-ca "
		 " -addext basicConstraints=critical,CA:TRUE 2>/dev/null && "
		 "openssl req -newkey rsa:2048 -nodes -keyout srv.key "
		 " -out srv.csr -subj /CN=good.test 2>/dev/null && "
		 "printf 'subjectAltName=DNS:good.test,IP:127.0.0.1\\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		 " -CAcreateserial -out srv.crt -days 2 -extfile ext "
		 " 2>/dev/null && cat srv.crt srv.key > srv.pem",
		 dir);

	return system(cmd) == 0 ? 0 : -1;
}

static void rm_certs(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

/* --- a TLS SIP server (accepted side) answering 200 to OPTIONS --------- */

struct server {
	struct dial_tls *dt;
	struct sip *sip;
	struct sip_lsnr *lsnr;
	struct sa addr;
	unsigned reqs;
};

static bool srv_req_h(const struct sip_msg *msg, void *arg)
{
	struct server *s = arg;

	++s->reqs;
	(void)sip_reply(s->sip, msg, 200, "OK");

	return true;
}

/* the SNI the last client sent ("" when none) */
static char last_sni[256];

static int sni_cb(SSL *ssl, int *ad, void *arg)
{
	const char *n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)ad;
	(void)arg;
	snprintf(last_sni, sizeof(last_sni), "%s", n ? n : "");

	return SSL_TLSEXT_ERR_OK;
}

static int server_start(struct server *s, const char *certfile)
{
	struct dial_tls_conf c = { .certfile = certfile, .cafile = path_ca };
	struct sa laddr;
	int err;

	memset(s, 0, sizeof(*s));
	err = dial_tls_alloc(&s->dt, &c);
	if (err)
		return err;
	SSL_CTX_set_tlsext_servername_callback(
		tls_openssl_context(dial_tls_ctx(s->dt)), sni_cb);
	err = sip_alloc(&s->sip, NULL, 16, 16, 16, "srv", NULL, NULL);
	if (err)
		return err;
	sa_set_str(&laddr, "127.0.0.1", 0);
	err = sip_transp_add(s->sip, SIP_TRANSP_TLS, &laddr,
			     dial_tls_ctx(s->dt));
	if (err)
		return err;
	err = sip_transp_laddr(s->sip, &s->addr, SIP_TRANSP_TLS, NULL);
	if (err)
		return err;

	return sip_listen(&s->lsnr, s->sip, true, srv_req_h, s);
}

static void server_stop(struct server *s)
{
	s->lsnr = mem_deref(s->lsnr);
	if (s->sip)
		sip_close(s->sip, true);
	s->sip = mem_deref(s->sip);
	s->dt = mem_deref(s->dt);
}

/* --- one client request over a fresh client stack ---------------------- */

struct result {
	int err;
	uint16_t scode;
	bool done;
};

static void resp_h(int err, const struct sip_msg *msg, void *arg)
{
	struct result *r = arg;

	r->err = err;
	r->scode = msg ? msg->scode : 0;
	r->done = true;
	re_cancel();
}

static void timeout_h(void *arg)
{
	(void)arg;
	re_cancel();
}

/* the Call-ID of the one insecure leg (NULL: none) */
static const char *insecure_cid;

static bool insecure_h(const char *callid, void *arg)
{
	(void)arg;
	return insecure_cid && !strcmp(callid, insecure_cid);
}

/* Sends OPTIONS to uri through the server's address (next hop given
 * explicitly, as with an outbound proxy, so no DNS is involved). */
static struct result request(struct server *s, const struct dial_tls_conf *c,
			     const char *uri, const char *insecure_leg,
			     struct dial_tls_stats *st)
{
	struct result r = { .err = -1 };
	struct dial_tls *dt = NULL;
	struct sip *sip = NULL;
	struct sip_request *req = NULL;
	struct tmr guard;
	struct sa laddr;
	char route[128];
	struct pl rpl;
	struct uri ruri;
	int err;

	tmr_init(&guard);
	memset(st, 0, sizeof(*st));

	err = dial_tls_alloc(&dt, c);
	if (err) {
		r.err = err;
		goto out;
	}
	insecure_cid = insecure_leg;
	dial_tls_insecure_handler_set(dt, insecure_h, NULL);

	err = sip_alloc(&sip, NULL, 16, 16, 16, "cli", NULL, NULL);
	if (err)
		goto out;
	sa_set_str(&laddr, "127.0.0.1", 0);
	err = sip_transp_add(sip, SIP_TRANSP_TLS, &laddr, dial_tls_ctx(dt));
	if (err)
		goto out;

	re_snprintf(route, sizeof(route), "sip:%J;transport=tls", &s->addr);
	pl_set_str(&rpl, route);
	err = uri_decode(&ruri, &rpl);
	if (err)
		goto out;

	err = sip_requestf(&req, sip, true, "OPTIONS", uri, &ruri, NULL,
			   NULL, resp_h, &r,
			   "To: <%s>\r\n"
			   "From: <sip:t@127.0.0.1>;tag=1\r\n"
			   "Call-ID: tls-req\r\n"
			   "CSeq: 1 OPTIONS\r\n"
			   "Max-Forwards: 70\r\n"
			   "Content-Length: 0\r\n\r\n", uri);
	if (err) {
		r.err = err;
		goto out;
	}

	tmr_start(&guard, 5000, timeout_h, NULL);
	(void)re_main(NULL);
	if (!r.done)
		r.err = ETIMEDOUT;

 out:
	tmr_cancel(&guard);
	dial_tls_stats_get(dt, st);
	insecure_cid = NULL;
	req = mem_deref(req);
	if (sip)
		sip_close(sip, true);
	sip = mem_deref(sip);
	dt = mem_deref(dt);

	return r;
}


/* --- several requests over one client stack: libre pools its TLS
   connections by address, so later requests ride the first one ------- */

struct client {
	struct dial_tls *dt;
	struct sip *sip;
};

static int client_open(struct client *c, const struct dial_tls_conf *conf)
{
	struct sa laddr;
	int err;

	memset(c, 0, sizeof(*c));
	err = dial_tls_alloc(&c->dt, conf);
	if (!err)
		err = sip_alloc(&c->sip, NULL, 16, 16, 16, "cli", NULL, NULL);
	sa_set_str(&laddr, "127.0.0.1", 0);
	if (!err)
		err = sip_transp_add(c->sip, SIP_TRANSP_TLS, &laddr,
				     dial_tls_ctx(c->dt));
	return err;
}

static void client_close(struct client *c)
{
	if (c->sip)
		sip_close(c->sip, true);
	c->sip = mem_deref(c->sip);
	c->dt = mem_deref(c->dt);
}

static struct result client_request(struct client *c, struct server *s,
				    const char *uri, const char *callid)
{
	struct result r = { .err = -1 };
	struct sip_request *req = NULL;
	struct tmr guard;
	char route[128];
	struct pl rpl;
	struct uri ruri;
	int err;

	tmr_init(&guard);
	re_snprintf(route, sizeof(route), "sip:%J;transport=tls", &s->addr);
	pl_set_str(&rpl, route);
	err = uri_decode(&ruri, &rpl);
	if (!err)
		err = sip_requestf(&req, c->sip, true, "OPTIONS", uri, &ruri,
				   NULL, NULL, resp_h, &r,
				   "To: <%s>\r\n"
				   "From: <sip:t@127.0.0.1>;tag=1\r\n"
				   "Call-ID: %s\r\n"
				   "CSeq: 1 OPTIONS\r\n"
				   "Max-Forwards: 70\r\n"
				   "Content-Length: 0\r\n\r\n", uri, callid);
	if (err) {
		r.err = err;
		return r;
	}
	tmr_start(&guard, 5000, timeout_h, NULL);
	if (!r.done)
		(void)re_main(NULL);
	if (!r.done)
		r.err = ETIMEDOUT;
	tmr_cancel(&guard);
	mem_deref(req);
	return r;
}

/* A connection verified for one name carries no request for another. */
static void test_pooled(struct server *s)
{
	struct dial_tls_conf good = { .cafile = path_ca };
	struct dial_tls_stats st;
	struct client c;
	struct result r;
	unsigned reqs;

	if (!ok(client_open(&c, &good) == 0, "client stack up"))
		return;
	r = client_request(&c, s, "sip:x@good.test;transport=tls", "pool-1");
	ok(r.err == 0 && r.scode == 200, "good.test: verified, 200");
	reqs = s->reqs;
	r = client_request(&c, s, "sip:x@bad.test;transport=tls", "pool-2");
	ok(r.err == EPROTO && r.scode == 0,
	   "bad.test at the same address: refused, not sent over the "
	   "connection verified for good.test (err %d, %u)", r.err, r.scode);
	is_int(s->reqs, reqs, "the server never got it");
	r = client_request(&c, s, "sip:x@GOOD.test;transport=tls", "pool-3");
	ok(r.err == 0 && r.scode == 200, "good.test again rides it: 200");
	dial_tls_stats_get(c.dt, &st);
	is_int((long long)st.mismatch, 1, "one pooled connection refused");
	is_int((long long)st.verified, 1, "one connection, verified once");
	client_close(&c);

	/* an insecure leg's unverified connection carries no other leg */
	if (!ok(client_open(&c, &good) == 0, "client stack up"))
		return;
	insecure_cid = "leg-insecure";
	dial_tls_insecure_handler_set(c.dt, insecure_h, NULL);
	r = client_request(&c, s, "sip:x@bad.test;transport=tls",
			   "leg-insecure");
	ok(r.err == 0 && r.scode == 200, "insecure leg to bad.test: 200");
	reqs = s->reqs;
	r = client_request(&c, s, "sip:x@good.test;transport=tls",
			   "leg-secure");
	ok(r.err == EPROTO, "a verifying leg refuses the pooled unverified "
	   "connection, even for a name the server holds (err %d)", r.err);
	is_int(s->reqs, reqs, "the server never got it");
	dial_tls_stats_get(c.dt, &st);
	ok(st.insecure == 1 && st.mismatch == 1 && st.verified == 0,
	   "counted: 1 insecure, 1 refused");
	insecure_cid = NULL;
	client_close(&c);
}

int main(void)
{
	struct server s;
	struct dial_tls_conf good = { .cafile = path_ca };
	struct dial_tls_conf wrongca = { .cafile = path_ca2 };
	struct dial_tls_conf insecure = { .cafile = path_ca2, .insecure = true };
	struct dial_tls_conf bad = { .cafile = "/nonexistent/ca.pem" };
	struct dial_tls_stats st;
	struct dial_tls *dt = NULL;
	struct result r;
	unsigned reqs;
	int err;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		tap_skip(1, "no openssl command");
		return tap_done();
	}
	if (!ok(make_certs() == 0, "CA and server certificate made"))
		return tap_done();

	dbg_handler_set(libre_test_dbg_h, NULL);
	err = libre_init();
	if (!ok(err == 0, "libre_init"))
		goto out;

	is_int(dial_tls_alloc(&dt, &bad), EINVAL, "unreadable CA file: EINVAL");

	err = server_start(&s, path_srv);
	if (!ok(err == 0, "TLS SIP server with our context on %s",
		"127.0.0.1"))
		goto out;

	r = request(&s, &good, "sip:x@127.0.0.1;transport=tls", NULL, &st);
	ok(r.err == 0 && r.scode == 200, "IP target, right CA: 200 (err %d)",
	   r.err);
	is_int((long long)st.verified, 1, "the connection was verified");
	is_int(s.reqs, 1, "server got the request");
	is_str(last_sni, "", "no SNI for an IP literal (RFC 6066)");

	r = request(&s, &good, "sip:x@good.test;transport=tls", NULL, &st);
	ok(r.err == 0 && r.scode == 200, "name good.test, right CA: 200");
	is_str(last_sni, "good.test", "SNI carries the host name");
	is_int((long long)st.refused, 0, "nothing refused");

	r = request(&s, &good, "sip:x@GOOD.test;transport=tls", NULL, &st);
	ok(r.err == 0 && r.scode == 200, "host names compare case-blind");

	reqs = s.reqs;
	r = request(&s, &good, "sip:x@bad.test;transport=tls", NULL, &st);
	ok(r.err != 0 && r.scode == 0,
	   "wrong host name: refused before any response (err %d)", r.err);
	is_int((long long)st.refused, 1, "counted as refused");
	is_int(s.reqs, reqs, "the request never reached the server");

	r = request(&s, &good, "sip:x@127.0.0.2;transport=tls", NULL, &st);
	ok(r.err != 0, "wrong IP literal: refused");

	r = request(&s, &wrongca, "sip:x@good.test;transport=tls", NULL, &st);
	ok(r.err != 0 && st.refused == 1, "unknown CA: refused");

	reqs = s.reqs;
	r = request(&s, &insecure, "sip:x@bad.test;transport=tls", NULL, &st);
	ok(r.err == 0 && r.scode == 200, "insecure context: accepted anyway");
	is_int((long long)st.insecure, 1, "counted (and logged) as insecure");
	is_int(s.reqs, reqs + 1, "server got it");

	r = request(&s, &good, "sip:x@bad.test;transport=tls", "tls-req",
		    &st);
	ok(r.err == 0 && r.scode == 200 && st.insecure == 1,
	   "per-leg insecure: accepted, counted");

	r = request(&s, &good, "sip:x@bad.test;transport=tls", "tls-other",
		    &st);
	ok(r.err != 0 && st.refused == 1,
	   "insecure for another leg does not apply");

	test_pooled(&s);

	server_stop(&s);

	/* no certificate configured: the listener libre names in our Contact
	   still completes a handshake (self-signed), for peers that connect
	   back without verifying; verifying peers refuse it */
	err = server_start(&s, NULL);
	if (!ok(err == 0, "TLS SIP server without a certificate"))
		goto out;
	r = request(&s, &insecure, "sip:x@127.0.0.1;transport=tls", NULL,
		    &st);
	ok(r.err == 0 && r.scode == 200,
	   "no certificate configured: handshake with a self-signed one, 200 "
	   "(err %d)", r.err);
	r = request(&s, &good, "sip:x@127.0.0.1;transport=tls", NULL, &st);
	ok(r.err != 0 && st.refused == 1,
	   "a verifying peer refuses the self-signed certificate");
	server_stop(&s);

 out:
	dt = mem_deref(dt);
	libre_close();
	rm_certs();

	return tap_done();
}
