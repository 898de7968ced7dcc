/* fuzz_log_mask.c: libFuzzer target for log masking: no line made of
 * hostile text around a secret in a maskable form ever shows the secret */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "FzTokenS3cret77"
#define DBPW_DEC "Pw@Fz9db!"
static char path[] = "/tmp/dialerd-fuzz-log-XXXXXX";
static int fd = -1;

static void setup(void)
{
	if (fd >= 0)
		return;
	fd = mkstemp(path);
	if (fd < 0 || log_open(LOG_DEBUG, path))
		abort();
	unlink(path);	/* the open descriptors keep it */
	log_add_secret(TOKEN);
	log_add_conninfo_secret("postgresql://u:Pw%40Fz9db%21@127.0.0.1/db");
}

/* the text copied out of data: no NUL (a C string), at most cap bytes */
static size_t take(char *dst, size_t cap, const uint8_t **p, size_t *n, size_t want)
{
	size_t o = 0;

	while (*n && o < want && o < cap) {
		if (**p)
			dst[o++] = (char)**p;
		(*p)++;
		(*n)--;
	}
	dst[o] = '\0';
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char pre[12000], post[2000], pw[64], out[70000];
	const char *secret;
	char line[200];
	size_t plen;
	ssize_t r;
	off_t end;

	setup();
	if (size < 3)
		return 0;
	/* byte 0: the form; byte 1: the prefix length in units of 64 bytes */
	unsigned form = data[0] % 8, pre_units = data[1];
	const uint8_t *p = data + 2;
	size_t n = size - 2;

	take(pre, sizeof(pre) - 1, &p, &n, (size_t)pre_units * 64 < n ? (size_t)pre_units * 64 : n / 2);
	/* a password taken from the input, without the bytes that end a
	 * userinfo; at least 6 bytes, or the fixed one */
	/* "Zq" first: the line's own words and time never contain it */
	pw[0] = 'Z', pw[1] = 'q';
	plen = 2;
	while (n && plen < 40) {
		char c = (char)*p;

		p++, n--;
		if (c == ';')
			break;
		if (c > 0x20 && c < 0x7f && !strchr("\"'<>[]/?#@:\\", c))
			pw[plen++] = c;
	}
	pw[plen] = '\0';
	if (plen < 6)
		strcpy(pw, "ZqFuzzUser");
	take(post, sizeof(post) - 1, &p, &n, n);
	secret = pw;
	switch (form) {
	case 0: snprintf(line, sizeof(line), " " TOKEN " "); secret = TOKEN; break;
	case 1: snprintf(line, sizeof(line), " " DBPW_DEC " "); secret = DBPW_DEC; break;
	case 2: snprintf(line, sizeof(line), " Authorization: Digest response=\"%s\"", pw); break;
	case 3: snprintf(line, sizeof(line), " Proxy-Authorization\t : Basic %s", pw); break;
	case 4: snprintf(line, sizeof(line), " {\"authorization\": \"Bearer %s\"}", pw); break;
	case 5: snprintf(line, sizeof(line), " https://user:%s@example.com/", pw); break;
	case 6: snprintf(line, sizeof(line), " <sip:bob:%s@10.0.0.1>", pw); break;
	default: snprintf(line, sizeof(line), " postgresql://u:Pw%%40Fz9db%%21@h/db "); secret = "Pw%40Fz9db%21"; break;
	}
	/* a password the input also shows elsewhere, unmasked, proves nothing */
	if (secret == pw && (strstr(pre, pw) || strstr(post, pw)))
		return 0;
	/* the secret inside the first 8 KiB of message, so it is not cut away */
	if (strlen(pre) > 7000)
		pre[7000] = '\0';
	end = lseek(fd, 0, SEEK_END);
	log_msg(LOG_ERR, "fuzz", "%s%s%s", pre, line, post);
	r = pread(fd, out, sizeof(out) - 1, end);
	if (r < 0)
		abort();
	out[r] = '\0';
	if (strstr(out, secret)) {
		fprintf(stderr, "secret %s shown in: %s\n", secret, out);
		__builtin_trap();
	}
	if (lseek(fd, 0, SEEK_END) > (off_t)1 << 26)
		if (ftruncate(fd, 0))
			abort();
	return 0;
}
