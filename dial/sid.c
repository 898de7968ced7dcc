/* sid.c: the call SID's text (the shape: dial.h) */
#include <stdio.h>

#include "dial/dial.h"

void dial_sid_format(char out[DIAL_SID_LEN + 1], unsigned instance,
		     uint64_t wall_ms, uint64_t rnd)
{
	snprintf(out, DIAL_SID_LEN + 1, "CA%04x%012llx%016llx",
		 instance & 0xffffu,
		 (unsigned long long)(wall_ms & 0xffffffffffffull),
		 (unsigned long long)rnd);
}
