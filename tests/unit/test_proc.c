#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* ctty: the child leads a session whose terminal is the pty it got. */
static void test_proc__spawn_with_a_terminal(void **state)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	/* /dev/tty opens only for a process with a controlling terminal;
	 * a session leader's pid is its session id */
	const char *argv[] = { "sh", "-c",
			       "exec 3</dev/tty && "
			       "test \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$",
			       NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	char name[128];
	int master, slave, st;
	pid_t pid;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(ptsname_r(master, name, sizeof(name)), 0);
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	o.argv = argv;
	o.env = env;
	o.in_fd = o.out_fd = slave;
	o.ctty = true;
	assert_int_equal(proc_spawn(&o, &pid, &e), 0);
	close(slave);
	st = proc_wait(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* without ctty the same command has no terminal to open */
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	o.in_fd = o.out_fd = slave;
	o.ctty = false;
	o.err_fd = -1;
	assert_int_equal(proc_spawn(&o, &pid, &e), 0);
	close(slave);
	st = proc_wait(pid);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	close(master);
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

/* Up to 10 s for every pid to end (zombies count as ended; ours are
 * reaped on the way, as the test binary is a subreaper). */
static bool all_gone(const pid_t *pids, size_t n)
{
	int64_t deadline = proc_now_ms() + 10000;

	while (proc_now_ms() < deadline) {
		size_t live = 0;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (size_t j = 0; j < n; j++)
			live += alive(pids[j]);
		if (!live)
			return true;
		poll(NULL, 0, 10);
	}
	return false;
}

/* One line from fd (up to 10 s), without its newline. */
static bool read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	int64_t deadline = proc_now_ms() + 10000;

	while (n + 1 < size) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = deadline - proc_now_ms();
		int r = poll(&p, 1, left > 0 ? (int)left : 0);

		if (r < 0 && errno == EINTR) /* a SIGCHLD of an orphan */
			continue;
		if (r <= 0 || read(fd, line + n, 1) != 1)
			return false;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return true;
}

enum parent_mode {
	HOLDER_LEADS, /* proc_group_start, the command joins */
	COMMAND_LEADS, /* the command leads, proc_group_hold */
	STOPPING /* HOLDER_LEADS, killed while proc_group_stop waits */
};

/*
 * A stand-in for slipway: holds a group and runs a command in it that
 * leaves background children, a nested shell's, and a setsid child that
 * leads a session of its own (all ignoring SIGTERM); prints their pids,
 * then "holder PID", on fd, and waits to be killed (in STOPPING, inside
 * proc_group_stop with a long grace, begun when a byte comes on go).
 */
static void killed_parent(int fd, int go, enum parent_mode mode)
{
	static const char script[] =
		"trap '' TERM; sleep 300 & echo $!; "
		"sh -c 'echo $$; sleep 300 & echo $!; exec sleep 300' & "
		"setsid sh -c 'echo $$; exec sleep 300' & "
		"echo $$; exec sleep 300";
	const char *argv[] = { "sh", "-c", script, NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct proc_group g = PROC_GROUP_INIT;
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	pid_t pid;
	char c;

	if (mode != COMMAND_LEADS && proc_group_start(&g, &e) < 0)
		_exit(1);
	o.argv = argv;
	o.env = env;
	o.out_fd = fd;
	o.pgid = g.pgid;
	if (proc_spawn(&o, &pid, &e) < 0)
		_exit(1);
	if (mode == COMMAND_LEADS &&
	    (proc_group_hold(&g, pid, &e) < 0 || g.pgid != pid))
		_exit(1);
	if (dprintf(fd, "holder %d\n", (int)g.holder) < 0)
		_exit(1);
	if (mode == STOPPING && read(go, &c, 1) == 1)
		proc_group_stop(&g, 60000);
	for (;;)
		pause();
}

static void parent_killed(enum parent_mode mode)
{
	pid_t pids[8], middle, self, holder = 0, pgid;
	size_t n = 0;
	bool gone;
	int p[2], go[2], i;
	char line[64];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(go), 0);
	self = getpid();
	middle = fork();
	assert_true(middle >= 0);
	if (middle == 0) {
		/* gone with us should an assertion fail before its kill */
		proc_die_with_parent(self, SIGKILL);
		close(p[0]);
		close(go[1]);
		killed_parent(p[1], go[0], mode);
	}
	close(p[1]);
	close(go[0]);
	while (n < 5 || !holder) {
		assert_true(read_line(p[0], line, sizeof(line)));
		if (!strncmp(line, "holder ", 7)) {
			holder = atoi(line + 7);
		} else {
			assert_true(n < 5);
			pids[n++] = atoi(line);
		}
	}
	close(p[0]);
	for (size_t j = 0; j < n; j++)
		assert_true(pids[j] > 0 && alive(pids[j]));
	pgid = getpgid(holder);
	assert_true(holder > 0 && pgid > 0);
	if (mode != COMMAND_LEADS)
		assert_int_equal(pgid, holder);
	if (mode == STOPPING) { /* up to 10 s for the stop to move it out */
		assert_int_equal(write(go[1], "", 1), 1);
		for (i = 0; i < 1000 && getpgid(holder) == pgid; i++)
			poll(NULL, 0, 10);
		assert_true(i < 1000);
	}
	close(go[1]);
	assert_int_equal(kill(middle, SIGKILL), 0);
	assert_int_equal(waitpid(middle, NULL, 0), middle);
	gone = all_gone(pids, n);
	for (size_t j = 0; !gone && j < n; j++)
		kill(pids[j], SIGKILL);
	assert_true(gone);
}

/* slipway killed with SIGKILL: the holder kills the group it led, and
 * the session a member's child leads. */
static void test_proc__group_dies_with_its_parent(void **state)
{
	(void)state;
	parent_killed(HOLDER_LEADS);
}

/* The same while proc_group_stop waits for what ignores SIGTERM: the
 * holder is out of the group by then, and still kills it. */
static void test_proc__group_dies_with_its_parent_in_a_stop(void **state)
{
	(void)state;
	parent_killed(STOPPING);
}

/* The same for a group led by the command (a hook script), held. */
static void test_proc__held_group_dies_with_its_parent(void **state)
{
	(void)state;
	parent_killed(COMMAND_LEADS);
}

static bool usr1_pending(pid_t pid)
{
	char path[64], line[256];
	bool pending = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;

		if ((!strncmp(line, "ShdPnd:", 7) ||
		     !strncmp(line, "SigPnd:", 7)) &&
		    sscanf(line + 7, "%llx", &mask) == 1 &&
		    !(mask & (1ULL << (SIGUSR1 - 1))))
			pending = false;
	}
	fclose(f);
	return pending;
}

