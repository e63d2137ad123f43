#include "artifacts.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "glob.h"
#include "hash.h"
#include "lazylib.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

/* Reads of files and writes of archives. */
#define IO_BUFSZ (512 * 1024)
#define OUT_BLOCK (256 * 1024)
/* How much of a file the zip store decision looks at. */
#define SAMPLE_MAX (64 * 1024)
#define PROGRESS_EVERY_NS (100 * 1000 * 1000ULL)
/* none: bytes per copy_file_range() call, so progress moves */
#define COPY_CHUNK (8 << 20)

#define ZIP_LEVEL 2
#define GZIP_LEVEL 6
#define ZSTD_LEVEL 3

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
		       bool is_symlink, off_t size)
{
	struct artifact_list *l = c->out;
	struct artifact_entry *ent;

	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	ent = &l->v[l->nr++];
	ent->path = path;
	ent->name = xstrdup(name);
	ent->is_symlink = is_symlink;
	ent->size = size;
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
			   false, sb.st_size);
	} else if (S_ISLNK(sb.st_mode) && a->enable_symlinks) {
		push_entry(c, fs_join(preal, slash ? slash + 1 : rel), name,
			   true, 0);
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
			push_entry(c, target, name, false, sb.st_size);
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

/* ---- packaging names ---- */

static const char *const packaging_names[] = { "zip", "tar.gz", "tar.zst",
					       "none" };
static const char *const packaging_exts[] = { ".zip", ".tar.gz", ".tar.zst",
					      "" };

int artifact_packaging_parse(const char *s, enum artifact_packaging *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(packaging_names); i++) {
		if (!strcmp(s, packaging_names[i])) {
			*out = (enum artifact_packaging)i;
			return 0;
		}
	}
	return -1;
}

const char *artifact_packaging_name(enum artifact_packaging p)
{
	if ((size_t)p >= ARRAY_SIZE(packaging_names))
		BUG("bad artifact packaging %d", (int)p);
	return packaging_names[p];
}

const char *artifact_packaging_ext(enum artifact_packaging p)
{
	if ((size_t)p >= ARRAY_SIZE(packaging_exts))
		BUG("bad artifact packaging %d", (int)p);
	return packaging_exts[p];
}

/* ---- progress ---- */

