/*
 * slipway deploy BUNDLE [options]: run one appspec deployment on a host.
 * slipway deploy continue|stop ID: decide for a blue/green deployment
 * that waits (ready.action STOP_DEPLOYMENT; runner/ready.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "build.h"
#include "cli.h"
#include "deploy.h"
#include "fs.h"
#include "probe.h"
#include "ready.h"
#include "report.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

static const char deploy_usage[] =
	"usage: slipway deploy BUNDLE [options]\n"
	"       slipway deploy BUNDLE --group FILE [options]\n"
	"       slipway deploy --rollback [--group FILE | host options]\n"
	"       slipway deploy continue|stop DEPLOYMENT-ID [--state-dir DIR]\n"
	"\n"
	"Deploy a revision as the CodeDeploy agent would: ApplicationStop "
	"(from\n"
	"the last successful revision), DownloadBundle, BeforeInstall, "
	"Install,\n"
	"AfterInstall, ApplicationStart, ValidateService. BUNDLE is a "
	"directory,\n"
	"a .zip, a .tar or a .tar.gz holding appspec.yml at its root.\n"
	"\n"
	"      --group FILE          deploy to the hosts of a deployment group "
	"file\n"
	"                            under its deployment config (see "
	"slipway plan)\n"
	"      --rollback            redeploy the group's last successful "
	"revision\n"
	"                            (from each host's copy of it)\n"
	"      --rollback-of ID      the deployment this one rolls back, with "
	"--rollback\n"
	"                            or BUNDLE (the reports name each other)\n"
	"      --no-rollback         no automatic rollback, whatever the "
	"group says\n"
	"      --strict              an unknown key in the group file or the\n"
	"                            appspec is an error (exit 3)\n"
	"      --root DIR            deploy to a host whose filesystem is DIR "
	"(an\n"
	"                            appspec destination /var/www lands in\n"
	"                            DIR/var/www); --root / installs onto "
	"this\n"
	"                            machine, like codedeploy-local\n"
	"      --host NAME           the host's name (default local); "
	"without\n"
	"                            --root, a rehearsal host under\n"
	"                            <state>/hosts/NAME\n"
	"      --ssh [USER@]HOST[:PORT]\n"
	"                            deploy to a remote host over ssh (its "
	"slipway\n"
	"                            runs the agent; --root is then a path "
	"there,\n"
	"                            default /)\n"
	"      --deployment-root DIR the agent's state (default\n"
	"                            <root>/opt/codedeploy-agent/"
	"deployment-root)\n"
	"      --deployment-id ID    (default: a new d-XXXXXXXXX)\n"
	"      --application NAME    APPLICATION_NAME (default: BUNDLE)\n"
	"      --deployment-group NAME\n"
	"                            DEPLOYMENT_GROUP_NAME (default "
	"LocalFleet)\n"
	"      --deployment-group-id ID\n"
	"                            DEPLOYMENT_GROUP_ID (default: derived "
	"from\n"
	"                            the name, or "
	"default-local-deployment-group)\n"
	"      --config NAME         deployment config: CodeDeployDefault."
	"OneAtATime\n"
	"                            (default), HalfAtATime, AllAtOnce, or "
	"one of\n"
	"                            the group file's\n"
	"      --file-exists-behavior DISALLOW|OVERWRITE|RETAIN\n"
	"                            for files already at a destination (the\n"
	"                            appspec's file_exists_behavior wins)\n"
	"      --ignore-application-stop-failures\n"
	"                            go on when ApplicationStop, "
	"BeforeBlockTraffic\n"
	"                            or AfterBlockTraffic fails\n"
	"      --traffic             run the load balancer events too "
	"(Before/After\n"
	"                            BlockTraffic, Before/AfterAllowTraffic);\n"
	"                            a group with a load balancer runs them\n"
	"      --probe URL[,RATE]    send GET URL (through the load balancer) "
	"RATE\n"
	"                            times a second (default 20) while the\n"
	"                            deployment runs; the report counts what "
	"failed\n"
	"  -e, --events LIST         run only these events, in this order "
	"(comma-\n"
	"                            separated, as codedeploy-local "
	"--events):\n"
	"                            DownloadBundle and Install run first "
	"unless\n"
	"                            listed; e.g. -e AfterInstall rehearses "
	"one hook\n"
	"      --max-revisions N     deployment archives kept per group "
	"(default 5)\n"
	"      --max-bundle-size SIZE\n"
	"                            refuse a bundle that unpacks to more "
	"(default\n"
	"                            10G; 512M, 1.5G, bytes)\n"
	"      --max-bundle-ratio N  refuse an archive that unpacks to more "
	"than N\n"
	"                            times its size (default 1000)\n"
	"      --isolation MODE      dir (default): hooks run on this "
	"machine;\n"
	"                            sandbox: each rehearsal host is a "
	"sandbox with\n"
	"                            its root as /, its own processes, left "
	"running\n"
	"                            (slipway host); auto: sandbox where it "
	"can be\n"
	"                            made, else dir\n"
	"      --host-network private|host\n"
	"                            private: a sandbox started now gets its "
	"own\n"
	"                            network and address (10.213.0.0/16); "
	"host\n"
	"                            (default): this machine's network\n"
	"      --report FILE         write the JSON deployment report to FILE "
	"too\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -q, --quiet               no hook output on the terminal\n"
	"  -v, --verbose             also say when each lifecycle event "
	"starts\n"
	"  -h, --help                this help\n"
	"\n"
	"Examples:\n"
	"  slipway deploy ./app                      # a rehearsal host\n"
	"  slipway deploy app.zip --root /tmp/web-1  # a host rooted in a "
	"directory\n"
	"  slipway deploy ./app -e ValidateService   # one hook, after the "
	"install\n"
	"  sudo slipway deploy app.tgz --root /      # this machine, for "
	"real\n"
	"  slipway deploy app.zip --group fleet.yml  # a fleet\n"
	"  slipway deploy app.zip --group fleet.yml --isolation sandbox \\\n"
	"          --host-network private    # hosts with their own "
	"addresses\n"
	"\n"
	"One deployment at a time per group and per host: a deployment whose\n"
	"group or a host of it is being deployed is refused (exit 1), naming\n"
	"the deployment in progress.\n"
	"\n"
	"A blue/green group with ready: {action: STOP_DEPLOYMENT} installs "
	"the\n"
	"replacement fleet, then waits (status Ready) up to ready.wait:\n"
	"  continue ID   move the traffic now (CodeDeploy's "
	"ContinueDeployment)\n"
	"  stop ID       stop it there, the traffic on the original fleet\n"
	"                (StopDeployment)\n"
	"While original hosts wait original.wait before TERMINATE, continue\n"
	"ends that wait at once (TERMINATION_WAIT).\n"
	"Both return at once (0), or exit 1 when no deployment ID waits.\n"
	"\n"
	"Exit status: 0 succeeded, 1 failed, stopped or refused, 2 usage "
	"error,\n"
	"3 invalid bundle or appspec, 4 ready.wait passed without a "
	"continue\n"
	"(Stopped), 111 system error.\n";

enum {
	OPT_ROOT = 256,
	OPT_HOST,
	OPT_SSH,
	OPT_DEPLOYMENT_ROOT,
	OPT_DEPLOYMENT_ID,
	OPT_APPLICATION,
	OPT_GROUP,
	OPT_GROUP_ID,
	OPT_CONFIG,
	OPT_GROUP_FILE,
	OPT_ROLLBACK,
	OPT_NO_ROLLBACK,
	OPT_ROLLBACK_OF,
	OPT_FEB,
	OPT_IGNORE_STOP,
	OPT_TRAFFIC,
	OPT_PROBE,
	OPT_MAX_REVISIONS,
	OPT_MAX_BUNDLE_SIZE,
	OPT_MAX_BUNDLE_RATIO,
	OPT_REPORT,
	OPT_STATE_DIR,
	OPT_ISOLATION,
	OPT_HOST_NETWORK,
	OPT_STRICT
};

static const struct option deploy_options[] = {
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "ssh", required_argument, NULL, OPT_SSH },
	{ "deployment-root", required_argument, NULL, OPT_DEPLOYMENT_ROOT },
	{ "deployment-id", required_argument, NULL, OPT_DEPLOYMENT_ID },
	{ "application", required_argument, NULL, OPT_APPLICATION },
	{ "deployment-group", required_argument, NULL, OPT_GROUP },
	{ "deployment-group-id", required_argument, NULL, OPT_GROUP_ID },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "group", required_argument, NULL, OPT_GROUP_FILE },
	{ "rollback", no_argument, NULL, OPT_ROLLBACK },
	{ "no-rollback", no_argument, NULL, OPT_NO_ROLLBACK },
	{ "rollback-of", required_argument, NULL, OPT_ROLLBACK_OF },
	{ "file-exists-behavior", required_argument, NULL, OPT_FEB },
	{ "ignore-application-stop-failures", no_argument, NULL,
	  OPT_IGNORE_STOP },
	{ "traffic", no_argument, NULL, OPT_TRAFFIC },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "events", required_argument, NULL, 'e' },
	{ "max-revisions", required_argument, NULL, OPT_MAX_REVISIONS },
	{ "max-bundle-size", required_argument, NULL, OPT_MAX_BUNDLE_SIZE },
	{ "max-bundle-ratio", required_argument, NULL, OPT_MAX_BUNDLE_RATIO },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "isolation", required_argument, NULL, OPT_ISOLATION },
	{ "host-network", required_argument, NULL, OPT_HOST_NETWORK },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Any case: the agent upper-cases it. */
