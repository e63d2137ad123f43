#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildspec.h"
#include "fs.h"
#include "log.h"
#include "phase.h"
#include "proc.h"
#include "shell.h"
#include "xalloc.h"

/* Run the four phases of a buildspec given as text; return the list. */
struct result {
	struct phase_list pl;
	struct machine m;
	char *log;
};

static void run_spec(const char *yaml, struct result *res)
{
	char dir[] = "/tmp/sw-phase-XXXXXX";
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct shell_opts so = SHELL_OPTS_INIT;
	struct proc_group g = PROC_GROUP_INIT;
	static const char *const env[] = { "PATH=/usr/bin:/bin",
					   "CODEBUILD_BUILD_SUCCEEDING=1",
					   NULL };
	struct shell sh;
	struct log lg;
	char *logpath, *tmp;
	size_t len;
	int fd;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(buildspec_parse("t.yml", yaml, strlen(yaml), &bs, &e),
			 0);
	logpath = fs_join(dir, "log");
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	log_init(&lg, -1, fd, NULL);
	assert_int_equal(proc_signals_init(&e), 0);
	assert_int_equal(proc_group_start(&g, &e), 0);
	tmp = fs_join(dir, "tmp");
	so.dir = tmp;
	so.cwd = dir;
	so.env = env;
	so.log = &lg;
	so.pgid = g.pgid;
	so.persist = bs.minor >= 2;
	assert_int_equal(shell_init(&sh, &so, &e), 0);
	memset(res, 0, sizeof(*res));
	res->m = (struct machine)MACHINE_INIT;
	res->m.bs = &bs;
	res->m.sh = &sh;
	res->m.log = &lg;
	assert_int_equal(machine_run(&res->m, &res->pl, &e), 0);
	proc_group_stop(&g, 1000);
	shell_finish(&sh, 100);
	log_release(&lg);
	close(fd);
	assert_int_equal(fs_read_file(logpath, 1 << 20, &res->log, &len, &e),
			 0);
	shell_release(&sh);
	buildspec_release(&bs);
	res->m.bs = NULL;
	res->m.sh = NULL;
	res->m.log = NULL;
	fs_remove_tree(dir, &e);
	free(logpath);
	free(tmp);
}

static void release(struct result *res)
{
	phase_list_release(&res->pl);
	free(res->log);
}

/* "INSTALL:SUCCEEDED PRE_BUILD:FAILED ..." */
static char *table(const struct result *res)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < res->pl.nr; i++)
		buf_addf(&b, "%s%s:%s", i ? " " : "", res->pl.v[i].type,
			 phase_status_name(res->pl.v[i].status));
	return buf_detach(&b);
}

static void expect(const char *yaml, const char *want_table,
		   enum machine_outcome outcome, bool skip_artifacts)
{
	struct result res;
	char *t;

	run_spec(yaml, &res);
	t = table(&res);
	assert_string_equal(t, want_table);
	assert_int_equal(res.m.outcome, outcome);
	assert_int_equal(res.m.skip_artifacts, skip_artifacts);
	free(t);
	release(&res);
}

static void test_phase__all_succeed(void **state)
{
	(void)state;
	expect("version: 0.2\nphases:\n  build:\n    commands:\n      - true\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED "
	       "POST_BUILD:SUCCEEDED",
	       MACHINE_SUCCEEDED, false);
}

static void test_phase__install_failure_skips_to_finalizing(void **state)
{
	(void)state;
	expect("version: 0.2\nphases:\n  install:\n    commands: [false]\n"
	       "  build:\n    commands: [true]\n",
	       "INSTALL:FAILED", MACHINE_FAILED, true);
	expect("version: 0.2\nphases:\n  pre_build:\n    commands: [false]\n"
	       "  build:\n    commands: [true]\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:FAILED", MACHINE_FAILED, true);
}

static void test_phase__build_failure_runs_post_build(void **state)
{
	(void)state;
	expect("version: 0.2\nphases:\n  build:\n    commands: [false]\n"
	       "  post_build:\n    commands: [true]\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED "
	       "POST_BUILD:SUCCEEDED",
	       MACHINE_FAILED, false);
}

static void test_phase__abort_and_continue(void **state)
{
	(void)state;
	expect("version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n"
	       "    commands: [false]\n  post_build:\n    commands: [true]\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED",
	       MACHINE_FAILED, true);
	expect("version: 0.2\nphases:\n  pre_build:\n    on-failure: CONTINUE\n"
	       "    commands: [false]\n  build:\n    commands: [true]\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:FAILED BUILD:SUCCEEDED "
	       "POST_BUILD:SUCCEEDED",
	       MACHINE_FAILED, false);
}

