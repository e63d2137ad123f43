#include "install.h"

#include <acl/libacl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "xalloc.h"

#include "banned.h"

extern char **environ;

/* A cleanup file larger than this is not one we wrote. */
#define CLEANUP_MAX (256u << 20)
/* Directory nesting of a bundle; each level holds two descriptors. */
#define MAX_DEPTH 200

#define SELINUX_ENFORCE "/sys/fs/selinux/enforce"

static const char msg_exists[] = "The deployment failed because a specified "
				 "file already exists at this location: %s";

enum inst_type { INST_MKDIR, INST_COPY };

/* One copy or mkdir of the plan, in execution order. */
struct inst {
	enum inst_type type;
	bool overwrite; /* copy over a file that is there */
	bool link; /* copy of a symbolic link */
	bool has_perm; /* a permission rule took it */
	char *path; /* host path */
	char *src; /* copy: relative to the archive */
};

/* One setfacl entry, resolved. */
struct ace {
	bool dflt;
	acl_tag_t tag;
	unsigned id; /* uid or gid for ACL_USER, ACL_GROUP */
	unsigned perm; /* 4 read, 2 write, 1 execute */
	size_t seq; /* its place in the appspec's list */
};

/* A `permissions` rule, its names looked up at its first match. */
struct rule {
	const struct appspec_permission *p;
	char *object;
	bool resolved;
	uid_t uid; /* -1: unchanged */
	gid_t gid;
	struct ace *aces;
	size_t nr_aces;
	bool has_default;
};

/* A permission rule applied to one object of the plan. */
struct pop {
	size_t inst;
	size_t rule;
};

/* The open directory of the last path asked for. */
struct dcache {
	char *path;
	int fd;
};

struct ictx {
	const struct install_opts *o;
	struct install_result *r;
	const char *root;
	int rootfd, archfd, cleanup_fd;
	char *cleanup_path;
	enum appspec_feb feb;
	bool as_root;
	bool selinux;
	unsigned tmp_seq;

	struct inst *v;
	size_t nr, alloc;
	size_t *slots; /* open addressing over v: index + 1, 0 empty */
	size_t cap;

	struct rule *rules;
	size_t nr_rules;
	struct pop *pops;
	size_t nr_pops, alloc_pops;

	struct dcache dst, src;
	struct buf line;
};

/* ---- paths ---- */

/* "/a/b" -> "/a"; "/a" -> "/". Caller frees. */
static char *host_dir(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s || s == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(s - path));
}

static const char *host_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static char *host_join(const char *dir, const char *name)
{
	if (!strcmp(dir, "/"))
		return xasprintf("/%s", name);
	return xasprintf("%s/%s", dir, name);
}

static char *src_join(const char *dir, const char *name)
{
	if (!strcmp(dir, "."))
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

/*
 * Open path under root as if root were "/": every symbolic link on the
 * way resolves inside root. The last component is followed unless flags
 * has O_NOFOLLOW.
 */
static int open_in(int root, const char *path, int flags)
{
	struct open_how how;
	const char *rel = path;

	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	for (int i = 0; i < 64; i++) {
		long fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));

		if (fd >= 0 || errno != EAGAIN)
			return (int)fd;
	}
	return -1;
}

static void dcache_drop(struct dcache *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->path);
	d->path = NULL;
}

/* An O_PATH descriptor of directory `dir` under root, kept for the next
 * call; -1 with errno. */
static int dcache_get(struct dcache *d, int root, const char *dir)
{
	int fd;

	if (d->path && !strcmp(d->path, dir))
		return d->fd;
	dcache_drop(d);
	fd = open_in(root, dir, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return -1;
	d->path = xstrdup(dir);
	d->fd = fd;
	return fd;
}

static void note(struct ictx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct ictx *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!c->o->note)
		return;
	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	c->o->note(s, c->o->note_data);
	free(s);
}

/* ---- the plan's index ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static long find_inst(const struct ictx *c, const char *path)
{
	size_t m, i;

	if (!c->cap)
		return -1;
	m = c->cap - 1;
	for (i = (size_t)hash_str(path) & m;; i = (i + 1) & m) {
		size_t s = c->slots[i];

		if (!s)
			return -1;
		if (!strcmp(c->v[s - 1].path, path))
			return (long)(s - 1);
	}
}

static void slot_put(size_t *slots, size_t cap, const char *path, size_t idx)
{
	size_t m = cap - 1, i;

	for (i = (size_t)hash_str(path) & m; slots[i]; i = (i + 1) & m)
		;
	slots[i] = idx + 1;
}

static int add_inst(struct ictx *c, enum inst_type type, const char *path,
		    const char *src, bool link, bool overwrite,
		    struct sw_err *e)
{
	struct inst *in;

	if (strchr(path, '\n'))
		return err_set(e, ERR_FAILED,
			       "cannot install '%s': the name holds a newline",
			       path);
	if ((c->nr + 1) * 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		size_t *slots = xcalloc(cap, sizeof(*slots));

		for (size_t i = 0; i < c->nr; i++)
			slot_put(slots, cap, c->v[i].path, i);
		free(c->slots);
		c->slots = slots;
		c->cap = cap;
	}
	ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	in = &c->v[c->nr];
	memset(in, 0, sizeof(*in));
	in->type = type;
	in->path = xstrdup(path);
	in->src = xstrdup_or_null(src);
	in->link = link;
	in->overwrite = overwrite;
	slot_put(c->slots, c->cap, in->path, c->nr);
	c->nr++;
	return 0;
}

/* ---- looking at the host ---- */

enum hstate { H_MISSING, H_DIR, H_OTHER };

/*
 * What is at `base` in directory pfd (host path `path`)? A symbolic link
 * to a directory (resolved inside the host root) is a directory, as the
 * agent's File.directory? says. With fd, an O_PATH descriptor of the
 * directory is returned for H_DIR.
 */
static int lookup_at(struct ictx *c, int pfd, const char *base,
		     const char *path, enum hstate *st, int *fd,
		     struct sw_err *e)
{
	struct stat sb;
	int dfd = -1;

