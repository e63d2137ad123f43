#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cache.h"
#include "fs.h"
#include "hash.h"
#include "mountns.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static char root[64];
static char *src, *state, *absdir, *abspat;

static char *rpath(const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

/* Create root/<rel> with content, making parent directories. */
static void mkfile_mode(const char *rel, const char *content, mode_t mode)
{
	char *path = rpath(rel);
	int fd;

	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(path);
}

static void mkfile(const char *rel, const char *content)
{
	mkfile_mode(rel, content, 0644);
}

/* The content of root/<rel>, or "<missing>". Caller frees. */
static char *slurp(const char *rel)
{
	char *path = rpath(rel), *data = NULL;
	size_t len;
	struct sw_err e = SW_ERR_INIT;

	if (fs_read_file(path, 1 << 20, &data, &len, &e) < 0)
		data = xstrdup("<missing>");
	free(path);
	return data;
}

#define assert_content(rel, want)                                              \
	do {                                                                   \
		char *got_ = slurp(rel);                                       \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **st)
{
	(void)st;
	snprintf(root, sizeof(root), "/tmp/sw-cache-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	src = rpath("src");
	state = rpath("state");
	absdir = rpath("abs/m2");
	abspat = xasprintf("%s/**/*", absdir);
	mkdir(src, 0755);
	unsetenv("SLIPWAY_CACHE_LINK");
	unsetenv(CACHE_TEST_KILL_ENV);
	unsetenv(MOUNTNS_TEST_NO_OVERLAY_ENV);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	rm_tree(root);
	free(src);
	free(state);
	free(absdir);
	free(abspat);
	return 0;
}

static const char *npm_paths[] = { "node_modules/**/*" };

static struct cache_spec spec_for(const char *key, const char **paths, size_t n)
{
	struct cache_spec s = CACHE_SPEC_INIT;

	s.key = key;
	s.paths = paths;
	s.npaths = n;
	s.project = "proj";
	return s;
}

static enum cache_outcome do_save_from(const char *dir,
				       const struct cache_spec *s,
				       struct cache_result *out)
{
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	enum cache_outcome o;

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_save(&c, s, dir, &r, &e), 0);
	o = r.outcome;
	if (out)
		*out = r;
	else
		cache_result_release(&r);
	cache_release(&c);
	return o;
}

static enum cache_outcome do_save(const struct cache_spec *s,
				  struct cache_result *out)
{
	return do_save_from(src, s, out);
}

static enum cache_outcome do_restore(const struct cache_spec *s,
				     const char *dir, struct cache_result *out)
{
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	enum cache_outcome o;

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, s, dir, &r, &e), 0);
	o = r.outcome;
	if (out)
		*out = r;
	else
		cache_result_release(&r);
	cache_release(&c);
	return o;
}

static void make_tree(void)
{
	char *p;

	mkfile("src/node_modules/a.txt", "alpha");
	mkfile_mode("src/node_modules/.bin/run", "#!/bin/sh\n", 0755);
	mkfile("src/node_modules/deep/x/y/z.txt", "zed");
	p = rpath("src/node_modules/empty");
	assert_int_equal(mkdir(p, 0750), 0);
	assert_int_equal(chmod(p, 0750), 0);
	free(p);
	p = rpath("src/node_modules/link");
	assert_int_equal(symlink("a.txt", p), 0);
	free(p);
	mkfile("src/keep.txt", "not cached");
	mkfile("abs/m2/repo/lib.jar", "jar");
}

static void check_round_trip(const char *mode)
{
	const char *paths[] = { "node_modules/**/*", abspat };
	struct cache_spec s = spec_for("npm-1", paths, 2);
	struct cache_result r;
	struct stat st;
	char *p, buf[64];
	ssize_t n;

	if (mode)
		setenv("SLIPWAY_CACHE_LINK", mode, 1);
	make_tree();
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.files, 4);
	assert_int_equal(r.symlinks, 1);
	assert_true(r.dirs >= 4);
	assert_int_equal(r.warnings.nr, 0);
	cache_result_release(&r);

	/* A fresh source, and the absolute root gone. */
	rm_tree(src);
	p = rpath("abs");
	rm_tree(p);
	free(p);
	mkdir(src, 0755);
	assert_int_equal(do_restore(&s, src, &r), CACHE_HIT);
	assert_string_equal(r.key, "npm-1");
	assert_null(r.fallback);
	assert_int_equal(r.files, 4);
	assert_int_equal(r.missing, 0);
	assert_int_equal(r.warnings.nr, 0);
	/* How the files were placed: hard links only when asked for. */
	if (mode && !strcmp(mode, "link")) {
		assert_int_equal(r.linked, 4);
	} else if (mode && !strcmp(mode, "copy")) {
		assert_int_equal(r.copied, 4);
	} else {
		assert_int_equal(r.linked, 0);
		assert_int_equal(r.cloned + r.copied, 4);
	}
	cache_result_release(&r);

	assert_content("src/node_modules/a.txt", "alpha");
	assert_content("src/node_modules/deep/x/y/z.txt", "zed");
	assert_content("abs/m2/repo/lib.jar", "jar");
	assert_content("src/keep.txt", "<missing>");
	p = rpath("src/node_modules/link");
	n = readlink(p, buf, sizeof(buf) - 1);
	assert_int_equal(n, 5);
	buf[n] = '\0';
	assert_string_equal(buf, "a.txt");
	free(p);
	p = rpath("src/node_modules/empty");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	free(p);
	p = rpath("src/node_modules/.bin/run");
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mode & 0100);
	if (!mode || strcmp(mode, "link")) {
		/* A reflink or copy carries the manifest's mode and is not
		 * shared. */
		assert_int_equal(st.st_mode & 07777, 0755);
		assert_int_equal(st.st_nlink, 1);
	} else {
		assert_int_equal(st.st_mode & 07777, 0555);
	}
	free(p);
	p = rpath("src/node_modules/a.txt");
	assert_int_equal(stat(p, &st), 0);
	if (mode && !strcmp(mode, "link"))
		assert_true(st.st_nlink >= 2);
	else
		assert_int_equal(st.st_nlink, 1);
	free(p);
	unsetenv("SLIPWAY_CACHE_LINK");
}

static void test_cache__round_trip_auto(void **st)
{
	(void)st;
	check_round_trip(NULL);
}

static void test_cache__round_trip_link(void **st)
{
	(void)st;
	check_round_trip("link");
}

static void test_cache__round_trip_copy(void **st)
{
	(void)st;
	check_round_trip("copy");
}

static void test_cache__bad_link_mode(void **st)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)st;
	setenv("SLIPWAY_CACHE_LINK", "symlink", 1);
	assert_int_equal(cache_open(&c, state, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	unsetenv("SLIPWAY_CACHE_LINK");
}

static void test_cache__keyed_entry_is_immutable(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	struct buf b = BUF_INIT;
	char *dst = rpath("dst");

	(void)st;
	mkfile("src/node_modules/f", "one");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkfile("src/node_modules/f", "two");
	assert_int_equal(do_save(&s, &r), CACHE_EXISTS);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), "key k exists"));
	cache_result_release(&r);
	buf_release(&b);
	mkdir(dst, 0755);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);
	assert_content("dst/node_modules/f", "one");
	free(dst);
}

static void test_cache__fallback_prefix_order(void **st)
{
	struct cache_spec s = spec_for("npm-a", npm_paths, 1);
	const char *fb1[] = { "nope-", "npm-" };
	const char *fb2[] = { "other-", "npm-" };
	struct cache_result r;
	struct buf b = BUF_INIT;
	char *dst = rpath("dst");

	(void)st;
	mkfile("src/node_modules/f", "a");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkfile("src/node_modules/f", "b");
	s.key = "npm-b";
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkfile("src/node_modules/f", "x");
	s.key = "other-x";
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(dst, 0755);

	/* The most recently saved of the prefix matches. */
	s.key = "npm-zzz";
	s.fallback_keys = fb1;
	s.nfallback = 2;
	assert_int_equal(do_restore(&s, dst, &r), CACHE_HIT_FALLBACK);
	assert_string_equal(r.key, "npm-b");
	assert_string_equal(r.fallback, "npm-");
	cache_result_describe(&r, &b);
	assert_non_null(
		strstr(buf_cstr(&b),
		       "Restoring cache: key npm-b (fallback npm-) 1 files"));
	buf_release(&b);
	cache_result_release(&r);
	assert_content("dst/node_modules/f", "b");

	/* Fallback keys are tried in order. */
	s.fallback_keys = fb2;
	assert_int_equal(do_restore(&s, dst, &r), CACHE_HIT_FALLBACK);
	assert_string_equal(r.key, "other-x");
	cache_result_release(&r);
	assert_content("dst/node_modules/f", "x");

	/* Other paths: another version, nothing to fall back on. */
	{
		const char *p2[] = { "node_modules" };
		struct cache_spec s2 = spec_for("npm-zzz", p2, 1);

		s2.fallback_keys = fb1;
		s2.nfallback = 2;
		assert_int_equal(do_restore(&s2, dst, NULL), CACHE_MISS);
	}
	/* action save: restore does nothing. */
	s.action = "save";
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_SKIPPED);
	free(dst);
}

static size_t count_manifests(void)
{
	char *edir = rpath("state/cache/entries");
	DIR *d = opendir(edir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d))) {
		char *v;
		DIR *vd;
		struct dirent *ve;

		if (de->d_name[0] == '.')
			continue;
		v = xasprintf("%s/%s", edir, de->d_name);
		vd = opendir(v);
		while (vd && (ve = readdir(vd))) {
			size_t len = strlen(ve->d_name);

			n += len > 5 && !strcmp(ve->d_name + len - 5, ".json");
		}
		if (vd)
			closedir(vd);
		free(v);
	}
	if (d)
		closedir(d);
	free(edir);
	return n;
}

static void test_cache__unkeyed_is_replaced(void **st)
{
	struct cache_spec s = spec_for(NULL, npm_paths, 1);
	struct cache_result r;
	char *dst = rpath("dst"), name[32];

	(void)st;
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "src/node_modules/f%02d", i);
		mkfile(name, name);
	}
	mkfile("src/node_modules/gone", "gone");
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.hashed, 21);
	cache_result_release(&r);

	/* One file changed, one removed: one file is read again. */
	mkfile("src/node_modules/f03", "changed");
	{
		char *p = rpath("src/node_modules/gone");

		unlink(p);
		free(p);
	}
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.hashed, 1);
	assert_int_equal(r.stored, 1);
	assert_int_equal(r.files, 20);
	assert_null(r.key);
	cache_result_release(&r);
	assert_int_equal(count_manifests(), 1);

	mkdir(dst, 0755);
	assert_int_equal(do_restore(&s, dst, &r), CACHE_HIT);
	assert_int_equal(r.files, 20);
	cache_result_release(&r);
	assert_content("dst/node_modules/f03", "changed");
	assert_content("dst/node_modules/f04", "src/node_modules/f04");
	assert_content("dst/node_modules/gone", "<missing>");
	free(dst);
}

