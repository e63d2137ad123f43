/*
 * script: run one appspec hook script the way the CodeDeploy agent does.
 *
 *   proc_signals_init(&e);                 -- once, in the program
 *   struct script_run_opts o = SCRIPT_RUN_OPTS_INIT;
 *   o.archive_dir = "<root>/<dg-id>/<dep-id>/deployment-archive";
 *   o.location = "scripts/start.sh";       -- as written in the appspec
 *   o.event = "ApplicationStart";
 *   o.deployment_id = ...; o.application_name = ...;
 *   o.deployment_group_name = ...; o.deployment_group_id = ...;
 *   o.log_path = "<root>/<dg-id>/<dep-id>/logs/scripts.log";
 *   o.event_header = true;                 -- first script of the event
 *   struct script_result r = SCRIPT_RESULT_INIT;
 *   if (script_run(&o, &r, &e) < 0)
 *           ... a system error (pipe, spawn, scripts.log) in e
 *   else if (r.status == SCRIPT_FAILED)
 *           ... r.error_code, r.message, r.log_tail go into diagnostics
 *   ... the next script of the same event gets o.tail_in = r.log_tail
 *   ... (borrowed: release r only after that run)
 *   script_result_release(&r);
 *
 * What the agent does and this does too:
 * - the script is <archive_dir>/<location>; missing (stat follows links)
 *   is ScriptMissing "Script does not exist at specified location: <abs>";
 *   not executable is made executable (a+x) with a warning, and if that
 *   fails ScriptNotExecutable "Unable to set script at specified
 *   location: <location> as executable";
 * - the script is exec'd by its path (a file with neither "#!" nor an ELF
 *   header runs under /bin/sh, as the agent's exec falls back to);
 *   runas U runs `su U -c '<path>'`: su without "-" keeps the environment,
 *   switches HOME, and fails for accounts with a nologin shell ("This
 *   account is currently not available."). runas needs slipway to run as
 *   root; otherwise the hook fails at once with UnknownError;
 * - a new process group led by the script, stdin /dev/null, stdout and
 *   stderr on two pipes read line by line; while it runs, a holder
 *   (proc_group_hold) in the group kills it should we die, SIGKILL too;
 * - environment: base_env (NULL: slipway's own environment, as the agent
 *   passes its own) with LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME,
 *   DEPLOYMENT_GROUP_NAME, DEPLOYMENT_GROUP_ID set on top (a NULL value
 *   removes the name, as the agent's nil does), then extra_env (e.g. the
 *   BUNDLE_* variables of a remote revision; the agent sets none for a
 *   local one), then SLIPWAY_HOST_ROOT when host_root is set;
 * - scripts.log lines "YYYY-MM-DD HH:MM:SS <msg>" in local time with
 *   <msg> one of "LifecycleEvent - <event>" (when event_header),
 *   "Script - <location>", "[stdout]<line>", "[stderr]<line>"; the file
 *   and its directory are created when missing, then appended to;
 * - the log tail is the newest whole messages of the event (the same
 *   <msg> lines without timestamps, tail_in first) up to 2048 bytes; a
 *   newest message longer than that keeps its last 2048 bytes (the agent
 *   would send an empty tail);
 * - timeout: when the script runs past timeout_s, SIGTERM to its group,
 *   up to kill_grace_ms (5 s, as agent v2; proc_grace_ms) for the group
 *   to go, then SIGKILL: ScriptTimedOut "Script at specified location:
 *   <location> failed to complete in <N> seconds". Under runas the
 *   groups of su's children get the signals too: `su -c` puts the
 *   command in a session of its own, which a signal to su's group (all
 *   the agent sends) misses;
 * - exit status N != 0: ScriptFailed "Script at specified location:
 *   <location> [run as user <U>] failed with exit code <N>"; a script
 *   killed by a signal has no exit code, as with the agent (Ruby's nil):
 *   the message ends in "failed with exit code " and nothing,
 *   r.exit_code is -1 and r.term_signal says which signal;
 * - a last line of output without a newline is written to scripts.log as
 *   it is, without one, as the agent writes it (the next message then
 *   follows on the same line, as with the agent);
 *
 * Deliberate deviations:
 * - cwd is archive_dir. The agent never changes directory (hooks run in
 *   the agent's cwd, "/" under systemd), so scripts must not rely on it
 *   either way; the archive is the one directory that is always there.
 * - outputs left open: when the script has exited but something it
 *   started (`daemon &` without redirection) still holds its stdout or
 *   stderr, the agent waits until the timeout and then fails with
 *   "failed to close STDOUT" (older agents hung for ever).
 *   Here the hook finishes held_grace_ms (1 s) after the exit, its
 *   status is its exit code, and r.warning plus a "[slipway]" line in
 *   scripts.log name the pid(s) and fd(s) that hold the pipes. Those
 *   processes keep running (ApplicationStart starts daemons); our read
 *   ends are closed, so they get EPIPE/SIGPIPE if they write there later.
 * - SIGINT/SIGTERM/SIGHUP to slipway while a script runs (seen through
 *   proc_stop_signal()) stops the script's group as a timeout does; the
 *   result is UnknownError and r.stop_signal says which signal.
 *
 * Children are reaped with proc_reap() (waitpid(-1)): do not wait for
 * other children by pid while script_run() runs. Without
 * proc_signals_init() it still works, polling every 50 ms.
 */