	if (fd)
		*fd = -1;
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return err_sys(e, "cannot inspect '%s'", path);
		*st = H_MISSING;
		return 0;
	}
	if (S_ISDIR(sb.st_mode)) {
		dfd = openat(pfd, base,
			     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else if (S_ISLNK(sb.st_mode)) {
		dfd = open_in(c->rootfd, path, O_PATH | O_DIRECTORY);
		if (dfd < 0 &&
		    (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
			*st = H_OTHER;
			return 0;
		}
	} else {
		*st = H_OTHER;
		return 0;
	}
	if (dfd < 0)
		return err_sys(e, "cannot open directory '%s'", path);
	*st = H_DIR;
	if (fd)
		*fd = dfd;
	else
		close(dfd);
	return 0;
}

static int host_lookup(struct ictx *c, const char *path, enum hstate *st,
		       int *fd, struct sw_err *e)
{
	char *dir;
	int pfd, ret;

	if (!strcmp(path, "/")) {
		*st = H_DIR;
		if (fd) {
			*fd = open_in(c->rootfd, "/", O_PATH | O_DIRECTORY);
			if (*fd < 0)
				return err_sys(e, "cannot open '%s'", c->root);
		}
		return 0;
	}
	dir = host_dir(path);
	pfd = open_in(c->rootfd, dir, O_PATH | O_DIRECTORY);
	if (pfd < 0) {
		int err = errno;

		free(dir);
		if (fd)
			*fd = -1;
		if (err == ENOENT || err == ENOTDIR) {
			/* an ancestor is missing, or is not a directory:
			   the walk up finds which */
			*st = H_MISSING;
			return 0;
		}
		errno = err;
		return err_sys(e, "cannot open directory of '%s'", path);
	}
	free(dir);
	ret = lookup_at(c, pfd, host_base(path), path, st, fd, e);
	close(pfd);
	return ret;
}

/* ---- the plan ---- */

static int plan_mkdir(struct ictx *c, const char *path, struct sw_err *e)
{
	long i = find_inst(c, path);

	if (i >= 0) {
		if (c->v[i].type == INST_MKDIR)
			return 0;
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the application "
			       "specification file includes an mkdir command "
			       "more than once for the same destination path "
			       "(%s) from (%s)",
			       path, c->v[i].src);
	}
	return add_inst(c, INST_MKDIR, path, NULL, false, false, e);
}

/* mkdir instructions for the missing ancestors of path, outermost
 * first. */
static int plan_ancestors(struct ictx *c, const char *path, struct sw_err *e)
{
	struct strvec missing = { 0 };
	char *dir = host_dir(path);
	int ret = -1;

	while (strcmp(dir, "/")) {
		long i = find_inst(c, dir);
		char *up;

		if (i >= 0 && c->v[i].type == INST_MKDIR)
			break;
		if (i < 0) {
			enum hstate st;

			if (host_lookup(c, dir, &st, NULL, e) < 0)
				goto out;
			if (st == H_DIR)
				break;
			if (st == H_OTHER) {
				err_set(e, ERR_FAILED, msg_exists, dir);
				goto out;
			}
		}
		strvec_push(&missing, dir);
		up = host_dir(dir);
		free(dir);
		dir = up;
	}
	for (size_t j = missing.nr; j-- > 0;)
		if (plan_mkdir(c, missing.v[j], e) < 0)
			goto out;
	ret = 0;
out:
	free(dir);
	strvec_release(&missing);
	return ret;
}

/*
 * The target directory `path` of a source directory: *fd is an O_PATH
 * descriptor when it exists, -1 when this install creates it. pfd is the
 * parent's descriptor, -1 when the parent is created too, AT_FDCWD when
 * not known.
 */
static int enter_dir(struct ictx *c, const char *path, int pfd, int *fd,
		     struct sw_err *e)
{
	long i = find_inst(c, path);
	enum hstate st = H_MISSING;

	*fd = -1;
	if (i >= 0) {
		if (c->v[i].type == INST_MKDIR)
			return 0;
		return plan_mkdir(c, path, e);
	}
	if (pfd == AT_FDCWD) {
		if (host_lookup(c, path, &st, fd, e) < 0)
			return -1;
	} else if (pfd >= 0) {
		if (lookup_at(c, pfd, host_base(path), path, &st, fd, e) < 0)
			return -1;
	}
	if (st == H_OTHER)
		return err_set(e, ERR_FAILED, msg_exists, path);
	if (st == H_MISSING)
		return plan_mkdir(c, path, e);
	return 0;
}

/* A file or symbolic link `src` to host path dest, in directory pfd (-1:
 * a directory this install creates). */
static int plan_file(struct ictx *c, const char *src, const char *dest, int pfd,
		     bool link, struct sw_err *e)
{
	struct stat sb;
	bool exists = false;
	long i;

	if (pfd >= 0) {
		if (fstatat(pfd, host_base(dest), &sb, AT_SYMLINK_NOFOLLOW) ==
		    0)
			exists = true;
		else if (errno != ENOENT)
			return err_sys(e, "cannot inspect '%s'", dest);
	}
	if (exists) {
		if (c->feb == APPSPEC_FEB_DISALLOW)
			return err_set(e, ERR_FAILED, msg_exists, dest);
		if (S_ISDIR(sb.st_mode))
			return err_set(e, ERR_FAILED,
				       "cannot install '%s' at '%s': a "
				       "directory is at this location",
				       src, dest);
		if (c->feb == APPSPEC_FEB_RETAIN) {
			c->r->retained++;
			return 0;
		}
	}
	i = find_inst(c, dest);
	if (i >= 0 && c->v[i].type == INST_COPY)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the application "
			       "specification file specifies two source files "
			       "named %s and %s for the same destination (%s)",
			       src, c->v[i].src, dest);
	if (i >= 0)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the application "
			       "specification file calls for installing the "
			       "file %s, but a file with that name already "
			       "exists at the location (%s)",
			       src, dest);
	return add_inst(c, INST_COPY, dest, src, link, exists, e);
}

struct dent {
	char *name;
	unsigned char type;
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

/* The entries of directory fd (not consumed), sorted by name. */
static int list_dir(int fd, const char *what, struct dent **out, size_t *nr,
		    struct sw_err *e)
{
	struct dent *v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int dfd = dup(fd);
	DIR *d;

	*out = NULL;
	*nr = 0;
	if (dfd < 0 || lseek(dfd, 0, SEEK_SET) < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return err_sys(e, "cannot read directory '%s'", what);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ALLOC_GROW(v, n + 1, alloc);
		v[n].name = xstrdup(de->d_name);
		v[n].type = de->d_type;
		n++;
	}
	if (errno) {
		int err = errno;

		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		errno = err;
		return err_sys(e, "cannot read directory '%s'", what);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), dent_cmp);
	*out = v;
	*nr = n;
	return 0;
}

/*
 * The contents of source directory sfd (archive path src) into host
 * directory dest (tfd, or -1 when this install creates it).
 */
