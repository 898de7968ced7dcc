/* test_config.c: configuration file and environment parsing, good and bad */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tests/tap.h"

static char path[] = "/tmp/dialerd-test-config-XXXXXX";

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Loads text and expects failure with an error that contains want. */
static void bad(const char *text, const char *want, const char *name)
{
	struct config cfg;
	char err[600] = "";
	int e;

	write_conf(text);
	e = config_load(&cfg, path, err, sizeof(err));
	ok(e != 0, "%s: refused", name);
	if (!ok(strstr(err, want) != NULL, "%s: error names %s", name, want))
		diag("error was: %s", err);
}

static void test_defaults(void)
{
	struct config cfg;
	char err[600], buf[96];

	is_int(config_load(&cfg, NULL, err, sizeof(err)), 0, "defaults load");
	config_addr_str(&cfg.http_listen, buf, sizeof(buf));
	is_str(buf, "127.0.0.1:8080", "http_listen default");
	config_addr_str(&cfg.sip_listen, buf, sizeof(buf));
	is_str(buf, "127.0.0.1:5060", "sip_listen default");
	is_int(cfg.log_level, LOG_INFO, "log_level default");
	is_str(cfg.instance, "local", "instance default");
	ok(cfg.database_url == NULL, "no database by default");
	ok(cfg.auto_migrate, "auto_migrate default true");
	is_int(cfg.shutdown_timeout, 30, "shutdown_timeout default");
	config_free(&cfg);
}

static void test_file(void)
{
	struct config cfg;
	char err[600], buf[96];

	write_conf("# comment\n"
		   "\n"
		   "  http_listen = [::1]:9090  \n"
		   "sip_listen=127.0.0.2:5070\n"
		   "account_sid = AC0123456789abcdef0123456789abcdef\n"
		   "auth_token = \" spaced token \"\n"
		   "voice_url = https://example.test/voice?x=1#ot=2000\n"
		   "log_level = debug\n"
		   "instance = node-1\n"
		   "auto_migrate = false\n"
		   "shutdown_timeout = 5\n"
		   "database_url = postgresql://u:p@127.0.0.1:5432/db\n");
	if (!is_int(config_load(&cfg, path, err, sizeof(err)), 0, "file loads"))
		diag("%s", err);
	config_addr_str(&cfg.http_listen, buf, sizeof(buf));
	is_str(buf, "[::1]:9090", "IPv6 listen address");
	is_int(cfg.http_listen.family, AF_INET6, "IPv6 family");
	is_int(cfg.sip_listen.port, 5070, "sip port");
	is_str(cfg.account_sid, "AC0123456789abcdef0123456789abcdef", "account sid");
	is_str(cfg.auth_token, " spaced token ", "quotes keep spaces");
	is_str(cfg.voice_url, "https://example.test/voice?x=1#ot=2000",
	       "'#' inside a value is not a comment");
	is_int(cfg.log_level, LOG_DEBUG, "level debug");
	is_str(cfg.instance, "node-1", "instance");
	ok(!cfg.auto_migrate, "auto_migrate false");
	is_int(cfg.shutdown_timeout, 5, "shutdown_timeout");
	is_str(cfg.database_url, "postgresql://u:p@127.0.0.1:5432/db", "database_url");
	config_free(&cfg);
}

static void test_env(void)
{
	struct config cfg;
	char err[600];

	write_conf("http_listen = 127.0.0.1:9000\nlog_level = err\n");
	setenv("DIALERD_HTTP_LISTEN", "127.0.0.1:9001", 1);
	setenv("DIALERD_ACCOUNT_SID", "0a1b2c3d-0000-4000-8000-00000000abcd", 1);
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "env loads");
	is_int(cfg.http_listen.port, 9001, "environment overrides the file");
	is_int(cfg.log_level, LOG_ERR, "file value kept where env is silent");
	is_str(cfg.account_sid, "0a1b2c3d-0000-4000-8000-00000000abcd",
	       "a SignalWire project UUID is an account SID");
	config_free(&cfg);

	setenv("DIALERD_SIP_LISTEN", "nonsense", 1);
	ok(config_load(&cfg, path, err, sizeof(err)) != 0, "bad env refused");
	ok(strstr(err, "DIALERD_SIP_LISTEN") && strstr(err, "bad address"),
	   "error names the variable: %s", err);
	unsetenv("DIALERD_SIP_LISTEN");
	setenv("DIALERD_AUTH_TOKEN", "line1\nline2", 1);
	ok(config_load(&cfg, path, err, sizeof(err)) != 0, "multi-line secret refused");
	ok(strstr(err, "line1") == NULL, "a secret's value is not echoed");
	unsetenv("DIALERD_AUTH_TOKEN");
	unsetenv("DIALERD_HTTP_LISTEN");
	unsetenv("DIALERD_ACCOUNT_SID");
}

