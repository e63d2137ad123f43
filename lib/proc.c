#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

static int sigpipe_fds[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig != SIGCHLD && !stop_signal)
		stop_signal = sig;
	if (sigpipe_fds[1] >= 0 && write(sigpipe_fds[1], &c, 1) < 0) {
		/* a full pipe already wakes the loop */
	}
	errno = saved;
}

int proc_signals_init(struct sw_err *e)
{
	struct sigaction sa;
	static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP };

	if (sigpipe_fds[0] >= 0)
		return 0;
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return err_sys(e, "cannot create a pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return 0;
}

int proc_signals_after_fork(struct sw_err *e)
{
	if (sigpipe_fds[0] >= 0) {
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		sigpipe_fds[0] = sigpipe_fds[1] = -1;
	}
	stop_signal = 0;
	return proc_signals_init(e);
}

int proc_sigfd(void)
{
	return sigpipe_fds[0];
}

void proc_sigfd_drain(void)
{
	char junk[64];

	if (sigpipe_fds[0] < 0)
		return;
	while (read(sigpipe_fds[0], junk, sizeof(junk)) > 0)
		;
}

int proc_stop_signal(void)
{
	return stop_signal;
}

static void child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int child_fd(int want, int target)
{
	int fd = want;

	if (fd == -1) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
	}
	if (fd == target) {
		/* keep across exec */
		return fcntl(fd, F_SETFD, 0);
	}
	if (dup2(fd, target) < 0)
		return -1;
	if (want == -1)
		close(fd);
	return 0;
}

static void child_fail(int errfd, const char *what)
{
	int saved = errno;
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(saved));

	if (n > 0 && write(errfd, msg, (size_t)n) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

/* execvpe with an explicit env, after the PATH of that env. */
/* The executable for argv[0], searched in the child's PATH. */
static char *resolve_exec(const struct proc_opts *o)
{
	const char *file = o->argv[0];
	const char *path = NULL;

	if (strchr(file, '/'))
		return xstrdup(file);
	for (const char *const *p = o->env; p && *p; p++)
		if (!strncmp(*p, "PATH=", 5))
			path = *p + 5;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		char *full =
			xasprintf("%.*s/%s", (int)(end - path), path, file);

		if (!access(full, X_OK))
			return full;
		free(full);
		path = *end ? end + 1 : end;
	}
	return NULL;
}

static int stdio_action(posix_spawn_file_actions_t *fa, int fd, int target)
{
	if (fd == -1)
		return posix_spawn_file_actions_addopen(fa, target, "/dev/null",
							O_RDWR, 0);
	return posix_spawn_file_actions_adddup2(fa, fd, target);
}

/*
 * posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK) costs far less
 * than fork for a process with many mappings; it covers everything but
 * switching users.
 */
static int spawn_fast(const struct proc_opts *o, pid_t *pidp, struct sw_err *e)
{
	static const char *const empty[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char *exe = resolve_exec(o);
	int rc;

	if (!exe)
		return err_set(e, ERR_SYSTEM, "cannot start '%s': %s",
			       o->argv[0], strerror(ENOENT));
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, o->pgid);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETPGROUP);
	stdio_action(&fa, o->in_fd, 0);
	stdio_action(&fa, o->out_fd, 1);
	if (o->err_fd == -2)
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	else
		stdio_action(&fa, o->err_fd, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	rc = posix_spawn(pidp, exe, &fa, &at, (char *const *)o->argv,
			 (char *const *)(o->env ? o->env : empty));
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		err_set(e, ERR_SYSTEM, "cannot start '%s': %s", o->argv[0],
			strerror(rc));
		free(exe);
		return -1;
	}
	free(exe);
	return 0;
}

