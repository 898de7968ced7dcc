/* cmd_check.c: dialerd check: validate a cXML document and print its tree */
#include <stdio.h>

#include "daemon/commands.h"

int cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dialerd check: the cXML parser is not built yet\n");
	return 2;
}
