#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "fs.h"
#include "xalloc.h"

#include "banned.h"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_fs.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	int ret = fs_remove_tree(f->dir, &e);

	free(f);
	return ret;
}

static char *path_in(struct fixture *f, const char *rel)
{
	return fs_join(f->dir, rel);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void assert_file_text(const char *path, const char *text)
{
	struct sw_err e = SW_ERR_INIT;
	char *data;
	size_t len;

	assert_int_equal(fs_read_file(path, 1 << 20, &data, &len, &e), 0);
	assert_int_equal(len, strlen(text));
	assert_string_equal(data, text);
	free(data);
}

static void set_mtime(const char *path, time_t t, int flags)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, flags), 0);
}

static void test_fs__join(void **state)
{
	char *s;

	(void)state;
	s = fs_join("a", "b");
	assert_string_equal(s, "a/b");
	free(s);
	s = fs_join("a/", "/b");
	assert_string_equal(s, "a/b");
	free(s);
	s = fs_join("a///", "b/c");
	assert_string_equal(s, "a/b/c");
	free(s);
	s = fs_join("/", "b");
	assert_string_equal(s, "/b");
	free(s);
	s = fs_join("", "b");
	assert_string_equal(s, "b");
	free(s);
}

static void test_fs__abspath(void **state)
{
	char *cwd = getcwd(NULL, 0);
	char *s, *want;

	(void)state;
	assert_non_null(cwd);
	s = fs_abspath("/a/./b//c/../d/");
	assert_string_equal(s, "/a/b/d");
	free(s);
	s = fs_abspath("/../..");
	assert_string_equal(s, "/");
	free(s);
	s = fs_abspath("/a/b/../../..");
	assert_string_equal(s, "/");
	free(s);
	s = fs_abspath("/");
	assert_string_equal(s, "/");
	free(s);
	s = fs_abspath(".");
	assert_string_equal(s, cwd);
	free(s);
	s = fs_abspath("x/y/..");
	want = fs_join(cwd, "x");
	if (!strcmp(cwd, "/")) {
		free(want);
		want = xstrdup("/x");
	}
	assert_string_equal(s, want);
	free(s);
	free(want);
	free(cwd);
}

