#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "env.h"
#include "fs.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

#define READ_CHUNK (256 * 1024)
#define KILL_GRACE_MS 2000
#define MAX_ENV_FILE (64 << 20)

static char *find_shell(const char *name)
{
	static const char *const dirs[] = { "/bin", "/usr/bin",
					    "/usr/local/bin" };

	if (!name || !*name || !strcmp(name, "sh"))
		return xstrdup("/bin/sh");
	if (strchr(name, '/'))
		return xstrdup(name);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = xasprintf("%s/%s", dirs[i], name);

		if (!access(p, X_OK))
			return p;
		free(p);
	}
	return xstrdup(name);
}

int shell_init(struct shell *sh, const struct shell_opts *o, struct sw_err *e)
{
	int fds[2];

	memset(sh, 0, sizeof(*sh));
	strvec_init(&sh->env);
	strvec_init(&sh->first_env);
	sh->out_r = sh->out_w = -1;
	sh->shell = find_shell(o->shell);
	if (access(sh->shell, X_OK) < 0) {
		err_set(e, ERR_FAILED, "shell '%s' is not available",
			o->shell ? o->shell : "/bin/sh");
		goto fail;
	}
	sh->dir = xstrdup(o->dir);
	if (fs_mkdir_p(sh->dir, 01777, e) < 0)
		goto fail;
	chmod(sh->dir, 01777); /* run-as users write their state here */
	sh->cwd = xstrdup(o->cwd);
	sh->first_cwd = xstrdup(o->cwd);
	sh->persist = o->persist;
	sh->log = o->log;
	sh->pgid = o->pgid;
	sh->sandbox = o->sandbox;
	strvec_pushv(&sh->env, o->env);
	strvec_pushv(&sh->first_env, o->env);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err_sys(e, "cannot create a pipe");
		goto fail;
	}
	sh->out_r = fds[0];
	sh->out_w = fds[1];
	fcntl(sh->out_r, F_SETFL, O_NONBLOCK);
	/* Big pipes move big outputs with fewer wake-ups. */
	fcntl(sh->out_w, F_SETPIPE_SZ, 1 << 20);
	sh->readbuf = xmalloc(READ_CHUNK);
	return 0;
fail:
	shell_release(sh);
	return -1;
}

void shell_release(struct shell *sh)
{
	if (sh->out_r >= 0)
		close(sh->out_r);
	if (sh->out_w >= 0)
		close(sh->out_w);
	sh->out_r = sh->out_w = -1;
	free(sh->shell);
	free(sh->dir);
	free(sh->cwd);
	free(sh->first_cwd);
	free(sh->readbuf);
	strvec_release(&sh->env);
	strvec_release(&sh->first_env);
	memset(sh, 0, sizeof(*sh));
	sh->out_r = sh->out_w = -1;
}

