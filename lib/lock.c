#include "lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "xalloc.h"

#include "banned.h"

/* A holder's line is short; more than this is not ours to parse. */
#define LOCK_TEXT_MAX 1024
/* A busy lock whose file is still empty is being taken (or released)
 * right now: its holder writes its line at once. One whose holder is
 * gone may be held for a moment by lock_sweep, about to remove it. Look
 * again this often. */
#define LOCK_TRIES 200

void lock_holder_release(struct lock_holder *h)
{
	free(h->id);
	free(h->note);
	*h = (struct lock_holder)LOCK_HOLDER_INIT;
}

void lock_holder_parse(const char *text, struct lock_holder *h)
{
	const char *p = text, *w;
	size_t n;

	lock_holder_release(h);
	p += strspn(p, " \t");
	w = p;
	n = strcspn(p, " \t\n");
	if (!n)
		return;
	h->id = xstrndup(w, n);
	p += n;
	p += strspn(p, " \t");
	if (*p >= '0' && *p <= '9') {
		char *end;
		long v = strtol(p, &end, 10);

		if (v > 0 &&
		    (*end == ' ' || *end == '\t' || *end == '\n' || !*end)) {
			h->pid = (pid_t)v;
			p = end + strspn(end, " \t");
		}
	}
	n = strcspn(p, "\n");
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n)
		h->note = xstrndup(p, n);
	h->gone = h->pid > 0 && kill(h->pid, 0) < 0 && errno == ESRCH;
}

char *lock_holder_describe(const struct lock_holder *h, const char *what)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s '%s'", what, h->id ? h->id : "(unknown)");
	if (h->pid)
		buf_addf(&b, " (process %d%s%s%s)", (int)h->pid,
			 h->gone ? " is gone" : "", h->note ? ", " : "",
			 h->note ? h->note : "");
	else if (h->note)
		buf_addf(&b, " (%s)", h->note);
	return buf_detach(&b);
}

/* The file's line (at most LOCK_TEXT_MAX bytes) into h. */
static void read_holder(int fd, struct lock_holder *h)
{
	char text[LOCK_TEXT_MAX + 1];
	ssize_t n;

	do
		n = pread(fd, text, LOCK_TEXT_MAX, 0);
	while (n < 0 && errno == EINTR);
	text[n > 0 ? n : 0] = '\0';
	lock_holder_parse(text, h);
}

/* Is fd still the file at path (not one removed by its last holder)? */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int lock_try(struct lock *l, const char *path, const char *id, const char *note,
	     struct lock_holder *prev, struct sw_err *e)
{
	char *line = NULL;
	struct stat st;
	int fd = -1, ret = -1;
	size_t len;

	lock_holder_release(prev);
	for (int tries = 0;; tries++) {
		if (fd < 0) {
			fd = open(path,
				  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
					  O_NOCTTY,
				  0644);
			if (fd < 0) {
				err_sys(e, "cannot open lock '%s'", path);
				goto out;
			}
			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
				err_set(e, ERR_SYSTEM,
					"lock '%s' is not a regular file",
					path);
				goto out;
			}
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (same_file(fd, path))
				break;
			/* its holder removed it as we opened it: anew */
			close(fd);
			fd = -1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			err_sys(e, "cannot lock '%s'", path);
			goto out;
		}
		read_holder(fd, prev);
		if ((prev->id && !prev->gone) || tries >= LOCK_TRIES) {
			/* Busy: a holder that runs is never "gone"; one
			 * whose pid is gone, still busy after a while, left
			 * a child holding it. */
			ret = LOCK_BUSY;
			goto out;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	/* Ours. A line still there is a holder that died holding it. */
	read_holder(fd, prev);
	prev->gone = prev->id != NULL;
	line = note ? xasprintf("%s %d %s\n", id, (int)getpid(), note)
		    : xasprintf("%s %d\n", id, (int)getpid());
	len = strlen(line);
	if (pwrite(fd, line, len, 0) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) < 0) {
		err_sys(e, "cannot write lock '%s'", path);
		goto out;
	}
	l->fd = fd;
	l->path = xstrdup(path);
	fd = -1;
	ret = LOCK_TAKEN;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		lock_holder_release(prev);
	free(line);
	return ret;
}

void lock_release(struct lock *l)
{
	if (l->fd >= 0) {
		/* Removed while held: whoever opened it meanwhile finds
		 * it gone once they have it, and starts again. */
		if (unlink(l->path) < 0 && ftruncate(l->fd, 0) < 0) {
			/* still released: the next holder takes it over */
		}
		close(l->fd);
	}
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}

/* dir, made if missing, and a directory of ours or root's (not a link). */
static bool usable_dir(const char *dir, mode_t mode)
{
	struct sw_err e = SW_ERR_INIT;
	struct stat st;

	if (fs_mkdir_p(dir, mode, &e) < 0 || lstat(dir, &st) < 0)
		return false;
	return S_ISDIR(st.st_mode) &&
	       (st.st_uid == getuid() || st.st_uid == 0) &&
	       !(st.st_mode & S_IWOTH);
}

char *lock_dir(struct sw_err *e)
{
	const char *env = getenv("SLIPWAY_LOCK_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir;

	if (env && *env) {
		struct sw_err me = SW_ERR_INIT;

		if (fs_mkdir_p(env, 0755, &me) < 0) {
			err_set(e, me.code, "SLIPWAY_LOCK_DIR: %s", me.msg);
			return NULL;
		}
		return xstrdup(env);
	}
	if (getuid() == 0 && usable_dir(LOCK_DIR_ROOT, 0755))
		return xstrdup(LOCK_DIR_ROOT);
	if (xdg && *xdg == '/') {
		dir = xasprintf("%s/slipway/locks", xdg);
		if (usable_dir(dir, 0700))
			return dir;
		free(dir);
	}
	dir = xasprintf("/tmp/slipway-%d", (int)getuid());
	if (usable_dir(dir, 0700)) {
		char *locks = xasprintf("%s/locks", dir);

		free(dir);
		if (usable_dir(locks, 0700))
			return locks;
		dir = locks;
	}
	err_set(e, ERR_SYSTEM, "no directory for locks: cannot use '%s'", dir);
	free(dir);
	return NULL;
}

void lock_sweep(const char *dir, const char *prefix, long max_age_s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	size_t pl = strlen(prefix);

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;
		char *path;
		int fd;

		if (n < pl + 5 || strncmp(de->d_name, prefix, pl) ||
		    strcmp(de->d_name + n - 5, ".lock"))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > max_age_s &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0 && same_file(fd, path))
			unlink(path);
		free(path);
		close(fd);
	}
	closedir(d);
}
