/* webhook.c: signed HTTP requests to customers' applications, driven by
 * the libevent loop through libcurl's multi-socket interface
 *
 * libcurl follows no redirect itself: each hop must be signed for its own
 * URL and counted against our limit of 3. Easy handles are kept for reuse
 * and connections live in the multi handle's pool, so a steady stream of
 * requests to one application reuses its keep-alive connections. Names are
 * resolved by libcurl's threaded resolver; CURLOPT_NOSIGNAL keeps libcurl
 * from installing a SIGPIPE handler around every transfer (the daemon
 * ignores SIGPIPE once for all).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "autoconf.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/random.h"
#include "daemon/webhook.h"
#include "daemon/webhook_sock.h"
#include "store/store.h"

#define EASY_POOL_MAX 64
#define URL_LOG_MAX 512

struct webhook {
	CURLM *multi;
	struct webhook_socks *socks;	/* multi on the loop */
	char *account_sid, *auth_token, *user_agent, *ca_file;
	unsigned connect_timeout_ms, timeout_ms, max_connections;
	bool insecure;
	struct store *store;
	struct webhook_fetch *fetches;	/* in flight, for teardown */
	CURL *easy_pool[EASY_POOL_MAX];
	size_t neasy;
	struct webhook_stats st;
};

struct webhook_fetch {
	struct webhook *wh;
	struct webhook_fetch *prev, *next;
	webhook_done_h *done;
	void *arg;
	/* the request */
	char *call_sid, *kind, *token;
	char *root_sid;			/* NULL: the store looks it up */
	uint32_t seq;
	enum webhook_method method;	/* of the hop: a 303 turns POST into GET */
	enum webhook_method first_method;	/* as asked, for the row */
	struct webhook_param *params;
	size_t nparams;
	struct webhook_attempt at;
	char *first_url;	/* as asked, for the row */
	/* the hop in flight */
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;		/* without the GET query */
	char *wire_url;		/* as sent */
	char *body;		/* POST form */
	size_t body_len;
	unsigned hops;
	/* the answer */
	char *resp;
	size_t resp_len;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started_us, total_us;
};

static int64_t mono_us(void)	/* CLOCK_MONOTONIC */
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void webhook_token_new(char tok[WEBHOOK_TOKEN_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];

	random_bytes(r, sizeof(r));
	for (int i = 0; i < 16; i++) {
		tok[2 * i] = hex[r[i] >> 4];
		tok[2 * i + 1] = hex[r[i] & 15];
	}
	tok[32] = '\0';
}

/* ---- metrics ---- */

static void metrics_register(void)
{
	metrics_family("dialerd_webhook_requests_total", METRICS_COUNTER,
		       "Webhook attempts by kind and outcome (ok or the Twilio error code)");
	metrics_family("dialerd_webhook_request_duration_seconds",
		       METRICS_HISTOGRAM,
		       "Webhook attempts, redirects included, by kind");
}

static void metrics_note(const struct webhook_fetch *f, enum webhook_code code)
{
	char labels[96];

	if (code)
		snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"%d\"",
			 f->kind, (int)code);
	else
		snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"ok\"",
			 f->kind);
	metrics_add("dialerd_webhook_requests_total", labels, 1);
	snprintf(labels, sizeof(labels), "kind=\"%s\"", f->kind);
	metrics_observe("dialerd_webhook_request_duration_seconds", labels,
			(double)f->total_us / 1e6);
}

/* ---- the fetch object ---- */

