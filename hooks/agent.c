#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "bundle.h"
#include "fs.h"
#include "install.h"
#include "proc.h"
#include "retire.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

/* o.traffic_remote: how often the wait for the answer looks again when
 * nothing woke it (inotify does, at once, where it works) */
#define TRAFFIC_POLL_MS 100

static const char *const status_names[] = {
	[AGENT_PENDING] = "Pending",	 [AGENT_IN_PROGRESS] = "InProgress",
	[AGENT_SUCCEEDED] = "Succeeded", [AGENT_FAILED] = "Failed",
	[AGENT_SKIPPED] = "Skipped",
};

const char *agent_status_name(enum agent_status st)
{
	if ((unsigned)st < ARRAY_SIZE(status_names))
		return status_names[st];
	return "Unknown";
}

int agent_status_from_name(const char *name, enum agent_status *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (!strcmp(name, status_names[i])) {
			*st = (enum agent_status)i;
			return 0;
		}
	return -1;
}

char *agent_new_deployment_id(void)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[9];
	char *id = xmalloc(12);

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		uint64_t x =
			(uint64_t)proc_wall_ms() ^ ((uint64_t)getpid() << 20);

		for (size_t i = 0; i < sizeof(rnd); i++, x >>= 5)
			rnd[i] = (unsigned char)x;
	}
	id[0] = 'd';
	id[1] = '-';
	for (size_t i = 0; i < sizeof(rnd); i++)
		id[2 + i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	id[11] = '\0';
	return id;
}

bool agent_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (!n || n > 128 || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

void agent_result_release(struct agent_result *r)
{
	if (!r)
		return;
	free(r->message);
	for (int i = 0; i < APPSPEC_NEVENTS; i++) {
		free(r->events[i].error_code);
		free(r->events[i].script_name);
		free(r->events[i].message);
		free(r->events[i].log_tail);
	}
	*r = (struct agent_result)AGENT_RESULT_INIT;
}

/* What the agent lets come before DownloadBundle (the events that run
 * the last successful revision's scripts) and before Install (those,
 * DownloadBundle and BeforeInstall). */
static bool may_precede(enum appspec_event ev, enum appspec_event what)
{
	switch (ev) {
	case APPSPEC_BEFORE_BLOCK_TRAFFIC:
	case APPSPEC_AFTER_BLOCK_TRAFFIC:
	case APPSPEC_APPLICATION_STOP:
		return true;
	case APPSPEC_DOWNLOAD_BUNDLE:
	case APPSPEC_BEFORE_INSTALL:
		return what == APPSPEC_INSTALL;
	default:
		return false;
	}
}

int agent_events_parse(const char *list, enum appspec_event *order, size_t *nr,
		       struct sw_err *e)
{
	enum appspec_event got[APPSPEC_NEVENTS];
	bool seen[APPSPEC_NEVENTS] = { false };
	size_t n = 0, dl = 0, in = 0;
	const char *p = list;

	*nr = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		char *name = xstrndup(p, len);
		enum appspec_event ev;
		int bad = 0;

		if (!len)
			bad = err_set(e, ERR_USAGE,
				      "--events: an empty event name in '%s'",
				      list);
		else if (appspec_event_from_name(name, &ev) < 0)
			bad = err_set(e, ERR_USAGE,
				      "--events: unknown lifecycle event '%s' "
				      "(custom events are not supported: an "
				      "appspec has the nine scriptable events, "
				      "and DownloadBundle and Install may be "
				      "listed)",
				      name);
		else if (!appspec_event_scriptable(ev) &&
			 ev != APPSPEC_DOWNLOAD_BUNDLE && ev != APPSPEC_INSTALL)
			bad = err_set(e, ERR_USAGE,
				      "--events: lifecycle event '%s' is "
				      "reserved for CodeDeploy and cannot be "
				      "listed",
				      name);
		else if (seen[ev])
			bad = err_set(e, ERR_USAGE,
				      "--events: '%s' is listed twice", name);
		free(name);
		if (bad)
			return -1;
		seen[ev] = true;
		if (ev == APPSPEC_DOWNLOAD_BUNDLE)
			dl = n + 1;
		if (ev == APPSPEC_INSTALL)
			in = n + 1;
		got[n++] = ev;
		if (!p[len])
			break;
		p += len + 1;
	}
	/* codedeploy-local's checks, in its words */
	for (size_t i = 0; dl && i < dl - 1; i++)
		if (!may_precede(got[i], APPSPEC_DOWNLOAD_BUNDLE))
			return err_set(e, ERR_USAGE,
				       "--events: the only events that can be "
				       "specified before DownloadBundle are "
				       "BeforeBlockTraffic,AfterBlockTraffic,"
				       "ApplicationStop. Please fix the order "
				       "of your specified events: %s",
				       list);
	for (size_t i = 0; in && i < in - 1; i++)
		if (!may_precede(got[i], APPSPEC_INSTALL))
			return err_set(e, ERR_USAGE,
				       "--events: the only events that can be "
				       "specified before Install are "
				       "BeforeBlockTraffic,AfterBlockTraffic,"
				       "ApplicationStop,DownloadBundle,"
				       "BeforeInstall. Please fix the order of "
				       "your specified events: %s",
				       list);
	/* DownloadBundle and Install first unless listed, then the list;
	 * Install after DownloadBundle (the agent swaps them) */
	if (!dl)
		order[(*nr)++] = APPSPEC_DOWNLOAD_BUNDLE;
	if (!in)
		order[(*nr)++] = APPSPEC_INSTALL;
	for (size_t i = 0; i < n; i++)
		order[(*nr)++] = got[i];
	for (size_t i = 0; i < *nr; i++) {
		if (order[i] == APPSPEC_DOWNLOAD_BUNDLE)
			dl = i;
		if (order[i] == APPSPEC_INSTALL)
			in = i;
	}
	if (in < dl) {
		order[in] = APPSPEC_DOWNLOAD_BUNDLE;
		order[dl] = APPSPEC_INSTALL;
	}
	return 0;
}

