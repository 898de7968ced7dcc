/* version.c: which libre the SIP engine runs with */
#include <re.h>

#include "dial/dial.h"

const char *dial_libre_version(void)
{
	return sys_libre_version_get();
}