static void fetch_free(struct webhook_fetch *f)
{
	struct webhook *wh = f->wh;

	if (f->easy) {
		curl_multi_remove_handle(wh->multi, f->easy);
		if (wh->neasy < EASY_POOL_MAX) {
			curl_easy_reset(f->easy);
			wh->easy_pool[wh->neasy++] = f->easy;
		} else {
			curl_easy_cleanup(f->easy);
		}
	}
	if (f->prev)
		f->prev->next = f->next;
	else if (wh->fetches == f)
		wh->fetches = f->next;
	if (f->next)
		f->next->prev = f->prev;
	wh->st.in_flight--;
	curl_slist_free_all(f->hdrs);
	free(f->params);	/* the strings too (webhook_params_copy) */
	free(f->call_sid);
	free(f->root_sid);
	free(f->kind);
	free(f->token);
	free(f->first_url);
	free(f->url);
	free(f->wire_url);
	free(f->body);
	free(f->resp);
	free(f);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct webhook_fetch *f = arg;
	size_t len = size * n;
	char *r;

	/* a byte past the limit is enough to know: stop reading */
	if (f->resp_len + len > WEBHOOK_BODY_MAX) {
		f->too_big = true;
		return 0;
	}
	r = realloc(f->resp, f->resp_len + len + 1);
	if (!r)
		return 0;
	memcpy(r + f->resp_len, p, len);
	f->resp = r;
	f->resp_len += len;
	r[f->resp_len] = '\0';
	return len;
}

static CURL *easy_get(struct webhook *wh)
{
	return wh->neasy ? wh->easy_pool[--wh->neasy] : curl_easy_init();
}

/* The headers of one hop: the signature covers the URL as sent. */
static int hop_headers(struct webhook_fetch *f)
{
	struct webhook *wh = f->wh;
	char sig[WEBHOOK_SIG_SIZE], line[128];
	struct curl_slist *h = NULL, *n;
	int err;

	err = webhook_sign(wh->auth_token, f->wire_url, f->params, f->nparams,
			   f->method == WEBHOOK_POST, sig);
	if (err)
		return err;
	curl_slist_free_all(f->hdrs);
	f->hdrs = NULL;
	snprintf(line, sizeof(line), "X-Twilio-Signature: %s", sig);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-SignalWire-Signature: %s", sig);
	if (h && (n = curl_slist_append(h, line)))
		h = n;
	snprintf(line, sizeof(line), "I-Twilio-Idempotency-Token: %s", f->token);
	if (h && (n = curl_slist_append(h, line)))
		h = n;
	/* no 100-continue round trip before larger forms */
	if (h && (n = curl_slist_append(h, "Expect:")))
		h = n;
	if (!h || !(n = curl_slist_append(h, "Accept: */*"))) {
		curl_slist_free_all(h);
		return ENOMEM;
	}
	f->hdrs = h;
	return 0;
}

static int hop_start(struct webhook_fetch *f)
{
	struct webhook *wh = f->wh;
	CURL *e;
	int err;

	free(f->wire_url);
	f->wire_url = NULL;
	free(f->resp);
	f->resp = NULL;
	f->resp_len = 0;
	f->too_big = false;
	f->errbuf[0] = '\0';
	if (f->method == WEBHOOK_GET)
		err = webhook_url_with_query(f->url, f->params, f->nparams,
					     &f->wire_url);
	else
		err = (f->wire_url = strdup(f->url)) ? 0 : ENOMEM;
	if (!err && f->method == WEBHOOK_POST && !f->body)
		err = webhook_form_encode(&f->body, &f->body_len, f->params,
					  f->nparams);
	if (!err)
		err = hop_headers(f);
	if (err)
		return err;
	e = f->easy ? f->easy : easy_get(wh);
	if (!e)
		return ENOMEM;
	f->easy = e;
	webhook_socks_easy(wh->socks, e);
	curl_easy_setopt(e, CURLOPT_URL, f->wire_url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)wh->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)wh->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, wh->user_agent);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)WEBHOOK_BODY_MAX);
	if (f->method == WEBHOOK_POST) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)f->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (wh->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, wh->ca_file);
	if (wh->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (curl_multi_add_handle(wh->multi, e) != CURLM_OK)
		return ENOMEM;
	return 0;
}

/* ---- outcome ---- */

static enum webhook_code curl_code(const struct webhook_fetch *f, CURLcode rc)
{
	if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return WEBHOOK_TOO_BIG;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return WEBHOOK_DNS;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return WEBHOOK_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return WEBHOOK_TLS;
	default:
		return WEBHOOK_PROTOCOL;
	}
}

