/* smap.h: an intrusive hash map keyed by NUL-terminated strings (call SIDs) */
#ifndef DIALERD_SMAP_H
#define DIALERD_SMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in the element; key points into the element and must not
 * change while it is in a map. */
struct smap_node {
	struct smap_node *next;
	const char *key;
	uint32_t hash;
};

struct smap {
	struct smap_node **b;
	size_t nb, n;
};

/* Empty map (no allocation until the first insert). */
void smap_init(struct smap *m);
/* Frees the buckets; the elements are the caller's. */
void smap_fini(struct smap *m);
struct smap_node *smap_find(const struct smap *m, const char *key);
/* Adds node (its key set by the caller); the table grows at load 1.
 * 0 or ENOMEM (then the node is not in the map). */
int smap_insert(struct smap *m, struct smap_node *node);
void smap_remove(struct smap *m, struct smap_node *node);

#endif
