/*
 * slipway pipeline: start, approve, reject, show and list executions of
 * a pipeline file (pipeline/exec.h).
 */
#include <getopt.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundle.h"
#include "cli.h"
#include "exec.h"
#include "fs.h"
#include "hash.h"
#include "source.h"
#include "xalloc.h"
#include "banned.h"

static const char usage[] =
	"usage: slipway pipeline start FILE [--revision REF] [-v "
	"NAME=VALUE]...\n"
	"                              [--no-wait] [--state-dir DIR]\n"
	"       slipway pipeline approve ID [STAGE/ACTION] [--summary TEXT]\n"
	"       slipway pipeline reject ID [STAGE/ACTION] --summary TEXT\n"
	"       slipway pipeline retry ID [--all]\n"
	"       slipway pipeline stop ID [--abandon] [--reason TEXT]\n"
	"       slipway pipeline show ID [--json]\n"
	"       slipway pipeline ls [FILE]\n"
	"\n"
	"Run a pipeline file (CodePipeline's declaration, docs/pipeline.md):\n"
	"stages in order, the actions of one runOrder side by side. start\n"
	"prints the execution's id (pe-...) and a line as each action starts\n"
	"and ends. A manual approval stops the execution, waiting: approve\n"
	"or reject resumes it in this process. retry runs the failed actions\n"
	"of the failed stage again (--all: all of its actions), and on. stop\n"
	"lets the running actions finish and starts nothing more (--abandon:\n"
	"kills them).\n"
	"Exit status 0 Succeeded, 1 Failed, 5 waiting for an approval,\n"
	"2 usage, 3 invalid pipeline file, 111 a system error.\n"
	"\n"
	"      --revision REF      the source actions' branch, tag or commit\n"
	"  -v, --variable NAME=VALUE  a pipeline variable (repeatable)\n"
	"      --no-wait           start: return once started (exit 0); "
	"the execution\n"
	"                          runs on detached, its output in "
	"runner.log\n"
	"      --summary TEXT      the approval's or rejection's comment\n"
	"      --all               retry: every action of the stage\n"
	"      --abandon           stop: abandon the running actions now\n"
	"      --reason TEXT       stop: why, kept as the status summary\n"
	"      --json              show: GetPipelineExecution + stage states\n"
	"                          + action executions\n"
	"      --state-dir DIR     state directory (default .slipway or\n"
	"                          $SLIPWAY_STATE_DIR)\n"
	"  -h, --help              this help\n"
	"\n"
	"Examples:\n"
	"  slipway pipeline start pipeline.yml -v Env=staging\n"
	"  slipway pipeline approve pe-3f2a... Approve/Release --summary ok\n"
	"  slipway pipeline retry pe-3f2a...\n"
	"  slipway pipeline stop pe-3f2a... --reason \"bad commit\"\n"
	"  slipway pipeline show pe-3f2a... --json\n";

enum {
	OPT_STATE_DIR = 256,
	OPT_REVISION,
	OPT_NO_WAIT,
	OPT_SUMMARY,
	OPT_JSON,
	OPT_ALL,
	OPT_ABANDON,
	OPT_REASON
};

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "revision", required_argument, NULL, OPT_REVISION },
	{ "variable", required_argument, NULL, 'v' },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "summary", required_argument, NULL, OPT_SUMMARY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "abandon", no_argument, NULL, OPT_ABANDON },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void iso(FILE *f, const char *name, const git_signature *sig)
{
	char b[32];
	time_t t = (time_t)sig->when.time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "%s=%s%c", name, b, 0);
}

/* CommitMessage, AuthorDate and CommitterDate of the commit fetched. */
static void commit_variables(const char *dir, const char *id, const char *ov)
{
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_oid oid;
	FILE *f;

	if (!ov || git_repository_open(&repo, dir) < 0)
		return;
	if (git_oid_fromstr(&oid, id) == 0 &&
	    git_commit_lookup(&c, repo, &oid) == 0 && (f = fopen(ov, "ae"))) {
		const char *m = git_commit_message(c);

		fprintf(f, "CommitMessage=%.*s%c", (int)strcspn(m, "\n"), m, 0);
		iso(f, "AuthorDate", git_commit_author(c));
		iso(f, "CommitterDate", git_commit_committer(c));
		fclose(f);
	}
	git_commit_free(c);
	git_repository_free(repo);
}

/* An S3 source bound to a file: the object, unpacked as an artifact is
 * (zip, tar), and its ETag (the md5 of its bytes, as S3's). */
