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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "proc.h"
#include "sandbox.h"
#include "xalloc.h"

struct fixture {
	char dir[64];
	char *src;
	char *rw;
	char *at;
	struct sandbox sb;
};

static bool usable(void)
{
	struct sw_err e = SW_ERR_INIT;

	return geteuid() == 0 && sandbox_probe(&e) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sw_err e = SW_ERR_INIT;

	if (!f || proc_signals_init(&e) < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sandbox.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->src = fs_join(f->dir, "src");
	f->rw = fs_join(f->dir, "rw");
	if (mkdir(f->src, 0755) < 0 || mkdir(f->rw, 0755) < 0)
		return -1;
	f->at = sandbox_src_path();
	f->sb = (struct sandbox)SANDBOX_INIT;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	sandbox_stop(&f->sb);
	fs_remove_tree(f->dir, &e);
	free(f->src);
	free(f->rw);
	free(f->at);
	free(f);
	return 0;
}

static int start_limited(struct fixture *f, bool network_none, long pids)
{
	struct sandbox_opts o = SANDBOX_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;

	o.src = f->src;
	o.src_at = f->at;
	o.rw_dir = f->rw;
	o.network_none = network_none;
	o.pids = pids;
	if (sandbox_start(&f->sb, &o, &e) < 0) {
		print_error("%s\n", e.msg);
		return -1;
	}
	return 0;
}

static int start(struct fixture *f, bool network_none)
{
	return start_limited(f, network_none, 0);
}

/* The exit status of sh -c script run inside the sandbox. */
static int run_in(struct fixture *f, const char *script, const char *cwd)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	const char *env[] = { "PATH=/usr/bin:/bin", NULL };
	pid_t pid;
	int st;

	o.argv = argv;
	o.env = env;
	o.cwd = cwd;
	o.sandbox = f->sb.pid;
	if (proc_spawn(&o, &pid, &e) < 0) {
		print_error("%s\n", e.msg);
		return -1;
	}
	st = proc_wait(pid);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static void test_sandbox__src_path_has_codebuild_layout(void **state)
{
	char *p = sandbox_src_path();
	unsigned n;
	char tail[8];

	(void)state;
	assert_int_equal(sscanf(p, "/codebuild/output/src%u/%7s", &n, tail), 2);
	assert_string_equal(tail, "src");
	free(p);
}

static void test_sandbox__host_read_only_source_writable(void **state)
{
	struct fixture *f = *state;
	char *script, *out;

	if (!usable())
		skip();
	assert_int_equal(start(f, false), 0);
	assert_true(f->sb.pid > 0);
	/* the source is written at its sandbox path and seen on the host */
	script = fs_join(f->at, "made");
	out = fs_join(f->src, "made");
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "test \"$(pwd)\" = %s && touch %s",
			 f->at, script);
		assert_int_equal(run_in(f, cmd, f->at), 0);
	}
	assert_int_equal(access(out, F_OK), 0);
	free(script);
	free(out);
	/* the host's root is read-only, /tmp is private and writable */
	assert_int_not_equal(run_in(f, "touch /etc/sandbox-unit-test", "/"), 0);
	assert_int_not_equal(access("/etc/sandbox-unit-test", F_OK), 0);
	assert_int_equal(run_in(f, "touch /tmp/x && test -f /tmp/x", "/"), 0);
	/* the rw directory is writable at its own path */
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "touch %s/y", f->rw);
		assert_int_equal(run_in(f, cmd, "/"), 0);
	}
}

static void test_sandbox__pid_namespace_and_exit_status(void **state)
{
	struct fixture *f = *state;

	if (!usable())
		skip();
	assert_int_equal(start(f, false), 0);
	/* the holder is pid 1; the host's processes are not there */
	assert_int_equal(run_in(f,
				"test \"$(cat /proc/1/comm)\" != systemd "
				"&& test $(ls /proc | grep -c '^[0-9]') "
				"-le 5",
				"/"),
			 0);
	assert_int_equal(run_in(f, "exit 7", "/"), 7);
	assert_int_equal(run_in(f, "kill -TERM $$", "/"), 128 + SIGTERM);
}

static void test_sandbox__stop_kills_what_is_left(void **state)
{
	struct fixture *f = *state;
	char path[128];

	if (!usable())
		skip();
	assert_int_equal(start(f, false), 0);
	assert_int_equal(run_in(f,
				"setsid sleep 600 </dev/null >/dev/null "
				"2>&1 & echo $! >/tmp/pid",
				"/"),
			 0);
	snprintf(path, sizeof(path), "/proc/%d/root/tmp/pid", (int)f->sb.pid);
	assert_int_equal(access(path, F_OK), 0);
	{
		pid_t holder = f->sb.pid;

		sandbox_stop(&f->sb);
		assert_int_equal(f->sb.pid, 0);
		assert_int_equal(kill(holder, 0), -1);
	}
}

