/*
 * agent: the on-host half of a deployment, what the CodeDeploy agent does
 * on one host for one deployment (reference codedeploy.md sections 2 and
 * 4), from the revision to the last lifecycle event.
 *
 *   struct agent_opts o = AGENT_OPTS_INIT;
 *   o.bundle = "app.zip";                     -- directory or archive
 *   o.deployment_root = "/opt/codedeploy-agent/deployment-root";
 *   o.host_root = "/";                        -- the host's filesystem view
 *   o.deployment_id = "d-AB12CD34E"; o.application_name = ...;
 *   o.deployment_group_name = ...; o.deployment_group_id = ...;
 *   o.on_event = show_event; o.on_line = show_line; o.data = ...;
 *   struct agent_result r = AGENT_RESULT_INIT;
 *   agent_deploy(&o, &r);
 *   ... r.status, r.exit, r.message, r.events[i] ...
 *   agent_result_release(&r);
 *
 * The deployment root has the agent's layout (section 4.1):
 *   <root>/<dg-id>/<dep-id>/{bundle.tar, deployment-archive/,
 *   logs/scripts.log}, <root>/deployment-instructions/{<dg-id>-cleanup,
 *   <dg-id>-install.json, <dg-id>_last_successful_install,
 *   <dg-id>_most_recent_install}, <root>/deployment-logs/
 *   codedeploy-agent-deployments.log, <root>/ongoing-deployment/<dep-id>.
 * The deployments log holds the hooks' messages only, as the agent's (it
 * is made by the first one); the appspec's warnings and slipway's notes
 * go to on_line as SCRIPT_NOTICE lines. A deployment that ends before
 * DownloadBundle (a failed ApplicationStop) removes its staging copy.
 *
 * With o.events, the events listed run instead, in their order, with
 * DownloadBundle and Install first unless listed (agent_events_parse), as
 * codedeploy-local --events runs them.
 *
 * Lifecycle (section 2.1, 2.3): [BeforeBlockTraffic, BlockTraffic,
 * AfterBlockTraffic when o.traffic], ApplicationStop, DownloadBundle,
 * BeforeInstall, Install, AfterInstall, ApplicationStart,
 * ValidateService, [BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic
 * when o.traffic]; BlockTraffic and AllowTraffic call o.traffic_fn
 * when there is one. ApplicationStop and the Block events run the scripts of
 * the last successful revision (no-ops on a first deployment); the others
 * the current one's. The pointer _last_successful_install is written at
 * the end of Install, as the agent does. The first failing event fails
 * the host; later events are Skipped. With
 * ignore_application_stop_failures a failure of ApplicationStop or of a
 * Block event is recorded and the deployment goes on.
 *
 * One deliberate difference in order: the bundle is unpacked and its
 * appspec read before ApplicationStop (into a staging directory that
 * becomes deployment-archive at DownloadBundle), so that a bundle that
 * cannot be deployed (no appspec, a bad appspec, a hostile archive) is
 * refused with exit 3 before the running application is stopped; the
 * deployment's directory is then removed and nothing else on the host
 * changes.
 *
 * Hooks run with the deployment archive as their working directory (the
 * agent leaves its own cwd), with SLIPWAY_HOST_ROOT set to the host root.
 */
#ifndef SW_AGENT_H
#define SW_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "appspec.h"
#include "buf.h"
#include "err.h"
#include "script.h"

enum agent_status {
	AGENT_PENDING, /* not reached (yet) */
	AGENT_IN_PROGRESS,
	AGENT_SUCCEEDED,
	AGENT_FAILED,
	AGENT_SKIPPED
};

/* "Pending", "InProgress", "Succeeded", "Failed", "Skipped". */
const char *agent_status_name(enum agent_status st);
int agent_status_from_name(const char *name, enum agent_status *st);

