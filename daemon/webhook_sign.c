/* webhook_sign.c: the X-Twilio-Signature of a request (HMAC-SHA1, base64)
 *
 * The validators of Twilio's and SignalWire's helper libraries recompute
 * it from the URL they were called on and, for a form body, the decoded
 * parameters: the data is the full URL (query string included), then each
 * parameter's name immediately followed by its value, in plain byte order
 * of the names. A repeated name is not portable (twilio-node de-duplicates
 * and sorts the values, python3-twilio keeps one, SignalWire's keeps the
 * order given), so dialerd never sends one and refuses to sign one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "daemon/webhook.h"

static int by_name(const void *a, const void *b)
{
	const struct webhook_param *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

bool webhook_params_repeat(const struct webhook_param *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(p[i].name, p[j].name) == 0)
				return true;
	return false;
}

/* The signed string: url, then name+value of each parameter in order. */
static int signed_data(const char *url, const struct webhook_param *p,
		       size_t n, bool form, char **datap, size_t *lenp)
{
	const struct webhook_param **sorted = NULL;
	size_t len = strlen(url), off;
	char *data = NULL;
	int err = 0;

	if (form && n) {
		sorted = malloc(n * sizeof(*sorted));
		if (!sorted)
			return ENOMEM;
		for (size_t i = 0; i < n; i++) {
			sorted[i] = &p[i];
			len += strlen(p[i].name) +
			       (p[i].value ? strlen(p[i].value) : 0);
		}
		qsort(sorted, n, sizeof(*sorted), by_name);
		for (size_t i = 1; i < n; i++)
			if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
				err = EINVAL;
		if (err)
			goto out;
	}
	data = malloc(len + 1);
	if (!data) {
		err = ENOMEM;
		goto out;
	}
	off = strlen(url);
	memcpy(data, url, off);
	for (size_t i = 0; form && i < n; i++) {
		size_t nl = strlen(sorted[i]->name);
		size_t vl = sorted[i]->value ? strlen(sorted[i]->value) : 0;

		memcpy(data + off, sorted[i]->name, nl);
		off += nl;
		if (vl)
			memcpy(data + off, sorted[i]->value, vl);
		off += vl;
	}
	data[off] = '\0';
	*datap = data;
	*lenp = off;
 out:
	free(sorted);
	return err;
}

int webhook_sign(const char *token, const char *url,
		 const struct webhook_param *p, size_t n, bool form,
		 char sig[WEBHOOK_SIG_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *data = NULL;
	size_t len = 0;
	int err;

	if (!token || !url || (n && !p))
		return EINVAL;
	err = signed_data(url, p, n, form, &data, &len);
	if (err)
		return err;
	if (!HMAC(EVP_sha1(), token, (int)strlen(token),
		  (const unsigned char *)data, len, md, &mdlen) || mdlen != 20)
		err = ENOMEM;
	else
		EVP_EncodeBlock((unsigned char *)sig, md, (int)mdlen);
	free(data);
	return err;
}