struct progress {
	artifact_progress_fn *fn;
	void *data;
	uint64_t bytes_done, bytes_total;
	size_t files_done, files_total;
	uint64_t next_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void progress_init(struct progress *pg, const struct artifact_list *l,
			  const struct artifact_write_opts *o)
{
	memset(pg, 0, sizeof(*pg));
	if (!o || !o->progress)
		return;
	pg->fn = o->progress;
	pg->data = o->data;
	pg->files_total = l->nr;
	for (size_t i = 0; i < l->nr; i++)
		if (!l->v[i].is_symlink && l->v[i].size > 0)
			pg->bytes_total += (uint64_t)l->v[i].size;
}

/* Report unless the last report was under 100 ms ago; `last` always. */
static void progress_tick(struct progress *pg, bool last)
{
	uint64_t now;

	if (!pg->fn)
		return;
	now = now_ns();
	if (!last && now < pg->next_ns)
		return;
	pg->next_ns = now + PROGRESS_EVERY_NS;
	if (pg->bytes_done > pg->bytes_total)
		pg->bytes_total = pg->bytes_done;
	pg->fn(pg->bytes_done, pg->bytes_total, pg->files_done, pg->files_total,
	       pg->data);
}

static void progress_bytes(struct progress *pg, size_t n)
{
	pg->bytes_done += n;
	progress_tick(pg, false);
}

/* ---- the zip store decision ---- */

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

/* log2(x) for x >= 1, to about 2^-24, without libm. */
static double log2_of(double x)
{
	double r = 0, bit = 1;

	while (x >= 2) {
		x /= 2;
		r += 1;
	}
	for (int i = 0; i < 24; i++) {
		x *= x;
		bit /= 2;
		if (x >= 2) {
			x /= 2;
			r += bit;
		}
	}
	return r;
}

static uint32_t load32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#define EST_HASH_BITS 12
#define EST_MATCH_BITS 24 /* length and distance codes with extra bits */
#define EST_BLOCK_SYMS 16384 /* zlib's symbols per block at memLevel 8 */
#define EST_TREE_BITS (64 * 8) /* a dynamic block's code description */
#define EST_STEP 8192 /* how often the early answer is considered */

/*
 * Does deflate make at least 3% less of p[0..n)? Its size is estimated
 * from greedy matches of 4 or more bytes within 32 KiB (the last position
 * per hash only), then the remaining literals at their order-0 entropy
 * (dynamic Huffman codes) or at 8-9 bits each (the fixed codes zlib picks
 * for small inputs). The estimate misses what a deeper search finds, so
 * it errs towards storing data that compresses very little. A quarter of
 * the bytes in matches so far answers yes at once.
 */
static bool deflate_worth_it(const unsigned char *p, size_t n)
{
	uint32_t head[1 << EST_HASH_BITS];
	uint32_t hist[256] = { 0 };
	uint64_t fixed = 3 + 7, lits = 0, matches = 0;
	unsigned bits = 6;
	double dyn, sum = 0, est;
	size_t i = 0, step = EST_STEP;

	/* a small input needs a small table, and zeroing it costs */
	while (bits < EST_HASH_BITS && ((size_t)1 << (bits + 2)) < n)
		bits++;
	memset(head, 0, sizeof(head[0]) << bits);
	while (i < n) {
		if (i >= step) {
			if ((i - lits) * 4 >= i)
				return true;
			step += EST_STEP;
		}
		if (i + 4 <= n) {
			uint32_t v = load32(p + i);
			uint32_t h = (v * 2654435761u) >> (32 - bits);
			size_t c = head[h];

			head[h] = (uint32_t)i + 1;
			if (c-- && i - c <= 32768 && load32(p + c) == v) {
				size_t len = 4;

				while (i + len < n && len < 258 &&
				       p[c + len] == p[i + len])
					len++;
				matches++;
				i += len;
				continue;
			}
		}
		hist[p[i]]++;
		fixed += p[i] < 144 ? 8 : 9;
		lits++;
		i++;
	}
	fixed += matches * EST_MATCH_BITS;
	for (size_t b = 0; b < 256; b++)
		if (hist[b])
			sum += hist[b] * log2_of(hist[b]);
	dyn = lits ? (double)lits * log2_of((double)lits) - sum : 0;
	dyn += (double)matches * EST_MATCH_BITS +
	       (double)EST_TREE_BITS *
		       (double)((lits + matches) / EST_BLOCK_SYMS + 1);
	est = (dyn < (double)fixed ? dyn : (double)fixed) / 8 + 1;
	return est * 100 < (double)n * 97;
}

/*
 * Store rather than deflate? `head` holds the first n bytes of a file of
 * `size` bytes.
 */
static bool zip_should_store(const char *name, const unsigned char *head,
			     size_t n, off_t size)
{
	if (!size || already_compressed(name))
		return true;
	if (n > SAMPLE_MAX)
		n = SAMPLE_MAX;
	return !deflate_worth_it(head, n);
}

/*
 * ---- archive output: a temporary file, hashed as it is written ----
 *
 * Writing to the page cache and md5 cost about a quarter of a core at
 * archive speeds, so one thread does both while the caller's thread reads
 * and compresses: libarchive's blocks are copied into a few slots and
 * consumed in order. A failure shows at the next block, or at the end.
 */

#define SINK_SLOTS 4

struct sink_slot {
	char *buf;
	size_t len, cap;
};

struct sink {
	int fd;
	const char *file; /* for messages */
	struct hash_ctx sha, md5;
	off_t size; /* the thread's until it is joined */
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	struct sink_slot slot[SINK_SLOTS];
	size_t head, tail; /* slots filled, slots consumed (under mu) */
	bool closing; /* under mu */
	int werr; /* errno of the first failed write (under mu) */
	struct sw_err herr; /* the first hash failure (under mu) */
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

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

static void sink_consume(struct sink *k, const struct sink_slot *s)
{
	struct sw_err e = SW_ERR_INIT;
	int werr = 0;

	if (write_all(k->fd, s->buf, s->len) < 0)
		werr = errno ? errno : EIO;
	else if (hash_update(&k->sha, s->buf, s->len, &e) == 0)
		hash_update(&k->md5, s->buf, s->len, &e);
	k->size += (off_t)s->len;
	if (!werr && !e.code)
		return;
	pthread_mutex_lock(&k->mu);
	if (werr && !k->werr)
		k->werr = werr;
	if (e.code && !k->herr.code)
		k->herr = e;
	pthread_mutex_unlock(&k->mu);
}

static void *sink_main(void *data)
{
	struct sink *k = data;

	for (;;) {
		const struct sink_slot *s;
		bool failed;

		pthread_mutex_lock(&k->mu);
		while (k->head == k->tail && !k->closing)
			pthread_cond_wait(&k->more, &k->mu);
		if (k->head == k->tail) {
			pthread_mutex_unlock(&k->mu);
			return NULL;
		}
		s = &k->slot[k->tail % SINK_SLOTS];
		failed = k->werr || k->herr.code;
		pthread_mutex_unlock(&k->mu);
		if (!failed)
			sink_consume(k, s);
		pthread_mutex_lock(&k->mu);
		k->tail++;
		pthread_cond_signal(&k->room);
		pthread_mutex_unlock(&k->mu);
	}
}

static void sink_init(struct sink *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->more, NULL);
	pthread_cond_init(&k->room, NULL);
}

static int sink_start(struct sink *k, struct sw_err *e)
{
	int rc = pthread_create(&k->thread, NULL, sink_main, k);

	if (rc)
		return err_set(e, ERR_SYSTEM, "cannot start a thread: %s",
			       strerror(rc));
	k->running = true;
	return 0;
}

/* Wait for every block to be written; then report the first failure. */
static int sink_finish(struct sink *k, struct sw_err *e)
{
	if (!k->running)
		return 0;
	pthread_mutex_lock(&k->mu);
	k->closing = true;
	pthread_cond_signal(&k->more);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	k->running = false;
	if (k->werr)
		return err_set(e, ERR_SYSTEM, "cannot write '%s': %s", k->file,
			       strerror(k->werr));
	if (k->herr.code)
		return err_set(e, k->herr.code, "%s", k->herr.msg);
	return 0;
}

static void sink_release(struct sink *k)
{
	struct sw_err ignored = SW_ERR_INIT;

	sink_finish(k, &ignored);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	hash_release(&k->sha);
	hash_release(&k->md5);
	for (size_t i = 0; i < SINK_SLOTS; i++)
		free(k->slot[i].buf);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->more);
	pthread_cond_destroy(&k->room);
}

