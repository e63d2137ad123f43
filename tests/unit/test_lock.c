#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "lock.h"
#include "xalloc.h"

#include "banned.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_lock.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	return fs_remove_tree(dir, &e);
}

static char *slurp(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	char *text = NULL;
	size_t n;

	assert_int_equal(fs_read_file(path, 4096, &text, &n, &e), 0);
	return text;
}

static void test_lock__take_busy_release(void **state)
{
	struct lock a = LOCK_INIT, b = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "one.lock"), *text, *want;

	(void)state;
	assert_int_equal(lock_try(&a, p, "d-1", "run r-9", &h, &e), LOCK_TAKEN);
	assert_null(h.id); /* a new file: nobody to take over from */
	assert_true(a.fd >= 0);
	assert_true(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	text = slurp(p);
	want = xasprintf("d-1 %d run r-9\n", (int)getpid());
	assert_string_equal(text, want);
	free(text);
	free(want);

	/* A second open file is a second taker, even in one process. */
	assert_int_equal(lock_try(&b, p, "d-2", NULL, &h, &e), LOCK_BUSY);
	assert_int_equal(b.fd, -1);
	assert_string_equal(h.id, "d-1");
	assert_int_equal(h.pid, getpid());
	assert_string_equal(h.note, "run r-9");
	assert_false(h.gone);

	/* Released: the file is gone, and the next one takes it. */
	lock_release(&a);
	assert_int_equal(a.fd, -1);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(lock_try(&b, p, "d-2", NULL, &h, &e), LOCK_TAKEN);
	assert_null(h.id);
	lock_release(&b);
	lock_release(&b); /* twice: no-op */
	lock_holder_release(&h);
	free(p);
}

/* A holder killed with SIGKILL: its lock is free, its line names it. */
static void test_lock__stale_taken_over(void **state)
{
	struct lock l = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "stale.lock");
	int ready[2], st;
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lock cl = LOCK_INIT;
		struct lock_holder ch = LOCK_HOLDER_INIT;
		struct sw_err ce = SW_ERR_INIT;

		close(ready[0]);
		if (lock_try(&cl, p, "d-dead", NULL, &ch, &ce) != LOCK_TAKEN)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	/* held while it lives */
	assert_int_equal(lock_try(&l, p, "d-new", NULL, &h, &e), LOCK_BUSY);
	assert_string_equal(h.id, "d-dead");
	assert_int_equal(h.pid, pid);
	assert_false(h.gone);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(lock_try(&l, p, "d-new", NULL, &h, &e), LOCK_TAKEN);
	assert_string_equal(h.id, "d-dead");
	assert_int_equal(h.pid, pid);
	assert_true(h.gone);
	lock_holder_release(&h);
	lock_release(&l);
	free(p);
}

/*
 * A holder that ended but left a forked child with its descriptor: the
 * lock is still held, and the holder is said to be gone.
 */
static void test_lock__child_keeps_it(void **state)
{
	struct lock l = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "child.lock"), *words;
	int ready[2], go[2], st;
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lock cl = LOCK_INIT;
		struct lock_holder ch = LOCK_HOLDER_INIT;
		struct sw_err ce = SW_ERR_INIT;

		close(ready[0]);
		close(go[1]);
		if (lock_try(&cl, p, "d-parent", NULL, &ch, &ce) != LOCK_TAKEN)
			_exit(1);
		if (fork() == 0) {
			/* holds the lock until go closes */
			(void)!write(ready[1], "x", 1);
			(void)!read(go[0], &c, 1);
			close(cl.fd); /* before ready[1] goes at exit */
			_exit(0);
		}
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(lock_try(&l, p, "d-new", NULL, &h, &e), LOCK_BUSY);
	assert_string_equal(h.id, "d-parent");
	assert_true(h.gone);
	words = lock_holder_describe(&h, "deployment");
	assert_non_null(strstr(words, "deployment 'd-parent' (process "));
	assert_non_null(strstr(words, " is gone)"));
	free(words);
	/* the child ends: the lock is free, taken over from d-parent */
	close(go[1]);
	assert_int_equal(read(ready[0], &c, 1), 0); /* its end closed */
	close(ready[0]);
	assert_int_equal(lock_try(&l, p, "d-new", NULL, &h, &e), LOCK_TAKEN);
	assert_string_equal(h.id, "d-parent");
	lock_holder_release(&h);
	lock_release(&l);
	free(p);
}

/*
 * lock_sweep holds a dead holder's old file for a moment before removing
 * it: a taker that finds it busy then, with a gone holder's line, takes
 * it once the sweeper lets go, and is not refused. The sweeper here lets
 * go when the taker has read the line (it has found the lock busy).
 */
static void test_lock__sweeper_holds_a_moment(void **state)
{
	struct lock l = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "swept.lock"), *line;
	int ready[2], st, fd;
	char c;
	pid_t dead, pid;

	(void)state;
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &st, 0), dead);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	line = xasprintf("d-OLD %d\n", (int)dead);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	free(line);
	close(fd);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = inotify_init1(IN_CLOEXEC), sfd;
		char ev[sizeof(struct inotify_event) + 256];

		close(ready[0]);
		sfd = open(p, O_RDWR | O_CLOEXEC);
		if (in < 0 || sfd < 0 || flock(sfd, LOCK_EX | LOCK_NB) < 0 ||
		    inotify_add_watch(in, p, IN_ACCESS) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		/* the taker read the holder's line: it found it busy */
		if (read(in, ev, sizeof(ev)) <= 0)
			_exit(1);
		unlink(p);
		close(sfd);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(lock_try(&l, p, "d-new", NULL, &h, &e), LOCK_TAKEN);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	lock_holder_release(&h);
	lock_release(&l);
	free(p);
}