static int plan_dir(struct ictx *c, const char *src, int sfd, const char *dest,
		    int tfd, int depth, struct sw_err *e)
{
	struct dent *ents = NULL;
	size_t nr = 0;
	int ret = -1;

	if (depth > MAX_DEPTH)
		return err_set(e, ERR_FAILED,
			       "the bundle is nested too deeply at '%s'", src);
	if (list_dir(sfd, src, &ents, &nr, e) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++) {
		char *csrc = src_join(src, ents[i].name);
		char *cdst = host_join(dest, ents[i].name);
		unsigned char type = ents[i].type;
		int rc = 0;

		if (type == DT_UNKNOWN) {
			struct stat sb;

			if (fstatat(sfd, ents[i].name, &sb,
				    AT_SYMLINK_NOFOLLOW) < 0)
				rc = err_sys(e, "cannot inspect '%s'", csrc);
			else if (S_ISDIR(sb.st_mode))
				type = DT_DIR;
			else if (S_ISREG(sb.st_mode))
				type = DT_REG;
			else if (S_ISLNK(sb.st_mode))
				type = DT_LNK;
		}
		if (!rc && type == DT_DIR) {
			int csfd = openat(sfd, ents[i].name,
					  O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						  O_CLOEXEC);
			int ctfd = -1;

			if (csfd < 0)
				rc = err_sys(e, "cannot open '%s'", csrc);
			else if (enter_dir(c, cdst, tfd, &ctfd, e) < 0)
				rc = -1;
			else
				rc = plan_dir(c, csrc, csfd, cdst, ctfd,
					      depth + 1, e);
			if (csfd >= 0)
				close(csfd);
			if (ctfd >= 0)
				close(ctfd);
		} else if (!rc && (type == DT_REG || type == DT_LNK)) {
			rc = plan_file(c, csrc, cdst, tfd, type == DT_LNK, e);
		}
		/* devices, fifos and sockets are not installed */
		free(csrc);
		free(cdst);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < nr; i++)
		free(ents[i].name);
	free(ents);
	return ret;
}

static int plan_entry(struct ictx *c, const struct appspec_file *f,
		      struct sw_err *e)
{
	char *dest = fs_abspath(f->destination);
	char *fdest = NULL;
	int sfd = -1, rfd = -1, tfd = -1, ret = -1;
	struct stat sb;

	sfd = open_in(c->archfd, f->source, O_PATH | O_NOFOLLOW);
	if (sfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			err_set(e, ERR_FAILED,
				"the source '%s' of a files entry is not in "
				"the bundle",
				f->source);
		else
			err_sys(e, "cannot open '%s' in the bundle", f->source);
		goto out;
	}
	if (fstat(sfd, &sb) < 0) {
		err_sys(e, "cannot inspect '%s' in the bundle", f->source);
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0) {
			err_sys(e, "cannot open '%s' in the bundle", f->source);
			goto out;
		}
		if (plan_ancestors(c, dest, e) < 0 ||
		    enter_dir(c, dest, AT_FDCWD, &tfd, e) < 0 ||
		    plan_dir(c, f->source, rfd, dest, tfd, 0, e) < 0)
			goto out;
	} else if (S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode)) {
		long i;

		fdest = host_join(dest, host_base(f->source));
		if (plan_ancestors(c, fdest, e) < 0)
			goto out;
		i = find_inst(c, dest);
		if (i < 0) {
			enum hstate st;

			if (host_lookup(c, dest, &st, &tfd, e) < 0)
				goto out;
		}
		if (plan_file(c, f->source, fdest, tfd, S_ISLNK(sb.st_mode),
			      e) < 0)
			goto out;
	} else {
		err_set(e, ERR_FAILED,
			"the source '%s' of a files entry is not a file, "
			"symbolic link or directory",
			f->source);
		goto out;
	}
	ret = 0;
out:
	if (sfd >= 0)
		close(sfd);
	if (rfd >= 0)
		close(rfd);
	if (tfd >= 0)
		close(tfd);
	free(dest);
	free(fdest);
	return ret;
}

/* ---- permissions ---- */

