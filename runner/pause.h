/*
 * pause: the interactive shell of `--break`, a person's look into a
 * paused build, on a pseudo-terminal of its own.
 *
 *   if (pause_terminal_ok(&e) < 0) ...         -- refuse --break early
 *   struct pause_opts o = PAUSE_OPTS_INIT;
 *   o.dir = "<build>/break"; o.shell = "/bin/bash";
 *   o.env = env; o.cwd = cwd; o.sandbox = sb.pid; o.prompt = "BUILD:2";
 *   enum break_action act;
 *   if (pause_shell(&o, &act, &e) < 0) ...
 *
 * The shell runs where the build's commands run (o.sandbox, o.user),
 * with o.env as it is but for PATH, which gets <dir>/bin at its end: the
 * commands codebuild-resume, slipway-retry, slipway-skip and
 * slipway-abort live there and write the choice to <dir>/action (dir
 * must be visible at its own path in the sandbox). The shell ends when
 * one of them runs (slipway hangs its terminal up) or when the person
 * leaves it (exit, Ctrl-D): that is codebuild-resume.
 *
 * slipway's terminal (/dev/tty) is put in raw mode while the shell runs
 * and relays bytes both ways, so that Ctrl-C and job control reach the
 * shell and not the build. The session is not logged.
 */
#ifndef SW_PAUSE_H
#define SW_PAUSE_H

#include <sys/types.h>

#include "err.h"
#include "phase.h"
#include "shell.h"

struct pause_opts {
	const char *dir; /* private, made if missing */
	const char *shell; /* the build's shell (bash is used where found) */
	const char *const *env;
	const char *cwd;
	pid_t sandbox; /* 0: none */
	const struct shell_user *user; /* run-as, or NULL */
	const char *prompt; /* shown in PS1, e.g. "BUILD:2 failed" */
};

#define PAUSE_OPTS_INIT                                                        \
	{                                                                      \
		NULL, NULL, NULL, NULL, 0, NULL, NULL                          \
	}

/* 0 when slipway has a terminal to pause on (stdin one, /dev/tty
 * openable), else -1 (ERR_USAGE) and why. */
int pause_terminal_ok(struct sw_err *e);

/* Run the shell until the person chooses. -1 (e set) when it could not
 * start. SIGINT/SIGTERM to slipway end it as slipway-abort. */
int pause_shell(const struct pause_opts *o, enum break_action *act,
		struct sw_err *e);

#endif
