/* config.c: the daemon's settings: a key = value file plus DIALERD_* environment overrides */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/stat.h>

#include "daemon/config.h"
#include "dial/dial.h"

enum ctype {
	C_STR,		/* any text */
	C_SECRET,	/* text never echoed in errors */
	C_ADDR,
	C_URL,		/* http:// or https:// */
	C_METHOD,	/* GET or POST */
	C_EVENTS,	/* status callback events, space-separated */
	C_UINT,
	C_BOOL,
	C_LEVEL,
	C_SID,		/* AC + 32 hex, or a SignalWire project UUID */
	C_NAME,		/* [A-Za-z0-9_-]{1,32} */
	C_PORTS,	/* LO-HI, a UDP port range (struct config_range) */
	C_LATCH,	/* strict or any (bool: any) */
	C_BODIES,	/* all, sdp or none (enum config_bodies) */
	C_DENY,		/* a destination deny list (dial_dest_check) */
};

struct ckey {
	const char *key;
	enum ctype type;
	size_t off;
	const char *def;
	unsigned min, max;	/* C_UINT range */
	const char *doc;
};

#define OFF(f) offsetof(struct config, f)

/* The one table of settings: defaults, checks, documentation, and the
 * environment name (DIALERD_ + the key in upper case). */
static const struct ckey keys[] = {
	{"database_url", C_SECRET, OFF(database_url), NULL, 0, 0,
	 "PostgreSQL URL (postgresql://user:pass@host:port/db); empty: no call log"},
	{"http_listen", C_ADDR, OFF(http_listen), "127.0.0.1:8080", 0, 0,
	 "REST API, /health and /metrics: numeric HOST:PORT or [V6]:PORT"},
	{"http_max_conns", C_UINT, OFF(http_max_conns), "512", 1, 65536,
	 "open HTTP connections; past it a new one is closed at once"},
	{"http_max_conns_per_source", C_UINT, OFF(http_max_conns_per_source),
	 "64", 1, 65536, "open HTTP connections from one address"},
	{"http_request_timeout_ms", C_UINT, OFF(http_request_timeout_ms),
	 "10000", 100, 600000, "an HTTP request must be complete this long "
	 "after its connection opened (or the previous reply); else closed"},
	{"sip_listen", C_ADDR, OFF(sip_listen), "127.0.0.1:5060", 0, 0,
	 "SIP UDP and TCP listener: numeric HOST:PORT or [V6]:PORT"},
	{"account_sid", C_SID, OFF(account_sid), NULL, 0, 0,
	 "account of the REST API and webhook signatures (AC + 32 hex, or a UUID)"},
	{"auth_token", C_SECRET, OFF(auth_token), NULL, 0, 0,
	 "REST Basic-auth password and webhook signing key"},
	{"voice_url", C_URL, OFF(voice_url), NULL, 0, 0,
	 "webhook fetched for inbound SIP calls"},
	{"voice_method", C_METHOD, OFF(voice_method), "POST", 0, 0,
	 "GET or POST: how voice_url (and its fallback) are requested"},
	{"voice_fallback_url", C_URL, OFF(voice_fallback_url), NULL, 0, 0,
	 "fetched once, with ErrorCode and ErrorUrl, when voice_url fails"},
	{"number_uri", C_STR, OFF(number_uri), NULL, 0, 0,
	 "<Dial><Number> goes to this SIP URI, {number} replaced "
	 "(e.g. sip:{number}@trunk.example); empty: <Number> is skipped (13224)"},
	{"status_callback", C_URL, OFF(status_callback), NULL, 0, 0,
	 "status callbacks of inbound calls (the parent leg)"},
	{"status_callback_method", C_METHOD, OFF(status_callback_method), "POST",
	 0, 0, "GET or POST"},
	{"status_callback_event", C_EVENTS, OFF(status_callback_event), "completed",
	 0, 0, "space-separated: initiated ringing answered completed"},
	{"log_level", C_LEVEL, OFF(log_level), "info", 0, 0,
	 "err, warning, notice, info or debug"},
	{"log_file", C_STR, OFF(log_file), NULL, 0, 0,
	 "log file (reopened on SIGHUP); empty: standard error"},
	{"instance", C_NAME, OFF(instance), "local", 0, 0,
	 "this daemon's name in the call log when several share a database"},
	{"instance_id", C_UINT, OFF(instance_id), "0", 0, 65535,
	 "this instance's id in every call SID (1-65535); 0: automatic "
	 "(from the instances registry, cached in data_dir)"},
	{"data_dir", C_STR, OFF(data_dir), "/var/lib/dialerd", 0, 0,
	 "directory for the write-ahead journal used while PostgreSQL is away"},
	{"auto_migrate", C_BOOL, OFF(auto_migrate), "true", 0, 0,
	 "apply pending migrations at start-up"},
	{"shutdown_timeout", C_UINT, OFF(shutdown_timeout), "30", 1, 3600,
	 "seconds SIGTERM waits for in-flight work before exiting"},
	{"store_batch_rows", C_UINT, OFF(store_batch_rows), "2000", 1, 1000000,
	 "call log: write a batch at this many rows ..."},
	{"store_flush_ms", C_UINT, OFF(store_flush_ms), "100", 1, 60000,
	 "... or this many milliseconds after the first queued row"},
	{"store_queue_max_bytes", C_UINT, OFF(store_queue_max_bytes), "67108864",
	 65536, 2147483647u,
	 "call log memory bound; past it rows go to the journal in data_dir"},
	{"store_journal_max_mb", C_UINT, OFF(store_journal_max_mb), "1024", 1,
	 1048576, "call log: the journal in data_dir may grow to this many MiB; "
	 "past it rows wait in memory, then are dropped and counted"},
	{"store_mirror_mb", C_UINT, OFF(store_mirror_mb), "80", 0, 4096,
	 "call log: rows not yet committed are also copied to a file of this "
	 "many MiB in data_dir, so that a killed process loses none; 0: off"},
	{"call_log_retention_days", C_UINT, OFF(call_log_retention_days), "0", 0,
	 36500, "call log: drop daily partitions older than this many days; "
	 "0 keeps everything"},
	{"call_log_bodies", C_BODIES, OFF(call_log_bodies), "sdp", 0, 0,
	 "call log: SIP message bodies kept in sip_messages (at most 8 KiB "
	 "each): all, sdp (application/sdp only) or none"},
	{"sip_max_inbound", C_UINT, OFF(sip_max_inbound), "1000", 1, 1000000,
	 "concurrent inbound calls; more INVITEs get 503 at once"},
	{"sip_max_legs", C_UINT, OFF(sip_max_legs), "10000", 1, 1000000,
	 "concurrent outgoing legs; more are refused at once"},
	{"sip_max_queue_delay_ms", C_UINT, OFF(sip_max_queue_delay_ms), "250", 1,
	 10000, "overload: while SIP datagrams, or the engine's events for "
	 "the loop, wait longer than this, new INVITEs get 503 (and new legs "
	 "are refused while the datagrams do)"},
	{"sip_max_tcp_conns", C_UINT, OFF(sip_max_tcp_conns), "2048", 1, 65536,
	 "accepted SIP TCP/TLS connections; past it a new one is closed"},
	{"sip_max_tcp_conns_per_source", C_UINT,
	 OFF(sip_max_tcp_conns_per_source), "64", 1, 65536,
	 "accepted SIP TCP/TLS connections from one address"},
	{"sip_tcp_first_msg_ms", C_UINT, OFF(sip_tcp_first_msg_ms), "10000", 100,
	 600000, "an accepted SIP TCP/TLS connection must deliver a complete "
	 "message this long after accept; else closed"},
	{"sip_media_addr", C_STR, OFF(sip_media_addr), NULL, 0, 0,
	 "address put in SDP offers and answers; empty: sip_listen's"},
	{"sip_tls_cert", C_STR, OFF(sip_tls_cert), NULL, 0, 0,
	 "PEM certificate and key: SIP over TLS on sip_listen's port + 1"},
	{"sip_tls_ca_file", C_STR, OFF(sip_tls_ca_file), NULL, 0, 0,
	 "CA file that TLS peers are verified against; empty: system store"},
	{"sip_tls_insecure", C_BOOL, OFF(sip_tls_insecure), "false", 0, 0,
	 "do not verify TLS peers (logged each time; for tests only)"},
	{"sip_rtp_ports", C_PORTS, OFF(sip_rtp_ports), "20000-29999", 1024, 65535,
	 "UDP ports of relayed media: each bridged leg takes an even RTP port and the next"},
	{"sip_rtp_latch", C_LATCH, OFF(sip_rtp_latch_any), "strict", 0, 0,
	 "relayed media: strict latches only sources at the far end's SDP address; any (NAT) latches any"},
	{"sip_deny_destinations", C_DENY, OFF(sip_deny_destinations),
	 DIAL_DENY_DEFAULT, 0, 0,
	 "<Sip> targets never called, checked on the address contacted after "
	 "DNS: self (our SIP listeners), CIDRs, addresses; empty: none"},
	{"realtime_priority", C_UINT, OFF(realtime_priority), "0", 0, 99,
	 "1-99: the SIP thread and the event loop run SCHED_RR at this "
	 "priority (needs CAP_SYS_NICE); 0: the default scheduling"},
	{"api_recent_seconds", C_UINT, OFF(api_recent_seconds), "60", 0, 3600,
	 "the REST API answers a call from memory this long after it ended"},
	{"sip_session_expires", C_UINT, OFF(sip_session_expires), "600", 90,
	 86400, "Session-Expires of <Sip> legs without sessionTimeout (RFC 4028)"},
	{"webhook_max_connections", C_UINT, OFF(webhook_max_connections), "256",
	 1, 65536, "webhooks: keep-alive connections kept open, all hosts together"},
	{"webhook_connect_timeout_ms", C_UINT, OFF(webhook_connect_timeout_ms),
	 "5000", 100, 60000, "webhooks: TCP and TLS connect limit (error 11205)"},
	{"webhook_timeout_ms", C_UINT, OFF(webhook_timeout_ms), "15000", 100,
	 600000, "webhooks: whole-request limit per redirect hop (error 11205)"},
	{"webhook_tls_ca_file", C_STR, OFF(webhook_tls_ca_file), NULL, 0, 0,
	 "CA file that https webhook servers are verified against; empty: system store"},
	{"webhook_tls_insecure", C_BOOL, OFF(webhook_tls_insecure), "false", 0, 0,
	 "do not verify https webhook servers (for tests only)"},
	{"webhook_user_agent", C_STR, OFF(webhook_user_agent), NULL, 0, 0,
	 "User-Agent of webhook requests; empty: TwilioProxy/1.1 dialerd/<version>"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int config_level_parse(const char *s, int *level)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{"err", LOG_ERR}, {"error", LOG_ERR}, {"warning", LOG_WARNING},
		{"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
		{"debug", LOG_DEBUG},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcasecmp(s, levels[i].name) == 0) {
			*level = levels[i].level;
			return 0;
		}
	}
	return EINVAL;
}