/* Read what the pipe holds now; returns 0 at EOF, 1 otherwise. */
static int pump(struct shell *sh)
{
	for (;;) {
		ssize_t n = read(sh->out_r, sh->readbuf, READ_CHUNK);

		if (n > 0) {
			if (sh->log)
				log_output(sh->log, sh->readbuf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return 1; /* EAGAIN */
	}
}

void shell_drain(struct shell *sh)
{
	if (sh->out_r >= 0)
		pump(sh);
}

void shell_finish(struct shell *sh, int timeout_ms)
{
	int64_t deadline = proc_now_ms() + timeout_ms;

	if (sh->out_w >= 0) {
		close(sh->out_w);
		sh->out_w = -1;
	}
	while (sh->out_r >= 0 && pump(sh)) {
		struct pollfd p = { sh->out_r, POLLIN, 0 };
		int64_t left = deadline - proc_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
	}
	if (sh->log)
		log_output_flush(sh->log);
}

const char *shell_getenv(const struct shell *sh, const char *name)
{
	return env_get(&sh->env, name);
}

void shell_setenv(struct shell *sh, const char *name, const char *value)
{
	env_set(&sh->env, name, value);
	env_set(&sh->first_env, name, value);
}

const char *const *shell_environ(const struct shell *sh)
{
	return (const char *const *)sh->env.v;
}

const char *shell_cwd(const struct shell *sh)
{
	return sh->cwd;
}

void shell_state_save(const struct shell *sh, struct shell_state *s)
{
	shell_state_release(s);
	strvec_pushv(&s->env,
		     (const char *const *)(sh->persist ? sh->env.v
						       : sh->first_env.v));
	s->cwd = xstrdup(sh->persist ? sh->cwd : sh->first_cwd);
}

void shell_state_restore(struct shell *sh, const struct shell_state *s)
{
	struct strvec *env = sh->persist ? &sh->env : &sh->first_env;

	strvec_clear(env);
	strvec_pushv(env, (const char *const *)s->env.v);
	if (sh->persist) {
		free(sh->cwd);
		sh->cwd = xstrdup(s->cwd);
	}
}

void shell_state_release(struct shell_state *s)
{
	strvec_release(&s->env);
	free(s->cwd);
	s->cwd = NULL;
}

/* ---- export -p parsing ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* $'...' (bash): p points after the opening quote. */
static const char *ansi_c(const char *p, const char *end, struct buf *out)
{
	while (p < end && *p != '\'') {
		int c = (unsigned char)*p++;

		if (c != '\\' || p >= end) {
			buf_addch(out, c);
			continue;
		}
		c = (unsigned char)*p++;
		switch (c) {
		case 'n':
			buf_addch(out, '\n');
			break;
		case 't':
			buf_addch(out, '\t');
			break;
		case 'r':
			buf_addch(out, '\r');
			break;
		case 'a':
			buf_addch(out, '\a');
			break;
		case 'b':
			buf_addch(out, '\b');
			break;
		case 'f':
			buf_addch(out, '\f');
			break;
		case 'v':
			buf_addch(out, '\v');
			break;
		case 'e':
		case 'E':
			buf_addch(out, 27);
			break;
		case 'x': {
			int v = 0, k = 0;

			while (k < 2 && p < end && hexval(*p) >= 0)
				v = v * 16 + hexval(*p++), k++;
			buf_addch(out, v);
			break;
		}
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7': {
			int v = c - '0', k = 1;

			while (k < 3 && p < end && *p >= '0' && *p <= '7')
				v = v * 8 + (*p++ - '0'), k++;
			buf_addch(out, v & 0xff);
			break;
		}
		default:
			buf_addch(out, c);
		}
	}
	return p < end ? p + 1 : p;
}

/* One shell word made of quoted and unquoted parts. */
static const char *shell_word(const char *p, const char *end, struct buf *out)
{
	while (p < end && *p != ' ' && *p != '\t' && *p != '\n') {
		if (*p == '\'') {
			const char *q =
				memchr(p + 1, '\'', (size_t)(end - p - 1));

			if (!q)
				q = end;
			buf_add(out, p + 1, (size_t)(q - p - 1));
			p = q < end ? q + 1 : q;
		} else if (*p == '$' && p + 1 < end && p[1] == '\'') {
			p = ansi_c(p + 2, end, out);
		} else if (*p == '"') {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end &&
				    strchr("$`\"\\\n", p[1])) {
					if (p[1] != '\n')
						buf_addch(out, p[1]);
					p += 2;
					continue;
				}
				buf_addch(out, *p++);
			}
			if (p < end)
				p++;
		} else if (*p == '\\' && p + 1 < end) {
			buf_addch(out, p[1]);
			p += 2;
		} else {
			buf_addch(out, *p++);
		}
	}
	return p;
}

