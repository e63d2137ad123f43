#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "envfile.h"
#include "err.h"
#include "strvec.h"
#include "xalloc.h"

struct vars {
	struct strvec names, values;
};

static int parse(struct vars *v, const char *text, struct sw_err *e)
{
	memset(v, 0, sizeof(*v));
	return envfile_parse("vars.env", text, strlen(text), &v->names,
			     &v->values, e);
}

static void vars_release(struct vars *v)
{
	strvec_release(&v->names);
	strvec_release(&v->values);
}

static void test_envfile__format(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct vars v;

	(void)state;
	assert_int_equal(parse(&v,
			       "# a comment\n"
			       "\n"
			       "   \t\n"
			       "  # indented comment\n"
			       "A=1\n"
			       "QUOTED=\"two words\"\n"
			       "SINGLE='x'\n"
			       "EQ=a=b==c\n"
			       "EMPTY=\n"
			       "  INDENTED= spaced value \r\n"
			       "HASH=#not a comment\n"
			       "_u9=last",
			       &e),
			 0);
	assert_int_equal(v.names.nr, 8);
	assert_string_equal(v.names.v[0], "A");
	assert_string_equal(v.values.v[0], "1");
	assert_string_equal(v.values.v[1], "\"two words\"");
	assert_string_equal(v.values.v[2], "'x'");
	assert_string_equal(v.names.v[3], "EQ");
	assert_string_equal(v.values.v[3], "a=b==c");
	assert_string_equal(v.values.v[4], "");
	assert_string_equal(v.names.v[5], "INDENTED");
	assert_string_equal(v.values.v[5], " spaced value ");
	assert_string_equal(v.values.v[6], "#not a comment");
	assert_string_equal(v.names.v[7], "_u9");
	assert_string_equal(v.values.v[7], "last");
	assert_null(v.names.v[8]);
	vars_release(&v);
}

static void test_envfile__last_value_wins(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct vars v;

	(void)state;
	assert_int_equal(parse(&v, "A=1\nB=2\nA=3\n", &e), 0);
	assert_int_equal(v.names.nr, 2);
	assert_string_equal(v.names.v[0], "A");
	assert_string_equal(v.values.v[0], "3");
	assert_string_equal(v.values.v[1], "2");
	vars_release(&v);
}

static void test_envfile__invalid_lines(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "A=1\nnoequals\n",
		  "vars.env:2: invalid line: expected NAME=VALUE" },
		{ "A=1\n\n# c\nB C=2\n",
		  "vars.env:4: invalid line: bad variable name 'B C': "
		  "expected NAME=VALUE" },
		{ "1A=x\n", "vars.env:1: invalid line: bad variable name "
			    "'1A': expected NAME=VALUE" },
		{ "=x\n", "vars.env:1: invalid line: bad variable name '': "
			  "expected NAME=VALUE" },
		{ "A-B=x\n", "vars.env:1: invalid line: bad variable name "
			     "'A-B': expected NAME=VALUE" },
		{ "NAME =x\n", "vars.env:1: invalid line: bad variable name "
			       "'NAME ': expected NAME=VALUE" },
		{ "export A=1\n", "vars.env:1: invalid line: bad variable "
				  "name 'export A': expected NAME=VALUE" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sw_err e = SW_ERR_INIT;
		struct vars v;

		assert_int_equal(parse(&v, cases[i].text, &e), -1);
		assert_int_equal(e.code, ERR_SPEC);
		assert_string_equal(e.msg, cases[i].msg);
		vars_release(&v);
	}
}

static void test_envfile__nul_byte(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct strvec n = STRVEC_INIT, val = STRVEC_INIT;

	(void)state;
	assert_int_equal(envfile_parse("f", "A=1\0B=2\n", 8, &n, &val, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_int_equal(n.nr, 0);
	strvec_release(&n);
	strvec_release(&val);
}

static void test_envfile__load_file(void **state)
{
	char dir[] = "/tmp/test_envfile.XXXXXX";
	struct sw_err e = SW_ERR_INIT;
	struct vars v = { STRVEC_INIT, STRVEC_INIT };
	char *path;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/vars.env", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("# env\r\nTOKEN=abc=\r\nURL=http://x/?a=b\n", f);
	fclose(f);
	assert_int_equal(envfile_load(path, &v.names, &v.values, &e), 0);
	assert_int_equal(v.names.nr, 2);
	assert_string_equal(v.values.v[0], "abc=");
	assert_string_equal(v.values.v[1], "http://x/?a=b");
	vars_release(&v);
	unlink(path);

	/* a missing file is a system error that names it */
	assert_int_equal(envfile_load(path, &v.names, &v.values, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "vars.env"));
	free(path);
	rmdir(dir);
}

static void test_envfile__assignment(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *name, *value;

	(void)state;
	assert_int_equal(env_parse_assignment("A_1=x=y z", &name, &value, &e),
			 0);
	assert_string_equal(name, "A_1");
	assert_string_equal(value, "x=y z");
	free(name);
	free(value);
	assert_int_equal(env_parse_assignment("EMPTY=", &name, &value, &e), 0);
	assert_string_equal(value, "");
	free(name);
	free(value);

	assert_int_equal(env_parse_assignment("NOVALUE", &name, &value, &e),
			 -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(e.msg, "invalid environment assignment "
				   "'NOVALUE': expected NAME=VALUE");
	assert_null(name);
	assert_null(value);
	err_clear(&e);
	assert_int_equal(env_parse_assignment("s3cr3t!", &name, &value, &e),
			 -1);
	assert_null(strstr(e.msg, "s3cr3t"));
	err_clear(&e);
	assert_int_equal(env_parse_assignment("9X=1", &name, &value, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	err_clear(&e);
	assert_int_equal(env_parse_assignment("=1", &name, &value, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envfile__format),
		cmocka_unit_test(test_envfile__last_value_wins),
		cmocka_unit_test(test_envfile__invalid_lines),
		cmocka_unit_test(test_envfile__nul_byte),
		cmocka_unit_test(test_envfile__load_file),
		cmocka_unit_test(test_envfile__assignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
