#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts.h"
#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

/* A fresh source tree per test, and a directory outside it. */
struct fixture {
	char top[64];
	char *src;
	char *outside;
	char *out;
};

static void mkfile_in(const char *dir, const char *rel, const char *content)
{
	char *path = fs_join(dir, rel);
	char *slash = strrchr(path, '/');
	struct sw_err e = SW_ERR_INIT;
	int fd;

	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0755, &e), 0);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
	free(path);
}

static void mklink_in(const char *dir, const char *target, const char *rel)
{
	char *path = fs_join(dir, rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct sw_err e = SW_ERR_INIT;

	snprintf(f->top, sizeof(f->top), "/tmp/sw-artifacts-XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	f->src = fs_join(f->top, "src");
	f->outside = fs_join(f->top, "outside");
	f->out = fs_join(f->top, "out");
	if (fs_mkdir_p(f->src, 0755, &e) < 0 ||
	    fs_mkdir_p(f->outside, 0755, &e) < 0 ||
	    fs_mkdir_p(f->out, 0755, &e) < 0)
		return -1;
	/* the tree of the reference's worked examples */
	mkfile_in(f->src, "my-build-1/my-file-1.txt", "one");
	mkfile_in(f->src, "my-build-2/my-file-2.txt", "two");
	mkfile_in(f->src, "my-build-2/my-subdirectory/my-file-3.txt", "three");
	mkfile_in(f->outside, "secret.txt", "secret");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	int ret = fs_remove_tree(f->top, &e);

	free(f->src);
	free(f->outside);
	free(f->out);
	free(f);
	return ret;
}

/* An artifact from a NULL-terminated files list (and excludes). */
static void art_init(struct bs_artifact *a, const char *base,
		     const char *const *files, const char *const *excludes)
{
	memset(a, 0, sizeof(*a));
	strvec_init(&a->files);
	strvec_init(&a->exclude_paths);
	strvec_pushv(&a->files, files);
	strvec_pushv(&a->exclude_paths, excludes);
	a->base_directory = xstrdup_or_null(base);
}

static void art_release(struct bs_artifact *a)
{
	strvec_release(&a->files);
	strvec_release(&a->exclude_paths);
	free(a->base_directory);
}

/* Collect and return the names joined by spaces, or "ERROR <msg>". */
static char *collect(const struct bs_artifact *a, const char *src,
		     struct artifact_list *l)
{
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	if (artifacts_collect(a, src, l, &e) < 0) {
		buf_addf(&b, "ERROR %d %s", e.code, e.msg);
		return buf_detach(&b);
	}
	for (size_t i = 0; i < l->nr; i++)
		buf_addf(&b, "%s%s", i ? " " : "", l->v[i].name);
	return buf_detach(&b);
}

static char *collect_names(const char *src, const char *base,
			   const char *const *files,
			   const char *const *excludes, bool discard)
{
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct bs_artifact a;
	char *got;

	art_init(&a, base, files, excludes);
	a.discard_paths = discard;
	got = collect(&a, src, &l);
	artifact_list_release(&l);
	art_release(&a);
	return got;
}

#define FILES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

#define assert_names(want, ...)                                                \
	do {                                                                   \
		char *got_ = collect_names(__VA_ARGS__);                       \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

#define assert_refused(needle, ...)                                            \
	do {                                                                   \
		char *got_ = collect_names(__VA_ARGS__);                       \
		assert_non_null(strstr(got_, "ERROR 1 "));                     \
		assert_non_null(strstr(got_, needle));                         \
		free(got_);                                                    \
	} while (0)

static void test_artifacts__reference_one_level_star(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct bs_artifact a;
	char *got, *want;

	art_init(&a, "my-build-2", FILES("*/my-file-3.txt"), NONE);
	got = collect(&a, f->src, &l);
	assert_string_equal(got, "my-subdirectory/my-file-3.txt");
	want = fs_join(f->src, "my-build-2/my-subdirectory/my-file-3.txt");
	assert_string_equal(l.v[0].path, want);
	assert_false(l.v[0].is_symlink);
	free(want);
	free(got);
	artifact_list_release(&l);
	art_release(&a);
}

static void test_artifacts__reference_glob_base_discard(void **state)
{
	struct fixture *f = *state;

	assert_names("my-file-1.txt my-file-2.txt my-file-3.txt", f->src,
		     "my-build*", FILES("**/*"), NONE, true);
	/* without discard-paths: the bases' contents merged, not the bases */
	assert_names(
		"my-file-1.txt my-file-2.txt my-subdirectory/my-file-3.txt",
		f->src, "my-build*", FILES("**/*"), NONE, false);
	mkfile_in(f->src, "target/messageUtil-1.0.jar", "jar");
	assert_names("messageUtil-1.0.jar", f->src, NULL,
		     FILES("target/messageUtil-1.0.jar"), NONE, true);
	assert_names("target/messageUtil-1.0.jar", f->src, "",
		     FILES("./target/messageUtil-1.0.jar"), NONE, false);
}

static void test_artifacts__exclude_paths(void **state)
{
	struct fixture *f = *state;

	mkfile_in(f->src, "app/.env", "x");
	mkfile_in(f->src, "app/.git/config", "x");
	mkfile_in(f->src, "app/src/a.c", "x");
	mkfile_in(f->src, "app/src/.cache/obj.o", "x");
	mkfile_in(f->src, "app/node_modules/m/i.js", "x");
	mkfile_in(f->src, "app/src/file-name/k.txt", "x");
	assert_names(".env .git/config node_modules/m/i.js src/.cache/obj.o "
		     "src/a.c src/file-name/k.txt",
		     f->src, "app", FILES("**/*"), NONE, false);
	/* the reference's examples: dot-files, dot-folders, a name anywhere */
	assert_names(".git/config node_modules/m/i.js src/.cache/obj.o "
		     "src/a.c src/file-name/k.txt",
		     f->src, "app", FILES("**/*"), FILES("**/.*"), false);
	assert_names(".env node_modules/m/i.js src/a.c src/file-name/k.txt",
		     f->src, "app", FILES("**/*"), FILES("**/.*/**/*"), false);
	assert_names("src/a.c", f->src, "app", FILES("**/*"),
		     FILES("**/.*", "**/.*/**/*", "**/file-name/**/*",
			   "node_modules"),
		     false);
	/* relative to the base directory, before flattening */
	assert_names("a.c", f->src, NULL, FILES("app/src/*"),
		     FILES("app/src/.*"), true);
}

static void test_artifacts__duplicates_first_wins(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct bs_artifact a;
	char *got;

	mkfile_in(f->src, "a/x.txt", "from a");
	mkfile_in(f->src, "b/x.txt", "from b");
	assert_names("a/x.txt b/x.txt", f->src, NULL,
		     FILES("a/x.txt", "*/x.txt", "**/*.txt"),
		     FILES("my-build*/**/*"), false);
	art_init(&a, NULL, FILES("b/x.txt", "a/x.txt"), NONE);
	a.discard_paths = true;
	got = collect(&a, f->src, &l);
	assert_string_equal(got, "x.txt");
	assert_non_null(strstr(l.v[0].path, "/b/x.txt"));
	free(got);
	artifact_list_release(&l);
	art_release(&a);
}

static void test_artifacts__no_match(void **state)
{
	struct fixture *f = *state;

	assert_names("", f->src, NULL, FILES("imagedefinitions.json"), NONE,
		     false);
	assert_names("", f->src, "nope*", FILES("**/*"), NONE, false);
	assert_names("", f->src, "missing", FILES("**/*"), NONE, false);
	assert_names("", f->src, NULL, FILES("**/*"), FILES("**/*"), false);
}

static void test_artifacts__bare_directory(void **state)
{
	struct fixture *f = *state;

	assert_names("my-build-2/my-file-2.txt "
		     "my-build-2/my-subdirectory/my-file-3.txt",
		     f->src, NULL, FILES("my-build-2"), NONE, false);
}

static void test_artifacts__dotdot_refused(void **state)
{
	struct fixture *f = *state;

	assert_refused("'../outside/secret.txt'", f->src, NULL,
		       FILES("../outside/secret.txt"), NONE, false);
	assert_refused("'my-build-1/../../outside'", f->src, NULL,
		       FILES("my-build-1/../../outside"), NONE, false);
	assert_refused("base-directory", f->src, "../outside", FILES("**/*"),
		       NONE, false);
	/* staying inside is fine */
	assert_names("my-file-1.txt", f->src, "my-build-2/../my-build-1",
		     FILES("*"), NONE, false);
}

static void test_artifacts__absolute_paths(void **state)
{
	struct fixture *f = *state;
	char *base = fs_join(f->src, "my-build-2");
	char *pat = fs_join(f->src, "my-build-2/my-file-2.txt");
	char *secret = fs_join(f->outside, "secret.txt");

	assert_names("my-file-2.txt my-subdirectory/my-file-3.txt", f->src,
		     base, FILES("**/*"), NONE, false);
	assert_names("my-file-2.txt", f->src, base, FILES(pat), NONE, false);
	assert_names("my-build-2/my-file-2.txt", f->src, NULL, FILES(pat), NONE,
		     false);
	assert_refused("outside the base directory", f->src, NULL,
		       FILES(secret), NONE, false);
	assert_refused("outside the source directory", f->src, f->outside,
		       FILES("**/*"), NONE, false);
	free(base);
	free(pat);
	free(secret);
}

static void test_artifacts__symlink_escapes_refused(void **state)
{
	struct fixture *f = *state;
	char *secret = fs_join(f->outside, "secret.txt");

	mklink_in(f->src, secret, "leak.txt");
	assert_refused("'leak.txt'", f->src, NULL, FILES("leak.txt"), NONE,
		       false);
	assert_refused("outside the source directory", f->src, NULL,
		       FILES("**/*"), NONE, false);
	/* a directory symlink is never walked into */
	mklink_in(f->src, f->outside, "outlink");
	assert_names("", f->src, NULL, FILES("outlink/*"), NONE, false);
	/* a base directory that is a symlink out of the tree */
	assert_refused("base-directory 'outlink'", f->src, "outlink",
		       FILES("**/*"), NONE, false);
	/* a dangling symlink has no content to store */
	mklink_in(f->src, "nowhere", "dangling");
	assert_refused("'dangling'", f->src, NULL, FILES("dangling"), NONE,
		       false);
	free(secret);
}

static void test_artifacts__symlinks_inside(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct bs_artifact a;
	char *got, *real;

	mklink_in(f->src, "my-build-1/my-file-1.txt", "link.txt");
	mklink_in(f->src, "my-build-2", "dirlink");
	art_init(&a, NULL, FILES("link.txt", "dirlink"), NONE);
	got = collect(&a, f->src, &l);
	/* content stored under the link's name; directory links skipped */
	assert_string_equal(got, "link.txt");
	real = realpath(f->src, NULL);
	assert_non_null(real);
	assert_non_null(strstr(l.v[0].path, "my-build-1/my-file-1.txt"));
	assert_false(l.v[0].is_symlink);
	free(got);
	artifact_list_release(&l);

	a.enable_symlinks = true;
	got = collect(&a, f->src, &l);
	assert_string_equal(got, "link.txt dirlink");
	assert_true(l.v[0].is_symlink);
	assert_true(l.v[1].is_symlink);
	assert_non_null(strstr(l.v[0].path, "/link.txt"));
	free(got);
	free(real);
	artifact_list_release(&l);
	art_release(&a);
}

static void test_artifacts__symlinked_base_inside(void **state)
{
	struct fixture *f = *state;

	mklink_in(f->src, "my-build-2", "current");
	assert_names("my-file-2.txt my-subdirectory/my-file-3.txt", f->src,
		     "current", FILES("**/*"), NONE, false);
}

/* ---- zip ---- */

struct zentry {
	char name[256];
	int type;
	int perm;
	char data[256];
	char link[256];
};

/* Read a zip back; returns the number of entries (at most max). */
static size_t read_zip(const char *path, struct zentry *out, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	size_t n = 0;

	archive_read_support_format_zip(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240),
			 ARCHIVE_OK);
	while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		struct zentry *z = &out[n++];
		la_ssize_t r;

		assert_true(n <= max);
		memset(z, 0, sizeof(*z));
		snprintf(z->name, sizeof(z->name), "%s",
			 archive_entry_pathname(ent));
		z->type = (int)archive_entry_filetype(ent);
		z->perm = (int)archive_entry_perm(ent);
		if (archive_entry_symlink(ent))
			snprintf(z->link, sizeof(z->link), "%s",
				 archive_entry_symlink(ent));
		r = archive_read_data(a, z->data, sizeof(z->data) - 1);
		assert_true(r >= 0);
	}
	archive_read_free(a);
	return n;
}

static size_t count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_artifacts__zip_readback(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct artifact_digest d;
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	struct zentry z[16];
	char *dest = fs_join(f->out, "artifacts.zip"), *p;
	char sha[HASH_SHA256_HEX], md5[HASH_MD5_HEX];
	struct stat sb;
	size_t n;

	mkfile_in(f->src, "bin/run.sh", "#!/bin/sh\necho hi\n");
	p = fs_join(f->src, "bin/run.sh");
	chmod(p, 0755);
	free(p);
	mklink_in(f->src, "run.sh", "bin/run");
	art_init(&a, NULL, FILES("my-build-2/**/*", "bin/*"), NONE);
	a.enable_symlinks = true;
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	assert_int_equal(l.nr, 4);
	assert_int_equal(artifacts_write_zip(&l, dest, &d, &e), 0);

	n = read_zip(dest, z, 16);
	assert_int_equal(n, 7);
	assert_string_equal(z[0].name, "my-build-2/");
	assert_int_equal(z[0].type, AE_IFDIR);
	assert_string_equal(z[1].name, "my-build-2/my-file-2.txt");
	assert_string_equal(z[1].data, "two");
	assert_int_equal(z[1].type, AE_IFREG);
	assert_string_equal(z[2].name, "my-build-2/my-subdirectory/");
	assert_string_equal(z[3].name,
			    "my-build-2/my-subdirectory/my-file-3.txt");
	assert_string_equal(z[3].data, "three");
	assert_string_equal(z[4].name, "bin/");
	assert_string_equal(z[5].name, "bin/run");
	assert_int_equal(z[5].type, AE_IFLNK);
	assert_string_equal(z[5].link, "run.sh");
	assert_string_equal(z[6].name, "bin/run.sh");
	assert_int_equal(z[6].perm, 0755);
	assert_string_equal(z[6].data, "#!/bin/sh\necho hi\n");

	assert_int_equal(hash_file(dest, sha, md5, &e), 0);
	assert_string_equal(d.sha256, sha);
	assert_string_equal(d.md5, md5);
	assert_int_equal(stat(dest, &sb), 0);
	assert_int_equal(d.size, sb.st_size);
	assert_int_equal(d.files, 4);
	assert_int_equal(count_dir(f->out), 1); /* no temporary left */
	free(dest);
	artifact_list_release(&l);
	art_release(&a);
}

static off_t zip_one(struct fixture *f, const char *name, size_t len)
{
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct artifact_digest d;
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	char *dest = fs_join(f->out, "one.zip");
	char *data = xcalloc(1, len + 1);

	memset(data, 'a', len);
	mkfile_in(f->src, name, data);
	art_init(&a, NULL, FILES(name), NONE);
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	if (artifacts_write_zip(&l, dest, &d, &e) < 0)
		fail_msg("%s", e.msg);
	free(data);
	free(dest);
	artifact_list_release(&l);
	art_release(&a);
	return d.size;
}

static void test_artifacts__zip_stores_compressed_types(void **state)
{
	struct fixture *f = *state;
	size_t len = 100000;

	/* highly compressible bytes: deflated unless the name says stored */
	assert_true(zip_one(f, "data.txt", len) < 2000);
	assert_true(zip_one(f, "data.gz", len) > (off_t)len);
	assert_true(zip_one(f, "IMG.JPG", len) > (off_t)len);
	assert_true(zip_one(f, "page.html", len) < 2000);
}

static void test_artifacts__zip_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	char *dest = fs_join(f->out, "artifacts.zip");
	char *gone = fs_join(f->src, "my-build-2/my-file-2.txt");
	char *old = NULL;
	size_t len;

	art_init(&a, NULL, FILES("**/*"), NONE);
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	assert_int_equal(l.nr, 3);
	/* a file vanishing after collection fails the write */
	assert_int_equal(unlink(gone), 0);
	assert_int_equal(artifacts_write_zip(&l, dest, NULL, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "my-file-2.txt"));
	assert_false(fs_exists(dest));
	assert_int_equal(count_dir(f->out), 0);

	/* an existing artifact is kept as it was */
	assert_int_equal(fs_write_atomic(dest, "old", 3, 0644, &e), 0);
	err_clear(&e);
	assert_int_equal(artifacts_write_zip(&l, dest, NULL, &e), -1);
	assert_int_equal(fs_read_file(dest, 100, &old, &len, &e), 0);
	assert_string_equal(old, "old");
	assert_int_equal(count_dir(f->out), 1);
	free(old);
	free(gone);
	free(dest);
	artifact_list_release(&l);
	art_release(&a);
}