int config_parse_addr(struct config_addr *a, const char *s)
{
	const char *colon, *host = s;
	size_t hlen;
	char *end;
	unsigned long port;
	unsigned char buf[sizeof(struct in6_addr)];

	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
		a->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return EINVAL;	/* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - s);
		a->family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(a->host))
		return EINVAL;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	if (inet_pton(a->family, a->host, buf) != 1)
		return EINVAL;
	if (!isdigit((unsigned char)colon[1]))
		return EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return EINVAL;
	a->port = (uint16_t)port;
	return 0;
}

void config_addr_str(const struct config_addr *a, char *buf, size_t size)
{
	if (a->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a->host, a->port);
	else
		snprintf(buf, size, "%s:%u", a->host, a->port);
}

static bool is_sid(const char *s)
{
	size_t n = strlen(s);

	if (n == 34 && s[0] == 'A' && s[1] == 'C') {
		for (size_t i = 2; i < n; i++)
			if (!isxdigit((unsigned char)s[i]))
				return false;
		return true;
	}
	if (n == 36) {	/* 8-4-4-4-12 */
		for (size_t i = 0; i < n; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
				return false;
		}
		return true;
	}
	return false;
}

static bool is_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

static bool is_url(const char *s)
{
	const char *rest;

	if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (!*rest || *rest == '/')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool is_events(const char *v)
{
	static const char *const ok[] = {"initiated", "ringing", "answered",
					 "completed"};

	while (*v) {
		size_t n = strcspn(v, " ,"), i;

		for (i = 0; n && i < sizeof(ok) / sizeof(ok[0]); i++)
			if (strlen(ok[i]) == n && strncmp(v, ok[i], n) == 0)
				break;
		if (n && i == sizeof(ok) / sizeof(ok[0]))
			return false;
		v += n;
		v += strspn(v, " ,");
	}
	return true;
}

static int set_str(char **dst, const char *v)
{
	char *p = NULL;

	if (*v) {
		p = strdup(v);
		if (!p)
			return ENOMEM;
	}
	free(*dst);
	*dst = p;
	return 0;
}

/* The checked text settings: what they are and what they must look like. */
static const struct {
	const char *what, *expect;
} str_kinds[] = {
	[C_URL] = {"URL", "http:// or https:// and a host, no spaces"},
	[C_METHOD] = {"method", "GET or POST"},
	[C_EVENTS] = {"events", "some of initiated ringing answered completed"},
	[C_SID] = {"account SID", "AC + 32 hex digits or a UUID"},
	[C_NAME] = {"name", "1 to 32 of A-Z a-z 0-9 - _"},
};

/* Empty URLs and SIDs unset the setting; a name must be given. */
static bool str_valid(enum ctype t, const char *v)
{
	switch (t) {
	case C_URL:
		return !*v || is_url(v);
	case C_METHOD:
		return strcmp(v, "GET") == 0 || strcmp(v, "POST") == 0;
	case C_EVENTS:
		return is_events(v);
	case C_SID:
		return !*v || is_sid(v);
	default:
		return is_name(v);
	}
}

/* Applies one value; on failure writes why (without the value of secrets). */
static int apply(struct config *cfg, const struct ckey *k, const char *v,
		 char *why, size_t whysz)
{
	char *base = (char *)cfg;
	char *end;
	unsigned long n;

	switch (k->type) {
	case C_STR:
	case C_SECRET:
		if (strpbrk(v, "\r\n")) {
			snprintf(why, whysz, "must be a single line");
			return EINVAL;
		}
		return set_str((char **)(base + k->off), v);
	case C_URL:
	case C_METHOD:
	case C_EVENTS:
	case C_SID:
	case C_NAME:
		if (!str_valid(k->type, v)) {
			snprintf(why, whysz, "bad %s \"%s\": expected %s",
				 str_kinds[k->type].what, v, str_kinds[k->type].expect);
			return EINVAL;
		}
		return set_str((char **)(base + k->off), v);
	case C_ADDR:
		if (config_parse_addr((struct config_addr *)(base + k->off), v)) {
			snprintf(why, whysz,
				 "bad address \"%s\": expected a numeric HOST:PORT or [IPV6]:PORT", v);
			return EINVAL;
		}
		return 0;
	case C_UINT:
		errno = 0;
		n = strtoul(v, &end, 10);
		if (!isdigit((unsigned char)*v) || *end || errno || n < k->min ||
		    n > k->max) {
			snprintf(why, whysz, "bad number \"%s\": expected %u to %u",
				 v, k->min, k->max);
			return EINVAL;
		}
		*(unsigned *)(base + k->off) = (unsigned)n;
		return 0;
	case C_BOOL:
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
		    strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0) {
			*(bool *)(base + k->off) = true;
		} else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
			   strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0) {
			*(bool *)(base + k->off) = false;
		} else {
			snprintf(why, whysz, "bad boolean \"%s\": expected true or false", v);
			return EINVAL;
		}
		return 0;
	case C_PORTS: {
		struct config_range *r = (struct config_range *)(base + k->off);
		unsigned lo, hi;
		int used = 0;

		if (sscanf(v, "%u-%u%n", &lo, &hi, &used) != 2 || v[used] ||
		    !isdigit((unsigned char)*v) || lo < k->min || hi > k->max ||
		    lo + (lo & 1) + 1 > hi) {
			snprintf(why, whysz,
				 "bad port range \"%s\": expected LO-HI within %u-%u with room for an even port and the next",
				 v, k->min, k->max);
			return EINVAL;
		}
		r->min = lo;
		r->max = hi;
		return 0;
	}
	case C_LATCH:
		if (strcmp(v, "strict") && strcmp(v, "any")) {
			snprintf(why, whysz,
				 "bad latch mode \"%s\": expected strict or any", v);
			return EINVAL;
		}
		*(bool *)(base + k->off) = strcmp(v, "any") == 0;
		return 0;
	case C_BODIES: {
		static const char *const names[] = {
			[CONFIG_BODIES_SDP] = "sdp",
			[CONFIG_BODIES_ALL] = "all",
			[CONFIG_BODIES_NONE] = "none",
		};

		for (int i = 0; i < 3; i++) {
			if (strcmp(v, names[i]) == 0) {
				*(int *)(base + k->off) = i;
				return 0;
			}
		}
		snprintf(why, whysz,
			 "bad body setting \"%s\": expected all, sdp or none", v);
		return EINVAL;
	}
	case C_DENY: {
		char reason[160];

		if (dial_dest_check(v, reason, sizeof(reason))) {
			snprintf(why, whysz, "bad deny list entry %s", reason);
			return EINVAL;
		}
		return set_str((char **)(base + k->off), v);
	}
	case C_LEVEL:
		if (config_level_parse(v, (int *)(base + k->off))) {
			snprintf(why, whysz,
				 "bad level \"%s\": expected err, warning, notice, info or debug", v);
			return EINVAL;
		}
		return 0;
	}
	return EINVAL;
}

