#include "lb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "hostbox.h"
#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define LB_SOCK "admin.sock"
#define LB_POLL_MS 10
#define LB_CMD_TIMEOUT_MS 5000
#define LB_START_MS 5000
#define LB_MAX_ANSWER (4 << 20)

char *lb_dir(const char *state_dir, const char *group_id)
{
	return xasprintf("%s/lb/%s", state_dir, group_id);
}

static void pause_ms(int ms)
{
	(void)poll(NULL, 0, ms);
}

static void add_duration(struct buf *b, int64_t ms)
{
	if (ms % 1000)
		buf_addf(b, "%lldms", (long long)ms);
	else
		buf_addf(b, "%llds", (long long)(ms / 1000));
}

void lb_config_text(const struct group *g, struct buf *out)
{
	const struct group_lb *lb = &g->lb;

	buf_addf(out,
		 "# The load balancer of deployment group '%s', made by "
		 "slipway from\n# its group file: rewritten at each "
		 "deployment, do not edit.\n",
		 g->name);
	buf_addstr(out, "global\n"
			"\tstats socket unix@" LB_SOCK " mode 600 level admin\n"
			"\tstats timeout 10m\n"
			"\tmaxconn 4096\n"
			"\n"
			"defaults\n"
			"\tmode http\n"
			"\ttimeout connect 2s\n"
			"\ttimeout client 60s\n"
			"\ttimeout server 60s\n"
			"\ttimeout check 2s\n"
			"\n"
			"frontend slipway\n");
	buf_addf(out, "\tbind %s\n\tdefault_backend %s\n\n", lb->listen,
		 lb->backend);
	buf_addf(out, "backend %s\n\toption httpchk GET %s\n", lb->backend,
		 lb->health_path);
	buf_addstr(out, "\tdefault-server inter ");
	add_duration(out, lb->health_interval_ms);
	buf_addstr(out, " fastinter ");
	add_duration(out, lb->health_interval_ms);
	buf_addstr(out, " downinter ");
	add_duration(out, lb->health_interval_ms);
	buf_addstr(out, " rise 1 fall 2\n");
	/* a replacement fleet gets traffic only once AllowTraffic lets it */
	for (size_t i = 0; i < g->nr_hosts; i++)
		buf_addf(out, "\tserver %s %s check%s\n", g->hosts[i].name,
			 g->hosts[i].target,
			 g->hosts[i].replacement ? " disabled" : "");
}

/* ---- the admin socket ---- */

static int lb_connect(const struct lb *lb, struct sw_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
		 lb->dirfd, lb->sockname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, "load balancer: cannot make a socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return err_sys(e, "load balancer: cannot reach '%s'", lb->sock);
	}
	return fd;
}

int lb_cmd(const struct lb *lb, const char *cmd, struct buf *out,
	   struct sw_err *e)
{
	int64_t deadline = proc_now_ms() + LB_CMD_TIMEOUT_MS;
	struct buf req = BUF_INIT;
	int fd, ret = -1;
	size_t off = 0;

	buf_clear(out);
	fd = lb_connect(lb, e);
	if (fd < 0)
		return -1;
	buf_addf(&req, "%s\n", cmd);
	while (off < req.len) {
		ssize_t n =
			send(fd, req.ptr + off, req.len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "load balancer: '%s'", cmd);
			goto out;
		}
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - proc_now_ms();
		char chunk[8192];
		ssize_t n;

		if (left <= 0) {
			err_set(e, ERR_SYSTEM,
				"load balancer: no answer to '%s' in %d ms",
				cmd, LB_CMD_TIMEOUT_MS);
			goto out;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			err_sys(e, "load balancer: poll");
			goto out;
		}
		if (!p.revents)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			err_sys(e, "load balancer: '%s'", cmd);
			goto out;
		}
		if (!n)
			break;
		if (out->len + (size_t)n > LB_MAX_ANSWER) {
			err_set(e, ERR_SYSTEM,
				"load balancer: the answer to '%s' is too long",
				cmd);
			goto out;
		}
		buf_add(out, chunk, (size_t)n);
	}
	ret = 0;
