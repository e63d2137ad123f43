#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli.h"

static void test_cli__durations(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(cli_parse_duration("90s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(cli_parse_duration("10m", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(cli_parse_duration("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(cli_parse_duration("1h30m", &ms), 0);
	assert_int_equal(ms, 5400000);
	/* a bare number is minutes, as CodeBuild counts */
	assert_int_equal(cli_parse_duration("5", &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(cli_parse_duration("0.5s", &ms), 0);
	assert_int_equal(ms, 500);
}

static void test_cli__bad_durations(void **state)
{
	int64_t ms;
	static const char *const bad[] = {
		"", "s", "10x", "-5", "0", "1h30", "abc", "1e400", "5 m", NULL
	};

	(void)state;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(cli_parse_duration(bad[i], &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli__durations),
		cmocka_unit_test(test_cli__bad_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