struct agent_event {
	enum appspec_event event;
	bool included; /* part of this deployment's lifecycle */
	enum agent_status status;
	int64_t start_ms, end_ms; /* 0 when not started / not ended */
	/* diagnostics when Failed (owned): the agent's error code name,
	 * the script that failed (may be NULL), the message, the log tail */
	char *error_code;
	char *script_name;
	char *message;
	char *log_tail;
	bool ignored; /* failed but ignore_application_stop_failures */
};

struct agent_result {
	enum agent_status status; /* SUCCEEDED or FAILED at the end */
	int exit; /* 0, 1, 3 (bad bundle or appspec), 111 (system) */
	char *message; /* why it failed (owned); NULL when it succeeded */
	int64_t start_ms, end_ms;
	struct agent_event events[APPSPEC_NEVENTS];
	/* the events of this deployment in the order they run (or, read
	 * from an agent's stream, in the order they were reported) */
	enum appspec_event order[APPSPEC_NEVENTS];
	size_t nr_order;
};

#define AGENT_RESULT_INIT                                                      \
	{                                                                      \
		.status = AGENT_PENDING                                        \
	}

/* An event changed status (InProgress when it starts, then its final
 * status); ev points into the result being filled. */
typedef void (*agent_event_fn)(const struct agent_event *ev, void *data);
/* A line of a hook's output (or a notice of slipway's), during event. */
typedef void (*agent_line_fn)(enum appspec_event event,
			      enum script_stream stream, const char *line,
			      size_t len, void *data);

/* BlockTraffic or AllowTraffic's work, the load balancer's: 0, or -1
 * with why in e (the event fails); a line on what was done may go to
 * note, shown as the agent's notices are. */
typedef int (*agent_traffic_fn)(enum appspec_event ev, struct buf *note,
				struct sw_err *e, void *data);

/*
 * The part of the lifecycle a host runs in a blue/green deployment
 * (reference 2.1): the replacement fleet all but the Block events, the
 * original fleet the Block events only (and ApplicationStop, after
 * o.stop_after_ms, when it is to be terminated); in a blue/green
 * rollback the original fleet the Allow events, the replacement fleet
 * the Block events. With ready.action STOP_DEPLOYMENT the replacement
 * fleet runs its install first (AGENT_PART_INSTALL) and, once the
 * deployment is continued, the Allow events. The traffic events of these
 * parts run whatever o.traffic says.
 */
#define AGENT_WAIT_OVER "termination-wait-over"
#define AGENT_TRAFFIC_WAIT_MS (2 * 3600 * 1000)

enum agent_part {
	AGENT_PART_ALL = 0, /* in place */
	AGENT_PART_REPLACEMENT, /* ApplicationStop .. AfterAllowTraffic */
	AGENT_PART_BLOCK, /* Before/Block/AfterBlockTraffic */
	AGENT_PART_BLOCK_STOP, /* those, then ApplicationStop */
	AGENT_PART_ALLOW, /* Before/Allow/AfterAllowTraffic */
	AGENT_PART_INSTALL, /* ApplicationStop .. ValidateService */
};

