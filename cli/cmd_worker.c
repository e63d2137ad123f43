/*
 * slipway worker: run the actions of the job queue (server/worker.h,
 * docs/scale.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "worker.h"
#include "store.h"
#include "banned.h"

static const char usage[] =
	"usage: slipway worker [--db URL] [--state-dir DIR] [--name NAME]\n"
	"                      [--slots N] [--labels A,B] [--server URL\n"
	"                      --token-file FILE] [--shared-dir DIR]\n"
	"                      [--lease DURATION] [--exit-when-idle]\n"
	"\n"
	"Run the actions that `slipway serve --workers 0` queues\n"
	"(docs/scale.md): claim a job whose labels this worker has, run it\n"
	"under a lease renewed by heartbeat, report its exit status. A job\n"
	"whose lease was taken back is stopped. SIGTERM claims nothing more\n"
	"and lets the running jobs finish.\n"
	"Exit status 0 after SIGTERM (or once idle with --exit-when-idle),\n"
	"2 usage, 111 a system error (the store cannot be opened).\n"
	"\n"
	"      --db URL            the server's store: sqlite:PATH, PATH or\n"
	"                          postgres://... (default $SLIPWAY_DB, else\n"
	"                          DIR/slipway.db)\n"
	"      --state-dir DIR     this worker's state directory, its builds'\n"
	"                          sources and caches (default .slipway or\n"
	"                          $SLIPWAY_STATE_DIR)\n"
	"      --name NAME         how leases and reports name it\n"
	"                          (default HOST-PID)\n"
	"      --slots N           jobs at a time (default 1)\n"
	"      --labels A,B        what it offers to runs-on (default none)\n"
	"      --server URL        send logs and artifacts to this server\n"
	"      --token-file FILE   the bearer token for --server\n"
	"      --shared-dir DIR    put artifacts here by digest instead\n"
	"      --lease DURATION    lease length (default 15s)\n"
	"      --exit-when-idle    exit once no job is left for it\n"
	"  -h, --help              this help\n"
	"\n"
	"Examples:\n"
	"  slipway worker --db /srv/slipway/slipway.db --labels linux,big\n";

enum {
	OPT_DB = 256,
	OPT_STATE_DIR,
	OPT_NAME,
	OPT_SLOTS,
	OPT_LABELS,
	OPT_SERVER,
	OPT_TOKEN_FILE,
	OPT_SHARED_DIR,
	OPT_LEASE,
	OPT_EXIT_WHEN_IDLE
};

static const struct option options[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "labels", required_argument, NULL, OPT_LABELS },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
	{ "lease", required_argument, NULL, OPT_LEASE },
	{ "exit-when-idle", no_argument, NULL, OPT_EXIT_WHEN_IDLE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int cmd_worker(int argc, char **argv)
{
	struct worker_opts o = WORKER_OPTS_INIT;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_DB: {
			struct sw_err e = SW_ERR_INIT;

			if (store_location_check(optarg, &e) < 0)
				return cli_usage_error("worker", "--db: %s",
						       e.msg);
			/* and the builds it runs record into the same */
			setenv("SLIPWAY_DB", optarg, 1);
			o.db = optarg;
			break;
		}
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 64 ||
			    optarg[strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
						  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "0123456789._-")])
				return cli_usage_error(
					"worker",
					"--name wants letters, digits, '.', "
					"'_' and '-' (64 at most), not '%s'",
					optarg);
			o.name = optarg;
			break;
		case OPT_SLOTS: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > 1024)
				return cli_usage_error(
					"worker",
					"--slots wants 1 to 1024, not '%s'",
					optarg);
			o.slots = (int)n;
			break;
		}
		case OPT_LABELS:
			o.labels = optarg;
			break;
		case OPT_SERVER:
			o.server = optarg;
			break;
		case OPT_TOKEN_FILE:
			o.token_file = optarg;
			break;
		case OPT_SHARED_DIR:
			o.shared_dir = optarg;
			break;
		case OPT_LEASE:
			if (cli_parse_duration(optarg, &o.lease_ms) < 0 ||
			    o.lease_ms < 1000)
				return cli_usage_error(
					"worker",
					"--lease wants a duration of 1s or "
					"more, not '%s'",
					optarg);
			break;
		case OPT_EXIT_WHEN_IDLE:
			o.exit_when_idle = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_usage_error("worker", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("worker", "unexpected argument '%s'",
				       argv[optind]);
	if (o.server && !o.token_file)
		return cli_usage_error("worker", "--server wants --token-file");
	return worker_main(&o);
}
