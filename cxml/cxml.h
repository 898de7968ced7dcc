/* cxml.h: public interface of the cXML parser (libxml2 only; never logs) */
#ifndef DIALERD_CXML_H
#define DIALERD_CXML_H

/* Version of the libxml2 the module was built against, for --version. */
const char *cxml_libxml_version(void);

#endif
