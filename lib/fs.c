#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "buf.h"
#include "strvec.h"
#include "xalloc.h"

#include "banned.h"

int fs_mkdir_p(const char *path, mode_t mode, struct sw_err *e)
{
	char *p = xstrdup(path);
	char *s = p;
	struct stat st;
	int ret = -1;

	if (!*p) {
		err_set(e, ERR_SYSTEM, "cannot create directory ''");
		goto out;
	}
	/* Mostly the directory is there already: one stat says so. */
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = 0;
		goto out;
	}
	for (;;) {
		char save;

		while (*s == '/')
			s++;
		while (*s && *s != '/')
			s++;
		save = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			err_sys(e, "cannot create directory '%s'", p);
			goto out;
		}
		if (!save)
			break;
		*s = save;
	}
	if (stat(p, &st) < 0) {
		err_sys(e, "cannot create directory '%s'", p);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(e, ERR_SYSTEM, "cannot create directory '%s': %s", p,
			strerror(ENOTDIR));
		goto out;
	}
	ret = 0;
out:
	free(p);
	return ret;
}

int fs_read_file(const char *path, size_t max, char **data, size_t *len,
		 struct sw_err *e)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int fd, ret = -1;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		err_sys(e, "cannot stat '%s'", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err_set(e, ERR_SYSTEM, "cannot read '%s': %s", path,
			strerror(EISDIR));
		goto out;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
		err_set(e, ERR_SYSTEM, "cannot read '%s': too large", path);
		goto out;
	}
	buf_grow(&b, S_ISREG(st.st_mode) ? (size_t)st.st_size : 8192);
	for (;;) {
		ssize_t n;

		buf_grow(&b, 8192);
		n = read(fd, b.ptr + b.len, b.alloc - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "cannot read '%s'", path);
			goto out;
		}
		if (!n)
			break;
		b.len += (size_t)n;
		if (b.len > max) {
			err_set(e, ERR_SYSTEM, "cannot read '%s': too large",
				path);
			goto out;
		}
	}
	b.ptr[b.len] = '\0';
	*len = b.len;
	*data = buf_detach(&b);
	ret = 0;
out:
	close(fd);
	buf_release(&b);
	return ret;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Make the rename itself durable; a failure here loses nothing. */
static void fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

#define TMP_MARK ".slipway-tmp."

char *fs_tmp_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xasprintf("."
				 "%s" TMP_MARK "%ld",
				 path, (long)getpid());
	return xasprintf("%.*s/.%s" TMP_MARK "%ld", (int)(slash - path), path,
			 slash + 1, (long)getpid());
}

bool fs_tmp_parse(const char *name, pid_t *pid)
{
	const char *mark, *p;
	long v = 0;

	if (name[0] != '.')
		return false;
	mark = strstr(name + 1, TMP_MARK);
	if (!mark || mark == name + 1)
		return false;
	/* the last mark: a final name may hold the text itself */
	while ((p = strstr(mark + 1, TMP_MARK)))
		mark = p;
	p = mark + strlen(TMP_MARK);
	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return false;
	}
	if (*p)
		return false;
	if (pid)
		*pid = (pid_t)v;
	return true;
}

