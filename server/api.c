/*
 * api: the JSON API (api.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "blobs.h"
#include "exec.h"
#include "fs.h"
#include "http.h"
#include "pipeline.h"
#include "serve.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *jtime(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[32];

	if (!ms)
		return NULL;
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(b);
}

int api_status_of(int exit_status)
{
	switch (exit_status) {
	case 0:
	case EXEC_WAITING:
		return 200;
	case 1:
		return 409;
	case 2:
		return 400;
	case 3:
		return 422;
	default:
		return 500;
	}
}

static const char *type_of(int http)
{
	switch (http) {
	case 400:
		return "InvalidRequestException";
	case 409:
		return "ConflictException";
	case 422:
		return "InvalidStructureException";
	default:
		return "InternalError";
	}
}

static int open_store(struct serve *s, struct store **st, struct http_req *rq)
{
	struct sw_err e = SW_ERR_INIT;

	*st = serve_store_get(s, &e);
	if (!*st) {
		http_error(rq, 500, "InternalError", "%s", e.msg);
		return -1;
	}
	return 0;
}

/* An id that names one thing under the state directory. */
static bool plain_id(const char *id)
{
	if (!id || !*id || id[0] == '.' || strlen(id) > 200)
		return false;
	for (const char *p = id; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x21)
			return false;
	return true;
}

/* The request body as a JSON object ({} when empty); NULL when it was
 * answered with 400. */
