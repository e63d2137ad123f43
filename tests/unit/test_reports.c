#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "buildspec.h"
#include "fs.h"
#include "log.h"
#include "mask.h"
#include "reports.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define FIXTURES "tests/fixtures/reports"

struct fixture {
	char top[64];
	char *src;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct sw_err e = SW_ERR_INIT;

	snprintf(f->top, sizeof(f->top), "/tmp/sw-reports-XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	f->src = fs_join(f->top, "src");
	if (fs_mkdir_p(f->src, 0755, &e) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	fs_remove_tree(f->top, &e);
	free(f->src);
	free(f);
	return 0;
}

static void put_data(const char *dir, const char *rel, const char *data,
		     size_t len)
{
	char *path = fs_join(dir, rel);
	char *slash = strrchr(path, '/');
	struct sw_err e = SW_ERR_INIT;
	int fd;

	*slash = '\0';
	assert_int_equal(fs_mkdir_p(path, 0755, &e), 0);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

/* Copy fixture `name` to dir/rel. */
static void put(const char *dir, const char *rel, const char *name)
{
	char *path = fs_join(FIXTURES, name);
	struct sw_err e = SW_ERR_INIT;
	char *data;
	size_t len;

	assert_int_equal(fs_read_file(path, 1 << 20, &data, &len, &e), 0);
	put_data(dir, rel, data, len);
	free(data);
	free(path);
}

/* Process one group; base may be NULL. */
static void run_base(const char *src, const char *fmt, const char *pattern,
		     const char *base, struct report_result *r)
{
	struct bs_report_group g = { 0 };
	struct sw_err e = SW_ERR_INIT;

	g.name = xstrdup("unit");
	strvec_push(&g.files, pattern);
	g.base_directory = xstrdup_or_null(base);
	g.file_format = xstrdup_or_null(fmt);
	assert_int_equal(reports_process(&g, src, r, &e), 0);
	free(g.name);
	strvec_release(&g.files);
	free(g.base_directory);
	free(g.file_format);
}

static void run(const char *src, const char *fmt, const char *pattern,
		struct report_result *r)
{
	run_base(src, fmt, pattern, NULL, r);
}

/* One fixture as the only report of a group. */
static void run_one(struct fixture *f, const char *fmt, const char *name,
		    struct report_result *r)
{
	put(f->src, name, name);
	run(f->src, fmt, name, r);
}

static void check_counts(const struct report_result *r, uint64_t total,
			 uint64_t ok, uint64_t failed, uint64_t skipped,
			 uint64_t error)
{
	assert_int_equal(r->total, total);
	assert_int_equal(r->counts[REPORT_CASE_SUCCEEDED], ok);
	assert_int_equal(r->counts[REPORT_CASE_FAILED], failed);
	assert_int_equal(r->counts[REPORT_CASE_SKIPPED], skipped);
	assert_int_equal(r->counts[REPORT_CASE_ERROR], error);
}

static bool has_warning(const struct report_result *r, const char *sub)
{
	for (size_t i = 0; i < r->warnings.nr; i++)
		if (strstr(r->warnings.v[i], sub))
			return true;
	return false;
}

static void check_failure(const struct report_result *r, size_t i,
			  const char *suite, const char *name,
			  const char *message, enum report_case_status st)
{
	assert_true(i < r->nr_failures);
	assert_string_equal(r->failures[i].suite, suite);
	assert_string_equal(r->failures[i].name, name);
	assert_string_equal(r->failures[i].message, message);
	assert_int_equal(r->failures[i].status, st);
}

/* The whole result as JSON text, for searching; caller frees. */
static char *dump(const struct report_result *r, const struct mask *m)
{
	json_object *o = reports_json(r, m);
	char *s = xstrdup(json_object_to_json_string(o));

	json_object_put(o);
	return s;
}

/* ---- JUnit ---- */

static void test_reports__pytest(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "reports/pytest.xml", "pytest.xml");
	run(f->src, "JUNITXML", "reports/*.xml", &r);
	assert_int_equal(r.type, REPORT_TEST);
	assert_int_equal(r.status, REPORT_FAILED);
	assert_int_equal(r.files.nr, 1);
	assert_string_equal(r.files.v[0], "reports/pytest.xml");
	assert_int_equal(r.files_parsed, 1);
	check_counts(&r, 7, 3, 1, 2, 1);
	assert_int_equal(r.duration_ns, 517000000);
	assert_int_equal(r.nr_failures, 2);
	check_failure(&r, 0, "tests.test_math.TestDiv", "test_div_by_zero",
		      "ZeroDivisionError: division by zero",
		      REPORT_CASE_FAILED);
	check_failure(&r, 1, "tests.test_db", "test_connect",
		      "failed on setup with \"ConnectionRefusedError: "
		      "[Errno 111] Connection refused\"",
		      REPORT_CASE_ERROR);
	assert_int_equal(r.warnings.nr, 0);
	reports_result_release(&r);
}

static void test_reports__surefire(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src,
	    "target/surefire-reports/TEST-com.example.CalculatorTest.xml",
	    "surefire.xml");
	/* file-format NULL is JUNITXML */
	run(f->src, NULL, "target/surefire-reports/TEST-*.xml", &r);
	assert_string_equal(r.file_format, "JUNITXML");
	/* flakyFailure passed on a rerun */
	check_counts(&r, 5, 2, 1, 1, 1);
	/* "1,230.001" is 1230 seconds */
	assert_int_equal(r.duration_ns, 1230217000000ULL);
	check_failure(&r, 0, "com.example.CalculatorTest", "dividesByZero",
		      "expected: <0> but was: <1>", REPORT_CASE_FAILED);
	check_failure(&r, 1, "com.example.CalculatorTest", "readsConfig",
		      "config.properties (No such file or directory)",
		      REPORT_CASE_ERROR);
	assert_int_equal(r.status, REPORT_FAILED);
	reports_result_release(&r);
}

static void test_reports__jest_junit(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JUNITXML", "jest-junit.xml", &r);
	check_counts(&r, 4, 2, 1, 1, 0);
	assert_int_equal(r.duration_ns, 16000000);
	/* no message attribute: the first line of the text */
	check_failure(&r, 0, "sum", "sum handles negatives",
		      "Error: expect(received).toBe(expected) // Object.is "
		      "equality",
		      REPORT_CASE_FAILED);
	reports_result_release(&r);
}

static void test_reports__go_junit_report(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	/* its <testsuites tests="9"> is not believed */
	run_one(f, "JUNITXML", "go-junit-report.xml", &r);
	check_counts(&r, 4, 1, 1, 1, 1);
	assert_int_equal(r.duration_ns, 1000000);
	check_failure(&r, 0, "github.com/acme/widget", "TestParse/empty_input",
		      "parse_test.go:31: got \"x\", want \"\"",
		      REPORT_CASE_FAILED);
	check_failure(&r, 1, "github.com/acme/widget/store", "[build failed]",
		      "Build error", REPORT_CASE_ERROR);
	reports_result_release(&r);
}

static void test_reports__gotestsum(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JUNITXML", "gotestsum.xml", &r);
	check_counts(&r, 3, 1, 1, 1, 0);
	assert_int_equal(r.duration_ns, 50000000);
	check_failure(&r, 0, "example.com/pkg", "TestB", "b_test.go:9: boom",
		      REPORT_CASE_FAILED);
	reports_result_release(&r);
}

static void test_reports__nested_suites(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JUNITXML", "phpunit-nested.xml", &r);
	check_counts(&r, 3, 2, 1, 0, 0);
	assert_int_equal(r.duration_ns, 21000000);
	/* no classname: the enclosing suite */
	check_failure(
		&r, 0, "Tests\\Unit\\CartTest::testTotal",
		"testTotal with data set #1",
		"Tests\\Unit\\CartTest::testTotal with data set #1 (2, 3)",
		REPORT_CASE_FAILED);
	reports_result_release(&r);
}

static void test_reports__several_files(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "out/py/junit.xml", "pytest.xml");
	put(f->src, "out/java/TEST-Calc.xml", "surefire.xml");
	put(f->src, "out/java/notes.txt", "pytest.xml");
	run_base(f->src, "JUNITXML", "**/*.xml", "out", &r);
	assert_int_equal(r.files.nr, 2);
	assert_string_equal(r.files.v[0], "out/java/TEST-Calc.xml");
	assert_string_equal(r.files.v[1], "out/py/junit.xml");
	assert_int_equal(r.files_parsed, 2);
	check_counts(&r, 12, 5, 2, 3, 2);
	assert_int_equal(r.duration_ns, 1230217000000ULL + 517000000);
	assert_int_equal(r.nr_failures, 4);
	reports_result_release(&r);
}

