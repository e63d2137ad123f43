/*
 * artifacts: the file list of a buildspec artifact and its zip
 * (reference codebuild.md section 4).
 *
 *   struct artifact_list l = ARTIFACT_LIST_INIT;
 *   struct artifact_digest d;
 *   if (artifacts_collect(&bs.artifacts, srcdir, &l, &e) < 0)
 *           goto out;           -- ERR_FAILED: refused path; ERR_SYSTEM: I/O
 *   if (!l.nr)
 *           ... "CLIENT_ERROR: no matching artifact paths found"
 *   if (artifacts_write_zip(&l, "out/artifacts.zip", &d, &e) < 0)
 *           goto out;
 *   report(d.sha256, d.md5, d.size, d.files);
 *   out:
 *   artifact_list_release(&l);
 *
 * Collection rules (the strings of the artifact are already expanded):
 *   - base-directory is relative to srcdir (or absolute, but then it must
 *     lie inside srcdir). It may be a glob over directories (`my-build*`);
 *     the contents of every matched directory are merged, in sorted
 *     order. A base-directory that matches nothing gives an empty list.
 *   - every `files` pattern is a glob.h pattern relative to each base
 *     directory (bare directories take their whole tree, dot-files are
 *     included). An absolute pattern must lie inside the base directory.
 *     Empty patterns are skipped.
 *   - `exclude-paths` are glob_match_tree() patterns over the path
 *     relative to the base directory (before discard-paths flattening).
 *   - discard-paths stores each file under its basename.
 *   - archive names are unique: the FIRST file to claim a name wins and
 *     later ones are dropped silently. This removes files matched by
 *     several patterns, and decides discard-paths collisions (and the same
 *     name in two merged base directories) in favour of the earlier base
 *     directory, then the earlier pattern, then strcmp order.
 *   - entries come in that order: base directory, pattern, sorted path.
 *
 * Safety: every entry must resolve inside srcdir (realpath of a file, or
 * of the parent of a symlink), else ERR_FAILED naming it. Symlinks:
 *   - enable-symlinks: stored as links; the target text is stored as
 *     written and never read (whoever extracts must not follow it out).
 *   - otherwise the target's content is stored under the link's name; the
 *     target must exist and resolve inside srcdir, else ERR_FAILED. A
 *     symlink to a directory is skipped (its tree is not followed).
 */
#ifndef SW_ARTIFACTS_H
#define SW_ARTIFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buildspec.h"
#include "err.h"

struct artifact_entry {
	char *path; /* absolute file on disk (the link itself if is_symlink) */
	char *name; /* path in the archive, relative, '/'-separated */
	bool is_symlink; /* store as a symlink, not as content */
};

struct artifact_list {
	struct artifact_entry *v;
	size_t nr, alloc;
};

#define ARTIFACT_LIST_INIT                                                     \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void artifact_list_release(struct artifact_list *l);

/*
 * Append the entries of artifact `a` under source directory `srcdir` to
 * `out` (which the caller releases, also on failure). Returns 0 with
 * out->nr unchanged when nothing matches.
 */
int artifacts_collect(const struct bs_artifact *a, const char *srcdir,
		      struct artifact_list *out, struct sw_err *e);

struct artifact_digest {
	char sha256[65];
	char md5[33];
	off_t size; /* bytes of the zip */
	size_t files; /* entries of the list (implied directories not counted) */
};

/*
 * Write the entries as a zip at `dest` (its directory must exist): modes,
 * mtimes, a directory entry for every parent of a name (as zip -r does),
 * symlinks as links where is_symlink. Already-compressed files (.zip .gz
 * .tgz .bz2 .xz .zst .jar .war .png .jpg .jpeg .gif .webp .mp4 .woff2 .7z,
 * any case) are stored, the rest deflated. The zip is written to
 * "<dest>.tmp.<pid>", fsync'd and renamed over dest; on any failure dest
 * is untouched and the temporary file removed. *d (may be NULL) gets the
 * digests and size of the final file. Errors: ERR_SYSTEM, with the file
 * and libarchive's or the system's message.
 */
int artifacts_write_zip(const struct artifact_list *l, const char *dest,
			struct artifact_digest *d, struct sw_err *e);

#endif
