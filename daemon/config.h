/* config.h: the daemon's settings: a key = value file plus DIALERD_* environment overrides */
#ifndef DIALERD_CONFIG_H
#define DIALERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_addr {
	char host[64];		/* numeric IPv4 or IPv6, no brackets */
	uint16_t port;
	int family;		/* AF_INET or AF_INET6 */
};

struct config_range {
	unsigned min, max;
};

/* call_log_bodies: which SIP message bodies sip_messages keeps */
enum config_bodies {
	CONFIG_BODIES_SDP = 0,	/* application/sdp ones (the default) */
	CONFIG_BODIES_ALL,	/* every body */
	CONFIG_BODIES_NONE,	/* none */
};

struct config {
	char *database_url;
	struct config_addr http_listen;
	unsigned http_max_conns;	/* open REST/metrics connections */
	unsigned http_max_conns_per_source;	/* ... from one address */
	unsigned http_request_timeout_ms;	/* to a complete request */
	struct config_addr sip_listen;
	char *account_sid;
	char *auth_token;
	char *voice_url;
	int log_level;		/* syslog level: LOG_ERR .. LOG_DEBUG */
	char *log_file;		/* NULL: standard error */
	char *instance;
	unsigned instance_id;		/* 1..65535 in SIDs; 0: automatic */
	char *data_dir;
	bool auto_migrate;
	unsigned shutdown_timeout;	/* seconds to finish in-flight work */
	unsigned store_batch_rows;	/* call log batch size */
	unsigned store_flush_ms;	/* call log flush interval */
	unsigned store_queue_max_bytes;	/* call log memory bound */
	unsigned store_journal_max_mb;	/* call log journal file cap */
	unsigned store_mirror_mb;	/* the queue's mirror; 0: none */
	unsigned call_log_retention_days;	/* 0: keep every day */
	int call_log_bodies;		/* enum config_bodies */
	unsigned sip_max_inbound;	/* concurrent inbound calls; 503 past */
	unsigned sip_max_legs;		/* concurrent outgoing legs */
	unsigned sip_max_queue_delay_ms;	/* overload bound */
	unsigned sip_max_tcp_conns;	/* accepted SIP TCP/TLS connections */
	unsigned sip_max_tcp_conns_per_source;	/* ... from one address */
	unsigned sip_tcp_first_msg_ms;	/* accept to a first whole message */
	char *sip_media_addr;		/* SDP address; NULL: sip_listen's */
	char *sip_tls_cert;		/* PEM cert+key: TLS on sip port + 1 */
	char *sip_tls_ca_file;		/* NULL: the system CA store */
	char *sip_deny_destinations;	/* NULL: none denied */
	bool sip_tls_insecure;		/* no TLS peer verification */
	struct config_range sip_rtp_ports;	/* relayed media's UDP ports */
	bool sip_rtp_latch_any;		/* latch any source, not only the SDP's */
	unsigned sip_session_expires;	/* <Sip sessionTimeout> default */
	unsigned realtime_priority;	/* SCHED_RR of SIP thread + loop; 0: off */
	unsigned api_recent_seconds;	/* ended calls kept in memory */
	char *voice_method;		/* GET or POST */
	char *voice_fallback_url;
	char *number_uri;		/* <Number>: sip:{number}@trunk */
	char *status_callback;		/* inbound calls' own callbacks */
	char *status_callback_method;
	char *status_callback_event;
	unsigned webhook_max_connections;	/* keep-alive pool */
	unsigned webhook_connect_timeout_ms;
	unsigned webhook_timeout_ms;	/* whole request, per redirect hop */
	char *webhook_tls_ca_file;	/* NULL: the system CA store */
	bool webhook_tls_insecure;	/* no TLS peer verification */
	char *webhook_user_agent;	/* NULL: TwilioProxy/1.1 dialerd/<version> */
};

/* Fills cfg with defaults, then the file (when path is not NULL), then the
 * environment. On failure returns EINVAL (or the errno of opening the file)
 * and writes one line naming the key and where it came from into err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errsz);
void config_free(struct config *cfg);

/* A configuration file that sets a secret (auth_token, any other secret
 * key, a database or webhook URL with a password) must not be readable by
 * group or others: 1 and one line in msg (without the secret) when it is,
 * else 0. */
int config_file_exposed(const char *path, const struct config *cfg,
			char *msg, size_t size);

/* Parses "HOST:PORT" or "[V6]:PORT" with a numeric host. 0 or EINVAL. */
int config_parse_addr(struct config_addr *a, const char *s);
/* Writes "127.0.0.1:8080" or "[::1]:8080". */
void config_addr_str(const struct config_addr *a, char *buf, size_t size);

/* Syslog level from its name ("debug", "info", "notice", "warning", "err"). */
int config_level_parse(const char *s, int *level);

/* Writes the documented default configuration file to stdout. */
void config_print_defaults(void);

#endif