out:
	close(fd);
	buf_release(&req);
	return ret;
}

/* A "set server" command: HAProxy answers nothing when it did it. */
static int lb_set(const struct lb *lb, const char *name, const char *what,
		  struct sw_err *e)
{
	struct buf out = BUF_INIT;
	char *cmd = xasprintf("set server %s/%s %s", lb->backend, name, what);
	int ret = lb_cmd(lb, cmd, &out, e);

	while (ret == 0 && out.len &&
	       (out.ptr[out.len - 1] == '\n' || out.ptr[out.len - 1] == ' '))
		buf_setlen(&out, out.len - 1);
	if (ret == 0 && out.len)
		ret = err_set(e, ERR_FAILED, "load balancer: '%s': %s", cmd,
			      out.ptr);
	free(cmd);
	buf_release(&out);
	return ret;
}

/* ---- show stat ---- */

static void field_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* Split one CSV line of "show stat" (no quoting in HAProxy's output). */
static size_t split_csv(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *comma = strchr(line, ',');

		f[n++] = line;
		if (!comma)
			break;
		*comma = '\0';
		line = comma + 1;
	}
	return n;
}

enum { F_PX, F_SV, F_SCUR, F_STATUS, F_CHECK, F_LASTCHK, F_DESC, F_ADDR, F_N };

static const char *const field_names[F_N] = {
	"pxname",	"svname",   "scur",	  "status",
	"check_status", "last_chk", "check_desc", "addr",
};

int lb_servers(const struct lb *lb, struct lb_server **v, size_t *nr,
	       struct sw_err *e)
{
	struct buf out = BUF_INIT;
	int col[F_N];
	size_t alloc = 0;
	char *line, *next;
	int ret = -1;

	*v = NULL;
	*nr = 0;
	for (size_t i = 0; i < F_N; i++)
		col[i] = -1;
	if (lb_cmd(lb, "show stat", &out, e) < 0)
		goto out;
	if (strncmp(buf_cstr(&out), "# ", 2)) {
		err_set(e, ERR_SYSTEM,
			"load balancer: unexpected answer to 'show stat': "
			"%.80s",
			buf_cstr(&out));
		goto out;
	}
	for (line = out.ptr; line && *line; line = next) {
		char *f[128];
		size_t n;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#') {
			n = split_csv(line + 2, f, 128);
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < F_N; j++)
					if (!strcmp(f[i], field_names[j]))
						col[j] = (int)i;
			continue;
		}
		n = split_csv(line, f, 128);
		if (col[F_PX] < 0 || col[F_SV] < 0 || col[F_STATUS] < 0 ||
		    (size_t)col[F_STATUS] >= n ||
		    strcmp(f[col[F_PX]], lb->backend) ||
		    !strcmp(f[col[F_SV]], "BACKEND") ||
		    !strcmp(f[col[F_SV]], "FRONTEND"))
			continue;
		ALLOC_GROW(*v, *nr + 1, alloc);
		{
			struct lb_server *s = &(*v)[(*nr)++];
			const char *g;

			memset(s, 0, sizeof(*s));
#define GET(F) ((col[F] >= 0 && (size_t)col[F] < n) ? f[col[F]] : "")
			field_copy(s->name, sizeof(s->name), GET(F_SV),
				   strlen(GET(F_SV)));
			field_copy(s->addr, sizeof(s->addr), GET(F_ADDR),
				   strlen(GET(F_ADDR)));
			field_copy(s->status, sizeof(s->status), GET(F_STATUS),
				   strlen(GET(F_STATUS)));
			field_copy(s->check, sizeof(s->check), GET(F_CHECK),
				   strlen(GET(F_CHECK)));
			g = GET(F_SCUR);
			s->sessions = strtoul(g, NULL, 10);
			if (*GET(F_DESC) || *GET(F_LASTCHK))
				snprintf(s->check_info, sizeof(s->check_info),
					 "%s%s%s", GET(F_DESC),
					 *GET(F_DESC) && *GET(F_LASTCHK) ? ": "
									 : "",
					 GET(F_LASTCHK));
#undef GET
		}
	}
	ret = 0;
