#include "dirty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"

#include "banned.h"

/* ---- index against HEAD ---- */

/* "<octal mode> <name>\0<raw id>", as a tree holds an entry. */
static void tree_entry(struct buf *b, unsigned int mode, const char *name,
		       size_t len, const git_oid *id)
{
	char m[12];
	size_t k = sizeof(m);

	m[--k] = ' ';
	do {
		m[--k] = (char)('0' + (mode & 7));
		mode >>= 3;
	} while (mode);
	buf_add(b, m + k, sizeof(m) - k);
	buf_add(b, name, len);
	buf_addch(b, '\0');
	buf_add(b, id->id, GIT_OID_RAWSZ);
}

/*
 * The id of the tree a commit of entries [lo, hi) (the index's, in its
 * order, all under the same plen-byte directory prefix) would have. The
 * index's order (paths compared byte by byte) is the trees' order, in
 * which a directory sorts as its name and a '/'.
 */
static int tree_id(git_oid *out, const git_index_entry *const *ent, size_t lo,
		   size_t hi, size_t plen)
{
	struct buf b = BUF_INIT;
	size_t i = lo;
	int ret = -1;

	while (i < hi) {
		const char *name = ent[i]->path + plen;
		const char *slash = strchr(name, '/');
		size_t len = slash ? (size_t)(slash - name) : strlen(name);
		unsigned int mode = ent[i]->mode;
		git_oid sub;
		const git_oid *id = &ent[i]->id;
		size_t j = i + 1;

		if (slash) {
			while (j < hi &&
			       !strncmp(ent[j]->path + plen, name, len + 1))
				j++;
			if (tree_id(&sub, ent, i, j, plen + len + 1) < 0)
				goto out;
			mode = 040000;
			id = &sub;
		}
		tree_entry(&b, mode, name, len, id);
		i = j;
	}
	ret = git_odb_hash(out, b.ptr ? b.ptr : "", b.len, GIT_OBJECT_TREE);
out:
	buf_release(&b);
	return ret;
}

/* ---- work tree against index ---- */

struct walk {
	git_repository *repo;
	const git_index_entry **ent; /* the index's entries, in its order */
	size_t nr;
	const char *skip; /* a top-level directory left out */
	const char *workdir; /* with its final '/' */
	struct timespec index_mtime; /* the index file's, read before it */
	bool trust_mode; /* core.filemode */
	struct buf path; /* the directory being read, relative, with '/' */
};

/* A name of a directory as the index has it: a file or a subdirectory. */
struct child {
	const char *name;
	size_t len;
	size_t lo, hi; /* the entry, or all the entries under the directory */
	bool dir;
	bool seen; /* readdir() gave it */
};

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static struct child *child_find(struct child *c, size_t nr, const char *name)
{
	struct child key = { name, strlen(name), 0, 0, false, false };

	return bsearch(&key, c, nr, sizeof(*c), child_cmp);
}

static bool is_gitlink(const git_index_entry *e)
{
	return e->mode == GIT_FILEMODE_COMMIT;
}

/* A tracked path gone: a change, unless only submodules were there. */
static enum dirty_verdict gone(const struct walk *w, const struct child *c)
{
	for (size_t i = c->lo; i < c->hi; i++)
		if (!is_gitlink(w->ent[i]))
			return DIRTY_CHANGED;
	return DIRTY_CLEAN;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Hash the file at the current directory's name as git would store it. */
static enum dirty_verdict hash_same(struct walk *w, int dfd, const char *name,
				    const git_index_entry *e,
				    const struct stat *st)
{
	git_oid id;
	int rc;

	if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target));

		if (n < 0 || (size_t)n >= sizeof(target))
			return DIRTY_UNSURE;
		rc = git_odb_hash(&id, target, (size_t)n, GIT_OBJECT_BLOB);
	} else {
		size_t plen = w->path.len;
		struct buf full = BUF_INIT;

		buf_addstr(&w->path, name);
		buf_addf(&full, "%s%s", w->workdir, w->path.ptr);
		/* through the filters (.gitattributes), as libgit2's diff */
		rc = git_repository_hashfile(&id, w->repo, full.ptr,
					     GIT_OBJECT_BLOB, w->path.ptr);
		buf_setlen(&w->path, plen);
		buf_release(&full);
	}
	if (rc < 0) {
		git_error_clear();
		return DIRTY_UNSURE;
	}
	return git_oid_equal(&id, &e->id) ? DIRTY_CLEAN : DIRTY_CHANGED;
}

/*
 * A tracked file against its index entry, as libgit2's diff decides:
 * another type, mode or size is a change (except a size where the index
 * has 0, which git writes for a racily clean entry); equal stat data in
 * an entry older than the index is no change; anything else is hashed.
 */
