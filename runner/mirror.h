/*
 * mirror: bare mirrors of git sources and checkouts that borrow their
 * objects (CodeBuild's LOCAL_SOURCE_CACHE). source.c drives it:
 *
 *   struct mirror m = MIRROR_INIT;
 *   mirror_open(&m, "/state/sources", url, &e);   -- paths, flock held
 *   if (m.local)                                  -- a repository path
 *           mirror_sync_local(&m, src_gitdir, &nobj, &e);
 *   else if (a file:// URL)
 *           mirror_fetch_file(&m, src_gitdir, &nobj, &e);
 *   else
 *           ...git_remote fetch into m.gitdir...     -- by the caller
 *   ...resolve the commit in the mirror...
 *   mirror_unlock(&m);                            -- objects are immutable
 *   mirror_checkout(&m, &oid, url, dest, &how, &e); -- files, index, .git
 *   mirror_spare_start(&m, &oid);                 -- next build's tree
 *   mirror_release(&m);
 *
 * A mirror is <sources>/<sha256 of the normalised url>.git, bare, holding
 * all branches and tags of the source and nothing else. Objects are
 * only ever added, so a checkout reads them without the lock; the lock
 * (<key>.lock, flock) serialises creating and updating the mirror.
 *
 * A checkout is a non-bare repository whose objects/info/alternates names
 * the mirror's objects: no object is copied, and no file of its .git is
 * one of the mirror's (whose objects are a local source's own, linked),
 * so a build that writes, chmods or chowns its .git reaches neither.
 * mirror_standalone() copies the objects in when the .git is shipped.
 * Its HEAD is detached at the commit, remote "origin" is the source URL, the mirror's branches are its
 * remote-tracking branches of origin and its tags the mirror.s tags, and its index
 * matches the files written (git status is clean).
 *
 * Writing thousands of files dominates a checkout, so after a checkout a
 * detached, low-priority process prepares the next one: a complete
 * checkout of the same commit in <key>.spare/. The next checkout renames
 * it into place (O(1)) and lets libgit2 rewrite only the files that
 * differ. Two builds never get the same spare (rename is atomic).
 */
#ifndef SW_MIRROR_H
#define SW_MIRROR_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

struct mirror {
	char *url; /* normalised source: absolute path or URL */
	char *gitdir; /* <sources>/<key>.git */
	char *spares; /* <sources>/<key>.spare */
	bool local; /* url is a local repository path */
	bool existed; /* the mirror was there before mirror_open() */
	int lock_fd; /* flock on <sources>/<key>.lock, -1 when unlocked */
};

#define MIRROR_INIT                                                            \
	{                                                                      \
		NULL, NULL, NULL, false, false, -1                             \
	}

/*
 * The normalised form of a source that keys its mirror: a local path
 * (or file:// URL) becomes the absolute, symlink-free path of the
 * repository without a trailing "/.git"; a URL loses trailing slashes and
 * ".git", and its scheme and host are lowercased. The caller frees it.
 */
char *mirror_normalise(const char *source);

/*
 * <sources_dir>/<key><suffix>, key being the hash that names source's
 * mirror (".git"), spares (".spare") and lock (".lock"); NULL if the hash
 * cannot be computed. The caller frees it.
 */
char *mirror_path(const char *sources_dir, const char *source,
		  const char *suffix);

/*
 * Compute the paths for source under sources_dir (created if absent),
 * take the lock (blocking) and create an empty bare mirror if there is
 * none. m->local is set for a path (not for file:// URLs, whose objects
 * are copied, not linked, as git's --no-local does: mirror_fetch_file()).
 */
int mirror_open(struct mirror *m, const char *sources_dir, const char *source,
		struct sw_err *e);

/*
 * Bring the mirror up to date with the local repository whose git
 * directory (or common directory) is src_gitdir: hard-link (or copy,
 * across file systems) the loose objects and packs it does not have yet,
 * then make branches, tags and HEAD exactly the source's.
 * *fetched counts the objects added. Needs the lock.
 */
int mirror_sync_local(struct mirror *m, const char *src_gitdir,
		      unsigned long *fetched, struct sw_err *e);

