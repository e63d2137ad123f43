/*
 * slipway build [SOURCE] [options]: run one buildspec.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "build.h"
#include "cli.h"
#include "envfile.h"
#include "pause.h"
#include "watch.h"
#include "xalloc.h"
#include "banned.h"

static const char build_usage[] =
	"usage: slipway build [SOURCE] [options]\n"
	"\n"
	"Run a buildspec as CodeBuild would. SOURCE is a directory (default "
	".),\n"
	"a path to a git repository, or a git URL (file://, https://, ssh://,\n"
	"git@host:path).\n"
	"\n"
	"  -b, --buildspec FILE      buildspec, relative to the source root\n"
	"                            (default buildspec.yml)\n"
	"      --ref REF             branch, tag or commit of a git source\n"
	"      --committed           build a git work tree's last commit (a "
	"clean\n"
	"                            clone) instead of the work tree as it is\n"
	"      --worktree            the work tree as it is: tracked and "
	"untracked\n"
	"                            files, not ignored ones (the default)\n"
	"      --secondary-source ID=PATH|URL[@REF]\n"
	"                            another source, at "
	"$CODEBUILD_SRC_DIR_ID\n"
	"                            (repeatable)\n"
	"  -e, --env NAME=VALUE      set a variable (repeatable; highest "
	"precedence)\n"
	"      --env-file FILE       VAR=VAL lines, # comments (the local "
	"agent's -e)\n"
	"      --inherit-env         start from slipway's whole environment "
	"instead\n"
	"                            of PATH, HOME, USER, LANG and TERM\n"
	"      --secrets-file FILE   values for parameter-store and "
	"secrets-manager\n"
	"      --secrets-command CMD run CMD KIND NAME to resolve a secret\n"
	"      --secret-env NAME=SECRET-ID[:JSON-KEY]\n"
	"                            set NAME from Secrets Manager (masked; "
	"repeatable)\n"
	"      --parameter-env NAME=PARAMETER\n"
	"                            set NAME from Parameter Store (masked; "
	"repeatable)\n"
	"  -o, --artifacts DIR       write artifacts to DIR (artifacts.zip, "
	"<id>.zip)\n"
	"      --report FILE         write the JSON build report to FILE too\n"
	"      --shell sh|bash       the shell for commands (overrides "
	"env/shell)\n"
	"      --timeout DURATION    90s, 10m, 2h; a bare number is minutes\n"
	"                            (default 60)\n"
	"      --no-cache            neither restore nor save caches\n"
	"      --strict              an unknown buildspec key is an error "
	"(exit 3);\n"
	"                            also warn about what CodeBuild runs "
	"silently\n"
	"                            but is likely a slip (no phases)\n"
	"      --isolation MODE      dir (default), sandbox (namespaces: "
	"the host\n"
	"                            read-only, exit 111 without them) or "
	"auto\n"
	"      --network none        sandbox: no network but lo\n"
	"      --pids N              sandbox: at most N processes\n"
	"      --memory SIZE         sandbox: memory limit (512M, 2G)\n"
	"      --cpu-time SECONDS    sandbox: CPU seconds per process "
	"(SIGXCPU,\n"
	"                            then SIGKILL 5 s later)\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -j, --jobs N              a batch runs at most N builds at once\n"
	"                            (default: the number of CPUs)\n"
	"      --batch-task ID       run only the batch task ID, as one "
	"build\n"
	"  -q, --quiet               no build output on the terminal "
	"(build.log\n"
	"                            still has it)\n"
	"      --output pretty|codebuild\n"
	"                            pretty: a line per phase and command, a "
	"failing\n"
	"                            command's output in full (the default on "
	"a\n"
	"                            terminal); codebuild: CodeBuild's lines "
	"(build.log\n"
	"                            always has those)\n"
	"      --break on-failure|always|PHASE[:N]\n"
	"                            pause in a shell in the build's "
	"environment\n"
	"                            when a command fails (always: also at "
	"the\n"
	"                            end; PHASE:N: also before command N); "
	"needs\n"
	"                            a terminal (see 'man slipway', "
	"DEBUGGING)\n"
	"      --from PHASE [BUILD-ID]\n"
	"                            run a kept build's files again from "
	"PHASE\n"
	"                            (install, pre_build, build, "
	"post_build) with\n"
	"                            the variables it had there; BUILD-ID: "
	"the\n"
	"                            newest build by default (a slipway "
	"extension)\n"
	"      --phase PHASE [BUILD-ID]\n"
	"                            the same, PHASE alone, no artifacts\n"
	"      --watch               build again when a file under SOURCE "
	"changes\n"
	"                            (not .git, the state directory or what "
	"git\n"
	"                            ignores), stopping a stale build; a "
	"line per\n"
	"                            build; Ctrl-C ends\n"
	"  -h, --help                this help\n"
	"\n"
	"Examples:\n"
	"  slipway build                             # the project here\n"
	"  slipway build path/to/app -o out --report build.json\n"
	"  slipway build https://github.com/org/app.git --ref v1.2\n"
	"  slipway build . --committed -e STAGE=test --secrets-file "
	"secrets.yml\n"
	"  slipway build . -j 2 -o out      # a batch buildspec: 2 at a time\n"
	"  slipway build . --batch-task linux   # one task of the batch\n"
	"  slipway build --break on-failure      # a shell where it fails\n"
	"  slipway build --from build            # the last build, again "
	"from BUILD\n"
	"\n"
	"Exit status: 0 succeeded, 1 failed or stopped, 2 usage error,\n"
	"3 invalid buildspec or input file, 4 timed out, 111 system error.\n";

enum {
	OPT_REF = 256,
	OPT_WORKTREE,
	OPT_ENV_FILE,
	OPT_INHERIT_ENV,
	OPT_SECRETS_FILE,
	OPT_SECRETS_COMMAND,
	OPT_REPORT,
	OPT_PACKAGING,
	OPT_SHELL,
	OPT_TIMEOUT,
	OPT_NO_CACHE,
	OPT_STRICT,
	OPT_STATE_DIR,
	OPT_BATCH_TASK,
	OPT_ISOLATION,
	OPT_NETWORK,
	OPT_PIDS,
	OPT_MEMORY,
	OPT_CPU_TIME,
	OPT_SECONDARY_SOURCE,
	OPT_SECRET_ENV,
	OPT_PARAMETER_ENV,
	OPT_BREAK,
	OPT_FROM,
	OPT_PHASE,
	OPT_OUTPUT,
	OPT_WATCH,
	OPT_COMMITTED
};

static const struct option build_options[] = {
	{ "buildspec", required_argument, NULL, 'b' },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "worktree", no_argument, NULL, OPT_WORKTREE },
	{ "committed", no_argument, NULL, OPT_COMMITTED },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "inherit-env", no_argument, NULL, OPT_INHERIT_ENV },
	{ "secrets-file", required_argument, NULL, OPT_SECRETS_FILE },
	{ "secrets-command", required_argument, NULL, OPT_SECRETS_COMMAND },
	{ "secret-env", required_argument, NULL, OPT_SECRET_ENV },
	{ "parameter-env", required_argument, NULL, OPT_PARAMETER_ENV },
	{ "artifacts", required_argument, NULL, 'o' },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "packaging", required_argument, NULL, OPT_PACKAGING },
	{ "shell", required_argument, NULL, OPT_SHELL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "jobs", required_argument, NULL, 'j' },
	{ "batch-task", required_argument, NULL, OPT_BATCH_TASK },
	{ "isolation", required_argument, NULL, OPT_ISOLATION },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpu-time", required_argument, NULL, OPT_CPU_TIME },
	{ "secondary-source", required_argument, NULL, OPT_SECONDARY_SOURCE },
	{ "break", required_argument, NULL, OPT_BREAK },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "phase", required_argument, NULL, OPT_PHASE },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "watch", no_argument, NULL, OPT_WATCH },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int readable(const char *opt, const char *path)
{
	if (access(path, R_OK) < 0)
		return cli_usage_error("build", "%s: cannot read '%s'", opt,
				       path);
	return 0;
}

/* 512, 64K, 512M, 2G (powers of 1024) */
static int parse_size(const char *s, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || n <= 0 || errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		n <<= 30, end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = n;
	return 0;
}