/* Everything one deployment on this host works with. */
struct dep {
	const struct agent_opts *o;
	struct agent_result *r;
	char *dg_dir; /* <root>/<dg-id> */
	char *dep_dir; /* <root>/<dg-id>/<dep-id> */
	char *archive; /* <dep_dir>/deployment-archive */
	char *staging; /* <dep_dir>/.deployment-archive.new */
	char *instr; /* <root>/deployment-instructions */
	char *scripts_log; /* <dep_dir>/logs/scripts.log */
	char *dlog; /* <root>/deployment-logs/codedeploy-agent-... */
	char *ongoing; /* <root>/ongoing-deployment/<dep-id> */
	const char *bundle; /* o->bundle, or <dep_dir>/bundle.tar for "-" */
	char *received; /* that bundle.tar, owned */
	struct appspec spec; /* the current revision's */
	enum appspec_event cur; /* the event running, for on_line */
	char *why; /* slipway's own account of a failure, or NULL */
};

static bool is_block_event(enum appspec_event ev)
{
	return ev == APPSPEC_BEFORE_BLOCK_TRAFFIC ||
	       ev == APPSPEC_BLOCK_TRAFFIC || ev == APPSPEC_AFTER_BLOCK_TRAFFIC;
}

static bool is_allow_event(enum appspec_event ev)
{
	return ev == APPSPEC_BEFORE_ALLOW_TRAFFIC ||
	       ev == APPSPEC_ALLOW_TRAFFIC || ev == APPSPEC_AFTER_ALLOW_TRAFFIC;
}

static bool included(const struct agent_opts *o, enum appspec_event ev)
{
	if (ev == APPSPEC_START || ev == APPSPEC_END)
		return false;
	switch (o->part) {
	case AGENT_PART_ALL:
		break;
	case AGENT_PART_REPLACEMENT:
		if (is_block_event(ev))
			return false;
		break;
	case AGENT_PART_BLOCK:
		return is_block_event(ev);
	case AGENT_PART_BLOCK_STOP:
		return is_block_event(ev) || ev == APPSPEC_APPLICATION_STOP;
	case AGENT_PART_ALLOW:
		return is_allow_event(ev);
	case AGENT_PART_INSTALL:
		return !is_block_event(ev) && !is_allow_event(ev);
	}
	if (is_block_event(ev) || is_allow_event(ev))
		return o->traffic;
	return true;
}

/* A configured wait (not a race's): ends early on a stop signal, or when
 * the file over exists (true then). */
static bool pause_for(int64_t ms, const char *over)
{
	int64_t end = proc_now_ms() + ms;

	while (!proc_stop_signal()) {
		int64_t left = end - proc_now_ms();

		if (over && fs_exists(over))
			return true;
		if (left <= 0)
			break;
		(void)poll(NULL, 0, left > 100 ? 100 : (int)left);
	}
	return false;
}

