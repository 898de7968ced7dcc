/* smap.c: an intrusive hash map keyed by NUL-terminated strings (call SIDs) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/smap.h"

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void smap_init(struct smap *m)
{
	m->b = NULL;
	m->nb = m->n = 0;
}

void smap_fini(struct smap *m)
{
	free(m->b);
	smap_init(m);
}

struct smap_node *smap_find(const struct smap *m, const char *key)
{
	uint32_t h;

	if (!m->nb)
		return NULL;
	h = fnv1a(key);
	for (struct smap_node *n = m->b[h & (m->nb - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static int grow(struct smap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct smap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		struct smap_node *n = m->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

int smap_insert(struct smap *m, struct smap_node *node)
{
	struct smap_node **slot;

	if (m->n >= m->nb && grow(m))
		return ENOMEM;
	node->hash = fnv1a(node->key);
	slot = &m->b[node->hash & (m->nb - 1)];
	node->next = *slot;
	*slot = node;
	m->n++;
	return 0;
}

void smap_remove(struct smap *m, struct smap_node *node)
{
	struct smap_node **p;

	if (!m->nb)
		return;
	for (p = &m->b[node->hash & (m->nb - 1)]; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			m->n--;
			return;
		}
	}
}