/* A pattern with "*" as its only wildcard, over a whole name. */
static bool simple_glob(const char *pat, const char *s)
{
	const char *star = NULL, *back = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			back = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

static bool rule_matches(const struct rule *r, const char *path)
{
	const struct appspec_permission *p = r->p;
	const char *rel;
	bool child;

	if (!strcmp(r->object, "/")) {
		rel = path + 1;
	} else {
		size_t n = strlen(r->object);

		if (strncmp(path, r->object, n) || path[n] != '/')
			return false;
		rel = path + n + 1;
	}
	if (!*rel)
		return false;
	child = !strchr(rel, '/');
	if (strcmp(p->pattern, "**") &&
	    !(child && simple_glob(p->pattern, rel)))
		return false;
	if (child)
		for (size_t i = 0; i < p->except.nr; i++)
			if (simple_glob(p->except.v[i], rel))
				return false;
	return true;
}

static bool part_is(const char *s, size_t n, const char *a, const char *b)
{
	return (n == strlen(a) && !memcmp(s, a, n)) ||
	       (n == strlen(b) && !memcmp(s, b, n));
}

static int name_id(const char *name, bool user, unsigned *id)
{
	char *end;
	unsigned long v;

	if (user) {
		struct passwd *pw = getpwnam(name);

		if (pw) {
			*id = pw->pw_uid;
			return 0;
		}
	} else {
		struct group *gr = getgrnam(name);

		if (gr) {
			*id = gr->gr_gid;
			return 0;
		}
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (!*name || *end || errno || v >= UINT32_MAX)
		return -1;
	*id = (unsigned)v;
	return 0;
}

/* One setfacl entry as the agent reads them:
 * [d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]]:name:perms */
static int parse_ace(const char *s, const char *obj, struct ace *a,
		     struct sw_err *e)
{
	const char *part[4];
	size_t len[4], nr = 0, k = 0;
	const char *p = s, *name = "";
	size_t name_len = 0;
	int type = 0; /* 'u', 'g', 'm', 'o' */
	const char *perm;
	size_t perm_len;
	char *nm;

	memset(a, 0, sizeof(*a));
	for (;;) {
		const char *colon = strchr(p, ':');

		if (nr == 4)
			goto bad;
		part[nr] = p;
		len[nr++] = colon ? (size_t)(colon - p) : strlen(p);
		if (!colon)
			break;
		p = colon + 1;
	}
	if (nr < 2)
		goto bad;
	if (nr >= 3 && part_is(part[0], len[0], "d", "default")) {
		a->dflt = true;
		k = 1;
	} else if (nr == 4) {
		goto bad;
	}
	if (nr - k == 3) {
		if (part_is(part[k], len[k], "u", "user"))
			type = 'u';
		else if (part_is(part[k], len[k], "g", "group"))
			type = 'g';
		else if (part_is(part[k], len[k], "m", "mask"))
			type = 'm';
		else if (part_is(part[k], len[k], "o", "other"))
			type = 'o';
		else
			goto bad;
		name = part[k + 1];
		name_len = len[k + 1];
	} else if (nr - k == 2) {
		if (part_is(part[k], len[k], "m", "mask")) {
			type = 'm';
		} else if (part_is(part[k], len[k], "o", "other")) {
			type = 'o';
		} else {
			type = 'u';
			name = part[k];
			name_len = len[k];
		}
	} else {
		goto bad;
	}
	perm = part[nr - 1];
	perm_len = len[nr - 1];
	if (perm_len == 1 && perm[0] >= '0' && perm[0] <= '7') {
		a->perm = (unsigned)(perm[0] - '0');
	} else {
		for (size_t i = 0; i < perm_len; i++) {
			if (perm[i] == 'r')
				a->perm |= 4;
			else if (perm[i] == 'w')
				a->perm |= 2;
			else if (perm[i] == 'x')
				a->perm |= 1;
			else if (perm[i] != '-')
				goto bad;
		}
	}
	if ((type == 'm' || type == 'o') && name_len)
		goto bad;
	if (type == 'm') {
		a->tag = ACL_MASK;
	} else if (type == 'o') {
		a->tag = ACL_OTHER;
	} else if (!name_len) {
		a->tag = type == 'u' ? ACL_USER_OBJ : ACL_GROUP_OBJ;
	} else {
		a->tag = type == 'u' ? ACL_USER : ACL_GROUP;
		nm = xstrndup(name, name_len);
		if (name_id(nm, type == 'u', &a->id) < 0) {
			err_set(e, ERR_FAILED,
				"unknown %s '%s' in the acl entry '%s' for "
				"'%s'",
				type == 'u' ? "user" : "group", nm, s, obj);
			free(nm);
			return -1;
		}
		free(nm);
	}
	return 0;
bad:
	return err_set(e, ERR_FAILED,
		       "The deployment failed because of a problem with the "
		       "acls permission settings in the application "
		       "specification file for this object: %s (invalid acl "
		       "entry %s)",
		       obj, s);
}

static int ace_cmp(const void *pa, const void *pb)
{
	const struct ace *a = pa, *b = pb;

	if (a->dflt != b->dflt)
		return a->dflt ? 1 : -1;
	if (a->tag != b->tag)
		return a->tag < b->tag ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * One entry per (default, tag, id), the last one written winning as with
 * `setfacl -m`, sorted: the ACL is then built without searching it for
 * each entry (which made thousands of entries quadratic).
 */
static void aces_dedup(struct rule *r)
{
	size_t i, n = 0;

	if (r->nr_aces < 2)
		return;
	qsort(r->aces, r->nr_aces, sizeof(*r->aces), ace_cmp);
	for (i = 0; i < r->nr_aces; i++) {
		const struct ace *a = &r->aces[i], *next = a + 1;

		if (i + 1 < r->nr_aces && next->dflt == a->dflt &&
		    next->tag == a->tag && next->id == a->id)
			continue;
		r->aces[n++] = *a;
	}
	r->nr_aces = n;
}

/* Look up the names of a rule (once). */
static int resolve_rule(struct rule *r, const char *path, struct sw_err *e)
{
	const struct appspec_permission *p = r->p;

	if (r->resolved)
		return 0;
	r->uid = (uid_t)-1;
	r->gid = (gid_t)-1;
	if (p->owner) {
		struct passwd *pw = getpwnam(p->owner);

		if (!pw)
			return err_set(e, ERR_FAILED,
				       "unknown owner '%s' in the permissions "
				       "of '%s'",
				       p->owner, path);
		r->uid = pw->pw_uid;
	}
	if (p->group) {
		struct group *gr = getgrnam(p->group);

		if (!gr)
			return err_set(e, ERR_FAILED,
				       "unknown group '%s' in the permissions "
				       "of '%s'",
				       p->group, path);
		r->gid = gr->gr_gid;
	}
	r->aces = p->acls.nr ? xcalloc(p->acls.nr, sizeof(*r->aces)) : NULL;
	for (size_t i = 0; i < p->acls.nr; i++) {
		if (parse_ace(p->acls.v[i], path, &r->aces[i], e) < 0)
			return -1;
		r->aces[i].seq = i;
		r->nr_aces++;
		if (r->aces[i].dflt)
			r->has_default = true;
	}
	aces_dedup(r);
	r->resolved = true;
	return 0;
}

static int add_perm(struct ictx *c, size_t idx, size_t k, struct sw_err *e)
{
	struct inst *in = &c->v[idx];
	struct rule *r = &c->rules[k];

	if (resolve_rule(r, in->path, e) < 0)
		return -1;
	if (in->type == INST_COPY && r->has_default)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the -d parameter "
			       "has been specified to apply an acl setting to "
			       "a file (%s). This parameter is supported for "
			       "directories only",
			       in->path);
	if (in->has_perm)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the permissions "
			       "setting for (%s) is specified more than once "
			       "in the application specification file",
			       in->path);
	in->has_perm = true;
	ALLOC_GROW(c->pops, c->nr_pops + 1, c->alloc_pops);
	c->pops[c->nr_pops].inst = idx;
	c->pops[c->nr_pops].rule = k;
	c->nr_pops++;
	return 0;
}

static int plan_rule(struct ictx *c, size_t k, struct sw_err *e)
{
	struct rule *r = &c->rules[k];
	const struct appspec_permission *p = r->p;
	long i = find_inst(c, r->object);
	bool is_dir;

	if (i >= 0 && c->v[i].type == INST_COPY) {
		if (!(p->types & APPSPEC_TYPE_FILE))
			return 0;
		if (strcmp(p->pattern, "**"))
			return err_set(e, ERR_FAILED,
				       "The deployment failed because the "
				       "application specification file "
				       "includes an object (%s) with an "
				       "invalid pattern (%s), such as a "
				       "pattern for a file applied to a "
				       "directory",
				       r->object, p->pattern);
		if (p->except.nr) {
			struct buf b = BUF_INIT;

			for (size_t j = 0; j < p->except.nr; j++)
				buf_addf(&b, "%s%s", j ? ", " : "",
					 p->except.v[j]);
			err_set(e, ERR_FAILED,
				"The deployment failed because the except "
				"parameter for a pattern in the permissions "
				"section ([%s]) for the object named %s "
				"contains an invalid format",
				buf_cstr(&b), r->object);
			buf_release(&b);
			return -1;
		}
		return add_perm(c, (size_t)i, k, e);
	}
	if (i >= 0) {
		is_dir = true;
	} else {
		enum hstate st;

		if (host_lookup(c, r->object, &st, NULL, e) < 0)
			return -1;
		is_dir = st == H_DIR;
	}
	if (!is_dir)
		return 0;
	if (p->types & APPSPEC_TYPE_FILE)
		for (size_t j = 0; j < c->nr; j++)
			if (c->v[j].type == INST_COPY &&
			    rule_matches(r, c->v[j].path) &&
			    add_perm(c, j, k, e) < 0)
				return -1;
	if (p->types & APPSPEC_TYPE_DIRECTORY)
		for (size_t j = 0; j < c->nr; j++)
			if (c->v[j].type == INST_MKDIR &&
			    rule_matches(r, c->v[j].path) &&
			    add_perm(c, j, k, e) < 0)
				return -1;
	return 0;
}

static int plan(struct ictx *c, struct sw_err *e)
{
	const struct appspec *a = c->o->spec;

	for (size_t i = 0; i < a->nr_files; i++)
		if (plan_entry(c, &a->files[i], e) < 0)
			return -1;
	c->nr_rules = a->nr_permissions;
	c->rules = c->nr_rules ? xcalloc(c->nr_rules, sizeof(*c->rules)) : NULL;
	for (size_t k = 0; k < c->nr_rules; k++) {
		c->rules[k].p = &a->permissions[k];
		c->rules[k].object = fs_abspath(a->permissions[k].object);
	}
	for (size_t k = 0; k < c->nr_rules; k++)
		if (plan_rule(c, k, e) < 0)
			return -1;
	return 0;
}

/* ---- install.json ---- */

static void jadd_str(json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key,
			       val ? json_object_new_string(val) : NULL);
}