static enum dirty_verdict compare_entry(struct walk *w, int dfd,
					const char *name,
					const git_index_entry *e,
					const struct stat *st)
{
	unsigned int omode = e->mode, nmode;
	bool nsec;

	if (S_ISREG(st->st_mode))
		nmode = (st->st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE
						: GIT_FILEMODE_BLOB;
	else if (S_ISLNK(st->st_mode))
		nmode = GIT_FILEMODE_LINK;
	else
		return DIRTY_CHANGED; /* a directory or stranger: deleted */
	if (!w->trust_mode && S_ISREG(omode) && S_ISREG(nmode))
		nmode = omode;
	if (omode != nmode)
		return DIRTY_CHANGED;
	if (e->file_size != (uint32_t)st->st_size) {
		if (e->file_size > 0)
			return DIRTY_CHANGED;
		return hash_same(w, dfd, name, e, st);
	}
	/*
	 * An index written without nanoseconds (both 0) is compared, and
	 * its racily clean entries found, to the second.
	 */
	nsec = e->mtime.nanoseconds || e->ctime.nanoseconds;
	if (e->mtime.seconds != (int32_t)st->st_mtim.tv_sec ||
	    (nsec && e->mtime.nanoseconds != (uint32_t)st->st_mtim.tv_nsec) ||
	    e->ctime.seconds != (int32_t)st->st_ctim.tv_sec ||
	    (nsec && e->ctime.nanoseconds != (uint32_t)st->st_ctim.tv_nsec) ||
	    e->ino != (uint32_t)st->st_ino || e->uid != (uint32_t)st->st_uid ||
	    e->gid != (uint32_t)st->st_gid ||
	    (nsec ? !ts_before(&st->st_mtim, &w->index_mtime)
		  : st->st_mtim.tv_sec >= w->index_mtime.tv_sec))
		return hash_same(w, dfd, name, e, st);
	return DIRTY_CLEAN;
}

/*
 * A directory read with getdents64(2) straight from its descriptor:
 * fdopendir() would fstat() and fcntl() each of a thousand directories.
 */
struct dir_reader {
	int fd;
	size_t pos, len;
	int err; /* errno of a failed read */
	char *buf;
};

#define DIR_READER_BUF 16384

static void dir_reader_init(struct dir_reader *r, int fd)
{
	r->fd = fd;
	r->pos = r->len = 0;
	r->err = 0;
	r->buf = xmalloc(DIR_READER_BUF);
}

/* The next entry but "." and ".."; NULL at the end or on an error. */
static struct dirent64 *dir_reader_next(struct dir_reader *r)
{
	struct dirent64 *de;

	for (;;) {
		if (r->pos >= r->len) {
			ssize_t n = getdents64(r->fd, r->buf, DIR_READER_BUF);

			if (n <= 0) {
				r->err = n < 0 ? errno : 0;
				return NULL;
			}
			r->pos = 0;
			r->len = (size_t)n;
		}
		de = (struct dirent64 *)(r->buf + r->pos);
		r->pos += de->d_reclen;
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return de;
	}
}

static void dir_reader_release(struct dir_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* The type of a directory entry: d_type, or lstat when it is unknown. */
static mode_t entry_type(int dfd, const struct dirent64 *de)
{
	struct stat st;

	switch (de->d_type) {
	case DT_REG:
		return S_IFREG;
	case DT_DIR:
		return S_IFDIR;
	case DT_LNK:
		return S_IFLNK;
	case DT_UNKNOWN:
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		return st.st_mode & S_IFMT;
	default:
		return S_IFIFO; /* a fifo, socket or device */
	}
}

/* w->path and name as one path; is_dir: with a final '/'. */
static const char *rel_path(struct walk *w, const char *name, bool is_dir)
{
	buf_addstr(&w->path, name);
	if (is_dir)
		buf_addch(&w->path, '/');
	return w->path.ptr;
}

static enum dirty_verdict ignored(struct walk *w, const char *name, bool dir,
				  bool *out)
{
	size_t plen = w->path.len;
	int ign = 0;
	int rc = git_ignore_path_is_ignored(&ign, w->repo,
					    rel_path(w, name, dir));

	buf_setlen(&w->path, plen);
	if (rc < 0) {
		git_error_clear();
		return DIRTY_UNSURE;
	}
	*out = ign;
	return DIRTY_CLEAN;
}

static int open_dir(int dfd, const char *name)
{
	return openat(dfd, name,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static enum dirty_verdict untracked_dir(struct walk *w, int fd);

/*
 * A name in the directory w->path (read from dfd) that the index lacks:
 * a file or link counts unless ignored; a directory when it holds, at any
 * depth, a file or link that is not ignored (an ignored directory is not
 * entered, nor is .git). Fifos, sockets and devices are skipped, as git
 * skips them.
 */
static enum dirty_verdict untracked(struct walk *w, int dfd,
				    const struct dirent64 *de)
{
	enum dirty_verdict v;
	mode_t type = entry_type(dfd, de);
	size_t plen = w->path.len;
	bool ign;
	int fd;

	if (type != S_IFREG && type != S_IFLNK && type != S_IFDIR)
		return DIRTY_CLEAN;
	v = ignored(w, de->d_name, type == S_IFDIR, &ign);
	if (v != DIRTY_CLEAN || ign)
		return v;
	if (type != S_IFDIR)
		return DIRTY_CHANGED;
	fd = open_dir(dfd, de->d_name);
	if (fd < 0)
		return errno == ENOENT ? DIRTY_CLEAN : DIRTY_UNSURE;
	rel_path(w, de->d_name, true);
	v = untracked_dir(w, fd);
	buf_setlen(&w->path, plen);
	return v;
}

/* The untracked directory w->path, read from fd (taken). */
static enum dirty_verdict untracked_dir(struct walk *w, int fd)
{
	enum dirty_verdict v = DIRTY_CLEAN;
	struct dir_reader r;
	struct dirent64 *de;

	dir_reader_init(&r, fd);
	while (v == DIRTY_CLEAN && (de = dir_reader_next(&r)))
		if (strcasecmp(de->d_name, ".git"))
			v = untracked(w, fd, de);
	if (v == DIRTY_CLEAN && r.err)
		v = DIRTY_UNSURE;
	dir_reader_release(&r);
	return v;
}

/* The children of the directory w->path: entries [lo, hi) under it. */
static struct child *children(const struct walk *w, size_t lo, size_t hi,
			      size_t *nr)
{
	struct child *c = NULL;
	size_t alloc = 0, n = 0, plen = w->path.len, i = lo;

	while (i < hi) {
		const char *name = w->ent[i]->path + plen;
		const char *slash = strchr(name, '/');
		size_t len = slash ? (size_t)(slash - name) : strlen(name);
		size_t j = i + 1;

		if (slash)
			while (j < hi &&
			       !strncmp(w->ent[j]->path + plen, name, len + 1))
				j++;
		c = xgrow(c, sizeof(*c), n + 1, &alloc);
		c[n++] =
			(struct child){ name, len, i, j, slash != NULL, false };
		i = j;
	}
	/* by name alone, for bsearch (the index sorts a directory as "x/") */
	if (n > 1)
		qsort(c, n, sizeof(*c), child_cmp);
	*nr = n;
	return c;
}

/* The tracked directory w->path, entries [lo, hi), read from fd (taken). */
static enum dirty_verdict walk_dir(struct walk *w, int fd, size_t lo, size_t hi)
{
	enum dirty_verdict v = DIRTY_CLEAN;
	bool top = !w->path.len;
	struct dir_reader r;
	struct dirent64 *de;
	struct child *c;
	size_t nr;

	dir_reader_init(&r, fd);
	c = children(w, lo, hi, &nr);
	while (v == DIRTY_CLEAN && (de = dir_reader_next(&r))) {
		const char *name = de->d_name;
		size_t plen = w->path.len;
		struct child *ch;
		struct stat st;
		int sub;

		if (!strcasecmp(name, ".git"))
			continue;
		ch = child_find(c, nr, name);
		if (top && w->skip && !strcmp(name, w->skip) &&
		    (!ch || ch->dir)) {
			if (ch)
				ch->seen = true;
			if (entry_type(fd, de) != S_IFDIR)
				v = DIRTY_UNSURE;
			continue;
		}
		if (!ch) {
			v = untracked(w, fd, de);
		} else if (!ch->dir) {
			const git_index_entry *e = w->ent[ch->lo];

			/* submodules are left out, as by the status */
			if (is_gitlink(e)) {
				ch->seen = true;
				if (entry_type(fd, de) != S_IFDIR)
					v = DIRTY_UNSURE;
			} else if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) <
				   0) {
				if (errno != ENOENT)
					v = DIRTY_UNSURE;
			} else {
				ch->seen = true;
				v = compare_entry(w, fd, name, e, &st);
			}
		} else if ((sub = open_dir(fd, name)) >= 0) {
			ch->seen = true;
			rel_path(w, name, true);
			v = walk_dir(w, sub, ch->lo, ch->hi);
			buf_setlen(&w->path, plen);
		} else if (errno == ENOTDIR || errno == ELOOP) {
			/* a tracked directory replaced by a file or link */
			ch->seen = true;
			v = gone(w, ch) == DIRTY_CHANGED ? DIRTY_CHANGED
							 : DIRTY_UNSURE;
		} else if (errno != ENOENT) {
			v = DIRTY_UNSURE;
		}
	}
	if (v == DIRTY_CLEAN && r.err)
		v = DIRTY_UNSURE;
	for (size_t i = 0; v == DIRTY_CLEAN && i < nr; i++)
		if (!c[i].seen && !(top && w->skip && c[i].dir &&
				    c[i].len == strlen(w->skip) &&
				    !memcmp(c[i].name, w->skip, c[i].len)))
			v = gone(w, &c[i]);
	free(c);
	dir_reader_release(&r);
	return v;
}

/* A boolean from the configuration; dflt when it is not set. */
static int config_bool(git_config *cfg, const char *name, bool dflt, bool *out)
{
	int v, rc = git_config_get_bool(&v, cfg, name);

	if (rc == GIT_ENOTFOUND) {
		git_error_clear();
		*out = dflt;
		return 0;
	}
	if (rc < 0) {
		git_error_clear();
		return -1;
	}
	*out = v;
	return 0;
}

enum dirty_verdict dirty_quick(git_repository *repo, const char *skip)
{
	enum dirty_verdict v = DIRTY_UNSURE;
	struct walk w = { repo, NULL, 0, skip, NULL, { 0, 0 }, true, BUF_INIT };
	git_config *cfg = NULL;
	git_index *idx = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	git_oid tree;
	struct stat st;
	char *ipath = NULL;
	bool symlinks, ignorecase;
	int fd;

	w.workdir = git_repository_workdir(repo);
	if (!w.workdir || git_repository_config_snapshot(&cfg, repo) < 0 ||
	    config_bool(cfg, "core.filemode", true, &w.trust_mode) < 0 ||
	    config_bool(cfg, "core.symlinks", true, &symlinks) < 0 ||
	    config_bool(cfg, "core.ignorecase", false, &ignorecase) < 0 ||
	    !symlinks || ignorecase)
		goto out;
	/*
	 * The index file's time before it is read: an entry written since
	 * then is hashed ("racily clean"); a later index only makes more.
	 */
	ipath = xasprintf("%sindex", git_repository_path(repo));
	if (stat(ipath, &st) < 0)
		goto out;
	w.index_mtime = st.st_mtim;
	if (git_repository_index(&idx, repo) < 0 || git_index_read(idx, 0) < 0)
		goto out;
	w.nr = git_index_entrycount(idx);
	w.ent = xcalloc(w.nr ? w.nr : 1, sizeof(*w.ent));
	for (size_t i = 0; i < w.nr; i++) {
		const git_index_entry *e = git_index_get_byindex(idx, i);

		if (!e || git_index_entry_stage(e) ||
		    (e->flags & GIT_INDEX_ENTRY_VALID) ||
		    (e->flags_extended & (GIT_INDEX_ENTRY_INTENT_TO_ADD |
					  GIT_INDEX_ENTRY_SKIP_WORKTREE)) ||
		    (!S_ISREG(e->mode) && !S_ISLNK(e->mode) && !is_gitlink(e)))
			goto out;
		w.ent[i] = e;
	}
	if (git_repository_head(&head, repo) < 0 ||
	    git_reference_peel((git_object **)&commit, head,
			       GIT_OBJECT_COMMIT) < 0 ||
	    tree_id(&tree, w.ent, 0, w.nr, 0) < 0 ||
	    !git_oid_equal(&tree, git_commit_tree_id(commit)))
		goto out;
	fd = open(w.workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	v = walk_dir(&w, fd, 0, w.nr);
out:
	git_error_clear();
	buf_release(&w.path);
	free(w.ent);
	free(ipath);
	git_commit_free(commit);
	git_reference_free(head);
	git_index_free(idx);
	git_config_free(cfg);
	return v;
}

bool dirty_status(git_repository *repo, const char *skip)
{
	git_status_options so;
	git_status_list *list = NULL;
	size_t slen = skip ? strlen(skip) : 0;
	bool dirty = false;

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&list, repo, &so) < 0) {
		git_error_clear();
		return false;
	}
	for (size_t i = 0; !dirty && i < git_status_list_entrycount(list);
	     i++) {
		const git_status_entry *st = git_status_byindex(list, i);
		const git_diff_delta *d = st->index_to_workdir
						  ? st->index_to_workdir
						  : st->head_to_index;
		const char *path = d ? d->new_file.path : NULL;

		/* what is in skip (slipway's state) is not the user's */
		dirty = !path || !skip || strncmp(path, skip, slen) ||
			path[slen] != '/';
	}
	git_status_list_free(list);
	return dirty;
}

bool dirty_worktree(const char *dir, const char *skip)
{
	git_repository *repo = NULL;
	enum dirty_verdict v;
	bool dirty = false;

	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		git_error_clear();
		return false;
	}
	if (!git_repository_is_bare(repo)) {
		v = dirty_quick(repo, skip);
		dirty = v == DIRTY_UNSURE ? dirty_status(repo, skip)
					  : v == DIRTY_CHANGED;
	}
	git_repository_free(repo);
	return dirty;
}