static void test_cache__save_after_restore_hashes_changes_only(void **st)
{
	struct cache_spec s = spec_for("v1", npm_paths, 1);
	const char *fb[] = { "v" };
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dst = rpath("dst"), name[32];

	(void)st;
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "src/node_modules/f%d", i);
		mkfile(name, name);
	}
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(dst, 0755);
	s.key = "v2";
	s.fallback_keys = fb;
	s.nfallback = 1;
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s, dst, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_HIT_FALLBACK);
	cache_result_release(&r);
	/* The build replaces one file (new inode), as npm does. */
	mkfile("dst/node_modules/f5", "new");
	assert_int_equal(cache_save(&c, &s, dst, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_SAVED);
	assert_int_equal(r.hashed, 1);
	assert_int_equal(r.stored, 1);
	assert_int_equal(r.files, 10);
	cache_result_release(&r);
	cache_release(&c);
	free(dst);
}

/* Progress: each step counts up to its total, in order. */
struct seen_progress {
	char what[3][16];
	size_t last[3], total[3];
	int steps;
};

static void on_progress(const char *what, size_t done, size_t total, void *data)
{
	struct seen_progress *p = data;
	int k = p->steps - 1;

	if (k < 0 || strcmp(p->what[k], what)) {
		assert_true(p->steps < 3);
		k = p->steps++;
		snprintf(p->what[k], sizeof(p->what[k]), "%s", what);
		p->last[k] = 0;
	}
	assert_int_equal(done, p->last[k] + 1);
	p->last[k] = done;
	p->total[k] = total;
}

static void test_cache__progress(void **st)
{
	struct cache_spec s = spec_for("p1", npm_paths, 1);
	struct seen_progress save = { 0 }, restore = { 0 };
	char *dst = rpath("pdst"), name[32];

	(void)st;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "src/node_modules/f%d", i);
		mkfile(name, name);
	}
	s.progress = on_progress;
	s.progress_data = &save;
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	assert_int_equal(save.steps, 2);
	assert_string_equal(save.what[0], "hashing");
	assert_string_equal(save.what[1], "storing");
	assert_true(save.total[0] >= 4); /* files and their directory */
	assert_int_equal(save.last[0], save.total[0]);
	assert_int_equal(save.last[1], save.total[1]);
	mkdir(dst, 0755);
	s.progress_data = &restore;
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);
	assert_int_equal(restore.steps, 1);
	assert_string_equal(restore.what[0], "restoring");
	assert_int_equal(restore.last[0], restore.total[0]);
	assert_int_equal(restore.total[0], save.total[0]);
	free(dst);
}

static void test_cache__killed_save_leaves_no_entry(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache c = CACHE_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	char *dst = rpath("dst");
	int status;
	pid_t pid;

	(void)st;
	mkfile("src/node_modules/a", "a");
	mkfile("src/node_modules/b", "b");
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		setenv(CACHE_TEST_KILL_ENV, "before-manifest", 1);
		do_save(&s, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(count_manifests(), 0);
	mkdir(dst, 0755);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_MISS);
	assert_content("dst/node_modules/a", "<missing>");

	/* Prune takes the orphan objects; a new save works. */
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(pr.objects_removed, 2);
	assert_int_equal(pr.bytes_after, 0);
	cache_release(&c);
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);
	assert_content("dst/node_modules/b", "b");
	free(dst);
}

static void test_cache__tampered_object_not_served(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	char *dst = rpath("dst"), *dst2 = rpath("dst2"), *p;
	int fd;

	(void)st;
	setenv("SLIPWAY_CACHE_LINK", "link", 1);
	mkfile("src/node_modules/a", "original");
	mkfile("src/node_modules/b", "other");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(dst, 0755);
	mkdir(dst2, 0755);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);

	/* A build writes into the restored (hard-linked) file in place. */
	p = rpath("dst/node_modules/a");
	chmod(p, 0644);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "EVIL", 4), 4);
	close(fd);
	free(p);

	assert_int_equal(do_restore(&s, dst2, &r), CACHE_HIT);
	assert_int_equal(r.missing, 1);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.warnings.nr, 1);
	assert_non_null(strstr(r.warnings.v[0], "modified"));
	cache_result_release(&r);
	assert_content("dst2/node_modules/a", "<missing>");
	assert_content("dst2/node_modules/b", "other");
	unsetenv("SLIPWAY_CACHE_LINK");
	free(dst);
	free(dst2);
}

static void test_cache__dropped_object_is_stored_again(void **st)
{
	struct cache_spec s = spec_for(NULL, npm_paths, 1);
	struct cache_result r;
	char *d1 = rpath("d1"), *d2 = rpath("d2"), *d3 = rpath("d3"), *p;
	int fd;

	(void)st;
	setenv("SLIPWAY_CACHE_LINK", "link", 1);
	mkfile("src/node_modules/a", "aaa");
	mkfile("src/node_modules/b", "bbb");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(d1, 0755);
	mkdir(d2, 0755);
	mkdir(d3, 0755);
	assert_int_equal(do_restore(&s, d1, NULL), CACHE_HIT);
	p = rpath("d1/node_modules/a");
	fd = open(p, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "!", 1), 1);
	close(fd);
	free(p);
	/* This restore drops the modified object. */
	assert_int_equal(do_restore(&s, d2, &r), CACHE_HIT);
	assert_int_equal(r.missing, 1);
	cache_result_release(&r);
	/* The unchanged source is saved again: the object comes back even
	 * though the previous manifest's stat cache matches. */
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.hashed, 0);
	assert_int_equal(r.stored, 1);
	cache_result_release(&r);
	assert_int_equal(do_restore(&s, d3, &r), CACHE_HIT);
	assert_int_equal(r.missing, 0);
	cache_result_release(&r);
	assert_content("d3/node_modules/a", "aaa");
	unsetenv("SLIPWAY_CACHE_LINK");
	free(d1);
	free(d2);
	free(d3);
}

static void test_cache__prune_between_restore_and_save(void **st)
{
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache c = CACHE_INIT, c2 = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	char *dst = rpath("dst"), *dst2 = rpath("dst2");

	(void)st;
	mkfile("src/node_modules/a", "aaa");
	mkfile("src/node_modules/b", "bbb");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(dst, 0755);
	mkdir(dst2, 0755);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s, dst, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_HIT);
	cache_result_release(&r);
	/* Another process empties the store during the build. */
	assert_int_equal(cache_open(&c2, state, &e), 0);
	assert_int_equal(cache_prune(&c2, 0, &pr, &e), 0);
	assert_int_equal(pr.entries_removed, 1);
	assert_int_equal(pr.bytes_after, 0);
	cache_release(&c2);
	s.key = "k2";
	assert_int_equal(cache_save(&c, &s, dst, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_SAVED);
	assert_int_equal(r.hashed, 0);
	assert_int_equal(r.stored, 2);
	cache_result_release(&r);
	cache_release(&c);
	assert_int_equal(do_restore(&s, dst2, &r), CACHE_HIT);
	assert_int_equal(r.files, 2);
	assert_int_equal(r.missing, 0);
	cache_result_release(&r);
	assert_content("dst2/node_modules/b", "bbb");
	free(dst);
	free(dst2);
}

/* Replace the single manifest's "files" list with `files` (JSON). */
static void rewrite_manifest(const char *files)
{
	char *edir = rpath("state/cache/entries"), *man = NULL;
	DIR *d = opendir(edir), *vd;
	struct dirent *de, *ve;
	char *data, *pos;
	size_t len;
	struct buf b = BUF_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_non_null(d);
	while ((de = readdir(d)) && !man) {
		char *v;

		if (de->d_name[0] == '.')
			continue;
		v = xasprintf("%s/%s", edir, de->d_name);
		vd = opendir(v);
		while (vd && (ve = readdir(vd)))
			if (strstr(ve->d_name, ".json"))
				man = xasprintf("%s/%s", v, ve->d_name);
		closedir(vd);
		free(v);
	}
	closedir(d);
	assert_non_null(man);
	assert_int_equal(fs_read_file(man, 1 << 20, &data, &len, &e), 0);
	pos = strstr(data, ",\"files\":");
	assert_non_null(pos);
	buf_add(&b, data, (size_t)(pos - data));
	buf_addf(&b, ",\"files\":%s}", files);
	assert_int_equal(fs_write_atomic(man, b.ptr, b.len, 0644, &e), 0);
	buf_release(&b);
	free(data);
	free(man);
	free(edir);
}

static void check_hostile(const char *files, const char *must_not_exist)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	char *dst = rpath("dst"), *p;
	struct stat st;

	rewrite_manifest(files);
	mkdir(dst, 0755);
	assert_int_equal(do_restore(&s, dst, &r), CACHE_MISS);
	assert_int_equal(r.warnings.nr, 1);
	assert_non_null(strstr(r.warnings.v[0], "refused"));
	cache_result_release(&r);
	p = rpath(must_not_exist);
	assert_int_not_equal(lstat(p, &st), 0);
	free(p);
	free(dst);
}

#define HASH_A                                                                 \
	"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define F_ENTRY(path)                                                          \
	"{\"path\":\"" path "\",\"root\":\"src\",\"type\":\"file\",\"mode\":"  \
	"420,\"mtime_ns\":0,\"size\":1,\"hash\":\"" HASH_A "\"}"

static void test_cache__hostile_manifest_refused(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	char *out = rpath("outside"), *p;

	(void)st;
	mkfile("src/node_modules/a", "a");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(out, 0755);
	check_hostile("[" F_ENTRY("node_modules/../../evil") "]", "evil");
	check_hostile("[" F_ENTRY("../evil") "]", "evil");
	{
		char *abs = xasprintf("[" F_ENTRY("%s/evil") "]", root + 1);

		check_hostile(abs, "evil");
		free(abs);
	}
	check_hostile("[" F_ENTRY("elsewhere/evil") "]", "dst/elsewhere");
	p = xasprintf("[{\"path\":\"node_modules/l\",\"root\":\"src\","
		      "\"type\":\"symlink\",\"mode\":511,\"target\":\"%s\"},"
		      "" F_ENTRY("node_modules/l/evil") "]",
		      out);
	check_hostile(p, "outside/evil");
	free(p);
	check_hostile("[{\"path\":\"node_modules/x\",\"root\":\"abs\","
		      "\"type\":\"dir\",\"mode\":493}]",
		      "dst/node_modules/x");
	check_hostile("[{\"path\":\"node_modules/x\\u0000y\",\"root\":"
		      "\"src\",\"type\":\"dir\",\"mode\":493}]",
		      "dst/node_modules/x");
	check_hostile("[" F_ENTRY("node_modules/./x") "]",
		      "dst/node_modules/x");
	check_hostile("[{\"path\":1}] trailing", "dst/node_modules");
	free(out);
}

static void test_cache__restore_replaces_symlink_in_target(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	char *dst = rpath("dst"), *out = rpath("outside"), *p;
	struct stat sb;

	(void)st;
	mkfile("src/node_modules/a", "a");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(dst, 0755);
	mkdir(out, 0755);
	p = rpath("dst/node_modules");
	assert_int_equal(symlink(out, p), 0);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);
	/* Written into a real directory, never through the link. */
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_content("dst/node_modules/a", "a");
	assert_content("outside/a", "<missing>");
	free(p);
	free(dst);
	free(out);
}