/* A taker that opened the file before its holder removed it (at
 * release) must not hold a lock on a removed file. */
static void test_lock__removed_under_a_taker(void **state)
{
	struct lock a = LOCK_INIT, b = LOCK_INIT, c = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "gone.lock");
	int old;

	(void)state;
	assert_int_equal(lock_try(&a, p, "d-1", NULL, &h, &e), LOCK_TAKEN);
	/* b's open, as lock_try does it, before a lets go */
	old = open(p, O_RDWR | O_CLOEXEC);
	assert_true(old >= 0);
	lock_release(&a);
	/* c comes after and makes the file anew */
	assert_int_equal(lock_try(&c, p, "d-3", NULL, &h, &e), LOCK_TAKEN);
	/* the old file is free, but not the lock */
	assert_int_equal(flock(old, LOCK_EX | LOCK_NB), 0);
	close(old);
	assert_int_equal(lock_try(&b, p, "d-2", NULL, &h, &e), LOCK_BUSY);
	assert_string_equal(h.id, "d-3");
	lock_release(&c);
	lock_holder_release(&h);
	free(p);
}

static void test_lock__dir(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *want = fs_join(dir, "locks/here"), *got;

	(void)state;
	setenv("SLIPWAY_LOCK_DIR", want, 1);
	got = lock_dir(&e);
	unsetenv("SLIPWAY_LOCK_DIR");
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_true(fs_is_dir(want));
	free(got);
	free(want);
}

/* What a dead holder left: an old file no one holds goes, a new one or
 * a held one stays. */
static void test_lock__sweep(void **state)
{
	struct lock held = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *sd = fs_join(dir, "sweep"), *old = fs_join(sd, "host-old.lock");
	char *young = fs_join(sd, "host-young.lock");
	char *busy = fs_join(sd, "host-busy.lock");
	char *other = fs_join(sd, "group-old.lock");
	struct timespec ago[2] = { { time(NULL) - 7200, 0 },
				   { time(NULL) - 7200, 0 } };

	(void)state;
	assert_int_equal(fs_mkdir_p(sd, 0755, &e), 0);
	assert_int_equal(fs_write_atomic(old, "d-1 1\n", 6, 0644, &e), 0);
	assert_int_equal(fs_write_atomic(young, "d-2 1\n", 6, 0644, &e), 0);
	assert_int_equal(fs_write_atomic(other, "d-3 1\n", 6, 0644, &e), 0);
	assert_int_equal(lock_try(&held, busy, "d-4", NULL, &h, &e),
			 LOCK_TAKEN);
	assert_int_equal(utimensat(AT_FDCWD, old, ago, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, other, ago, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, busy, ago, 0), 0);
	lock_sweep(sd, "host-", 3600);
	assert_false(fs_exists(old));
	assert_true(fs_exists(young));
	assert_true(fs_exists(busy));
	assert_true(fs_exists(other));
	lock_release(&held);
	assert_false(fs_exists(busy));
	free(sd);
	free(old);
	free(young);
	free(busy);
	free(other);
}

static void test_lock__refuses_symlink(void **state)
{
	struct lock l = LOCK_INIT;
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = fs_join(dir, "link.lock"), *target = fs_join(dir, "victim");
	char *text;

	(void)state;
	assert_int_equal(fs_write_atomic(target, "keep\n", 5, 0644, &e), 0);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(lock_try(&l, p, "d-1", NULL, &h, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "link.lock"));
	assert_int_equal(l.fd, -1);
	text = slurp(target);
	assert_string_equal(text, "keep\n");
	free(text);
	free(target);
	free(p);
}

static void test_lock__parse_describe(void **state)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	char *w;

	(void)state;
	lock_holder_parse("", &h);
	assert_null(h.id);
	lock_holder_parse("d-X 12345678 run r-1  \nmore\n", &h);
	assert_string_equal(h.id, "d-X");
	assert_int_equal(h.pid, 12345678);
	assert_string_equal(h.note, "run r-1");
	h.gone = false;
	w = lock_holder_describe(&h, "deployment");
	assert_string_equal(w, "deployment 'd-X' (process 12345678, run r-1)");
	free(w);
	h.gone = true;
	w = lock_holder_describe(&h, "deployment");
	assert_string_equal(w,
			    "deployment 'd-X' (process 12345678 is gone, run "
			    "r-1)");
	free(w);
	lock_holder_parse("d-Y", &h);
	assert_string_equal(h.id, "d-Y");
	assert_int_equal(h.pid, 0);
	assert_null(h.note);
	w = lock_holder_describe(&h, "deployment");
	assert_string_equal(w, "deployment 'd-Y'");
	free(w);
	lock_holder_parse("d-Z notapid", &h);
	assert_int_equal(h.pid, 0);
	assert_string_equal(h.note, "notapid");
	lock_holder_release(&h);
	assert_null(h.id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock__take_busy_release),
		cmocka_unit_test(test_lock__stale_taken_over),
		cmocka_unit_test(test_lock__child_keeps_it),
		cmocka_unit_test(test_lock__sweeper_holds_a_moment),
		cmocka_unit_test(test_lock__removed_under_a_taker),
		cmocka_unit_test(test_lock__dir),
		cmocka_unit_test(test_lock__sweep),
		cmocka_unit_test(test_lock__refuses_symlink),
		cmocka_unit_test(test_lock__parse_describe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