static json_object *body_json(struct http_req *rq)
{
	size_t len;
	const char *b = http_body(rq, &len);
	json_tokener *tok;
	json_object *o;

	while (len && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')) {
		b++;
		len--;
	}
	if (!len)
		return json_object_new_object();
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, b, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < len) {
		http_error(
			rq, 400, "InvalidRequestException",
			"the body is not one JSON object: %s",
			json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		http_error(rq, 400, "InvalidRequestException",
			   "the body is not a JSON object");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A string member, NULL when absent; -1 (answered) when not a string. */
static int member(struct http_req *rq, json_object *o, const char *key,
		  const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		http_error(rq, 400, "InvalidRequestException",
			   "'%s' must be a string", key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

static bool refuse_stopping(struct http_req *rq, struct serve *s)
{
	if (!serve_stopping(s))
		return false;
	http_set_header(rq, "Retry-After", "30");
	http_error(rq, 503, "ServiceUnavailableException",
		   "the server is stopping: no new work");
	return true;
}

/* Answer a runner's failure (serve_spawn()). */
static void failed(struct http_req *rq, struct serve *s, int st,
		   const char *msg)
{
	if (serve_stopping(s)) {
		http_set_header(rq, "Retry-After", "30");
		http_error(rq, 503, "ServiceUnavailableException", "%s",
			   msg ? msg : "the server is stopping");
	} else {
		http_error(rq, api_status_of(st), type_of(api_status_of(st)),
			   "%s", msg ? msg : "failed");
	}
}

/* Run a runner and answer its failure; true when it took the request. */
static bool run(struct http_req *rq, struct serve *s, struct strvec *args)
{
	char *msg = NULL;
	int st = serve_spawn(s, args, http_who(rq), &msg);

	if (st && st != EXEC_WAITING)
		failed(rq, s, st, msg);
	free(msg);
	return !st || st == EXEC_WAITING;
}

/* ---- pipelines -------------------------------------------------------- */

static void list_pipelines(struct http_req *rq, void *data)
{
	struct serve *s = data;
	struct serve_pls *p = serve_pipelines_get(s);
	json_object *o = json_object_new_object(), *v = json_object_new_array();

	for (size_t i = 0; i < p->nr; i++) {
		const struct pipeline *pl = p->v[i];
		json_object *x = json_object_new_object(), *st;

		json_object_object_add(x, "name", jstr(pl->name));
		json_object_object_add(x, "version", json_object_new_int(1));
		json_object_object_add(x, "pipelineType", jstr("V2"));
		json_object_object_add(x, "executionMode",
				       jstr(pl_mode_name(pl->mode)));
		json_object_object_add(x, "file", jstr(pl->file));
		st = json_object_new_array();
		for (size_t k = 0; k < pl->nr_stages; k++)
			json_object_array_add(st, jstr(pl->stages[k].name));
		json_object_object_add(x, "stages", st);
		if (pl->poll_seconds)
			json_object_object_add(
				x, "pollSeconds",
				json_object_new_int(pl->poll_seconds));
		json_object_array_add(v, x);
	}
	serve_pipelines_put(s, p);
	json_object_object_add(o, "pipelines", v);
	http_reply_json(rq, 200, o);
}

static void list_executions(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *name = http_param(rq, 0),
		   *max = http_query(rq, "maxResults");
	struct serve_pls *p = serve_pipelines_get(s);
	struct pipeline *pl = serve_find(p, name);
	struct store_query q = STORE_QUERY_INIT;
	struct store_execution *v = NULL;
	struct sw_err e = SW_ERR_INIT;
	struct store *st = NULL;
	size_t nr = 0;
	json_object *o, *arr;
	char *mode;

	if (!pl) {
		serve_pipelines_put(s, p);
		http_error(rq, 404, "PipelineNotFoundException",
			   "no pipeline '%s' is served", name);
		return;
	}
	mode = xstrdup(pl_mode_name(pl->mode));
	serve_pipelines_put(s, p);
	q.name = name;
	q.status = http_query(rq, "status");
	q.limit = 100; /* ListPipelineExecutions' default */
	if (max) {
		char *end;
		long n = strtol(max, &end, 10);

		if (*end || n < 1 || n > 1000) {
			free(mode);
			http_error(rq, 400, "InvalidRequestException",
				   "maxResults is 1 to 1000");
			return;
		}
		q.limit = n;
	}
	if (open_store(s, &st, rq) < 0) {
		free(mode);
		return;
	}
	if (store_list_executions(st, &q, &v, &nr, &e) < 0) {
		http_error(rq, 500, "InternalError", "%s", e.msg);
		goto out;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < nr; i++) {
		json_object *x = json_object_new_object(), *t;

		json_object_object_add(x, "pipelineExecutionId", jstr(v[i].id));
		json_object_object_add(x, "status", jstr(v[i].status));
		json_object_object_add(x, "statusSummary",
				       jstr(v[i].status_summary));
		json_object_object_add(x, "startTime", jtime(v[i].start_ms));
		json_object_object_add(
			x, "lastUpdateTime",
			jtime(v[i].end_ms ? v[i].end_ms : v[i].start_ms));
		t = json_object_new_object();
		json_object_object_add(t, "triggerType",
				       jstr(v[i].trigger_type));
		json_object_object_add(t, "triggerDetail",
				       jstr(v[i].trigger_detail));
		json_object_object_add(x, "trigger", t);
		json_object_object_add(x, "executionMode", jstr(mode));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "pipelineExecutionSummaries", arr);
	http_reply_json(rq, 200, o);
out:
	free(mode);
	store_executions_free(v, nr);
	serve_store_put(s, st);
}

static void start_execution(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *name = http_param(rq, 0), *rev = NULL;
	struct serve_pls *p = NULL;
	struct pipeline *pl;
	json_object *b, *vars, *revs;
	struct strvec vv = STRVEC_INIT;
	char *id = NULL, *msg = NULL, *detail = NULL;
	int st;

	if (refuse_stopping(rq, s) || !(b = body_json(rq)))
		return;
	p = serve_pipelines_get(s);
	pl = serve_find(p, name);
	if (!pl) {
		http_error(rq, 404, "PipelineNotFoundException",
			   "no pipeline '%s' is served", name);
		goto out;
	}
	if (member(rq, b, "revision", &rev) < 0)
		goto out;
	if (json_object_object_get_ex(b, "sourceRevisions", &revs)) {
		json_object *r0, *rv;

		if (!json_object_is_type(revs, json_type_array) ||
		    json_object_array_length(revs) > 1) {
			http_error(rq, 400, "InvalidRequestException",
				   "sourceRevisions takes one revision: all "
				   "the source actions fetch it");
			goto out;
		}
		r0 = json_object_array_get_idx(revs, 0);
		if (r0 &&
		    (!json_object_object_get_ex(r0, "revisionValue", &rv) ||
		     !json_object_is_type(rv, json_type_string))) {
			http_error(rq, 400, "InvalidRequestException",
				   "a source revision needs its "
				   "revisionValue");
			goto out;
		}
		if (r0)
			rev = json_object_get_string(rv);
	}
	if (json_object_object_get_ex(b, "variables", &vars)) {
		if (!json_object_is_type(vars, json_type_array)) {
			http_error(rq, 400, "InvalidRequestException",
				   "variables is a list of {name, value}");
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(vars); i++) {
			json_object *x = json_object_array_get_idx(vars, i);
			const char *n = NULL, *v = NULL;

			if (!json_object_is_type(x, json_type_object) ||
			    member(rq, x, "name", &n) < 0 ||
			    member(rq, x, "value", &v) < 0)
				goto out;
			if (!n || !v || !*n || strchr(n, '=')) {
				http_error(rq, 400, "InvalidRequestException",
					   "a variable is {\"name\": NAME, "
					   "\"value\": VALUE}");
				goto out;
			}
			strvec_pushf(&vv, "%s=%s", n, v);
		}
	}
	detail = xasprintf("api:%s", http_who(rq) ? http_who(rq) : "?");
	st = serve_start(s, pl, "StartPipelineExecution", detail, rev, &vv,
			 http_who(rq), &id, &msg);
	if (st) {
		failed(rq, s, st, msg);
	} else {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pipelineExecutionId", jstr(id));
		http_reply_json(rq, 200, o);
	}
out:
	serve_pipelines_put(s, p);
	json_object_put(b);
	strvec_release(&vv);
	free(id);
	free(msg);
	free(detail);
}

/* ---- executions ------------------------------------------------------- */

static bool execution_exists(struct http_req *rq, struct serve *s,
			     const char *id)
{
	struct store *st = NULL;
	struct store_execution x = { 0 };
	struct sw_err e = SW_ERR_INIT;
	int rc;

	if (!plain_id(id) || strncmp(id, "pe-", 3)) {
		http_error(rq, 404, "PipelineExecutionNotFoundException",
			   "no execution '%s'", id);
		return false;
	}
	if (open_store(s, &st, rq) < 0)
		return false;
	rc = store_get_execution(st, id, &x, &e);
	store_execution_release(&x);
	serve_store_put(s, st);
	if (rc < 0)
		http_error(rq, 500, "InternalError", "%s", e.msg);
	else if (rc > 0)
		http_error(rq, 404, "PipelineExecutionNotFoundException",
			   "no execution '%s'", id);
	return rc == 0;
}

static void get_execution(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0);
	struct sw_err e = SW_ERR_INIT;
	struct serve_pls *p;
	struct store *st;
	json_object *o = NULL;
	int rc;

	if (!plain_id(id) || strncmp(id, "pe-", 3)) {
		http_error(rq, 404, "PipelineExecutionNotFoundException",
			   "no execution '%s'", id);
		return;
	}
	if (open_store(s, &st, rq) < 0)
		return;
	p = serve_pipelines_get(s);
	rc = exec_execution_json_in(st, serve_state_dir(s), p->v, p->nr, id, &o,
				    &e);
	serve_pipelines_put(s, p);
	serve_store_put(s, st);
	if (rc < 0) {
		if (e.code == ERR_USAGE)
			http_error(rq, 404,
				   "PipelineExecutionNotFoundException", "%s",
				   e.msg);
		else
			http_error(rq, 500, "InternalError", "%s", e.msg);
		return;
	}
	http_reply_json(rq, 200, o);
}

static void answer_id(struct http_req *rq, const char *id, const char *key,
		      const char *val)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pipelineExecutionId", jstr(id));
	if (key)
		json_object_object_add(o, key, jstr(val));
	http_reply_json(rq, 200, o);
}

static void decide(struct http_req *rq, struct serve *s, bool approve)
{
	const char *id = http_param(rq, 0), *stage, *action, *summary;
	struct strvec args = STRVEC_INIT;
	json_object *b;

	if (refuse_stopping(rq, s) || !execution_exists(rq, s, id) ||
	    !(b = body_json(rq)))
		return;
	if (member(rq, b, "stageName", &stage) < 0 ||
	    member(rq, b, "actionName", &action) < 0 ||
	    member(rq, b, "summary", &summary) < 0)
		goto out;
	if (!stage != !action) {
		http_error(rq, 400, "InvalidRequestException",
			   "give stageName and actionName together");
		goto out;
	}
	strvec_push(&args, "decide");
	strvec_push(&args, serve_state_dir(s));
	strvec_push(&args, id);
	strvec_push(&args, approve ? "approve" : "reject");
	if (stage)
		strvec_pushf(&args, "%s/%s", stage, action);
	else
		strvec_push(&args, "");
	strvec_push(&args, summary ? summary : "");
	if (run(rq, s, &args))
		answer_id(rq, id, "status", approve ? "Approved" : "Rejected");
out:
	json_object_put(b);
	strvec_release(&args);
}

static void approve(struct http_req *rq, void *data)
{
	decide(rq, data, true);
}

static void reject(struct http_req *rq, void *data)
{
	decide(rq, data, false);
}

static void retry(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0), *mode;
	struct strvec args = STRVEC_INIT;
	json_object *b;

	if (refuse_stopping(rq, s) || !execution_exists(rq, s, id) ||
	    !(b = body_json(rq)))
		return;
	if (member(rq, b, "retryMode", &mode) < 0)
		goto out;
	if (mode && strcmp(mode, "FAILED_ACTIONS") &&
	    strcmp(mode, "ALL_ACTIONS")) {
		http_error(rq, 400, "InvalidRequestException",
			   "retryMode is FAILED_ACTIONS or ALL_ACTIONS");
		goto out;
	}
	strvec_push(&args, "retry");
	strvec_push(&args, serve_state_dir(s));
	strvec_push(&args, id);
	strvec_push(&args,
		    mode && !strcmp(mode, "ALL_ACTIONS") ? "all" : "failed");
	if (run(rq, s, &args))
		answer_id(rq, id, NULL, NULL);
out:
	json_object_put(b);
	strvec_release(&args);
}

static void stop(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0), *reason;
	struct strvec args = STRVEC_INIT;
	json_object *b, *ab;
	bool abandon = false;

	if (!execution_exists(rq, s, id) || !(b = body_json(rq)))
		return;
	if (member(rq, b, "reason", &reason) < 0)
		goto out;
	if (json_object_object_get_ex(b, "abandon", &ab)) {
		if (!json_object_is_type(ab, json_type_boolean)) {
			http_error(rq, 400, "InvalidRequestException",
				   "abandon is true or false");
			goto out;
		}
		abandon = json_object_get_boolean(ab);
	}
	strvec_push(&args, "stop");
	strvec_push(&args, serve_state_dir(s));
	strvec_push(&args, id);
	strvec_push(&args, abandon ? "abandon" : "finish");
	strvec_push(&args, reason ? reason : "");
	if (run(rq, s, &args))
		answer_id(rq, id, NULL, NULL);
out:
	json_object_put(b);
	strvec_release(&args);
}