int proc_spawn(const struct proc_opts *o, pid_t *pidp, struct sw_err *e)
{
	static const char *const no_env[] = { NULL };
	int errpipe[2];
	char msg[300];
	char *exe;
	ssize_t n;
	pid_t pid;

	if (!o->set_user && !o->sandbox && !o->ctty)
		return spawn_fast(o, pidp, e);
	if (!o->set_user && o->sandbox)
		return sandbox_spawn(o, pidp, e);
	exe = resolve_exec(o);
	if (!exe)
		return err_set(e, ERR_SYSTEM, "cannot start '%s': %s",
			       o->argv[0], strerror(ENOENT));
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		free(exe);
		return err_sys(e, "cannot create a pipe");
	}
	pid = fork();
	if (pid < 0) {
		close(errpipe[0]);
		close(errpipe[1]);
		free(exe);
		return err_sys(e, "cannot fork");
	}
	if (pid == 0) {
		int err_fd = o->err_fd == -2 ? o->out_fd : o->err_fd;

		close(errpipe[0]);
		child_reset_signals();
		if (o->ctty ? setsid() < 0 : setpgid(0, o->pgid) < 0)
			child_fail(errpipe[1], "cannot join process group");
		/* Move the descriptors out of the way before dup2. */
		if (child_fd(o->in_fd, 0) < 0 || child_fd(o->out_fd, 1) < 0)
			child_fail(errpipe[1], "cannot set up stdio");
		if (o->err_fd == -2 && o->out_fd != -1) {
			if (dup2(1, 2) < 0)
				child_fail(errpipe[1], "cannot set up stderr");
		} else if (child_fd(err_fd, 2) < 0) {
			child_fail(errpipe[1], "cannot set up stderr");
		}
		syscall(SYS_close_range, 3U, ~0U, 4U /* CLOEXEC */);
		if (o->sandbox && sandbox_enter(o->sandbox, errpipe[1]) < 0)
			child_fail(errpipe[1], "cannot enter the sandbox");
		if (o->ctty && ioctl(0, TIOCSCTTY, 0) < 0)
			child_fail(errpipe[1], "cannot take the terminal");
		if (o->set_user) {
			if (o->user && initgroups(o->user, o->gid) < 0)
				child_fail(errpipe[1], "cannot set groups");
			if (setgid(o->gid) < 0)
				child_fail(errpipe[1], "cannot set group id");
			if (setuid(o->uid) < 0)
				child_fail(errpipe[1], "cannot set user id");
		}
		if (o->cwd && chdir(o->cwd) < 0)
			child_fail(errpipe[1], "cannot change directory");
		execve(exe, (char *const *)o->argv,
		       (char *const *)(o->env ? o->env : no_env));
		child_fail(errpipe[1], "cannot run");
	}
	/* The parent sets the group too, so there is no race with kill. */
	if (!o->ctty)
		setpgid(pid, o->pgid ? o->pgid : pid);
	free(exe);
	close(errpipe[1]);
	do {
		n = read(errpipe[0], msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n > 0) {
		msg[n] = '\0';
		proc_wait(pid);
		return err_set(e, ERR_SYSTEM, "cannot start '%s': %s",
			       o->argv[0], msg);
	}
	*pidp = pid;
	return 0;
}

int proc_reap(pid_t pid, int *status)
{
	int found = 0;

	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG);

		if (r <= 0)
			break;
		if (r == pid) {
			*status = st;
			found = 1;
		}
	}
	return found;
}

int proc_wait(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

void proc_die_with_parent(pid_t parent, int sig)
{
	prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
	/* it may have ended before the prctl: we were reparented */
	if (getppid() != parent)
		raise(sig);
}

struct pinfo {
	pid_t pid, ppid, pgrp;
};

static int cmp_pinfo(const void *a, const void *b)
{
	pid_t x = ((const struct pinfo *)a)->pid;
	pid_t y = ((const struct pinfo *)b)->pid;

	return x < y ? -1 : x > y;
}

/* Every process's parent and group, from /proc; *n of them. */
static struct pinfo *scan_procs(size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct pinfo *v = NULL;
	size_t alloc = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		char path[64], line[512];
		pid_t pid = (pid_t)atoi(de->d_name);
		const char *p;
		ssize_t len;
		int fd, ppid, pgrp;
		char state;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, line, sizeof(line) - 1);
		close(fd);
		if (len <= 0)
			continue;
		line[len] = '\0';
		p = strrchr(line, ')');
		if (!p || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
			continue;
		ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = (struct pinfo){ pid, ppid, pgrp };
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_pinfo);
	return v;
}

static bool has_pgid(const pid_t *g, size_t n, pid_t pgid)
{
	for (size_t i = 0; i < n; i++)
		if (g[i] == pgid)
			return true;
	return false;
}

