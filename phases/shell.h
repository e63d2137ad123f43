/*
 * shell: CodeBuild's "one shell" emulated as one new shell process per
 * command with the environment and working directory carried over
 * (reference codebuild.md section 2.1).
 *
 *   struct shell sh;
 *   struct shell_opts o = SHELL_OPTS_INIT;
 *   o.shell = "/bin/sh"; o.dir = tmp; o.cwd = srcdir; o.env = envp;
 *   o.persist = true; o.log = &lg; o.pgid = group.pgid;
 *   if (shell_init(&sh, &o, &e) < 0) ...
 *   struct shell_result r;
 *   shell_run(&sh, "make test", NULL, deadline, &r, &e);
 *   -- r.end == SHELL_EXITED, r.status == 2 ...
 *   shell_setenv(&sh, "CODEBUILD_BUILD_SUCCEEDING", "0");
 *   shell_expand(&sh, strings, n, &out, &e);   -- "$VAR/x" -> "/y/x"
 *   shell_release(&sh);
 *
 * Each command is written to <dir>/script.sh with three preamble lines,
 * so that the command sits on line 4 as in CodeBuild's error messages:
 *   1  trap '<save the exported environment and pwd>' EXIT
 *   2  set -a
 *   3  : (reserved)
 *   4  <command>
 * The shell starts with the carried environment (execve) in the carried
 * directory. `set -a` makes plain assignments exported, so they persist;
 * functions, aliases and shell options do not. With persist false
 * (buildspec version 0.1) nothing carries over between commands.
 *
 * All output (stdout and stderr of the command and of anything it left in
 * the background) goes into one pipe for the whole session, read by
 * shell_run() and passed to the log. A command has ended when its shell
 * has been reaped; background processes may go on writing, and their
 * output is read during later commands and by shell_finish().
 */
#ifndef SW_SHELL_H
#define SW_SHELL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "log.h"
#include "strvec.h"

struct shell_opts {
	const char *shell; /* "sh", "bash", or a path; NULL: /bin/sh */
	const char *dir; /* a private directory for the session's files */
	const char *cwd; /* the first working directory */
	const char *const *env; /* the first environment, NAME=value */
	bool persist; /* carry env and cwd between commands (0.2) */
	struct log *log;
	pid_t pgid; /* the process group the commands join */
	pid_t sandbox; /* the sandbox holder commands run in; 0: none */
};

#define SHELL_OPTS_INIT                                                        \
	{                                                                      \
		NULL, NULL, NULL, NULL, true, NULL, 0, 0                       \
	}

struct shell_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};

enum shell_end {
	SHELL_EXITED, /* status holds the exit status (128+sig if killed) */
	SHELL_TIMEDOUT, /* the deadline passed; the command was killed */
	SHELL_STOPPED /* slipway got SIGINT/SIGTERM; the command was killed */
};

struct shell_result {
	enum shell_end end;
	int status;
};

struct shell {
	char *shell;
	char *dir;
	char *cwd;
	bool persist;
	struct strvec env;
	struct strvec first_env;
	char *first_cwd;
	struct log *log;
	pid_t pgid;
	pid_t sandbox;
	int out_r, out_w;
	unsigned seq;
	int last_exit;
	char *readbuf;
};

/* Resolve the shell, create the output pipe. */
int shell_init(struct shell *sh, const struct shell_opts *o, struct sw_err *e);

/*
 * Run one command. user: NULL to stay who we are. deadline: a
 * proc_now_ms() value, or 0 for none. Returns -1 only when the command
 * could not be started (ERR_SYSTEM); a failing command is a result.
 */
int shell_run(struct shell *sh, const char *command,
	      const struct shell_user *user, int64_t deadline,
	      struct shell_result *r, struct sw_err *e);

/* The carried environment. */
const char *shell_getenv(const struct shell *sh, const char *name);
void shell_setenv(struct shell *sh, const char *name, const char *value);
const char *const *shell_environ(const struct shell *sh);
const char *shell_cwd(const struct shell *sh);

/* The carried environment and directory, saved to be put back (a
 * command run again from where it started). */
struct shell_state {
	struct strvec env;
	char *cwd;
};

#define SHELL_STATE_INIT                                                       \
	{                                                                      \
		STRVEC_INIT, NULL                                              \
	}

/* Copy sh's carried state into s (released first). */
void shell_state_save(const struct shell *sh, struct shell_state *s);
/* Make s's copy sh's carried state again (s keeps its own). */
void shell_state_restore(struct shell *sh, const struct shell_state *s);
void shell_state_release(struct shell_state *s);

/*
 * Expand variables and command substitutions in each string as the shell
 * does inside double quotes (no globbing, no word splitting), with the
 * carried environment and cwd. *out gets n malloc'd strings (the caller
 * frees them and the array). Strings without '$' or '`' are copied as
 * they are, without starting a shell.
 */
int shell_expand(struct shell *sh, const char *const *in, size_t n, char ***out,
		 struct sw_err *e);

/* Pass on the output that is ready now, without waiting. */
void shell_drain(struct shell *sh);

/* Close the session's end of the pipe and read what is left, up to
 * timeout_ms (processes still holding the pipe are the caller's to
 * kill first). */
void shell_finish(struct shell *sh, int timeout_ms);

void shell_release(struct shell *sh);

/*
 * Parse the output of `export -p` (dash: export A='x'"'"'y', bash:
 * declare -x A="x\"y", A=$'l1\nl2') into NAME=value strings, replacing
 * env's contents. Names exported without a value are skipped. Exposed for
 * tests.
 */
int shell_parse_exports(const char *data, size_t len, struct strvec *env);

#endif
