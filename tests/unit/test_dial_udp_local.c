/* test_dial_udp_local.c: udp_local_get() from the per-thread cache (dial/udp_local.c) answers what the kernel does, and libre resolves to it */
#include <dlfcn.h>
#include <string.h>
#include <sys/socket.h>

#include <re.h>

#include "dial/internal.h"
#include "tests/tap.h"

static void recv_h(const struct sa *src, struct mbuf *mb, void *arg)
{
	(void)src;
	(void)mb;
	(void)arg;
}

static bool kernel_local(const struct udp_sock *us, struct sa *sa)
{
	sa_init(sa, AF_UNSPEC);
	return getsockname(udp_sock_fd(us, AF_UNSPEC), &sa->u.sa, &sa->len) == 0;
}

int main(void)
{
	struct udp_sock *a = NULL, *b = NULL;
	struct sa any, got, kern;
	bool same = true;

	if (!is_int(libre_init(), 0, "libre_init"))
		return tap_done();
	sa_set_str(&any, "127.0.0.1", 0);
	is_int(udp_listen(&a, &any, recv_h, NULL), 0, "socket A bound");
	is_int(udp_listen(&b, &any, recv_h, NULL), 0, "socket B bound");
	ok(a && b && kernel_local(a, &kern), "the kernel names A's address");
	for (int i = 0; i < 3; i++) {
		memset(&got, 0, sizeof(got));
		same = same && udp_local_get(a, &got) == 0 &&
			sa_cmp(&got, &kern, SA_ALL);
	}
	ok(same, "asked three times, A's answer is the kernel's");
	ok(kernel_local(b, &kern) && udp_local_get(b, &got) == 0 &&
	   sa_cmp(&got, &kern, SA_ALL) && sa_port(&got) != 0,
	   "B gets its own address");
	ok(udp_local_get(a, &got) == 0 && kernel_local(a, &kern) &&
	   sa_cmp(&got, &kern, SA_ALL), "A's entry still right after B's");
	is_int(udp_local_get(NULL, &got), EINVAL, "no socket: EINVAL");
	ok(dlsym(RTLD_DEFAULT, "udp_local_get") == (void *)udp_local_get,
	   "libre's calls resolve to the cache");
	mem_deref(a);
	mem_deref(b);
	libre_close();
	return tap_done();
}
