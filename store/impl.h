/*
 * store_impl: what store.c (the front of store.h) dispatches to, one
 * implementation per database: sq_* in sqlite.c, pg_* in postgres.c.
 * Each takes the same arguments, with the same meaning, as the store_*
 * function of the same name in store.h. Not for use outside store/.
 */
#ifndef SW_STORE_IMPL_H
#define SW_STORE_IMPL_H

#include "store.h"

struct sq;
struct pg;

/* Open path (a file) or url (postgres://...), migrating up to max. */
int sq_open(struct sq **s, const char *path, int max, int *moved_aside,
	    struct sw_err *e);
int pg_open(struct pg **s, const char *url, int max, struct sw_err *e);
void sq_close(struct sq *s);
void pg_close(struct pg *s);
int pg_alive(struct pg *s);

int sq_begin(struct sq *s, struct sw_err *e);
int sq_commit(struct sq *s, struct sw_err *e);
void sq_rollback(struct sq *s);
int sq_version(struct sq *s, int *version, struct sw_err *e);
int sq_meta_get(struct sq *s, const char *key, char **value, struct sw_err *e);
int sq_meta_set(struct sq *s, const char *key, const char *value,
		struct sw_err *e);
int sq_put_build(struct sq *s, const struct store_build *b, struct sw_err *e);
int sq_get_build(struct sq *s, const char *id, struct store_build *b,
		 struct sw_err *e);
int sq_list_builds(struct sq *s, const struct store_query *q,
		   struct store_build **v, size_t *nr, struct sw_err *e);
int sq_delete_build(struct sq *s, const char *id, struct sw_err *e);
int sq_put_deployment(struct sq *s, const struct store_deployment *d,
		      struct sw_err *e);
int sq_get_deployment(struct sq *s, const char *id, struct store_deployment *d,
		      struct sw_err *e);
int sq_list_deployments(struct sq *s, const struct store_query *q,
			struct store_deployment **v, size_t *nr,
			struct sw_err *e);
int sq_delete_deployment(struct sq *s, const char *id, struct sw_err *e);
int sq_put_execution(struct sq *s, const struct store_execution *x,
		     struct sw_err *e);
int sq_get_execution(struct sq *s, const char *id, struct store_execution *x,
		     struct sw_err *e);
int sq_list_executions(struct sq *s, const struct store_query *q,
		       struct store_execution **v, size_t *nr,
		       struct sw_err *e);
int sq_delete_execution(struct sq *s, const char *id, struct sw_err *e);
int sq_put_stage(struct sq *s, const struct store_stage *st, struct sw_err *e);
int sq_list_stages(struct sq *s, const struct store_query *q,
		   struct store_stage **v, size_t *nr, struct sw_err *e);
int sq_put_action(struct sq *s, const struct store_action *a, struct sw_err *e);
int sq_list_actions(struct sq *s, const struct store_query *q,
		    struct store_action **v, size_t *nr, struct sw_err *e);
int sq_put_approval(struct sq *s, const struct store_approval *a,
		    struct sw_err *e);
int sq_list_approvals(struct sq *s, const struct store_query *q,
		      struct store_approval **v, size_t *nr, struct sw_err *e);
int sq_append_event(struct sq *s, const char *execution_id, int64_t time_ms,
		    const char *json, long *seq, struct sw_err *e);
int sq_list_events(struct sq *s, const struct store_query *q, long after,
		   struct store_event **v, size_t *nr, struct sw_err *e);
int sq_delivery_record(struct sq *s, const char *forge, const char *id,
		       int64_t now_ms, int *first, struct sw_err *e);
int sq_delivery_prune(struct sq *s, int64_t before_ms, struct sw_err *e);
int sq_poll_heads(struct sq *s, const char *source, struct strvec *refs,
		  struct strvec *commits, struct sw_err *e);
int sq_poll_head_set(struct sq *s, const char *source, const char *ref,
		     const char *commit, int64_t now_ms, struct sw_err *e);

int pg_begin(struct pg *s, struct sw_err *e);
int pg_commit(struct pg *s, struct sw_err *e);
void pg_rollback(struct pg *s);
int pg_version(struct pg *s, int *version, struct sw_err *e);
int pg_meta_get(struct pg *s, const char *key, char **value, struct sw_err *e);
int pg_meta_set(struct pg *s, const char *key, const char *value,
		struct sw_err *e);
int pg_put_build(struct pg *s, const struct store_build *b, struct sw_err *e);
int pg_get_build(struct pg *s, const char *id, struct store_build *b,
		 struct sw_err *e);
int pg_list_builds(struct pg *s, const struct store_query *q,
		   struct store_build **v, size_t *nr, struct sw_err *e);