static void test_artifacts__zip_missing_dest_dir(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dest = fs_join(f->out, "no/such/dir/a.zip");

	assert_int_equal(artifacts_write_zip(&l, dest, NULL, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "a.zip"));
	free(dest);
}

/* ---- packaging ---- */

static void test_artifacts__packaging_names(void **state)
{
	static const char *const names[] = { "zip", "tar.gz", "tar.zst",
					     "none" };
	static const char *const exts[] = { ".zip", ".tar.gz", ".tar.zst", "" };
	enum artifact_packaging p = ARTIFACT_ZIP;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(artifact_packaging_parse(names[i], &p), 0);
		assert_int_equal(p, (enum artifact_packaging)i);
		assert_string_equal(artifact_packaging_name(p), names[i]);
		assert_string_equal(artifact_packaging_ext(p), exts[i]);
	}
	p = ARTIFACT_TAR_GZ;
	assert_int_equal(artifact_packaging_parse("ZIP", &p), -1);
	assert_int_equal(artifact_packaging_parse("tar", &p), -1);
	assert_int_equal(artifact_packaging_parse(".zip", &p), -1);
	assert_int_equal(artifact_packaging_parse("", &p), -1);
	assert_int_equal(p, ARTIFACT_TAR_GZ);
}

/* Bytes that do not compress (xorshift64). */
static void fill_random(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
}

