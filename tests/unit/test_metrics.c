/* test_metrics.c: Prometheus text exposition of counters and gauges */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics.h"
#include "tests/tap.h"

static int collected;

static void collect(void *arg)
{
	metrics_set("t_gauge", NULL, *(int *)arg);
	collected++;
}

int main(void)
{
	char *buf = NULL, esc[64];
	size_t len = 0;
	int depth = 7;

	is_int(metrics_family("t_requests_total", METRICS_COUNTER, "requests"), 0,
	       "counter family");
	is_int(metrics_family("t_gauge", METRICS_GAUGE, "a gauge"), 0, "gauge family");
	metrics_collector_add(collect, &depth);
	metrics_add("t_requests_total", "path=\"/health\",code=\"200\"", 1);
	metrics_add("t_requests_total", "path=\"/health\",code=\"200\"", 1);
	metrics_add("t_requests_total", "path=\"other\",code=\"404\"", 1);
	metrics_add("unknown_family", NULL, 1);
	metrics_escape(esc, sizeof(esc), "a\"b\\c\nd");
	is_str(esc, "a\\\"b\\\\c\\nd", "label value escaping");
	is_int(metrics_render(&buf, &len), 0, "render");
	is_int(collected, 1, "collectors run before rendering");
	ok(strstr(buf, "# HELP t_requests_total requests\n# TYPE t_requests_total counter\n") != NULL,
	   "HELP and TYPE lines");
	ok(strstr(buf, "t_requests_total{path=\"/health\",code=\"200\"} 2\n") != NULL,
	   "labelled counter summed");
	ok(strstr(buf, "t_requests_total{path=\"other\",code=\"404\"} 1\n") != NULL,
	   "second series");
	ok(strstr(buf, "# TYPE t_gauge gauge\nt_gauge 7\n") != NULL, "gauge from collector");
	ok(strstr(buf, "unknown_family") == NULL, "unknown family ignored");
	is_int(len, strlen(buf), "length matches");
	free(buf);
	metrics_reset();
	return tap_done();
}
