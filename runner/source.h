/*
 * source: get a build's source into a fresh directory (DOWNLOAD_SOURCE).
 *
 *   struct source_opts o = SOURCE_OPTS_INIT;
 *   struct source_result r = SOURCE_RESULT_INIT;
 *   struct sw_err e = SW_ERR_INIT;
 *
 *   o.source = "https://example.com/org/app.git";   -- or a path, "."
 *   o.ref = "v1.2";                                  -- NULL: default branch
 *                         -- or refs/pull/12/head: fetched as well
 *   o.dest = "/state/builds/app:1234/src";           -- must not exist
 *   if (source_fetch(&o, &r, &e) < 0)                -- or be empty
 *           fail(e.code, e.msg);
 *   report(r.kind, r.source_version, r.resolved_version);
 *   source_result_release(&r);
 *
 * A directory that is not a git repository (no .git inside, not bare) is
 * copied with fs_copy_tree(), leaving out a top-level ".slipway" (the state
 * directory may live inside the source). A git work tree, a bare
 * repository or a git URL is cloned with libgit2 (committed state only:
 * uncommitted changes of a work tree are not part of a clone), the ref is
 * checked out detached, and submodules are initialised and updated
 * recursively. With o.worktree and no o.ref, a local work tree (not a
 * bare repository) is copied as it is instead: tracked files as they are
 * now, untracked files that git does not ignore, and .git (a work tree
 * whose .git is a file, a linked work tree, gets a .git of its own that
 * borrows the repository's objects, so the build never writes to the
 * user's); the git fields of the result describe its HEAD and
 * r.worktree is set. Copying or
 * cloning a work tree that has uncommitted changes sets r.uncommitted, so
 * the caller can say what was in or left out. A copy (of a work tree or
 * of a plain directory) never holds the directories in o.exclude (the
 * state directory, the artifacts directory) when they lie inside the
 * source.
 *
 * With o.mirror_dir (<state>/sources) a git source goes through a bare
 * mirror there (CodeBuild's LOCAL_SOURCE_CACHE, see mirror.h): the first
 * build creates it, later builds fetch only what is new and check out
 * from it without copying objects (.git/objects/info/alternates names
 * the mirror's objects; mirror_standalone() copies them in when the .git
 * is shipped; HEAD is detached, "origin" is the source, the branches
 * are origin's remote-tracking branches, tags are tags).
 * Submodules are cloned as without a mirror. o.no_cache (--no-cache)
 * clones directly as if there were no mirror_dir. After a checkout from
 * the mirror a detached process prepares the next build's tree unless
 * o.no_spare.
 *
 * The options' strings are borrowed; the result's strings belong to the
 * result and are freed by source_result_release().
 */
#ifndef SW_SOURCE_H
#define SW_SOURCE_H

#include <stdbool.h>

#include "buf.h"
#include "err.h"

struct source_opts {
	const char *source; /* directory, repository or git URL; NULL: "." */
	const char *ref; /* branch, tag, full or short commit; NULL: HEAD */
	const char *dest; /* where the tree goes; absent or empty */
	bool progress; /* one updating line on stderr while cloning */
	bool worktree; /* copy a local work tree as it is */
	const char *const *exclude; /* paths a copy leaves out; NULL-ended */
	const char *mirror_dir; /* where mirrors live; NULL: none */
	bool no_cache; /* clone directly even with mirror_dir */
	bool no_spare; /* do not prepare the next build's tree */
};

#define SOURCE_OPTS_INIT                                                       \
	{                                                                      \
		NULL, NULL, NULL, false, false, NULL, NULL, false, false       \
	}

struct source_result {
	char *kind; /* "dir" or "git" */
	char *repo_url; /* git: the URL or absolute path; dir: NULL */
	char *source_version; /* git: the ref as given, else the branch */
	char *resolved_version; /* git: full commit id checked out */
	bool uncommitted; /* the work tree had uncommitted changes */
	bool worktree; /* a local work tree was copied as it is */
	/* Set when the source went through a mirror (mirror != NULL): */
	char *mirror; /* the mirror's git directory */
	bool mirror_hit; /* it existed: only what was new was fetched */
	unsigned long fetched_objects; /* objects added to the mirror */
	double seconds_fetch; /* locking and updating the mirror */
	double seconds_checkout; /* files, index, .git and submodules */
	const char *checkout; /* static: "spare", "recycled", "files",
				 "libgit2"; a work tree: "copy", "recycled" */
	/* A tree that can be recycled once its build retires: */
	char *pool; /* where it goes then (NULL: nowhere) */
	char *pool_name; /* under which name (mirror_recycle_name()) */
	size_t written, kept, removed; /* "recycled": files */
};