static void mkbytes_in(const char *dir, const char *rel, const void *data,
		       size_t len, mode_t mode)
{
	char *path = fs_join(dir, rel);
	char *slash = strrchr(path, '/');
	struct sw_err e = SW_ERR_INIT;
	int fd;

	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0755, &e), 0);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(path);
}

/* Text that deflates well but is not one repeated byte. */
static char *make_text(size_t len)
{
	static const char *const words[] = { "static ", "int ", "buffer",
					     "(void)",	";\n",	"return ",
					     "count",	"\t",	"value " };
	char *t = xmalloc(len + 1);
	size_t n = 0, i = 0;

	while (n < len) {
		const char *w = words[(i * 7 + i / 3) % ARRAY_SIZE(words)];

		for (; *w && n < len; w++)
			t[n++] = *w;
		i++;
	}
	t[len] = '\0';
	return t;
}

/*
 * The tree every packaging is tested on: an executable, a text file, a
 * random one, an empty one, a name longer than ustar's 100 bytes, and a
 * symlink kept as a link.
 */
#define LONG_DIR                                                               \
	"a-directory-name-that-is-long/and-another-one-below-it/"              \
	"and-a-third-to-pass-one-hundred-bytes"
#define LONG_NAME LONG_DIR "/file-with-a-long-name.txt"
#define RANDOM_LEN 70000