static char *plan_json(struct ictx *c)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();
	char *s;

	for (size_t i = 0; i < c->nr; i++) {
		const struct inst *in = &c->v[i];
		json_object *o = json_object_new_object();

		if (in->type == INST_MKDIR) {
			jadd_str(o, "type", "mkdir");
			jadd_str(o, "directory", in->path);
		} else {
			char *src = fs_join(c->o->archive_dir, in->src);

			jadd_str(o, "type", "copy");
			jadd_str(o, "source", src);
			jadd_str(o, "destination", in->path);
			free(src);
		}
		json_object_array_add(arr, o);
	}
	for (size_t i = 0; i < c->nr_pops; i++) {
		const struct inst *in = &c->v[c->pops[i].inst];
		const struct appspec_permission *p =
			c->rules[c->pops[i].rule].p;
		json_object *o;

		if (p->mode >= 0) {
			char mode[16];

			snprintf(mode, sizeof(mode), "%04o", (unsigned)p->mode);
			o = json_object_new_object();
			jadd_str(o, "type", "chmod");
			jadd_str(o, "mode", mode);
			jadd_str(o, "file", in->path);
			json_object_array_add(arr, o);
		}
		if (p->acls.nr) {
			json_object *acl = json_object_new_array();

			for (size_t j = 0; j < p->acls.nr; j++)
				json_object_array_add(
					acl,
					json_object_new_string(p->acls.v[j]));
			o = json_object_new_object();
			jadd_str(o, "type", "setfacl");
			json_object_object_add(o, "acl", acl);
			jadd_str(o, "file", in->path);
			json_object_array_add(arr, o);
		}
		if (p->has_context) {
			json_object *ctx = json_object_new_object();

			jadd_str(ctx, "user", p->context_user);
			jadd_str(ctx, "role", NULL);
			jadd_str(ctx, "type", p->context_type);
			jadd_str(ctx, "range", p->context_range);
			o = json_object_new_object();
			jadd_str(o, "type", "semanage");
			json_object_object_add(o, "context", ctx);
			jadd_str(o, "file", in->path);
			json_object_array_add(arr, o);
		}
		if (p->owner || p->group) {
			o = json_object_new_object();
			jadd_str(o, "type", "chown");
			jadd_str(o, "owner", p->owner);
			jadd_str(o, "group", p->group);
			jadd_str(o, "file", in->path);
			json_object_array_add(arr, o);
		}
	}
	json_object_object_add(root, "instructions", arr);
	s = xstrdup(json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return s;
}

/* ---- commands ---- */

