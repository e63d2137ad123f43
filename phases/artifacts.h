/*
 * artifacts: the file list of a buildspec artifact and its zip, tar or
 * directory (reference codebuild.md section 4).
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
 *
 *   -- or in another packaging, with a progress line:
 *   enum artifact_packaging p;
 *   struct artifact_write_opts o = ARTIFACT_WRITE_OPTS_INIT;
 *   if (artifact_packaging_parse("tar.zst", &p) < 0)
 *           ... usage error
 *   o.progress = draw_line;     -- at most ~10 calls a second, and a last
 *   o.data = term;              -- one with everything done
 *   dest = xasprintf("out/artifacts%s", artifact_packaging_ext(p));
 *   if (artifacts_write(&l, dest, p, &o, &d, &e) < 0)
 *           goto out;
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
#include <stdint.h>
#include <sys/types.h>

#include "buildspec.h"
#include "err.h"

struct artifact_entry {
	char *path; /* absolute file on disk (the link itself if is_symlink) */
	char *name; /* path in the archive, relative, '/'-separated */
	bool is_symlink; /* store as a symlink, not as content */
	off_t size; /* bytes when collected (progress only; 0 for links) */
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

enum artifact_packaging {
	ARTIFACT_ZIP,
	ARTIFACT_TAR_GZ,
	ARTIFACT_TAR_ZST,
	ARTIFACT_NONE /* a plain directory tree */
};

/* "zip", "tar.gz", "tar.zst" or "none" (exactly). Returns 0, or -1 and
 * leaves *out alone. */
int artifact_packaging_parse(const char *s, enum artifact_packaging *out);

/* The name as parse() takes it: "zip", "tar.gz", "tar.zst", "none". */
const char *artifact_packaging_name(enum artifact_packaging p);

/* The file name suffix: ".zip", ".tar.gz", ".tar.zst", "" for none. */
const char *artifact_packaging_ext(enum artifact_packaging p);

/*
 * Progress of artifacts_write(): content bytes read so far out of the
 * sizes seen by artifacts_collect() (bytes_total grows if a file did), and
 * entries done. Called on the caller's thread at most every 100 ms, and
 * once more at the end with everything done (not after a failure). It
 * must not call back into this module.
 */
typedef void artifact_progress_fn(uint64_t bytes_done, uint64_t bytes_total,
				  size_t files_done, size_t files_total,
				  void *data);

struct artifact_write_opts {
	artifact_progress_fn *progress; /* NULL: none */
	void *data; /* passed to progress */
	int level; /* 0: the packaging's default (zip 2, gzip 6, zstd 3) */
	int threads; /* tar.zst workers; 0: one per CPU we may run on */
};

#define ARTIFACT_WRITE_OPTS_INIT                                               \
	{                                                                      \
		NULL, NULL, 0, 0                                               \
	}

struct artifact_digest {
	char sha256[65];
	char md5[33];
	off_t size; /* bytes of the archive; none: of the files copied */
	size_t files; /* entries of the list (implied directories not counted) */
};

/*
 * Write the entries at `dest` (its directory must exist) in packaging p.
 * o and d may be NULL. On success *d gets the sha256, md5 and size of the
 * archive file; on any failure dest is untouched and nothing temporary is
 * left. Errors: ERR_SYSTEM, with the file and libarchive's or the system's
 * message.
 *
 * Every archive holds modes, mtimes, a directory entry for every parent
 * of a name (as zip -r and tar do) and symlinks as links where
 * is_symlink. It is written to the temporary fs_tmp_name(dest) (locked
 * while written, see fs.h), fsync'd and renamed over dest.
 *
 * zip: deflate at level 2 (libarchive's zip:compression-level) unless the
 * entry is stored: by name, already-compressed types (.zip .gz .tgz .bz2
 * .xz .zst .jar .war .png .jpg .jpeg .gif .webp .mp4 .woff2 .7z, any
 * case); by size, empty files; by content, when an estimate of deflate
 * over the first 64 KiB (4-byte matches in a 32 KiB window, then the
 * order-0 entropy of what is left, or fixed Huffman codes for small
 * files) saves less than 3% - random or compressed data under any name,
 * and files of a few dozen bytes that deflate would make bigger.
 *
 * tar.gz, tar.zst: a pax (restricted) tar: plain ustar headers, pax
 * extended headers only for what ustar cannot hold (long names, big
 * files); owner 0:0 without names, mtimes in whole seconds. gzip at level
 * 6 without a timestamp in its header; zstd at level 3 with `threads`
 * workers (libarchive's zstd:threads; if a libarchive refuses the option
 * the stream is compressed on one thread).
 *
 * none: dest becomes a directory holding the tree: files copied (the
 * build directory may be deleted later; copy_file_range, so a filesystem
 * that can share extents does), symlinks recreated only for is_symlink
 * entries, directories 0755. It is built in fs_tmp_name(dest), synced
 * (syncfs) and put in place with one atomic exchange of names, or, where
 * the filesystem cannot exchange, by renaming an existing dest aside to
 * fs_tmp_name("<dest>.old") first; the old tree is deleted afterwards. An
 * existing dest of any type is replaced. The digest is over a canonical
 * listing, not over contents: for every entry in strcmp() order of name,
 *     name NUL type('f'|'l') NUL perm(octal) NUL size NUL mtime(s) NUL
 *     target NUL
 * (size 0 and the link text for links, an empty target for files); size
 * is the total of the file sizes.
 */
int artifacts_write(const struct artifact_list *l, const char *dest,
		    enum artifact_packaging p,
		    const struct artifact_write_opts *o,
		    struct artifact_digest *d, struct sw_err *e);

/* artifacts_write(l, dest, ARTIFACT_ZIP, NULL, d, e). */
int artifacts_write_zip(const struct artifact_list *l, const char *dest,
			struct artifact_digest *d, struct sw_err *e);

#endif
