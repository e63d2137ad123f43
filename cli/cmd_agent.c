/*
 * slipway agent deploy [options] BUNDLE: the on-host half of a deployment.
 * The driver (slipway deploy, locally or over ssh) runs it and reads its
 * stdout, one JSON object per line (agent_proto.h).
 *
 * It holds the host's lock (deploy.h, "Locks") while it runs: a host
 * being deployed by anyone else (another machine over SSH, or a slipway
 * on the host itself) fails this deployment's host at once, naming the
 * deployment in progress, and nothing on the host changes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_proto.h"
#include "cli.h"
#include "deploy.h"
#include "lock.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

static const char agent_usage[] =
	"usage: slipway agent deploy [options] BUNDLE\n"
	"\n"
	"The on-host half of a deployment, run by 'slipway deploy' on each "
	"host\n"
	"(locally, or over ssh). Runs the lifecycle of one deployment and\n"
	"writes its progress on stdout as JSON lines. Not meant to be run by\n"
	"hand; see 'slipway deploy --help'.\n"
	"\n"
	"      --deployment-root DIR the agent's state (required, absolute)\n"
	"      --host-root DIR       the host's filesystem view (default /)\n"
	"      --deployment-id ID    (required)\n"
	"      --application NAME\n"
	"      --deployment-group NAME\n"
	"      --deployment-group-id ID (required)\n"
	"      --file-exists-behavior DISALLOW|OVERWRITE|RETAIN\n"
	"      --ignore-application-stop-failures\n"
	"      --traffic             run the load balancer events too\n"
	"      --traffic-remote[=WAIT]\n"
	"                            BlockTraffic and AllowTraffic wait for "
	"the\n"
	"                            deploying machine's answer (a file in "
	"the\n"
	"                            deployment's directory), WAIT at most "
	"(90s, 2m;\n"
	"                            default 2h)\n"
	"      --events LIST         run these events, in this order "
	"(codedeploy-local's\n"
	"                            --events)\n"
	"      --max-revisions N     deployment archives kept (default 5)\n"
	"      --max-bundle-size SIZE\n"
	"                            refuse a bundle that unpacks to more "
	"(default\n"
	"                            10G; 512M, 1.5G, bytes)\n"
	"      --max-bundle-ratio N  refuse an archive that unpacks to more "
	"than N\n"
	"                            times its size (default 1000)\n"
	"      --keep-deployment ID  an archive retention keeps too (the "
	"last good\n"
	"                            one, for a rollback)\n"
	"  -h, --help                this help\n"
	"\n"
	"Exit status: 0 succeeded, 1 failed, 2 usage error, 3 invalid bundle\n"
	"or appspec, 111 system error.\n";

enum {
	OPT_DEPLOYMENT_ROOT = 256,
	OPT_HOST_ROOT,
	OPT_DEPLOYMENT_ID,
	OPT_APPLICATION,
	OPT_GROUP,
	OPT_GROUP_ID,
	OPT_FEB,
	OPT_IGNORE_STOP,
	OPT_TRAFFIC,
	OPT_EVENTS,
	OPT_MAX_REVISIONS,
	OPT_MAX_BUNDLE_SIZE,
	OPT_MAX_BUNDLE_RATIO,
	OPT_KEEP,
	OPT_TRAFFIC_REMOTE
};

static const struct option agent_options[] = {
	{ "deployment-root", required_argument, NULL, OPT_DEPLOYMENT_ROOT },
	{ "host-root", required_argument, NULL, OPT_HOST_ROOT },
	{ "deployment-id", required_argument, NULL, OPT_DEPLOYMENT_ID },
	{ "application", required_argument, NULL, OPT_APPLICATION },
	{ "deployment-group", required_argument, NULL, OPT_GROUP },
	{ "deployment-group-id", required_argument, NULL, OPT_GROUP_ID },
	{ "file-exists-behavior", required_argument, NULL, OPT_FEB },
	{ "ignore-application-stop-failures", no_argument, NULL,
	  OPT_IGNORE_STOP },
	{ "traffic", no_argument, NULL, OPT_TRAFFIC },
	{ "traffic-remote", optional_argument, NULL, OPT_TRAFFIC_REMOTE },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "max-revisions", required_argument, NULL, OPT_MAX_REVISIONS },
	{ "max-bundle-size", required_argument, NULL, OPT_MAX_BUNDLE_SIZE },
	{ "max-bundle-ratio", required_argument, NULL, OPT_MAX_BUNDLE_RATIO },
	{ "keep-deployment", required_argument, NULL, OPT_KEEP },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/*
 * The host's lock, for o's deployment: 0 (l holds it), or -1 and why
 * (caller frees). A lock taken over is said as a notice of slipway's.
 */
