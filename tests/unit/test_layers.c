/* test_layers.c: the module boundaries, read from the sources: cxml/, dial/
 * and store/ include no other module's header and no library's header but
 * their own (libxml2; libre, and OpenSSL for dial/'s TLS verification;
 * libpq); only daemon/ sees them all */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

struct module {
	const char *dir;
	const char *const *own;		/* include prefixes allowed here only */
};

static const char *const cxml_own[] = {"libxml/", "\"cxml/", NULL};
static const char *const dial_own[] = {"re.h", "re_", "openssl/", "\"dial/", NULL};
static const char *const store_own[] = {"libpq-fe.h", "\"store/", NULL};
/* what some module owns, and so no other may include */
static const char *const owned[] = {"libxml/", "re.h", "re_", "openssl/", "libpq-fe.h",
				    "event2/", "curl/", "\"cxml/", "\"dial/", "\"store/",
				    "\"daemon/", NULL};

static const struct module modules[] = {
	{"cxml", cxml_own}, {"dial", dial_own}, {"store", store_own},
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

		if (strncmp(p, "#include", 8) != 0)
			continue;
		inc = p + 8 + strspn(p + 8, " \t");
		if (*inc == '<')
			inc++;
		if (listed(inc, owned) && !listed(inc, m->own)) {
			diag("%s: %s", path, line);
			bad++;
		}
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

int main(int argc, char **argv)
{
	/* a directory to check instead of the tree: the test of the test */
	const char *top = argc > 1 ? argv[1] : SRCDIR;

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		int bad = check_module(&modules[i], top);

		ok(bad == 0, "%s/ includes only its own library and module (%d stray)",
		   modules[i].dir, bad);
	}
	return tap_done();
}
