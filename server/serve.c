/*
 * serve: the server core (serve.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "buf.h"
#include "dashboard.h"
#include "exec.h"
#include "fs.h"
#include "http.h"
#include "intake.h"
#include "login.h"
#include "pipeline.h"
#include "serve.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

extern char **environ;

/* A loaded pipeline file, shared by the snapshots that hold it. */
struct spl {
	struct pipeline pl; /* first: serve_start() finds the rest */
	char *path;
	atomic_int refs;
	/* a reload kept this declaration: the file on disk does not load
	 * (its error), and a runner, which reads it, could not run it */
	char *broken;
};

struct snap {
	struct serve_pls pub; /* first: the handlers' view */
	struct spl **items;
	int refs;
};

/* A child process running the engine. */
struct runner {
	pid_t pid;
	char *label; /* the execution id, for log lines */
	int err_fd; /* its stderr and stdout; -1 at end of file */
	struct buf part; /* a line not ended yet */
	char *last; /* its last line */
	bool exited;
	int status; /* exit status, 128+signal */
	int waiters;
	struct runner *next;
};

struct serve {
	const struct serve_opts *o;
	char *state;
	struct auth_tokens tokens;
	struct http_server *h;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct snap *cur;
	struct runner *runners;
	struct strvec env; /* the runners' environment, without USER */
	atomic_bool stopping;
	int wake[2];
	struct store *pool[16]; /* serve_store_get() */
	size_t nr_pool;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	buf_addch(&b, '\n');
	if (write(2, b.ptr, b.len) < 0) {
		/* nowhere to say it */
	}
	buf_release(&b);
}

/* ---- pipelines -------------------------------------------------------- */

static void spl_put(struct spl *p)
{
	if (!p || --p->refs > 0)
		return;
	pipeline_release(&p->pl);
	free(p->path);
	free(p->broken);
	free(p);
}

static void snap_free(struct snap *n)
{
	for (size_t i = 0; i < n->pub.nr; i++)
		spl_put(n->items[i]);
	free(n->items);
	free(n->pub.v);
	free(n);
}

struct serve_pls *serve_pipelines_get(struct serve *s)
{
	struct snap *n;

	pthread_mutex_lock(&s->mu);
	n = s->cur;
	n->refs++;
	pthread_mutex_unlock(&s->mu);
	return &n->pub;
}

void serve_pipelines_put(struct serve *s, struct serve_pls *p)
{
	struct snap *n = (struct snap *)p;
	bool last;

	if (!p)
		return;
	pthread_mutex_lock(&s->mu);
	last = --n->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		snap_free(n);
}

