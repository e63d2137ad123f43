/*
 * The front of the store (see store.h): the location names the database,
 * and each call goes to its implementation (impl.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "impl.h"
#include "migrations.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

struct store {
	struct sq *sq;
	struct pg *pg;
};

int store_is_postgres(const char *location)
{
	return !strncmp(location, "postgres://", 11) ||
	       !strncmp(location, "postgresql://", 13);
}

const char *store_sqlite_path(const char *location)
{
	if (store_is_postgres(location))
		return NULL;
	return strncmp(location, "sqlite:", 7) ? location : location + 7;
}

int store_location_check(const char *location, struct sw_err *e)
{
	if (!*location)
		return err_set(e, ERR_USAGE, "the store location is empty");
	if (store_is_postgres(location))
		return 0;
	if (!strncmp(location, "sqlite:", 7))
		return location[7] ? 0
				   : err_set(e, ERR_USAGE,
					     "'%s': no file after 'sqlite:'",
					     location);
	if (strstr(location, "://"))
		return err_set(e, ERR_USAGE,
			       "'%s': not a store location (sqlite:PATH, "
			       "postgres://... or postgresql://...)",
			       location);
	return 0;
}

char *store_locate(const char *state_dir)
{
	const char *env = getenv("SLIPWAY_DB");

	if (env && *env)
		return xstrdup(env);
	return fs_join(state_dir ? state_dir : ".", "slipway.db");
}

static int open_at(struct store **out, const char *location, int max,
		   int *moved_aside, struct sw_err *e)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (moved_aside)
		*moved_aside = 0;
	if (store_location_check(location, e) < 0) {
		e->code = ERR_SYSTEM;
		free(s);
		return -1;
	}
	if (store_is_postgres(location))
		ret = pg_open(&s->pg, location, max, e);
	else
		ret = sq_open(&s->sq, store_sqlite_path(location), max,
			      moved_aside, e);
	if (ret < 0) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int store_open_ex(struct store **s, const char *location, int *moved_aside,
		  struct sw_err *e)
{
	return open_at(s, location, store_latest_version(), moved_aside, e);
}

int store_open(struct store **s, const char *location, struct sw_err *e)
{
	return open_at(s, location, store_latest_version(), NULL, e);
}

int store_open_at(struct store **s, const char *location, int max,
		  struct sw_err *e)
{
	return open_at(s, location, max, NULL, e);
}

int store_alive(struct store *s)
{
	return s->pg ? pg_alive(s->pg) : 1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->pg)
		pg_close(s->pg);
	else
		sq_close(s->sq);
	free(s);
}

int store_latest_version(void)
{
	return store_migrations[store_migrations_nr - 1].version;
}

void store_build_release(struct store_build *b)
{
	free(b->id);
	free(b->project);
	free(b->status);
	free(b->source_version);
	free(b->report_path);
	free(b->reason);
	memset(b, 0, sizeof(*b));
}

void store_builds_free(struct store_build *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		store_build_release(&v[i]);
	free(v);
}

void store_deployment_release(struct store_deployment *d)
{
	free(d->id);
	free(d->application);
	free(d->group);
	free(d->status);
	free(d->report_path);
	free(d->creator);
	memset(d, 0, sizeof(*d));
}

void store_deployments_free(struct store_deployment *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		store_deployment_release(&v[i]);
	free(v);
}

void store_execution_release(struct store_execution *x)
{
	free(x->id);
	free(x->pipeline);
	free(x->pipeline_file);
	free(x->status);
	free(x->status_summary);
	free(x->trigger_type);
	free(x->trigger_detail);
	free(x->variables);
	memset(x, 0, sizeof(*x));
}

void store_executions_free(struct store_execution *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		store_execution_release(&v[i]);
	free(v);
}

void store_stages_free(struct store_stage *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].execution_id);
		free(v[i].stage);
		free(v[i].status);
	}
	free(v);
}

void store_actions_free(struct store_action *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].execution_id);
		free(v[i].stage);
		free(v[i].action);
		free(v[i].status);
		free(v[i].external_id);
		free(v[i].output_variables);
		free(v[i].error);
	}
	free(v);
}

void store_approvals_free(struct store_approval *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(v[i].execution_id);
		free(v[i].stage);
		free(v[i].action);
		free(v[i].status);
		free(v[i].summary);
		free(v[i].who);
	}
	free(v);
}

void store_events_free(struct store_event *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i].json);
	free(v);
}

int store_begin(struct store *s, struct sw_err *e)
{
	return s->pg ? pg_begin(s->pg, e) : sq_begin(s->sq, e);
}

int store_commit(struct store *s, struct sw_err *e)
{
	return s->pg ? pg_commit(s->pg, e) : sq_commit(s->sq, e);
}

void store_rollback(struct store *s)
{
	if (s->pg)
		pg_rollback(s->pg);
	else
		sq_rollback(s->sq);
}

int store_version(struct store *s, int *version, struct sw_err *e)
{
	return s->pg ? pg_version(s->pg, version, e)
		     : sq_version(s->sq, version, e);
}

int store_meta_get(struct store *s, const char *key, char **value,
		   struct sw_err *e)
{
	return s->pg ? pg_meta_get(s->pg, key, value, e)
		     : sq_meta_get(s->sq, key, value, e);
}

int store_meta_set(struct store *s, const char *key, const char *value,
		   struct sw_err *e)
{
	return s->pg ? pg_meta_set(s->pg, key, value, e)
		     : sq_meta_set(s->sq, key, value, e);
}

int store_put_build(struct store *s, const struct store_build *b,
		    struct sw_err *e)
{
	return s->pg ? pg_put_build(s->pg, b, e) : sq_put_build(s->sq, b, e);
}

int store_get_build(struct store *s, const char *id, struct store_build *b,
		    struct sw_err *e)
{
	return s->pg ? pg_get_build(s->pg, id, b, e)
		     : sq_get_build(s->sq, id, b, e);
}

int store_list_builds(struct store *s, const struct store_query *q,
		      struct store_build **v, size_t *nr, struct sw_err *e)
{
	return s->pg ? pg_list_builds(s->pg, q, v, nr, e)
		     : sq_list_builds(s->sq, q, v, nr, e);
}

int store_delete_build(struct store *s, const char *id, struct sw_err *e)
{
	return s->pg ? pg_delete_build(s->pg, id, e)
		     : sq_delete_build(s->sq, id, e);
}

int store_put_deployment(struct store *s, const struct store_deployment *d,
			 struct sw_err *e)
{
	return s->pg ? pg_put_deployment(s->pg, d, e)
		     : sq_put_deployment(s->sq, d, e);
}

int store_get_deployment(struct store *s, const char *id,
			 struct store_deployment *d, struct sw_err *e)
{
	return s->pg ? pg_get_deployment(s->pg, id, d, e)
		     : sq_get_deployment(s->sq, id, d, e);
}

int store_list_deployments(struct store *s, const struct store_query *q,
			   struct store_deployment **v, size_t *nr,
			   struct sw_err *e)
{
	return s->pg ? pg_list_deployments(s->pg, q, v, nr, e)
		     : sq_list_deployments(s->sq, q, v, nr, e);
}

int store_delete_deployment(struct store *s, const char *id, struct sw_err *e)
{
	return s->pg ? pg_delete_deployment(s->pg, id, e)
		     : sq_delete_deployment(s->sq, id, e);
}

int store_put_execution(struct store *s, const struct store_execution *x,
			struct sw_err *e)
{
	return s->pg ? pg_put_execution(s->pg, x, e)
		     : sq_put_execution(s->sq, x, e);
}

int store_get_execution(struct store *s, const char *id,
			struct store_execution *x, struct sw_err *e)
{
	return s->pg ? pg_get_execution(s->pg, id, x, e)
		     : sq_get_execution(s->sq, id, x, e);
}

int store_list_executions(struct store *s, const struct store_query *q,
			  struct store_execution **v, size_t *nr,
			  struct sw_err *e)
{
	return s->pg ? pg_list_executions(s->pg, q, v, nr, e)
		     : sq_list_executions(s->sq, q, v, nr, e);
}

int store_delete_execution(struct store *s, const char *id, struct sw_err *e)
{
	return s->pg ? pg_delete_execution(s->pg, id, e)
		     : sq_delete_execution(s->sq, id, e);
}

int store_put_stage(struct store *s, const struct store_stage *st,
		    struct sw_err *e)
{
	return s->pg ? pg_put_stage(s->pg, st, e) : sq_put_stage(s->sq, st, e);
}

int store_list_stages(struct store *s, const struct store_query *q,
		      struct store_stage **v, size_t *nr, struct sw_err *e)
{
	return s->pg ? pg_list_stages(s->pg, q, v, nr, e)
		     : sq_list_stages(s->sq, q, v, nr, e);
}

int store_put_action(struct store *s, const struct store_action *a,
		     struct sw_err *e)
{
	return s->pg ? pg_put_action(s->pg, a, e) : sq_put_action(s->sq, a, e);
}

int store_list_actions(struct store *s, const struct store_query *q,
		       struct store_action **v, size_t *nr, struct sw_err *e)
{
	return s->pg ? pg_list_actions(s->pg, q, v, nr, e)
		     : sq_list_actions(s->sq, q, v, nr, e);
}

int store_put_approval(struct store *s, const struct store_approval *a,
		       struct sw_err *e)
{
	return s->pg ? pg_put_approval(s->pg, a, e)
		     : sq_put_approval(s->sq, a, e);
}

int store_list_approvals(struct store *s, const struct store_query *q,
			 struct store_approval **v, size_t *nr,
			 struct sw_err *e)
{
	return s->pg ? pg_list_approvals(s->pg, q, v, nr, e)
		     : sq_list_approvals(s->sq, q, v, nr, e);
}

int store_append_event(struct store *s, const char *execution_id,
		       int64_t time_ms, const char *json, long *seq,
		       struct sw_err *e)
{
	return s->pg ? pg_append_event(s->pg, execution_id, time_ms, json, seq,
				       e)
		     : sq_append_event(s->sq, execution_id, time_ms, json, seq,
				       e);
}

int store_list_events(struct store *s, const struct store_query *q, long after,
		      struct store_event **v, size_t *nr, struct sw_err *e)
{
	return s->pg ? pg_list_events(s->pg, q, after, v, nr, e)
		     : sq_list_events(s->sq, q, after, v, nr, e);
}

int store_delivery_record(struct store *s, const char *forge, const char *id,
			  int64_t now_ms, int *first, struct sw_err *e)
{
	return s->pg ? pg_delivery_record(s->pg, forge, id, now_ms, first, e)
		     : sq_delivery_record(s->sq, forge, id, now_ms, first, e);
}

int store_delivery_prune(struct store *s, int64_t before_ms, struct sw_err *e)
{
	return s->pg ? pg_delivery_prune(s->pg, before_ms, e)
		     : sq_delivery_prune(s->sq, before_ms, e);
}

int store_poll_heads(struct store *s, const char *source, struct strvec *refs,
		     struct strvec *commits, struct sw_err *e)
{
	return s->pg ? pg_poll_heads(s->pg, source, refs, commits, e)
		     : sq_poll_heads(s->sq, source, refs, commits, e);
}

int store_poll_head_set(struct store *s, const char *source, const char *ref,
			const char *commit, int64_t now_ms, struct sw_err *e)
{
	return s->pg ? pg_poll_head_set(s->pg, source, ref, commit, now_ms, e)
		     : sq_poll_head_set(s->sq, source, ref, commit, now_ms, e);
}

void store_job_release(struct store_job *j)
{
	free(j->id);
	free(j->kind);
	free(j->spec);
	free(j->labels);
	free(j->status);
	free(j->owner);
	free(j->outcome);
	free(j->result);
	free(j->reason);
	free(j->fallback);
	memset(j, 0, sizeof(*j));
}

void store_jobs_free(struct store_job *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		store_job_release(&v[i]);
	free(v);
}

/* the job queue */