/* ---- builds and deployments --------------------------------------------- */

static char *build_dir(struct serve *s, const char *id)
{
	char *name, *dir;

	if (!plain_id(id))
		return NULL;
	name = state_build_name(id);
	dir = xasprintf("%s/builds/%s", serve_state_dir(s), name);
	free(name);
	if (!fs_is_dir(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* A report.json as the answer, or, for one still running, what the
 * store knows; 404 when neither. */
static void report_or_row(struct http_req *rq, const char *dir,
			  json_object *(*row)(struct serve *, const char *),
			  struct serve *s, const char *id, const char *what)
{
	char *rp = dir ? fs_join(dir, "report.json") : NULL;
	json_object *o = rp && fs_exists(rp) ? json_object_from_file(rp) : NULL;

	if (!o && dir)
		o = row(s, id);
	free(rp);
	if (!o) {
		http_error(rq, 404, "ResourceNotFoundException", "no %s '%s'",
			   what, id);
		return;
	}
	http_reply_json(rq, 200, o);
}

static json_object *build_row(struct serve *s, const char *id)
{
	struct store_build b = { 0 };
	struct sw_err e = SW_ERR_INIT;
	struct store *st = serve_store_get(s, &e);
	json_object *o = NULL;

	if (st && store_get_build(st, id, &b, &e) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "id", jstr(b.id));
		json_object_object_add(o, "projectName", jstr(b.project));
		json_object_object_add(o, "buildNumber",
				       json_object_new_int64(b.number));
		json_object_object_add(o, "buildStatus", jstr(b.status));
		json_object_object_add(o, "startTime", jtime(b.start_ms));
		json_object_object_add(o, "sourceVersion",
				       jstr(b.source_version));
		json_object_object_add(o, "buildComplete",
				       json_object_new_boolean(false));
	}
	store_build_release(&b);
	serve_store_put(s, st);
	return o;
}

static json_object *deployment_row(struct serve *s, const char *id)
{
	struct store_deployment d = { 0 };
	struct sw_err e = SW_ERR_INIT;
	struct store *st = serve_store_get(s, &e);
	json_object *o = NULL;

	if (st && store_get_deployment(st, id, &d, &e) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "deploymentId", jstr(d.id));
		json_object_object_add(o, "applicationName",
				       jstr(d.application));
		json_object_object_add(o, "deploymentGroupName", jstr(d.group));
		json_object_object_add(o, "status", jstr(d.status));
		json_object_object_add(o, "createTime", jtime(d.start_ms));
	}
	store_deployment_release(&d);
	serve_store_put(s, st);
	return o;
}

static void get_build(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0);
	char *dir = build_dir(s, id);

	report_or_row(rq, dir, build_row, s, id, "build");
	free(dir);
}

