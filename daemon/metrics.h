/* metrics.h: counters and gauges, rendered in the Prometheus text exposition format */
#ifndef DIALERD_METRICS_H
#define DIALERD_METRICS_H

#include <stddef.h>

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,	/* latencies in seconds, 5 ms .. 15 s buckets */
};

/* Called just before rendering so that gauges owned elsewhere (store queue
 * depth, open calls) can be refreshed with metrics_set(). */
typedef void (metrics_collect_h)(void *arg);

/* All functions: main thread only. Names and help are string literals that
 * outlive the registry. */
int metrics_family(const char *name, enum metrics_type type, const char *help);
/* labels: preformatted `a="x",b="y"` (values escaped with metrics_escape),
 * or NULL. Unknown families are ignored. */
void metrics_add(const char *name, const char *labels, double v);
void metrics_set(const char *name, const char *labels, double v);
/* Counts v into a histogram family's series. */
void metrics_observe(const char *name, const char *labels, double v);
int metrics_collector_add(metrics_collect_h *h, void *arg);
/* Before arg is freed: a component freed while the process goes on (the
 * start-up takeover's store and outbox) must not be collected again. */
void metrics_collector_remove(metrics_collect_h *h, void *arg);

/* Escapes a label value (backslash, quote, newline) into buf. */
void metrics_escape(char *buf, size_t size, const char *value);

/* Renders everything into a malloc'd buffer the caller frees. */
int metrics_render(char **bufp, size_t *lenp);

/* Frees the registry (at exit, for leak checkers). */
void metrics_reset(void);

#endif