static int lock_host(const struct agent_opts *o, struct lock *l, char **why)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dir = lock_dir(&e), *path = NULL, *note = NULL, *who;
	int r = -1;

	*why = NULL;
	if (dir)
		path = deploy_local_host_lock(dir, o->deployment_root, &e);
	note = xasprintf("group %s", o->deployment_group_name
					     ? o->deployment_group_name
					     : o->deployment_group_id);
	if (path)
		r = lock_try(l, path, o->deployment_id, note, &h, &e);
	if (r < 0) {
		*why = xasprintf("cannot lock the host: %s", e.msg);
	} else if (r == LOCK_BUSY) {
		who = lock_holder_describe(&h, "deployment");
		*why = xasprintf("this host is already deploying %s", who);
		free(who);
		r = -1;
	} else if (h.id) {
		char *line;

		who = lock_holder_describe(&h, "deployment");
		line = xasprintf("taking over the lock of %s", who);
		agent_proto_line(stdout, APPSPEC_START, SCRIPT_NOTICE, line,
				 strlen(line));
		free(line);
		free(who);
	}
	lock_holder_release(&h);
	free(note);
	free(path);
	free(dir);
	return r < 0 ? -1 : 0;
}

static int agent_deploy_cmd(int argc, char **argv)
{
	struct agent_opts o = AGENT_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct lock lock = LOCK_INIT;
	char *why = NULL;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", agent_options, NULL)) != -1) {
		switch (c) {
		case OPT_DEPLOYMENT_ROOT:
			o.deployment_root = optarg;
			break;
		case OPT_HOST_ROOT:
			o.host_root = optarg;
			break;
		case OPT_DEPLOYMENT_ID:
			o.deployment_id = optarg;
			break;
		case OPT_APPLICATION:
			o.application_name = optarg;
			break;
		case OPT_GROUP:
			o.deployment_group_name = optarg;
			break;
		case OPT_GROUP_ID:
			o.deployment_group_id = optarg;
			break;
		case OPT_FEB:
			if (cli_feb_option("agent", optarg, &o.feb))
				return ERR_USAGE;
			break;
		case OPT_IGNORE_STOP:
			o.ignore_application_stop_failures = true;
			break;
		case OPT_TRAFFIC:
			o.traffic = true;
			break;
		case OPT_TRAFFIC_REMOTE:
			o.traffic_remote = true;
			if (optarg &&
			    cli_parse_duration(optarg, &o.traffic_wait_ms) < 0)
				return cli_usage_error(
					"agent",
					"--traffic-remote: not a duration: "
					"'%s' (90s, 2m)",
					optarg);
			break;
		case OPT_EVENTS:
			o.events = optarg;
			break;
		case OPT_MAX_REVISIONS:
			if (cli_revisions_option("agent", optarg,
						 &o.max_revisions))
				return ERR_USAGE;
			break;
		case OPT_MAX_BUNDLE_SIZE:
			if (cli_bundle_size_option("agent", optarg,
						   &o.max_bundle_bytes))
				return ERR_USAGE;
			break;
		case OPT_MAX_BUNDLE_RATIO:
			if (cli_bundle_ratio_option("agent", optarg,
						    &o.max_bundle_ratio))
				return ERR_USAGE;
			break;
		case OPT_KEEP:
			o.keep_deployment = optarg;
			break;
		case 'h':
			fputs(agent_usage, stdout);
			return 0;
		default:
			return cli_bad_option("agent", argv[optind - 1],
					      agent_options);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("agent", "one BUNDLE is required");
	if (!o.deployment_root || !o.deployment_id || !o.deployment_group_id)
		return cli_usage_error("agent",
				       "--deployment-root, --deployment-id and "
				       "--deployment-group-id are required");
	o.bundle = argv[optind];
	if (proc_signals_init(&e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	if (lock_host(&o, &lock, &why) < 0) {
		struct agent_result r = AGENT_RESULT_INIT;

		agent_proto_hello(stdout);
		r.status = AGENT_FAILED;
		r.exit = ERR_FAILED;
		r.message = why;
		agent_proto_result(stdout, &r);
		agent_result_release(&r);
		fflush(stdout);
		return ERR_FAILED;
	}
	status = agent_proto_serve(&o, stdout);
	lock_release(&lock);
	return status;
}

int cmd_agent(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(agent_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "deploy"))
		return agent_deploy_cmd(argc - 1, argv + 1);
	return cli_usage_error("agent", "unknown agent command '%s'", argv[1]);
}