int cli_feb_option(const char *cmd, const char *s, enum appspec_feb *feb)
{
	static const enum appspec_feb all[] = { APPSPEC_FEB_DISALLOW,
						APPSPEC_FEB_OVERWRITE,
						APPSPEC_FEB_RETAIN };

	for (size_t i = 0; i < 3; i++)
		if (!strcasecmp(s, appspec_feb_name(all[i]))) {
			*feb = all[i];
			return 0;
		}
	return cli_usage_error(cmd,
			       "--file-exists-behavior must be DISALLOW, "
			       "OVERWRITE or RETAIN, not '%s'",
			       s);
}

_Static_assert((int)BUILD_ISOLATION_DIR == (int)DEPLOY_ISOLATION_DIR &&
		       (int)BUILD_ISOLATION_SANDBOX ==
			       (int)DEPLOY_ISOLATION_SANDBOX &&
		       (int)BUILD_ISOLATION_AUTO == (int)DEPLOY_ISOLATION_AUTO,
	       "one --isolation value for builds and deployments");

int cli_isolation_option(const char *cmd, const char *s, int *iso)
{
	if (!strcmp(s, "dir"))
		*iso = DEPLOY_ISOLATION_DIR;
	else if (!strcmp(s, "sandbox"))
		*iso = DEPLOY_ISOLATION_SANDBOX;
	else if (!strcmp(s, "auto"))
		*iso = DEPLOY_ISOLATION_AUTO;
	else
		return cli_usage_error(cmd,
				       "--isolation must be dir, sandbox or "
				       "auto, not '%s'",
				       s);
	return 0;
}

