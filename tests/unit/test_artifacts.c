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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
