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

/* --break for run_spec: the spec, and the actions the fake person takes
 * in turn (the last one repeats). */
static struct break_spec *brk_spec;
static const enum break_action *actions;
static size_t nr_actions, nr_calls;
static struct break_point calls[8];
static int machine_from;
static bool machine_one;

/* A person who creates "flag" in the build's directory, then acts. */
static int fake_break(const struct break_point *bp, enum break_action *act,
		      int64_t *paused_ms, void *data)
{
	const struct shell *sh = data;
	char *flag = fs_join(shell_cwd(sh), "flag");
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(fs_write_atomic(flag, "x", 1, 0644, &e), 0);
	free(flag);
	if (nr_calls < 8) {
		static char cmds[8][128];

		calls[nr_calls] = *bp;
		snprintf(cmds[nr_calls], sizeof(cmds[0]), "%s",
			 bp->command ? bp->command : "");
		calls[nr_calls].command = cmds[nr_calls];
	}
	*act = actions[nr_calls < nr_actions ? nr_calls : nr_actions - 1];
	nr_calls++;
	*paused_ms = 5000;
	return 0;
}

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
	res->m.brk = brk_spec;
	res->m.on_break = fake_break;
	res->m.break_data = &sh;
	res->m.from = machine_from;
	res->m.one_phase = machine_one;
	nr_calls = 0;
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

	brk_spec = NULL;
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

static void test_phase__break_spec_parse(void **state)
{
	struct break_spec b;

	(void)state;
	assert_int_equal(break_spec_parse("on-failure", &b), 0);
	assert_int_equal(b.mode, BREAK_ON_FAILURE);
	assert_int_equal(break_spec_parse("always", &b), 0);
	assert_int_equal(b.mode, BREAK_ALWAYS);
	assert_int_equal(break_spec_parse("build", &b), 0);
	assert_int_equal(b.mode, BREAK_AT);
	assert_int_equal(b.phase, BS_BUILD);
	assert_int_equal(b.n, 1);
	assert_int_equal(break_spec_parse("Pre-Build:12", &b), 0);
	assert_int_equal(b.phase, BS_PRE_BUILD);
	assert_int_equal(b.n, 12);
	assert_int_equal(break_spec_parse("POST_BUILD:3", &b), 0);
	assert_int_equal(b.phase, BS_POST_BUILD);
	assert_int_equal(break_spec_parse("build:0", &b), -1);
	assert_int_equal(break_spec_parse("build:", &b), -1);
	assert_int_equal(break_spec_parse("build:x", &b), -1);
	assert_int_equal(break_spec_parse("build:-1", &b), -1);
	assert_int_equal(break_spec_parse("buildx", &b), -1);
	assert_int_equal(break_spec_parse("finalizing", &b), -1);
	assert_int_equal(break_spec_parse("", &b), -1);
}

static const char flag_spec[] = "version: 0.2\n"
				"phases:\n"
				"  build:\n"
				"    commands:\n"
				"      - test -f flag\n"
				"      - echo next-ran\n";

static void test_phase__break_retry_after_a_fix(void **state)
{
	static const enum break_action retry[] = { BREAK_RETRY };
	struct break_spec b = { BREAK_ON_FAILURE, 0, 0 };
	struct result res;
	char *t;

	(void)state;
	brk_spec = &b;
	actions = retry;
	nr_actions = 1;
	run_spec(flag_spec, &res);
	brk_spec = NULL;
	t = table(&res);
	assert_string_equal(t, "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED "
			       "BUILD:SUCCEEDED POST_BUILD:SUCCEEDED");
	assert_int_equal(nr_calls, 1);
	assert_true(calls[0].failed);
	assert_int_equal(calls[0].n, 1);
	assert_int_equal(calls[0].status, 1);
	assert_string_equal(calls[0].phase, "BUILD");
	assert_int_equal(res.m.paused_ms, 5000);
	assert_non_null(strstr(res.log, "next-ran"));
	free(t);
	release(&res);
}

