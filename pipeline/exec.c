/*
 * exec: the pipeline execution engine (exec.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "blob.h"
#include "buf.h"
#include "deliver.h"
#include "err.h"
#include "exec.h"
#include "fs.h"
#include "glob.h"
#include "group.h"
#include "hash.h"
#include "html.h"
#include "mask.h"
#include "pipeline.h"
#include "page.h"
#include "queue.h"
#include "secrets.h"
#include "state.h"
#include "status.h"
#include "store.h"
#include "vars.h"
#include "xalloc.h"
#include "banned.h"

#define APPROVAL_DEFAULT_MS (7LL * 24 * 3600 * 1000)

struct run {
	struct pipeline pl;
	struct store *s;
	char *state; /* absolute */
	char *id;
	char *dir; /* <state>/executions/<id> */
	int lockfd;
	json_object *vars; /* name -> resolved value */
	char *revision;
	/* pipeline retry: the stage whose failed (or, retry_all, every)
	 * actions run again, as a new attempt */
	const struct pl_stage *retry;
	bool retry_all;
	int stage_fd; /* the lock of the stage it runs, or -1 */
	/* a rollback: the one stage it runs, and the execution whose
	 * artifacts and variables it runs with */
	const struct pl_stage *only;
	char *target;
	/* exec_start: what started it (exec_opts) */
	const char *trigger_type, *trigger_detail;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *iso_time(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char b[32];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(b);
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void fail_msg(struct sw_err *e)
{
	fprintf(stderr, "error: %s\n", e->msg);
}

static int exit_of(struct sw_err *e)
{
	fail_msg(e);
	return e->code == ERR_SPEC ? 3 : e->code == ERR_USAGE ? 2 : 111;
}

/* ---- events ---------------------------------------------------------- */

static void refresh_report(struct run *r);

static void notify(struct run *r, const char *json)
{
	for (size_t i = 0; i < r->pl.nr_notifications; i++) {
		const struct pl_notification *n = &r->pl.notifications[i];

		if (n->url)
			deliver_queue(r->dir, i, n->name, n->url, json);
		if (n->command)
			deliver_queue_command(r->dir, i, n->name, n->command,
					      r->pl.dir, json);
	}
}

/* The commit a source action fetched in this execution, or NULL. */
static char *commit_of(struct run *r, const struct pl_action *a)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *v = NULL;
	struct sw_err e = SW_ERR_INIT;
	char *sha = NULL;
	size_t nr = 0;

	q.execution_id = r->id;
	q.status = "Succeeded";
	if (store_list_actions(r->s, &q, &v, &nr, &e) < 0)
		return NULL;
	for (size_t i = 0; i < nr; i++) {
		json_object *ov, *id;

		if (strcmp(v[i].stage, r->pl.stages[0].name) ||
		    strcmp(v[i].action, a->name) || !v[i].output_variables)
			continue;
		ov = json_tokener_parse(v[i].output_variables);
		if (ov && json_object_object_get_ex(ov, "CommitId", &id)) {
			free(sha);
			sha = xstrdup(json_object_get_string(id));
		}
		json_object_put(ov);
	}
	store_actions_free(v, nr);
	return sha;
}

/* Commit statuses (status.h): running once a source action has its
 * commit, the outcome when the execution ends. */
static void statuses(struct run *r, int kind, const struct pl_action *a,
		     const char *up)
{
	static const char *const ends[] = { "SUCCEEDED", "FAILED", "STOPPED",
					    "SUPERSEDED" };
	static const enum status_state states[] = {
		STATUS_SUCCESS, STATUS_FAILURE, STATUS_ERROR, STATUS_ERROR
	};
	const char *base = getenv("SLIPWAY_PUBLIC_URL");
	char *target = NULL;
	int end = -1;

	if (!r->pl.nr_statuses || !r->pl.nr_stages)
		return;
	for (int i = 0; kind == 0 && i < 4; i++)
		if (!strcmp(up, ends[i]))
			end = i;
	if (end < 0 && !(kind == 2 && a && a->category == PL_SOURCE &&
			 !strcmp(up, "SUCCEEDED")))
		return;
	if (base && *base)
		target = xasprintf(
			"%.*s/executions/%s",
			(int)(strlen(base) - (base[strlen(base) - 1] == '/')),
			base, r->id);
	for (size_t i = 0; i < r->pl.stages[0].nr_actions; i++) {
		const struct pl_action *s = &r->pl.stages[0].actions[i];
		char *sha, *desc, *rec, stem[32];

		if ((end < 0 && s != a) || s->binding < 0 ||
		    (size_t)s->binding >= r->pl.nr_sources)
			continue;
		for (size_t k = 0; k < r->pl.nr_statuses; k++) {
			const struct pl_status *ps = &r->pl.statuses[k];

			if (strcmp(ps->source,
				   r->pl.sources[s->binding].name) ||
			    !(sha = commit_of(r, s)))
				continue;
			desc = end < 0 ? xasprintf("%s: running", r->pl.name)
				       : xasprintf("%s: %s", r->pl.name,
						   end == 0   ? "succeeded"
						   : end == 1 ? "failed"
						   : end == 2 ? "stopped"
							      : "superseded");
			rec = status_record(
				ps, sha, end < 0 ? STATUS_RUNNING : states[end],
				desc, target);
			snprintf(stem, sizeof(stem), "status-%zu", k);
			if (rec)
				deliver_queue_request(r->dir, stem, ps->source,
						      rec);
			free(rec);
			free(desc);
			free(sha);
		}
	}
	free(target);
}

/* One state change: kind 0 pipeline, 1 stage, 2 action; the keys of
 * extra (consumed, or NULL) are added to its detail. */
static void event_x(struct run *r, int kind, const struct pl_stage *st,
		    const struct pl_action *a, const char *state,
		    const char *summary, json_object *extra)
{
	static const char *const types[] = {
		"CodePipeline Pipeline Execution State Change",
		"CodePipeline Stage Execution State Change",
		"CodePipeline Action Execution State Change",
	};
	int64_t t = now_ms();
	json_object *o = json_object_new_object(), *d;
	char *uid = state_uuid(), *ts = iso_time(t), *up = xstrdup(state);
	struct sw_err e = SW_ERR_INIT;
	const char *text;
	char *path;
	int fd;

	upper(up);
	json_object_object_add(o, "version", json_object_new_string("0"));
	json_object_object_add(o, "id", json_object_new_string(uid));
	json_object_object_add(o, "detail-type",
			       json_object_new_string(types[kind]));
	json_object_object_add(o, "source",
			       json_object_new_string("slipway.pipeline"));
	json_object_object_add(o, "time", json_object_new_string(ts));
	json_object_object_add(o, "resources", json_object_new_array());
	json_object_array_add(json_object_object_get(o, "resources"),
			      json_object_new_string(r->pl.name));
	d = json_object_new_object();
	json_object_object_add(d, "pipeline",
			       json_object_new_string(r->pl.name));
	json_object_object_add(d, "execution-id",
			       json_object_new_string(r->id));
	if (st)
		json_object_object_add(d, "stage",
				       json_object_new_string(st->name));
	if (a) {
		json_object *ty = json_object_new_object();

		json_object_object_add(d, "action",
				       json_object_new_string(a->name));
		json_object_object_add(ty, "owner",
				       json_object_new_string(a->owner));
		json_object_object_add(
			ty, "category",
			json_object_new_string(pl_category_name(a->category)));
		json_object_object_add(
			ty, "provider",
			json_object_new_string(a->provider_name));
		json_object_object_add(ty, "version",
				       json_object_new_string(a->version));
		json_object_object_add(d, "type", ty);
	}
	json_object_object_add(d, "state", json_object_new_string(up));
	if (kind == 0 && !strcmp(up, "STARTED")) {
		json_object *tr = json_object_new_object();

		json_object_object_add(
			tr, "trigger-type",
			json_object_new_string(
				r->trigger_type ? r->trigger_type
						: "StartPipelineExecution"));
		json_object_object_add(
			tr, "trigger-detail",
			json_object_new_string(r->trigger_detail
						       ? r->trigger_detail
						       : "slipway"));
		json_object_object_add(d, "execution-trigger", tr);
	}
	if (summary && a) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "external-execution-summary",
				       json_object_new_string(summary));
		if (!strcmp(up, "FAILED"))
			json_object_object_add(
				x, "error-code",
				json_object_new_string("JobFailed"));
		json_object_object_add(d, "execution-result", x);
	}
	if (extra) {
		json_object_object_foreach(extra, k, val)
			json_object_object_add(d, k, json_object_get(val));
		json_object_put(extra);
	}
	json_object_object_add(d, "version", json_object_new_int(1));
	json_object_object_add(o, "detail", d);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	path = fs_join(r->dir, "events.jsonl");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		struct buf b = BUF_INIT;

		buf_addstr(&b, text);
		buf_addch(&b, '\n');
		if (write(fd, b.ptr, b.len) != (ssize_t)b.len)
			fprintf(stderr, "warning: %s: cannot append\n", path);
		buf_release(&b);
		close(fd);
	}
	if (store_append_event(r->s, r->id, t, text, NULL, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		err_clear(&e);
	}
	notify(r, text);
	statuses(r, kind, a, up);
	refresh_report(r);
	free(path);
	free(uid);
	free(ts);
	free(up);
	json_object_put(o);
}

static void event(struct run *r, int kind, const struct pl_stage *st,
		  const struct pl_action *a, const char *state,
		  const char *summary)
{
	event_x(r, kind, st, a, state, summary, NULL);
}

/* ---- stop ------------------------------------------------------------- */

/* Set by SIGUSR1: `pipeline stop --abandon` asks the runner to abandon
 * the actions running now. */
static volatile sig_atomic_t abandon_now;

static void on_abandon(int sig)
{
	(void)sig;
	abandon_now = 1;
}

