#include "retire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "strvec.h"
#include "xalloc.h"

#include "banned.h"

/* A build without report.json this old is taken for dead, not running. */
#define RETIRE_STALE_SECONDS (24 * 3600)

/* ioprio_set(2): no glibc wrapper. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

static int int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void detach_setup(int *keep, size_t nkeep)
{
	unsigned from = 3;
	struct sigaction sa;
	sigset_t none;
	int fd;

	setsid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (nkeep) /* qsort's base may not be NULL, even for none */
		qsort(keep, nkeep, sizeof(*keep), int_cmp);
	for (size_t i = 0; i < nkeep; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1,
				0U);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0U);
	if (setpriority(PRIO_PROCESS, 0, 19) < 0) {
		/* best effort */
	}
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
	if (chdir("/") < 0) {
		/* best effort */
	}
}

int retire_detached(retire_fn fn, void *data)
{
	return retire_detached_fds(fn, data, NULL, 0);
}

int retire_detached_fds(retire_fn fn, void *data, int *keep, size_t nkeep)
{
	int reaper = 0, status;
	pid_t pid;

	/*
	 * An orphan goes to the nearest subreaper: stop being one while the
	 * middle process exits, so the worker is adopted above us.
	 */
	if (prctl(PR_GET_CHILD_SUBREAPER, &reaper) < 0)
		reaper = 0;
	if (reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (fork() == 0) {
			detach_setup(keep, nkeep);
			fn(data);
			_exit(0);
		}
		_exit(0);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return pid < 0 ? -1 : 0;
}

/* The detached deleter: empty the trash directory, one at a time. */
static void empty_trash(void *data)
{
	const char *trash = data;
	char *lock = fs_join(trash, ".lock");
	struct sw_err e = SW_ERR_INIT;
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto out;
	for (;;) {
		DIR *d = opendir(trash);
		struct dirent *de;
		int n = 0;

		if (!d)
			break;
		while ((de = readdir(d))) {
			char *p;

			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, ".lock"))
				continue;
			p = fs_join(trash, de->d_name);
			if (!fs_remove_tree(p, &e))
				n++;
			err_clear(&e);
			free(p);
		}
		closedir(d);
		if (!n)
			break;
	}
out:
	if (fd >= 0)
		close(fd);
	free(lock);
}

static char *trash_dir(const char *state_dir, struct sw_err *e)
{
	char *trash = fs_join(state_dir, "trash");

	if (fs_mkdir_p(trash, 0755, e) < 0) {
		free(trash);
		return NULL;
	}
	return trash;
}

/* Rename path to trash/<label>.<pid>.<n>; 1 moved, 0 absent, -1 failed. */
static int move_to_trash(const char *trash, const char *path, const char *label)
{
	static unsigned long n;
	struct timespec ts;
	char *to;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	to = xasprintf("%s/%s.%ld.%ld%09ld.%lu", trash, label, (long)getpid(),
		       (long)ts.tv_sec, ts.tv_nsec, ++n);
	ret = rename(path, to) < 0 ? (errno == ENOENT ? 0 : -1) : 1;
	free(to);
	return ret;
}

int retire_tree(const char *state_dir, const char *path, struct sw_err *e)
{
	const char *base = strrchr(path, '/');
	char *trash = trash_dir(state_dir, e);
	int moved;

	if (!trash)
		return -1;
	moved = move_to_trash(trash, path, base && base[1] ? base + 1 : "tree");
	if (moved < 0) {
		err_sys(e, "cannot move '%s' to '%s'", path, trash);
		free(trash);
		return -1;
	}
	if (moved)
		retire_detached(empty_trash, trash);
	free(trash);
	return 0;
}

/* "<project>-<uuid>": the directory name of one of project's builds. */
static bool is_build_of(const char *name, const char *project)
{
	size_t n = strlen(project), i;
	const char *u = name + n + 1;

	if (strncmp(name, project, n) || name[n] != '-' || strlen(u) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
			return false;
	}
	return true;
}

struct old_build {
	char *dir;
	struct timespec born;
};

static int by_age_newest_first(const void *a, const void *b)
{
	const struct old_build *x = a, *y = b;

	if (x->born.tv_sec != y->born.tv_sec)
		return x->born.tv_sec < y->born.tv_sec ? 1 : -1;
	if (x->born.tv_nsec != y->born.tv_nsec)
		return x->born.tv_nsec < y->born.tv_nsec ? 1 : -1;
	return strcmp(y->dir, x->dir);
}