static void notice(struct dep *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The process's inotify instance for await_file, kept: closing one waits
 * for the kernel's grace period (some 15 ms), which the event would add.
 */
static int watch_fd = -1;

/*
 * Until path exists (true), the wait (ms) is over or a stop signal came
 * (false, *gone false), or the reader of our stdout, the deploying
 * machine's connection, went away (false, *gone true). inotify on dir
 * wakes it when the file lands; the 100 ms poll is a fallback where
 * inotify does not see writes (NFS).
 */
static bool await_file(const char *dir, const char *path, int64_t wait_ms,
		       bool *gone)
{
	int64_t end = proc_now_ms() + wait_ms;
	struct pollfd p[2] = { { .fd = STDOUT_FILENO }, { .fd = -1 } };
	bool found = false;
	char ev[4096];
	int wd = -1;

	*gone = false;
	if (watch_fd < 0)
		watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch_fd >= 0) {
		while (read(watch_fd, ev, sizeof(ev)) > 0)
			; /* the last wait's */
		wd = inotify_add_watch(watch_fd, dir,
				       IN_MOVED_TO | IN_CLOSE_WRITE);
	}
	if (wd >= 0) {
		p[1].fd = watch_fd;
		p[1].events = POLLIN;
	}
	for (;;) {
		int64_t left = end - proc_now_ms();

		if (fs_exists(path)) {
			found = true;
			break;
		}
		if (proc_stop_signal() || left <= 0)
			break;
		if (poll(p, 2,
			 left > TRAFFIC_POLL_MS ? TRAFFIC_POLL_MS : (int)left) >
		    0) {
			if (p[0].revents & (POLLERR | POLLHUP)) {
				*gone = true;
				break;
			}
			if (p[0].revents & POLLNVAL)
				p[0].fd = -1; /* no stdout: nothing to watch */
			if (p[1].revents)
				while (read(p[1].fd, ev, sizeof(ev)) > 0)
					;
		}
	}
	if (wd >= 0)
		inotify_rm_watch(watch_fd, wd);
	return found;
}

/*
 * o.traffic_remote: the event's work is done by the deploying machine,
 * which answers in <dep_dir>/traffic-<Event> ("ok" or "failed", then a
 * line to show). 0, or -1 with the message.
 */
static int await_traffic(struct dep *d, enum appspec_event ev, struct sw_err *e)
{
	char *name = xasprintf("traffic-%s", appspec_event_name(ev));
	char *path = fs_join(d->dep_dir, name), *text = NULL, *line;
	int64_t wait_ms = d->o->traffic_wait_ms > 0 ? d->o->traffic_wait_ms
						    : AGENT_TRAFFIC_WAIT_MS;
	size_t len;
	int ret = -1;
	bool gone;

	if (!await_file(d->dep_dir, path, wait_ms, &gone)) {
		if (gone)
			err_set(e, ERR_FAILED,
				"the deploying machine went away before the "
				"load balancer's answer");
		else if (proc_stop_signal())
			err_set(e, ERR_FAILED,
				"stopped while waiting for the load "
				"balancer's answer");
		else
			err_set(e, ERR_FAILED,
				"no answer from the load balancer's side "
				"within %lld ms",
				(long long)wait_ms);
		goto out;
	}
	if (fs_read_file(path, 64 << 10, &text, &len, e) < 0)
		goto out;
	(void)unlink(path);
	line = strchr(text, '\n');
	if (line)
		*line++ = '\0';
	if (line && *line) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(text, "ok"))
			notice(d, "%s", line);
	}
	if (!strcmp(text, "ok"))
		ret = 0;
	else
		err_set(e, ERR_FAILED, "%s",
			line && *line ? line : "the load balancer failed");
out:
	free(text);
	free(path);
	free(name);
	return ret;
}

static void event_start(struct dep *d, enum appspec_event ev)
{
	struct agent_event *a = &d->r->events[ev];

	a->status = AGENT_IN_PROGRESS;
	a->start_ms = proc_wall_ms();
	d->cur = ev;
	if (d->o->on_event)
		d->o->on_event(a, d->o->data);
}

static void event_end(struct dep *d, enum appspec_event ev,
		      enum agent_status st)
{
	struct agent_event *a = &d->r->events[ev];

	a->status = st;
	a->end_ms = proc_wall_ms();
	if (d->o->on_event)
		d->o->on_event(a, d->o->data);
}

static void event_fail(struct dep *d, enum appspec_event ev, const char *code,
		       const char *script, const char *msg, const char *tail)
{
	struct agent_event *a = &d->r->events[ev];

	a->error_code = xstrdup(code);
	a->script_name = script ? xstrdup(script) : NULL;
	a->message = xstrdup(msg);
	a->log_tail = xstrdup(tail ? tail : "");
}

