/* version.c: which libxml2 the cXML module was built against */
#include <libxml/xmlversion.h>

#include "cxml/cxml.h"

const char *cxml_libxml_version(void)
{
	return LIBXML_DOTTED_VERSION;
}