static void test_bad(void)
{
	struct config cfg;
	char err[600];

	bad("htp_listen = 127.0.0.1:1\n", ":1: unknown key \"htp_listen\"", "unknown key");
	bad("\n\nlog_level = loud\n", ":3: log_level: bad level", "bad level");
	bad("http_listen = localhost:80\n", "http_listen: bad address", "host name");
	bad("http_listen = 127.0.0.1\n", "bad address", "no port");
	bad("http_listen = 127.0.0.1:0\n", "bad address", "port 0");
	bad("http_listen = 127.0.0.1:65536\n", "bad address", "port too big");
	bad("http_listen = ::1:80\n", "bad address", "IPv6 without brackets");
	bad("http_listen = 999.1.1.1:80\n", "bad address", "bad IPv4");
	bad("shutdown_timeout = 0\n", "expected 1 to 3600", "below range");
	bad("shutdown_timeout = 12s\n", "bad number", "trailing garbage");
	bad("shutdown_timeout = -1\n", "bad number", "negative");
	bad("auto_migrate = maybe\n", "bad boolean", "bad boolean");
	bad("account_sid = AC123\n", "bad account SID", "short SID");
	bad("voice_url = ftp://x/y\n", "bad URL", "not http");
	bad("voice_url = http:///path\n", "bad URL", "no host");
	bad("instance = has space\n", "bad name", "bad instance");
	bad("just words\n", "expected \"key = value\"", "no equals sign");
	bad("log_level = info\nlog_level = debug\n", ":2: key \"log_level\" set twice",
	    "duplicate key");
	ok(config_load(&cfg, "/nonexistent/dialerd.conf", err, sizeof(err)) != 0,
	   "missing file refused");
	ok(strstr(err, "cannot open") != NULL, "missing file: %s", err);
	{
		char *big = malloc(10000);

		memset(big, 'a', 9999);
		big[9999] = '\0';
		memcpy(big, "instance=", 9);
		bad(big, "line longer than", "overlong line");
		free(big);
	}
}

/* sip_rtp_ports: a range, default, file, environment, bad values */
static void test_rtp_ports(void)
{
	struct config cfg;
	char err[600];

	is_int(config_load(&cfg, NULL, err, sizeof(err)), 0, "defaults load");
	ok(cfg.sip_rtp_ports.min == 20000 && cfg.sip_rtp_ports.max == 29999,
	   "sip_rtp_ports default 20000-29999");
	config_free(&cfg);
	write_conf("sip_rtp_ports = 40000-40099\n");
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "range in file");
	ok(cfg.sip_rtp_ports.min == 40000 && cfg.sip_rtp_ports.max == 40099,
	   "sip_rtp_ports from the file");
	config_free(&cfg);
	setenv("DIALERD_SIP_RTP_PORTS", "30001-30003", 1);
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "range in env");
	ok(cfg.sip_rtp_ports.min == 30001 && cfg.sip_rtp_ports.max == 30003,
	   "DIALERD_SIP_RTP_PORTS overrides the file");
	config_free(&cfg);
	setenv("DIALERD_SIP_RTP_PORTS", "30000", 1);
	ok(config_load(&cfg, path, err, sizeof(err)) != 0 &&
	   strstr(err, "DIALERD_SIP_RTP_PORTS") &&
	   strstr(err, "bad port range"), "bad env range named: %s", err);
	unsetenv("DIALERD_SIP_RTP_PORTS");
	bad("sip_rtp_ports = 30000\n", "sip_rtp_ports: bad port range",
	    "range without HI");
	bad("sip_rtp_ports = 30000-\n", "bad port range", "range without HI");
	bad("sip_rtp_ports = 30010-30000\n", "bad port range", "LO > HI");
	bad("sip_rtp_ports = 30001-30002\n", "bad port range",
	    "no even port with a next one");
	bad("sip_rtp_ports = 80-1000\n", "bad port range", "below 1024");
	bad("sip_rtp_ports = 30000-70000\n", "bad port range", "above 65535");
	bad("sip_rtp_ports = 30000-30099x\n", "bad port range", "garbage");
	bad("sip_rtp_ports = -3-10\n", "bad port range", "negative");
	write_conf("sip_rtp_ports = 30000-30001\n");
	is_int(config_load(&cfg, path, err, sizeof(err)), 0,
	       "one pair is enough");
	config_free(&cfg);
}

/* realtime_priority: 0 (default, off) to 99 */
static void test_realtime(void)
{
	struct config cfg;
	char err[600];

	is_int(config_load(&cfg, NULL, err, sizeof(err)), 0, "defaults load");
	is_int(cfg.realtime_priority, 0, "realtime_priority off by default");
	config_free(&cfg);
	write_conf("realtime_priority = 99\n");
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "priority 99");
	is_int(cfg.realtime_priority, 99, "realtime_priority = 99");
	config_free(&cfg);
	bad("realtime_priority = 100\n", "realtime_priority", "priority 100");
}

