#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "glob.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static char root[64];

/* Create root/<rel> as a file, making parent directories. */
static void mkfile(const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	int fd;

	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rel, strlen(rel)), (ssize_t)strlen(rel));
	close(fd);
	free(path);
}

static void mklink(const char *target, const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int rm_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/sw-glob-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkfile("my-build-1/my-file-1.txt");
	mkfile("my-build-2/my-file-2.txt");
	mkfile("my-build-2/my-subdirectory/my-file-3.txt");
	mkfile("dir/file.txt");
	mkfile("dir/sub/deep.txt");
	mkfile(".env");
	mkfile(".git/config");
	mkfile("src/.hidden/x.c");
	mkfile("src/a.c");
	mkfile("src/node_modules/m/index.js");
	mklink("../dir", "src/dirlink");
	mklink("a.c", "src/filelink");
	{
		char *fifo = xasprintf("%s/src/fifo", root);
		mkfifo(fifo, 0644);
		free(fifo);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rm_tree(root);
}

/* Expand and join the result with spaces. */
static char *expand(const char *pattern)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	if (glob_expand(root, pattern, &v, &e) < 0) {
		buf_addf(&b, "ERROR %s", e.msg);
	} else {
		for (size_t i = 0; i < v.nr; i++)
			buf_addf(&b, "%s%s", i ? " " : "", v.v[i]);
	}
	strvec_release(&v);
	return buf_detach(&b);
}

