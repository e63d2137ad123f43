#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent_proto.h"
#include "artifacts.h"
#include "buf.h"
#include "bundle.h"
#include "dconfig.h"
#include "fs.h"
#include "revision.h"
#include "group.h"
#include "lb.h"
#include "probe.h"
#include "hash.h"
#include "host.h"
#include "hostbox.h"
#include "html.h"
#include "index.h"
#include "lock.h"
#include "proc.h"
#include "ready.h"
#include "retire.h"
#include "state.h"
#include "transport.h"
#include "xalloc.h"
#include "banned.h"

#define DEFAULT_GROUP_NAME "LocalFleet"
#define DEFAULT_GROUP_ID "default-local-deployment-group"
#define DEFAULT_CONFIG "CodeDeployDefault.OneAtATime"
#define AGENT_DEPLOYMENT_ROOT "opt/codedeploy-agent/deployment-root"
#define HEALTH_TIMEOUT_MS (10 * 60 * 1000)
#define LOCK_SWEEP_AGE_S (24 * 3600)
/* A host over ssh behind a load balancer: its agent waits for a traffic
 * event's answer the balancer's own limit and this (the admin socket's
 * commands, two uploads over ssh with their connect and keepalive
 * timeouts, the stream's delay). */
#define TRAFFIC_MARGIN_MS (60 * 1000)

enum fh_state { FH_PENDING, FH_IN_FLIGHT, FH_SUCCEEDED, FH_FAILED, FH_SKIPPED };

static const char *const fh_names[] = { "Pending", "InProgress", "Succeeded",
					"Failed", "Skipped" };

struct drv;

/* One host of the deployment. */
struct fhost {
	struct drv *d;
	char *name;
	char *root; /* on the host */
	char *deployment_root; /* on the host */
	char *ssh, *ssh_user, *ssh_host;
	int ssh_port;
	bool rehearsal; /* under <state>/hosts/<name>: may be a sandbox */
	/* Blue/green: a replacement (green) host; phase 1 hosts run under
	 * the configuration, phase 2 ones all at once once phase 1 has
	 * succeeded; the part of the lifecycle it runs. */
	bool green;
	int phase;
	enum agent_part part;
	bool terminated; /* an original host retired (TERMINATE) */
	/* STOP_DEPLOYMENT: a replacement host's install, while its Allow
	 * events run; merged into r when they end */
	struct agent_result first;
	bool have_first;
	bool make_root; /* its root is under the state dir: made if missing */
	pid_t box; /* its sandbox's holder when it ran in one */
	char *box_address; /* that sandbox's own address, or NULL */
	int order; /* 0 unhealthy, 1 never deployed, 2 the others */
	size_t index; /* in the group file */
	enum fh_state st;
	struct transport_run run;
	struct agent_proto_reader rd;
	struct agent_result r;
	char *message; /* why it failed, when the agent did not say */
	bool agent_issue; /* no result from the agent (or no agent) */
	int64_t start_ms, end_ms;
	pid_t traffic_pid; /* over ssh: the process doing its traffic event */
	int traffic_fd; /* its pipe: why it failed, then EOF as it ends */
	enum appspec_event traffic_ev; /* the event it does */
	/* The answer of a traffic event could not reach the host: the
	 * host's transport was ended, this is why (its message). */
	char *traffic_why;
	/* the live table: each event's state ('r'unning, 's'ucceeded,
	 * 'f'ailed, '-' skipped, 0 not yet) */
	char marks[APPSPEC_NEVENTS];
};

/* What one deployment run holds. */
struct drv {
	const struct deploy_opts *o;
	struct state *st;
	struct group *g; /* NULL without --group */
	char *id;
	char *bundle; /* absolute; NULL for a rollback (on-host archives) */
	char *rollback_of; /* the deployment this one rolls back */
	bool traffic_rollback; /* rollback(): blue/green's traffic back */
	char *rollback_source; /* the last good deployment id */
	char *application;
	char *group_name;
	char *group_id;
	struct dconfig config;
	enum appspec_feb feb;
	bool ignore_stop;
	bool traffic;
	bool sandbox; /* rehearsal hosts are sandboxes (--isolation) */
	struct fhost *hosts;
	size_t nr_hosts;
	size_t width; /* of the longest host name */
	char *dep_dir; /* <state>/deployments/<id> */
	char *control_dir; /* <state>/ssh */
	char *stream; /* what remote hosts receive as the bundle */
	/* an archive bundle unpacked once for the local hosts, or NULL */
	char *unpacked;
	long long stream_size; /* its size, for the upload's progress */
	int log_fd; /* deployment.log, locked while the deployment runs */
	/* report.json's space, set aside at the start (reserved: taken) */
	struct fs_reserve report_rv;
	bool reserved;
	bool summary_shown; /* a live line is on the terminal */
	int live_rows; /* the table's lines above it */
	bool live_shown_once; /* redraw it after each line from then on */
	bool redraw; /* cleared for a line, to be drawn again */
	int64_t drawn_ms;
	bool live; /* draw the live line */
	bool color; /* stdout is a terminal that takes colour */
	bool color_err; /* stderr too */
	struct buf line;
	int64_t start_ms, end_ms;
	enum bundle_kind kind;
	struct dsched sched;
	bool stopped; /* by the configuration */
	bool interrupted; /* by a signal */
	bool invalid_revision; /* a host refused the bundle */
	/* A new bundle goes to one host first: until that host has
	 * unpacked it (DownloadBundle) or ended, no other host starts, so a
	 * bundle every host would refuse is refused once. */
	bool gate_open;
	size_t started;
	char *stop_why;
	char *status; /* "Succeeded", "Failed", "Stopped" */
	const char *error_code;
	char *error_msg;
	const struct strvec *only; /* a rollback: these hosts only */
	char *keep_good; /* the group's last good deployment: kept */
	char *rollback_id; /* the rollback this one triggered */
	char *rollback_status;
	struct deploy_locks *locks; /* the group's and the hosts' */
	bool own_locks; /* taken here: released with the drv */
	struct lb lb; /* the group's HAProxy, when it has one */
	bool have_lb;
	bool bg; /* a blue/green deployment (or its rollback) */
	bool bg_rollback;
	size_t nr_phase1;
	/* ready.action STOP_DEPLOYMENT: waiting (status Ready) until
	 * ready_until (wall clock), and how the wait ended */
	bool waiting;
	int64_t ready_until;
	enum ready_verdict ready;
	bool ready_done;
	bool allow_failed; /* a replacement host's Allow events failed */
	/* --probe: requests through the balancer while it all runs (the
	 * deployment and its rollback); the figures once it stopped */
	struct probe_opts probe_opts;
	struct probe probe;
	struct probe_result pr;
	bool have_pr;
};

struct deploy_locks {
	struct lock *v;
	size_t nr;
};

/* ---- output ---- */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_DIM "\033[2m"
#define C_RESET "\033[0m"

static void live_clear(struct drv *d)
{
	if (d->summary_shown) {
		/* up over the table, clear to the end, and the line */
		if (d->live_rows)
			fprintf(stderr, "\r\033[%dA\033[J", d->live_rows);
		fputs("\r\033[K", stderr);
		fflush(stderr);
		d->summary_shown = false;
		d->live_rows = 0;
	}
}

/* The live table's columns: the lifecycle a host goes through. */
static const struct {
	enum appspec_event ev;
	const char *title;
} table_cols[] = {
	{ APPSPEC_APPLICATION_STOP, "Stop" },
	{ APPSPEC_DOWNLOAD_BUNDLE, "Bundle" },
	{ APPSPEC_BEFORE_INSTALL, "BeforeI" },
	{ APPSPEC_INSTALL, "Install" },
	{ APPSPEC_AFTER_INSTALL, "AfterI" },
	{ APPSPEC_APPLICATION_START, "Start" },
	{ APPSPEC_VALIDATE_SERVICE, "Validate" },
};

/* At most this many hosts get a row; more get the summary line alone. */
#define TABLE_MAX_HOSTS 12

/* A host-by-event table above the live line (stderr is a terminal). */
static void table_draw(struct drv *d)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "\r\033[K%-*s", (int)d->width, "");
	for (size_t c = 0; c < ARRAY_SIZE(table_cols); c++)
		buf_addf(&b, " %-8s", table_cols[c].title);
	buf_addch(&b, '\n');
	for (size_t i = 0; i < d->nr_hosts; i++) {
		const struct fhost *h = &d->hosts[i];

		buf_addf(&b, "\r\033[K%-*s", (int)d->width, h->name);
		for (size_t c = 0; c < ARRAY_SIZE(table_cols); c++) {
			char m = h->marks[table_cols[c].ev];
			const char *mark = m == 's'   ? C_GREEN "\xe2\x9c\x93"
					   : m == 'f' ? C_RED "\xe2\x9c\x97"
					   : m == 'r' ? C_YELLOW "\xe2\x96\xb8"
					   : m == '-' ? C_DIM "-"
						      : C_DIM "\xc2\xb7";

			buf_addf(&b, " %s" C_RESET "%-7s", mark, "");
		}
		buf_addch(&b, '\n');
	}
	fwrite(b.ptr, 1, b.len, stderr);
	d->live_rows = (int)d->nr_hosts + 1;
	buf_release(&b);
}

/* How far ssh has read the bundle on its stdin, or -1. */
static long long upload_pos(pid_t pid)
{
	char path[64], b[512];
	const char *pos;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/0", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	pos = strstr(b, "pos:");
	return pos ? strtoll(pos + 4, NULL, 10) : -1;
}

/* Whether a remote host is still reading the bundle. */
static bool uploading(const struct drv *d, const struct fhost *h)
{
	long long pos;

	if (!d->stream || !d->stream_size || !h->ssh || h->st != FH_IN_FLIGHT ||
	    h->run.pid <= 0 || d->o->quiet)
		return false;
	pos = upload_pos(h->run.pid);
	return pos >= 0 && pos < d->stream_size;
}

static void live_draw(struct drv *d)
{
	size_t n[5] = { 0 };

	if (!d->live)
		return;
	live_clear(d);
	if (d->nr_hosts <= TABLE_MAX_HOSTS)
		table_draw(d);
	for (size_t i = 0; i < d->nr_hosts; i++)
		n[d->hosts[i].st]++;
	fprintf(stderr,
		"\r\033[K%s: %zu done, %zu in flight, %s%zu failed%s, %zu "
		"skipped, %zu pending",
		d->id, n[FH_SUCCEEDED], n[FH_IN_FLIGHT],
		n[FH_FAILED] ? C_RED : "", n[FH_FAILED],
		n[FH_FAILED] ? C_RESET : "", n[FH_SKIPPED], n[FH_PENDING]);
	for (size_t i = 0; i < d->nr_hosts; i++) {
		const struct fhost *h = &d->hosts[i];
		long long pos;

		if (!uploading(d, h))
			continue;
		pos = upload_pos(h->run.pid);
		fprintf(stderr, "; %s: bundle %lld%% of %.1f MB", h->name,
			pos * 100 / d->stream_size,
			(double)d->stream_size / 1e6);
	}
	fflush(stderr);
	d->summary_shown = true;
	d->live_shown_once = true;
	d->redraw = false;
	d->drawn_ms = proc_now_ms();
}

/* The colour of a status word, or NULL. */
static const char *status_color(const char *w, size_t n)
{
	static const struct {
		const char *word, *color;
	} words[] = {
		{ "Succeeded", C_GREEN },
		{ "Failed", C_RED },
		{ "Stopped", C_YELLOW },
		{ "Skipped", C_YELLOW },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == n && !memcmp(w, words[i].word, n))
			return words[i].color;
	return NULL;
}

/*
 * The terminal's copy of a line: the host column dim, an event's status
 * word ("BeforeInstall Failed (12 ms)") in its colour, an event's error
 * ("BeforeInstall: ScriptFailed: ...") red.
 */
static void colorize(struct buf *out, const char *line, size_t prefix)
{
	const char *text = line + prefix, *sp = strchr(text, ' ');
	const char *colon = strchr(text, ':');
	const char *c;
	size_t n;

	buf_addf(out, C_DIM "%.*s" C_RESET, (int)prefix, line);
	if (colon && (!sp || colon < sp) && colon > text && colon[1] == ' ' &&
	    text[0] >= 'A' && text[0] <= 'Z') {
		n = strcspn(text, "\n");
		buf_addf(out, C_RED "%.*s" C_RESET "%s", (int)n, text,
			 text + n);
		return;
	}
	if (sp && text[0] >= 'A' && text[0] <= 'Z') {
		n = strcspn(sp + 1, " \n");
		c = status_color(sp + 1, n);
		if (c) {
			buf_addf(out, "%.*s%s%.*s" C_RESET "%s",
				 (int)(sp + 1 - text), text, c, (int)n, sp + 1,
				 sp + 1 + n);
			return;
		}
	}
	buf_addstr(out, text);
}