out:
	buf_release(&out);
	if (ret < 0) {
		free(*v);
		*v = NULL;
		*nr = 0;
	}
	return ret;
}

int lb_server_get(const struct lb *lb, const char *name, struct lb_server *s,
		  struct sw_err *e)
{
	struct lb_server *v;
	size_t nr;

	if (lb_servers(lb, &v, &nr, e) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(v[i].name, name)) {
			*s = v[i];
			free(v);
			return 0;
		}
	free(v);
	return err_set(e, ERR_FAILED,
		       "load balancer: no server '%s' in backend '%s'", name,
		       lb->backend);
}

/* ---- the traffic events ---- */

int lb_block(const struct lb *lb, const char *name, struct buf *note,
	     struct sw_err *e)
{
	int64_t t0 = proc_now_ms(), waited;
	struct lb_server s;

	if (lb_set(lb, name, "state drain", e) < 0)
		return -1;
	for (;;) {
		if (lb_server_get(lb, name, &s, e) < 0)
			return -1;
		waited = proc_now_ms() - t0;
		if (!s.sessions || waited >= lb->dereg_ms)
			break;
		pause_ms(LB_POLL_MS);
	}
	if (lb_set(lb, name, "state maint", e) < 0)
		return -1;
	if (note) {
		if (s.sessions)
			buf_addf(note,
				 "load balancer: %s drained for the "
				 "deregistration delay (%lld ms), %lu "
				 "session%s still open; in maintenance",
				 name, (long long)waited, s.sessions,
				 s.sessions == 1 ? "" : "s");
		else
			buf_addf(note,
				 "load balancer: %s drained in %lld ms (no "
				 "session left); in maintenance",
				 name, (long long)waited);
	}
	return 0;
}

int lb_allow(const struct lb *lb, const char *name, struct buf *note,
	     struct sw_err *e)
{
	int64_t t0, waited;
	struct lb_server s;
	struct sw_err ignored = SW_ERR_INIT;

	/* A check result from before the host was stopped must not count:
	 * out of rotation, it comes back only once a fresh check passes
	 * (without checks there is nothing to reset). A server still in
	 * rotation is left as it is: marking it down would drop traffic. */
	if (lb_server_get(lb, name, &s, e) < 0)
		return -1;
	if (!strncmp(s.status, "MAINT", 5))
		(void)lb_set(lb, name, "health down", &ignored);
	if (lb_set(lb, name, "state ready", e) < 0)
		return -1;
	t0 = proc_now_ms();
	for (;;) {
		if (lb_server_get(lb, name, &s, e) < 0)
			return -1;
		waited = proc_now_ms() - t0;
		if (!strncmp(s.status, "UP", 2) &&
		    (!s.status[2] || s.status[2] == ' ')) {
			/* "UP 1/2" is going down: not yet */
			if (!s.status[2])
				break;
		}
		if (!strcmp(s.status, "no check"))
			break;
		if (waited >= lb->wait_ms)
			return err_set(
				e, ERR_FAILED,
				"%s did not pass the load balancer's health "
				"check (GET %s every %lld ms) within %lld ms: "
				"it is %s, last check %s%s%s%s",
				name, lb->health_path,
				(long long)lb->interval_ms,
				(long long)lb->wait_ms, s.status,
				*s.check ? s.check : "none",
				*s.check_info ? " (" : "", s.check_info,
				*s.check_info ? ")" : "");
		pause_ms(LB_POLL_MS);
	}
	if (note)
		buf_addf(note,
			 "load balancer: %s ready; its health check passed in "
			 "%lld ms",
			 name, (long long)waited);
	return 0;
}

/* ---- a managed HAProxy ---- */