static void test_cache__concurrent_saves(void **st)
{
	const char *keys[] = { "k1", "k1", "k2", "k2", "k1", "k2" };
	struct cache c = CACHE_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	char *dst = rpath("dst"), name[64];
	pid_t pids[6];
	int status;

	(void)st;
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "src/node_modules/d%d/f%d", i % 7,
			 i);
		mkfile(name, name);
	}
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (!pids[i]) {
			struct cache_spec s = spec_for(keys[i], npm_paths, 1);
			enum cache_outcome o = do_save(&s, NULL);

			_exit(o == CACHE_SAVED || o == CACHE_EXISTS ? 0 : 1);
		}
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(count_manifests(), 2);
	mkdir(dst, 0755);
	for (int k = 1; k <= 2; k++) {
		struct cache_spec s =
			spec_for(k == 1 ? "k1" : "k2", npm_paths, 1);
		struct cache_result r;

		assert_int_equal(do_restore(&s, dst, &r), CACHE_HIT);
		assert_int_equal(r.files, 200);
		assert_int_equal(r.missing, 0);
		cache_result_release(&r);
	}
	assert_content("dst/node_modules/d3/f10", "src/node_modules/d3/f10");
	/* Every object is referenced: nothing for prune to take. */
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(pr.objects_removed, 0);
	assert_int_equal(pr.entries_removed, 0);
	cache_release(&c);
	free(dst);
}

static void big_file(const char *rel, char fill, size_t n)
{
	char *data = xmalloc(n + 1);

	memset(data, fill, n);
	data[n] = '\0';
	mkfile(rel, data);
	free(data);
}

static void test_cache__prune_lru(void **st)
{
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache c = CACHE_INIT;
	struct cache_prune_result pr;
	struct cache_entry_info *v;
	struct sw_err e = SW_ERR_INIT;
	char *dst = rpath("dst");
	size_t n;

	(void)st;
	big_file("src/node_modules/f", 'a', 100000);
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	big_file("src/node_modules/f", 'b', 100000);
	s.key = "k2";
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	big_file("src/node_modules/f", 'c', 100000);
	s.key = "k3";
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	/* k1 used now: k2 is the least recently used. */
	mkdir(dst, 0755);
	s.key = "k1";
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_list(&c, &v, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].key, "k1");
	assert_int_equal(v[0].files, 1);
	assert_int_equal(v[0].bytes, 100000);
	cache_entries_free(v, n);

	assert_int_equal(cache_prune(&c, 250000, &pr, &e), 0);
	assert_int_equal(pr.entries_removed, 1);
	assert_int_equal(pr.objects_removed, 1);
	assert_int_equal(pr.bytes_before, 300000);
	assert_int_equal(pr.bytes_after, 200000);
	assert_int_equal(cache_list(&c, &v, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "k1");
	assert_string_equal(v[1].key, "k3");
	cache_entries_free(v, n);

	assert_int_equal(cache_clear(&c, &e), 0);
	assert_int_equal(cache_list(&c, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	cache_entries_free(v, n);
	cache_release(&c);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_MISS);
	free(dst);
}

static void test_cache__hash_files(void **st)
{
	const char *g1[] = { "package-lock.json", "sub/*.json" };
	const char *g2[] = { "sub/*.json", "package-lock.json", "nothing*" };
	char h1[65], h2[65], want[65], ha[65], hb[65];
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	(void)st;
	mkfile("src/package-lock.json", "lock");
	mkfile("src/sub/b.json", "b");
	assert_int_equal(cache_hash_files(src, g1, 2, h1, &e), 0);
	assert_int_equal(cache_hash_files(src, g2, 3, h2, &e), 0);
	assert_string_equal(h1, h2);

	assert_int_equal(hash_buf(HASH_SHA256, "lock", 4, ha, &e), 0);
	assert_int_equal(hash_buf(HASH_SHA256, "b", 1, hb, &e), 0);
	buf_addstr(&b, "package-lock.json");
	buf_addch(&b, '\0');
	buf_addf(&b, "%s\n", ha);
	buf_addstr(&b, "sub/b.json");
	buf_addch(&b, '\0');
	buf_addf(&b, "%s\n", hb);
	assert_int_equal(hash_buf(HASH_SHA256, b.ptr, b.len, want, &e), 0);
	assert_string_equal(h1, want);
	buf_release(&b);

	mkfile("src/sub/b.json", "B");
	assert_int_equal(cache_hash_files(src, g1, 2, h2, &e), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(cache_hash_files(src, g2 + 2, 1, h2, &e), 0);
	assert_string_equal(h2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b93"
				"4ca495991b7852b855");
}

static void test_cache__version_and_sizes(void **st)
{
	const char *a[] = { "x/**/*", "/root/.m2/**/*" };
	const char *b[] = { "/root/.m2/**/*", "x/**/*" };
	const char *c[] = { "x" };
	char va[65], vb[65], vc[65];
	uint64_t n;

	(void)st;
	cache_version(a, 2, va);
	cache_version(b, 2, vb);
	cache_version(c, 1, vc);
	assert_string_equal(va, vb);
	assert_string_not_equal(va, vc);

	assert_int_equal(cache_parse_size("500M", &n), 0);
	assert_int_equal(n, 500ULL << 20);
	assert_int_equal(cache_parse_size("2G", &n), 0);
	assert_int_equal(n, 2ULL << 30);
	assert_int_equal(cache_parse_size("1.5GiB", &n), 0);
	assert_int_equal(n, 3ULL << 29);
	assert_int_equal(cache_parse_size("123", &n), 0);
	assert_int_equal(n, 123);
	assert_int_equal(cache_parse_size("12X", &n), -1);
	assert_int_equal(cache_parse_size("-1", &n), -1);
	assert_int_equal(cache_parse_size("", &n), -1);
}

static void test_cache__abs_dirs(void **st)
{
	const char *paths[] = { "node_modules/**/*",	  "/root/.m2/**/*",
				"/var/cache/thing.d/*.x", "/root/.m2/repo/**/*",
				"/var/cache/thing",	  "/opt/a/b*/c",
				"/var/cache/thing/sub",	  "/root/.m2/**/*" };
	const char *bad_root[] = { "/**/*" };
	const char *bad_dots[] = { "/var/../etc/*" };
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)st;
	assert_int_equal(cache_abs_dirs(paths, 8, &v, &e), 0);
	assert_int_equal(v.nr, 4);
	assert_string_equal(v.v[0], "/opt/a");
	assert_string_equal(v.v[1], "/root/.m2");
	assert_string_equal(v.v[2], "/var/cache/thing");
	assert_string_equal(v.v[3], "/var/cache/thing.d");
	strvec_clear(&v);
	assert_int_equal(cache_abs_dirs(paths, 1, &v, &e), 0);
	assert_int_equal(v.nr, 0);
	assert_int_equal(cache_abs_dirs(bad_root, 1, &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg, "/**/*"));
	err_clear(&e);
	assert_int_equal(cache_abs_dirs(bad_dots, 1, &v, &e), -1);
	assert_int_equal(v.nr, 0);
	err_clear(&e);
	strvec_release(&v);
}

/* abs_root: absolute paths live under it, never at the machine's path. */
static void test_cache__abs_root_mapping(void **st)
{
	const char *paths[] = { abspat };
	struct cache_spec s = spec_for("m2", paths, 1);
	struct cache_result r;
	char *map1 = rpath("map1"), *map2 = rpath("map2"), *p;
	struct stat sb;

	(void)st;
	/* absdir is <root>/abs/m2: the build wrote <map1><absdir>/... */
	p = xasprintf("map1%s/repo/lib.jar", absdir);
	mkfile(p, "jar");
	free(p);
	s.abs_root = map1;
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.warnings.nr, 0);
	cache_result_release(&r);
	assert_int_equal(lstat(absdir, &sb), -1);

	s.abs_root = map2;
	assert_int_equal(do_restore(&s, src, &r), CACHE_HIT);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.warnings.nr, 0);
	cache_result_release(&r);
	p = xasprintf("map2%s/repo/lib.jar", absdir);
	assert_content(p, "jar");
	free(p);
	/* the machine's own path is not written */
	assert_int_equal(lstat(absdir, &sb), -1);

	/* Unmapped, the same entry goes to the real path. */
	s.abs_root = NULL;
	assert_int_equal(do_restore(&s, src, NULL), CACHE_HIT);
	assert_content("abs/m2/repo/lib.jar", "jar");
	free(map1);
	free(map2);
}

/* Mapped, a symlink in a literal prefix is not followed. */
static void test_cache__abs_root_no_follow(void **st)
{
	const char *paths[] = { abspat };
	struct cache_spec s = spec_for("m2", paths, 1);
	struct cache_result r;
	char *map = rpath("map"), *out = rpath("outside"), *p, *q;
	struct sw_err e = SW_ERR_INIT;

	(void)st;
	mkfile("abs/m2/repo/lib.jar", "jar");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	/* <map>/<root> -> outside: <map><absdir> resolves outside */
	assert_int_equal(mkdir(out, 0755), 0);
	p = xasprintf("map%s", root);
	q = rpath(p);
	free(p);
	*strrchr(q, '/') = '\0';
	assert_int_equal(fs_mkdir_p(q, 0755, &e), 0);
	free(q);
	q = xasprintf("%s%s", map, root);
	assert_int_equal(symlink(out, q), 0);
	free(q);
	s.abs_root = map;
	assert_int_equal(do_restore(&s, src, &r), CACHE_HIT);
	cache_result_release(&r);
	/* the link was replaced by a directory of the map's own */
	assert_content("outside/abs/m2/repo/lib.jar", "<missing>");
	p = xasprintf("map%s/repo/lib.jar", absdir);
	assert_content(p, "jar");
	free(p);

	/* A save does not read through such a link either. */
	mkfile("outside/abs/m2/repo/secret", "secret");
	q = xasprintf("%s%s", map, root);
	p = xasprintf("%s.old", q);
	assert_int_equal(rename(q, p), 0);
	free(p);
	assert_int_equal(symlink(out, q), 0);
	free(q);
	s.key = "m2-second";
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.files, 0);
	cache_result_release(&r);
	free(map);
	free(out);
}

/* Write content into root/<rel> in place (same inode), as `echo x > f`. */
static void write_in_place(const char *rel, const char *content)
{
	char *p = rpath(rel);
	int fd = open(p, O_WRONLY | O_TRUNC);

	if (fd < 0) {
		/* Not root: a read-only hard link must be made writable. */
		assert_int_equal(chmod(p, 0644), 0);
		fd = open(p, O_WRONLY | O_TRUNC);
	}
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
	free(p);
}

/* The store's object for content (not executable) is as stored. */
static void assert_object_intact(const char *content)
{
	char hex[65], *p, *rel;
	struct sw_err e = SW_ERR_INIT;
	struct stat st;

	assert_int_equal(
		hash_buf(HASH_SHA256, content, strlen(content), hex, &e), 0);
	rel = xasprintf("state/cache/objects/%.2s/%s", hex, hex);
	p = rpath(rel);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, CACHE_OBJ_MTIME);
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal((size_t)st.st_size, strlen(content));
	assert_content(rel, content);
	free(p);
	free(rel);
}

