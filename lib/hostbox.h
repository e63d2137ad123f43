/*
 * hostbox: a rehearsal host as a sandbox that thinks it is a machine. A
 * detached holder process is pid 1 of the host's own pid namespace (with
 * its own mount, ipc and uts namespaces, and a network namespace when
 * asked) and lives until the host is stopped, so a daemon that a hook
 * starts lives as long as the host, not as long as the hook.
 *
 *   struct hostbox_opts o = HOSTBOX_OPTS_INIT;
 *   o.name = "web-1"; o.root = ".../hosts/web-1/root";
 *   o.work = ".../hosts/web-1/work"; o.agent_root = ".../deployment-root";
 *   pid_t pid;
 *   if (hostbox_start(&o, &pid, &e) < 0) ...   -- ERR_SYSTEM with why
 *   ... sandbox_enter(pid, -1) in a child: it is on the host ...
 *   hostbox_stop(pid, hostbox_starttime(pid), 5000, &e);
 *
 * The view, inside: root is "/". This machine's system directories
 * (/usr, /etc, and /bin, /sbin, /lib* where they are directories) are
 * overlays: this machine's files read-only underneath, the host's own
 * changes on top, kept in root/usr, root/etc (their work directories in
 * work/). Where the machine has a link (/bin -> usr/bin) the host gets
 * the same link. /var, /opt, /srv, /home, /root, /tmp and the rest of
 * root are the host's own (a skeleton /var is made on first start).
 * /proc is fresh, /dev minimal, /sys a read-only sysfs, /run a tmpfs,
 * and agent_root is bound at HOSTBOX_AGENT_ROOT. The hostname is name.
 *
 * Stopping: a TERM to the holder sends TERM to every process of the host,
 * waits for them up to its grace period, then ends, and the kernel kills
 * whatever is left.
 */
#ifndef SW_HOSTBOX_H
#define SW_HOSTBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

#define HOSTBOX_AGENT_ROOT "/opt/codedeploy-agent/deployment-root"

struct hostbox_opts {
	const char *name; /* the hostname inside */
	const char *root; /* absolute: the host's "/" */
	const char *work; /* absolute, on root's filesystem: overlay work */
	const char *agent_root; /* absolute: bound at HOSTBOX_AGENT_ROOT */
	bool network; /* a network namespace of its own (only lo up) */
	int grace_ms; /* on TERM: how long the host's processes get */
};

#define HOSTBOX_OPTS_INIT                                                      \
	{                                                                      \
		NULL, NULL, NULL, NULL, false, 5000                            \
	}

/* 0 when a host's namespaces can be made here, else -1 and why (the
 * build sandbox's probe without the network namespace, which costs). */
int hostbox_probe(struct sw_err *e);
/* Start the holder, detached from us (its own session, not our child);
 * *pid is its pid here. */
int hostbox_start(const struct hostbox_opts *o, pid_t *pid, struct sw_err *e);
/* The start time of pid (/proc/pid/stat field 22), 0 when there is no
 * such process: a pid and its start time name one process for ever. */
unsigned long long hostbox_starttime(pid_t pid);
/* True when pid is the holder that started at start (a live one). */
bool hostbox_alive(pid_t pid, unsigned long long start);
/*
 * TERM the holder and wait for it to end (its grace, then a second
 * more), then KILL it. 0 when it is gone (or was already); -1 when it
 * would not go.
 */
int hostbox_stop(pid_t pid, unsigned long long start, int grace_ms,
		 struct sw_err *e);

#endif