static void notice(struct dep *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void notice(struct dep *d, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (d->o->on_line)
		d->o->on_line(d->cur, SCRIPT_NOTICE, b.ptr, b.len, d->o->data);
	buf_release(&b);
}

static void install_note(const char *line, void *data)
{
	notice(data, "%s", line);
}

static void script_line(enum script_stream s, const char *line, size_t len,
			void *data)
{
	struct dep *d = data;

	if (d->o->on_line)
		d->o->on_line(d->cur, s, line, len, d->o->data);
}

/* A pointer file's text: a deployment directory, no newline. */
static int write_pointer(struct dep *d, const char *suffix, struct sw_err *e)
{
	char *name = xasprintf("%s/%s%s", d->instr, d->o->deployment_group_id,
			       suffix);
	int ret = fs_replace(name, d->dep_dir, strlen(d->dep_dir), 0644, e);

	free(name);
	return ret;
}

/* The deployment directory a pointer names, or NULL when it has none. */
static char *read_pointer(struct dep *d, const char *suffix)
{
	char *name = xasprintf("%s/%s%s", d->instr, d->o->deployment_group_id,
			       suffix);
	struct sw_err e = SW_ERR_INIT;
	char *text = NULL;
	size_t len;

	if (fs_read_file(name, 64 << 10, &text, &len, &e) < 0)
		text = NULL;
	else {
		while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
			text[--len] = '\0';
		if (!len) {
			free(text);
			text = NULL;
		}
	}
	free(name);
	return text;
}

/*
 * Archive retention (codedeploy.md 4.4): keep at most max_revisions
 * deployment directories in the group, the current one included; the
 * oldest go first, never the last successful one.
 */
struct old_dir {
	char *name;
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct old_dir *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void cleanup_old_archives(struct dep *d)
{
	unsigned max =
		d->o->max_revisions ? d->o->max_revisions : AGENT_MAX_REVISIONS;
	char *keep = read_pointer(d, "_last_successful_install");
	const char *cur = strrchr(d->dep_dir, '/') + 1;
	struct old_dir *v = NULL;
	size_t nr = 0, alloc = 0, extra;
	struct dirent *de;
	DIR *dir = opendir(d->dg_dir);

	if (!dir)
		goto out;
	while ((de = readdir(dir))) {
		struct stat st;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, cur))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr].name = xstrdup(de->d_name);
		v[nr].mtime = st.st_mtim;
		nr++;
	}
	closedir(dir);
	/* The surplus counts every other directory; the oldest go, the
	 * last successful one excepted (the agent drops it from the
	 * candidates, so the count kept is still max). */
	extra = nr + 1 > max ? nr + 1 - max : 0;
	if (nr)
		qsort(v, nr, sizeof(*v), by_mtime);
	for (size_t i = 0; i < nr && extra; i++) {
		char *path = fs_join(d->dg_dir, v[i].name);
		struct sw_err e = SW_ERR_INIT;

		if ((keep && !strcmp(keep, path)) ||
		    (d->o->keep_deployment &&
		     !strcmp(d->o->keep_deployment, v[i].name))) {
			free(path);
			continue;
		}
		extra--;
		/* Off the critical path: renamed away now, deleted by a
		 * detached low-priority process. */
		if (retire_tree(d->o->deployment_root, path, &e) < 0)
			notice(d, "warning: %s", e.msg);
		free(path);
	}
out:
	for (size_t i = 0; i < nr; i++)
		free(v[i].name);
	free(v);
	free(keep);
}

/*
 * The appspec whose scripts an event runs (codedeploy.md 2.3): the
 * current revision's, except for ApplicationStop and the Block events
 * while the current archive is not there yet, which take the last
 * successful revision's. *spec NULL (and 0): no appspec, a no-op.
 */
static int select_spec(struct dep *d, enum appspec_event ev,
		       const struct appspec **spec, struct appspec *old,
		       char **archive, struct sw_err *e)
{
	char *dir, *path = NULL;
	int ret = -1;

	*spec = NULL;
	*archive = NULL;
	if (!(ev == APPSPEC_APPLICATION_STOP || is_block_event(ev) ||
	      (d->o->bg_rollback && is_allow_event(ev))) ||
	    fs_exists(d->archive)) {
		*spec = &d->spec;
		*archive = xstrdup(d->archive);
		return 0;
	}
	dir = read_pointer(d, d->o->bg_rollback && is_block_event(ev)
				      ? "_most_recent_install"
				      : "_last_successful_install");
	if (!dir)
		return 0;
	*archive = fs_join(dir, "deployment-archive");
	if (appspec_find(*archive, &path, e) < 0 ||
	    appspec_load(path, old, e) < 0) {
		if (e->code == ERR_SYSTEM)
			err_prefix(e, "last successful revision %s", dir);
		goto out;
	}
	*spec = old;
	ret = 0;
out:
	free(path);
	free(dir);
	return ret;
}

