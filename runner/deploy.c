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
#include "fs.h"
#include "hash.h"
#include "proc.h"
#include "state.h"
#include "transport.h"
#include "xalloc.h"
#include "banned.h"

#define DEFAULT_GROUP_NAME "LocalFleet"
#define DEFAULT_GROUP_ID "default-local-deployment-group"
#define DEFAULT_CONFIG "CodeDeployDefault.OneAtATime"
#define AGENT_DEPLOYMENT_ROOT "opt/codedeploy-agent/deployment-root"

static const char *const builtin_configs[] = {
	"CodeDeployDefault.OneAtATime",
	"CodeDeployDefault.HalfAtATime",
	"CodeDeployDefault.AllAtOnce",
};

bool deploy_config_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_configs); i++)
		if (!strcmp(name, builtin_configs[i]))
			return true;
	return false;
}

/* What one deployment run holds. */
struct drv {
	const struct deploy_opts *o;
	struct state st;
	char *id;
	char *bundle; /* absolute */
	char *application;
	char *group_name;
	char *group_id;
	char *host_root;
	char *deployment_root;
	const char *host;
	char *dep_dir; /* <state>/deployments/<id> */
	int log_fd; /* deployment.log */
	bool term_lines; /* hook output on the terminal */
	struct buf line;
	struct agent_result r;
	int64_t start_ms, end_ms;
	const char *error_code; /* errorInformation.code, or NULL */
	char *error_msg;
	enum bundle_kind kind;
	char *ssh_user, *ssh_host; /* --ssh, parsed */
	int ssh_port;
	char *control_dir; /* <state>/ssh */
	char *stream; /* what a remote transport sends as the bundle */
};

/* A UUID-shaped id derived from a group's name (stable across runs). */
static char *derive_group_id(const char *name)
{
	char hex[HASH_SHA256_HEX];
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	buf_addstr(&b, "slipway deployment group\n");
	buf_addstr(&b, name);
	if (hash_buf(HASH_SHA256, b.ptr, b.len, hex, &e) < 0)
		BUG("sha256: %s", e.msg);
	buf_release(&b);
	return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
			 hex + 16, hex + 20);
}