struct pipeline *serve_find(const struct serve_pls *p, const char *name)
{
	for (size_t i = 0; i < p->nr; i++)
		if (!strcmp(p->v[i]->name, name))
			return p->v[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_ext(const char *n)
{
	const char *dot = strrchr(n, '.');

	return dot && (!strcmp(dot, ".yml") || !strcmp(dot, ".yaml") ||
		       !strcmp(dot, ".json"));
}

/* The pipeline files of a directory: its *.yml, *.yaml, *.json files
 * whose top level is a pipeline declaration, by name. */
static int scan_dir(const char *dir, struct strvec *files, struct sw_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct strvec names = STRVEC_INIT;

	if (!d)
		return err_sys(e, "%s", dir);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && has_ext(de->d_name))
			strvec_push(&names, de->d_name);
	closedir(d);
	if (names.nr)
		qsort(names.v, names.nr, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.nr; i++) {
		char *p = fs_join(dir, names.v[i]);
		struct ydoc doc;
		struct sw_err pe = SW_ERR_INIT;

		memset(&doc, 0, sizeof(doc));
		if (fs_is_dir(p) || ydoc_load_file(p, &doc, &pe) < 0 ||
		    !pipeline_sniff(doc.root)) {
			/* not a pipeline: the group and buildspec files that
			 * often sit beside them; a bad one is said when a
			 * pipeline names it */
			ydoc_release(&doc);
			free(p);
			continue;
		}
		ydoc_release(&doc);
		strvec_push_nodup(files, p);
	}
	strvec_release(&names);
	return 0;
}

/*
 * Load the pipelines of o->pipelines into a new snapshot. A file that
 * does not load is said on the log, and its declaration in old (if any)
 * kept; *bad counts them.
 */
static struct snap *load_all(struct serve *s, struct snap *old, int *bad)
{
	struct snap *n = xcalloc(1, sizeof(*n));
	struct strvec files = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	*bad = 0;
	n->refs = 1;
	for (size_t i = 0; i < s->o->pipelines.nr; i++) {
		const char *p = s->o->pipelines.v[i];

		if (fs_is_dir(p)) {
			if (scan_dir(p, &files, &e) < 0) {
				logf_("error: %s", e.msg);
				err_clear(&e);
				(*bad)++;
			}
		} else {
			strvec_push_nodup(&files, fs_abspath(p));
		}
	}
	for (size_t i = 0; i < files.nr; i++) {
		struct spl *p = xcalloc(1, sizeof(*p)), *keep = NULL;
		bool dup = false;

		p->refs = 1;
		p->path = fs_abspath(files.v[i]);
		p->pl = (struct pipeline)PIPELINE_INIT;
		if (pipeline_load(files.v[i], &p->pl, &e) < 0) {
			logf_("error: %s", e.msg);
			(*bad)++;
			for (size_t k = 0; old && k < old->pub.nr; k++)
				if (!strcmp(old->items[k]->path, p->path))
					keep = old->items[k];
			if (keep) {
				logf_("%s: keeping the pipeline '%s' loaded "
				      "before",
				      p->path, keep->pl.name);
				pthread_mutex_lock(&s->mu);
				keep->refs++;
				free(keep->broken);
				keep->broken = xstrdup(e.msg);
				pthread_mutex_unlock(&s->mu);
			}
			err_clear(&e);
			free(p->path);
			free(p);
			p = keep;
		} else {
			for (size_t k = 0; k < p->pl.warnings.nr; k++)
				logf_("warning: %s", p->pl.warnings.v[k]);
		}
		if (!p)
			continue;
		for (size_t k = 0; k < n->pub.nr; k++)
			dup |= !strcmp(n->items[k]->pl.name, p->pl.name);
		if (dup) {
			logf_("error: %s: a pipeline named '%s' is served "
			      "already",
			      p->path, p->pl.name);
			(*bad)++;
			spl_put(p);
			continue;
		}
		n->items =
			xrealloc(n->items, (n->pub.nr + 1) * sizeof(*n->items));
		n->pub.v =
			xrealloc(n->pub.v, (n->pub.nr + 1) * sizeof(*n->pub.v));
		n->items[n->pub.nr] = p;
		n->pub.v[n->pub.nr] = &p->pl;
		n->pub.nr++;
	}
	strvec_release(&files);
	return n;
}

static void reload(struct serve *s)
{
	struct snap *old, *n;
	int bad;

	pthread_mutex_lock(&s->mu);
	old = s->cur;
	old->refs++;
	pthread_mutex_unlock(&s->mu);
	n = load_all(s, old, &bad);
	pthread_mutex_lock(&s->mu);
	s->cur = n;
	pthread_mutex_unlock(&s->mu);
	serve_pipelines_put(s, &old->pub); /* ours */
	serve_pipelines_put(s, &old->pub); /* the server's */
	logf_("reloaded: %zu pipeline%s%s", n->pub.nr,
	      n->pub.nr == 1 ? "" : "s",
	      bad ? " (some files refused, see above)" : "");
}

/* ---- the store ------------------------------------------------------ */

struct store *serve_store_get(struct serve *s, struct sw_err *e)
{
	struct store *st = NULL;
	char *db;

