/*
 * dashboard: the pages' routes. Each page is rendered by a view (what
 * it shows, copied out of the request) so that its event stream, on the
 * connection's thread after the handler returned, can render it again.
 */
#include "dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dash.h"
#include "exec.h"
#include "fs.h"
#include "hash.h"
#include "http.h"
#include "pipeline.h"
#include "serve.h"
#include "state.h"
#include "store.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define LOG_PAGE_MAX (512 * 1024) /* the tail of a log a page holds */
#define POLL_MS 100
#define RENDER_EVERY_MS 300
#define PING_EVERY_MS 15000
#define HISTORY_LIMIT 100
#define RECENT 5

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* An id from a URL names a file under the state directory: letters,
 * digits, - _ . : @, not starting with '.'. */
static bool id_ok(const char *s)
{
	if (!s || !*s || *s == '.' || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.:@", *s)))
			return false;
	return true;
}

/* A store handle from the server's pool, given back with
 * serve_store_put(). */
static int open_store(struct serve *srv, struct store **st, struct sw_err *e)
{
	*st = serve_store_get(srv, e);
	return *st ? 0 : -1;
}

/* ---- replies ---- */

static void security_headers(struct http_req *rq)
{
	http_set_header(rq, "Content-Security-Policy", DASH_CSP);
	http_set_header(rq, "Cache-Control", "no-store");
}

static void reply_page(struct http_req *rq, int status,
		       const struct dash_page *pg, const struct buf *main)
{
	struct buf b = BUF_INIT;

	dash_begin(&b, pg);
	buf_add(&b, main->ptr ? main->ptr : "", main->len);
	dash_end(&b, pg);
	security_headers(rq);
	http_reply(rq, status, "text/html; charset=utf-8", b.ptr, b.len);
	buf_release(&b);
}

static void reply_message(struct http_req *rq, int status, const char *title,
			  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_message(struct http_req *rq, int status, const char *title,
			  const char *fmt, ...)
{
	struct dash_page pg = DASH_PAGE_INIT;
	struct buf m = BUF_INIT;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pg.title = title;
	pg.status = "Failed";
	dash_message(&m, title, msg);
	reply_page(rq, status, &pg, &m);
	buf_release(&m);
	free(msg);
}

/* The secret a session's CSRF tokens are keyed with: the token it
 * presented (bearer header or login cookie). */
static const char *session_secret(struct http_req *rq)
{
	const char *a = http_header(rq, "Authorization");

	if (a && !strncasecmp(a, "Bearer ", 7))
		return a + 7;
	return http_cookie(rq, "slipway_token");
}

/* ---- views: a page's <main>, rendered again by its stream ---- */

enum view_kind { V_HOME, V_HISTORY, V_EXEC };

struct view {
	struct serve *srv;
	enum view_kind kind;
	char *id; /* V_EXEC */
	char *f_kind, *f_name, *f_status; /* V_HISTORY */
	char *csrf; /* NULL: no forms */
	/* set by render */
	char *title, *status;
	bool found;
	/* V_EXEC: what changes when the execution does */
	char *key;
};

static void view_free(struct view *v)
{
	if (!v)
		return;
	free(v->id);
	free(v->f_kind);
	free(v->f_name);
	free(v->f_status);
	free(v->csrf);
	free(v->title);
	free(v->status);
	free(v->key);
	free(v);
}

static void set_str(char **p, const char *s)
{
	free(*p);
	*p = xstrdup_or_null(s);
}

static int render_home(struct view *v, struct store *st, struct buf *b,
		       struct sw_err *e)
{
	struct serve_pls *pls = serve_pipelines_get(v->srv);
	struct dash_pipeline *rows = xcalloc(pls->nr + 1, sizeof(*rows));
	struct store_execution **ex = xcalloc(pls->nr + 1, sizeof(*ex));
	size_t *nex = xcalloc(pls->nr + 1, sizeof(*nex));
	struct store_approval *ap = NULL;
	struct store_query q = STORE_QUERY_INIT;
	size_t nap = 0;
	int ret = -1;

	for (size_t i = 0; i < pls->nr; i++) {
		q.name = pls->v[i]->name;
		q.limit = RECENT;
		if (store_list_executions(st, &q, &ex[i], &nex[i], e) < 0)
			goto out;
		rows[i] = (struct dash_pipeline){ pls->v[i]->name,
						  pls->v[i]->file, ex[i],
						  nex[i] };
	}
	q = (struct store_query)STORE_QUERY_INIT;
	q.status = "InProgress";
	if (store_list_approvals(st, &q, &ap, &nap, e) < 0)
		goto out;
	dash_pipelines(b, rows, pls->nr, ap, nap, v->csrf);
	set_str(&v->title, "Pipelines");
	set_str(&v->status, NULL);
	ret = 0;
out:
	for (size_t i = 0; i < pls->nr; i++)
		store_executions_free(ex[i], nex[i]);
	store_approvals_free(ap, nap);
	free(ex);
	free(nex);
	free(rows);
	serve_pipelines_put(v->srv, pls);
	return ret;
}

static int render_history(struct view *v, struct store *st, struct buf *b,
			  struct sw_err *e)
{
	struct dash_filter f = { v->f_kind, v->f_name, v->f_status };
	struct store_execution *x = NULL;
	struct store_build *bv = NULL;
	struct store_deployment *dv = NULL;
	size_t nx = 0, nb = 0, nd = 0;
	struct store_query q = STORE_QUERY_INIT;
	const char *k = v->f_kind && *v->f_kind ? v->f_kind : NULL;
	int ret = -1;

	q.name = v->f_name && *v->f_name ? v->f_name : NULL;
	q.limit = HISTORY_LIMIT;
	q.status = dash_status_for("execution", v->f_status);
	if ((!k || !strcmp(k, "execution")) &&
	    store_list_executions(st, &q, &x, &nx, e) < 0)
		goto out;
	q.status = dash_status_for("build", v->f_status);
	if ((!k || !strcmp(k, "build")) &&
	    store_list_builds(st, &q, &bv, &nb, e) < 0)
		goto out;
	q.status = dash_status_for("deployment", v->f_status);
	if ((!k || !strcmp(k, "deployment")) &&
	    store_list_deployments(st, &q, &dv, &nd, e) < 0)
		goto out;
	dash_history(b, &f, x, nx, bv, nb, dv, nd);
	set_str(&v->title, "History");
	ret = 0;
out:
	store_executions_free(x, nx);
	store_builds_free(bv, nb);
	store_deployments_free(dv, nd);
	return ret;
}

/* What changes when an execution does: its status and its events. */
static char *exec_key(struct store *st, const char *id, struct sw_err *e)
{
	struct store_execution x = { 0 };
	struct store_query q = STORE_QUERY_INIT;
	struct store_event *ev = NULL;
	size_t n = 0;
	char *key;
	int rc = store_get_execution(st, id, &x, e);

	if (rc != 0)
		return rc > 0 ? xstrdup("none") : NULL;
	q.execution_id = id;
	if (store_list_events(st, &q, 0, &ev, &n, e) < 0) {
		store_execution_release(&x);
		return NULL;
	}
	key = xasprintf("%s|%ld", x.status, n ? ev[n - 1].seq : 0);
	store_events_free(ev, n);
	store_execution_release(&x);
	return key;
}

static int render_exec(struct view *v, struct store *st, struct buf *b,
		       struct sw_err *e)
{
	json_object *root = NULL, *pe;
	struct store_query q = STORE_QUERY_INIT;
	struct store_approval *ap = NULL;
	size_t nap = 0;
	char *key = exec_key(st, v->id, e);
	struct serve_pls *pls;
	int ret = -1, rc;

	if (!key)
		return -1;
	set_str(&v->key, key);
	free(key);
	pls = serve_pipelines_get(v->srv);
	rc = exec_execution_json_in(st, serve_state_dir(v->srv), pls->v,
				    pls->nr, v->id, &root, e);
	serve_pipelines_put(v->srv, pls);
	if (rc < 0) {
		if (e->code == ERR_USAGE) {
			err_clear(e);
			v->found = false;
			dash_message(b, "Not found", "no such execution");
			set_str(&v->title, v->id);
			return 0;
		}
		return -1;
	}
	v->found = true;
	q.execution_id = v->id;
	q.status = "InProgress";
	if (store_list_approvals(st, &q, &ap, &nap, e) < 0)
		goto out;
	json_object_object_get_ex(root, "pipelineExecution", &pe);
	{
		json_object *s = NULL, *n = NULL;

		json_object_object_get_ex(pe, "status", &s);
		json_object_object_get_ex(pe, "pipelineName", &n);
		set_str(&v->status, s ? json_object_get_string(s) : NULL);
		set_str(&v->title, n ? json_object_get_string(n) : v->id);
	}
	dash_execution(b, root, ap, nap, v->csrf);
	ret = 0;
out:
	store_approvals_free(ap, nap);
	json_object_put(root);
	return ret;
}

static int render(struct view *v, struct buf *b, struct sw_err *e)
{
	struct store *st = NULL;
	int ret;

	if (open_store(v->srv, &st, e) < 0)
		return -1;
	v->found = true;
	switch (v->kind) {
	case V_HOME:
		ret = render_home(v, st, b, e);
		break;
	case V_HISTORY:
		ret = render_history(v, st, b, e);
		break;
	default:
		ret = render_exec(v, st, b, e);
		break;
	}
	serve_store_put(v->srv, st);
	return ret;
}

static void digest(const struct buf *b, char out[17])
{
	char hex[HASH_SHA256_HEX];
	struct sw_err e = SW_ERR_INIT;

	if (hash_buf(HASH_SHA256, b->ptr ? b->ptr : "", b->len, hex, &e) < 0)
		hex[0] = '\0';
	snprintf(out, 17, "%s", hex);
}

/* ---- a view's event stream ---- */

struct mainstream {
	struct view *v;
	struct http_server *h;
	char last[17];
	struct buf out;
	size_t off;
	int64_t next_render, next_ping;
};

static ssize_t main_next(void *cls, char *buf, size_t max)
{
	struct mainstream *m = cls;

	for (;;) {
		int64_t now = mono_ms();

		if (m->off < m->out.len) {
			size_t n = m->out.len - m->off;

			if (n > max)
				n = max;
			memcpy(buf, m->out.ptr + m->off, n);
			m->off += n;
			if (m->off == m->out.len) {
				buf_clear(&m->out);
				m->off = 0;
			}
			return (ssize_t)n;
		}
		if (http_stopping(m->h))
			return HTTP_STREAM_END;
		if (now >= m->next_render) {
			struct buf b = BUF_INIT;
			struct sw_err e = SW_ERR_INIT;
			char d[17];
			char *key = NULL;

			m->next_render = now + RENDER_EVERY_MS;
			if (m->v->kind == V_EXEC) {
				/* render only when the execution moved */
				struct store *st = NULL;

				if (open_store(m->v->srv, &st, &e) == 0)
					key = exec_key(st, m->v->id, &e);
				serve_store_put(m->v->srv, st);
				if (key && m->v->key &&
				    !strcmp(key, m->v->key)) {
					free(key);
					goto idle;
				}
				free(key);
			}
			if (render(m->v, &b, &e) == 0) {
				digest(&b, d);
				if (strcmp(d, m->last)) {
					memcpy(m->last, d, sizeof(d));
					dash_sse(&m->out, "main", b.ptr, b.len);
				}
			}
			buf_release(&b);
			if (m->out.len)
				continue;
		}
	idle:
		if (now >= m->next_ping) {
			m->next_ping = now + PING_EVERY_MS;
			buf_addstr(&m->out, ": ping\n\n");
			continue;
		}
		nap();
	}
}

static void main_free(void *cls)
{
	struct mainstream *m = cls;

	view_free(m->v);
	buf_release(&m->out);
	free(m);
}

static void sse_headers(struct http_req *rq)
{
	security_headers(rq);
	http_set_header(rq, "X-Accel-Buffering", "no");
}

/* The page of view v (taken), or its stream for ?live=1. */
static void serve_view(struct http_req *rq, struct view *v, const char *path,
		       struct buf *query)
{
	struct sw_err e = SW_ERR_INIT;
	struct buf main = BUF_INIT, live = BUF_INIT;
	struct dash_page pg = DASH_PAGE_INIT;
	char d[17];

	if (http_query(rq, "live")) {
		struct mainstream *m = xcalloc(1, sizeof(*m));
		const char *since = http_query(rq, "v");

		m->v = v;
		m->h = http_server_of(rq);
		snprintf(m->last, sizeof(m->last), "%s", since ? since : "");
		m->next_ping = mono_ms() + PING_EVERY_MS;
		/* the first tick renders and compares with the page's
		 * digest (v=): what changed since the page was served is
		 * sent at once */
		sse_headers(rq);
		http_stream(rq, 200, "text/event-stream", main_next, m,
			    main_free);
		return;
	}
	if (render(v, &main, &e) < 0) {
		reply_message(rq, 500, "Error", "%s", e.msg);
		goto out;
	}
	digest(&main, d);
	buf_addf(&live, "%s?%slive=1&v=%s", path, query ? buf_cstr(query) : "",
		 d);
	pg.title = v->title;
	pg.status = v->status;
	pg.live = live.ptr;
	reply_page(rq, v->found ? 200 : 404, &pg, &main);
out:
	buf_release(&main);
	buf_release(&live);
	view_free(v);
}

static struct view *new_view(struct http_req *rq, struct serve *srv,
			     enum view_kind kind)
{
	struct view *v = xcalloc(1, sizeof(*v));
	char tok[DASH_CSRF_HEX];
	const char *secret = session_secret(rq);

	v->srv = srv;
	v->kind = kind;
	if (secret) {
		dash_csrf(secret, tok);
		v->csrf = xstrdup(tok);
	}
	return v;
}

static void get_home(struct http_req *rq, void *data)
{
	serve_view(rq, new_view(rq, data, V_HOME), "/", NULL);
}

static void add_q(struct buf *q, const char *name, const char *value)
{
	if (!value || !*value)
		return;
	buf_addf(q, "%s=", name);
	dash_url_seg(q, value);
	buf_addch(q, '&');
}

static void get_history(struct http_req *rq, void *data)
{
	struct view *v = new_view(rq, data, V_HISTORY);
	struct buf q = BUF_INIT;
	const char *k = http_query(rq, "kind");

	if (k && *k && strcmp(k, "execution") && strcmp(k, "build") &&
	    strcmp(k, "deployment")) {
		view_free(v);
		reply_message(rq, 400, "Bad filter",
			      "kind is one of execution, build, deployment");
		return;
	}
	v->f_kind = xstrdup_or_null(k);
	v->f_name = xstrdup_or_null(http_query(rq, "name"));
	v->f_status = xstrdup_or_null(http_query(rq, "status"));
	add_q(&q, "kind", v->f_kind);
	add_q(&q, "name", v->f_name);
	add_q(&q, "status", v->f_status);
	serve_view(rq, v, "/history", &q);
	buf_release(&q);
}

static void get_exec(struct http_req *rq, void *data)
{
	const char *id = http_param(rq, 0);
	struct view *v;
	struct buf path = BUF_INIT;

	if (!id_ok(id)) {
		reply_message(rq, 404, "Not found", "no such execution");
		return;
	}
	v = new_view(rq, data, V_EXEC);
	v->id = xstrdup(id);
	buf_addstr(&path, "/executions/");
	dash_url_seg(&path, id);
	serve_view(rq, v, buf_cstr(&path), NULL);
	buf_release(&path);
}

/* ---- the approval form ---- */

/* A browser names the page a POST comes from: it must be this server. */
static bool same_origin(struct http_req *rq)
{
	const char *o = http_header(rq, "Origin");
	const char *host = http_header(rq, "Host");
	const char *p;

	if (!o)
		return true; /* not a browser, or one that does not say */
	if (!host)
		return false;
	if (!strncmp(o, "http://", 7))
		p = o + 7;
	else if (!strncmp(o, "https://", 8))
		p = o + 8;
	else
		return false;
	return !strcmp(p, host);
}

/* Whether a state-changing form may go on; when not, answered (403). */
static bool form_ok(struct http_req *rq, const char *body)
{
	char *csrf = dash_form_get(body, "csrf");
	/* no session token, no secret to check a form against */
	bool ok = same_origin(rq) && session_secret(rq) &&
		  dash_csrf_ok(session_secret(rq), csrf);

	free(csrf);
	if (!ok)
		reply_message(rq, 403, "Refused",
			      "this form is stale or was not sent by this "
			      "dashboard: load the page again");
	return ok;
}

/* Run a runner (serve.h) for execution id, then back to its page. */
static void run_then_show(struct http_req *rq, struct serve *srv,
			  const char *id, const struct strvec *args)
{
	struct buf to = BUF_INIT;
	char *msg = NULL;
	int rc = serve_spawn(srv, args, http_who(rq), &msg);

	if (rc != 0 && rc != EXEC_WAITING) {
		reply_message(rq, rc == 111 ? 503 : 409, "Not done", "%s",
			      msg ? msg : "the runner failed");
	} else {
		buf_addstr(&to, "/executions/");
		dash_url_seg(&to, id);
		http_redirect(rq, buf_cstr(&to));
	}
	buf_release(&to);
	free(msg);
}

static void post_control(struct http_req *rq, struct serve *srv, bool retry)
{
	const char *id = http_param(rq, 0);
	const char *body = http_body(rq, NULL);
	char *mode = NULL, *reason = NULL;
	struct strvec args = STRVEC_INIT;

	if (!form_ok(rq, body))
		return;
	mode = dash_form_get(body, "mode");
	reason = dash_form_get(body, "reason");
	if (!id_ok(id) || !mode ||
	    (retry ? strcmp(mode, "failed") && strcmp(mode, "all")
		   : strcmp(mode, "finish") && strcmp(mode, "abandon"))) {
		reply_message(rq, 400, "Bad request",
			      retry ? "mode is failed or all"
				    : "mode is finish or abandon");
		goto out;
	}
	strvec_push(&args, retry ? "retry" : "stop");
	strvec_push(&args, serve_state_dir(srv));
	strvec_push(&args, id);
	strvec_push(&args, mode);
	if (!retry)
		strvec_push(&args, reason ? reason : "");
	run_then_show(rq, srv, id, &args);
out:
	strvec_release(&args);
	free(mode);
	free(reason);
}

static void post_retry(struct http_req *rq, void *data)
{
	post_control(rq, data, true);
}

static void post_stop(struct http_req *rq, void *data)
{
	post_control(rq, data, false);
}

static void post_approval(struct http_req *rq, void *data)
{
	struct serve *srv = data;
	const char *id = http_param(rq, 0);
	const char *body = http_body(rq, NULL);
	char *stage = NULL, *action = NULL, *decision = NULL, *summary = NULL;
	struct strvec args = STRVEC_INIT;
	char *target = NULL;
	bool approve;

	if (!form_ok(rq, body))
		return;
	stage = dash_form_get(body, "stage");
	action = dash_form_get(body, "action");
	decision = dash_form_get(body, "decision");
	summary = dash_form_get(body, "summary");
	if (!id_ok(id) || !stage || !*stage || !action || !*action ||
	    !decision ||
	    (strcmp(decision, "approve") && strcmp(decision, "reject"))) {
		reply_message(rq, 400, "Bad request",
			      "the form wants stage, action and decision "
			      "(approve or reject)");
		goto out;
	}
	approve = !strcmp(decision, "approve");
	if (summary && !*summary) {
		free(summary);
		summary = NULL;
	}
	if (!summary && !approve)
		summary = xasprintf("rejected by %s on the dashboard",
				    http_who(rq) ? http_who(rq) : "unknown");
	target = xasprintf("%s/%s", stage, action);
	strvec_push(&args, "decide");
	strvec_push(&args, serve_state_dir(srv));
	strvec_push(&args, id);
	strvec_push(&args, approve ? "approve" : "reject");
	strvec_push(&args, target);
	strvec_push(&args, summary ? summary : "");
	run_then_show(rq, srv, id, &args);
out:
	strvec_release(&args);
	free(target);
	free(stage);
	free(action);
	free(decision);
	free(summary);
}

/* ---- logs ---- */

struct logsrc {
	struct serve *srv;
	char *path; /* the log file */
	char *lock; /* live while this lock is held (builds, deployments) */
	char *exec_id, *stage, *action; /* or while the action runs */
};

static void logsrc_free(struct logsrc *l)
{
	if (!l)
		return;
	free(l->path);
	free(l->lock);
	free(l->exec_id);
	free(l->stage);
	free(l->action);
	free(l);
}

static bool log_live(const struct logsrc *l)
{
	struct store *st = NULL;
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *v = NULL;
	size_t n = 0;
	bool live = false;
	char *lock;

	if (l->lock)
		return fs_lock_held(l->lock) == 1;
	if (open_store(l->srv, &st, &e) < 0)
		return false;
	q.execution_id = l->exec_id;
	if (store_list_actions(st, &q, &v, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(v[i].stage, l->stage) &&
			    !strcmp(v[i].action, l->action))
				live = !strcmp(v[i].status, "InProgress");
	store_actions_free(v, n);
	serve_store_put(l->srv, st);
	/* a runner that is gone leaves its action InProgress a while */
	lock = xasprintf("%s/executions/%s/lock", serve_state_dir(l->srv),
			 l->exec_id);
	if (live && fs_lock_held(lock) != 1)
		live = false;
	free(lock);
	return live;
}

struct logstream {
	struct logsrc *src;
	struct http_server *h;
	int fd;
	off_t off;
	struct buf carry, out;
	size_t sent;
	bool ended;
	int64_t next_ping;
};

/* Read what the log has past ls->off into ls->carry; bytes read. */
static ssize_t log_read(struct logstream *ls)
{
	char tmp[65536];
	ssize_t n;

	if (ls->fd < 0)
		ls->fd = open(ls->src->path, O_RDONLY | O_CLOEXEC);
	if (ls->fd < 0)
		return 0;
	n = pread(ls->fd, tmp, sizeof(tmp), ls->off);
	if (n <= 0)
		return 0;
	ls->off += n;
	buf_add(&ls->carry, tmp, (size_t)n);
	return n;
}

static ssize_t log_next(void *cls, char *buf, size_t max)
{
	struct logstream *ls = cls;

	for (;;) {
		if (ls->sent < ls->out.len) {
			size_t n = ls->out.len - ls->sent;

			if (n > max)
				n = max;
			memcpy(buf, ls->out.ptr + ls->sent, n);
			ls->sent += n;
			if (ls->sent == ls->out.len) {
				buf_clear(&ls->out);
				ls->sent = 0;
			}
			return (ssize_t)n;
		}
		if (ls->ended || http_stopping(ls->h))
			return HTTP_STREAM_END;
		if (log_read(ls) > 0) {
			size_t used = dash_sse_log(
				&ls->out, ls->carry.ptr, ls->carry.len, false,
				(int64_t)ls->off - (int64_t)ls->carry.len);

			buf_consume(&ls->carry, used);
			continue;
		}
		if (!log_live(ls->src)) {
			/* what it wrote before it ended, then the end */
			while (log_read(ls) > 0)
				;
			dash_sse_log(&ls->out, ls->carry.ptr, ls->carry.len,
				     true,
				     (int64_t)ls->off - (int64_t)ls->carry.len);
			buf_clear(&ls->carry);
			dash_sse(&ls->out, "end", "", 0);
			ls->ended = true;
			continue;
		}
		if (mono_ms() >= ls->next_ping) {
			ls->next_ping = mono_ms() + PING_EVERY_MS;
			buf_addstr(&ls->out, ": ping\n\n");
			continue;
		}
		nap();
	}
}

static void log_free(void *cls)
{
	struct logstream *ls = cls;

	if (ls->fd >= 0)
		close(ls->fd);
	logsrc_free(ls->src);
	buf_release(&ls->carry);
	buf_release(&ls->out);
	free(ls);
}

struct filestream {
	int fd;
};

static ssize_t file_next(void *cls, char *buf, size_t max)
{
	struct filestream *f = cls;
	ssize_t n;

	do
		n = read(f->fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return HTTP_STREAM_END;
	return n < 0 ? HTTP_STREAM_ERROR : n;
}

static void file_free(void *cls)
{
	struct filestream *f = cls;

	close(f->fd);
	free(f);
}

/* The file fd (taken) as the response, read as it is sent. */
static void stream_fd(struct http_req *rq, int fd, const char *type)
{
	struct filestream *f = xcalloc(1, sizeof(*f));

	f->fd = fd;
	http_stream(rq, 200, type, file_next, f, file_free);
}

/* A log's stream from ?from=, or the whole log as text. */
static void serve_log(struct http_req *rq, struct logsrc *src)
{
	const char *from = http_query(rq, "from");

	if (http_query(rq, "live")) {
		struct logstream *ls = xcalloc(1, sizeof(*ls));
		const char *last = http_header(rq, "Last-Event-ID");
		char *end = NULL;
		long long off;

		/* a reconnecting EventSource says how far it got */
		if (last && *last)
			from = last;
		off = from ? strtoll(from, &end, 10) : 0;
		if (from && (!*from || *end || off < 0))
			off = 0;
		ls->src = src;
		ls->h = http_server_of(rq);
		ls->fd = -1;
		ls->off = (off_t)off;
		ls->next_ping = mono_ms() + PING_EVERY_MS;
		sse_headers(rq);
		http_stream(rq, 200, "text/event-stream", log_next, ls,
			    log_free);
		return;
	} else {
		int fd = open(src->path, O_RDONLY | O_CLOEXEC);

		logsrc_free(src);
		if (fd < 0) {
			reply_message(rq, 404, "Not found", "no log yet");
			return;
		}
		security_headers(rq);
		stream_fd(rq, fd, "text/plain; charset=utf-8");
	}
}

/* The tail of src's log for a page: complete lines while it is live. */
static void log_for_page(struct logsrc *src, struct dash_log *log, char **text,
			 const char *base)
{
	int fd = open(src->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	off_t start = 0;
	size_t len = 0;
	struct buf b = BUF_INIT;

	*text = NULL;
	log->live = log_live(src);
	if (fd >= 0 && fstat(fd, &st) == 0) {
		ssize_t n;

		if (st.st_size > LOG_PAGE_MAX) {
			start = st.st_size - LOG_PAGE_MAX;
			log->truncated = true;
		}
		*text = xmalloc((size_t)(st.st_size - start) + 1);
		n = pread(fd, *text, (size_t)(st.st_size - start), start);
		len = n > 0 ? (size_t)n : 0;
		(*text)[len] = '\0';
	}
	if (fd >= 0)
		close(fd);
	if (log->live)
		while (len && (*text)[len - 1] != '\n')
			len--;
	log->text = *text;
	log->len = len;
	log->end = (int64_t)start + (int64_t)len;
	buf_addf(&b, "%s/log", base);
	log->raw = buf_detach(&b);
	if (log->live) {
		buf_addf(&b, "%s/log?live=1&from=%lld", base,
			 (long long)log->end);
		log->stream = buf_detach(&b);
	}
}

static void log_page_release(struct dash_log *log, char *text)
{
	free(text);
	free((char *)log->raw);
	free((char *)log->stream);
}

/* ---- builds and deployments ---- */

static void build_or_deploy(struct http_req *rq, struct serve *srv, bool deploy,
			    bool raw_log)
{
	const char *id = http_param(rq, 0);
	struct sw_err e = SW_ERR_INIT;
	struct store *st = NULL;
	struct store_build bd = { 0 };
	struct store_deployment dd = { 0 };
	struct logsrc *src = NULL;
	struct dash_log log = { 0 };
	struct dash_page pg = DASH_PAGE_INIT;
	struct buf main = BUF_INIT, base = BUF_INIT;
	char *dir = NULL, *rep = NULL, *text = NULL, *report = NULL;
	size_t len;
	int rc;

	if (!id_ok(id)) {
		reply_message(rq, 404, "Not found", "no such %s",
			      deploy ? "deployment" : "build");
		return;
	}
	if (open_store(srv, &st, &e) < 0) {
		reply_message(rq, 500, "Error", "%s", e.msg);
		return;
	}
	rc = deploy ? store_get_deployment(st, id, &dd, &e)
		    : store_get_build(st, id, &bd, &e);
	serve_store_put(srv, st);
	if (rc != 0) {
		if (rc < 0)
			reply_message(rq, 500, "Error", "%s", e.msg);
		else
			reply_message(rq, 404, "Not found", "no %s '%s'",
				      deploy ? "deployment" : "build", id);
		goto out;
	}
	if (deploy) {
		dir = xasprintf("%s/deployments/%s", serve_state_dir(srv), id);
	} else {
		char *name = state_build_name(id);

		dir = xasprintf("%s/builds/%s", serve_state_dir(srv), name);
		free(name);
	}
	src = xcalloc(1, sizeof(*src));
	src->srv = srv;
	src->path = xasprintf("%s/%s", dir,
			      deploy ? "deployment.log" : "build.log");
	src->lock = xstrdup(src->path);
	if (raw_log) {
		serve_log(rq, src);
		src = NULL;
		goto out;
	}
	buf_addstr(&base, deploy ? "/deployments/" : "/builds/");
	dash_url_seg(&base, id);
	log_for_page(src, &log, &text, buf_cstr(&base));
	rep = fs_join(dir, "report.json");
	if (!log.live && fs_read_file(rep, 64u << 20, &report, &len, &e) < 0)
		err_clear(&e);
	if (deploy)
		dash_deployment(&main, &dd, report, &log);
	else
		dash_build(&main, &bd, report, &log);
	pg.title = id;
	pg.status = deploy ? dd.status : bd.status;
	pg.refresh = log.live;
	reply_page(rq, 200, &pg, &main);
	log_page_release(&log, text);
out:
	logsrc_free(src);
	store_build_release(&bd);
	store_deployment_release(&dd);
	buf_release(&main);
	buf_release(&base);
	free(dir);
	free(rep);
	free(report);
}

static void get_build(struct http_req *rq, void *data)
{
	build_or_deploy(rq, data, false, false);
}

static void get_build_log(struct http_req *rq, void *data)
{
	build_or_deploy(rq, data, false, true);
}

static void get_deployment(struct http_req *rq, void *data)
{
	build_or_deploy(rq, data, true, false);
}

static void get_deployment_log(struct http_req *rq, void *data)
{
	build_or_deploy(rq, data, true, true);
}

/* An action's name or a stage's, as CodePipeline allows them. */
static bool name_ok(const char *s)
{
	return id_ok(s) && !strchr(s, ':');
}

static void action_log(struct http_req *rq, struct serve *srv, bool raw)
{
	const char *id = http_param(rq, 0), *stage = http_param(rq, 1),
		   *action = http_param(rq, 2);
	struct logsrc *src;
	struct dash_log log = { 0 };
	struct dash_page pg = DASH_PAGE_INIT;
	struct buf main = BUF_INIT, base = BUF_INIT;
	struct store *st = NULL;
	struct store_execution x = { 0 };
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *av = NULL;
	size_t n = 0;
	struct sw_err e = SW_ERR_INIT;
	const char *status = NULL;
	char *text = NULL;
	int rc;

	if (!id_ok(id) || !name_ok(stage) || !name_ok(action)) {
		reply_message(rq, 404, "Not found", "no such action");
		return;
	}
	if (open_store(srv, &st, &e) < 0) {
		reply_message(rq, 500, "Error", "%s", e.msg);
		return;
	}
	rc = store_get_execution(st, id, &x, &e);
	q.execution_id = id;
	if (rc == 0 && store_list_actions(st, &q, &av, &n, &e) < 0)
		rc = -1;
	serve_store_put(srv, st);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(av[i].stage, stage) &&
		    !strcmp(av[i].action, action))
			status = av[i].status;
	if (rc != 0 || !status) {
		if (rc < 0)
			reply_message(rq, 500, "Error", "%s", e.msg);
		else
			reply_message(rq, 404, "Not found",
				      "no action %s/%s in %s", stage, action,
				      id);
		goto out;
	}
	src = xcalloc(1, sizeof(*src));
	src->srv = srv;
	src->path = xasprintf("%s/executions/%s/actions/%s.%s/log",
			      serve_state_dir(srv), id, stage, action);
	src->exec_id = xstrdup(id);
	src->stage = xstrdup(stage);
	src->action = xstrdup(action);
	if (raw) {
		serve_log(rq, src);
		goto out;
	}
	buf_addstr(&base, "/executions/");
	dash_url_seg(&base, id);
	buf_addstr(&base, "/actions/");
	dash_url_seg(&base, stage);
	buf_addch(&base, '/');
	dash_url_seg(&base, action);
	log_for_page(src, &log, &text, buf_cstr(&base));
	dash_action_log(&main, id, stage, action, status, &log);
	pg.title = action;
	pg.status = status;
	pg.refresh = log.live;
	reply_page(rq, 200, &pg, &main);
	log_page_release(&log, text);
	logsrc_free(src);
out:
	store_execution_release(&x);
	store_actions_free(av, n);
	buf_release(&main);
	buf_release(&base);
}

static void get_action(struct http_req *rq, void *data)
{
	action_log(rq, data, false);
}

static void get_action_log(struct http_req *rq, void *data)
{
	action_log(rq, data, true);
}

/* ---- artifacts ---- */

static void artifact(struct http_req *rq, struct serve *srv, const char *sha,
		     const char *rel)
{
	struct sw_err e = SW_ERR_INIT;
	char *arts = fs_join(serve_state_dir(srv), "artifacts");
	struct stat st;
	int fd, rc;

	if (!dash_rel_ok(rel)) {
		reply_message(rq, 400, "Refused",
			      "a path inside an artifact is relative, "
			      "without '.' or '..'");
		goto out;
	}
	rc = dash_artifact_open(arts, sha, rel, &fd, &st, &e);
	if (rc != 0) {
		if (rc < 0)
			reply_message(rq, 500, "Error", "%s", e.msg);
		else
			reply_message(rq, 404, "Not found",
				      "no such file in the artifact");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		struct dash_entry *v = NULL;
		size_t nr = 0;
		struct buf main = BUF_INIT, to = BUF_INIT;
		struct dash_page pg = DASH_PAGE_INIT;
		size_t rl = strlen(rel);

		if (rl && rel[rl - 1] != '/') {
			/* a directory's links are relative to its slash */
			close(fd);
			buf_addstr(&to, "/artifacts/");
			buf_addstr(&to, sha);
			buf_addch(&to, '/');
			for (const char *p = rel; *p;) {
				const char *s = strchr(p, '/');
				char *seg = s ? xstrndup(p, (size_t)(s - p))
					      : xstrdup(p);

				dash_url_seg(&to, seg);
				buf_addch(&to, '/');
				free(seg);
				p = s ? s + 1 : p + strlen(p);
			}
			http_redirect(rq, buf_cstr(&to));
			buf_release(&to);
			goto out;
		}
		rc = dash_read_dir(fd, &v, &nr, &e);
		close(fd);
		if (rc < 0) {
			reply_message(rq, 500, "Error", "%s", e.msg);
			goto out;
		}
		{
			char *r = xstrndup(rel, rl ? rl - 1 : 0);

			dash_listing(&main, sha, r, v, nr);
			free(r);
		}
		pg.title = "Artifact";
		reply_page(rq, 200, &pg, &main);
		dash_entries_free(v, nr);
		buf_release(&main);
		goto out;
	}
	{
		const char *base =
			strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
		struct buf cd = BUF_INIT;

		/* never drawn on this origin: downloaded */
		buf_addstr(&cd, "attachment; filename*=UTF-8''");
		dash_url_seg(&cd, base);
		http_set_header(rq, "Content-Disposition", buf_cstr(&cd));
		http_set_header(rq, "Content-Security-Policy",
				"default-src 'none'; sandbox");
		buf_release(&cd);
		stream_fd(rq, fd, "application/octet-stream");
	}
out:
	free(arts);
}

static void get_artifact(struct http_req *rq, void *data)
{
	const char *rel = http_param(rq, 1);

	artifact(rq, data, http_param(rq, 0), rel ? rel : "");
}

static void get_artifact_root(struct http_req *rq, void *data)
{
	struct buf to = BUF_INIT;

	(void)data;
	buf_addstr(&to, "/artifacts/");
	dash_url_seg(&to, http_param(rq, 0));
	buf_addch(&to, '/');
	http_redirect(rq, buf_cstr(&to));
	buf_release(&to);
}

/* /executions/ID/artifacts/NAME/PATH: the content address the
 * execution's link names, then as above. */
static void get_exec_artifact(struct http_req *rq, void *data)
{
	struct serve *srv = data;
	const char *id = http_param(rq, 0), *name = http_param(rq, 1);
	const char *rel = http_param(rq, 2);
	char *link = NULL, target[4096];
	const char *sha;
	ssize_t n;

	if (!id_ok(id) || !name_ok(name)) {
		reply_message(rq, 404, "Not found", "no such artifact");
		return;
	}
	link = xasprintf("%s/executions/%s/artifacts/%s", serve_state_dir(srv),
			 id, name);
	n = readlink(link, target, sizeof(target) - 1);
	free(link);
	if (n <= 0) {
		reply_message(rq, 404, "Not found", "no artifact %s in %s",
			      name, id);
		return;
	}
	target[n] = '\0';
	sha = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	if (!rel) {
		struct buf to = BUF_INIT;

		buf_addf(&to, "/artifacts/%.64s/", sha);
		http_redirect(rq, buf_cstr(&to));
		buf_release(&to);
		return;
	}
	artifact(rq, srv, sha, rel);
}

/* ---- static ---- */

static void get_css(struct http_req *rq, void *data)
{
	struct buf b = BUF_INIT;

	(void)data;
	dash_style(&b);
	http_set_header(rq, "Cache-Control", "max-age=300");
	http_reply(rq, 200, "text/css; charset=utf-8", b.ptr, b.len);
	buf_release(&b);
}

static void get_js(struct http_req *rq, void *data)
{
	(void)data;
	http_set_header(rq, "Cache-Control", "max-age=300");
	http_reply(rq, 200, "text/javascript; charset=utf-8", dash_script,
		   strlen(dash_script));
}

void dashboard_routes(struct http_server *h, struct serve *srv)
{
	http_route(h, "GET", "/static/dash.css", HTTP_PUBLIC, get_css, srv);
	http_route(h, "GET", "/static/dash.js", HTTP_PUBLIC, get_js, srv);
	http_route(h, "GET", "/", HTTP_PAGE, get_home, srv);
	http_route(h, "GET", "/history", HTTP_PAGE, get_history, srv);
	http_route(h, "GET", "/executions/{}", HTTP_PAGE, get_exec, srv);
	http_route(h, "POST", "/executions/{}/approval", HTTP_PAGE,
		   post_approval, srv);
	http_route(h, "POST", "/executions/{}/retry", HTTP_PAGE, post_retry,
		   srv);
	http_route(h, "POST", "/executions/{}/stop", HTTP_PAGE, post_stop, srv);
	http_route(h, "GET", "/executions/{}/actions/{}/{}", HTTP_PAGE,
		   get_action, srv);
	http_route(h, "GET", "/executions/{}/actions/{}/{}/log", HTTP_PAGE,
		   get_action_log, srv);
	http_route(h, "GET", "/executions/{}/artifacts/{}", HTTP_PAGE,
		   get_exec_artifact, srv);
	http_route(h, "GET", "/executions/{}/artifacts/{}/*", HTTP_PAGE,
		   get_exec_artifact, srv);
	http_route(h, "GET", "/builds/{}", HTTP_PAGE, get_build, srv);
	http_route(h, "GET", "/builds/{}/log", HTTP_PAGE, get_build_log, srv);
	http_route(h, "GET", "/deployments/{}", HTTP_PAGE, get_deployment, srv);
	http_route(h, "GET", "/deployments/{}/log", HTTP_PAGE,
		   get_deployment_log, srv);
	http_route(h, "GET", "/artifacts/{}", HTTP_PAGE, get_artifact_root,
		   srv);
	http_route(h, "GET", "/artifacts/{}/*", HTTP_PAGE, get_artifact, srv);
}
