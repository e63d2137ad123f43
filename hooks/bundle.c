#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "lazylib.h"
#include "xalloc.h"
#include "banned.h"

/* Symbolic links followed while resolving one link, as the kernel. */
#define MAX_LINK_HOPS 40
#define READ_BLOCK (64 * 1024)
/* How much of an entry's name goes into a message. */
#define QNAME_MAX 200

/*
 * The bundle as a table of normalised relative paths ("a/b", no "." or
 * ".." components, the root itself never in it), so that every entry can
 * be judged against what came before it, and the final tree is known
 * before a byte is written.
 */
enum node_type {
	N_DIR = 1,
	N_IMPLIED, /* a parent never listed: a 0755 directory */
	N_FILE, /* a regular file or a hard link to one */
	N_LINK,
};

struct node {
	char *path;
	char *target; /* N_LINK: the link's text */
	size_t len;
	uint32_t hash;
	uint8_t type;
	mode_t mode;
	bool has_mtime;
	struct timespec mtime;
};

struct table {
	struct node *nodes;
	size_t nr, alloc;
	uint32_t *slots; /* node index + 1; 0 is empty */
	size_t nslots;
	uint64_t name_bytes; /* of every path kept */
};

/*
 * The paths of entries and of the parents they imply are kept for the
 * checks. Deep names imply many long parents (a 4 KiB name of 2,000
 * components keeps 4 MiB), so their total is bounded too.
 */
#define BUNDLE_MAX_NAME_BYTES (256ULL << 20)

struct check {
	const char *bundle;
	const struct bundle_opts *o;
	struct table t;
	uint64_t seen; /* every entry, for the bound */
	uint64_t entries; /* entries other than the root */
	uint64_t bytes; /* declared sizes of regular files */
	uint64_t archive_size; /* of the archive, for the ratio; 0: none */
	bool drop_setid; /* a directory walk clears setuid and setgid bits */
};

/* What one entry is, whatever it came from (archive or directory). */
struct entry {
	const char *name;
	mode_t type; /* S_IF* */
	const char *hardlink; /* the target of a hard link, or NULL */
	const char *symlink;
	int64_t size;
	bool size_set;
	mode_t perm;
	bool has_mtime;
	struct timespec mtime;
};

/* Printable, bounded and on one line, for messages. */
struct qname {
	char s[QNAME_MAX * 4 + 8];
};

static const char *qname(struct qname *q, const char *s)
{
	size_t o = 0, i;

	for (i = 0; s[i] && i < QNAME_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\') {
			snprintf(q->s + o, sizeof(q->s) - o, "\\x%02x", ch);
			o += 4;
		} else {
			q->s[o++] = (char)ch;
		}
	}
	if (s[i]) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o] = '\0';
	return q->s;
}

/* ---- the table ---- */

static uint32_t hash_path(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct node *table_find(struct table *t, const char *s, size_t n)
{
	uint32_t h = hash_path(s, n);
	size_t i;

	if (!t->nslots)
		return NULL;
	for (i = h & (t->nslots - 1); t->slots[i];
	     i = (i + 1) & (t->nslots - 1)) {
		struct node *x = &t->nodes[t->slots[i] - 1];

		if (x->hash == h && x->len == n && !memcmp(x->path, s, n))
			return x;
	}
	return NULL;
}

static void table_slot(struct table *t, size_t idx)
{
	size_t i = t->nodes[idx].hash & (t->nslots - 1);

	while (t->slots[i])
		i = (i + 1) & (t->nslots - 1);
	t->slots[i] = (uint32_t)(idx + 1);
}

/* Add a path known to be absent; the returned node moves on the next add. */
static struct node *table_add(struct table *t, const char *s, size_t n,
			      uint8_t type)
{
	struct node *x;

	if ((t->nr + 1) * 2 > t->nslots) {
		size_t i;

		t->nslots = t->nslots ? t->nslots * 2 : 64;
		free(t->slots);
		t->slots = xcalloc(t->nslots, sizeof(*t->slots));
		for (i = 0; i < t->nr; i++)
			table_slot(t, i);
	}
	ALLOC_GROW(t->nodes, t->nr + 1, t->alloc);
	x = &t->nodes[t->nr];
	memset(x, 0, sizeof(*x));
	x->path = xstrndup(s, n);
	x->len = n;
	t->name_bytes += n + 1;
	x->hash = hash_path(s, n);
	x->type = type;
	x->mode = 0755;
	table_slot(t, t->nr++);
	return x;
}

static void table_release(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		free(t->nodes[i].path);
		free(t->nodes[i].target);
	}
	free(t->nodes);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static bool is_dir_type(uint8_t type)
{
	return type == N_DIR || type == N_IMPLIED;
}

/* ---- names ---- */

enum norm_err { NORM_OK, NORM_EMPTY, NORM_ABSOLUTE, NORM_DOTDOT, NORM_LONG };

/* "./a//b/" -> "a/b" into out; "" is the root. */
static enum norm_err normalise(const char *raw, struct buf *out)
{
	const char *p, *end;

	buf_clear(out);
	if (!raw || !*raw)
		return NORM_EMPTY;
	if (raw[0] == '/')
		return NORM_ABSOLUTE;
	for (p = raw; *p; p = end) {
		size_t n;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (!n || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NORM_DOTDOT;
		if (n > NAME_MAX)
			return NORM_LONG;
		if (out->len)
			buf_addch(out, '/');
		buf_add(out, p, n);
		if (out->len >= PATH_MAX)
			return NORM_LONG;
	}
	if (!out->len)
		buf_addstr(out, "");
	return NORM_OK;
}

static int name_error(struct check *c, enum norm_err ne, const char *name,
		      uint64_t nr, struct sw_err *e)
{
	struct qname b, q;

	qname(&b, c->bundle);
	switch (ne) {
	case NORM_EMPTY:
		return err_set(e, ERR_SPEC,
			       "'%s': entry %llu has an empty name", b.s,
			       (unsigned long long)nr);
	case NORM_ABSOLUTE:
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' is an absolute path", b.s,
			       qname(&q, name));
	case NORM_DOTDOT:
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' has a '..' component", b.s,
			       qname(&q, name));
	case NORM_LONG:
		return err_set(e, ERR_SPEC, "'%s': entry '%s': name too long",
			       b.s, qname(&q, name));
	case NORM_OK:
		break;
	}
	BUG("name_error(NORM_OK)");
}