struct agent_opts {
	const char *bundle; /* directory or archive; "-": an archive read
			       from stdin, kept as <dep-id>/bundle.tar */
	const char *deployment_root; /* absolute; created if missing */
	const char *host_root; /* absolute; NULL: "/" */
	const char *deployment_id;
	const char *application_name;
	const char *deployment_group_name;
	const char *deployment_group_id;
	enum appspec_feb feb; /* --file-exists-behavior; UNSET: DISALLOW */
	bool ignore_application_stop_failures;
	bool traffic; /* run the load balancer events too */
	/* With traffic: what BlockTraffic and AllowTraffic do (NULL:
	 * nothing, they succeed at once). */
	agent_traffic_fn traffic_fn;
	void *traffic_data;
	enum agent_part part;
	/* AGENT_PART_BLOCK_STOP: the wait before ApplicationStop; it ends
	 * early once <deployment dir>/AGENT_WAIT_OVER exists (CodeDeploy's
	 * ContinueDeployment with TERMINATION_WAIT) */
	int64_t stop_after_ms;
	/* A blue/green rollback (DeploymentCreator codeDeployRollback,
	 * DeploymentType BLUE_GREEN): the Block events run the scripts of the
	 * most recent revision, the Allow events those of the last
	 * successful one, until the current one is downloaded (2.3). */
	bool bg_rollback;
	/* The rest of a deployment that already ran on this host (a
	 * replacement host's Allow events once a STOP_DEPLOYMENT deployment
	 * is continued): its directory is there, bundle is its
	 * deployment-archive. */
	bool resume;
	/* A host over ssh behind a load balancer: BlockTraffic and
	 * AllowTraffic are done by the machine that deploys, which writes
	 * <deployment dir>/traffic-<Event> when done: "ok" or "failed",
	 * then a line for the log. The event fails when it is not there
	 * within traffic_wait_ms (0: AGENT_TRAFFIC_WAIT_MS), or at once
	 * when the reader of our stdout (the deploying machine, over its
	 * connection) is gone. */
	bool traffic_remote;
	int64_t traffic_wait_ms;
	/* codedeploy-local's --events: the events to run, in this order,
	 * comma-separated (agent_events_parse); NULL: the lifecycle */
	const char *events;
	unsigned max_revisions; /* 0: 5 */
	/* Bounds on what the bundle unpacks to (bundle.h); 0: the
	 * defaults, BUNDLE_MAX_BYTES and BUNDLE_MAX_RATIO. */
	uint64_t max_bundle_bytes;
	uint64_t max_bundle_ratio;
	/* Another deployment id whose archive retention keeps too: the
	 * driver's last good one, what a rollback redeploys (the on-host
	 * pointer moves on at every Install, failed ones included). */
	const char *keep_deployment;
	unsigned timeout_cap_s; /* 0: none; else caps every script's */
	const char *const *extra_env; /* NULL-terminated; may be NULL */
	agent_event_fn on_event;
	agent_line_fn on_line;
	void *data;
	/* How to name the bundle in messages and the bundle.tar link when
	 * bundle is a path only this process can use (/proc/self/fd/N on a
	 * sandboxed host); NULL: bundle. */
	const char *bundle_name;
	/* bundle is a directory unpacked once from the archive bundle_name
	 * for several hosts: its files are hard-linked into this host's
	 * deployment-archive (bundle_opts.link_files), which is otherwise
	 * the same as when the archive is unpacked here. */
	bool link_bundle;
};

#define AGENT_MAX_REVISIONS 5

#define AGENT_OPTS_INIT                                                        \
	{                                                                      \
		.feb = APPSPEC_FEB_UNSET                                       \
	}

/*
 * Run the deployment on this host. Always fills *r (r->exit says how it
 * ended); returns r->exit.
 */
int agent_deploy(const struct agent_opts *o, struct agent_result *r);

void agent_result_release(struct agent_result *r);

/*
 * codedeploy-local's --events: a comma-separated list of lifecycle events
 * to run, in that order, instead of the whole lifecycle. The agent's
 * rules: DownloadBundle and Install run first when not listed (and
 * Install after DownloadBundle); listed, DownloadBundle may follow only
 * BeforeBlockTraffic, AfterBlockTraffic and ApplicationStop, Install only
 * those, DownloadBundle and BeforeInstall. Fills order[0..*nr) (at most
 * APPSPEC_NEVENTS). ERR_USAGE with the agent's message for a bad order;
 * also (slipway) for an event listed twice, a reserved one (Start,
 * BlockTraffic, AllowTraffic, End) and a name that is none of the
 * lifecycle's (the agent's custom events: an appspec here has only the
 * nine scriptable events).
 */
int agent_events_parse(const char *list, enum appspec_event *order, size_t *nr,
		       struct sw_err *e);

/* A deployment id as CodeDeploy's: "d-" and 9 characters A-Z0-9. */
char *agent_new_deployment_id(void);

/* A path component that is safe as a deployment or group id: 1-128
 * characters of [A-Za-z0-9._-], not "." or "..". */
bool agent_id_ok(const char *id);

#endif