static void test_reports__all_passed(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	const char *xml = "<testsuite name=\"s\"><testcase name=\"a\"/>"
			  "<testcase name=\"b\" time=\"2\"><skipped/>"
			  "</testcase></testsuite>";

	put_data(f->src, "r.xml", xml, strlen(xml));
	run(f->src, "JUNITXML", "r.xml", &r);
	check_counts(&r, 2, 1, 0, 1, 0);
	assert_int_equal(r.duration_ns, 2000000000ULL);
	assert_int_equal(r.status, REPORT_SUCCEEDED);
	assert_int_equal(r.nr_failures, 0);
	reports_result_release(&r);
}

static void test_reports__failure_cap_and_truncation(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct buf b = BUF_INIT;

	buf_addstr(&b, "<testsuites><testsuite name=\"big\">");
	for (int i = 0; i < 25; i++) {
		buf_addf(&b, "<testcase classname=\"C\" name=\"t%d\">", i);
		buf_addstr(&b, "<failure message=\"x");
		/* 2-byte characters from byte 1: 300 falls inside one */
		for (int j = 0; j < 400; j++)
			buf_addstr(&b, "\xc3\xa9");
		buf_addstr(&b, "&#10;second line\"/></testcase>");
	}
	buf_addstr(&b, "</testsuite></testsuites>");
	put_data(f->src, "r.xml", b.ptr, b.len);
	buf_release(&b);
	run(f->src, "JUNITXML", "r.xml", &r);
	check_counts(&r, 25, 0, 25, 0, 0);
	assert_int_equal(r.nr_failures, REPORTS_MAX_FAILURES);
	assert_string_equal(r.failures[19].name, "t19");
	assert_int_equal(strlen(r.failures[0].message), 299);
	assert_int_equal((unsigned char)r.failures[0].message[297], 0xc3);
	assert_null(strstr(r.failures[0].message, "second"));
	reports_result_release(&r);
}

