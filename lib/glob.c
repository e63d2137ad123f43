#include "glob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

bool glob_has_magic(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}

static bool is_dstar(const char *c)
{
	return c[0] == '*' && c[1] == '*' && c[2] == '\0';
}

/*
 * Split a pattern or path into components, dropping empty and "."
 * components and resolving "..". Returns -1 (comps released) when the
 * string is absolute or a ".." would leave the base.
 */
static int split_components(const char *s, struct strvec *comps)
{
	const char *p = s;

	strvec_init(comps);
	if (*s == '/')
		return -1;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (!comps->nr || is_dstar(comps->v[comps->nr - 1])) {
				strvec_release(comps);
				return -1;
			}
			strvec_pop(comps);
		} else if (len && !(len == 1 && *p == '.')) {
			strvec_push_nodup(comps, xstrndup(p, len));
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int split_pattern(const char *pattern, struct strvec *comps,
			 struct sw_err *e)
{
	if (*pattern == '/')
		return err_set(e, ERR_FAILED,
			       "pattern '%s': absolute paths are not allowed",
			       pattern);
	if (split_components(pattern, comps) < 0)
		return err_set(e, ERR_FAILED,
			       "pattern '%s' leaves the base directory",
			       pattern);
	return 0;
}

static bool comp_match(const char *pat, const char *name)
{
	return fnmatch(pat, name, 0) == 0;
}

/*
 * Wildcard matching over components where `**` is the star: the classic
 * single-backtrack algorithm, O(np * ns) component comparisons at worst.
 */
static bool match_comps(char **p, size_t np, char **s, size_t ns)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < ns) {
		if (pi < np && is_dstar(p[pi])) {
			star_p = pi++;
			star_s = si;
		} else if (pi < np && comp_match(p[pi], s[si])) {
			pi++;
			si++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < np && is_dstar(p[pi]))
		pi++;
	return pi == np;
}

static bool match_common(const char *pattern, const char *path, bool tree)
{
	struct strvec p, s;
	bool ret = false;

	if (split_components(pattern, &p) < 0)
		return false;
	if (split_components(path, &s) < 0) {
		strvec_release(&p);
		return false;
	}
	ret = match_comps(p.v, p.nr, s.v, s.nr);
	if (!ret && tree && (!p.nr || !glob_has_magic(p.v[p.nr - 1])))
		for (size_t k = 0; !ret && k < s.nr; k++)
			ret = match_comps(p.v, p.nr, s.v, k);
	strvec_release(&p);
	strvec_release(&s);
	return ret;
}

bool glob_match(const char *pattern, const char *path)
{
	return match_common(pattern, path, false);
}

bool glob_match_tree(const char *pattern, const char *path)
{
	return match_common(pattern, path, true);
}

/*
 * The walker runs the pattern as an NFA over components: a state is an
 * index into the pattern (np = accepted), closed under "`**` matches
 * nothing". A directory is entered only when some state survives its
 * name, so the walk is pruned to what can still match.
 */
struct walk {
	char **p;
	size_t np;
	bool dirs; /* list directories instead of files */
	bool bare_dir; /* last component is wildcard-free */
	struct strvec found;
	struct sw_err *e;
};

enum ent_type { ENT_OTHER, ENT_REG, ENT_LNK, ENT_DIR };

static void closure(const struct walk *w, bool *st)
{
	for (size_t i = 0; i < w->np; i++)
		if (st[i] && is_dstar(w->p[i]))
			st[i + 1] = true;
}

/* States after consuming `name`; returns whether any survive. */
static bool step(const struct walk *w, const bool *st, const char *name,
		 bool *next)
{
	bool any = false;

	memset(next, 0, (w->np + 1) * sizeof(*next));
	for (size_t i = 0; i < w->np; i++) {
		if (!st[i])
			continue;
		if (is_dstar(w->p[i]))
			next[i] = true;
		else if (comp_match(w->p[i], name))
			next[i + 1] = true;
	}
	closure(w, next);
	for (size_t i = 0; i <= w->np; i++)
		any |= next[i];
	return any;
}

static enum ent_type mode_type(mode_t m)
{
	if (S_ISREG(m))
		return ENT_REG;
	if (S_ISLNK(m))
		return ENT_LNK;
	if (S_ISDIR(m))
		return ENT_DIR;
	return ENT_OTHER;
}

static int walk_dir(struct walk *w, struct buf *abs, struct buf *rel,
		    const bool *st, bool all);

/* Handle one directory entry `name` of the directory abs/rel. */
static int walk_entry(struct walk *w, struct buf *abs, struct buf *rel,
		      const bool *st, bool all, const char *name,
		      enum ent_type type)
{
	size_t alen = abs->len, rlen = rel->len;
	bool *next = NULL;
	bool accept = all, more = all;
	int ret = 0;

	if (type == ENT_OTHER)
		return 0;
	if (!all) {
		next = xcalloc(w->np + 1, sizeof(*next));
		more = step(w, st, name, next);
		accept = next[w->np];
	}
	if (!more)
		goto out;
	buf_addch(abs, '/');
	buf_addstr(abs, name);
	if (rel->len)
		buf_addch(rel, '/');
	buf_addstr(rel, name);

