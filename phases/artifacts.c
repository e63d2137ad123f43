#include "artifacts.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "glob.h"
#include "hash.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define ZIP_BUFSZ (64 * 1024)

void artifact_list_release(struct artifact_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->v[i].path);
		free(l->v[i].name);
	}
	free(l->v);
	l->v = NULL;
	l->nr = l->alloc = 0;
}

/* A set of borrowed strings (open addressing, FNV-1a). */
struct nameset {
	const char **slot;
	size_t cap, nr;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static const char **nameset_find(const struct nameset *ns, const char *s)
{
	size_t i = (size_t)fnv1a(s) & (ns->cap - 1);

	while (ns->slot[i] && strcmp(ns->slot[i], s))
		i = (i + 1) & (ns->cap - 1);
	return &ns->slot[i];
}

/* Add s (borrowed; must outlive the set). False if already present. */
static bool nameset_add(struct nameset *ns, const char *s)
{
	const char **p;

	if (2 * (ns->nr + 1) > ns->cap) {
		struct nameset bigger = { NULL, ns->cap ? 2 * ns->cap : 64, 0 };

		bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
		for (size_t i = 0; i < ns->cap; i++)
			if (ns->slot[i])
				*nameset_find(&bigger, ns->slot[i]) =
					ns->slot[i];
		bigger.nr = ns->nr;
		free(ns->slot);
		*ns = bigger;
	}
	p = nameset_find(ns, s);
	if (*p)
		return false;
	*p = s;
	ns->nr++;
	return true;
}

/* Is path `p` the directory `root` or beneath it (both normalised)? */
static bool path_inside(const char *p, const char *root)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return p[0] == '/';
	return !strncmp(p, root, n) && (p[n] == '/' || p[n] == '\0');
}

/* The part of absolute `p` below `root` ("" for root itself), or NULL. */
static const char *path_below(const char *p, const char *root)
{
	size_t n = strlen(root);

	if (!path_inside(p, root))
		return NULL;
	if (n == 1)
		return p + 1;
	return p[n] ? p + n + 1 : p + n;
}

struct collect {
	const struct bs_artifact *a;
	char *src_abs; /* srcdir, lexically normalised */
	char *src_real; /* srcdir, realpath */
	struct artifact_list *out;
	struct nameset names;
	char *parent; /* one-entry cache: directory ... */
	char *parent_real; /* ... and its realpath */
	struct sw_err *e;
};

/* realpath of directory `dir`, remembered for the next call. */
static const char *real_parent(struct collect *c, const char *dir)
{
	char *r;

	if (c->parent && !strcmp(c->parent, dir))
		return c->parent_real;
	r = realpath(dir, NULL);
	if (!r) {
		err_sys(c->e, "cannot resolve '%s'", dir);
		return NULL;
	}
	free(c->parent);
	free(c->parent_real);
	c->parent = xstrdup(dir);
	c->parent_real = r;
	return r;
}

static void push_entry(struct collect *c, char *path, const char *name,
		       bool is_symlink)
{
	struct artifact_list *l = c->out;
	struct artifact_entry *ent;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	ent = &l->v[l->nr++];
	ent->path = path;
	ent->name = xstrdup(name);
	ent->is_symlink = is_symlink;
	if (!nameset_add(&c->names, ent->name))
		BUG("artifact name '%s' added twice", name);
}

/* Add base/rel (rel from glob_expand) unless excluded or a duplicate. */
static int add_match(struct collect *c, const char *base, const char *rel)
{
	const struct bs_artifact *a = c->a;
	const char *name = rel, *slash = strrchr(rel, '/');
	char *abs = NULL, *dir = NULL, *target = NULL;
	const char *preal;
	struct stat sb;
	int ret = -1;

	for (size_t i = 0; i < a->exclude_paths.nr; i++)
		if (glob_match_tree(a->exclude_paths.v[i], rel))
			return 0;
	if (a->discard_paths && slash)
		name = slash + 1;
	if (c->names.cap && *nameset_find(&c->names, name))
		return 0;

	abs = fs_join(base, rel);
	dir = slash ? xasprintf("%s/%.*s", base, (int)(slash - rel), rel)
		    : xstrdup(base);
	if (lstat(abs, &sb) < 0) {
		err_sys(c->e, "cannot stat artifact '%s'", rel);
		goto out;
	}
	preal = real_parent(c, dir);
	if (!preal)
		goto out;
	if (!path_inside(preal, c->src_real)) {
		err_set(c->e, ERR_FAILED,
			"artifact '%s' resolves outside the source directory",
			rel);
		goto out;
	}
	if (S_ISREG(sb.st_mode)) {
		push_entry(c, fs_join(preal, slash ? slash + 1 : rel), name,
			   false);
	} else if (S_ISLNK(sb.st_mode) && a->enable_symlinks) {
		push_entry(c, fs_join(preal, slash ? slash + 1 : rel), name,
			   true);
	} else if (S_ISLNK(sb.st_mode)) {
		target = realpath(abs, NULL);
		if (!target) {
			err_set(c->e, ERR_FAILED,
				"artifact '%s' is a symlink whose target "
				"cannot be resolved: %s",
				rel, strerror(errno));
			goto out;
		}
		if (!path_inside(target, c->src_real)) {
			err_set(c->e, ERR_FAILED,
				"artifact '%s' is a symlink to '%s', outside "
				"the source directory",
				rel, target);
			goto out;
		}
		if (stat(target, &sb) < 0) {
			err_sys(c->e, "cannot stat '%s'", target);
			goto out;
		}
		if (S_ISREG(sb.st_mode)) {
			push_entry(c, target, name, false);
			target = NULL;
		}
	}
	ret = 0;
out:
	free(target);
	free(abs);
	free(dir);
	return ret;
}