/*
 * Resolve link x's target through the table's links, as the kernel would
 * on the final tree; components that do not exist are taken lexically.
 * Returns 0 when it stays inside the root.
 */
static int resolve_link(struct check *c, const struct node *x, struct sw_err *e)
{
	struct buf cur = BUF_INIT, rest = BUF_INIT, tmp = BUF_INIT;
	const char *slash = strrchr(x->path, '/');
	struct qname b, q, t;
	int hops = 0, ret = -1;
	size_t pos = 0;

	qname(&b, c->bundle);
	if (slash)
		buf_add(&cur, x->path, (size_t)(slash - x->path));
	buf_addstr(&rest, x->target);
	while (pos < rest.len) {
		const char *p = rest.ptr + pos, *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		struct node *y;

		pos += n + (*end == '/');
		if (!n || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			const char *s;

			if (!cur.len) {
				err_set(e, ERR_SPEC,
					"'%s': entry '%s' is a symbolic link "
					"to "
					"'%s', outside the bundle",
					b.s, qname(&q, x->path),
					qname(&t, x->target));
				goto out;
			}
			s = strrchr(cur.ptr, '/');
			buf_setlen(&cur, s ? (size_t)(s - cur.ptr) : 0);
			continue;
		}
		buf_clear(&tmp);
		if (cur.len) {
			buf_add(&tmp, cur.ptr, cur.len);
			buf_addch(&tmp, '/');
		}
		buf_add(&tmp, p, n);
		y = table_find(&c->t, tmp.ptr, tmp.len);
		if (!y || y->type != N_LINK) {
			buf_setlen(&cur, 0);
			buf_add(&cur, tmp.ptr, tmp.len);
			continue;
		}
		if (++hops > MAX_LINK_HOPS) {
			err_set(e, ERR_SPEC,
				"'%s': entry '%s': too many levels of symbolic "
				"links",
				b.s, qname(&q, x->path));
			goto out;
		}
		if (y->target[0] == '/') {
			err_set(e, ERR_SPEC,
				"'%s': entry '%s' is a symbolic link to '%s', "
				"outside the bundle",
				b.s, qname(&q, x->path), qname(&t, x->target));
			goto out;
		}
		/* Splice the link's text in front of what is left. */
		buf_clear(&tmp);
		buf_addstr(&tmp, y->target);
		buf_addch(&tmp, '/');
		buf_add(&tmp, rest.ptr + pos, rest.len - pos);
		buf_clear(&rest);
		buf_add(&rest, tmp.ptr, tmp.len);
		pos = 0;
		if (rest.len > (size_t)MAX_LINK_HOPS * PATH_MAX) {
			err_set(e, ERR_SPEC,
				"'%s': entry '%s': symbolic link too long", b.s,
				qname(&q, x->path));
			goto out;
		}
	}
	ret = 0;
out:
	buf_release(&cur);
	buf_release(&rest);
	buf_release(&tmp);
	return ret;
}

/* Every link of the final tree stays inside it. */
static int check_links(struct check *c, struct sw_err *e)
{
	size_t i;

	for (i = 0; i < c->t.nr; i++)
		if (c->t.nodes[i].type == N_LINK &&
		    resolve_link(c, &c->t.nodes[i], e) < 0)
			return -1;
	return 0;
}

static const char *type_word(mode_t type)
{
	switch (type) {
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	default:
		return "of an unsupported type";
	}
}

static const char *node_word(uint8_t type)
{
	return is_dir_type(type) ? "a directory"
	       : type == N_LINK	 ? "a symbolic link"
				 : "a file";
}

static int name_bound(struct check *c, struct sw_err *e)
{
	struct qname b;

	return err_set(e, ERR_SPEC,
		       "'%s': the names of the entries and of the directories "
		       "they imply add up to more than %llu MiB",
		       qname(&b, c->bundle),
		       (unsigned long long)(BUNDLE_MAX_NAME_BYTES >> 20));
}

/* "10 GiB", "512 MiB", "100 KiB" or "12345 bytes". */
static const char *show_size(char *out, size_t n, uint64_t v)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		unsigned shift = 10 * (unsigned)(ARRAY_SIZE(units) - i);

		if (v && !(v & ((1ULL << shift) - 1))) {
			snprintf(out, n, "%llu %s",
				 (unsigned long long)(v >> shift), units[i]);
			return out;
		}
	}
	snprintf(out, n, "%llu bytes", (unsigned long long)v);
	return out;
}

/*
 * The bounds on what a bundle unpacks to: total bytes of regular files
 * so far, name the entry that brought them there.
 */
static int check_total(const struct check *c, const char *name, uint64_t total,
		       struct sw_err *e)
{
	const struct bundle_opts *o = c->o;
	struct qname b, q;
	char sz[64];

	if (total > o->max_bytes)
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' expands the bundle past %s "
			       "(--max-bundle-size)",
			       qname(&b, c->bundle), qname(&q, name),
			       show_size(sz, sizeof(sz), o->max_bytes));
	if (c->archive_size && total > BUNDLE_RATIO_FLOOR &&
	    /* the product cannot overflow once the quotient is known */
	    total / o->max_ratio >= c->archive_size &&
	    total > c->archive_size * o->max_ratio)
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' expands the bundle past %llu "
			       "times its size of %llu bytes "
			       "(--max-bundle-ratio)",
			       qname(&b, c->bundle), qname(&q, name),
			       (unsigned long long)o->max_ratio,
			       (unsigned long long)c->archive_size);
	return 0;
}

