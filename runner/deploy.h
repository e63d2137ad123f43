/*
 * deploy: one deployment from the driver's side — the hosts of a
 * deployment group (or one host from the command line), started through
 * their transports under a deployment configuration, their progress
 * shown, the report written, and a rollback when the group asks for it.
 *
 *   struct deploy_opts o = DEPLOY_OPTS_INIT;
 *   o.bundle = "app.zip"; o.group_file = "fleet.yml";
 *   int status;
 *   deploy_run(&o, &status);      -- the process exit status (DESIGN.md)
 *
 * One host without a group file: defaults are codedeploy-local's:
 * APPLICATION_NAME is the bundle as given, the group is LocalFleet with id
 * default-local-deployment-group. A group named with --deployment-group
 * gets an id derived from its name (group_derive_id) unless
 * --deployment-group-id sets one. --root DIR is a host whose filesystem
 * view is DIR, with the agent's state at
 * DIR/opt/codedeploy-agent/deployment-root; without --root a rehearsal
 * host lives under <state>/hosts/<name>/{root,deployment-root}; --ssh
 * reaches a remote host.
 *
 * Isolation: with --isolation sandbox (or auto, where namespaces can be
 * made) a rehearsal host is a sandbox (host.h, lib/hostbox.h), started
 * when first needed and left running: its agent and hooks run inside it,
 * with the host's root as "/". A host whose sandbox is running is always
 * deployed inside it, so ApplicationStop reaches what ApplicationStart
 * started there.
 *
 * A fleet (--group FILE): the hosts of the file, deployed under the
 * configuration (--config, else the file's) by dsched: hosts start in
 * order, unhealthy ones first (those whose last deployment in this group
 * failed, then those never deployed, then the others, each in file
 * order); each runs concurrently through its transport, and its failure
 * counts the moment it happens; a stop lets in-flight hosts finish and
 * skips the rest. A first host that refuses the bundle (exit 3) stops the
 * deployment at once: every host would refuse it.
 *
 * Rollback: when a deployment fails or stops and the group has
 * auto-rollback (and no --no-rollback), or by hand with --rollback, a new
 * deployment (new id) of the group's last successful revision runs on the
 * hosts that received the failed one, with the normal lifecycle. The
 * revision comes from each host's own copy of it, the deployment archive
 * <deployment-root>/<group-id>/<last-good-id>/deployment-archive, which
 * the agent's retention never removes first. The reports link the two
 * deployments (rollbackInfo).
 *
 * Driver state, per group: <state>/groups/<group-id>/last-successful
 * (the id of the last deployment that succeeded) and hosts/<name> (that
 * host's health: "Healthy <deployment-id>" or "Unhealthy <id>").
 *
 * Locks (lib/lock.h): two deployments never run on one deployment group
 * or one host at once. Before it touches anything, a deployment takes
 * the lock of its group (<state>/locks/group-<group-id>.lock; only for a
 * group that is named: --group, --deployment-group or
 * --deployment-group-id), then the lock of each host in the order of
 * their lock files' paths. A host's lock is this machine's
 * (lock_dir(): /run/slipway/locks for root), named by a digest of its
 * deployment root with symbolic links resolved, and for a host reached
 * over SSH of user@host:port too: two groups or two state directories
 * deploying to one host collide, and a host is never written to by a
 * deployment that does not start. On a host reached over SSH, `slipway
 * agent deploy` takes the host's own lock of its deployment root as a
 * deployment from that machine would (deploy_local_host_lock): one held
 * there fails that host ("this host is already deploying deployment
 * ...") instead of refusing the deployment. Any lock held: the deployment is
 * refused (exit 1, "... is already deploying deployment 'd-X' (process
 * N)"; no deployment directory, no host touched). The locks are held by
 * the slipway process and by the local agents it forks, so a host whose
 * agent outlives a killed slipway (a hook still running) stays locked
 * until that agent ends; hooks and what they leave running never hold
 * them. A lock whose holder died is taken over, and a line on stderr
 * names the deployment it belonged to; host lock files a day old that
 * nobody holds (their host was never deployed again) are removed. A rollback runs under the locks
 * of the deployment it rolls back.
 *
 * Load balancer (the group's load-balancer: kind haproxy, lb.h): opened
 * (a managed one started or reused) once the locks are held, before any
 * host starts; the six traffic events run, BlockTraffic and AllowTraffic
 * acting on the host's server from the host's agent process (local
 * transport), or, for a host over ssh (which has a target of its own),
 * from a process of the driver's that answers the agent over ssh
 * (agent_opts.traffic_remote; the agent waits the deregistration delay
 * and health.wait and a minute at most). An answer that cannot be
 * written is followed by a "failed" one; when neither gets there, the
 * host's connection is ended and the host fails, naming the event.
 * Blue/green (deployment-type BLUE_GREEN): the replacement hosts run
 * under the configuration (AGENT_PART_REPLACEMENT), then, once that
 * succeeded, the original hosts all at once (AGENT_PART_BLOCK, or
 * AGENT_PART_BLOCK_STOP and terminated); its rollback runs the original
 * hosts first (AGENT_PART_ALLOW), then the replacement hosts that got
 * the revision (AGENT_PART_BLOCK). With ready.action STOP_DEPLOYMENT
 * the replacement hosts run AGENT_PART_INSTALL; the deployment then says
 * Ready (report.json, its store row) and waits (ready.h) up to ready.wait
 * for `deploy continue` (the replacement hosts then run AGENT_PART_ALLOW,
 * all at once, as the rest of the same deployment, and it goes on) or
 * `deploy stop`; stopped or expired, it ends Stopped (exit 1, or 4 for
 * the wait) with no rollback: nothing moved. With TERMINATE and an
 * original.wait, `deploy continue` during that wait cuts it short (the
 * agents look for AGENT_WAIT_OVER). --probe (probe.h) runs from
 * the start of the deployment to the end of its rollback.
 *
 * Output: each line of a host as "<host> | ..." (names padded to one
 * width), each event's end "<host> | <Event> <Status> (<ms> ms)"; on a
 * terminal a live summary line on stderr (done / in flight / failed /
 * skipped); at the end one summary line on stderr.
 * <state>/deployments/<id>/{deployment.log, report.json} keep them.
 */
