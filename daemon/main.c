/* main.c: dialerd's command line: run the daemon, or one of its subcommands */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "cxml/cxml.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "dial/dial.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dialerd [-c FILE]                run the daemon\n"
		"       dialerd [-c FILE] migrate [--status|--check]\n"
		"                                          apply, list, or verify database migrations\n"
		"       dialerd [-c FILE] trace [--bodies] CA...\n"
		"                                          a call's SIP messages, from the call log\n"
		"       dialerd [-c FILE] takeover --data-dir DIR [--deadline S]\n"
		"                                          end the calls of an instance gone for good\n"
		"       dialerd [-c FILE] check [--json] FILE.xml|-\n"
		"                                          validate a cXML document (and FILE)\n"
		"       dialerd config                     print the default configuration file\n"
		"       dialerd --version | --help\n"
		"\n"
		"Settings come from FILE, then from DIALERD_* environment variables\n"
		"(DIALERD_DATABASE_URL, DIALERD_HTTP_LISTEN, DIALERD_SIP_LISTEN, ...).\n");
}

/* dialerd trace also takes --config FILE (or -c) after its name: taken
 * out of argv here, before the configuration is loaded. 0, or 2 on a
 * missing value or a second file. */
static int trace_config(int *argc, char **argv, const char **conf_path)
{
	int n = 1;

	for (int i = 1; i < *argc; i++) {
		const char *v = NULL;

		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= *argc)
				return 2;
			v = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			v = argv[i] + 9;
		} else {
			argv[n++] = argv[i];
			continue;
		}
		if (*conf_path && strcmp(*conf_path, v) != 0)
			return 2;
		*conf_path = v;
	}
	*argc = n;
	argv[n] = NULL;
	return 0;
}

static void version(void)
{
	int pq = store_libpq_version();

	printf("dialerd %s\nlibre %s, libpq %d.%d, libxml2 %s\n", PACKAGE_VERSION,
	       dial_libre_version(), pq / 10000, pq % 10000,
	       cxml_libxml_version());
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *conf_path = NULL, *cmd = NULL;
	struct config cfg;
	char err[600];
	int c, rc;

	/* "+": stop at the first non-option so subcommands parse their own */
	while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version();
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		cmd = argv[optind];
	/* check needs no configuration: it is a pure function of the
	   document; given -c FILE, the settings are checked first */
	if (cmd && strcmp(cmd, "check") == 0) {
		if (conf_path) {
			if (config_load(&cfg, conf_path, err, sizeof(err))) {
				fprintf(stderr, "dialerd: %s\n", err);
				return 2;
			}
			config_free(&cfg);
		}
		return cmd_check(argc - optind, argv + optind);
	}
	if (cmd && strcmp(cmd, "config") == 0) {
		config_print_defaults();
		return 0;
	}
	if (cmd && (strcmp(cmd, "trace") == 0 || strcmp(cmd, "takeover") == 0)) {
		int targc = argc - optind;

		if (trace_config(&targc, argv + optind, &conf_path)) {
			fprintf(stderr, "usage: dialerd [-c FILE] %s [--config FILE] "
					"...\n", cmd);
			return 2;
		}
		argc = optind + targc;
	}
	if (cmd && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "trace") != 0 &&
	    strcmp(cmd, "takeover") != 0) {
		fprintf(stderr, "dialerd: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (config_load(&cfg, conf_path, err, sizeof(err))) {
		fprintf(stderr, "dialerd: %s\n", err);
		return 2;
	}
	rc = log_open(cfg.log_level, cfg.log_file);
	if (rc) {
		fprintf(stderr, "dialerd: log_file %s: %s\n", cfg.log_file,
			strerror(rc));
		config_free(&cfg);
		return 2;
	}
	log_add_secret(cfg.auth_token);
	log_add_conninfo_secret(cfg.database_url);
	if (config_file_exposed(conf_path, &cfg, err, sizeof(err)))
		log_msg(LOG_WARNING, "config", "%s", err);
	if (cmd && strcmp(cmd, "trace") == 0)
		rc = cmd_trace(&cfg, argc - optind, argv + optind);
	else if (cmd && strcmp(cmd, "takeover") == 0)
		rc = cmd_takeover(&cfg, argc - optind, argv + optind);
	else if (cmd)
		rc = cmd_migrate(&cfg, argc - optind, argv + optind);
	else
		rc = server_run(&cfg);
	config_free(&cfg);
	log_close();
	return rc;
}
