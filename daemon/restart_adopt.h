/* restart_adopt.h: the connected calls a killed process left up, taken up by the next start on its folder instead of ended */
#ifndef DIALERD_RESTART_ADOPT_H
#define DIALERD_RESTART_ADOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct call_layer;
struct dial;
struct restart_adopts;

/* A connected <Dial> among the calls the takeover found open: parent, its
 * child (open, or ended with the parent open: its end taken as the log
 * has it, the parent's leg alone taken up), each one's highest
 * status-callback SequenceNumber so far (-1: none), and the SIP messages
 * of both legs (any order of legs, each leg's in wire order, bodies as
 * stored). Added (the list is created at the
 * first) when both dialogs and both sides' SDP are in them and the
 * Contact dialerd gave both peers is sip_host:sip_port, where this process
 * listens. 0; ENOENT (a dialog or an SDP body is missing: call_log_bodies
 * none, a late offer still open), EALREADY (a BYE on the parent's leg,
 * or one dialerd sent on a child still open: the call was ending),
 * EADDRNOTAVAIL (the peers send to another address), EINVAL
 * (a URL the call log keeps with *** for its password), ERANGE, ENOMEM.
 * Nothing is added on error. */
int restart_adopts_add(struct restart_adopts **ap,
		       const struct store_open_call *parent, int64_t parent_cb,
		       const struct store_open_call *child, int64_t child_cb,
		       const struct store_sip_row *rows, size_t n,
		       const char *sip_host, uint16_t sip_port);
/* Is sid one of the calls added? NULL-safe. */
bool restart_adopts_has(const struct restart_adopts *a, const char *sid);
size_t restart_adopts_count(const struct restart_adopts *a);
/* Pair i (< count) as call_adopt and dial_adopt take it; every pointer
 * borrowed from the list. */
struct call_adopt;
struct dial_adopt;
void restart_adopts_get(const struct restart_adopts *a, size_t i,
			struct call_adopt *ca, struct dial_adopt *parent,
			struct dial_adopt *child);
/* As soon as the SIP engine (started with adopting set) runs: each
 * pair's two legs (dial_adopt), then dial_adopt_done; until then the
 * engine leaves requests in unknown dialogs unanswered. */
void restart_adopts_send(struct restart_adopts *a, struct dial *d);
/* Once the call layer runs, before its first event: the calls themselves
 * (call_adopt); a pair that cannot be rebuilt is hung up. Logs how many.
 * NULL-safe. */
void restart_adopts_calls(struct restart_adopts *a, struct call_layer *cl,
			  struct dial *d);
struct restart_adopts *restart_adopts_free(struct restart_adopts *a);

#endif
