#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "proc.h"
#include "script.h"
#include "xalloc.h"

struct fixture {
	char dir[64]; /* the temp dir */
	char *archive; /* <dir>/deployment-archive */
	char *log; /* <dir>/logs/scripts.log */
};

/* Live lines, as a fleet would see them. */
struct lines {
	struct buf text;
};

static void collect(enum script_stream s, const char *line, size_t len,
		    void *data)
{
	struct lines *l = data;

	buf_addstr(&l->text, s == SCRIPT_STDOUT	  ? "out:"
			     : s == SCRIPT_STDERR ? "err:"
						  : "note:");
	buf_add(&l->text, line, len);
	buf_addch(&l->text, '\n');
}

static int setup(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (proc_signals_init(&e) < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-script.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* runas users must reach the scripts */
	chmod(f->dir, 0755);
	f->archive = fs_join(f->dir, "deployment-archive");
	f->log = fs_join(f->dir, "logs/scripts.log");
	if (fs_mkdir_p(f->archive, 0755, &e) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	fs_remove_tree(f->dir, &e);
	free(f->archive);
	free(f->log);
	free(f);
	return 0;
}

static void put_script(struct fixture *f, const char *name, const char *text,
		       mode_t mode)
{
	char *path = fs_join(f->archive, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
}

static void opts_for(struct fixture *f, struct script_run_opts *o,
		     const char *location)
{
	*o = (struct script_run_opts)SCRIPT_RUN_OPTS_INIT;
	o->archive_dir = f->archive;
	o->location = location;
	o->event = "AfterInstall";
	o->deployment_id = "d-ABCDEFGH1";
	o->application_name = "webapp";
	o->deployment_group_name = "staging";
	o->deployment_group_id = "dg-1234";
	o->log_path = f->log;
}

static char *read_text(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	char *text = NULL;
	size_t n;

	if (fs_read_file(path, 1 << 20, &text, &n, &e) < 0)
		return xstrdup("");
	return text;
}

/* A process that exists and is not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], buf[256];
	FILE *fp;
	char *p;
	bool zombie = false;

	if (kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')))
		zombie = p[2] == 'Z';
	fclose(fp);
	return !zombie;
}

/* The number after "key=" in text, or -1. */
static long number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void stop_pid(pid_t pid)
{
	kill(pid, SIGKILL);
	/* slipway's tests run as a subreaper: the orphan is ours */
	waitpid(pid, NULL, 0);
}

static void test_script__success_env(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct lines l = { BUF_INIT };
	const char *base[] = { "PATH=/usr/bin:/bin", "KEEP=base",
			       "LIFECYCLE_EVENT=stale", NULL };
	const char *extra[] = { "BUNDLE_COMMIT=abc123", NULL };

	put_script(f, "env.sh",
		   "#!/bin/sh\n"
		   "echo \"LE=$LIFECYCLE_EVENT\"\n"
		   "echo \"DI=$DEPLOYMENT_ID\"\n"
		   "echo \"AN=$APPLICATION_NAME\"\n"
		   "echo \"GN=$DEPLOYMENT_GROUP_NAME\"\n"
		   "echo \"GI=$DEPLOYMENT_GROUP_ID\"\n"
		   "echo \"HR=$SLIPWAY_HOST_ROOT\"\n"
		   "echo \"BC=$BUNDLE_COMMIT\"\n"
		   "echo \"KEEP=$KEEP\"\n"
		   "echo \"n=$(env | grep -c '^LIFECYCLE_EVENT=')\"\n",
		   0755);
	opts_for(f, &o, "env.sh");
	o.base_env = base;
	o.extra_env = extra;
	o.host_root = "/srv/host-1";
	o.line_fn = collect;
	o.line_data = &l;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_string_equal(r.error_code, "Success");
	assert_int_equal(r.exit_code, 0);
	assert_null(r.message);
	assert_null(r.warning);
	assert_true(r.pid > 0);
	assert_true(r.end_ms >= r.start_ms);
	assert_string_equal(l.text.ptr, "out:LE=AfterInstall\n"
					"out:DI=d-ABCDEFGH1\n"
					"out:AN=webapp\n"
					"out:GN=staging\n"
					"out:GI=dg-1234\n"
					"out:HR=/srv/host-1\n"
					"out:BC=abc123\n"
					"out:KEEP=base\n"
					"out:n=1\n");
	script_result_release(&r);
	buf_release(&l.text);
}

static void test_script__cwd_is_archive_and_stdin_closed(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();
	char *want;

	put_script(
		f, "where.sh",
		"#!/bin/sh\n"
		"echo \"cwd=$(pwd)\"\n"
		"if read line; then echo stdin=data; else echo stdin=eof; fi\n",
		0755);
	opts_for(f, &o, "where.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	want = xasprintf("[stdout]cwd=%s\n", f->archive);
	assert_non_null(strstr(r.log_tail, want));
	assert_non_null(strstr(r.log_tail, "[stdout]stdin=eof\n"));
	assert_true(proc_now_ms() - t0 < 2000);
	free(want);
	script_result_release(&r);
}

static void test_script__failure_exit_code(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;

	put_script(f, "fail.sh", "#!/bin/sh\necho 'bad config' >&2\nexit 3\n",
		   0755);
	opts_for(f, &o, "fail.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_int_equal(r.code, SCRIPT_ERR_FAILED);
	assert_string_equal(r.error_code, "ScriptFailed");
	assert_int_equal(r.exit_code, 3);
	assert_string_equal(r.message, "Script at specified location: fail.sh "
				       "failed with exit code 3");
	assert_non_null(strstr(r.log_tail, "[stderr]bad config\n"));
	script_result_release(&r);
}

static void test_script__missing(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *want, *log;

	opts_for(f, &o, "./scripts/../nope.sh");
	o.event_header = true;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_string_equal(r.error_code, "ScriptMissing");
	want = xasprintf("Script does not exist at specified location: "
			 "%s/nope.sh",
			 f->archive);
	assert_string_equal(r.message, want);
	assert_int_equal(r.pid, 0);
	assert_int_equal(r.exit_code, -1);
	/* the event header is logged, the script line is not */
	assert_string_equal(r.log_tail, "LifecycleEvent - AfterInstall\n");
	log = read_text(f->log);
	assert_null(strstr(log, "Script - "));
	free(log);
	free(want);
	script_result_release(&r);
}

static void test_script__not_executable_is_made_executable(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *path = fs_join(f->archive, "plain.sh");
	struct stat sb;

	put_script(f, "plain.sh", "#!/bin/sh\necho ran\n", 0644);
	opts_for(f, &o, "plain.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_non_null(r.warning);
	assert_non_null(strstr(r.warning, "plain.sh is not executable"));
	assert_non_null(strstr(r.log_tail, "[stdout]ran\n"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);
	free(path);
	script_result_release(&r);
}

static void test_script__not_executable_chmod_fails(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *path = fs_join(f->archive, "ro.sh");

	/* procfs refuses chmod on a process's files, even to root */
	assert_int_equal(symlink("/proc/self/environ", path), 0);
	opts_for(f, &o, "ro.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_string_equal(r.error_code, "ScriptNotExecutable");
	assert_string_equal(r.message, "Unable to set script at specified "
				       "location: ro.sh as executable");
	assert_int_equal(r.pid, 0);
	free(path);
	script_result_release(&r);
}

static void test_script__no_shebang_runs_under_sh(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;

	put_script(f, "bare.sh", "echo bare $LIFECYCLE_EVENT\n", 0755);
	opts_for(f, &o, "bare.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_non_null(strstr(r.log_tail, "[stdout]bare AfterInstall\n"));
	script_result_release(&r);
}

static void test_script__timeout_kills_group(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms(), took;

	put_script(f, "slow.sh", "#!/bin/sh\nsleep 30 &\nsleep 30\n", 0755);
	opts_for(f, &o, "slow.sh");
	o.timeout_s = 1;
	assert_int_equal(script_run(&o, &r, &e), 0);
	took = proc_now_ms() - t0;
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_string_equal(r.error_code, "ScriptTimedOut");
	assert_string_equal(r.message, "Script at specified location: slow.sh "
				       "failed to complete in 1 seconds");
	assert_int_equal(r.exit_code, -1);
	assert_true(took >= 1000);
	assert_true(took < 8000);
	assert_true(r.pid > 0);
	assert_int_equal(kill(-r.pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	script_result_release(&r);
}

static void test_script__timeout_escalates_to_kill(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms(), took;

	/* an ignored TERM is inherited by sleep too */
	put_script(f, "stubborn.sh", "#!/bin/sh\ntrap '' TERM\nsleep 30\n",
		   0755);
	opts_for(f, &o, "stubborn.sh");
	o.timeout_s = 1;
	o.kill_grace_ms = 1000;
	assert_int_equal(script_run(&o, &r, &e), 0);
	took = proc_now_ms() - t0;
	assert_string_equal(r.error_code, "ScriptTimedOut");
	assert_true(took >= 2000);
	assert_true(took < 6000);
	assert_int_equal(kill(-r.pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	script_result_release(&r);
}

static void test_script__background_holding_stdout(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct lines l = { BUF_INIT };
	int64_t t0 = proc_now_ms();
	char *want, *log;
	long bg;

	put_script(f, "start.sh", "#!/bin/sh\nsleep 30 &\necho \"bg=$!\"\n",
		   0755);
	opts_for(f, &o, "start.sh");
	o.event = "ApplicationStart";
	o.line_fn = collect;
	o.line_data = &l;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_true(proc_now_ms() - t0 < 3000);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_int_equal(r.exit_code, 0);
	assert_true(r.outputs_left_open);
	bg = number_after(r.log_tail, "[stdout]bg=");
	assert_true(bg > 0);
	assert_non_null(r.warning);
	want = xasprintf("left STDOUT open (held by pid %ld (sleep) fd 1)", bg);
	assert_non_null(strstr(r.warning, want));
	free(want);
	want = xasprintf("left STDERR open (held by pid %ld (sleep) fd 2)", bg);
	assert_non_null(strstr(r.warning, want));
	free(want);
	assert_non_null(strstr(l.text.ptr, "note:Script at specified"));
	log = read_text(f->log);
	assert_non_null(strstr(log, " [slipway]Script at specified location: "
				    "start.sh exited but left STDOUT open"));
	free(log);
	/* the daemon keeps running */
	assert_true(alive((pid_t)bg));
	stop_pid((pid_t)bg);
	buf_release(&l.text);
	script_result_release(&r);
}

static void test_script__daemon_with_redirection(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();
	long bg;

	put_script(f, "daemon.sh",
		   "#!/bin/sh\nnohup sleep 30 >/dev/null 2>&1 &\n"
		   "echo \"bg=$!\"\n",
		   0755);
	opts_for(f, &o, "daemon.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_true(proc_now_ms() - t0 < 900);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_false(r.outputs_left_open);
	assert_null(r.warning);
	bg = number_after(r.log_tail, "[stdout]bg=");
	assert_true(bg > 0);
	assert_true(alive((pid_t)bg));
	stop_pid((pid_t)bg);
	script_result_release(&r);
}

static void test_script__scripts_log_format(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *stamp = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:"
			    "[0-9]{2} ";
	/* a last line without a newline is written as it is, as the
	 * agent writes it: the next message follows on the same line */
	const char *msgs[] = { "LifecycleEvent - AfterInstall\n",
			       "Script - scripts/a.sh\n",
			       "\\[stdout\\]hello\n",
			       "\\[stderr\\]oops\n",
			       "\\[stdout\\]no newline",
			       "Script - scripts/a.sh\n" };
	struct buf re = BUF_INIT;
	regex_t rx;
	char *log, *sub;

	sub = fs_join(f->archive, "scripts");
	assert_int_equal(fs_mkdir_p(sub, 0755, &e), 0);
	free(sub);
	put_script(
		f, "scripts/a.sh",
		"#!/bin/sh\necho hello\nsleep 0.2\necho oops >&2\nsleep 0.2\n"
		"printf 'no newline'\n",
		0755);
	opts_for(f, &o, "scripts/a.sh");
	o.event_header = true;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	assert_string_equal(r.log_tail, "LifecycleEvent - AfterInstall\n"
					"Script - scripts/a.sh\n"
					"[stdout]hello\n"
					"[stderr]oops\n"
					"[stdout]no newline\n");
	/* the next script of the event appends, its tail continues */
	o.event_header = false;
	o.tail_in = r.log_tail;
	put_script(f, "scripts/a.sh", "#!/bin/sh\n", 0755);
	{
		struct script_result r2 = SCRIPT_RESULT_INIT;

		assert_int_equal(script_run(&o, &r2, &e), 0);
		assert_non_null(strstr(r2.log_tail, "[stdout]no newline\n"
						    "Script - scripts/a.sh\n"));
		script_result_release(&r2);
	}
	buf_addch(&re, '^');
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		buf_addf(&re, "%s%s", stamp, msgs[i]);
	buf_addch(&re, '$');
	assert_int_equal(regcomp(&rx, re.ptr, REG_EXTENDED | REG_NOSUB), 0);
	log = read_text(f->log);
	if (regexec(&rx, log, 0, NULL, 0))
		fail_msg("scripts.log does not match:\n%s", log);
	regfree(&rx);
	free(log);
	buf_release(&re);
	script_result_release(&r);
}

static void test_script__deployments_log(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dlog = fs_join(f->dir, "deployment-logs/agent-deployments.log");
	const char *stamp = "\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:"
			    "[0-9]{2}\\.[0-9]{3}\\] \\[d-ABCDEFGH1\\]";
	const char *msgs[] = { "LifecycleEvent - AfterInstall", "Script - d.sh",
			       "\\[stdout\\]  padded" };
	struct buf re = BUF_INIT;
	regex_t rx;
	char *log;

	put_script(f, "d.sh", "#!/bin/sh\necho '  padded  '\n", 0755);
	opts_for(f, &o, "d.sh");
	o.event_header = true;
	o.deployments_log_path = dlog;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	/* Ruby's Logger header, then the same messages, stripped, with the
	 * deployment id */
	buf_addstr(&re, "^# Logfile created on [0-9]{4}-[0-9]{2}-[0-9]{2} "
			"[0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4} by "
			"logger\\.rb/v1\\.5\\.0\n");
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		buf_addf(&re, "%s%s\n", stamp, msgs[i]);
	buf_addch(&re, '$');
	assert_int_equal(regcomp(&rx, re.ptr, REG_EXTENDED | REG_NOSUB), 0);
	log = read_text(dlog);
	if (regexec(&rx, log, 0, NULL, 0))
		fail_msg("deployments log does not match:\n%s", log);
	/* scripts.log keeps the line as it was */
	free(log);
	log = read_text(f->log);
	assert_non_null(strstr(log, "[stdout]  padded  \n"));
	regfree(&rx);
	free(log);
	free(dlog);
	buf_release(&re);
	script_result_release(&r);
}

static void test_script__deployments_log_is_made_by_its_first_line(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dlog = fs_join(f->dir, "deployment-logs/agent-deployments.log");
	char *log;
	const char *p;
	int headers = 0;

	/* nothing logged (a missing second script): no file, no folder */
	opts_for(f, &o, "missing.sh");
	o.deployments_log_path = dlog;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.code, SCRIPT_MISSING);
	script_result_release(&r);
	assert_false(fs_exists(dlog));
	/* two runs: one Logger header, at the top */
	put_script(f, "d.sh", "#!/bin/sh\necho hi\n", 0755);
	opts_for(f, &o, "d.sh");
	o.deployments_log_path = dlog;
	o.event_header = true;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(script_run(&o, &r, &e), 0);
		script_result_release(&r);
	}
	log = read_text(dlog);
	assert_true(!strncmp(log, "# Logfile created on ", 21));
	for (p = log; (p = strstr(p, "# Logfile")); p++)
		headers++;
	assert_int_equal(headers, 1);
	free(log);
	free(dlog);
}

static void
test_script__killed_by_a_signal_reports_no_exit_code_as_the_agent(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;

	/* an OOM-killed or kill -9'd hook: the agent's exitstatus is nil */
	put_script(f, "k.sh", "#!/bin/sh\necho dying\nkill -9 $$\n", 0755);
	opts_for(f, &o, "./k.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_int_equal(r.code, SCRIPT_ERR_FAILED);
	assert_string_equal(r.error_code, "ScriptFailed");
	assert_int_equal(r.exit_code, -1);
	assert_int_equal(r.term_signal, 9);
	/* the location as written, and no number after "exit code " */
	assert_string_equal(r.message, "Script at specified location: ./k.sh "
				       "failed with exit code ");
	script_result_release(&r);

	/* an ordinary exit is still a number */
	put_script(f, "k.sh", "#!/bin/sh\nexit 137\n", 0755);
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.exit_code, 137);
	assert_int_equal(r.term_signal, 0);
	assert_string_equal(r.message, "Script at specified location: ./k.sh "
				       "failed with exit code 137");
	script_result_release(&r);
}

static void test_script__log_tail_bounded(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	size_t len;

	put_script(f, "chatty.sh",
		   "#!/bin/sh\ni=0\nwhile [ $i -lt 500 ]; do echo \"line $i\"; "
		   "i=$((i+1)); done\n",
		   0755);
	opts_for(f, &o, "chatty.sh");
	o.tail_in = "previous event line\n";
	assert_int_equal(script_run(&o, &r, &e), 0);
	len = strlen(r.log_tail);
	assert_true(len <= SCRIPT_TAIL_MAX);
	assert_true(len > SCRIPT_TAIL_MAX - 32);
	/* whole messages, newest last */
	assert_memory_equal(r.log_tail, "[stdout]line ", 13);
	assert_string_equal(r.log_tail + len - 17, "[stdout]line 499\n");
	assert_null(strstr(r.log_tail, "previous"));
	script_result_release(&r);

	/* a newest line over the cap keeps its end */
	put_script(f, "long.sh",
		   "#!/bin/sh\nhead -c 5000 /dev/zero | tr '\\0' x\necho END\n",
		   0755);
	opts_for(f, &o, "long.sh");
	assert_int_equal(script_run(&o, &r, &e), 0);
	len = strlen(r.log_tail);
	assert_int_equal(len, SCRIPT_TAIL_MAX);
	assert_string_equal(r.log_tail + len - 5, "xEND\n");
	script_result_release(&r);
}

/* A user other than root with a real shell: 0, or -1 if none. */
static int shell_user(char **name, char **home)
{
	struct passwd *pw;

	setpwent();
	while ((pw = getpwent())) {
		if (pw->pw_uid == 0 || !pw->pw_shell ||
		    (strcmp(pw->pw_shell, "/bin/sh") &&
		     strcmp(pw->pw_shell, "/bin/bash")))
			continue;
		*name = xstrdup(pw->pw_name);
		*home = xstrdup(pw->pw_dir);
		break;
	}
	endpwent();
	return *name ? 0 : -1;
}

static void test_script__runas(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *want, *name = NULL, *home = NULL;
	long pgid;

	put_script(f, "who.sh",
		   "#!/bin/sh\necho \"user=$(id -un)\"\necho \"home=$HOME\"\n"
		   "echo \"event=$LIFECYCLE_EVENT\"\necho \"cwd=$(pwd)\"\n",
		   0755);
	opts_for(f, &o, "who.sh");
	o.runas = "nobody";
	if (geteuid() != 0) {
		assert_int_equal(script_run(&o, &r, &e), 0);
		assert_string_equal(r.error_code, "UnknownError");
		assert_non_null(
			strstr(r.message, "needs slipway to run as root"));
		script_result_release(&r);
		skip();
	}
	/* su semantics: nobody's nologin shell refuses (agent EXP 10) */
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_string_equal(r.message, "Script at specified location: who.sh "
				       "run as user nobody failed with exit "
				       "code 1");
	assert_non_null(strstr(r.log_tail, "This account is currently not "
					   "available."));
	script_result_release(&r);

	if (shell_user(&name, &home) < 0)
		skip();
	o.runas = name;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_int_equal(r.status, SCRIPT_SUCCEEDED);
	want = xasprintf("[stdout]user=%s\n[stdout]home=%s\n"
			 "[stdout]event=AfterInstall\n[stdout]cwd=%s\n",
			 name, home, f->archive);
	assert_non_null(strstr(r.log_tail, want));
	free(want);
	script_result_release(&r);

	/* a timeout reaches the script in su's new session too */
	put_script(f, "who.sh", "#!/bin/sh\necho \"pgid=$$\"\nsleep 30\n",
		   0755);
	o.timeout_s = 1;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_string_equal(r.error_code, "ScriptTimedOut");
	pgid = number_after(r.log_tail, "[stdout]pgid=");
	assert_true(pgid > 0);
	assert_true(pgid != r.pid);
	assert_int_equal(kill(-(pid_t)pgid, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(name);
	free(home);
	script_result_release(&r);
}

static void stop_on_ready(enum script_stream s, const char *line, size_t len,
			  void *data)
{
	(void)data;
	if (s == SCRIPT_STDOUT && len == 5 && !memcmp(line, "ready", 5))
		raise(SIGTERM);
}

/* Last: the stop signal stays set for the rest of the process. */
static void test_script__stop_signal_stops_the_script(void **state)
{
	struct fixture *f = *state;
	struct script_run_opts o;
	struct script_result r = SCRIPT_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();

	put_script(f, "wait.sh", "#!/bin/sh\necho ready\nsleep 30\n", 0755);
	opts_for(f, &o, "wait.sh");
	o.line_fn = stop_on_ready;
	assert_int_equal(script_run(&o, &r, &e), 0);
	assert_true(proc_now_ms() - t0 < 3000);
	assert_int_equal(r.status, SCRIPT_FAILED);
	assert_string_equal(r.error_code, "UnknownError");
	assert_int_equal(r.stop_signal, SIGTERM);
	assert_non_null(strstr(r.message, "wait.sh was stopped"));
	assert_int_equal(kill(-r.pid, 0), -1);
	script_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_script__success_env),
		T(test_script__cwd_is_archive_and_stdin_closed),
		T(test_script__failure_exit_code),
		T(test_script__missing),
		T(test_script__not_executable_is_made_executable),
		T(test_script__not_executable_chmod_fails),
		T(test_script__no_shebang_runs_under_sh),
		T(test_script__timeout_kills_group),
		T(test_script__timeout_escalates_to_kill),
		T(test_script__background_holding_stdout),
		T(test_script__daemon_with_redirection),
		T(test_script__scripts_log_format),
		T(test_script__deployments_log),
		T(test_script__deployments_log_is_made_by_its_first_line),
		T(test_script__killed_by_a_signal_reports_no_exit_code_as_the_agent),
		T(test_script__log_tail_bounded),
		T(test_script__runas),
		T(test_script__stop_signal_stops_the_script),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
