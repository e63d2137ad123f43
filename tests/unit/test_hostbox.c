#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "hostbox.h"

struct fixture {
	char dir[64];
	char *root, *work, *agent;
	pid_t pid;
};

static bool usable(void)
{
	struct sw_err e = SW_ERR_INIT;

	return geteuid() == 0 && hostbox_probe(&e) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_hostbox.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->root = fs_join(f->dir, "root");
	f->work = fs_join(f->dir, "work");
	f->agent = fs_join(f->dir, "agent");
	if (mkdir(f->root, 0755) < 0 || mkdir(f->work, 0700) < 0 ||
	    mkdir(f->agent, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	if (f->pid)
		hostbox_stop(f->pid, hostbox_starttime(f->pid), 0, &e);
	fs_remove_tree(f->dir, &e);
	free(f->root);
	free(f->work);
	free(f->agent);
	free(f);
	return 0;
}

static void test_hostbox__starttime_names_one_process(void **state)
{
	unsigned long long me = hostbox_starttime(getpid());
	pid_t child;
	int st;

	(void)state;
	assert_true(me > 0);
	assert_true(hostbox_alive(getpid(), me));
	assert_false(hostbox_alive(getpid(), me + 1));
	assert_false(hostbox_alive(0, me));
	child = fork();
	if (child == 0)
		_exit(0);
	assert_true(child > 0);
	/* a zombie is not alive (within 5 s of its exit) */
	for (int i = 0; i < 5000 && hostbox_starttime(child) != 0; i++)
		usleep(1000);
	assert_int_equal(hostbox_starttime(child), 0);
	waitpid(child, &st, 0);
	assert_int_equal(hostbox_starttime(child), 0);
}

static struct hostbox_opts opts_of(const struct fixture *f)
{
	struct hostbox_opts o = HOSTBOX_OPTS_INIT;

	o.name = "unit-host";
	o.root = f->root;
	o.work = f->work;
	o.agent_root = f->agent;
	o.grace_ms = 1000;
	return o;
}

static bool exists_inside(pid_t pid, const char *path)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, path);
	return stat(p, &st) == 0;
}

static void test_hostbox__view_and_stop(void **state)
{
	struct fixture *f = *state;
	struct hostbox_opts o = opts_of(f);
	struct sw_err e = SW_ERR_INIT;
	unsigned long long start;
	char *marker = fs_join(f->agent, "marker");
	char *etc = fs_join(f->root, "etc/unit-host-file");

	if (!usable())
		skip();
	assert_int_equal(fs_write_atomic(marker, "x", 1, 0644, &e), 0);
	assert_int_equal(hostbox_start(&o, &f->pid, &e), 0);
	start = hostbox_starttime(f->pid);
	assert_true(hostbox_alive(f->pid, start));
	/* this machine's system below, the agent state where the agent
	 * keeps it, the skeleton made */
	assert_true(exists_inside(f->pid, "/usr/bin"));
	assert_true(exists_inside(f->pid, "/etc/passwd"));
	assert_true(exists_inside(f->pid, HOSTBOX_AGENT_ROOT "/marker"));
	assert_true(exists_inside(f->pid, "/var/tmp"));
	{
		char *log = fs_join(f->root, "var/log");

		assert_true(fs_is_dir(log));
		free(log);
	}
	/* a write to /etc inside lands in the host's root */
	{
		char p[PATH_MAX];
		FILE *w;

		snprintf(p, sizeof(p), "/proc/%d/root/etc/unit-host-file",
			 (int)f->pid);
		w = fopen(p, "w");
		assert_non_null(w);
		fputs("mine\n", w);
		fclose(w);
	}
	assert_true(fs_exists(etc));
	assert_false(fs_exists("/etc/unit-host-file"));
	assert_int_equal(hostbox_stop(f->pid, start, 1000, &e), 0);
	assert_false(hostbox_alive(f->pid, start));
	f->pid = 0;
	free(marker);
	free(etc);
}

static void test_hostbox__refuses_links_and_bad_paths(void **state)
{
	struct fixture *f = *state;
	struct hostbox_opts o = opts_of(f);
	struct sw_err e = SW_ERR_INIT;
	char *link = fs_join(f->root, "etc");
	char bad[128];

	if (!usable())
		skip();
	assert_int_equal(symlink("../../../etc", link), 0);
	assert_int_equal(hostbox_start(&o, &f->pid, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "symbolic link at '/etc'"));
	assert_int_equal(f->pid, 0);
	snprintf(bad, sizeof(bad), "%s,x", f->root);
	o.root = bad;
	err_clear(&e);
	assert_int_equal(hostbox_start(&o, &f->pid, &e), -1);
	assert_non_null(strstr(e.msg, "without ',' ':'"));
	free(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostbox__starttime_names_one_process),
		cmocka_unit_test_setup_teardown(test_hostbox__view_and_stop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hostbox__refuses_links_and_bad_paths, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
