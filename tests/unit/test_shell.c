#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "buf.h"
#include "env.h"
#include "fs.h"
#include "log.h"
#include "proc.h"
#include "shell.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	int logfd;
	char *logpath;
	struct log log;
	struct proc_group group;
	struct shell sh;
};

static int start(void **state, const char *shell, bool persist)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct shell_opts o = SHELL_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	static const char *const env[] = { "PATH=/usr/bin:/bin", "FOO=start",
					   NULL };
	char *tmp;

	memcpy(f->dir, "/tmp/sw-shell-XXXXXX", 21);
	assert_non_null(mkdtemp(f->dir));
	f->logpath = fs_join(f->dir, "log");
	f->logfd = open(f->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(f->logfd >= 0);
	log_init(&f->log, -1, f->logfd, NULL);
	assert_int_equal(proc_signals_init(&e), 0);
	assert_int_equal(proc_group_start(&f->group, &e), 0);
	tmp = fs_join(f->dir, "tmp");
	o.shell = shell;
	o.dir = tmp;
	o.cwd = f->dir;
	o.env = env;
	o.persist = persist;
	o.log = &f->log;
	o.pgid = f->group.pgid;
	assert_int_equal(shell_init(&f->sh, &o, &e), 0);
	free(tmp);
	*state = f;
	return 0;
}

static int setup_sh(void **state)
{
	return start(state, "sh", true);
}

static int setup_bash(void **state)
{
	return start(state, "bash", true);
}

static int setup_v01(void **state)
{
	return start(state, "sh", false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	proc_group_stop(&f->group, 1000);
	shell_finish(&f->sh, 100);
	shell_release(&f->sh);
	log_release(&f->log);
	close(f->logfd);
	fs_remove_tree(f->dir, &e);
	free(f->logpath);
	free(f);
	return 0;
}

static int run(struct fixture *f, const char *cmd)
{
	struct shell_result r;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(shell_run(&f->sh, cmd, NULL, 0, &r, &e), 0);
	assert_int_equal(r.end, SHELL_EXITED);
	return r.status;
}

static char *logtext(struct fixture *f)
{
	struct sw_err e = SW_ERR_INIT;
	char *data;
	size_t len;

	shell_drain(&f->sh);
	log_output_flush(&f->log);
	assert_int_equal(fs_read_file(f->logpath, 1 << 20, &data, &len, &e), 0);
	return data;
}

static void test_shell__vars_and_cwd_persist(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(
		run(f, "PLAIN=one; export EXP=two; mkdir -p sub; cd sub"), 0);
	assert_int_equal(
		run(f, "echo \"[$PLAIN][$EXP][$(basename $PWD)][$FOO]\""), 0);
	assert_int_equal(run(f, "sh -c 'echo child:$PLAIN'"), 0);
	text = logtext(f);
	assert_non_null(strstr(text, "[one][two][sub][start]"));
	/* plain assignments are exported to children (set -a) */
	assert_non_null(strstr(text, "child:one"));
	assert_string_equal(shell_getenv(&f->sh, "PLAIN"), "one");
	assert_non_null(strstr(shell_cwd(&f->sh), "/sub"));
	free(text);
}

static void test_shell__functions_and_options_do_not_persist(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(run(f, "myfn() { echo fn; }; set -e; myfn"), 0);
	assert_int_not_equal(run(f, "myfn"), 0);
	/* set -e did not carry: false then echo succeeds */
	assert_int_equal(run(f, "false; echo after-false"), 0);
	text = logtext(f);
	assert_non_null(strstr(text, "after-false"));
	free(text);
}

static void test_shell__command_on_line_4(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(run(f, "no-such-command-xyz"), 127);
	text = logtext(f);
	assert_non_null(strstr(text, "script.sh: 4:"));
	free(text);
}

static void test_shell__exit_status_and_exit_keeps_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, "X=kept; exit 7"), 7);
	assert_string_equal(shell_getenv(&f->sh, "X"), "kept");
	assert_string_equal(shell_getenv(&f->sh, "CODEBUILD_LAST_EXIT"), "7");
	assert_int_equal(run(f, "unset X"), 0);
	assert_null(shell_getenv(&f->sh, "X"));
}

static void test_shell__tricky_values_round_trip(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, "A=\"it's \\\"q\\\" \\$x \\\\ \\`b\\`\"; "
				"B=$(printf 'l1\\nl2\\tend'); C="),
			 0);
	assert_int_equal(run(f, "true"), 0);
	assert_string_equal(shell_getenv(&f->sh, "A"), "it's \"q\" $x \\ `b`");
	assert_string_equal(shell_getenv(&f->sh, "B"), "l1\nl2\tend");
	assert_string_equal(shell_getenv(&f->sh, "C"), "");
}

