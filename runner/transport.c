#include "transport.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent_proto.h"
#include "hostbox.h"
#include "nsview.h"
#include "proc.h"
#include "sandbox.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

void transport_agent_args(const struct transport_host *h,
			  const struct agent_request *rq, bool stdin_bundle,
			  struct strvec *args)
{
	strvec_push(args, "agent");
	strvec_push(args, "deploy");
	if (h->deployment_root) {
		strvec_push(args, "--deployment-root");
		strvec_push(args, h->deployment_root);
	}
	if (h->root) {
		strvec_push(args, "--host-root");
		strvec_push(args, h->root);
	}
	strvec_push(args, "--deployment-id");
	strvec_push(args, rq->deployment_id);
	strvec_push(args, "--application");
	strvec_push(args, rq->application_name);
	strvec_push(args, "--deployment-group");
	strvec_push(args, rq->deployment_group_name);
	strvec_push(args, "--deployment-group-id");
	strvec_push(args, rq->deployment_group_id);
	if (rq->feb != APPSPEC_FEB_UNSET) {
		strvec_push(args, "--file-exists-behavior");
		strvec_push(args, appspec_feb_name(rq->feb));
	}
	if (rq->ignore_application_stop_failures)
		strvec_push(args, "--ignore-application-stop-failures");
	if (rq->traffic)
		strvec_push(args, "--traffic");
	if (rq->traffic_remote && rq->traffic_wait_ms > 0)
		strvec_pushf(args, "--traffic-remote=%llds",
			     (long long)(rq->traffic_wait_ms + 999) / 1000);
	else if (rq->traffic_remote)
		strvec_push(args, "--traffic-remote");
	if (rq->events)
		strvec_pushf(args, "--events=%s", rq->events);
	if (rq->max_revisions)
		strvec_pushf(args, "--max-revisions=%u", rq->max_revisions);
	if (rq->max_bundle_bytes)
		strvec_pushf(args, "--max-bundle-size=%llu",
			     (unsigned long long)rq->max_bundle_bytes);
	if (rq->max_bundle_ratio)
		strvec_pushf(args, "--max-bundle-ratio=%llu",
			     (unsigned long long)rq->max_bundle_ratio);
	if (rq->keep_deployment) {
		strvec_push(args, "--keep-deployment");
		strvec_push(args, rq->keep_deployment);
	}
	strvec_push(args, "--");
	strvec_push(args, stdin_bundle ? "-" : rq->bundle);
}

/*
 * In the local agent's child, for a sandboxed host: enter it and set the
 * agent's paths as they are inside (root "/", its state at
 * HOSTBOX_AGENT_ROOT). A bundle under the host's deployment root (a
 * rollback's archive) is opened inside, where the host's links cannot
 * lead out; any other (the user's, on this machine) is opened here,
 * before, and read through /proc/self/fd. Keeps only stdio, out and that
 * descriptor; the agent leaves our session (no terminal for the hooks).
 */
