/* fuzz_api_form.c: libFuzzer target for the REST form parser (bodies and
 * query strings come from any HTTP client)
 *
 * Properties: a form that parses has at most API_FORM_MAX_FIELDS fields,
 * no empty name and no NUL in a value; encoded again (the webhook
 * client's encoder) and parsed, it gives the same fields in order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api_form.h"
#include "daemon/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_form f, g;
	struct webhook_param *p;
	char *enc = NULL;
	size_t len = 0;

	if (api_form_parse(&f, (const char *)data, size))
		return 0;
	if (f.n > API_FORM_MAX_FIELDS)
		abort();
	p = calloc(f.n + 1, sizeof(*p));
	for (size_t i = 0; i < f.n; i++) {
		if (!f.v[i].name[0])
			abort();
		p[i].name = f.v[i].name;
		p[i].value = f.v[i].value;
	}
	if (webhook_form_encode(&enc, &len, p, f.n) == 0 && len <= API_FORM_MAX_LEN) {
		if (api_form_parse(&g, enc, len))
			abort();	/* what we encode must parse */
		if (g.n != f.n)
			abort();
		for (size_t i = 0; i < f.n; i++)
			if (strcmp(g.v[i].name, f.v[i].name) ||
			    strcmp(g.v[i].value, f.v[i].value))
				abort();
		api_form_free(&g);
	}
	free(enc);
	free(p);
	api_form_free(&f);
	return 0;
}