#define SOURCE_RESULT_INIT                                                     \
	{                                                                      \
		NULL, NULL, NULL, NULL, false, false, NULL, false, 0, 0, 0,    \
			NULL, NULL, NULL, 0, 0, 0                              \
	}

/*
 * Fetch o->source into o->dest and fill *r (which must be initialised).
 * Fails with:
 *   ERR_USAGE  "source '<x>' does not exist" (or is not a directory), or
 *              a ref given for a source that is not a git repository;
 *   ERR_FAILED "cannot clone '<url>': <why>" and
 *              "cannot find ref '<ref>' in '<url>'";
 *   ERR_SYSTEM copying a directory failed.
 * On failure *r is left empty; o->dest may hold a partial tree that the
 * caller removes.
 */
int source_fetch(const struct source_opts *o, struct source_result *r,
		 struct sw_err *e);

/*
 * One log line saying how the mirror served a fetch, e.g. "Source cache:
 * mirror hit, 3 objects fetched in 0.012 s, checked out (spare) in
 * 0.034 s"; NULL when no mirror was used. The caller frees it.
 */
char *source_cache_summary(const struct source_result *r);

/*
 * Recycling source trees (see mirror.h). After a fetch whose r->pool is
 * set, source_note_tree() records in <build_dir>/source-tree that the
 * tree at src_dir (inside build_dir) can serve a later build; when the
 * build retires, source_recycle_build() (a retire_build_fn whose data is
 * the state directory) moves the tree into its pool, unless two wait
 * there already. A work tree copied as it is (o->worktree) is recycled
 * too: the next copy takes a retired one and fs_sync_tree() brings it up
 * to date, copying only what changed and leaving out what a whole copy
 * leaves out (the same filter: ignored files, o->exclude).
 */
int source_note_tree(const char *build_dir, const char *src_dir,
		     const struct source_result *r, struct sw_err *e);
void source_recycle_build(const char *build_dir, void *state_dir);

/*
 * Have the next build's tree prepared in the background (mirror.h) after
 * a fetch through a mirror, unless a retired tree waits in the pool or
 * this one was recycled (retired trees are coming). source_fetch() does
 * it itself unless o->no_spare: a caller that retires trees after the
 * fetch sets no_spare and calls this afterwards.
 */
void source_spare_start(const struct source_result *r);

/*
 * Whether source_read_file() can serve o: a git URL, or a git repository
 * that is not copied as a work tree, going through a mirror (o->mirror_dir
 * set, o->no_cache not).
 */
bool source_readable(const struct source_opts *o);

/*
 * Read one file of the commit a build of o would check out, without
 * writing any file: the mirror is brought up to date as source_fetch()
 * would, the ref resolved, and the blob at path (relative to the source
 * root) appended to *out. Fills the git fields of *r (kind, repo_url,
 * versions, mirror, fetched_objects, seconds_fetch). Returns 1 when read;
 * 0 when the commit has no file there (r filled); 2 when only a checkout
 * can tell (a symbolic link, or a path with "." or ".." components or an
 * absolute one: r left empty); -1 with e set as source_fetch() fails.
 * Only for a source that source_readable() accepts.
 */
int source_read_file(const struct source_opts *o, const char *path,
		     struct buf *out, struct source_result *r,
		     struct sw_err *e);

/*
 * The branches and tags of a repository (a git URL or a path) as
 * `git ls-remote --heads --tags` lists them, without fetching objects:
 * refs gets "refs/heads/B" and "refs/tags/T", oids the commit each
 * points at (an annotated tag's peeled commit). Fails with ERR_FAILED
 * "cannot list '<url>': <why>".
 */
struct strvec;
int source_ls_remote(const char *url, struct strvec *refs, struct strvec *oids,
		     struct sw_err *e);

/*
 * Bring the mirror of url under mirror_dir up to date (creating it), as
 * source_fetch() does before a checkout; *gitdir (when not NULL) gets
 * the mirror's git directory, which the caller frees.
 */
int source_mirror_update(const char *mirror_dir, const char *url, char **gitdir,
			 struct sw_err *e);

/* Free the strings of *r and reset it to SOURCE_RESULT_INIT. */
void source_result_release(struct source_result *r);

/*
 * Whether source names a remote repository rather than a path: file://,
 * https://, http://, ssh://, git://, git+ssh:// or scp-like user@host:path.
 */
bool source_is_git_url(const char *source);

/*
 * The project name for a source: the base name of the directory or
 * repository, trailing slashes and ".git" removed ("." is the current
 * directory's name), characters outside [A-Za-z0-9._-] replaced by '-'.
 * Never empty, never "." or "..". The caller frees it.
 */
char *source_project_name(const char *source);

#endif