static void make_tree(struct fixture *f, struct artifact_list *l)
{
	struct sw_err e = SW_ERR_INIT;
	unsigned char *rnd = xmalloc(RANDOM_LEN);
	char *text = make_text(20000);
	struct bs_artifact a;

	fill_random(rnd, RANDOM_LEN, 7);
	mkbytes_in(f->src, "pkg/bin/run.sh", "#!/bin/sh\necho hi\n", 18, 0755);
	mkbytes_in(f->src, "pkg/doc/text.txt", text, strlen(text), 0644);
	mkbytes_in(f->src, "pkg/noise.bin", rnd, RANDOM_LEN, 0600);
	mkbytes_in(f->src, "pkg/empty", "", 0, 0644);
	mkbytes_in(f->src, "pkg/" LONG_NAME, "long\n", 5, 0644);
	mklink_in(f->src, "bin/run.sh", "pkg/run");
	art_init(&a, "pkg", FILES("**/*"), NONE);
	a.enable_symlinks = true;
	assert_int_equal(artifacts_collect(&a, f->src, l, &e), 0);
	assert_int_equal(l->nr, 6);
	art_release(&a);
	free(text);
	free(rnd);
}

/* Read any archive back; data up to 96 KiB per entry. */
struct rentry {
	char name[256];
	int type;
	int perm;
	int64_t size;
	unsigned char *data;
	size_t len;
	char link[256];
};

