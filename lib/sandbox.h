/*
 * sandbox: a build's commands in namespaces of their own, made without a
 * container engine. A holder process is pid 1 of a new pid namespace
 * (with new mount, ipc and uts namespaces, and a new network namespace
 * with only lo when asked). It builds the filesystem view and reaps
 * orphans until the build ends; commands join its namespaces through
 * proc_spawn() with proc_opts.sandbox set to the holder's pid.
 *
 *   if (sandbox_probe(&e) < 0) ...            -- namespaces unavailable
 *   char *at = sandbox_src_path();            -- /codebuild/output/srcN/src
 *   struct sandbox sb = SANDBOX_INIT;
 *   struct sandbox_opts so = SANDBOX_OPTS_INIT;
 *   so.src = srcdir; so.src_at = at; so.rw_dir = build_dir;
 *   if (sandbox_start(&sb, &so, &e) < 0) ...
 *   po.sandbox = sb.pid; proc_spawn(&po, &pid, &e);  -- po.cwd is `at`
 *   sandbox_stop(&sb);                        -- kills all that is in it
 *
 * The view: a tmpfs root; every top-level entry of the host's / bound
 * read-only (every submount too); /dev bound read-only with a private
 * /dev/shm; a fresh /proc; a private /tmp; src bound read-write at
 * src_at; rw_dir bound read-write at its own path; each of binds
 * read-write at its `at`. A bind whose `at` is missing from the host gets
 * a mount point without writing the host: the nearest existing directory
 * above it is replaced in the view by a tmpfs holding read-only binds of
 * its entries and the missing directories. `at` may not be or be under
 * /, /proc or /dev, nor pass through a symlink. The old root is
 * detached. Commands run with PR_SET_NO_NEW_PRIVS and without the
 * capabilities that would undo the view (CAP_SYS_ADMIN and others).
 *
 * Limits: pids and memory by cgroup v1 controllers where writable (the
 * holder's cgroup slipway.<pid>, joined by every command), else by
 * RLIMIT_NPROC and RLIMIT_AS copied from the holder; cpu time by
 * RLIMIT_CPU copied the same way (soft cpu_time seconds: SIGXCPU, hard 5 s
 * later: SIGKILL; each process has its own count). sandbox.note says
 * which (caller-owned string in the struct, freed by sandbox_stop()).
 */
#ifndef SW_SANDBOX_H
#define SW_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "proc.h"

/*
 * A directory of the host bound read-write at another path inside; or,
 * with file, a file of the host (a regular file or a socket) bound
 * read-only over a file the view already has (e.g. the build's own
 * /etc/passwd) or, where the view has none, over an empty file made in
 * the view (its directories made as for a directory bind, in a tmpfs of
 * the view: the host is never written), e.g. an ssh agent's socket.
 */
struct sandbox_bind {
	const char *host; /* made (mkdir -p) by sandbox_start() if missing */
	const char *at; /* absolute, without "." or ".." components */
	bool file;
};

#define SANDBOX_MAX_BINDS 32

struct sandbox_opts {
	const char *src; /* the directory of the sources on the host */
	const char *src_at; /* where it appears inside (/codebuild/output) */
	const char *rw_dir; /* bound read-write at its own path; or NULL */
	bool network_none; /* a network namespace with only lo */
	long pids; /* 0: no limit */
	long long memory; /* bytes; 0: no limit */
	long cpu_time; /* seconds of CPU per process; 0: no limit */
	const struct sandbox_bind *binds; /* e.g. the build's caches */
	size_t nbinds; /* at most SANDBOX_MAX_BINDS */
};

#define SANDBOX_OPTS_INIT                                                      \
	{                                                                      \
		NULL, NULL, NULL, false, 0, 0, 0, NULL, 0                      \
	}

struct sandbox {
	pid_t pid; /* the holder (pid 1 inside); 0 when not started */
	int ctl_fd; /* closing it tells the holder to end */
	char *note; /* which mechanism enforces the limits */
	char *cgroups[2]; /* cgroup directories made for the limits */
};

#define SANDBOX_INIT                                                           \
	{                                                                      \
		0, -1, NULL,                                                   \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}

/* 0 when the namespaces the sandbox needs can be made, else -1 and why. */
int sandbox_probe(struct sw_err *e);
/* A new "/codebuild/output/src<N>/src" with N random (caller frees). */
char *sandbox_src_path(void);
int sandbox_start(struct sandbox *s, const struct sandbox_opts *o,
		  struct sw_err *e);
/* What the limits did, e.g. "the pids limit refused 12 forks", from the
 * cgroups (before sandbox_stop()); NULL when they did nothing. The
 * caller frees it. */
char *sandbox_limit_events(const struct sandbox *s);
/* Kill everything in the sandbox, reap the holder, remove its cgroups. */
void sandbox_stop(struct sandbox *s);

/*
 * For proc_spawn() when o->sandbox is set and no user switch: start the
 * command inside the sandbox as a direct child of the caller, without
 * fork(): the caller's pid namespace for children is switched to the
 * holder's for a CLONE_VM|CLONE_VFORK child (as posix_spawn makes), which
 * joins the cgroups, the other namespaces, and execs. The command leads
 * a session and process group of its own (o->pgid cannot be joined from
 * inside; no controlling terminal).
 */
int sandbox_spawn(const struct proc_opts *o, pid_t *pid, struct sw_err *e);

/*
 * In a child of fork() (for proc_spawn with a user switch): join the holder's cgroups and
 * namespaces and fork again. Returns 0 in the grandchild, which is
 * inside (a session of its own without a terminal, no new privileges,
 * capabilities dropped, the seccomp filter); the intermediate
 * closes close_fd, waits for the grandchild, passes SIGTERM, SIGINT and
 * SIGHUP on to it and exits as it did. Returns -1 (errno set) when the
 * namespaces cannot be joined.
 */
int sandbox_enter(pid_t holder, int close_fd);

#endif