static bool is_cxml_type(const char *ct)
{
	static const char *const ok[] = {"text/xml", "application/xml", "text/html"};
	size_t n;

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (n == strlen(ok[i]) && strncasecmp(ct, ok[i], n) == 0)
			return true;
	return false;
}

static int usec(CURL *e, CURLINFO what)
{
	curl_off_t v = 0;

	if (curl_easy_getinfo(e, what, &v) != CURLE_OK || v <= 0 || v > INT32_MAX)
		return 0;
	return (int)v;
}

/* One webhook_requests row per attempt; the URL without a password. */
static void fetch_row(struct webhook_fetch *f, const struct webhook_result *r)
{
	struct webhook *wh = f->wh;
	char url[URL_LOG_MAX], final[URL_LOG_MAX];
	struct store_param *sp;
	struct store_webhook w;

	if (!wh->store)
		return;
	sp = malloc((f->nparams ? f->nparams : 1) * sizeof(*sp));
	if (!sp)
		return;
	for (size_t i = 0; i < f->nparams; i++) {
		sp[i].name = f->params[i].name;
		sp[i].value = f->params[i].value;
	}
	webhook_url_redact(f->first_url, url, sizeof(url));
	webhook_url_redact(r->url, final, sizeof(final));
	memset(&w, 0, sizeof(w));
	w.call_sid = f->call_sid;
	w.root_sid = f->root_sid;
	w.kind = f->kind;
	w.sequence_number = f->seq;
	w.attempt = f->at.number;
	w.method = f->first_method == WEBHOOK_GET ? "GET" : "POST";
	w.url = url;
	w.params = sp;
	w.nparams = f->nparams;
	w.idempotency_token = f->token;
	w.response_status = r->http_status;
	w.latency_ms = (int)(r->total_us / 1000);
	w.error = r->error[0] ? r->error : NULL;
	w.error_code = (int)(r->code && f->at.any_content_type ?
			     WEBHOOK_CALLBACK : r->code);
	w.final_url = strcmp(url, final) ? final : NULL;
	w.redirects = (int)r->redirects;
	if (f->easy) {
		w.dns_us = usec(f->easy, CURLINFO_NAMELOOKUP_TIME_T);
		w.connect_us = usec(f->easy, CURLINFO_CONNECT_TIME_T);
		w.tls_us = usec(f->easy, CURLINFO_APPCONNECT_TIME_T);
		w.first_byte_us = usec(f->easy, CURLINFO_STARTTRANSFER_TIME_T);
	}
	w.total_us = r->total_us > INT32_MAX ? INT32_MAX : (int)r->total_us;
	if (store_webhook_add(wh->store, &w))
		log_write(LOG_ERR, "webhook", f->call_sid,
			  "cannot queue the webhook_requests row");
	free(sp);
}

static void fetch_end(struct webhook_fetch *f, enum webhook_code code,
		      int status, const char *error)
{
	struct webhook *wh = f->wh;
	struct webhook_result r;
	char *ct = NULL, url[URL_LOG_MAX];

	f->total_us = mono_us() - f->started_us;
	if (f->easy)
		curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
	memset(&r, 0, sizeof(r));
	r.code = code;
	r.http_status = status;
	r.content_type = ct ? ct : "";
	r.body = f->resp ? f->resp : "";
	r.body_len = f->resp_len;
	r.url = f->url;
	r.redirects = f->hops;
	r.error = error;
	r.total_us = f->total_us;
	wh->st.requests++;
	if (code) {
		wh->st.failures++;
		webhook_url_redact(f->url, url, sizeof(url));
		log_write(f->at.any_content_type ? LOG_INFO : LOG_WARNING,
			  "webhook", f->call_sid, "%s %s attempt %u failed: %u %s",
			  f->kind, url, f->at.number, (unsigned)code, error);
	}
	metrics_note(f, code);
	fetch_row(f, &r);
	f->done(&r, f->arg);
	fetch_free(f);
}