static size_t read_archive(const char *path, struct rentry *out, size_t max,
			   int *filter)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	size_t n = 0;

	archive_read_support_format_all(a);
	archive_read_support_filter_all(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536),
			 ARCHIVE_OK);
	while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		struct rentry *r = &out[n++];
		la_ssize_t got;

		assert_true(n <= max);
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s",
			 archive_entry_pathname(ent));
		r->type = (int)archive_entry_filetype(ent);
		r->perm = (int)archive_entry_perm(ent);
		r->size = archive_entry_size(ent);
		if (archive_entry_symlink(ent))
			snprintf(r->link, sizeof(r->link), "%s",
				 archive_entry_symlink(ent));
		r->data = xmalloc(96 * 1024);
		while ((got = archive_read_data(a, r->data + r->len,
						96 * 1024 - r->len)) > 0)
			r->len += (size_t)got;
		assert_true(got == 0);
	}
	if (filter)
		*filter = archive_filter_code(a, 0);
	archive_read_free(a);
	return n;
}

static void free_entries(struct rentry *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].data);
}

static const struct rentry *find_entry(const struct rentry *r, size_t n,
				       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return &r[i];
	fail_msg("no entry '%s' in the archive", name);
	return NULL;
}

static void assert_file_entry(const struct rentry *r, size_t n,
			      const char *name, int perm, const void *data,
			      size_t len)
{
	const struct rentry *x = find_entry(r, n, name);

	assert_int_equal(x->type, AE_IFREG);
	assert_int_equal(x->perm, perm);
	assert_int_equal(x->len, len);
	assert_memory_equal(x->data, data, len);
}

struct progress_log {
	size_t calls;
	uint64_t last_done, last_total;
	size_t last_files, files_total;
	bool backwards;
};

static void record_progress(uint64_t done, uint64_t total, size_t files,
			    size_t files_total, void *data)
{
	struct progress_log *p = data;

	if (p->calls && (done < p->last_done || files < p->last_files))
		p->backwards = true;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
	p->last_files = files;
	p->files_total = files_total;
}

/* Write the tree in packaging p and check it reads back whole. */
static void check_archive(struct fixture *f, enum artifact_packaging p,
			  int want_filter)
{
	struct artifact_write_opts o = ARTIFACT_WRITE_OPTS_INIT;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct progress_log pl = { 0 };
	struct artifact_digest d;
	struct sw_err e = SW_ERR_INIT;
	struct rentry r[16];
	unsigned char *rnd = xmalloc(RANDOM_LEN);
	char *text = make_text(20000);
	char *dest =
		xasprintf("%s/artifacts%s", f->out, artifact_packaging_ext(p));
	char sha[HASH_SHA256_HEX], md5[HASH_MD5_HEX];
	const struct rentry *x;
	struct stat sb;
	int filter = -1;
	size_t n;

	fill_random(rnd, RANDOM_LEN, 7);
	make_tree(f, &l);
	o.progress = record_progress;
	o.data = &pl;
	if (artifacts_write(&l, dest, p, &o, &d, &e) < 0)
		fail_msg("%s", e.msg);

	n = read_archive(dest, r, ARRAY_SIZE(r), &filter);
	assert_int_equal(filter, want_filter);
	/* 6 entries and their parents: bin/ doc/ and the three long ones */
	assert_int_equal(n, 11);
	assert_file_entry(r, n, "bin/run.sh", 0755, "#!/bin/sh\necho hi\n", 18);
	assert_file_entry(r, n, "doc/text.txt", 0644, text, strlen(text));
	assert_file_entry(r, n, "noise.bin", 0600, rnd, RANDOM_LEN);
	assert_file_entry(r, n, "empty", 0644, "", 0);
	assert_file_entry(r, n, LONG_NAME, 0644, "long\n", 5);
	x = find_entry(r, n, "run");
	assert_int_equal(x->type, AE_IFLNK);
	assert_string_equal(x->link, "bin/run.sh");
	x = find_entry(r, n, "bin/");
	assert_int_equal(x->type, AE_IFDIR);
	assert_int_equal(x->perm, 0755);
	/* a parent comes before what it holds */
	assert_true(find_entry(r, n, LONG_DIR "/") <
		    find_entry(r, n, LONG_NAME));

	assert_int_equal(hash_file(dest, sha, md5, &e), 0);
	assert_string_equal(d.sha256, sha);
	assert_string_equal(d.md5, md5);
	assert_int_equal(stat(dest, &sb), 0);
	assert_int_equal(d.size, sb.st_size);
	assert_int_equal(d.files, 6);
	assert_int_equal(count_dir(f->out), 1); /* no temporary left */

	/* progress: ends complete, never goes backwards */
	assert_true(pl.calls >= 1);
	assert_false(pl.backwards);
	assert_int_equal(pl.last_files, 6);
	assert_int_equal(pl.files_total, 6);
	assert_int_equal(pl.last_done, 18 + 20000 + RANDOM_LEN + 5);
	assert_int_equal(pl.last_total, pl.last_done);

	free_entries(r, n);
	free(dest);
	free(text);
	free(rnd);
	artifact_list_release(&l);
}

