/* internal.h: cxml's private helpers shared by its .c files (arena, diagnostics, tables) */
#ifndef DIALERD_CXML_INTERNAL_H
#define DIALERD_CXML_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "cxml/cxml.h"

/* arena.c: one allocation pool per document or URI, freed at once */
struct cxml_arena;

/* First block sizes. A parsed document lives as long as its call (the
 * verbs after <Dial> still run): a typical one takes about 1 KiB (a
 * <Dial> with one <Sip> and its callbacks 944 bytes), and with 4 KiB
 * blocks each held call carried 3 KiB nobody used. The scratch arena is
 * reset, not freed, between documents: its block may be generous. */
#define ARENA_FIRST_DOC 1536
#define ARENA_FIRST_URI 1024
#define ARENA_FIRST_SCRATCH 4096

/* first: bytes of the first block (later ones double, up to 1 MiB) */
int arena_alloc(struct cxml_arena **ap, size_t first);
struct cxml_arena *arena_free(struct cxml_arena *a);
/* zeroed, 16-byte aligned; NULL on ENOMEM */
void *arena_zalloc(struct cxml_arena *a, size_t size);
char *arena_strndup(struct cxml_arena *a, const char *s, size_t n);
char *arena_strdup(struct cxml_arena *a, const char *s);
/* forget everything allocated, keep the first block (scratch use) */
void arena_reset(struct cxml_arena *a);
/* Caps the bytes the arena may take from malloc (0: no cap): past it
 * arena_zalloc returns NULL and arena_over() turns true, so a caller can
 * tell a hostile document from a failing malloc. */
void arena_limit(struct cxml_arena *a, size_t limit);
bool arena_over(const struct cxml_arena *a);
/* Bytes taken from malloc so far (blocks and headers). */
size_t arena_total(const struct cxml_arena *a);

/*
 * Where a diagnostic points. Inside a document the element has an ordinal
 * (document order) that locate.c turns into line and column on demand.
 */
struct loc_table;

struct diag_at {
	const char *elem;         /* element name or NULL */
	const char *attr;         /* attribute name or NULL */
	unsigned line;            /* from libxml2, 0 if unknown */
	long ordinal;             /* element ordinal, -1 if none */
	struct loc_table *loc;    /* source to find line:col in, or NULL */
};

