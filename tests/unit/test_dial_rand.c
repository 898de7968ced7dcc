/* test_dial_rand.c: libre's rand_* come from dial/rand_pool.c, and behave as libre's */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <re.h>

#include "dial/internal.h"
#include "tests/tap.h"

static bool resolves_here(const char *name, void *mine)
{
	return dlsym(RTLD_DEFAULT, name) == mine;
}

int main(void)
{
	uint32_t (*u32)(void) = rand_u32;
	void *p;
	char s[64];
	uint8_t b[1000], z[1000];
	uint64_t a[256];
	int i, j, dup = 0, bad = 0, pfd[2];
	pid_t pid;

	ok(libre_init() == 0, "libre_init");

	memcpy(&p, &u32, sizeof(p));
	ok(resolves_here("rand_u32", p),
	   "libre's PLT resolves rand_u32 to dial/rand_pool.c");
	ok(dial_tmr_active(), "and the timers are active with it");

	for (i = 0; i < 256; i++)
		a[i] = rand_u64();
	for (i = 0; i < 256; i++)
		for (j = i + 1; j < 256; j++)
			dup += a[i] == a[j];
	is_int(dup, 0, "256 rand_u64 values, all different");

	rand_str(s, sizeof(s));
	is_int((long long)strlen(s), 63, "rand_str fills size - 1 and a NUL");
	for (i = 0; s[i]; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789", s[i]))
			++bad;
	is_int(bad, 0, "rand_str uses [A-Za-z0-9] only");
	rand_str(s, 1);
	is_int(s[0], 0, "rand_str of size 1 is the empty string");

	memset(z, 0, sizeof(z));
	memset(b, 0, sizeof(b));
	rand_bytes(b, sizeof(b));   /* larger than the pool's direct limit */
	ok(memcmp(b, z, sizeof(b)) != 0, "rand_bytes (1000) filled");
	memset(b, 0, sizeof(b));
	for (i = 0; i < 5000; i++)   /* crosses several refills */
		rand_bytes(b + (i % 990), 10);
	ok(memcmp(b, z, sizeof(b)) != 0, "small rand_bytes across refills");
	ok(rand_char() != 0, "rand_char");
	(void)rand_u16();

	/* a child must not repeat the parent's pooled bytes */
	if (pipe(pfd) == 0) {
		uint64_t child = 0, parent;

		pid = fork();
		if (pid == 0) {
			uint64_t v = rand_u64();

			if (write(pfd[1], &v, sizeof(v)) != sizeof(v))
				_exit(1);
			_exit(0);
		}
		parent = rand_u64();
		if (read(pfd[0], &child, sizeof(child)) != sizeof(child))
			child = parent;
		waitpid(pid, NULL, 0);
		ok(child != parent, "after fork, child and parent differ");
		close(pfd[0]);
		close(pfd[1]);
	}

	libre_close();

	return tap_done();
}