/* The health of the one entry cache_list() must find. */
static struct cache_entry_info only_entry(void)
{
	struct cache c = CACHE_INIT;
	struct cache_entry_info *v, x;
	struct sw_err e = SW_ERR_INIT;
	size_t n;

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_list(&c, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	x = v[0];
	x.key = x.project = NULL;
	cache_entries_free(v, n);
	cache_release(&c);
	return x;
}

static bool healthy(const struct cache_entry_info *x)
{
	return !x->unreadable && !x->missing && !x->modified;
}

/*
 * The default restore: a build that rewrites a restored file in place
 * (npm, Maven, pip) must not reach the store. Build 1 saves k1, build 2
 * restores it and writes the file in place, build 3 restores build 1's
 * content, and the object is as it was stored.
 */
static void test_cache__in_place_write_does_not_damage_the_store(void **st)
{
	const char *paths[] = { "deps/**/*" };
	struct cache_spec s = spec_for("k1", paths, 1);
	struct cache_result r;
	struct cache_entry_info x;
	struct buf b = BUF_INIT;
	char *b2 = rpath("b2"), *b3 = rpath("b3");
	struct stat sb;
	char *p;

	(void)st;
	mkfile("src/deps/a", "v1\n");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);

	mkdir(b2, 0755);
	assert_int_equal(do_restore(&s, b2, &r), CACHE_HIT);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.linked, 0);
	cache_result_describe(&r, &b);
	assert_true(strstr(buf_cstr(&b), " by reflink in ") ||
		    strstr(buf_cstr(&b), " by copy in "));
	buf_release(&b);
	cache_result_release(&r);
	p = rpath("b2/deps/a");
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_nlink, 1);
	assert_int_equal(sb.st_mode & 07777, 0644);
	free(p);
	write_in_place("b2/deps/a", "v2\n");
	assert_int_equal(do_save_from(b2, &s, &r), CACHE_EXISTS);
	cache_result_release(&r);
	assert_object_intact("v1\n");
	x = only_entry();
	assert_true(healthy(&x));
	assert_int_equal(x.objects, 1);

	mkdir(b3, 0755);
	assert_int_equal(do_restore(&s, b3, &r), CACHE_HIT);
	assert_int_equal(r.files, 1);
	assert_int_equal(r.missing, 0);
	assert_int_equal(r.warnings.nr, 0);
	cache_result_release(&r);
	assert_content("b3/deps/a", "v1\n");
	assert_object_intact("v1\n");
	free(b2);
	free(b3);
}

/*
 * Hard links, asked for: a build writing in place damages the entry;
 * `cache ls` says so; the build's save replaces it (the old content is
 * gone with the object) and the entry is healthy again.
 */
static void test_cache__link_damage_replaced_by_next_save(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	struct cache_entry_info x;
	struct buf b = BUF_INIT;
	char *d1 = rpath("d1"), *d2 = rpath("d2");

	(void)st;
	setenv("SLIPWAY_CACHE_LINK", "link", 1);
	mkfile("src/node_modules/a", "one");
	mkfile("src/node_modules/b", "bee");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(d1, 0755);
	assert_int_equal(do_restore(&s, d1, &r), CACHE_HIT);
	assert_int_equal(r.linked, 2);
	cache_result_release(&r);
	write_in_place("d1/node_modules/a", "EVIL");

	x = only_entry();
	assert_false(x.unreadable);
	assert_int_equal(x.objects, 2);
	assert_int_equal(x.modified, 1);
	assert_int_equal(x.missing, 0);

	/* The build's own save: the key exists but is damaged. */
	assert_int_equal(do_save_from(d1, &s, &r), CACHE_REPLACED);
	assert_int_equal(r.damaged, 1);
	assert_int_equal(r.repaired, 0);
	assert_int_equal(r.files, 2);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b),
			       "key k was damaged (1 object missing or "
			       "modified): replaced, 2 files"));
	buf_release(&b);
	cache_result_release(&r);
	x = only_entry();
	assert_true(healthy(&x));
	assert_int_equal(x.objects, 2);

	mkdir(d2, 0755);
	assert_int_equal(do_restore(&s, d2, &r), CACHE_HIT);
	assert_int_equal(r.files, 2);
	assert_int_equal(r.missing, 0);
	cache_result_release(&r);
	assert_content("d2/node_modules/a", "EVIL");
	assert_content("d2/node_modules/b", "bee");
	/* A save of a healthy key is immutable again. */
	assert_int_equal(do_save_from(d1, &s, NULL), CACHE_EXISTS);
	unsetenv("SLIPWAY_CACHE_LINK");
	free(d1);
	free(d2);
}

/*
 * Hard links: an object damaged by one build is stored again by the save
 * of another build that still has its content, and the entry keeps its
 * content.
 */
static void test_cache__link_damage_repaired_by_next_save(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	struct cache_entry_info x;
	struct buf b = BUF_INIT;
	char *d1 = rpath("d1"), *d2 = rpath("d2"), *d3 = rpath("d3");

	(void)st;
	mkfile("src/node_modules/a", "one");
	mkfile("src/node_modules/b", "bee");
	mkfile("src/node_modules/c", "one"); /* the same object as a */
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	/* Build 1 has copies; build 2 hard links and writes in place. */
	mkdir(d1, 0755);
	assert_int_equal(do_restore(&s, d1, NULL), CACHE_HIT);
	setenv("SLIPWAY_CACHE_LINK", "link", 1);
	mkdir(d2, 0755);
	assert_int_equal(do_restore(&s, d2, NULL), CACHE_HIT);
	write_in_place("d2/node_modules/a", "EVIL");
	x = only_entry();
	assert_int_equal(x.objects, 2);
	assert_int_equal(x.modified, 1);

	/* Build 1's save brings the object back. */
	assert_int_equal(do_save_from(d1, &s, &r), CACHE_REPAIRED);
	assert_int_equal(r.damaged, 1);
	assert_int_equal(r.repaired, 1);
	assert_int_equal(r.stored, 1);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b),
			       "key k exists and is immutable; 1 damaged "
			       "object stored again"));
	buf_release(&b);
	cache_result_release(&r);
	assert_object_intact("one");
	x = only_entry();
	assert_true(healthy(&x));

	mkdir(d3, 0755);
	assert_int_equal(do_restore(&s, d3, &r), CACHE_HIT);
	assert_int_equal(r.files, 3);
	assert_int_equal(r.missing, 0);
	cache_result_release(&r);
	assert_content("d3/node_modules/a", "one");
	assert_content("d3/node_modules/c", "one");
	unsetenv("SLIPWAY_CACHE_LINK");
	free(d1);
	free(d2);
	free(d3);
}

/* A keyed entry whose manifest cannot be read is replaced, not a miss
 * for ever. */
static void test_cache__unreadable_keyed_entry_replaced(void **st)
{
	struct cache_spec s = spec_for("k", npm_paths, 1);
	struct cache_result r;
	struct cache_entry_info x;
	char *dst = rpath("dst");

	(void)st;
	mkfile("src/node_modules/a", "a");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	rewrite_manifest("[{\"path\":1}]");
	x = only_entry();
	assert_true(x.unreadable);
	mkdir(dst, 0755);
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_MISS);
	mkfile("src/node_modules/a", "again");
	assert_int_equal(do_save(&s, &r), CACHE_REPLACED);
	assert_int_equal(r.files, 1);
	cache_result_release(&r);
	x = only_entry();
	assert_true(healthy(&x));
	assert_int_equal(do_restore(&s, dst, NULL), CACHE_HIT);
	assert_content("dst/node_modules/a", "again");
	free(dst);
}

/*
 * An object removed behind the store's back: the project's entry keeps
 * trusting its previous manifest until a restore finds the object
 * missing; the save after it stores the object again.
 */
static void test_cache__missing_object_stored_again(void **st)
{
	struct cache_spec s = spec_for(NULL, npm_paths, 1);
	struct cache_result r;
	struct cache_entry_info x;
	char hex[65], *p, *d1 = rpath("d1"), *d2 = rpath("d2");
	struct sw_err e = SW_ERR_INIT;

	(void)st;
	mkfile("src/node_modules/a", "aaa");
	mkfile("src/node_modules/b", "bbb");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	assert_int_equal(hash_buf(HASH_SHA256, "aaa", 3, hex, &e), 0);
	p = xasprintf("%s/state/cache/objects/%.2s/%s", root, hex, hex);
	assert_int_equal(unlink(p), 0);
	free(p);
	x = only_entry();
	assert_int_equal(x.missing, 1);
	assert_int_equal(x.objects, 2);

	mkdir(d1, 0755);
	assert_int_equal(do_restore(&s, d1, &r), CACHE_HIT);
	assert_int_equal(r.missing, 1);
	cache_result_release(&r);
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.stored, 1);
	cache_result_release(&r);
	x = only_entry();
	assert_true(healthy(&x));
	mkdir(d2, 0755);
	assert_int_equal(do_restore(&s, d2, &r), CACHE_HIT);
	assert_int_equal(r.missing, 0);
	cache_result_release(&r);
	assert_content("d2/node_modules/a", "aaa");
	free(d1);
	free(d2);
}

/* Files in state/cache/tmp and their total size; *pid from a name. */
static size_t tmp_files(uint64_t *bytes, pid_t *pid)
{
	char *dir = rpath("state/cache/tmp");
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	*bytes = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat sb;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		assert_int_equal(lstat(p, &sb), 0);
		*bytes += (uint64_t)sb.st_size;
		if (pid)
			*pid = (pid_t)strtol(de->d_name, NULL, 10);
		free(p);
		n++;
	}
	closedir(d);
	free(dir);
	return n;
}

static pid_t save_in_child(const char *key, const char *kill_at)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		struct cache_spec s = spec_for(key, npm_paths, 1);

		if (kill_at)
			setenv(CACHE_TEST_KILL_ENV, kill_at, 1);
		do_save(&s, NULL);
		_exit(0);
	}
	return pid;
}

/*
 * A save killed while it writes an object leaves its temp file in tmp/,
 * named for its pid; the next save removes it (its process is gone).
 */
static void test_cache__killed_save_temp_removed_by_next_save(void **st)
{
	struct cache_spec s = spec_for("other", npm_paths, 1);
	struct cache_result r;
	uint64_t bytes;
	pid_t pid, in_name = 0;
	int status;

	(void)st;
	big_file("src/node_modules/big", 'x', 300000);
	pid = save_in_child("k", "in-object");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(count_manifests(), 0);
	assert_int_equal(tmp_files(&bytes, &in_name), 1);
	assert_int_equal(in_name, pid);
	assert_int_equal(bytes, 300000);

	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	assert_int_equal(r.temps_removed, 1);
	assert_int_equal(r.temps_bytes, 300000);
	assert_int_equal(r.warnings.nr, 1);
	assert_non_null(strstr(r.warnings.v[0], "removed 1 temporary file"));
	cache_result_release(&r);
	assert_int_equal(tmp_files(&bytes, NULL), 0);
}

/*
 * kill -9 from outside while a save copies a big file into the store:
 * prune removes and counts every temp file, whatever moment the kill
 * hit, and the store holds either no entry or a whole one.
 */