static la_ssize_t sink_write_cb(struct archive *a, void *data, const void *buf,
				size_t len)
{
	struct sink *k = data;
	struct sink_slot *s;
	int werr, hcode;

	pthread_mutex_lock(&k->mu);
	while (k->head - k->tail == SINK_SLOTS && !k->werr && !k->herr.code)
		pthread_cond_wait(&k->room, &k->mu);
	werr = k->werr;
	hcode = k->herr.code;
	pthread_mutex_unlock(&k->mu);
	if (werr) {
		archive_set_error(a, werr, "write '%s': %s", k->file,
				  strerror(werr));
		return -1;
	}
	if (hcode) {
		archive_set_error(a, EIO, "%s", k->herr.msg);
		return -1;
	}
	/* the slot at head is ours until head moves past it */
	s = &k->slot[k->head % SINK_SLOTS];
	if (s->cap < len) {
		free(s->buf);
		s->buf = xmalloc(len);
		s->cap = len;
	}
	memcpy(s->buf, buf, len);
	s->len = len;
	pthread_mutex_lock(&k->mu);
	k->head++;
	pthread_cond_signal(&k->more);
	pthread_mutex_unlock(&k->mu);
	return (la_ssize_t)len;
}

static ssize_t read_retry(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* ---- zip and tar ---- */

struct pack {
	enum artifact_packaging p;
	struct archive *a;
	struct archive_entry *ent;
	struct nameset dirs; /* borrowed from `dirnames` */
	struct strvec dirnames;
	bool store; /* zip: current compression */
	unsigned char *iobuf;
	struct progress *pg;
};

static const char *packaging_label(enum artifact_packaging p)
{
	return p == ARTIFACT_ZIP ? "zip" : "tar";
}

static int archive_fail(struct pack *k, struct sw_err *e, const char *what,
			const char *name)
{
	const char *msg = archive_error_string(k->a);

	return err_set(e, ERR_SYSTEM, "%s: %s '%s': %s", packaging_label(k->p),
		       what, name, msg ? msg : "unknown libarchive error");
}

static int write_header(struct pack *k, const char *name, struct sw_err *e)
{
	if (archive_write_header(k->a, k->ent) < ARCHIVE_WARN)
		return archive_fail(k, e, "cannot add", name);
	return 0;
}

/* Start an entry: tar keeps whole seconds, so no pax header is needed. */
static void entry_start(struct pack *k, const char *name, mode_t type,
			mode_t perm, const struct timespec *mtime)
{
	archive_entry_clear(k->ent);
	archive_entry_set_pathname(k->ent, name);
	archive_entry_set_filetype(k->ent, type);
	archive_entry_set_perm(k->ent, perm);
	archive_entry_set_mtime(k->ent, mtime->tv_sec,
				k->p == ARTIFACT_ZIP ? mtime->tv_nsec : 0);
}

/* Directory entries for every parent of name not written yet. */
static int write_parents(struct pack *k, const char *name,
			 const struct timespec *mtime, struct sw_err *e)
{
	for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
		char *dir = xasprintf("%.*s/", (int)(s - name), name);

		if (k->dirs.cap && *nameset_find(&k->dirs, dir)) {
			free(dir);
			continue;
		}
		strvec_push_nodup(&k->dirnames, dir);
		nameset_add(&k->dirs, dir);
		entry_start(k, dir, AE_IFDIR, 0755, mtime);
		if (write_header(k, dir, e) < 0)
			return -1;
	}
	return 0;
}