/* No SA_RESTART: the runner's waitpid() returns EINTR at once. */
static void catch_abandon(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_abandon;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* The reason of a stop asked for (the file <pe-dir>/stop), or NULL. */
static char *stop_requested(struct run *r)
{
	char *p = fs_join(r->dir, "stop"), *data = NULL;
	size_t len = 0;
	struct sw_err e = SW_ERR_INIT;

	if (fs_read_file(p, 4096, &data, &len, &e) < 0) {
		err_clear(&e);
		data = NULL;
	}
	free(p);
	return data;
}

/* ---- serving: drain, worker slots, readiness ---------------------------- */

/* Set by SIGUSR2: the server going down asks its runners to finish the
 * actions running and start no more, leaving the execution to resume. */
static volatile sig_atomic_t drain_now;

static void on_drain(int sig)
{
	(void)sig;
	drain_now = 1;
}

void exec_catch_drain(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_drain;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}

static int drained(struct run *r)
{
	fprintf(stderr, "%s drained: it resumes where it stopped\n", r->id);
	return EXEC_DRAINED;
}

/* The worker slot taken for the next action to start, or -1: a process
 * runs one execution, so one static is enough. */
static int slot_fd = -1;

/*
 * With SLIPWAY_WORKERS=N, take one of the N slot locks
 * <state>/slots/<i> for the next action, waiting for one to be free;
 * the action's process inherits it, so that it is free again when that
 * process ends. -1 when the runner is asked to drain or abandon while
 * it waits.
 */
static int take_slot(struct run *r, const struct pl_stage *st,
		     const struct pl_action *a)
{
	const char *w = getenv("SLIPWAY_WORKERS");
	long n = w ? strtol(w, NULL, 10) : 0;
	struct sw_err e = SW_ERR_INIT;
	bool said = false;
	char *dir;

	if (n <= 0 || slot_fd >= 0)
		return 0;
	dir = fs_join(r->state, "slots");
	if (fs_mkdir_p(dir, 0755, &e) < 0) {
		fprintf(stderr, "warning: %s: no worker slots\n", e.msg);
		free(dir);
		return 0;
	}
	for (;;) {
		for (long i = 0; i < n; i++) {
			char *p = xasprintf("%s/%ld", dir, i);
			int fd = open(p,
				      O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
				      0644);

			free(p);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				slot_fd = fd;
				free(dir);
				return 0;
			}
			close(fd);
		}
		if (drain_now || abandon_now) {
			free(dir);
			return -1;
		}
		if (!said)
			fprintf(stderr,
				"%s/%s: waiting for a worker slot (all %ld "
				"busy)\n",
				st->name, a->name, n);
		said = true;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

static void release_slot(void)
{
	if (slot_fd >= 0)
		close(slot_fd);
	slot_fd = -1;
}

/* SLIPWAY_READY_FD: tell whoever started this runner that the request
 * was taken (it answers its client then), once. */
static void signal_ready(void)
{
	const char *v = getenv("SLIPWAY_READY_FD");
	int fd = v ? atoi(v) : -1;
	void (*old)(int);

	if (fd < 3)
		return;
	old = signal(SIGPIPE, SIG_IGN);
	if (write(fd, "ok\n", 3) != 3) {
		/* nobody waits any more */
	}
	signal(SIGPIPE, old);
	close(fd);
	unsetenv("SLIPWAY_READY_FD");
}

/* ---- execution modes ---------------------------------------------------- */

/* <state>/pipelines/<name>/stage-<stage>.<ext> */
static char *stage_file(struct run *r, const struct pl_stage *st,
			const char *ext)
{
	return xasprintf("%s/pipelines/%s/stage-%s.%s", r->state, r->pl.name,
			 st->name, ext);
}

/*
 * QUEUED: a ticket, <state>/pipelines/<name>/stage-<stage>.queue/<n>.<id>,
 * n the next number of stage-<stage>.seq, taken and created under that
 * file's lock and held (flock) by the execution while it waits. Returns
 * the ticket's fd and its path in *path, or -1.
 */
static int take_ticket(struct run *r, const struct pl_stage *st, char **path,
		       struct sw_err *e)
{
	char *seq = stage_file(r, st, "seq"),
	     *qdir = stage_file(r, st, "queue");
	char buf[32];
	int sfd = -1, tfd = -1;
	long n = 0;
	ssize_t k;

	*path = NULL;
	if (fs_mkdir_p(qdir, 0755, e) < 0)
		goto out;
	sfd = open(seq, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (sfd < 0 || flock(sfd, LOCK_EX) < 0) {
		err_sys(e, "%s", seq);
		goto out;
	}
	k = pread(sfd, buf, sizeof(buf) - 1, 0);
	if (k > 0) {
		buf[k] = 0;
		n = atol(buf);
	}
	k = snprintf(buf, sizeof(buf), "%ld\n", ++n);
	if (pwrite(sfd, buf, (size_t)k, 0) != k || ftruncate(sfd, k) < 0) {
		err_sys(e, "%s", seq);
		goto out;
	}
	*path = xasprintf("%s/%012ld.%s", qdir, n, r->id);
	tfd = open(*path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (tfd >= 0 && flock(tfd, LOCK_EX) < 0) {
		close(tfd);
		tfd = -1;
	}
	if (tfd < 0) {
		err_sys(e, "%s", *path);
		free(*path);
		*path = NULL;
	}
out:
	if (sfd >= 0)
		close(sfd);
	free(seq);
	free(qdir);
	return tfd;
}

/* 1 when no live ticket is before ticket in its queue, else 0; a ticket
 * nobody holds (its execution was killed) is removed. The queue is read
 * under a shared lock of seq, so that no ticket is half made. -1 on
 * error. */
static int first_in_queue(const char *seq, const char *ticket, struct sw_err *e)
{
	const char *slash = strrchr(ticket, '/');
	char *qdir = xstrndup(ticket, (size_t)(slash - ticket));
	int sfd = open(seq, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct dirent *de;
	DIR *d = NULL;
	int ret = -1;

	if (sfd < 0 || flock(sfd, LOCK_SH) < 0 || !(d = opendir(qdir))) {
		err_sys(e, "%s", sfd < 0 ? seq : qdir);
		goto out;
	}
	ret = 1;
	while ((de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, slash + 1))
			continue;
		p = fs_join(qdir, de->d_name);
		if (fs_lock_held(p) == 0)
			unlink(p);
		else if (strcmp(de->d_name, slash + 1) < 0 && fs_exists(p))
			ret = 0;
		free(p);
	}
out:
	if (d)
		closedir(d);
	if (sfd >= 0)
		close(sfd);
	free(qdir);
	return ret;
}

/* QUEUED: enter the stage whose lock is fd when every execution that
 * came to it before has entered it, one at a time. */
static int enter_queued(struct run *r, const struct pl_stage *st, int fd,
			struct sw_err *e)
{
	char *ticket = NULL, *seq = stage_file(r, st, "seq");
	int tfd = take_ticket(r, st, &ticket, e), rc = -1;
	bool said = false;

	if (tfd < 0) {
		free(seq);
		return -1;
	}
	for (;;) {
		int first = first_in_queue(seq, ticket, e);

		if (first < 0)
			goto out;
		if (first && flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (first && errno != EWOULDBLOCK) {
			err_sys(e, "cannot lock stage %s", st->name);
			goto out;
		}
		if (drain_now) {
			rc = 2; /* its ticket goes: it waits again on resume */
			goto out;
		}
		if (!said) {
			fprintf(stderr,
				"%s: waiting for stage %s: another execution "
				"runs it (%s)\n",
				r->id, st->name, pl_mode_name(r->pl.mode));
			said = true;
		}
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	rc = 0;
out:
	unlink(ticket);
	close(tfd);
	free(ticket);
	free(seq);
	return rc;
}

/*
 * Enter stage st as the execution mode says: PARALLEL, at once; else
 * one execution at a time holds the stage's lock. A QUEUED one waits its
 * turn, in the order they came (enter_queued); a SUPERSEDED one waiting
 * gives way to a newer one that comes to wait too (the newest waiter's
 * id is in stage-<stage>.waiting).
 * Returns 0 when entered, 1 when superseded, 2 when asked to drain while
 * it waited, -1 on error.
 */
static int enter_stage(struct run *r, const struct pl_stage *st,
		       struct sw_err *e)
{
	char *lp, *wp = NULL, *dir;
	int fd, ret = -1;
	bool said = false;

	if (r->pl.mode == PL_PARALLEL || r->stage_fd >= 0)
		return 0;
	dir = xasprintf("%s/pipelines/%s", r->state, r->pl.name);
	lp = stage_file(r, st, "lock");
	if (fs_mkdir_p(dir, 0755, e) < 0)
		goto out;
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err_sys(e, "%s", lp);
		goto out;
	}
	if (r->pl.mode == PL_QUEUED) {
		ret = enter_queued(r, st, fd, e);
		if (ret)
			close(fd);
		else
			r->stage_fd = fd;
		goto out;
	}
	wp = stage_file(r, st, "waiting");
	for (;;) {
		char *who = NULL;
		size_t len = 0;

		if (wp && said && fs_read_file(wp, 256, &who, &len, e) == 0 &&
		    strcmp(who, r->id)) {
			fprintf(stderr, "%s: superseded by %s\n", r->id, who);
			free(who);
			close(fd);
			ret = 1;
			goto out;
		}
		free(who);
		err_clear(e);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (drain_now) {
			close(fd);
			ret = 2;
			goto out;
		}
		if (errno != EWOULDBLOCK) {
			err_sys(e, "%s", lp);
			close(fd);
			goto out;
		}
		if (!said) {
			fprintf(stderr,
				"%s: waiting for stage %s: another execution "
				"runs it (%s)\n",
				r->id, st->name, pl_mode_name(r->pl.mode));
			if (wp &&
			    fs_replace(wp, r->id, strlen(r->id), 0644, e) < 0) {
				close(fd);
				goto out;
			}
			said = true;
		}
		/* look again for a newer waiter shortly */
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	r->stage_fd = fd;
	ret = 0;
out:
	free(dir);
	free(lp);
	free(wp);
	return ret;
}

static void leave_stage(struct run *r)
{
	if (r->stage_fd >= 0)
		close(r->stage_fd);
	r->stage_fd = -1;
}

/* ---- store helpers ------------------------------------------------------ */

/* The latest attempt of an action, or NULL (caller frees with *v). */
static struct store_action *latest(struct store_action *v, size_t nr,
				   const char *stage, const char *action)
{
	struct store_action *best = NULL;

	for (size_t i = 0; i < nr; i++)
		if (!strcmp(v[i].stage, stage) &&
		    !strcmp(v[i].action, action) &&
		    (!best || v[i].attempt > best->attempt))
			best = &v[i];
	return best;
}

/* start 0: the stage's start as it was put first. */
static int put_stage(struct run *r, const char *stage, const char *status,
		     int64_t start, int64_t end, struct sw_err *e)
{
	struct store_stage st = { .execution_id = r->id,
				  .stage = (char *)stage,
				  .status = (char *)status,
				  .start_ms = start,
				  .end_ms = end };
	struct store_query q = STORE_QUERY_INIT;
	struct store_stage *v = NULL;
	size_t nr = 0;
	int ret;

	q.execution_id = r->id;
	if (!start && store_list_stages(r->s, &q, &v, &nr, e) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(v[i].stage, stage))
			st.start_ms = v[i].start_ms;
	ret = store_put_stage(r->s, &st, e);
	store_stages_free(v, nr);
	return ret;
}

static int set_execution(struct run *r, const char *status, const char *summary,
			 struct sw_err *e)
{
	struct store_execution x = { 0 };
	int ret;

	if (store_get_execution(r->s, r->id, &x, e) != 0)
		return -1;
	free(x.status);
	x.status = xstrdup(status);
	free(x.status_summary);
	x.status_summary = xstrdup_or_null(summary);
	x.end_ms = strcmp(status, "InProgress") ? now_ms() : 0;
	ret = store_put_execution(r->s, &x, e);
	store_execution_release(&x);
	return ret;
}

/* ---- stage retries ------------------------------------------------------ */

#define AUTO_RETRY "AutomatedStageRetry"
#define MANUAL_RETRY "ManualStageRetry"

/* CodePipeline's RetryStageMetadata of stage, counted from the
 * execution's stage RESUMED events v; *trigger (when not NULL) is the
 * latest retry's trigger, or NULL (caller frees). */
static void count_retries(const struct store_event *v, size_t nr,
			  const char *stage, long *autos, long *manuals,
			  char **trigger)
{
	*autos = *manuals = 0;
	if (trigger)
		*trigger = NULL;
	for (size_t i = 0; i < nr; i++) {
		json_object *o, *d, *x;
		const char *t;

		if (!strstr(v[i].json, "\"retry-trigger\""))
			continue;
		o = json_tokener_parse(v[i].json);
		if (!o || !json_object_object_get_ex(o, "detail", &d) ||
		    !json_object_object_get_ex(d, "stage", &x) ||
		    strcmp(json_object_get_string(x), stage) ||
		    !json_object_object_get_ex(d, "retry-trigger", &x)) {
			json_object_put(o);
			continue;
		}
		t = json_object_get_string(x);
		if (!strcmp(t, AUTO_RETRY))
			(*autos)++;
		else
			(*manuals)++;
		if (trigger) {
			free(*trigger);
			*trigger = xstrdup(t);
		}
		json_object_put(o);
	}
}

static int stage_retries(struct run *r, const char *stage, long *autos,
			 long *manuals, struct sw_err *e)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_event *v = NULL;
	size_t nr = 0;

	q.execution_id = r->id;
	if (store_list_events(r->s, &q, 0, &v, &nr, e) < 0)
		return -1;
	count_retries(v, nr, stage, autos, manuals, NULL);
	store_events_free(v, nr);
	return 0;
}

/* The stage's RESUMED event of a retry (trigger AUTO_RETRY or
 * MANUAL_RETRY). */
static void retry_event(struct run *r, const struct pl_stage *st,
			const char *trigger, bool all)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "retry-trigger",
			       json_object_new_string(trigger));
	json_object_object_add(
		x, "retry-mode",
		json_object_new_string(all ? "ALL_ACTIONS" : "FAILED_ACTIONS"));
	event_x(r, 1, st, NULL, "RESUMED", NULL, x);
}

/* ---- artifacts ------------------------------------------------------- */

static struct strvec *walk_lines;
static size_t walk_root;

static int walk_one(const char *path, const struct stat *sb, int type,
		    struct FTW *f)
{
	char hex[HASH_SHA256_HEX] = "";
	struct sw_err e = SW_ERR_INIT;

	(void)f;
	if (strlen(path) <= walk_root)
		return 0;
	if (type == FTW_F && hash_file_sha256(path, hex, &e) < 0) {
		err_clear(&e);
		return -1;
	}
	if (type == FTW_SL) {
		char t[4096];
		ssize_t n = readlink(path, t, sizeof(t) - 1);

		if (n < 0)
			return -1;
		t[n] = 0;
		hash_buf(HASH_SHA256, t, (size_t)n, hex, &e);
	}
	strvec_push_nodup(walk_lines, xasprintf("%s %o %s", path + walk_root,
						(unsigned)sb->st_mode, hex));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int exec_tree_hash(const char *dir, char hex[HASH_SHA256_HEX], struct sw_err *e)
{
	struct strvec lines = STRVEC_INIT;
	struct buf b = BUF_INIT;
	int ret = -1;

	walk_lines = &lines;
	walk_root = strlen(dir);
	if (nftw(dir, walk_one, 32, FTW_PHYS) != 0) {
		err_sys(e, "%s: cannot read the artifact", dir);
		goto out;
	}
	if (lines.nr)
		qsort(lines.v, lines.nr, sizeof(*lines.v), cmp_str);
	for (size_t i = 0; i < lines.nr; i++) {
		buf_addstr(&b, lines.v[i]);
		buf_addch(&b, '\n');
	}
	ret = hash_buf(HASH_SHA256, b.ptr ? b.ptr : "", b.len, hex, e);
out:
	strvec_release(&lines);
	buf_release(&b);
	return ret;
}

/* Store dir (which it consumes) as artifact name of the execution. */
static int put_artifact(struct run *r, const char *name, const char *dir,
			struct sw_err *e)
{
	char hex[HASH_SHA256_HEX];
	char *store = NULL, *link = NULL, *adir = NULL, *tmp = NULL;
	int ret = -1;

	if (exec_tree_hash(dir, hex, e) < 0)
		return -1;
	adir = fs_join(r->state, "artifacts");
	store = fs_join(adir, hex);
	if (fs_mkdir_p(adir, 0755, e) < 0)
		goto out;
	if (!fs_exists(store)) {
		tmp = xasprintf("%s/.%s.slipway-tmp.%d", adir, hex,
				(int)getpid());
		if (fs_copy_tree(dir, tmp, NULL, e) < 0)
			goto out;
		if (rename(tmp, store) < 0 && errno != ENOTEMPTY &&
		    errno != EEXIST) {
			err_sys(e, "%s: cannot store the artifact", store);
			goto out;
		}
		fs_remove_tree(tmp, e); /* lost a race: the same content */
		err_clear(e);
	}
	free(adir);
	adir = fs_join(r->dir, "artifacts");
	if (fs_mkdir_p(adir, 0755, e) < 0)
		goto out;
	link = fs_join(adir, name);
	unlink(link);
	if (symlink(store, link) < 0) {
		err_sys(e, "%s: cannot link the artifact", link);
		goto out;
	}
	ret = 0;
out:
	free(store);
	free(link);
	free(adir);
	free(tmp);
	return ret;
}

static char *artifact_dir(struct run *r, const char *name)
{
	char *a = fs_join(r->dir, "artifacts"), *p = fs_join(a, name);

	free(a);
	return p;
}

/* ---- variables ---------------------------------------------------------- */

/* Resolve the references of s; NULL and *e set when one cannot be. */
static char *resolve(struct run *r, struct store_action *v, size_t nr,
		     const char *s, struct sw_err *e)
{
	struct buf b = BUF_INIT;
	struct plvar_ref ref;
	size_t pos = 0, last = 0;
	int rc;

	while ((rc = plvar_next(s, &pos, &ref)) > 0) {
		const char *val = NULL;
		json_object *o = NULL;
		json_object *ov = NULL;

		buf_add(&b, s + last, ref.start - last);
		last = ref.end;
		if (!strcmp(ref.ns, PLVAR_CODEPIPELINE)) {
			if (!strcmp(ref.key, "PipelineExecutionId"))
				val = r->id;
		} else if (!strcmp(ref.ns, PLVAR_VARIABLES)) {
			if (json_object_object_get_ex(r->vars, ref.key, &o))
				val = json_object_get_string(o);
		} else {
			for (size_t si = 0; si < r->pl.nr_stages && !val;
			     si++) {
				const struct pl_stage *st = &r->pl.stages[si];

				for (size_t ai = 0; ai < st->nr_actions; ai++) {
					const struct pl_action *a =
						&st->actions[ai];
					struct store_action *x;

					if (!a->namespace ||
					    strcmp(a->namespace, ref.ns))
						continue;
					x = latest(v, nr, st->name, a->name);
					if (!x || !x->output_variables ||
					    strcmp(x->status, "Succeeded"))
						continue;
					json_object_put(ov);
					ov = json_tokener_parse(
						x->output_variables);
					if (ov && json_object_object_get_ex(
							  ov, ref.key, &o))
						val = json_object_get_string(o);
				}
			}
		}
		if (!val) {
			err_set(e, ERR_SPEC,
				"cannot resolve '#{%s.%s}': no such variable",
				ref.ns, ref.key);
			json_object_put(ov);
			buf_release(&b);
			return NULL;
		}
		buf_addstr(&b, val);
		json_object_put(ov);
	}
	if (rc < 0) {
		err_set(e, ERR_SPEC, "malformed variable reference in '%s'", s);
		buf_release(&b);
		return NULL;
	}
	buf_addstr(&b, s + last);
	return buf_detach(&b);
}

/* ---- actions ------------------------------------------------------------ */

struct job {
	long attempt; /* 1, then one more for each retry */
	const struct pl_stage *st;
	const struct pl_action *a;
	pid_t pid;
	int64_t start;
	char *wd; /* <pe-dir>/actions/<Stage>.<Action> */
	struct strvec argv; /* what the child runs */
	struct strvec env; /* NAME=VALUE added */
	char *cwd;
	char *ext_id;
	char *error; /* resolution failed: no child */
	struct strvec secrets; /* values masked in its log */
};

static const char *self_exe(void)
{
	static char p[4096];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);

	if (n <= 0)
		return "slipway";
	p[n] = 0;
	return p;
}

static const char *cfg(struct run *r, struct job *j, struct store_action *v,
		       size_t nr, const char *key, struct strvec *keep)
{
	const char *raw = pl_action_config(j->a, key);
	struct sw_err e = SW_ERR_INIT;
	char *s;

	if (!raw || j->error)
		return raw && !j->error ? raw : NULL;
	s = resolve(r, v, nr, raw, &e);
	if (!s) {
		j->error = xasprintf("configuration %s: %s", key, e.msg);
		err_clear(&e);
		return NULL;
	}
	strvec_push_nodup(keep, s);
	return s;
}

static char *shell_script(const struct pl_action *a)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "set -e\n");
	for (size_t i = 0; i < a->commands.nr; i++) {
		buf_addstr(&b, a->commands.v[i]);
		buf_addch(&b, '\n');
	}
	for (size_t i = 0; i < a->output_variables.nr; i++) {
		const char *n = a->output_variables.v[i];

		buf_addf(&b,
			 "if [ -n \"${%s+set}\" ]; then printf '%%s=%%s\\0' "
			 "%s \"$%s\" >>\"$SLIPWAY_OUTPUT_VARIABLES\"; fi\n",
			 n, n, n);
	}
	return buf_detach(&b);
}

/*
 * The value of the secrets-manager reference ref (consumed), looked up
 * in slipway.secrets-file as a build looks up its env/secrets-manager,
 * and kept to be masked in the job's log; NULL and *e when there is none.
 */
static char *secret_value(struct run *r, struct job *j, char *ref,
			  struct sw_err *e)
{
	struct secrets sec = SECRETS_INIT;
	char *val = NULL;

	secrets_init(&sec);
	if (!r->pl.secrets_file)
		err_set(e, ERR_SPEC, "no slipway.secrets-file to look up '%s'",
			ref);
	else if (secrets_load_file(&sec, r->pl.secrets_file, e) == 0 &&
		 secrets_get_secret(&sec, ref, &val, e) == 0)
		strvec_push(&j->secrets, val);
	secrets_release(&sec);
	free(ref);
	return val;
}

/* Prepare what the child of job j runs; j->error when it cannot. */
static void prepare(struct run *r, struct job *j, struct store_action *v,
		    size_t nr)
{
	const struct pl_action *a = j->a;
	struct strvec keep = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *in = a->nr_inputs ? artifact_dir(r, a->inputs[0].name) : NULL;
	char *work = fs_join(j->wd, "work");

	switch (a->provider) {
	case PL_CODECOMMIT:
	case PL_CODESTAR:
	case PL_GITHUB:
	case PL_S3: {
		/* an S3 object has no revision to choose */
		const char *ref = a->provider == PL_S3 ? NULL : r->revision;

		if (!ref && a->provider != PL_S3)
			ref = cfg(r, j, v, nr,
				  a->provider == PL_GITHUB ? "Branch"
							   : "BranchName",
				  &keep);
		if (a->binding < 0) {
			j->error = xstrdup("no slipway.sources binding");
			break;
		}
		strvec_push(&j->argv, self_exe());
		strvec_push(&j->argv, "pipeline");
		strvec_push(&j->argv, "--source-fetch");
		strvec_push(&j->argv, r->pl.sources[a->binding].target);
		strvec_push(&j->argv, work);
		strvec_push(&j->argv, ref ? ref : "");
		break;
	}
	case PL_CODEBUILD: {
		const char *project = cfg(r, j, v, nr, "ProjectName", &keep);
		const char *primary = cfg(r, j, v, nr, "PrimarySource", &keep);
		const char *envj =
			cfg(r, j, v, nr, "EnvironmentVariables", &keep);
		const struct pl_project *p =
			a->binding >= 0 ? &r->pl.projects[a->binding] : NULL;
		char *rep = fs_join(j->wd, "report.json");
		char *out = fs_join(j->wd, "out");
		char *src;

		if (j->error) {
			free(rep);
			free(out);
			break;
		}
		if (primary && a->nr_inputs) {
			free(in);
			in = artifact_dir(r, primary);
		}
		if (!in) {
			j->error = xstrdup("a CodeBuild action needs an input "
					   "artifact");
			free(rep);
			free(out);
			break;
		}
		/* the build's project is its source directory's name */
		src = fs_join(j->wd, project ? project : a->name);
		for (char *c = src + strlen(j->wd) + 1; *c; c++)
			if (*c == '/')
				*c = '-';
		if (symlink(in, src) < 0) {
			j->error = xasprintf("%s: %s", src, strerror(errno));
			free(rep);
			free(out);
			free(src);
			break;
		}
		strvec_push(&j->argv, self_exe());
		strvec_push(&j->argv, "build");
		strvec_push_nodup(&j->argv, src);
		strvec_push(&j->argv, "--state-dir");
		strvec_push(&j->argv, r->state);
		strvec_push(&j->argv, "--report");
		strvec_push(&j->argv, rep);
		strvec_push(&j->argv, "-o");
		strvec_push(&j->argv, out);
		strvec_push(&j->argv, "--packaging");
		strvec_push(&j->argv, "none");
		if (p && p->buildspec) {
			strvec_push(&j->argv, "--buildspec");
			strvec_push(&j->argv, p->buildspec);
		}
		if ((p && p->secrets_file) || r->pl.secrets_file) {
			strvec_push(&j->argv, "--secrets-file");
			strvec_push(&j->argv, p && p->secrets_file
						      ? p->secrets_file
						      : r->pl.secrets_file);
		}
		if (p && p->isolation) {
			strvec_push(&j->argv, "--isolation");
			strvec_push(&j->argv, p->isolation);
		}
		/* the other inputs: CODEBUILD_SRC_DIR_<artifact name> */
		for (size_t i = 0; i < a->nr_inputs; i++) {
			char *d;

			if (!strcmp(a->inputs[i].name,
				    primary ? primary : a->inputs[0].name))
				continue;
			d = artifact_dir(r, a->inputs[i].name);
			strvec_push(&j->argv, "--secondary-source");
			strvec_push_nodup(
				&j->argv,
				xasprintf("%s=%s", a->inputs[i].name, d));
			free(d);
		}
		for (size_t i = 0; p && i < p->env.nr; i++) {
			strvec_push(&j->argv, "-e");
			strvec_push(&j->argv, p->env.v[i]);
		}
		if (envj) {
			json_object *arr = json_tokener_parse(envj);

			for (size_t i = 0;
			     arr && json_object_is_type(arr, json_type_array) &&
			     i < json_object_array_length(arr);
			     i++) {
				json_object *x = json_object_array_get_idx(arr,
									   i),
					    *n, *val, *t;
				const char *type = "PLAINTEXT";

				if (!json_object_object_get_ex(x, "name", &n) ||
				    !json_object_object_get_ex(x, "value",
							       &val))
					continue;
				if (json_object_object_get_ex(x, "type", &t))
					type = json_object_get_string(t);
				/* the reference, never the value, in argv */
				strvec_push(&j->argv,
					    !strcmp(type, "SECRETS_MANAGER")
						    ? "--secret-env"
					    : !strcmp(type, "PARAMETER_STORE")
						    ? "--parameter-env"
						    : "-e");
				strvec_push_nodup(
					&j->argv,
					xasprintf("%s=%s",
						  json_object_get_string(n),
						  json_object_get_string(val)));
			}
			json_object_put(arr);
		}
		free(rep);
		free(out);
		break;
	}
	case PL_CODEDEPLOY: {
		char *did = state_uuid();

		if (a->binding < 0 || !in) {
			j->error = xstrdup("a CodeDeploy action needs a "
					   "slipway.deployment-groups binding "
					   "and an input artifact");
			free(did);
			break;
		}
		/* d- and 9 of the uuid's hex digits, as CodeDeploy's */
		upper(did);
		memmove(did + 8, did + 9, 2);
		did[9] = 0;
		j->ext_id = xasprintf("d-%s", did);
		free(did);
		strvec_push(&j->argv, self_exe());
		strvec_push(&j->argv, "deploy");
		strvec_push(&j->argv, in);
		strvec_push(&j->argv, "--group");
		strvec_push(&j->argv, r->pl.groups[a->binding].target);
		strvec_push(&j->argv, "--state-dir");
		strvec_push(&j->argv, r->state);
		strvec_push(&j->argv, "--deployment-id");
		strvec_push(&j->argv, j->ext_id);
		break;
	}
	case PL_COMMANDS:
	case PL_COMMAND: {
		char *script = NULL;

		if (a->provider == PL_COMMAND) {
			const char *c = cfg(r, j, v, nr, "Command", &keep);

			if (c)
				script = xstrdup(c);
			else if (!j->error)
				j->error = xstrdup("no configuration Command");
		} else {
			script = shell_script(a);
			for (size_t i = 0; i < a->nr_env && !j->error; i++) {
				char *val =
					resolve(r, v, nr, a->env[i].value, &e);

				if (val && a->env[i].secret)
					val = secret_value(r, j, val, &e);
				if (!val) {
					j->error = xasprintf(
						"environment variable %s: %s",
						a->env[i].name, e.msg);
					err_clear(&e);
					break;
				}
				strvec_push_nodup(&j->env,
						  xasprintf("%s=%s",
							    a->env[i].name,
							    val));
				free(val);
			}
		}
		if (j->error) {
			free(script);
			break;
		}
		if (in && fs_copy_tree(in, work, NULL, &e) < 0) {
			j->error = xstrdup(e.msg);
			err_clear(&e);
			free(script);
			break;
		}
		if (!in)
			fs_mkdir_p(work, 0755, &e);
		err_clear(&e);
		j->cwd = xstrdup(work);
		strvec_push(&j->argv, "/bin/sh");
		strvec_push(&j->argv, "-c");
		strvec_push_nodup(&j->argv, script);
		break;
	}
	case PL_MANUAL:
		break;
	}
	strvec_release(&keep);
	free(in);
	free(work);
}

/*
 * In the child of a job with secrets: run the action in a child of its
 * own whose output comes through a pipe, masked, to the log (fd), and
 * end as it ended. Returns only when that cannot be set up.
 */
static void masked(struct job *j, int fd)
{
	struct mask m = MASK_INIT;
	struct buf out = BUF_INIT;
	char buf[8192];
	int p[2], st = 0;
	pid_t pid, me = getpid();

	if (pipe2(p, O_CLOEXEC) < 0)
		_exit(111);
	pid = fork();
	if (pid < 0)
		_exit(111);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)
			_exit(1);
		dup2(p[1], 1);
		dup2(p[1], 2);
		return; /* the caller execs the action */
	}
	close(p[1]);
	mask_init(&m);
	for (size_t i = 0; i < j->secrets.nr; i++)
		mask_add(&m, j->secrets.v[i]);
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		mask_feed(&m, buf, (size_t)n, &out);
		if (out.len && write(fd, out.ptr, out.len) < 0)
			break;
		buf_setlen(&out, 0);
	}
	mask_flush(&m, &out);
	if (out.len && write(fd, out.ptr, out.len) < 0) {
		/* the log cannot be written: the status still tells */
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 111);
}