/* ---- what finds no reports ---- */

static void test_reports__no_files(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run(f->src, "JUNITXML", "reports/*.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_int_equal(r.files.nr, 0);
	assert_true(has_warning(&r, "no report files found"));
	reports_result_release(&r);
}

static void test_reports__unknown_format(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "pytest.xml", "pytest.xml");
	run(f->src, "TAPV13", "pytest.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_int_equal(r.total, 0);
	assert_true(has_warning(&r, "unknown report file format 'TAPV13'"));
	reports_result_release(&r);
}

static void test_reports__wrong_root(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JUNITXML", "jacoco.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_int_equal(r.files_parsed, 0);
	assert_true(has_warning(
		&r, "jacoco.xml:1: not a JUNITXML report (root element "
		    "<report>)"));
	reports_result_release(&r);
}

static void test_reports__malformed(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "r/a-malformed.xml", "malformed.xml");
	put(f->src, "r/b-jest.xml", "jest-junit.xml");
	run(f->src, "JUNITXML", "r/*.xml", &r);
	assert_int_equal(r.files.nr, 2);
	assert_int_equal(r.files_parsed, 1);
	assert_true(has_warning(&r, "r/a-malformed.xml:5: malformed XML: "
				    "Opening and ending tag mismatch"));
	/* the good file still counts */
	check_counts(&r, 4, 2, 1, 1, 0);
	assert_int_equal(r.status, REPORT_FAILED);
	reports_result_release(&r);

	put(f->src, "only/malformed.xml", "malformed.xml");
	run(f->src, "JUNITXML", "only/*.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_int_equal(r.total, 0);
	reports_result_release(&r);
}

static void test_reports__empty_file(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "empty.xml", "empty.xml");
	put_data(f->src, "blank.xml", "\n  \n", 4);
	run(f->src, "JUNITXML", "*.xml", &r);
	assert_int_equal(r.files.nr, 2);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_true(has_warning(&r, "empty.xml: empty file, skipped"));
	assert_true(has_warning(&r, "blank.xml: empty file, skipped"));
	reports_result_release(&r);
}

