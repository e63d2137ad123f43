#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "proc.h"

static int setup(void **state)
{
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	return proc_signals_init(&e);
}

static void test_proc__spawn_reports_exec_failure(void **state)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *argv[] = { "/no/such/program", NULL };
	pid_t pid;

	(void)state;
	o.argv = argv;
	assert_int_equal(proc_spawn(&o, &pid, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "/no/such/program"));
}

static void test_proc__spawn_env_cwd_and_path_lookup(void **state)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *argv[] = { "sh", "-c",
			       "test \"$X\" = y && test \"$PWD\" = /tmp",
			       NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", "X=y", NULL };
	pid_t pid;
	int st;

	(void)state;
	o.argv = argv;
	o.env = env;
	o.cwd = "/tmp";
	assert_int_equal(proc_spawn(&o, &pid, &e), 0);
	st = proc_wait(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static bool alive(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	char *p;
	bool zombie = false;

	if (kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		zombie = p[2] == 'Z';
	fclose(f);
	return !zombie;
}

static void test_proc__group_stop_kills_daemons(void **state)
{
	struct proc_group g = PROC_GROUP_INIT;
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	char pidfile[] = "/tmp/sw-proc-XXXXXX";
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	char *cmd, *data = NULL;
	const char *argv[4];
	size_t len;
	pid_t pid, daemon_pid, bg_pid;
	int fd = mkstemp(pidfile);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* one plain background child and one that escapes with setsid */
	assert_int_equal(proc_group_start(&g, &e), 0);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[3] = NULL;
	{
		char script[512];

		snprintf(script, sizeof(script),
			 "sleep 300 & echo $! > %s.bg; "
			 "setsid sh -c 'echo $$ > %s; exec sleep 300' & "
			 "sleep 0.3",
			 pidfile, pidfile);
		argv[2] = script;
		o.argv = argv;
		o.env = env;
		o.pgid = g.pgid;
		assert_int_equal(proc_spawn(&o, &pid, &e), 0);
		proc_wait(pid);
	}
	assert_int_equal(fs_read_file(pidfile, 64, &data, &len, &e), 0);
	daemon_pid = atoi(data);
	free(data);
	cmd = malloc(strlen(pidfile) + 4);
	memcpy(cmd, pidfile, strlen(pidfile));
	memcpy(cmd + strlen(pidfile), ".bg", 4);
	assert_int_equal(fs_read_file(cmd, 64, &data, &len, &e), 0);
	bg_pid = atoi(data);
	free(data);
	assert_true(daemon_pid > 0 && alive(daemon_pid));
	assert_true(bg_pid > 0 && alive(bg_pid));
	proc_group_stop(&g, 1000);
	assert_false(alive(daemon_pid));
	assert_false(alive(bg_pid));
	assert_int_equal(g.pgid, 0);
	unlink(pidfile);
	unlink(cmd);
	free(cmd);
}

static void test_proc__clocks(void **state)
{
	int64_t a = proc_now_ms();

	(void)state;
	assert_true(proc_wall_ms() > 1600000000000LL);
	assert_true(proc_now_ms() >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc__spawn_reports_exec_failure),
		cmocka_unit_test(test_proc__spawn_env_cwd_and_path_lookup),
		cmocka_unit_test(test_proc__group_stop_kills_daemons),
		cmocka_unit_test(test_proc__clocks),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