static void test_cache__kill9_during_save_then_prune(void **st)
{
	struct cache c = CACHE_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	struct pollfd pfd;
	uint64_t bytes;
	size_t ntmp, big = (size_t)48 << 20;
	char *tmpdir = rpath("state/cache/tmp"), *dst = rpath("dst");
	int in, status;
	pid_t pid;

	(void)st;
	big_file("src/node_modules/big", 'y', big);
	/* The layout first, so that tmp/ can be watched. */
	assert_int_equal(cache_open(&c, state, &e), 0);
	in = inotify_init1(IN_CLOEXEC);
	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, tmpdir, IN_CREATE) >= 0);
	pid = save_in_child("k", NULL);
	pfd.fd = in;
	pfd.events = POLLIN;
	/* The save's first temp file: kill it. The bound is a safety net,
	 * not an ordering. */
	assert_int_equal(poll(&pfd, 1, 60000), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(in);

	ntmp = tmp_files(&bytes, NULL);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(pr.temps_removed, ntmp);
	assert_int_equal(pr.temps_bytes, bytes);
	assert_int_equal(tmp_files(&bytes, NULL), 0);
	cache_release(&c);
	mkdir(dst, 0755);
	if (count_manifests()) {
		struct cache_spec s = spec_for("k", npm_paths, 1);
		struct cache_result r;

		assert_int_equal(do_restore(&s, dst, &r), CACHE_HIT);
		assert_int_equal(r.missing, 0);
		assert_int_equal(r.bytes, big);
		cache_result_release(&r);
	} else {
		/* Killed before its manifest: no entry, and prune took
		 * the objects no entry uses. */
		assert_true(WIFSIGNALED(status));
		assert_int_equal(pr.bytes_after, 0);
	}
	free(tmpdir);
	free(dst);
}

/* prune takes every temp file, however fresh, and counts its bytes. */
static void test_cache__prune_counts_temps(void **st)
{
	struct cache c = CACHE_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	uint64_t bytes;
	pid_t pid;
	int status;

	(void)st;
	big_file("src/node_modules/big", 'z', 200000);
	pid = save_in_child("k", "in-object");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	/* A temp file where older versions wrote them. */
	mkfile("state/cache/objects/ab/tmp.1.2.3", "12345");
	assert_int_equal(tmp_files(&bytes, NULL), 1);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(pr.temps_removed, 2);
	assert_int_equal(pr.temps_bytes, 200005);
	assert_int_equal(pr.bytes_before, 0);
	assert_int_equal(tmp_files(&bytes, NULL), 0);
	assert_content("state/cache/objects/ab/tmp.1.2.3", "<missing>");
	cache_release(&c);
}

/*
 * A save that cannot write an object (here: past RLIMIT_FSIZE, as on a
 * full disk) fails and leaves no entry that would lack it, and no temp.
 */
static void test_cache__store_failure_writes_no_entry(void **st)
{
	uint64_t bytes;
	pid_t pid;
	int status;

	(void)st;
	mkfile("src/node_modules/small", "small");
	big_file("src/node_modules/big", 'b', 300000);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct cache_spec s = spec_for("k", npm_paths, 1);
		struct cache c = CACHE_INIT;
		struct cache_result r = CACHE_RESULT_INIT;
		struct sw_err e = SW_ERR_INIT;
		struct rlimit rl = { 100000, 100000 };
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (cache_open(&c, state, &e) < 0 ||
		    setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(2);
		rc = cache_save(&c, &s, src, &r, &e);
		_exit(rc == -1 && e.code == ERR_SYSTEM &&
				      strstr(e.msg, "cannot copy") &&
				      strstr(e.msg, "File too large")
			      ? 0
			      : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_manifests(), 0);
	assert_int_equal(tmp_files(&bytes, NULL), 0);
	/* Room again: the save works. */
	{
		struct cache_spec s = spec_for("k", npm_paths, 1);
		struct cache_result r;

		assert_int_equal(do_save(&s, &r), CACHE_SAVED);
		assert_int_equal(r.files, 2);
		cache_result_release(&r);
	}
}

/* Whether this process may mount overlays in a namespace of its own. */
static bool overlay_possible(void)
{
	struct mountns ns = MOUNTNS_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *l = rpath("probe/l"), *u = rpath("probe/u"),
	     *w = rpath("probe/w"), *m = rpath("probe/m");
	const char *lowers[] = { l };
	bool ok = false;

	if (fs_mkdir_p(l, 0755, &e) == 0 && fs_mkdir_p(u, 0755, &e) == 0 &&
	    fs_mkdir_p(w, 0755, &e) == 0 && fs_mkdir_p(m, 0755, &e) == 0 &&
	    mountns_enter(&ns, &e) == 0) {
		ok = mountns_overlay(&ns, lowers, 1, u, w, m, &e) == 0;
		mountns_leave(&ns);
	}
	free(l);
	free(u);
	free(w);
	free(m);
	return ok;
}

/* Whether the machine's namespace shows a mount below root. */
static bool mounted_below_root(void)
{
	char *data = NULL;
	size_t len;
	struct sw_err e = SW_ERR_INIT;
	bool yes;

	assert_int_equal(
		fs_read_file("/proc/self/mountinfo", 1 << 20, &data, &len, &e),
		0);
	yes = strstr(data, root) != NULL;
	free(data);
	return yes;
}

static mode_t mode_of(const char *rel)
{
	char *p = rpath(rel);
	struct stat sb;

	assert_int_equal(lstat(p, &sb), 0);
	free(p);
	return sb.st_mode & 07777;
}

static bool exists(const char *rel)
{
	char *p = rpath(rel);
	struct stat sb;
	bool yes = lstat(p, &sb) == 0;

	free(p);
	return yes;
}

/*
 * Restored by overlay, a build rewrites, appends to, chmods, deletes and
 * renames restored files: the store and the entry's tree are untouched
 * (a later restore, by copy or by overlay, has the original content),
 * the build's save has its changes, and once the namespace is left
 * nothing is mounted and the build's directory holds none of it.
 */
static void test_cache__overlay_restore_isolates_the_store(void **st)
{
	const char *paths[] = { "node_modules/**/*" };
	struct cache_spec s1 = spec_for("k1", paths, 1);
	struct cache_spec s2 = spec_for("k2", paths, 1);
	struct cache_spec s3 = spec_for("k3", paths, 1);
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	struct buf b = BUF_INIT;
	char *b2 = rpath("b2"), *ovl = rpath("b2-overlay");
	char *from, *to;
	struct stat before, after;
	int fd;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	assert_int_equal(do_save(&s1, NULL), CACHE_SAVED);
	assert_int_equal(lstat(src, &before), 0);
	from = rpath("src/node_modules/a.txt");
	assert_int_equal(lstat(from, &before), 0);
	free(from);

	mkdir(b2, 0755);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	s1.ns = &ns;
	s1.overlay_dir = ovl;
	assert_int_equal(cache_restore(&c, &s1, b2, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_HIT);
	assert_int_equal(r.files, 3);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.copied + r.cloned + r.linked, 0);
	assert_int_equal(r.mounts.nr, 1);
	assert_null(r.overlay_why);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), " by overlay in "));
	buf_release(&b);
	cache_result_release(&r);

	/* The manifest's modes and mtimes, not the objects'. */
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed");
	assert_int_equal(mode_of("b2/node_modules/a.txt"), 0644);
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);
	assert_int_equal(mode_of("b2/node_modules/empty"), 0750);
	from = rpath("b2/node_modules/a.txt");
	assert_int_equal(lstat(from, &after), 0);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	free(from);

	/* The build. */
	write_in_place("b2/node_modules/a.txt", "rewritten");
	from = rpath("b2/node_modules/deep/x/y/z.txt");
	fd = open(from, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "+more", 5), 5);
	close(fd);
	free(from);
	from = rpath("b2/node_modules/.bin/run");
	to = rpath("b2/node_modules/.bin/go");
	assert_int_equal(chmod(from, 0700), 0);
	assert_int_equal(rename(from, to), 0);
	free(from);
	free(to);
	from = rpath("b2/node_modules/link");
	assert_int_equal(unlink(from), 0);
	free(from);

	/* Its save sees its changes: two rewritten, one moved: three to
	 * hash. */
	assert_int_equal(cache_save(&c, &s2, b2, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_SAVED);
	assert_int_equal(r.files, 3);
	assert_int_equal(r.hashed, 3);
	cache_result_release(&r);
	cache_release(&c);
	mountns_leave(&ns);

	assert_false(mounted_below_root());
	assert_false(exists("b2/node_modules/a.txt"));
	assert_true(exists("b2-overlay/0/upper/a.txt"));

	/* The store and the tree as they were. */
	assert_object_intact("alpha");
	rm_tree(b2);
	mkdir(b2, 0755);
	setenv("SLIPWAY_CACHE_LINK", "copy", 1);
	assert_int_equal(do_restore(&s1, b2, NULL), CACHE_HIT);
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed");
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);
	assert_true(exists("b2/node_modules/link"));
	rm_tree(b2);
	mkdir(b2, 0755);
	assert_int_equal(do_restore(&s2, b2, NULL), CACHE_HIT);
	assert_content("b2/node_modules/a.txt", "rewritten");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed+more");
	assert_int_equal(mode_of("b2/node_modules/.bin/go"), 0700);
	assert_false(exists("b2/node_modules/.bin/run"));
	assert_false(exists("b2/node_modules/link"));
	unsetenv("SLIPWAY_CACHE_LINK");

	/* By overlay again, from the kept tree. */
	rm_tree(b2);
	mkdir(b2, 0755);
	rm_tree(ovl);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s1, b2, &r, &e), 0);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 0);
	cache_result_release(&r);
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed");
	cache_release(&c);
	mountns_leave(&ns);
	assert_false(mounted_below_root());

	/* A new key with the same files: its tree links k1's. */
	assert_int_equal(do_save(&s3, NULL), CACHE_SAVED);
	rm_tree(b2);
	mkdir(b2, 0755);
	rm_tree(ovl);
	s3.ns = &ns;
	s3.overlay_dir = ovl;
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s3, b2, &r, &e), 0);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 3);
	assert_int_equal(r.tree_linked, 3);
	cache_result_release(&r);
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);
	cache_release(&c);
	mountns_leave(&ns);
	/* k1's tree is k1's still */
	rm_tree(b2);
	mkdir(b2, 0755);
	rm_tree(ovl);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s1, b2, &r, &e), 0);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 0);
	cache_result_release(&r);
	cache_release(&c);
	mountns_leave(&ns);
	free(b2);
	free(ovl);
}

/*
 * A refused mount: the restore goes on by reflink or copy and says why;
 * asked for overlays (SLIPWAY_CACHE_LINK=overlay), with a warning.
 */
/*
 * The tree of the only entry of version: its path (caller frees), once
 * the process making it has let go of its lock.
 */