	pthread_mutex_lock(&s->mu);
	if (s->nr_pool)
		st = s->pool[--s->nr_pool];
	pthread_mutex_unlock(&s->mu);
	if (st && store_alive(st))
		return st;
	store_close(st); /* its database went away meanwhile */
	st = NULL;
	db = store_locate(s->state);
	if (store_open(&st, db, e) < 0)
		st = NULL;
	free(db);
	return st;
}

void serve_store_put(struct serve *s, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&s->mu);
	if (store_alive(st) &&
	    s->nr_pool < sizeof(s->pool) / sizeof(s->pool[0])) {
		s->pool[s->nr_pool++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	store_close(st);
}

/* ---- runners -------------------------------------------------------- */

const char *serve_state_dir(const struct serve *s)
{
	return s->state;
}

bool serve_stopping(const struct serve *s)
{
	return s->stopping;
}

char *serve_new_id(void)
{
	char *u = state_uuid(), *id = xasprintf("pe-%s", u);

	free(u);
	return id;
}

static const char *self_exe(void)
{
	static char p[4096];
	ssize_t n;

	if (p[0])
		return p;
	n = readlink("/proc/self/exe", p, sizeof(p) - 1);
	if (n <= 0)
		return "slipway";
	p[n] = 0;
	return p;
}

static const char *describe(int status)
{
	switch (status) {
	case 0:
		return "succeeded";
	case 1:
		return "failed or stopped";
	case 2:
		return "refused (usage)";
	case 3:
		return "refused (invalid pipeline file)";
	case EXEC_WAITING:
		return "waiting for an approval";
	case EXEC_DRAINED:
		return "drained: resumes at the next start";
	default:
		return status > 128 ? "killed" : "system error";
	}
}

/*
 * Start a runner with args; with ready, *ready_fd is the read end of its
 * ready pipe. Called with s->mu held, so that the reaper cannot see the
 * child before it is listed. NULL when it cannot start (logged).
 */
static struct runner *spawn_locked(struct serve *s, const struct strvec *args,
				   const char *label, const char *who,
				   int *ready_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int errp[2] = { -1, -1 }, rp[2] = { -1, -1 }, rc;
	struct strvec argv = STRVEC_INIT, env = STRVEC_INIT;
	struct runner *r = NULL;
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) < 0 || (ready_fd && pipe2(rp, O_CLOEXEC))) {
		logf_("%s: cannot make a pipe: %s", label, strerror(errno));
		goto out;
	}
	strvec_push(&argv, self_exe());
	strvec_push(&argv, "serve");
	strvec_push(&argv, "--runner");
	for (size_t i = 0; i < args->nr; i++)
		strvec_push(&argv, args->v[i]);
	for (size_t i = 0; i < s->env.nr; i++)
		strvec_push(&env, s->env.v[i]);
	strvec_pushf(&env, "USER=%s", who ? who : "slipway");
	if (ready_fd)
		strvec_push(&env, "SLIPWAY_READY_FD=3");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	if (ready_fd)
		posix_spawn_file_actions_adddup2(&fa, rp[1], 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGUSR1);
	sigaddset(&def, SIGUSR2);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	/* its own process group: a terminal's ^C reaches the server only,
	 * which drains it */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, argv.v[0], &fa, &at, argv.v, env.v);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		logf_("%s: cannot start a runner: %s", label, strerror(rc));
		goto out;
	}
	r = xcalloc(1, sizeof(*r));
	r->pid = pid;
	r->label = xstrdup(label);
	r->err_fd = errp[0];
	errp[0] = -1;
	r->next = s->runners;
	s->runners = r;
	if (ready_fd) {
		*ready_fd = rp[0];
		rp[0] = -1;
		r->waiters = 1;
	}
	if (write(s->wake[1], "w", 1) < 0) {
		/* the loop wakes up anyway: it is full */
	}
out:
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (rp[0] >= 0)
		close(rp[0]);
	if (rp[1] >= 0)
		close(rp[1]);
	strvec_release(&argv);
	strvec_release(&env);
	return r;
}

/* The label of a runner: the execution id among its arguments. */
static const char *label_of(const struct strvec *args)
{
	for (size_t i = 1; i < args->nr; i++)
		if (!strncmp(args->v[i], "pe-", 3))
			return args->v[i];
	return "runner";
}

