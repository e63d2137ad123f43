/*
 * worker: `slipway worker` (docs/scale.md), a process on any machine
 * that runs the actions of the job queue (store.h, pipeline/queue.h).
 *
 *   struct worker_opts o = WORKER_OPTS_INIT;
 *   o.db = "/srv/slipway/slipway.db"; o.name = "w1"; o.slots = 2;
 *   int status = worker_main(&o);              -- 0 after SIGTERM, 111
 *
 * It claims one job at a time while it has a free slot (and its labels
 * fit the job's), runs the job's argv in a process group of its own
 * (dying with the worker), renews each lease every third of its length,
 * and reports the exit status (store_job_complete). A job whose lease
 * it could not renew (taken back) is stopped at once (SIGTERM to its
 * group, SIGKILL after 5 s) and not reported; one whose action ended on
 * its runner (abandoned) is stopped and reported failed.
 * Any worker also reaps the leases that expired (another worker died).
 * Idle, it looks at the queue every 100 ms, or on PostgreSQL waits for
 * the notice of a queued job (store_job_listen()) and looks once a
 * second besides.
 *
 * A build runs with the worker's own state directory (--state-dir, its
 * own source and build caches); other jobs as the runner asked. With a
 * server URL, the action's log is also sent there as it grows (POST
 * /api/jobs/ID/log), and its output artifact uploaded by digest (PUT
 * /api/artifacts/SHA256); with a shared directory, the artifact is
 * copied there under its digest instead.
 *
 * SIGTERM or SIGINT: claim nothing more, let the running jobs finish,
 * report them, exit 0. SIGKILL: the jobs die with it; their leases
 * expire and the jobs are taken back.
 */
#ifndef SW_SERVER_WORKER_H
#define SW_SERVER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct worker_opts {
	const char *db; /* the store's file (default <state>/slipway.db) */
	const char *state_dir; /* the worker's own (NULL: the default) */
	const char *name; /* NULL: <hostname>-<pid> */
	int slots; /* jobs at a time; 0: 1 */
	const char *labels; /* comma-separated, or NULL */
	const char *server; /* the server's URL, or NULL */
	const char *token_file; /* its bearer token */
	const char *shared_dir; /* artifacts by digest, or NULL */
	int64_t lease_ms; /* 0: queue_lease_ms() */
	bool exit_when_idle; /* stop once the queue has nothing for it */
};

#define WORKER_OPTS_INIT                                                       \
	{                                                                      \
		NULL                                                           \
	}

int worker_main(const struct worker_opts *o);

#endif
