#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "state.h"
#include "xalloc.h"

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

static void test_state__number_file_cut_to_its_text(void **state)
{
	char dir[] = "/tmp/sw-state-XXXXXX", buf[64];
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *path;
	FILE *f;
	size_t got;
	long n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_open(&st, dir, &e), 0);
	assert_int_equal(state_next_build_number(&st, "d", &n, &e), 0);
	path = xasprintf("%s/projects/d/next-build-number", dir);
	/* longer than what replaces it: nothing of it may stay behind */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("7 left over from something else\n", f);
	fclose(f);
	assert_int_equal(state_next_build_number(&st, "d", &n, &e), 0);
	assert_int_equal(n, 7);
	f = fopen(path, "r");
	assert_non_null(f);
	got = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(got, 2);
	assert_memory_equal(buf, "8\n", 2);
	free(path);
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

static void put(const char *dir, const char *rel)
{
	char *p = fs_join(dir, rel);
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(fs_write_atomic(p, "{}", 2, 0644, &e), 0);
	free(p);
}

/* A build without a report (running, or killed) is a record, not a
 * finished build: listed by state_list_records() only. */
static void test_state__records_include_builds_without_report(void **state)
{
	char dir[] = "/tmp/sw-state-XXXXXX";
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct strvec v = STRVEC_INIT;
	const char *done = "p-00000000-0000-4000-8000-000000000001";
	const char *killed = "p-00000000-0000-4000-8000-000000000002";
	char *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_open(&st, dir, &e), 0);
	p = xasprintf("%s/builds/%s", dir, done);
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = xasprintf("%s/builds/%s", dir, killed);
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = xasprintf("%s/deployments/d-KILLED0001", dir);
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	p = xasprintf("builds/%s/report.json", done);
	put(dir, p);
	free(p);
	p = xasprintf("builds/%s/build.log", killed);
	put(dir, p);
	free(p);
	put(dir, "deployments/d-KILLED0001/deployment.log");
	assert_int_equal(state_list_builds(&st, &v, &e), 0);
	assert_int_equal(v.nr, 1);
	assert_string_equal(v.v[0], done);
	strvec_clear(&v);
	assert_int_equal(state_list_records(&st, false, &v, &e), 0);
	assert_int_equal(v.nr, 2);
	assert_string_equal(v.v[1], killed); /* the newer */
	strvec_clear(&v);
	assert_int_equal(state_list_deployments(&st, &v, &e), 0);
	assert_int_equal(v.nr, 0);
	assert_int_equal(state_list_records(&st, true, &v, &e), 0);
	assert_int_equal(v.nr, 1);
	assert_string_equal(v.v[0], "d-KILLED0001");
	strvec_release(&v);
	state_release(&st);
	fs_remove_tree(dir, &e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state__build_numbers_count_per_project),
		cmocka_unit_test(test_state__numbers_unique_under_concurrency),
		cmocka_unit_test(test_state__number_file_cut_to_its_text),
		cmocka_unit_test(test_state__uuid_shape),
		cmocka_unit_test(
			test_state__records_include_builds_without_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