/* Run argv with no output; its exit status, or -1 with *e. */
static int run_quiet(const char *const *argv, struct sw_err *e)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc, status;

	if (posix_spawn_file_actions_init(&fa))
		return err_set(e, ERR_SYSTEM, "cannot run %s", argv[0]);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			  environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		errno = rc;
		return err_sys(e, "cannot run %s", argv[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(e, "cannot wait for %s", argv[0]);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- removing the previous install ---- */

static int remove_one(struct ictx *c, const char *entry, struct sw_err *e)
{
	char *path = fs_abspath(entry);
	char *dir = NULL;
	const char *base;
	struct stat sb;
	int pfd, ret = -1;

	if (!strcmp(path, "/")) {
		ret = 0;
		goto out;
	}
	dir = host_dir(path);
	base = host_base(path);
	pfd = dcache_get(&c->dst, c->rootfd, dir);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			ret = 0;
		else
			err_sys(e, "cannot remove '%s'", path);
		goto out;
	}
	if (unlinkat(pfd, base, 0) == 0) {
		c->r->removed++;
		ret = 0;
		goto out;
	}
	if (errno == ENOENT) {
		ret = 0;
		goto out;
	}
	if ((errno == EISDIR || errno == EPERM) &&
	    fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		if (unlinkat(pfd, base, AT_REMOVEDIR) == 0) {
			c->r->removed++;
			ret = 0;
		} else if (errno == ENOTEMPTY || errno == EEXIST) {
			c->r->kept++;
			ret = 0;
		} else if (errno == ENOENT) {
			ret = 0;
		} else {
			err_sys(e, "cannot remove directory '%s'", path);
		}
		goto out;
	}
	err_sys(e, "cannot remove '%s'", path);
out:
	free(dir);
	free(path);
	return ret;
}

static int remove_previous(struct ictx *c, struct sw_err *e)
{
	struct strvec list = { 0 };
	char *data = NULL;
	size_t len = 0;
	int ret = -1;

	if (!fs_exists(c->cleanup_path))
		return 0;
	if (fs_read_file(c->cleanup_path, CLEANUP_MAX, &data, &len, e) < 0)
		return -1;
	if (install_cleanup_parse(data, len, &list, e) < 0) {
		err_prefix(e, "%s", c->cleanup_path);
		goto out;
	}
	for (size_t i = list.nr; i-- > 0;) {
		const char *s = list.v[i];

		if (!strncmp(s, "semanage:", 9)) {
			const char *argv[] = { "semanage", "fcontext", "-d",
					       s + 9, NULL };

			/* the agent ignores how this ends */
			if (c->selinux && run_quiet(argv, e) < 0)
				goto out;
			continue;
		}
		if (remove_one(c, s, e) < 0)
			goto out;
	}
	dcache_drop(&c->dst);
	if (unlink(c->cleanup_path) < 0 && errno != ENOENT) {
		err_sys(e, "cannot remove '%s'", c->cleanup_path);
		goto out;
	}
	ret = 0;
out:
	free(data);
	strvec_release(&list);
	return ret;
}

/* ---- executing the plan ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cleanup_add(struct ictx *c, bool semanage, const char *path,
		       struct sw_err *e)
{
	buf_clear(&c->line);
	if (semanage)
		buf_add(&c->line, "semanage\0", 9);
	buf_addstr(&c->line, path);
	buf_addch(&c->line, '\n');
	if (write_all(c->cleanup_fd, c->line.ptr, c->line.len) < 0)
		return err_sys(e, "cannot write '%s'", c->cleanup_path);
	return 0;
}

static int exec_mkdir(struct ictx *c, const struct inst *in, struct sw_err *e)
{
	char *dir = host_dir(in->path);
	int pfd = dcache_get(&c->dst, c->rootfd, dir);

	free(dir);
	if (pfd < 0)
		return err_sys(e, "cannot create directory '%s'", in->path);
	if (mkdirat(pfd, host_base(in->path), 0777) < 0) {
		if (errno == EEXIST)
			return err_set(e, ERR_FAILED, msg_exists, in->path);
		return err_sys(e, "cannot create directory '%s'", in->path);
	}
	c->r->mkdirs++;
	return cleanup_add(c, false, in->path, e);
}

static int copy_data(int in, int out, off_t size)
{
	bool cfr = true;
	char *buf = NULL;
	int ret = -1;

	while (size > 0) {
		size_t want = size > (1 << 30) ? (1u << 30) : (size_t)size;
		ssize_t n;

		if (cfr) {
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EBADF)) {
				cfr = false;
				continue;
			}
		} else {
			if (!buf)
				buf = xmalloc(1 << 16);
			n = read(in, buf,
				 want > (1 << 16) ? (size_t)(1 << 16) : want);
			if (n > 0 && write_all(out, buf, (size_t)n) < 0)
				goto out;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break; /* the file shrank */
		size -= n;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* The name a file is written under before it replaces another. */
static void tmp_name(struct ictx *c, char *out, size_t n)
{
	snprintf(out, n, ".slipway-install-%ld-%u.tmp", (long)getpid(),
		 c->tmp_seq++);
}

static int exec_copy(struct ictx *c, const struct inst *in, struct sw_err *e)
{
	char *sdir = host_dir(in->src);
	char *ddir = host_dir(in->path);
	const char *sbase = host_base(in->src);
	const char *dbase = host_base(in->path);
	char tmp[64];
	const char *name = dbase;
	struct stat sb;
	int spfd, dpfd = -1, sfd = -1, dfd = -1, ret = -1;
	bool made = false;
	char *target = NULL;

	/* the line goes first: a crash leaves nothing unrecorded */
	if (cleanup_add(c, false, in->path, e) < 0)
		goto out;
	if (!strchr(in->src, '/')) {
		free(sdir);
		sdir = xstrdup(".");
	}
	spfd = dcache_get(&c->src, c->archfd, sdir);
	if (spfd < 0 ||
	    (in->link && fstatat(spfd, sbase, &sb, AT_SYMLINK_NOFOLLOW) < 0)) {
		err_sys(e, "cannot open '%s' in the bundle", in->src);
		goto out;
	}
	dpfd = dcache_get(&c->dst, c->rootfd, ddir);
	if (dpfd < 0) {
		err_sys(e, "cannot install '%s'", in->path);
		goto out;
	}
	if (in->overwrite) {
		tmp_name(c, tmp, sizeof(tmp));
		name = tmp;
	}
	if (in->link) {
		size_t sz = (size_t)sb.st_size + 1;
		ssize_t n;

		for (;;) {
			target = xrealloc(target, sz);
			n = readlinkat(spfd, sbase, target, sz);
			if (n < 0) {
				err_sys(e,
					"cannot read link '%s' in the bundle",
					in->src);
				goto out;
			}
			if ((size_t)n < sz)
				break;
			sz *= 2;
		}
		target[n] = '\0';
		if (symlinkat(target, dpfd, name) < 0) {
			if (errno == EEXIST)
				err_set(e, ERR_FAILED, msg_exists, in->path);
			else
				err_sys(e, "cannot install '%s'", in->path);
			goto out;
		}
		made = true;
		if (c->as_root && fchownat(dpfd, name, sb.st_uid, sb.st_gid,
					   AT_SYMLINK_NOFOLLOW) < 0) {
			err_sys(e, "cannot set the owner of '%s'", in->path);
			goto out;
		}
		{
			struct timespec ts[2] = { sb.st_atim, sb.st_mtim };

			if (utimensat(dpfd, name, ts, AT_SYMLINK_NOFOLLOW) <
			    0) {
				err_sys(e, "cannot set the time of '%s'",
					in->path);
				goto out;
			}
		}
	} else {
		struct timespec ts[2];

		sfd = openat(spfd, sbase,
			     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (sfd < 0 || fstat(sfd, &sb) < 0) {
			err_sys(e, "cannot open '%s' in the bundle", in->src);
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			err_set(e, ERR_FAILED,
				"cannot install '%s': '%s' in the bundle is "
				"not a file or symbolic link",
				in->path, in->src);
			goto out;
		}
		dfd = openat(dpfd, name,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC,
			     0600);
		if (dfd < 0) {
			if (errno == EEXIST)
				err_set(e, ERR_FAILED, msg_exists, in->path);
			else
				err_sys(e, "cannot install '%s'", in->path);
			goto out;
		}
		made = true;
		if (copy_data(sfd, dfd, sb.st_size) < 0) {
			err_sys(e, "cannot copy '%s' to '%s'", in->src,
				in->path);
			goto out;
		}
		ts[0] = sb.st_atim;
		ts[1] = sb.st_mtim;
		if (c->as_root && fchown(dfd, sb.st_uid, sb.st_gid) < 0) {
			err_sys(e, "cannot set the owner of '%s'", in->path);
			goto out;
		}
		/* after fchown, which drops setuid and setgid */
		if (fchmod(dfd, sb.st_mode & 07777) < 0 ||
		    futimens(dfd, ts) < 0) {
			err_sys(e, "cannot set the mode of '%s'", in->path);
			goto out;
		}
		if (close(dfd) < 0) {
			dfd = -1;
			err_sys(e, "cannot write '%s'", in->path);
			goto out;
		}
		dfd = -1;
	}
	if (in->overwrite && renameat(dpfd, tmp, dpfd, dbase) < 0) {
		if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST)
			err_set(e, ERR_FAILED,
				"cannot install '%s' at '%s': a directory is "
				"at this location",
				in->src, in->path);
		else
			err_sys(e, "cannot install '%s'", in->path);
		goto out;
	}
	made = false;
	c->r->copied++;
	if (in->overwrite)
		c->r->overwritten++;
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	if (made && in->overwrite)
		unlinkat(dpfd, tmp, 0);
	free(target);
	free(sdir);
	free(ddir);
	return ret;
}

/* An object of a permission rule, opened without following it. */
struct obj {
	int pfd; /* borrowed from the cache */
	const char *base;
	int fd; /* O_RDONLY, or O_PATH when path_only; -1 for a link */
	bool path_only;
	bool link;
	char proc[64]; /* "/proc/self/fd/<fd>" */
};

static int obj_open(struct ictx *c, const char *path, struct obj *ob,
		    struct sw_err *e)
{
	char *dir = host_dir(path);

	memset(ob, 0, sizeof(*ob));
	ob->fd = -1;
	ob->base = host_base(path);
	ob->pfd = dcache_get(&c->dst, c->rootfd, dir);
	free(dir);
	if (ob->pfd < 0)
		return err_sys(e, "cannot open '%s'", path);
	ob->fd = openat(ob->pfd, ob->base,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
				O_CLOEXEC);
	if (ob->fd < 0 && errno == ELOOP) {
		ob->link = true;
		return 0;
	}
	if (ob->fd < 0 && errno == EACCES) {
		ob->fd = openat(ob->pfd, ob->base,
				O_PATH | O_NOFOLLOW | O_CLOEXEC);
		ob->path_only = true;
	}
	if (ob->fd < 0)
		return err_sys(e, "cannot open '%s'", path);
	snprintf(ob->proc, sizeof(ob->proc), "/proc/self/fd/%d", ob->fd);
	return 0;
}

/*
 * Set the entry tag (and id) of acl to perm. A named entry (ACL_USER,
 * ACL_GROUP) is known to be new (the rule's entries are unique), so only
 * the few base entries are searched for.
 */
static int acl_put(acl_t *acl, acl_tag_t tag, unsigned id, unsigned perm)
{
	acl_entry_t ent;
	acl_permset_t ps;
	int r = tag == ACL_USER || tag == ACL_GROUP
			? 0
			: acl_get_entry(*acl, ACL_FIRST_ENTRY, &ent);

	while (r == 1) {
		acl_tag_t t;

		if (acl_get_tag_type(ent, &t) < 0)
			return -1;
		if (t == tag)
			goto found;
		r = acl_get_entry(*acl, ACL_NEXT_ENTRY, &ent);
	}
	if (r < 0 || acl_create_entry(acl, &ent) < 0 ||
	    acl_set_tag_type(ent, tag) < 0)
		return -1;
	if (tag == ACL_USER) {
		uid_t u = id;

		if (acl_set_qualifier(ent, &u) < 0)
			return -1;
	} else if (tag == ACL_GROUP) {
		gid_t g = id;

		if (acl_set_qualifier(ent, &g) < 0)
			return -1;
	}
found:
	if (acl_get_permset(ent, &ps) < 0 || acl_clear_perms(ps) < 0)
		return -1;
	if ((perm & 4) && acl_add_perm(ps, ACL_READ) < 0)
		return -1;
	if ((perm & 2) && acl_add_perm(ps, ACL_WRITE) < 0)
		return -1;
	if ((perm & 1) && acl_add_perm(ps, ACL_EXECUTE) < 0)
		return -1;
	return acl_set_permset(ent, ps);
}

/* The access (dflt false) or default ACL of a rule over a mode. */
static acl_t acl_build(const struct rule *r, mode_t mode, bool dflt)
{
	acl_t acl = acl_from_mode(mode);
	bool named = false, mask = false;

	if (!acl)
		return NULL;
	/*
	 * Backwards through the sorted entries: libacl keeps an ACL sorted
	 * by searching it from the start for where each new entry goes, so
	 * each entry put before the ones already in is found at once.
	 */
	for (size_t i = r->nr_aces; i-- > 0;) {
		const struct ace *a = &r->aces[i];

		if (a->dflt != dflt)
			continue;
		if (a->tag == ACL_USER || a->tag == ACL_GROUP)
			named = true;
		if (a->tag == ACL_MASK)
			mask = true;
		if (acl_put(&acl, a->tag, a->id, a->perm) < 0)
			goto fail;
	}
	if (named && !mask && acl_calc_mask(&acl) < 0)
		goto fail;
	return acl;
fail:
	acl_free(acl);
	return NULL;
}

static int apply_acl(struct ictx *c, const struct rule *r, struct obj *ob,
		     const char *path, struct sw_err *e)
{
	struct stat sb;
	acl_t acl = NULL;
	int ret = -1;

	(void)c;
	if (fstat(ob->fd, &sb) < 0)
		return err_sys(e, "cannot inspect '%s'", path);
	acl = acl_build(r, sb.st_mode, false);
	if (!acl || acl_valid(acl) < 0)
		goto refused;
	if ((ob->path_only ? acl_set_file(ob->proc, ACL_TYPE_ACCESS, acl)
			   : acl_set_fd(ob->fd, acl)) < 0)
		goto refused;
	acl_free(acl);
	acl = NULL;
	if (r->has_default) {
		if (!S_ISDIR(sb.st_mode))
			return err_set(e, ERR_FAILED,
				       "The deployment failed because the -d "
				       "parameter has been specified to apply "
				       "an acl setting to a file (%s). This "
				       "parameter is supported for "
				       "directories only",
				       path);
		acl = acl_build(r, sb.st_mode, true);
		if (!acl || acl_valid(acl) < 0 ||
		    acl_set_file(ob->proc, ACL_TYPE_DEFAULT, acl) < 0)
			goto refused;
	}
	ret = 0;
	goto out;
refused:
	err_set(e, ERR_FAILED,
		"The deployment failed because of a problem with the acls "
		"permission settings in the application specification file "
		"for this object: %s (%s)",
		path, strerror(errno));
out:
	if (acl)
		acl_free(acl);
	return ret;
}

static int apply_context(struct ictx *c, const struct appspec_permission *p,
			 struct obj *ob, const char *path, struct sw_err *e)
{
	char real[PATH_MAX];
	const char *argv[12];
	ssize_t n;
	size_t k = 0;
	int rc;

	if (!c->selinux) {
		note(c,
		     "selinux is not enabled on this host: context for %s "
		     "skipped",
		     path);
		return 0;
	}
	n = readlink(ob->proc, real, sizeof(real) - 1);
	if (n < 0)
		return err_sys(e, "cannot resolve '%s'", path);
	real[n] = '\0';
	argv[k++] = "semanage";
	argv[k++] = "fcontext";
	argv[k++] = "-a";
	if (p->context_user) {
		argv[k++] = "-s";
		argv[k++] = p->context_user;
	}
	argv[k++] = "-t";
	argv[k++] = p->context_type;
	if (p->context_range) {
		argv[k++] = "-r";
		argv[k++] = p->context_range;
	}
	argv[k++] = real;
	argv[k] = NULL;
	rc = run_quiet(argv, e);
	if (rc < 0)
		return -1;
	if (rc)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the application "
			       "specification file contains an error in the "
			       "settings for the context parameter: semanage "
			       "fcontext -a for %s exited with status %d",
			       real, rc);
	{
		const char *rargv[] = { "restorecon", "-v", real, NULL };

		rc = run_quiet(rargv, e);
	}
	if (rc < 0)
		return -1;
	if (rc)
		return err_set(e, ERR_FAILED,
			       "The deployment failed because the application "
			       "specification file contains an error in the "
			       "settings for the context parameter: "
			       "restorecon -v %s exited with status %d",
			       real, rc);
	return cleanup_add(c, true, real, e);
}

