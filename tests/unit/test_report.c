#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "report.h"
#include "xalloc.h"

static void fill(struct build_result *r)
{
	struct phase_rec *p;

	memset(r, 0, sizeof(*r));
	r->id = xstrdup("proj:1234");
	r->number = 3;
	r->status = xstrdup("FAILED");
	r->current_phase = xstrdup("COMPLETED");
	r->start_ms = 1700000000123LL;
	r->end_ms = 1700000005456LL;
	p = phase_begin(&r->phases, "BUILD", NULL);
	phase_end(p, PHASE_FAILED, "COMMAND_EXECUTION_ERROR",
		  "Error while executing command: echo hunter2. Reason: exit "
		  "status 1",
		  NULL);
	phase_begin(&r->phases, "COMPLETED", NULL);
	strvec_push(&r->exported, "TOKEN=hunter2");
	strvec_push(&r->exported, "VERSION=1.0");
}

static void test_report__shape_and_masking(void **state)
{
	struct build_result r;
	struct mask m = MASK_INIT;
	json_object *o, *v, *ph;
	char *text;

	(void)state;
	fill(&r);
	mask_add(&m, "hunter2");
	text = report_json(&r, &m);
	assert_null(strstr(text, "hunter2"));
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "buildStatus", &v));
	assert_string_equal(json_object_get_string(v), "FAILED");
	assert_true(json_object_object_get_ex(o, "buildNumber", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(o, "startTime", &v));
	assert_true(json_object_get_double(v) > 1700000000.1);
	assert_true(json_object_object_get_ex(o, "phases", &ph));
	assert_int_equal(json_object_array_length(ph), 2);
	v = json_object_array_get_idx(ph, 0);
	assert_true(json_object_object_get_ex(v, "phaseStatus", &v));
	assert_string_equal(json_object_get_string(v), "FAILED");
	/* COMPLETED has only its type and start */
	v = json_object_array_get_idx(ph, 1);
	assert_false(json_object_object_get_ex(v, "phaseStatus", NULL));
	assert_false(json_object_object_get_ex(v, "endTime", NULL));
	assert_true(json_object_object_get_ex(o, "exportedEnvironmentVariables",
					      &v));
	v = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(v, "value", &v));
	assert_string_equal(json_object_get_string(v), "***");
	json_object_put(o);
	free(text);
	mask_release(&m);
	build_result_release(&r);
}

/*
 * What a full disk leaves room for: status and reason, the phases with
 * messages cut; it fits the reservation however long the messages are.
 */
static void test_report__compact(void **state)
{
	struct build_result r;
	struct mask m = MASK_INIT;
	json_object *o, *v, *ph;
	char *big = xmalloc(20000), *text;

	(void)state;
	fill(&r);
	r.reason = xstrdup("no space left on device in /s: build.log "
			   "incomplete; hunter2");
	memset(big, 'm', 19999);
	big[19999] = '\0';
	for (int i = 0; i < 20; i++) {
		struct phase_rec *p = phase_begin(&r.phases, "BUILD", NULL);

		phase_end(p, PHASE_FAILED, "COMMAND_EXECUTION_ERROR", big,
			  NULL);
	}
	mask_add(&m, "hunter2");
	text = report_json(&r, &m);
	assert_true(strlen(text) > REPORT_RESERVE);
	free(text);
	text = report_json_compact(&r, &m);
	assert_true(strlen(text) < REPORT_RESERVE);
	assert_null(strstr(text, "hunter2"));
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "reportCompact", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "statusReason", &v));
	assert_string_equal(json_object_get_string(v),
			    "no space left on device in /s: build.log "
			    "incomplete; ***");
	assert_false(json_object_object_get_ex(
		o, "exportedEnvironmentVariables", NULL));
	assert_true(json_object_object_get_ex(o, "logs", NULL));
	assert_true(json_object_object_get_ex(o, "phases", &ph));
	assert_int_equal(json_object_array_length(ph), 22);
	v = json_object_array_get_idx(ph, 5);
	assert_true(json_object_object_get_ex(v, "contexts", &v));
	v = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(v, "message", &v));
	assert_int_equal(strlen(json_object_get_string(v)), 1024 + 3);
	json_object_put(o);
	free(text);
	/* a build that succeeded has no reason */
	free(r.status);
	r.status = xstrdup("SUCCEEDED");
	text = report_json(&r, &m);
	assert_null(strstr(text, "statusReason"));
	free(text);
	free(big);
	mask_release(&m);
	build_result_release(&r);
}

/* What f(path-or-row, out) printed. */
static char *printed(FILE *f, char **buf)
{
	fclose(f);
	return *buf;
}

/*
 * The history line of a build and of a deployment, from a report and
 * from the store's row made of it: the same text, pinned.
 */
static void test_report__history_lines_from_report_and_row(void **state)
{
	char dir[] = "/tmp/sw-report-XXXXXX", *path, *buf = NULL, *dpath;
	const char *want = "3     FAILED     2023-11-14 22:13:20     5.3s  "
			   "proj:1234  phase BUILD: exit status 1\n";
	const char *dwant = "d-AAAAAAAAA Failed     2023-11-14 22:13:20 "
			    "    2.5s  app/grp  1/3 hosts  (rollback)\n";
	const char *djson =
		"{\"deploymentId\": \"d-AAAAAAAAA\", \"status\": \"Failed\","
		" \"applicationName\": \"app\", \"deploymentGroupName\":"
		" \"grp\", \"startTime\": 1700000000.500, \"completeTime\":"
		" 1700000003.000, \"creator\": \"codeDeployRollback\","
		" \"deploymentOverview\": {\"Pending\": 0, \"InProgress\": 0,"
		" \"Succeeded\": 1, \"Failed\": 1, \"Skipped\": 1}}";
	struct build_result r;
	struct mask m = MASK_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct store_build b;
	struct store_deployment d;
	size_t len;
	FILE *f;

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/report.json", dir);
	fill(&r);
	r.reason = xstrdup("phase BUILD: exit status 1");
	assert_int_equal(report_write(&r, &m, path, &e), 0);

	f = open_memstream(&buf, &len);
	assert_int_equal(report_summary_line(path, f, &e), 0);
	assert_string_equal(printed(f, &buf), want);
	free(buf);
	assert_int_equal(report_build_row(path, &b, &e), 0);
	assert_string_equal(b.project, "proj");
	assert_int_equal(b.start_ms, 1700000000123LL);
	f = open_memstream(&buf, &len);
	report_build_line(&b, f);
	assert_string_equal(printed(f, &buf), want);
	free(buf);
	store_build_release(&b);

	dpath = xasprintf("%s/d.json", dir);
	assert_int_equal(fs_write_atomic(dpath, djson, strlen(djson), 0644, &e),
			 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(report_deploy_summary_line(dpath, f, &e), 0);
	assert_string_equal(printed(f, &buf), dwant);
	free(buf);
	assert_int_equal(report_deploy_row(dpath, &d, &e), 0);
	assert_int_equal(d.hosts_total, 3);
	f = open_memstream(&buf, &len);
	report_deploy_line(&d, f);
	assert_string_equal(printed(f, &buf), dwant);
	free(buf);
	store_deployment_release(&d);

	unlink(path);
	unlink(dpath);
	rmdir(dir);
	free(path);
	free(dpath);
	build_result_release(&r);
	mask_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report__shape_and_masking),
		cmocka_unit_test(test_report__compact),
		cmocka_unit_test(
			test_report__history_lines_from_report_and_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
