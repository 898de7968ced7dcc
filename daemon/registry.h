/* registry.h: this instance in the instances registry: its id in call SIDs, the data_dir lock, start-up gate, drain state */
#ifndef DIALERD_REGISTRY_H
#define DIALERD_REGISTRY_H

#include <stdbool.h>

struct config;
struct event_base;
struct store;
struct dial;
struct registry;

/*
 * The instance id (4 hex digits of every call SID) comes from, in order:
 * instance_id when set (1..65535); 1 without a database; else the
 * instances registry (the row of this name keeps its id; a new name gets
 * the id cached in data_dir/instance.id when free, else the lowest free
 * one), cached in data_dir/instance.id for restarts while PostgreSQL is
 * away.
 *
 * The gate: new calls (INVITEs, REST creates) and SIP OPTIONS are answered
 * 503, and /health 503, while the instance is "registering" (at start-up
 * with a database: until the registry answered, at most 3 s) or
 * "draining" (SIGTERM, SIGUSR1). A registration refused at start-up (the
 * name is live elsewhere: split brain; an instance_id conflict) stops the
 * daemon with status 1. When no id is known after the 3 s (first start
 * on this data_dir, PostgreSQL unreachable, no instance_id), calls are
 * taken with SIDs carrying id 0 (owner unknown to other instances: they
 * can be controlled only through this instance) until the registration
 * succeeds; a refusal after the gate opened is logged (LOG_CRIT) and the
 * registration retried, the calls in progress keep going. A row found
 * lost or retired after this process registered (dialerd takeover closed
 * its calls while it was cut off) closes the gate for good.
 */

/* Locks data_dir (data_dir/instance.id, flock: EBUSY when another process
 * holds it, logged), reads the cached id and picks the first id. Before
 * the SIP engine and the call layer start. */
int registry_alloc(struct registry **rp, struct event_base *base,
		   const struct config *cfg);
/* Starts the control connection's registration on the store (NULL or
 * unconfigured: none) and applies the gate to the SIP engine. */
int registry_start(struct registry *r, struct store *store, struct dial *dial);
struct registry *registry_free(struct registry *r);

/* NULL while new calls are taken; else "registering", "draining" or
 * "taken-over" (the registry row went lost/retired under this process:
 * dialerd takeover closed its calls; nothing reopens the gate). */
const char *registry_gate(void);
/* The id new SIDs carry now (0: none yet). */
unsigned registry_id(const struct registry *r);

/* SIGTERM/SIGUSR1: state draining in the registry (written at once when
 * connected), SIP OPTIONS and INVITEs 503. */
void registry_drain(struct registry *r);
/* The end: state stopped. registry_busy() is true until it is written
 * (or the connection is down). */
void registry_stop(struct registry *r);
bool registry_busy(const struct registry *r);
/* The start was refused (split brain, id conflict): exit 1. */
bool registry_fatal(const struct registry *r);

#endif
