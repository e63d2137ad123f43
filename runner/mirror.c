#include "mirror.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "retire.h"
#include "source.h"
#include "strvec.h"
#include "xalloc.h"

#include "banned.h"

static const char *git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

char *mirror_normalise(const char *source)
{
	const char *p = source;
	char *path, *real, *s;
	size_t n, i, end;

	if (!strncasecmp(p, "file://", 7) || !source_is_git_url(p)) {
		if (!strncasecmp(p, "file://", 7)) {
			p += 7;
			if (!strncasecmp(p, "localhost/", 10))
				p += 9;
		}
		path = fs_abspath(p);
		real = realpath(path, NULL);
		if (real) {
			free(path);
			path = xstrdup(real);
			free(real);
		}
		n = strlen(path);
		if (n > 5 && !strcmp(path + n - 5, "/.git"))
			path[n - 5] = '\0';
		return path;
	}
	s = xstrdup(source);
	p = strstr(s, "://");
	if (p) {
		/* scheme and host; user names and paths keep their case */
		end = (size_t)(p - s);
		for (i = 0; i < end; i++)
			s[i] = (char)tolower((unsigned char)s[i]);
		p += 3;
		end = strcspn(p, "/");
		for (i = 0; i < end; i++) {
			if (memchr(p + i, '@', end - i))
				continue;
			s[(size_t)(p - s) + i] =
				(char)tolower((unsigned char)p[i]);
		}
	}
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	if (n > 4 && !strcmp(s + n - 4, ".git"))
		s[n -= 4] = '\0';
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

/* Write a small file without fsync: these are rebuilt if lost. */
static int write_text(const char *path, const char *text, struct sw_err *e)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return err_sys(e, "cannot create '%s'", path);
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return err_sys(e, "cannot write '%s'", path);
		}
		done += (size_t)n;
	}
	if (close(fd) < 0)
		return err_sys(e, "cannot write '%s'", path);
	return 0;
}

/* write_text() to a temporary name, then rename over path. */
static int replace_text(const char *path, const char *text, struct sw_err *e)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int ret = write_text(tmp, text, e);

	if (!ret && rename(tmp, path) < 0)
		ret = err_sys(e, "cannot rename '%s'", tmp);
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

static int mkdirs(const char *base, const char *const *rel, struct sw_err *e)
{
	for (; *rel; rel++) {
		char *p = fs_join(base, *rel);
		int r = fs_mkdir_p(p, 0755, e);

		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int create_bare(const char *gitdir, const char *url, struct sw_err *e)
{
	static const char *const dirs[] = { "objects/pack", "objects/info",
					    "refs/heads", "refs/tags", NULL };
	char *tmp = xasprintf("%s.tmp.%ld", gitdir, (long)getpid());
	char *p = NULL;
	int ret = -1;

	if (fs_remove_tree(tmp, e) < 0 || fs_remove_tree(gitdir, e) < 0 ||
	    fs_mkdir_p(tmp, 0755, e) < 0 || mkdirs(tmp, dirs, e) < 0)
		goto out;
	p = fs_join(tmp, "HEAD");
	if (write_text(p, "ref: refs/heads/main\n", e) < 0)
		goto out;
	free(p);
	p = fs_join(tmp, "config");
	if (write_text(p,
		       "[core]\n\trepositoryformatversion = 0\n"
		       "\tfilemode = true\n\tbare = true\n",
		       e) < 0)
		goto out;
	free(p);
	/* For people looking at the state directory. */
	p = fs_join(tmp, "description");
	{
		char *text = xasprintf("slipway mirror of %s\n", url);

		ret = write_text(p, text, e);
		free(text);
		if (ret < 0)
			goto out;
		ret = -1;
	}
	if (rename(tmp, gitdir) < 0) {
		err_sys(e, "cannot create mirror '%s'", gitdir);
		goto out;
	}
	ret = 0;
out:
	if (ret)
		fs_remove_tree(tmp, e);
	free(p);
	free(tmp);
	return ret;
}

char *mirror_path(const char *sources_dir, const char *source,
		  const char *suffix)
{
	struct hash_ctx h = HASH_CTX_INIT;
	struct sw_err e = SW_ERR_INIT;
	char key[HASH_SHA256_HEX];
	char *url = mirror_normalise(source), *dir = fs_abspath(sources_dir);
	char *p = NULL;

	if (hash_init(&h, HASH_SHA256, &e) == 0 &&
	    hash_update(&h, url, strlen(url), &e) == 0 &&
	    hash_final(&h, key, &e) == 0)
		p = xasprintf("%s/%s%s", dir, key, suffix);
	hash_release(&h);
	free(url);
	free(dir);
	return p;
}

int mirror_open(struct mirror *m, const char *sources_dir, const char *source,
		struct sw_err *e)
{
	struct hash_ctx h = HASH_CTX_INIT;
	char key[HASH_SHA256_HEX];
	char *base = NULL, *lock = NULL, *head = NULL;
	char *dir = fs_abspath(sources_dir);
	int ret = -1;

	m->url = mirror_normalise(source);
	m->local = !source_is_git_url(source);
	if (hash_init(&h, HASH_SHA256, e) < 0 ||
	    hash_update(&h, m->url, strlen(m->url), e) < 0 ||
	    hash_final(&h, key, e) < 0)
		goto out;
	if (fs_mkdir_p(dir, 0755, e) < 0)
		goto out;
	base = fs_join(dir, key);
	m->gitdir = xasprintf("%s.git", base);
	m->spares = xasprintf("%s.spare", base);
	lock = xasprintf("%s.lock", base);
	m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->lock_fd < 0) {
		err_sys(e, "cannot open '%s'", lock);
		goto out;
	}
	while (flock(m->lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_sys(e, "cannot lock '%s'", lock);
			goto out;
		}
	}
	head = fs_join(m->gitdir, "HEAD");
	m->existed = fs_exists(head);
	if (!m->existed && create_bare(m->gitdir, m->url, e) < 0)
		goto out;
	ret = 0;
out:
	hash_release(&h);
	free(head);
	free(lock);
	free(base);
	free(dir);
	return ret;
}

void mirror_unlock(struct mirror *m)
{
	if (m->lock_fd >= 0) {
		flock(m->lock_fd, LOCK_UN);
		close(m->lock_fd);
		m->lock_fd = -1;
	}
}

void mirror_release(struct mirror *m)
{
	mirror_unlock(m);
	free(m->url);
	free(m->gitdir);
	free(m->spares);
	m->url = m->gitdir = m->spares = NULL;
	m->local = m->existed = false;
}

/* ---- local sync ---- */

static int write_all(int fd, const void *data, size_t len);

static int copy_rw(int in, int out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		if (write_all(out, buf, (size_t)n) < 0)
			return -1;
	}
}

/* Copy a file (across file systems, where link(2) cannot go). */
static int copy_file(const char *from, const char *to)
{
	char *tmp = xasprintf("%s.tmp.%ld", to, (long)getpid());
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, ret = -1;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0)
		goto out;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (out < 0)
		goto out;
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n =
			copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && left == st.st_size &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
		     errno == EOPNOTSUPP)) {
			/* file systems that cannot copy between them */
			if (copy_rw(in, out) < 0)
				goto out;
			break;
		}
		if (n <= 0)
			goto out;
		left -= n;
	}
	if (close(out) < 0) {
		out = -1;
		goto out;
	}
	out = -1;
	if (rename(tmp, to) < 0)
		goto out;
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* Hard-link from to to; 1 added, 0 there already, -1 failed. */
static int link_object(const char *from, const char *to)
{
	if (link(from, to) == 0)
		return 1;
	if (errno == EEXIST)
		return 0;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -1;
	return copy_file(from, to) < 0 ? -1 : 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted names in dir (none if it cannot be read) into *v. */
static void names_of(const char *dir, struct strvec *v)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	strvec_clear(v);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			strvec_push(v, de->d_name);
	if (d)
		closedir(d);
	qsort(v->v, v->nr, sizeof(*v->v), name_cmp);
}

