#include "pause.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "env.h"
#include "fs.h"
#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define HUP_GRACE_MS 2000

int pause_terminal_ok(struct sw_err *e)
{
	int fd;

	if (!isatty(STDIN_FILENO))
		return err_set(e, ERR_USAGE,
			       "--break needs a terminal: standard input is "
			       "not one");
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(e, ERR_USAGE,
			       "--break needs a terminal: cannot open "
			       "/dev/tty: %s",
			       strerror(errno));
	close(fd);
	return 0;
}

static const struct {
	const char *name, *word, *says;
} commands[] = {
	{ "codebuild-resume", "resume", "going on with the build" },
	{ "slipway-retry", "retry", "running the command again" },
	{ "slipway-skip", "skip", "counting the command as passed" },
	{ "slipway-abort", "abort", "stopping the build" },
};

static int write_commands(const char *dir, struct sw_err *e)
{
	char *bin = fs_join(dir, "bin");
	char *action = fs_join(dir, "action");
	int ret = fs_mkdir_p(bin, 0755, e);

	for (size_t i = 0; !ret && i < ARRAY_SIZE(commands); i++) {
		struct buf s = BUF_INIT;
		char *path = fs_join(bin, commands[i].name);

		buf_addf(&s, "#!/bin/sh\n# slipway --break: %s\n",
			 commands[i].says);
		buf_addf(&s, "echo %s >", commands[i].word);
		buf_add_shquote(&s, action);
		buf_addf(&s, " && echo 'slipway: %s'\n", commands[i].says);
		ret = fs_replace(path, s.ptr, s.len, 0755, e);
		buf_release(&s);
		free(path);
	}
	free(bin);
	free(action);
	return ret;
}

