#include "hostbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsview.h"
#include "proc.h"
#include "banned.h"

#define HOST_NS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

/* This machine's directories a host sees underneath its own. */
static const char *const system_dirs[] = { "usr", "etc",   "bin",   "sbin",
					   "lib", "lib32", "lib64", "libx32" };

/* ---- the holder ---- */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_chld(int sig)
{
	(void)sig;
}

/*
 * The host's root is the user's files: a symbolic link on the way to a
 * mount point or to a directory made here could lead out of it (an
 * overlay's upper directory on this machine's /etc). Refuse any.
 */
static int no_links(const char *path, struct nsv_err *h)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s", path);
	for (char *c = p + sizeof("/newroot");; c++) {
		if (*c == '/' || !*c) {
			char was = *c;

			*c = '\0';
			if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
				errno = ELOOP;
				return nsv_fail(h,
						"the host's root has a "
						"symbolic link at",
						p + 8);
			}
			*c = was;
			if (!was)
				break;
		}
	}
	return 0;
}

static int mkdir_mode(const char *path, mode_t mode, struct nsv_err *h)
{
	if (no_links(path, h) < 0)
		return -1;
	/* messages name the path as the host sees it */
	if (mkdir(path, mode) == 0)
		return chmod(path, mode) < 0
			       ? nsv_fail(h, "cannot chmod", path + 8)
			       : 0;
	if (errno == EEXIST)
		return 0;
	return nsv_fail(h, "cannot make", path + 8);
}

