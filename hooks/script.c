#include "script.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

extern char **environ;

/* A line longer than this is logged in pieces (the agent has no cap). */
#define LINE_CAP (64 * 1024)
/* How long to wait for a group that ignores even SIGKILL (D state). */
#define KILLED_WAIT_MS 2000
/* Holders named per stream in the outputs-left-open warning. */
#define HOLDERS_MAX 8

struct stream {
	int fd;
	enum script_stream kind;
	const char *tag; /* "[stdout]" */
	const char *name; /* "STDOUT", as the agent's message says */
	struct buf line;
};

struct run {
	const struct script_run_opts *o;
	int log_fd;
	int dlog_fd; /* the deployments log, or -1 */
	bool dlog_tried; /* opened on the first message, as the agent's */
	int log_errno; /* first failed write to scripts.log */
	struct buf tail;
	struct buf msg;
	struct buf warn;
};

const char *script_code_name(enum script_code code)
{
	switch (code) {
	case SCRIPT_OK:
		return "Success";
	case SCRIPT_MISSING:
		return "ScriptMissing";
	case SCRIPT_NOT_EXECUTABLE:
		return "ScriptNotExecutable";
	case SCRIPT_TIMED_OUT:
		return "ScriptTimedOut";
	case SCRIPT_ERR_FAILED:
		return "ScriptFailed";
	case SCRIPT_UNKNOWN_ERROR:
		break;
	}
	return "UnknownError";
}

void script_result_release(struct script_result *r)
{
	free(r->message);
	free(r->log_tail);
	free(r->warning);
	*r = (struct script_result)SCRIPT_RESULT_INIT;
}

/*
 * Keep the newest whole messages that fit in SCRIPT_TAIL_MAX bytes. Every
 * message ends in '\n'. A newest message alone over the cap keeps its
 * last bytes, starting on a UTF-8 character boundary.
 */
static void tail_trim(struct buf *t)
{
	size_t cut, i;

	if (t->len <= SCRIPT_TAIL_MAX)
		return;
	cut = t->len - SCRIPT_TAIL_MAX;
	if (t->ptr[cut - 1] != '\n') {
		for (i = cut; i < t->len - 1 && t->ptr[i] != '\n'; i++)
			;
		if (i < t->len - 1)
			cut = i + 1;
		else
			while (cut < t->len &&
			       ((unsigned char)t->ptr[cut] & 0xc0) == 0x80)
				cut++;
	}
	buf_consume(t, cut);
}

/*
 * The deployments log, opened when the first message goes to it: created
 * (with its directory) the way Ruby's Logger creates a file, with its
 * header line "# Logfile created on <Time.now> by logger.rb/v1.5.0"
 * (the Logger of the agent's Ruby, 3.1), else appended to. -1 if it
 * cannot be opened: the deployments log never fails a hook.
 */
static int dlog_open(const char *path)
{
	char *dir = xstrdup(path), stamp[64];
	struct sw_err ignored = SW_ERR_INIT;
	time_t now = time(NULL);
	struct tm tm;
	int fd;

	fs_mkdir_p(dirname(dir), 0755, &ignored);
	free(dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (localtime_r(&now, &tm) &&
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S %z", &tm)) {
		char *head = xasprintf("# Logfile created on %s by "
				       "logger.rb/v1.5.0\n",
				       stamp);

		(void)!write(fd, head, strlen(head));
		free(head);
	}
	return fd;
}

/*
 * The agent's deployments log line for a message: local time with
 * milliseconds, the deployment id, the message stripped of surrounding
 * white space (Ruby's strip). Best effort, as the agent's logger is.
 */
static void dlog_write(struct run *rn, const char *msg, size_t len)
{
	char stamp[48];
	struct timespec ts;
	struct tm tm;
	struct buf line = BUF_INIT;

	if (!rn->dlog_tried) {
		rn->dlog_tried = true;
		rn->dlog_fd = dlog_open(rn->o->deployments_log_path);
	}
	if (rn->dlog_fd < 0)
		return;

	while (len && isspace((unsigned char)msg[len - 1]))
		len--;
	while (len && isspace((unsigned char)*msg)) {
		msg++;
		len--;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm) ||
	    !strftime(stamp, sizeof(stamp), "[%Y-%m-%d %H:%M:%S", &tm))
		stamp[0] = '\0';
	buf_addf(&line, "%s.%03ld] [%s]", stamp, ts.tv_nsec / 1000000,
		 rn->o->deployment_id ? rn->o->deployment_id : "");
	buf_add(&line, msg, len);
	buf_addch(&line, '\n');
	/* The deployments log never fails a hook. */
	(void)!write(rn->dlog_fd, line.ptr, line.len);
	buf_release(&line);
}