static char *find_bash(void)
{
	static const char *const at[] = { "/bin/bash", "/usr/bin/bash",
					  "/usr/local/bin/bash" };

	for (size_t i = 0; i < ARRAY_SIZE(at); i++)
		if (!access(at[i], X_OK))
			return xstrdup(at[i]);
	return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { fd, POLLOUT, 0 };

			poll(&pf, 1, 100);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy what from holds now to to; 0 at EOF or error (EIO: the pty's
 * other side is gone), 1 otherwise. */
static int relay(int from, int to)
{
	char b[4096];

	for (;;) {
		ssize_t n = read(from, b, sizeof(b));

		if (n > 0) {
			if (to >= 0)
				write_all(to, b, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		return 0;
	}
}

static enum break_action read_action(const char *dir)
{
	char *path = fs_join(dir, "action");
	char b[16] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum break_action act = BREAK_RESUME;

	if (fd >= 0) {
		ssize_t n = read(fd, b, sizeof(b) - 1);

		close(fd);
		if (n > 0 && !strncmp(b, "retry", 5))
			act = BREAK_RETRY;
		else if (n > 0 && !strncmp(b, "skip", 4))
			act = BREAK_SKIP;
		else if (n > 0 && !strncmp(b, "abort", 5))
			act = BREAK_ABORT;
	}
	free(path);
	return act;
}

static bool chosen(const char *dir)
{
	char *path = fs_join(dir, "action");
	bool yes = !access(path, F_OK);

	free(path);
	return yes;
}

static int open_pty(int *master, int *slave, struct sw_err *e)
{
	char name[128];

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return err_sys(e, "cannot open a pseudo-terminal");
	if (grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    ptsname_r(*master, name, sizeof(name))) {
		err_sys(e, "cannot set up a pseudo-terminal");
		close(*master);
		*master = -1;
		return -1;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		err_sys(e, "cannot open '%s'", name);
		close(*master);
		*master = -1;
		return -1;
	}
	return 0;
}

int pause_shell(const struct pause_opts *o, enum break_action *act,
		struct sw_err *e)
{
	struct proc_opts po = PROC_OPTS_INIT;
	struct strvec env = STRVEC_INIT;
	struct termios saved, raw;
	struct winsize ws = { 0, 0, 0, 0 };
	char *action = fs_join(o->dir, "action");
	char *bin = fs_join(o->dir, "bin");
	char *bash = find_bash();
	const char *argv[5];
	bool have_saved = false, hung_up = false, stopped = false;
	int64_t hup_at = 0;
	int tty = -1, master = -1, slave = -1, status, ret = -1;
	pid_t pid = 0;

	*act = BREAK_RESUME;
	if (write_commands(o->dir, e) < 0)
		goto out;
	/* a run-as user's shell writes its choice there */
	if (o->user && chown(o->dir, o->user->uid, o->user->gid) < 0) {
		err_sys(e, "cannot give '%s' to %s", o->dir, o->user->name);
		goto out;
	}
	unlink(action);
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		err_sys(e, "cannot open the terminal");
		goto out;
	}
	if (open_pty(&master, &slave, e) < 0)
		goto out;
	if (!ioctl(tty, TIOCGWINSZ, &ws))
		ioctl(master, TIOCSWINSZ, &ws);
	if (!tcgetattr(tty, &saved)) {
		have_saved = true;
		tcsetattr(slave, TCSANOW, &saved);
	}

	strvec_pushv(&env, o->env);
	{
		const char *path = env_get(&env, "PATH");
		char *p = xasprintf("%s%s%s", path ? path : "",
				    path && *path ? ":" : "", bin);
		char *ps1 = xasprintf("[slipway %s] %s$ ", o->prompt,
				      bash ? "\\W " : "");

		env_set(&env, "PATH", p);
		env_set(&env, "PS1", ps1);
		free(p);
		free(ps1);
	}
	if (bash) {
		argv[0] = bash;
		argv[1] = "--norc";
		argv[2] = "--noprofile";
		argv[3] = "-i";
		argv[4] = NULL;
	} else {
		argv[0] = o->shell ? o->shell : "/bin/sh";
		argv[1] = "-i";
		argv[2] = NULL;
	}
	po.argv = argv;
	po.env = (const char *const *)env.v;
	po.cwd = o->cwd;
	po.in_fd = slave;
	po.out_fd = slave;
	po.err_fd = -2;
	po.ctty = true;
	po.sandbox = o->sandbox;
	if (o->user) {
		po.set_user = true;
		po.uid = o->user->uid;
		po.gid = o->user->gid;
		po.user = o->user->name;
	}
	if (proc_spawn(&po, &pid, e) < 0)
		goto out;
	close(slave);
	slave = -1;
	fcntl(master, F_SETFL, O_NONBLOCK);
	fcntl(tty, F_SETFL, fcntl(tty, F_GETFL) | O_NONBLOCK);
	if (have_saved) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(tty, TCSANOW, &raw);
	}
	for (;;) {
		struct winsize now;
		struct pollfd p[3] = { { tty, POLLIN, 0 },
				       { master, POLLIN, 0 },
				       { proc_sigfd(), POLLIN, 0 } };
		int n;

		if (proc_reap(pid, &status)) {
			pid = 0;
			relay(master, tty);
			break;
		}
		if (!hung_up && (chosen(o->dir) || proc_stop_signal())) {
			stopped = !chosen(o->dir);
			kill(-pid, SIGHUP);
			kill(-pid, SIGCONT);
			/* and hang its terminal up: the shell may lead a
			 * session that is not pid's group (a run-as user in
			 * the sandbox) */
			if (master >= 0) {
				relay(master, tty);
				close(master);
				master = -1;
			}
			hung_up = true;
			hup_at = proc_now_ms();
		} else if (hung_up && proc_now_ms() - hup_at > HUP_GRACE_MS) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		if (master >= 0 && !ioctl(tty, TIOCGWINSZ, &now) &&
		    (now.ws_row != ws.ws_row || now.ws_col != ws.ws_col)) {
			/* the terminal was resized: the shell's follows */
			ws = now;
			ioctl(master, TIOCSWINSZ, &ws);
		}
		n = poll(p, 3, 200);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents & POLLIN)
			relay(tty, master);
		if (master >= 0 &&
		    (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			if (!relay(master, tty)) {
				/* every holder of the terminal has left */
				close(master);
				master = -1;
			}
		if (p[2].revents & POLLIN)
			proc_sigfd_drain();
	}
	if (pid) {
		kill(pid, SIGKILL);
		proc_wait(pid);
	}
	*act = stopped ? BREAK_ABORT : read_action(o->dir);
	ret = 0;
out:
	if (have_saved)
		tcsetattr(tty, TCSANOW, &saved);
	if (tty >= 0) {
		fcntl(tty, F_SETFL, fcntl(tty, F_GETFL) & ~O_NONBLOCK);
		close(tty);
	}
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	unlink(action);
	strvec_release(&env);
	free(action);
	free(bin);
	free(bash);
	return ret;
}
