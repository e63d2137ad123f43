#include "exec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fs.h"
#include "xalloc.h"
#include "banned.h"

static char *tmpdir(void)
{
	char *t = xstrdup("/tmp/test_exec.XXXXXX");

	assert_non_null(mkdtemp(t));
	return t;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = fs_join(dir, name);
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(fs_write_atomic(p, text, strlen(text), 0644, &e), 0);
	free(p);
}

static void hash(const char *dir, char hex[65])
{
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(exec_tree_hash(dir, hex, &e), 0);
	assert_int_equal(strlen(hex), 64);
}

/* One tree: a/f, b, and a link l -> b. */
static char *tree(void)
{
	char *t = tmpdir(), *a = fs_join(t, "a"), *l = fs_join(t, "l");

	assert_int_equal(mkdir(a, 0755), 0);
	put(t, "a/f", "one\n");
	put(t, "b", "two\n");
	assert_int_equal(symlink("b", l), 0);
	free(a);
	free(l);
	return t;
}

static void test_exec__tree_hash(void **state)
{
	char h1[65], h2[65], h3[65];
	char *t1 = tree(), *t2 = tree(), *p;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	/* the same content in another directory, made at another time */
	hash(t1, h1);
	hash(t2, h2);
	assert_string_equal(h1, h2);

	/* a file's content */
	put(t2, "b", "two!\n");
	hash(t2, h3);
	assert_string_not_equal(h1, h3);
	put(t2, "b", "two\n");
	hash(t2, h3);
	assert_string_equal(h1, h3);

	/* a file's mode */
	p = fs_join(t2, "b");
	assert_int_equal(chmod(p, 0755), 0);
	hash(t2, h3);
	assert_string_not_equal(h1, h3);
	assert_int_equal(chmod(p, 0644), 0);
	free(p);

	/* a link's target */
	p = fs_join(t2, "l");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("a/f", p), 0);
	hash(t2, h3);
	assert_string_not_equal(h1, h3);
	free(p);

	/* a name: the same bytes under another path */
	p = fs_join(t1, "c");
	put(t1, "c", "");
	hash(t1, h2);
	assert_string_not_equal(h1, h2);
	assert_int_equal(unlink(p), 0);
	free(p);
	p = fs_join(t1, "a/g");
	put(t1, "a/g", "");
	hash(t1, h3);
	assert_string_not_equal(h2, h3);
	free(p);

	assert_int_equal(fs_remove_tree(t1, &e), 0);
	assert_int_equal(fs_remove_tree(t2, &e), 0);
	free(t1);
	free(t2);
}

static void test_exec__tree_hash_missing(void **state)
{
	char hex[65];
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(exec_tree_hash("/nonexistent/slipway-test", hex, &e),
			 -1);
	assert_non_null(strstr(e.msg, "/nonexistent/slipway-test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec__tree_hash),
		cmocka_unit_test(test_exec__tree_hash_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