/* Whether file a was modified after file b (both exist). */
static bool newer(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	return sa.st_mtim.tv_sec != sb.st_mtim.tv_sec
		       ? sa.st_mtim.tv_sec > sb.st_mtim.tv_sec
		       : sa.st_mtim.tv_nsec > sb.st_mtim.tv_nsec;
}

/*
 * A CodeDeploy action's rollback, should its worker be lost (queue.h),
 * when its group g has auto-rollback (and is no blue/green one, whose
 * traffic only its own deployment knows): a deployment of the group's
 * last successful revision that this runner's state directory records
 * (*good, "ID DIGEST", see queue.h) by its digest, as a rollback of this
 * one (`slipway deploy <state>/artifacts/HEX --rollback-of ID` with the
 * action's other options and a new deployment id); with no such record,
 * where the state directory has the group's last successful deployment,
 * `slipway deploy --rollback --rollback-of ID ...`; else none, and *why.
 * A deployment recorded there since the record was written wins over
 * the record. Into *argv and *id.
 */
static void rollback_argv(struct run *r, struct job *j, const struct group *g,
			  const char *good, struct strvec *argv, char **id,
			  char **why)
{
	char *text = NULL, *art = NULL, *last;
	struct sw_err e = SW_ERR_INIT;
	size_t n;

	if (j->a->provider != PL_CODEDEPLOY || j->argv.nr < 3 ||
	    !g->auto_rollback || g->blue_green)
		return;
	if (fs_read_file(good, 4096, &text, &n, &e) == 0) {
		char *sp = strchr(text, ' ');

		text[strcspn(text, "\n")] = '\0';
		if (sp && blob_is_digest(sp + 1)) {
			char *rel = xasprintf("artifacts/%s", sp + 1);

			art = fs_join(r->state, rel);
			free(rel);
			if (!fs_exists(art)) {
				free(art);
				art = NULL;
			}
		}
		free(text);
	}
	last = xasprintf("%s/groups/%s/last-successful", r->state, g->id);
	/* a deployment that succeeded here since the one recorded (by
	 * hand, or by a worker sharing these files) is the group's last
	 * good one: the engine's own rollback redeploys it */
	if (art && newer(last, good)) {
		free(art);
		art = NULL;
	}
	if (!art && !fs_exists(last)) {
		*why = xasprintf("no rollback: group %s has no earlier "
				 "successful revision",
				 g->name);
		free(last);
		return;
	}
	free(last);
	*id = agent_new_deployment_id();
	strvec_push(argv, j->argv.v[0]);
	strvec_push(argv, "deploy");
	if (art)
		strvec_push(argv, art);
	else
		strvec_push(argv, "--rollback");
	strvec_push(argv, "--rollback-of");
	strvec_push(argv, j->ext_id);
	/* what follows the bundle, with the rollback's own id */
	for (size_t i = 3; i < j->argv.nr; i++)
		strvec_push(argv, i > 3 && !strcmp(j->argv.v[i - 1],
						   "--deployment-id")
					  ? *id
					  : j->argv.v[i]);
	free(art);
}

/*
 * In the child of job j, with the environment set: hand the action to a
 * worker (queue.h) and return the exit status it gave. A CodeBuild
 * action wants its project's runs-on labels.
 */
static int queue_job(struct run *r, struct job *j)
{
	const struct pl_action *a = j->a;
	struct strvec env = STRVEC_INIT;
	struct buf labels = BUF_INIT;
	struct queue_action qa = { 0 };
	char *db = store_locate(r->state);
	char *log = fs_join(j->wd, "log");
	char *ov = fs_join(j->wd, "outvars");
	char *name = xasprintf("%s/%s", j->st->name, a->name);
	struct strvec rb = STRVEC_INIT;
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *rb_id = NULL, *why = NULL, *good = NULL;
	int ret;

	if (a->provider == PL_CODEBUILD && a->binding >= 0)
		for (size_t i = 0; i < r->pl.projects[a->binding].runs_on.nr;
		     i++)
			buf_addf(&labels, "%s%s", i ? "," : "",
				 r->pl.projects[a->binding].runs_on.v[i]);
	strvec_pushf(&env, "SLIPWAY_OUTPUT_VARIABLES=%s", ov);
	strvec_pushf(&env, "CODEPIPELINE_EXECUTION_ID=%s", r->id);
	for (size_t i = 0; i < j->env.nr; i++)
		strvec_push(&env, j->env.v[i]);
	qa.db = db;
	qa.state_dir = r->state;
	qa.kind = a->provider == PL_CODEBUILD	 ? "build"
		  : a->provider == PL_CODEDEPLOY ? "deploy"
						 : "command";
	qa.labels = labels.len ? labels.ptr : NULL;
	qa.argv = j->argv.v;
	qa.cwd = j->cwd ? j->cwd : r->pl.dir;
	qa.env = env.v;
	qa.nr_env = env.nr;
	qa.log = log;
	qa.outvars = ov;
	qa.wd = j->wd;
	qa.execution_id = r->id;
	qa.action = name;
	if (a->provider == PL_CODEDEPLOY && a->binding >= 0 &&
	    group_load(r->pl.groups[a->binding].target, &g, &e) == 0) {
		good = xasprintf("%s/groups/%s/last-successful-revision",
				 r->state, g.id);
		qa.deployment_id = j->ext_id;
		qa.application = g.application;
		qa.group_name = g.name;
		qa.group_id = g.id;
		qa.good_file = good;
		rollback_argv(r, j, &g, good, &rb, &rb_id, &why);
		qa.no_rollback = why;
	}
	if (rb.nr) {
		qa.rollback_argv = rb.v;
		qa.rollback_id = rb_id;
	}
	ret = queue_run(&qa);
	strvec_release(&rb);
	group_release(&g);
	free(rb_id);
	free(why);
	free(good);
	strvec_release(&env);
	buf_release(&labels);
	free(db);
	free(log);
	free(ov);
	free(name);
	return ret;
}

