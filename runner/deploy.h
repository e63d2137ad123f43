/*
 * deploy: one deployment from the driver's side — resolve the host, run
 * its agent through a transport, show its progress, write the report.
 *
 *   struct deploy_opts o = DEPLOY_OPTS_INIT;
 *   o.bundle = "app.zip"; o.root = "/srv/web-1";
 *   int status;
 *   deploy_run(&o, &status);      -- the process exit status (DESIGN.md)
 *
 * Defaults are codedeploy-local's: APPLICATION_NAME is the bundle as
 * given, the group is LocalFleet with id default-local-deployment-group.
 * A group named with --deployment-group gets an id derived from its name
 * (a UUID, stable across runs) unless --deployment-group-id sets one.
 *
 * Hosts: --root DIR is a host whose filesystem view is DIR, with the
 * agent's state at DIR/opt/codedeploy-agent/deployment-root (the agent's
 * own place, so --root / shares it with a real agent); without --root a
 * rehearsal host lives under <state>/hosts/<name>/{root,deployment-root}.
 *
 * Output: each line of the host's hooks as "<host> | [stdout]<line>",
 * each event's end as "<host> | <Event> <Status> (<ms> ms)", then one
 * summary line on stderr. <state>/deployments/<id>/{deployment.log,
 * report.json} keep them.
 */
#ifndef SW_DEPLOY_H
#define SW_DEPLOY_H

#include <stdbool.h>

#include "appspec.h"

struct deploy_opts {
	const char *bundle;
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
	unsigned max_revisions;
	const char *report;
	const char *state_dir;
	bool quiet;
};

#define DEPLOY_OPTS_INIT                                                       \
	{                                                                      \
		.feb = APPSPEC_FEB_UNSET                                       \
	}

/* Built-in configurations a single deployment accepts by name. */
bool deploy_config_known(const char *name);

void deploy_run(const struct deploy_opts *o, int *status);

#endif