static int write_symlink(struct pack *k, const struct artifact_entry *ent,
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
	if (write_parents(k, ent->name, &sb.st_mtim, e) < 0)
		return -1;
	entry_start(k, ent->name, AE_IFLNK, 0777, &sb.st_mtim);
	archive_entry_set_symlink(k->ent, target);
	return write_header(k, ent->name, e);
}

/* zip: switch between store and deflate for the next entry. */
static int zip_set_store(struct pack *k, bool store, const char *name,
			 struct sw_err *e)
{
	int rc;

	/*
	 * archive_write_set_options() is refused once the archive is open,
	 * but the zip writer's own setters may switch between entries.
	 */
	if (store == k->store)
		return 0;
	rc = store ? archive_write_zip_set_compression_store(k->a)
		   : archive_write_zip_set_compression_deflate(k->a);
	if (rc != ARCHIVE_OK)
		return archive_fail(k, e, "cannot set compression for", name);
	k->store = store;
	return 0;
}

/*
 * One read of up to IO_BUFSZ comes before the header: the zip store
 * decision looks at it, and a small file takes no second read.
 */
static int write_file(struct pack *k, const struct artifact_entry *ent,
		      struct sw_err *e)
{
	bool started = false;
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
	if (write_parents(k, ent->name, &sb.st_mtim, e) < 0)
		goto out;
	for (left = sb.st_size; !started || left > 0;) {
		size_t want = left < IO_BUFSZ ? (size_t)left : IO_BUFSZ;
		ssize_t n = want ? read_retry(fd, k->iobuf, want) : 0;

		if (n < 0) {
			err_sys(e, "cannot read '%s'", ent->path);
			goto out;
		}
		if (n == 0 && want) {
			err_set(e, ERR_SYSTEM,
				"'%s' shrank while being archived", ent->path);
			goto out;
		}
		if (!started) {
			if (k->p == ARTIFACT_ZIP &&
			    zip_set_store(k,
					  zip_should_store(ent->name, k->iobuf,
							   (size_t)n,
							   sb.st_size),
					  ent->name, e) < 0)
				goto out;
			entry_start(k, ent->name, AE_IFREG, sb.st_mode & 0777,
				    &sb.st_mtim);
			archive_entry_set_size(k->ent, sb.st_size);
			if (write_header(k, ent->name, e) < 0)
				goto out;
			started = true;
		}
		if (n && archive_write_data(k->a, k->iobuf, (size_t)n) < 0) {
			archive_fail(k, e, "cannot write", ent->name);
			goto out;
		}
		left -= n;
		progress_bytes(k->pg, (size_t)n);
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* CPUs this process may run on. */
static int cpu_count(void)
{
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int set_option(struct pack *k, const char *module, const char *opt,
		      int val, const char *dest, struct sw_err *e)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", val);
	if (archive_write_set_option(k->a, module, opt, num) != ARCHIVE_OK)
		return archive_fail(k, e, "cannot set options for", dest);
	return 0;
}

static int pack_open(struct pack *k, const struct artifact_write_opts *o,
		     struct sink *sink, const char *dest, struct sw_err *e)
{
	int level = o && o->level > 0 ? o->level : 0;
	int threads = o && o->threads > 0 ? o->threads : cpu_count();

	switch (k->p) {
	case ARTIFACT_ZIP:
		if (archive_write_set_format_zip(k->a) != ARCHIVE_OK ||
		    archive_write_set_options(
			    k->a, "zip:compression=deflate") != ARCHIVE_OK)
			return archive_fail(k, e, "cannot start", dest);
		if (set_option(k, "zip", "compression-level",
			       level ? level : ZIP_LEVEL, dest, e) < 0)
			return -1;
		break;
	case ARTIFACT_TAR_GZ:
		if (archive_write_set_format_pax_restricted(k->a) !=
			    ARCHIVE_OK ||
		    archive_write_add_filter_gzip(k->a) != ARCHIVE_OK)
			return archive_fail(k, e, "cannot start", dest);
		if (set_option(k, "gzip", "compression-level",
			       level ? level : GZIP_LEVEL, dest, e) < 0)
			return -1;
		/* no mtime in the gzip header: same tree, same bytes */
		if (archive_write_set_filter_option(k->a, "gzip", "timestamp",
						    NULL) != ARCHIVE_OK)
			return archive_fail(k, e, "cannot set options for",
					    dest);
		break;
	case ARTIFACT_TAR_ZST:
		if (archive_write_set_format_pax_restricted(k->a) !=
			    ARCHIVE_OK ||
		    archive_write_add_filter_zstd(k->a) != ARCHIVE_OK)
			return archive_fail(k, e, "cannot start", dest);
		if (set_option(k, "zstd", "compression-level",
			       level ? level : ZSTD_LEVEL, dest, e) < 0)
			return -1;
		/* an older libarchive knows no threads: one thread then */
		if (threads > 1) {
			char num[16];

			snprintf(num, sizeof(num), "%d", threads);
			archive_write_set_filter_option(k->a, "zstd", "threads",
							num);
		}
		break;
	default:
		BUG("bad packaging %d for an archive", (int)k->p);
	}
	if (archive_write_set_bytes_per_block(k->a, OUT_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(k->a, 1) != ARCHIVE_OK ||
	    archive_write_open(k->a, sink, NULL, sink_write_cb, NULL) !=
		    ARCHIVE_OK)
		return archive_fail(k, e, "cannot start", dest);
	return 0;
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

static int write_archive(const struct artifact_list *l, const char *dest,
			 enum artifact_packaging p,
			 const struct artifact_write_opts *o,
			 struct progress *pg, struct artifact_digest *dg,
			 struct sw_err *e)
{
	struct pack k = { .p = p, .pg = pg };
	char *tmp = fs_tmp_name(dest);
	struct sink sink;
	int ret = -1;

	if (lazylib_need("archive", e) < 0) {
		free(tmp);
		return -1;
	}
	/*
	 * libarchive sets up and tears down zlib's state (some 270 KiB) for
	 * every deflated entry; with glibc's default trim threshold each
	 * free shrinks the heap (a TLB flush on every CPU) and the next
	 * entry faults it back in: on a 2-CPU virtual machine that doubled
	 * the time of a zip of many small files. Keep freed memory instead;
	 * the setting is the process's, and harmless to the rest of it.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	sink_init(&sink);
	strvec_init(&k.dirnames);
	sink.file = tmp;
	/* locked while written: a sweep takes only a dead writer's */
	sink.fd = fs_tmp_create(tmp, 0644, e);
	if (sink.fd < 0)
		goto out;
	if (hash_init(&sink.sha, HASH_SHA256, e) < 0 ||
	    hash_init(&sink.md5, HASH_MD5, e) < 0 || sink_start(&sink, e) < 0)
		goto out;
	k.a = archive_write_new();
	k.ent = archive_entry_new();
	k.iobuf = xmalloc(IO_BUFSZ);
	if (!k.a || !k.ent) {
		err_set(e, ERR_SYSTEM, "%s: cannot allocate libarchive state",
			packaging_label(p));
		goto out;
	}
	if (pack_open(&k, o, &sink, dest, e) < 0)
		goto out;
	for (size_t i = 0; i < l->nr; i++) {
		const struct artifact_entry *ent = &l->v[i];

		if ((ent->is_symlink ? write_symlink(&k, ent, e)
				     : write_file(&k, ent, e)) < 0)
			goto out;
		pg->files_done++;
		progress_tick(pg, false);
	}
	if (archive_write_close(k.a) != ARCHIVE_OK) {
		archive_fail(&k, e, "cannot finish", dest);
		goto out;
	}
	if (sink_finish(&sink, e) < 0)
		goto out;
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
	if (hash_final(&sink.sha, dg->sha256, e) < 0 ||
	    hash_final(&sink.md5, dg->md5, e) < 0)
		goto out;
	dg->size = sink.size;
	if (rename(tmp, dest) < 0) {
		err_sys(e, "cannot rename '%s' to '%s'", tmp, dest);
		goto out;
	}
	fsync_dir_of(dest);
	ret = 0;
out:
	if (k.a)
		archive_write_free(k.a);
	archive_entry_free(k.ent);
	sink_release(&sink);
	if (ret < 0)
		unlink(tmp);
	free(k.dirs.slot);
	strvec_release(&k.dirnames);
	free(k.iobuf);
	free(tmp);
	return ret;
}

/* ---- none: a directory tree ---- */

struct tree_item {
	const char *name; /* borrowed from the list */
	char type; /* 'f' or 'l' */
	mode_t perm;
	off_t size;
	time_t mtime;
	char *target; /* links */
};

struct tree {
	int root; /* the temporary directory */
	struct nameset dirs; /* borrowed from `dirnames` */
	struct strvec dirnames;
	struct tree_item *items;
	char *iobuf;
	struct progress *pg;
};

/* A relative name whose every component is a plain name. */
static bool name_is_plain(const char *name)
{
	const char *s = name;

	if (!*name || *name == '/')
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (!n || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/' && !*++s)
			return false;
	}
	return true;
}

/*
 * Create the parents of name under the root. Every parent must be a
 * directory made here, so that nothing is written through a link.
 */
static int tree_parents(struct tree *t, const char *name, struct sw_err *e)
{
	for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
		char *dir = xstrndup(name, (size_t)(s - name));

		if (t->dirs.cap && *nameset_find(&t->dirs, dir)) {
			free(dir);
			continue;
		}
		if (mkdirat(t->root, dir, 0755) < 0) {
			err_sys(e, "cannot create directory '%s'", dir);
			free(dir);
			return -1;
		}
		strvec_push_nodup(&t->dirnames, dir);
		nameset_add(&t->dirs, dir);
	}
	return 0;
}

static bool copy_fallback_errno(int err)
{
	return err == EXDEV || err == ENOSYS || err == EINVAL ||
	       err == EOPNOTSUPP || err == EBADF;
}

static int tree_copy_data(struct tree *t, int in, int out, off_t size,
			  const struct artifact_entry *ent, struct sw_err *e)
{
	bool rw = false;

	while (size > 0) {
		size_t want = size < COPY_CHUNK ? (size_t)size : COPY_CHUNK;
		ssize_t n;

		if (!rw) {
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && copy_fallback_errno(errno)) {
				rw = true;
				continue;
			}
		} else {
			if (want > IO_BUFSZ)
				want = IO_BUFSZ;
			n = read_retry(in, t->iobuf, want);
			if (n > 0 && write_all(out, t->iobuf, (size_t)n) < 0)
				return err_sys(e, "cannot write '%s'",
					       ent->name);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(e, "cannot copy '%s'", ent->path);
		if (n == 0)
			return err_set(e, ERR_SYSTEM,
				       "'%s' shrank while being copied",
				       ent->path);
		size -= n;
		progress_bytes(t->pg, (size_t)n);
	}
	return 0;
}

static int tree_file(struct tree *t, const struct artifact_entry *ent,
		     struct tree_item *it, struct sw_err *e)
{
	struct timespec times[2];
	struct stat sb;
	int in, out = -1, ret = -1;

	in = open(ent->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return err_sys(e, "cannot open '%s'", ent->path);
	if (fstat(in, &sb) < 0) {
		err_sys(e, "cannot stat '%s'", ent->path);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(e, ERR_SYSTEM, "'%s' is not a regular file", ent->path);
		goto out;
	}
	out = openat(t->root, ent->name,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0600);
	if (out < 0) {
		err_sys(e, "cannot create '%s'", ent->name);
		goto out;
	}
	if (tree_copy_data(t, in, out, sb.st_size, ent, e) < 0)
		goto out;
	times[0].tv_sec = 0;
	times[0].tv_nsec = UTIME_OMIT;
	times[1] = sb.st_mtim;
	if (fchmod(out, sb.st_mode & 0777) < 0 || futimens(out, times) < 0) {
		err_sys(e, "cannot set mode and time of '%s'", ent->name);
		goto out;
	}
	if (close(out) < 0) {
		out = -1;
		err_sys(e, "cannot write '%s'", ent->name);
		goto out;
	}
	out = -1;
	it->type = 'f';
	it->perm = sb.st_mode & 0777;
	it->size = sb.st_size;
	it->mtime = sb.st_mtim.tv_sec;
	ret = 0;
out:
	if (out >= 0)
		close(out);
	close(in);
	return ret;
}

static int tree_symlink(struct tree *t, const struct artifact_entry *ent,
			struct tree_item *it, struct sw_err *e)
{
	char target[PATH_MAX];
	struct timespec times[2];
	struct stat sb;
	ssize_t n;

	if (lstat(ent->path, &sb) < 0)
		return err_sys(e, "cannot stat '%s'", ent->path);
	n = readlink(ent->path, target, sizeof(target) - 1);
	if (n < 0)
		return err_sys(e, "cannot read link '%s'", ent->path);
	target[n] = '\0';
	if (symlinkat(target, t->root, ent->name) < 0)
		return err_sys(e, "cannot create link '%s'", ent->name);
	times[0].tv_sec = 0;
	times[0].tv_nsec = UTIME_OMIT;
	times[1] = sb.st_mtim;
	/* a link's own time is cosmetic: not every filesystem keeps it */
	utimensat(t->root, ent->name, times, AT_SYMLINK_NOFOLLOW);
	it->type = 'l';
	it->perm = 0777;
	it->size = 0;
	it->mtime = sb.st_mtim.tv_sec;
	it->target = xstrdup(target);
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tree_item *)a)->name,
		      ((const struct tree_item *)b)->name);
}

/* The digest of the canonical listing described in artifacts.h. */
static int tree_digest(struct tree_item *items, size_t nr,
		       struct artifact_digest *dg, struct sw_err *e)
{
	struct buf b = BUF_INIT;
	int ret;