/*
 * What a worker said of a job run through the queue (<wd>/job.json):
 * on success its worker, attempt and the reason of an earlier lost
 * attempt become output variables of the action; on a failure without
 * an exit status (a lost deployment) its reason is *why.
 */
static void queue_outcome(struct job *j, json_object *ov, char **why)
{
	char *path = fs_join(j->wd, "job.json");
	json_object *o = json_object_from_file(path), *x;

	free(path);
	if (!o)
		return;
	if (*why && json_object_object_get_ex(o, "outcome", &x) &&
	    strcmp(json_object_get_string(x), "Succeeded") &&
	    json_object_object_get_ex(o, "reason", &x)) {
		free(*why);
		*why = xstrdup(json_object_get_string(x));
	}
	if (!*why) {
		if (json_object_object_get_ex(o, "worker", &x))
			json_object_object_add(ov, "SLIPWAY_WORKER",
					       json_object_get(x));
		if (json_object_object_get_ex(o, "attempt", &x))
			json_object_object_add(
				ov, "SLIPWAY_JOB_ATTEMPT",
				json_object_new_string(
					json_object_get_string(x)));
		if (json_object_object_get_ex(o, "reason", &x))
			json_object_object_add(ov, "SLIPWAY_JOB_REASON",
					       json_object_get(x));
	}
	json_object_put(o);
}

static void start_job(struct run *r, struct job *j)
{
	char *log = fs_join(j->wd, "log");
	char *ov = fs_join(j->wd, "outvars");
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	pid_t parent = getpid();

	fflush(stdout);
	fflush(stderr);
	j->pid = fork();
	if (j->pid == 0) {
		/* dies with its runner, even one killed before this line */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		close(r->lockfd);
		if (r->stage_fd >= 0)
			close(r->stage_fd);
		if (slot_fd >= 0 && fcntl(slot_fd, F_SETFD, 0) < 0)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("SLIPWAY_OUTPUT_VARIABLES", ov, 1);
		setenv("CODEPIPELINE_EXECUTION_ID", r->id, 1);
		for (size_t i = 0; i < j->env.nr; i++)
			putenv(j->env.v[i]);
		if (j->cwd && chdir(j->cwd) < 0)
			_exit(127);
		if (!j->cwd && chdir(r->pl.dir) < 0)
			_exit(127);
		/* secrets stay on this machine: no job spec holds them */
		if (queue_wanted() && !j->secrets.nr)
			_exit(queue_job(r, j));
		if (j->secrets.nr && fd >= 0)
			masked(j, fd);
		execv(j->argv.v[0], j->argv.v);
		fprintf(stderr, "error: cannot run %s: %s\n", j->argv.v[0],
			strerror(errno));
		_exit(127);
	}
	if (fd >= 0)
		close(fd);
	free(log);
	free(ov);
}

/* Read the NUL-separated NAME=VALUE file into a JSON object. */
static json_object *read_outvars(const char *path, json_object *o)
{
	char *data = NULL;
	size_t len = 0;
	struct sw_err e = SW_ERR_INIT;

	if (fs_read_file(path, 1 << 20, &data, &len, &e) < 0) {
		err_clear(&e);
		return o;
	}
	for (size_t off = 0; off < len;) {
		char *kv = data + off, *eq = strchr(kv, '=');
		size_t n = strnlen(kv, len - off);

		if (off + n >= len)
			break;
		if (eq && eq < kv + n) {
			*eq = 0;
			json_object_object_add(o, kv,
					       json_object_new_string(eq + 1));
		}
		off += n + 1;
	}
	free(data);
	return o;
}

/* A git source's variables that come from its configuration. */
static void source_variables(const struct pl_action *a, json_object *ov)
{
	static const struct {
		enum pl_provider p;
		const char *var, *key;
	} map[] = {
		{ PL_CODECOMMIT, "RepositoryName", "RepositoryName" },
		{ PL_CODESTAR, "FullRepositoryName", "FullRepositoryId" },
		{ PL_CODESTAR, "ConnectionArn", "ConnectionArn" },
		{ PL_GITHUB, "RepositoryName", "Repo" },
	};

	if (!json_object_object_get_ex(ov, "CommitId", NULL))
		return;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = pl_action_config(a, map[i].key);

		if (map[i].p == a->provider && v)
			json_object_object_add(ov, map[i].var,
					       json_object_new_string(v));
	}
}

/*
 * A Commands action's output artifact name: the files of work that its
 * `files` patterns take (CodeBuild's artifact globs, glob.h), linked
 * into a directory of their own, *dir. None taken is an error.
 */
static int select_files(struct job *j, const char *name, const char *work,
			char **dir, struct sw_err *e)
{
	struct strvec files = STRVEC_INIT;
	char *base = xasprintf("out.%s", name);
	char *sel = fs_join(j->wd, base);
	int ret = -1;

	free(base);
	for (size_t i = 0; i < j->a->files.nr; i++)
		if (glob_expand(work, j->a->files.v[i], &files, e) < 0) {
			err_prefix(e, "output artifact '%s'", name);
			goto out;
		}
	if (!files.nr) {
		err_set(e, ERR_SPEC,
			"output artifact '%s': no file matches its files",
			name);
		goto out;
	}
	if (fs_remove_tree(sel, e) < 0)
		goto out;
	for (size_t i = 0; i < files.nr; i++) {
		char *from = fs_join(work, files.v[i]);
		char *to = fs_join(sel, files.v[i]);
		char *slash = strrchr(to, '/'), t[4096];
		ssize_t n;
		int rc = 0;

		*slash = 0;
		if (fs_mkdir_p(to, 0755, e) < 0)
			rc = -1;
		*slash = '/';
		if (!rc && (n = readlink(from, t, sizeof(t) - 1)) >= 0) {
			t[n] = 0;
			if (symlink(t, to) < 0 && errno != EEXIST)
				rc = err_sys(e, "%s", to);
		} else if (!rc && link(from, to) < 0 && errno != EEXIST) {
			rc = err_sys(e, "%s", to);
		}
		free(from);
		free(to);
		if (rc < 0)
			goto out;
	}
	*dir = sel;
	sel = NULL;
	ret = 0;
out:
	free(sel);
	strvec_release(&files);
	return ret;
}

/* After the child of j ended well: output variables and artifacts. */
static int collect(struct run *r, struct job *j, json_object *ov,
		   struct sw_err *e)
{
	const struct pl_action *a = j->a;
	char *work = fs_join(j->wd, "work");
	int ret = -1;

	if (a->provider == PL_CODEBUILD) {
		char *rep = fs_join(j->wd, "report.json");
		json_object *o = json_object_from_file(rep), *x;

		free(rep);
		if (!o) {
			err_set(e, ERR_SYSTEM, "the build left no report");
			goto out;
		}
		if (json_object_object_get_ex(o, "id", &x)) {
			free(j->ext_id);
			j->ext_id = xstrdup(json_object_get_string(x));
		}
		if (json_object_object_get_ex(o, "exportedEnvironmentVariables",
					      &x))
			for (size_t i = 0; i < json_object_array_length(x);
			     i++) {
				json_object *kv = json_object_array_get_idx(x,
									    i),
					    *n, *val;

				if (json_object_object_get_ex(kv, "name", &n) &&
				    json_object_object_get_ex(kv, "value",
							      &val))
					json_object_object_add(
						ov, json_object_get_string(n),
						json_object_get(val));
			}
		for (size_t i = 0; i < a->outputs.nr; i++) {
			const char *loc = NULL;
			json_object *art, *l;

			if (i == 0 &&
			    json_object_object_get_ex(o, "artifacts", &art) &&
			    json_object_object_get_ex(art, "location", &l))
				loc = json_object_get_string(l);
			if (i > 0 && json_object_object_get_ex(
					     o, "secondaryArtifacts", &art))
				for (size_t k = 0;
				     k < json_object_array_length(art); k++) {
					json_object
						*s = json_object_array_get_idx(
							art, k),
						*id;
					if (json_object_object_get_ex(
						    s, "artifactIdentifier",
						    &id) &&
					    !strcmp(json_object_get_string(id),
						    a->outputs.v[i]) &&
					    json_object_object_get_ex(
						    s, "location", &l))
						loc = json_object_get_string(l);
				}
			if (loc && !strncmp(loc, "file://", 7))
				loc += 7;
			if (!loc || !fs_is_dir(loc)) {
				err_set(e, ERR_SPEC,
					"the build made no artifact for "
					"output '%s'",
					a->outputs.v[i]);
				json_object_put(o);
				goto out;
			}
			if (put_artifact(r, a->outputs.v[i], loc, e) < 0) {
				json_object_put(o);
				goto out;
			}
		}
		json_object_put(o);
	} else {
		char *ovp = fs_join(j->wd, "outvars");

		read_outvars(ovp, ov);
		free(ovp);
		source_variables(a, ov);
		for (size_t i = 0; i < a->outputs.nr; i++) {
			char *sel = NULL;
			int rc;

			if (!fs_is_dir(work)) {
				err_set(e, ERR_SPEC, "no output for '%s'",
					a->outputs.v[i]);
				goto out;
			}
			if (a->files.nr &&
			    select_files(j, a->outputs.v[i], work, &sel, e) < 0)
				goto out;
			rc = put_artifact(r, a->outputs.v[i], sel ? sel : work,
					  e);
			free(sel);
			if (rc < 0)
				goto out;
		}
	}
	ret = 0;
out:
	free(work);
	return ret;
}

static int put_action(struct run *r, struct job *j, long attempt,
		      const char *status, int64_t end, json_object *ov,
		      const char *error, struct sw_err *e)
{
	struct store_action x = {
		.execution_id = r->id,
		.stage = j->st->name,
		.action = j->a->name,
		.attempt = attempt,
		.status = (char *)status,
		.start_ms = j->start,
		.end_ms = end,
		.external_id = j->ext_id,
		.output_variables = ov ? (char *)json_object_to_json_string_ext(
						 ov, JSON_C_TO_STRING_PLAIN)
				       : NULL,
		.error = (char *)error,
	};

	return store_put_action(r->s, &x, e);
}

/* ---- the state machine ------------------------------------------------- */

static int finish(struct run *r, const struct pl_stage *st, bool ok,
		  const char *why)
{
	struct sw_err e = SW_ERR_INIT;

	if (st) {
		if (put_stage(r, st->name, ok ? "Succeeded" : "Failed", 0,
			      now_ms(), &e) < 0)
			return exit_of(&e);
		event(r, 1, st, NULL, ok ? "SUCCEEDED" : "FAILED", NULL);
	}
	if (set_execution(r, ok ? "Succeeded" : "Failed", why, &e) < 0)
		return exit_of(&e);
	event(r, 0, NULL, NULL, ok ? "SUCCEEDED" : "FAILED", why);
	fprintf(stderr, "%s %s\n", r->id, ok ? "Succeeded" : "Failed");
	return ok ? 0 : 1;
}

/* Fail approvals that expired. */
static int expire(struct run *r, struct sw_err *e)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_approval *v = NULL;
	size_t nr = 0;
	int64_t now = now_ms();

	q.execution_id = r->id;
	q.status = "InProgress";
	if (store_list_approvals(r->s, &q, &v, &nr, e) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++) {
		if (!v[i].expires_ms || v[i].expires_ms > now)
			continue;
		for (size_t s = 0; s < r->pl.nr_stages; s++)
			for (size_t a = 0; a < r->pl.stages[s].nr_actions;
			     a++) {
				struct job j = { 0 };
				struct store_action *av = NULL, *x;
				size_t anr = 0;
				struct store_query aq = STORE_QUERY_INIT;

				j.st = &r->pl.stages[s];
				j.a = &j.st->actions[a];
				if (strcmp(j.st->name, v[i].stage) ||
				    strcmp(j.a->name, v[i].action))
					continue;
				aq.execution_id = r->id;
				if (store_list_actions(r->s, &aq, &av, &anr,
						       e) < 0)
					goto fail;
				x = latest(av, anr, j.st->name, j.a->name);
				j.start = x ? x->start_ms : now;
				put_action(r, &j, x ? x->attempt : 1, "Failed",
					   now, NULL, "the approval expired",
					   e);
				store_actions_free(av, anr);
				event(r, 2, j.st, j.a, "FAILED",
				      "the approval expired");
			}
		free(v[i].status);
		v[i].status = xstrdup("Expired");
		v[i].decided_ms = now;
		if (store_put_approval(r->s, &v[i], e) < 0)
			goto fail;
	}
	store_approvals_free(v, nr);
	return 0;
fail:
	store_approvals_free(v, nr);
	return -1;
}

static void job_release(struct job *j)
{
	free(j->wd);
	free(j->cwd);
	free(j->ext_id);
	free(j->error);
	strvec_release(&j->argv);
	strvec_release(&j->env);
	strvec_release(&j->secrets);
}

/* What the reviewer of an approval is asked to look at. */
static void approval_details(struct run *r, struct job *j,
			     struct store_action *v, size_t nr)
{
	static const char *const keys[] = { "CustomData",
					    "ExternalEntityLink" };
	struct strvec keep = STRVEC_INIT;

	for (size_t i = 0; i < 2; i++) {
		const char *val = cfg(r, j, v, nr, keys[i], &keep);

		if (val)
			fprintf(stderr, "    %s: %s\n", keys[i], val);
	}
	free(j->error); /* a reference that cannot be answered is shown */
	j->error = NULL;
	strvec_release(&keep);
}

/* The last lines of a failed action's log, indented, on stderr. */
static void log_tail(const char *wd)
{
	char *p = fs_join(wd, "log"), *data = NULL;
	size_t len = 0, start, lines = 0;
	struct sw_err e = SW_ERR_INIT;

	if (fs_read_file(p, 1 << 20, &data, &len, &e) == 0 && len) {
		start = len;
		if (data[start - 1] == '\n')
			start--;
		while (start > 0 && lines < 5)
			if (data[--start] == '\n')
				lines++;
		if (data[start] == '\n')
			start++;
		for (char *l = data + start; l < data + len;) {
			char *nl = memchr(l, '\n', (size_t)(data + len - l));
			int n = nl ? (int)(nl - l) : (int)(data + len - l);

			fprintf(stderr, "    | %.*s\n", n, l);
			l += n + 1;
		}
	}
	err_clear(&e);
	free(data);
	free(p);
}