/* When the build directory was made: birth time, else its mtime. */
static struct timespec born(const char *dir)
{
	struct statx sx;
	struct timespec t = { 0, 0 };

	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_BTIME | STATX_MTIME,
		  &sx) < 0)
		return t;
	if (sx.stx_mask & STATX_BTIME) {
		t.tv_sec = sx.stx_btime.tv_sec;
		t.tv_nsec = sx.stx_btime.tv_nsec;
	} else {
		t.tv_sec = sx.stx_mtime.tv_sec;
		t.tv_nsec = sx.stx_mtime.tv_nsec;
	}
	return t;
}

/* Finished (report.json), or so old that it is not running any more. */
static bool is_done(const char *dir)
{
	char *report = fs_join(dir, "report.json");
	char *log = fs_join(dir, "build.log");
	struct stat st;
	bool done = fs_exists(report) ||
		    (stat(log, &st) == 0 &&
		     time(NULL) - st.st_mtime > RETIRE_STALE_SECONDS);

	free(report);
	free(log);
	return done;
}

static int keep_from_env(int keep)
{
	const char *s = getenv("SLIPWAY_KEEP_BUILDS");
	char *end;
	long v;

	if (keep >= 0)
		return keep < 1 ? 1 : keep;
	if (s && *s) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (!errno && !*end && v >= 1 && v <= 1000000)
			return (int)v;
	}
	return RETIRE_KEEP_DEFAULT;
}

/* A build's source trees: CodeBuild's layout, and the one before it. */
static const char *const trees[] = { "codebuild", "src" };

static bool has_tree(const char *dir)
{
	struct stat st;
	bool yes = false;

	for (size_t i = 0; !yes && i < ARRAY_SIZE(trees); i++) {
		char *t = fs_join(dir, trees[i]);

		yes = lstat(t, &st) == 0 && S_ISDIR(st.st_mode);
		free(t);
	}
	return yes;
}

int retire_old_builds(const char *state_dir, const char *project, int keep,
		      struct sw_err *e)
{
	return retire_old_builds_with(state_dir, project, keep, NULL, NULL, e);
}

int retire_old_builds_with(const char *state_dir, const char *project, int keep,
			   retire_build_fn fn, void *data, struct sw_err *e)
{
	char *builds = fs_join(state_dir, "builds");
	struct old_build *v = NULL;
	size_t nr = 0, alloc = 0, i;
	char *trash = NULL;
	struct dirent *de;
	int moved = 0, ret = -1;
	DIR *d;

	keep = keep_from_env(keep);
	d = opendir(builds);
	if (!d) {
		ret = errno == ENOENT ? 0
				      : err_sys(e, "cannot read '%s'", builds);
		goto out;
	}
	while ((de = readdir(d))) {
		struct stat st;
		char *dir;

		if (!is_build_of(de->d_name, project))
			continue;
		dir = fs_join(builds, de->d_name);
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    has_tree(dir)) {
			ALLOC_GROW(v, nr + 1, alloc);
			v[nr].dir = dir;
			v[nr].born = born(dir);
			nr++;
		} else {
			free(dir);
		}
	}
	closedir(d);
	qsort(v, nr, sizeof(*v), by_age_newest_first);
	for (i = (size_t)keep; i < nr; i++) {
		if (!is_done(v[i].dir))
			continue;
		if (!trash && !(trash = trash_dir(state_dir, e)))
			goto out;
		if (fn)
			fn(v[i].dir, data);
		for (size_t t = 0; t < ARRAY_SIZE(trees); t++) {
			char *src = fs_join(v[i].dir, trees[t]);
			char *label = xasprintf(
				"%s-%s", strrchr(v[i].dir, '/') + 1, trees[t]);

			if (move_to_trash(trash, src, label) > 0)
				moved++;
			free(label);
			free(src);
		}
	}
	if (moved)
		retire_detached(empty_trash, trash);
	ret = 0;
out:
	for (i = 0; i < nr; i++)
		free(v[i].dir);
	free(v);
	free(trash);
	free(builds);
	return ret;
}
