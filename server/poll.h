/*
 * poll: change detection for sources that cannot send webhooks
 * (slipway.poll: 60s; docs/webhooks.md "Polling").
 *
 *   struct wh_start *starts; size_t nr;
 *   every pl->poll_seconds:
 *           if (poll_check(pl, i, state_dir, &starts, &nr, &e) < 0)
 *                   log(e.msg);             -- try again next time
 *           for each start: queue pls[starts[k].pipeline] at its revision
 *           for each start: wh_start_release(&starts[k]); free(starts);
 *
 * For each source action of pl whose binding is a git repository (a URL
 * or a path), the remote's refs are listed through libgit2 (ls-remote,
 * no objects transferred) and compared with the commits last seen
 * (<state_dir>/slipway.db, table poll_heads). Nothing changed: no fetch,
 * no start. A ref that moved (or appeared) is fetched once into the
 * source's mirror (<state_dir>/sources, mirror.h), its changed files
 * computed from the two commits, and the pipeline's triggers applied as
 * to a webhook push (without triggers: the action's BranchName only).
 * The first check of a source records what is there and starts
 * nothing. A deleted ref is forgotten. index is the pipeline's index,
 * copied to wh_start.pipeline. On failure (unreachable remote) -1, *e
 * set, the recorded heads unchanged and *starts NULL.
 */
#ifndef SW_SERVER_POLL_H
#define SW_SERVER_POLL_H

#include <stddef.h>

#include "err.h"
#include "webhook.h"

struct pipeline;

int poll_check(struct pipeline *pl, size_t index, const char *state_dir,
	       struct wh_start **starts, size_t *nr, struct sw_err *e);

#endif
