/*
 * slipway serve: the build server (server/serve.h, docs/serve.md).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cli.h"
#include "serve.h"
#include "banned.h"

static const char usage[] =
	"usage: slipway serve [--listen ADDR:PORT] [--pipelines PATH]...\n"
	"                     [--state-dir DIR] [--workers N] "
	"[--token-file FILE]\n"
	"                     [--max-body SIZE] [--grace DURATION]\n"
	"                     [--request-timeout DURATION] [--port-file "
	"FILE]\n"
	"                     [--public-url URL]\n"
	"\n"
	"Serve pipelines over HTTP (docs/serve.md): a JSON API to start,\n"
	"approve, retry and stop executions and to read builds and\n"
	"deployments; webhooks from GitHub, GitLab and Gitea. It runs in the\n"
	"foreground and logs a line per request and per state change.\n"
	"SIGHUP reloads the pipeline files; SIGTERM stops taking work, lets\n"
	"running actions finish within the grace period and leaves the rest\n"
	"to resume at the next start.\n"
	"Exit status 0 after SIGTERM, 2 usage, 3 a pipeline or token file\n"
	"refused, 111 a system error (the port taken).\n"
	"\n"
	"      --listen ADDR:PORT  where to listen (default 127.0.0.1:8080;\n"
	"                          port 0: any free one)\n"
	"      --pipelines PATH    a pipeline file, or a directory of them\n"
	"                          (repeatable)\n"
	"      --state-dir DIR     state directory (default .slipway or\n"
	"                          $SLIPWAY_STATE_DIR)\n"
	"      --workers N         actions at a time (default: the CPUs);\n"
	"                          0: none here, all queued for `slipway\n"
	"                          worker` processes (docs/scale.md)\n"
	"      --token-file FILE   bearer tokens, one a line; without it a\n"
	"                          token is made in DIR/serve-token and only\n"
	"                          a loopback address may be served\n"
	"      --max-body SIZE     largest webhook body (default 25M)\n"
	"      --grace DURATION    how long SIGTERM waits for running actions\n"
	"                          (default 10m)\n"
	"      --request-timeout DURATION  a request must arrive within it\n"
	"                          (default 30s)\n"
	"      --port-file FILE    write the port listened on to FILE\n"
	"      --public-url URL    the server as others reach it, for the\n"
	"                          links of commit statuses (default\n"
	"                          http://ADDR:PORT)\n"
	"  -h, --help              this help\n"
	"\n"
	"Examples:\n"
	"  slipway serve --pipelines pipelines/ --token-file /etc/slipway/"
	"tokens\n"
	"  curl -H \"Authorization: Bearer $TOKEN\" "
	"http://127.0.0.1:8080/api/pipelines\n";

enum {
	OPT_LISTEN = 256,
	OPT_PIPELINES,
	OPT_STATE_DIR,
	OPT_WORKERS,
	OPT_TOKEN_FILE,
	OPT_MAX_BODY,
	OPT_GRACE,
	OPT_REQUEST_TIMEOUT,
	OPT_PORT_FILE,
	OPT_PUBLIC_URL
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "pipelines", required_argument, NULL, OPT_PIPELINES },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "public-url", required_argument, NULL, OPT_PUBLIC_URL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* A duration as cli_parse_duration() reads it, where a bare number is
 * seconds (a server's timeouts are short). */
static int seconds_or_duration(const char *s, int64_t *ms)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end && n > 0 && n < INT_MAX / 1000) {
		*ms = (int64_t)n * 1000;
		return 0;
	}
	return cli_parse_duration(s, ms);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = SERVE_OPTS_INIT;
	int c, ret;

	/* a runner: the child that runs an execution for the server */
	if (argc >= 2 && !strcmp(argv[1], "--runner"))
		return serve_runner_main(argc - 2, argv + 2);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o.listen = optarg;
			break;
		case OPT_PIPELINES:
			strvec_push(&o.pipelines, optarg);
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_WORKERS: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 0 || n > 1024) {
				ret = cli_usage_error(
					"serve",
					"--workers wants 0 to 1024, not "
					"'%s'",
					optarg);
				goto out;
			}
			o.workers = (int)n;
			o.queue = n == 0;
			break;
		}
		case OPT_TOKEN_FILE:
			o.token_file = optarg;
			break;
		case OPT_MAX_BODY:
			if (cache_parse_size(optarg, &o.max_body) < 0 ||
			    !o.max_body) {
				ret = cli_usage_error("serve",
						      "--max-body wants a size "
						      "such as 25M or "
						      "512K, not '%s'",
						      optarg);
				goto out;
			}
			break;
		case OPT_GRACE:
			if (seconds_or_duration(optarg, &o.grace_ms) < 0) {
				ret = cli_usage_error(
					"serve",
					"--grace wants a duration (30s, 10m), "
					"not '%s'",
					optarg);
				goto out;
			}
			break;
		case OPT_REQUEST_TIMEOUT:
			if (seconds_or_duration(optarg, &o.request_timeout_ms) <
			    0) {
				ret = cli_usage_error(
					"serve",
					"--request-timeout wants a duration "
					"(30s, 2m), not '%s'",
					optarg);
				goto out;
			}
			break;
		case OPT_PORT_FILE:
			o.port_file = optarg;
			break;
		case OPT_PUBLIC_URL:
			if (strncmp(optarg, "http://", 7) &&
			    strncmp(optarg, "https://", 8)) {
				ret = cli_usage_error(
					"serve",
					"--public-url wants an http:// or "
					"https:// URL, not '%s'",
					optarg);
				goto out;
			}
			o.public_url = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			ret = cli_usage_error("serve", "unknown option '%s'",
					      argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		ret = cli_usage_error("serve", "unexpected argument '%s'",
				      argv[optind]);
		goto out;
	}
	ret = serve_run(&o);
out:
	strvec_release(&o.pipelines);
	return ret;
}
