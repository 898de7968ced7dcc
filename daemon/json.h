/* json.h: a JSON writer for REST answers: compact, always valid (strings
 * escaped, invalid UTF-8 replaced), commas placed by the writer */
#ifndef DIALERD_JSON_H
#define DIALERD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 16

struct json {
	char *buf;
	size_t len, cap;
	int err;			/* ENOMEM or EINVAL (misuse), sticky */
	unsigned depth;
	bool more[JSON_MAX_DEPTH];	/* a value was written at this depth */
	bool keyed;			/* a key waits for its value */
};

void json_init(struct json *j);
void json_fini(struct json *j);
/* The text so far and its length; NULL after an error. */
const char *json_text(const struct json *j, size_t *len);

void json_obj(struct json *j);
void json_obj_end(struct json *j);
void json_arr(struct json *j);
void json_arr_end(struct json *j);
/* The next member's name, inside an object. */
void json_key(struct json *j, const char *k);

/* Values: a NULL string is null. */
void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, long long v);
void json_bool(struct json *j, bool b);
void json_null(struct json *j);

/* Does a string keep every byte through json_str and a PostgreSQL jsonb
 * (valid UTF-8, no NUL: those are replaced, or refused by jsonb)? */
bool json_text_exact(const char *s, size_t n);

/* key + value in one call */
void json_kstr(struct json *j, const char *k, const char *s);
void json_kint(struct json *j, const char *k, long long v);
void json_knull(struct json *j, const char *k);

#endif
