#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "glob.h"
#include "hash.h"
#include "retire.h"
#include "xalloc.h"
#include "banned.h"

#define MANIFEST_MAX ((size_t)1 << 30)
#define META_MAX ((size_t)1 << 20)

enum { ROOT_SRC = 0, ROOT_ABS = 1 };
enum { T_FILE, T_DIR, T_LINK };

static const char *const root_names[] = { "src", "abs" };
static const char *const type_names[] = { "file", "dir", "symlink" };

/* One item of an entry, as walked at save time or read from a manifest. */
struct item {
	char *path; /* relative to its root */
	int root;
	int type;
	unsigned mode;
	int64_t mtime_ns;
	uint64_t size;
	uint64_t ino;
	char hash[65];
	char *target; /* symlinks */
	int pat; /* index of the pattern it matched (restore) */
	bool trusted; /* save: its object is known to be in the store */
};

struct items {
	struct item *v;
	size_t nr, alloc;
};

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->nr; i++) {
		free(it->v[i].path);
		free(it->v[i].target);
	}
	free(it->v);
	memset(it, 0, sizeof(*it));
}

static struct item *items_add(struct items *it)
{
	struct item *x;

	ALLOC_GROW(it->v, it->nr + 1, it->alloc);
	x = &it->v[it->nr++];
	memset(x, 0, sizeof(*x));
	x->pat = -1;
	return x;
}

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->root != y->root)
		return x->root - y->root;
	return strcmp(x->path, y->path);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t st_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

static void warnf(struct cache_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void human(struct buf *b, uint64_t n);
static void warnf(struct cache_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strvec_push_nodup(&r->warnings, xvasprintf(fmt, ap));
	va_end(ap);
}

/* ---- a small string-keyed hash table (stat cache, sets, refcounts) ---- */

struct statc_ent {
	char *key; /* NULL: empty slot */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t ino;
	long count;
	int64_t gen; /* generation its object was known to exist in */
	char hash[65];
};

struct cache_statc {
	struct statc_ent *v;
	size_t cap, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct statc_ent *statc_slot(struct cache_statc *t, const char *key)
{
	size_t i = fnv(key) & (t->cap - 1);

	while (t->v[i].key && strcmp(t->v[i].key, key))
		i = (i + 1) & (t->cap - 1);
	return &t->v[i];
}

static struct statc_ent *statc_find(struct cache_statc *t, const char *key)
{
	struct statc_ent *s;

	if (!t || !t->n)
		return NULL;
	s = statc_slot(t, key);
	return s->key ? s : NULL;
}

/* The entry for key, added (zeroed) if absent. */
static struct statc_ent *statc_get(struct cache_statc *t, const char *key)
{
	struct statc_ent *s;

	if ((t->n + 1) * 10 >= t->cap * 7) {
		struct cache_statc nt;

		nt.cap = t->cap ? t->cap * 2 : 1024;
		nt.n = t->n;
		nt.v = xcalloc(nt.cap, sizeof(*nt.v));
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].key)
				*statc_slot(&nt, t->v[i].key) = t->v[i];
		free(t->v);
		*t = nt;
	}
	s = statc_slot(t, key);
	if (!s->key) {
		memset(s, 0, sizeof(*s));
		s->key = xstrdup(key);
		t->n++;
	}
	return s;
}

static void statc_free(struct cache_statc *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].key);
	free(t->v);
	free(t);
}

static char *item_key(int root, const char *path)
{
	return xasprintf("%c:%s", root == ROOT_ABS ? 'a' : 's', path);
}

static void statc_put_item(struct cache_statc *t, const struct item *x,
			   int64_t gen)
{
	char *k = item_key(x->root, x->path);
	struct statc_ent *s = statc_get(t, k);

	s->size = x->size;
	s->mtime_ns = x->mtime_ns;
	s->ino = x->ino;
	s->gen = gen;
	memcpy(s->hash, x->hash, sizeof(s->hash));
	free(k);
}

/* ---- patterns ---- */

struct pat {
	char *rel; /* normalised, relative to its root */
	int root;
	char *start; /* literal directory the walk starts from ("" = root) */
	char *all_under; /* everything strictly beneath matches; or NULL */
	size_t ncomp;
	bool dstar, bare;
};

struct pats {
	struct pat *v;
	size_t nr;
};

static void pats_release(struct pats *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		free(p->v[i].rel);
		free(p->v[i].start);
		free(p->v[i].all_under);
	}
	free(p->v);
	p->v = NULL;
	p->nr = 0;
}

static void join_comps(struct buf *b, char **v, size_t n)
{
	buf_clear(b);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addch(b, '/');
		buf_addstr(b, v[i]);
	}
}

static int pat_parse(const char *s, struct pat *p, struct sw_err *e)
{
	struct strvec c = STRVEC_INIT;
	struct buf b = BUF_INIT;
	char *dup = xstrdup(s), *save = NULL, *tok;
	size_t lit = 0;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	p->root = *s == '/' ? ROOT_ABS : ROOT_SRC;
	for (tok = strtok_r(dup, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			err_set(e, ERR_FAILED,
				"cache path '%s': '..' is not allowed", s);
			goto out;
		}
		strvec_push(&c, tok);
	}
	if (!c.nr) {
		err_set(e, ERR_FAILED, "cache path '%s' names no directory", s);
		goto out;
	}
	while (lit < c.nr && !glob_has_magic(c.v[lit]))
		lit++;
	p->ncomp = c.nr;
	p->bare = lit == c.nr;
	for (size_t i = 0; i < c.nr; i++)
		if (!strcmp(c.v[i], "**"))
			p->dstar = true;
	join_comps(&b, c.v, c.nr);
	p->rel = xstrdup(buf_cstr(&b));
	join_comps(&b, c.v, p->bare ? c.nr - 1 : lit);
	p->start = xstrdup(buf_cstr(&b));
	if (p->bare) {
		p->all_under = xstrdup(p->rel);
	} else if ((c.nr == lit + 2 && !strcmp(c.v[lit], "**") &&
		    !strcmp(c.v[lit + 1], "*")) ||
		   (c.nr == lit + 1 && !strcmp(c.v[lit], "**"))) {
		join_comps(&b, c.v, lit);
		p->all_under = xstrdup(buf_cstr(&b));
	}
	ret = 0;
out:
	free(dup);
	strvec_release(&c);
	buf_release(&b);
	return ret;
}

static int pats_parse(const struct cache_spec *spec, struct pats *p,
		      struct sw_err *e)
{
	p->v = xcalloc(spec->npaths ? spec->npaths : 1, sizeof(*p->v));
	p->nr = 0;
	for (size_t i = 0; i < spec->npaths; i++) {
		if (pat_parse(spec->paths[i], &p->v[p->nr], e) < 0) {
			pats_release(p);
			return -1;
		}
		p->nr++;
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cache_abs_dirs(const char *const *paths, size_t n, struct strvec *out,
		   struct sw_err *e)
{
	struct strvec all = STRVEC_INIT;
	size_t first = out->nr;
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		struct pat p;
		bool none;

		if (paths[i][0] != '/')
			continue;
		if (pat_parse(paths[i], &p, e) < 0)
			goto out;
		none = !p.bare && !*p.start;
		if (!none)
			strvec_pushf(&all, "/%s", p.bare ? p.rel : p.start);
		free(p.rel);
		free(p.start);
		free(p.all_under);
		if (none) {
			err_set(e, ERR_FAILED,
				"cache path '%s' names no directory below /",
				paths[i]);
			goto out;
		}
	}
	if (all.nr)
		qsort(all.v, all.nr, sizeof(*all.v), str_cmp);
	/* Sorted, a directory comes before those inside it. */
	for (size_t i = 0; i < all.nr; i++) {
		bool inside = false;

		for (size_t k = first; k < out->nr && !inside; k++) {
			size_t kl = strlen(out->v[k]);

			inside = !strncmp(all.v[i], out->v[k], kl) &&
				 (!all.v[i][kl] || all.v[i][kl] == '/');
		}
		if (!inside)
			strvec_push(out, all.v[i]);
	}
	ret = 0;
out:
	strvec_release(&all);
	return ret;
}

/* Is `path` (of root `root`) beneath all_under, or matched by pattern? */
static bool pat_match(const struct pat *p, const char *path)
{
	if (p->all_under) {
		size_t n = strlen(p->all_under);

		if (!n || (!strncmp(path, p->all_under, n) && path[n] == '/'))
			return true;
	}
	return glob_match_tree(p->rel, path);
}

/* ---- the store ---- */

static void obj_name(const char *hash, bool exec, char out[72])
{
	snprintf(out, 72, "%.2s/%s%s", hash, hash, exec ? ".x" : "");
}

static bool obj_ok(const struct stat *st, uint64_t size, bool exec)
{
	return S_ISREG(st->st_mode) && (uint64_t)st->st_size == size &&
	       st->st_mtim.tv_sec == CACHE_OBJ_MTIME &&
	       st->st_mtim.tv_nsec == 0 &&
	       (st->st_mode & 07777) == (exec ? 0555u : 0444u);
}

enum obj_state { OBJ_ABSENT, OBJ_OK, OBJ_CORRUPT };

static void bump_gen(struct cache *c);

/* What an object is, changing nothing. */
static enum obj_state obj_state(const struct cache *c, const char *name,
				uint64_t size, bool exec, struct stat *st)
{
	if (fstatat(c->objects_fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return OBJ_ABSENT;
	return obj_ok(st, size, exec) ? OBJ_OK : OBJ_CORRUPT;
}

/* Check an object; a corrupt one is deleted. */
static enum obj_state obj_check(struct cache *c, const char *name,
				uint64_t size, bool exec, struct stat *st)
{
	enum obj_state s = obj_state(c, name, size, exec, st);

	if (s != OBJ_CORRUPT || S_ISDIR(st->st_mode))
		return s;
	/* Manifests of this generation no longer all hold: move it. */
	if (!unlinkat(c->objects_fd, name, 0))
		bump_gen(c);
	return OBJ_CORRUPT;
}

/* FICLONE failed with err: can this file system never clone? */
static bool no_clone_errno(int err)
{
	return err == EOPNOTSUPP || err == ENOTTY || err == ENOSYS ||
	       err == EXDEV || err == EINVAL || err == EPERM;
}

/*
 * Copy in to out (both at offset 0, out empty): copy_file_range, which
 * stays in the kernel (and some file systems turn into a clone of their
 * own), else read and write. size bytes are copied: a source that ends
 * before is an error (EIO), and one that goes on is cut (the callers
 * check the size afterwards).
 */
static int copy_data(int in, int out, uint64_t size)
{
	char buf[1 << 16];
	uint64_t done = 0;

	for (;;) {
		size_t want = size - done < (1u << 30) ? (size_t)(size - done)
						       : (size_t)1 << 30;
		ssize_t n;

		/* Done without the extra call that would say EOF. */
		if (done == size)
			return 0;
		n = copy_file_range(in, NULL, out, NULL, want, 0);
		if (n > 0) {
			done += (uint64_t)n;
			continue;
		}
		if (n == 0)
			goto end;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP && errno != EBADF)
			return -1;
		break;
	}
	if (lseek(in, 0, SEEK_SET) < 0 || lseek(out, 0, SEEK_SET) < 0 ||
	    ftruncate(out, 0) < 0)
		return -1;
	done = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			goto end;
		if ((uint64_t)n > size - done)
			n = (ssize_t)(size - done);
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -1;
			w += k;
		}
		done += (uint64_t)n;
		if (done == size)
			return 0;
	}
end:
	if (done < size) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int hash_fd(int fd, char out[65], struct sw_err *e)
{
	struct hash_ctx h = HASH_CTX_INIT;
	char buf[1 << 16];
	int ret = -1;

	if (hash_init(&h, HASH_SHA256, e) < 0)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "read");
			goto out;
		}
		if (!n)
			break;
		if (hash_update(&h, buf, (size_t)n, e) < 0)
			goto out;
	}
	ret = hash_final(&h, out, e);
out:
	hash_release(&h);
	return ret;
}

static unsigned long tmp_seq;

/* A new name in tmp/: the writer's pid first, for sweep_tmp(). */
static char *tmp_name(void)
{
	return xasprintf("%ld.%lu.%lx", (long)getpid(), ++tmp_seq,
			 (unsigned long)now_ns());
}

/* The pid a tmp/ name was made by, or 0 when it is not one of ours. */
static pid_t tmp_pid(const char *name)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno || end == name || *end != '.' || pid <= 0 || pid > INT_MAX)
		return 0;
	return (pid_t)pid;
}

/*
 * Remove the files in tmp/ left by processes that are gone (all: every
 * one, for prune under the exclusive lock); count them and their bytes.
 */
static void sweep_tmp(struct cache *c, bool all, size_t *n, uint64_t *bytes)
{
	int fd = openat(c->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	pid_t self = getpid();

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		pid_t pid = tmp_pid(de->d_name);
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!all && (!pid || pid == self || kill(pid, 0) == 0 ||
			     errno != ESRCH))
			continue;
		if (fstatat(c->tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(c->tmp_fd, de->d_name, 0) == 0) {
			(*n)++;
			*bytes += (uint64_t)st.st_size;
		}
	}
	closedir(d);
}

enum put { PUT_RENAME, PUT_LINK };

/*
 * Write data to tmp/, then rename it to final (absolute), or link it
 * there, which never replaces: *exists (may be NULL for PUT_RENAME) says
 * final was there. sync: fsync the file and final's directory.
 */
static int tmp_put(struct cache *c, const char *final, const void *data,
		   size_t len, mode_t mode, enum put how, bool sync,
		   bool *exists, struct sw_err *e)
{
	char *tmp = tmp_name();
	int fd = -1, ret = -1;
	size_t w = 0;

	if (exists)
		*exists = false;
	fd = openat(c->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		err_sys(e, "cannot create '%s/tmp/%s'", c->dir, tmp);
		goto out;
	}
	while (w < len) {
		ssize_t k = write(fd, (const char *)data + w, len - w);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err_sys(e, "cannot write '%s/tmp/%s'", c->dir, tmp);
			goto out;
		}
		w += (size_t)k;
	}
	if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0)) {
		err_sys(e, "cannot write '%s/tmp/%s'", c->dir, tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_sys(e, "cannot write '%s/tmp/%s'", c->dir, tmp);
		goto out;
	}
	fd = -1;
	if (how == PUT_LINK) {
		if (linkat(c->tmp_fd, tmp, AT_FDCWD, final, 0) < 0) {
			if (errno == EEXIST && exists)
				*exists = true;
			else
				err_sys(e, "cannot link '%s'", final);
			goto out;
		}
	} else if (renameat(c->tmp_fd, tmp, AT_FDCWD, final) < 0) {
		err_sys(e, "cannot rename to '%s'", final);
		goto out;
	}
	ret = 0;
	if (sync) {
		char *dir = xstrdup(final), *slash = strrchr(dir, '/');

		if (slash && slash != dir)
			*slash = '\0';
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			fsync(fd);
		free(dir);
	}
out:
	if (fd >= 0)
		close(fd);
	unlinkat(c->tmp_fd, tmp, 0);
	free(tmp);
	return exists && *exists ? 0 : ret;
}

/* abs_root: where absolute paths are mapped (NULL: the real "/"). */
static char *root_path(int root, const char *srcdir, const char *abs_root,
		       const char *path)
{
	if (root == ROOT_ABS)
		return xasprintf("%s/%s", abs_root ? abs_root : "", path);
	return fs_join(srcdir, path);
}

