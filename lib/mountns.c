#include "mountns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

int mountns_enter(struct mountns *ns, struct sw_err *e)
{
	int home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC), cwd;

	if (home < 0)
		return err_sys(e, "cannot open '/proc/self/ns/mnt'");
	/* The working directory as the home namespace has it. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (unshare(CLONE_NEWNS) < 0) {
		err_sys(e, "cannot unshare the mount namespace");
		close(home);
		if (cwd >= 0)
			close(cwd);
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		err_sys(e, "cannot make mounts private");
		if (setns(home, CLONE_NEWNS) < 0)
			abort(); /* half in a namespace: never carry on */
		close(home);
		if (cwd >= 0 && fchdir(cwd) < 0)
			abort();
		if (cwd >= 0)
			close(cwd);
		return -1;
	}
	ns->home_fd = home;
	ns->cwd_fd = cwd;
	return 0;
}

bool mountns_active(const struct mountns *ns)
{
	return ns->home_fd >= 0;
}

static bool opt_safe(const char *s)
{
	return !strpbrk(s, ",:\\");
}

int mountns_overlay(struct mountns *ns, const char *const *lowers, size_t n,
		    const char *upper, const char *work, const char *target,
		    struct sw_err *e)
{
	struct buf o = BUF_INIT;
	const char *v;
	size_t base;
	int rc;

	if (!mountns_active(ns))
		return err_set(e, ERR_SYSTEM, "overlay: not in a namespace");
	v = getenv(MOUNTNS_TEST_NO_OVERLAY_ENV);
	if (v && *v && strncmp(v, "graft", 5)) {
		errno = EPERM;
		return err_sys(e, "cannot mount an overlay on '%s' (%s)",
			       target, MOUNTNS_TEST_NO_OVERLAY_ENV);
	}
	if (!n || !opt_safe(upper) || !opt_safe(work) || !opt_safe(target))
		goto unsafe;
	buf_addstr(&o, "lowerdir=");
	for (size_t i = 0; i < n; i++) {
		if (!opt_safe(lowers[i]))
			goto unsafe;
		buf_addf(&o, "%s%s", i ? ":" : "", lowers[i]);
	}
	buf_addf(&o, ",upperdir=%s,workdir=%s,index=off", upper, work);
	base = o.len;
	/* Renames of lower directories by redirect, else EXDEV (and the
	 * tools fall back to copying). */
	buf_addstr(&o, ",redirect_dir=on");
	rc = mount("overlay", target, "overlay", 0, o.ptr);
	if (rc < 0 && errno == EINVAL) {
		buf_setlen(&o, base);
		rc = mount("overlay", target, "overlay", 0, o.ptr);
	}
	buf_release(&o);
	if (rc < 0)
		return err_sys(e, "cannot mount an overlay on '%s'", target);
	strvec_push(&ns->mounts, target);
	return 0;
unsafe:
	buf_release(&o);
	errno = EINVAL;
	return err_sys(e,
		       "cannot mount an overlay on '%s': a path holds ',', "
		       "':' or '\\'",
		       target);
}

/* Grafts so far: $SLIPWAY_TEST_NO_OVERLAY=graft:N refuses the Nth. */
static unsigned grafts;

static bool test_refuses(bool graft)
{
	const char *v = getenv(MOUNTNS_TEST_NO_OVERLAY_ENV);
	char *end;
	unsigned long n;

	if (!v || strncmp(v, "graft", 5))
		return false;
	if (!v[5])
		return graft;
	if (v[5] != ':')
		return false;
	n = strtoul(v + 6, &end, 10);
	if (!graft)
		return !strcmp(end, ":stuck");
	return n == grafts;
}

/*
 * In a child that joins process pid's mount namespace: tree (>= 0)
 * moved to at, or (tree < 0) the mount at `at` detached. 0; 1 when
 * the child failed (errno its errno, EPERM when it could not say); -1
 * with e set when it could not be run.
 */
