/* commands.h: dialerd's subcommands besides running the daemon */
#ifndef DIALERD_COMMANDS_H
#define DIALERD_COMMANDS_H

struct config;

/* dialerd check [--json] FILE.xml|-: 0 valid, 1 invalid, 2 usage or I/O. */
int cmd_check(int argc, char **argv);

/* dialerd migrate [--status]: 0 done, 1 failed, 2 usage. */
int cmd_migrate(const struct config *cfg, int argc, char **argv);

/* dialerd trace [--bodies] CA...: the SIP messages of each call and of its
 * child legs, from the call log (blocking libpq). 0 done, 1 an unknown
 * call or an unreachable database, 2 usage. */
int cmd_trace(const struct config *cfg, int argc, char **argv);

/* dialerd takeover --data-dir DIR [--deadline S]: ends the calls of the
 * instance that used DIR (gone: heartbeat older than 15 s) and delivers
 * its callbacks. 0 done or already retired, 1 refused or unfinished, 2
 * usage. */
int cmd_takeover(const struct config *cfg, int argc, char **argv);

/* The daemon's start, before it locks data_dir: when the registry says the
 * folder's previous process did not stop (still active or draining), the
 * same steps on its calls, reason instance-restarted, delivery left to the
 * daemon's outbox; at most a few seconds. *byes gets the dialogs of the
 * answered ones (NULL: none), for the SIP engine to end with a BYE once it
 * runs (restart_byes_send); *adopts the connected calls it left open
 * instead of ending them, for the SIP engine and the call layer to go on
 * with (restart_adopts_send, restart_adopts_calls; NULL: none). Failures
 * are logged: the start goes on. Returns 0. */
struct restart_byes;
struct restart_adopts;
int takeover_own(const struct config *cfg, struct restart_byes **byes,
		 struct restart_adopts **adopts);

#endif