/*
 * The same for a repository on this machine reached by a file:// URL,
 * whose objects are copied, not linked, as git's --no-local does: those
 * the mirror lacks go into one new pack of the mirror's. libgit2's own
 * transport for file:// does that too, but packs the whole tree of every
 * annotated tag's commit again on each fetch that brings anything.
 * *fetched counts the objects packed. Needs the lock.
 */
int mirror_fetch_file(struct mirror *m, const char *src_gitdir,
		      unsigned long *fetched, struct sw_err *e);

/* Release the lock (the paths stay usable). */
void mirror_unlock(struct mirror *m);

/* What a checkout wrote, found in place, and moved out (recycling). */
struct mirror_counts {
	size_t written, kept, removed;
};

/*
 * Check out commit into dest (absent or empty) as described at the top,
 * with "origin" set to origin_url. *how says which way the files came:
 * "spare" (a prepared tree of this commit renamed into place, or one of
 * another commit updated by libgit2), "recycled" (a retired build's tree,
 * see below), "files" (written from the objects with their index) or
 * "libgit2" (a tree with .gitattributes, where filters may apply, goes
 * through libgit2's checkout). *n (may be NULL) counts the files of a
 * recycled tree. dest may hold a partial tree on failure.
 *
 * Recycling: a retired build's tree waits in <key>.spare/ as
 * used.<commit>.<sec>.<nsec>.<pid>.<n> (mirror_recycle_name()), the time
 * being when its checkout was complete (fs_clock_after()). The
 * checkout renames one into dest (preferring the same commit), moves
 * its .git out and writes a new one, and then goes through the commit's
 * tree: an entry is kept when the old commit had the same blob and mode
 * there, its type and permissions are what a checkout gives, and its
 * ctime is before that time (a write, chmod, link or rename moves ctime,
 * which cannot be set back, so whatever the build's commands changed is
 * written again, even with its size and mtime kept); any other entry is
 * written. Everything the commit does not have (build outputs, ignored
 * files included) is moved out to the trash, deleted in the background;
 * with SLIPWAY_KEEP_IGNORED=1 what the commit's .gitignore files ignore
 * stays (the retired build's outputs, for an incremental build).
 * The index is rebuilt from the stat of each file. A tree with
 * submodules or .gitattributes, or a configuration that converts line
 * endings, is not recycled: it goes to the trash and the checkout writes
 * every file.
 */
int mirror_checkout(const struct mirror *m, const git_oid *commit,
		    const char *origin_url, const char *dest, const char **how,
		    struct mirror_counts *n, struct sw_err *e);

/*
 * The name a retired tree takes in a pool (<key>.spare/, or the pool of
 * a work tree's copies): commit (NULL for a copy) and done, when the tree
 * was complete. The caller frees it.
 */
char *mirror_recycle_name(const git_oid *commit, const struct timespec *done);

/* How many retired trees wait in pool. */
size_t mirror_pool_count(const char *pool);

/*
 * Rename any retired tree of pool to dest (absent or empty): 1 taken, its
 * time in *done; 0 none.
 */
int mirror_take_used(const char *pool, const char *dest, struct timespec *done);

/*
 * Start a detached, low-priority process that prepares a spare checkout
 * of commit for the next mirror_checkout(), unless one is there or being
 * made. Never fails the caller.
 */
void mirror_spare_start(const struct mirror *m, const git_oid *commit);

/*
 * Make the checkout's git directory git stand alone before it is shipped
 * (an artifact holding it): the objects of every alternate that is a
 * mirror under sources_dir are copied in (reflinked where the file system
 * can, never linked) and those alternates dropped; what the mirror itself
 * borrows, and alternates elsewhere, stay. Nothing is done unless
 * git/objects is under within (the build's source) without a symlink on
 * the way, nor written through one. *changed says whether objects came in.
 */
int mirror_standalone(const char *git, const char *within,
		      const char *sources_dir, bool *changed, struct sw_err *e);

/* Unlock and free the paths; back to MIRROR_INIT. */
void mirror_release(struct mirror *m);

#endif