static void test_sandbox__network_none_has_only_lo(void **state)
{
	struct fixture *f = *state;

	if (!usable())
		skip();
	assert_int_equal(start(f, true), 0);
	assert_int_equal(run_in(f,
				"test \"$(ls /sys/class/net 2>/dev/null | "
				"grep -v '^lo$' | wc -l)\" -eq 0 || "
				"test \"$(grep -vc 'lo:\\|Inter\\|face' "
				"/proc/net/dev)\" -eq 0",
				"/"),
			 0);
}

static void test_sandbox__pids_limit_refuses_forks(void **state)
{
	struct fixture *f = *state;
	char *ev;

	if (!usable())
		skip();
	assert_int_equal(start_limited(f, false, 10), 0);
	assert_non_null(f->sb.note);
	assert_non_null(strstr(f->sb.note, "pids by "));
	if (!strstr(f->sb.note, "cgroup"))
		skip(); /* RLIMIT_NPROC does not hold root */
	/* a fork past the limit fails; the limit says so */
	assert_int_not_equal(run_in(f,
				    "i=0; while [ $i -lt 30 ]; do "
				    "sleep 5 & i=$((i+1)); done",
				    "/"),
			     0);
	ev = sandbox_limit_events(&f->sb);
	assert_non_null(ev);
	assert_non_null(strstr(ev, "pids limit refused"));
	free(ev);
}

static void test_sandbox__no_limit_no_events(void **state)
{
	struct fixture *f = *state;

	if (!usable())
		skip();
	assert_int_equal(start(f, false), 0);
	assert_int_equal(run_in(f, "true", "/"), 0);
	assert_null(sandbox_limit_events(&f->sb));
	assert_non_null(strstr(f->sb.note, "pids by none"));
}

static int start_opts(struct fixture *f, struct sandbox_opts *o)
{
	struct sw_err e = SW_ERR_INIT;

	o->src = f->src;
	o->src_at = f->at;
	o->rw_dir = f->rw;
	if (sandbox_start(&f->sb, o, &e) < 0) {
		print_error("%s\n", e.msg);
		return -1;
	}
	return 0;
}

/*
 * Binds at paths the host lacks get mount points without the host being
 * written: the deeper one first, to be sure the shallower one's shadow
 * does not hide it.
 */
static void test_sandbox__binds_at_missing_paths(void **state)
{
	struct fixture *f = *state;
	struct sandbox_opts o = SANDBOX_OPTS_INIT;
	struct sandbox_bind b[3];
	char *host[3], at[3][96], cmd[1024];
	unsigned n = (unsigned)getpid();

	if (!usable())
		skip();
	memset(b, 0, sizeof(b));
	snprintf(at[0], sizeof(at[0]), "/var/cache/sw-unit-%u/deep", n);
	snprintf(at[1], sizeof(at[1]), "/var/sw-unit-%u", n);
	snprintf(at[2], sizeof(at[2]), "/tmp/sw-unit-%u", n);
	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "c%d", i);
		host[i] = fs_join(f->dir, name); /* sandbox_start makes it */
		b[i].host = host[i];
		b[i].at = at[i];
	}
	o.binds = b;
	o.nbinds = 3;
	assert_int_equal(start_opts(f, &o), 0);
	snprintf(cmd, sizeof(cmd),
		 "echo a >%s/f && echo b >%s/f && echo c >%s/f && "
		 "test -d /var/cache && test -d /var/lib && "
		 "! touch /var/sw-unit-x-%u 2>/dev/null && "
		 "! touch /var/cache/sw-unit-x-%u 2>/dev/null",
		 at[0], at[1], at[2], n, n);
	assert_int_equal(run_in(f, cmd, "/"), 0);
	for (int i = 0; i < 3; i++) {
		char *p = fs_join(host[i], "f");

		assert_int_equal(access(p, F_OK), 0);
		free(p);
		/* the machine's path was never made */
		assert_int_not_equal(access(at[i], F_OK), 0);
		free(host[i]);
	}
	snprintf(cmd, sizeof(cmd), "/var/cache/sw-unit-%u", n);
	assert_int_not_equal(access(cmd, F_OK), 0);
}

/* Whether the machine's /etc/passwd names user. */
static bool host_has_user(const char *user)
{
	char line[1024];
	size_t n = strlen(user);
	bool yes = false;
	FILE *fp = fopen("/etc/passwd", "r");

	while (fp && !yes && fgets(line, sizeof(line), fp))
		yes = !strncmp(line, user, n) && line[n] == ':';
	if (fp)
		fclose(fp);
	return yes;
}

