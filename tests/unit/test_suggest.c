#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "suggest.h"
#include "xalloc.h"
#include "banned.h"

static size_t dist(const char *a, const char *b)
{
	return suggest_distance(a, strlen(a), b, strlen(b));
}

static void test_suggest__distance(void **state)
{
	(void)state;
	assert_int_equal(dist("", ""), 0);
	assert_int_equal(dist("", "abc"), 3);
	assert_int_equal(dist("abc", ""), 3);
	assert_int_equal(dist("build", "build"), 0);
	assert_int_equal(dist("comands", "commands"), 1); /* insertion */
	assert_int_equal(dist("commandss", "commands"), 1); /* deletion */
	assert_int_equal(dist("bwild", "build"), 1); /* substitution */
	assert_int_equal(dist("biuld", "build"), 1); /* swap */
	assert_int_equal(dist("buidl", "build"), 1);
	assert_int_equal(dist("kitten", "sitting"), 3);
	assert_int_equal(dist("ca", "abc"), 3); /* OSA, not Damerau */
	/* case and '_' for '-' are not differences */
	assert_int_equal(dist("Pre-Build", "pre_build"), 0);
	assert_int_equal(dist("FILES", "files"), 0);
	/* symmetric */
	assert_int_equal(dist("artifcats", "artifacts"),
			 dist("artifacts", "artifcats"));
}

static void test_suggest__long_words_are_never_close(void **state)
{
	char a[80], b[80];

	(void)state;
	memset(a, 'x', sizeof(a));
	memset(b, 'x', sizeof(b));
	assert_int_equal(suggest_distance(a, 65, b, 65), 65);
	assert_int_equal(suggest_distance(a, 64, b, 64), 0);
}

static void test_suggest__closest(void **state)
{
	static const char *const phases[] = { "install", "pre_build", "build",
					      "post_build" };
	static const char *const keys[] = { "run-as", "on-failure",
					    "runtime-versions", "commands",
					    "finally" };
	static const char *const cmds[] = { "build",	"deploy", "run",
					    "validate", "plan",	  "history",
					    "show",	"cache",  "prune" };

	(void)state;
	assert_string_equal(suggest_closest("biuld", 5, phases, 4), "build");
	assert_string_equal(suggest_closest("prebuild", 8, phases, 4),
			    "pre_build");
	assert_string_equal(suggest_closest("post-build", 10, phases, 4),
			    "post_build");
	assert_string_equal(suggest_closest("comands", 7, keys, 5), "commands");
	assert_string_equal(suggest_closest("finaly", 6, keys, 5), "finally");
	assert_string_equal(suggest_closest("buidl", 5, cmds, 9), "build");
	assert_string_equal(suggest_closest("valdiate", 8, cmds, 9),
			    "validate");
	assert_string_equal(suggest_closest("hist", 4, cmds, 9) ?: "", "");
	/* too far to be a slip */
	assert_null(suggest_closest("zzzzz", 5, cmds, 9));
	assert_null(suggest_closest("environment", 11, keys, 5));
	/* a short word needs a close match, and not all of it changed */
	assert_null(suggest_closest("x", 1, cmds, 9));
	assert_null(suggest_closest("ru", 2, keys, 5));
	assert_string_equal(suggest_closest("rnu", 3, cmds, 9), "run");
	/* the word itself is no suggestion */
	assert_null(suggest_closest("build", 5, cmds, 9));
	/* len counts, not the NUL: a prefix of a longer buffer */
	assert_string_equal(suggest_closest("deplyo-x", 6, cmds, 9), "deploy");
	/* NULL entries are skipped */
	{
		const char *const holes[] = { NULL, "files", NULL };

		assert_string_equal(suggest_closest("fles", 4, holes, 3),
				    "files");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suggest__distance),
		cmocka_unit_test(test_suggest__long_words_are_never_close),
		cmocka_unit_test(test_suggest__closest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