static void test_reports__billion_laughs(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct timespec t0, t1;
	char *s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_one(f, "JUNITXML", "billion-laughs.xml", &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	/* whatever libxml2 makes of it, nothing was expanded */
	s = dump(&r, NULL);
	assert_null(strstr(s, "lollol"));
	assert_true(strlen(s) < 4096);
	free(s);
	assert_true(r.files_parsed == 0 || r.total == 1);
	reports_result_release(&r);
}

static void test_reports__external_entity(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	/* an external parameter entity that would define &inner; */
	const char *pe = "<?xml version=\"1.0\"?>\n"
			 "<!DOCTYPE testsuite [\n"
			 "  <!ENTITY % dtd SYSTEM \"evil.dtd\">\n"
			 "  %dtd;\n"
			 "]>\n"
			 "<testsuite name=\"s\"><testcase name=\"n\">"
			 "<failure>&inner;</failure></testcase></testsuite>\n";
	/* an external entity in an attribute is not well-formed */
	const char *at =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE testsuite [\n"
		"  <!ENTITY local SYSTEM \"secret.txt\">\n"
		"]>\n"
		"<testsuite name=\"s\"><testcase name=\"n\">"
		"<failure message=\"&local;\"/></testcase></testsuite>";
	const char *dtd = "<!ENTITY inner \"LEAKED-FROM-DTD\">";
	char *s;

	/* entities in text are left out, never loaded */
	run_one(f, "JUNITXML", "xxe.xml", &r);
	check_counts(&r, 2, 1, 1, 0, 0);
	check_failure(&r, 0, "a.B", "leak", "after", REPORT_CASE_FAILED);
	s = dump(&r, NULL);
	assert_null(strstr(s, "root:"));
	free(s);
	reports_result_release(&r);

	put_data(f->src, "secret.txt", "LEAKED-FROM-FILE", 16);
	put_data(f->src, "evil.dtd", dtd, strlen(dtd));
	put_data(f->src, "pe.xml", pe, strlen(pe));
	run(f->src, "JUNITXML", "pe.xml", &r);
	assert_true(has_warning(&r, "pe.xml:6: malformed XML: Entity 'inner' "
				    "not defined"));
	s = dump(&r, NULL);
	assert_null(strstr(s, "LEAKED"));
	free(s);
	reports_result_release(&r);

	put_data(f->src, "at.xml", at, strlen(at));
	run(f->src, "JUNITXML", "at.xml", &r);
	assert_true(has_warning(&r, "at.xml:5: malformed XML: Attribute "
				    "references external entity 'local'"));
	s = dump(&r, NULL);
	assert_null(strstr(s, "LEAKED"));
	free(s);
	reports_result_release(&r);
}

static void test_reports__deep_nesting(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct buf b = BUF_INIT;

	/* deeper than libxml2 allows: a warning, no crash */
	for (int i = 0; i < 100000; i++)
		buf_addstr(&b, "<testsuite>");
	put_data(f->src, "deep/r.xml", b.ptr, b.len);
	buf_clear(&b);
	run(f->src, "JUNITXML", "deep/r.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_true(has_warning(&r, "deep/r.xml:1: malformed XML"));
	reports_result_release(&r);

	/* deep but allowed: found */
	buf_addstr(&b, "<testsuites>");
	for (int i = 0; i < 200; i++)
		buf_addf(&b, "<testsuite name=\"s%d\">", i);
	buf_addstr(&b, "<testcase name=\"t\"><error/></testcase>");
	for (int i = 0; i < 200; i++)
		buf_addstr(&b, "</testsuite>");
	buf_addstr(&b, "</testsuites>");
	put_data(f->src, "ok/r.xml", b.ptr, b.len);
	buf_release(&b);
	run(f->src, "JUNITXML", "ok/r.xml", &r);
	check_counts(&r, 1, 0, 0, 0, 1);
	assert_string_equal(r.failures[0].suite, "s199");
	reports_result_release(&r);
}

static void test_reports__latin1(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JUNITXML", "latin1.xml", &r);
	assert_int_equal(r.files_parsed, 1);
	assert_true(has_warning(&r, "latin1.xml: not valid UTF-8, read as "
				    "ISO-8859-1"));
	check_failure(&r, 0, "de.K\xc3\xa4se", "m\xc3\xbcnchen",
		      "Erwartet: \xc2\xbb"
		      "caf\xc3\xa9\xc2\xab",
		      REPORT_CASE_FAILED);
	reports_result_release(&r);

	run_one(f, "JUNITXML", "latin1-declared.xml", &r);
	assert_int_equal(r.warnings.nr, 0);
	check_failure(&r, 0, "de.K\xc3\xa4se", "m\xc3\xbcnchen",
		      "Erwartet: \xc2\xbb"
		      "caf\xc3\xa9\xc2\xab",
		      REPORT_CASE_FAILED);
	reports_result_release(&r);
}

static void test_reports__too_large(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	char *path = fs_join(f->src, "huge.xml");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)REPORTS_MAX_FILE + 1), 0);
	close(fd);
	run(f->src, "JUNITXML", "huge.xml", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_true(has_warning(&r, "huge.xml: larger than 64 MiB, skipped"));
	reports_result_release(&r);
	free(path);
}

static void test_reports__refused_path(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	char *link = fs_join(f->src, "r/z-link.xml");

	put(f->src, "r/a.xml", "jest-junit.xml");
	put(f->top, "outside.xml", "pytest.xml");
	assert_int_equal(symlink("../../outside.xml", link), 0);
	run(f->src, "JUNITXML", "r/*.xml", &r);
	assert_true(has_warning(&r, "outside the source directory"));
	/* what came before the refused file is read */
	assert_int_equal(r.files_parsed, 1);
	assert_int_equal(r.total, 4);
	reports_result_release(&r);
	free(link);
}

static void test_reports__discard_paths(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct bs_report_group g = { 0 };
	struct sw_err e = SW_ERR_INIT;

	put(f->src, "a/junit.xml", "jest-junit.xml");
	put(f->src, "b/junit.xml", "pytest.xml");
	g.name = (char *)"unit";
	strvec_push(&g.files, "**/junit.xml");
	g.discard_paths = true;
	g.file_format = (char *)"JUNITXML";
	assert_int_equal(reports_process(&g, f->src, &r, &e), 0);
	/* the artifact rule: the first file to claim a name wins */
	assert_int_equal(r.files.nr, 1);
	assert_string_equal(r.files.v[0], "a/junit.xml");
	assert_int_equal(r.total, 4);
	strvec_release(&g.files);
	reports_result_release(&r);
}

static void test_reports__missing_srcdir(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct bs_report_group g = { 0 };
	struct sw_err e = SW_ERR_INIT;
	char *gone = fs_join(f->top, "gone");

	g.name = (char *)"unit";
	strvec_push(&g.files, "*.xml");
	assert_int_equal(reports_process(&g, gone, &r, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "report group 'unit'"));
	strvec_release(&g.files);
	reports_result_release(&r);
	free(gone);
}

/* ---- other test formats ---- */

static void test_reports__nunit2(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "NUNITXML", "nunit2.xml", &r);
	check_counts(&r, 5, 2, 1, 1, 1);
	assert_int_equal(r.duration_ns, 101000000);
	check_failure(&r, 0, "Shop.CartTests", "AddsTax(0.1,111)",
		      "Expected: 110", REPORT_CASE_FAILED);
	check_failure(&r, 1, "Shop.CartTests", "LoadsPrices",
		      "System.IO.FileNotFoundException : prices.csv",
		      REPORT_CASE_ERROR);
	reports_result_release(&r);
}