int store_job_enqueue(struct store *s, const struct store_job *j,
		      struct sw_err *e)
{
	return s->pg ? pg_job_enqueue(s->pg, j, e)
		     : sq_job_enqueue(s->sq, j, e);
}

int store_job_claim(struct store *s, const char *owner, const char *labels,
		    int64_t now_ms, int64_t lease_ms, struct store_job *j,
		    struct sw_err *e)
{
	return s->pg ? pg_job_claim(s->pg, owner, labels, now_ms, lease_ms, j,
				    e)
		     : sq_job_claim(s->sq, owner, labels, now_ms, lease_ms, j,
				    e);
}

int store_job_heartbeat(struct store *s, const char *id, const char *owner,
			int64_t now_ms, int64_t lease_ms, struct sw_err *e)
{
	return s->pg ? pg_job_heartbeat(s->pg, id, owner, now_ms, lease_ms, e)
		     : sq_job_heartbeat(s->sq, id, owner, now_ms, lease_ms, e);
}

int store_job_complete(struct store *s, const char *id, const char *owner,
		       const char *outcome, const char *result,
		       const char *reason, int64_t now_ms, struct sw_err *e)
{
	return s->pg ? pg_job_complete(s->pg, id, owner, outcome, result,
				       reason, now_ms, e)
		     : sq_job_complete(s->sq, id, owner, outcome, result,
				       reason, now_ms, e);
}