static const struct ckey *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, name) == 0)
			return &keys[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct config *cfg, const char *path, bool seen[NKEYS],
		     char *err, size_t errsz)
{
	char line[8192], why[512];
	unsigned lineno = 0;
	int e = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		e = errno;
		snprintf(err, errsz, "%s: cannot open: %s", path, strerror(e));
		return e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p, *eq, *name, *val;
		const struct ckey *k;
		size_t vlen;

		++lineno;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errsz, "%s:%u: line longer than %zu bytes",
				 path, lineno, sizeof(line) - 2);
			e = EINVAL;
			break;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errsz, "%s:%u: expected \"key = value\"", path, lineno);
			e = EINVAL;
			break;
		}
		*eq = '\0';
		name = trim(p);
		val = trim(eq + 1);
		vlen = strlen(val);
		if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
			val[vlen - 1] = '\0';
			val++;
		}
		k = find_key(name);
		if (!k) {
			snprintf(err, errsz, "%s:%u: unknown key \"%s\"", path, lineno, name);
			e = EINVAL;
			break;
		}
		if (seen[k - keys]) {
			snprintf(err, errsz, "%s:%u: key \"%s\" set twice", path, lineno, name);
			e = EINVAL;
			break;
		}
		seen[k - keys] = true;
		why[0] = '\0';
		e = apply(cfg, k, val, why, sizeof(why));
		if (e) {
			snprintf(err, errsz, "%s:%u: %s: %s", path, lineno, name, why);
			break;
		}
	}
	fclose(f);
	return e;
}