/* Make sure every parent of path (normalised, non-empty) is a directory. */
static int check_parents(struct check *c, const char *path, size_t len,
			 struct sw_err *e)
{
	size_t n = len;
	struct qname b, q, p;

	/* Find the deepest ancestor already known. */
	for (;;) {
		struct node *x;

		while (n > 0 && path[n - 1] != '/')
			n--;
		if (!n)
			break;
		n--; /* the slash */
		x = table_find(&c->t, path, n);
		if (!x)
			continue;
		if (is_dir_type(x->type)) {
			n++;
			break;
		}
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' is inside %s '%s'",
			       qname(&b, c->bundle), qname(&q, path),
			       node_word(x->type), qname(&p, x->path));
	}
	/* Everything below it is new: implied directories, which count. */
	for (; n < len; n++) {
		if (path[n] != '/' || !n)
			continue;
		if (++c->seen > c->o->max_entries)
			return err_set(e, ERR_SPEC,
				       "'%s': more than %llu entries",
				       qname(&b, c->bundle),
				       (unsigned long long)c->o->max_entries);
		if (c->t.name_bytes + n > BUNDLE_MAX_NAME_BYTES)
			return name_bound(c, e);
		table_add(&c->t, path, n, N_IMPLIED);
	}
	return 0;
}

/*
 * Judge one entry against the ones before it and record it. *out gets
 * the node (NULL for the root); norm holds the normalised path.
 */
static int check_entry(struct check *c, const struct entry *en,
		       struct buf *norm, struct buf *tnorm, struct node **out,
		       struct sw_err *e)
{
	const struct bundle_opts *o = c->o;
	enum norm_err ne;
	struct node *x;
	struct qname b, q, t;
	uint8_t want;

	*out = NULL;
	qname(&b, c->bundle);
	if (++c->seen > o->max_entries)
		return err_set(e, ERR_SPEC, "'%s': more than %llu entries", b.s,
			       (unsigned long long)o->max_entries);
	ne = normalise(en->name, norm);
	if (ne != NORM_OK)
		return name_error(c, ne, en->name, c->seen, e);
	if (!norm->len) {
		if (en->type != S_IFDIR || en->hardlink)
			return err_set(e, ERR_SPEC,
				       "'%s': entry '%s' is the bundle's root "
				       "but not a directory",
				       b.s, qname(&q, en->name));
		return 0;
	}
	c->entries++;

	if (en->hardlink) {
		struct node *y;

		ne = normalise(en->hardlink, tnorm);
		y = ne == NORM_OK && tnorm->len
			    ? table_find(&c->t, tnorm->ptr, tnorm->len)
			    : NULL;
		if (!y || y->type != N_FILE || !strcmp(tnorm->ptr, norm->ptr))
			return err_set(
				e, ERR_SPEC,
				"'%s': entry '%s' is a hard link to '%s', "
				"not an earlier file of the bundle",
				b.s, qname(&q, norm->ptr),
				qname(&t, en->hardlink));
		want = N_FILE;
	} else if (en->type == S_IFREG) {
		want = N_FILE;
	} else if (en->type == S_IFDIR) {
		want = N_DIR;
	} else if (en->type == S_IFLNK) {
		if (!en->symlink || !en->symlink[0])
			return err_set(e, ERR_SPEC,
				       "'%s': entry '%s' is a symbolic link "
				       "with an empty target",
				       b.s, qname(&q, norm->ptr));
		if (en->symlink[0] == '/')
			return err_set(e, ERR_SPEC,
				       "'%s': entry '%s' is a symbolic link to "
				       "the absolute path '%s'",
				       b.s, qname(&q, norm->ptr),
				       qname(&t, en->symlink));
		if (strlen(en->symlink) >= PATH_MAX)
			return err_set(e, ERR_SPEC,
				       "'%s': entry '%s': symbolic link too "
				       "long",
				       b.s, qname(&q, norm->ptr));
		want = N_LINK;
	} else {
		return err_set(e, ERR_SPEC, "'%s': entry '%s' is %s", b.s,
			       qname(&q, norm->ptr), type_word(en->type));
	}

	if (check_parents(c, norm->ptr, norm->len, e) < 0)
		return -1;
	x = table_find(&c->t, norm->ptr, norm->len);
	if (x && !(x->type == want || (want == N_DIR && is_dir_type(x->type))))
		return err_set(e, ERR_SPEC,
			       "'%s': entry '%s' appears twice, first as %s, "
			       "then as %s",
			       b.s, qname(&q, norm->ptr), node_word(x->type),
			       node_word(want));
	if (!x && c->t.name_bytes + norm->len > BUNDLE_MAX_NAME_BYTES)
		return name_bound(c, e);
	if (!x)
		x = table_add(&c->t, norm->ptr, norm->len, want);
	x->type = want;

	if (want == N_FILE && !en->hardlink && en->size_set) {
		if (en->size < 0)
			return err_set(e, ERR_SPEC,
				       "'%s': entry '%s' has a negative size",
				       b.s, qname(&q, norm->ptr));
		if (check_total(c, norm->ptr,
				(uint64_t)en->size > UINT64_MAX - c->bytes
					? UINT64_MAX
					: c->bytes + (uint64_t)en->size,
				e) < 0)
			return -1;
		c->bytes += (uint64_t)en->size;
	}
	x->mode = en->perm & 07777;
	if (!o->keep_setid)
		x->mode &= ~(mode_t)(S_ISUID | S_ISGID);
	x->has_mtime = en->has_mtime;
	x->mtime = en->mtime;
	if (want == N_LINK) {
		free(x->target);
		x->target = xstrdup(en->symlink);
	}
	*out = x;
	return 0;
}

