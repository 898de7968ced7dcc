/* libre_test.c: helpers shared by the unit tests that drive libre's loop themselves */
#include <re.h>

#include "tests/tap.h"
#include "tests/unit/libre_test.h"

static void stop_h(void *arg)
{
	(void)arg;
	re_cancel();
}

void libre_test_run_ms(unsigned ms)
{
	struct tmr t;

	tmr_init(&t);
	tmr_start(&t, ms, stop_h, NULL);
	(void)re_main(NULL);
	tmr_cancel(&t);
}

void libre_test_dbg_h(int level, const char *p, size_t len, void *arg)
{
	(void)level;
	(void)arg;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		--len;
	diag("libre: %.*s", (int)len, p);
}