static void env_name(const struct ckey *k, char *buf, size_t size)
{
	size_t i;

	snprintf(buf, size, "DIALERD_%s", k->key);
	for (i = 8; buf[i]; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
}

int config_load(struct config *cfg, const char *path, char *err, size_t errsz)
{
	bool seen[NKEYS] = {false};
	char why[512], env[64];
	int e;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (!keys[i].def)
			continue;
		e = apply(cfg, &keys[i], keys[i].def, why, sizeof(why));
		if (e) {
			snprintf(err, errsz, "default of %s: %s", keys[i].key, why);
			goto out;
		}
	}
	if (path) {
		e = load_file(cfg, path, seen, err, errsz);
		if (e)
			goto out;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const char *v;

		env_name(&keys[i], env, sizeof(env));
		v = getenv(env);
		if (!v)
			continue;
		e = apply(cfg, &keys[i], v, why, sizeof(why));
		if (e) {
			snprintf(err, errsz, "environment %s: %s", env, why);
			goto out;
		}
	}
	e = 0;
 out:
	if (e)
		config_free(cfg);
	return e;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		switch (keys[i].type) {
		case C_STR:
		case C_SECRET:
		case C_URL:
		case C_METHOD:
		case C_EVENTS:
		case C_SID:
		case C_NAME:
		case C_DENY: {
			char **p = (char **)((char *)cfg + keys[i].off);

			free(*p);
			*p = NULL;
			break;
		}
		default:
			break;
		}
	}
}