static int sync_loose(const char *src, const char *dst, unsigned long *n,
		      struct sw_err *e)
{
	struct strvec have = STRVEC_INIT;

	for (int i = 0; i < 256; i++) {
		char sub[3];
		char *sdir, *ddir;
		struct dirent *de;
		bool made = false;
		DIR *d;
		int ret = 0;

		snprintf(sub, sizeof(sub), "%02x", i);
		sdir = fs_join(src, sub);
		ddir = fs_join(dst, sub);
		d = opendir(sdir);
		/* what the mirror has: a readdir, not a link(2) each */
		if (d)
			names_of(ddir, &have);
		while (d && (de = readdir(d))) {
			char *from, *to;
			const char *name = de->d_name;
			int r;

			if (strlen(de->d_name) != GIT_OID_HEXSZ - 2 ||
			    strspn(de->d_name, "0123456789abcdef") !=
				    GIT_OID_HEXSZ - 2 ||
			    bsearch(&name, have.v, have.nr, sizeof(*have.v),
				    name_cmp))
				continue;
			if (!made) {
				if (mkdir(ddir, 0755) < 0 && errno != EEXIST) {
					ret = err_sys(e, "cannot create '%s'",
						      ddir);
					break;
				}
				made = true;
			}
			from = fs_join(sdir, de->d_name);
			to = fs_join(ddir, de->d_name);
			r = link_object(from, to);
			if (r < 0)
				ret = err_sys(e, "cannot link '%s' to '%s'",
					      from, to);
			*n += r > 0;
			free(from);
			free(to);
			if (ret)
				break;
		}
		if (d)
			closedir(d);
		free(sdir);
		free(ddir);
		if (ret) {
			strvec_release(&have);
			return -1;
		}
	}
	strvec_release(&have);
	return 0;
}

/* The number of objects a version 2 pack index lists, 0 if unreadable. */
static unsigned long idx_count(const char *idx)
{
	unsigned char b[4];
	int fd = open(idx, O_RDONLY | O_CLOEXEC);
	unsigned long n = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, b, 4, 8 + 255 * 4) == 4)
		n = (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 |
		    (unsigned long)b[2] << 8 | b[3];
	close(fd);
	return n;
}

static int sync_packs(const char *src, const char *dst, unsigned long *n,
		      struct sw_err *e)
{
	static const char *const exts[] = { ".pack", ".rev", ".idx" };
	char *sdir = fs_join(src, "pack"), *ddir = fs_join(dst, "pack");
	struct dirent *de;
	int ret = 0;
	DIR *d = opendir(sdir);

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name), i;
		char *base, *idx;

		if (len < 10 || strncmp(de->d_name, "pack-", 5) ||
		    strcmp(de->d_name + len - 4, ".idx"))
			continue;
		base = xstrndup(de->d_name, len - 4);
		idx = xasprintf("%s/%s", ddir, de->d_name);
		/* .idx last: readers find a pack by its index */
		for (i = 0; !fs_exists(idx) && i < ARRAY_SIZE(exts); i++) {
			char *from = xasprintf("%s/%s%s", sdir, base, exts[i]);
			char *to = xasprintf("%s/%s%s", ddir, base, exts[i]);

			if ((i != 1 || fs_exists(from)) &&
			    link_object(from, to) < 0)
				ret = err_sys(e, "cannot link '%s' to '%s'",
					      from, to);
			if (!ret && i == 2)
				*n += idx_count(to);
			free(from);
			free(to);
			if (ret)
				break;
		}
		free(base);
		free(idx);
		if (ret)
			break;
	}
	if (d)
		closedir(d);
	free(sdir);
	free(ddir);
	return ret;
}

/* The source's alternates, made absolute, become the mirror's. */
static int sync_alternates(const char *src, const char *dst, struct sw_err *e)
{
	char *from = fs_join(src, "info/alternates");
	char *to = fs_join(dst, "info/alternates");
	struct buf b = BUF_INIT;
	char *text = NULL, *line, *next;
	size_t len;
	int ret = 0;

	if (!fs_exists(from)) {
		if (fs_exists(to))
			unlink(to);
		goto out;
	}
	if (fs_read_file(from, 1 << 20, &text, &len, e) < 0) {
		ret = -1;
		goto out;
	}
	for (line = text; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (!*line || *line == '#')
			continue;
		if (*line == '/') {
			buf_addf(&b, "%s\n", line);
		} else {
			char *rel = fs_join(src, line);
			char *abs = fs_abspath(rel);

			buf_addf(&b, "%s\n", abs);
			free(abs);
			free(rel);
		}
	}
	ret = replace_text(to, buf_cstr(&b), e);
out:
	free(text);
	buf_release(&b);
	free(from);
	free(to);
	return ret;
}

struct ref_entry {
	char *name;
	git_oid oid;
	git_oid peeled;
	bool has_peeled;
};

struct ref_list {
	struct ref_entry *v;
	size_t nr, alloc;
};

static void ref_list_release(struct ref_list *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->nr = l->alloc = 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ref_entry *)a)->name,
		      ((const struct ref_entry *)b)->name);
}

/* Refs matching glob, resolved; tags peeled to what they point at. */
static int collect_refs(git_repository *repo, const char *glob,
			struct ref_list *l, struct sw_err *e)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int r, ret = 0;

	if (git_reference_iterator_glob_new(&it, repo, glob) < 0)
		return err_set(e, ERR_FAILED, "cannot list refs: %s",
			       git_msg());
	while ((r = git_reference_next(&ref, it)) == 0) {
		git_reference *res = NULL;
		git_object *obj = NULL, *peeled = NULL;
		struct ref_entry *re;

		if (git_reference_resolve(&res, ref) < 0) {
			/* a dangling symbolic ref is not worth failing */
			git_reference_free(ref);
			continue;
		}
		ALLOC_GROW(l->v, l->nr + 1, l->alloc);
		re = &l->v[l->nr++];
		re->name = xstrdup(git_reference_name(ref));
		git_oid_cpy(&re->oid, git_reference_target(res));
		re->has_peeled = false;
		if (git_reference_target_peel(res)) {
			git_oid_cpy(&re->peeled,
				    git_reference_target_peel(res));
			re->has_peeled = git_oid_cmp(&re->peeled, &re->oid);
		} else if (!strncmp(re->name, "refs/tags/", 10) &&
			   git_object_lookup(&obj, repo, &re->oid,
					     GIT_OBJECT_ANY) == 0 &&
			   git_object_type(obj) == GIT_OBJECT_TAG &&
			   git_object_peel(&peeled, obj, GIT_OBJECT_ANY) == 0) {
			while (git_object_type(peeled) == GIT_OBJECT_TAG) {
				git_object *next = NULL;

				if (git_object_peel(&next, peeled,
						    GIT_OBJECT_ANY) < 0)
					break;
				git_object_free(peeled);
				peeled = next;
			}
			git_oid_cpy(&re->peeled, git_object_id(peeled));
			re->has_peeled = true;
		}
		git_object_free(peeled);
		git_object_free(obj);
		git_reference_free(res);
		git_reference_free(ref);
	}
	if (r != GIT_ITEROVER)
		ret = err_set(e, ERR_FAILED, "cannot list refs: %s", git_msg());
	git_reference_iterator_free(it);
	return ret;
}

/*
 * packed-refs text for l, sorted; names starting with from are renamed
 * to start with to (refs/heads/ -> refs/remotes/origin/).
 */