/* What every machine has: made in the host's root when missing. */
static int skeleton(struct nsv_err *h)
{
	static const struct {
		const char *path;
		mode_t mode;
	} dirs[] = {
		{ "/newroot/proc", 0555 },	{ "/newroot/dev", 0755 },
		{ "/newroot/sys", 0555 },	{ "/newroot/run", 0755 },
		{ "/newroot/tmp", 01777 },	{ "/newroot/var", 0755 },
		{ "/newroot/var/tmp", 01777 },	{ "/newroot/var/log", 0755 },
		{ "/newroot/var/lib", 0755 },	{ "/newroot/var/cache", 0755 },
		{ "/newroot/var/spool", 0755 }, { "/newroot/opt", 0755 },
		{ "/newroot/srv", 0755 },	{ "/newroot/home", 0755 },
		{ "/newroot/root", 0700 },	{ "/newroot/mnt", 0755 },
	};
	static const char *const links[][2] = {
		{ "/run", "/newroot/var/run" },
		{ "/run/lock", "/newroot/var/lock" },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir_mode(dirs[i].path, dirs[i].mode, h) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (lstat(links[i][1], &st) < 0 &&
		    symlink(links[i][0], links[i][1]) < 0)
			return nsv_fail(h, "cannot link", links[i][1] + 8);
	return 0;
}

/* /usr and friends: the machine's underneath, the host's on top. */
static int system_dir(const struct hostbox_opts *o, const char *name,
		      struct nsv_err *h)
{
	char lower[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], at[PATH_MAX];
	char opts[3 * PATH_MAX + 64], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(lower, sizeof(lower), "/oldroot/%s", name);
	snprintf(at, sizeof(at), "/newroot/%s", name);
	if (lstat(lower, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		if (lstat(at, &st) == 0) {
			/* the host's own link stays; a directory of its own
			 * (an install made /bin/x) is overlaid on the
			 * machine's (the link's target) */
			if (!S_ISDIR(st.st_mode))
				return 0;
		} else {
			n = readlink(lower, link, sizeof(link) - 1);
			if (n < 0)
				return 0;
			link[n] = '\0';
			if (symlink(link, at) < 0)
				return nsv_fail(h, "cannot link", at + 8);
			return 0;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		return 0;
	}
	snprintf(upper, sizeof(upper), "/oldroot%s/%s", o->root, name);
	snprintf(work, sizeof(work), "/oldroot%s/%s", o->work, name);
	if (mkdir_mode(at, 0755, h) < 0)
		return -1;
	if (nsv_mkdir_p(work, 0700) < 0)
		return nsv_fail(h, "cannot make", work + 8);
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s",
		 lower, upper, work);
	if (mount("overlay", at, "overlay", 0, opts) < 0)
		return nsv_fail(h, "cannot mount an overlay at", at + 8);
	return 0;
}

static int holder_fs(const struct hostbox_opts *o, struct nsv_err *h)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nsv_fail(h, "cannot make private", "/");
	if (nsv_tmpfs_at("/tmp", "0755", h) < 0)
		return -1;
	if (mkdir("/tmp/newroot", 0755) < 0 || mkdir("/tmp/oldroot", 0755))
		return nsv_fail(h, "cannot make", "/tmp/newroot");
	if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") < 0)
		return nsv_fail(h, "cannot pivot to", "/tmp");
	if (chdir("/") < 0)
		return nsv_fail(h, "cannot change to", "/");
	snprintf(from, sizeof(from), "/oldroot%s", o->root);
	if (mount(from, "/newroot", NULL, MS_BIND | MS_REC, NULL) < 0)
		return nsv_fail(h, "cannot bind", o->root);
	if (skeleton(h) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]);
	     i++)
		if (system_dir(o, system_dirs[i], h) < 0)
			return -1;
	if (mount("proc", "/newroot/proc", "proc",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return nsv_fail(h, "cannot mount", "/proc");
	if (nsv_proc_guard(h) < 0 || nsv_make_dev(h) < 0)
		return -1;
	if (mount("sysfs", "/newroot/sys", "sysfs",
		  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return nsv_fail(h, "cannot mount", "/sys");
	if (nsv_tmpfs_at("/newroot/run", "0755", h) < 0 ||
	    mkdir_mode("/newroot/run/lock", 01777, h) < 0)
		return -1;
	if (o->agent_root) {
		snprintf(to, sizeof(to), "/newroot%s", HOSTBOX_AGENT_ROOT);
		if (no_links(to, h) < 0)
			return -1;
		if (nsv_mkdir_p(to, 0755) < 0)
			return nsv_fail(h, "cannot make", HOSTBOX_AGENT_ROOT);
		snprintf(from, sizeof(from), "/oldroot%s", o->agent_root);
		if (mount(from, to, NULL, MS_BIND, NULL) < 0)
			return nsv_fail(h, "cannot bind", o->agent_root);
	}
	if (o->network && nsv_lo_up(h) < 0)
		return -1;
	if (chdir("/newroot") < 0)
		return nsv_fail(h, "cannot change to", "/newroot");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return nsv_fail(h, "cannot pivot to", o->root);
	if (umount2(".", MNT_DETACH) < 0)
		return nsv_fail(h, "cannot detach", "the old root");
	if (chdir("/") < 0)
		return nsv_fail(h, "cannot change to", "/");
	return 0;
}

/* Processes of the host other than the holder (its /proc is the host's). */
static int others(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    strcmp(de->d_name, "1"))
			n++;
	closedir(d);
	return n;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void holder_main(const struct hostbox_opts *o, int ready)
{
	struct sigaction sa;
	struct nsv_err h = { { 0 } };
	sigset_t none;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "host-init", 0, 0, 0);
	nsv_close_others(ready, ready);
	umask(022);
	/* a name longer than a hostname can be is cut */
	if (holder_fs(o, &h) < 0 ||
	    sethostname(o->name, strnlen(o->name, HOST_NAME_MAX))) {
		if (!h.msg[0])
			nsv_fail(&h, "cannot set the hostname", o->name);
		if (write(ready, h.msg, strlen(h.msg)) < 0)
			_exit(1);
		_exit(1);
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	close(ready);
	while (!stopping) {
		poll(NULL, 0, 1000);
		reap();
	}
	/* Stopping: everyone gets a TERM and the grace to act on it. */
	kill(-1, SIGTERM);
	for (int waited = 0; waited < o->grace_ms && others() > 0;
	     waited += 20) {
		poll(NULL, 0, 20);
		reap();
	}
	_exit(0); /* pid 1 ends: the kernel kills what is left */
}

/* ---- from outside ---- */

int hostbox_probe(struct sw_err *e)
{
	return nsv_probe(HOST_NS, e);
}

static bool bad_path(const char *p)
{
	return !p || p[0] != '/' || strpbrk(p, ",:\\\n") != NULL;
}

/*
 * The middle process: in a session of its own, it clones the holder and
 * waits for it to be ready, so that a holder that fails is its child to
 * reap (never a pid to kill later). It tells the parent "P<pid>" or
 * "E<why>" through out, then ends and the holder is adopted by init.
 */
static void middle(const struct hostbox_opts *o, int out)
{
	char msg[300];
	int ready[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	setsid();
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto fail;
	pid = nsv_clone(HOST_NS | (o->network ? CLONE_NEWNET : 0));
	if (pid == 0) {
		close(ready[0]);
		close(out);
		holder_main(o, ready[1]);
		_exit(1);
	}
	if (pid < 0)
		goto fail;
	close(ready[1]);
	msg[0] = 'E';
	while ((n = read(ready[0], msg + 1 + got,
			 sizeof(msg) - 2 - (size_t)got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	if (got > 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (write(out, msg, (size_t)got + 1) < 0)
			_exit(1);
		_exit(1);
	}
	n = snprintf(msg, sizeof(msg), "P%d", (int)pid);
	if (write(out, msg, (size_t)n) < 0)
		_exit(1);
	_exit(0);
fail:
	n = snprintf(msg, sizeof(msg), "Ecannot make namespaces: %s",
		     strerror(errno));
	if (write(out, msg, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

int hostbox_start(const struct hostbox_opts *o, pid_t *pidp, struct sw_err *e)
{
	int pp[2], reaper = 0, st;
	pid_t mid;
	char msg[304];
	ssize_t n, got = 0;

	*pidp = 0;
	if (bad_path(o->root) || bad_path(o->work) ||
	    (o->agent_root && bad_path(o->agent_root)))
		return err_set(e, ERR_SYSTEM,
			       "cannot make a sandbox under '%s': its path "
			       "must be absolute, without ',' ':' or '\\'",
			       o->root ? o->root : "");
	if (pipe2(pp, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	/* The holder must not be adopted by us when the middle one ends. */
	if (prctl(PR_GET_CHILD_SUBREAPER, &reaper) < 0)
		reaper = 0;
	if (reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	fflush(NULL);
	mid = fork();
	if (mid == 0) {
		close(pp[0]);
		middle(o, pp[1]);
	}
	close(pp[1]);
	if (mid > 0) {
		while ((n = read(pp[0], msg + got,
				 sizeof(msg) - 1 - (size_t)got)) > 0 ||
		       (n < 0 && errno == EINTR))
			if (n > 0)
				got += n;
		while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	close(pp[0]);
	if (mid < 0)
		return err_sys(e, "cannot fork");
	msg[got] = '\0';
	if (msg[0] == 'P' && atoi(msg + 1) > 0) {
		*pidp = (pid_t)atoi(msg + 1);
		return 0;
	}
	return err_set(e, ERR_SYSTEM, "cannot set up its sandbox: %s",
		       msg[0] == 'E' ? msg + 1 : "the holder died");
}

unsigned long long hostbox_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	/* p is field 3 (state); the start time is field 22 */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

bool hostbox_alive(pid_t pid, unsigned long long start)
{
	return pid > 0 && start && hostbox_starttime(pid) == start;
}

int hostbox_stop(pid_t pid, unsigned long long start, int grace_ms,
		 struct sw_err *e)
{
	int waited = 0;

	if (!hostbox_alive(pid, start))
		return 0;
	kill(pid, SIGTERM);
	while (hostbox_alive(pid, start) && waited < grace_ms + 1000) {
		poll(NULL, 0, 10);
		waited += 10;
	}
	if (!hostbox_alive(pid, start))
		return 0;
	kill(pid, SIGKILL);
	for (waited = 0; hostbox_alive(pid, start) && waited < 2000;
	     waited += 10)
		poll(NULL, 0, 10);
	if (hostbox_alive(pid, start))
		return err_set(e, ERR_SYSTEM,
			       "the host's pid 1 (%d) would "
			       "not end",
			       (int)pid);
	return 0;
}