#ifndef SW_SCRIPT_H
#define SW_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum script_stream {
	SCRIPT_STDOUT,
	SCRIPT_STDERR,
	SCRIPT_NOTICE /* a warning of slipway's about the script */
};

/* One line of live output, without its newline; line is not
 * NUL-terminated and is valid only during the call. */
typedef void (*script_line_fn)(enum script_stream stream, const char *line,
			       size_t len, void *data);

struct script_run_opts {
	const char *archive_dir; /* absolute; also the cwd */
	const char *location; /* relative to archive_dir, as in the appspec */
	const char *event; /* LIFECYCLE_EVENT, e.g. "AfterInstall" */
	unsigned timeout_s; /* 0: 3600, the appspec default */
	const char *runas; /* NULL: as slipway's own user */
	const char *deployment_id;
	const char *application_name;
	const char *deployment_group_name;
	const char *deployment_group_id;
	const char *host_root; /* SLIPWAY_HOST_ROOT; NULL: not set */
	const char *const *base_env; /* NULL: environ */
	const char *const *extra_env; /* "NAME=VALUE", NULL-terminated */
	const char *log_path; /* scripts.log to append to; NULL: none */
	/* codedeploy-agent-deployments.log to append the same messages to,
	 * as "[YYYY-MM-DD HH:MM:SS.mmm] [<deployment_id>]<msg stripped>";
	 * made (with its directory and Ruby's Logger header line) by the
	 * first message, as the agent's logger makes it; NULL: none */
	const char *deployments_log_path;
	bool event_header; /* log "LifecycleEvent - <event>" first */
	const char *tail_in; /* the event's log tail so far; may be NULL */
	script_line_fn line_fn; /* live output; may be NULL */
	void *line_data;
	int held_grace_ms; /* 0: 1000 */
	int kill_grace_ms; /* 0: 5000 */
};

#define SCRIPT_RUN_OPTS_INIT                                                   \
	{                                                                      \
		.timeout_s = 3600, .held_grace_ms = 1000,                      \
		.kill_grace_ms = 5000                                          \
	}

enum script_status { SCRIPT_SUCCEEDED, SCRIPT_FAILED };

/* The agent's numeric codes (hook_executor.rb ScriptError). */
enum script_code {
	SCRIPT_OK = 0,
	SCRIPT_MISSING = 1,
	SCRIPT_NOT_EXECUTABLE = 2,
	SCRIPT_TIMED_OUT = 3,
	SCRIPT_ERR_FAILED = 4,
	SCRIPT_UNKNOWN_ERROR = 5
};

/* The LifecycleErrorCode name of a code: "Success", "ScriptMissing",
 * "ScriptNotExecutable", "ScriptTimedOut", "ScriptFailed",
 * "UnknownError". A static string. */
const char *script_code_name(enum script_code code);

#define SCRIPT_TAIL_MAX 2048

struct script_result {
	enum script_status status;
	enum script_code code;
	const char *error_code; /* script_code_name(code); static */
	char *message; /* the agent's message; NULL when succeeded */
	int exit_code; /* -1 when it did not run, was stopped or was
			  killed by a signal */
	int term_signal; /* the signal that killed the script, or 0 */
	pid_t pid; /* the script's pid = its process group; 0: not run */
	int64_t start_ms, end_ms; /* wall clock, ms since the epoch */
	char *log_tail; /* never NULL after script_run() */
	char *warning; /* NULL, or lines (not executable, outputs left open) */
	bool outputs_left_open;
	int stop_signal; /* the signal that stopped slipway, or 0 */
};

#define SCRIPT_RESULT_INIT                                                     \
	{                                                                      \
		.exit_code = -1                                                \
	}

/*
 * Run one script and fill *r (which the caller releases, also after a
 * failure). Returns 0 when there is a result, including a failed or
 * timed-out script; -1 only for a system error (*e), with *r still
 * released safely.
 */
int script_run(const struct script_run_opts *o, struct script_result *r,
	       struct sw_err *e);

/* Free the contents; *r is SCRIPT_RESULT_INIT again. */
void script_result_release(struct script_result *r);

#endif