/* The directory absolute paths are taken from, or -1 with errno. */
static int abs_open(const char *abs_root)
{
	if (!abs_root)
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return open(abs_root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Store the regular file `x` (already hashed) unless its object is there.
 * Returns 1 when written, 0 when present or skipped (x->type set to -1,
 * with a warning), -1 when the store cannot be written (e set).
 */
static int obj_store(struct cache *c, const char *srcdir, const char *abs_root,
		     struct item *x, struct cache_result *r, struct sw_err *e)
{
	char name[72], *path = root_path(x->root, srcdir, abs_root, x->path);
	char *tmp = NULL, sub[3];
	const char *kill = getenv(CACHE_TEST_KILL_ENV);
	struct stat st, st2;
	bool exec = x->mode & 0111;
	int in = -1, out = -1, ret = 0;

	obj_name(x->hash, exec, name);
	switch (obj_check(c, name, x->size, exec, &st)) {
	case OBJ_OK:
		goto out;
	case OBJ_CORRUPT:
		warnf(r, "cache object '%s' was modified: replaced", name);
		break;
	case OBJ_ABSENT:
		break;
	}
	in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != x->size ||
	    st_mtime_ns(&st) != x->mtime_ns) {
		warnf(r, "'%s' changed during the save: not cached", path);
		x->type = -1;
		goto out;
	}
	memcpy(sub, x->hash, 2);
	sub[2] = '\0';
	if (mkdirat(c->objects_fd, sub, 0755) < 0 && errno != EEXIST) {
		ret = err_sys(e, "cannot create '%s/objects/%s'", c->dir, sub);
		goto out;
	}
	tmp = tmp_name();
	out = openat(c->tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		     0600);
	if (out < 0) {
		ret = err_sys(e, "cannot create '%s/tmp/%s'", c->dir, tmp);
		goto out;
	}
	if (c->no_reflink || ioctl(out, FICLONE, in) < 0) {
		if (!c->no_reflink && no_clone_errno(errno))
			c->no_reflink = true;
		if (copy_data(in, out, x->size) < 0) {
			ret = err_sys(e, "cannot copy '%s' to '%s/tmp/%s'",
				      path, c->dir, tmp);
			goto out;
		}
	}
	if (kill && !strcmp(kill, "in-object"))
		raise(SIGKILL);
	if (fstat(in, &st2) < 0 || st2.st_size != st.st_size ||
	    st_mtime_ns(&st2) != st_mtime_ns(&st)) {
		warnf(r, "'%s' changed during the save: not cached", path);
		x->type = -1;
		goto out;
	}
	{
		struct timespec ts[2] = { { CACHE_OBJ_MTIME, 0 },
					  { CACHE_OBJ_MTIME, 0 } };

		if (fchmod(out, exec ? 0555 : 0444) < 0 ||
		    futimens(out, ts) < 0) {
			ret = err_sys(e, "cannot write '%s/tmp/%s'", c->dir,
				      tmp);
			goto out;
		}
	}
	if (close(out) < 0) {
		out = -1;
		ret = err_sys(e, "cannot write '%s/tmp/%s'", c->dir, tmp);
		goto out;
	}
	out = -1;
	if (renameat(c->tmp_fd, tmp, c->objects_fd, name) < 0) {
		ret = err_sys(e, "cannot rename to '%s/objects/%s'", c->dir,
			      name);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	r->stored++;
	r->stored_bytes += x->size;
	ret = 1;
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (tmp)
		unlinkat(c->tmp_fd, tmp, 0);
	free(tmp);
	free(path);
	return ret;
}

/* ---- open / release / lock ---- */

int cache_open(struct cache *c, const char *state_dir, struct sw_err *e)
{
	const char *mode = getenv("SLIPWAY_CACHE_LINK");
	char *abs = NULL, *p = NULL;
	int ret = -1;

	*c = (struct cache)CACHE_INIT;
	if (!mode || !*mode || !strcmp(mode, "auto"))
		c->link = CACHE_LINK_AUTO;
	else if (!strcmp(mode, "link"))
		c->link = CACHE_LINK_LINK;
	else if (!strcmp(mode, "copy"))
		c->link = CACHE_LINK_COPY;
	else if (!strcmp(mode, "overlay"))
		c->link = CACHE_LINK_OVERLAY;
	else
		return err_set(e, ERR_USAGE,
			       "SLIPWAY_CACHE_LINK: '%s' is not auto, overlay, "
			       "link or copy",
			       mode);
	abs = fs_abspath(state_dir);
	c->dir = fs_join(abs, "cache");
	p = fs_join(c->dir, "objects");
	if (fs_mkdir_p(p, 0755, e) < 0)
		goto out;
	c->objects_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->objects_fd < 0) {
		err_sys(e, "cannot open '%s'", p);
		goto out;
	}
	free(p);
	p = fs_join(c->dir, "tmp");
	if (fs_mkdir_p(p, 0755, e) < 0)
		goto out;
	c->tmp_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->tmp_fd < 0) {
		err_sys(e, "cannot open '%s'", p);
		goto out;
	}
	free(p);
	p = fs_join(c->dir, "entries");
	if (fs_mkdir_p(p, 0755, e) < 0)
		goto out;
	free(p);
	p = fs_join(c->dir, "lock");
	c->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (c->lock_fd < 0) {
		err_sys(e, "cannot open '%s'", p);
		goto out;
	}
	ret = 0;
out:
	free(abs);
	free(p);
	if (ret < 0) {
		err_prefix(e, "cache");
		cache_release(c);
	}
	return ret;
}

void cache_release(struct cache *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->objects_fd >= 0)
		close(c->objects_fd);
	if (c->tmp_fd >= 0)
		close(c->tmp_fd);
	for (size_t i = 0; i < c->ntree_fds; i++)
		close(c->tree_fds[i]);
	free(c->tree_fds);
	free(c->dir);
	statc_free(c->statc);
	strvec_release(&c->statc_later);
	*c = (struct cache)CACHE_INIT;
}

static int lock(struct cache *c, int how, struct sw_err *e)
{
	if (!c->dir)
		return err_set(e, ERR_SYSTEM, "cache: not open");
	while (flock(c->lock_fd, how) < 0)
		if (errno != EINTR)
			return err_sys(e, "cache: cannot lock '%s/lock'",
				       c->dir);
	return 0;
}

static void unlock(struct cache *c)
{
	flock(c->lock_fd, LOCK_UN);
}

/*
 * <dir>/generation counts prunes and clears, the only removers of
 * objects still in use, and objects found damaged or missing: a save
 * trusts what its restore placed (or the previous manifest recorded)
 * without looking at the objects only if the count did not move.
 */
static int64_t read_gen(struct cache *c)
{
	char *p = fs_join(c->dir, "generation"), *data = NULL;
	struct sw_err ign = SW_ERR_INIT;
	size_t len;
	int64_t n = 0;

	if (fs_read_file(p, 64, &data, &len, &ign) == 0)
		n = strtoll(data, NULL, 10);
	free(data);
	free(p);
	return n;
}

static void bump_gen(struct cache *c)
{
	char *p = fs_join(c->dir, "generation");
	char *s = xasprintf("%" PRId64 "\n", read_gen(c) + 1);
	struct sw_err ign = SW_ERR_INIT;

	tmp_put(c, p, s, strlen(s), 0644, PUT_RENAME, true, NULL, &ign);
	free(p);
	free(s);
}

/* ---- names ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cache_version(const char *const *paths, size_t n, char out[65])
{
	struct strvec v = STRVEC_INIT;
	struct buf b = BUF_INIT;
	struct sw_err e = SW_ERR_INIT;

	for (size_t i = 0; i < n; i++)
		strvec_push(&v, paths[i]);
	if (v.nr)
		qsort(v.v, v.nr, sizeof(*v.v), cmp_str);
	for (size_t i = 0; i < v.nr; i++) {
		buf_addstr(&b, v.v[i]);
		buf_addch(&b, '\n');
	}
	if (hash_buf(HASH_SHA256, b.ptr ? b.ptr : "", b.len, out, &e) < 0)
		BUG("sha256: %s", e.msg);
	strvec_release(&v);
	buf_release(&b);
}

static char *entry_name(const struct cache_spec *spec)
{
	char hex[65];
	struct sw_err e = SW_ERR_INIT;

	if (spec->key && *spec->key) {
		if (hash_buf(HASH_SHA256, spec->key, strlen(spec->key), hex,
			     &e) < 0)
			BUG("sha256: %s", e.msg);
		return xstrdup(hex);
	} else {
		char *s = xasprintf("project-%s",
				    spec->project ? spec->project : "default");

		for (char *q = s; *q; q++)
			if (*q == '/' || *q == '\\')
				*q = '_';
		return s;
	}
}

static char *entry_path(const struct cache *c, const char *version,
			const char *name, const char *ext)
{
	return xasprintf("%s/entries/%s/%s%s", c->dir, version, name, ext);
}

/* ---- manifests and metadata ---- */

static void json_str(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, ch);
		} else if (ch < 0x20) {
			buf_addf(b, "\\u%04x", ch);
		} else {
			buf_addch(b, ch);
		}
	}
	buf_addch(b, '"');
}

struct manifest {
	int format;
	char *version, *key, *project;
	struct strvec paths;
	int64_t created_ns, last_used_ns;
	int64_t gen; /* the store's generation when it was written */
	uint64_t size;
	size_t files;
	struct items items;
};

static void manifest_release(struct manifest *m)
{
	free(m->version);
	free(m->key);
	free(m->project);
	strvec_release(&m->paths);
	items_release(&m->items);
	memset(m, 0, sizeof(*m));
}

static void manifest_head(struct buf *b, const struct manifest *m)
{
	buf_addf(b, "{\"format\":1,\"version\":\"%s\",\"key\":", m->version);
	if (m->key)
		json_str(b, m->key);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ",\"project\":");
	json_str(b, m->project ? m->project : "");
	buf_addstr(b, ",\"paths\":[");
	for (size_t i = 0; i < m->paths.nr; i++) {
		if (i)
			buf_addch(b, ',');
		json_str(b, m->paths.v[i]);
	}
	buf_addf(b,
		 "],\"created_ns\":%" PRId64 ",\"last_used_ns\":%" PRId64
		 ",\"files_count\":%zu,\"total_size\":%" PRIu64
		 ",\"generation\":%" PRId64,
		 m->created_ns, m->last_used_ns, m->files, m->size, m->gen);
}

static void manifest_items(struct buf *b, const struct items *it)
{
	buf_addstr(b, ",\"files\":[");
	for (size_t i = 0, n = 0; i < it->nr; i++) {
		const struct item *x = &it->v[i];

		if (x->type < 0)
			continue;
		buf_addstr(b, n++ ? ",\n{\"path\":" : "\n{\"path\":");
		json_str(b, x->path);
		buf_addf(b,
			 ",\"root\":\"%s\",\"type\":\"%s\",\"mode\":%u,"
			 "\"mtime_ns\":%" PRId64,
			 root_names[x->root], type_names[x->type], x->mode,
			 x->mtime_ns);
		if (x->type == T_FILE)
			buf_addf(b,
				 ",\"size\":%" PRIu64 ",\"ino\":%" PRIu64
				 ",\"hash\":\"%s\"",
				 x->size, x->ino, x->hash);
		if (x->type == T_LINK) {
			buf_addstr(b, ",\"target\":");
			json_str(b, x->target);
		}
		buf_addch(b, '}');
	}
	buf_addstr(b, "]}\n");
}

/*
 * Manifests are JSON, read by a strict single-pass reader: json-c builds
 * a tree of some 200,000 objects for 20,000 files and takes longer than
 * the whole restore should. Anything the reader does not expect (a NUL
 * in a string, a non-integer number, nesting deeper than 16) refuses the
 * manifest.
 */
struct jp {
	const char *start, *p, *end;
	int depth;
};

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' ||
				 *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static bool jp_eat(struct jp *j, char c)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string into out (cleared first); -1 when malformed. */
static int jp_string(struct jp *j, struct buf *out)
{
	buf_clear(out);
	if (!jp_eat(j, '"'))
		return -1;
	while (j->p < j->end) {
		const char *q = j->p;

		while (q < j->end && *q != '"' && *q != '\\' &&
		       (unsigned char)*q >= 0x20)
			q++;
		buf_add(out, j->p, (size_t)(q - j->p));
		j->p = q;
		if (q >= j->end || (unsigned char)*q < 0x20)
			return -1;
		j->p++;
		if (*q == '"') {
			buf_addch(out, '\0');
			buf_setlen(out, out->len - 1);
			return 0;
		}
		if (j->p >= j->end)
			return -1;
		switch (*j->p++) {
		case '"':
			buf_addch(out, '"');
			break;
		case '\\':
			buf_addch(out, '\\');
			break;
		case '/':
			buf_addch(out, '/');
			break;
		case 'b':
			buf_addch(out, '\b');
			break;
		case 'f':
			buf_addch(out, '\f');
			break;
		case 'n':
			buf_addch(out, '\n');
			break;
		case 'r':
			buf_addch(out, '\r');
			break;
		case 't':
			buf_addch(out, '\t');
			break;
		case 'u': {
			unsigned v = 0;

			for (int i = 0; i < 4; i++) {
				int h = j->p < j->end ? hexval(*j->p++) : -1;

				if (h < 0)
					return -1;
				v = v * 16 + (unsigned)h;
			}
			if (!v || (v >= 0xd800 && v <= 0xdfff))
				return -1; /* NUL, surrogates: not ours */
			if (v < 0x80) {
				buf_addch(out, (int)v);
			} else if (v < 0x800) {
				buf_addch(out, (int)(0xc0 | v >> 6));
				buf_addch(out, (int)(0x80 | (v & 0x3f)));
			} else {
				buf_addch(out, (int)(0xe0 | v >> 12));
				buf_addch(out, (int)(0x80 | ((v >> 6) & 0x3f)));
				buf_addch(out, (int)(0x80 | (v & 0x3f)));
			}
			break;
		}
		default:
			return -1;
		}
	}
	return -1;
}

static int jp_int(struct jp *j, int64_t *v)
{
	char digits[24], *end;
	size_t len = 0;
	long long n;

	jp_ws(j);
	/* Copy the number out: the input need not be NUL-terminated. */
	if (j->p < j->end && *j->p == '-')
		digits[len++] = '-';
	while (j->p + len < j->end && j->p[len] >= '0' && j->p[len] <= '9') {
		if (len + 1 >= sizeof(digits))
			return -1;
		digits[len] = j->p[len];
		len++;
	}
	digits[len] = '\0';
	if (!len ||
	    (j->p + len < j->end &&
	     (j->p[len] == '.' || j->p[len] == 'e' || j->p[len] == 'E')))
		return -1;
	errno = 0;
	n = strtoll(digits, &end, 10);
	if (errno || end != digits + len)
		return -1;
	j->p += len;
	*v = n;
	return 0;
}

static bool jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	jp_ws(j);
	if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, w, n)) {
		j->p += n;
		return true;
	}
	return false;
}

static int jp_skip(struct jp *j)
{
	struct buf tmp = BUF_INIT;
	int64_t n;
	int ret = -1;

	jp_ws(j);
	if (j->p >= j->end || ++j->depth > 16)
		goto out;
	if (*j->p == '"') {
		ret = jp_string(j, &tmp);
	} else if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';

		j->p++;
		if (jp_eat(j, close)) {
			ret = 0;
			goto out;
		}
		do {
			if (close == '}' &&
			    (jp_string(j, &tmp) < 0 || !jp_eat(j, ':')))
				goto out;
			if (jp_skip(j) < 0)
				goto out;
		} while (jp_eat(j, ','));
		ret = jp_eat(j, close) ? 0 : -1;
	} else if (jp_word(j, "true") || jp_word(j, "false") ||
		   jp_word(j, "null")) {
		ret = 0;
	} else {
		ret = jp_int(j, &n);
	}
out:
	j->depth--;
	buf_release(&tmp);
	return ret;
}

static int type_of(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, type_names[i]))
			return i;
	return -1;
}

/* One object of "files"; 0, or -1 with e set. */
static int jp_item(struct jp *j, struct item *x, struct buf *k, struct buf *v,
		   size_t idx, struct sw_err *e)
{
	bool have_mode = false, have_size = false, have_hash = false;
	bool have_root = false;
	int64_t n;

	x->type = -1;
	if (!jp_eat(j, '{'))
		return err_set(e, ERR_FAILED, "file %zu: not an object", idx);
	if (!jp_eat(j, '}'))
		do {
			if (jp_string(j, k) < 0 || !jp_eat(j, ':'))
				return err_set(e, ERR_FAILED,
					       "file %zu: malformed", idx);
			if (!strcmp(k->ptr, "path") ||
			    !strcmp(k->ptr, "root") ||
			    !strcmp(k->ptr, "type") ||
			    !strcmp(k->ptr, "hash") ||
			    !strcmp(k->ptr, "target")) {
				if (jp_string(j, v) < 0 ||
				    strlen(buf_cstr(v)) != v->len)
					return err_set(e, ERR_FAILED,
						       "file %zu: bad '%s'",
						       idx, k->ptr);
			} else if (!strcmp(k->ptr, "mode") ||
				   !strcmp(k->ptr, "mtime_ns") ||
				   !strcmp(k->ptr, "size") ||
				   !strcmp(k->ptr, "ino")) {
				if (jp_int(j, &n) < 0)
					return err_set(e, ERR_FAILED,
						       "file %zu: bad '%s'",
						       idx, k->ptr);
			} else if (jp_skip(j) < 0) {
				return err_set(e, ERR_FAILED,
					       "file %zu: malformed", idx);
			}
			if (!strcmp(k->ptr, "path")) {
				free(x->path);
				x->path = xstrdup(buf_cstr(v));
			} else if (!strcmp(k->ptr, "root")) {
				have_root = true;
				if (!strcmp(buf_cstr(v), "src"))
					x->root = ROOT_SRC;
				else if (!strcmp(buf_cstr(v), "abs"))
					x->root = ROOT_ABS;
				else
					have_root = false;
			} else if (!strcmp(k->ptr, "type")) {
				x->type = type_of(buf_cstr(v));
			} else if (!strcmp(k->ptr, "hash")) {
				have_hash = is_hex64(buf_cstr(v));
				if (have_hash)
					memcpy(x->hash, v->ptr, 65);
			} else if (!strcmp(k->ptr, "target")) {
				free(x->target);
				x->target = xstrdup(buf_cstr(v));
			} else if (!strcmp(k->ptr, "mode")) {
				have_mode = n >= 0 && n <= 07777;
				x->mode = (unsigned)n;
			} else if (!strcmp(k->ptr, "mtime_ns")) {
				x->mtime_ns = n;
			} else if (!strcmp(k->ptr, "size")) {
				have_size = n >= 0;
				x->size = (uint64_t)n;
			} else if (!strcmp(k->ptr, "ino")) {
				x->ino = (uint64_t)n;
			}
		} while (jp_eat(j, ','));
	if (!jp_eat(j, '}'))
		return err_set(e, ERR_FAILED, "file %zu: malformed", idx);
	if (!x->path || !*x->path)
		return err_set(e, ERR_FAILED, "file %zu: bad 'path'", idx);
	if (!have_root)
		return err_set(e, ERR_FAILED, "'%s': bad 'root'", x->path);
	if (x->type < 0)
		return err_set(e, ERR_FAILED, "'%s': bad 'type'", x->path);
	if (!have_mode)
		return err_set(e, ERR_FAILED, "'%s': bad 'mode'", x->path);
	if (x->type == T_FILE && (!have_hash || !have_size))
		return err_set(e, ERR_FAILED, "'%s': bad 'hash' or 'size'",
			       x->path);
	if (x->type == T_LINK && (!x->target || !*x->target))
		return err_set(e, ERR_FAILED, "'%s': bad 'target'", x->path);
	return 0;
}

