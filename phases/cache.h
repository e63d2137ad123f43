/*
 * cache: the buildspec `cache` section as a local, content-addressed store
 * (reference codebuild.md section 5).
 *
 *   struct cache c = CACHE_INIT;
 *   struct cache_spec spec = CACHE_SPEC_INIT;
 *   struct cache_result r = CACHE_RESULT_INIT;
 *   struct buf line = BUF_INIT;
 *
 *   spec.key = expanded_key;              -- NULL: the project's unkeyed cache
 *   spec.fallback_keys = (const char *const *)bs->cache.fallback_keys.v;
 *   spec.nfallback = bs->cache.fallback_keys.nr;
 *   spec.action = bs->cache.action;       -- NULL, "restore" or "save"
 *   spec.paths = (const char *const *)bs->cache.paths.v;
 *   spec.npaths = bs->cache.paths.nr;
 *   spec.project = project;
 *
 *   if (cache_open(&c, state_dir, &e) < 0)
 *           warn(e.msg);                  -- never a build failure
 *   if (cache_restore(&c, &spec, srcdir, &r, &e) < 0)
 *           warn(e.msg);
 *   cache_result_describe(&r, &line);     -- "Restoring cache: key ..."
 *   for (size_t i = 0; i < r.warnings.nr; i++)
 *           warn(r.warnings.v[i]);
 *   cache_result_release(&r);
 *   ... INSTALL .. POST_BUILD ...
 *   if (cache_save(&c, &spec, srcdir, &r, &e) < 0) ...   -- same c: it
 *   cache_result_release(&r);            -- remembers what restore wrote
 *   cache_release(&c);
 *
 * One struct cache per process: its lock is an flock on its own open
 * file, so a forked child must cache_open() its own.
 *
 * A cache failure is never a build failure. cache_restore() and
 * cache_save() return 0 with r->warnings for what they skipped (a corrupt
 * object, a refused manifest, a file that changed under them), and -1
 * only for system errors (the store cannot be opened or written); the
 * caller logs both as warnings and carries on.
 *
 * Model. An entry is the set of files, directories and symlinks under the
 * cache paths at save time. Paths are artifact globs (lib/glob.h):
 * relative ones are taken from the source directory (root "src"),
 * absolute ones such as `/root/.m2/ ** / *` from "/" (root "abs"); a bare
 * directory means everything beneath it. The cache VERSION is the sha256
 * of the sorted path list, each followed by a newline: the same key with
 * other paths is another cache. An entry with a key is found by that key
 * exactly, else by each fallback key (at most 5, in order) as a prefix of
 * the keys saved with the same version, the most recently saved winning.
 * A keyed entry is immutable: a second save of the key does nothing
 * (CACHE_EXISTS) unless the entry is damaged (below). Without a key the
 * entry is the project's own, replaced at every save; fallback keys are
 * then ignored, as CodeBuild does.
 *
 * Store, under <state>/cache/:
 *   lock                         flock: shared for restore, save and ls,
 *                                exclusive for prune and clear
 *   generation                   counts prunes, clears and objects found
 *                                damaged (see cache_save)
 *   tmp/<pid>.<n>.<t>            every temporary file (objects, manifests,
 *                                metadata), named for the process writing it
 *   objects/<aa>/<sha256>        file contents, mode 0444
 *   objects/<aa>/<sha256>.x      the same for executable files, mode 0555
 *   entries/<version>/<name>.json  the manifest; <name> is the sha256 of
 *                                the key, or "project-<project>"
 *   entries/<version>/<name>.meta  key, paths, times, size: what `ls` and
 *                                fallback lookups read, and last-used
 * A manifest is JSON: key, paths, project, created_ns, files_count,
 * total_size, generation, and "files": one object per item with path
 * (relative to its root), root ("src" or "abs"), type (file, dir,
 * symlink), mode, mtime_ns, and size, ino, hash for files or target for
 * symlinks. It is read by a strict reader of its own (json-c builds some
 * 200,000 objects for 20,000 files, slower than the restore itself);
 * anything unexpected refuses the manifest.
 *
 * Writing. Every file is written under tmp/ and renamed (or linked) into
 * place; two builds writing one object is harmless. The manifest is
 * written last (fsync, then link() for a new keyed entry, so that the
 * first of two racing saves wins, or rename() for an unkeyed or a
 * replaced one): a save killed half-way leaves no entry, only objects no
 * manifest uses and files in tmp/. A save removes the files in tmp/ of
 * processes that are gone (the pid in the name, checked with kill(pid,
 * 0): the processes sharing a state directory must see each other's
 * pids); cache_prune(), holding the exclusive lock that every writer's
 * shared lock excludes, removes them all and counts their bytes. A save
 * that cannot store an object (a full disk) writes no manifest. Objects
 * are not fsync'd one by one; one damaged by a power cut fails the check
 * below.
 *
 * Damage. Every object carries a fixed mtime (CACHE_OBJ_MTIME) and its
 * 0444/0555 mode. Restore and save check size, mtime and mode before
 * trusting one; an object that differs was changed after it was stored
 * and is deleted. A restore leaves the file out (r->missing, a warning);
 * the entry is damaged but never a permanent miss: the next save of a
 * keyed entry checks every object of the existing entry, stores again
 * the damaged ones whose content the build still has (a file with the
 * same hash: CACHE_REPAIRED, the entry unchanged) and otherwise replaces
 * the entry with what the build has (CACHE_REPLACED), as it does when
 * the manifest cannot be read. An unkeyed entry is replaced anyway; a
 * restore that found an object missing bumps the generation so that the
 * save checks every object again. cache_list() reports each entry's
 * health.
 *
 * Sandboxed builds (spec.abs_root set): absolute paths are restored into
 * and saved from <abs_root><path> instead of the machine's own paths,
 * and the sandbox mounts the cache_abs_dirs() of the paths from there at
 * their own places; the machine's paths are never written.
 *
 * Restore modes, $SLIPWAY_CACHE_LINK (read by cache_open):
 *   auto (default)  an overlay where the caller allows one (spec.ns,
 *                   below), else a reflink (FICLONE) where the file
 *                   system has them (btrfs, XFS, bcachefs), else a copy
 *                   (copy_file_range)
 *   overlay         the same, and a warning when no overlay could be
 *                   mounted
 *   copy            always a copy, never a reflink or an overlay
 *   link            hard links (opt-in); a copy across file systems
 * A reflink or a copy is the build's own file: it gets the manifest's
 * mode and mtime, and whatever the build does to it never reaches the
 * store. A reflink costs no data (the blocks are shared until written);
 * a copy writes every byte: restore time grows with the entry's size.
 * A hard link costs one link() per file and no data, but the restored
 * file IS the object: read-only (0444/0555, the manifest's mode is not
 * applied), with the object's fixed mtime, and shared with every other
 * build restoring it. Tools that replace files (write a temp, rename) are
 * safe; a build running as root that writes into a restored file in
 * place (`echo x > f`, as npm, Maven and pip do) changes the object: the
 * entry is damaged until the next save repairs or replaces it, and other
 * builds restoring it meanwhile miss that file. Hence an opt-in.
 * cache_result counts how each file was placed.
 *
 * Overlay restore. The caller entered a mount namespace of its own
 * (lib/mountns.h) before cache_open() (the cache's directory fds must be
 * on the namespace's side) and sets spec.ns and spec.overlay_dir. Each cache
 * path's directory (a bare directory, or the literal prefix of a glob:
 * `node_modules/ ** / *` gives node_modules; none for a glob at the
 * source root, nor for absolute paths without spec.abs_root, which are
 * the machine's own) is then an overlay mount: the entry's tree on top,
 * the directory as the source had it below, and the build's changes in
 * <overlay_dir>/<n>/upper (work: <overlay_dir>/<n>/work). The tree,
 * trees/<version>/<name>.<created_ns>/{src,abs}/..., holds the entry's
 * files with their manifest's mode and mtime; it is made once and kept:
 * the next restores of that entry cost a mount. It is made by the save
 * when spec.tree_at_save asks (in a detached process, below), else by the
 * entry's first overlay restore. Made, it takes over the
 * tree of the entry it replaced (same name, an unkeyed entry) when no
 * build uses that one, removing what changed; else it hard-links the
 * files another tree of the version has with the same content, mode and
 * mtime (another key); the rest is placed from the objects (reflink or
 * copy). An older tree of the same name goes to the state directory's
 * trash once it has served, or once a restore finds the new tree ready
 * (retire.h), unless a build still uses it. A tree is ready
 * when its manifest.json (the entry's, with the tree's inode numbers) is
 * there, written last and renamed into place: a maker killed part-way
 * leaves none, and the next maker places every file again. The detached
 * maker syncs the tree's files and then the manifest before the rename
 * (a restore that makes the tree does not wait for the disk). A restore
 * tells a ready tree by the manifest's end alone (one cut short is not
 * ready) and does not read it when the tree serves every item (each
 * cache path has an overlay); the counts it reports come from the
 * entry's .meta (files and bytes: dirs and symlinks are not counted),
 * and the save reads the manifest for the files the build left as they
 * were;
 * trees/.../lock is held shared by every process using the tree
 * (until cache_release) and exclusively while it is made or removed, so
 * a tree in use is never removed and a restore waits for its maker.
 * Nothing a build does reaches a tree: the overlay copies a file up
 * before it changes. r->mounts lists the
 * directories mounted (the caller detaches them, and mounts them into a
 * sandbox); only this process and its children see them. When a mount
 * is refused, the restore goes on by reflink or copy and
 * r->overlay_why says why (cache_result_describe shows it).
 *
 * Restore writes only below its roots: manifest paths must be relative,
 * without `.` or `..` components, must match the entry's own patterns,
 * must not pass through a symlink of the entry, and every parent is
 * opened with O_NOFOLLOW (for "abs" paths, below the pattern's literal
 * prefix such as /root/.m2). A manifest that breaks these rules is
 * refused as a whole, with a warning. Restored items replace what is in
 * the target (CodeBuild: cached items override source items).
 */
