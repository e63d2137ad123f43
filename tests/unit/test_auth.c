#include "auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "login.h"
#include "banned.h"

static void test_auth__parse_names_and_comments(void **state)
{
	struct auth_tokens t = AUTH_TOKENS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *f = "# the team\n"
			"\n"
			"  aaaaaaaaaaaaaaaa   alice  \r\n"
			"bbbbbbbbbbbbbbbbbbbb\n"
			"\tcccccccccccccccc ci bot";

	(void)state;
	assert_int_equal(auth_parse(&t, "tokens", f, strlen(f), &e), 0);
	assert_int_equal(t.nr, 3);
	assert_string_equal(auth_check(&t, "aaaaaaaaaaaaaaaa"), "alice");
	assert_string_equal(auth_check(&t, "bbbbbbbbbbbbbbbbbbbb"), "token-4");
	assert_string_equal(auth_check(&t, "cccccccccccccccc"), "ci bot");
	auth_release(&t);
}

static void test_auth__check_refuses(void **state)
{
	struct auth_tokens t = AUTH_TOKENS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *f = "aaaaaaaaaaaaaaaa alice\n";

	(void)state;
	assert_int_equal(auth_parse(&t, "tokens", f, strlen(f), &e), 0);
	assert_null(auth_check(&t, NULL));
	assert_null(auth_check(&t, ""));
	assert_null(auth_check(&t, "aaaaaaaaaaaaaaa"));
	assert_null(auth_check(&t, "aaaaaaaaaaaaaaaaa"));
	assert_null(auth_check(&t, "aaaaaaaaaaaaaaaa alice"));
	assert_null(auth_check(NULL, "aaaaaaaaaaaaaaaa"));
	auth_release(&t);
}

static void test_auth__parse_errors(void **state)
{
	struct auth_tokens t = AUTH_TOKENS_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(auth_parse(&t, "tokens", "# none\n", 7, &e), -1);
	assert_string_equal(e.msg, "tokens: no token in the file");
	err_clear(&e);
	auth_release(&t);
	assert_int_equal(auth_parse(&t, "tokens", "ok\n", 3, &e), -1);
	assert_string_equal(e.msg, "tokens:1:1: a token is 16 to 256 "
				   "characters");
	assert_int_equal(e.code, ERR_SPEC);
	err_clear(&e);
	auth_release(&t);
	assert_int_equal(
		auth_parse(&t, "tokens",
			   "aaaaaaaaaaaaaaaa\n  bbbbbbbbbbbbbbb\xc3\xa9\n", 37,
			   &e),
		-1);
	assert_string_equal(e.msg, "tokens:2:18: a token is printable ASCII");
	auth_release(&t);
}

static void test_auth__generate(void **state)
{
	char *a = auth_generate(), *b = auth_generate();
	struct auth_tokens t = AUTH_TOKENS_INIT;

	(void)state;
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	for (const char *p = a; *p; p++)
		assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				   "qrstuvwxyz0123456789-_",
				   *p));
	auth_add(&t, a, "local");
	assert_string_equal(auth_check(&t, a), "local");
	assert_null(auth_check(&t, b));
	auth_release(&t);
	free(a);
	free(b);
}

static void test_login__form_field(void **state)
{
	const char *b = "next=%2Fexecutions%2Fpe-1&token=a+b%3Dc%25&x=";
	char *v;

	(void)state;
	v = login_form_field(b, strlen(b), "token");
	assert_string_equal(v, "a b=c%");
	free(v);
	v = login_form_field(b, strlen(b), "next");
	assert_string_equal(v, "/executions/pe-1");
	free(v);
	v = login_form_field(b, strlen(b), "x");
	assert_string_equal(v, "");
	free(v);
	assert_null(login_form_field(b, strlen(b), "tok"));
	/* a truncated escape is kept as it is */
	v = login_form_field("token=ab%4", 10, "token");
	assert_string_equal(v, "ab%4");
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth__parse_names_and_comments),
		cmocka_unit_test(test_auth__check_refuses),
		cmocka_unit_test(test_auth__parse_errors),
		cmocka_unit_test(test_auth__generate),
		cmocka_unit_test(test_login__form_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
