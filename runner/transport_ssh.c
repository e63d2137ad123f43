#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

extern char **environ;

/* The most of ssh's stderr that transport_explain() reads: its tail. */
#define SSH_ERR_TAIL 8192
/* A message quotes at most this much of a line of ssh's stderr. */
#define SSH_LINE_MAX 300
/* %C is 40 hex digits; ssh adds ".XXXXXXXXXXXXXXXX" while it binds. */
#define SSH_CONTROL_EXTRA (1 + 40 + 17)

/* The client and its first arguments: $SLIPWAY_SSH split on spaces. */
static void ssh_command(struct strvec *argv)
{
	const char *s = getenv("SLIPWAY_SSH");
	bool any = false;

	while (s && *s) {
		size_t n = strcspn(s, " \t");

		if (n) {
			strvec_pushf(argv, "%.*s", (int)n, s);
			any = true;
		}
		s += n;
		s += strspn(s, " \t");
	}
	if (!any)
		strvec_push(argv, "ssh");
}

/* The remote shell's command line: exec slipway agent deploy ... -, or
 * with the bundle's path on the host when there is nothing to stream. */
static char *remote_command(const struct transport_host *h,
			    const struct agent_request *rq)
{
	const char *bin = getenv("SLIPWAY_REMOTE_BIN");
	struct strvec args = STRVEC_INIT;
	struct buf b = BUF_INIT;

	buf_addstr(&b, "exec ");
	buf_add_shquote(&b, bin && *bin ? bin : "slipway");
	transport_agent_args(h, rq, rq->stream != NULL, &args);
	for (size_t i = 0; i < args.nr; i++) {
		buf_addch(&b, ' ');
		buf_add_shquote(&b, args.v[i]);
	}
	strvec_release(&args);
	return buf_detach(&b);
}

static void ssh_argv(const struct transport_host *h, const char *command,
		     struct strvec *argv)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	ssh_command(argv);
	strvec_push(argv, "-T");
	strvec_push(argv, "-o");
	strvec_push(argv, "BatchMode=yes");
	strvec_push(argv, "-o");
	strvec_push(argv, "ConnectTimeout=10");
	strvec_push(argv, "-o");
	strvec_push(argv, "ServerAliveInterval=5");
	strvec_push(argv, "-o");
	strvec_push(argv, "ServerAliveCountMax=3");
	/* No multiplexing rather than a socket path too long to bind. */
	if (h->control_dir &&
	    strlen(h->control_dir) + SSH_CONTROL_EXTRA <= max) {
		strvec_push(argv, "-o");
		strvec_push(argv, "ControlMaster=auto");
		strvec_push(argv, "-o");
		strvec_pushf(argv, "ControlPath=%s/%%C", h->control_dir);
		strvec_push(argv, "-o");
		strvec_push(argv, "ControlPersist=60");
	} else {
		strvec_push(argv, "-o");
		strvec_push(argv, "ControlMaster=no");
		strvec_push(argv, "-o");
		strvec_push(argv, "ControlPath=none");
	}
	if (h->ssh_port) {
		strvec_push(argv, "-p");
		strvec_pushf(argv, "%d", h->ssh_port);
	}
	if (h->ssh_user) {
		strvec_push(argv, "-l");
		strvec_push(argv, h->ssh_user);
	}
	strvec_push(argv, "--");
	strvec_push(argv, h->ssh_host);
	strvec_push(argv, command);
}

