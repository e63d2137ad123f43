/*
 * queue: an action run by a worker (docs/scale.md) instead of a child of
 * its runner. With SLIPWAY_QUEUE=1 in the runner's environment (`slipway
 * serve --workers 0` sets it), the process the engine forks for an
 * action enqueues it as a job in the store (store.h "job queue") and
 * waits for a worker to finish it, then exits as the action would have:
 *
 *   if (queue_wanted())
 *           _exit(queue_run(&qa));                 -- in the action's child
 *
 * The job's spec is JSON: {"argv": [...], "cwd": D, "env": ["N=V", ..],
 * "log": F, "outvars": F, "wd": D, "execution": "pe-..", "action":
 * "Stage/Action", "inputs": [{"index": I, "digest": HEX}, ..]}: the
 * same command a local action runs, where its log and output variables
 * go, and which of its arguments name a pipeline artifact
 * (<state>/artifacts/HEX), for a worker on another machine to fetch by
 * digest. A worker that ran a build elsewhere reports {"artifact": SHA,
 * "root": DIR, "shared": DIR} in its result: the build's report and
 * output as a tar (pipeline/blob.h) at <state>/blobs/SHA (uploaded) or
 * in the shared directory; the waiter checks its digest and unpacks it
 * into <wd> (report.json, out/), the report's locations made local. While it waits, it takes back leases
 * that expired (store_job_reap), so that a dead worker's job is queued
 * again (a build, a command) or failed (a deployment) even when no
 * worker is left to notice. When the job is done it writes
 * <wd>/job.json: {"worker", "attempt", "reason", "outcome"} for the
 * report, and exits with the action's exit status (1 for a job failed
 * without one, its reason appended to the log).
 *
 * A deployment whose group has auto-rollback carries its rollback
 * (rollback_argv) as the job's fallback, a spec like its own but with no
 * execution or action (nothing stops a rollback) and no output
 * variables: `slipway deploy <state>/artifacts/HEX --rollback-of ID ...`,
 * the group's last successful revision that the runner recorded in
 * good_file, with its digest in "inputs" for a worker on another machine
 * to fetch; without such a record, where the runner's state directory
 * has a last successful deployment of the group, `slipway deploy
 * --rollback --rollback-of ID ...` (each host's copy of it). When the
 * deployment's worker is lost, the reaper queues it as job
 * "<id>-rollback" (store.h); the waiter then waits for that job too,
 * and the action's error says how the rollback ended: "worker 'w1' lost
 * its lease during the deployment; not run again; rolled back by job
 * J-rollback: deployment d-X Succeeded". job.json has it as "rollback":
 * {"job", "deployment", "worker", "outcome"}.
 *
 * A lost deployment's own report, which its worker never wrote, is
 * written by the waiter at <state>/deployments/<id>/report.json (if
 * none is there): Failed, errorInformation AGENT_ISSUE with the reason,
 * rollbackInfo naming its rollback; its row in the store says Failed.
 */
#ifndef SW_PIPELINE_QUEUE_H
#define SW_PIPELINE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

/* How long a lease lasts unless renewed, and how often workers renew
 * it and waiters look (ms); SLIPWAY_LEASE_MS overrides the lease. */
#define QUEUE_LEASE_MS 15000
int64_t queue_lease_ms(void);
int64_t queue_wall_ms(void);

/* Whether actions go through the queue (SLIPWAY_QUEUE=1). */
bool queue_wanted(void);

struct queue_action {
	const char *db; /* the store's location (store_locate()) */
	const char *state_dir; /* the runner's, absolute */
	const char *kind; /* build command deploy */
	const char *labels; /* comma-separated, or NULL */
	char *const *argv;
	const char *cwd;
	char *const *env; /* NAME=VALUE, NULL-terminated, or NULL */
	size_t nr_env;
	const char *log, *outvars, *wd;
	const char *execution_id, *action; /* for the spec, "Stage/Action" */
	/* a deployment's rollback, queued in its place if its worker is
	 * lost (the job's fallback), or NULL; rollback_id the deployment id
	 * it runs as */
	char *const *rollback_argv;
	const char *rollback_id;
	/* a deployment: its id and group, for the report the waiter writes
	 * when its worker is lost; good_file, where the runner keeps the
	 * group's last successful revision ("ID DIGEST"), written when the
	 * job succeeds; no_rollback, why a lost one has no rollback */
	const char *deployment_id, *application, *group_name, *group_id;
	const char *good_file, *no_rollback;
};

/* Enqueue qa and wait for its end; the exit status for the action's
 * process (111 when the store failed, said on stderr). */
int queue_run(const struct queue_action *qa);

#endif