static int jp_manifest(struct jp *j, bool with_items, struct manifest *m,
		       struct sw_err *e)
{
	struct buf k = BUF_INIT, v = BUF_INIT;
	bool have_format = false, have_files = false;
	int64_t n;
	int ret = -1;

	if (!jp_eat(j, '{')) {
		err_set(e, ERR_FAILED, "not a cache manifest");
		goto out;
	}
	do {
		if (jp_string(j, &k) < 0 || !jp_eat(j, ':'))
			goto bad;
		if (!strcmp(k.ptr, "format")) {
			if (jp_int(j, &n) < 0 || n != 1)
				goto bad;
			have_format = true;
		} else if (!strcmp(k.ptr, "version") ||
			   !strcmp(k.ptr, "project")) {
			if (jp_string(j, &v) < 0)
				goto bad;
			if (!strcmp(k.ptr, "version")) {
				free(m->version);
				m->version = xstrdup(buf_cstr(&v));
			} else {
				free(m->project);
				m->project = xstrdup(buf_cstr(&v));
			}
		} else if (!strcmp(k.ptr, "key")) {
			free(m->key);
			m->key = NULL;
			if (!jp_word(j, "null")) {
				if (jp_string(j, &v) < 0 ||
				    strlen(buf_cstr(&v)) != v.len)
					goto bad;
				m->key = xstrdup(buf_cstr(&v));
			}
		} else if (!strcmp(k.ptr, "paths")) {
			if (!jp_eat(j, '['))
				goto bad;
			if (!jp_eat(j, ']')) {
				do {
					if (jp_string(j, &v) < 0)
						goto bad;
					strvec_push(&m->paths, buf_cstr(&v));
				} while (jp_eat(j, ','));
				if (!jp_eat(j, ']'))
					goto bad;
			}
		} else if (!strcmp(k.ptr, "created_ns") ||
			   !strcmp(k.ptr, "last_used_ns") ||
			   !strcmp(k.ptr, "files_count") ||
			   !strcmp(k.ptr, "generation") ||
			   !strcmp(k.ptr, "total_size")) {
			if (jp_int(j, &n) < 0)
				goto bad;
			if (!strcmp(k.ptr, "created_ns"))
				m->created_ns = n;
			else if (!strcmp(k.ptr, "last_used_ns"))
				m->last_used_ns = n;
			else if (!strcmp(k.ptr, "files_count"))
				m->files = n < 0 ? 0 : (size_t)n;
			else if (!strcmp(k.ptr, "generation"))
				m->gen = n;
			else
				m->size = n < 0 ? 0 : (uint64_t)n;
		} else if (!strcmp(k.ptr, "files") && with_items) {
			have_files = true;
			if (!jp_eat(j, '['))
				goto bad;
			if (!jp_eat(j, ']')) {
				do {
					struct item *x = items_add(&m->items);

					if (jp_item(j, x, &k, &v,
						    m->items.nr - 1, e) < 0)
						goto out;
				} while (jp_eat(j, ','));
				if (!jp_eat(j, ']'))
					goto bad;
			}
		} else if (jp_skip(j) < 0) {
			goto bad;
		}
	} while (jp_eat(j, ','));
	if (!jp_eat(j, '}'))
		goto bad;
	jp_ws(j);
	if (j->p != j->end || !have_format)
		goto bad;
	if (!m->version || !is_hex64(m->version)) {
		err_set(e, ERR_FAILED, "bad 'version'");
		goto out;
	}
	if (with_items && !have_files) {
		err_set(e, ERR_FAILED, "no 'files' list");
		goto out;
	}
	if (!m->last_used_ns)
		m->last_used_ns = m->created_ns;
	m->format = 1;
	ret = 0;
	goto out;
bad:
	err_set(e, ERR_FAILED, "not a valid cache manifest (at byte %zu)",
		(size_t)(j->p - j->start));
out:
	buf_release(&k);
	buf_release(&v);
	return ret;
}

/* with_items false reads only the head fields. */
static int manifest_read(const char *path, bool with_items, struct manifest *m,
			 struct sw_err *e)
{
	char *data = NULL;
	size_t len;
	struct jp j;
	int ret = -1;

	memset(m, 0, sizeof(*m));
	if (fs_read_file(path, MANIFEST_MAX, &data, &len, e) < 0)
		return -1;
	j.start = j.p = data;
	j.end = data + len;
	j.depth = 0;
	ret = jp_manifest(&j, with_items, m, e);
	free(data);
	if (ret < 0) {
		err_prefix(e, "'%s'", path);
		manifest_release(m);
	}
	return ret;
}

int cache_manifest_parse(const char *data, size_t len, struct sw_err *e)
{
	struct manifest m;
	struct jp j;
	int ret;

	memset(&m, 0, sizeof(m));
	j.start = j.p = data;
	j.end = data + len;
	j.depth = 0;
	ret = jp_manifest(&j, true, &m, e);
	manifest_release(&m);
	return ret;
}

/* Not fsync'd: a .meta lost or torn is rebuilt from the manifest. */
static int meta_write(struct cache *c, const char *path,
		      const struct manifest *m, struct sw_err *e)
{
	struct buf b = BUF_INIT;
	int ret;

	manifest_head(&b, m);
	buf_addstr(&b, "}\n");
	ret = tmp_put(c, path, b.ptr, b.len, 0644, PUT_RENAME, false, NULL, e);
	buf_release(&b);
	return ret;
}

/* The entry's head from its .meta, rebuilt from the manifest if absent. */
static int meta_read(struct cache *c, const char *version, const char *name,
		     struct manifest *m, struct sw_err *e)
{
	char *meta = entry_path(c, version, name, ".meta");
	char *man = entry_path(c, version, name, ".json");
	struct sw_err ign = SW_ERR_INIT;
	int ret = 0;

	if (manifest_read(meta, false, m, &ign) < 0) {
		ret = manifest_read(man, false, m, e);
		if (!ret)
			meta_write(c, meta, m, &ign);
	}
	free(meta);
	free(man);
	return ret;
}

/* ---- walking at save time ---- */

struct walk {
	const struct pat *p;
	int root;
	struct items *out;
	struct buf rel;
	struct cache_result *r;
};

static int walk_add(struct walk *w, int dfd, const char *name,
		    const struct stat *st)
{
	struct item *x = items_add(w->out);

	x->path = xstrdup(buf_cstr(&w->rel));
	x->root = w->root;
	x->mode = st->st_mode & 07777;
	x->mtime_ns = st_mtime_ns(st);
	if (S_ISREG(st->st_mode)) {
		x->type = T_FILE;
		x->size = (uint64_t)st->st_size;
		x->ino = (uint64_t)st->st_ino;
	} else if (S_ISDIR(st->st_mode)) {
		x->type = T_DIR;
	} else {
		char t[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, t, sizeof(t) - 1);

		x->type = T_LINK;
		if (n <= 0) {
			x->type = -1;
			return 0;
		}
		t[n] = '\0';
		x->target = xstrdup(t);
	}
	return 0;
}

static int walk_dir(struct walk *w, int fd, size_t depth, bool all)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	size_t base = w->rel.len;

	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		bool m, sub_all;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_setlen(&w->rel, base);
		if (base)
			buf_addch(&w->rel, '/');
		buf_addstr(&w->rel, de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
		    !S_ISLNK(st.st_mode))
			continue;
		m = all || pat_match(w->p, buf_cstr(&w->rel));
		if (m)
			walk_add(w, dirfd(d), de->d_name, &st);
		if (!S_ISDIR(st.st_mode))
			continue;
		sub_all = all || (w->p->all_under &&
				  !strcmp(buf_cstr(&w->rel), w->p->all_under));
		if (sub_all || w->p->dstar || depth + 1 < w->p->ncomp ||
		    (m && w->p->bare)) {
			int sfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);

			if (sfd >= 0)
				walk_dir(w, sfd, depth + 1, sub_all);
		}
	}
	buf_setlen(&w->rel, base);
	closedir(d);
	return 0;
}

/*
 * Open the directory `rel` (components separated by '/') below dfd.
 * follow: symlinks in rel are followed (a literal absolute prefix);
 * create: missing ones are made 0755, and a non-directory in the way is
 * replaced. Returns an fd or -1 with errno.
 */