/* ---- reading archives ---- */

struct magic {
	size_t off, len;
	const char *bytes;
	const char *what;
};

static const struct magic magics[] = {
	{ 0, 2, "\x1f\x8b", "gzip-compressed data that is not a tar archive" },
	{ 0, 3, "BZh", "bzip2-compressed data" },
	{ 0, 6, "\3757zXZ\0", "xz-compressed data" },
	{ 0, 4, "\x28\xb5\x2f\xfd", "zstd-compressed data" },
	{ 0, 2, "\x1f\x9d", "compress'd (.Z) data" },
	{ 0, 4, "\x04\x22\x4d\x18", "lz4-compressed data" },
	{ 0, 6, "7z\xbc\xaf\x27\x1c", "a 7-zip archive" },
	{ 0, 4, "Rar!", "a rar archive" },
	{ 0, 8, "!<arch>\n", "an ar archive" },
	{ 0, 5, "07070", "a cpio archive" },
	{ 0, 2, "\xc7\x71", "a cpio archive" },
	{ 0, 2, "PK", "a damaged zip archive" },
	{ 0, 4, "\177ELF", "an ELF executable" },
	{ 0, 5, "%PDF-", "a PDF document" },
	{ 0x8001, 5, "CD001", "an ISO 9660 image" },
};

/* What the start of a file looks like, for "not a bundle" messages. */
static const char *sniff(int fd, off_t size)
{
	unsigned char head[0x8001 + 8];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	size_t i;

	if (size == 0 || n == 0)
		return "an empty file";
	if (n < 0)
		return "unreadable data";
	for (i = 0; i < ARRAY_SIZE(magics); i++)
		if (magics[i].off + magics[i].len <= (size_t)n &&
		    !memcmp(head + magics[i].off, magics[i].bytes,
			    magics[i].len))
			return magics[i].what;
	for (i = 0; i < (size_t)n && i < 512; i++)
		if (head[i] < 0x20 && !strchr("\t\n\r\f", head[i]))
			return "data of an unknown kind";
	return "text";
}

static enum bundle_kind archive_kind(struct archive *a)
{
	int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;

	if (fmt == ARCHIVE_FORMAT_ZIP &&
	    archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE)
		return BUNDLE_ZIP;
	if (fmt != ARCHIVE_FORMAT_TAR)
		return BUNDLE_UNKNOWN;
	if (archive_filter_count(a) == 1)
		return BUNDLE_TAR;
	if (archive_filter_count(a) == 2 &&
	    archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP)
		return BUNDLE_TGZ;
	return BUNDLE_UNKNOWN;
}

/* libarchive's message on one line (some end in a newline). */
static const char *archive_msg(struct archive *a, struct qname *q,
			       const char *dflt)
{
	const char *msg = archive_error_string(a);
	size_t i, n = 0;

	for (i = 0; msg && msg[i] && n < sizeof(q->s) - 1; i++) {
		unsigned char ch = (unsigned char)msg[i];

		if (ch < 0x20 || ch == 0x7f)
			ch = ' ';
		if (ch != ' ' || (n && q->s[n - 1] != ' '))
			q->s[n++] = (char)ch;
	}
	while (n && q->s[n - 1] == ' ')
		n--;
	q->s[n] = '\0';
	return n ? q->s : dflt;
}

static struct archive *reader_open(int fd, const char *path, struct sw_err *e)
{
	struct archive *a;
	char head[4];

	if (lazylib_need("archive", e) < 0)
		return NULL;
	a = archive_read_new();
	if (!a)
		BUG("archive_read_new");
	if (lseek(fd, 0, SEEK_SET) < 0) {
		archive_read_free(a);
		err_sys(e, "cannot read '%s'", path);
		return NULL;
	}
	archive_read_support_filter_gzip(a);
	/* Through the central directory, as unzip: the streaming reader
	 * would take a zip whose central directory is cut off. The seekable
	 * one refuses an empty zip (its end record alone), which the
	 * streaming one reads as what it is. */
	if (pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	    !memcmp(head, "PK\005\006", 4))
		archive_read_support_format_zip_streamable(a);
	else
		archive_read_support_format_zip_seekable(a);
	archive_read_support_format_tar(a);
	return a;
}

static int not_a_bundle(int fd, const char *path, struct sw_err *e)
{
	struct stat st;
	struct qname b;

	if (fstat(fd, &st) < 0)
		return err_sys(e, "cannot read '%s'", path);
	if (!strcmp(sniff(fd, st.st_size), "a damaged zip archive"))
		return err_set(
			e, ERR_SPEC,
			"'%s': corrupt zip archive: no central directory "
			"(the file is cut short or is not a whole zip)",
			qname(&b, path));
	return err_set(e, ERR_SPEC,
		       "'%s': not a zip, tar or tar.gz bundle (found %s)",
		       qname(&b, path), sniff(fd, st.st_size));
}

/*
 * Open the archive and read its first header: *kind is set, *ent is the
 * first entry or NULL for an empty archive.
 */
static int reader_start(int fd, const char *path, struct archive **ap,
			struct archive_entry **ent, enum bundle_kind *kind,
			struct sw_err *e)
{
	struct archive *a = reader_open(fd, path, e);
	struct qname b, m;
	int r;

