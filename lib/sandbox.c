#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsview.h"
#include "xalloc.h"
#include "banned.h"

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

static const char *const cg_controllers[2] = { "pids", "memory" };

int sandbox_probe(struct sw_err *e)
{
	return nsv_probe(NS_FLAGS | CLONE_NEWNET, e);
}

char *sandbox_src_path(void)
{
	unsigned int n = 0;

	if (getrandom(&n, sizeof(n), 0) != sizeof(n))
		n = (unsigned int)getpid() * 2654435761U;
	return xasprintf("/codebuild/output/src%u/src", n % 1000000000U);
}

/* ---- the holder ---- */

static int bind_entry(const char *name, struct nsv_err *h)
{
	char from[PATH_MAX], to[PATH_MAX], link[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(from, sizeof(from), "/oldroot/%s", name);
	snprintf(to, sizeof(to), "/newroot/%s", name);
	if (lstat(from, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(from, link, sizeof(link) - 1);
		if (n < 0)
			return 0;
		link[n] = '\0';
		if (symlink(link, to) < 0)
			return nsv_fail(h, "cannot link", to);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(to, 0755) < 0)
			return nsv_fail(h, "cannot make", to);
	} else if (S_ISREG(st.st_mode)) {
		fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return nsv_fail(h, "cannot make", to);
		close(fd);
	} else {
		return 0;
	}
	if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
		return nsv_fail(h, "cannot bind", from);
	return 0;
}

/* Mount points in mountinfo escape space, tab, newline and backslash. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static unsigned long statvfs_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Every mount under /newroot read-only. */
static int all_readonly(struct nsv_err *h)
{
	FILE *f = fopen("/oldroot/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return nsv_fail(h, "cannot read", "/proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char *fld[5] = { NULL };
		char *p = line;
		unsigned long fl;

		for (int i = 0; i < 5 && p; i++) {
			fld[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (!fld[4])
			continue;
		unescape(fld[4]);
		if (strcmp(fld[4], "/newroot") &&
		    strncmp(fld[4], "/newroot/", 9))
			continue;
		fl = statvfs_flags(fld[4]);
		if (mount(NULL, fld[4], NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV | fl,
			  NULL) < 0 &&
		    errno != ENOENT) {
			ret = nsv_fail(h, "cannot make read-only", fld[4] + 8);
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

/*
 * slipway's own executable, where the view hides it (under /tmp): the
 * build's helpers (codebuild-hash-files, ...) are links to it.
 */
static int bind_self(const char *exe, struct nsv_err *h)
{
	char from[PATH_MAX], to[PATH_MAX];
	char *slash;
	int fd;

	if (!exe[0] ||
	    snprintf(to, sizeof(to), "/newroot%s", exe) >= (int)sizeof(to))
		return 0;
	if (access(to, F_OK) == 0)
		return 0;
	snprintf(from, sizeof(from), "/oldroot%s", exe);
	slash = strrchr(to, '/');
	*slash = '\0';
	if (nsv_mkdir_p(to, 0755) < 0)
		return 0; /* not under a writable part of the view */
	*slash = '/';
	fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	if (fd < 0)
		return 0;
	close(fd);
	if (mount(from, to, NULL, MS_BIND, NULL) < 0)
		return 0; /* replaced since it started: the helpers fail */
	if (mount(NULL, to, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV,
		  NULL) < 0)
		return nsv_fail(h, "cannot make read-only", exe);
	return 0;
}

/* The tmpfs mounts made for missing mount points (see prepare_point). */
static dev_t shadow_dev[SANDBOX_MAX_BINDS + 1];
static size_t nshadow;

/*
 * Replace the view's dir (a host directory, "/newroot/..."), by a tmpfs
 * of the same owner and mode holding binds of its entries: a place where
 * mount points can be made without writing the host. all_readonly()
 * makes it read-only afterwards.
 */
static int shadow_dir(const char *dir, struct nsv_err *h)
{
	char mode[16], name[PATH_MAX];
	const char *rel = dir + strlen("/newroot/");
	struct stat st;
	struct dirent *d;
	DIR *dd;
	int ret = 0;

	if (lstat(dir, &st) < 0)
		return nsv_fail(h, "cannot read", dir + 8);
	snprintf(name, sizeof(name), "/oldroot/%s", rel);
	dd = opendir(name);
	if (!dd)
		return nsv_fail(h, "cannot read", dir + 8);
	snprintf(mode, sizeof(mode), "%o", (unsigned)(st.st_mode & 07777));
	if (nsv_tmpfs_at(dir, mode, h) < 0) {
		closedir(dd);
		return -1;
	}
	if (chown(dir, st.st_uid, st.st_gid) < 0 || lstat(dir, &st) < 0) {
		closedir(dd);
		return nsv_fail(h, "cannot own", dir + 8);
	}
	shadow_dev[nshadow++] = st.st_dev;
	while (ret == 0 && (d = readdir(dd))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (snprintf(name, sizeof(name), "%s/%s", rel, d->d_name) >=
		    (int)sizeof(name) - 16) {
			errno = ENAMETOOLONG;
			ret = nsv_fail(h, "cannot bind", d->d_name);
			break;
		}
		ret = bind_entry(name, h);
	}
	closedir(dd);
	return ret;
}

/*
 * Make the mount point for a bind at `at` in the view before it is made
 * read-only: nothing to do where it exists or lies in a tmpfs mounted
 * later (/tmp, /codebuild); else the missing directories, in a tmpfs of
 * ours (the view's root, or a shadow_dir() of the nearest existing one).
 */
static int prepare_point(const char *at, struct nsv_err *h)
{
	static const char *const refused[] = { "proc", "dev", "newroot",
					       "oldroot" };
	char v[PATH_MAX], top[NAME_MAX + 1];
	size_t tl = strcspn(at + 1, "/"), end, k;
	struct stat st, rs;
	bool ours;

	if (at[0] != '/' || !tl || tl > NAME_MAX ||
	    snprintf(v, sizeof(v), "/newroot%s", at) >= (int)sizeof(v) - 1) {
		errno = EINVAL;
		return nsv_fail(h, "cannot mount at", at);
	}
	memcpy(top, at + 1, tl);
	top[tl] = '\0';
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (!strcmp(top, refused[i])) {
			errno = EPERM;
			return nsv_fail(h, "cannot mount at", at);
		}
	}
	if (!strcmp(top, "tmp") || !strcmp(top, "codebuild"))
		return 0;
	/* The first missing component, refusing links on the way. */
	for (end = strlen("/newroot") + 1;; end++) {
		char c = v[end];

		if (c && c != '/')
			continue;
		v[end] = '\0';
		if (lstat(v, &st) < 0) {
			v[end] = c;
			if (errno != ENOENT)
				return nsv_fail(h, "cannot mount at", at);
			break;
		}
		if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			nsv_fail(h, "cannot mount at", at);
			v[end] = c;
			return -1;
		}
		v[end] = c;
		if (!c)
			return 0; /* it exists */
	}
	/* v[..end) is missing; its parent, v[..k - 1), exists. */
	k = end;
	while (v[k - 1] != '/')
		k--;
	v[k - 1] = '\0';
	if (lstat(v, &st) < 0 || lstat("/newroot", &rs) < 0) {
		v[k - 1] = '/';
		return nsv_fail(h, "cannot mount at", at);
	}
	ours = st.st_dev == rs.st_dev;
	for (size_t i = 0; i < nshadow && !ours; i++)
		ours = st.st_dev == shadow_dev[i];
	if (!ours && shadow_dir(v, h) < 0)
		return -1;
	v[k - 1] = '/';
	if (nsv_mkdir_p(v, 0755) < 0)
		return nsv_fail(h, "cannot make", at);
	return 0;
}

/* How many leading components of `at` the view has. */
static size_t existing_depth(const char *at)
{
	char v[PATH_MAX];
	size_t n = 0;
	struct stat st;

	if (snprintf(v, sizeof(v), "/newroot%s", at) >= (int)sizeof(v))
		return 0;
	for (char *p = v + strlen("/newroot") + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = '\0';
		if (lstat(v, &st) < 0 || !S_ISDIR(st.st_mode))
			return n;
		*p = c;
		n++;
		if (!c)
			return n;
	}
}

/*
 * Directory `at` of the view in a tmpfs of ours: a host directory bound
 * there is replaced by a shadow_dir(), so a file made in it is the
 * view's, never the host's.
 */
static int own_dir(const char *at, struct nsv_err *h)
{
	char v[PATH_MAX];
	struct stat st, rs;
	bool ours;

	if (snprintf(v, sizeof(v), "/newroot%s", at) >= (int)sizeof(v)) {
		errno = ENAMETOOLONG;
		return nsv_fail(h, "cannot mount at", at);
	}
	if (lstat(v, &st) < 0 || lstat("/newroot", &rs) < 0)
		return nsv_fail(h, "cannot mount at", at);
	ours = st.st_dev == rs.st_dev;
	for (size_t i = 0; i < nshadow && !ours; i++)
		ours = st.st_dev == shadow_dev[i];
	return ours ? 0 : shadow_dir(v, h);
}

/* Whether the view lacks the file a file bind goes over. */
static bool file_missing(const char *at)
{
	char v[PATH_MAX];
	struct stat st;

	if (snprintf(v, sizeof(v), "/newroot%s", at) >= (int)sizeof(v))
		return false;
	return lstat(v, &st) < 0 && errno == ENOENT;
}

/* Whether `at` lies in a tmpfs the view mounts later (/tmp, /codebuild). */
static bool in_late_tmpfs(const char *at)
{
	return !strncmp(at, "/tmp/", 5) || !strncmp(at, "/codebuild/", 11);
}

/* An empty file at `at` in the view (and its directories): a mount point. */
static int point_file(const char *at, struct nsv_err *h)
{
	char v[PATH_MAX], *slash;
	int fd;

	if (snprintf(v, sizeof(v), "/newroot%s", at) >= (int)sizeof(v)) {
		errno = ENAMETOOLONG;
		return nsv_fail(h, "cannot mount at", at);
	}
	slash = strrchr(v, '/');
	*slash = '\0';
	if (nsv_mkdir_p(v, 0755) < 0)
		return nsv_fail(h, "cannot make", at);
	*slash = '/';
	fd = open(v, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return nsv_fail(h, "cannot make", at);
	close(fd);
	return 0;
}

/*
 * The mount points of the binds, shallowest missing part first: a
 * shadow_dir() never hides one made before. A file bind whose file the
 * view lacks gets its directory made like a directory bind's point, and
 * an empty file in it.
 */
static int prepare_points(const struct sandbox_opts *o, struct nsv_err *h)
{
	size_t order[SANDBOX_MAX_BINDS], depth[SANDBOX_MAX_BINDS];
	bool missing[SANDBOX_MAX_BINDS];

	for (size_t i = 0; i < o->nbinds; i++) {
		size_t j = i;

		/* a file bind over a file that is there: no point to make */
		missing[i] = o->binds[i].file && file_missing(o->binds[i].at);
		depth[i] = o->binds[i].file && !missing[i]
				   ? 0
				   : existing_depth(o->binds[i].at);
		while (j > 0 && depth[order[j - 1]] > depth[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < o->nbinds; i++) {
		const struct sandbox_bind *b = &o->binds[order[i]];
		char dir[PATH_MAX], *slash;

		if (!b->file) {
			if (prepare_point(b->at, h) < 0)
				return -1;
			continue;
		}
		if (!missing[order[i]] || in_late_tmpfs(b->at))
			continue;
		snprintf(dir, sizeof(dir), "%s", b->at);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			errno = EINVAL;
			return nsv_fail(h, "cannot mount at", b->at);
		}
		*slash = '\0';
		if (prepare_point(dir, h) < 0 || own_dir(dir, h) < 0 ||
		    point_file(b->at, h) < 0)
			return -1;
	}
	return 0;
}

/*
 * A file of the host (a regular file or a socket), read-only over one
 * the view has, or over an empty one made in /tmp or /codebuild.
 */
static int bind_file(const struct sandbox_bind *b, struct nsv_err *h)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;

	snprintf(from, sizeof(from), "/oldroot%s", b->host);
	snprintf(to, sizeof(to), "/newroot%s", b->at);
	if (in_late_tmpfs(b->at) && file_missing(b->at) &&
	    point_file(b->at, h) < 0)
		return -1;
	if (lstat(to, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : errno;
		return nsv_fail(h, "cannot mount at", b->at);
	}
	if (mount(from, to, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, to, NULL,
		  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  NULL) < 0)
		return nsv_fail(h, "cannot bind", b->host);
	return 0;
}

static int holder_fs(const struct sandbox_opts *o, struct nsv_err *h)
{
	static const char *const skip[] = { "proc", "tmp", "dev", "newroot",
					    "oldroot" };
	char exe[PATH_MAX];
	struct dirent *d;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	DIR *dir;

	exe[n > 0 && exe[0] == '/' ? n : 0] = '\0';
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
	if (nsv_tmpfs_at("/newroot", "0755", h) < 0)
		return -1;
	dir = opendir("/oldroot");
	if (!dir)
		return nsv_fail(h, "cannot read", "/");
	while ((d = readdir(dir))) {
		bool skipped =
			!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");

		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
			skipped = skipped || !strcmp(d->d_name, skip[i]);
		if (!skipped && bind_entry(d->d_name, h) < 0) {
			closedir(dir);
			return -1;
		}
	}
	closedir(dir);
	if ((mkdir("/newroot/dev", 0755) < 0 && errno != EEXIST) ||
	    (mkdir("/newroot/proc", 0555) < 0 && errno != EEXIST) ||
	    (mkdir("/newroot/tmp", 01777) < 0 && errno != EEXIST) ||
	    (mkdir("/newroot/codebuild", 0755) < 0 && errno != EEXIST))
		return nsv_fail(h, "cannot make", "/newroot");
	if (prepare_points(o, h) < 0 || all_readonly(h) < 0)
		return -1;
	if (mount("proc", "/newroot/proc", "proc",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return nsv_fail(h, "cannot mount", "/proc");
	if (nsv_tmpfs_at("/newroot/tmp", "1777", h) < 0 ||
	    nsv_tmpfs_at("/newroot/codebuild", "0755", h) < 0)
		return -1;
	if (nsv_proc_guard(h) < 0 || nsv_make_dev(h) < 0)
		return -1;
	if (bind_self(exe, h) < 0)
		return -1;
	if (o->rw_dir && nsv_bind_rw(o->rw_dir, o->rw_dir, h) < 0)
		return -1;
	if (nsv_bind_rw(o->src, o->src_at, h) < 0)
		return -1;
	for (size_t i = 0; i < o->nbinds; i++)
		if (o->binds[i].file ? bind_file(&o->binds[i], h) < 0
				     : nsv_bind_rw(o->binds[i].host,
						   o->binds[i].at, h) < 0)
			return -1;
	if (o->network_none && nsv_lo_up(h) < 0)
		return -1;
	if (chdir("/newroot") < 0)
		return nsv_fail(h, "cannot change to", "/newroot");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return nsv_fail(h, "cannot pivot to", "/newroot");
	if (umount2(".", MNT_DETACH) < 0)
		return nsv_fail(h, "cannot detach", "the old root");
	if (chdir("/") < 0)
		return nsv_fail(h, "cannot change to", "/");
	return 0;
}

static void on_chld(int sig)
{
	(void)sig;
}

static void holder_main(const struct sandbox_opts *o, int ctl, int ready)
{
	struct sigaction sa;
	struct nsv_err h = { { 0 } };
	sigset_t none;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	/* its RLIMIT_CPU is the commands' limit, not one for itself */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGXCPU, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_NAME, "sandbox-init", 0, 0, 0);
	nsv_close_others(ctl, ready);
	/* the memory limit's OOM killer takes a command, never the holder */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "-1000", 5) < 0) {
			/* then it is only as likely as any other */
		}
		close(fd);
	}
	if (holder_fs(o, &h) < 0) {
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
	for (;;) {
		struct pollfd p = { ctl, POLLIN, 0 };
		int n = poll(&p, 1, 1000);

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (n > 0 && p.revents)
			_exit(0); /* the last process: the kernel kills the rest */
	}
}

static char *make_cgroup(const char *ctl, pid_t holder, const char *file,
			 const char *value)
{
	char *dir = xasprintf("/sys/fs/cgroup/%s/slipway.%d", ctl, holder);
	char *path;
	int fd, ok;

	if (mkdir(dir, 0755) < 0) {
		free(dir);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 &&
	     write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	if (fd >= 0)
		close(fd);
	free(path);
	if (ok) {
		char pid[24];

		snprintf(pid, sizeof(pid), "%d", holder);
		path = xasprintf("%s/cgroup.procs", dir);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		ok = fd >= 0 && write(fd, pid, strlen(pid)) > 0;
		if (fd >= 0)
			close(fd);
		free(path);
	}
	if (!ok) {
		rmdir(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static void set_limits(struct sandbox *s, const struct sandbox_opts *o)
{
	const char *pids = NULL, *mem = NULL;
	char v[32];

	if (o->pids > 0) {
		snprintf(v, sizeof(v), "%ld", o->pids);
		s->cgroups[0] = make_cgroup("pids", s->pid, "pids.max", v);
		if (s->cgroups[0]) {
			pids = "cgroup v1 pids.max";
		} else {
			struct rlimit rl = { (rlim_t)o->pids, (rlim_t)o->pids };

			prlimit(s->pid, RLIMIT_NPROC, &rl, NULL);
			pids = "RLIMIT_NPROC (not enforced for root)";
		}
	}
	if (o->memory > 0) {
		snprintf(v, sizeof(v), "%lld", o->memory);
		s->cgroups[1] = make_cgroup("memory", s->pid,
					    "memory.limit_in_bytes", v);
		if (s->cgroups[1]) {
			mem = "cgroup v1 memory.limit_in_bytes";
		} else {
			struct rlimit rl = { (rlim_t)o->memory,
					     (rlim_t)o->memory };

			prlimit(s->pid, RLIMIT_AS, &rl, NULL);
			mem = "RLIMIT_AS per process";
		}
	}
	if (o->cpu_time > 0) {
		struct rlimit rl = { (rlim_t)o->cpu_time,
				     (rlim_t)o->cpu_time + 5 };

		prlimit(s->pid, RLIMIT_CPU, &rl, NULL);
	}
	s->note = xasprintf("limits: pids by %s, memory by %s, "
			    "cpu time by %s",
			    pids ? pids : "none", mem ? mem : "none",
			    o->cpu_time > 0 ? "RLIMIT_CPU per process"
					    : "the build timeout");
}

int sandbox_start(struct sandbox *s, const struct sandbox_opts *o,
		  struct sw_err *e)
{
	int ctl[2], ready[2];
	char msg[300];
	ssize_t n;
	pid_t pid;

	if (o->nbinds > SANDBOX_MAX_BINDS)
		return err_set(e, ERR_USAGE,
			       "the sandbox takes at most %d binds",
			       SANDBOX_MAX_BINDS);
	for (size_t i = 0; i < o->nbinds; i++) {
		char *host = xstrdup(o->binds[i].host);
		int rc = o->binds[i].file ? 0 : nsv_mkdir_p(host, 0755);

		free(host);
		if (rc < 0)
			return err_sys(e, "cannot make '%s'", o->binds[i].host);
	}
	if (pipe2(ctl, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(ctl[0]);
		close(ctl[1]);
		return err_sys(e, "cannot create a pipe");
	}
	fflush(NULL);
	pid = nsv_clone(NS_FLAGS | (o->network_none ? CLONE_NEWNET : 0));
	if (pid < 0) {
		err_sys(e, "cannot make the sandbox's namespaces");
		close(ctl[0]);
		close(ctl[1]);
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		close(ctl[1]);
		close(ready[0]);
		holder_main(o, ctl[0], ready[1]);
		_exit(1);
	}
	close(ctl[0]);
	close(ready[1]);
	s->pid = pid;
	s->ctl_fd = ctl[1];
	set_limits(s, o);
	do {
		n = read(ready[0], msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	close(ready[0]);
	if (n != 0) {
		msg[n > 0 ? n : 0] = '\0';
		err_set(e, ERR_SYSTEM, "cannot set up the sandbox: %s",
			n > 0 ? msg : strerror(errno));
		sandbox_stop(s);
		return -1;
	}
	return 0;
}

/* The number after "key " in a cgroup file of lines "key value", or 0. */
static long long cg_value(const char *dir, const char *file, const char *key)
{
	char *path = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(path, "re");
	char line[128];
	size_t kl = strlen(key);
	long long v = 0;

	free(path);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			v = strtoll(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

char *sandbox_limit_events(const struct sandbox *s)
{
	long long forks = 0, ooms = 0;

	if (s->cgroups[0])
		forks = cg_value(s->cgroups[0], "pids.events", "max");
	if (s->cgroups[1])
		ooms = cg_value(s->cgroups[1], "memory.oom_control",
				"oom_kill");
	if (forks && ooms)
		return xasprintf("Sandbox limits: the pids limit refused %lld "
				 "fork(s); the memory limit killed %lld "
				 "process(es)",
				 forks, ooms);
	if (forks)
		return xasprintf("Sandbox limits: the pids limit refused %lld "
				 "fork(s)",
				 forks);
	if (ooms)
		return xasprintf("Sandbox limits: the memory limit killed %lld "
				 "process(es)",
				 ooms);
	return NULL;
}

void sandbox_stop(struct sandbox *s)
{
	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		s->ctl_fd = -1;
	}
	if (s->pid > 0) {
		int st;

		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	for (int i = 0; i < 2; i++) {
		if (!s->cgroups[i])
			continue;
		/* The processes in it are gone; their exit takes a moment. */
		for (int tries = 0;
		     tries < 200 && rmdir(s->cgroups[i]) < 0 && errno == EBUSY;
		     tries++)
			poll(NULL, 0, 5);
		free(s->cgroups[i]);
		s->cgroups[i] = NULL;
	}
	free(s->note);
	s->note = NULL;
}

/* ---- joining ---- */

static volatile pid_t inner_pid;

static void forward(int sig)
{
	if (inner_pid > 0)
		kill(inner_pid, sig);
}

static void join_cgroups(pid_t holder)
{
	char path[128], pid[24];

	snprintf(pid, sizeof(pid), "%d", getpid());
	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(path, sizeof(path),
			 "/sys/fs/cgroup/%s/slipway.%d/cgroup.procs",
			 cg_controllers[i], holder);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (write(fd, pid, strlen(pid)) < 0) {
			/* the limit is still on the holder's orphans */
		}
		close(fd);
	}
}

static void copy_rlimit(pid_t holder, int res)
{
	struct rlimit rl;

	if (!prlimit(holder, res, NULL, &rl) && rl.rlim_max != RLIM_INFINITY)
		setrlimit(res, &rl);
}

static void drop_caps(void)
{
	static const int caps[] = {
		CAP_SYS_ADMIN,	      CAP_SYS_MODULE,	   CAP_SYS_RAWIO,
		CAP_SYS_BOOT,	      CAP_SYS_TIME,	   CAP_SYS_PTRACE,
		CAP_SYS_RESOURCE,     CAP_MKNOD,	   CAP_NET_ADMIN,
		CAP_MAC_ADMIN,	      CAP_MAC_OVERRIDE,	   CAP_SYSLOG,
		CAP_AUDIT_CONTROL,    CAP_DAC_READ_SEARCH, CAP_LINUX_IMMUTABLE,
		CAP_SYS_PACCT,	      CAP_WAKE_ALARM,	   CAP_BLOCK_SUSPEND,
		38 /* CAP_PERFMON */, 39 /* CAP_BPF */,
	};
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
						0 };
	struct __user_cap_data_struct data[2];
	bool have;

	memset(data, 0, sizeof(data));
	have = syscall(SYS_capget, &hdr, data) == 0;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		uint32_t bit = 1U << (caps[i] % 32);

		prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0);
		data[caps[i] / 32].effective &= ~bit;
		data[caps[i] / 32].permitted &= ~bit;
		data[caps[i] / 32].inheritable &= ~bit;
	}
	/* and from this process itself, not only from what it execs */
	if (have)
		syscall(SYS_capset, &hdr, data);
}

int sandbox_enter(pid_t holder, int close_fd)
{
	static const char *const names[] = { "pid", "mnt", "ipc", "uts",
					     "net" };
	int fds[5];
	sigset_t stop, old;
	struct sigaction sa;
	pid_t pid;
	int st;

	join_cgroups(holder);
	copy_rlimit(holder, RLIMIT_NPROC);
	copy_rlimit(holder, RLIMIT_AS);
	copy_rlimit(holder, RLIMIT_CPU);
	for (int i = 0; i < 5; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", holder,
			 names[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			return -1;
	}
	for (int i = 0; i < 5; i++) {
		if (setns(fds[i], 0) < 0)
			return -1;
		close(fds[i]);
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setsid(); /* no controlling terminal inside */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return -1;
		drop_caps();
		if (nsv_seccomp() < 0 && errno != ENOSYS)
			return -1;
		return 0;
	}
	if (close_fd >= 0)
		close(close_fd);
	inner_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);

		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
		signal(SIGCHLD, SIG_DFL);
		kill(getpid(), sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* ---- spawning without fork ---- */

enum { NS_PID, NS_MNT, NS_IPC, NS_UTS, NS_NET, NS_COUNT };

struct vchild {
	const struct proc_opts *o;
	const char *exe;
	pid_t holder;
	int ns[NS_COUNT];
	struct rlimit nproc, as, cpu;
	bool have_nproc, have_as, have_cpu;
	/* written by the child when it fails */
	int err;
	const char *what;
};

static int vfail(struct vchild *c, const char *what)
{
	c->err = errno;
	c->what = what;
	_exit(127);
}

static int vchild_fd(int want, int target)
{
	if (want == -1) {
		int fd = open("/dev/null", O_RDWR);

		if (fd < 0)
			return -1;
		if (fd != target) {
			if (dup2(fd, target) < 0)
				return -1;
			close(fd);
		}
		return 0;
	}
	if (want == target)
		return fcntl(want, F_SETFD, 0);
	return dup2(want, target) < 0 ? -1 : 0;
}

static int vchild_main(void *arg)
{
	static const char *const no_env[] = { NULL };
	struct vchild *c = arg;
	const struct proc_opts *o = c->o;
	struct sigaction sa;
	sigset_t none;
	char path[128];
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	/* a session of its own: no controlling terminal to type into
	 * (TIOCSTI) or read from; also a process group it leads */
	if (setsid() < 0)
		vfail(c, "cannot make a session");
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path),
			 "/sys/fs/cgroup/%s/slipway.%d/cgroup.procs",
			 cg_controllers[i], c->holder);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (write(fd, "0", 1) < 0)
			vfail(c, "cannot join the sandbox's cgroup");
		close(fd);
	}
	for (int i = NS_MNT; i < NS_COUNT; i++)
		if (setns(c->ns[i], 0) < 0)
			vfail(c, "cannot enter the sandbox");
	/* Move the descriptors out of the way before dup2. */
	if (vchild_fd(o->in_fd, 0) < 0 || vchild_fd(o->out_fd, 1) < 0)
		vfail(c, "cannot set up stdio");
	if (o->err_fd == -2 && o->out_fd != -1) {
		if (dup2(1, 2) < 0)
			vfail(c, "cannot set up stderr");
	} else if (vchild_fd(o->err_fd == -2 ? -1 : o->err_fd, 2) < 0) {
		vfail(c, "cannot set up stderr");
	}
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOEXEC */);
	/* a terminal of its own (a pty of --break), never slipway's */
	if (o->ctty && ioctl(0, TIOCSCTTY, 0) < 0)
		vfail(c, "cannot take the terminal");
	if (c->have_nproc)
		setrlimit(RLIMIT_NPROC, &c->nproc);
	if (c->have_as)
		setrlimit(RLIMIT_AS, &c->as);
	if (c->have_cpu)
		setrlimit(RLIMIT_CPU, &c->cpu);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		vfail(c, "cannot set no-new-privileges");
	drop_caps();
	if (nsv_seccomp() < 0 && errno != ENOSYS)
		vfail(c, "cannot set the seccomp filter");
	if (o->cwd && chdir(o->cwd) < 0)
		vfail(c, "cannot change directory");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->exe, (char *const *)o->argv,
	       (char *const *)(o->env ? o->env : no_env));
	vfail(c, "cannot run");
	return 127;
}

/* argv[0], or the first match in the PATH of the command's env. */
static char *find_exe(const struct proc_opts *o)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";

	if (strchr(o->argv[0], '/'))
		return xstrdup(o->argv[0]);
	for (const char *const *v = o->env; v && *v; v++)
		if (!strncmp(*v, "PATH=", 5))
			path = *v + 5;
	while (*path) {
		const char *end = strchrnul(path, ':');
		char *full = xasprintf("%.*s/%s", (int)(end - path), path,
				       o->argv[0]);

		if (!access(full, X_OK))
			return full;
		free(full);
		path = *end ? end + 1 : end;
	}
	return NULL;
}

int sandbox_spawn(const struct proc_opts *o, pid_t *pidp, struct sw_err *e)
{
	static const char *const names[NS_COUNT] = { "pid", "mnt", "ipc", "uts",
						     "net" };
	struct vchild c;
	sigset_t all, old;
	size_t stack_size = 256 << 10;
	char *stack = NULL;
	int self = -1, ret = -1;
	pid_t pid = -1;

	memset(&c, 0, sizeof(c));
	for (int i = 0; i < NS_COUNT; i++)
		c.ns[i] = -1;
	c.o = o;
	c.holder = o->sandbox;
	c.exe = find_exe(o);
	if (!c.exe)
		return err_set(e, ERR_SYSTEM, "cannot start '%s': %s",
			       o->argv[0], strerror(ENOENT));
	for (int i = 0; i < NS_COUNT; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)c.holder,
			 names[i]);
		c.ns[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (c.ns[i] < 0) {
			err_sys(e, "cannot start '%s': the sandbox is gone",
				o->argv[0]);
			goto out;
		}
	}
	self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err_sys(e, "cannot open '/proc/self/ns/pid'");
		goto out;
	}
	c.have_nproc = !prlimit(c.holder, RLIMIT_NPROC, NULL, &c.nproc) &&
		       c.nproc.rlim_max != RLIM_INFINITY;
	c.have_as = !prlimit(c.holder, RLIMIT_AS, NULL, &c.as) &&
		    c.as.rlim_max != RLIM_INFINITY;
	c.have_cpu = !prlimit(c.holder, RLIMIT_CPU, NULL, &c.cpu) &&
		     c.cpu.rlim_max != RLIM_INFINITY;
	stack = xmalloc(stack_size);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (setns(c.ns[NS_PID], CLONE_NEWPID) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		err_sys(e, "cannot start '%s' in the sandbox", o->argv[0]);
		goto out;
	}
	pid = clone(vchild_main, stack + stack_size,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
	if (setns(self, CLONE_NEWPID) < 0) {
		/* later children would be born inside: never go on */
		perror("slipway: cannot leave the sandbox's pid namespace");
		abort();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		err_sys(e, "cannot start '%s'", o->argv[0]);
		goto out;
	}
	if (c.what) {
		int st;

		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		err_set(e, ERR_SYSTEM, "cannot start '%s': %s: %s", o->argv[0],
			c.what, strerror(c.err));
		goto out;
	}
	*pidp = pid;
	ret = 0;
out:
	for (int i = 0; i < NS_COUNT; i++)
		if (c.ns[i] >= 0)
			close(c.ns[i]);
	if (self >= 0)
		close(self);
	free(stack);
	free((char *)c.exe);
	return ret;
}