int shell_parse_exports(const char *data, size_t len, struct strvec *env)
{
	const char *p = data, *end = data + len;
	struct buf val = BUF_INIT;

	strvec_clear(env);
	while (p < end) {
		const char *name;
		size_t nlen;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
			p++;
		if (p >= end)
			break;
		if (end - p > 7 && !memcmp(p, "export ", 7)) {
			p += 7;
		} else if (end - p > 9 && !memcmp(p, "declare -", 9)) {
			p += 9;
			while (p < end && *p != ' ')
				p++;
			p++;
		} else {
			/* not ours: skip the line */
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		name = p;
		while (p < end && *p != '=' && *p != ' ' && *p != '\n')
			p++;
		nlen = (size_t)(p - name);
		if (p >= end || *p != '=') {
			continue; /* exported without a value */
		}
		p++;
		buf_clear(&val);
		p = shell_word(p, end, &val);
		if (nlen &&
		    memchr(val.ptr ? val.ptr : "", '\0', val.len) == NULL)
			strvec_pushf(env, "%.*s=%s", (int)nlen, name,
				     buf_cstr(&val));
	}
	buf_release(&val);
	return 0;
}

/* ---- running ---- */

static char *state_path(const struct shell *sh, const char *what)
{
	return xasprintf("%s/%s.%u", sh->dir, what, sh->seq);
}

/* The script is scratch: no fsync, but never seen half-written. */
static int write_transient(const char *path, const struct buf *b,
			   struct sw_err *e)
{
	char *tmp = xasprintf("%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ret = -1;

	if (fd < 0) {
		err_sys(e, "cannot write '%s'", tmp);
		goto out;
	}
	if (write(fd, b->ptr, b->len) != (ssize_t)b->len) {
		err_sys(e, "cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		err_sys(e, "cannot rename '%s'", tmp);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

static int write_script(struct shell *sh, const char *command, const char *envf,
			const char *dirf, char **path, struct sw_err *e)
{
	struct buf s = BUF_INIT, trap = BUF_INIT;
	int ret;

	if (sh->persist) {
		buf_addstr(&trap, "export -p >");
		buf_add_shquote(&trap, envf);
		buf_addstr(&trap, "; pwd >");
		buf_add_shquote(&trap, dirf);
		buf_addstr(&s, "trap ");
		buf_add_shquote(&s, buf_cstr(&trap));
		buf_addstr(&s, " EXIT\n");
	} else {
		buf_addstr(&s, ":\n");
	}
	buf_addstr(&s, "set -a\n:\n");
	buf_addstr(&s, command);
	buf_addch(&s, '\n');
	*path = xasprintf("%s/script.sh", sh->dir);
	ret = write_transient(*path, &s, e);
	buf_release(&s);
	buf_release(&trap);
	return ret;
}

/* After a command: take the environment and cwd it left behind. */
static void carry_state(struct shell *sh, const char *envf, const char *dirf)
{
	struct sw_err e = SW_ERR_INIT;
	char *data = NULL;
	size_t len;

	if (!fs_read_file(envf, MAX_ENV_FILE, &data, &len, &e)) {
		struct strvec env = STRVEC_INIT;

		shell_parse_exports(data, len, &env);
		if (env.nr) {
			strvec_release(&sh->env);
			sh->env = env;
		} else {
			strvec_release(&env);
		}
		free(data);
	}
	err_clear(&e);
	if (!fs_read_file(dirf, 1 << 16, &data, &len, &e)) {
		while (len && data[len - 1] == '\n')
			data[--len] = '\0';
		if (len && data[0] == '/') {
			free(sh->cwd);
			sh->cwd = data;
			data = NULL;
		}
		free(data);
	}
	unlink(envf);
	unlink(dirf);
}

/* Wait for pid while passing its output on. */
static enum shell_end supervise(struct shell *sh, pid_t pid, int64_t deadline,
				int *status)
{
	struct pollfd p[2];

	for (;;) {
		int64_t timeout = -1;
		int n;

		if (proc_reap(pid, status)) {
			pump(sh);
			return SHELL_EXITED;
		}
		if (proc_stop_signal())
			return SHELL_STOPPED;
		if (deadline) {
			timeout = deadline - proc_now_ms();
			if (timeout <= 0)
				return SHELL_TIMEDOUT;
		}
		p[0].fd = sh->out_r;
		p[0].events = POLLIN;
		p[1].fd = proc_sigfd();
		p[1].events = POLLIN;
		n = poll(p, 2, (int)(timeout > 60000 ? 60000 : timeout));
		if (n < 0 && errno != EINTR)
			return SHELL_EXITED; /* cannot happen; do not spin */
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)))
			pump(sh);
		if (n > 0 && (p[1].revents & POLLIN))
			proc_sigfd_drain();
	}
}

static void kill_command(struct shell *sh, pid_t pid, int *status)
{
	int64_t deadline = proc_now_ms() + KILL_GRACE_MS;

	/* The whole group: the command and what it started. */
	if (sh->pgid > 0)
		kill(-sh->pgid, SIGTERM);
	if (sh->sandbox) /* a command in a sandbox leads its own group */
		kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	while (!proc_reap(pid, status)) {
		if (proc_now_ms() >= deadline) {
			/* Not the group: its holder must live on. What else
			 * ignored TERM is killed at FINALIZING. */
			kill(pid, SIGKILL);
			*status = proc_wait(pid);
			break;
		}
		pump(sh);
		poll(NULL, 0, 5);
	}
	pump(sh);
}

int shell_run(struct shell *sh, const char *command,
	      const struct shell_user *user, int64_t deadline,
	      struct shell_result *r, struct sw_err *e)
{
	struct proc_opts po = PROC_OPTS_INIT;
	char *script = NULL, *envf, *dirf;
	const char *argv[3];
	const char *cwd;
	char lastexit[16];
	int status = 0, ret = -1;
	pid_t pid;

	sh->seq++;
	envf = state_path(sh, "env");
	dirf = state_path(sh, "dir");
	if (write_script(sh, command, envf, dirf, &script, e) < 0)
		goto out;
	cwd = sh->persist ? sh->cwd : sh->first_cwd;
	if (sh->sandbox) { /* its paths are seen through the holder */
		char *in = xasprintf("/proc/%d/root%s", (int)sh->sandbox, cwd);

		if (access(in, X_OK) < 0)
			cwd = sh->first_cwd;
		free(in);
	} else if (access(cwd, X_OK) < 0) { /* the directory went away */
		cwd = sh->first_cwd;
	}
	argv[0] = sh->shell;
	argv[1] = script;
	argv[2] = NULL;
	po.argv = argv;
	po.env = (const char *const *)(sh->persist ? sh->env.v
						   : sh->first_env.v);
	po.cwd = cwd;
	po.out_fd = sh->out_w;
	po.pgid = sh->pgid;
	po.sandbox = sh->sandbox;
	if (user) {
		po.set_user = true;
		po.uid = user->uid;
		po.gid = user->gid;
		po.user = user->name;
	}
	if (proc_spawn(&po, &pid, e) < 0)
		goto out;
	r->end = supervise(sh, pid, deadline, &status);
	if (r->end != SHELL_EXITED)
		kill_command(sh, pid, &status);
	if (WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->status = 128 + WTERMSIG(status);
	else
		r->status = 1;
	sh->last_exit = r->status;
	if (sh->persist && r->end == SHELL_EXITED)
		carry_state(sh, envf, dirf);
	else {
		unlink(envf);
		unlink(dirf);
	}
	snprintf(lastexit, sizeof(lastexit), "%d", r->status);
	env_set(sh->persist ? &sh->env : &sh->first_env, "CODEBUILD_LAST_EXIT",
		lastexit);
	ret = 0;
out:
	free(script);
	free(envf);
	free(dirf);
	return ret;
}

/* ---- expansion ---- */

static bool needs_shell(const char *s)
{
	return strchr(s, '$') || strchr(s, '`');
}

int shell_expand(struct shell *sh, const char *const *in, size_t n,
		 char ***outp, struct sw_err *e)
{
	struct proc_opts po = PROC_OPTS_INIT;
	struct buf script = BUF_INIT, res = BUF_INIT;
	char **out = xcalloc(n ? n : 1, sizeof(*out));
	const char *argv[4];
	bool any = false;
	int fds[2] = { -1, -1 }, status, ret = -1;
	pid_t pid;

	for (size_t i = 0; i < n; i++) {
		if (!needs_shell(in[i])) {
			out[i] = xstrdup(in[i]);
			continue;
		}
		any = true;
		buf_addstr(&script, "printf '%s\\0' \"");
		for (const char *p = in[i]; *p; p++) {
			if (*p == '"')
				buf_addch(&script, '\\');
			buf_addch(&script, *p);
		}
		buf_addstr(&script, "\"\n");
	}
	if (!any) {
		*outp = out;
		return 0;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err_sys(e, "cannot create a pipe");
		goto out;
	}
	argv[0] = sh->shell;
	argv[1] = "-c";
	argv[2] = buf_cstr(&script);
	argv[3] = NULL;
	po.argv = argv;
	po.env = shell_environ(sh);
	po.cwd = sh->cwd;
	po.out_fd = fds[1];
	po.err_fd = sh->out_w;
	po.pgid = sh->pgid;
	po.sandbox = sh->sandbox;
	if (proc_spawn(&po, &pid, e) < 0)
		goto out;
	close(fds[1]);
	fds[1] = -1;
	for (;;) {
		char tmp[4096];
		ssize_t r = read(fds[0], tmp, sizeof(tmp));

		if (r > 0) {
			if (res.len < (16 << 20))
				buf_add(&res, tmp, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	status = proc_wait(pid);
	shell_drain(sh);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		err_set(e, ERR_FAILED, "cannot expand variables");
		goto out;
	}
	{
		const char *p = buf_cstr(&res), *end = p + res.len;

		for (size_t i = 0; i < n; i++) {
			size_t l;

			if (out[i])
				continue;
			l = p < end ? strnlen(p, (size_t)(end - p)) : 0;
			out[i] = xstrndup(p < end ? p : "", l);
			p += l + 1;
		}
	}
	*outp = out;
	out = NULL;
	ret = 0;
out:
	if (out) {
		for (size_t i = 0; i < n; i++)
			free(out[i]);
		free(out);
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	buf_release(&script);
	buf_release(&res);
	return ret;
}
