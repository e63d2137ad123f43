/*
 * exec: running a pipeline (docs/pipeline.md "Running a pipeline"): an
 * execution is a state machine persisted in the store (store.h) and under
 * <state>/executions/<pe-id>/, advanced by whichever process holds its
 * lock file: `pipeline start`, then `pipeline approve` or `reject` after a
 * manual approval stopped it.
 *
 *   struct exec_opts o = EXEC_OPTS_INIT;
 *   o.state_dir = ".slipway"; strvec_push(&o.vars, "Env=prod");
 *   int status = exec_start("pipeline.yml", &o);  -- 0 1 2 3 5 111
 *
 * Stages run in order; in a stage the actions of one runOrder group run
 * side by side, each in a child process of its own (its output goes to
 * <pe-dir>/actions/<Stage>.<Action>/log), the group after when all of
 * them succeeded. A failed action lets its siblings finish, then fails
 * the stage and the execution: nothing later starts. A manual approval
 * leaves the execution InProgress, waiting (exit 5), with its lock
 * released. The runner holds <pe-dir>/lock while it runs: an execution
 * InProgress whose lock nobody holds was killed, and the action that was
 * running is marked Failed ("slipway was killed while the action ran")
 * by the next command that touches it, never run again.
 *
 * Artifacts: an action's output artifact is a directory stored once by
 * its content under <state>/artifacts/<sha256>/, and named for the
 * execution by the symlink <pe-dir>/artifacts/<name>.
 *
 * Events (CodePipeline's EventBridge shape) go to <pe-dir>/events.jsonl,
 * the store's events table, the commands of slipway.notifications and,
 * through a detached deliverer (deliver.h), its URLs; each also rewrites
 * <pe-dir>/report.html (exec_report).
 *
 * Every function returns the process exit status (DESIGN.md) and has
 * printed the reason of a failure on stderr.
 */
#ifndef SW_PIPELINE_EXEC_H
#define SW_PIPELINE_EXEC_H

#include <stdbool.h>

#include "strvec.h"

#define EXEC_WAITING 5 /* exit status: waiting for an approval */

/* What a killed runner leaves on the action it was running. */
#define EXEC_KILLED_REASON "slipway was killed while the action ran"

struct exec_opts {
	const char *state_dir; /* NULL: the default (state.h) */
	const char *revision; /* --revision: the source actions' ref */
	struct strvec vars; /* -v NAME=VALUE */
	bool no_wait; /* stop at an approval (it always does, for now) */
};

#define EXEC_OPTS_INIT                                                         \
	{                                                                      \
		.vars = STRVEC_INIT                                            \
	}

/* Start an execution of the pipeline file and run it as far as it goes;
 * its id is printed on stdout. */
int exec_start(const char *file, const struct exec_opts *o);

/* Decide the manual approval of execution id waiting at target
 * ("Stage/Action"; NULL: the only one waiting) and run on from there. */
int exec_decide(const char *state_dir, const char *id, const char *target,
		bool approve, const char *summary);

/* Run again the failed actions (all: every action) of the failed stage
 * of a failed execution, as new attempts, and on from there. */
int exec_retry(const char *state_dir, const char *id, bool all);

/*
 * Stop an execution in progress (CodePipeline's StopPipelineExecution):
 * its runner lets the running actions finish and starts nothing more,
 * then the execution is Stopped; with abandon the running actions are
 * killed and Abandoned at once. One waiting for an approval is stopped
 * here, the approval abandoned.
 */
int exec_stop(const char *state_dir, const char *id, bool abandon,
	      const char *reason);

/* Print an execution (GetPipelineExecution + GetPipelineState as JSON
 * with json); its exit status is 0. */
int exec_show(const char *state_dir, const char *id, bool json);

/* Write the execution's page (pipeline/page.h) to out (NULL:
 * <pe-dir>/report.html, which every state change of the execution
 * rewrites) and print its path. */
int exec_report(const char *state_dir, const char *id, const char *out);

/*
 * The execution as its page draws it (page.h's input) in *root, which the
 * caller puts (json_object_put). Returns 0, or -1 with *e set: ERR_USAGE
 * for an id the store does not know, ERR_SYSTEM for a store that fails.
 * Prints nothing (a pipeline file that cannot be read any more warns on
 * stderr and the record alone is drawn).
 */
struct json_object;
struct sw_err;
int exec_page_json(const char *state_dir, const char *id,
		   struct json_object **root, struct sw_err *e);

/* List executions, newest first (of the pipeline file's pipeline when
 * file is not NULL). */
int exec_list(const char *state_dir, const char *file);

/*
 * The content address of an artifact: the sha256 of its tree's sorted
 * "path mode content-sha256" lines (a symlink's content is its target),
 * so that the same files, modes and links give the same hex whatever
 * their times or the directory's name.
 */
int exec_tree_hash(const char *dir, char hex[65], struct sw_err *e);

#endif