int fs_tmp_create(const char *tmp, mode_t mode, struct sw_err *e)
{
	int fd;

	/* A leftover of an earlier process with our pid. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(e, "cannot create '%s'", tmp);
	/* The mode asked for, not one cut down by the umask. */
	if (fchmod(fd, mode & 07777) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err_sys(e, "cannot create '%s'", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	return fd;
}

static int write_replace(const char *path, const void *data, size_t len,
			 mode_t mode, bool sync, struct sw_err *e)
{
	char *tmp = fs_tmp_name(path);
	int fd = -1, ret = -1;

	fd = fs_tmp_create(tmp, mode, e);
	if (fd < 0)
		goto out;
	if (write_all(fd, data, len) < 0) {
		err_sys(e, "cannot write '%s'", tmp);
		goto out;
	}
	if (sync && fsync(fd) < 0) {
		err_sys(e, "cannot sync '%s'", tmp);
		goto out;
	}
	/* Unlocked from here on, the temporary is ours by its live pid. */
	if (close(fd) < 0) {
		fd = -1;
		err_sys(e, "cannot write '%s'", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err_sys(e, "cannot rename '%s' to '%s'", tmp, path);
		goto out;
	}
	if (sync)
		fsync_parent(path);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct sw_err *e)
{
	return write_replace(path, data, len, mode, true, e);
}

int fs_replace(const char *path, const void *data, size_t len, mode_t mode,
	       struct sw_err *e)
{
	return write_replace(path, data, len, mode, false, e);
}

static int open_dir_at(int dirfd, const char *name)
{
	return openat(dirfd, name,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Empty the directory at/name (which is writable and searchable once we
 * are done with it) and remove it. path is for messages only.
 */
static int remove_dir_at(int at, const char *name, struct buf *path,
			 struct sw_err *e)
{
	size_t len = path->len;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd, ret = -1;

	fd = open_dir_at(at, name);
	if (fd < 0 && errno == EACCES) {
		/* Unreadable: give ourselves the rights, then retry. */
		if (fchmodat(at, name, 0700, 0) == 0)
			fd = open_dir_at(at, name);
	}
	if (fd < 0)
		return err_sys(e, "cannot open '%s'", path->ptr);
	/*
	 * Entries of a read-only directory cannot be unlinked; when the
	 * chmod is refused, unlinkat() below says why.
	 */
	if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
		fchmod(fd, (st.st_mode & 07777) | 0700);
	d = fdopendir(fd);
	if (!d) {
		err_sys(e, "cannot open '%s'", path->ptr);
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err_sys(e, "cannot read '%s'", path->ptr);
				goto out;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_setlen(path, len);
		buf_addch(path, '/');
		buf_addstr(path, de->d_name);
		if (de->d_type != DT_DIR) {
			if (!unlinkat(fd, de->d_name, 0) || errno == ENOENT)
				continue;
			if (de->d_type != DT_UNKNOWN ||
			    (errno != EISDIR && errno != EPERM))
				goto fail;
		}
		if (remove_dir_at(fd, de->d_name, path, e) < 0)
			goto out;
	}
	buf_setlen(path, len);
	if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		goto fail;
	ret = 0;
	goto out;
fail:
	err_sys(e, "cannot remove '%s'", path->ptr);
out:
	buf_setlen(path, len);
	closedir(d);
	return ret;
}

int fs_remove_tree(const char *path, struct sw_err *e)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(e, "cannot remove '%s'", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return err_sys(e, "cannot remove '%s'", path);
		return 0;
	}
	buf_addstr(&b, path);
	ret = remove_dir_at(AT_FDCWD, path, &b, e);
	buf_release(&b);
	return ret;
}

bool fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fs_join(const char *a, const char *b)
{
	size_t alen = strlen(a);

	if (!alen)
		return xstrdup(b);
	while (alen > 1 && a[alen - 1] == '/')
		alen--;
	while (*b == '/')
		b++;
	if (a[alen - 1] == '/')
		return xasprintf("%.*s%s", (int)alen, a, b);
	return xasprintf("%.*s/%s", (int)alen, a, b);
}

char *fs_abspath(const char *path)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *p, *end;

	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);

		if (!cwd)
			BUG("getcwd: %s", strerror(errno));
		buf_addstr(&in, cwd);
		buf_addch(&in, '/');
		free(cwd);
	}
	buf_addstr(&in, path);
	for (p = in.ptr; *p; p = end) {
		size_t n;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (!n || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = out.len ? strrchr(out.ptr, '/') : NULL;

			buf_setlen(&out, slash ? (size_t)(slash - out.ptr) : 0);
			continue;
		}
		buf_addch(&out, '/');
		buf_add(&out, p, n);
	}
	if (!out.len)
		buf_addch(&out, '/');
	buf_release(&in);
	return buf_detach(&out);
}

/* The copy walk: one open directory per level, nothing followed. */
struct copy_ctx {
	struct buf path; /* source path, for messages */
	bool link; /* regular files hard-linked where the file system can */
	size_t root_len; /* path's length at the top: what follows is relative */
	fs_copy_filter_fn filter; /* NULL: everything */
	void *filter_data;
	dev_t dst_dev; /* the destination root, never copied into itself */
	ino_t dst_ino;
	char *iobuf;
	fs_copy_progress_fn progress;
	void *progress_data;
	size_t files;
	unsigned long long bytes;
};

enum { COPY_IOBUF = 1 << 17 };

static int copy_data_rw(struct copy_ctx *c, int in, int out)
{
	if (!c->iobuf)
		c->iobuf = xmalloc(COPY_IOBUF);
	for (;;) {
		ssize_t n = read(in, c->iobuf, COPY_IOBUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			return 0;
		if (write_all(out, c->iobuf, (size_t)n) < 0)
			return -1;
	}
}

static bool copy_fallback_errno(int err)
{
	return err == ENOSYS || err == EXDEV || err == EINVAL ||
	       err == EOPNOTSUPP || err == EPERM || err == EBADF;
}

/*
 * Kernel-side copies first; they fail with "not supported" codes only
 * before anything was copied, and then the plain loop does the work.
 */
static int copy_data(struct copy_ctx *c, int in, int out)
{
	off_t copied = 0;
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		copied += n;
	}
	if (!n && copied)
		return 0;
	if (n < 0 && (copied || !copy_fallback_errno(errno)))
		return -1;
	/* n == 0 at once: maybe a file whose size lies (procfs). */
	for (;;) {
		n = sendfile(out, in, NULL, 1 << 30);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		copied += n;
	}
	if (!n && copied)
		return 0;
	if (n < 0 && (copied || !copy_fallback_errno(errno)))
		return -1;
	return copy_data_rw(c, in, out);
}

static int copy_attrs(int fd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchmod(fd, st->st_mode & 07777) < 0)
		return -1;
	return futimens(fd, ts);
}