static char *settled_tree(const char *version)
{
	char *vdir = xasprintf("%s/cache/trees/%s", state, version), *tree;
	DIR *d = opendir(vdir);
	struct dirent *de;
	char *lockp;
	int fd, n = 0;

	assert_non_null(d);
	tree = NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			free(tree);
			tree = xasprintf("%s/%s", vdir, de->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
	lockp = xasprintf("%s/lock", tree);
	fd = open(lockp, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	close(fd);
	free(lockp);
	free(vdir);
	return tree;
}

static void assert_same_file(const char *a, const char *b)
{
	struct stat x, y;

	assert_int_equal(lstat(a, &x), 0);
	assert_int_equal(lstat(b, &y), 0);
	assert_int_equal(x.st_mode, y.st_mode);
	assert_int_equal(x.st_size, y.st_size);
	/* The manifest keeps a symlink's target, not its mtime. */
	if (S_ISREG(x.st_mode)) {
		assert_int_equal(x.st_mtim.tv_sec, y.st_mtim.tv_sec);
		assert_int_equal(x.st_mtim.tv_nsec, y.st_mtim.tv_nsec);
	}
}

/* Restore k1 by overlay into b2; the result in *r. */
static void overlay_restore(const struct cache_spec *s0, struct cache_result *r)
{
	struct cache_spec s = *s0;
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	char *b2 = rpath("b2"), *ovl = rpath("b2-overlay");

	rm_tree(b2);
	rm_tree(ovl);
	mkdir(b2, 0755);
	s.ns = &ns;
	s.overlay_dir = ovl;
	s.tree_at_save = false;
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s, b2, r, &e), 0);
	assert_int_equal(r->overlaid, 3);
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed");
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);
	cache_release(&c);
	mountns_leave(&ns);
	assert_false(mounted_below_root());
	free(b2);
	free(ovl);
}

/*
 * A save with tree_at_save hands the entry's tree to a detached maker:
 * once its lock is free the tree is ready, with the saved files' content,
 * modes and mtimes, and a restore only mounts it.
 */
static void test_cache__tree_made_at_save(void **st)
{
	const char *rels[] = { "node_modules/a.txt", "node_modules/.bin/run",
			       "node_modules/deep/x/y/z.txt",
			       "node_modules/empty", "node_modules/link" };
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	struct buf b = BUF_INIT;
	char *tree, *p, *q;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s.tree_at_save = true;
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	tree = settled_tree(r.version);
	cache_result_release(&r);
	p = xasprintf("%s/manifest.json", tree);
	assert_true(fs_exists(p));
	free(p);
	for (size_t i = 0; i < sizeof(rels) / sizeof(*rels); i++) {
		p = xasprintf("%s/src/%s", tree, rels[i]);
		q = xasprintf("%s/%s", src, rels[i]);
		assert_same_file(p, q);
		free(p);
		free(q);
	}
	p = xasprintf("%s/src/node_modules/deep/x/y/z.txt", tree);
	assert_int_equal(fs_read_file(p, 64, &q, &(size_t){ 0 },
				      &(struct sw_err)SW_ERR_INIT),
			 0);
	assert_string_equal(q, "zed");
	free(q);
	free(p);

	overlay_restore(&s, &r);
	assert_int_equal(r.tree_placed, 0);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), "; its tree was ready"));
	buf_release(&b);
	cache_result_release(&r);
	free(tree);
}

/*
 * The maker killed with SIGKILL once the files are placed: no manifest,
 * so the restore makes the tree again (replacing a torn file) and says
 * so.
 */
static void test_cache__tree_maker_killed(void **st)
{
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	struct buf b = BUF_INIT;
	char *tree, *p;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s.tree_at_save = true;
	setenv(CACHE_TEST_KILL_ENV, "tree-before-manifest", 1);
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	unsetenv(CACHE_TEST_KILL_ENV);
	tree = settled_tree(r.version);
	cache_result_release(&r);
	p = xasprintf("%s/manifest.json", tree);
	assert_false(fs_exists(p));
	free(p);
	p = xasprintf("%s/src/node_modules/a.txt", tree);
	assert_true(fs_exists(p));
	fs_write_atomic(p, "torn", 4, 0644, &(struct sw_err)SW_ERR_INIT);
	free(p);

	overlay_restore(&s, &r);
	assert_int_equal(r.tree_placed, 3);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), "; its tree made now (3 files"));
	buf_release(&b);
	cache_result_release(&r);
	p = xasprintf("%s/manifest.json", tree);
	assert_true(fs_exists(p));
	free(p);
	free(tree);
}

/*
 * The project cache saved again while a build still uses the tree it
 * restored: the new tree is made beside it (by links), and the old one
 * goes once the new one is restored and nobody uses the old.
 */
static void test_cache__tree_at_save_retires_the_old(void **st)
{
	struct cache_spec s = spec_for(NULL, npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	char *tree1, *tree2 = NULL, *vdir, *vdir2, *lockp;
	DIR *d;
	struct dirent *de;
	int fd;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s.tree_at_save = true;
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	tree1 = settled_tree(r.version);
	vdir = xasprintf("%s/cache/trees/%s", state, r.version);
	cache_result_release(&r);
	/* a build using tree1 saves a change */
	lockp = xasprintf("%s/lock", tree1);
	fd = open(lockp, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	free(lockp);
	mkfile_mode("src/node_modules/.bin/run", "#!/bin/sh\necho\n", 0755);
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	d = opendir(vdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    strcmp(de->d_name, strrchr(tree1, '/') + 1)) {
			assert_null(tree2);
			tree2 = xasprintf("%s/%s", vdir, de->d_name);
		}
	closedir(d);
	assert_non_null(tree2);
	lockp = xasprintf("%s/lock", tree2);
	{
		int fd2 = open(lockp, O_RDWR);

		assert_true(fd2 >= 0);
		assert_int_equal(flock(fd2, LOCK_SH), 0);
		close(fd2);
	}
	free(lockp);
	lockp = xasprintf("%s/src/node_modules/.bin/run", tree2);
	assert_true(fs_exists(lockp));
	assert_int_equal(fs_read_file(lockp, 64, &vdir2, &(size_t){ 0 },
				      &(struct sw_err)SW_ERR_INIT),
			 0);
	assert_string_equal(vdir2, "#!/bin/sh\necho\n");
	free(vdir2);
	free(lockp);
	assert_true(fs_exists(tree1));
	close(fd); /* that build ends */

	overlay_restore(&s, &r);
	assert_int_equal(r.tree_placed, 0);
	cache_result_release(&r);
	assert_false(fs_exists(tree1));
	assert_true(fs_exists(tree2));
	free(tree1);
	free(tree2);
	free(vdir);
}

/*
 * A build by overlay: restore rs into a fresh b2 in a namespace of its
 * own, rewrite one restored file, save ss from b2 with the same cache.
 * The restore's result in *rr; returns how many files the save hashed.
 */
static size_t overlay_build(const struct cache_spec *rs,
			    const struct cache_spec *ss,
			    struct cache_result *rr)
{
	struct cache_spec s = *rs;
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	char *b2 = rpath("b2"), *ovl = rpath("b2-overlay");
	size_t hashed;

	rm_tree(b2);
	rm_tree(ovl);
	mkdir(b2, 0755);
	s.ns = &ns;
	s.overlay_dir = ovl;
	s.tree_at_save = false;
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s, b2, rr, &e), 0);
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_content("b2/node_modules/deep/x/y/z.txt", "zed");
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);
	write_in_place("b2/node_modules/a.txt", "rewritten");
	assert_int_equal(cache_save(&c, ss, b2, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_SAVED);
	assert_int_equal(r.files, 3);
	hashed = r.hashed;
	cache_result_release(&r);
	cache_release(&c);
	mountns_leave(&ns);
	assert_false(mounted_below_root());
	free(b2);
	free(ovl);
	return hashed;
}

/*
 * A ready tree whose mount is refused is restored from what its manifest
 * lists; with that manifest and the entry's both unreadable, nothing is
 * restored and the restore is a miss, not a hit.
 */
static void test_cache__tree_refused_unreadable_is_a_miss(void **st)
{
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	char *tree, *man, *ents, *b2 = rpath("b2"), *ovl = rpath("b2-overlay");
	static const char torn[] =
		"{\"format\":1,\"version\":\"\0\0\0\0\0\0\0\0\"]}\n";
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s.tree_at_save = true;
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	tree = settled_tree(r.version);
	ents = xasprintf("%s/cache/entries/%s", state, r.version);
	cache_result_release(&r);
	man = xasprintf("%s/manifest.json", tree);
	assert_int_equal(fs_write_atomic(man, torn, sizeof(torn) - 1, 0644, &e),
			 0);
	assert_non_null(d = opendir(ents));
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char *p;

		if (l < 5 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		p = xasprintf("%s/%s", ents, de->d_name);
		assert_int_equal(fs_write_atomic(p, "{", 1, 0644, &e), 0);
		free(p);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
	mkdir(b2, 0755);
	setenv(MOUNTNS_TEST_NO_OVERLAY_ENV, "1", 1);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	s.ns = &ns;
	s.overlay_dir = ovl;
	assert_int_equal(cache_restore(&c, &s, b2, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_MISS);
	assert_int_equal(r.files, 0);
	assert_true(r.warnings.nr >= 1);
	cache_result_release(&r);
	cache_release(&c);
	mountns_leave(&ns);
	unsetenv(MOUNTNS_TEST_NO_OVERLAY_ENV);
	free(man);
	man = rpath("b2/node_modules/a.txt");
	assert_false(fs_exists(man));
	free(ents);
	free(man);
	free(tree);
	free(b2);
	free(ovl);
}

/*
 * A ready tree is known by its manifest's end, not by reading what the
 * manifest lists: the restore only mounts it, and the build's save
 * reads the manifest for the files the build did not change. Torn in
 * its middle (what it lists unreadable), the tree is still mounted, and
 * the save hashes every file; cut short, the tree is not ready and is
 * made again.
 */
static void test_cache__ready_tree_mounted_unread(void **st)
{
	struct cache_spec s = spec_for("k1", npm_paths, 1);
	struct cache_spec s2 = spec_for("k2", npm_paths, 1);
	struct cache_spec s3 = spec_for("k3", npm_paths, 1);
	struct cache_spec s4 = spec_for("k4", npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;
	char *tree, *man, *data = NULL;
	static const char torn[] =
		"{\"format\":1,\"version\":\"\0\0\0\0\0\0\0\0\"]}\n";
	size_t len;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s.tree_at_save = true;
	assert_int_equal(do_save(&s, &r), CACHE_SAVED);
	tree = settled_tree(r.version);
	cache_result_release(&r);
	man = xasprintf("%s/manifest.json", tree);

	/* Only the rewritten file is hashed: the rest from the manifest. */
	assert_int_equal(overlay_build(&s, &s2, &r), 1);
	assert_int_equal(r.outcome, CACHE_HIT);
	assert_int_equal(r.files, 3);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 0);
	assert_int_equal(r.bytes, strlen("alpha") + strlen("#!/bin/sh\n") +
					  strlen("zed"));
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), " by overlay in "));
	assert_non_null(strstr(buf_cstr(&b), "; its tree was ready"));
	buf_release(&b);
	cache_result_release(&r);

	/* Torn in its middle: mounted all the same, every file hashed. */
	assert_int_equal(fs_read_file(man, 1 << 20, &data, &len, &e), 0);
	assert_int_equal(fs_write_atomic(man, torn, sizeof(torn) - 1, 0644, &e),
			 0);
	assert_int_equal(overlay_build(&s, &s3, &r), 3);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 0);
	cache_result_release(&r);

	/* Cut short (as a power loss may leave it): made again. */
	assert_int_equal(fs_write_atomic(man, data, len / 2, 0644, &e), 0);
	assert_int_equal(overlay_build(&s, &s4, &r), 1);
	assert_int_equal(r.overlaid, 3);
	assert_int_equal(r.tree_placed, 3);
	cache_result_release(&r);
	free(data);
	assert_int_equal(fs_read_file(man, 1 << 20, &data, &len, &e), 0);
	assert_true(len > 3 && !strcmp(data + len - 3, "]}\n"));
	free(data);
	free(man);
	free(tree);
}