	*ap = NULL;
	*ent = NULL;
	if (!a)
		return -1;
	r = archive_read_open_fd(a, fd, READ_BLOCK);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(a, ent);
	*kind = archive_kind(a);
	if (r == ARCHIVE_EOF) {
		*ent = NULL;
		if (*kind == BUNDLE_UNKNOWN) {
			archive_read_free(a);
			return not_a_bundle(fd, path, e);
		}
	} else if (r < ARCHIVE_WARN || *kind == BUNDLE_UNKNOWN) {
		if (*kind == BUNDLE_UNKNOWN) {
			archive_read_free(a);
			return not_a_bundle(fd, path, e);
		}
		err_set(e, ERR_SPEC, "'%s': corrupt %s archive: %s",
			qname(&b, path), bundle_kind_name(*kind),
			archive_msg(a, &m, "unreadable header"));
		archive_read_free(a);
		return -1;
	}
	*ap = a;
	return 0;
}

static int corrupt(struct archive *a, const char *path, const char *name,
		   struct sw_err *e)
{
	struct qname b, q, m;
	const char *msg = archive_msg(a, &m, NULL);

	if (archive_errno(a) == ENOMEM)
		BUG("libarchive: out of memory");
	if (name)
		return err_set(e, ERR_SPEC, "'%s': corrupt archive at '%s': %s",
			       qname(&b, path), qname(&q, name),
			       msg ? msg : "unreadable data");
	return err_set(e, ERR_SPEC, "'%s': corrupt archive: %s",
		       qname(&b, path), msg ? msg : "unreadable header");
}

static void entry_from_archive(struct archive_entry *ae, struct entry *en)
{
	memset(en, 0, sizeof(*en));
	en->name = archive_entry_pathname(ae);
	en->type = archive_entry_filetype(ae);
	en->hardlink = archive_entry_hardlink(ae);
	en->symlink = archive_entry_symlink(ae);
	en->size_set = archive_entry_size_is_set(ae);
	en->size = archive_entry_size(ae);
	en->perm = archive_entry_perm(ae);
	en->has_mtime = archive_entry_mtime_is_set(ae);
	en->mtime.tv_sec = archive_entry_mtime(ae);
	en->mtime.tv_nsec = archive_entry_mtime_nsec(ae);
	if (en->mtime.tv_nsec < 0 || en->mtime.tv_nsec > 999999999)
		en->mtime.tv_nsec = 0;
}

/* ---- writing the tree (pass 2) ---- */

struct writer {
	struct check *c;
	const char *path; /* the bundle, for messages */
	const char *tmp; /* the private directory, for messages */
	int rootfd;
	struct buf pdir; /* the cached parent directory... */
	int pfd; /* ...and its fd (rootfd when pdir is empty) */
	uint64_t written;
};

static void writer_drop_parent(struct writer *w)
{
	if (w->pfd >= 0 && w->pfd != w->rootfd)
		close(w->pfd);
	w->pfd = -1;
	buf_clear(&w->pdir);
}

static int wsys(struct writer *w, const char *what, const char *name,
		struct sw_err *e)
{
	return err_sys(e, "cannot %s '%s/%s'", what, w->tmp, name);
}

/* The directory that will hold path, created as needed, never followed. */
static int open_parent(struct writer *w, const char *path, const char **base,
		       struct sw_err *e)
{
	const char *slash = strrchr(path, '/'), *p, *end;
	size_t plen = slash ? (size_t)(slash - path) : 0;
	int fd;

	*base = slash ? slash + 1 : path;
	if (w->pfd >= 0 && w->pdir.len == plen &&
	    (!plen || !memcmp(w->pdir.ptr, path, plen)))
		return w->pfd;
	writer_drop_parent(w);
	fd = w->rootfd;
	for (p = path; p < path + plen; p = end + 1) {
		char comp[NAME_MAX + 1];
		size_t n;
		int nfd;

		end = memchr(p, '/', (size_t)(path + plen - p));
		if (!end)
			end = path + plen;
		n = (size_t)(end - p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST)
				goto fail;
			nfd = openat(fd, comp,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
		}
		if (nfd < 0)
			goto fail;
		if (fd != w->rootfd)
			close(fd);
		fd = nfd;
		if (end == path + plen)
			break;
	}
	buf_add(&w->pdir, path, plen);
	w->pfd = fd;
	return fd;
fail:
	if (fd != w->rootfd)
		close(fd);
	return wsys(w, "create directory", path, e);
}

static int write_data(struct writer *w, struct archive *a, int fd,
		      const struct entry *en, const char *name,
		      struct sw_err *e)
{
	const struct bundle_opts *o = w->c->o;
	uint64_t end = 0;

