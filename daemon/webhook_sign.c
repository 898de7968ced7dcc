/* webhook_sign.c: the X-Twilio-Signature of a request (HMAC-SHA1, base64)
 *
 * The validators of Twilio's and SignalWire's helper libraries recompute
 * it from the URL they were called on and, for a form body, the decoded
 * parameters: the data is the full URL (query string included), then each
 * parameter's name immediately followed by its value, in plain byte order
 * of the names. A repeated name is not portable (twilio-node de-duplicates
 * and sorts the values, python3-twilio keeps one, SignalWire's keeps the
 * order given), so dialerd never sends one and refuses to sign one.
 *
 * OpenSSL 3's one-shot HMAC() fetches the MAC and digest and builds a
 * context on every call. Instead the HMAC is spelled out (RFC 2104): the
 * SHA1 digest is fetched once and, per signing key, the digest states
 * after the inner and outer padded key are kept; a request copies them and
 * hashes only its own data, piece by piece, so the signed string is never
 * built. A few keys are kept (tokens may differ between accounts or
 * change), matched on their bytes, least recently used one replaced.
 *
 * Threads: the key cache is not locked. The only caller is the webhook
 * client (webhook.c's request headers), which runs on the main thread;
 * another thread that signs needs a lock here first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/webhook.h"

#define SHA1_BLOCK 64
#define SHA1_LEN 20
#define SIGN_KEYS 4		/* tokens kept; a daemon has one today */
#define SORT_STACK 128		/* parameters sorted without a malloc */

struct sign_key {
	char *token;		/* a copy, wiped when dropped */
	size_t len;
	EVP_MD_CTX *inner, *outer;	/* after (key ^ ipad), (key ^ opad) */
	unsigned long used;	/* clock of the last use */
};

static struct {
	EVP_MD *sha1;
	EVP_MD_CTX *work;
	struct sign_key key[SIGN_KEYS];
	unsigned long clock;
} S;

bool webhook_params_repeat(const struct webhook_param *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(p[i].name, p[j].name) == 0)
				return true;
	return false;
}

/* Sorts pointers to the parameters by name (binary insertion: few
 * comparisons, no callback); EINVAL when a name repeats. */
static int sort_params(const struct webhook_param *p, size_t n,
		       const struct webhook_param **s)
{
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = i;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(p[i].name, s[mid]->name);

			if (c == 0)
				return EINVAL;
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		memmove(&s[lo + 1], &s[lo], (i - lo) * sizeof(*s));
		s[lo] = &p[i];
	}
	return 0;
}

static void key_drop(struct sign_key *k)
{
	if (k->token) {
		OPENSSL_cleanse(k->token, k->len);
		free(k->token);
	}
	/* freeing a digest context wipes its state */
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	memset(k, 0, sizeof(*k));
}

void webhook_sign_cleanup(void)
{
	for (size_t i = 0; i < SIGN_KEYS; i++)
		key_drop(&S.key[i]);
	EVP_MD_CTX_free(S.work);
	EVP_MD_free(S.sha1);
	memset(&S, 0, sizeof(S));
}

size_t webhook_sign_keys(void)
{
	size_t n = 0;

	for (size_t i = 0; i < SIGN_KEYS; i++)
		n += S.key[i].token != NULL;
	return n;
}

/* The inner and outer states of one key (RFC 2104 section 2). */
static int key_init(struct sign_key *k, const char *token, size_t len)
{
	unsigned char kb[SHA1_BLOCK] = {0}, pad[SHA1_BLOCK];
	unsigned int kl;
	int ok = 1;

	if (len > SHA1_BLOCK)
		ok = EVP_Digest(token, len, kb, &kl, S.sha1, NULL);
	else
		memcpy(kb, token, len);
	k->token = malloc(len + 1);
	k->inner = EVP_MD_CTX_new();
	k->outer = EVP_MD_CTX_new();
	ok = ok && k->token && k->inner && k->outer;
	for (size_t i = 0; i < SHA1_BLOCK; i++)
		pad[i] = kb[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(k->inner, S.sha1, NULL) &&
	     EVP_DigestUpdate(k->inner, pad, SHA1_BLOCK);
	for (size_t i = 0; i < SHA1_BLOCK; i++)
		pad[i] = kb[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(k->outer, S.sha1, NULL) &&
	     EVP_DigestUpdate(k->outer, pad, SHA1_BLOCK);
	OPENSSL_cleanse(kb, sizeof(kb));
	OPENSSL_cleanse(pad, sizeof(pad));
	if (!ok) {
		key_drop(k);
		return ENOMEM;
	}
	memcpy(k->token, token, len + 1);
	k->len = len;
	return 0;
}

/* The cached states of token, made on first use. */
static struct sign_key *key_get(const char *token)
{
	size_t len = strlen(token);
	struct sign_key *k, *old = &S.key[0];

	if (!S.sha1 && !(S.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)))
		return NULL;
	if (!S.work && !(S.work = EVP_MD_CTX_new()))
		return NULL;
	for (size_t i = 0; i < SIGN_KEYS; i++) {
		k = &S.key[i];
		if (k->token && k->len == len && memcmp(k->token, token, len) == 0) {
			k->used = ++S.clock;
			return k;
		}
		if (!k->token || (old->token && k->used < old->used))
			old = k;
	}
	key_drop(old);
	if (key_init(old, token, len))
		return NULL;
	old->used = ++S.clock;
	return old;
}

static int update(const char *s)
{
	return EVP_DigestUpdate(S.work, s, strlen(s));
}

int webhook_sign(const char *token, const char *url,
		 const struct webhook_param *p, size_t n, bool form,
		 char sig[WEBHOOK_SIG_SIZE])
{
	const struct webhook_param *stack[SORT_STACK], **sorted = stack;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sign_key *k;
	int err = 0, ok;

	if (!token || !url || (n && !p))
		return EINVAL;
	if (!form)
		n = 0;
	if (n > SORT_STACK && !(sorted = malloc(n * sizeof(*sorted))))
		return ENOMEM;
	err = sort_params(p, n, sorted);
	if (err)
		goto out;
	k = key_get(token);
	/* HMAC = H(outer || H(inner || data)), data as the validators build it */
	ok = k && EVP_MD_CTX_copy_ex(S.work, k->inner) && update(url);
	for (size_t i = 0; ok && i < n; i++)
		ok = update(sorted[i]->name) &&
		     (!sorted[i]->value || update(sorted[i]->value));
	ok = ok && EVP_DigestFinal_ex(S.work, md, &mdlen) && mdlen == SHA1_LEN &&
	     EVP_MD_CTX_copy_ex(S.work, k->outer) &&
	     EVP_DigestUpdate(S.work, md, mdlen) &&
	     EVP_DigestFinal_ex(S.work, md, &mdlen) && mdlen == SHA1_LEN;
	if (ok)
		EVP_EncodeBlock((unsigned char *)sig, md, (int)mdlen);
	else
		err = ENOMEM;
 out:
	if (sorted != stack)
		free(sorted);
	return err;
}