int cli_break_option(const char *cmd, const char *s, struct break_spec *out)
{
	if (break_spec_parse(s, out) < 0)
		return cli_usage_error(cmd,
				       "--break must be on-failure, always or "
				       "PHASE[:N] (install, pre_build, build, "
				       "post_build; N from 1), not '%s'",
				       s);
	return 0;
}

int cli_output_option(const char *cmd, const char *s, int *out)
{
	if (!strcmp(s, "pretty"))
		*out = BUILD_OUTPUT_PRETTY;
	else if (!strcmp(s, "codebuild"))
		*out = BUILD_OUTPUT_CODEBUILD;
	else
		return cli_usage_error(
			cmd, "--output must be pretty or codebuild, not '%s'",
			s);
	return 0;
}

int cli_break_terminal(const char *cmd, const struct break_spec *b)
{
	struct sw_err e = SW_ERR_INIT;

	if (b->mode == BREAK_NONE || pause_terminal_ok(&e) == 0)
		return 0;
	return cli_usage_error(cmd, "%s", e.msg);
}

int cmd_build(int argc, char **argv)
{
	struct build_opts o = BUILD_OPTS_INIT;
	struct batch_opts bo = BATCH_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	bool worktree = false;
	int c, status = ERR_USAGE;
	bool watch = false;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:e:o:j:qh", build_options,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			o.buildspec = optarg;
			break;
		case OPT_REF:
			o.ref = optarg;
			break;
		case OPT_WORKTREE:
			worktree = true;
			break;
		case OPT_COMMITTED:
			o.committed = true;
			break;
		case 'e': {
			char *n, *v;

			err_clear(&e);
			if (env_parse_assignment(optarg, &n, &v, &e) < 0) {
				status = cli_usage_error("build", "%s", e.msg);
				goto out;
			}
			free(n);
			free(v);
			strvec_push(&o.env, optarg);
			break;
		}
		case OPT_ENV_FILE:
			if (readable("--env-file", optarg))
				goto out;
			o.env_file = optarg;
			break;
		case OPT_INHERIT_ENV:
			o.inherit_env = true;
			break;
		case OPT_SECRETS_FILE:
			if (readable("--secrets-file", optarg))
				goto out;
			o.secrets_file = optarg;
			break;
		case OPT_SECRETS_COMMAND:
			o.secrets_command = optarg;
			break;
		case OPT_SECRET_ENV:
		case OPT_PARAMETER_ENV: {
			const char *opt = c == OPT_SECRET_ENV
						  ? "--secret-env"
						  : "--parameter-env";
			char *n, *v;

			err_clear(&e);
			if (env_parse_assignment(optarg, &n, &v, &e) < 0) {
				status = cli_usage_error("build", "%s: %s", opt,
							 e.msg);
				goto out;
			}
			free(n);
			if (!*v) {
				free(v);
				status = cli_usage_error(
					"build", "%s: %s: no %s after '='", opt,
					optarg,
					c == OPT_SECRET_ENV ? "secret id"
							    : "parameter name");
				goto out;
			}
			free(v);
			strvec_push(c == OPT_SECRET_ENV ? &o.secret_env
							: &o.parameter_env,
				    optarg);
			break;
		}
		case 'o':
			o.artifacts_dir = optarg;
			break;
		case OPT_REPORT:
			o.report = optarg;
			break;
		case OPT_PACKAGING:
			if (artifact_packaging_parse(optarg, &o.packaging) <
			    0) {
				status = cli_usage_error(
					"build",
					"--packaging must be zip, tar.gz, "
					"tar.zst or none, not '%s'",
					optarg);
				goto out;
			}
			break;
		case OPT_SHELL:
			if (strcmp(optarg, "sh") && strcmp(optarg, "bash")) {
				status = cli_usage_error(
					"build",
					"--shell must be sh or bash, not '%s'",
					optarg);
				goto out;
			}
			o.shell = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration(optarg, &o.timeout_ms) < 0) {
				status = cli_usage_error(
					"build",
					"--timeout: '%s' is not a duration "
					"(90s, 10m, 2h, or minutes)",
					optarg);
				goto out;
			}
			break;
		case OPT_NO_CACHE:
			o.no_cache = true;
			break;
		case OPT_STRICT:
			o.strict = true;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 1 || n > 1024) {
				status = cli_usage_error(
					"build",
					"--jobs must be a number from 1 to "
					"1024, not '%s'",
					optarg);
				goto out;
			}
			bo.jobs = (int)n;
			break;
		}
		case OPT_BATCH_TASK:
			bo.task = optarg;
			break;
		case OPT_ISOLATION: {
			int iso;

			if (cli_isolation_option("build", optarg, &iso)) {
				status = ERR_USAGE;
				goto out;
			}
			o.isolation = (enum build_isolation)iso;
			break;
		}
		case OPT_NETWORK:
			if (strcmp(optarg, "none") && strcmp(optarg, "host")) {
				status = cli_usage_error(
					"build",
					"--network must be none or host, not "
					"'%s'",
					optarg);
				goto out;
			}
			o.network_none = !strcmp(optarg, "none");
			break;
		case OPT_PIDS: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 1) {
				status = cli_usage_error(
					"build",
					"--pids must be a positive number, "
					"not '%s'",
					optarg);
				goto out;
			}
			o.pids = n;
			break;
		}
		case OPT_MEMORY:
			if (parse_size(optarg, &o.memory) < 0) {
				status = cli_usage_error(
					"build",
					"--memory: '%s' is not a size (512M, "
					"2G)",
					optarg);
				goto out;
			}
			break;
		case OPT_CPU_TIME: {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || end == optarg || n < 1 || n > 1000000000) {
				status = cli_usage_error(
					"build",
					"--cpu-time must be a positive number "
					"of seconds, not '%s'",
					optarg);
				goto out;
			}
			o.cpu_time = n;
			break;
		}
		case OPT_SECONDARY_SOURCE:
			err_clear(&e);
			if (layout_add_secondary(&o.secondary, &o.nr_secondary,
						 &o.alloc_secondary, optarg,
						 &e) < 0) {
				status = cli_usage_error("build", "%s", e.msg);
				goto out;
			}
			break;
		case OPT_BREAK:
			if (cli_break_option("build", optarg, &o.brk)) {
				status = ERR_USAGE;
				goto out;
			}
			break;
		case OPT_WATCH:
			watch = true;
			break;
		case OPT_OUTPUT: {
			int v = 0;

			if (cli_output_option("build", optarg, &v)) {
				status = ERR_USAGE;
				goto out;
			}
			o.output = (enum build_output)v;
			break;
		}
		case OPT_FROM:
		case OPT_PHASE: {
			struct break_spec b;

			if (o.resume || break_spec_parse(optarg, &b) < 0 ||
			    b.mode != BREAK_AT || strchr(optarg, ':')) {
				status = cli_usage_error(
					"build",
					o.resume ? "--from and --phase are one "
						   "choice: give one, once"
						 : "%s must be install, "
						   "pre_build, build or "
						   "post_build, not '%s'",
					c == OPT_FROM ? "--from" : "--phase",
					optarg);
				goto out;
			}
			o.resume = true;
			o.from_phase = b.phase;
			o.one_phase = c == OPT_PHASE;
			break;
		}
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			fputs(build_usage, stdout);
			status = 0;
			goto out;
		default:
			status = cli_bad_option("build", argv[optind - 1],
						build_options);
			goto out;
		}
	}
	if (argc - optind > 1) {
		status = cli_usage_error("build", "too many arguments: '%s'",
					 argv[optind + 1]);
		goto out;
	}
	if ((o.network_none || o.pids || o.memory || o.cpu_time) &&
	    o.isolation == BUILD_ISOLATION_DIR) {
		status = cli_usage_error("build",
					 "--network, --pids, --memory and "
					 "--cpu-time need --isolation sandbox "
					 "or auto");
		goto out;
	}
	if (watch && (o.brk.mode != BREAK_NONE || o.resume || bo.task)) {
		status = cli_usage_error("build",
					 "--watch builds SOURCE as it changes: "
					 "not with --break, --from, --phase or "
					 "--batch-task");
		goto out;
	}
	if (cli_break_terminal("build", &o.brk)) {
		status = ERR_USAGE;
		goto out;
	}
	if (worktree && (o.ref || o.committed)) {
		status = cli_usage_error("build",
					 o.ref ? "--ref and --worktree cannot "
						 "go together: the work tree "
						 "is built as it is"
					       : "--worktree and --committed "
						 "cannot go together");
		goto out;
	}
	o.worktree = !o.committed;
	o.source = optind < argc ? argv[optind] : ".";
	if (o.resume) {
		/* the argument is a build, not a source */
		o.from_build = optind < argc ? argv[optind] : NULL;
		o.source = ".";
		build_run(&o, &status);
		goto out;
	}
	if (watch) {
		/* the files as they are: that is what changed */
		o.worktree = true;
		watch_build(&o, &status);
		goto out;
	}
	bo.build = &o;
	if (!batch_run(&bo, &status)) {
		o.submitted_ms = bo.fetched_ms;
		build_run(&o, &status);
	}
out:
	strvec_release(&o.env);
	strvec_release(&o.secret_env);
	strvec_release(&o.parameter_env);
	layout_secondaries_free(o.secondary, o.nr_secondary);
	return status;
}