	for (;;) {
		const void *data;
		size_t size, done = 0;
		la_int64_t off;
		int r = archive_read_data_block(a, &data, &size, &off);

		if (r == ARCHIVE_EOF)
			break;
		/* A bad CRC is only a warning to libarchive. */
		if (r != ARCHIVE_OK)
			return corrupt(a, w->path, name, e);
		/* Count what is written, whatever the headers said. */
		if (off < 0 || (uint64_t)off > o->max_bytes ||
		    size > o->max_bytes - (uint64_t)off ||
		    size > o->max_bytes - w->written)
			return check_total(w->c, name, UINT64_MAX, e);
		if (check_total(w->c, name, w->written + size, e) < 0)
			return -1;
		w->written += size;
		while (done < size) {
			ssize_t n = pwrite(fd, (const char *)data + done,
					   size - done, off + (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return wsys(w, "write", name, e);
			done += (size_t)n;
		}
		if ((uint64_t)off + size > end)
			end = (uint64_t)off + size;
	}
	/* A sparse file may end in a hole. */
	if (en->size_set && en->size > 0 && (uint64_t)en->size > end &&
	    (uint64_t)en->size <= o->max_bytes &&
	    ftruncate(fd, (off_t)en->size) < 0)
		return wsys(w, "write", name, e);
	return 0;
}

static void entry_times(const struct node *x, struct timespec ts[2])
{
	ts[0] = x->mtime;
	ts[1] = x->mtime;
}

static int write_entry(struct writer *w, struct archive *a,
		       const struct entry *en, const struct node *x,
		       const char *tpath, struct sw_err *e)
{
	struct timespec ts[2];
	const char *base;
	int pfd = open_parent(w, x->path, &base, e), fd = -1, tries;

	if (pfd < 0)
		return -1;
	entry_times(x, ts);
	if (is_dir_type(x->type)) {
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return wsys(w, "create directory", x->path, e);
		return 0; /* mode and time once its contents are in */
	}
	for (tries = 0; tries < 2; tries++) {
		int r;

		if (en->hardlink)
			r = linkat(w->rootfd, tpath, pfd, base, 0);
		else if (x->type == N_LINK)
			r = symlinkat(x->target, pfd, base);
		else
			r = fd = openat(pfd, base,
					O_WRONLY | O_CREAT | O_EXCL |
						O_NOFOLLOW | O_CLOEXEC,
					0600);
		if (r >= 0)
			break;
		/* A later duplicate replaces the earlier entry. */
		if (errno != EEXIST || tries || unlinkat(pfd, base, 0) < 0)
			return wsys(w, "create", x->path, e);
	}
	if (en->hardlink)
		return 0;
	if (x->type == N_LINK) {
		if (x->has_mtime &&
		    utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return wsys(w, "set the time of", x->path, e);
		return 0;
	}
	if (write_data(w, a, fd, en, x->path, e) < 0 ||
	    fchmod(fd, x->mode) < 0 || (x->has_mtime && futimens(fd, ts) < 0)) {
		if (!e->code)
			wsys(w, "write", x->path, e);
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return wsys(w, "write", x->path, e);
	return 0;
}

static int depth_cmp(const void *pa, const void *pb)
{
	const struct node *a = *(const struct node *const *)pa;
	const struct node *b = *(const struct node *const *)pb;
	size_t da = 0, db = 0, i;

	for (i = 0; i < a->len; i++)
		da += a->path[i] == '/';
	for (i = 0; i < b->len; i++)
		db += b->path[i] == '/';
	return da < db ? 1 : da > db ? -1 : 0;
}

/* Directory modes and times, deepest first, once everything is in. */
static int fix_dirs(struct writer *w, struct sw_err *e)
{
	struct table *t = &w->c->t;
	struct node **dirs = xcalloc(t->nr + 1, sizeof(*dirs));
	size_t i, n = 0;
	int ret = -1;

	for (i = 0; i < t->nr; i++)
		if (is_dir_type(t->nodes[i].type))
			dirs[n++] = &t->nodes[i];
	qsort(dirs, n, sizeof(*dirs), depth_cmp);
	for (i = 0; i < n; i++) {
		struct timespec ts[2];

		entry_times(dirs[i], ts);
		if (fchmodat(w->rootfd, dirs[i]->path, dirs[i]->mode, 0) < 0 ||
		    (dirs[i]->has_mtime &&
		     utimensat(w->rootfd, dirs[i]->path, ts,
			       AT_SYMLINK_NOFOLLOW) < 0)) {
			wsys(w, "set the mode of", dirs[i]->path, e);
			goto out;
		}
	}
	ret = 0;
out:
	free(dirs);
	return ret;
}

/* Pass 1: every header, nothing written. */
static int archive_check(struct check *c, int fd, const char *path,
			 enum bundle_kind *kind, struct sw_err *e)
{
	struct buf norm = BUF_INIT, tnorm = BUF_INIT;
	struct archive_entry *ae;
	struct archive *a;
	int ret = -1, r;

	if (reader_start(fd, path, &a, &ae, kind, e) < 0)
		return -1;
	for (r = ae ? ARCHIVE_OK : ARCHIVE_EOF; r != ARCHIVE_EOF;
	     r = archive_read_next_header(a, &ae)) {
		struct entry en;
		struct node *x;

		if (r < ARCHIVE_WARN) {
			corrupt(a, path, NULL, e);
			goto out;
		}
		entry_from_archive(ae, &en);
		if (check_entry(c, &en, &norm, &tnorm, &x, e) < 0)
			goto out;
		if (archive_read_data_skip(a) < ARCHIVE_WARN) {
			corrupt(a, path, en.name, e);
			goto out;
		}
	}
	ret = check_links(c, e);
out:
	archive_read_free(a);
	buf_release(&norm);
	buf_release(&tnorm);
	return ret;
}

/* Pass 2: every entry checked again, then written under w->rootfd. */
static int archive_extract(struct writer *w, int fd, struct sw_err *e)
{
	struct buf norm = BUF_INIT, tnorm = BUF_INIT;
	struct archive_entry *ae;
	enum bundle_kind kind;
	struct archive *a;
	int ret = -1, r;

	if (reader_start(fd, w->path, &a, &ae, &kind, e) < 0)
		return -1;
	for (r = ae ? ARCHIVE_OK : ARCHIVE_EOF; r != ARCHIVE_EOF;
	     r = archive_read_next_header(a, &ae)) {
		struct entry en;
		struct node *x;

		if (r < ARCHIVE_WARN) {
			corrupt(a, w->path, NULL, e);
			goto out;
		}
		entry_from_archive(ae, &en);
		if (check_entry(w->c, &en, &norm, &tnorm, &x, e) < 0)
			goto out;
		if (x && write_entry(w, a, &en, x, tnorm.ptr, e) < 0)
			goto out;
	}
	writer_drop_parent(w);
	if (check_links(w->c, e) < 0 || fix_dirs(w, e) < 0)
		goto out;
	ret = 0;
out:
	archive_read_free(a);
	buf_release(&norm);
	buf_release(&tnorm);
	return ret;
}

/* ---- directories ---- */

static int walk_dir(struct check *c, int dfd, struct buf *rel, struct sw_err *e)
{
	struct buf norm = BUF_INIT, tnorm = BUF_INIT;
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = -1;

	if (!d) {
		close(dfd);
		return err_sys(e, "cannot read '%s/%s'", c->bundle,
			       buf_cstr(rel));
	}
	while ((errno = 0, de = readdir(d))) {
		size_t keep = rel->len;
		char target[PATH_MAX];
		struct entry en;
		struct node *x;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			err_sys(e, "cannot read '%s/%s%s'", c->bundle,
				buf_cstr(rel), de->d_name);
			goto out;
		}
		/* As fs_copy_tree: devices, fifos and sockets are skipped. */
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
		    !S_ISLNK(st.st_mode))
			continue;
		buf_addstr(rel, de->d_name);
		memset(&en, 0, sizeof(en));
		en.name = rel->ptr;
		en.type = st.st_mode & S_IFMT;
		en.size = st.st_size;
		en.size_set = S_ISREG(st.st_mode);
		en.perm = st.st_mode & 07777;
		en.has_mtime = true;
		en.mtime = st.st_mtim;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(dirfd(d), de->d_name, target,
					       sizeof(target) - 1);

			if (n < 0) {
				err_sys(e, "cannot read '%s/%s'", c->bundle,
					rel->ptr);
				goto out;
			}
			target[n] = '\0';
			en.symlink = target;
		}
		if (check_entry(c, &en, &norm, &tnorm, &x, e) < 0)
			goto out;
		if (c->drop_setid && !S_ISLNK(st.st_mode) &&
		    (st.st_mode & (S_ISUID | S_ISGID)) &&
		    fchmodat(dirfd(d), de->d_name, x->mode, 0) < 0) {
			err_sys(e, "cannot set the mode of '%s/%s'", c->bundle,
				rel->ptr);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);

			if (sub < 0) {
				err_sys(e, "cannot read '%s/%s'", c->bundle,
					rel->ptr);
				goto out;
			}
			buf_addch(rel, '/');
			if (walk_dir(c, sub, rel, e) < 0)
				goto out;
		}
		buf_setlen(rel, keep);
	}
	if (errno) {
		err_sys(e, "cannot read '%s/%s'", c->bundle, buf_cstr(rel));
		goto out;
	}
	ret = 0;
out:
	closedir(d);
	buf_release(&norm);
	buf_release(&tnorm);
	return ret;
}

