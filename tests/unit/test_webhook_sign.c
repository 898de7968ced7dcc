/* test_webhook_sign.c: request signatures (the vendors' test vectors, and
 * the cached HMAC states against OpenSSL's one-shot HMAC), form encoding,
 * URL resolution and redaction: the pure half of the webhook client */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon/webhook.h"
#include "tests/tap.h"

/* twilio-python's tests/unit/test_request_validator.py */
static const struct webhook_param vec[] = {
	{"CallSid", "CA1234567890ABCDE"},
	{"Caller", "+14158675309"},
	{"Digits", "1234"},
	{"From", "+14158675309"},
	{"To", "+18005551212"},
};
#define NVEC (sizeof(vec) / sizeof(vec[0]))

static void test_vectors(void)
{
	char sig[WEBHOOK_SIG_SIZE];
	struct webhook_param rev[NVEC];

	ok(webhook_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
			vec, NVEC, true, sig) == 0, "POST vector signs");
	is_str(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "POST vector");
	webhook_sign("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2",
		     vec, NVEC, true, sig);
	is_str(sig, "kvajT1Ptam85bY51eRf/AJRuM3w=", "POST vector with :443");
	webhook_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
		     vec, NVEC, false, sig);
	is_str(sig, "zYQTYrRWXE7LtzbG4PfP7/bkkGo=", "GET: the URL alone");
	webhook_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2&"
		     "bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
		     NULL, 0, true, sig);
	is_str(sig, "a9nBmqA0ju/hNViExpshrM61xv4=", "JSON body vector (URL only)");
	/* order of the parameters given does not matter: they are sorted */
	for (size_t i = 0; i < NVEC; i++)
		rev[i] = vec[NVEC - 1 - i];
	webhook_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
		     rev, NVEC, true, sig);
	is_str(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "parameters sorted by name");
	rev[1] = rev[0];
	is_int(webhook_sign("12345", "http://x/", rev, NVEC, true, sig), EINVAL,
	       "a repeated name is refused");
	ok(webhook_params_repeat(rev, NVEC), "repeat detected");
	ok(!webhook_params_repeat(vec, NVEC), "no repeat in the vector");
}

/* The signature as OpenSSL's one-shot HMAC computes it, of url and then
 * the name and value of each parameter in the order given. */
static void ref_sig(const char *token, const char *url,
		    const struct webhook_param *p, size_t n,
		    char sig[WEBHOOK_SIG_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = strlen(url), off;
	char *data;

	for (size_t i = 0; i < n; i++)
		len += strlen(p[i].name) + (p[i].value ? strlen(p[i].value) : 0);
	data = malloc(len + 1);
	off = (size_t)sprintf(data, "%s", url);
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(data + off, "%s%s", p[i].name,
				       p[i].value ? p[i].value : "");
	HMAC(EVP_sha1(), token, (int)strlen(token), (unsigned char *)data, off,
	     md, &mdlen);
	EVP_EncodeBlock((unsigned char *)sig, md, (int)mdlen);
	free(data);
}

/* webhook_sign(token, ...) equals the one-shot HMAC (vec is sorted) */
static void same_sig(const char *token, const char *what)
{
	const char *url = "https://app.example/status?x=1";
	char got[WEBHOOK_SIG_SIZE] = "", want[WEBHOOK_SIG_SIZE];

	ref_sig(token, url, vec, NVEC, want);
	ok(webhook_sign(token, url, vec, NVEC, true, got) == 0 &&
	   strcmp(got, want) == 0, "cache: %s", what);
}

static void test_sign_cache(void)
{
	static const char *tokens[] = {
		"tok-a", "tok-b", "tok-c", "tok-d", "tok-e", "tok-f",
	};
	char buf[] = "0123456789abcdef0123456789abcdef";
	char big[201], b64[65], b65[66], old[WEBHOOK_SIG_SIZE];
	char got[WEBHOOK_SIG_SIZE], want[WEBHOOK_SIG_SIZE];
	struct webhook_param many[200];
	char names[200][8];
	size_t most = 0;
	int bad = 0;

	webhook_sign_cleanup();
	is_int((long long)webhook_sign_keys(), 0, "cache: empty after cleanup");
	/* two tokens alternating: each keeps its own states */
	for (int i = 0; i < 6; i++) {
		same_sig(i % 2 ? "tok-b" : "tok-a", i % 2 ? "tok-b alternating" :
			 "tok-a alternating");
	}
	is_int((long long)webhook_sign_keys(), 2, "cache: two tokens, two keys");
	/* more tokens than kept: the oldest is replaced, never a wrong one */
	for (int r = 0; r < 3; r++)
		for (size_t i = 0; i < 6; i++) {
			ref_sig(tokens[i], "http://h/", NULL, 0, want);
			webhook_sign(tokens[i], "http://h/", NULL, 0, true, got);
			bad += strcmp(got, want) != 0;
			if (webhook_sign_keys() > most)
				most = webhook_sign_keys();
		}
	is_int(bad, 0, "cache: six tokens in turn sign right");
	ok(most <= 4, "cache: bounded (%zu keys at most)", most);
	/* the same buffer with another token: matched on bytes, not address */
	same_sig(buf, "token in a buffer");
	webhook_sign(buf, "http://h/", NULL, 0, false, old);
	buf[0] = 'X';
	same_sig(buf, "the buffer changed: the new token");
	webhook_sign(buf, "http://h/", NULL, 0, false, got);
	ok(strcmp(got, old) != 0, "cache: a changed token signs differently");
	/* a token that is a prefix of another */
	same_sig("abc", "prefix token abc");
	same_sig("abcd", "token abcd");
	same_sig("abc", "prefix token abc again");
	/* keys of the block size and longer (hashed first), and empty */
	memset(b64, 'k', 64);
	b64[64] = '\0';
	memset(b65, 'k', 65);
	b65[65] = '\0';
	memset(big, 'z', 200);
	big[200] = '\0';
	same_sig(b64, "64-byte token");
	same_sig(b65, "65-byte token");
	same_sig(big, "200-byte token");
	same_sig("", "empty token");
	/* more parameters than sorted on the stack, given in reverse */
	for (int i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "p%03d", 199 - i);
		many[i].name = names[i];
		many[i].value = i % 3 ? "v" : NULL;
	}
	webhook_sign("12345", "http://h/", many, 200, true, got);
	{
		struct webhook_param sorted[200];

		for (int i = 0; i < 200; i++)
			sorted[i] = many[199 - i];
		ref_sig("12345", "http://h/", sorted, 200, want);
	}
	is_str(got, want, "cache: 200 parameters sorted");
	many[150].name = many[3].name;
	is_int(webhook_sign("12345", "http://h/", many, 200, true, got), EINVAL,
	       "a repeated name among 200 is refused");
	webhook_sign_cleanup();
	is_int((long long)webhook_sign_keys(), 0, "cache: cleanup drops every key");
	same_sig("12345", "signs again after cleanup");
}

