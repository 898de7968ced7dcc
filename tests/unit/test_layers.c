/* test_layers.c: the module boundaries, read from the sources: cxml/, dial/
 * and store/ include no other module's header and no library's header but
 * their own (libxml2; libre, and OpenSSL for dial/'s TLS verification;
 * libpq) beside libc and POSIX/Linux, and util/'s shared helpers, which
 * include libc alone; only daemon/ sees them all */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"

struct module {
	const char *dir;
	const char *const *own;		/* include prefixes allowed here only */
};

/* util/: header-only helpers that every module may include; they
 * include libc alone (checked as a module of their own) */
static const char *const cxml_own[] = {"libxml/", "\"cxml/", "\"util/", NULL};
static const char *const dial_own[] = {"re.h", "re_", "openssl/", "\"dial/", "\"util/",
				       NULL};
static const char *const store_own[] = {"libpq-fe.h", "\"store/", "\"util/", NULL};
static const char *const util_own[] = {"\"util/", NULL};
/* what some module owns, and so no other may include */
static const char *const owned[] = {"libxml/", "re.h", "re_", "openssl/", "libpq-fe.h",
				    "event2/", "curl/", "\"cxml/", "\"dial/", "\"store/",
				    "\"daemon/", NULL};

/* libc (C11) and POSIX/Linux system headers: the only other headers a
 * module may include, so a new library anywhere but daemon/ fails here */
static const char *const system_hdrs[] = {
	"assert.h>", "complex.h>", "ctype.h>", "errno.h>", "fenv.h>", "float.h>",
	"inttypes.h>", "iso646.h>", "limits.h>", "locale.h>", "math.h>",
	"setjmp.h>", "signal.h>", "stdalign.h>", "stdarg.h>", "stdatomic.h>",
	"stdbool.h>", "stddef.h>", "stdint.h>", "stdio.h>", "stdlib.h>",
	"stdnoreturn.h>", "string.h>", "strings.h>", "tgmath.h>", "threads.h>",
	"time.h>", "uchar.h>", "wchar.h>", "wctype.h>",
	"aio.h>", "dirent.h>", "dlfcn.h>", "fcntl.h>", "fnmatch.h>", "glob.h>",
	"grp.h>", "iconv.h>", "langinfo.h>", "libgen.h>", "netdb.h>", "poll.h>",
	"pthread.h>", "pwd.h>", "regex.h>", "sched.h>", "search.h>",
	"semaphore.h>", "spawn.h>", "syslog.h>", "termios.h>", "unistd.h>",
	"utime.h>", "wordexp.h>", "endian.h>", "ifaddrs.h>",
	"sys/", "arpa/", "netinet/", "net/", "linux/", NULL,
};

static const struct module modules[] = {
	{"cxml", cxml_own}, {"dial", dial_own}, {"store", store_own},
	{"util", util_own},
};

static bool listed(const char *inc, const char *const *v)
{
	for (; *v; v++)
		if (strncmp(inc, *v, strlen(*v)) == 0)
			return true;
	return false;
}

/* Counts includes of the file that the module may not have. */
static int check_file(const struct module *m, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int bad = 0;

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");
		const char *inc;

		/* "# include" is the same directive */
		if (*p != '#')
			continue;
		p += 1 + strspn(p + 1, " \t");
		if (strncmp(p, "include", 7) != 0)
			continue;
		inc = p + 7 + strspn(p + 7, " \t");
		if (*inc == '<') {
			inc++;
			/* a library the module does not own, or any header
			 * that is neither libc/POSIX nor its own library's */
			if (listed(inc, m->own) ||
			    (!listed(inc, owned) && listed(inc, system_hdrs)))
				continue;
		} else if (*inc == '"') {
			const char *end = strchr(inc + 1, '"');

			/* its own "mod/x.h", or a file beside it (no path) */
			if (listed(inc, m->own) ||
			    (end && !memchr(inc + 1, '/', (size_t)(end - inc - 1))))
				continue;
		}
		diag("%s: %.*s", path, (int)strcspn(line, "\n"), line);
		bad++;
	}
	fclose(f);
	return bad;
}

static int check_module(const struct module *m, const char *top)
{
	char dir[1024], path[2048];
	struct dirent *de;
	DIR *d;
	int bad = 0, files = 0;

	snprintf(dir, sizeof(dir), "%s/%s", top, m->dir);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 3 || (strcmp(de->d_name + n - 2, ".c") &&
			      strcmp(de->d_name + n - 2, ".h")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		bad += check_file(m, path);
		files++;
	}
	closedir(d);
	return files ? bad : -1;
}

/* A planted tree: each module gets a file of allowed includes and one of
 * strays; the check must find exactly the strays, or it proves nothing. */
static const char *const planted_ok =
	"#include <stdio.h>\n#include <sys/socket.h>\n#include \"internal.h\"\n";
static const char *const planted_bad[] = {
	/* cxml */
	"# include <re.h>\n#include <jansson.h>\n#include \"store/store.h\"\n",
	/* dial */
	"#include <libpq-fe.h>\n#include \"../store/store.h\"\n#include <event2/event.h>\n",
	/* store */
	"#include <libxml/parser.h>\n#include <uuid/uuid.h>\n#include \"daemon/log.h\"\n",
	/* util */
	"#include <re.h>\n#include \"cxml/cxml.h\"\n#include <event2/event.h>\n",
};

static int put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_planted(void)
{
	char top[] = "/tmp/dialerd-test-layers-XXXXXX", dir[256], path[512];

	if (!mkdtemp(top)) {
		ok(0, "planted tree");
		return;
	}
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", top, modules[i].dir);
		mkdir(dir, 0700);
		put(dir, "good.c", planted_ok);
		put(dir, "bad.c", planted_bad[i]);
		is_int(check_module(&modules[i], top), 3, "planted %s/: 3 strays found",
		       modules[i].dir);
		snprintf(path, sizeof(path), "%s/good.c", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bad.c", dir);
		unlink(path);
		rmdir(dir);
	}
	rmdir(top);
}

int main(int argc, char **argv)
{
	/* a directory to check instead of the tree: the test of the test */
	const char *top = argc > 1 ? argv[1] : SRCDIR;

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		int bad = check_module(&modules[i], top);

		ok(bad == 0, "%s/ includes only its own library and module (%d stray)",
		   modules[i].dir, bad);
	}
	if (argc == 1)
		test_planted();
	return tap_done();
}
