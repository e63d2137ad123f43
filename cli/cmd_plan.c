/*
 * slipway plan --group FILE [--config NAME]: the batches a deployment
 * would use, without touching any host.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "deploy.h"
#include "banned.h"

static const char plan_usage[] =
	"usage: slipway plan --group FILE [--config NAME] [--state-dir DIR]\n"
	"\n"
	"Print how a deployment to a group's hosts would go, touching no "
	"host:\n"
	"the deployment config's minimum healthy hosts, how many hosts "
	"deploy at\n"
	"once, the success rule, and the batches in host order (hosts whose "
	"last\n"
	"deployment failed first, then hosts never deployed, then the "
	"others).\n"
	"\n"
	"      --group FILE          the deployment group file (required)\n"
	"      --config NAME         a deployment config (default: the "
	"group's)\n"
	"      --state-dir DIR       state directory, for the hosts' health\n"
	"  -h, --help                this help\n"
	"\n"
	"Example:\n"
	"  slipway plan --group fleet.yml --config "
	"CodeDeployDefault.HalfAtATime\n"
	"\n"
	"Exit status: 0 a plan, 1 the config cannot work on this fleet, 2 "
	"usage\n"
	"error, 3 invalid group file.\n";

enum { OPT_GROUP = 256, OPT_CONFIG, OPT_STATE_DIR };

static const struct option plan_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int cmd_plan(int argc, char **argv)
{
	struct deploy_opts o = DEPLOY_OPTS_INIT;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", plan_options, NULL)) != -1) {
		switch (c) {
		case OPT_GROUP:
			o.group_file = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case 'h':
			fputs(plan_usage, stdout);
			return 0;
		default:
			return cli_bad_option("plan", argv[optind - 1],
					      plan_options);
		}
	}
	if (optind < argc)
		return cli_usage_error("plan", "unexpected '%s'", argv[optind]);
	if (!o.group_file)
		return cli_usage_error("plan", "--group FILE is required");
	deploy_plan(&o, &status);
	return status;
}
