/*
 * nsview: the pieces a sandbox holder builds its filesystem view from,
 * shared by the build sandbox (sandbox.c) and rehearsal hosts
 * (hostbox.c). They run in the holder, after it has pivoted into a tmpfs
 * where the old root is at /oldroot and the view is made at /newroot; a
 * failure is described in a struct nsv_err (no allocation: the holder
 * writes it to its parent and exits).
 *
 *   struct nsv_err h = { { 0 } };
 *   if (nsv_tmpfs_at("/newroot/tmp", "1777", &h) < 0 ||
 *       nsv_make_dev(&h) < 0) ... h.msg ...
 */
#ifndef SW_NSVIEW_H
#define SW_NSVIEW_H

#include <sys/types.h>

#include "err.h"

struct nsv_err {
	char msg[256];
};

/* 0 when namespaces of these CLONE_NEW* flags can be made and mounts
 * made private in them, else -1 and why (ERR_SYSTEM). */
int nsv_probe(unsigned long flags, struct sw_err *e);
/* fork() with new namespaces (CLONE_NEW* flags): returns like fork(). */
pid_t nsv_clone(unsigned long flags);
/* Fill h with "<what> '<path>': <strerror(errno)>"; returns -1. */
int nsv_fail(struct nsv_err *h, const char *what, const char *path);
/* mkdir -p; path is modified while it runs, restored after. */
int nsv_mkdir_p(char *path, mode_t mode);
/* Bring up lo in the current network namespace. */
int nsv_lo_up(struct nsv_err *h);
int nsv_tmpfs_at(const char *path, const char *mode, struct nsv_err *h);
/* Bind /oldroot<host> read-write at /newroot<at> (made if missing). */
int nsv_bind_rw(const char *host, const char *at, struct nsv_err *h);
/* The parts of /newroot/proc that reach the kernel: read-only. */
int nsv_proc_guard(struct nsv_err *h);
/* /newroot/dev: a tmpfs with the harmless devices of /oldroot/dev, a
 * private devpts and /dev/shm. */
int nsv_make_dev(struct nsv_err *h);
/*
 * A seccomp filter for what runs in a sandbox, after no-new-privileges:
 * EPERM for the system calls that reach the kernel's shared state or
 * widen its attack surface and that a build or a hook has no use for
 * (keyrings, bpf, perf events, userfaultfd, io_uring, modules, kexec,
 * reboot, swap, mounts and the new mount API, setns, unshare and clone
 * with CLONE_NEW* flags); clone3 gets ENOSYS, so that libc falls back to
 * clone, whose flags can be seen; system calls of another ABI (i386,
 * x32) get ENOSYS. No allocation: safe in a vfork child. 0, or -1 with
 * errno (the architecture has no filter here: ENOSYS).
 */
int nsv_seccomp(void);
/* Close every fd above 2 but a and b. */
void nsv_close_others(int a, int b);

#endif
