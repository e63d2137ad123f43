/*
 * Unit tests for batch: the plan (matrix expansion, fanout shards) and
 * its scheduling (build-graph order, skipped dependants), and the test
 * file split of codebuild-tests-run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "buf.h"
#include "buildspec.h"
#include "strvec.h"

static void load(const char *yaml, struct buildspec *bs, struct batch_plan *p)
{
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(buildspec_parse("t.yml", yaml, strlen(yaml), bs, &e),
			 0);
	assert_int_equal(batch_plan_make(&bs->batch, p, &e), 0);
}

static const char *envv(const struct batch_task *t, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < t->env.nr; i++)
		if (!strncmp(t->env.v[i], name, n) && t->env.v[i][n] == '=')
			return t->env.v[i] + n + 1;
	return NULL;
}

/* Run the plan with at most jobs tasks at once, ending them in start
 * order; fail names the tasks that fail. The start order goes to out. */
static void simulate(struct batch_plan *p, size_t jobs, const char *fail,
		     struct strvec *out)
{
	size_t *running = calloc(p->nr + 1, sizeof(*running));
	size_t nr = 0;

	assert_non_null(running);
	for (;;) {
		long i;

		while (nr < jobs && (i = batch_plan_next(p)) >= 0) {
			p->v[i].state = BT_RUNNING;
			running[nr++] = (size_t)i;
			strvec_push(out, p->v[i].identifier);
		}
		if (!nr)
			break;
		{
			size_t k = running[0];
			const char *id = p->v[k].identifier;
			bool failed = fail && strstr(fail, id);

			memmove(running, running + 1, --nr * sizeof(*running));
			batch_plan_finish(p, k,
					  failed ? BT_FAILED : BT_SUCCEEDED);
		}
	}
	free(running);
}

static char *joined(const struct strvec *sv)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sv->nr; i++)
		buf_addf(&b, "%s%s", i ? " " : "", sv->v[i]);
	return buf_detach(&b);
}

static void test_batch__list_keeps_tasks_and_env(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  fast-fail: true\n"
	     "  build-list:\n"
	     "    - identifier: a\n"
	     "      buildspec: ci/a.yml\n"
	     "      ignore-failure: yes\n"
	     "      env:\n"
	     "        image: img\n"
	     "        variables:\n"
	     "          GCC: 9\n"
	     "          ON: true\n"
	     "    - identifier: b\n",
	     &bs, &p);
	assert_int_equal(p.nr, 2);
	assert_true(p.fast_fail);
	assert_int_equal(p.type, BS_BATCH_LIST);
	assert_string_equal(p.v[0].identifier, "a");
	assert_string_equal(p.v[0].buildspec, "ci/a.yml");
	assert_true(p.v[0].ignore_failure);
	assert_string_equal(p.v[0].image, "img");
	assert_string_equal(envv(&p.v[0], "GCC"), "9");
	assert_string_equal(envv(&p.v[0], "ON"), "true");
	assert_null(p.v[1].buildspec);
	assert_false(p.v[1].ignore_failure);
	assert_int_equal(p.v[1].env.nr, 0);
	assert_int_equal(batch_plan_find(&p, "b"), 1);
	assert_int_equal(batch_plan_find(&p, "c"), -1);
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__matrix_counts(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  build-matrix:\n"
	     "    static:\n"
	     "      ignore-failure: true\n"
	     "      env:\n"
	     "        privileged-mode: true\n"
	     "        variables:\n"
	     "          BASE: x\n"
	     "    dynamic:\n"
	     "      buildspec: [unit.yml, ci/lint.yml]\n"
	     "      env:\n"
	     "        image: [i1, i2]\n"
	     "        variables:\n"
	     "          V: [a, b, c]\n"
	     "          W: [1]\n",
	     &bs, &p);
	assert_int_equal(buildspec_matrix_count(&bs.batch), 12);
	assert_int_equal(p.nr, 12);
	/* the last dimension turns fastest */
	assert_string_equal(p.v[0].identifier, "build1_unit_i1_a");
	assert_string_equal(p.v[1].identifier, "build2_unit_i1_b");
	assert_string_equal(p.v[3].identifier, "build4_unit_i2_a");
	assert_string_equal(p.v[11].identifier, "build12_lint_i2_c");
	assert_string_equal(p.v[11].buildspec, "ci/lint.yml");
	assert_string_equal(p.v[11].image, "i2");
	for (size_t i = 0; i < p.nr; i++) {
		assert_true(p.v[i].ignore_failure);
		assert_true(p.v[i].privileged_mode);
		assert_string_equal(envv(&p.v[i], "BASE"), "x");
		assert_string_equal(envv(&p.v[i], "W"), "1");
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(p.v[i].identifier,
						p.v[j].identifier);
	}
	assert_string_equal(envv(&p.v[2], "V"), "c");
	batch_plan_release(&p);
	buildspec_release(&bs);
}

