#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

int ready_open(struct ready_wait *w, const char *dir, enum ready_kind kind,
	       struct sw_err *e)
{
	const char *what = kind == READY_TERMINATION_WAIT ? "TERMINATION_WAIT\n"
							  : "READY_WAIT\n";
	int fd;
	bool ok;

	w->fifo = fs_join(dir, "control");
	w->lock = fs_join(dir, "control.lock");
	fd = open(w->lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(e, "cannot create %s", w->lock);
	/* what it waits for, for the senders: under the lock */
	(void)flock(fd, LOCK_EX);
	ok = ftruncate(fd, 0) == 0 &&
	     write(fd, what, strlen(what)) == (ssize_t)strlen(what);
	close(fd);
	if (!ok)
		return err_sys(e, "cannot write %s", w->lock);
	(void)unlink(w->fifo); /* a dead deployment's: nobody reads it */
	if (mkfifo(w->fifo, 0600) < 0)
		return err_sys(e, "cannot make %s", w->fifo);
	w->rd = open(w->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (w->rd >= 0)
		w->wr = open(w->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (w->rd < 0 || w->wr < 0) {
		err_sys(e, "cannot open %s", w->fifo);
		ready_close(w);
		return -1;
	}
	return 0;
}

/* The last command in the FIFO, or 0. */
static int drain(int fd)
{
	char b[64];
	ssize_t n;
	int cmd = 0;

	while ((n = read(fd, b, sizeof(b))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (b[i] == READY_CONTINUE || b[i] == READY_STOP)
				cmd = b[i];
	return cmd;
}

int ready_poll(struct ready_wait *w)
{
	return drain(w->rd);
}

enum ready_verdict ready_finish(struct ready_wait *w, int cmd,
				enum ready_verdict v)
{
	int lk;

	/* Under the lock, no command comes between the last look and the
	 * FIFO's end: one that came is honoured, a later one refused. */
	lk = open(w->lock, O_RDWR | O_CLOEXEC);
	if (lk >= 0)
		(void)flock(lk, LOCK_EX);
	if (!cmd)
		cmd = drain(w->rd);
	if (cmd)
		v = (enum ready_verdict)cmd;
	(void)unlink(w->fifo);
	close(w->rd);
	close(w->wr);
	w->rd = w->wr = -1;
	if (lk >= 0)
		close(lk);
	return v;
}

enum ready_verdict ready_wait(struct ready_wait *w, int64_t until_ms)
{
	enum ready_verdict v = READY_EXPIRED;
	int cmd = 0;

	for (;;) {
		struct pollfd p = { .fd = w->rd, .events = POLLIN };
		int64_t left = until_ms - proc_now_ms();

		if (proc_stop_signal()) {
			v = READY_SIGNAL;
			break;
		}
		if (left <= 0)
			break;
		/* a slice: a signal between the check and poll() is seen */
		if (poll(&p, 1, left > 200 ? 200 : (int)left) > 0 &&
		    (cmd = drain(w->rd)))
			break;
	}
	return ready_finish(w, cmd, v);
}

void ready_close(struct ready_wait *w)
{
	if (w->rd >= 0) {
		close(w->rd);
		(void)unlink(w->fifo);
	}
	if (w->wr >= 0)
		close(w->wr);
	w->rd = w->wr = -1;
	free(w->fifo);
	free(w->lock);
	w->fifo = w->lock = NULL;
}

int ready_send(const char *dir, enum ready_verdict cmd, enum ready_kind *kind,
	       struct sw_err *e)
{
	char *fifo = fs_join(dir, "control"),
	     *lock = fs_join(dir, "control.lock");
	char c = (char)cmd, what[32] = "";
	int lk, fd = -1, ret = -1;
	ssize_t n;

	lk = open(lock, O_RDWR | O_CLOEXEC);
	if (lk < 0) {
		err_set(e, ERR_FAILED, "does not wait for a decision");
		goto out;
	}
	if (flock(lk, LOCK_EX) < 0) {
		err_sys(e, "cannot lock %s", lock);
		goto out;
	}
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENXIO || errno == ENOENT)
			err_set(e, ERR_FAILED,
				"does not wait for a decision any more");
		else
			err_sys(e, "cannot open %s", fifo);
		goto out;
	}
	n = pread(lk, what, sizeof(what) - 1, 0);
	what[n > 0 ? n : 0] = '\0';
	*kind = !strncmp(what, "TERMINATION_WAIT", 16) ? READY_TERMINATION_WAIT
						       : READY_READY_WAIT;
	if (*kind == READY_TERMINATION_WAIT && cmd == READY_STOP) {
		err_set(e, ERR_FAILED,
			"its traffic has moved; it waits to terminate the "
			"original fleet (original.wait), which only `slipway "
			"deploy continue` cuts short");
		goto out;
	}
	if (write(fd, &c, 1) != 1) {
		err_sys(e, "cannot write to %s", fifo);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (lk >= 0)
		close(lk);
	free(fifo);
	free(lock);
	return ret;
}