#ifndef SW_CACHE_H
#define SW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "mountns.h"
#include "strvec.h"

/* The mtime every object carries (2001-09-09T01:46:40Z). */
#define CACHE_OBJ_MTIME 1000000000

#define CACHE_MAX_FALLBACK 5

/*
 * Tests only: a save kills its own process with SIGKILL at a point:
 * "before-manifest" just before it writes the manifest, "in-object" when
 * the first object it stores is written under tmp/ but not yet renamed,
 * "tree-before-manifest" when a tree's files are placed but its
 * manifest not yet written (the detached maker of spec.tree_at_save);
 * "tree-stop-before-manifest" there stops it (SIGSTOP) instead.
 */
#define CACHE_TEST_KILL_ENV "SLIPWAY_CACHE_TEST_KILL"

enum cache_link {
	CACHE_LINK_AUTO,
	CACHE_LINK_LINK,
	CACHE_LINK_COPY,
	CACHE_LINK_OVERLAY
};

struct cache_statc; /* path -> (size, mtime, ino, hash): see cache_save */

struct cache {
	char *dir; /* <state>/cache, absolute */
	int lock_fd;
	int objects_fd; /* <dir>/objects */
	int tmp_fd; /* <dir>/tmp */
	enum cache_link link;
	bool no_reflink; /* FICLONE failed once: do not try again */
	struct cache_statc *statc;
	int64_t gen; /* prune/clear count seen by the last restore */
	bool no_overlay; /* a mount was refused: do not try again */
	int *tree_fds; /* locks of the trees in use, held shared */
	size_t ntree_fds;
	size_t nmounts; /* overlays mounted: <overlay_dir>/<n> */
	/* trees restored by overlay whose manifests were not read: the
	 * save reads them for the stat cache */
	struct strvec statc_later;
};