#define assert_expand(pattern, want)                                           \
	do {                                                                   \
		char *got_ = expand(pattern);                                  \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

static void test_glob__match_component_wildcards(void **state)
{
	(void)state;
	assert_true(glob_match("*.txt", "a.txt"));
	assert_false(glob_match("*.txt", "d/a.txt"));
	assert_true(glob_match("dir/*", "dir/a"));
	assert_false(glob_match("dir/*", "dir/a/b"));
	assert_false(glob_match("dir/*", "dir"));
	assert_true(glob_match("?.c", "a.c"));
	assert_false(glob_match("?.c", "ab.c"));
	assert_true(glob_match("[ab].c", "b.c"));
	assert_false(glob_match("[ab].c", "c.c"));
	assert_true(
		glob_match("*/my-file-3.txt", "my-subdirectory/my-file-3.txt"));
	assert_false(glob_match("*/my-file-3.txt", "a/b/my-file-3.txt"));
	assert_false(glob_match("*/my-file-3.txt", "my-file-3.txt"));
	assert_true(glob_match("a\\*b", "a*b"));
	assert_false(glob_match("a\\*b", "axb"));
}

static void test_glob__match_double_star(void **state)
{
	(void)state;
	assert_true(glob_match("**/*", "a"));
	assert_true(glob_match("**/*", "a/b/c"));
	assert_true(glob_match("dir/**/*", "dir/a"));
	assert_true(glob_match("dir/**/*", "dir/a/b/c"));
	assert_false(glob_match("dir/**/*", "dir"));
	assert_false(glob_match("dir/**/*", "other/a"));
	assert_true(glob_match("**/x/**/*", "x/a"));
	assert_true(glob_match("**/x/**/*", "a/b/x/c/d"));
	assert_false(glob_match("**/x/**/*", "a/x"));
	assert_false(glob_match("**/x/**/*", "a/xy/b"));
	assert_true(glob_match("**/*.js", "a/b/c.js"));
	assert_true(glob_match("**/*.js", "c.js"));
	assert_false(glob_match("**/*.js", "c.jsx"));
	assert_true(glob_match("a/**/b/**/c", "a/b/c"));
	assert_true(glob_match("a/**/b/**/c", "a/x/b/y/z/c"));
	assert_false(glob_match("a/**/b/**/c", "a/x/c"));
	assert_true(glob_match("**", "a/b"));
	/* `**` inside a component is a plain star */
	assert_true(glob_match("**.zip", "a.zip"));
	assert_false(glob_match("**.zip", "d/a.zip"));
}

static void test_glob__match_dotfiles(void **state)
{
	(void)state;
	assert_true(glob_match("*", ".env"));
	assert_true(glob_match("**/*", ".git/config"));
	assert_true(glob_match("**/.*", ".env"));
	assert_true(glob_match("**/.*", "a/b/.env"));
	assert_false(glob_match("**/.*", "a/b/env"));
	assert_false(glob_match("**/.*", ".git/config"));
	assert_true(glob_match("**/.*/**/*", ".git/config"));
	assert_true(glob_match("**/.*/**/*", "src/.cache/x/y"));
	assert_false(glob_match("**/.*/**/*", "src/x/y"));
}

static void test_glob__match_normalises(void **state)
{
	(void)state;
	assert_true(glob_match("./dir/a", "dir/a"));
	assert_true(glob_match("dir//a", "dir/a"));
	assert_true(glob_match("dir/./a", "./dir/a"));
	assert_true(glob_match("x/../dir/a", "dir/a"));
	assert_false(glob_match("../dir/a", "dir/a"));
	assert_false(glob_match("**/../a", "a"));
	assert_false(glob_match("/dir/a", "dir/a"));
}

static void test_glob__match_tree_bare_directory(void **state)
{
	(void)state;
	assert_true(glob_match_tree("node_modules", "node_modules/m/i.js"));
	assert_true(glob_match_tree("**/node_modules", "a/node_modules/m"));
	assert_true(glob_match_tree("dist", "dist"));
	assert_false(glob_match_tree("dist", "distx/a"));
	assert_false(glob_match("node_modules", "node_modules/m/i.js"));
	/* a wildcard last component keeps its one-level meaning */
	assert_false(glob_match_tree("dir/*", "dir/sub/x"));
	assert_true(glob_match_tree("dir/*", "dir/x"));
	assert_true(glob_match_tree("", "any/thing"));
}

static void test_glob__expand_reference_tree(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *base = xasprintf("%s/my-build-2", root);

	(void)state;
	assert_int_equal(glob_expand(base, "*/my-file-3.txt", &v, &e), 0);
	assert_int_equal(v.nr, 1);
	assert_string_equal(v.v[0], "my-subdirectory/my-file-3.txt");
	assert_int_equal(glob_expand(base, "**/*", &v, &e), 0);
	assert_int_equal(v.nr, 3); /* appended after the first result */
	assert_string_equal(v.v[1], "my-file-2.txt");
	assert_string_equal(v.v[2], "my-subdirectory/my-file-3.txt");
	strvec_release(&v);
	free(base);
}

static void test_glob__expand_all_sorted_with_dotfiles(void **state)
{
	(void)state;
	/* symlinks listed, never walked; the fifo is left out */
	assert_expand("**/*", ".env .git/config dir/file.txt dir/sub/deep.txt "
			      "my-build-1/my-file-1.txt "
			      "my-build-2/my-file-2.txt "
			      "my-build-2/my-subdirectory/my-file-3.txt "
			      "src/.hidden/x.c src/a.c src/dirlink "
			      "src/filelink src/node_modules/m/index.js");
	assert_expand("src/*", "src/a.c src/dirlink src/filelink");
	assert_expand("**/.*", ".env");
	assert_expand("**/*.c", "src/.hidden/x.c src/a.c");
	assert_expand("**/node_modules/**/*", "src/node_modules/m/index.js");
}

static void test_glob__expand_literal_and_bare_dir(void **state)
{
	(void)state;
	assert_expand("dir/file.txt", "dir/file.txt");
	assert_expand("./dir/file.txt", "dir/file.txt");
	assert_expand("dir/missing.txt", "");
	assert_expand("dir/file.txt/x", "");
	assert_expand("dir", "dir/file.txt dir/sub/deep.txt");
	assert_expand("dir/", "dir/file.txt dir/sub/deep.txt");
	assert_expand("**/sub", "dir/sub/deep.txt");
	assert_expand("src/dirlink", "src/dirlink");
	assert_expand("dir/*", "dir/file.txt");
}

static void test_glob__expand_bare_base_takes_everything(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *base = xasprintf("%s/dir", root);

	(void)state;
	assert_int_equal(glob_expand(base, ".", &v, &e), 0);
	assert_int_equal(v.nr, 2);
	assert_string_equal(v.v[0], "file.txt");
	assert_string_equal(v.v[1], "sub/deep.txt");
	strvec_release(&v);
	free(base);
}

static void test_glob__expand_rejects_escapes(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(glob_expand(root, "../etc/passwd", &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg, "'../etc/passwd'"));
	err_clear(&e);
	assert_int_equal(glob_expand(root, "dir/../../x", &v, &e), -1);
	assert_non_null(strstr(e.msg, "leaves the base directory"));
	err_clear(&e);
	assert_int_equal(glob_expand(root, "/etc/passwd", &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg, "absolute"));
	assert_int_equal(v.nr, 0);
	/* a `..` that stays inside is fine */
	assert_expand("src/../dir/file.txt", "dir/file.txt");
}

/* 0 when the literal patterns work around an unreadable directory that a
 * full walk trips on, and look names up in a directory they cannot list;
 * a bit per failed check otherwise. */
static int prune_checks(void)
{
	char *a = expand("dir/file.txt"), *b = expand("dir/*");
	char *c = expand("**/*"), *d = expand("xonly/inner/f.txt");
	int bad = 0;

	bad |= strcmp(a, "dir/file.txt") ? 1 : 0;
	bad |= strcmp(b, "dir/file.txt") ? 2 : 0;
	bad |= strstr(c, "ERROR") && strstr(c, "locked") ? 0 : 4;
	bad |= strcmp(d, "xonly/inner/f.txt") ? 8 : 0;
	free(d);
	free(a);
	free(b);
	free(c);
	return bad;
}

static void test_glob__expand_prunes(void **state)
{
	char *locked = xasprintf("%s/locked", root);
	char *xonly = xasprintf("%s/xonly", root);
	int status = 0;

	(void)state;
	assert_int_equal(mkdir(locked, 0), 0);
	mkfile("xonly/inner/f.txt");
	assert_int_equal(chmod(xonly, 0111), 0);
	if (geteuid() != 0) {
		status = prune_checks();
	} else {
		/* root reads mode-000 directories: check as nobody */
		pid_t pid;

		chmod(root, 0755);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(100);
			_exit(prune_checks());
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		chmod(root, 0700);
		assert_true(WIFEXITED(status));
		status = WEXITSTATUS(status);
	}
	rmdir(locked);
	chmod(xonly, 0755);
	rm_tree(xonly);
	free(locked);
	free(xonly);
	assert_int_equal(status, 0);
}

static void test_glob__expand_dirs(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(glob_expand_dirs(root, "my-build*", &v, &e), 0);
	assert_int_equal(v.nr, 2);
	assert_string_equal(v.v[0], "my-build-1");
	assert_string_equal(v.v[1], "my-build-2");
	strvec_clear(&v);
	/* symlinks to directories are not directories here */
	assert_int_equal(glob_expand_dirs(root, "src/*", &v, &e), 0);
	assert_int_equal(v.nr, 2);
	assert_string_equal(v.v[0], "src/.hidden");
	assert_string_equal(v.v[1], "src/node_modules");
	strvec_release(&v);
}

static void test_glob__expand_missing_base(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *base = xasprintf("%s/nope", root);

	(void)state;
	assert_int_equal(glob_expand(base, "**/*", &v, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "nope"));
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob__match_component_wildcards),
		cmocka_unit_test(test_glob__match_double_star),
		cmocka_unit_test(test_glob__match_dotfiles),
		cmocka_unit_test(test_glob__match_normalises),
		cmocka_unit_test(test_glob__match_tree_bare_directory),
		cmocka_unit_test(test_glob__expand_reference_tree),
		cmocka_unit_test(test_glob__expand_all_sorted_with_dotfiles),
		cmocka_unit_test(test_glob__expand_literal_and_bare_dir),
		cmocka_unit_test(test_glob__expand_bare_base_takes_everything),
		cmocka_unit_test(test_glob__expand_rejects_escapes),
		cmocka_unit_test(test_glob__expand_prunes),
		cmocka_unit_test(test_glob__expand_dirs),
		cmocka_unit_test(test_glob__expand_missing_base),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