int pg_delete_build(struct pg *s, const char *id, struct sw_err *e);
int pg_put_deployment(struct pg *s, const struct store_deployment *d,
		      struct sw_err *e);
int pg_get_deployment(struct pg *s, const char *id, struct store_deployment *d,
		      struct sw_err *e);
int pg_list_deployments(struct pg *s, const struct store_query *q,
			struct store_deployment **v, size_t *nr,
			struct sw_err *e);
int pg_delete_deployment(struct pg *s, const char *id, struct sw_err *e);
int pg_put_execution(struct pg *s, const struct store_execution *x,
		     struct sw_err *e);
int pg_get_execution(struct pg *s, const char *id, struct store_execution *x,
		     struct sw_err *e);
int pg_list_executions(struct pg *s, const struct store_query *q,
		       struct store_execution **v, size_t *nr,
		       struct sw_err *e);
int pg_delete_execution(struct pg *s, const char *id, struct sw_err *e);
int pg_put_stage(struct pg *s, const struct store_stage *st, struct sw_err *e);
int pg_list_stages(struct pg *s, const struct store_query *q,
		   struct store_stage **v, size_t *nr, struct sw_err *e);
int pg_put_action(struct pg *s, const struct store_action *a, struct sw_err *e);
int pg_list_actions(struct pg *s, const struct store_query *q,
		    struct store_action **v, size_t *nr, struct sw_err *e);
int pg_put_approval(struct pg *s, const struct store_approval *a,
		    struct sw_err *e);
int pg_list_approvals(struct pg *s, const struct store_query *q,
		      struct store_approval **v, size_t *nr, struct sw_err *e);
int pg_append_event(struct pg *s, const char *execution_id, int64_t time_ms,
		    const char *json, long *seq, struct sw_err *e);
int pg_list_events(struct pg *s, const struct store_query *q, long after,
		   struct store_event **v, size_t *nr, struct sw_err *e);
int pg_delivery_record(struct pg *s, const char *forge, const char *id,
		       int64_t now_ms, int *first, struct sw_err *e);
int pg_delivery_prune(struct pg *s, int64_t before_ms, struct sw_err *e);
int pg_poll_heads(struct pg *s, const char *source, struct strvec *refs,
		  struct strvec *commits, struct sw_err *e);
int pg_poll_head_set(struct pg *s, const char *source, const char *ref,
		     const char *commit, int64_t now_ms, struct sw_err *e);

/* the job queue */
int sq_job_enqueue(struct sq *s, const struct store_job *j, struct sw_err *e);
int sq_job_claim(struct sq *s, const char *owner, const char *labels,
		 int64_t now_ms, int64_t lease_ms, struct store_job *j,
		 struct sw_err *e);
int sq_job_heartbeat(struct sq *s, const char *id, const char *owner,
		     int64_t now_ms, int64_t lease_ms, struct sw_err *e);
int sq_job_complete(struct sq *s, const char *id, const char *owner,
		    const char *outcome, const char *result, const char *reason,
		    int64_t now_ms, struct sw_err *e);
int sq_job_reap(struct sq *s, int64_t now_ms, long *requeued, long *failed,
		struct sw_err *e);
int sq_job_get(struct sq *s, const char *id, struct store_job *j,
	       struct sw_err *e);
int sq_list_jobs(struct sq *s, const struct store_query *q,
		 struct store_job **v, size_t *nr, struct sw_err *e);
int sq_job_prune(struct sq *s, int64_t before_ms, struct sw_err *e);
int pg_job_enqueue(struct pg *s, const struct store_job *j, struct sw_err *e);
int pg_job_claim(struct pg *s, const char *owner, const char *labels,
		 int64_t now_ms, int64_t lease_ms, struct store_job *j,
		 struct sw_err *e);
int pg_job_heartbeat(struct pg *s, const char *id, const char *owner,
		     int64_t now_ms, int64_t lease_ms, struct sw_err *e);
int pg_job_complete(struct pg *s, const char *id, const char *owner,
		    const char *outcome, const char *result, const char *reason,
		    int64_t now_ms, struct sw_err *e);
int pg_job_reap(struct pg *s, int64_t now_ms, long *requeued, long *failed,
		struct sw_err *e);
int pg_job_get(struct pg *s, const char *id, struct store_job *j,
	       struct sw_err *e);
int pg_list_jobs(struct pg *s, const struct store_query *q,
		 struct store_job **v, size_t *nr, struct sw_err *e);
int pg_job_prune(struct pg *s, int64_t before_ms, struct sw_err *e);
int pg_job_listen(struct pg *s, struct sw_err *e);
int pg_job_notified(struct pg *s);

#endif