/* Close every descriptor from 3 up but a, b and c. */
static void close_keep3(int a, int b, int c)
{
	int v[3] = { a, b, c }, lo = 3;

	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (v[j] < v[i]) {
				int t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
	for (int i = 0; i < 3; i++) {
		if (v[i] > lo)
			syscall(SYS_close_range, (unsigned)lo,
				(unsigned)v[i] - 1, 0U);
		if (v[i] + 1 > lo)
			lo = v[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)lo, ~0U, 0U);
}

static int enter_box(const struct transport_host *h,
		     const struct agent_request *rq, struct agent_opts *o,
		     char *inside, size_t len, int out, int *traffic_fd)
{
	size_t dl = strlen(h->deployment_root);
	struct stat st;
	int bfd = -1;

	if (!strncmp(rq->bundle, h->deployment_root, dl) &&
	    rq->bundle[dl] == '/') {
		snprintf(inside, len, "%s%s", HOSTBOX_AGENT_ROOT,
			 rq->bundle + dl);
	} else {
		bfd = open(rq->bundle, O_RDONLY | O_CLOEXEC);
		if (bfd < 0) {
			fprintf(stderr,
				"error: host %s: cannot open '%s': %s\n",
				h->name, rq->bundle, strerror(errno));
			return -1;
		}
		snprintf(inside, len, "/proc/self/fd/%d", bfd);
	}
	if (*traffic_fd >= 0 && bfd >= 0) {
		/* three to keep: the balancer's goes above the other two */
		int moved = fcntl(*traffic_fd, F_DUPFD_CLOEXEC,
				  (out > bfd ? out : bfd) + 1);

		if (moved < 0) {
			fprintf(stderr, "slipway: host %s: dup: %s\n", h->name,
				strerror(errno));
			return -1;
		}
		*traffic_fd = moved;
		close_keep3(out, bfd, moved);
	} else {
		nsv_close_others(out, bfd >= 0		 ? bfd
				      : *traffic_fd >= 0 ? *traffic_fd
							 : out);
	}
	if (sandbox_enter(h->box, -1) < 0) {
		fprintf(stderr,
			"error: host %s: cannot enter its sandbox: %s\n",
			h->name, strerror(errno));
		return -1;
	}
	/* the pid was the host's init when it was looked up: check that
	 * this is still the host (not a process that took the pid over) */
	if (stat("/proc/self/ns/mnt", &st) < 0 ||
	    (unsigned long long)st.st_ino != h->box_mntns) {
		fprintf(stderr, "error: host %s: its sandbox has ended\n",
			h->name);
		return -1;
	}
	setsid();
	o->bundle = inside;
	o->bundle_name = rq->bundle;
	o->deployment_root = HOSTBOX_AGENT_ROOT;
	o->host_root = "/";
	return 0;
}

/*
 * A local host's agent is a fork of this process running the agent's
 * code (agent_proto_serve), as `slipway agent deploy` would, writing the
 * same protocol into a pipe: no exec, no second start-up. It stays in
 * our process group, so a Ctrl-C reaches it as it reaches us, and takes
 * our death (SIGKILL too) as a SIGTERM.
 */
static int local_start(const struct transport_host *h,
		       const struct agent_request *rq,
		       struct transport_run *run, struct sw_err *e)
{
	int p[2];
	pid_t parent, pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "cannot fork the agent of host %s", h->name);
	}
	if (pid == 0) {
		struct agent_opts o = AGENT_OPTS_INIT;
		struct sw_err ce = SW_ERR_INIT;
		char inside[PATH_MAX];
		FILE *out;
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int traffic_fd = rq->traffic_fd ? *rq->traffic_fd : -1;

		close(p[0]);
		/* Our death (even by SIGKILL) is a stop, as a SIGTERM to us
		 * is: the running hook is stopped, nothing more runs. Until
		 * the agent's handler is in place nothing has started, and a
		 * SIGTERM just ends it. In a sandbox this process stays
		 * outside and forwards the signal to the agent inside. */
		signal(SIGTERM, SIG_DFL);
		proc_die_with_parent(parent, SIGTERM);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			close(devnull);
		}
		if (h->box) {
			if (enter_box(h, rq, &o, inside, sizeof(inside), p[1],
				      &traffic_fd) < 0)
				_exit(ERR_SYSTEM);
		} else {
			o.bundle = rq->bundle;
			if (rq->unpacked) {
				o.bundle = rq->unpacked;
				o.bundle_name = rq->bundle;
				o.link_bundle = true;
			}
			o.deployment_root = h->deployment_root;
			o.host_root = h->root;
		}
		out = fdopen(p[1], "w");
		if (!out || proc_signals_after_fork(&ce) < 0)
			_exit(ERR_SYSTEM);
		o.deployment_id = rq->deployment_id;
		o.application_name = rq->application_name;
		o.deployment_group_name = rq->deployment_group_name;
		o.deployment_group_id = rq->deployment_group_id;
		o.feb = rq->feb;
		o.ignore_application_stop_failures =
			rq->ignore_application_stop_failures;
		o.traffic = rq->traffic;
		o.events = rq->events;
		o.max_revisions = rq->max_revisions;
		o.max_bundle_bytes = rq->max_bundle_bytes;
		o.max_bundle_ratio = rq->max_bundle_ratio;
		o.keep_deployment = rq->keep_deployment;
		o.part = rq->part;
		o.stop_after_ms = rq->stop_after_ms;
		o.bg_rollback = rq->bg_rollback;
		o.resume = rq->resume;
		o.traffic_fn = rq->traffic_fn;
		o.traffic_data = rq->traffic_data;
		if (rq->traffic_fd) /* our copy of it: where it is now */
			*rq->traffic_fd = traffic_fd;
		_exit(agent_proto_serve(&o, out) & 0xff);
	}
	close(p[1]);
	run->pid = pid;
	run->out_fd = p[0];
	return 0;
}

const struct transport transport_local = { "local", local_start };

const struct transport *transport_for(const struct transport_host *h)
{
	return h->ssh ? &transport_ssh : &transport_local;
}

int transport_parse_ssh(const char *s, char **user, char **host, int *port,
			struct sw_err *e)
{
	const char *at = strchr(s, '@'), *h = at ? at + 1 : s, *colon;
	size_t hl;

	*user = *host = NULL;
	*port = 0;
	if (at) {
		if (at == s || *s == '-')
			return err_set(e, ERR_USAGE, "ssh '%s': bad user name",
				       s);
		for (const char *p = s; p < at; p++)
			if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
				return err_set(e, ERR_USAGE,
					       "ssh '%s': bad user name", s);
	}
	colon = strrchr(h, ':');
	hl = colon ? (size_t)(colon - h) : strlen(h);
	if (!hl)
		return err_set(e, ERR_USAGE, "ssh '%s': no host", s);
	for (size_t i = 0; i < hl; i++)
		if (isspace((unsigned char)h[i]) || h[i] == '/' ||
		    h[i] == '@' || (h[i] == '-' && i == 0))
			return err_set(e, ERR_USAGE, "ssh '%s': bad host name",
				       s);
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);

		if (!colon[1] || *end || v < 1 || v > 65535)
			return err_set(e, ERR_USAGE,
				       "ssh '%s': the port must be 1-65535", s);
		*port = (int)v;
	}
	*user = at ? xstrndup(s, (size_t)(at - s)) : NULL;
	*host = xstrndup(h, hl);
	return 0;
}
