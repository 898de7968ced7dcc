/* sip.h: the daemon's side of the SIP engine: started on sip_listen, its events read in the libevent loop */
#ifndef DIALERD_SIP_H
#define DIALERD_SIP_H

#include <stdbool.h>

struct config;
struct dial;
struct dial_event;
struct event_base;
struct sip_server;

/* Receives every engine event in the main thread; the event is lent for
 * the call (sip_server frees it). Return true when the event was handled
 * (for DIAL_EV_INBOUND: the call will be rung, answered or rejected). */
typedef bool (sip_event_h)(const struct dial_event *ev, void *arg);

/* Starts the SIP engine on cfg->sip_listen and watches its event
 * descriptor on base. adopting: dialogs will be adopted at once
 * (dial_conf.adopting; dial_adopt_done ends it). 0, or the errno of
 * dial_alloc (logged). */
int sip_server_start(struct sip_server **sp, struct event_base *base,
		     const struct config *cfg, bool adopting);

/* Ends every leg and stops the engine. NULL-safe; returns NULL. */
struct sip_server *sip_server_stop(struct sip_server *s);

/* Sets the handler that the call layer installs; without one, inbound
 * calls are rejected with 480 (nothing would answer them). */
void sip_server_handler_set(struct sip_server *s, sip_event_h *h, void *arg);

/* The engine, for commands (dial_leg_start...). Main thread. */
struct dial *sip_server_dial(const struct sip_server *s);

/* server_busy_h: legs are still up (shutdown waits for them). */
bool sip_server_busy(void *arg);

#endif
