#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "state.h"

static void test_state__build_numbers_count_per_project(void **state)
{
	char dir[] = "/tmp/sw-state-XXXXXX";
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	long n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_open(&st, dir, &e), 0);
	for (long want = 1; want <= 3; want++) {
		assert_int_equal(state_next_build_number(&st, "a", &n, &e), 0);
		assert_int_equal(n, want);
	}
	assert_int_equal(state_next_build_number(&st, "b", &n, &e), 0);
	assert_int_equal(n, 1);
	state_release(&st);
	fs_remove_tree(dir, &e);
}

static void test_state__numbers_unique_under_concurrency(void **state)
{
	char dir[] = "/tmp/sw-state-XXXXXX";
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	long n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_open(&st, dir, &e), 0);
	for (int k = 0; k < 4; k++) {
		if (fork() == 0) {
			for (int i = 0; i < 25; i++)
				if (state_next_build_number(&st, "c", &n, &e))
					_exit(1);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		int status;

		wait(&status);
		assert_true(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	assert_int_equal(state_next_build_number(&st, "c", &n, &e), 0);
	assert_int_equal(n, 101);
	state_release(&st);
	fs_remove_tree(dir, &e);
}

static void test_state__uuid_shape(void **state)
{
	char *a = state_uuid(), *b = state_uuid();

	(void)state;
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[14], '4');
	assert_true(strchr("89ab", a[19]) != NULL);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state__build_numbers_count_per_project),
		cmocka_unit_test(test_state__numbers_unique_under_concurrency),
		cmocka_unit_test(test_state__uuid_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
