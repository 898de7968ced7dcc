/* dial.h: public interface of the SIP engine (libre only; runs its own thread) */
#ifndef DIALERD_DIAL_H
#define DIALERD_DIAL_H

/* Version of the libre the process runs with, for --version. */
const char *dial_libre_version(void);

#endif
