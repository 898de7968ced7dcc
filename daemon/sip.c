/* sip.c: the daemon's side of the SIP engine: started on sip_listen, its events read in the libevent loop */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/sip.h"
#include "dial/dial.h"

/* at most this many events per wake-up, so one busy engine cannot starve
 * the HTTP server and the database in the same loop */
enum { EVENTS_PER_WAKE = 512 };

struct sip_server {
	struct dial *dial;
	struct event *ev;
	sip_event_h *h;
	void *arg;
};

static void on_dial_log(int level, const char *msg, void *arg)
{
	(void)arg;
	log_write(level, "sip", NULL, "%s", msg);
}

static void log_event(const struct dial_event *ev)
{
	switch (ev->type) {
	case DIAL_EV_SIP:
		log_write(LOG_DEBUG, "sip", ev->leg_id, "%s %s", ev->dir ==
			  DIAL_DIR_TX ? "sent" : "received",
			  ev->start_line ? ev->start_line : "");
		break;
	case DIAL_EV_ENDED:
		log_write(LOG_INFO, "sip", ev->leg_id,
			  "ended: %s code=%u%s%s%s", dial_end_name(ev->end),
			  ev->code, ev->local ? " by us" : "",
			  ev->err ? " error=" : "",
			  ev->err ? strerror(ev->err) : "");
		if (ev->media.relayed)
			log_write(LOG_INFO, "sip", ev->leg_id,
				  "media: peer %s%s, from it rtp %llu/%llu B "
				  "rtcp %llu/%llu B, to it rtp %llu/%llu B "
				  "rtcp %llu/%llu B, dropped %llu%s%s",
				  ev->media.peer[0] ? ev->media.peer : "-",
				  ev->media.latched ? " (latched)" : "",
				  (unsigned long long)ev->media.rx_rtp_pkts,
				  (unsigned long long)ev->media.rx_rtp_bytes,
				  (unsigned long long)ev->media.rx_rtcp_pkts,
				  (unsigned long long)ev->media.rx_rtcp_bytes,
				  (unsigned long long)ev->media.tx_rtp_pkts,
				  (unsigned long long)ev->media.tx_rtp_bytes,
				  (unsigned long long)ev->media.tx_rtcp_pkts,
				  (unsigned long long)ev->media.tx_rtcp_bytes,
				  (unsigned long long)ev->media.dropped,
				  ev->bridged[0] ? ", bridged to " : "",
				  ev->bridged);
		break;
	case DIAL_EV_INBOUND:
		log_write(LOG_INFO, "sip", ev->leg_id, "inbound call %s from %s",
			  ev->call_id ? ev->call_id : "",
			  ev->from ? ev->from : "");
		break;
	default:
		/* progress, answer, bridge: the call log has each as an
		 * event; at info a call costs its first and last lines only */
		log_write(LOG_DEBUG, "sip", ev->leg_id, "%s %u",
			  dial_ev_name(ev->type), ev->code);
		break;
	}
}

static void on_events(evutil_socket_t fd, short what, void *arg)
{
	struct sip_server *s = arg;
	struct dial_event *ev;
	int n = 0;

	(void)fd;
	(void)what;
	while (n++ < EVENTS_PER_WAKE && (ev = dial_event_next(s->dial))) {
		bool handled = false;

		log_event(ev);
		if (s->h)
			handled = s->h(ev, s->arg);
		if (ev->type == DIAL_EV_INBOUND && !handled) {
			struct dial_reason r = {true, "SIP", 480,
						"No application"};

			(void)dial_inbound_reject(s->dial, ev->leg_id, 480, &r);
		}
		dial_event_free(ev);
	}
}