int cli_host_network_option(const char *cmd, const char *s, bool *private_)
{
	if (!strcmp(s, "private"))
		*private_ = true;
	else if (!strcmp(s, "host"))
		*private_ = false;
	else
		return cli_usage_error(cmd,
				       "--host-network must be private or "
				       "host, not '%s'",
				       s);
	return 0;
}

int cli_revisions_option(const char *cmd, const char *s, unsigned *n)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || *s == '-' || v < 1 || v > 1000)
		return cli_usage_error(cmd,
				       "--max-revisions must be a number from "
				       "1 to 1000, not '%s'",
				       s);
	*n = (unsigned)v;
	return 0;
}

/* Why the deployment in dir does not wait: what its report says. */
static void not_waiting(const char *id, const char *dir, const char *why)
{
	char *p = fs_join(dir, "report.json");
	struct store_deployment rd;
	struct sw_err e = SW_ERR_INIT;

	if (fs_exists(p) && report_deploy_row(p, &rd, &e) == 0) {
		fprintf(stderr,
			"error: deployment %s does not wait for a decision: "
			"it is %s%s\n",
			id, rd.status ? rd.status : "?",
			rd.status && !strcmp(rd.status, "Ready")
				? " but its process is gone"
				: "");
		store_deployment_release(&rd);
	} else {
		fprintf(stderr, "error: deployment %s %s (it is running)\n", id,
			why);
	}
	free(p);
}

