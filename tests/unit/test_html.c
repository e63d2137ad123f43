#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fs.h"
#include "html.h"

/* Two hosts by the seven events of an in-place deployment; h2 fails
 * ValidateService with hook output that tries to run a script. */
static const char dep_json[] =
	"{\"deploymentId\":\"d-AAAAAAAAA\",\"status\":\"Failed\","
	"\"applicationName\":\"app\",\"deploymentGroupName\":\"fleet\","
	"\"deploymentConfigName\":\"CodeDeployDefault.OneAtATime\","
	"\"startTime\":100.0,\"completeTime\":110.0,"
	"\"errorInformation\":{\"code\":\"HEALTH_CONSTRAINTS\","
	"\"message\":\"1 host failed\"},"
	"\"deploymentOverview\":{\"Succeeded\":1,\"Failed\":1},"
	"\"rollbackInfo\":{\"rollbackDeploymentId\":\"d-BBBBBBBBB\","
	"\"rollbackMessage\":\"rollback d-BBBBBBBBB Succeeded\"},"
	"\"instances\":["
	"{\"instanceId\":\"h1\",\"status\":\"Succeeded\",\"startTime\":100,"
	"\"lastUpdatedAt\":105,\"lifecycleEvents\":["
	"{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"DownloadBundle\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"BeforeInstall\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"Install\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"AfterInstall\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"ApplicationStart\",\"status\":"
	"\"Succeeded\"},"
	"{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Succeeded\","
	"\"startTime\":104.0,\"endTime\":104.25}]},"
	"{\"instanceId\":\"h2\",\"status\":\"Failed\",\"startTime\":105,"
	"\"lastUpdatedAt\":110,\"message\":\"ValidateService failed\","
	"\"lifecycleEvents\":["
	"{\"lifecycleEventName\":\"ValidateService\",\"status\":\"Failed\","
	"\"diagnostics\":{\"errorCode\":\"ScriptFailed\",\"scriptName\":"
	"\"scripts/check.sh\",\"message\":\"exit code 1\",\"logTail\":"
	"\"[stdout]<script>alert(1)</script> \\\"q\\\" 'x' & y\\n\"}},"
	"{\"lifecycleEventName\":\"ApplicationStop\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"DownloadBundle\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"BeforeInstall\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"Install\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"AfterInstall\",\"status\":\"Succeeded\"},"
	"{\"lifecycleEventName\":\"ApplicationStart\",\"status\":"
	"\"Succeeded\"}]}]}";

static const char rollback_json[] =
	"{\"deploymentId\":\"d-BBBBBBBBB\",\"status\":\"Succeeded\","
	"\"rollbackInfo\":{\"rollbackTriggeringDeploymentId\":"
	"\"d-AAAAAAAAA\"},\"instances\":[]}";

/* Three phases over 4 s: 1 s, 2 s, 1 s; then COMPLETED. */
static const char build_json[] =
	"{\"id\":\"hello:1234\",\"buildNumber\":7,\"projectName\":\"hello\","
	"\"buildStatus\":\"FAILED\",\"startTime\":1000.0,\"endTime\":1004.0,"
	"\"phases\":["
	"{\"phaseType\":\"INSTALL\",\"phaseStatus\":\"SUCCEEDED\","
	"\"startTime\":1000.0,\"endTime\":1001.0,\"contexts\":[]},"
	"{\"phaseType\":\"BUILD\",\"phaseStatus\":\"FAILED\","
	"\"startTime\":1001.0,\"endTime\":1003.0,\"contexts\":[{"
	"\"statusCode\":\"COMMAND_EXECUTION_ERROR\",\"message\":"
	"\"Error while executing command: make <all>\"}]},"
	"{\"phaseType\":\"POST_BUILD\",\"phaseStatus\":\"SKIPPED\","
	"\"startTime\":1003.0,\"endTime\":1004.0},"
	"{\"phaseType\":\"COMPLETED\",\"startTime\":1004.0}],"
	"\"artifacts\":{\"location\":\"/out/a.zip\",\"packaging\":\"zip\","
	"\"sha256sum\":\"abc123\",\"md5sum\":\"def456\","
	"\"sizeInBytes\":2906,\"files\":2},"
	"\"secondaryArtifacts\":[{\"location\":\"/out/b.zip\","
	"\"artifactIdentifier\":\"checks\",\"sizeInBytes\":3145728}],"
	"\"reports\":[{\"name\":\"unit\",\"reportGroupName\":\"hello-unit\","
	"\"type\":\"TEST\",\"status\":\"FAILED\",\"testSummary\":{"
	"\"total\":4,\"statusCounts\":{\"SUCCEEDED\":3,\"FAILED\":1},"
	"\"durationInNanoSeconds\":1500000000},\"failures\":[{\"name\":"
	"\"adds\",\"suite\":\"math\",\"message\":\"1 != 2\",\"status\":"
	"\"FAILED\"}]}]}";

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p;
	     p = strstr(p + len, needle))
		n++;
	return n;
}

