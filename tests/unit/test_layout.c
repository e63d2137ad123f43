#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "layout.h"

#include "banned.h"

static void repo(const char *source, const char *want)
{
	char *got = layout_repo_path(source);

	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
	free(got);
}

/* the URLs of real Go projects' CodeBuild sources */
static void test_layout__forge_urls_give_go_paths(void **state)
{
	(void)state;
	repo("https://github.com/aws/amazon-ecs-agent.git",
	     "github.com/aws/amazon-ecs-agent");
	repo("https://github.com/aws/amazon-ecs-agent",
	     "github.com/aws/amazon-ecs-agent");
	repo("https://GitHub.com/McKissockLP/SOURCE1/",
	     "github.com/McKissockLP/SOURCE1");
	repo("git@github.com:bottlerocket-os/bottlerocket.git",
	     "github.com/bottlerocket-os/bottlerocket");
	repo("ssh://git@github.com:22/aws/s2n-tls.git",
	     "github.com/aws/s2n-tls");
	repo("https://token@gitlab.com/group/sub/app.git",
	     "gitlab.com/group/sub/app");
	repo("https://bitbucket.org/team/app", "bitbucket.org/team/app");
	repo("git://github.com/a/b", "github.com/a/b");
}

static void test_layout__other_sources_keep_plain_src(void **state)
{
	(void)state;
	repo(".", NULL);
	repo("/home/me/app", NULL);
	repo("file:///srv/git/app.git", NULL);
	repo("https://git.example.com/org/app.git", NULL);
	repo("https://github.com/", NULL);
	repo("https://github.com/aws", NULL);
	repo("https://github.com/aws/../etc", NULL);
	repo("https://github.com/aws//x", NULL);
	repo("https://github.com/a/b c", NULL);
	repo("./github.com:a/b", NULL);
}

static void parse(const char *arg, const char *id, const char *source,
		  const char *ref)
{
	struct layout_secondary s = LAYOUT_SECONDARY_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(layout_parse_secondary(arg, &s, &e), 0);
	assert_string_equal(s.id, id);
	assert_string_equal(s.source, source);
	if (ref)
		assert_string_equal(s.ref, ref);
	else
		assert_null(s.ref);
	layout_secondary_release(&s);
}

static void test_layout__secondary_source_arguments(void **state)
{
	struct layout_secondary s = LAYOUT_SECONDARY_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	parse("lib=../lib", "lib", "../lib", NULL);
	parse("lib=../lib@v2", "lib", "../lib", "v2");
	parse("src_2=git@github.com:o/r.git", "src_2", "git@github.com:o/r.git",
	      NULL);
	parse("x=git@github.com:o/r.git@main", "x", "git@github.com:o/r.git",
	      "main");
	parse("x=https://u@host/o/r", "x", "https://u@host/o/r", NULL);
	parse("x=https://u@host/o/r@feature/y", "x", "https://u@host/o/r",
	      "feature/y");
	parse("x=ssh://git@host:22/o/r", "x", "ssh://git@host:22/o/r", NULL);
	assert_int_equal(layout_parse_secondary("nolabel", &s, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	err_clear(&e);
	assert_int_equal(layout_parse_secondary("a-b=../x", &s, &e), -1);
	assert_non_null(strstr(e.msg, "'a-b'"));
	err_clear(&e);
	assert_int_equal(layout_parse_secondary("=../x", &s, &e), -1);
	err_clear(&e);
	assert_int_equal(layout_parse_secondary("a=", &s, &e), -1);
	assert_null(s.id);
}

static void test_layout__secondary_sources_once_each(void **state)
{
	struct layout_secondary *v = NULL;
	size_t nr = 0, alloc = 0;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(layout_add_secondary(&v, &nr, &alloc, "a=x", &e), 0);
	assert_int_equal(layout_add_secondary(&v, &nr, &alloc, "b=y@v1", &e),
			 0);
	assert_int_equal(layout_add_secondary(&v, &nr, &alloc, "a=z", &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(e.msg, "secondary source 'a' given twice");
	assert_int_equal(nr, 2);
	assert_string_equal(v[1].ref, "v1");
	layout_secondaries_free(v, nr);
	layout_secondaries_free(NULL, 0);
}

static void test_layout__overlaps(void **state)
{
	(void)state;
	assert_true(layout_overlaps("src", "src"));
	assert_true(layout_overlaps("src", "src/github.com/a/b"));
	assert_true(layout_overlaps("src/github.com/a/b", "src"));
	assert_false(
		layout_overlaps("src/github.com/a/b", "src/github.com/a/bc"));
	assert_false(layout_overlaps("secSrc/a", "src"));
}

static void test_layout__src_name(void **state)
{
	char *n = layout_src_name();

	(void)state;
	assert_true(!strncmp(n, "src", 3) && strlen(n) > 3);
	assert_int_equal(strspn(n + 3, "0123456789"), strlen(n) - 3);
	free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout__forge_urls_give_go_paths),
		cmocka_unit_test(test_layout__other_sources_keep_plain_src),
		cmocka_unit_test(test_layout__secondary_source_arguments),
		cmocka_unit_test(test_layout__secondary_sources_once_each),
		cmocka_unit_test(test_layout__overlaps),
		cmocka_unit_test(test_layout__src_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
