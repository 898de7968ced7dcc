/* api_form.h: application/x-www-form-urlencoded bodies and query strings of
 * REST requests: every field, keys decoded, repeats kept in order */
#ifndef DIALERD_API_FORM_H
#define DIALERD_API_FORM_H

#include <stddef.h>

struct api_field {
	char *name;
	char *value;
};

struct api_form {
	struct api_field *v;
	size_t n;
};

/* Limits of one form. */
#define API_FORM_MAX_FIELDS 256
#define API_FORM_MAX_LEN (64u * 1024)

/* Parses s (len bytes, no NUL needed): fields split on '&', name and
 * value on the first '=', '+' and %XX decoded in both; empty fields are
 * skipped. 0; EBADMSG (a bad %-escape, a NUL byte, an empty name), E2BIG
 * (over the limits) or ENOMEM, and f is then empty. */
int api_form_parse(struct api_form *f, const char *s, size_t len);
void api_form_free(struct api_form *f);

/* The first value of name (case-sensitive, as the vendors' APIs), or NULL. */
const char *api_form_get(const struct api_form *f, const char *name);
/* How many fields have that name. */
size_t api_form_count(const struct api_form *f, const char *name);

#endif