	if (type != ENT_DIR) {
		if (accept && !w->dirs)
			strvec_push(&w->found, buf_cstr(rel));
	} else if (w->dirs) {
		if (accept)
			strvec_push(&w->found, buf_cstr(rel));
		for (size_t i = 0; i < w->np; i++)
			if (next[i]) {
				ret = walk_dir(w, abs, rel, next, false);
				break;
			}
	} else if (all || (accept && w->bare_dir)) {
		ret = walk_dir(w, abs, rel, NULL, true);
	} else {
		for (size_t i = 0; i < w->np; i++)
			if (next[i]) {
				ret = walk_dir(w, abs, rel, next, false);
				break;
			}
	}
	buf_setlen(abs, alen);
	buf_setlen(rel, rlen);
out:
	free(next);
	return ret;
}

struct dent {
	char *name;
	enum ent_type type;
};

/* Read all names of directory `path` (closed before returning, so deep
 * trees never hold more than one directory open). */
static int read_names(const char *path, struct dent **out, size_t *nr,
		      struct sw_err *e)
{
	struct dent *v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "cannot open directory '%s'", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_sys(e, "cannot open directory '%s'", path);
	}
	for (;;) {
		enum ent_type t = ENT_OTHER;
		struct stat sb;

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		switch (de->d_type) {
		case DT_REG:
			t = ENT_REG;
			break;
		case DT_LNK:
			t = ENT_LNK;
			break;
		case DT_DIR:
			t = ENT_DIR;
			break;
		case DT_UNKNOWN:
			if (fstatat(dirfd(d), de->d_name, &sb,
				    AT_SYMLINK_NOFOLLOW) == 0)
				t = mode_type(sb.st_mode);
			break;
		default:
			break;
		}
		ALLOC_GROW(v, n + 1, alloc);
		v[n].name = xstrdup(de->d_name);
		v[n++].type = t;
	}
	if (errno) {
		err_sys(e, "cannot read directory '%s'", path);
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		return -1;
	}
	closedir(d);
	*out = v;
	*nr = n;
	return 0;
}

static int walk_dir(struct walk *w, struct buf *abs, struct buf *rel,
		    const bool *st, bool all)
{
	struct dent *v = NULL;
	size_t n = 0;
	bool literal = !all;
	int ret = 0;

	for (size_t i = 0; literal && i < w->np; i++)
		if (st[i] && glob_has_magic(w->p[i]))
			literal = false;

	if (literal) {
		/* Only wildcard-free names can match: look them up. */
		for (size_t i = 0; !ret && i < w->np; i++) {
			size_t alen = abs->len;
			struct stat sb;
			bool dup = false;

			if (!st[i])
				continue;
			for (size_t j = 0; j < i; j++)
				if (st[j] && !strcmp(w->p[j], w->p[i]))
					dup = true;
			if (dup)
				continue;
			buf_addch(abs, '/');
			buf_addstr(abs, w->p[i]);
			if (lstat(buf_cstr(abs), &sb) < 0) {
				if (errno != ENOENT && errno != ENOTDIR)
					ret = err_sys(w->e, "cannot stat '%s'",
						      buf_cstr(abs));
				buf_setlen(abs, alen);
				continue;
			}
			buf_setlen(abs, alen);
			ret = walk_entry(w, abs, rel, st, false, w->p[i],
					 mode_type(sb.st_mode));
		}
		return ret;
	}

	if (read_names(buf_cstr(abs), &v, &n, w->e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!ret)
			ret = walk_entry(w, abs, rel, st, all, v[i].name,
					 v[i].type);
		free(v[i].name);
	}
	free(v);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int expand(const char *base, const char *pattern, bool dirs,
		  struct strvec *out, struct sw_err *e)
{
	struct walk w = { .dirs = dirs, .e = e };
	struct strvec comps;
	struct buf abs = BUF_INIT, rel = BUF_INIT;
	struct stat sb;
	bool *st = NULL;
	int ret = -1;

	strvec_init(&w.found);
	if (split_pattern(pattern, &comps, e) < 0)
		return -1;
	w.p = comps.v;
	w.np = comps.nr;
	w.bare_dir = !w.np || !glob_has_magic(w.p[w.np - 1]);
	if (stat(base, &sb) < 0) {
		err_sys(e, "cannot stat '%s'", base);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		err_set(e, ERR_SYSTEM, "'%s' is not a directory", base);
		goto out;
	}
	buf_addstr(&abs, base);
	while (abs.len > 1 && abs.ptr[abs.len - 1] == '/')
		buf_setlen(&abs, abs.len - 1);
	buf_addstr(&rel, "");

	if (!w.np && dirs) {
		strvec_push(&w.found, "");
	} else {
		st = xcalloc(w.np + 1, sizeof(*st));
		st[0] = true;
		closure(&w, st);
		if (walk_dir(&w, &abs, &rel, st, !w.np) < 0)
			goto out;
	}
	qsort(w.found.v, w.found.nr, sizeof(*w.found.v), cmp_str);
	for (size_t i = 0; i < w.found.nr; i++)
		strvec_push_nodup(out, w.found.v[i]);
	w.found.nr = 0;
	ret = 0;
out:
	free(st);
	strvec_release(&w.found);
	strvec_release(&comps);
	buf_release(&abs);
	buf_release(&rel);
	return ret;
}

int glob_expand(const char *base, const char *pattern, struct strvec *out,
		struct sw_err *e)
{
	return expand(base, pattern, false, out, e);
}

int glob_expand_dirs(const char *base, const char *pattern, struct strvec *out,
		     struct sw_err *e)
{
	return expand(base, pattern, true, out, e);
}
