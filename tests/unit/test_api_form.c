/* test_api_form.c: REST form bodies and query strings as the vendors'
 * clients send them: encoded keys, repeated keys, empty pairs, bad input */
#include <errno.h>
#include <string.h>

#include "daemon/api_form.h"
#include "tests/tap.h"

static int parse(struct api_form *f, const char *s)
{
	return api_form_parse(f, s, strlen(s));
}

int main(void)
{
	struct api_form f;
	char big[API_FORM_MAX_LEN + 2];

	ok(parse(&f, "To=sip%3Abob%40example.com%3FX-A%3D1&From=%2B1555&Url=http%3A%2F%2Fa%2Fb") == 0, "parses");
	is_int((long long)f.n, 3, "three fields");
	is_str(api_form_get(&f, "To"), "sip:bob@example.com?X-A=1", "value decoded");
	is_str(api_form_get(&f, "From"), "+1555", "%%2B is a plus");
	api_form_free(&f);
	ok(parse(&f, "StartTime%3E=2026-01-01&StartTime%3C=2026-02-01") == 0, "encoded keys");
	is_str(api_form_get(&f, "StartTime>"), "2026-01-01", "StartTime> decoded");
	is_str(api_form_get(&f, "StartTime<"), "2026-02-01", "StartTime< decoded");
	api_form_free(&f);
	ok(parse(&f, "StatusCallbackEvent=initiated&StatusCallbackEvent=ringing&&a=&b&Name=x+y") == 0,
	   "repeats, empty pairs, bare keys");
	is_int((long long)api_form_count(&f, "StatusCallbackEvent"), 2, "a repeated key keeps both");
	is_str(f.v[0].value, "initiated", "in order, first");
	is_str(f.v[1].value, "ringing", "in order, second");
	is_str(api_form_get(&f, "a"), "", "a=: empty value");
	is_str(api_form_get(&f, "b"), "", "bare key: empty value");
	is_str(api_form_get(&f, "Name"), "x y", "+ is a space");
	ok(api_form_get(&f, "name") == NULL, "names are case-sensitive");
	api_form_free(&f);
	ok(parse(&f, "") == 0 && f.n == 0, "empty input: no fields");
	api_form_free(&f);
	is_int(parse(&f, "a=%zz"), EBADMSG, "a non-hex escape is refused");
	is_int(parse(&f, "a=%4"), EBADMSG, "a cut escape is refused");
	is_int(parse(&f, "a=b%00c"), EBADMSG, "an encoded NUL is refused");
	is_int(parse(&f, "=v"), EBADMSG, "an empty name is refused");
	ok(f.n == 0 && f.v == NULL, "a refused form is empty");
	memset(big, 'a', sizeof(big));
	is_int(api_form_parse(&f, big, sizeof(big) - 1), E2BIG, "over 64 KiB: E2BIG");
	{
		char many[4 * (API_FORM_MAX_FIELDS + 2)];
		size_t o = 0;

		for (int i = 0; i < API_FORM_MAX_FIELDS + 1; i++) {
			memcpy(many + o, "a=1&", 4);
			o += 4;
		}
		is_int(api_form_parse(&f, many, o - 1), E2BIG, "too many fields: E2BIG");
		is_int(api_form_parse(&f, many, 4 * API_FORM_MAX_FIELDS - 1), 0,
		       "the limit itself passes");
		api_form_free(&f);
	}
	return tap_done();
}