static int dir_check(struct check *c, const char *dir, struct sw_err *e)
{
	struct buf rel = BUF_INIT;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return err_sys(e, "cannot read '%s'", dir);
	ret = walk_dir(c, fd, &rel, e);
	buf_release(&rel);
	if (!ret)
		ret = check_links(c, e);
	return ret;
}

/* ---- the whole ---- */

static bool has_appspec_child(struct table *t, const char *dir, size_t dlen)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		const struct node *x = &t->nodes[i];

		if (x->len > dlen + 1 && !memcmp(x->path, dir, dlen) &&
		    x->path[dlen] == '/' && !strchr(x->path + dlen + 1, '/') &&
		    strcasestr(x->path + dlen + 1, "appspec"))
			return true;
	}
	return false;
}

/* The agent's rule: one top-level entry, a directory naming an appspec. */
static const struct node *wrapper_dir(struct table *t)
{
	const struct node *top = NULL;
	size_t i;

	for (i = 0; i < t->nr; i++) {
		if (strchr(t->nodes[i].path, '/'))
			continue;
		if (top)
			return NULL;
		top = &t->nodes[i];
	}
	if (!top || !is_dir_type(top->type) ||
	    !has_appspec_child(t, top->path, top->len))
		return NULL;
	return top;
}

static const char *find_appspec(struct table *t, const struct bundle_opts *o,
				const char *wrapper)
{
	const char *names[] = { o->appspec_name ? o->appspec_name
						: "appspec.yml",
				"appspec.yaml", "appspec.yml" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = wrapper ? xasprintf("%s/%s", wrapper, names[i])
				  : xstrdup(names[i]);
		const struct node *x = table_find(t, p, strlen(p));

		free(p);
		if (x && (x->type == N_FILE || x->type == N_LINK))
			return names[i];
	}
	return NULL;
}

/* The plan from pass 1: hoist or not, and the appspec's name. */
static int plan(struct check *c, enum bundle_kind kind, char **wrapper,
		const char **appspec, struct sw_err *e)
{
	const struct node *w = NULL;
	const char *want =
		c->o->appspec_name ? c->o->appspec_name : "appspec.yml";
	struct qname b, q;

	*wrapper = NULL;
	*appspec = NULL;
	if (c->o->no_appspec)
		return 0;
	if (kind != BUNDLE_DIRECTORY)
		w = wrapper_dir(&c->t);
	*appspec = find_appspec(&c->t, c->o, w ? w->path : NULL);
	if (!*appspec)
		return err_set(e, ERR_SPEC,
			       "'%s': no %s at the bundle's root: did not find "
			       "an AppSpec file within the unpacked revision "
			       "directory at revision-relative path '%s'",
			       qname(&b, c->bundle), qname(&q, want), q.s);
	if (w)
		*wrapper = xstrdup(w->path);
	return 0;
}

static char *temp_beside(const char *dest, struct sw_err *e)
{
	char *abs = fs_abspath(dest), *slash = strrchr(abs, '/'), *tmp;

	if (!slash[1]) {
		free(abs);
		err_set(e, ERR_SYSTEM, "'%s': not a place to unpack to", dest);
		return NULL;
	}
	*slash = '\0';
	if (fs_mkdir_p(*abs ? abs : "/", 0755, e) < 0) {
		free(abs);
		return NULL;
	}
	tmp = xasprintf("%s/.%s.tmp.XXXXXX", abs, slash + 1);
	free(abs);
	if (!mkdtemp(tmp)) {
		err_sys(e, "cannot create a directory beside '%s'", dest);
		free(tmp);
		return NULL;
	}
	return tmp;
}

