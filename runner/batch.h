/*
 * batch: batch builds (build-list, build-graph, build-matrix and
 * build-fanout, reference codebuild.md section 1.5) run on this machine,
 * each task a normal build in a child process.
 *
 *   struct batch_opts bo = BATCH_OPTS_INIT;
 *   bo.build = &o;          -- what every task starts from (borrowed)
 *   bo.jobs = 4;            -- 0: the number of CPUs
 *   bo.task = NULL;         -- --batch-task ID: that task alone
 *   int status;
 *   if (!batch_run(&bo, &status))
 *           build_run(&o, &status);   -- not a batch buildspec
 *
 * A batch writes <state>/batches/<id>/report.json (and bo.build->report)
 * shaped like BatchGetBuildBatches; each task's build writes its own
 * report as any build does, with buildBatchArn and batchBuildIdentifier.
 * Task output goes to stdout as "<identifier> | line".
 *
 * The plan and its scheduling are pure, for tests and for the runner:
 *
 *   struct batch_plan p = BATCH_PLAN_INIT;
 *   batch_plan_make(&bs.batch, &p, &e);    -- tasks, matrix expanded
 *   long i;
 *   while ((i = batch_plan_next(&p)) >= 0) {
 *           p.v[i].state = BT_RUNNING;
 *           ...
 *           batch_plan_finish(&p, i, BT_SUCCEEDED);  -- or BT_FAILED
 *   }
 *   batch_plan_release(&p);
 */
#ifndef SW_BATCH_H
#define SW_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "build.h"
#include "buildspec.h"
#include "err.h"
#include "strvec.h"

struct batch_opts {
	const struct build_opts *build;
	int jobs; /* 0: the number of CPUs */
	const char *task; /* run this identifier alone */
	/*
	 * Out: the wall-clock ms at which batch_run() began fetching the
	 * source to find the batch section, 0 when it read a local file;
	 * the caller passes it on as build_opts.submitted_ms.
	 */
	int64_t fetched_ms;
};

#define BATCH_OPTS_INIT                                                        \
	{                                                                      \
		NULL, 0, NULL, 0                                               \
	}

/*
 * 0 when bo->build's buildspec has no batch section (the caller runs the
 * build); 1 when the batch (or bo->task) ran: *status is the exit status,
 * 0 when every task succeeded or failed with ignore-failure.
 */
int batch_run(struct batch_opts *bo, int *status);

enum batch_state {
	BT_PENDING = 0,
	BT_RUNNING,
	BT_SUCCEEDED,
	BT_FAILED,
	BT_STOPPED,
	BT_SKIPPED /* never started: a dependency failed, or fast-fail */
};

const char *batch_state_name(enum batch_state st);

struct batch_task {
	char *identifier;
	char *buildspec; /* NULL: the batch's own file */
	bool ignore_failure;
	struct strvec env; /* NAME=VALUE, in order */
	struct strvec depend_on; /* identifiers, as written */
	size_t *deps; /* indexes of depend_on */
	size_t nr_deps;
	char *image, *compute_type, *fleet, *type; /* recorded only */
	bool privileged_mode;
	enum batch_state state;
	/* while the batch runs */
	pid_t pid;
	int fd;
	struct buf line;
	int64_t start_ms, end_ms;
	char *report; /* the build report it writes */
	char *build_id, *build_arn, *build_status, *artifact;
};

struct batch_plan {
	enum bs_batch_type type;
	bool fast_fail;
	struct batch_task *v;
	size_t nr, alloc;
};

#define BATCH_PLAN_INIT                                                        \
	{                                                                      \
		BS_BATCH_NONE, false, NULL, 0, 0                               \
	}

/* At most this many builds in one batch (the parser's bound). */
#define BATCH_MAX_TASKS BS_BATCH_MAX_BUILDS

/*
 * The tasks of a batch: build-list and build-graph as written, a matrix
 * as the Cartesian product of its buildspecs, images, compute types and
 * variables (static settings in each) named build<N>_<varying values>
 * (build3_lint_b: see make_matrix() for the rule), a fanout as `parallelism` shards
 * with SLIPWAY_SHARD_INDEX (0-based) and SLIPWAY_SHARD_COUNT. ERR_SPEC
 * when a matrix would exceed BATCH_MAX_TASKS.
 */
int batch_plan_make(const struct bs_batch *b, struct batch_plan *p,
		    struct sw_err *e);
void batch_plan_release(struct batch_plan *p);
/* The index of a task, or -1. */
long batch_plan_find(const struct batch_plan *p, const char *identifier);

/*
 * The first pending task (in file order) whose dependencies are all
 * done: succeeded, or failed with ignore-failure. -1 when none is ready.
 */
long batch_plan_next(const struct batch_plan *p);
/* Task i ended with st; pending tasks that depend on it, directly or
 * not, are skipped unless st satisfies them. */
void batch_plan_finish(struct batch_plan *p, size_t i, enum batch_state st);
/* Skip every pending task (fast-fail, a stop signal). */
size_t batch_plan_skip_pending(struct batch_plan *p);
/* Every task succeeded or failed with ignore-failure. */
bool batch_plan_succeeded(const struct batch_plan *p);

/*
 * The files of shard `index` of `count`: equal-distribution deals the
 * sorted names round-robin, stability by a hash of each name. The names
 * are copied into out.
 */
void batch_shard_files(const struct strvec *files, size_t index, size_t count,
		       bool stability, struct strvec *out);

/* codebuild-tests-run (multi-call): run the test command on this shard's
 * files. */
int batch_tests_run_main(int argc, char **argv);

#endif
