/*
 * fs: files and trees, written so that nothing is left half-written under
 * a final name and nothing lands outside where it belongs.
 *
 *   if (fs_mkdir_p(dir, 0755, &e) < 0) ...
 *   if (fs_write_atomic(path, data, len, 0644, &e) < 0) ...
 *   char *text; size_t n;
 *   if (fs_read_file(path, 16 << 20, &text, &n, &e) < 0) ...   -- free(text)
 *
 * All functions return 0 or -1 with *e set (ERR_SYSTEM unless stated).
 */
#ifndef SW_FS_H
#define SW_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"

int fs_mkdir_p(const char *path, mode_t mode, struct sw_err *e);

/* Read a whole file (at most max bytes, else ERR_SYSTEM "too large"). The
 * buffer is NUL-terminated; the caller frees it. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len,
		 struct sw_err *e);

/* Write to fs_tmp_name(path) (locked, see below), fsync, rename. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct sw_err *e);
/* The same without fsync: a crash of the process never leaves a
 * half-written file under the final name, a power loss may leave the old
 * one. For small state rewritten often (the agent's pointer files, as
 * the CodeDeploy agent writes them, without syncing). */
int fs_replace(const char *path, const void *data, size_t len, mode_t mode,
	       struct sw_err *e);

/* rm -rf; a missing path is not an error. Does not follow symlinks. */
int fs_remove_tree(const char *path, struct sw_err *e);

/* Something is at path (a dangling symlink counts: lstat). */
bool fs_exists(const char *path);
/* path is a directory or a symlink to one. */
bool fs_is_dir(const char *path);

/* "<a>/<b>" with exactly one slash between; caller frees. */
char *fs_join(const char *a, const char *b);

/* Absolute, normalised form of path (lexically: no symlink resolution)
 * relative to cwd when not absolute; caller frees. */
char *fs_abspath(const char *path);

/*
 * Copy a tree: regular files (mode and mtime kept), directories, symlinks
 * (recreated as links, never followed). Devices, fifos and sockets are
 * skipped. dst must not exist or be an empty directory. Entries named in
 * skip (basenames at the top level only, NULL-terminated, may be NULL) are
 * not copied. A directory that is dst itself (dst inside src) is not
 * descended into. The top-level src may be a symlink to a directory.
 */
int fs_copy_tree(const char *src, const char *dst, const char *const *skip,
		 struct sw_err *e);

/* Told after each file copied: the files and bytes so far. */
typedef void (*fs_copy_progress_fn)(size_t files, unsigned long long bytes,
				    void *data);

/* fs_copy_tree, telling fn (when not NULL) how far it got. */
int fs_copy_tree_progress(const char *src, const char *dst,
			  const char *const *skip, fs_copy_progress_fn fn,
			  void *data, struct sw_err *e);

/*
 * fs_copy_tree() asking filter about each entry below the top (after
 * skip): rel is its path relative to src ("a/b", no leading slash),
 * is_dir whether it is a directory (not a link to one). FS_COPY_SKIP
 * leaves it out, FS_COPY copies it (and asks again for what a directory
 * holds), FS_COPY_ALL copies a directory with all it holds, unasked.
 */
enum fs_copy_verdict { FS_COPY_SKIP, FS_COPY, FS_COPY_ALL };
typedef enum fs_copy_verdict (*fs_copy_filter_fn)(const char *rel, bool is_dir,
						  void *data);
int fs_copy_tree_filtered(const char *src, const char *dst,
			  const char *const *skip, fs_copy_filter_fn filter,
			  void *data, struct sw_err *e);
/* Both: a filter and a progress callback (either may be NULL). */
int fs_copy_tree_with(const char *src, const char *dst, const char *const *skip,
		      fs_copy_filter_fn filter, void *filter_data,
		      fs_copy_progress_fn progress, void *progress_data,
		      struct sw_err *e);

/*
 * fs_copy_tree(), but regular files are hard links to src's (copies
 * where the file system cannot link: another mount, too many links). The
 * copy shares their inodes: a write into one of its files in place
 * reaches src.
 */
int fs_link_tree(const char *src, const char *dst, const char *const *skip,
		 struct sw_err *e);

/*
 * The file clock: *t such that every change made to any file before the
 * call has a ctime before *t and every change made after it a ctime at
 * or after *t. Read from marker's ctime (created if absent, on the file
 * system concerned), touched until it moves: file times are handed out
 * in order (the coarse clock, and the floor that keeps fine-grained
 * timestamps in order with it), but the coarse clock may lag the real
 * one by more than a tick, so no clock read gives this. Takes at most a
 * tick of the file clock.
 */
int fs_clock_after(const char *marker, struct timespec *t, struct sw_err *e);

