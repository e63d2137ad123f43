/*
 * mountns: a mount namespace of the process's own for the length of one
 * build, and overlay mounts in it, so that what is mounted is seen by
 * this process and the children it starts and by no one else.
 *
 *   struct mountns ns = MOUNTNS_INIT;
 *   if (mountns_enter(&ns, &e) < 0) ...        -- no namespace: say why
 *   const char *lowers[] = { tree, target };
 *   if (mountns_overlay(&ns, lowers, 2, upper, work, target, &e) < 0) ...
 *   mountns_graft(sandbox_pid, target, "/codebuild/.../node_modules", &e);
 *   ... the build, the cache save, the artifacts: all see the overlay ...
 *   mountns_leave(&ns);                        -- unmounted, back home
 *
 * mountns_enter() unshares the mount namespace of the calling process
 * (it must have one thread: unshare(2) refuses otherwise) and makes
 * every mount in the copy private, so nothing mounted in it reaches the
 * machine's namespace. mountns_leave() detaches what was mounted and
 * joins the namespace the process came from again (the working
 * directory is kept). A process killed meanwhile takes its namespace
 * with it: nothing of it is ever mounted where the machine sees it.
 * Inside, a descriptor opened before entering stands for the mounts of
 * the namespace we came from: renameat()/linkat() between it and a path
 * or descriptor opened inside fail with EXDEV. Open what is renamed
 * between on one side. Processes started inside (and the ones they
 * start) stay in the namespace; one that outlives us keeps it, and what
 * is still mounted there, alive, for itself alone.
 *
 * $SLIPWAY_TEST_NO_OVERLAY (tests only), set and not empty: every
 * mountns_overlay() fails as a kernel refusing overlays would (EPERM);
 * set to "graft": every mountns_graft() does instead; "graft:N": only
 * the Nth mountns_graft() of the process does; "graft:N:stuck": so
 * does every mountns_ungraft() (EBUSY) too.
 */
#ifndef SW_MOUNTNS_H
#define SW_MOUNTNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "strvec.h"

#define MOUNTNS_TEST_NO_OVERLAY_ENV "SLIPWAY_TEST_NO_OVERLAY"

struct mountns {
	int home_fd; /* the namespace we came from; -1: not entered */
	int cwd_fd; /* the working directory there */
	struct strvec mounts; /* what we mounted, to detach on leave */
};

#define MOUNTNS_INIT                                                           \
	{                                                                      \
		-1, -1, STRVEC_INIT                                            \
	}

/* Unshare the mount namespace: 0, or -1 (ERR_SYSTEM) with why. */
int mountns_enter(struct mountns *ns, struct sw_err *e);
/* Whether ns was entered and not left. */
bool mountns_active(const struct mountns *ns);
/*
 * Mount an overlay on target (a directory): lowers[0] on top of
 * lowers[1] and so on, read-only; changes go to upper, with work its
 * work directory (both existing, empty, on one file system). Without
 * the overlay index (each file of the view is its own: a write to one
 * never shows in another, whatever the lower layers link). A directory
 * of a lower layer is renamed by redirect where the kernel allows it.
 * Paths holding ',' ':' or '\' are refused (EINVAL). ns must be entered.
 */
int mountns_overlay(struct mountns *ns, const char *const *lowers, size_t n,
		    const char *upper, const char *work, const char *target,
		    struct sw_err *e);
/*
 * A copy of the mount at host_path (in our namespace) mounted at `at`
 * in the mount namespace of process pid (e.g. a sandbox's holder); `at`
 * must be a directory there. Done by a child that joins that namespace.
 */
int mountns_graft(pid_t pid, const char *host_path, const char *at,
		  struct sw_err *e);
/* Detach what mountns_graft() mounted at `at` in process pid's
 * namespace (lazily, as mountns_leave() does). */
int mountns_ungraft(pid_t pid, const char *at, struct sw_err *e);
/* Detach the overlay ns mounted at target before leaving: it is no
 * longer detached by mountns_leave(). -1 when ns did not mount it. */
int mountns_unmount(struct mountns *ns, const char *target, struct sw_err *e);
/* Detach what ns mounted and join the namespace we came from again.
 * Safe on MOUNTNS_INIT and when entering failed. */
void mountns_leave(struct mountns *ns);

#endif
