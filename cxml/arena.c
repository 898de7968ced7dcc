/* arena.c: the allocation pool behind a document or a URI, freed in one call */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cxml/internal.h"

/* Blocks grow geometrically from the caller's first size. Past
 * ARENA_BLOCK_MAX they stop growing, so that the unused end of the newest
 * block wastes at most that much, not half of everything. */
#define ARENA_BLOCK_MAX ((size_t)1 << 20)

struct block {
	struct block *next;
	size_t size, used;
	_Alignas(16) unsigned char mem[];
};

struct cxml_arena {
	struct block *head;
	struct block *first;      /* allocated with the arena, not freed alone */
	size_t total;             /* bytes taken from malloc, headers included */
	size_t limit;             /* 0: none */
	bool over;                /* an allocation was refused by the limit */
};

#define ARENA_HDR ((sizeof(struct cxml_arena) + 15) & ~(size_t)15)

int arena_alloc(struct cxml_arena **ap, size_t first)
{
	struct cxml_arena *a;

	if (!ap || first < 64 || first > ARENA_BLOCK_MAX)
		return EINVAL;
	first = (first + 15) & ~(size_t)15;
	a = malloc(ARENA_HDR + sizeof(struct block) + first);
	if (!a)
		return ENOMEM;
	a->first = (struct block *)(void *)((unsigned char *)a + ARENA_HDR);
	a->first->next = NULL;
	a->first->size = first;
	a->first->used = 0;
	a->head = a->first;
	a->total = ARENA_HDR + sizeof(struct block) + first;
	a->limit = 0;
	a->over = false;
	*ap = a;
	return 0;
}

void arena_limit(struct cxml_arena *a, size_t limit)
{
	a->limit = limit;
}

size_t arena_total(const struct cxml_arena *a)
{
	return a ? a->total : 0;
}

bool arena_over(const struct cxml_arena *a)
{
	return a && a->over;
}

struct cxml_arena *arena_free(struct cxml_arena *a)
{
	struct block *b, *next;

	if (!a)
		return NULL;
	for (b = a->head; b && b != a->first; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
	return NULL;
}

void arena_reset(struct cxml_arena *a)
{
	struct block *b, *next;

	for (b = a->head; b && b != a->first; b = next) {
		next = b->next;
		free(b);
	}
	a->head = a->first;
	a->first->used = 0;
	a->total = ARENA_HDR + sizeof(struct block) + a->first->size;
	a->over = false;
}

void *arena_zalloc(struct cxml_arena *a, size_t size)
{
	struct block *b = a->head;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (need < size)
		return NULL;
	if (b->size - b->used < need) {
		size_t bsize = b->size < ARENA_BLOCK_MAX ? b->size * 2 : b->size;

		while (bsize < need)
			bsize *= 2;
		if (bsize > SIZE_MAX / 2)
			return NULL;
		if (a->limit && a->total + sizeof(*b) + bsize > a->limit) {
			/* the last block takes what is left, if that is enough */
			size_t left = a->limit > a->total + sizeof(*b)
					      ? a->limit - a->total - sizeof(*b) : 0;

			if (left < need) {
				a->over = true;
				return NULL;
			}
			bsize = left;
		}
		b = malloc(sizeof(*b) + bsize);
		if (!b)
			return NULL;
		a->total += sizeof(*b) + bsize;
		b->size = bsize;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	p = b->mem + b->used;
	b->used += need;
	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct cxml_arena *a, const char *s, size_t n)
{
	char *p = arena_zalloc(a, n + 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

char *arena_strdup(struct cxml_arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}
