/* fuzz_config.c: libFuzzer target for the configuration file parser: any
 * file loads or fails with one line that never echoes a secret's value */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/dialerd-fuzz-config-XXXXXX";

/* Traps when text shows the value of a secret line of the file: the part
 * after '=' of an auth_token or database_url line, spaces trimmed. */
static void no_secret_in(const char *text, const char *file)
{
	const char *l = file;

	while (l && *l) {
		const char *e = strchr(l, '\n'), *k = l + strspn(l, " \t");
		size_t len = e ? (size_t)(e - l) : strlen(l);

		if (!strncmp(k, "auth_token", 10) || !strncmp(k, "database_url", 12)) {
			const char *eq = memchr(k, '=', len - (size_t)(k - l));

			if (eq) {
				char v[256];
				size_t vn = len - (size_t)(eq + 1 - l);
				const char *vp = eq + 1;

				while (vn && (*vp == ' ' || *vp == '\t'))
					vp++, vn--;
				while (vn && (vp[vn - 1] == ' ' || vp[vn - 1] == '\t' || vp[vn - 1] == '\r'))
					vn--;
				/* short values occur in ordinary words and in
				 * the messages' own text ("https://" is in
				 * "expected http:// or https://") */
				if (vn >= 10 && vn < sizeof(v)) {
					memcpy(v, vp, vn);
					v[vn] = '\0';
					/* text the file also has outside this
					 * value may be echoed as that text */
					const char *first = strstr(file, v);

					if (first && strstr(first + 1, v))
						goto next;
					if (strstr(text, v) && !strstr(path, v)) {
						fprintf(stderr, "secret \"%s\" echoed: %s\n", v, text);
						__builtin_trap();
					}
				}
			}
		}
next:
		l = e ? e + 1 : NULL;
	}
}

/* the file goes with the fuzzer */
static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct config cfg;
	char err[1024], msg[1024], *file;

	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		atexit(remove_file);
		/* the file alone decides: drop every DIALERD_* override the
		 * environment holds (the test runner exports its own) */
		for (;;) {
			char **e = __environ, name[256];
			size_t n;

			while (*e && strncmp(*e, "DIALERD_", 8))
				e++;
			if (!*e)
				break;
			n = strcspn(*e, "=");
			if (n >= sizeof(name))
				abort();
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
		}
	}
	if (size > 65536)
		return 0;
	file = malloc(size + 1);
	if (!file)
		return 0;
	memcpy(file, data, size);
	file[size] = '\0';
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	chmod(path, 0600);
	err[0] = '\0';
	if (config_load(&cfg, path, err, sizeof(err)) != 0) {
		if (!err[0])
			__builtin_trap();	/* a failure names its reason */
		no_secret_in(err, file);
	} else {
		if (config_file_exposed(path, &cfg, msg, sizeof(msg)) != 0)
			__builtin_trap();	/* 0600 is never exposed */
		chmod(path, 0644);
		if (config_file_exposed(path, &cfg, msg, sizeof(msg)))
			no_secret_in(msg, file);
	}
	config_free(&cfg);
	free(file);
	return 0;
}