/* One scripts.log message: "<msg>\n" with a timestamp in the file, as is
 * in the tail. msg may hold a partial line: the newline is added, but not
 * in scripts.log when nl is false (the agent writes a last line without
 * one as it is). */
static void log_msg_nl(struct run *rn, const char *tag, const char *data,
		       size_t len, bool nl)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	size_t body;

	buf_clear(&rn->msg);
	if (localtime_r(&now, &tm) &&
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S ", &tm))
		buf_addstr(&rn->msg, stamp);
	body = rn->msg.len;
	buf_addstr(&rn->msg, tag);
	buf_add(&rn->msg, data, len);
	buf_addch(&rn->msg, '\n');
	buf_add(&rn->tail, rn->msg.ptr + body, rn->msg.len - body);
	tail_trim(&rn->tail);
	if (rn->o->deployments_log_path)
		dlog_write(rn, rn->msg.ptr + body, rn->msg.len - body);
	if (rn->log_fd >= 0 && !rn->log_errno) {
		/* One write per line: concurrent writers interleave only
		 * between lines. */
		size_t want = rn->msg.len - !nl;
		ssize_t n = write(rn->log_fd, rn->msg.ptr, want);

		if (n < 0 || (size_t)n != want)
			rn->log_errno = n < 0 ? errno : ENOSPC;
	}
}

static void log_msg(struct run *rn, const char *tag, const char *data,
		    size_t len)
{
	log_msg_nl(rn, tag, data, len, true);
}

static void log_str(struct run *rn, const char *tag, const char *s)
{
	log_msg(rn, tag, s, strlen(s));
}

static void emit_line(struct run *rn, struct stream *s, const char *data,
		      size_t len, bool nl)
{
	log_msg_nl(rn, s->tag, data, len, nl);
	if (rn->o->line_fn)
		rn->o->line_fn(s->kind, data, len, rn->o->line_data);
}

static void stream_flush(struct run *rn, struct stream *s)
{
	if (s->line.len)
		emit_line(rn, s, s->line.ptr, s->line.len, true);
	buf_clear(&s->line);
}

