/*
 * intake: webhook deliveries and polling (intake.h).
 */
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "http.h"
#include "intake.h"
#include "pipeline.h"
#include "poll.h"
#include "serve.h"
#include "strvec.h"
#include "webhook.h"
#include "xalloc.h"
#include "banned.h"

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	struct timespec ts;
	struct tm tm;
	char t[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_addf(&b, "%s.%03ldZ ", t, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", b.ptr);
	buf_release(&b);
}

/* Start what a delivery or a poll asks for; the ids in order (NULL where
 * a start failed, logged). */
static char **start_all(struct serve *s, const struct serve_pls *p,
			const struct wh_start *v, size_t nr, const char *by)
{
	char **ids = xcalloc(nr ? nr : 1, sizeof(*ids));

	for (size_t i = 0; i < nr; i++) {
		const struct pipeline *pl = p->v[v[i].pipeline];
		char *msg = NULL;
		/* a pull request's commit is named only by its ref in the
		 * base repository: fetch that */
		bool pr = v[i].ref &&
			  (!strncmp(v[i].ref, "refs/pull/", 10) ||
			   !strncmp(v[i].ref, "refs/merge-requests/", 20));
		int st = serve_start(s, pl, v[i].trigger_type, v[i].summary,
				     pr ? v[i].ref : v[i].revision, NULL, by,
				     &ids[i], &msg);

		if (st)
			logf_("error: %s: cannot start pipeline '%s' at %s: "
			      "%s",
			      by, pl->name, v[i].revision,
			      msg ? msg : "failed");
		else
			logf_("%s: started by %s: %s", ids[i], by,
			      v[i].summary ? v[i].summary : v[i].revision);
		free(msg);
	}
	return ids;
}

static void on_webhook(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *forge = http_param(rq, 0);
	struct strvec hv = STRVEC_INIT;
	struct http_header *h;
	struct wh_outcome out = WH_OUTCOME_INIT;
	struct serve_pls *p;
	size_t nh, len;
	const char *body = http_body(rq, &len);
	char **ids;
	json_object *o, *started;

	if (strcmp(forge, "github") && strcmp(forge, "gitlab") &&
	    strcmp(forge, "gitea")) {
		http_error(rq, 404, "ResourceNotFoundException",
			   "no webhook for '%s': github, gitlab or gitea",
			   forge);
		return;
	}
	if (serve_stopping(s)) {
		http_set_header(rq, "Retry-After", "30");
		http_error(rq, 503, "ServiceUnavailableException",
			   "the server is stopping: deliver again later");
		return;
	}
	http_headers(rq, &hv);
	nh = hv.nr / 2;
	h = xcalloc(nh ? nh : 1, sizeof(*h));
	for (size_t i = 0; i < nh; i++) {
		h[i].name = hv.v[2 * i];
		h[i].value = hv.v[2 * i + 1];
	}
	p = serve_pipelines_get(s);
	webhook_handle(forge, h, nh, body, len, p->v, p->nr, serve_state_dir(s),
		       &out);
	ids = start_all(s, p, out.starts, out.nr_starts, forge);
	o = out.body ? json_tokener_parse(out.body) : NULL;
	if (o && json_object_object_get_ex(o, "started", &started) &&
	    json_object_is_type(started, json_type_array))
		for (size_t i = 0;
		     i < out.nr_starts && i < json_object_array_length(started);
		     i++)
			json_object_object_add(
				json_object_array_get_idx(started, i),
				"pipelineExecutionId",
				ids[i] ? json_object_new_string(ids[i]) : NULL);
	if (o)
		http_reply_json(rq, out.status, o);
	else
		http_reply(rq, out.status ? out.status : 500,
			   "application/json", out.body ? out.body : "{}",
			   out.body ? strlen(out.body) : 2);
	for (size_t i = 0; i < out.nr_starts; i++)
		free(ids[i]);
	free(ids);
	serve_pipelines_put(s, p);
	wh_outcome_release(&out);
	free(h);
	strvec_release(&hv);
}

void intake_routes(struct http_server *h, struct serve *s)
{
	http_route(h, "POST", "/webhooks/{}", HTTP_PUBLIC | HTTP_BODY,
		   on_webhook, s);
}

/* ---- polling -------------------------------------------------------- */

static pthread_t poller;
static bool polling;
static atomic_bool poll_done;

struct due {
	char *name;
	int64_t at;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *poll_main(void *cls)
{
	struct serve *s = cls;
	struct due *due = NULL;
	size_t nd = 0;

	while (!poll_done) {
		struct serve_pls *p = serve_pipelines_get(s);

		for (size_t i = 0; i < p->nr && !poll_done; i++) {
			struct pipeline *pl = p->v[i];
			struct due *d = NULL;
			struct wh_start *v = NULL;
			struct sw_err e = SW_ERR_INIT;
			size_t nr = 0;
			int64_t now = mono_ms();

			if (pl->poll_seconds <= 0 || serve_stopping(s))
				continue;
			for (size_t k = 0; k < nd && !d; k++)
				if (!strcmp(due[k].name, pl->name))
					d = &due[k];
			if (!d) {
				due = xrealloc(due, (nd + 1) * sizeof(*due));
				d = &due[nd++];
				d->name = xstrdup(pl->name);
				d->at = now;
			}
			if (now < d->at)
				continue;
			d->at = now + pl->poll_seconds * 1000LL;
			if (poll_check(pl, i, serve_state_dir(s), &v, &nr, &e) <
			    0) {
				logf_("poll: pipeline '%s': %s", pl->name,
				      e.msg);
				continue;
			}
			if (nr) {
				char **ids = start_all(s, p, v, nr, "poll");

				for (size_t k = 0; k < nr; k++)
					free(ids[k]);
				free(ids);
			}
			for (size_t k = 0; k < nr; k++)
				wh_start_release(&v[k]);
			free(v);
		}
		serve_pipelines_put(s, p);
		for (int k = 0; k < 5 && !poll_done; k++)
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 },
				  NULL);
	}
	for (size_t k = 0; k < nd; k++)
		free(due[k].name);
	free(due);
	return NULL;
}

void intake_poll_start(struct serve *s)
{
	poll_done = false;
	if (pthread_create(&poller, NULL, poll_main, s) == 0)
		polling = true;
}

void intake_poll_stop(void)
{
	poll_done = true;
	if (polling)
		pthread_join(poller, NULL);
	polling = false;
}