/* Expand the base directory into absolute real directories. */
static int expand_bases(struct collect *c, struct strvec *bases)
{
	const char *bd = c->a->base_directory;
	struct strvec rels = STRVEC_INIT;
	char *norm = NULL, *lit = NULL, *real = NULL;
	const char *rel = bd;
	int ret = -1;

	if (!bd || !*bd) {
		strvec_push(bases, c->src_real);
		return 0;
	}
	if (bd[0] == '/') {
		norm = fs_abspath(bd);
		rel = path_below(norm, c->src_abs);
		if (!rel)
			rel = path_below(norm, c->src_real);
		if (!rel) {
			err_set(c->e, ERR_FAILED,
				"base-directory '%s' is outside the source "
				"directory",
				bd);
			goto out;
		}
	}
	if (glob_expand_dirs(c->src_real, rel, &rels, c->e) < 0) {
		err_prefix(c->e, "base-directory");
		goto out;
	}
	for (size_t i = 0; i < rels.nr; i++)
		strvec_push_nodup(bases, fs_join(c->src_real, rels.v[i]));

	/* A wildcard-free base directory may be a symlink to a directory
	 * inside srcdir; glob_expand_dirs() does not follow it. */
	if (!rels.nr && !glob_has_magic(rel)) {
		struct stat sb;

		lit = fs_join(c->src_real, rel);
		if (lstat(lit, &sb) < 0 || !S_ISLNK(sb.st_mode)) {
			ret = 0;
			goto out;
		}
		real = realpath(lit, NULL);
		if (!real || stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			ret = 0;
			goto out;
		}
		if (!path_inside(real, c->src_real)) {
			err_set(c->e, ERR_FAILED,
				"base-directory '%s' resolves outside the "
				"source directory",
				bd);
			goto out;
		}
		strvec_push(bases, real);
	}
	ret = 0;
out:
	strvec_release(&rels);
	free(norm);
	free(lit);
	free(real);
	return ret;
}

/* An absolute `files` pattern made relative to base; NULL if outside. */
static const char *pattern_below(const char *norm, const char *base,
				 const struct collect *c)
{
	const char *rel = path_below(norm, base), *r;

	if (rel)
		return rel;
	/* base is real; the pattern may use the unresolved srcdir */
	r = path_below(base, c->src_real);
	if (r) {
		char *given = fs_join(c->src_abs, r);

		rel = path_below(norm, given);
		free(given);
	}
	return rel;
}

int artifacts_collect(const struct bs_artifact *a, const char *srcdir,
		      struct artifact_list *out, struct sw_err *e)
{
	struct collect c = { .a = a, .out = out, .e = e };
	struct strvec bases = STRVEC_INIT, matches = STRVEC_INIT;
	int ret = -1;

	c.src_abs = fs_abspath(srcdir);
	c.src_real = realpath(srcdir, NULL);
	if (!c.src_real) {
		err_sys(e, "source directory '%s'", srcdir);
		goto out;
	}
	for (size_t i = 0; i < out->nr; i++)
		nameset_add(&c.names, out->v[i].name);
	if (expand_bases(&c, &bases) < 0)
		goto out;
	for (size_t b = 0; b < bases.nr; b++) {
		for (size_t f = 0; f < a->files.nr; f++) {
			const char *pat = a->files.v[f];
			char *norm = NULL;
			int rc;

			if (!*pat)
				continue;
			if (pat[0] == '/') {
				norm = fs_abspath(pat);
				pat = pattern_below(norm, bases.v[b], &c);
				if (!pat) {
					err_set(e, ERR_FAILED,
						"artifact path '%s' is outside "
						"the base directory",
						a->files.v[f]);
					free(norm);
					goto out;
				}
			}
			strvec_clear(&matches);
			rc = glob_expand(bases.v[b], pat, &matches, e);
			free(norm);
			if (rc < 0)
				goto out;
			for (size_t m = 0; m < matches.nr; m++)
				if (add_match(&c, bases.v[b], matches.v[m]) < 0)
					goto out;
		}
	}
	ret = 0;
out:
	strvec_release(&bases);
	strvec_release(&matches);
	free(c.names.slot);
	free(c.parent);
	free(c.parent_real);
	free(c.src_abs);
	free(c.src_real);
	return ret;
}