/* A hop answered or failed: the outcome, or the next hop. */
static void hop_done(struct webhook_fetch *f, CURLcode rc)
{
	char error[CURL_ERROR_SIZE + 64], *location = NULL, *next = NULL;
	long status = 0;
	char *ct = NULL;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		enum webhook_code code = curl_code(f, rc);

		if (code == WEBHOOK_TOO_BIG)
			snprintf(error, sizeof(error), "body over %u bytes",
				 WEBHOOK_BODY_MAX);
		else
			snprintf(error, sizeof(error), "%s",
				 f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
		fetch_end(f, code, (int)status, error);
		return;
	}
	curl_easy_getinfo(f->easy, CURLINFO_REDIRECT_URL, &location);
	if (status >= 300 && status < 400 && location) {
		if (++f->hops > WEBHOOK_MAX_REDIRECTS) {
			f->hops--;
			snprintf(error, sizeof(error), "more than %d redirects",
				 WEBHOOK_MAX_REDIRECTS);
			fetch_end(f, WEBHOOK_REDIRECTS, (int)status, error);
			return;
		}
		if (webhook_url_resolve(f->url, location, &next)) {
			snprintf(error, sizeof(error), "redirect to a bad URL");
			fetch_end(f, WEBHOOK_PROTOCOL, (int)status, error);
			return;
		}
		free(f->url);
		f->url = next;
		/* 303 means "GET the answer there" (RFC 9110 15.4.4) */
		if (status == 303 && f->method == WEBHOOK_POST) {
			f->method = WEBHOOK_GET;
			free(f->body);
			f->body = NULL;
			f->body_len = 0;
		}
		curl_multi_remove_handle(f->wh->multi, f->easy);
		if (hop_start(f)) {
			snprintf(error, sizeof(error), "cannot follow the redirect");
			fetch_end(f, WEBHOOK_PROTOCOL, (int)status, error);
		}
		return;
	}
	if (status < 200 || status > 299) {
		snprintf(error, sizeof(error), "HTTP status %ld", status);
		fetch_end(f, WEBHOOK_HTTP_STATUS, (int)status, error);
		return;
	}
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (!f->at.any_content_type && !is_cxml_type(ct)) {
		snprintf(error, sizeof(error), "content type \"%.64s\" is not "
			 "text/xml, application/xml or text/html", ct ? ct : "");
		fetch_end(f, WEBHOOK_CONTENT_TYPE, (int)status, error);
		return;
	}
	fetch_end(f, WEBHOOK_OK, (int)status, "");
}

/* ---- finished transfers (webhook_sock.c runs libcurl on the loop) ---- */

static void check_done(void *arg)
{
	struct webhook *wh = arg;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(wh->multi, &left))) {
		struct webhook_fetch *f = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		if (f)
			hop_done(f, m->data.result);
	}
}

/* ---- the client ---- */

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = ENOMEM;
	return d;
}

int webhook_alloc(struct webhook **whp, struct event_base *base,
		  const struct webhook_conf *conf)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	struct webhook *wh;
	int err = 0;

	if (!whp || !base || !conf || !conf->auth_token)
		return EINVAL;
	/* a blocking getaddrinfo would stall every call of the daemon */
	if (!(v->features & CURL_VERSION_ASYNCHDNS))
		return ENOTSUP;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return ENOMEM;
	wh = calloc(1, sizeof(*wh));
	if (!wh) {
		curl_global_cleanup();
		return ENOMEM;
	}
	wh->store = conf->store;
	wh->connect_timeout_ms = conf->connect_timeout_ms ? conf->connect_timeout_ms : 5000;
	wh->timeout_ms = conf->timeout_ms ? conf->timeout_ms : 15000;
	wh->max_connections = conf->max_connections ? conf->max_connections : 256;
	wh->insecure = conf->tls_insecure;
	wh->auth_token = dup_or_null(conf->auth_token, &err);
	wh->account_sid = dup_or_null(conf->account_sid, &err);
	wh->ca_file = dup_or_null(conf->tls_ca_file, &err);
	wh->user_agent = dup_or_null(conf->user_agent ? conf->user_agent :
				     "TwilioProxy/1.1 dialerd/" PACKAGE_VERSION, &err);
	wh->multi = curl_multi_init();
	if (err || !wh->auth_token || !wh->multi) {
		err = ENOMEM;
		goto out;
	}
	err = webhook_socks_alloc(&wh->socks, base, wh->multi, check_done, wh);
	if (err)
		goto out;
	curl_multi_setopt(wh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)wh->max_connections);
	curl_multi_setopt(wh->multi, CURLMOPT_MAXCONNECTS,
			  (long)wh->max_connections);
	metrics_register();
 out:
	if (err)
		wh = webhook_free(wh);
	*whp = wh;
	return err;
}

