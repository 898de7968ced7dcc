/* restart_bye.h: the dialogs a killed process left up, for the SIP engine to end with a BYE */
#ifndef DIALERD_RESTART_BYE_H
#define DIALERD_RESTART_BYE_H

#include <stdbool.h>
#include <stddef.h>

#include "dial/dial.h"
#include "store/store.h"

/* The dialog of leg sid among rows (the call log's SIP messages of its
 * call, any order of legs, each leg's in wire order): its first 2xx to an
 * INVITE, the INVITE it answered, the CSeq above every request this side
 * sent. Owned copies: restart_bye_dialog_free. 0; ENOENT (no answered
 * INVITE among them); EALREADY (a BYE was already sent or received: the
 * dialog ended before the kill); ERANGE (CSeq exhausted); ENOMEM. */
int restart_bye_dialog(struct dial_bye *b, const char *sid,
		       const struct store_sip_row *rows, size_t n);
/* The same, as the rows themselves: the INVITE and its 2xx among rows,
 * and the CSeq of this side's next request. Errors as above. */
int restart_bye_rows(const struct store_sip_row **invp,
		     const struct store_sip_row **okp, uint32_t *cseqp,
		     const char *sid, const struct store_sip_row *rows,
		     size_t n);
void restart_bye_dialog_free(struct dial_bye *b);

/* A list of them, from the start-up takeover to the SIP engine. */
struct restart_byes;
/* Adds the dialog of sid (created at the first); errors as above, nothing
 * added. root_sid: the call's (its rows' partition key). */
int restart_byes_add(struct restart_byes **bp, const char *sid,
		     const char *root_sid, const struct store_sip_row *rows,
		     size_t n);
/* The BYEs' messages are logged with their bodies as call_log_bodies. */
void restart_byes_bodies_set(struct restart_byes *b, int bodies);
/* A SIP engine event of one of the BYEs (the request sent, its answer):
 * a sip_messages row of the leg, after its last one; true. Any other
 * event: false. NULL-safe. */
bool restart_byes_event(struct restart_byes *b, struct store *s,
			const struct dial_event *ev);
size_t restart_byes_count(const struct restart_byes *b);
/* Queues a BYE for each (dial_bye); logs how many. NULL-safe. */
void restart_byes_send(struct restart_byes *b, struct dial *d);
struct restart_byes *restart_byes_free(struct restart_byes *b);

#endif