static int copy_file(struct copy_ctx *c, int sdir, int ddir, const char *name,
		     struct sw_err *e)
{
	struct stat st;
	int in, out = -1, ret = -1;

	if (c->link) {
		if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return err_sys(e, "cannot stat '%s'", c->path.ptr);
		if (!S_ISREG(st.st_mode))
			return 0;
		if (linkat(sdir, name, ddir, name, 0) == 0)
			return 0;
		if (errno != EXDEV && errno != EPERM && errno != EMLINK)
			return err_sys(e, "cannot link '%s'", c->path.ptr);
	}
	in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (in < 0)
		return err_sys(e, "cannot open '%s'", c->path.ptr);
	if (fstat(in, &st) < 0) {
		err_sys(e, "cannot stat '%s'", c->path.ptr);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = 0; /* changed under us into something we skip */
		goto out;
	}
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err_sys(e, "cannot create copy of '%s'", c->path.ptr);
		goto out;
	}
	if ((st.st_size ? copy_data(c, in, out) : copy_data_rw(c, in, out)) <
	    0) {
		err_sys(e, "cannot copy '%s'", c->path.ptr);
		goto out;
	}
	if (copy_attrs(out, &st) < 0) {
		err_sys(e, "cannot set mode or time of copy of '%s'",
			c->path.ptr);
		goto out;
	}
	c->files++;
	c->bytes += (unsigned long long)st.st_size;
	if (c->progress)
		c->progress(c->files, c->bytes, c->progress_data);
	ret = 0;
out:
	if (out >= 0 && close(out) < 0 && !ret)
		ret = err_sys(e, "cannot copy '%s'", c->path.ptr);
	close(in);
	return ret;
}