/*
 * One naming rule for every matrix: build<N>, then the values that vary.
 * The two shapes that used to be named differently: values that clash
 * once cut to letters and digits, and a dimension with one value.
 */
static void test_batch__matrix_single_and_clashing_names(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  build-matrix:\n"
	     "    dynamic:\n"
	     "      env:\n"
	     "        variables:\n"
	     "          V: [a-b, a_b, '--']\n",
	     &bs, &p);
	assert_int_equal(p.nr, 3);
	assert_string_equal(p.v[0].identifier, "build1_a_b");
	assert_string_equal(p.v[1].identifier, "build2_a_b");
	assert_string_equal(p.v[2].identifier, "build3");
	assert_null(p.v[0].buildspec);
	batch_plan_release(&p);
	buildspec_release(&bs);

	load("version: 0.2\n"
	     "batch:\n"
	     "  build-matrix:\n"
	     "    dynamic:\n"
	     "      buildspec: [only.yml]\n",
	     &bs, &p);
	assert_int_equal(p.nr, 1);
	assert_string_equal(p.v[0].identifier, "build1");
	assert_string_equal(p.v[0].buildspec, "only.yml");
	batch_plan_release(&p);
	buildspec_release(&bs);
}

/*
 * cypress-realworld-app's buildspec-matrix2.yml: 3 long group specs times
 * 7 workers, one image and one compute type. Each identifier keeps its
 * number, a readable cut of the group and the worker, within 64.
 */