static int in_namespace(pid_t pid, int tree, const char *at, struct sw_err *e)
{
	char nspath[64];
	int nsfd, st = 0, ret = -1;
	pid_t child;

	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", (int)pid);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return err_sys(e, "cannot open '%s'", nspath);
	child = fork();
	if (child < 0) {
		err_sys(e, "cannot fork");
		goto out;
	}
	if (child == 0) {
		int rc;

		if (setns(nsfd, CLONE_NEWNS) < 0)
			_exit(1);
		rc = tree >= 0 ? move_mount(tree, "", AT_FDCWD, at,
					    MOVE_MOUNT_F_EMPTY_PATH)
			       : umount2(at, MNT_DETACH);
		if (rc < 0)
			_exit(errno > 0 && errno < 100 ? errno : 99);
		_exit(0);
	}
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR) {
			err_sys(e, "cannot wait for a child");
			goto out;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;

		errno = code > 1 && code < 99 ? code : EPERM;
		ret = 1;
		goto out;
	}
	ret = 0;
out:
	close(nsfd);
	return ret;
}

int mountns_graft(pid_t pid, const char *host_path, const char *at,
		  struct sw_err *e)
{
	int tree, rc;

	grafts++;
	if (test_refuses(true)) {
		errno = EPERM;
		return err_sys(e, "cannot mount '%s' at '%s' (%s)", host_path,
			       at, MOUNTNS_TEST_NO_OVERLAY_ENV);
	}
	tree = open_tree(AT_FDCWD, host_path,
			 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return err_sys(e, "cannot copy the mount at '%s'", host_path);
	rc = in_namespace(pid, tree, at, e);
	close(tree);
	if (rc > 0)
		return err_sys(e,
			       "cannot mount '%s' at '%s' in process %d's "
			       "namespace",
			       host_path, at, (int)pid);
	return rc;
}

int mountns_ungraft(pid_t pid, const char *at, struct sw_err *e)
{
	if (test_refuses(false)) {
		errno = EBUSY;
		return err_sys(e, "cannot detach '%s' (%s)", at,
			       MOUNTNS_TEST_NO_OVERLAY_ENV);
	}
	int rc = in_namespace(pid, -1, at, e);

	if (rc > 0)
		return err_sys(e,
			       "cannot detach '%s' in process %d's namespace",
			       at, (int)pid);
	return rc;
}

int mountns_unmount(struct mountns *ns, const char *target, struct sw_err *e)
{
	size_t i;

	for (i = ns->mounts.nr; i-- > 0;)
		if (!strcmp(ns->mounts.v[i], target))
			break;
	if (i == (size_t)-1)
		return err_set(e, ERR_SYSTEM, "'%s': not mounted here", target);
	if (umount2(target, MNT_DETACH) < 0)
		return err_sys(e, "cannot detach '%s'", target);
	free(ns->mounts.v[i]);
	memmove(ns->mounts.v + i, ns->mounts.v + i + 1,
		(ns->mounts.nr - i - 1) * sizeof(*ns->mounts.v));
	ns->mounts.v[--ns->mounts.nr] = NULL;
	return 0;
}

void mountns_leave(struct mountns *ns)
{
	if (ns->home_fd < 0) {
		strvec_release(&ns->mounts);
		return;
	}
	for (size_t i = ns->mounts.nr; i-- > 0;)
		umount2(ns->mounts.v[i], MNT_DETACH);
	strvec_release(&ns->mounts);
	if (setns(ns->home_fd, CLONE_NEWNS) < 0)
		abort(); /* we cannot go home: never carry on elsewhere */
	if (ns->cwd_fd >= 0) {
		if (fchdir(ns->cwd_fd) < 0 && chdir("/") < 0)
			abort();
		close(ns->cwd_fd);
	}
	close(ns->home_fd);
	ns->home_fd = ns->cwd_fd = -1;
}