/* ---- zip writing ---- */

struct zip_sink {
	int fd;
	const char *file; /* for messages */
	struct hash_ctx sha, md5;
	off_t size;
	struct sw_err *e;
};

static la_ssize_t zip_write_cb(struct archive *a, void *data, const void *buf,
			       size_t len)
{
	struct zip_sink *z = data;
	const char *p = buf;
	size_t left = len;

	while (left) {
		ssize_t n = write(z->fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "write '%s': %s", z->file,
					  strerror(errno));
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	if (hash_update(&z->sha, buf, len, z->e) < 0 ||
	    hash_update(&z->md5, buf, len, z->e) < 0) {
		archive_set_error(a, EIO, "%s", z->e->msg);
		return -1;
	}
	z->size += (off_t)len;
	return (la_ssize_t)len;
}

static bool already_compressed(const char *name)
{
	static const char *const exts[] = {
		"zip", "gz",  "tgz",  "bz2", "xz",   "zst", "jar",   "war",
		"png", "jpg", "jpeg", "gif", "webp", "mp4", "woff2", "7z",
	};
	const char *dot = strrchr(name, '.');

	if (!dot || strchr(dot, '/'))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++)
		if (!strcasecmp(dot + 1, exts[i]))
			return true;
	return false;
}

static int archive_fail(struct archive *a, struct sw_err *e, const char *what,
			const char *name)
{
	const char *msg = archive_error_string(a);

	return err_set(e, ERR_SYSTEM, "zip: %s '%s': %s", what, name,
		       msg ? msg : "unknown libarchive error");
}

struct zip_state {
	struct archive *a;
	struct archive_entry *ent;
	struct nameset dirs; /* borrowed from `dirnames` */
	struct strvec dirnames;
	bool store; /* current zip:compression */
	char *iobuf;
};

static int write_header(struct zip_state *z, const char *name, struct sw_err *e)
{
	if (archive_write_header(z->a, z->ent) < ARCHIVE_WARN)
		return archive_fail(z->a, e, "cannot add", name);
	return 0;
}

/* Directory entries for every parent of name not written yet. */
static int write_parents(struct zip_state *z, const char *name, time_t mtime,
			 struct sw_err *e)
{
	for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
		char *dir = xasprintf("%.*s/", (int)(s - name), name);

		if (z->dirs.cap && *nameset_find(&z->dirs, dir)) {
			free(dir);
			continue;
		}
		strvec_push_nodup(&z->dirnames, dir);
		nameset_add(&z->dirs, dir);
		archive_entry_clear(z->ent);
		archive_entry_set_pathname(z->ent, dir);
		archive_entry_set_filetype(z->ent, AE_IFDIR);
		archive_entry_set_perm(z->ent, 0755);
		archive_entry_set_mtime(z->ent, mtime, 0);
		if (write_header(z, dir, e) < 0)
			return -1;
	}
	return 0;
}

static int write_symlink(struct zip_state *z, const struct artifact_entry *ent,
			 struct sw_err *e)
{
	char target[PATH_MAX];
	struct stat sb;
	ssize_t n;

	if (lstat(ent->path, &sb) < 0)
		return err_sys(e, "cannot stat '%s'", ent->path);
	n = readlink(ent->path, target, sizeof(target) - 1);
	if (n < 0)
		return err_sys(e, "cannot read link '%s'", ent->path);
	target[n] = '\0';
	if (write_parents(z, ent->name, sb.st_mtime, e) < 0)
		return -1;
	archive_entry_clear(z->ent);
	archive_entry_set_pathname(z->ent, ent->name);
	archive_entry_set_filetype(z->ent, AE_IFLNK);
	archive_entry_set_perm(z->ent, 0777);
	archive_entry_set_symlink(z->ent, target);
	archive_entry_set_mtime(z->ent, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	return write_header(z, ent->name, e);
}

static int write_file(struct zip_state *z, const struct artifact_entry *ent,
		      struct sw_err *e)
{
	bool store = already_compressed(ent->name);
	struct stat sb;
	off_t left;
	int fd, ret = -1;