int store_job_reap(struct store *s, int64_t now_ms, long *requeued,
		   long *failed, struct sw_err *e)
{
	return s->pg ? pg_job_reap(s->pg, now_ms, requeued, failed, e)
		     : sq_job_reap(s->sq, now_ms, requeued, failed, e);
}

int store_job_get(struct store *s, const char *id, struct store_job *j,
		  struct sw_err *e)
{
	return s->pg ? pg_job_get(s->pg, id, j, e)
		     : sq_job_get(s->sq, id, j, e);
}

int store_list_jobs(struct store *s, const struct store_query *q,
		    struct store_job **v, size_t *nr, struct sw_err *e)
{
	return s->pg ? pg_list_jobs(s->pg, q, v, nr, e)
		     : sq_list_jobs(s->sq, q, v, nr, e);
}

int store_job_prune(struct store *s, int64_t before_ms, struct sw_err *e)
{
	return s->pg ? pg_job_prune(s->pg, before_ms, e)
		     : sq_job_prune(s->sq, before_ms, e);
}

int store_job_listen(struct store *s, struct sw_err *e)
{
	return s->pg ? pg_job_listen(s->pg, e) : -1;
}

int store_job_notified(struct store *s)
{
	return s->pg ? pg_job_notified(s->pg) : 0;
}
