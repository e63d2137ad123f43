/*
 * store: the record (DESIGN.md "store/"): the index of builds and
 * deployments, pipeline executions with their stages, actions, approvals
 * and events, in one small schema. The reports stay files; the store says
 * what exists, in what state, newest first, so that listing is a query.
 *
 *   struct store *s;
 *   if (store_open(&s, "<state>/slipway.db", &e) < 0) ...  -- made if absent
 *   struct store_build b = { .id = "p:uuid", .project = "p", ... };
 *   store_put_build(s, &b, &e);                      -- insert or replace
 *   struct store_build *v; size_t nr;
 *   struct store_query q = STORE_QUERY_INIT;         -- q.limit = 5 ...
 *   store_list_builds(s, &q, &v, &nr, &e);           -- newest first
 *   store_builds_free(v, nr);
 *   store_close(s);
 *
 * One interface, two databases: the location given to store_open() is
 * "sqlite:PATH" or a plain PATH (store/sqlite.c, one machine) or a
 * "postgres://..." / "postgresql://..." URL (store/postgres.c, many
 * machines; libpq's URL syntax). SQLite is
 * in WAL mode, so readers never wait for a writer; writers wait for each
 * other (busy timeout STORE_BUSY_MS) rather than fail, so racing
 * processes each get their record in. The schema is a numbered list of
 * migrations (store/migrations.c); store_open() applies the missing ones,
 * each in its own transaction, and refuses a database from a newer
 * slipway. PostgreSQL does the same under an advisory lock, and serializes
 * store_begin() transactions with one as SQLite's write lock does.
 *
 * Strings in records are borrowed by the put functions and owned by the
 * caller in what the get and list functions return (free with the
 * matching _free). Times are milliseconds since the epoch, 0 when
 * unknown. JSON columns hold JSON text, NULL when absent. Every function
 * returns 0 or -1 with *e set (ERR_SYSTEM, the database's message
 * prefixed with the file name or the URL, its password left out); a get
 * of a missing row returns 1. A PostgreSQL connection that is lost is not
 * made again: every later call fails (the transaction open then was
 * rolled back by the server, so nothing of it is written).
 */
#ifndef SW_STORE_H
#define SW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_BUSY_MS 30000

struct store;

/*
 * Where the store of state_dir is: $SLIPWAY_DB when set (so that child
 * processes use the store their parent was given with --db), else
 * "<state_dir>/slipway.db". Caller frees.
 */
char *store_locate(const char *state_dir);
/* 1 if location is a PostgreSQL URL. */
int store_is_postgres(const char *location);
/* The file of an SQLite location (borrowed from it), NULL for PostgreSQL. */
const char *store_sqlite_path(const char *location);
/* Check the form of a location (as given to --db); ERR_USAGE if bad. */
int store_location_check(const char *location, struct sw_err *e);

/*
 * Open (creating, and migrating to the newest schema) the database at
 * location (see above; a PostgreSQL database must exist, its tables are
 * made). A file that is not a database is moved aside to
 * "<path>.corrupt-<time>" and a new one made; *moved_aside (when not
 * NULL) is set then, so that the caller can say so and rebuild the index.
 */
int store_open(struct store **s, const char *location, struct sw_err *e);
int store_open_ex(struct store **s, const char *location, int *moved_aside,
		  struct sw_err *e);
/* Close and free; store_close(NULL) is a no-op. */
void store_close(struct store *s);
/*
 * 1 while s can be used; 0 once its connection is lost (PostgreSQL went
 * away, even while s was idle): close it and open another. Always 1 for
 * SQLite. Does not wait.
 */
int store_alive(struct store *s);

/*
 * Writes that stand or fall together (an action's end, its stage's and
 * its execution's): store_begin() takes the write lock (waiting as any
 * write does), store_commit() makes them one, store_rollback() drops
 * them. Not nested; reads in between see the transaction's own writes.
 */
int store_begin(struct store *s, struct sw_err *e);
int store_commit(struct store *s, struct sw_err *e);
void store_rollback(struct store *s);

/* The schema version of the open database, and the newest one known. */
int store_version(struct store *s, int *version, struct sw_err *e);
int store_latest_version(void);

/*
 * Open without migrating past version max (0: no table at all), as a
 * database made by an older slipway is: for testing the migrations.
 */
int store_open_at(struct store **s, const char *location, int max,
		  struct sw_err *e);

/* A small key/value table for the store's own bookkeeping. *value is
 * NULL (and 1 returned) when key is absent. */