/* The build's own /etc/passwd over the view's, read-only. */
static void test_sandbox__file_bind(void **state)
{
	struct fixture *f = *state;
	struct sandbox_opts o = SANDBOX_OPTS_INIT;
	struct sandbox_bind b = { NULL, "/etc/passwd", true };
	char *host = fs_join(f->dir, "passwd");
	FILE *fp;

	if (!usable())
		skip();
	fp = fopen(host, "w");
	assert_non_null(fp);
	fputs("root:x:0:0::/root:/bin/sh\nsw-unit-user:x:4242:4242::/:/bin/"
	      "sh\n",
	      fp);
	fclose(fp);
	b.host = host;
	o.binds = &b;
	o.nbinds = 1;
	assert_int_equal(start_opts(f, &o), 0);
	assert_int_equal(
		run_in(f,
		       "grep -q '^sw-unit-user:x:4242:' /etc/passwd && "
		       "! echo x 2>/dev/null >>/etc/passwd",
		       "/"),
		0);
	/* the machine's file is untouched */
	assert_false(host_has_user("sw-unit-user"));
	free(host);
}

/*
 * A file bind where the view has no file (an agent's socket at a neutral
 * path): the point is made in the view, never on the machine, in a
 * directory the machine has (/etc) and in the private /tmp.
 */
static void test_sandbox__file_bind_at_missing_path(void **state)
{
	struct fixture *f = *state;
	struct sandbox_opts o = SANDBOX_OPTS_INIT;
	struct sandbox_bind b[2] = { { NULL, NULL, true },
				     { NULL, "/tmp/sw-unit/x/f", true } };
	char *host = fs_join(f->dir, "f");
	char *at = xasprintf("/etc/sw-unit-%ld/f", (long)getpid());
	char *script;
	FILE *fp;

	if (!usable())
		skip();
	fp = fopen(host, "w");
	assert_non_null(fp);
	fputs("sw-unit-content\n", fp);
	fclose(fp);
	b[0].host = host;
	b[0].at = at;
	b[1].host = host;
	o.binds = b;
	o.nbinds = 2;
	assert_int_equal(start_opts(f, &o), 0);
	script = xasprintf("grep -qx sw-unit-content %s && "
			   "grep -qx sw-unit-content /tmp/sw-unit/x/f && "
			   "test -f /etc/passwd && "
			   "! echo x 2>/dev/null >>%s",
			   at, at);
	assert_int_equal(run_in(f, script, "/"), 0);
	*strrchr(at, '/') = '\0';
	assert_int_equal(access(at, F_OK), -1);
	free(script);
	free(at);
	free(host);
}

static void test_sandbox__bind_in_proc_refused(void **state)
{
	struct fixture *f = *state;
	struct sandbox_opts o = SANDBOX_OPTS_INIT;
	struct sandbox_bind b = { NULL, "/proc/sw-unit", false };
	struct sw_err e = SW_ERR_INIT;
	char *host = fs_join(f->dir, "c");

	if (!usable())
		skip();
	b.host = host;
	o.src = f->src;
	o.src_at = f->at;
	o.binds = &b;
	o.nbinds = 1;
	assert_int_equal(sandbox_start(&f->sb, &o, &e), -1);
	assert_non_null(strstr(e.msg, "cannot mount at '/proc/sw-unit'"));
	assert_int_equal(f->sb.pid, 0);
	free(host);
}

static void test_sandbox__cpu_time_limit(void **state)
{
	struct fixture *f = *state;
	struct sandbox_opts o = SANDBOX_OPTS_INIT;

	if (!usable())
		skip();
	o.cpu_time = 1;
	assert_int_equal(start_opts(f, &o), 0);
	assert_non_null(strstr(f->sb.note, "cpu time by RLIMIT_CPU"));
	assert_int_equal(run_in(f, "while :; do :; done", "/"), 128 + SIGXCPU);
	/* a new process has a count of its own */
	assert_int_equal(run_in(f, "true", "/"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox__src_path_has_codebuild_layout),
		cmocka_unit_test_setup_teardown(
			test_sandbox__host_read_only_source_writable, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__pid_namespace_and_exit_status, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__stop_kills_what_is_left, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__network_none_has_only_lo, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__pids_limit_refuses_forks, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__no_limit_no_events, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__binds_at_missing_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__bind_in_proc_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox__file_bind, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_sandbox__file_bind_at_missing_path, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_sandbox__cpu_time_limit,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