#define CACHE_INIT                                                             \
	{                                                                      \
		NULL, -1, -1, -1, CACHE_LINK_AUTO, false, NULL, 0, false,      \
			NULL, 0, 0, STRVEC_INIT                                \
	}

/* All strings borrowed for the duration of the call. */
struct cache_spec {
	const char *key; /* expanded; NULL or "": unkeyed */
	const char *const *fallback_keys; /* expanded; first 5 used */
	size_t nfallback;
	const char *action; /* NULL (both), "restore" or "save" */
	const char *const *paths;
	size_t npaths;
	const char *project; /* names the unkeyed entry */
	/*
	 * Where absolute paths are restored and saved from: /root/.m2/x is
	 * <abs_root>/root/.m2/x. NULL: the machine's own paths. Set, the
	 * literal prefixes are never followed through symlinks.
	 */
	const char *abs_root;
	/* told as items are restored, hashed or stored (what: "restoring",
	 * "hashing", "storing"), or NULL */
	void (*progress)(const char *what, size_t done, size_t total,
			 void *data);
	void *progress_data;
	/*
	 * Overlay restore (above): the mount namespace the caller entered
	 * and where the upper and work directories go (the build's own
	 * directory). NULL: none. overlay_off: why the caller has none, for
	 * the log (or NULL).
	 */
	struct mountns *ns;
	const char *overlay_dir;
	const char *overlay_off;
	/*
	 * Save: once the entry is saved, make its tree (above) in a detached
	 * low-priority process (retire.h), so that the next build's restore
	 * only mounts it. The tree's lock is taken before cache_save returns
	 * and held by that process until the tree is ready or given up: a
	 * restore meanwhile waits for it. For callers whose builds restore
	 * by overlay.
	 */
	bool tree_at_save;
};

