#include "nsview.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banned.h"

int nsv_probe(unsigned long flags, struct sw_err *e)
{
	pid_t pid = nsv_clone(flags);
	int st = 0;

	if (pid < 0)
		return err_sys(e, "namespaces are unavailable");
	if (pid == 0)
		_exit(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ? 1
									: 0);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return err_set(e, ERR_SYSTEM,
			       "namespaces are unavailable: cannot make "
			       "mounts private");
	return 0;
}

int nsv_fail(struct nsv_err *h, const char *what, const char *path)
{
	snprintf(h->msg, sizeof(h->msg), "%s '%s': %s", what, path,
		 strerror(errno));
	return -1;
}

int nsv_mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(path, mode) < 0 && errno != EEXIST) {
				*p = c;
				return -1;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int nsv_lo_up(struct nsv_err *h)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return nsv_fail(h, "cannot open a socket for", "lo");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		close(fd);
		return nsv_fail(h, "cannot read the flags of", "lo");
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		close(fd);
		return nsv_fail(h, "cannot bring up", "lo");
	}
	close(fd);
	return 0;
}

int nsv_tmpfs_at(const char *path, const char *mode, struct nsv_err *h)
{
	char opts[32];

	snprintf(opts, sizeof(opts), "mode=%s", mode);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return nsv_fail(h, "cannot mount a tmpfs at", path);
	return 0;
}

int nsv_bind_rw(const char *host, const char *at, struct nsv_err *h)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "/oldroot%s", host);
	snprintf(to, sizeof(to), "/newroot%s", at);
	if (nsv_mkdir_p(to, 0755) < 0)
		return nsv_fail(h, "cannot make", at);
	if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
		return nsv_fail(h, "cannot bind", host);
	return 0;
}

/* Parts of a fresh /proc that would reach the host's kernel: read-only. */
int nsv_proc_guard(struct nsv_err *h)
{
	static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus",
					  "fs" };
	char path[64];

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		snprintf(path, sizeof(path), "/newroot/proc/%s", ro[i]);
		if (access(path, F_OK) < 0)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, path, NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID |
				  MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			return nsv_fail(h, "cannot make read-only", path + 8);
	}
	return 0;
}

/* A /dev of its own: the harmless devices, a private pts, shm. */
int nsv_make_dev(struct nsv_err *h)
{
	static const char *const nodes[] = { "null",   "zero",	  "full",
					     "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char from[64], to[64];

	if (nsv_tmpfs_at("/newroot/dev", "0755", h) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		int fd;

		snprintf(from, sizeof(from), "/oldroot/dev/%s", nodes[i]);
		snprintf(to, sizeof(to), "/newroot/dev/%s", nodes[i]);
		if (access(from, F_OK) < 0)
			continue;
		fd = open(to, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return nsv_fail(h, "cannot make", to);
		close(fd);
		if (mount(from, to, NULL, MS_BIND, NULL) < 0)
			return nsv_fail(h, "cannot bind", from);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(to, sizeof(to), "/newroot/dev/%s", links[i][1]);
		if (symlink(links[i][0], to) < 0)
			return nsv_fail(h, "cannot link", to);
	}
	if (mkdir("/newroot/dev/pts", 0755) < 0 ||
	    mkdir("/newroot/dev/shm", 01777) < 0)
		return nsv_fail(h, "cannot make", "/dev");
	if (mount("devpts", "/newroot/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=620") < 0)
		return nsv_fail(h, "cannot mount", "/dev/pts");
	return nsv_tmpfs_at("/newroot/dev/shm", "1777", h);
}

/* Keep only fds 0-2, a and b: nothing of slipway's stays open in here. */
void nsv_close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		syscall(SYS_close_range, 3U, (unsigned)lo - 1, 0U);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1,
			0U);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0U);
}

/* fork() with new namespaces: returns like fork(). */
pid_t nsv_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL,
			      NULL);
}

/* ---- seccomp ---- */

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SECCOMP_ARCH

#define NSV_CLONE_NEW                                                          \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |           \
	 CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
#define RET_ERRNO(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))
#define DENY(name)                                                             \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_##name, 0, 1), RET_ERRNO(EPERM)

static const struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
	RET_ERRNO(ENOSYS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
	/* x32 system calls are the same numbers with bit 30 set */
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 0, 1),
	RET_ERRNO(ENOSYS),
#endif
	DENY(keyctl),
	DENY(add_key),
	DENY(request_key),
	DENY(bpf),
	DENY(perf_event_open),
	DENY(userfaultfd),
	DENY(io_uring_setup),
	DENY(io_uring_enter),
	DENY(io_uring_register),
	DENY(init_module),
	DENY(finit_module),
	DENY(delete_module),
	DENY(kexec_load),
	DENY(kexec_file_load),
	DENY(reboot),
	DENY(swapon),
	DENY(swapoff),
	DENY(acct),
	DENY(mount),
	DENY(umount2),
	DENY(pivot_root),
	DENY(open_tree),
	DENY(move_mount),
	DENY(fsopen),
	DENY(fsconfig),
	DENY(fsmount),
	DENY(fspick),
	DENY(mount_setattr),
	DENY(setns),
	DENY(unshare),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
	RET_ERRNO(ENOSYS),
	/* clone: the flags are the first argument (its low word) */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args)),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NSV_CLONE_NEW, 0, 1),
	RET_ERRNO(EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

int nsv_seccomp(void)
{
	const struct sock_fprog prog = {
		(unsigned short)(sizeof(filter) / sizeof(filter[0])),
		(struct sock_filter *)filter,
	};

	/* Without SPEC_ALLOW the kernel also turns on its speculative store
	 * bypass mitigation for every filtered process, which made each
	 * command of a build measurably slower; the filter is for the
	 * kernel's attack surface, not for side channels between the
	 * commands of one build. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) == 0)
		return 0;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

#else

int nsv_seccomp(void)
{
	errno = ENOSYS;
	return -1;
}

#endif