static char *haproxy_program(void)
{
	const char *env = getenv("SLIPWAY_HAPROXY");
	const char *path = getenv("PATH");

	if (env && *env)
		return xstrdup(env);
	if (path) {
		char *copy = xstrdup(path), *save = NULL, *dir;

		for (dir = strtok_r(copy, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save)) {
			char *p = xasprintf("%s/haproxy", *dir ? dir : ".");

			if (access(p, X_OK) == 0) {
				free(copy);
				return p;
			}
			free(p);
		}
		free(copy);
	}
	if (access("/usr/sbin/haproxy", X_OK) == 0)
		return xstrdup("/usr/sbin/haproxy");
	return NULL;
}

static int read_pidfile(const char *dir, pid_t *pid, unsigned long long *start)
{
	char *path = fs_join(dir, "haproxy.pid"), *text = NULL;
	struct sw_err ignored = SW_ERR_INIT;
	size_t len;
	long p = 0;
	int ret = -1;

	*pid = 0;
	*start = 0;
	if (fs_read_file(path, 256, &text, &len, &ignored) == 0 &&
	    sscanf(text, "%ld %llu", &p, start) == 2 && p > 0) {
		*pid = (pid_t)p;
		ret = 0;
	}
	free(text);
	free(path);
	return ret;
}

int lb_stop_dir(const char *dir, bool *was_running, struct sw_err *e)
{
	unsigned long long start;
	pid_t pid;
	char *path;

	*was_running = false;
	if (read_pidfile(dir, &pid, &start) < 0 || !hostbox_alive(pid, start))
		goto gone;
	*was_running = true;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && hostbox_alive(pid, start); i++) {
		int st;

		(void)waitpid(pid, &st, WNOHANG); /* ours as subreaper */
		pause_ms(LB_POLL_MS);
	}
	if (hostbox_alive(pid, start)) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 100 && hostbox_alive(pid, start); i++) {
			int st;

			(void)waitpid(pid, &st, WNOHANG);
			pause_ms(LB_POLL_MS);
		}
		if (hostbox_alive(pid, start))
			return err_set(e, ERR_SYSTEM,
				       "load balancer: haproxy (pid %d) would "
				       "not end",
				       (int)pid);
	}
gone:
	path = fs_join(dir, "haproxy.pid");
	unlink(path);
	free(path);
	return 0;
}

/* The last lines of haproxy.log, for a start that failed. */
static char *log_tail(const char *dir)
{
	char *path = fs_join(dir, "haproxy.log"), *text = NULL, *p;
	struct sw_err ignored = SW_ERR_INIT;
	size_t len;

	if (fs_read_file(path, 1 << 20, &text, &len, &ignored) < 0) {
		free(path);
		return xstrdup("no output");
	}
	free(path);
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	p = len > 300 ? text + len - 300 : text;
	for (char *c = p; *c; c++)
		if (*c == '\n')
			*c = ' ';
	p = xstrdup(*p ? p : "no output");
	free(text);
	return p;
}