/* password= in a key=value string, or user:password@ in a URL */
static bool url_has_password(const char *s)
{
	const char *p = strstr(s, "://"), *at;

	if (strstr(s, "password="))
		return true;
	if (!p)
		return false;
	p += 3;
	at = strchr(p, '@');
	return at && memchr(p, ':', (size_t)(at - p)) != NULL;
}

int config_file_exposed(const char *path, const struct config *cfg,
			char *msg, size_t size)
{
	struct stat st;
	FILE *f;
	char line[512];
	bool secret = false;

	(void)cfg;
	if (!path || stat(path, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* only a file that sets a secret itself matters: a secret key (the
	 * database URL only with a password in it), or a URL key with
	 * user:password@ (Basic credentials of a webhook) */
	while (!secret && fgets(line, sizeof(line), f)) {
		const char *k = line + strspn(line, " \t");
		size_t n = strspn(k, "abcdefghijklmnopqrstuvwxyz_0123456789");
		const struct ckey *ck;
		char name[64];

		if (n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, k, n);
		name[n] = '\0';
		ck = find_key(name);
		if (!ck)
			continue;
		if (ck->type == C_SECRET && ck->off != OFF(database_url))
			secret = true;
		else if (ck->type == C_SECRET || ck->type == C_URL)
			secret = url_has_password(k + n);
	}
	fclose(f);
	if (!secret)
		return 0;
	snprintf(msg, size, "%s holds a secret and is readable by %s (mode %03o): "
		 "chmod 600 it", path, st.st_mode & S_IROTH ? "everyone" : "its group",
		 (unsigned)(st.st_mode & 0777));
	return 1;
}

void config_print_defaults(void)
{
	char env[64];

	printf("# dialerd configuration: key = value, one per line; '#' starts a comment line.\n"
	       "# Every key may be overridden by its environment variable.\n");
	for (size_t i = 0; i < NKEYS; i++) {
		env_name(&keys[i], env, sizeof(env));
		printf("\n# %s (%s)\n%s%s = %s\n", keys[i].doc, env,
		       keys[i].def ? "" : "# ", keys[i].key,
		       keys[i].def ? keys[i].def : "");
	}
}
