/*
 * glob: CodeBuild artifact path patterns over '/'-separated relative
 * paths (reference codebuild.md section 4).
 *
 *   if (glob_match("dist / ** / *.js", "dist/a/b.js")) ...
 *
 *   struct strvec files = STRVEC_INIT;
 *   if (glob_expand(srcdir, "build / ** / *", &files, &e) < 0)
 *           return -1;          -- ERR_FAILED: bad pattern; ERR_SYSTEM: I/O
 *   for (size_t i = 0; i < files.nr; i++)
 *           use(files.v[i]);    -- "build/a.txt", relative to srcdir
 *   strvec_release(&files);
 *
 * Pattern language, one path component at a time (a slash next to a star is
 * spaced out in this comment only, as C comments cannot hold it):
 *   - `*`, `?` and `[...]` match within one component (fnmatch(3), with
 *     `\` escaping); they never cross '/'.
 *   - `**` as a whole component matches zero or more components:
 *     `** / *` is every file, `dir / ** / *` everything under dir,
 *     `** / x / ** / *` everything under any directory named x. `**`
 *     inside a component (`**.js`) is the same as `*`.
 *   - Dot-files are ordinary names: `*` matches `.env` and `** / *` takes
 *     `.git/` too (CodeBuild's `** / *` includes dot-files); leave them out
 *     with exclude patterns such as `** / .*` or `** / .git / ** / *`.
 *   - A leading `./`, repeated slashes, `.` components and a trailing
 *     slash are ignored. `a/../b` is `b`; a `..` that would leave the base
 *     (or follows `**`) is an error, as is an absolute pattern.
 *   - Bare directories: when the LAST component has no wildcard and names
 *     a directory (`dist`, `out/dist`, `** / node_modules`), the pattern
 *     takes everything beneath it, as if `/` `** / *` were appended. A last
 *     component with a wildcard keeps its meaning: `dir / *` is only the
 *     files directly in dir. An empty pattern (or `.`) names the base.
 */
#ifndef SW_GLOB_H
#define SW_GLOB_H

#include <stdbool.h>

#include "err.h"
#include "strvec.h"

/*
 * Does `path` match `pattern`? Both are relative and '/'-separated, and
 * are normalised as above. An invalid pattern (absolute, escaping with
 * `..`) matches nothing. No bare-directory rule: see glob_match_tree().
 */
bool glob_match(const char *pattern, const char *path);

/*
 * glob_match() plus the bare-directory rule: also true when `path` lies
 * beneath a directory that `pattern` names with a wildcard-free last
 * component. This is exactly the test glob_expand() applies, so use it
 * for exclude lists over expanded paths.
 */
bool glob_match_tree(const char *pattern, const char *path);

/*
 * Append to `out` the paths, relative to directory `base`, of the regular
 * files and symlinks under base that `pattern` takes, sorted by strcmp.
 * Symlinks are never followed (a symlink to a directory is reported as an
 * entry itself, never walked into); fifos, sockets and devices are left
 * out. The walk descends only into directories that can still match, and
 * wildcard-free components are looked up directly, so `dir/file.txt`
 * costs two lstat() calls. No match is not an error (nothing appended).
 *
 * Fails with ERR_FAILED for an absolute or escaping pattern (the message
 * names the pattern), ERR_SYSTEM when base or a directory under it
 * cannot be read.
 */
int glob_expand(const char *base, const char *pattern, struct strvec *out,
		struct sw_err *e);

/*
 * Like glob_expand(), but lists the directories (not symlinks to them)
 * that `pattern` matches, without the bare-directory rule. Used for
 * base-directory globs such as `my-build*`. An empty pattern lists "".
 */
int glob_expand_dirs(const char *base, const char *pattern, struct strvec *out,
		     struct sw_err *e);

/* Does this pattern component contain a wildcard (`*`, `?`, `[`, `\`)? */
bool glob_has_magic(const char *s);

#endif