/* slipway deploy continue|stop ID */
static int deploy_decide(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool go = !strcmp(argv[0], "continue");
	const char *state_dir = NULL, *id;
	struct state st;
	struct sw_err e = SW_ERR_INIT;
	enum ready_kind kind = READY_READY_WAIT;
	char *dir;
	int c, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state_dir = optarg;
			break;
		case 'h':
			fputs(deploy_usage, stdout);
			return 0;
		default:
			return cli_bad_option("deploy", argv[optind - 1], opts);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(
			"deploy", "deploy %s takes one DEPLOYMENT-ID", argv[0]);
	id = argv[optind];
	if (!agent_id_ok(id))
		return cli_usage_error("deploy", "invalid deployment id '%s'",
				       id);
	if (state_open(&st, state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	dir = xasprintf("%s/deployments/%s", st.dir, id);
	if (!fs_exists(dir)) {
		fprintf(stderr, "error: no deployment %s in %s\n", id, st.dir);
		ret = ERR_FAILED;
	} else if (ready_send(dir, go ? READY_CONTINUE : READY_STOP, &kind,
			      &e) < 0) {
		if (e.code == ERR_FAILED && kind == READY_TERMINATION_WAIT)
			fprintf(stderr, "error: deployment %s: %s\n", id,
				e.msg);
		else if (e.code == ERR_FAILED)
			not_waiting(id, dir, e.msg);
		else
			fprintf(stderr, "error: %s\n", e.msg);
		ret = e.code;
	} else {
		fprintf(stderr, "slipway: deployment %s %s\n", id,
			kind == READY_TERMINATION_WAIT
				? "continued: the original fleet is terminated "
				  "now"
			: go ? "continued: the traffic moves to the "
			       "replacement fleet"
			     : "stopped: the traffic stays on the original "
			       "fleet");
		ret = 0;
	}
	free(dir);
	state_release(&st);
	return ret;
}

int cmd_deploy(int argc, char **argv)
{
	struct deploy_opts o = DEPLOY_OPTS_INIT;
	int c, status = ERR_USAGE;

	if (argc > 1 &&
	    (!strcmp(argv[1], "continue") || !strcmp(argv[1], "stop")))
		return deploy_decide(argc - 1, argv + 1);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "e:qvh", deploy_options, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_ROOT:
			o.root = optarg;
			break;
		case OPT_HOST:
			o.host = optarg;
			break;
		case OPT_SSH:
			o.ssh = optarg;
			break;
		case OPT_DEPLOYMENT_ROOT:
			o.deployment_root = optarg;
			break;
		case OPT_DEPLOYMENT_ID:
			o.deployment_id = optarg;
			break;
		case OPT_APPLICATION:
			o.application = optarg;
			break;
		case OPT_GROUP:
			o.group_name = optarg;
			break;
		case OPT_GROUP_ID:
			o.group_id = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_GROUP_FILE:
			o.group_file = optarg;
			break;
		case OPT_ROLLBACK:
			o.rollback = true;
			break;
		case OPT_STRICT:
			o.strict = true;
			break;
		case OPT_NO_ROLLBACK:
			o.no_rollback = true;
			break;
		case OPT_ROLLBACK_OF:
			if (!agent_id_ok(optarg))
				return cli_usage_error(
					"deploy",
					"invalid deployment id '%s': use "
					"letters, digits, '.', '_' and '-'",
					optarg);
			o.rollback_of = optarg;
			break;
		case OPT_FEB:
			if (cli_feb_option("deploy", optarg, &o.feb))
				return ERR_USAGE;
			break;
		case OPT_IGNORE_STOP:
			o.ignore_application_stop_failures = true;
			break;
		case OPT_PROBE: {
			struct probe_opts po;
			struct sw_err pe = SW_ERR_INIT;

			if (probe_parse(optarg, &po, &pe) < 0)
				return cli_usage_error("deploy", "%s", pe.msg);
			probe_opts_release(&po);
			o.probe = optarg;
			break;
		}
		case OPT_TRAFFIC:
			o.traffic = true;
			break;
		case 'e':
			o.events = optarg;
			break;
		case OPT_MAX_REVISIONS:
			if (cli_revisions_option("deploy", optarg,
						 &o.max_revisions))
				return ERR_USAGE;
			break;
		case OPT_MAX_BUNDLE_SIZE:
			if (cli_bundle_size_option("deploy", optarg,
						   &o.max_bundle_bytes))
				return ERR_USAGE;
			break;
		case OPT_MAX_BUNDLE_RATIO:
			if (cli_bundle_ratio_option("deploy", optarg,
						    &o.max_bundle_ratio))
				return ERR_USAGE;
			break;
		case OPT_REPORT:
			o.report = optarg;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_ISOLATION: {
			int iso;

			if (cli_isolation_option("deploy", optarg, &iso))
				return ERR_USAGE;
			o.isolation = (enum deploy_isolation)iso;
			break;
		}
		case OPT_HOST_NETWORK:
			if (cli_host_network_option("deploy", optarg,
						    &o.host_network))
				return ERR_USAGE;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			fputs(deploy_usage, stdout);
			return 0;
		default:
			return cli_bad_option("deploy", argv[optind - 1],
					      deploy_options);
		}
	}
	if (o.rollback) {
		if (optind < argc)
			return cli_usage_error("deploy",
					       "--rollback takes no BUNDLE: it "
					       "redeploys the last successful "
					       "revision");
	} else if (optind >= argc) {
		return cli_usage_error("deploy", "a BUNDLE is required");
	} else if (argc - optind > 1) {
		return cli_usage_error("deploy", "too many arguments: '%s'",
				       argv[optind + 1]);
	} else {
		o.bundle = argv[optind];
	}
	if (o.group_file && (o.root || o.ssh || o.host || o.deployment_root))
		return cli_usage_error("deploy",
				       "--group names the hosts: --root, "
				       "--ssh, --host and --deployment-root "
				       "are for one host");
	if (o.host_network && o.isolation == DEPLOY_ISOLATION_DIR)
		return cli_usage_error(
			"deploy", "--host-network private is for sandboxed "
				  "hosts: add --isolation sandbox");
	if (o.events) {
		enum appspec_event order[APPSPEC_NEVENTS];
		struct sw_err e = SW_ERR_INIT;
		size_t nr;

		if (o.rollback)
			return cli_usage_error("deploy",
					       "--rollback runs the whole "
					       "lifecycle: drop --events");
		if (o.traffic)
			return cli_usage_error("deploy",
					       "--events lists the events to "
					       "run: drop --traffic");
		if (agent_events_parse(o.events, order, &nr, &e) < 0)
			return cli_usage_error("deploy", "%s", e.msg);
	}
	if (o.group_file && (o.group_name || o.group_id))
		return cli_usage_error("deploy",
				       "--group names the deployment group: "
				       "drop --deployment-group and "
				       "--deployment-group-id");
	deploy_run(&o, &status);
	return status;
}
