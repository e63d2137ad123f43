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
 *   char *why = transport_explain(&run, host.name, status);  -- always: it
 *           closes run.err_fd; use why (a line, or NULL) when the agent
 *           ended without a result; free it
 *
 * Transports: "local" (a host on this machine: a rehearsal host under the
 * state directory, or --root DIR) runs the agent's code in a fork of this
 * process, writing the same protocol as `slipway agent deploy`. A
 * remote transport (ssh) fits the same interface: it runs the agent over
 * a connection and streams the bundle to it.
 *
 * "ssh" runs the OpenSSH client ($SLIPWAY_SSH, split on spaces, or ssh)
 * in batch mode with keepalives and a ControlMaster socket in
 * h->control_dir, running `slipway agent deploy ... -` on the host
 * ($SLIPWAY_REMOTE_BIN names the remote program) with rq->stream on its
 * stdin (without rq->stream, rq->bundle is a path on the host). ssh
 * stays in our process group, so a Ctrl-C reaches it as it reaches us;
 * a TERM for the driver is passed on with kill(run.pid). A first
 * connection leaves a master ssh for 60 s (ControlPersist), a child of
 * ours once its parent has ended: the driver must not wait for it.
 */
#ifndef SW_TRANSPORT_H
#define SW_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
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
	/* A sandboxed rehearsal host: its holder (lib/hostbox.h); the local
	 * agent then runs inside it, on root "/" with its deployment root
	 * at HOSTBOX_AGENT_ROOT, the bundle opened before it enters. */
	pid_t box;
	unsigned long long box_mntns; /* its mount namespace's inode: the
					 agent checks where it landed */
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
	const char *events; /* --events: a list of events to run; NULL */
	unsigned max_revisions; /* 0: the default */
	uint64_t max_bundle_bytes, max_bundle_ratio; /* 0: the defaults */
	const char *keep_deployment; /* retention keeps it too; NULL */
	/* Local hosts (not sandboxed): the archive bundle unpacked once for
	 * the deployment, a directory whose files are hard-linked into each
	 * host's archive (agent_opts.link_bundle); NULL: none. */
	const char *unpacked;
	/* The local transport only: what BlockTraffic and AllowTraffic do
	 * (agent_opts.traffic_fn), called in the agent's process, and a
	 * descriptor it uses that must stay open in a sandbox (NULL: none;
	 * in the agent's process *traffic_fd is updated where it moves). */
	agent_traffic_fn traffic_fn;
	void *traffic_data;
	int *traffic_fd;
	/* blue/green (local transport only): agent_opts' fields */
	enum agent_part part;
	int64_t stop_after_ms;
	bool bg_rollback;
	bool resume;
	/* a host over ssh behind a load balancer: agent_opts' (the wait
	 * passed as whole seconds, rounded up; 0: the agent's default) */
	bool traffic_remote;
	int64_t traffic_wait_ms;
};

struct transport_run {
	pid_t pid; /* the process to wait for */
	int out_fd; /* its stdout: agent_proto lines */
	/* The transport's own stderr (ssh's, with the remote command's), an
	 * unlinked temporary file read by transport_explain(); -1 when the
	 * transport has none (local). The driver never has to drain it. */
	int err_fd;
};

#define TRANSPORT_RUN_INIT                                                     \
	{                                                                      \
		0, -1, -1                                                      \
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

/* Write text to path on a host over ssh (path.tmp, then renamed): 0, or
 * -1 with why. It waits for ssh. */
int transport_ssh_put(const struct transport_host *h, const char *path,
		      const char *text, struct sw_err *e);

/* transport_ssh for a host with ssh, else transport_local. */
const struct transport *transport_for(const struct transport_host *h);

/* The agent's command line for a request (argv[0] not included):
 * "agent", "deploy", options..., bundle (or "-" when rq->stream is to be
 * sent on stdin: pass stdin_bundle). Shared by the transports. */
void transport_agent_args(const struct transport_host *h,
			  const struct agent_request *rq, bool stdin_bundle,
			  struct strvec *args);

/*
 * Why a run ended badly, as one line for the host's report (caller frees),
 * or NULL when the transport has nothing to add (a local run, or one
 * that ended well). Call it once after proc_wait() with the wait status,
 * whatever happened: it reads and closes run->err_fd.
 */
char *transport_explain(struct transport_run *run, const char *host,
			int wait_status);

/*
 * The ssh transport's reading of an ssh exit: 255 with ssh's stderr
 * (unreachable, unknown host, host key or authentication refused,
 * connection lost), 127 (slipway missing on the host), 126, a signal, or
 * another failure with the last line of stderr. NULL for exit 0. host
 * names the host in the message; stderr_text may be NULL.
 */
char *transport_ssh_explain(const char *host, int wait_status,
			    const char *stderr_text);

#endif