static int start_haproxy(struct lb *lb, const char *prog, struct sw_err *e)
{
	int p[2];
	pid_t mid, pid = 0;
	char *text;
	int64_t deadline;
	unsigned long long start;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	fflush(NULL);
	mid = fork();
	if (mid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "cannot fork");
	}
	if (mid == 0) {
		/* A session of its own, then its child runs HAProxy: not
		 * ours, so it outlives us, and a Ctrl-C never reaches it. */
		int log, null;
		pid_t child;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
		setsid();
		child = fork();
		if (child != 0) {
			(void)!write(p[1], &child, sizeof(child));
			_exit(child < 0);
		}
		if (chdir(lb->dir) < 0)
			_exit(127);
		log = open("haproxy.log",
			   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (log < 0 || null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execl(prog, "haproxy", "-db", "-f", "haproxy.cfg",
		      (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		pid = 0;
	close(p[0]);
	(void)proc_wait(mid);
	if (pid <= 0)
		return err_set(e, ERR_SYSTEM,
			       "load balancer: cannot start haproxy");
	start = hostbox_starttime(pid);
	lb->pid = pid;
	text = xasprintf("%d %llu\n", (int)pid, start);
	{
		char *path = fs_join(lb->dir, "haproxy.pid");
		int ret = fs_replace(path, text, strlen(text), 0644, e);

		free(path);
		free(text);
		if (ret < 0)
			return -1;
	}
	/* Ready when its admin socket answers. */
	deadline = proc_now_ms() + LB_START_MS;
	for (;;) {
		struct buf out = BUF_INIT;
		struct sw_err ce = SW_ERR_INIT;
		int st, rc = lb_cmd(lb, "show info", &out, &ce);

		buf_release(&out);
		if (rc == 0)
			return 0;
		(void)waitpid(pid, &st, WNOHANG);
		if (!hostbox_alive(pid, start) || proc_now_ms() > deadline) {
			char *tail = log_tail(lb->dir);
			bool dead = !hostbox_alive(pid, start);

			if (!dead) {
				kill(pid, SIGKILL);
				(void)waitpid(pid, &st, 0);
			}
			err_set(e, ERR_SYSTEM, "load balancer: haproxy %s: %s",
				dead ? "ended at start"
				     : "did not answer within 5 s",
				tail);
			free(tail);
			return -1;
		}
		pause_ms(LB_POLL_MS);
	}
}

static int open_dirfd(struct lb *lb, const char *dir, struct sw_err *e)
{
	lb->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lb->dirfd < 0)
		return err_sys(e, "load balancer: cannot open '%s'", dir);
	return 0;
}

static int open_managed(struct lb *lb, const char *state_dir,
			const struct group *g, bool start, struct buf *note,
			struct sw_err *e)
{
	struct buf cfg = BUF_INIT, hosts = BUF_INIT;
	char *cfg_path = NULL, *old = NULL, *hosts_path = NULL, *prog = NULL;
	unsigned long long pstart;
	size_t len;
	pid_t pid;
	bool running, same;
	int ret = -1;

	lb->dir = lb_dir(state_dir, g->id);
	lb->sock = fs_join(lb->dir, LB_SOCK);
	lb->sockname = xstrdup(LB_SOCK);
	if (fs_mkdir_p(lb->dir, 0700, e) < 0 || open_dirfd(lb, lb->dir, e) < 0)
		goto out;
	lb_config_text(g, &cfg);
	cfg_path = fs_join(lb->dir, "haproxy.cfg");
	running = read_pidfile(lb->dir, &pid, &pstart) == 0 &&
		  hostbox_alive(pid, pstart);
	{
		struct sw_err ignored = SW_ERR_INIT;

		same = fs_read_file(cfg_path, 1 << 20, &old, &len, &ignored) ==
			       0 &&
		       len == cfg.len && !memcmp(old, cfg.ptr, len);
	}
	if (!start) {
		if (!running) {
			err_set(e, ERR_FAILED,
				"the load balancer of group %s is not running "
				"(a deployment starts it)",
				g->name);
			goto out;
		}
		lb->pid = pid;
		ret = 0;
		goto out;
	}
	if (running && same) {
		lb->pid = pid;
		if (note)
			buf_addf(note,
				 "load balancer: haproxy running (pid %d), "
				 "listening on %s",
				 (int)pid, g->lb.listen);
		ret = 0;
		goto out;
	}
	prog = haproxy_program();
	if (!prog) {
		err_set(e, ERR_SYSTEM,
			"load balancer: haproxy not found (install HAProxy: "
			"apt-get install haproxy, or set SLIPWAY_HAPROXY)");
		goto out;
	}
	if (running) {
		bool was;

		if (lb_stop_dir(lb->dir, &was, e) < 0)
			goto out;
	}
	for (size_t i = 0; i < g->nr_hosts; i++)
		buf_addf(&hosts, "%s\n", g->hosts[i].name);
	hosts_path = fs_join(lb->dir, "hosts");
	if (fs_replace(cfg_path, cfg.ptr, cfg.len, 0600, e) < 0 ||
	    fs_replace(hosts_path, hosts.ptr, hosts.len, 0644, e) < 0 ||
	    start_haproxy(lb, prog, e) < 0)
		goto out;
	if (note)
		buf_addf(note,
			 "load balancer: haproxy started (pid %d), listening "
			 "on %s, %zu server%s",
			 (int)lb->pid, g->lb.listen, g->nr_hosts,
			 g->nr_hosts == 1 ? "" : "s");
	ret = 0;
out:
	free(prog);
	free(cfg_path);
	free(hosts_path);
	free(old);
	buf_release(&cfg);
	buf_release(&hosts);
	return ret;
}

static int open_existing(struct lb *lb, const struct group *g, struct buf *note,
			 struct sw_err *e)
{
	const char *slash = strrchr(g->lb.socket, '/');
	char *dir = slash == g->lb.socket
			    ? xstrdup("/")
			    : xstrndup(g->lb.socket,
				       (size_t)(slash - g->lb.socket));
	struct lb_server *v = NULL;
	size_t nr = 0;
	int ret = -1;

	lb->sock = xstrdup(g->lb.socket);
	lb->sockname = xstrdup(slash + 1);
	if (open_dirfd(lb, dir, e) < 0 || lb_servers(lb, &v, &nr, e) < 0)
		goto out;
	for (size_t i = 0; i < g->nr_hosts; i++) {
		bool found = false;

		for (size_t j = 0; j < nr && !found; j++)
			found = !strcmp(v[j].name, g->hosts[i].name);
		if (!found) {
			err_set(e, ERR_FAILED,
				"load balancer: backend '%s' of %s has no "
				"server '%s' (name each host's server as the "
				"host)",
				lb->backend, lb->sock, g->hosts[i].name);
			goto out;
		}
	}
	if (note)
		buf_addf(note, "load balancer: haproxy at %s, backend %s",
			 lb->sock, lb->backend);
	ret = 0;
out:
	free(v);
	free(dir);
	return ret;
}

int lb_open(struct lb *lb, const char *state_dir, const struct group *g,
	    bool start, struct buf *note, struct sw_err *e)
{
	int ret;

	lb->backend = xstrdup(g->lb.backend);
	lb->health_path = xstrdup(g->lb.health_path);
	lb->interval_ms = g->lb.health_interval_ms;
	lb->wait_ms = g->lb.health_wait_ms;
	lb->dereg_ms = g->lb.deregistration_delay_ms;
	ret = g->lb.managed ? open_managed(lb, state_dir, g, start, note, e)
			    : open_existing(lb, g, note, e);
	if (ret < 0)
		lb_release(lb);
	return ret;
}

void lb_release(struct lb *lb)
{
	if (!lb)
		return;
	free(lb->dir);
	free(lb->sock);
	free(lb->sockname);
	free(lb->backend);
	free(lb->health_path);
	if (lb->dirfd >= 0)
		close(lb->dirfd);
	memset(lb, 0, sizeof(*lb));
	lb->dirfd = -1;
}

int lb_stop_for_hosts(const char *state_dir, char *const *names, size_t nr,
		      struct strvec *stopped, struct sw_err *e)
{
	char *top = fs_join(state_dir, "lb");
	DIR *d = opendir(top);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		free(top);
		return 0;
	}
	while ((de = readdir(d))) {
		char *dir, *hp, *text = NULL;
		struct sw_err ignored = SW_ERR_INIT;
		size_t len;
		bool hit = false, was;

		if (de->d_name[0] == '.')
			continue;
		dir = fs_join(top, de->d_name);
		hp = fs_join(dir, "hosts");
		if (fs_read_file(hp, 1 << 20, &text, &len, &ignored) == 0) {
			for (char *l = text, *nl; l && *l; l = nl) {
				nl = strchr(l, '\n');
				if (nl)
					*nl++ = '\0';
				for (size_t i = 0; i < nr && !hit; i++)
					hit = !strcmp(l, names[i]);
			}
		}
		if (hit) {
			if (lb_stop_dir(dir, &was, e) < 0)
				ret = -1;
			else if (was && stopped)
				strvec_push(stopped, de->d_name);
		}
		free(text);
		free(hp);
		free(dir);
	}
	closedir(d);
	free(top);
	return ret;
}