static void test_artifacts__zip_packaging(void **state)
{
	check_archive(*state, ARTIFACT_ZIP, ARCHIVE_FILTER_NONE);
}

static void test_artifacts__tar_gz_packaging(void **state)
{
	check_archive(*state, ARTIFACT_TAR_GZ, ARCHIVE_FILTER_GZIP);
}

static void test_artifacts__tar_zst_packaging(void **state)
{
	check_archive(*state, ARTIFACT_TAR_ZST, ARCHIVE_FILTER_ZSTD);
}

static void test_artifacts__tar_reproducible(void **state)
{
	struct fixture *f = *state;
	struct artifact_write_opts o = ARTIFACT_WRITE_OPTS_INIT;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct artifact_digest d1, d2;
	struct sw_err e = SW_ERR_INIT;
	char *dest = fs_join(f->out, "a.tar.zst");

	make_tree(f, &l);
	/* the same tree gives the same bytes: no time in the gzip header */
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_TAR_GZ, &o, &d1, &e), 0);
	sleep(1);
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_TAR_GZ, &o, &d2, &e), 0);
	assert_string_equal(d1.sha256, d2.sha256);
	/* zstd on one thread or several reads back the same */
	for (int threads = 1; threads <= 3; threads += 2) {
		struct rentry r[16];
		size_t n;

		o.threads = threads;
		assert_int_equal(artifacts_write(&l, dest, ARTIFACT_TAR_ZST, &o,
						 &d1, &e),
				 0);
		n = read_archive(dest, r, ARRAY_SIZE(r), NULL);
		assert_int_equal(n, 11);
		assert_int_equal(find_entry(r, n, "noise.bin")->len,
				 RANDOM_LEN);
		free_entries(r, n);
	}
	assert_int_equal(count_dir(f->out), 1);
	free(dest);
	artifact_list_release(&l);
}

/* The compression method of every entry of a zip (central directory). */
static size_t zip_methods(const char *path, char names[][64], int *methods,
			  size_t max)
{
	unsigned char *z;
	size_t len, n = 0, off, count;
	struct sw_err e = SW_ERR_INIT;
	char *data;

	assert_int_equal(fs_read_file(path, 64 << 20, &data, &len, &e), 0);
	z = (unsigned char *)data;
	assert_true(len >= 22);
	/* the end record, without a comment */
	assert_int_equal(z[len - 22], 0x50);
	assert_int_equal(z[len - 21], 0x4b);
	assert_int_equal(z[len - 20], 5);
	assert_int_equal(z[len - 19], 6);
	count = z[len - 12] | (size_t)z[len - 11] << 8;
	off = z[len - 6] | (size_t)z[len - 5] << 8 | (size_t)z[len - 4] << 16 |
	      (size_t)z[len - 3] << 24;
	for (size_t i = 0; i < count; i++) {
		size_t nl, xl, cl;

		assert_true(off + 46 <= len);
		assert_int_equal(z[off + 2], 1);
		assert_int_equal(z[off + 3], 2);
		nl = z[off + 28] | (size_t)z[off + 29] << 8;
		xl = z[off + 30] | (size_t)z[off + 31] << 8;
		cl = z[off + 32] | (size_t)z[off + 33] << 8;
		assert_true(n < max && nl < 64);
		memcpy(names[n], z + off + 46, nl);
		names[n][nl] = '\0';
		methods[n++] = z[off + 10] | z[off + 11] << 8;
		off += 46 + nl + xl + cl;
	}
	free(data);
	return n;
}

static int method_of(char names[][64], const int *methods, size_t n,
		     const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return methods[i];
	fail_msg("no '%s' in the zip", name);
	return -1;
}