	fd = open(ent->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "cannot open '%s'", ent->path);
	if (fstat(fd, &sb) < 0) {
		err_sys(e, "cannot stat '%s'", ent->path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(e, ERR_SYSTEM, "'%s' is not a regular file", ent->path);
		goto out;
	}
	if (write_parents(z, ent->name, sb.st_mtime, e) < 0)
		goto out;
	/*
	 * archive_write_set_options() is refused once the archive is open,
	 * but the zip writer's own setters may switch between entries.
	 */
	if (store != z->store) {
		int rc =
			store ? archive_write_zip_set_compression_store(z->a)
			      : archive_write_zip_set_compression_deflate(z->a);

		if (rc != ARCHIVE_OK) {
			archive_fail(z->a, e, "cannot set compression for",
				     ent->name);
			goto out;
		}
		z->store = store;
	}
	archive_entry_clear(z->ent);
	archive_entry_set_pathname(z->ent, ent->name);
	archive_entry_set_filetype(z->ent, AE_IFREG);
	archive_entry_set_perm(z->ent, sb.st_mode & 0777);
	archive_entry_set_size(z->ent, sb.st_size);
	archive_entry_set_mtime(z->ent, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	if (write_header(z, ent->name, e) < 0)
		goto out;
	for (left = sb.st_size; left > 0;) {
		size_t want = left < ZIP_BUFSZ ? (size_t)left : ZIP_BUFSZ;
		ssize_t n = read(fd, z->iobuf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "cannot read '%s'", ent->path);
			goto out;
		}
		if (n == 0) {
			err_set(e, ERR_SYSTEM,
				"'%s' shrank while being archived", ent->path);
			goto out;
		}
		if (archive_write_data(z->a, z->iobuf, (size_t)n) < 0) {
			archive_fail(z->a, e, "cannot write", ent->name);
			goto out;
		}
		left -= n;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static void fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path) + 1)
			  : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int artifacts_write_zip(const struct artifact_list *l, const char *dest,
			struct artifact_digest *d, struct sw_err *e)
{
	struct zip_sink sink = { .fd = -1, .e = e };
	struct zip_state z = { 0 };
	char *tmp = xasprintf("%s.tmp.%ld", dest, (long)getpid());
	struct artifact_digest dg = { .files = l->nr };
	int ret = -1;

	strvec_init(&z.dirnames);
	sink.file = tmp;
	sink.fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		     0644);
	if (sink.fd < 0) {
		err_sys(e, "cannot create '%s'", tmp);
		goto out;
	}
	if (hash_init(&sink.sha, HASH_SHA256, e) < 0 ||
	    hash_init(&sink.md5, HASH_MD5, e) < 0)
		goto out;
	z.a = archive_write_new();
	z.ent = archive_entry_new();
	z.iobuf = xmalloc(ZIP_BUFSZ);
	if (!z.a || !z.ent) {
		err_set(e, ERR_SYSTEM, "zip: cannot allocate libarchive state");
		goto out;
	}
	if (archive_write_set_format_zip(z.a) != ARCHIVE_OK ||
	    archive_write_set_options(z.a, "zip:compression=deflate") !=
		    ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(z.a, ZIP_BUFSZ) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(z.a, 1) != ARCHIVE_OK ||
	    archive_write_open(z.a, &sink, NULL, zip_write_cb, NULL) !=
		    ARCHIVE_OK) {
		archive_fail(z.a, e, "cannot start", dest);
		goto out;
	}
	for (size_t i = 0; i < l->nr; i++) {
		const struct artifact_entry *ent = &l->v[i];

		if ((ent->is_symlink ? write_symlink(&z, ent, e)
				     : write_file(&z, ent, e)) < 0)
			goto out;
	}
	if (archive_write_close(z.a) != ARCHIVE_OK) {
		archive_fail(z.a, e, "cannot finish", dest);
		goto out;
	}
	if (fsync(sink.fd) < 0) {
		err_sys(e, "cannot sync '%s'", tmp);
		goto out;
	}
	if (close(sink.fd) < 0) {
		sink.fd = -1;
		err_sys(e, "cannot close '%s'", tmp);
		goto out;
	}
	sink.fd = -1;
	if (hash_final(&sink.sha, dg.sha256, e) < 0 ||
	    hash_final(&sink.md5, dg.md5, e) < 0)
		goto out;
	dg.size = sink.size;
	if (rename(tmp, dest) < 0) {
		err_sys(e, "cannot rename '%s' to '%s'", tmp, dest);
		goto out;
	}
	fsync_dir_of(dest);
	if (d)
		*d = dg;
	ret = 0;
out:
	if (z.a)
		archive_write_free(z.a);
	archive_entry_free(z.ent);
	if (sink.fd >= 0)
		close(sink.fd);
	if (ret < 0)
		unlink(tmp);
	hash_release(&sink.sha);
	hash_release(&sink.md5);
	free(z.dirs.slot);
	strvec_release(&z.dirnames);
	free(z.iobuf);
	free(tmp);
	return ret;
}