static const struct {
	const char *name;
	enum metrics_type type;
	const char *help;
} families[] = {
	{"dialerd_sip_legs_started_total", METRICS_COUNTER,
	 "outgoing SIP legs started"},
	{"dialerd_sip_inbound_total", METRICS_COUNTER,
	 "inbound INVITEs admitted as calls"},
	{"dialerd_sip_legs_ended_total", METRICS_COUNTER,
	 "legs (both directions) ended"},
	{"dialerd_sip_shed_total", METRICS_COUNTER,
	 "new calls refused at once, by reason: max_inbound / max_legs "
	 "(limit), queueing delay past sip_max_queue_delay_ms (overload)"},
	{"dialerd_sip_overloads_total", METRICS_COUNTER,
	 "times the SIP queueing delay crossed sip_max_queue_delay_ms"},
	{"dialerd_sip_overload_filters_total", METRICS_COUNTER,
	 "times the SIP UDP buffer was 3/4 full and INVITEs were dropped in "
	 "the kernel"},
	{"dialerd_sip_shedding", METRICS_GAUGE,
	 "1 while new calls are shed for overload (INVITEs get 503, REST "
	 "creates are refused), else 0"},
	{"dialerd_sip_udp_drops_total", METRICS_COUNTER,
	 "SIP datagrams the kernel dropped for a full receive buffer"},
	{"dialerd_sip_queue_delay_seconds", METRICS_GAUGE,
	 "latest queueing delay of a SIP datagram in the kernel"},
	{"dialerd_sip_event_wait_seconds", METRICS_GAUGE,
	 "latest wait of the oldest SIP engine event the daemon's loop had "
	 "not taken"},
	{"dialerd_sip_messages_total", METRICS_COUNTER,
	 "SIP messages, by direction"},
	{"dialerd_sip_events_dropped_total", METRICS_COUNTER,
	 "SIP message copies dropped because the event queue was full"},
	{"dialerd_sip_tcp_connections", METRICS_GAUGE,
	 "accepted SIP TCP/TLS connections open"},
	{"dialerd_sip_rtp_pairs_idle", METRICS_GAUGE,
	 "relay RTP/RTCP socket pairs open and idle, kept for the next legs "
	 "(as of the SIP thread's last sweep)"},
	{"dialerd_sip_rtp_pairs_total", METRICS_COUNTER,
	 "relay RTP/RTCP socket pairs given to legs, by how: opened (a new "
	 "pair bound) or reused (an idle pair taken again)"},
	{"dialerd_sip_rtp_idle_dropped_total", METRICS_COUNTER,
	 "datagrams that reached an idle relay pair and were dropped (late "
	 "media of an ended call, or a stranger's)"},
	{"dialerd_sip_rtp_pairs_refused_total", METRICS_COUNTER,
	 "legs refused a relay pair at once: the port range was found full "
	 "less than 100 ms before"},
	{"dialerd_sip_tcp_closed_total", METRICS_COUNTER,
	 "accepted SIP TCP/TLS connections closed by us, by reason: limit "
	 "(sip_max_tcp_conns), source_limit (per address), first_message "
	 "(sip_tcp_first_msg_ms)"},
	{"dialerd_sip_restart_byes_total", METRICS_COUNTER,
	 "BYEs to the dialogs of answered calls a dead process left up "
	 "(sent by the next start on its folder), by result: answered (2xx) "
	 "or failed"},
};

/* Each counter of struct dial_stats and the series it feeds. */
static const struct {
	const char *name;
	const char *labels;
	size_t off;
} counters[] = {
#define C(n, l, f) {n, l, offsetof(struct dial_stats, f)}
	C("dialerd_sip_legs_started_total", NULL, legs_started),
	C("dialerd_sip_inbound_total", NULL, inbound),
	C("dialerd_sip_legs_ended_total", NULL, legs_ended),
	C("dialerd_sip_shed_total", "direction=\"inbound\",reason=\"limit\"",
	  inbound_rejected_busy),
	C("dialerd_sip_shed_total", "direction=\"inbound\",reason=\"overload\"",
	  inbound_shed),
	C("dialerd_sip_shed_total", "direction=\"outbound\",reason=\"limit\"",
	  legs_refused),
	C("dialerd_sip_shed_total", "direction=\"outbound\",reason=\"overload\"",
	  legs_shed),
	C("dialerd_sip_overloads_total", NULL, overloads),
	C("dialerd_sip_overload_filters_total", NULL, overload_filters),
	C("dialerd_sip_udp_drops_total", NULL, udp_drops),
	C("dialerd_sip_messages_total", "direction=\"rx\"", msgs_rx),
	C("dialerd_sip_messages_total", "direction=\"tx\"", msgs_tx),
	C("dialerd_sip_events_dropped_total", NULL, events_dropped),
	C("dialerd_sip_tcp_closed_total", "reason=\"limit\"", tcp_refused),
	C("dialerd_sip_tcp_closed_total", "reason=\"source_limit\"",
	  tcp_src_refused),
	C("dialerd_sip_tcp_closed_total", "reason=\"first_message\"",
	  tcp_slow),
	C("dialerd_sip_rtp_pairs_total", "how=\"opened\"", rtp_pairs_opened),
	C("dialerd_sip_rtp_pairs_total", "how=\"reused\"", rtp_pairs_reused),
	C("dialerd_sip_rtp_idle_dropped_total", NULL, rtp_idle_dropped),
	C("dialerd_sip_rtp_pairs_refused_total", NULL, rtp_refused_full),
	C("dialerd_sip_restart_byes_total", "result=\"answered\"", byes_answered),
	C("dialerd_sip_restart_byes_total", "result=\"failed\"", byes_failed),
#undef C
};