static void test_reports__nunit3(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "NUNIT3XML", "nunit3.xml", &r);
	check_counts(&r, 5, 2, 1, 1, 1);
	assert_int_equal(r.duration_ns, 100000000);
	check_failure(&r, 0, "Shop.CartTests", "AddsTax(0.1m,111)",
		      "Expected: 110", REPORT_CASE_FAILED);
	check_failure(&r, 1, "Shop.CartTests", "LoadsPrices",
		      "System.IO.FileNotFoundException : Could not find file "
		      "'/app/prices.csv'.",
		      REPORT_CASE_ERROR);
	reports_result_release(&r);
}

static void test_reports__testng(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	/* the configuration method setUp is not a test */
	run_one(f, "TESTNGXML", "testng.xml", &r);
	check_counts(&r, 4, 2, 1, 1, 0);
	assert_int_equal(r.duration_ns, 1015000000);
	check_failure(&r, 0, "com.example.CartTest", "addsTax",
		      "expected [110] but found [111]", REPORT_CASE_FAILED);
	reports_result_release(&r);
}

static void test_reports__trx(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "VISUALSTUDIOTRX", "results.trx", &r);
	check_counts(&r, 4, 1, 1, 1, 1);
	assert_int_equal(r.duration_ns, 61511001000ULL);
	check_failure(&r, 0, "Shop.CartTests", "AddsTax(0.1, 111)",
		      "Assert.Equal() Failure", REPORT_CASE_FAILED);
	check_failure(&r, 1, "Shop.StoreTests", "Loads", "", REPORT_CASE_ERROR);
	reports_result_release(&r);
}

