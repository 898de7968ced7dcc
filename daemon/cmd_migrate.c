/* cmd_migrate.c: dialerd migrate: apply or list the call-log migrations */
#include <stdio.h>

#include "daemon/commands.h"

int cmd_migrate(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "dialerd migrate: the migrator is not built yet\n");
	return 2;
}
