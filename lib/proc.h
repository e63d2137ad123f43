/*
 * proc: children done carefully. Explicit argv, env and cwd; every child
 * in a chosen process group with signal dispositions and mask reset and
 * every other fd closed; exec failure reported to the parent.
 *
 *   proc_signals_init(&e);                 -- once, in the parent
 *   struct proc_group g = PROC_GROUP_INIT;
 *   proc_group_start(&g, &e);              -- a holder process leads it
 *   struct proc_opts o = PROC_OPTS_INIT;
 *   o.argv = argv; o.env = env; o.cwd = dir; o.out_fd = w; o.pgid = g.pgid;
 *   pid_t pid;
 *   if (proc_spawn(&o, &pid, &e) < 0) ...
 *   ... poll(proc_sigfd(), ...) wakes on SIGCHLD, SIGINT, SIGTERM;
 *   proc_reap(pid, &status) says whether pid has ended;
 *   proc_group_stop(&g, 2000);             -- TERM, grace, KILL, reap
 *   (or proc_group_release(&g);            -- the holder only: what the
 *                                             commands left lives on)
 *
 * Globals (the signal state) live in proc.c: the self-pipe and the
 * received stop signal. slipway is a child subreaper, so daemons that
 * double-fork out of a build come back to it and are killed by
 * proc_group_stop() too.
 *
 * When slipway itself is killed (SIGKILL: no handler runs), the holder
 * sees its parent go and kills the group with SIGKILL, and with it the
 * groups that children of its members lead (`su -c`, `set -m` jobs, a
 * setsid child still attached to its parent), then itself; also while
 * proc_group_stop waits for the group, the holder stepped out of it. A
 * daemon that has left the group and lost its parent (setsid, then a
 * double fork) is beyond its reach: only the sandbox (a pid namespace)
 * catches those.
 */
#ifndef SW_PROC_H
#define SW_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct proc_opts {
	const char *const *argv; /* argv[0] is a path or looked up in PATH */
	const char *const *env; /* NULL: an empty environment */
	const char *cwd; /* NULL: inherit */
	int in_fd; /* -1: /dev/null */
	int out_fd; /* stdout; -1: /dev/null */
	int err_fd; /* stderr; -2: same as out_fd; -1: /dev/null */
	pid_t pgid; /* 0: a new group led by the child */
	bool set_user; /* switch to uid/gid (with supplementary groups) */
	uid_t uid;
	gid_t gid;
	const char *user; /* for initgroups() when set_user */
	pid_t sandbox; /* join this sandbox holder's namespaces; 0: none */
	/* lead a session of its own with in_fd (a terminal, e.g. a pty's
	 * slave side) as its controlling terminal; pgid is then unused */
	bool ctty;
};

#define PROC_OPTS_INIT                                                         \
	{                                                                      \
		NULL, NULL, NULL, -1, -1, -2, 0, false, 0, 0, NULL, 0, false   \
	}

/* Install SIGCHLD/SIGINT/SIGTERM/SIGHUP handlers that write to a
 * self-pipe, ignore SIGPIPE, and become a child subreaper. */
int proc_signals_init(struct sw_err *e);
/* In a child made by fork() that goes on as a program of its own: a
 * self-pipe of its own, no stop signal received yet. */
int proc_signals_after_fork(struct sw_err *e);
/* The read end of the self-pipe (non-blocking); drain it after poll. */
int proc_sigfd(void);
void proc_sigfd_drain(void);
/* The SIGINT/SIGTERM/SIGHUP received, or 0. */
int proc_stop_signal(void);

int proc_spawn(const struct proc_opts *o, pid_t *pid, struct sw_err *e);

/* Non-blocking: 1 and *status (a wait status) if pid has ended, else 0.
 * Reaps other ended children on the way (orphans of a build). */
int proc_reap(pid_t pid, int *status);
/* Blocking wait for pid (EINTR-safe). Returns the wait status. */
int proc_wait(pid_t pid);

/* A process group that outlives the commands in it. */
struct proc_group {
	pid_t pgid; /* 0 when not started */
	pid_t holder; /* its holder process */
};

#define PROC_GROUP_INIT                                                        \
	{                                                                      \
		0, 0                                                           \
	}

/* Fork the holder: it leads a new group (g->pgid is its pid) and ignores
 * SIGTERM/SIGINT/SIGHUP; when the calling process ends, it kills the
 * group (above). */
int proc_group_start(struct proc_group *g, struct sw_err *e);
/* The same for the group pgid that a child of ours leads (spawned with
 * pgid 0, not yet reaped): the holder joins it. The group keeps its
 * leader ($$ is the group id in a script), and its id cannot be taken
 * over while the holder lives. */
int proc_group_hold(struct proc_group *g, pid_t pgid, struct sw_err *e);
/* Move the holder out of the group, into ours, so that kill(-pgid, 0)
 * says whether anything else is left (a stop in progress); it still
 * kills the group should we die. No-op when not started. */
void proc_group_detach(const struct proc_group *g);
/* End the holder alone (the group's other members live on, and are no
 * longer killed when we end); *g becomes PROC_GROUP_INIT. No-op when not
 * started. */
void proc_group_release(struct proc_group *g);
/* SIGTERM to the group and to orphans reparented to slipway, up to
 * grace_ms for them to end, then SIGKILL; reaps all, then sends the
 * holder (detached meanwhile) SIGKILL without waiting for it to die (the
 * next reaping of other children, or our end, takes it). Returns 1 when
 * something had to be killed with SIGKILL, else 0. Any other child of
 * slipway still running is treated as an orphan of the build. */
int proc_group_stop(struct proc_group *g, int grace_ms);
/*
 * The grace between SIGTERM and SIGKILL of a stop: ms, or the
 * milliseconds in $SLIPWAY_TEST_GRACE_MS when that is set (for tests
 * only: one that must catch slipway inside that wait sets it long).
 * proc_group_stop() and a hook's stop use it.
 */
int proc_grace_ms(int ms);
/* Kill the group without waiting (used from a timeout). */
void proc_group_signal(const struct proc_group *g, int sig);

/* In a child made by fork() (parent: getpid() before the fork): sig when
 * the parent ends, even by SIGKILL; at once if it already has. */
void proc_die_with_parent(pid_t parent, int sig);

/* Milliseconds: monotonic clock, and wall clock since the epoch. */
int64_t proc_now_ms(void);
int64_t proc_wall_ms(void);

#endif