int store_meta_get(struct store *s, const char *key, char **value,
		   struct sw_err *e);
int store_meta_set(struct store *s, const char *key, const char *value,
		   struct sw_err *e);

/* Filters of a list: NULL or 0 means any; limit 0 means all. */
struct store_query {
	const char *name; /* project, application, or pipeline name */
	const char *status;
	const char *execution_id; /* stages, actions, approvals, events */
	long limit;
};

#define STORE_QUERY_INIT                                                       \
	{                                                                      \
		NULL, NULL, NULL, 0                                            \
	}

/* builds: the index of <state>/builds (status as CodeBuild spells it). */
struct store_build {
	char *id; /* <project>:<uuid> */
	char *project;
	long number;
	char *status; /* IN_PROGRESS SUCCEEDED FAILED FAULT TIMED_OUT ... */
	int64_t start_ms, end_ms;
	char *source_version;
	char *report_path;
	char *reason; /* why it did not succeed, or NULL */
};

int store_put_build(struct store *s, const struct store_build *b,
		    struct sw_err *e);
int store_get_build(struct store *s, const char *id, struct store_build *b,
		    struct sw_err *e);
/* Newest first (by end time, else start time). */
int store_list_builds(struct store *s, const struct store_query *q,
		      struct store_build **v, size_t *nr, struct sw_err *e);
int store_delete_build(struct store *s, const char *id, struct sw_err *e);
void store_build_release(struct store_build *b);
void store_builds_free(struct store_build *v, size_t nr);

/* deployments: the index of <state>/deployments (CodeDeploy's status). */
struct store_deployment {
	char *id; /* d-XXXXXXXXX */
	char *application;
	char *group; /* the deployment group's name */
	char *status; /* InProgress Succeeded Failed Stopped ... */
	int64_t start_ms, end_ms;
	char *report_path;
	long hosts_succeeded, hosts_total; /* hosts_total -1: not known */
	char *creator; /* user, codeDeployRollback, ... */
};

int store_put_deployment(struct store *s, const struct store_deployment *d,
			 struct sw_err *e);
int store_get_deployment(struct store *s, const char *id,
			 struct store_deployment *d, struct sw_err *e);
/* q->name filters on the application. Newest first. */
int store_list_deployments(struct store *s, const struct store_query *q,
			   struct store_deployment **v, size_t *nr,
			   struct sw_err *e);
int store_delete_deployment(struct store *s, const char *id, struct sw_err *e);
void store_deployment_release(struct store_deployment *d);
void store_deployments_free(struct store_deployment *v, size_t nr);

/* A pipeline execution (CodePipeline's PipelineExecution). */
struct store_execution {
	char *id; /* pe-... */
	char *pipeline; /* the pipeline's name */
	char *pipeline_file; /* absolute path of its declaration, or NULL */
	char *status; /* InProgress Stopping Stopped Succeeded Superseded
			 Failed Cancelled */
	char *status_summary;
	char *trigger_type; /* StartPipelineExecution, Webhook, ... */
	char *trigger_detail;
	char *variables; /* JSON */
	int64_t start_ms, end_ms;
};

int store_put_execution(struct store *s, const struct store_execution *x,
			struct sw_err *e);
int store_get_execution(struct store *s, const char *id,
			struct store_execution *x, struct sw_err *e);
/* q->name filters on the pipeline. Newest first (by start time). */
int store_list_executions(struct store *s, const struct store_query *q,
			  struct store_execution **v, size_t *nr,
			  struct sw_err *e);
/* Deletes its stages, actions, approvals and events with it. */
int store_delete_execution(struct store *s, const char *id, struct sw_err *e);
void store_execution_release(struct store_execution *x);
void store_executions_free(struct store_execution *v, size_t nr);

/* One stage of an execution; (execution_id, stage) is the key. */
struct store_stage {
	char *execution_id;
	char *stage;
	char *status; /* InProgress Failed Stopped Succeeded ... */
	int64_t start_ms, end_ms;
};

int store_put_stage(struct store *s, const struct store_stage *st,
		    struct sw_err *e);
/* Those of q->execution_id, in the order they were first put. */
int store_list_stages(struct store *s, const struct store_query *q,
		      struct store_stage **v, size_t *nr, struct sw_err *e);
void store_stages_free(struct store_stage *v, size_t nr);

