/*
 * state: the state directory (DESIGN.md "The state directory").
 *
 *   struct state st = STATE_INIT;
 *   if (state_open(&st, opt_state_dir, &e) < 0) ...  -- created if absent
 *   long n;
 *   state_next_build_number(&st, "myproj", &n, &e);  -- 1, 2, 3 ...
 *   char *uuid = state_uuid();                        -- caller frees
 *   char *dir = state_build_dir(&st, "myproj:<uuid>"); -- caller frees
 *   state_release(&st);
 *
 * The directory is --state-dir, else $SLIPWAY_STATE_DIR, else ./.slipway.
 * Build numbers are counted under a lock (flock) so that concurrent
 * builds of one project get distinct numbers.
 */
#ifndef SW_STATE_H
#define SW_STATE_H

#include <stdbool.h>

#include "err.h"
#include "strvec.h"

struct state {
	char *dir; /* absolute */
};

#define STATE_INIT                                                             \
	{                                                                      \
		NULL                                                           \
	}

int state_open(struct state *st, const char *dir, struct sw_err *e);
/* The absolute path state_open() would use, without creating it. */
char *state_path(const char *dir);
void state_release(struct state *st);

int state_next_build_number(struct state *st, const char *project, long *n,
			    struct sw_err *e);

/* A random (version 4) UUID, lowercase. */
char *state_uuid(void);

/*
 * A build's directory is builds/<project>-<uuid>: the id with ':' made
 * '-', because CODEBUILD_SRC_DIR lies inside it and a ':' would split
 * PATH-like lists. builds/<project>:<uuid> is a symlink to it
 * (state_link_build) so that the id finds it too.
 */
char *state_build_name(const char *build_id);
char *state_build_dir(const struct state *st, const char *build_id);
int state_link_build(const struct state *st, const char *build_id,
		     struct sw_err *e);

/* The directory names (state_build_name) of past builds holding a
 * report.json, oldest first by report time. */
int state_list_builds(const struct state *st, struct strvec *ids,
		      struct sw_err *e);

/* The ids of past deployments (deployments/<id>/report.json), oldest
 * first by report time. */
int state_list_deployments(const struct state *st, struct strvec *ids,
			   struct sw_err *e);

/*
 * The builds (or deployments) of state_list_builds() (or _deployments())
 * and those that have a log but no report: running, or ended without one
 * (slipway was killed); oldest first by report time, else log time.
 */
int state_list_records(const struct state *st, bool deployments,
		       struct strvec *ids, struct sw_err *e);

#endif