#define CACHE_SPEC_INIT                                                        \
	{                                                                      \
		NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL,    \
			NULL, NULL, false                                      \
	}

enum cache_outcome {
	CACHE_SKIPPED, /* action or empty paths said not to */
	CACHE_MISS, /* restore: nothing found (or refused) */
	CACHE_HIT, /* restore: the key (or the unkeyed entry) */
	CACHE_HIT_FALLBACK, /* restore: a fallback key matched */
	CACHE_SAVED, /* save: a new entry */
	CACHE_EXISTS, /* save: the key exists and is immutable */
	CACHE_REPAIRED, /* save: the key's damaged objects stored again */
	CACHE_REPLACED /* save: the key was damaged beyond repair: replaced */
};

struct cache_result {
	enum cache_outcome outcome;
	bool restore; /* the result of a restore (else a save) */
	char *key; /* the entry's key, NULL when unkeyed; owned */
	char *fallback; /* the fallback key that matched; owned */
	char version[65];
	size_t files; /* regular files in the entry */
	size_t dirs, symlinks;
	uint64_t bytes; /* their total size */
	size_t hashed; /* save: files read and hashed */
	size_t stored; /* save: new objects written */
	uint64_t stored_bytes;
	size_t missing; /* restore: files not served (corrupt objects) */
	size_t cloned, copied, linked; /* restore: how files were placed */
	size_t overlaid; /* restore: files served by an overlay */
	/* restore: files put in a new tree, of them linked from an older */
	size_t tree_placed, tree_linked;
	/* save: the time spent handing its tree to a detached maker */
	double tree_seconds;
	struct strvec mounts; /* restore: overlay mount points, absolute */
	char *overlay_why; /* restore: why no overlay, or NULL; owned */
	size_t damaged; /* save: objects of the existing entry found bad */
	size_t repaired; /* save: of those, stored again from the build */
	size_t temps_removed; /* save: tmp/ files of processes gone */
	uint64_t temps_bytes;
	double seconds;
	struct strvec warnings; /* one line each, no prefix */
};