static int copy_symlink(struct copy_ctx *c, int sdir, int ddir,
			const char *name, struct sw_err *e)
{
	size_t size = 256;
	char *target = NULL;
	struct stat st;
	int ret = -1;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(e, "cannot stat '%s'", c->path.ptr);
	for (;;) {
		ssize_t n;

		target = xrealloc(target, size);
		n = readlinkat(sdir, name, target, size);
		if (n < 0) {
			err_sys(e, "cannot read link '%s'", c->path.ptr);
			goto out;
		}
		if ((size_t)n < size) {
			target[n] = '\0';
			break;
		}
		size *= 2;
	}
	if (symlinkat(target, ddir, name) < 0) {
		err_sys(e, "cannot create link copy of '%s'", c->path.ptr);
		goto out;
	}
	{
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		/* Not every filesystem keeps link times; not fatal. */
		utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	ret = 0;
out:
	free(target);
	return ret;
}

static int copy_dir_contents(struct copy_ctx *c, int sfd, int dfd,
			     const char *const *skip, bool filtered,
			     struct sw_err *e);

static int copy_subdir(struct copy_ctx *c, int sdir, int ddir, const char *name,
		       bool filtered, struct sw_err *e)
{
	struct stat st;
	int sfd, dfd = -1, ret = -1;

	sfd = open_dir_at(sdir, name);
	if (sfd < 0)
		return err_sys(e, "cannot open '%s'", c->path.ptr);
	if (fstat(sfd, &st) < 0) {
		err_sys(e, "cannot stat '%s'", c->path.ptr);
		goto out;
	}
	if (st.st_dev == c->dst_dev && st.st_ino == c->dst_ino) {
		ret = 0; /* the copy being made, inside its source */
		goto out;
	}
	if (mkdirat(ddir, name, 0700) < 0) {
		err_sys(e, "cannot create copy of '%s'", c->path.ptr);
		goto out;
	}
	dfd = open_dir_at(ddir, name);
	if (dfd < 0) {
		err_sys(e, "cannot open copy of '%s'", c->path.ptr);
		goto out;
	}
	if (copy_dir_contents(c, sfd, dfd, NULL, filtered, e) < 0)
		goto out;
	/* Last: the mode may forbid writing, and writing moves the mtime. */
	if (copy_attrs(dfd, &st) < 0) {
		err_sys(e, "cannot set mode or time of copy of '%s'",
			c->path.ptr);
		goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	return ret;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

static int copy_dir_contents(struct copy_ctx *c, int sfd, int dfd,
			     const char *const *skip, bool filtered,
			     struct sw_err *e)
{
	size_t len = c->path.len;
	struct dirent *de;
	DIR *d;
	int fd, ret = -1;

	fd = dup(sfd);
	if (fd < 0)
		return err_sys(e, "cannot open '%s'", c->path.ptr);
	d = fdopendir(fd);
	if (!d) {
		err_sys(e, "cannot open '%s'", c->path.ptr);
		close(fd);
		return -1;
	}
	/* The dup shares the offset with sfd, which may have been read. */
	rewinddir(d);
	for (;;) {
		unsigned char type;
		bool sub = filtered; /* ask about what a directory holds */
		int r;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err_sys(e, "cannot read '%s'", c->path.ptr);
				goto out;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    in_list(skip, de->d_name))
			continue;
		buf_setlen(&c->path, len);
		buf_addch(&c->path, '/');
		buf_addstr(&c->path, de->d_name);
		type = de->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0) {
				err_sys(e, "cannot stat '%s'", c->path.ptr);
				goto out;
			}
			type = IFTODT(st.st_mode);
		}
		if (filtered && c->filter) {
			enum fs_copy_verdict v;

			v = c->filter(c->path.ptr + c->root_len + 1,
				      type == DT_DIR, c->filter_data);
			if (v == FS_COPY_SKIP)
				continue;
			sub = v == FS_COPY;
		}
		switch (type) {
		case DT_REG:
			r = copy_file(c, sfd, dfd, de->d_name, e);
			break;
		case DT_DIR:
			r = copy_subdir(c, sfd, dfd, de->d_name, sub, e);
			break;
		case DT_LNK:
			r = copy_symlink(c, sfd, dfd, de->d_name, e);
			break;
		default:
			r = 0; /* devices, fifos, sockets */
			break;
		}
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	buf_setlen(&c->path, len);
	closedir(d);
	return ret;
}

static int dir_is_empty(int fd)
{
	struct dirent *de;
	int dfd = dup(fd), empty = 1;
	DIR *d;

	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static int copy_tree(const char *src, const char *dst, const char *const *skip,
		     bool link, fs_copy_filter_fn filter, void *filter_data,
		     fs_copy_progress_fn progress, void *progress_data,
		     struct sw_err *e)
{
	struct copy_ctx c = { .path = BUF_INIT,
			      .link = link,
			      .filter = filter,
			      .filter_data = filter_data,
			      .progress = progress,
			      .progress_data = progress_data };
	struct stat st, dst_st;
	int sfd, dfd = -1, ret = -1;

	/* The top level may be reached through a link; nothing below it. */
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return err_sys(e, "cannot open '%s'", src);
	if (fstat(sfd, &st) < 0) {
		err_sys(e, "cannot stat '%s'", src);
		goto out;
	}
	if (mkdir(dst, 0700) < 0 && errno != EEXIST) {
		err_sys(e, "cannot create '%s'", dst);
		goto out;
	}
	dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err_sys(e, "cannot open '%s'", dst);
		goto out;
	}
	if (dir_is_empty(dfd) != 1) {
		err_set(e, ERR_SYSTEM, "cannot copy '%s' to '%s': %s", src, dst,
			strerror(ENOTEMPTY));
		goto out;
	}
	if (fstat(dfd, &dst_st) < 0) {
		err_sys(e, "cannot stat '%s'", dst);
		goto out;
	}
	c.dst_dev = dst_st.st_dev;
	c.dst_ino = dst_st.st_ino;
	buf_addstr(&c.path, src);
	c.root_len = c.path.len;
	if (copy_dir_contents(&c, sfd, dfd, skip, true, e) < 0)
		goto out;
	if (copy_attrs(dfd, &st) < 0) {
		err_sys(e, "cannot set mode or time of '%s'", dst);
		goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	buf_release(&c.path);
	free(c.iobuf);
	return ret;
}

int fs_copy_tree(const char *src, const char *dst, const char *const *skip,
		 struct sw_err *e)
{
	return copy_tree(src, dst, skip, false, NULL, NULL, NULL, NULL, e);
}

int fs_copy_tree_progress(const char *src, const char *dst,
			  const char *const *skip, fs_copy_progress_fn fn,
			  void *data, struct sw_err *e)
{
	return copy_tree(src, dst, skip, false, NULL, NULL, fn, data, e);
}

int fs_copy_tree_filtered(const char *src, const char *dst,
			  const char *const *skip, fs_copy_filter_fn filter,
			  void *data, struct sw_err *e)
{
	return copy_tree(src, dst, skip, false, filter, data, NULL, NULL, e);
}

int fs_copy_tree_with(const char *src, const char *dst, const char *const *skip,
		      fs_copy_filter_fn filter, void *filter_data,
		      fs_copy_progress_fn progress, void *progress_data,
		      struct sw_err *e)
{
	return copy_tree(src, dst, skip, false, filter, filter_data, progress,
			 progress_data, e);
}

int fs_link_tree(const char *src, const char *dst, const char *const *skip,
		 struct sw_err *e)
{
	return copy_tree(src, dst, skip, true, NULL, NULL, NULL, NULL, e);
}

/* ---- the file clock ---- */

/* marker's ctime once touched now. */
static int touch_ctime(const char *marker, struct timespec *t, struct sw_err *e)
{
	struct stat st;
	int fd =
		open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return err_sys(e, "cannot open '%s'", marker);
	if (futimens(fd, NULL) < 0 || fstat(fd, &st) < 0) {
		err_sys(e, "cannot touch '%s'", marker);
		close(fd);
		return -1;
	}
	close(fd);
	*t = st.st_ctim;
	return 0;
}

int fs_clock_after(const char *marker, struct timespec *t, struct sw_err *e)
{
	struct timespec first, ms = { 0, 1000000 };

	if (touch_ctime(marker, &first, e) < 0)
		return -1;
	for (int i = 0; i < 1000; i++) {
		if (touch_ctime(marker, t, e) < 0)
			return -1;
		if (t->tv_sec > first.tv_sec ||
		    (t->tv_sec == first.tv_sec && t->tv_nsec > first.tv_nsec))
			return 0;
		nanosleep(&ms, NULL);
	}
	return err_set(e, ERR_SYSTEM, "the file clock at '%s' does not move",
		       marker);
}

/* ---- bringing a recycled copy up to date ---- */

/* a before b */
static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool ts_equal(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

struct sync_ctx {
	struct copy_ctx c;
	struct fs_sync *s;
	int junk; /* directory fd, or -1: remove in place */
};

/* Take name out of ddir: into the junk directory, else removed here. */
static int sync_drop(struct sync_ctx *x, int ddir, const char *name,
		     struct sw_err *e)
{
	struct stat st;
	char to[32];

	if (fstatat(ddir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : err_sys(e, "cannot stat copy of '%s'",
						 x->c.path.ptr);
	x->s->removed++;
	if (x->junk >= 0) {
		snprintf(to, sizeof(to), "%zu", x->s->removed);
		if (renameat(ddir, name, x->junk, to) == 0)
			return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(ddir, name, 0) < 0)
			return err_sys(e, "cannot remove copy of '%s'",
				       x->c.path.ptr);
		return 0;
	} else {
		struct buf p = BUF_INIT;
		int r;

		buf_addstr(&p, x->c.path.ptr);
		r = remove_dir_at(ddir, name, &p, e);
		buf_release(&p);
		return r;
	}
}

/* The link at sdir/name and the one at ddir/name point the same way. */
static bool same_link(int sdir, int ddir, const char *name, off_t size)
{
	char a[4096], b[4096];
	ssize_t n, m;

	if (size <= 0 || size >= (off_t)sizeof(a))
		return false;
	n = readlinkat(sdir, name, a, sizeof(a));
	m = readlinkat(ddir, name, b, sizeof(b));
	return n >= 0 && n == m && !memcmp(a, b, (size_t)n);
}

static int sync_dir_contents(struct sync_ctx *x, int sfd, int dfd,
			     const char *const *skip, bool filtered,
			     struct sw_err *e);

/*
 * Bring ddir/name up to date with sdir/name (a directory); filtered: ask
 * the filter about what it holds.
 */
static int sync_subdir(struct sync_ctx *x, int sdir, int ddir, const char *name,
		       const struct stat *sst, bool filtered, struct sw_err *e)
{
	struct stat dst;
	int sfd, dfd = -1, ret = -1;

	if (sst->st_dev == x->c.dst_dev && sst->st_ino == x->c.dst_ino)
		return 0; /* the copy itself, inside its source */
	if (fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(dst.st_mode)) {
		if (sync_drop(x, ddir, name, e) < 0)
			return -1;
		x->s->copied++;
		return copy_subdir(&x->c, sdir, ddir, name, filtered, e);
	}
	sfd = open_dir_at(sdir, name);
	if (sfd < 0)
		return err_sys(e, "cannot open '%s'", x->c.path.ptr);
	/* the mode is the source's again at the end */
	if (fchmodat(ddir, name, 0700, 0) < 0 ||
	    (dfd = open_dir_at(ddir, name)) < 0) {
		err_sys(e, "cannot open copy of '%s'", x->c.path.ptr);
		goto out;
	}
	if (sync_dir_contents(x, sfd, dfd, NULL, filtered, e) < 0)
		goto out;
	if (copy_attrs(dfd, sst) < 0) {
		err_sys(e, "cannot set mode or time of copy of '%s'",
			x->c.path.ptr);
		goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	return ret;
}

/* One entry of the source, name in sdir, against the copy in ddir. */
static int sync_entry(struct sync_ctx *x, int sdir, int ddir, const char *name,
		      bool filtered, struct sw_err *e)
{
	const struct timespec *t = &x->s->trusted_before;
	const struct timespec *tc = &x->s->trusted_copy;
	struct stat sst, dst;
	bool have;

	if (fstatat(sdir, name, &sst, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			       ? 0
			       : err_sys(e, "cannot stat '%s'", x->c.path.ptr);
	if (filtered && x->c.filter) {
		enum fs_copy_verdict v;

		v = x->c.filter(x->c.path.ptr + x->c.root_len + 1,
				S_ISDIR(sst.st_mode), x->c.filter_data);
		if (v == FS_COPY_SKIP)
			return sync_drop(x, ddir, name,
					 e); /* as a copy would */
		filtered = v == FS_COPY;
	}
	if (S_ISDIR(sst.st_mode))
		return sync_subdir(x, sdir, ddir, name, &sst, filtered, e);
	if (!S_ISREG(sst.st_mode) && !S_ISLNK(sst.st_mode))
		return sync_drop(x, ddir, name, e); /* not copied */
	have = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	/*
	 * Kept when nothing changed either side since the copy was made:
	 * no write, chmod, link or rename reaches a file without moving
	 * its ctime, which no one can set back.
	 */
	if (have && (sst.st_mode & S_IFMT) == (dst.st_mode & S_IFMT) &&
	    ts_before(&dst.st_ctim, tc) && ts_before(&sst.st_ctim, t) &&
	    sst.st_size == dst.st_size) {
		if (S_ISREG(sst.st_mode) &&
		    (sst.st_mode & 07777) == (dst.st_mode & 07777) &&
		    ts_equal(&sst.st_mtim, &dst.st_mtim)) {
			x->s->kept++;
			return 0;
		}
		if (S_ISLNK(sst.st_mode) &&
		    same_link(sdir, ddir, name, sst.st_size)) {
			x->s->kept++;
			return 0;
		}
	}
	if (have && sync_drop(x, ddir, name, e) < 0)
		return -1;
	x->s->copied++;
	if (S_ISLNK(sst.st_mode))
		return copy_symlink(&x->c, sdir, ddir, name, e);
	return copy_file(&x->c, sdir, ddir, name, e);
}

static int sync_dir_contents(struct sync_ctx *x, int sfd, int dfd,
			     const char *const *skip, bool filtered,
			     struct sw_err *e)
{
	size_t len = x->c.path.len;
	struct dirent *de;
	int fd, ret = -1;
	DIR *d;

	/* first what the copy has that the source does not */
	fd = dup(dfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_sys(e, "cannot open copy of '%s'", x->c.path.ptr);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!in_list(skip, de->d_name) &&
		    fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		buf_setlen(&x->c.path, len);
		buf_addf(&x->c.path, "/%s", de->d_name);
		if (sync_drop(x, dfd, de->d_name, e) < 0)
			goto out;
	}
	if (errno) {
		err_sys(e, "cannot read copy of '%s'", x->c.path.ptr);
		goto out;
	}
	closedir(d);
	/* then every entry of the source */
	fd = dup(sfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		buf_setlen(&x->c.path, len);
		return err_sys(e, "cannot open '%s'", x->c.path.ptr);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    in_list(skip, de->d_name))
			continue;
		buf_setlen(&x->c.path, len);
		buf_addf(&x->c.path, "/%s", de->d_name);
		if (sync_entry(x, sfd, dfd, de->d_name, filtered, e) < 0)
			goto out;
	}
	if (errno) {
		buf_setlen(&x->c.path, len);
		err_sys(e, "cannot read '%s'", x->c.path.ptr);
		goto out;
	}
	ret = 0;
out:
	buf_setlen(&x->c.path, len);
	closedir(d);
	return ret;
}

int fs_sync_tree(const char *src, const char *dst, const char *const *skip,
		 struct fs_sync *s, struct sw_err *e)
{
	struct sync_ctx x = { .c = { .path = BUF_INIT,
				     .filter = s->filter,
				     .filter_data = s->filter_data },
			      .s = s,
			      .junk = -1 };
	struct stat st, dst_st;
	int sfd, dfd = -1, ret = -1;

	s->kept = s->copied = s->removed = 0;
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return err_sys(e, "cannot open '%s'", src);
	dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fstat(sfd, &st) < 0 || dfd < 0 || fstat(dfd, &dst_st) < 0) {
		err_sys(e, "cannot open '%s'", dfd < 0 ? dst : src);
		goto out;
	}
	if (s->junk) {
		x.junk = open(s->junk,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (x.junk < 0) {
			err_sys(e, "cannot open '%s'", s->junk);
			goto out;
		}
	}
	x.c.dst_dev = dst_st.st_dev;
	x.c.dst_ino = dst_st.st_ino;
	buf_addstr(&x.c.path, src);
	x.c.root_len = x.c.path.len;
	if (fchmod(dfd, 0700) < 0 ||
	    sync_dir_contents(&x, sfd, dfd, skip, true, e) < 0)
		goto out;
	if (copy_attrs(dfd, &st) < 0) {
		err_sys(e, "cannot set mode or time of '%s'", dst);
		goto out;
	}
	ret = 0;
out:
	if (x.junk >= 0)
		close(x.junk);
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	buf_release(&x.c.path);
	free(x.c.iobuf);
	return ret;
}

/* ---- stale temporaries, locks, reservations ---- */

static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static uint64_t size_at(int at, const char *name, int depth);

static uint64_t dir_size_fd(int fd, int depth)
{
	uint64_t n = 0;
	struct dirent *de;
	DIR *d;

	if (depth > 64) {
		close(fd);
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n += size_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	return n;
}

static uint64_t size_at(int at, const char *name, int depth)
{
	struct stat st;
	uint64_t n;
	int fd;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	n = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return n;
	fd = open_dir_at(at, name);
	return fd < 0 ? n : n + dir_size_fd(fd, depth);
}

uint64_t fs_tree_size(const char *path)
{
	return size_at(AT_FDCWD, path, 0);
}

/* Remove one stale temporary at dir/name, holding its lock meanwhile. */
static void sweep_one(int dfd, const char *dir, const char *name,
		      struct fs_sweep *r)
{
	struct sw_err ignored = SW_ERR_INIT;
	struct stat st;
	pid_t pid;
	int fd;

	if (!fs_tmp_parse(name, &pid) || !pid_gone(pid))
		return;
	fd = openat(dfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		char *p = xasprintf("%s/%s", dir, name);
		uint64_t n = fs_tree_size(p);

		if (fs_remove_tree(p, &ignored) == 0) {
			r->files++;
			r->bytes += n;
		}
		free(p);
	} else if (unlinkat(dfd, name, 0) == 0) {
		r->files++;
		r->bytes += (uint64_t)st.st_blocks * 512;
	}
	close(fd);
}

int fs_sweep_stale_tmp(const char *dir, int depth, const char *const *skip,
		       struct fs_sweep *r, struct sw_err *e)
{
	struct strvec subdirs = STRVEC_INIT;
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0
				       : err_sys(e, "cannot open '%s'", dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_sys(e, "cannot open '%s'", dir);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fs_tmp_parse(de->d_name, NULL)) {
			sweep_one(dirfd(d), dir, de->d_name, r);
			continue;
		}
		if (depth > 0 && !in_list(skip, de->d_name) &&
		    (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				strvec_push(&subdirs, de->d_name);
		}
	}
	closedir(d);
	for (size_t i = 0; i < subdirs.nr; i++) {
		char *sub = fs_join(dir, subdirs.v[i]);
		struct sw_err se = SW_ERR_INIT;

		/* one unreadable subdirectory stops nothing */
		fs_sweep_stale_tmp(sub, depth - 1, skip, r, &se);
		free(sub);
	}
	strvec_release(&subdirs);
	return ret;
}

int fs_create_locked(const char *path, mode_t mode, struct sw_err *e)
{
	char *tmp = fs_tmp_name(path);
	int fd = fs_tmp_create(tmp, mode, e);

	if (fd >= 0 && rename(tmp, path) < 0) {
		err_sys(e, "cannot create '%s'", path);
		close(fd);
		unlink(tmp);
		fd = -1;
	}
	free(tmp);
	return fd;
}

int fs_lock_held(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
				    O_CLOEXEC);
	int held;

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		held = 0;
	else
		held = errno == EWOULDBLOCK ? 1 : 0;
	close(fd);
	return held;
}

/* Whether fd's filesystem writes over a file's blocks in place. */
static bool in_place_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	return sf.f_type == EXT4_SUPER_MAGIC || sf.f_type == XFS_SUPER_MAGIC;
}

int fs_reserve(struct fs_reserve *rv, const char *path, size_t size,
	       struct sw_err *e)
{
	int rc;

	rv->path = xstrdup(path);
	rv->tmp = fs_tmp_name(path);
	rv->size = size;
	rv->fd = fs_tmp_create(rv->tmp, 0600, e);
	if (rv->fd < 0)
		goto fail;
	/*
	 * On ext4 and xfs, zeros rather than fallocate(): with delayed
	 * allocation a write takes the space at once but places no block
	 * before writeback, so when the text is shorter and the file is cut
	 * to it in time, no block is freed, and freeing blocks waits for
	 * their discard where the filesystem is mounted with `discard`; and
	 * zeros written back are written over in place. A copy-on-write
	 * filesystem (btrfs, zfs, bcachefs) writes an overwrite to new space,
	 * which only fallocate()'s space is spared: there, fallocate.
	 */
	rc = in_place_fs(rv->fd) ? EOPNOTSUPP
				 : posix_fallocate(rv->fd, 0, (off_t)size);
	if (rc == EOPNOTSUPP || rc == EINVAL) {
		char *zero = xcalloc(1, size);

		rc = write_all(rv->fd, zero, size) < 0 ? errno : 0;
		free(zero);
	}
	if (rc) {
		errno = rc;
		err_sys(e, "cannot reserve %zu bytes for '%s'", size, path);
		goto fail;
	}
	return 0;
fail:
	rc = errno;
	fs_reserve_release(rv);
	errno = rc;
	return -1;
}

int fs_reserve_commit(struct fs_reserve *rv, const void *data, size_t len,
		      mode_t mode, struct sw_err *e)
{
	const char *p = data;
	size_t done = 0;
	int saved;

	if (rv->fd < 0)
		BUG("fs_reserve_commit without a reservation");
	while (done < len) {
		ssize_t n = pwrite(rv->fd, p + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (ftruncate(rv->fd, (off_t)len) < 0 ||
	    fchmod(rv->fd, mode & 07777) < 0 || fsync(rv->fd) < 0)
		goto fail;
	if (rename(rv->tmp, rv->path) < 0) {
		saved = errno;
		err_sys(e, "cannot rename '%s' to '%s'", rv->tmp, rv->path);
		errno = saved;
		return -1;
	}
	fsync_parent(rv->path);
	close(rv->fd);
	rv->fd = -1;
	fs_reserve_release(rv);
	return 0;
fail:
	saved = errno;
	/* what a longer text took beyond the reservation goes back */
	if (len > rv->size && ftruncate(rv->fd, (off_t)rv->size) < 0) {
		/* the next try overwrites it anyway */
	}
	err_sys(e, "cannot write '%s'", rv->path);
	errno = saved;
	return -1;
}

void fs_reserve_release(struct fs_reserve *rv)
{
	if (rv->fd >= 0) {
		unlink(rv->tmp);
		close(rv->fd);
	}
	rv->fd = -1;
	free(rv->path);
	free(rv->tmp);
	rv->path = rv->tmp = NULL;
	rv->size = 0;
}