static void test_reports__cucumber(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "CUCUMBERJSON", "cucumber.json", &r);
	check_counts(&r, 4, 1, 1, 1, 0);
	assert_int_equal(r.counts[REPORT_CASE_UNKNOWN], 1);
	assert_int_equal(r.duration_ns, 14500000);
	check_failure(&r, 0, "Shopping cart", "Tax is added",
		      "AssertionError: expected 10 to equal 11",
		      REPORT_CASE_FAILED);
	assert_int_equal(r.status, REPORT_FAILED);
	reports_result_release(&r);

	put_data(f->src, "bad.json", "[{\"elements\": [\n{]", 18);
	run(f->src, "CUCUMBERJSON", "bad.json", &r);
	assert_int_equal(r.status, REPORT_INCOMPLETE);
	assert_true(has_warning(&r, "bad.json:2: malformed JSON"));
	reports_result_release(&r);
}

/* ---- coverage ---- */

static void check_coverage(const struct report_result *r, uint64_t lc,
			   uint64_t lm, uint64_t bc, uint64_t bm,
			   double line_pct, double branch_pct)
{
	assert_int_equal(r->type, REPORT_CODE_COVERAGE);
	assert_int_equal(r->status, REPORT_SUCCEEDED);
	assert_int_equal(r->lines_covered, lc);
	assert_int_equal(r->lines_missed, lm);
	assert_int_equal(r->branches_covered, bc);
	assert_int_equal(r->branches_missed, bm);
	assert_true(r->line_pct > line_pct - 0.01 &&
		    r->line_pct < line_pct + 0.01);
	assert_true(r->branch_pct > branch_pct - 0.01 &&
		    r->branch_pct < branch_pct + 0.01);
}

static void test_reports__cobertura_coveragepy(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	/* the totals, not the one class listed */
	run_one(f, "COBERTURAXML", "cobertura-coveragepy.xml", &r);
	check_coverage(&r, 100, 20, 30, 10, 83.33, 75.0);
	reports_result_release(&r);
}

static void test_reports__cobertura_maven(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	/* no totals: class lines counted once, not again per method; the
	 * DTD on the network is not fetched */
	run_one(f, "COBERTURAXML", "cobertura-maven.xml", &r);
	check_coverage(&r, 4, 2, 3, 1, 66.67, 75.0);
	assert_int_equal(r.warnings.nr, 0);
	reports_result_release(&r);
}

static void test_reports__cobertura_sum(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	put(f->src, "cov/a.xml", "cobertura-coveragepy.xml");
	put(f->src, "cov/b.xml", "cobertura-maven.xml");
	run(f->src, "COBERTURAXML", "cov/*.xml", &r);
	check_coverage(&r, 104, 22, 33, 11, 82.54, 75.0);
	reports_result_release(&r);
}

static void test_reports__jacoco(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "JACOCOXML", "jacoco.xml", &r);
	check_coverage(&r, 8, 2, 5, 3, 80.0, 62.5);
	reports_result_release(&r);
}

static void test_reports__clover(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "CLOVERXML", "clover.xml", &r);
	check_coverage(&r, 27, 3, 6, 4, 90.0, 60.0);
	reports_result_release(&r);
}