static int open_dirs(int dfd, const char *rel, bool follow, bool create)
{
	char *dup = xstrdup(rel), *save = NULL, *tok;
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

	for (tok = strtok_r(dup, "/", &save); fd >= 0 && tok;
	     tok = strtok_r(NULL, "/", &save)) {
		int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			    (follow ? 0 : O_NOFOLLOW);
		int nfd = openat(fd, tok, flags);

		if (nfd < 0 && create &&
		    (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
			if (errno != ENOENT)
				unlinkat(fd, tok, 0);
			if (mkdirat(fd, tok, 0755) < 0 && errno != EEXIST) {
				close(fd);
				fd = -1;
				break;
			}
			nfd = openat(fd, tok, flags);
		}
		close(fd);
		fd = nfd;
	}
	free(dup);
	return fd;
}

static int collect(const struct pats *pats, const char *srcdir,
		   const char *abs_root, struct items *out,
		   struct cache_result *r)
{
	for (size_t i = 0; i < pats->nr; i++) {
		const struct pat *p = &pats->v[i];
		struct walk w = { p, p->root, out, BUF_INIT, r };
		int rfd = p->root == ROOT_ABS
				  ? abs_open(abs_root)
				  : open(srcdir,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		size_t depth;
		int fd;

		if (rfd < 0)
			continue;
		/* abs: the literal prefix is the user's own path, unless
		 * it is mapped into a directory of ours. */
		fd = open_dirs(rfd, p->start, p->root == ROOT_ABS && !abs_root,
			       false);
		close(rfd);
		if (fd < 0)
			continue;
		buf_addstr(&w.rel, p->start);
		depth = *p->start ? 1 : 0;
		for (const char *q = p->start; *q; q++)
			depth += *q == '/';
		walk_dir(&w, fd, depth, false);
		buf_release(&w.rel);
	}
	if (out->nr)
		qsort(out->v, out->nr, sizeof(*out->v), item_cmp);
	/* Overlapping patterns: keep the first of each path. */
	size_t k = 0;

	for (size_t i = 0; i < out->nr; i++) {
		if (k && !item_cmp(&out->v[k - 1], &out->v[i])) {
			free(out->v[i].path);
			free(out->v[i].target);
			continue;
		}
		out->v[k++] = out->v[i];
	}
	out->nr = k;
	return 0;
}

/* ---- restore ---- */

static bool path_ok(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/' || strlen(p) >= PATH_MAX)
		return false;
	while (*s) {
		const char *end = strchrnul(s, '/');
		size_t n = (size_t)(end - s);

		if (!n || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s = *end ? end + 1 : end;
		if (*end && !*s)
			return false; /* trailing slash */
	}
	return true;
}

/*
 * Refuse a manifest that would write outside its roots: bad paths, paths
 * outside the entry's own patterns, paths through one of its symlinks.
 */
static int validate(struct manifest *m, const struct pats *pats,
		    const char *version, struct sw_err *e)
{
	struct cache_statc links = { 0 };
	int ret = -1;

	if (strcmp(m->version, version)) {
		err_set(e, ERR_FAILED, "version '%s' is not '%s'", m->version,
			version);
		goto out;
	}
	for (size_t i = 0; i < m->items.nr; i++) {
		struct item *x = &m->items.v[i];

		if (!path_ok(x->path)) {
			err_set(e, ERR_FAILED, "path '%s' is not allowed",
				x->path);
			goto out;
		}
		x->pat = -1;
		for (size_t k = 0; k < pats->nr && x->pat < 0; k++) {
			const struct pat *p = &pats->v[k];
			size_t n = strlen(p->start);

			if (p->root != x->root || !pat_match(p, x->path))
				continue;
			if (n && (strncmp(x->path, p->start, n) ||
				  x->path[n] != '/'))
				continue;
			x->pat = (int)k;
		}
		if (x->pat < 0) {
			err_set(e, ERR_FAILED,
				"path '%s' is not within the cache paths",
				x->path);
			goto out;
		}
		if (x->type == T_LINK) {
			char *k = item_key(x->root, x->path);

			statc_get(&links, k);
			free(k);
		}
	}
	for (size_t i = 0; links.n && i < m->items.nr; i++) {
		struct item *x = &m->items.v[i];
		char *k = item_key(x->root, x->path);

		for (char *q = k + 2; (q = strchr(q, '/')); q++) {
			*q = '\0';
			if (statc_find(&links, k)) {
				err_set(e, ERR_FAILED,
					"path '%s' passes through symlink "
					"'%s'",
					x->path, k + 2);
				free(k);
				goto out;
			}
			*q = '/';
		}
		free(k);
	}
	ret = 0;
out:
	for (size_t i = 0; i < links.cap; i++)
		free(links.v[i].key);
	free(links.v);
	return ret;
}

struct rctx {
	struct cache *c;
	struct cache_result *r;
	const struct pats *pats;
	int src_fd;
	const char *abs_root; /* NULL: "/" */
	int *abs_fd; /* per pattern; -2: not opened yet */
	int cur_fd, cur_root;
	struct buf cur;
	struct strvec late_dirs; /* "<root>\t<rel>\t<mode>" */
	bool bumped; /* the generation, for a missing object */
	bool tree; /* making a tree: never a hard link to an object */
	int prev_fd; /* an older tree of the entry, to link from; or -1 */
	struct cache_statc *prev; /* its files; count holds the mode */
};

static int root_fd(struct rctx *x, int pat, int root)
{
	if (root == ROOT_SRC)
		return x->src_fd;
	if (x->abs_fd[pat] == -2) {
		int slash = abs_open(x->abs_root);

		x->abs_fd[pat] =
			slash < 0 ? -1
				  : open_dirs(slash, x->pats->v[pat].start,
					      !x->abs_root, true);
		if (slash >= 0)
			close(slash);
	}
	return x->abs_fd[pat];
}

/* rel below its root, for an item of root ROOT_ABS. */
static const char *item_rel(const struct rctx *x, const struct item *it)
{
	size_t n;

	if (it->root == ROOT_SRC)
		return it->path;
	n = strlen(x->pats->v[it->pat].start);
	return n ? it->path + n + 1 : it->path;
}

/* The fd of rel's parent directory (borrowed), creating it; -1 errno. */
static int parent_fd(struct rctx *x, const struct item *it, const char *rel,
		     const char **leaf)
{
	const char *slash = strrchr(rel, '/');
	int rid = it->root == ROOT_SRC ? -1 : it->pat;
	int rfd = root_fd(x, it->pat, it->root);
	size_t n;

	*leaf = slash ? slash + 1 : rel;
	if (rfd < 0)
		return -1;
	if (!slash)
		return rfd;
	n = (size_t)(slash - rel);
	if (x->cur_fd >= 0 && x->cur_root == rid && x->cur.len == n &&
	    !memcmp(x->cur.ptr, rel, n))
		return x->cur_fd;
	if (x->cur_fd >= 0)
		close(x->cur_fd);
	buf_clear(&x->cur);
	buf_add(&x->cur, rel, n);
	x->cur_root = rid;
	x->cur_fd = open_dirs(rfd, buf_cstr(&x->cur), false, true);
	return x->cur_fd;
}

/* Make room for leaf in pfd: 0, or -1 when a directory is in the way. */
static int clear_leaf(int pfd, const char *leaf)
{
	if (unlinkat(pfd, leaf, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno == EISDIR && unlinkat(pfd, leaf, AT_REMOVEDIR) == 0)
		return 0;
	return -1;
}

enum place { PLACE_CLONE, PLACE_COPY };

/*
 * Make leaf a file of its own with the object's content, the manifest's
 * mode and mtime: by FICLONE or by copying. 0, -1 with errno, or -2 when
 * PLACE_CLONE failed with errno (nothing left behind).
 */
static int place_own(struct rctx *x, int pfd, const char *leaf,
		     const struct item *it, const char *obj, enum place how,
		     struct stat *st)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int in = -1, out = -1, ret = -1;
	struct timespec ts[2];

	in = openat(x->c->objects_fd, obj, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto out;
	/* Into a new directory mostly: try before clearing the way. */
	out = openat(pfd, leaf, flags, 0600);
	if (out < 0 && errno == EEXIST && clear_leaf(pfd, leaf) == 0)
		out = openat(pfd, leaf, flags, 0600);
	if (out < 0)
		goto out;
	if (how == PLACE_CLONE) {
		if (ioctl(out, FICLONE, in) < 0) {
			int err = errno;

			close(out);
			out = -1;
			unlinkat(pfd, leaf, 0);
			errno = err;
			ret = -2;
			goto out;
		}
	} else if (copy_data(in, out, it->size) < 0) {
		int err = errno;

		close(out);
		out = -1;
		unlinkat(pfd, leaf, 0);
		errno = err;
		goto out;
	}
	ts[0].tv_sec = ts[1].tv_sec = it->mtime_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = it->mtime_ns % 1000000000;
	if (fchmod(out, it->mode & 07777) < 0 || futimens(out, ts) < 0 ||
	    fstat(out, st) < 0)
		goto out;
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/*
 * Making a tree: link the older tree's file at the same path when it has
 * the same content, mode and mtime (a ready tree is trusted as the one
 * being made will be: nothing writes to trees). 0 or -1.
 */
static int place_prev(struct rctx *x, int pfd, const char *leaf,
		      const struct item *it, struct stat *st)
{
	char *k = item_key(it->root, it->path);
	struct statc_ent *s = statc_find(x->prev, k);
	char *rel = NULL;
	int ret = -1;

	if (!s || strcmp(s->hash, it->hash) || s->mtime_ns != it->mtime_ns ||
	    s->size != it->size || s->count != (long)(it->mode & 07777))
		goto out;
	rel = xasprintf("%s/%s", root_names[it->root], it->path);
	if (linkat(x->prev_fd, rel, pfd, leaf, 0) < 0 &&
	    (errno != EEXIST || clear_leaf(pfd, leaf) < 0 ||
	     linkat(x->prev_fd, rel, pfd, leaf, 0) < 0))
		goto out;
	/* The older tree's inode, as its manifest says. */
	memset(st, 0, sizeof(*st));
	st->st_size = (off_t)it->size;
	st->st_mtim.tv_sec = it->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = it->mtime_ns % 1000000000;
	st->st_ino = (ino_t)s->ino;
	x->r->linked++;
	ret = 0;
out:
	free(rel);
	free(k);
	return ret;
}

/* Place the object as leaf, in the cache's mode; counts how in x->r. */
static int place_file(struct rctx *x, int pfd, const char *leaf,
		      const struct item *it, const char *obj,
		      const struct stat *ost, struct stat *st)
{
	struct cache *c = x->c;
	int rc;

	if (x->prev && place_prev(x, pfd, leaf, it, st) == 0)
		return 0;
	if (c->link == CACHE_LINK_LINK && !x->tree) {
		for (int tries = 0; tries < 2; tries++) {
			if (linkat(c->objects_fd, obj, pfd, leaf, 0) == 0) {
				*st = *ost;
				x->r->linked++;
				return 0;
			}
			if (errno != EEXIST || clear_leaf(pfd, leaf) < 0)
				break;
		}
		if (errno != EXDEV && errno != EMLINK && errno != EPERM)
			return -1;
	}
	if ((c->link == CACHE_LINK_AUTO || c->link == CACHE_LINK_OVERLAY ||
	     (c->link == CACHE_LINK_LINK && x->tree)) &&
	    !c->no_reflink) {
		rc = place_own(x, pfd, leaf, it, obj, PLACE_CLONE, st);
		if (rc == 0) {
			x->r->cloned++;
			return 0;
		}
		if (rc == -1)
			return -1;
		if (no_clone_errno(errno))
			c->no_reflink = true;
	}
	if (place_own(x, pfd, leaf, it, obj, PLACE_COPY, st) < 0)
		return -1;
	x->r->copied++;
	return 0;
}

static void restore_item(struct rctx *x, const struct item *it)
{
	const char *rel = item_rel(x, it), *leaf;
	int pfd = parent_fd(x, it, rel, &leaf);
	char *where = root_path(it->root, "<src>", NULL, it->path);
	struct cache_result *r = x->r;

	if (pfd < 0) {
		warnf(r, "cannot restore '%s': %s", where, strerror(errno));
		goto out;
	}
	if (it->type == T_DIR) {
		struct stat st;

		if (mkdirat(pfd, leaf, 0700) < 0) {
			if (errno != EEXIST ||
			    fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    (!S_ISDIR(st.st_mode) &&
			     (unlinkat(pfd, leaf, 0) < 0 ||
			      mkdirat(pfd, leaf, 0700) < 0))) {
				warnf(r, "cannot restore '%s': %s", where,
				      strerror(errno));
				goto out;
			}
		}
		if ((it->mode & 0300) == 0300)
			fchmodat(pfd, leaf, it->mode, 0);
		else
			strvec_pushf(&x->late_dirs, "%d\t%u\t%s",
				     it->root == ROOT_SRC ? -1 : it->pat,
				     it->mode, rel);
		r->dirs++;
	} else if (it->type == T_LINK) {
		if (symlinkat(it->target, pfd, leaf) < 0 &&
		    (errno != EEXIST || clear_leaf(pfd, leaf) < 0 ||
		     symlinkat(it->target, pfd, leaf) < 0)) {
			warnf(r, "cannot restore '%s': %s", where,
			      strerror(errno));
			goto out;
		}
		r->symlinks++;
	} else {
		char obj[72];
		struct stat ost, st;
		bool exec = it->mode & 0111;
		char *k;
		struct statc_ent *s;

		obj_name(it->hash, exec, obj);
		switch (obj_check(x->c, obj, it->size, exec, &ost)) {
		case OBJ_OK:
			break;
		case OBJ_CORRUPT:
			warnf(r,
			      "cache object for '%s' was modified after it "
			      "was stored: dropped, file not restored",
			      where);
			r->missing++;
			goto out;
		case OBJ_ABSENT:
			warnf(r,
			      "cache object for '%s' is missing: file not "
			      "restored",
			      where);
			r->missing++;
			/* The next save must not trust it is there. */
			if (!x->bumped)
				bump_gen(x->c);
			x->bumped = true;
			goto out;
		}
		if (place_file(x, pfd, leaf, it, obj, &ost, &st) < 0) {
			warnf(r, "cannot restore '%s': %s", where,
			      strerror(errno));
			r->missing++;
			goto out;
		}
		k = item_key(it->root, it->path);
		s = statc_get(x->c->statc, k);
		s->size = (uint64_t)st.st_size;
		s->mtime_ns = st_mtime_ns(&st);
		s->ino = (uint64_t)st.st_ino;
		memcpy(s->hash, it->hash, 65);
		s->gen = x->c->gen;
		free(k);
		r->files++;
		r->bytes += it->size;
	}
out:
	free(where);
}

static void late_dirs(struct rctx *x)
{
	/* Deepest first: a read-only parent must still let us in. */
	for (size_t i = x->late_dirs.nr; i-- > 0;) {
		char *s = x->late_dirs.v[i], *rel;
		int rid = (int)strtol(s, &s, 10), fd, rfd;
		unsigned mode = (unsigned)strtoul(s + 1, &rel, 10);

		rfd = rid < 0 ? x->src_fd : x->abs_fd[rid];
		if (rfd < 0)
			continue;
		fd = open_dirs(rfd, rel + 1, false, false);
		if (fd >= 0) {
			fchmod(fd, mode);
			close(fd);
		}
	}
}

/* ---- overlay restore: units and trees ---- */

/* A directory mounted as an overlay, and the items beneath it. */
struct unit {
	int root;
	int pat; /* a pattern of its own (its literal start opens it) */
	char *path; /* relative to its root */
	char *lower; /* <tree>/<root name>/<path> */
	char *target; /* absolute: the mount point */
	bool failed; /* not mounted: restore its items the usual way */
};

struct units {
	struct unit *v;
	size_t nr;
	bool whole; /* every pattern's items lie beneath a unit */
};

static void units_release(struct units *u)
{
	for (size_t i = 0; i < u->nr; i++) {
		free(u->v[i].path);
		free(u->v[i].lower);
		free(u->v[i].target);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* Whether path is dir or beneath it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (!path[n] || path[n] == '/');
}

/*
 * The overlay directories of the patterns: a bare directory as a whole,
 * else the literal prefix; none at a root (a glob at the source root)
 * nor for the machine's own absolute paths; nested ones merged.
 */
static void units_of(const struct pats *pats, const struct cache_spec *spec,
		     struct units *u)
{
	u->v = xcalloc(pats->nr ? pats->nr : 1, sizeof(*u->v));
	u->nr = 0;
	u->whole = true;
	for (size_t i = 0; i < pats->nr; i++) {
		const struct pat *p = &pats->v[i];
		const char *d = p->all_under ? p->all_under : p->start;
		size_t k;

		if (!*d || (p->root == ROOT_ABS && !spec->abs_root)) {
			u->whole = false;
			continue;
		}
		for (k = 0; k < u->nr; k++)
			if (u->v[k].root == p->root && under(d, u->v[k].path))
				break;
		if (k < u->nr)
			continue;
		for (k = 0; k < u->nr;) {
			if (u->v[k].root == p->root && under(u->v[k].path, d)) {
				free(u->v[k].path);
				u->v[k] = u->v[--u->nr];
			} else {
				k++;
			}
		}
		u->v[u->nr].root = p->root;
		u->v[u->nr].pat = (int)i;
		u->v[u->nr].path = xstrdup(d);
		u->nr++;
	}
}

static struct unit *unit_of(const struct units *u, const struct item *it)
{
	for (size_t i = 0; i < u->nr; i++)
		if (u->v[i].root == it->root && under(it->path, u->v[i].path))
			return &u->v[i];
	return NULL;
}

static bool units_failed(const struct units *u)
{
	for (size_t i = 0; i < u->nr; i++)
		if (u->v[i].failed)
			return true;
	return false;
}

static bool flock_retry(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

/*
 * How long a restore waits for a tree's maker (a save's, run in the
 * background at the lowest priority, or one stopped) before it restores
 * without the tree, as the fast path being unavailable never fails a
 * build; $SLIPWAY_CACHE_TREE_WAIT_MS (tests) sets it.
 */
#define TREE_WAIT_MS 30000

static bool flock_shared_within(int fd)
{
	const char *env = getenv("SLIPWAY_CACHE_TREE_WAIT_MS");
	long ms = env && *env ? strtol(env, NULL, 10) : TREE_WAIT_MS;
	struct timespec step = { 0, 5 * 1000 * 1000 };

	for (long waited = 0;; waited += 5) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (waited >= ms) {
			errno = ETIMEDOUT;
			return false;
		}
		nanosleep(&step, NULL);
	}
}

/*
 * Open (making it) the tree's lock and hold it shared, waiting at most
 * TREE_WAIT_MS for its maker; the fd is kept in c until cache_release.
 * -1 with errno.
 */
static int tree_lock(struct cache *c, const char *tree)
{
	char *p = fs_join(tree, "lock");
	struct sw_err ign = SW_ERR_INIT;
	int fd = -1;

	if (fs_mkdir_p(tree, 0755, &ign) == 0)
		fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(p);
	if (fd < 0)
		return -1;
	if (!flock_shared_within(fd)) {
		close(fd);
		return -1;
	}
	c->tree_fds = xrealloc(c->tree_fds,
			       (c->ntree_fds + 1) * sizeof(*c->tree_fds));
	c->tree_fds[c->ntree_fds++] = fd;
	return fd;
}

/* A ready tree's manifest, for the entry made at created. */
static int tree_read(const char *tree, const struct pats *pats,
		     const char *version, int64_t created, struct manifest *m)
{
	char *man = fs_join(tree, "manifest.json");
	struct sw_err ign = SW_ERR_INIT;
	int ret = -1;

	if (fs_exists(man) && manifest_read(man, true, m, &ign) == 0) {
		if (m->created_ns == created &&
		    validate(m, pats, version, &ign) == 0)
			ret = 0;
		else
			manifest_release(m);
	}
	free(man);
	return ret;
}

/*
 * Whether the tree is ready, cheaply: its manifest (written last, and
 * renamed into place whole) is there and ends as a manifest does, so
 * neither a maker killed before it nor a manifest cut short by a power
 * loss passes. What it lists is not read: a restore that only mounts the
 * tree does not need it (the save reads it, see statc_later). A tree
 * made at save is synced before its manifest is in place; one made by a
 * restore is not (the build waits for it), so after a power loss its
 * manifest may be whole while files it lists are not.
 */
static bool tree_ready(const char *tree)
{
	char *man = fs_join(tree, "manifest.json"), end[3];
	int fd = open(man, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	bool ok = false;

	free(man);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 16 &&
	    pread(fd, end, 3, st.st_size - 3) == 3 && !memcmp(end, "]}\n", 3))
		ok = true;
	close(fd);
	return ok;
}

/*
 * Remove a tree nobody uses (its lock free), e.g. an older one: its
 * manifest first (it is no tree any more), then it goes to the state
 * directory's trash, emptied in the background (the cache's lock is not
 * held for thousands of unlinks), or is removed here where it cannot.
 */
static bool tree_remove(const struct cache *c, const char *tree)
{
	char *p = fs_join(tree, "lock"), *state = xstrdup(c->dir);
	struct sw_err ign = SW_ERR_INIT;
	int fd = open(p, O_RDWR | O_CLOEXEC);
	bool done = false;

	free(p);
	*strrchr(state, '/') = '\0';
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		free(state);
		return false;
	}
	/* The lock goes last: a tree without one is anyone's to remove. */
	p = fs_join(tree, "manifest.json");
	unlink(p);
	free(p);
	if ((retire_tree(state, tree, &ign) == 0 && !fs_exists(tree)) ||
	    fs_remove_tree(tree, &ign) == 0)
		done = true;
	if (fd >= 0)
		close(fd);
	free(state);
	return done;
}

/*
 * The newest other tree of entry `name` in vdir (an older entry of the
 * same name, replaced since: *same), else the newest tree of another
 * entry of the version (another key: most files alike), opened in *fd
 * with its files in a table (count: the mode, ino: the tree's) and its
 * items in *olds, to link from; and its path in *path. NULL: none ready.
 */
static struct cache_statc *tree_prev(const char *vdir, const char *name,
				     const char *self, int *fd, char **path,
				     struct items *olds, bool *same)
{
	DIR *d = opendir(vdir);
	struct dirent *de;
	size_t n = strlen(name);
	char *best = NULL, *any = NULL;
	long long best_t = 0, any_t = 0;
	struct cache_statc *t = NULL;
	struct manifest m;
	struct sw_err ign = SW_ERR_INIT;
	char *man;

	*fd = -1;
	*path = NULL;
	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		long long when;

		if (de->d_name[0] == '.' || !dot || !strcmp(de->d_name, self))
			continue;
		when = strtoll(dot + 1, NULL, 10);
		if (!strncmp(de->d_name, name, n) && de->d_name + n == dot) {
			if (!best || when > best_t) {
				free(best);
				best = xstrdup(de->d_name);
				best_t = when;
			}
		} else if (!any || when > any_t) {
			free(any);
			any = xstrdup(de->d_name);
			any_t = when;
		}
	}
	if (d)
		closedir(d);
	*same = best != NULL;
	if (!best)
		best = any;
	else
		free(any);
	if (!best)
		return NULL;
	*path = fs_join(vdir, best);
	free(best);
	man = fs_join(*path, "manifest.json");
	if (manifest_read(man, true, &m, &ign) == 0) {
		*fd = open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		t = xcalloc(1, sizeof(*t));
		for (size_t i = 0; *fd >= 0 && i < m.items.nr; i++) {
			const struct item *x = &m.items.v[i];
			char *k;
			struct statc_ent *s;

			if (x->type != T_FILE)
				continue;
			k = item_key(x->root, x->path);
			s = statc_get(t, k);
			s->size = x->size;
			s->mtime_ns = x->mtime_ns;
			s->ino = x->ino;
			s->count = (long)(x->mode & 07777);
			memcpy(s->hash, x->hash, sizeof(s->hash));
			free(k);
		}
		*olds = m.items;
		memset(&m.items, 0, sizeof(m.items));
		manifest_release(&m);
	}
	free(man);
	return t;
}

static int item_cmp_desc(const void *a, const void *b)
{
	return item_cmp(b, a);
}

/*
 * Take the older tree's files for the new tree when nobody uses it: its
 * manifest goes first (it is no tree any more), then its src/ and abs/
 * are renamed into the new tree (still empty), and what the new entry
 * does not have as it was (other content, mode, mtime or type) is
 * removed. The files left are the new entry's as they are: keep holds
 * them (count: the mode). The rest of the old tree goes to the trash.
 * False when the old tree is in use or cannot be taken (the new tree is
 * then made by links from it).
 */
static bool tree_take(struct cache *c, const char *tree, const char *old,
		      struct items *olds, const struct manifest *m,
		      const struct units *u, bool moved[2])
{
	char *lockp = fs_join(old, "lock"), *p = NULL, *q = NULL;
	char *state = xstrdup(c->dir);
	struct cache_statc want = { 0 };
	struct sw_err ign = SW_ERR_INIT;
	int fd = open(lockp, O_RDWR | O_CLOEXEC), tfd = -1;
	bool ok = false;

	*strrchr(state, '/') = '\0';
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out;
	/* The new tree must be empty: not one a killed restore began. */
	for (int k = 0; k < 2; k++) {
		free(q);
		q = fs_join(tree, root_names[k]);
		if (rmdir(q) < 0 && errno != ENOENT)
			goto out;
	}
	p = fs_join(old, "manifest.json");
	if (unlink(p) < 0)
		goto out;
	/* Taken from here on: what could not be moved is placed anew. */
	ok = true;
	for (int k = 0; k < 2; k++) {
		free(p);
		free(q);
		p = fs_join(old, root_names[k]);
		q = fs_join(tree, root_names[k]);
		moved[k] = rename(p, q) == 0;
		if (!moved[k])
			mkdir(q, 0755);
	}
	tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < m->items.nr; i++) {
		const struct item *x = &m->items.v[i];
		char *k = item_key(x->root, x->path);
		struct statc_ent *e = statc_get(&want, k);

		e->count = x->type;
		e->mtime_ns = x->mtime_ns;
		e->size = x->size;
		e->ino = x->mode & 07777;
		e->hash[0] = '\0';
		if (x->type == T_FILE)
			memcpy(e->hash, x->hash, sizeof(e->hash));
		free(k);
	}
	/* Deepest first: a directory is emptied before it goes. */
	if (olds->nr)
		qsort(olds->v, olds->nr, sizeof(*olds->v), item_cmp_desc);
	for (size_t i = 0; i < olds->nr; i++) {
		const struct item *x = &olds->v[i];
		char *k = item_key(x->root, x->path), *rel;
		struct statc_ent *e = statc_find(&want, k);
		bool same =
			e && e->count == x->type &&
			(x->type != T_FILE ||
			 (!strcmp(e->hash, x->hash) &&
			  e->mtime_ns == x->mtime_ns && e->size == x->size &&
			  e->ino == (x->mode & 07777)));

		free(k);
		if (same || (x->type == T_DIR && e && e->count == T_DIR) ||
		    !unit_of(u, x) || tfd < 0 || !moved[x->root])
			continue;
		rel = xasprintf("%s/%s", root_names[x->root], x->path);
		if (x->type == T_DIR) {
			char *full = fs_join(tree, rel);

			fs_remove_tree(full, &ign);
			err_clear(&ign);
			free(full);
		} else {
			unlinkat(tfd, rel, 0);
		}
		free(rel);
	}
out:
	if (fd >= 0 && ok)
		retire_tree(state, old, &ign);
	if (tfd >= 0)
		close(tfd);
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < want.cap; i++)
		free(want.v[i].key);
	free(want.v);
	free(lockp);
	free(state);
	free(p);
	free(q);
	return ok;
}

/*
 * Make the tree of entry m: the items of the units placed from the
 * objects, or linked from an older tree. Ready (its manifest written)
 * only when every file could be placed. durable: the tree's files and
 * then its manifest are on the disk before the manifest is in place (a
 * maker in the background; a restore does not wait for the disk).
 * Warnings go to r.
 */
static void tree_make(struct cache *c, const char *vdir, const char *base,
		      const char *tree, struct manifest *m,
		      const struct pats *pats, const struct units *u,
		      bool durable, struct cache_result *r)
{
	struct cache_result tr = CACHE_RESULT_INIT;
	struct rctx t = { 0 };
	struct sw_err pe = SW_ERR_INIT;
	char *srcp = fs_join(tree, "src"), *absp = fs_join(tree, "abs");
	char *prev_path = NULL, *man = NULL, *name = NULL;
	struct buf b = BUF_INIT;
	struct items olds = { 0 };
	struct cache_statc *kept = NULL;
	bool taken = false, same = false, moved[2] = { false, false };
	const char *kill;
	int ret = -1;

	t.src_fd = t.cur_fd = t.prev_fd = -1;
	if (fs_mkdir_p(srcp, 0755, &pe) < 0 || fs_mkdir_p(absp, 0755, &pe) < 0)
		goto out;
	t.src_fd = open(srcp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t.src_fd < 0)
		goto out;
	t.c = c;
	t.r = &tr;
	t.pats = pats;
	t.abs_root = absp;
	t.tree = true;
	t.abs_fd = xmalloc(sizeof(*t.abs_fd) * (pats->nr ? pats->nr : 1));
	for (size_t i = 0; i < pats->nr; i++)
		t.abs_fd[i] = -2;
	name = xstrndup(base, strrchr(base, '.') - base);
	t.prev = tree_prev(vdir, name, base, &t.prev_fd, &prev_path, &olds,
			   &same);
	if (t.prev && same &&
	    tree_take(c, tree, prev_path, &olds, m, u, moved)) {
		/* The files kept where they are, the rest placed. */
		taken = true;
		kept = t.prev;
		t.prev = NULL;
		free(prev_path);
		prev_path = NULL;
		close(t.src_fd);
		t.src_fd = open(srcp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (t.src_fd < 0)
			goto out;
	}
	for (size_t i = 0; i < u->nr; i++) {
		int rfd = u->v[i].root == ROOT_SRC
				  ? fcntl(t.src_fd, F_DUPFD_CLOEXEC, 3)
				  : abs_open(absp);
		int fd = rfd < 0 ? -1
				 : open_dirs(rfd, u->v[i].path, false, true);

		if (rfd >= 0)
			close(rfd);
		if (fd < 0)
			goto out;
		close(fd);
	}
	for (size_t i = 0; i < m->items.nr; i++) {
		struct item *x = &m->items.v[i];
		char *k;
		struct statc_ent *o;

		if (!unit_of(u, x))
			continue;
		k = item_key(x->root, x->path);
		o = taken && x->type == T_FILE ? statc_find(kept, k) : NULL;
		if (o && moved[x->root] && !strcmp(o->hash, x->hash) &&
		    o->mtime_ns == x->mtime_ns && o->size == x->size &&
		    o->count == (long)(x->mode & 07777)) {
			struct statc_ent *s2 = statc_get(c->statc, k);

			s2->size = x->size;
			s2->mtime_ns = x->mtime_ns;
			s2->ino = o->ino;
			memcpy(s2->hash, x->hash, sizeof(s2->hash));
			tr.files++;
			tr.linked++;
		} else {
			restore_item(&t, x);
		}
		free(k);
	}
	late_dirs(&t);
	r->missing += tr.missing;
	r->tree_placed += tr.files;
	r->tree_linked += tr.linked;
	for (size_t i = 0; i < tr.warnings.nr; i++)
		strvec_push(&r->warnings, tr.warnings.v[i]);
	if (tr.missing)
		goto out; /* not ready: made again by the next restore */
	for (size_t i = 0; i < m->items.nr; i++) {
		struct item *x = &m->items.v[i];
		char *k;
		struct statc_ent *st;

		if (x->type != T_FILE || !unit_of(u, x))
			continue;
		k = item_key(x->root, x->path);
		st = statc_find(c->statc, k);
		if (st)
			x->ino = st->ino;
		free(k);
	}
	manifest_head(&b, m);
	manifest_items(&b, &m->items);
	man = fs_join(tree, "manifest.json");
	kill = getenv(CACHE_TEST_KILL_ENV);
	if (kill && !strcmp(kill, "tree-before-manifest"))
		raise(SIGKILL);
	if (kill && !strcmp(kill, "tree-stop-before-manifest"))
		raise(SIGSTOP);
	/* A power loss must not leave a ready tree with files missing. */
	if (durable && syncfs(t.src_fd) < 0) {
		err_sys(&pe, "cannot sync '%s'", tree);
		goto out;
	}
	if (tmp_put(c, man, b.ptr, b.len, 0644, PUT_RENAME, durable, NULL,
		    &pe) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0 && pe.msg[0])
		warnf(r, "cache tree: %s", pe.msg);
	if (t.cur_fd >= 0)
		close(t.cur_fd);
	if (t.src_fd >= 0)
		close(t.src_fd);
	for (size_t i = 0; t.abs_fd && i < pats->nr; i++)
		if (t.abs_fd[i] >= 0)
			close(t.abs_fd[i]);
	free(t.abs_fd);
	if (t.prev_fd >= 0)
		close(t.prev_fd);
	statc_free(t.prev);
	statc_free(kept);
	items_release(&olds);
	/* An older tree of this entry has served: gone unless a build
	 * still uses it. Another entry's stays its own. */
	if (ret == 0 && prev_path && same)
		tree_remove(c, prev_path);
	buf_release(&t.cur);
	strvec_release(&t.late_dirs);
	cache_result_release(&tr);
	buf_release(&b);
	free(prev_path);
	free(srcp);
	free(absp);
	free(man);
	free(name);
}

/* The creation time a tree's name `name.<ns>` ends with, or -1. */
static long long tree_ns(const char *tree, size_t n)
{
	char *end;
	long long v;

	if (tree[n] != '.' || !tree[n + 1] || strchr(tree + n + 1, '.'))
		return -1;
	v = strtoll(tree + n + 1, &end, 10);
	return *end || v < 0 ? -1 : v;
}

/*
 * The trees of entry `name` in vdir older than self (its entry
 * replaced), to the trash unless a build uses one: the tree made at save
 * is made while the saving build still uses the one it restored. Never
 * a newer one: an entry saved again since this restore read it has its
 * tree being made, or made, for the next restore.
 */
static void tree_retire_older(const struct cache *c, const char *vdir,
			      const char *name, const char *self)
{
	DIR *d = opendir(vdir);
	struct dirent *de;
	size_t n = strlen(name);
	long long mine = strncmp(self, name, n) ? -1 : tree_ns(self, n), t;
	struct strvec old = STRVEC_INIT;

	while (mine >= 0 && d && (de = readdir(d)))
		if (de->d_name[0] != '.' && !strncmp(de->d_name, name, n) &&
		    (t = tree_ns(de->d_name, n)) >= 0 && t < mine)
			strvec_push_nodup(&old, fs_join(vdir, de->d_name));
	if (d)
		closedir(d);
	for (size_t i = 0; i < old.nr; i++)
		tree_remove(c, old.v[i]);
	strvec_release(&old);
}

/* ---- the tree made at save (spec.tree_at_save) ---- */

struct tree_job {
	char *state; /* the state directory */
	const struct cache_spec *spec;
	char version[65];
	char *name;
	int64_t created;
	int home_fd; /* the mount namespace to make it in, or -1 */
};

/*
 * The detached maker: the tree's lock is already held (exclusive, taken
 * by the saving process). Its own cache handle and lock; the entry read
 * again and made only if it is still the one saved.
 */
static void tree_job_run(void *data)
{
	struct tree_job *j = data;
	struct cache c;
	struct pats pats = { 0 };
	struct units u = { 0 };
	struct manifest m = { 0 }, tm;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *man = NULL, *vdir = NULL, *tbase = NULL, *tree = NULL;
	bool locked = false;

	/* Not in the build's namespace: it would keep its mounts alive. */
	if (j->home_fd >= 0 && setns(j->home_fd, CLONE_NEWNS) < 0)
		return;
	if (j->home_fd >= 0)
		close(j->home_fd);
	if (cache_open(&c, j->state, &e) < 0)
		return;
	if (pats_parse(j->spec, &pats, &e) < 0 || lock(&c, LOCK_SH, &e) < 0)
		goto out;
	locked = true;
	man = entry_path(&c, j->version, j->name, ".json");
	if (manifest_read(man, true, &m, &e) < 0 ||
	    validate(&m, &pats, j->version, &e) < 0 ||
	    m.created_ns != j->created)
		goto out;
	vdir = xasprintf("%s/trees/%s", c.dir, j->version);
	tbase = xasprintf("%s.%" PRId64, j->name, j->created);
	tree = fs_join(vdir, tbase);
	if (tree_read(tree, &pats, j->version, j->created, &tm) == 0) {
		manifest_release(&tm); /* made meanwhile */
		goto out;
	}
	units_of(&pats, j->spec, &u);
	if (!u.nr)
		goto out;
	if (m.items.nr)
		qsort(m.items.v, m.items.nr, sizeof(*m.items.v), item_cmp);
	c.statc = xcalloc(1, sizeof(*c.statc));
	c.gen = read_gen(&c);
	tree_make(&c, vdir, tbase, tree, &m, &pats, &u, true, &r);
out:
	if (locked)
		unlock(&c);
	cache_result_release(&r);
	manifest_release(&m);
	units_release(&u);
	pats_release(&pats);
	cache_release(&c);
	free(man);
	free(vdir);
	free(tbase);
	free(tree);
}

/*
 * After a save: lock the entry's tree (exclusive; not if anyone uses or
 * makes it) and hand it to a detached maker, which holds the lock until
 * the tree is ready or given up. Best effort: a restore makes what is
 * not made here, as before.
 */
static void tree_at_save(struct cache *c, const struct cache_spec *spec,
			 const struct pats *pats, const char *version,
			 const char *name, int64_t created)
{
	struct tree_job j = { 0 };
	struct units u = { 0 };
	struct sw_err ign = SW_ERR_INIT;
	char *tree, *lockp;
	int fd = -1;

	if (c->link != CACHE_LINK_AUTO && c->link != CACHE_LINK_OVERLAY)
		return;
	units_of(pats, spec, &u);
	if (!u.nr) {
		units_release(&u);
		return;
	}
	units_release(&u);
	tree = xasprintf("%s/trees/%s/%s.%" PRId64, c->dir, version, name,
			 created);
	lockp = fs_join(tree, "lock");
	if (fs_mkdir_p(tree, 0755, &ign) == 0)
		fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		int keep[2] = { fd, -1 };

		j.home_fd = -1;
		if (spec->ns && mountns_active(spec->ns)) {
			j.home_fd =
				fcntl(spec->ns->home_fd, F_DUPFD_CLOEXEC, 3);
			keep[1] = j.home_fd;
		}
		j.state = xstrdup(c->dir);
		*strrchr(j.state, '/') = '\0';
		j.spec = spec;
		memcpy(j.version, version, sizeof(j.version));
		j.name = xstrdup(name);
		j.created = created;
		/* On failure the lock goes with fd: a restore makes it. */
		if (!spec->ns || !mountns_active(spec->ns) || j.home_fd >= 0)
			retire_detached_fds(tree_job_run, &j, keep,
					    j.home_fd >= 0 ? 2 : 1);
		if (j.home_fd >= 0)
			close(j.home_fd);
		free(j.state);
		free(j.name);
	}
	if (fd >= 0)
		close(fd);
	free(lockp);
	free(tree);
}

/*
 * What a resumed build needs to mount an overlay again (see
 * cache_overlay_again): in base, `lowers` (the lower directories but the
 * target, one a line), and the symlinks `target` and `tree`. Not synced
 * (a restore does not wait for the disk): `lowers` cut short by a power
 * loss is refused by cache_overlay_again, as the build's upper layer is
 * not synced either.
 */
static int overlay_record(const char *base, const char *const *lowers, size_t n,
			  const char *target, const char *tree)
{
	struct buf b = BUF_INIT;
	struct sw_err ign = SW_ERR_INIT;
	char *l = fs_join(base, "lowers"), *t = fs_join(base, "target"),
	     *k = fs_join(base, "tree");
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s\n", lowers[i]);
	if (fs_replace(l, b.ptr, b.len, 0644, &ign) < 0 ||
	    symlink(target, t) < 0 || symlink(tree, k) < 0)
		ret = -1;
	buf_release(&b);
	free(l);
	free(t);
	free(k);
	return ret;
}

/*
 * Mount the units over their targets (made if missing), each with an
 * upper and work directory of its own under spec->overlay_dir. A unit
 * whose mount is refused is marked failed, and so are the ones after it
 * (the kernel will not change its mind): their items are restored the
 * usual way.
 */
static void mount_units(struct cache *c, const struct cache_spec *spec,
			struct rctx *x, const char *srcdir, const char *tree,
			struct units *u, struct cache_result *r)
{
	for (size_t i = 0; i < u->nr; i++) {
		struct unit *un = &u->v[i];
		struct sw_err e = SW_ERR_INIT;
		char *base = NULL, *up = NULL, *wk = NULL, *abs = NULL;
		const char *lowers[2];
		int fd = -1;

		if (c->no_overlay) {
			un->failed = true;
			continue;
		}
		un->lower = xasprintf("%s/%s/%s", tree, root_names[un->root],
				      un->path);
		if (un->root == ROOT_SRC) {
			abs = fs_abspath(srcdir);
			un->target = fs_join(abs, un->path);
			fd = open_dirs(x->src_fd, un->path, false, true);
		} else {
			int rfd = root_fd(x, un->pat, ROOT_ABS);

			abs = fs_abspath(spec->abs_root);
			un->target = fs_join(abs, un->path);
			fd = rfd < 0 ? -1 : fcntl(rfd, F_DUPFD_CLOEXEC, 3);
		}
		base = xasprintf("%s/%zu", spec->overlay_dir, c->nmounts++);
		up = fs_join(base, "upper");
		wk = fs_join(base, "work");
		lowers[0] = un->lower;
		lowers[1] = un->target;
		if (fd < 0) {
			err_sys(&e, "cannot make '%s'", un->target);
		} else if (fs_mkdir_p(up, 0755, &e) == 0 &&
			   fs_mkdir_p(wk, 0700, &e) == 0 &&
			   mountns_overlay(spec->ns, lowers, 2, up, wk,
					   un->target, &e) == 0) {
			const char *one[] = { un->lower };

			strvec_push(&r->mounts, un->target);
			if (overlay_record(base, one, 1, un->target, tree) < 0)
				warnf(r, "cannot record '%s'", base);
		} else {
			c->no_overlay = true;
		}
		if (e.msg[0]) {
			un->failed = true;
			free(r->overlay_why);
			r->overlay_why = xstrdup(e.msg);
		}
		if (fd >= 0)
			close(fd);
		free(base);
		free(up);
		free(wk);
		free(abs);
	}
}

struct found {
	char *name, *key;
	int64_t created;
};

static int scan_keys(struct cache *c, const char *version, struct found **out,
		     size_t *n)
{
	char *dir = xasprintf("%s/entries/%s", c->dir, version);
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t alloc = 0;

	*out = NULL;
	*n = 0;
	free(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct manifest m;
		struct sw_err ign = SW_ERR_INIT;
		char *name;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		name = xstrndup(de->d_name, len - 5);
		if (meta_read(c, version, name, &m, &ign) < 0) {
			free(name);
			continue;
		}
		if (!m.key) {
			manifest_release(&m);
			free(name);
			continue;
		}
		ALLOC_GROW(*out, *n + 1, alloc);
		(*out)[*n].name = name;
		(*out)[*n].key = m.key;
		(*out)[*n].created = m.created_ns;
		m.key = NULL;
		(*n)++;
		manifest_release(&m);
	}
	closedir(d);
	return 0;
}

/* Which entry to restore: *name (and *fallback) or NULL. */
static void find_entry(struct cache *c, const struct cache_spec *spec,
		       const char *version, char **name, char **key,
		       char **fallback)
{
	char *man, *n = entry_name(spec);
	struct found *f = NULL;
	size_t nf = 0;

	*name = *key = *fallback = NULL;
	man = entry_path(c, version, n, ".json");
	if (fs_exists(man)) {
		*name = n;
		*key = xstrdup_or_null(spec->key && *spec->key ? spec->key
							       : NULL);
		free(man);
		return;
	}
	free(man);
	free(n);
	if (!spec->key || !*spec->key || !spec->nfallback)
		return;
	scan_keys(c, version, &f, &nf);
	for (size_t i = 0;
	     i < spec->nfallback && i < CACHE_MAX_FALLBACK && !*name; i++) {
		const char *fb = spec->fallback_keys[i];
		struct found *best = NULL;

		if (!fb || !*fb)
			continue;
		for (size_t k = 0; k < nf; k++)
			if (!strncmp(f[k].key, fb, strlen(fb)) &&
			    (!best || f[k].created > best->created))
				best = &f[k];
		if (best) {
			*name = xstrdup(best->name);
			*key = xstrdup(best->key);
			*fallback = xstrdup(fb);
		}
	}
	for (size_t k = 0; k < nf; k++) {
		free(f[k].name);
		free(f[k].key);
	}
	free(f);
}

int cache_restore(struct cache *c, const struct cache_spec *spec,
		  const char *srcdir, struct cache_result *r, struct sw_err *e)
{
	struct pats pats = { 0 };
	struct manifest m = { 0 }, head = { 0 };
	struct rctx x = { 0 };
	struct units u = { 0 };
	struct sw_err pe = SW_ERR_INIT;
	char *name = NULL, *man = NULL, *meta = NULL;
	char *vdir = NULL, *tbase = NULL, *tree = NULL;
	double t0 = mono();
	bool locked = false, ready = false, fast = false;
	bool ovl = c->link == CACHE_LINK_AUTO || c->link == CACHE_LINK_OVERLAY;
	int64_t created = 0;
	int ret = -1;

	*r = (struct cache_result)CACHE_RESULT_INIT;
	r->restore = true;
	x.src_fd = x.cur_fd = x.prev_fd = -1;
	cache_version(spec->paths, spec->npaths, r->version);
	if ((spec->action && !strcmp(spec->action, "save")) || !spec->npaths) {
		ret = 0;
		goto out;
	}
	if (pats_parse(spec, &pats, &pe) < 0) {
		warnf(r, "%s", pe.msg);
		ret = 0;
		goto out;
	}
	if (lock(c, LOCK_SH, e) < 0)
		goto out;
	locked = true;
	r->outcome = CACHE_MISS;
	find_entry(c, spec, r->version, &name, &r->key, &r->fallback);
	if (!name) {
		ret = 0;
		goto out;
	}
	man = entry_path(c, r->version, name, ".json");
	if (ovl && spec->ns && mountns_active(spec->ns) && spec->overlay_dir &&
	    !c->no_overlay)
		units_of(&pats, spec, &u);
	else if (ovl && spec->overlay_off)
		r->overlay_why = xstrdup(spec->overlay_off);
	if (u.nr) {
		if (meta_read(c, r->version, name, &head, &pe) < 0) {
			err_clear(&pe);
			units_release(&u);
		} else {
			created = head.created_ns;
			vdir = xasprintf("%s/trees/%s", c->dir, r->version);
			tbase = xasprintf("%s.%" PRId64, name, created);
			tree = fs_join(vdir, tbase);
			if (tree_lock(c, tree) < 0)
				units_release(&u);
			else if (tree_ready(tree) && u.whole)
				fast = true; /* a mount; no manifest read */
			else
				ready = tree_read(tree, &pats, r->version,
						  created, &m) == 0;
		}
	}
	if (!ready && !fast &&
	    (manifest_read(man, true, &m, &pe) < 0 ||
	     validate(&m, &pats, r->version, &pe) < 0)) {
		warnf(r, "cache manifest refused: %s", pe.msg);
		free(r->fallback);
		r->fallback = NULL;
		ret = 0;
		goto out;
	}
	if (m.items.nr) /* none read: the tree is only mounted */
		qsort(m.items.v, m.items.nr, sizeof(*m.items.v), item_cmp);
	x.src_fd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.src_fd < 0) {
		err_sys(e, "cache: cannot open '%s'", srcdir);
		goto out;
	}
	for (size_t i = 0; spec->abs_root && i < pats.nr; i++)
		if (pats.v[i].root == ROOT_ABS) {
			if (fs_mkdir_p(spec->abs_root, 0755, e) < 0)
				goto out;
			break;
		}
	x.c = c;
	x.r = r;
	x.pats = &pats;
	x.abs_root = spec->abs_root;
	x.abs_fd = xmalloc(sizeof(*x.abs_fd) * (pats.nr ? pats.nr : 1));
	for (size_t i = 0; i < pats.nr; i++)
		x.abs_fd[i] = -2;
	if (!c->statc)
		c->statc = xcalloc(1, sizeof(*c->statc));
	c->gen = read_gen(c);
	r->outcome = r->fallback ? CACHE_HIT_FALLBACK : CACHE_HIT;
	if (u.nr && !ready && !fast && m.created_ns != created)
		units_release(&u); /* replaced since its .meta was read */
	if (u.nr && !ready && !fast) {
		int tfd = c->tree_fds[c->ntree_fds - 1];

		/* Made by one process at a time; the others wait for it. */
		if (flock_retry(tfd, LOCK_EX)) {
			struct manifest tm;

			if (tree_read(tree, &pats, r->version, created, &tm) ==
			    0) {
				manifest_release(&m);
				m = tm;
				ready = true;
			} else {
				tree_make(c, vdir, tbase, tree, &m, &pats, &u,
					  false, r);
			}
			flock_retry(tfd, LOCK_SH);
		} else {
			units_release(&u);
		}
	}
	if (u.nr && (ready || fast))
		tree_retire_older(c, vdir, name, tbase);
	if (u.nr)
		mount_units(c, spec, &x, srcdir, tree, &u, r);
	if (fast && !units_failed(&u)) {
		/* Every item is in the tree: the entry's head says enough. */
		r->files = r->overlaid = head.files;
		r->bytes = head.size;
		strvec_push(&c->statc_later, tree);
		if (spec->progress)
			spec->progress("restoring", head.files, head.files,
				       spec->progress_data);
	} else if (fast &&
		   tree_read(tree, &pats, r->version, created, &m) < 0 &&
		   (manifest_read(man, true, &m, &pe) < 0 ||
		    validate(&m, &pats, r->version, &pe) < 0)) {
		/* What the mounts do not serve cannot be restored: a miss
		 * (the units mounted, if any, stay the build's) */
		warnf(r, "cache manifest refused: %s", pe.msg);
		free(r->fallback);
		r->fallback = NULL;
		r->outcome = CACHE_MISS;
		ret = 0;
		goto out;
	} else if (fast && m.items.nr) {
		qsort(m.items.v, m.items.nr, sizeof(*m.items.v), item_cmp);
	}
	for (size_t i = 0; i < m.items.nr; i++) {
		const struct item *it = &m.items.v[i];
		const struct unit *un = u.nr ? unit_of(&u, it) : NULL;

		if (!un || un->failed) {
			restore_item(&x, it);
		} else if (it->type == T_FILE) {
			/* Trusted as far as the entry's generation holds. */
			statc_put_item(c->statc, it, m.gen);
			r->files++;
			r->overlaid++;
			r->bytes += it->size;
		} else if (it->type == T_DIR) {
			r->dirs++;
		} else if (it->type == T_LINK) {
			r->symlinks++;
		}
		if (spec->progress)
			spec->progress("restoring", i + 1, m.items.nr,
				       spec->progress_data);
	}
	late_dirs(&x);
	/* Last used lives in the small .meta, not the manifest. */
	meta = entry_path(c, r->version, name, ".meta");
	if (!m.version) {
		head.last_used_ns = now_ns();
		meta_write(c, meta, &head, &pe);
	} else {
		m.last_used_ns = now_ns();
		meta_write(c, meta, &m, &pe);
	}
	ret = 0;
out:
	if (locked)
		unlock(c);
	if (x.cur_fd >= 0)
		close(x.cur_fd);
	if (x.src_fd >= 0)
		close(x.src_fd);
	for (size_t i = 0; x.abs_fd && i < pats.nr; i++)
		if (x.abs_fd[i] >= 0)
			close(x.abs_fd[i]);
	free(x.abs_fd);
	buf_release(&x.cur);
	strvec_release(&x.late_dirs);
	manifest_release(&m);
	manifest_release(&head);
	pats_release(&pats);
	units_release(&u);
	free(name);
	free(man);
	free(meta);
	free(vdir);
	free(tbase);
	free(tree);
	if (r->overlay_why && c->link == CACHE_LINK_OVERLAY)
		warnf(r, "no overlay: %s", r->overlay_why);
	r->seconds = mono() - t0;
	return ret;
}

/*
 * cache_overlay_again() failed part-way: the overlays it mounted (mounts
 * from `first` on, recorded under overlay_dir as nfirst to nend - 1)
 * detached and their records removed, so that a build resumed from this
 * one does not mount them either. One that stays mounted is said in e.
 */
static void overlay_undo(struct mountns *ns, const char *overlay_dir,
			 size_t nfirst, size_t nend, struct strvec *mounts,
			 size_t first, struct sw_err *e)
{
	struct sw_err ue = SW_ERR_INIT;
	char *why = NULL;

	for (size_t i = mounts->nr; i-- > first;) {
		if (mountns_unmount(ns, mounts->v[i], &ue) < 0 && !why)
			why = xstrdup(ue.msg);
		err_clear(&ue);
		free(mounts->v[i]);
		mounts->v[i] = NULL;
	}
	mounts->nr = first;
	for (size_t n = nfirst; n < nend; n++) {
		char *nb = xasprintf("%s/%zu", overlay_dir, n);

		if (fs_exists(nb))
			fs_remove_tree(nb, &ue);
		err_clear(&ue);
		free(nb);
	}
	if (why) {
		char *msg = xstrdup(e->msg);
		int code = e->code;

		err_clear(e);
		err_set(e, code, "%s; and %s: it stays mounted", msg, why);
		free(msg);
		free(why);
	}
}

int cache_overlay_again(struct cache *c, const char *old_dir, const char *from,
			const char *to, struct mountns *ns,
			const char *overlay_dir, struct strvec *mounts,
			struct sw_err *e)
{
	size_t first = mounts->nr, nfirst = c->nmounts;
	int ret;

	/* As a restore: no prune or clear removes a tree meanwhile. */
	ret = lock(c, LOCK_SH, e);
	for (size_t n = 0; ret == 0; n++) {
		char *base = xasprintf("%s/%zu", old_dir, n);
		char *l = fs_join(base, "lowers"), *t = fs_join(base, "target");
		char *k = fs_join(base, "tree"), *up = fs_join(base, "upper");
		char target[PATH_MAX], tree[PATH_MAX];
		char *nb = NULL, *nu = NULL, *nw = NULL, *nt = NULL;
		char *data = NULL;
		struct strvec lowers = STRVEC_INIT;
		struct sw_err ign = SW_ERR_INIT;
		size_t len;
		ssize_t b, d;
		bool gone = false;

		b = readlink(t, target, sizeof(target) - 1);
		d = readlink(k, tree, sizeof(tree) - 1);
		if (b <= 0 || d <= 0 ||
		    fs_read_file(l, 1 << 20, &data, &len, &ign) < 0) {
			bool more = fs_exists(base);

			free(base);
			free(up);
			free(l);
			free(t);
			free(k);
			if (more)
				continue; /* not mounted then */
			break;
		}
		target[b] = tree[d] = '\0';
		/* The earlier build's changes on top of what it had; a
		 * record cut short (never synced) is no record. */
		strvec_push(&lowers, up);
		gone = !len || data[len - 1] != '\n';
		for (char *p = data, *q; *p; p = q + 1) {
			q = strchrnul(p, '\n');
			strvec_push_nodup(&lowers,
					  xstrndup(p, (size_t)(q - p)));
			if (!*q)
				break;
		}
		for (size_t i = 0; i < lowers.nr; i++)
			gone = gone || !fs_exists(lowers.v[i]);
		nb = xasprintf("%s/%zu", overlay_dir, c->nmounts++);
		nu = fs_join(nb, "upper");
		nw = fs_join(nb, "work");
		nt = strncmp(target, from, strlen(from))
			     ? xstrdup(target)
			     : xasprintf("%s%s", to, target + strlen(from));
		if (gone || tree_lock(c, tree) < 0) {
			ret = err_set(e, ERR_FAILED,
				      "the cache tree '%s' or a layer is gone",
				      tree);
		} else if (fs_mkdir_p(nt, 0755, e) < 0 ||
			   fs_mkdir_p(nu, 0755, e) < 0 ||
			   fs_mkdir_p(nw, 0700, e) < 0) {
			ret = -1;
		} else {
			strvec_push(&lowers, nt);
			if (mountns_overlay(ns, (const char *const *)lowers.v,
					    lowers.nr, nu, nw, nt, e) < 0)
				ret = -1;
			else
				strvec_push(mounts, nt);
			/* Its own record: a build resumed from it again. */
			if (ret == 0)
				overlay_record(nb,
					       (const char *const *)lowers.v,
					       lowers.nr - 1, nt, tree);
		}
		strvec_release(&lowers);
		free(data);
		free(base);
		free(up);
		free(l);
		free(t);
		free(k);
		free(nb);
		free(nu);
		free(nw);
		free(nt);
	}
	if (ret < 0)
		overlay_undo(ns, overlay_dir, nfirst, c->nmounts, mounts, first,
			     e);
	if (c->dir)
		unlock(c);
	return ret;
}

/* ---- save ---- */

static struct cache_statc *prev_statc(const char *man)
{
	struct manifest m;
	struct sw_err ign = SW_ERR_INIT;
	struct cache_statc *t;

	if (!fs_exists(man) || manifest_read(man, true, &m, &ign) < 0)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	for (size_t i = 0; i < m.items.nr; i++)
		if (m.items.v[i].type == T_FILE)
			statc_put_item(t, &m.items.v[i], m.gen);
	manifest_release(&m);
	return t;
}

/*
 * The stat cache of the files the restore served by mounting trees it
 * did not read (c->statc_later): read now, from the trees' manifests,
 * which hold the inode numbers the overlay shows. A tree whose manifest
 * cannot be read adds nothing: its files are hashed.
 */
static void statc_load_later(struct cache *c)
{
	for (size_t i = 0; i < c->statc_later.nr; i++) {
		const char *tree = c->statc_later.v[i];
		char *man = fs_join(tree, "manifest.json");
		const char *dot = strrchr(tree, '.');
		struct manifest m;
		struct sw_err ign = SW_ERR_INIT;

		if (manifest_read(man, true, &m, &ign) == 0) {
			if (dot && m.created_ns == strtoll(dot + 1, NULL, 10)) {
				if (!c->statc)
					c->statc =
						xcalloc(1, sizeof(*c->statc));
				for (size_t k = 0; k < m.items.nr; k++)
					if (m.items.v[k].type == T_FILE)
						statc_put_item(c->statc,
							       &m.items.v[k],
							       m.gen);
			}
			manifest_release(&m);
		}
		free(man);
	}
	strvec_release(&c->statc_later);
}

static struct statc_ent *statc_hit(struct cache_statc *t, const struct item *x,
				   char hash[65])
{
	char k[PATH_MAX + 4];
	struct statc_ent *s;

	if (!t || !t->n ||
	    (size_t)snprintf(k, sizeof(k), "%c:%s",
			     x->root == ROOT_ABS ? 'a' : 's',
			     x->path) >= sizeof(k))
		return NULL;
	s = statc_find(t, k);
	if (!s || s->size != x->size || s->mtime_ns != x->mtime_ns ||
	    s->ino != x->ino)
		return NULL;
	memcpy(hash, s->hash, 65);
	return s;
}

static int hash_item(const char *srcdir, const char *abs_root, struct item *x,
		     struct sw_err *e)
{
	char *path = root_path(x->root, srcdir, abs_root, x->path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ret = -1;

	if (fd < 0)
		err_sys(e, "cannot open '%s'", path);
	else
		ret = hash_fd(fd, x->hash, e);
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

/*
 * Check every object the existing entry at man uses, deleting corrupt
 * ones (obj_check). The items whose object is missing or was modified
 * are added to *bad; returns the number of distinct such objects, or -1
 * when the manifest cannot be read or would be refused (a warning says
 * why): the entry is damaged as a whole.
 */
static long entry_damage(struct cache *c, const char *man,
			 const struct pats *pats, const char *version,
			 struct items *bad, struct cache_result *r)
{
	struct manifest m;
	struct sw_err pe = SW_ERR_INIT;
	struct cache_statc seen = { 0 };
	long n = 0;

	if (manifest_read(man, true, &m, &pe) < 0)
		goto refused;
	if (validate(&m, pats, version, &pe) < 0) {
		manifest_release(&m);
		goto refused;
	}
	for (size_t i = 0; i < m.items.nr; i++) {
		struct item *x = &m.items.v[i], *y;
		char obj[72];
		struct stat st;
		struct statc_ent *s;

		if (x->type != T_FILE)
			continue;
		obj_name(x->hash, x->mode & 0111, obj);
		s = statc_get(&seen, obj);
		if (s->count++) {
			if (s->gen) /* bad: this path may supply it too */
				goto add;
			continue;
		}
		if (obj_check(c, obj, x->size, x->mode & 0111, &st) == OBJ_OK)
			continue;
		s->gen = 1;
		n++;
	add:
		y = items_add(bad);
		*y = *x;
		x->path = x->target = NULL;
	}
	manifest_release(&m);
	for (size_t i = 0; i < seen.cap; i++)
		free(seen.v[i].key);
	free(seen.v);
	/* Others must not trust what they placed from it either. */
	if (n)
		bump_gen(c);
	return n;
refused:
	warnf(r, "cache manifest refused: %s", pe.msg);
	return -1;
}

/*
 * Store again the damaged objects of `bad` whose content the build has
 * (a file of `items`, hashed, with the same hash). true when every one
 * of them is back; -1 in *failed when the store cannot be written.
 */
static bool repair(struct cache *c, const char *srcdir, const char *abs_root,
		   const struct items *bad, struct items *items,
		   struct cache_result *r, int *failed, struct sw_err *e)
{
	struct cache_statc byhash = { 0 }, done = { 0 };
	bool all = true;

	for (size_t i = 0; i < items->nr; i++)
		if (items->v[i].type == T_FILE)
			statc_get(&byhash, items->v[i].hash)->count = (long)i;
	for (size_t i = 0; i < bad->nr && !*failed; i++) {
		const struct item *b = &bad->v[i];
		struct statc_ent *have = statc_find(&byhash, b->hash);
		struct item x;
		char obj[72];
		int rc;

		obj_name(b->hash, b->mode & 0111, obj);
		if (statc_find(&done, obj))
			continue;
		if (!have || items->v[have->count].type != T_FILE) {
			all = false;
			continue;
		}
		/* The build's file, stored under the entry's object name. */
		x = items->v[have->count];
		x.mode = (x.mode & ~0111u) | (b->mode & 0111);
		rc = obj_store(c, srcdir, abs_root, &x, r, e);
		if (rc < 0) {
			*failed = -1;
		} else if (x.type != T_FILE) {
			items->v[have->count].type = -1;
			all = false;
		} else {
			statc_get(&done, obj);
			r->repaired++;
		}
	}
	for (size_t i = 0; i < byhash.cap; i++)
		free(byhash.v[i].key);
	free(byhash.v);
	for (size_t i = 0; i < done.cap; i++)
		free(done.v[i].key);
	free(done.v);
	return all && !*failed;
}

int cache_save(struct cache *c, const struct cache_spec *spec,
	       const char *srcdir, struct cache_result *r, struct sw_err *e)
{
	struct pats pats = { 0 };
	struct items items = { 0 }, bad = { 0 };
	struct manifest m = { 0 };
	struct cache_statc *prev = NULL;
	struct sw_err pe = SW_ERR_INIT;
	struct buf b = BUF_INIT;
	char *name = NULL, *man = NULL, *meta = NULL, *dir = NULL;
	bool keyed = spec->key && *spec->key, locked = false, exists;
	bool replace = !keyed;
	const char *kill = getenv(CACHE_TEST_KILL_ENV);
	double t0 = mono();
	long damaged = 0;
	int64_t gen;
	int ret = -1, failed = 0;

	*r = (struct cache_result)CACHE_RESULT_INIT;
	cache_version(spec->paths, spec->npaths, r->version);
	r->key = keyed ? xstrdup(spec->key) : NULL;
	if ((spec->action && !strcmp(spec->action, "restore")) ||
	    !spec->npaths) {
		ret = 0;
		goto out;
	}
	if (pats_parse(spec, &pats, &pe) < 0) {
		warnf(r, "%s", pe.msg);
		ret = 0;
		goto out;
	}
	if (lock(c, LOCK_SH, e) < 0)
		goto out;
	locked = true;
	sweep_tmp(c, false, &r->temps_removed, &r->temps_bytes);
	if (r->temps_removed) {
		struct buf h = BUF_INIT;

		human(&h, r->temps_bytes);
		warnf(r,
		      "removed %zu temporary file%s (%s) of saves killed "
		      "before they ended",
		      r->temps_removed, r->temps_removed == 1 ? "" : "s",
		      buf_cstr(&h));
		buf_release(&h);
	}
	name = entry_name(spec);
	dir = xasprintf("%s/entries/%s", c->dir, r->version);
	man = entry_path(c, r->version, name, ".json");
	meta = entry_path(c, r->version, name, ".meta");
	if (keyed && fs_exists(man)) {
		/* Immutable, unless damaged: then repaired or replaced. */
		damaged = entry_damage(c, man, &pats, r->version, &bad, r);
		if (!damaged) {
			r->outcome = CACHE_EXISTS;
			ret = 0;
			goto out;
		}
		r->damaged = damaged < 0 ? 0 : (size_t)damaged;
		replace = true;
	}
	if (fs_mkdir_p(dir, 0755, e) < 0)
		goto out;
	collect(&pats, srcdir, spec->abs_root, &items, r);
	statc_load_later(c);
	if (!keyed)
		prev = prev_statc(man);
	gen = read_gen(c);
	for (size_t i = 0; i < items.nr; i++) {
		struct item *x = &items.v[i];
		struct statc_ent *hit;

		if (x->type != T_FILE)
			continue;
		hit = statc_hit(c->statc, x, x->hash);
		if (!hit)
			hit = statc_hit(prev, x, x->hash);
		/*
		 * Unchanged since a restore or save that saw its object:
		 * nothing removed the object if the generation did not move.
		 * Saving over a damaged entry, every object is looked at.
		 */
		x->trusted = hit && hit->gen == gen && !damaged;
		if (spec->progress)
			spec->progress("hashing", i + 1, items.nr,
				       spec->progress_data);
		if (!hit) {
			if (hash_item(srcdir, spec->abs_root, x, &pe) < 0) {
				warnf(r, "%s: not cached", pe.msg);
				err_clear(&pe);
				x->type = -1;
				continue;
			}
			r->hashed++;
		}
	}
	if (damaged > 0 &&
	    repair(c, srcdir, spec->abs_root, &bad, &items, r, &failed, e)) {
		r->outcome = CACHE_REPAIRED;
		ret = 0;
		goto out;
	}
	if (failed)
		goto out;
	for (size_t i = 0; i < items.nr; i++) {
		struct item *x = &items.v[i];

		if (x->type == T_FILE && !x->trusted &&
		    obj_store(c, srcdir, spec->abs_root, x, r, e) < 0)
			goto out; /* no entry that lacks objects */
		if (spec->progress)
			spec->progress("storing", i + 1, items.nr,
				       spec->progress_data);
	}
	for (size_t i = 0; i < items.nr; i++) {
		const struct item *x = &items.v[i];

		if (x->type == T_FILE) {
			r->files++;
			r->bytes += x->size;
		} else if (x->type == T_DIR) {
			r->dirs++;
		} else if (x->type == T_LINK) {
			r->symlinks++;
		}
	}
	if (kill && !strcmp(kill, "before-manifest"))
		raise(SIGKILL);
	m.version = xstrdup(r->version);
	m.key = xstrdup_or_null(r->key);
	m.project = xstrdup_or_null(spec->project);
	for (size_t i = 0; i < spec->npaths; i++)
		strvec_push(&m.paths, spec->paths[i]);
	m.created_ns = m.last_used_ns = now_ns();
	m.gen = gen;
	m.files = r->files;
	m.size = r->bytes;
	manifest_head(&b, &m);
	manifest_items(&b, &items);
	/* link() never replaces: the first save of a key wins. */
	if (tmp_put(c, man, b.ptr, b.len, 0644, replace ? PUT_RENAME : PUT_LINK,
		    true, &exists, e) < 0)
		goto out;
	if (exists) {
		r->outcome = CACHE_EXISTS;
		ret = 0;
		goto out;
	}
	r->outcome = keyed && replace ? CACHE_REPLACED : CACHE_SAVED;
	if (meta_write(c, meta, &m, &pe) < 0)
		warnf(r, "%s", pe.msg);
	ret = 0;
out:
	if (ret < 0)
		err_prefix(e, "cache");
	if (locked)
		unlock(c);
	if (ret == 0 && spec->tree_at_save &&
	    (r->outcome == CACHE_SAVED || r->outcome == CACHE_REPLACED)) {
		double t1 = mono();

		tree_at_save(c, spec, &pats, r->version, name, m.created_ns);
		r->tree_seconds = mono() - t1;
	}
	statc_free(prev);
	items_release(&items);
	items_release(&bad);
	manifest_release(&m);
	pats_release(&pats);
	buf_release(&b);
	free(name);
	free(man);
	free(meta);
	free(dir);
	r->seconds = mono() - t0;
	return ret;
}

void cache_result_release(struct cache_result *r)
{
	free(r->key);
	free(r->fallback);
	free(r->overlay_why);
	strvec_release(&r->mounts);
	strvec_release(&r->warnings);
	*r = (struct cache_result)CACHE_RESULT_INIT;
}

static void human(struct buf *b, uint64_t n)
{
	static const char *const u[] = { "B", "KB", "MB", "GB", "TB" };
	double v = (double)n;
	size_t i = 0;

	while (v >= 1024 && i + 1 < ARRAY_SIZE(u)) {
		v /= 1024;
		i++;
	}
	if (!i)
		buf_addf(b, "%" PRIu64 " B", n);
	else
		buf_addf(b, v < 10 ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void describe_key(const struct cache_result *r, struct buf *out)
{
	if (r->key)
		buf_addf(out, "key %s", r->key);
	else
		buf_addstr(out, "project cache");
	if (r->fallback)
		buf_addf(out, " (fallback %s)", r->fallback);
}

void cache_result_describe(const struct cache_result *r, struct buf *out)
{
	const char *verb = r->restore ? "Restoring cache" : "Saving cache";

	switch (r->outcome) {
	case CACHE_SKIPPED:
		buf_addf(out, "%s: skipped", verb);
		return;
	case CACHE_MISS:
		buf_addf(out, "%s: no entry found (miss)", verb);
		return;
	case CACHE_EXISTS:
		buf_addf(out, "%s: ", verb);
		describe_key(r, out);
		buf_addstr(out, " exists and is immutable, not saved again");
		return;
	case CACHE_REPAIRED:
		buf_addf(out, "%s: ", verb);
		describe_key(r, out);
		buf_addf(out,
			 " exists and is immutable; %zu damaged object%s "
			 "stored again",
			 r->repaired, r->repaired == 1 ? "" : "s");
		return;
	default:
		break;
	}
	buf_addf(out, "%s: ", verb);
	describe_key(r, out);
	if (r->outcome == CACHE_REPLACED && r->damaged)
		buf_addf(out,
			 " was damaged (%zu object%s missing or modified): "
			 "replaced,",
			 r->damaged, r->damaged == 1 ? "" : "s");
	else if (r->outcome == CACHE_REPLACED)
		buf_addstr(
			out,
			" was damaged (its manifest was refused): replaced,");
	buf_addf(out, " %zu files ", r->files);
	human(out, r->bytes);
	if (r->restore && r->files) {
		const char *how[4];
		size_t n = 0;

		if (r->overlaid)
			how[n++] = "overlay";
		if (r->cloned)
			how[n++] = "reflink";
		if (r->copied)
			how[n++] = "copy";
		if (r->linked)
			how[n++] = "hard link";
		for (size_t i = 0; i < n; i++)
			buf_addf(out, "%s%s",
				 !i	     ? " by "
				 : i + 1 < n ? ", "
					     : " and ",
				 how[i]);
	}
	if (!r->restore) {
		buf_addf(out, " (%zu hashed, %zu new objects, ", r->hashed,
			 r->stored);
		human(out, r->stored_bytes);
		buf_addch(out, ')');
	} else if (r->missing) {
		buf_addf(out, " (%zu not restored)", r->missing);
	}
	if (r->restore && r->overlay_why && r->files > r->overlaid)
		buf_addf(out, " (no overlay: %s)", r->overlay_why);
	buf_addf(out, " in %.2fs", r->seconds);
	if (r->restore && r->overlaid && r->tree_placed)
		buf_addf(out, "; its tree made now (%zu files, %zu linked)",
			 r->tree_placed, r->tree_linked);
	else if (r->restore && r->overlaid)
		buf_addstr(out, "; its tree was ready");
}

/* ---- list, prune, clear ---- */

typedef void (*entry_fn)(const char *version, const char *name, void *data);

/* Call fn for every manifest entries/<version>/<name>.json. */
static void each_entry(struct cache *c, entry_fn fn, void *data)
{
	char *edir = fs_join(c->dir, "entries");
	DIR *d = opendir(edir), *v;
	struct dirent *de, *ve;

	while (d && (de = readdir(d))) {
		char *vdir;

		if (!is_hex64(de->d_name))
			continue;
		vdir = fs_join(edir, de->d_name);
		v = opendir(vdir);
		while (v && (ve = readdir(v))) {
			size_t len = strlen(ve->d_name);
			char *name;

			if (len < 6 || strcmp(ve->d_name + len - 5, ".json") ||
			    !strncmp(ve->d_name, "tmp.", 4))
				continue;
			name = xstrndup(ve->d_name, len - 5);
			fn(de->d_name, name, data);
			free(name);
		}
		if (v)
			closedir(v);
		free(vdir);
	}
	if (d)
		closedir(d);
	free(edir);
}

typedef void (*tree_fn)(const char *version, const char *base, const char *tree,
			void *data);

/* Call fn for every tree trees/<version>/<base> (base: <name>.<ns>). */
static void each_tree(struct cache *c, tree_fn fn, void *data)
{
	char *tdir = fs_join(c->dir, "trees");
	DIR *d = opendir(tdir), *v;
	struct dirent *de, *ve;

	while (d && (de = readdir(d))) {
		char *vdir;

		if (!is_hex64(de->d_name))
			continue;
		vdir = fs_join(tdir, de->d_name);
		v = opendir(vdir);
		while (v && (ve = readdir(v))) {
			char *tree;

			if (ve->d_name[0] == '.' || !strrchr(ve->d_name, '.'))
				continue;
			tree = fs_join(vdir, ve->d_name);
			fn(de->d_name, ve->d_name, tree, data);
			free(tree);
		}
		if (v)
			closedir(v);
		free(vdir);
	}
	if (d)
		closedir(d);
	free(tdir);
}

/* The disk below directory fd (closed): see tree_use. */
static uint64_t dir_use(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	uint64_t n = 0;

	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);

			n += (uint64_t)st.st_blocks * 512;
			if (sfd >= 0)
				n += dir_use(sfd);
		} else {
			n += (uint64_t)st.st_blocks * 512 /
			     (st.st_nlink ? st.st_nlink : 1);
		}
	}
	closedir(d);
	return n;
}

/*
 * The disk a tree takes: its directories, manifest and lock, and each
 * file's blocks divided among its hard links. Trees share files by
 * links (never with the objects), so the shares of all trees add up to
 * what they take together; a file a reflink shares with its object
 * counts whole.
 */
static uint64_t tree_use(const char *tree)
{
	int fd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	uint64_t n = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0)
		n = (uint64_t)st.st_blocks * 512;
	return n + dir_use(fd);
}

struct list_ctx {
	struct cache *c;
	struct cache_entry_info *v;
	char **names; /* of v's entries */
	size_t nr, alloc, nalloc;
};

/* x's health: can its manifest be used, are its objects all there. */
static void entry_health(struct cache *c, const char *version, const char *name,
			 struct cache_entry_info *x)
{
	char *man = entry_path(c, version, name, ".json");
	struct cache_spec spec = CACHE_SPEC_INIT;
	struct cache_statc seen = { 0 };
	struct sw_err ign = SW_ERR_INIT;
	struct pats pats = { 0 };
	struct manifest m;

	x->unreadable = true;
	if (manifest_read(man, true, &m, &ign) < 0)
		goto out;
	spec.paths = (const char *const *)m.paths.v;
	spec.npaths = m.paths.nr;
	if (pats_parse(&spec, &pats, &ign) < 0 ||
	    validate(&m, &pats, version, &ign) < 0)
		goto release;
	x->unreadable = false;
	for (size_t i = 0; i < m.items.nr; i++) {
		const struct item *it = &m.items.v[i];
		char obj[72];
		struct stat st;

		if (it->type != T_FILE)
			continue;
		obj_name(it->hash, it->mode & 0111, obj);
		if (statc_get(&seen, obj)->count++)
			continue;
		x->objects++;
		switch (obj_state(c, obj, it->size, it->mode & 0111, &st)) {
		case OBJ_OK:
			break;
		case OBJ_ABSENT:
			x->missing++;
			break;
		case OBJ_CORRUPT:
			x->modified++;
			break;
		}
	}
release:
	pats_release(&pats);
	manifest_release(&m);
out:
	for (size_t i = 0; i < seen.cap; i++)
		free(seen.v[i].key);
	free(seen.v);
	free(man);
}

static void list_one(const char *version, const char *name, void *data)
{
	struct list_ctx *l = data;
	struct manifest m;
	struct sw_err ign = SW_ERR_INIT;
	struct cache_entry_info *x;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	ALLOC_GROW(l->names, l->nr + 1, l->nalloc);
	l->names[l->nr] = xstrdup(name);
	x = &l->v[l->nr++];
	memset(x, 0, sizeof(*x));
	memcpy(x->version, version, 65);
	entry_health(l->c, version, name, x);
	if (meta_read(l->c, version, name, &m, &ign) < 0)
		return; /* listed, unreadable, so that it is seen */
	x->key = m.key;
	x->project = m.project;
	m.key = m.project = NULL;
	x->files = m.files;
	x->bytes = m.size;
	x->created_ns = m.created_ns;
	x->last_used_ns = m.last_used_ns;
	manifest_release(&m);
}

static int by_last_used_desc(const void *a, const void *b)
{
	const struct cache_entry_info *x = a, *y = b;

	return (x->last_used_ns < y->last_used_ns) -
	       (x->last_used_ns > y->last_used_ns);
}

/* A tree counted for its entry, whichever of its trees it is. */
static void list_tree(const char *version, const char *base, const char *tree,
		      void *data)
{
	struct list_ctx *l = data;
	size_t n = (size_t)(strrchr(base, '.') - base);

	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->v[i].version, version) &&
		    strlen(l->names[i]) == n &&
		    !strncmp(l->names[i], base, n)) {
			l->v[i].trees++;
			l->v[i].tree_bytes += tree_use(tree);
			break;
		}
}