static void test_phase__break_skip_resume_abort(void **state)
{
	static const enum break_action skip[] = { BREAK_SKIP };
	static const enum break_action resume[] = { BREAK_RESUME };
	static const enum break_action abort_[] = { BREAK_ABORT };
	static const char spec[] = "version: 0.2\n"
				   "phases:\n"
				   "  build:\n"
				   "    commands:\n"
				   "      - false\n"
				   "      - echo next-ran\n";
	struct break_spec b = { BREAK_ON_FAILURE, 0, 0 };
	struct result res;

	(void)state;
	brk_spec = &b;
	actions = skip;
	nr_actions = 1;
	run_spec(spec, &res);
	assert_int_equal(res.m.outcome, MACHINE_SUCCEEDED);
	assert_true(res.m.succeeding);
	assert_non_null(strstr(res.log, "next-ran"));
	release(&res);

	actions = resume;
	run_spec(spec, &res);
	assert_int_equal(res.m.outcome, MACHINE_FAILED);
	assert_null(strstr(res.log, "next-ran"));
	assert_int_equal(res.pl.v[2].status, PHASE_FAILED);
	release(&res);

	actions = abort_;
	run_spec(spec, &res);
	brk_spec = NULL;
	assert_int_equal(res.m.outcome, MACHINE_STOPPED);
	assert_true(res.m.aborted);
	assert_true(res.m.skip_artifacts);
	assert_int_equal(res.pl.nr, 3); /* no POST_BUILD */
	assert_int_equal(res.pl.v[2].status, PHASE_STOPPED);
	release(&res);
}

static void test_phase__break_before_a_command(void **state)
{
	static const enum break_action skip[] = { BREAK_SKIP };
	static const char spec[] = "version: 0.2\n"
				   "phases:\n"
				   "  build:\n"
				   "    commands:\n"
				   "      - echo one\n"
				   "      - echo two-ran\n"
				   "    finally:\n"
				   "      - echo three-ran\n";
	struct break_spec b = { BREAK_AT, BS_BUILD, 2 };
	struct result res;

	(void)state;
	brk_spec = &b;
	actions = skip;
	nr_actions = 1;
	run_spec(spec, &res);
	assert_int_equal(nr_calls, 1);
	assert_false(calls[0].failed);
	assert_string_equal(calls[0].command, "echo two-ran");
	assert_null(strstr(res.log, "two-ran\n"));
	assert_non_null(strstr(res.log, "three-ran\n"));
	release(&res);

	b.n = 3; /* finally's first command counts on */
	run_spec(spec, &res);
	brk_spec = NULL;
	assert_int_equal(nr_calls, 1);
	assert_string_equal(calls[0].command, "echo three-ran");
	assert_non_null(strstr(res.log, "two-ran\n"));
	assert_null(strstr(res.log, "three-ran\n"));
	release(&res);
}

static void test_phase__breakpoint_without_break_is_a_no_op(void **state)
{
	static const char spec[] = "version: 0.2\n"
				   "phases:\n"
				   "  build:\n"
				   "    commands:\n"
				   "      - codebuild-breakpoint\n"
				   "      - echo after\n";

	(void)state;
	expect(spec,
	       "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED "
	       "POST_BUILD:SUCCEEDED",
	       MACHINE_SUCCEEDED, false);
}

static void test_phase__from_and_one_phase(void **state)
{
	static const char spec[] = "version: 0.2\n"
				   "phases:\n"
				   "  install:\n"
				   "    commands: [echo i]\n"
				   "  build:\n"
				   "    commands: [echo b]\n"
				   "  post_build:\n"
				   "    commands: [echo p]\n";

	(void)state;
	machine_from = BS_BUILD;
	expect(spec, "BUILD:SUCCEEDED POST_BUILD:SUCCEEDED", MACHINE_SUCCEEDED,
	       false);
	machine_one = true;
	expect(spec, "BUILD:SUCCEEDED", MACHINE_SUCCEEDED, false);
	machine_from = BS_INSTALL;
	machine_one = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase__all_succeed),
		cmocka_unit_test(test_phase__break_spec_parse),
		cmocka_unit_test(test_phase__break_retry_after_a_fix),
		cmocka_unit_test(test_phase__break_skip_resume_abort),
		cmocka_unit_test(test_phase__break_before_a_command),
		cmocka_unit_test(
			test_phase__breakpoint_without_break_is_a_no_op),
		cmocka_unit_test(test_phase__from_and_one_phase),
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