static void test_form(void)
{
	const struct webhook_param p[] = {
		{"A b", "x y+z&w=v"},
		{"Empty", ""},
		{"U", "caf\xc3\xa9 ~._-"},
		{"Null", NULL},
	};
	char *b = NULL, *u = NULL;
	size_t len = 0;

	ok(webhook_form_encode(&b, &len, p, 4) == 0, "form encodes");
	is_str(b, "A+b=x+y%2Bz%26w%3Dv&Empty=&U=caf%C3%A9+~._-&Null=",
	       "form: space as +, reserved as %%XX, unreserved kept");
	is_int((long long)len, (long long)strlen(b), "form length");
	free(b);
	ok(webhook_url_with_query("http://h/p", p, 1, &u) == 0, "query: built");
	is_str(u, "http://h/p?A+b=x+y%2Bz%26w%3Dv", "query: added with ?");
	free(u);
	webhook_url_with_query("http://h/p?a=1#frag", p, 1, &u);
	is_str(u, "http://h/p?a=1&A+b=x+y%2Bz%26w%3Dv", "query: appended with &, fragment dropped");
	free(u);
	webhook_url_with_query("http://h/p?", p, 1, &u);
	is_str(u, "http://h/p?A+b=x+y%2Bz%26w%3Dv", "query: after a bare ?");
	free(u);
	webhook_url_with_query("http://h/p?a=1", NULL, 0, &u);
	is_str(u, "http://h/p?a=1", "query: no parameters, URL unchanged");
	free(u);
}

static void resolves(const char *base, const char *ref, const char *want)
{
	char *out = NULL;
	int err = webhook_url_resolve(base, ref, &out);

	if (!want) {
		ok(err == EINVAL, "%s + %s refused", base ? base : "-", ref);
	} else {
		ok(err == 0, "%s + %s resolves", base ? base : "-", ref);
		is_str(out ? out : "", want, "%s + %s", base ? base : "-", ref);
	}
	free(out);
}

/* curl's own answer: what webhook_url_resolve returned before it had a
 * fast path, and must still return */