static int exec_perm(struct ictx *c, const struct pop *op, struct sw_err *e)
{
	const struct inst *in = &c->v[op->inst];
	const struct rule *r = &c->rules[op->rule];
	const struct appspec_permission *p = r->p;
	struct obj ob;
	int ret = -1;

	if (obj_open(c, in->path, &ob, e) < 0)
		return -1;
	/* a link has no mode, ACL or context of its own: following it
	   could reach anything */
	if (!ob.link && p->mode >= 0) {
		if ((ob.path_only ? chmod(ob.proc, (mode_t)p->mode)
				  : fchmod(ob.fd, (mode_t)p->mode)) < 0) {
			err_sys(e, "cannot change the mode of '%s'", in->path);
			goto out;
		}
		c->r->permissions++;
	}
	if (!ob.link && r->nr_aces) {
		if (apply_acl(c, r, &ob, in->path, e) < 0)
			goto out;
		c->r->permissions++;
	}
	if (!ob.link && p->has_context) {
		if (apply_context(c, p, &ob, in->path, e) < 0)
			goto out;
		if (c->selinux)
			c->r->permissions++;
	}
	if (p->owner || p->group) {
		if (fchownat(ob.pfd, ob.base, r->uid, r->gid,
			     AT_SYMLINK_NOFOLLOW) < 0) {
			err_sys(e, "cannot change the owner of '%s'", in->path);
			goto out;
		}
		c->r->permissions++;
		/* chown dropped setuid and setgid: `mode: 4755` with an
		   owner means both (the agent loses the bits) */
		if (!ob.link && p->mode >= 0 && (p->mode & 06000) &&
		    (ob.path_only ? chmod(ob.proc, (mode_t)p->mode)
				  : fchmod(ob.fd, (mode_t)p->mode)) < 0) {
			err_sys(e, "cannot change the mode of '%s'", in->path);
			goto out;
		}
	}
	ret = 0;
out:
	if (ob.fd >= 0)
		close(ob.fd);
	return ret;
}

