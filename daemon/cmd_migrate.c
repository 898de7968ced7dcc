/* cmd_migrate.c: dialerd migrate: apply or list the call-log migrations */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "store/store.h"

static void print_line(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
}

int cmd_migrate(const struct config *cfg, int argc, char **argv)
{
	enum store_migrate_mode mode = STORE_MIGRATE_APPLY;
	char err[768];
	int e;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0) {
			mode = STORE_MIGRATE_STATUS;
		} else if (strcmp(argv[i], "--check") == 0) {
			mode = STORE_MIGRATE_CHECK;
		} else {
			fprintf(stderr, "usage: dialerd [-c FILE] migrate [--status|--check]\n");
			return 2;
		}
	}
	if (!cfg->database_url || !*cfg->database_url) {
		fprintf(stderr, "dialerd migrate: no database_url configured "
				"(set it in the file or DIALERD_DATABASE_URL)\n");
		return 2;
	}
	e = store_migrate(cfg->database_url, mode, 10, print_line, NULL, err,
			  sizeof(err));
	if (e) {
		fprintf(stderr, "dialerd migrate: %s\n", err[0] ? err : strerror(e));
		return 1;
	}
	if (mode == STORE_MIGRATE_CHECK)
		printf("schema up to date (%04u)\n", store_migrations_latest());
	return 0;
}
