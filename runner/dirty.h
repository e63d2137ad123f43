/*
 * dirty: does a git work tree differ from its HEAD (untracked files that
 * git does not ignore included, submodules left out), the question behind
 * "has uncommitted changes" in a build's log.
 *
 *   if (dirty_worktree("/home/me/app", ".slipway"))
 *           warn("uncommitted changes");
 *
 * The answer is the one a libgit2 status gives (index against HEAD and
 * work tree against index, untracked files included), at about the cost
 * of `git status` and without reading HEAD's trees or any .gitignore that
 * no untracked file needs:
 *
 *   - index against HEAD: the index's stage-0 entries are hashed into the
 *     trees a commit of them would have (no object is read or written);
 *     equal to HEAD's tree id, nothing is staged;
 *   - work tree against index: one pass over the work tree, one directory
 *     at a time, with fstatat() relative to the directory; an entry whose
 *     stat data matches the index (mode, size, mtime and ctime to the
 *     nanosecond, inode, owner) and is older than the index file is
 *     unchanged; a different size or mode is a change, as libgit2 has it;
 *     anything else (a newer mtime, a "racily clean" entry written in the
 *     same tick as the index) is hashed, through the repository's filters,
 *     and compared;
 *   - untracked files: the names that readdir() gives and the index lacks;
 *     only those are looked up in the ignore rules (an ignored directory
 *     is not entered); an untracked directory counts when it holds, at any
 *     depth, a file that is not ignored.
 *
 * The index is only read: a refreshed index is never written back (as
 * `git status` does under index.lock), so the user's repository is never
 * locked or changed; a racily clean entry is hashed again on every check.
 *
 * Whatever the quick pass cannot decide exactly as libgit2 would (a
 * conflict, an intent-to-add, assume-unchanged or skip-worktree entry, a
 * staged change, core.ignorecase, core.symlinks off, a file it cannot
 * read, a path replaced by something unexpected) is answered by the full
 * libgit2 status instead.
 *
 * skip names a top-level directory whose changes are not the user's
 * (slipway's state directory, ".slipway"): what is in it, tracked or not,
 * does not count. NULL: none.
 */
#ifndef SW_DIRTY_H
#define SW_DIRTY_H

#include <stdbool.h>

#include <git2.h>

/*
 * True when the work tree at dir has uncommitted changes. False when it
 * has none, when dir is not a work tree (a bare repository, not a
 * repository) or when libgit2 cannot tell.
 */
bool dirty_worktree(const char *dir, const char *skip);

enum dirty_verdict {
	DIRTY_CLEAN, /* no change */
	DIRTY_CHANGED, /* a change */
	DIRTY_UNSURE, /* the full status must tell */
};

/*
 * The quick pass alone, over repo's work tree (the index is read again
 * when the file changed). dirty_worktree() runs the full status when it
 * returns DIRTY_UNSURE.
 */
enum dirty_verdict dirty_quick(git_repository *repo, const char *skip);

/* The full libgit2 status: true when it lists a change outside skip. */
bool dirty_status(git_repository *repo, const char *skip);

#endif