static char *render(const char *const *texts, size_t n)
{
	struct buf b = BUF_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(html_render(texts, n, &b, &e), 0);
	return buf_detach(&b);
}

static void test_html__escape(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	html_escape(&b, "<a href=\"x\">it's & \x01\x1b[31m</a>\tend\n");
	assert_string_equal(buf_cstr(&b),
			    "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; "
			    "[31m&lt;/a&gt;\tend\n");
	buf_release(&b);
}

static void test_html__log_tail_is_escaped(void **state)
{
	const char *texts[] = { dep_json };
	char *page = render(texts, 1);

	(void)state;
	assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt; "
				     "&quot;q&quot; &#39;x&#39; &amp; y"));
	assert_null(strstr(page, "<script>alert"));
	/* the page's own script is the only one */
	assert_int_equal(count(page, "<script>"), 1);
	free(page);
}

static void test_html__status_classes(void **state)
{
	static const struct {
		const char *status, *cls;
	} t[] = {
		{ "SUCCEEDED", "st-ok" },
		{ "Succeeded", "st-ok" },
		{ "FAILED", "st-bad" },
		{ "Failed", "st-bad" },
		{ "FAULT", "st-bad" },
		{ "CLIENT_ERROR", "st-bad" },
		{ "ERROR", "st-bad" },
		{ "Skipped", "st-skip" },
		{ "SKIPPED", "st-skip" },
		{ "Pending", "st-skip" },
		{ "Unknown", "st-skip" },
		{ "InProgress", "st-warn" },
		{ "IN_PROGRESS", "st-warn" },
		{ "TIMED_OUT", "st-warn" },
		{ "STOPPED", "st-warn" },
		{ "Stopped", "st-warn" },
		{ "", "st-skip" },
		{ NULL, "st-skip" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
		assert_string_equal(html_status_class(t[i].status), t[i].cls);
}

static void test_html__deployment_grid(void **state)
{
	const char *texts[] = { dep_json };
	char *page = render(texts, 1);
	const char *stop, *validate, *h1, *h2, *diag;

	(void)state;
	assert_int_equal(count(page, "<tr class=\"host\">"), 2);
	assert_int_equal(count(page, "<th class=\"ev\">"), 7);
	/* columns in the order the events run, whatever the host's order */
	stop = strstr(page, "<th class=\"ev\">ApplicationStop<");
	validate = strstr(page, "<th class=\"ev\">ValidateService<");
	assert_non_null(stop);
	assert_non_null(validate);
	assert_true(stop < validate);
	/* 7 events + the status, per host: 14 succeeded, 2 failed */
	assert_int_equal(count(page, "<td class=\"cell st-ok"), 14);
	assert_int_equal(count(page, "<td class=\"cell st-bad"), 2);
	h1 = strstr(page, "<code>h1</code>");
	h2 = strstr(page, "<code>h2</code>");
	assert_non_null(h1);
	assert_non_null(h2);
	assert_true(h1 < h2);
	/* the failed cell holds its diagnostics, a click away */
	diag = strstr(page, "<details class=\"diag\"");
	assert_non_null(diag);
	assert_true(diag > h2);
	assert_int_equal(count(page, "<details class=\"diag\""), 1);
	assert_non_null(strstr(diag, "ScriptFailed"));
	assert_non_null(strstr(diag, "scripts/check.sh"));
	assert_non_null(strstr(page, "HEALTH_CONSTRAINTS"));
	assert_non_null(strstr(page, "250 ms")); /* h1's ValidateService */
	/* the rollback is not on the page: named, not linked */
	assert_non_null(strstr(page, "<code>d-BBBBBBBBB</code>"));
	assert_null(strstr(page, "href=\"#dep-d-BBBBBBBBB\""));
	assert_non_null(strstr(page, "<header class=\"top st-bad\">"));
	free(page);
}

static void test_html__rollback_linked(void **state)
{
	const char *texts[] = { dep_json, rollback_json };
	char *page = render(texts, 2);

	(void)state;
	assert_non_null(strstr(page, "id=\"dep-d-AAAAAAAAA\""));
	assert_non_null(strstr(page, "id=\"dep-d-BBBBBBBBB\""));
	assert_non_null(strstr(page, "href=\"#dep-d-BBBBBBBBB\""));
	assert_non_null(strstr(page, "href=\"#dep-d-AAAAAAAAA\""));
	assert_non_null(strstr(page, "Rollback d-BBBBBBBBB"));
	free(page);
}

static void test_html__build_phases(void **state)
{
	const char *texts[] = { build_json };
	char *page = render(texts, 1);

	(void)state;
	/* proportional bars: 1 s, 2 s, 1 s of 4 s; COMPLETED has none */
	assert_non_null(strstr(page, "<div class=\"bar st-ok\" "
				     "style=\"left:0.00%;width:25.00%\">"));
	assert_non_null(strstr(page, "<div class=\"bar st-bad\" "
				     "style=\"left:25.00%;width:50.00%\">"));
	assert_non_null(strstr(page, "<div class=\"bar st-skip\" "
				     "style=\"left:75.00%;width:25.00%\">"));
	assert_int_equal(count(page, "<div class=\"bar "), 3);
	assert_null(strstr(page, "COMPLETED"));
	assert_non_null(strstr(page, "make &lt;all&gt;"));
	/* artifacts with sizes and digests */
	assert_non_null(strstr(page, "2.8 KiB"));
	assert_non_null(strstr(page, "3.0 MiB"));
	assert_non_null(strstr(page, "abc123"));
	assert_non_null(strstr(page, "def456"));
	assert_non_null(strstr(page, "<code>checks</code>"));
	/* the test summary */
	assert_non_null(strstr(page, "hello-unit"));
	assert_non_null(strstr(page, "<td class=\"num\">4</td>"));
	assert_non_null(strstr(page, "style=\"width:75.00%\" title=\"3 "
				     "SUCCEEDED\""));
	assert_non_null(strstr(page, "math &#8250; adds"));
	assert_non_null(strstr(page, "<header class=\"top st-bad\">"));
	free(page);
}

static void test_html__run_report(void **state)
{
	struct buf run = BUF_INIT;
	const char *texts[1];
	char *page;

	(void)state;
	buf_addf(&run,
		 "{\"runId\":\"r-1\",\"status\":\"Succeeded\",\"build\":%s,"
		 "\"deployments\":[%s,%s]}",
		 build_json, dep_json, rollback_json);
	texts[0] = buf_cstr(&run);
	page = render(texts, 1);
	assert_non_null(strstr(page, "Run r-1"));
	assert_non_null(strstr(page, "Build hello"));
	assert_non_null(strstr(page, "href=\"#dep-d-BBBBBBBBB\""));
	assert_int_equal(count(page, "<tr class=\"host\">"), 2);
	free(page);
	buf_release(&run);
}

/* A failed run says why at the top: its message, the build's failed
 * phase and the deployment's failed host event, each a link to its
 * section, before any section's detail. */
static void test_html__run_failures_on_top(void **state)
{
	struct buf run = BUF_INIT;
	const char *texts[1];
	char *page, *why, *phases, *grid, *build_sec;

	(void)state;
	buf_addf(&run,
		 "{\"runId\":\"r-2\",\"status\":\"Failed\",\"message\":"
		 "\"the deployment failed\",\"build\":%s,"
		 "\"deployments\":[%s]}",
		 build_json, dep_json);
	texts[0] = buf_cstr(&run);
	page = render(texts, 1);
	why = strstr(page, "<strong>Why it failed</strong>");
	phases = strstr(page, "<h3>Phases</h3>");
	grid = strstr(page, "<h3>Hosts by lifecycle event</h3>");
	assert_non_null(why);
	assert_non_null(phases);
	assert_non_null(grid);
	assert_true(why < phases && why < grid);
	assert_non_null(strstr(why, " the deployment failed"));
	assert_non_null(strstr(why,
			       "<code>build BUILD</code></a> <strong>"
			       "COMMAND_EXECUTION_ERROR</strong> Error "
			       "while executing command: make &lt;all&gt;"));
	assert_non_null(strstr(why, "<strong>HEALTH_CONSTRAINTS</strong> 1 "
				    "host failed"));
	assert_non_null(strstr(why, "h2 \xe2\x80\xba ValidateService</code>"
				    "</a> <strong>ScriptFailed</strong> exit "
				    "code 1"));
	assert_non_null(strstr(why, "href=\"#dep-d-AAAAAAAAA\""));
	/* the build link names the build's section */
	build_sec = strstr(why, "<li><a href=\"#b");
	assert_non_null(build_sec);
	{
		char want[64];
		unsigned n = 0;

		assert_int_equal(sscanf(build_sec, "<li><a href=\"#b%u\"", &n),
				 1);
		snprintf(want, sizeof(want),
			 "<section class=\"doc build\" "
			 "id=\"b%u\">",
			 n);
		assert_non_null(strstr(page, want));
	}
	free(page);
	/* a run that succeeded has no such box */
	buf_clear(&run);
	buf_addf(&run,
		 "{\"runId\":\"r-3\",\"status\":\"Succeeded\",\"build\":%s,"
		 "\"deployments\":[]}",
		 build_json);
	texts[0] = buf_cstr(&run);
	page = render(texts, 1);
	assert_null(strstr(page, "Why it failed"));
	free(page);
	buf_release(&run);
}

/* A diagnostics panel opens in the flow of its cell, never over the
 * rows below it. */
static void test_html__diagnostics_panel_in_flow(void **state)
{
	const char *texts[] = { dep_json };
	char *page = render(texts, 1);

	(void)state;
	assert_non_null(strstr(page, "details.diag>.panel{position:static;"));
	assert_null(strstr(page, ">.panel{position:absolute"));
	free(page);
}

static void test_html__bad_input_is_an_error(void **state)
{
	static const char *const bad[] = {
		"", "{", "not json", "[]", "42", "{\"a\":1}", "{} {}",
	};
	/* the right keys with the wrong types still render */
	static const char *const odd[] = {
		"{\"deploymentId\":\"d-X\",\"instances\":{\"a\":1}}",
		"{\"deploymentId\":5,\"instances\":[1,null,{"
		"\"lifecycleEvents\":"
		"[null,3,{\"status\":[]}]}],\"rollbackInfo\":7}",
		"{\"buildStatus\":null,\"phases\":[{\"startTime\":\"x\"},"
		"{\"phaseStatus\":\"FAILED\",\"startTime\":2,\"endTime\":1}]}",
		"{\"runId\":\"r\",\"build\":[],\"deployments\":[{},null]}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct buf b = BUF_INIT;
		struct sw_err e = SW_ERR_INIT;

		assert_int_equal(html_render(&bad[i], 1, &b, &e), -1);
		assert_int_equal(e.code, ERR_SPEC);
		assert_non_null(strstr(e.msg, "report 1"));
		buf_release(&b);
	}
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		char *page = render(&odd[i], 1);

		assert_non_null(strstr(page, "</html>"));
		free(page);
	}
}

static void test_html__write_files(void **state)
{
	char dir[] = "/tmp/sw-html-XXXXXX";
	struct sw_err e = SW_ERR_INIT;
	char *a, *bj, *out, *beside, *data, *missing;
	const char *paths[2];
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	a = fs_join(dir, "report.json");
	bj = fs_join(dir, "rollback.json");
	out = fs_join(dir, "out.html");
	beside = fs_join(dir, "report.html");
	missing = fs_join(dir, "nope/report.json");
	assert_int_equal(
		fs_write_atomic(a, dep_json, strlen(dep_json), 0644, &e), 0);
	assert_int_equal(fs_write_atomic(bj, "{\"x\":", 5, 0644, &e), 0);
	paths[0] = a;
	paths[1] = bj;
	assert_int_equal(html_report_write(paths, 2, out, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_non_null(strstr(e.msg, "rollback.json"));
	assert_false(fs_exists(out));

	err_clear(&e);
	assert_int_equal(fs_write_atomic(bj, rollback_json,
					 strlen(rollback_json), 0644, &e),
			 0);
	assert_int_equal(html_report_write(paths, 2, out, &e), 0);
	assert_int_equal(fs_read_file(out, 1 << 20, &data, &len, &e), 0);
	assert_non_null(strstr(data, "href=\"#dep-d-BBBBBBBBB\""));
	free(data);

	html_beside(a);
	assert_true(fs_exists(beside));
	html_beside(missing); /* warns, writes nothing */
	assert_false(fs_exists(missing));

	assert_int_equal(fs_remove_tree(dir, &e), 0);
	free(a);
	free(bj);
	free(out);
	free(beside);
	free(missing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html__escape),
		cmocka_unit_test(test_html__log_tail_is_escaped),
		cmocka_unit_test(test_html__status_classes),
		cmocka_unit_test(test_html__deployment_grid),
		cmocka_unit_test(test_html__rollback_linked),
		cmocka_unit_test(test_html__build_phases),
		cmocka_unit_test(test_html__run_report),
		cmocka_unit_test(test_html__run_failures_on_top),
		cmocka_unit_test(test_html__diagnostics_panel_in_flow),
		cmocka_unit_test(test_html__bad_input_is_an_error),
		cmocka_unit_test(test_html__write_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