/*
 * The holder's last act, its parent gone: SIGKILL to the groups that
 * children of the group's members lead (su -c runs the command in a
 * session of its own, `set -m` puts each job in a group, a setsid child
 * not yet detached), theirs in turn, then to the group it holds (itself
 * included, unless a stop moved it out). A daemon that has already left
 * (setsid, then its parent ended) has no tie to the group left: out of
 * reach here.
 */
static void holder_kill_all(pid_t target)
{
	pid_t *g = xmalloc(sizeof(*g));
	size_t n, ng = 1, alloc_g = 1;
	struct pinfo *v = scan_procs(&n);
	bool more = true;

	g[0] = target;
	while (more) {
		more = false;
		for (size_t i = 0; i < n; i++) {
			struct pinfo key = { v[i].ppid, 0, 0 }, *parent;

			if (v[i].pgrp != v[i].pid || has_pgid(g, ng, v[i].pgrp))
				continue;
			parent = bsearch(&key, v, n, sizeof(*v), cmp_pinfo);
			if (!parent || !has_pgid(g, ng, parent->pgrp))
				continue;
			ALLOC_GROW(g, ng + 1, alloc_g);
			g[ng++] = v[i].pgrp;
			more = true;
		}
	}
	/* the last one is ours, unless we were moved out (a stop) */
	for (size_t i = ng; i-- > 0;)
		kill(-g[i], SIGKILL);
	_exit(0);
}

/*
 * The holder: a member of the group (its leader, or joined to the group
 * pgid) so that the group id outlives the commands in it, and a watch on
 * its parent. The parent's death (even by SIGKILL) sends it SIGUSR1
 * (PR_SET_PDEATHSIG); a SIGUSR1 from anyone else, with the parent still
 * there, changes nothing. A stop moves it out of the group (so that the
 * group can be seen to end) but it still watches, until the group is
 * gone and it is ended. The parent put it in the group and forked it
 * with SIGTERM, SIGINT, SIGHUP and SIGUSR1 blocked: one sent before it
 * ignores them is dropped, not fatal.
 */
static void holder_main(pid_t parent, pid_t pgid)
{
	struct sigaction sa;
	sigset_t usr1;

	/* Commands are stopped with TERM to the group: the holder stays, so
	 * the group does too, until proc_group_stop. */
	memset(&sa, 0, sizeof(sa));
	for (int sig = 1; sig < NSIG; sig++) {
		sa.sa_handler = sig == SIGTERM || sig == SIGINT || sig == SIGHUP
					? SIG_IGN
					: SIG_DFL;
		sigaction(sig, &sa, NULL);
	}
	prctl(PR_SET_NAME, "slipway-group", 0, 0, 0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_SETMASK, &usr1, NULL);
	prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
	syscall(SYS_close_range, 0U, ~0U, 0U);
	while (getppid() == parent)
		sigwaitinfo(&usr1, NULL);
	holder_kill_all(pgid);
}

/*
 * Only while it is ours and not yet reaped can its pid not be another's.
 * Waiting for it to die is one more wait for a CPU on a busy machine:
 * after a stop (the holder out of the group) it is left to the next
 * reaping of other children (a stop's, proc_reap()'s) or to our end.
 */
static void holder_kill(pid_t holder, bool wait)
{
	if (waitpid(holder, NULL, WNOHANG) != 0)
		return; /* ended (a KILL to its group) and reaped */
	kill(holder, SIGKILL);
	if (wait)
		waitpid(holder, NULL, 0);
}

static void holder_end(pid_t holder)
{
	holder_kill(holder, true);
}

/*
 * Returns with the holder in the group (put there by us, so that a stop
 * cannot move it out before it has moved in): one fork, and no wait for
 * the holder to run, once per build or hook.
 */
static int holder_start(struct proc_group *g, pid_t pgid, struct sw_err *e)
{
	pid_t parent = getpid(), pid;
	sigset_t block, old;
	int rc = 0, saved = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid == 0)
		holder_main(parent, pgid ? pgid : getpid());
	if (pid > 0 && setpgid(pid, pgid ? pgid : pid) < 0) {
		rc = -1;
		saved = errno;
	}
	if (pid < 0)
		saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		errno = saved;
		return err_sys(e, "cannot fork");
	}
	if (rc < 0) {
		holder_end(pid);
		errno = saved;
		if (!pgid)
			return err_sys(e, "cannot start a process group");
		return err_set(e, ERR_SYSTEM,
			       "cannot join process group %d: it has ended",
			       (int)pgid);
	}
	g->pgid = pgid ? pgid : pid;
	g->holder = pid;
	return 0;
}