/* Run the scripts of one event. 0: succeeded (or nothing to run); -1:
 * the event failed, its diagnostics set. */
static int run_hooks(struct dep *d, enum appspec_event ev)
{
	const struct agent_opts *o = d->o;
	const struct appspec *spec;
	struct appspec old = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *archive = NULL, *tail = NULL;
	const struct appspec_hook *h;
	int ret = 0;

	if (select_spec(d, ev, &spec, &old, &archive, &e) < 0) {
		event_fail(d, ev, "UnknownError", NULL, e.msg, "");
		ret = -1;
		goto out;
	}
	if (!spec)
		goto out;
	h = &spec->hooks[ev];
	for (size_t i = 0; i < h->nr; i++) {
		const struct appspec_script *s = &h->scripts[i];
		struct script_run_opts so = SCRIPT_RUN_OPTS_INIT;
		struct script_result sr = SCRIPT_RESULT_INIT;

		so.archive_dir = archive;
		so.location = s->location;
		so.event = appspec_event_name(ev);
		so.timeout_s = s->timeout;
		if (o->timeout_cap_s && so.timeout_s > o->timeout_cap_s)
			so.timeout_s = o->timeout_cap_s;
		so.runas = s->runas;
		so.deployment_id = o->deployment_id;
		so.application_name = o->application_name;
		so.deployment_group_name = o->deployment_group_name;
		so.deployment_group_id = o->deployment_group_id;
		so.host_root = o->host_root ? o->host_root : "/";
		so.extra_env = o->extra_env;
		so.log_path = d->scripts_log;
		so.deployments_log_path = d->dlog;
		so.event_header = i == 0;
		so.tail_in = tail;
		so.line_fn = script_line;
		so.line_data = d;
		if (s->sudo)
			notice(d,
			       "%s: sudo is ignored; the script runs as "
			       "slipway's user",
			       s->location);
		if (script_run(&so, &sr, &e) < 0) {
			event_fail(d, ev, "UnknownError", s->location, e.msg,
				   tail);
			script_result_release(&sr);
			ret = -1;
			break;
		}
		free(tail);
		tail = xstrdup(sr.log_tail);
		if (sr.status == SCRIPT_FAILED) {
			event_fail(d, ev, sr.error_code, s->location,
				   sr.message, sr.log_tail);
			/* The agent's message has no exit code for it:
			 * slipway's own summary names the signal. */
			if (sr.term_signal && !sr.stop_signal) {
				const char *abbr = sigabbrev_np(sr.term_signal);

				free(d->why);
				d->why = xasprintf("script %s was killed by "
						   "signal %d (SIG%s)",
						   s->location, sr.term_signal,
						   abbr ? abbr : "?");
				notice(d,
				       "%s: the agent reports no exit code "
				       "for it",
				       d->why);
			}
			script_result_release(&sr);
			ret = -1;
			break;
		}
		script_result_release(&sr);
	}
out:
	free(tail);
	free(archive);
	appspec_release(&old);
	return ret;
}

static int do_download(struct dep *d, struct sw_err *e)
{
	cleanup_old_archives(d);
	if (rename(d->staging, d->archive) < 0)
		return err_sys(e, "cannot rename '%s' to '%s'", d->staging,
			       d->archive);
	if (fs_mkdir_p(d->instr, 0755, e) < 0)
		return -1;
	return write_pointer(d, "_most_recent_install", e);
}

static int do_install(struct dep *d, struct sw_err *e)
{
	struct install_opts io = INSTALL_OPTS_INIT;
	struct install_result ir = INSTALL_RESULT_INIT;

	io.spec = &d->spec;
	io.archive_dir = d->archive;
	io.host_root = d->o->host_root;
	io.instructions_dir = d->instr;
	io.group_id = d->o->deployment_group_id;
	io.feb = d->o->feb;
	io.note = install_note;
	io.note_data = d;
	if (install_run(&io, &ir, e) < 0)
		return -1;
	notice(d,
	       "installed %zu files and %zu directories (%zu overwritten, "
	       "%zu retained); removed %zu paths of the previous install",
	       ir.copied, ir.mkdirs, ir.overwritten, ir.retained, ir.removed);
	return write_pointer(d, "_last_successful_install", e);
}

/*
 * A bundle streamed on stdin (from a driver over ssh): kept as
 * <dep_dir>/bundle.tar, the agent's name for a downloaded bundle, then
 * unpacked from there like any archive. Bounded by the bound on what it
 * unpacks to (an archive is never larger).
 */