/* sip_rtp_latch: strict (default) or any */
static void test_rtp_latch(void)
{
	struct config cfg;
	char err[600];

	is_int(config_load(&cfg, NULL, err, sizeof(err)), 0, "defaults load");
	ok(!cfg.sip_rtp_latch_any, "sip_rtp_latch default strict");
	config_free(&cfg);
	write_conf("sip_rtp_latch = any\n");
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "any in file");
	ok(cfg.sip_rtp_latch_any, "sip_rtp_latch = any");
	config_free(&cfg);
	setenv("DIALERD_SIP_RTP_LATCH", "strict", 1);
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "strict in env");
	ok(!cfg.sip_rtp_latch_any, "DIALERD_SIP_RTP_LATCH overrides the file");
	config_free(&cfg);
	unsetenv("DIALERD_SIP_RTP_LATCH");
	bad("sip_rtp_latch = loose\n", "sip_rtp_latch: bad latch mode",
	    "unknown latch mode");
}

/* call_log_bodies: sdp (default), all or none */
static void test_bodies(void)
{
	struct config cfg;
	char err[600];

	is_int(config_load(&cfg, NULL, err, sizeof(err)), 0, "defaults load");
	is_int(cfg.call_log_bodies, CONFIG_BODIES_SDP, "call_log_bodies default sdp");
	config_free(&cfg);
	write_conf("call_log_bodies = all\n");
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "all in file");
	is_int(cfg.call_log_bodies, CONFIG_BODIES_ALL, "call_log_bodies = all");
	config_free(&cfg);
	setenv("DIALERD_CALL_LOG_BODIES", "none", 1);
	is_int(config_load(&cfg, path, err, sizeof(err)), 0, "none in env");
	is_int(cfg.call_log_bodies, CONFIG_BODIES_NONE,
	       "DIALERD_CALL_LOG_BODIES overrides the file");
	config_free(&cfg);
	unsetenv("DIALERD_CALL_LOG_BODIES");
	bad("call_log_bodies = some\n", "call_log_bodies: bad body setting",
	    "unknown body setting");
}

/* A file holding a secret must not be readable by group or others. */
static void test_exposed(void)
{
	struct config cfg;
	char err[600], msg[300];

	write_conf("auth_token = abcdefgh\n");
	config_load(&cfg, path, err, sizeof(err));
	chmod(path, 0644);
	ok(config_file_exposed(path, &cfg, msg, sizeof(msg)) == 1 &&
	   strstr(msg, "readable by everyone") != NULL, "a token in a 0644 file: warned");
	ok(strstr(msg, "abcdefgh") == NULL, "the warning does not print the secret");
	chmod(path, 0640);
	ok(config_file_exposed(path, &cfg, msg, sizeof(msg)) == 1 &&
	   strstr(msg, "its group") != NULL, "0640: warned, its group");
	chmod(path, 0600);
	is_int(config_file_exposed(path, &cfg, msg, sizeof(msg)), 0, "0600: fine");
	config_free(&cfg);
	write_conf("database_url = postgresql://dialerd@10.0.0.1/dialerd\nlog_level = info\n");
	config_load(&cfg, path, err, sizeof(err));
	chmod(path, 0644);
	is_int(config_file_exposed(path, &cfg, msg, sizeof(msg)), 0,
	       "no secret in the file (a URL without a password): no warning");
	config_free(&cfg);
	write_conf("database_url = postgresql://dialerd:pw@10.0.0.1/dialerd\n");
	config_load(&cfg, path, err, sizeof(err));
	ok(config_file_exposed(path, &cfg, msg, sizeof(msg)) == 1, "a URL with a password: warned");
	config_free(&cfg);
	write_conf("voice_url = https://hook:hookpw99@10.0.0.1/voice\n");
	config_load(&cfg, path, err, sizeof(err));
	ok(config_file_exposed(path, &cfg, msg, sizeof(msg)) == 1,
	   "a webhook URL with Basic credentials: warned");
	config_free(&cfg);
	write_conf("  auth_token=abcdefgh\n");
	config_load(&cfg, path, err, sizeof(err));
	ok(config_file_exposed(path, &cfg, msg, sizeof(msg)) == 1,
	   "an indented token without spaces around '=': warned");
	config_free(&cfg);
	write_conf("# auth_token = abcdefgh\nvoice_url = https://10.0.0.1/voice\n");
	config_load(&cfg, path, err, sizeof(err));
	is_int(config_file_exposed(path, &cfg, msg, sizeof(msg)), 0,
	       "a commented-out token and a URL without credentials: no warning");
	config_free(&cfg);
	chmod(path, 0600);
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return 99;
	close(fd);
	test_defaults();
	test_file();
	test_env();
	test_bad();
	test_rtp_ports();
	test_rtp_latch();
	test_realtime();
	test_bodies();
	test_exposed();
	unlink(path);
	return tap_done();
}
