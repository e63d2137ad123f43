#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "lazylib.h"
#include "proc.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

#define TREE_EVENTS                                                            \
	(IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |              \
	 IN_MOVED_TO | IN_ATTRIB | IN_EXCL_UNLINK | IN_ONLYDIR)

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

static bool ignored(struct watch *w, const char *abs, bool is_dir)
{
	const char *base = strrchr(abs, '/');
	int ign = 0;

	if (base && !strcmp(base + 1, ".git"))
		return true;
	if (strstr(abs, "/.git/"))
		return true;
	for (size_t i = 0; i < w->skip.nr; i++)
		if (under(abs, w->skip.v[i]))
			return true;
	if (w->repo && w->workdir &&
	    !strncmp(abs, w->workdir, strlen(w->workdir))) {
		char *rel = xasprintf("%s%s", abs + strlen(w->workdir),
				      is_dir ? "/" : "");

		if (*rel && strcmp(rel, "/") &&
		    git_ignore_path_is_ignored(&ign, w->repo, rel) < 0)
			ign = 0;
		free(rel);
	}
	return ign == 1;
}

static void set_dir(struct watch *w, int wd, const char *path)
{
	while (w->dirs.nr <= (size_t)wd)
		strvec_push(&w->dirs, "");
	free(w->dirs.v[wd]);
	w->dirs.v[wd] = xstrdup(path);
}

/* Watch dir and, unless flat, every directory under it that counts. */
static int add_tree(struct watch *w, const char *dir, bool flat,
		    struct sw_err *e)
{
	int wd = inotify_add_watch(w->fd, dir, TREE_EVENTS);
	DIR *d;
	struct dirent *de;

	if (wd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* gone already */
		if (errno == ENOSPC)
			return err_set(
				e, ERR_SYSTEM,
				"cannot watch '%s': too many directories "
				"(the limit is sysctl "
				"fs.inotify.max_user_watches)",
				dir);
		return err_sys(e, "cannot watch '%s'", dir);
	}
	set_dir(w, wd, dir);
	if (flat)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = fs_join(dir, de->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode) &&
		    !ignored(w, p, true) && add_tree(w, p, false, e) < 0) {
			free(p);
			closedir(d);
			return -1;
		}
		free(p);
	}
	closedir(d);
	return 0;
}

static char *absolute(const char *p)
{
	char *r = realpath(p, NULL);

	return r ? r : fs_abspath(p);
}

int watch_init(struct watch *w, const struct watch_opts *o, struct sw_err *e)
{
	git_repository *repo = NULL;

	*w = (struct watch)WATCH_INIT;
	w->root = absolute(o->root);
	for (const char *const *s = o->skip; s && *s; s++) {
		char *a = absolute(*s);

		strvec_push(&w->skip, a);
		free(a);
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return err_sys(e, "cannot watch files (inotify)");
	if (lazylib_need("git2", e) < 0)
		return -1;
	git_libgit2_init();
	if (git_repository_open_ext(&repo, w->root, 0, NULL) == 0 &&
	    git_repository_workdir(repo)) {
		w->repo = repo;
		w->workdir = xstrdup(git_repository_workdir(repo));
	} else if (repo) {
		git_repository_free(repo);
	}
	if (!o->files)
		return add_tree(w, w->root, false, e);
	for (const char *const *f = o->files; *f; f++) {
		char *a = absolute(*f), *slash = strrchr(a, '/');
		char *dir = xstrndup(
			a, slash && slash != a ? (size_t)(slash - a) : 1);

		strvec_push(&w->files, a);
		if (add_tree(w, dir, true, e) < 0) {
			free(a);
			free(dir);
			return -1;
		}
		free(a);
		free(dir);
	}
	return 0;
}

void watch_release(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->repo)
		git_repository_free(w->repo);
	w->repo = NULL;
	free(w->root);
	free(w->workdir);
	strvec_release(&w->dirs);
	strvec_release(&w->skip);
	strvec_release(&w->files);
	w->root = w->workdir = NULL;
}

/* Whether an event (path: absolute) is a change that counts; adds the
 * directories it brings. */
