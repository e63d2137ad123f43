/*
 * slipway worker (see worker.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "queue.h"
#include "state.h"
#include "store.h"
#include "strvec.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

/* How often an idle worker looks at the queue (ms). */
#define WORKER_IDLE_MS 100

struct running {
	struct store_job job;
	pid_t pid; /* 0: the slot is free */
	int64_t renew_at;
	bool lost;
};

struct worker {
	const struct worker_opts *o;
	struct store *s;
	char *state; /* absolute */
	char *name;
	int64_t lease;
	struct running *slot;
	int nslots, busy;
	bool stopping;
};

static void say(const struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const struct worker *w, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "worker %s: ", w->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void json_strings(json_object *o, const char *key, struct strvec *v)
{
	json_object *a;

	if (!json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		strvec_push(v, json_object_get_string(
				       json_object_array_get_idx(a, i)));
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *x;

	return json_object_object_get_ex(o, key, &x) ? json_object_get_string(x)
						     : NULL;
}

/* In the job's child: run it; never returns. */
static void run_child(struct worker *w, const struct store_job *j, pid_t parent)
{
	json_object *spec = json_tokener_parse(j->spec);
	struct strvec argv = STRVEC_INIT, env = STRVEC_INIT;
	const char *log, *cwd;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(111);
	setpgid(0, 0);
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (!spec) {
		fprintf(stderr, "error: job %s: its spec is not JSON\n", j->id);
		_exit(111);
	}
	json_strings(spec, "argv", &argv);
	json_strings(spec, "env", &env);
	/* a build keeps its sources and caches in the worker's state */
	if (!strcmp(j->kind, "build") && w->o->state_dir)
		for (size_t i = 0; i + 1 < argv.nr; i++)
			if (!strcmp(argv.v[i], "--state-dir")) {
				free(argv.v[i + 1]);
				argv.v[i + 1] = xstrdup(w->state);
			}
	log = json_str(spec, "log");
	if (log) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	fprintf(stderr, "slipway: job %s attempt %ld on worker %s\n", j->id,
		j->attempt, w->name);
	if (j->reason)
		fprintf(stderr, "slipway: run again: %s\n", j->reason);
	fflush(stderr);
	for (size_t i = 0; i < env.nr; i++)
		putenv(xstrdup(env.v[i]));
	setenv("SLIPWAY_JOB_ID", j->id, 1);
	setenv("SLIPWAY_WORKER", w->name, 1);
	cwd = json_str(spec, "cwd");
	if (cwd && chdir(cwd) < 0) {
		fprintf(stderr, "error: %s: %s\n", cwd, strerror(errno));
		_exit(127);
	}
	if (!argv.nr) {
		fprintf(stderr, "error: job %s has no argv\n", j->id);
		_exit(127);
	}
	execv(argv.v[0], argv.v);
	fprintf(stderr, "error: cannot run %s: %s\n", argv.v[0],
		strerror(errno));
	_exit(127);
}

static int start(struct worker *w, struct running *r)
{
	pid_t parent = getpid();

	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	if (r->pid < 0) {
		r->pid = 0;
		return -1;
	}
	if (r->pid == 0)
		run_child(w, &r->job, parent);
	setpgid(r->pid, r->pid);
	r->renew_at = queue_wall_ms() + w->lease / 3;
	r->lost = false;
	w->busy++;
	say(w, "started job %s (%s, attempt %ld)", r->job.id, r->job.kind,
	    r->job.attempt);
	return 0;
}

static void finished(struct worker *w, struct running *r, int status)
{
	struct sw_err e = SW_ERR_INIT;
	int code = WIFEXITED(status) ? WEXITSTATUS(status)
				     : 128 + WTERMSIG(status);
	char *result = xasprintf("{\"exit\":%d}", code);
	char *reason =
		code ? (WIFEXITED(status) ? xasprintf("exit status %d", code)
					  : xasprintf("killed by signal %d",
						      WTERMSIG(status)))
		     : NULL;
	int rc = 1;

	if (!r->lost)
		rc = store_job_complete(w->s, r->job.id, w->name,
					code ? "Failed" : "Succeeded", result,
					reason, queue_wall_ms(), &e);
	if (rc < 0)
		say(w, "job %s: cannot report: %s", r->job.id, e.msg);
	else if (rc == 1)
		say(w, "job %s: lease lost, its result dropped", r->job.id);
	else
		say(w, "job %s %s", r->job.id, code ? "failed" : "succeeded");
	free(result);
	free(reason);
	store_job_release(&r->job);
	r->pid = 0;
	w->busy--;
}

static void renew(struct worker *w, int64_t now)
{
	for (int i = 0; i < w->nslots; i++) {
		struct running *r = &w->slot[i];
		struct sw_err e = SW_ERR_INIT;
		int rc;

		if (!r->pid || r->lost || now < r->renew_at)
			continue;
		rc = store_job_heartbeat(w->s, r->job.id, w->name, now,
					 w->lease, &e);
		if (rc < 0) {
			/* the store may be back before the lease ends */
			say(w, "job %s: heartbeat: %s", r->job.id, e.msg);
			r->renew_at = now + WORKER_IDLE_MS * 5;
			continue;
		}
		if (rc == 1) {
			say(w, "job %s: lease taken back, stopping it",
			    r->job.id);
			r->lost = true;
			kill(-r->pid, SIGKILL);
			continue;
		}
		r->renew_at = now + w->lease / 3;
	}
}

static int claim(struct worker *w)
{
	struct sw_err e = SW_ERR_INIT;

	while (!w->stopping && w->busy < w->nslots) {
		struct running *r = NULL;
		int rc;

		for (int i = 0; i < w->nslots && !r; i++)
			if (!w->slot[i].pid)
				r = &w->slot[i];
		rc = store_job_claim(w->s, w->name, w->o->labels,
				     queue_wall_ms(), w->lease, &r->job, &e);
		if (rc < 0) {
			say(w, "claim: %s", e.msg);
			return -1;
		}
		if (rc == 1)
			return 0;
		if (start(w, r) < 0) {
			say(w, "job %s: fork: %s", r->job.id, strerror(errno));
			store_job_release(&r->job);
			return -1;
		}
	}
	return 0;
}

static void reap_children(struct worker *w)
{
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p <= 0)
			return;
		for (int i = 0; i < w->nslots; i++)
			if (w->slot[i].pid == p)
				finished(w, &w->slot[i], status);
	}
}