/* Run a group's actions that have not run; 0 ok, 1 failed, 5 waiting. */
static int run_group(struct run *r, const struct pl_stage *st, int g,
		     struct sw_err *e)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *v = NULL;
	struct job *jobs = xcalloc(st->nr_actions, sizeof(*jobs));
	size_t nr = 0, nj = 0, tnr = 0, cnr = 0;
	struct store_action *tv = NULL, *cv = NULL;
	bool failed = false, waiting = false, *fin = NULL;
	int ret = -1;

	q.execution_id = r->id;
	if (store_list_actions(r->s, &q, &v, &nr, e) < 0)
		goto out;
	/* a rollback resolves the other stages' variables as its target */
	cv = xcalloc(nr + 1, sizeof(*cv));
	if (nr)
		memcpy(cv, v, nr * sizeof(*v));
	cnr = nr;
	if (r->target) {
		q.execution_id = r->target;
		if (store_list_actions(r->s, &q, &tv, &tnr, e) < 0)
			goto out;
		cv = xrealloc(cv, (nr + tnr + 1) * sizeof(*cv));
		for (size_t i = 0; i < tnr; i++)
			if (strcmp(tv[i].stage, st->name))
				cv[cnr++] = tv[i];
	}
	for (size_t i = 0; i < st->nr_actions; i++) {
		const struct pl_action *a = &st->actions[i];
		struct store_action *x;
		struct job *j;
		char *base;
		bool again;

		if (a->group != g)
			continue;
		x = latest(v, nr, st->name, a->name);
		again = x && r->retry == st &&
			strcmp(x->status, "InProgress") &&
			(r->retry_all || strcmp(x->status, "Succeeded"));
		if (x && !again && !strcmp(x->status, "Succeeded"))
			continue;
		if (x && !again && strcmp(x->status, "InProgress")) {
			failed = true;
			continue;
		}
		if (x && !again) { /* an approval waiting */
			waiting = true;
			continue;
		}
		/* draining: what has not started stays for the resume */
		if (a->provider != PL_MANUAL && take_slot(r, st, a) < 0)
			break;
		j = &jobs[nj++];
		j->attempt = x ? x->attempt + 1 : 1;
		j->st = st;
		j->a = a;
		j->argv = (struct strvec)STRVEC_INIT;
		j->env = (struct strvec)STRVEC_INIT;
		j->secrets = (struct strvec)STRVEC_INIT;
		base = j->attempt > 1
			       ? xasprintf("actions/%s.%s.%ld", st->name,
					   a->name, j->attempt)
			       : xasprintf("actions/%s.%s", st->name, a->name);
		j->wd = fs_join(r->dir, base);
		free(base);
		fs_remove_tree(j->wd, e);
		err_clear(e);
		if (fs_mkdir_p(j->wd, 0755, e) < 0)
			goto out;
		j->start = now_ms();
		if (a->provider != PL_MANUAL)
			prepare(r, j, cv, cnr);
		if (put_action(r, j, j->attempt, "InProgress", 0, NULL, NULL,
			       e) < 0)
			goto out;
		event(r, 2, st, a, "STARTED", NULL);
		fprintf(stderr, "%s/%s: started\n", st->name, a->name);
		if (a->provider == PL_MANUAL) {
			struct store_approval ap = {
				.execution_id = r->id,
				.stage = st->name,
				.action = a->name,
				.status = (char *)"InProgress",
				.created_ms = j->start,
				.expires_ms =
					j->start +
					(a->timeout_minutes
						 ? a->timeout_minutes * 60000LL
						 : APPROVAL_DEFAULT_MS),
			};

			if (store_put_approval(r->s, &ap, e) < 0)
				goto out;
			refresh_report(r); /* the page shows it waiting */
			fprintf(stderr,
				"%s/%s: waiting for approval: slipway pipeline "
				"approve %s %s/%s\n",
				st->name, a->name, r->id, st->name, a->name);
			approval_details(r, j, cv, cnr);
			waiting = true;
			j->pid = 0;
			continue;
		}
		if (!j->error)
			start_job(r, j);
		release_slot();
	}
	/* each as it ends: those that never started first */
	fin = xcalloc(nj ? nj : 1, sizeof(*fin));
	for (size_t k = 0; k < nj; k++) {
		struct job *j = NULL;
		json_object *ov;
		char *why = NULL;
		int status = 0;
		int64_t end;

		for (size_t i = 0; i < nj && !j; i++)
			if (!fin[i] && jobs[i].pid <= 0) {
				fin[i] = true;
				j = &jobs[i];
			}
		while (!j) {
			pid_t p;

			/* also when the signal came before this wait */
			if (abandon_now)
				for (size_t i = 0; i < nj; i++)
					if (!fin[i] && jobs[i].pid > 0)
						kill(jobs[i].pid, SIGKILL);
			p = waitpid(-1, &status, 0);
			if (p < 0 && errno == EINTR)
				continue;
			if (p < 0) {
				err_sys(e, "waitpid");
				goto out;
			}
			for (size_t i = 0; i < nj && !j; i++)
				if (!fin[i] && jobs[i].pid == p) {
					fin[i] = true;
					j = &jobs[i];
				}
		}
		if (j->a->provider == PL_MANUAL)
			continue;
		end = now_ms();
		ov = json_object_new_object();
		if (j->error)
			why = xstrdup(j->error);
		else if (j->pid < 0)
			why = xstrdup("cannot start a process");
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			why = WIFEXITED(status)
				      ? xasprintf("exit status %d (log: "
						  "%s/log)",
						  WEXITSTATUS(status), j->wd)
				      : xasprintf("killed by signal %d (log: "
						  "%s/log)",
						  WTERMSIG(status), j->wd);
		else if (collect(r, j, ov, e) < 0) {
			why = xstrdup(e->msg);
			err_clear(e);
		}
		queue_outcome(j, ov, &why);
		if (why && abandon_now) {
			free(why);
			why = xstrdup("abandoned: the execution was stopped");
		}
		if (put_action(r, j, j->attempt,
			       why ? (abandon_now ? "Abandoned" : "Failed")
				   : "Succeeded",
			       end, why ? NULL : ov, why, e) < 0) {
			json_object_put(ov);
			free(why);
			goto out;
		}
		event(r, 2, st, j->a,
		      why ? (abandon_now ? "ABANDONED" : "FAILED")
			  : "SUCCEEDED",
		      why);
		fprintf(stderr, "%s/%s: %s (%lld ms)%s%s\n", st->name,
			j->a->name,
			why ? (abandon_now ? "Abandoned" : "Failed")
			    : "Succeeded",
			(long long)(end - j->start), why ? ": " : "",
			why ? why : "");
		if (why) {
			failed = true;
			log_tail(j->wd);
		}
		free(why);
		json_object_put(ov);
	}
	ret = failed ? 1 : waiting ? EXEC_WAITING : 0;
out:
	free(fin);
	for (size_t i = 0; i < nj; i++)
		job_release(&jobs[i]);
	free(jobs);
	free(cv);
	store_actions_free(v, nr);
	store_actions_free(tv, tnr);
	return ret;
}

/* End an execution that was asked to stop, at stage st. */
static int stopped(struct run *r, const struct pl_stage *st, char *reason)
{
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(r->dir, "stop");
	int ret = 1;

	if ((st && put_stage(r, st->name, "Stopped", 0, now_ms(), &e) < 0) ||
	    set_execution(r, "Stopped", reason, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	if (st)
		event(r, 1, st, NULL, "STOPPED", NULL);
	event(r, 0, NULL, NULL, "STOPPED", reason);
	fprintf(stderr, "%s Stopped: %s\n", r->id, reason);
	unlink(p);
out:
	free(p);
	free(reason);
	return ret;
}

static int advance(struct run *r);
static void rollback(struct run *r, const struct pl_stage *st);

/*
 * onFailure RETRY: a failed stage is retried once by itself, as
 * CodePipeline's automatic stage retry (autoStageRetryAttempt 1 at
 * most), in the stage's retryMode. Returns 1 when it retries, 0 when
 * the stage was retried already, -1 on error.
 */
static int auto_retry(struct run *r, const struct pl_stage *st,
		      struct sw_err *e)
{
	bool all = st->retry_mode == PL_ALL_ACTIONS;
	long autos, manuals;
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *v = NULL;
	size_t nr = 0;
	bool decided = false;

	if (stage_retries(r, st->name, &autos, &manuals, e) < 0)
		return -1;
	if (autos >= 1)
		return 0;
	/* a person's rejection (or an approval let expire) is no failure
	 * to retry: it would only ask again */
	q.execution_id = r->id;
	if (store_list_actions(r->s, &q, &v, &nr, e) < 0)
		return -1;
	for (size_t i = 0; i < st->nr_actions; i++) {
		struct store_action *x =
			latest(v, nr, st->name, st->actions[i].name);

		if (st->actions[i].provider == PL_MANUAL && x &&
		    !strcmp(x->status, "Failed"))
			decided = true;
	}
	store_actions_free(v, nr);
	if (decided) {
		fprintf(stderr,
			"%s: stage %s failed at an approval: not retried\n",
			r->id, st->name);
		return 0;
	}
	if (put_stage(r, st->name, "Failed", 0, now_ms(), e) < 0)
		return -1;
	event(r, 1, st, NULL, "FAILED", NULL);
	fprintf(stderr, "%s: stage %s failed: retrying it (%s, automatic)\n",
		r->id, st->name, all ? "all actions" : "failed actions");
	if (put_stage(r, st->name, "InProgress", 0, 0, e) < 0)
		return -1;
	retry_event(r, st, AUTO_RETRY, all);
	r->retry = st;
	r->retry_all = all;
	return 1;
}

/* Advance the execution as far as it goes. */
static int advance(struct run *r)
{
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_stage *sv = NULL;
	size_t snr = 0;
	int ret = 0;
	char *why;

	if (expire(r, &e) < 0)
		return exit_of(&e);
	q.execution_id = r->id;
	for (size_t s = 0; s < r->pl.nr_stages; s++) {
		const struct pl_stage *st = &r->pl.stages[s];
		const struct store_stage *got = NULL;

		if (r->only && st != r->only)
			continue;
		if (store_list_stages(r->s, &q, &sv, &snr, &e) < 0)
			return exit_of(&e);
		for (size_t i = 0; i < snr; i++)
			if (!strcmp(sv[i].stage, st->name))
				got = &sv[i];
		if (got && !strcmp(got->status, "Succeeded")) {
			store_stages_free(sv, snr);
			continue;
		}
		if (drain_now) {
			store_stages_free(sv, snr);
			return drained(r);
		}
		ret = enter_stage(r, st, &e);
		if (ret < 0) {
			store_stages_free(sv, snr);
			return exit_of(&e);
		}
		if (ret == 2) {
			store_stages_free(sv, snr);
			return drained(r);
		}
		if (ret == 1) {
			store_stages_free(sv, snr);
			if (set_execution(r, "Superseded",
					  "a newer execution "
					  "came to the stage",
					  &e) < 0)
				return exit_of(&e);
			event(r, 0, NULL, NULL, "SUPERSEDED", NULL);
			fprintf(stderr, "%s Superseded\n", r->id);
			return 1;
		}
		if (!got) {
			if (put_stage(r, st->name, "InProgress", now_ms(), 0,
				      &e) < 0) {
				store_stages_free(sv, snr);
				return exit_of(&e);
			}
			event(r, 1, st, NULL, "STARTED", NULL);
		}
		store_stages_free(sv, snr);
		for (int g = 0; g < st->nr_groups; g++) {
			if ((why = stop_requested(r)))
				return stopped(r, st, why);
			if (drain_now)
				return drained(r);
			ret = run_group(r, st, g, &e);
			if (ret < 0)
				return exit_of(&e);
			if (ret != EXEC_WAITING && (why = stop_requested(r)))
				return stopped(r, st, why);
			if (ret == 1 && st->on_failure == PL_RETRY) {
				int rc = auto_retry(r, st, &e);

				if (rc < 0)
					return exit_of(&e);
				if (rc == 1) {
					g = -1; /* again from its first group */
					continue;
				}
			}
			if (ret == 1) {
				ret = finish(r, st, false, "an action failed");
				if (st->on_failure == PL_ROLLBACK && !r->only &&
				    r->pl.mode != PL_PARALLEL) {
					leave_stage(r);
					rollback(r, st);
				}
				return ret;
			}
			if (ret == EXEC_WAITING)
				return EXEC_WAITING;
			/* actions of the group may not have started */
			if (drain_now)
				return drained(r);
		}
		if (put_stage(r, st->name, "Succeeded", 0, now_ms(), &e) < 0)
			return exit_of(&e);
		event(r, 1, st, NULL, "SUCCEEDED", NULL);
		leave_stage(r);
	}
	return finish(r, NULL, true, NULL);
}

/* ---- opening ------------------------------------------------------------ */

static void run_release(struct run *r)
{
	pipeline_release(&r->pl);
	store_close(r->s);
	free(r->state);
	free(r->id);
	free(r->dir);
	if (r->lockfd >= 0)
		close(r->lockfd);
	leave_stage(r);
	json_object_put(r->vars);
	free(r->revision);
	free(r->target);
}

static int open_state(struct run *r, const char *state_dir, struct sw_err *e)
{
	struct state st = STATE_INIT;
	char *db;
	int ret;

	r->lockfd = -1;
	r->stage_fd = -1;
	if (state_open(&st, state_dir, e) < 0)
		return -1;
	r->state = xstrdup(st.dir);
	state_release(&st);
	db = store_locate(r->state);
	ret = store_open(&r->s, db, e);
	free(db);
	return ret;
}

static int take_lock(struct run *r, struct sw_err *e)
{
	char *p = fs_join(r->dir, "lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		err_sys(e, "%s", p);
		free(p);
		return -1;
	}
	free(p);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		if (errno == EWOULDBLOCK)
			return err_set(e, ERR_FAILED,
				       "execution %s is running in another "
				       "process",
				       r->id);
		return err_sys(e, "cannot lock execution %s", r->id);
	}
	r->lockfd = fd;
	/* the runner's pid, for pipeline stop --abandon */
	catch_abandon();
	exec_catch_drain();
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	return 0;
}

/* An execution InProgress whose runner is gone: fail what was running. */
static int reconcile(struct run *r, struct sw_err *e)
{
	struct store_execution x = { 0 };
	struct store_query q = STORE_QUERY_INIT;
	struct store_action *v = NULL;
	struct store_approval *ap = NULL;
	size_t nr = 0, anr = 0;
	char *p;
	int held, ret = -1;
	bool any = false;

	if (store_get_execution(r->s, r->id, &x, e) != 0)
		return -1;
	p = fs_join(r->dir, "lock");
	held = fs_lock_held(p);
	free(p);
	if ((strcmp(x.status, "InProgress") && strcmp(x.status, "Stopping")) ||
	    held == 1) {
		store_execution_release(&x);
		return 0;
	}
	store_execution_release(&x);
	q.execution_id = r->id;
	if (store_list_actions(r->s, &q, &v, &nr, e) < 0)
		return -1;
	q.status = "InProgress";
	if (store_list_approvals(r->s, &q, &ap, &anr, e) < 0)
		goto out;
	for (size_t s = 0; s < r->pl.nr_stages; s++) {
		const struct pl_stage *st = &r->pl.stages[s];
		bool stage_failed = false;

		for (size_t a = 0; a < st->nr_actions; a++) {
			struct store_action *l =
				latest(v, nr, st->name, st->actions[a].name);
			bool approval = false;
			struct job j = { 0 };

			if (!l || strcmp(l->status, "InProgress"))
				continue;
			for (size_t i = 0; i < anr; i++)
				if (!strcmp(ap[i].stage, st->name) &&
				    !strcmp(ap[i].action, l->action))
					approval = true;
			if (approval)
				continue;
			j.st = st;
			j.a = &st->actions[a];
			j.start = l->start_ms;
			if (put_action(r, &j, l->attempt, "Failed", now_ms(),
				       NULL, EXEC_KILLED_REASON, e) < 0)
				goto out;
			event(r, 2, st, j.a, "FAILED", EXEC_KILLED_REASON);
			stage_failed = any = true;
		}
		if (stage_failed) {
			if (put_stage(r, st->name, "Failed", 0, now_ms(), e) <
			    0)
				goto out;
			event(r, 1, st, NULL, "FAILED", NULL);
		}
	}
	if (any) {
		if (set_execution(r, "Failed", EXEC_KILLED_REASON, e) < 0)
			goto out;
		event(r, 0, NULL, NULL, "FAILED", EXEC_KILLED_REASON);
	}
	ret = 0;
out:
	store_actions_free(v, nr);
	store_approvals_free(ap, anr);
	return ret;
}

/*
 * The stages and actions of an execution as its record has them, for
 * one whose pipeline file cannot be read any more: enough to show it.
 */
static int record_pipeline(struct run *r, const char *name, struct sw_err *e)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_stage *sv = NULL;
	struct store_action *av = NULL;
	size_t snr = 0, anr = 0;
	int ret = -1;

	q.execution_id = r->id;
	if (store_list_stages(r->s, &q, &sv, &snr, e) < 0 ||
	    store_list_actions(r->s, &q, &av, &anr, e) < 0)
		goto out;
	r->pl.name = xstrdup(name);
	r->pl.dir = xstrdup("/");
	r->pl.stages = xcalloc(snr ? snr : 1, sizeof(*r->pl.stages));
	for (size_t i = 0; i < snr; i++) {
		struct pl_stage *st = &r->pl.stages[r->pl.nr_stages++];

		st->name = xstrdup(sv[i].stage);
		st->nr_groups = 1;
		st->actions = xcalloc(anr ? anr : 1, sizeof(*st->actions));
		for (size_t k = 0; k < anr; k++) {
			struct pl_action *a;
			bool seen = false;

			if (strcmp(av[k].stage, st->name))
				continue;
			for (size_t m = 0; m < st->nr_actions; m++)
				seen |= !strcmp(st->actions[m].name,
						av[k].action);
			if (seen)
				continue;
			a = &st->actions[st->nr_actions++];
			a->name = xstrdup(av[k].action);
			a->category = PL_INVOKE;
			a->provider = PL_COMMAND;
			a->owner = xstrdup("");
			a->provider_name = xstrdup("");
			a->version = xstrdup("");
			a->binding = -1;
			strvec_init(&a->outputs);
			strvec_init(&a->files);
			strvec_init(&a->commands);
			strvec_init(&a->output_variables);
		}
	}
	ret = 0;
out:
	store_stages_free(sv, snr);
	store_actions_free(av, anr);
	return ret;
}