/*
 * Make dst, a copy fs_copy_tree() (or this) made of src earlier, a copy
 * of src as it is now, writing only what changed: a file or link is
 * kept when its size, mode, mtime (links: target) are src's, its ctime in
 * src has not reached s->trusted_before (when the earlier copy began)
 * and its ctime in dst has not reached s->trusted_copy (when that copy
 * was complete), both from fs_clock_after(); everything else in dst is
 * replaced, and what src lacks (skip names at the top level included, and
 * what s->filter leaves out, asked as fs_copy_tree_filtered() asks) is
 * moved into the directory s->junk (same file system, NULL: removed in
 * place). ctime moves with every write, chmod, link or rename and cannot
 * be set back, so a file that anyone changed on either side since, even
 * keeping its size and mtime, is copied again. Counts in s.
 */
struct fs_sync {
	struct timespec trusted_before, trusted_copy;
	const char *junk;
	/* NULL: everything; else what fs_copy_tree_filtered() would copy */
	fs_copy_filter_fn filter;
	void *filter_data;
	size_t kept, copied, removed; /* out: entries */
};

int fs_sync_tree(const char *src, const char *dst, const char *const *skip,
		 struct fs_sync *s, struct sw_err *e);

/*
 * Temporaries. What is written under a temporary name and renamed into
 * place (atomic writes, artifacts) is named ".<base>.slipway-tmp.<pid>"
 * beside its final name, and its writer holds an flock() on it while it
 * writes. A process killed with SIGKILL leaves its temporary behind;
 * fs_sweep_stale_tmp() finds those by name and removes the ones whose
 * process is gone (kill(pid, 0) fails with ESRCH) and whose lock is free:
 * the pid closes the moment between creating a temporary and locking it,
 * the lock guards against a pid reused by another process.
 *
 *   char *tmp = fs_tmp_name("out/artifacts.zip");  -- caller frees
 *   int fd = fs_tmp_create(tmp, 0644, &e);         -- created, locked
 *   ... write, fsync, rename(tmp, final), close(fd)
 *
 *   struct fs_sweep sw = { 0 };
 *   fs_sweep_stale_tmp("out", 0, NULL, &sw, &e);   -- sw.files, sw.bytes
 */
char *fs_tmp_name(const char *path);
/* true when name (a base name) is a temporary's; its pid in *pid. */
bool fs_tmp_parse(const char *name, pid_t *pid);
/* Create tmp (O_EXCL after removing a leftover of a dead process with our
 * pid, O_CLOEXEC, mode not cut by the umask) and lock it; returns the
 * fd, which holds the lock until it is closed. */
int fs_tmp_create(const char *tmp, mode_t mode, struct sw_err *e);

struct fs_sweep {
	size_t files; /* temporaries removed (a directory counts once) */
	uint64_t bytes; /* their size */
};

/*
 * Remove the stale temporaries in dir and, down to depth levels of
 * subdirectories, in those (0: dir only); directories whose base name is
 * in skip (NULL-terminated, may be NULL) are not descended into, nor are
 * symlinks. A temporary may be a file or a directory. A missing dir is
 * not an error; adds to *r.
 */
int fs_sweep_stale_tmp(const char *dir, int depth, const char *const *skip,
		       struct fs_sweep *r, struct sw_err *e);

/*
 * Create path (replacing what is there) with an flock() already held: it
 * is made as a temporary, locked and renamed, so that path never exists
 * unlocked while its creator lives (a running build's log). Returns the
 * fd (write-only, O_CLOEXEC), which holds the lock until closed, or -1.
 */
int fs_create_locked(const char *path, mode_t mode, struct sw_err *e);

/*
 * A lock file's state: 1 when another open file holds an flock() on path
 * (a running build's log), 0 when it is free, -1 when path cannot be
 * opened (errno set).
 */
int fs_lock_held(const char *path);

/* The bytes a tree takes (st_blocks, symlinks not followed); 0 if absent. */
uint64_t fs_tree_size(const char *path);

/*
 * A record that must be written even when the disk fills up later (a
 * build's or deployment's report): its space is set aside when the work
 * starts, and the final text is written into that space.
 *
 *   struct fs_reserve rv = FS_RESERVE_INIT;
 *   if (fs_reserve(&rv, "d/report.json", 64 << 10, &e) < 0) ...  -- start
 *   ...
 *   if (fs_reserve_commit(&rv, text, len, 0644, &e) < 0) ...     -- end
 *   fs_reserve_release(&rv);
 *
 * fs_reserve() takes size bytes (zeros on ext4 and xfs, fallocate on
 * others: see fs.c) in
 * fs_tmp_name(path), locked. fs_reserve_commit() writes text at its
 * start, truncates, syncs and renames it to path: a text no longer than
 * the reservation needs no new space. It fails with errno set (ENOSPC
 * for a longer text that does not fit; then the reservation is intact
 * for a shorter try). fs_reserve_release() removes an uncommitted
 * reservation.
 */
struct fs_reserve {
	int fd;
	char *path;
	char *tmp;
	size_t size;
};

#define FS_RESERVE_INIT                                                        \
	{                                                                      \
		-1, NULL, NULL, 0                                              \
	}

int fs_reserve(struct fs_reserve *rv, const char *path, size_t size,
	       struct sw_err *e);
int fs_reserve_commit(struct fs_reserve *rv, const void *data, size_t len,
		      mode_t mode, struct sw_err *e);
void fs_reserve_release(struct fs_reserve *rv);

#endif