static int receive_bundle(struct dep *d, struct sw_err *e)
{
	char *path = fs_join(d->dep_dir, "bundle.tar");
	char chunk[65536];
	uint64_t total = 0, max = d->o->max_bundle_bytes
					  ? d->o->max_bundle_bytes
					  : BUNDLE_MAX_BYTES;
	int fd, ret = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(e, "cannot create '%s'", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "cannot read the bundle from stdin");
			goto out;
		}
		if (!n)
			break;
		total += (uint64_t)n;
		if (total > max) {
			err_set(e, ERR_SPEC,
				"the bundle on stdin is larger than %llu bytes "
				"(--max-bundle-size)",
				(unsigned long long)max);
			goto out;
		}
		if (write(fd, chunk, (size_t)n) != n) {
			err_sys(e, "cannot write '%s'", path);
			goto out;
		}
	}
	if (!total) {
		err_set(e, ERR_SPEC, "no bundle on stdin (empty input)");
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0 && close(fd) < 0 && !ret)
		ret = err_sys(e, "cannot write '%s'", path);
	if (ret == 0)
		d->bundle = d->received = path;
	else
		free(path);
	return ret;
}

/* Fail the deployment before any event ran: everything is Skipped but
 * DownloadBundle, which carries the reason. */
static void refuse(struct dep *d, const struct sw_err *e)
{
	struct agent_result *r = d->r;
	struct sw_err ignored = SW_ERR_INIT;

	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++)
		if (r->events[ev].included && ev != APPSPEC_DOWNLOAD_BUNDLE)
			r->events[ev].status = AGENT_SKIPPED;
	event_start(d, APPSPEC_DOWNLOAD_BUNDLE);
	event_fail(d, APPSPEC_DOWNLOAD_BUNDLE, "UnknownError", NULL, e->msg,
		   "");
	event_end(d, APPSPEC_DOWNLOAD_BUNDLE, AGENT_FAILED);
	r->status = AGENT_FAILED;
	r->exit = e->code ? e->code : ERR_FAILED;
	r->message = xstrdup(e->msg);
	fs_remove_tree(d->dep_dir, &ignored);
	if (d->ongoing)
		unlink(d->ongoing);
}

/*
 * Read the revision's appspec from the staging copy. Messages name it as
 * the user knows it: "<bundle dir>/appspec.yml:L:C" for a directory,
 * "appspec.yml:L:C" after "bundle <archive>: " for an archive.
 */
static const char *bundle_name(const struct agent_opts *o)
{
	return o->bundle_name ? o->bundle_name : o->bundle;
}

static int load_spec(struct dep *d, const struct bundle_info *info,
		     struct sw_err *e)
{
	const char *base = strrchr(info->appspec, '/') + 1;
	char *name;
	int ret;

	if (info->kind == BUNDLE_DIRECTORY)
		name = fs_join(bundle_name(d->o), base);
	else
		name = xstrdup(base);
	/* validate's reader: what it refuses is refused here, with 3 */
	ret = appspec_load_as(info->appspec, name, &d->spec, e);
	if (ret < 0 && info->kind != BUNDLE_DIRECTORY)
		err_prefix(e, "bundle %s", bundle_name(d->o));
	free(name);
	return ret;
}

static void dep_release(struct dep *d)
{
	free(d->dg_dir);
	free(d->dep_dir);
	free(d->archive);
	free(d->staging);
	free(d->instr);
	free(d->scripts_log);
	free(d->dlog);
	free(d->ongoing);
	free(d->received);
	free(d->why);
	appspec_release(&d->spec);
}