/* Wait (at most ms) until no live runner has this label. */
static void wait_runner_locked(struct serve *s, const char *label, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		bool live = false;

		for (struct runner *r = s->runners; r; r = r->next)
			live |= !r->exited && !strcmp(r->label, label);
		if (!live || pthread_cond_timedwait(&s->cond, &s->mu, &until) ==
				     ETIMEDOUT)
			return;
	}
}

int serve_spawn(struct serve *s, const struct strvec *args, const char *who,
		char **msg)
{
	struct runner *r;
	int fd = -1, status;
	char buf[8];
	size_t got = 0;
	int64_t until = mono_ms() + 120000;
	bool late = false;

	*msg = NULL;
	pthread_mutex_lock(&s->mu);
	/* a decision or a retry needs the execution's lock: let the runner
	 * that just left it waiting or failed finish first (a client that
	 * saw the state change may come before it exits) */
	if (strcmp(args->v[0], "stop") && strcmp(args->v[0], "start"))
		wait_runner_locked(s, label_of(args), 5000);
	r = s->stopping ? NULL
			: spawn_locked(s, args, label_of(args), who, &fd);
	pthread_mutex_unlock(&s->mu);
	if (!r) {
		*msg = xstrdup(s->stopping ? "the server is stopping"
					   : "cannot start a runner");
		return 111;
	}
	/* "ok\n", or the end of file of a runner that failed first */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = until - mono_ms();
		ssize_t n;

		if (left <= 0) {
			late = true;
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= 3 || got == sizeof(buf))
			break;
	}
	close(fd);
	pthread_mutex_lock(&s->mu);
	if ((got >= 3 && !memcmp(buf, "ok\n", 3)) || late) {
		/* late: it goes on, and its log says how; no client waits
		 * for a whole execution */
		r->waiters--;
		pthread_mutex_unlock(&s->mu);
		if (late)
			*msg = xstrdup("the runner did not take the request "
				       "within 120 s; it goes on: see the "
				       "server's log");
		return late ? 111 : 0;
	}
	while (!r->exited || r->err_fd >= 0)
		pthread_cond_wait(&s->cond, &s->mu);
	status = r->status;
	if (!status) { /* done before it had to say so: a stop */
		r->waiters--;
		pthread_mutex_unlock(&s->mu);
		if (write(s->wake[1], "w", 1) < 0) {
			/* full: it wakes up anyway */
		}
		return 0;
	}
	if (r->last) {
		const char *m = r->last;

		if (!strncmp(m, "slipway: ", 9))
			m += 9;
		if (!strncmp(m, "pipeline: ", 10))
			m += 10;
		*msg = xstrdup(m);
	} else {
		*msg = xstrdup("the runner ended without a word");
	}
	r->waiters--;
	pthread_mutex_unlock(&s->mu);
	if (write(s->wake[1], "w", 1) < 0) {
		/* full: it wakes up anyway */
	}
	return status;
}

int serve_start(struct serve *s, const struct pipeline *pl,
		const char *trigger_type, const char *trigger_detail,
		const char *revision, const struct strvec *vars,
		const char *who, char **id, char **msg)
{
	struct strvec args = STRVEC_INIT;
	const struct spl *sp = (const struct spl *)pl;
	char *nid, *broken;
	int ret;

	*id = NULL;
	*msg = NULL;
	pthread_mutex_lock(&s->mu);
	broken = xstrdup_or_null(sp->broken);
	pthread_mutex_unlock(&s->mu);
	if (broken) {
		*msg = xasprintf("the file of pipeline '%s' no longer loads "
				 "(%s): fix it and reload",
				 pl->name, broken);
		free(broken);
		return 1;
	}
	nid = serve_new_id();
	strvec_push(&args, "start");
	strvec_push(&args, s->state);
	strvec_push(&args, pl->file);
	strvec_push(&args, nid);
	strvec_push(&args,
		    trigger_type ? trigger_type : "StartPipelineExecution");
	strvec_push(&args, trigger_detail ? trigger_detail : "");
	strvec_push(&args, revision ? revision : "");
	for (size_t i = 0; vars && i < vars->nr; i++)
		strvec_push(&args, vars->v[i]);
	ret = serve_spawn(s, &args, who, msg);
	if (ret == 0 || ret == EXEC_WAITING) {
		*id = nid;
		nid = NULL;
		ret = 0;
	}
	free(nid);
	strvec_release(&args);
	return ret;
}