static void test_cache__overlay_refused_falls_back(void **st)
{
	const char *paths[] = { "node_modules/**/*" };
	struct cache_spec s = spec_for("k1", paths, 1);
	struct cache c = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	struct buf b = BUF_INIT;
	char *b2 = rpath("b2"), *ovl = rpath("b2-overlay");

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	mkdir(b2, 0755);
	setenv(MOUNTNS_TEST_NO_OVERLAY_ENV, "1", 1);
	setenv("SLIPWAY_CACHE_LINK", "overlay", 1);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	s.ns = &ns;
	s.overlay_dir = ovl;
	assert_int_equal(cache_restore(&c, &s, b2, &r, &e), 0);
	assert_int_equal(r.outcome, CACHE_HIT);
	assert_int_equal(r.overlaid, 0);
	assert_int_equal(r.copied + r.cloned, 3);
	assert_int_equal(r.mounts.nr, 0);
	assert_non_null(r.overlay_why);
	assert_int_equal(r.warnings.nr, 1);
	assert_non_null(strstr(r.warnings.v[0], "no overlay: "));
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), "(no overlay: cannot mount"));
	buf_release(&b);
	cache_result_release(&r);
	cache_release(&c);
	mountns_leave(&ns);
	unsetenv(MOUNTNS_TEST_NO_OVERLAY_ENV);
	unsetenv("SLIPWAY_CACHE_LINK");
	assert_content("b2/node_modules/a.txt", "alpha");
	assert_int_equal(mode_of("b2/node_modules/.bin/run"), 0755);

	/* No namespace at all: the caller's reason is shown. */
	rm_tree(b2);
	mkdir(b2, 0755);
	assert_int_equal(cache_open(&c, state, &e), 0);
	s.ns = NULL;
	s.overlay_off = "cannot unshare the mount namespace: EPERM";
	assert_int_equal(cache_restore(&c, &s, b2, &r, &e), 0);
	cache_result_describe(&r, &b);
	assert_non_null(strstr(buf_cstr(&b), "(no overlay: cannot unshare"));
	assert_int_equal(r.warnings.nr, 0);
	buf_release(&b);
	cache_result_release(&r);
	cache_release(&c);
	free(b2);
	free(ovl);
}

/* Trees of the project's entry, in every version directory. */
static size_t count_trees(const char *trees)
{
	DIR *d = opendir(trees), *v;
	struct dirent *de, *ve;
	size_t n = 0;

	while (d && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", trees, de->d_name);
		v = opendir(p);
		while (v && (ve = readdir(v)))
			n += !strncmp(ve->d_name, "project-proj.", 13);
		if (v)
			closedir(v);
		free(p);
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * Trees: an unkeyed entry replaced gets a new tree, linked from the old
 * one where files did not change, and the old one goes; prune removes
 * the trees of entries gone, but not one a restore still holds.
 */
static void test_cache__overlay_trees_replaced_and_pruned(void **st)
{
	const char *paths[] = { "node_modules/**/*" };
	struct cache_spec s = spec_for(NULL, paths, 1);
	struct cache c = CACHE_INIT, held = CACHE_INIT;
	struct cache_result r = CACHE_RESULT_INIT;
	struct cache_prune_result pr;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	char *b2 = rpath("b2"), *ovl = rpath("b2-overlay");
	char *trees = rpath("state/cache/trees");
	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	s.ns = &ns;
	s.overlay_dir = ovl;
	for (int round = 0; round < 2; round++) {
		char *z = rpath("src/node_modules/deep/x/y/z.txt");

		rm_tree(b2);
		rm_tree(ovl);
		mkdir(b2, 0755);
		assert_int_equal(mountns_enter(&ns, &e), 0);
		assert_int_equal(cache_open(&c, state, &e), 0);
		assert_int_equal(cache_restore(&c, &s, b2, &r, &e), 0);
		/* the second tree keeps the unchanged file of the first,
		 * which it takes over, and has none of what went */
		assert_int_equal(r.overlaid, round ? 2 : 3);
		assert_int_equal(r.tree_placed, round ? 2 : 3);
		assert_int_equal(r.tree_linked, round ? 1 : 0);
		cache_result_release(&r);
		assert_content("b2/node_modules/a.txt",
			       round ? "beta" : "alpha");
		assert_content("b2/node_modules/deep/x/y/z.txt",
			       round ? "<missing>" : "zed");
		assert_content("b2/node_modules/.bin/run", "#!/bin/sh\n");
		cache_release(&c);
		mountns_leave(&ns);
		mkfile("src/node_modules/a.txt", round ? "gamma" : "beta");
		unlink(z);
		free(z);
		assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	}
	/* one tree: the older one went */
	assert_int_equal(count_trees(trees), 1);

	/* The entry replaced again: its tree is stale; held, it stays. */
	rm_tree(b2);
	rm_tree(ovl);
	mkdir(b2, 0755);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&held, state, &e), 0);
	assert_int_equal(cache_restore(&held, &s, b2, &r, &e), 0);
	cache_result_release(&r);
	assert_content("b2/node_modules/a.txt", "gamma");
	mountns_leave(&ns);
	mkfile("src/node_modules/a.txt", "delta");
	assert_int_equal(do_save(&s, NULL), CACHE_SAVED);
	/* The tree in use cannot be taken over: the new one links it. */
	rm_tree(b2);
	rm_tree(ovl);
	mkdir(b2, 0755);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_restore(&c, &s, b2, &r, &e), 0);
	assert_int_equal(r.tree_placed, 2);
	assert_int_equal(r.tree_linked, 1);
	cache_result_release(&r);
	assert_content("b2/node_modules/a.txt", "delta");
	assert_content("b2/node_modules/.bin/run", "#!/bin/sh\n");
	cache_release(&c);
	mountns_leave(&ns);
	/* prune: the held one stays, though stale */
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(count_trees(trees), 2);
	cache_release(&held);
	assert_int_equal(cache_prune(&c, UINT64_MAX, &pr, &e), 0);
	assert_int_equal(count_trees(trees), 1);
	assert_int_equal(cache_clear(&c, &e), 0);
	assert_int_equal(count_trees(trees), 0);
	cache_release(&c);
	free(b2);
	free(ovl);
	free(trees);
}

/* The entries as `cache ls` has them: *n of them in *v. */
static void list_entries(struct cache_entry_info **v, size_t *n)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_list(&c, v, n, &e), 0);
	cache_release(&c);
}

static const struct cache_entry_info *info_of(const struct cache_entry_info *v,
					      size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].key && !strcmp(v[i].key, key))
			return &v[i];
	fail_msg("no entry '%s'", key);
	return NULL;
}

static void prune_to(uint64_t max, struct cache_prune_result *pr)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(cache_prune(&c, max, pr, &e), 0);
	cache_release(&c);
}

/*
 * The tree in vdir other than tree1 (caller frees), once the process
 * making it has let go of its lock.
 */
static char *other_settled_tree(const char *vdir, const char *tree1)
{
	char *tree2 = NULL, *lockp;
	struct dirent *de;
	DIR *d = opendir(vdir);
	int fd;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    strcmp(de->d_name, strrchr(tree1, '/') + 1)) {
			free(tree2);
			tree2 = xasprintf("%s/%s", vdir, de->d_name);
		}
	closedir(d);
	assert_non_null(tree2);
	lockp = xasprintf("%s/lock", tree2);
	fd = open(lockp, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0); /* its maker is done */
	close(fd);
	free(lockp);
	return tree2;
}

/*
 * Trees take disk: `cache ls` counts each entry's, and a prune fits the
 * objects and the trees in its budget, dropping the trees of the least
 * recently used entries before any entry. A tree a build holds stays
 * and costs no entry; the trees of the entries a prune drops go too.
 */