/* One attempt of an action; (execution_id, stage, action, attempt). */
struct store_action {
	char *execution_id;
	char *stage;
	char *action;
	long attempt; /* 1, then 2 ... for each retry */
	char *status; /* InProgress Abandoned Succeeded Failed */
	int64_t start_ms, end_ms;
	char *external_id; /* the build or deployment id it ran */
	char *output_variables; /* JSON */
	char *error; /* why it failed */
};

int store_put_action(struct store *s, const struct store_action *a,
		     struct sw_err *e);
/* Those of q->execution_id (q->status filters), in put order. */
int store_list_actions(struct store *s, const struct store_query *q,
		       struct store_action **v, size_t *nr, struct sw_err *e);
void store_actions_free(struct store_action *v, size_t nr);

/* A manual approval; (execution_id, stage, action) is the key. */
struct store_approval {
	char *execution_id;
	char *stage;
	char *action;
	char *status; /* InProgress Approved Rejected Expired */
	char *summary;
	char *who;
	int64_t created_ms, expires_ms, decided_ms;
};

int store_put_approval(struct store *s, const struct store_approval *a,
		       struct sw_err *e);
/* Those of q->execution_id if given, else of every execution (q->status
 * filters: "InProgress" lists those waiting), oldest first. */
int store_list_approvals(struct store *s, const struct store_query *q,
			 struct store_approval **v, size_t *nr,
			 struct sw_err *e);
void store_approvals_free(struct store_approval *v, size_t nr);

/*
 * An execution's events, numbered 1, 2, ... in the order appended (the
 * number is taken in the same transaction, so racing appenders never
 * share one); *seq (when not NULL) is the number given.
 */
int store_append_event(struct store *s, const char *execution_id,
		       int64_t time_ms, const char *json, long *seq,
		       struct sw_err *e);
struct store_event {
	long seq;
	int64_t time_ms;
	char *json;
};
/* Those of q->execution_id after seq after, oldest first. */
int store_list_events(struct store *s, const struct store_query *q, long after,
		      struct store_event **v, size_t *nr, struct sw_err *e);
void store_events_free(struct store_event *v, size_t nr);

/*
 * Webhook deliveries seen (server/webhook.h): record (forge, id) unless
 * it is there; *first is 1 when this call recorded it, 0 when it was
 * seen before (by this process or another: the insert decides).
 */
int store_delivery_record(struct store *s, const char *forge, const char *id,
			  int64_t now_ms, int *first, struct sw_err *e);
/* Forget the deliveries received before before_ms. */
int store_delivery_prune(struct store *s, int64_t before_ms, struct sw_err *e);

/*
 * The commits a poll last saw (server/poll.h): source is the key of a
 * polled source (its normalised URL), ref a full ref name. Listing gives
 * parallel arrays "ref" and "commit" (caller frees both with
 * strvec_release); set with commit NULL deletes the row.
 */
struct strvec;
int store_poll_heads(struct store *s, const char *source, struct strvec *refs,
		     struct strvec *commits, struct sw_err *e);
int store_poll_head_set(struct store *s, const char *source, const char *ref,
			const char *commit, int64_t now_ms, struct sw_err *e);

/*
 * The job queue (docs/scale.md): an action to run on some worker. The
 * engine enqueues, a worker claims one job at a time under a lease that
 * it renews by heartbeat, and completes it; the reaper takes back the
 * leases that expired. Every call decides in the database, so any number
 * of processes on any number of machines may race: a job is claimed by
 * one worker at most, and only the lease holder may renew or complete it.
 *
 * status is "queued", "claimed" or "done"; outcome (on "done") is
 * "Succeeded" or "Failed". kind is "build", "command" or "deploy": a lost
 * build or command is queued again (attempt + 1, reason says why), a lost
 * deployment is done and failed, never run again (a host may be half
 * deployed). labels is the comma-separated list a worker must all have,
 * NULL or "" for any worker.
 */
struct store_job {
	char *id; /* chosen by the enqueuer, unique (j-<uuid>) */
	char *kind; /* build command deploy */
	char *spec; /* JSON: what to run ({"argv": [...], "cwd": ...}) */
	char *labels; /* wanted, comma-separated, or NULL */
	char *status; /* queued claimed done */
	char *owner; /* the worker that holds (or held) it, or NULL */
	int64_t lease_ms; /* when the lease expires, 0 when not claimed */
	long attempt; /* 1, then 2 ... each time a lost lease requeues it */
	char *outcome; /* Succeeded Failed, once done; else NULL */
	char *result; /* JSON the worker reported, or NULL */
	char *reason; /* why an attempt was lost or the job failed, or NULL */
	int64_t enqueued_ms, started_ms, ended_ms;
	/* a deploy's: the spec of the job queued in its place (its
	 * rollback) when its lease is lost, or NULL */
	char *fallback;
};