static bool counts(struct watch *w, const struct inotify_event *ev,
		   const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	bool is_dir = ev->mask & IN_ISDIR;

	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (ev->mask & IN_IGNORED)
		return false;
	if (w->files.nr) {
		for (size_t i = 0; i < w->files.nr; i++)
			if (!strcmp(path, w->files.v[i]))
				return true;
		return false;
	}
	if (ignored(w, path, is_dir))
		return false;
	if (is_dir && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
		add_tree(w, path, false, &e);
	/* a directory made or removed with nothing in it changes nothing */
	return !is_dir || (ev->mask & (IN_MOVED_TO | IN_MOVED_FROM));
}

int watch_next(struct watch *w, int timeout_ms, char *what, size_t n)
{
	int64_t deadline = timeout_ms < 0 ? -1 : proc_now_ms() + timeout_ms;
	char buf[64 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = { { w->fd, POLLIN, 0 },
				       { proc_sigfd(), POLLIN, 0 } };
		bool hit = false;
		ssize_t len;
		int left = -1;

		if (proc_stop_signal())
			return -1;
		if (deadline >= 0) {
			int64_t l = deadline - proc_now_ms();

			left = l > 0 ? (int)l : 0;
		}
		len = read(w->fd, buf, sizeof(buf));
		if (len < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		for (char *q = buf; len > 0 && q < buf + len;) {
			const struct inotify_event *ev = (const void *)q;
			const char *dir =
				ev->wd >= 0 && (size_t)ev->wd < w->dirs.nr
					? w->dirs.v[ev->wd]
					: "";
			char *path =
				ev->len ? fs_join(dir, ev->name) : xstrdup(dir);

			if (*dir && counts(w, ev, path) && !hit) {
				hit = true;
				if (what && n)
					snprintf(
						what, n, "%s",
						under(path, w->root) &&
								path[strlen(
									w->root)]
							? path + strlen(w->root) +
								  1
							: path);
			} else if (ev->mask & IN_Q_OVERFLOW && !hit) {
				hit = true;
				if (what && n)
					snprintf(what, n, "(many files)");
			}
			free(path);
			q += sizeof(*ev) + ev->len;
		}
		if (hit)
			return 1;
		if (len > 0)
			continue; /* read on: there may be more */
		if (deadline >= 0 && !left)
			return 0;
		if (poll(p, 2, left) > 0 && (p[1].revents & POLLIN))
			proc_sigfd_drain();
	}
}

int watch_settle(struct watch *w, int quiet_ms, int max_ms)
{
	int64_t end = proc_now_ms() + max_ms;
	int rc;

	while ((rc = watch_next(w, quiet_ms, NULL, 0)) == 1)
		if (proc_now_ms() >= end)
			return 0;
	return rc < 0 ? -1 : 0;
}

/* ---- build --watch ---- */

/* The build's own: stdout to /dev/null, stderr (its summary) to wfd. */
static void child_main(const struct build_opts *o, int wfd, pid_t parent)
{
	struct sw_err e = SW_ERR_INIT;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int status = ERR_SYSTEM;

	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
	}
	dup2(wfd, STDERR_FILENO);
	if (proc_signals_after_fork(&e) < 0)
		_exit(ERR_SYSTEM);
	/* the watch's death, even by SIGKILL, stops the build as a TERM */
	proc_die_with_parent(parent, SIGTERM);
	build_run(o, &status);
	fflush(NULL);
	_exit(status & 0xff);
}

/*
 * One line for a build: "HH:MM:SS #N STATUS in Xs: why" out of its
 * summary ("slipway: build ID #N STATUS in Xs: why"), else its last
 * line of stderr.
 */
static void status_line(const struct buf *err, const char *stale,
			const char *trigger, bool color)
{
	const char *s = buf_cstr(err), *sum = strstr(s, "slipway: build ");
	char hms[16];
	time_t now = time(NULL);
	struct tm tm;
	struct buf line = BUF_INIT;

	localtime_r(&now, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	if (sum) {
		const char *num = strstr(sum, " #");
		size_t n = strcspn(sum, "\n");

		if (num && num < sum + n)
			buf_add(&line, num + 1, (size_t)(sum + n - num - 1));
		else
			buf_add(&line, sum + 9, n - 9);
	} else {
		/* no summary: the last line it wrote */
		const char *end = s + strlen(s), *start;

		while (end > s && end[-1] == '\n')
			end--;
		start = end;
		while (start > s && start[-1] != '\n')
			start--;
		buf_add(&line, start, (size_t)(end - start));
	}
	if (color) {
		static const struct {
			const char *word, *color;
		} words[] = { { " SUCCEEDED", "\033[32m" },
			      { " FAILED", "\033[31m" },
			      { " FAULT", "\033[31m" },
			      { " TIMED_OUT", "\033[33m" },
			      { " STOPPED", "\033[33m" } };
		const char *l = buf_cstr(&line);

		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			const char *at = strstr(l, words[i].word);
			size_t k = strlen(words[i].word);

			if (at) {
				printf("%s %.*s %s%s\033[0m%s", hms,
				       (int)(at - l), l, words[i].color,
				       words[i].word + 1, at + k);
				goto tail;
			}
		}
	}
	printf("%s %s", hms, buf_cstr(&line));
tail:
	if (stale)
		printf(" (stale: %s changed)", stale);
	else if (trigger && *trigger)
		printf(" (%s changed)", trigger);
	putchar('\n');
	fflush(stdout);
	buf_release(&line);
}

int watch_build(const struct build_opts *o, int *status)
{
	const char *src = o->source ? o->source : ".";
	struct watch w = WATCH_INIT;
	struct watch_opts wo = WATCH_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct strvec skip = STRVEC_INIT;
	struct stat st;
	char what[PATH_MAX] = "", trigger[PATH_MAX] = "";
	bool color = isatty(STDOUT_FILENO) &&
		     !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
	char *state = state_path(o->state_dir);
	int last = 1;

	*status = ERR_USAGE;
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"error: --watch needs a directory here as SOURCE, not "
			"'%s'\n",
			src);
		goto out;
	}
	strvec_push(&skip, state);
	if (o->artifacts_dir)
		strvec_push(&skip, o->artifacts_dir);
	if (o->report)
		strvec_push(&skip, o->report);
	wo.root = src;
	wo.skip = (const char *const *)skip.v;
	*status = ERR_SYSTEM;
	if (proc_signals_init(&e) < 0 || watch_init(&w, &wo, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		goto out;
	}
	printf("watching %s (Ctrl-C ends)\n", w.root);
	fflush(stdout);
	for (;;) {
		struct buf err = BUF_INIT;
		bool stale = false, stopping = false;
		int p[2], wst = 0;
		pid_t pid, parent = getpid();

		if (pipe2(p, O_CLOEXEC) < 0) {
			fprintf(stderr, "error: cannot create a pipe: %s\n",
				strerror(errno));
			break;
		}
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "error: cannot fork: %s\n",
				strerror(errno));
			close(p[0]);
			close(p[1]);
			break;
		}
		if (pid == 0) {
			close(p[0]);
			close(w.fd);
			child_main(o, p[1], parent);
		}
		close(p[1]);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			struct pollfd pf[3] = { { p[0], POLLIN, 0 },
						{ w.fd, POLLIN, 0 },
						{ proc_sigfd(), POLLIN, 0 } };
			char tmp[4096];
			ssize_t n;

			while ((n = read(p[0], tmp, sizeof(tmp))) > 0)
				if (err.len < (64 << 10))
					buf_add(&err, tmp, (size_t)n);
			if (proc_reap(pid, &wst))
				break;
			if (proc_stop_signal() && !stopping) {
				stopping = true;
				kill(pid, SIGTERM);
			}
			if (!stale && !stopping &&
			    watch_next(&w, 0, what, sizeof(what)) == 1) {
				stale = true;
				kill(pid, SIGTERM);
			}
			if (poll(pf, stale || stopping ? 1 : 3, 200) > 0 &&
			    (pf[2].revents & POLLIN))
				proc_sigfd_drain();
		}
		{
			char tmp[4096];
			ssize_t n;

			while ((n = read(p[0], tmp, sizeof(tmp))) > 0)
				if (err.len < (64 << 10))
					buf_add(&err, tmp, (size_t)n);
		}
		close(p[0]);
		status_line(&err, stale ? what : NULL, trigger, color);
		buf_release(&err);
		if (!stale && !stopping)
			last = WIFEXITED(wst) ? WEXITSTATUS(wst) : ERR_SYSTEM;
		if (stopping || proc_stop_signal())
			break;
		if (!stale && watch_next(&w, -1, what, sizeof(what)) < 0)
			break;
		if (watch_settle(&w, 150, 2000) < 0)
			break;
		snprintf(trigger, sizeof(trigger), "%s", what);
	}
	*status = last;
out:
	watch_release(&w);
	strvec_release(&skip);
	free(state);
	return 0;
}