static void out_line(struct drv *d, bool term, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One "<host> | text" line to deployment.log and, if term, stdout. */
static void out_line(struct drv *d, bool term, const char *fmt, ...)
{
	va_list ap;

	buf_clear(&d->line);
	buf_addf(&d->line, "%s | ", d->host);
	va_start(ap, fmt);
	buf_vaddf(&d->line, fmt, ap);
	va_end(ap);
	buf_addch(&d->line, '\n');
	if (d->log_fd >= 0)
		(void)!write(d->log_fd, d->line.ptr, d->line.len);
	if (term) {
		fwrite(d->line.ptr, 1, d->line.len, stdout);
		fflush(stdout);
	}
}

static void on_event(const struct agent_event *ev, void *data)
{
	struct drv *d = data;
	const char *name = appspec_event_name(ev->event);

	if (ev->status == AGENT_IN_PROGRESS || ev->status == AGENT_PENDING)
		return;
	if (ev->status == AGENT_SKIPPED) {
		out_line(d, !d->o->quiet, "%s Skipped", name);
		return;
	}
	out_line(d, !d->o->quiet, "%s %s (%lld ms)%s", name,
		 agent_status_name(ev->status),
		 (long long)(ev->end_ms - ev->start_ms),
		 ev->ignored ? ", ignored" : "");
	if (ev->status == AGENT_FAILED && ev->message)
		out_line(d, true, "%s: %s: %s", name,
			 ev->error_code ? ev->error_code : "UnknownError",
			 ev->message);
}

static void on_line(enum appspec_event event, enum script_stream stream,
		    const char *line, size_t len, void *data)
{
	struct drv *d = data;
	const char *tag = stream == SCRIPT_STDOUT   ? "[stdout]"
			  : stream == SCRIPT_STDERR ? "[stderr]"
						    : "[slipway] ";

	(void)event;
	out_line(d, d->term_lines, "%s%.*s", tag, (int)len, line);
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

static int resolve(struct drv *d, struct sw_err *e)
{
	const struct deploy_opts *o = d->o;
	struct stat sb;

	if (state_open(&d->st, o->state_dir, e) < 0)
		return -1;
	if (stat(o->bundle, &sb) < 0)
		return err_set(e, ERR_USAGE, "cannot read bundle '%s': %s",
			       o->bundle, strerror(errno));
	d->bundle = fs_abspath(o->bundle);
	d->id = o->deployment_id ? xstrdup(o->deployment_id)
				 : agent_new_deployment_id();
	if (!agent_id_ok(d->id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment id '%s': use letters, "
			       "digits, '.', '_' and '-'",
			       d->id);
	d->application = xstrdup(o->application ? o->application : o->bundle);
	d->group_name =
		xstrdup(o->group_name ? o->group_name : DEFAULT_GROUP_NAME);
	if (o->group_id)
		d->group_id = xstrdup(o->group_id);
	else if (o->group_name)
		d->group_id = derive_group_id(o->group_name);
	else
		d->group_id = xstrdup(DEFAULT_GROUP_ID);
	if (!agent_id_ok(d->group_id))
		return err_set(e, ERR_USAGE,
			       "invalid deployment group id '%s': use "
			       "letters, digits, '.', '_' and '-'",
			       d->group_id);
	if (o->ssh && transport_parse_ssh(o->ssh, &d->ssh_user, &d->ssh_host,
					  &d->ssh_port, e) < 0)
		return -1;
	d->host = o->host ? o->host : o->ssh ? d->ssh_host : "local";
	if (!agent_id_ok(d->host))
		return err_set(e, ERR_USAGE,
			       "invalid host name '%s': use letters, digits, "
			       "'.', '_' and '-'",
			       d->host);
	if (o->ssh) {
		/* Paths on the remote host: not checked here. */
		if (o->root && o->root[0] != '/')
			return err_set(e, ERR_USAGE,
				       "--root: '%s' must be an absolute path "
				       "on the remote host",
				       o->root);
		d->host_root = xstrdup(o->root ? o->root : "/");
		d->deployment_root =
			o->deployment_root
				? xstrdup(o->deployment_root)
				: fs_join(d->host_root, AGENT_DEPLOYMENT_ROOT);
		d->control_dir = fs_join(d->st.dir, "ssh");
		if (fs_mkdir_p(d->control_dir, 0700, e) < 0)
			return -1;
	} else if (o->root) {
		if (!fs_is_dir(o->root))
			return err_set(e, ERR_USAGE,
				       "--root: '%s' is not a directory",
				       o->root);
		d->host_root = fs_abspath(o->root);
		d->deployment_root =
			o->deployment_root
				? fs_abspath(o->deployment_root)
				: fs_join(d->host_root, AGENT_DEPLOYMENT_ROOT);
	} else {
		char *hd = xasprintf("%s/hosts/%s", d->st.dir, d->host);

		d->host_root = fs_join(hd, "root");
		d->deployment_root = o->deployment_root
					     ? fs_abspath(o->deployment_root)
					     : fs_join(hd, "deployment-root");
		free(hd);
		if (fs_mkdir_p(d->host_root, 0755, e) < 0)
			return -1;
	}
	{
		struct sw_err ignored = SW_ERR_INIT;

		if (bundle_detect(d->bundle, &d->kind, &ignored) < 0)
			d->kind = BUNDLE_UNKNOWN;
	}
	d->dep_dir = xasprintf("%s/deployments/%s", d->st.dir, d->id);
	if (fs_exists(d->dep_dir))
		return err_set(e, ERR_USAGE,
			       "deployment %s already exists (%s)", d->id,
			       d->dep_dir);
	if (fs_mkdir_p(d->dep_dir, 0755, e) < 0)
		return -1;
	{
		char *log = fs_join(d->dep_dir, "deployment.log");

		d->log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0644);
		if (d->log_fd < 0)
			err_sys(e, "cannot create '%s'", log);
		free(log);
		if (d->log_fd < 0)
			return -1;
	}
	if (o->ssh && prepare_stream(d, e) < 0)
		return -1;
	return 0;
}

/* Run the host's agent and read its stream to the end. */
static int run_host(struct drv *d, struct sw_err *e)
{
	const struct transport_host h = {
		.name = d->host,
		.root = d->host_root,
		.deployment_root = d->deployment_root,
		.ssh = d->o->ssh,
		.ssh_user = d->ssh_user,
		.ssh_host = d->ssh_host,
		.ssh_port = d->ssh_port,
		.control_dir = d->control_dir,
	};
	const struct agent_request rq = {
		d->bundle,     d->stream,
		d->id,	       d->application,
		d->group_name, d->group_id,
		d->o->feb,     d->o->ignore_application_stop_failures,
		d->o->traffic, d->o->max_revisions,
	};
	const struct transport *t = transport_for(&h);
	struct transport_run run = TRANSPORT_RUN_INIT;
	struct agent_proto_reader rd;
	bool forwarded = false;
	int status = 0;
	char chunk[65536];

	agent_proto_reader_init(&rd, &d->r);
	rd.on_event = on_event;
	rd.on_line = on_line;
	rd.data = d;
	if (t->start(&h, &rq, &run, e) < 0) {
		agent_proto_reader_release(&rd);
		return -1;
	}
	for (;;) {
		struct pollfd p[2] = { { run.out_fd, POLLIN, 0 },
				       { proc_sigfd(), POLLIN, 0 } };
		ssize_t n;

		if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			proc_sigfd_drain();
			/* A TERM or HUP to us alone: pass it on, once (a
			 * Ctrl-C reached the agent's group already). */
			if (proc_stop_signal() && !forwarded) {
				forwarded = true;
				if (proc_stop_signal() != SIGINT)
					kill(run.pid, SIGTERM);
			}
		}
		if (!p[0].revents)
			continue;
		n = read(run.out_fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		agent_proto_feed(&rd, chunk, (size_t)n);
	}
	agent_proto_finish(&rd);
	close(run.out_fd);
	status = proc_wait(run.pid);
	if (!rd.got_result) {
		/* The agent died without saying how it ended. */
		d->r.status = AGENT_FAILED;
		d->r.exit = ERR_FAILED;
		free(d->r.message);
		if (WIFSIGNALED(status))
			d->r.message =
				xasprintf("the agent was killed by signal %d",
					  WTERMSIG(status));
		else
			d->r.message = xasprintf(
				"the agent ended (exit status %d) without a "
				"result",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		d->error_code = "AGENT_ISSUE";
	}
	agent_proto_reader_release(&rd);
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

static const char *deployment_status(const struct drv *d)
{
	return d->r.status == AGENT_SUCCEEDED ? "Succeeded" : "Failed";
}

static char *report_text(const struct drv *d)
{
	json_object *o = json_object_new_object(), *ov, *insts, *in, *evs, *rv;
	const struct deploy_opts *opt = d->o;
	bool ok = d->r.status == AGENT_SUCCEEDED;
	char *text;

	add(o, "deploymentId", jstr(d->id));
	add(o, "applicationName", jstr(d->application));
	add(o, "deploymentGroupName", jstr(d->group_name));
	add(o, "deploymentGroupId", jstr(d->group_id));
	add(o, "deploymentConfigName",
	    jstr(opt->config ? opt->config : DEFAULT_CONFIG));
	add(o, "status", jstr(deployment_status(d)));
	add(o, "createTime", jtime(d->start_ms));
	add(o, "startTime", jtime(d->start_ms));
	add(o, "completeTime", jtime(d->end_ms));
	add(o, "creator", jstr("user"));
	rv = json_object_new_object();
	add(rv, "revisionType", jstr("Local"));
	add(rv, "location", jstr(d->bundle));
	add(rv, "bundleType", jstr(bundle_kind_name(d->kind)));
	add(o, "revision", rv);
	add(o, "fileExistsBehavior",
	    jstr(opt->feb == APPSPEC_FEB_UNSET ? "DISALLOW"
					       : appspec_feb_name(opt->feb)));
	add(o, "ignoreApplicationStopFailures",
	    json_object_new_boolean(opt->ignore_application_stop_failures));
	if (!ok) {
		json_object *ei = json_object_new_object();

		add(ei, "code", jstr(d->error_code));
		add(ei, "message", jstr(d->error_msg));
		add(o, "errorInformation", ei);
	}
	ov = json_object_new_object();
	add(ov, "Pending", json_object_new_int(0));
	add(ov, "InProgress", json_object_new_int(0));
	add(ov, "Succeeded", json_object_new_int(ok));
	add(ov, "Failed", json_object_new_int(!ok));
	add(ov, "Skipped", json_object_new_int(0));
	add(ov, "Ready", json_object_new_int(0));
	add(o, "deploymentOverview", ov);
	insts = json_object_new_array();
	in = json_object_new_object();
	add(in, "instanceId", jstr(d->host));
	add(in, "status", jstr(deployment_status(d)));
	add(in, "hostRoot", jstr(d->host_root));
	add(in, "deploymentRoot", jstr(d->deployment_root));
	add(in, "startTime",
	    jtime(d->r.start_ms ? d->r.start_ms : d->start_ms));
	add(in, "lastUpdatedAt", jtime(d->r.end_ms ? d->r.end_ms : d->end_ms));
	evs = json_object_new_array();
	for (int i = 0; i < APPSPEC_NEVENTS; i++)
		if (d->r.events[i].included)
			json_object_array_add(evs, event_json(&d->r.events[i]));
	add(in, "lifecycleEvents", evs);
	json_object_array_add(insts, in);
	add(o, "instances", insts);
	add(o, "rollbackInfo", NULL);
	text = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

static int write_reports(struct drv *d, struct sw_err *e)
{
	char *text = report_text(d), *path = fs_join(d->dep_dir, "report.json");
	size_t n = strlen(text);
	int ret = fs_write_atomic(path, text, n, 0644, e);

	if (!ret && d->o->report)
		ret = fs_write_atomic(d->o->report, text, n, 0644, e);
	free(path);
	free(text);
	return ret;
}

static void drv_release(struct drv *d)
{
	if (d->log_fd >= 0)
		close(d->log_fd);
	state_release(&d->st);
	free(d->id);
	free(d->bundle);
	free(d->application);
	free(d->group_name);
	free(d->group_id);
	free(d->host_root);
	free(d->deployment_root);
	free(d->dep_dir);
	free(d->error_msg);
	free(d->ssh_user);
	free(d->ssh_host);
	free(d->control_dir);
	free(d->stream);
	buf_release(&d->line);
	agent_result_release(&d->r);
}

void deploy_run(const struct deploy_opts *o, int *status)
{
	struct drv d = {
		.o = o, .log_fd = -1, .line = BUF_INIT, .r = AGENT_RESULT_INIT
	};
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();

	d.term_lines = !o->quiet;
	d.start_ms = proc_wall_ms();
	if (proc_signals_init(&e) < 0 || resolve(&d, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		*status = e.code ? e.code : ERR_SYSTEM;
		goto out;
	}
	fprintf(stderr, "slipway: deployment %s of %s to %s (group %s)\n", d.id,
		o->bundle, d.host, d.group_name);
	if (run_host(&d, &e) < 0) {
		d.r.status = AGENT_FAILED;
		d.r.exit = e.code ? e.code : ERR_SYSTEM;
		d.r.message = xstrdup(e.msg);
		d.error_code = "AGENT_ISSUE";
	}
	d.end_ms = proc_wall_ms();
	if (d.r.status != AGENT_SUCCEEDED) {
		if (!d.error_code)
			d.error_code = d.r.exit == ERR_SPEC ? "INVALID_REVISION"
				       : proc_stop_signal()
					       ? "MANUAL_STOP"
					       : "HEALTH_CONSTRAINTS";
		d.error_msg = xasprintf("%s: %s", d.host,
					d.r.message ? d.r.message : "failed");
	}
	err_clear(&e);
	if (write_reports(&d, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		*status = ERR_SYSTEM;
		goto out;
	}
	*status = d.r.status == AGENT_SUCCEEDED ? 0
		  : d.r.exit > 0		? d.r.exit
						: ERR_FAILED;
	if (*status == ERR_USAGE)
		*status = ERR_FAILED;
	if (d.r.status == AGENT_SUCCEEDED)
		fprintf(stderr,
			"slipway: deployment %s Succeeded on 1 of 1 hosts in "
			"%lld ms; report: %s/report.json\n",
			d.id, (long long)(proc_now_ms() - t0), d.dep_dir);
	else
		fprintf(stderr,
			"slipway: deployment %s Failed: %s; report: "
			"%s/report.json\n",
			d.id, d.error_msg, d.dep_dir);
out:
	drv_release(&d);
}
