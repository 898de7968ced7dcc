/* scratch_dir.h: the scratch data_dir of the fuzz targets that read files a
 * crash leaves there (journal, outbox, mirror): made on the first run, in
 * /dev/shm when there is one (each run syncs its files, and a sync in
 * memory costs nothing), emptied between runs, removed at exit */
#ifndef DIALERD_SCRATCH_DIR_H
#define DIALERD_SCRATCH_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_dir[64];

static inline void fuzz_dir_empty(void)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *e;
	char p[512];

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", fuzz_dir, e->d_name);
			unlink(p);
		}
	closedir(d);
}

static inline void fuzz_dir_remove(void)
{
	fuzz_dir_empty();
	rmdir(fuzz_dir);
}

/* the directory, made at the first call; name goes into its name */
static inline const char *fuzz_dir_get(const char *name)
{
	if (!fuzz_dir[0]) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/dialerd-fuzz-%s-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
		if (!mkdtemp(fuzz_dir))
			abort();
		atexit(fuzz_dir_remove);
	}
	return fuzz_dir;
}

#endif