static void collect(void *arg)
{
	struct sip_server *s = arg;
	struct dial_stats st;

	dial_stats_get(s->dial, &st);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		uint64_t v;

		memcpy(&v, (const char *)&st + counters[i].off, sizeof(v));
		metrics_set(counters[i].name, counters[i].labels, (double)v);
	}
	metrics_set("dialerd_sip_shedding", NULL, st.shedding ? 1 : 0);
	metrics_set("dialerd_sip_queue_delay_seconds", NULL,
		    (double)st.queue_delay_us / 1e6);
	metrics_set("dialerd_sip_event_wait_seconds", NULL,
		    (double)st.event_wait_us / 1e6);
	metrics_set("dialerd_sip_tcp_connections", NULL, (double)st.tcp_conns);
	metrics_set("dialerd_sip_rtp_pairs_idle", NULL,
		    (double)st.rtp_pairs_idle);
}

int sip_server_start(struct sip_server **sp, struct event_base *base,
		     const struct config *cfg, bool adopting)
{
	struct sip_server *s;
	struct dial_conf dc;
	char listen[96];
	int err;

	if (!sp || !base || !cfg)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	dial_log_handler_set(on_dial_log, NULL);
	config_addr_str(&cfg->sip_listen, listen, sizeof(listen));
	memset(&dc, 0, sizeof(dc));
	dc.listen = listen;
	dc.user_agent = "dialerd";
	dc.max_inbound = cfg->sip_max_inbound;
	dc.max_legs = cfg->sip_max_legs;
	dc.max_queue_delay_ms = cfg->sip_max_queue_delay_ms;
	dc.max_tcp_conns = cfg->sip_max_tcp_conns;
	dc.max_tcp_conns_per_source = cfg->sip_max_tcp_conns_per_source;
	dc.tcp_first_msg_ms = cfg->sip_tcp_first_msg_ms;
	dc.media_addr = cfg->sip_media_addr;
	dc.rtp_port_min = (uint16_t)cfg->sip_rtp_ports.min;
	dc.rtp_port_max = (uint16_t)cfg->sip_rtp_ports.max;
	dc.rtp_latch_any = cfg->sip_rtp_latch_any;
	dc.adopting = adopting;
	dc.tls_cert = cfg->sip_tls_cert;
	dc.tls_ca_file = cfg->sip_tls_ca_file;
	dc.tls_insecure = cfg->sip_tls_insecure;
	/* NULL here: the operator emptied the list */
	dc.deny_destinations = cfg->sip_deny_destinations ?
			       cfg->sip_deny_destinations : "";
	err = dial_alloc(&s->dial, &dc);
	if (err) {
		log_msg(LOG_ERR, "sip", "cannot start the SIP engine on %s: %s",
			listen, strerror(err));
		free(s);
		return err;
	}
	s->ev = event_new(base, dial_event_fd(s->dial), EV_READ | EV_PERSIST,
			  on_events, s);
	if (!s->ev || event_add(s->ev, NULL)) {
		sip_server_stop(s);
		return ENOMEM;
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		metrics_family(families[i].name, families[i].type,
			       families[i].help);
	metrics_collector_add(collect, s);
	*sp = s;
	return 0;
}

struct sip_server *sip_server_stop(struct sip_server *s)
{
	if (!s)
		return NULL;
	metrics_collector_remove(collect, s);
	if (s->ev)
		event_free(s->ev);
	s->dial = dial_free(s->dial);
	free(s);
	return NULL;
}

void sip_server_handler_set(struct sip_server *s, sip_event_h *h, void *arg)
{
	if (!s)
		return;
	s->h = h;
	s->arg = arg;
}

struct dial *sip_server_dial(const struct sip_server *s)
{
	return s ? s->dial : NULL;
}

bool sip_server_busy(void *arg)
{
	struct sip_server *s = arg;
	struct dial_stats st;

	if (!s)
		return false;
	dial_stats_get(s->dial, &st);
	return st.legs_started + st.inbound > st.legs_ended;
}