static int curl_resolve(const char *base, const char *ref, char **out)
{
	CURLU *u = curl_url();
	char *url = NULL, *scheme = NULL;
	int err = EINVAL;

	if (!ref || !*ref || !u)
		goto out;
	if (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
		goto out;
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
		goto out;
	*out = strdup(url);
	err = 0;
 out:
	curl_free(url);
	curl_free(scheme);
	curl_url_cleanup(u);
	return err;
}

struct vs_curl {
	unsigned cases, differ, fast, fast_changed;
};

/* webhook_url_resolve(base, ref) against curl's answer */
static void vs_curl(struct vs_curl *c, const char *base, const char *ref)
{
	char *got = NULL, *want = NULL;
	int gerr = webhook_url_resolve(base, ref, &got);
	int werr = curl_resolve(base, ref, &want);

	c->cases++;
	if (gerr != werr || (got && want && strcmp(got, want))) {
		if (c->differ++ < 10)
			diag("differs: %s + %s: %s (%d), curl: %s (%d)",
			     base ? base : "-", ref, got ? got : "-", gerr,
			     want ? want : "-", werr);
	}
	free(got);
	free(want);
	if (webhook_url_is_resolved(ref)) {
		c->fast++;
		/* the claim itself: curl prints it back unchanged */
		want = NULL;
		if (curl_resolve(NULL, ref, &want) || strcmp(want, ref))
			c->fast_changed++;
		free(want);
	}
}

/* Every combination of these parts, and relative refs against bases, gives
 * the same answer with the fast path as with curl alone. */
static void test_resolve_vs_curl(void)
{
	static const char *schemes[] = {
		"http://", "https://", "HTTP://", "Https://", "ftp://",
		"file://", "httpx://", "http:/", "http:", "",
	};
	static const char *hosts[] = {
		"h", "app.example", "App.Example", "H", "localhost",
		"127.0.0.1", "10.0.0.255", "127.1", "0127.0.0.1", "127.0.0.01",
		"0x7f.0.0.1", "2130706433", "1.2.3", "256.1.1.1", "1.2.3.4.",
		"1.2.3.4.5", "cafe.be", "abc", "xn--caf-dma.com", "a..b",
		"-h", "h.-x", "h_x", "1e100.net", "[::1]", "[0:0::1]",
		"[::FFFF:127.0.0.1]", "[fe80::1%25eth0]", "u@h", "u:p@h",
		"u:p;o@h", "%41.example", "h:80", "h:443", "h:0080", "h:",
		"h:0", "h:1", "h:65535", "h:65536", "h:99999", "h:8080",
		"h:8o", "", "\xc3\xa9.com", "h h", "h\tx",
	};
	static const char *paths[] = {
		"", "/", "/a/b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/..",
		"/.", "//x", "/.well-known/x", "/a/.../b", "/a/.b/..c/",
		"/a b", "/a%20b", "/a%2e%2e/b", "/%2E/x", "/a%zz", "/%", "/%4",
		"/caf\xc3\xa9", "/a\"b", "/a{b}|c^d`e", "/a\\b", "/a\tb",
		"/a;b=c,d!e$f&g'h(i)j*k+l:m@n~", "/A%7e", "/a<b>", "/a\x7f",
	};
	static const char *queries[] = {
		"", "?", "?a=1&b=2", "?q=a/b?c", "?a b", "?%41", "?x=%zz",
		"?x=\xc3\xa9", "?&", "?a/../b", "??", "?a=[1]", "?a#b",
	};
	static const char *frags[] = {"", "#", "#f", "#f g", "#a#b"};
	static const char *bases[] = {
		NULL, "https://app.example/a/voice.xml", "http://127.0.0.1:8080/x/",
		"HTTP://App.Example/a/b?q=1#f", "https://u:p@h/a/", "ftp://h/a/",
		"not a url", "http://[::1]:8080/a", "https://h/a/./b/../c",
	};
	static const char *refs[] = {
		"next.xml", "../c?q=1", "/b/next", "//other.example/x", "?q=2",
		"#frag", "", ".", "..", "./a/../b", "https://app.example/v?x=1",
		"http://127.0.0.1:9/s", "HTTPS://H/x", "https://h", "ftp://h/x",
		"file:///etc/passwd", "a b", "%zz", "https://h/a#f", "http:x",
		"mailto:a@b", "javascript:alert(1)",
	};
	struct vs_curl c = {0};
	char url[256];

	for (size_t h = 0; h < sizeof(hosts) / sizeof(*hosts); h++)
		for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p++)
			for (size_t q = 0; q < sizeof(queries) / sizeof(*queries); q++)
				for (size_t s = 0; s < 2; s++) {
					snprintf(url, sizeof(url), "%s%s%s%s", schemes[s],
						 hosts[h], paths[p], queries[q]);
					vs_curl(&c, NULL, url);
				}
	/* every scheme and fragment with fewer of the rest */
	for (size_t s = 0; s < sizeof(schemes) / sizeof(*schemes); s++)
		for (size_t h = 0; h < sizeof(hosts) / sizeof(*hosts); h += 3)
			for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p += 4)
				for (size_t f = 0; f < sizeof(frags) / sizeof(*frags); f++) {
					snprintf(url, sizeof(url), "%s%s%s?a=1%s",
						 schemes[s], hosts[h], paths[p], frags[f]);
					vs_curl(&c, NULL, url);
				}
	for (size_t b = 0; b < sizeof(bases) / sizeof(*bases); b++)
		for (size_t r = 0; r < sizeof(refs) / sizeof(*refs); r++)
			vs_curl(&c, bases[b], refs[r]);
	/* the output of a resolution resolves to itself, fast */
	for (size_t b = 1; b < 3; b++) {
		char *out = NULL;

		webhook_url_resolve(bases[b], "next.xml?a=1", &out);
		ok(out && webhook_url_is_resolved(out), "%s: fast the second time",
		   out ? out : "-");
		vs_curl(&c, NULL, out);
		free(out);
	}
	is_int(c.differ, 0, "fast path and curl agree on %u URLs", c.cases);
	is_int(c.fast_changed, 0, "curl prints back every URL taken as resolved");
	ok(c.fast > 1000, "the fast path answered %u of them", c.fast);
	ok(webhook_url_is_resolved("https://app.example/voice?x=1") &&
	   webhook_url_is_resolved("http://127.0.0.1:8080/status/cb?a=%20b") &&
	   !webhook_url_is_resolved("http://127.1/") &&
	   !webhook_url_is_resolved("https://h/a/../b") &&
	   !webhook_url_is_resolved("https://u:p@h/") &&
	   !webhook_url_is_resolved("https://h/p#f"),
	   "is_resolved: the common case in, what curl rewrites out");
}

