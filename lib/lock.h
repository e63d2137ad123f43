/*
 * lock: a lock a process holds on one thing (a deployment group, a host)
 * while it works on it, that nobody else can take meanwhile, and that
 * ends with the process however it ends.
 *
 *   struct lock l = LOCK_INIT;
 *   struct lock_holder h = LOCK_HOLDER_INIT;
 *   int r = lock_try(&l, "/state/locks/group-g1.lock", "d-1", NULL, &h, &e);
 *   if (r < 0) ...                     -- ERR_SYSTEM, why in e
 *   if (r == LOCK_BUSY) ...            -- h names the holder
 *   if (r == LOCK_TAKEN && h.id) ...   -- taken over from h, which ended
 *                                         without releasing it
 *   lock_holder_release(&h);
 *   ... work ...
 *   lock_release(&l);
 *
 * A lock is flock(2) on a file: the kernel drops it when the last
 * descriptor of the holder's open file goes, so a holder killed with
 * SIGKILL holds nothing. The file says who holds it, one line
 * "<id> <pid>[ <note>]", written once the lock is taken; lock_release
 * removes it (a taker that opened it meanwhile sees it gone once it has
 * the lock, and opens it anew). A file still there when its lock is free
 * was left by a holder that died: lock_try takes it over and says whose
 * it was. lock_sweep holds a dead holder's file for a moment before it
 * removes it: a taker that finds it busy with a holder that is gone
 * looks again for a while (about 200 ms) before it says busy.
 *
 * The descriptor is O_CLOEXEC: a program the holder runs does not hold
 * the lock. A child forked without exec shares it (and keeps the lock
 * while it runs, even past the holder's end).
 */
#ifndef SW_LOCK_H
#define SW_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

struct lock {
	int fd; /* -1: not held */
	char *path;
};

#define LOCK_INIT                                                              \
	{                                                                      \
		-1, NULL                                                       \
	}

/* Who holds (or held) a lock, from its file. */
struct lock_holder {
	char *id; /* NULL: the file names nobody */
	pid_t pid; /* 0: not said */
	char *note; /* the rest of the line, or NULL */
	bool gone; /* no process pid runs here */
};

#define LOCK_HOLDER_INIT                                                       \
	{                                                                      \
		NULL, 0, NULL, false                                           \
	}

enum { LOCK_TAKEN = 0, LOCK_BUSY = 1 };

/*
 * Take the lock at path without waiting; the file is made (0644) if
 * missing, its directory must exist, and a symbolic link there is
 * refused. id (one word) and note (NULL or a line) go into the file with
 * this process's pid. Returns LOCK_TAKEN (l holds it; *prev names the
 * holder that ended without releasing it, prev->id NULL when none),
 * LOCK_BUSY (*prev names the holder) or -1. *prev (LOCK_HOLDER_INIT, or
 * a holder from before) is released first and belongs to the caller.
 */
int lock_try(struct lock *l, const char *path, const char *id, const char *note,
	     struct lock_holder *prev, struct sw_err *e);

/* Remove the file and let go. No-op on a lock not held. */
void lock_release(struct lock *l);

/*
 * Remove the files <prefix>*.lock in dir that nobody holds and that were
 * last written more than max_age_s seconds ago: the lines of holders
 * that died, whose thing nobody locked since. Best effort, silent.
 */
void lock_sweep(const char *dir, const char *prefix, long max_age_s);

#define LOCK_DIR_ROOT "/run/slipway/locks"

/*
 * This machine's directory for locks that are not any one state
 * directory's (hosts): $SLIPWAY_LOCK_DIR when set, else for root
 * LOCK_DIR_ROOT, else $XDG_RUNTIME_DIR/slipway/locks, else
 * /tmp/slipway-<uid>/locks; made when missing. A directory of someone
 * else's, or writable by all, is passed over. Caller frees; NULL and
 * ERR_SYSTEM when none can be used.
 */
char *lock_dir(struct sw_err *e);

/* Parse a holder's line "<id> <pid>[ <note>]" (to the first newline). */
void lock_holder_parse(const char *text, struct lock_holder *h);

/*
 * "deployment 'd-1' (process 12, run r-2)"-like words for a holder:
 * "<what> '<id>' (process <pid>[, <note>])", or for a holder whose
 * process is gone "(process <pid> is gone[, <note>])". Caller frees.
 */
char *lock_holder_describe(const struct lock_holder *h, const char *what);

void lock_holder_release(struct lock_holder *h);

#endif
