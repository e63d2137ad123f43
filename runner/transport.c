#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

extern char **environ;

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

/* This program, to run as the agent of a local host. */
static char *self_exe(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0)
		return NULL;
	path[n] = '\0';
	return xstrdup(path);
}

static int local_start(const struct transport_host *h,
		       const struct agent_request *rq,
		       struct transport_run *run, struct sw_err *e)
{
	struct proc_opts po = PROC_OPTS_INIT;
	struct strvec argv = STRVEC_INIT;
	char *exe = self_exe();
	int p[2] = { -1, -1 }, ret = -1;

	if (!exe) {
		err_sys(e, "cannot find slipway's own executable");
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		err_sys(e, "cannot create a pipe");
		goto out;
	}
	strvec_push(&argv, exe);
	transport_agent_args(h, rq, &argv);
	po.argv = (const char *const *)argv.v;
	po.env = (const char *const *)environ;
	po.in_fd = -1;
	po.out_fd = p[1];
	po.err_fd = STDERR_FILENO;
	/* Same process group: a Ctrl-C reaches the agent as it reaches us. */
	po.pgid = getpgrp();
	if (proc_spawn(&po, &run->pid, e) < 0)
		goto out;
	run->out_fd = p[0];
	p[0] = -1;
	ret = 0;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	strvec_release(&argv);
	free(exe);
	return ret;
}

const struct transport transport_local = { "local", local_start };

const struct transport *transport_for(const struct transport_host *h)
{
	(void)h;
	return &transport_local;
}