static void out_line(struct drv *d, const char *host, bool term,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One "<host> | text" line to deployment.log and, if term, stdout. */
static void out_line(struct drv *d, const char *host, bool term,
		     const char *fmt, ...)
{
	va_list ap;

	size_t prefix;

	buf_clear(&d->line);
	buf_addf(&d->line, "%-*s | ", (int)d->width, host);
	prefix = d->line.len;
	va_start(ap, fmt);
	buf_vaddf(&d->line, fmt, ap);
	va_end(ap);
	buf_addch(&d->line, '\n');
	if (d->log_fd >= 0)
		(void)!write(d->log_fd, d->line.ptr, d->line.len);
	if (term && d->color && strcmp(host, "slipway")) {
		struct buf c = BUF_INIT;

		colorize(&c, d->line.ptr, prefix);
		live_clear(d);
		fwrite(c.ptr, 1, c.len, stdout);
		fflush(stdout);
		buf_release(&c);
	} else if (term) {
		live_clear(d);
		fwrite(d->line.ptr, 1, d->line.len, stdout);
		fflush(stdout);
	}
	/* the table comes back at once, or in a moment when lines pour */
	if (term && d->live && d->live_shown_once) {
		if (proc_now_ms() - d->drawn_ms >= 100)
			live_draw(d);
		else
			d->redraw = true;
	}
}

/*
 * The answer of a host's traffic event cannot reach it (why): the agent
 * would wait for it in vain, so the host's transport is ended and the
 * host fails with why (host_finish).
 */
static void traffic_lost(struct drv *d, struct fhost *h, const char *why)
{
	free(h->traffic_why);
	h->traffic_why = xasprintf("%s: %s: its agent is stopped",
				   appspec_event_name(h->traffic_ev), why);
	out_line(d, h->name, true, "[slipway] %s", h->traffic_why);
	/* not yet waited for (host_finish reaps it after closing out_fd) */
	if (h->st == FH_IN_FLIGHT && h->run.out_fd >= 0 && h->run.pid > 0)
		kill(h->run.pid, SIGTERM);
}

/*
 * The process doing a host's traffic event: reap it if it has ended (its
 * pipe said EOF; stop: kill it first if it has not, it is not wanted any
 * more). One that ended failing to answer ends the host; one killed
 * says nothing.
 */
static void traffic_reap(struct drv *d, struct fhost *h, bool stop)
{
	struct buf why = BUF_INIT;
	bool killed = false;
	char chunk[1024];
	ssize_t n;
	pid_t r;
	int st = 0;

	if (h->traffic_pid <= 0)
		return;
	while ((r = waitpid(h->traffic_pid, &st, WNOHANG)) < 0 &&
	       errno == EINTR)
		;
	if (r == 0 && !stop)
		return; /* not quite gone */
	if (r == 0) {
		kill(h->traffic_pid, SIGTERM);
		st = proc_wait(h->traffic_pid);
		killed = true;
	}
	h->traffic_pid = 0;
	while ((n = read(h->traffic_fd, chunk, sizeof(chunk))) > 0)
		buf_add(&why, chunk, (size_t)n);
	close(h->traffic_fd);
	h->traffic_fd = -1;
	if (killed || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
		goto out;
	while (why.len && strchr(" \n", why.ptr[why.len - 1]))
		buf_setlen(&why, why.len - 1);
	if (!why.len && WIFSIGNALED(st))
		buf_addf(&why, "killed by signal %d", WTERMSIG(st));
	else if (!why.len)
		buf_addf(&why, "exit status %d",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	{
		char *msg = xasprintf("the load balancer's answer did not "
				      "reach the host (%s)",
				      why.ptr);

		traffic_lost(d, h, msg);
		free(msg);
	}
out:
	buf_release(&why);
}

/*
 * A host over ssh behind the load balancer started BlockTraffic or
 * AllowTraffic: a process of ours does it (as a local host's agent
 * process does) and writes the answer into the host's deployment
 * directory, which the agent waits for (agent_opts.traffic_remote). An
 * answer that cannot be written is followed by a "failed" one saying
 * so; when neither gets there (or there is no process), the host's
 * transport is ended (traffic_reap), lest its agent wait on.
 */
static void remote_traffic(struct drv *d, struct fhost *h,
			   enum appspec_event ev)
{
	int p[2];
	pid_t pid;

	if (h->traffic_pid > 0) {
		/* the last one: answered (the agent moved on), so ending */
		kill(h->traffic_pid, SIGTERM);
		proc_wait(h->traffic_pid);
		h->traffic_pid = 0;
		close(h->traffic_fd);
		h->traffic_fd = -1;
	}
	h->traffic_ev = ev;
	fflush(NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		char *why = xasprintf("cannot make a pipe for the load "
				      "balancer's step: %s",
				      strerror(errno));

		traffic_lost(d, h, why);
		free(why);
		return;
	}
	pid = fork();
	if (pid < 0) {
		char *why = xasprintf("cannot fork for the load balancer's "
				      "step: %s",
				      strerror(errno));

		close(p[0]);
		close(p[1]);
		traffic_lost(d, h, why);
		free(why);
		return;
	}
	if (pid == 0) {
		struct transport_host th = {
			.name = h->name,
			.ssh = h->ssh,
			.ssh_user = h->ssh_user,
			.ssh_host = h->ssh_host,
			.ssh_port = h->ssh_port,
			.control_dir = d->control_dir,
		};
		struct buf note = BUF_INIT, answer = BUF_INIT;
		struct sw_err e = SW_ERR_INIT;
		char *path;
		int rc;

		close(p[0]);
		rc = ev == APPSPEC_BLOCK_TRAFFIC
			     ? lb_block(&d->lb, h->name, &note, &e)
			     : lb_allow(&d->lb, h->name, &note, &e);
		buf_addf(&answer, "%s\n%s\n", rc == 0 ? "ok" : "failed",
			 rc == 0 ? buf_cstr(&note) : e.msg);
		path = xasprintf("%s/%s/%s/traffic-%s", h->deployment_root,
				 d->group_id, d->id, appspec_event_name(ev));
		err_clear(&e);
		if (transport_ssh_put(&th, path, answer.ptr, &e) == 0)
			_exit(0);
		/* once more, so that the event fails saying why */
		buf_clear(&answer);
		buf_addf(&answer,
			 "failed\nthe load balancer's answer did not reach "
			 "the host: %s\n",
			 e.msg);
		err_clear(&e);
		if (transport_ssh_put(&th, path, answer.ptr, &e) == 0)
			_exit(0);
		(void)!write(p[1], e.msg, strlen(e.msg));
		_exit(1);
	}
	close(p[1]);
	h->traffic_pid = pid;
	h->traffic_fd = p[0];
}

static void on_event(const struct agent_event *ev, void *data)
{
	struct fhost *h = data;
	struct drv *d = h->d;
	const char *name = appspec_event_name(ev->event);

	if (h->ssh && d->have_lb && ev->status == AGENT_IN_PROGRESS &&
	    (ev->event == APPSPEC_BLOCK_TRAFFIC ||
	     ev->event == APPSPEC_ALLOW_TRAFFIC))
		remote_traffic(d, h, ev->event);

	if (ev->event == APPSPEC_DOWNLOAD_BUNDLE &&
	    ev->status == AGENT_SUCCEEDED)
		d->gate_open = true;
	if (ev->event < APPSPEC_NEVENTS) {
		char was = h->marks[ev->event];

		h->marks[ev->event] = ev->status == AGENT_IN_PROGRESS ? 'r'
				      : ev->status == AGENT_SUCCEEDED ? 's'
				      : ev->status == AGENT_FAILED
					      ? (ev->ignored ? 's' : 'f')
				      : ev->status == AGENT_SKIPPED ? '-'
								    : 0;
		if (was != h->marks[ev->event] && d->summary_shown)
			live_draw(d);
	}
	if (ev->status == AGENT_IN_PROGRESS && d->o->verbose && !d->o->quiet)
		out_line(d, h->name, true, "==> %s", name);
	if (ev->status == AGENT_IN_PROGRESS || ev->status == AGENT_PENDING)
		return;
	if (ev->status == AGENT_SKIPPED) {
		out_line(d, h->name, !d->o->quiet, "%s Skipped", name);
		return;
	}
	out_line(d, h->name, !d->o->quiet, "%s %s (%lld ms)%s", name,
		 agent_status_name(ev->status),
		 (long long)(ev->end_ms - ev->start_ms),
		 ev->ignored ? ", ignored" : "");
	if (ev->status == AGENT_FAILED && ev->message)
		out_line(d, h->name, true, "%s: %s: %s", name,
			 ev->error_code ? ev->error_code : "UnknownError",
			 ev->message);
}

static void on_line(enum appspec_event event, enum script_stream stream,
		    const char *line, size_t len, void *data)
{
	struct fhost *h = data;
	const char *tag = stream == SCRIPT_STDOUT   ? "[stdout]"
			  : stream == SCRIPT_STDERR ? "[stderr]"
						    : "[slipway] ";

	/* warnings (the appspec's) are shown under -q too */
	bool warning = stream == SCRIPT_NOTICE && len >= 9 &&
		       !memcmp(line, "warning: ", 9);

	(void)event;
	out_line(h->d, h->name, !h->d->o->quiet || warning, "%s%.*s", tag,
		 (int)len, line);
}

/* ---- driver state per group ---- */

static char *group_state(const struct drv *d, const char *rest)
{
	return xasprintf("%s/groups/%s/%s", d->st->dir, d->group_id, rest);
}

static char *read_state(const struct drv *d, const char *rest)
{
	char *path = group_state(d, rest), *text = NULL;
	struct sw_err e = SW_ERR_INIT;
	size_t n;

	if (fs_read_file(path, 4096, &text, &n, &e) < 0)
		text = NULL;
	else
		text[strcspn(text, " \n")] = '\0';
	free(path);
	return text;
}

static void write_state(const struct drv *d, const char *rest, const char *text)
{
	char *path = group_state(d, rest), *dir = xstrdup(path);
	struct sw_err e = SW_ERR_INIT;

	*strrchr(dir, '/') = '\0';
	if (fs_mkdir_p(dir, 0755, &e) < 0 ||
	    fs_replace(path, text, strlen(text), 0644, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	free(dir);
	free(path);
}

/* The host's health line: "Healthy <id>" / "Unhealthy <id>", or NULL. */
static char *host_health(const struct drv *d, const char *host)
{
	char *rest = xasprintf("hosts/%s", host), *path = group_state(d, rest);
	char *text = NULL;
	struct sw_err e = SW_ERR_INIT;
	size_t n;

	if (fs_read_file(path, 4096, &text, &n, &e) < 0)
		text = NULL;
	free(path);
	free(rest);
	return text;
}

/* ---- resolving the hosts ---- */

static void add_host(struct drv *d, const char *name, const char *root,
		     const char *deployment_root, const char *ssh,
		     const char *user, const char *host, int port)
{
	struct fhost *h;

	d->hosts = xrealloc(d->hosts, (d->nr_hosts + 1) * sizeof(*d->hosts));
	h = &d->hosts[d->nr_hosts];
	memset(h, 0, sizeof(*h));
	h->d = d;
	h->index = d->nr_hosts++;
	h->name = xstrdup(name);
	h->root = xstrdup(root);
	h->deployment_root = xstrdup(deployment_root);
	h->ssh = xstrdup_or_null(ssh);
	h->ssh_user = xstrdup_or_null(user);
	h->ssh_host = xstrdup_or_null(host);
	h->ssh_port = port;
	h->run = (struct transport_run)TRANSPORT_RUN_INIT;
	h->traffic_fd = -1;
	h->r = (struct agent_result)AGENT_RESULT_INIT;
	if (strlen(name) > d->width)
		d->width = strlen(name);
}

/* Where a host's root and agent state are, from its kind. */
static int host_paths(struct drv *d, const char *name, const char *root,
		      const char *dep_root, bool ssh, char **hroot, char **hdr,
		      struct sw_err *e)
{
	*hroot = *hdr = NULL;
	if (ssh) {
		if (root && root[0] != '/')
			return err_set(e, ERR_USAGE,
				       "host %s: root '%s' must be an absolute "
				       "path on the remote host",
				       name, root);
		*hroot = xstrdup(root ? root : "/");
		*hdr = dep_root ? xstrdup(dep_root)
				: fs_join(*hroot, AGENT_DEPLOYMENT_ROOT);
	} else if (root) {
		if (!fs_is_dir(root))
			return err_set(e, ERR_USAGE,
				       "host %s: root '%s' is not a directory",
				       name, root);
		*hroot = fs_abspath(root);
		*hdr = dep_root ? fs_abspath(dep_root)
				: fs_join(*hroot, AGENT_DEPLOYMENT_ROOT);
	} else {
		char *hd = xasprintf("%s/hosts/%s", d->st->dir, name);

		*hroot = fs_join(hd, "root");
		*hdr = dep_root ? fs_abspath(dep_root)
				: fs_join(hd, "deployment-root");
		free(hd); /* made once the host is locked (resolve) */
	}
	return 0;
}

static int resolve_hosts(struct drv *d, struct sw_err *e)
{
	const struct deploy_opts *o = d->o;
	char *hroot = NULL, *hdr = NULL;
	int ret = -1;

	if (d->g) {
		for (size_t i = 0; i < d->g->nr_hosts; i++) {
			const struct group_host *gh = &d->g->hosts[i];

			if (d->only && strvec_find(d->only, gh->name) < 0)
				continue;
			if (host_paths(d, gh->name, gh->root, NULL, gh->ssh,
				       &hroot, &hdr, e) < 0)
				goto out;
			add_host(d, gh->name, hroot, hdr, gh->ssh, gh->ssh_user,
				 gh->ssh_host, gh->ssh_port);
			d->hosts[d->nr_hosts - 1].rehearsal =
				!gh->root && !gh->ssh;
			d->hosts[d->nr_hosts - 1].green = gh->replacement;
			d->hosts[d->nr_hosts - 1].make_root =
				!gh->root && !gh->ssh;
			free(hroot);
			free(hdr);
			hroot = hdr = NULL;
		}
	} else {
		char *user = NULL, *host = NULL;
		const char *name;
		int port = 0;

		if (o->ssh &&
		    transport_parse_ssh(o->ssh, &user, &host, &port, e) < 0)
			goto out;
		name = o->host ? o->host : o->ssh ? host : "local";
		if (!agent_id_ok(name)) {
			err_set(e, ERR_USAGE,
				"invalid host name '%s': use letters, digits, "
				"'.', '_' and '-'",
				name);
		} else if (host_paths(d, name, o->root, o->deployment_root,
				      o->ssh, &hroot, &hdr, e) == 0) {
			add_host(d, name, hroot, hdr, o->ssh, user, host, port);
			d->hosts[d->nr_hosts - 1].rehearsal =
				!o->root && !o->ssh && !o->deployment_root;
			d->hosts[d->nr_hosts - 1].make_root =
				!o->root && !o->ssh;
			ret = 0;
		}
		free(user);
		free(host);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	free(hroot);
	free(hdr);
	return ret;
}

/*
 * Which hosts run which part of the lifecycle, and when. In place: all
 * of it, under the configuration. Blue/green: the replacement fleet
 * installs and takes traffic under the configuration, then the original
 * fleet gives it up all at once (and stops, to be terminated); its
 * rollback gives traffic back to the original fleet, then takes it from
 * the replacement fleet (reference 2.1).
 */
static void assign_parts(struct drv *d)
{
	d->bg = d->g && d->g->blue_green;
	/* only the one rollback() makes: one by hand (no bundle), or of a
	 * bundle named with --rollback-of, deploys a revision as usual */
	d->bg_rollback = d->bg && d->traffic_rollback;
	d->nr_phase1 = 0;
	for (size_t i = 0; i < d->nr_hosts; i++) {
		struct fhost *h = &d->hosts[i];

		if (!d->bg) {
			h->phase = 1;
			h->part = AGENT_PART_ALL;
		} else if (!d->bg_rollback) {
			h->phase = h->green ? 1 : 2;
			h->part = h->green && d->g->ready_stop
					  ? AGENT_PART_INSTALL
				  : h->green	    ? AGENT_PART_REPLACEMENT
				  : d->g->terminate ? AGENT_PART_BLOCK_STOP
						    : AGENT_PART_BLOCK;
		} else {
			h->phase = h->green ? 2 : 1;
			h->part =
				h->green ? AGENT_PART_BLOCK : AGENT_PART_ALLOW;
		}
		d->nr_phase1 += h->phase == 1;
	}
}

/* --isolation: sandbox, dir, or auto (sandbox where it can be made). */
static int choose_isolation(struct drv *d, struct sw_err *e)
{
	struct sw_err pe = SW_ERR_INIT;
	bool stopped = false;

	if (d->o->isolation == DEPLOY_ISOLATION_DIR)
		return 0;
	/* Running hosts need no probe: their namespaces exist. */
	for (size_t i = 0; i < d->nr_hosts && !stopped; i++) {
		struct host_box b = HOST_BOX_INIT;

		if (!d->hosts[i].rehearsal)
			continue;
		host_box_get(d->st->dir, d->hosts[i].name, &b);
		stopped = !b.pid;
		host_box_release(&b);
	}
	if (!stopped || hostbox_probe(&pe) == 0) {
		d->sandbox = true;
		return 0;
	}
	if (d->o->isolation == DEPLOY_ISOLATION_AUTO) {
		fprintf(stderr, "note: no sandbox (%s); isolation is dir\n",
			pe.msg);
		return 0;
	}
	return err_set(e, ERR_SYSTEM, "--isolation sandbox: %s", pe.msg);
}

/* Unhealthy hosts first, then hosts never deployed, then the others. */
static int by_order(const void *a, const void *b)
{
	const struct fhost *x = a, *y = b;

	if (x->phase != y->phase)
		return x->phase - y->phase;
	if (x->order != y->order)
		return x->order - y->order;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void order_hosts(struct drv *d)
{
	for (size_t i = 0; i < d->nr_hosts; i++) {
		char *h = host_health(d, d->hosts[i].name);

		d->hosts[i].order = !h				  ? 1
				    : !strncmp(h, "Unhealthy", 9) ? 0
								  : 2;
		free(h);
	}
	qsort(d->hosts, d->nr_hosts, sizeof(*d->hosts), by_order);
}

/*
 * What a remote host receives as its bundle: the file itself, or a zip
 * of a directory bundle made once in the deployment's state directory.
 */
static int prepare_stream(struct drv *d, struct sw_err *e)
{
	struct bs_artifact a = { 0 };
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct artifact_digest dg;
	int ret = -1;

	if (d->kind != BUNDLE_DIRECTORY) {
		d->stream = xstrdup(d->bundle);
		return 0;
	}
	strvec_push(&a.files, "**/*");
	a.enable_symlinks = true;
	d->stream = fs_join(d->dep_dir, "bundle.zip");
	if (artifacts_collect(&a, d->bundle, &l, e) < 0 ||
	    artifacts_write_zip(&l, d->stream, &dg, e) < 0) {
		err_prefix(e, "cannot pack bundle %s", d->bundle);
		goto out;
	}
	ret = 0;
out:
	artifact_list_release(&l);
	strvec_release(&a.files);
	return ret;
}

/*
 * The report's space, before any host runs: a deployment that starts
 * ends with a report even on a full disk. Without that space it does not
 * start and leaves nothing behind.
 */
static int reserve_report(struct drv *d, struct sw_err *e)
{
	struct sw_err re = SW_ERR_INIT;
	char *rp = fs_join(d->dep_dir, "report.json");
	int ret = 0, err;

	d->report_rv = (struct fs_reserve)FS_RESERVE_INIT;
	/* a host's entry is a few KiB at most (a failed event's log tail) */
	if (fs_reserve(&d->report_rv, rp, (64 << 10) + d->nr_hosts * (8 << 10),
		       &re) == 0) {
		d->reserved = true;
	} else {
		err = errno;
		close(d->log_fd);
		d->log_fd = -1;
		fs_remove_tree(d->dep_dir, &re);
		if (err == ENOSPC || err == EDQUOT)
			ret = err_set(e, ERR_SYSTEM,
				      "no space left on device in %s: the "
				      "deployment cannot start ('slipway "
				      "prune' reclaims old deployments)",
				      d->st->dir);
		else
			ret = err_set(e, ERR_SYSTEM, "%s", re.msg);
	}
	free(rp);
	return ret;
}

/* ---- locks: one deployment at a time per group and per host ---- */

struct lock_want {
	char *path;
	char *what; /* "deployment group 'g'", "host 'h'" */
};

static int by_lock_path(const void *a, const void *b)
{
	return strcmp(((const struct lock_want *)a)->path,
		      ((const struct lock_want *)b)->path);
}

void deploy_locks_free(struct deploy_locks *l)
{
	if (!l)
		return;
	for (size_t i = l->nr; i-- > 0;)
		lock_release(&l->v[i]);
	free(l->v);
	free(l);
}

/* path with its longest existing part resolved (the rest may not exist
 * yet): one spelling per place, whatever links lead there. */
static char *canonical(const char *path)
{
	char *abs = fs_abspath(path), *head = xstrdup(abs), *real, *out;

	while (!(real = realpath(*head ? head : "/", NULL))) {
		char *cut = strrchr(head, '/');

		if (!cut) {
			free(head);
			return abs;
		}
		*cut = '\0';
	}
	out = xasprintf("%s%s", strcmp(real, "/") ? real : "",
			abs + strlen(head));
	free(real);
	free(head);
	free(abs);
	return out;
}

/*
 * A host's lock file, on this machine (lock_dir): by its deployment root
 * (the agent's state: what two deployments must not share), and for a
 * host reached over SSH by user@host:port too.
 */
static char *host_lock_path(const struct fhost *h, const char *dir,
			    struct sw_err *e)
{
	char hex[HASH_SHA256_HEX];
	char *key, *path = NULL;

	if (!h->ssh)
		return deploy_local_host_lock(dir, h->deployment_root, e);
	key = xasprintf("ssh %s@%s:%d %s", h->ssh_user ? h->ssh_user : "",
			h->ssh_host, h->ssh_port ? h->ssh_port : 22,
			h->deployment_root);
	if (hash_buf(HASH_SHA256, key, strlen(key), hex, e) == 0)
		path = xasprintf("%s/host-%.32s.lock", dir, hex);
	free(key);
	return path;
}

char *deploy_local_host_lock(const char *dir, const char *deployment_root,
			     struct sw_err *e)
{
	char hex[HASH_SHA256_HEX];
	char *c = canonical(deployment_root), *key = xasprintf("local %s", c);
	char *path = NULL;

	if (hash_buf(HASH_SHA256, key, strlen(key), hex, e) == 0)
		path = xasprintf("%s/host-%.32s.lock", dir, hex);
	free(key);
	free(c);
	return path;
}

/*
 * The group's lock (when the group is named), then each host's, in the
 * order of their paths; all or none. A held one: ERR_FAILED naming its
 * deployment.
 */
static int take_locks(struct drv *d, const char *note, struct sw_err *e)
{
	struct lock_want *w = xcalloc(d->nr_hosts + 1, sizeof(*w));
	struct deploy_locks *l = xcalloc(1, sizeof(*l));
	struct strvec said = STRVEC_INIT;
	char *locks = fs_join(d->st->dir, "locks"), *hnote = NULL;
	char *machine = NULL;
	size_t nw = 0, first_host;
	int ret = -1;

	if (d->nr_hosts && !(machine = lock_dir(e)))
		goto out;
	if (d->g || d->o->group_name || d->o->group_id) {
		if (fs_mkdir_p(locks, 0755, e) < 0)
			goto out;
		w[nw].path = xasprintf("%s/group-%s.lock", locks, d->group_id);
		w[nw++].what =
			xasprintf("deployment group '%s'", d->group_name);
	}
	first_host = nw;
	for (size_t i = 0; i < d->nr_hosts; i++) {
		if (!(w[nw].path = host_lock_path(&d->hosts[i], machine, e)))
			goto out;
		w[nw++].what = xasprintf("host '%s'", d->hosts[i].name);
	}
	qsort(w + first_host, nw - first_host, sizeof(*w), by_lock_path);
	hnote = note ? xasprintf("group %s, %s", d->group_name, note)
		     : xasprintf("group %s", d->group_name);
	l->v = xcalloc(nw, sizeof(*l->v));
	for (size_t i = 0; i < nw; i++) {
		struct lock_holder h = LOCK_HOLDER_INIT;
		int r;

		/* one host named twice is locked once */
		if (i > first_host && !strcmp(w[i].path, w[i - 1].path))
			continue;
		l->v[l->nr] = (struct lock)LOCK_INIT;
		r = lock_try(&l->v[l->nr], w[i].path, d->id,
			     i < first_host ? note : hnote, &h, e);
		if (r < 0) {
			err_prefix(e, "%s", w[i].what);
			goto out;
		}
		if (r == LOCK_BUSY) {
			char *who = lock_holder_describe(&h, "deployment");

			err_set(e, ERR_FAILED, "%s is already deploying %s%s",
				w[i].what, who,
				h.gone ? ": a process it started still holds "
					 "the lock"
				       : "");
			free(who);
			lock_holder_release(&h);
			goto out;
		}
		l->nr++;
		if (h.id && strvec_find(&said, h.id) < 0) {
			char *who = lock_holder_describe(&h, "deployment");

			fprintf(stderr, "note: taking over the lock of %s\n",
				who);
			strvec_push(&said, h.id);
			free(who);
		}
		lock_holder_release(&h);
	}
	d->locks = l;
	d->own_locks = true;
	l = NULL;
	ret = 0;
	/* what killed deployments left, for hosts no one deployed since */
	if (machine)
		lock_sweep(machine, "host-", LOCK_SWEEP_AGE_S);
out:
	deploy_locks_free(l);
	for (size_t i = 0; i < nw; i++) {
		free(w[i].path);
		free(w[i].what);
	}
	free(w);
	free(hnote);
	free(locks);
	free(machine);
	strvec_release(&said);
	return ret;
}

/* The group's names and its defaults, from the file or the options. */
static void resolve_group(struct drv *d)
{
	const struct deploy_opts *o = d->o;

	if (d->g) {
		d->application = xstrdup(o->application ? o->application
							: d->g->application);
		d->group_name = xstrdup(d->g->name);
		d->group_id = xstrdup(d->g->id);
		d->feb = o->feb != APPSPEC_FEB_UNSET ? o->feb : d->g->feb;
		d->ignore_stop = o->ignore_application_stop_failures ||
				 d->g->ignore_application_stop_failures;
		d->traffic = o->traffic || d->g->load_balancer;
	} else {
		d->application = xstrdup(o->application ? o->application
					 : o->bundle	? o->bundle
							: "rollback");
		d->group_name = xstrdup(o->group_name ? o->group_name
						      : DEFAULT_GROUP_NAME);
		if (o->group_id)
			d->group_id = xstrdup(o->group_id);
		else if (o->group_name)
			d->group_id = group_derive_id(o->group_name);
		else
			d->group_id = xstrdup(DEFAULT_GROUP_ID);
		d->feb = o->feb;
		d->ignore_stop = o->ignore_application_stop_failures;
		d->traffic = o->traffic;
	}
}

/*
 * An archive bundle for two local hosts or more is unpacked once, into
 * <dep_dir>/bundle/, with the bounds each host applies; each local
 * host's agent then links its files into the host's archive instead of
 * unpacking the archive again (2,000 files: 2,000 inodes, not 2,000 per
 * host). A bundle that does not unpack here is left to each host, which
 * refuses it with its own message.
 */
static void prepare_unpacked(struct drv *d)
{
	struct bundle_opts bo = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	size_t local = 0;
	char *dir;

	if (!d->bundle || d->kind == BUNDLE_DIRECTORY ||
	    d->kind == BUNDLE_UNKNOWN)
		return;
	for (size_t i = 0; i < d->nr_hosts; i++)
		local += !d->hosts[i].ssh;
	if (local < 2)
		return;
	bo.max_bytes = d->o->max_bundle_bytes;
	bo.max_ratio = d->o->max_bundle_ratio;
	dir = fs_join(d->dep_dir, "bundle");
	if (bundle_unpack(d->bundle, dir, &bo, &info, &e) == 0)
		d->unpacked = dir;
	else
		free(dir);
	bundle_info_release(&info);
}

/* --strict: the warning about an unknown key as an error (ERR_SPEC), which
 * ignores nothing. */
static int strict_error(struct sw_err *e, const char *warning)
{
	const char *ign = strstr(warning, " ignored");

	if (!ign)
		return err_set(e, ERR_SPEC, "%s (--strict)", warning);
	return err_set(e, ERR_SPEC, "%.*s%s (--strict)", (int)(ign - warning),
		       warning, ign + 8);
}

/*
 * The whole revision checked before any host is touched: a bundle a host
 * would refuse, an invalid appspec, a hook script or files source missing
 * from the bundle fail the deployment (INVALID_REVISION, exit 3) with
 * every host skipped.
 */
static int check_revision(struct drv *d, struct sw_err *e)
{
	struct revision_check rc = REVISION_CHECK_INIT;
	struct bundle_opts bo = BUNDLE_OPTS_INIT;
	char *scratch = fs_join(d->st->dir, "tmp");
	int ret;

	if (d->o->max_bundle_bytes)
		bo.max_bytes = d->o->max_bundle_bytes;
	if (d->o->max_bundle_ratio)
		bo.max_ratio = d->o->max_bundle_ratio;
	ret = revision_check(d->bundle, d->o->bundle, &bo, scratch, &rc, e);
	if (!ret && d->o->strict && rc.spec.unknown_keys.nr)
		ret = strict_error(e, rc.spec.unknown_keys.v[0]);
	revision_check_release(&rc);
	free(scratch);
	return ret;
}

/*
 * Blue/green: the replacement fleet gets traffic only from its own
 * AllowTraffic. A new HAProxy has its servers disabled already; one that
 * ran before may have them in rotation (an earlier rehearsal): drained
 * and taken out first.
 */
static int take_green_out(struct drv *d, struct sw_err *e)
{
	if (!d->bg || d->bg_rollback)
		return 0;
	for (size_t i = 0; i < d->nr_hosts; i++) {
		struct fhost *h = &d->hosts[i];
		struct lb_server srv;
		struct buf note = BUF_INIT;
		int rc;

		if (!h->green)
			continue;
		if (lb_server_get(&d->lb, h->name, &srv, e) < 0)
			return -1;
		if (!strncmp(srv.status, "MAINT", 5))
			continue;
		rc = lb_block(&d->lb, h->name, &note, e);
		if (note.len)
			out_line(d, h->name, !d->o->quiet, "[slipway] %s",
				 note.ptr);
		buf_release(&note);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * Behind a load balancer, a sandboxed host with a network of its own and
 * no target of its own is reached at its address and the balancer's
 * port: its sandbox is started now (as its deployment would start it),
 * before the balancer is configured.
 */
static int own_targets(struct drv *d, struct sw_err *e)
{
	for (size_t i = 0; i < d->nr_hosts; i++) {
		struct fhost *h = &d->hosts[i];
		struct group_host *gh = &d->g->hosts[h->index];
		struct host_box b = HOST_BOX_INIT;
		bool started = false;

		if (!h->rehearsal || !gh->target_default)
			continue;
		if (!d->o->host_network)
			host_box_get(d->st->dir, h->name, &b);
		else if (host_box_ensure(d->st->dir, h->name, true, &b,
					 &started, e) < 0)
			return -1;
		if (started)
			out_line(
				d, h->name, !d->o->quiet,
				"[slipway] host started: a sandbox, pid %d%s%s",
				(int)b.pid, b.address ? ", address " : "",
				b.address ? b.address : "");
		if (b.pid && b.address) {
			free(gh->target);
			gh->target =
				xasprintf("%s:%u", b.address, d->g->lb.port);
			out_line(d, h->name, d->o->verbose,
				 "[slipway] load balancer target %s (its own "
				 "address)",
				 gh->target);
		}
		host_box_release(&b);
	}
	return 0;
}

static int resolve(struct drv *d, struct sw_err *e)
{
	const struct deploy_opts *o = d->o;
	const char *cname;
	bool any_ssh = false;

	if (d->bundle) {
		struct stat sb;
		struct sw_err ignored = SW_ERR_INIT;

		if (stat(d->bundle, &sb) < 0)
			return err_set(e, ERR_USAGE,
				       "cannot read bundle '%s': %s", o->bundle,
				       strerror(errno));
		if (bundle_detect(d->bundle, &d->kind, &ignored) < 0)
			d->kind = BUNDLE_UNKNOWN;
	}
	if (!d->id)
		d->id = o->deployment_id ? xstrdup(o->deployment_id)
					 : agent_new_deployment_id();
	if (!agent_id_ok(d->id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment id '%s': use letters, "
			       "digits, '.', '_' and '-'",
			       d->id);
	resolve_group(d);
	if (!agent_id_ok(d->group_id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment group id '%s': use "
			       "letters, digits, '.', '_' and '-'",
			       d->group_id);
	cname = o->config ? o->config : d->g ? d->g->config : DEFAULT_CONFIG;
	if (d->g) {
		if (group_config(d->g, cname, &d->config, e) < 0)
			return -1;
	} else if (dconfig_builtin(cname, &d->config) < 0) {
		return err_set(e, ERR_USAGE,
			       "unknown deployment config '%s' (without "
			       "--group: CodeDeployDefault.OneAtATime, "
			       "HalfAtATime or AllAtOnce)",
			       cname);
	}
	if (resolve_hosts(d, e) < 0)
		return -1;
	assign_parts(d);
	if (!d->locks && take_locks(d, NULL, e) < 0)
		return -1;
	if (!d->bundle && !d->rollback_source) {
		/* --rollback by hand: the group's last good revision, read
		 * under the locks and before anything is made. */
		d->rollback_source = read_state(d, "last-successful");
		if (!d->rollback_source)
			return err_set(e, ERR_FAILED,
				       "nothing to roll back to: group %s has "
				       "no successful deployment",
				       d->group_name);
	}
	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].make_root &&
		    fs_mkdir_p(d->hosts[i].root, 0755, e) < 0)
			return -1;
	if (choose_isolation(d, e) < 0)
		return -1;
	for (size_t i = 0; i < d->nr_hosts; i++)
		any_ssh |= d->hosts[i].ssh != NULL;
	if (any_ssh) {
		d->control_dir = fs_join(d->st->dir, "ssh");
		if (fs_mkdir_p(d->control_dir, 0700, e) < 0)
			return -1;
	}
	d->dep_dir = xasprintf("%s/deployments/%s", d->st->dir, d->id);
	if (fs_exists(d->dep_dir))
		return err_set(e, ERR_USAGE,
			       "deployment %s already exists (%s)", d->id,
			       d->dep_dir);
	if (fs_mkdir_p(d->dep_dir, 0755, e) < 0)
		return -1;
	{
		char *log = fs_join(d->dep_dir, "deployment.log");

		/* locked while it runs: `slipway prune` leaves it alone */
		d->log_fd = fs_create_locked(log, 0644, e);
		free(log);
		if (d->log_fd < 0) {
			struct sw_err ignored = SW_ERR_INIT;

			/* no log, no report: nothing of it stays */
			fs_remove_tree(d->dep_dir, &ignored);
			return -1;
		}
	}
	if (reserve_report(d, e) < 0)
		return -1;
	if (d->g && d->g->lb.haproxy && d->sandbox && own_targets(d, e) < 0)
		return -1;
	if (d->g && d->g->lb.haproxy) {
		struct buf note = BUF_INIT;
		int rc = lb_open(&d->lb, d->st->dir, d->g, true, &note, e);

		if (note.len)
			out_line(d, "slipway", !d->o->quiet, "%s", note.ptr);
		buf_release(&note);
		if (rc < 0)
			return -1;
		d->have_lb = true;
		if (take_green_out(d, e) < 0)
			return -1;
	}
	if (any_ssh && d->bundle && prepare_stream(d, e) < 0)
		return -1;
	if (d->stream) {
		struct stat sst;

		d->stream_size =
			stat(d->stream, &sst) == 0 ? (long long)sst.st_size : 0;
	}
	prepare_unpacked(d);
	return 0;
}

/* ---- running the hosts ---- */

static void host_done(struct fhost *h, enum fh_state st)
{
	struct drv *d = h->d;

	h->st = st;
	h->end_ms = proc_wall_ms();
	if (st == FH_FAILED && h->r.exit == ERR_SPEC && d->bundle)
		d->invalid_revision = true;
	d->gate_open = true;
	live_draw(d);
}

/*
 * A rehearsal host's sandbox: started under sandbox isolation, used when
 * it is running whatever the isolation. 0 and *box (0: none), or -1.
 */
static int host_sandbox(struct drv *d, struct fhost *h, pid_t *box,
			unsigned long long *mntns, struct sw_err *e)
{
	struct host_box b = HOST_BOX_INIT;
	bool started = false;

	*box = 0;
	if (!h->rehearsal)
		return 0;
	if (!d->sandbox)
		host_box_get(d->st->dir, h->name, &b);
	else if (host_box_ensure(d->st->dir, h->name, d->o->host_network, &b,
				 &started, e) < 0)
		return -1;
	*box = h->box = b.pid;
	*mntns = b.mntns;
	free(h->box_address);
	h->box_address = b.address ? xstrdup(b.address) : NULL;
	if (started)
		out_line(d, h->name, !d->o->quiet,
			 "[slipway] host started: a sandbox, pid %d%s%s",
			 (int)b.pid, b.address ? ", address " : "",
			 b.address ? b.address : "");
	else if (b.pid && d->o->host_network && !b.network)
		out_line(d, h->name, !d->o->quiet,
			 "[slipway] host running without a network of its "
			 "own: `slipway host stop %s` to start it afresh",
			 h->name);
	host_box_release(&b);
	return 0;
}

/* BlockTraffic and AllowTraffic behind an HAProxy: run in the host's
 * agent process (a fork of ours), h and its drv are that process's copy. */
static int traffic(enum appspec_event ev, struct buf *note, struct sw_err *e,
		   void *data)
{
	struct fhost *h = data;

	if (ev == APPSPEC_BLOCK_TRAFFIC)
		return lb_block(&h->d->lb, h->name, note, e);
	return lb_allow(&h->d->lb, h->name, note, e);
}

static void merge_first(struct fhost *h);

static void host_start(struct drv *d, struct fhost *h)
{
	struct transport_host th = {
		.name = h->name,
		.root = h->root,
		.deployment_root = h->deployment_root,
		.ssh = h->ssh,
		.ssh_user = h->ssh_user,
		.ssh_host = h->ssh_host,
		.ssh_port = h->ssh_port,
		.control_dir = d->control_dir,
	};
	char *onhost = NULL;
	struct agent_request rq = {
		.bundle = d->bundle,
		.stream = d->stream,
		.deployment_id = d->id,
		.application_name = d->application,
		.deployment_group_name = d->group_name,
		.deployment_group_id = d->group_id,
		.feb = d->feb,
		.ignore_application_stop_failures = d->ignore_stop,
		.traffic = d->traffic,
		.events = d->o->events,
		.max_revisions = d->o->max_revisions,
		.max_bundle_bytes = d->o->max_bundle_bytes,
		.max_bundle_ratio = d->o->max_bundle_ratio,
		.keep_deployment = d->keep_good,
		.unpacked = h->ssh ? NULL : d->unpacked,
		.traffic_fn = d->have_lb && !h->ssh ? traffic : NULL,
		.traffic_remote = d->have_lb && h->ssh,
		/* the most BlockTraffic (the deregistration delay) or
		 * AllowTraffic (health.wait) takes, and the answer's way */
		.traffic_wait_ms = d->have_lb ? d->lb.dereg_ms + d->lb.wait_ms +
							TRAFFIC_MARGIN_MS
					      : 0,
		.traffic_data = h,
		.traffic_fd = d->have_lb ? &d->lb.dirfd : NULL,
		.part = h->part,
		.stop_after_ms = d->g ? d->g->original_wait_ms : 0,
		.bg_rollback = d->bg_rollback,
	};
	struct sw_err e = SW_ERR_INIT;

	if (!d->bundle || h->have_first) {
		/* A rollback: the host's own copy of the good revision; the
		 * rest of a deployment: its own. */
		onhost = xasprintf("%s/%s/%s/deployment-archive",
				   h->deployment_root, d->group_id,
				   h->have_first ? d->id : d->rollback_source);
		rq.bundle = onhost;
		rq.stream = NULL;
		rq.unpacked = NULL;
		rq.resume = h->have_first;
	}
	free(h->traffic_why);
	h->traffic_why = NULL;
	if (h->have_first)
		h->first = h->r; /* its install's; agent_proto_reader_init
				    starts a new result */
	else
		h->start_ms = proc_wall_ms();
	h->st = FH_IN_FLIGHT;
	agent_proto_reader_init(&h->rd, &h->r);
	h->rd.on_event = on_event;
	h->rd.on_line = on_line;
	h->rd.data = h;
	if (host_sandbox(d, h, &th.box, &th.box_mntns, &e) < 0 ||
	    transport_for(&th)->start(&th, &rq, &h->run, &e) < 0) {
		h->message = xstrdup(e.msg);
		h->agent_issue = true;
		h->r.status = AGENT_FAILED;
		h->r.exit = ERR_FAILED;
		out_line(d, h->name, true, "[slipway] %s", e.msg);
		if (h->have_first)
			merge_first(h);
		host_done(h, FH_FAILED);
	} else {
		live_draw(d);
	}
	free(onhost);
}

/* A replacement host's Allow events after its install: one result, the
 * install's events, then theirs. */
static void merge_first(struct fhost *h)
{
	struct agent_result m = h->first, *r = &h->r;

	for (size_t i = 0; i < r->nr_order; i++) {
		enum appspec_event ev = r->order[i];
		struct agent_event *a = &m.events[ev];
		bool seen = false;

		free(a->error_code);
		free(a->script_name);
		free(a->message);
		free(a->log_tail);
		*a = r->events[ev];
		memset(&r->events[ev], 0, sizeof(r->events[ev]));
		for (size_t j = 0; j < m.nr_order; j++)
			seen |= m.order[j] == ev;
		if (!seen && m.nr_order < APPSPEC_NEVENTS)
			m.order[m.nr_order++] = ev;
	}
	m.status = r->status;
	m.exit = r->exit;
	free(m.message);
	m.message = r->message;
	r->message = NULL;
	if (r->end_ms)
		m.end_ms = r->end_ms;
	agent_result_release(r);
	*r = m;
	h->first = (struct agent_result)AGENT_RESULT_INIT;
	h->have_first = false;
}

/* The host's agent stream ended: how did the host end? */
static void host_finish(struct fhost *h)
{
	struct drv *d = h->d;
	char *why = NULL;
	bool said = false;
	int status;

	agent_proto_finish(&h->rd);
	close(h->run.out_fd);
	h->run.out_fd = -1;
	status = proc_wait(h->run.pid);
	/* its answer came, or the agent is gone: not wanted now */
	traffic_reap(d, h, true);
	/* Always: it closes the transport's error channel. */
	why = transport_explain(&h->run, h->name, status);
	if (!h->rd.got_result) {
		h->agent_issue = true;
		h->r.status = AGENT_FAILED;
		h->r.exit = ERR_FAILED;
		if (h->traffic_why) { /* said already */
			h->message = h->traffic_why;
			h->traffic_why = NULL;
			said = true;
		} else if (why) {
			h->message = why;
			why = NULL;
		} else if (WIFSIGNALED(status))
			h->message =
				xasprintf("the agent was killed by signal %d",
					  WTERMSIG(status));
		else
			h->message = xasprintf(
				"the agent ended (exit status %d) without a "
				"result",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		if (!said)
			out_line(d, h->name, true, "[slipway] %s", h->message);
	}
	free(why);
	agent_proto_reader_release(&h->rd);
	if (h->have_first)
		merge_first(h);
	host_done(h, h->r.status == AGENT_SUCCEEDED ? FH_SUCCEEDED : FH_FAILED);
}

static void counts(const struct drv *d, struct dcounts *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < d->nr_hosts; i++)
		switch (d->hosts[i].phase == 1 ? d->hosts[i].st
					       : FH_SKIPPED + 1) {
		case FH_PENDING:
			k->pending++;
			break;
		case FH_IN_FLIGHT:
			k->in_flight++;
			break;
		case FH_SUCCEEDED:
			k->succeeded++;
			break;
		case FH_FAILED:
			k->failed++;
			break;
		case FH_SKIPPED:
			k->skipped++;
			break;
		default: /* phase 2: counted apart */
			break;
		}
}

/* SLIPWAY_HEALTH_TIMEOUT (seconds), else HEALTH_TIMEOUT_MS. */
static int64_t health_timeout_ms(void)
{
	const char *v = getenv("SLIPWAY_HEALTH_TIMEOUT");
	char *end;
	long s;

	if (!v || !*v)
		return HEALTH_TIMEOUT_MS;
	s = strtol(v, &end, 10);
	return *end || s <= 0 ? HEALTH_TIMEOUT_MS : (int64_t)s * 1000;
}

/*
 * Show the health command's output until it ends, and return its wait
 * status. Bounded: past the deadline its process group is killed; once
 * it has ended, output still held open by something it left behind is
 * read for one more second only.
 */
static int read_health(struct drv *d, int fd, pid_t pid, int64_t deadline)
{
	struct buf part = BUF_INIT;
	int64_t ended_at = 0;
	int status = -1;
	bool eof = false;
	char chunk[4096];

	for (;;) {
		struct pollfd pfd = { eof ? -1 : fd, POLLIN, 0 };
		int64_t now = proc_now_ms();
		ssize_t n;

		if (!ended_at && proc_reap(pid, &status))
			ended_at = now;
		if (ended_at && (eof || now - ended_at > 1000))
			break;
		if (!ended_at && now > deadline) {
			out_line(d, "slipway", true,
				 "health check: no end after %lld s: killed",
				 (long long)(health_timeout_ms() / 1000));
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			status = proc_wait(pid);
			ended_at = now;
			break;
		}
		if (poll(&pfd, 1, 100) <= 0 || eof)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			eof = true;
			continue;
		}
		buf_add(&part, chunk, (size_t)n);
		for (char *nl; (nl = memchr(part.ptr, '\n', part.len));
		     buf_consume(&part, (size_t)(nl - part.ptr) + 1))
			out_line(d, "health", !d->o->quiet, "%.*s",
				 (int)(nl - part.ptr), part.ptr);
	}
	if (part.len)
		out_line(d, "health", !d->o->quiet, "%.*s", (int)part.len,
			 part.ptr);
	buf_release(&part);
	return status;
}

/* The health command of a canary or linear configuration: 0 when it
 * passed. Runs in the group file's directory with the deployment's
 * variables and the names of the hosts that succeeded so far. */
static bool run_health(struct drv *d)
{
	struct proc_opts po = PROC_OPTS_INIT;
	struct strvec env = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *argv[] = { "/bin/sh", "-c", d->config.health, NULL };
	extern char **environ;
	struct buf names = BUF_INIT;
	int64_t deadline = proc_now_ms() + health_timeout_ms();
	int p[2] = { -1, -1 }, status = -1;
	bool ok = false;
	pid_t pid;

	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_SUCCEEDED)
			buf_addf(&names, "%s%s", names.len ? " " : "",
				 d->hosts[i].name);
	strvec_pushv(&env, (const char *const *)environ);
	strvec_pushf(&env, "DEPLOYMENT_ID=%s", d->id);
	strvec_pushf(&env, "APPLICATION_NAME=%s", d->application);
	strvec_pushf(&env, "DEPLOYMENT_GROUP_NAME=%s", d->group_name);
	strvec_pushf(&env, "DEPLOYMENT_GROUP_ID=%s", d->group_id);
	strvec_pushf(&env, "SLIPWAY_DEPLOYED_HOSTS=%s", buf_cstr(&names));
	out_line(d, "slipway", !d->o->quiet, "health check: %s (hosts: %s)",
		 d->config.health, buf_cstr(&names));
	if (pipe2(p, O_CLOEXEC) < 0)
		goto out;
	po.argv = argv;
	po.env = (const char *const *)env.v;
	po.cwd = d->g ? d->g->dir : NULL;
	po.out_fd = p[1];
	po.err_fd = -2;
	if (proc_spawn(&po, &pid, &e) < 0) {
		out_line(d, "slipway", true, "health check: %s", e.msg);
		goto out;
	}
	close(p[1]);
	p[1] = -1;
	status = read_health(d, p[0], pid, deadline);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	out_line(d, "slipway", true, "health check %s",
		 ok ? "passed" : "FAILED");
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	buf_release(&names);
	strvec_release(&env);
	return ok;
}

/* Wait for host output, a signal, or until (0: no limit). */
static void wait_some(struct drv *d, int64_t until_ms)
{
	struct pollfd *p = xcalloc(2 * d->nr_hosts + 1, sizeof(*p));
	struct fhost **who = xcalloc(2 * d->nr_hosts + 1, sizeof(*who));
	bool *trf = xcalloc(2 * d->nr_hosts + 1, sizeof(*trf));
	size_t n = 0;
	int timeout = -1;
	char chunk[65536];

	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_IN_FLIGHT &&
		    d->hosts[i].run.out_fd >= 0) {
			p[n].fd = d->hosts[i].run.out_fd;
			p[n].events = POLLIN;
			who[n++] = &d->hosts[i];
		}
	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].traffic_fd >= 0) {
			/* what a traffic event's process says, or its end */
			p[n].fd = d->hosts[i].traffic_fd;
			p[n].events = POLLIN;
			trf[n] = true;
			who[n++] = &d->hosts[i];
		}
	if (proc_sigfd() >= 0) {
		p[n].fd = proc_sigfd();
		p[n].events = POLLIN;
		who[n++] = NULL;
	}
	if (until_ms) {
		int64_t left = until_ms - proc_now_ms();

		timeout = left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
	}
	if (d->live && d->redraw && (timeout < 0 || timeout > 100))
		timeout = 100;
	for (size_t i = 0; d->live && i < d->nr_hosts; i++)
		if (uploading(d, &d->hosts[i])) {
			/* the upload's progress: a redraw four times a second */
			if (timeout < 0 || timeout > 250)
				timeout = 250;
			live_draw(d);
			break;
		}
	if (poll(p, n, timeout) > 0) {
		for (size_t i = 0; i < n; i++) {
			ssize_t r;

			if (!p[i].revents)
				continue;
			if (!who[i]) {
				proc_sigfd_drain();
				continue;
			}
			if (trf[i]) {
				/* it writes only as it ends (why it failed);
				 * if not gone yet, it is in a moment */
				if (who[i]->traffic_fd == p[i].fd)
					traffic_reap(d, who[i], false);
				continue;
			}
			if (who[i]->run.out_fd != p[i].fd)
				continue; /* ended above */
			r = read(p[i].fd, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0)
				host_finish(who[i]);
			else
				agent_proto_feed(&who[i]->rd, chunk, (size_t)r);
		}
	}
	if (d->live && d->redraw && proc_now_ms() - d->drawn_ms >= 100)
		live_draw(d);
	free(p);
	free(who);
	free(trf);
}

/* A stop signal: no more launches; in-flight agents are told to stop
 * (a Ctrl-C reached them already: they share our process group). */
static void interrupt(struct drv *d)
{
	int sig = proc_stop_signal();

	if (d->interrupted)
		return;
	d->interrupted = true;
	free(d->stop_why);
	d->stop_why = xasprintf("stopped by signal %d", sig);
	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_IN_FLIGHT && d->hosts[i].run.pid > 0 &&
		    sig != SIGINT)
			kill(d->hosts[i].run.pid, SIGTERM);
}

/* An original host retired: its sandbox stopped, its files removed. */
static void terminate(struct drv *d, struct fhost *h)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir;

	if (!h->rehearsal) {
		out_line(d, h->name, !d->o->quiet,
			 "[slipway] not a rehearsal host: kept (TERMINATE "
			 "retires rehearsal hosts only)");
		return;
	}
	dir = host_dir(d->st->dir, h->name);
	if (host_box_stop(d->st->dir, h->name, &e) < 0 ||
	    fs_remove_tree(dir, &e) < 0)
		out_line(d, h->name, true, "[slipway] cannot terminate: %s",
			 e.msg);
	else {
		h->terminated = true;
		out_line(d, h->name, !d->o->quiet,
			 "[slipway] terminated: host stopped and removed");
	}
	free(dir);
}

/* Until no host in [from, to) is in flight. */
static void wait_hosts(struct drv *d, size_t from, size_t to)
{
	for (;;) {
		size_t busy = 0;

		if (proc_stop_signal())
			interrupt(d);
		for (size_t i = from; i < to; i++)
			busy += d->hosts[i].st == FH_IN_FLIGHT;
		if (!busy)
			break;
		wait_some(d, 0);
	}
}

static void format_ms(int64_t ms, char *b, size_t n)
{
	if (ms % 1000)
		snprintf(b, n, "%lldms", (long long)ms);
	else if (ms % 60000)
		snprintf(b, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(b, n, "%lldm", (long long)(ms / 60000));
}

static int write_waiting(struct drv *d);
static void say(struct drv *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * ready.action STOP_DEPLOYMENT: the replacement fleet is installed; the
 * deployment says Ready (its report, its row in the store) and waits for
 * `slipway deploy continue` (then the replacement hosts run their Allow
 * events, all at once, each must succeed), `slipway deploy stop` or the
 * end of ready.wait (then it stops, the traffic where it was). True when
 * the traffic is to move on.
 */
static bool ready_gate(struct drv *d)
{
	struct ready_wait w = READY_WAIT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char wait[32];
	size_t n = 0;

	format_ms(d->g->ready_wait_ms, wait, sizeof(wait));
	d->ready_until = proc_wall_ms() + d->g->ready_wait_ms;
	if (ready_open(&w, d->dep_dir, READY_READY_WAIT, &e) < 0) {
		ready_close(&w);
		free(d->stop_why);
		d->stop_why = xasprintf("cannot wait for continue: %s", e.msg);
		d->stopped = true;
		return false;
	}
	d->waiting = true;
	if (write_waiting(d) < 0)
		out_line(d, "slipway", true, "warning: the report: %s",
			 "cannot say Ready");
	say(d,
	    "deployment %s Ready: the replacement fleet is installed, the "
	    "traffic stays on the original fleet until `slipway deploy "
	    "continue %s` (`slipway deploy stop %s` stops it); ready.wait "
	    "%s",
	    d->id, d->id, d->id, wait);
	d->ready = ready_wait(&w, proc_now_ms() + d->g->ready_wait_ms);
	ready_close(&w);
	d->waiting = false;
	d->ready_done = true;
	switch (d->ready) {
	case READY_CONTINUE:
		break;
	case READY_SIGNAL:
		interrupt(d);
		return false;
	case READY_STOP:
	case READY_EXPIRED:
		d->stopped = true;
		free(d->stop_why);
		d->stop_why =
			d->ready == READY_STOP
				? xstrdup("stopped by `slipway deploy stop` "
					  "before the traffic moved")
				: xasprintf("not continued within ready.wait "
					    "(%s): the traffic stays on the "
					    "original fleet",
					    wait);
		out_line(d, "slipway", true, "stopping the deployment: %s",
			 d->stop_why);
		return false;
	}
	out_line(d, "slipway", !d->o->quiet,
		 "continued: the replacement fleet takes the traffic");
	for (size_t i = 0; i < d->nr_phase1; i++) {
		struct fhost *h = &d->hosts[i];

		if (!h->green || h->st != FH_SUCCEEDED)
			continue;
		h->part = AGENT_PART_ALLOW;
		h->have_first = true;
		host_start(d, h);
		n++;
	}
	wait_hosts(d, 0, d->nr_phase1);
	for (size_t i = 0; i < d->nr_phase1; i++)
		if (d->hosts[i].green && d->hosts[i].part == AGENT_PART_ALLOW &&
		    d->hosts[i].st != FH_SUCCEEDED)
			d->allow_failed = true;
	return n && !d->allow_failed && !d->interrupted;
}

/*
 * TERMINATE with an original.wait: while the original hosts wait in their
 * agents, `slipway deploy continue` (ContinueDeployment, TERMINATION_WAIT)
 * ends the wait of each at once: a file in its deployment directory that
 * its agent looks for (AGENT_WAIT_OVER).
 */
static void termination_wait(struct drv *d)
{
	struct ready_wait w = READY_WAIT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int cmd = 0;

	if (ready_open(&w, d->dep_dir, READY_TERMINATION_WAIT, &e) < 0) {
		out_line(d, "slipway", true,
			 "warning: no continue for original.wait: %s", e.msg);
		ready_close(&w);
		return;
	}
	for (;;) {
		size_t busy = 0;

		if (proc_stop_signal())
			interrupt(d);
		for (size_t i = d->nr_phase1; i < d->nr_hosts; i++)
			busy += d->hosts[i].st == FH_IN_FLIGHT;
		if (!busy || (cmd = ready_poll(&w)))
			break;
		wait_some(d, proc_now_ms() + 200);
	}
	if (ready_finish(&w, cmd, READY_EXPIRED) == READY_CONTINUE) {
		out_line(d, "slipway", !d->o->quiet,
			 "continued: the original fleet is terminated now "
			 "(original.wait cut short)");
		for (size_t i = d->nr_phase1; i < d->nr_hosts; i++) {
			const struct fhost *h = &d->hosts[i];
			char *p =
				xasprintf("%s/%s/%s/%s", h->deployment_root,
					  d->group_id, d->id, AGENT_WAIT_OVER);

			if (fs_write_atomic(p, "", 0, 0644, &e) < 0)
				out_line(d, h->name, true, "[slipway] %s",
					 e.msg);
			err_clear(&e);
			free(p);
		}
	}
	ready_close(&w);
}

/*
 * Blue/green, once the fleet of phase 1 succeeded: the other fleet all
 * at once (every one of them must succeed: "a single original instance
 * that fails to deregister fails the whole deployment"), then the
 * originals terminated when asked.
 */
static void run_phase2(struct drv *d)
{
	struct dcounts k;

	counts(d, &k);
	if (d->interrupted || d->invalid_revision || d->stopped ||
	    !dsched_succeeded(&d->sched, &k))
		return;
	if (!d->bg_rollback && d->g->ready_stop && !ready_gate(d))
		return;
	out_line(d, "slipway", !d->o->quiet, "%s",
		 d->bg_rollback ? "traffic back to the original fleet: now "
				  "off the replacement fleet"
				: "the replacement fleet takes the traffic: "
				  "now the original fleet gives it up");
	for (size_t i = d->nr_phase1; i < d->nr_hosts; i++)
		host_start(d, &d->hosts[i]);
	if (!d->bg_rollback && d->g->terminate && d->g->original_wait_ms > 0)
		termination_wait(d);
	wait_hosts(d, d->nr_phase1, d->nr_hosts);
	if (d->bg_rollback || !d->g->terminate)
		return;
	for (size_t i = d->nr_phase1; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_SUCCEEDED)
			terminate(d, &d->hosts[i]);
}

static int run_fleet(struct drv *d, struct sw_err *e)
{
	size_t next = 0;

	if (dsched_start(&d->sched, &d->config, d->nr_phase1, e) < 0)
		return -1;
	{
		struct buf desc = BUF_INIT;

		dsched_describe(&d->sched, &desc);
		out_line(d, "slipway", !d->o->quiet, "%s", buf_cstr(&desc));
		buf_release(&desc);
	}
	for (;;) {
		struct dcounts k;
		struct ddecision dec;

		if (proc_stop_signal())
			interrupt(d);
		counts(d, &k);
		if (d->interrupted || d->invalid_revision) {
			if (!k.in_flight)
				break;
			wait_some(d, 0);
			continue;
		}
		dsched_next(&d->sched, &k, proc_now_ms(), &dec);
		switch (dec.verdict) {
		case DSCHED_LAUNCH: {
			size_t room = dec.launch;

			if (!d->gate_open)
				room = d->started ? 0 : 1;
			if (!room) {
				wait_some(d, 0);
				break;
			}
			for (size_t i = 0; i < room && next < d->nr_phase1;
			     i++) {
				d->started++;
				host_start(d, &d->hosts[next++]);
			}
			break;
		}
		case DSCHED_WAIT:
			wait_some(d, dec.until_ms);
			break;
		case DSCHED_HEALTH:
			dsched_health(&d->sched, run_health(d));
			break;
		case DSCHED_STOP:
			d->stopped = true;
			free(d->stop_why);
			d->stop_why = xstrdup(dec.why ? dec.why : "stopped");
			out_line(d, "slipway", true,
				 "stopping the deployment: %s", d->stop_why);
			break;
		case DSCHED_DONE:
			goto done;
		}
	}
done:
	if (d->nr_phase1 < d->nr_hosts)
		run_phase2(d);
	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_PENDING)
			d->hosts[i].st = FH_SKIPPED;
	live_clear(d);
	return 0;
}

/* ---- the report: CodeDeploy's GetDeployment plus its targets ---- */

static json_object *jtime(int64_t ms)
{
	char txt[32];

	if (!ms)
		return NULL;
	snprintf(txt, sizeof(txt), "%lld.%03lld", (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, txt);
}

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *event_json(const struct agent_event *ev)
{
	json_object *o = json_object_new_object();

	add(o, "lifecycleEventName", jstr(appspec_event_name(ev->event)));
	add(o, "status", jstr(agent_status_name(ev->status)));
	if (ev->start_ms)
		add(o, "startTime", jtime(ev->start_ms));
	if (ev->end_ms)
		add(o, "endTime", jtime(ev->end_ms));
	if (ev->ignored)
		add(o, "ignored", json_object_new_boolean(1));
	if (ev->error_code) {
		json_object *g = json_object_new_object();

		add(g, "errorCode", jstr(ev->error_code));
		add(g, "scriptName", jstr(ev->script_name));
		add(g, "message", jstr(ev->message));
		add(g, "logTail", jstr(ev->log_tail));
		add(o, "diagnostics", g);
	}
	return o;
}

/* A replacement host installed, waiting for the traffic (CodeDeploy's
 * instance status Ready). */
static bool host_ready(const struct fhost *h)
{
	return h->d->waiting && h->green && h->st == FH_SUCCEEDED;
}

static const char *const ready_outcomes[] = {
	[READY_CONTINUE] = "Continued",
	[READY_STOP] = "Stopped",
	[READY_EXPIRED] = "Expired",
	[READY_SIGNAL] = "Interrupted",
};

/* blueGreen: the ready option and, with STOP_DEPLOYMENT, its wait. */
static json_object *bg_json(const struct drv *d)
{
	json_object *o = json_object_new_object(), *r;

	r = json_object_new_object();
	add(r, "actionOnTimeout",
	    jstr(d->g->ready_stop ? "STOP_DEPLOYMENT" : "CONTINUE_DEPLOYMENT"));
	if (d->g->ready_stop) {
		add(r, "waitTimeMs",
		    json_object_new_int64(d->g->ready_wait_ms));
		if (d->ready_until)
			add(r, "waitUntil", jtime(d->ready_until));
		add(r, "outcome",
		    jstr(d->waiting	 ? "Waiting"
			 : d->ready_done ? ready_outcomes[d->ready]
					 : "NotReached"));
	}
	add(o, "deploymentReadyOption", r);
	r = json_object_new_object();
	add(r, "action", jstr(d->g->terminate ? "TERMINATE" : "KEEP_ALIVE"));
	add(r, "terminationWaitTimeMs",
	    json_object_new_int64(d->g->original_wait_ms));
	add(o, "terminateBlueInstancesOnDeploymentSuccess", r);
	return o;
}

static json_object *host_json(const struct fhost *h)
{
	json_object *in = json_object_new_object(), *evs;

	add(in, "instanceId", jstr(h->name));
	add(in, "status", jstr(host_ready(h) ? "Ready" : fh_names[h->st]));
	if (h->d->bg) {
		add(in, "instanceType", jstr(h->green ? "GREEN" : "BLUE"));
		if (h->terminated)
			add(in, "terminated", json_object_new_boolean(true));
	}
	if (h->ssh)
		add(in, "ssh", jstr(h->ssh));
	add(in, "hostRoot", jstr(h->root));
	add(in, "deploymentRoot", jstr(h->deployment_root));
	if (h->box) {
		json_object *b = json_object_new_object();

		add(b, "pid", json_object_new_int(h->box));
		if (h->box_address)
			add(b, "address", jstr(h->box_address));
		add(in, "sandbox", b);
	}
	if (h->start_ms)
		add(in, "startTime", jtime(h->start_ms));
	if (h->end_ms)
		add(in, "lastUpdatedAt", jtime(h->end_ms));
	if (h->st == FH_FAILED)
		add(in, "message",
		    jstr(h->message ? h->message : h->r.message));
	evs = json_object_new_array();
	/* in the order they ran (--events may list them in any order) */
	for (size_t i = 0; i < h->r.nr_order; i++)
		json_object_array_add(evs,
				      event_json(&h->r.events[h->r.order[i]]));
	add(in, "lifecycleEvents", evs);
	return in;
}

static json_object *probe_json(const struct probe_result *r)
{
	json_object *o = json_object_new_object(), *v, *f;

	add(o, "url", jstr(r->url));
	add(o, "ratePerSecond", json_object_new_int((int)r->rate));
	add(o, "startTime", jtime(r->start_ms));
	add(o, "endTime", jtime(r->end_ms));
	add(o, "sent", json_object_new_int64((int64_t)r->sent));
	add(o, "failed", json_object_new_int64((int64_t)r->failed));
	add(o, "longestGapMs", json_object_new_int64(r->longest_gap_ms));
	v = json_object_new_array();
	for (size_t i = 0; i < r->nr_versions; i++) {
		json_object *x = json_object_new_object();

		add(x, "version", jstr(r->versions[i].version));
		add(x, "firstAt", jtime(r->versions[i].first_ms));
		add(x, "lastAt", jtime(r->versions[i].last_ms));
		add(x, "count",
		    json_object_new_int64((int64_t)r->versions[i].count));
		json_object_array_add(v, x);
	}
	add(o, "versions", v);
	f = json_object_new_array();
	for (size_t i = 0; i < r->nr_failures; i++) {
		json_object *x = json_object_new_object();

		add(x, "at", jtime(r->failures[i].at_ms));
		add(x, "error", jstr(r->failures[i].why));
		json_object_array_add(f, x);
	}
	add(o, "failures", f);
	return o;
}

static char *report_text(const struct drv *d)
{
	json_object *o = json_object_new_object(), *ov, *insts, *rv;
	size_t n[5] = { 0 }, ready = 0;
	char *text;

	for (size_t i = 0; i < d->nr_hosts; i++) {
		n[d->hosts[i].st]++;
		ready += host_ready(&d->hosts[i]);
	}
	add(o, "deploymentId", jstr(d->id));
	add(o, "applicationName", jstr(d->application));
	add(o, "deploymentGroupName", jstr(d->group_name));
	add(o, "deploymentGroupId", jstr(d->group_id));
	add(o, "deploymentConfigName", jstr(d->config.name));
	add(o, "status", jstr(d->status));
	add(o, "createTime", jtime(d->start_ms));
	add(o, "startTime", jtime(d->start_ms));
	add(o, "completeTime", jtime(d->end_ms));
	add(o, "creator", jstr(d->rollback_of ? "codeDeployRollback" : "user"));
	rv = json_object_new_object();
	add(rv, "revisionType", jstr("Local"));
	if (d->bundle) {
		add(rv, "location", jstr(d->bundle));
		add(rv, "bundleType", jstr(bundle_kind_name(d->kind)));
	} else {
		add(rv, "location",
		    jstr("deployment-archive of the last successful "
			 "deployment on each host"));
		add(rv, "deploymentId", jstr(d->rollback_source));
	}
	add(o, "revision", rv);
	add(o, "fileExistsBehavior",
	    jstr(d->feb == APPSPEC_FEB_UNSET ? "DISALLOW"
					     : appspec_feb_name(d->feb)));
	add(o, "ignoreApplicationStopFailures",
	    json_object_new_boolean(d->ignore_stop));
	if (strcmp(d->status, "Succeeded") && !d->waiting) {
		json_object *ei = json_object_new_object();

		add(ei, "code", jstr(d->error_code));
		add(ei, "message", jstr(d->error_msg));
		add(o, "errorInformation", ei);
	}
	if (d->bg)
		add(o, "blueGreenDeploymentConfiguration", bg_json(d));
	ov = json_object_new_object();
	add(ov, "Pending", json_object_new_int((int)n[FH_PENDING]));
	add(ov, "InProgress", json_object_new_int((int)n[FH_IN_FLIGHT]));
	add(ov, "Succeeded",
	    json_object_new_int((int)(n[FH_SUCCEEDED] - ready)));
	add(ov, "Failed", json_object_new_int((int)n[FH_FAILED]));
	add(ov, "Skipped", json_object_new_int((int)n[FH_SKIPPED]));
	add(ov, "Ready", json_object_new_int((int)ready));
	add(o, "deploymentOverview", ov);
	insts = json_object_new_array();
	for (size_t i = 0; i < d->nr_hosts; i++)
		json_object_array_add(insts, host_json(&d->hosts[i]));
	add(o, "instances", insts);
	if (d->have_pr)
		add(o, "probe", probe_json(&d->pr));
	if (d->rollback_of || d->rollback_id) {
		json_object *rb = json_object_new_object();

		if (d->rollback_of) {
			add(rb, "rollbackTriggeringDeploymentId",
			    jstr(d->rollback_of));
			add(rb, "rollbackMessage",
			    jstr("rollback of the failed deployment"));
		} else {
			add(rb, "rollbackDeploymentId", jstr(d->rollback_id));
			add(rb, "rollbackMessage",
			    jstr(d->rollback_status ? d->rollback_status
						    : "started"));
		}
		add(o, "rollbackInfo", rb);
	} else {
		add(o, "rollbackInfo", NULL);
	}
	text = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* s, cut to at most max bytes at a character's start, "..." marking a cut */
static json_object *jcut(const char *s, size_t max)
{
	size_t n;
	char *t;
	json_object *o;

	if (!s)
		return NULL;
	n = strlen(s);
	if (n <= max)
		return json_object_new_string(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	t = xasprintf("%.*s...", (int)n, s);
	o = json_object_new_string(t);
	free(t);
	return o;
}

/*
 * The report cut down to what must not be lost when the full one does
 * not fit in its reserved space on a full disk: the outcome, the counts,
 * each host's status and message, strings cut short; "reportCompact"
 * says so.
 */
static char *report_compact(const struct drv *d)
{
	enum { CUT = 512 };
	json_object *o = json_object_new_object(), *ov, *insts;
	size_t n[5] = { 0 };
	char *text;

	for (size_t i = 0; i < d->nr_hosts; i++)
		n[d->hosts[i].st]++;
	add(o, "deploymentId", jstr(d->id));
	add(o, "applicationName", jcut(d->application, CUT));
	add(o, "deploymentGroupName", jcut(d->group_name, CUT));
	add(o, "deploymentGroupId", jcut(d->group_id, CUT));
	add(o, "deploymentConfigName", jcut(d->config.name, CUT));
	add(o, "status", jstr(d->status));
	add(o, "createTime", jtime(d->start_ms));
	add(o, "startTime", jtime(d->start_ms));
	add(o, "completeTime", jtime(d->end_ms));
	add(o, "creator", jstr(d->rollback_of ? "codeDeployRollback" : "user"));
	if (strcmp(d->status, "Succeeded")) {
		json_object *ei = json_object_new_object();

		add(ei, "code", jstr(d->error_code));
		add(ei, "message", jcut(d->error_msg, CUT));
		add(o, "errorInformation", ei);
	}
	ov = json_object_new_object();
	add(ov, "Pending", json_object_new_int((int)n[FH_PENDING]));
	add(ov, "InProgress", json_object_new_int((int)n[FH_IN_FLIGHT]));
	add(ov, "Succeeded", json_object_new_int((int)n[FH_SUCCEEDED]));
	add(ov, "Failed", json_object_new_int((int)n[FH_FAILED]));
	add(ov, "Skipped", json_object_new_int((int)n[FH_SKIPPED]));
	add(ov, "Ready", json_object_new_int(0));
	add(o, "deploymentOverview", ov);
	insts = json_object_new_array();
	for (size_t i = 0; i < d->nr_hosts; i++) {
		const struct fhost *h = &d->hosts[i];
		json_object *in = json_object_new_object();

		add(in, "instanceId", jcut(h->name, CUT));
		add(in, "status", jstr(fh_names[h->st]));
		if (h->st == FH_FAILED)
			add(in, "message",
			    jcut(h->message ? h->message : h->r.message, CUT));
		json_object_array_add(insts, in);
	}
	add(o, "instances", insts);
	add(o, "reportCompact", json_object_new_boolean(1));
	text = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* The deployment's row in the store's index (a failing store only
 * warns). */
static void index_put(const struct drv *d)
{
	char *rp = fs_join(d->dep_dir, "report.json");
	struct store_deployment row = {
		.id = d->id,
		.application = d->application ? d->application : (char *)"",
		.group = d->group_name ? d->group_name : (char *)"",
		.status = d->status ? d->status : (char *)"InProgress",
		.start_ms = d->start_ms,
		.end_ms = d->status && !d->waiting ? d->end_ms : 0,
		.report_path = rp,
		.hosts_total = (long)d->nr_hosts,
		.creator = d->rollback_of ? (char *)"codeDeployRollback"
					  : (char *)"user",
	};

	for (size_t i = 0; i < d->nr_hosts; i++)
		row.hosts_succeeded += d->hosts[i].st == FH_SUCCEEDED;
	index_deployment(d->st, &row);
	free(rp);
}

static int write_reports(struct drv *d, bool user_copy, struct sw_err *e)
{
	char *text = report_text(d), *path = fs_join(d->dep_dir, "report.json");
	size_t n = strlen(text);
	int ret;

	/* The first report goes into the space reserved for it; on a full
	 * disk, compact if the whole one does not fit. */
	if (d->reserved && d->report_rv.fd >= 0) {
		ret = fs_reserve_commit(&d->report_rv, text, n, 0644, e);
		if (ret < 0 && (errno == ENOSPC || errno == EDQUOT)) {
			char *small = report_compact(d);

			err_clear(e);
			ret = fs_reserve_commit(&d->report_rv, small,
						strlen(small), 0644, e);
			free(small);
		}
	} else
		ret = fs_write_atomic(path, text, n, 0644, e);

	if (!ret) {
		html_beside(path);
		index_put(d);
	}
	if (!ret && user_copy && d->o->report)
		ret = fs_write_atomic(d->o->report, text, n, 0644, e);
	free(path);
	free(text);
	return ret;
}

/*
 * While it waits for `deploy continue`: the report says Ready (written
 * beside the space reserved for the final one, then moved in place) and
 * so does the deployment's row in the store.
 */
static int write_waiting(struct drv *d)
{
	struct sw_err e = SW_ERR_INIT;
	char *text, *path = fs_join(d->dep_dir, "report.json"),
		    *tmp = fs_join(d->dep_dir, "report-ready.json");
	int ret;

	d->status = xstrdup("Ready");
	text = report_text(d);
	ret = fs_write_atomic(tmp, text, strlen(text), 0644, &e);
	if (!ret && rename(tmp, path) < 0)
		ret = -1;
	if (!ret && d->o->report)
		ret = fs_write_atomic(d->o->report, text, strlen(text), 0644,
				      &e);
	index_put(d);
	free(d->status);
	d->status = NULL;
	free(text);
	free(path);
	free(tmp);
	return ret;
}

/* ---- one deployment, start to end ---- */

static void drv_release(struct drv *d)
{
	if (d->reserved)
		fs_reserve_release(&d->report_rv);
	if (d->log_fd >= 0)
		close(d->log_fd);
	if (d->unpacked) {
		struct sw_err ignored = SW_ERR_INIT;

		/* the hosts have their links: deleted in the background */
		if (retire_tree(d->st->dir, d->unpacked, &ignored) < 0)
			fs_remove_tree(d->unpacked, &ignored);
		free(d->unpacked);
	}
	free(d->id);
	free(d->bundle);
	free(d->rollback_of);
	free(d->rollback_source);
	free(d->keep_good);
	free(d->application);
	free(d->group_name);
	free(d->group_id);
	dconfig_release(&d->config);
	for (size_t i = 0; i < d->nr_hosts; i++) {
		struct fhost *h = &d->hosts[i];

		if (h->run.out_fd >= 0)
			close(h->run.out_fd);
		free(h->name);
		free(h->root);
		free(h->deployment_root);
		free(h->box_address);
		free(h->ssh);
		free(h->ssh_user);
		free(h->ssh_host);
		free(h->message);
		free(h->traffic_why);
		if (h->traffic_fd >= 0)
			close(h->traffic_fd);
		agent_result_release(&h->r);
		agent_result_release(&h->first);
	}
	free(d->hosts);
	free(d->dep_dir);
	free(d->control_dir);
	free(d->stream);
	free(d->stop_why);
	free(d->status);
	free(d->error_msg);
	free(d->rollback_id);
	free(d->rollback_status);
	if (d->own_locks)
		deploy_locks_free(d->locks);
	if (d->have_lb)
		lb_release(&d->lb);
	probe_release(&d->probe);
	probe_result_release(&d->pr);
	probe_opts_release(&d->probe_opts);
	buf_release(&d->line);
}

/* Stopped while the replacement fleet waited for the traffic. */
static bool ready_stopped(const struct drv *d)
{
	return d->ready_done &&
	       (d->ready == READY_STOP || d->ready == READY_EXPIRED);
}

/* The outcome, the driver's state, the summary. */
static void conclude(struct drv *d)
{
	struct dcounts k;
	bool ok;
	size_t failed = 0;

	counts(d, &k);
	ok = !d->interrupted && !d->invalid_revision && !d->allow_failed &&
	     dsched_succeeded(&d->sched, &k);
	for (size_t i = d->nr_phase1; i < d->nr_hosts; i++)
		if (d->hosts[i].st != FH_SUCCEEDED) {
			ok = false;
			k.failed += d->hosts[i].st == FH_FAILED;
		}
	d->end_ms = proc_wall_ms();
	d->status = xstrdup(ok					 ? "Succeeded"
			    : d->interrupted || ready_stopped(d) ? "Stopped"
								 : "Failed");
	if (!ok) {
		struct buf why = BUF_INIT;

		bool agents = k.failed > 0;

		for (size_t i = 0; i < d->nr_hosts; i++)
			if (d->hosts[i].st == FH_FAILED &&
			    !d->hosts[i].agent_issue)
				agents = false;
		d->error_code = d->interrupted	      ? "MANUAL_STOP"
				: ready_stopped(d)    ? (d->ready == READY_STOP
								 ? "MANUAL_STOP"
								 : "TIMEOUT")
				: d->invalid_revision ? "INVALID_REVISION"
				: agents	      ? "AGENT_ISSUE"
						      : "HEALTH_CONSTRAINTS";
		if (d->stop_why)
			buf_addf(&why, "%s; ", d->stop_why);
		buf_addf(&why, "%zu of %zu hosts succeeded", k.succeeded,
			 d->nr_hosts);
		for (size_t i = 0; i < d->nr_hosts; i++) {
			const struct fhost *h = &d->hosts[i];
			const char *m = h->message ? h->message : h->r.message;

			if (h->st != FH_FAILED || failed++ >= 3)
				continue;
			buf_addf(&why, "; %s: %s", h->name, m ? m : "failed");
		}
		d->error_msg = buf_detach(&why);
	}
	/* Health of each host that ran, and the group's last good one. */
	for (size_t i = 0; i < d->nr_hosts; i++) {
		const struct fhost *h = &d->hosts[i];
		char *rest, *text;

		if (h->st != FH_SUCCEEDED && h->st != FH_FAILED)
			continue;
		rest = xasprintf("hosts/%s", h->name);
		text = xasprintf(
			"%s %s\n",
			h->st == FH_SUCCEEDED ? "Healthy" : "Unhealthy", d->id);
		write_state(d, rest, text);
		free(rest);
		free(text);
	}
	/* A rollback redeploys the last successful revision, whose
	 * archive is on every host that got it: it stays the one to go
	 * back to (the rollback's own archive is only where it ran). */
	if (ok && !d->rollback_source) {
		char *text = xasprintf("%s\n", d->id);

		write_state(d, "last-successful", text);
		free(text);
	}
}

/* A line of slipway's own, "slipway: ..." on stderr and "slipway | ..."
 * in deployment.log (the agent's deployments log on the host holds only
 * what the agent writes there). */
static void say(struct drv *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct drv *d, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	live_clear(d);
	if (d->color_err && !strncmp(b.ptr, "deployment ", 11)) {
		/* "deployment <id> Failed: ...": the status in its colour */
		const char *st = strchr(b.ptr + 11, ' ');
		size_t n = st ? strcspn(st + 1, " :") : 0;
		const char *c = st ? status_color(st + 1, n) : NULL;

		if (c)
			fprintf(stderr, "slipway: %.*s%s%.*s" C_RESET "%s\n",
				(int)(st + 1 - b.ptr), b.ptr, c, (int)n, st + 1,
				st + 1 + n);
		else
			fprintf(stderr, "slipway: %s\n", b.ptr);
	} else {
		fprintf(stderr, "slipway: %s\n", b.ptr);
	}
	out_line(d, "slipway", false, "%s", b.ptr);
	buf_release(&b);
}

/* "; probe: 0 of 412 requests failed, longest gap 61 ms" (red on a
 * terminal when some failed), or nothing. */
static void probe_summary(const struct drv *d, bool color, struct buf *b)
{
	bool red = color && d->pr.failed;

	if (!d->have_pr)
		return;
	buf_addf(b,
		 "; %sprobe: %zu of %zu requests failed, longest gap %lld ms%s",
		 red ? "\033[31m" : "", d->pr.failed, d->pr.sent,
		 (long long)d->pr.longest_gap_ms, red ? "\033[0m" : "");
}

static bool color_ok(void)
{
	const char *t = getenv("TERM");

	return isatty(STDERR_FILENO) &&
	       !(getenv("NO_COLOR") && *getenv("NO_COLOR")) && t &&
	       strcmp(t, "dumb");
}

static void print_summary(struct drv *d, int64_t t0)
{
	struct buf plain = BUF_INIT, shown = BUF_INIT;
	size_t n = 0;

	/* the table stays, as it ended */
	if (d->live && d->live_shown_once && d->nr_hosts <= TABLE_MAX_HOSTS) {
		live_clear(d);
		table_draw(d);
		d->live_rows = 0;
		fputs("\r\033[K", stderr); /* as a live line's end is */
		fflush(stderr);
	}

	for (size_t i = 0; i < d->nr_hosts; i++)
		n += d->hosts[i].st == FH_SUCCEEDED;
	for (int pass = 0; pass < 2; pass++) {
		struct buf *b = pass ? &shown : &plain;
		/* on a terminal, the status in its colour (Failed red) */
		const char *c =
			pass && d->color_err
				? status_color(d->status, strlen(d->status))
				: NULL;

		if (!strcmp(d->status, "Succeeded"))
			buf_addf(b,
				 "deployment %s %sSucceeded%s on %zu of %zu "
				 "hosts in %lld ms",
				 d->id, c ? c : "", c ? C_RESET : "", n,
				 d->nr_hosts, (long long)(proc_now_ms() - t0));
		else
			buf_addf(b, "deployment %s %s%s%s: %s", d->id,
				 c ? c : "", d->status, c ? C_RESET : "",
				 d->error_msg);
		probe_summary(d, pass && (d->color_err || color_ok()), b);
		buf_addf(b, "; report: %s/report.json", d->dep_dir);
	}
	live_clear(d);
	fprintf(stderr, "slipway: %s\n", shown.ptr);
	out_line(d, "slipway", false, "%s", plain.ptr);
	buf_release(&plain);
	buf_release(&shown);
}

/* Stop the probe, if it runs, and keep its figures for the report. */
static void stop_probe(struct drv *d)
{
	struct sw_err e = SW_ERR_INIT;

	if (!d->probe.pid)
		return;
	if (probe_stop(&d->probe, &d->pr, &e) < 0)
		fprintf(stderr, "slipway: probe: %s\n", e.msg);
	else
		d->have_pr = true;
}

/* A failed deployment that deploy_run will roll back. */
static bool will_roll_back(const struct drv *d)
{
	return !d->rollback_of && d->status && strcmp(d->status, "Succeeded") &&
	       !d->invalid_revision && !d->interrupted && !ready_stopped(d) &&
	       d->g && d->g->auto_rollback && !d->o->no_rollback && d->bundle;
}

/*
 * A deployment that started (its report's space is reserved) but cannot
 * go on: its report says Failed with e's message, in that space, and its
 * row in the store says so too. e is left as it is for the caller.
 */
static void fail_started(struct drv *d, const struct sw_err *e)
{
	struct sw_err we = SW_ERR_INIT;

	d->end_ms = proc_wall_ms();
	free(d->status);
	d->status = xstrdup("Failed");
	d->error_code = "INTERNAL_ERROR";
	free(d->error_msg);
	d->error_msg = xstrdup(e->msg);
	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_PENDING)
			d->hosts[i].st = FH_SKIPPED;
	if (write_reports(d, true, &we) < 0)
		fprintf(stderr, "error: %s\n", we.msg);
}

static int deploy_one(struct drv *d, struct sw_err *e)
{
	int64_t t0 = proc_now_ms();

	d->start_ms = proc_wall_ms();
	d->gate_open = !d->bundle; /* a rollback: each host has its own */
	d->live = !d->o->quiet && isatty(STDERR_FILENO) &&
		  !(getenv("NO_COLOR") && *getenv("NO_COLOR")) &&
		  getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	d->color_err = d->live;
	d->color = isatty(STDOUT_FILENO) &&
		   !(getenv("NO_COLOR") && *getenv("NO_COLOR")) &&
		   getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	if (resolve(d, e) < 0) {
		if (d->reserved)
			fail_started(d, e);
		return -1;
	}
	index_put(d);
	if (d->o->probe && !d->rollback_of) {
		char *log = fs_join(d->dep_dir, "probe.log");
		int rc = probe_start(&d->probe, &d->probe_opts, log, e);

		free(log);
		if (rc < 0) {
			fail_started(d, e);
			return -1;
		}
		out_line(d, "slipway", !d->o->quiet,
			 "probe: GET %s, %u a second, until the deployment "
			 "ends",
			 d->probe_opts.url, d->probe_opts.rate);
	}
	d->keep_good = read_state(d, "last-successful");
	order_hosts(d);
	if (d->bg_rollback)
		say(d,
		    "rollback %s of %s: traffic back to the original fleet "
		    "(%zu host%s in all)",
		    d->id, d->rollback_of, d->nr_hosts,
		    d->nr_hosts == 1 ? "" : "s");
	else if (d->rollback_of)
		say(d, "rollback %s of %s: redeploying %s on %zu host%s", d->id,
		    d->rollback_of,
		    d->rollback_source ? d->rollback_source : d->o->bundle,
		    d->nr_hosts, d->nr_hosts == 1 ? "" : "s");
	else
		say(d, "deployment %s of %s to %zu host%s (group %s, %s)",
		    d->id, d->bundle ? d->o->bundle : "(rollback)", d->nr_hosts,
		    d->nr_hosts == 1 ? "" : "s", d->group_name, d->config.name);
	if (d->bundle && check_revision(d, e) < 0) {
		if (e->code != ERR_SPEC) {
			fail_started(d, e);
			return -1;
		}
		/* No host gets a revision that one of them would refuse. */
		d->end_ms = proc_wall_ms();
		d->status = xstrdup("Failed");
		d->error_code = "INVALID_REVISION";
		d->error_msg = xstrdup(e->msg);
		d->invalid_revision = true;
		for (size_t i = 0; i < d->nr_hosts; i++)
			d->hosts[i].st = FH_SKIPPED;
		err_clear(e);
	} else if (run_fleet(d, e) < 0) {
		/* The configuration cannot work on this fleet. */
		d->end_ms = proc_wall_ms();
		d->status = xstrdup("Failed");
		d->error_code = "HEALTH_CONSTRAINTS_INVALID";
		d->error_msg = xstrdup(e->msg);
		for (size_t i = 0; i < d->nr_hosts; i++)
			d->hosts[i].st = FH_SKIPPED;
		err_clear(e);
	} else {
		conclude(d);
	}
	if (!will_roll_back(d))
		stop_probe(d);
	if (write_reports(d, true, e) < 0)
		return -1;
	print_summary(d, t0);
	return 0;
}

static int exit_status(const struct drv *d)
{
	if (!strcmp(d->status, "Succeeded"))
		return 0;
	if (d->invalid_revision)
		return ERR_SPEC;
	if (d->ready_done && d->ready == READY_EXPIRED)
		return ERR_TIMEOUT;
	return ERR_FAILED;
}

/*
 * A rollback of d (which failed) onto the hosts that received it, as a
 * new deployment. Its status goes into d's report.
 */
static void rollback(struct drv *d)
{
	struct drv rb = { 0 };
	struct deploy_opts ro = *d->o;
	struct strvec hosts = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *good = read_state(d, "last-successful");

	for (size_t i = 0; i < d->nr_hosts; i++)
		if (d->hosts[i].st == FH_SUCCEEDED ||
		    d->hosts[i].st == FH_FAILED ||
		    (d->bg && !d->hosts[i].green))
			strvec_push(&hosts, d->hosts[i].name);
	if (d->bg && !good) /* the originals still have what they had */
		good = xstrdup("none");
	if (!good || !hosts.nr) {
		fprintf(stderr, "note: no rollback: %s\n",
			!good ? "the group has no successful deployment to go "
				"back to"
			      : "no host received the revision");
		free(good);
		strvec_release(&hosts);
		return;
	}
	ro.report = NULL;
	ro.deployment_id = NULL;
	ro.bundle = NULL;
	ro.events = NULL; /* a rollback runs the whole lifecycle */
	rb.o = &ro;
	rb.st = d->st;
	rb.g = d->g;
	rb.log_fd = -1;
	rb.line = (struct buf)BUF_INIT;
	rb.only = &hosts;
	rb.rollback_of = xstrdup(d->id);
	rb.rollback_source = good;
	if (d->bg) { /* traffic events only: any bundle does, this one is */
		rb.bundle = xstrdup(d->bundle);
		rb.traffic_rollback = true;
	}
	rb.locks = d->locks; /* the hosts are d's: still held */
	rb.id = agent_new_deployment_id();
	d->rollback_id = xstrdup(rb.id);
	if (deploy_one(&rb, &e) < 0) {
		fprintf(stderr, "error: rollback: %s\n", e.msg);
		d->rollback_status = xasprintf(
			"rollback %s could not start: %s", rb.id, e.msg);
	} else {
		d->rollback_status =
			xasprintf("rollback %s %s", rb.id, rb.status);
	}
	drv_release(&rb);
	strvec_release(&hosts);
}

void deploy_run(const struct deploy_opts *o, int *status)
{
	struct state st = STATE_INIT;
	struct group g = GROUP_INIT;
	struct drv d = { 0 };
	struct sw_err e = SW_ERR_INIT;

	d.o = o;
	d.st = &st;
	d.log_fd = -1;
	d.line = (struct buf)BUF_INIT;
	d.locks = o->locks;
	if (proc_signals_init(&e) < 0 || state_open(&st, o->state_dir, &e) < 0)
		goto fail;
	if (o->group_file) {
		if (group_load(o->group_file, &g, &e) < 0)
			goto fail;
		for (size_t i = 0; i < g.warnings.nr; i++)
			fprintf(stderr, "warning: %s\n", g.warnings.v[i]);
		if (o->strict && g.unknown_keys.nr) {
			strict_error(&e, g.unknown_keys.v[0]);
			goto fail;
		}
		d.g = &g;
	}
	if (o->bundle)
		d.bundle = fs_abspath(o->bundle);
	/* with a bundle: a redeploy of that revision as the rollback */
	if (o->rollback_of)
		d.rollback_of = xstrdup(o->rollback_of);
	if (o->probe && probe_parse(o->probe, &d.probe_opts, &e) < 0)
		goto fail;
	if (deploy_one(&d, &e) < 0)
		goto fail;
	*status = exit_status(&d);
	if (*status == ERR_FAILED && d.g && d.g->auto_rollback &&
	    !o->no_rollback && d.bundle && !d.rollback_of) {
		rollback(&d);
		err_clear(&e);
		stop_probe(&d);
		if (write_reports(&d, true, &e) < 0)
			fprintf(stderr, "error: %s\n", e.msg);
		if (d.have_pr) {
			struct buf b = BUF_INIT;

			probe_summary(&d, color_ok(), &b);
			fprintf(stderr,
				"slipway: deployment %s and its rollback%s\n",
				d.id, b.ptr);
			buf_release(&b);
		}
	}
	stop_probe(&d);
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	*status = e.code ? e.code : ERR_SYSTEM;
out:
	drv_release(&d);
	group_release(&g);
	state_release(&st);
}

int deploy_lock(const struct deploy_opts *o, const char *deployment_id,
		const char *note, struct deploy_locks **locks)
{
	struct state st = STATE_INIT;
	struct group g = GROUP_INIT;
	struct drv d = { 0 };
	struct sw_err e = SW_ERR_INIT;
	int status = 0;

	*locks = NULL;
	d.o = o;
	d.st = &st;
	d.log_fd = -1;
	d.line = (struct buf)BUF_INIT;
	if (state_open(&st, o->state_dir, &e) < 0)
		goto fail;
	if (o->group_file) {
		if (group_load(o->group_file, &g, &e) < 0)
			goto fail;
		d.g = &g;
	}
	d.id = xstrdup(deployment_id);
	resolve_group(&d);
	if (!agent_id_ok(d.id) || !agent_id_ok(d.group_id)) {
		err_set(&e, ERR_USAGE, "invalid deployment or group id");
		goto fail;
	}
	if (resolve_hosts(&d, &e) < 0 || take_locks(&d, note, &e) < 0)
		goto fail;
	*locks = d.locks;
	d.own_locks = false;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	status = e.code ? e.code : ERR_SYSTEM;
out:
	drv_release(&d);
	group_release(&g);
	state_release(&st);
	return status;
}

/* ---- slipway plan ---- */

void deploy_plan(const struct deploy_opts *o, int *status)
{
	struct state st = STATE_INIT;
	struct group g = GROUP_INIT;
	struct drv d = { 0 };
	struct sw_err e = SW_ERR_INIT;
	struct dsched s;
	struct buf desc = BUF_INIT;
	size_t *sizes = NULL, nr = 0, next = 0;

	d.o = o;
	d.st = &st;
	d.log_fd = -1;
	d.line = (struct buf)BUF_INIT;
	*status = 0;
	/* Plan writes nothing: the hosts' health is read if the state
	 * directory is there. */
	st.dir = state_path(o->state_dir);
	if (group_load(o->group_file, &g, &e) < 0)
		goto fail;
	for (size_t i = 0; i < g.warnings.nr; i++)
		fprintf(stderr, "warning: %s\n", g.warnings.v[i]);
	d.g = &g;
	d.group_id = xstrdup(g.id);
	if (group_config(&g, o->config, &d.config, &e) < 0)
		goto fail;
	for (size_t i = 0; i < g.nr_hosts; i++) {
		add_host(&d, g.hosts[i].name, "", "", g.hosts[i].ssh, NULL,
			 NULL, 0);
		d.hosts[i].green = g.hosts[i].replacement;
	}
	assign_parts(&d);
	order_hosts(&d);
	printf("group %s of %s (id %s): %zu host%s\n", g.name, g.application,
	       g.id, g.nr_hosts, g.nr_hosts == 1 ? "" : "s");
	if (d.bg)
		printf("BLUE_GREEN: the replacement fleet (green), %zu "
		       "host%s, installed %sunder the config:\n",
		       d.nr_phase1, d.nr_phase1 == 1 ? "" : "s",
		       g.ready_stop ? "" : "and given traffic ");
	if (dsched_start(&s, &d.config, d.nr_phase1, &e) < 0 ||
	    dsched_plan(&d.config, d.nr_phase1, &sizes, &nr, &e) < 0) {
		printf("%s: %s\n", d.config.name, e.msg);
		*status = ERR_FAILED;
		goto out;
	}
	dsched_describe(&s, &desc);
	printf("%s\n", buf_cstr(&desc));
	for (size_t b = 0; b < nr; b++) {
		printf("batch %zu:", b + 1);
		for (size_t i = 0; i < sizes[b] && next < d.nr_phase1; i++) {
			const struct fhost *h = &d.hosts[next++];

			printf(" %s%s", h->name,
			       h->order == 0 ? " (unhealthy)" : "");
		}
		putchar('\n');
	}
	if (d.bg) {
		printf("replacement fleet (green):");
		for (size_t i = 0; i < d.nr_phase1; i++)
			printf(" %s", d.hosts[i].name);
		if (g.ready_stop)
			printf("\nthen Ready: it waits up to %lld ms for "
			       "`slipway deploy continue` (STOP_DEPLOYMENT), "
			       "then BeforeAllowTraffic, AllowTraffic, "
			       "AfterAllowTraffic on it, all at once",
			       (long long)g.ready_wait_ms);
		printf("\nthen the original fleet (blue), all at once:");
		for (size_t i = d.nr_phase1; i < d.nr_hosts; i++)
			printf(" %s", d.hosts[i].name);
		if (g.terminate)
			printf("; BeforeBlockTraffic, BlockTraffic, "
			       "AfterBlockTraffic, then after %lld ms "
			       "ApplicationStop and terminated (TERMINATE)\n",
			       (long long)g.original_wait_ms);
		else
			printf("; BeforeBlockTraffic, BlockTraffic, "
			       "AfterBlockTraffic; kept (KEEP_ALIVE)\n");
		printf("rollback: AllowTraffic on the original fleet, then "
		       "BlockTraffic on the replacement fleet\n");
	}
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	*status = e.code ? e.code : ERR_SYSTEM;
out:
	free(sizes);
	buf_release(&desc);
	drv_release(&d);
	group_release(&g);
	state_release(&st);
}
