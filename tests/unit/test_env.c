#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "env.h"

static void test_env__set_get_unset(void **state)
{
	struct strvec env = STRVEC_INIT;

	(void)state;
	env_set(&env, "A", "1");
	env_set(&env, "AB", "2");
	env_set(&env, "A", "3");
	assert_int_equal(env.nr, 2);
	assert_string_equal(env_get(&env, "A"), "3");
	assert_string_equal(env_get(&env, "AB"), "2");
	assert_null(env_get(&env, "ABC"));
	env_unset(&env, "A");
	assert_null(env_get(&env, "A"));
	assert_string_equal(env.v[0], "AB=2");
	assert_null(env.v[1]);
	strvec_release(&env);
}

static void test_env__clean_base(void **state)
{
	const char *from[] = { "PATH=/p", "HOME=/h", "SECRET=x", "LANG=C",
			       NULL };
	struct strvec env = STRVEC_INIT;

	(void)state;
	env_base(&env, false, from);
	assert_string_equal(env_get(&env, "PATH"), "/p");
	assert_string_equal(env_get(&env, "HOME"), "/h");
	assert_null(env_get(&env, "SECRET"));
	strvec_release(&env);
	env_base(&env, true, from);
	assert_string_equal(env_get(&env, "SECRET"), "x");
	strvec_release(&env);
}

static void test_env__default_path(void **state)
{
	const char *from[] = { NULL };
	struct strvec env = STRVEC_INIT;

	(void)state;
	env_base(&env, false, from);
	assert_non_null(strstr(env_get(&env, "PATH"), "/usr/bin"));
	strvec_release(&env);
}

static void test_env__region(void **state)
{
	const char *none[] = { NULL };
	const char *def[] = { "AWS_DEFAULT_REGION=eu-west-1", NULL };
	const char *both[] = { "AWS_DEFAULT_REGION=eu-west-1",
			       "AWS_REGION=ap-south-1", NULL };

	(void)state;
	assert_string_equal(env_region(none), "us-east-1");
	assert_string_equal(env_region(def), "eu-west-1");
	assert_string_equal(env_region(both), "ap-south-1");
}

static void test_env__codebuild_variables(void **state)
{
	struct strvec env = STRVEC_INIT;
	struct env_codebuild cb = { 0 };

	(void)state;
	cb.build_id = "p:u";
	cb.build_arn = "arn:aws:codebuild:us-east-1:000000000000:build/p:u";
	cb.build_number = 7;
	cb.src_dir = "/s";
	cb.start_ms = 1700000000123LL;
	cb.initiator = "me";
	cb.region = "us-east-1";
	cb.log_path = "u";
	env_add_codebuild(&env, &cb);
	assert_string_equal(env_get(&env, "CODEBUILD_BUILD_ID"), "p:u");
	assert_string_equal(env_get(&env, "CODEBUILD_BUILD_NUMBER"), "7");
	assert_string_equal(env_get(&env, "CODEBUILD_START_TIME"),
			    "1700000000123");
	assert_string_equal(env_get(&env, "CODEBUILD_BUILD_SUCCEEDING"), "1");
	assert_string_equal(env_get(&env, "CODEBUILD_LOCAL_BUILD"), "true");
	assert_string_equal(env_get(&env, "AWS_DEFAULT_REGION"), "us-east-1");
	/* not a git source: not set at all */
	assert_null(env_get(&env, "CODEBUILD_RESOLVED_SOURCE_VERSION"));
	/* CodeBuild's default artifact key in the fake account; no URL
	 * given, none set; never a public URL */
	assert_string_equal(env_get(&env, "CODEBUILD_KMS_KEY_ID"),
			    "arn:aws:kms:us-east-1:000000000000:alias/aws/s3");
	assert_null(env_get(&env, "CODEBUILD_BUILD_URL"));
	assert_null(env_get(&env, "CODEBUILD_PUBLIC_BUILD_URL"));
	strvec_release(&env);

	strvec_init(&env);
	cb.region = "eu-west-3";
	cb.build_url = "file:///st/builds/p-u/report.html";
	env_add_codebuild(&env, &cb);
	assert_string_equal(env_get(&env, "CODEBUILD_BUILD_URL"),
			    "file:///st/builds/p-u/report.html");
	assert_string_equal(env_get(&env, "CODEBUILD_KMS_KEY_ID"),
			    "arn:aws:kms:eu-west-3:000000000000:alias/aws/s3");
	strvec_release(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env__set_get_unset),
		cmocka_unit_test(test_env__clean_base),
		cmocka_unit_test(test_env__default_path),
		cmocka_unit_test(test_env__region),
		cmocka_unit_test(test_env__codebuild_variables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
