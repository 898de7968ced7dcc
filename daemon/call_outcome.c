/* call_outcome.c: a leg's SIP result -> Twilio's status, and a <Dial>'s
 *
 * No vendor publishes the table; this is the project's decision, written
 * so that applications see what carriers mean: 486/600 and 603 (carriers
 * send Decline for a callee who rejects) read busy; 408, 480 and a 487
 * the far end sent on its own (a proxy's ring timer) read no-answer, like
 * our own <Dial timeout>; a CANCEL because the caller or the API ended the
 * call reads canceled; everything else, 401/407 after the one digest
 * retry included, reads failed.
 */
#include <stddef.h>

#include "daemon/call.h"

static const char *const names[] = {
	[CALL_QUEUED] = "queued",
	[CALL_INITIATED] = "initiated",
	[CALL_RINGING] = "ringing",
	[CALL_IN_PROGRESS] = "in-progress",
	[CALL_COMPLETED] = "completed",
	[CALL_BUSY] = "busy",
	[CALL_FAILED] = "failed",
	[CALL_NO_ANSWER] = "no-answer",
	[CALL_CANCELED] = "canceled",
};

const char *call_status_name(enum call_status st)
{
	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "failed";
}

bool call_status_final(enum call_status st)
{
	return st >= CALL_COMPLETED;
}

enum call_status call_outcome(const struct call_result *r)
{
	if (r->answered)
		return CALL_COMPLETED;
	switch (r->cause) {
	case CALL_CAUSE_TIMEOUT:
		return CALL_NO_ANSWER;
	case CALL_CAUSE_CANCELED:
	case CALL_CAUSE_ELSEWHERE:
		return CALL_CANCELED;
	case CALL_CAUSE_NONE:
		break;
	}
	switch (r->code) {
	case 486:
	case 600:
	case 603:
		return CALL_BUSY;
	case 408:
	case 480:
	case 487:	/* without a CANCEL of ours: the far end stopped ringing */
		return CALL_NO_ANSWER;
	default:
		return CALL_FAILED;	/* any other code, or none (timer B, transport) */
	}
}

enum call_status call_outcome_dial(const enum call_status *b, size_t n,
				   bool canceled)
{
	bool all_busy = n > 0, any_no_answer = false;

	for (size_t i = 0; i < n; i++)
		if (b[i] == CALL_COMPLETED || b[i] == CALL_IN_PROGRESS)
			return CALL_COMPLETED;
	if (canceled)
		return CALL_CANCELED;
	for (size_t i = 0; i < n; i++) {
		all_busy = all_busy && b[i] == CALL_BUSY;
		any_no_answer = any_no_answer || b[i] == CALL_NO_ANSWER;
	}
	if (all_busy)
		return CALL_BUSY;
	return any_no_answer ? CALL_NO_ANSWER : CALL_FAILED;
}
