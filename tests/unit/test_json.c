/* test_json.c: the REST answers' JSON writer: commas, nesting, escapes,
 * invalid UTF-8 and misuse */
#include <string.h>

#include "daemon/json.h"
#include "tests/tap.h"

static void check(struct json *j, const char *want, const char *what)
{
	const char *t = json_text(j, NULL);

	is_str(t ? t : "(error)", want, "%s", what);
	json_fini(j);
}

int main(void)
{
	struct json j;

	json_init(&j);
	json_obj(&j);
	json_kstr(&j, "sid", "CA1");
	json_knull(&j, "price");
	json_kint(&j, "n", -3);
	json_key(&j, "calls");
	json_arr(&j);
	json_obj(&j);
	json_obj_end(&j);
	json_str(&j, NULL);
	json_bool(&j, true);
	json_arr_end(&j);
	json_key(&j, "o");
	json_obj(&j);
	json_kstr(&j, "a", "");
	json_obj_end(&j);
	json_obj_end(&j);
	check(&j, "{\"sid\":\"CA1\",\"price\":null,\"n\":-3,\"calls\":[{},null,true],"
	      "\"o\":{\"a\":\"\"}}", "members, arrays, nesting, commas");

	json_init(&j);
	json_str(&j, "q\"b\\s\n\r\t\x01/\x7f");
	check(&j, "\"q\\\"b\\\\s\\n\\r\\t\\u0001/\x7f\"", "escapes");

	json_init(&j);
	json_str(&j, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	check(&j, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "valid UTF-8 kept");

	json_init(&j);
	json_str(&j, "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xe2\x82");
	check(&j, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\"",
	      "invalid, overlong, surrogate and cut sequences replaced");

	json_init(&j);
	json_strn(&j, "a\0b", 3);
	check(&j, "\"a\\u0000b\"", "a NUL byte is escaped");

	json_init(&j);
	json_obj(&j);
	json_obj_end(&j);
	json_obj_end(&j);
	ok(json_text(&j, NULL) == NULL && j.err, "closing too much is an error");
	json_fini(&j);

	json_init(&j);
	json_obj(&j);
	json_key(&j, "a");
	json_obj_end(&j);
	ok(json_text(&j, NULL) == NULL, "a key without a value is an error");
	json_fini(&j);

	json_init(&j);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_arr(&j);
	ok(json_text(&j, NULL) == NULL, "nesting past the limit is an error");
	json_fini(&j);
	ok(json_text_exact("<Response/>", 11), "ASCII survives jsonb");
	ok(json_text_exact("caf\xc3\xa9 \xe2\x82\xac", 9), "so does UTF-8");
	ok(!json_text_exact("a\0b", 3), "a NUL does not (jsonb refuses \\u0000)");
	ok(!json_text_exact("caf\xe9", 4), "nor Latin-1 (replaced by U+FFFD)");
	ok(!json_text_exact("\xed\xa0\x80", 3), "nor a surrogate");
	return tap_done();
}