static void test_artifacts__zip_store_decision(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	unsigned char *rnd = xmalloc(300000);
	char *text = make_text(100000), *mixed;
	char *dest = fs_join(f->out, "d.zip");
	char names[16][64];
	int methods[16];
	size_t n;

	fill_random(rnd, 300000, 99);
	/* random data under names that say nothing */
	mkbytes_in(f->src, "d/noise.bin", rnd, 300000, 0644);
	mkbytes_in(f->src, "d/small-noise", rnd, 2000, 0644);
	/* text, big and small */
	mkbytes_in(f->src, "d/text.txt", text, 100000, 0644);
	mkbytes_in(f->src, "d/page.html", text, 600, 0644);
	/* text with a random middle: the head decides */
	mixed = xmalloc(200000);
	memcpy(mixed, text, 100000);
	memcpy(mixed + 100000, rnd, 100000);
	mkbytes_in(f->src, "d/mixed.log", mixed, 200000, 0644);
	/* a few bytes that deflate makes bigger; a few that shrink */
	mkbytes_in(f->src, "d/tiny.txt", "hello\n", 6, 0644);
	mkbytes_in(f->src, "d/Makefile", "all:\n\tcc -o x x.c\n", 18, 0644);
	memset(mixed, 'a', 90);
	mkbytes_in(f->src, "d/aaa", mixed, 90, 0644);
	mkbytes_in(f->src, "d/empty", "", 0, 0644);
	/* stored by name whatever the content */
	mkbytes_in(f->src, "d/text.jar", text, 100000, 0644);
	art_init(&a, "d", FILES("**/*"), NONE);
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	if (artifacts_write(&l, dest, ARTIFACT_ZIP, NULL, NULL, &e) < 0)
		fail_msg("%s", e.msg);

	n = zip_methods(dest, names, methods, 16);
	assert_int_equal(n, 10);
	assert_int_equal(method_of(names, methods, n, "noise.bin"), 0);
	assert_int_equal(method_of(names, methods, n, "small-noise"), 0);
	assert_int_equal(method_of(names, methods, n, "text.txt"), 8);
	assert_int_equal(method_of(names, methods, n, "page.html"), 8);
	assert_int_equal(method_of(names, methods, n, "mixed.log"), 8);
	assert_int_equal(method_of(names, methods, n, "tiny.txt"), 0);
	assert_int_equal(method_of(names, methods, n, "Makefile"), 0);
	assert_int_equal(method_of(names, methods, n, "aaa"), 8);
	assert_int_equal(method_of(names, methods, n, "empty"), 0);
	assert_int_equal(method_of(names, methods, n, "text.jar"), 0);
	free(mixed);
	free(dest);
	free(text);
	free(rnd);
	artifact_list_release(&l);
	art_release(&a);
}

/* ---- none ---- */

static char *read_text(const char *dir, const char *rel)
{
	struct sw_err e = SW_ERR_INIT;
	char *path = fs_join(dir, rel), *data = NULL;
	size_t len;

	assert_int_equal(fs_read_file(path, 1 << 20, &data, &len, &e), 0);
	free(path);
	return data;
}

static mode_t perm_of(const char *dir, const char *rel)
{
	char *path = fs_join(dir, rel);
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	free(path);
	return sb.st_mode & 07777;
}

static void test_artifacts__none_tree(void **state)
{
	struct fixture *f = *state;
	struct artifact_write_opts o = ARTIFACT_WRITE_OPTS_INIT;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct progress_log pl = { 0 };
	struct artifact_digest d, d2;
	struct sw_err e = SW_ERR_INIT;
	char *dest = fs_join(f->out, "artifacts"), *t, *path;
	char target[64];
	struct stat sb, ssb;
	ssize_t n;

	make_tree(f, &l);
	o.progress = record_progress;
	o.data = &pl;
	if (artifacts_write(&l, dest, ARTIFACT_NONE, &o, &d, &e) < 0)
		fail_msg("%s", e.msg);
	t = read_text(dest, "bin/run.sh");
	assert_string_equal(t, "#!/bin/sh\necho hi\n");
	free(t);
	t = read_text(dest, LONG_NAME);
	assert_string_equal(t, "long\n");
	free(t);
	assert_int_equal(perm_of(dest, "bin/run.sh"), 0755);
	assert_int_equal(perm_of(dest, "noise.bin"), 0600);
	assert_int_equal(perm_of(dest, "bin"), 0755);
	path = fs_join(dest, "run");
	n = readlink(path, target, sizeof(target) - 1);
	assert_int_equal(n, 10);
	target[n] = '\0';
	assert_string_equal(target, "bin/run.sh");
	free(path);
	/* a copy, not a link to the build directory; mtime kept */
	path = fs_join(dest, "noise.bin");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(stat(l.v[4].path, &ssb), 0);
	assert_true(sb.st_ino != ssb.st_ino);
	assert_int_equal(sb.st_nlink, 1);
	assert_int_equal(sb.st_mtime, ssb.st_mtime);
	free(path);

	assert_int_equal(d.size, 18 + 20000 + RANDOM_LEN + 5);
	assert_int_equal(d.files, 6);
	assert_int_equal(strlen(d.sha256), 64);
	assert_int_equal(strlen(d.md5), 32);
	assert_int_equal(pl.last_done, d.size);
	assert_int_equal(pl.last_files, 6);
	assert_false(pl.backwards);
	assert_int_equal(count_dir(f->out), 1);

	/* the listing digest: the same tree, the same digest... */
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_NONE, NULL, &d2, &e), 0);
	assert_string_equal(d.sha256, d2.sha256);
	assert_string_equal(d.md5, d2.md5);
	/* ...a mode changed, another */
	assert_int_equal(chmod(l.v[4].path, 0640), 0);
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_NONE, NULL, &d2, &e), 0);
	assert_string_not_equal(d.sha256, d2.sha256);
	assert_int_equal(perm_of(dest, "noise.bin"), 0640);
	assert_int_equal(count_dir(f->out), 1);
	free(dest);
	artifact_list_release(&l);
}