int cache_list(struct cache *c, struct cache_entry_info **out, size_t *n,
	       struct sw_err *e)
{
	struct list_ctx l = { c, NULL, NULL, 0, 0, 0 };

	*out = NULL;
	*n = 0;
	if (lock(c, LOCK_SH, e) < 0)
		return -1;
	each_entry(c, list_one, &l);
	each_tree(c, list_tree, &l);
	unlock(c);
	for (size_t i = 0; i < l.nr; i++)
		free(l.names[i]);
	free(l.names);
	if (l.nr)
		qsort(l.v, l.nr, sizeof(*l.v), by_last_used_desc);
	*out = l.v;
	*n = l.nr;
	return 0;
}

void cache_entries_free(struct cache_entry_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].project);
	}
	free(v);
}

struct pent {
	char *version, *name;
	int64_t last_used, created;
	struct strvec objs; /* object names */
	bool removed;
};

struct ptree {
	char *path;
	struct pent *entry; /* whose current tree it is, or NULL */
	uint64_t bytes;
	bool busy; /* used, or being made */
	bool gone;
};

struct prune_ctx {
	struct cache *c;
	struct pent *v;
	size_t nr, alloc;
	struct ptree *t;
	size_t nt, talloc;
	struct cache_statc refs; /* object name -> count, size */
	uint64_t live; /* bytes of referenced objects */
};