/* An unlinked file for ssh's stderr, in dir when it can be. */
static int err_file(const char *dir, struct sw_err *e)
{
	char *tmpl;
	int fd;

	if (!dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	tmpl = xasprintf("%s/ssh-stderr.XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl);
	else
		err_sys(e, "cannot create a file in '%s'", dir);
	free(tmpl);
	return fd;
}

/*
 * ssh with the bundle archive on its stdin (/dev/null without rq->stream:
 * rq->bundle is a path on the host then), its stdout a pipe to us and
 * its stderr a file read when it has ended (never a pipe: nobody has to
 * drain it while the agent runs). It joins our process group.
 */
static int ssh_start(const struct transport_host *h,
		     const struct agent_request *rq, struct transport_run *run,
		     struct sw_err *e)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct strvec argv = STRVEC_INIT;
	char *command = NULL;
	int in = -1, p[2] = { -1, -1 }, errf = -1, rc = -1;
	pid_t pid;

	if (!h->ssh_host)
		return err_set(e, ERR_USAGE, "host %s: no ssh host", h->name);
	if (rq->stream) {
		in = open(rq->stream, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return err_sys(e, "cannot open '%s'", rq->stream);
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		err_sys(e, "cannot create a pipe");
		goto out;
	}
	errf = err_file(h->control_dir, e);
	if (errf < 0)
		goto out;
	command = remote_command(h, rq);
	ssh_argv(h, command, &argv);
	o.argv = (const char *const *)argv.v;
	o.env = (const char *const *)environ;
	o.in_fd = in;
	o.out_fd = p[1];
	o.err_fd = errf;
	o.pgid = getpgrp();
	if (proc_spawn(&o, &pid, e) < 0) {
		err_prefix(e, "host %s", h->name);
		goto out;
	}
	run->pid = pid;
	run->out_fd = p[0];
	run->err_fd = errf;
	p[0] = errf = -1;
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (errf >= 0)
		close(errf);
	free(command);
	strvec_release(&argv);
	return rc;
}

const struct transport transport_ssh = { "ssh", ssh_start };

int transport_ssh_put(const struct transport_host *h, const char *path,
		      const char *text, struct sw_err *e)
{
	struct proc_opts o = PROC_OPTS_INIT;
	struct strvec argv = STRVEC_INIT;
	struct buf cmd = BUF_INIT, tmp = BUF_INIT;
	size_t len = strlen(text);
	int in, null = -1, rc = -1, st;
	pid_t pid;

	in = err_file(h->control_dir, e);
	if (in < 0)
		return -1;
	if (write(in, text, len) != (ssize_t)len ||
	    lseek(in, 0, SEEK_SET) < 0) {
		err_sys(e, "cannot write a temporary file");
		goto out;
	}
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	buf_addf(&tmp, "%s.tmp", path);
	buf_addstr(&cmd, "cat >");
	buf_add_shquote(&cmd, tmp.ptr);
	buf_addstr(&cmd, " && mv ");
	buf_add_shquote(&cmd, tmp.ptr);
	buf_addch(&cmd, ' ');
	buf_add_shquote(&cmd, path);
	ssh_argv(h, cmd.ptr, &argv);
	o.argv = (const char *const *)argv.v;
	o.env = (const char *const *)environ;
	o.in_fd = in;
	o.out_fd = null;
	o.err_fd = null;
	if (proc_spawn(&o, &pid, e) < 0)
		goto out;
	st = proc_wait(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		err_set(e, ERR_FAILED, "host %s: cannot write %s over ssh",
			h->name, path);
		goto out;
	}
	rc = 0;
out:
	close(in);
	if (null >= 0)
		close(null);
	buf_release(&cmd);
	buf_release(&tmp);
	strvec_release(&argv);
	return rc;
}

/* The tail of the file, as a string (caller frees). */
static char *read_tail(int fd)
{
	struct stat st;
	off_t from = 0;
	size_t got = 0;
	char *s;

	if (fstat(fd, &st) < 0)
		return xstrdup("");
	if (st.st_size > SSH_ERR_TAIL)
		from = st.st_size - SSH_ERR_TAIL;
	s = xmalloc(SSH_ERR_TAIL + 1);
	while (got < SSH_ERR_TAIL) {
		ssize_t n = pread(fd, s + got, SSH_ERR_TAIL - got,
				  from + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	s[got] = '\0';
	return s;
}

char *transport_explain(struct transport_run *run, const char *host,
			int wait_status)
{
	char *text, *why;

	if (run->err_fd < 0)
		return NULL;
	text = read_tail(run->err_fd);
	close(run->err_fd);
	run->err_fd = -1;
	why = transport_ssh_explain(host, wait_status, text);
	free(text);
	return why;
}

/* The line of text around p, printable and bounded (caller frees). */
static char *line_at(const char *text, const char *p)
{
	const char *start = p, *end = strchrnul(p, '\n');
	struct buf b = BUF_INIT;

	while (start > text && start[-1] != '\n')
		start--;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	if (!strncmp(start, "ssh: ", 5))
		start += 5;
	for (const char *c = start; c < end && b.len < SSH_LINE_MAX; c++)
		if ((unsigned char)*c >= 0x20 && *c != 0x7f)
			buf_addch(&b, *c);
	while (b.len && (b.ptr[b.len - 1] == ' ' || b.ptr[b.len - 1] == '.'))
		buf_setlen(&b, b.len - 1);
	return buf_detach(&b);
}

/* The last line of text with something in it, or NULL. */
static char *last_line(const char *text)
{
	const char *best = NULL;

	for (const char *p = text; p && *p;) {
		const char *end = strchrnul(p, '\n');

		for (const char *c = p; c < end; c++)
			if (*c != ' ' && *c != '\t' && *c != '\r') {
				best = p;
				break;
			}
		p = *end ? end + 1 : end;
	}
	return best ? line_at(text, best) : NULL;
}

/* The first line holding one of the needles, or NULL. */
static char *find_line(const char *text, const char *const *needles)
{
	for (const char *const *n = needles; *n; n++) {
		const char *p = strstr(text, *n);

		if (p)
			return line_at(text, p);
	}
	return NULL;
}

static const char *const host_key[] = {
	"REMOTE HOST IDENTIFICATION HAS CHANGED",
	"Host key verification failed",
	"host key is known",
	"Host key for",
	NULL,
};

static const char *const auth[] = {
	"Permission denied",
	"Too many authentication failures",
	"No more authentication methods",
	NULL,
};

static const char *const resolve[] = {
	"Could not resolve hostname",
	"Name or service not known",
	NULL,
};

static const char *const connect_[] = {
	"connect to host",	  "Connection timed out during banner exchange",
	"Connection refused",	  "No route to host",
	"Network is unreachable", NULL,
};

static const char *const lost[] = {
	"not responding",    "closed by remote host",
	"Broken pipe",	     "Connection reset",
	"Connection closed", "read from master failed",
	"client_loop",	     NULL,
};

static char *explain_255(const char *host, const char *text)
{
	char *line, *msg;

	if (strstr(text, host_key[0])) {
		return xasprintf("ssh refused the host key of %s: it has "
				 "changed since known_hosts recorded it (check "
				 "it, then update known_hosts)",
				 host);
	} else if ((line = find_line(text, host_key))) {
		msg = xasprintf("ssh refused the host key of %s: it is not in "
				"known_hosts (add it: BatchMode asks "
				"nothing): %s",
				host, line);
	} else if ((line = find_line(text, auth))) {
		msg = xasprintf("ssh could not log in to %s (authentication "
				"refused): %s",
				host, line);
	} else if ((line = find_line(text, resolve))) {
		msg = xasprintf("ssh does not know host %s: %s", host, line);
	} else if ((line = find_line(text, connect_))) {
		msg = xasprintf("ssh cannot reach %s: %s", host, line);
	} else if ((line = find_line(text, lost))) {
		msg = xasprintf("the ssh connection to %s was lost: %s", host,
				line);
	} else if ((line = last_line(text))) {
		msg = xasprintf("ssh to %s failed: %s", host, line);
	} else {
		/* A client of a shared connection whose master died says
		 * nothing (the master's stderr is /dev/null). */
		return xasprintf("the ssh connection to %s failed or was lost "
				 "(ssh exit status 255, no message)",
				 host);
	}
	free(line);
	return msg;
}

char *transport_ssh_explain(const char *host, int wait_status,
			    const char *stderr_text)
{
	const char *text = stderr_text ? stderr_text : "";
	char *line, *msg;
	int code;

	if (WIFSIGNALED(wait_status))
		return xasprintf("ssh to %s was killed by signal %d", host,
				 WTERMSIG(wait_status));
	if (!WIFEXITED(wait_status))
		return NULL;
	code = WEXITSTATUS(wait_status);
	switch (code) {
	case 0:
		return NULL;
	case 255:
		return explain_255(host, text);
	case 127:
		return xasprintf("slipway is not installed on %s (or not on "
				 "the remote PATH): install it or set "
				 "SLIPWAY_REMOTE_BIN",
				 host);
	}
	line = last_line(text);
	if (code == 126)
		msg = xasprintf("slipway cannot be run on %s%s%s", host,
				line ? ": " : "", line ? line : "");
	else
		msg = xasprintf("the agent on %s ended with exit status %d%s%s",
				host, code, line ? ": " : "", line ? line : "");
	free(line);
	return msg;
}
