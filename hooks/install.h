/*
 * install: the Install lifecycle event of the CodeDeploy agent (reference
 * codedeploy.md sections 1.3, 1.4, 2.5, 4.2 and 4.3), onto a host whose
 * filesystem view is a directory (the host root: "/" for this machine, or
 * a rehearsal host's root/).
 *
 *   struct install_opts o = INSTALL_OPTS_INIT;
 *   o.spec = &appspec;                   -- parsed from the archive
 *   o.archive_dir = ".../<dg-id>/<dep-id>/deployment-archive";
 *   o.host_root = "/srv/rehearsal/web-1"; -- or "/" (or NULL)
 *   o.instructions_dir = ".../deployment-root/deployment-instructions";
 *   o.group_id = "<dg-id>";
 *   o.feb = APPSPEC_FEB_OVERWRITE;       -- --file-exists-behavior, or UNSET
 *   struct install_result r = INSTALL_RESULT_INIT;
 *   if (install_run(&o, &r, &e) < 0)
 *           ... the Install event failed: e.msg (the agent's wording)
 *   ... r.copied, r.mkdirs, ... for the summary
 *
 * Paths. Every path the appspec names (a `files` destination, a
 * `permissions` object) and every path written to the cleanup file and to
 * install.json is a path as the host sees it ("/var/www/index.html"). On
 * disk it is resolved under host_root as if host_root were "/": a
 * symbolic link met on the way (absolute or relative) resolves inside
 * host_root, never outside it (openat2 RESOLVE_IN_ROOT), and the last
 * component of anything written or removed is never followed. With
 * host_root "/" this is plain installation onto this machine.
 *
 * Steps, in the agent's order:
 * 1. <instructions_dir>/<group_id>-cleanup, if there, is read (a last line
 *    without "\n" is a torn write and dropped), its paths are removed in
 *    reverse order (a file or symlink is unlinked, a directory is removed
 *    only when empty, a missing path is ignored; "semanage\0<path>" lines
 *    drop an SELinux file context, ignored without SELinux), then the
 *    cleanup file is deleted.
 * 2. The plan is made, before anything new is written: for each `files`
 *    entry, a file source lands at <destination>/<basename>, a directory
 *    source copies its contents into destination (recursively; "." is the
 *    whole archive, appspec and scripts included, as with the agent);
 *    missing ancestors of a destination are mkdir instructions. Then, per
 *    file whose target exists: DISALLOW fails ("The deployment failed
 *    because a specified file already exists at this location: <path>"),
 *    OVERWRITE copies over it, RETAIN skips it. The effective behaviour
 *    is the appspec's file_exists_behavior, else o->feb, else DISALLOW.
 *    Existing directories are reused and never recorded. Conflicts fail
 *    the plan: two sources for one target, a file where a directory must
 *    be, a directory where a file must be, the same permission object
 *    twice. Permissions are planned against the targets this install
 *    creates only (copy and mkdir targets): the object itself is never
 *    included unless it is a copied file, pattern "**" matches all
 *    descendants, any other pattern (and every except entry) is a glob
 *    with "*" only that matches immediate children.
 * 3. <group_id>-install.json is written (atomically):
 *    {"instructions":[{"type":"mkdir","directory":P},
 *    {"type":"copy","source":S,"destination":P}, {"type":"chmod",
 *    "mode":"0644","file":P}, {"type":"setfacl",...}, {"type":"chown",
 *    "owner":U,"group":G,"file":P}, ...]} as the agent's.
 * 4. The plan is executed, appending to a fresh <group_id>-cleanup as it
 *    goes (a copy's line before the copy, a mkdir's line after it), so
 *    that a crash leaves a cleanup file the next install can undo. Copies
 *    keep mode (setuid/setgid included only when the archive has them),
 *    mtime and, when run as root, owner; a symbolic link is recreated
 *    with the same target (a link to a directory too: a deliberate
 *    deviation, the agent copies what it points to). A file replaced by
 *    OVERWRITE is written to a temporary name beside it and renamed over
 *    it; a symlink in its place is replaced, never written through.
 *    Permissions follow all copies and mkdirs, per object in the agent's
 *    order: chmod, ACLs (setfacl entries, base entries kept from the
 *    mode), SELinux context, chown/chgrp. A context on a host without
 *    SELinux is skipped with a note.
 *
 * Deliberate differences from the agent, all in the safe direction:
 * owner, group and ACL user and group names are looked up (on this
 * machine) while planning, so an unknown name fails before anything is
 * written; a directory where a file must go fails under OVERWRITE and
 * RETAIN too, and a file where a directory must go fails in the plan; a
 * copied symbolic link takes only owner and group from a permission
 * rule (its mode, ACL and context would be those of whatever it points
 * to); setuid/setgid bits of a rule's mode are set again after its chown
 * (which clears them); an ACL without a mask entry gets the mask that
 * setfacl computes (the union of the group-class entries; the agent
 * forces the group bits of the mode). An SELinux context is given to the
 * object's real path on this machine, which is what the cleanup file
 * records for it. Directories are created with mode 0777 less the umask,
 * as the agent does.
 *
 * Link with libacl (pkg-config libacl: -lacl).
 *
 * A failure in step 2 leaves the previous install removed and no cleanup
 * file, as the agent does; install.json is then not rewritten. Errors are
 * ERR_FAILED (the deployment's fault: a conflict, an unknown user or
 * group, a refused ACL) or ERR_SYSTEM (the disk), with one line that
 * names the host path.
 */
#ifndef SW_INSTALL_H
#define SW_INSTALL_H

#include <stddef.h>

#include "appspec.h"
#include "err.h"
#include "strvec.h"

/* A note about the install (a skipped SELinux context, ...): one line
 * without a newline, valid during the call only. */
typedef void (*install_note_fn)(const char *line, void *data);

struct install_opts {
	const struct appspec *spec;
	const char *archive_dir; /* absolute, the unpacked revision */
	const char *host_root; /* absolute; NULL: "/" */
	const char *instructions_dir; /* absolute; created if missing */
	const char *group_id; /* names <group_id>-cleanup, -install.json */
	enum appspec_feb feb; /* the deployment's option; UNSET: DISALLOW */
	install_note_fn note; /* may be NULL */
	void *note_data;
};

#define INSTALL_OPTS_INIT                                                      \
	{                                                                      \
		.feb = APPSPEC_FEB_UNSET                                       \
	}

struct install_result {
	size_t removed; /* paths of the previous install removed */
	size_t kept; /* previous directories kept (not empty) */
	size_t copied; /* files and symlinks copied */
	size_t mkdirs; /* directories created */
	size_t overwritten; /* existing files replaced (OVERWRITE) */
	size_t retained; /* existing files kept (RETAIN) */
	size_t permissions; /* chmod/setfacl/context/chown operations */
};

#define INSTALL_RESULT_INIT                                                    \
	{                                                                      \
		0                                                              \
	}

/* Run the Install event. 0, or -1 with *e (ERR_FAILED or ERR_SYSTEM). */
int install_run(const struct install_opts *o, struct install_result *r,
		struct sw_err *e);

/*
 * The entries of a cleanup file's text, in file order, as install_run()
 * reads them: a torn last line dropped, empty lines skipped, a
 * "semanage\0<path>" entry given as "semanage:<path>" (host paths are
 * absolute, so the two cannot be confused). Exposed for tests and the
 * fuzzer; ERR_FAILED for a line that is not an absolute path.
 */
int install_cleanup_parse(const char *data, size_t len, struct strvec *out,
			  struct sw_err *e);

#endif
