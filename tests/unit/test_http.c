#include "http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strvec.h"
#include "banned.h"

static void test_http__match_literal(void **state)
{
	(void)state;
	assert_true(http_match("/api/pipelines", "/api/pipelines", NULL));
	assert_false(http_match("/api/pipelines", "/api/pipelines/", NULL));
	assert_false(http_match("/api/pipelines", "/api/pipeline", NULL));
	assert_false(http_match("/api/pipelines", "/api/pipelinesx", NULL));
	assert_false(http_match("/api", "api", NULL));
}

static void test_http__match_captures(void **state)
{
	struct strvec caps = STRVEC_INIT;

	(void)state;
	assert_true(http_match("/api/executions/{}/approve",
			       "/api/executions/pe-1/approve", &caps));
	assert_int_equal(caps.nr, 1);
	assert_string_equal(caps.v[0], "pe-1");
	strvec_clear(&caps);
	/* a capture is one whole, non-empty segment */
	assert_false(
		http_match("/api/executions/{}", "/api/executions/", &caps));
	assert_false(
		http_match("/api/executions/{}", "/api/executions/a/b", &caps));
	/* a failed match leaves no capture behind */
	assert_false(http_match("/a/{}/b/{}/c", "/a/x/b/y/d", &caps));
	assert_int_equal(caps.nr, 0);
	assert_true(http_match("/a/{}/b/{}", "/a/x/b/y", &caps));
	assert_int_equal(caps.nr, 2);
	assert_string_equal(caps.v[1], "y");
	strvec_release(&caps);
}

static void test_http__match_rest(void **state)
{
	struct strvec caps = STRVEC_INIT;

	(void)state;
	assert_true(http_match("/files/*", "/files/a/b/c.txt", &caps));
	assert_string_equal(caps.v[0], "a/b/c.txt");
	strvec_clear(&caps);
	assert_true(http_match("/files/*", "/files/", &caps));
	assert_string_equal(caps.v[0], "");
	assert_false(http_match("/files/*", "/file", NULL));
	strvec_release(&caps);
}

static void test_http__parse_listen(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *a = NULL;
	unsigned short p = 0;

	(void)state;
	assert_int_equal(http_parse_listen("127.0.0.1:8080", &a, &p, &e), 0);
	assert_string_equal(a, "127.0.0.1");
	assert_int_equal(p, 8080);
	free(a);
	assert_int_equal(http_parse_listen("[::1]:0", &a, &p, &e), 0);
	assert_string_equal(a, "::1");
	assert_int_equal(p, 0);
	free(a);
	assert_int_equal(http_parse_listen(":9000", &a, &p, &e), 0);
	assert_null(a);
	assert_int_equal(p, 9000);
	assert_int_equal(http_parse_listen("9001", &a, &p, &e), 0);
	assert_int_equal(p, 9001);
	assert_int_equal(http_parse_listen("localhost:80", &a, &p, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	err_clear(&e);
	assert_int_equal(http_parse_listen("1.2.3.4:65536", &a, &p, &e), -1);
	err_clear(&e);
	assert_int_equal(http_parse_listen("1.2.3.4:", &a, &p, &e), -1);
	err_clear(&e);
	assert_int_equal(http_parse_listen("[::1:80", &a, &p, &e), -1);
	err_clear(&e);
}

static void test_http__loopback(void **state)
{
	(void)state;
	assert_true(http_is_loopback("127.0.0.1"));
	assert_true(http_is_loopback("127.1.2.3"));
	assert_true(http_is_loopback("::1"));
	assert_false(http_is_loopback("0.0.0.0"));
	assert_false(http_is_loopback("::"));
	assert_false(http_is_loopback("10.0.0.1"));
	assert_false(http_is_loopback("128.0.0.1"));
}

static void test_http__local_path(void **state)
{
	(void)state;
	assert_true(http_local_path("/"));
	assert_true(http_local_path("/executions/pe-1?x=1"));
	assert_false(http_local_path("//evil.example/"));
	assert_false(http_local_path("/\\evil.example/"));
	assert_false(http_local_path("https://evil.example/"));
	assert_false(http_local_path("/a\r\nSet-Cookie: x"));
	assert_false(http_local_path(""));
	assert_false(http_local_path(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http__match_literal),
		cmocka_unit_test(test_http__match_captures),
		cmocka_unit_test(test_http__match_rest),
		cmocka_unit_test(test_http__parse_listen),
		cmocka_unit_test(test_http__loopback),
		cmocka_unit_test(test_http__local_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