int proc_group_start(struct proc_group *g, struct sw_err *e)
{
	return holder_start(g, 0, e);
}

int proc_group_hold(struct proc_group *g, pid_t pgid, struct sw_err *e)
{
	return holder_start(g, pgid, e);
}

void proc_group_detach(const struct proc_group *g)
{
	/* to our group: its leader (the holder of a build) cannot make
	 * another; it ignores the signals a terminal sends there */
	if (g->holder > 0)
		setpgid(g->holder, getpgrp());
}

void proc_group_release(struct proc_group *g)
{
	if (g->holder > 0)
		holder_end(g->holder);
	g->pgid = g->holder = 0;
}

void proc_group_signal(const struct proc_group *g, int sig)
{
	if (g->pgid > 0)
		kill(-g->pgid, sig);
}

/* Children of ours (orphans reparented to the subreaper), by /proc. */
static int scan_orphans(pid_t except, int sig);

/*
 * Children of ours: /proc/self/task/<tid>/children lists them directly
 * (slipway is one thread), so the cost does not grow with the host's
 * process count. Without that file, scan all of /proc.
 */
static int signal_orphans(pid_t except, int sig)
{
	char path[64], buf[4096];
	int fd, n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children",
		 (int)gettid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return scan_orphans(except, sig);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return scan_orphans(except, sig);
	if ((size_t)len == sizeof(buf) - 1)
		return scan_orphans(except, sig); /* too many to list here */
	buf[len] = '\0';
	for (char *p = buf, *end; *p; p = end) {
		pid_t pid = (pid_t)strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0 && pid != except) {
			kill(pid, sig);
			n++;
		}
	}
	return n;
}

static int scan_orphans(pid_t except, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[64], line[512];
		pid_t pid = (pid_t)atoi(de->d_name);
		FILE *f;
		const char *p;
		char state;
		int ppid;

		if (pid <= 0 || pid == except)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(line, ')');
		if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
			continue;
		if (ppid != self || state == 'Z')
			continue;
		kill(pid, sig);
		n++;
	}
	closedir(d);
	return n;
}

static bool group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

static void reap_all(void)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

static bool anything_left(pid_t pgid, pid_t holder)
{
	reap_all();
	return group_alive(pgid) || signal_orphans(holder, 0) > 0;
}

int proc_grace_ms(int ms)
{
	const char *v = getenv("SLIPWAY_TEST_GRACE_MS");
	char *end;
	long n;

	if (!v || !*v)
		return ms;
	errno = 0;
	n = strtol(v, &end, 10);
	return !errno && !*end && n > 0 && n <= 3600000 ? (int)n : ms;
}

int proc_group_stop(struct proc_group *g, int grace_ms)
{
	int64_t deadline = proc_now_ms() + proc_grace_ms(grace_ms);
	pid_t pgid = g->pgid, holder = g->holder;
	int killed = 0;

	if (pgid <= 0)
		return 0;
	/* The holder steps out (the group outlives it) but still kills
	 * the group should we die before it is gone. */
	proc_group_detach(g);
	kill(-pgid, SIGTERM);
	kill(-pgid, SIGCONT);
	signal_orphans(holder, SIGTERM);
	while (anything_left(pgid, holder)) {
		if (proc_now_ms() >= deadline) {
			killed = 1;
			kill(-pgid, SIGKILL);
			signal_orphans(holder, SIGKILL);
			break;
		}
		poll(NULL, 0, 5);
	}
	for (int i = 0; i < 400 && anything_left(pgid, holder); i++) {
		kill(-pgid, SIGKILL);
		signal_orphans(holder, SIGKILL);
		poll(NULL, 0, 5);
	}
	if (holder > 0)
		holder_kill(holder, false);
	g->pgid = g->holder = 0;
	return killed;
}

int64_t proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t proc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
