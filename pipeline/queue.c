/*
 * An action through the job queue (see queue.h).
 */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "fs.h"
#include "hash.h"
#include "queue.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

/* How often a waiter looks at its job (ms). */
#define QUEUE_POLL_MS 50

int64_t queue_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t queue_lease_ms(void)
{
	const char *v = getenv("SLIPWAY_LEASE_MS");
	long n = v ? strtol(v, NULL, 10) : 0;

	return n > 0 ? n : QUEUE_LEASE_MS;
}

bool queue_wanted(void)
{
	const char *v = getenv("SLIPWAY_QUEUE");

	return v && !strcmp(v, "1");
}

static json_object *strings(char *const *v, size_t nr)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; v && (nr ? i < nr : v[i] != NULL); i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void put_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/* The arguments of argv that name a pipeline artifact, by its digest. */
static json_object *inputs_of(const struct queue_action *qa, char *const *argv)
{
	json_object *a = json_object_new_array();
	char *adir = fs_join(qa->state_dir, "artifacts");
	size_t n = strlen(adir);

	for (size_t i = 0; argv[i]; i++) {
		char *real = realpath(argv[i], NULL);
		json_object *in;
		char hex[65];

		if (!real || strncmp(real, adir, n) || real[n] != '/' ||
		    strlen(real + n + 1) != 64) {
			free(real);
			continue;
		}
		memcpy(hex, real + n + 1, 65);
		free(real);
		if (!blob_is_digest(hex))
			continue;
		in = json_object_new_object();
		json_object_object_add(in, "index",
				       json_object_new_int64((int64_t)i));
		json_object_object_add(in, "digest",
				       json_object_new_string(hex));
		json_object_array_add(a, in);
	}
	free(adir);
	return a;
}

