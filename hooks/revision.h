/*
 * revision: check a deployment bundle (a revision) as a whole before any
 * host gets it, so that a mistake in it stops the deployment before a
 * host is touched.
 *
 *   struct revision_check rc = REVISION_CHECK_INIT;
 *   struct sw_err e = SW_ERR_INIT;
 *
 *   if (revision_check("app.zip", "app.zip", &bo, scratch_dir, &rc, &e) < 0)
 *           fail(e.code, e.msg);    -- ERR_SPEC: "bundle app.zip: ..."
 *   for (size_t i = 0; i < rc.notes.nr; i++)
 *           warn(rc.notes.v[i]);
 *   revision_check_release(&rc);
 *
 * What is checked: the bundle is one a host would unpack (bundle_unpack()
 * with the same options: safe names, links and bounds; an appspec at its
 * root); the appspec is valid (appspec_load_as(), as validate reads it);
 * every hook script's location names a regular file in the bundle; every
 * `files` source exists in it. Destinations are absolute and free of ".."
 * by the appspec's rules, so each lies inside every host's root. A hook
 * script that is not executable is a note, not an error: the agent makes
 * it executable before it runs it, as CodeDeploy's does.
 *
 * The bundle (an archive or a directory) is unpacked into a fresh
 * directory under scratch (created, then removed with all it holds; NULL:
 * $TMPDIR or /tmp), with bundle_unpack()'s messages. Nothing else is
 * written.
 */
#ifndef SW_REVISION_H
#define SW_REVISION_H

#include <stddef.h>

#include "appspec.h"
#include "bundle.h"
#include "err.h"
#include "strvec.h"

struct revision_check {
	enum bundle_kind kind;
	struct appspec spec; /* the bundle's appspec, as read */
	struct strvec notes; /* appspec warnings, scripts not executable */
};

#define REVISION_CHECK_INIT                                                    \
	{                                                                      \
		.kind = BUNDLE_UNKNOWN                                         \
	}

/*
 * Check bundle (a path); name is how messages call it (NULL: bundle). o
 * may be NULL for the defaults. Fails with ERR_SPEC naming the bundle
 * and what is wrong (the appspec's file:line:col where there is one),
 * ERR_SYSTEM for the disk; *rc then holds nothing to release.
 */
int revision_check(const char *bundle, const char *name,
		   const struct bundle_opts *o, const char *scratch,
		   struct revision_check *rc, struct sw_err *e);

/* Free what *rc holds and reset it; safe to call twice. */
void revision_check_release(struct revision_check *rc);

#endif