static void test_reports__simplecov(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;

	run_one(f, "SIMPLECOV", "simplecov-json.json", &r);
	check_coverage(&r, 10, 2, 0, 0, 83.33, 0.0);
	reports_result_release(&r);

	run_one(f, "SIMPLECOV", "simplecov-resultset.json", &r);
	check_coverage(&r, 5, 2, 0, 0, 71.43, 0.0);
	reports_result_release(&r);
}

/* ---- output ---- */

static void test_reports__json(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct mask m = MASK_INIT;
	json_object *o, *v, *s;
	char *text;

	run_one(f, "JUNITXML", "pytest.xml", &r);
	mask_add(&m, "Connection refused");
	o = reports_json(&r, &m);
	assert_true(json_object_object_get_ex(o, "name", &v));
	assert_string_equal(json_object_get_string(v), "unit");
	assert_true(json_object_object_get_ex(o, "reportGroupName", &v));
	assert_string_equal(json_object_get_string(v), "unit");
	assert_true(json_object_object_get_ex(o, "type", &v));
	assert_string_equal(json_object_get_string(v), "TEST");
	assert_true(json_object_object_get_ex(o, "fileFormat", &v));
	assert_string_equal(json_object_get_string(v), "JUNITXML");
	assert_true(json_object_object_get_ex(o, "status", &v));
	assert_string_equal(json_object_get_string(v), "FAILED");
	assert_false(json_object_object_get_ex(o, "codeCoverageSummary", &v));
	assert_true(json_object_object_get_ex(o, "testSummary", &s));
	assert_true(json_object_object_get_ex(s, "total", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(s, "durationInNanoSeconds", &v));
	assert_int_equal(json_object_get_int64(v), 517000000);
	assert_true(json_object_object_get_ex(s, "statusCounts", &s));
	assert_true(json_object_object_get_ex(s, "SKIPPED", &v));
	assert_int_equal(json_object_get_int64(v), 2);
	assert_true(json_object_object_get_ex(s, "ERROR", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(o, "failures", &s));
	assert_int_equal(json_object_array_length(s), 2);
	v = json_object_array_get_idx(s, 1);
	assert_true(json_object_object_get_ex(v, "message", &v));
	assert_string_equal(json_object_get_string(v),
			    "failed on setup with \"ConnectionRefusedError: "
			    "[Errno 111] ***\"");
	assert_true(json_object_object_get_ex(o, "files", &s));
	assert_string_equal(
		json_object_get_string(json_object_array_get_idx(s, 0)),
		"pytest.xml");
	json_object_put(o);
	reports_result_release(&r);

	run_one(f, "JACOCOXML", "jacoco.xml", &r);
	free(r.name);
	r.name = xstrdup("arn:aws:codebuild:us-east-1:123456789012:"
			 "report-group/coverage");
	text = dump(&r, NULL);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "reportGroupName", &v));
	assert_string_equal(json_object_get_string(v), "coverage");
	assert_true(json_object_object_get_ex(o, "type", &v));
	assert_string_equal(json_object_get_string(v), "CODE_COVERAGE");
	assert_false(json_object_object_get_ex(o, "testSummary", &v));
	assert_true(json_object_object_get_ex(o, "codeCoverageSummary", &s));
	assert_true(json_object_object_get_ex(s, "lineCoveragePercentage", &v));
	assert_true(json_object_get_double(v) > 79.99 &&
		    json_object_get_double(v) < 80.01);
	assert_true(json_object_object_get_ex(s, "branchesMissed", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	assert_non_null(strstr(text, "\"branchCoveragePercentage\": 62.50"));
	json_object_put(o);
	free(text);
	reports_result_release(&r);
	mask_release(&m);
}

/* What reports_log() wrote, without the agent prefix; caller frees. */
static char *log_of(const struct report_result *r, const char *dir)
{
	char *path = fs_join(dir, "build.log");
	struct sw_err e = SW_ERR_INIT;
	struct log lg;
	struct buf out = BUF_INIT;
	char *data, *line, *save = NULL;
	size_t len;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	log_init(&lg, -1, fd, NULL);
	reports_log(r, &lg);
	log_release(&lg);
	close(fd);
	assert_int_equal(fs_read_file(path, 1 << 20, &data, &len, &e), 0);
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		/* "[Container] YYYY/MM/DD HH:MM:SS.uuuuuu " */
		assert_true(strlen(line) > 39);
		assert_memory_equal(line, "[Container] ", 12);
		buf_addstr(&out, line + 39);
		buf_addch(&out, '\n');
	}
	free(data);
	free(path);
	return buf_detach(&out);
}

static void test_reports__log(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	char *text;

	run_one(f, "JUNITXML", "pytest.xml", &r);
	text = log_of(&r, f->top);
	assert_string_equal(
		text, "Report group unit: 7 tests, 3 passed, 1 failed, "
		      "2 skipped, 1 errors (0.51s)\n"
		      "  FAILED tests.test_math.TestDiv.test_div_by_zero: "
		      "ZeroDivisionError: division by zero\n"
		      "  ERROR tests.test_db.test_connect: failed on setup "
		      "with \"ConnectionRefusedError: [Errno 111] Connection "
		      "refused\"\n");
	free(text);
	reports_result_release(&r);

	run_one(f, "COBERTURAXML", "cobertura-coveragepy.xml", &r);
	text = log_of(&r, f->top);
	assert_string_equal(text, "Coverage unit: 83.3% lines (100/120), "
				  "75.0% branches (30/40)\n");
	free(text);
	reports_result_release(&r);

	run(f->src, "JUNITXML", "nothing/*.xml", &r);
	text = log_of(&r, f->top);
	assert_string_equal(text,
			    "Report group unit: no report files found\n"
			    "Report group unit: INCOMPLETE, no report files "
			    "found\n");
	free(text);
	reports_result_release(&r);
}

static void test_reports__log_more(void **state)
{
	struct fixture *f = *state;
	struct report_result r = REPORT_RESULT_INIT;
	struct buf b = BUF_INIT;
	char *text;

	buf_addstr(&b, "<testsuite name=\"s\">");
	for (int i = 0; i < 23; i++)
		buf_addf(&b, "<testcase name=\"t%d\"><failure/></testcase>", i);
	buf_addstr(&b, "</testsuite>");
	put_data(f->src, "r.xml", b.ptr, b.len);
	buf_release(&b);
	run(f->src, "JUNITXML", "r.xml", &r);
	text = log_of(&r, f->top);
	assert_non_null(strstr(text, "  FAILED s.t19\n  ... and 3 more\n"));
	free(text);
	reports_result_release(&r);
}

static void test_reports__names(void **state)
{
	(void)state;
	assert_string_equal(report_type_name(REPORT_CODE_COVERAGE),
			    "CODE_COVERAGE");
	assert_string_equal(report_status_name(REPORT_INCOMPLETE),
			    "INCOMPLETE");
	assert_string_equal(report_case_status_name(REPORT_CASE_SKIPPED),
			    "SKIPPED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_reports__pytest),
		T(test_reports__surefire),
		T(test_reports__jest_junit),
		T(test_reports__go_junit_report),
		T(test_reports__gotestsum),
		T(test_reports__nested_suites),
		T(test_reports__several_files),
		T(test_reports__all_passed),
		T(test_reports__failure_cap_and_truncation),
		T(test_reports__no_files),
		T(test_reports__unknown_format),
		T(test_reports__wrong_root),
		T(test_reports__malformed),
		T(test_reports__empty_file),
		T(test_reports__billion_laughs),
		T(test_reports__external_entity),
		T(test_reports__deep_nesting),
		T(test_reports__latin1),
		T(test_reports__too_large),
		T(test_reports__refused_path),
		T(test_reports__discard_paths),
		T(test_reports__missing_srcdir),
		T(test_reports__nunit2),
		T(test_reports__nunit3),
		T(test_reports__testng),
		T(test_reports__trx),
		T(test_reports__cucumber),
		T(test_reports__cobertura_coveragepy),
		T(test_reports__cobertura_maven),
		T(test_reports__cobertura_sum),
		T(test_reports__jacoco),
		T(test_reports__clover),
		T(test_reports__simplecov),
		T(test_reports__json),
		T(test_reports__log),
		T(test_reports__log_more),
		cmocka_unit_test(test_reports__names),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