static void stream_close(struct run *rn, struct stream *s)
{
	/* The output ended: its last line, newline or not, as it is. */
	if (s->line.len)
		emit_line(rn, s, s->line.ptr, s->line.len, false);
	buf_clear(&s->line);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Read what is there; at EOF flush the last partial line and close. */
static void stream_read(struct run *rn, struct stream *s)
{
	char chunk[16384];
	ssize_t n;

	for (;;) {
		char *nl;
		size_t start = s->line.len;

		n = read(s->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			stream_close(rn, s);
			return;
		}
		buf_add(&s->line, chunk, (size_t)n);
		while ((nl = memchr(s->line.ptr + start, '\n',
				    s->line.len - start))) {
			size_t len = (size_t)(nl - s->line.ptr);

			emit_line(rn, s, s->line.ptr, len, true);
			buf_consume(&s->line, len + 1);
			start = 0;
		}
		if (s->line.len >= LINE_CAP)
			stream_flush(rn, s);
	}
}

/* "pipe:[<ino>]" links in /proc/<pid>/fd, for every process but us. */
static void find_holders(const ino_t *ino, struct buf *out, size_t n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	size_t found[2] = { 0, 0 };
	char want[2][48];

	for (size_t i = 0; i < n; i++)
		snprintf(want[i], sizeof(want[i]), "pipe:[%lu]",
			 (unsigned long)ino[i]);
	while (d && (de = readdir(d))) {
		char path[64], link[64], comm[64] = "?";
		pid_t pid = (pid_t)atoi(de->d_name);
		struct dirent *fe;
		DIR *fd_dir;
		int cfd;

		if (pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fd_dir = opendir(path);
		if (!fd_dir)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		cfd = open(path, O_RDONLY | O_CLOEXEC);
		if (cfd >= 0) {
			ssize_t len = read(cfd, comm, sizeof(comm) - 1);

			comm[len > 0 ? len : 0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			close(cfd);
		}
		while ((fe = readdir(fd_dir))) {
			ssize_t len;

			if (!isdigit((unsigned char)fe->d_name[0]))
				continue;
			len = readlinkat(dirfd(fd_dir), fe->d_name, link,
					 sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			for (size_t i = 0; i < n; i++) {
				if (strcmp(link, want[i]) ||
				    found[i]++ >= HOLDERS_MAX)
					continue;
				buf_addf(&out[i], "%spid %d (%s) fd %s",
					 out[i].len ? ", " : "", (int)pid, comm,
					 fe->d_name);
			}
		}
		closedir(fd_dir);
	}
	if (d)
		closedir(d);
}

/* The streams still open after the script exited: name their holders. */
static void warn_left_open(struct run *rn, struct stream *st)
{
	struct buf who[2] = { BUF_INIT, BUF_INIT };
	ino_t ino[2];
	size_t n = 0, idx[2];

	for (size_t i = 0; i < 2; i++) {
		struct stat sb;

		if (st[i].fd < 0 || fstat(st[i].fd, &sb) < 0)
			continue;
		idx[n] = i;
		ino[n++] = sb.st_ino;
	}
	find_holders(ino, who, n);
	for (size_t k = 0; k < n; k++) {
		struct buf line = BUF_INIT;

		buf_addf(&line,
			 "Script at specified location: %s exited but left %s "
			 "open (held by %s); not waiting for it: redirect "
			 "background processes with > /dev/null 2> /dev/null "
			 "< /dev/null",
			 rn->o->location, st[idx[k]].name,
			 who[k].len ? who[k].ptr
				    : "a process slipway cannot see");
		log_str(rn, "[slipway]", line.ptr);
		if (rn->o->line_fn)
			rn->o->line_fn(SCRIPT_NOTICE, line.ptr, line.len,
				       rn->o->line_data);
		buf_addf(&rn->warn, "%s%s", rn->warn.len ? "\n" : "", line.ptr);
		buf_release(&line);
		buf_release(&who[k]);
	}
}

static size_t env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static bool env_has_name(const struct strvec *v, size_t from, const char *entry)
{
	size_t len = env_name_len(entry);

	for (size_t i = from; i < v->nr; i++)
		if (env_name_len(v->v[i]) == len &&
		    !strncmp(v->v[i], entry, len))
			return true;
	return false;
}

static void env_override(struct strvec *set, const char *name,
			 const char *value)
{
	if (value)
		strvec_pushf(set, "%s=%s", name, value);
	else
		strvec_push(set, name); /* no '=': remove */
}

/* base, minus every name set below, then the settings (the last of a
 * name wins; "NAME" without '=' removes it). */
static void build_env(const struct script_run_opts *o, struct strvec *env)
{
	const char *const *base =
		o->base_env ? o->base_env : (const char *const *)environ;
	struct strvec set = STRVEC_INIT;

	env_override(&set, "LIFECYCLE_EVENT", o->event);
	env_override(&set, "DEPLOYMENT_ID", o->deployment_id);
	env_override(&set, "APPLICATION_NAME", o->application_name);
	env_override(&set, "DEPLOYMENT_GROUP_NAME", o->deployment_group_name);
	env_override(&set, "DEPLOYMENT_GROUP_ID", o->deployment_group_id);
	for (const char *const *p = o->extra_env; p && *p; p++)
		strvec_push(&set, *p);
	if (o->host_root)
		env_override(&set, "SLIPWAY_HOST_ROOT", o->host_root);
	for (const char *const *p = base; p && *p; p++)
		if (strchr(*p, '=') && !env_has_name(&set, 0, *p))
			strvec_push(env, *p);
	for (size_t i = 0; i < set.nr; i++)
		if (strchr(set.v[i], '=') &&
		    !env_has_name(&set, i + 1, set.v[i]))
			strvec_push(env, set.v[i]);
	strvec_release(&set);
}

/* exec(2) runs "#!" scripts and ELF files; anything else goes to /bin/sh
 * as execvp and the agent's exec do on ENOEXEC. */
static bool needs_sh(const char *path)
{
	unsigned char head[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n >= 2 && head[0] == '#' && head[1] == '!')
		return false;
	if (n == 4 && !memcmp(head, "\177ELF", 4))
		return false;
	return true;
}

static void build_argv(const struct script_run_opts *o, const char *path,
		       struct strvec *argv)
{
	if (o->runas) {
		struct buf cmd = BUF_INIT;

		buf_add_shquote(&cmd, path);
		strvec_push(argv, "su");
		strvec_push(argv, o->runas);
		strvec_push(argv, "-c");
		strvec_push(argv, buf_cstr(&cmd));
		buf_release(&cmd);
		return;
	}
	if (needs_sh(path))
		strvec_push(argv, "/bin/sh");
	strvec_push(argv, path);
}

static int open_log(const char *path, struct sw_err *e)
{
	char *dir = xstrdup(path);
	int fd = -1;

	if (fs_mkdir_p(dirname(dir), 0755, e) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		err_sys(e, "cannot open '%s'", path);
out:
	free(dir);
	return fd;
}

static void fail(struct script_result *r, enum script_code code,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct script_result *r, enum script_code code,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(r->message);
	r->message = xvasprintf(fmt, ap);
	va_end(ap);
	r->status = SCRIPT_FAILED;
	r->code = code;
	r->error_code = script_code_name(code);
}

/* "Script at specified location: X[ run as user U]" */
static char *prefix(const struct script_run_opts *o)
{
	if (o->runas)
		return xasprintf(
			"Script at specified location: %s run as user %s",
			o->location, o->runas);
	return xasprintf("Script at specified location: %s", o->location);
}

/*
 * The process groups a timeout stops: the script's, and under runas the
 * groups of su's children too, because `su -c` runs the command in a
 * session of its own, out of reach of a signal to su's group.
 */
struct groups {
	pid_t g[8];
	size_t n;
};

static void groups_add_children(struct groups *gs, pid_t pid)
{
	char path[64], list[1024];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	len = read(fd, list, sizeof(list) - 1);
	close(fd);
	list[len > 0 ? len : 0] = '\0';
	for (char *p = list, *end; gs->n < ARRAY_SIZE(gs->g); p = end) {
		pid_t child = (pid_t)strtol(p, &end, 10);
		pid_t pgid;
		size_t i;

		if (end == p)
			break;
		pgid = getpgid(child);
		for (i = 0; i < gs->n && gs->g[i] != pgid; i++)
			;
		if (pgid > 0 && i == gs->n)
			gs->g[gs->n++] = pgid;
	}
}

static void groups_signal(const struct groups *gs, int sig)
{
	for (size_t i = 0; i < gs->n; i++)
		kill(-gs->g[i], sig);
}

static bool groups_gone(const struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		if (kill(-gs->g[i], 0) == 0 || errno != ESRCH)
			return false;
	return true;
}

static int64_t min_wake(int64_t a, int64_t b)
{
	return a < 0 ? b : (b < 0 || a < b ? a : b);
}

/*
 * The poll loop: output until EOF, the exit, the deadline, the stop
 * signals. Sets *status (a wait status, or -1), *timed_out, and leaves
 * the streams that were still open when it gave up on them.
 */
static void supervise(struct run *rn, pid_t pid, struct proc_group *held,
		      struct stream *st, int *status, bool *timed_out,
		      int *stop_sig)
{
	const struct script_run_opts *o = rn->o;
	unsigned timeout_s = o->timeout_s ? o->timeout_s : 3600;
	int held_ms = o->held_grace_ms > 0 ? o->held_grace_ms : 1000;
	int kill_ms =
		proc_grace_ms(o->kill_grace_ms > 0 ? o->kill_grace_ms : 5000);
	int64_t deadline = proc_now_ms() + (int64_t)timeout_s * 1000;
	int64_t exited_at = -1, term_at = -1, kill_at = -1, gone_at = -1;
	struct groups gs = { { pid }, 1 };

	*status = -1;
	for (;;) {
		struct pollfd p[3];
		int64_t now = proc_now_ms(), wake = -1, held_from;
		int np = 0, ms, st_now;

		/* Also reaps orphans of the group that ended (subreaper). */
		if (proc_reap(pid, &st_now) && exited_at < 0) {
			*status = st_now;
			exited_at = now;
		}
		if (term_at < 0 && exited_at < 0 &&
		    (now >= deadline || proc_stop_signal())) {
			*stop_sig = now >= deadline ? 0 : proc_stop_signal();
			*timed_out = !*stop_sig;
			if (o->runas)
				groups_add_children(&gs, pid);
			/* the holder must not keep the group "running" */
			proc_group_detach(held);
			groups_signal(&gs, SIGTERM);
			groups_signal(&gs, SIGCONT);
			term_at = now;
		}
		if (term_at >= 0 && gone_at < 0) {
			if (exited_at >= 0 && groups_gone(&gs))
				gone_at = now;
			else if (kill_at < 0 && now >= term_at + kill_ms) {
				groups_signal(&gs, SIGKILL);
				kill_at = now;
			} else if (kill_at >= 0 &&
				   now >= kill_at + KILLED_WAIT_MS &&
				   exited_at >= 0) {
				gone_at = now; /* unkillable: stop waiting */
			}
		}
		if (exited_at >= 0 && (term_at < 0 || gone_at >= 0)) {
			if (st[0].fd < 0 && st[1].fd < 0)
				break;
			held_from = gone_at >= 0 ? gone_at : exited_at;
			if (now >= held_from + held_ms)
				break;
			wake = held_from + held_ms;
		}
		if (term_at < 0)
			wake = min_wake(wake, deadline);
		else if (gone_at < 0) /* orphans' ends bring no SIGCHLD */
			wake = min_wake(wake, now + 20);
		ms = wake < 0 ? 1000 : (int)(wake - now < 0 ? 0 : wake - now);
		if (proc_sigfd() < 0 && ms > 50)
			ms = 50;
		for (int i = 0; i < 2; i++)
			if (st[i].fd >= 0)
				p[np++] =
					(struct pollfd){ st[i].fd, POLLIN, 0 };
		if (proc_sigfd() >= 0)
			p[np++] = (struct pollfd){ proc_sigfd(), POLLIN, 0 };
		poll(p, (nfds_t)np, ms);
		proc_sigfd_drain();
		for (int i = 0; i < 2; i++)
			if (st[i].fd >= 0)
				stream_read(rn, &st[i]);
	}
}

static void finish(struct run *rn, struct script_result *r, int status,
		   bool timed_out, int stop_sig)
{
	const struct script_run_opts *o = rn->o;
	char *pre = prefix(o);

	if (status != -1 && WIFEXITED(status))
		r->exit_code = WEXITSTATUS(status);
	else if (status != -1 && WIFSIGNALED(status))
		r->term_signal = WTERMSIG(status);
	if (stop_sig) {
		r->exit_code = -1;
		fail(r, SCRIPT_UNKNOWN_ERROR,
		     "%s was stopped: slipway received signal %d (%s)", pre,
		     stop_sig, strsignal(stop_sig));
	} else if (timed_out) {
		r->exit_code = -1;
		fail(r, SCRIPT_TIMED_OUT,
		     "Script at specified location: %s failed to complete in "
		     "%u seconds",
		     o->location, o->timeout_s ? o->timeout_s : 3600);
	} else if (r->term_signal) {
		/* Ruby's exitstatus is nil for a signal: the agent's message
		 * ends in "exit code " and nothing */
		fail(r, SCRIPT_ERR_FAILED, "%s failed with exit code ", pre);
	} else if (r->exit_code != 0) {
		fail(r, SCRIPT_ERR_FAILED, "%s failed with exit code %d", pre,
		     r->exit_code);
	}
	free(pre);
}

/* The checks the agent makes before it runs a script. 0: go on. */
static int check_script(struct run *rn, const char *path,
			struct script_result *r)
{
	const struct script_run_opts *o = rn->o;
	struct stat sb;

	if (stat(path, &sb) < 0) {
		fail(r, SCRIPT_MISSING,
		     "Script does not exist at specified location: %s", path);
		return -1;
	}
	if (access(path, X_OK) < 0) {
		buf_addf(&rn->warn,
			 "Script at specified location: %s is not executable.  "
			 "Trying to make it executable.",
			 o->location);
		if (o->line_fn)
			o->line_fn(SCRIPT_NOTICE, rn->warn.ptr, rn->warn.len,
				   o->line_data);
		if (chmod(path, (sb.st_mode & 07777) | 0111) < 0) {
			fail(r, SCRIPT_NOT_EXECUTABLE,
			     "Unable to set script at specified location: %s "
			     "as executable",
			     o->location);
			return -1;
		}
	}
	if (o->runas && geteuid() != 0) {
		char *pre = prefix(o);

		fail(r, SCRIPT_UNKNOWN_ERROR,
		     "%s cannot run: runas needs slipway to run as root", pre);
		free(pre);
		return -1;
	}
	return 0;
}

int script_run(const struct script_run_opts *o, struct script_result *r,
	       struct sw_err *e)
{
	struct run rn = { .o = o, .log_fd = -1, .dlog_fd = -1 };
	struct stream st[2] = {
		{ -1, SCRIPT_STDOUT, "[stdout]", "STDOUT", BUF_INIT },
		{ -1, SCRIPT_STDERR, "[stderr]", "STDERR", BUF_INIT },
	};
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct strvec env = STRVEC_INIT, argv = STRVEC_INIT;
	struct proc_opts po = PROC_OPTS_INIT;
	struct proc_group held = PROC_GROUP_INIT;
	struct sw_err spawn_err = SW_ERR_INIT;
	char *joined = NULL, *path = NULL;
	bool timed_out = false;
	int status = -1, stop_sig = 0, ret = -1;
	pid_t pid;

	*r = (struct script_result)SCRIPT_RESULT_INIT;
	r->start_ms = proc_wall_ms();
	r->error_code = script_code_name(SCRIPT_OK);
	if (!o->archive_dir || !o->location || !o->event) {
		err_set(e, ERR_USAGE,
			"script: archive_dir, location and event are required");
		goto out;
	}
	buf_addstr(&rn.tail, o->tail_in ? o->tail_in : "");
	if (rn.tail.len && rn.tail.ptr[rn.tail.len - 1] != '\n')
		buf_addch(&rn.tail, '\n');
	tail_trim(&rn.tail);
	if (o->log_path && (rn.log_fd = open_log(o->log_path, e)) < 0)
		goto out;
	if (o->event_header)
		log_str(&rn, "LifecycleEvent - ", o->event);

	joined = fs_join(o->archive_dir, o->location);
	path = fs_abspath(joined);
	if (check_script(&rn, path, r) < 0) {
		ret = 0;
		goto out;
	}
	log_str(&rn, "Script - ", o->location);

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err_sys(e, "cannot create a pipe");
		goto out;
	}
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	st[0].fd = outp[0];
	st[1].fd = errp[0];
	outp[0] = errp[0] = -1;
	build_env(o, &env);
	build_argv(o, path, &argv);
	po.argv = (const char *const *)argv.v;
	po.env = (const char *const *)env.v;
	po.cwd = o->archive_dir;
	po.in_fd = -1;
	po.out_fd = outp[1];
	po.err_fd = errp[1];
	po.pgid = 0;
	if (proc_spawn(&po, &pid, &spawn_err) < 0) {
		/* The agent rescues a failed exec as ScriptFailed. */
		char *pre = prefix(o);

		fail(r, SCRIPT_ERR_FAILED, "%s failed with error %s", pre,
		     spawn_err.msg);
		free(pre);
		ret = 0;
		goto out;
	}
	r->pid = pid;
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	/* Should we die (SIGKILL), the holder takes the script's group with
	 * it; while the script runs, not after: what it leaves is the
	 * deployed application's. */
	if (proc_group_hold(&held, pid, e) < 0) {
		kill(-pid, SIGKILL);
		proc_wait(pid);
		goto out;
	}

	supervise(&rn, pid, &held, st, &status, &timed_out, &stop_sig);
	proc_group_release(&held);
	r->stop_signal = stop_sig;
	if (st[0].fd >= 0 || st[1].fd >= 0) {
		r->outputs_left_open = true;
		stream_flush(&rn, &st[0]);
		stream_flush(&rn, &st[1]);
		warn_left_open(&rn, st);
	}
	finish(&rn, r, status, timed_out, stop_sig);
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		stream_close(&rn, &st[i]);
		buf_release(&st[i].line);
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (rn.dlog_fd >= 0)
		close(rn.dlog_fd);
	if (rn.log_fd >= 0) {
		if (!rn.log_errno && close(rn.log_fd) < 0)
			rn.log_errno = errno;
		else if (rn.log_errno)
			close(rn.log_fd);
	}
	if (rn.log_errno && ret == 0) {
		errno = rn.log_errno;
		ret = err_sys(e, "cannot write '%s'", o->log_path);
	}
	r->log_tail = buf_detach(&rn.tail);
	r->warning = rn.warn.len ? buf_detach(&rn.warn) : NULL;
	r->end_ms = proc_wall_ms();
	buf_release(&rn.warn);
	buf_release(&rn.msg);
	strvec_release(&env);
	strvec_release(&argv);
	free(joined);
	free(path);
	return ret;
}