int worker_main(const struct worker_opts *o)
{
	struct worker w = { .o = o };
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	char host[256] = "worker";
	char *db = NULL;
	sigset_t mask;
	int sfd = -1, ret = 111;
	int64_t next_reap = 0;

	w.nslots = o->slots > 0 ? o->slots : 1;
	w.slot = xcalloc((size_t)w.nslots, sizeof(*w.slot));
	w.lease = o->lease_ms > 0 ? o->lease_ms : queue_lease_ms();
	gethostname(host, sizeof(host) - 1);
	w.name = o->name ? xstrdup(o->name)
			 : xasprintf("%s-%ld", host, (long)getpid());
	if (state_open(&st, o->state_dir, &e) < 0)
		goto fail;
	w.state = xstrdup(st.dir);
	state_release(&st);
	/* "sqlite:PATH", a path or a PostgreSQL URL: store_open() knows */
	db = o->db ? xstrdup(o->db) : store_locate(w.state);
	if (store_open(&w.s, db, &e) < 0)
		goto fail;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		err_sys(&e, "signalfd");
		goto fail;
	}
	say(&w, "ready (%d slot%s%s%s, lease %lld ms)", w.nslots,
	    w.nslots == 1 ? "" : "s", o->labels ? ", labels " : "",
	    o->labels ? o->labels : "", (long long)w.lease);
	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;
		int64_t now = queue_wall_ms();

		reap_children(&w);
		renew(&w, now);
		if (now >= next_reap) {
			long nq = 0, nf = 0;

			if (store_job_reap(w.s, now, &nq, &nf, &e) < 0) {
				say(&w, "reap: %s", e.msg);
				err_clear(&e);
			} else if (nq || nf) {
				say(&w,
				    "took back %ld expired lease%s (%ld "
				    "queued again, %ld failed)",
				    nq + nf, nq + nf == 1 ? "" : "s", nq, nf);
			}
			next_reap = now + w.lease / 3;
		}
		if (claim(&w) < 0)
			err_clear(&e);
		if (w.stopping && !w.busy)
			break;
		if (o->exit_when_idle && !w.busy) {
			say(&w, "queue empty, exiting");
			break;
		}
		if (poll(&p, 1, WORKER_IDLE_MS) > 0)
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD && !w.stopping) {
					w.stopping = true;
					say(&w, "stopping: %d job%s to finish",
					    w.busy, w.busy == 1 ? "" : "s");
				}
	}
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
out:
	if (sfd >= 0)
		close(sfd);
	store_close(w.s);
	for (int i = 0; i < w.nslots; i++)
		if (w.slot[i].pid)
			store_job_release(&w.slot[i].job);
	free(w.slot);
	free(w.state);
	free(w.name);
	free(db);
	return ret;
}