static void test_fs__mkdir_p_and_exists(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *deep = path_in(f, "a/b//c/");
	char *file = path_in(f, "a/file");
	char *under = path_in(f, "a/file/x");

	assert_int_equal(fs_mkdir_p(deep, 0755, &e), 0);
	assert_true(fs_is_dir(deep));
	/* Again: existing directories are fine. */
	assert_int_equal(fs_mkdir_p(deep, 0755, &e), 0);
	write_file(file, "x", 0644);
	assert_true(fs_exists(file));
	assert_false(fs_is_dir(file));
	assert_int_equal(fs_mkdir_p(under, 0755, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	err_clear(&e);
	assert_int_equal(fs_mkdir_p(file, 0755, &e), -1);
	assert_non_null(strstr(e.msg, "a/file"));
	free(deep);
	free(file);
	free(under);
}

static void test_fs__read_file(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *p = path_in(f, "r.txt");
	char *missing = path_in(f, "missing");
	char *data = NULL;
	size_t len;

	write_file(p, "hello\n", 0644);
	assert_file_text(p, "hello\n");
	assert_int_equal(fs_read_file(p, 3, &data, &len, &e), -1);
	assert_null(data);
	assert_non_null(strstr(e.msg, "too large"));
	err_clear(&e);
	assert_int_equal(fs_read_file(missing, 10, &data, &len, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "missing"));
	err_clear(&e);
	assert_int_equal(fs_read_file(f->dir, 10, &data, &len, &e), -1);
	free(p);
	free(missing);
}

static void test_fs__write_atomic(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *p = path_in(f, "out.json");
	char *tmp = fs_tmp_name(p);
	char *bad = path_in(f, "nodir/out.json");
	struct stat st;
	mode_t old = umask(077);

	assert_int_equal(fs_write_atomic(p, "one", 3, 0644, &e), 0);
	assert_file_text(p, "one");
	assert_int_equal(stat(p, &st), 0);
	/* The mode asked for, whatever the umask. */
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(fs_write_atomic(p, "second", 6, 0600, &e), 0);
	assert_file_text(p, "second");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_false(fs_exists(tmp));
	assert_int_equal(fs_write_atomic(p, "", 0, 0644, &e), 0);
	assert_file_text(p, "");
	/* A directory in the way of the rename: the temp file is gone. */
	assert_int_equal(fs_write_atomic(f->dir, "x", 1, 0644, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	free(tmp);
	tmp = fs_tmp_name(f->dir);
	assert_false(fs_exists(tmp));
	err_clear(&e);
	assert_int_equal(fs_write_atomic(bad, "x", 1, 0644, &e), -1);
	assert_non_null(strstr(e.msg, "nodir"));
	umask(old);
	free(p);
	free(tmp);
	free(bad);
}

static void test_fs__remove_tree(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *outside = path_in(f, "outside");
	char *keep = path_in(f, "outside/keep");
	char *tree = path_in(f, "tree");
	char *ro = path_in(f, "tree/ro");
	char *ro_file = path_in(f, "tree/ro/file");
	char *locked = path_in(f, "tree/locked");
	char *link = path_in(f, "tree/link");
	char *flink = path_in(f, "tree/flink");
	char *deep = path_in(f, "tree/d1/d2/d3/d4");
	char *top_link = path_in(f, "top-link");

	assert_int_equal(fs_mkdir_p(outside, 0755, &e), 0);
	write_file(keep, "keep", 0644);
	assert_int_equal(fs_mkdir_p(ro, 0755, &e), 0);
	assert_int_equal(fs_mkdir_p(deep, 0755, &e), 0);
	assert_int_equal(fs_mkdir_p(locked, 0755, &e), 0);
	write_file(ro_file, "ro", 0444);
	assert_int_equal(chmod(ro, 0555), 0);
	assert_int_equal(chmod(locked, 0), 0);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(symlink(keep, flink), 0);
	assert_int_equal(symlink(outside, top_link), 0);

	assert_int_equal(fs_remove_tree(tree, &e), 0);
	assert_false(fs_exists(tree));
	/* Links were removed, not followed. */
	assert_true(fs_is_dir(outside));
	assert_file_text(keep, "keep");
	/* A link given as the tree itself is unlinked, its target kept. */
	assert_int_equal(fs_remove_tree(top_link, &e), 0);
	assert_false(fs_exists(top_link));
	assert_file_text(keep, "keep");
	/* Missing: not an error. */
	assert_int_equal(fs_remove_tree(tree, &e), 0);
	/* A plain file. */
	assert_int_equal(fs_remove_tree(keep, &e), 0);
	assert_false(fs_exists(keep));
	assert_int_equal(e.code, 0);
	free(outside);
	free(keep);
	free(tree);
	free(ro);
	free(ro_file);
	free(locked);
	free(link);
	free(flink);
	free(deep);
	free(top_link);
}

static void test_fs__copy_tree(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	const char *skip[] = { ".slipway", "skipme", NULL };
	char *src = path_in(f, "src");
	char *dst = path_in(f, "dst");
	char *p, *q;
	char target[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	ssize_t n;
	int sock;

	p = path_in(f, "src/sub/deeper");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = path_in(f, "src/.slipway/builds");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = path_in(f, "src/sub/.slipway");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = path_in(f, "src/skipme");
	write_file(p, "no", 0644);
	free(p);
	p = path_in(f, "src/run.sh");
	write_file(p, "#!/bin/sh\necho hi\n", 0750);
	set_mtime(p, 1000000000, 0);
	free(p);
	p = path_in(f, "src/sub/deeper/data.bin");
	write_file(p, "binary\001\002", 0600);
	free(p);
	p = path_in(f, "src/empty");
	write_file(p, "", 0640);
	free(p);
	p = path_in(f, "src/link-rel");
	assert_int_equal(symlink("sub/deeper/data.bin", p), 0);
	free(p);
	p = path_in(f, "src/link-dangling");
	assert_int_equal(symlink("/nonexistent/target", p), 0);
	set_mtime(p, 1200000000, AT_SYMLINK_NOFOLLOW);
	free(p);
	p = path_in(f, "src/link-dir");
	assert_int_equal(symlink(f->dir, p), 0);
	free(p);
	p = path_in(f, "src/fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
	p = path_in(f, "src/sock");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	free(p);
	p = path_in(f, "src/sub");
	assert_int_equal(chmod(p, 0555), 0);
	set_mtime(p, 1100000000, 0);
	free(p);

	assert_int_equal(fs_copy_tree(src, dst, skip, &e), 0);
	assert_int_equal(e.code, 0);
	close(sock);

	p = path_in(f, "dst/run.sh");
	assert_file_text(p, "#!/bin/sh\necho hi\n");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	free(p);
	p = path_in(f, "dst/sub/deeper/data.bin");
	assert_file_text(p, "binary\001\002");
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(p);
	p = path_in(f, "dst/empty");
	assert_file_text(p, "");
	free(p);
	/* Directory mode and mtime, set after its contents. */
	p = path_in(f, "dst/sub");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0555);
	assert_int_equal(st.st_mtim.tv_sec, 1100000000);
	free(p);
	/* Links recreated as links with the same target. */
	p = path_in(f, "dst/link-rel");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "sub/deeper/data.bin");
	free(p);
	p = path_in(f, "dst/link-dangling");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_mtim.tv_sec, 1200000000);
	free(p);
	p = path_in(f, "dst/link-dir");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(p);
	/* Skipped: top-level skip list, fifos, sockets. Nested .slipway kept. */
	p = path_in(f, "dst/.slipway");
	assert_false(fs_exists(p));
	free(p);
	p = path_in(f, "dst/skipme");
	assert_false(fs_exists(p));
	free(p);
	p = path_in(f, "dst/fifo");
	assert_false(fs_exists(p));
	free(p);
	p = path_in(f, "dst/sock");
	assert_false(fs_exists(p));
	free(p);
	p = path_in(f, "dst/sub/.slipway");
	assert_true(fs_is_dir(p));
	free(p);

	/* A non-empty destination is refused. */
	assert_int_equal(fs_copy_tree(src, dst, NULL, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	err_clear(&e);
	/* An existing empty one is fine. */
	q = path_in(f, "dst2");
	assert_int_equal(mkdir(q, 0700), 0);
	assert_int_equal(fs_copy_tree(src, q, NULL, &e), 0);
	p = path_in(f, "dst2/skipme");
	assert_file_text(p, "no");
	free(p);
	free(q);
	/* A missing source. */
	p = path_in(f, "nope");
	q = path_in(f, "dst3");
	assert_int_equal(fs_copy_tree(p, q, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "nope"));
	free(p);
	free(q);

	free(src);
	free(dst);
}

static void count_copy(size_t files, unsigned long long bytes, void *data)
{
	unsigned long long *seen = data;

	assert_int_equal(files, seen[0] + 1); /* once per file, in order */
	seen[0] = files;
	seen[1] = bytes;
}

static void test_fs__copy_tree_progress(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	unsigned long long seen[2] = { 0, 0 };
	char *src = path_in(f, "psrc"), *dst = path_in(f, "pdst"), *p;

	p = path_in(f, "psrc/a/b");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = path_in(f, "psrc/one");
	write_file(p, "12345", 0644);
	free(p);
	p = path_in(f, "psrc/a/b/two");
	write_file(p, "1234567890", 0644);
	free(p);
	p = path_in(f, "psrc/a/empty");
	write_file(p, "", 0644);
	free(p);
	assert_int_equal(
		fs_copy_tree_progress(src, dst, NULL, count_copy, seen, &e), 0);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 15);
	free(src);
	free(dst);
}

/* Leaves out "skip-me" anywhere, copies "all/" unasked, records what it
 * was asked about. */
static enum fs_copy_verdict filter_rec(const char *rel, bool is_dir, void *data)
{
	struct buf *asked = data;

	buf_addf(asked, "%s%s ", rel, is_dir ? "/" : "");
	if (!strcmp(rel, "d/skip-me") || !strcmp(rel, "skip-me"))
		return FS_COPY_SKIP;
	if (!strcmp(rel, "all"))
		return FS_COPY_ALL;
	return FS_COPY;
}

static void test_fs__copy_tree_filtered(void **state)
{
	static const char *const names[] = { "d/keep", "d/skip-me", "skip-me",
					     "all/x/skip-me", "top" };
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct buf asked = BUF_INIT;
	char *src = path_in(f, "s"), *dst = path_in(f, "d"), *p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char *q = fs_join(src, names[i]);
		char *slash = strrchr(q, '/');

		*slash = '\0';
		assert_int_equal(fs_mkdir_p(q, 0755, &e), 0);
		*slash = '/';
		write_file(q, names[i], 0644);
		free(q);
	}
	assert_int_equal(
		fs_copy_tree_filtered(src, dst, NULL, filter_rec, &asked, &e),
		0);
	p = fs_join(dst, "d/keep");
	assert_file_text(p, "d/keep");
	free(p);
	p = fs_join(dst, "top");
	assert_file_text(p, "top");
	free(p);
	p = fs_join(dst, "all/x/skip-me"); /* under FS_COPY_ALL: unasked */
	assert_file_text(p, "all/x/skip-me");
	free(p);
	p = fs_join(dst, "d/skip-me");
	assert_false(fs_exists(p));
	free(p);
	p = fs_join(dst, "skip-me");
	assert_false(fs_exists(p));
	free(p);
	assert_null(strstr(asked.ptr, "all/x"));
	assert_non_null(strstr(asked.ptr, "d/keep "));
	assert_non_null(strstr(asked.ptr, "d/ "));
	buf_release(&asked);
	free(src);
	free(dst);
}

static void test_fs__copy_tree_into_itself(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *src = path_in(f, "s");
	char *dst = path_in(f, "s/state/build/src");
	char *p;

	assert_int_equal(fs_mkdir_p(dst, 0755, &e), 0);
	p = path_in(f, "s/file");
	write_file(p, "x", 0644);
	free(p);
	assert_int_equal(fs_copy_tree(src, dst, NULL, &e), 0);
	p = path_in(f, "s/state/build/src/file");
	assert_file_text(p, "x");
	free(p);
	/* The copy did not descend into itself. */
	p = path_in(f, "s/state/build/src/state/build");
	assert_true(fs_is_dir(p));
	free(p);
	p = path_in(f, "s/state/build/src/state/build/src");
	assert_false(fs_exists(p));
	free(p);
	free(src);
	free(dst);
}

static void test_fs__copy_large_file(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *src = path_in(f, "big");
	char *dst = path_in(f, "big-copy");
	char *p = path_in(f, "big/blob");
	size_t size = (3u << 20) + 17;
	char *data = xmalloc(size), *back;
	size_t i, len;
	int fd;

	assert_int_equal(mkdir(src, 0755), 0);
	for (i = 0; i < size; i++)
		data[i] = (char)(i * 131 + (i >> 9));
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	close(fd);
	free(p);
	assert_int_equal(fs_copy_tree(src, dst, NULL, &e), 0);
	p = path_in(f, "big-copy/blob");
	assert_int_equal(fs_read_file(p, size, &back, &len, &e), 0);
	assert_int_equal(len, size);
	assert_memory_equal(back, data, size);
	free(back);
	free(data);
	free(p);
	free(src);
	free(dst);
}

static void test_fs__tmp_name(void **state)
{
	char *t = fs_tmp_name("out/dir/artifacts.zip");
	char *want = xasprintf("out/dir/.artifacts.zip.slipway-tmp.%ld",
			       (long)getpid());
	pid_t pid = 0;

	(void)state;
	assert_string_equal(t, want);
	assert_true(fs_tmp_parse(strrchr(t, '/') + 1, &pid));
	assert_int_equal(pid, getpid());
	free(t);
	free(want);
	t = fs_tmp_name("bare");
	want = xasprintf(".bare.slipway-tmp.%ld", (long)getpid());
	assert_string_equal(t, want);
	free(t);
	free(want);
	assert_true(fs_tmp_parse(".a.slipway-tmp.slipway-tmp.42", &pid));
	assert_int_equal(pid, 42);
	assert_false(fs_tmp_parse("a.slipway-tmp.42", NULL));
	assert_false(fs_tmp_parse(".slipway-tmp.42", NULL));
	assert_false(fs_tmp_parse(".a.slipway-tmp.", NULL));
	assert_false(fs_tmp_parse(".a.slipway-tmp.4x", NULL));
	assert_false(fs_tmp_parse(".a.slipway-tmp.0", NULL));
	assert_false(fs_tmp_parse(".a.slipway-tmp.99999999999", NULL));
	assert_false(fs_tmp_parse(".a.tmp.42", NULL));
}

/* A pid that no process has: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		_exit(0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return pid;
}

static char *tmp_in(const char *dir, const char *base, pid_t pid)
{
	return xasprintf("%s/.%s.slipway-tmp.%ld", dir, base, (long)pid);
}

static void test_fs__sweep_stale_tmp(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct fs_sweep sw = { 0 };
	pid_t dead = dead_pid();
	char *sub = path_in(f, "sub"), *skip = path_in(f, "src");
	char *stale = tmp_in(f->dir, "a.zip", dead);
	char *locked = tmp_in(f->dir, "b.zip", dead);
	char *mine = tmp_in(f->dir, "c.zip", getpid());
	char *tree = tmp_in(f->dir, "artifacts", dead);
	char *deep = tmp_in(sub, "d.json", dead);
	char *skipped = tmp_in(skip, "e.json", dead);
	char *plain = path_in(f, "a.zip");
	char *inner = fs_join(tree, "file");
	const char *const skips[] = { "src", NULL };
	char big[8192];
	int fd;

	memset(big, 'x', sizeof(big));
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(skip, 0755), 0);
	assert_int_equal(mkdir(tree, 0755), 0);
	write_file(stale, "", 0644);
	fd = open(stale, O_WRONLY);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);
	write_file(locked, "x", 0644);
	write_file(mine, "x", 0644);
	write_file(inner, "x", 0644);
	write_file(deep, "x", 0644);
	write_file(skipped, "x", 0644);
	write_file(plain, "x", 0644);
	/* a dead pid's name, but its lock is held: a reused pid's writer */
	fd = open(locked, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);

	assert_int_equal(fs_sweep_stale_tmp(f->dir, 0, skips, &sw, &e), 0);
	assert_int_equal(sw.files, 2);
	assert_true(sw.bytes >= sizeof(big));
	assert_false(fs_exists(stale));
	assert_false(fs_exists(tree));
	assert_true(fs_exists(locked));
	assert_true(fs_exists(mine));
	assert_true(fs_exists(plain));
	assert_true(fs_exists(deep)); /* depth 0: the directory only */

	assert_int_equal(fs_sweep_stale_tmp(f->dir, 2, skips, &sw, &e), 0);
	assert_int_equal(sw.files, 3);
	assert_false(fs_exists(deep));
	assert_true(fs_exists(skipped));
	assert_true(fs_exists(locked));

	close(fd); /* the writer is gone now */
	assert_int_equal(fs_sweep_stale_tmp(f->dir, 0, NULL, &sw, &e), 0);
	assert_int_equal(sw.files, 4);
	assert_false(fs_exists(locked));
	assert_true(fs_exists(mine));

	free(sub);
	sub = path_in(f, "missing");
	assert_int_equal(fs_sweep_stale_tmp(sub, 0, NULL, &sw, &e), 0);
	free(sub);
	free(skip);
	free(stale);
	free(locked);
	free(mine);
	free(tree);
	free(deep);
	free(skipped);
	free(plain);
	free(inner);
}

static void test_fs__lock_held(void **state)
{
	struct fixture *f = *state;
	char *p = path_in(f, "build.log"), *missing = path_in(f, "none");
	struct sw_err e = SW_ERR_INIT;
	char *tmp;
	int fd;

	write_file(p, "x", 0644);
	assert_int_equal(fs_lock_held(p), 0);
	fd = open(p, O_WRONLY);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(fs_lock_held(p), 1);
	close(fd);
	assert_int_equal(fs_lock_held(p), 0);
	assert_int_equal(fs_lock_held(missing), -1);
	/* created locked: never there unlocked while its creator lives */
	fd = fs_create_locked(missing, 0640, &e);
	assert_true(fd >= 0);
	assert_int_equal(fs_lock_held(missing), 1);
	tmp = fs_tmp_name(missing);
	assert_false(fs_exists(tmp));
	assert_int_equal(write(fd, "y", 1), 1);
	close(fd);
	assert_int_equal(fs_lock_held(missing), 0);
	assert_file_text(missing, "y");
	free(tmp);
	free(p);
	free(missing);
}

static void test_fs__reserve(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct fs_reserve rv = FS_RESERVE_INIT;
	char *p = path_in(f, "report.json"), *tmp = fs_tmp_name(p);
	char *text = xmalloc(10000);
	struct stat st;

	assert_int_equal(fs_reserve(&rv, p, 4096, &e), 0);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(st.st_size, 4096);
	assert_true((uint64_t)st.st_blocks * 512 >= 4096);
	assert_false(fs_exists(p));
	/* the writer holds the temporary's lock: no sweep takes it */
	assert_int_equal(fs_lock_held(tmp), 1);
	assert_int_equal(fs_reserve_commit(&rv, "{}\n", 3, 0644, &e), 0);
	assert_file_text(p, "{}\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_false(fs_exists(tmp));
	fs_reserve_release(&rv);

	/* longer than the reservation: fine where there is space */
	memset(text, 'y', 10000);
	assert_int_equal(fs_reserve(&rv, p, 4096, &e), 0);
	assert_int_equal(fs_reserve_commit(&rv, text, 10000, 0600, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 10000);
	fs_reserve_release(&rv);

	/* not committed: nothing is left */
	assert_int_equal(fs_reserve(&rv, p, 4096, &e), 0);
	assert_true(fs_exists(tmp));
	fs_reserve_release(&rv);
	fs_reserve_release(&rv);
	assert_false(fs_exists(tmp));
	free(p);
	free(tmp);
	free(text);
}

/* fs_clock_after() on a marker in the fixture. */
static struct timespec file_clock(struct fixture *f)
{
	struct sw_err e = SW_ERR_INIT;
	char *marker = path_in(f, ".clock");
	struct timespec t;

	assert_int_equal(fs_clock_after(marker, &t, &e), 0);
	free(marker);
	return t;
}

static void test_fs__sync_tree(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *src = path_in(f, "src"), *dst = path_in(f, "dst");
	char *junk = path_in(f, "junk"), *p, *q;
	struct fs_sync s;
	struct stat a, b;
	ino_t kept_ino;

	assert_int_equal(fs_mkdir_p(src, 0755, &e), 0);
	assert_int_equal(mkdir(junk, 0700), 0);
	p = fs_join(src, "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = fs_join(src, "same.txt");
	write_file(p, "same\n", 0644);
	free(p);
	p = fs_join(src, "changed.txt");
	write_file(p, "v1\n", 0644);
	free(p);
	p = fs_join(src, "gone.txt");
	write_file(p, "gone\n", 0644);
	free(p);
	p = fs_join(src, "sub/exec.sh");
	write_file(p, "#!/bin/sh\n", 0755);
	free(p);
	p = fs_join(src, "link");
	assert_int_equal(symlink("same.txt", p), 0);
	free(p);
	p = fs_join(src, ".slipway");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	{
		static const char *const skip[] = { ".slipway", NULL };

		memset(&s, 0, sizeof(s));
		s.trusted_before = file_clock(f);
		assert_int_equal(fs_copy_tree(src, dst, skip, &e), 0);
		s.trusted_copy = file_clock(f);
	}
	p = fs_join(dst, "same.txt");
	assert_int_equal(lstat(p, &a), 0);
	kept_ino = a.st_ino;
	free(p);

	/* the source changes: a file, a deletion, a new one */
	p = fs_join(src, "changed.txt");
	write_file(p, "v2 longer\n", 0644);
	free(p);
	p = fs_join(src, "gone.txt");
	assert_int_equal(unlink(p), 0);
	free(p);
	p = fs_join(src, "sub/new.txt");
	write_file(p, "new\n", 0600);
	free(p);
	/* the copy changes: an output, a file rewritten with its size and
	 * mtime kept, a chmod, a link pointed elsewhere */
	p = fs_join(dst, "out.bin");
	write_file(p, "output\n", 0644);
	free(p);
	p = fs_join(dst, "sub/exec.sh");
	assert_int_equal(lstat(p, &a), 0);
	write_file(p, "#!/bin/XX\n", 0755);
	{
		struct timespec ts[2] = { a.st_atim, a.st_mtim };

		assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
	free(p);
	p = fs_join(dst, "link");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("changed.txt", p), 0);
	free(p);

	{
		static const char *const skip[] = { ".slipway", NULL };

		s.junk = junk;
		assert_int_equal(fs_sync_tree(src, dst, skip, &s, &e), 0);
	}
	/* same.txt untouched and kept: the same inode */
	p = fs_join(dst, "same.txt");
	assert_int_equal(lstat(p, &b), 0);
	assert_int_equal(b.st_ino, kept_ino);
	free(p);
	p = fs_join(dst, "changed.txt");
	assert_file_text(p, "v2 longer\n");
	free(p);
	p = fs_join(dst, "gone.txt");
	assert_int_equal(lstat(p, &b), -1);
	free(p);
	p = fs_join(dst, "out.bin");
	assert_int_equal(lstat(p, &b), -1);
	free(p);
	p = fs_join(dst, ".slipway");
	assert_int_equal(lstat(p, &b), -1);
	free(p);
	p = fs_join(dst, "sub/exec.sh");
	assert_file_text(p, "#!/bin/sh\n");
	assert_int_equal(lstat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0755);
	free(p);
	p = fs_join(dst, "sub/new.txt");
	assert_file_text(p, "new\n");
	assert_int_equal(lstat(p, &b), 0);
	assert_int_equal(b.st_mode & 07777, 0600);
	q = fs_join(src, "sub/new.txt");
	assert_int_equal(lstat(q, &a), 0);
	assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
	assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	free(q);
	free(p);
	p = fs_join(dst, "link");
	{
		char t[64];
		ssize_t n = readlink(p, t, sizeof(t) - 1);

		assert_true(n > 0);
		t[n] = '\0';
		assert_string_equal(t, "same.txt");
	}
	free(p);
	/* kept: same.txt (directories are not counted); copied: changed,
	 * exec.sh, new.txt, link; removed: gone, out.bin and the three
	 * replaced (.slipway was never copied) */
	assert_int_equal(s.kept, 1);
	assert_int_equal(s.copied, 4);
	assert_int_equal(s.removed, 2 + 3);
	free(src);
	free(dst);
	free(junk);
}

/* A recycled copy holds what a filtered copy would: what the filter
 * leaves out goes, even when the copy had it and the source still has. */
static void test_fs__sync_tree_filtered(void **state)
{
	static const char *const names[] = { "d/keep", "d/skip-me", "skip-me",
					     "all/x/skip-me", "top" };
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	struct buf asked = BUF_INIT;
	char *src = path_in(f, "s"), *dst = path_in(f, "d"), *p;
	struct fs_sync s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char *q = fs_join(src, names[i]);
		char *slash = strrchr(q, '/');

		*slash = '\0';
		assert_int_equal(fs_mkdir_p(q, 0755, &e), 0);
		*slash = '/';
		write_file(q, names[i], 0644);
		free(q);
	}
	memset(&s, 0, sizeof(s));
	s.trusted_before = file_clock(f);
	assert_int_equal(fs_copy_tree(src, dst, NULL, &e), 0); /* everything */
	s.trusted_copy = file_clock(f);
	s.filter = filter_rec;
	s.filter_data = &asked;
	assert_int_equal(fs_sync_tree(src, dst, NULL, &s, &e), 0);
	p = fs_join(dst, "d/keep");
	assert_file_text(p, "d/keep");
	free(p);
	p = fs_join(dst, "top");
	assert_file_text(p, "top");
	free(p);
	p = fs_join(dst, "all/x/skip-me"); /* under FS_COPY_ALL: unasked */
	assert_file_text(p, "all/x/skip-me");
	free(p);
	p = fs_join(dst, "d/skip-me");
	assert_false(fs_exists(p));
	free(p);
	p = fs_join(dst, "skip-me");
	assert_false(fs_exists(p));
	free(p);
	assert_null(strstr(asked.ptr, "all/x"));
	/* kept: the three copied files; removed: the two left out */
	assert_int_equal(s.kept, 3);
	assert_int_equal(s.copied, 0);
	assert_int_equal(s.removed, 2);
	buf_release(&asked);
	free(src);
	free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fs__join),
		cmocka_unit_test(test_fs__abspath),
		cmocka_unit_test_setup_teardown(test_fs__mkdir_p_and_exists,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs__read_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__write_atomic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__remove_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__copy_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__copy_tree_progress,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs__copy_tree_filtered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs__copy_tree_into_itself,
						setup, teardown),
		cmocka_unit_test(test_fs__tmp_name),
		cmocka_unit_test_setup_teardown(test_fs__sweep_stale_tmp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__lock_held, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__reserve, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__copy_large_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__sync_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fs__sync_tree_filtered,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
