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

#include "blob.h"
#include "fs.h"
#include "queue.h"
#include "state.h"
#include "store.h"
#include "strvec.h"
#include "wclient.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

/* How often an idle worker looks at the queue (ms). */
#define WORKER_IDLE_MS 100
/* The same when the store wakes it on a queued job (PostgreSQL's
 * LISTEN): a notice lost or missed is made up for this late. */
#define WORKER_LISTEN_MS 1000
/* how often a lost store connection is made again */
#define WORKER_REOPEN_MS 1000
/* How long a job being stopped has between SIGTERM and SIGKILL (ms). */
#define WORKER_GRACE_MS 5000

struct running {
	struct store_job job;
	pid_t pid; /* 0: the slot is free */
	int64_t renew_at;
	bool lost;
	bool cancelled; /* its action ended on its runner (abandoned) */
	int64_t kill_at; /* SIGTERM sent: SIGKILL then, 0: not stopping */
	char *dir; /* <state>/jobs/<id>: its files on this machine */
	off_t sent; /* how much of dir/log the server has */
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
	bool remote; /* --server or --shared-dir: not the runner's files */
	struct wclient client; /* with --server */
	int64_t reopen_at; /* the next try at a store connection lost */
	bool lost; /* it is lost, and said so */
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

/*
 * A PostgreSQL store whose connection is gone (the server restarted, the
 * network cut, the backend terminated) is opened again, once a second,
 * and listened to again: *nfd is its new descriptor, -1 meanwhile (the
 * old one is closed, or some other file's by now). Leases of the jobs
 * running meanwhile are renewed again once it is back; one that expired
 * meanwhile is refused at the next heartbeat, as for a slow worker.
 * Returns whether the store can be used now.
 */
static bool store_again(struct worker *w, const char *db, int *nfd, int64_t now)
{
	struct sw_err e = SW_ERR_INIT;
	struct store *s;

	if (store_alive(w->s))
		return true;
	*nfd = -1;
	if (now < w->reopen_at)
		return false;
	w->reopen_at = now + WORKER_REOPEN_MS;
	if (store_open(&s, db, &e) < 0) {
		if (!w->lost)
			say(w,
			    "store connection lost, trying again every %d "
			    "ms: %s",
			    WORKER_REOPEN_MS, e.msg);
		w->lost = true;
		err_clear(&e);
		return false;
	}
	store_close(w->s);
	w->s = s;
	*nfd = store_job_listen(s, &e);
	err_clear(&e);
	say(w, "store connection lost, and made again");
	w->lost = false;
	return true;
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

/* Replace the value after option opt in argv by val. */
static void set_option(struct strvec *argv, const char *opt, const char *val)
{
	for (size_t i = 0; i + 1 < argv->nr; i++)
		if (!strcmp(argv->v[i], opt)) {
			free(argv->v[i + 1]);
			argv->v[i + 1] = xstrdup(val);
		}
}

/*
 * The pipeline artifacts the job's arguments name, fetched by digest
 * into <state>/inputs/<digest> (once per worker), each argument made a
 * link of the same name under dir (a build takes its project's name
 * from it).
 */
static int fetch_inputs(struct worker *w, json_object *spec, const char *dir,
			struct strvec *argv, struct sw_err *e)
{
	json_object *ins, *in, *x;

	if (!json_object_object_get_ex(spec, "inputs", &ins))
		return 0;
	for (size_t k = 0; k < json_object_array_length(ins); k++) {
		const char *hex, *base;
		char *rel, *cache, *tar, *link;
		size_t i;

		in = json_object_array_get_idx(ins, k);
		if (!json_object_object_get_ex(in, "index", &x))
			continue;
		i = (size_t)json_object_get_int64(x);
		if (!json_object_object_get_ex(in, "digest", &x) ||
		    i >= argv->nr)
			continue;
		hex = json_object_get_string(x);
		if (!blob_is_digest(hex))
			return err_set(e, ERR_SYSTEM, "bad input digest");
		rel = fs_join(w->state, "inputs");
		cache = fs_join(rel, hex);
		tar = xasprintf("%s.tar", cache);
		if (!fs_is_dir(cache)) {
			if (!w->o->server) {
				free(rel);
				free(cache);
				free(tar);
				return err_set(e, ERR_SYSTEM,
					       "input artifact %s: not here, "
					       "and no --server to fetch it",
					       hex);
			}
			if (fs_mkdir_p(rel, 0755, e) < 0 ||
			    wclient_get_blob(&w->client, hex, tar, e) < 0 ||
			    (blob_unpack(tar, cache, e) < 0 &&
			     !fs_is_dir(cache))) {
				free(rel);
				free(cache);
				free(tar);
				return -1;
			}
			unlink(tar);
			err_clear(e);
		}
		free(rel);
		base = strrchr(argv->v[i], '/');
		base = base ? base + 1 : argv->v[i];
		link = fs_join(dir, base);
		unlink(link);
		if (symlink(cache, link) < 0) {
			err_sys(e, "%s", link);
			free(cache);
			free(tar);
			free(link);
			return -1;
		}
		free(argv->v[i]);
		argv->v[i] = link;
		free(cache);
		free(tar);
	}
	return 0;
}

/* After a build ran here for another machine: its result as a blob. */
static int send_result(struct worker *w, const char *dir, struct sw_err *e)
{
	char *res = fs_join(dir, "result"), *tar = fs_join(dir, "result.tar");
	char *note = fs_join(dir, "artifact");
	char hex[65];
	int ret = -1;

	if (blob_pack(res, tar, hex, e) < 0)
		goto out;
	if (w->o->shared_dir) {
		char *to = fs_join(w->o->shared_dir, hex);
		char *tmp = fs_tmp_name(to);

		ret = fs_copy_tree(tar, tmp, NULL, e);
		if (!ret && rename(tmp, to) < 0)
			ret = err_sys(e, "rename '%s'", to);
		free(to);
		free(tmp);
		if (ret < 0)
			goto out;
		ret = -1;
	} else if (wclient_put_blob(&w->client, tar, hex, e) < 0) {
		goto out;
	}
	ret = fs_write_atomic(note, hex, 64, 0644, e);
out:
	free(res);
	free(tar);
	free(note);
	return ret;
}

/* In the job's child: run it; never returns. */
static void run_child(struct worker *w, struct running *r, pid_t parent)
{
	const struct store_job *j = &r->job;
	json_object *spec = json_tokener_parse(j->spec);
	struct strvec argv = STRVEC_INIT, env = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *log, *cwd;
	bool build = !strcmp(j->kind, "build");
	char *locallog = NULL;
	int fd, status;
	pid_t pid;

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
	if ((build || (w->remote && !strcmp(j->kind, "deploy"))) &&
	    (w->o->state_dir || w->remote))
		set_option(&argv, "--state-dir", w->state);
	log = json_str(spec, "log");
	if (w->o->server) {
		locallog = fs_join(r->dir, "log");
		log = locallog;
	}
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
	if (w->remote) {
		char *res = fs_join(r->dir, "result");
		char *out = fs_join(res, "out");
		char *rep = fs_join(res, "report.json");

		if (fetch_inputs(w, spec, r->dir, &argv, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			_exit(111);
		}
		if (build) {
			set_option(&argv, "--report", rep);
			set_option(&argv, "-o", out);
			/* a build with no artifact makes no out/ to hold it */
			if (fs_mkdir_p(res, 0755, &e) < 0) {
				fprintf(stderr, "error: %s\n", e.msg);
				_exit(111);
			}
		}
		free(res);
		free(out);
		free(rep);
	}
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
	/* here, its output is all there is to send: run it in our place */
	pid = w->remote && build ? fork() : 0;
	if (pid == 0) {
		execv(argv.v[0], argv.v);
		fprintf(stderr, "error: cannot run %s: %s\n", argv.v[0],
			strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "error: fork: %s\n", strerror(errno));
		_exit(111);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(111);
	if (!WIFEXITED(status))
		_exit(128 + WTERMSIG(status));
	if (WEXITSTATUS(status) == 0 && send_result(w, r->dir, &e) < 0) {
		fprintf(stderr, "error: job %s: sending its result: %s\n",
			j->id, e.msg);
		_exit(111);
	}
	_exit(WEXITSTATUS(status));
}

/* Send the server what was added to the job's log here. */
static void stream_log(struct worker *w, struct running *r)
{
	struct sw_err e = SW_ERR_INIT;
	char *path, buf[65536];
	ssize_t n;
	int fd;

	if (!w->o->server || !r->dir)
		return;
	path = fs_join(r->dir, "log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return;
	while ((n = pread(fd, buf, sizeof(buf), r->sent)) > 0) {
		int rc = wclient_post_log(&w->client, r->job.id, w->name, buf,
					  (size_t)n, &e);

		if (rc < 0) {
			say(w, "job %s: log: %s", r->job.id, e.msg);
			break;
		}
		r->sent += n;
		if (rc == 1)
			break;
	}
	close(fd);
}

static int start(struct worker *w, struct running *r)
{
	pid_t parent = getpid();

	struct sw_err e = SW_ERR_INIT;

	free(r->dir);
	r->dir = NULL;
	r->sent = 0;
	if (w->remote) {
		char *rel = xasprintf("jobs/%s", r->job.id);

		r->dir = fs_join(w->state, rel);
		free(rel);
		fs_remove_tree(r->dir, &e);
		if (fs_mkdir_p(r->dir, 0755, &e) < 0) {
			say(w, "job %s: %s", r->job.id, e.msg);
			return -1;
		}
	}
	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	if (r->pid < 0) {
		r->pid = 0;
		return -1;
	}
	if (r->pid == 0)
		run_child(w, r, parent);
	setpgid(r->pid, r->pid);
	r->renew_at = queue_wall_ms() + w->lease / 3;
	r->lost = false;
	r->cancelled = false;
	r->kill_at = 0;
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

	if (r->dir) {
		char *note = fs_join(r->dir, "artifact"), *hex = NULL;
		size_t len;

		stream_log(w, r);
		if (code == 0 && fs_read_file(note, 64, &hex, &len, &e) == 0 &&
		    len == 64) {
			char *res = fs_join(r->dir, "result");
			json_object *o = json_object_new_object();

			json_object_object_add(o, "exit",
					       json_object_new_int(code));
			json_object_object_add(o, "artifact",
					       json_object_new_string(hex));
			json_object_object_add(o, "root",
					       json_object_new_string(res));
			if (w->o->shared_dir)
				json_object_object_add(
					o, "shared",
					json_object_new_string(
						w->o->shared_dir));
			free(result);
			result = xstrdup(json_object_to_json_string_ext(
				o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			free(res);
		}
		err_clear(&e);
		free(note);
		free(hex);
	}
	if (r->cancelled) {
		free(reason);
		reason = xstrdup("its action ended on its runner (stopped or "
				 "abandoned): the job was stopped");
		code = code ? code : 1;
	}
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

/*
 * Whether the action the job runs for has ended on its runner (stopped
 * with --abandon, or failed when its runner was killed): then nobody
 * waits for the job.
 */
static bool action_ended(struct worker *w, const struct store_job *j)
{
	struct store_query q = STORE_QUERY_INIT;
	struct sw_err e = SW_ERR_INIT;
	json_object *spec = json_tokener_parse(j->spec);
	const char *x = spec ? json_str(spec, "execution") : NULL;
	const char *name = spec ? json_str(spec, "action") : NULL;
	const char *slash = name ? strchr(name, '/') : NULL;
	struct store_action *v = NULL, *last = NULL;
	size_t nr = 0;
	bool ended = false;

	q.execution_id = x;
	if (x && slash && store_list_actions(w->s, &q, &v, &nr, &e) == 0) {
		for (size_t i = 0; i < nr; i++)
			if (!strncmp(v[i].stage, name,
				     (size_t)(slash - name)) &&
			    !v[i].stage[slash - name] &&
			    !strcmp(v[i].action, slash + 1) &&
			    (!last || v[i].attempt > last->attempt))
				last = &v[i];
		ended = last && strcmp(last->status, "InProgress");
	}
	store_actions_free(v, nr);
	json_object_put(spec);
	return ended;
}

/* SIGTERM to the job's process group (slipway forwards it to the
 * groups of its steps), SIGKILL after the grace. */
static void stop_job(struct running *r, int64_t now)
{
	if (r->kill_at)
		return;
	kill(-r->pid, SIGTERM);
	r->kill_at = now + WORKER_GRACE_MS;
}

static void renew(struct worker *w, int64_t now)
{
	for (int i = 0; i < w->nslots; i++) {
		struct running *r = &w->slot[i];
		struct sw_err e = SW_ERR_INIT;
		int rc;

		if (r->pid && r->kill_at && now >= r->kill_at)
			kill(-r->pid, SIGKILL);
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
			stop_job(r, now);
			continue;
		}
		r->renew_at = now + w->lease / 3;
		if (!r->cancelled && action_ended(w, &r->job)) {
			say(w,
			    "job %s: its action ended on its runner, stopping "
			    "it",
			    r->job.id);
			r->cancelled = true;
			stop_job(r, now);
		}
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
	int sfd = -1, nfd = -1, ret = 111;
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
	nfd = store_job_listen(w.s, &e);
	if (nfd < 0 && e.msg[0]) {
		say(&w, "cannot listen for jobs, looking every %d ms: %s",
		    WORKER_IDLE_MS, e.msg);
		err_clear(&e);
	}
	w.remote = o->server || o->shared_dir;
	if (o->server &&
	    wclient_init(&w.client, o->server, o->token_file, &e) < 0)
		goto fail;
	if (o->shared_dir && fs_mkdir_p(o->shared_dir, 0755, &e) < 0)
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
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = nfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		int64_t now = queue_wall_ms();
		bool up;

		/* without a store, the results wait (their processes
		 * unreaped) and nothing is claimed */
		up = store_again(&w, db, &nfd, now);
		p[1].fd = nfd;
		if (up) {
			reap_children(&w);
			renew(&w, now);
		}
		for (int i = 0; i < w.nslots; i++)
			if (w.slot[i].pid && !w.slot[i].lost)
				stream_log(&w, &w.slot[i]);
		if (up && now >= next_reap) {
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
		if (up && claim(&w) < 0)
			err_clear(&e);
		if (w.stopping && !w.busy)
			break;
		if (o->exit_when_idle && !w.busy) {
			say(&w, "queue empty, exiting");
			break;
		}
		/* a job queued meanwhile (its notice may have come with the
		 * answer to another statement): claim again at once */
		if (nfd >= 0 && store_job_notified(w.s) && !w.stopping &&
		    w.busy < w.nslots)
			continue;
		if (poll(p, nfd >= 0 ? 2 : 1,
			 nfd >= 0 && !w.busy ? WORKER_LISTEN_MS
					     : WORKER_IDLE_MS) > 0 &&
		    p[0].revents)
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
	for (int i = 0; i < w.nslots; i++) {
		if (w.slot[i].pid)
			store_job_release(&w.slot[i].job);
		free(w.slot[i].dir);
	}
	free(w.slot);
	wclient_release(&w.client);
	free(w.state);
	free(w.name);
	free(db);
	return ret;
}