#define CACHE_RESULT_INIT                                                      \
	{                                                                      \
		.outcome = CACHE_SKIPPED                                       \
	}

/*
 * Create <state_dir>/cache (and its layout) if needed and open it. Reads
 * $SLIPWAY_CACHE_LINK (an unknown value is an ERR_USAGE error). On
 * failure c is left released.
 */
int cache_open(struct cache *c, const char *state_dir, struct sw_err *e);
/* Close and free; CACHE_INIT again. Safe on CACHE_INIT. */
void cache_release(struct cache *c);

/*
 * The directories the absolute cache paths live in, appended to out:
 * each path's literal prefix (up to the first glob component; a path
 * without one as a whole), sorted, without duplicates or directories
 * inside another: "/root/.m2/ ** / *" gives "/root/.m2". Relative paths
 * add nothing. -1 (ERR_FAILED) for a path with '..' or none below "/"
 * ("/ ** / *"). A sandbox mounts these, spec.abs_root mapping them.
 */
int cache_abs_dirs(const char *const *paths, size_t n, struct strvec *out,
		   struct sw_err *e);

/* sha256 of the sorted path list (each followed by "\n"). */
void cache_version(const char *const *paths, size_t n, char out[65]);

/*
 * Restore the entry for spec into srcdir (and the absolute roots of its
 * paths). Fills *r (CACHE_RESULT_INIT or released beforehand; release it
 * with cache_result_release). Remembers the (path, size, mtime, inode)
 * of what it wrote in c, so that a later cache_save() on c hashes only
 * the files the build changed.
 */
int cache_restore(struct cache *c, const struct cache_spec *spec,
		  const char *srcdir, struct cache_result *r, struct sw_err *e);

/*
 * Save the files under spec's paths as the entry for spec. Files whose
 * (path, size, mtime_ns, inode) match what this cache restored, or what
 * the previous manifest of the same entry recorded, are not read again;
 * the others are hashed, and only objects not in the store are written.
 * The object of a file restored (or saved before) and unchanged is not
 * even looked up, unless the generation moved since (a prune, a clear,
 * an object found damaged or missing). A key that exists is not saved
 * again (CACHE_EXISTS) unless its entry is damaged: then its objects
 * are stored again from the build's files (CACHE_REPAIRED) or the entry
 * is replaced (CACHE_REPLACED); see "Damage" above. Files in tmp/ of
 * processes that are gone are removed first (r->temps_removed, with a
 * warning). -1 (nothing saved) when an object cannot be stored.
 */
int cache_save(struct cache *c, const struct cache_spec *spec,
	       const char *srcdir, struct cache_result *r, struct sw_err *e);

/*
 * For a build resumed from one that restored by overlay (old_dir: its
 * overlay_dir): mount each of its overlays again, its upper directory
 * now a lower layer on top of the entry's tree, at its target with the
 * prefix `from` (the earlier build's directory) changed to `to`, with a
 * new upper and work directory under overlay_dir: the directories as
 * the earlier build left them. Holds the cache's lock shared meanwhile
 * and the trees as a restore holds them. Appends the mount points to
 * mounts; -1 when one cannot be mounted (ERR_FAILED: its tree is gone),
 * with those it mounted before detached, taken off mounts and their
 * records removed (e says so if one stays mounted).
 */
int cache_overlay_again(struct cache *c, const char *old_dir, const char *from,
			const char *to, struct mountns *ns,
			const char *overlay_dir, struct strvec *mounts,
			struct sw_err *e);

void cache_result_release(struct cache_result *r);