static int place(const char *from, const char *dest, struct sw_err *e)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS) {
		/* A file system without RENAME_NOREPLACE. */
		if (fs_exists(dest)) {
			errno = EEXIST;
			return err_sys(e, "cannot create '%s'", dest);
		}
		if (rename(from, dest) == 0)
			return 0;
	}
	return err_sys(e, "cannot create '%s'", dest);
}

static int unpack_into(const char *bundle, const char *tmp,
		       enum bundle_kind kind, int fd, struct check *c,
		       struct sw_err *e)
{
	struct writer w = { .c = c, .path = bundle, .tmp = tmp, .pfd = -1 };
	int ret;

	if (kind == BUNDLE_DIRECTORY) {
		if ((c->o->link_files ? fs_link_tree(bundle, tmp, NULL, e)
				      : fs_copy_tree(bundle, tmp, NULL, e)) < 0)
			return -1;
		c->drop_setid = !c->o->keep_setid;
		return dir_check(c, tmp, e);
	}
	w.rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w.rootfd < 0)
		return err_sys(e, "cannot open '%s'", tmp);
	ret = archive_extract(&w, fd, e);
	writer_drop_parent(&w);
	buf_release(&w.pdir);
	close(w.rootfd);
	if (!ret && w.written != c->bytes)
		/* Sizes declared in headers did not match the data. */
		c->bytes = w.written;
	return ret;
}

int bundle_unpack(const char *bundle, const char *dest,
		  const struct bundle_opts *o, struct bundle_info *info,
		  struct sw_err *e)
{
	struct bundle_opts defaults = BUNDLE_OPTS_INIT, eff;
	struct check c1 = { 0 }, c2 = { 0 };
	enum bundle_kind kind = BUNDLE_UNKNOWN;
	char *tmp = NULL, *wrapper = NULL, *from = NULL;
	const char *appspec = NULL;
	struct stat st;
	int fd = -1, ret = -1;

	if (info)
		*info = (struct bundle_info)BUNDLE_INFO_INIT;
	eff = o ? *o : defaults;
	if (!eff.max_entries)
		eff.max_entries = defaults.max_entries;
	if (!eff.max_bytes)
		eff.max_bytes = defaults.max_bytes;
	if (!eff.max_ratio)
		eff.max_ratio = defaults.max_ratio;
	c1.bundle = c2.bundle = bundle;
	c1.o = c2.o = &eff;

	if (fs_exists(dest))
		return err_set(e, ERR_SYSTEM,
			       "cannot unpack into '%s': it "
			       "already exists",
			       dest);
	if (stat(bundle, &st) < 0)
		return err_sys(e, "cannot read bundle '%s'", bundle);
	if (S_ISDIR(st.st_mode)) {
		kind = BUNDLE_DIRECTORY;
		if (dir_check(&c1, bundle, e) < 0)
			goto out;
	} else {
		fd = open(bundle, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			err_sys(e, "cannot read bundle '%s'", bundle);
			goto out;
		}
		c1.archive_size = c2.archive_size = (uint64_t)st.st_size;
		if (archive_check(&c1, fd, bundle, &kind, e) < 0)
			goto out;
	}
	if (plan(&c1, kind, &wrapper, &appspec, e) < 0)
		goto out;

	tmp = temp_beside(dest, e);
	if (!tmp || unpack_into(bundle, tmp, kind, fd, &c2, e) < 0)
		goto out;
	/* Decide again on the tree written, should the bundle have changed. */
	free(wrapper);
	if (plan(&c2, kind, &wrapper, &appspec, e) < 0)
		goto out;
	from = wrapper ? fs_join(tmp, wrapper) : xstrdup(tmp);
	if (chmod(from, 0755) < 0) {
		err_sys(e, "cannot set the mode of '%s'", from);
		goto out;
	}
	if (place(from, dest, e) < 0)
		goto out;
	if (wrapper && rmdir(tmp) < 0) {
		err_sys(e, "cannot remove '%s'", tmp);
		fs_remove_tree(dest, NULL);
		goto out;
	}
	if (info) {
		info->kind = kind;
		info->entries = c2.entries;
		info->bytes = c2.bytes;
		info->hoisted = wrapper != NULL;
		info->wrapper = wrapper;
		wrapper = NULL;
		info->appspec = appspec ? fs_join(dest, appspec) : NULL;
	}
	ret = 0;
out:
	if (tmp && ret < 0) {
		struct sw_err ignored = SW_ERR_INIT;

		fs_remove_tree(tmp, &ignored);
	}
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(from);
	free(wrapper);
	table_release(&c1.t);
	table_release(&c2.t);
	return ret;
}

int bundle_detect(const char *path, enum bundle_kind *kind, struct sw_err *e)
{
	struct archive_entry *ae;
	struct archive *a;
	struct stat st;
	int fd, ret;

	*kind = BUNDLE_UNKNOWN;
	if (stat(path, &st) < 0)
		return err_sys(e, "cannot read bundle '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		*kind = BUNDLE_DIRECTORY;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, "cannot read bundle '%s'", path);
	ret = reader_start(fd, path, &a, &ae, kind, e);
	if (!ret)
		archive_read_free(a);
	else
		*kind = BUNDLE_UNKNOWN;
	close(fd);
	return ret;
}

const char *bundle_kind_name(enum bundle_kind kind)
{
	switch (kind) {
	case BUNDLE_DIRECTORY:
		return "directory";
	case BUNDLE_ZIP:
		return "zip";
	case BUNDLE_TAR:
		return "tar";
	case BUNDLE_TGZ:
		return "tgz";
	case BUNDLE_UNKNOWN:
		break;
	}
	return "unknown";
}

void bundle_info_release(struct bundle_info *info)
{
	if (!info)
		return;
	free(info->wrapper);
	free(info->appspec);
	*info = (struct bundle_info)BUNDLE_INFO_INIT;
}