/* Read what a runner wrote; log each whole line. Main thread only. */
static void drain_output(struct serve *s, struct runner *r)
{
	char b[4096];
	ssize_t n = read(r->err_fd, b, sizeof(b));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	pthread_mutex_lock(&s->mu);
	if (n <= 0) {
		if (r->part.len) {
			logf_("%s: %s", r->label, r->part.ptr);
			free(r->last);
			r->last = buf_detach(&r->part);
		}
		close(r->err_fd);
		r->err_fd = -1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	buf_add(&r->part, b, (size_t)n);
	for (char *nl; (nl = memchr(r->part.ptr, '\n', r->part.len));) {
		*nl = 0;
		if (nl > r->part.ptr) {
			logf_("%s: %s", r->label, r->part.ptr);
			free(r->last);
			r->last = xstrdup(r->part.ptr);
		}
		buf_consume(&r->part, (size_t)(nl - r->part.ptr) + 1);
	}
	/* a line longer than this is logged in pieces */
	if (r->part.len > 8192) {
		logf_("%s: %s", r->label, r->part.ptr);
		buf_clear(&r->part);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Reap the runners that ended; free those nobody needs. */
static void reap(struct serve *s)
{
	pthread_mutex_lock(&s->mu);
	for (struct runner **pp = &s->runners, *r; (r = *pp);) {
		int st;

		if (!r->exited && waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->exited = true;
			r->status = WIFEXITED(st) ? WEXITSTATUS(st)
						  : 128 + WTERMSIG(st);
			logf_("%s: runner %d ended: %s (status %d)", r->label,
			      (int)r->pid, describe(r->status), r->status);
			pthread_cond_broadcast(&s->cond);
		}
		if (r->exited && r->err_fd < 0 && !r->waiters) {
			*pp = r->next;
			free(r->label);
			free(r->last);
			buf_release(&r->part);
			free(r);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&s->mu);
}

/* At start: take up the executions a drained runner left InProgress. */
static void resume_all(struct serve *s)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *st = NULL;
	struct store_query q = STORE_QUERY_INIT;
	struct store_execution *v = NULL;
	size_t nr = 0;
	char *db = store_locate(s->state);

	if (store_open(&st, db, &e) < 0 ||
	    store_list_executions(st, &q, &v, &nr, &e) < 0) {
		logf_("error: cannot look for executions to resume: %s", e.msg);
		goto out;
	}
	for (size_t i = nr; i-- > 0;) {
		struct store_query aq = STORE_QUERY_INIT;
		struct store_approval *ap = NULL;
		size_t anr = 0;
		char *lock;
		int held;

		if (strcmp(v[i].status, "InProgress") &&
		    strcmp(v[i].status, "Stopping"))
			continue;
		lock = xasprintf("%s/executions/%s/lock", s->state, v[i].id);
		held = fs_lock_held(lock);
		free(lock);
		if (held == 1)
			continue;
		aq.execution_id = v[i].id;
		aq.status = "InProgress";
		if (store_list_approvals(st, &aq, &ap, &anr, &e) < 0) {
			logf_("error: %s", e.msg);
			err_clear(&e);
			continue;
		}
		store_approvals_free(ap, anr);
		if (anr)
			continue; /* waiting for a decision, not for us */
		{
			struct strvec args = STRVEC_INIT;

			strvec_push(&args, "resume");
			strvec_push(&args, s->state);
			strvec_push(&args, v[i].id);
			logf_("%s: resuming (%s)", v[i].id, v[i].pipeline);
			pthread_mutex_lock(&s->mu);
			spawn_locked(s, &args, v[i].id, "slipway", NULL);
			pthread_mutex_unlock(&s->mu);
			strvec_release(&args);
		}
	}
out:
	store_executions_free(v, nr);
	store_close(st);
	free(db);
}

/* ---- the loop ----------------------------------------------------------- */

static void begin_stop(struct serve *s, int64_t *deadline)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (struct runner *r = s->runners; r; r = r->next)
		if (!r->exited) {
			kill(r->pid, SIGUSR2);
			n++;
		}
	pthread_mutex_unlock(&s->mu);
	http_quiesce(s->h);
	*deadline = mono_ms() + s->o->grace_ms;
	logf_("stopping: no new connections; %zu runner%s draining, "
	      "grace %llds",
	      n, n == 1 ? "" : "s", (long long)(s->o->grace_ms / 1000));
}

static void kill_all(struct serve *s)
{
	pthread_mutex_lock(&s->mu);
	for (struct runner *r = s->runners; r; r = r->next)
		if (!r->exited) {
			logf_("%s: killing runner %d (its running action "
			      "fails at the next start)",
			      r->label, (int)r->pid);
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
		}
	pthread_mutex_unlock(&s->mu);
}

static bool runners_left(struct serve *s)
{
	bool any;

	pthread_mutex_lock(&s->mu);
	any = s->runners != NULL;
	pthread_mutex_unlock(&s->mu);
	return any;
}

static void loop(struct serve *s, int sfd)
{
	int64_t deadline = 0;
	bool killed = false;

	for (;;) {
		struct pollfd *p;
		struct runner **who;
		size_t n = 2, k = 2;
		int timeout = -1;

		pthread_mutex_lock(&s->mu);
		for (struct runner *r = s->runners; r; r = r->next)
			n += r->err_fd >= 0;
		p = xcalloc(n, sizeof(*p));
		who = xcalloc(n, sizeof(*who));
		p[0].fd = sfd;
		p[0].events = POLLIN;
		p[1].fd = s->wake[0];
		p[1].events = POLLIN;
		for (struct runner *r = s->runners; r; r = r->next)
			if (r->err_fd >= 0) {
				p[k].fd = r->err_fd;
				p[k].events = POLLIN;
				who[k++] = r;
			}
		pthread_mutex_unlock(&s->mu);
		if (s->stopping) {
			int64_t left = deadline - mono_ms();

			timeout = killed ? 200 : left < 0 ? 0 : (int)left;
		}
		if (poll(p, n, timeout) < 0 && errno != EINTR) {
			logf_("error: poll: %s", strerror(errno));
			free(p);
			free(who);
			break;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					logf_("SIGHUP: reloading the pipeline "
					      "files");
					reload(s);
				} else if (si.ssi_signo == SIGTERM ||
					   si.ssi_signo == SIGINT) {
					if (!s->stopping) {
						begin_stop(s, &deadline);
					} else if (!killed) {
						logf_("second signal: not "
						      "waiting any longer");
						kill_all(s);
						killed = true;
					}
				}
			}
		}
		if (p[1].revents & POLLIN) {
			char b[64];

			if (read(s->wake[0], b, sizeof(b)) < 0) {
				/* EAGAIN: another read took them */
			}
		}
		for (size_t i = 2; i < k; i++)
			if (p[i].revents)
				drain_output(s, who[i]);
		free(p);
		free(who);
		reap(s);
		if (s->stopping) {
			if (!runners_left(s))
				break;
			if (!killed && mono_ms() >= deadline) {
				logf_("grace period over");
				kill_all(s);
				killed = true;
			}
		}
	}
}

