/*
 * watch: run again when files change (inotify), for `build --watch` and
 * `validate --watch`.
 *
 *   struct watch w = WATCH_INIT;
 *   struct watch_opts wo = WATCH_OPTS_INIT;
 *   wo.root = "."; wo.skip = skip;          -- absolute paths left out
 *   if (watch_init(&w, &wo, &e) < 0) ...
 *   char what[4096];
 *   int rc = watch_next(&w, -1, what, sizeof(what));
 *   -- 1: a path that counts changed (what: relative to root), 0: the
 *      timeout passed, -1: slipway got SIGINT/SIGTERM (or a read failed)
 *   watch_release(&w);
 *
 *   int status;
 *   watch_build(&o, &status);              -- build --watch, until Ctrl-C
 *
 * A tree is watched recursively; directories made later are added as
 * they appear. Left out: every `.git`, the skip paths (the state
 * directory, -o's), and what the tree's git repository ignores
 * (.gitignore, .git/info/exclude), through libgit2. With files set,
 * only those files count (validate: their directories are watched, not
 * recursively).
 */
#ifndef SW_WATCH_H
#define SW_WATCH_H

#include <stddef.h>

#include "build.h"
#include "err.h"
#include "strvec.h"

struct watch_opts {
	const char *root; /* a directory */
	const char *const *skip; /* NULL-terminated absolute paths, or NULL */
	const char *const *files; /* NULL-terminated; or NULL: the tree */
};

#define WATCH_OPTS_INIT                                                        \
	{                                                                      \
		NULL, NULL, NULL                                               \
	}

struct watch {
	int fd; /* inotify */
	char *root; /* absolute */
	struct strvec dirs; /* by watch descriptor: dirs.v[wd] ("" unused) */
	struct strvec skip;
	struct strvec files; /* absolute */
	void *repo; /* git_repository *, or NULL */
	char *workdir; /* the repository's work tree, with a final '/' */
};

#define WATCH_INIT                                                             \
	{                                                                      \
		-1, NULL, STRVEC_INIT, STRVEC_INIT, STRVEC_INIT, NULL, NULL    \
	}

int watch_init(struct watch *w, const struct watch_opts *o, struct sw_err *e);
/* timeout_ms: -1 waits as long as it takes. */
int watch_next(struct watch *w, int timeout_ms, char *what, size_t n);
/* Read what else changes until quiet_ms pass without a change (at most
 * max_ms): an editor's save is several events. -1 on a stop signal. */
int watch_settle(struct watch *w, int quiet_ms, int max_ms);
void watch_release(struct watch *w);

/*
 * build --watch: build o (a local directory source), then again each
 * time a file under it changes, stopping a build still running (it is
 * STOPPED: the change made it stale). Each build prints one line on
 * stdout: its time, number, status, duration and why; build.log has the
 * rest. Ends at SIGINT/SIGTERM; *status is the last finished build's.
 * Returns -1 (status set) only when watching cannot start.
 */
int watch_build(const struct build_opts *o, int *status);

#endif