static void test_batch__matrix_cypress_realworld_names(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  fast-fail: false\n"
	     "  build-matrix:\n"
	     "    static:\n"
	     "      ignore-failure: false\n"
	     "      env:\n"
	     "        type: LINUX_CONTAINER\n"
	     "        privileged-mode: true\n"
	     "        compute-type: BUILD_GENERAL1_MEDIUM\n"
	     "    dynamic:\n"
	     "      env:\n"
	     "        compute-type:\n"
	     "          - BUILD_GENERAL1_MEDIUM\n"
	     "        image:\n"
	     "          - public.ecr.aws/q6t8o9m1/cypress-browsers-node14\n"
	     "        variables:\n"
	     "          CY_GROUP_SPEC:\n"
	     "            - \"UI - Chrome|chrome|cypress/tests/ui/*\"\n"
	     "            - \"UI - Chrome - Mobile|chrome|cypress/tests/ui/*|"
	     "viewportWidth=375,viewportHeight=667\"\n"
	     "            - \"API|chrome|cypress/tests/api/*\"\n"
	     "          WORKERS: [1, 2, 3, 4, 5, 6, 7]\n",
	     &bs, &p);
	assert_int_equal(p.nr, 21);
	assert_string_equal(p.v[0].identifier,
			    "build1_UI_Chrome_chrome_cypress_1");
	assert_string_equal(p.v[7].identifier,
			    "build8_UI_Chrome_Mobile_chrome_1");
	assert_string_equal(p.v[20].identifier,
			    "build21_API_chrome_cypress_tests_7");
	for (size_t i = 0; i < p.nr; i++) {
		char want[16];

		snprintf(want, sizeof(want), "build%zu_", i + 1);
		assert_int_equal(strncmp(p.v[i].identifier, want, strlen(want)),
				 0);
		assert_true(strlen(p.v[i].identifier) <= 64);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(p.v[i].identifier,
						p.v[j].identifier);
	}
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__matrix_too_large(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *y = "version: 0.2\n"
			"batch:\n"
			"  build-matrix:\n"
			"    dynamic:\n"
			"      env:\n"
			"        variables:\n"
			"          A: [1,2,3,4,5,6,7,8,9,10]\n"
			"          B: [1,2,3,4,5,6,7,8,9,10]\n"
			"          C: [1,2,3,4,5,6,7,8,9,10,11]\n";
	struct buf huge = BUF_INIT;

	(void)state;
	/* refused by the parser, so that validate refuses it as build does */
	assert_int_equal(buildspec_parse("t.yml", y, strlen(y), &bs, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, "t.yml:4:5: 'batch.build-matrix' expands "
				   "to 1100 builds, more than 1000");

	/* 10^12 builds: twelve variables of ten values */
	buf_addstr(&huge, "version: 0.2\nbatch:\n  build-matrix:\n"
			  "    dynamic:\n      env:\n        variables:\n");
	for (int i = 0; i < 12; i++)
		buf_addf(&huge, "          V%d: [0,1,2,3,4,5,6,7,8,9]\n", i);
	e = (struct sw_err)SW_ERR_INIT;
	assert_int_equal(buildspec_parse("t.yml", huge.ptr, huge.len, &bs, &e),
			 -1);
	assert_string_equal(e.msg, "t.yml:4:5: 'batch.build-matrix' expands "
				   "to 1000000000000 builds, more than 1000");
	buf_release(&huge);
}

static void test_batch__fanout_shards(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  build-fanout:\n"
	     "    parallelism: 4\n"
	     "    ignore-failure: true\n",
	     &bs, &p);
	assert_int_equal(p.nr, 4);
	assert_string_equal(p.v[3].identifier, "shard_4");
	assert_string_equal(envv(&p.v[3], "SLIPWAY_SHARD_INDEX"), "3");
	assert_string_equal(envv(&p.v[0], "SLIPWAY_SHARD_COUNT"), "4");
	assert_true(p.v[2].ignore_failure);
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static const char graph[] = "version: 0.2\n"
			    "batch:\n"
			    "  build-graph:\n"
			    "    - identifier: deploy\n"
			    "      depend-on: [test_a, test_b]\n"
			    "    - identifier: test_a\n"
			    "      depend-on: [build]\n"
			    "    - identifier: test_b\n"
			    "      depend-on: [build]\n"
			    "    - identifier: build\n"
			    "    - identifier: docs\n";

static void test_batch__graph_order(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;
	struct strvec order = STRVEC_INIT;
	char *s;

	(void)state;
	load(graph, &bs, &p);
	assert_int_equal(p.v[0].nr_deps, 2);
	assert_int_equal(p.v[0].deps[0], 1);
	/* nothing depends on docs: it starts with build */
	assert_int_equal(batch_plan_next(&p), 3);
	simulate(&p, 1, NULL, &order);
	s = joined(&order);
	assert_string_equal(s, "build test_a test_b deploy docs");
	free(s);
	assert_true(batch_plan_succeeded(&p));
	batch_plan_release(&p);
	buildspec_release(&bs);

	/* two at a time: build and docs together, then both tests */
	strvec_clear(&order);
	load(graph, &bs, &p);
	simulate(&p, 2, NULL, &order);
	s = joined(&order);
	assert_string_equal(s, "build docs test_a test_b deploy");
	free(s);
	strvec_release(&order);
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__graph_failed_dependency(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;
	struct strvec order = STRVEC_INIT;
	char *s;

	(void)state;
	load(graph, &bs, &p);
	simulate(&p, 4, "test_a", &order);
	s = joined(&order);
	assert_string_equal(s, "build docs test_a test_b");
	free(s);
	assert_int_equal(p.v[0].state, BT_SKIPPED);
	assert_int_equal(p.v[1].state, BT_FAILED);
	assert_int_equal(p.v[2].state, BT_SUCCEEDED);
	assert_int_equal(p.v[4].state, BT_SUCCEEDED);
	assert_false(batch_plan_succeeded(&p));
	batch_plan_release(&p);
	buildspec_release(&bs);

	/* the root fails: everything under it is skipped, transitively */
	strvec_clear(&order);
	load(graph, &bs, &p);
	simulate(&p, 1, "build", &order);
	s = joined(&order);
	assert_string_equal(s, "build docs");
	free(s);
	assert_int_equal(p.v[0].state, BT_SKIPPED);
	assert_int_equal(p.v[1].state, BT_SKIPPED);
	assert_int_equal(p.v[2].state, BT_SKIPPED);
	strvec_release(&order);
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__ignored_failure_satisfies(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;
	struct strvec order = STRVEC_INIT;

	(void)state;
	load("version: 0.2\n"
	     "batch:\n"
	     "  build-graph:\n"
	     "    - identifier: flaky\n"
	     "      ignore-failure: true\n"
	     "    - identifier: next\n"
	     "      depend-on: [flaky]\n",
	     &bs, &p);
	simulate(&p, 1, "flaky", &order);
	assert_int_equal(order.nr, 2);
	assert_int_equal(p.v[0].state, BT_FAILED);
	assert_int_equal(p.v[1].state, BT_SUCCEEDED);
	assert_true(batch_plan_succeeded(&p));
	strvec_release(&order);
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__skip_pending(void **state)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct batch_plan p = BATCH_PLAN_INIT;

	(void)state;
	load(graph, &bs, &p);
	p.v[3].state = BT_RUNNING;
	assert_int_equal(batch_plan_skip_pending(&p), 4);
	assert_int_equal(p.v[3].state, BT_RUNNING);
	assert_int_equal(batch_plan_next(&p), -1);
	batch_plan_finish(&p, 3, BT_STOPPED);
	assert_false(batch_plan_succeeded(&p));
	assert_string_equal(batch_state_name(BT_SKIPPED), "SKIPPED");
	batch_plan_release(&p);
	buildspec_release(&bs);
}

static void test_batch__shard_files(void **state)
{
	struct strvec files = STRVEC_INIT, all = STRVEC_INIT;
	const char *names[] = { "t/e", "t/a", "t/d", "t/b", "t/c", "t/a" };

	(void)state;
	for (size_t i = 0; i < 6; i++)
		strvec_push(&files, names[i]);
	/* equal-distribution: sorted names dealt round-robin */
	{
		struct strvec s0 = STRVEC_INIT, s1 = STRVEC_INIT;

		batch_shard_files(&files, 0, 2, false, &s0);
		batch_shard_files(&files, 1, 2, false, &s1);
		assert_int_equal(s0.nr, 3);
		assert_string_equal(s0.v[0], "t/a");
		assert_string_equal(s0.v[1], "t/c");
		assert_string_equal(s0.v[2], "t/e");
		assert_int_equal(s1.nr, 2);
		assert_string_equal(s1.v[0], "t/b");
		strvec_release(&s0);
		strvec_release(&s1);
	}
	/* stability: every file in exactly one shard, the same each time */
	for (size_t k = 0; k < 3; k++)
		batch_shard_files(&files, k, 3, true, &all);
	assert_int_equal(all.nr, 5);
	for (size_t i = 0; i < all.nr; i++)
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(all.v[i], all.v[j]);
	{
		struct strvec again = STRVEC_INIT, first = STRVEC_INIT;

		batch_shard_files(&files, 1, 3, true, &first);
		batch_shard_files(&files, 1, 3, true, &again);
		assert_int_equal(first.nr, again.nr);
		for (size_t i = 0; i < first.nr; i++)
			assert_string_equal(first.v[i], again.v[i]);
		strvec_release(&first);
		strvec_release(&again);
	}
	strvec_release(&all);
	strvec_release(&files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch__list_keeps_tasks_and_env),
		cmocka_unit_test(test_batch__matrix_counts),
		cmocka_unit_test(test_batch__matrix_single_and_clashing_names),
		cmocka_unit_test(test_batch__matrix_cypress_realworld_names),
		cmocka_unit_test(test_batch__matrix_too_large),
		cmocka_unit_test(test_batch__fanout_shards),
		cmocka_unit_test(test_batch__graph_order),
		cmocka_unit_test(test_batch__graph_failed_dependency),
		cmocka_unit_test(test_batch__ignored_failure_satisfies),
		cmocka_unit_test(test_batch__skip_pending),
		cmocka_unit_test(test_batch__shard_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