static int execute(struct ictx *c, struct sw_err *e)
{
	for (size_t i = 0; i < c->nr; i++) {
		const struct inst *in = &c->v[i];

		if ((in->type == INST_MKDIR ? exec_mkdir(c, in, e)
					    : exec_copy(c, in, e)) < 0)
			return -1;
	}
	dcache_drop(&c->src);
	for (size_t i = 0; i < c->nr_pops; i++)
		if (exec_perm(c, &c->pops[i], e) < 0)
			return -1;
	return 0;
}

/* ---- the event ---- */

int install_run(const struct install_opts *o, struct install_result *r,
		struct sw_err *e)
{
	struct install_result dummy;
	struct ictx c;
	char *json_path = NULL, *json = NULL;
	const char *g = o->group_id;
	int ret = -1;

	if (!o->spec || !o->archive_dir || !o->instructions_dir || !g)
		BUG("install_run: spec, archive_dir, instructions_dir and "
		    "group_id are required");
	if (!r)
		r = &dummy;
	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.r = r;
	c.root = o->host_root ? o->host_root : "/";
	c.rootfd = c.archfd = c.cleanup_fd = -1;
	c.dst.fd = c.src.fd = -1;
	c.as_root = geteuid() == 0;
	c.selinux = access(SELINUX_ENFORCE, F_OK) == 0;
	c.feb = o->spec->file_exists_behavior;
	if (c.feb == APPSPEC_FEB_UNSET)
		c.feb = o->feb;
	if (c.feb == APPSPEC_FEB_UNSET)
		c.feb = APPSPEC_FEB_DISALLOW;

	if (!*g || strchr(g, '/') || !strcmp(g, ".") || !strcmp(g, "..")) {
		err_set(e, ERR_FAILED, "invalid deployment group id '%s'", g);
		goto out;
	}
	c.rootfd = open(c.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c.rootfd < 0) {
		err_sys(e, "cannot open the host root '%s'", c.root);
		goto out;
	}
	c.archfd = open(o->archive_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c.archfd < 0) {
		err_sys(e, "cannot open the archive '%s'", o->archive_dir);
		goto out;
	}
	if (fs_mkdir_p(o->instructions_dir, 0755, e) < 0)
		goto out;
	c.cleanup_path = xasprintf("%s/%s-cleanup", o->instructions_dir, g);
	json_path = xasprintf("%s/%s-install.json", o->instructions_dir, g);

	if (remove_previous(&c, e) < 0 || plan(&c, e) < 0)
		goto out;
	json = plan_json(&c);
	if (fs_replace(json_path, json, strlen(json), 0644, e) < 0)
		goto out;
	c.cleanup_fd =
		open(c.cleanup_path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (c.cleanup_fd < 0) {
		err_sys(e, "cannot create '%s'", c.cleanup_path);
		goto out;
	}
	if (execute(&c, e) < 0)
		goto out;
	ret = 0;
out:
	if (c.cleanup_fd >= 0 && close(c.cleanup_fd) < 0 && !ret)
		ret = err_sys(e, "cannot write '%s'", c.cleanup_path);
	if (c.rootfd >= 0)
		close(c.rootfd);
	if (c.archfd >= 0)
		close(c.archfd);
	dcache_drop(&c.dst);
	dcache_drop(&c.src);
	for (size_t i = 0; i < c.nr; i++) {
		free(c.v[i].path);
		free(c.v[i].src);
	}
	free(c.v);
	free(c.slots);
	for (size_t k = 0; k < c.nr_rules; k++) {
		free(c.rules[k].object);
		free(c.rules[k].aces);
	}
	free(c.rules);
	free(c.pops);
	buf_release(&c.line);
	free(c.cleanup_path);
	free(json_path);
	free(json);
	return ret;
}

int install_cleanup_parse(const char *data, size_t len, struct strvec *out,
			  struct sw_err *e)
{
	struct strvec v = { 0 };
	size_t i = 0, lineno = 0;

	while (i < len) {
		const char *s = data + i;
		const char *nl = memchr(s, '\n', len - i);
		size_t n;

		if (!nl)
			break; /* a torn write */
		n = (size_t)(nl - s);
		i += n + 1;
		lineno++;
		if (!n)
			continue;
		if (n >= 9 && !memcmp(s, "semanage\0", 9)) {
			const char *p = s + 9;
			size_t pn = n - 9;

			if (!pn || p[0] != '/' || memchr(p, '\0', pn))
				goto bad;
			strvec_pushf(&v, "semanage:%.*s", (int)pn, p);
			continue;
		}
		if (s[0] != '/' || memchr(s, '\0', n))
			goto bad;
		strvec_push_nodup(&v, xstrndup(s, n));
	}
	for (size_t k = 0; k < v.nr; k++)
		strvec_push(out, v.v[k]);
	strvec_release(&v);
	return 0;
bad:
	strvec_release(&v);
	return err_set(e, ERR_FAILED,
		       "cleanup file line %zu is not an absolute path", lineno);
}
