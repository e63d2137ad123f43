#include "status.h"

#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline.h"
#include "banned.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

static struct pl_status st(const char *forge, const char *api, const char *repo)
{
	struct pl_status s = { (char *)"acme/web",
			       (char *)forge,
			       (char *)api,
			       (char *)repo,
			       (char *)"/etc/slipway/token",
			       (char *)"slipway/web",
			       1,
			       1 };

	return s;
}

static json_object *rec(const struct pl_status *s, enum status_state state,
			const char *desc, json_object **body)
{
	char *r = status_record(s, SHA, state, desc, "https://ci/x");
	json_object *o, *b;

	assert_non_null(r);
	o = json_tokener_parse(r);
	free(r);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "body", &b));
	*body = json_tokener_parse(json_object_get_string(b));
	assert_non_null(*body);
	return o;
}

static const char *field(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v)
						   : NULL;
}

static void test_status__github(void **state)
{
	struct pl_status s =
		st("github", "https://ghe.example.com/api/v3", "acme/web");
	json_object *body, *o = rec(&s, STATUS_RUNNING, "web: running", &body);

	(void)state;
	assert_string_equal(field(o, "url"),
			    "https://ghe.example.com/api/v3/repos/acme/web/"
			    "statuses/" SHA);
	assert_string_equal(field(o, "auth"), "Authorization: Bearer ");
	assert_string_equal(field(o, "token-file"), "/etc/slipway/token");
	assert_null(field(o, "benign"));
	/* GitHub has no running state */
	assert_string_equal(field(body, "state"), "pending");
	assert_string_equal(field(body, "context"), "slipway/web");
	assert_string_equal(field(body, "target_url"), "https://ci/x");
	json_object_put(body);
	json_object_put(o);
	o = rec(&s, STATUS_ERROR, "web: stopped", &body);
	assert_string_equal(field(body, "state"), "error");
	json_object_put(body);
	json_object_put(o);
}

static void test_status__gitlab(void **state)
{
	struct pl_status s =
		st("gitlab", "https://gitlab.com/api/v4", "group/sub/web");
	json_object *body, *o = rec(&s, STATUS_RUNNING, "x", &body);

	(void)state;
	assert_string_equal(field(o, "url"),
			    "https://gitlab.com/api/v4/projects/"
			    "group%2Fsub%2Fweb/statuses/" SHA);
	assert_string_equal(field(o, "auth"), "PRIVATE-TOKEN: ");
	assert_string_equal(field(o, "benign"), "Cannot transition status");
	assert_string_equal(field(body, "state"), "running");
	assert_string_equal(field(body, "name"), "slipway/web");
	json_object_put(body);
	json_object_put(o);
	o = rec(&s, STATUS_FAILURE, "x", &body);
	assert_string_equal(field(body, "state"), "failed");
	json_object_put(body);
	json_object_put(o);
	o = rec(&s, STATUS_ERROR, "x", &body);
	assert_string_equal(field(body, "state"), "canceled");
	json_object_put(body);
	json_object_put(o);
}

static void test_status__gitea_and_limits(void **state)
{
	struct pl_status s =
		st("gitea", "https://git.example.com/api/v1", "acme/web");
	json_object *body, *o;
	char desc[300];

	(void)state;
	/* 139 ASCII bytes then a 3-byte character: cut before it */
	memset(desc, 'a', 139);
	snprintf(desc + 139, sizeof(desc) - 139, "\xe2\x82\xac tail");
	o = rec(&s, STATUS_FAILURE, desc, &body);
	assert_string_equal(field(o, "auth"), "Authorization: token ");
	assert_string_equal(field(body, "state"), "failure");
	assert_int_equal(strlen(field(body, "description")), 139);
	json_object_put(body);
	json_object_put(o);
	/* no record for something that is not a commit id */
	assert_null(status_record(&s, "main", STATUS_SUCCESS, "x", NULL));
	assert_null(status_record(&s, "../../x", STATUS_SUCCESS, "x", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status__github),
		cmocka_unit_test(test_status__gitlab),
		cmocka_unit_test(test_status__gitea_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
