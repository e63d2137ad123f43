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
 * the stage and the execution: nothing later starts, unless the stage's
 * onFailure is RETRY: then it is retried once by itself (its retryMode),
 * unless it failed at an approval or is being stopped. A manual approval
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

/*
 * Serving (docs/serve.md): a runner (any of the functions below that
 * advance an execution) started by `slipway serve` is told three more
 * things.
 *
 * SLIPWAY_READY_FD=N in its environment: once the request is taken (the
 * execution recorded, the approval decided, the retry or the resume
 * begun), "ok\n" is written to fd N and N closed; a runner that fails
 * before that has said why on stderr and exits with its status.
 *
 * SLIPWAY_WORKERS=N: at most N actions run at a time across all the
 * runners of the state directory: an action takes one of the slot locks
 * <state>/slots/0..N-1 before it starts (waiting, and saying so), and
 * its process holds it until it ends. Approvals take none.
 *
 * SIGUSR2 drains a runner: the actions running finish and are recorded,
 * nothing more starts (also no action waiting for a slot or a stage),
 * and the runner exits EXEC_DRAINED with its lock released and the
 * execution InProgress, for exec_resume() to take up.
 */
#define EXEC_DRAINED 75

/* Catch SIGUSR2 as above from now on (a runner does it itself when it
 * takes an execution's lock; this is for a process that means to be one
 * before that). */
void exec_catch_drain(void);

/* What a killed runner leaves on the action it was running. */
#define EXEC_KILLED_REASON "slipway was killed while the action ran"

struct exec_opts {
	const char *state_dir; /* NULL: the default (state.h) */
	const char *revision; /* --revision: the source actions' ref */
	struct strvec vars; /* -v NAME=VALUE */
	/* start: return once the execution is started (exit 0), which
	 * runs on in a detached process, its output in <pe-dir>/runner.log */
	bool no_wait;
	/* exec_start: the new execution's id ("pe-..."; NULL: a new one),
	 * and its trigger as CodePipeline records it (NULL:
	 * StartPipelineExecution, with the revision as its detail) */
	const char *id;
	const char *trigger_type, *trigger_detail;
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

/* Run on an execution InProgress (or Stopping) that no runner holds,
 * from where it stopped: a drained one. An action its runner was
 * killed in the middle of is Failed first (EXEC_KILLED_REASON), never
 * run again; exit 1 then, as for an execution that is not in progress. */
int exec_resume(const char *state_dir, const char *id);

/* Print an execution (GetPipelineExecution + GetPipelineState +
 * ListActionExecutions as JSON with json); its exit status is 0. */
int exec_show(const char *state_dir, const char *id, bool json);

/* The same as a JSON object (with the extra keys of the page: artifacts,
 * each action's actionTypeId, runOrder, artifacts and duration) in *out
 * for the caller to put; -1 with *e set (ERR_USAGE: no such execution). */
struct sw_err;
struct json_object;
int exec_execution_json(const char *state_dir, const char *id,
			struct json_object **out, struct sw_err *e);

/* The same, with a store already open and the pipelines already loaded:
 * the one the execution ran (by name and file) is used as it is (read
 * only), else the file is loaded as above. state_dir is absolute. */
struct store;
struct pipeline;
int exec_execution_json_in(struct store *s, const char *state_dir,
			   struct pipeline *const *pls, size_t npl,
			   const char *id, struct json_object **out,
			   struct sw_err *e);

/* Write the execution's page (pipeline/page.h) to out (NULL:
 * <pe-dir>/report.html, which every state change of the execution
 * rewrites) and print its path. */
int exec_report(const char *state_dir, const char *id, const char *out);

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
