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
#include <sys/types.h>

#include "err.h"

int fs_mkdir_p(const char *path, mode_t mode, struct sw_err *e);

/* Read a whole file (at most max bytes, else ERR_SYSTEM "too large"). The
 * buffer is NUL-terminated; the caller frees it. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len,
		 struct sw_err *e);

/* Write to "<path>.tmp.<pid>" in the same directory, fsync, rename. */
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

#endif
