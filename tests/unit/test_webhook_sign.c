/* test_webhook_sign.c: request signatures (the vendors' test vectors), form
 * encoding, URL resolution and redaction: the pure half of the webhook client */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	test_vectors();
	test_form();
	test_resolve();
	test_redact();
	test_token();
	return tap_done();
}
