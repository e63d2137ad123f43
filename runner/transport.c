#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_proto.h"
#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

void transport_agent_args(const struct transport_host *h,
			  const struct agent_request *rq, struct strvec *args)
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
	if (rq->max_revisions)
		strvec_pushf(args, "--max-revisions=%u", rq->max_revisions);
	strvec_push(args, "--");
	strvec_push(args, rq->bundle);
}

/*
 * A local host's agent is a fork of this process running the agent's
 * code (agent_proto_serve), as `slipway agent deploy` would, writing the
 * same protocol into a pipe: no exec, no second start-up. It stays in
 * our process group, so a Ctrl-C reaches it as it reaches us.
 */
static int local_start(const struct transport_host *h,
		       const struct agent_request *rq,
		       struct transport_run *run, struct sw_err *e)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "cannot fork the agent of host %s", h->name);
	}
	if (pid == 0) {
		struct agent_opts o = AGENT_OPTS_INIT;
		struct sw_err ce = SW_ERR_INIT;
		FILE *out;
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		close(p[0]);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			close(devnull);
		}
		out = fdopen(p[1], "w");
		if (!out || proc_signals_after_fork(&ce) < 0)
			_exit(ERR_SYSTEM);
		o.bundle = rq->bundle;
		o.deployment_root = h->deployment_root;
		o.host_root = h->root;
		o.deployment_id = rq->deployment_id;
		o.application_name = rq->application_name;
		o.deployment_group_name = rq->deployment_group_name;
		o.deployment_group_id = rq->deployment_group_id;
		o.feb = rq->feb;
		o.ignore_application_stop_failures =
			rq->ignore_application_stop_failures;
		o.traffic = rq->traffic;
		o.max_revisions = rq->max_revisions;
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
	(void)h;
	return &transport_local;
}