struct webhook *webhook_free(struct webhook *wh)
{
	if (!wh)
		return NULL;
	while (wh->fetches)
		fetch_free(wh->fetches);
	for (size_t i = 0; i < wh->neasy; i++)
		curl_easy_cleanup(wh->easy_pool[i]);
	/* closes the keep-alive sockets through wh->socks */
	if (wh->multi)
		curl_multi_cleanup(wh->multi);
	webhook_socks_free(wh->socks);
	free(wh->auth_token);
	webhook_sign_cleanup();
	free(wh->account_sid);
	free(wh->ca_file);
	free(wh->user_agent);
	free(wh);
	curl_global_cleanup();
	return NULL;
}

static int copy_req(struct webhook_fetch *f, const struct webhook_req *req)
{
	char tok[WEBHOOK_TOKEN_SIZE];

	if (!req->token)
		webhook_token_new(tok);
	f->call_sid = strdup(req->call_sid);
	f->root_sid = req->root_sid ? strdup(req->root_sid) : NULL;
	f->kind = strdup(req->kind);
	f->token = strdup(req->token ? req->token : tok);
	if (!f->call_sid || !f->kind || !f->token ||
	    (req->root_sid && !f->root_sid))
		return ENOMEM;
	f->params = webhook_params_copy(req->params, req->nparams);
	if (!f->params)
		return ENOMEM;
	f->nparams = req->nparams;
	f->seq = req->sequence_number;
	f->method = f->first_method = req->method;
	return 0;
}

bool webhook_req_ok(const struct webhook_req *req)
{
	if (!req->call_sid || !req->url || (req->nparams && !req->params))
		return false;
	for (size_t i = 0; i < req->nparams; i++)
		if (!req->params[i].name)
			return false;
	return !webhook_params_repeat(req->params, req->nparams);
}

int webhook_fetch(struct webhook *wh, const struct webhook_req *req,
		  const struct webhook_attempt *at, webhook_done_h *done,
		  void *arg, struct webhook_fetch **fp)
{
	struct webhook_fetch *f;
	int err;

	if (!wh || !req || !req->kind || !done || !webhook_req_ok(req))
		return EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->wh = wh;
	f->done = done;
	f->arg = arg;
	f->at.number = 1;
	if (at)
		f->at = *at;
	f->started_us = mono_us();
	f->next = wh->fetches;
	if (f->next)
		f->next->prev = f;
	wh->fetches = f;
	wh->st.in_flight++;
	err = copy_req(f, req);
	if (!err)
		err = webhook_url_resolve(NULL, req->url, &f->url);
	if (!err)
		err = (f->first_url = strdup(f->url)) ? 0 : ENOMEM;
	if (!err)
		err = hop_start(f);
	if (err) {
		fetch_free(f);
		return err;
	}
	if (fp)
		*fp = f;
	return 0;
}

void webhook_fetch_cancel(struct webhook_fetch *f)
{
	if (f)
		fetch_free(f);
}

bool webhook_busy(void *arg)
{
	const struct webhook *wh = arg;

	return wh && wh->fetches;
}

unsigned webhook_max_connections(const struct webhook *wh)
{
	return wh->max_connections;
}

void webhook_stats(const struct webhook *wh, struct webhook_stats *st)
{
	*st = wh->st;
}