#ifndef SW_DEPLOY_H
#define SW_DEPLOY_H

#include <stdbool.h>
#include <stdint.h>

#include "appspec.h"

enum deploy_isolation {
	DEPLOY_ISOLATION_DIR = 0, /* hooks run on this machine, as they are */
	DEPLOY_ISOLATION_SANDBOX, /* rehearsal hosts are sandboxes */
	DEPLOY_ISOLATION_AUTO, /* sandbox where namespaces can be made */
};

struct deploy_opts {
	const char *bundle; /* NULL only with rollback */
	const char *group_file; /* --group */
	const char *root; /* --root: the host's filesystem view */
	const char *deployment_root; /* --deployment-root */
	const char *host; /* --host: the host's name (default "local") */
	const char *ssh; /* --ssh [user@]host[:port]: a remote host */
	const char *deployment_id;
	const char *application;
	const char *group_name;
	const char *group_id;
	const char *config; /* deployment config name */
	enum appspec_feb feb;
	bool ignore_application_stop_failures;
	bool traffic;
	/* -e/--events: codedeploy-local's list of events to run, in order
	 * (agent_events_parse); NULL: the whole lifecycle */
	const char *events;
	bool rollback; /* --rollback: redeploy the last successful revision */
	bool no_rollback; /* --no-rollback */
	/* --rollback-of: with rollback or a bundle (a redeploy of that
	 * revision, never rolled back in turn), the deployment this one
	 * rolls back (a lost one, docs/scale.md): the reports link it */
	const char *rollback_of;
	unsigned max_revisions;
	/* --max-bundle-size, --max-bundle-ratio; 0: the defaults */
	uint64_t max_bundle_bytes, max_bundle_ratio;
	const char *report;
	const char *state_dir;
	bool quiet;
	bool verbose; /* -v: each event's start too */
	/* --isolation: rehearsal hosts as sandboxes (host.h); a host whose
	 * sandbox is running is deployed inside it whatever this says */
	enum deploy_isolation isolation;
	bool host_network; /* --host-network private: a sandbox started
			      now gets a network and address of its own */
	/* Taken already by deploy_lock (slipway run): deploy_run takes no
	 * locks of its own. Borrowed. */
	struct deploy_locks *locks;
	/* --strict: an unknown key in the group file or the appspec is an
	 * error (exit 3) instead of a warning */
	bool strict;
	/* --probe URL[,RATE] (probe.h): requests sent through the load
	 * balancer while the deployment (and its rollback) runs */
	const char *probe;
};

#define DEPLOY_OPTS_INIT                                                       \
	{                                                                      \
		.feb = APPSPEC_FEB_UNSET                                       \
	}

void deploy_run(const struct deploy_opts *o, int *status);

/* The locks a deployment holds (see "Locks" above). */
struct deploy_locks;

/*
 * Take the locks deploy_run(o) would take, for deployment_id (which o
 * must name too), with note (NULL, or a few words such as "run r-1") in
 * each lock file: for a caller with work to do before the deployment
 * starts. Returns 0 and *locks (free with deploy_locks_free), else the
 * exit status, the reason printed on stderr: 1 when a lock is held, 2 or
 * 3 for a group or host that cannot be used, 111 a system error.
 */
int deploy_lock(const struct deploy_opts *o, const char *deployment_id,
		const char *note, struct deploy_locks **locks);
/* Release and free them. NULL: no-op. */
void deploy_locks_free(struct deploy_locks *locks);

/*
 * The lock file in dir (lock_dir()) of the host on this machine whose
 * agent state is deployment_root: what a deployment to it from here
 * takes, and what `slipway agent deploy` takes on a host reached over
 * SSH, so that deployments from two machines collide on the host too.
 * Caller frees; NULL on error.
 */
char *deploy_local_host_lock(const char *dir, const char *deployment_root,
			     struct sw_err *e);

/*
 * slipway plan: the batches a deployment of o->group_file under
 * o->config (NULL: the file's) would use, in host order, its minimum
 * healthy count and success rule, on stdout. Touches no host.
 */
void deploy_plan(const struct deploy_opts *o, int *status);

#endif