static char *packed_refs(struct ref_list *l, const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	size_t fl = from ? strlen(from) : 0;
	char hex[GIT_OID_HEXSZ + 1];

	for (size_t i = 0; i < l->nr; i++) {
		if (from && !strncmp(l->v[i].name, from, fl)) {
			char *n = xasprintf("%s%s", to, l->v[i].name + fl);

			free(l->v[i].name);
			l->v[i].name = n;
		}
	}
	qsort(l->v, l->nr, sizeof(*l->v), by_name);
	buf_addstr(&b, "# pack-refs with: peeled fully-peeled sorted \n");
	for (size_t i = 0; i < l->nr; i++) {
		git_oid_tostr(hex, sizeof(hex), &l->v[i].oid);
		buf_addf(&b, "%s %s\n", hex, l->v[i].name);
		if (l->v[i].has_peeled) {
			git_oid_tostr(hex, sizeof(hex), &l->v[i].peeled);
			buf_addf(&b, "^%s\n", hex);
		}
	}
	return buf_detach(&b);
}

/* Loose refs under gitdir/refs/<sub> go: packed-refs says it all. */
static int clear_loose_refs(const char *gitdir, const char *sub,
			    struct sw_err *e)
{
	char *p = xasprintf("%s/refs/%s", gitdir, sub);
	int ret = fs_remove_tree(p, e);

	if (!ret)
		ret = fs_mkdir_p(p, 0755, e);
	free(p);
	return ret;
}

static int sync_refs(struct mirror *m, const char *src_gitdir, struct sw_err *e)
{
	struct ref_list l = { NULL, 0, 0 };
	git_repository *src = NULL;
	git_reference *head = NULL;
	char *text = NULL, *path = NULL;
	int ret = -1;

	if (git_repository_open_bare(&src, src_gitdir) < 0) {
		err_set(e, ERR_FAILED, "cannot open '%s': %s", src_gitdir,
			git_msg());
		goto out;
	}
	if (collect_refs(src, "refs/heads/*", &l, e) < 0 ||
	    collect_refs(src, "refs/tags/*", &l, e) < 0)
		goto out;
	text = packed_refs(&l, NULL, NULL);
	path = fs_join(m->gitdir, "packed-refs");
	if (clear_loose_refs(m->gitdir, "heads", e) < 0 ||
	    clear_loose_refs(m->gitdir, "tags", e) < 0 ||
	    replace_text(path, text, e) < 0)
		goto out;
	free(text);
	text = NULL;
	/* HEAD: the branch the source has checked out, or its commit. */
	if (git_reference_lookup(&head, src, "HEAD") == 0) {
		char hex[GIT_OID_HEXSZ + 1];

		if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
			text = xasprintf("ref: %s\n",
					 git_reference_symbolic_target(head));
		else if (git_reference_target(head))
			text = xasprintf(
				"%s\n",
				git_oid_tostr(hex, sizeof(hex),
					      git_reference_target(head)));
	}
	free(path);
	path = fs_join(m->gitdir, "HEAD");
	if (text && replace_text(path, text, e) < 0)
		goto out;
	ret = 0;
out:
	free(text);
	free(path);
	ref_list_release(&l);
	git_reference_free(head);
	git_repository_free(src);
	return ret;
}