/* Open an existing execution: its record, its pipeline file (lenient:
 * when that cannot be read, its record, with a warning). */
static int open_run_ex(struct run *r, const char *state_dir, const char *id,
		       bool lenient, struct sw_err *e)
{
	struct store_execution x = { 0 };
	int rc;

	if (open_state(r, state_dir, e) < 0)
		return -1;
	rc = store_get_execution(r->s, id, &x, e);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return err_set(e, ERR_USAGE, "no execution '%s'", id);
	r->id = xstrdup(id);
	r->dir = xasprintf("%s/executions/%s", r->state, id);
	r->vars = x.variables ? json_tokener_parse(x.variables) : NULL;
	if (!r->vars)
		r->vars = json_object_new_object();
	if (!x.pipeline_file || pipeline_load(x.pipeline_file, &r->pl, e) < 0) {
		if (!x.pipeline_file)
			err_set(e, ERR_SPEC,
				"execution %s has no pipeline file", id);
		if (!lenient) {
			store_execution_release(&x);
			return -1;
		}
		fprintf(stderr, "warning: %s; showing the record only\n",
			e->msg);
		err_clear(e);
		r->pl = (struct pipeline)PIPELINE_INIT;
		if (record_pipeline(r, x.pipeline, e) < 0) {
			store_execution_release(&x);
			return -1;
		}
	}
	store_execution_release(&x);
	return reconcile(r, e);
}

static int open_run(struct run *r, const char *state_dir, const char *id,
		    struct sw_err *e)
{
	return open_run_ex(r, state_dir, id, false, e);
}

/* The newest other execution that succeeded in stage st and is no
 * rollback, or NULL. */
static char *rollback_target(struct run *r, const struct pl_stage *st,
			     struct sw_err *e)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_execution *v = NULL;
	size_t nr = 0;
	char *found = NULL;

	q.name = r->pl.name;
	if (store_list_executions(r->s, &q, &v, &nr, e) < 0)
		return NULL;
	for (size_t i = 0; i < nr && !found; i++) {
		struct store_query sq = STORE_QUERY_INIT;
		struct store_stage *sv = NULL;
		size_t snr = 0;

		if (!strcmp(v[i].id, r->id) ||
		    (v[i].trigger_type &&
		     !strcmp(v[i].trigger_type, "AutomatedRollback")))
			continue;
		sq.execution_id = v[i].id;
		if (store_list_stages(r->s, &sq, &sv, &snr, e) < 0)
			break;
		for (size_t k = 0; k < snr; k++)
			if (!strcmp(sv[k].stage, st->name) &&
			    !strcmp(sv[k].status, "Succeeded"))
				found = xstrdup(v[i].id);
		store_stages_free(sv, snr);
	}
	store_executions_free(v, nr);
	return found;
}

/*
 * onFailure ROLLBACK: a new execution runs stage st again with the
 * artifacts and variables of the last execution that succeeded there.
 */
static void rollback(struct run *r, const struct pl_stage *st)
{
	struct run r2 = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct store_execution t = { 0 }, x = { 0 };
	struct sw_err e = SW_ERR_INIT;
	char *target = rollback_target(r, st, &e), *uid = NULL;
	char *from = NULL, *to = NULL;
	DIR *d = NULL;
	struct dirent *de;

	if (!target) {
		if (e.code)
			fail_msg(&e);
		else
			fprintf(stderr,
				"%s: no earlier execution succeeded in stage "
				"%s: nothing to roll back to\n",
				r->id, st->name);
		return;
	}
	if (open_state(&r2, r->state, &e) < 0 ||
	    pipeline_load(r->pl.file, &r2.pl, &e) < 0 ||
	    store_get_execution(r->s, target, &t, &e) != 0)
		goto fail;
	r2.only = &r2.pl.stages[st - r->pl.stages];
	r2.target = target;
	target = NULL;
	r2.vars = t.variables ? json_tokener_parse(t.variables) : NULL;
	if (!r2.vars)
		r2.vars = json_object_new_object();
	uid = state_uuid();
	r2.id = xasprintf("pe-%s", uid);
	r2.dir = xasprintf("%s/executions/%s", r2.state, r2.id);
	from = xasprintf("%s/executions/%s/artifacts", r2.state, r2.target);
	to = fs_join(r2.dir, "artifacts");
	if (fs_mkdir_p(to, 0755, &e) < 0 || take_lock(&r2, &e) < 0)
		goto fail;
	/* the target's artifacts, by the same content addresses */
	d = opendir(from);
	while (d && (de = readdir(d))) {
		char buf[4096], *src, *dst;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		src = fs_join(from, de->d_name);
		dst = fs_join(to, de->d_name);
		n = readlink(src, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			if (symlink(buf, dst) < 0)
				err_sys(&e, "%s", dst);
		}
		free(src);
		free(dst);
		if (e.code)
			goto fail;
	}
	x.id = r2.id;
	x.pipeline = r2.pl.name;
	x.pipeline_file = t.pipeline_file;
	x.status = (char *)"InProgress";
	x.trigger_type = (char *)"AutomatedRollback";
	x.trigger_detail = r2.target;
	x.variables = t.variables;
	x.start_ms = now_ms();
	if (store_put_execution(r2.s, &x, &e) < 0)
		goto fail;
	fprintf(stderr, "%s: rolling back stage %s to execution %s as %s\n",
		r->id, st->name, r2.target, r2.id);
	event(&r2, 0, NULL, NULL, "STARTED", NULL);
	advance(&r2);
	goto out;
fail:
	fprintf(stderr, "%s: cannot roll back stage %s: %s\n", r->id, st->name,
		e.msg);
out:
	if (d)
		closedir(d);
	free(target);
	free(uid);
	free(from);
	free(to);
	store_execution_release(&t);
	run_release(&r2);
}

/* ---- commands ----------------------------------------------------------- */

/*
 * start --no-wait: the execution goes on in a process detached from the
 * caller (its own session, stdin /dev/null, stdout and stderr appended
 * to <pe-dir>/runner.log) that inherits the execution's lock. Returns
 * -1 in that process, which runs the execution; in the caller, 0 once
 * it is on its way, 111 when it cannot be.
 */
static int detach(struct run *r)
{
	struct sw_err e = SW_ERR_INIT;
	char *log = fs_join(r->dir, "runner.log"), *db;
	pid_t pid;
	int st = 0, fd;

	/* no SQLite connection crosses a fork */
	store_close(r->s);
	r->s = NULL;
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "slipway: fork: %s\n", strerror(errno));
		free(log);
		return 111;
	}
	if (pid > 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "slipway: %s: cannot run detached\n",
				r->id);
			free(log);
			return 111;
		}
		fprintf(stderr, "%s: running detached; its output goes to %s\n",
			r->id, log);
		free(log);
		return 0;
	}
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	free(log);
	/* none of the caller's other files (a pipe it reads to its end) */
	if (r->lockfd != 3) {
		if (dup3(r->lockfd, 3, O_CLOEXEC) != 3)
			_exit(111);
		close(r->lockfd);
		r->lockfd = 3;
	}
	closefrom(4);
	/* the lock is ours now: say so for pipeline stop --abandon */
	if (ftruncate(r->lockfd, 0) == 0 && lseek(r->lockfd, 0, SEEK_SET) == 0)
		dprintf(r->lockfd, "%d\n", (int)getpid());
	db = store_locate(r->state);
	if (store_open(&r->s, db, &e) < 0) {
		fail_msg(&e);
		_exit(111);
	}
	free(db);
	return -1;
}

