/* log.c: dial_log and its handler (libre's own messages included); names of ends and events */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "dial/internal.h"

#define DEBUG_MODULE "dial"
#define DEBUG_LEVEL 5
#include <re_dbg.h>

static dial_log_h *log_h;
static void *log_arg;

static void dbg_print(int level, const char *p, size_t len, void *arg)
{
	char buf[512];

	(void)arg;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	dial_log(level, "libre: %s", buf);
}

void dial_log_handler_set(dial_log_h *h, void *arg)
{
	log_h = h;
	log_arg = arg;
	dbg_handler_set(dbg_print, NULL);
}

void dial_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	re_vsnprintf(buf, sizeof(buf), fmt, ap);	/* %J, %r, %m too */
	va_end(ap);
	if (log_h)
		log_h(level, buf, log_arg);
	else if (level <= LOG_WARNING)
		fprintf(stderr, "dial: %s\n", buf);
}

const char *dial_end_name(enum dial_end e)
{
	switch (e) {
	case DIAL_END_COMPLETED: return "completed";
	case DIAL_END_BUSY: return "busy";
	case DIAL_END_NO_ANSWER: return "no-answer";
	case DIAL_END_FAILED: return "failed";
	case DIAL_END_CANCELED: return "canceled";
	default: return "none";
	}
}

const char *dial_ev_name(enum dial_ev_type t)
{
	switch (t) {
	case DIAL_EV_SIP: return "sip";
	case DIAL_EV_PROGRESS: return "progress";
	case DIAL_EV_ANSWERED: return "answered";
	case DIAL_EV_ENDED: return "ended";
	case DIAL_EV_INBOUND: return "inbound";
	case DIAL_EV_REFRESHED: return "refreshed";
	case DIAL_EV_BRIDGED: return "bridged";
	case DIAL_EV_ADOPTED: return "adopted";
	default: return "?";
	}
}