static void prune_unref(struct prune_ctx *p, const char *obj)
{
	struct statc_ent *s = statc_find(&p->refs, obj);

	if (s && s->count > 0 && --s->count == 0)
		p->live -= s->size;
}

static void prune_one(const char *version, const char *name, void *data)
{
	struct prune_ctx *p = data;
	char *man = entry_path(p->c, version, name, ".json");
	struct manifest m, head;
	struct sw_err ign = SW_ERR_INIT;
	struct pent *x;

	if (manifest_read(man, true, &m, &ign) < 0) {
		/* Unreadable: of no use to anyone. */
		char *meta = entry_path(p->c, version, name, ".meta");

		unlink(man);
		unlink(meta);
		free(meta);
		free(man);
		return;
	}
	free(man);
	ALLOC_GROW(p->v, p->nr + 1, p->alloc);
	x = &p->v[p->nr++];
	memset(x, 0, sizeof(*x));
	x->version = xstrdup(version);
	x->name = xstrdup(name);
	x->last_used = x->created = m.created_ns;
	if (meta_read(p->c, version, name, &head, &ign) == 0) {
		x->last_used = head.last_used_ns;
		manifest_release(&head);
	}
	for (size_t i = 0; i < m.items.nr; i++) {
		const struct item *it = &m.items.v[i];
		char obj[72];
		struct statc_ent *s;

		if (it->type != T_FILE)
			continue;
		obj_name(it->hash, it->mode & 0111, obj);
		s = statc_get(&p->refs, obj);
		if (!s->count++) {
			s->size = it->size;
			p->live += it->size;
		}
		strvec_push(&x->objs, obj);
	}
	manifest_release(&m);
}