static void test_shell__setenv_reaches_commands(void **state)
{
	struct fixture *f = *state;
	char *text;

	shell_setenv(&f->sh, "CODEBUILD_BUILD_SUCCEEDING", "0");
	assert_int_equal(run(f, "echo succ=$CODEBUILD_BUILD_SUCCEEDING"), 0);
	text = logtext(f);
	assert_non_null(strstr(text, "succ=0"));
	free(text);
}

static void test_shell__v01_keeps_nothing(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(run(f, "export V=1; mkdir -p d; cd d"), 0);
	assert_int_equal(run(f, "echo \"v=[$V] dir=$(basename $PWD)\""), 0);
	text = logtext(f);
	assert_non_null(strstr(text, "v=[] dir=sw-shell-"));
	free(text);
}

static void test_shell__expand(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	const char *in[] = { "plain/**/*", "$OUT/x-$(echo y)", "*.jar",
			     "a\"b$OUT" };
	char **out;

	assert_int_equal(run(f, "OUT=dist"), 0);
	assert_int_equal(shell_expand(&f->sh, in, 4, &out, &e), 0);
	assert_string_equal(out[0], "plain/**/*");
	assert_string_equal(out[1], "dist/x-y");
	assert_string_equal(out[2], "*.jar");
	assert_string_equal(out[3], "a\"bdist");
	for (int i = 0; i < 4; i++)
		free(out[i]);
	free(out);
}

static void test_shell__timeout_kills_command(void **state)
{
	struct fixture *f = *state;
	struct shell_result r;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();

	assert_int_equal(shell_run(&f->sh, "sleep 30", NULL,
				   proc_now_ms() + 200, &r, &e),
			 0);
	assert_int_equal(r.end, SHELL_TIMEDOUT);
	assert_true(proc_now_ms() - t0 < 5000);
}

static void test_shell__background_output_does_not_block(void **state)
{
	struct fixture *f = *state;
	char *text;
	int64_t t0 = proc_now_ms();

	/* holds the pipe open; the command must still end at once */
	assert_int_equal(run(f, "(sleep 5; echo late) & echo started"), 0);
	assert_true(proc_now_ms() - t0 < 3000);
	text = logtext(f);
	assert_non_null(strstr(text, "started"));
	free(text);
}

static void test_shell__parse_exports_dash_and_bash(void **state)
{
	struct strvec env = STRVEC_INIT;
	const char dash[] = "export A='x'\"'\"'y'\nexport B='l1\nl2'\n"
			    "export E\nexport PWD='/tmp'\n";
	const char bash[] =
		"declare -x A=\"x'y\"\ndeclare -x B=$'l1\\nl2\\t\\001'\n"
		"declare -x C=\"a\\\"b\\$c\\\\d\\`e\"\ndeclare -x OLDPWD\n"
		"declare -rx R=\"ro\"\n";

	(void)state;
	shell_parse_exports(dash, sizeof(dash) - 1, &env);
	assert_int_equal(env.nr, 3);
	assert_string_equal(env.v[0], "A=x'y");
	assert_string_equal(env.v[1], "B=l1\nl2");
	assert_string_equal(env.v[2], "PWD=/tmp");
	shell_parse_exports(bash, sizeof(bash) - 1, &env);
	assert_int_equal(env.nr, 4);
	assert_string_equal(env.v[0], "A=x'y");
	assert_string_equal(env.v[1], "B=l1\nl2\t\001");
	assert_string_equal(env.v[2], "C=a\"b$c\\d`e");
	assert_string_equal(env.v[3], "R=ro");
	strvec_release(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_shell__vars_and_cwd_persist, setup_sh, teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__vars_and_cwd_persist, setup_bash, teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__functions_and_options_do_not_persist,
			setup_sh, teardown),
		cmocka_unit_test_setup_teardown(test_shell__command_on_line_4,
						setup_sh, teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__exit_status_and_exit_keeps_state, setup_sh,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__tricky_values_round_trip, setup_sh,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__tricky_values_round_trip, setup_bash,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__setenv_reaches_commands, setup_sh,
			teardown),
		cmocka_unit_test_setup_teardown(test_shell__v01_keeps_nothing,
						setup_v01, teardown),
		cmocka_unit_test_setup_teardown(test_shell__expand, setup_sh,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__timeout_kills_command, setup_sh, teardown),
		cmocka_unit_test_setup_teardown(
			test_shell__background_output_does_not_block, setup_sh,
			teardown),
		cmocka_unit_test(test_shell__parse_exports_dash_and_bash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