static int check_opts(const struct agent_opts *o, struct sw_err *e)
{
	if (!o->bundle || !o->deployment_root || !o->deployment_id ||
	    !o->deployment_group_id)
		return err_set(e, ERR_USAGE,
			       "agent: bundle, deployment root, deployment "
			       "id and group id are required");
	if (o->deployment_root[0] != '/' ||
	    (o->host_root && o->host_root[0] != '/'))
		return err_set(e, ERR_USAGE,
			       "agent: the deployment root and the host root "
			       "must be absolute paths");
	if (!agent_id_ok(o->deployment_id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment id '%s': use letters, "
			       "digits, '.', '_' and '-'",
			       o->deployment_id);
	if (o->keep_deployment && !agent_id_ok(o->keep_deployment))
		return err_set(e, ERR_USAGE,
			       "invalid deployment id to keep '%s'",
			       o->keep_deployment);
	if (!agent_id_ok(o->deployment_group_id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment group id '%s': use "
			       "letters, digits, '.', '_' and '-'",
			       o->deployment_group_id);
	return 0;
}

/*
 * The deployments log rotates as the agent's does: 8 files of 64 MiB
 * (name, name.1 .. name.7), checked when a deployment starts.
 */
static void dlog_rotate(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || st.st_size < (64 << 20))
		return;
	for (int i = 7; i >= 1; i--) {
		char *from = i == 1 ? xstrdup(path)
				    : xasprintf("%s.%d", path, i - 1);
		char *to = xasprintf("%s.%d", path, i);

		rename(from, to);
		free(from);
		free(to);
	}
}

int agent_deploy(const struct agent_opts *o, struct agent_result *r)
{
	struct dep d = { .o = o, .r = r, .spec = APPSPEC_INIT };
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct bundle_opts bo = BUNDLE_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *root;
	char *dir = NULL;
	bool failed = false;
	int64_t t0;

	*r = (struct agent_result)AGENT_RESULT_INIT;
	r->start_ms = proc_wall_ms();
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++) {
		r->events[ev].event = (enum appspec_event)ev;
		r->events[ev].included =
			!o->events && included(o, (enum appspec_event)ev);
		if (r->events[ev].included)
			r->order[r->nr_order++] = (enum appspec_event)ev;
	}
	if (o->events &&
	    agent_events_parse(o->events, r->order, &r->nr_order, &e) == 0)
		for (size_t i = 0; i < r->nr_order; i++)
			r->events[r->order[i]].included = true;
	if (e.code || check_opts(o, &e) < 0) {
		r->status = AGENT_FAILED;
		r->exit = e.code;
		r->message = xstrdup(e.msg);
		goto done;
	}
	root = o->deployment_root;
	d.dg_dir = fs_join(root, o->deployment_group_id);
	d.dep_dir = fs_join(d.dg_dir, o->deployment_id);
	d.archive = fs_join(d.dep_dir, "deployment-archive");
	d.staging = fs_join(d.dep_dir, ".deployment-archive.new");
	d.instr = fs_join(root, "deployment-instructions");
	d.scripts_log = fs_join(d.dep_dir, "logs/scripts.log");
	d.dlog = fs_join(root,
			 "deployment-logs/codedeploy-agent-deployments.log");
	dir = fs_join(root, "ongoing-deployment");
	d.ongoing = fs_join(dir, o->deployment_id);
	d.cur = APPSPEC_DOWNLOAD_BUNDLE;
	d.bundle = o->bundle;

	if (fs_exists(d.dep_dir) && !o->resume) {
		err_set(&e, ERR_USAGE,
			"deployment %s already exists on this host (%s)",
			o->deployment_id, d.dep_dir);
		r->status = AGENT_FAILED;
		r->exit = e.code;
		r->message = xstrdup(e.msg);
		goto done;
	}
	if (fs_mkdir_p(d.dep_dir, 0755, &e) < 0 ||
	    fs_mkdir_p(dir, 0755, &e) < 0 ||
	    fs_replace(d.ongoing, o->deployment_id, strlen(o->deployment_id),
		       0644, &e) < 0) {
		refuse(&d, &e);
		goto done;
	}
	/* deployment-logs/ and its log are made by the first script that
	 * writes there, as the agent's logger makes them */
	dlog_rotate(d.dlog);

	/* The revision, unpacked and read before any event runs. */
	t0 = proc_now_ms();
	if (!strcmp(o->bundle, "-") && receive_bundle(&d, &e) < 0) {
		refuse(&d, &e);
		goto done;
	}
	bo.max_bytes = o->max_bundle_bytes;
	bo.max_ratio = o->max_bundle_ratio;
	bo.link_files = o->link_bundle;
	if (bundle_unpack(d.bundle, d.staging, &bo, &info, &e) < 0) {
		refuse(&d, &e);
		goto done;
	}
	if (load_spec(&d, &info, &e) < 0) {
		refuse(&d, &e);
		goto done;
	}
	if ((info.kind != BUNDLE_DIRECTORY || o->link_bundle) &&
	    strcmp(o->bundle, "-")) {
		char *link = fs_join(d.dep_dir, "bundle.tar");
		char *abs = fs_abspath(bundle_name(o));

		if (symlink(abs, link) < 0)
			notice(&d, "warning: cannot link %s: %s", link,
			       strerror(errno));
		free(abs);
		free(link);
	}
	notice(&d, "%s %s bundle: %llu entries, %llu bytes in %lld ms%s%s",
	       o->link_bundle ? "linked" : "unpacked",
	       o->link_bundle ? "the deployment's unpacked"
			      : bundle_kind_name(info.kind),
	       (unsigned long long)info.entries, (unsigned long long)info.bytes,
	       (long long)(proc_now_ms() - t0),
	       info.hoisted ? "; stripped leading directory " : "",
	       info.hoisted ? info.wrapper : "");
	for (size_t i = 0; i < d.spec.warnings.nr; i++)
		notice(&d, "warning: %s", d.spec.warnings.v[i]);

	for (size_t i = 0; i < r->nr_order; i++) {
		enum appspec_event ev = r->order[i];
		struct agent_event *a = &r->events[ev];

		if (failed) {
			a->status = AGENT_SKIPPED;
			if (o->on_event)
				o->on_event(a, o->data);
			continue;
		}
		if (ev == APPSPEC_APPLICATION_STOP &&
		    o->part == AGENT_PART_BLOCK_STOP && o->stop_after_ms > 0) {
			char *over = fs_join(d.dep_dir, AGENT_WAIT_OVER);

			notice(&d,
			       "out of the load balancer; stopped in %lld ms "
			       "(original.wait)",
			       (long long)o->stop_after_ms);
			if (pause_for(o->stop_after_ms, over))
				notice(&d, "original.wait cut short: the "
					   "deployment was continued");
			free(over);
		}
		event_start(&d, ev);
		err_clear(&e);
		if (ev == APPSPEC_DOWNLOAD_BUNDLE) {
			if (do_download(&d, &e) < 0)
				event_fail(&d, ev, "UnknownError", NULL, e.msg,
					   "");
			else
				goto ok;
		} else if (ev == APPSPEC_INSTALL) {
			if (do_install(&d, &e) < 0)
				event_fail(&d, ev, "UnknownError", NULL, e.msg,
					   "");
			else
				goto ok;
		} else if ((ev == APPSPEC_BLOCK_TRAFFIC ||
			    ev == APPSPEC_ALLOW_TRAFFIC) &&
			   o->traffic_fn) {
			struct buf note = BUF_INIT;
			int rc = o->traffic_fn(ev, &note, &e, o->traffic_data);

			if (note.len)
				notice(&d, "%s", note.ptr);
			buf_release(&note);
			if (rc == 0)
				goto ok;
			event_fail(&d, ev, "UnknownError", NULL, e.msg, "");
			free(d.why);
			d.why = xstrdup(e.msg);
		} else if ((ev == APPSPEC_BLOCK_TRAFFIC ||
			    ev == APPSPEC_ALLOW_TRAFFIC) &&
			   o->traffic_remote) {
			if (await_traffic(&d, ev, &e) == 0)
				goto ok;
			event_fail(&d, ev, "UnknownError", NULL, e.msg, "");
			free(d.why);
			d.why = xstrdup(e.msg);
		} else if (!appspec_event_scriptable(ev) ||
			   run_hooks(&d, ev) == 0) {
			goto ok;
		}
		/* The event failed. */
		if (o->ignore_application_stop_failures &&
		    (ev == APPSPEC_APPLICATION_STOP || is_block_event(ev))) {
			a->ignored = true;
			free(d.why);
			d.why = NULL;
			notice(&d,
			       "%s failed; going on as "
			       "--ignore-application-stop-failures asks",
			       appspec_event_name(ev));
			event_end(&d, ev, AGENT_FAILED);
			continue;
		}
		event_end(&d, ev, AGENT_FAILED);
		failed = true;
		r->exit = e.code == ERR_SYSTEM ? ERR_SYSTEM : ERR_FAILED;
		if (d.why)
			r->message = xasprintf("%s failed: %s",
					       appspec_event_name(ev), d.why);
		else
			r->message = xasprintf("%s failed: %s",
					       appspec_event_name(ev),
					       a->message ? a->message : "");
		continue;
	ok:
		event_end(&d, ev, AGENT_SUCCEEDED);
	}
	r->status = failed ? AGENT_FAILED : AGENT_SUCCEEDED;
	if (!failed)
		r->exit = 0;
	unlink(d.ongoing);
	/* A deployment that ended before DownloadBundle (a failed
	 * ApplicationStop) leaves no staging copy behind. */
	if (fs_exists(d.staging)) {
		struct sw_err ignored = SW_ERR_INIT;

		if (fs_remove_tree(d.staging, &ignored) < 0)
			notice(&d, "warning: %s", ignored.msg);
	}
done:
	r->end_ms = proc_wall_ms();
	bundle_info_release(&info);
	free(dir);
	dep_release(&d);
	return r->exit;
}
