/*
 * retire: keep old build trees off the critical path.
 *
 *   -- after a build's source step:
 *   if (retire_old_builds(state_dir, project, keep, &e) < 0)
 *           warn(e.msg);                  -- never worth failing a build
 *
 *   retire_detached(fn, data);           -- fn runs in a detached process
 *
 * Deleting a big tree on ext4 takes seconds. retire_old_builds() keeps
 * the source trees (codebuild/, and src/ of builds made before that
 * layout) of the newest `keep` builds of a project (the current one
 * included) and moves the others' to <state>/trash/ (a rename, O(1));
 * report.json, build.log and artifacts stay. A detached process at the
 * lowest CPU and I/O priority then empties <state>/trash/.
 *
 * Detached means: double fork, setsid, stdio on /dev/null, every other
 * descriptor closed, signals reset, nice 19, I/O class idle, and not a
 * child of this process (slipway is a child subreaper; the reaper role is
 * dropped while forking, so the build's orphan sweep never sees it).
 */
#ifndef SW_RETIRE_H
#define SW_RETIRE_H

#include <stddef.h>

#include "err.h"

/* Default of `keep`, overridden by SLIPWAY_KEEP_BUILDS. */
#define RETIRE_KEEP_DEFAULT 10

typedef void (*retire_fn)(void *data);

/*
 * Retire all but the newest `keep` build trees of project (keep < 1 is
 * taken as 1; a negative keep reads SLIPWAY_KEEP_BUILDS, else
 * RETIRE_KEEP_DEFAULT). A build counts once it has a source tree; one
 * without report.json is still running and is kept unless its build.log is
 * a day old. Fails only when trash/ cannot be made; a tree that cannot be
 * moved is left where it is.
 */
int retire_old_builds(const char *state_dir, const char *project, int keep,
		      struct sw_err *e);

/*
 * retire_old_builds(), calling fn(build_dir, data) for each build it
 * retires before its trees go to the trash: fn may move a tree it can
 * use again out of the build's directory (a retired source tree is the
 * next build's, see mirror.h).
 */
typedef void (*retire_build_fn)(const char *build_dir, void *data);
int retire_old_builds_with(const char *state_dir, const char *project, int keep,
			   retire_build_fn fn, void *data, struct sw_err *e);

/*
 * Move path into <state_dir>/trash/ and start the deleter. A missing path
 * is not an error.
 */
int retire_tree(const char *state_dir, const char *path, struct sw_err *e);

/*
 * Run fn(data) in a detached low-priority process (see above) and return
 * once it is detached. fn runs in a copy of this process and must not
 * return to its callers: the process exits after fn. Returns 0 or -1
 * when fork fails.
 */
int retire_detached(retire_fn fn, void *data);

/*
 * retire_detached(), the nkeep descriptors of keep (each >= 3; the array
 * may be reordered) left open in the detached process: a lock taken
 * before is held by the worker alone once the caller closes its copy.
 */
int retire_detached_fds(retire_fn fn, void *data, int *keep, size_t nkeep);

#endif
