/*
 * phase: the build's phase records and the machine that runs INSTALL,
 * PRE_BUILD, BUILD and POST_BUILD with CodeBuild's transition rules
 * (reference codebuild.md sections 2.4 and 2.5).
 *
 *   struct phase_list pl = PHASE_LIST_INIT;
 *   struct phase_rec *r = phase_begin(&pl, "DOWNLOAD_SOURCE", &lg);
 *   ...
 *   phase_end(r, PHASE_SUCCEEDED, NULL, NULL, &lg);
 *
 *   struct machine m = MACHINE_INIT;
 *   m.bs = &bs; m.sh = &sh; m.log = &lg; m.deadline = dl;
 *   machine_run(&m, &pl);
 *   -- m.outcome: how the build phases ended; m.skip_artifacts
 *   phase_list_release(&pl);
 *
 * Rules: the first failing command stops the phase's commands; `finally`
 * still runs (and stops at its own first failure). A failure in INSTALL or
 * PRE_BUILD skips to FINALIZING; a failure in BUILD still runs POST_BUILD
 * and UPLOAD_ARTIFACTS; a failure in POST_BUILD still runs
 * UPLOAD_ARTIFACTS. on-failure ABORT skips everything after the phase,
 * CONTINUE goes on to the next phase, RETRY[-N][-regex] runs the failed
 * phase again (up to N more times, 3 by default) while the phase's error
 * message matches the regex. CODEBUILD_BUILD_SUCCEEDING turns 0 at the
 * first failing command, before that phase's `finally` runs.
 */
#ifndef SW_PHASE_H
#define SW_PHASE_H

#include <stdbool.h>
#include <stdint.h>

#include "buildspec.h"
#include "log.h"
#include "shell.h"

enum phase_status {
	PHASE_IN_PROGRESS = 0,
	PHASE_SUCCEEDED,
	PHASE_FAILED,
	PHASE_FAULT,
	PHASE_TIMED_OUT,
	PHASE_STOPPED
};

const char *phase_status_name(enum phase_status s);

struct phase_ctx {
	char *code;
	char *message;
};

struct phase_rec {
	char *type; /* "INSTALL", ... */
	enum phase_status status;
	int64_t start_ms, end_ms; /* wall clock */
	struct phase_ctx *ctx;
	size_t nr_ctx, alloc_ctx;
};

struct phase_list {
	struct phase_rec *v;
	size_t nr, alloc;
};

#define PHASE_LIST_INIT                                                        \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Append a record, log "Entering phase <type>" unless log is NULL. The
 * pointer stays valid until the next phase_begin. */
struct phase_rec *phase_begin(struct phase_list *pl, const char *type,
			      struct log *lg);
/* Add a context (code and message may be NULL = ""). */
void phase_add_ctx(struct phase_rec *r, const char *code, const char *msg);
/* Close the record: status, a context when code or msg is given, and the
 * two "Phase complete" / "Phase context" log lines. */
void phase_end(struct phase_rec *r, enum phase_status st, const char *code,
	       const char *msg, struct log *lg);
void phase_list_release(struct phase_list *pl);

/*
 * --break: where the build pauses for a person. Every mode pauses when a
 * command fails; ALWAYS also once after POST_BUILD when nothing failed;
 * AT also before command n (1-based, through the phase's commands and
 * then its finally commands) of phase. A `codebuild-breakpoint` command
 * pauses in every mode but NONE.
 */
enum break_mode { BREAK_NONE = 0, BREAK_ON_FAILURE, BREAK_ALWAYS, BREAK_AT };

struct break_spec {
	enum break_mode mode;
	int phase; /* AT: an enum bs_phase_id, BS_INSTALL.. */
	unsigned n; /* AT: 1-based */
};

/* "on-failure", "always", "PHASE" or "PHASE:N" (PHASE in any case, '-'
 * for '_'). -1 when s is none of these. */
int break_spec_parse(const char *s, struct break_spec *out);

/* What the person chose in the pause. */
enum break_action {
	BREAK_RESUME, /* codebuild-resume (or the shell ended): go on */
	BREAK_RETRY, /* slipway-retry: run the command again */
	BREAK_SKIP, /* slipway-skip: count the command as passed */
	BREAK_ABORT /* slipway-abort: stop the build */
};

/* Where the build paused. */
struct break_point {
	const char *phase; /* "BUILD" */
	unsigned n; /* the command's number in the phase; 0 at the end */
	const char *command; /* NULL at the end */
	bool failed; /* after the command failed, else before it runs */
	int status; /* failed: its exit status */
	bool breakpoint; /* a codebuild-breakpoint command */
	const struct shell_user *user; /* run-as, or NULL */
};

/* Pause at bp until the person chooses; returns how long the pause took
 * (ms) through *paused_ms. -1 (e set) when the pause could not be made:
 * the build then goes on as without it. */
typedef int (*machine_break_fn)(const struct break_point *bp,
				enum break_action *act, int64_t *paused_ms,
				void *data);

/* How the build phases ended. */
enum machine_outcome {
	MACHINE_SUCCEEDED,
	MACHINE_FAILED,
	MACHINE_TIMED_OUT,
	MACHINE_STOPPED
};

struct machine {
	const struct buildspec *bs;
	struct shell *sh;
	struct log *log;
	int64_t deadline; /* proc_now_ms() value, 0 = none */
	/* a run-as user the machine lacks but the sandbox provides, or NULL */
	const struct shell_user *extra_user;
	/* --break: NULL or mode BREAK_NONE for none; on_break is then
	 * called at each pause (its time is not counted by the deadline) */
	const struct break_spec *brk;
	machine_break_fn on_break;
	void *break_data;
	/* --from / --phase: the first phase to run (an enum bs_phase_id;
	 * BS_INSTALL by default), and whether to stop after it */
	int from;
	bool one_phase;
	/* called as each phase starts, before its commands (or NULL) */
	void (*on_phase)(int id, void *data);
	void *phase_data;
	/* out */
	enum machine_outcome outcome;
	bool skip_artifacts; /* go straight to FINALIZING */
	bool post_build_ran; /* POST_BUILD was entered (cache save rule) */
	bool succeeding;
	bool aborted; /* slipway-abort at a pause */
	/* the first command that failed (borrowed from bs), or NULL */
	const char *failed_phase;
	const char *failed_command;
	int failed_line; /* its line in the buildspec; 0: unknown */
	int failed_status;
	int64_t paused_ms; /* the pauses' total time */
};

#define MACHINE_INIT                                                           \
	{                                                                      \
		.outcome = MACHINE_SUCCEEDED, .succeeding = true               \
	}

/* Run the four build phases. Returns -1 only on a system error (the
 * current phase is then recorded as FAULT). */
int machine_run(struct machine *m, struct phase_list *pl, struct sw_err *e);

/*
 * on-failure RETRY decision, exposed for tests: whether attempt number
 * `attempt` (1 = the first retry) may run for a phase whose error message
 * is msg.
 */
bool machine_should_retry(const struct bs_phase *p, int attempt,
			  const char *msg);

#endif