	qsort(items, nr, sizeof(*items), item_cmp);
	dg->size = 0;
	for (size_t i = 0; i < nr; i++) {
		const struct tree_item *it = &items[i];

		/* each field ends in a NUL: buf_addf() counts them */
		buf_addf(&b, "%s%c%c%c%o%c%lld%c%lld%c%s%c", it->name, 0,
			 it->type, 0, (unsigned)it->perm, 0,
			 (long long)it->size, 0, (long long)it->mtime, 0,
			 it->target ? it->target : "", 0);
		dg->size += it->size;
	}
	ret = hash_buf(HASH_SHA256, b.ptr ? b.ptr : "", b.len, dg->sha256, e);
	if (!ret)
		ret = hash_buf(HASH_MD5, b.ptr ? b.ptr : "", b.len, dg->md5, e);
	buf_release(&b);
	return ret;
}

/*
 * Put the finished tree `tmp` at dest. An exchange of names keeps a dest
 * in place at every moment; without it, the old dest goes aside first.
 * The old tree is removed last, and a failure to remove it is not the
 * artifact's failure.
 */
static int tree_install(const char *tmp, const char *dest, struct sw_err *e)
{
	struct sw_err ignored = SW_ERR_INIT;
	char *old;

	if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_EXCHANGE)) {
		fsync_dir_of(dest);
		fs_remove_tree(tmp, &ignored);
		return 0;
	}
	if (errno == ENOENT) {
		if (rename(tmp, dest) < 0)
			return err_sys(e, "cannot rename '%s' to '%s'", tmp,
				       dest);
		fsync_dir_of(dest);
		return 0;
	}
	if (!copy_fallback_errno(errno))
		return err_sys(e, "cannot replace '%s'", dest);
	{
		char *aside = xasprintf("%s.old", dest);

		/* named as a temporary: a sweep finds it after a kill */
		old = fs_tmp_name(aside);
		free(aside);
	}
	fs_remove_tree(old, &ignored);
	if (rename(dest, old) < 0) {
		err_sys(e, "cannot move '%s' aside", dest);
		free(old);
		return -1;
	}
	if (rename(tmp, dest) < 0) {
		err_sys(e, "cannot rename '%s' to '%s'", tmp, dest);
		rename(old, dest);
		free(old);
		return -1;
	}
	fsync_dir_of(dest);
	fs_remove_tree(old, &ignored);
	free(old);
	return 0;
}