/* ---- start ------------------------------------------------------------ */

static int write_port_file(const char *path, unsigned short port,
			   struct sw_err *e)
{
	char b[16];
	int n = snprintf(b, sizeof(b), "%u\n", port);

	return fs_write_atomic(path, b, (size_t)n, 0644, e);
}

int serve_run(const struct serve_opts *o)
{
	struct serve s;
	struct serve_opts oo = *o;
	struct http_opts ho = HTTP_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct state st = STATE_INIT;
	char *addr = NULL, *tokpath = NULL;
	unsigned short port = 8080;
	sigset_t mask;
	int sfd = -1, ret = 111, bad = 0;

	memset(&s, 0, sizeof(s));
	s.wake[0] = s.wake[1] = -1;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cond, NULL);
	strvec_init(&s.env);
	if (!oo.grace_ms)
		oo.grace_ms = 10 * 60 * 1000;
	if (oo.workers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		oo.workers = n > 0 ? (int)n : 1;
	}
	s.o = &oo;
	if (http_parse_listen(oo.listen ? oo.listen : "127.0.0.1:8080", &addr,
			      &port, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		ret = 2;
		goto out;
	}
	if (!oo.token_file && !http_is_loopback(addr ? addr : "0.0.0.0")) {
		fprintf(stderr,
			"error: listening on %s needs --token-file: without "
			"it only a loopback address is served\n",
			oo.listen);
		ret = 2;
		goto out;
	}
	if (!oo.pipelines.nr) {
		fprintf(stderr, "error: serve wants at least one --pipelines "
				"PATH\n");
		ret = 2;
		goto out;
	}
	if (state_open(&st, oo.state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		goto out;
	}
	s.state = xstrdup(st.dir);
	if (oo.token_file) {
		if (auth_load(&s.tokens, oo.token_file, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			ret = e.code == ERR_SPEC ? 3 : 111;
			goto out;
		}
	} else {
		char *t = auth_generate(), *line = xasprintf("%s\n", t);

		tokpath = fs_join(s.state, "serve-token");
		if (fs_write_atomic(tokpath, line, strlen(line), 0600, &e) <
		    0) {
			fprintf(stderr, "error: %s\n", e.msg);
			free(t);
			free(line);
			goto out;
		}
		auth_add(&s.tokens, t, "local");
		free(t);
		free(line);
	}
	s.cur = load_all(&s, NULL, &bad);
	if (bad) {
		fprintf(stderr, "error: %d pipeline file%s refused\n", bad,
			bad == 1 ? "" : "s");
		ret = 3;
		goto out;
	}
	for (char **ep = environ; *ep; ep++)
		if (strncmp(*ep, "USER=", 5) &&
		    strncmp(*ep, "SLIPWAY_READY_FD=", 17) &&
		    strncmp(*ep, "SLIPWAY_WORKERS=", 16) &&
		    strncmp(*ep, "SLIPWAY_QUEUE=", 14) &&
		    strncmp(*ep, "SLIPWAY_PUBLIC_URL=", 19))
			strvec_push(&s.env, *ep);
	if (oo.queue)
		strvec_push(&s.env, "SLIPWAY_QUEUE=1");
	else
		strvec_pushf(&s.env, "SLIPWAY_WORKERS=%d", oo.workers);

	/* every thread made from here on has these blocked: the loop
	 * takes them from its signalfd */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "error: signalfd: %s\n", strerror(errno));
		goto out;
	}

	ho.address = addr;
	ho.port = port;
	ho.tokens = &s.tokens;
	ho.max_body = oo.max_body;
	ho.request_timeout_ms = oo.request_timeout_ms;
	s.h = http_new(&ho);
	login_routes(s.h, &s.tokens);
	api_routes(s.h, &s);
	intake_routes(s.h, &s);
	dashboard_routes(s.h, &s);
	if (http_start(s.h, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		goto out;
	}
	logf_("slipway %s serving %zu pipeline%s on http://%s%s%s:%u/ "
	      "(state %s, %d worker%s)",
	      SW_VERSION, s.cur->pub.nr, s.cur->pub.nr == 1 ? "" : "s",
	      addr && strchr(addr, ':') ? "[" : "", addr ? addr : "127.0.0.1",
	      addr && strchr(addr, ':') ? "]" : "", http_port(s.h), s.state,
	      oo.queue ? 0 : oo.workers,
	      !oo.queue && oo.workers == 1 ? "" : "s");
	if (oo.public_url)
		strvec_pushf(&s.env, "SLIPWAY_PUBLIC_URL=%s", oo.public_url);
	else
		strvec_pushf(&s.env, "SLIPWAY_PUBLIC_URL=http://%s%s%s:%u",
			     addr && strchr(addr, ':') ? "[" : "",
			     addr ? addr : "127.0.0.1",
			     addr && strchr(addr, ':') ? "]" : "",
			     http_port(s.h));
	if (tokpath)
		logf_("no --token-file: the token for this run is in %s",
		      tokpath);
	if (oo.port_file &&
	    write_port_file(oo.port_file, http_port(s.h), &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		goto out;
	}
	resume_all(&s);
	intake_poll_start(&s);
	loop(&s, sfd);
	logf_("stopped");
	ret = 0;
out:
	intake_poll_stop();
	http_free(s.h);
	while (s.runners) {
		struct runner *r = s.runners;

		s.runners = r->next;
		if (r->err_fd >= 0)
			close(r->err_fd);
		free(r->label);
		free(r->last);
		buf_release(&r->part);
		free(r);
	}
	if (s.cur)
		snap_free(s.cur);
	while (s.nr_pool)
		store_close(s.pool[--s.nr_pool]);
	if (sfd >= 0)
		close(sfd);
	if (s.wake[0] >= 0)
		close(s.wake[0]);
	if (s.wake[1] >= 0)
		close(s.wake[1]);
	auth_release(&s.tokens);
	strvec_release(&s.env);
	state_release(&st);
	free(s.state);
	free(addr);
	free(tokpath);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.mu);
	return ret;
}

/* ---- the runner's side ---------------------------------------------- */

/*
 *   start STATE FILE ID TRIGGER-TYPE TRIGGER-DETAIL REVISION [NAME=VALUE]...
 *   decide STATE ID approve|reject TARGET SUMMARY
 *   retry STATE ID failed|all
 *   resume STATE ID
 *   stop STATE ID finish|abandon REASON
 * An empty argument stands for none.
 */
/* A runner outlives a server that died: what it writes to the server
 * then fails (EPIPE) instead of killing it. A handler, not SIG_IGN, so
 * that the commands it runs get the default back. */
static void on_sigpipe(int sig)
{
	(void)sig;
}

int serve_runner_main(int argc, char **argv)
{
	const char *k = argc > 0 ? argv[0] : "";
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigpipe;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGPIPE, &sa, NULL);

#define OR_NULL(x) (*(x) ? (x) : NULL)
	exec_catch_drain();
	if (!strcmp(k, "start") && argc >= 7) {
		struct exec_opts o = EXEC_OPTS_INIT;
		int ret;

		o.state_dir = argv[1];
		o.id = argv[3];
		o.trigger_type = OR_NULL(argv[4]);
		o.trigger_detail = OR_NULL(argv[5]);
		o.revision = OR_NULL(argv[6]);
		for (int i = 7; i < argc; i++)
			strvec_push(&o.vars, argv[i]);
		ret = exec_start(argv[2], &o);
		strvec_release(&o.vars);
		return ret;
	}
	if (!strcmp(k, "decide") && argc == 6)
		return exec_decide(argv[1], argv[2], OR_NULL(argv[4]),
				   !strcmp(argv[3], "approve"),
				   OR_NULL(argv[5]));
	if (!strcmp(k, "retry") && argc == 4)
		return exec_retry(argv[1], argv[2], !strcmp(argv[3], "all"));
	if (!strcmp(k, "resume") && argc == 3)
		return exec_resume(argv[1], argv[2]);
	if (!strcmp(k, "stop") && argc == 5)
		return exec_stop(argv[1], argv[2], !strcmp(argv[3], "abandon"),
				 OR_NULL(argv[4]));
#undef OR_NULL
	fprintf(stderr, "slipway: serve --runner: bad arguments\n");
	return 2;
}