static void test_cache__prune_counts_trees(void **st)
{
	struct cache_spec s1 = spec_for("k1", npm_paths, 1);
	struct cache_spec s2 = spec_for("k2", npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	struct cache_prune_result pr;
	struct cache_entry_info *v;
	const struct cache_entry_info *i1, *i2;
	char *tree1, *tree2 = NULL, *vdir, *lockp;
	uint64_t live, b1, b2;
	size_t n;
	int fd;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	s1.tree_at_save = s2.tree_at_save = true;
	assert_int_equal(do_save(&s1, &r), CACHE_SAVED);
	tree1 = settled_tree(r.version);
	vdir = xasprintf("%s/cache/trees/%s", state, r.version);
	cache_result_release(&r);
	/* another key, none of its files alike */
	mkfile("src/node_modules/a.txt", "one");
	mkfile_mode("src/node_modules/.bin/run", "#!/bin/sh\n#2\n", 0755);
	mkfile("src/node_modules/deep/x/y/z.txt", "two");
	assert_int_equal(do_save(&s2, NULL), CACHE_SAVED);
	tree2 = other_settled_tree(vdir, tree1);
	lockp = xasprintf("%s/lock", tree2);

	list_entries(&v, &n);
	assert_int_equal(n, 2);
	i1 = info_of(v, n, "k1");
	i2 = info_of(v, n, "k2");
	assert_int_equal(i1->trees, 1);
	assert_int_equal(i2->trees, 1);
	b1 = i1->tree_bytes;
	b2 = i2->tree_bytes;
	/* directories, a manifest, three files: some blocks each */
	assert_true(b1 >= 4 * 512 && b2 >= 4 * 512);
	cache_entries_free(v, n);

	prune_to(UINT64_MAX, &pr);
	assert_int_equal(pr.trees_removed, 0);
	assert_int_equal(pr.trees_before, b1 + b2);
	assert_int_equal(pr.trees_after, b1 + b2);
	live = pr.bytes_after;
	assert_true(live > 0);

	/* Room for the objects and one tree: k1's (used least) goes. */
	prune_to(live + b2, &pr);
	assert_int_equal(pr.entries_removed, 0);
	assert_int_equal(pr.trees_removed, 1);
	assert_int_equal(pr.trees_after, b2);
	assert_false(fs_exists(tree1));
	assert_true(fs_exists(tree2));
	list_entries(&v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(info_of(v, n, "k1")->trees, 0);
	assert_int_equal(info_of(v, n, "k1")->tree_bytes, 0);
	assert_int_equal(info_of(v, n, "k2")->trees, 1);
	cache_entries_free(v, n);

	/* A build holds k2's tree: it stays, and costs no entry. */
	fd = open(lockp, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	prune_to(live, &pr);
	assert_int_equal(pr.entries_removed, 0);
	assert_int_equal(pr.trees_removed, 0);
	assert_true(fs_exists(tree2));
	/* No room at all: the entries go, the held tree once let go. */
	prune_to(0, &pr);
	assert_int_equal(pr.entries_removed, 2);
	assert_true(fs_exists(tree2));
	close(fd);
	prune_to(UINT64_MAX, &pr);
	assert_int_equal(pr.trees_removed, 1);
	assert_int_equal(pr.trees_after, 0);
	assert_false(fs_exists(tree2));
	free(lockp);
	free(tree1);
	free(tree2);
	free(vdir);
}

/*
 * A budget that the newer entry and its tree fit, but not the older
 * entry's objects: the older entry goes, and the newer one keeps its tree.
 */
static void test_cache__prune_keeps_the_trees_of_entries_kept(void **st)
{
	struct cache_spec s1 = spec_for("k1", npm_paths, 1);
	struct cache_spec s2 = spec_for("k2", npm_paths, 1);
	struct cache_result r = CACHE_RESULT_INIT;
	struct cache_prune_result pr;
	struct cache_entry_info *v;
	const struct cache_entry_info *i2;
	char *tree1, *tree2 = NULL, *vdir, *big, *p;
	size_t n;

	(void)st;
	if (!overlay_possible())
		skip();
	make_tree();
	big = xmalloc(300 * 1024 + 1);
	memset(big, 'b', 300 * 1024);
	big[300 * 1024] = '\0';
	mkfile("src/node_modules/big.bin", big);
	free(big);
	s1.tree_at_save = s2.tree_at_save = true;
	assert_int_equal(do_save(&s1, &r), CACHE_SAVED);
	tree1 = settled_tree(r.version);
	vdir = xasprintf("%s/cache/trees/%s", state, r.version);
	cache_result_release(&r);
	p = rpath("src/node_modules/big.bin");
	assert_int_equal(unlink(p), 0);
	free(p);
	mkfile("src/node_modules/a.txt", "one");
	mkfile_mode("src/node_modules/.bin/run", "#!/bin/sh\n#2\n", 0755);
	mkfile("src/node_modules/deep/x/y/z.txt", "two");
	assert_int_equal(do_save(&s2, NULL), CACHE_SAVED);
	tree2 = other_settled_tree(vdir, tree1);

	list_entries(&v, &n);
	assert_int_equal(n, 2);
	i2 = info_of(v, n, "k2");
	assert_int_equal(i2->trees, 1);
	prune_to(i2->bytes + i2->tree_bytes, &pr);
	cache_entries_free(v, n);
	assert_int_equal(pr.entries_removed, 1);
	assert_int_equal(pr.trees_removed, 1);
	assert_false(fs_exists(tree1));
	assert_true(fs_exists(tree2));
	list_entries(&v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(info_of(v, n, "k2")->trees, 1);
	cache_entries_free(v, n);
	free(tree1);
	free(tree2);
	free(vdir);
}

/*
 * The record of one overlay of an earlier build (cache_overlay_again's
 * input): old/n with its lowers, target and tree, and an upper layer.
 */
static void overlay_rec(const char *old, int n, const char *lower,
			const char *target, const char *tree)
{
	struct sw_err e = SW_ERR_INIT;
	char *base = xasprintf("%s/%d", old, n);
	char *up = fs_join(base, "upper"), *l = fs_join(base, "lowers");
	char *t = fs_join(base, "target"), *k = fs_join(base, "tree");
	char *line = xasprintf("%s\n", lower);

	assert_int_equal(fs_mkdir_p(up, 0755, &e), 0);
	assert_int_equal(fs_write_atomic(l, line, strlen(line), 0644, &e), 0);
	assert_int_equal(symlink(target, t), 0);
	assert_int_equal(symlink(tree, k), 0);
	free(base);
	free(up);
	free(l);
	free(t);
	free(k);
	free(line);
}

/* Whether pid waits for a flock (a "->" line of /proc/locks). */
static bool flock_waiting(pid_t pid)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char kind[16];
		int p;

		if (sscanf(line, "%*d: -> %15s %*s %*s %d", kind, &p) == 2 &&
		    !strcmp(kind, "FLOCK") && p == pid)
			found = true;
	}
	fclose(f);
	return found;
}

/*
 * --from mounting an earlier build's overlays again holds the cache's
 * lock shared as a restore does: a prune holding it waits for nothing
 * of it, and what the prune removed is found gone, not made again empty.
 */
static void test_cache__overlay_again_waits_for_prune(void **st)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *old = rpath("b1-overlay"), *tree = rpath("trees/t1");
	char *lower = rpath("trees/t1/deps"), *lk = rpath("state/cache/lock");
	char *from = rpath("b1"), *to = rpath("b2"), *ovl = rpath("b2-overlay");
	char *target = rpath("b1/deps");
	int fd, status = 0, i;
	pid_t pid;
	bool waiting = false;

	(void)st;
	mkfile("trees/t1/deps/a.txt", "alpha");
	overlay_rec(old, 0, lower, target, tree);
	assert_int_equal(cache_open(&c, state, &e), 0);
	fd = open(lk, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0); /* a prune's */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mountns ns = MOUNTNS_INIT;
		struct strvec mounts = STRVEC_INIT;
		struct sw_err ce = SW_ERR_INIT;
		int rc;

		close(fd); /* the prune's, not ours */
		rc = cache_overlay_again(&c, old, from, to, &ns, ovl, &mounts,
					 &ce);
		_exit(rc < 0 && ce.code == ERR_FAILED && !mounts.nr ? 0 : 1);
	}
	/* until the child waits for the lock, or is done without it */
	for (i = 0; i < 10000 && !waiting; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		waiting = flock_waiting(pid);
		if (!waiting)
			poll(NULL, 0, 1);
	}
	if (!waiting) {
		if (waitpid(pid, &status, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		fail_msg("cache_overlay_again did not wait for the cache lock");
	}
	rm_tree(tree); /* the prune removes the tree */
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(fs_exists(tree));
	cache_release(&c);
	free(old);
	free(tree);
	free(lower);
	free(lk);
	free(from);
	free(to);
	free(ovl);
	free(target);
}

/*
 * One of an earlier build's overlays cannot be mounted again: those
 * mounted before it are detached and their records removed, so that
 * the directories are, as the warning says, not mounted again.
 */
static void test_cache__overlay_again_partway_undone(void **st)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	struct strvec mounts = STRVEC_INIT;
	char *old = rpath("b1-overlay"), *tree = rpath("trees/t1");
	char *lower = rpath("trees/t1/deps"), *gone = rpath("trees/t2");
	char *glower = rpath("trees/t2/more");
	char *from = rpath("b1"), *to = rpath("b2"), *ovl = rpath("b2-overlay");
	char *t1 = rpath("b1/deps"), *t2 = rpath("b1/more");
	char *seen = rpath("b2/deps/a.txt"), *rec = rpath("b2-overlay/0");

	(void)st;
	if (!overlay_possible())
		skip();
	mkfile("trees/t1/deps/a.txt", "alpha");
	overlay_rec(old, 0, lower, t1, tree);
	overlay_rec(old, 1, glower, t2, gone); /* its tree pruned */
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(
		cache_overlay_again(&c, old, from, to, &ns, ovl, &mounts, &e),
		-1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_int_equal(mounts.nr, 0);
	assert_int_equal(ns.mounts.nr, 0);
	assert_false(fs_exists(seen)); /* b2/deps is no overlay */
	assert_false(fs_exists(rec));
	cache_release(&c);
	mountns_leave(&ns);
	strvec_release(&mounts);
	free(old);
	free(tree);
	free(lower);
	free(gone);
	free(glower);
	free(from);
	free(to);
	free(ovl);
	free(t1);
	free(t2);
	free(seen);
	free(rec);
}

/*
 * The record of an earlier build's overlay is not synced: one cut short
 * (empty, as a power loss may leave it) is refused, never mounted
 * without the entry's tree.
 */
static void test_cache__overlay_again_record_cut_short(void **st)
{
	struct cache c = CACHE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct mountns ns = MOUNTNS_INIT;
	struct strvec mounts = STRVEC_INIT;
	char *old = rpath("b1-overlay"), *tree = rpath("trees/t1");
	char *lower = rpath("trees/t1/deps"), *lowers;
	char *from = rpath("b1"), *to = rpath("b2"), *ovl = rpath("b2-overlay");
	char *t1 = rpath("b1/deps");

	(void)st;
	if (!overlay_possible())
		skip();
	mkfile("trees/t1/deps/a.txt", "alpha");
	overlay_rec(old, 0, lower, t1, tree);
	lowers = xasprintf("%s/0/lowers", old);
	assert_int_equal(truncate(lowers, 0), 0);
	assert_int_equal(cache_open(&c, state, &e), 0);
	assert_int_equal(mountns_enter(&ns, &e), 0);
	assert_int_equal(
		cache_overlay_again(&c, old, from, to, &ns, ovl, &mounts, &e),
		-1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_int_equal(mounts.nr, 0);
	assert_int_equal(ns.mounts.nr, 0);
	cache_release(&c);
	mountns_leave(&ns);
	strvec_release(&mounts);
	free(old);
	free(tree);
	free(lower);
	free(lowers);
	free(from);
	free(to);
	free(ovl);
	free(t1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_cache__round_trip_auto),
		T(test_cache__round_trip_link),
		T(test_cache__round_trip_copy),
		T(test_cache__bad_link_mode),
		T(test_cache__keyed_entry_is_immutable),
		T(test_cache__fallback_prefix_order),
		T(test_cache__unkeyed_is_replaced),
		T(test_cache__save_after_restore_hashes_changes_only),
		T(test_cache__progress),
		T(test_cache__killed_save_leaves_no_entry),
		T(test_cache__tampered_object_not_served),
		T(test_cache__dropped_object_is_stored_again),
		T(test_cache__prune_between_restore_and_save),
		T(test_cache__hostile_manifest_refused),
		T(test_cache__restore_replaces_symlink_in_target),
		T(test_cache__concurrent_saves),
		T(test_cache__prune_lru),
		T(test_cache__hash_files),
		T(test_cache__version_and_sizes),
		T(test_cache__abs_dirs),
		T(test_cache__abs_root_mapping),
		T(test_cache__abs_root_no_follow),
		T(test_cache__in_place_write_does_not_damage_the_store),
		T(test_cache__link_damage_replaced_by_next_save),
		T(test_cache__link_damage_repaired_by_next_save),
		T(test_cache__unreadable_keyed_entry_replaced),
		T(test_cache__missing_object_stored_again),
		T(test_cache__killed_save_temp_removed_by_next_save),
		T(test_cache__kill9_during_save_then_prune),
		T(test_cache__prune_counts_temps),
		T(test_cache__store_failure_writes_no_entry),
		T(test_cache__overlay_restore_isolates_the_store),
		T(test_cache__overlay_refused_falls_back),
		T(test_cache__tree_made_at_save),
		T(test_cache__tree_maker_killed),
		T(test_cache__tree_at_save_retires_the_old),
		T(test_cache__ready_tree_mounted_unread),
		T(test_cache__tree_refused_unreadable_is_a_miss),
		T(test_cache__overlay_trees_replaced_and_pruned),
		T(test_cache__prune_counts_trees),
		T(test_cache__prune_keeps_the_trees_of_entries_kept),
		T(test_cache__overlay_again_waits_for_prune),
		T(test_cache__overlay_again_partway_undone),
		T(test_cache__overlay_again_record_cut_short),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