static void test_resolve(void)
{
	resolves(NULL, "https://app.example/voice?x=1", "https://app.example/voice?x=1");
	resolves("https://app.example/a/voice.xml", "next.xml", "https://app.example/a/next.xml");
	resolves("https://app.example/a/voice.xml", "/b/next", "https://app.example/b/next");
	resolves("https://app.example/a/voice.xml", "../c?q=1", "https://app.example/c?q=1");
	resolves("http://app.example:8080/a/", "//other.example/x", "http://other.example/x");
	resolves("https://app.example/a", "next#frag", "https://app.example/next");
	resolves(NULL, "next.xml", NULL);
	resolves(NULL, "ftp://app.example/x", NULL);
	resolves("https://app.example/", "file:///etc/passwd", NULL);
	resolves(NULL, "", NULL);
}

static void test_redact(void)
{
	char buf[128];

	webhook_url_redact("https://user:secret@app.example/v?x=1", buf, sizeof(buf));
	is_str(buf, "https://user:***@app.example/v?x=1", "password redacted");
	webhook_url_redact("https://user@app.example/v", buf, sizeof(buf));
	is_str(buf, "https://user@app.example/v", "user alone kept");
	webhook_url_redact("https://app.example/v?a=b@c:d", buf, sizeof(buf));
	is_str(buf, "https://app.example/v?a=b@c:d", "@ in the query is not userinfo");
}

static void test_token(void)
{
	char a[WEBHOOK_TOKEN_SIZE], b[WEBHOOK_TOKEN_SIZE];

	webhook_token_new(a);
	webhook_token_new(b);
	is_int((long long)strlen(a), 32, "token: 32 hex digits");
	ok(strspn(a, "0123456789abcdef") == 32, "token: lowercase hex");
	ok(strcmp(a, b) != 0, "tokens differ");
}

static void test_params_copy(void)
{
	char name[] = "CallStatus", value[] = "ringing";
	const struct webhook_param p[] = {
		{name, value}, {"Empty", ""}, {"Null", NULL},
	};
	struct webhook_param *c = webhook_params_copy(p, 3), *z;

	ok(c != NULL, "params copy: one block");
	if (!c)
		return;
	name[0] = value[0] = 'x';	/* the copy owns its strings */
	ok(!strcmp(c[0].name, "CallStatus") && !strcmp(c[0].value, "ringing"),
	   "params copy: name and value copied");
	ok(!strcmp(c[1].value, "") && !strcmp(c[2].name, "Null") &&
	   !strcmp(c[2].value, ""), "params copy: an empty value and a NULL one are \"\"");
	ok(!webhook_params_repeat(c, 3), "params copy: the names as given");
	free(c);
	z = webhook_params_copy(NULL, 0);
	ok(z != NULL, "params copy: no parameters is an empty block, not an error");
	free(z);
}

int main(void)
{
	test_vectors();
	test_sign_cache();
	test_form();
	test_resolve();
	test_resolve_vs_curl();
	test_redact();
	test_token();
	test_params_copy();
	webhook_sign_cleanup();
	return tap_done();
}
