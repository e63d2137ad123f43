#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report__shape_and_masking),
		cmocka_unit_test(test_report__compact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