/* The job's spec, or with rollback its fallback's (see queue.h). */
static char *spec_of(const struct queue_action *qa, bool rollback)
{
	json_object *o = json_object_new_object(), *env;
	char *s;

	json_object_object_add(
		o, "argv", strings(rollback ? qa->rollback_argv : qa->argv, 0));
	put_str(o, "cwd", qa->cwd);
	env = strings(qa->env, qa->nr_env);
	if (rollback) {
		json_object *keep = json_object_new_array();

		for (size_t i = 0; i < json_object_array_length(env); i++) {
			json_object *x = json_object_array_get_idx(env, i);

			if (strncmp(json_object_get_string(x),
				    "SLIPWAY_OUTPUT_VARIABLES=", 25))
				json_object_array_add(keep, json_object_get(x));
		}
		json_object_put(env);
		env = keep;
	}
	json_object_object_add(o, "env", env);
	put_str(o, "log", qa->log);
	put_str(o, "wd", qa->wd);
	if (!rollback) {
		put_str(o, "outvars", qa->outvars);
		put_str(o, "execution", qa->execution_id);
		put_str(o, "action", qa->action);
		if (qa->state_dir)
			json_object_object_add(o, "inputs",
					       inputs_of(qa, qa->argv));
	} else {
		put_str(o, "deployment", qa->rollback_id);
		/* the revision it redeploys, for a worker to fetch */
		if (qa->state_dir)
			json_object_object_add(
				o, "inputs", inputs_of(qa, qa->rollback_argv));
	}
	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void append_log(const char *log, const char *line)
{
	FILE *f = log ? fopen(log, "ae") : NULL;

	if (!f)
		return;
	fprintf(f, "%s\n", line);
	fclose(f);
}

/* A location of the worker's report, under root, made one under wd. */
static void relocate(json_object *o, const char *root, const char *wd)
{
	json_object *l;
	const char *v;
	size_t n = strlen(root);

	if (!o || !json_object_object_get_ex(o, "location", &l))
		return;
	v = json_object_get_string(l);
	if (!strncmp(v, "file://", 7))
		v += 7;
	if (strncmp(v, root, n) || (v[n] && v[n] != '/'))
		return;
	{
		char *loc = xasprintf("file://%s%s", wd, v + n);

		json_object_object_add(o, "location",
				       json_object_new_string(loc));
		free(loc);
	}
}

/*
 * The build's report and output that a worker on another machine sent
 * (see queue.h), unpacked into wd; -1 with *e set when they cannot be.
 */
static int take_artifact(const struct queue_action *qa, json_object *res,
			 struct sw_err *e)
{
	json_object *x, *rep = NULL, *arr;
	const char *sha, *root, *shared = NULL;
	char *tar, *tmp = NULL, *p = NULL, *q = NULL;
	char got[HASH_SHA256_HEX];
	int ret = -1;

	if (!json_object_object_get_ex(res, "artifact", &x))
		return 0;
	sha = json_object_get_string(x);
	if (!blob_is_digest(sha) || !json_object_object_get_ex(res, "root", &x))
		return err_set(e, ERR_SYSTEM, "the worker's result is bad");
	root = json_object_get_string(x);
	if (json_object_object_get_ex(res, "shared", &x))
		shared = json_object_get_string(x);
	p = xasprintf("blobs/%s", sha);
	tar = shared ? fs_join(shared, sha) : fs_join(qa->state_dir, p);
	if (hash_file_sha256(tar, got, e) < 0)
		goto out;
	if (strcmp(got, sha)) {
		err_set(e, ERR_SYSTEM, "%s: its sha256 is %s, not %s", tar, got,
			sha);
		goto out;
	}
	tmp = fs_join(qa->wd, "result");
	fs_remove_tree(tmp, e);
	if (blob_unpack(tar, tmp, e) < 0)
		goto out;
	free(p);
	p = fs_join(tmp, "report.json");
	rep = json_object_from_file(p);
	if (!rep) {
		err_set(e, ERR_SYSTEM, "the worker sent no build report");
		goto out;
	}
	if (json_object_object_get_ex(rep, "artifacts", &x))
		relocate(x, root, qa->wd);
	if (json_object_object_get_ex(rep, "secondaryArtifacts", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			relocate(json_object_array_get_idx(arr, i), root,
				 qa->wd);
	free(q);
	q = fs_join(qa->wd, "report.json");
	if (json_object_to_file_ext(q, rep, JSON_C_TO_STRING_PRETTY) < 0) {
		err_sys(e, "%s", q);
		goto out;
	}
	free(p);
	free(q);
	p = fs_join(tmp, "out");
	q = fs_join(qa->wd, "out");
	if (fs_is_dir(p) && (fs_remove_tree(q, e) < 0 || rename(p, q) < 0)) {
		if (!e->msg[0])
			err_sys(e, "rename '%s'", q);
		goto out;
	}
	ret = 0;
out:
	json_object_put(rep);
	free(tar);
	free(tmp);
	free(p);
	free(q);
	return ret;
}

/* Whether job j failed with no exit status: its worker was lost. */
static bool lost(const struct store_job *j)
{
	json_object *res;
	bool ret;

	if (!strcmp(j->outcome ? j->outcome : "", "Succeeded") || !j->reason)
		return false;
	res = j->result ? json_tokener_parse(j->result) : NULL;
	ret = !(res && json_object_object_get_ex(res, "exit", NULL));
	json_object_put(res);
	return ret;
}

/* <wd>/job.json for the report, and the exit status the job gives;
 * rb is the rollback that ran in a lost deployment's place, or NULL. */
static int finish(const struct queue_action *qa, const struct store_job *j,
		  const struct store_job *rb)
{
	json_object *o = json_object_new_object(), *res, *x;
	struct sw_err e = SW_ERR_INIT;
	const char *txt;
	char *path, *reason = NULL;
	int status = strcmp(j->outcome ? j->outcome : "", "Succeeded") ? 1 : 0;

	res = j->result ? json_tokener_parse(j->result) : NULL;
	if (res && json_object_object_get_ex(res, "exit", &x))
		status = json_object_get_int(x);
	if (status == 0 && strcmp(j->outcome ? j->outcome : "", "Succeeded"))
		status = 1;
	if (status == 0 && res && take_artifact(qa, res, &e) < 0) {
		char *line = xasprintf("error: job %s: %s", j->id, e.msg);

		append_log(qa->log, line); /* stderr is that log too */
		free(line);
		err_clear(&e);
		status = 111;
	}
	put_str(o, "id", j->id);
	put_str(o, "worker", j->owner);
	json_object_object_add(o, "attempt", json_object_new_int64(j->attempt));
	if (rb) {
		json_object *ro = json_object_new_object();

		reason = xasprintf("%s: deployment %s %s", j->reason,
				   qa->rollback_id, rb->outcome);
		put_str(ro, "job", rb->id);
		put_str(ro, "deployment", qa->rollback_id);
		put_str(ro, "worker", rb->owner);
		put_str(ro, "outcome", rb->outcome);
		json_object_object_add(o, "rollback", ro);
	}
	if (!rb && qa->no_rollback && !strcmp(qa->kind, "deploy") && lost(j))
		reason = xasprintf("%s; %s", j->reason, qa->no_rollback);
	put_str(o, "reason", reason ? reason : j->reason);
	put_str(o, "outcome", j->outcome);
	json_object_object_add(
		o, "queuedMs",
		json_object_new_int64(j->started_ms - j->enqueued_ms));
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	path = fs_join(qa->wd, "job.json");
	if (fs_write_atomic(path, txt, strlen(txt), 0644, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	free(path);
	if (status && j->reason &&
	    !(res && json_object_object_get_ex(res, "exit", NULL))) {
		char *line =
			xasprintf("error: %s", reason ? reason : j->reason);

		append_log(qa->log, line);
		free(line);
	}
	free(reason);
	json_object_put(res);
	json_object_put(o);
	return status;
}

/* A deployment that succeeded: its bundle's digest as the group's last
 * successful revision, in qa->good_file ("ID DIGEST"). */
static void record_good(const struct queue_action *qa)
{
	json_object *in, *x;
	struct sw_err e = SW_ERR_INIT;
	char *dir, *text;

	if (!qa->good_file || !qa->deployment_id || !qa->state_dir)
		return;
	in = inputs_of(qa, qa->argv);
	if (!json_object_array_length(in) ||
	    !json_object_object_get_ex(json_object_array_get_idx(in, 0),
				       "digest", &x)) {
		json_object_put(in);
		return;
	}
	text = xasprintf("%s %s\n", qa->deployment_id,
			 json_object_get_string(x));
	dir = xstrdup(qa->good_file);
	*strrchr(dir, '/') = '\0';
	if (fs_mkdir_p(dir, 0755, &e) < 0 ||
	    fs_write_atomic(qa->good_file, text, strlen(text), 0644, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	free(dir);
	free(text);
	json_object_put(in);
}

static json_object *ms_json(int64_t ms)
{
	char txt[32];

	snprintf(txt, sizeof(txt), "%lld.%03lld", (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, txt);
}

/*
 * The report of a deployment whose worker was lost (j), which it never
 * wrote, at <state>/deployments/<id>/report.json unless one is there,
 * and its row in the store; rb_job is its rollback's job, or NULL.
 */
static void lost_report(struct store *s, const struct queue_action *qa,
			const struct store_job *j, const char *rb_job,
			const char *why)
{
	json_object *o, *rv, *ei, *ri = NULL;
	struct store_deployment row = { 0 }, old = { 0 };
	struct sw_err e = SW_ERR_INIT;
	char *dir, *path, *msg;
	const char *txt;
	int64_t end = j->ended_ms ? j->ended_ms : queue_wall_ms();
	int rc;

	if (!qa->deployment_id || !qa->state_dir)
		return;
	dir = xasprintf("%s/deployments/%s", qa->state_dir, qa->deployment_id);
	path = fs_join(dir, "report.json");
	if (fs_exists(path)) {
		free(dir);
		free(path);
		return;
	}
	msg = why ? xasprintf("%s; %s", j->reason, why) : xstrdup(j->reason);
	o = json_object_new_object();
	put_str(o, "deploymentId", qa->deployment_id);
	put_str(o, "applicationName", qa->application);
	put_str(o, "deploymentGroupName", qa->group_name);
	put_str(o, "deploymentGroupId", qa->group_id);
	put_str(o, "status", "Failed");
	if (j->started_ms) {
		json_object_object_add(o, "createTime", ms_json(j->started_ms));
		json_object_object_add(o, "startTime", ms_json(j->started_ms));
	}
	json_object_object_add(o, "completeTime", ms_json(end));
	put_str(o, "creator", "user");
	rv = json_object_new_object();
	put_str(rv, "revisionType", "Local");
	put_str(rv, "location", qa->argv[2]);
	json_object_object_add(o, "revision", rv);
	/* CodeDeploy's code when the agent on an instance is lost */
	ei = json_object_new_object();
	put_str(ei, "code", "AGENT_ISSUE");
	put_str(ei, "message", msg);
	json_object_object_add(o, "errorInformation", ei);
	if (rb_job) {
		char *m = xasprintf("rollback %s queued as job %s",
				    qa->rollback_id, rb_job);

		ri = json_object_new_object();
		put_str(ri, "rollbackDeploymentId", qa->rollback_id);
		put_str(ri, "rollbackMessage", m);
		free(m);
	}
	json_object_object_add(o, "rollbackInfo", ri);
	txt = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fs_mkdir_p(dir, 0755, &e) < 0 ||
	    fs_write_atomic(path, txt, strlen(txt), 0644, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		goto out;
	}
	/* its row, which its worker left InProgress: Failed, its report
	 * this one, the hosts it reached not known */
	rc = store_get_deployment(s, qa->deployment_id, &old, &e);
	if (rc < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		goto out;
	}
	row.id = (char *)qa->deployment_id;
	row.application = rc == 0 ? old.application : (char *)qa->application;
	row.group = rc == 0 ? old.group : (char *)qa->group_name;
	row.status = (char *)"Failed";
	row.start_ms = rc == 0 && old.start_ms ? old.start_ms : j->started_ms;
	row.end_ms = end;
	row.report_path = path;
	row.hosts_total = -1;
	row.creator = (char *)"user";
	if (!row.application)
		row.application = (char *)"";
	if (!row.group)
		row.group = (char *)"";
	if (store_put_deployment(s, &row, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	if (rc == 0)
		store_deployment_release(&old);
out:
	json_object_put(o);
	free(msg);
	free(dir);
	free(path);
}

/* Wait until job id is done, into *cur; take back expired leases. */
static int wait_job(struct store *s, const char *id, struct store_job *cur,
		    struct sw_err *e)
{
	for (;;) {
		int64_t now;
		int rc = store_job_get(s, id, cur, e);

		if (rc < 0)
			return -1;
		if (rc == 1)
			return err_set(e, ERR_SYSTEM, "job '%s' was deleted",
				       id);
		if (!strcmp(cur->status, "done"))
			return 0;
		now = queue_wall_ms();
		if (!strcmp(cur->status, "claimed") && cur->lease_ms < now &&
		    store_job_reap(s, now, NULL, NULL, e) < 0) {
			store_job_release(cur);
			return -1;
		}
		store_job_release(cur);
		poll(NULL, 0, QUEUE_POLL_MS);
	}
}

int queue_run(const struct queue_action *qa)
{
	struct store *s = NULL;
	struct sw_err e = SW_ERR_INIT;
	struct store_job j = { 0 }, cur = { 0 }, rb = { 0 };
	char *uuid = state_uuid(), *rid = NULL;
	bool rolled = false;
	int ret = 111, rc;

	j.id = xasprintf("j-%s", uuid);
	j.kind = (char *)qa->kind;
	j.labels = (char *)(qa->labels && *qa->labels ? qa->labels : NULL);
	j.spec = spec_of(qa, false);
	if (qa->rollback_argv)
		j.fallback = spec_of(qa, true);
	j.enqueued_ms = queue_wall_ms();
	if (store_open(&s, qa->db, &e) < 0 || store_job_enqueue(s, &j, &e) < 0)
		goto fail;
	free(j.spec);
	free(j.fallback);
	j.spec = j.fallback = NULL;
	j.kind = j.labels = NULL;
	fprintf(stderr, "slipway: queued as job %s%s%s\n", j.id,
		qa->labels && *qa->labels ? " for labels " : "",
		qa->labels && *qa->labels ? qa->labels : "");
	if (wait_job(s, j.id, &cur, &e) < 0)
		goto fail;
	if (!strcmp(qa->kind, "deploy") &&
	    !strcmp(cur.outcome ? cur.outcome : "", "Succeeded"))
		record_good(qa);
	/* a lost deployment: its rollback was queued in its place */
	rid = xasprintf("%s-rollback", j.id);
	if (qa->rollback_argv &&
	    strcmp(cur.outcome ? cur.outcome : "", "Succeeded") &&
	    (rc = store_job_get(s, rid, &rb, &e)) != 1) {
		char *line;

		if (rc < 0)
			goto fail;
		store_job_release(&rb);
		if (!strcmp(qa->kind, "deploy") && lost(&cur))
			lost_report(s, qa, &cur, rid, NULL);
		line = xasprintf("slipway: %s; rolling back as deployment %s",
				 cur.reason ? cur.reason : "lost",
				 qa->rollback_id);
		fprintf(stderr, "%s\n", line); /* the action's log */
		free(line);
		if (wait_job(s, rid, &rb, &e) < 0)
			goto fail;
		rolled = true;
	} else if (!strcmp(qa->kind, "deploy") && lost(&cur)) {
		lost_report(s, qa, &cur, NULL, qa->no_rollback);
	}
	ret = finish(qa, &cur, rolled ? &rb : NULL);
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	ret = 111;
out:
	store_job_release(&cur);
	store_job_release(&rb);
	store_close(s);
	free(j.id);
	free(j.spec);
	free(j.fallback);
	free(rid);
	free(uuid);
	return ret;
}