/* A SIGUSR1 from a command (not the parent's death) changes nothing;
 * releasing the holder leaves the group's leader running. */
static void test_proc__holder_stays_while_its_parent_lives(void **state)
{
	const char *argv[] = { "sleep", "300", NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct proc_group g = PROC_GROUP_INIT;
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	pid_t pid, holder;
	int i;

	(void)state;
	o.argv = argv;
	o.env = env;
	assert_int_equal(proc_spawn(&o, &pid, &e), 0);
	assert_int_equal(proc_group_hold(&g, pid, &e), 0);
	assert_int_equal(g.pgid, pid);
	holder = g.holder;
	assert_int_equal(getpgid(holder), pid);
	assert_int_equal(kill(holder, SIGUSR1), 0);
	for (i = 0; i < 1000 && usr1_pending(holder); i++)
		poll(NULL, 0, 10);
	assert_true(i < 1000);
	assert_true(alive(holder));
	assert_true(alive(pid));
	proc_group_release(&g);
	assert_int_equal(g.pgid, 0);
	assert_int_equal(g.holder, 0);
	assert_false(alive(holder));
	assert_true(alive(pid));
	kill(pid, SIGKILL);
	proc_wait(pid);
}

/* proc_die_with_parent: the signal when the parent dies, at once when
 * it has already died. */
static void test_proc__die_with_parent(void **state)
{
	pid_t middle, child, parent;
	int p[2], st = 0, i;
	char line[64];

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		signal(SIGTERM, SIG_DFL);
		proc_die_with_parent(1, SIGTERM); /* 1 is not our parent */
		_exit(0);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

	assert_int_equal(pipe(p), 0);
	parent = getpid();
	middle = fork();
	assert_true(middle >= 0);
	if (middle == 0) {
		proc_die_with_parent(parent, SIGKILL);
		parent = getpid();
		if (fork() == 0) {
			signal(SIGTERM, SIG_DFL);
			proc_die_with_parent(parent, SIGTERM);
			dprintf(p[1], "%d\n", (int)getpid());
			for (;;)
				pause();
		}
		for (;;)
			pause();
	}
	close(p[1]);
	assert_true(read_line(p[0], line, sizeof(line)));
	close(p[0]);
	child = atoi(line);
	assert_true(child > 0 && alive(child));
	kill(middle, SIGKILL);
	assert_int_equal(waitpid(middle, NULL, 0), middle);
	/* reparented to us (a subreaper): its status says which signal */
	for (i = 0; i < 1000; i++) {
		if (waitpid(child, &st, WNOHANG) == child)
			break;
		poll(NULL, 0, 10);
	}
	assert_true(i < 1000);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
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
		cmocka_unit_test(test_proc__spawn_with_a_terminal),
		cmocka_unit_test(test_proc__group_stop_kills_daemons),
		cmocka_unit_test(test_proc__group_dies_with_its_parent),
		cmocka_unit_test(
			test_proc__group_dies_with_its_parent_in_a_stop),
		cmocka_unit_test(test_proc__held_group_dies_with_its_parent),
		cmocka_unit_test(
			test_proc__holder_stays_while_its_parent_lives),
		cmocka_unit_test(test_proc__die_with_parent),
		cmocka_unit_test(test_proc__clocks),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
