#include "probe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banned.h"

static void test_probe__parse(void **state)
{
	struct probe_opts o;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(probe_parse("http://127.0.0.1:8080/", &o, &e), 0);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.path, "/");
	assert_int_equal(o.rate, PROBE_DEFAULT_RATE);
	assert_string_equal(o.url, "http://127.0.0.1:8080/");
	probe_opts_release(&o);

	assert_int_equal(probe_parse("http://lb.local/health?x=1,50", &o, &e),
			 0);
	assert_string_equal(o.host, "lb.local");
	assert_int_equal(o.port, 80);
	assert_string_equal(o.path, "/health?x=1");
	assert_int_equal(o.rate, 50);
	assert_string_equal(o.url, "http://lb.local/health?x=1");
	probe_opts_release(&o);

	err_clear(&e);
	assert_int_equal(probe_parse("https://a/", &o, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_non_null(strstr(e.msg, "is not an http:// URL"));
	err_clear(&e);
	assert_int_equal(probe_parse("http://a:0/", &o, &e), -1);
	assert_non_null(strstr(e.msg, "bad port"));
	err_clear(&e);
	assert_int_equal(probe_parse("http://a:70000/", &o, &e), -1);
	err_clear(&e);
	assert_int_equal(probe_parse("http://:80/", &o, &e), -1);
	assert_non_null(strstr(e.msg, "has no host"));
	err_clear(&e);
	assert_int_equal(probe_parse("http://a/,0", &o, &e), -1);
	assert_non_null(strstr(e.msg, "the rate must be 1 to 1000"));
	err_clear(&e);
	assert_int_equal(probe_parse("http://a/,2000", &o, &e), -1);
	err_clear(&e);
	assert_int_equal(probe_parse("http://a/,x", &o, &e), -1);
}

static void test_probe__tally(void **state)
{
	const char *log = "1000 OK 2 v1\n"
			  "1050 OK 1 v1\n"
			  "1100 FAIL 3 status 503 Service Unavailable\n"
			  "1150 FAIL 1000 no answer within 2 s\n"
			  "1200 OK 2 v2\n"
			  "1250 OK 2 v1\n"
			  "1300 OK 2 v2\n"
			  "1350 OK 2 v2\n"
			  "1400 OK 2 v"; /* cut short by the stop */
	struct probe_result r = PROBE_RESULT_INIT;

	(void)state;
	probe_tally(log, strlen(log), 990, 1380, &r);
	assert_int_equal(r.sent, 8);
	assert_int_equal(r.failed, 2);
	/* 1050 -> 1200 with nothing that succeeded between */
	assert_int_equal(r.longest_gap_ms, 150);
	assert_int_equal(r.nr_versions, 2);
	assert_string_equal(r.versions[0].version, "v1");
	assert_int_equal(r.versions[0].first_ms, 1000);
	assert_int_equal(r.versions[0].last_ms, 1250);
	assert_int_equal(r.versions[0].count, 3);
	assert_string_equal(r.versions[1].version, "v2");
	assert_int_equal(r.versions[1].first_ms, 1200);
	assert_int_equal(r.versions[1].last_ms, 1350);
	assert_int_equal(r.versions[1].count, 3);
	assert_int_equal(r.nr_failures, 2);
	assert_int_equal(r.failures[0].at_ms, 1100);
	assert_string_equal(r.failures[0].why,
			    "status 503 Service Unavailable");
	probe_result_release(&r);

	/* nothing succeeded: the gap is the whole probe */
	probe_tally("5 FAIL 1 connect: Connection refused\n", 37, 0, 700, &r);
	assert_int_equal(r.sent, 1);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.nr_versions, 0);
	assert_int_equal(r.longest_gap_ms, 700);
	probe_result_release(&r);

	/* a tail without success counts up to the end */
	probe_tally("10 OK 1 a\n", 10, 0, 500, &r);
	assert_int_equal(r.longest_gap_ms, 490);
	probe_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe__parse),
		cmocka_unit_test(test_probe__tally),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