static int write_tree(const struct artifact_list *l, const char *dest,
		      struct progress *pg, struct artifact_digest *dg,
		      struct sw_err *e)
{
	struct tree t = { .root = -1, .pg = pg };
	struct sw_err ignored = SW_ERR_INIT;
	char *tmp = fs_tmp_name(dest);
	bool made = false;
	int ret = -1;

	strvec_init(&t.dirnames);
	t.items = xcalloc(l->nr ? l->nr : 1, sizeof(*t.items));
	t.iobuf = xmalloc(IO_BUFSZ);
	/* a leftover of a dead process with our pid */
	if (fs_remove_tree(tmp, e) < 0)
		goto out;
	if (mkdir(tmp, 0755) < 0) {
		err_sys(e, "cannot create '%s'", tmp);
		goto out;
	}
	made = true;
	t.root = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (t.root >= 0 && flock(t.root, LOCK_EX | LOCK_NB) < 0) {
		close(t.root);
		t.root = -1;
	}
	if (t.root < 0) {
		err_sys(e, "cannot open '%s'", tmp);
		goto out;
	}
	for (size_t i = 0; i < l->nr; i++) {
		const struct artifact_entry *ent = &l->v[i];

		t.items[i].name = ent->name;
		if (!name_is_plain(ent->name)) {
			err_set(e, ERR_SYSTEM,
				"artifact name '%s' cannot be a path in a "
				"directory",
				ent->name);
			goto out;
		}
		if (tree_parents(&t, ent->name, e) < 0 ||
		    (ent->is_symlink ? tree_symlink(&t, ent, &t.items[i], e)
				     : tree_file(&t, ent, &t.items[i], e)) < 0)
			goto out;
		pg->files_done++;
		progress_tick(pg, false);
	}
	if (syncfs(t.root) < 0) {
		err_sys(e, "cannot sync '%s'", tmp);
		goto out;
	}
	close(t.root);
	t.root = -1;
	if (tree_digest(t.items, l->nr, dg, e) < 0 ||
	    tree_install(tmp, dest, e) < 0)
		goto out;
	made = false;
	ret = 0;
out:
	if (t.root >= 0)
		close(t.root);
	if (made)
		fs_remove_tree(tmp, &ignored);
	for (size_t i = 0; i < l->nr; i++)
		free(t.items[i].target);
	free(t.items);
	free(t.iobuf);
	free(t.dirs.slot);
	strvec_release(&t.dirnames);
	free(tmp);
	return ret;
}

/* ---- entry points ---- */

int artifacts_write(const struct artifact_list *l, const char *dest,
		    enum artifact_packaging p,
		    const struct artifact_write_opts *o,
		    struct artifact_digest *d, struct sw_err *e)
{
	struct artifact_digest dg = { .files = l->nr };
	struct progress pg;
	int ret;

	progress_init(&pg, l, o);
	if (p == ARTIFACT_NONE)
		ret = write_tree(l, dest, &pg, &dg, e);
	else
		ret = write_archive(l, dest, p, o, &pg, &dg, e);
	if (ret < 0)
		return -1;
	progress_tick(&pg, true);
	if (d)
		*d = dg;
	return 0;
}

int artifacts_write_zip(const struct artifact_list *l, const char *dest,
			struct artifact_digest *d, struct sw_err *e)
{
	return artifacts_write(l, dest, ARTIFACT_ZIP, NULL, d, e);
}