static void test_phase__first_failure_stops_commands_finally_runs(void **state)
{
	struct result res;

	(void)state;
	run_spec("version: 0.2\nphases:\n  build:\n    commands:\n"
		 "      - echo one\n      - exit 3\n      - echo two\n"
		 "    finally:\n      - echo fin=$CODEBUILD_BUILD_SUCCEEDING\n"
		 "      - false\n      - echo fin-two\n",
		 &res);
	assert_non_null(strstr(res.log, "one"));
	assert_null(strstr(res.log, "\ntwo"));
	assert_non_null(strstr(res.log, "fin=0"));
	assert_null(strstr(res.log, "fin-two"));
	assert_non_null(strstr(res.log, "Error while executing command: exit "
					"3. Reason: exit status 3"));
	assert_false(res.m.succeeding);
	release(&res);
}

static void test_phase__finally_failure_fails_phase(void **state)
{
	(void)state;
	expect("version: 0.2\nphases:\n  build:\n    commands: [true]\n"
	       "    finally: [false]\n",
	       "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED "
	       "POST_BUILD:SUCCEEDED",
	       MACHINE_FAILED, false);
}

static void test_phase__retry_until_success(void **state)
{
	struct result res;
	char *t;

	(void)state;
	/* fails twice, then succeeds */
	run_spec("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-3\n"
		 "    commands:\n      - n=$(cat c 2>/dev/null || echo 0); "
		 "echo $((n+1)) > c; [ $n -ge 2 ]\n"
		 "  post_build:\n    commands:\n      - echo "
		 "post=$CODEBUILD_BUILD_SUCCEEDING\n",
		 &res);
	t = table(&res);
	assert_string_equal(t, "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED "
			       "BUILD:SUCCEEDED POST_BUILD:SUCCEEDED");
	assert_int_equal(res.m.outcome, MACHINE_SUCCEEDED);
	/* two failed attempts recorded as contexts, then the success */
	assert_int_equal(res.pl.v[2].nr_ctx, 3);
	assert_non_null(strstr(res.log, "post=1"));
	free(t);
	release(&res);
}

static void test_phase__retry_exhausted_or_not_matching(void **state)
{
	struct result res;

	(void)state;
	run_spec("version: 0.2\nphases:\n  build:\n    on-failure: RETRY-1\n"
		 "    commands:\n      - echo attempt; false\n",
		 &res);
	assert_int_equal(res.m.outcome, MACHINE_FAILED);
	assert_int_equal(res.pl.v[2].nr_ctx, 2); /* 1 retry + final */
	release(&res);
	run_spec("version: 0.2\nphases:\n  build:\n    on-failure: "
		 "RETRY-5-nomatch.*\n"
		 "    commands:\n      - false\n",
		 &res);
	assert_int_equal(res.pl.v[2].nr_ctx, 1); /* no retry */
	release(&res);
}

static void test_phase__should_retry(void **state)
{
	struct bs_phase p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_false(machine_should_retry(&p, 1, "x"));
	p.on_failure = BS_ONFAIL_RETRY;
	p.retry_count = 2;
	assert_true(machine_should_retry(&p, 1, "x"));
	assert_true(machine_should_retry(&p, 2, "x"));
	assert_false(machine_should_retry(&p, 3, "x"));
	p.retry_regex = (char *)"exit status [12]$";
	assert_true(machine_should_retry(&p, 1, "Reason: exit status 2"));
	assert_false(machine_should_retry(&p, 1, "Reason: exit status 3"));
}

static void test_phase__status_names(void **state)
{
	(void)state;
	assert_string_equal(phase_status_name(PHASE_SUCCEEDED), "SUCCEEDED");
	assert_string_equal(phase_status_name(PHASE_TIMED_OUT), "TIMED_OUT");
	assert_string_equal(phase_status_name(PHASE_STOPPED), "STOPPED");
	assert_string_equal(phase_status_name(PHASE_FAULT), "FAULT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase__all_succeed),
		cmocka_unit_test(
			test_phase__install_failure_skips_to_finalizing),
		cmocka_unit_test(test_phase__build_failure_runs_post_build),
		cmocka_unit_test(test_phase__abort_and_continue),
		cmocka_unit_test(
			test_phase__first_failure_stops_commands_finally_runs),
		cmocka_unit_test(test_phase__finally_failure_fails_phase),
		cmocka_unit_test(test_phase__retry_until_success),
		cmocka_unit_test(test_phase__retry_exhausted_or_not_matching),
		cmocka_unit_test(test_phase__should_retry),
		cmocka_unit_test(test_phase__status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