static void get_deployment(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0);
	char *dir = plain_id(id) ? xasprintf("%s/deployments/%s",
					     serve_state_dir(s), id)
				 : NULL;

	if (dir && !fs_is_dir(dir)) {
		free(dir);
		dir = NULL;
	}
	report_or_row(rq, dir, deployment_row, s, id, "deployment");
	free(dir);
}

struct follow {
	struct http_server *h;
	int fd;
	char *lock; /* the log, locked while the build runs */
	bool follow, done;
};

static ssize_t follow_next(void *cls, char *buf, size_t max)
{
	struct follow *f = cls;

	for (;;) {
		ssize_t n = read(f->fd, buf, max);

		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || f->done || !f->follow)
			return n < 0 ? HTTP_STREAM_ERROR : HTTP_STREAM_END;
		/* at the end of what was written: the build may add more */
		if (fs_lock_held(f->lock) != 1 || http_stopping(f->h)) {
			f->done = true; /* one more read for the last bytes */
			continue;
		}
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
}

static void follow_free(void *cls)
{
	struct follow *f = cls;

	close(f->fd);
	free(f->lock);
	free(f);
}

static void get_build_log(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *id = http_param(rq, 0), *fq = http_query(rq, "follow");
	char *dir = build_dir(s, id), *log;
	struct follow *f;
	int fd;

	if (!dir) {
		http_error(rq, 404, "ResourceNotFoundException",
			   "no build '%s'", id);
		return;
	}
	log = fs_join(dir, "build.log");
	free(dir);
	fd = open(log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		http_error(rq, 404, "ResourceNotFoundException",
			   "build '%s' has no log", id);
		free(log);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->h = http_server_of(rq);
	f->fd = fd;
	f->lock = log;
	f->follow = fq && (!strcmp(fq, "1") || !strcmp(fq, "true"));
	http_stream(rq, 200, "text/plain; charset=utf-8", follow_next, f,
		    follow_free);
}

void api_routes(struct http_server *h, struct serve *s)
{
	blobs_routes(h, s);
	http_route(h, "GET", "/api/pipelines", HTTP_API, list_pipelines, s);
	http_route(h, "GET", "/api/pipelines/{}/executions", HTTP_API,
		   list_executions, s);
	http_route(h, "POST", "/api/pipelines/{}/executions", HTTP_API,
		   start_execution, s);
	http_route(h, "GET", "/api/executions/{}", HTTP_API, get_execution, s);
	http_route(h, "POST", "/api/executions/{}/approve", HTTP_API, approve,
		   s);
	http_route(h, "POST", "/api/executions/{}/reject", HTTP_API, reject, s);
	http_route(h, "POST", "/api/executions/{}/retry", HTTP_API, retry, s);
	http_route(h, "POST", "/api/executions/{}/stop", HTTP_API, stop, s);
	http_route(h, "GET", "/api/builds/{}", HTTP_API, get_build, s);
	http_route(h, "GET", "/api/builds/{}/log", HTTP_API, get_build_log, s);
	http_route(h, "GET", "/api/deployments/{}", HTTP_API, get_deployment,
		   s);
}