/* diag.c */
void diag_add(struct cxml_diags *d, enum cxml_severity sev, int code,
	      const struct diag_at *at, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_vadd(struct cxml_diags *d, enum cxml_severity sev, int code,
	       const struct diag_at *at, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
/* last diagnostic added (to fill in its column later), or NULL */
struct cxml_diag *diag_last(struct cxml_diags *d);

/* policy.c */
bool cxml_pattern_match(const char *const *pats, size_t n, const char *name);
bool cxml_sip_token_char(unsigned char c);

/* headers.c: apply the policy to one decoded name/value pair */
#define HDR_ITEMS_MAX 64       /* header items read per <Sip>/URI */

struct hdr_list {
	struct cxml_sip_header *v;
	size_t n, cap;
	struct cxml_sip_refusal *r;
	size_t nr, rcap;
	size_t bytes;
	size_t items;             /* offered so far, allowed or not */
	size_t skipped;           /* items past HDR_ITEMS_MAX, not read */
};

/* After the last item: one refusal that counts the skipped ones. */
int hdr_finish(struct cxml_arena *a, struct hdr_list *l,
	       struct cxml_diags *d, const struct diag_at *at, bool as_error);

/* Refuse or accept name=value (lengths given, may hold any byte); a
 * refusal is recorded in l and in d. Returns ENOMEM only. *over is set
 * when the refusal was a size limit. */
int hdr_offer(struct cxml_arena *a, const struct cxml_policy *pol,
	      struct hdr_list *l, const char *name, size_t nlen,
	      const char *val, size_t vlen, enum cxml_hdr_source src,
	      struct cxml_diags *d, const struct diag_at *at, bool *over);
/* Record a refusal that happened before the policy (e.g. bad escape). */
int hdr_refuse(struct cxml_arena *a, struct hdr_list *l, const char *name,
	       size_t nlen, const char *val, size_t vlen, int code,
	       enum cxml_hdr_source src, struct cxml_diags *d,
	       const struct diag_at *at, const char *fmt, ...)
	__attribute__((format(printf, 11, 12)));
/* Parse a Plivo-style "name=value,name=value" list into l. */
int hdr_parse_plivo(struct cxml_arena *a, const struct cxml_policy *pol,
		    struct hdr_list *l, const char *s, enum cxml_hdr_source src,
		    struct cxml_diags *d, const struct diag_at *at);
/* percent-decode in place-safe: out must hold n bytes; -1 on a bad escape */
long cxml_pct_decode(char *out, const char *in, size_t n);

/* Merges the headers of a list already through the policy (<Dial
 * sipHeaders>, parsed once per <Dial>) into l: names and values are
 * shared, not copied; duplicates and sizes are checked against what l
 * holds. from's refusals are not copied. ENOMEM only. */
int hdr_merge(struct cxml_arena *a, const struct cxml_policy *pol,
	      struct hdr_list *l, const struct hdr_list *from,
	      struct cxml_diags *d, const struct diag_at *at);

/* uri.c: parse into u using arena a (no allocation of u itself). With
 * sip_attr (raw <Sip sipHeaders>) and dial (the <Dial>'s list), both may
 * be NULL, adds them after the URI's own headers. Returns 0, EBADMSG
 * (malformed: error in d), ENOMEM. */
int cxml_uri_parse(struct cxml_arena *a, const struct cxml_policy *pol,
		   const char *s, size_t len, struct cxml_sip_uri *u,
		   const char *sip_attr, const struct hdr_list *dial,
		   struct cxml_diags *d, const struct diag_at *at);

/* A digest username goes into a quoted-string of the Authorization
 * header (RFC 7616): no '"', no '\\', no control character. */
bool cxml_digest_username_ok(const char *s);

/* schema.c: attribute tables */
enum attr_type {
	AT_STR = 0,               /* any text (maxlen if set) */
	AT_URL,                   /* http(s) absolute or relative URL */
	AT_METHOD,                /* GET | POST */
	AT_METHOD_PUT,            /* POST | PUT */
	AT_BOOL,                  /* true | false */
	AT_INT,                   /* lo..hi, error outside */
	AT_ENUM,                  /* names[] index stored as int */
	AT_EVENTS,                /* names[] bits, separated by space or comma */
	AT_CODECS,                /* comma list of codecs */
	AT_IGNORED,               /* known, not supported: warning 12200 */
	AT_SECRET,                /* text, shown masked */
};

struct attr_ctx;

/* custom parser: returns 0 or EBADMSG; diag via ctx */
struct attr_spec;
typedef int (attr_fn)(struct attr_ctx *c, const struct attr_spec *s,
		      void *field, const char *v);

struct attr_spec {
	const char *name;
	enum attr_type type;
	unsigned short off;
	int code;                 /* error code for a bad value */
	int lo, hi;               /* AT_INT bounds; AT_STR max length if hi */
	const char *const *names; /* AT_ENUM / AT_EVENTS */
	attr_fn *fn;              /* overrides the generic parser */
};

struct attr_ctx {
	struct cxml_arena *a;
	struct cxml_diags *d;
	struct diag_at at;
};

struct elem_spec {
	const char *name;
	const struct attr_spec *attrs;
	size_t nattrs;
	size_t size;              /* of the typed struct */
	const void *defaults;     /* copied before parsing attributes */
};

enum {
	ELEM_V_DIAL = 0, ELEM_V_SAY, ELEM_V_PLAY, ELEM_V_PAUSE, ELEM_V_GATHER,
	ELEM_V_RECORD, ELEM_V_REDIRECT, ELEM_V_REJECT, ELEM_V_HANGUP,
	ELEM_V_ENQUEUE, ELEM_V_LEAVE, ELEM_V_REFER,
	ELEM_NVERBS
};

extern const struct elem_spec schema_verbs[ELEM_NVERBS];
extern const struct elem_spec schema_nouns[5];

/* attrs.c: reporting helpers for the parsers of schema.c */
void attr_bad(struct attr_ctx *c, const struct attr_spec *s,
	      enum cxml_severity sev, int code, const char *v,
	      const char *expect);
bool cxml_parse_int(const char *v, long *out);

/* Parse one attribute value into field per spec; 0 or EBADMSG/ENOMEM. */
int attr_parse(struct attr_ctx *c, const struct attr_spec *s, void *elem,
	       const char *v);
const struct attr_spec *attr_find(const struct elem_spec *e, const char *name);
/* Format a field for cxml_verb_attrs (buf for numbers and lists). */
void attr_format(const struct attr_spec *s, const void *elem, char *buf,
		 size_t size, struct cxml_attr_view *out);

/* helpers also used by parse.c */
bool cxml_url_valid(const char *v);
const char *cxml_trim_ws(const char *s, size_t *len);

/*
 * xmlread.c: libxml2 (SAX2, no DOM) into a light tree that lives in the
 * reader's scratch arena until the next read. Text and element nodes in
 * document order; attribute values decoded.
 */
enum xnode_type {
	XN_ELEM = 0,
	XN_TEXT,
};

struct xattr {
	const char *name;         /* local name */
	const char *prefix;       /* namespace prefix or NULL */
	const char *value;
	struct xattr *next;
};

struct xnode {
	enum xnode_type type;
	const char *name;         /* local name (elements) */
	const char *prefix;
	char *content;            /* text nodes: NUL-terminated */
	size_t len, cap;
	struct xnode *parent, *children, *last, *next;
	struct xattr *properties;
	unsigned line;            /* where libxml2 finished the start tag */
	long ordinal;             /* element number in document order, from 0 */
};

struct xreader;

int xreader_alloc(struct xreader **rp);
struct xreader *xreader_free(struct xreader *r);
/* 0 and *rootp (the root element), or EBADMSG with errors in d
 * (12100: not well-formed, DOCTYPE, depth or node cap), or ENOMEM. */
int xreader_read(struct xreader *r, const char *buf, size_t len,
		 const struct cxml_policy *pol, struct cxml_diags *d,
		 struct xnode **rootp);
/* Bytes the scratch tree of the last read took. */
size_t xreader_mem(const struct xreader *r);

/* parse.c: bytes the last cxml_parse() took in the document's arena and
 * in the reader's scratch arena (tests and benchmarks). */
void cxml_parser_mem(const struct cxml_parser *p, size_t *doc,
		     size_t *scratch);

/* locate.c: line and column of the k-th start tag (and one of its
 * attributes) in the raw bytes of a well-formed document. The table of
 * start tags is built on first use, so documents without diagnostics pay
 * nothing. */
struct loc_table {
	const char *buf;
	size_t len;
	bool built, failed;
	size_t n, cap;
	size_t *off;              /* offset of each '<' of a start tag */
	unsigned *line;           /* its line */
};

void loc_init(struct loc_table *t, const char *buf, size_t len);
void loc_fini(struct loc_table *t);
/* Leaves line and col unchanged when the element cannot be found. */
void loc_find(struct loc_table *t, long ordinal, const char *elem,
	      const char *attr, unsigned *line, unsigned *col);

#endif