/* A lost build or command is queued again this many attempts at most;
 * then it is done and failed. */
#define STORE_JOB_MAX_ATTEMPTS 3

/*
 * Enqueue j: j->id, j->kind, j->spec, j->labels, j->fallback and
 * j->enqueued_ms are used; the job starts queued at attempt 1. An id already there is an
 * error (ERR_SYSTEM).
 */
int store_job_enqueue(struct store *s, const struct store_job *j,
		      struct sw_err *e);
/*
 * Claim for worker owner (having labels, comma-separated, NULL: none)
 * the oldest queued job whose every wanted label it has; the job becomes
 * claimed by owner, its lease expiring at now_ms + lease_ms, started_ms
 * now_ms. Atomic: racing claimers never get the same job. Returns 0 with
 * *j filled (the caller releases it), 1 when no job fits (*j untouched).
 */
int store_job_claim(struct store *s, const char *owner, const char *labels,
		    int64_t now_ms, int64_t lease_ms, struct store_job *j,
		    struct sw_err *e);
/*
 * Renew owner's lease on job id to now_ms + lease_ms. Returns 0 when
 * renewed, 1 when owner does not hold it (reaped, claimed by another,
 * done): the worker must stop the job's action then.
 */
int store_job_heartbeat(struct store *s, const char *id, const char *owner,
			int64_t now_ms, int64_t lease_ms, struct sw_err *e);
/*
 * Owner finished job id: it becomes done with outcome ("Succeeded" or
 * "Failed"), result (JSON or NULL) and reason (NULL keeps the one a lost
 * attempt left, so that the report says why it ran again) at now_ms. Returns 1 (and changes nothing) when owner no longer holds
 * the lease: its result is not wanted then.
 */
int store_job_complete(struct store *s, const char *id, const char *owner,
		       const char *outcome, const char *result,
		       const char *reason, int64_t now_ms, struct sw_err *e);
/*
 * Take back every lease expired before now_ms: a build or command is
 * queued again (attempt + 1, owner cleared, reason "worker 'W' lost its
 * lease (attempt N)"), or failed once STORE_JOB_MAX_ATTEMPTS is reached;
 * a deploy is done and failed ("worker 'W' lost its lease during the
 * deployment; not run again"). A deploy with a fallback (its rollback)
 * has it queued in the same transaction as job "<id>-rollback" (kind
 * deploy, no labels), and its reason ends "; rolled back by job
 * <id>-rollback". *requeued and *failed (when not NULL) count them. Any
 * process may reap; racing reapers take a job back once, so a fallback
 * is queued once.
 */
int store_job_reap(struct store *s, int64_t now_ms, long *requeued,
		   long *failed, struct sw_err *e);
/* Job id into *j (the caller releases it); 1 when there is none. */
int store_job_get(struct store *s, const char *id, struct store_job *j,
		  struct sw_err *e);
/* Jobs, oldest first; q->status filters, q->name filters on the owner. */
int store_list_jobs(struct store *s, const struct store_query *q,
		    struct store_job **v, size_t *nr, struct sw_err *e);
/* Delete the jobs done before before_ms. */
int store_job_prune(struct store *s, int64_t before_ms, struct sw_err *e);
/*
 * Wake on queued jobs instead of looking: on PostgreSQL, LISTEN to the
 * notice a trigger sends when a job becomes queued (enqueued, or taken
 * back from a lost lease), and return the connection's descriptor, which
 * becomes readable when one arrives; -1 where there is none (SQLite, or
 * LISTEN failed: *e says why), so the caller polls. store_job_notified()
 * consumes what arrived (over the descriptor, or with the answer to
 * another statement) and returns how many notices: 0 for none.
 */
int store_job_listen(struct store *s, struct sw_err *e);
int store_job_notified(struct store *s);
void store_job_release(struct store_job *j);
void store_jobs_free(struct store_job *v, size_t nr);
/*
 * Whether a worker having labels (comma-separated, NULL: none) may run a
 * job wanting wanted (comma-separated, NULL or "": any): 1 or 0. Blanks
 * around names are ignored. Pure; the same for every database.
 */
int store_job_labels_match(const char *wanted, const char *labels);

#endif