int mirror_sync_local(struct mirror *m, const char *src_gitdir,
		      unsigned long *fetched, struct sw_err *e)
{
	char *src = fs_join(src_gitdir, "objects");
	char *dst = fs_join(m->gitdir, "objects");
	int ret = -1;

	*fetched = 0;
	if (sync_packs(src, dst, fetched, e) < 0 ||
	    sync_loose(src, dst, fetched, e) < 0 ||
	    sync_alternates(src, dst, e) < 0 || sync_refs(m, src_gitdir, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret)
		err_prefix(e, "cannot update the mirror of '%s'", m->url);
	free(src);
	free(dst);
	return ret;
}

/*
 * What the mirror lacks of what src's refs l reach, put in pb: commits
 * pushed on walk (what the mirror's own refs reach is hidden), annotated
 * tags added one by one, a tagged tree or blob with what it holds.
 * *wants counts the commits pushed.
 */
static int pack_wants(git_repository *src, git_odb *have,
		      const struct ref_list *l, git_packbuilder *pb,
		      git_revwalk *walk, size_t *wants)
{
	for (size_t i = 0; i < l->nr; i++) {
		git_oid oid = l->v[i].oid;

		while (!git_odb_exists(have, &oid)) {
			git_object *obj = NULL;
			git_object_t type;
			int r;

			if (git_object_lookup(&obj, src, &oid, GIT_OBJECT_ANY) <
			    0)
				return -1;
			type = git_object_type(obj);
			if (type == GIT_OBJECT_TAG) {
				r = git_packbuilder_insert(pb, &oid, NULL);
				git_oid_cpy(&oid,
					    git_tag_target_id((git_tag *)obj));
				git_object_free(obj);
				if (r < 0)
					return -1;
				continue;
			}
			git_object_free(obj);
			if (type == GIT_OBJECT_COMMIT) {
				if (git_revwalk_push(walk, &oid) < 0)
					return -1;
				(*wants)++;
			} else if (git_packbuilder_insert_recur(pb, &oid,
								NULL) < 0) {
				return -1;
			}
			break;
		}
	}
	return 0;
}

/* Hide from walk the commits the mirror's refs point at (src may lack some). */
static void pack_haves(const struct ref_list *l, git_revwalk *walk)
{
	for (size_t i = 0; i < l->nr; i++) {
		const git_oid *oid =
			l->v[i].has_peeled ? &l->v[i].peeled : &l->v[i].oid;

		if (git_revwalk_hide(walk, oid) < 0)
			git_error_clear();
	}
}

int mirror_fetch_file(struct mirror *m, const char *src_gitdir,
		      unsigned long *fetched, struct sw_err *e)
{
	struct ref_list want = { NULL, 0, 0 }, have = { NULL, 0, 0 };
	git_repository *src = NULL, *mirror = NULL;
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_odb *odb = NULL;
	char *pack = NULL;
	size_t wants = 0;
	int ret = -1;

	*fetched = 0;
	if (git_repository_open_bare(&src, src_gitdir) < 0 ||
	    git_repository_open_bare(&mirror, m->gitdir) < 0 ||
	    git_repository_odb(&odb, mirror) < 0 ||
	    git_revwalk_new(&walk, src) < 0 ||
	    git_packbuilder_new(&pb, src) < 0) {
		err_set(e, ERR_FAILED, "%s", git_msg());
		goto out;
	}
	if (collect_refs(src, "refs/heads/*", &want, e) < 0 ||
	    collect_refs(src, "refs/tags/*", &want, e) < 0 ||
	    collect_refs(mirror, "refs/heads/*", &have, e) < 0 ||
	    collect_refs(mirror, "refs/tags/*", &have, e) < 0)
		goto out;
	if (pack_wants(src, odb, &want, pb, walk, &wants) < 0) {
		err_set(e, ERR_FAILED, "%s", git_msg());
		goto out;
	}
	pack_haves(&have, walk);
	if (wants && git_packbuilder_insert_walk(pb, walk) < 0) {
		err_set(e, ERR_FAILED, "%s", git_msg());
		goto out;
	}
	*fetched = git_packbuilder_object_count(pb);
	pack = fs_join(m->gitdir, "objects/pack");
	if (*fetched && git_packbuilder_write(pb, pack, 0, NULL, NULL) < 0) {
		err_set(e, ERR_FAILED, "cannot write a pack: %s", git_msg());
		goto out;
	}
	if (sync_refs(m, src_gitdir, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret)
		err_prefix(e, "cannot update the mirror of '%s'", m->url);
	free(pack);
	ref_list_release(&want);
	ref_list_release(&have);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_odb_free(odb);
	git_repository_free(mirror);
	git_repository_free(src);
	return ret;
}

/* ---- checkout ---- */

/*
 * The build's .git borrows the mirror's objects (objects/info/alternates)
 * and never shares a file with it: the mirror's objects are hard links to
 * a local source's own, so a build that chowns, chmods or appends to a
 * file under its .git must not reach either. mirror_standalone() copies
 * them in before the .git is shipped.
 */
static int borrow_objects(const struct mirror *m, const char *git,
			  struct sw_err *e)
{
	char *p = fs_join(git, "objects/info/alternates");
	char *text = xasprintf("%s/objects\n", m->gitdir);
	int ret = write_text(p, text, e);

	free(text);
	free(p);
	return ret;
}

/* dest/.git: alternates, detached HEAD, origin, the mirror's refs. */
static int write_git_dir(const struct mirror *m, git_repository *mirror,
			 const git_oid *commit, const char *origin_url,
			 const char *dest, struct sw_err *e)
{
	static const char *const dirs[] = {
		".git/objects/pack",	    ".git/objects/info",
		".git/refs/heads",	    ".git/refs/tags",
		".git/refs/remotes/origin", NULL
	};
	struct ref_list l = { NULL, 0, 0 };
	git_reference *head = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	char *git = fs_join(dest, ".git");
	struct buf b = BUF_INIT;
	char *p = NULL, *text = NULL;
	int ret = -1;

	if (fs_mkdir_p(dest, 0755, e) < 0 || mkdirs(dest, dirs, e) < 0)
		goto out;
	p = fs_join(git, "HEAD");
	buf_addf(&b, "%s\n", git_oid_tostr(hex, sizeof(hex), commit));
	if (write_text(p, buf_cstr(&b), e) < 0)
		goto out;
	free(p);
	if (borrow_objects(m, git, e) < 0)
		goto out;
	p = fs_join(git, "config");
	buf_clear(&b);
	buf_addstr(&b, "[core]\n\trepositoryformatversion = 0\n"
		       "\tfilemode = true\n\tbare = false\n"
		       "\tlogallrefupdates = true\n"
		       "[remote \"origin\"]\n\turl = \"");
	for (const char *s = origin_url; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addch(&b, '\\');
		buf_addch(&b, *s);
	}
	buf_addstr(&b, "\"\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
	if (write_text(p, buf_cstr(&b), e) < 0)
		goto out;
	free(p);
	if (collect_refs(mirror, "refs/heads/*", &l, e) < 0 ||
	    collect_refs(mirror, "refs/tags/*", &l, e) < 0)
		goto out;
	text = packed_refs(&l, "refs/heads/", "refs/remotes/origin/");
	p = fs_join(git, "packed-refs");
	if (write_text(p, text, e) < 0)
		goto out;
	free(p);
	p = fs_join(git, "refs/remotes/origin/HEAD");
	if (git_reference_lookup(&head, mirror, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    !strncmp(git_reference_symbolic_target(head), "refs/heads/", 11)) {
		buf_clear(&b);
		buf_addf(&b, "ref: refs/remotes/origin/%s\n",
			 git_reference_symbolic_target(head) + 11);
		if (write_text(p, buf_cstr(&b), e) < 0)
			goto out;
	} else {
		unlink(p);
	}
	ret = 0;
out:
	git_reference_free(head);
	ref_list_release(&l);
	buf_release(&b);
	free(text);
	free(p);
	free(git);
	return ret;
}

struct tree_file {
	char *path;
	git_oid id;
	git_filemode_t mode;
};

struct tree_files {
	struct tree_file *v;
	size_t nr, alloc;
	bool attributes; /* a .gitattributes somewhere: filters may apply */
};

static void tree_files_release(struct tree_files *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->v[i].path);
	free(t->v);
	t->v = NULL;
	t->nr = t->alloc = 0;
}

static int collect_file(const char *root, const git_tree_entry *te,
			void *payload)
{
	struct tree_files *t = payload;
	struct tree_file *f;

	ALLOC_GROW(t->v, t->nr + 1, t->alloc);
	f = &t->v[t->nr++];
	f->path = xasprintf("%s%s", root, git_tree_entry_name(te));
	git_oid_cpy(&f->id, git_tree_entry_id(te));
	f->mode = git_tree_entry_filemode(te);
	if (!strcmp(git_tree_entry_name(te), ".gitattributes"))
		t->attributes = true;
	return 0;
}

/* Settings under which git would not write blobs as they are. */
static bool needs_filters(git_repository *repo)
{
	git_config *cfg = NULL;
	git_buf v = { NULL, 0, 0 };
	bool yes = false;

	if (git_repository_config_snapshot(&cfg, repo) < 0)
		return true;
	if (git_config_get_string_buf(&v, cfg, "core.autocrlf") == 0)
		yes = strcasecmp(v.ptr, "false") && strcasecmp(v.ptr, "input");
	git_buf_dispose(&v);
	if (!yes && git_config_get_string_buf(&v, cfg, "core.eol") == 0)
		yes = !strcasecmp(v.ptr, "crlf");
	git_buf_dispose(&v);
	git_config_free(cfg);
	return yes;
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

static void index_stat(git_index_entry *ie, const struct stat *st)
{
	ie->ctime.seconds = (int32_t)st->st_ctim.tv_sec;
	ie->ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
	ie->mtime.seconds = (int32_t)st->st_mtim.tv_sec;
	ie->mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
	ie->dev = (uint32_t)st->st_dev;
	ie->ino = (uint32_t)st->st_ino;
	ie->uid = (uint32_t)st->st_uid;
	ie->gid = (uint32_t)st->st_gid;
	ie->file_size = (uint32_t)st->st_size;
}

/* Write one entry under dirfd and fill its index entry. */
static int write_entry(int dirfd, git_odb *odb, const struct tree_file *f,
		       git_index_entry *ie, struct sw_err *e)
{
	git_odb_object *obj = NULL;
	struct stat st;
	int fd = -1, ret = -1;

	memset(ie, 0, sizeof(*ie));
	ie->path = f->path;
	ie->mode = f->mode;
	git_oid_cpy(&ie->id, &f->id);
	if (f->mode == GIT_FILEMODE_TREE) {
		if (mkdirat(dirfd, f->path, 0777) < 0 && errno != EEXIST)
			return err_sys(e, "cannot create '%s'", f->path);
		return 0;
	}
	if (f->mode == GIT_FILEMODE_COMMIT) {
		/* a submodule: update_submodules() fills it */
		if (mkdirat(dirfd, f->path, 0777) < 0 && errno != EEXIST)
			return err_sys(e, "cannot create '%s'", f->path);
		return 0;
	}
	if (git_odb_read(&obj, odb, &f->id) < 0)
		return err_set(e, ERR_FAILED, "cannot read '%s': %s", f->path,
			       git_msg());
	if (f->mode == GIT_FILEMODE_LINK) {
		char *target = xstrndup(git_odb_object_data(obj),
					git_odb_object_size(obj));

		if (symlinkat(target, dirfd, f->path) < 0) {
			err_sys(e, "cannot create '%s'", f->path);
			free(target);
			goto out;
		}
		free(target);
		if (fstatat(dirfd, f->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err_sys(e, "cannot stat '%s'", f->path);
			goto out;
		}
	} else {
		fd = openat(
			dirfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			f->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666);
		if (fd < 0 ||
		    write_all(fd, git_odb_object_data(obj),
			      git_odb_object_size(obj)) < 0 ||
		    fstat(fd, &st) < 0) {
			err_sys(e, "cannot write '%s'", f->path);
			goto out;
		}
		/* the file is done: its ctime and mtime are final */
	}
	index_stat(ie, &st);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	git_odb_object_free(obj);
	return ret;
}

/*
 * Write the files of t into dest (which holds .git already) and the
 * index describing them. With settle, the index is written in a later
 * second than the files, so that git does not take them for racily clean
 * and rehash them.
 */
static int write_files(git_repository *repo, struct tree_files *t,
		       const char *dest, bool settle, struct sw_err *e)
{
	git_index *index = NULL;
	git_odb *odb = NULL;
	time_t last = 0;
	int dirfd = -1, ret = -1;

	if (git_repository_odb(&odb, repo) < 0 ||
	    git_repository_index(&index, repo) < 0) {
		err_set(e, ERR_FAILED, "cannot open '%s': %s", dest, git_msg());
		goto out;
	}
	git_index_clear(index);
	dirfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err_sys(e, "cannot open '%s'", dest);
		goto out;
	}
	for (size_t i = 0; i < t->nr; i++) {
		git_index_entry ie;

		if (write_entry(dirfd, odb, &t->v[i], &ie, e) < 0)
			goto out;
		if (ie.mode == GIT_FILEMODE_TREE)
			continue;
		if (ie.mtime.seconds > last)
			last = ie.mtime.seconds;
		if (git_index_add(index, &ie) < 0) {
			err_set(e, ERR_FAILED, "cannot index '%s': %s",
				t->v[i].path, git_msg());
			goto out;
		}
	}
	while (settle && time(NULL) <= last)
		usleep(50 * 1000);
	if (git_index_write(index) < 0) {
		err_set(e, ERR_FAILED, "cannot write the index of '%s': %s",
			dest, git_msg());
		goto out;
	}
	ret = 0;
out:
	if (dirfd >= 0)
		close(dirfd);
	git_index_free(index);
	git_odb_free(odb);
	return ret;
}

/*
 * libgit2's checkout of tree into repo's work tree, updating only what
 * differs from baseline when there is one. The trees may come from the
 * mirror: they are looked up again in repo, as libgit2 wants.
 */
static int libgit2_checkout(git_repository *repo, const git_tree *tree,
			    const git_tree *baseline, struct sw_err *e)
{
	git_tree *t = NULL, *b = NULL;
	git_checkout_options co;
	int ret = 0;

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_tree_lookup(&t, repo, git_tree_id(tree)) < 0 ||
	    (baseline &&
	     git_tree_lookup(&b, repo, git_tree_id(baseline)) < 0)) {
		ret = err_set(e, ERR_FAILED, "cannot read tree: %s", git_msg());
		goto out;
	}
	co.baseline = b;
	if (git_checkout_tree(repo, (git_object *)t, &co) < 0)
		ret = err_set(e, ERR_FAILED, "cannot check out: %s", git_msg());
out:
	git_tree_free(b);
	git_tree_free(t);
	return ret;
}

/* A complete spare is "<commit hex>.<pid>"; being made, "tmp.<pid>". */
static bool spare_name(const char *name, git_oid *commit)
{
	return strlen(name) > GIT_OID_HEXSZ && name[GIT_OID_HEXSZ] == '.' &&
	       git_oid_fromstrn(commit, name, GIT_OID_HEXSZ) == 0;
}

/* Rename a spare to dest: 1 taken (its commit in *had), 0 none. */
static int take_spare(const struct mirror *m, const git_oid *want,
		      const char *dest, git_oid *had, bool any)
{
	struct dirent *de;
	int pass, taken = 0;
	DIR *d;

	for (pass = any ? 1 : 0; pass < (any ? 2 : 1) && !taken; pass++) {
		d = opendir(m->spares);
		if (!d)
			return 0;
		while (!taken && (de = readdir(d))) {
			char *from;

			if (!spare_name(de->d_name, had))
				continue;
			/* first pass: one of the wanted commit */
			if (!pass && git_oid_cmp(had, want))
				continue;
			from = fs_join(m->spares, de->d_name);
			if (rename(from, dest) == 0)
				taken = 1;
			free(from);
		}
		closedir(d);
	}
	return taken;
}

static int open_tree(git_repository *repo, const git_oid *commit,
		     git_tree **tree, struct sw_err *e)
{
	git_commit *c = NULL;
	int ret = 0;

	if (git_commit_lookup(&c, repo, commit) < 0 ||
	    git_commit_tree(tree, c) < 0)
		ret = err_set(e, ERR_FAILED, "cannot read commit: %s",
			      git_msg());
	git_commit_free(c);
	return ret;
}

/* ---- recycling a retired build's tree ---- */

/*
 * A retired tree waiting in the pool is
 * "used.<commit hex>.<sec>.<nsec>.<pid>.<n>": the commit it was checked
 * out at and when it was complete (see mirror_recycle_name()).
 */
static bool used_name(const char *name, git_oid *commit, struct timespec *t)
{
	long long sec;
	long nsec;

	if (strncmp(name, "used.", 5) || strlen(name) < 5 + GIT_OID_HEXSZ + 1 ||
	    name[5 + GIT_OID_HEXSZ] != '.' ||
	    git_oid_fromstrn(commit, name + 5, GIT_OID_HEXSZ) < 0 ||
	    sscanf(name + 5 + GIT_OID_HEXSZ + 1, "%lld.%ld.", &sec, &nsec) !=
		    2 ||
	    nsec < 0 || nsec >= 1000000000L)
		return false;
	t->tv_sec = (time_t)sec;
	t->tv_nsec = nsec;
	return true;
}

char *mirror_recycle_name(const git_oid *commit, const struct timespec *done)
{
	static unsigned long n;
	char hex[GIT_OID_HEXSZ + 1];

	if (commit)
		git_oid_tostr(hex, sizeof(hex), commit);
	else
		memset(hex, '0', GIT_OID_HEXSZ), hex[GIT_OID_HEXSZ] = '\0';
	return xasprintf("used.%s.%lld.%ld.%ld.%lu", hex,
			 (long long)done->tv_sec, (long)done->tv_nsec,
			 (long)getpid(), ++n);
}

size_t mirror_pool_count(const char *pool)
{
	DIR *d = opendir(pool);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += !strncmp(de->d_name, "used.", 5) ||
		     !strncmp(de->d_name, "copy.", 5);
	if (d)
		closedir(d);
	return n;
}

/* Rename a retired tree to dest: 1 taken (*had, *t), 0 none. */
static int take_used(const char *pool, const git_oid *want, const char *dest,
		     git_oid *had, struct timespec *t)
{
	struct dirent *de;
	int pass, taken = 0;
	DIR *d;

	for (pass = 0; pass < 2 && !taken; pass++) {
		d = opendir(pool);
		if (!d)
			return 0;
		while (!taken && (de = readdir(d))) {
			char *from;

			if (!used_name(de->d_name, had, t))
				continue;
			/* first pass: one of the wanted commit */
			if (!pass && want && git_oid_cmp(had, want))
				continue;
			from = fs_join(pool, de->d_name);
			if (rename(from, dest) == 0)
				taken = 1;
			free(from);
		}
		closedir(d);
	}
	return taken;
}

int mirror_take_used(const char *pool, const char *dest, struct timespec *t)
{
	git_oid had;

	return take_used(pool, NULL, dest, &had, t);
}

static int by_path(const void *a, const void *b)
{
	const struct tree_file *x = *(const struct tree_file *const *)a;
	const struct tree_file *y = *(const struct tree_file *const *)b;

	return strcmp(x->path, y->path);
}

static struct tree_file **sorted(const struct tree_files *t)
{
	struct tree_file **v = xcalloc(t->nr ? t->nr : 1, sizeof(*v));

	for (size_t i = 0; i < t->nr; i++)
		v[i] = &t->v[i];
	qsort(v, t->nr, sizeof(*v), by_path);
	return v;
}

static const struct tree_file *find(struct tree_file **v, size_t nr,
				    const char *path)
{
	struct tree_file key = { (char *)path, { { 0 } }, 0 };
	struct tree_file *k = &key, **hit;

	hit = bsearch(&k, v, nr, sizeof(*v), by_path);
	return hit ? *hit : NULL;
}

static bool has_submodule(const struct tree_files *t)
{
	for (size_t i = 0; i < t->nr; i++)
		if (t->v[i].mode == GIT_FILEMODE_COMMIT)
			return true;
	return false;
}

/* What recycling removes goes to one junk directory, deleted later. */
struct junk {
	char *dir; /* <pool>/junk.<pid>.<n>, made when first needed */
	int fd;
	size_t n;
	const char *pool;
};

/* Move at/path (relative to at) into the junk directory. */
static int junk_move(struct junk *j, int at, const char *path, struct sw_err *e)
{
	static unsigned long seq;
	char to[32];

	if (j->fd < 0) {
		j->dir = xasprintf("%s/junk.%ld.%lu", j->pool, (long)getpid(),
				   ++seq);
		if (mkdir(j->dir, 0700) < 0 ||
		    (j->fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						  O_CLOEXEC)) < 0)
			return err_sys(e, "cannot create '%s'", j->dir);
	}
	snprintf(to, sizeof(to), "%zu", ++j->n);
	if (renameat(at, path, j->fd, to) < 0)
		return err_sys(e, "cannot move '%s' out of the tree", path);
	return 0;
}

/* The pool's junk goes to the state directory's trash, deleted there. */
static void junk_done(struct junk *j)
{
	struct sw_err e = SW_ERR_INIT;

	if (j->fd >= 0) {
		char *sources = xstrdup(j->pool), *slash;

		close(j->fd);
		slash = strrchr(sources, '/');
		if (slash)
			*slash = '\0';
		slash = strrchr(sources, '/');
		if (slash)
			*slash = '\0';
		if (retire_tree(sources, j->dir, &e) < 0)
			fs_remove_tree(j->dir, &e);
		free(sources);
	}
	free(j->dir);
	j->dir = NULL;
	j->fd = -1;
}

/* Whatever dest holds below rel that the tree does not have goes. */
/* Whether rel (a directory when dir) is ignored in repo's .gitignore. */
static bool ignored(git_repository *repo, struct buf *rel, bool dir)
{
	size_t len = rel->len;
	int yes = 0;

	if (dir)
		buf_addch(rel, '/');
	if (git_ignore_path_is_ignored(&yes, repo, rel->ptr) < 0) {
		git_error_clear();
		yes = 0;
	}
	buf_setlen(rel, len);
	return yes;
}

static int drop_extras(int dirfd, struct buf *rel, struct tree_file **nv,
		       size_t nr, git_repository *keep_ignored, struct junk *j,
		       struct sw_err *e)
{
	size_t len = rel->len;
	struct dirent *de;
	int fd, ret = -1;
	DIR *d;

	fd = openat(dirfd, len ? rel->ptr : ".",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_sys(e, "cannot read '%s'", len ? rel->ptr : ".");
	}
	while ((de = readdir(d))) {
		const struct tree_file *f;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!len && !strcmp(de->d_name, ".git")))
			continue;
		buf_setlen(rel, len);
		if (len)
			buf_addch(rel, '/');
		buf_addstr(rel, de->d_name);
		f = find(nv, nr, rel->ptr);
		if (!f) {
			struct stat st;
			bool dir = de->d_type == DT_DIR ||
				   (de->d_type == DT_UNKNOWN &&
				    fstatat(dirfd, rel->ptr, &st,
					    AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISDIR(st.st_mode));

			if (keep_ignored && ignored(keep_ignored, rel, dir))
				continue;
			if (junk_move(j, dirfd, rel->ptr, e) < 0)
				goto out;
		} else if (f->mode == GIT_FILEMODE_TREE) {
			if (drop_extras(dirfd, rel, nv, nr, keep_ignored, j,
					e) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	buf_setlen(rel, len);
	closedir(d);
	return ret;
}

/* The mode a fresh checkout gives an entry (the umask applied). */
static mode_t fresh_mode(git_filemode_t mode, mode_t mask)
{
	if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_BLOB_EXECUTABLE)
		return 0777 & ~mask;
	return 0666 & ~mask;
}

/* Whether the entry at st still holds what old checked out there. */
static bool untouched(const struct stat *st, const struct tree_file *f,
		      const struct tree_file *old, const struct timespec *t,
		      mode_t mask)
{
	bool link = f->mode == GIT_FILEMODE_LINK;

	if (!old || old->mode != f->mode || git_oid_cmp(&old->id, &f->id))
		return false;
	/* no write, chmod, link or rename leaves ctime where it was */
	if (st->st_ctim.tv_sec > t->tv_sec ||
	    (st->st_ctim.tv_sec == t->tv_sec &&
	     st->st_ctim.tv_nsec >= t->tv_nsec))
		return false;
	if (link)
		return S_ISLNK(st->st_mode);
	return S_ISREG(st->st_mode) &&
	       (st->st_mode & 07777) == fresh_mode(f->mode, mask);
}

/*
 * dest holds a tree checked out at had and complete at t (a retired
 * build's): make it commit's checkout as checkout() would, writing only
 * the entries that differ or were touched since t and moving out what the
 * commit does not have (build outputs, ignored files and the old .git
 * included). 1 done, 0 not possible here (submodules, filters: dest is
 * left for the caller to clear), -1 failed.
 */
static int recycle(const struct mirror *m, git_repository *mirror,
		   const git_tree *tree, const git_oid *commit,
		   const git_oid *had, const struct timespec *t,
		   const char *origin_url, const char *dest,
		   struct mirror_counts *n, struct sw_err *e)
{
	struct tree_files nt = { NULL, 0, 0, false },
			  ot = { NULL, 0, 0, false };
	struct tree_file **nv = NULL, **ov = NULL;
	struct junk j = { NULL, -1, 0, m->spares };
	git_repository *repo = NULL;
	git_tree *old = NULL;
	git_index *index = NULL;
	git_odb *odb = NULL;
	struct buf rel = BUF_INIT;
	mode_t mask = umask(0);
	int dirfd = -1, ret = -1;
	const char *keep;
	bool same;

	umask(mask);
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, collect_file, &nt) < 0 ||
	    (git_oid_cmp(had, commit) &&
	     (open_tree(mirror, had, &old, e) < 0 ||
	      git_tree_walk(old, GIT_TREEWALK_PRE, collect_file, &ot) < 0))) {
		if (!e->code)
			err_set(e, ERR_FAILED, "cannot read tree: %s",
				git_msg());
		goto out;
	}
	/* the same commit: the old tree is the new one */
	same = !git_oid_cmp(had, commit);
	if (nt.attributes || ot.attributes || has_submodule(&nt) ||
	    has_submodule(&ot)) {
		ret = 0;
		goto out;
	}
	dirfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		err_sys(e, "cannot open '%s'", dest);
		goto out;
	}
	if (fchmod(dirfd, 0777 & ~mask) < 0) {
		err_sys(e, "cannot change the mode of '%s'", dest);
		goto out;
	}
	/* the build may have done anything to its .git: a new one */
	if (faccessat(dirfd, ".git", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    junk_move(&j, dirfd, ".git", e) < 0)
		goto out;
	if (write_git_dir(m, mirror, commit, origin_url, dest, e) < 0)
		goto out;
	if (git_repository_open_ext(&repo, dest, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0 ||
	    git_repository_odb(&odb, repo) < 0 ||
	    git_repository_index(&index, repo) < 0) {
		err_set(e, ERR_FAILED, "cannot open '%s': %s", dest, git_msg());
		goto out;
	}
	if (needs_filters(repo)) {
		ret = 0;
		goto out;
	}
	git_index_clear(index);
	nv = sorted(&nt);
	ov = same ? nv : sorted(&ot);
	for (size_t i = 0; i < nt.nr; i++) {
		const struct tree_file *f = &nt.v[i];
		git_index_entry ie;
		struct stat st;
		bool have =
			fstatat(dirfd, f->path, &st, AT_SYMLINK_NOFOLLOW) == 0;

		if (f->mode == GIT_FILEMODE_TREE) {
			if (have && S_ISDIR(st.st_mode)) {
				if ((st.st_mode & 07777) !=
					    fresh_mode(f->mode, mask) &&
				    fchmodat(dirfd, f->path,
					     fresh_mode(f->mode, mask),
					     0) < 0) {
					err_sys(e,
						"cannot change the mode of "
						"'%s'",
						f->path);
					goto out;
				}
				continue;
			}
		} else if (have &&
			   untouched(&st, f,
				     same ? f : find(ov, ot.nr, f->path), t,
				     mask)) {
			memset(&ie, 0, sizeof(ie));
			ie.path = f->path;
			ie.mode = f->mode;
			git_oid_cpy(&ie.id, &f->id);
			index_stat(&ie, &st);
			n->kept++;
			goto add;
		}
		if (have && junk_move(&j, dirfd, f->path, e) < 0)
			goto out;
		if (write_entry(dirfd, odb, f, &ie, e) < 0)
			goto out;
		if (f->mode == GIT_FILEMODE_TREE)
			continue;
		n->written++;
	add:
		if (git_index_add(index, &ie) < 0) {
			err_set(e, ERR_FAILED, "cannot index '%s': %s", f->path,
				git_msg());
			goto out;
		}
	}
	/* SLIPWAY_KEEP_IGNORED=1: the last build's ignored outputs stay */
	keep = getenv("SLIPWAY_KEEP_IGNORED");
	if (drop_extras(dirfd, &rel, nv, nt.nr,
			keep && !strcmp(keep, "1") ? repo : NULL, &j, e) < 0)
		goto out;
	if (git_index_write(index) < 0) {
		err_set(e, ERR_FAILED, "cannot write the index of '%s': %s",
			dest, git_msg());
		goto out;
	}
	ret = 1;
out:
	/* the old .git counts as one */
	n->removed += j.n;
	junk_done(&j);
	buf_release(&rel);
	if (dirfd >= 0)
		close(dirfd);
	if (ov != nv)
		free(ov);
	free(nv);
	git_index_free(index);
	git_odb_free(odb);
	git_repository_free(repo);
	git_tree_free(old);
	tree_files_release(&nt);
	tree_files_release(&ot);
	return ret;
}

/* Check out commit into dest; how as in mirror_checkout(). */
static int checkout(const struct mirror *m, const git_oid *commit,
		    const char *origin_url, const char *dest, bool use_spare,
		    bool settle, const char **how, struct mirror_counts *n,
		    struct sw_err *e)
{
	struct tree_files t = { NULL, 0, 0, false };
	git_repository *mirror = NULL, *repo = NULL;
	git_tree *tree = NULL, *old = NULL;
	struct timespec done;
	git_oid had;
	bool spare = false;
	int ret = -1;

	if (git_repository_open_bare(&mirror, m->gitdir) < 0) {
		err_set(e, ERR_FAILED, "cannot open mirror '%s': %s", m->gitdir,
			git_msg());
		goto out;
	}
	if (open_tree(mirror, commit, &tree, e) < 0)
		goto out;
	/* a tree prepared at this commit, else a retired one, else any */
	spare = use_spare && take_spare(m, commit, dest, &had, false);
	if (!spare && use_spare &&
	    take_used(m->spares, commit, dest, &had, &done)) {
		struct junk j = { NULL, -1, 0, m->spares };
		int r = recycle(m, mirror, tree, commit, &had, &done,
				origin_url, dest, n, e);

		if (r) {
			*how = "recycled";
			ret = r < 0 ? -1 : 0;
			goto out;
		}
		/* submodules or filters: the tree goes, written afresh */
		r = junk_move(&j, AT_FDCWD, dest, e);
		junk_done(&j);
		if (r < 0)
			goto out;
	}
	if (!spare && use_spare)
		spare = take_spare(m, commit, dest, &had, true);
	if (write_git_dir(m, mirror, commit, origin_url, dest, e) < 0)
		goto out;
	if (git_repository_open_ext(&repo, dest, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
		err_set(e, ERR_FAILED, "cannot open '%s': %s", dest, git_msg());
		goto out;
	}
	if (spare) {
		*how = "spare";
		if (!git_oid_cmp(&had, commit)) {
			ret = 0;
			goto out;
		}
		if (open_tree(mirror, &had, &old, e) < 0 ||
		    libgit2_checkout(repo, tree, old, e) < 0)
			goto out;
		ret = 0;
		goto out;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, collect_file, &t) < 0) {
		err_set(e, ERR_FAILED, "cannot read tree: %s", git_msg());
		goto out;
	}
	if (t.attributes || needs_filters(repo)) {
		*how = "libgit2";
		ret = libgit2_checkout(repo, tree, NULL, e);
		goto out;
	}
	*how = "files";
	ret = write_files(repo, &t, dest, settle, e);
out:
	tree_files_release(&t);
	git_tree_free(old);
	git_tree_free(tree);
	git_repository_free(repo);
	git_repository_free(mirror);
	return ret;
}

int mirror_checkout(const struct mirror *m, const git_oid *commit,
		    const char *origin_url, const char *dest, const char **how,
		    struct mirror_counts *n, struct sw_err *e)
{
	struct mirror_counts ignored = { 0, 0, 0 };

	return checkout(m, commit, origin_url, dest, true, false, how,
			n ? n : &ignored, e);
}

struct spare_job {
	const struct mirror *m;
	git_oid commit;
};

/* In the detached process: make <spares>/<hex>.<pid> unless one is there. */
static void make_spare(void *data)
{
	struct spare_job *job = data;
	const struct mirror *m = job->m;
	struct sw_err e = SW_ERR_INIT;
	char *lock = fs_join(m->spares, ".lock");
	char *tmp = NULL, *done = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	struct mirror_counts counts = { 0, 0, 0 };
	const char *how;
	struct dirent *de;
	bool have = false;
	int fd = -1;
	DIR *d;

	if (fs_mkdir_p(m->spares, 0755, &e) < 0)
		goto out;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out;
	d = opendir(m->spares);
	while (d && (de = readdir(d))) {
		git_oid any;

		if (spare_name(de->d_name, &any) ||
		    !strncmp(de->d_name, "used.", 5)) {
			/* a retired tree is recycled: none is made */
			have = true;
		} else if (!strncmp(de->d_name, "tmp.", 4)) {
			/* left by a process that died */
			char *p = fs_join(m->spares, de->d_name);

			fs_remove_tree(p, &e);
			err_clear(&e);
			free(p);
		}
	}
	if (d)
		closedir(d);
	if (have)
		goto out;
	tmp = xasprintf("%s/tmp.%ld", m->spares, (long)getpid());
	done = xasprintf("%s/%s.%ld", m->spares,
			 git_oid_tostr(hex, sizeof(hex), &job->commit),
			 (long)getpid());
	if (checkout(m, &job->commit, m->url, tmp, false, true, &how, &counts,
		     &e) < 0 ||
	    rename(tmp, done) < 0)
		fs_remove_tree(tmp, &e);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(done);
	free(lock);
}

void mirror_spare_start(const struct mirror *m, const git_oid *commit)
{
	struct spare_job job;

	job.m = m;
	git_oid_cpy(&job.commit, commit);
	retire_detached(make_spare, &job);
}

/* ---- standalone ---- */

/*
 * A copy of from as name in directory dfd, the build's own file: a
 * reflink where the file system shares blocks (FICLONE), else
 * copy_file_range, else read and write; never a link. Nothing through a
 * symlink; a file already there is kept (objects are named by content).
 */
static int clone_object(const char *from, int dfd, const char *name)
{
	char tmp[NAME_MAX + 1];
	struct stat st;
	int in, out, ret = -1;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (snprintf(tmp, sizeof(tmp), ".%s.%ld", name, (long)getpid()) >=
	    (int)sizeof(tmp))
		return errno = ENAMETOOLONG, -1;
	in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (in >= 0)
			close(in);
		return -1;
	}
	unlinkat(dfd, tmp, 0);
	out = openat(dfd, tmp,
		     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     0444);
	if (out < 0)
		goto out;
	if (ioctl(out, FICLONE, in) < 0) {
		off_t left = st.st_size;

		while (left > 0) {
			ssize_t n = copy_file_range(in, NULL, out, NULL,
						    (size_t)left, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && left == st.st_size &&
			    (errno == EXDEV || errno == EINVAL ||
			     errno == ENOSYS || errno == EOPNOTSUPP)) {
				if (copy_rw(in, out) < 0)
					goto out;
				break;
			}
			if (n <= 0)
				goto out;
			left -= n;
		}
	}
	if (close(out) < 0) {
		out = -1;
		goto out;
	}
	out = -1;
	if (renameat(dfd, tmp, dfd, name) < 0)
		goto out;
	ret = 0;
out:
	if (ret)
		unlinkat(dfd, tmp, 0);
	if (out >= 0)
		close(out);
	close(in);
	return ret;
}

/* Directory sub of dfd, made if missing, never through a symlink. */
static int open_subdir(int dfd, const char *sub)
{
	if (mkdirat(dfd, sub, 0755) < 0 && errno != EEXIST)
		return -1;
	return openat(dfd, sub,
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* The build put something else where a directory goes: its failure. */
static int subdir_err(struct sw_err *e, const char *sub)
{
	if (errno == ENOTDIR || errno == ELOOP || errno == EEXIST)
		return err_set(e, ERR_FAILED, "'objects/%s' is not a directory",
			       sub);
	return err_sys(e, "cannot create 'objects/%s'", sub);
}

static bool is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* The packs and loose objects of objects directory src into ofd. */
static int clone_objects(const char *src, int ofd, struct sw_err *e)
{
	static const char *const exts[] = { ".pack", ".rev", ".idx" };
	char *sdir = fs_join(src, "pack");
	DIR *d = opendir(sdir);
	struct dirent *de;
	int ret = 0, pfd = -1;

	while (!ret && d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *base;

		if (len < 10 || strncmp(de->d_name, "pack-", 5) ||
		    strcmp(de->d_name + len - 4, ".idx"))
			continue;
		if (pfd < 0 && (pfd = open_subdir(ofd, "pack")) < 0) {
			ret = subdir_err(e, "pack");
			break;
		}
		base = xstrndup(de->d_name, len - 4);
		/* .idx last: readers find a pack by its index */
		for (size_t i = 0; !ret && i < ARRAY_SIZE(exts); i++) {
			char *from = xasprintf("%s/%s%s", sdir, base, exts[i]);
			char *name = xasprintf("%s%s", base, exts[i]);

			if ((i != 1 || fs_exists(from)) &&
			    clone_object(from, pfd, name) < 0)
				ret = err_sys(e, "cannot copy '%s'", from);
			free(from);
			free(name);
		}
		free(base);
	}
	if (d)
		closedir(d);
	if (pfd >= 0)
		close(pfd);
	free(sdir);
	for (int i = 0; !ret && i < 256; i++) {
		char sub[3];
		char *dir;
		int lfd = -1;

		snprintf(sub, sizeof(sub), "%02x", i);
		dir = fs_join(src, sub);
		d = opendir(dir);
		while (!ret && d && (de = readdir(d))) {
			char *from;

			if (!is_hex(de->d_name, GIT_OID_HEXSZ - 2))
				continue;
			if (lfd < 0 && (lfd = open_subdir(ofd, sub)) < 0) {
				ret = subdir_err(e, sub);
				break;
			}
			from = fs_join(dir, de->d_name);
			if (clone_object(from, lfd, de->d_name) < 0)
				ret = err_sys(e, "cannot copy '%s'", from);
			free(from);
		}
		if (d)
			closedir(d);
		if (lfd >= 0)
			close(lfd);
		free(dir);
	}
	return ret;
}

/* A small file of dfd, never through a symlink, NUL-terminated. */
static int read_small(int dfd, const char *name, char **text)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	*text = NULL;
	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len > (1 << 20)) {
			close(fd);
			buf_release(&b);
			return -1;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*text = xstrdup(buf_cstr(&b));
	buf_release(&b);
	return 0;
}

/* Whether path is sources or under it, both without symlinks. */
static bool under(const char *path, const char *sources)
{
	char *a = realpath(path, NULL), *b = realpath(sources, NULL);
	size_t n = b ? strlen(b) : 0;
	bool yes = a && b && !strncmp(a, b, n) && (!a[n] || a[n] == '/');

	free(a);
	free(b);
	return yes;
}

int mirror_standalone(const char *git, const char *within,
		      const char *sources_dir, bool *changed, struct sw_err *e)
{
	char *objects = fs_join(git, "objects");
	char *alt = fs_join(objects, "info/alternates");
	struct buf keep = BUF_INIT;
	char *text = NULL, *line, *next;
	int ofd = -1, ifd = -1, ret = -1;
	bool copied = false;

	*changed = false;
	if (!under(objects, within)) {
		ret = 0; /* not the build's own: left alone */
		goto out;
	}
	ofd = open(objects, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	ifd = ofd < 0 ? -1
		      : openat(ofd, "info",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ifd < 0 ||
	    faccessat(ifd, "alternates", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = 0;
		goto out;
	}
	if (read_small(ifd, "alternates", &text) < 0) {
		err_sys(e, "cannot read '%s'", alt);
		goto out;
	}
	for (line = text; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (!*line || *line == '#')
			continue;
		if (line[0] != '/' || !under(line, sources_dir)) {
			/* not a mirror's: stays borrowed */
			buf_addf(&keep, "%s\n", line);
			continue;
		}
		if (clone_objects(line, ofd, e) < 0) {
			err_prefix(e, "cannot make '%s' stand alone", git);
			goto out;
		}
		copied = true;
		/* what the mirror borrows itself stays borrowed */
		{
			char *own = fs_join(line, "info/alternates");
			char *t = NULL;
			size_t n;
			struct sw_err ignore = SW_ERR_INIT;

			if (fs_exists(own) &&
			    fs_read_file(own, 1 << 20, &t, &n, &ignore) == 0)
				buf_addf(&keep, "%s%s", t,
					 n && t[n - 1] != '\n' ? "\n" : "");
			free(t);
			free(own);
		}
	}
	if (!copied) {
		ret = 0;
		goto out;
	}
	if (unlinkat(ifd, "alternates", 0) < 0) {
		err_sys(e, "cannot remove '%s'", alt);
		goto out;
	}
	if (keep.len) {
		int fd = openat(ifd, "alternates",
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
					O_NOFOLLOW,
				0644);

		if (fd < 0 || write_all(fd, keep.ptr, keep.len) < 0) {
			err_sys(e, "cannot write '%s'", alt);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
	}
	*changed = true;
	ret = 0;
out:
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	buf_release(&keep);
	free(text);
	free(alt);
	free(objects);
	return ret;
}