static int by_last_used_asc(const void *a, const void *b)
{
	const struct pent *x = a, *y = b;

	return (x->last_used > y->last_used) - (x->last_used < y->last_used);
}

/* Unlink dfd/name (a stray file) and count it. */
static void remove_temp(int dfd, const char *name, struct cache_prune_result *r)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    S_ISDIR(st.st_mode) || unlinkat(dfd, name, 0) < 0)
		return;
	r->temps_removed++;
	r->temps_bytes += (uint64_t)st.st_size;
}

/*
 * Remove unreferenced objects and the temps of older versions (they
 * wrote objects/<aa>/tmp.*); count what stays.
 */
static void prune_objects(struct prune_ctx *p, struct cache_prune_result *r,
			  bool before)
{
	DIR *d = fdopendir(openat(p->c->objects_fd, ".",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;

	while (d && (de = readdir(d))) {
		int sfd;
		DIR *s;
		struct dirent *oe;

		if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
			continue;
		sfd = openat(p->c->objects_fd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			continue;
		s = fdopendir(sfd);
		while (s && (oe = readdir(s))) {
			char obj[600];
			struct stat st;
			struct statc_ent *ref;

			if (oe->d_name[0] == '.' ||
			    fstatat(sfd, oe->d_name, &st, AT_SYMLINK_NOFOLLOW) <
				    0)
				continue;
			if (!strncmp(oe->d_name, "tmp.", 4)) {
				if (!before)
					remove_temp(sfd, oe->d_name, r);
				continue;
			}
			if (before) {
				r->bytes_before += (uint64_t)st.st_size;
				continue;
			}
			snprintf(obj, sizeof(obj), "%s/%s", de->d_name,
				 oe->d_name);
			ref = statc_find(&p->refs, obj);
			if ((!ref || !ref->count) &&
			    !unlinkat(sfd, oe->d_name, 0)) {
				r->objects_removed++;
				continue;
			}
			r->bytes_after += (uint64_t)st.st_size;
		}
		if (s)
			closedir(s);
		else
			close(sfd);
		if (!before)
			unlinkat(p->c->objects_fd, de->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
}

/*
 * entries/<v>/: temps of older versions (tmp.*, *.tmp.<pid>) and .meta
 * without a manifest; <dir>/generation.tmp.<pid> likewise.
 */
static void prune_entry_strays(struct cache *c, struct cache_prune_result *r)
{
	char *edir = fs_join(c->dir, "entries");
	DIR *d = opendir(edir), *v;
	struct dirent *de, *ve;
	int cfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	v = cfd >= 0 ? fdopendir(cfd) : NULL;
	while (v && (ve = readdir(v)))
		if (!strncmp(ve->d_name, "generation.tmp.", 15))
			remove_temp(dirfd(v), ve->d_name, r);
	if (v)
		closedir(v);
	else if (cfd >= 0)
		close(cfd);

	while (d && (de = readdir(d))) {
		char *vdir;
		int vfd;

		if (!is_hex64(de->d_name))
			continue;
		vdir = fs_join(edir, de->d_name);
		v = opendir(vdir);
		vfd = v ? dirfd(v) : -1;
		while (v && (ve = readdir(v))) {
			size_t len = strlen(ve->d_name);
			bool stray = !strncmp(ve->d_name, "tmp.", 4) ||
				     strstr(ve->d_name, ".tmp.") ||
				     fs_tmp_parse(ve->d_name, NULL);

			if (!stray && len > 5 &&
			    !strcmp(ve->d_name + len - 5, ".meta")) {
				char *j = xasprintf("%.*s.json", (int)len - 5,
						    ve->d_name);
				struct stat st;

				stray = fstatat(vfd, j, &st, 0) < 0;
				free(j);
			}
			if (stray)
				remove_temp(vfd, ve->d_name, r);
		}
		if (v)
			closedir(v);
		rmdir(vdir);
		free(vdir);
	}
	if (d)
		closedir(d);
	free(edir);
}

/*
 * Trees no entry uses any more (removed, or replaced since: the created
 * time in the name differs), or all with `all`; a tree a build still
 * holds is left for the next prune.
 */
static void prune_trees(struct cache *c, bool all)
{
	char *tdir = fs_join(c->dir, "trees");
	DIR *d = opendir(tdir), *v;
	struct dirent *de, *ve;

	while (d && (de = readdir(d))) {
		char *vdir;

		if (!is_hex64(de->d_name))
			continue;
		vdir = fs_join(tdir, de->d_name);
		v = opendir(vdir);
		while (v && (ve = readdir(v))) {
			char *dot = strrchr(ve->d_name, '.'), *name, *tree;
			struct manifest head;
			struct sw_err ign = SW_ERR_INIT;
			bool keep = false;

			if (ve->d_name[0] == '.' || !dot)
				continue;
			name = xstrndup(ve->d_name, (size_t)(dot - ve->d_name));
			if (!all &&
			    meta_read(c, de->d_name, name, &head, &ign) == 0) {
				keep = head.created_ns ==
				       strtoll(dot + 1, NULL, 10);
				manifest_release(&head);
			}
			tree = fs_join(vdir, ve->d_name);
			if (!keep)
				tree_remove(c, tree);
			free(tree);
			free(name);
		}
		if (v)
			closedir(v);
		rmdir(vdir);
		free(vdir);
	}
	if (d)
		closedir(d);
	free(tdir);
}

/* Whether a build holds the tree's lock (or a maker: it is made). */
static bool tree_busy(const char *tree)
{
	char *lockp = fs_join(tree, "lock");
	bool busy = fs_lock_held(lockp) == 1;

	free(lockp);
	return busy;
}

/* Each tree with its size and entry; those of no entry removed. */
static void prune_collect_tree(const char *version, const char *base,
			       const char *tree, void *data)
{
	struct prune_ctx *p = data;
	const char *dot = strrchr(base, '.');
	size_t n = (size_t)(dot - base);
	struct ptree *t;

	ALLOC_GROW(p->t, p->nt + 1, p->talloc);
	t = &p->t[p->nt++];
	memset(t, 0, sizeof(*t));
	t->path = xstrdup(tree);
	t->bytes = tree_use(tree);
	t->busy = tree_busy(tree);
	for (size_t i = 0; i < p->nr; i++)
		if (!strcmp(p->v[i].version, version) &&
		    strlen(p->v[i].name) == n &&
		    !strncmp(p->v[i].name, base, n) &&
		    p->v[i].created == strtoll(dot + 1, NULL, 10))
			t->entry = &p->v[i];
	/* An entry's tree not ready may be one a save has just handed to
	 * its maker, which has yet to lock it: not removed over the
	 * budget. */
	if (t->entry && !t->busy && !tree_ready(tree))
		t->busy = true;
	if (!t->entry && !t->busy)
		t->gone = tree_remove(p->c, tree);
}

/* The trees' bytes that stay. */
static uint64_t trees_left(const struct prune_ctx *p)
{
	uint64_t n = 0;

	for (size_t i = 0; i < p->nt; i++)
		if (!p->t[i].gone)
			n += p->t[i].bytes;
	return n;
}

int cache_prune(struct cache *c, uint64_t max_bytes,
		struct cache_prune_result *r, struct sw_err *e)
{
	struct prune_ctx p = { 0 };

	memset(r, 0, sizeof(*r));
	p.c = c;
	if (lock(c, LOCK_EX, e) < 0)
		return -1;
	bump_gen(c);
	prune_objects(&p, r, true);
	each_entry(c, prune_one, &p);
	if (p.nr)
		qsort(p.v, p.nr, sizeof(*p.v), by_last_used_asc);
	each_tree(c, prune_collect_tree, &p);
	for (size_t i = 0; i < p.nt; i++) {
		r->trees_before += p.t[i].bytes;
		r->trees_removed += p.t[i].gone;
	}
	/*
	 * Entries go only where their objects alone are over the budget
	 * (least recently used first): a tree dropped makes its entry's
	 * restores slower, an entry dropped makes them misses. Trees a
	 * build holds do not cost an entry now; they go later.
	 */
	for (size_t i = 0; i < p.nr && p.live > max_bytes; i++) {
		char *man = entry_path(c, p.v[i].version, p.v[i].name, ".json");
		char *meta =
			entry_path(c, p.v[i].version, p.v[i].name, ".meta");

		if (!unlink(man)) {
			unlink(meta);
			p.v[i].removed = true;
			r->entries_removed++;
			for (size_t k = 0; k < p.v[i].objs.nr; k++)
				prune_unref(&p, p.v[i].objs.v[k]);
		}
		free(man);
		free(meta);
	}
	/* the trees of the entries removed, unless in use */
	for (size_t k = 0; k < p.nt; k++) {
		struct ptree *t = &p.t[k];

		if (!t->gone && t->entry && t->entry->removed && !t->busy &&
		    tree_remove(c, t->path)) {
			t->gone = true;
			r->trees_removed++;
		}
	}
	/* then the trees of the entries kept, least recently used first */
	for (size_t i = 0; i < p.nr && p.live + trees_left(&p) > max_bytes; i++)
		for (size_t k = 0; k < p.nt; k++) {
			struct ptree *t = &p.t[k];

			if (t->entry == &p.v[i] && !t->busy && !t->gone &&
			    tree_remove(c, t->path)) {
				t->gone = true;
				r->trees_removed++;
			}
		}
	prune_objects(&p, r, false);
	prune_entry_strays(c, r);
	prune_trees(c, false);
	for (size_t k = 0; k < p.nt; k++)
		if (!p.t[k].gone && !fs_exists(p.t[k].path)) {
			p.t[k].gone = true;
			r->trees_removed++;
		}
	r->trees_after = trees_left(&p);
	sweep_tmp(c, true, &r->temps_removed, &r->temps_bytes);
	unlock(c);
	for (size_t i = 0; i < p.nr; i++) {
		free(p.v[i].version);
		free(p.v[i].name);
		strvec_release(&p.v[i].objs);
	}
	free(p.v);
	for (size_t i = 0; i < p.nt; i++)
		free(p.t[i].path);
	free(p.t);
	for (size_t i = 0; i < p.refs.cap; i++)
		free(p.refs.v[i].key);
	free(p.refs.v);
	return 0;
}

int cache_clear(struct cache *c, struct sw_err *e)
{
	char *objs = NULL, *ents = NULL;
	int ret = -1;

	if (lock(c, LOCK_EX, e) < 0)
		return -1;
	bump_gen(c);
	objs = fs_join(c->dir, "objects");
	ents = fs_join(c->dir, "entries");
	if (fs_remove_tree(ents, e) < 0 || fs_remove_tree(objs, e) < 0 ||
	    fs_mkdir_p(ents, 0755, e) < 0 || fs_mkdir_p(objs, 0755, e) < 0)
		goto out;
	close(c->objects_fd);
	c->objects_fd = open(objs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->objects_fd < 0) {
		err_sys(e, "cannot open '%s'", objs);
		goto out;
	}
	statc_free(c->statc);
	c->statc = NULL;
	prune_trees(c, true);
	{
		size_t n = 0;
		uint64_t bytes = 0;

		sweep_tmp(c, true, &n, &bytes);
	}
	ret = 0;
out:
	unlock(c);
	if (ret < 0)
		err_prefix(e, "cache");
	free(objs);
	free(ents);
	return ret;
}

/* ---- codebuild-hash-files, sizes ---- */

int cache_hash_files(const char *dir, const char *const *globs, size_t n,
		     char out[65], struct sw_err *e)
{
	struct strvec files = STRVEC_INIT;
	struct hash_ctx h = HASH_CTX_INIT;
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		if (glob_expand(dir, globs[i], &files, e) < 0)
			goto out;
	if (files.nr)
		qsort(files.v, files.nr, sizeof(*files.v), cmp_str);
	if (hash_init(&h, HASH_SHA256, e) < 0)
		goto out;
	for (size_t i = 0; i < files.nr; i++) {
		char hex[65], *path;
		struct stat st;

		if (i && !strcmp(files.v[i], files.v[i - 1]))
			continue;
		path = fs_join(dir, files.v[i]);
		/* A symlink counts as its target; one to a directory or
		 * to nothing is left out. */
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (hash_file_sha256(path, hex, e) < 0) {
			free(path);
			goto out;
		}
		free(path);
		if (hash_update(&h, files.v[i], strlen(files.v[i]) + 1, e) <
			    0 ||
		    hash_update(&h, hex, 64, e) < 0 ||
		    hash_update(&h, "\n", 1, e) < 0)
			goto out;
	}
	ret = hash_final(&h, out, e);
out:
	hash_release(&h);
	strvec_release(&files);
	return ret;
}

int cache_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		mult = (uint64_t)1 << 10;
		break;
	case 'm':
	case 'M':
		mult = (uint64_t)1 << 20;
		break;
	case 'g':
	case 'G':
		mult = (uint64_t)1 << 30;
		break;
	case 't':
	case 'T':
		mult = (uint64_t)1 << 40;
		break;
	default:
		break;
	}
	if (mult > 1) {
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
	} else if (*end == 'B') {
		end++;
	}
	if (*end || v * (double)mult >= 1.8e19)
		return -1;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}