/*
 * One log line in CodeBuild's manner, appended to out (no newline):
 *   Restoring cache: key npm-abc (fallback npm-) 20000 files 83 MB by
 *     reflink in 0.21s         -- "by overlay", "by copy", "by hard
 *     link", or several; "(no overlay: why)" after a refused mount;
 *     after an overlay "; its tree was ready" or "; its tree made now
 *     (N files, M linked)" (the restore made the entry's tree)
 *   Saving cache: key npm-abd 20000 files 83 MB (1 new object, 12 KB) ...
 *   Saving cache: key npm-abc exists and is immutable; 1 damaged object
 *     stored again
 *   Saving cache: key npm-abc was damaged (1 object missing or modified):
 *     replaced, 20000 files 83 MB (...) in 0.40s
 */
void cache_result_describe(const struct cache_result *r, struct buf *out);

struct cache_entry_info {
	char *key; /* NULL when unkeyed */
	char *project;
	char version[65];
	size_t files;
	uint64_t bytes;
	int64_t created_ns, last_used_ns; /* unix time, nanoseconds */
	/* Health: the manifest cannot be read (or would be refused), or
	 * of its `objects` distinct objects, how many are missing or were
	 * modified in the store. All zero and false: healthy. */
	bool unreadable;
	size_t objects, missing, modified;
	/* Its trees (overlay restore, above): how many, and the disk they
	 * take: directories, manifests and each file's blocks divided
	 * among its hard links, as trees share files (so the trees of all
	 * entries add up to what they take together). */
	size_t trees;
	uint64_t tree_bytes;
};

/*
 * Every complete entry, most recently used first, with its health and
 * its trees: every manifest is read and its objects stat'ed, every tree
 * walked (nothing is changed). Free with cache_entries_free().
 */
int cache_list(struct cache *c, struct cache_entry_info **out, size_t *n,
	       struct sw_err *e);
void cache_entries_free(struct cache_entry_info *v, size_t n);

struct cache_prune_result {
	size_t entries_removed, objects_removed, temps_removed;
	uint64_t bytes_before, bytes_after; /* object bytes in the store */
	uint64_t temps_bytes; /* bytes of the temp files removed */
	size_t trees_removed;
	uint64_t trees_before, trees_after; /* disk the trees take */
};

/*
 * Under the exclusive lock: the trees of entries gone or replaced go
 * first. Then, until the objects the entries use and the trees fit in
 * max_bytes (UINT64_MAX: drop none): the trees of the least recently
 * used entries (a tree only makes its entry's restore fast; its next
 * restore makes it again), then the least recently used entries; then
 * every object no manifest uses, every temporary file (no writer can be
 * running: each holds the shared lock) and metadata without a manifest.
 * A tree a build still uses, or one being made, stays (and does not
 * count against the entries). Reclaimed: bytes_before - bytes_after +
 * temps_bytes + trees_before - trees_after.
 */
int cache_prune(struct cache *c, uint64_t max_bytes,
		struct cache_prune_result *r, struct sw_err *e);

/* Remove every entry and object (exclusive lock). */
int cache_clear(struct cache *c, struct sw_err *e);

/*
 * codebuild-hash-files: the sha256, over the regular files (or symlinks
 * to them) that the globs match under dir, in sorted path order, of
 * "<path>\0<sha256 of content>\n" for each. CodeBuild documents only
 * "a SHA-256 over the matching files"; this is our definition. Globs are
 * relative (lib/glob.h); none matching gives the sha256 of nothing.
 */
int cache_hash_files(const char *dir, const char *const *globs, size_t n,
		     char out[65], struct sw_err *e);

/*
 * Parse a manifest held in memory and drop it: 0, or -1 with ERR_FAILED
 * for anything a restore would refuse to read. For the fuzz harness.
 */
int cache_manifest_parse(const char *data, size_t len, struct sw_err *e);

/* "500M", "2G", "1.5G", "10k", "123" (bytes); K/M/G/T are powers of 1024,
 * an optional trailing "B" or "iB" is allowed. -1 for anything else. */
int cache_parse_size(const char *s, uint64_t *out);

#endif