int exec_start(const char *file, const struct exec_opts *o)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 };
	char *uid = NULL, *abs = NULL;
	int ret;

	if (pipeline_load(file, &r.pl, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	for (size_t i = 0; i < r.pl.warnings.nr; i++)
		fprintf(stderr, "warning: %s\n", r.pl.warnings.v[i]);
	r.vars = json_object_new_object();
	for (size_t i = 0; i < r.pl.nr_variables; i++)
		if (r.pl.variables[i].default_value)
			json_object_object_add(
				r.vars, r.pl.variables[i].name,
				json_object_new_string(
					r.pl.variables[i].default_value));
	for (size_t i = 0; i < o->vars.nr; i++) {
		const char *kv = o->vars.v[i], *eq = strchr(kv, '=');
		bool known = false;
		char *n;

		if (!eq || eq == kv) {
			fprintf(stderr,
				"error: -v wants NAME=VALUE, "
				"not '%s'\n",
				kv);
			ret = 2;
			goto out;
		}
		n = xstrndup(kv, (size_t)(eq - kv));
		for (size_t k = 0; k < r.pl.nr_variables; k++)
			known |= !strcmp(r.pl.variables[k].name, n);
		if (!known) {
			fprintf(stderr,
				"error: '%s' is not a variable of "
				"pipeline '%s'\n",
				n, r.pl.name);
			free(n);
			ret = 2;
			goto out;
		}
		json_object_object_add(r.vars, n,
				       json_object_new_string(eq + 1));
		free(n);
	}
	for (size_t i = 0; i < r.pl.nr_variables; i++)
		if (!json_object_object_get_ex(r.vars, r.pl.variables[i].name,
					       NULL)) {
			fprintf(stderr,
				"error: variable '%s' has no "
				"default: give it with -v %s=VALUE\n",
				r.pl.variables[i].name, r.pl.variables[i].name);
			ret = 2;
			goto out;
		}
	r.revision = xstrdup_or_null(o->revision);
	if (open_state(&r, o->state_dir, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	uid = state_uuid();
	r.id = o->id ? xstrdup(o->id) : xasprintf("pe-%s", uid);
	if (o->id && (strncmp(o->id, "pe-", 3) || strchr(o->id, '/') ||
		      strlen(o->id) > 64)) {
		fprintf(stderr, "slipway: pipeline: bad execution id '%s'\n",
			o->id);
		ret = 2;
		goto out;
	}
	r.dir = xasprintf("%s/executions/%s", r.state, r.id);
	if (fs_mkdir_p(r.dir, 0755, &e) < 0 || take_lock(&r, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	r.trigger_type = o->trigger_type;
	r.trigger_detail = o->trigger_detail;
	abs = fs_abspath(file);
	x.id = r.id;
	x.pipeline = r.pl.name;
	x.pipeline_file = abs;
	x.status = (char *)"InProgress";
	x.trigger_type = (char *)(o->trigger_type ? o->trigger_type
						  : "StartPipelineExecution");
	x.trigger_detail =
		(char *)(o->trigger_detail ? o->trigger_detail : o->revision);
	x.variables = (char *)json_object_to_json_string_ext(
		r.vars, JSON_C_TO_STRING_PLAIN);
	x.start_ms = now_ms();
	if (store_put_execution(r.s, &x, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	printf("%s\n", r.id);
	fflush(stdout);
	if (o->no_wait) {
		ret = detach(&r);
		if (ret != -1)
			goto out; /* the caller: started */
	}
	event(&r, 0, NULL, NULL, "STARTED", NULL);
	signal_ready();
	ret = advance(&r);
	if (ret == EXEC_WAITING)
		fprintf(stderr, "%s waiting for approval\n", r.id);
out:
	free(uid);
	free(abs);
	run_release(&r);
	return ret;
}

int exec_decide(const char *state_dir, const char *id, const char *target,
		bool approve, const char *summary)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_approval *v = NULL, *hit = NULL;
	struct store_action *av = NULL, *x;
	size_t nr = 0, anr = 0;
	struct job j = { 0 };
	int ret;

	if (open_run(&r, state_dir, id, &e) < 0 || take_lock(&r, &e) < 0 ||
	    expire(&r, &e) < 0) {
		ret = e.code == ERR_FAILED ? (fail_msg(&e), 1) : exit_of(&e);
		goto out;
	}
	q.execution_id = id;
	q.status = "InProgress";
	if (store_list_approvals(r.s, &q, &v, &nr, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		char *name = xasprintf("%s/%s", v[i].stage, v[i].action);

		if (!target || !strcmp(target, name)) {
			if (hit && !target) {
				fprintf(stderr,
					"error: %s waits for more "
					"than one approval: name one as "
					"STAGE/ACTION\n",
					id);
				free(name);
				ret = 2;
				goto out;
			}
			hit = &v[i];
		}
		free(name);
	}
	if (!hit) {
		fprintf(stderr, "error: %s has no approval waiting%s%s\n", id,
			target ? " at " : "", target ? target : "");
		ret = 1;
		goto out;
	}
	for (size_t s = 0; s < r.pl.nr_stages; s++)
		for (size_t a = 0; a < r.pl.stages[s].nr_actions; a++)
			if (!strcmp(r.pl.stages[s].name, hit->stage) &&
			    !strcmp(r.pl.stages[s].actions[a].name,
				    hit->action)) {
				j.st = &r.pl.stages[s];
				j.a = &j.st->actions[a];
			}
	if (!j.a) {
		fprintf(stderr, "error: %s/%s is no longer in %s\n", hit->stage,
			hit->action, r.pl.file);
		ret = 3;
		goto out;
	}
	free(hit->status);
	hit->status = xstrdup(approve ? "Approved" : "Rejected");
	free(hit->summary);
	hit->summary = xstrdup_or_null(summary);
	free(hit->who);
	hit->who = xstrdup(getenv("USER") ? getenv("USER") : "unknown");
	hit->decided_ms = now_ms();
	q.status = NULL;
	if (store_put_approval(r.s, hit, &e) < 0 ||
	    store_list_actions(r.s, &q, &av, &anr, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	x = latest(av, anr, j.st->name, j.a->name);
	j.start = x ? x->start_ms : hit->created_ms;
	if (put_action(&r, &j, x ? x->attempt : 1,
		       approve ? "Succeeded" : "Failed", now_ms(), NULL,
		       approve ? summary : (summary ? summary : "rejected"),
		       &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	event(&r, 2, j.st, j.a, approve ? "SUCCEEDED" : "FAILED", summary);
	fprintf(stderr, "%s/%s: %s\n", j.st->name, j.a->name,
		approve ? "Approved" : "Rejected");
	signal_ready();
	ret = advance(&r);
out:
	store_approvals_free(v, nr);
	store_actions_free(av, anr);
	run_release(&r);
	return ret;
}

int exec_retry(const char *state_dir, const char *id, bool all)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 };
	struct store_query q = STORE_QUERY_INIT;
	struct store_stage *sv = NULL;
	size_t snr = 0;
	int ret;

	if (open_run(&r, state_dir, id, &e) < 0 || take_lock(&r, &e) < 0) {
		ret = e.code == ERR_FAILED ? (fail_msg(&e), 1) : exit_of(&e);
		goto out;
	}
	q.execution_id = id;
	if (store_get_execution(r.s, id, &x, &e) != 0 ||
	    store_list_stages(r.s, &q, &sv, &snr, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	for (size_t s = 0; s < r.pl.nr_stages; s++)
		for (size_t i = 0; i < snr; i++)
			if (!strcmp(sv[i].stage, r.pl.stages[s].name) &&
			    (!strcmp(sv[i].status, "Failed") ||
			     !strcmp(sv[i].status, "Stopped")))
				r.retry = &r.pl.stages[s];
	if ((strcmp(x.status, "Failed") && strcmp(x.status, "Stopped")) ||
	    !r.retry) {
		fprintf(stderr,
			"error: execution %s is %s: only a failed "
			"stage can be retried\n",
			id, x.status);
		ret = 1;
		goto out;
	}
	r.retry_all = all;
	if (put_stage(&r, r.retry->name, "InProgress", 0, 0, &e) < 0 ||
	    set_execution(&r, "InProgress", NULL, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	event(&r, 0, NULL, NULL, "RESUMED", NULL);
	retry_event(&r, r.retry, MANUAL_RETRY, all);
	fprintf(stderr, "%s: retrying %s (%s)\n", id, r.retry->name,
		all ? "all actions" : "failed actions");
	signal_ready();
	ret = advance(&r);
	if (ret == EXEC_WAITING)
		fprintf(stderr, "%s waiting for approval\n", r.id);
out:
	store_execution_release(&x);
	store_stages_free(sv, snr);
	run_release(&r);
	return ret;
}

int exec_resume(const char *state_dir, const char *id)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 };
	int ret;

	if (open_run(&r, state_dir, id, &e) < 0 || take_lock(&r, &e) < 0) {
		ret = e.code == ERR_FAILED ? (fail_msg(&e), 1) : exit_of(&e);
		goto out;
	}
	if (store_get_execution(r.s, id, &x, &e) != 0) {
		ret = exit_of(&e);
		goto out;
	}
	if (strcmp(x.status, "InProgress") && strcmp(x.status, "Stopping")) {
		fprintf(stderr,
			"slipway: pipeline: execution %s is %s: nothing to "
			"resume\n",
			id, x.status);
		ret = 1;
		goto out;
	}
	signal_ready();
	fprintf(stderr, "%s resumed\n", id);
	ret = advance(&r);
	if (ret == EXEC_WAITING)
		fprintf(stderr, "%s waiting for approval\n", r.id);
out:
	store_execution_release(&x);
	run_release(&r);
	return ret;
}

/* Stop an execution nobody runs: its approvals waiting are abandoned. */
static int stop_waiting(struct run *r, char *why)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_approval *v = NULL;
	struct sw_err e = SW_ERR_INIT;
	const struct pl_stage *at = NULL;
	size_t nr = 0;
	int ret;

	q.execution_id = r->id;
	q.status = "InProgress";
	if (store_list_approvals(r->s, &q, &v, &nr, &e) < 0) {
		free(why);
		return exit_of(&e);
	}
	for (size_t i = 0; i < nr && !e.code; i++) {
		struct job j = { 0 };

		for (size_t s = 0; s < r->pl.nr_stages; s++)
			for (size_t a = 0; a < r->pl.stages[s].nr_actions; a++)
				if (!strcmp(r->pl.stages[s].name, v[i].stage) &&
				    !strcmp(r->pl.stages[s].actions[a].name,
					    v[i].action)) {
					j.st = &r->pl.stages[s];
					j.a = &j.st->actions[a];
				}
		free(v[i].status);
		v[i].status = xstrdup("Rejected");
		free(v[i].summary);
		v[i].summary = xstrdup(why);
		v[i].decided_ms = now_ms();
		if (store_put_approval(r->s, &v[i], &e) < 0 || !j.a)
			continue;
		j.start = v[i].created_ms;
		if (put_action(r, &j, 1, "Abandoned", now_ms(), NULL, why, &e) <
		    0)
			continue;
		event(r, 2, j.st, j.a, "ABANDONED", why);
		at = j.st;
	}
	store_approvals_free(v, nr);
	if (e.code) {
		free(why);
		return exit_of(&e);
	}
	ret = stopped(r, at, why);
	return ret == 1 ? 0 : ret;
}

/* Ask the runner (its pid in the lock file) to abandon its actions. */
static void signal_runner(struct run *r)
{
	char *lp = fs_join(r->dir, "lock"), *data = NULL;
	struct sw_err e = SW_ERR_INIT;
	size_t len = 0;
	int pid = 0;

	if (fs_read_file(lp, 64, &data, &len, &e) == 0)
		pid = atoi(data);
	err_clear(&e);
	if (pid > 0 && kill(pid, SIGUSR1) < 0)
		fprintf(stderr, "warning: cannot signal process %d: %s\n", pid,
			strerror(errno));
	free(data);
	free(lp);
}

int exec_stop(const char *state_dir, const char *id, bool abandon,
	      const char *reason)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 };
	char *why = xstrdup(reason ? reason : "stopped by hand");
	char *p = NULL;
	int ret;

	if (open_run(&r, state_dir, id, &e) < 0 ||
	    store_get_execution(r.s, id, &x, &e) != 0) {
		ret = exit_of(&e);
		goto out;
	}
	if (strcmp(x.status, "InProgress") && strcmp(x.status, "Stopping")) {
		fprintf(stderr,
			"error: execution %s is %s: only one in "
			"progress can be stopped\n",
			id, x.status);
		ret = 1;
		goto out;
	}
	if (!strcmp(x.status, "Stopping") && !abandon) {
		fprintf(stderr, "error: execution %s is stopping\n", id);
		ret = 1;
		goto out;
	}
	if (take_lock(&r, &e) == 0) {
		ret = stop_waiting(&r, why);
		why = NULL;
		goto out;
	}
	if (e.code != ERR_FAILED) {
		ret = exit_of(&e);
		goto out;
	}
	err_clear(&e);
	/* a runner: it stops at the next boundary, or abandons now */
	p = fs_join(r.dir, "stop");
	if (fs_write_atomic(p, why, strlen(why), 0644, &e) < 0 ||
	    store_begin(r.s, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	/* unless the runner ended it meanwhile */
	store_execution_release(&x);
	memset(&x, 0, sizeof(x));
	if (store_get_execution(r.s, id, &x, &e) != 0 ||
	    (!strcmp(x.status, "InProgress") &&
	     set_execution(&r, "Stopping", why, &e) < 0) ||
	    store_commit(r.s, &e) < 0) {
		store_rollback(r.s);
		ret = exit_of(&e);
		goto out;
	}
	event(&r, 0, NULL, NULL, "STOPPING", why);
	if (abandon)
		signal_runner(&r);
	fprintf(stderr, "%s Stopping%s\n", id,
		abandon ? ": its running actions are abandoned" : "");
	ret = 0;
out:
	free(p);
	free(why);
	store_execution_release(&x);
	run_release(&r);
	return ret;
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* A source action's output artifact, at the commit it fetched. */
static void add_revision(json_object *revs, const struct pl_action *a,
			 const struct store_action *l)
{
	json_object *ov, *id, *o;

	if (a->category != PL_SOURCE || !a->outputs.nr ||
	    strcmp(l->status, "Succeeded") || !l->output_variables)
		return;
	ov = json_tokener_parse(l->output_variables);
	if (ov && json_object_object_get_ex(ov, "CommitId", &id)) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
				       json_object_new_string(a->outputs.v[0]));
		json_object_object_add(o, "revisionId", json_object_get(id));
		json_object_array_add(revs, o);
	}
	json_object_put(ov);
}

/* The page of an action's build or deployment, relative to the
 * execution's report.html, when its report is in the state directory. */
static char *report_href(struct run *r, const struct pl_action *a,
			 const char *ext)
{
	char *name, *p, *href = NULL;

	if (!ext || strchr(ext, '/') || ext[0] == '.')
		return NULL;
	if (a->category == PL_DEPLOY)
		name = xasprintf("deployments/%s", ext);
	else if (a->provider == PL_CODEBUILD) {
		char *b = state_build_name(ext);

		name = xasprintf("builds/%s", b);
		free(b);
	} else
		return NULL;
	p = xasprintf("%s/%s/report.json", r->state, name);
	if (fs_exists(p)) {
		char *html = xasprintf("%s/%s/report.html", r->state, name);

		if (!fs_exists(html))
			html_beside(p);
		if (fs_exists(html))
			href = xasprintf("../../%s/report.html", name);
		free(html);
	}
	free(p);
	free(name);
	return href;
}

static json_object *jnames(const struct pl_action *a, bool out)
{
	json_object *v = json_object_new_array();

	if (out)
		for (size_t i = 0; i < a->outputs.nr; i++)
			json_object_array_add(v, jstr(a->outputs.v[i]));
	else
		for (size_t i = 0; i < a->nr_inputs; i++)
			json_object_array_add(v, jstr(a->inputs[i].name));
	return v;
}

/* The execution's artifacts: [{name, sha256}], each the content address
 * its <pe-dir>/artifacts/<name> link names, in the order the pipeline
 * declares them. */
static json_object *jartifacts(struct run *r)
{
	json_object *v = json_object_new_array();

	for (size_t s = 0; s < r->pl.nr_stages; s++)
		for (size_t a = 0; a < r->pl.stages[s].nr_actions; a++) {
			const struct strvec *out =
				&r->pl.stages[s].actions[a].outputs;

			for (size_t i = 0; i < out->nr; i++) {
				char *link = xasprintf("%s/artifacts/%s",
						       r->dir, out->v[i]);
				char target[4096];
				ssize_t n = readlink(link, target,
						     sizeof(target) - 1);
				json_object *o;

				free(link);
				if (n <= 0)
					continue;
				target[n] = '\0';
				o = json_object_new_object();
				json_object_object_add(o, "name",
						       jstr(out->v[i]));
				json_object_object_add(
					o, "sha256",
					jstr(strrchr(target, '/')
						     ? strrchr(target, '/') + 1
						     : target));
				json_object_array_add(v, o);
			}
		}
	return v;
}

/* The attempts of action a before the latest one, l, oldest first:
 * [{attempt, status, summary, externalExecutionId, durationMs,
 * reportHref}] for the page. */
static json_object *earlier(struct run *r, const struct pl_action *a,
			    const struct store_action *v, size_t nr,
			    const struct store_action *l)
{
	json_object *arr = json_object_new_array();

	for (long n = 1; n < l->attempt; n++)
		for (size_t i = 0; i < nr; i++) {
			const struct store_action *x = &v[i];
			json_object *o;
			char *h;

			if (x->attempt != n || strcmp(x->stage, l->stage) ||
			    strcmp(x->action, l->action))
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "attempt",
					       json_object_new_int64(n));
			json_object_object_add(o, "status", jstr(x->status));
			json_object_object_add(o, "summary", jstr(x->error));
			json_object_object_add(o, "externalExecutionId",
					       jstr(x->external_id));
			if (x->start_ms && x->end_ms >= x->start_ms)
				json_object_object_add(
					o, "durationMs",
					json_object_new_int64(x->end_ms -
							      x->start_ms));
			h = report_href(r, a, x->external_id);
			json_object_object_add(o, "reportHref", jstr(h));
			free(h);
			json_object_array_add(arr, o);
		}
	return arr;
}

/* An approval's times for the page: {created, expires, decided}. */
static json_object *japproval(const struct store_approval *ap)
{
	json_object *o = json_object_new_object();
	const int64_t t[3] = { ap->created_ms, ap->expires_ms, ap->decided_ms };
	const char *const k[3] = { "created", "expires", "decided" };

	for (int i = 0; i < 3; i++)
		if (t[i]) {
			char *s = iso_time(t[i]);

			json_object_object_add(o, k[i], jstr(s));
			free(s);
		}
	return o;
}

/* {name} objects of a list of names. */
static json_object *jname_objects(const char *const *v, size_t nr)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < nr; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", jstr(v[i]));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* One attempt x of action pa, as ListActionExecutions prints it; its
 * actionExecutionId is <pe-id>/<Stage>.<Action>.<attempt>. */
static json_object *action_execution(struct run *r, const struct pl_stage *st,
				     const struct pl_action *pa,
				     const struct store_action *x)
{
	json_object *o = json_object_new_object(), *in, *out, *ty, *c, *res;
	const char **names = xcalloc(pa->nr_inputs + 1, sizeof(*names));
	char *t;

	json_object_object_add(o, "pipelineExecutionId", jstr(r->id));
	t = xasprintf("%s/%s.%s.%ld", r->id, st->name, pa->name, x->attempt);
	json_object_object_add(o, "actionExecutionId", jstr(t));
	free(t);
	json_object_object_add(o, "stageName", jstr(st->name));
	json_object_object_add(o, "actionName", jstr(pa->name));
	t = iso_time(x->start_ms);
	json_object_object_add(o, "startTime", jstr(t));
	free(t);
	t = iso_time(x->end_ms ? x->end_ms : x->start_ms);
	json_object_object_add(o, "lastUpdateTime", jstr(t));
	free(t);
	json_object_object_add(o, "status", jstr(x->status));

	in = json_object_new_object();
	ty = json_object_new_object();
	json_object_object_add(ty, "category",
			       jstr(pl_category_name(pa->category)));
	json_object_object_add(ty, "owner", jstr(pa->owner));
	json_object_object_add(ty, "provider", jstr(pa->provider_name));
	json_object_object_add(ty, "version", jstr(pa->version));
	json_object_object_add(in, "actionTypeId", ty);
	c = json_object_new_object();
	for (size_t k = 0; k < pa->nr_config; k++)
		json_object_object_add(c, pa->config[k].key,
				       jstr(pa->config[k].value));
	json_object_object_add(in, "configuration", c);
	for (size_t k = 0; k < pa->nr_inputs; k++)
		names[k] = pa->inputs[k].name;
	json_object_object_add(in, "inputArtifacts",
			       jname_objects(names, pa->nr_inputs));
	free(names);
	if (pa->namespace)
		json_object_object_add(in, "namespace", jstr(pa->namespace));
	json_object_object_add(o, "input", in);

	out = json_object_new_object();
	json_object_object_add(
		out, "outputArtifacts",
		strcmp(x->status, "Succeeded")
			? json_object_new_array()
			: jname_objects((const char *const *)pa->outputs.v,
					pa->outputs.nr));
	res = json_object_new_object();
	json_object_object_add(res, "externalExecutionId",
			       jstr(x->external_id));
	json_object_object_add(res, "externalExecutionSummary", jstr(x->error));
	json_object_object_add(out, "executionResult", res);
	json_object_object_add(out, "outputVariables",
			       x->output_variables
				       ? json_tokener_parse(x->output_variables)
				       : json_object_new_object());
	json_object_object_add(o, "output", out);
	return o;
}

/* Every attempt of every action (ListActionExecutions'
 * actionExecutionDetails), in stage and action order, oldest first. */
static json_object *action_executions(struct run *r,
				      const struct store_action *v, size_t nr)
{
	json_object *arr = json_object_new_array();

	for (size_t s = 0; s < r->pl.nr_stages; s++)
		for (size_t a = 0; a < r->pl.stages[s].nr_actions; a++) {
			const struct pl_stage *st = &r->pl.stages[s];
			const struct pl_action *pa = &st->actions[a];
			const struct store_action *l =
				latest((struct store_action *)v, nr, st->name,
				       pa->name);

			for (long n = 1; l && n <= l->attempt; n++)
				for (size_t i = 0; i < nr; i++)
					if (v[i].attempt == n &&
					    !strcmp(v[i].stage, st->name) &&
					    !strcmp(v[i].action, pa->name))
						json_object_array_add(
							arr, action_execution(
								     r, st, pa,
								     &v[i]));
		}
	return arr;
}

enum show_mode { SHOW_TEXT, SHOW_JSON, SHOW_HTML };

/* The execution r as `show` prints it (SHOW_HTML: with the keys
 * page.h wants, printing nothing) in *rootp. */
static int show(struct run *r, const char *id, enum show_mode mode,
		json_object **rootp, struct sw_err *ep)
{
	struct sw_err e = SW_ERR_INIT;
	struct store_execution x = { 0 };
	bool json = mode != SHOW_TEXT, html = mode == SHOW_HTML;
	struct store_query q = STORE_QUERY_INIT;
	struct store_stage *sv = NULL;
	struct store_action *av = NULL;
	struct store_approval *ap = NULL;
	size_t snr = 0, anr = 0, pnr = 0;
	json_object *root = NULL, *pe, *stages, *vars, *revs;
	long autos, manuals;
	char *trigger = NULL;
	struct store_event *ev = NULL;
	size_t enr = 0;
	int ret = 0;

	q.execution_id = id;
	if (store_get_execution(r->s, id, &x, &e) != 0 ||
	    store_list_stages(r->s, &q, &sv, &snr, &e) < 0 ||
	    store_list_actions(r->s, &q, &av, &anr, &e) < 0 ||
	    store_list_approvals(r->s, &q, &ap, &pnr, &e) < 0 ||
	    store_list_events(r->s, &q, 0, &ev, &enr, &e) < 0) {
		ret = -1;
		*ep = e;
		goto out;
	}
	root = json_object_new_object();
	pe = json_object_new_object();
	json_object_object_add(pe, "pipelineName", jstr(x.pipeline));
	json_object_object_add(pe, "pipelineExecutionId", jstr(x.id));
	json_object_object_add(pe, "status", jstr(x.status));
	json_object_object_add(pe, "statusSummary", jstr(x.status_summary));
	{
		json_object *tr = json_object_new_object();
		bool rb = x.trigger_type &&
			  !strcmp(x.trigger_type, "AutomatedRollback");

		json_object_object_add(tr, "triggerType", jstr(x.trigger_type));
		json_object_object_add(tr, "triggerDetail",
				       jstr(x.trigger_detail));
		json_object_object_add(pe, "trigger", tr);
		json_object_object_add(pe, "executionMode",
				       jstr(pl_mode_name(r->pl.mode)));
		json_object_object_add(pe, "executionType",
				       jstr(rb ? "ROLLBACK" : "STANDARD"));
		if (rb) {
			json_object *m = json_object_new_object();

			json_object_object_add(
				m, "rollbackTargetPipelineExecutionId",
				jstr(x.trigger_detail));
			json_object_object_add(pe, "rollbackMetadata", m);
		}
	}
	revs = json_object_new_array();
	json_object_object_add(pe, "artifactRevisions", revs);
	vars = json_object_new_array();
	json_object_object_foreach(r->vars, k, val)
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", jstr(k));
		json_object_object_add(o, "resolvedValue",
				       json_object_get(val));
		json_object_array_add(vars, o);
	}
	json_object_object_add(pe, "variables", vars);
	if (html)
		json_object_object_add(pe, "artifacts", jartifacts(r));
	json_object_object_add(root, "pipelineExecution", pe);
	stages = json_object_new_array();
	json_object_object_add(root, "stageStates", stages);
	for (size_t s = 0; s < r->pl.nr_stages; s++) {
		const struct pl_stage *st = &r->pl.stages[s];
		json_object *so = json_object_new_object(), *le = NULL,
			    *acts = json_object_new_array();

		json_object_object_add(so, "stageName", jstr(st->name));
		for (size_t i = 0; i < snr; i++)
			if (!strcmp(sv[i].stage, st->name)) {
				le = json_object_new_object();
				json_object_object_add(
					le, "pipelineExecutionId", jstr(id));
				json_object_object_add(le, "status",
						       jstr(sv[i].status));
			}
		if (le)
			json_object_object_add(so, "latestExecution", le);
		count_retries(ev, enr, st->name, &autos, &manuals, &trigger);
		if (trigger) {
			json_object *m = json_object_new_object();

			json_object_object_add(m, "autoStageRetryAttempt",
					       json_object_new_int64(autos));
			json_object_object_add(m, "manualStageRetryAttempt",
					       json_object_new_int64(manuals));
			json_object_object_add(m, "latestRetryTrigger",
					       jstr(trigger));
			json_object_object_add(so, "retryStageMetadata", m);
		}
		if (!json) {
			printf("%-12s %s", st->name,
			       le ? json_object_get_string(
					    json_object_object_get(le,
								   "status"))
				  : "-");
			if (trigger)
				printf(" (attempt %ld, %s)",
				       1 + autos + manuals, trigger);
			printf("\n");
		}
		free(trigger);
		trigger = NULL;
		for (size_t a = 0; a < st->nr_actions; a++) {
			struct store_action *l =
				latest(av, anr, st->name, st->actions[a].name);
			json_object *ao = json_object_new_object(), *ale;
			const char *status = l ? l->status : NULL;
			const char *summary = l ? l->error : NULL;
			bool wait = false;
			const char *who = NULL;
			const struct store_approval *approval = NULL;

			for (size_t i = 0; i < pnr; i++)
				if (!strcmp(ap[i].stage, st->name) &&
				    !strcmp(ap[i].action,
					    st->actions[a].name)) {
					approval = &ap[i];
					wait = !strcmp(ap[i].status,
						       "InProgress");
					if (ap[i].summary)
						summary = ap[i].summary;
					who = ap[i].who;
				}
			json_object_object_add(ao, "actionName",
					       jstr(st->actions[a].name));
			if (html) {
				const struct pl_action *pa = &st->actions[a];
				json_object *ty = json_object_new_object();

				json_object_object_add(
					ty, "category",
					jstr(pl_category_name(pa->category)));
				json_object_object_add(ty, "provider",
						       jstr(pa->provider_name));
				json_object_object_add(ao, "actionTypeId", ty);
				json_object_object_add(
					ao, "runOrder",
					json_object_new_int(pa->run_order));
				json_object_object_add(ao, "inputArtifacts",
						       jnames(pa, false));
				json_object_object_add(ao, "outputArtifacts",
						       jnames(pa, true));
			}
			if (l) {
				char *t = iso_time(l->end_ms ? l->end_ms
							     : l->start_ms);

				ale = json_object_new_object();
				json_object_object_add(ale, "status",
						       jstr(status));
				json_object_object_add(ale, "summary",
						       jstr(summary));
				json_object_object_add(ale,
						       "externalExecutionId",
						       jstr(l->external_id));
				if (who)
					json_object_object_add(ale,
							       "lastUpdatedBy",
							       jstr(who));
				json_object_object_add(ale, "lastStatusChange",
						       jstr(t));
				if (l->output_variables)
					json_object_object_add(
						ale, "outputVariables",
						json_tokener_parse(
							l->output_variables));
				if (html && l->end_ms >= l->start_ms &&
				    l->start_ms)
					json_object_object_add(
						ale, "durationMs",
						json_object_new_int64(
							(l->end_ms ? l->end_ms
								   : now_ms()) -
							l->start_ms));
				if (html) {
					char *h =
						report_href(r, &st->actions[a],
							    l->external_id);

					json_object_object_add(
						ale, "reportHref", jstr(h));
					free(h);
				}
				if (html && l->attempt > 1) {
					json_object_object_add(
						ale, "attempt",
						json_object_new_int64(
							l->attempt));
					json_object_object_add(
						ao, "earlierAttempts",
						earlier(r, &st->actions[a], av,
							anr, l));
				}
				if (html && approval)
					json_object_object_add(
						ale, "approval",
						japproval(approval));
				add_revision(revs, &st->actions[a], l);
				json_object_object_add(ao, "latestExecution",
						       ale);
				free(t);
			}
			json_object_array_add(acts, ao);
			if (!json && l && l->attempt > 1)
				printf("  %-20s %s (attempt %ld)%s%s%s\n",
				       st->actions[a].name, status, l->attempt,
				       wait ? " (waiting for approval)" : "",
				       summary ? ": " : "",
				       summary ? summary : "");
			else if (!json)
				printf("  %-20s %s%s%s%s\n",
				       st->actions[a].name,
				       status ? status : "-",
				       wait ? " (waiting for approval)" : "",
				       summary ? ": " : "",
				       summary ? summary : "");
		}
		json_object_object_add(so, "actionStates", acts);
		json_object_array_add(stages, so);
	}
	if (json && !html)
		json_object_object_add(root, "actionExecutionDetails",
				       action_executions(r, av, anr));
	if (html)
		;
	else if (json)
		printf("%s\n", json_object_to_json_string_ext(
				       root, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED));
	else
		printf("%s %s %s%s%s\n", x.id, x.pipeline, x.status,
		       pnr && !strcmp(x.status, "InProgress") ? " " : "",
		       pnr && !strcmp(x.status, "InProgress") ? "(waiting)"
							      : "");
out:
	if (ret == 0 && rootp)
		*rootp = root;
	else
		json_object_put(root);
	store_execution_release(&x);
	store_stages_free(sv, snr);
	store_actions_free(av, anr);
	store_approvals_free(ap, pnr);
	store_events_free(ev, enr);
	return ret;
}

int exec_show(const char *state_dir, const char *id, bool json)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	int ret = 0;

	if (open_run_ex(&r, state_dir, id, true, &e) < 0 ||
	    show(&r, id, json ? SHOW_JSON : SHOW_TEXT, NULL, &e) < 0)
		ret = exit_of(&e);
	run_release(&r);
	return ret;
}

int exec_execution_json(const char *state_dir, const char *id,
			struct json_object **out, struct sw_err *e)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	int ret = -1;

	*out = NULL;
	if (open_run_ex(&r, state_dir, id, true, e) == 0 &&
	    show(&r, id, SHOW_HTML, out, e) == 0)
		ret = 0;
	run_release(&r);
	return ret;
}

int exec_execution_json_in(struct store *s, const char *state_dir,
			   struct pipeline *const *pls, size_t npl,
			   const char *id, struct json_object **out,
			   struct sw_err *e)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct store_execution x = { 0 };
	const struct pipeline *pl = NULL;
	int rc, ret = -1;

	*out = NULL;
	rc = store_get_execution(s, id, &x, e);
	if (rc != 0) {
		if (rc > 0)
			err_set(e, ERR_USAGE, "no execution '%s'", id);
		return -1;
	}
	for (size_t i = 0; i < npl && !pl && x.pipeline_file; i++) {
		char *abs;

		if (strcmp(pls[i]->name, x.pipeline))
			continue;
		abs = fs_abspath(pls[i]->file);
		if (!strcmp(abs, x.pipeline_file))
			pl = pls[i];
		free(abs);
	}
	if (!pl) {
		store_execution_release(&x);
		return exec_execution_json(state_dir, id, out, e);
	}
	r.s = s;
	r.state = xstrdup(state_dir);
	r.id = xstrdup(id);
	r.dir = xasprintf("%s/executions/%s", state_dir, id);
	r.vars = x.variables ? json_tokener_parse(x.variables) : NULL;
	if (!r.vars)
		r.vars = json_object_new_object();
	r.pl = *pl; /* borrowed: read only, never released here */
	if (reconcile(&r, e) == 0 && show(&r, id, SHOW_HTML, out, e) == 0)
		ret = 0;
	r.pl = (struct pipeline)PIPELINE_INIT;
	r.s = NULL;
	run_release(&r);
	store_execution_release(&x);
	return ret;
}

/* <pe-dir>/report.html (or out) from the execution's record now. */
static int write_report(struct run *r, const char *out, struct sw_err *e)
{
	json_object *root = NULL;
	struct buf page = BUF_INIT;
	char *path = out ? xstrdup(out) : fs_join(r->dir, "report.html");
	int ret = -1;

	if (show(r, r->id, SHOW_HTML, &root, e) < 0)
		goto out;
	page_render(root, &page);
	ret = fs_write_atomic(path, page.ptr, page.len, 0644, e);
out:
	json_object_put(root);
	buf_release(&page);
	free(path);
	return ret;
}

/* After a state change: a report that cannot be written only warns. */
static void refresh_report(struct run *r)
{
	struct sw_err e = SW_ERR_INIT;

	if (!r->s || !r->id || !r->dir)
		return;
	if (write_report(r, NULL, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		err_clear(&e);
	}
}

int exec_report(const char *state_dir, const char *id, const char *out)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	char *path = NULL;
	int ret = 0;

	if (open_run_ex(&r, state_dir, id, true, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	path = out ? xstrdup(out) : fs_join(r.dir, "report.html");
	if (write_report(&r, path, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	printf("%s\n", path);
out:
	free(path);
	run_release(&r);
	return ret;
}

int exec_list(const char *state_dir, const char *file)
{
	struct run r = { .pl = PIPELINE_INIT, .lockfd = -1, .stage_fd = -1 };
	struct sw_err e = SW_ERR_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_execution *v = NULL;
	struct pipeline pl = PIPELINE_INIT;
	size_t nr = 0;
	int ret = 0;

	if (file && pipeline_load(file, &pl, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	if (open_state(&r, state_dir, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	q.name = file ? pl.name : NULL;
	if (store_list_executions(r.s, &q, &v, &nr, &e) < 0) {
		ret = exit_of(&e);
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		struct run one = { .pl = PIPELINE_INIT,
				   .lockfd = -1,
				   .stage_fd = -1 };
		struct store_execution cur = { 0 };
		char *t = iso_time(v[i].start_ms);
		const char *status = v[i].status;

		/* an InProgress one may have lost its runner */
		if (!strcmp(status, "InProgress") &&
		    open_run_ex(&one, state_dir, v[i].id, true, &e) == 0 &&
		    store_get_execution(one.s, v[i].id, &cur, &e) == 0)
			status = cur.status;
		err_clear(&e);
		printf("%s  %-10s %s  %s\n", v[i].id, status, t, v[i].pipeline);
		store_execution_release(&cur);
		run_release(&one);
		free(t);
	}
out:
	pipeline_release(&pl);
	store_executions_free(v, nr);
	run_release(&r);
	return ret;
}
