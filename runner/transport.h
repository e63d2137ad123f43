/*
 * transport: how the driver of a deployment reaches a host's agent. Every
 * transport runs `slipway agent deploy ...` on the host and hands back its
 * stdout, a stream of agent_proto lines; the on-host code is the same for
 * every transport.
 *
 *   const struct transport *t = transport_for(&host);
 *   struct transport_run run = TRANSPORT_RUN_INIT;
 *   if (t->start(&host, &req, &run, &e) < 0) ...   -- the host failed
 *   ... read run.out_fd to EOF into an agent_proto_reader ...
 *   int status = proc_wait(run.pid);
 *
 * Transports: "local" (a host on this machine: a rehearsal host under the
 * state directory, or --root DIR) runs the agent's code in a fork of this
 * process, writing the same protocol as `slipway agent deploy`. A
 * remote transport (ssh) fits the same interface: it runs the agent over
 * a connection and streams the bundle to it.
 */
#ifndef SW_TRANSPORT_H
#define SW_TRANSPORT_H

#include <stdbool.h>
#include <sys/types.h>

#include "appspec.h"
#include "err.h"
#include "strvec.h"

struct transport_host {
	const char *name; /* as in reports and output prefixes */
	const char *root; /* the host's filesystem view (on the host) */
	const char *deployment_root; /* the agent's state (on the host) */
	/* remote hosts: "[user@]host[:port]" as written, parsed below */
	const char *ssh;
	const char *ssh_user; /* NULL: ssh's default (~/.ssh/config) */
	const char *ssh_host;
	int ssh_port; /* 0: ssh's default */
	const char *control_dir; /* a private directory for ControlPath
				    sockets (the state's ssh/) */
};

/* What the agent is asked to do on one host. */
struct agent_request {
	const char *bundle; /* absolute path on the driver's machine */
	/* An archive of the bundle that a remote transport streams to the
	 * agent's stdin ("slipway agent deploy ... -"): the bundle itself
	 * when it is a file, a zip of it when it is a directory. */
	const char *stream;
	const char *deployment_id;
	const char *application_name;
	const char *deployment_group_name;
	const char *deployment_group_id;
	enum appspec_feb feb;
	bool ignore_application_stop_failures;
	bool traffic;
	unsigned max_revisions; /* 0: the default */
};

struct transport_run {
	pid_t pid; /* the process to wait for */
	int out_fd; /* its stdout: agent_proto lines */
};

#define TRANSPORT_RUN_INIT                                                     \
	{                                                                      \
		0, -1                                                          \
	}

struct transport {
	const char *name;
	int (*start)(const struct transport_host *h,
		     const struct agent_request *rq, struct transport_run *run,
		     struct sw_err *e);
};

extern const struct transport transport_local;
extern const struct transport transport_ssh;

/*
 * Split "[user@]host[:port]": *user (NULL when absent), *host, *port (0
 * when absent); the caller frees both strings. ERR_USAGE with a message
 * for an empty host, a host with spaces or '/', a port outside 1-65535,
 * a user outside [A-Za-z0-9._-].
 */
int transport_parse_ssh(const char *s, char **user, char **host, int *port,
			struct sw_err *e);

/* transport_ssh for a host with ssh, else transport_local. */
const struct transport *transport_for(const struct transport_host *h);

/* The agent's command line for a request (argv[0] not included):
 * "agent", "deploy", options..., bundle (or "-" when rq->stream is to be
 * sent on stdin: pass stdin_bundle). Shared by the transports. */
void transport_agent_args(const struct transport_host *h,
			  const struct agent_request *rq, bool stdin_bundle,
			  struct strvec *args);

#endif