static void test_artifacts__none_replaces_atomically(void **state)
{
	struct fixture *f = *state;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	char *dest = fs_join(f->out, "artifacts"), *t;
	char *gone = fs_join(f->src, "my-build-2/my-file-2.txt");

	/* an old tree with a file the new one does not have */
	mkfile_in(dest, "stale.txt", "old");
	mkfile_in(dest, "my-build-1/my-file-1.txt", "old one");
	art_init(&a, NULL, FILES("**/*"), NONE);
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	assert_int_equal(l.nr, 3);
	if (artifacts_write(&l, dest, ARTIFACT_NONE, NULL, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(count_dir(dest), 2);
	t = read_text(dest, "my-build-1/my-file-1.txt");
	assert_string_equal(t, "one");
	free(t);
	t = read_text(dest, "my-build-2/my-subdirectory/my-file-3.txt");
	assert_string_equal(t, "three");
	free(t);
	t = fs_join(dest, "stale.txt");
	assert_false(fs_exists(t));
	free(t);
	/* nothing aside, nothing temporary */
	assert_int_equal(count_dir(f->out), 1);

	/* a failure keeps the tree as it was and leaves nothing */
	assert_int_equal(unlink(gone), 0);
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_NONE, NULL, NULL, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "my-file-2.txt"));
	t = read_text(dest, "my-build-2/my-file-2.txt");
	assert_string_equal(t, "two");
	free(t);
	assert_int_equal(count_dir(f->out), 1);

	/* a file in the way is replaced too */
	mkfile_in(f->src, "my-build-2/my-file-2.txt", "two again");
	assert_int_equal(fs_remove_tree(dest, &e), 0);
	assert_int_equal(fs_write_atomic(dest, "file", 4, 0644, &e), 0);
	err_clear(&e);
	if (artifacts_write(&l, dest, ARTIFACT_NONE, NULL, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	t = read_text(dest, "my-build-2/my-file-2.txt");
	assert_string_equal(t, "two again");
	free(t);
	assert_int_equal(count_dir(f->out), 1);
	free(gone);
	free(dest);
	artifact_list_release(&l);
	art_release(&a);
}

static void test_artifacts__none_refuses_escaping_names(void **state)
{
	struct fixture *f = *state;
	struct artifact_entry ent = { 0 };
	struct artifact_list l = { &ent, 1, 1 };
	struct sw_err e = SW_ERR_INIT;
	char *dest = fs_join(f->out, "artifacts");
	char *outside = fs_join(f->top, "escaped");

	ent.path = fs_join(f->src, "my-build-1/my-file-1.txt");
	ent.name = xstrdup("../escaped");
	assert_int_equal(
		artifacts_write(&l, dest, ARTIFACT_NONE, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "'../escaped'"));
	assert_false(fs_exists(outside));
	assert_false(fs_exists(dest));
	assert_int_equal(count_dir(f->out), 0);
	free(ent.path);
	free(ent.name);
	free(outside);
	free(dest);
}

/* A progress callback on a bigger tree is rate limited. */
static void test_artifacts__progress_rate(void **state)
{
	struct fixture *f = *state;
	struct artifact_write_opts o = ARTIFACT_WRITE_OPTS_INIT;
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct progress_log pl = { 0 };
	struct sw_err e = SW_ERR_INIT;
	struct bs_artifact a;
	struct timespec t0, t1;
	char *text = make_text(1 << 20), *dest = fs_join(f->out, "p.zip");
	char name[32];
	double secs;

	for (int i = 0; i < 24; i++) {
		snprintf(name, sizeof(name), "p/f%02d.txt", i);
		mkbytes_in(f->src, name, text, 1 << 20, 0644);
	}
	art_init(&a, "p", FILES("**/*"), NONE);
	assert_int_equal(artifacts_collect(&a, f->src, &l, &e), 0);
	o.progress = record_progress;
	o.data = &pl;
	o.level = 6;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(artifacts_write(&l, dest, ARTIFACT_ZIP, &o, NULL, &e),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* one call per 100 ms at most, plus the first and the last */
	assert_true(pl.calls >= 2);
	assert_true((double)pl.calls <= secs * 10 + 2);
	assert_int_equal(pl.last_done, 24 << 20);
	assert_int_equal(pl.last_total, 24 << 20);
	assert_int_equal(pl.last_files, 24);
	free(text);
	free(dest);
	artifact_list_release(&l);
	art_release(&a);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_artifacts__reference_one_level_star),
		T(test_artifacts__reference_glob_base_discard),
		T(test_artifacts__exclude_paths),
		T(test_artifacts__duplicates_first_wins),
		T(test_artifacts__no_match),
		T(test_artifacts__bare_directory),
		T(test_artifacts__dotdot_refused),
		T(test_artifacts__absolute_paths),
		T(test_artifacts__symlink_escapes_refused),
		T(test_artifacts__symlinks_inside),
		T(test_artifacts__symlinked_base_inside),
		T(test_artifacts__zip_readback),
		T(test_artifacts__zip_stores_compressed_types),
		T(test_artifacts__zip_failure_leaves_nothing),
		T(test_artifacts__zip_missing_dest_dir),
		T(test_artifacts__packaging_names),
		T(test_artifacts__zip_packaging),
		T(test_artifacts__tar_gz_packaging),
		T(test_artifacts__tar_zst_packaging),
		T(test_artifacts__tar_reproducible),
		T(test_artifacts__zip_store_decision),
		T(test_artifacts__none_tree),
		T(test_artifacts__none_replaces_atomically),
		T(test_artifacts__none_refuses_escaping_names),
		T(test_artifacts__progress_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