static int s3_object(const char *file, const char *dest, const char *ov)
{
	struct bundle_opts bo = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char md5[HASH_MD5_HEX];
	FILE *f;

	bo.no_appspec = true;
	if (hash_file(file, NULL, md5, &e) < 0 ||
	    bundle_unpack(file, dest, &bo, &info, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		bundle_info_release(&info);
		return e.code ? e.code : 1;
	}
	bundle_info_release(&info);
	printf("source %s (object)\n", file);
	f = ov ? fopen(ov, "ae") : NULL;
	if (f) {
		fprintf(f, "ETag=%s%c", md5, 0);
		fclose(f);
	}
	return 0;
}

/*
 * The child of a source action: fetch a source into a directory and
 * write its output variables to $SLIPWAY_OUTPUT_VARIABLES.
 */
static int source_child(int argc, char **argv)
{
	struct source_opts o = SOURCE_OPTS_INIT;
	struct source_result r = SOURCE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *ov = getenv("SLIPWAY_OUTPUT_VARIABLES");
	FILE *f;
	char *git;

	if (argc != 5)
		return 2;
	o.source = argv[2];
	o.dest = argv[3];
	o.ref = *argv[4] ? argv[4] : NULL;
	if (!fs_is_dir(o.source) && fs_exists(o.source))
		return s3_object(o.source, o.dest, ov);
	if (source_fetch(&o, &r, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code ? e.code : 1;
	}
	if (r.resolved_version)
		commit_variables(o.dest, r.resolved_version, ov);
	/* the tree at the commit, as CodePipeline's CODE_ZIP: no .git */
	git = xasprintf("%s/.git", o.dest);
	if (fs_remove_tree(git, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		free(git);
		source_result_release(&r);
		return 111;
	}
	free(git);
	printf("source %s (%s)%s%s\n", o.source, r.kind,
	       r.resolved_version ? " at " : "",
	       r.resolved_version ? r.resolved_version : "");
	f = ov ? fopen(ov, "ae") : NULL;
	if (f) {
		if (r.resolved_version)
			fprintf(f, "CommitId=%s%c", r.resolved_version, 0);
		if (r.source_version)
			fprintf(f, "BranchName=%s%c", r.source_version, 0);
		fclose(f);
	}
	source_result_release(&r);
	return 0;
}

int cmd_pipeline(int argc, char **argv)
{
	struct exec_opts o = EXEC_OPTS_INIT;
	const char *sub, *summary = NULL;
	bool json = false, all = false, abandon = false;
	const char *reason = NULL;
	int c, ret;

	if (argc >= 2 && !strcmp(argv[1], "--source-fetch"))
		return source_child(argc, argv);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_REVISION:
			o.revision = optarg;
			break;
		case 'v':
			strvec_push(&o.vars, optarg);
			break;
		case OPT_NO_WAIT:
			o.no_wait = true;
			break;
		case OPT_SUMMARY:
			summary = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_ALL:
			all = true;
			break;
		case OPT_ABANDON:
			abandon = true;
			break;
		case OPT_REASON:
			reason = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			ret = 0;
			goto out;
		default:
			ret = cli_bad_option("pipeline", argv[optind - 1],
					     options);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (!strcmp(sub, "start")) {
		if (argc != 1) {
			ret = cli_usage_error("pipeline",
					      "start wants one FILE");
			goto out;
		}
		ret = exec_start(argv[0], &o);
	} else if (!strcmp(sub, "approve") || !strcmp(sub, "reject")) {
		bool approve = !strcmp(sub, "approve");

		if (argc < 1 || argc > 2) {
			ret = cli_usage_error(
				"pipeline", "%s wants ID [STAGE/ACTION]", sub);
			goto out;
		}
		if (!approve && !summary) {
			ret = cli_usage_error("pipeline",
					      "reject wants --summary TEXT");
			goto out;
		}
		ret = exec_decide(o.state_dir, argv[0],
				  argc == 2 ? argv[1] : NULL, approve, summary);
	} else if (!strcmp(sub, "retry")) {
		if (argc != 1) {
			ret = cli_usage_error("pipeline", "retry wants one ID");
			goto out;
		}
		ret = exec_retry(o.state_dir, argv[0], all);
	} else if (!strcmp(sub, "stop")) {
		if (argc != 1) {
			ret = cli_usage_error("pipeline", "stop wants one ID");
			goto out;
		}
		ret = exec_stop(o.state_dir, argv[0], abandon, reason);
	} else if (!strcmp(sub, "show")) {
		if (argc != 1) {
			ret = cli_usage_error("pipeline", "show wants one ID");
			goto out;
		}
		ret = exec_show(o.state_dir, argv[0], json);
	} else if (!strcmp(sub, "ls")) {
		if (argc > 1) {
			ret = cli_usage_error("pipeline",
					      "ls wants at most one FILE");
			goto out;
		}
		ret = exec_list(o.state_dir, argc ? argv[0] : NULL);
	} else {
		ret = cli_unknown_subcommand(
			"pipeline", sub,
			(const char *const[]){ "start", "approve", "reject",
					       "retry", "stop", "show", "ls",
					       NULL });
	}
out:
	strvec_release(&o.vars);
	return ret;
}
