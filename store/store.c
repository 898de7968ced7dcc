/* store.c: the store as its users see it: alloc and free, one process
 * step, timeouts, state; it drives conn.c, writer.c and read.c, which
 * never call back up (read.c calls writer.c, writer.c calls conn.c and
 * journal.c, conn.c calls neither) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

/* The settings, with their defaults. */
static void settings(struct store *s, const struct store_conf *conf)
{
	s->nconn = conf->connections ? (int)conf->connections : STORE_NCONN;
	s->reconnect_min_ms = conf->reconnect_min_ms ? conf->reconnect_min_ms : 250;
	s->reconnect_max_ms = conf->reconnect_max_ms ? conf->reconnect_max_ms : 10000;
	s->backoff_ms = s->reconnect_min_ms;
	s->wake = conf->wake;
	s->wake_arg = conf->wake_arg;
	s->batch_rows = conf->batch_rows ? conf->batch_rows : 2000;
	s->flush_ms = conf->flush_ms ? conf->flush_ms : 100;
	s->queue_max_bytes = conf->queue_max_bytes ? conf->queue_max_bytes
						   : (size_t)64 << 20;
	s->pm.retention_days = conf->retention_days;
}

static int open_journal(struct store *s, const struct store_conf *conf)
{
	int err = store_journal_open(&s->journal, conf->data_dir,
				     STORE_JOURNAL_NAME);

	if (err)
		return err;
	/* before the journal's cap is set: what a killed process left must
	 * not be refused for lack of room */
	err = store_mirror_open(&s->mirror, conf->data_dir,
				conf->mirror_bytes == STORE_MIRROR_OFF ? 0
				: conf->mirror_bytes ? conf->mirror_bytes
				: STORE_MIRROR_BYTES,
				&s->journal, &s->stats.rows_recovered);
	if (err) {
		store_journal_close(&s->journal);
		return err;
	}
	s->journal.max_bytes = conf->journal_max_bytes
				       ? conf->journal_max_bytes
				       : STORE_JOURNAL_MAX_BYTES;
	s->have_journal = true;
	return 0;
}

int store_alloc(struct store **sp, const struct store_conf *conf)
{
	struct store *s;
	int err;

	if (!sp || !conf || conf->connections > STORE_NCONN)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	settings(s, conf);
	s->instance = strdup(conf->instance && *conf->instance ? conf->instance
							       : "local");
	if (!s->instance) {
		err = ENOMEM;
		goto out;
	}
	if (!conf->conninfo || !*conf->conninfo) {
		s->state = STORE_UNCONFIGURED;
		err = 0;
		goto out;
	}
	err = store_conn_init(s, conf->conninfo);
	if (!err && conf->data_dir && *conf->data_dir)
		err = open_journal(s, conf);
	if (!err)
		store_conn_start(s);
 out:
	if (err)
		s = store_free(s);
	else
		*sp = s;
	return err;
}

struct store *store_free(struct store *s)
{
	if (!s)
		return NULL;
	/* queries in flight: none of their handlers is called */
	store_read_free(s);
	store_control_free(s);
	store_writer_free(s);
	store_partition_free(s);
	store_conn_close(s);
	store_resend_free(s);
	free(s->instance);
	free(s);
	return NULL;
}

int store_timeout_ms(const struct store *s)
{
	int t[6], min = -1;

	if (!s)
		return -1;
	t[0] = store_conn_timeout_ms(s);
	t[1] = store_writer_timeout_ms(s);
	t[2] = store_read_timeout_ms(s);
	t[3] = store_control_timeout_ms(s);
	t[4] = store_partition_timeout_ms(s);
	t[5] = store_resend_timeout_ms(s, store_now_ms());
	for (int i = 0; i < 6; i++)
		if (t[i] >= 0 && (min < 0 || t[i] < min))
			min = t[i];
	return min;
}

/* The writer's step: connect, write, or take its batches back. */
static void process_writer(struct store *s)
{
	switch (store_conn_process(s)) {
	case STORE_CONN_LOST:
		/* the batches in flight go to the journal or back to the
		 * queue */
		store_writer_on_lost(s);
		return;
	case STORE_CONN_UP:
		for (int i = 0; i < s->nconn && s->state == STORE_UP; i++)
			store_writer_on_connected(s, &s->w[i]);
		store_partition_kick(s);
		/* fall through */
	case STORE_CONN_READY:
		if (s->state == STORE_UP)
			store_writer_process(s);
		return;
	case STORE_CONN_NONE:
		return;
	}
}

void store_process(struct store *s)
{
	if (!s)
		return;
	store_writer_tick(s);
	store_resend_expire(s, store_now_ms());
	process_writer(s);
	/* last: the batches that just committed may let a read go */
	if (s->state != STORE_UNCONFIGURED) {
		store_read_process(s);
		store_control_process(s);
		store_partition_process(s);
	}
}

enum store_state store_state(const struct store *s)
{
	return s ? s->state : STORE_UNCONFIGURED;
}

const char *store_state_name(enum store_state st)
{
	switch (st) {
	case STORE_UNCONFIGURED:
		return "unconfigured";
	case STORE_CONNECTING:
		return "connecting";
	case STORE_UP:
		return "up";
	case STORE_DOWN:
		return "down";
	}
	return "unknown";
}

unsigned long store_connects(const struct store *s)
{
	return s ? s->connects : 0;
}
